//! The media core's behaviour as the engine and the far ends see it: what goes out where, which
//! events come back, what the tap hears.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use proptest::prelude::*;

use super::{MediaConfig, MediaCore};
use crate::media::io::{
    Codec, LegId, LegRole, MediaCommand, MediaEvent, RemoteMedia, TapFrame, Transmit,
};
use crate::media::{emodel, g711, rtcp, rtp, tones};

const CUST: LegId = LegId(1);
const AGENT: LegId = LegId(2);
const CUST2: LegId = LegId(3);
const CPORT: u16 = 10_000;
const APORT: u16 = 20_000;
const C2PORT: u16 = 10_002;
const MS20: Duration = Duration::from_millis(20);

fn addr(last: u8, port: u16) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, last)), port)
}

fn remote(a: SocketAddr, codec: Codec, dtmf_pt: Option<u8>) -> RemoteMedia {
    RemoteMedia {
        addr: a,
        codec,
        pt: match codec {
            Codec::Pcmu => 0,
            Codec::Pcma => 8,
        },
        dtmf_pt,
        ptime_ms: 20,
    }
}

fn packet(pt: u8, seq: u16, ts: u32, ssrc: u32, payload: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    rtp::write_header(&mut b, false, pt, seq, ts, ssrc);
    b.extend_from_slice(payload);
    b
}

fn ulaw(pcm: &[i16]) -> Vec<u8> {
    let mut out = Vec::new();
    g711::encode(Codec::Pcmu, pcm, &mut out);
    out
}

fn open(core: &mut MediaCore, now: Instant, leg: LegId, role: LegRole, port: u16) {
    core.handle_command(
        now,
        MediaCommand::Open {
            leg,
            role,
            local_port: port,
        },
    );
}

fn set_remote(core: &mut MediaCore, now: Instant, leg: LegId, r: RemoteMedia) {
    core.handle_command(now, MediaCommand::Remote { leg, remote: r });
}

fn transmits(core: &mut MediaCore) -> Vec<Transmit> {
    std::iter::from_fn(|| core.poll_transmit()).collect()
}

fn events(core: &mut MediaCore) -> Vec<MediaEvent> {
    std::iter::from_fn(|| core.poll_event()).collect()
}

fn taps(core: &mut MediaCore) -> Vec<TapFrame> {
    std::iter::from_fn(|| core.poll_tap()).collect()
}

/// A customer (PCMU, telephone-event 101) and an agent (`agent_codec`) with their SDP in,
/// bridged.
fn bridged(agent_codec: Codec, agent_dtmf: Option<u8>) -> (MediaCore, Instant) {
    let t0 = Instant::now();
    let mut core = MediaCore::new(MediaConfig::default(), t0);
    open(&mut core, t0, CUST, LegRole::Customer, CPORT);
    open(&mut core, t0, AGENT, LegRole::Agent, APORT);
    set_remote(
        &mut core,
        t0,
        CUST,
        remote(addr(10, 4000), Codec::Pcmu, Some(101)),
    );
    set_remote(
        &mut core,
        t0,
        AGENT,
        remote(addr(20, 6000), agent_codec, agent_dtmf),
    );
    core.handle_command(
        t0,
        MediaCommand::Bridge {
            customer: CUST,
            agent: AGENT,
        },
    );
    (core, t0)
}

#[test]
fn latching_sends_to_the_sdp_address_until_the_first_packet_then_to_its_source() {
    let (mut core, t0) = bridged(Codec::Pcmu, None);
    let voice = [0x55u8; 160];
    core.handle_datagram(t0, CPORT, addr(11, 4100), &packet(0, 1, 0, 7, &voice));
    let out = transmits(&mut core);
    assert_eq!(out.len(), 1);
    assert_eq!((out[0].local_port, out[0].to), (APORT, addr(20, 6000)));
    // The agent's phone sends from behind NAT: the customer's audio now goes there.
    core.handle_datagram(t0, APORT, addr(99, 7777), &packet(0, 1, 0, 9, &voice));
    let back = transmits(&mut core);
    // ... and its packet reached the customer at the customer's latched source.
    assert_eq!((back[0].local_port, back[0].to), (CPORT, addr(11, 4100)));
    core.handle_datagram(
        t0 + MS20,
        CPORT,
        addr(11, 4100),
        &packet(0, 2, 160, 7, &voice),
    );
    core.handle_datagram(
        t0 + MS20,
        APORT,
        addr(99, 7777),
        &packet(0, 2, 160, 9, &voice),
    );
    let out = transmits(&mut core);
    assert_eq!(out[0].to, addr(99, 7777));
    let firsts: Vec<_> = events(&mut core)
        .into_iter()
        .filter(|e| matches!(e, MediaEvent::FirstPacket { .. }))
        .collect();
    assert_eq!(
        firsts,
        vec![
            MediaEvent::FirstPacket { leg: CUST },
            MediaEvent::FirstPacket { leg: AGENT }
        ]
    );
}

#[test]
fn relay_keeps_one_continuous_stream_to_the_agent_across_customers() {
    let (mut core, t0) = bridged(Codec::Pcmu, None);
    open(&mut core, t0, CUST2, LegRole::Customer, C2PORT);
    set_remote(
        &mut core,
        t0,
        CUST2,
        remote(addr(12, 4000), Codec::Pcmu, None),
    );
    let mut now = t0;
    let mut sent = Vec::new();
    for i in 0..5u16 {
        core.handle_datagram(
            now,
            CPORT,
            addr(10, 4000),
            &packet(0, 1000 + i, 50_000 + u32::from(i) * 160, 0xaaaa, &[1; 160]),
        );
        sent.extend(transmits(&mut core));
        now += MS20;
    }
    let ev = events(&mut core);
    assert!(ev.contains(&MediaEvent::Connected {
        customer: CUST,
        agent: AGENT
    }));
    // The next customer, with its own wildly different numbers, 1 s later.
    now += Duration::from_secs(1);
    core.handle_command(
        now,
        MediaCommand::Bridge {
            customer: CUST2,
            agent: AGENT,
        },
    );
    for i in 0..5u16 {
        core.handle_datagram(
            now,
            C2PORT,
            addr(12, 4000),
            &packet(0, 60_000 + i, 7 + u32::from(i) * 160, 0xbbbb, &[2; 160]),
        );
        sent.extend(transmits(&mut core));
        now += MS20;
    }
    assert!(events(&mut core).contains(&MediaEvent::Connected {
        customer: CUST2,
        agent: AGENT
    }));
    assert_eq!(sent.len(), 10);
    let parsed: Vec<_> = sent
        .iter()
        .map(|t| rtp::parse(&t.payload).unwrap())
        .collect();
    assert!(sent
        .iter()
        .all(|t| t.local_port == APORT && t.to == addr(20, 6000)));
    let ssrc = parsed[0].ssrc;
    assert!(
        parsed.iter().all(|p| p.ssrc == ssrc),
        "one SSRC to the agent"
    );
    assert_ne!(ssrc, 0xaaaa);
    for w in parsed.windows(2) {
        assert_eq!(w[1].seq, w[0].seq.wrapping_add(1), "sequence continuous");
        let dts = w[1].ts.wrapping_sub(w[0].ts);
        assert!(
            (160..0x8000_0000).contains(&dts),
            "timestamp moves forward: {dts}"
        );
    }
    // Across the switch the timestamp advanced by the real time between the packets.
    assert_eq!(parsed[5].ts.wrapping_sub(parsed[4].ts), 8000 + 160);
    assert!(parsed[5].marker, "a new talk spurt is marked");
    assert_eq!((parsed[4].payload[0], parsed[5].payload[0]), (1, 2));
    // The first customer is no longer heard by the agent.
    core.handle_datagram(
        now,
        CPORT,
        addr(10, 4000),
        &packet(0, 1005, 50_800, 0xaaaa, &[1; 160]),
    );
    assert!(transmits(&mut core).is_empty());
}

#[test]
fn pcmu_customer_reaches_a_pcma_agent_with_the_same_audio() {
    let (mut core, t0) = bridged(Codec::Pcma, None);
    let pcm: Vec<i16> = (0..160)
        .map(|i| ((i as f64 * 0.2).sin() * 9000.0) as i16)
        .collect();
    core.handle_datagram(t0, CPORT, addr(10, 4000), &packet(0, 1, 0, 5, &ulaw(&pcm)));
    let out = transmits(&mut core);
    let p = rtp::parse(&out[0].payload).unwrap();
    assert_eq!(p.pt, 8);
    let mut heard = Vec::new();
    g711::decode(Codec::Pcma, p.payload, &mut heard);
    let err: f64 = pcm
        .iter()
        .zip(&heard)
        .map(|(a, b)| f64::from(a - b).powi(2))
        .sum::<f64>();
    let sig: f64 = pcm.iter().map(|a| f64::from(*a).powi(2)).sum();
    assert!(
        10.0 * (sig / err).log10() > 30.0,
        "SNR after transcoding too low"
    );
}

#[test]
fn a_prompt_goes_out_every_20_ms_holds_back_relay_and_ends_with_prompt_done() {
    let (mut core, t0) = bridged(Codec::Pcmu, None);
    // 3.5 frames: the last one padded with silence.
    let prompt = tones::tone(&[1000.0], 70, 8000);
    core.handle_command(t0, MediaCommand::Play { leg: AGENT, prompt });
    let mut frames = transmits(&mut core);
    assert_eq!(frames.len(), 1, "the first frame goes at once");
    let mut now = t0;
    while let Some(at) = core.poll_timeout() {
        if at > t0 + Duration::from_millis(200) {
            break;
        }
        assert!(at >= now);
        now = at;
        core.handle_timeout(now);
        frames.extend(transmits(&mut core));
        if events(&mut core).contains(&MediaEvent::PromptDone { leg: AGENT }) {
            break;
        }
        // Customer audio while the prompt plays is not relayed to the agent.
        core.handle_datagram(
            now,
            CPORT,
            addr(10, 4000),
            &packet(0, 1, 0, 5, &[0x33; 160]),
        );
        assert!(transmits(&mut core).is_empty());
    }
    assert_eq!(
        now,
        t0 + Duration::from_millis(80),
        "PromptDone after the 4th frame was heard"
    );
    assert_eq!(frames.len(), 4);
    let parsed: Vec<_> = frames
        .iter()
        .map(|t| rtp::parse(&t.payload).unwrap())
        .collect();
    for w in parsed.windows(2) {
        assert_eq!(w[1].ts.wrapping_sub(w[0].ts), 160);
        assert_eq!(w[1].seq.wrapping_sub(w[0].seq), 1);
    }
    assert!(
        parsed[3].payload[80..].iter().all(|&c| c == 0xff),
        "padded with µ-law silence"
    );
    // After the prompt, relay resumes.
    core.handle_datagram(
        now,
        CPORT,
        addr(10, 4000),
        &packet(0, 2, 160, 5, &[0x33; 160]),
    );
    assert_eq!(transmits(&mut core).len(), 1);
}

#[test]
fn rfc4733_key_is_reported_once_and_forwarded_only_to_a_dtmf_capable_agent() {
    for agent_dtmf in [Some(96u8), None] {
        let (mut core, t0) = bridged(Codec::Pcmu, agent_dtmf);
        let mut forwarded = 0;
        for (i, e) in [0x0a, 0x0a, 0x0a, 0x8a, 0x8a, 0x8a].into_iter().enumerate() {
            let pkt = packet(101, 10 + i as u16, 8000, 5, &[9, e, 0, 160]);
            core.handle_datagram(t0, CPORT, addr(10, 4000), &pkt);
            for t in transmits(&mut core) {
                assert_eq!(rtp::parse(&t.payload).unwrap().pt, 96);
                forwarded += 1;
            }
        }
        let keys: Vec<_> = events(&mut core)
            .into_iter()
            .filter(|e| matches!(e, MediaEvent::Dtmf { .. }))
            .collect();
        assert_eq!(
            keys,
            vec![MediaEvent::Dtmf {
                leg: CUST,
                digit: '9'
            }]
        );
        assert_eq!(forwarded, if agent_dtmf.is_some() { 6 } else { 0 });
    }
}

#[test]
fn inband_nine_during_a_prompt_is_reported_once() {
    let (mut core, t0) = bridged(Codec::Pcmu, None);
    core.handle_command(
        t0,
        MediaCommand::Play {
            leg: CUST,
            prompt: tones::tone(&[400.0], 1000, 4000),
        },
    );
    let nine = tones::tone(&[852.0, 1477.0], 120, 6000);
    let mut now = t0;
    for (i, chunk) in nine
        .0
        .chunks(160)
        .chain(std::iter::repeat_n([0i16; 160].as_slice(), 5))
        .enumerate()
    {
        let pkt = packet(0, i as u16, i as u32 * 160, 5, &ulaw(chunk));
        core.handle_datagram(now, CPORT, addr(10, 4000), &pkt);
        now += MS20;
    }
    let keys: Vec<_> = events(&mut core)
        .into_iter()
        .filter(|e| matches!(e, MediaEvent::Dtmf { .. }))
        .collect();
    assert_eq!(
        keys,
        vec![MediaEvent::Dtmf {
            leg: CUST,
            digit: '9'
        }]
    );
}

#[test]
fn silence_from_the_far_end_times_out_once() {
    let (mut core, t0) = bridged(Codec::Pcmu, None);
    let timeout = MediaConfig::default().rtp_timeout;
    core.handle_datagram(
        t0 + Duration::from_secs(10),
        APORT,
        addr(20, 6000),
        &packet(0, 1, 0, 5, &[0xff; 160]),
    );
    events(&mut core);
    core.handle_timeout(t0 + timeout - Duration::from_millis(1));
    assert!(events(&mut core).is_empty());
    core.handle_timeout(t0 + timeout);
    assert_eq!(events(&mut core), vec![MediaEvent::Timeout { leg: CUST }]);
    let wake = core.poll_timeout().unwrap();
    assert!(wake <= t0 + timeout + Duration::from_secs(10));
    core.handle_timeout(t0 + timeout + Duration::from_secs(10));
    assert_eq!(events(&mut core), vec![MediaEvent::Timeout { leg: AGENT }]);
    core.handle_timeout(t0 + timeout * 3);
    assert!(events(&mut core).is_empty());
}

#[test]
fn recording_taps_both_legs_aligned_by_slot_with_silence_for_loss() {
    let (mut core, t0) = bridged(Codec::Pcmu, None);
    core.handle_command(
        t0,
        MediaCommand::Record {
            customer: CUST,
            path: "x.wav".into(),
        },
    );
    let mut frames = Vec::new();
    for i in 0..20u16 {
        let now = t0 + MS20 * u32::from(i) + Duration::from_millis(5);
        if i != 7 {
            let c = ulaw(&[1000; 160]);
            core.handle_datagram(
                now,
                CPORT,
                addr(10, 4000),
                &packet(0, i, 3000 + u32::from(i) * 160, 5, &c),
            );
        }
        let a = ulaw(&[-2000; 160]);
        core.handle_datagram(
            now,
            APORT,
            addr(20, 6000),
            &packet(0, 500 + i, u32::from(i) * 160, 6, &a),
        );
        core.handle_timeout(now);
        frames.extend(taps(&mut core));
    }
    let of = |leg| -> Vec<(u64, i16)> {
        frames
            .iter()
            .filter(|f| f.leg == leg)
            .map(|f| (f.slot, f.pcm[80]))
            .collect()
    };
    let (c, a) = (of(CUST), of(AGENT));
    assert_eq!(
        c.len(),
        20,
        "whole frames play out as they arrive, the lost one after 60 ms"
    );
    assert_eq!(
        c.iter().map(|x| x.0).collect::<Vec<_>>(),
        a.iter().map(|x| x.0).collect::<Vec<_>>()
    );
    assert_eq!(c[0].0, 0);
    let lost: Vec<_> = c.iter().filter(|x| x.1 == 0).map(|x| x.0).collect();
    assert_eq!(lost, vec![7], "the lost packet's slot is silence");
    assert!(c
        .iter()
        .filter(|x| x.0 != 7)
        .all(|x| (x.1 - 1000).abs() < 40));
    assert!(a.iter().all(|x| (x.1 + 2000).abs() < 80));
    // Unbridged, the agent is no longer part of the customer's recording.
    core.handle_command(t0, MediaCommand::Unbridge { leg: CUST });
    core.handle_timeout(t0 + MS20 * 30);
    let after = taps(&mut core);
    assert!(!after.is_empty() && after.iter().all(|f| f.leg == CUST));
    // Re-bridged, it is again (the recording follows the bridge) until the customer closes.
    core.handle_command(
        t0 + MS20 * 30,
        MediaCommand::Bridge {
            customer: CUST,
            agent: AGENT,
        },
    );
    core.handle_timeout(t0 + MS20 * 40);
    assert!(taps(&mut core).iter().any(|f| f.leg == AGENT));
    core.handle_command(t0 + MS20 * 40, MediaCommand::Close { leg: CUST });
    core.handle_timeout(t0 + MS20 * 50);
    assert!(
        taps(&mut core).is_empty(),
        "nothing tapped once the call closed"
    );
}

#[test]
fn close_reports_packets_loss_jitter_and_mos() {
    let (mut core, t0) = bridged(Codec::Pcmu, None);
    for i in 0..100u16 {
        if i % 20 == 3 {
            continue;
        }
        let now = t0 + MS20 * u32::from(i);
        core.handle_datagram(
            now,
            CPORT,
            addr(10, 4000),
            &packet(0, i, u32::from(i) * 160, 5, &[0xff; 160]),
        );
    }
    transmits(&mut core);
    events(&mut core);
    let live = core.leg_stats(CUST);
    core.handle_command(t0, MediaCommand::Close { leg: CUST });
    assert_eq!(core.leg_stats(CUST), None);
    let ev = events(&mut core);
    let Some(MediaEvent::Closed { leg, stats }) = ev.last().cloned() else {
        panic!("no Closed: {ev:?}");
    };
    assert_eq!(leg, CUST);
    assert_eq!(live, Some(stats));
    assert_eq!((stats.packets_in, stats.packets_out), (95, 0));
    assert!((stats.loss_pct - 5.0).abs() < 1e-9, "{}", stats.loss_pct);
    assert!(stats.jitter_ms < 0.01);
    assert!((stats.mos - emodel::g711_mos(5.0, 20.0)).abs() < 1e-9);
    assert!(stats.mos < 4.2 && stats.mos > 3.5, "{}", stats.mos);
    // The port is free again; the agent is unbridged.
    open(&mut core, t0, LegId(9), LegRole::Customer, CPORT);
    assert!(events(&mut core).is_empty());
}

#[test]
fn rtcp_reports_go_out_every_interval_with_the_loss() {
    let (mut core, t0) = bridged(Codec::Pcmu, None);
    for i in 0..10u16 {
        if i == 4 {
            continue;
        }
        core.handle_datagram(
            t0,
            CPORT,
            addr(10, 4000),
            &packet(0, i, u32::from(i) * 160, 5, &[0xff; 160]),
        );
    }
    transmits(&mut core);
    let interval = MediaConfig::default().rtcp_interval;
    core.handle_timeout(t0 + interval);
    let reports: Vec<_> = transmits(&mut core)
        .into_iter()
        .filter(|t| t.local_port == CPORT + 1)
        .collect();
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].to, addr(10, 4001));
    let got = rtcp::parse(&reports[0].payload).unwrap();
    assert_eq!(got.receiver_reports, 1);
    // Report block: fraction lost 1/10 → 25, cumulative 1.
    assert_eq!(&reports[0].payload[12..16], &[25, 0, 0, 1]);
    // An RTCP packet received on port + 1 is counted, not mistaken for RTP.
    core.handle_datagram(t0, CPORT + 1, addr(10, 4001), &reports[0].payload);
    assert!(transmits(&mut core).is_empty());
    assert_eq!(core.counters().malformed, 0);
    assert_eq!(
        core.poll_timeout(),
        Some(t0 + interval + interval).min(core.poll_timeout())
    );
}

#[test]
fn open_refuses_a_taken_port() {
    let (mut core, t0) = bridged(Codec::Pcmu, None);
    open(&mut core, t0, LegId(7), LegRole::Customer, CPORT + 1);
    open(&mut core, t0, CUST, LegRole::Customer, 30_000);
    let ev = events(&mut core);
    assert_eq!(ev.len(), 2);
    assert!(ev
        .iter()
        .all(|e| matches!(e, MediaEvent::OpenFailed { .. })));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, rng_algorithm: proptest::test_runner::RngAlgorithm::ChaCha, ..ProptestConfig::default() })]

    #[test]
    fn garbage_datagrams_never_panic(data in proptest::collection::vec(any::<u8>(), 0..300), port_pick in 0u8..4, tapped in any::<bool>()) {
        let (mut core, t0) = bridged(Codec::Pcma, Some(96));
        core.handle_command(t0, MediaCommand::Tap { leg: CUST, on: tapped });
        core.handle_command(t0, MediaCommand::Play { leg: CUST, prompt: tones::connect_tone() });
        let port = [CPORT, CPORT + 1, APORT, 555][usize::from(port_pick)];
        core.handle_datagram(t0, port, addr(1, 1), &data);
        core.handle_timeout(t0 + Duration::from_secs(6));
        transmits(&mut core);
        events(&mut core);
        taps(&mut core);
        core.handle_command(t0, MediaCommand::Close { leg: CUST });
    }
}

#[test]
fn an_ssrc_change_keeps_the_leg_relaying_without_counting_loss() {
    let (mut core, t0) = bridged(Codec::Pcmu, None);
    let mut now = t0;
    let mut out = Vec::new();
    // A carrier switches media servers mid-call: new SSRC, sequence and timestamp, new source.
    for (from, ssrc, seq0) in [(addr(10, 4000), 1u32, 100u16), (addr(13, 4444), 2, 9000)] {
        for i in 0..5u16 {
            let pkt = packet(0, seq0 + i, u32::from(seq0 + i) * 160, ssrc, &[0x44; 160]);
            core.handle_datagram(now, CPORT, from, &pkt);
            now += MS20;
        }
        out.extend(transmits(&mut core));
    }
    assert_eq!(out.len(), 10);
    let seqs: Vec<u16> = out
        .iter()
        .map(|t| rtp::parse(&t.payload).unwrap().seq)
        .collect();
    assert!(seqs.windows(2).all(|w| w[1] == w[0].wrapping_add(1)));
    // The agent's audio now goes to the new media server.
    core.handle_datagram(
        now,
        APORT,
        addr(20, 6000),
        &packet(0, 1, 0, 3, &[0x44; 160]),
    );
    assert_eq!(transmits(&mut core)[0].to, addr(13, 4444));
    core.handle_command(now, MediaCommand::Close { leg: CUST });
    let closed = events(&mut core).into_iter().find_map(|e| match e {
        MediaEvent::Closed { stats, .. } => Some(stats),
        _ => None,
    });
    let stats = closed.unwrap();
    assert_eq!((stats.packets_in, stats.loss_pct), (10, 0.0));
}
