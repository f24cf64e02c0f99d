//! Hostile input at the sans-IO SIP endpoint (issue 15, points 1 and 2), on virtual time: requests
//! outside a dialog from addresses that are neither a trunk nor allowed get 403 and leave no call
//! behind; a response is taken only when it echoes the whole branch of a request AND comes from
//! the address that request went to; branches and tags cannot be guessed from earlier ones, and
//! two live endpoints (seeded by the shell from the OS RNG) never repeat each other's.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use outdial::sip::trunk::TrunkSet;
use outdial::sip::{
    CallId, CallerId, Endpoint, EndpointConfig, Event, PlaceCall, Transport, TrunksConfig, E164,
};

/// The dialler under test listens here; its trunk is 127.0.0.1:5062.
const LOCAL: ([u8; 4], u16) = ([127, 0, 0, 1], 5060);
const TRUNK: ([u8; 4], u16) = ([127, 0, 0, 1], 5062);
/// Not a trunk, not allowed.
const STRANGER: ([u8; 4], u16) = ([127, 0, 0, 2], 5060);
/// The forger of responses.
const FORGER: ([u8; 4], u16) = ([127, 0, 0, 3], 5062);

fn sa(a: ([u8; 4], u16)) -> SocketAddr {
    SocketAddr::from(a)
}

/// An endpoint at [`LOCAL`] with one trunk `t` at [`TRUNK`] in group `g`, its config set by
/// `tune`.
fn endpoint(now: Instant, tune: impl FnOnce(&mut EndpointConfig)) -> Endpoint {
    let y = "trunks:\n  - {name: t, address: \"127.0.0.1:5062\", max_channels: 100, max_cps: 100, \
             ping_interval: 0s}\ngroups:\n  - {name: g, trunks: [t]}\n";
    let trunks = TrunkSet::new(&TrunksConfig::from_yaml("t.yaml", y).unwrap()).unwrap();
    let mut cfg = EndpointConfig::new(sa(LOCAL));
    tune(&mut cfg);
    Endpoint::new(cfg, trunks, now)
}

/// A dialler with one trunk, accepting requests outside a dialog only from trunks (`accept_from`
/// empty), with the fixed `seed`.
fn dialler(seed: u64, now: Instant) -> Endpoint {
    endpoint(now, |cfg| {
        cfg.seed = seed;
        cfg.accept_from = Some(HashSet::new());
    })
}

fn place(ep: &mut Endpoint, now: Instant) -> (CallId, String) {
    let call = ep
        .place_call(
            now,
            PlaceCall {
                group: "g".into(),
                number: E164::new("+14155550100").unwrap(),
                caller_id: CallerId::new("+14155550000").unwrap(),
                headers: vec![],
                ring_timeout: Duration::from_secs(30),
                offer: None,
            },
        )
        .unwrap();
    let t = ep.poll_transmit().expect("the INVITE");
    assert_eq!(t.dest, sa(TRUNK));
    (call, String::from_utf8_lossy(&t.payload).into_owned())
}

fn header<'a>(msg: &'a str, name: &str) -> &'a str {
    msg.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix(": ")))
        .unwrap_or_else(|| panic!("no {name} in {msg}"))
        .trim_end()
}

fn branch(msg: &str) -> String {
    let via = header(msg, "Via");
    let b = via.split(";branch=").nth(1).expect("branch");
    b.split(';').next().unwrap_or(b).to_string()
}

/// A response to `invite` with status `code`, its Via branch replaced by `branch`.
fn response(invite: &str, code: u16, branch_value: &str) -> String {
    let via = header(invite, "Via").replace(&branch(invite), branch_value);
    let reason = match code {
        180 => "Ringing",
        200 => "OK",
        _ => "Does Not Exist Anywhere",
    };
    let (contact, body) = if code == 200 {
        (
            "Contact: <sip:callee@127.0.0.1:5062>\r\nContent-Type: application/sdp\r\n",
            "v=0\r\no=c 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n",
        )
    } else {
        ("", "")
    };
    format!(
        "SIP/2.0 {code} {reason}\r\nVia: {via}\r\nFrom: {}\r\nTo: {};tag=forged1\r\nCall-ID: {}\r\n\
         CSeq: {}\r\n{contact}Content-Length: {}\r\n\r\n{body}",
        header(invite, "From"),
        header(invite, "To"),
        header(invite, "Call-ID"),
        header(invite, "CSeq"),
        body.len()
    )
}

fn drain(ep: &mut Endpoint) -> (Vec<String>, Vec<Event>) {
    let mut out = vec![];
    while let Some(t) = ep.poll_transmit() {
        out.push(String::from_utf8_lossy(&t.payload).into_owned());
    }
    let mut ev = vec![];
    while let Some(e) = ep.poll_event() {
        ev.push(e);
    }
    (out, ev)
}

const STRANGE_INVITE: &str = "INVITE sip:+6560001000@127.0.0.1:5060 SIP/2.0\r\n\
Via: SIP/2.0/UDP 127.0.0.2:5060;branch=z9hG4bKflood1\r\nMax-Forwards: 70\r\n\
From: <sip:+6590000000@127.0.0.2>;tag=f1\r\nTo: <sip:+6560001000@127.0.0.1>\r\n\
Call-ID: flood-1@127.0.0.2\r\nCSeq: 1 INVITE\r\nContact: <sip:x@127.0.0.2:5060>\r\n\
Content-Length: 0\r\n\r\n";

/// [`STRANGE_INVITE`] made an OPTIONS.
fn strange_options() -> String {
    STRANGE_INVITE
        .replace("INVITE sip", "OPTIONS sip")
        .replace("1 INVITE", "1 OPTIONS")
}

/// Asserts that `ep` sent exactly one message since last drained, a `status` response.
fn assert_one_answer(ep: &mut Endpoint, status: &str) {
    let (out, _) = drain(ep);
    assert!(out.len() == 1 && out[0].starts_with(status), "{out:?}");
}

#[test]
fn an_invite_from_an_address_that_is_no_trunk_gets_403_and_leaves_no_call() {
    let now = Instant::now();
    let mut ep = dialler(1, now);
    ep.handle_datagram(now, sa(STRANGER), Transport::Udp, STRANGE_INVITE.as_bytes());
    let t = ep.poll_transmit().expect("an answer");
    assert_eq!(t.dest, sa(STRANGER));
    assert!(String::from_utf8_lossy(&t.payload).starts_with("SIP/2.0 403"));
    let (more, events) = drain(&mut ep);
    assert!(more.is_empty(), "only the 403: {more:?}");
    assert!(events.is_empty(), "no inbound call: {events:?}");
    assert_eq!(ep.active_calls(), 0);
    assert_eq!(ep.open_dialogs(), 0);
    assert_eq!(ep.stats().forbidden, 1);
    // OPTIONS from there: refused as well, and nothing is kept for its retransmissions.
    let options = strange_options();
    ep.handle_datagram(now, sa(STRANGER), Transport::Udp, options.as_bytes());
    assert_one_answer(&mut ep, "SIP/2.0 403");
    assert_eq!(ep.stats().forbidden, 2);
    assert_eq!(ep.poll_timeout(), None, "no state (timer) left behind");

    // The same INVITE from the trunk's IP (another port) is an inbound call from that trunk.
    let from_trunk = STRANGE_INVITE.replace("127.0.0.2", "127.0.0.1");
    ep.handle_datagram(
        now,
        sa(([127, 0, 0, 1], 40000)),
        Transport::Udp,
        from_trunk.as_bytes(),
    );
    let (out, events) = drain(&mut ep);
    assert!(out[0].starts_with("SIP/2.0 100"), "{out:?}");
    assert!(
        matches!(&events[..], [Event::InboundCall { trunk: Some(t), .. }] if t == "t"),
        "{events:?}"
    );
}

#[test]
fn a_lowercase_invite_from_the_trunk_is_no_invite_and_gets_405_with_allow() {
    let now = Instant::now();
    let mut ep = dialler(1, now);
    let trunk = sa(([127, 0, 0, 1], 40000));
    // RFC 3261 §7.1: method names are case-sensitive; `invite` (start line and CSeq) is an
    // unknown method, not an INVITE.
    let lower = STRANGE_INVITE
        .replace("127.0.0.2", "127.0.0.1")
        .replace("INVITE sip", "invite sip")
        .replace("1 INVITE", "1 invite");
    ep.handle_datagram(now, trunk, Transport::Udp, lower.as_bytes());
    let (out, events) = drain(&mut ep);
    assert!(
        out.len() == 1 && out[0].starts_with("SIP/2.0 405"),
        "{out:?}"
    );
    assert_eq!(
        header(&out[0], "Allow"),
        "INVITE, ACK, CANCEL, BYE, OPTIONS"
    );
    assert_eq!(
        header(&out[0], "CSeq"),
        "1 invite",
        "the request's CSeq echoed"
    );
    assert!(events.is_empty(), "no inbound call: {events:?}");
    assert_eq!(ep.active_calls(), 0);
    // A mixed-case INVITE start line with an upper-case CSeq: no INVITE either.
    let mixed = STRANGE_INVITE
        .replace("127.0.0.2", "127.0.0.1")
        .replace("INVITE sip", "Invite sip");
    ep.handle_datagram(now, trunk, Transport::Udp, mixed.as_bytes());
    let (out, events) = drain(&mut ep);
    assert!(out.iter().all(|m| !m.starts_with("SIP/2.0 1")), "{out:?}");
    assert!(events.is_empty(), "no inbound call: {events:?}");
    // From a stranger, the usual 403.
    let stranger = STRANGE_INVITE
        .replace("INVITE sip", "invite sip")
        .replace("1 INVITE", "1 invite");
    ep.handle_datagram(now, sa(STRANGER), Transport::Udp, stranger.as_bytes());
    let (out, _) = drain(&mut ep);
    assert!(
        out.len() == 1 && out[0].starts_with("SIP/2.0 403"),
        "{out:?}"
    );
    assert_eq!(ep.poll_timeout(), None, "no state (timer) left behind");
}

#[test]
fn requests_outside_a_dialog_from_an_allowed_address_are_served() {
    let now = Instant::now();
    // An agent's phone at 127.0.0.5 (the engine passes its agents' IPs).
    let mut ep = endpoint(now, |cfg| {
        cfg.accept_from = Some([[127, 0, 0, 5].into()].into_iter().collect());
    });
    let options = strange_options();
    ep.handle_datagram(
        now,
        sa(([127, 0, 0, 5], 5080)),
        Transport::Udp,
        options.as_bytes(),
    );
    assert_one_answer(&mut ep, "SIP/2.0 200");
    ep.handle_datagram(now, sa(STRANGER), Transport::Udp, options.as_bytes());
    assert_one_answer(&mut ep, "SIP/2.0 403");
    assert_eq!(ep.stats().forbidden, 1);
}

#[test]
fn a_response_with_the_right_branch_from_the_wrong_address_is_ignored() {
    let now = Instant::now();
    let mut ep = dialler(1, now);
    let (call, invite) = place(&mut ep, now);
    let b = branch(&invite);
    // A 604 and a 200 echoing everything of the INVITE, but from 127.0.0.3.
    for code in [604, 200] {
        let forged = response(&invite, code, &b);
        ep.handle_datagram(now, sa(FORGER), Transport::Udp, forged.as_bytes());
        let (out, events) = drain(&mut ep);
        assert!(events.is_empty(), "a forged {code} was taken: {events:?}");
        assert!(out.is_empty(), "nothing answers a forged {code}: {out:?}");
    }
    assert_eq!(ep.stats().wrong_source, 2);
    assert_eq!(ep.active_calls(), 1);
    // The trunk's own 180 and 604 still count.
    let ringing = response(&invite, 180, &b);
    ep.handle_datagram(now, sa(TRUNK), Transport::Udp, ringing.as_bytes());
    let (_, events) = drain(&mut ep);
    assert_eq!(events, [Event::Ringing { call }]);
    let fail = response(&invite, 604, &b);
    ep.handle_datagram(now, sa(TRUNK), Transport::Udp, fail.as_bytes());
    let (_, events) = drain(&mut ep);
    assert!(
        matches!(
            events[..],
            [Event::Failed {
                code: Some(604),
                ..
            }]
        ),
        "{events:?}"
    );
}

/// RFC 3261 §17.1.3: a response matches a client transaction by its branch AND its CSeq method.
/// A 200 that echoes the INVITE's branch but says `CSeq: 1 BYE` (misrouted, or forged by someone
/// who saw the INVITE) answers nothing: the call still rings and fails on the trunk's own answer.
#[test]
fn a_response_with_the_right_branch_but_another_method_is_ignored() {
    let now = Instant::now();
    let mut ep = dialler(1, now);
    let (call, invite) = place(&mut ep, now);
    let b = branch(&invite);
    let bye_200 = response(&invite, 200, &b).replace("CSeq: 1 INVITE", "CSeq: 1 BYE");
    assert!(bye_200.contains("CSeq: 1 BYE"), "{bye_200}");
    ep.handle_datagram(now, sa(TRUNK), Transport::Udp, bye_200.as_bytes());
    let (out, events) = drain(&mut ep);
    assert!(
        events.is_empty(),
        "a 200 to a BYE answered the INVITE: {events:?}"
    );
    assert!(out.is_empty(), "nothing is ACKed: {out:?}");
    assert_eq!(ep.stats().stray, 1);
    let ringing = response(&invite, 180, &b);
    ep.handle_datagram(now, sa(TRUNK), Transport::Udp, ringing.as_bytes());
    let (_, events) = drain(&mut ep);
    assert_eq!(events, [Event::Ringing { call }]);
}

#[test]
fn a_response_on_a_guessed_counter_like_branch_is_ignored_even_from_the_trunk() {
    let now = Instant::now();
    let mut ep = dialler(1, now);
    let (_, first) = place(&mut ep, now);
    let (second_call, second) = place(&mut ep, now);
    // What a forger derives from the first branch seen on the wire: the counter part bumped by
    // one to each value the next transactions may have, the rest kept as it was.
    let seen = branch(&first);
    let rest = seen.strip_prefix("z9hG4bK").expect("magic cookie");
    let (counter, tail) = rest.split_once('.').expect("counter.random");
    let n = u64::from_str_radix(counter, 16).expect("hex counter");
    for guess in (n + 1..n + 8).map(|k| format!("z9hG4bK{k:x}.{tail}")) {
        assert_ne!(guess, branch(&second), "the second branch was guessable");
        let forged = response(&second, 604, &guess);
        ep.handle_datagram(now, sa(TRUNK), Transport::Udp, forged.as_bytes());
    }
    let (out, events) = drain(&mut ep);
    assert!(events.is_empty(), "a guessed branch was taken: {events:?}");
    assert!(out.is_empty(), "{out:?}");
    assert_eq!(ep.stats().stray, 7);
    assert_eq!(ep.active_calls(), 2);
    // Only the second call's own branch ends it.
    let real = response(&second, 604, &branch(&second));
    ep.handle_datagram(now, sa(TRUNK), Transport::Udp, real.as_bytes());
    let (_, events) = drain(&mut ep);
    assert!(
        matches!(events[..], [Event::Failed { call, code: Some(604), .. }] if call == second_call),
        "{events:?}"
    );
}

/// Branch, From tag and Call-ID of `n` INVITEs placed by a fresh endpoint.
fn identities(cfg_secret: Option<[u8; 32]>, n: usize) -> Vec<(String, String, String)> {
    let now = Instant::now();
    let mut ep = endpoint(now, |cfg| cfg.secret = cfg_secret);
    (0..n)
        .map(|_| {
            let (_, inv) = place(&mut ep, now);
            let tag = header(&inv, "From")
                .rsplit("tag=")
                .next()
                .unwrap_or("")
                .to_string();
            (branch(&inv), tag, header(&inv, "Call-ID").to_string())
        })
        .collect()
}

/// The part of a branch after its counter: what a forger would have to guess.
fn random_part(b: &str) -> &str {
    b.split_once('.').map(|(_, r)| r).unwrap_or("")
}

#[test]
fn branches_and_tags_are_random_per_request_and_differ_between_runs() {
    // Within a run: no two branches share their random part, and it carries 128 bits.
    let run = identities(None, 50);
    let parts: HashSet<_> = run.iter().map(|(b, _, _)| random_part(b)).collect();
    assert_eq!(parts.len(), run.len(), "random parts repeat: {run:?}");
    assert!(
        run.iter().all(|(b, _, _)| random_part(b).len() == 32),
        "{run:?}"
    );
    let tags: HashSet<_> = run.iter().map(|(_, t, _)| t.clone()).collect();
    assert_eq!(tags.len(), run.len());
    // A fixed seed repeats exactly (deterministic core) ...
    assert_eq!(identities(None, 5), identities(None, 5));
    // ... while two runs keyed by the shell from the OS RNG share nothing.
    let a = identities(Some(rand::random()), 5);
    let b = identities(Some(rand::random()), 5);
    for ((ba, ta, ca), (bb, tb, cb)) in a.iter().zip(&b) {
        assert_ne!(random_part(ba), random_part(bb));
        assert_ne!(ta, tb);
        assert_ne!(ca, cb);
    }
}

#[tokio::test]
async fn two_live_endpoints_with_the_same_config_never_repeat_a_branch_or_tag() {
    // The dialler's "trunk" is a plain UDP socket that records the INVITEs.
    let trunk = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let taddr = trunk.local_addr().unwrap();
    let y = format!(
        "trunks:\n  - {{name: t, address: \"{taddr}\", max_channels: 10, max_cps: 100, \
         ping_interval: 0s}}\ngroups:\n  - {{name: g, trunks: [t]}}\n"
    );
    let mut seen = vec![];
    for _ in 0..2 {
        let set = TrunkSet::new(&TrunksConfig::from_yaml("t.yaml", &y).unwrap()).unwrap();
        let any: SocketAddr = ([127, 0, 0, 1], 0).into();
        let (h, _ev, task) = outdial::sip::spawn(any, EndpointConfig::new(any), set)
            .await
            .unwrap();
        h.place_call(PlaceCall {
            group: "g".into(),
            number: E164::new("+14155550100").unwrap(),
            caller_id: CallerId::new("+14155550000").unwrap(),
            headers: vec![],
            ring_timeout: Duration::from_secs(30),
            offer: None,
        })
        .await
        .unwrap()
        .unwrap();
        let mut buf = vec![0u8; 8192];
        let (n, _) = tokio::time::timeout(Duration::from_secs(5), trunk.recv_from(&mut buf))
            .await
            .expect("an INVITE within 5 s")
            .unwrap();
        let inv = String::from_utf8_lossy(&buf[..n]).into_owned();
        let tag = header(&inv, "From")
            .rsplit("tag=")
            .next()
            .unwrap_or("")
            .to_string();
        seen.push((branch(&inv), tag, header(&inv, "Call-ID").to_string()));
        task.abort();
    }
    assert_ne!(random_part(&seen[0].0), random_part(&seen[1].0), "{seen:?}");
    assert_ne!(seen[0].1, seen[1].1, "{seen:?}");
    assert_ne!(seen[0].2, seen[1].2, "{seen:?}");
}
