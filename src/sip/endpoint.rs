//! The sans-IO SIP user agent [`Endpoint`]: it owns the tables (calls, legs, client
//! transactions, the server response cache, the timer heap, trunks) and routes — it parses each
//! message, finds the transaction, dialog or call it belongs to, and hands it to that layer
//! ([`super::transaction`], [`super::dialog`], the call layer in `super::call`); timers are
//! routed the same way. It also holds the endpoint-wide services the layers share: ids, tags
//! and branches, sending, starting a client transaction. Call rules (what a 2xx or a BYE means
//! for a call) live in the call layer, not here. No sockets, no clock, no tokio: see the call
//! order in [`Endpoint`]'s doc.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use rsip::Method;

use super::call::{Call, Leg};
use super::message::{self, response_to, Msg, Start};
use super::timer::{Timer, Timers};
use super::transaction::{
    Branches, ClientTx, On2xx, OnFailure, ServerCache, ServerKey, TransactionKey, TxMethod,
    TxOwner, TxState,
};
use super::trunk::{Transport, TrunkSet};

mod pings;
mod recovery;
mod types;
pub use recovery::{DialogSnapshot, LegSide};
pub use types::{
    AgentLeg, CallError, CallId, EndedBy, EndpointConfig, Event, PlaceCall, PlaceError, Stats,
    Transmit, ANSWER_HEADER,
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
    pub(super) cfg: EndpointConfig,
    pub(super) trunks: TrunkSet,
    /// Tags, Call-IDs (ChaCha20: not predictable from its outputs).
    rng: ChaCha20Rng,
    /// Keys branches: the branch of transaction `n` is keystream block of stream `n`.
    branches: Branches,
    /// Out-of-dialog sources allowed (trunks plus `accept_from`); `None`: anyone.
    accept_from: Option<HashSet<IpAddr>>,
    salt: u32,
    next_id: u64,
    pub(super) calls: HashMap<CallId, Call>,
    pub(super) legs: HashMap<u64, Leg>,
    /// Legs by SIP Call-ID: the dialog set a request or stray 2xx is looked up in.
    pub(super) by_call_id: HashMap<String, u64>,
    pub(super) txs: HashMap<TransactionKey, ClientTx>,
    /// Responses to non-INVITE requests we answered, for their retransmissions (timer J).
    server_cache: ServerCache,
    ping_in_flight: Vec<bool>,
    pub(super) timers: Timers,
    transmits: VecDeque<Transmit>,
    pub(super) events: VecDeque<Event>,
    pub(super) stats: Stats,
    /// Legs rebuilt from a dialog snapshot or a stray 2xx (see `recovery`), by leg id.
    restored: HashMap<u64, CallId>,
}

impl Endpoint {
    /// A new endpoint; `now` starts the trunk OPTIONS pings.
    pub fn new(cfg: EndpointConfig, trunks: TrunkSet, now: Instant) -> Self {
        let key = cfg
            .secret
            .unwrap_or_else(|| ChaCha20Rng::seed_from_u64(cfg.seed).gen());
        let mut rng = ChaCha20Rng::from_seed(key);
        let branches = Branches::new(ChaCha20Rng::from_seed(rng.gen()));
        let salt = rng.gen();
        let accept_from = cfg.accept_from.clone().map(|mut ips| {
            ips.extend(trunks.source_ips());
            ips
        });
        let mut ep = Endpoint {
            ping_in_flight: vec![false; trunks.len()],
            cfg,
            trunks,
            rng,
            branches,
            accept_from,
            salt,
            next_id: 1,
            calls: HashMap::new(),
            legs: HashMap::new(),
            by_call_id: HashMap::new(),
            txs: HashMap::new(),
            server_cache: ServerCache::default(),
            timers: Timers::default(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            stats: Stats::default(),
            restored: HashMap::new(),
        };
        for i in 0..ep.trunks.len() {
            if let Some(iv) = ep.trunks.trunk(i).ping_interval() {
                ep.timers.set(now + iv, Timer::TrunkPing(i));
            }
        }
        ep
    }

    // ----- getters -----

    /// Name of the trunk carrying the customer leg of `call` (after any failover), while the
    /// call exists.
    pub fn call_trunk(&self, call: CallId) -> Option<String> {
        let c = self.calls.get(&call)?;
        let t = self.legs.get(&c.customer)?.trunk?;
        self.trunks.all().get(t).map(|t| t.config.name.clone())
    }

    /// Counters.
    pub fn stats(&self) -> Stats {
        self.stats
    }
    /// SIP legs still open (dialogs, pending INVITEs, BYEs in flight).
    pub fn open_dialogs(&self) -> usize {
        self.legs.len()
    }
    /// Calls in progress (placed or inbound, not yet failed or ended).
    pub fn active_calls(&self) -> usize {
        self.calls.len()
    }
    /// Lines of `group` that may be dialled right now: free channels on in-service trunks,
    /// capped by what each trunk's CPS window still allows. Pacing must not ask for more.
    pub fn available_lines(&mut self, group: &str, now: Instant) -> u32 {
        match self.trunks.group(group) {
            Some(g) => self.trunks.available(g, now),
            None => 0,
        }
    }
    /// Free channels of `group` on in-service trunks (ignoring the CPS window).
    pub fn free_channels(&self, group: &str) -> u32 {
        self.trunks
            .group(group)
            .map(|g| self.trunks.free_channels(g))
            .unwrap_or(0)
    }
    /// The trunk table (config, health, channels in use), read-only.
    pub fn trunks(&self) -> &[super::trunk::Trunk] {
        self.trunks.all()
    }
    /// True when trunk `name` is in service.
    pub fn trunk_in_service(&self, name: &str) -> bool {
        self.trunks
            .all()
            .iter()
            .any(|t| t.config.name == name && t.health == super::trunk::Health::InService)
    }

    // ----- outputs -----

    /// Next message to send.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }
    /// Next event for the application.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }
    /// When to call [`handle_timeout`](Self::handle_timeout) next.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next()
    }

    // ----- services shared by the layers -----

    pub(super) fn id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }
    pub(super) fn tag(&mut self) -> String {
        format!("{:x}", self.rng.gen::<u64>())
    }
    /// A fresh SIP Call-ID.
    pub(super) fn new_call_id(&mut self) -> String {
        format!(
            "{:x}{:x}@{}",
            self.rng.gen::<u64>(),
            self.next_id,
            self.cfg.local_addr.ip()
        )
    }
    pub(super) fn via(&self, transport: Transport, branch: u64) -> String {
        let t = match transport {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
        };
        let branch = self.branches.branch(branch);
        format!("SIP/2.0/{t} {};branch={branch};rport", self.cfg.local_addr)
    }
    pub(super) fn contact(&self, transport: Transport) -> String {
        match transport {
            Transport::Udp => format!("<sip:outdial@{}>", self.cfg.local_addr),
            Transport::Tcp => format!("<sip:outdial@{};transport=tcp>", self.cfg.local_addr),
        }
    }
    pub(super) fn send(&mut self, dest: SocketAddr, transport: Transport, payload: Vec<u8>) {
        self.stats.sent += 1;
        self.transmits.push_back(Transmit {
            dest,
            transport,
            payload,
        });
    }
    pub(super) fn resend(&mut self, dest: SocketAddr, transport: Transport, payload: Vec<u8>) {
        self.stats.retransmissions += 1;
        self.transmits.push_back(Transmit {
            dest,
            transport,
            payload,
        });
    }
    pub(super) fn sixty_four_t1(&self) -> Duration {
        self.cfg.t1 * 64
    }

    /// Starts client transaction `key` for `bytes`, sends it and sets its timers.
    pub(super) fn start_tx(
        &mut self,
        now: Instant,
        key: TransactionKey,
        owner: TxOwner,
        (dest, transport): (SocketAddr, Transport),
        bytes: Vec<u8>,
    ) {
        let tx = ClientTx::new(now, owner, dest, transport, bytes.clone(), self.cfg.t1);
        if let Some(at) = tx.retransmit_at() {
            self.timers.set(at, Timer::Retransmit(key));
        }
        self.timers.set(tx.end_at, Timer::TxEnd(key));
        self.send(dest, transport, bytes);
        self.txs.insert(key, tx);
    }

    /// An in-dialog request of leg `leg_id` in transaction (branch) `branch`, built by its
    /// dialog: bytes and next hop. `None` when the leg is gone.
    pub(super) fn in_dialog_request(
        &mut self,
        leg_id: u64,
        method: Method,
        branch: u64,
        extra: &[(&str, String)],
        sdp: Option<&str>,
    ) -> Option<(Vec<u8>, SocketAddr, Transport)> {
        let transport = self.legs.get(&leg_id)?.dialog.transport;
        let via = self.via(transport, branch);
        let leg = self.legs.get_mut(&leg_id)?;
        Some(leg.dialog.request(method, via, extra, sdp))
    }

    /// True when `from` may send requests outside a dialog ([`EndpointConfig::accept_from`]).
    pub(super) fn may_send(&self, from: SocketAddr) -> bool {
        self.accept_from
            .as_ref()
            .is_none_or(|ips| ips.contains(&from.ip()))
    }

    /// Sends a response to a non-INVITE request and keeps it for retransmissions (timer J).
    pub(super) fn reply_cached(
        &mut self,
        now: Instant,
        from: SocketAddr,
        transport: Transport,
        msg: &Msg,
        bytes: Vec<u8>,
    ) {
        if transport == Transport::Udp {
            let id = self.id();
            self.server_cache
                .insert(id, ServerKey::of(msg), bytes.clone());
            self.timers
                .set(now + self.sixty_four_t1(), Timer::ServerCacheEnd(id));
        }
        self.send(from, transport, bytes);
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
        self.stats.received += 1;
        if bytes.iter().all(|b| b.is_ascii_whitespace()) {
            return; // CRLF keep-alive
        }
        let msg = match message::parse(bytes) {
            Ok(m) => m,
            Err(e) => {
                self.stats.malformed += 1;
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
            .branches
            .id_of(&msg.branch)
            .zip(TxMethod::of(&msg.cseq_method))
            .map(|(branch, method)| TransactionKey { branch, method });
        let Some((key, tx)) = key.and_then(|k| self.txs.get_mut(&k).map(|tx| (k, tx))) else {
            self.stats.stray += 1;
            if (200..300).contains(&code) && msg.cseq_method == Method::Invite {
                self.on_stray_2xx(now, from, transport, &msg);
            }
            return;
        };
        // The IP, not the port: a UAS may send its responses from another port than the one it
        // listens on (RFC 3261 §18.2.2; phones and proxies do).
        if tx.sent_to.ip() != from.ip() {
            self.stats.wrong_source += 1;
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
        self.txs.remove(&key);
        match (key.method, owner) {
            (TxMethod::Bye, TxOwner::Leg(leg)) => self.forget_leg(leg),
            (TxMethod::Options, TxOwner::Trunk(t)) => self.on_ping_result(now, t, Some(code)),
            _ => {}
        }
    }

    /// A response to one of our INVITEs: the transaction takes it first (timers, ACK of a
    /// non-2xx, re-ACK of retransmissions), then the call layer gets what is new.
    fn on_invite_response(&mut self, now: Instant, key: TransactionKey, code: u16, msg: Msg) {
        let t1 = self.cfg.t1;
        let Some(tx) = self.txs.get_mut(&key) else {
            return;
        };
        let TxOwner::Leg(leg_id) = tx.owner else {
            return;
        };
        let (dest, transport) = (tx.dest, tx.transport);
        if code < 200 {
            tx.on_invite_provisional();
            self.on_provisional(now, leg_id, code);
        } else if code < 300 {
            match tx.on_invite_2xx(now, t1) {
                On2xx::Accepted { end_at } => {
                    self.timers.set(end_at, Timer::TxEnd(key));
                    self.on_2xx(now, leg_id, msg);
                }
                On2xx::Reack(ack) => self.resend(dest, transport, ack),
                On2xx::Ignore => {}
            }
        } else {
            match tx.on_invite_failure(now, t1, &msg) {
                OnFailure::Completed { ack, end_at } => {
                    self.timers.set(end_at, Timer::TxEnd(key));
                    self.send(dest, transport, ack);
                    self.on_final_failure(now, leg_id, Some(code), &msg);
                }
                OnFailure::Reack(ack) => self.resend(dest, transport, ack),
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
            self.on_ack(now, msg);
            return;
        }
        // Outside a dialog (no To tag: a new INVITE, OPTIONS, a CANCEL): only from allowed
        // sources. The 403 is sent once and not kept, so a flood leaves nothing behind.
        if msg.to_tag.is_none() && !self.may_send(from) {
            self.stats.forbidden += 1;
            tracing::debug!(%from, %method, "refused a request from a source that is not allowed");
            let r = response_to(&msg, 403, None).finish(None);
            self.send(from, transport, r);
            return;
        }
        // Retransmission of a non-INVITE request we answered: same response again.
        if method != Method::Invite {
            if let Some(resp) = self.server_cache.get(&ServerKey::of(&msg)) {
                let r = resp.clone();
                self.resend(from, transport, r);
                return;
            }
        }
        let leg_id = self.by_call_id.get(&msg.call_id).copied();
        match method {
            Method::Invite if msg.to_tag.is_none() => {
                self.on_invite(now, from, transport, leg_id, msg)
            }
            Method::Invite => self.on_reinvite(from, transport, leg_id, msg),
            Method::Bye => self.on_bye(now, from, transport, leg_id, msg),
            Method::Cancel => self.on_cancel(now, from, transport, leg_id, msg),
            Method::Options => {
                let r = response_to(&msg, 200, None)
                    .header("Allow", "INVITE, ACK, CANCEL, BYE, OPTIONS")
                    .finish(None);
                self.reply_cached(now, from, transport, &msg, r);
            }
            _ => {
                let code = if leg_id.is_some() || msg.to_tag.is_none() {
                    501
                } else {
                    481
                };
                let r = response_to(&msg, code, None).finish(None);
                self.reply_cached(now, from, transport, &msg, r);
            }
        }
    }

    /// A request with a method outdial does not know (e.g. `invite`: methods are
    /// case-sensitive): 403 outside a dialog from a source that may not send requests, else 405
    /// with Allow. Stateless: a retransmission gets the same answer again.
    fn on_extension(&mut self, from: SocketAddr, transport: Transport, msg: Msg) {
        if msg.to_tag.is_none() && !self.may_send(from) {
            self.stats.forbidden += 1;
            let r = response_to(&msg, 403, None).finish(None);
            self.send(from, transport, r);
            return;
        }
        tracing::debug!(%from, "refused a request with an unknown method");
        let r = response_to(&msg, 405, None)
            .header("Allow", "INVITE, ACK, CANCEL, BYE, OPTIONS")
            .finish(None);
        self.send(from, transport, r);
    }

    // ----- input: timers -----

    /// Fires every timer due at `now`, routing each to its layer.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some((at, t)) = self.timers.pop_due(now) {
            match t {
                Timer::Retransmit(key) => self.on_retransmit(now, at, key),
                Timer::TxEnd(key) => self.on_tx_end(now, at, key),
                Timer::Ring(leg) => self.on_ring_timeout(now, at, leg),
                Timer::AckHold(leg) => self.on_ack_hold(now, at, leg),
                Timer::UasRetransmit(leg) => self.on_uas_retransmit(now, at, leg),
                Timer::UasGiveUp(leg) => self.on_uas_give_up(now, at, leg),
                Timer::ServerCacheEnd(id) => self.server_cache.expire(id),
                Timer::TrunkPing(t) => self.send_ping(now, t),
            }
        }
    }

    fn on_retransmit(&mut self, now: Instant, at: Instant, key: TransactionKey) {
        let t2 = self.cfg.t2;
        let Some(tx) = self.txs.get_mut(&key) else {
            return;
        };
        let Some(next) = tx.on_retransmit_timer(key.method, now, at, t2) else {
            return;
        };
        let (d, t, b) = (tx.dest, tx.transport, tx.bytes.clone());
        self.timers.set(next, Timer::Retransmit(key));
        self.resend(d, t, b);
    }

    /// Timer B/F (no final response) or D/M/K (forget): the transaction ends; its owner hears
    /// of a timeout.
    fn on_tx_end(&mut self, now: Instant, at: Instant, key: TransactionKey) {
        let Some(tx) = self.txs.get(&key) else { return };
        if !tx.ends_at(at) {
            return;
        }
        let (state, owner, prov) = (tx.state, tx.owner, tx.got_provisional);
        self.txs.remove(&key);
        match (key.method, owner) {
            (TxMethod::Invite, TxOwner::Leg(leg)) => {
                if matches!(state, TxState::Trying | TxState::Proceeding) {
                    self.on_invite_timeout(now, leg, prov);
                }
            }
            (TxMethod::Bye, TxOwner::Leg(leg)) => self.forget_leg(leg),
            (TxMethod::Options, TxOwner::Trunk(t)) => self.on_ping_result(now, t, None),
            _ => {}
        }
    }
}
