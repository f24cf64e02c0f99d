//! Discrete-event simulator: drives the pacing core and agent state machines on a virtual clock
//! against synthetic trunks and agents, with common random numbers across strategies. Owns no
//! pacing rule: every decision comes from [`crate::pacing::Dialer`].
//!
//! # Layout
//! - [`scenario`]: the scenario YAML (also used by `outdial trunk-sim`).
//! - [`dist`]: the trunk outcome sampler and per-item RNG streams (durations are
//!   [`crate::pacing::dist::Dist`], re-exported).
//! - [`engine`]: the event loop for one strategy.
//! - [`queue`]: its event queue.
//! - [`run`]: several strategies side by side, in parallel threads.

pub mod dist;
pub mod engine;
pub mod queue;
pub mod scenario;

pub use dist::{CallDraw, Dist, Outcome, TrunkModel};
pub use engine::{run_strategy, RunOptions, Sample, StrategyResult};
pub use scenario::{InboundSpec, Scenario, TrunkSpec};

use serde::Serialize;

use crate::pacing::Mode;

/// The figures of one `outdial sim` run (the `--json` object).
#[derive(Clone, Debug, Serialize)]
pub struct SimReport {
    /// Scenario name.
    pub scenario: String,
    /// Seed used.
    pub seed: u64,
    /// One entry per strategy, in the order given.
    pub results: Vec<StrategyResult>,
}

/// A run that could not start.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// A strategy name did not parse.
    #[error(transparent)]
    Mode(#[from] crate::pacing::ModeError),
    /// The dialer refused the scenario's parameters.
    #[error(transparent)]
    Dialer(#[from] crate::pacing::DialerError),
    /// No strategy to run.
    #[error("no strategy given (use --strategy or the scenario's `strategies`)")]
    NoStrategy,
}

/// Runs `strategies` (names as users write them) on `scenario` with `seed`, on up to
/// `threads` threads; results keep the order of `strategies`.
pub fn run(
    scenario: &Scenario,
    strategies: &[String],
    seed: u64,
    threads: usize,
    opts: &RunOptions,
) -> Result<SimReport, SimError> {
    if strategies.is_empty() {
        return Err(SimError::NoStrategy);
    }
    let modes: Vec<Mode> = strategies
        .iter()
        .map(|s| s.parse())
        .collect::<Result<_, _>>()?;
    let next = std::sync::atomic::AtomicUsize::new(0);
    let slots: Vec<std::sync::Mutex<Option<Result<StrategyResult, SimError>>>> =
        strategies.iter().map(|_| Default::default()).collect();
    std::thread::scope(|scope| {
        for _ in 0..threads.clamp(1, strategies.len()) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= strategies.len() {
                    break;
                }
                let r = run_strategy(scenario, &strategies[i], modes[i], seed, opts)
                    .map_err(SimError::from);
                if let Ok(mut slot) = slots[i].lock() {
                    *slot = Some(r);
                }
            });
        }
    });
    let mut results = Vec::with_capacity(strategies.len());
    for slot in slots {
        // Every slot was filled by exactly one worker; a poisoned lock means a worker panicked,
        // which is a bug worth surfacing.
        let r = slot
            .into_inner()
            .expect("simulator worker panicked")
            .expect("every strategy ran");
        results.push(r?);
    }
    Ok(SimReport {
        scenario: scenario.name.clone(),
        seed,
        results,
    })
}
