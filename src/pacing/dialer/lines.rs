//! The calls' side of a [`Dialer`]'s bookkeeping: launching a call (the only way a strategy
//! adds one), tracking it while in flight, abandoning it, and the free lines under the channels,
//! the launch limit and `max_ratio`.

use crate::agents::{AgentId, AgentState};
use crate::pacing::call::{CallEnd, CallId, CallState};
use crate::pacing::dialer::{Action, Busy, CallSlot, Dialer};
use crate::pacing::Millis;

impl Dialer {
    /// Creates and dials a call expected to be abandoned `risk` times (priced by predictive,
    /// else 0), or with `preview` queues it for its reserved agent to preview.
    pub(super) fn launch(&mut self, now: Millis, agent: Option<AgentId>, risk: f64, preview: bool) {
        if let Some(l) = &mut self.launch_limit {
            *l = l.saturating_sub(1);
        }
        self.pending_risk += risk;
        let call = CallId(self.next_call);
        self.next_call += 1;
        self.counters.dials += 1;
        self.calls.insert(
            call.0,
            CallSlot {
                state: if preview {
                    CallState::Queued
                } else {
                    CallState::Dialling
                },
                launched: now,
                answered: now,
                agent,
                risk,
                analysed: false,
            },
        );
        if let Some(a) = agent {
            // Ready → reserved is legal; `agent` was just popped from a ready queue.
            let _ = self.agents[a.0 as usize]
                .agent
                .transition(now, AgentState::Reserved);
            self.agents[a.0 as usize].busy = Busy::Reserved(call);
        }
        match (preview, agent) {
            (true, Some(a)) => self.actions.push_back(Action::Preview { call, agent: a }),
            _ => {
                self.track_launch(now, call);
                self.actions.push_back(Action::Dial { call, agent });
            }
        }
    }

    pub(super) fn track_launch(&mut self, now: Millis, call: CallId) {
        self.in_flight += 1;
        self.forecast.ringing.add(now.0 / 100);
        self.ring_deadlines
            .push_back((now.plus(self.params.no_answer_timeout_ms), call));
    }

    pub(super) fn untrack_launch(&mut self, launched: Millis, risk: f64) {
        self.in_flight = self.in_flight.saturating_sub(1);
        self.forecast.ringing.remove(launched.0 / 100);
        self.release_risk(risk);
    }

    /// A call that was ringing or in analysis no longer can turn out live: its share of the
    /// pending abandon risk goes (all of it once none is left, so rounding cannot linger).
    pub(super) fn release_risk(&mut self, risk: f64) {
        self.pending_risk = if self.in_flight + self.analysing == 0 {
            0.0
        } else {
            (self.pending_risk - risk).max(0.0)
        };
    }

    pub(super) fn abandon(&mut self, now: Millis, call: CallId) {
        if let Some(c) = self.calls.get_mut(&call.0) {
            c.state = CallState::Ended(CallEnd::Abandoned);
        }
        self.calls.remove(&call.0);
        self.counters.abandoned += 1;
        self.strategy.on_live_answer(now, true);
        self.dirty = true;
        self.actions.push_back(Action::Abandon { call });
    }

    pub(super) fn lines_free(&self) -> u32 {
        let free = self.params.channels.saturating_sub(self.lines_in_use());
        self.launch_limit.map_or(free, |l| free.min(l))
    }

    pub(super) fn ratio_room(&self) -> u32 {
        let cap = (self.params.max_ratio * self.active_out as f64).floor() as i64;
        (cap - self.lines_in_use() as i64).max(0) as u32
    }
}
