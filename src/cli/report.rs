//! `outdial report`: per-hour figures of a campaign from its call records. The figures are
//! computed by `outdial::admin::report` (pure); this file fetches the rows and prints.

use std::process::ExitCode;

use anyhow::Context;
use chrono_tz::Tz;
use clap::Args;
use outdial::admin::report::{self, HourRow};
use outdial::store::{ReportInput, Store};

/// Arguments of `outdial report`.
#[derive(Args, Debug)]
pub struct ReportArgs {
    /// Campaign name.
    pub campaign: String,
    /// Only calls since this time (RFC 3339, or a duration ago such as 24h).
    #[arg(long)]
    pub since: Option<String>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    /// Share of call-progress analysis's machine verdicts taken to be people (the campaign's
    /// `amd_false_positive`), for the abandon figure's AMD part.
    #[arg(long, default_value_t = outdial::pacing::DEFAULT_AMD_FALSE_POSITIVE)]
    pub amd_false_positive: f64,
}

/// Reads the campaign's time zone, call records, agent sessions and inbound calls from the store
/// at `db`, in one read (unknown campaign: an error naming it).
fn fetch(
    db: &str,
    campaign: &str,
    since_ms: Option<i64>,
    now_ms: i64,
) -> anyhow::Result<ReportInput> {
    super::runtime()?.block_on(async move {
        let store = Store::open(db)
            .await
            .with_context(|| format!("cannot open store {db}"))?;
        let got = store.report_input(campaign, since_ms, now_ms).await;
        store.close().await;
        Ok(got?)
    })
}

/// Prints the report.
pub fn run(db: &str, args: ReportArgs) -> anyhow::Result<ExitCode> {
    let now_ms = chrono::Utc::now().timestamp_millis();
    let since_ms = args
        .since
        .as_deref()
        .map(|s| report::parse_since(s, now_ms))
        .transpose()
        .map_err(anyhow::Error::msg)?;
    if !(0.0..=1.0).contains(&args.amd_false_positive) {
        anyhow::bail!(
            "--amd-false-positive: {} is not a rate between 0 and 1",
            args.amd_false_positive
        );
    }
    let input = fetch(db, &args.campaign, since_ms, now_ms)?;
    let rep = report::report_blended(
        &input.calls,
        &input.inbound,
        input.sessions.as_deref(),
        input.tz,
        since_ms,
    )
    .with_amd_false_positive(args.amd_false_positive);
    let analysis = outdial::admin::analysis_report::analysis(&input.calls, since_ms);
    if args.json {
        let out = serde_json::json!({
            "campaign": args.campaign,
            "timezone": input.tz.name(),
            "since_ms": since_ms,
            "hours": rep.hours,
            "total": rep.total,
            "analysis": analysis,
        });
        println!("{out}");
    } else {
        print!(
            "{}",
            table(&args.campaign, input.tz, &rep.hours, rep.total.as_ref())
        );
        if let Some(a) = &analysis {
            print!("{}", a.line());
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn opt(x: Option<f64>, scale: f64, decimals: usize) -> String {
    x.map_or_else(|| "-".into(), |x| format!("{:.*}", decimals, x * scale))
}

/// `analysis`: whether the campaign's calls were analysed; without it there is no AMD
/// false-positive estimate to show ("-").
fn line(label: &str, r: &HourRow, analysis: bool) -> String {
    let (est, with_fp) = if analysis {
        (
            format!("{:.1}", r.estimated_amd_fp),
            opt(r.abandon_with_fp_pct, 1.0, 2),
        )
    } else {
        ("-".to_string(), "-".to_string())
    };
    format!(
        "{:<36}{:>9}{:>9}{:>10}{:>11}{:>9}{:>9}{:>12}{:>12}{:>12}{:>9}{:>9}\n",
        label,
        r.attempts,
        r.live_answers,
        r.abandoned,
        opt(r.abandon_pct, 1.0, 2),
        r.machines,
        est,
        with_fp,
        opt(r.occupancy, 100.0, 1),
        opt(r.mean_wait_s, 1.0, 2),
        r.inbound_calls,
        r.inbound_connected,
    )
}

fn table(campaign: &str, tz: Tz, hours: &[HourRow], total: Option<&HourRow>) -> String {
    let mut out = format!("campaign {campaign} (hours in {})\n", tz.name());
    if hours.is_empty() {
        out.push_str("no calls in this period\n");
        return out;
    }
    out.push_str(&format!(
        "{:<36}{:>9}{:>9}{:>10}{:>11}{:>9}{:>9}{:>12}{:>12}{:>12}{:>9}{:>9}\n",
        "hour",
        "attempts",
        "live",
        "abandoned",
        "abandon %",
        "machines",
        "est_fp",
        "abandon+fp%",
        "occupancy%",
        "mean wait s",
        "inbound",
        "in taken"
    ));
    // The estimate is shown for a campaign whose calls were analysed in the period.
    let analysis = total.map_or_else(|| hours.iter().any(|h| h.analysed > 0), |t| t.analysed > 0);
    for h in hours {
        out.push_str(&line(&h.hour, h, analysis));
    }
    if let Some(t) = total {
        out.push_str(&line("total", t, analysis));
    }
    out
}
