//! outdial's SIP core against its own synthetic peers, run as the real binary: `outdial
//! trunk-sim` (outcome probabilities of 1.0 for the flow under test) and `outdial agent-sim`.
//! The same flows as tests/it/sipp_outdial.rs where the synthetic trunk has them: answered and
//! connected, machine, busy, invalid, no answer (CANCEL → 487), failure on the primary placed on
//! the secondary, and either side hanging up. Peers are killed on drop; every wait is bounded.

use crate::dialler;
use crate::engine_support;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use dialler::{live_endpoint, trunk_group};
use engine_support::{peer, temp_dir, Peer};
use outdial::sip::{
    CallId, CallerId, EndedBy, Event, PlaceCall, SipHandle, SipOutcome, SipUri, E164,
};
use tokio::sync::mpsc::Receiver;

/// A scenario whose trunk has these outcome probabilities; ring 3 s and talk `talk_s`.
fn scenario(dir: &Path, tag: &str, o: Outcomes, talk_s: u32) -> PathBuf {
    let trunk = format!(
        "  live_answer: {}\n  machine: {}\n  busy: {}\n  invalid: {}\n  failure: {}\n",
        o[0], o[1], o[2], o[3], o[4]
    );
    let path = dir.join(format!("{tag}.yaml"));
    let text = format!(
        "name: {tag}\nseed: 5\nduration: 1h\nagents: 2\npatience: 2s\n\
         talk_time: {{dist: constant, mean: {talk_s}s}}\nwrap_time: {{dist: constant, mean: 1s}}\n\
         trunk:\n  channels: 10\n{trunk}  ring_time: {{dist: constant, mean: 3s}}\n  no_answer_timeout: 60s\n\
         inbound: {{rate_per_hour: 0, talk_time: {{dist: constant, mean: 60s}}}}\n\
         target_abandon: 0.03\nstrategies: [progressive]\n"
    );
    std::fs::write(&path, text).expect("write scenario");
    path
}

/// `outdial trunk-sim` at time scale 10 with these outcomes.
fn trunk_sim(tag: &str, outcomes: Outcomes, talk_s: u32) -> Peer {
    let sc = scenario(&temp_dir("sim-peers"), tag, outcomes, talk_s);
    peer("trunk-sim", &sc, 10.0, &[])
}

/// `outdial agent-sim` at time scale 10 (the scenario only sets the synthetic durations).
fn agent_sim(tag: &str, talk_s: u32, extra: &[&str]) -> Peer {
    let sc = scenario(&temp_dir("sim-peers"), tag, LIVE, talk_s);
    peer("agent-sim", &sc, 10.0, extra)
}

async fn dialler(trunks: &[SocketAddr]) -> (SipHandle, Receiver<Event>) {
    live_endpoint(&trunk_group(trunks, "")).await
}

async fn place(d: &SipHandle, ring: Duration) -> CallId {
    d.place_call(PlaceCall {
        group: "g".into(),
        number: E164::new("+8613800138000").expect("number"),
        caller_id: CallerId::new("+864001234567").expect("caller id"),
        headers: vec![],
        ring_timeout: ring,
        offer: None,
    })
    .await
    .expect("driver")
    .expect("placed")
}

/// The next event of `call` other than `Ringing`, within `secs` seconds.
async fn next_for(ev: &mut Receiver<Event>, call: CallId, secs: u64) -> Event {
    let wait = async {
        loop {
            match ev.recv().await.expect("driver alive") {
                Event::Ringing { .. } => {}
                e @ (Event::Answered { call: c, .. }
                | Event::Failed { call: c, .. }
                | Event::Connected { call: c, .. }
                | Event::ConnectFailed { call: c, .. }
                | Event::Ended { call: c, .. })
                    if c == call =>
                {
                    return e
                }
                _ => {}
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(secs), wait)
        .await
        .expect("event in time")
}

/// Trunk outcome probabilities: live, machine, busy, invalid, failure (the rest: no answer).
type Outcomes = [f64; 5];
const LIVE: Outcomes = [1.0, 0.0, 0.0, 0.0, 0.0];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_answer_connects_to_agent_sim_and_the_customer_hangs_up() {
    // Customer talks 20 s / 10 = 2 s; the agents hold until BYE.
    let trunk = trunk_sim("live", LIVE, 20);
    let agents = agent_sim("agents-hold", 20, &["--agents", "3", "--hold-until-bye"]);
    let (d, mut ev) = dialler(&[trunk.addr]).await;
    let t0 = std::time::Instant::now();
    let call = place(&d, Duration::from_secs(5)).await;
    let Event::Answered { machine, offer, .. } = next_for(&mut ev, call, 10).await else {
        panic!("not answered")
    };
    // Ring time 3 s / 10.
    assert!(
        t0.elapsed() >= Duration::from_millis(250),
        "{:?}",
        t0.elapsed()
    );
    assert!(!machine);
    assert!(offer.is_some_and(|o| o.contains("m=audio")));
    let uri = SipUri::parse(&format!("sip:agent0002@{}", agents.addr)).expect("uri");
    d.connect(call, uri.clone())
        .await
        .expect("driver")
        .expect("connect");
    assert!(matches!(
        next_for(&mut ev, call, 10).await,
        Event::Connected { agent, .. } if agent == uri
    ));
    assert_eq!(
        next_for(&mut ev, call, 10).await,
        Event::Ended {
            call,
            by: EndedBy::Customer
        }
    );
    // The agent is free again: a second call connects to the same agent.
    let call = place(&d, Duration::from_secs(5)).await;
    assert!(matches!(
        next_for(&mut ev, call, 10).await,
        Event::Answered { .. }
    ));
    d.connect(call, uri)
        .await
        .expect("driver")
        .expect("connect");
    assert!(matches!(
        next_for(&mut ev, call, 10).await,
        Event::Connected { .. }
    ));
    d.hangup(call).await.expect("driver").expect("hangup");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_sim_hangs_up_after_its_talk_time() {
    // Customer would talk 600 s / 10; the agent hangs up after 10 s / 10 = 1 s.
    let trunk = trunk_sim("long", LIVE, 600);
    let agents = agent_sim("agents-talk", 10, &["--agents", "1"]);
    let (d, mut ev) = dialler(&[trunk.addr]).await;
    let call = place(&d, Duration::from_secs(5)).await;
    assert!(matches!(
        next_for(&mut ev, call, 10).await,
        Event::Answered { .. }
    ));
    let uri = SipUri::parse(&format!("sip:agent0001@{}", agents.addr)).expect("uri");
    d.connect(call, uri)
        .await
        .expect("driver")
        .expect("connect");
    assert!(matches!(
        next_for(&mut ev, call, 10).await,
        Event::Connected { .. }
    ));
    assert_eq!(
        next_for(&mut ev, call, 10).await,
        Event::Ended {
            call,
            by: EndedBy::Agent
        }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_agent_is_refused() {
    let trunk = trunk_sim("live-unknown", LIVE, 600);
    let agents = agent_sim("agents-one", 10, &["--agents", "1"]);
    let (d, mut ev) = dialler(&[trunk.addr]).await;
    let call = place(&d, Duration::from_secs(5)).await;
    assert!(matches!(
        next_for(&mut ev, call, 10).await,
        Event::Answered { .. }
    ));
    let uri = SipUri::parse(&format!("sip:agent0002@{}", agents.addr)).expect("uri");
    d.connect(call, uri)
        .await
        .expect("driver")
        .expect("connect");
    assert!(matches!(
        next_for(&mut ev, call, 10).await,
        Event::ConnectFailed {
            code: Some(404),
            ..
        }
    ));
    d.abandon(call, None)
        .await
        .expect("driver")
        .expect("abandon");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn machine_answer_is_flagged_by_the_header() {
    let trunk = trunk_sim("machine", [0.0, 1.0, 0.0, 0.0, 0.0], 20);
    let (d, mut ev) = dialler(&[trunk.addr]).await;
    let call = place(&d, Duration::from_secs(5)).await;
    assert!(matches!(
        next_for(&mut ev, call, 10).await,
        Event::Answered { machine: true, .. }
    ));
    d.abandon(call, None)
        .await
        .expect("driver")
        .expect("abandon");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn busy_invalid_and_no_answer() {
    for (tag, outcomes, ring, code, disposition) in [
        ("busy", [0.0, 0.0, 1.0, 0.0, 0.0], 5, 486, SipOutcome::Busy),
        (
            "invalid",
            [0.0, 0.0, 0.0, 1.0, 0.0],
            5,
            404,
            SipOutcome::Invalid,
        ),
        // Nothing but no-answer: rings until our CANCEL after 1 s, then 487.
        ("noanswer", [0.0; 5], 1, 487, SipOutcome::NoAnswer),
    ] {
        let trunk = trunk_sim(tag, outcomes, 20);
        let (d, mut ev) = dialler(&[trunk.addr]).await;
        let call = place(&d, Duration::from_secs(ring)).await;
        assert_eq!(
            next_for(&mut ev, call, 10).await,
            Event::Failed {
                call,
                code: Some(code),
                disposition
            },
            "{tag}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failure_on_the_primary_is_placed_on_the_secondary() {
    let primary = trunk_sim("failure", [0.0, 0.0, 0.0, 0.0, 1.0], 20);
    let secondary = trunk_sim("secondary", LIVE, 20);
    let (d, mut ev) = dialler(&[primary.addr, secondary.addr]).await;
    let call = place(&d, Duration::from_secs(5)).await;
    assert!(matches!(
        next_for(&mut ev, call, 10).await,
        Event::Answered { .. }
    ));
    d.abandon(call, None)
        .await
        .expect("driver")
        .expect("abandon");
}

/// Where the SDP `sdp` wants audio (`c=` + `m=audio` port).
fn sdp_audio(sdp: &str) -> SocketAddr {
    let ip = sdp
        .lines()
        .find_map(|l| l.strip_prefix("c=IN IP4 "))
        .expect("c= line")
        .trim();
    let port = sdp
        .lines()
        .find_map(|l| l.strip_prefix("m=audio "))
        .and_then(|r| r.split_whitespace().next())
        .expect("m=audio line")
        .trim();
    format!("{ip}:{port}").parse().expect("sdp address")
}

/// RTP packets (source, header byte 1, sequence, payload) received on `sock` within `window`.
async fn rtp_within(
    sock: &tokio::net::UdpSocket,
    window: Duration,
) -> Vec<(SocketAddr, u8, u16, Vec<u8>)> {
    let mut got = Vec::new();
    let mut buf = [0u8; 2048];
    let end = tokio::time::Instant::now() + window;
    while let Ok(Ok((n, from))) = tokio::time::timeout_at(end, sock.recv_from(&mut buf)).await {
        let p = &buf[..n];
        assert!(n >= 12 && p[0] >> 6 == 2, "valid RTP version 2: {p:?}");
        got.push((
            from,
            p[1],
            u16::from_be_bytes([p[2], p[3]]),
            p[12..].to_vec(),
        ));
    }
    got
}

/// A live customer's talk on RTP: PCMU, 20 ms packets, consecutive sequence numbers, from
/// `from`, and speech rather than silence (µ-law silence is 0xFF/0x7F).
fn assert_live_voice(got: &[(SocketAddr, u8, u16, Vec<u8>)], from: SocketAddr) {
    // 1.5 s at 50 packets a second, with room for scheduling on a loaded machine.
    assert!(got.len() >= 40, "RTP packets in 1.5 s: {}", got.len());
    for (src, b1, _, payload) in got {
        assert_eq!(*src, from, "symmetric RTP: from the port of the SDP");
        assert_eq!(b1 & 0x7F, 0, "PCMU");
        assert_eq!(payload.len(), 160, "20 ms of G.711");
    }
    assert!(got.windows(2).all(|w| w[1].2 == w[0].2.wrapping_add(1)));
    assert!(
        got.iter().any(|g| g.3.iter().any(|&b| (b & 0x7F) < 0x60)),
        "the customer talks: not only silence"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trunk_sim_answers_an_offer_with_its_own_sdp_and_talks_rtp_until_bye() {
    // Talk 50 s / 10 = 5 s: the dialler hangs up first.
    let trunk = trunk_sim("media", LIVE, 50);
    let (d, mut ev) = dialler(&[trunk.addr]).await;
    let rtp = tokio::net::UdpSocket::bind("127.0.0.1:0")
        .await
        .expect("bind rtp");
    let me = rtp.local_addr().expect("addr");
    let offer = format!(
        "v=0\r\no=test 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
         m=audio {} RTP/AVP 0 8\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n",
        me.port()
    );
    let call = d
        .place_call(PlaceCall {
            group: "g".into(),
            number: E164::new("+8613800138000").expect("number"),
            caller_id: CallerId::new("+864001234567").expect("caller id"),
            headers: vec![],
            ring_timeout: Duration::from_secs(5),
            offer: Some(offer),
        })
        .await
        .expect("driver")
        .expect("placed");
    let Event::Answered { offer: answer, .. } = next_for(&mut ev, call, 10).await else {
        panic!("not answered")
    };
    let answer = answer.expect("the 200 carries SDP");
    assert!(
        answer.contains("RTP/AVP 0\r\n"),
        "an answer: PCMU, the first codec of the offer: {answer}"
    );
    let theirs = sdp_audio(&answer);
    assert_ne!(theirs.port(), 9);
    assert_live_voice(&rtp_within(&rtp, Duration::from_millis(1500)).await, theirs);

    // The BYE stops the stream.
    d.hangup(call).await.expect("driver").expect("hangup");
    assert!(matches!(
        next_for(&mut ev, call, 10).await,
        Event::Ended { .. }
    ));
    rtp_within(&rtp, Duration::from_millis(300)).await;
    let after = rtp_within(&rtp, Duration::from_millis(1000)).await;
    assert!(after.is_empty(), "RTP after BYE: {} packets", after.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flow_i_trunk_sim_stays_signalling_only() {
    let trunk = trunk_sim("media-flow-i", LIVE, 50);
    let (d, mut ev) = dialler(&[trunk.addr]).await;
    let call = place(&d, Duration::from_secs(5)).await;
    let Event::Answered { offer, .. } = next_for(&mut ev, call, 10).await else {
        panic!("not answered")
    };
    let offer = offer.expect("flow I: the 200 carries the offer");
    assert!(offer.contains("m=audio 9 RTP/AVP 0 8"), "{offer}");
    assert_eq!(
        sdp_audio(&offer).port(),
        9,
        "a placeholder: the discard port"
    );
    d.hangup(call).await.expect("driver").expect("hangup");
}
