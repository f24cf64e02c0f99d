//! The streams: per call two generator sockets (customer side, agent side), each sending a
//! 20-ms G.711 packet (12-byte RTP header + 160 bytes) to its relay port, spread evenly over the
//! 20 ms; a receiver thread reads both sides and measures what came through. The send time
//! (read just before the `sendto`) travels in the payload; the latency is the kernel's receive
//! stamp on the generator's receiving socket minus it (one clock, one host), so neither the
//! sender falling behind its schedule nor the receiver thread's own lag is counted. How late the
//! sender ran against its schedule is reported apart ([`StreamFigures::sender_lag_ns`]).

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::{Events, Interest, Poll, Token};

use crate::media::rx_stamp::{self, StampedReader};

/// One call's four addresses: the generator's two sockets and the relay ports they send to.
pub struct CallSockets {
    /// The customer side's socket (sends to `relay_customer`, receives the agent's audio).
    pub customer: UdpSocket,
    /// The agent side's socket.
    pub agent: UdpSocket,
    /// Where the customer side sends.
    pub relay_customer: SocketAddr,
    /// Where the agent side sends.
    pub relay_agent: SocketAddr,
}

/// What one run of the streams measured.
#[derive(Clone, Debug, Default)]
pub struct StreamFigures {
    /// Packets sent customer→agent and agent→customer.
    pub sent: [u64; 2],
    /// Packets received, same directions.
    pub received: [u64; 2],
    /// One-way latency through the relay, ns, sorted: from the generator's clock read before
    /// its `sendto` to the kernel's receive stamp at the far generator socket.
    pub latencies_ns: Vec<u32>,
    /// Packets whose latency fell back on the receiver's own clock (no kernel stamp).
    pub unstamped: u64,
    /// Per 1-ms send slot: how late the sender started it against its schedule, ns, sorted.
    pub sender_lag_ns: Vec<u32>,
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
    /// Packets lost per direction (sent − received).
    pub fn lost(&self) -> [u64; 2] {
        [
            self.sent[0].saturating_sub(self.received[0]),
            self.sent[1].saturating_sub(self.received[1]),
        ]
    }
}

/// Quantile `q` (0..=1) of sorted ns values, in µs (NaN when empty).
fn quantile_us(sorted_ns: &[u32], q: f64) -> f64 {
    if sorted_ns.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted_ns.len() - 1) as f64 * q).round() as usize;
    sorted_ns[i.min(sorted_ns.len() - 1)] as f64 / 1000.0
}

/// The µ-law code filling each direction's payload after its 8-byte send time (customer→agent,
/// agent→customer): a steady tone-less level, different per side, so a recording shows which
/// channel carries which side.
pub const AUDIO: [u8; 2] = [0x9c, 0x1c];

/// Bytes of a G.711 packet: RTP header + 20 ms at 8 kHz.
const PACKET: usize = 12 + 160;

/// Runs every call's two streams for `duration`, then waits `drain` for stragglers. With
/// `cpus`, the sender (this thread) and the receiver thread run only on those CPUs. `at_end`
/// runs the moment the senders stop (before the drain): the caller reads its counters there,
/// so they cover the streaming time only.
pub fn run(
    calls: &[CallSockets],
    duration: Duration,
    drain: Duration,
    cpus: Option<&[usize]>,
    at_end: &mut dyn FnMut(),
) -> io::Result<StreamFigures> {
    if let Some(cpus) = cpus {
        super::pin_thread(None, cpus)?;
    }
    let epoch = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let poll = Poll::new()?;
    let mut receivers = Vec::with_capacity(calls.len() * 2);
    for (i, call) in calls.iter().enumerate() {
        for (dir, socket) in [(0usize, &call.agent), (1, &call.customer)] {
            // dir 0 = customer→agent arrives at the agent socket; 1 = the other way.
            let clone = socket.try_clone()?;
            clone.set_nonblocking(true)?;
            rx_stamp::enable(&clone)?;
            let mut mio_socket = mio::net::UdpSocket::from_std(clone);
            poll.registry()
                .register(&mut mio_socket, Token(i * 2 + dir), Interest::READABLE)?;
            receivers.push(mio_socket);
        }
    }
    let stop_rx = Arc::clone(&stop);
    let rx_cpus = cpus.map(<[usize]>::to_vec);
    let receiver = std::thread::Builder::new()
        .name("rtp-load-rx".into())
        .spawn(move || {
            if let Some(cpus) = rx_cpus {
                super::pin_thread(None, &cpus)?;
            }
            receive(poll, receivers, stop_rx)
        })?;

    let (sent, mut sender_lag_ns) = send(calls, epoch, duration)?;
    let elapsed = epoch.elapsed();
    at_end();
    sender_lag_ns.sort_unstable();
    std::thread::sleep(drain);
    stop.store(true, Ordering::Relaxed);
    let (received, mut latencies_ns, unstamped) = receiver
        .join()
        .map_err(|_| io::Error::other("receiver thread panicked"))??;
    latencies_ns.sort_unstable();
    Ok(StreamFigures {
        sent,
        received,
        latencies_ns,
        unstamped,
        sender_lag_ns,
        elapsed,
    })
}

/// The sender: 20 ms ticks cut in 1-ms slots, each slot sending its share of the calls.
/// Returns the packets sent per direction and each slot's lag behind its schedule (ns).
fn send(
    calls: &[CallSockets],
    epoch: Instant,
    duration: Duration,
) -> io::Result<([u64; 2], Vec<u32>)> {
    let mut sent = [0u64; 2];
    let mut lag = Vec::with_capacity(duration.as_millis() as usize + 20);
    let mut packet = [0xffu8; PACKET];
    packet[0] = 0x80;
    packet[1] = 0; // PCMU
    const SLOTS: usize = 20;
    let per_slot = calls.len().div_ceil(SLOTS).max(1);
    let mut tick: u64 = 0;
    while epoch.elapsed() < duration {
        for slot in 0..SLOTS {
            let due = Duration::from_millis(tick * 20 + slot as u64);
            let now = epoch.elapsed();
            if due > now {
                std::thread::sleep(due - now);
            }
            let started = epoch.elapsed().saturating_sub(due);
            lag.push(started.as_nanos().min(u32::MAX as u128) as u32);
            let first = slot * per_slot;
            let seq = tick as u16;
            packet[2..4].copy_from_slice(&seq.to_be_bytes());
            packet[4..8].copy_from_slice(&((tick as u32).wrapping_mul(160)).to_be_bytes());
            for (i, call) in calls.iter().enumerate().skip(first).take(per_slot) {
                for (dir, socket, to) in [
                    (0usize, &call.customer, call.relay_customer),
                    (1, &call.agent, call.relay_agent),
                ] {
                    let ssrc = (i * 2 + dir) as u32;
                    packet[20..].fill(AUDIO[dir]);
                    packet[8..12].copy_from_slice(&ssrc.to_be_bytes());
                    let sent_ns = rx_stamp::now_ns();
                    packet[12..20].copy_from_slice(&sent_ns.to_be_bytes());
                    match socket.send_to(&packet, to) {
                        Ok(_) => sent[dir] += 1,
                        // A full send buffer is the generator's loss, not the relay's: count it
                        // as not sent.
                        Err(err) if err.kind() == io::ErrorKind::WouldBlock => {}
                        Err(err) if err.kind() == io::ErrorKind::ConnectionRefused => {
                            sent[dir] += 1
                        }
                        Err(err) => return Err(err),
                    }
                }
            }
        }
        tick += 1;
    }
    Ok((sent, lag))
}

/// Packets per direction, latencies (ns), packets without a kernel stamp.
type Received = ([u64; 2], Vec<u32>, u64);

fn receive(
    mut poll: Poll,
    sockets: Vec<mio::net::UdpSocket>,
    stop: Arc<AtomicBool>,
) -> io::Result<Received> {
    let mut events = Events::with_capacity(4096);
    let mut received = [0u64; 2];
    let mut unstamped = 0;
    let mut latencies = Vec::with_capacity(1 << 20);
    let mut buf = [0u8; 2048];
    let mut reader = StampedReader::new();
    while !stop.load(Ordering::Relaxed) {
        if let Err(err) = poll.poll(&mut events, Some(Duration::from_millis(50))) {
            if err.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(err);
        }
        for event in events.iter() {
            let index = event.token().0;
            let Some(socket) = sockets.get(index) else {
                continue;
            };
            loop {
                match reader.recv(socket, &mut buf) {
                    Ok(got) => {
                        let n = got.len;
                        let now_ns = got.stamp_ns.unwrap_or_else(|| {
                            unstamped += 1;
                            rx_stamp::now_ns()
                        });
                        if n < 20 {
                            continue;
                        }
                        let mut ts = [0u8; 8];
                        ts.copy_from_slice(&buf[12..20]);
                        let sent_ns = u64::from_be_bytes(ts);
                        received[index % 2] += 1;
                        latencies.push(now_ns.saturating_sub(sent_ns).min(u32::MAX as u64) as u32);
                    }
                    Err(err) if err.kind() == io::ErrorKind::WouldBlock => break,
                    Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                    // ICMP errors from earlier sends surface here once: read on.
                    Err(err) if err.kind() == io::ErrorKind::ConnectionRefused => continue,
                    Err(_) => break,
                }
            }
        }
    }
    Ok((received, latencies, unstamped))
}
