//! [`Dialer`]: one campaign's pacing core, shaped like quinn-proto's `Connection`. It owns the
//! shared bookkeeping: the campaign's agents (state machines), its calls from launch to end, the
//! estimators and forecast, the abandon record, the launch limit and its `TimerTable`. How
//! many calls to launch is its `Strategy`'s decision (one per dial mode, see
//! `pacing::strategy`), made through a `Floor`. It never reads a clock, touches a
//! socket or a database: the simulator and the live engine drive it with the same calls.
//!
//! - `config`: priors, parameters, settings and counters.
//! - `io`: actions, wake-up reasons, ids and errors exchanged with the driver.
//! - `staff`: agents — ready queues, counts, state changes, bridging.
//! - `lines`: calls — launch, in-flight tracking, abandon, free lines.
//! - `model`: the forecast refit, cold-start cap, warmth, reserve and calibration loops.
//! - `floor`: the strategies' view of the bookkeeping.
//! - `analysing`: answered calls in call-progress analysis, their verdicts and the agents'
//!   `machine` marks.

use std::collections::VecDeque;

use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64Mcg;

use crate::agents::{Agent, AgentId, AgentState, Skills, StateTimes};
use crate::pacing::analysis::{Analysis, FpSource, Verdict};
use crate::pacing::call::{AnswerKind, CallEnd, CallError, CallId, CallState};
use crate::pacing::dist::Dist;
use crate::pacing::estimate::{Class, DurationFit, OutcomeEstimator, RateEstimator};
use crate::pacing::idmap::IdMap;
use crate::pacing::opening::{Opening, PastCall, PastOutcome, Resolution};
use crate::pacing::predictive::{AbandonControl, Forecast};
use crate::pacing::strategy::{self, Parked, Strategy};
use crate::pacing::timer::{Timer, TimerTable};
use crate::pacing::Millis;

mod analysing;
mod config;
mod floor;
mod io;
mod lines;
mod model;
mod staff;

use config::check_params;
pub use config::{
    Config, Counters, Params, Priors, DEFAULT_AMD_FALSE_NEGATIVE, DEFAULT_AMD_FALSE_POSITIVE,
};
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
    /// Answered and passed through call-progress analysis.
    analysed: bool,
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
/// Inputs that do not fit the current state return an error and change nothing. The dial
/// mode's decision is its strategy's, asked at the wake-ups the strategy schedules; everything
/// else (agents, calls, estimators, the abandon record, the launch limit) is kept here.
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
    /// Call-progress analysis: verdict mix, delay, the AMD false-positive estimate.
    analysis: Analysis,
    /// Answered calls in analysis (a line each; no agent yet).
    analysing: u32,
    /// Whole estimated false positives already reported to the strategy as dropped answers.
    fp_fed: u64,
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
            analysis: Analysis::new(
                pr.verdicts,
                pr.analysis.as_ref(),
                p.amd_false_positive,
                p.amd_false_negative,
            ),
            analysing: 0,
            fp_fed: 0,
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
    /// Lines in use: outbound calls dialling, ringing, in analysis, waiting or connected.
    pub fn lines_in_use(&self) -> u32 {
        self.in_flight + self.analysing + self.waiting.len() as u32 + self.connected_out
    }
    /// Answered calls whose call-progress analysis has not given its verdict yet.
    pub fn analysing(&self) -> u32 {
        self.analysing
    }
    /// Current estimate of P(`v`) for an analysed call.
    pub fn verdict_probability(&self, v: Verdict) -> f64 {
        self.analysis.p(v)
    }
    /// The fitted answer-to-verdict delay of call-progress analysis.
    pub fn analysis_delay(&self) -> Dist {
        self.analysis.delay()
    }
    /// Estimated people hung up on as machines so far (AMD false positives): machine verdicts
    /// × the false-positive rate in use. Counted as abandoned calls in the abandon budget.
    pub fn estimated_false_positives(&self) -> f64 {
        self.analysis.estimated_fp()
    }
    /// The AMD false-positive rate in use (share of machine verdicts that were people), and
    /// whether it is the configured or the measured one (see [`crate::pacing::analysis`]).
    pub fn false_positive_rate(&self) -> (f64, FpSource) {
        self.analysis.fp_rate()
    }
    /// The abandon figure the cap holds: (abandoned + estimated false positives) / (live
    /// answers + estimated false positives), since this dialer was created (0 with no answer).
    pub fn abandon_figure(&self) -> f64 {
        let fp = self.analysis.estimated_fp();
        let live = self.counters.live as f64 + fp;
        if live <= 0.0 {
            0.0
        } else {
            (self.counters.abandoned as f64 + fp) / live
        }
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

    /// Dials one call for `agent` alone, whatever the mode decides: the agent (ready, outbound)
    /// is reserved for it as progressive does, so a live answer goes to that agent and no one
    /// else, and an unanswered call gives it back. For work that belongs to one agent (a
    /// callback the agent scheduled); the driver must have a line for it. Returns the call (its
    /// [`Action::Dial`] is queued); an agent not ready is an error and nothing changes.
    pub fn dial_for(&mut self, now: Millis, agent: AgentId) -> Result<CallId, DialerError> {
        let slot = self.slot(agent)?;
        let state = slot.agent.state();
        if state != AgentState::Ready || !slot.agent.skills().outbound() {
            return Err(DialerError::Agent(crate::agents::AgentError::Transition {
                agent: agent.0,
                from: state,
                to: AgentState::Reserved,
            }));
        }
        // Its ready-queue entry goes stale with the state change (see `pop_valid`).
        self.dec_idle(agent);
        let call = CallId(self.next_call);
        self.launch(now, Some(agent), 0.0, false);
        Ok(call)
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

    /// Call `call` was answered (by a person or a machine), or, for a call in analysis
    /// ([`Dialer::handle_call_analysing`]), call-progress analysis gave its verdict: `Live` a
    /// person (the patience clock starts now), `Machine` a voicemail greeting (hung up; counted
    /// in the AMD false-positive estimate).
    pub fn handle_call_answered(
        &mut self,
        now: Millis,
        call: CallId,
        kind: AnswerKind,
    ) -> Result<(), DialerError> {
        let c = self.calls.get(&call.0).ok_or(CallError::Unknown(call.0))?;
        if c.state == CallState::Analysing {
            return self.analysis_verdict(now, call, kind);
        }
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
                self.live_answer(now, call, reserved);
            }
        }
        Ok(())
    }

    /// A person needs an agent now (a live answer, or a human verdict): the reserved agent,
    /// a ready one, or the wait within patience.
    fn live_answer(&mut self, now: Millis, call: CallId, reserved: Option<AgentId>) {
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

    /// Call `call` ended: before an answer (busy, no-answer, invalid, trunk failure), or a
    /// connected call hung up (`Completed`: its agent goes to wrap-up), or a waiting callee hung
    /// up (counted as abandoned), or a call in analysis ended on a verdict other than a person
    /// (announcement, SIT, fax, dead air; `Machine` counts as a machine verdict) or because the
    /// callee hung up during it.
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
            CallState::Analysing => return self.analysis_ended(now, call, end),
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

    /// Supervisor change of parameters (all or nothing). A new dial mode swaps the strategy,
    /// which starts afresh: adaptive at level 1 on timers from `now`, `rate:λ` one gap from
    /// `now`. Between tick-driven modes (predictive ↔ progressive when the abandon budget is
    /// spent) the next tick stays where it was; adaptive under another drop rule keeps its level.
    pub fn set_params(&mut self, now: Millis, params: Params) -> Result<(), DialerError> {
        check_params(&params)?;
        self.control.target = params.target_abandon;
        self.analysis
            .set_configured(params.amd_false_positive, params.amd_false_negative);
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
        // The strategy's timers are the waking ones: none due, nothing for it to do.
        if self.timers.next_wakeup().is_some_and(|(t, _)| t <= now) {
            self.with_strategy(|s, floor| s.on_timeout(now, floor));
        }
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

    fn exp_gap(&mut self, per_s: f64) -> f64 {
        let u: f64 = self.rng.gen();
        -(1.0 - u).ln() / per_s
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
