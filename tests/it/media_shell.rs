//! The media shell on loopback: legs bound on Open, RTP relayed between bridged legs (through the
//! pass-through core, and across workers), events out, Record reaching the tap sink (on its own
//! thread: a stuck sink stalls no packet), OpenFailed on a taken port, and stop() freeing every
//! port.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use outdial::media::io::{Codec, LegId, LegRole, MediaCommand, MediaEvent, RemoteMedia, TapFrame};
use outdial::media::rtp_load::passthrough::PassThrough;
use outdial::media::shell::{MediaShell, ShellConfig, TapSink};
use tokio::sync::mpsc::Receiver;

const LOCAL: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// A free even port whose +1 is free too (RTP, RTCP).
fn free_pair() -> u16 {
    loop {
        let probe = UdpSocket::bind((LOCAL, 0)).expect("bind probe");
        let port = probe.local_addr().expect("addr").port() & !1;
        drop(probe);
        if port > 1024
            && UdpSocket::bind((LOCAL, port)).is_ok()
            && UdpSocket::bind((LOCAL, port + 1)).is_ok()
        {
            return port;
        }
    }
}

fn peer() -> UdpSocket {
    let s = UdpSocket::bind((LOCAL, 0)).expect("bind peer");
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    s
}

fn rtp(seq: u16, body: &[u8]) -> Vec<u8> {
    let mut p = vec![0x80, 0, (seq >> 8) as u8, seq as u8, 0, 0, 0, 0, 0, 0, 0, 1];
    p.extend_from_slice(body);
    p
}

fn remote(addr: SocketAddr) -> RemoteMedia {
    RemoteMedia {
        addr,
        codec: Codec::Pcmu,
        pt: 0,
        dtmf_pt: None,
        ptime_ms: 20,
    }
}

fn next_event(events: &mut Receiver<MediaEvent>) -> MediaEvent {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        if let Ok(e) = events.try_recv() {
            return e;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no media event within 5 s"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn passthrough_shell(workers: usize) -> (MediaShell, Receiver<MediaEvent>) {
    let mut cfg = ShellConfig::new(LOCAL);
    cfg.workers = workers;
    let mut shell = MediaShell::start_with(cfg, PassThrough::new).expect("start");
    let events = shell.take_events().expect("events");
    (shell, events)
}

fn open(shell: &MediaShell, leg: u64, role: LegRole, port: u16, far: &UdpSocket) {
    shell.send(MediaCommand::Open {
        leg: LegId(leg),
        role,
        local_port: port,
    });
    shell.send(MediaCommand::Remote {
        leg: LegId(leg),
        remote: remote(far.local_addr().expect("addr")),
    });
    wait_bound(port);
}

/// Waits until the shell has bound `port` (commands are asynchronous: a packet sent before the
/// bind meets a closed port). Reads the kernel's table rather than probing with a bind, which
/// could take the port from the shell.
fn wait_bound(port: u16) {
    let needle = format!("0100007F:{port:04X} ");
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !std::fs::read_to_string("/proc/net/udp")
        .expect("/proc/net/udp")
        .contains(&needle)
    {
        assert!(
            std::time::Instant::now() < deadline,
            "port {port} never bound"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn recv(s: &UdpSocket) -> Vec<u8> {
    let mut buf = [0u8; 1500];
    let (n, _) = s.recv_from(&mut buf).expect("relayed packet within 5 s");
    buf[..n].to_vec()
}

#[test]
fn bridged_legs_on_different_workers_relay_rtp_both_ways_and_report_once() {
    let (shell, mut events) = passthrough_shell(2);
    let (customer, agent) = (peer(), peer());
    let (cport, aport) = (free_pair(), free_pair());
    // Least-loaded placement puts the two legs on different workers: the bridge must move one.
    open(&shell, 1, LegRole::Customer, cport, &customer);
    open(&shell, 2, LegRole::Agent, aport, &agent);

    // Before the bridge the customer is heard by nobody, but latches.
    customer
        .send_to(&rtp(1, b"early"), (LOCAL, cport))
        .expect("send");
    assert_eq!(
        next_event(&mut events),
        MediaEvent::FirstPacket { leg: LegId(1) }
    );

    shell.send(MediaCommand::Bridge {
        customer: LegId(1),
        agent: LegId(2),
    });
    for seq in 2..12 {
        customer
            .send_to(&rtp(seq, b"hello agent"), (LOCAL, cport))
            .expect("send");
        assert_eq!(
            recv(&agent),
            rtp(seq, b"hello agent"),
            "customer→agent packet {seq}"
        );
        agent
            .send_to(&rtp(seq, b"hello customer"), (LOCAL, aport))
            .expect("send");
        assert_eq!(
            recv(&customer),
            rtp(seq, b"hello customer"),
            "agent→customer packet {seq}"
        );
    }
    // The agent's first packet is reported; the customer's is not reported again after the move.
    assert_eq!(
        next_event(&mut events),
        MediaEvent::FirstPacket { leg: LegId(2) }
    );

    shell.send(MediaCommand::Close { leg: LegId(1) });
    match next_event(&mut events) {
        MediaEvent::Closed { leg, stats } => {
            assert_eq!(leg, LegId(1));
            // 1 before the move + 10 after: both shards' parts add up.
            assert_eq!(stats.packets_in, 11);
            assert_eq!(stats.packets_out, 10);
        }
        other => panic!("expected Closed, got {other:?}"),
    }
    shell.stop();
}

#[test]
fn open_on_a_taken_port_reports_open_failed() {
    let (shell, mut events) = passthrough_shell(2);
    let port = free_pair();
    let squatter = UdpSocket::bind((LOCAL, port + 1)).expect("take the RTCP port");
    shell.send(MediaCommand::Open {
        leg: LegId(7),
        role: LegRole::Customer,
        local_port: port,
    });
    match next_event(&mut events) {
        MediaEvent::OpenFailed {
            leg,
            port: p,
            reason,
        } => {
            assert_eq!((leg, p), (LegId(7), port));
            assert!(
                reason.contains(&(port + 1).to_string()),
                "reason names the port: {reason}"
            );
        }
        other => panic!("expected OpenFailed, got {other:?}"),
    }
    drop(squatter);
    // The RTP port it did bind was let go again.
    UdpSocket::bind((LOCAL, port)).expect("RTP port free after the failed open");
    shell.stop();
}

#[test]
fn stop_joins_the_workers_and_frees_every_port() {
    let (shell, _events) = passthrough_shell(2);
    let far = peer();
    let ports: Vec<u16> = (0..4).map(|_| free_pair()).collect();
    for (i, &port) in ports.iter().enumerate() {
        open(&shell, i as u64, LegRole::Customer, port, &far);
    }
    // open() saw every port taken while the shell runs.
    shell.stop();
    for &port in &ports {
        UdpSocket::bind((LOCAL, port)).expect("RTP port free after stop");
        UdpSocket::bind((LOCAL, port + 1)).expect("RTCP port free after stop");
    }
}

#[derive(Clone, Default)]
struct LogSink(Arc<Mutex<Vec<String>>>);

impl TapSink for LogSink {
    fn start_recording(&mut self, customer: LegId, path: &Path) {
        self.0
            .lock()
            .expect("log")
            .push(format!("start {} {}", customer.0, path.display()));
    }
    fn frame(&mut self, f: &TapFrame) {
        self.0
            .lock()
            .expect("log")
            .push(format!("frame {}", f.leg.0));
    }
    fn stop(&mut self, customer: LegId) {
        self.0
            .lock()
            .expect("log")
            .push(format!("stop {}", customer.0));
    }
    fn bridged(&mut self, customer: LegId, agent: LegId) {
        self.0
            .lock()
            .expect("log")
            .push(format!("bridged {} {}", customer.0, agent.0));
    }
}

/// The recorder learns whose call an agent's audio belongs to from the bridge; when the bridge
/// moves the customer's leg to the agent's worker it must still hear of it (it did not: the
/// agent's side of every such recording was silence).
#[test]
fn a_bridge_that_moves_the_customer_to_the_agents_worker_still_reaches_the_tap_sink() {
    let log = LogSink::default();
    let mut cfg = ShellConfig::new(LOCAL);
    cfg.workers = 2;
    cfg.recordings = Box::new(log.clone());
    let mut shell = MediaShell::start_with(cfg, PassThrough::new).expect("start");
    let mut events = shell.take_events().expect("events");
    let (customer, agent) = (peer(), peer());
    // Least-loaded placement: the agent on one worker, the customer on the other.
    open(&shell, 21, LegRole::Agent, free_pair(), &agent);
    open(&shell, 20, LegRole::Customer, free_pair(), &customer);
    shell.send(MediaCommand::Record {
        customer: LegId(20),
        path: PathBuf::from("/tmp/call-20.wav"),
    });
    shell.send(MediaCommand::Bridge {
        customer: LegId(20),
        agent: LegId(21),
    });
    shell.send(MediaCommand::Close { leg: LegId(20) });
    assert!(matches!(
        next_event(&mut events),
        MediaEvent::Closed { leg: LegId(20), .. }
    ));
    shell.stop();
    let log = log.0.lock().expect("log").clone();
    let of = |prefix: &str| log.iter().filter(|l| l.starts_with(prefix)).count();
    assert_eq!(of("bridged 20 21"), 1, "{log:?}");
    assert_eq!(of("stop 20"), 1, "{log:?}");
}

#[test]
fn record_reaches_the_tap_sink_and_close_stops_it() {
    let log = LogSink::default();
    let mut cfg = ShellConfig::new(LOCAL);
    cfg.recordings = Box::new(log.clone());
    let mut shell = MediaShell::start_with(cfg, PassThrough::new).expect("start");
    let mut events = shell.take_events().expect("events");
    let far = peer();
    open(&shell, 3, LegRole::Customer, free_pair(), &far);
    shell.send(MediaCommand::Record {
        customer: LegId(3),
        path: PathBuf::from("/tmp/call-3.wav"),
    });
    shell.send(MediaCommand::Close { leg: LegId(3) });
    assert!(matches!(
        next_event(&mut events),
        MediaEvent::Closed { leg: LegId(3), .. }
    ));
    shell.stop();
    assert_eq!(
        *log.0.lock().expect("log"),
        vec!["start 3 /tmp/call-3.wav".to_string(), "stop 3".to_string()]
    );
}

#[test]
fn the_media_core_in_the_shell_relays_a_customer_to_an_agent_across_workers() {
    let mut shell = MediaShell::start(ShellConfig::new(LOCAL)).expect("start");
    let mut events = shell.take_events().expect("events");
    let (customer, agent) = (peer(), peer());
    let (cport, aport) = (free_pair(), free_pair());
    open(&shell, 10, LegRole::Customer, cport, &customer);
    open(&shell, 11, LegRole::Agent, aport, &agent);
    shell.send(MediaCommand::Bridge {
        customer: LegId(10),
        agent: LegId(11),
    });
    let payload = [0x55u8; 160];
    let mut got = 0;
    for seq in 0..20u16 {
        let mut packet = rtp(seq, &payload);
        packet[4..8].copy_from_slice(&(u32::from(seq) * 160).to_be_bytes());
        customer.send_to(&packet, (LOCAL, cport)).expect("send");
        let relayed = recv(&agent);
        // The core may rewrite the header (its own SSRC, sequence); the audio is the customer's.
        assert_eq!(
            &relayed[relayed.len() - 160..],
            &payload[..],
            "packet {seq}"
        );
        got += 1;
    }
    assert_eq!(got, 20);
    assert_eq!(
        next_event(&mut events),
        MediaEvent::FirstPacket { leg: LegId(10) }
    );
    shell.stop();
}

/// A recording sink stuck on its disk: the first request blocks until the test opens the gate
/// (or 30 s pass, so a broken shell fails the test instead of hanging it). Counts what reaches it.
struct StuckSink {
    gate: std::sync::mpsc::Receiver<()>,
    seen: Arc<Mutex<StuckLog>>,
}

#[derive(Default)]
struct StuckLog {
    frames: u64,
    gap: u64,
    stopped: bool,
}

impl TapSink for StuckSink {
    fn start_recording(&mut self, _customer: LegId, _path: &Path) {
        // Either outcome lets the test go on: released, or the 30-s bound.
        let _released = self.gate.recv_timeout(Duration::from_secs(30));
    }
    fn frame(&mut self, _f: &TapFrame) {
        self.seen.lock().expect("log").frames += 1;
    }
    fn stop(&mut self, _customer: LegId) {
        self.seen.lock().expect("log").stopped = true;
    }
    fn gap(&mut self, leg: LegId, frames: u32) {
        assert!(leg == LegId(30) || leg == LegId(31), "gap of {leg:?}");
        self.seen.lock().expect("log").gap += u64::from(frames);
    }
}

/// The recorder runs off the relay: while the recording sink is stuck (a slow disk), a recorded
/// call's packets keep flowing at once; the frames the full recording queue cannot take are
/// dropped and counted, and the recorder is told of exactly that gap before the call's stop.
#[test]
fn a_stuck_recording_sink_does_not_stall_the_relay_and_its_gap_is_counted() {
    let (open_gate, gate) = std::sync::mpsc::channel();
    let seen = Arc::new(Mutex::new(StuckLog::default()));
    let mut cfg = ShellConfig::new(LOCAL);
    cfg.workers = 1;
    // 10 frames (0.2 s of one leg) may wait: the 2-s call below overflows it many times over.
    cfg.recording_queue_frames = 10;
    cfg.recordings = Box::new(StuckSink {
        gate,
        seen: Arc::clone(&seen),
    });
    let mut shell = MediaShell::start(cfg).expect("start");
    let mut events = shell.take_events().expect("events");
    let (customer, agent) = (peer(), peer());
    let (cport, aport) = (free_pair(), free_pair());
    open(&shell, 30, LegRole::Customer, cport, &customer);
    open(&shell, 31, LegRole::Agent, aport, &agent);
    shell.send(MediaCommand::Bridge {
        customer: LegId(30),
        agent: LegId(31),
    });
    shell.send(MediaCommand::Record {
        customer: LegId(30),
        path: PathBuf::from("/tmp/never-written.wav"),
    });
    let payload = [0x55u8; 160];
    let mut worst = Duration::ZERO;
    for seq in 0..100u16 {
        let mut packet = rtp(seq, &payload);
        packet[4..8].copy_from_slice(&(u32::from(seq) * 160).to_be_bytes());
        let sent = std::time::Instant::now();
        customer.send_to(&packet, (LOCAL, cport)).expect("send");
        // recv() fails the test after 5 s: a relay waiting for the stuck sink never delivers.
        let relayed = recv(&agent);
        worst = worst.max(sent.elapsed());
        assert_eq!(
            &relayed[relayed.len() - 160..],
            &payload[..],
            "packet {seq}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // Generous for a loaded machine; a relay behind the sink would not deliver at all.
    assert!(worst < Duration::from_secs(1), "worst relay time {worst:?}");
    assert_eq!(seen.lock().expect("log").frames, 0, "the sink was stuck");
    open_gate.send(()).expect("sink waiting");
    shell.send(MediaCommand::Close { leg: LegId(30) });
    shell.send(MediaCommand::Close { leg: LegId(31) });
    let mut closed = 0;
    while closed < 2 {
        if matches!(next_event(&mut events), MediaEvent::Closed { .. }) {
            closed += 1;
        }
    }
    // Read once the legs are closed: a worker forwards a packet before it queues (or drops)
    // its frame for recording, so a count read when the last packet arrived could still grow.
    let dropped = shell
        .counters()
        .recording_frames_dropped
        .load(std::sync::atomic::Ordering::Relaxed);
    // 2 s of a tapped leg is ~100 frames; at most 10 could wait.
    assert!(dropped >= 50, "dropped {dropped}");
    shell.stop();
    let log = seen.lock().expect("log");
    assert!(log.stopped, "the recording's stop reached the sink");
    assert_eq!(log.gap, dropped, "the sink heard of every dropped frame");
    assert!(
        log.frames <= 10,
        "only the queued frames reached it: {}",
        log.frames
    );
}

/// The pass-through relay, except that a Tap command stalls its worker until the test says go:
/// datagrams then pile up in a socket with no reader, as behind a worker that waits for a core.
struct StallOnTap {
    inner: PassThrough,
    stalled: std::sync::mpsc::Sender<()>,
    go: std::sync::mpsc::Receiver<()>,
}

impl outdial::media::shell::ShellCore for StallOnTap {
    fn handle_command(&mut self, now: std::time::Instant, cmd: MediaCommand) {
        if let MediaCommand::Tap { .. } = cmd {
            self.stalled.send(()).expect("test listening");
            // Bounded: a test that never says go fails on its own timeouts, not here.
            let _ = self.go.recv_timeout(Duration::from_secs(10));
            return;
        }
        self.inner.handle_command(now, cmd)
    }
    fn handle_datagram(
        &mut self,
        now: std::time::Instant,
        port: u16,
        from: SocketAddr,
        data: &[u8],
    ) {
        self.inner.handle_datagram(now, port, from, data)
    }
    fn handle_timeout(&mut self, now: std::time::Instant) {
        self.inner.handle_timeout(now)
    }
    fn poll_transmit(&mut self) -> Option<outdial::media::io::Transmit> {
        self.inner.poll_transmit()
    }
    fn poll_event(&mut self) -> Option<MediaEvent> {
        self.inner.poll_event()
    }
    fn poll_tap(&mut self) -> Option<TapFrame> {
        self.inner.poll_tap()
    }
    fn poll_timeout(&self) -> Option<std::time::Instant> {
        self.inner.poll_timeout()
    }
}

/// The worker reads with `recvmmsg` batches and stops at a short one. A burst several batches
/// long that queued while the worker was busy, with nothing sent after it (so no new readiness
/// edge), must still be relayed whole, each packet timed.
#[test]
fn a_burst_longer_than_a_read_batch_queued_behind_a_busy_worker_is_relayed_whole() {
    let (stalled_tx, stalled) = std::sync::mpsc::channel();
    let (go, go_rx) = std::sync::mpsc::channel();
    let core = Mutex::new(Some((stalled_tx, go_rx)));
    let mut cfg = ShellConfig::new(LOCAL);
    cfg.workers = 1;
    cfg.relay_timing = true;
    let shell = MediaShell::start_with(cfg, |c, now| {
        let (stalled, go) = core.lock().expect("once").take().expect("one worker");
        StallOnTap {
            inner: PassThrough::new(c, now),
            stalled,
            go,
        }
    })
    .expect("start");
    let (customer, agent) = (peer(), peer());
    let (cport, aport) = (free_pair(), free_pair());
    open(&shell, 1, LegRole::Customer, cport, &customer);
    open(&shell, 2, LegRole::Agent, aport, &agent);
    shell.send(MediaCommand::Bridge {
        customer: LegId(1),
        agent: LegId(2),
    });
    // One packet through first: the bridge is in place.
    customer
        .send_to(&rtp(0, b"warm"), (LOCAL, cport))
        .expect("send");
    assert_eq!(&recv(&agent)[12..], b"warm");

    shell.send(MediaCommand::Tap {
        leg: LegId(1),
        on: true,
    });
    stalled
        .recv_timeout(Duration::from_secs(5))
        .expect("the worker took the Tap");
    const BURST: u16 = 30; // several of the worker's read batches
    for seq in 1..=BURST {
        customer
            .send_to(&rtp(seq, b"burst"), (LOCAL, cport))
            .expect("send");
    }
    go.send(()).expect("worker waiting");
    for seq in 1..=BURST {
        let got = recv(&agent);
        assert_eq!(
            u16::from_be_bytes([got[2], got[3]]),
            seq,
            "in order, none lost"
        );
    }
    // The worker records a packet's latency after its send returns, so the agent can hold
    // the last packet a moment before it is counted: wait for it, boundedly.
    let deadline = std::time::Instant::now() + Duration::from_secs(2);
    while shell.relay_latency().count() < u64::from(BURST) + 1
        && std::time::Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(shell.relay_latency().count(), u64::from(BURST) + 1);
    shell.stop();
}

/// `/proc/self/task/<tid>/stat` fields 40 and 41: (rt_priority, policy).
fn sched_of(tid: u32) -> (u32, u32) {
    let stat = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")).expect("stat");
    let after = &stat[stat.rfind(')').expect("comm") + 1..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    // After ")": field 3 (state) is index 0, so field 40 is index 37.
    (
        fields[37].parse().expect("rt_priority"),
        fields[38].parse().expect("policy"),
    )
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .expect("status")
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(2) == Some("0"))
}

#[test]
fn with_a_realtime_priority_the_workers_run_sched_fifo_and_the_recording_thread_does_not() {
    const SCHED_OTHER: u32 = 0;
    const SCHED_FIFO: u32 = 1;
    let mut cfg = ShellConfig::new(LOCAL);
    cfg.realtime_priority =
        Some(outdial::media::shell::RealtimePriority::new(7).expect("in range"));
    let shell = MediaShell::start_with(cfg, PassThrough::new).expect("start");
    assert_eq!(shell.worker_tids().len(), 2);
    let mut fifo = 0;
    for &tid in shell.worker_tids() {
        // The worker sets its policy before it reports its tid: no race here.
        match sched_of(tid) {
            (7, SCHED_FIFO) => fifo += 1,
            // Not root and no RLIMIT_RTPRIO: the OS refused; the shell runs on regardless.
            (0, SCHED_OTHER) if !is_root() => {}
            other => panic!("worker {tid}: (priority, policy) {other:?}"),
        }
    }
    if is_root() {
        assert_eq!(fifo, 2, "both workers under SCHED_FIFO");
    }
    let rec = shell.recording_tid().expect("recording thread");
    assert_eq!(
        sched_of(rec),
        (0, SCHED_OTHER),
        "the recorder keeps the normal policy"
    );
    // Off by default.
    shell.stop();
    let shell = MediaShell::start_with(ShellConfig::new(LOCAL), PassThrough::new).expect("start");
    for &tid in shell.worker_tids() {
        assert_eq!(sched_of(tid), (0, SCHED_OTHER));
    }
    shell.stop();
}
