//! `outdial run`: the live engine.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

/// Arguments of `outdial run`.
#[derive(Args, Debug)]
pub struct RunArgs {
    /// Engine config YAML (see outdial.example.yaml).
    #[arg(long)]
    pub config: PathBuf,
}

/// Runs the engine until SIGTERM/SIGINT.
pub fn run(_db: &str, _args: RunArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("the live engine is not built yet (issue 6)")
}
