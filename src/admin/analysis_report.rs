//! Call-progress analysis figures of a campaign from its call records (`outdial report`'s
//! analysis line): how many calls were analysed, the verdict counts, and the analysis delay's
//! mean and p95 (the delay is part of a person's wait for an agent). A pure function over rows
//! the caller fetched; owns no I/O.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::store::CdrRow;

/// The analysis figures of a set of call records.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AnalysisFigures {
    /// Calls with a verdict.
    pub analysed: u64,
    /// Calls per verdict name.
    pub verdicts: BTreeMap<String, u64>,
    /// Mean analysis delay, ms.
    pub mean_delay_ms: f64,
    /// 95th percentile of the analysis delay, ms (nearest rank).
    pub p95_delay_ms: i64,
}

/// The figures of the calls dialled at or after `since_ms` that were analysed; `None` when none
/// was.
pub fn analysis(rows: &[CdrRow], since_ms: Option<i64>) -> Option<AnalysisFigures> {
    let since = since_ms.unwrap_or(i64::MIN);
    let mut verdicts = BTreeMap::new();
    let mut delays = Vec::new();
    for r in rows.iter().filter(|r| r.dial_ms >= since) {
        let Some(v) = &r.cpa_verdict else { continue };
        *verdicts.entry(v.clone()).or_insert(0) += 1;
        if let Some(d) = r.cpa_delay_ms {
            delays.push(d.max(0));
        }
    }
    if verdicts.is_empty() {
        return None;
    }
    delays.sort_unstable();
    let mean_delay_ms = if delays.is_empty() {
        0.0
    } else {
        delays.iter().sum::<i64>() as f64 / delays.len() as f64
    };
    // Nearest rank: the smallest delay at or above which 95 % of the calls lie.
    let p95_delay_ms = match delays.len() {
        0 => 0,
        n => delays[((n as f64 * 0.95).ceil() as usize).clamp(1, n) - 1],
    };
    Some(AnalysisFigures {
        analysed: verdicts.values().sum(),
        verdicts,
        mean_delay_ms,
        p95_delay_ms,
    })
}

impl AnalysisFigures {
    /// One line for the terminal report.
    pub fn line(&self) -> String {
        let counts: Vec<String> = self
            .verdicts
            .iter()
            .map(|(v, n)| format!("{v} {n}"))
            .collect();
        format!(
            "analysis: {} calls, delay mean {:.0} ms, p95 {} ms; {}\n",
            self.analysed,
            self.mean_delay_ms,
            self.p95_delay_ms,
            counts.join(", ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(dial: i64, verdict: Option<&str>, delay: Option<i64>) -> CdrRow {
        CdrRow {
            dial_ms: dial,
            answer_ms: None,
            connect_ms: None,
            end_ms: None,
            wrapup_end_ms: None,
            disposition: None,
            cpa_verdict: verdict.map(str::to_string),
            cpa_delay_ms: delay,
        }
    }

    #[test]
    fn verdict_counts_mean_and_p95_of_the_analysed_calls_only() {
        // 20 people decided at 100..=2000 ms, 2 machines at 3000 ms, 3 calls not analysed.
        let mut rows: Vec<CdrRow> = (1..=20)
            .map(|i| row(i, Some("human"), Some(i * 100)))
            .collect();
        rows.push(row(30, Some("machine"), Some(3_000)));
        rows.push(row(31, Some("machine"), Some(3_000)));
        rows.extend((0..3).map(|i| row(40 + i, None, None)));
        let f = analysis(&rows, None).expect("analysed calls");
        assert_eq!(f.analysed, 22);
        assert_eq!(f.verdicts["human"], 20);
        assert_eq!(f.verdicts["machine"], 2);
        let mean = (21_000 + 6_000) as f64 / 22.0;
        assert!((f.mean_delay_ms - mean).abs() < 1e-9, "{}", f.mean_delay_ms);
        // 22 delays: rank ceil(20.9) = 21 → the first 3000.
        assert_eq!(f.p95_delay_ms, 3_000);
        assert!(f.line().contains("human 20, machine 2"), "{}", f.line());
        // Since the 31st ms: the machines only.
        let late = analysis(&rows, Some(30)).expect("two");
        assert_eq!((late.analysed, late.p95_delay_ms), (2, 3_000));
        assert_eq!(analysis(&rows[22..], None), None);
    }
}
