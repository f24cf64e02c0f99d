//! The live engine's decisions as one sans-IO state machine, [`Core`]: campaigns with their
//! [`Dialer`]s, leases at hand, calls from lease to call record, agents and their homes, abandon
//! windows, supervisor overrides, this node's liveness and the recovery of dead nodes. It takes
//! plain data and `now` (an [`Instant`]; wall-clock epoch ms are derived from it by [`Clock`],
//! pure arithmetic) and returns [`Effect`]s; no socket, task, store or clock read inside.
//!
//! Sub-modules, each adding to `Core` the handling of one domain: `callbacks` (owned callbacks
//! leased for, dialled for and connected to the agent who scheduled them), `calls` (leases, dialling,
//! SIP events, call records, inbound queue), `agents` (homes, wrap-up, claims), `nodes`
//! (liveness, store outages, recovery), `lines` (trunk line budgets), `control` (supervisor
//! requests, overrides, the abandon budget), `stats` (figures), `warm` (dialer warm start),
//! `media` (anchored calls' legs and RTP ports, bridging, the safe-harbour message and its
//! opt-out, recording), `cpa` (call-progress analysis: what each verdict does to the call),
//! `nailed` (agents' nailed-up connections), `dial_in` (connections the agents' phones set up
//! themselves, with digest auth); `io` holds the types crossing the edge.
//!
//! Must not touch: tokio, sqlx, [`crate::store::Store`], sockets, `Instant::now` or
//! `SystemTime::now` (the shell injects the one stopwatch that times pacing decisions for
//! `/metrics`; it never feeds a decision). The sub-modules are still one `impl Core` spread
//! over files sharing Core's fields, not sub-state-machines owning their own state.
//!
//! Metrics (`admin::metrics::*`) are called directly rather than emitted as effects: they record
//! into the process's in-memory registry (no socket, no clock, nothing to fail), and decide
//! nothing. The endpoint's trunk gauges, which need the SIP task, are an effect
//! ([`SipCommand::PushTrunkGauges`]).

mod agents;
mod callbacks;
mod calls;
mod control;
mod cpa;
mod dial_in;
mod inbound_media;
pub mod io;
mod lines;
mod media;
mod nailed;
mod nodes;
mod stats;
mod wallboard;
mod warm;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::time::{Duration, Instant};

use rand::SeedableRng;
use rand_pcg::Pcg64Mcg;

use crate::admin::{self, ControlError, PacingSettings};
use crate::agents::AgentId;
use crate::campaign::Campaign;
use crate::media::io::{LegId, MediaEvent, Prompt};
use crate::media::ports::PortPool;
use crate::pacing::dialer::{Config, Dialer, InboundId, Params};
use crate::pacing::{CallId as DialCall, Millis, Mode};
use crate::sip::endpoint::CallId as SipCall;
use crate::sip::values::SipUri;
use crate::store::{CallProgress, LeasedLead, OpenLeg};

use super::clock::Clock;
use super::config::{AgentSpec, ConnectMode, EngineConfig};
use super::writes::Write;
use stats::RunStats;
pub use stats::{CampaignSummary, RunSummary};

pub use self::agents::CLAIM_TTL;
pub use self::control::{budget_spent, budgeted_mode, Figures};
pub use io::{
    AdminReply, AdminRequest, AgentIdx, CallKey, CampaignId, CpaSetup, Effect, MediaSetup,
    PlaceFailure, RecordingMode, ReplyId, SipCommand, SipInput, StoreCommand, StoreResult,
};

/// How often the engine refreshes line budgets, leases, agent homes and figures.
pub const HOUSEKEEPING: Duration = Duration::from_millis(100);

/// One campaign being dialled.
pub(crate) struct Camp {
    pub name: String,
    pub def: Campaign,
    pub dialer: Dialer,
    pub settings: PacingSettings,
    pub paused: bool,
    /// Wall-clock ms of this node's latest pacing or pause change (0: none). A stored override
    /// written before it is this node's own earlier change, read back before the latest one
    /// landed: applying it would undo the supervisor's last change for a while.
    pub override_ms: i64,
    /// Leads leased and not yet dialled, oldest first, with the instant they were leased.
    pub buffer: VecDeque<(Instant, LeasedLead)>,
    pub leasing: bool,
    /// After an empty lease, wait before asking again.
    pub lease_idle_until: Instant,
    /// Callbacks leased for the agent who owns them: (agent index, when leased, lead), at most
    /// one per agent (`callbacks`).
    pub owned: Vec<(usize, Instant, LeasedLead)>,
    /// A lease of owned callbacks is in flight; the next is not asked for before
    /// `owned_idle_until`.
    pub leasing_owned: bool,
    pub owned_idle_until: Instant,
    /// Dialer calls launched for one agent, with the lead each dials (taken before the
    /// buffer's front by `dial`).
    pub directed: HashMap<u64, LeasedLead>,
    /// When a lease last returned leads (the campaign "has work").
    pub last_work: Option<Instant>,
    /// Dialer call → engine call key.
    pub calls: HashMap<u64, CallKey>,
    /// Dialer agent id → engine agent index.
    pub agents: HashMap<AgentId, usize>,
    pub announcement: Option<SipUri>,
    /// Campaign-wide (live, abandoned) over 24 h and 30 days, all nodes.
    pub day: (i64, i64),
    pub month: (i64, i64),
    /// `day` and `month` have been read from the store at least once (until then the abandon
    /// budget is unknown, and the campaign dials progressively: see `apply_budget`).
    pub rates_read: bool,
    /// Dial instants of the last few seconds (calls/s, lease sizing).
    pub recent_dials: VecDeque<Instant>,
    /// Trunk lines this campaign may still take before the next refresh (housekeeping sets it,
    /// each dial spends one).
    pub line_budget: u32,
    /// Attempts committed (calls really placed or about to be).
    pub placed: u64,
    /// The campaign's trunk group anchors media (`media: anchor`): its calls carry outdial's
    /// offer and are bridged inside outdial.
    pub anchored: bool,
    /// Safe-harbour message, opt-out key, recording.
    pub media: MediaSetup,
    /// Call-progress analysis (none: calls are connected on answer, as before).
    pub cpa: Option<CpaSetup>,
}

/// One outbound call from dial to call record.
pub(crate) struct CallRec {
    pub camp: usize,
    pub dcall: DialCall,
    pub lead: LeasedLead,
    pub attempt: Option<i64>,
    pub sip: Option<SipCall>,
    /// The dialer still tracks the call (false once it ended, cancelled or abandoned it).
    pub in_dialer: bool,
    pub agent: Option<usize>,
    pub trunk: Option<String>,
    pub code: Option<u16>,
    pub machine: bool,
    pub abandoned: bool,
    pub cancelled: bool,
    /// Its customer leg's RTP port could not be bound: hung up by us, an internal failure
    /// (`trunk_failure`, retried soon), not the customer's no-answer.
    pub media_failed: bool,
    /// The shutdown's hang-up at the end of the grace period cut this call.
    pub cut_by_shutdown: bool,
    pub dial_ms: i64,
    pub ring_ms: Option<i64>,
    pub answer_ms: Option<i64>,
    pub connect_ms: Option<i64>,
    /// The call's media legs when it is anchored (`None` under flow I).
    pub media: Option<CallLegs>,
}

/// An anchored call's media: its legs, what plays and what is recorded.
pub(crate) struct CallLegs {
    /// The customer leg and its RTP port.
    pub customer: LegId,
    pub port: u16,
    /// The per-call agent leg: (leg, port, its SIP call once placed).
    pub agent_leg: Option<(LegId, u16, Option<SipCall>)>,
    /// The agent and what its phone is shown, kept for one more agent leg on another port when
    /// the first one's cannot be bound (the customer is already waiting; taken when used).
    pub agent_again: Option<(usize, crate::sip::endpoint::AgentLeg)>,
    /// The agent leg the customer is bridged to now.
    pub bridged: Option<LegId>,
    /// When the customer answered (answer-to-connect is measured from it).
    pub answered_at: Option<Instant>,
    /// The safe-harbour message is playing.
    pub prompting: bool,
    /// The legs were closed (the call is over).
    pub closed: bool,
    /// Set once the call ended and its record waits for the customer leg's figures.
    pub ending: Option<(crate::campaign::CallDisposition, Instant)>,
    /// What goes into the call record.
    pub record: crate::store::CallMedia,
    /// Call-progress analysis of this call, once it started (early media or answer).
    pub cpa: Option<cpa::CallCpa>,
}

/// One inbound call.
pub(crate) struct InboundRec {
    pub camp: usize,
    pub id: InboundId,
    pub agent: Option<usize>,
    /// The From user part (only its digits reach the store).
    pub from: String,
    /// Wall-clock arrival and agent bridge, epoch ms (for the call record).
    pub arrive_ms: i64,
    pub connect_ms: Option<i64>,
    /// Arrival on the pacing clock: still waiting after `inbound_queue_timeout`, it is refused.
    pub arrived: Millis,
    /// It came from a `media: anchor` trunk: outdial answers it with its own SDP and bridges it.
    pub anchored: bool,
    /// The caller's SDP offer (answered by outdial when anchored).
    pub offer: Option<String>,
}

/// A SIP call is one of ours, outbound (call key) or inbound.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Leg {
    Out(CallKey),
    In(SipCall),
    /// An agent's nailed-up connection.
    Agent(usize),
    /// The per-call agent leg of an anchored outbound call.
    AgentOf(CallKey),
    /// The per-call agent leg of an anchored inbound caller.
    AgentOfIn(SipCall),
}

/// One configured agent.
pub(crate) struct AgentRec {
    pub spec: AgentSpec,
    /// This node owns the agent (agent claims, shared store).
    pub claimed: bool,
    /// Logged in (API login, or automatic for `wrap_up: auto`).
    pub logged_in: bool,
    pub pause_reason: Option<String>,
    /// The campaign the agent works for now.
    pub home: Option<usize>,
    /// Its id in each campaign's dialer it has been in.
    pub ids: HashMap<usize, AgentId>,
    pub call: Option<Leg>,
    /// Attempt of the last outbound call (the wrap-up disposition applies to it).
    pub last_attempt: Option<i64>,
    /// The campaign of the last outbound call when call-progress analysis ran on it: only
    /// there does an agent's `machine` wrap-up mean the analysis missed a voicemail.
    pub last_analysed: Option<usize>,
    /// Screen pop of the current/last call.
    pub pop: Option<admin::ScreenPop>,
    /// Open staffed-interval row in the store.
    pub session: Option<i64>,
    /// Bumped on every wrap-up start, so a stale automatic wrap-up timer is ignored.
    pub wrap_epoch: u64,
    /// How the agent's phone is connected (resolved against the campaigns' trunks).
    pub connect: ConnectMode,
    /// The nailed-up connection, while one is being set up or is up.
    pub conn: Option<Nailed>,
    /// After a failed connection: when to try again and how many failed in a row.
    pub retry: Option<(Instant, u32)>,
    /// The connection was lost while the dialer held the agent for a call (reserved or
    /// talking): it leaves its dialer as soon as the dialer lets it.
    pub conn_lost: bool,
}

/// An agent's nailed-up connection.
pub(crate) struct Nailed {
    pub leg: LegId,
    pub port: u16,
    /// Its SIP call, once the INVITE left.
    pub sip: Option<SipCall>,
    /// The phone answered: the agent may take customers.
    pub up: bool,
}

/// Who a media leg belongs to (routes [`MediaEvent`]s).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LegOwner {
    /// An outbound call's customer leg.
    Customer(CallKey),
    /// An outbound call's per-call agent leg.
    AgentOf(CallKey),
    /// An agent's nailed-up connection.
    Nailed(usize),
    /// An anchored inbound caller's leg.
    Inbound(SipCall),
    /// An anchored inbound caller's per-call agent leg.
    AgentOfIn(SipCall),
}

/// The core's share of the media plane: RTP ports and who owns each leg.
pub(crate) struct MediaState {
    pub ports: PortPool,
    pub legs: HashMap<LegId, LegOwner>,
    pub next_leg: u64,
    /// Customer legs closed whose figures their call record waits for.
    pub closing: HashMap<LegId, CallKey>,
    /// The tone a nailed-up agent hears when a customer is bridged in.
    pub tone: Prompt,
    /// Anchored inbound callers' legs, by SIP call (from the answer to the caller's end).
    pub inbound: HashMap<SipCall, InboundLeg>,
    /// Answered calls waiting on call-progress analysis (a verdict, or a voicemail's beep),
    /// with the instant the engine stops waiting (`cpa`).
    pub cpa_due: HashMap<CallKey, Instant>,
}

/// An anchored inbound caller's customer leg (outdial answered the caller with its own SDP).
pub(crate) struct InboundLeg {
    pub leg: LegId,
    pub port: u16,
    /// The agent leg it is bridged to now.
    pub bridged: Option<LegId>,
    /// The per-call agent leg: (leg, port, its SIP call once placed).
    pub agent_leg: Option<(LegId, u16, Option<SipCall>)>,
    /// As [`CallLegs::agent_again`]: for one more agent leg when the first one's port cannot
    /// be bound.
    pub agent_again: Option<(usize, crate::sip::endpoint::AgentLeg)>,
    /// The abandon message is playing (the caller is hung up after it).
    pub prompting: bool,
}

/// The engine's decision state (see the module doc).
///
/// # Call order
/// 1. Build it with [`Core::new`], then call [`Core::start`] once with the legs an earlier run of
///    this node left up (crash recovery), and drain.
/// 2. Feed every input as it happens, each with the current instant (never going backwards):
///    [`Core::handle_sip`] (endpoint events and the replies to SIP commands),
///    [`Core::handle_store`] (store results), [`Core::handle_admin`] (supervisor requests),
///    [`Core::begin_stop`] (SIGTERM) and, when [`Core::poll_timeout`] passes,
///    [`Core::handle_timeout`].
/// 3. After every input, drain [`Core::poll_effect`] until `None` and carry each effect out in
///    that order. A command that is "answered by" an input (see [`SipCommand`],
///    [`StoreCommand`]) must get that input back: the housekeeping tick waits for
///    [`SipInput::FreeLines`], a placed call for [`SipInput::Placed`]. The live shell answers
///    `Place`, `FreeLines` and `EndLeg` before it takes the next input (they were awaited in
///    place before the engine was split); the others whenever they complete.
/// 4. Sleep until [`Core::poll_timeout`] (always `Some` once started: housekeeping runs every
///    [`HOUSEKEEPING`]) or the next input, whichever is first.
/// 5. Stop when [`Core::is_done`] after a drain (only after [`Core::begin_stop`] or a lost
///    node).
pub struct Core {
    pub(crate) cfg: EngineConfig,
    pub(crate) clock: Clock,
    /// The latest instant fed in (inputs never move it backwards).
    pub(crate) now: Instant,
    pub(crate) camps: Vec<Camp>,
    pub(crate) agents: Vec<AgentRec>,
    pub(crate) agent_ix: HashMap<String, usize>,
    pub(crate) calls: HashMap<CallKey, CallRec>,
    pub(crate) by_sip: HashMap<SipCall, Leg>,
    pub(crate) inbound: HashMap<SipCall, InboundRec>,
    pub(crate) next_key: u64,
    /// Automatic wrap-up ends: (when, agent, epoch).
    pub(crate) wraps: BinaryHeap<Reverse<(Instant, usize, u64)>>,
    pub(crate) rng: Pcg64Mcg,
    /// Store writes queued and not yet landed (waited for before exit).
    pub(crate) pending: usize,
    /// The store could not be reached: no lease, no new call until a renewal of this node's row
    /// lands again (`nodes`).
    pub(crate) store_down: bool,
    /// When the last renewal that landed was sent (this node's row runs `node_ttl` from then).
    pub(crate) last_renew: Instant,
    /// A renewal of this node's row is in flight.
    pub(crate) renewing: bool,
    /// Set when shutdown began: the instant connected calls must be over.
    pub(crate) stopping: Option<Instant>,
    /// The grace is over and every call left was hung up.
    pub(crate) hung_up: bool,
    /// Nothing is left to do: the shell may exit.
    pub(crate) done: bool,
    pub(crate) stats: RunStats,
    pub(crate) started: Instant,
    /// This node's liveness row expired (it is stopping and must exit with an error).
    pub(crate) node_lost: bool,
    /// The store has answered this node's first claim of its agents: until then an agent not
    /// claimed yet is not known to be another node's.
    pub(crate) claims_known: bool,
    /// Call milestones not yet written (one batched write per housekeeping tick).
    pub(crate) progress: Vec<CallProgress>,
    /// Legs of a crashed run being ended with BYE, with the agent of an agent leg: that agent
    /// is offered no call until its leg is released.
    pub(crate) releasing: HashMap<SipCall, Option<String>>,
    /// Agents whose leg was being set up when a run crashed (no dialog to end), held until its
    /// INVITE transaction has surely timed out.
    pub(crate) held: Vec<(String, Instant)>,
    /// Housekeeping ticks so far, and when the next is due.
    pub(crate) ticks: u64,
    pub(crate) next_housekeeping: Instant,
    /// A housekeeping tick waits for [`SipInput::FreeLines`].
    pub(crate) housekeeping_waits: bool,
    /// Effects decided and not yet drained.
    pub(crate) effects: VecDeque<Effect>,
    /// Reads the time to measure how long pacing decisions take (for `/metrics` and the run
    /// summary); never used for a decision. The shell passes `Instant::now`; without it
    /// (virtual time) decisions are timed as zero.
    pub(crate) stopwatch: Option<fn() -> Instant>,
    /// RTP ports and media legs.
    pub(crate) media: MediaState,
    /// Nonces of the digest challenges to dial-in agents (`dial_in`).
    pub(crate) nonces: crate::sip::nonces::NonceBook,
    /// What only the wallboard reads (`wallboard`).
    pub(crate) board: wallboard::BoardTrack,
}
/// Logs what the dialer refused: the engine told it something its state did not allow (an
/// event racing a pacing decision, a call it already ended). Its state is unchanged, so there
/// is nothing to undo; an agent that could not leave its dialer is worth a warning (it may
/// still be offered the call it is reserved for).
pub(crate) fn noted(what: &'static str, r: Result<(), crate::pacing::dialer::DialerError>) {
    match r {
        Ok(()) => {}
        Err(e) if what == "agent logout" => tracing::warn!(error = %e, "dialer: {what}"),
        Err(e) => tracing::debug!(error = %e, "dialer: {what}"),
    }
}

/// The pacing mode a campaign's settings name.
pub(crate) fn mode_of(settings: &PacingSettings) -> Mode {
    settings.mode.pacing(settings.ratio)
}

/// The supervisor view of a campaign definition's dialing section.
pub(crate) fn settings_of(def: &Campaign) -> PacingSettings {
    let d = &def.dialing;
    PacingSettings {
        mode: d.mode,
        ratio: d.ratio,
        max_ratio: d.max_ratio,
        target_abandon: d.target_abandon,
    }
}

/// Logs what would otherwise fail silently: a campaign none of this node's agents may work (its
/// group or skills match nobody), and an agent skill no campaign of this run asks for (a typo
/// in the config, or a campaign left out).
fn warn_unmatched(camps: &[Camp], agents: &[AgentSpec]) {
    for c in camps {
        if !agents.iter().any(|a| agents::can_work(a, &c.def)) {
            tracing::warn!(
                campaign = %c.name,
                group = %c.def.agent_group,
                skills = ?c.def.skills,
                "no agent of this node has the campaign's group and skills: it will not dial here"
            );
        }
    }
    let mut unused: Vec<&str> = agents
        .iter()
        .flat_map(|a| a.skill_names.iter().map(String::as_str))
        .filter(|s| !super::config::is_channel(s))
        .filter(|s| !camps.iter().any(|c| c.def.skills.iter().any(|k| k == s)))
        .collect();
    unused.sort_unstable();
    unused.dedup();
    if !unused.is_empty() {
        tracing::warn!(skills = ?unused, "agent skills that no campaign of this run asks for");
    }
}

/// A run that cannot start as configured: a campaign whose pacing settings its dialer refused
/// (its definition passed the file's checks but not the pacing core's: a ratio or target out of
/// the core's range), or an agent whose `connect:` its campaigns' trunks cannot serve.
#[derive(Debug, thiserror::Error)]
pub enum CampaignSetupError {
    /// The dialer refused the campaign's pacing settings.
    #[error("campaign {campaign}: {source}")]
    Pacing {
        /// The campaign's name.
        campaign: String,
        /// What the dialer refused.
        #[source]
        source: crate::pacing::DialerError,
    },
    /// A `connect: nailed` or `dial-in` agent works a campaign whose trunks are `flow-i`.
    #[error("agent {agent}: a nailed-up connection (connect: nailed or dial-in) needs anchored media, but campaign {campaign} dials trunk group {group:?} whose trunks are flow-i (set connect: per-call)")]
    NailedOnFlowI {
        /// The agent.
        agent: String,
        /// The campaign.
        campaign: String,
        /// Its trunk group.
        group: String,
    },
}

impl Core {
    /// Builds the state: one dialer per campaign, agents not yet logged in. `now` is the
    /// start instant and `wall_ms` the wall clock at that instant (epoch ms).
    pub fn new(
        cfg: EngineConfig,
        defs: Vec<(String, Campaign)>,
        agents: Vec<AgentSpec>,
        now: Instant,
        wall_ms: i64,
    ) -> Result<Core, CampaignSetupError> {
        let clock = Clock::new(now, wall_ms, cfg.time_scale);
        let mut camps = Vec::new();
        for (name, def) in defs {
            let settings = settings_of(&def);
            let mode = mode_of(&settings);
            let entry = cfg.campaigns.iter().find(|c| c.name == name);
            let announcement = entry
                .and_then(|c| c.announcement.as_deref())
                .and_then(|a| SipUri::parse(a).ok());
            let params = Params {
                mode,
                target_abandon: settings.target_abandon,
                max_ratio: settings.max_ratio,
                patience_ms: def.dialing.patience.0.as_millis() as u64,
                no_answer_timeout_ms: def.dialing.ring_timeout.0.as_millis() as u64,
                channels: 0,
                amd_false_positive: def
                    .amd_false_positive
                    .unwrap_or(crate::pacing::DEFAULT_AMD_FALSE_POSITIVE),
                amd_false_negative: def
                    .amd_false_negative
                    .unwrap_or(crate::pacing::DEFAULT_AMD_FALSE_NEGATIVE),
                ..Params::default()
            };
            let anchored = media::group_anchored(&cfg, &def.trunk_group);
            // A campaign that analyses its calls plans with the analysis delay from its first
            // call (the cold-start prior from its own settings), not from its first verdict.
            let priors = crate::pacing::Priors {
                analysis: def
                    .cpa
                    .runs(anchored)
                    .then(|| crate::campaign::cpa::delay_prior(&def.cpa.settings)),
                ..crate::pacing::Priors::default()
            };
            let dialer = Dialer::new(
                Config {
                    params,
                    priors,
                    seed: camps.len() as u64 + 1,
                    ..Config::default()
                },
                clock.pacing(now),
            )
            .map_err(|source| CampaignSetupError::Pacing {
                campaign: name.clone(),
                source,
            })?;
            camps.push(Camp {
                name,
                def,
                dialer,
                settings,
                paused: false,
                override_ms: 0,
                buffer: VecDeque::new(),
                leasing: false,
                lease_idle_until: now,
                owned: Vec::new(),
                leasing_owned: false,
                owned_idle_until: now,
                directed: HashMap::new(),
                last_work: None,
                calls: HashMap::new(),
                agents: HashMap::new(),
                announcement,
                day: (0, 0),
                month: (0, 0),
                rates_read: false,
                recent_dials: VecDeque::new(),
                line_budget: 0,
                placed: 0,
                anchored,
                media: MediaSetup::default(),
                cpa: None,
            });
        }
        warn_unmatched(&camps, &agents);
        let ports = cfg.media.ports;
        let agent_ix = agents
            .iter()
            .enumerate()
            .map(|(i, a)| (a.id.clone(), i))
            .collect();
        let connects = agents
            .iter()
            .map(|a| media::resolve_connect(a, &camps))
            .collect::<Result<Vec<_>, _>>()?;
        let agents = agents
            .into_iter()
            .zip(connects)
            .map(|(spec, connect)| AgentRec {
                spec,
                connect,
                conn: None,
                retry: None,
                conn_lost: false,
                claimed: false,
                logged_in: false,
                pause_reason: None,
                home: None,
                ids: HashMap::new(),
                call: None,
                last_attempt: None,
                last_analysed: None,
                pop: None,
                session: None,
                wrap_epoch: 0,
            })
            .collect();
        let nonces = dial_in::default_nonces(cfg.sip.nonce_lifetime.0);
        Ok(Core {
            cfg,
            clock,
            now,
            camps,
            agents,
            agent_ix,
            calls: HashMap::new(),
            by_sip: HashMap::new(),
            inbound: HashMap::new(),
            next_key: 0,
            wraps: BinaryHeap::new(),
            rng: Pcg64Mcg::seed_from_u64(7),
            pending: 0,
            store_down: false,
            last_renew: now,
            renewing: false,
            stopping: None,
            hung_up: false,
            done: false,
            stats: RunStats::default(),
            started: now,
            node_lost: false,
            claims_known: false,
            progress: Vec::new(),
            releasing: HashMap::new(),
            held: Vec::new(),
            ticks: 0,
            // The first tick is at once (as tokio's interval's first tick).
            next_housekeeping: now,
            housekeeping_waits: false,
            effects: VecDeque::new(),
            stopwatch: None,
            media: MediaState {
                ports: PortPool::new(ports),
                legs: HashMap::new(),
                next_leg: 1,
                closing: HashMap::new(),
                cpa_due: HashMap::new(),
                tone: media::connect_tone(),
                inbound: HashMap::new(),
            },
            nonces,
            board: wallboard::BoardTrack::default(),
        })
    }

    /// Times pacing decisions with `read` (the shell passes `Instant::now`); see the field.
    pub fn set_stopwatch(&mut self, read: fn() -> Instant) {
        self.stopwatch = Some(read);
    }

    /// Starts the run: no campaign dials faster than progressive before its abandon budget is
    /// read; the legs an earlier run of this node left up are ended before any agent is claimed
    /// (their agents wait until those are over); then the agents are claimed.
    pub fn start(&mut self, now: Instant, legs: Vec<OpenLeg>) {
        self.set_now(now);
        for ci in 0..self.camps.len() {
            self.apply_budget(ci);
        }
        self.end_legs(legs);
        self.renew_claims();
    }

    /// An input from the SIP side: an endpoint event, or the reply to a [`SipCommand`].
    pub fn handle_sip(&mut self, now: Instant, input: SipInput) {
        self.set_now(now);
        match input {
            SipInput::Event(ev) => self.on_sip_event(ev),
            SipInput::Placed { key, result } => self.on_placed(key, result),
            SipInput::Trunk { key, trunk } => {
                if let (Some(c), Some(t)) = (self.calls.get_mut(&key), trunk) {
                    c.trunk = Some(t);
                }
            }
            SipInput::Progress(p) => self.progress.push(p),
            SipInput::FreeLines(free) => {
                if self.housekeeping_waits {
                    self.housekeeping_waits = false;
                    self.update_lines(free);
                    self.housekeeping();
                }
            }
            SipInput::LegEnding {
                call,
                agent,
                attempt,
            } => self.on_leg_ending(call, agent, attempt),
            SipInput::AgentPlaced { leg, result } => self.on_agent_placed(leg, result),
        }
        self.after_input();
    }

    /// A store result.
    pub fn handle_store(&mut self, now: Instant, result: StoreResult) {
        self.set_now(now);
        match result {
            StoreResult::Leased { camp, result } => self.on_leased(camp.0, result),
            StoreResult::LeasedOwned { camp, result } => self.on_leased_owned(camp.0, result),
            StoreResult::Begun { key, result } => self.on_begun(key, result),
            StoreResult::Written => self.pending = self.pending.saturating_sub(1),
            StoreResult::Rates { camp, day, month } => {
                if let Some(c) = self.camps.get_mut(camp.0) {
                    c.day = day;
                    c.month = month;
                    c.rates_read = true;
                    self.apply_budget(camp.0);
                }
            }
            StoreResult::Overrides(rows) => self.apply_overrides(rows),
            StoreResult::Claimed(ids) => self.on_claimed(ids),
            StoreResult::NodeLost => self.on_node_lost(),
            StoreResult::Renewed(sent) => self.on_renewed(sent),
            StoreResult::StoreDown => self.on_store_down(),
            StoreResult::Session { agent, id } => self.on_session(agent.0, id),
            StoreResult::Recovered(legs) => self.end_legs(legs),
            StoreResult::PastCalls { camp, calls } => self.warm_start(camp.0, &calls),
        }
        self.after_input();
    }

    /// A media event (an anchored leg's first packet, DTMF, a prompt's end, an RTP timeout, a
    /// closed leg's figures).
    pub fn handle_media(&mut self, now: Instant, ev: MediaEvent) {
        self.set_now(now);
        self.on_media_event(ev);
        self.after_input();
    }

    /// Sets a campaign's media settings (safe-harbour message, opt-out key, recording); false
    /// when no campaign of this run has that name. Call before [`Core::start`].
    pub fn set_media_setup(&mut self, campaign: &str, setup: MediaSetup) -> bool {
        match self.camps.iter_mut().find(|c| c.name == campaign) {
            Some(c) => {
                c.media = setup;
                true
            }
            None => false,
        }
    }

    /// Whether campaign `campaign`'s calls anchor media (false for a name not in this run).
    pub fn anchored(&self, campaign: &str) -> bool {
        self.camps.iter().any(|c| c.name == campaign && c.anchored)
    }

    /// Sets (or clears) a campaign's call-progress analysis; false when no campaign of this run
    /// has that name or its calls are not anchored (nothing to analyse under flow I). Call
    /// before [`Core::start`].
    pub fn set_cpa(&mut self, campaign: &str, setup: Option<CpaSetup>) -> bool {
        let pnow = self.pnow();
        match self.camps.iter_mut().find(|c| c.name == campaign) {
            Some(c) if c.anchored || setup.is_none() => {
                if let Some(s) = &setup {
                    let delay = crate::campaign::cpa::delay_prior(&s.settings);
                    c.dialer.expect_analysis(pnow, &delay);
                }
                c.cpa = setup;
                true
            }
            _ => false,
        }
    }

    /// RTP ports free and in all (the pool is full again when no anchored call is up).
    pub fn rtp_ports(&self) -> (usize, usize) {
        (self.media.ports.free(self.now), self.media.ports.capacity())
    }

    /// A supervisor request; its answer is an [`Effect::Reply`] with `id`.
    pub fn handle_admin(&mut self, now: Instant, id: ReplyId, req: AdminRequest) {
        self.set_now(now);
        let reply = self.on_admin(req);
        self.effects.push_back(Effect::Reply(id, reply));
        self.after_input();
    }

    /// Fires due pacing timers, automatic wrap-up ends and the housekeeping tick.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.set_now(now);
        self.on_timers();
        if self.now >= self.next_housekeeping && !self.housekeeping_waits {
            // Like a tokio interval that delays missed ticks: a late tick moves the next one.
            self.next_housekeeping += HOUSEKEEPING;
            if self.next_housekeeping <= self.now {
                self.next_housekeeping = self.now + HOUSEKEEPING;
            }
            self.ticks += 1;
            self.housekeeping_waits = true;
            let mut groups: Vec<String> = self
                .camps
                .iter()
                .map(|c| c.def.trunk_group.clone())
                .collect();
            groups.sort_unstable();
            groups.dedup();
            self.emit_sip(SipCommand::FreeLines { groups });
        }
        self.after_input();
    }

    /// SIGTERM: no new calls, buffered leases back to the pool, connected calls go on for
    /// `shutdown_grace`.
    pub fn begin_stop(&mut self, now: Instant) {
        self.set_now(now);
        if self.stopping.is_none() {
            self.stop_within(self.cfg.shutdown_grace.0);
        }
        self.after_input();
    }

    /// The next effect to carry out, in the order decided.
    pub fn poll_effect(&mut self) -> Option<Effect> {
        self.effects.pop_front()
    }

    /// When [`Core::handle_timeout`] is next due: a pacing timer, an automatic wrap-up end or
    /// the housekeeping tick, whichever is first.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let mut at = self.next_housekeeping;
        for c in &self.camps {
            if let Some((t, _)) = c.dialer.poll_timeout() {
                at = at.min(self.clock.instant(t));
            }
        }
        if let Some(Reverse((t, _, _))) = self.wraps.peek() {
            at = at.min(*t);
        }
        Some(at)
    }

    /// The run is over (stopping, and nothing is left to wait for): exit.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// This node's liveness row was reaped by another node: exit with an error.
    pub fn node_lost(&self) -> bool {
        self.node_lost
    }

    /// Calls in flight, pending writes and lease requests are all gone.
    pub fn idle(&self) -> bool {
        self.calls.is_empty()
            && self.inbound.is_empty()
            && self.pending == 0
            && self.progress.is_empty()
            && self.camps.iter().all(|c| !c.leasing && !c.leasing_owned)
    }

    /// Store writes queued and not yet landed.
    pub fn pending_writes(&self) -> usize {
        self.pending
    }

    /// Outbound calls in flight.
    pub fn calls_in_flight(&self) -> usize {
        self.calls.len()
    }

    /// The run's campaign names, in [`CampaignId`] order.
    pub fn campaign_names(&self) -> Vec<String> {
        self.camps.iter().map(|c| c.name.clone()).collect()
    }

    /// The clock mapping instants to pacing and wall time.
    pub fn clock(&self) -> Clock {
        self.clock
    }

    fn set_now(&mut self, now: Instant) {
        self.now = self.now.max(now);
    }

    /// After every input: execute the dialers' actions, then check the stop.
    fn after_input(&mut self) {
        // An agent the input freed moves before its campaign's next decision (`agents`).
        self.move_ready_agents(true);
        self.dial_owned_callbacks();
        self.drain_all();
        self.check_stop();
    }

    pub(crate) fn emit_sip(&mut self, cmd: SipCommand) {
        self.effects.push_back(Effect::Sip(cmd));
    }

    pub(crate) fn emit_store(&mut self, cmd: StoreCommand) {
        self.effects.push_back(Effect::Store(cmd));
    }

    pub(crate) fn emit_media(&mut self, cmd: crate::media::io::MediaCommand) {
        self.effects.push_back(Effect::Media(cmd));
    }

    /// Pacing time now.
    pub(crate) fn pnow(&self) -> Millis {
        self.clock.pacing(self.now)
    }

    /// Wall time now, epoch ms.
    pub(crate) fn wall_ms(&self) -> i64 {
        self.clock.wall_ms(self.now)
    }

    /// Fires due pacing timers and wrap-up ends, then drains every dialer's actions.
    fn on_timers(&mut self) {
        let now_i = self.now;
        while let Some(Reverse((t, agent, epoch))) = self.wraps.peek().copied() {
            if t > now_i {
                break;
            }
            self.wraps.pop();
            self.auto_wrap_done(agent, epoch);
        }
        // Agents those wrap-ups freed move before the dialers' ticks can reserve them (`agents`),
        // and take the callbacks they own before those ticks can give them other work.
        self.move_ready_agents(true);
        self.dial_owned_callbacks();
        let now = self.clock.pacing(now_i);
        for ci in 0..self.camps.len() {
            let due = matches!(self.camps[ci].dialer.poll_timeout(), Some((t, _)) if t <= now);
            if due {
                self.sync_channels(ci);
                let began = self.stopwatch.map(|read| read());
                self.camps[ci].dialer.handle_timeout(now);
                let took = match (began, self.stopwatch) {
                    (Some(b), Some(read)) => read().saturating_duration_since(b),
                    _ => Duration::ZERO,
                };
                self.stats.decision(took);
                admin::metrics::pacing_decision(&self.camps[ci].name, took);
            }
        }
    }

    /// Executes every pending dialer action of every campaign.
    pub(crate) fn drain_all(&mut self) {
        for ci in 0..self.camps.len() {
            self.drain(ci);
        }
    }

    /// Tells campaign `ci`'s dialer how many lines it may hold: those in use plus what the
    /// trunk budget and the leads at hand allow (nothing more while paused or stopping), and
    /// that it may launch no more than that many new calls. Called before every pacing tick and
    /// after every batch of actions, so the dialer never launches a call the engine cannot place
    /// — nor one to fill a line freed by a call that ended inside the tick
    /// ([`crate::pacing::Dialer::set_launch_limit`]).
    pub(crate) fn sync_channels(&mut self, ci: usize) {
        let stopping = self.stopping.is_some();
        let store_down = self.dial_blocked();
        let ports = self.media.ports.free(self.now) as u32;
        let c = &mut self.camps[ci];
        let extra = if c.paused || stopping || store_down {
            0
        } else if c.anchored {
            // An anchored call needs an RTP port as much as a line: none free, none launched
            // (rather than leads burnt on calls that cannot be placed).
            c.line_budget.min(c.buffer.len() as u32).min(ports)
        } else {
            c.line_budget.min(c.buffer.len() as u32)
        };
        let in_use = c.dialer.lines_in_use();
        c.dialer.set_channels(in_use + extra);
        c.dialer.set_launch_limit(Some(extra));
    }

    /// Queues a write the engine owes the store: it lands in order, retried until it does
    /// (`writes`); shutdown waits for every one (and spools what is left).
    pub(crate) fn queue_write(&mut self, w: Write) {
        self.pending += 1;
        self.emit_store(StoreCommand::Write(w));
    }

    /// Returns leased, undialled leads to the pool (a queued write).
    pub(crate) fn release_leases(&mut self, what: &'static str, ids: Vec<i64>) {
        if ids.is_empty() {
            return;
        }
        tracing::debug!(leads = ids.len(), "{what}");
        self.queue_write(Write::Release { leads: ids });
    }

    /// No new call may be placed: the store is unreachable, or this node's row has gone two
    /// thirds of `node_ttl` without a renewal landing (checked on every decision, not only when
    /// housekeeping notices, so a node back from a stall never dials before it renews: `nodes`).
    pub(crate) fn dial_blocked(&self) -> bool {
        let ttl = self.cfg.node_ttl.0;
        self.store_down || self.now.saturating_duration_since(self.last_renew) >= ttl - ttl / 3
    }

    /// Campaign index by name.
    pub(crate) fn camp_ix(&self, name: &str) -> Result<usize, ControlError> {
        self.camps
            .iter()
            .position(|c| c.name == name)
            .ok_or_else(|| ControlError::NotFound(format!("campaign {name:?} is not running")))
    }

    /// Periodic work once the free trunk lines are known: leases, agent homes, figures,
    /// claims, liveness.
    fn housekeeping(&mut self) {
        let tick = self.ticks;
        self.board_observe();
        self.refill_leases();
        self.refill_owned_callbacks();
        if tick % 10 == 1 {
            self.rebalance();
            self.push_metrics();
            self.emit_store(StoreCommand::ReadOverrides);
        }
        if tick % 100 == 1 {
            self.renew_claims();
            self.refresh_rates();
        }
        self.node_liveness(tick);
        self.flush_progress();
        self.expire_holds();
        self.expire_inbound();
        self.media_housekeeping();
    }

    /// Reads the campaign-wide abandon figures over 24 h and 30 days.
    fn refresh_rates(&mut self) {
        let wall_ms = self.wall_ms();
        for ci in 0..self.camps.len() {
            let campaign = self.camps[ci].name.clone();
            self.emit_store(StoreCommand::ReadRates {
                camp: CampaignId(ci),
                campaign,
                wall_ms,
            });
        }
    }

    /// Stops within `grace`: no new calls, buffered leases back to the pool, connected calls go
    /// on.
    pub(crate) fn stop_within(&mut self, grace: Duration) {
        tracing::info!(?grace, "stopping: no new calls; connected calls may finish");
        let grace = grace.min(super::config::MAX_SHUTDOWN_GRACE);
        self.stopping = Some(self.now + grace);
        let mut ids = Vec::new();
        for c in &mut self.camps {
            c.dialer.set_channels(c.dialer.lines_in_use());
            ids.extend(c.buffer.drain(..).map(|(_, l)| l.lead_id));
            ids.extend(c.owned.drain(..).map(|(_, _, l)| l.lead_id));
        }
        self.release_leases("release leases", ids);
        // Agents stay logged in: calls still ringing may be answered and must find one.
    }

    /// While stopping: agents may finish their wrap-ups within the grace (their codes
    /// reschedule leads); those still open at exit are closed as "not set", and the exit waits
    /// for it. At the end of the grace every call left is hung up; ten seconds later the run
    /// gives up on what is still open (recovered at the next start).
    fn check_stop(&mut self) {
        let Some(until) = self.stopping else {
            return;
        };
        if self.done {
            return;
        }
        let past_grace = self.now >= until;
        if self.idle() && (past_grace || !self.wrapping_up()) && self.close_wrap_ups() == 0 {
            // Nothing left to bridge: the nailed-up connections end with the run.
            self.disconnect_all_agents();
            self.done = true;
            return;
        }
        if past_grace && !self.hung_up {
            self.hung_up = true;
            self.hang_up_all();
        }
        if self.now >= until + Duration::from_secs(10) {
            tracing::error!(
                calls = self.calls.len(),
                writes = self.pending,
                "shutdown: giving up on calls and writes still open (recovered at next start)"
            );
            self.done = true;
        }
    }

    /// Grace is over: hang up every call left. A call connected to an agent is recorded
    /// `shutdown` (interrupted by us); one still ringing is cancelled (`no_answer`, by its 487);
    /// a customer answered and still waiting for an agent is an abandon, as a regulator counts it.
    fn hang_up_all(&mut self) {
        for rec in self.calls.values_mut() {
            rec.cut_by_shutdown = true;
        }
        // Agents' nailed-up connections are not calls: they end with the run
        // (`disconnect_all_agents`), after the customers, so no customer is abandoned for them.
        let mut calls: Vec<_> = self
            .by_sip
            .iter()
            .filter(|(_, leg)| !matches!(leg, Leg::Agent(_)))
            .map(|(call, _)| *call)
            .collect();
        calls.sort_unstable();
        tracing::warn!(calls = calls.len(), "grace period over: hanging up");
        for call in calls {
            self.emit_sip(SipCommand::Hangup { call });
        }
    }
}
