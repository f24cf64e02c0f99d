//! The endpoint's public vocabulary: call handles, configuration, the requests the application
//! makes and the events it gets back, errors and counters. Plain data: no behaviour lives here.

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use crate::sip::disposition::SipOutcome;
use crate::sip::trunk::Transport;
use crate::sip::values::{CallInfo, CallerId, DisplayName, ExtraHeader, SipUri, E164};

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
    /// `seed`. The live shell ([`spawn`](crate::sip::driver::spawn)) fills it, so nobody on the
    /// wire can guess the next branch or tag from the ones seen before.
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
    /// makes the offer in its 200 and the leg waits for
    /// [`Endpoint::connect`](crate::sip::Endpoint::connect) before the ACK.
    pub offer: Option<String>,
}

/// An outbound INVITE straight to an agent's phone (not through a trunk group, no trunk line
/// used), carrying outdial's offer: a nailed-up agent connection or a per-call anchored join.
/// See [`Endpoint::call_agent`](crate::sip::Endpoint::call_agent).
#[derive(Debug, Clone)]
pub struct AgentCall {
    /// The agent's phone.
    pub uri: SipUri,
    /// outdial's SDP offer (anchored media).
    pub offer: String,
    /// What the phone shows: From user and display, `X-` headers, `Call-Info`.
    pub shown: AgentLeg,
    /// Ringing longer than this is cancelled.
    pub ring_timeout: Duration,
}

/// What the agent's phone is told about the call it is offered (see
/// [`Endpoint::connect_with`](crate::sip::Endpoint::connect_with)).
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
    /// The far end answered (200): the customer, or the agent's phone of a
    /// [`call_agent`](crate::sip::Endpoint::call_agent) call. With flow I the leg is not yet
    /// ACKed: call `connect` or `abandon` within `ack_hold`. With an early offer it is ACKed
    /// already; if its SDP could not be served the call is `Failed` (488) instead.
    Answered {
        /// The call.
        call: CallId,
        /// The trunk said `X-Outdial-Answer: machine`.
        machine: bool,
        /// The SDP of the 2xx: the far end's answer to outdial's early offer, or the customer's
        /// offer under flow I. `None` when the 2xx has none (an early answer came in a 183).
        offer: Option<String>,
    },
    /// A 18x of an early-offer call carried SDP (early media: ringback, a carrier's
    /// announcement). Once per call, at the first such 18x.
    EarlyMedia {
        /// The call.
        call: CallId,
        /// The 18x's SDP (the far end's answer to outdial's offer).
        sdp: String,
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
        /// The whole Request-URI (a digest `uri` must name it).
        request_uri: String,
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
    /// A leg restored by [`Endpoint::restore_and_end`](crate::sip::Endpoint::restore_and_end) is
    /// over (its BYE was answered or timed out, or the far end sent BYE).
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
