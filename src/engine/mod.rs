//! The live engine (`outdial run`): a thin tokio shell, shaped like mini-redis's server, around
//! the same sans-IO pacing core the simulator drives. It leases leads from the store, lets each
//! campaign's [`Dialer`](crate::pacing::dialer::Dialer) decide how many calls to place, places
//! them over SIP trunks, joins answered customers to agents (RFC 3725 flow I), writes a call
//! record for every attempt and lets the store schedule the retry.
//!
//! Owns the wiring and the order of effects, not the rules: compliance is the store's (lease and
//! `begin_attempt`, atomically), pacing is the dialer's, signalling is the SIP layer's.
//!
//! # Crash safety
//! The lease and the attempt row are committed before the INVITE leaves, and what each call
//! reaches (ringing, answered live or machine, connected to an agent, the SIP dialogs of its
//! legs) is written as it happens, batched every 100 ms. After a crash, the restarted node (same
//! `node` name) closes its open attempts with what they reached (`interrupted` for a call that
//! was connected, `abandoned` for a live answer still waiting for an agent, `unknown` before an
//! answer), sends BYE on every customer and agent leg that was up (its agents get no call before
//! their old leg is ended), and returns its undialled leases to the pool. A 2xx for a dialog the
//! node does not know (a customer who answered during the outage) is ACKed and ended at once. A
//! node that never comes back stops renewing its liveness row (`node_ttl`); once it expires, any
//! other node on the store does the same recovery for it (`store::nodes`), and a node that finds
//! its row reaped stops dialling, hangs up and exits with an error, so its leads are never
//! dialled by two nodes.
//!
//! # Store outages
//! Every write the engine owes the store (call records and milestones, agent dispositions and
//! sessions, released leases, supervisor changes) goes through one ordered queue and is retried
//! until it lands, past a memory bound into a spool file replayed at the next start (`writes`;
//! backlog in `/metrics`). While the store is unreachable no lease is taken and no call placed;
//! calls in progress go on and are recorded when it returns. The node resumes by itself once a
//! renewal of its liveness row lands, unless another node reaped the row meanwhile (`nodes`).
//! On SIGTERM/SIGINT the engine stops dialling, lets connected calls and agents' wrap-ups finish
//! within `shutdown_grace`, releases its leases and agents, and exits 0. At the end of the grace,
//! calls still connected to an agent are hung up and recorded `shutdown` (a live, connected
//! answer, retried by the campaign's `shutdown` rule: by default after an hour), and every call
//! whose agent is still in wrap-up at exit gets the agent disposition `not_set` instead of none.
//!
//! # Inbound calls
//! Only INVITEs from a trunk are customers: the SIP layer answers 403 to requests outside a dialog
//! from anyone but the trunks, the agents and `sip.accept_from`, and an INVITE from an agent's
//! address is refused too; neither leaves a record. A trunk's caller waits in the inbound
//! campaign's queue for an agent; when no logged-in agent of that campaign has the inbound
//! skill it is refused at once (`sip.inbound_refuse_status`, reason `no_agent`), and a waiting
//! caller counts in pacing only where a blended agent could take it from outbound work. At most
//! `sip.inbound_queue_cap` at once, at most `sip.inbound_queue_timeout`; beyond either the caller gets `sip.inbound_refuse_status` (486),
//! or at the timeout the campaign's announcement (`sip.inbound_timeout_announcement`), counted
//! in `outdial_inbound_refused_total`, and pacing stops counting it.
//!
//! # Several engines, one centre
//! Engines sharing one PostgreSQL store lease disjoint leads (`FOR UPDATE SKIP LOCKED`), own
//! disjoint agents (claims that expire when a node dies), read one campaign-wide abandon figure
//! (the call records of every node) and share supervisor changes through the store.
//!
//! # Layout
//! - `config`: the config file.
//! - `clock`: wall time for the store, scaled pacing time for the dialers.
//! - `core`: the state and message types; `calls`: leases, dialling, SIP events, call records;
//!   `agents`: agent homes, wrap-up, claims; `nodes`: liveness, store outages and recovery of
//!   dead nodes; `writes`: the ordered, retried queue of store writes and its spool;
//!   `control`: supervisor commands; `stats`: figures.

mod agents;
mod calls;
mod clock;
pub mod config;
mod control;
mod core;
mod nodes;
mod stats;
mod warm;
pub mod writes;

use std::future::Future;
use std::io::IsTerminal;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};

use crate::sip::driver;
use crate::sip::endpoint::EndpointConfig;
use crate::sip::trunk::TrunkSet;
use crate::store::{Store, StoreError};

pub use clock::Clock;
pub use config::EngineConfig;
pub use control::EngineControl;
pub use stats::{CampaignSummary, RunSummary};

use self::core::{Engine, Msg, HOUSEKEEPING};

/// Why the engine could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The config names something that does not exist or does not fit.
    #[error("config: {0}")]
    Config(String),
    /// The spool of writes owed to the store could not be read or written.
    #[error(transparent)]
    Spool(#[from] writes::SpoolError),
    /// A socket could not be bound.
    #[error("cannot listen on {what} {addr}: {source}")]
    Bind {
        /// `sip` or `admin`.
        what: &'static str,
        /// The address.
        addr: std::net::SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// Another node reaped this node's liveness row while it could not renew it (see
    /// `node_ttl`) and took its calls over; it stopped.
    #[error(
        "node {0}: another node took this node's calls over (its liveness row was reaped after \
         node_ttl without renewal), so it stopped dialling and hung up; restart it to dial again"
    )]
    NodeLost(String),
}

/// Housekeeping ticks between two progress lines: one second.
const PROGRESS_TICKS: u64 = 1_000 / HOUSEKEEPING.as_millis() as u64;

/// How the run reports progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// Nothing but logs.
    Quiet,
    /// A progress line on stderr every second: rewritten in place on a terminal, one line a
    /// second otherwise (a log file or a pipe).
    Line,
}

/// Runs the engine until `shutdown` completes (or `run_for` passes), then stops gracefully and
/// returns the run's figures. `db_url` is used when the config names no store.
pub async fn run(
    cfg: EngineConfig,
    db_url: &str,
    shutdown: impl Future<Output = ()> + Send + 'static,
    progress: Progress,
) -> Result<RunSummary, EngineError> {
    let url = cfg.store.clone().unwrap_or_else(|| db_url.to_string());
    let store = Store::open(&url).await?;
    let mut defs = Vec::new();
    for c in &cfg.campaigns {
        let rec = store.campaign(&c.name).await?;
        defs.push((c.name.clone(), rec.def.clone()));
    }
    // Writes an earlier run could not deliver land before its open calls are recovered (a call
    // record in the spool is the truth; recovery would only guess what the call reached).
    let spool = cfg.spool_path();
    writes::replay_spool(&store, &spool).await?;
    let wall = chrono::Utc::now().timestamp_millis();
    let rec = store.recover_node(&cfg.node, wall).await?;
    if rec.attempts_closed + rec.leases_released > 0 {
        tracing::warn!(
            node = %cfg.node,
            attempts_closed = rec.attempts_closed,
            leases_released = rec.leases_released,
            legs_to_end = rec.legs.len(),
            "recovered what an earlier run of this node left open"
        );
    }
    store
        .register_node(&cfg.node, wall, cfg.node_ttl.0.as_millis() as i64)
        .await?;
    store.end_sessions(&cfg.node, wall).await?;
    let _ = crate::admin::metrics::install();
    let agents = cfg
        .agent_specs()
        .map_err(|(f, m)| EngineError::Config(format!("{f}: {m}")))?;
    let trunks = TrunkSet::new(&cfg.trunks()).map_err(|e| EngineError::Config(e.to_string()))?;
    for c in &defs {
        // A definition stored by an older version may predate a bound: it is not run.
        if let Err((field, m)) = c.1.dialing.check() {
            return Err(EngineError::Config(format!(
                "campaign {} in the store: {field}: {m} (fix its file and apply it again)",
                c.0
            )));
        }
        if trunks.group(&c.1.trunk_group).is_none() {
            return Err(EngineError::Config(format!(
                "campaign {} uses trunk group {:?}, which sip.groups does not define",
                c.0, c.1.trunk_group
            )));
        }
    }
    let mut ep_cfg = EndpointConfig::new(cfg.sip.listen);
    ep_cfg.seed = seed_of(&cfg.node);
    // Requests outside a dialog: trunks (the endpoint adds them), agents and `accept_from` only.
    ep_cfg.accept_from = Some(
        agents
            .iter()
            .map(|a| a.uri.addr().ip())
            .chain(cfg.sip.accept_from.iter().copied())
            .collect(),
    );
    let (sip, mut sip_events, sip_task) =
        driver::spawn_with(cfg.sip.listen, ep_cfg, trunks, cfg.sip.tcp.limits())
            .await
            .map_err(|source| EngineError::Bind {
                what: "sip",
                addr: cfg.sip.listen,
                source,
            })?;
    tracing::info!(addr = %sip.local_addr(), node = %cfg.node, "sip listening");

    let (tx, mut rx) = mpsc::unbounded_channel();
    let queue = writes::WriteQueue::new(spool.clone(), cfg.writes.memory)?;
    let writer = writes::spawn_writer(store.clone(), queue.clone(), tx.clone());
    let admin_listener = crate::admin::bind(cfg.admin.listen)
        .await
        .map_err(|source| EngineError::Bind {
            what: "admin",
            addr: cfg.admin.listen,
            source,
        })?;
    let control = Arc::new(EngineControl::new(tx.clone(), store.clone()));
    let router = crate::admin::router(control, cfg.admin.tokens.clone());
    let (admin_stop, admin_stopped) = oneshot::channel::<()>();
    let admin_task = tokio::spawn(crate::admin::serve_with(
        admin_listener,
        router,
        cfg.admin.limits(),
        async {
            let _ = admin_stopped.await;
        },
    ));

    let run_for = cfg.run_for.map(|d| d.0);
    let grace = cfg.shutdown_grace.0;
    let mut engine = Engine::new(
        cfg,
        store.clone(),
        sip.clone(),
        defs,
        agents,
        tx,
        queue.clone(),
    )
    .map_err(EngineError::Config)?;
    // No campaign dials faster than progressive before its abandon budget is read.
    for ci in 0..engine.camps.len() {
        engine.apply_budget(ci);
    }
    // Before any agent is claimed: the agents of legs still up wait until those are ended.
    engine.end_legs(rec.legs).await;
    engine.renew_claims();
    engine.warm_start().await;

    // Bounded by the config check (`MAX_RUN_FOR`); checked anyway, as a config built in code
    // skips it.
    let deadline = run_for.and_then(|d| Instant::now().checked_add(d));
    let stop_signal = async move {
        match deadline {
            Some(at) => {
                tokio::select! {
                    _ = shutdown => {}
                    _ = tokio::time::sleep_until(at.into()) => {}
                }
            }
            None => shutdown.await,
        }
    };
    tokio::pin!(stop_signal);
    let mut stop_requested = false;
    let mut housekeeping = tokio::time::interval(HOUSEKEEPING);
    housekeeping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut ticks: u64 = 0;
    let tty = std::io::stderr().is_terminal();
    let mut hung_up = false;
    loop {
        let wake = engine.next_wake();
        tokio::select! {
            Some(ev) = sip_events.recv() => engine.on_sip(ev).await,
            Some(msg) = rx.recv() => engine.on_msg(msg).await,
            _ = tokio::time::sleep_until(wake.into()) => engine.on_timers().await,
            _ = housekeeping.tick() => {
                ticks += 1;
                engine.housekeeping(ticks).await;
                if progress == Progress::Line && ticks.is_multiple_of(PROGRESS_TICKS) {
                    let line = engine.progress_line();
                    if tty {
                        eprint!("\r{line}");
                    } else {
                        eprintln!("{line}");
                    }
                }
            }
            _ = &mut stop_signal, if !stop_requested => {
                stop_requested = true;
                if engine.stopping.is_none() {
                    engine.begin_stop(grace);
                }
            }
        }
        if let Some(until) = engine.stopping {
            // Agents may finish their wrap-ups within the grace (their codes reschedule leads);
            // those still open at exit are closed as "not set", and the exit waits for it.
            let past_grace = Instant::now() >= until;
            if engine.idle()
                && (past_grace || !engine.wrapping_up())
                && engine.close_wrap_ups() == 0
            {
                break;
            }
            if Instant::now() >= until && !hung_up {
                hung_up = true;
                engine.hang_up_all();
            }
            if Instant::now() >= until + Duration::from_secs(10) {
                tracing::error!(
                    calls = engine.calls.len(),
                    writes = engine.pending,
                    "shutdown: giving up on calls and writes still open (recovered at next start)"
                );
                break;
            }
        }
    }
    if progress == Progress::Line && tty {
        eprintln!();
    }
    let summary = engine.summary();
    let lost = engine.node_lost.then(|| engine.cfg.node.clone());
    // Writes still queued (the store stayed away through the grace) wait in the spool for the
    // next start; one the writer was sending may land twice, which every write allows.
    writer.abort();
    match queue.spill() {
        Ok(0) => {}
        Ok(n) => tracing::error!(
            writes = n,
            spool = %spool.display(),
            "store writes not delivered: spooled for the next start of this node"
        ),
        Err(e) => tracing::error!(error = %e, "store writes not delivered and not spooled"),
    }
    let wall = chrono::Utc::now().timestamp_millis();
    if let Err(e) = store.end_sessions(&engine.cfg.node, wall).await {
        tracing::warn!(error = %e, "closing agent sessions");
    }
    if let Err(e) = store.release_agents(&engine.cfg.node).await {
        tracing::warn!(error = %e, "releasing agent claims");
    }
    // Left open (calls or writes given up on): the row expires and another node, or the next
    // start of this one, recovers them.
    if engine.idle() && lost.is_none() {
        if let Err(e) = store.deregister_node(&engine.cfg.node).await {
            tracing::warn!(error = %e, "deregistering the node");
        }
    }
    let _ = admin_stop.send(());
    let _ = admin_task.await;
    drop(engine);
    drop(sip);
    sip_task.abort();
    store.close().await;
    if let Some(node) = lost {
        return Err(EngineError::NodeLost(node));
    }
    Ok(summary)
}

fn seed_of(node: &str) -> u64 {
    node.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    }) ^ std::process::id() as u64
}

impl Engine {
    /// Periodic work: line budgets, leases, agent homes, figures, claims.
    async fn housekeeping(&mut self, tick: u64) {
        self.update_lines().await;
        self.refill_leases();
        if tick % 10 == 1 {
            self.rebalance();
            self.push_metrics();
            self.poll_overrides();
        }
        if tick % 100 == 1 {
            self.renew_claims();
            self.refresh_rates();
        }
        self.node_liveness(tick);
        self.flush_progress();
        self.expire_holds();
        self.expire_inbound();
        self.drain_all().await;
    }

    /// Tells each dialer how many lines it may hold: trunk lines free (shared by the campaigns on
    /// a group in priority order) capped by the leads at hand; none while paused or stopping.
    async fn update_lines(&mut self) {
        let mut order: Vec<usize> = (0..self.camps.len()).collect();
        order.sort_by_key(|&ci| std::cmp::Reverse(self.camps[ci].def.priority));
        let mut free: std::collections::HashMap<String, u32> = Default::default();
        let blocked = self.dial_blocked();
        for ci in order {
            let group = self.camps[ci].def.trunk_group.clone();
            if !free.contains_key(&group) {
                let avail = self.sip.available_lines(group.clone()).await.unwrap_or(0);
                // Calls committed but not yet placed hold no trunk channel yet.
                let unplaced = self.calls.values().filter(|c| c.sip.is_none()).count() as u32;
                free.insert(group.clone(), avail.saturating_sub(unplaced));
            }
            let left = free.get(&group).copied().unwrap_or(0);
            let c = &mut self.camps[ci];
            let take = if c.paused || self.stopping.is_some() || blocked {
                0
            } else {
                left.min(c.buffer.len() as u32)
            };
            if let Some(f) = free.get_mut(&group) {
                *f -= take;
            }
            c.line_budget = take;
            self.sync_channels(ci);
        }
    }

    /// Reads supervisor overrides written by any node.
    fn poll_overrides(&mut self) {
        let (store, tx) = (self.store.clone(), self.tx.clone());
        tokio::spawn(async move {
            match store.overrides().await {
                Ok(rows) => {
                    let rows = rows.into_iter().map(|(n, o, _)| (n, o)).collect();
                    let _ = tx.send(Msg::Overrides(rows));
                }
                Err(e) => tracing::warn!(error = %e, "reading pacing overrides"),
            }
        });
    }

    /// Reads the campaign-wide abandon figures over 24 h and 30 days.
    fn refresh_rates(&mut self) {
        let wall = self.clock.wall_ms();
        for ci in 0..self.camps.len() {
            let (store, tx, name) = (
                self.store.clone(),
                self.tx.clone(),
                self.camps[ci].name.clone(),
            );
            tokio::spawn(async move {
                let day = store.abandon_counts(&name, wall - 86_400_000).await;
                let month = store.abandon_counts(&name, wall - 30 * 86_400_000).await;
                if let (Ok(day), Ok(month)) = (day, month) {
                    let _ = tx.send(Msg::Rates {
                        camp: ci,
                        day,
                        month,
                    });
                }
            });
        }
    }

    /// SIGTERM: no new calls, buffered leases back to the pool, connected calls go on.
    fn begin_stop(&mut self, grace: Duration) {
        tracing::info!(?grace, "stopping: no new calls; connected calls may finish");
        let grace = grace.min(config::MAX_SHUTDOWN_GRACE);
        self.stopping = Some(Instant::now() + grace);
        let mut ids = Vec::new();
        for c in &mut self.camps {
            c.dialer.set_channels(c.dialer.lines_in_use());
            ids.extend(c.buffer.drain(..).map(|(_, l)| l.lead_id));
        }
        self.release_leases("release leases", ids);
        // Agents stay logged in: calls still ringing may be answered and must find one.
    }

    /// Grace is over: hang up every call left. A call connected to an agent is recorded
    /// `shutdown` (interrupted by us); one still ringing is cancelled (`no_answer`, by its 487);
    /// a customer answered and still waiting for an agent is an abandon, as a regulator counts it.
    fn hang_up_all(&mut self) {
        for rec in self.calls.values_mut() {
            rec.cut_by_shutdown = true;
        }
        let calls: Vec<_> = self.by_sip.keys().copied().collect();
        tracing::warn!(calls = calls.len(), "grace period over: hanging up");
        for call in calls {
            let _ = self.sip.post(move |ep, now| {
                let _ = ep.hangup(now, call);
            });
        }
    }
}
