//! One media worker: a thread blocking in its `mio::Poll`, owning the sockets of its legs and one
//! core shard. Drains each readable socket (`recvmmsg` batches until a short one) into the core,
//! sends what the core asks after each datagram, forwards events and tap frames. Decides nothing
//! about media.

use std::collections::{HashMap, VecDeque};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::mpsc as std_mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::net::UdpSocket;
use mio::{Events, Interest, Poll, Token, Waker};
use socket2::{Domain, Protocol, Socket, Type};
use tokio::sync::mpsc;

use super::analysis::{Job, Jobs};
use super::recording::{RecordingQueue, ToRecorder};
use super::{ShellCore, ShellCounters};
use crate::media::io::{LegId, LegRole, LegStats, MediaCommand, MediaEvent, RemoteMedia, TapFrame};
use crate::media::rx_stamp::{self, BatchReader};

/// The waker's token: above every port number, which are the sockets' tokens.
pub(super) const WAKER: Token = Token(usize::MAX);

/// Largest datagram read: RTP/RTCP on a LAN path fits an Ethernet frame.
const RECV_BUF: usize = 2048;

/// Datagrams per `recvmmsg`. A leg's socket gets 50 packets a second, so a readiness usually
/// finds one or two; the batch is for the bursts after a stall (a worker that waited for a core
/// finds several queued), where one syscall then reads them all.
const RX_BATCH: usize = 8;

/// What a worker is told, by the shell's front or by another worker.
pub(super) enum ToWorker {
    /// A command for one of this worker's legs.
    Command(MediaCommand),
    /// Hand `leg` (and its sockets) to worker `to`, which then runs `then` (the Bridge).
    Move {
        leg: LegId,
        to: usize,
        then: MediaCommand,
    },
    /// `leg` is coming from another worker: hold later commands until it arrives.
    ExpectLeg(LegId),
    /// A leg handed over by another worker.
    Adopt(Box<Migrant>),
    /// Close everything and end the thread.
    Stop,
}

/// A leg on its way between workers: its sockets and what its new core must be told.
pub(super) struct Migrant {
    port: u16,
    /// RTP and RTCP sockets; `None` when the old worker did not have the leg.
    sockets: Option<(UdpSocket, UdpSocket)>,
    leg: LegState,
    then: MediaCommand,
}

/// A worker's mailbox: its channel and the waker of its poll.
#[derive(Clone)]
pub(super) struct Peer {
    pub(super) tx: std_mpsc::Sender<ToWorker>,
    pub(super) waker: Arc<Waker>,
}

impl Peer {
    pub(super) fn deliver(&self, msg: ToWorker) {
        if self.tx.send(msg).is_err() {
            tracing::debug!("media worker already stopped");
            return;
        }
        if let Err(err) = self.waker.wake() {
            tracing::warn!(%err, "could not wake a media worker");
        }
    }
}

/// What the shell remembers of a leg to replay it into another core.
struct LegState {
    id: LegId,
    role: LegRole,
    remote: Option<RemoteMedia>,
    tap: bool,
    /// Call-progress analysis runs on its frames (the analysis thread has its classifier).
    analysing: bool,
    recording: Option<PathBuf>,
    /// FirstPacket already reported (by this or an earlier shard).
    first_seen: bool,
    /// Figures of the leg's time in earlier shards.
    carried: Option<LegStats>,
}

/// Everything a worker is built from.
pub(super) struct WorkerParts<C> {
    pub(super) index: usize,
    pub(super) poll: Poll,
    pub(super) rx: std_mpsc::Receiver<ToWorker>,
    pub(super) peers: Vec<Peer>,
    pub(super) core: C,
    pub(super) addr: IpAddr,
    pub(super) recv_buffer: usize,
    /// Stamp received datagrams and time them to their send (a benchmark's figure).
    pub(super) relay_timing: bool,
    pub(super) events: mpsc::Sender<MediaEvent>,
    /// The recording thread's queue (this worker's own end: no lock with other workers).
    pub(super) recording: RecordingQueue,
    /// The analysis thread's mailbox (this worker's own sender: no lock with other workers).
    pub(super) analysis: Jobs,
    pub(super) counters: Arc<ShellCounters>,
}

/// One worker thread's state.
pub(super) struct Worker<C> {
    p: WorkerParts<C>,
    /// Sockets by local port (RTP port p and RTCP p+1); the port is also the mio token.
    sockets: HashMap<u16, UdpSocket>,
    /// Legs by id, with their RTP port.
    legs: HashMap<LegId, (u16, LegState)>,
    /// Messages in the front's order; an [`ToWorker::ExpectLeg`] at the head waits for its leg.
    held: VecDeque<ToWorker>,
    /// Legs handed over whose place in `held` has not come yet.
    arrived: HashMap<LegId, Migrant>,
    /// Events the engine's full channel did not take yet.
    backlog: VecDeque<MediaEvent>,
    taps: Vec<TapFrame>,
    /// Reads datagrams in batches, with their kernel stamps when `relay_timing` is on.
    rx: Box<BatchReader<RX_BATCH, RECV_BUF>>,
}

impl<C: ShellCore> Worker<C> {
    pub(super) fn new(parts: WorkerParts<C>) -> Self {
        Worker {
            p: parts,
            sockets: HashMap::new(),
            legs: HashMap::new(),
            held: VecDeque::new(),
            arrived: HashMap::new(),
            backlog: VecDeque::new(),
            taps: Vec::new(),
            rx: Box::default(),
        }
    }

    /// The loop: wait for sockets, the waker or the core's deadline; feed the core; drain it.
    pub(super) fn run(mut self) {
        let mut events = Events::with_capacity(1024);
        loop {
            let now = Instant::now();
            let mut timeout = self
                .p
                .core
                .poll_timeout()
                .map(|t| t.saturating_duration_since(now));
            if !self.backlog.is_empty() {
                // The engine is behind: retry soon without spinning.
                timeout = Some(timeout.map_or(Duration::from_millis(1), |t| {
                    t.min(Duration::from_millis(1))
                }));
            }
            if let Err(err) = self.p.poll.poll(&mut events, timeout) {
                if err.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                tracing::error!(%err, worker = self.p.index, "media worker poll failed; stopping");
                return;
            }
            let now = Instant::now();
            for event in events.iter() {
                if event.token() == WAKER {
                    if !self.drain_mailbox(now) {
                        return;
                    }
                } else if let Ok(port) = u16::try_from(event.token().0) {
                    self.drain_socket(now, port);
                }
            }
            if self.p.core.poll_timeout().is_some_and(|t| t <= now) {
                self.p.core.handle_timeout(now);
            }
            self.flush();
        }
    }

    /// Reads the mailbox; `false` on Stop or when the shell is gone.
    fn drain_mailbox(&mut self, now: Instant) -> bool {
        loop {
            match self.p.rx.try_recv() {
                Ok(ToWorker::Stop) | Err(std_mpsc::TryRecvError::Disconnected) => return false,
                Ok(msg) => self.handle(now, msg),
                Err(std_mpsc::TryRecvError::Empty) => return true,
            }
        }
    }

    /// Takes a message in order: a hand-over announced by the front ([`ToWorker::ExpectLeg`])
    /// holds everything behind it until its leg arrives, so commands keep the front's order.
    fn handle(&mut self, now: Instant, msg: ToWorker) {
        match msg {
            ToWorker::Adopt(migrant) => {
                self.arrived.insert(migrant.leg.id, *migrant);
            }
            other => self.held.push_back(other),
        }
        while let Some(front) = self.held.front() {
            if let ToWorker::ExpectLeg(leg) = front {
                let Some(migrant) = self.arrived.remove(leg) else {
                    break;
                };
                self.held.pop_front();
                self.adopt(now, migrant);
            } else if let Some(msg) = self.held.pop_front() {
                match msg {
                    ToWorker::Command(cmd) => self.command(now, cmd),
                    ToWorker::Move { leg, to, then } => self.move_out(now, leg, to, then),
                    ToWorker::ExpectLeg(_) | ToWorker::Adopt(_) | ToWorker::Stop => {}
                }
            }
            self.flush();
        }
    }

    fn command(&mut self, now: Instant, cmd: MediaCommand) {
        match &cmd {
            MediaCommand::Open {
                leg,
                role,
                local_port,
            } => {
                let (leg, role, port) = (*leg, *role, *local_port);
                match self.bind_pair(port) {
                    Ok(()) => {
                        self.legs.insert(leg, (port, LegState::new(leg, role)));
                        self.p.core.handle_command(now, cmd);
                    }
                    Err(reason) => self.emit(MediaEvent::OpenFailed { leg, port, reason }),
                }
                return;
            }
            MediaCommand::Remote { leg, remote } => {
                if let Some((_, state)) = self.legs.get_mut(leg) {
                    state.remote = Some(remote.clone());
                }
            }
            MediaCommand::Tap { leg, on } => {
                if let Some((_, state)) = self.legs.get_mut(leg) {
                    state.tap = *on;
                }
            }
            MediaCommand::Analyse {
                leg,
                phase,
                settings,
                library,
            } => {
                let Some((_, state)) = self.legs.get_mut(leg) else {
                    tracing::debug!(?leg, "analysis of a leg this worker does not have");
                    return;
                };
                state.analysing = true;
                self.to_analysis(Job::Start {
                    leg: *leg,
                    phase: *phase,
                    settings: Arc::clone(settings),
                    library: library.clone(),
                });
            }
            MediaCommand::StopAnalysis { leg } => {
                if let Some((_, state)) = self.legs.get_mut(leg) {
                    if std::mem::take(&mut state.analysing) {
                        self.to_analysis(Job::Stop(*leg));
                    }
                }
            }
            MediaCommand::Record { customer, path } => {
                if let Some((_, state)) = self.legs.get_mut(customer) {
                    state.recording = Some(path.clone());
                }
                self.p.recording.request(ToRecorder::Start {
                    customer: *customer,
                    path: path.clone(),
                });
            }
            MediaCommand::Close { leg } => {
                let leg = *leg;
                self.p.core.handle_command(now, cmd);
                // The core may say goodbye (RTCP BYE) from the leg's sockets: send before closing.
                self.flush();
                if let Some((port, state)) = self.legs.remove(&leg) {
                    self.close_pair(port);
                    if state.analysing {
                        self.to_analysis(Job::Stop(leg));
                    }
                    if state.recording.is_some() {
                        self.p.recording.request(ToRecorder::Stop(leg));
                    }
                }
                return;
            }
            MediaCommand::Bridge { customer, agent } => {
                let (customer, agent) = (*customer, *agent);
                self.p
                    .recording
                    .request(ToRecorder::Bridged { customer, agent });
            }
            MediaCommand::Unbridge { leg } => {
                let leg = *leg;
                self.p.recording.request(ToRecorder::Unbridged(leg));
            }
            MediaCommand::Play { .. } => {}
        }
        self.p.core.handle_command(now, cmd);
    }

    /// Binds RTP on `port` and RTCP on `port + 1`, non-blocking with a large receive buffer.
    fn bind_pair(&mut self, port: u16) -> Result<(), String> {
        let rtcp_port = port
            .checked_add(1)
            .ok_or_else(|| format!("port {port}: no room for RTCP on port+1"))?;
        if self.sockets.contains_key(&port) || self.sockets.contains_key(&rtcp_port) {
            return Err(format!("port {port} already open in this media shell"));
        }
        let rtp = self.bind(port)?;
        let rtcp = self.bind(rtcp_port)?;
        self.register(port, rtp)?;
        self.register(rtcp_port, rtcp)?;
        Ok(())
    }

    fn bind(&self, port: u16) -> Result<UdpSocket, String> {
        let addr = SocketAddr::new(self.p.addr, port);
        let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))
            .map_err(|e| format!("socket for {addr}: {e}"))?;
        if let Err(err) = socket.set_recv_buffer_size(self.p.recv_buffer) {
            // Only a smaller buffer: the leg works, bursts may drop sooner.
            tracing::debug!(%err, %addr, "receive buffer size refused");
        }
        socket
            .set_nonblocking(true)
            .map_err(|e| format!("non-blocking {addr}: {e}"))?;
        if self.p.relay_timing {
            rx_stamp::enable(&socket).map_err(|e| format!("timestamps on {addr}: {e}"))?;
        }
        socket
            .bind(&addr.into())
            .map_err(|e| format!("bind {addr}: {e}"))?;
        Ok(UdpSocket::from_std(socket.into()))
    }

    fn register(&mut self, port: u16, mut socket: UdpSocket) -> Result<(), String> {
        self.p
            .poll
            .registry()
            .register(&mut socket, Token(port as usize), Interest::READABLE)
            .map_err(|e| format!("register port {port}: {e}"))?;
        self.sockets.insert(port, socket);
        Ok(())
    }

    fn take_socket(&mut self, port: u16) -> Option<UdpSocket> {
        let mut socket = self.sockets.remove(&port)?;
        if let Err(err) = self.p.poll.registry().deregister(&mut socket) {
            tracing::debug!(%err, port, "deregister failed (socket closes anyway)");
        }
        Some(socket)
    }

    fn close_pair(&mut self, port: u16) {
        drop(self.take_socket(port));
        if let Some(rtcp) = port.checked_add(1) {
            drop(self.take_socket(rtcp));
        }
    }

    /// Reads `port`'s socket until the kernel has nothing more, each datagram into the core and
    /// its transmits out before the next one is looked at.
    ///
    /// A batch shorter than [`RX_BATCH`] ends the drain without another `recvmmsg` to see
    /// `EAGAIN`: the kernel returned fewer because the socket's queue was empty when it took
    /// them. That is safe with mio's edge-triggered epoll on a datagram socket because every
    /// datagram queued *after* that dequeue wakes the socket again (the UDP receive path calls
    /// `sk_data_ready` per datagram, which re-arms the edge), so nothing can sit unseen. A full
    /// batch may have left more behind: read again.
    fn drain_socket(&mut self, now: Instant, port: u16) {
        let mut received = 0;
        while let Some(socket) = self.sockets.get(&port) {
            let n = match self.rx.recv(socket) {
                Ok(n) => n,
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => break,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) => {
                    // ICMP port unreachable from an earlier send surfaces here on Linux: the
                    // far end is gone, not this socket; keep reading.
                    tracing::trace!(%err, port, "receive error");
                    if err.kind() == io::ErrorKind::ConnectionRefused {
                        continue;
                    }
                    break;
                }
            };
            for i in 0..n {
                let Some((data, got)) = self.rx.get(i) else {
                    break;
                };
                let Some(from) = got.from else {
                    tracing::trace!(port, "datagram without an IP sender");
                    continue;
                };
                received += 1;
                self.p.core.handle_datagram(now, port, from, data);
                // Relay path: forward at once, before the batch's next datagram.
                let sent = self.send_transmits();
                if let (Some(at), true) = (got.stamp_ns, sent > 0) {
                    let hist = self.p.counters.relay_latency.get(self.p.index);
                    if let Some(hist) = hist {
                        hist.record(rx_stamp::now_ns().saturating_sub(at));
                    }
                }
            }
            if n < RX_BATCH {
                break;
            }
        }
        ShellCounters::bump(&self.p.counters.datagrams_in, received);
    }

    /// Sends what the core asks; returns how many datagrams went out.
    fn send_transmits(&mut self) -> u64 {
        let (mut sent, mut failed) = (0, 0);
        while let Some(t) = self.p.core.poll_transmit() {
            match self.sockets.get(&t.local_port) {
                Some(socket) => match socket.send_to(&t.payload, t.to) {
                    Ok(_) => sent += 1,
                    Err(err) => {
                        failed += 1;
                        tracing::trace!(%err, port = t.local_port, to = %t.to, "send failed");
                    }
                },
                None => failed += 1,
            }
        }
        ShellCounters::bump(&self.p.counters.datagrams_out, sent);
        ShellCounters::bump(&self.p.counters.send_failed, failed);
        sent
    }

    /// Drains the core: transmits, events (to the engine), tap frames (to the analysis and
    /// recording threads).
    fn flush(&mut self) {
        self.send_transmits();
        while let Some(event) = self.p.core.poll_event() {
            self.emit(event);
        }
        self.taps
            .extend(std::iter::from_fn(|| self.p.core.poll_tap()));
        if !self.taps.is_empty() {
            let frames = std::mem::take(&mut self.taps);
            for f in &frames {
                if self.legs.get(&f.leg).is_some_and(|(_, s)| s.analysing) {
                    self.to_analysis(Job::Frame(Box::new(f.clone())));
                }
            }
            // One message a wake-up; dropped (and counted) when the recorder is too far behind.
            self.p.recording.frames(frames);
        }
        self.push_backlog();
    }

    /// Passes an event on, merging what the shell knows of moved legs.
    fn emit(&mut self, event: MediaEvent) {
        let event = match event {
            MediaEvent::FirstPacket { leg } => match self.legs.get_mut(&leg) {
                Some((_, state)) if state.first_seen => return,
                Some((_, state)) => {
                    state.first_seen = true;
                    event
                }
                None => event,
            },
            MediaEvent::Closed { leg, stats } => {
                let carried = self.legs.get(&leg).and_then(|(_, state)| state.carried);
                MediaEvent::Closed {
                    leg,
                    stats: carried.map_or(stats, |c| merge(c, stats)),
                }
            }
            other => other,
        };
        self.backlog.push_back(event);
        self.push_backlog();
    }

    fn push_backlog(&mut self) {
        while let Some(event) = self.backlog.pop_front() {
            match self.p.events.try_send(event) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(event)) => {
                    self.backlog.push_front(event);
                    return;
                }
                Err(mpsc::error::TrySendError::Closed(_)) => {
                    // Nobody listens (the engine stopped first): nothing to tell.
                    self.backlog.clear();
                    return;
                }
            }
        }
    }

    fn to_analysis(&self, job: Job) {
        if self.p.analysis.send(job).is_err() {
            // Only after the thread ended, i.e. while the shell stops.
            tracing::debug!("analysis thread gone");
        }
    }

    /// Hands `leg` to worker `to`: closes it in this core (keeping its figures so far), moves
    /// its sockets, and lets the new worker replay it and run `then`.
    fn move_out(&mut self, now: Instant, leg: LegId, to: usize, then: MediaCommand) {
        let Some((port, mut state)) = self.legs.remove(&leg) else {
            tracing::warn!(?leg, "move of a leg this worker does not have");
            self.send_to_peer(to, ToWorker::Adopt(Box::new(Migrant::lost(leg, then))));
            return;
        };
        self.p.core.handle_command(now, MediaCommand::Close { leg });
        self.send_transmits();
        // The leg's Closed event here is its first part's figures, not the engine's business.
        let mut others = Vec::new();
        while let Some(event) = self.p.core.poll_event() {
            match event {
                MediaEvent::Closed { leg: closed, stats } if closed == leg => {
                    state.carried = Some(state.carried.map_or(stats, |c| merge(c, stats)));
                }
                other => others.push(other),
            }
        }
        for event in others {
            self.emit(event);
        }
        let rtp = self.take_socket(port);
        let rtcp = port.checked_add(1).and_then(|p| self.take_socket(p));
        let sockets = match (rtp, rtcp) {
            (Some(rtp), Some(rtcp)) => Some((rtp, rtcp)),
            _ => None,
        };
        let migrant = Migrant {
            port,
            sockets,
            leg: state,
            then,
        };
        self.send_to_peer(to, ToWorker::Adopt(Box::new(migrant)));
    }

    fn send_to_peer(&self, to: usize, msg: ToWorker) {
        match self.p.peers.get(to) {
            Some(peer) => peer.deliver(msg),
            None => tracing::error!(to, "move to a worker that does not exist"),
        }
    }

    /// Takes a leg moved from another worker: registers its sockets, replays it into this core.
    fn adopt(&mut self, now: Instant, m: Migrant) {
        let Migrant {
            port,
            sockets,
            leg,
            then,
        } = m;
        let Some((rtp, rtcp)) = sockets else {
            // The old worker did not have the leg: the bridge still reaches the core, which
            // ignores what it does not know (the sink is told as for any bridge).
            self.command(now, then);
            return;
        };
        let registered = self
            .register(port, rtp)
            .and_then(|()| self.register(port.wrapping_add(1), rtcp));
        if let Err(reason) = registered {
            tracing::error!(leg = ?leg.id, %reason, "moved leg could not be registered");
            self.close_pair(port);
            return;
        }
        let id = leg.id;
        self.p.core.handle_command(
            now,
            MediaCommand::Open {
                leg: id,
                role: leg.role,
                local_port: port,
            },
        );
        if let Some(remote) = &leg.remote {
            self.p.core.handle_command(
                now,
                MediaCommand::Remote {
                    leg: id,
                    remote: remote.clone(),
                },
            );
        }
        // An analysed leg is tapped too; its classifier lives on in the analysis thread, which
        // does not care which worker its frames come from.
        if leg.tap || leg.analysing {
            self.p
                .core
                .handle_command(now, MediaCommand::Tap { leg: id, on: true });
        }
        if let Some(path) = &leg.recording {
            // The recording thread already records this call: only the new core is told.
            self.p.core.handle_command(
                now,
                MediaCommand::Record {
                    customer: id,
                    path: path.clone(),
                },
            );
        }
        self.legs.insert(id, (port, leg));
        // Through `command`, not straight to the core: the follow-up is the Bridge that moved
        // the leg, and the sink must hear of it too, or the agent's audio never reaches the
        // call's recording (its right channel stayed silent whenever the legs had been on
        // different workers, i.e. nearly always with two workers).
        self.command(now, then);
        // Datagrams that arrived during the move are waiting; edge-triggered readiness may have
        // fired on the old poll, so read now.
        self.drain_socket(now, port);
        if let Some(rtcp) = port.checked_add(1) {
            self.drain_socket(now, rtcp);
        }
    }
}

impl LegState {
    fn new(id: LegId, role: LegRole) -> Self {
        LegState {
            id,
            role,
            remote: None,
            tap: false,
            analysing: false,
            recording: None,
            first_seen: false,
            carried: None,
        }
    }
}

impl Migrant {
    /// A move whose leg was not found: only the follow-up command travels.
    fn lost(leg: LegId, then: MediaCommand) -> Self {
        Migrant {
            port: 0,
            sockets: None,
            leg: LegState::new(leg, LegRole::Customer),
            then,
        }
    }
}

/// Adds the figures of two parts of one leg's life (moved between shards).
fn merge(a: LegStats, b: LegStats) -> LegStats {
    let (na, nb) = (a.packets_in as f64, b.packets_in as f64);
    let weighted = |x: f64, y: f64| {
        if na + nb > 0.0 {
            (x * na + y * nb) / (na + nb)
        } else {
            y
        }
    };
    LegStats {
        packets_in: a.packets_in + b.packets_in,
        packets_out: a.packets_out + b.packets_out,
        loss_pct: weighted(a.loss_pct, b.loss_pct),
        jitter_ms: weighted(a.jitter_ms, b.jitter_ms),
        mos: weighted(a.mos, b.mos),
    }
}
