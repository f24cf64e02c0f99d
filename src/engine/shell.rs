//! The tokio shell around [`Core`]: it opens the store, binds SIP and the admin API, feeds
//! [`Core`] every input with the current instant, carries out the effects it drains (SIP
//! commands on the SIP task, store commands as spawned tasks whose results come back as
//! messages, writes into the ordered queue of `writes`, replies to supervisors) and sleeps until
//! [`Core::poll_timeout`]. It decides nothing: every rule is Core's.

use std::collections::HashMap;
use std::future::Future;
use std::io::IsTerminal;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};

use crate::media::recording::Recorder;
use crate::media::shell::{MediaShell, ShellConfig};
use crate::sip::driver::{self, Command, DriverGone, SipHandle};
use crate::sip::endpoint::{DialogSnapshot, EndpointConfig, LegSide};
use crate::sip::trunk::TrunkSet;
use crate::store::{OpenLeg, Store, WARM_START_CALLS, WARM_START_WINDOW_MS};

use super::control::EngineControl;
use super::core::{
    AdminReply, AdminRequest, CampaignId, Core, Effect, MediaSetup, PlaceFailure, ReplyId,
    SipCommand, SipInput, StoreCommand, StoreResult,
};
use super::writes::{self, WriteQueue};
use super::{EngineConfig, EngineError, Progress, RunSummary};

/// Messages waiting for the loop at most (store results, SIP replies, supervisor requests); a
/// sender beyond it waits (back-pressure), the loop never does.
const LOOP_CAPACITY: usize = 8192;

/// A message to the loop from a spawned task, the SIP task or the admin API.
pub(crate) enum ShellMsg {
    /// A store result.
    Store(StoreResult),
    /// A SIP reply that completed off the loop.
    Sip(SipInput),
    /// A supervisor request and where its answer goes.
    Admin(AdminRequest, oneshot::Sender<AdminReply>),
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
    if let Err(e) = crate::admin::metrics::install() {
        // Installed already (a second run in one process, as in tests): the first recorder
        // keeps serving /metrics.
        tracing::debug!(error = %e, "metrics recorder");
    }
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

    let (tx, mut rx) = mpsc::channel(LOOP_CAPACITY);
    let queue = WriteQueue::new(spool.clone(), cfg.writes.memory)?;
    let writer = writes::spawn_writer(store.clone(), queue.clone(), tx.clone());
    let admin_listener = crate::admin::bind(cfg.admin.listen)
        .await
        .map_err(|source| EngineError::Bind {
            what: "admin",
            addr: cfg.admin.listen,
            source,
        })?;
    let control = Arc::new(EngineControl::new(tx.clone(), store.clone(), sip.clone()));
    let pages = crate::web::WebState::new(
        control.clone(),
        cfg.admin.tokens.clone(),
        cfg.admin.session_ttl.0,
    );
    let router =
        crate::admin::router(control, cfg.admin.tokens.clone()).merge(crate::web::router(pages));
    let (admin_stop, admin_stopped) = oneshot::channel::<()>();
    let admin_task = tokio::spawn(crate::admin::serve_with(
        admin_listener,
        router,
        cfg.admin.limits(),
        async {
            // Dropped without a send also means stop.
            admin_stopped.await.ok();
        },
    ));

    // The media plane: worker threads that bind a leg's ports when the core opens it, with the
    // recording writer as the consumer of their tap.
    let mut media_cfg = ShellConfig::new(cfg.media.address);
    media_cfg.core.rtp_timeout = cfg.media.rtp_timeout.0;
    media_cfg.realtime_priority = cfg.media.realtime_priority;
    media_cfg.recordings = Box::new(Recorder::new());
    let mut media = MediaShell::start(media_cfg).map_err(|e| EngineError::Bind {
        what: "media",
        addr: std::net::SocketAddr::new(cfg.media.address, 0),
        source: std::io::Error::other(e.to_string()),
    })?;
    let mut media_events = media
        .take_events()
        .ok_or_else(|| EngineError::Config("media shell events taken twice".into()))?;
    // Recordings a crash of this (or any) node left open are made valid before new ones start.
    let rec_dirs: Vec<std::path::PathBuf> = defs
        .iter()
        .filter(|(_, def)| def.recording.mode != crate::campaign::media::RecordingMode::None)
        .map(|(name, def)| std::path::Path::new(&def.recording.dir).join(name))
        .collect();
    let sweep = crate::media::recording::stale::sweep(
        &rec_dirs,
        Duration::from_secs(10),
        std::time::SystemTime::now(),
    );
    for (path, secs) in &sweep.recovered {
        tracing::warn!(path = %path.display(), secs, "recording left open by a crash: closed");
    }
    for (path, why) in &sweep.failed {
        tracing::error!(path = %path.display(), %why, "recording left open by a crash: not recoverable");
    }
    let setups: Vec<(String, MediaSetup)> = defs
        .iter()
        .map(|(name, def)| {
            let setup = MediaSetup {
                abandon_prompt: def.abandon_message.as_ref().and_then(|m| m.prompt()),
                recording: def.recording.mode,
                recording_dir: def.recording.dir.clone().into(),
                ..MediaSetup::default()
            };
            (name.clone(), setup)
        })
        .collect();

    let defs_cpa: Vec<(String, crate::campaign::cpa::CampaignCpa)> = defs
        .iter()
        .map(|(name, def)| (name.clone(), def.cpa.clone()))
        .collect();
    let run_for = cfg.run_for.map(|d| d.0);
    let node = cfg.node.clone();
    let started = Instant::now();
    let mut core = Core::new(
        cfg,
        defs,
        agents,
        started,
        chrono::Utc::now().timestamp_millis(),
    )
    .map_err(EngineError::Campaign)?;
    for (name, setup) in setups {
        core.set_media_setup(&name, setup);
    }
    for (name, setup) in cpa_setups(&core, &defs_cpa)? {
        core.set_cpa(&name, Some(setup));
    }
    core.set_stopwatch(Instant::now);
    // Digest nonces for dial-in agents from the OS RNG: not guessable from earlier ones.
    core.set_auth_secret(rand::random());
    let mut shell = Shell {
        store: store.clone(),
        sip: sip.clone(),
        tx,
        queue: queue.clone(),
        media,
        replies: HashMap::new(),
        next_reply: 0,
    };
    // Before any agent is claimed: the agents of legs still up wait until those are ended.
    core.start(Instant::now(), rec.legs);
    shell.drain(&mut core).await;
    shell.warm_start(&mut core).await;

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
    let mut progress_tick = tokio::time::interval(Duration::from_secs(1));
    progress_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The first tick completes at once; the first line is due after a second.
    progress_tick.tick().await;
    let tty = std::io::stderr().is_terminal();
    loop {
        let wake = core
            .poll_timeout()
            .unwrap_or_else(|| Instant::now() + super::core::HOUSEKEEPING);
        tokio::select! {
            Some(ev) = sip_events.recv() => core.handle_sip(Instant::now(), SipInput::Event(ev)),
            Some(ev) = media_events.recv() => core.handle_media(Instant::now(), ev),
            Some(msg) = rx.recv() => shell.on_msg(&mut core, msg),
            _ = tokio::time::sleep_until(wake.into()) => core.handle_timeout(Instant::now()),
            _ = progress_tick.tick(), if progress == Progress::Line => {
                let line = core.progress_line(Instant::now());
                if tty {
                    eprint!("\r{line}");
                } else {
                    eprintln!("{line}");
                }
            }
            _ = &mut stop_signal, if !stop_requested => {
                stop_requested = true;
                core.begin_stop(Instant::now());
            }
        }
        shell.drain(&mut core).await;
        if core.is_done() {
            break;
        }
    }
    if progress == Progress::Line && tty {
        eprintln!();
    }
    let summary = core.summary(Instant::now());
    let lost = core.node_lost().then(|| node.clone());
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
    if let Err(e) = store.end_sessions(&node, wall).await {
        tracing::warn!(error = %e, "closing agent sessions");
    }
    if let Err(e) = store.release_agents(&node).await {
        tracing::warn!(error = %e, "releasing agent claims");
    }
    // Left open (calls or writes given up on): the row expires and another node, or the next
    // start of this one, recovers them.
    if core.idle() && lost.is_none() {
        if let Err(e) = store.deregister_node(&node).await {
            tracing::warn!(error = %e, "deregistering the node");
        }
    }
    if admin_stop.send(()).is_err() {
        tracing::debug!("admin server already stopped");
    }
    match admin_task.await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::warn!(error = %e, "admin server"),
        Err(e) => tracing::warn!(error = %e, "admin server task"),
    }
    drop(core);
    // Joins the media workers: every recording still open is closed validly.
    shell.media.stop();
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

/// What carries Core's effects out.
struct Shell {
    store: Store,
    sip: SipHandle,
    tx: mpsc::Sender<ShellMsg>,
    queue: WriteQueue,
    /// The media plane's workers.
    media: MediaShell,
    /// Supervisors waiting for their answer.
    replies: HashMap<ReplyId, oneshot::Sender<AdminReply>>,
    next_reply: u64,
}

impl Shell {
    /// Feeds one message to Core.
    fn on_msg(&mut self, core: &mut Core, msg: ShellMsg) {
        let now = Instant::now();
        match msg {
            ShellMsg::Store(r) => core.handle_store(now, r),
            ShellMsg::Sip(input) => core.handle_sip(now, input),
            ShellMsg::Admin(req, reply) => {
                let id = ReplyId(self.next_reply);
                self.next_reply += 1;
                self.replies.insert(id, reply);
                core.handle_admin(now, id, req);
            }
        }
    }

    /// Carries out every effect Core has decided, in order. The replies Core waits for in place
    /// (a placed call, the free lines, a leg being ended) are fed back before the next effect.
    async fn drain(&mut self, core: &mut Core) {
        while let Some(effect) = core.poll_effect() {
            match effect {
                Effect::Sip(cmd) => self.sip_command(core, cmd).await,
                Effect::Store(cmd) => self.store_command(cmd),
                Effect::Media(cmd) => self.media.send(cmd),
                Effect::Reply(id, reply) => match self.replies.remove(&id) {
                    Some(tx) => {
                        if tx.send(reply).is_err() {
                            tracing::debug!("supervisor went away before its answer");
                        }
                    }
                    None => tracing::error!(?id, "answer to an unknown supervisor request"),
                },
            }
        }
    }

    /// Reads each campaign's past calls and seeds its dialer with them.
    async fn warm_start(&mut self, core: &mut Core) {
        let wall = chrono::Utc::now().timestamp_millis();
        for (ci, name) in core.campaign_names().into_iter().enumerate() {
            match self
                .store
                .recent_calls(&name, wall - WARM_START_WINDOW_MS, WARM_START_CALLS, wall)
                .await
            {
                Ok(calls) => core.handle_store(
                    Instant::now(),
                    StoreResult::PastCalls {
                        camp: CampaignId(ci),
                        calls,
                    },
                ),
                Err(e) => {
                    tracing::warn!(campaign = %name, error = %e, "warm start: cannot read past calls; cold start");
                }
            }
        }
        self.drain(core).await;
    }

    async fn sip_command(&mut self, core: &mut Core, cmd: SipCommand) {
        match cmd {
            SipCommand::Place { key, req } => {
                let result = match self.sip.place(req).await {
                    Ok(Ok(ok)) => Ok(ok),
                    Ok(Err(e)) => Err(PlaceFailure::Refused(e)),
                    Err(DriverGone) => Err(PlaceFailure::DriverGone),
                };
                core.handle_sip(Instant::now(), SipInput::Placed { key, result });
            }
            SipCommand::FreeLines { groups } => {
                let mut free = Vec::with_capacity(groups.len());
                for g in groups {
                    let n = match self.sip.available_lines(g.clone()).await {
                        Ok(n) => n,
                        Err(e) => {
                            tracing::debug!(error = %e, "free lines: none");
                            0
                        }
                    };
                    free.push((g, n));
                }
                core.handle_sip(Instant::now(), SipInput::FreeLines(free));
            }
            SipCommand::EndLeg {
                snapshot,
                agent,
                attempt,
            } => {
                let call = match self.sip.restore_and_end(snapshot).await {
                    Ok(call) => call,
                    Err(e) => {
                        tracing::error!(error = %e, "leg left up not ended");
                        None
                    }
                };
                core.handle_sip(
                    Instant::now(),
                    SipInput::LegEnding {
                        call,
                        agent,
                        attempt,
                    },
                );
            }
            SipCommand::CallAgent { leg, req } => {
                let result = match self.sip.call_agent(req).await {
                    Ok(Ok(call)) => Ok(call),
                    Ok(Err(e)) => Err(e.to_string()),
                    Err(DriverGone) => Err(DriverGone.to_string()),
                };
                core.handle_sip(Instant::now(), SipInput::AgentPlaced { leg, result });
            }
            other => self.post(other).await,
        }
    }

    /// SIP commands whose result Core does not wait for in place: sent (waiting while the SIP
    /// task's queue is full); a reply Core wants comes back through the loop's channel.
    async fn post(&mut self, cmd: SipCommand) {
        let tx = self.tx.clone();
        let cmd = match cmd {
            SipCommand::Connect { call, agent, shown } => Command::Connect {
                call,
                agent,
                shown: Some(shown),
                reply: None,
            },
            SipCommand::Announce { call, announcement } => Command::Connect {
                call,
                agent: announcement,
                shown: None,
                reply: None,
            },
            SipCommand::Abandon { call, announcement } => Command::Abandon {
                call,
                announcement,
                reply: None,
            },
            SipCommand::Hangup { call } => Command::Hangup {
                calls: vec![call],
                reply: None,
            },
            SipCommand::Ring { call } => Command::Ring { call, reply: None },
            SipCommand::Answer { call, sdp } => Command::Answer {
                call,
                sdp: Some(sdp),
                headers: Vec::new(),
                reply: None,
            },
            SipCommand::Reject { call, code } => Command::Reject {
                call,
                code,
                reply: None,
            },
            SipCommand::Challenge {
                call,
                realm,
                nonce,
                stale,
            } => Command::Challenge {
                call,
                realm,
                nonce,
                stale,
                reply: None,
            },
            SipCommand::QueryTrunk { key, call } => {
                let (reply, rx) = oneshot::channel();
                tokio::spawn(async move {
                    // No answer only when the SIP task is gone (exiting): the trunk stays as
                    // known.
                    if let Ok(trunk) = rx.await {
                        forward(&tx, ShellMsg::Sip(SipInput::Trunk { key, trunk })).await;
                    }
                });
                Command::CallTrunk {
                    call,
                    reply: Some(reply),
                }
            }
            SipCommand::CompleteProgress { call, mut progress } => {
                let (reply, rx) = oneshot::channel();
                tokio::spawn(async move {
                    let Ok((trunk, dialogs)): Result<(Option<String>, Vec<DialogSnapshot>), _> =
                        rx.await
                    else {
                        tracing::error!("sip driver gone: call progress not recorded");
                        return;
                    };
                    progress.trunk = trunk;
                    for d in dialogs.iter() {
                        match d.side {
                            LegSide::Customer => progress.customer_dialog = Some(d.to_json()),
                            LegSide::Agent => progress.agent_dialog = Some(d.to_json()),
                        }
                    }
                    forward(&tx, ShellMsg::Sip(SipInput::Progress(progress))).await;
                });
                Command::Dialogs {
                    call,
                    reply: Some(reply),
                }
            }
            SipCommand::PushTrunkGauges => Command::PushGauges,
            SipCommand::Place { .. }
            | SipCommand::FreeLines { .. }
            | SipCommand::EndLeg { .. }
            | SipCommand::CallAgent { .. } => {
                unreachable!("answered in place by sip_command")
            }
        };
        if let Err(e) = self.sip.send(cmd).await {
            // Only once the SIP task is gone (the engine is exiting): no call left to act on.
            tracing::debug!(error = %e, "sip command not sent");
        }
    }

    /// Store commands run as tasks; their results come back as messages.
    fn store_command(&mut self, cmd: StoreCommand) {
        let (store, tx) = (self.store.clone(), self.tx.clone());
        let send = |tx: mpsc::Sender<ShellMsg>, r: StoreResult| async move {
            forward(&tx, ShellMsg::Store(r)).await;
        };
        match cmd {
            StoreCommand::Write(w) => self.queue.push(w),
            StoreCommand::OptOut {
                attempt,
                phone,
                wall_ms,
            } => {
                tokio::spawn(async move {
                    // The number and the call record's flag in one transaction; a record not
                    // written yet (its begin still queued) still gets the number listed.
                    let listed = match store.opt_out(attempt, &phone, wall_ms).await {
                        Err(crate::store::StoreError::UnknownAttempt(_)) => store
                            .add_dnc(std::slice::from_ref(&phone), "opt-out", wall_ms)
                            .await
                            .map(|_| true),
                        other => other,
                    };
                    match listed {
                        Ok(_) => tracing::info!(attempt, "opt-out: number on the do-not-call list"),
                        Err(e) => {
                            tracing::error!(attempt, error = %e, "opt-out: number NOT put on the do-not-call list")
                        }
                    }
                });
            }
            StoreCommand::Lease {
                camp,
                campaign,
                n,
                wall_ms,
                node,
                ttl_ms,
            } => {
                tokio::spawn(async move {
                    let result = store.lease(&campaign, n, wall_ms, &node, ttl_ms).await;
                    send(tx, StoreResult::Leased { camp, result }).await;
                });
            }
            StoreCommand::LeaseOwned {
                camp,
                campaign,
                agents,
                wall_ms,
                node,
                ttl_ms,
            } => {
                tokio::spawn(async move {
                    let result = store
                        .lease_owned(&campaign, &agents, wall_ms, &node, ttl_ms)
                        .await;
                    send(tx, StoreResult::LeasedOwned { camp, result }).await;
                });
            }
            StoreCommand::BeginAttempt {
                key,
                lead,
                node,
                wall_ms,
            } => {
                tokio::spawn(async move {
                    let result = store.begin_attempt(lead, &node, wall_ms).await;
                    send(tx, StoreResult::Begun { key, result }).await;
                });
            }
            StoreCommand::RenewNode {
                sent,
                node,
                wall_ms,
                ttl_ms,
            } => {
                tokio::spawn(async move {
                    let r = match store.renew_node(&node, wall_ms, ttl_ms).await {
                        Ok(true) => StoreResult::Renewed(sent),
                        Ok(false) => StoreResult::NodeLost,
                        Err(e) => {
                            tracing::warn!(error = %e, "renewing this node's liveness row");
                            StoreResult::StoreDown
                        }
                    };
                    send(tx, r).await;
                });
            }
            StoreCommand::ReapDeadNodes { node, wall_ms } => {
                tokio::spawn(async move {
                    match store.reap_dead_nodes(wall_ms, &node).await {
                        Ok(reaped) => {
                            let legs: Vec<OpenLeg> = reaped
                                .iter()
                                .flat_map(|d| d.recovered.legs.clone())
                                .collect();
                            if !legs.is_empty() {
                                send(tx, StoreResult::Recovered(legs)).await;
                            }
                            for d in reaped {
                                tracing::warn!(
                                    node = %d.node,
                                    by = %node,
                                    attempts_closed = d.recovered.attempts_closed,
                                    leases_released = d.recovered.leases_released,
                                    legs_to_end = d.recovered.legs.len(),
                                    sessions_ended = d.sessions_ended,
                                    agents_released = d.agents_released,
                                    "recovered a node whose liveness row expired"
                                );
                            }
                        }
                        Err(e) => tracing::error!(error = %e, "recovering dead nodes"),
                    }
                });
            }
            StoreCommand::ClaimAgents {
                node,
                ids,
                wall_ms,
                ttl_ms,
            } => {
                tokio::spawn(async move {
                    match store.claim_agents(&node, &ids, wall_ms, ttl_ms).await {
                        Ok(got) => send(tx, StoreResult::Claimed(got)).await,
                        Err(e) => tracing::error!(error = %e, "agent claims"),
                    }
                });
            }
            StoreCommand::ReadOverrides => {
                tokio::spawn(async move {
                    match store.overrides().await {
                        Ok(rows) => send(tx, StoreResult::Overrides(rows)).await,
                        Err(e) => tracing::warn!(error = %e, "reading pacing overrides"),
                    }
                });
            }
            StoreCommand::ReadRates {
                camp,
                campaign,
                wall_ms,
            } => {
                tokio::spawn(async move {
                    let day = store.abandon_counts(&campaign, wall_ms - 86_400_000).await;
                    let month = store
                        .abandon_counts(&campaign, wall_ms - 30 * 86_400_000)
                        .await;
                    match (day, month) {
                        (Ok(day), Ok(month)) => {
                            send(tx, StoreResult::Rates { camp, day, month }).await
                        }
                        (Err(e), _) | (_, Err(e)) => {
                            tracing::warn!(campaign = %campaign, error = %e, "reading abandon figures");
                        }
                    }
                });
            }
        }
    }
}

/// Sends `msg` to the loop, waiting while its channel is full.
pub(crate) async fn forward(tx: &mpsc::Sender<ShellMsg>, msg: ShellMsg) {
    if tx.send(msg).await.is_err() {
        // The loop is gone only when the engine exits: nothing is left to update then.
        tracing::debug!("engine loop gone: message dropped at exit");
    }
}

/// Each campaign's call-progress analysis, for those whose calls are anchored and that do not
/// turn it off: the thresholds, the policy, and the known announcements loaded once here (a
/// folder that cannot be read stops the start, naming the campaign and the file).
fn cpa_setups(
    core: &Core,
    defs: &[(String, crate::campaign::cpa::CampaignCpa)],
) -> Result<Vec<(String, crate::engine::core::CpaSetup)>, EngineError> {
    let mut out = Vec::new();
    for (name, cpa) in defs {
        if !cpa.runs(core.anchored(name)) {
            continue;
        }
        let library = match &cpa.announcements {
            Some(dir) => {
                let lib = crate::cpa::fingerprint::Library::load_dir(dir).map_err(|e| {
                    EngineError::Config(format!("campaign {name}: cpa.announcements: {e}"))
                })?;
                tracing::info!(campaign = %name, dir = %dir.display(), references = lib.len(), "known announcements loaded");
                Some(crate::media::io::Announcements(Arc::new(lib)))
            }
            None => None,
        };
        out.push((
            name.clone(),
            crate::engine::core::CpaSetup {
                settings: Arc::new(cpa.settings.clone()),
                library,
                policy: cpa.policy.clone(),
            },
        ));
    }
    Ok(out)
}
