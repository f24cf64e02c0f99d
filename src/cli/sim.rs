//! `outdial sim`: run strategies side by side on the simulator.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

/// Arguments of `outdial sim`.
#[derive(Args, Debug)]
pub struct SimArgs {
    /// Scenario YAML file (see sim/).
    pub scenario: PathBuf,
    /// Strategy to run (repeatable; overrides the scenario's list): preview, progressive,
    /// power:R, predictive, adaptive, rate:L.
    #[arg(long = "strategy")]
    pub strategies: Vec<String>,
    /// Random seed (overrides the scenario's).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Print exactly one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
    /// Write an SVG plot of occupancy, abandon rate and dial level over time.
    #[arg(long)]
    pub plot: Option<PathBuf>,
}

/// Runs the simulator.
pub fn run(_args: SimArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("the simulator is not built yet (issue 4)")
}
