//! Crash recovery at the SIP layer, sans-IO: a 2xx to an INVITE the endpoint has no transaction
//! for (sent by an earlier run, before a restart) is ACKed and ended with BYE at once, its
//! retransmissions ACKed again; a response carrying an earlier run's branch never matches a new
//! transaction that happens to reuse its number; and a dialog snapshot taken while a call was up
//! lets a fresh endpoint end the leg with a BYE the far end accepts (same Call-ID, tags, CSeq
//! above the INVITE's, Request-URI = remote target, Route = route set).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use outdial::sip::endpoint::DialogSnapshot;
use outdial::sip::trunk::TrunkSet;
use outdial::sip::{
    CallId, CallerId, Endpoint, EndpointConfig, Event, ExtraHeader, PlaceCall, Transport,
    TrunksConfig, E164,
};

const OFFER: &str = "v=0\r\no=c 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n";

fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

const TRUNK: u16 = 5070;

fn endpoint(seed: u64, now: Instant) -> Endpoint {
    let y = format!(
        "trunks:\n  - name: t1\n    address: 127.0.0.1:{TRUNK}\n    max_channels: 10\n    \
         max_cps: 10\n    ping_interval: 0s\ngroups:\n  - name: g\n    trunks: [t1]\n"
    );
    let trunks = TrunkSet::new(&TrunksConfig::from_yaml("t.yaml", &y).unwrap()).unwrap();
    let mut cfg = EndpointConfig::new(addr(5060));
    cfg.seed = seed;
    Endpoint::new(cfg, trunks, now)
}

fn place(ep: &mut Endpoint, now: Instant) -> CallId {
    ep.place_call(
        now,
        PlaceCall {
            group: "g".into(),
            number: E164::new("+14155550100").unwrap(),
            caller_id: CallerId::new("+14155550000").unwrap(),
            headers: vec![ExtraHeader::lead("L1").unwrap()],
            ring_timeout: Duration::from_secs(30),
            offer: None,
        },
    )
    .unwrap()
}

/// Every message the endpoint sends now, as text.
fn sent(ep: &mut Endpoint) -> Vec<(SocketAddr, String)> {
    std::iter::from_fn(|| ep.poll_transmit())
        .map(|t| (t.dest, String::from_utf8_lossy(&t.payload).into_owned()))
        .collect()
}

fn events(ep: &mut Endpoint) -> Vec<Event> {
    std::iter::from_fn(|| ep.poll_event()).collect()
}

/// The value of header `name` in message `text` (first occurrence).
fn header<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    text.lines().find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

fn headers<'a>(text: &'a str, name: &str) -> Vec<&'a str> {
    text.lines()
        .filter_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
        .collect()
}

/// The trunk's 200 OK to `invite`, with a To tag, a Contact, two Record-Routes and an SDP offer.
fn ok_to(invite: &str) -> String {
    format!(
        "SIP/2.0 200 OK\r\nVia: {}\r\nFrom: {}\r\nTo: {};tag=trunk-tag\r\nCall-ID: {}\r\n\
         CSeq: {}\r\nContact: <sip:callee@127.0.0.1:{TRUNK}>\r\n\
         Record-Route: <sip:p2.example;lr>\r\nRecord-Route: <sip:p1.example;lr>\r\n\
         Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{OFFER}",
        header(invite, "Via").unwrap(),
        header(invite, "From").unwrap(),
        header(invite, "To").unwrap(),
        header(invite, "Call-ID").unwrap(),
        header(invite, "CSeq").unwrap(),
        OFFER.len()
    )
}

fn ok_to_request(req: &str) -> String {
    format!(
        "SIP/2.0 200 OK\r\nVia: {}\r\nFrom: {}\r\nTo: {}\r\nCall-ID: {}\r\nCSeq: {}\r\n\
         Content-Length: 0\r\n\r\n",
        header(req, "Via").unwrap(),
        header(req, "From").unwrap(),
        header(req, "To").unwrap(),
        header(req, "Call-ID").unwrap(),
        header(req, "CSeq").unwrap(),
    )
}

/// A 200 OK the trunk retransmits for an INVITE sent by a run that no longer exists.
fn orphan_ok(branch: &str) -> String {
    format!(
        "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch={branch};rport\r\n\
         From: <sip:+14155550000@127.0.0.1>;tag=old-run\r\n\
         To: <sip:+14155550199@127.0.0.1>;tag=callee\r\nCall-ID: orphan-1@127.0.0.1\r\n\
         CSeq: 1 INVITE\r\nContact: <sip:callee@127.0.0.1:{TRUNK}>\r\n\
         Record-Route: <sip:p2.example;lr>\r\nRecord-Route: <sip:p1.example;lr>\r\n\
         Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{OFFER}",
        OFFER.len()
    )
}

fn request_line(text: &str) -> &str {
    text.lines().next().unwrap_or("")
}

#[test]
fn a_2xx_for_an_unknown_dialog_is_acked_and_ended_at_once() {
    let now = Instant::now();
    let mut ep = endpoint(1, now);
    let ok = orphan_ok("z9hG4bK7.0badcafe");
    ep.handle_datagram(now, addr(TRUNK), Transport::Udp, ok.as_bytes());
    let out = sent(&mut ep);
    assert_eq!(out.len(), 2, "an ACK and a BYE: {out:#?}");
    let (ack, bye) = (&out[0].1, &out[1].1);
    for (dest, m) in &out {
        assert_eq!(*dest, addr(TRUNK));
        assert_eq!(header(m, "Call-ID"), Some("orphan-1@127.0.0.1"));
        assert_eq!(
            header(m, "From"),
            Some("<sip:+14155550000@127.0.0.1>;tag=old-run")
        );
        assert_eq!(
            header(m, "To"),
            Some("<sip:+14155550199@127.0.0.1>;tag=callee")
        );
        // Remote target and route set of the dialog the 200 formed.
        assert!(request_line(m).contains(&format!("sip:callee@127.0.0.1:{TRUNK}")));
        assert_eq!(
            headers(m, "Route"),
            vec!["<sip:p1.example;lr>", "<sip:p2.example;lr>"]
        );
    }
    assert!(request_line(ack).starts_with("ACK "));
    assert_eq!(header(ack, "CSeq"), Some("1 ACK"));
    // The 200 carried an offer (flow I): the ACK answers it, declining the stream.
    assert!(ack.contains("m=audio 0 RTP/AVP 0"), "{ack}");
    assert!(request_line(bye).starts_with("BYE "));
    assert_eq!(header(bye, "CSeq"), Some("2 BYE"));

    // The trunk retransmits its 200 (our ACK was lost): ACKed again, no second BYE.
    let later = now + Duration::from_millis(500);
    ep.handle_datagram(later, addr(TRUNK), Transport::Udp, ok.as_bytes());
    let again = sent(&mut ep);
    assert_eq!(again.len(), 1, "{again:#?}");
    assert!(request_line(&again[0].1).starts_with("ACK "));
    assert_eq!(header(&again[0].1, "CSeq"), Some("1 ACK"));

    // The BYE is answered: the leg is gone.
    ep.handle_datagram(
        later,
        addr(TRUNK),
        Transport::Udp,
        ok_to_request(bye).as_bytes(),
    );
    assert!(events(&mut ep)
        .iter()
        .any(|e| matches!(e, Event::Released { .. })));
    assert_eq!(ep.open_dialogs(), 0);
}

#[test]
fn an_earlier_runs_branch_never_matches_a_new_transaction() {
    let now = Instant::now();
    let mut ep = endpoint(1, now);
    let call = place(&mut ep, now);
    let invite = sent(&mut ep).remove(0).1;
    let branch = header(&invite, "Via")
        .and_then(|v| v.split(";branch=").nth(1))
        .and_then(|b| b.split(';').next())
        .unwrap()
        .to_string();
    // Same transaction number, another run's salt.
    let (id, _) = branch.rsplit_once('.').unwrap();
    let foreign = format!("{id}.1");
    assert_ne!(foreign, branch);
    ep.handle_datagram(
        now,
        addr(TRUNK),
        Transport::Udp,
        orphan_ok(&foreign).as_bytes(),
    );
    assert!(
        !events(&mut ep)
            .iter()
            .any(|e| matches!(e, Event::Answered { call: c, .. } if *c == call)),
        "the new call was taken as answered by another run's 200"
    );
    let out = sent(&mut ep);
    assert!(out
        .iter()
        .any(|(_, m)| header(m, "Call-ID") == Some("orphan-1@127.0.0.1")
            && request_line(m).starts_with("BYE ")));
}

#[test]
fn a_dialog_snapshot_lets_a_restarted_endpoint_end_the_leg() {
    let now = Instant::now();
    let mut ep = endpoint(1, now);
    let call = place(&mut ep, now);
    let invite = sent(&mut ep).remove(0).1;
    assert!(ep.dialog_snapshots(call).is_empty(), "not answered yet");
    ep.handle_datagram(now, addr(TRUNK), Transport::Udp, ok_to(&invite).as_bytes());
    assert!(events(&mut ep)
        .iter()
        .any(|e| matches!(e, Event::Answered { .. })));
    let snaps = ep.dialog_snapshots(call);
    assert_eq!(snaps.len(), 1);
    let stored = snaps[0].to_json();

    // The process dies; a new one (other seed, other salt) restores the dialog from the store.
    drop(ep);
    let later = now + Duration::from_secs(5);
    let mut fresh = endpoint(99, later);
    let snap = DialogSnapshot::from_json(&stored).unwrap();
    let released = fresh.restore_and_end(later, &snap).unwrap();
    let out = sent(&mut fresh);
    assert_eq!(out.len(), 1);
    let (dest, bye) = &out[0];
    assert_eq!(*dest, addr(TRUNK));
    assert!(request_line(bye).starts_with(&format!("BYE sip:callee@127.0.0.1:{TRUNK}")));
    assert_eq!(header(bye, "Call-ID"), header(&invite, "Call-ID"));
    assert_eq!(header(bye, "From"), header(&invite, "From"));
    assert!(header(bye, "To").unwrap().ends_with(";tag=trunk-tag"));
    assert_eq!(header(bye, "CSeq"), Some("2 BYE"));
    assert_eq!(
        headers(bye, "Route"),
        vec!["<sip:p1.example;lr>", "<sip:p2.example;lr>"]
    );
    // Restoring the same dialog twice sends nothing more.
    assert_eq!(fresh.restore_and_end(later, &snap), None);

    // Its 200 retransmitted meanwhile is ACKed (the leg is known), not BYEd again.
    fresh.handle_datagram(
        later,
        addr(TRUNK),
        Transport::Udp,
        ok_to(&invite).as_bytes(),
    );
    let acks = sent(&mut fresh);
    assert_eq!(acks.len(), 1);
    assert!(request_line(&acks[0].1).starts_with("ACK "));
    assert_eq!(header(&acks[0].1, "CSeq"), Some("1 ACK"));

    fresh.handle_datagram(
        later,
        addr(TRUNK),
        Transport::Udp,
        ok_to_request(bye).as_bytes(),
    );
    assert_eq!(events(&mut fresh), vec![Event::Released { call: released }]);

    // A BYE nobody answers is given up after 64·T1, and the leg is released all the same.
    let mut other = endpoint(7, later);
    let call2 = other.restore_and_end(later, &snap).unwrap();
    let mut t = later;
    while let Some(at) = other.poll_timeout() {
        if at > later + Duration::from_secs(40) {
            break;
        }
        t = at;
        other.handle_timeout(t);
    }
    assert!(t >= later + Duration::from_secs(32));
    assert!(events(&mut other).contains(&Event::Released { call: call2 }));
}

#[test]
fn a_stray_2xx_from_an_agent_is_acked_without_a_body_and_ended() {
    let now = Instant::now();
    let mut ep = endpoint(1, now);
    // Not from the trunk's address: an agent leg, whose INVITE carried the offer.
    let agent = addr(5080);
    ep.handle_datagram(
        now,
        agent,
        Transport::Udp,
        orphan_ok("z9hG4bK3.1").as_bytes(),
    );
    let out = sent(&mut ep);
    assert_eq!(out.len(), 2, "{out:#?}");
    assert!(out.iter().all(|(dest, _)| *dest == agent));
    assert!(request_line(&out[0].1).starts_with("ACK "));
    assert_eq!(
        header(&out[0].1, "Content-Length"),
        Some("0"),
        "{}",
        out[0].1
    );
    assert!(request_line(&out[1].1).starts_with("BYE "));
}
