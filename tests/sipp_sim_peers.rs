//! outdial's SIP core against its own synthetic peers, run as the real binary: `outdial
//! trunk-sim` (outcome probabilities of 1.0 for the flow under test) and `outdial agent-sim`.
//! The same flows as tests/sipp_outdial.rs where the synthetic trunk has them: answered and
//! connected, machine, busy, invalid, no answer (CANCEL → 487), failure on the primary placed on
//! the secondary, and either side hanging up. Peers are killed on drop; every wait is bounded.

#[path = "common/dialler.rs"]
mod dialler;
mod engine_support;

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
