//! The session seam: where a leg's SDP is produced and consumed. The call layer asks it, and
//! only it, for every body it sends (INVITE, 200, ACK, re-INVITE answer) and hands it every body
//! it receives. A leg is one of two kinds:
//! - relayed (RFC 3725 flow I, `media: flow-i`): the SDPs are strings passed between legs
//!   untouched (the customer's offer goes to the agent, the agent's answer back), plus the answer
//!   that declines every stream when nobody will take the call;
//! - anchored (`media: anchor`, and every agent connection outdial calls itself): outdial's own
//!   SDP is the local side, the far end's is negotiated ([`crate::media::sdp`]) into the
//!   [`RemoteMedia`] the media plane sends to, and re-INVITEs are answered with outdial's SDP.
//!
//! It must not send, schedule or look at SIP headers; it owns no RTP (the media plane does).

use crate::media::io::RemoteMedia;
use crate::media::sdp::{self, SdpError};

/// The SDP of one leg.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Session {
    /// What we sent (or will send): our offer, or our answer.
    pub local: Option<String>,
    /// What the far end sent: its offer, or its answer.
    pub remote: Option<String>,
    /// outdial anchors this leg's media: its SDPs are negotiated, not relayed.
    anchored: bool,
    /// Anchored: what the far end's last SDP negotiated to (`None` before any, or when it
    /// could not be served).
    negotiated: Option<RemoteMedia>,
}

impl Session {
    /// A leg whose INVITE carries `offer` (`None`: flow I, the far end offers in its 2xx).
    pub fn offering(offer: Option<String>) -> Session {
        Session {
            local: offer,
            ..Session::default()
        }
    }

    /// An anchored leg whose INVITE carries outdial's own `offer` (early offer).
    pub fn anchored_offer(offer: String) -> Session {
        Session {
            local: Some(offer),
            anchored: true,
            ..Session::default()
        }
    }

    /// A leg whose far end offered `offer` (an inbound INVITE).
    pub fn offered(offer: Option<String>) -> Session {
        Session {
            remote: offer,
            ..Session::default()
        }
    }

    /// An anchored inbound leg: the far end's `offer` must be servable by outdial (PCMU or
    /// PCMA); an error is what the SIP layer answers 488 for. No offer (delayed offer) is
    /// servable: outdial offers in its 200.
    pub fn anchored_offered(offer: Option<String>) -> Result<Session, SdpError> {
        let negotiated = offer.as_deref().map(sdp::negotiate_answer).transpose()?;
        Ok(Session {
            remote: offer,
            anchored: true,
            negotiated,
            ..Session::default()
        })
    }

    /// True when outdial anchors this leg's media.
    pub fn is_anchored(&self) -> bool {
        self.anchored
    }

    /// True when we made the offer (in the INVITE): the 2xx then carries the answer.
    pub fn we_offered(&self) -> bool {
        self.local.is_some()
    }

    /// Anchored: the far end's media as negotiated from its last SDP.
    pub fn negotiated(&self) -> Option<RemoteMedia> {
        self.negotiated.clone()
    }

    /// The far end's SDP arrived (a 183, a 2xx or an ACK with a body); a message without one
    /// keeps what an earlier one said (RFC 3264: the 2xx repeats the 183's answer or says
    /// nothing new). Anchored: negotiated, and an SDP outdial cannot serve is the error.
    pub fn on_remote(&mut self, sdp: Option<String>) -> Result<(), SdpError> {
        let Some(sdp) = sdp else {
            return Ok(());
        };
        let result = if self.anchored {
            sdp::negotiate_answer(&sdp).map(|m| self.negotiated = Some(m))
        } else {
            Ok(())
        };
        self.remote = Some(sdp);
        result
    }

    /// Our final response (inbound) carries `sdp`: it becomes what we sent.
    pub fn on_local(&mut self, sdp: Option<String>) {
        self.local = sdp;
    }

    /// We send `sdp` as our answer, unless we already sent an SDP.
    pub fn on_local_answer(&mut self, sdp: Option<&str>) {
        if let (Some(sdp), None) = (sdp, &self.local) {
            self.local = Some(sdp.to_string());
        }
    }

    /// The answer to a session refresh (re-INVITE carrying `offer`, or none). Relayed: the
    /// current SDP unchanged, as media is never modified; `Ok(None)` (outdial has nothing to
    /// offer) makes the caller refuse it. Anchored: outdial's answer to the new offer on the
    /// same address and port (version bumped when it differs, RFC 3264 §8), or outdial's
    /// current SDP when the re-INVITE has none; an offer outdial cannot serve is the error
    /// (488, the session stays as it was).
    pub fn refresh_answer(&mut self, offer: Option<&str>) -> Result<Option<String>, SdpError> {
        let (true, Some(offer), Some(local)) = (self.anchored, offer, self.local.as_deref()) else {
            return Ok(self.local.clone());
        };
        let parsed = sdp::parse(offer)?;
        let chosen = sdp::choose(&parsed)?;
        let ours = sdp::parse(local)?;
        let Some(me) = ours.streams.iter().find(|s| s.port != 0) else {
            return Ok(self.local.clone());
        };
        let Some(addr) = me.addr else {
            return Ok(self.local.clone());
        };
        let (sid, ver) = ours.origin;
        let mut answer = sdp::answer(&parsed, addr, me.port, sid, ver)?;
        if answer != local {
            answer = sdp::answer(&parsed, addr, me.port, sid, ver.wrapping_add(1))?;
        }
        self.local = Some(answer.clone());
        self.remote = Some(offer.to_string());
        self.negotiated = Some(chosen.remote);
        Ok(Some(answer))
    }

    /// An answer that declines every stream of the far end's offer (port 0), for ACKing a flow I
    /// leg nobody will be connected to.
    pub fn decline(&self) -> Option<String> {
        decline_answer(self.remote.as_deref())
    }
}

/// An SDP answer that declines every stream of `offer` (port 0), for ACKing a flow I customer
/// leg nobody will be connected to (RFC 3264 §6: a rejected stream keeps its m-line, port 0).
pub fn decline_answer(offer: Option<&str>) -> Option<String> {
    let offer = offer?;
    let mut out =
        String::from("v=0\r\no=outdial 0 0 IN IP4 0.0.0.0\r\ns=-\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\n");
    for line in offer.lines().filter(|l| l.starts_with("m=")) {
        let mut parts: Vec<&str> = line.trim_end().split(' ').collect();
        if parts.len() >= 4 {
            parts[1] = "0";
            out.push_str(&parts.join(" "));
            out.push_str("\r\n");
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declining_keeps_every_m_line_with_port_zero() {
        let offer =
            "v=0\r\nc=IN IP4 192.0.2.1\r\nm=audio 4000 RTP/AVP 0 8\r\nm=video 4002 RTP/AVP 96\r\n";
        let s = Session::offered(Some(offer.into()));
        let ans = s.decline().expect("an offer to decline");
        assert!(ans.contains("m=audio 0 RTP/AVP 0 8\r\n"), "{ans}");
        assert!(ans.contains("m=video 0 RTP/AVP 96\r\n"), "{ans}");
        assert_eq!(Session::default().decline(), None);
    }

    #[test]
    fn our_first_answer_sticks() {
        let mut s = Session::offered(Some("offer".into()));
        s.on_local_answer(Some("a1"));
        s.on_local_answer(Some("a2"));
        assert_eq!(s.refresh_answer(Some("x")), Ok(Some("a1".into())));
    }

    const CARRIER: &str = "v=0\r\no=c 5 5 IN IP4 10.0.0.9\r\ns=-\r\nc=IN IP4 10.0.0.9\r\nt=0 0\r\n\
                           m=audio 4000 RTP/AVP 18 8\r\n";

    fn ours() -> String {
        sdp::offer([127, 0, 0, 1].into(), 30000, 7, 1)
    }

    #[test]
    fn anchored_answer_is_negotiated_and_kept_when_the_2xx_has_none() {
        let mut s = Session::anchored_offer(ours());
        assert_eq!(s.on_remote(Some(CARRIER.into())), Ok(()));
        let m = s.negotiated().expect("PCMA");
        assert_eq!((m.pt, m.addr.port()), (8, 4000));
        assert_eq!(s.on_remote(None), Ok(()));
        assert_eq!(s.negotiated(), Some(m));
        let g729 = CARRIER.replace(" 18 8", " 18");
        assert!(s.on_remote(Some(g729)).is_err());
    }

    #[test]
    fn anchored_reinvite_gets_our_answer_on_our_port() {
        let mut s = Session::anchored_offer(ours());
        let ans = s
            .refresh_answer(Some(CARRIER))
            .expect("servable")
            .expect("an answer");
        assert!(ans.contains("m=audio 30000 RTP/AVP 8\r\n"), "{ans}");
        assert!(
            ans.contains("o=outdial 7 2 "),
            "changed SDP bumps the version: {ans}"
        );
        let again = s
            .refresh_answer(Some(CARRIER))
            .expect("ok")
            .expect("answer");
        assert_eq!(
            again, ans,
            "an unchanged offer gets the same answer and version"
        );
        let g729 = CARRIER.replace(" 18 8", " 18");
        assert!(s.refresh_answer(Some(&g729)).is_err());
        assert_eq!(
            s.local.as_deref(),
            Some(ans.as_str()),
            "a refused offer changes nothing"
        );
        assert_eq!(s.refresh_answer(None), Ok(Some(ans)));
    }

    #[test]
    fn anchored_inbound_offer_must_be_servable() {
        assert!(Session::anchored_offered(Some(CARRIER.replace(" 18 8", " 18"))).is_err());
        let s = Session::anchored_offered(Some(CARRIER.into())).expect("PCMA offered");
        assert_eq!(s.negotiated().map(|m| m.pt), Some(8));
        assert!(Session::anchored_offered(None).is_ok(), "delayed offer");
    }
}
