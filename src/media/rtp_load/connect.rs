//! The answer-to-connect measurement (`outdial rtp-load --answer-to-connect`): N customer legs
//! and N nailed-up agent legs in the real [`MediaShell`] on loopback, every leg streaming 20-ms
//! G.711 both ways, and `bridges` Bridge commands issued at seeded random moments (each followed
//! by an Unbridge a while later, so a pair is bridged several times). For each Bridge it times
//! the first customer packet that reaches the agent's socket: from the later of that packet's
//! send time and the Bridge command (the decision) to its arrival. A packet sent before the
//! decision counts from the decision, so queueing behind the Bridge is in the figure; the up to
//! 20 ms of waiting for the customer's next packet is not (it is the packetisation, reported
//! apart as "decision to first audio").
//!
//! Owns its generator sockets and threads and the shell it starts; decides nothing for the
//! dialer.

use std::io;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::{Events, Interest, Poll, Token};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::LoadError;
use crate::media::core::MediaCore;
use crate::media::io::{LegId, MediaCommand, MediaEvent};
use crate::media::shell::{MediaShell, ShellConfig};

/// The measurement's shape.
#[derive(Clone, Debug)]
pub struct ConnectOptions {
    /// Customer legs, and as many agent legs (each leg streams both ways).
    pub pairs: usize,
    /// Bridge commands to time.
    pub bridges: usize,
    /// The shell's worker threads.
    pub workers: usize,
    /// First RTP port of the legs (4 ports a pair; ports in use are skipped).
    pub base_port: u16,
    /// Loopback address for everything.
    pub addr: IpAddr,
    /// Seed of the bridge schedule.
    pub seed: u64,
    /// How long each bridge is held before its Unbridge (a bridge with no customer audio at
    /// the agent by then counts as missed).
    pub hold: Duration,
}

/// What the measurement found.
#[derive(Clone, Debug, Default)]
pub struct ConnectFigures {
    /// Per timed bridge: first customer packet after the decision → its copy at the agent, ns,
    /// sorted.
    pub connect_ns: Vec<u64>,
    /// Per timed bridge: the Bridge command → the first customer audio at the agent, ns, sorted.
    pub decision_ns: Vec<u64>,
    /// Bridges whose pair was unbridged before any customer audio reached the agent.
    pub missed: usize,
    /// `MediaEvent::Connected` events the shell reported.
    pub connected_events: u64,
    /// Wall time of the schedule.
    pub elapsed: Duration,
    /// The shell's datagrams in, out, and sends the kernel refused.
    pub shell_datagrams: [u64; 3],
}

/// Quantile `q` (0..=1) of sorted `ns`, in µs (NaN when empty).
pub fn quantile_us(ns: &[u64], q: f64) -> f64 {
    if ns.is_empty() {
        return f64::NAN;
    }
    let i = ((ns.len() - 1) as f64 * q).round() as usize;
    ns[i.min(ns.len() - 1)] as f64 / 1000.0
}

/// Bytes of a packet: RTP header + 20 ms of µ-law.
const PACKET: usize = 12 + 160;
/// Marks a customer's packet in its payload (after the 8-byte send stamp); the PCMU→PCMU relay
/// copies the payload, so the agent side recognises forwarded customer audio by it.
const MAGIC: [u8; 4] = *b"CUST";
/// Set-up settling and the drain after the schedule.
const SETTLE: Duration = Duration::from_millis(500);
/// "Not armed" in a pair's bridge clock.
const IDLE: u64 = u64::MAX;

/// Runs the measurement.
pub fn run(opts: &ConnectOptions) -> Result<ConnectFigures, LoadError> {
    let pairs = opts.pairs.max(1);
    let mut cfg = ShellConfig::new(opts.addr);
    cfg.workers = opts.workers.max(1);
    cfg.recv_buffer = 1 << 20;
    let mut shell = MediaShell::start_with(cfg, MediaCore::new)?;
    let events = shell.take_events();
    let connected = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&connected);
    // The event channel closes when the shell stops, which ends this thread.
    let event_thread = std::thread::Builder::new()
        .name("connect-events".into())
        .spawn(move || {
            if let Some(mut rx) = events {
                while let Some(ev) = rx.blocking_recv() {
                    if matches!(ev, MediaEvent::Connected { .. }) {
                        counter.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        })?;

    let mut sockets = Vec::with_capacity(pairs);
    let mut ports = super::PortScan::new(opts.addr, opts.base_port);
    for i in 0..pairs {
        let customer = UdpSocket::bind((opts.addr, 0))?;
        let agent = UdpSocket::bind((opts.addr, 0))?;
        let (cport, aport) = super::open_pair(
            &shell,
            &mut ports,
            [customer_leg(i), agent_leg(i)],
            [customer.local_addr()?, agent.local_addr()?],
        )?;
        sockets.push(Pair {
            customer,
            agent,
            to_customer_leg: SocketAddr::new(opts.addr, cport),
            to_agent_leg: SocketAddr::new(opts.addr, aport),
        });
    }

    // The schedule: bridge k goes to pair k % pairs in round k / pairs; each round lasts
    // `hold` × 3, the bridge falls at a random moment in its first third and is undone `hold`
    // later (so a pair's bridges are at least `hold` apart, and a late copy of one bridge's
    // audio cannot be taken for the next one's).
    let hold = opts.hold;
    let round = hold * 3;
    let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
    let mut schedule: Vec<(Duration, usize, bool)> = Vec::with_capacity(opts.bridges * 2);
    for k in 0..opts.bridges {
        let at = round * (k / pairs) as u32 + hold.mul_f64(rng.gen::<f64>());
        schedule.push((at, k % pairs, true));
        schedule.push((at + hold, k % pairs, false));
    }
    schedule.sort_by_key(|&(at, pair, bridge)| (at, !bridge, pair));

    let epoch = Instant::now();
    let armed: Arc<Vec<AtomicU64>> = Arc::new((0..pairs).map(|_| AtomicU64::new(IDLE)).collect());
    let stop = Arc::new(AtomicBool::new(false));
    let receiver = spawn_receiver(&sockets, epoch, Arc::clone(&armed), Arc::clone(&stop))?;
    let senders_stop = Arc::clone(&stop);
    let send_sockets = sockets
        .iter()
        .map(|p| {
            Ok((
                p.customer.try_clone()?,
                p.to_customer_leg,
                p.agent.try_clone()?,
                p.to_agent_leg,
            ))
        })
        .collect::<io::Result<Vec<_>>>()?;
    let sender = std::thread::Builder::new()
        .name("connect-tx".into())
        .spawn(move || send(&send_sockets, epoch, senders_stop))?;

    std::thread::sleep(SETTLE);
    let mut missed = 0usize;
    let start = epoch.elapsed();
    for (at, pair, bridge) in schedule {
        let due = start + at;
        let now = epoch.elapsed();
        if due > now {
            std::thread::sleep(due - now);
        }
        let (customer, agent) = (customer_leg(pair), agent_leg(pair));
        if bridge {
            // Armed before the command is sent: the receiver times from this instant.
            armed[pair].store(epoch.elapsed().as_nanos() as u64, Ordering::SeqCst);
            shell.send(MediaCommand::Bridge { customer, agent });
        } else {
            if armed[pair].swap(IDLE, Ordering::SeqCst) != IDLE {
                missed += 1;
            }
            shell.send(MediaCommand::Unbridge { leg: customer });
        }
    }
    let elapsed = epoch.elapsed() - start;
    std::thread::sleep(SETTLE);
    stop.store(true, Ordering::Relaxed);
    let sent = sender
        .join()
        .map_err(|_| io::Error::other("sender thread panicked"))?;
    sent?;
    let (mut connect_ns, mut decision_ns) = receiver
        .join()
        .map_err(|_| io::Error::other("receiver thread panicked"))??;
    let c = shell.counters();
    let shell_datagrams = [
        c.datagrams_in.load(Ordering::Relaxed),
        c.datagrams_out.load(Ordering::Relaxed),
        c.send_failed.load(Ordering::Relaxed),
    ];
    shell.stop();
    if event_thread.join().is_err() {
        tracing::debug!("event thread panicked");
    }
    connect_ns.sort_unstable();
    decision_ns.sort_unstable();
    Ok(ConnectFigures {
        connect_ns,
        decision_ns,
        missed,
        connected_events: connected.load(Ordering::Relaxed),
        elapsed,
        shell_datagrams,
    })
}

fn customer_leg(i: usize) -> LegId {
    LegId(i as u64 * 2)
}

fn agent_leg(i: usize) -> LegId {
    LegId(i as u64 * 2 + 1)
}

/// One pair's generator sockets and the relay ports they send to.
struct Pair {
    customer: UdpSocket,
    agent: UdpSocket,
    to_customer_leg: SocketAddr,
    to_agent_leg: SocketAddr,
}

type SendSockets = Vec<(UdpSocket, SocketAddr, UdpSocket, SocketAddr)>;

/// Every leg sends one packet per 20 ms, the pairs spread over 20 1-ms slots, until `stop`.
fn send(pairs: &SendSockets, epoch: Instant, stop: Arc<AtomicBool>) -> io::Result<()> {
    let mut packet = [0xffu8; PACKET];
    packet[0] = 0x80;
    packet[1] = 0; // PCMU, the codec both legs agreed
    const SLOTS: usize = 20;
    let per_slot = pairs.len().div_ceil(SLOTS).max(1);
    let mut tick: u64 = 0;
    while !stop.load(Ordering::Relaxed) {
        for slot in 0..SLOTS {
            let due = Duration::from_millis(tick * 20 + slot as u64);
            let now = epoch.elapsed();
            if due > now {
                std::thread::sleep(due - now);
            }
            packet[2..4].copy_from_slice(&(tick as u16).to_be_bytes());
            packet[4..8].copy_from_slice(&((tick as u32).wrapping_mul(160)).to_be_bytes());
            for (i, (customer, to_c, agent, to_a)) in pairs
                .iter()
                .enumerate()
                .skip(slot * per_slot)
                .take(per_slot)
            {
                for (dir, socket, to) in [(0u32, customer, *to_c), (1, agent, *to_a)] {
                    packet[8..12].copy_from_slice(&(i as u32 * 2 + dir).to_be_bytes());
                    let sent_ns = epoch.elapsed().as_nanos() as u64;
                    packet[12..20].copy_from_slice(&sent_ns.to_be_bytes());
                    // Only the customer's audio carries the mark the agent side looks for.
                    let mark = if dir == 0 { MAGIC } else { [0xff; 4] };
                    packet[20..24].copy_from_slice(&mark);
                    match socket.send_to(&packet, to) {
                        Ok(_) => {}
                        // A full buffer or an ICMP echo of an earlier send: the next packet
                        // follows in 20 ms; the figures are timed at the receiver.
                        Err(err)
                            if matches!(
                                err.kind(),
                                io::ErrorKind::WouldBlock | io::ErrorKind::ConnectionRefused
                            ) => {}
                        Err(err) => return Err(err),
                    }
                }
            }
        }
        tick += 1;
    }
    Ok(())
}

type Timings = (Vec<u64>, Vec<u64>);

/// Reads every agent-side socket; the first marked packet after a pair is armed is timed.
fn spawn_receiver(
    pairs: &[Pair],
    epoch: Instant,
    armed: Arc<Vec<AtomicU64>>,
    stop: Arc<AtomicBool>,
) -> io::Result<std::thread::JoinHandle<io::Result<Timings>>> {
    let poll = Poll::new()?;
    let mut sockets = Vec::with_capacity(pairs.len());
    for (i, pair) in pairs.iter().enumerate() {
        let clone = pair.agent.try_clone()?;
        clone.set_nonblocking(true)?;
        let mut socket = mio::net::UdpSocket::from_std(clone);
        poll.registry()
            .register(&mut socket, Token(i), Interest::READABLE)?;
        sockets.push(socket);
    }
    std::thread::Builder::new()
        .name("connect-rx".into())
        .spawn(move || receive(poll, sockets, epoch, armed, stop))
}

fn receive(
    mut poll: Poll,
    sockets: Vec<mio::net::UdpSocket>,
    epoch: Instant,
    armed: Arc<Vec<AtomicU64>>,
    stop: Arc<AtomicBool>,
) -> io::Result<Timings> {
    let mut events = Events::with_capacity(4096);
    let (mut connect, mut decision) = (Vec::new(), Vec::new());
    let mut buf = [0u8; 2048];
    while !stop.load(Ordering::Relaxed) {
        if let Err(err) = poll.poll(&mut events, Some(Duration::from_millis(50))) {
            if err.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(err);
        }
        for event in events.iter() {
            let pair = event.token().0;
            let (Some(socket), Some(clock)) = (sockets.get(pair), armed.get(pair)) else {
                continue;
            };
            loop {
                match socket.recv_from(&mut buf) {
                    Ok((n, _)) => {
                        let now_ns = epoch.elapsed().as_nanos() as u64;
                        if n < 24 || buf[20..24] != MAGIC {
                            continue;
                        }
                        let mut stamp = [0u8; 8];
                        stamp.copy_from_slice(&buf[12..20]);
                        let sent_ns = u64::from_be_bytes(stamp);
                        let at = clock.swap(IDLE, Ordering::SeqCst);
                        if at == IDLE {
                            continue; // not armed: a straggler of an earlier bridge
                        }
                        connect.push(now_ns.saturating_sub(sent_ns.max(at)));
                        decision.push(now_ns.saturating_sub(at));
                    }
                    Err(err) if err.kind() == io::ErrorKind::WouldBlock => break,
                    Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                    Err(err) if err.kind() == io::ErrorKind::ConnectionRefused => continue,
                    Err(_) => break,
                }
            }
        }
    }
    Ok((connect, decision))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every Bridge connects: the customer's audio reaches the agent's socket once per bridge,
    /// the shell says Connected once per bridge, and the timed figure is the packet's trip, not
    /// the wait for the next packet (it stays below the 20-ms packet interval).
    #[test]
    fn every_bridge_is_timed_to_the_customers_first_forwarded_packet() {
        let f = run(&ConnectOptions {
            pairs: 3,
            bridges: 3,
            workers: 2,
            // Below Linux's ephemeral range (32768-60999), where the generator's own sockets go.
            base_port: 31_100,
            addr: IpAddr::from([127, 0, 0, 1]),
            seed: 7,
            // Long: on a loaded machine the generator's sender can stall for a few hundred ms.
            hold: Duration::from_millis(1500),
        })
        .expect("loopback run");
        assert_eq!(f.missed, 0);
        assert_eq!(f.connect_ns.len(), 3);
        assert_eq!(f.decision_ns.len(), 3);
        assert_eq!(f.connected_events, 3);
        for (c, d) in f.connect_ns.iter().zip(&f.decision_ns) {
            assert!(c <= d, "a trip is part of the wait since the decision");
        }
    }

    #[test]
    fn quantiles_pick_the_nearest_rank() {
        let ns: Vec<u64> = (1..=100).map(|k| k * 1000).collect();
        assert_eq!(quantile_us(&ns, 0.5), 51.0);
        assert_eq!(quantile_us(&ns, 0.99), 99.0);
        assert_eq!(quantile_us(&ns, 1.0), 100.0);
        assert!(quantile_us(&[], 0.5).is_nan());
    }
}
