//! The UAS side and requests from the far end: an INVITE received (a new inbound call, or a
//! retransmission, or a loop), the application's answer to it (ring, answer, reject, challenge)
//! retransmitted until the ACK (RFC 6026) or timer H, the ACK, CANCEL, and in-dialog BYE and
//! re-INVITE on any leg. Whether a request belongs to a leg's dialog is the dialog's rule
//! ([`Dialog::accepts`]); the answer's body comes from the leg's session.

use std::net::SocketAddr;
use std::time::Instant;

use super::{user_of, Call, Calls, Leg, LegState, Role};
use crate::media::io::MediaMode;
use crate::sip::dialog::{Dialog, DialogKey};
use crate::sip::endpoint::{CallError, CallId, EndedBy, Event, Shared};
use crate::sip::message::{response_to, uri_of, Msg, Start};
use crate::sip::session::Session;
use crate::sip::timer::Timer;
use crate::sip::transaction::ServerInviteTx;
use crate::sip::trunk::Transport;
use crate::sip::values::ExtraHeader;

impl Calls {
    fn inbound_leg(&self, call: CallId) -> Result<u64, CallError> {
        let c = self.calls.get(&call).ok_or(CallError::Unknown(call))?;
        match self.legs.get(&c.customer) {
            Some(l) if l.role == Role::Inbound && l.state == LegState::Incoming => Ok(c.customer),
            _ => Err(CallError::State(
                call,
                "respond (not an unanswered inbound call)",
            )),
        }
    }

    /// [`Endpoint::ring`](crate::sip::Endpoint::ring).
    pub(in crate::sip) fn ring(
        &mut self,
        io: &mut Shared,
        now: Instant,
        call: CallId,
    ) -> Result<(), CallError> {
        let leg = self.inbound_leg(call)?;
        self.uas_provisional(io, now, leg, 180);
        Ok(())
    }

    /// [`Endpoint::answer`](crate::sip::Endpoint::answer).
    pub(in crate::sip) fn answer(
        &mut self,
        io: &mut Shared,
        now: Instant,
        call: CallId,
        sdp: Option<String>,
        headers: &[ExtraHeader],
    ) -> Result<(), CallError> {
        let leg = self.inbound_leg(call)?;
        let extra: Vec<(&str, String)> = headers
            .iter()
            .map(|h| (h.name(), h.value().to_string()))
            .collect();
        self.uas_final(io, now, leg, 200, sdp, &extra);
        if let Some(c) = self.calls.get_mut(&call) {
            c.answered_at = Some(now);
        }
        Ok(())
    }

    /// [`Endpoint::reject`](crate::sip::Endpoint::reject).
    pub(in crate::sip) fn reject(
        &mut self,
        io: &mut Shared,
        now: Instant,
        call: CallId,
        code: u16,
    ) -> Result<(), CallError> {
        if !(300..=699).contains(&code) {
            return Err(CallError::State(call, "reject with a non-final code"));
        }
        let leg = self.inbound_leg(call)?;
        self.uas_final(io, now, leg, code, None, &[]);
        self.finish_call(io, call);
        Ok(())
    }

    /// [`Endpoint::challenge`](crate::sip::Endpoint::challenge).
    pub(in crate::sip) fn challenge(
        &mut self,
        io: &mut Shared,
        now: Instant,
        call: CallId,
        realm: &str,
        nonce: &str,
        stale: bool,
    ) -> Result<(), CallError> {
        let leg = self.inbound_leg(call)?;
        let stale = if stale { ", stale=true" } else { "" };
        let v = format!(
            "Digest realm=\"{realm}\", nonce=\"{nonce}\", qop=\"auth\", algorithm=MD5{stale}"
        );
        self.uas_final(io, now, leg, 401, None, &[("WWW-Authenticate", v)]);
        self.finish_call(io, call);
        Ok(())
    }

    fn uas_provisional(&mut self, io: &mut Shared, _now: Instant, leg_id: u64, code: u16) {
        if let Some((bytes, d, t)) = self.uas_response(leg_id, code, None, &[], None) {
            io.send(d, t, bytes);
        }
    }

    /// Builds the response `code` to the INVITE of UAS leg `leg_id` (our tag, `contact`,
    /// `extra`, `sdp`) and keeps it as the last one sent; with where it goes.
    fn uas_response(
        &mut self,
        leg_id: u64,
        code: u16,
        contact: Option<String>,
        extra: &[(&str, String)],
        sdp: Option<&str>,
    ) -> Option<(Vec<u8>, SocketAddr, Transport)> {
        let leg = self.legs.get_mut(&leg_id)?;
        let tag = leg.dialog.local_tag().to_string();
        let uas = leg.uas.as_mut()?;
        let mut b = response_to(&uas.request, code, Some(&tag)).header_opt("Contact", contact);
        for (k, v) in extra {
            b = b.header(k, v);
        }
        let bytes = b.finish(sdp);
        uas.last = Some(bytes.clone());
        Some((bytes, leg.dialog.dest, leg.dialog.transport))
    }

    /// The final response to the INVITE of UAS leg `leg_id`, retransmitted over UDP until the
    /// ACK (timer G) and given up after 64·T1 (timer H). A 2xx carries `sdp` as our answer.
    pub(in crate::sip) fn uas_final(
        &mut self,
        io: &mut Shared,
        now: Instant,
        leg_id: u64,
        code: u16,
        sdp: Option<String>,
        extra: &[(&str, String)],
    ) {
        let contact = (code < 300).then(|| io.contact(Transport::Udp));
        let (t1, giveup) = (io.cfg.t1, now + io.sixty_four_t1());
        let Some((bytes, d, t)) = self.uas_response(leg_id, code, contact, extra, sdp.as_deref())
        else {
            return;
        };
        let Some(leg) = self.legs.get_mut(&leg_id) else {
            return;
        };
        if let Some(uas) = &mut leg.uas {
            if t != Transport::Tcp {
                uas.retx = Some((now + t1, t1));
                io.timers.set(now + t1, Timer::UasRetransmit(leg_id));
            }
            uas.giveup = Some(giveup);
            io.timers.set(giveup, Timer::UasGiveUp(leg_id));
        }
        leg.state = if code < 300 {
            LegState::Answering
        } else {
            LegState::Rejected
        };
        if code < 300 {
            leg.session.on_local(sdp);
        }
        io.send(d, t, bytes);
    }

    /// Refuses the unanswered inbound `call` (its leg `leg_id`) with `code`, releases any agent
    /// leg and reports `Ended { by }`.
    pub(in crate::sip) fn end_unanswered(
        &mut self,
        io: &mut Shared,
        now: Instant,
        call: CallId,
        leg_id: u64,
        code: u16,
        by: EndedBy,
    ) {
        self.uas_final(io, now, leg_id, code, None, &[]);
        if let Some(a) = self.calls.get(&call).and_then(|c| c.agent) {
            self.close_leg(io, now, a);
        }
        self.finish_call(io, call);
        io.events.push_back(Event::Ended { call, by });
    }

    /// An INVITE without To tag: a retransmission (same response again), a loop (ignored), or a
    /// new inbound call (100 Trying, `InboundCall`).
    pub(in crate::sip) fn on_invite(
        &mut self,
        io: &mut Shared,
        now: Instant,
        from: SocketAddr,
        transport: Transport,
        leg_id: Option<u64>,
        msg: Msg,
    ) {
        if let Some(l) = leg_id.and_then(|id| self.legs.get(&id)) {
            if l.role != Role::Inbound {
                return; // our own INVITE looped back to us
            }
            if let Some(uas) = l.uas.as_ref().filter(|u| u.request.branch == msg.branch) {
                if let Some(r) = uas.last.clone() {
                    let (d, t) = (l.dialog.dest, l.dialog.transport);
                    io.resend(d, t, r);
                }
                return;
            }
            if !matches!(l.state, LegState::Rejected) {
                return; // a second INVITE while the first is live: ignore (loop)
            }
        }
        let call = CallId(io.id());
        let leg_id = io.id();
        let local_tag = io.tag();
        let trunk = io.trunks.by_source(from).map(|t| t.config.name.clone());
        let dialog = Dialog {
            call_id: msg.call_id.clone(),
            local: format!("{};tag={local_tag}", msg.to),
            remote: msg.from.clone(),
            remote_tag: msg.from_tag.clone(),
            target: msg
                .contact
                .clone()
                .unwrap_or_else(|| uri_of(&msg.from).to_string()),
            route_set: msg.record_route.clone(),
            dest: from,
            transport,
            local_cseq: 0,
            remote_cseq: msg.cseq,
        };
        // Anchored unless the source is a `media: flow-i` trunk: an offer outdial cannot serve
        // (no PCMU/PCMA, no audio) is refused with 488 before the application hears of it.
        let flow_i = io
            .trunks
            .by_source(from)
            .is_some_and(|t| t.config.media == MediaMode::FlowI);
        let (session, refused) = if flow_i {
            (Session::offered(msg.body_str()), None)
        } else {
            match Session::anchored_offered(msg.body_str()) {
                Ok(s) => (s, None),
                Err(e) => (Session::offered(msg.body_str()), Some(e)),
            }
        };
        let mut leg = Leg::new(call, Role::Inbound, LegState::Incoming, dialog, session);
        let request_uri = match &msg.start {
            Start::Request { uri, .. } => uri.to_string(),
            Start::Extension { .. } | Start::Response { .. } => String::new(),
        };
        let to_user = user_of(&request_uri);
        let ev = Event::InboundCall {
            call,
            from: user_of(uri_of(&msg.from)),
            to: to_user,
            request_uri,
            offer: msg.body_str(),
            authorization: msg
                .header("Authorization")
                .or_else(|| msg.header("Proxy-Authorization"))
                .map(str::to_string),
            source: from,
            trunk,
        };
        let trying = response_to(&msg, 100, None).finish(None);
        let call_id = msg.call_id.clone();
        leg.uas = Some(ServerInviteTx::new(msg, trying.clone()));
        self.legs.insert(leg_id, leg);
        self.by_call_id.insert(call_id, leg_id);
        let mut c = Call::new(leg_id, None, None);
        c.answered_at = Some(now);
        self.calls.insert(call, c);
        io.send(from, transport, trying);
        if let Some(e) = refused {
            tracing::info!(%from, error = %e, "inbound offer not servable: 488");
            self.uas_final(io, now, leg_id, 488, None, &[]);
            self.finish_call(io, call);
            return;
        }
        io.events.push_back(ev);
    }

    /// The leg `leg_id` (found by Call-ID) when `msg` is in its dialog.
    fn dialog_leg(&self, leg_id: Option<u64>, msg: &Msg) -> Option<u64> {
        let id = leg_id?;
        let l = self.legs.get(&id)?;
        l.dialog.accepts(&DialogKey::of_request(msg)).then_some(id)
    }

    /// A re-INVITE: a target refresh; answered with the session's current SDP (media are never
    /// changed), 488 when we have none, 481 outside any dialog.
    pub(in crate::sip) fn on_reinvite(
        &mut self,
        io: &mut Shared,
        from: SocketAddr,
        transport: Transport,
        leg_id: Option<u64>,
        msg: Msg,
    ) {
        let Some(id) = self.dialog_leg(leg_id, &msg) else {
            let r = response_to(&msg, 481, None).finish(None);
            io.send(from, transport, r);
            return;
        };
        let contact = io.contact(transport);
        let Some(l) = self.legs.get_mut(&id) else {
            return;
        };
        l.dialog.on_reinvite(&msg);
        let offer = msg.body_str();
        let r = match l.session.refresh_answer(offer.as_deref()) {
            Ok(Some(sdp)) => response_to(&msg, 200, None)
                .header("Contact", contact)
                .finish(Some(&sdp)),
            Ok(None) => response_to(&msg, 488, None).finish(None),
            Err(e) => {
                tracing::info!(%from, error = %e, "re-INVITE offer not servable: 488");
                response_to(&msg, 488, None).finish(None)
            }
        };
        io.send(from, transport, r);
    }

    /// A BYE: 200 (481 outside any dialog); the far end ended this leg, so the call ends.
    pub(in crate::sip) fn on_bye(
        &mut self,
        io: &mut Shared,
        now: Instant,
        from: SocketAddr,
        transport: Transport,
        leg_id: Option<u64>,
        msg: Msg,
    ) {
        let Some(id) = self.dialog_leg(leg_id, &msg) else {
            let r = response_to(&msg, 481, None).finish(None);
            io.reply_cached(now, from, transport, &msg, r);
            return;
        };
        let r = response_to(&msg, 200, None).finish(None);
        io.reply_cached(now, from, transport, &msg, r);
        let Some(l) = self.legs.get_mut(&id) else {
            return;
        };
        let (call, role, state) = (l.call, l.role, l.state);
        // The far end ended this leg: no BYE from us on it.
        l.state = LegState::Closing;
        if let Some(u) = &mut l.uas {
            u.retx = None;
        }
        self.forget_leg(io, id);
        if state == LegState::Closing {
            return; // BYEs crossed; we already reported the end
        }
        let is_agent = self.calls.get(&call).is_some_and(|c| c.agent == Some(id));
        let agent_call = self.calls.get(&call).is_some_and(|c| c.agent_call);
        let by = match (role, is_agent || agent_call) {
            (Role::Agent, _) | (_, true) => EndedBy::Agent,
            _ => EndedBy::Customer,
        };
        if let Some(c) = self.calls.get_mut(&call) {
            if c.agent == Some(id) {
                c.agent = None;
            }
        }
        self.end_call(io, now, call, by);
    }

    /// A CANCEL of the INVITE being answered: 200, then 487 to the INVITE and the call ends.
    pub(in crate::sip) fn on_cancel(
        &mut self,
        io: &mut Shared,
        now: Instant,
        from: SocketAddr,
        transport: Transport,
        leg_id: Option<u64>,
        msg: Msg,
    ) {
        let target = leg_id.filter(|id| {
            self.legs
                .get(id)
                .and_then(|l| l.uas.as_ref())
                .is_some_and(|u| u.request.branch == msg.branch)
        });
        let Some(id) = target else {
            let r = response_to(&msg, 481, None).finish(None);
            io.reply_cached(now, from, transport, &msg, r);
            return;
        };
        let tag = self.legs.get(&id).map(|l| l.dialog.local_tag().to_string());
        let r = response_to(&msg, 200, tag.as_deref()).finish(None);
        io.reply_cached(now, from, transport, &msg, r);
        let Some(l) = self.legs.get(&id) else { return };
        if l.state != LegState::Incoming {
            return; // already answered or rejected: the CANCEL has no effect
        }
        let call = l.call;
        self.end_unanswered(io, now, call, id, 487, EndedBy::Customer);
    }

    /// An ACK: confirms our 2xx (with the caller's answer, if any) or ends a rejected INVITE.
    pub(in crate::sip) fn on_ack(&mut self, io: &mut Shared, _now: Instant, msg: Msg) {
        let Some(&id) = self.by_call_id.get(&msg.call_id) else {
            return;
        };
        let Some(l) = self.legs.get_mut(&id) else {
            return;
        };
        match l.state {
            LegState::Answering => {
                l.state = LegState::Confirmed;
                l.stop_uas();
                if let Some(u) = &mut l.uas {
                    u.last = None;
                }
                if let Err(e) = l.session.on_remote(msg.body_str()) {
                    // The ACK's answer to our offer (delayed offer): the dialog is up; the
                    // media plane gets no address for it and the application decides.
                    tracing::info!(error = %e, "ACK answer not servable");
                }
                let call = l.call;
                let is_connected = self.calls.get(&call).is_some_and(|c| c.agent.is_some());
                if !is_connected {
                    io.events.push_back(Event::Acked {
                        call,
                        answer: msg.body_str(),
                    });
                }
            }
            LegState::Rejected => {
                l.stop_uas();
                self.forget_leg(io, id);
            }
            _ => {}
        }
    }

    /// Timer G of UAS leg `leg_id`: the final response again, while no ACK came.
    pub(in crate::sip) fn on_uas_retransmit(
        &mut self,
        io: &mut Shared,
        now: Instant,
        at: Instant,
        leg_id: u64,
    ) {
        let t2 = io.cfg.t2;
        let Some(l) = self.legs.get_mut(&leg_id) else {
            return;
        };
        if !matches!(l.state, LegState::Answering | LegState::Rejected) {
            return;
        }
        let Some(uas) = &mut l.uas else {
            return;
        };
        let Some(next) = uas.on_retransmit_timer(now, at, t2) else {
            return;
        };
        let (d, tr, b) = (l.dialog.dest, l.dialog.transport, uas.last.clone());
        io.timers.set(next, Timer::UasRetransmit(leg_id));
        if let Some(b) = b {
            io.resend(d, tr, b);
        }
    }

    /// Timer H of UAS leg `leg_id`: no ACK for our final response within 64·T1.
    pub(in crate::sip) fn on_uas_give_up(
        &mut self,
        io: &mut Shared,
        now: Instant,
        at: Instant,
        leg_id: u64,
    ) {
        let Some(l) = self.legs.get(&leg_id) else {
            return;
        };
        if l.uas.as_ref().and_then(|u| u.giveup) != Some(at) {
            return;
        }
        let (state, call) = (l.state, l.call);
        match state {
            LegState::Answering => {
                // No ACK for our 2xx within 64·T1: RFC 3261 §13.3.1.4 says BYE.
                if self.calls.contains_key(&call) {
                    self.end_call(io, now, call, EndedBy::Timeout);
                } else {
                    self.send_bye(io, now, leg_id, &[]);
                }
            }
            LegState::Rejected => self.forget_leg(io, leg_id),
            _ => {}
        }
    }
}
