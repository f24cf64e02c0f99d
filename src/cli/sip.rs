//! `outdial trunk-sim | agent-sim | trunk-test`: synthetic SIP peers and the trunk capacity test.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

/// Arguments of `outdial trunk-sim`.
#[derive(Args, Debug)]
pub struct TrunkSimArgs {
    /// Address to listen on (UDP), e.g. 127.0.0.1:5070.
    #[arg(long)]
    pub listen: String,
    /// Scenario YAML whose `trunk` section sets outcomes and timings.
    #[arg(long)]
    pub scenario: PathBuf,
    /// Divide every duration by K.
    #[arg(long, default_value_t = 1.0)]
    pub time_scale: f64,
}

/// Arguments of `outdial agent-sim`.
#[derive(Args, Debug)]
pub struct AgentSimArgs {
    /// Address to listen on (UDP), e.g. 127.0.0.1:5080.
    #[arg(long)]
    pub listen: String,
    /// Number of agent endpoints (sip:agent0001@ADDR …).
    #[arg(long)]
    pub agents: usize,
    /// Scenario YAML whose talk and wrap-up times the agents follow.
    #[arg(long)]
    pub scenario: PathBuf,
    /// Divide every duration by K.
    #[arg(long, default_value_t = 1.0)]
    pub time_scale: f64,
}

/// Arguments of `outdial trunk-test`.
#[derive(Args, Debug)]
pub struct TrunkTestArgs {
    /// SIP URI to call, e.g. sip:service@127.0.0.1:5060.
    #[arg(long)]
    pub target: String,
    /// Calls per second.
    #[arg(long)]
    pub rate: f64,
    /// Number of calls.
    #[arg(long)]
    pub calls: u64,
    /// How long answered calls are held before BYE.
    #[arg(long, default_value = "0s")]
    pub hold: String,
    /// Print exactly one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Runs the synthetic trunk.
pub fn trunk_sim(_args: TrunkSimArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("trunk-sim is not built yet (issue 5)")
}

/// Runs the synthetic agents.
pub fn agent_sim(_args: AgentSimArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("agent-sim is not built yet (issue 5)")
}

/// Runs the trunk capacity test.
pub fn trunk_test(args: TrunkTestArgs) -> anyhow::Result<ExitCode> {
    use outdial::sip::trunk_test::{run, TrunkTestOptions};
    let target =
        outdial::sip::SipUri::parse(&args.target).map_err(|e| anyhow::anyhow!("--target: {e}"))?;
    let hold = humantime::parse_duration(&args.hold)
        .map_err(|e| anyhow::anyhow!("--hold: {e} (e.g. 0s, 500ms, 30s)"))?;
    let opts = TrunkTestOptions {
        target,
        rate: args.rate,
        calls: args.calls,
        hold,
        transport: outdial::sip::Transport::Udp,
    };
    let report = super::runtime()?.block_on(run(opts))?;
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        println!(
            "attempted {} answered {} failed {} | {:.0} calls/s over {:.1} s | retransmissions {} | setup p50 {:.1} ms p99 {:.1} ms | peak RSS {:.0} MB",
            report.attempted,
            report.answered,
            report.failed,
            report.cps,
            report.duration_s,
            report.retransmissions,
            report.setup_ms_p50,
            report.setup_ms_p99,
            report.peak_rss_mb
        );
    }
    Ok(if report.failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
