//! The writes the engine owes the store, and their delivery: one ordered queue, written by one
//! task, each write retried until it lands. Owns the queue, the spool file and the retry rule; the
//! writes themselves are the store's (`Store::finish_attempt`, `record_progress`, …).
//!
//! - **Order.** Writes about one thing land in the order the loop queued them (a call's
//!   milestones before its record, its record before its agent's disposition). The writer sends
//!   several writes at once on PostgreSQL ([`parallel`]), taken from the front of the queue as
//!   long as none is about the same call, lead, agent or campaign as another of them
//!   ([`Write::keys`]); the next ones wait until all of those landed. One at a time, PostgreSQL
//!   call records ran at 261–822/s on the loaded test machine, below what a busy engine writes
//!   (BENCHMARKS.md). SQLite has one writer: there, concurrent writes only contend.
//! - **Never dropped.** A write that fails because the store is unreachable
//!   ([`StoreError::is_transient`]) is retried with a backoff (50 ms doubling to 2 s) until it
//!   lands. One the store refuses for good (an answer, not an outage: a campaign deleted, an
//!   attempt another node recovered) is logged with its content and skipped: retrying it would
//!   block every write behind it forever.
//! - **Bounded memory.** At most `writes.memory` writes are held in memory; past that, new writes
//!   are appended (JSON, one per line) to the spool file `writes.spool`, and once anything is
//!   spooled every later write goes there too, so the order holds. The writer reads the spool
//!   back as memory frees up. At exit, writes still queued are put in the spool (memory first),
//!   and the next start replays the spool before it recovers anything
//!   ([`replay_spool`]).
//! - **Idempotent.** A write whose reply was lost (it committed, the connection dropped) is sent
//!   again: every write here is safe to apply twice (a finished attempt or a given disposition
//!   answers "already done", which counts as landed; milestones, releases and overrides set
//!   values; inbound records and session starts look for their own earlier row first).
//!
//! The backlog (memory and spool) is the `outdial_store_backlog` gauge in `/metrics`.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, Notify};

use crate::admin::metrics;
use crate::campaign::CallDisposition;
use crate::store::{
    AgentWrapUp, AttemptOutcome, CallProgress, InboundRecord, PacingOverride, Store, StoreError,
};

use super::core::{AgentIdx, StoreResult};
use super::shell::{forward, ShellMsg};

/// Writes sent to a PostgreSQL store at once (its pool has 8 connections; leases, attempts and
/// renewals need some too).
pub const PARALLEL: usize = 4;

/// Writes the writer sends at once to `store`: [`PARALLEL`] on PostgreSQL, one on SQLite (one
/// writer at a time: concurrent write transactions only wait for each other's lock).
pub fn parallel(store: &Store) -> usize {
    match store.backend() {
        "sqlite" => 1,
        _ => PARALLEL,
    }
}

/// First retry delay after a transient failure; doubled up to [`MAX_BACKOFF`].
const MIN_BACKOFF: Duration = Duration::from_millis(50);
/// Longest delay between two tries of one write.
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// One write the engine owes the store.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "write", rename_all = "snake_case")]
pub enum Write {
    /// A call's milestones (`Store::record_progress`).
    Progress {
        /// The milestones, in the order they happened.
        batch: Vec<CallProgress>,
    },
    /// A call record (`Store::finish_attempt`).
    Finish {
        /// The attempt.
        attempt: i64,
        /// What the call reached.
        outcome: AttemptOutcome,
    },
    /// An agent's wrap-up code (`Store::apply_agent_disposition`; DNC adds included).
    Disposition {
        /// The attempt the agent wrapped up.
        attempt: i64,
        /// The code.
        disposition: CallDisposition,
        /// When to call back (`callback`).
        callback_at_ms: Option<i64>,
        /// When the wrap-up ended, epoch ms.
        wall_ms: i64,
        /// The agent who gave it (a callback becomes theirs; absent in older spools).
        #[serde(default)]
        agent: Option<String>,
        /// The agent's note.
        #[serde(default)]
        note: Option<String>,
    },
    /// No wrap-up code at exit (`Store::mark_agent_disposition_not_set`).
    DispositionNotSet {
        /// The attempt.
        attempt: i64,
        /// When the engine gave up on the wrap-up, epoch ms.
        wall_ms: i64,
    },
    /// A staffed interval opens; its id goes back to the loop as `StoreResult::Session` for agent
    /// index `agent_ix` of this run.
    SessionStart {
        /// The agent's index in this run's config.
        agent_ix: usize,
        /// The agent id.
        agent: String,
        /// The campaign it works.
        campaign: String,
        /// This node.
        node: String,
        /// When the interval opened, epoch ms.
        wall_ms: i64,
    },
    /// A staffed interval closes.
    SessionEnd {
        /// The session row.
        id: i64,
        /// When it closed, epoch ms.
        wall_ms: i64,
    },
    /// An inbound call record.
    Inbound {
        /// The record.
        record: InboundRecord,
    },
    /// A call not placed because its attempt's commit got no reply (`Store::close_undialled`).
    Undialled {
        /// The lead.
        lead: i64,
        /// This node.
        node: String,
        /// The attempt's dial time as sent.
        dial_ms: i64,
    },
    /// Undialled leases back to the pool.
    Release {
        /// The leads.
        leads: Vec<i64>,
    },
    /// A supervisor's pacing change.
    Override {
        /// The campaign.
        campaign: String,
        /// What changed.
        change: PacingOverride,
        /// When, epoch ms.
        wall_ms: i64,
    },
}

/// What a write is about: two writes about the same thing never land out of order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Key {
    /// An attempt (its milestones, record, agent code).
    Attempt(i64),
    /// A lead.
    Lead(i64),
    /// An agent.
    Agent(String),
    /// A session row.
    Session(i64),
    /// A campaign's settings.
    Campaign(String),
}

impl Write {
    /// What this write is about ([`Key`]); an inbound record is about nothing another write
    /// touches.
    pub fn keys(&self) -> Vec<Key> {
        match self {
            Write::Progress { batch } => batch.iter().map(|p| Key::Attempt(p.attempt)).collect(),
            Write::Finish { attempt, .. }
            | Write::Disposition { attempt, .. }
            | Write::DispositionNotSet { attempt, .. } => vec![Key::Attempt(*attempt)],
            Write::SessionStart { agent, .. } => vec![Key::Agent(agent.clone())],
            Write::SessionEnd { id, .. } => vec![Key::Session(*id)],
            Write::Inbound { .. } => Vec::new(),
            Write::Undialled { lead, .. } => vec![Key::Lead(*lead)],
            Write::Release { leads } => leads.iter().map(|l| Key::Lead(*l)).collect(),
            Write::Override { campaign, .. } => vec![Key::Campaign(campaign.clone())],
        }
    }

    /// A short name for logs.
    pub fn what(&self) -> &'static str {
        match self {
            Write::Progress { .. } => "call progress",
            Write::Finish { .. } => "finish attempt",
            Write::Disposition { .. } => "agent disposition",
            Write::DispositionNotSet { .. } => "agent disposition not set",
            Write::SessionStart { .. } => "agent session start",
            Write::SessionEnd { .. } => "agent session end",
            Write::Inbound { .. } => "inbound call record",
            Write::Undialled { .. } => "close an undialled attempt",
            Write::Release { .. } => "release leases",
            Write::Override { .. } => "pacing override",
        }
    }
}

/// What applying a write gave back.
#[derive(Debug, PartialEq, Eq)]
pub enum Landed {
    /// Written (or found written by an earlier try).
    Done,
    /// A session row's id (for [`Write::SessionStart`]).
    Session {
        /// The agent's index in this run's config.
        agent_ix: usize,
        /// The session row.
        id: i64,
    },
}

/// Applies one write. An answer meaning "this was already done" (by an earlier try whose reply
/// was lost) is [`Landed::Done`].
pub async fn apply(store: &Store, w: &Write) -> Result<Landed, StoreError> {
    let done = |r: Result<(), StoreError>| r.map(|()| Landed::Done);
    match w {
        Write::Progress { batch } => done(store.record_progress(batch).await),
        Write::Finish { attempt, outcome } => match store.finish_attempt(*attempt, outcome).await {
            Ok(_) | Err(StoreError::AttemptClosed(_)) => Ok(Landed::Done),
            Err(e) => Err(e),
        },
        Write::Disposition {
            attempt,
            disposition,
            callback_at_ms,
            wall_ms,
            agent,
            note,
        } => match store
            .apply_wrap_up(
                *attempt,
                &AgentWrapUp {
                    disposition: *disposition,
                    callback_at_ms: *callback_at_ms,
                    agent: agent.as_deref(),
                    note: note.as_deref(),
                },
                *wall_ms,
            )
            .await
        {
            Ok(_) | Err(StoreError::AlreadyDisposed(_)) => Ok(Landed::Done),
            Err(e) => Err(e),
        },
        Write::DispositionNotSet { attempt, wall_ms } => done(
            store
                .mark_agent_disposition_not_set(*attempt, *wall_ms)
                .await
                .map(|_| ()),
        ),
        Write::SessionStart {
            agent_ix,
            agent,
            campaign,
            node,
            wall_ms,
        } => {
            let id = store.session_start(agent, campaign, node, *wall_ms).await?;
            Ok(Landed::Session {
                agent_ix: *agent_ix,
                id,
            })
        }
        Write::SessionEnd { id, wall_ms } => match store.session_end(*id, *wall_ms, 0).await {
            Ok(()) | Err(StoreError::UnknownSession(_)) => Ok(Landed::Done),
            Err(e) => Err(e),
        },
        Write::Inbound { record } => done(store.record_inbound(record).await),
        Write::Undialled {
            lead,
            node,
            dial_ms,
        } => done(
            store
                .close_undialled(*lead, node, *dial_ms)
                .await
                .map(|_| ()),
        ),
        Write::Release { leads } => done(store.release(leads).await.map(|_| ())),
        Write::Override {
            campaign,
            change,
            wall_ms,
        } => done(
            store
                .set_override(campaign, change, *wall_ms)
                .await
                .map(|_| ()),
        ),
    }
}

/// Why the spool could not be used.
#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    /// Reading or writing the spool file failed.
    #[error("spool {path}: {source}")]
    Io {
        /// The spool file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A line of the spool is not a write (edited by hand, or cut by a crash mid-line).
    #[error("spool {path}:{line}: {message}")]
    Corrupt {
        /// The spool file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// What serde said.
        message: String,
    },
}

/// The ordered queue: the oldest writes in memory, the rest in the spool file.
#[derive(Debug)]
struct Inner {
    mem: VecDeque<Write>,
    /// Writes in the spool file (all younger than those in memory).
    spooled: usize,
    cap: usize,
    path: PathBuf,
}

/// A cheap-to-clone handle on the queue, shared by the loop (which pushes) and the writer task
/// (which pops what landed).
#[derive(Clone, Debug)]
pub(crate) struct WriteQueue {
    inner: Arc<Mutex<Inner>>,
    wake: Arc<Notify>,
}

impl WriteQueue {
    /// An empty queue holding at most `cap` writes in memory, spilling to `path`. A spool left
    /// by an earlier run must be replayed first ([`replay_spool`]); it is counted here.
    pub(crate) fn new(path: PathBuf, cap: usize) -> Result<WriteQueue, SpoolError> {
        let spooled = count_lines(&path)?;
        let q = WriteQueue {
            inner: Arc::new(Mutex::new(Inner {
                mem: VecDeque::new(),
                spooled,
                cap: cap.max(1),
                path,
            })),
            wake: Arc::new(Notify::new()),
        };
        q.publish(&q.lock());
        Ok(q)
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves the queue as consistent as any step of it.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn publish(&self, g: &Inner) {
        metrics::set_store_backlog(g.mem.len(), g.spooled);
    }

    /// Queues `w` behind every write queued before it. Only a spool that cannot be written loses
    /// it, and says so.
    pub(crate) fn push(&self, w: Write) {
        let mut g = self.lock();
        if g.spooled == 0 && g.mem.len() < g.cap {
            g.mem.push_back(w);
        } else {
            match append(&g.path, std::slice::from_ref(&w)) {
                Ok(()) => g.spooled += 1,
                Err(e) => {
                    // Nowhere left to keep it: keep it in memory past the bound rather than
                    // lose it. Only here can order break (it may land before older spooled
                    // writes); the error says so.
                    tracing::error!(error = %e, write = ?w, "cannot spool a store write: kept in memory, it may land out of order");
                    g.mem.push_back(w);
                }
            }
        }
        self.publish(&g);
        drop(g);
        self.wake.notify_one();
    }

    /// Writes queued (memory, spool).
    #[cfg(test)]
    pub(crate) fn backlog(&self) -> (usize, usize) {
        let g = self.lock();
        (g.mem.len(), g.spooled)
    }

    /// The oldest write, reading the spool back into memory when memory is empty.
    #[cfg(test)]
    fn front(&self) -> Result<Option<Write>, SpoolError> {
        Ok(self.front_batch(1)?.pop())
    }

    /// The oldest writes, at most `n`, up to the first one about something an earlier one of
    /// them is about (it must wait for that one); reads the spool back into memory when memory
    /// is empty.
    fn front_batch(&self, n: usize) -> Result<Vec<Write>, SpoolError> {
        let mut g = self.lock();
        if g.mem.is_empty() && g.spooled > 0 {
            let cap = g.cap;
            let (head, left) = take_spool(&g.path, cap)?;
            g.mem.extend(head);
            g.spooled = left;
            self.publish(&g);
        }
        let mut out: Vec<Write> = Vec::new();
        let mut keys: Vec<Key> = Vec::new();
        for w in g.mem.iter().take(n) {
            let k = w.keys();
            if k.iter().any(|k| keys.contains(k)) {
                break;
            }
            keys.extend(k);
            out.push(w.clone());
        }
        Ok(out)
    }

    /// The oldest write landed.
    #[cfg(test)]
    fn pop(&self) {
        self.pop_n(1);
    }

    /// The oldest `n` writes landed.
    fn pop_n(&self, n: usize) {
        let mut g = self.lock();
        for _ in 0..n {
            g.mem.pop_front();
        }
        self.publish(&g);
    }

    /// Puts every write still queued into the spool file, oldest first (at exit, so the next
    /// start replays them). Returns how many the spool holds.
    pub(crate) fn spill(&self) -> Result<usize, SpoolError> {
        let mut g = self.lock();
        if g.mem.is_empty() {
            return Ok(g.spooled);
        }
        let (rest, _) = take_spool(&g.path, usize::MAX)?;
        let all: Vec<Write> = g.mem.drain(..).chain(rest).collect();
        rewrite(&g.path, &all)?;
        g.spooled = all.len();
        self.publish(&g);
        Ok(g.spooled)
    }
}

/// Spawns the writer: it applies the queue's writes in order (up to [`parallel`] independent
/// ones at once), retrying each until it lands, and reports each one to the loop
/// (`StoreResult::Written`, or `StoreResult::Session` then `Written`).
pub(crate) fn spawn_writer(
    store: Store,
    queue: WriteQueue,
    tx: mpsc::Sender<ShellMsg>,
) -> tokio::task::JoinHandle<()> {
    let at_once = parallel(&store);
    tokio::spawn(async move {
        loop {
            let batch = match queue.front_batch(at_once) {
                Ok(b) if b.is_empty() => {
                    queue.wake.notified().await;
                    continue;
                }
                Ok(b) => b,
                Err(e) => {
                    tracing::error!(error = %e, "store writes: spool unreadable; retrying");
                    tokio::time::sleep(MAX_BACKOFF).await;
                    continue;
                }
            };
            let n = batch.len();
            let mut set = tokio::task::JoinSet::new();
            for w in batch {
                let store = store.clone();
                set.spawn(async move { deliver(&store, &w).await });
            }
            let mut landed = Vec::with_capacity(n);
            while let Some(r) = set.join_next().await {
                match r {
                    Ok(l) => landed.push(l),
                    // `deliver` does not panic; a write whose task did is logged, not retried.
                    Err(e) => tracing::error!(error = %e, "store write task failed"),
                }
            }
            queue.pop_n(n);
            // The loop is gone only when the engine exits (what is left is spilled then).
            for l in landed {
                if let Some(Landed::Session { agent_ix, id }) = l {
                    let session = StoreResult::Session {
                        agent: AgentIdx(agent_ix),
                        id,
                    };
                    forward(&tx, ShellMsg::Store(session)).await;
                }
            }
            for _ in 0..n {
                forward(&tx, ShellMsg::Store(StoreResult::Written)).await;
            }
        }
    })
}

/// Applies `w` until it lands (`Some`) or the store refuses it for good (`None`, logged).
async fn deliver(store: &Store, w: &Write) -> Option<Landed> {
    let mut backoff = MIN_BACKOFF;
    let mut failures = 0u64;
    loop {
        match apply(store, w).await {
            Ok(l) => {
                if failures > 0 {
                    tracing::info!(
                        write = w.what(),
                        failures,
                        "store write landed after retries"
                    );
                }
                return Some(l);
            }
            Err(e) if e.is_transient() => {
                if failures == 0 {
                    tracing::warn!(error = %e, write = w.what(), "store unreachable: retrying the write until it lands");
                }
                failures += 1;
                metrics::store_write_retry();
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
            Err(e) => {
                tracing::error!(error = %e, write = ?w, "store refused a write: skipped");
                return None;
            }
        }
    }
}

/// Applies every write a spool left by an earlier run holds, in order, then empties it (at
/// start, before this node's recovery closes what the writes would have closed). Transient
/// failures are retried like any write. Returns how many it applied.
pub async fn replay_spool(store: &Store, path: &Path) -> Result<usize, SpoolError> {
    let (writes, _) = take_spool_keep(path)?;
    if writes.is_empty() {
        return Ok(0);
    }
    tracing::warn!(path = %path.display(), writes = writes.len(), "replaying store writes spooled by an earlier run");
    for (i, w) in writes.iter().enumerate() {
        deliver(store, w).await;
        // Progress kept on disk: a crash mid-replay replays only what is left (and what landed
        // twice is harmless).
        if (i + 1) % 256 == 0 {
            rewrite(path, &writes[i + 1..])?;
        }
    }
    remove(path)?;
    Ok(writes.len())
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> SpoolError + '_ {
    move |source| SpoolError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn count_lines(path: &Path) -> Result<usize, SpoolError> {
    match File::open(path) {
        Ok(f) => Ok(BufReader::new(f).lines().count()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
        Err(e) => Err(io_err(path)(e)),
    }
}

fn append(path: &Path, writes: &[Write]) -> Result<(), SpoolError> {
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(io_err(path))?;
    let mut buf = Vec::new();
    for w in writes {
        // A `Write` is plain data: serialising it cannot fail.
        serde_json::to_writer(&mut buf, w).map_err(|e| io_err(path)(e.into()))?;
        buf.push(b'\n');
    }
    f.write_all(&buf).map_err(io_err(path))?;
    f.sync_data().map_err(io_err(path))
}

/// Replaces the spool's content with `writes` (through a temporary file and a rename, so a crash
/// leaves the old or the new content, never half of it); an empty list removes it.
fn rewrite(path: &Path, writes: &[Write]) -> Result<(), SpoolError> {
    if writes.is_empty() {
        return remove(path);
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    remove(&tmp)?;
    append(&tmp, writes)?;
    std::fs::rename(&tmp, path).map_err(io_err(path))
}

fn remove(path: &Path) -> Result<(), SpoolError> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_err(path)(e)),
    }
}

/// Every write in the spool, oldest first, and how many lines it has (a corrupt line is an
/// error naming it).
fn take_spool_keep(path: &Path) -> Result<(Vec<Write>, usize), SpoolError> {
    let f = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Vec::new(), 0)),
        Err(e) => return Err(io_err(path)(e)),
    };
    let mut out = Vec::new();
    for (i, line) in BufReader::new(f).lines().enumerate() {
        let line = line.map_err(io_err(path))?;
        if line.trim().is_empty() {
            continue;
        }
        let w = serde_json::from_str(&line).map_err(|e| SpoolError::Corrupt {
            path: path.to_path_buf(),
            line: i + 1,
            message: e.to_string(),
        })?;
        out.push(w);
    }
    let n = out.len();
    Ok((out, n))
}

/// Takes the oldest `n` writes out of the spool; returns them and how many are left in it.
fn take_spool(path: &Path, n: usize) -> Result<(Vec<Write>, usize), SpoolError> {
    let (mut all, _) = take_spool_keep(path)?;
    let rest = all.split_off(n.min(all.len()));
    rewrite(path, &rest)?;
    Ok((all, rest.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn release(i: i64) -> Write {
        Write::Release { leads: vec![i] }
    }

    fn spool_path(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("outdial-writes-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join(name);
        let _ = std::fs::remove_file(&p); // left by an earlier run of this test, or none
        p
    }

    /// Pops everything in order, as the writer does.
    fn drain(q: &WriteQueue) -> Vec<Write> {
        let mut out = Vec::new();
        while let Some(w) = q.front().unwrap() {
            q.pop();
            out.push(w);
        }
        out
    }

    #[test]
    fn writes_past_the_memory_bound_go_to_the_spool_and_come_back_in_order() {
        let path = spool_path("order.spool");
        let q = WriteQueue::new(path.clone(), 3).unwrap();
        for i in 0..10 {
            q.push(release(i));
        }
        assert_eq!(q.backlog(), (3, 7));
        let lines = std::fs::read_to_string(&path).unwrap().lines().count();
        assert_eq!(lines, 7, "the spool holds what memory could not");
        // Memory frees up, but the order holds: a new write goes behind the spooled ones.
        assert_eq!(q.front().unwrap(), Some(release(0)));
        q.pop();
        q.push(release(10));
        assert_eq!(q.backlog(), (2, 8));
        let got = drain(&q);
        assert_eq!(got, (1..=10).map(release).collect::<Vec<_>>());
        assert_eq!(q.backlog(), (0, 0));
        assert!(!path.exists(), "an empty spool is removed");
    }

    #[test]
    fn writes_queued_at_exit_are_spilled_memory_first_and_counted_at_the_next_start() {
        let path = spool_path("spill.spool");
        let q = WriteQueue::new(path.clone(), 2).unwrap();
        for i in 0..5 {
            q.push(release(i));
        }
        assert_eq!(q.spill().unwrap(), 5);
        let next = WriteQueue::new(path.clone(), 2).unwrap();
        assert_eq!(next.backlog(), (0, 5));
        assert_eq!(drain(&next), (0..5).map(release).collect::<Vec<_>>());
    }

    #[test]
    fn writes_about_the_same_call_are_never_sent_together() {
        let path = spool_path("keys.spool");
        let q = WriteQueue::new(path, 100).unwrap();
        let finish = |attempt| Write::DispositionNotSet {
            attempt,
            wall_ms: 0,
        };
        for w in [finish(1), finish(2), release(7), finish(1), finish(3)] {
            q.push(w);
        }
        // Attempt 1's second write waits for its first; what follows it waits too.
        assert_eq!(
            q.front_batch(PARALLEL).unwrap(),
            [finish(1), finish(2), release(7)]
        );
        q.pop_n(3);
        assert_eq!(q.front_batch(PARALLEL).unwrap(), [finish(1), finish(3)]);
        q.pop_n(2);
        assert!(q.front_batch(PARALLEL).unwrap().is_empty());
    }

    #[test]
    fn a_corrupt_spool_line_is_named() {
        let path = spool_path("corrupt.spool");
        std::fs::write(&path, "{\"write\":\"release\",\"leads\":[1]}\nnot json\n").unwrap();
        let err = take_spool_keep(&path).unwrap_err().to_string();
        assert!(err.contains("corrupt.spool:2"), "{err}");
    }
}
