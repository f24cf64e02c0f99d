//! outdial's SIP core against its own synthetic peers, run as the real binary: `outdial
//! trunk-sim` (outcome probabilities of 1.0 for the flow under test) and `outdial agent-sim`.
//! The same flows as tests/sipp_outdial.rs where the synthetic trunk has them: answered and
//! connected, machine, busy, invalid, no answer (CANCEL → 487), failure on the primary placed on
//! the secondary, and either side hanging up. Peers are killed on drop; every wait is bounded.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use outdial::sip::trunk::TrunkSet;
use outdial::sip::{
    spawn, CallId, CallerId, Disposition, EndedBy, EndpointConfig, Event, PlaceCall, SipHandle,
    SipUri, TrunksConfig, E164,
};
use tokio::sync::mpsc::UnboundedReceiver;

/// A running `outdial trunk-sim` / `agent-sim`, killed on drop.
struct Peer {
    child: Child,
    addr: SocketAddr,
    _scenario: TempFile,
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// A scenario whose trunk has these outcome probabilities; ring 3 s and talk `talk_s`.
fn scenario(tag: &str, o: Outcomes, talk_s: u32) -> TempFile {
    let trunk = format!(
        "  live_answer: {}\n  machine: {}\n  busy: {}\n  invalid: {}\n  failure: {}\n",
        o[0], o[1], o[2], o[3], o[4]
    );
    let path = std::env::temp_dir().join(format!("outdial-peer-{}-{tag}.yaml", std::process::id()));
    let text = format!(
        "name: {tag}\nseed: 5\nduration: 1h\nagents: 2\npatience: 2s\n\
         talk_time: {{dist: constant, mean: {talk_s}s}}\nwrap_time: {{dist: constant, mean: 1s}}\n\
         trunk:\n  channels: 10\n{trunk}  ring_time: {{dist: constant, mean: 3s}}\n  no_answer_timeout: 60s\n\
         inbound: {{rate_per_hour: 0, talk_time: {{dist: constant, mean: 60s}}}}\n\
         target_abandon: 0.03\nstrategies: [progressive]\n"
    );
    std::fs::write(&path, text).expect("write scenario");
    TempFile(path)
}

/// Starts `outdial <args> --listen 127.0.0.1:0 --scenario FILE --time-scale 10` and reads the
/// bound address from its first line.
fn start(cmd: &str, extra: &[&str], sc: TempFile) -> Peer {
    let mut child = Command::new(env!("CARGO_BIN_EXE_outdial"))
        .arg(cmd)
        .args([
            "--listen",
            "127.0.0.1:0",
            "--time-scale",
            "10",
            "--scenario",
        ])
        .arg(&sc.0)
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn outdial");
    let out = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(out).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("peer printed its address");
    let addr = line
        .trim()
        .rsplit("sip:")
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("no address in {line:?}"));
    Peer {
        child,
        addr,
        _scenario: sc,
    }
}

fn trunk_sim(tag: &str, outcomes: Outcomes, talk_s: u32) -> Peer {
    start("trunk-sim", &[], scenario(tag, outcomes, talk_s))
}

async fn dialler(trunks: &[SocketAddr]) -> (SipHandle, UnboundedReceiver<Event>) {
    let mut y = String::from("trunks:\n");
    for (i, a) in trunks.iter().enumerate() {
        y.push_str(&format!(
            "  - {{ name: t{i}, address: \"{a}\", max_channels: 5, max_cps: 5, ping_interval: 0s }}\n"
        ));
    }
    let names: Vec<String> = (0..trunks.len()).map(|i| format!("t{i}")).collect();
    y.push_str(&format!(
        "groups:\n  - {{ name: g, trunks: [{}] }}\n",
        names.join(", ")
    ));
    let set = TrunkSet::new(&TrunksConfig::from_yaml("t.yaml", &y).expect("yaml")).expect("set");
    let any: SocketAddr = ([127, 0, 0, 1], 0).into();
    let (h, ev, _task) = spawn(any, EndpointConfig::new(any), set)
        .await
        .expect("bind");
    (h, ev)
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
async fn next_for(ev: &mut UnboundedReceiver<Event>, call: CallId, secs: u64) -> Event {
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
    let agents = start(
        "agent-sim",
        &["--agents", "3", "--hold-until-bye"],
        scenario("agents-hold", LIVE, 20),
    );
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
    let agents = start(
        "agent-sim",
        &["--agents", "1"],
        scenario("agents-talk", LIVE, 10),
    );
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
    let agents = start(
        "agent-sim",
        &["--agents", "1"],
        scenario("agents-one", LIVE, 10),
    );
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
        ("busy", [0.0, 0.0, 1.0, 0.0, 0.0], 5, 486, Disposition::Busy),
        (
            "invalid",
            [0.0, 0.0, 0.0, 1.0, 0.0],
            5,
            404,
            Disposition::Invalid,
        ),
        // Nothing but no-answer: rings until our CANCEL after 1 s, then 487.
        ("noanswer", [0.0; 5], 1, 487, Disposition::NoAnswer),
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
