//! The `outdial` binary: parses the command line and hands each subcommand to `cli::*`.
//! Errors reach the user as one line on stderr and a non-zero exit code.

mod cli;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// outdial: predictive outbound dialer for blended contact centres.
#[derive(Parser, Debug)]
#[command(name = "outdial", version, about, long_about = None)]
struct Cli {
    /// Store to use: a SQLite file path or URL (default `outdial.db` in the working directory),
    /// or a `postgres://` URL.
    #[arg(
        long,
        global = true,
        env = "OUTDIAL_DB",
        default_value = "sqlite://outdial.db"
    )]
    db: String,

    /// Log verbosity (repeat for more): warnings by default, -v info, -vv debug.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Apply campaign definitions, load call lists, view campaign figures.
    #[command(subcommand)]
    Campaign(cli::campaign::CampaignCmd),
    /// Manage the do-not-call list.
    #[command(subcommand)]
    Dnc(cli::dnc::DncCmd),
    /// Run the pacing core on a virtual clock against synthetic trunks and agents.
    ///
    /// A scenario with a top-level `campaigns:` list (see sim/multi-campaign.yaml) runs the live
    /// engine's own decisions across several campaigns sharing agent groups and trunk groups:
    /// priorities, skills, SLA order, line and CPS budgets, the abandon throttle and scheduled
    /// pauses (`pause_at`, `resume_at`). There a strategy is the dial mode of every campaign
    /// without its own `mode` (rate:L is refused), and results come per campaign too: a table
    /// under the totals, a `campaigns` array under each strategy in --json.
    Sim(cli::sim::SimArgs),
    /// Run a synthetic SIP trunk (UAS) that behaves like a scenario's `trunk` section.
    TrunkSim(cli::sip::TrunkSimArgs),
    /// Run N synthetic SIP agent endpoints.
    AgentSim(cli::sip::AgentSimArgs),
    /// Place N calls at a given rate against a SIP target and report its capacity.
    TrunkTest(cli::sip::TrunkTestArgs),
    /// Stream N bidirectional G.711 calls through RTP relays (outdial's media shell, rtpengine)
    /// and report loss, added latency and the relays' CPU per call.
    RtpLoad(cli::rtp_load::RtpLoadArgs),
    /// Run the live engine: pace campaigns from the store over SIP to agents.
    Run(cli::run::RunArgs),
    /// Show or change pacing of a campaign on a running engine.
    #[command(subcommand)]
    Pacing(cli::admin::PacingCmd),
    /// List agents of a running engine and their states.
    Agents(cli::admin::AgentsArgs),
    /// Per-hour figures of a campaign from its call records.
    Report(cli::report::ReportArgs),
    /// List, export or purge call recordings (found through the call records).
    #[command(subcommand)]
    Recordings(cli::recordings::RecordingsCmd),
    /// Call-progress analysis over WAV files: classify (person, machine, announcement, SIT,
    /// fax, silence, unsure) and score against labels, to tune before going live.
    #[command(subcommand)]
    Cpa(cli::cpa::CpaCmd),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(cli.verbose);
    let result = match cli.command {
        Command::Campaign(cmd) => cli::campaign::run(&cli.db, cmd),
        Command::Dnc(cmd) => cli::dnc::run(&cli.db, cmd),
        Command::Sim(args) => cli::sim::run(args),
        Command::TrunkSim(args) => cli::sip::trunk_sim(args),
        Command::AgentSim(args) => cli::sip::agent_sim(args),
        Command::TrunkTest(args) => cli::sip::trunk_test(args),
        Command::Run(args) => cli::run::run(&cli.db, args),
        Command::RtpLoad(args) => cli::rtp_load::rtp_load(args),
        Command::Pacing(cmd) => cli::admin::pacing(cmd),
        Command::Agents(args) => cli::admin::agents(args),
        Command::Report(args) => cli::report::run(&cli.db, args),
        Command::Recordings(cmd) => cli::recordings::run(&cli.db, cmd),
        Command::Cpa(cmd) => cli::cpa::run(cmd),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("outdial: error: {}", one_line(&err));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes on one line, joined by ": " as ripgrep does. A cause the message
/// so far already ends with is not repeated: several error types quote their source in their
/// own message (their text is also used alone, as a call record's or a log's reason) and report
/// it as their source as well, so anyhow's `{:#}` printed the OS's reason twice.
fn one_line(err: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if line.ends_with(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}

fn init_tracing(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("OUTDIAL_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

#[cfg(test)]
mod tests {
    use super::one_line;

    #[derive(Debug, thiserror::Error)]
    #[error("{path}: {source}")]
    struct Quoting {
        path: String,
        source: std::io::Error,
    }

    #[test]
    fn a_cause_its_parent_already_quotes_is_printed_once() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "No such file or directory");
        let err = anyhow::Error::new(Quoting {
            path: "refs/".into(),
            source: io,
        })
        .context("--announcements refs/");
        assert_eq!(
            one_line(&err),
            "--announcements refs/: refs/: No such file or directory"
        );
        let plain = anyhow::anyhow!("disk full").context("spool x.log");
        assert_eq!(one_line(&plain), "spool x.log: disk full");
    }
}
