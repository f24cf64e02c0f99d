//! [`Dialer`]: one campaign's pacing core, shaped like quinn-proto's `Connection`. It owns the
//! shared bookkeeping: the campaign's agents (state machines), its calls from launch to end, the
//! estimators and forecast, the abandon record, the launch limit and its [`TimerTable`]. How
//! many calls to launch is its [`Strategy`]'s decision (one per dial mode, see
//! [`crate::pacing::strategy`]), made through a [`Floor`]. It never reads a clock, touches a
//! socket or a database: the simulator and the live engine drive it with the same calls.
//!
//! - `config`: priors, parameters, settings and counters.
//! - `io`: actions, wake-up reasons, ids and errors exchanged with the driver.
//! - `floor`: the strategies' view of the bookkeeping.

use std::collections::VecDeque;

use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64Mcg;

use crate::agents::{Agent, AgentError, AgentId, AgentState, Skills, StateTimes};
use crate::pacing::call::{AnswerKind, CallEnd, CallError, CallId, CallState};
use crate::pacing::dist::Dist;
use crate::pacing::estimate::{Class, DurationFit, OutcomeEstimator, RateEstimator};
use crate::pacing::forecast::RingModel;
use crate::pacing::idmap::IdMap;
use crate::pacing::opening::{
    Agents, Opening, PastCall, PastOutcome, Resolution, COLD_TURNOVER, MIN_SETTLED,
};
use crate::pacing::predictive::{AbandonControl, Fitted, Forecast, Group};
use crate::pacing::strategy::{self, Parked, Strategy};
use crate::pacing::timer::{Timer, TimerTable};
use crate::pacing::Millis;

mod config;
mod floor;
mod io;

use config::check_params;
pub use config::{Config, Counters, Params, Priors};
pub(crate) use floor::Floor;
pub use io::{Action, DialerError, InboundId, Reason};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Busy {
    None,
    Out(CallId),
    In(InboundId),
    Reserved(CallId),
}

#[derive(Clone, Debug)]
struct AgentSlot {
    agent: Agent,
    epoch: u32,
    busy: Busy,
}

#[derive(Clone, Debug)]
struct CallSlot {
    state: CallState,
    launched: Millis,
    answered: Millis,
    agent: Option<AgentId>,
    /// Expected abandons of this call as priced at launch (predictive), until it resolves.
    risk: f64,
}

/// One campaign's pacing core.
///
/// # Call order (the same for the simulator and the live engine)
/// 1. Create with [`Dialer::new`]; add agents with [`Dialer::handle_agent_login`].
/// 2. Feed every event as it happens, each with the current time: `handle_agent_*`,
///    `handle_call_*`, `handle_inbound_*`, `handle_preview_done`, [`Dialer::set_params`].
/// 3. After any input, drain [`Dialer::poll_action`] until it returns `None`, executing each
///    action (dial, bridge, abandon, cancel).
/// 4. Ask [`Dialer::poll_timeout`] for the next wake-up; when that time comes call
///    [`Dialer::handle_timeout`] and go to 3. Time must never go backwards.
///
/// Inputs that do not fit the current state return an error and change nothing.
#[derive(Clone, Debug)]
pub struct Dialer {
    params: Params,
    tick_ms: u64,
    shift_ms: u64,
    start: Millis,
    agents: Vec<AgentSlot>,
    calls: IdMap<CallSlot>,
    next_call: u64,
    next_inbound: u64,
    inbound_queue: VecDeque<(InboundId, Millis)>,
    inbound_agent: IdMap<AgentId>,
    waiting: VecDeque<(CallId, Millis)>,
    ring_deadlines: VecDeque<(Millis, CallId)>,
    ready_out_only: VecDeque<(AgentId, u32)>,
    ready_blended: VecDeque<(AgentId, u32)>,
    ready_in_only: VecDeque<(AgentId, u32)>,
    idle_out: u32,
    idle_in_only: u32,
    active_out: u32,
    /// Blended agents logged in: the only ones an inbound caller takes from outbound work.
    active_blended: u32,
    /// Inbound-capable agents logged in (paused included: they may come back).
    logged_in_in: u32,
    in_flight: u32,
    connected_out: u32,
    actions: VecDeque<Action>,
    outcomes: OutcomeEstimator,
    quick_fit: DurationFit,
    ring_fit: DurationFit,
    talk_fit: DurationFit,
    talk_in_fit: DurationFit,
    wrap_fit: DurationFit,
    inbound_rate: RateEstimator,
    forecast: Forecast,
    control: AbandonControl,
    /// The random stream of `rate:λ`, the dialer's so that one seed gives one sequence whatever
    /// the mode history.
    rng: Pcg64Mcg,
    /// Every scheduled time: the strategy's own and the shared refit and reserve updates.
    timers: TimerTable,
    /// The dial mode's decision; swapped by a supervisor change of mode.
    strategy: Box<dyn Strategy>,
    /// Something changed since the last tick's decision.
    dirty: bool,
    /// New calls the driver still allows (`None`: no limit beyond the channels).
    launch_limit: Option<u32>,
    reserve: f64,
    sl_window: (f64, f64),
    counters: Counters,
    last_theta: f64,
    bias: f64,
    bias_mark: (u64, u64),
    pending_risk: f64,
    /// The safe cold-start cap's outcome counts (see [`crate::pacing::opening`]).
    opening: Opening,
    /// Live answers and abandons of past calls seeded by [`Dialer::warm_start`], added to the
    /// record the abandon controller prices from.
    seeded_record: (u64, f64),
    /// Talks seeded by [`Dialer::warm_start`]: the opening cap counts only this dialer's own.
    seeded_talks: u64,
}

impl Dialer {
    /// A dialer with no agents at `now`.
    pub fn new(config: Config, now: Millis) -> Result<Dialer, DialerError> {
        check_params(&config.params)?;
        let p = &config.params;
        let pr = &config.priors;
        let mut timers = TimerTable::default();
        timers.set(Timer::Refit, now);
        timers.set(Timer::Reserve, now.plus(RESERVE_MS));
        let mut d = Dialer {
            tick_ms: config.tick_ms.max(1),
            shift_ms: config.shift_ms.max(1),
            start: now,
            agents: Vec::new(),
            calls: IdMap::default(),
            next_call: 0,
            next_inbound: 0,
            inbound_queue: VecDeque::new(),
            inbound_agent: IdMap::default(),
            waiting: VecDeque::new(),
            ring_deadlines: VecDeque::new(),
            ready_out_only: VecDeque::new(),
            ready_blended: VecDeque::new(),
            ready_in_only: VecDeque::new(),
            idle_out: 0,
            idle_in_only: 0,
            active_out: 0,
            active_blended: 0,
            logged_in_in: 0,
            in_flight: 0,
            connected_out: 0,
            actions: VecDeque::new(),
            outcomes: OutcomeEstimator::new(pr.outcomes, 50.0, 3000.0),
            quick_fit: DurationFit::new(&Dist::Constant { mean: 2.5 }, 20.0, 3000.0),
            ring_fit: DurationFit::new(&pr.ring, 20.0, 3000.0),
            talk_fit: DurationFit::new(&pr.talk, 20.0, 3000.0),
            talk_in_fit: DurationFit::new(&pr.inbound_talk, 20.0, 3000.0),
            wrap_fit: DurationFit::new(&pr.wrap, 20.0, 3000.0),
            inbound_rate: RateEstimator::new(pr.inbound_rate, 600.0),
            forecast: Forecast::default(),
            control: AbandonControl {
                target: p.target_abandon,
                margin: p.abandon_margin,
                theta0_factor: 1.0,
            },
            rng: Pcg64Mcg::seed_from_u64(config.seed ^ 0x005E_ED0F_D1A1),
            timers,
            strategy: strategy::build(p),
            dirty: true,
            launch_limit: None,
            reserve: 0.0,
            sl_window: (0.0, 0.0),
            counters: Counters::default(),
            last_theta: 0.0,
            bias: 0.0,
            bias_mark: (0, 0),
            pending_risk: 0.0,
            opening: Opening::default(),
            seeded_record: (0, 0.0),
            seeded_talks: 0,
            params: config.params,
        };
        d.with_strategy(|s, floor| s.start(now, floor));
        Ok(d)
    }

    // ----- getters -----

    /// Current parameters.
    pub fn params(&self) -> &Params {
        &self.params
    }
    /// Counters since creation.
    pub fn counters(&self) -> Counters {
        self.counters
    }
    /// Number of agents ever logged in.
    pub fn agent_count(&self) -> usize {
        self.agents.len()
    }
    /// State of `agent`.
    pub fn agent_state(&self, agent: AgentId) -> Option<AgentState> {
        self.agents.get(agent.0 as usize).map(|a| a.agent.state())
    }
    /// Time every agent spent in each state up to `now`, summed.
    pub fn agent_times(&self, now: Millis) -> StateTimes {
        let mut t = StateTimes::default();
        for a in &self.agents {
            t.add(&a.agent.times(now));
        }
        t
    }
    /// Lines in use: outbound calls dialling, ringing, waiting or connected.
    pub fn lines_in_use(&self) -> u32 {
        self.in_flight + self.waiting.len() as u32 + self.connected_out
    }
    /// Outbound-capable agents logged in and not paused.
    pub fn active_agents(&self) -> u32 {
        self.active_out
    }
    /// Inbound-capable agents logged in (ready, busy, in wrap-up or paused): 0 means an inbound
    /// caller can never be taken and should be refused at once rather than queued.
    pub fn inbound_agents(&self) -> u32 {
        self.logged_in_in
    }
    /// Inbound callers waiting that stand ahead of outbound customers: only a blended agent
    /// serves both, so without one the inbound queue takes nothing from outbound work.
    fn inbound_ahead(&self) -> usize {
        if self.active_blended == 0 {
            0
        } else {
            self.inbound_queue.len()
        }
    }
    /// The last marginal-abandon threshold θ used by predictive pacing.
    pub fn theta(&self) -> f64 {
        self.last_theta
    }
    /// The forecast sums a predictive decision at `now` would use (diagnostics).
    pub fn forecast_sums(&mut self, now: Millis) -> crate::pacing::predictive::Sums {
        let ahead0 = self.waiting.len() as f64 + self.inbound_ahead() as f64 + self.reserve;
        self.forecast.sums(now, self.idle_out, ahead0, 0.0, false)
    }

    /// Current dial level of adaptive mode (1 in the other modes).
    pub fn adaptive_level(&self) -> f64 {
        self.strategy.dial_level().unwrap_or(1.0)
    }
    /// Current estimate of P(live answer).
    pub fn live_probability(&self) -> f64 {
        self.outcomes.p(Class::Live)
    }

    // ----- inputs -----

    /// Seeds the estimators from the campaign's own recent calls (all nodes; from the store,
    /// see [`crate::pacing::opening`], *Warm start*), so a dialer (re)starting a campaign
    /// dials at the rate it had learned rather than from a cold start. Call it once, before
    /// the first tick; `calls` in any order. Each call weighs [`PastCall::weight`]: outcome
    /// classes, ring, talk and wrap-up times feed the same estimators as live calls (oldest
    /// first, so the recency weighting of the estimators applies too), its outcome counts as
    /// settled for the cold-start cap, and its live answers and abandons join the record the
    /// abandon controller prices from.
    pub fn warm_start(&mut self, calls: &[PastCall]) {
        let mut order: Vec<&PastCall> = calls.iter().collect();
        order.sort_by_key(|c| std::cmp::Reverse(c.age_ms));
        let (mut live_w, mut ab_w) = (0.0, 0.0);
        for c in order {
            let w = c.weight();
            if w < 1e-6 {
                continue;
            }
            let class = match c.outcome {
                PastOutcome::Live { abandoned } => {
                    live_w += w;
                    if abandoned {
                        ab_w += w;
                    }
                    Class::Live
                }
                PastOutcome::Machine => Class::Machine,
                PastOutcome::Quick => Class::Quick,
                PastOutcome::NoAnswer => Class::NoAnswer,
            };
            self.outcomes.observe_weighted(class, w);
            let how = match c.outcome {
                PastOutcome::Live { .. } => Resolution::Live,
                PastOutcome::Quick => Resolution::Quick,
                PastOutcome::Machine | PastOutcome::NoAnswer => Resolution::Other,
            };
            self.opening.seed(how, w);
            let valid = |x: Option<f64>| x.filter(|s| s.is_finite() && *s >= 0.0);
            if let Some(r) = valid(c.ring_s) {
                match c.outcome {
                    PastOutcome::Live { .. } | PastOutcome::Machine => {
                        self.ring_fit.observe_weighted(r, w)
                    }
                    PastOutcome::Quick => self.quick_fit.observe_weighted(r, w),
                    PastOutcome::NoAnswer => {}
                }
            }
            if let Some(t) = valid(c.talk_s) {
                self.talk_fit.observe_weighted(t, w);
            }
            if let Some(t) = valid(c.wrap_s) {
                self.wrap_fit.observe_weighted(t, w);
            }
        }
        self.seeded_record = (live_w.round() as u64, ab_w);
        self.seeded_talks = self.talk_fit.count();
        // Rebuild the tables from the seeded estimates at the next decision.
        self.timers.set(Timer::Refit, self.start);
        self.dirty = true;
    }

    /// A new agent logs in and becomes ready at `now`.
    pub fn handle_agent_login(&mut self, now: Millis, skills: Skills) -> AgentId {
        let id = AgentId(self.agents.len() as u32);
        self.agents.push(AgentSlot {
            agent: Agent::new(id, skills, now),
            epoch: 0,
            busy: Busy::None,
        });
        // A fresh agent is logged out, and logged-out → ready is legal.
        let _ = self.make_ready(now, id);
        id
    }

    /// `agent` is ready again (after wrap-up, a pause, or a logout).
    pub fn handle_agent_ready(&mut self, now: Millis, agent: AgentId) -> Result<(), DialerError> {
        let slot = self.slot(agent)?;
        let from = slot.agent.state();
        if from == AgentState::WrapUp {
            self.wrap_fit
                .observe(now.since(slot.agent.since()) as f64 / 1000.0);
        }
        self.make_ready(now, agent)
    }

    /// `agent` pauses (from ready or wrap-up).
    pub fn handle_agent_pause(&mut self, now: Millis, agent: AgentId) -> Result<(), DialerError> {
        self.leave_idle_or_wrap(now, agent, AgentState::Paused)
    }

    /// `agent` logs out (from ready, wrap-up or paused).
    pub fn handle_agent_logout(&mut self, now: Millis, agent: AgentId) -> Result<(), DialerError> {
        self.leave_idle_or_wrap(now, agent, AgentState::LoggedOut)
    }

    /// Call `call` is ringing at the far end (optional; 180/183).
    pub fn handle_call_ringing(&mut self, _now: Millis, call: CallId) -> Result<(), DialerError> {
        let c = self
            .calls
            .get_mut(&call.0)
            .ok_or(CallError::Unknown(call.0))?;
        if c.state == CallState::Dialling {
            c.state.go(call, CallState::Ringing)?;
        }
        Ok(())
    }

    /// The agent accepted the previewed lead of `call`: dial it.
    pub fn handle_preview_done(&mut self, now: Millis, call: CallId) -> Result<(), DialerError> {
        let c = self
            .calls
            .get_mut(&call.0)
            .ok_or(CallError::Unknown(call.0))?;
        c.state.go(call, CallState::Dialling)?;
        c.launched = now;
        let agent = c.agent;
        self.track_launch(now, call);
        self.actions.push_back(Action::Dial { call, agent });
        Ok(())
    }

    /// Call `call` was answered (by a person or a machine).
    pub fn handle_call_answered(
        &mut self,
        now: Millis,
        call: CallId,
        kind: AnswerKind,
    ) -> Result<(), DialerError> {
        let c = self.calls.get(&call.0).ok_or(CallError::Unknown(call.0))?;
        let target = match kind {
            AnswerKind::Live => CallState::Waiting,
            AnswerKind::Machine => CallState::Ended(CallEnd::Machine),
        };
        if !c.state.can_go(target) {
            return Err(CallError::Transition {
                call: call.0,
                from: c.state,
                to: target,
            }
            .into());
        }
        let (launched, reserved, risk) = (c.launched, c.agent, c.risk);
        self.untrack_launch(launched, risk);
        let timeout = self.params.no_answer_timeout_ms;
        let how = if kind == AnswerKind::Live {
            Resolution::Live
        } else {
            Resolution::Other
        };
        self.opening.resolved(now, timeout, launched, how);
        self.ring_fit.observe(now.since(launched) as f64 / 1000.0);
        self.dirty = true;
        match kind {
            AnswerKind::Machine => {
                self.outcomes.observe(Class::Machine);
                self.counters.machines += 1;
                self.calls.remove(&call.0);
                if let Some(a) = reserved {
                    self.release_reserved(now, a);
                }
            }
            AnswerKind::Live => {
                self.outcomes.observe(Class::Live);
                self.counters.live += 1;
                if let Some(c) = self.calls.get_mut(&call.0) {
                    c.state = CallState::Waiting;
                    c.answered = now;
                }
                if let Some(a) = reserved {
                    self.connect(now, call, a);
                } else if let Some(a) = self.pop_ready_out() {
                    self.connect(now, call, a);
                } else if self.params.patience_ms == 0 {
                    self.abandon(now, call);
                } else {
                    self.waiting
                        .push_back((call, now.plus(self.params.patience_ms)));
                }
            }
        }
        Ok(())
    }

    /// Call `call` ended: before an answer (busy, no-answer, invalid, trunk failure), or a
    /// connected call hung up (`Completed`: its agent goes to wrap-up), or a waiting callee hung
    /// up (counted as abandoned).
    pub fn handle_call_ended(
        &mut self,
        now: Millis,
        call: CallId,
        end: CallEnd,
    ) -> Result<(), DialerError> {
        let c = self.calls.get(&call.0).ok_or(CallError::Unknown(call.0))?;
        let state = c.state;
        match state {
            CallState::Connected => {
                let agent = c.agent;
                let connected_at = c.answered;
                self.calls.remove(&call.0);
                self.connected_out = self.connected_out.saturating_sub(1);
                if let Some(a) = agent {
                    let since = self.agents[a.0 as usize].agent.since();
                    let _ = connected_at;
                    self.talk_fit.observe(now.since(since) as f64 / 1000.0);
                    self.enter_wrap(now, a);
                }
            }
            CallState::Waiting => {
                self.waiting.retain(|w| w.0 != call);
                self.abandon(now, call);
                // `abandon` queued an Abandon action; the driver already knows the call is gone.
                self.actions.retain(|a| *a != Action::Abandon { call });
            }
            s if s.in_flight() => {
                let to = CallState::Ended(end);
                if !s.can_go(to) || end == CallEnd::Machine {
                    return Err(CallError::Transition {
                        call: call.0,
                        from: s,
                        to,
                    }
                    .into());
                }
                let (launched, reserved, risk) = (c.launched, c.agent, c.risk);
                self.untrack_launch(launched, risk);
                let timeout = self.params.no_answer_timeout_ms;
                let class = if end == CallEnd::NoAnswer {
                    Class::NoAnswer
                } else {
                    self.quick_fit.observe(now.since(launched) as f64 / 1000.0);
                    Class::Quick
                };
                let how = if class == Class::Quick {
                    Resolution::Quick
                } else {
                    Resolution::Other
                };
                self.opening.resolved(now, timeout, launched, how);
                self.outcomes.observe(class);
                self.calls.remove(&call.0);
                if let Some(a) = reserved {
                    self.release_reserved(now, a);
                }
                self.dirty = true;
            }
            s => {
                return Err(CallError::Transition {
                    call: call.0,
                    from: s,
                    to: CallState::Ended(end),
                }
                .into())
            }
        }
        Ok(())
    }

    /// An inbound call arrives; it goes to a free inbound-capable agent or waits.
    pub fn handle_inbound_arrival(&mut self, now: Millis) -> InboundId {
        let id = InboundId(self.next_inbound);
        self.next_inbound += 1;
        self.counters.inbound += 1;
        self.inbound_rate.arrive(now.secs());
        self.dirty = true;
        if let Some(a) = self.pop_ready_in() {
            self.connect_inbound(now, id, now, a);
        } else {
            self.inbound_queue.push_back((id, now));
        }
        id
    }

    /// Inbound call `inbound` ended: its agent goes to wrap-up (or the caller gave up waiting).
    pub fn handle_inbound_ended(
        &mut self,
        now: Millis,
        inbound: InboundId,
    ) -> Result<(), DialerError> {
        if let Some(a) = self.inbound_agent.remove(&inbound.0) {
            let since = self.agents[a.0 as usize].agent.since();
            self.talk_in_fit.observe(now.since(since) as f64 / 1000.0);
            self.enter_wrap(now, a);
            return Ok(());
        }
        let before = self.inbound_queue.len();
        self.inbound_queue.retain(|q| q.0 != inbound);
        if self.inbound_queue.len() == before {
            return Err(DialerError::UnknownInbound(inbound.0));
        }
        Ok(())
    }

    /// Supervisor change of parameters (all or nothing).
    pub fn set_params(&mut self, now: Millis, params: Params) -> Result<(), DialerError> {
        check_params(&params)?;
        self.control.target = params.target_abandon;
        self.control.margin = params.abandon_margin;
        let swap = params.mode != self.params.mode && !self.strategy.keeps(params.mode);
        if swap {
            let next = strategy::build(&params);
            // The old strategy's timers stop unless the new one runs on them too (a tick).
            for &t in self.strategy.timers() {
                if !next.timers().contains(&t) {
                    self.timers.stop(t);
                }
            }
            self.strategy = next;
        }
        self.strategy.on_params(&params);
        self.params = params;
        if swap {
            self.with_strategy(|s, floor| s.start(now, floor));
        }
        self.dirty = true;
        Ok(())
    }

    /// The lines the campaign may hold right now (ringing + waiting + connected), as the driver
    /// sees them: trunk lines free plus those in use, capped by the leads it has at hand. Pacing
    /// never launches past it, whatever the mode asks for. Cheap; call it before every tick.
    pub fn set_channels(&mut self, channels: u32) {
        if self.params.channels != channels {
            self.params.channels = channels;
            self.dirty = true;
        }
    }

    /// At most `limit` new calls until the next call of this method (`None`: no limit beyond
    /// [`Dialer::set_channels`]). The live engine grants the leads and trunk lines at hand before
    /// every tick and after every batch of actions, and 0 while the campaign is paused or the
    /// engine stopping. Why a count as well as the channels: calls that end inside a tick (ring
    /// time-outs, abandons) free channels in the middle of [`Dialer::handle_timeout`], and the
    /// same tick's decision would fill them with calls the engine never granted.
    pub fn set_launch_limit(&mut self, limit: Option<u32>) {
        if self.launch_limit != limit {
            self.launch_limit = limit;
            self.dirty = true;
        }
    }

    /// Fires every timer due at `now` (patience, no-answer, pacing tick, adaptive, rate).
    pub fn handle_timeout(&mut self, now: Millis) {
        while let Some(&(call, deadline)) = self.waiting.front() {
            if deadline > now {
                break;
            }
            self.waiting.pop_front();
            self.abandon(now, call);
        }
        while let Some(&(deadline, call)) = self.ring_deadlines.front() {
            if deadline > now {
                break;
            }
            self.ring_deadlines.pop_front();
            let in_flight = matches!(self.calls.get(&call.0), Some(c) if c.state.in_flight());
            if in_flight {
                // The call is in flight, so this transition is legal.
                let _ = self.handle_call_ended(now, call, CallEnd::NoAnswer);
                self.actions.push_back(Action::Cancel { call });
            }
        }
        self.with_strategy(|s, floor| s.on_timeout(now, floor));
        if self.timers.is_due(Timer::Reserve, now) {
            self.update_reserve(now);
            self.update_bias();
        }
    }

    // ----- outputs -----

    /// The next thing the driver must do, if any.
    #[must_use]
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// When to call [`Dialer::handle_timeout`] next, and why.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<(Millis, Reason)> {
        let mut best: Option<(Millis, Reason)> = None;
        let mut consider = |t: Millis, r: Reason| {
            if best.is_none_or(|b| t < b.0) {
                best = Some((t, r));
            }
        };
        if let Some(&(_, t)) = self.waiting.front() {
            consider(t, Reason::Patience);
        }
        if let Some(&(t, _)) = self.ring_deadlines.front() {
            consider(t, Reason::NoAnswer);
        }
        if let Some((t, timer)) = self.timers.next_wakeup() {
            consider(t, reason(timer));
        }
        best
    }

    // ----- internals -----

    /// Runs `f` on the strategy with the bookkeeping lent to it as a [`Floor`]. The strategy is
    /// parked meanwhile (a zero-sized box: no allocation); launching calls never reaches it.
    fn with_strategy(&mut self, f: impl FnOnce(&mut dyn Strategy, &mut Floor<'_>)) {
        let mut s = std::mem::replace(&mut self.strategy, Box::new(Parked));
        f(s.as_mut(), &mut Floor::new(self));
        self.strategy = s;
    }

    fn slot(&self, agent: AgentId) -> Result<&AgentSlot, DialerError> {
        self.agents
            .get(agent.0 as usize)
            .ok_or(DialerError::Agent(AgentError::Unknown(agent.0)))
    }

    fn exp_gap(&mut self, per_s: f64) -> f64 {
        let u: f64 = self.rng.gen();
        -(1.0 - u).ln() / per_s
    }

    fn is_out(&self, a: AgentId) -> bool {
        self.agents[a.0 as usize].agent.skills().outbound()
    }

    fn make_ready(&mut self, now: Millis, id: AgentId) -> Result<(), DialerError> {
        let i = id.0 as usize;
        let from = self.agents[i].agent.state();
        let prev_key = self.agents[i].agent.since().0 / 1000;
        self.agents[i].agent.transition(now, AgentState::Ready)?;
        let skills = self.agents[i].agent.skills();
        if skills.outbound() {
            match from {
                AgentState::WrapUp => self.forecast.remove(Group::Wrap, prev_key),
                AgentState::LoggedOut | AgentState::Paused => self.active_out += 1,
                _ => {}
            }
        }
        if skills.inbound() && from == AgentState::LoggedOut {
            self.logged_in_in += 1;
        }
        if skills == Skills::Blended && matches!(from, AgentState::LoggedOut | AgentState::Paused) {
            self.active_blended += 1;
        }
        self.agents[i].busy = Busy::None;
        self.agents[i].epoch = self.agents[i].epoch.wrapping_add(1);
        self.dirty = true;
        // Work waiting for this agent: an outbound call about to be abandoned goes first unless
        // an inbound caller has waited half the service time; otherwise inbound first.
        let inbound_urgent = self
            .inbound_queue
            .front()
            .is_some_and(|q| now.since(q.1) * 2 >= self.params.service_time_ms);
        if skills.outbound() && !self.waiting.is_empty() && !(skills.inbound() && inbound_urgent) {
            if let Some((call, _)) = self.waiting.pop_front() {
                self.connect(now, call, id);
                return Ok(());
            }
        }
        if skills.inbound() {
            if let Some((inb, at)) = self.inbound_queue.pop_front() {
                self.connect_inbound(now, inb, at, id);
                return Ok(());
            }
        }
        let epoch = self.agents[i].epoch;
        match skills {
            Skills::Outbound => self.ready_out_only.push_back((id, epoch)),
            Skills::Blended => self.ready_blended.push_back((id, epoch)),
            Skills::Inbound => self.ready_in_only.push_back((id, epoch)),
        }
        if skills.outbound() {
            self.idle_out += 1;
        } else {
            self.idle_in_only += 1;
        }
        Ok(())
    }

    fn leave_idle_or_wrap(
        &mut self,
        now: Millis,
        agent: AgentId,
        to: AgentState,
    ) -> Result<(), DialerError> {
        let i = self.slot(agent)?.agent.id().0 as usize;
        let from = self.agents[i].agent.state();
        let prev_key = self.agents[i].agent.since().0 / 1000;
        self.agents[i].agent.transition(now, to)?;
        let out = self.agents[i].agent.skills().outbound();
        match from {
            AgentState::Ready => self.dec_idle(agent),
            AgentState::WrapUp if out => self.forecast.remove(Group::Wrap, prev_key),
            _ => {}
        }
        if out && matches!(from, AgentState::Ready | AgentState::WrapUp) {
            self.active_out = self.active_out.saturating_sub(1);
        }
        let skills = self.agents[i].agent.skills();
        if skills == Skills::Blended && matches!(from, AgentState::Ready | AgentState::WrapUp) {
            self.active_blended = self.active_blended.saturating_sub(1);
        }
        if skills.inbound() && to == AgentState::LoggedOut && from != AgentState::LoggedOut {
            self.logged_in_in = self.logged_in_in.saturating_sub(1);
        }
        self.agents[i].epoch = self.agents[i].epoch.wrapping_add(1);
        self.dirty = true;
        Ok(())
    }

    fn dec_idle(&mut self, a: AgentId) {
        if self.is_out(a) {
            self.idle_out = self.idle_out.saturating_sub(1);
        } else {
            self.idle_in_only = self.idle_in_only.saturating_sub(1);
        }
    }

    fn pop_valid(q: &mut VecDeque<(AgentId, u32)>, agents: &[AgentSlot]) -> Option<AgentId> {
        while let Some((a, e)) = q.pop_front() {
            let s = &agents[a.0 as usize];
            if s.epoch == e && s.agent.state() == AgentState::Ready {
                return Some(a);
            }
        }
        None
    }

    fn pop_ready_out(&mut self) -> Option<AgentId> {
        let a = Self::pop_valid(&mut self.ready_out_only, &self.agents)
            .or_else(|| Self::pop_valid(&mut self.ready_blended, &self.agents))?;
        self.dec_idle(a);
        Some(a)
    }

    fn pop_ready_in(&mut self) -> Option<AgentId> {
        let a = Self::pop_valid(&mut self.ready_in_only, &self.agents)
            .or_else(|| Self::pop_valid(&mut self.ready_blended, &self.agents))?;
        self.dec_idle(a);
        Some(a)
    }

    fn connect(&mut self, now: Millis, call: CallId, agent: AgentId) {
        let i = agent.0 as usize;
        // The agent is ready or reserved (callers guarantee it), so talking is legal.
        let _ = self.agents[i].agent.transition(now, AgentState::Talking);
        self.agents[i].busy = Busy::Out(call);
        if self.agents[i].agent.skills().outbound() {
            self.forecast.add(Group::TalkOut, Forecast::talk_key(now));
        }
        let mut wait_ms = 0;
        if let Some(c) = self.calls.get_mut(&call.0) {
            c.state = CallState::Connected;
            c.agent = Some(agent);
            wait_ms = now.since(c.answered);
            c.answered = now;
        }
        self.connected_out += 1;
        self.counters.connected += 1;
        self.strategy.on_live_answer(now, false);
        self.dirty = true;
        self.actions.push_back(Action::Connect {
            call,
            agent,
            wait_ms,
        });
    }

    fn connect_inbound(&mut self, now: Millis, inb: InboundId, arrived: Millis, agent: AgentId) {
        let i = agent.0 as usize;
        // Ready → talking is legal; callers pass a ready agent.
        let _ = self.agents[i].agent.transition(now, AgentState::Talking);
        self.agents[i].busy = Busy::In(inb);
        if self.agents[i].agent.skills().outbound() {
            self.forecast.add(Group::TalkIn, Forecast::talk_key(now));
        }
        self.inbound_agent.insert(inb.0, agent);
        let wait_ms = now.since(arrived);
        self.counters.inbound_connected += 1;
        let ok = wait_ms <= self.params.service_time_ms;
        if ok {
            self.counters.inbound_in_sl += 1;
        }
        self.sl_window.0 += 1.0;
        self.sl_window.1 += if ok { 1.0 } else { 0.0 };
        self.actions.push_back(Action::ConnectInbound {
            inbound: inb,
            agent,
            wait_ms,
        });
    }

    fn enter_wrap(&mut self, now: Millis, agent: AgentId) {
        let i = agent.0 as usize;
        let busy = self.agents[i].busy;
        let key = Forecast::talk_key(self.agents[i].agent.since());
        // Talking → wrap-up is legal; only talking agents have a call to end.
        let _ = self.agents[i].agent.transition(now, AgentState::WrapUp);
        if self.agents[i].agent.skills().outbound() {
            match busy {
                Busy::In(_) => self.forecast.remove(Group::TalkIn, key),
                _ => self.forecast.remove(Group::TalkOut, key),
            }
            self.forecast.add(Group::Wrap, now.0 / 1000);
        }
        self.agents[i].busy = Busy::None;
        self.dirty = true;
    }

    fn release_reserved(&mut self, now: Millis, agent: AgentId) {
        // Reserved → ready is legal.
        let _ = self.make_ready(now, agent);
    }

    fn abandon(&mut self, now: Millis, call: CallId) {
        if let Some(c) = self.calls.get_mut(&call.0) {
            c.state = CallState::Ended(CallEnd::Abandoned);
        }
        self.calls.remove(&call.0);
        self.counters.abandoned += 1;
        self.strategy.on_live_answer(now, true);
        self.dirty = true;
        self.actions.push_back(Action::Abandon { call });
    }

    fn track_launch(&mut self, now: Millis, call: CallId) {
        self.in_flight += 1;
        self.forecast.ringing.add(now.0 / 100);
        self.ring_deadlines
            .push_back((now.plus(self.params.no_answer_timeout_ms), call));
    }

    fn untrack_launch(&mut self, launched: Millis, risk: f64) {
        self.in_flight = self.in_flight.saturating_sub(1);
        self.forecast.ringing.remove(launched.0 / 100);
        self.pending_risk = if self.in_flight == 0 {
            0.0
        } else {
            (self.pending_risk - risk).max(0.0)
        };
    }

    /// Creates and dials a call expected to be abandoned `risk` times (priced by predictive,
    /// else 0), or with `preview` queues it for its reserved agent to preview.
    fn launch(&mut self, now: Millis, agent: Option<AgentId>, risk: f64, preview: bool) {
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

    fn lines_free(&self) -> u32 {
        let free = self.params.channels.saturating_sub(self.lines_in_use());
        self.launch_limit.map_or(free, |l| free.min(l))
    }

    fn ratio_room(&self) -> u32 {
        let cap = (self.params.max_ratio * self.active_out as f64).floor() as i64;
        (cap - self.lines_in_use() as i64).max(0) as u32
    }

    fn refit(&mut self, now: Millis) {
        // Until the estimates are warm, the model too takes the live-answer rate at the upper
        // bound of what the settled calls allow (the prior may be far below the trunk's).
        let mut live = self.outcomes.p(Class::Live);
        if self.warmth() < 1.0 {
            let u = self
                .opening
                .upper_live(now, self.params.no_answer_timeout_ms, self.in_flight);
            live = live.max(u);
        }
        let rest = (1.0 - live).max(0.0);
        let (machine, quick) = (
            self.outcomes.p(Class::Machine),
            self.outcomes.p(Class::Quick),
        );
        let shrink = if machine + quick > rest {
            rest / (machine + quick)
        } else {
            1.0
        };
        let ring = RingModel {
            live,
            machine: machine * shrink,
            quick: quick * shrink,
            quick_mean_s: self.quick_fit.dist().mean(),
            ring: self.ring_fit.dist(),
            timeout_s: self.params.no_answer_timeout_ms as f64 / 1000.0,
        };
        // Cold start: only short calls have ended yet; the calls still running say how long the
        // others last at least (see `DurationFit::dist_censored`).
        let (talking, wrapping) = self.forecast.in_progress(now);
        let (talk, talk_in, wrap) = (
            self.talk_fit.dist_censored(&talking),
            self.talk_in_fit.dist(),
            self.wrap_fit.dist_censored(&wrapping),
        );
        self.forecast.rel_sd = self.outcomes.rel_sd(Class::Live);
        self.forecast.refit(&Fitted {
            talk_out: &talk,
            talk_in: (self.counters.inbound > 0).then_some(&talk_in),
            wrap: &wrap,
            ring: &ring,
            patience_s: self.params.patience_ms as f64 / 1000.0,
        });
        // Learn fast at first, then every 5 minutes (a refit costs about a millisecond).
        let gap = if now.since(self.start) < 600_000 {
            30_000
        } else {
            300_000
        };
        self.timers.set(Timer::Refit, now.plus(gap));
    }

    /// The safe cold-start cap on new calls while the estimates are cold (see
    /// [`crate::pacing::opening`]); `None` once this dialer's agents have completed
    /// [`COLD_TURNOVER`] talks each (at least 20) and [`MIN_SETTLED`] outcomes are settled.
    fn cold_cap(&mut self, now: Millis) -> Option<u32> {
        let timeout = self.params.no_answer_timeout_ms;
        // Only this dialer's own talks count: after a warm start every agent is ready at once,
        // and the model prices each call at the margin, not the wave's total overflow (a wave
        // of calls for idle agents all answer together); the cap, at the learned upper bound,
        // sizes that wave (measured on a restart of 40 agents: 4 abandons of 44 live answers
        // in the first wave without it).
        let talks = (COLD_TURNOVER * self.active_out as f64).max(20.0);
        let own = self.talk_fit.count().saturating_sub(self.seeded_talks);
        if own as f64 >= talks && self.opening.settled(now, timeout) >= MIN_SETTLED {
            return None;
        }
        let agents = Agents {
            ready: self.idle_out,
            ahead: self.waiting.len() as u32 + self.inbound_ahead() as u32,
        };
        let c = self.opening.cap(
            now,
            timeout,
            self.params.target_abandon,
            agents,
            self.in_flight,
        );
        Some(c)
    }

    /// How far the estimates are from their cold-start priors, in [0, 1]: completed outbound
    /// talks against twice the outbound team (at least 20). 1 once the team has turned over
    /// twice; predictive pacing is near-progressive before that ([`AbandonControl`]).
    fn warmth(&self) -> f64 {
        let need = (2.0 * self.active_out as f64).max(20.0);
        (self.talk_fit.count() as f64 / need).min(1.0)
    }

    /// Calibration: every minute, if the last minute's abandon rate exceeded the target while θ
    /// was already at its floor, the model is over-confident (a bias θ cannot price away, most
    /// visible in very large pools where Free and Ahead are sharp): count extra agents' worth of
    /// load as "ahead". The offset decays when the recent rate is well under the goal.
    fn update_bias(&mut self) {
        let c = self.counters;
        let (live, ab) = (c.live - self.bias_mark.0, c.abandoned - self.bias_mark.1);
        self.bias_mark = (c.live, c.abandoned);
        if live < 20 {
            return;
        }
        let rate = ab as f64 / live as f64;
        let target = self.params.target_abandon;
        let floor = self.last_theta <= 2.0 * crate::pacing::predictive::THETA_MIN;
        if rate > target && floor {
            self.bias += 1.0 + 0.01 * self.active_out as f64;
        } else if rate < 0.5 * target * self.params.abandon_margin {
            self.bias = (self.bias - 0.25 - 0.002 * self.active_out as f64).max(0.0);
        }
    }

    /// Blending reserve: every minute, compare the recent inbound service level with its
    /// objective and move the reserve (agents' worth of "ahead" load) up or down.
    fn update_reserve(&mut self, now: Millis) {
        let (n, ok) = self.sl_window;
        if n >= 20.0 {
            let sl = ok / n;
            if sl < self.params.service_level {
                self.reserve += 1.0 + 0.02 * self.active_out as f64;
            } else if sl > (self.params.service_level + 0.05).min(0.999) {
                self.reserve = (self.reserve - 0.5).max(0.0);
            }
        }
        // Exponential memory of about ten minutes.
        self.sl_window = (n * 0.9, ok * 0.9);
        self.timers.set(Timer::Reserve, now.plus(RESERVE_MS));
    }
}

/// The blending reserve and the calibration offset move once a minute.
const RESERVE_MS: u64 = 60_000;

/// What the driver is told a strategy's timer is for.
fn reason(timer: Timer) -> Reason {
    match timer {
        Timer::RateDial => Reason::RateDial,
        Timer::Sample | Timer::Adjust | Timer::Cycle => Reason::Adaptive,
        // Refit and Reserve never wake the dialer (`Timer::wakes`).
        Timer::Tick | Timer::Refit | Timer::Reserve => Reason::Tick,
    }
}
