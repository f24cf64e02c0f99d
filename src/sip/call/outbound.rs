//! Outbound legs (UAC): placing a call on a trunk group, the INVITE (with the trunk's
//! presentation and the session's offer), what its responses mean for the call (ringing,
//! answer, failure with the trunk's disposition table, one digest retry), failover to the next
//! trunk of the group on a 5xx or silence, CANCEL (never before a provisional, RFC 3261 §9.1)
//! and the ring timeout. The agent leg's answer is handed to [`super::join`]. It does not match
//! responses to transactions (the endpoint does) nor build in-dialog requests (the dialog does).

use std::time::Instant;

use rsip::Method;

use super::{name_addr, phone_uri, Call, Calls, Leg, LegState, Role};
use crate::media::io::MediaMode;
use crate::sip::dialog::Dialog;
use crate::sip::digest::{self, Challenge};
use crate::sip::disposition::{default_disposition, SipOutcome};
use crate::sip::endpoint::{CallId, Event, PlaceCall, PlaceError, Shared, ANSWER_HEADER};
use crate::sip::message::{Builder, Msg, Start};
use crate::sip::session::Session;
use crate::sip::timer::Timer;
use crate::sip::transaction::{TransactionKey, TxMethod, TxOwner, TxState};
use crate::sip::trunk::UriForm;

impl Calls {
    /// [`Endpoint::place_call`](crate::sip::Endpoint::place_call).
    pub(in crate::sip) fn place_call(
        &mut self,
        io: &mut Shared,
        now: Instant,
        req: PlaceCall,
    ) -> Result<CallId, PlaceError> {
        let g = io
            .trunks
            .group(&req.group)
            .ok_or_else(|| PlaceError::UnknownGroup(req.group.clone()))?;
        let t = io
            .trunks
            .take(g, &[], now)
            .ok_or_else(|| PlaceError::NoCapacity(req.group.clone()))?;
        let call = CallId(io.id());
        let mut c = Call::new(0, Some(g), Some(req));
        c.tried.push(t);
        self.calls.insert(call, c);
        self.invite_trunk(io, now, call, t);
        Ok(call)
    }

    /// Sends the INVITE of `call` to trunk `t` on a new customer leg.
    fn invite_trunk(&mut self, io: &mut Shared, now: Instant, call: CallId, t: usize) {
        let Some(p) = self.calls.get(&call).and_then(|c| c.place.clone()) else {
            return;
        };
        let trunk = io.trunks.trunk(t);
        let transport = trunk.config.transport;
        let target = trunk.request_uri(&p.number);
        let ip = io.cfg.local_addr.ip();
        let user = trunk.from_user(&p.caller_id);
        let from = name_addr(trunk.from_display(), &phone_uri(user, ip));
        let mut extra = String::new();
        if let Some(pai) = trunk.asserted_identity(user) {
            let uri = match trunk.config.uri_form {
                UriForm::Tel if pai.as_str().starts_with('+') => format!("tel:{}", pai.as_str()),
                _ => phone_uri(pai, ip),
            };
            extra.push_str(&format!(
                "P-Asserted-Identity: {}\r\n",
                name_addr(trunk.from_display(), &uri)
            ));
        }
        if let Some(privacy) = &trunk.config.privacy {
            extra.push_str(&format!("Privacy: {privacy}\r\n"));
        }
        if trunk.config.internal_headers {
            for h in &p.headers {
                extra.push_str(&format!("{}: {}\r\n", h.name(), h.value()));
            }
        }
        // RFC 3261 §8.1.2: an outbound proxy is a preloaded route set of one loose router.
        let (dest, route_set) = match trunk.proxy {
            Some(proxy) => (proxy, vec![format!("<sip:{proxy};lr>")]),
            None => (trunk.addr, vec![]),
        };
        let local_tag = io.tag();
        let call_id = io.new_call_id();
        let leg_id = io.id();
        let dialog = Dialog {
            call_id: call_id.clone(),
            local: format!("{from};tag={local_tag}"),
            remote: format!("<{target}>"),
            remote_tag: None,
            target,
            route_set,
            dest,
            transport,
            local_cseq: 1,
            remote_cseq: 0,
        };
        let session = match (&p.offer, io.trunks.trunk(t).config.media) {
            (Some(offer), MediaMode::Anchor) => Session::anchored_offer(offer.clone()),
            _ => Session::offering(p.offer.clone()),
        };
        let mut leg = Leg::new(call, Role::Customer, LegState::Calling, dialog, session);
        leg.trunk = Some(t);
        leg.auth_tried = false;
        leg.extra = extra;
        leg.ring_at = Some(now + p.ring_timeout);
        self.legs.insert(leg_id, leg);
        self.by_call_id.insert(call_id, leg_id);
        if let Some(c) = self.calls.get_mut(&call) {
            c.customer = leg_id;
        }
        io.timers.set(now + p.ring_timeout, Timer::Ring(leg_id));
        self.send_invite(io, now, leg_id, None);
    }

    /// Sends (or re-sends with credentials) the INVITE of UAC leg `leg_id`, with the session's
    /// offer as body (none under flow I).
    pub(in crate::sip) fn send_invite(
        &mut self,
        io: &mut Shared,
        now: Instant,
        leg_id: u64,
        authorization: Option<(&str, String)>,
    ) {
        let tx = io.id();
        let Some(leg) = self.legs.get(&leg_id) else {
            return;
        };
        let d = &leg.dialog;
        let mut b = Builder::request(Method::Invite, &d.target)
            .header("Via", io.via(d.transport, tx))
            .header("Max-Forwards", 70);
        // Before the 2xx the route set is the preloaded one (outbound proxy), if any.
        for r in &d.route_set {
            b = b.header("Route", r);
        }
        b = b
            .header("From", &d.local)
            .header("To", &d.remote)
            .header("Call-ID", &d.call_id)
            .header("CSeq", format_args!("{} INVITE", d.local_cseq))
            .header("Contact", io.contact(d.transport))
            .header("Allow", "INVITE, ACK, CANCEL, BYE, OPTIONS");
        if let Some((name, value)) = &authorization {
            b = b.header(name, value);
        }
        let mut bytes = b.finish(None);
        if !leg.extra.is_empty() || leg.session.local.is_some() {
            // Rebuild with the extra headers before the Content-Length line.
            let s = String::from_utf8_lossy(&bytes).into_owned();
            let cut = s.find("Content-Length").unwrap_or(s.len());
            let mut out = String::with_capacity(s.len() + leg.extra.len() + 300);
            out.push_str(&s[..cut]);
            out.push_str(&leg.extra);
            match &leg.session.local {
                Some(sdp) => out.push_str(&format!(
                    "Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
                    sdp.len()
                )),
                None => out.push_str("Content-Length: 0\r\n\r\n"),
            }
            bytes = out.into_bytes();
        }
        let next_hop = (d.dest, d.transport);
        let key = TransactionKey {
            branch: tx,
            method: TxMethod::Invite,
        };
        if let Some(l) = self.legs.get_mut(&leg_id) {
            l.invite_tx = Some(key);
        }
        io.start_tx(now, key, TxOwner::Leg(leg_id), next_hop, bytes);
    }

    /// A provisional to our INVITE: a pending CANCEL goes now; the first 180/183 of a customer
    /// leg is `Ringing`; the first 18x with SDP of an early-offer customer leg is `EarlyMedia`.
    pub(in crate::sip) fn on_provisional(
        &mut self,
        io: &mut Shared,
        now: Instant,
        leg_id: u64,
        code: u16,
        msg: &Msg,
    ) {
        let Some(leg) = self.legs.get_mut(&leg_id) else {
            return;
        };
        if code == 100 {
            if leg.cancel_pending {
                leg.cancel_pending = false;
                self.send_cancel(io, now, leg_id);
            }
            return;
        }
        let first = leg.state == LegState::Calling;
        if first {
            leg.state = LegState::Ringing;
        }
        let (role, call) = (leg.role, leg.call);
        if leg.cancel_pending {
            leg.cancel_pending = false;
            self.send_cancel(io, now, leg_id);
            return;
        }
        if first && role == Role::Customer && (code == 180 || code == 183) {
            io.events.push_back(Event::Ringing { call });
        }
        self.on_early_sdp(io, leg_id, msg);
    }

    /// Early media: a 18x with SDP answers an early offer (RFC 3960). Reported once per call;
    /// an answer outdial cannot serve is kept off the media plane (the 2xx decides).
    fn on_early_sdp(&mut self, io: &mut Shared, leg_id: u64, msg: &Msg) {
        let Some(leg) = self.legs.get_mut(&leg_id) else {
            return;
        };
        let (Role::Customer, true, Some(sdp)) =
            (leg.role, leg.session.we_offered(), msg.body_str())
        else {
            return;
        };
        if let Err(e) = leg.session.on_remote(Some(sdp.clone())) {
            tracing::debug!(error = %e, "early media SDP not servable");
        }
        let call = leg.call;
        if let Some(c) = self.calls.get_mut(&call).filter(|c| !c.early_media) {
            c.early_media = true;
            io.events.push_back(Event::EarlyMedia { call, sdp });
        }
    }

    /// The first 2xx to our INVITE: the dialog learns its route and target, the session the
    /// far end's SDP; then the call rule for the leg's role.
    pub(in crate::sip) fn on_2xx(&mut self, io: &mut Shared, now: Instant, leg_id: u64, msg: Msg) {
        let Some(leg) = self.legs.get(&leg_id) else {
            return;
        };
        let proxy = leg.trunk.and_then(|t| io.trunks.trunk(t).proxy);
        let Some(leg) = self.legs.get_mut(&leg_id) else {
            return;
        };
        leg.dialog.on_2xx(&msg, proxy);
        let servable = leg.session.on_remote(msg.body_str());
        let (role, call, prev) = (leg.role, leg.call, leg.state);
        if prev == LegState::Cancelling {
            // A 200 crossed our CANCEL: ACK it, then BYE; the attempt counts as no answer.
            let ans = if leg.session.we_offered() {
                None
            } else {
                leg.session.decline()
            };
            self.ack_2xx(io, now, leg_id, ans.as_deref());
            self.close_leg(io, now, leg_id);
            if role == Role::Customer {
                self.fail_call(io, call, Some(200), SipOutcome::NoAnswer);
            } else {
                self.agent_failed(io, now, call, leg_id, Some(487));
            }
            return;
        }
        if let (Err(e), Role::Customer) = (servable, role) {
            self.refuse_answer(io, now, leg_id, call, &e);
            return;
        }
        match role {
            Role::Customer => self.on_customer_answered(io, now, leg_id, call, &msg),
            Role::Agent => self.on_agent_answered(io, now, leg_id, call),
            Role::Inbound => {}
        }
    }

    /// The 2xx answered our early offer with SDP outdial cannot serve (only G.729, no audio,
    /// port 0...). RFC 3261 §13.2.2.4: a 2xx is always ACKed, and a UAC that does not want the
    /// session then sends BYE; the BYE says why (`Reason: SIP;cause=488`). No CANCEL: the INVITE
    /// is already answered. The call fails with 488 (mapped by the trunk's table), no failover:
    /// the customer has picked up already and must not ring again.
    fn refuse_answer(
        &mut self,
        io: &mut Shared,
        now: Instant,
        leg_id: u64,
        call: CallId,
        why: &crate::media::sdp::SdpError,
    ) {
        tracing::info!(%call, error = %why, "answer SDP not servable: ACK then BYE");
        self.ack_2xx(io, now, leg_id, None);
        let reason = "SIP;cause=488;text=\"Not Acceptable Here\"".to_string();
        self.send_bye(io, now, leg_id, &[("Reason", reason)]);
        let disp = self
            .legs
            .get(&leg_id)
            .and_then(|l| l.trunk)
            .map(|t| io.trunks.trunk(t).config.dispositions.map(488))
            .unwrap_or_else(|| default_disposition(488));
        self.fail_call(io, call, Some(488), disp);
    }

    /// The customer answered: ACK at once when we made the offer, else (flow I) hold the ACK
    /// until the agent's answer, at most `ack_hold`.
    fn on_customer_answered(
        &mut self,
        io: &mut Shared,
        now: Instant,
        leg_id: u64,
        call: CallId,
        msg: &Msg,
    ) {
        let machine = msg
            .header(ANSWER_HEADER)
            .map(|v| v.trim().eq_ignore_ascii_case("machine"))
            .unwrap_or(false);
        let offer = msg.body_str();
        if let Some(c) = self.calls.get_mut(&call) {
            c.answered_at = Some(now);
        }
        let early_offer = self
            .legs
            .get(&leg_id)
            .is_some_and(|l| l.session.we_offered());
        if early_offer {
            self.ack_2xx(io, now, leg_id, None);
        } else {
            let at = now + io.cfg.ack_hold;
            if let Some(l) = self.legs.get_mut(&leg_id) {
                l.state = LegState::AwaitingAck;
                l.ack_hold = Some(at);
            }
            io.timers.set(at, Timer::AckHold(leg_id));
        }
        io.events.push_back(Event::Answered {
            call,
            machine,
            offer,
        });
    }

    /// Sends the ACK for the 2xx of UAC leg `leg_id` (new branch, CSeq of the INVITE) with
    /// `sdp`, and stores it on the INVITE transaction so retransmitted 2xx are re-ACKed.
    pub(in crate::sip) fn ack_2xx(
        &mut self,
        io: &mut Shared,
        _now: Instant,
        leg_id: u64,
        sdp: Option<&str>,
    ) {
        let ack_branch = io.id();
        let Some((bytes, dest, transport)) =
            self.in_dialog_request(io, leg_id, Method::Ack, ack_branch, &[], sdp)
        else {
            return;
        };
        if let Some(l) = self.legs.get_mut(&leg_id) {
            l.state = LegState::Confirmed;
            l.ack_hold = None;
            l.session.on_local_answer(sdp);
            if let Some(tx) = l.invite_tx.and_then(|t| io.txs.get_mut(&t)) {
                // Re-ACKs of retransmitted 2xx take the dialog's path, not the INVITE's.
                tx.bytes = bytes.clone();
                tx.dest = dest;
            }
        }
        io.send(dest, transport, bytes);
    }

    /// A final failure of our INVITE (`code`, `None` for no response): one digest retry with
    /// the trunk's credentials, else the call fails (or fails over) or the agent leg fails.
    pub(in crate::sip) fn on_final_failure(
        &mut self,
        io: &mut Shared,
        now: Instant,
        leg_id: u64,
        code: Option<u16>,
        msg: &Msg,
    ) {
        let Some(leg) = self.legs.get(&leg_id) else {
            return;
        };
        let (role, call, auth_tried, trunk) = (leg.role, leg.call, leg.auth_tried, leg.trunk);
        let target = leg.dialog.target.clone();
        // Digest challenge: retry once with credentials of the trunk.
        if let (Some(c @ (401 | 407)), false, Some(t)) = (code, auth_tried, trunk) {
            let hname = if c == 401 {
                "WWW-Authenticate"
            } else {
                "Proxy-Authenticate"
            };
            let creds = io.trunks.trunk(t).config.credentials.clone();
            if let (Some(creds), Some(ch)) = (creds, msg.header(hname).and_then(Challenge::parse)) {
                let cnonce = io.tag();
                let auth = digest::authorization(&creds, &ch, "INVITE", &target, &cnonce);
                let name = if c == 401 {
                    "Authorization"
                } else {
                    "Proxy-Authorization"
                };
                if let Some(l) = self.legs.get_mut(&leg_id) {
                    l.auth_tried = true;
                    l.dialog.local_cseq += 1;
                    l.state = LegState::Calling;
                }
                self.send_invite(io, now, leg_id, Some((name, auth)));
                return;
            }
        }
        let cancelled = leg.state == LegState::Cancelling;
        match role {
            Role::Customer => {
                let table = leg
                    .trunk
                    .map(|t| io.trunks.trunk(t).config.dispositions.clone());
                let disp = match (cancelled, code) {
                    (true, _) => SipOutcome::NoAnswer,
                    (false, Some(c)) => table
                        .map(|t| t.map(c))
                        .unwrap_or_else(|| default_disposition(c)),
                    (false, None) => SipOutcome::TrunkFailure,
                };
                self.forget_leg(io, leg_id);
                if disp == SipOutcome::TrunkFailure && self.failover(io, now, call) {
                    return;
                }
                self.fail_call(io, call, code, disp);
            }
            Role::Agent => {
                // agent_failed reads the leg (agent URI, announcement flag): forget it after.
                self.agent_failed(io, now, call, leg_id, code);
                self.forget_leg(io, leg_id);
            }
            Role::Inbound => {}
        }
    }

    /// Timer B of our INVITE: no final response. Nothing at all from a trunk means it is
    /// unreachable (down, and the call fails over); after a provisional it is no answer.
    pub(in crate::sip) fn on_invite_timeout(
        &mut self,
        io: &mut Shared,
        now: Instant,
        leg_id: u64,
        prov: bool,
    ) {
        let Some(l) = self.legs.get(&leg_id) else {
            return;
        };
        let (role, call, trunk) = (l.role, l.call, l.trunk);
        if role == Role::Customer && !prov {
            if let Some(t) = trunk {
                io.trunk_down(now, t, "INVITE: no response");
            }
            self.on_final_failure(io, now, leg_id, None, &no_response());
        } else if role == Role::Customer {
            self.forget_leg(io, leg_id);
            self.fail_call(io, call, None, SipOutcome::NoAnswer);
        } else {
            self.forget_leg(io, leg_id);
            self.agent_failed(io, now, call, leg_id, None);
        }
    }

    /// Re-places a call that failed on a trunk at once on the next untried trunk of its group.
    fn failover(&mut self, io: &mut Shared, now: Instant, call: CallId) -> bool {
        let Some(c) = self.calls.get(&call) else {
            return false;
        };
        let Some(g) = c.group else { return false };
        let tried = c.tried.clone();
        match io.trunks.take(g, &tried, now) {
            Some(t) => {
                if let Some(c) = self.calls.get_mut(&call) {
                    c.tried.push(t);
                }
                self.invite_trunk(io, now, call, t);
                true
            }
            None => false,
        }
    }

    /// The call ends unanswered: `Failed`, once.
    pub(in crate::sip) fn fail_call(
        &mut self,
        io: &mut Shared,
        call: CallId,
        code: Option<u16>,
        disposition: SipOutcome,
    ) {
        if self.calls.contains_key(&call) {
            self.finish_call(io, call);
            io.events.push_back(Event::Failed {
                call,
                code,
                disposition,
            });
        }
    }

    /// Cancels an unanswered UAC leg, or marks the CANCEL pending until a provisional comes.
    pub(in crate::sip) fn cancel_leg(&mut self, io: &mut Shared, now: Instant, leg_id: u64) {
        let Some(leg) = self.legs.get_mut(&leg_id) else {
            return;
        };
        let had_provisional = leg.state == LegState::Ringing
            || leg
                .invite_tx
                .and_then(|t| io.txs.get(&t))
                .is_some_and(|t| t.got_provisional);
        leg.state = LegState::Cancelling;
        if had_provisional {
            self.send_cancel(io, now, leg_id);
        } else {
            // RFC 3261 §9.1: no CANCEL before a provisional response; send it when one comes.
            leg.cancel_pending = true;
        }
    }

    /// The CANCEL of the leg's INVITE: its own transaction on the INVITE's branch.
    fn send_cancel(&mut self, io: &mut Shared, now: Instant, leg_id: u64) {
        let Some(leg) = self.legs.get(&leg_id) else {
            return;
        };
        let Some(inv_key) = leg.invite_tx else { return };
        let Some(inv) = io.txs.get(&inv_key) else {
            return;
        };
        if inv.cancelled || !matches!(inv.state, TxState::Trying | TxState::Proceeding) {
            return;
        }
        let d = &leg.dialog;
        let mut b = Builder::request(Method::Cancel, &d.target)
            .header("Via", io.via(d.transport, inv_key.branch))
            .header("Max-Forwards", 70);
        // RFC 3261 §9.1: the CANCEL carries the INVITE's Route headers and follows its path.
        for r in &d.route_set {
            b = b.header("Route", r);
        }
        let bytes = b
            .header("From", &d.local)
            .header("To", &d.remote)
            .header("Call-ID", &d.call_id)
            .header("CSeq", format_args!("{} CANCEL", d.local_cseq))
            .finish(None);
        let next_hop = (d.dest, d.transport);
        if let Some(inv) = io.txs.get_mut(&inv_key) {
            inv.cancelled = true;
        }
        let key = TransactionKey {
            branch: inv_key.branch,
            method: TxMethod::Cancel,
        };
        io.start_tx(now, key, TxOwner::Leg(leg_id), next_hop, bytes);
    }

    /// The ring timeout of a customer leg fired at `at`: cancel it if it still rings.
    pub(in crate::sip) fn on_ring_timeout(
        &mut self,
        io: &mut Shared,
        now: Instant,
        at: Instant,
        leg_id: u64,
    ) {
        let due = self.legs.get(&leg_id).is_some_and(|l| {
            l.ring_at == Some(at) && matches!(l.state, LegState::Calling | LegState::Ringing)
        });
        if due {
            self.cancel_leg(io, now, leg_id);
        }
    }
}

/// The stand-in for a final response that never came (timer B): no headers, no challenge.
fn no_response() -> Msg {
    Msg {
        start: Start::Response { code: 408 },
        vias: vec![],
        branch: String::new(),
        from: String::new(),
        from_tag: None,
        to: String::new(),
        to_tag: None,
        call_id: String::new(),
        cseq: 0,
        cseq_method: Method::Invite,
        contact: None,
        record_route: vec![],
        other: vec![],
        body: vec![],
    }
}
