//! The media plane's I/O shell: worker threads, each with a `mio::Poll` owning the UDP sockets of
//! its legs and its own [`MediaCore`] shard. The shell only moves bytes, commands and events
//! between the sockets, the core and the engine; every decision is the core's.
//!
//! # Threads, not tasks
//! The relay is a dedicated hot path (as rtpengine's workers): `workers` OS threads (default 2,
//! one per core of the reference machine), each blocking in its own `mio::Poll`. mio is the event
//! library tokio itself is built on (well kept, epoll on Linux) — no async runtime in between.
//!
//! # Sharding: which worker owns a leg
//! A bridge must live in one core (the relay needs both legs), but a predictive dialer opens the
//! customer's leg before it knows which agent will take the call. The scheme:
//! - [`MediaCommand::Open`] places a leg on the worker with the fewest open legs (agents'
//!   nailed-up legs spread over the workers as they log in).
//! - [`MediaCommand::Bridge`] between legs of different workers *moves the customer's leg* to
//!   the agent's worker: the customer leg is short-lived, the agent's connection lasts the
//!   shift, so agents stay put. The old worker closes the leg in its core (keeping the figures
//!   so far), deregisters the leg's two sockets and hands them to the new worker, which replays
//!   the leg's Open, Remote, Tap and Record into its core and then the Bridge. Datagrams that
//!   arrive meanwhile wait in the kernel's socket buffer (same socket): nothing is lost.
//! - The new worker holds every command it receives between the hand-over's announcement and
//!   the sockets' arrival, so commands keep their order.
//! - The leg's [`MediaEvent::Closed`] figures add both shards' parts; a second
//!   [`MediaEvent::FirstPacket`] after the move is not reported.
//!
//! All cores start with one `Instant`, so tap slots (recording alignment) agree across shards.
//!
//! # Call-progress analysis: its own thread
//! [`MediaCommand::Analyse`] taps a leg and starts a classifier on the `media-analysis` thread
//! (`analysis`); each worker hands it the analysed legs' frames over its own channel after the
//! relay's sends, so a classifier never delays a packet and no lock is shared with the relay
//! (the recording sink's mutex is not taken for it). The thread sends [`MediaEvent::Cpa`] and
//! [`MediaEvent::AnalysisDone`] to the engine's channel itself (never blocking on it) and ends
//! after the workers, whose senders are its only ones.
//!
//! # Recording: its own thread
//! The [`TapSink`] (the recorder: mixing, encoding, file appends) runs on the `media-recording`
//! thread (`recording`), never on a worker: each worker queues its Record/Bridge/Unbridge/Close
//! requests and each wake-up's tapped frames to it after the relay's sends. The frames waiting
//! there are bounded ([`ShellConfig::recording_queue_frames`]); beyond that a worker drops the
//! frames for recording, counts them ([`ShellCounters::recording_frames_dropped`]) and the sink
//! hears of the gap ([`TapSink::gap`]) — the relay never waits for a disk. The thread sends the
//! sink's events to the engine itself and ends after the workers.
//!
//! Must not: decide anything about media (that is [`MediaCore`]'s), look at SIP, the store or
//! the engine's state, or block the workers on the engine (events wait in a worker-local queue
//! when the engine's channel is full).

mod analysis;
mod realtime;
mod recording;
mod side;
mod tap;
mod worker;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc as std_mpsc;
use std::sync::{Arc, Mutex};

use std::thread::JoinHandle;
use std::time::Instant;

use tokio::sync::mpsc;

pub use realtime::{RealtimePriority, RealtimePriorityError};
pub use tap::{NoTapSink, TapSink};

use super::core::{MediaConfig, MediaCore};
use super::io::{LegId, MediaCommand, MediaEvent, TapFrame, Transmit};
use super::latency::{LatencyHistogram, LatencySnapshot};
use worker::{Peer, ToWorker, Worker};

/// What the shell needs of a media core: [`MediaCore`]'s sans-IO API. A trait so tests and the
/// load generator's baseline can run the shell around a minimal relay.
pub trait ShellCore: Send + 'static {
    /// See [`MediaCore::handle_command`].
    fn handle_command(&mut self, now: Instant, cmd: MediaCommand);
    /// See [`MediaCore::handle_datagram`].
    fn handle_datagram(
        &mut self,
        now: Instant,
        local_port: u16,
        from: std::net::SocketAddr,
        data: &[u8],
    );
    /// See [`MediaCore::handle_timeout`].
    fn handle_timeout(&mut self, now: Instant);
    /// See [`MediaCore::poll_transmit`].
    fn poll_transmit(&mut self) -> Option<Transmit>;
    /// See [`MediaCore::poll_event`].
    fn poll_event(&mut self) -> Option<MediaEvent>;
    /// See [`MediaCore::poll_tap`].
    fn poll_tap(&mut self) -> Option<TapFrame>;
    /// See [`MediaCore::poll_timeout`].
    fn poll_timeout(&self) -> Option<Instant>;
}

impl ShellCore for MediaCore {
    fn handle_command(&mut self, now: Instant, cmd: MediaCommand) {
        MediaCore::handle_command(self, now, cmd)
    }
    fn handle_datagram(
        &mut self,
        now: Instant,
        local_port: u16,
        from: std::net::SocketAddr,
        data: &[u8],
    ) {
        MediaCore::handle_datagram(self, now, local_port, from, data)
    }
    fn handle_timeout(&mut self, now: Instant) {
        MediaCore::handle_timeout(self, now)
    }
    fn poll_transmit(&mut self) -> Option<Transmit> {
        MediaCore::poll_transmit(self)
    }
    fn poll_event(&mut self) -> Option<MediaEvent> {
        MediaCore::poll_event(self)
    }
    fn poll_tap(&mut self) -> Option<TapFrame> {
        MediaCore::poll_tap(self)
    }
    fn poll_timeout(&self) -> Option<Instant> {
        MediaCore::poll_timeout(self)
    }
}

/// Settings of the media shell.
pub struct ShellConfig {
    /// The address every leg's sockets bind to.
    pub addr: IpAddr,
    /// Worker threads (one per core; at least 1).
    pub workers: usize,
    /// The media cores' settings.
    pub core: MediaConfig,
    /// Where tap frames and recording requests go.
    pub recordings: Box<dyn TapSink>,
    /// Capacity of the engine's event channel.
    pub event_capacity: usize,
    /// Kernel receive buffer asked for each socket (bytes): a burst waits there, not on the floor.
    pub recv_buffer: usize,
    /// Time every relayed datagram from the kernel's receive stamp to the return of the send
    /// it caused ([`MediaShell::relay_latency`]). Off by default: a benchmark's figure (one
    /// `recvmsg` with a control message instead of `recvfrom`, and a clock read per packet).
    pub relay_timing: bool,
    /// At most this many tapped frames (20 ms of one leg each) wait for the recording thread;
    /// beyond that the workers drop frames for recording (the recordings get a gap) rather
    /// than wait. The default, 100,000 frames (≈ 32 MB), holds 0.67 s of 1,500 recorded calls.
    pub recording_queue_frames: usize,
    /// Run the worker threads (only they: not the recording or analysis threads) under
    /// `SCHED_FIFO` at this priority, as media relays do in production (rtpengine's
    /// `--scheduling=fifo --priority=N`): a datagram's worker then takes a core from any
    /// normal thread at once instead of waiting its turn. Off by default. The risk is a
    /// worker that never sleeps: Linux's real-time throttling (`sched_rt_runtime_us`,
    /// 950,000 of every 1,000,000 µs by default) still leaves normal threads 5 % of each CPU,
    /// which keeps the machine reachable but not comfortable. Refused by the OS (no
    /// `CAP_SYS_NICE`, no `RLIMIT_RTPRIO`): a warning naming the setting, and the workers run
    /// at the normal policy. Only for hosts with a core to spare: measured at saturation
    /// (BENCHMARKS.md, issue 17) real-time workers made the tail worse (the kernel's deferred
    /// receive work runs at the normal policy and waits behind them).
    pub realtime_priority: Option<RealtimePriority>,
}

impl ShellConfig {
    /// Two workers on `addr`, default core settings, no recording writer.
    pub fn new(addr: IpAddr) -> Self {
        ShellConfig {
            addr,
            workers: 2,
            core: MediaConfig::default(),
            recordings: Box::new(NoTapSink),
            event_capacity: 4096,
            recv_buffer: 256 * 1024,
            relay_timing: false,
            recording_queue_frames: 100_000,
            realtime_priority: None,
        }
    }
}

/// Why the shell could not start.
#[derive(Debug, thiserror::Error)]
pub enum ShellError {
    /// The OS refused a poller, a waker or a thread.
    #[error("media shell: {0}")]
    Io(#[from] std::io::Error),
}

/// Counters of the shell's own work (the core keeps per-leg figures).
#[derive(Debug, Default)]
pub struct ShellCounters {
    /// With [`ShellConfig::relay_timing`]: per worker, the time from the kernel's receive stamp
    /// of a datagram to the return of the last send it caused.
    pub relay_latency: Box<[LatencyHistogram]>,
    /// Datagrams received on all legs' sockets.
    pub datagrams_in: AtomicU64,
    /// Datagrams sent.
    pub datagrams_out: AtomicU64,
    /// Datagrams the core wanted sent that the kernel refused (full buffer, unknown port).
    pub send_failed: AtomicU64,
    /// Tapped frames not handed to the recording thread because its queue was full (the
    /// recordings they belonged to have a gap; the calls were relayed as usual).
    pub recording_frames_dropped: AtomicU64,
}

impl ShellCounters {
    fn bump(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}

/// Which worker owns each open leg, and how many legs each has.
#[derive(Debug, Default)]
struct Router {
    owner: HashMap<LegId, usize>,
    load: Vec<usize>,
}

/// The running media plane: send it commands, read its events, stop it.
pub struct MediaShell {
    peers: Vec<Peer>,
    router: Mutex<Router>,
    threads: Vec<JoinHandle<()>>,
    /// The analysis thread (ends once every worker, holding its mailbox, has).
    analysis: Option<JoinHandle<()>>,
    /// The recording thread (ends after the workers too).
    recording: Option<JoinHandle<()>>,
    tids: Vec<u32>,
    recording_tid: Option<u32>,
    events: Option<mpsc::Receiver<MediaEvent>>,
    counters: Arc<ShellCounters>,
}

impl MediaShell {
    /// Starts the workers around [`MediaCore`]s.
    pub fn start(cfg: ShellConfig) -> Result<MediaShell, ShellError> {
        Self::start_with(cfg, MediaCore::new)
    }

    /// Starts the workers around cores made by `make_core(settings, start)` (one per worker, all
    /// with the same `start`).
    pub fn start_with<C: ShellCore>(
        cfg: ShellConfig,
        make_core: impl Fn(MediaConfig, Instant) -> C,
    ) -> Result<MediaShell, ShellError> {
        let workers = cfg.workers.max(1);
        let start = Instant::now();
        let (event_tx, event_rx) = mpsc::channel(cfg.event_capacity.max(1));
        let counters = Arc::new(ShellCounters {
            relay_latency: (0..workers).map(|_| LatencyHistogram::new()).collect(),
            ..ShellCounters::default()
        });
        // Call-progress analysis: its own thread, fed by every worker, talking to the engine.
        let (jobs, analysis) = analysis::spawn(event_tx.clone())?;
        // Recording: its own thread too, fed by every worker through a bounded queue.
        let recorder = recording::spawn(
            cfg.recordings,
            event_tx.clone(),
            cfg.recording_queue_frames,
            Arc::clone(&counters),
        )?;
        let mut polls = Vec::with_capacity(workers);
        let mut receivers = Vec::with_capacity(workers);
        let mut peers = Vec::with_capacity(workers);
        for _ in 0..workers {
            let poll = mio::Poll::new()?;
            let waker = Arc::new(mio::Waker::new(poll.registry(), worker::WAKER)?);
            let (tx, rx) = std_mpsc::channel();
            polls.push(poll);
            receivers.push(rx);
            peers.push(Peer { tx, waker });
        }
        let (tid_tx, tid_rx) = std_mpsc::channel();
        let mut threads = Vec::with_capacity(workers);
        for (index, (poll, rx)) in polls.into_iter().zip(receivers).enumerate() {
            let parts = worker::WorkerParts {
                index,
                poll,
                rx,
                peers: peers.clone(),
                core: make_core(cfg.core.clone(), start),
                addr: cfg.addr,
                recv_buffer: cfg.recv_buffer,
                relay_timing: cfg.relay_timing,
                events: event_tx.clone(),
                recording: recorder.queue(),
                analysis: jobs.clone(),
                counters: Arc::clone(&counters),
            };
            let tid_tx = tid_tx.clone();
            let priority = cfg.realtime_priority;
            let handle = std::thread::Builder::new()
                .name(format!("media-worker-{index}"))
                .spawn(move || {
                    // Only the workers: the recording and analysis threads keep the normal
                    // policy (a recorder at real-time priority could starve the relay).
                    if let Some(priority) = priority {
                        realtime::apply(priority);
                    }
                    if let Some(tid) = own_tid() {
                        // The receiver outlives this send (start() waits for it below); a
                        // failure would only mean start() gave up, which it does not.
                        if tid_tx.send(tid).is_err() {
                            tracing::debug!("media shell gone before worker start");
                        }
                    }
                    // Built here: its batch reader's headers hold raw pointers (not `Send`).
                    Worker::new(parts).run();
                })?;
            threads.push(handle);
        }
        drop(tid_tx);
        // Only the workers hold the analysis thread's mailbox: it ends after them.
        drop(jobs);
        let (recording, recording_tid) = recorder.into_parts();
        // Every worker sends its tid once (or nothing off Linux); the loop ends when all senders
        // are gone or all have reported.
        let tids: Vec<u32> = tid_rx.iter().take(workers).collect();
        Ok(MediaShell {
            router: Mutex::new(Router {
                owner: HashMap::new(),
                load: vec![0; workers],
            }),
            peers,
            threads,
            analysis: Some(analysis),
            recording: Some(recording),
            tids,
            recording_tid,
            events: Some(event_rx),
            counters,
        })
    }

    /// The engine's event stream (once: later calls get `None`).
    pub fn take_events(&mut self) -> Option<mpsc::Receiver<MediaEvent>> {
        self.events.take()
    }

    /// The workers' Linux thread ids (for CPU accounting through `/proc/self/task/<tid>/stat`);
    /// empty where the OS does not say.
    pub fn worker_tids(&self) -> &[u32] {
        &self.tids
    }

    /// The recording thread's Linux id (its CPU and disk writes are the recordings'), when the
    /// OS says.
    pub fn recording_tid(&self) -> Option<u32> {
        self.recording_tid
    }

    /// The shell's datagram counters.
    pub fn counters(&self) -> &ShellCounters {
        &self.counters
    }

    /// Every worker's relay latency so far (empty unless [`ShellConfig::relay_timing`]): from
    /// the kernel's receive stamp of a datagram to the return of the send it caused.
    pub fn relay_latency(&self) -> LatencySnapshot {
        let mut all = LatencySnapshot::default();
        for h in self.counters.relay_latency.iter() {
            all.merge(&h.snapshot());
        }
        all
    }

    /// Hands a command to the worker owning its leg(s); never blocks on the workers.
    pub fn send(&self, cmd: MediaCommand) {
        let mut router = match self.router.lock() {
            Ok(router) => router,
            // A panic while holding the lock left plain maps behind: still consistent enough to
            // route by.
            Err(poisoned) => poisoned.into_inner(),
        };
        match &cmd {
            MediaCommand::Open { leg, .. } => {
                let worker = least_loaded(&router.load);
                if let Some(old) = router.owner.insert(*leg, worker) {
                    // A reopened id: the old owner still has it; tell it to let go first.
                    self.deliver(old, ToWorker::Command(MediaCommand::Close { leg: *leg }));
                    router.load[old] = router.load[old].saturating_sub(1);
                }
                router.load[worker] += 1;
                self.deliver(worker, ToWorker::Command(cmd));
            }
            MediaCommand::Bridge { customer, agent } => {
                let (customer, agent) = (*customer, *agent);
                match (
                    router.owner.get(&customer).copied(),
                    router.owner.get(&agent).copied(),
                ) {
                    (Some(from), Some(to)) if from != to => {
                        router.owner.insert(customer, to);
                        router.load[from] = router.load[from].saturating_sub(1);
                        router.load[to] += 1;
                        self.deliver(to, ToWorker::ExpectLeg(customer));
                        self.deliver(
                            from,
                            ToWorker::Move {
                                leg: customer,
                                to,
                                then: cmd,
                            },
                        );
                    }
                    (Some(worker), _) | (None, Some(worker)) => {
                        self.deliver(worker, ToWorker::Command(cmd))
                    }
                    (None, None) => tracing::debug!(?customer, ?agent, "bridge of unknown legs"),
                }
            }
            MediaCommand::Close { leg } => match router.owner.remove(leg) {
                Some(worker) => {
                    router.load[worker] = router.load[worker].saturating_sub(1);
                    self.deliver(worker, ToWorker::Command(cmd));
                }
                None => tracing::debug!(?leg, "close of unknown leg"),
            },
            MediaCommand::Remote { leg, .. }
            | MediaCommand::Unbridge { leg }
            | MediaCommand::Play { leg, .. }
            | MediaCommand::Tap { leg, .. }
            | MediaCommand::Analyse { leg, .. }
            | MediaCommand::StopAnalysis { leg }
            | MediaCommand::Record { customer: leg, .. } => match router.owner.get(leg) {
                Some(&worker) => self.deliver(worker, ToWorker::Command(cmd)),
                None => tracing::debug!(?leg, "command for unknown leg"),
            },
        }
    }

    fn deliver(&self, worker: usize, msg: ToWorker) {
        if let Some(peer) = self.peers.get(worker) {
            peer.deliver(msg);
        }
    }

    /// Stops the workers and waits for them: every leg's sockets are closed when this returns.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        for peer in &self.peers {
            peer.deliver(ToWorker::Stop);
        }
        for handle in self.threads.drain(..) {
            if handle.join().is_err() {
                tracing::error!("a media worker panicked");
            }
        }
        if let Some(handle) = self.analysis.take() {
            if handle.join().is_err() {
                tracing::error!("the media analysis thread panicked");
            }
        }
        if let Some(handle) = self.recording.take() {
            if handle.join().is_err() {
                tracing::error!("the media recording thread panicked");
            }
        }
    }
}

impl Drop for MediaShell {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn least_loaded(load: &[usize]) -> usize {
    load.iter()
        .enumerate()
        .min_by_key(|(_, n)| **n)
        .map(|(i, _)| i)
        .unwrap_or(0)
}

/// This thread's Linux id, read from `/proc/thread-self` (a link to `PID/task/TID`).
fn own_tid() -> Option<u32> {
    let link = std::fs::read_link("/proc/thread-self").ok()?;
    link.file_name()?.to_str()?.parse().ok()
}
