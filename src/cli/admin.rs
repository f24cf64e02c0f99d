//! `outdial pacing …` and `outdial agents`: clients of a running engine's admin API.

use std::process::ExitCode;

use clap::{Args, Subcommand};

/// Where the running engine is and how to authenticate.
#[derive(Args, Debug)]
pub struct EngineArgs {
    /// Admin API of the running engine.
    #[arg(long, env = "OUTDIAL_ENGINE", default_value = "http://127.0.0.1:8089")]
    pub engine: String,
    /// Bearer token (from the engine config's `admin.tokens`).
    #[arg(long, env = "OUTDIAL_TOKEN")]
    pub token: Option<String>,
}

/// Pacing subcommands.
#[derive(Subcommand, Debug)]
pub enum PacingCmd {
    /// Show a campaign's pacing and live figures.
    Show {
        /// Campaign name.
        campaign: String,
        #[command(flatten)]
        engine: EngineArgs,
    },
}

/// Arguments of `outdial agents`.
#[derive(Args, Debug)]
pub struct AgentsArgs {
    #[command(flatten)]
    engine: EngineArgs,
}

/// Runs a pacing subcommand.
pub fn pacing(_cmd: PacingCmd) -> anyhow::Result<ExitCode> {
    anyhow::bail!("the admin client is not built yet (issue 6)")
}

/// Lists agents.
pub fn agents(_args: AgentsArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("the admin client is not built yet (issue 6)")
}
