//! In-dialog routing (RFC 3261 §12, §16.12) of the sans-IO endpoint: requests inside a dialog
//! go where the dialog says — the route set recorded by proxies (reversed as UAC), the remote
//! target from the 2xx Contact — not to the configured trunk address; strict routers, target
//! refresh by re-INVITE, and a per-trunk outbound proxy. The test plays trunk and proxies by hand
//! (tests/common/uac.rs) so it decides every Record-Route and Contact.

use crate::uac;

use std::time::Duration;

use outdial::sip::{Event, SipUri};
use uac::{addr, one_trunk, request_from_peer, response, Sent, Uac, OFFER};

const TRUNK: &str = "127.0.0.1:5001";

/// `invite`'s far end answers it from `port`: 200 with `tag`, `headers` and an SDP answer.
fn answer(u: &mut Uac, port: u16, invite: &Sent, tag: &str, headers: &[&str]) {
    u.receive(
        addr(port),
        &response(invite, 200, tag, headers, Some(OFFER)),
    );
}

#[test]
fn ack_and_bye_follow_the_record_route_to_the_remote_target() {
    let mut u = Uac::new(&one_trunk(""));
    let call = u.place(Some(OFFER));
    let invite = u.only("INVITE");
    assert_eq!(invite.dest.to_string(), TRUNK);
    // Two proxies recorded themselves: 5072 next to the trunk (top), 5071 next to us.
    let ok = response(
        &invite,
        200,
        "uas1",
        &[
            "Record-Route: <sip:127.0.0.1:5072;lr;ftag=x>",
            "Record-Route: <sip:127.0.0.1:5071;lr>",
            "Contact: <sip:trunk@127.0.0.1:5099>",
        ],
        Some(OFFER),
    );
    u.receive(addr(5071), &ok);
    let ack = u.only("ACK");
    assert_eq!(
        ack.dest,
        addr(5071),
        "ACK to the first route, not the trunk"
    );
    assert_eq!(ack.start_line(), "ACK sip:trunk@127.0.0.1:5099 SIP/2.0");
    assert_eq!(
        ack.headers("Route"),
        ["<sip:127.0.0.1:5071;lr>", "<sip:127.0.0.1:5072;lr;ftag=x>"],
        "route set is the Record-Route reversed"
    );
    assert!(matches!(&u.events()[..], [Event::Answered { .. }]));
    // A retransmitted 200 is re-ACKed along the same path.
    u.receive(addr(5071), &ok);
    assert_eq!(u.only("ACK").dest, addr(5071));
    u.ep.hangup(u.now, call).expect("hangup");
    let bye = u.only("BYE");
    assert_eq!(bye.dest, addr(5071));
    assert_eq!(bye.start_line(), "BYE sip:trunk@127.0.0.1:5099 SIP/2.0");
    assert_eq!(bye.headers("Route").len(), 2);
    u.receive(addr(5071), &response(&bye, 200, "uas1", &[], None));
    assert_eq!(u.ep.open_dialogs(), 0, "BYE transaction completed");
}

#[test]
fn without_record_route_in_dialog_requests_go_to_the_contact() {
    let mut u = Uac::new(&one_trunk(""));
    let call = u.place(Some(OFFER));
    let invite = u.only("INVITE");
    answer(
        &mut u,
        5001,
        &invite,
        "uas1",
        &["Contact: <sip:trunk@127.0.0.1:5099;transport=udp>"],
    );
    let ack = u.only("ACK");
    assert_eq!(ack.dest, addr(5099), "remote target honoured");
    assert_eq!(
        ack.start_line(),
        "ACK sip:trunk@127.0.0.1:5099;transport=udp SIP/2.0"
    );
    assert!(ack.headers("Route").is_empty());
    u.ep.hangup(u.now, call).expect("hangup");
    assert_eq!(u.only("BYE").dest, addr(5099));
}

#[test]
fn a_strict_router_gets_its_uri_as_request_uri_and_the_target_as_last_route() {
    let mut u = Uac::new(&one_trunk(""));
    let call = u.place(Some(OFFER));
    let invite = u.only("INVITE");
    answer(
        &mut u,
        5071,
        &invite,
        "uas1",
        &[
            "Record-Route: <sip:127.0.0.1:5072;lr>",
            "Record-Route: <sip:127.0.0.1:5071;maddr=127.0.0.1>",
            "Contact: <sip:trunk@127.0.0.1:5099>",
        ],
    );
    let ack = u.only("ACK");
    assert_eq!(ack.dest, addr(5071));
    assert_eq!(
        ack.start_line(),
        "ACK sip:127.0.0.1:5071;maddr=127.0.0.1 SIP/2.0"
    );
    assert_eq!(
        ack.headers("Route"),
        ["<sip:127.0.0.1:5072;lr>", "<sip:trunk@127.0.0.1:5099>"]
    );
    u.ep.hangup(u.now, call).expect("hangup");
    let bye = u.only("BYE");
    assert_eq!(bye.dest, addr(5071));
    assert!(bye.start_line().starts_with("BYE sip:127.0.0.1:5071"));
}

#[test]
fn a_reinvite_refreshes_the_remote_target() {
    let mut u = Uac::new(&one_trunk(""));
    let call = u.place(Some(OFFER));
    let invite = u.only("INVITE");
    answer(
        &mut u,
        5001,
        &invite,
        "uas1",
        &["Contact: <sip:trunk@127.0.0.1:5001>"],
    );
    assert_eq!(u.only("ACK").dest, addr(5001));
    // The far end moved (e.g. a transfer inside the carrier): its re-INVITE names a new Contact.
    let reinvite = request_from_peer(
        &invite,
        "INVITE",
        "uas1",
        2,
        &["Contact: <sip:moved@127.0.0.1:5098>"],
        Some(OFFER),
    );
    u.receive(addr(5001), &reinvite);
    assert!(u.only("SIP/2.0 200").start_line().contains("200"));
    u.ep.hangup(u.now, call).expect("hangup");
    let bye = u.only("BYE");
    assert_eq!(bye.dest, addr(5098));
    assert_eq!(bye.start_line(), "BYE sip:moved@127.0.0.1:5098 SIP/2.0");
}

#[test]
fn an_outbound_proxy_gets_the_invite_its_cancel_and_every_in_dialog_request() {
    let mut u = Uac::new(&one_trunk("    outbound_proxy: 127.0.0.1:5070\n"));
    // 1. Ringing, then cancelled: INVITE and CANCEL both to the proxy with the preloaded Route.
    let call = u.place(None);
    let invite = u.only("INVITE");
    assert_eq!(invite.dest, addr(5070));
    assert_eq!(
        invite.start_line(),
        "INVITE sip:+14155550100@127.0.0.1:5001;user=phone SIP/2.0",
        "the Request-URI still names the trunk"
    );
    assert_eq!(invite.headers("Route"), ["<sip:127.0.0.1:5070;lr>"]);
    u.receive(addr(5070), &response(&invite, 180, "uas1", &[], None));
    u.ep.hangup(u.now, call).expect("hangup");
    let cancel = u.only("CANCEL");
    assert_eq!(cancel.dest, addr(5070));
    assert_eq!(cancel.headers("Route"), ["<sip:127.0.0.1:5070;lr>"]);
    u.receive(addr(5070), &response(&cancel, 200, "uas1", &[], None));
    u.receive(addr(5070), &response(&invite, 487, "uas1", &[], None));
    let ack = u.only("ACK");
    assert_eq!(ack.dest, addr(5070), "non-2xx ACK on the INVITE's path");
    assert_eq!(ack.headers("Route"), ["<sip:127.0.0.1:5070;lr>"]);

    // 2. Answered by a trunk whose Contact is elsewhere, the proxy recording no route: the SBC
    // still sees the ACK and BYE, addressed to the remote target.
    let call = u.place(Some(OFFER));
    let invite = u.only("INVITE");
    answer(
        &mut u,
        5070,
        &invite,
        "uas2",
        &["Contact: <sip:trunk@127.0.0.1:5099>"],
    );
    let ack = u.only("ACK");
    assert_eq!(ack.dest, addr(5070));
    assert_eq!(ack.start_line(), "ACK sip:trunk@127.0.0.1:5099 SIP/2.0");
    assert_eq!(ack.headers("Route"), ["<sip:127.0.0.1:5070;lr>"]);
    u.ep.hangup(u.now, call).expect("hangup");
    assert_eq!(u.only("BYE").dest, addr(5070));
}

#[test]
fn the_held_flow_i_ack_and_the_agent_leg_follow_their_own_dialogs() {
    let mut u = Uac::new(&one_trunk(""));
    let call = u.place(None);
    let invite = u.only("INVITE");
    answer(
        &mut u,
        5071,
        &invite,
        "uas1",
        &[
            "Record-Route: <sip:127.0.0.1:5071;lr>",
            "Contact: <sip:trunk@127.0.0.1:5099>",
        ],
    );
    assert!(u.sent().is_empty(), "ACK held until the agent answers");
    let agent = SipUri::parse("sip:agent0001@127.0.0.1:5080").expect("uri");
    u.ep.connect(u.now, call, agent).expect("connect");
    let ainv = u.only("INVITE");
    assert_eq!(ainv.dest, addr(5080));
    // The agent's phone answers from another port than the one it was called on.
    answer(
        &mut u,
        5080,
        &ainv,
        "ag1",
        &["Contact: <sip:agent0001@127.0.0.1:5081>"],
    );
    let acks = u.sent();
    let to = |port| acks.iter().find(|s| s.dest == addr(port)).cloned();
    let agent_ack = to(5081).expect("agent ACK to its Contact");
    assert!(agent_ack
        .text
        .starts_with("ACK sip:agent0001@127.0.0.1:5081"));
    let cust_ack = to(5071).expect("customer ACK via the proxy");
    assert!(cust_ack.text.starts_with("ACK sip:trunk@127.0.0.1:5099"));
    assert_eq!(acks.len(), 2, "{acks:#?}");
    // The customer hangs up through the proxy; the agent's BYE goes to its Contact.
    let bye = request_from_peer(&invite, "BYE", "uas1", 3, &[], None);
    u.receive(addr(5071), &bye);
    let sent = u.sent();
    assert!(
        sent.iter()
            .any(|s| s.text.starts_with("BYE sip:agent0001@127.0.0.1:5081") && s.dest == addr(5081)),
        "{sent:#?}"
    );
    u.advance(Duration::from_millis(1));
}

#[test]
fn an_inbound_call_is_released_along_its_record_route_in_order() {
    let mut u = Uac::new(&one_trunk(""));
    // A caller behind two proxies: 5071 next to us (top), then 5072; its Contact at 5097. The
    // first proxy sent the INVITE from another socket (5070) than the one it recorded.
    let invite = "INVITE sip:+6560885500@127.0.0.1:5000 SIP/2.0\r\n\
        Via: SIP/2.0/UDP 127.0.0.1:5071;branch=z9hG4bKp1\r\n\
        Via: SIP/2.0/UDP 127.0.0.1:5072;branch=z9hG4bKp2\r\n\
        Via: SIP/2.0/UDP 127.0.0.1:5097;branch=z9hG4bKc1\r\n\
        Record-Route: <sip:127.0.0.1:5071;lr>, <sip:127.0.0.1:5072;lr>\r\n\
        From: <sip:+6591234567@127.0.0.1>;tag=caller\r\n\
        To: <sip:+6560885500@127.0.0.1>\r\n\
        Call-ID: inbound-1@127.0.0.1\r\n\
        CSeq: 1 INVITE\r\n\
        Contact: <sip:caller@127.0.0.1:5097>\r\n\
        Content-Type: application/sdp\r\n";
    let text = format!("{invite}Content-Length: {}\r\n\r\n{OFFER}", OFFER.len());
    u.receive(addr(5070), &text);
    let call = u
        .events()
        .into_iter()
        .find_map(|e| match e {
            Event::InboundCall { call, .. } => Some(call),
            _ => None,
        })
        .expect("inbound call");
    u.ep.answer(u.now, call, Some(OFFER.into()), &[])
        .expect("answer");
    let ok = u.only("SIP/2.0 200");
    assert_eq!(ok.dest, addr(5070), "responses go back to the source");
    let ack = "ACK sip:outdial@127.0.0.1:5000 SIP/2.0\r\n\
        Via: SIP/2.0/UDP 127.0.0.1:5071;branch=z9hG4bKp3\r\n\
        From: <sip:+6591234567@127.0.0.1>;tag=caller\r\n";
    let to = ok.header("To").expect("To");
    u.receive(
        addr(5070),
        &format!(
            "{ack}To: {to}\r\nCall-ID: inbound-1@127.0.0.1\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n"
        ),
    );
    u.ep.hangup(u.now, call).expect("hangup");
    let bye = u.only("BYE");
    assert_eq!(bye.dest, addr(5071));
    assert_eq!(bye.start_line(), "BYE sip:caller@127.0.0.1:5097 SIP/2.0");
    assert_eq!(
        bye.headers("Route"),
        ["<sip:127.0.0.1:5071;lr>", "<sip:127.0.0.1:5072;lr>"],
        "as UAS the route set keeps the Record-Route order"
    );
}
