//! The sans-IO SIP user agent [`Endpoint`], reduced to routing: it parses each message, finds
//! the client transaction a response belongs to (by [`TransactionKey`]) and lets the
//! transaction layer ([`super::transaction`]) take it first, then hands what is new to the call
//! layer (`super::call`, which owns calls, legs and their dialogs and sessions); requests go by
//! method and Call-ID to the call layer, retransmissions to the response cache. Timers are
//! routed the same way. The public API (commands, `poll_*`) lives here and delegates. Shared
//! services (ids, sending, starting a transaction) are in `shared.rs`, trunk pings in
//! `pings.rs`, the public types in `types.rs`. No call rule lives here. No sockets, no clock, no
//! tokio: see the call order in [`Endpoint`]'s doc.

use std::net::SocketAddr;
use std::time::Instant;

use rsip::Method;

use super::call::Calls;
use super::message::{self, response_to, Msg, Start};
use super::timer::Timer;
use super::transaction::{On2xx, OnFailure, ServerKey, TransactionKey, TxMethod, TxOwner, TxState};
use super::trunk::{Transport, TrunkSet};
use super::values::{ExtraHeader, SipUri};

mod pings;
mod shared;
mod types;
pub use super::call::recovery::{DialogSnapshot, LegSide};
pub(super) use shared::Shared;
pub use types::{
    AgentCall, AgentLeg, CallError, CallId, EndedBy, EndpointConfig, Event, PlaceCall, PlaceError,
    Stats, Transmit, ANSWER_HEADER,
};

/// The SIP user agent core. Sans-IO: feed it input, then drain its output.
///
/// Call order (as in quinn-proto / str0m):
/// 1. inputs — [`handle_datagram`](Self::handle_datagram) for each message received,
///    [`handle_timeout`](Self::handle_timeout) when [`poll_timeout`](Self::poll_timeout) is due,
///    and application commands ([`place_call`](Self::place_call), [`connect`](Self::connect),
///    [`abandon`](Self::abandon), [`hangup`](Self::hangup), [`ring`](Self::ring),
///    [`answer`](Self::answer), [`reject`](Self::reject));
/// 2. after any input, drain [`poll_transmit`](Self::poll_transmit) and
///    [`poll_event`](Self::poll_event) until `None`, then sleep until `poll_timeout()`.
///
/// Every input takes `now`; the core never reads a clock.
pub struct Endpoint {
    /// What the layers share: config, trunks, ids, transactions, timers, output queues.
    io: Shared,
    /// The call layer: calls, their legs (each with its dialog and session).
    calls: Calls,
}

impl Endpoint {
    /// A new endpoint; `now` starts the trunk OPTIONS pings.
    pub fn new(cfg: EndpointConfig, trunks: TrunkSet, now: Instant) -> Self {
        let mut io = Shared::new(cfg, trunks);
        for i in 0..io.trunks.len() {
            if let Some(iv) = io.trunks.trunk(i).ping_interval() {
                io.timers.set(now + iv, Timer::TrunkPing(i));
            }
        }
        Endpoint {
            io,
            calls: Calls::default(),
        }
    }

    // ----- getters -----

    /// Name of the trunk carrying the customer leg of `call` (after any failover), while the
    /// call exists.
    pub fn call_trunk(&self, call: CallId) -> Option<String> {
        let t = self.calls.customer_trunk(call)?;
        self.io.trunks.all().get(t).map(|t| t.config.name.clone())
    }

    /// Counters.
    pub fn stats(&self) -> Stats {
        self.io.stats
    }
    /// SIP legs still open (dialogs, pending INVITEs, BYEs in flight).
    pub fn open_dialogs(&self) -> usize {
        self.calls.legs.len()
    }
    /// Calls in progress (placed or inbound, not yet failed or ended).
    pub fn active_calls(&self) -> usize {
        self.calls.calls.len()
    }
    /// Lines of `group` that may be dialled right now: free channels on in-service trunks,
    /// capped by what each trunk's CPS window still allows. Pacing must not ask for more.
    pub fn available_lines(&mut self, group: &str, now: Instant) -> u32 {
        match self.io.trunks.group(group) {
            Some(g) => self.io.trunks.available(g, now),
            None => 0,
        }
    }
    /// Free channels of `group` on in-service trunks (ignoring the CPS window).
    pub fn free_channels(&self, group: &str) -> u32 {
        self.io
            .trunks
            .group(group)
            .map(|g| self.io.trunks.free_channels(g))
            .unwrap_or(0)
    }
    /// The trunk table (config, health, channels in use), read-only.
    pub fn trunks(&self) -> &[super::trunk::Trunk] {
        self.io.trunks.all()
    }
    /// True when trunk `name` is in service.
    pub fn trunk_in_service(&self, name: &str) -> bool {
        self.io
            .trunks
            .all()
            .iter()
            .any(|t| t.config.name == name && t.health == super::trunk::Health::InService)
    }

    // ----- outputs -----

    /// Next message to send.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.io.pop_transmit()
    }
    /// Next event for the application.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        self.io.events.pop_front()
    }
    /// When to call [`handle_timeout`](Self::handle_timeout) next.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.io.timers.next()
    }

    // ----- application commands (the call layer carries them out) -----

    /// Places a call on `req.group`. Refused (nothing sent) when the group has no line that
    /// respects every trunk's channel and CPS limits right now.
    pub fn place_call(&mut self, now: Instant, req: PlaceCall) -> Result<CallId, PlaceError> {
        self.calls.place_call(&mut self.io, now, req)
    }

    /// Calls an agent's phone directly (no trunk group, no trunk line) with outdial's offer and
    /// the shown identity: a nailed-up connection or a per-call anchored join. Reported like a
    /// customer call (`Ringing`, `Answered` with the phone's SDP, `Failed`, `Ended`); `hangup`
    /// ends it; re-INVITEs (session timers) are answered with outdial's SDP.
    pub fn call_agent(&mut self, now: Instant, req: AgentCall) -> Result<CallId, CallError> {
        Ok(self.calls.call_agent(&mut self.io, now, req))
    }

    /// The far end's media of `call`'s first leg as negotiated from its SDP, when outdial
    /// anchors it and an SDP it can serve arrived (183, 2xx, inbound offer or re-INVITE).
    pub fn negotiated(&self, call: CallId) -> Option<crate::media::io::RemoteMedia> {
        let c = self.calls.calls.get(&call)?;
        self.calls.legs.get(&c.customer)?.session.negotiated()
    }

    /// Joins answered call `call` to `agent` with RFC 3725 flow I (see the module doc). Applies to
    /// outbound calls placed without an offer that are answered and not yet ACKed, and to inbound
    /// calls whose INVITE carried an offer and that are not yet answered.
    pub fn connect(&mut self, now: Instant, call: CallId, agent: SipUri) -> Result<(), CallError> {
        self.calls
            .connect(&mut self.io, now, call, agent, AgentLeg::default())
    }

    /// [`connect`](Self::connect), telling the agent's phone who is calling: From user and
    /// display name, `X-` identifiers and a `Call-Info` to the screen pop (see [`AgentLeg`]).
    pub fn connect_with(
        &mut self,
        now: Instant,
        call: CallId,
        agent: SipUri,
        leg: AgentLeg,
    ) -> Result<(), CallError> {
        self.calls.connect(&mut self.io, now, call, agent, leg)
    }

    /// No agent within patience: join the customer to `announcement` (flow I, as `connect`),
    /// or with `None` end the customer leg with BYE and `Reason: SIP;cause=480`.
    pub fn abandon(
        &mut self,
        now: Instant,
        call: CallId,
        announcement: Option<SipUri>,
    ) -> Result<(), CallError> {
        self.calls.abandon(&mut self.io, now, call, announcement)
    }

    /// Ends `call` from our side: BYE to answered legs, CANCEL to ringing ones, 480 to an
    /// unanswered inbound INVITE. Reports `Ended { by: Local }` (or `Failed` if never answered).
    pub fn hangup(&mut self, now: Instant, call: CallId) -> Result<(), CallError> {
        self.calls.hangup(&mut self.io, now, call)
    }

    /// Sends 180 Ringing on an unanswered inbound call.
    pub fn ring(&mut self, now: Instant, call: CallId) -> Result<(), CallError> {
        self.calls.ring(&mut self.io, now, call)
    }

    /// Answers an inbound call with 200 (`sdp` as body, `headers` such as
    /// `X-Outdial-Answer: machine`); retransmitted until the ACK arrives (RFC 6026).
    pub fn answer(
        &mut self,
        now: Instant,
        call: CallId,
        sdp: Option<String>,
        headers: &[ExtraHeader],
    ) -> Result<(), CallError> {
        self.calls.answer(&mut self.io, now, call, sdp, headers)
    }

    /// Refuses an inbound call with a final status (300..=699), e.g. 486 or 404.
    pub fn reject(&mut self, now: Instant, call: CallId, code: u16) -> Result<(), CallError> {
        self.calls.reject(&mut self.io, now, call, code)
    }

    /// Refuses an inbound call with a digest challenge (401, `realm`, `nonce`, `qop="auth"`,
    /// and `stale=true` when `stale`: the credentials were right over an expired nonce); the
    /// authenticated retry arrives as a new [`Event::InboundCall`] with `authorization` set.
    pub fn challenge(
        &mut self,
        now: Instant,
        call: CallId,
        realm: &str,
        nonce: &str,
        stale: bool,
    ) -> Result<(), CallError> {
        self.calls
            .challenge(&mut self.io, now, call, realm, nonce, stale)
    }

    /// Snapshots of the answered legs of `call` (customer and agent, UAC legs whose 2xx arrived),
    /// customer first. Empty for an unknown call or one not answered yet.
    pub fn dialog_snapshots(&self, call: CallId) -> Vec<DialogSnapshot> {
        self.calls.dialog_snapshots(call)
    }

    /// Ends a leg another process left up: rebuilds it from `snap` and sends BYE. Returns a call
    /// handle that [`Event::Released`] reports once the BYE is answered or timed out; `None`
    /// when this endpoint already has a leg with that Call-ID (it is being ended already).
    pub fn restore_and_end(&mut self, now: Instant, snap: &DialogSnapshot) -> Option<CallId> {
        self.calls.restore_and_end(&mut self.io, now, snap)
    }

    // ----- input: datagrams -----

    /// Handles one received message. Malformed input is counted and dropped.
    pub fn handle_datagram(
        &mut self,
        now: Instant,
        from: SocketAddr,
        transport: Transport,
        bytes: &[u8],
    ) {
        self.io.stats.received += 1;
        if bytes.iter().all(|b| b.is_ascii_whitespace()) {
            return; // CRLF keep-alive
        }
        let msg = match message::parse(bytes) {
            Ok(m) => m,
            Err(e) => {
                self.io.stats.malformed += 1;
                tracing::debug!(%from, error = %e, "dropped malformed sip message");
                return;
            }
        };
        match msg.start {
            Start::Response { code } => self.on_response(now, from, transport, code, msg),
            Start::Request { method, .. } => self.on_request(now, from, transport, method, msg),
            Start::Extension { .. } => self.on_extension(from, transport, msg),
        }
    }

    /// Routes a response to its client transaction: the whole branch must be one we made (its
    /// number and 128 bits of this process's keystream; a guessed counter does not match, nor
    /// does a response to a request of an earlier run) and the CSeq method the request's.
    fn on_response(
        &mut self,
        now: Instant,
        from: SocketAddr,
        transport: Transport,
        code: u16,
        msg: Msg,
    ) {
        let key = self
            .io
            .branches
            .id_of(&msg.branch)
            .zip(TxMethod::of(&msg.cseq_method))
            .map(|(branch, method)| TransactionKey { branch, method });
        let Some((key, tx)) = key.and_then(|k| self.io.txs.get_mut(&k).map(|tx| (k, tx))) else {
            self.io.stats.stray += 1;
            if (200..300).contains(&code) && msg.cseq_method == Method::Invite {
                self.calls
                    .on_stray_2xx(&mut self.io, now, from, transport, &msg);
            }
            return;
        };
        // The IP, not the port: a UAS may send its responses from another port than the one it
        // listens on (RFC 3261 §18.2.2; phones and proxies do).
        if tx.sent_to.ip() != from.ip() {
            self.io.stats.wrong_source += 1;
            tracing::debug!(%from, expected = %tx.sent_to, "dropped response from the wrong address");
            return;
        }
        if key.method == TxMethod::Invite {
            self.on_invite_response(now, key, code, msg);
            return;
        }
        if !tx.on_non_invite_response(code) {
            return;
        }
        let owner = tx.owner;
        self.io.txs.remove(&key);
        match (key.method, owner) {
            (TxMethod::Bye, TxOwner::Leg(leg)) => self.calls.forget_leg(&mut self.io, leg),
            (TxMethod::Options, TxOwner::Trunk(t)) => self.io.on_ping_result(now, t, Some(code)),
            _ => {}
        }
    }

    /// A response to one of our INVITEs: the transaction takes it first (timers, ACK of a
    /// non-2xx, re-ACK of retransmissions), then the call layer gets what is new.
    fn on_invite_response(&mut self, now: Instant, key: TransactionKey, code: u16, msg: Msg) {
        let t1 = self.io.cfg.t1;
        let Some(tx) = self.io.txs.get_mut(&key) else {
            return;
        };
        let TxOwner::Leg(leg_id) = tx.owner else {
            return;
        };
        let (dest, transport) = (tx.dest, tx.transport);
        if code < 200 {
            tx.on_invite_provisional();
            self.calls
                .on_provisional(&mut self.io, now, leg_id, code, &msg);
        } else if code < 300 {
            match tx.on_invite_2xx(now, t1) {
                On2xx::Accepted { end_at } => {
                    self.io.timers.set(end_at, Timer::TxEnd(key));
                    self.calls.on_2xx(&mut self.io, now, leg_id, msg);
                }
                On2xx::Reack(ack) => self.io.resend(dest, transport, ack),
                On2xx::Ignore => {}
            }
        } else {
            match tx.on_invite_failure(now, t1, &msg) {
                OnFailure::Completed { ack, end_at } => {
                    self.io.timers.set(end_at, Timer::TxEnd(key));
                    self.io.send(dest, transport, ack);
                    self.calls
                        .on_final_failure(&mut self.io, now, leg_id, Some(code), &msg);
                }
                OnFailure::Reack(ack) => self.io.resend(dest, transport, ack),
                OnFailure::Ignore => {}
            }
        }
    }

    /// Routes a request: ACK to its dialog, a retransmission to the cached response, the rest
    /// by method to the call layer (a new INVITE, or the leg of its Call-ID).
    fn on_request(
        &mut self,
        now: Instant,
        from: SocketAddr,
        transport: Transport,
        method: Method,
        msg: Msg,
    ) {
        if method == Method::Ack {
            self.calls.on_ack(&mut self.io, now, msg);
            return;
        }
        // Outside a dialog (no To tag: a new INVITE, OPTIONS, a CANCEL): only from allowed
        // sources. The 403 is sent once and not kept, so a flood leaves nothing behind.
        if msg.to_tag.is_none() && !self.io.may_send(from) {
            self.io.stats.forbidden += 1;
            tracing::debug!(%from, %method, "refused a request from a source that is not allowed");
            let r = response_to(&msg, 403, None).finish(None);
            self.io.send(from, transport, r);
            return;
        }
        // Retransmission of a non-INVITE request we answered: same response again.
        if method != Method::Invite {
            if let Some(resp) = self.io.server_cache.get(&ServerKey::of(&msg)) {
                let r = resp.clone();
                self.io.resend(from, transport, r);
                return;
            }
        }
        let leg_id = self.calls.by_call_id.get(&msg.call_id).copied();
        match method {
            Method::Invite if msg.to_tag.is_none() => {
                self.calls
                    .on_invite(&mut self.io, now, from, transport, leg_id, msg)
            }
            Method::Invite => self
                .calls
                .on_reinvite(&mut self.io, from, transport, leg_id, msg),
            Method::Bye => self
                .calls
                .on_bye(&mut self.io, now, from, transport, leg_id, msg),
            Method::Cancel => self
                .calls
                .on_cancel(&mut self.io, now, from, transport, leg_id, msg),
            Method::Options => {
                let r = response_to(&msg, 200, None)
                    .header("Allow", "INVITE, ACK, CANCEL, BYE, OPTIONS")
                    .finish(None);
                self.io.reply_cached(now, from, transport, &msg, r);
            }
            _ => {
                let code = if leg_id.is_some() || msg.to_tag.is_none() {
                    501
                } else {
                    481
                };
                let r = response_to(&msg, code, None).finish(None);
                self.io.reply_cached(now, from, transport, &msg, r);
            }
        }
    }

    /// A request with a method outdial does not know (e.g. `invite`: methods are
    /// case-sensitive): 403 outside a dialog from a source that may not send requests, else 405
    /// with Allow. Stateless: a retransmission gets the same answer again.
    fn on_extension(&mut self, from: SocketAddr, transport: Transport, msg: Msg) {
        if msg.to_tag.is_none() && !self.io.may_send(from) {
            self.io.stats.forbidden += 1;
            let r = response_to(&msg, 403, None).finish(None);
            self.io.send(from, transport, r);
            return;
        }
        tracing::debug!(%from, "refused a request with an unknown method");
        let r = response_to(&msg, 405, None)
            .header("Allow", "INVITE, ACK, CANCEL, BYE, OPTIONS")
            .finish(None);
        self.io.send(from, transport, r);
    }

    // ----- input: timers -----

    /// Fires every timer due at `now`, routing each to its layer.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some((at, t)) = self.io.timers.pop_due(now) {
            match t {
                Timer::Retransmit(key) => self.io.on_retransmit(now, at, key),
                Timer::TxEnd(key) => self.on_tx_end(now, at, key),
                Timer::Ring(leg) => self.calls.on_ring_timeout(&mut self.io, now, at, leg),
                Timer::AckHold(leg) => self.calls.on_ack_hold(&mut self.io, now, at, leg),
                Timer::UasRetransmit(leg) => {
                    self.calls.on_uas_retransmit(&mut self.io, now, at, leg)
                }
                Timer::UasGiveUp(leg) => self.calls.on_uas_give_up(&mut self.io, now, at, leg),
                Timer::ServerCacheEnd(id) => self.io.server_cache.expire(id),
                Timer::TrunkPing(t) => self.io.send_ping(now, t),
            }
        }
    }

    /// Timer B/F (no final response) or D/M/K (forget): the transaction ends; its owner hears
    /// of a timeout.
    fn on_tx_end(&mut self, now: Instant, at: Instant, key: TransactionKey) {
        let Some(tx) = self.io.txs.get(&key) else {
            return;
        };
        if !tx.ends_at(at) {
            return;
        }
        let (state, owner, prov) = (tx.state, tx.owner, tx.got_provisional);
        self.io.txs.remove(&key);
        match (key.method, owner) {
            (TxMethod::Invite, TxOwner::Leg(leg)) => {
                if matches!(state, TxState::Trying | TxState::Proceeding) {
                    self.calls.on_invite_timeout(&mut self.io, now, leg, prov);
                }
            }
            (TxMethod::Bye, TxOwner::Leg(leg)) => self.calls.forget_leg(&mut self.io, leg),
            (TxMethod::Options, TxOwner::Trunk(t)) => self.io.on_ping_result(now, t, None),
            _ => {}
        }
    }
}
