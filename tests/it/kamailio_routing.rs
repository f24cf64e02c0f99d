//! In-dialog routing through a real proxy: outdial's SIP driver, Kamailio (Debian's, started by
//! the test with tests/kamailio/proxy.cfg) and a SIPp trunk that answers. The proxy marks what it
//! relays (`X-Proxied`) and the SIPp scenarios check that mark on the ACK and the BYE, so a request
//! that took the wrong path fails the SIPp call; the proxy's log says how it routed them.
//! - Record-Routing proxy as the trunk's address: ACK and BYE go through it (route set, loose
//!   routing) — to the address it recorded, a second socket, not the configured one — addressed
//!   to the trunk's Contact (remote target).
//! - Record-Routing proxy as the trunk's `outbound_proxy`: the INVITE carries the preloaded Route,
//!   the dialog goes on through the proxy.
//! - A proxy that does not Record-Route in front of the trunk, whose Contact names another port
//!   than the one the INVITE went to: ACK and BYE go straight to that Contact.
//! - An unanswered call through the outbound proxy: the CANCEL follows the INVITE's path (the
//!   proxy matches it to its INVITE transaction) and the trunk's 487 comes back.
//!
//! Bounded: SIPp runs with `-timeout`, every wait has a limit, Kamailio is stopped on drop.

use crate::dialler;
use crate::kamailio;
use crate::sipp;

use std::net::SocketAddr;
use std::time::Duration;

use dialler::live_endpoint;
use kamailio::{Kamailio, Options};
use outdial::sip::{CallId, CallerId, EndedBy, Event, PlaceCall, SipHandle, SipOutcome, E164};
use sipp::{Builder, Sipp};
use tokio::sync::mpsc::Receiver;

const OFFER: &str = "v=0\r\no=outdial 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n";

fn available() -> bool {
    // Both checks run (and warn) even if the first fails.
    let s = sipp::available();
    let k = kamailio::available();
    s && k
}

/// A dialler with one trunk at `address` (and `extra` YAML keys) in group `g`.
async fn dialler(address: SocketAddr, extra: &str) -> (SipHandle, Receiver<Event>) {
    let y = format!(
        "trunks:\n  - {{ name: t, address: \"{address}\", max_channels: 2, max_cps: 2, \
         ping_interval: 0s{extra} }}\ngroups:\n  - {{ name: g, trunks: [t] }}\n"
    );
    live_endpoint(&y).await
}

/// The trunk: SIPp playing `scenario` for one call, bounded at 20 s.
fn trunk_for_one_call(scenario: &str) -> Sipp {
    Builder::new(scenario)
        .args(["-m", "1"])
        .timeout(Duration::from_secs(20))
        .spawn()
}

/// The trunk keys that send every request through `proxy`.
fn outbound_proxy(proxy: &Kamailio) -> String {
    format!(", outbound_proxy: \"{}\"", proxy.addr)
}

/// Asserts that `proxy`'s `log` shows the ACK and the BYE arriving along the route set it
/// recorded (on its dialog port), not sent straight to the trunk's address.
fn assert_in_dialog_via_route_set(log: &str, proxy: &Kamailio) {
    let on = proxy.dialog_addr.port();
    for method in ["ACK", "BYE"] {
        assert!(
            log.contains(&format!("in-dialog {method} via route set on port {on}")),
            "the {method} did not follow the recorded route:\n{log}"
        );
    }
}

/// The next event of `call`, skipping others and `Ringing`; fails after `secs` seconds.
async fn next_for(ev: &mut Receiver<Event>, call: CallId, secs: u64) -> Event {
    let wait = async {
        loop {
            let e = ev.recv().await.expect("driver alive");
            match &e {
                Event::Ringing { .. } => continue,
                Event::Answered { call: c, .. }
                | Event::Failed { call: c, .. }
                | Event::Ended { call: c, .. }
                    if *c == call =>
                {
                    return e
                }
                _ => continue,
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(secs), wait)
        .await
        .expect("event in time")
}

/// Places one call (early offer), waits for the answer, hangs up, and checks that both sides
/// ended it cleanly: outdial reports the end and forgets the dialog, SIPp counts one successful
/// call (its scenario checked the path of the ACK and the BYE).
async fn call_and_hang_up(d: &SipHandle, ev: &mut Receiver<Event>, trunk: &mut Sipp) {
    let call = d
        .place_call(PlaceCall {
            group: "g".into(),
            number: E164::new("+14155550100").expect("number"),
            caller_id: CallerId::new("+14155550000").expect("caller id"),
            headers: vec![],
            ring_timeout: Duration::from_secs(10),
            offer: Some(OFFER.into()),
        })
        .await
        .expect("driver")
        .expect("placed");
    let e = next_for(ev, call, 10).await;
    assert!(matches!(e, Event::Answered { .. }), "{e:?}");
    // Let the ACK land before the BYE (UDP: order is not guaranteed otherwise).
    tokio::time::sleep(Duration::from_millis(200)).await;
    d.hangup(call).await.expect("driver").expect("hangup");
    assert_eq!(
        next_for(ev, call, 5).await,
        Event::Ended {
            call,
            by: EndedBy::Local
        }
    );
    let r = trunk.wait(Duration::from_secs(10));
    assert_eq!(r.status, Some(0), "SIPp trunk:\n{}", r.screen);
    assert_eq!(r.successful, 1, "{}", r.screen);
    // The BYE transaction completed: nothing of the call is left.
    let mut open = usize::MAX;
    for _ in 0..50 {
        open = d.open_dialogs().await.expect("driver");
        if open == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(open, 0, "dialogs left open");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ack_and_bye_traverse_a_record_routing_proxy_to_the_trunks_contact() {
    if !available() {
        return;
    }
    let mut trunk = trunk_for_one_call("uas-via-proxy.xml");
    let mut proxy = Kamailio::start(Options {
        record_route: true,
        trunk: Some(trunk.addr),
    });
    let (d, mut ev) = dialler(proxy.addr, "").await;
    call_and_hang_up(&d, &mut ev, &mut trunk).await;
    let log = proxy.stop();
    assert_in_dialog_via_route_set(&log, &proxy);
    assert!(!log.contains("without our route"), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outbound_proxy_carries_the_invite_and_the_dialog() {
    if !available() {
        return;
    }
    let mut trunk = trunk_for_one_call("uas-via-proxy.xml");
    let mut proxy = Kamailio::start(Options {
        record_route: true,
        trunk: None,
    });
    let (d, mut ev) = dialler(trunk.addr, &outbound_proxy(&proxy)).await;
    call_and_hang_up(&d, &mut ev, &mut trunk).await;
    let log = proxy.stop();
    assert!(
        log.contains(&format!("routing INVITE sip:+14155550100@{}", trunk.addr)),
        "the INVITE went to the proxy, addressed to the trunk:\n{log}"
    );
    assert_in_dialog_via_route_set(&log, &proxy);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_record_route_ack_and_bye_go_straight_to_the_contact_on_another_port() {
    if !available() {
        return;
    }
    let mut trunk = trunk_for_one_call("uas-remote-target.xml");
    let mut proxy = Kamailio::start(Options {
        record_route: false,
        trunk: Some(trunk.addr),
    });
    // The configured trunk address is the proxy; the trunk's Contact names its own port.
    assert_ne!(proxy.addr.port(), trunk.addr.port());
    let (d, mut ev) = dialler(proxy.addr, "").await;
    call_and_hang_up(&d, &mut ev, &mut trunk).await;
    let log = proxy.stop();
    assert!(log.contains("routing INVITE"), "{log}");
    assert!(
        !log.contains("routing ACK") && !log.contains("routing BYE"),
        "in-dialog requests bypass a proxy that did not Record-Route:\n{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_follows_the_invite_through_the_outbound_proxy() {
    if !available() {
        return;
    }
    // Rings until CANCEL, then 200 to the CANCEL and 487 (with the INVITE's Vias) to the INVITE.
    let mut trunk = trunk_for_one_call("uas-noanswer-via-proxy.xml");
    let mut proxy = Kamailio::start(Options {
        record_route: true,
        trunk: None,
    });
    let (d, mut ev) = dialler(trunk.addr, &outbound_proxy(&proxy)).await;
    let call = d
        .place_call(PlaceCall {
            group: "g".into(),
            number: E164::new("+14155550100").expect("number"),
            caller_id: CallerId::new("+14155550000").expect("caller id"),
            headers: vec![],
            ring_timeout: Duration::from_millis(800),
            offer: None,
        })
        .await
        .expect("driver")
        .expect("placed");
    assert_eq!(
        next_for(&mut ev, call, 10).await,
        Event::Failed {
            call,
            code: Some(487),
            disposition: SipOutcome::NoAnswer
        }
    );
    let r = trunk.wait(Duration::from_secs(10));
    assert_eq!(r.status, Some(0), "SIPp trunk:\n{}", r.screen);
    assert_eq!(r.messages("CANCEL"), 1, "{}", r.screen);
    let log = proxy.stop();
    assert!(log.contains("routing CANCEL"), "{log}");
}
