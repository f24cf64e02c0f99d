//! The session seam: where a leg's SDP is produced and consumed. Today outdial carries no media
//! and relays SDP between legs untouched (RFC 3725 flow I: the customer's offer goes to the
//! agent, the agent's answer back), so a [`Session`] is just the last SDP each side gave, plus
//! the answer that declines every stream when nobody will take the call. The call layer asks
//! it, and only it, for every body it sends (INVITE, 200, ACK, re-INVITE answer) and hands it
//! every body it receives.
//!
//! This is where SDP offer/answer (parsing, codec choice) and media sessions (an RTP endpoint
//! per leg, call-progress analysis on the customer's early media) attach next: replace the
//! relayed strings with a negotiated session, keep these methods as the call layer's interface.
//! It must not send, schedule or look at SIP headers.

/// The SDP of one leg.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Session {
    /// What we sent (or will send): our offer, or our answer.
    pub local: Option<String>,
    /// What the far end sent: its offer, or its answer.
    pub remote: Option<String>,
}

impl Session {
    /// A leg whose INVITE carries `offer` (`None`: flow I, the far end offers in its 2xx).
    pub fn offering(offer: Option<String>) -> Session {
        Session {
            local: offer,
            remote: None,
        }
    }

    /// A leg whose far end offered `offer` (an inbound INVITE).
    pub fn offered(offer: Option<String>) -> Session {
        Session {
            local: None,
            remote: offer,
        }
    }

    /// True when we made the offer (in the INVITE): the 2xx then carries the answer.
    pub fn we_offered(&self) -> bool {
        self.local.is_some()
    }

    /// The far end's SDP arrived (a 2xx or an ACK with a body).
    pub fn on_remote(&mut self, sdp: Option<String>) {
        self.remote = sdp;
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

    /// The answer to a session refresh (re-INVITE): the current SDP unchanged, as media is
    /// never modified; `None` (outdial has nothing to offer) makes the caller refuse it.
    pub fn refresh_answer(&self) -> Option<String> {
        self.local.clone()
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
        assert_eq!(s.refresh_answer().as_deref(), Some("a1"));
    }
}
