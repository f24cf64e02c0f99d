//! One sans-IO endpoint driven by hand: the test plays every peer (trunk, proxy, agent) by
//! reading what the endpoint sends and writing the responses itself, so it controls exactly the
//! headers a peer or proxy would add (Record-Route, Contact, strict routers). Virtual time; no
//! sockets.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use outdial::sip::message::{self, Msg};
use outdial::sip::trunk::TrunkSet;
use outdial::sip::{
    CallId, CallerId, Endpoint, EndpointConfig, Event, ExtraHeader, PlaceCall, Transport,
    TrunksConfig, E164,
};

/// An SDP body, for early offers and for the customer's offer under flow I.
pub const OFFER: &str = "v=0\r\no=c 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n";

/// `127.0.0.1:port`.
pub fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// A message the endpoint sent: where to, and its text.
#[derive(Debug, Clone)]
pub struct Sent {
    /// Destination.
    pub dest: SocketAddr,
    /// The message.
    pub text: String,
}

impl Sent {
    /// Parsed form.
    pub fn msg(&self) -> Msg {
        message::parse(self.text.as_bytes()).expect("outdial sends parseable messages")
    }
    /// The start line.
    pub fn start_line(&self) -> &str {
        self.text.split("\r\n").next().unwrap_or("")
    }
    /// Every value of header `name` (full name, case-insensitive), in order.
    pub fn headers(&self, name: &str) -> Vec<String> {
        self.text
            .split("\r\n\r\n")
            .next()
            .unwrap_or("")
            .split("\r\n")
            .skip(1)
            .filter_map(|l| l.split_once(':'))
            .filter(|(k, _)| k.trim().eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim().to_string())
            .collect()
    }
    /// The first value of header `name`.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers(name).into_iter().next()
    }
}

/// The dialler under test (listening on 127.0.0.1:5000) and the virtual clock.
pub struct Uac {
    /// The endpoint.
    pub ep: Endpoint,
    /// Virtual now.
    pub now: Instant,
}

impl Uac {
    /// A dialler with the trunks of `trunks_yaml` (group `g`).
    pub fn new(trunks_yaml: &str) -> Self {
        let now = Instant::now();
        let set = TrunkSet::new(&TrunksConfig::from_yaml("t.yaml", trunks_yaml).expect("yaml"))
            .expect("trunk set");
        let mut cfg = EndpointConfig::new(addr(5000));
        cfg.seed = 7;
        Uac {
            ep: Endpoint::new(cfg, set, now),
            now,
        }
    }

    /// Places a call to +14155550100 on group `g` with caller ID +14155550000 and the lead and
    /// campaign identifiers.
    pub fn place(&mut self, offer: Option<&str>) -> CallId {
        self.ep
            .place_call(
                self.now,
                PlaceCall {
                    group: "g".into(),
                    number: E164::new("+14155550100").expect("number"),
                    caller_id: CallerId::new("+14155550000").expect("caller id"),
                    headers: vec![
                        ExtraHeader::lead("L1").expect("lead"),
                        ExtraHeader::campaign("c1").expect("campaign"),
                    ],
                    ring_timeout: Duration::from_secs(30),
                    offer: offer.map(str::to_string),
                },
            )
            .expect("placed")
    }

    /// Everything sent since the last call.
    pub fn sent(&mut self) -> Vec<Sent> {
        let mut out = Vec::new();
        while let Some(t) = self.ep.poll_transmit() {
            out.push(Sent {
                dest: t.dest,
                text: String::from_utf8_lossy(&t.payload).into_owned(),
            });
        }
        out
    }

    /// The one message sent since the last call whose start line begins with `start`.
    pub fn only(&mut self, start: &str) -> Sent {
        let all = self.sent();
        let hits: Vec<Sent> = all
            .iter()
            .filter(|s| s.text.starts_with(start))
            .cloned()
            .collect();
        assert_eq!(hits.len(), 1, "one {start} expected among {all:#?}");
        hits.into_iter().next().expect("one")
    }

    /// Events since the last call.
    pub fn events(&mut self) -> Vec<Event> {
        std::iter::from_fn(|| self.ep.poll_event()).collect()
    }

    /// Feeds `text` as if it came from `from`.
    pub fn receive(&mut self, from: SocketAddr, text: &str) {
        self.ep
            .handle_datagram(self.now, from, Transport::Udp, text.as_bytes());
    }

    /// Moves the clock on by `d`, firing due timers.
    pub fn advance(&mut self, d: Duration) {
        self.now += d;
        self.ep.handle_timeout(self.now);
    }
}

/// A response to `req` as a peer writes it: its Vias, From, To with `to_tag`, Call-ID and CSeq,
/// then `extra` header lines (Record-Route, Contact …) and an optional SDP body.
pub fn response(req: &Sent, code: u16, to_tag: &str, extra: &[&str], sdp: Option<&str>) -> String {
    let m = req.msg();
    let mut out = format!("SIP/2.0 {code} X\r\n");
    for v in &m.vias {
        out.push_str(&format!("Via: {v}\r\n"));
    }
    out.push_str(&format!("From: {}\r\n", m.from));
    if m.to_tag.is_some() {
        out.push_str(&format!("To: {}\r\n", m.to));
    } else {
        out.push_str(&format!("To: {};tag={to_tag}\r\n", m.to));
    }
    out.push_str(&format!("Call-ID: {}\r\n", m.call_id));
    out.push_str(&format!("CSeq: {} {}\r\n", m.cseq, m.cseq_method));
    finish(out, extra, sdp)
}

/// A request inside the dialog of `invite` (sent by us) as the far end writes it: From and To
/// swapped with the far end's `tag`, `cseq`, and `extra` lines.
pub fn request_from_peer(
    invite: &Sent,
    method: &str,
    tag: &str,
    cseq: u32,
    extra: &[&str],
    sdp: Option<&str>,
) -> String {
    let m = invite.msg();
    let mut out = format!("{method} sip:outdial@127.0.0.1:5000 SIP/2.0\r\n");
    out.push_str(&format!(
        "Via: SIP/2.0/UDP 127.0.0.1:5001;branch=z9hG4bKpeer{method}{cseq}\r\n"
    ));
    out.push_str(&format!("From: {};tag={tag}\r\n", m.to));
    out.push_str(&format!("To: {}\r\n", m.from));
    out.push_str(&format!("Call-ID: {}\r\n", m.call_id));
    out.push_str(&format!("CSeq: {cseq} {method}\r\n"));
    finish(out, extra, sdp)
}

/// Ends a message begun in `out` (start line and dialog headers): `extra` header lines, then
/// the SDP `sdp` or an empty body.
fn finish(mut out: String, extra: &[&str], sdp: Option<&str>) -> String {
    for e in extra {
        out.push_str(e);
        out.push_str("\r\n");
    }
    match sdp {
        Some(b) => out.push_str(&format!(
            "Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{b}",
            b.len()
        )),
        None => out.push_str("Content-Length: 0\r\n\r\n"),
    }
    out
}

/// A trunks file: one trunk `t` at 127.0.0.1:5001 with `extra` keys (YAML lines, indented
/// four spaces), in group `g`.
pub fn one_trunk(extra: &str) -> String {
    format!(
        "trunks:\n  - name: t\n    address: 127.0.0.1:5001\n    max_channels: 10\n    max_cps: 10\n    ping_interval: 0s\n{extra}groups:\n  - name: g\n    trunks: [t]\n"
    )
}
