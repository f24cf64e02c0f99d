//! How many calls to launch: one [`Strategy`] per dial mode, beside the shared bookkeeping of
//! [`crate::pacing::Dialer`] the way quinn-proto's congestion controllers sit beside its
//! connection. A strategy sees the campaign through a [`Floor`] (agents, lines, the forecast,
//! the abandon record) and launches calls through it; it never touches agents, calls or
//! estimators directly, and never reads a clock. [`build`] is the one place a [`Mode`] becomes
//! a strategy.
//!
//! # Layout
//! - [`agent_led`]: preview and progressive, one call per ready agent, the agent reserved.
//! - [`power`]: a fixed number of calls per ready agent.
//! - [`model`]: predictive (the abandon-priced model) and slack (its plain reference rule).
//! - [`adaptive`]: the VICIdial-style dial level on its own 1 s / 15 s / 2.5 s timers.
//! - [`rate`]: Poisson dialling blind to agents.
//! - [`inputs`]: what the forecast is fed at a decision (with call-progress analysis too).

pub(crate) mod adaptive;
pub(crate) mod agent_led;
pub(crate) mod inputs;
pub(crate) mod model;
pub(crate) mod power;
pub(crate) mod rate;

use std::fmt;

use crate::pacing::dialer::{Floor, Params};
use crate::pacing::timer::Timer;
use crate::pacing::{Millis, Mode};

pub(crate) use inputs::Inputs;

/// Ticks later than this force a decision even when nothing changed since the last one.
const STALE_TICK_MS: u64 = 800;

/// One dial mode's decision. The dialer calls [`Strategy::start`] when the strategy takes over,
/// [`Strategy::on_timeout`] at every wake-up, and the `on_*` hooks as events happen.
pub(crate) trait Strategy: fmt::Debug + Send + Sync {
    /// The timers this strategy runs on (stopped when another strategy takes over).
    fn timers(&self) -> &'static [Timer] {
        &[Timer::Tick]
    }

    /// Takes over at `now`: arms its timers. Tick-driven strategies keep a tick already
    /// running, so a switch between them (predictive ↔ progressive when the abandon budget is
    /// spent) does not move the next decision.
    fn start(&mut self, now: Millis, floor: &mut Floor<'_>) {
        floor.timers().set_if_stopped(Timer::Tick, now);
    }

    /// Fires this strategy's timers due at `now`. By default: at a tick, decide if anything
    /// changed since the last decision or the tick is stale, then schedule the next tick.
    fn on_timeout(&mut self, now: Millis, floor: &mut Floor<'_>) {
        if let Some(at) = due(floor, Timer::Tick, now) {
            if floor.is_dirty() || now.since(at) >= STALE_TICK_MS {
                self.decide(now, floor);
                floor.clear_dirty();
            }
            let next = now.plus(floor.tick_ms());
            floor.timers().set(Timer::Tick, next);
        }
    }

    /// The decision at a tick: launch calls through `floor`. Strategies on timers of their own
    /// override [`Strategy::on_timeout`] instead.
    fn decide(&mut self, _now: Millis, _floor: &mut Floor<'_>) {}

    /// A live answer was connected to an agent (`dropped` false) or abandoned (true).
    fn on_live_answer(&mut self, _now: Millis, _dropped: bool) {}

    /// Whether this strategy carries on, state kept, when the supervisor switches to `mode`
    /// (adaptive under another drop rule); otherwise [`build`] makes a fresh one.
    fn keeps(&self, _mode: Mode) -> bool {
        false
    }

    /// New supervisor parameters this strategy carries on under.
    fn on_params(&mut self, _params: &Params) {}

    /// The dial level (calls per active agent) the strategy runs at, if it keeps one.
    fn dial_level(&self) -> Option<f64> {
        None
    }

    /// A copy behind a new box (the dialer is `Clone`).
    fn clone_box(&self) -> Box<dyn Strategy>;
}

impl Clone for Box<dyn Strategy> {
    fn clone(&self) -> Self {
        self.clone_box()
    }
}

/// The strategy of `params.mode`, not yet started.
pub(crate) fn build(params: &Params) -> Box<dyn Strategy> {
    match params.mode {
        Mode::Preview => Box::new(agent_led::Preview),
        Mode::Progressive => Box::new(agent_led::Progressive),
        Mode::Power { ratio } => Box::new(power::Power { ratio }),
        Mode::Predictive => Box::new(model::Predictive),
        Mode::Slack { s } => Box::new(model::Slack { s }),
        Mode::Adaptive { drop_rule } => {
            Box::new(adaptive::AdaptiveLevel::new(params.max_ratio, drop_rule))
        }
        Mode::Rate { per_s } => Box::new(rate::Rate { per_s }),
    }
}

/// When `timer` fell due, if it is armed and due at `now`.
fn due(floor: &mut Floor<'_>, timer: Timer, now: Millis) -> Option<Millis> {
    floor.timers().get(timer).filter(|&at| at <= now)
}

/// Stands in for the strategy while it runs with the dialer borrowed (see
/// [`crate::pacing::Dialer::handle_timeout`]); never asked to decide anything.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Parked;

impl Strategy for Parked {
    fn timers(&self) -> &'static [Timer] {
        &[]
    }
    fn start(&mut self, _now: Millis, _floor: &mut Floor<'_>) {}
    fn on_timeout(&mut self, _now: Millis, _floor: &mut Floor<'_>) {}
    fn on_live_answer(&mut self, _now: Millis, _dropped: bool) {
        // Launching never connects or abandons a call, so no answer arrives while parked.
        debug_assert!(false, "live answer while the strategy is parked");
    }
    fn clone_box(&self) -> Box<dyn Strategy> {
        Box::new(*self)
    }
}
