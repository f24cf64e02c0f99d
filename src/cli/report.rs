//! `outdial report`: per-hour figures of a campaign from its call records.

use std::process::ExitCode;

use clap::Args;

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
}

/// Prints the report.
pub fn run(_db: &str, _args: ReportArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("report is not built yet (issue 6)")
}
