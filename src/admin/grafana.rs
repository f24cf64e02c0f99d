//! The Grafana dashboard of the engine's Prometheus metrics (`grafana/outdial.json`), embedded in
//! the binary and served at `/grafana.json` so that the dashboard of a running engine always
//! matches its metric names. Owns no metric: the names are `metrics`'s, and a test keeps every
//! query of the dashboard on a name that exists there.

use axum::http::header;
use axum::response::{IntoResponse, Response};

/// The dashboard JSON (import it in Grafana: Dashboards → New → Import).
pub const DASHBOARD: &str = include_str!("grafana/outdial.json");

/// The dashboard.
#[utoipa::path(get, path = "/grafana.json", tag = "monitoring",
    responses((status = 200, description = "The Grafana dashboard of the metrics (import JSON)", body = Object)))]
pub(super) async fn dashboard() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], DASHBOARD).into_response()
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use super::DASHBOARD;
    use crate::admin::metrics;

    /// Histograms: Prometheus exports them as `_bucket`, `_sum` and `_count` series only.
    const HISTOGRAMS: [&str; 4] = [
        metrics::PACING_DECISION_SECONDS,
        metrics::CALL_MOS,
        metrics::CALL_LOSS,
        metrics::CALL_JITTER,
    ];

    /// Metric → its labels, from the table in the `metrics` module docs.
    fn documented_labels() -> BTreeMap<String, BTreeSet<String>> {
        include_str!("metrics.rs")
            .lines()
            .filter_map(|l| l.strip_prefix("//! | `outdial_"))
            .map(|rest| {
                let cells: Vec<&str> = rest.split(" | ").collect();
                let name = format!("outdial_{}", cells[0].trim_end_matches('`'));
                let labels = cells
                    .get(2)
                    .map(|c| {
                        c.split(',')
                            .filter_map(|l| l.split_whitespace().next())
                            .map(str::to_string)
                            .collect()
                    })
                    .unwrap_or_default();
                (name, labels)
            })
            .collect()
    }

    /// Every string of the dashboard (queries, variables, titles).
    fn strings(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::String(s) => out.push(s.clone()),
            serde_json::Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
            serde_json::Value::Object(o) => o.values().for_each(|x| strings(x, out)),
            _ => {}
        }
    }

    /// Each `outdial_…` name in `text` with the label names of its `{…}` selector, if any.
    fn selectors(text: &str) -> Vec<(String, Vec<String>)> {
        let mut out = Vec::new();
        let mut rest = text;
        while let Some(i) = rest.find("outdial_") {
            let tail = &rest[i..];
            let end = tail
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(tail.len());
            let name = tail[..end].to_string();
            let mut labels = Vec::new();
            if let Some(sel) = tail[end..].strip_prefix('{') {
                let body = sel.split('}').next().unwrap_or_default();
                for m in body.split(',') {
                    let label = m.split(['=', '!', '~']).next().unwrap_or_default().trim();
                    if !label.is_empty() {
                        labels.push(label.to_string());
                    }
                }
            }
            out.push((name, labels));
            rest = &tail[end..];
        }
        out
    }

    /// The metric of a series: its own name, or a histogram's with the suffix taken off.
    fn metric_of(series: &str) -> Option<&'static str> {
        let histogram = HISTOGRAMS.into_iter().find(|h| {
            ["_bucket", "_sum", "_count"]
                .iter()
                .any(|suffix| series.strip_suffix(suffix) == Some(*h))
        });
        histogram.or_else(|| metrics::ALL.into_iter().find(|m| *m == series))
    }

    #[test]
    fn every_metric_is_documented_with_its_labels() {
        let doc = documented_labels();
        let names: BTreeSet<&str> = doc.keys().map(String::as_str).collect();
        assert_eq!(names, metrics::ALL.into_iter().collect::<BTreeSet<_>>());
    }

    #[test]
    fn the_dashboard_queries_only_metrics_that_exist_with_their_labels() {
        let dash: serde_json::Value = serde_json::from_str(DASHBOARD).expect("dashboard is JSON");
        let doc = documented_labels();
        let mut all = Vec::new();
        strings(&dash, &mut all);
        let mut used = BTreeSet::new();
        for text in &all {
            for (series, labels) in selectors(text) {
                let Some(name) = metric_of(&series) else {
                    panic!("{series} (in {text:?}) is not a metric of admin::metrics");
                };
                if HISTOGRAMS.contains(&name) {
                    assert_ne!(series, name, "histogram {name} queried without a suffix");
                }
                for l in labels {
                    assert!(
                        doc[name].contains(&l) || (l == "le" && series.ends_with("_bucket")),
                        "{series} has no label {l:?} (in {text:?})"
                    );
                }
                used.insert(name);
            }
        }
        // What a supervisor and an operator watch: each has a panel.
        for m in [
            metrics::DIAL_LEVEL,
            metrics::ABANDON_RATE,
            metrics::ABANDON_WITH_FP_RATE,
            metrics::ABANDON_CAP,
            metrics::ABANDON_TARGET,
            metrics::LIVE_ANSWERS,
            metrics::OCCUPANCY,
            metrics::CALLS_PER_SECOND,
            metrics::TRUNK_CHANNELS_IN_USE,
            metrics::TRUNK_MAX_CHANNELS,
            metrics::CALL_LOSS,
            metrics::CALL_MOS,
            metrics::CPA_VERDICTS,
            metrics::RECORDING_FAILURES,
        ] {
            assert!(used.contains(m), "no panel shows {m}");
        }
    }

    #[test]
    fn panels_have_unique_ids_and_use_the_datasource_variable() {
        let dash: serde_json::Value = serde_json::from_str(DASHBOARD).expect("dashboard is JSON");
        let panels = dash["panels"].as_array().expect("panels");
        let mut ids = BTreeSet::new();
        for p in panels {
            assert!(ids.insert(p["id"].as_u64().expect("id")), "{p}");
            for t in p["targets"].as_array().into_iter().flatten() {
                assert_eq!(t["datasource"]["uid"], "${datasource}", "{}", p["title"]);
                assert!(t["expr"].as_str().is_some_and(|e| e.contains("outdial_")));
            }
        }
        assert!(panels.len() > 20);
    }
}
