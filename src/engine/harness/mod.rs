//! A virtual-time world around [`Core`]: an in-memory store ([`MemStore`]) and a scripted SIP
//! side ([`ScriptedSip`]) answer its effects, and the clock jumps to the next thing due (a
//! scripted event, a store answer, or [`Core::poll_timeout`]). Deterministic: no socket, no
//! task, no sleep. The engine's virtual-time tests (tests/it/engine_core.rs) and the simulator's
//! multi-campaign scenarios drive the engine's decisions through it.
//!
//! Carries out effects the way the live shell does: the replies Core waits for in place
//! (`Placed`, `FreeLines`, `LegEnding`) are fed back before the next effect; everything else
//! is delivered at its scheduled time, store answers after [`World::store_latency`].

mod media;
mod sip;
mod store;

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::time::{Duration, Instant};

use super::config::EngineConfig;
use super::core::{AdminReply, AdminRequest, Core, Effect, ReplyId, SipInput, StoreResult};
use crate::campaign::Campaign;
use crate::yaml::YamlError;

pub use media::{CpaScript, ScriptedMedia};
pub use sip::{
    AgentCalled, Answer, Challenged, GroupLimits, Joined, Placed, Script, ScriptedSip, TalkScript,
};
pub use store::{MemLead, MemStore};

/// Why a world could not be built.
#[derive(Debug, thiserror::Error)]
pub enum WorldError {
    /// The engine config or a campaign does not parse.
    #[error(transparent)]
    Yaml(#[from] YamlError),
    /// The config's agents or campaigns do not fit.
    #[error("config: {0}")]
    Config(String),
    /// A campaign's pacing settings were refused by its dialer.
    #[error(transparent)]
    Campaign(#[from] crate::engine::core::CampaignSetupError),
}

enum Input {
    Sip(SipInput),
    Store(StoreResult),
    Media(crate::media::io::MediaEvent),
}

/// Core, its fake store and SIP side, and a virtual clock.
pub struct World {
    /// The engine's decisions.
    pub core: Core,
    /// The in-memory store.
    pub store: MemStore,
    /// The scripted SIP side.
    pub sip: ScriptedSip,
    /// The scripted media side.
    pub media: ScriptedMedia,
    /// Virtual now.
    pub now: Instant,
    /// When the world started.
    pub start: Instant,
    /// The wall clock at `start`, epoch ms.
    pub start_wall_ms: i64,
    /// How long the store takes to answer.
    pub store_latency: Duration,
    /// Inputs delivered and timeouts handled so far.
    pub events: u64,
    queue: BinaryHeap<Reverse<(Instant, u64)>>,
    inputs: HashMap<u64, Input>,
    seq: u64,
    replies: HashMap<ReplyId, AdminReply>,
    next_reply: u64,
    /// Timeouts that were still due after they ran (see [`World::stalls`]).
    stalls: u64,
}

impl World {
    /// A world from an engine config (YAML) and campaign files (YAML, in the config's
    /// campaign order), with trunk `groups`. Nothing runs until [`World::run_for`].
    pub fn new(
        config_yaml: &str,
        campaigns: &[&str],
        groups: BTreeMap<String, GroupLimits>,
    ) -> Result<World, WorldError> {
        let cfg = EngineConfig::parse("engine.yaml", config_yaml)?;
        let mut defs = Vec::new();
        for (i, text) in campaigns.iter().enumerate() {
            let def = Campaign::parse(&format!("campaign-{i}.yaml"), text)?;
            defs.push(def);
        }
        World::from_parts(cfg, defs, groups)
    }

    /// A world from a parsed engine config and campaigns (in the config's campaign order), with
    /// trunk `groups`: for callers that build them in memory (the simulator).
    pub fn from_parts(
        cfg: EngineConfig,
        campaigns: Vec<Campaign>,
        groups: BTreeMap<String, GroupLimits>,
    ) -> Result<World, WorldError> {
        let defs = campaigns
            .into_iter()
            .map(|def| (def.name.clone(), def))
            .collect();
        let agents = cfg
            .agent_specs()
            .map_err(|(f, m)| WorldError::Config(format!("{f}: {m}")))?;
        let start = Instant::now();
        // A fixed day, so the runs are the same whenever they run.
        let start_wall_ms = 1_780_000_000_000;
        let core = Core::new(cfg, defs, agents, start, start_wall_ms)?;
        Ok(World {
            core,
            store: MemStore::default(),
            sip: ScriptedSip::new(groups),
            media: ScriptedMedia::default(),
            now: start,
            start,
            start_wall_ms,
            store_latency: Duration::from_millis(5),
            events: 0,
            queue: BinaryHeap::new(),
            inputs: HashMap::new(),
            seq: 0,
            replies: HashMap::new(),
            next_reply: 0,
            stalls: 0,
        })
    }

    /// Starts Core (no legs left by an earlier run unless given).
    pub fn start(&mut self, legs: Vec<crate::store::OpenLeg>) {
        self.core.start(self.now, legs);
        self.drain();
    }

    /// How often a timeout left Core's timer still due (the clock then moved on by 1 ms): a
    /// healthy core has none.
    pub fn stalls(&self) -> u64 {
        self.stalls
    }

    /// Wall time now, epoch ms.
    pub fn wall_ms(&self) -> i64 {
        self.core.clock().wall_ms(self.now)
    }

    /// Time since the start.
    pub fn elapsed(&self) -> Duration {
        self.now.saturating_duration_since(self.start)
    }

    /// Runs until `d` has passed.
    pub fn run_for(&mut self, d: Duration) {
        let until = self.now + d;
        self.run_until(until);
    }

    /// Runs until `until`: inputs due are delivered in time order (a scripted event before a
    /// timer due at the same instant), effects drained after each.
    pub fn run_until(&mut self, until: Instant) {
        loop {
            self.drain();
            if self.core.is_done() {
                return;
            }
            let timer = self.core.poll_timeout();
            let input = self.queue.peek().map(|Reverse((at, _))| *at);
            let next = match (timer, input) {
                (Some(t), Some(i)) => t.min(i),
                (Some(t), None) => t,
                (None, Some(i)) => i,
                (None, None) => until,
            };
            if next > until {
                self.now = until;
                return;
            }
            self.now = self.now.max(next);
            self.events += 1;
            if input.is_some_and(|i| i <= self.now) {
                if let Some(Reverse((_, seq))) = self.queue.pop() {
                    if let Some(input) = self.inputs.remove(&seq) {
                        self.deliver(input);
                    }
                }
            } else {
                self.core.handle_timeout(self.now);
                if self.core.poll_timeout().is_some_and(|t| t <= self.now)
                    && self
                        .queue
                        .peek()
                        .is_none_or(|Reverse((at, _))| *at > self.now)
                {
                    // A timer still due after its timeout ran (it cannot run before time moves):
                    // let a millisecond pass rather than spin.
                    self.stalls += 1;
                    self.now += Duration::from_millis(1);
                }
            }
        }
    }

    /// A supervisor request, answered at once.
    pub fn admin(&mut self, req: AdminRequest) -> Option<AdminReply> {
        let id = ReplyId(self.next_reply);
        self.next_reply += 1;
        self.core.handle_admin(self.now, id, req);
        self.drain();
        self.replies.remove(&id)
    }

    /// Feeds a store result now (a test's own, e.g. legs recovered).
    pub fn store_result(&mut self, r: StoreResult) {
        self.core.handle_store(self.now, r);
        self.drain();
    }

    /// Delivers a SIP input after `after` (a test's own: an agent's BYE, early media).
    pub fn inject_sip(&mut self, after: Duration, input: SipInput) {
        self.schedule(after, Input::Sip(input));
    }

    /// Delivers a media event after `after` (a test's own: DTMF, an RTP timeout).
    pub fn inject_media(&mut self, after: Duration, ev: crate::media::io::MediaEvent) {
        self.schedule(after, Input::Media(ev));
    }

    fn deliver(&mut self, input: Input) {
        match input {
            Input::Sip(s) => {
                self.sip.observe(&s);
                self.core.handle_sip(self.now, s);
            }
            Input::Store(r) => self.core.handle_store(self.now, r),
            Input::Media(ev) => self.core.handle_media(self.now, ev),
        }
    }

    fn schedule(&mut self, after: Duration, input: Input) {
        self.seq += 1;
        self.queue.push(Reverse((self.now + after, self.seq)));
        self.inputs.insert(self.seq, input);
    }

    /// Carries out every effect Core decided.
    fn drain(&mut self) {
        while let Some(effect) = self.core.poll_effect() {
            match effect {
                Effect::Sip(cmd) => {
                    for (after, input) in self.sip.apply(self.now, cmd) {
                        let in_place = matches!(
                            input,
                            SipInput::Placed { .. }
                                | SipInput::FreeLines(_)
                                | SipInput::LegEnding { .. }
                                | SipInput::AgentPlaced { .. }
                        );
                        if in_place && after.is_zero() {
                            self.deliver(Input::Sip(input));
                        } else {
                            self.schedule(after, Input::Sip(input));
                        }
                    }
                }
                Effect::Store(cmd) => {
                    for r in self.store.apply(cmd) {
                        self.schedule(self.store_latency, Input::Store(r));
                    }
                }
                Effect::Reply(id, reply) => {
                    self.replies.insert(id, reply);
                }
                Effect::Media(cmd) => {
                    if let crate::media::io::MediaCommand::Bridge { customer, agent } = &cmd {
                        // The customer talks for the script's talk time once bridged, as a
                        // flow-I `Connect` does on the SIP side.
                        let agent_port = self.media.port_of(*agent);
                        if let Some(port) = self.media.port_of(*customer) {
                            for (after, input) in self.sip.bridged(self.now, port, agent_port) {
                                self.schedule(after, Input::Sip(input));
                            }
                        }
                    }
                    if let crate::media::io::MediaCommand::Analyse { leg, phase, .. } = &cmd {
                        let lead = self
                            .media
                            .port_of(*leg)
                            .and_then(|port| self.sip.lead_of_port(port));
                        if let Some((campaign, lead)) = lead {
                            for (after, ev) in self.media.analyse(*leg, &campaign, lead, *phase) {
                                self.schedule(after, Input::Media(ev));
                            }
                        }
                    }
                    for (after, ev) in self.media.apply(self.now, cmd) {
                        self.schedule(after, Input::Media(ev));
                    }
                }
            }
        }
    }
}
