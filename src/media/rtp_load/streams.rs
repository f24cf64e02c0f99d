//! The streams: every call sends a 20-ms G.711 packet each way, the calls spread evenly over the
//! 20 ms in 1-ms slots, from a few shared generator sockets per side (call `i` uses socket
//! `i % per_side` of its side), batched with `sendmmsg` and read back with `recvmmsg`. The
//! relay legs each have their own socket and are told the shared socket's address, so a leg
//! sees what a real call's leg sees: one far address sending 50 packets a second.
//!
//! Each packet carries its send time and its call/direction id in the payload ([`wire`]); the
//! receiver counts it for that call only when it came back on that call's far-side socket *from
//! that call's relay leg* (so a relay that swaps two calls' legs shows up as misrouted, not as
//! delivered). The latency is the kernel's receive stamp on the generator socket minus the send
//! time (one clock, one host): the receiver's own lag is not counted; the send time is read
//! once per batch, so a packet's figure includes the send of the batch's packets before it
//! (reported: [`StreamFigures::batch_ns`]). How late the sender ran against its schedule, the
//! share of the schedule it sent on time, and its own CPU are reported apart, so a reader sees
//! whether a run is a relay figure or a starved generator's.
//!
//! Owns the generator's sockets and threads; knows nothing of the relay beyond its addresses.

use std::io::{self, IoSlice};
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use nix::sys::socket::{
    sendmmsg, setsockopt, sockopt, ControlMessage, MsgFlags, MultiHeaders, SockaddrStorage,
};

use super::wire::{self, StreamId, PACKET};
use crate::media::rx_stamp::{self, BatchReader};

pub use super::wire::AUDIO;

/// Generator sockets per side by default: enough that no socket's receive queue needs more
/// than a few ms of 1,500 calls' packets, few enough that every read is a batch.
pub const SOCKETS_PER_SIDE: usize = 4;
/// Packets per `sendmmsg`: the send time is read once per batch, so this bounds how much of
/// the generator's own sending a packet's latency can include.
const TX_BATCH: usize = 16;
/// Datagrams per `recvmmsg`.
const RX_BATCH: usize = 64;
/// How long the receiver naps between sweeps of its sockets (the kernel stamps each datagram
/// on arrival, so the nap is not in the latency; it makes each read a batch).
const RX_NAP: Duration = Duration::from_millis(1);
/// Socket buffers: ≈ 3,000 queued packets a socket, over 100 ms of 1,500 calls on 4 sockets.
const SOCKET_BUFFER: usize = 4 << 20;
/// A slot this late is skipped instead of sent (one 20-ms packet interval).
pub const SKIP_LATE: Duration = Duration::from_millis(20);
/// A packet is on time when its batch went out at most this long after its due time (one
/// 1-ms slot).
pub const ON_TIME: Duration = Duration::from_millis(1);

/// The generator's shared sockets: side 0 the customers', side 1 the agents'.
pub struct Generator {
    sockets: [Vec<UdpSocket>; 2],
}

impl Generator {
    /// Binds `per_side` sockets a side on `addr` (ephemeral ports), kernel receive stamps on.
    pub fn bind(addr: IpAddr, per_side: usize) -> io::Result<Self> {
        let mut sides: [Vec<UdpSocket>; 2] = [Vec::new(), Vec::new()];
        for side in &mut sides {
            for _ in 0..per_side.max(1) {
                let socket = UdpSocket::bind((addr, 0))?;
                setsockopt(&socket, sockopt::RcvBuf, &SOCKET_BUFFER).map_err(io::Error::from)?;
                setsockopt(&socket, sockopt::SndBuf, &SOCKET_BUFFER).map_err(io::Error::from)?;
                rx_stamp::enable(&socket)?;
                // The kernel's count of datagrams this socket dropped with its queue full: a
                // starved generator's loss, told apart from the relay's.
                setsockopt(&socket, sockopt::RxqOvfl, &1).map_err(io::Error::from)?;
                side.push(socket);
            }
        }
        Ok(Generator { sockets: sides })
    }

    /// Sockets a side.
    pub fn per_side(&self) -> usize {
        self.sockets[0].len()
    }

    /// Where call `call`'s customer side sends from and receives at.
    pub fn customer_addr(&self, call: usize) -> io::Result<SocketAddr> {
        self.socket(0, call).local_addr()
    }

    /// Where call `call`'s agent side sends from and receives at.
    pub fn agent_addr(&self, call: usize) -> io::Result<SocketAddr> {
        self.socket(1, call).local_addr()
    }

    fn socket(&self, side: usize, call: usize) -> &UdpSocket {
        &self.sockets[side][call % self.sockets[side].len()]
    }
}

/// One call's relay ports: where each side sends, and where its partner's audio comes from.
#[derive(Clone, Copy, Debug)]
pub struct Route {
    /// The customer leg's port (the customer side sends here; the agent's audio leaves here).
    pub relay_customer: SocketAddr,
    /// The agent leg's port.
    pub relay_agent: SocketAddr,
}

impl Route {
    /// Where direction `dir` is sent to (0: customer→agent enters at the customer leg).
    fn to(&self, dir: usize) -> SocketAddr {
        if dir == 0 {
            self.relay_customer
        } else {
            self.relay_agent
        }
    }

    /// Where direction `dir` comes back from (customer→agent leaves at the agent leg).
    fn from(&self, dir: usize) -> SocketAddr {
        self.to(1 - dir)
    }
}

/// What one run of the streams measured.
#[derive(Clone, Debug, Default)]
pub struct StreamFigures {
    /// Packets sent customer→agent and agent→customer.
    pub sent: [u64; 2],
    /// Packets received, same directions (each on its call's socket from its call's leg).
    pub received: [u64; 2],
    /// Per call: packets sent, per direction.
    pub per_call_sent: Vec<[u32; 2]>,
    /// Per call: packets received, per direction.
    pub per_call_received: Vec<[u32; 2]>,
    /// Datagrams that came back on another call's socket or from another call's leg, or that
    /// were not the generator's: not counted as received.
    pub misrouted: u64,
    /// Datagrams the generator's own sockets dropped with their receive queue full (the
    /// kernel's `SO_RXQ_OVFL` count): part of `lost`, but the generator's loss, not the relay's.
    pub dropped_at_generator: u64,
    /// The first few misrouted datagrams: where they arrived, from where, what they said.
    pub misrouted_examples: Vec<String>,
    /// Packets the schedule asks for in a direction (calls × 20-ms ticks in the duration).
    pub scheduled: u64,
    /// Packets (both directions) whose batch went out within [`ON_TIME`] of their due time.
    pub on_time: u64,
    /// One-way latency through the relay, ns, sorted: from the generator's clock read before
    /// its `sendmmsg` to the kernel's receive stamp at the far generator socket.
    pub latencies_ns: Vec<u32>,
    /// Packets whose latency fell back on the receiver's own clock (no kernel stamp).
    pub unstamped: u64,
    /// Per 1-ms send slot: how late the sender started it against its schedule, ns, sorted.
    pub sender_lag_ns: Vec<u32>,
    /// Per `sendmmsg`: how long it took, ns, sorted (what a batch's last packet's latency
    /// includes of the generator's own sending).
    pub batch_ns: Vec<u32>,
    /// The generator's sender and receiver threads' CPU while the senders ran.
    pub generator_cpu: Duration,
    /// Generator sockets (both sides).
    pub generator_sockets: usize,
    /// Wall time the senders ran.
    pub elapsed: Duration,
}

impl StreamFigures {
    /// Latency quantile `q` (0..=1) in µs.
    pub fn latency_us(&self, q: f64) -> f64 {
        quantile_us(&self.latencies_ns, q)
    }

    /// Sender lag quantile `q` (0..=1) in µs.
    pub fn sender_lag_us(&self, q: f64) -> f64 {
        quantile_us(&self.sender_lag_ns, q)
    }

    /// `sendmmsg` duration quantile `q` (0..=1) in µs.
    pub fn batch_us(&self, q: f64) -> f64 {
        quantile_us(&self.batch_ns, q)
    }

    /// Packets lost per direction (sent − received).
    pub fn lost(&self) -> [u64; 2] {
        [
            self.sent[0].saturating_sub(self.received[0]),
            self.sent[1].saturating_sub(self.received[1]),
        ]
    }

    /// Share of the schedule sent at all, %.
    pub fn sent_pct(&self) -> f64 {
        pct(self.sent[0] + self.sent[1], 2 * self.scheduled)
    }

    /// Share of the schedule sent within [`ON_TIME`] of its due time, %.
    pub fn on_time_pct(&self) -> f64 {
        pct(self.on_time, 2 * self.scheduled)
    }

    /// The generator's CPU as a share of one core, %.
    pub fn generator_cpu_pct(&self) -> f64 {
        self.generator_cpu.as_secs_f64() * 100.0 / self.elapsed.as_secs_f64().max(f64::EPSILON)
    }

    /// Calls whose received count differs from their sent count in some direction.
    pub fn calls_short(&self) -> usize {
        self.per_call_sent
            .iter()
            .zip(&self.per_call_received)
            .filter(|(s, r)| s != r)
            .count()
    }
}

fn pct(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        return f64::NAN;
    }
    part as f64 * 100.0 / whole as f64
}

/// Quantile `q` (0..=1) of sorted ns values, in µs (NaN when empty).
fn quantile_us(sorted_ns: &[u32], q: f64) -> f64 {
    if sorted_ns.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted_ns.len() - 1) as f64 * q).round() as usize;
    sorted_ns[i.min(sorted_ns.len() - 1)] as f64 / 1000.0
}

fn ns(d: Duration) -> u32 {
    d.as_nanos().min(u32::MAX as u128) as u32
}

/// Runs every call's two streams (call `i` through `routes[i]`) for `duration`, then waits
/// `drain` for stragglers. With `cpus`, the sender (this thread) and the receiver thread run
/// only on those CPUs. `at_end` runs the moment the senders stop (before the drain): the caller
/// reads its counters there, so they cover the streaming time only.
pub fn run(
    generator: &Generator,
    routes: &[Route],
    duration: Duration,
    drain: Duration,
    cpus: Option<&[usize]>,
    at_end: &mut dyn FnMut(),
) -> io::Result<StreamFigures> {
    if let Some(cpus) = cpus {
        super::pin_thread(None, cpus)?;
    }
    let stop = Arc::new(AtomicBool::new(false));
    let mut rx = Receiver {
        sockets: Vec::new(),
        routes: routes.to_vec(),
        per_side: generator.per_side(),
    };
    for (side, sockets) in generator.sockets.iter().enumerate() {
        for (k, socket) in sockets.iter().enumerate() {
            rx.sockets.push((side, k, socket.try_clone()?));
        }
    }
    let stop_rx = Arc::clone(&stop);
    let rx_cpus = cpus.map(<[usize]>::to_vec);
    let (tid_tx, tid_rx) = mpsc::channel();
    let receiver = std::thread::Builder::new()
        .name("rtp-load-rx".into())
        .spawn(move || {
            if let Some(cpus) = rx_cpus {
                super::pin_thread(None, &cpus)?;
            }
            // The run reads this thread's CPU; a closed channel only loses that figure.
            if tid_tx.send(nix::unistd::gettid().as_raw() as u32).is_err() {
                tracing::debug!("generator's receiver tid not taken");
            }
            rx.run(&stop_rx)
        })?;
    let mut tids = vec![nix::unistd::gettid().as_raw() as u32];
    tids.extend(tid_rx.recv_timeout(Duration::from_secs(5)).ok());
    let cpu_before = super::threads_cpu(&tids);

    let mut tx = Sender::new(generator, routes);
    let epoch = Instant::now();
    tx.run(epoch, duration)?;
    let elapsed = epoch.elapsed();
    let generator_cpu = super::threads_cpu(&tids).saturating_sub(cpu_before);
    at_end();
    std::thread::sleep(drain);
    stop.store(true, Ordering::Relaxed);
    let got = receiver
        .join()
        .map_err(|_| io::Error::other("receiver thread panicked"))??;
    let mut f = StreamFigures {
        sent: tx.sent,
        received: got.received,
        per_call_sent: tx.per_call,
        per_call_received: got.per_call,
        misrouted: got.misrouted,
        misrouted_examples: got.examples,
        dropped_at_generator: got.overflows.iter().map(|&n| u64::from(n)).sum(),
        scheduled: tx.ticks * routes.len() as u64,
        on_time: tx.on_time,
        latencies_ns: got.latencies,
        unstamped: got.unstamped,
        sender_lag_ns: tx.lag,
        batch_ns: tx.batch,
        generator_cpu,
        generator_sockets: 2 * generator.per_side(),
        elapsed,
    };
    f.latencies_ns.sort_unstable();
    f.sender_lag_ns.sort_unstable();
    f.batch_ns.sort_unstable();
    Ok(f)
}

/// The sender's state and tallies.
struct Sender<'g> {
    generator: &'g Generator,
    routes: &'g [Route],
    /// Each call's destinations per direction, in the form `sendmmsg` takes.
    dests: Vec<[SockaddrStorage; 2]>,
    headers: MultiHeaders<SockaddrStorage>,
    packets: Vec<[u8; PACKET]>,
    batch_dests: Vec<Option<SockaddrStorage>>,
    sent: [u64; 2],
    per_call: Vec<[u32; 2]>,
    on_time: u64,
    lag: Vec<u32>,
    batch: Vec<u32>,
    /// 20-ms ticks in the schedule.
    ticks: u64,
}

impl<'g> Sender<'g> {
    fn new(generator: &'g Generator, routes: &'g [Route]) -> Self {
        Sender {
            generator,
            routes,
            dests: routes
                .iter()
                .map(|r| [r.to(0).into(), r.to(1).into()])
                .collect(),
            headers: MultiHeaders::preallocate(TX_BATCH, None),
            packets: vec![[0u8; PACKET]; TX_BATCH],
            batch_dests: Vec::with_capacity(TX_BATCH),
            sent: [0; 2],
            per_call: vec![[0; 2]; routes.len()],
            on_time: 0,
            lag: Vec::new(),
            batch: Vec::new(),
            ticks: 0,
        }
    }

    /// 20-ms ticks cut in 1-ms slots, each slot sending its share of the calls both ways;
    /// stops after the schedule's last tick, or at `duration` if it fell behind (it does not
    /// catch up in bursts: a slot more than [`SKIP_LATE`] late is not sent).
    fn run(&mut self, epoch: Instant, duration: Duration) -> io::Result<()> {
        const SLOTS: usize = 20;
        self.ticks = (duration.as_millis() / 20) as u64;
        self.lag.reserve(self.ticks as usize * SLOTS);
        let calls = self.routes.len();
        let per_slot = calls.div_ceil(SLOTS).max(1);
        let per_side = self.generator.per_side();
        for tick in 0..self.ticks {
            for slot in 0..SLOTS {
                let due = Duration::from_millis(tick * 20 + slot as u64);
                let now = epoch.elapsed();
                if now >= duration {
                    return Ok(());
                }
                if due > now {
                    std::thread::sleep(due - now);
                }
                let late = epoch.elapsed().saturating_sub(due);
                self.lag.push(ns(late));
                if late > SKIP_LATE {
                    // A real source does not send a backlog: a starved generator's late slots
                    // are dropped (counted as not sent), so the relay never sees bursts above
                    // the calls' real rate and its loss stays a relay figure.
                    continue;
                }
                let first = slot * per_slot;
                let last = (first + per_slot).min(calls);
                for dir in 0..2 {
                    for k in 0..per_side {
                        // This slot's calls that socket `k` carries.
                        let start = first + (k + per_side - first % per_side) % per_side;
                        let mut ids = (start..last).step_by(per_side).peekable();
                        while ids.peek().is_some() {
                            let batch: Vec<usize> = ids.by_ref().take(TX_BATCH).collect();
                            self.send_batch(dir, k, tick, &batch, epoch, due)?;
                        }
                    }
                }
            }
        }
        Ok(())
    }

    fn send_batch(
        &mut self,
        dir: usize,
        k: usize,
        tick: u64,
        calls: &[usize],
        epoch: Instant,
        due: Duration,
    ) -> io::Result<()> {
        self.batch_dests.clear();
        for (packet, &call) in self.packets.iter_mut().zip(calls) {
            *packet = wire::template(dir);
            wire::address(packet, StreamId { call, dir }, tick);
            self.batch_dests.push(Some(self.dests[call][dir]));
        }
        let n = calls.len();
        let started = epoch.elapsed();
        let sent_ns = rx_stamp::now_ns();
        for packet in &mut self.packets[..n] {
            wire::stamp(packet, sent_ns);
        }
        let iovs: Vec<[IoSlice<'_>; 1]> = self.packets[..n]
            .iter()
            .map(|p| [IoSlice::new(&p[..])])
            .collect();
        let no_cmsgs: [ControlMessage<'_>; 0] = [];
        let fd = self.generator.sockets[dir][k].as_raw_fd();
        // A blocking socket: Linux's sendmmsg sends the whole batch or fails on its first
        // message; it returns short only when a later message fails, which nix reports as Ok
        // without a count we can read. Such a packet would show as lost, never as delivered.
        let result = sendmmsg(
            fd,
            &mut self.headers,
            &iovs,
            &self.batch_dests,
            no_cmsgs,
            MsgFlags::empty(),
        );
        let took = epoch.elapsed().saturating_sub(started);
        self.batch.push(ns(took));
        match result {
            Ok(_) => {
                self.sent[dir] += n as u64;
                for &call in calls {
                    self.per_call[call][dir] += 1;
                }
                if started.saturating_sub(due) <= ON_TIME {
                    self.on_time += n as u64;
                }
                Ok(())
            }
            // A full buffer or an ICMP echo of an earlier send: the generator's loss, not the
            // relay's, so not counted as sent.
            Err(nix::errno::Errno::EAGAIN | nix::errno::Errno::ECONNREFUSED) => Ok(()),
            Err(err) => Err(io::Error::from(err)),
        }
    }
}

/// The receiver's sockets (side, index in the side, socket) and what it checks against.
struct Receiver {
    sockets: Vec<(usize, usize, UdpSocket)>,
    routes: Vec<Route>,
    per_side: usize,
}

/// The receiver's tallies.
#[derive(Default)]
struct Received {
    received: [u64; 2],
    per_call: Vec<[u32; 2]>,
    misrouted: u64,
    examples: Vec<String>,
    /// Per receiving socket: the kernel's latest drop count.
    overflows: Vec<u32>,
    latencies: Vec<u32>,
    unstamped: u64,
}

impl Received {
    fn misrouted(&mut self, what: String) {
        self.misrouted += 1;
        if self.examples.len() < 3 {
            self.examples.push(what);
        }
    }

    /// Counts one datagram that arrived at socket `k` of `side` from `from`, stamped `stamp_ns`.
    fn count(
        &mut self,
        routes: &[Route],
        per_side: usize,
        (side, k): (usize, usize),
        from: Option<SocketAddr>,
        stamp_ns: Option<u64>,
        data: &[u8],
    ) {
        let Some((sent_ns, id)) = wire::read(data) else {
            self.misrouted(format!(
                "{} bytes from {from:?} at {side}/{k}: not a generator packet",
                data.len()
            ));
            return;
        };
        let expected = routes.get(id.call).map(|r| r.from(id.dir));
        // Direction d arrives on the other side's socket of its call, from its call's far leg.
        if expected.is_none() || from != expected || side != 1 - id.dir || k != id.call % per_side {
            self.misrouted += 1;
            return;
        }
        let now_ns = stamp_ns.unwrap_or_else(|| {
            self.unstamped += 1;
            rx_stamp::now_ns()
        });
        self.received[id.dir] += 1;
        self.per_call[id.call][id.dir] += 1;
        self.latencies
            .push(now_ns.saturating_sub(sent_ns).min(u32::MAX as u64) as u32);
    }
}

impl Receiver {
    /// Sweeps every socket with `recvmmsg` until `stop`, napping between sweeps, then once more.
    fn run(self, stop: &AtomicBool) -> io::Result<Received> {
        let mut got = Received {
            per_call: vec![[0; 2]; self.routes.len()],
            latencies: Vec::with_capacity(1 << 20),
            ..Received::default()
        };
        let mut reader = Box::new(BatchReader::<RX_BATCH, 256>::counting_drops());
        loop {
            let last = stop.load(Ordering::Relaxed);
            for (i, (side, k, socket)) in self.sockets.iter().enumerate() {
                self.drain(socket, (i, *side, *k), &mut reader, &mut got)?;
            }
            if last {
                return Ok(got);
            }
            std::thread::sleep(RX_NAP);
        }
    }

    /// Reads `socket` until it is empty.
    fn drain(
        &self,
        socket: &UdpSocket,
        (index, side, k): (usize, usize, usize),
        reader: &mut BatchReader<RX_BATCH, 256>,
        got: &mut Received,
    ) -> io::Result<()> {
        loop {
            let n = match reader.recv(socket) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // ICMP errors from earlier sends surface here once: read on.
                Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => continue,
                Err(e) => return Err(e),
            };
            for (data, stamped) in (0..n).filter_map(|i| reader.get(i)) {
                if let Some(dropped) = stamped.dropped {
                    got.overflows[index] = dropped;
                }
                let (from, stamp_ns) = (stamped.from, stamped.stamp_ns);
                got.count(&self.routes, self.per_side, (side, k), from, stamp_ns, data);
            }
            if n < RX_BATCH {
                return Ok(());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn routes() -> Vec<Route> {
        (0..4u16)
            .map(|i| Route {
                relay_customer: SocketAddr::from(([127, 0, 0, 1], 20_000 + 4 * i)),
                relay_agent: SocketAddr::from(([127, 0, 0, 1], 20_002 + 4 * i)),
            })
            .collect()
    }

    fn packet(call: usize, dir: usize) -> [u8; PACKET] {
        let mut p = wire::template(dir);
        wire::address(&mut p, StreamId { call, dir }, 0);
        wire::stamp(&mut p, 1_000);
        p
    }

    /// A packet counts for its call only from its call's far leg onto its call's far-side
    /// socket: a relay that crossed two calls' legs delivers to the right sockets but from
    /// the wrong ports, and that must not read as delivered.
    #[test]
    fn a_packet_from_another_calls_leg_is_misrouted_not_received() {
        let routes = routes();
        let mut got = Received {
            per_call: vec![[0; 2]; routes.len()],
            ..Received::default()
        };
        // Call 1 customer→agent, back from call 1's agent leg on agent socket 1 % 2.
        let p = packet(1, 0);
        got.count(
            &routes,
            2,
            (1, 1),
            Some(routes[1].relay_agent),
            Some(5_000),
            &p,
        );
        assert_eq!(
            (got.received, got.per_call[1], got.misrouted),
            ([1, 0], [1, 0], 0)
        );
        assert_eq!(got.latencies, vec![4_000]);
        // The same packet, but from call 3's agent leg (legs crossed), or on the wrong side's
        // socket, or on another call's socket: misrouted.
        got.count(
            &routes,
            2,
            (1, 1),
            Some(routes[3].relay_agent),
            Some(5_000),
            &p,
        );
        got.count(
            &routes,
            2,
            (0, 1),
            Some(routes[1].relay_agent),
            Some(5_000),
            &p,
        );
        got.count(
            &routes,
            2,
            (1, 0),
            Some(routes[1].relay_agent),
            Some(5_000),
            &p,
        );
        got.count(
            &routes,
            2,
            (1, 1),
            Some(routes[1].relay_agent),
            Some(5_000),
            &p[..20],
        );
        assert_eq!(
            (got.received, got.per_call[1], got.misrouted),
            ([1, 0], [1, 0], 4)
        );
        // Agent→customer of call 2 comes back from its customer leg on customer socket 0.
        let p = packet(2, 1);
        got.count(&routes, 2, (0, 0), Some(routes[2].relay_customer), None, &p);
        assert_eq!(
            (got.received, got.per_call[2], got.unstamped),
            ([1, 1], [0, 1], 1)
        );
    }
}
