//! `outdial campaign …`: apply YAML definitions, load CSV lists, list and stats.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;

/// Campaign subcommands.
#[derive(Subcommand, Debug)]
pub enum CampaignCmd {
    /// Create or update a campaign from a YAML file (a no-op when unchanged).
    Apply {
        /// Campaign YAML file.
        file: PathBuf,
    },
    /// Load a CSV call list into a campaign (`-` reads stdin).
    Load {
        /// Campaign name.
        campaign: String,
        /// CSV file with a header row and a `phone` column, or `-` for stdin.
        file: String,
        /// Print exactly one JSON object on stdout.
        #[arg(long)]
        json: bool,
    },
    /// List campaigns.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Leads by state and disposition, attempts, and how many are dialable now.
    Stats {
        /// Campaign name.
        campaign: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Runs a campaign subcommand against the store at `db`.
pub fn run(_db: &str, _cmd: CampaignCmd) -> anyhow::Result<ExitCode> {
    anyhow::bail!("campaign commands are not built yet (issue 3)")
}
