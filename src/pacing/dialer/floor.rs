//! [`Floor`]: the view of a [`Dialer`]'s bookkeeping a [`Strategy`] decides from and launches
//! through — counts of agents, lines and calls, the forecast and its inputs, the abandon price,
//! the timer table. Strategies get nothing else: they cannot move an agent, end a call or feed
//! an estimator, so the bookkeeping stays consistent whatever the mode.

use crate::agents::AgentId;
use crate::pacing::dialer::{Counters, Dialer};
use crate::pacing::estimate::Class;
use crate::pacing::predictive::Forecast;
use crate::pacing::strategy::Inputs;
#[cfg(doc)]
use crate::pacing::strategy::Strategy;
use crate::pacing::timer::{Timer, TimerTable};
use crate::pacing::Millis;

/// A strategy's view of the dialer, lent for one call.
pub(crate) struct Floor<'a> {
    d: &'a mut Dialer,
}

impl<'a> Floor<'a> {
    pub(super) fn new(d: &'a mut Dialer) -> Self {
        Floor { d }
    }

    // ----- time -----

    /// The dialer's scheduled times (a strategy sets and reads its own).
    pub(crate) fn timers(&mut self) -> &mut TimerTable {
        &mut self.d.timers
    }
    /// The pacing tick, in ms.
    pub(crate) fn tick_ms(&self) -> u64 {
        self.d.tick_ms
    }
    /// Whether anything changed since the last tick's decision.
    pub(crate) fn is_dirty(&self) -> bool {
        self.d.dirty
    }
    /// A tick's decision was taken.
    pub(crate) fn clear_dirty(&mut self) {
        self.d.dirty = false;
    }
    /// The share of the shift still to come at `now` (adaptive tapered rule; negative after).
    pub(crate) fn shift_left(&self, now: Millis) -> f64 {
        1.0 - now.since(self.d.start) as f64 / self.d.shift_ms as f64
    }

    // ----- counts -----

    /// New calls the channels and the launch limit allow now.
    pub(crate) fn lines_free(&self) -> u32 {
        self.d.lines_free()
    }
    /// Outbound calls dialling, ringing, waiting or connected.
    pub(crate) fn lines_in_use(&self) -> u32 {
        self.d.lines_in_use()
    }
    /// Outbound-capable agents logged in and not paused.
    pub(crate) fn active_agents(&self) -> u32 {
        self.d.active_out
    }
    /// Outbound-capable agents ready.
    pub(crate) fn ready_agents(&self) -> u32 {
        self.d.idle_out
    }
    /// Calls dialling or ringing.
    pub(crate) fn in_flight(&self) -> u32 {
        self.d.in_flight
    }
    /// Answered calls waiting for an agent.
    pub(crate) fn waiting(&self) -> u32 {
        self.d.waiting.len() as u32
    }
    /// Inbound callers waiting ahead of outbound customers.
    pub(crate) fn inbound_ahead(&self) -> usize {
        self.d.inbound_ahead()
    }
    /// Counters since creation.
    pub(crate) fn counters(&self) -> Counters {
        self.d.counters
    }
    /// The abandon figure's two sides as the cap counts them: (live answers + estimated AMD
    /// false positives, abandons + estimated AMD false positives), since creation. The people
    /// call-progress analysis hangs up on as machines are abandoned calls too (Ofcom).
    pub(crate) fn abandon_sides(&self) -> (f64, f64) {
        let fp = self.d.analysis.estimated_fp();
        let c = self.d.counters;
        (c.live as f64 + fp, c.abandoned as f64 + fp)
    }
    /// The share of the cap a controller aims at (`abandon_margin`).
    pub(crate) fn abandon_margin(&self) -> f64 {
        self.d.params.abandon_margin
    }
    /// Whether pacing plans with call-progress analysis.
    pub(crate) fn analysing_calls(&self) -> bool {
        self.d.analysis.active()
    }
    /// The abandon cap.
    pub(crate) fn target_abandon(&self) -> f64 {
        self.d.params.target_abandon
    }

    // ----- launches -----

    /// Takes the next ready outbound agent (outbound-only first), to reserve for a call.
    pub(crate) fn pop_ready_agent(&mut self) -> Option<AgentId> {
        self.d.pop_ready_out()
    }
    /// Dials a new call, with `agent` reserved for it if any.
    pub(crate) fn dial(&mut self, now: Millis, agent: Option<AgentId>) {
        self.d.launch(now, agent, 0.0, false);
    }
    /// Dials a new call expected to be abandoned `risk` times (counted against the abandon
    /// credit until it resolves).
    pub(crate) fn dial_priced(&mut self, now: Millis, risk: f64) {
        self.d.launch(now, None, risk, false);
    }
    /// Queues a new call for `agent` to preview; dialled when they accept.
    pub(crate) fn preview(&mut self, now: Millis, agent: AgentId) {
        self.d.launch(now, Some(agent), 0.0, true);
    }
    /// An exponential gap for Poisson dialling at `per_s`, from the dialer's random stream.
    pub(crate) fn exp_gap(&mut self, per_s: f64) -> f64 {
        self.d.exp_gap(per_s)
    }
    /// The safe cold-start cap on new calls, `None` once warm (see
    /// [`crate::pacing::opening`]).
    pub(crate) fn cold_cap(&mut self, now: Millis) -> Option<u32> {
        self.d.cold_cap(now)
    }

    // ----- the model -----

    /// New calls a model-based decision may consider at `now`: the free lines under the
    /// `max_ratio` and cold-start caps, 0 without active agents. Refits the forecast first if
    /// it is due.
    pub(crate) fn model_room(&mut self, now: Millis) -> u32 {
        if self.d.timers.is_due(Timer::Refit, now) || !self.d.forecast.is_fitted() {
            self.d.refit(now);
        }
        let mut room = self.d.lines_free().min(self.d.ratio_room());
        if let Some(cap) = self.d.cold_cap(now) {
            room = room.min(cap);
        }
        if self.d.active_out == 0 {
            return 0;
        }
        room
    }
    /// The forecast's inputs at `now` (advances the inbound-rate estimator to `now`).
    pub(crate) fn inputs(&mut self, now: Millis) -> Inputs {
        let d = &mut *self.d;
        let inbound_rate = if d.idle_in_only > 0 || d.active_blended == 0 {
            0.0
        } else {
            d.inbound_rate.rate(now.secs())
        };
        Inputs {
            idle: d.idle_out,
            ahead: d.waiting.len() as f64 + d.inbound_ahead() as f64 + d.reserve,
            bias: d.bias,
            inbound_rate,
            live: d.outcomes.p(Class::Live),
        }
    }
    /// The bucketed agents and calls with their fitted tables.
    pub(crate) fn forecast(&mut self) -> &mut Forecast {
        &mut self.d.forecast
    }
    /// How far the estimates are from their priors, in [0, 1].
    pub(crate) fn warmth(&self) -> f64 {
        self.d.warmth()
    }
    /// The abandon controller's price θ of a marginal call now, with estimates `warm`; kept as
    /// the last θ (diagnostics, calibration).
    pub(crate) fn price(&mut self, warm: f64) -> f64 {
        let d = &mut *self.d;
        // Abandons already bought: calls in flight priced at launch, not yet resolved. The
        // people call-progress analysis hung up on as machines (estimated) are abandons too,
        // and live answers: the cap holds on the sum (Ofcom; see `pacing::analysis`).
        let fp = d.analysis.estimated_fp();
        let theta = d.control.theta_warming(
            d.counters.live + d.seeded_record.0 + fp.round() as u64,
            d.counters.abandoned as f64 + d.seeded_record.1 + d.pending_risk + fp,
            warm,
        );
        d.last_theta = theta;
        theta
    }
}
