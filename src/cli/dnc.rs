//! `outdial dnc …`: the do-not-call list.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;

/// Do-not-call subcommands.
#[derive(Subcommand, Debug)]
pub enum DncCmd {
    /// Add numbers to the do-not-call list.
    Add {
        /// Phone numbers (national numbers use --region).
        #[arg(required = true)]
        numbers: Vec<String>,
        /// Region for numbers written without a country code.
        #[arg(long, default_value = "CN")]
        region: String,
    },
    /// Import numbers, one per line or from a `phone` column.
    Import {
        /// File to read.
        file: PathBuf,
        /// Region for numbers written without a country code.
        #[arg(long, default_value = "CN")]
        region: String,
    },
    /// Remove numbers from the do-not-call list.
    Remove {
        /// Phone numbers.
        #[arg(required = true)]
        numbers: Vec<String>,
        /// Region for numbers written without a country code.
        #[arg(long, default_value = "CN")]
        region: String,
    },
}

/// Runs a DNC subcommand against the store at `db`.
pub fn run(_db: &str, _cmd: DncCmd) -> anyhow::Result<ExitCode> {
    anyhow::bail!("dnc commands are not built yet (issue 3)")
}
