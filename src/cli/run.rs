//! `outdial run`: the live engine, until SIGTERM/SIGINT (or the config's `run_for`), then the
//! run's figures.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use outdial::engine::{self, EngineConfig, Progress, RunSummary};

/// Arguments of `outdial run`.
#[derive(Args, Debug)]
pub struct RunArgs {
    /// Engine config YAML (see outdial.example.yaml for every key).
    #[arg(long)]
    pub config: PathBuf,
    /// Print the end-of-run figures as one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
    /// Print a progress line on stderr every second (rewritten in place on a terminal, one
    /// line a second when stderr is a file or a pipe).
    #[arg(long)]
    pub progress: bool,
}

/// Runs the engine.
pub fn run(db: &str, args: RunArgs) -> anyhow::Result<ExitCode> {
    let cfg = EngineConfig::load(&args.config)?;
    let rt = super::runtime()?;
    let progress = if args.progress {
        Progress::Line
    } else {
        Progress::Quiet
    };
    let summary = rt.block_on(engine::run(cfg, db, stop_signal(), progress))?;
    if args.json {
        println!("{}", serde_json::to_string(&summary)?);
    } else {
        print!("{}", table(&summary));
    }
    Ok(ExitCode::SUCCESS)
}

/// Completes on SIGTERM or SIGINT.
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

fn pct(x: Option<f64>) -> String {
    x.map_or_else(|| "-".into(), |x| format!("{:.2} %", 100.0 * x))
}

fn num(x: Option<f64>) -> String {
    x.map_or_else(|| "-".into(), |x| format!("{x:.0}"))
}

fn table(s: &RunSummary) -> String {
    let mut out = format!(
        "node {} ran {:.1} s, {:.1} calls/s; pacing decision p99 {} µs; answer-to-connect p50 {} ms, p99 {} ms\n",
        s.node,
        s.wall_s,
        s.calls_per_s,
        num(s.decision_us_p99),
        num(s.answer_to_connect_ms_p50),
        num(s.answer_to_connect_ms_p99),
    );
    out.push_str(&format!(
        "{:<24}{:>8}{:>8}{:>9}{:>10}{:>11}{:>11}{:>9}\n",
        "campaign", "dials", "live", "machine", "abandoned", "abandon", "occupancy", "inbound"
    ));
    for c in &s.campaigns {
        out.push_str(&format!(
            "{:<24}{:>8}{:>8}{:>9}{:>10}{:>11}{:>11}{:>9}\n",
            c.campaign,
            c.dials,
            c.live_answers,
            c.machines,
            c.abandoned,
            pct(c.abandon_rate),
            pct(c.occupancy),
            c.inbound_calls,
        ));
    }
    out
}
