//! Agents' nailed-up connections (issue 17): the agent's phone is called once at login (engine
//! start or the agent API) with outdial's offer, the agent is available only once it answers,
//! and the connection stays up until logout; customers are bridged in and out of it (`media`).
//!
//! Re-connects: a connection that fails before the phone answers is tried again while the agent
//! stays logged in, after 1 s, 2 s, 4 s … doubling up to 60 s (checked each housekeeping tick).
//! A `dial-in` agent's phone is never called: it sets the connection up itself (`dial_in`), and
//! calls again after a failure or a loss.
//! One lost once up (the phone's BYE, an RTP timeout) logs the agent out with a reason (log and
//! the agent view's `pause_reason`), and its customer takes the abandon path; automatic agents
//! log in again at the next claim renewal (every 10 s).
//!
//! Must not touch: RTP, sockets, SDP beyond `media::sdp::{offer, negotiate_answer}`.

use std::time::Duration;

use crate::engine::config::ConnectMode;
use crate::media::io::{LegId, LegRole, MediaCommand};
use crate::sip::endpoint::{AgentCall, AgentLeg};
use crate::sip::values::CallerId;

use super::media::AGENT_RING;
use super::{Core, Leg, LegOwner, Nailed, SipCall, SipCommand};

/// Longest wait between connection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

impl Core {
    /// Whether agent `ai` must be connected before it may take customers.
    pub(crate) fn needs_connection(&self, ai: usize) -> bool {
        let a = &self.agents[ai];
        a.connect.is_nailed() && !a.conn.as_ref().is_some_and(|c| c.up)
    }

    /// Calls the agent's phone (at login, or a retry): Open its leg, then the INVITE.
    pub(crate) fn connect_agent(&mut self, ai: usize) {
        if self.agents[ai].conn.is_some() {
            return;
        }
        if self.agents[ai].connect == ConnectMode::DialIn {
            tracing::info!(agent = %self.agents[ai].spec.id, "waiting for the agent's phone to dial in");
            return;
        }
        let Some(port) = self.media.ports.allocate(self.now) else {
            tracing::warn!(agent = %self.agents[ai].spec.id, "no RTP port free for the agent's connection; retrying");
            self.schedule_retry(ai);
            return;
        };
        let leg = self.new_leg(LegOwner::Nailed(ai));
        self.open_nailed(ai, leg, port, None);
        let shown = AgentLeg {
            from_user: CallerId::new("outdial").ok(),
            ..AgentLeg::default()
        };
        let req = AgentCall {
            uri: self.agents[ai].spec.uri.clone(),
            offer: self.offer_for(leg, port),
            shown,
            ring_timeout: AGENT_RING,
        };
        tracing::info!(agent = %self.agents[ai].spec.id, "calling the agent's phone (nailed-up connection)");
        self.emit_sip(SipCommand::CallAgent { leg, req });
    }

    /// Opens agent `ai`'s nailed-up media leg `leg` on `port` and makes it the agent's
    /// connection, not up yet: `sip` is the phone's own call when it dialled in, `None` while
    /// outdial's INVITE to the phone is still to leave.
    pub(crate) fn open_nailed(&mut self, ai: usize, leg: LegId, port: u16, sip: Option<SipCall>) {
        self.emit_media(MediaCommand::Open {
            leg,
            role: LegRole::Agent,
            local_port: port,
        });
        self.agents[ai].conn = Some(Nailed {
            leg,
            port,
            sip,
            up: false,
        });
    }

    pub(crate) fn connection_up(&mut self, ai: usize, sdp_text: Option<&str>) {
        let Some(c) = self.agents[ai].conn.as_mut() else {
            return;
        };
        c.up = true;
        let leg = c.leg;
        self.agents[ai].retry = None;
        if let Some(text) = sdp_text {
            self.remote(leg, text);
        }
        tracing::info!(agent = %self.agents[ai].spec.id, "agent connected (nailed-up)");
        if self.agents[ai].logged_in && self.agents[ai].home.is_none() {
            if let Err(e) = self.enter_best(ai) {
                tracing::warn!(error = %e, "connected agent has no campaign");
            }
        } else if !self.agents[ai].logged_in && self.agents[ai].connect != ConnectMode::DialIn {
            // A called phone answered after a logout. A phone that dialled in before its agent
            // logged in keeps its connection for the login.
            self.disconnect_agent(ai);
        }
    }

    pub(crate) fn schedule_retry(&mut self, ai: usize) {
        let fails = self.agents[ai].retry.map_or(0, |(_, n)| n) + 1;
        let delay = Duration::from_secs(1u64 << (fails - 1).min(6)).min(MAX_BACKOFF);
        self.agents[ai].retry = Some((self.now + delay, fails));
    }

    /// The connection failed before the phone answered: try again later while logged in.
    pub(crate) fn connection_failed(&mut self, ai: usize, reason: &str) {
        self.drop_connection(ai);
        if self.agents[ai].connect == ConnectMode::DialIn {
            tracing::warn!(agent = %self.agents[ai].spec.id, %reason, "dial-in connection failed; the phone must call again");
        } else if self.agents[ai].logged_in {
            self.schedule_retry(ai);
            tracing::warn!(agent = %self.agents[ai].spec.id, %reason, retry_in = ?self.agents[ai].retry.map(|(t, _)| t.saturating_duration_since(self.now)), "agent connection failed");
        }
    }

    /// The connection was up and is gone: the agent is logged out with `reason`, its customer
    /// (bridged or on the way) takes the abandon path.
    pub(crate) fn connection_lost(&mut self, ai: usize, reason: &str) {
        let was_up = self.agents[ai].conn.as_ref().is_some_and(|c| c.up);
        if !was_up {
            return self.connection_failed(ai, reason);
        }
        tracing::warn!(agent = %self.agents[ai].spec.id, %reason, "agent connection lost: agent logged out");
        match self.agents[ai].call {
            Some(Leg::Out(key)) => self.agent_lost_customer(key),
            Some(Leg::In(sip)) if self.media.inbound.contains_key(&sip) => {
                self.inbound_agent_lost(sip)
            }
            _ => {}
        }
        self.agents[ai].call = None;
        self.drop_connection(ai);
        self.agents[ai].logged_in = false;
        self.agents[ai].pause_reason = Some(format!("logged out: {reason}"));
        // A dialer lets an agent go only when idle or in wrap-up: one reserved for a call
        // leaves once that call is over (its customer, if it answers, is abandoned).
        self.agents[ai].conn_lost = true;
        self.leave_if_connection_lost(ai);
    }

    /// An agent whose connection was lost leaves its dialer once it is neither reserved nor
    /// talking.
    pub(crate) fn leave_if_connection_lost(&mut self, ai: usize) {
        if !self.agents[ai].conn_lost {
            return;
        }
        if matches!(
            self.agent_state(ai),
            crate::agents::AgentState::Reserved | crate::agents::AgentState::Talking
        ) {
            return;
        }
        self.agents[ai].conn_lost = false;
        self.leave(ai);
    }

    /// Closes the agent's connection leg and forgets its SIP call (without hanging it up).
    pub(crate) fn drop_connection(&mut self, ai: usize) {
        if let Some(c) = self.agents[ai].conn.take() {
            if let Some(sip) = c.sip {
                self.by_sip.remove(&sip);
            }
            self.close_leg(c.leg, c.port);
        }
    }

    /// Logout: the connection is hung up and its leg closed; no retry.
    pub(crate) fn disconnect_agent(&mut self, ai: usize) {
        self.agents[ai].retry = None;
        if let Some(call) = self.agents[ai].conn.as_ref().and_then(|c| c.sip) {
            self.emit_sip(SipCommand::Hangup { call });
        }
        self.drop_connection(ai);
    }

    pub(crate) fn disconnect_all_agents(&mut self) {
        for ai in 0..self.agents.len() {
            self.disconnect_agent(ai);
        }
    }
}
