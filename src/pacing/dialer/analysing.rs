//! Answered calls in call-progress analysis: the [`Dialer`]'s inputs for "answered, verdict
//! pending", the verdict, and the agents' `machine` marks. The learning itself (verdict mix,
//! delay, the false-positive estimate) is [`crate::pacing::analysis`]; this file keeps the
//! bookkeeping (lines, the forecast's analysing calls, the opening's outcomes) in step.
//!
//! # Call order with CPA (the engine's side)
//! 200 OK → [`Dialer::handle_call_analysing`] → at the verdict time either
//! [`Dialer::handle_call_answered`] (`Live` for a person, `Machine` for a voicemail greeting)
//! or [`Dialer::handle_call_ended`] (any other verdict, or the callee hung up). An agent who
//! finds voicemail on a connected call reports [`Dialer::handle_machine_mark`] at wrap-up.

use crate::agents::AgentId;
use crate::pacing::analysis::Verdict;
use crate::pacing::call::{AnswerKind, CallEnd, CallError, CallId, CallState};
use crate::pacing::dialer::{Dialer, DialerError};
use crate::pacing::estimate::Class;
use crate::pacing::opening::Resolution;
use crate::pacing::timer::Timer;
use crate::pacing::Millis;

impl Dialer {
    /// Call `call` was answered and call-progress analysis is listening: it holds its line, no
    /// longer rings (the no-answer timeout stops), and will need an agent after the analysis
    /// delay with the learned probability of a human verdict. The ring time is learned now;
    /// the verdict comes with [`Dialer::handle_call_answered`] or [`Dialer::handle_call_ended`].
    pub fn handle_call_analysing(&mut self, now: Millis, call: CallId) -> Result<(), DialerError> {
        let c = self.calls.get(&call.0).ok_or(CallError::Unknown(call.0))?;
        if !c.state.in_flight() || !c.state.can_go(CallState::Analysing) {
            return Err(CallError::Transition {
                call: call.0,
                from: c.state,
                to: CallState::Analysing,
            }
            .into());
        }
        let launched = c.launched;
        // Counted before the launch is untracked, so the abandons priced on calls still
        // unresolved are kept (the risk leaves with the verdict).
        self.analysing += 1;
        self.untrack_launch(launched, 0.0);
        self.ring_fit.observe(now.since(launched) as f64 / 1000.0);
        if !self.analysis.active() {
            // The first analysed call: plan with the analysis delay from the next decision.
            self.analysis.started();
            self.timers.set(Timer::Refit, now);
        }
        if let Some(c) = self.calls.get_mut(&call.0) {
            c.state = CallState::Analysing;
            c.answered = now;
            c.analysed = true;
        }
        self.forecast.analysing.add(now.0 / 100);
        self.counters.analysed += 1;
        self.dirty = true;
        Ok(())
    }

    /// The campaign analyses its calls (known once its setup is loaded, possibly after the
    /// dialer was built): plan with the analysis delay `delay` (the cold-start prior, until
    /// verdicts are learned) from the next decision, and budget the estimated false positives
    /// in the safe opening from the first call.
    pub fn expect_analysis(&mut self, now: Millis, delay: &crate::pacing::dist::Dist) {
        self.analysis.expect(delay);
        self.timers.set(Timer::Refit, now);
        self.dirty = true;
    }

    /// The answer-to-verdict delay the dialer plans with, `None` while it plans without
    /// analysis.
    pub fn planned_analysis_delay(&self) -> Option<crate::pacing::dist::Dist> {
        self.analysis.active().then(|| self.analysis.delay())
    }

    /// The agent marked the connected call they just had `machine` at wrap-up: analysis passed
    /// a voicemail greeting as a person (a false negative). Feeds the measured false-positive
    /// rate ([`crate::pacing::analysis`]); the call itself is already over for pacing.
    pub fn handle_machine_mark(&mut self, now: Millis) {
        self.analysis.marked_machine();
        self.counters.machine_marks += 1;
        self.feed_false_positives(now);
        self.dirty = true;
    }

    /// The verdict of call `call` (in analysis): a person waits for an agent, a machine ends.
    pub(super) fn analysis_verdict(
        &mut self,
        now: Millis,
        call: CallId,
        kind: AnswerKind,
    ) -> Result<(), DialerError> {
        let verdict = match kind {
            AnswerKind::Live => Verdict::Human,
            AnswerKind::Machine => Verdict::Machine,
        };
        let reserved = self.leave_analysis(now, call, verdict)?;
        match kind {
            AnswerKind::Live => self.live_answer(now, call, reserved),
            AnswerKind::Machine => self.machine_verdict(now, call, reserved),
        }
        Ok(())
    }

    /// Call `call` (in analysis) ended without a person: a verdict other than human (or the
    /// callee hung up). `Completed` and `Abandoned` are not endings of a call in analysis.
    pub(super) fn analysis_ended(
        &mut self,
        now: Millis,
        call: CallId,
        end: CallEnd,
    ) -> Result<(), DialerError> {
        if !CallState::Analysing.can_go(CallState::Ended(end)) {
            return Err(CallError::Transition {
                call: call.0,
                from: CallState::Analysing,
                to: CallState::Ended(end),
            }
            .into());
        }
        let verdict = if end == CallEnd::Machine {
            Verdict::Machine
        } else {
            Verdict::Other
        };
        let reserved = self.leave_analysis(now, call, verdict)?;
        if verdict == Verdict::Machine {
            self.machine_verdict(now, call, reserved);
        } else {
            self.calls.remove(&call.0);
            if let Some(a) = reserved {
                self.release_reserved(now, a);
            }
        }
        Ok(())
    }

    /// Takes call `call` out of analysis with `verdict`: lines, the forecast, the priced risk,
    /// the estimators and the opening's outcomes. Returns the agent reserved for it.
    fn leave_analysis(
        &mut self,
        now: Millis,
        call: CallId,
        verdict: Verdict,
    ) -> Result<Option<AgentId>, DialerError> {
        let c = self.calls.get(&call.0).ok_or(CallError::Unknown(call.0))?;
        let (launched, answered, reserved, risk) = (c.launched, c.answered, c.agent, c.risk);
        self.analysing = self.analysing.saturating_sub(1);
        self.forecast.analysing.remove(answered.0 / 100);
        self.release_risk(risk);
        self.analysis
            .verdict(verdict, now.since(answered) as f64 / 1000.0);
        let (how, class) = match verdict {
            Verdict::Human => (Resolution::Live, Class::Live),
            // Answered, never needs an agent: the ring model's machine class.
            Verdict::Machine | Verdict::Other => (Resolution::Other, Class::Machine),
        };
        self.opening
            .resolved(now, self.params.no_answer_timeout_ms, launched, how);
        self.outcomes.observe(class);
        self.dirty = true;
        Ok(reserved)
    }

    /// A machine verdict: the call ends (hung up as voicemail) and the false-positive estimate
    /// grows.
    fn machine_verdict(&mut self, now: Millis, call: CallId, reserved: Option<AgentId>) {
        self.counters.machines += 1;
        self.counters.machine_verdicts += 1;
        self.calls.remove(&call.0);
        if let Some(a) = reserved {
            self.release_reserved(now, a);
        }
        self.feed_false_positives(now);
    }

    /// Reports each whole estimated false positive to the strategy as a dropped live answer,
    /// so rules that count drops themselves (adaptive's safety rules) hold the cap on the sum
    /// too. The predictive controller reads the estimate directly (`Floor::price`).
    fn feed_false_positives(&mut self, now: Millis) {
        let whole = self.analysis.estimated_fp().floor().max(0.0) as u64;
        while self.fp_fed < whole {
            self.fp_fed += 1;
            self.strategy.on_live_answer(now, true);
        }
    }
}
