//! The tokio shell around [`Endpoint`]: one task owns the endpoint, one UDP socket (and a TCP
//! listener on the same port) serve every call, and one sleep tracks the endpoint's next timer.
//! Commands arrive as closures over an mpsc channel; events leave over another. No lock, no task
//! per call (TCP connections get a reader task each, as streams need one). Connections peers open
//! to us obey [`ConnLimits`]: a cap (more are closed at accept), a time limit on a message once
//! started (slowloris) and on the first message of a silent connection, each refusal counted in
//! `/metrics`.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::{mpsc, oneshot, OwnedSemaphorePermit};
use tokio::task::JoinHandle;

use super::endpoint::{
    CallError, CallId, Endpoint, EndpointConfig, Event, PlaceCall, PlaceError, Stats,
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

type Command = Box<dyn FnOnce(&mut Endpoint, Instant) + Send>;

/// The driver task has stopped (its endpoint is gone).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the sip driver has stopped")]
pub struct DriverGone;

/// Cloneable handle to a running endpoint. Every method is one message to the driver task.
#[derive(Clone)]
pub struct SipHandle {
    tx: mpsc::UnboundedSender<Command>,
    local_addr: SocketAddr,
}

impl SipHandle {
    /// Address of the UDP socket (and TCP listener).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Runs `f` on the endpoint inside the driver task and returns its result.
    pub async fn with<R, F>(&self, f: F) -> Result<R, DriverGone>
    where
        R: Send + 'static,
        F: FnOnce(&mut Endpoint, Instant) -> R + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(Box::new(move |ep, now| {
                let _ = tx.send(f(ep, now));
            }))
            .map_err(|_| DriverGone)?;
        rx.await.map_err(|_| DriverGone)
    }

    /// Runs `f` on the endpoint without waiting for it.
    pub fn post<F>(&self, f: F) -> Result<(), DriverGone>
    where
        F: FnOnce(&mut Endpoint, Instant) + Send + 'static,
    {
        self.tx.send(Box::new(f)).map_err(|_| DriverGone)
    }

    /// See [`Endpoint::place_call`].
    pub async fn place_call(
        &self,
        req: PlaceCall,
    ) -> Result<Result<CallId, PlaceError>, DriverGone> {
        self.with(move |ep, now| ep.place_call(now, req)).await
    }
    /// See [`Endpoint::connect`].
    pub async fn connect(
        &self,
        call: CallId,
        agent: SipUri,
    ) -> Result<Result<(), CallError>, DriverGone> {
        self.with(move |ep, now| ep.connect(now, call, agent)).await
    }
    /// See [`Endpoint::connect_with`].
    pub async fn connect_with(
        &self,
        call: CallId,
        agent: SipUri,
        shown: super::endpoint::AgentLeg,
    ) -> Result<Result<(), CallError>, DriverGone> {
        self.with(move |ep, now| ep.connect_with(now, call, agent, shown))
            .await
    }
    /// See [`Endpoint::abandon`].
    pub async fn abandon(
        &self,
        call: CallId,
        announcement: Option<SipUri>,
    ) -> Result<Result<(), CallError>, DriverGone> {
        self.with(move |ep, now| ep.abandon(now, call, announcement))
            .await
    }
    /// See [`Endpoint::hangup`].
    pub async fn hangup(&self, call: CallId) -> Result<Result<(), CallError>, DriverGone> {
        self.with(move |ep, now| ep.hangup(now, call)).await
    }
    /// See [`Endpoint::ring`].
    pub async fn ring(&self, call: CallId) -> Result<Result<(), CallError>, DriverGone> {
        self.with(move |ep, now| ep.ring(now, call)).await
    }
    /// See [`Endpoint::answer`].
    pub async fn answer(
        &self,
        call: CallId,
        sdp: Option<String>,
        headers: Vec<ExtraHeader>,
    ) -> Result<Result<(), CallError>, DriverGone> {
        self.with(move |ep, now| ep.answer(now, call, sdp, &headers))
            .await
    }
    /// See [`Endpoint::reject`].
    pub async fn reject(
        &self,
        call: CallId,
        code: u16,
    ) -> Result<Result<(), CallError>, DriverGone> {
        self.with(move |ep, now| ep.reject(now, call, code)).await
    }
    /// See [`Endpoint::challenge`].
    pub async fn challenge(
        &self,
        call: CallId,
        realm: String,
        nonce: String,
    ) -> Result<Result<(), CallError>, DriverGone> {
        self.with(move |ep, now| ep.challenge(now, call, &realm, &nonce))
            .await
    }
    /// See [`Endpoint::available_lines`].
    pub async fn available_lines(&self, group: String) -> Result<u32, DriverGone> {
        self.with(move |ep, now| ep.available_lines(&group, now))
            .await
    }
    /// See [`Endpoint::stats`].
    pub async fn stats(&self) -> Result<Stats, DriverGone> {
        self.with(|ep, _| ep.stats()).await
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
    let _ = s.set_recv_buffer_size(4 << 20);
    let _ = s.set_send_buffer_size(4 << 20);
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
) -> io::Result<(SipHandle, mpsc::UnboundedReceiver<Event>, JoinHandle<()>)> {
    spawn_with(bind, cfg, trunks, DEFAULT_TCP_LIMITS).await
}

/// [`spawn`] with the TCP listener's limits given.
pub async fn spawn_with(
    bind: SocketAddr,
    mut cfg: EndpointConfig,
    trunks: TrunkSet,
    limits: ConnLimits,
) -> io::Result<(SipHandle, mpsc::UnboundedReceiver<Event>, JoinHandle<()>)> {
    let udp = Arc::new(udp_socket(bind)?);
    let local = udp.local_addr()?;
    let tcp = TcpListener::bind(local).await.ok();
    cfg.local_addr = local;
    // Live: branches and tags keyed from the OS RNG (the core itself never reads entropy).
    cfg.secret.get_or_insert_with(rand::random);
    let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
    let (ev_tx, ev_rx) = mpsc::unbounded_channel();
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
    writers: HashMap<SocketAddr, mpsc::UnboundedSender<Vec<u8>>>,
    frames: mpsc::UnboundedSender<(SocketAddr, Vec<u8>)>,
}

impl Streams {
    fn send(&mut self, dest: SocketAddr, bytes: Vec<u8>) {
        if let Some(w) = self.writers.get(&dest) {
            if w.send(bytes.clone()).is_ok() {
                return;
            }
        }
        let (tx, rx) = mpsc::unbounded_channel();
        let _ = tx.send(bytes);
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
        let (tx, rx) = mpsc::unbounded_channel();
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
    mut out: mpsc::UnboundedReceiver<Vec<u8>>,
    frames: mpsc::UnboundedSender<(SocketAddr, Vec<u8>)>,
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
                    if frames.send((peer, msg)).is_err() {
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
    mut cmds: mpsc::UnboundedReceiver<Command>,
    events: mpsc::UnboundedSender<Event>,
) {
    let (frames_tx, mut frames_rx) = mpsc::unbounded_channel();
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
                        let _ = udp.send_to(&t.payload, t.dest).await;
                    }
                    Err(e) => tracing::debug!(dest = %t.dest, error = %e, "udp send failed"),
                },
                Transport::Tcp => streams.send(t.dest, t.payload),
            }
        }
        while let Some(e) = ep.poll_event() {
            let _ = events.send(e);
        }
        let deadline = ep.poll_timeout().unwrap_or_else(|| Instant::now() + far);
        let sleep = tokio::time::sleep_until(tokio::time::Instant::from_std(deadline));
        tokio::select! {
            r = udp.recv_from(&mut buf) => {
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
                c(&mut ep, now);
                for _ in 0..256 {
                    match cmds.try_recv() {
                        Ok(c) => c(&mut ep, now),
                        Err(_) => break,
                    }
                }
            }
            Some((from, msg)) = frames_rx.recv() => {
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
