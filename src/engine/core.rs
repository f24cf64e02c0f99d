//! The engine's state and its one event loop. Every input — a SIP event, a store result, a
//! supervisor command, a timer — is handled to completion on one task, in the order it arrives;
//! store writes run as spawned tasks whose results come back as messages, so a slow disk never
//! stalls signalling. The loop owns the pacing cores ([`Dialer`], one per campaign); nothing else
//! touches them.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::time::{Duration, Instant};

use rand::SeedableRng;
use rand_pcg::Pcg64Mcg;
use tokio::sync::{mpsc, oneshot};

use crate::admin::{self, ControlError, PacingSettings};
use crate::agents::AgentId;
use crate::campaign::Campaign;
use crate::pacing::dialer::{Config, Dialer, InboundId, Params};
use crate::pacing::{CallId as DialCall, Millis, Mode};
use crate::sip::driver::SipHandle;
use crate::sip::endpoint::{CallId as SipCall, Event};
use crate::sip::values::SipUri;
use crate::store::{CallProgress, LeasedLead, OpenLeg, Store, StoreError};

use super::clock::Clock;
use super::config::{AgentSpec, EngineConfig};
use super::control::AdminCmd;
use super::stats::RunStats;
use super::writes::{Write, WriteQueue};

/// How often the engine refreshes line budgets, leases, agent homes and figures.
pub(crate) const HOUSEKEEPING: Duration = Duration::from_millis(100);

/// A message to the loop from a spawned task or the admin API.
pub(crate) enum Msg {
    /// A lease for campaign `camp` returned.
    Leased {
        camp: usize,
        result: Result<Vec<LeasedLead>, StoreError>,
    },
    /// `begin_attempt` for call `key` returned.
    Begun {
        key: u64,
        result: Result<i64, StoreError>,
    },
    /// A queued store write landed (or was refused for good), in queue order.
    Written,
    /// Campaign-wide abandon figures from the store: (live, abandoned) over 24 h and 30 days.
    Rates {
        camp: usize,
        day: (i64, i64),
        month: (i64, i64),
    },
    /// Supervisor overrides read from the store (shared by every node).
    Overrides(Vec<(String, crate::store::PacingOverride)>),
    /// An agent session row was written.
    Session { agent: usize, id: i64 },
    /// Agents this node owns now (claims renewed or won).
    Claimed(Vec<String>),
    /// The trunk a call is on.
    Trunk { key: u64, trunk: Option<String> },
    /// A supervisor command.
    Admin(AdminCmd),
    /// This node's liveness row was gone when it tried to renew it: another node reaped it.
    NodeLost,
    /// This node's liveness row was renewed by a write sent at this instant.
    Renewed(Instant),
    /// A lease, an attempt or a renewal could not reach the store.
    StoreDown,
    /// What a call reached, with what only the SIP layer knows (trunk, dialog snapshots): queued
    /// for the next progress write.
    Progress(CallProgress),
    /// Legs that were up on a node recovered by this one: end them.
    Recovered(Vec<OpenLeg>),
}

/// One campaign being dialled.
pub(crate) struct Camp {
    pub name: String,
    pub def: Campaign,
    pub dialer: Dialer,
    pub settings: PacingSettings,
    pub paused: bool,
    /// Leads leased and not yet dialled, oldest first, with the instant they were leased.
    pub buffer: VecDeque<(Instant, LeasedLead)>,
    pub leasing: bool,
    /// After an empty lease, wait before asking again.
    pub lease_idle_until: Instant,
    /// When a lease last returned leads (the campaign "has work").
    pub last_work: Option<Instant>,
    /// Dialer call → engine call key.
    pub calls: HashMap<u64, u64>,
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
    /// The shutdown's hang-up at the end of the grace period cut this call.
    pub cut_by_shutdown: bool,
    pub dial_ms: i64,
    pub ring_ms: Option<i64>,
    pub answer_ms: Option<i64>,
    pub connect_ms: Option<i64>,
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
}

/// A SIP call is one of ours, outbound (call key) or inbound.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Leg {
    Out(u64),
    In(SipCall),
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
    /// Screen pop of the current/last call.
    pub pop: Option<admin::ScreenPop>,
    /// Open staffed-interval row in the store.
    pub session: Option<i64>,
    /// Bumped on every wrap-up start, so a stale automatic wrap-up timer is ignored.
    pub wrap_epoch: u64,
}

/// The engine.
pub struct Engine {
    pub(crate) cfg: EngineConfig,
    pub(crate) store: Store,
    pub(crate) sip: SipHandle,
    pub(crate) clock: Clock,
    pub(crate) camps: Vec<Camp>,
    pub(crate) agents: Vec<AgentRec>,
    pub(crate) agent_ix: HashMap<String, usize>,
    pub(crate) calls: HashMap<u64, CallRec>,
    pub(crate) by_sip: HashMap<SipCall, Leg>,
    pub(crate) inbound: HashMap<SipCall, InboundRec>,
    pub(crate) next_key: u64,
    pub(crate) tx: mpsc::UnboundedSender<Msg>,
    /// Automatic wrap-up ends: (when, agent, epoch).
    pub(crate) wraps: BinaryHeap<Reverse<(Instant, usize, u64)>>,
    pub(crate) rng: Pcg64Mcg,
    /// Store writes queued and not yet landed (waited for before exit).
    pub(crate) pending: usize,
    /// The ordered queue of writes owed to the store (`writes`).
    pub(crate) writes: WriteQueue,
    /// The store could not be reached: no lease, no new call until a renewal of this node's row
    /// lands again (`nodes`).
    pub(crate) store_down: bool,
    /// When the last renewal that landed was sent (this node's row runs `node_ttl` from then).
    pub(crate) last_renew: Instant,
    /// A renewal of this node's row is in flight.
    pub(crate) renewing: bool,
    /// Set when shutdown began: the instant connected calls must be over.
    pub(crate) stopping: Option<Instant>,
    pub(crate) stats: RunStats,
    pub(crate) started: Instant,
    /// This node's liveness row expired (it is stopping and must exit with an error).
    pub(crate) node_lost: bool,
    /// Call milestones not yet written (one batched write per housekeeping tick).
    pub(crate) progress: Vec<CallProgress>,
    /// Legs of a crashed run being ended with BYE, with the agent of an agent leg: that agent
    /// is offered no call until its leg is released.
    pub(crate) releasing: HashMap<SipCall, Option<String>>,
    /// Agents whose leg was being set up when a run crashed (no dialog to end), held until its
    /// INVITE transaction has surely timed out.
    pub(crate) held: Vec<(String, Instant)>,
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
        if !agents.iter().any(|a| super::agents::can_work(a, &c.def)) {
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

impl Engine {
    /// Builds the engine state: one dialer per campaign, agents not yet logged in.
    pub(crate) fn new(
        cfg: EngineConfig,
        store: Store,
        sip: SipHandle,
        defs: Vec<(String, Campaign)>,
        agents: Vec<AgentSpec>,
        tx: mpsc::UnboundedSender<Msg>,
        writes: WriteQueue,
    ) -> Result<Engine, String> {
        let clock = Clock::new(cfg.time_scale);
        let now = Instant::now();
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
                ..Params::default()
            };
            let dialer = Dialer::new(
                Config {
                    params,
                    seed: camps.len() as u64 + 1,
                    ..Config::default()
                },
                clock.pacing(now),
            )
            .map_err(|e| format!("campaign {name}: {e}"))?;
            camps.push(Camp {
                name,
                def,
                dialer,
                settings,
                paused: false,
                buffer: VecDeque::new(),
                leasing: false,
                lease_idle_until: now,
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
            });
        }
        warn_unmatched(&camps, &agents);
        let agent_ix = agents
            .iter()
            .enumerate()
            .map(|(i, a)| (a.id.clone(), i))
            .collect();
        let agents = agents
            .into_iter()
            .map(|spec| AgentRec {
                spec,
                claimed: false,
                logged_in: false,
                pause_reason: None,
                home: None,
                ids: HashMap::new(),
                call: None,
                last_attempt: None,
                pop: None,
                session: None,
                wrap_epoch: 0,
            })
            .collect();
        Ok(Engine {
            cfg,
            store,
            sip,
            clock,
            camps,
            agents,
            agent_ix,
            calls: HashMap::new(),
            by_sip: HashMap::new(),
            inbound: HashMap::new(),
            next_key: 0,
            tx,
            wraps: BinaryHeap::new(),
            rng: Pcg64Mcg::seed_from_u64(7),
            pending: 0,
            writes,
            store_down: false,
            last_renew: now,
            renewing: false,
            stopping: None,
            stats: RunStats::default(),
            started: now,
            node_lost: false,
            progress: Vec::new(),
            releasing: HashMap::new(),
            held: Vec::new(),
        })
    }

    /// Pacing time now.
    pub(crate) fn pnow(&self) -> Millis {
        self.clock.pacing(Instant::now())
    }

    /// The next instant the loop must wake for a pacing timer or an automatic wrap-up end.
    pub(crate) fn next_wake(&self) -> Instant {
        let mut at = Instant::now() + HOUSEKEEPING;
        for c in &self.camps {
            if let Some((t, _)) = c.dialer.poll_timeout() {
                at = at.min(self.clock.instant(t));
            }
        }
        if let Some(Reverse((t, _, _))) = self.wraps.peek() {
            at = at.min(*t);
        }
        at
    }

    /// Fires due pacing timers and wrap-up ends, then drains every dialer's actions.
    pub(crate) async fn on_timers(&mut self) {
        let now_i = Instant::now();
        while let Some(Reverse((t, agent, epoch))) = self.wraps.peek().copied() {
            if t > now_i {
                break;
            }
            self.wraps.pop();
            self.auto_wrap_done(agent, epoch);
        }
        let now = self.clock.pacing(now_i);
        for ci in 0..self.camps.len() {
            let due = matches!(self.camps[ci].dialer.poll_timeout(), Some((t, _)) if t <= now);
            if due {
                self.sync_channels(ci);
                let began = Instant::now();
                self.camps[ci].dialer.handle_timeout(now);
                let took = began.elapsed();
                self.stats.decision(took);
                admin::metrics::pacing_decision(&self.camps[ci].name, took);
            }
        }
        self.drain_all().await;
    }

    /// Executes every pending dialer action of every campaign.
    pub(crate) async fn drain_all(&mut self) {
        for ci in 0..self.camps.len() {
            self.drain(ci).await;
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
        let c = &mut self.camps[ci];
        let extra = if c.paused || stopping || store_down {
            0
        } else {
            c.line_budget.min(c.buffer.len() as u32)
        };
        let in_use = c.dialer.lines_in_use();
        c.dialer.set_channels(in_use + extra);
        c.dialer.set_launch_limit(Some(extra));
    }

    /// Handles one message.
    pub(crate) async fn on_msg(&mut self, msg: Msg) {
        match msg {
            Msg::Leased { camp, result } => self.on_leased(camp, result),
            Msg::Begun { key, result } => self.on_begun(key, result).await,
            Msg::Written => self.pending = self.pending.saturating_sub(1),
            Msg::Rates { camp, day, month } => {
                if let Some(c) = self.camps.get_mut(camp) {
                    c.day = day;
                    c.month = month;
                    c.rates_read = true;
                }
                self.apply_budget(camp);
            }
            Msg::Overrides(rows) => self.apply_overrides(rows),
            Msg::Claimed(ids) => self.on_claimed(ids),
            Msg::NodeLost => self.on_node_lost(),
            Msg::Renewed(sent) => self.on_renewed(sent),
            Msg::StoreDown => self.on_store_down(),
            Msg::Session { agent, id } => self.on_session(agent, id),
            Msg::Trunk { key, trunk } => {
                if let (Some(c), Some(t)) = (self.calls.get_mut(&key), trunk) {
                    c.trunk = Some(t);
                }
            }
            Msg::Admin(cmd) => self.on_admin(cmd),
            Msg::Progress(p) => self.progress.push(p),
            Msg::Recovered(legs) => self.end_legs(legs).await,
        }
        self.drain_all().await;
    }

    /// Handles one SIP event.
    pub(crate) async fn on_sip(&mut self, ev: Event) {
        self.on_sip_event(ev);
        self.drain_all().await;
    }

    /// Queues a write the engine owes the store: it lands in order, retried until it does
    /// (`writes`); shutdown waits for every one (and spools what is left).
    pub(crate) fn queue_write(&mut self, w: Write) {
        self.pending += 1;
        self.writes.push(w);
    }

    /// Returns leased, undialled leads to the pool (a queued write).
    pub(crate) fn release_leases(&mut self, what: &'static str, ids: Vec<i64>) {
        if ids.is_empty() {
            return;
        }
        tracing::debug!(leads = ids.len(), "{what}");
        self.queue_write(Write::Release { leads: ids });
    }

    /// Calls in flight, pending writes and lease requests are all gone.
    pub(crate) fn idle(&self) -> bool {
        self.calls.is_empty()
            && self.inbound.is_empty()
            && self.pending == 0
            && self.progress.is_empty()
            && self.camps.iter().all(|c| !c.leasing)
    }

    /// No new call may be placed: the store is unreachable, or this node's row has gone two
    /// thirds of `node_ttl` without a renewal landing (checked on every decision, not only when
    /// housekeeping notices, so a node back from a stall never dials before it renews: `nodes`).
    pub(crate) fn dial_blocked(&self) -> bool {
        let ttl = self.cfg.node_ttl.0;
        self.store_down || self.last_renew.elapsed() >= ttl - ttl / 3
    }

    /// Campaign index by name.
    pub(crate) fn camp_ix(&self, name: &str) -> Result<usize, ControlError> {
        self.camps
            .iter()
            .position(|c| c.name == name)
            .ok_or_else(|| ControlError::NotFound(format!("campaign {name:?} is not running")))
    }
}

/// Sends `value` on a reply channel, ignoring a caller that went away.
pub(crate) fn reply<T>(tx: oneshot::Sender<T>, value: T) {
    let _ = tx.send(value);
}
