//! The sans-IO SIP user agent: transactions (RFC 3261 §17 with RFC 6026), dialogs, outbound calls
//! over trunk groups with failover, inbound calls (UAS), and the RFC 3725 flow I join to agents.
//! No sockets, no clock, no tokio: see the call order in [`Endpoint`]'s doc.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use rsip::Method;

use super::digest::{self, Challenge};
use super::disposition::{default_disposition, SipOutcome};
use super::message::{self, response_to, uri_addr, uri_has_param, uri_of, Builder, Msg, Start};
use super::timer::{Timer, Timers};
use super::trunk::{Transport, TrunkSet};
use super::values::{CallInfo, CallerId, DisplayName, ExtraHeader, SipUri, E164};

mod recovery;
pub use recovery::{DialogSnapshot, LegSide};

/// Header a trunk puts in its 200 OK when a machine answered (`X-Outdial-Answer: machine`).
pub const ANSWER_HEADER: &str = "X-Outdial-Answer";

/// Handle of one call (the customer leg plus, once connected, its agent leg). Not a SIP Call-ID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CallId(pub u64);

impl std::fmt::Display for CallId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "call-{}", self.0)
    }
}

/// Timing and identity of an endpoint.
#[derive(Debug, Clone)]
pub struct EndpointConfig {
    /// Address written in Via and Contact (the bound socket's address).
    pub local_addr: SocketAddr,
    /// RFC 3261 T1 (RTT estimate), 500 ms.
    pub t1: Duration,
    /// RFC 3261 T2 (cap on non-INVITE retransmit interval), 4 s.
    pub t2: Duration,
    /// How long flow I keeps an answered customer leg un-ACKed waiting for `connect` or
    /// `abandon` before ending it itself. Must stay below 64·T1 (the far end's give-up time).
    pub ack_hold: Duration,
    /// Seed for tags, Call-IDs and branches when `secret` is `None`: tests and the simulator
    /// use a fixed one, so a run repeats exactly.
    pub seed: u64,
    /// 256 bits from the OS RNG that key tags, Call-IDs and branches (ChaCha20) instead of
    /// `seed`. The live shell ([`super::driver::spawn`]) fills it, so nobody on the wire can
    /// guess the next branch or tag from the ones seen before.
    pub secret: Option<[u8; 32]>,
    /// Who may send requests outside a dialog (a new INVITE, OPTIONS, …). `None`: anyone (the
    /// synthetic peers, tests). `Some(ips)`: the configured trunks (their address and outbound
    /// proxy) and these IP addresses (the engine passes its agents'); any other source gets
    /// 403, counted in [`Stats::forbidden`], and leaves no state behind.
    pub accept_from: Option<HashSet<IpAddr>>,
}

impl EndpointConfig {
    /// RFC defaults (T1 500 ms, T2 4 s) and a 20 s ACK hold.
    pub fn new(local_addr: SocketAddr) -> Self {
        EndpointConfig {
            local_addr,
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
            ack_hold: Duration::from_secs(20),
            seed: 1,
            secret: None,
            accept_from: None,
        }
    }
}

/// Where a call goes and what it carries.
#[derive(Debug, Clone)]
pub struct PlaceCall {
    /// Trunk group name.
    pub group: String,
    /// The number dialled (the only lead data that reaches a header).
    pub number: E164,
    /// User part of our From URI (the campaign's caller ID; a trunk's `from_user` overrides it).
    pub caller_id: CallerId,
    /// outdial's own `X-` identifiers (lead, campaign): sent only to trunks whose
    /// `internal_headers` is on.
    pub headers: Vec<ExtraHeader>,
    /// Ringing longer than this is cancelled (the campaign enforces ≥ 15 s; any value works here).
    pub ring_timeout: Duration,
    /// SDP offer to send in the INVITE. `None` (the dialler's default) means flow I: the customer
    /// makes the offer in its 200 and the leg waits for [`Endpoint::connect`] before the ACK.
    pub offer: Option<String>,
}

/// What the agent's phone is told about the call it is offered (see [`Endpoint::connect_with`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AgentLeg {
    /// User part of From. Default: the customer's number (outbound), or the caller's user part
    /// when it is a valid caller ID (inbound), else `outdial`.
    pub from_user: Option<CallerId>,
    /// Display name of From (e.g. the lead's name where the campaign allows it).
    pub display: Option<DisplayName>,
    /// `X-` headers (lead, campaign) for the agent's desktop.
    pub headers: Vec<ExtraHeader>,
    /// `Call-Info` pointing at the screen pop.
    pub call_info: Option<CallInfo>,
}

/// Who ended a call that was answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndedBy {
    /// The customer (or the remote caller of an inbound call) sent BYE or CANCEL.
    Customer,
    /// The agent (or announcement) sent BYE.
    Agent,
    /// We did (hangup, abandon).
    Local,
    /// A protocol timer ran out (no ACK, ACK hold, BYE timeout).
    Timeout,
}

/// What happened, for the application. Every call ends with exactly one `Failed` or `Ended`.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The customer's phone rings (first 180/183).
    Ringing {
        /// The call.
        call: CallId,
    },
    /// The customer answered (200). With flow I the leg is not yet ACKed: call `connect` or
    /// `abandon` within `ack_hold`.
    Answered {
        /// The call.
        call: CallId,
        /// The trunk said `X-Outdial-Answer: machine`.
        machine: bool,
        /// The SDP in the 200 (the customer's offer under flow I).
        offer: Option<String>,
    },
    /// The attempt ended without an answer (after any failover).
    Failed {
        /// The call.
        call: CallId,
        /// The final status, `None` for a timeout or no capacity left for a failover.
        code: Option<u16>,
        /// Mapped by the trunk's table.
        disposition: SipOutcome,
    },
    /// An INVITE arrived (we are the UAS). Answer with `ring`/`answer`/`reject`, or `connect`.
    InboundCall {
        /// The call.
        call: CallId,
        /// User part of the From URI (caller).
        from: String,
        /// User part of the Request-URI (called).
        to: String,
        /// SDP offer of the INVITE.
        offer: Option<String>,
        /// Authorization header value, if the INVITE carried one.
        authorization: Option<String>,
        /// Where it came from.
        source: SocketAddr,
        /// Configured trunk this source belongs to (its address, else its IP), if any.
        trunk: Option<String>,
    },
    /// The ACK for our 2xx arrived on an inbound call (with its body: the answer, under flow I).
    Acked {
        /// The call.
        call: CallId,
        /// SDP of the ACK.
        answer: Option<String>,
    },
    /// The customer is joined to the agent (flow I complete).
    Connected {
        /// The call.
        call: CallId,
        /// The agent reached.
        agent: SipUri,
        /// Customer's wait from answer (200 received or inbound INVITE) to agent answer.
        answer_to_connect: Duration,
    },
    /// The agent leg failed; the customer leg still waits (connect another agent or abandon).
    ConnectFailed {
        /// The call.
        call: CallId,
        /// The agent tried.
        agent: SipUri,
        /// Final status, `None` on timeout.
        code: Option<u16>,
    },
    /// The call was abandoned (no agent): to the announcement if `announced`, else BYE + Reason.
    Abandoned {
        /// The call.
        call: CallId,
        /// True when the announcement answered.
        announced: bool,
    },
    /// An answered call is over; both legs are (being) released.
    Ended {
        /// The call.
        call: CallId,
        /// Who hung up first.
        by: EndedBy,
    },
    /// A trunk stopped answering (timeout or 503) and is out of service.
    TrunkDown {
        /// Its name.
        trunk: String,
    },
    /// A trunk is back in service.
    TrunkUp {
        /// Its name.
        trunk: String,
    },
    /// A leg restored by [`Endpoint::restore_and_end`] is over (its BYE was answered or timed
    /// out, or the far end sent BYE).
    Released {
        /// The handle `restore_and_end` returned.
        call: CallId,
    },
}

/// A datagram (or stream message) to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// Destination.
    pub dest: SocketAddr,
    /// UDP or TCP.
    pub transport: Transport,
    /// The message.
    pub payload: Vec<u8>,
}

/// `place_call` refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlaceError {
    /// No group of that name.
    #[error("unknown trunk group {0:?}")]
    UnknownGroup(String),
    /// Every trunk of the group is out of service, full, or at its CPS limit right now.
    #[error("trunk group {0:?} has no free line now")]
    NoCapacity(String),
}

/// A command about an existing call was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// The call does not exist (ended, failed, or never placed).
    #[error("unknown or finished call {0}")]
    Unknown(CallId),
    /// The call is not in a state where this command applies.
    #[error("call {0} cannot {1} now")]
    State(CallId, &'static str),
}

/// Counters, for metrics and trunk-test.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Datagrams received.
    pub received: u64,
    /// Messages sent, first copies.
    pub sent: u64,
    /// Retransmitted requests and responses.
    pub retransmissions: u64,
    /// Datagrams dropped as malformed.
    pub malformed: u64,
    /// Responses matching no transaction (the whole branch, not just its counter), dropped.
    pub stray: u64,
    /// Responses whose branch matches but that came from another IP address than the one the
    /// request was sent to: forged or misrouted, dropped.
    pub wrong_source: u64,
    /// Requests outside a dialog from a source not allowed by
    /// [`EndpointConfig::accept_from`], answered 403.
    pub forbidden: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// Outbound leg to a trunk (UAC).
    Customer,
    /// Outbound leg to an agent or announcement (UAC).
    Agent,
    /// Inbound leg from a remote caller (UAS).
    Inbound,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LegState {
    /// UAC: INVITE sent, nothing back yet.
    Calling,
    /// UAC: provisional received.
    Ringing,
    /// UAC: CANCEL sent or pending.
    Cancelling,
    /// UAC flow I: 200 received, ACK held until the agent answers.
    AwaitingAck,
    /// Dialog confirmed (ACK sent or received).
    Confirmed,
    /// UAS: INVITE received, no final response yet.
    Incoming,
    /// UAS: 2xx sent, retransmitting until ACK.
    Answering,
    /// UAS: non-2xx final sent, retransmitting until ACK.
    Rejected,
    /// BYE sent or received; waiting for the BYE transaction to finish.
    Closing,
}

#[derive(Debug)]
struct Leg {
    call: CallId,
    role: Role,
    state: LegState,
    sip_call_id: String,
    /// Our party (From of our requests) with our tag.
    local: String,
    /// Their party (To of our requests), with their tag once known.
    remote: String,
    remote_tag: Option<String>,
    /// Request-URI for in-dialog requests (remote target) or the initial INVITE.
    target: String,
    route_set: Vec<String>,
    dest: SocketAddr,
    transport: Transport,
    local_cseq: u32,
    remote_cseq: u32,
    /// UAC: current INVITE client transaction.
    invite_tx: Option<u64>,
    trunk: Option<usize>,
    auth_tried: bool,
    local_sdp: Option<String>,
    remote_sdp: Option<String>,
    /// Pre-rendered extra header lines of our INVITE (for the authenticated retry).
    extra: String,
    agent: Option<SipUri>,
    announcement: bool,
    cancel_pending: bool,
    /// UAS: the INVITE being answered, the last response sent and its retransmit schedule.
    uas_invite: Option<Box<Msg>>,
    uas_last: Option<Vec<u8>>,
    uas_retx: Option<(Instant, Duration)>,
    uas_giveup: Option<Instant>,
    ack_hold: Option<Instant>,
    ring_at: Option<Instant>,
}

#[derive(Debug)]
struct Call {
    customer: u64,
    agent: Option<u64>,
    group: Option<usize>,
    tried: Vec<usize>,
    place: Option<PlaceCall>,
    answered_at: Option<Instant>,
    /// Reason header to add to the customer BYE when abandoning.
    abandoning: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TxKind {
    Invite,
    Bye,
    Cancel,
    Options(usize),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TxState {
    /// Request sent, nothing back (A/E running).
    Trying,
    /// Provisional received.
    Proceeding,
    /// INVITE final non-2xx: ACK stored; absorbing retransmissions (timer D).
    Completed,
    /// INVITE 2xx (RFC 6026 Accepted): retransmitted 2xx are re-ACKed by the dialog (timer M).
    Accepted,
}

#[derive(Debug)]
struct ClientTx {
    kind: TxKind,
    state: TxState,
    leg: u64,
    dest: SocketAddr,
    /// Where the request went (or the connection it went on): its responses must come from
    /// that IP address. Unlike `dest`, a 2xx ACK does not move it.
    sent_to: SocketAddr,
    transport: Transport,
    /// The request (for retransmission), then the ACK (for re-ACKing retransmitted finals).
    bytes: Vec<u8>,
    retx_at: Option<Instant>,
    interval: Duration,
    end_at: Instant,
    cancel: Option<u64>,
    got_provisional: bool,
}

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
    cfg: EndpointConfig,
    trunks: TrunkSet,
    /// Tags, Call-IDs (ChaCha20: not predictable from its outputs).
    rng: ChaCha20Rng,
    /// Keys branches: the branch of transaction `n` is keystream block of stream `n`.
    branch_key: ChaCha20Rng,
    /// Out-of-dialog sources allowed (trunks plus `accept_from`); `None`: anyone.
    accept_from: Option<HashSet<IpAddr>>,
    salt: u32,
    next_id: u64,
    calls: HashMap<CallId, Call>,
    legs: HashMap<u64, Leg>,
    by_call_id: HashMap<String, u64>,
    txs: HashMap<u64, ClientTx>,
    /// Responses to non-INVITE requests we answered, for their retransmissions (timer J).
    server_cache: HashMap<String, (u64, Vec<u8>)>,
    /// Branches of `server_cache` in insertion order, with the id of their entry.
    cache_keys: VecDeque<(u64, String)>,
    ping_in_flight: Vec<bool>,
    timers: Timers,
    transmits: VecDeque<Transmit>,
    events: VecDeque<Event>,
    stats: Stats,
    /// Legs rebuilt from a dialog snapshot or a stray 2xx (see `recovery`), by leg id.
    restored: HashMap<u64, CallId>,
}

fn hex_id(s: &str) -> Option<u64> {
    let rest = s.strip_prefix("z9hG4bK")?;
    let (id, _) = rest.split_once('.')?;
    u64::from_str_radix(id, 16).ok()
}

/// An SDP answer that declines every stream of `offer` (port 0), for ACKing a flow I customer
/// leg nobody will be connected to (RFC 3264 §6: a rejected stream keeps its m-line, port 0).
fn decline_answer(offer: Option<&str>) -> Option<String> {
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

/// `sip:USER@IP`, with `;user=phone` when the user is a global number (RFC 3261 §19.1.6).
fn phone_uri(user: &CallerId, ip: std::net::IpAddr) -> String {
    let u = user.as_str();
    let global = u.len() > 1 && u.starts_with('+') && u[1..].bytes().all(|b| b.is_ascii_digit());
    match ip {
        std::net::IpAddr::V6(v6) => {
            format!("sip:{u}@[{v6}]{}", if global { ";user=phone" } else { "" })
        }
        std::net::IpAddr::V4(v4) => {
            format!("sip:{u}@{v4}{}", if global { ";user=phone" } else { "" })
        }
    }
}

/// `"Display" <uri>` (quoted, escaped) or `<uri>`.
fn name_addr(display: Option<&DisplayName>, uri: &str) -> String {
    match display {
        Some(d) => format!("{} <{uri}>", d.quoted()),
        None => format!("<{uri}>"),
    }
}

/// Request-URI, Route headers and next hop of an in-dialog request (RFC 3261 §12.2.1.1):
/// with an empty route set, the remote target and its address; when the first route is a loose
/// router (`;lr`), the remote target with the route set as Route, sent to the first route;
/// a strict router gets its own URI as Request-URI (without `?headers`), the rest of the route
/// set and then the remote target as Route. The next hop is `None` when its host is a name.
fn dialog_route(target: &str, route_set: &[String]) -> (String, Vec<String>, Option<SocketAddr>) {
    let Some(first) = route_set.first() else {
        return (target.to_string(), Vec::new(), uri_addr(target));
    };
    let first_uri = uri_of(first);
    let hop = uri_addr(first_uri);
    if uri_has_param(first_uri, "lr") {
        return (target.to_string(), route_set.to_vec(), hop);
    }
    let ruri = first_uri.split('?').next().unwrap_or(first_uri).to_string();
    let mut routes: Vec<String> = route_set[1..].to_vec();
    routes.push(format!("<{target}>"));
    (ruri, routes, hop)
}

fn user_of(uri: &str) -> String {
    let u = uri
        .strip_prefix("sip:")
        .or_else(|| uri.strip_prefix("sips:"))
        .unwrap_or(uri);
    match u.split_once('@') {
        Some((user, _)) => user.to_string(),
        None => String::new(),
    }
}

impl Endpoint {
    /// A new endpoint; `now` starts the trunk OPTIONS pings.
    pub fn new(cfg: EndpointConfig, trunks: TrunkSet, now: Instant) -> Self {
        let key = cfg
            .secret
            .unwrap_or_else(|| ChaCha20Rng::seed_from_u64(cfg.seed).gen());
        let mut rng = ChaCha20Rng::from_seed(key);
        let branch_key = ChaCha20Rng::from_seed(rng.gen());
        let salt = rng.gen();
        let accept_from = cfg.accept_from.clone().map(|mut ips| {
            for t in &trunks.trunks {
                ips.insert(t.addr.ip());
                ips.extend(t.proxy.map(|p| p.ip()));
            }
            ips
        });
        let mut ep = Endpoint {
            ping_in_flight: vec![false; trunks.trunks.len()],
            cfg,
            trunks,
            rng,
            branch_key,
            accept_from,
            salt,
            next_id: 1,
            calls: HashMap::new(),
            legs: HashMap::new(),
            by_call_id: HashMap::new(),
            txs: HashMap::new(),
            server_cache: HashMap::new(),
            cache_keys: VecDeque::new(),
            timers: Timers::default(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            stats: Stats::default(),
            restored: HashMap::new(),
        };
        for i in 0..ep.trunks.trunks.len() {
            if let Some(iv) = ep.trunks.trunks[i].ping_interval() {
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
        self.trunks.trunks.get(t).map(|t| t.config.name.clone())
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
        &self.trunks.trunks
    }
    /// True when trunk `name` is in service.
    pub fn trunk_in_service(&self, name: &str) -> bool {
        self.trunks
            .trunks
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

    // ----- helpers -----

    fn id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }
    fn tag(&mut self) -> String {
        format!("{:x}", self.rng.gen::<u64>())
    }
    /// The branch of transaction `tx`: its id (to find it) and 128 bits of keystream no one
    /// without the key can compute, so a response is matched only when all of it is echoed.
    fn branch(&self, tx: u64) -> String {
        let mut r = self.branch_key.clone();
        r.set_stream(tx);
        r.set_word_pos(0);
        format!("z9hG4bK{tx:x}.{:032x}", r.gen::<u128>())
    }
    fn via(&self, transport: Transport, branch: &str) -> String {
        let t = match transport {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
        };
        format!("SIP/2.0/{t} {};branch={branch};rport", self.cfg.local_addr)
    }
    fn contact(&self, transport: Transport) -> String {
        match transport {
            Transport::Udp => format!("<sip:outdial@{}>", self.cfg.local_addr),
            Transport::Tcp => format!("<sip:outdial@{};transport=tcp>", self.cfg.local_addr),
        }
    }
    fn send(&mut self, dest: SocketAddr, transport: Transport, payload: Vec<u8>) {
        self.stats.sent += 1;
        self.transmits.push_back(Transmit {
            dest,
            transport,
            payload,
        });
    }
    fn resend(&mut self, dest: SocketAddr, transport: Transport, payload: Vec<u8>) {
        self.stats.retransmissions += 1;
        self.transmits.push_back(Transmit {
            dest,
            transport,
            payload,
        });
    }
    fn sixty_four_t1(&self) -> Duration {
        self.cfg.t1 * 64
    }

    /// Starts a client transaction for `bytes` and sends it.
    #[allow(clippy::too_many_arguments)] // all plain data of one transaction; a struct adds nothing
    fn start_tx(
        &mut self,
        now: Instant,
        id: u64,
        kind: TxKind,
        leg: u64,
        dest: SocketAddr,
        transport: Transport,
        bytes: Vec<u8>,
    ) {
        let reliable = transport == Transport::Tcp;
        let retx_at = (!reliable).then_some(now + self.cfg.t1);
        let end_at = now + self.sixty_four_t1();
        if let Some(at) = retx_at {
            self.timers.set(at, Timer::Retransmit(id));
        }
        self.timers.set(end_at, Timer::TxEnd(id));
        self.send(dest, transport, bytes.clone());
        self.txs.insert(
            id,
            ClientTx {
                kind,
                state: TxState::Trying,
                leg,
                dest,
                sent_to: dest,
                transport,
                bytes,
                retx_at,
                interval: self.cfg.t1,
                end_at,
                cancel: None,
                got_provisional: false,
            },
        );
    }

    fn in_dialog_request(
        &mut self,
        leg_id: u64,
        method: Method,
        tx: u64,
        extra: &[(&str, String)],
        sdp: Option<&str>,
    ) -> Option<(Vec<u8>, SocketAddr, Transport)> {
        let branch = self.branch(tx);
        let leg = self.legs.get_mut(&leg_id)?;
        let cseq = if method == Method::Ack {
            leg.local_cseq_invite()
        } else {
            leg.local_cseq += 1;
            leg.local_cseq
        };
        let transport = leg.transport;
        let (uri, routes, next_hop) = dialog_route(&leg.target, &leg.route_set);
        // A host name (no DNS in the core) falls back to where the INVITE went.
        let dest = next_hop.unwrap_or(leg.dest);
        let via = format!(
            "SIP/2.0/{} {};branch={branch};rport",
            if transport == Transport::Tcp {
                "TCP"
            } else {
                "UDP"
            },
            self.cfg.local_addr
        );
        let mut b = Builder::request(method, &uri)
            .header("Via", via)
            .header("Max-Forwards", 70);
        for r in &routes {
            b = b.header("Route", r);
        }
        b = b
            .header("From", &leg.local)
            .header("To", &leg.remote)
            .header("Call-ID", &leg.sip_call_id)
            .header("CSeq", format_args!("{cseq} {method}"));
        for (k, v) in extra {
            b = b.header(k, v);
        }
        Some((b.finish(sdp), dest, transport))
    }

    // ----- application commands: outbound -----

    /// Places a call on `req.group`. Refused (nothing sent) when the group has no line that
    /// respects every trunk's channel and CPS limits right now.
    pub fn place_call(&mut self, now: Instant, req: PlaceCall) -> Result<CallId, PlaceError> {
        let g = self
            .trunks
            .group(&req.group)
            .ok_or_else(|| PlaceError::UnknownGroup(req.group.clone()))?;
        let t = self
            .trunks
            .take(g, &[], now)
            .ok_or_else(|| PlaceError::NoCapacity(req.group.clone()))?;
        let call = CallId(self.id());
        self.calls.insert(
            call,
            Call {
                customer: 0,
                agent: None,
                group: Some(g),
                tried: vec![t],
                place: Some(req),
                answered_at: None,
                abandoning: false,
            },
        );
        self.invite_trunk(now, call, t);
        Ok(call)
    }

    fn invite_trunk(&mut self, now: Instant, call: CallId, t: usize) {
        let Some(c) = self.calls.get(&call) else {
            return;
        };
        let Some(p) = c.place.clone() else { return };
        let trunk = &self.trunks.trunks[t];
        let transport = trunk.config.transport;
        let target = trunk.request_uri(&p.number);
        let ip = self.cfg.local_addr.ip();
        let user = trunk.from_user(&p.caller_id);
        let from = name_addr(trunk.from_display(), &phone_uri(user, ip));
        let mut extra = String::new();
        if let Some(pai) = trunk.asserted_identity(user) {
            let uri = match trunk.config.uri_form {
                super::trunk::UriForm::Tel if pai.as_str().starts_with('+') => {
                    format!("tel:{}", pai.as_str())
                }
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
        let local_tag = self.tag();
        let sip_call_id = format!(
            "{:x}{:x}@{}",
            self.rng.gen::<u64>(),
            self.next_id,
            self.cfg.local_addr.ip()
        );
        let leg_id = self.id();
        let leg = Leg {
            call,
            role: Role::Customer,
            state: LegState::Calling,
            sip_call_id: sip_call_id.clone(),
            local: format!("{from};tag={local_tag}"),
            remote: format!("<{target}>"),
            remote_tag: None,
            target,
            route_set,
            dest,
            transport,
            local_cseq: 1,
            remote_cseq: 0,
            invite_tx: None,
            trunk: Some(t),
            auth_tried: false,
            local_sdp: p.offer.clone(),
            remote_sdp: None,
            extra,
            agent: None,
            announcement: false,
            cancel_pending: false,
            uas_invite: None,
            uas_last: None,
            uas_retx: None,
            uas_giveup: None,
            ack_hold: None,
            ring_at: Some(now + p.ring_timeout),
        };
        self.legs.insert(leg_id, leg);
        self.by_call_id.insert(sip_call_id, leg_id);
        if let Some(c) = self.calls.get_mut(&call) {
            c.customer = leg_id;
        }
        self.timers.set(now + p.ring_timeout, Timer::Ring(leg_id));
        self.send_invite(now, leg_id, None);
    }

    /// Sends (or re-sends with credentials) the INVITE of UAC leg `leg_id`.
    fn send_invite(&mut self, now: Instant, leg_id: u64, authorization: Option<(&str, String)>) {
        let tx = self.id();
        let branch = self.branch(tx);
        let Some(leg) = self.legs.get(&leg_id) else {
            return;
        };
        let via = self.via(leg.transport, &branch);
        let contact = self.contact(leg.transport);
        let mut b = Builder::request(Method::Invite, &leg.target)
            .header("Via", via)
            .header("Max-Forwards", 70);
        // Before the 2xx the route set is the preloaded one (outbound proxy), if any.
        for r in &leg.route_set {
            b = b.header("Route", r);
        }
        b = b
            .header("From", &leg.local)
            .header("To", &leg.remote)
            .header("Call-ID", &leg.sip_call_id)
            .header("CSeq", format_args!("{} INVITE", leg.local_cseq))
            .header("Contact", contact)
            .header("Allow", "INVITE, ACK, CANCEL, BYE, OPTIONS");
        if let Some((name, value)) = &authorization {
            b = b.header(name, value);
        }
        let mut bytes = b.finish(None);
        if !leg.extra.is_empty() || leg.local_sdp.is_some() {
            // Rebuild with the extra headers before the Content-Length line.
            let s = String::from_utf8_lossy(&bytes).into_owned();
            let cut = s.find("Content-Length").unwrap_or(s.len());
            let mut out = String::with_capacity(s.len() + leg.extra.len() + 300);
            out.push_str(&s[..cut]);
            out.push_str(&leg.extra);
            match &leg.local_sdp {
                Some(sdp) => out.push_str(&format!(
                    "Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
                    sdp.len()
                )),
                None => out.push_str("Content-Length: 0\r\n\r\n"),
            }
            bytes = out.into_bytes();
        }
        let (dest, transport) = (leg.dest, leg.transport);
        if let Some(l) = self.legs.get_mut(&leg_id) {
            l.invite_tx = Some(tx);
        }
        self.start_tx(now, tx, TxKind::Invite, leg_id, dest, transport, bytes);
    }

    /// Joins answered call `call` to `agent` with RFC 3725 flow I (see the module doc). Applies to
    /// outbound calls placed without an offer that are answered and not yet ACKed, and to inbound
    /// calls whose INVITE carried an offer and that are not yet answered.
    pub fn connect(&mut self, now: Instant, call: CallId, agent: SipUri) -> Result<(), CallError> {
        self.start_agent_leg(now, call, agent, false, AgentLeg::default())
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
        self.start_agent_leg(now, call, agent, false, leg)
    }

    /// No agent within patience: join the customer to `announcement` (flow I, as `connect`),
    /// or with `None` end the customer leg with BYE and `Reason: SIP;cause=480`.
    pub fn abandon(
        &mut self,
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
            Some(uri) => self.start_agent_leg(now, call, uri, true, AgentLeg::default()),
            None => {
                self.abandon_without_announcement(now, call);
                Ok(())
            }
        }
    }

    fn abandon_without_announcement(&mut self, now: Instant, call: CallId) {
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        c.abandoning = true;
        let leg_id = c.customer;
        self.events.push_back(Event::Abandoned {
            call,
            announced: false,
        });
        let state = self.legs.get(&leg_id).map(|l| l.state);
        match state {
            Some(LegState::AwaitingAck) => {
                let answer = self
                    .legs
                    .get(&leg_id)
                    .and_then(|l| decline_answer(l.remote_sdp.as_deref()));
                self.ack_2xx(now, leg_id, answer.as_deref());
                self.end_call(now, call, EndedBy::Local);
            }
            Some(LegState::Incoming) => {
                self.uas_final(now, leg_id, 480, None, &[]);
                self.finish_call(call);
                self.events.push_back(Event::Ended {
                    call,
                    by: EndedBy::Local,
                });
            }
            _ => self.end_call(now, call, EndedBy::Local),
        }
    }

    fn start_agent_leg(
        &mut self,
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
                .remote_sdp
                .clone()
                .ok_or(CallError::State(call, "connect (no SDP offer)"))?,
            _ => return Err(CallError::State(call, "connect")),
        };
        // Who is calling, as the agent's phone shows it: the customer, never outdial's own id.
        let from_user = shown
            .from_user
            .or_else(|| customer_number.and_then(|n| CallerId::new(&n).ok()))
            .or_else(|| CallerId::new(&user_of(uri_of(&cust.remote))).ok())
            .or_else(|| CallerId::new("outdial").ok());
        let ip = self.cfg.local_addr.ip();
        let local = match &from_user {
            Some(u) => name_addr(shown.display.as_ref(), &phone_uri(u, ip)),
            None => format!("<sip:outdial@{ip}>"),
        };
        let mut extra = String::new();
        for h in &shown.headers {
            extra.push_str(&format!("{}: {}\r\n", h.name(), h.value()));
        }
        if let Some(ci) = &shown.call_info {
            extra.push_str(&format!("Call-Info: {}\r\n", ci.as_str()));
        }
        let local_tag = self.tag();
        let sip_call_id = format!(
            "{:x}{:x}@{}",
            self.rng.gen::<u64>(),
            self.next_id,
            self.cfg.local_addr.ip()
        );
        let leg_id = self.id();
        let target = agent.to_string();
        let leg = Leg {
            call,
            role: Role::Agent,
            state: LegState::Calling,
            sip_call_id: sip_call_id.clone(),
            local: format!("{local};tag={local_tag}"),
            remote: format!("<{target}>"),
            remote_tag: None,
            target,
            route_set: vec![],
            dest: agent.addr(),
            transport: Transport::Udp,
            local_cseq: 1,
            remote_cseq: 0,
            invite_tx: None,
            trunk: None,
            auth_tried: true,
            local_sdp: Some(offer),
            remote_sdp: None,
            extra,
            agent: Some(agent),
            announcement,
            cancel_pending: false,
            uas_invite: None,
            uas_last: None,
            uas_retx: None,
            uas_giveup: None,
            ack_hold: None,
            ring_at: None,
        };
        self.legs.insert(leg_id, leg);
        self.by_call_id.insert(sip_call_id, leg_id);
        if let Some(c) = self.calls.get_mut(&call) {
            c.agent = Some(leg_id);
            if announcement {
                c.abandoning = true;
            }
        }
        self.send_invite(now, leg_id, None);
        Ok(())
    }

    /// Ends `call` from our side: BYE to answered legs, CANCEL to ringing ones, 480 to an
    /// unanswered inbound INVITE. Reports `Ended { by: Local }` (or `Failed` if never answered).
    pub fn hangup(&mut self, now: Instant, call: CallId) -> Result<(), CallError> {
        let c = self.calls.get(&call).ok_or(CallError::Unknown(call))?;
        let cust = c.customer;
        match self.legs.get(&cust).map(|l| (l.role, l.state)) {
            Some((Role::Customer, LegState::Calling | LegState::Ringing)) => {
                self.cancel_leg(now, cust);
                Ok(())
            }
            Some((_, LegState::Cancelling)) => Ok(()),
            Some((Role::Inbound, LegState::Incoming)) => {
                self.uas_final(now, cust, 480, None, &[]);
                if let Some(a) = self.calls.get(&call).and_then(|c| c.agent) {
                    self.close_leg(now, a);
                }
                self.finish_call(call);
                self.events.push_back(Event::Ended {
                    call,
                    by: EndedBy::Local,
                });
                Ok(())
            }
            _ => {
                self.end_call(now, call, EndedBy::Local);
                Ok(())
            }
        }
    }

    // ----- application commands: inbound (UAS) -----

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

    /// Sends 180 Ringing on an unanswered inbound call.
    pub fn ring(&mut self, now: Instant, call: CallId) -> Result<(), CallError> {
        let leg = self.inbound_leg(call)?;
        self.uas_provisional(now, leg, 180);
        Ok(())
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
        let leg = self.inbound_leg(call)?;
        let extra: Vec<(&str, String)> = headers
            .iter()
            .map(|h| (h.name(), h.value().to_string()))
            .collect();
        self.uas_final(now, leg, 200, sdp, &extra);
        if let Some(c) = self.calls.get_mut(&call) {
            c.answered_at = Some(now);
        }
        Ok(())
    }

    /// Refuses an inbound call with a final status (300..=699), e.g. 486 or 404.
    pub fn reject(&mut self, now: Instant, call: CallId, code: u16) -> Result<(), CallError> {
        if !(300..=699).contains(&code) {
            return Err(CallError::State(call, "reject with a non-final code"));
        }
        let leg = self.inbound_leg(call)?;
        self.uas_final(now, leg, code, None, &[]);
        self.finish_call(call);
        Ok(())
    }

    /// Refuses an inbound call with a digest challenge (401, `realm`, `nonce`); the
    /// authenticated retry arrives as a new [`Event::InboundCall`] with `authorization` set.
    pub fn challenge(
        &mut self,
        now: Instant,
        call: CallId,
        realm: &str,
        nonce: &str,
    ) -> Result<(), CallError> {
        let leg = self.inbound_leg(call)?;
        let v = format!("Digest realm=\"{realm}\", nonce=\"{nonce}\", qop=\"auth\", algorithm=MD5");
        self.uas_final(now, leg, 401, None, &[("WWW-Authenticate", v)]);
        self.finish_call(call);
        Ok(())
    }

    fn uas_provisional(&mut self, _now: Instant, leg_id: u64, code: u16) {
        let Some(leg) = self.legs.get_mut(&leg_id) else {
            return;
        };
        let Some(inv) = leg.uas_invite.as_deref() else {
            return;
        };
        let tag = leg.local.rsplit("tag=").next().unwrap_or("").to_string();
        let bytes = response_to(inv, code, Some(&tag)).finish(None);
        leg.uas_last = Some(bytes.clone());
        let (d, t) = (leg.dest, leg.transport);
        self.send(d, t, bytes);
    }

    fn uas_final(
        &mut self,
        now: Instant,
        leg_id: u64,
        code: u16,
        sdp: Option<String>,
        extra: &[(&str, String)],
    ) {
        let contact = self.contact(Transport::Udp);
        let t1 = self.cfg.t1;
        let giveup = now + self.sixty_four_t1();
        let Some(leg) = self.legs.get_mut(&leg_id) else {
            return;
        };
        let Some(inv) = leg.uas_invite.as_deref() else {
            return;
        };
        let tag = leg.local.rsplit("tag=").next().unwrap_or("").to_string();
        let mut b = response_to(inv, code, Some(&tag));
        if code < 300 {
            b = b.header("Contact", contact);
        }
        for (k, v) in extra {
            b = b.header(k, v);
        }
        let bytes = b.finish(sdp.as_deref());
        leg.state = if code < 300 {
            LegState::Answering
        } else {
            LegState::Rejected
        };
        if code < 300 {
            leg.local_sdp = sdp;
        }
        leg.uas_last = Some(bytes.clone());
        let reliable = leg.transport == Transport::Tcp;
        if !reliable {
            leg.uas_retx = Some((now + t1, t1));
            self.timers.set(now + t1, Timer::UasRetransmit(leg_id));
        }
        leg.uas_giveup = Some(giveup);
        self.timers.set(giveup, Timer::UasGiveUp(leg_id));
        let (d, t) = (leg.dest, leg.transport);
        self.send(d, t, bytes);
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

    fn on_response(
        &mut self,
        now: Instant,
        from: SocketAddr,
        transport: Transport,
        code: u16,
        msg: Msg,
    ) {
        // The whole branch must be one we made: its id and 128 bits of this process's keystream.
        // A guessed counter does not match, nor does a response to a request of an earlier run
        // (before a restart), whose keystream was another.
        let Some(mut txid) = hex_id(&msg.branch)
            .filter(|&id| msg.branch == self.branch(id))
            .filter(|id| self.txs.contains_key(id))
        else {
            self.stats.stray += 1;
            if (200..300).contains(&code) && msg.cseq_method == Method::Invite {
                self.on_stray_2xx(now, from, transport, &msg);
            }
            return;
        };
        if msg.cseq_method == Method::Cancel {
            match self.txs.get(&txid).and_then(|t| t.cancel) {
                Some(c) => txid = c,
                None => {
                    self.stats.stray += 1;
                    return;
                }
            }
        }
        let Some(tx) = self.txs.get_mut(&txid) else {
            self.stats.stray += 1;
            return;
        };
        // The IP, not the port: a UAS may send its responses from another port than the one it
        // listens on (RFC 3261 §18.2.2; phones and proxies do).
        if tx.sent_to.ip() != from.ip() {
            self.stats.wrong_source += 1;
            tracing::debug!(%from, expected = %tx.sent_to, "dropped response from the wrong address");
            return;
        }
        match tx.kind {
            TxKind::Invite => self.on_invite_response(now, txid, code, msg),
            kind => {
                if code < 200 {
                    tx.state = TxState::Proceeding;
                    return;
                }
                let leg = tx.leg;
                self.txs.remove(&txid);
                match kind {
                    TxKind::Bye => self.forget_leg(leg),
                    TxKind::Options(t) => self.on_ping_result(now, t, Some(code)),
                    _ => {}
                }
            }
        }
    }

    fn on_invite_response(&mut self, now: Instant, txid: u64, code: u16, msg: Msg) {
        let Some(tx) = self.txs.get_mut(&txid) else {
            return;
        };
        let leg_id = tx.leg;
        if code < 200 {
            if tx.state == TxState::Trying {
                tx.state = TxState::Proceeding;
                tx.retx_at = None;
            }
            tx.got_provisional = true;
            self.on_provisional(now, leg_id, code);
            return;
        }
        if code < 300 {
            match tx.state {
                TxState::Trying | TxState::Proceeding => {
                    tx.state = TxState::Accepted;
                    tx.retx_at = None;
                    tx.bytes.clear();
                    tx.end_at = now + self.cfg.t1 * 64;
                    let end = tx.end_at;
                    self.timers.set(end, Timer::TxEnd(txid));
                    self.on_2xx(now, leg_id, txid, msg);
                }
                TxState::Accepted => {
                    // Retransmitted 2xx: re-ACK (RFC 6026) unless flow I still holds the ACK.
                    if !tx.bytes.is_empty() {
                        let (d, t, b) = (tx.dest, tx.transport, tx.bytes.clone());
                        self.resend(d, t, b);
                    }
                }
                TxState::Completed => {}
            }
            return;
        }
        match tx.state {
            TxState::Trying | TxState::Proceeding => {
                // Non-2xx: the transaction ACKs (same branch, To with the response's tag).
                let ack = {
                    let req = String::from_utf8_lossy(&tx.bytes).into_owned();
                    build_non2xx_ack(&req, &msg)
                };
                tx.state = TxState::Completed;
                tx.retx_at = None;
                tx.bytes = ack.clone();
                let (d, t) = (tx.dest, tx.transport);
                tx.end_at = now
                    + if t == Transport::Udp {
                        self.cfg.t1 * 64
                    } else {
                        Duration::ZERO
                    };
                let end = tx.end_at;
                self.timers.set(end, Timer::TxEnd(txid));
                self.send(d, t, ack);
                self.on_final_failure(now, leg_id, Some(code), &msg);
            }
            TxState::Completed => {
                let (d, t, b) = (tx.dest, tx.transport, tx.bytes.clone());
                self.resend(d, t, b);
            }
            TxState::Accepted => {}
        }
    }

    fn on_provisional(&mut self, now: Instant, leg_id: u64, code: u16) {
        let Some(leg) = self.legs.get_mut(&leg_id) else {
            return;
        };
        if code == 100 {
            if leg.cancel_pending {
                leg.cancel_pending = false;
                self.send_cancel(now, leg_id);
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
            self.send_cancel(now, leg_id);
            return;
        }
        if first && role == Role::Customer && (code == 180 || code == 183) {
            self.events.push_back(Event::Ringing { call });
        }
    }

    fn on_2xx(&mut self, now: Instant, leg_id: u64, txid: u64, msg: Msg) {
        let Some(leg) = self.legs.get_mut(&leg_id) else {
            return;
        };
        leg.remote_tag = msg.to_tag.clone();
        leg.remote = msg.to.clone();
        // RFC 3261 §12.1.2: the route set is the Record-Route of the 2xx, reversed; without one,
        // an outbound proxy keeps seeing the dialog (it asked for everything).
        let proxy = leg
            .trunk
            .and_then(|t| self.trunks.trunks.get(t))
            .and_then(|t| t.proxy);
        leg.route_set = match (msg.record_route.is_empty(), proxy) {
            (true, Some(p)) => vec![format!("<sip:{p};lr>")],
            _ => msg.record_route.iter().rev().cloned().collect(),
        };
        if let Some(c) = &msg.contact {
            leg.target = c.clone();
        }
        leg.remote_sdp = msg.body_str();
        let (role, call, prev) = (leg.role, leg.call, leg.state);
        let _ = txid;
        if prev == LegState::Cancelling {
            // A 200 crossed our CANCEL: ACK it, then BYE; the attempt counts as no answer.
            let ans = if leg.local_sdp.is_none() {
                decline_answer(leg.remote_sdp.as_deref())
            } else {
                None
            };
            self.ack_2xx(now, leg_id, ans.as_deref());
            self.close_leg(now, leg_id);
            if role == Role::Customer {
                self.fail_call(call, Some(200), SipOutcome::NoAnswer);
            } else {
                self.agent_failed(now, call, leg_id, Some(487));
            }
            return;
        }
        match role {
            Role::Customer => {
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
                    .map(|l| l.local_sdp.is_some())
                    .unwrap_or(false);
                if early_offer {
                    self.ack_2xx(now, leg_id, None);
                } else {
                    let at = now + self.cfg.ack_hold;
                    if let Some(l) = self.legs.get_mut(&leg_id) {
                        l.state = LegState::AwaitingAck;
                        l.ack_hold = Some(at);
                    }
                    self.timers.set(at, Timer::AckHold(leg_id));
                }
                self.events.push_back(Event::Answered {
                    call,
                    machine,
                    offer,
                });
            }
            Role::Agent => {
                // Flow I step 3: ACK the agent, then give the customer the agent's answer.
                self.ack_2xx(now, leg_id, None);
                let answer = self.legs.get(&leg_id).and_then(|l| l.remote_sdp.clone());
                let (agent, announcement) = self
                    .legs
                    .get(&leg_id)
                    .map(|l| (l.agent.clone(), l.announcement))
                    .unwrap_or((None, false));
                let Some(c) = self.calls.get(&call) else {
                    self.close_leg(now, leg_id);
                    return;
                };
                let cust = c.customer;
                let answered_at = c.answered_at;
                match self.legs.get(&cust).map(|l| (l.role, l.state)) {
                    Some((Role::Customer, LegState::AwaitingAck)) => {
                        self.ack_2xx(now, cust, answer.as_deref());
                    }
                    Some((Role::Inbound, LegState::Incoming)) => {
                        self.uas_final(now, cust, 200, answer, &[]);
                    }
                    _ => {
                        // Customer gone meanwhile: release the agent.
                        self.close_leg(now, leg_id);
                        return;
                    }
                }
                let waited = now.saturating_duration_since(answered_at.unwrap_or(now));
                if let Some(c) = self.calls.get_mut(&call) {
                    c.answered_at.get_or_insert(now);
                }
                if announcement {
                    self.events.push_back(Event::Abandoned {
                        call,
                        announced: true,
                    });
                } else if let Some(agent) = agent {
                    self.events.push_back(Event::Connected {
                        call,
                        agent,
                        answer_to_connect: waited,
                    });
                }
            }
            Role::Inbound => {}
        }
    }

    /// Sends the ACK for the 2xx of UAC leg `leg_id` (new transaction, CSeq of the INVITE) and
    /// stores it on the INVITE transaction so retransmitted 2xx are re-ACKed.
    fn ack_2xx(&mut self, _now: Instant, leg_id: u64, sdp: Option<&str>) {
        let ack_branch_id = self.id();
        let Some((bytes, dest, transport)) =
            self.in_dialog_request(leg_id, Method::Ack, ack_branch_id, &[], sdp)
        else {
            return;
        };
        if let Some(l) = self.legs.get_mut(&leg_id) {
            l.state = LegState::Confirmed;
            l.ack_hold = None;
            if let (Some(sdp), None) = (sdp, &l.local_sdp) {
                l.local_sdp = Some(sdp.to_string());
            }
            if let Some(tx) = l.invite_tx.and_then(|t| self.txs.get_mut(&t)) {
                // Re-ACKs of retransmitted 2xx take the dialog's path, not the INVITE's.
                tx.bytes = bytes.clone();
                tx.dest = dest;
            }
        }
        self.send(dest, transport, bytes);
    }

    fn on_final_failure(&mut self, now: Instant, leg_id: u64, code: Option<u16>, msg: &Msg) {
        let Some(leg) = self.legs.get(&leg_id) else {
            return;
        };
        let (role, call, auth_tried, trunk) = (leg.role, leg.call, leg.auth_tried, leg.trunk);
        let target = leg.target.clone();
        // Digest challenge: retry once with credentials of the trunk.
        if let (Some(c @ (401 | 407)), false, Some(t)) = (code, auth_tried, trunk) {
            let hname = if c == 401 {
                "WWW-Authenticate"
            } else {
                "Proxy-Authenticate"
            };
            let creds = self.trunks.trunks[t].config.credentials.clone();
            if let (Some(creds), Some(ch)) = (creds, msg.header(hname).and_then(Challenge::parse)) {
                let cnonce = self.tag();
                let auth = digest::authorization(&creds, &ch, "INVITE", &target, &cnonce);
                let name = if c == 401 {
                    "Authorization"
                } else {
                    "Proxy-Authorization"
                };
                if let Some(l) = self.legs.get_mut(&leg_id) {
                    l.auth_tried = true;
                    l.local_cseq += 1;
                    l.state = LegState::Calling;
                }
                self.send_invite(now, leg_id, Some((name, auth)));
                return;
            }
        }
        let Some(leg) = self.legs.get(&leg_id) else {
            return;
        };
        let cancelled = leg.state == LegState::Cancelling;
        match role {
            Role::Customer => {
                let table = leg
                    .trunk
                    .map(|t| self.trunks.trunks[t].config.dispositions.clone());
                let disp = match (cancelled, code) {
                    (true, _) => SipOutcome::NoAnswer,
                    (false, Some(c)) => table
                        .map(|t| t.map(c))
                        .unwrap_or_else(|| default_disposition(c)),
                    (false, None) => SipOutcome::TrunkFailure,
                };
                self.forget_leg(leg_id);
                if disp == SipOutcome::TrunkFailure && self.failover(now, call) {
                    return;
                }
                self.fail_call(call, code, disp);
            }
            Role::Agent => {
                // agent_failed reads the leg (agent URI, announcement flag): forget it after.
                self.agent_failed(now, call, leg_id, code);
                self.forget_leg(leg_id);
            }
            Role::Inbound => {}
        }
    }

    fn agent_failed(&mut self, now: Instant, call: CallId, leg_id: u64, code: Option<u16>) {
        let agent_leg = self.legs.get(&leg_id);
        let agent = agent_leg.and_then(|l| l.agent.clone());
        let announcement = agent_leg.map(|l| l.announcement).unwrap_or(false);
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        if c.agent == Some(leg_id) {
            c.agent = None;
        }
        if announcement {
            self.abandon_without_announcement(now, call);
        } else if let Some(agent) = agent {
            self.events
                .push_back(Event::ConnectFailed { call, agent, code });
        }
    }

    /// Re-places a call that failed on a trunk at once on the next untried trunk of its group.
    fn failover(&mut self, now: Instant, call: CallId) -> bool {
        let Some(c) = self.calls.get(&call) else {
            return false;
        };
        let Some(g) = c.group else { return false };
        let tried = c.tried.clone();
        match self.trunks.take(g, &tried, now) {
            Some(t) => {
                if let Some(c) = self.calls.get_mut(&call) {
                    c.tried.push(t);
                }
                self.invite_trunk(now, call, t);
                true
            }
            None => false,
        }
    }

    fn fail_call(&mut self, call: CallId, code: Option<u16>, disposition: SipOutcome) {
        if self.calls.contains_key(&call) {
            self.finish_call(call);
            self.events.push_back(Event::Failed {
                call,
                code,
                disposition,
            });
        }
    }

    /// Drops the call record and releases its trunk channel (legs clean up on their own).
    fn finish_call(&mut self, call: CallId) {
        if let Some(c) = self.calls.remove(&call) {
            for l in [Some(c.customer), c.agent].into_iter().flatten() {
                if let Some(t) = self.legs.get_mut(&l).and_then(|l| l.trunk.take()) {
                    self.trunks.trunks[t].release();
                }
            }
        }
    }

    /// Removes a leg from the tables (its transactions live on for retransmissions).
    fn forget_leg(&mut self, leg_id: u64) {
        if let Some(mut l) = self.legs.remove(&leg_id) {
            if let Some(t) = l.trunk.take() {
                self.trunks.trunks[t].release();
            }
            if self.by_call_id.get(&l.sip_call_id) == Some(&leg_id) {
                self.by_call_id.remove(&l.sip_call_id);
            }
        }
        self.restored_leg_gone(leg_id);
    }

    /// Ends both legs of an answered call and reports who ended it.
    fn end_call(&mut self, now: Instant, call: CallId, by: EndedBy) {
        let Some(c) = self.calls.get(&call) else {
            return;
        };
        let legs = [Some(c.customer), c.agent];
        let abandoning = c.abandoning;
        for l in legs.into_iter().flatten() {
            if abandoning && Some(l) == legs[0] {
                self.close_leg_with(
                    now,
                    l,
                    &[(
                        "Reason",
                        "SIP;cause=480;text=\"No agent available\"".to_string(),
                    )],
                );
            } else {
                self.close_leg(now, l);
            }
        }
        self.finish_call(call);
        self.events.push_back(Event::Ended { call, by });
    }

    fn close_leg(&mut self, now: Instant, leg_id: u64) {
        self.close_leg_with(now, leg_id, &[]);
    }

    /// Releases one leg whatever its state: BYE, CANCEL, a held ACK then BYE, or a 480.
    fn close_leg_with(&mut self, now: Instant, leg_id: u64, extra: &[(&str, String)]) {
        let Some(leg) = self.legs.get(&leg_id) else {
            return;
        };
        match leg.state {
            LegState::Calling | LegState::Ringing => self.cancel_leg(now, leg_id),
            LegState::Cancelling | LegState::Closing | LegState::Rejected => {}
            LegState::Incoming => {
                self.uas_final(now, leg_id, 480, None, &[]);
            }
            LegState::AwaitingAck => {
                let ans = decline_answer(leg.remote_sdp.as_deref());
                self.ack_2xx(now, leg_id, ans.as_deref());
                self.send_bye(now, leg_id, extra);
            }
            LegState::Confirmed | LegState::Answering => self.send_bye(now, leg_id, extra),
        }
    }

    fn send_bye(&mut self, now: Instant, leg_id: u64, extra: &[(&str, String)]) {
        let tx = self.id();
        let Some((bytes, dest, transport)) =
            self.in_dialog_request(leg_id, Method::Bye, tx, extra, None)
        else {
            return;
        };
        if let Some(l) = self.legs.get_mut(&leg_id) {
            l.state = LegState::Closing;
            l.uas_retx = None;
            l.ack_hold = None;
        }
        self.start_tx(now, tx, TxKind::Bye, leg_id, dest, transport, bytes);
    }

    fn cancel_leg(&mut self, now: Instant, leg_id: u64) {
        let Some(leg) = self.legs.get_mut(&leg_id) else {
            return;
        };
        let had_provisional = leg.state == LegState::Ringing
            || leg
                .invite_tx
                .and_then(|t| self.txs.get(&t))
                .map(|t| t.got_provisional)
                .unwrap_or(false);
        leg.state = LegState::Cancelling;
        if had_provisional {
            self.send_cancel(now, leg_id);
        } else {
            // RFC 3261 §9.1: no CANCEL before a provisional response; send it when one comes.
            leg.cancel_pending = true;
        }
    }

    fn send_cancel(&mut self, now: Instant, leg_id: u64) {
        let Some(leg) = self.legs.get(&leg_id) else {
            return;
        };
        let Some(inv_id) = leg.invite_tx else { return };
        let Some(inv) = self.txs.get(&inv_id) else {
            return;
        };
        if inv.cancel.is_some() || !matches!(inv.state, TxState::Trying | TxState::Proceeding) {
            return;
        }
        let branch = self.branch(inv_id);
        let mut b = Builder::request(Method::Cancel, &leg.target)
            .header("Via", self.via(leg.transport, &branch))
            .header("Max-Forwards", 70);
        // RFC 3261 §9.1: the CANCEL carries the INVITE's Route headers and follows its path.
        for r in &leg.route_set {
            b = b.header("Route", r);
        }
        let bytes = b
            .header("From", &leg.local)
            .header("To", &leg.remote)
            .header("Call-ID", &leg.sip_call_id)
            .header("CSeq", format_args!("{} CANCEL", leg.local_cseq))
            .finish(None);
        let (dest, transport) = (leg.dest, leg.transport);
        let cid = self.id();
        if let Some(inv) = self.txs.get_mut(&inv_id) {
            inv.cancel = Some(cid);
        }
        self.start_tx(now, cid, TxKind::Cancel, leg_id, dest, transport, bytes);
    }

    // ----- input: requests -----

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
            if let Some((_, resp)) = self.server_cache.get(&msg.branch) {
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
            Method::Invite => self.on_reinvite(now, from, transport, leg_id, msg),
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

    /// True when `from` may send requests outside a dialog ([`EndpointConfig::accept_from`]).
    fn may_send(&self, from: SocketAddr) -> bool {
        self.accept_from
            .as_ref()
            .is_none_or(|ips| ips.contains(&from.ip()))
    }

    /// Sends a response to a non-INVITE request and keeps it for retransmissions (timer J).
    fn reply_cached(
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
                .insert(msg.branch.clone(), (id, bytes.clone()));
            self.timers
                .set(now + self.sixty_four_t1(), Timer::ServerCacheEnd(id));
            self.cache_keys.push_back((id, msg.branch.clone()));
        }
        self.send(from, transport, bytes);
    }

    fn on_invite(
        &mut self,
        now: Instant,
        from: SocketAddr,
        transport: Transport,
        leg_id: Option<u64>,
        msg: Msg,
    ) {
        if let Some(l) = leg_id.and_then(|id| self.legs.get(&id)) {
            if l.role == Role::Inbound {
                let same = l
                    .uas_invite
                    .as_ref()
                    .map(|i| i.branch == msg.branch)
                    .unwrap_or(false);
                if same {
                    if let Some(r) = l.uas_last.clone() {
                        let (d, t) = (l.dest, l.transport);
                        self.resend(d, t, r);
                    }
                    return;
                }
                if !matches!(l.state, LegState::Rejected) {
                    return; // a second INVITE while the first is live: ignore (loop)
                }
            } else {
                return; // our own INVITE looped back to us
            }
        }
        let call = CallId(self.id());
        let leg_id = self.id();
        let local_tag = self.tag();
        // The trunk at exactly that address, else one at that IP (a trunk may send its INVITEs
        // from another port than the one it listens on, e.g. over TCP).
        let trunk = (self.trunks.trunks.iter().find(|t| t.addr == from))
            .or_else(|| self.trunks.trunks.iter().find(|t| t.addr.ip() == from.ip()))
            .map(|t| t.config.name.clone());
        let leg = Leg {
            call,
            role: Role::Inbound,
            state: LegState::Incoming,
            sip_call_id: msg.call_id.clone(),
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
            invite_tx: None,
            trunk: None,
            auth_tried: true,
            local_sdp: None,
            remote_sdp: msg.body_str(),
            extra: String::new(),
            agent: None,
            announcement: false,
            cancel_pending: false,
            uas_invite: None,
            uas_last: None,
            uas_retx: None,
            uas_giveup: None,
            ack_hold: None,
            ring_at: None,
        };
        let to_user = match &msg.start {
            Start::Request { uri, .. } => user_of(uri),
            Start::Extension { .. } | Start::Response { .. } => String::new(),
        };
        let ev = Event::InboundCall {
            call,
            from: user_of(uri_of(&msg.from)),
            to: to_user,
            offer: msg.body_str(),
            authorization: msg
                .header("Authorization")
                .or_else(|| msg.header("Proxy-Authorization"))
                .map(str::to_string),
            source: from,
            trunk,
        };
        let trying = response_to(&msg, 100, None).finish(None);
        let mut leg = leg;
        leg.uas_invite = Some(Box::new(msg));
        leg.uas_last = Some(trying.clone());
        let sip_call_id = leg.sip_call_id.clone();
        self.legs.insert(leg_id, leg);
        self.by_call_id.insert(sip_call_id, leg_id);
        self.calls.insert(
            call,
            Call {
                customer: leg_id,
                agent: None,
                group: None,
                tried: vec![],
                place: None,
                answered_at: Some(now),
                abandoning: false,
            },
        );
        self.send(from, transport, trying);
        self.events.push_back(ev);
    }

    fn dialog_leg(&self, leg_id: Option<u64>, msg: &Msg) -> Option<u64> {
        let id = leg_id?;
        let l = self.legs.get(&id)?;
        let local_tag = l.local.rsplit("tag=").next().unwrap_or("");
        let ok = msg.to_tag.as_deref() == Some(local_tag)
            && (l.remote_tag.is_none() || msg.from_tag == l.remote_tag);
        ok.then_some(id)
    }

    fn on_reinvite(
        &mut self,
        now: Instant,
        from: SocketAddr,
        transport: Transport,
        leg_id: Option<u64>,
        msg: Msg,
    ) {
        let Some(id) = self.dialog_leg(leg_id, &msg) else {
            let r = response_to(&msg, 481, None).finish(None);
            self.send(from, transport, r);
            return;
        };
        let contact = self.contact(transport);
        let sdp = self.legs.get(&id).and_then(|l| l.local_sdp.clone());
        if let Some(l) = self.legs.get_mut(&id) {
            l.remote_cseq = l.remote_cseq.max(msg.cseq);
            // RFC 3261 §12.2.2: a re-INVITE is a target refresh request.
            if let Some(c) = &msg.contact {
                l.target = c.clone();
            }
        }
        let r = match sdp {
            // Session refresh or offer: we keep media as is and answer with the current SDP.
            Some(sdp) => response_to(&msg, 200, None)
                .header("Contact", contact)
                .finish(Some(&sdp)),
            None => response_to(&msg, 488, None).finish(None),
        };
        let _ = now;
        self.send(from, transport, r);
    }

    fn on_bye(
        &mut self,
        now: Instant,
        from: SocketAddr,
        transport: Transport,
        leg_id: Option<u64>,
        msg: Msg,
    ) {
        let Some(id) = self.dialog_leg(leg_id, &msg) else {
            let r = response_to(&msg, 481, None).finish(None);
            self.reply_cached(now, from, transport, &msg, r);
            return;
        };
        let r = response_to(&msg, 200, None).finish(None);
        self.reply_cached(now, from, transport, &msg, r);
        let Some(l) = self.legs.get(&id) else { return };
        let (call, role, state) = (l.call, l.role, l.state);
        // The far end ended this leg: no BYE from us on it.
        if let Some(l) = self.legs.get_mut(&id) {
            l.state = LegState::Closing;
            l.uas_retx = None;
        }
        self.forget_leg(id);
        if state == LegState::Closing {
            return; // BYEs crossed; we already reported the end
        }
        let is_agent = self
            .calls
            .get(&call)
            .map(|c| c.agent == Some(id))
            .unwrap_or(false);
        let by = match (role, is_agent) {
            (Role::Agent, _) | (_, true) => EndedBy::Agent,
            _ => EndedBy::Customer,
        };
        if let Some(c) = self.calls.get_mut(&call) {
            if c.agent == Some(id) {
                c.agent = None;
            }
        }
        self.end_call(now, call, by);
    }

    fn on_cancel(
        &mut self,
        now: Instant,
        from: SocketAddr,
        transport: Transport,
        leg_id: Option<u64>,
        msg: Msg,
    ) {
        let target = leg_id.filter(|id| {
            self.legs
                .get(id)
                .and_then(|l| l.uas_invite.as_ref())
                .map(|i| i.branch == msg.branch)
                .unwrap_or(false)
        });
        let Some(id) = target else {
            let r = response_to(&msg, 481, None).finish(None);
            self.reply_cached(now, from, transport, &msg, r);
            return;
        };
        let tag = self
            .legs
            .get(&id)
            .map(|l| l.local.rsplit("tag=").next().unwrap_or("").to_string());
        let r = response_to(&msg, 200, tag.as_deref()).finish(None);
        self.reply_cached(now, from, transport, &msg, r);
        let Some(l) = self.legs.get(&id) else { return };
        if l.state != LegState::Incoming {
            return; // already answered or rejected: the CANCEL has no effect
        }
        let call = l.call;
        self.uas_final(now, id, 487, None, &[]);
        if let Some(a) = self.calls.get(&call).and_then(|c| c.agent) {
            self.close_leg(now, a);
        }
        self.finish_call(call);
        self.events.push_back(Event::Ended {
            call,
            by: EndedBy::Customer,
        });
    }

    fn on_ack(&mut self, _now: Instant, msg: Msg) {
        let Some(&id) = self.by_call_id.get(&msg.call_id) else {
            return;
        };
        let Some(l) = self.legs.get_mut(&id) else {
            return;
        };
        match l.state {
            LegState::Answering => {
                l.state = LegState::Confirmed;
                l.uas_retx = None;
                l.uas_giveup = None;
                l.uas_last = None;
                if !msg.body.is_empty() {
                    l.remote_sdp = msg.body_str();
                }
                let call = l.call;
                let is_connected = self
                    .calls
                    .get(&call)
                    .map(|c| c.agent.is_some())
                    .unwrap_or(false);
                if !is_connected {
                    self.events.push_back(Event::Acked {
                        call,
                        answer: msg.body_str(),
                    });
                }
            }
            LegState::Rejected => {
                l.uas_retx = None;
                l.uas_giveup = None;
                self.forget_leg(id);
            }
            _ => {}
        }
    }

    // ----- input: timers -----

    /// Fires every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some((at, t)) = self.timers.pop_due(now) {
            match t {
                Timer::Retransmit(id) => self.on_retransmit(now, at, id),
                Timer::TxEnd(id) => self.on_tx_end(now, at, id),
                Timer::Ring(leg) => {
                    let due = self
                        .legs
                        .get(&leg)
                        .map(|l| l.ring_at == Some(at))
                        .unwrap_or(false);
                    let live = self
                        .legs
                        .get(&leg)
                        .map(|l| matches!(l.state, LegState::Calling | LegState::Ringing))
                        .unwrap_or(false);
                    if due && live {
                        self.cancel_leg(now, leg);
                    }
                }
                Timer::AckHold(leg) => {
                    let Some(l) = self.legs.get(&leg) else {
                        continue;
                    };
                    if l.ack_hold == Some(at) && l.state == LegState::AwaitingAck {
                        let call = l.call;
                        if let Some(c) = self.calls.get_mut(&call) {
                            c.abandoning = true;
                            if let Some(a) = c.agent.take() {
                                self.close_leg(now, a);
                            }
                        }
                        self.end_call(now, call, EndedBy::Timeout);
                    }
                }
                Timer::UasRetransmit(leg) => {
                    let Some(l) = self.legs.get_mut(&leg) else {
                        continue;
                    };
                    let Some((due, iv)) = l.uas_retx else {
                        continue;
                    };
                    if due != at || !matches!(l.state, LegState::Answering | LegState::Rejected) {
                        continue;
                    }
                    let next = (iv * 2).min(self.cfg.t2);
                    l.uas_retx = Some((now + next, next));
                    let (d, tr, b) = (l.dest, l.transport, l.uas_last.clone());
                    self.timers.set(now + next, Timer::UasRetransmit(leg));
                    if let Some(b) = b {
                        self.resend(d, tr, b);
                    }
                }
                Timer::UasGiveUp(leg) => {
                    let Some(l) = self.legs.get(&leg) else {
                        continue;
                    };
                    if l.uas_giveup != Some(at) {
                        continue;
                    }
                    let (state, call) = (l.state, l.call);
                    match state {
                        LegState::Answering => {
                            // No ACK for our 2xx within 64·T1: RFC 3261 §13.3.1.4 says BYE.
                            if self.calls.contains_key(&call) {
                                self.end_call(now, call, EndedBy::Timeout);
                            } else {
                                self.send_bye(now, leg, &[]);
                            }
                        }
                        LegState::Rejected => self.forget_leg(leg),
                        _ => {}
                    }
                }
                Timer::ServerCacheEnd(id) => {
                    while self
                        .cache_keys
                        .front()
                        .map(|(cid, _)| *cid <= id)
                        .unwrap_or(false)
                    {
                        if let Some((cid, b)) = self.cache_keys.pop_front() {
                            if self.server_cache.get(&b).map(|(i, _)| *i) == Some(cid) {
                                self.server_cache.remove(&b);
                            }
                        }
                    }
                }
                Timer::TrunkPing(t) => self.send_ping(now, t),
            }
        }
    }

    fn on_retransmit(&mut self, now: Instant, at: Instant, id: u64) {
        let t2 = self.cfg.t2;
        let Some(tx) = self.txs.get_mut(&id) else {
            return;
        };
        if tx.retx_at != Some(at) {
            return;
        }
        let next = match (tx.kind, tx.state) {
            (TxKind::Invite, TxState::Trying) => tx.interval * 2,
            (TxKind::Invite, _) => return,
            (_, TxState::Trying) => (tx.interval * 2).min(t2),
            (_, TxState::Proceeding) => t2,
            _ => return,
        };
        tx.interval = next;
        tx.retx_at = Some(now + next);
        let (d, t, b) = (tx.dest, tx.transport, tx.bytes.clone());
        self.timers.set(now + next, Timer::Retransmit(id));
        self.resend(d, t, b);
    }

    fn on_tx_end(&mut self, now: Instant, at: Instant, id: u64) {
        let Some(tx) = self.txs.get(&id) else { return };
        if tx.end_at != at {
            return;
        }
        let (kind, state, leg, prov) = (tx.kind, tx.state, tx.leg, tx.got_provisional);
        self.txs.remove(&id);
        match (kind, state) {
            (TxKind::Invite, TxState::Trying | TxState::Proceeding) => {
                // Timer B: no final response. Nothing at all means the trunk is unreachable.
                let Some(l) = self.legs.get(&leg) else { return };
                let (role, call, trunk) = (l.role, l.call, l.trunk);
                if role == Role::Customer && !prov {
                    if let Some(t) = trunk {
                        self.trunk_down(now, t);
                    }
                    let empty = Msg::empty();
                    self.on_final_failure(now, leg, None, &empty);
                } else if role == Role::Customer {
                    self.forget_leg(leg);
                    self.fail_call(call, None, SipOutcome::NoAnswer);
                } else {
                    self.forget_leg(leg);
                    self.agent_failed(now, call, leg, None);
                }
            }
            (TxKind::Bye, _) => self.forget_leg(leg),
            (TxKind::Options(t), _) => self.on_ping_result(now, t, None),
            _ => {}
        }
    }

    fn trunk_down(&mut self, now: Instant, t: usize) {
        let trunk = &mut self.trunks.trunks[t];
        if trunk.mark_down(now) {
            self.events.push_back(Event::TrunkDown {
                trunk: trunk.config.name.clone(),
            });
        }
        if let super::trunk::Health::OutOfService { retry_at, .. } = trunk.health {
            if !self.ping_in_flight[t] {
                self.timers.set(retry_at, Timer::TrunkPing(t));
            }
        }
    }

    fn send_ping(&mut self, now: Instant, t: usize) {
        if self.ping_in_flight[t] {
            return;
        }
        self.ping_in_flight[t] = true;
        let tx = self.id();
        let branch = self.branch(tx);
        let trunk = &self.trunks.trunks[t];
        let (addr, transport) = (trunk.addr, trunk.config.transport);
        let tag = self.tag();
        let bytes = Builder::request(Method::Options, &format!("sip:{addr}"))
            .header("Via", self.via(transport, &branch))
            .header("Max-Forwards", 70)
            .header(
                "From",
                format_args!("<sip:outdial@{}>;tag={tag}", self.cfg.local_addr.ip()),
            )
            .header("To", format_args!("<sip:{addr}>"))
            .header(
                "Call-ID",
                format_args!("ping{tx:x}.{:x}@{}", self.salt, self.cfg.local_addr.ip()),
            )
            .header("CSeq", "1 OPTIONS")
            .finish(None);
        self.start_tx(now, tx, TxKind::Options(t), 0, addr, transport, bytes);
    }

    fn on_ping_result(&mut self, now: Instant, t: usize, code: Option<u16>) {
        self.ping_in_flight[t] = false;
        match code {
            None | Some(503) => self.trunk_down(now, t),
            Some(_) => {
                let trunk = &mut self.trunks.trunks[t];
                if trunk.mark_up() {
                    self.events.push_back(Event::TrunkUp {
                        trunk: trunk.config.name.clone(),
                    });
                }
                if let Some(iv) = trunk.ping_interval() {
                    self.timers.set(now + iv, Timer::TrunkPing(t));
                }
            }
        }
    }
}

impl Leg {
    /// CSeq number of the INVITE (ACK for 2xx reuses it).
    fn local_cseq_invite(&self) -> u32 {
        self.local_cseq
    }
}

impl Msg {
    fn empty() -> Msg {
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
}

/// The ACK for a non-2xx final response: same Request-URI, Via (top), From, Call-ID and CSeq
/// number as the INVITE, To from the response (RFC 3261 §17.1.1.3).
fn build_non2xx_ack(invite: &str, resp: &Msg) -> Vec<u8> {
    let mut lines = invite.split("\r\n");
    let uri = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .unwrap_or("sip:invalid")
        .to_string();
    let mut b = Builder::request(Method::Ack, &uri);
    for l in lines {
        if l.is_empty() {
            break;
        }
        let (k, v) = l.split_once(':').unwrap_or((l, ""));
        let v = v.trim();
        match k {
            "Via" | "From" | "Call-ID" | "Max-Forwards" | "Route" => b = b.header(k, v),
            "CSeq" => {
                let n = v.split(' ').next().unwrap_or("1");
                b = b.header("CSeq", format_args!("{n} ACK"));
            }
            _ => {}
        }
    }
    b.header("To", &resp.to).finish(None)
}
