//! Discrete-event simulator: drives the pacing core and agent state machines on a virtual clock
//! against synthetic trunks and agents, with common random numbers across strategies. Owns no
//! pacing rule: every decision comes from [`crate::pacing::Dialer`].
//!
//! Two scenario forms. A single-campaign scenario (`agents: N`, one `trunk`) runs one
//! [`crate::pacing::Dialer`] per strategy in this module's own event loop ([`engine`]), fast
//! enough for a 3,000-agent day in seconds. A multi-campaign scenario (`campaigns:` and agent
//! groups, see [`multi`]) runs the live engine's [`crate::engine::Core`] itself, with a
//! synthetic SIP side and an in-memory store, so priorities, skills, SLA order, line and CPS
//! budgets, the abandon throttle and pauses behave as live.
//!
//! # Layout
//! - [`scenario`]: the scenario YAML (also used by `outdial trunk-sim`).
//! - [`analysis`]: the trunk's call-progress analysis (delay, confusion matrix).
//! - [`dist`]: the trunk outcome sampler and per-item RNG streams (durations are
//!   [`crate::pacing::dist::Dist`], re-exported).
//! - [`engine`]: the event loop for one strategy.
//! - [`queue`]: its event queue.
//! - [`run`]: several strategies side by side, in parallel threads; [`run_multi`] the same for
//!   a multi-campaign scenario.
//! - [`multi`]: multi-campaign scenarios through the engine core.

pub mod analysis;
pub mod dist;
pub mod engine;
pub mod multi;
pub mod queue;
pub mod scenario;

pub use dist::{CallDraw, Dist, Outcome, TrunkModel};
pub use engine::{run_strategy, RunOptions, Sample, StrategyResult, WithoutAnalysis};
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
    /// A multi-campaign run could not start.
    #[error(transparent)]
    Multi(#[from] multi::MultiError),
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
    let mut results = in_parallel(strategies.len(), threads, |i| {
        run_strategy(scenario, &strategies[i], modes[i], seed, opts).map_err(SimError::from)
    })?;
    if scenario.trunk.analysis.is_some() {
        // The same runs without analysis, for the time to connect it costs.
        let mut bare = scenario.clone();
        bare.trunk.analysis = None;
        let plain = RunOptions::default();
        let without = in_parallel(strategies.len(), threads, |i| {
            run_strategy(&bare, &strategies[i], modes[i], seed, &plain).map_err(SimError::from)
        })?;
        for (r, w) in results.iter_mut().zip(without) {
            r.without_analysis = Some(WithoutAnalysis {
                time_to_connect_s: w.time_to_connect_s,
                abandon_rate: w.abandon_rate,
                occupancy: w.occupancy,
            });
        }
    }
    Ok(SimReport {
        scenario: scenario.name.clone(),
        seed,
        results,
    })
}

/// Runs `strategies` (dial modes applied to the campaigns without their own) on the
/// multi-campaign `scenario`, like [`run`].
pub fn run_multi(
    scenario: &multi::MultiScenario,
    strategies: &[String],
    seed: u64,
    threads: usize,
    opts: &RunOptions,
) -> Result<SimReport, SimError> {
    if strategies.is_empty() {
        return Err(SimError::NoStrategy);
    }
    for s in strategies {
        scenario
            .check_strategy(s)
            .map_err(|e| multi::MultiError::Scenario(format!("strategy {s}: {e}")))?;
    }
    let results = in_parallel(strategies.len(), threads, |i| {
        let wall = std::time::Instant::now();
        let w = multi::run_world(scenario, &strategies[i], seed, opts)?;
        Ok(multi::result_of(scenario, &strategies[i], seed, &w, wall))
    })?;
    Ok(SimReport {
        scenario: scenario.name.clone(),
        seed,
        results,
    })
}

/// Runs `job(0..n)` on up to `threads` threads; results in index order, the first error wins.
fn in_parallel<F>(n: usize, threads: usize, job: F) -> Result<Vec<StrategyResult>, SimError>
where
    F: Fn(usize) -> Result<StrategyResult, SimError> + Sync,
{
    let next = std::sync::atomic::AtomicUsize::new(0);
    let slots: Vec<std::sync::Mutex<Option<Result<StrategyResult, SimError>>>> =
        (0..n).map(|_| Default::default()).collect();
    std::thread::scope(|scope| {
        for _ in 0..threads.clamp(1, n) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= n {
                    break;
                }
                let r = job(i);
                if let Ok(mut slot) = slots[i].lock() {
                    *slot = Some(r);
                }
            });
        }
    });
    let mut results = Vec::with_capacity(n);
    for slot in slots {
        // Every slot was filled by exactly one worker; a poisoned lock means a worker panicked,
        // which is a bug worth surfacing.
        let r = slot
            .into_inner()
            .expect("simulator worker panicked")
            .expect("every strategy ran");
        results.push(r?);
    }
    Ok(results)
}
