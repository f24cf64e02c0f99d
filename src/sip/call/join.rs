//! The agent join (RFC 3725 flow I, see the `sip` module doc) and the end of calls: the agent
//! leg carrying the customer's offer, the customer's held ACK (or our 200, inbound) carrying the
//! agent's answer, abandon with or without an announcement, the ACK hold running out, hangup,
//! and releasing each leg whatever its state (BYE, CANCEL, held ACK then BYE, 480). The SDP it
//! moves between legs comes from and goes to each leg's [`Session`](crate::sip::session).

use std::time::Instant;

use rsip::Method;

use super::{agent_presentation, user_of, Calls, Leg, LegState, Role};
use crate::sip::dialog::Dialog;
use crate::sip::endpoint::{AgentLeg, CallError, CallId, EndedBy, Event, Shared};
use crate::sip::message::uri_of;
use crate::sip::session::Session;
use crate::sip::transaction::{TransactionKey, TxMethod, TxOwner};
use crate::sip::values::{CallerId, SipUri};

impl Calls {
    /// [`Endpoint::connect_with`](crate::sip::Endpoint::connect_with).
    pub(in crate::sip) fn connect(
        &mut self,
        io: &mut Shared,
        now: Instant,
        call: CallId,
        agent: SipUri,
        shown: AgentLeg,
    ) -> Result<(), CallError> {
        self.start_agent_leg(io, now, call, agent, false, shown)
    }

    /// [`Endpoint::abandon`](crate::sip::Endpoint::abandon).
    pub(in crate::sip) fn abandon(
        &mut self,
        io: &mut Shared,
        now: Instant,
        call: CallId,
        announcement: Option<SipUri>,
    ) -> Result<(), CallError> {
        let c = self.calls.get(&call).ok_or(CallError::Unknown(call))?;
        if c.agent.is_some() {
            return Err(CallError::State(
                call,
                "abandon (an agent leg is in progress)",
            ));
        }
        match announcement {
            Some(uri) => self.start_agent_leg(io, now, call, uri, true, AgentLeg::default()),
            None => {
                self.abandon_without_announcement(io, now, call);
                Ok(())
            }
        }
    }

    fn abandon_without_announcement(&mut self, io: &mut Shared, now: Instant, call: CallId) {
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        c.abandoning = true;
        let leg_id = c.customer;
        io.events.push_back(Event::Abandoned {
            call,
            announced: false,
        });
        let state = self.legs.get(&leg_id).map(|l| l.state);
        match state {
            Some(LegState::AwaitingAck) => {
                let answer = self.legs.get(&leg_id).and_then(|l| l.session.decline());
                self.ack_2xx(io, now, leg_id, answer.as_deref());
                self.end_call(io, now, call, EndedBy::Local);
            }
            // No agent leg here (abandon refuses while one is in progress).
            Some(LegState::Incoming) => {
                self.end_unanswered(io, now, call, leg_id, 480, EndedBy::Local)
            }
            _ => self.end_call(io, now, call, EndedBy::Local),
        }
    }

    /// Flow I step 3: an INVITE to `agent` carrying the customer's offer, presented as `shown`.
    fn start_agent_leg(
        &mut self,
        io: &mut Shared,
        now: Instant,
        call: CallId,
        agent: SipUri,
        announcement: bool,
        shown: AgentLeg,
    ) -> Result<(), CallError> {
        let c = self.calls.get(&call).ok_or(CallError::Unknown(call))?;
        let customer_number = c.place.as_ref().map(|p| p.number.as_str().to_string());
        if c.agent.is_some() {
            return Err(CallError::State(
                call,
                "connect (an agent leg is in progress)",
            ));
        }
        let cust = self.legs.get(&c.customer).ok_or(CallError::Unknown(call))?;
        let offer = match (cust.role, cust.state) {
            (Role::Customer, LegState::AwaitingAck) | (Role::Inbound, LegState::Incoming) => cust
                .session
                .remote
                .clone()
                .ok_or(CallError::State(call, "connect (no SDP offer)"))?,
            _ => return Err(CallError::State(call, "connect")),
        };
        // Who is calling, as the agent's phone shows it: the customer, never outdial's own id.
        let from_user = shown
            .from_user
            .clone()
            .or_else(|| customer_number.and_then(|n| CallerId::new(&n).ok()))
            .or_else(|| CallerId::new(&user_of(uri_of(&cust.dialog.remote))).ok())
            .or_else(|| CallerId::new("outdial").ok());
        let ip = io.cfg.local_addr.ip();
        let (local, extra) = agent_presentation(&shown, from_user.as_ref(), ip);
        let local_tag = io.tag();
        let call_id = io.new_call_id();
        let leg_id = io.id();
        let dialog = Dialog::to_phone(call_id.clone(), &local, &local_tag, &agent);
        let session = Session::offering(Some(offer));
        let mut leg = Leg::new(call, Role::Agent, LegState::Calling, dialog, session);
        leg.extra = extra;
        leg.agent = Some(agent);
        leg.announcement = announcement;
        self.legs.insert(leg_id, leg);
        self.by_call_id.insert(call_id, leg_id);
        if let Some(c) = self.calls.get_mut(&call) {
            c.agent = Some(leg_id);
            if announcement {
                c.abandoning = true;
            }
        }
        self.send_invite(io, now, leg_id, None);
        Ok(())
    }

    /// Flow I step 4: the agent answered. ACK the agent, then give the customer the agent's
    /// answer (the held ACK outbound, our 200 inbound) and report the join.
    pub(in crate::sip) fn on_agent_answered(
        &mut self,
        io: &mut Shared,
        now: Instant,
        leg_id: u64,
        call: CallId,
    ) {
        self.ack_2xx(io, now, leg_id, None);
        let answer = self
            .legs
            .get(&leg_id)
            .and_then(|l| l.session.remote.clone());
        let (agent, announcement) = self
            .legs
            .get(&leg_id)
            .map(|l| (l.agent.clone(), l.announcement))
            .unwrap_or((None, false));
        let Some(c) = self.calls.get(&call) else {
            self.close_leg(io, now, leg_id);
            return;
        };
        let cust = c.customer;
        let answered_at = c.answered_at;
        match self.legs.get(&cust).map(|l| (l.role, l.state)) {
            Some((Role::Customer, LegState::AwaitingAck)) => {
                self.ack_2xx(io, now, cust, answer.as_deref());
            }
            Some((Role::Inbound, LegState::Incoming)) => {
                self.uas_final(io, now, cust, 200, answer, &[]);
            }
            _ => {
                // Customer gone meanwhile: release the agent.
                self.close_leg(io, now, leg_id);
                return;
            }
        }
        let waited = now.saturating_duration_since(answered_at.unwrap_or(now));
        if let Some(c) = self.calls.get_mut(&call) {
            c.answered_at.get_or_insert(now);
        }
        if announcement {
            io.events.push_back(Event::Abandoned {
                call,
                announced: true,
            });
        } else if let Some(agent) = agent {
            io.events.push_back(Event::Connected {
                call,
                agent,
                answer_to_connect: waited,
            });
        }
    }

    /// The agent leg `leg_id` failed: an announcement falls back to abandon without one; an
    /// agent is reported and the customer keeps waiting.
    pub(in crate::sip) fn agent_failed(
        &mut self,
        io: &mut Shared,
        now: Instant,
        call: CallId,
        leg_id: u64,
        code: Option<u16>,
    ) {
        let agent_leg = self.legs.get(&leg_id);
        let agent = agent_leg.and_then(|l| l.agent.clone());
        let announcement = agent_leg.is_some_and(|l| l.announcement);
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        if c.agent == Some(leg_id) {
            c.agent = None;
        }
        if announcement {
            self.abandon_without_announcement(io, now, call);
        } else if let Some(agent) = agent {
            io.events
                .push_back(Event::ConnectFailed { call, agent, code });
        }
    }

    /// The ACK hold of a flow I customer leg ran out at `at`: end the call (declining answer,
    /// BYE with the abandon Reason).
    pub(in crate::sip) fn on_ack_hold(
        &mut self,
        io: &mut Shared,
        now: Instant,
        at: Instant,
        leg_id: u64,
    ) {
        let Some(l) = self.legs.get(&leg_id) else {
            return;
        };
        if l.ack_hold != Some(at) || l.state != LegState::AwaitingAck {
            return;
        }
        let call = l.call;
        if let Some(c) = self.calls.get_mut(&call) {
            c.abandoning = true;
            if let Some(a) = c.agent.take() {
                self.close_leg(io, now, a);
            }
        }
        self.end_call(io, now, call, EndedBy::Timeout);
    }

    /// [`Endpoint::hangup`](crate::sip::Endpoint::hangup).
    pub(in crate::sip) fn hangup(
        &mut self,
        io: &mut Shared,
        now: Instant,
        call: CallId,
    ) -> Result<(), CallError> {
        let c = self.calls.get(&call).ok_or(CallError::Unknown(call))?;
        let cust = c.customer;
        match self.legs.get(&cust).map(|l| (l.role, l.state)) {
            Some((Role::Customer, LegState::Calling | LegState::Ringing)) => {
                self.cancel_leg(io, now, cust);
                Ok(())
            }
            Some((_, LegState::Cancelling)) => Ok(()),
            Some((Role::Inbound, LegState::Incoming)) => {
                self.end_unanswered(io, now, call, cust, 480, EndedBy::Local);
                Ok(())
            }
            _ => {
                self.end_call(io, now, call, EndedBy::Local);
                Ok(())
            }
        }
    }

    /// Drops the call record and releases its trunk channel (legs clean up on their own).
    pub(in crate::sip) fn finish_call(&mut self, io: &mut Shared, call: CallId) {
        if let Some(c) = self.calls.remove(&call) {
            for l in [Some(c.customer), c.agent].into_iter().flatten() {
                if let Some(t) = self.legs.get_mut(&l).and_then(|l| l.trunk.take()) {
                    io.trunks.trunk_mut(t).release();
                }
            }
        }
    }

    /// Removes a leg from the tables (its transactions live on for retransmissions).
    pub(in crate::sip) fn forget_leg(&mut self, io: &mut Shared, leg_id: u64) {
        if let Some(mut l) = self.legs.remove(&leg_id) {
            if let Some(t) = l.trunk.take() {
                io.trunks.trunk_mut(t).release();
            }
            if self.by_call_id.get(&l.dialog.call_id) == Some(&leg_id) {
                self.by_call_id.remove(&l.dialog.call_id);
            }
        }
        self.restored_leg_gone(io, leg_id);
    }

    /// Ends both legs of an answered call and reports who ended it.
    pub(in crate::sip) fn end_call(
        &mut self,
        io: &mut Shared,
        now: Instant,
        call: CallId,
        by: EndedBy,
    ) {
        let Some(c) = self.calls.get(&call) else {
            return;
        };
        let legs = [Some(c.customer), c.agent];
        let abandoning = c.abandoning;
        for l in legs.into_iter().flatten() {
            if abandoning && Some(l) == legs[0] {
                let reason = "SIP;cause=480;text=\"No agent available\"".to_string();
                self.close_leg_with(io, now, l, &[("Reason", reason)]);
            } else {
                self.close_leg(io, now, l);
            }
        }
        self.finish_call(io, call);
        io.events.push_back(Event::Ended { call, by });
    }

    pub(in crate::sip) fn close_leg(&mut self, io: &mut Shared, now: Instant, leg_id: u64) {
        self.close_leg_with(io, now, leg_id, &[]);
    }

    /// Releases one leg whatever its state: BYE, CANCEL, a held ACK then BYE, or a 480.
    fn close_leg_with(
        &mut self,
        io: &mut Shared,
        now: Instant,
        leg_id: u64,
        extra: &[(&str, String)],
    ) {
        let Some(leg) = self.legs.get(&leg_id) else {
            return;
        };
        match leg.state {
            LegState::Calling | LegState::Ringing => self.cancel_leg(io, now, leg_id),
            LegState::Cancelling | LegState::Closing | LegState::Rejected => {}
            LegState::Incoming => {
                self.uas_final(io, now, leg_id, 480, None, &[]);
            }
            LegState::AwaitingAck => {
                let ans = leg.session.decline();
                self.ack_2xx(io, now, leg_id, ans.as_deref());
                self.send_bye(io, now, leg_id, extra);
            }
            LegState::Confirmed | LegState::Answering => self.send_bye(io, now, leg_id, extra),
        }
    }

    /// BYE on leg `leg_id` (its dialog builds it); the leg is forgotten when it completes.
    pub(in crate::sip) fn send_bye(
        &mut self,
        io: &mut Shared,
        now: Instant,
        leg_id: u64,
        extra: &[(&str, String)],
    ) {
        let tx = io.id();
        let Some((bytes, dest, transport)) =
            self.in_dialog_request(io, leg_id, Method::Bye, tx, extra, None)
        else {
            return;
        };
        if let Some(l) = self.legs.get_mut(&leg_id) {
            l.state = LegState::Closing;
            if let Some(u) = &mut l.uas {
                u.retx = None;
            }
            l.ack_hold = None;
        }
        let key = TransactionKey {
            branch: tx,
            method: TxMethod::Bye,
        };
        io.start_tx(now, key, TxOwner::Leg(leg_id), (dest, transport), bytes);
    }
}
