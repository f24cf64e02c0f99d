//! The tokio shell around [`Endpoint`]: one task owns the endpoint, one UDP socket (and a TCP
//! listener on the same port) serve every call, and one sleep tracks the endpoint's next timer.
//! Commands arrive as typed [`Command`]s over a bounded mpsc channel; events leave over
//! another, bounded too (a slow receiver stops the task reading the socket, never loses an
//! event). No lock, no task
//! per call (TCP connections get a reader task each, as streams need one). Connections peers open
//! to us obey [`ConnLimits`]: a cap (more are closed at accept), a time limit on a message once
//! started (slowloris) and on the first message of a silent connection, each refusal counted in
//! `/metrics`.

use std::collections::{HashMap, VecDeque};
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::{mpsc, oneshot, OwnedSemaphorePermit};
use tokio::task::JoinHandle;

use super::endpoint::{
    AgentCall, AgentLeg, CallError, CallId, DialogSnapshot, Endpoint, EndpointConfig, Event,
    PlaceCall, PlaceError, Stats,
};
use super::message::frame_len;
use super::trunk::{Transport, TrunkSet};
use super::values::{ExtraHeader, SipUri};
use crate::limits::{ConnCap, ConnLimits, Refusal};

/// Default limits of the TCP listener (the engine config's `sip.tcp.*` defaults).
pub const DEFAULT_TCP_LIMITS: ConnLimits = ConnLimits {
    max_connections: 256,
    header_timeout: Duration::from_secs(5),
    idle_timeout: Duration::from_secs(120),
};

/// The `listener` label of the SIP TCP listener's refusals in `/metrics`.
const LISTENER: &str = "sip_tcp";

/// Commands waiting for the driver task at most; a sender beyond it waits (back-pressure).
pub const COMMAND_CAPACITY: usize = 4096;
/// Events waiting for the receiver at most; beyond it the task stops reading the UDP socket
/// (the kernel buffer holds what comes meanwhile) until the receiver catches up.
pub const EVENT_CAPACITY: usize = 4096;
/// Messages queued for one TCP connection at most: a peer that reads none of them is dropped
/// (its connection closed, the next message opens a new one) rather than held in memory.
const STREAM_CAPACITY: usize = 1024;
/// Whole messages read from TCP connections waiting for the driver task at most; a reader
/// beyond it waits.
const FRAME_CAPACITY: usize = 1024;

/// Where a command's result goes: `None` for a command whose result nobody waits for (a
/// failure is then logged by the driver with its cause).
pub type Reply<T> = Option<oneshot::Sender<T>>;

/// A call placed: its handle and the trunk it left on.
pub type Placed = (CallId, Option<String>);

/// One thing asked of the endpoint, applied by the driver task with the current instant; each
/// variant is one public method of [`Endpoint`].
#[derive(Debug)]
pub enum Command {
    /// [`Endpoint::place_call`], with the trunk it took ([`Endpoint::call_trunk`]).
    Place {
        /// The INVITE.
        req: PlaceCall,
        /// The call and its trunk.
        reply: Reply<Result<Placed, PlaceError>>,
    },
    /// Several [`Endpoint::place_call`]s at one instant (load tests).
    PlaceMany {
        /// The INVITEs.
        reqs: Vec<PlaceCall>,
        /// One result per request, in order.
        reply: Reply<Vec<Result<CallId, PlaceError>>>,
    },
    /// [`Endpoint::call_agent`].
    CallAgent {
        /// The INVITE to the agent's phone.
        req: AgentCall,
        /// The call.
        reply: Reply<Result<CallId, CallError>>,
    },
    /// [`Endpoint::connect_with`] (or [`Endpoint::connect`] without `shown`).
    Connect {
        /// The customer's call.
        call: CallId,
        /// The agent (or announcement).
        agent: SipUri,
        /// What the agent's phone is shown.
        shown: Option<AgentLeg>,
        /// The outcome.
        reply: Reply<Result<(), CallError>>,
    },
    /// [`Endpoint::abandon`].
    Abandon {
        /// The call.
        call: CallId,
        /// The announcement.
        announcement: Option<SipUri>,
        /// The outcome.
        reply: Reply<Result<(), CallError>>,
    },
    /// [`Endpoint::hangup`] on each call.
    Hangup {
        /// The calls.
        calls: Vec<CallId>,
        /// The outcome of the first failure, if any.
        reply: Reply<Result<(), CallError>>,
    },
    /// [`Endpoint::ring`].
    Ring {
        /// The call.
        call: CallId,
        /// The outcome.
        reply: Reply<Result<(), CallError>>,
    },
    /// [`Endpoint::answer`].
    Answer {
        /// The call.
        call: CallId,
        /// The SDP answer.
        sdp: Option<String>,
        /// Extra headers.
        headers: Vec<ExtraHeader>,
        /// The outcome.
        reply: Reply<Result<(), CallError>>,
    },
    /// [`Endpoint::reject`].
    Reject {
        /// The call.
        call: CallId,
        /// The status.
        code: u16,
        /// The outcome.
        reply: Reply<Result<(), CallError>>,
    },
    /// [`Endpoint::challenge`].
    Challenge {
        /// The call.
        call: CallId,
        /// Realm.
        realm: String,
        /// Nonce.
        nonce: String,
        /// `stale=true`: the nonce expired but the credentials were right.
        stale: bool,
        /// The outcome.
        reply: Reply<Result<(), CallError>>,
    },
    /// [`Endpoint::available_lines`].
    AvailableLines {
        /// The trunk group.
        group: String,
        /// Lines.
        reply: Reply<u32>,
    },
    /// Every trunk's channels, calls/s, health and last failure (the wallboard's rows).
    Trunks {
        /// The rows, in configuration order.
        reply: Reply<Vec<crate::admin::wallboard::TrunkBoard>>,
    },
    /// [`Endpoint::stats`].
    Stats {
        /// The counters.
        reply: Reply<Stats>,
    },
    /// [`Endpoint::open_dialogs`].
    OpenDialogs {
        /// How many.
        reply: Reply<usize>,
    },
    /// [`Endpoint::call_trunk`].
    CallTrunk {
        /// The call.
        call: CallId,
        /// Its trunk.
        reply: Reply<Option<String>>,
    },
    /// [`Endpoint::call_trunk`] and [`Endpoint::dialog_snapshots`] of a call.
    Dialogs {
        /// The call.
        call: CallId,
        /// Its trunk and the dialogs of its answered legs.
        reply: Reply<(Option<String>, Vec<DialogSnapshot>)>,
    },
    /// [`Endpoint::restore_and_end`].
    RestoreAndEnd {
        /// The stored dialog.
        snapshot: DialogSnapshot,
        /// The restored call, if any.
        reply: Reply<Option<CallId>>,
    },
    /// Pushes the endpoint's refusal counters and trunk gauges to `/metrics`.
    PushGauges,
}

/// Sends `value` to whoever waits for it.
fn respond<T>(reply: Reply<T>, value: T) {
    if let Some(tx) = reply {
        if tx.send(value).is_err() {
            tracing::debug!("sip command: the caller stopped waiting for the result");
        }
    }
}

/// Sends a command's outcome, or logs its failure with the cause when nobody waits for it.
fn outcome(what: &'static str, reply: Reply<Result<(), CallError>>, r: Result<(), CallError>) {
    match (reply, r) {
        (Some(tx), r) => respond(Some(tx), r),
        (None, Ok(())) => {}
        // An agent leg that cannot be set up leaves a customer waiting: worth a warning.
        (None, Err(e)) if what == "connect" => tracing::warn!(error = %e, "{what}"),
        (None, Err(e)) => tracing::debug!(error = %e, "{what}"),
    }
}

impl Command {
    /// Applies the command to the endpoint at `now`.
    fn apply(self, ep: &mut Endpoint, now: Instant) {
        match self {
            Command::Place { req, reply } => {
                let r = ep
                    .place_call(now, req)
                    .map(|call| (call, ep.call_trunk(call)));
                if let (None, Err(e)) = (&reply, &r) {
                    tracing::debug!(error = %e, "place call");
                }
                respond(reply, r);
            }
            Command::PlaceMany { reqs, reply } => {
                let r = reqs.into_iter().map(|q| ep.place_call(now, q)).collect();
                respond(reply, r);
            }
            Command::CallAgent { req, reply } => {
                let r = ep.call_agent(now, req);
                if let (None, Err(e)) = (&reply, &r) {
                    tracing::warn!(error = %e, "call agent");
                }
                respond(reply, r);
            }
            Command::Connect {
                call,
                agent,
                shown,
                reply,
            } => {
                let r = match shown {
                    Some(shown) => ep.connect_with(now, call, agent, shown),
                    None => ep.connect(now, call, agent),
                };
                outcome("connect", reply, r);
            }
            Command::Abandon {
                call,
                announcement,
                reply,
            } => outcome("abandon", reply, ep.abandon(now, call, announcement)),
            Command::Hangup { calls, reply } => {
                let mut first = Ok(());
                for c in calls {
                    if let Err(e) = ep.hangup(now, c) {
                        if first.is_ok() {
                            first = Err(e);
                        }
                    }
                }
                outcome("hang up", reply, first);
            }
            Command::Ring { call, reply } => outcome("ring", reply, ep.ring(now, call)),
            Command::Answer {
                call,
                sdp,
                headers,
                reply,
            } => outcome("answer", reply, ep.answer(now, call, sdp, &headers)),
            Command::Reject { call, code, reply } => {
                outcome("reject", reply, ep.reject(now, call, code))
            }
            Command::Challenge {
                call,
                realm,
                nonce,
                stale,
                reply,
            } => outcome(
                "challenge",
                reply,
                ep.challenge(now, call, &realm, &nonce, stale),
            ),
            Command::AvailableLines { group, reply } => {
                respond(reply, ep.available_lines(&group, now))
            }
            Command::Stats { reply } => respond(reply, ep.stats()),
            Command::Trunks { reply } => respond(reply, trunk_rows(ep.trunks(), now)),
            Command::OpenDialogs { reply } => respond(reply, ep.open_dialogs()),
            Command::CallTrunk { call, reply } => respond(reply, ep.call_trunk(call)),
            Command::Dialogs { call, reply } => {
                respond(reply, (ep.call_trunk(call), ep.dialog_snapshots(call)))
            }
            Command::RestoreAndEnd { snapshot, reply } => {
                respond(reply, ep.restore_and_end(now, &snapshot))
            }
            Command::PushGauges => {
                let s = ep.stats();
                crate::admin::metrics::set_sip_refused(s.forbidden, s.wrong_source, s.stray);
                for t in ep.trunks() {
                    crate::admin::metrics::set_trunk(&crate::admin::metrics::TrunkGauges {
                        trunk: t.config.name.clone(),
                        channels_in_use: t.active,
                        max_channels: t.config.max_channels,
                        calls_last_second: t.calls_last_second(now),
                        up: t.health == super::trunk::Health::InService,
                    });
                }
            }
        }
    }
}

/// The wallboard's rows of `trunks` at `now`.
fn trunk_rows(
    trunks: &[super::trunk::Trunk],
    now: Instant,
) -> Vec<crate::admin::wallboard::TrunkBoard> {
    trunks
        .iter()
        .map(|t| crate::admin::wallboard::TrunkBoard {
            name: t.config.name.clone(),
            in_use: t.active,
            max: t.config.max_channels,
            calls_per_s: f64::from(t.calls_last_second(now)),
            healthy: t.health == super::trunk::Health::InService,
            last_error: t.last_error.map(|(at, why)| {
                format!(
                    "{why} ({}s ago)",
                    now.saturating_duration_since(at).as_secs()
                )
            }),
        })
        .collect()
}

/// The driver task has stopped (its endpoint is gone).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the sip driver has stopped")]
pub struct DriverGone;

/// Cloneable handle to a running endpoint. Every method is one [`Command`] to the driver task;
/// a full command queue makes the caller wait.
#[derive(Clone)]
pub struct SipHandle {
    tx: mpsc::Sender<Command>,
    local_addr: SocketAddr,
}

impl SipHandle {
    /// Address of the UDP socket (and TCP listener).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Sends a command without waiting for its result.
    pub async fn send(&self, cmd: Command) -> Result<(), DriverGone> {
        self.tx.send(cmd).await.map_err(|_| DriverGone)
    }

    /// Sends the command `make` builds around a reply channel and waits for the result.
    async fn ask<R>(&self, make: impl FnOnce(Reply<R>) -> Command) -> Result<R, DriverGone> {
        let (tx, rx) = oneshot::channel();
        self.send(make(Some(tx))).await?;
        rx.await.map_err(|_| DriverGone)
    }

    /// See [`Endpoint::place_call`].
    pub async fn place_call(
        &self,
        req: PlaceCall,
    ) -> Result<Result<CallId, PlaceError>, DriverGone> {
        Ok(self.place(req).await?.map(|(call, _)| call))
    }
    /// [`Endpoint::place_call`], with the trunk the call left on.
    pub async fn place(&self, req: PlaceCall) -> Result<Result<Placed, PlaceError>, DriverGone> {
        self.ask(|reply| Command::Place { req, reply }).await
    }
    /// Several [`Endpoint::place_call`]s at one instant.
    pub async fn place_many(
        &self,
        reqs: Vec<PlaceCall>,
    ) -> Result<Vec<Result<CallId, PlaceError>>, DriverGone> {
        self.ask(|reply| Command::PlaceMany { reqs, reply }).await
    }
    /// See [`Endpoint::call_agent`].
    pub async fn call_agent(
        &self,
        req: AgentCall,
    ) -> Result<Result<CallId, CallError>, DriverGone> {
        self.ask(|reply| Command::CallAgent { req, reply }).await
    }
    /// See [`Endpoint::connect`].
    pub async fn connect(
        &self,
        call: CallId,
        agent: SipUri,
    ) -> Result<Result<(), CallError>, DriverGone> {
        self.ask(|reply| Command::Connect {
            call,
            agent,
            shown: None,
            reply,
        })
        .await
    }
    /// See [`Endpoint::connect_with`].
    pub async fn connect_with(
        &self,
        call: CallId,
        agent: SipUri,
        shown: AgentLeg,
    ) -> Result<Result<(), CallError>, DriverGone> {
        self.ask(|reply| Command::Connect {
            call,
            agent,
            shown: Some(shown),
            reply,
        })
        .await
    }
    /// See [`Endpoint::abandon`].
    pub async fn abandon(
        &self,
        call: CallId,
        announcement: Option<SipUri>,
    ) -> Result<Result<(), CallError>, DriverGone> {
        self.ask(|reply| Command::Abandon {
            call,
            announcement,
            reply,
        })
        .await
    }
    /// See [`Endpoint::hangup`].
    pub async fn hangup(&self, call: CallId) -> Result<Result<(), CallError>, DriverGone> {
        self.ask(|reply| Command::Hangup {
            calls: vec![call],
            reply,
        })
        .await
    }
    /// See [`Endpoint::ring`].
    pub async fn ring(&self, call: CallId) -> Result<Result<(), CallError>, DriverGone> {
        self.ask(|reply| Command::Ring { call, reply }).await
    }
    /// See [`Endpoint::answer`].
    pub async fn answer(
        &self,
        call: CallId,
        sdp: Option<String>,
        headers: Vec<ExtraHeader>,
    ) -> Result<Result<(), CallError>, DriverGone> {
        self.ask(|reply| Command::Answer {
            call,
            sdp,
            headers,
            reply,
        })
        .await
    }
    /// See [`Endpoint::reject`].
    pub async fn reject(
        &self,
        call: CallId,
        code: u16,
    ) -> Result<Result<(), CallError>, DriverGone> {
        self.ask(|reply| Command::Reject { call, code, reply })
            .await
    }
    /// See [`Endpoint::challenge`].
    pub async fn challenge(
        &self,
        call: CallId,
        realm: String,
        nonce: String,
        stale: bool,
    ) -> Result<Result<(), CallError>, DriverGone> {
        self.ask(|reply| Command::Challenge {
            call,
            realm,
            nonce,
            stale,
            reply,
        })
        .await
    }
    /// See [`Endpoint::available_lines`].
    pub async fn available_lines(&self, group: String) -> Result<u32, DriverGone> {
        self.ask(|reply| Command::AvailableLines { group, reply })
            .await
    }
    /// Every trunk's wallboard row.
    pub async fn trunks(&self) -> Result<Vec<crate::admin::wallboard::TrunkBoard>, DriverGone> {
        self.ask(|reply| Command::Trunks { reply }).await
    }
    /// See [`Endpoint::stats`].
    pub async fn stats(&self) -> Result<Stats, DriverGone> {
        self.ask(|reply| Command::Stats { reply }).await
    }
    /// See [`Endpoint::open_dialogs`].
    pub async fn open_dialogs(&self) -> Result<usize, DriverGone> {
        self.ask(|reply| Command::OpenDialogs { reply }).await
    }
    /// See [`Endpoint::restore_and_end`].
    pub async fn restore_and_end(
        &self,
        snapshot: DialogSnapshot,
    ) -> Result<Option<CallId>, DriverGone> {
        self.ask(|reply| Command::RestoreAndEnd { snapshot, reply })
            .await
    }
}

fn udp_socket(bind: SocketAddr) -> io::Result<UdpSocket> {
    let domain = if bind.is_ipv4() {
        socket2::Domain::IPV4
    } else {
        socket2::Domain::IPV6
    };
    let s = socket2::Socket::new(domain, socket2::Type::DGRAM, Some(socket2::Protocol::UDP))?;
    // Bursts of thousands of messages per second: larger buffers than the 208 KiB default
    // (the kernel caps them at net.core.rmem_max / wmem_max).
    // A kernel that refuses keeps its default: slower under bursts, still correct.
    for (what, r) in [
        ("receive", s.set_recv_buffer_size(4 << 20)),
        ("send", s.set_send_buffer_size(4 << 20)),
    ] {
        if let Err(e) = r {
            tracing::debug!(error = %e, "udp {what} buffer left at its default");
        }
    }
    s.set_nonblocking(true)?;
    s.bind(&bind.into())?;
    UdpSocket::from_std(s.into())
}

/// Binds UDP (and TCP) on `bind` (port 0 picks one), starts the driver task and returns the
/// handle, the event stream and the task. `cfg.local_addr` is set to the bound address. The task
/// ends when every handle is dropped.
pub async fn spawn(
    bind: SocketAddr,
    cfg: EndpointConfig,
    trunks: TrunkSet,
) -> io::Result<(SipHandle, mpsc::Receiver<Event>, JoinHandle<()>)> {
    spawn_with(bind, cfg, trunks, DEFAULT_TCP_LIMITS).await
}

/// [`spawn`] with the TCP listener's limits given.
pub async fn spawn_with(
    bind: SocketAddr,
    mut cfg: EndpointConfig,
    trunks: TrunkSet,
    limits: ConnLimits,
) -> io::Result<(SipHandle, mpsc::Receiver<Event>, JoinHandle<()>)> {
    let udp = Arc::new(udp_socket(bind)?);
    let local = udp.local_addr()?;
    let tcp = TcpListener::bind(local).await.ok();
    cfg.local_addr = local;
    // Live: branches and tags keyed from the OS RNG (the core itself never reads entropy).
    cfg.secret.get_or_insert_with(rand::random);
    let (cmd_tx, cmd_rx) = mpsc::channel(COMMAND_CAPACITY);
    let (ev_tx, ev_rx) = mpsc::channel(EVENT_CAPACITY);
    let ep = Endpoint::new(cfg, trunks, Instant::now());
    let tcp = tcp.map(|l| (l, ConnCap::new(limits.max_connections), limits));
    let task = tokio::spawn(run(ep, udp, tcp, cmd_rx, ev_tx));
    Ok((
        SipHandle {
            tx: cmd_tx,
            local_addr: local,
        },
        ev_rx,
        task,
    ))
}

/// TCP connections by peer: the sender feeds that connection's writer task.
struct Streams {
    writers: HashMap<SocketAddr, mpsc::Sender<Vec<u8>>>,
    frames: mpsc::Sender<(SocketAddr, Vec<u8>)>,
}

impl Streams {
    fn send(&mut self, dest: SocketAddr, bytes: Vec<u8>) {
        let bytes = match self.writers.get(&dest).map(|w| w.try_send(bytes)) {
            None => None,
            Some(Ok(())) => return,
            // The connection closed: open a new one for this message.
            Some(Err(mpsc::error::TrySendError::Closed(b))) => Some(b),
            // The peer reads nothing of what we queue: drop the connection (its transactions
            // time out) rather than hold the messages; the next message opens a new one.
            Some(Err(mpsc::error::TrySendError::Full(_))) => {
                tracing::warn!(%dest, queued = STREAM_CAPACITY, "sip tcp peer not reading: connection dropped with its queued messages");
                self.writers.remove(&dest);
                return;
            }
        };
        let (tx, rx) = mpsc::channel(STREAM_CAPACITY);
        if let Some(b) = bytes {
            // A new channel has room for one message.
            if let Err(e) = tx.try_send(b) {
                tracing::error!(%dest, error = %e, "sip tcp message not queued");
            }
        }
        self.writers.insert(dest, tx);
        let frames = self.frames.clone();
        tokio::spawn(async move {
            match TcpStream::connect(dest).await {
                Ok(s) => serve_stream(s, dest, rx, frames, None).await,
                Err(e) => tracing::warn!(%dest, error = %e, "sip tcp connect failed"),
            }
        });
    }

    fn accept(
        &mut self,
        s: TcpStream,
        peer: SocketAddr,
        limits: ConnLimits,
        permit: OwnedSemaphorePermit,
    ) {
        // Forget connections that have closed, so that many short ones leave no trace.
        if self.writers.len() >= 2 * limits.max_connections {
            self.writers.retain(|_, w| !w.is_closed());
        }
        let (tx, rx) = mpsc::channel(STREAM_CAPACITY);
        self.writers.insert(peer, tx);
        let frames = self.frames.clone();
        tokio::spawn(async move {
            serve_stream(s, peer, rx, frames, Some(limits)).await;
            drop(permit);
        });
    }
}

/// Reads Content-Length framed messages from a TCP stream and writes queued messages to it.
/// With `limits` (connections peers opened), a message must be complete within
/// `header_timeout` of its first byte, and the first message (CRLF keep-alives do not count)
/// must start within `idle_timeout` of the connection opening. A connection that has carried a message stays open while quiet:
/// the calls it set up send their in-dialog requests back over it (to the peer's address), and a
/// call may be quiet for an hour; the cap bounds how many such connections there are.
async fn serve_stream(
    s: TcpStream,
    peer: SocketAddr,
    mut out: mpsc::Receiver<Vec<u8>>,
    frames: mpsc::Sender<(SocketAddr, Vec<u8>)>,
    limits: Option<ConnLimits>,
) {
    let (mut rd, mut wr) = s.into_split();
    let writer = tokio::spawn(async move {
        while let Some(b) = out.recv().await {
            if wr.write_all(&b).await.is_err() {
                break;
            }
        }
    });
    let mut buf = Vec::with_capacity(8192);
    let mut chunk = [0u8; 8192];
    // When the connection opened, and when the message in `buf` started.
    let opened = tokio::time::Instant::now();
    let mut since = opened;
    let mut spoke = false;
    'read: loop {
        let read = match limits {
            Some(_) if spoke && buf.is_empty() => rd.read(&mut chunk).await,
            None => rd.read(&mut chunk).await,
            Some(l) => {
                let (deadline, why) = if buf.is_empty() {
                    (opened + l.idle_timeout, Refusal::IdleTimeout)
                } else {
                    (since + l.header_timeout, Refusal::HeaderTimeout)
                };
                match tokio::time::timeout_at(deadline, rd.read(&mut chunk)).await {
                    Ok(r) => r,
                    Err(_) => {
                        crate::admin::metrics::listener_refused(LISTENER, why);
                        tracing::debug!(%peer, reason = why.as_str(), "closing sip tcp stream");
                        break;
                    }
                }
            }
        };
        match read {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if buf.is_empty() {
                    since = tokio::time::Instant::now();
                }
                buf.extend_from_slice(&chunk[..n]);
            }
        }
        loop {
            match frame_len(&buf) {
                Ok(Some(len)) => {
                    let msg: Vec<u8> = buf.drain(..len).collect();
                    // The next message (already begun in `buf`) is timed from now.
                    since = tokio::time::Instant::now();
                    // A CRLF keep-alive alone does not make a peer (anyone can send one).
                    spoke |= msg.iter().any(|b| !matches!(b, b'\r' | b'\n'));
                    if frames.send((peer, msg)).await.is_err() {
                        break 'read;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    tracing::debug!(%peer, error = %e, "closing sip tcp stream with bad framing");
                    break 'read;
                }
            }
        }
    }
    writer.abort();
}

async fn run(
    mut ep: Endpoint,
    udp: Arc<UdpSocket>,
    tcp: Option<(TcpListener, ConnCap, ConnLimits)>,
    mut cmds: mpsc::Receiver<Command>,
    events: mpsc::Sender<Event>,
) {
    let (frames_tx, mut frames_rx) = mpsc::channel(FRAME_CAPACITY);
    // Events the receiver has not taken yet: the socket is read only while there is room.
    let mut pending: VecDeque<Event> = VecDeque::new();
    let mut streams = Streams {
        writers: HashMap::new(),
        frames: frames_tx,
    };
    let mut buf = vec![0u8; 65536];
    let far = Duration::from_secs(3600);
    loop {
        // Drain outputs after every input (str0m's rule).
        while let Some(t) = ep.poll_transmit() {
            match t.transport {
                Transport::Udp => match udp.try_send_to(&t.payload, t.dest) {
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        if let Err(e) = udp.send_to(&t.payload, t.dest).await {
                            tracing::debug!(dest = %t.dest, error = %e, "udp send failed");
                        }
                    }
                    Err(e) => tracing::debug!(dest = %t.dest, error = %e, "udp send failed"),
                },
                Transport::Tcp => streams.send(t.dest, t.payload),
            }
        }
        while let Some(e) = ep.poll_event() {
            pending.push_back(e);
        }
        while let Some(e) = pending.pop_front() {
            match events.try_send(e) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(e)) => {
                    pending.push_front(e);
                    break;
                }
                // Nobody listens any more (the owner is exiting): nothing to deliver to.
                Err(mpsc::error::TrySendError::Closed(_)) => pending.clear(),
            }
        }
        let room = pending.len() < EVENT_CAPACITY;
        let deadline = ep.poll_timeout().unwrap_or_else(|| Instant::now() + far);
        let sleep = tokio::time::sleep_until(tokio::time::Instant::from_std(deadline));
        tokio::select! {
            permit = events.reserve(), if !pending.is_empty() => {
                match (permit, pending.pop_front()) {
                    (Ok(permit), Some(e)) => permit.send(e),
                    (Ok(_), None) => {}
                    // Nobody listens any more (the owner is exiting): nothing to deliver to.
                    (Err(_), _) => pending.clear(),
                }
            }
            r = udp.recv_from(&mut buf), if room => {
                let now = Instant::now();
                if let Ok((n, from)) = r {
                    ep.handle_datagram(now, from, Transport::Udp, &buf[..n]);
                }
                // Take whatever else is queued before transmitting (batching under load).
                for _ in 0..256 {
                    match udp.try_recv_from(&mut buf) {
                        Ok((n, from)) => ep.handle_datagram(now, from, Transport::Udp, &buf[..n]),
                        Err(_) => break,
                    }
                }
                ep.handle_timeout(now);
            }
            c = cmds.recv() => {
                let Some(c) = c else { break };
                let now = Instant::now();
                c.apply(&mut ep, now);
                for _ in 0..256 {
                    match cmds.try_recv() {
                        Ok(c) => c.apply(&mut ep, now),
                        Err(_) => break,
                    }
                }
            }
            Some((from, msg)) = frames_rx.recv(), if room => {
                ep.handle_datagram(Instant::now(), from, Transport::Tcp, &msg);
            }
            a = async { match &tcp { Some((l, _, _)) => l.accept().await, None => std::future::pending().await } } => {
                if let (Ok((s, peer)), Some((_, cap, limits))) = (a, &tcp) {
                    match cap.try_admit() {
                        Some(permit) => streams.accept(s, peer, *limits, permit),
                        None => {
                            crate::admin::metrics::listener_refused(LISTENER, Refusal::Cap);
                            tracing::debug!(%peer, "sip tcp connection over the cap: closed");
                        }
                    }
                }
            }
            _ = sleep => {
                ep.handle_timeout(Instant::now());
            }
        }
    }
}
