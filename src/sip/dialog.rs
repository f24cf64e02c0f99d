//! The dialog layer (RFC 3261 §12): one [`Dialog`] per leg — Call-ID, our party and tag, theirs,
//! the remote target, the route set, the CSeq numbers and where its requests go — identified by
//! a typed [`DialogKey`]; the rules that build an in-dialog request (loose and strict routing),
//! learn the route set and target from a 2xx, refresh the target on a re-INVITE, and decide
//! whether a request belongs to the dialog. It knows no call, role or SDP, keeps no timer, and
//! starts no transaction: it builds bytes that the endpoint sends.

use std::net::SocketAddr;

use rsip::Method;

use super::message::{uri_addr, uri_has_param, uri_of, Builder, Msg};
use super::trunk::Transport;
use super::values::SipUri;

/// A dialog's identity (RFC 3261 §12): Call-ID, our tag and theirs (unknown until the far end's
/// first tagged response, or, for a request, the tags it carries).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DialogKey {
    /// Call-ID.
    pub call_id: String,
    /// Our tag (the To tag of a request the far end sends in the dialog).
    pub local_tag: Option<String>,
    /// Their tag (the From tag of such a request).
    pub remote_tag: Option<String>,
}

impl DialogKey {
    /// The dialog a request we received claims to be in.
    pub fn of_request(msg: &Msg) -> DialogKey {
        DialogKey {
            call_id: msg.call_id.clone(),
            local_tag: msg.to_tag.clone(),
            remote_tag: msg.from_tag.clone(),
        }
    }
}

/// The dialog state of one leg.
#[derive(Debug, Clone)]
pub struct Dialog {
    /// SIP Call-ID.
    pub call_id: String,
    /// Our party (From of our requests) with our tag.
    pub local: String,
    /// Their party (To of our requests), with their tag once known.
    pub remote: String,
    /// Their tag once known.
    pub remote_tag: Option<String>,
    /// Request-URI for in-dialog requests (remote target) or the initial INVITE.
    pub target: String,
    /// Route headers of our requests, in order.
    pub route_set: Vec<String>,
    /// Where the initial request went (fallback next hop).
    pub dest: SocketAddr,
    /// Over what.
    pub transport: Transport,
    /// Our last CSeq number (the INVITE's until another request follows).
    pub local_cseq: u32,
    /// Their highest CSeq number seen.
    pub remote_cseq: u32,
}

impl Dialog {
    /// A dialog outdial opens straight to a phone over UDP (an agent's leg, per call or nailed
    /// up): no route set, the phone's URI as target and destination, CSeq from 1.
    pub fn to_phone(call_id: String, local: &str, local_tag: &str, phone: &SipUri) -> Dialog {
        let target = phone.to_string();
        Dialog {
            call_id,
            local: format!("{local};tag={local_tag}"),
            remote: format!("<{target}>"),
            remote_tag: None,
            target,
            route_set: vec![],
            dest: phone.addr(),
            transport: Transport::Udp,
            local_cseq: 1,
            remote_cseq: 0,
        }
    }

    /// Its key.
    pub fn key(&self) -> DialogKey {
        DialogKey {
            call_id: self.call_id.clone(),
            local_tag: Some(self.local_tag().to_string()),
            remote_tag: self.remote_tag.clone(),
        }
    }

    /// Our tag (the `tag=` of our party).
    pub fn local_tag(&self) -> &str {
        self.local.rsplit("tag=").next().unwrap_or("")
    }

    /// True when a request with key `key` belongs to this dialog: same Call-ID, our tag, and
    /// their tag when we know it (before their first tagged response any is taken).
    pub fn accepts(&self, key: &DialogKey) -> bool {
        key.call_id == self.call_id
            && key.local_tag.as_deref() == Some(self.local_tag())
            && (self.remote_tag.is_none() || key.remote_tag == self.remote_tag)
    }

    /// RFC 3261 §12.1.2, on the 2xx of our INVITE: their tag and party, the route set (the
    /// Record-Route reversed; without one, `proxy` — an outbound proxy — stays the next hop, as
    /// it asked for everything) and the remote target (the 2xx's Contact).
    pub fn on_2xx(&mut self, msg: &Msg, proxy: Option<SocketAddr>) {
        self.remote_tag = msg.to_tag.clone();
        self.remote = msg.to.clone();
        self.route_set = match (msg.record_route.is_empty(), proxy) {
            (true, Some(p)) => vec![format!("<sip:{p};lr>")],
            _ => msg.record_route.iter().rev().cloned().collect(),
        };
        if let Some(c) = &msg.contact {
            self.target = c.clone();
        }
    }

    /// A re-INVITE (RFC 3261 §12.2.2): their CSeq and, as a target refresh, its Contact.
    pub fn on_reinvite(&mut self, msg: &Msg) {
        self.remote_cseq = self.remote_cseq.max(msg.cseq);
        if let Some(c) = &msg.contact {
            self.target = c.clone();
        }
    }

    /// An in-dialog request: CSeq (an ACK reuses the INVITE's number, anything else takes the
    /// next), Request-URI and Route by [`route`], To/From/Call-ID of the dialog, `extra`
    /// headers and `sdp`. Returns the bytes and the next hop (a host name, which the core
    /// cannot resolve, falls back to where the INVITE went).
    pub fn request(
        &mut self,
        method: Method,
        via: String,
        extra: &[(&str, String)],
        sdp: Option<&str>,
    ) -> (Vec<u8>, SocketAddr, Transport) {
        if method != Method::Ack {
            self.local_cseq += 1;
        }
        let cseq = self.local_cseq;
        let (uri, routes, next_hop) = route(&self.target, &self.route_set);
        let dest = next_hop.unwrap_or(self.dest);
        let mut b = Builder::request(method, &uri)
            .header("Via", via)
            .header("Max-Forwards", 70);
        for r in &routes {
            b = b.header("Route", r);
        }
        b = b
            .header("From", &self.local)
            .header("To", &self.remote)
            .header("Call-ID", &self.call_id)
            .header("CSeq", format_args!("{cseq} {method}"));
        for (k, v) in extra {
            b = b.header(k, v);
        }
        (b.finish(sdp), dest, self.transport)
    }
}

/// Request-URI, Route headers and next hop of an in-dialog request (RFC 3261 §12.2.1.1):
/// with an empty route set, the remote target and its address; when the first route is a loose
/// router (`;lr`), the remote target with the route set as Route, sent to the first route;
/// a strict router gets its own URI as Request-URI (without `?headers`), the rest of the route
/// set and then the remote target as Route. The next hop is `None` when its host is a name.
pub fn route(target: &str, route_set: &[String]) -> (String, Vec<String>, Option<SocketAddr>) {
    let Some(first) = route_set.first() else {
        return (target.to_string(), Vec::new(), uri_addr(target));
    };
    let first_uri = uri_of(first);
    let hop = uri_addr(first_uri);
    if uri_has_param(first_uri, "lr") {
        return (target.to_string(), route_set.to_vec(), hop);
    }
    let ruri = first_uri.split('?').next().unwrap_or(first_uri).to_string();
    let mut routes: Vec<String> = route_set[1..].to_vec();
    routes.push(format!("<{target}>"));
    (ruri, routes, hop)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dialog(route_set: &[&str]) -> Dialog {
        Dialog {
            call_id: "c1@192.0.2.9".into(),
            local: "<sip:outdial@192.0.2.9>;tag=ours".into(),
            remote: "<sip:+33612345678@192.0.2.1>;tag=theirs".into(),
            remote_tag: Some("theirs".into()),
            target: "sip:phone@192.0.2.50:5070".into(),
            route_set: route_set.iter().map(|s| s.to_string()).collect(),
            dest: "192.0.2.1:5060".parse().expect("literal address"),
            transport: Transport::Udp,
            local_cseq: 1,
            remote_cseq: 7,
        }
    }

    fn parse(bytes: &[u8]) -> Msg {
        crate::sip::message::parse(bytes).expect("the dialog builds valid SIP")
    }

    #[test]
    fn a_request_with_another_tag_is_not_in_the_dialog() {
        let d = dialog(&[]);
        let mut key = d.key();
        assert!(d.accepts(&key));
        key.remote_tag = Some("forged".into());
        assert!(!d.accepts(&key));
        let mut key = d.key();
        key.local_tag = None;
        assert!(!d.accepts(&key), "no To tag: not in any dialog");
        let mut key = d.key();
        key.call_id = "other".into();
        assert!(!d.accepts(&key));
    }

    #[test]
    fn bye_takes_the_next_cseq_and_ack_reuses_the_invites() {
        let mut d = dialog(&[]);
        let (ack, ..) = d.request(
            Method::Ack,
            "SIP/2.0/UDP x;branch=z9hG4bKa".into(),
            &[],
            None,
        );
        assert_eq!(
            (parse(&ack).cseq, parse(&ack).cseq_method),
            (1, Method::Ack)
        );
        let (bye, ..) = d.request(
            Method::Bye,
            "SIP/2.0/UDP x;branch=z9hG4bKb".into(),
            &[],
            None,
        );
        assert_eq!(
            (parse(&bye).cseq, parse(&bye).cseq_method),
            (2, Method::Bye)
        );
    }

    /// A BYE of `d`: its text and next hop.
    fn bye(d: &mut Dialog) -> (String, SocketAddr) {
        let (b, dest, _) = d.request(
            Method::Bye,
            "SIP/2.0/UDP x;branch=z9hG4bKa".into(),
            &[],
            None,
        );
        (String::from_utf8_lossy(&b).into_owned(), dest)
    }

    #[test]
    fn loose_route_keeps_the_target_strict_route_takes_the_request_uri() {
        let (text, dest) = bye(&mut dialog(&["<sip:192.0.2.7:5060;lr>"]));
        assert!(
            text.starts_with("BYE sip:phone@192.0.2.50:5070 SIP/2.0"),
            "{text}"
        );
        assert_eq!(dest, "192.0.2.7:5060".parse().expect("literal"));
        let (text, dest) = bye(&mut dialog(&["<sip:192.0.2.8:5060>"]));
        assert!(text.starts_with("BYE sip:192.0.2.8:5060 SIP/2.0"), "{text}");
        assert!(
            text.contains("Route: <sip:phone@192.0.2.50:5070>"),
            "{text}"
        );
        assert_eq!(dest, "192.0.2.8:5060".parse().expect("literal"));
    }

    #[test]
    fn a_2xx_sets_the_route_set_reversed_and_a_reinvite_refreshes_the_target() {
        let mut d = dialog(&[]);
        let resp = parse(b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 192.0.2.9;branch=z9hG4bKa\r\nRecord-Route: <sip:192.0.2.7;lr>\r\nRecord-Route: <sip:192.0.2.6;lr>\r\nFrom: <sip:outdial@192.0.2.9>;tag=ours\r\nTo: <sip:x@192.0.2.1>;tag=t2\r\nCall-ID: c1@192.0.2.9\r\nCSeq: 1 INVITE\r\nContact: <sip:x@192.0.2.60>\r\nContent-Length: 0\r\n\r\n");
        d.on_2xx(&resp, None);
        assert_eq!(d.route_set, ["<sip:192.0.2.6;lr>", "<sip:192.0.2.7;lr>"]);
        assert_eq!(
            (d.target.as_str(), d.remote_tag.as_deref()),
            ("sip:x@192.0.2.60", Some("t2"))
        );
        let reinvite = parse(b"INVITE sip:outdial@192.0.2.9 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKr\r\nFrom: <sip:x@192.0.2.1>;tag=t2\r\nTo: <sip:outdial@192.0.2.9>;tag=ours\r\nCall-ID: c1@192.0.2.9\r\nCSeq: 9 INVITE\r\nContact: <sip:x@192.0.2.61>\r\nContent-Length: 0\r\n\r\n");
        d.on_reinvite(&reinvite);
        assert_eq!((d.target.as_str(), d.remote_cseq), ("sip:x@192.0.2.61", 9));
    }
}
