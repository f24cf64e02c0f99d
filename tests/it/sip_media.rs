//! The SIP side of anchored media against real SIPp peers on loopback (scenarios in
//! `tests/sipp_media/`): an early offer answered by a carrier (183 with SDP → `EarlyMedia`, the
//! 200's SDP in `Answered`, parsed to SIPp's media port), a 200 with only G.729 (ACK, then BYE
//! with `Reason: SIP;cause=488`, the call `Failed` with 488), `call_agent` to a phone that
//! refreshes the session with a re-INVITE (answered with outdial's SDP), and an inbound offer
//! with only G.729 (488 on an anchored trunk, the application asked on a `flow-i` one). Every
//! wait is bounded; SIPp runs with `-timeout` and is killed on drop.

use crate::dialler;
use crate::sipp;

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use dialler::{live_endpoint, trunk_group};
use outdial::media::io::Codec;
use outdial::media::sdp;
use outdial::sip::{
    AgentCall, AgentLeg, CallId, CallerId, EndedBy, Event, PlaceCall, SipOutcome, SipUri, E164,
};
use sipp::{Builder, Sipp};
use tokio::sync::mpsc::Receiver;

/// outdial's media address in these tests (no RTP flows: SIPp only signals).
const OUR_RTP_PORT: u16 = 40000;

fn our_offer() -> String {
    sdp::offer(IpAddr::from([127, 0, 0, 1]), OUR_RTP_PORT, 1, 1)
}

fn scenario(name: &str) -> String {
    format!("{}/tests/sipp_media/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// A one-call SIPp running `name` with its media port set to `media_port`.
fn sipp_peer(name: &str, media_port: u16) -> Sipp {
    Builder::new(&scenario(name))
        .args(["-m", "1", "-mp", &media_port.to_string()])
        .timeout(Duration::from_secs(20))
        .spawn()
}

fn early_offer_call() -> PlaceCall {
    PlaceCall {
        group: "g".into(),
        number: E164::new("+8613800138000").expect("valid number"),
        caller_id: CallerId::new("+864001234567").expect("valid caller id"),
        headers: vec![],
        ring_timeout: Duration::from_secs(5),
        offer: Some(our_offer()),
    }
}

fn call_of(e: &Event) -> Option<CallId> {
    match e {
        Event::Ringing { call }
        | Event::EarlyMedia { call, .. }
        | Event::Answered { call, .. }
        | Event::Failed { call, .. }
        | Event::Ended { call, .. } => Some(*call),
        _ => None,
    }
}

/// The next event of `call`, skipping others; fails the test after 15 s.
async fn next_for(ev: &mut Receiver<Event>, call: CallId) -> Event {
    let wait = async {
        loop {
            let e = ev.recv().await.expect("driver alive");
            if call_of(&e) == Some(call) {
                return e;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(15), wait)
        .await
        .expect("event in time")
}

/// Waits for a one-call SIPp to finish and checks it counted the call successful (its own
/// checks on what outdial sent passed).
fn assert_sipp_ok(s: &mut Sipp, what: &str) {
    let r = s.wait(Duration::from_secs(15));
    assert_eq!(r.status, Some(0), "{what} sipp failed:\n{}", r.screen);
    assert_eq!(r.successful, 1, "{what}:\n{}", r.screen);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn early_offer_gets_early_media_and_the_carriers_answer() {
    if !sipp::available() {
        return;
    }
    let media_port = sipp::free_udp_port();
    let mut carrier = sipp_peer("uas-early-offer.xml", media_port);
    let (d, mut ev) = live_endpoint(&trunk_group(&[carrier.addr], "")).await;
    let call = d
        .place_call(early_offer_call())
        .await
        .expect("driver")
        .expect("placed");
    assert_eq!(next_for(&mut ev, call).await, Event::Ringing { call });
    let Event::EarlyMedia { sdp: early, .. } = next_for(&mut ev, call).await else {
        panic!("no early media")
    };
    let early = sdp::negotiate_answer(&early).expect("early answer servable");
    assert_eq!(early.addr.port(), media_port);
    let Event::Answered { offer, .. } = next_for(&mut ev, call).await else {
        panic!("not answered")
    };
    let remote = sdp::negotiate_answer(&offer.expect("the 200's SDP")).expect("servable");
    assert_eq!(
        remote.addr,
        SocketAddr::from(([127, 0, 0, 1], media_port)),
        "SIPp's media address"
    );
    assert_eq!((remote.codec, remote.dtmf_pt), (Codec::Pcmu, Some(101)));
    d.hangup(call).await.expect("driver").expect("hangup");
    assert_eq!(
        next_for(&mut ev, call).await,
        Event::Ended {
            call,
            by: EndedBy::Local
        }
    );
    assert_sipp_ok(&mut carrier, "carrier");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answer_with_only_g729_is_acked_then_ended_with_reason_488() {
    if !sipp::available() {
        return;
    }
    let mut carrier = sipp_peer("uas-g729-only.xml", sipp::free_udp_port());
    let (d, mut ev) = live_endpoint(&trunk_group(&[carrier.addr], "")).await;
    let call = d
        .place_call(early_offer_call())
        .await
        .expect("driver")
        .expect("placed");
    assert_eq!(
        next_for(&mut ev, call).await,
        Event::Failed {
            call,
            code: Some(488),
            disposition: SipOutcome::Rejected
        }
    );
    // The scenario checks the ACK and the BYE's `Reason: SIP;cause=488`.
    assert_sipp_ok(&mut carrier, "carrier");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn call_agent_reaches_the_phone_and_answers_its_refresh_with_our_sdp() {
    if !sipp::available() {
        return;
    }
    let media_port = sipp::free_udp_port();
    let mut phone = sipp_peer("uas-agent-refresh.xml", media_port);
    // No trunk leads to the phone: call_agent needs none.
    let (d, mut ev) =
        live_endpoint(&trunk_group(&["127.0.0.1:9".parse().expect("addr")], "")).await;
    let uri = SipUri::parse(&format!("sip:agent0001@{}", phone.addr)).expect("uri");
    let call = d
        .call_agent(AgentCall {
            uri,
            offer: our_offer(),
            shown: AgentLeg::default(),
            ring_timeout: Duration::from_secs(5),
        })
        .await
        .expect("driver")
        .expect("called");
    assert_eq!(next_for(&mut ev, call).await, Event::Ringing { call });
    let Event::Answered { offer, .. } = next_for(&mut ev, call).await else {
        panic!("not answered")
    };
    let remote = sdp::negotiate_answer(&offer.expect("the 200's SDP")).expect("servable");
    assert_eq!(remote.addr.port(), media_port);
    // The phone's re-INVITE comes 300 ms after the ACK; give it time to be answered.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    d.hangup(call).await.expect("driver").expect("hangup");
    assert_eq!(
        next_for(&mut ev, call).await,
        Event::Ended {
            call,
            by: EndedBy::Local
        }
    );
    assert_sipp_ok(&mut phone, "agent phone");
}

/// Runs the G.729-only inbound caller against an endpoint whose trunk (SIPp's address) has
/// `extra` keys; returns whether the application heard of the call.
async fn inbound_g729(extra: &str) -> bool {
    let port = sipp::free_udp_port();
    let source: SocketAddr = ([127, 0, 0, 1], port).into();
    let (d, mut ev) = live_endpoint(&trunk_group(&[source], extra)).await;
    let mut caller = Builder::new(&scenario("uac-g729-only.xml"))
        .args(["-m", "1", "-s", "4008001234"])
        .remote(d.local_addr())
        .timeout(Duration::from_secs(15))
        .spawn();
    let heard = tokio::time::timeout(Duration::from_secs(3), async {
        loop {
            if let Some(Event::InboundCall { call, .. }) = ev.recv().await {
                return Some(call);
            }
        }
    })
    .await
    .ok()
    .flatten();
    if let Some(call) = heard {
        d.reject(call, 488).await.expect("driver").expect("reject");
    }
    assert_sipp_ok(&mut caller, "caller");
    heard.is_some()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inbound_offer_with_only_g729_gets_488_on_an_anchored_trunk() {
    if !sipp::available() {
        return;
    }
    assert!(!inbound_g729("").await, "refused before the application");
    assert!(
        inbound_g729(", media: flow-i").await,
        "flow I relays whatever is offered: the application decides"
    );
}
