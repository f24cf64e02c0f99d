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
    /// Never hang up: hold each call until the other side's BYE (default: hang up after the
    /// scenario's talk time).
    #[arg(long)]
    pub hold_until_bye: bool,
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

/// Checks `--listen` and `--time-scale` and loads the scenario.
fn peer_setup(
    listen: &str,
    scenario: &std::path::Path,
    time_scale: f64,
) -> anyhow::Result<(std::net::SocketAddr, outdial::sim::scenario::Scenario)> {
    let addr: std::net::SocketAddr = listen
        .parse()
        .map_err(|_| anyhow::anyhow!("--listen: not IP:port: {listen:?}"))?;
    if !(time_scale.is_finite() && time_scale > 0.0) {
        anyhow::bail!("--time-scale: must be a number above 0, got {time_scale}");
    }
    let scenario = outdial::sim::scenario::Scenario::load(scenario)?;
    Ok((addr, scenario))
}

/// Binds `addr`, prints `NAME listening on sip:ADDR` (tests read the port from it when
/// `--listen` asks for port 0), and serves `make(bound address)` until Ctrl-C.
fn serve_peer<P, F>(name: &str, addr: std::net::SocketAddr, make: F) -> anyhow::Result<ExitCode>
where
    P: outdial::sip::peers::Peer,
    F: FnOnce(std::net::SocketAddr) -> P,
{
    use outdial::sip::{EndpointConfig, TrunkSet};
    use std::io::Write as _;
    let rt = super::runtime()?;
    rt.block_on(async move {
        let (handle, events, _task) =
            outdial::sip::spawn(addr, EndpointConfig::new(addr), TrunkSet::default())
                .await
                .map_err(|e| anyhow::anyhow!("--listen {addr}: {e}"))?;
        let bound = handle.local_addr();
        println!("{name} listening on sip:{bound}");
        let _ = std::io::stdout().flush();
        let peer = make(bound);
        let shutdown = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        let served = outdial::sip::peers::serve(handle, events, peer, shutdown).await?;
        eprintln!(
            "{name}: {} calls, RTP packets sent {} received {}",
            served.calls, served.rtp_sent, served.rtp_received
        );
        Ok(ExitCode::SUCCESS)
    })
}

/// Runs the synthetic trunk.
pub fn trunk_sim(args: TrunkSimArgs) -> anyhow::Result<ExitCode> {
    let (addr, sc) = peer_setup(&args.listen, &args.scenario, args.time_scale)?;
    let model = sc.trunk_model();
    serve_peer("trunk-sim", addr, |bound| {
        outdial::sip::peers::TrunkSim::new(model, sc.seed, args.time_scale, bound.ip())
    })
}

/// Runs the synthetic agents.
pub fn agent_sim(args: AgentSimArgs) -> anyhow::Result<ExitCode> {
    let (addr, sc) = peer_setup(&args.listen, &args.scenario, args.time_scale)?;
    if args.agents == 0 || args.agents > 9999 {
        anyhow::bail!("--agents: must be 1 to 9999, got {}", args.agents);
    }
    serve_peer("agent-sim", addr, |bound| {
        outdial::sip::peers::AgentSim::new(outdial::sip::peers::AgentSimConfig {
            agents: args.agents,
            talk_time: (!args.hold_until_bye).then(|| sc.talk_time.clone()),
            seed: sc.seed,
            time_scale: args.time_scale,
            ip: bound.ip(),
        })
    })
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
