//! Anchored inbound calls (issue 17): a caller from a `media: anchor` trunk is answered by
//! outdial itself (its own SDP answer on a customer leg from the RTP port pool) once an agent
//! takes it, then bridged into the agent's nailed-up connection with no SIP to the agent (a
//! per-call agent gets one INVITE with outdial's offer, bridged when it answers); a
//! caller no agent took hears the campaign's abandon message when it has one; the caller's end
//! closes the leg and gives its port back.
//!
//! Must not touch: RTP, sockets, the inbound queue itself (`calls`), SDP beyond
//! `media::sdp::{parse, answer, negotiate_answer}`.

use crate::engine::config::EngineConfig;
use crate::media::io::{LegId, LegRole, MediaCommand, MediaMode};
use crate::media::sdp;
use crate::sip::endpoint::{AgentLeg, CallId as SipCall};

use super::{Core, InboundLeg, Leg, LegOwner, SipCommand};

/// Whether the configured trunk named `trunk` anchors media (an unknown one does not).
pub(crate) fn trunk_anchored(cfg: &EngineConfig, trunk: &str) -> bool {
    cfg.sip
        .trunks
        .iter()
        .any(|t| t.name == trunk && t.media == MediaMode::Anchor)
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
        let Some(port) = self.media.ports.allocate(self.now) else {
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
                agent_leg: None,
                agent_again: None,
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

    /// Agent `ai` took anchored inbound caller `sip` (its record already names the agent):
    /// outdial answers it, then bridges it into the nailed-up connection at once, or calls a
    /// per-call agent with outdial's offer and bridges when that phone answers. Refused (503,
    /// the record written) when no port is free, the offer cannot be answered or the nailed-up
    /// connection is gone.
    pub(crate) fn take_inbound_anchored(&mut self, sip: SipCall, ai: usize, shown: AgentLeg) {
        let nailed = self.agents[ai]
            .conn
            .as_ref()
            .filter(|c| c.up)
            .map(|c| c.leg);
        if nailed.is_none() && self.agents[ai].connect.is_nailed() {
            tracing::warn!(agent = %self.agents[ai].spec.id, "nailed-up connection gone at connect");
            self.refuse_inbound(sip, 503);
            self.leave_if_connection_lost(ai);
            return;
        }
        if self.answer_inbound(sip).is_none() {
            return self.refuse_inbound(sip, 503);
        }
        if let Some(agent_leg) = nailed {
            self.bridge_inbound(sip, agent_leg);
            self.connect_tone(agent_leg);
            return;
        }
        let again = (ai, shown.clone());
        let Some(agent_leg) = self.open_agent_leg(LegOwner::AgentOfIn(sip), ai, shown) else {
            tracing::warn!(agent = %self.agents[ai].spec.id, "no RTP port free for the agent leg: the caller is hung up");
            return self.inbound_agent_lost(sip);
        };
        if let Some(l) = self.media.inbound.get_mut(&sip) {
            l.agent_leg = Some(agent_leg);
            l.agent_again = Some(again);
        }
    }

    /// A leg of inbound caller `sip` could not be bound. Its per-call agent leg is opened again
    /// on another port, once (as an outbound customer's, see `agent_leg_again`); else, or when
    /// it is the caller's own leg, the caller is hung up.
    pub(crate) fn inbound_leg_failed(&mut self, sip: SipCall, leg: LegId, reason: &str) {
        let again = match self.media.inbound.get_mut(&sip) {
            Some(l) if l.agent_leg.as_ref().map(|a| a.0) == Some(leg) => l.agent_again.take(),
            _ => None,
        };
        if let Some((ai, shown)) = again {
            self.close_inbound_agent_leg(sip);
            if let Some(agent_leg) = self.open_agent_leg(LegOwner::AgentOfIn(sip), ai, shown) {
                tracing::warn!(agent = %self.agents[ai].spec.id, port = agent_leg.1, "agent leg opened again on another port");
                if let Some(l) = self.media.inbound.get_mut(&sip) {
                    l.agent_leg = Some(agent_leg);
                }
                return;
            }
        }
        tracing::error!(?leg, %reason, "inbound caller's leg not opened: hanging up");
        self.emit_sip(SipCommand::Hangup { call: sip });
    }

    /// Switches inbound caller `sip` to `agent_leg`; the record's connect time is now.
    fn bridge_inbound(&mut self, sip: SipCall, agent_leg: LegId) {
        let Some(l) = self.media.inbound.get_mut(&sip) else {
            return;
        };
        l.bridged = Some(agent_leg);
        let customer = l.leg;
        self.emit_media(MediaCommand::Bridge {
            customer,
            agent: agent_leg,
        });
        let wall = self.wall_ms();
        if let Some(rec) = self.inbound.get_mut(&sip) {
            rec.connect_ms = Some(wall);
        }
    }

    /// The reply to the per-call agent leg's [`SipCommand::CallAgent`].
    pub(crate) fn on_inbound_agent_placed(
        &mut self,
        sip: SipCall,
        leg: LegId,
        result: Result<SipCall, String>,
    ) {
        match result {
            Ok(agent_call) => {
                match self
                    .media
                    .inbound
                    .get_mut(&sip)
                    .and_then(|l| l.agent_leg.as_mut())
                {
                    Some(a) if a.0 == leg => {
                        a.2 = Some(agent_call);
                        self.by_sip.insert(agent_call, Leg::AgentOfIn(sip));
                    }
                    _ => self.emit_sip(SipCommand::Hangup { call: agent_call }),
                }
            }
            Err(reason) => {
                tracing::warn!(%reason, "agent leg not placed; the inbound caller is hung up");
                self.close_inbound_agent_leg(sip);
                self.inbound_agent_lost(sip);
            }
        }
    }

    /// An event on an inbound caller's per-call agent leg (SIP call `call`).
    pub(crate) fn on_inbound_agent_sip(
        &mut self,
        sip: SipCall,
        call: SipCall,
        ev: &crate::sip::endpoint::Event,
    ) {
        use crate::sip::endpoint::Event;
        match ev {
            Event::Answered { offer, .. } => {
                let leg = self
                    .media
                    .inbound
                    .get(&sip)
                    .and_then(|l| l.agent_leg.as_ref())
                    .map(|a| a.0);
                if let Some(leg) = leg {
                    if let Some(text) = offer {
                        self.remote(leg, text);
                    }
                    self.bridge_inbound(sip, leg);
                }
            }
            Event::Failed { .. } | Event::Ended { .. } => {
                // The agent refused or hung up: the call is over for the caller too.
                self.by_sip.remove(&call);
                self.close_inbound_agent_leg(sip);
                self.inbound_agent_lost(sip);
            }
            _ => {}
        }
    }

    /// Closes an inbound caller's per-call agent leg (hanging its SIP call up when still ours).
    fn close_inbound_agent_leg(&mut self, sip: SipCall) {
        self.unbridge_inbound(sip);
        let Some((leg, port, agent_call)) = self
            .media
            .inbound
            .get_mut(&sip)
            .and_then(|l| l.agent_leg.take())
        else {
            return;
        };
        if let Some(call) = agent_call {
            if self.by_sip.remove(&call).is_some() {
                self.emit_sip(SipCommand::Hangup { call });
            }
        }
        self.close_leg(leg, port);
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
        self.close_inbound_agent_leg(sip);
        if let Some(l) = self.media.inbound.remove(&sip) {
            self.close_leg(l.leg, l.port);
        }
    }
}
