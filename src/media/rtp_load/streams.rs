//! The streams: per call two generator sockets (customer side, agent side), each sending a
//! 20-ms G.711 packet (12-byte RTP header + 160 bytes) to its relay port, spread evenly over the
//! 20 ms; a receiver thread reads both sides and measures what came through. The send time
//! travels in the payload; latency is its difference to the receive time (one clock, one host).

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::{Events, Interest, Poll, Token};

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
    /// One-way latency through the relay, ns, sorted.
    pub latencies_ns: Vec<u32>,
    /// Wall time the senders ran.
    pub elapsed: Duration,
}

impl StreamFigures {
    /// Latency quantile `q` (0..=1) in µs.
    pub fn latency_us(&self, q: f64) -> f64 {
        if self.latencies_ns.is_empty() {
            return f64::NAN;
        }
        let i = ((self.latencies_ns.len() - 1) as f64 * q).round() as usize;
        self.latencies_ns[i.min(self.latencies_ns.len() - 1)] as f64 / 1000.0
    }
    /// Packets lost per direction (sent − received).
    pub fn lost(&self) -> [u64; 2] {
        [
            self.sent[0].saturating_sub(self.received[0]),
            self.sent[1].saturating_sub(self.received[1]),
        ]
    }
}

/// Bytes of a G.711 packet: RTP header + 20 ms at 8 kHz.
const PACKET: usize = 12 + 160;

/// Runs every call's two streams for `duration`, then waits `drain` for stragglers.
pub fn run(
    calls: &[CallSockets],
    duration: Duration,
    drain: Duration,
) -> io::Result<StreamFigures> {
    let epoch = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let poll = Poll::new()?;
    let mut receivers = Vec::with_capacity(calls.len() * 2);
    for (i, call) in calls.iter().enumerate() {
        for (dir, socket) in [(0usize, &call.agent), (1, &call.customer)] {
            // dir 0 = customer→agent arrives at the agent socket; 1 = the other way.
            let clone = socket.try_clone()?;
            clone.set_nonblocking(true)?;
            let mut mio_socket = mio::net::UdpSocket::from_std(clone);
            poll.registry()
                .register(&mut mio_socket, Token(i * 2 + dir), Interest::READABLE)?;
            receivers.push(mio_socket);
        }
    }
    let stop_rx = Arc::clone(&stop);
    let receiver = std::thread::Builder::new()
        .name("rtp-load-rx".into())
        .spawn(move || receive(poll, receivers, epoch, stop_rx))?;

    let sent = send(calls, epoch, duration)?;
    let elapsed = epoch.elapsed();
    std::thread::sleep(drain);
    stop.store(true, Ordering::Relaxed);
    let (received, mut latencies_ns) = receiver
        .join()
        .map_err(|_| io::Error::other("receiver thread panicked"))??;
    latencies_ns.sort_unstable();
    Ok(StreamFigures {
        sent,
        received,
        latencies_ns,
        elapsed,
    })
}

/// The sender: 20 ms ticks cut in 1-ms slots, each slot sending its share of the calls.
fn send(calls: &[CallSockets], epoch: Instant, duration: Duration) -> io::Result<[u64; 2]> {
    let mut sent = [0u64; 2];
    let mut packet = [0xffu8; PACKET]; // µ-law silence after the header
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
                    packet[8..12].copy_from_slice(&ssrc.to_be_bytes());
                    let sent_ns = epoch.elapsed().as_nanos() as u64;
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
    Ok(sent)
}

type Received = ([u64; 2], Vec<u32>);

fn receive(
    mut poll: Poll,
    sockets: Vec<mio::net::UdpSocket>,
    epoch: Instant,
    stop: Arc<AtomicBool>,
) -> io::Result<Received> {
    let mut events = Events::with_capacity(4096);
    let mut received = [0u64; 2];
    let mut latencies = Vec::with_capacity(1 << 20);
    let mut buf = [0u8; 2048];
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
                match socket.recv_from(&mut buf) {
                    Ok((n, _)) => {
                        let now_ns = epoch.elapsed().as_nanos() as u64;
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
    Ok((received, latencies))
}
