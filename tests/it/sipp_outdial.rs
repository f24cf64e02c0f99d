//! outdial's SIP core against real SIPp peers on loopback (scenarios from `sim/sipp/`): answered
//! and connected to a SIPp agent, busy, invalid, no answer (CANCEL → 487), 503 failover to the
//! secondary trunk, a lost first INVITE, a digest challenge, and a 200 crossing the CANCEL.
//! Ring timeouts are short here (the 15 s minimum is a campaign rule, not a SIP one). Every wait
//! is bounded; SIPp is started with `-timeout` and killed on drop.

use crate::dialler;
use crate::sipp;

use std::net::SocketAddr;
use std::time::Duration;

use dialler::{live_endpoint, trunk_group};
use outdial::sip::{
    CallId, CallerId, EndedBy, Event, PlaceCall, SipHandle, SipOutcome, SipUri, E164,
};
use sipp::{Builder, Sipp};
use tokio::sync::mpsc::Receiver;

/// A dialler whose group `g` holds `trunks` in order (`creds` on every trunk when given).
async fn dialler(trunks: &[SocketAddr], creds: bool) -> (SipHandle, Receiver<Event>) {
    let c = if creds {
        ", credentials: { username: outdial, password: secret }"
    } else {
        ""
    };
    live_endpoint(&trunk_group(trunks, c)).await
}

fn call_to(ring_timeout: Duration) -> PlaceCall {
    PlaceCall {
        group: "g".into(),
        number: E164::new("+8613800138000").expect("valid number"),
        caller_id: CallerId::new("+864001234567").expect("valid caller id"),
        headers: vec![],
        ring_timeout,
        offer: None,
    }
}

/// The next event of `call`, skipping others; fails the test after `secs` seconds.
async fn next_for(ev: &mut Receiver<Event>, call: CallId, secs: u64) -> Event {
    let wait = async {
        loop {
            let e = ev.recv().await.expect("driver alive");
            let of = match &e {
                Event::Ringing { call }
                | Event::Answered { call, .. }
                | Event::Failed { call, .. }
                | Event::Connected { call, .. }
                | Event::ConnectFailed { call, .. }
                | Event::Abandoned { call, .. }
                | Event::Ended { call, .. } => Some(*call),
                _ => None,
            };
            if of == Some(call) {
                return e;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(secs), wait)
        .await
        .expect("event in time")
}

/// Skips `Ringing` and returns the outcome of the attempt (Answered or Failed).
async fn outcome(ev: &mut Receiver<Event>, call: CallId) -> Event {
    loop {
        match next_for(ev, call, 20).await {
            Event::Ringing { .. } => continue,
            e => return e,
        }
    }
}

/// Waits for a one-call SIPp (`-m 1`) to finish and checks it counted the call successful.
fn assert_sipp_ok(s: &mut Sipp, what: &str) -> sipp::Report {
    let r = s.wait(Duration::from_secs(15));
    assert_eq!(
        r.status,
        Some(0),
        "{what} sipp did not succeed:\n{}",
        r.screen
    );
    assert_eq!(r.successful, 1, "{what}:\n{}", r.screen);
    r
}

async fn failed_with(uas: &str, code: u16, disposition: SipOutcome, ring: Duration) {
    let mut peer = Builder::new(uas).args(["-m", "1"]).spawn();
    let (d, mut ev) = dialler(&[peer.addr], false).await;
    let call = d.place_call(call_to(ring)).await.unwrap().expect("placed");
    let e = outcome(&mut ev, call).await;
    assert_eq!(
        e,
        Event::Failed {
            call,
            code: Some(code),
            disposition
        },
        "{uas}"
    );
    assert_sipp_ok(&mut peer, uas);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answered_call_is_connected_to_a_sipp_agent_and_the_customer_bye_reaches_it() {
    if !sipp::available() {
        return;
    }
    // uas-answer.xml: answers after 200 ms with an SDP offer, hangs up 2 s after the ACK.
    let mut customer = Builder::new("uas-answer.xml").args(["-m", "1"]).spawn();
    // agent.xml at scale 1 talks for minutes: the call can only end by our BYE.
    let mut agent = Builder::new("agent.xml").args(["-m", "1"]).spawn();
    let (d, mut ev) = dialler(&[customer.addr], false).await;
    let call = d
        .place_call(call_to(Duration::from_secs(5)))
        .await
        .unwrap()
        .expect("placed");
    let Event::Answered { machine, offer, .. } = outcome(&mut ev, call).await else {
        panic!("not answered")
    };
    assert!(!machine);
    assert!(
        offer.is_some_and(|o| o.contains("m=audio")),
        "flow I: offer in the 200"
    );
    let uri = SipUri::parse(&format!("sip:agent0001@{}", agent.addr)).expect("uri");
    d.connect(call, uri.clone())
        .await
        .unwrap()
        .expect("connect");
    let Event::Connected {
        agent: a,
        answer_to_connect,
        ..
    } = next_for(&mut ev, call, 10).await
    else {
        panic!("not connected")
    };
    assert_eq!(a, uri);
    assert!(
        answer_to_connect < Duration::from_secs(2),
        "{answer_to_connect:?}"
    );
    assert_eq!(
        next_for(&mut ev, call, 10).await,
        Event::Ended {
            call,
            by: EndedBy::Customer
        }
    );
    assert_sipp_ok(&mut customer, "customer");
    // The agent's call ended (successfully) well before its own talk time: our BYE reached it.
    let r = assert_sipp_ok(&mut agent, "agent");
    assert!(r.messages("BYE") >= 1, "{}", r.screen);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn busy_is_reported_busy() {
    if !sipp::available() {
        return;
    }
    failed_with(
        "uas-busy.xml",
        486,
        SipOutcome::Busy,
        Duration::from_secs(5),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_found_is_reported_invalid() {
    if !sipp::available() {
        return;
    }
    failed_with(
        "uas-invalid.xml",
        404,
        SipOutcome::Invalid,
        Duration::from_secs(5),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_answer_is_cancelled_after_the_ring_timeout_and_487_is_acked() {
    if !sipp::available() {
        return;
    }
    let start = std::time::Instant::now();
    failed_with(
        "uas-noanswer.xml",
        487,
        SipOutcome::NoAnswer,
        Duration::from_secs(1),
    )
    .await;
    assert!(start.elapsed() >= Duration::from_secs(1), "cancelled early");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_503_on_the_primary_is_placed_on_the_secondary() {
    if !sipp::available() {
        return;
    }
    let mut primary = Builder::new("uas-503.xml").args(["-m", "1"]).spawn();
    let mut secondary = Builder::new("uas-answer.xml").args(["-m", "1"]).spawn();
    let (d, mut ev) = dialler(&[primary.addr, secondary.addr], false).await;
    let call = d
        .place_call(call_to(Duration::from_secs(5)))
        .await
        .unwrap()
        .expect("placed");
    assert!(matches!(
        outcome(&mut ev, call).await,
        Event::Answered { .. }
    ));
    d.hangup(call).await.unwrap().expect("hangup");
    assert!(matches!(
        next_for(&mut ev, call, 10).await,
        Event::Ended { .. }
    ));
    let p = assert_sipp_ok(&mut primary, "primary");
    assert_eq!(p.messages("503"), 1, "{}", p.screen);
    assert_sipp_ok(&mut secondary, "secondary");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_first_invite_is_recovered_by_retransmission() {
    if !sipp::available() {
        return;
    }
    let mut peer = Builder::new("uas-ignore-first-invite.xml")
        .args(["-m", "1"])
        .spawn();
    let (d, mut ev) = dialler(&[peer.addr], false).await;
    let call = d
        .place_call(call_to(Duration::from_secs(5)))
        .await
        .unwrap()
        .expect("placed");
    assert!(matches!(
        outcome(&mut ev, call).await,
        Event::Answered { .. }
    ));
    let stats = d.stats().await.expect("stats");
    assert!(stats.retransmissions >= 1, "{stats:?}");
    d.hangup(call).await.unwrap().expect("hangup");
    let r = assert_sipp_ok(&mut peer, "uas");
    assert!(
        r.retrans("INVITE") >= 1,
        "sipp saw no retransmission:\n{}",
        r.screen
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_digest_challenge_is_answered_with_the_trunk_credentials() {
    if !sipp::available() {
        return;
    }
    let mut peer = Builder::new("uas-digest.xml").args(["-m", "1"]).spawn();
    let (d, mut ev) = dialler(&[peer.addr], true).await;
    let call = d
        .place_call(call_to(Duration::from_secs(5)))
        .await
        .unwrap()
        .expect("placed");
    assert!(
        matches!(outcome(&mut ev, call).await, Event::Answered { .. }),
        "challenge not answered (403?)"
    );
    d.hangup(call).await.unwrap().expect("hangup");
    let r = assert_sipp_ok(&mut peer, "uas");
    assert_eq!(r.messages("403"), 0, "{}", r.screen);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_200_crossing_the_cancel_is_acked_and_ended_with_bye() {
    if !sipp::available() {
        return;
    }
    let mut peer = Builder::new("uas-200-crossing-cancel.xml")
        .args(["-m", "1"])
        .spawn();
    let (d, mut ev) = dialler(&[peer.addr], false).await;
    let call = d
        .place_call(call_to(Duration::from_secs(1)))
        .await
        .unwrap()
        .expect("placed");
    let e = outcome(&mut ev, call).await;
    assert!(
        matches!(
            e,
            Event::Failed {
                disposition: SipOutcome::NoAnswer,
                ..
            }
        ),
        "{e:?}"
    );
    // SIPp's scenario only succeeds once it got the ACK for its 200 and then our BYE.
    assert_sipp_ok(&mut peer, "uas");
}
