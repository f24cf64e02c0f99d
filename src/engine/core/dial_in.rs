//! Agents that dial in for their nailed-up connection (issue 17, `connect: dial-in`): the phone
//! calls `sip:<agent id>@<engine>` (softphones behind NAT, phones that cannot auto-answer).
//! The INVITE is challenged with 401 (a nonce from the engine's [`NonceBook`], `qop=auth`);
//! the retry's `Authorization` is judged: a stale nonce over the right password is challenged
//! again with `stale=true` (nonces live `sip.nonce_lifetime`), a digest `uri` other than the
//! INVITE's Request-URI gets 400, a wrong password or a replayed nonce count 403, a second
//! connection for an agent already connected 486, an agent this node does not own 480. An
//! accepted one is answered with outdial's SDP on a leg of the agent's own (anchored), and once
//! the phone's ACK arrives it is exactly the connection `nailed` keeps for a called agent:
//! available if logged in, customers bridged in and out with the connect tone, BYE or RTP
//! timeout → logged out with a reason. Never called back: the phone calls again.
//!
//! Must not touch: RTP, sockets, SIP messages (the endpoint builds the 401/403), the password
//! (only [`NonceBook::check`] sees it), SDP beyond `media::sdp::{parse, answer}`.

use std::time::Duration;

use crate::engine::config::ConnectMode;
use crate::media::sdp;
use crate::sip::endpoint::CallId as SipCall;
use crate::sip::nonces::{NonceBook, Verdict};

use super::{Core, Leg, LegOwner, SipCommand};

/// The nonce book of a core before the shell keys it ([`Core::set_auth_secret`]): fixed, so
/// virtual-time runs repeat exactly. Its nonces live `lifetime` (`sip.nonce_lifetime`): a phone
/// answers a challenge at once, and one that takes longer is challenged again with
/// `stale=true` rather than refused.
pub(crate) fn default_nonces(lifetime: Duration) -> NonceBook {
    NonceBook::new([0x5a; 32], lifetime)
}

impl Core {
    /// Keys the nonces of digest challenges with `secret` (the live shell passes 256 bits from
    /// the OS, so nobody can predict the next nonce). Call before [`Core::start`].
    pub fn set_auth_secret(&mut self, secret: [u8; 32]) {
        self.nonces = NonceBook::new(secret, self.cfg.sip.nonce_lifetime.0);
    }

    /// The agent whose id is the dialled user part, when it dials in.
    pub(crate) fn dial_in_agent(&self, user: &str) -> Option<usize> {
        self.agent_ix
            .get(user)
            .copied()
            .filter(|&ai| self.agents[ai].connect == ConnectMode::DialIn)
    }

    fn challenge_phone(&mut self, call: SipCall, stale: bool) {
        let nonce = self.nonces.issue(self.now);
        let realm = self.cfg.sip.realm.clone();
        self.emit_sip(SipCommand::Challenge {
            call,
            realm,
            nonce,
            stale,
        });
    }

    /// An INVITE naming dial-in agent `ai`: challenged, refused, or answered as its connection
    /// (see the module doc).
    pub(crate) fn on_dial_in(
        &mut self,
        call: SipCall,
        ai: usize,
        offer: Option<String>,
        authorization: Option<String>,
        request_uri: &str,
    ) {
        let id = self.agents[ai].spec.id.clone();
        let Some(creds) = self.agents[ai].spec.credentials.clone() else {
            // The config makes every dial-in agent name a password; refuse rather than trust.
            tracing::error!(agent = %id, "dial-in agent without credentials: refused");
            return self.emit_sip(SipCommand::Reject { call, code: 403 });
        };
        let Some(header) = authorization else {
            return self.challenge_phone(call, false);
        };
        let realm = self.cfg.sip.realm.clone();
        match self
            .nonces
            .check(self.now, &header, &creds, &realm, "INVITE", request_uri)
        {
            Verdict::Accepted => {}
            Verdict::UriMismatch => {
                // RFC 2617 §3.2.2.5: the digest was computed for another resource.
                tracing::warn!(agent = %id, "dial-in refused: digest uri is not the Request-URI");
                return self.emit_sip(SipCommand::Reject { call, code: 400 });
            }
            Verdict::Stale => return self.challenge_phone(call, true),
            Verdict::Wrong => {
                tracing::warn!(agent = %id, "dial-in refused: wrong credentials");
                return self.emit_sip(SipCommand::Reject { call, code: 403 });
            }
            Verdict::Replayed => {
                tracing::warn!(agent = %id, "dial-in refused: nonce count replayed");
                return self.emit_sip(SipCommand::Reject { call, code: 403 });
            }
            Verdict::Malformed(e) => {
                tracing::warn!(agent = %id, error = %e, "dial-in refused");
                return self.emit_sip(SipCommand::Reject { call, code: 403 });
            }
        }
        if self.stopping.is_some() {
            return self.emit_sip(SipCommand::Reject { call, code: 503 });
        }
        if !self.agents[ai].claimed {
            // Another node owns the agent (shared store): the phone should dial that one.
            tracing::info!(agent = %id, "dial-in refused: agent not owned by this node");
            return self.emit_sip(SipCommand::Reject { call, code: 480 });
        }
        if self.agents[ai].conn.is_some() {
            tracing::info!(agent = %id, "dial-in refused: the agent is connected already");
            return self.emit_sip(SipCommand::Reject { call, code: 486 });
        }
        // The endpoint refused an offer it cannot serve (488) before this; none at all (a
        // delayed offer) is not supported for a connection that must carry audio at once.
        let Some(offer) = offer else {
            tracing::warn!(agent = %id, "dial-in without an SDP offer: 488");
            return self.emit_sip(SipCommand::Reject { call, code: 488 });
        };
        let parsed = match sdp::parse(&offer) {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(agent = %id, error = %e, "dial-in offer not usable: 488");
                return self.emit_sip(SipCommand::Reject { call, code: 488 });
            }
        };
        let Some(port) = self.media.ports.allocate(self.now) else {
            tracing::warn!(agent = %id, "no RTP port free for a dial-in agent: 503");
            return self.emit_sip(SipCommand::Reject { call, code: 503 });
        };
        let leg = self.new_leg(LegOwner::Nailed(ai));
        let answer = match sdp::answer(&parsed, self.cfg.media.address, port, leg.0, 1) {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(agent = %id, error = %e, "dial-in offer not answerable: 488");
                self.media.legs.remove(&leg);
                self.media.ports.release(port);
                return self.emit_sip(SipCommand::Reject { call, code: 488 });
            }
        };
        self.open_nailed(ai, leg, port, Some(call));
        self.agents[ai].retry = None;
        self.by_sip.insert(call, Leg::Agent(ai));
        tracing::info!(agent = %id, "agent dialled in and authenticated; answering");
        self.emit_sip(SipCommand::Answer { call, sdp: answer });
        self.remote(leg, &offer);
    }

    /// The phone ACKed outdial's answer: its connection is up.
    pub(crate) fn on_dial_in_acked(&mut self, call: SipCall) {
        if let Some(&Leg::Agent(ai)) = self.by_sip.get(&call) {
            if self.agents[ai].conn.as_ref().is_some_and(|c| !c.up) {
                self.connection_up(ai, None);
            }
        }
    }
}
