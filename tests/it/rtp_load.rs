//! The RTP load generator: its SDP helpers for rtpengine's ng protocol, a short run through
//! outdial's media shell counting every packet both ways, and one with every call recorded
//! (`--record`): files valid, as long as the calls, each side on its own channel, and the
//! latency figures (kernel-stamped path and the relay's own) there for every packet.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use outdial::media::recording::writer::HEADER_LEN;
use outdial::media::rtp_load::ng::{media_addr, sdp_for};
use outdial::media::rtp_load::streams::{StreamFigures, AUDIO};
use outdial::media::rtp_load::{run, LoadOptions, OutdialCore, Target};

#[test]
fn the_media_address_of_an_sdp_is_its_c_line_and_first_audio_port() {
    let addr: SocketAddr = "127.0.0.1:40012".parse().expect("addr");
    assert_eq!(media_addr(&sdp_for(addr, 7)), Some(addr));
    let rtpengine_like =
        "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.2\r\nt=0 0\r\n\
        m=audio 30000 RTP/AVP 0\r\na=rtcp:30001\r\n";
    assert_eq!(
        media_addr(rtpengine_like),
        Some("127.0.0.2:30000".parse().expect("addr"))
    );
    assert_eq!(
        media_addr("v=0\r\nm=audio 1 RTP/AVP 0\r\n"),
        None,
        "no c= line"
    );
}

#[test]
fn a_short_load_through_the_media_shell_counts_every_packet_both_ways_past_a_taken_port() {
    let opts = LoadOptions {
        calls: 10,
        duration: Duration::from_millis(400),
        addr: IpAddr::V4(Ipv4Addr::LOCALHOST),
        record: None,
        pin: None,
        generator_sockets: 4,
        relay_priority: None,
    };
    // Something else holds the first port: the run goes past it instead of leaving a call
    // silent.
    let squatter = std::net::UdpSocket::bind("127.0.0.1:0").expect("a socket");
    let taken = squatter.local_addr().expect("its address").port();
    let target = Target::Outdial {
        core: OutdialCore::Media,
        workers: 2,
        base_port: taken - taken % 2,
    };
    let figures = run(&opts, &target).expect("load run");
    let s = &figures.streams;
    // 10 calls × 50 packets/s × 0.4 s ≈ 200 a direction.
    assert!(s.sent[0] >= 150 && s.sent[1] >= 150, "sent {:?}", s.sent);
    assert_eq!(s.received, s.sent, "every packet relayed, both directions");
    assert_eq!(s.latencies_ns.len() as u64, s.sent[0] + s.sent[1]);
    every_call_counted_both_ways(s, 10, opts.duration);
}

/// Every call's packets came back, each direction, on the call's own socket from the call's
/// own relay leg (a relay that crossed two calls would leave both short and count misrouted
/// packets); and the generator says how well it kept its schedule.
fn every_call_counted_both_ways(s: &StreamFigures, calls: usize, duration: Duration) {
    assert_eq!(s.misrouted, 0, "packets from another call's leg");
    assert_eq!(s.per_call_sent.len(), calls);
    for (i, (sent, got)) in s.per_call_sent.iter().zip(&s.per_call_received).enumerate() {
        assert!(sent[0] > 0 && sent[1] > 0, "call {i} sent {sent:?}");
        assert_eq!(got, sent, "call {i}: received vs sent per direction");
    }
    assert_eq!(s.calls_short(), 0);
    // 20-ms ticks in the duration, per call; the sender sends all of them unless starved.
    assert_eq!(s.scheduled, duration.as_millis() as u64 / 20 * calls as u64);
    assert!(s.sent_pct() <= 100.0 && s.on_time_pct() <= s.sent_pct());
    assert_eq!(s.generator_sockets, 8, "4 shared sockets a side");
}

#[test]
fn a_recorded_load_loses_nothing_and_leaves_one_valid_stereo_file_per_call() {
    let dir = std::env::temp_dir().join(format!("outdial-rtp-load-rec-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir); // a leftover of an earlier run, if any
    let calls = 20;
    let opts = LoadOptions {
        calls,
        duration: Duration::from_secs(2),
        addr: IpAddr::V4(Ipv4Addr::LOCALHOST),
        record: Some(dir.clone()),
        pin: None,
        generator_sockets: 4,
        relay_priority: None,
    };
    let target = Target::Outdial {
        core: OutdialCore::Media,
        workers: 2,
        base_port: 29_400,
    };
    let f = run(&opts, &target).expect("load run");
    let s = &f.streams;
    // 20 calls × 50 packets/s × 2 s = 2,000 a direction, less what a loaded machine's sender
    // missed of its schedule.
    assert!(s.sent[0] >= 1500 && s.sent[1] >= 1500, "sent {:?}", s.sent);
    assert_eq!(s.received, s.sent, "no packet lost with recording on");
    every_call_counted_both_ways(s, calls, opts.duration);

    // Latency: every packet through the path timed by a kernel stamp, and every relayed
    // datagram timed inside the relay.
    let total = s.sent[0] + s.sent[1];
    assert_eq!(s.latencies_ns.len() as u64, total);
    assert_eq!(s.unstamped, 0, "every packet kernel-stamped");
    let relay = f.relay_latency.as_ref().expect("relay latency");
    // One relay sample per relayed datagram, read when the senders stop: the last few still
    // in flight then are relayed after the reading.
    assert!(
        relay.count() <= total && relay.count() + 2 * calls as u64 >= total,
        "{} relay samples for {total} packets",
        relay.count()
    );
    // The relay's share is inside the path (it ends after the send that delivers the packet,
    // so allow a send call's tail), and both are plain figures, not the 0 of a missing stamp.
    let (relay50, path50) = (relay.quantile_us(0.5), s.latency_us(0.5));
    assert!(
        relay50 >= 1.0 && path50 > 0.0,
        "relay {relay50} µs, path {path50} µs"
    );
    assert!(
        relay50 <= path50 + 200.0,
        "relay {relay50} µs, path {path50} µs"
    );

    let r = f.recording.as_ref().expect("recording figures");
    assert_eq!(
        (r.started, r.valid, r.failures()),
        (calls, calls, 0),
        "{:?}",
        r.problems
    );
    // Each file lasts from its Record to its Close (20-ms slots, the tap's 60-ms buffer).
    assert!(r.worst_duration_error < 0.2, "{r:?}");
    assert!(r.secs_min >= 2.0, "{r:?}");
    // 16,000 B a call-second: the workers' writes while streaming, within the one-second
    // appends' granularity (each call writes 1 or 2 times in a 2-s window, ±1 s of 16 kB).
    let per_call = r.disk_bytes_per_s() / calls as f64;
    assert!(
        (8_000.0..=24_000.0).contains(&per_call),
        "{per_call} B/s a call"
    );
    assert_eq!(
        r.bytes_total,
        (0..calls).map(|i| file_len(&dir, i)).sum::<u64>()
    );

    // The customer's audio on the left, the agent's on the right, for most of the streaming
    // time (the file also holds the second before and the drain after, as silence).
    for i in [0, calls / 2, calls - 1] {
        let bytes = std::fs::read(dir.join(format!("call-{i:05}.wav"))).expect("recording");
        let data = &bytes[HEADER_LEN as usize..];
        let frames = data.len() / 2;
        let share = |ch: usize, code: u8| {
            data.iter()
                .skip(ch)
                .step_by(2)
                .filter(|&&b| b == code)
                .count() as f64
                / frames as f64
        };
        let streamed = 2.0 / r.secs_max;
        assert!(
            share(0, AUDIO[0]) > 0.8 * streamed,
            "call {i}: left {}",
            share(0, AUDIO[0])
        );
        assert!(
            share(1, AUDIO[1]) > 0.8 * streamed,
            "call {i}: right {}",
            share(1, AUDIO[1])
        );
        // Only the 8 send-time bytes at a packet's head can hold the other side's code.
        let crossed = share(0, AUDIO[1]) + share(1, AUDIO[0]);
        assert!(crossed < 0.01, "call {i}: sides crossed ({crossed})");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

fn file_len(dir: &std::path::Path, i: usize) -> u64 {
    std::fs::metadata(dir.join(format!("call-{i:05}.wav")))
        .map(|m| m.len())
        .unwrap_or(0)
}
