//! The discrete-event loop: a heap of timed events ([`crate::sim::queue`]) on a virtual clock, the synthetic trunk,
//! agents and inbound callers, driving one [`Dialer`] per strategy exactly as the live engine will
//! (handle_* → drain poll_action → wake at poll_timeout). Common random numbers: dial sequence
//! number k, agent i and inbound call j each draw from their own RNG stream keyed by the seed, so
//! every strategy meets the same customers, wrap-ups and inbound callers.
//!
//! With the trunk's `analysis:` section an answered call is first analysed
//! ([`crate::sim::analysis`]): the dialer hears of the answer (`handle_call_analysing`) and,
//! after the drawn delay, of the verdict; people hung up on as machines (or `other`) are counted
//! with the abandons, and machines passed to agents are marked `machine` at wrap-up.

use std::sync::atomic::{AtomicU64, Ordering as AtomicOrdering};
use std::time::Instant;

use rand::Rng;
use rand_pcg::Pcg64Mcg;
use serde::Serialize;

use crate::agents::{AgentId, Skills, StateTimes};
use crate::pacing::idmap::IdMap;
use crate::pacing::{
    Action, AnswerKind, CallEnd, CallId, Config, Dialer, InboundId, Millis, Mode, Params, PastCall,
    PastOutcome, Priors, Verdict,
};
use crate::sim::analysis::AGENT_ON_MACHINE_S;
use crate::sim::dist::{stream_rng, Outcome, TrunkModel};
use crate::sim::queue::{Entry, EventQueue};
use crate::sim::scenario::Scenario;

/// RNG stream of dialled calls (item: dial sequence number).
pub const STREAM_CALLS: u64 = 1;
/// RNG stream of agents' wrap-ups (item: agent index).
pub const STREAM_AGENTS: u64 = 2;
/// RNG stream of inbound inter-arrival times.
pub const STREAM_INBOUND: u64 = 3;
/// RNG stream of inbound talk times (item: inbound sequence number).
pub const STREAM_INBOUND_TALK: u64 = 4;
/// RNG stream of call-progress analysis (item: dial sequence number).
pub const STREAM_ANALYSIS: u64 = 5;
/// Seconds an agent looks at a lead in preview mode before the call is placed.
pub const PREVIEW_S: f64 = 5.0;

/// One point of the time series (for plots).
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Sample {
    /// Virtual time, seconds.
    pub t_s: f64,
    /// Occupancy over the interval since the previous sample.
    pub occupancy: f64,
    /// Abandon rate since the end of warm-up.
    pub abandon_rate: f64,
    /// Lines in use per active agent.
    pub dial_level: f64,
    /// The dialer's live answers (human verdicts with analysis) since the start.
    pub live: u64,
    /// The dialer's abandons since the start.
    pub abandoned: u64,
    /// The dialer's estimate of people hung up on as machines since the start.
    pub estimated_fp: f64,
    /// People the simulated analysis hung up on as machines since the start.
    pub amd_false_positives: u64,
}

/// Figures of one strategy on one scenario (the JSON keys of `outdial sim --json`).
#[derive(Clone, Debug, Serialize)]
pub struct StrategyResult {
    /// Strategy as given (`power:2`).
    pub strategy: String,
    /// Calls placed.
    pub dials: u64,
    /// Live answers.
    pub live_answers: u64,
    /// Machine answers.
    pub machines: u64,
    /// Abandoned live answers.
    pub abandoned: u64,
    /// People hung up on by call-progress analysis as machines: Ofcom counts them as
    /// abandoned calls (0 without `trunk.analysis`).
    pub amd_false_positives: u64,
    /// People hung up on by call-progress analysis with another verdict (announcement, SIT,
    /// fax, dead air): not in the dialer's estimate nor in `abandon_rate`, shown apart.
    pub people_classed_other: u64,
    /// The dialer's estimate of those (machine verdicts × its false-positive rate).
    pub estimated_false_positives: f64,
    /// (abandoned + amd_false_positives) / live answers (people who answered).
    pub abandon_rate: f64,
    /// Mean time from the answer to the agent, connected calls, seconds: the analysis delay
    /// plus the wait (equal to `mean_wait_s` without analysis).
    pub time_to_connect_s: f64,
    /// The same strategy on the same scenario without `trunk.analysis` (null when the
    /// scenario has none): the cost of analysis in time to connect.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub without_analysis: Option<WithoutAnalysis>,
    /// (talk + wrap-up) / staffed time.
    pub occupancy: f64,
    /// talk / staffed time.
    pub talk_share: f64,
    /// Mean wait from live answer to agent, connected calls, seconds.
    pub mean_wait_s: f64,
    /// 95th percentile of that wait, seconds.
    pub p95_wait_s: f64,
    /// Inbound calls arrived.
    pub inbound_calls: u64,
    /// Share of inbound calls answered within the service time (null without inbound).
    pub inbound_service_level: Option<f64>,
    /// Events processed (heap events and dialer wake-ups).
    pub events: u64,
    /// Wall-clock seconds of this strategy's run.
    pub wall_s: f64,
    /// Time series (not in the JSON).
    #[serde(skip)]
    pub series: Vec<Sample>,
    /// Outcome of each of the first dial sequence numbers, if traced (not in the JSON).
    #[serde(skip)]
    pub outcomes: Vec<Option<Outcome>>,
    /// Every call that ended, as the store would give it to a warm start (ages counted back
    /// from the end of the run), if [`RunOptions::record_calls`] (not in the JSON).
    #[serde(skip)]
    pub calls: Vec<PastCall>,
    /// Per campaign, multi-campaign scenarios only (absent from the JSON of single-campaign
    /// ones, whose keys are unchanged).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub campaigns: Vec<crate::sim::multi::CampaignResult>,
}

/// The figures of the run without call-progress analysis, beside those with it.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct WithoutAnalysis {
    /// Mean answer-to-agent time, seconds.
    pub time_to_connect_s: f64,
    /// abandoned / live answers.
    pub abandon_rate: f64,
    /// (talk + wrap-up) / staffed time.
    pub occupancy: f64,
}

/// Knobs of a run that are not part of the scenario.
#[derive(Debug, Default)]
pub struct RunOptions {
    /// Record the outcome of dial sequence numbers below this.
    pub trace_outcomes: usize,
    /// Number of time-series samples (0: none).
    pub samples: usize,
    /// Virtual milliseconds simulated so far, summed over strategies (progress bars).
    pub progress: Option<std::sync::Arc<AtomicU64>>,
    /// Past calls to warm-start the dialer with ([`Dialer::warm_start`]): a restart.
    pub warm_start: Vec<PastCall>,
    /// Record every ended call in [`StrategyResult::calls`].
    pub record_calls: bool,
    /// Keep call-progress analysis from the dialer: it hears of an analysed answer only at
    /// the verdict, as a ring that lasted the analysis too (a dialer without
    /// `handle_call_analysing`, for comparison).
    pub hide_analysis: bool,
}

/// A call being recorded: dial, answer and connect times (ms), and how it ended so far.
#[derive(Clone, Copy, Debug, Default)]
struct Open {
    dial: u64,
    answer: Option<u64>,
    connect: Option<u64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Outcome(u64, Outcome),
    /// Call-progress analysis of call (id) answered by a person (true) or a machine gave its
    /// verdict.
    Verdict(u64, bool, Verdict),
    Hangup(u64, u32),
    WrapEnd(u32),
    PreviewDone(u64),
    InboundArrival,
    InboundHangup(u64, u32),
    Warmup,
    Sample,
}

struct Sim<'a> {
    sc: &'a Scenario,
    seed: u64,
    trunk: TrunkModel,
    dialer: Dialer,
    heap: EventQueue<Kind>,
    agent_rng: Vec<Pcg64Mcg>,
    /// Talk time (ms, as the hang-up is scheduled) of live-answered calls not yet connected or
    /// abandoned, from the draw made at dial time: re-seeding the call's stream and drawing
    /// again at connect cost a tenth of an event.
    talk_ms: IdMap<u64>,
    inbound_rng: Pcg64Mcg,
    measuring: bool,
    base_times: StateTimes,
    last_times: StateTimes,
    r: StrategyResult,
    waits: Vec<u32>,
    wait_sum_ms: u64,
    inbound_ok: u64,
    inbound_connected: u64,
    sl_ms: u64,
    sample_gap: u64,
    /// Calls being recorded (when [`RunOptions::record_calls`]).
    open: Option<IdMap<Open>>,
    /// Index in `r.calls` of each agent's last outbound call, for its wrap-up time.
    last_call: IdMap<usize>,
    /// Answer time (ms) of calls answered and not yet connected or ended.
    answered_at: IdMap<u64>,
    /// Calls answered by machines that analysis passed as people (the agent hangs up on the
    /// greeting and marks it `machine`).
    machine_as_human: IdMap<()>,
    /// Agents whose current call is a machine passed as a person: they mark it at wrap-up.
    marks_pending: IdMap<()>,
    ttc_sum_ms: u64,
    ttc_n: u64,
    amd_fp_all: u64,
    /// See [`RunOptions::hide_analysis`].
    hide_analysis: bool,
    /// Calls the dialer gave up on (no-answer time-out) while the trunk still analysed them
    /// (hidden analysis only): their verdict is dropped.
    cancelled: IdMap<()>,
}

/// Builds the dialer a scenario implies for `mode` (generic priors: the dialer learns the trunk).
pub fn dialer_config(sc: &Scenario, mode: Mode, seed: u64) -> Config {
    Config {
        params: Params {
            mode,
            target_abandon: sc.target_abandon,
            patience_ms: sc.patience.0.as_millis() as u64,
            no_answer_timeout_ms: sc.trunk.no_answer_timeout.0.as_millis() as u64,
            channels: sc.trunk.channels,
            service_level: sc.inbound.service_level,
            service_time_ms: sc.inbound.service_time.0.as_millis() as u64,
            amd_false_positive: sc
                .amd_false_positive
                .unwrap_or(crate::pacing::DEFAULT_AMD_FALSE_POSITIVE),
            ..Params::default()
        },
        priors: Priors {
            inbound_rate: 0.0,
            // CPA runs from the first call: plan with the generic delay prior until learned.
            analysis: sc
                .trunk
                .analysis
                .as_ref()
                .map(|_| crate::pacing::analysis::default_delay()),
            ..Priors::default()
        },
        seed,
        shift_ms: sc.duration.0.as_millis() as u64,
        ..Config::default()
    }
}

/// Runs one strategy on a scenario with `seed`.
pub fn run_strategy(
    sc: &Scenario,
    name: &str,
    mode: Mode,
    seed: u64,
    opts: &RunOptions,
) -> Result<StrategyResult, crate::pacing::DialerError> {
    let wall = Instant::now();
    let mut dialer = Dialer::new(dialer_config(sc, mode, seed), Millis(0))?;
    if !opts.warm_start.is_empty() {
        dialer.warm_start(&opts.warm_start);
    }
    let mut sim = Sim {
        sc,
        seed,
        trunk: sc.trunk_model(),
        dialer,
        heap: EventQueue::default(),
        agent_rng: Vec::new(),
        talk_ms: IdMap::default(),
        inbound_rng: stream_rng(seed, STREAM_INBOUND, 0),
        measuring: sc.warmup.0.is_zero(),
        base_times: StateTimes::default(),
        last_times: StateTimes::default(),
        r: StrategyResult {
            strategy: name.to_string(),
            dials: 0,
            live_answers: 0,
            machines: 0,
            abandoned: 0,
            amd_false_positives: 0,
            people_classed_other: 0,
            estimated_false_positives: 0.0,
            abandon_rate: 0.0,
            time_to_connect_s: 0.0,
            without_analysis: None,
            occupancy: 0.0,
            talk_share: 0.0,
            mean_wait_s: 0.0,
            p95_wait_s: 0.0,
            inbound_calls: 0,
            inbound_service_level: None,
            events: 0,
            wall_s: 0.0,
            series: Vec::new(),
            outcomes: vec![None; opts.trace_outcomes],
            calls: Vec::new(),
            campaigns: Vec::new(),
        },
        waits: vec![0; sc.patience.0.as_millis() as usize + 2],
        wait_sum_ms: 0,
        inbound_ok: 0,
        inbound_connected: 0,
        sl_ms: sc.inbound.service_time.0.as_millis() as u64,
        sample_gap: 0,
        open: opts.record_calls.then(IdMap::default),
        last_call: IdMap::default(),
        answered_at: IdMap::default(),
        machine_as_human: IdMap::default(),
        marks_pending: IdMap::default(),
        ttc_sum_ms: 0,
        ttc_n: 0,
        amd_fp_all: 0,
        hide_analysis: opts.hide_analysis,
        cancelled: IdMap::default(),
    };
    let end = sc.duration.0.as_millis() as u64;
    let (blended, inb, outb) = sc.agent_mix();
    let skills = std::iter::repeat_n(Skills::Blended, blended as usize)
        .chain(std::iter::repeat_n(Skills::Inbound, inb as usize))
        .chain(std::iter::repeat_n(Skills::Outbound, outb as usize));
    for (i, s) in skills.enumerate() {
        sim.agent_rng
            .push(stream_rng(seed, STREAM_AGENTS, i as u64));
        let _ = sim.dialer.handle_agent_login(Millis(0), s);
    }
    if !sc.warmup.0.is_zero() {
        sim.push(sc.warmup.0.as_millis() as u64, Kind::Warmup);
    }
    if opts.samples > 0 {
        sim.sample_gap = (end / opts.samples as u64).max(1);
        sim.push(sim.sample_gap, Kind::Sample);
    }
    sim.next_inbound(0);
    sim.drain(Millis(0));
    let mut last_report = 0u64;
    loop {
        let ev_t = sim.heap.peek_time();
        let timer = sim.dialer.poll_timeout().map(|(t, _)| t.0);
        let now = match (ev_t, timer) {
            (Some(e), Some(t)) if t < e => {
                if t > end {
                    break;
                }
                sim.dialer.handle_timeout(Millis(t));
                t
            }
            (Some(e), _) => {
                if e > end {
                    break;
                }
                // The heap is not empty here.
                let ev = sim.heap.pop().expect("peeked event");
                sim.event(ev);
                e
            }
            (None, Some(t)) => {
                if t > end {
                    break;
                }
                sim.dialer.handle_timeout(Millis(t));
                t
            }
            (None, None) => break,
        };
        sim.r.events += 1;
        sim.drain(Millis(now));
        if let Some(p) = &opts.progress {
            if sim.r.events & 0xFFFF == 0 {
                p.fetch_add(now - last_report, AtomicOrdering::Relaxed);
                last_report = now;
            }
        }
    }
    if let Some(p) = &opts.progress {
        p.fetch_add(end.saturating_sub(last_report), AtomicOrdering::Relaxed);
    }
    let mut r = sim.finish(Millis(end));
    r.wall_s = wall.elapsed().as_secs_f64();
    Ok(r)
}

impl Sim<'_> {
    fn push(&mut self, t: u64, kind: Kind) {
        self.heap.push(t, kind);
    }

    fn next_inbound(&mut self, now: u64) {
        let rate = self.sc.inbound.rate_per_hour / 3600.0;
        if rate > 0.0 {
            let u: f64 = self.inbound_rng.gen();
            let gap = -(1.0 - u).ln() / rate;
            self.push(now + (gap * 1000.0).round() as u64, Kind::InboundArrival);
        }
    }

    fn trace(&mut self, call: u64, o: Outcome) {
        if let Some(slot) = self.r.outcomes.get_mut(call as usize) {
            *slot = Some(o);
        }
    }

    fn event(&mut self, ev: Entry<Kind>) {
        let now = Millis(ev.t);
        // Errors cannot happen here: the simulator only reports events that fit the dialer's
        // state. They are ignored rather than unwrapped so a bug shows up as wrong figures in
        // tests, not a crash of a long run.
        match ev.item {
            Kind::Outcome(call, o) => {
                self.trace(call, o);
                self.record_outcome(ev.t, call, o);
                let id = CallId(call);
                let answered = matches!(o, Outcome::Live | Outcome::Machine);
                if answered {
                    self.answered_at.insert(call, ev.t);
                }
                if let (true, Some(spec)) = (answered, &self.sc.trunk.analysis) {
                    let person = o == Outcome::Live;
                    if self.measuring {
                        if person {
                            self.r.live_answers += 1;
                        } else {
                            self.r.machines += 1;
                        }
                    }
                    let (verdict, delay_s) =
                        spec.draw(&mut stream_rng(self.seed, STREAM_ANALYSIS, call), person);
                    if !self.hide_analysis {
                        let res = self.dialer.handle_call_analysing(now, id);
                        debug_assert!(res.is_ok(), "{res:?}");
                    }
                    let at = ev.t + (delay_s * 1000.0).round() as u64;
                    self.push(at, Kind::Verdict(call, person, verdict));
                    return;
                }
                let res = match o {
                    Outcome::Live => {
                        if self.measuring {
                            self.r.live_answers += 1;
                        }
                        self.dialer.handle_call_answered(now, id, AnswerKind::Live)
                    }
                    Outcome::Machine => {
                        if self.measuring {
                            self.r.machines += 1;
                        }
                        self.dialer
                            .handle_call_answered(now, id, AnswerKind::Machine)
                    }
                    Outcome::Busy => self.dialer.handle_call_ended(now, id, CallEnd::Busy),
                    Outcome::Invalid => self.dialer.handle_call_ended(now, id, CallEnd::Invalid),
                    Outcome::Failure => {
                        self.dialer
                            .handle_call_ended(now, id, CallEnd::TrunkFailure)
                    }
                    Outcome::NoAnswer => Ok(()),
                };
                debug_assert!(res.is_ok(), "{res:?}");
            }
            Kind::Verdict(call, person, verdict) => self.verdict(now, call, person, verdict),
            Kind::Hangup(call, agent) => {
                self.record_end(
                    ev.t,
                    call,
                    PastOutcome::Live { abandoned: false },
                    Some(agent),
                );
                let res = self
                    .dialer
                    .handle_call_ended(now, CallId(call), CallEnd::Completed);
                debug_assert!(res.is_ok(), "{res:?}");
                self.wrap(ev.t, AgentId(agent));
            }
            Kind::WrapEnd(agent) => {
                if self.marks_pending.remove(&(agent as u64)).is_some() {
                    self.dialer.handle_machine_mark(now);
                }
                if let Some(i) = self.last_call.remove(&(agent as u64)) {
                    if let Some(c) = self.r.calls.get_mut(i) {
                        c.wrap_s = Some(ev.t as f64 / 1000.0 - c.wrap_s.unwrap_or(0.0));
                    }
                }
                let res = self.dialer.handle_agent_ready(now, AgentId(agent));
                debug_assert!(res.is_ok(), "{res:?}");
            }
            Kind::PreviewDone(call) => {
                let res = self.dialer.handle_preview_done(now, CallId(call));
                debug_assert!(res.is_ok(), "{res:?}");
            }
            Kind::InboundArrival => {
                if self.measuring {
                    self.r.inbound_calls += 1;
                }
                let _ = self.dialer.handle_inbound_arrival(now);
                self.next_inbound(ev.t);
            }
            Kind::InboundHangup(inb, agent) => {
                let res = self.dialer.handle_inbound_ended(now, InboundId(inb));
                debug_assert!(res.is_ok(), "{res:?}");
                self.wrap(ev.t, AgentId(agent));
            }
            Kind::Warmup => {
                self.measuring = true;
                self.base_times = self.dialer.agent_times(now);
                self.last_times = self.base_times;
            }
            Kind::Sample => {
                let times = self.dialer.agent_times(now);
                let occ = times.minus(&self.last_times).occupancy();
                self.last_times = times;
                let active = self.dialer.active_agents().max(1) as f64;
                self.r.series.push(Sample {
                    t_s: now.secs(),
                    occupancy: occ,
                    abandon_rate: ratio(self.r.abandoned, self.r.live_answers),
                    dial_level: self.dialer.lines_in_use() as f64 / active,
                    live: self.dialer.counters().live,
                    abandoned: self.dialer.counters().abandoned,
                    estimated_fp: self.dialer.estimated_false_positives(),
                    amd_false_positives: self.amd_fp_all,
                });
                self.push(ev.t + self.sample_gap, Kind::Sample);
            }
        }
    }

    fn wrap(&mut self, now: u64, agent: AgentId) {
        let w = self
            .sc
            .wrap_time
            .sample(&mut self.agent_rng[agent.0 as usize]);
        self.push(now + (w * 1000.0).round() as u64, Kind::WrapEnd(agent.0));
    }

    fn drain(&mut self, now: Millis) {
        while let Some(a) = self.dialer.poll_action() {
            match a {
                Action::Dial { call, .. } => {
                    if self.measuring {
                        self.r.dials += 1;
                    }
                    if let Some(open) = &mut self.open {
                        open.insert(
                            call.0,
                            Open {
                                dial: now.0,
                                ..Open::default()
                            },
                        );
                    }
                    let d = self
                        .trunk
                        .draw(&mut stream_rng(self.seed, STREAM_CALLS, call.0));
                    if d.outcome == Outcome::Live {
                        self.talk_ms
                            .insert(call.0, (d.talk_s * 1000.0).round().max(1.0) as u64);
                    }
                    if d.outcome != Outcome::NoAnswer {
                        self.push(
                            now.0 + (d.after_s * 1000.0).round() as u64,
                            Kind::Outcome(call.0, d.outcome),
                        );
                    }
                }
                Action::Preview { call, .. } => {
                    self.push(
                        now.0 + (PREVIEW_S * 1000.0) as u64,
                        Kind::PreviewDone(call.0),
                    );
                }
                Action::Connect {
                    call,
                    agent,
                    wait_ms,
                } => {
                    // Only live answers are connected, and their talk time was kept at dial time;
                    // the fallback re-draws the call's stream (same value) should that change.
                    if let Some(at) = self.answered_at.remove(&call.0) {
                        if self.measuring {
                            self.ttc_sum_ms += now.0.saturating_sub(at);
                            self.ttc_n += 1;
                        }
                    }
                    let machine = self.machine_as_human.remove(&call.0).is_some();
                    if machine {
                        self.marks_pending.insert(agent.0 as u64, ());
                    }
                    let talk = match self.talk_ms.remove(&call.0) {
                        _ if machine => (AGENT_ON_MACHINE_S * 1000.0) as u64,
                        Some(ms) => ms,
                        None => {
                            let d =
                                self.trunk
                                    .draw(&mut stream_rng(self.seed, STREAM_CALLS, call.0));
                            (d.talk_s * 1000.0).round().max(1.0) as u64
                        }
                    };
                    self.push(now.0 + talk, Kind::Hangup(call.0, agent.0));
                    if let Some(c) = self.open.as_mut().and_then(|o| o.get_mut(&call.0)) {
                        c.connect = Some(now.0);
                    }
                    if self.measuring {
                        let i = (wait_ms as usize).min(self.waits.len() - 1);
                        self.waits[i] += 1;
                        self.wait_sum_ms += wait_ms;
                    }
                }
                Action::ConnectInbound {
                    inbound,
                    agent,
                    wait_ms,
                } => {
                    let talk = self.sc.inbound.talk_time.sample(&mut stream_rng(
                        self.seed,
                        STREAM_INBOUND_TALK,
                        inbound.0,
                    ));
                    self.push(
                        now.0 + (talk * 1000.0).round().max(1.0) as u64,
                        Kind::InboundHangup(inbound.0, agent.0),
                    );
                    if self.measuring {
                        self.inbound_connected += 1;
                        if wait_ms <= self.sl_ms {
                            self.inbound_ok += 1;
                        }
                    }
                }
                Action::Abandon { call } => {
                    self.talk_ms.remove(&call.0);
                    self.answered_at.remove(&call.0);
                    self.machine_as_human.remove(&call.0);
                    self.record_end(now.0, call.0, PastOutcome::Live { abandoned: true }, None);
                    if self.measuring {
                        self.r.abandoned += 1;
                    }
                }
                Action::Cancel { call } => {
                    if self.answered_at.contains_key(&call.0) {
                        self.cancelled.insert(call.0, ());
                    }
                    self.trace(call.0, Outcome::NoAnswer);
                    self.record_end(now.0, call.0, PastOutcome::NoAnswer, None);
                }
            }
        }
    }

    /// Call-progress analysis of `call` (answered by a person if `person`) gave `verdict`.
    fn verdict(&mut self, now: Millis, call: u64, person: bool, verdict: Verdict) {
        let id = CallId(call);
        if self.cancelled.remove(&call).is_some() {
            // Hidden analysis outlasted the ring time-out: the dialer already hung up.
            self.answered_at.remove(&call);
            self.talk_ms.remove(&call);
            return;
        }
        if verdict != Verdict::Human {
            self.answered_at.remove(&call);
            self.talk_ms.remove(&call);
            if person && verdict == Verdict::Machine {
                // A person hung up on as a machine: an abandoned call by Ofcom's count.
                self.amd_fp_all += 1;
                if self.measuring {
                    self.r.amd_false_positives += 1;
                }
            } else if person && self.measuring {
                self.r.people_classed_other += 1;
            }
        }
        let res = match verdict {
            Verdict::Human => {
                if !person {
                    self.machine_as_human.insert(call, ());
                }
                self.dialer.handle_call_answered(now, id, AnswerKind::Live)
            }
            Verdict::Machine => self
                .dialer
                .handle_call_answered(now, id, AnswerKind::Machine),
            // An announcement, SIT, fax or dead air: the call ends without an agent.
            Verdict::Other => self.dialer.handle_call_ended(now, id, CallEnd::Invalid),
        };
        debug_assert!(res.is_ok(), "{res:?}");
    }

    /// Records what a trunk outcome says about call `call` (answered, or ended before that).
    fn record_outcome(&mut self, t: u64, call: u64, o: Outcome) {
        let ended = match o {
            Outcome::Live => None,
            Outcome::Machine => Some(PastOutcome::Machine),
            Outcome::Busy | Outcome::Invalid | Outcome::Failure => Some(PastOutcome::Quick),
            Outcome::NoAnswer => return,
        };
        if let Some(c) = self.open.as_mut().and_then(|open| open.get_mut(&call)) {
            c.answer = Some(t);
        }
        if let Some(e) = ended {
            self.record_end(t, call, e, None);
        }
    }

    /// Call `call` ended at `t` with `outcome`; `agent` talked to it (its wrap-up follows). The
    /// call's `age_ms` holds its dial time until [`Sim::finish`]; a talked call's `wrap_s` holds
    /// the hang-up time (s) until the wrap-up ends.
    fn record_end(&mut self, t: u64, call: u64, outcome: PastOutcome, agent: Option<u32>) {
        let Some(c) = self.open.as_mut().and_then(|open| open.remove(&call)) else {
            return;
        };
        let secs = |a: u64, b: u64| b.saturating_sub(a) as f64 / 1000.0;
        self.r.calls.push(PastCall {
            age_ms: c.dial,
            outcome,
            ring_s: match outcome {
                PastOutcome::NoAnswer => None,
                _ => c.answer.map(|a| secs(c.dial, a)),
            },
            talk_s: c.connect.filter(|_| agent.is_some()).map(|k| secs(k, t)),
            wrap_s: agent.map(|_| t as f64 / 1000.0),
        });
        if let Some(a) = agent {
            self.last_call.insert(a as u64, self.r.calls.len() - 1);
        }
    }

    fn finish(mut self, end: Millis) -> StrategyResult {
        for i in self.last_call.values() {
            // Wrap-up still running at the end: not a duration.
            if let Some(c) = self.r.calls.get_mut(*i) {
                c.wrap_s = None;
            }
        }
        for c in &mut self.r.calls {
            c.age_ms = end.0.saturating_sub(c.age_ms);
        }
        let times = self.dialer.agent_times(end).minus(&self.base_times);
        let r = &mut self.r;
        r.occupancy = times.occupancy();
        r.talk_share = times.talk_share();
        r.abandon_rate = ratio(r.abandoned + r.amd_false_positives, r.live_answers);
        r.estimated_false_positives = self.dialer.estimated_false_positives();
        r.time_to_connect_s = if self.ttc_n > 0 {
            self.ttc_sum_ms as f64 / self.ttc_n as f64 / 1000.0
        } else {
            0.0
        };
        let connected: u64 = self.waits.iter().map(|&c| c as u64).sum();
        if connected > 0 {
            r.mean_wait_s = self.wait_sum_ms as f64 / connected as f64 / 1000.0;
            let mut acc = 0u64;
            let want = (connected as f64 * 0.95).ceil() as u64;
            for (ms, &c) in self.waits.iter().enumerate() {
                acc += c as u64;
                if acc >= want {
                    r.p95_wait_s = ms as f64 / 1000.0;
                    break;
                }
            }
        }
        if r.inbound_calls > 0 {
            r.inbound_service_level = Some(ratio(self.inbound_ok, self.inbound_connected));
        }
        self.r
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}
