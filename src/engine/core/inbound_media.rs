//! Anchored inbound calls (issue 17): a caller from a `media: anchor` trunk is answered by
//! outdial itself (its own SDP answer on a customer leg from the RTP port pool) once an agent
//! takes it, then bridged into the agent's nailed-up connection, with no SIP to the agent; a
//! caller no agent took hears the campaign's abandon message when it has one; the caller's end
//! closes the leg and gives its port back.
//!
//! Must not touch: RTP, sockets, the inbound queue itself (`calls`), SDP beyond
//! `media::sdp::{parse, answer, negotiate_answer}`. Per-call agents keep the SIP join
//! (`SipCommand::Connect`) for now.

use crate::engine::config::EngineConfig;
use crate::media::io::{LegId, LegRole, MediaCommand, MediaMode};
use crate::media::sdp;
use crate::sip::endpoint::CallId as SipCall;

use super::{Core, InboundLeg, LegOwner, SipCommand};

/// Whether the configured trunk named `trunk` anchors media (an unknown one does not).
pub(crate) fn trunk_anchored(cfg: &EngineConfig, trunk: &str) -> bool {
    cfg.sip
        .trunks
        .iter()
        .any(|t| t.name == trunk && t.media == MediaMode::Anchor)
}

/// What became of an anchored inbound caller an agent took.
pub(crate) enum Taken {
    /// Answered by outdial and bridged into the agent's nailed-up connection.
    Bridged,
    /// The agent has no nailed-up connection (a per-call agent): the SIP join goes on.
    NotNailed,
    /// Refused (no port free, an offer outdial cannot answer, the connection gone): the
    /// caller got a final status and its record was written.
    Refused,
}

impl Core {
    /// Answers anchored inbound caller `sip` with outdial's SDP on a new customer leg: Open,
    /// the 200 with the answer, Remote from the caller's offer. `None` (nothing left open) when
    /// no port is free or the offer cannot be answered.
    fn answer_inbound(&mut self, sip: SipCall) -> Option<LegId> {
        if let Some(l) = self.media.inbound.get(&sip) {
            return Some(l.leg);
        }
        let offer = self.inbound.get(&sip).and_then(|r| r.offer.clone());
        let Some(offer) = offer else {
            tracing::warn!(?sip, "anchored inbound caller without an SDP offer");
            return None;
        };
        let parsed = match sdp::parse(&offer) {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(?sip, error = %e, "inbound offer not usable");
                return None;
            }
        };
        let Some(port) = self.media.ports.allocate() else {
            tracing::warn!(?sip, "no RTP port free for an inbound caller");
            return None;
        };
        let leg = self.new_leg(LegOwner::Inbound(sip));
        let answer = match sdp::answer(&parsed, self.cfg.media.address, port, leg.0, 1) {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(?sip, error = %e, "inbound offer not answerable");
                self.media.legs.remove(&leg);
                self.media.ports.release(port);
                return None;
            }
        };
        self.emit_media(MediaCommand::Open {
            leg,
            role: LegRole::Customer,
            local_port: port,
        });
        self.media.inbound.insert(
            sip,
            InboundLeg {
                leg,
                port,
                bridged: None,
                prompting: false,
            },
        );
        self.emit_sip(SipCommand::Answer {
            call: sip,
            sdp: answer,
        });
        // The caller's offer names where its media goes: the same choice the answer made.
        self.remote(leg, &offer);
        Some(leg)
    }

    /// Agent `ai` took anchored inbound caller `sip` (its record already names the agent).
    pub(crate) fn take_inbound_anchored(&mut self, sip: SipCall, ai: usize) -> Taken {
        let nailed = self.agents[ai]
            .conn
            .as_ref()
            .filter(|c| c.up)
            .map(|c| c.leg);
        let Some(agent_leg) = nailed else {
            if self.agents[ai].connect == crate::engine::config::ConnectMode::Nailed {
                tracing::warn!(agent = %self.agents[ai].spec.id, "nailed-up connection gone at connect");
                self.refuse_inbound(sip, 503);
                self.leave_if_connection_lost(ai);
                return Taken::Refused;
            }
            return Taken::NotNailed;
        };
        let Some(customer) = self.answer_inbound(sip) else {
            self.refuse_inbound(sip, 503);
            return Taken::Refused;
        };
        if let Some(l) = self.media.inbound.get_mut(&sip) {
            l.bridged = Some(agent_leg);
        }
        self.emit_media(MediaCommand::Bridge {
            customer,
            agent: agent_leg,
        });
        if self.cfg.media.connect_tone {
            let prompt = self.media.tone.clone();
            self.emit_media(MediaCommand::Play {
                leg: agent_leg,
                prompt,
            });
        }
        let wall = self.wall_ms();
        if let Some(rec) = self.inbound.get_mut(&sip) {
            rec.connect_ms = Some(wall);
        }
        Taken::Bridged
    }

    /// Refuses a taken inbound caller with `code`: its record is written, the agent wraps up.
    fn refuse_inbound(&mut self, sip: SipCall, code: u16) {
        self.end_inbound(sip);
        self.by_sip.remove(&sip);
        self.emit_sip(SipCommand::Reject { call: sip, code });
    }

    /// A queued anchored caller no agent took: the campaign's abandon message, answered by
    /// outdial first. False (nothing done) when the caller is not anchored, the campaign has
    /// no message, or the caller cannot be answered.
    pub(crate) fn abandon_inbound_prompt(&mut self, sip: SipCall) -> bool {
        let Some(rec) = self.inbound.get(&sip) else {
            return false;
        };
        if !rec.anchored {
            return false;
        }
        let Some(prompt) = self.camps[rec.camp].media.abandon_prompt.clone() else {
            return false;
        };
        let Some(leg) = self.answer_inbound(sip) else {
            return false;
        };
        if let Some(l) = self.media.inbound.get_mut(&sip) {
            l.prompting = true;
        }
        self.emit_media(MediaCommand::Play { leg, prompt });
        true
    }

    /// The abandon message to inbound caller `sip` is over: it is hung up.
    pub(crate) fn inbound_prompt_done(&mut self, sip: SipCall) {
        if self.media.inbound.get(&sip).is_some_and(|l| l.prompting) {
            self.emit_sip(SipCommand::Hangup { call: sip });
        }
    }

    /// The nailed-up connection of the agent talking to inbound caller `sip` was lost (or its
    /// leg went silent): the caller is hung up (its end closes the leg).
    pub(crate) fn inbound_agent_lost(&mut self, sip: SipCall) {
        self.unbridge_inbound(sip);
        self.emit_sip(SipCommand::Hangup { call: sip });
    }

    fn unbridge_inbound(&mut self, sip: SipCall) {
        if let Some(l) = self.media.inbound.get_mut(&sip) {
            if l.bridged.take().is_some() {
                let leg = l.leg;
                self.emit_media(MediaCommand::Unbridge { leg });
            }
        }
    }

    /// Inbound caller `sip` is gone: its leg closes and its port goes back to the pool. Inbound
    /// records carry no media figures, so nothing waits for them.
    pub(crate) fn close_inbound_media(&mut self, sip: SipCall) {
        self.unbridge_inbound(sip);
        if let Some(l) = self.media.inbound.remove(&sip) {
            self.close_leg(l.leg, l.port);
        }
    }
}
