//! The call layer: a call is a customer leg (outbound to a trunk, or inbound from a caller) and,
//! once joined, an agent (or announcement) leg. A [`Leg`] is one SIP leg as the call sees it —
//! its role and state, its [`Dialog`], its [`Session`] (the SDP seam), its INVITE transactions
//! and the timers of the call rules (ring timeout, flow I ACK hold) — built only by
//! [`Leg::new`]. The rules live in the submodules:
//! - [`outbound`]: placing a call on a trunk group, the INVITE's responses, digest retry,
//!   trunk failover, CANCEL and the ring timeout;
//! - [`agent_call`]: a direct call to an agent's phone with outdial's offer (nailed-up
//!   connections, anchored per-call joins);
//! - [`join`]: the agent join of RFC 3725 flow I, abandon, and ending or releasing legs;
//! - [`inbound`]: the UAS side — an INVITE received, ring/answer/reject/challenge, CANCEL, ACK,
//!   and in-dialog requests (BYE, re-INVITE) from the far end;
//! - [`recovery`]: dialog snapshots, ending a leg another process left up, stray 2xx.
//!
//! [`Calls`] holds the layer's tables; every rule takes the endpoint's shared services (`io`:
//! ids, sending, transactions, timers, events, trunks). The call layer decides; it does not
//! parse nor match responses to transactions (the endpoint routes each message to the leg it
//! belongs to) and leaves request building to the dialog and timing to the transaction layer.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Instant;

use rsip::Method;

use super::dialog::Dialog;
use super::endpoint::{CallId, PlaceCall, Shared};
use super::session::Session;
use super::transaction::{ServerInviteTx, TransactionKey};
use super::trunk::Transport;
use super::values::{CallerId, DisplayName, SipUri};

pub(super) mod agent_call;
pub(super) mod inbound;
pub(super) mod join;
pub(super) mod outbound;
pub(super) mod recovery;

/// Which side of the call a leg is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Role {
    /// Outbound leg to a trunk (UAC).
    Customer,
    /// Outbound leg to an agent or announcement (UAC).
    Agent,
    /// Inbound leg from a remote caller (UAS).
    Inbound,
}

/// Where a leg is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum LegState {
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

/// One SIP leg of a call.
#[derive(Debug)]
pub(super) struct Leg {
    pub call: CallId,
    pub role: Role,
    pub state: LegState,
    pub dialog: Dialog,
    /// The SDP seam: what each side offered or answered.
    pub session: Session,
    /// UAC: current INVITE client transaction.
    pub invite_tx: Option<TransactionKey>,
    /// UAS: the INVITE being answered.
    pub uas: Option<ServerInviteTx>,
    /// Customer leg: the trunk carrying it (its channel is released with the leg).
    pub trunk: Option<usize>,
    /// A digest challenge was answered already (or the leg never answers one).
    pub auth_tried: bool,
    /// Pre-rendered extra header lines of our INVITE (for the authenticated retry).
    pub extra: String,
    /// Agent leg: the agent (or announcement) called.
    pub agent: Option<SipUri>,
    /// Agent leg: it is the announcement of an abandon.
    pub announcement: bool,
    /// CANCEL wanted before any provisional (RFC 3261 §9.1): sent at the first one.
    pub cancel_pending: bool,
    /// Flow I: when the held ACK is given up on.
    pub ack_hold: Option<Instant>,
    /// Customer leg: when ringing is cancelled.
    pub ring_at: Option<Instant>,
}

impl Leg {
    /// The one constructor: a leg of `call` in `state` on `dialog` carrying `session`; every
    /// call-rule field starts empty (no trunk, no agent, nothing pending) and no credentials
    /// are ever sent (a trunk leg opts in with `auth_tried = false`).
    pub fn new(call: CallId, role: Role, state: LegState, dialog: Dialog, session: Session) -> Leg {
        Leg {
            call,
            role,
            state,
            dialog,
            session,
            invite_tx: None,
            uas: None,
            trunk: None,
            auth_tried: true,
            extra: String::new(),
            agent: None,
            announcement: false,
            cancel_pending: false,
            ack_hold: None,
            ring_at: None,
        }
    }

    /// UAS: stop retransmitting and give up waiting for the ACK.
    pub fn stop_uas(&mut self) {
        if let Some(u) = &mut self.uas {
            u.stop();
        }
    }
}

/// The call layer's tables: calls, their legs, and the leg of each SIP Call-ID. Each rule takes
/// the endpoint's shared services (`io`) to send, schedule and report.
#[derive(Debug, Default)]
pub(super) struct Calls {
    pub calls: HashMap<CallId, Call>,
    pub legs: HashMap<u64, Leg>,
    /// Legs by SIP Call-ID: the dialog set a request or stray 2xx is looked up in.
    pub by_call_id: HashMap<String, u64>,
    /// Legs rebuilt from a dialog snapshot or a stray 2xx (see `recovery`), by leg id.
    pub restored: HashMap<u64, CallId>,
}

impl Calls {
    /// The trunk carrying the customer leg of `call`.
    pub fn customer_trunk(&self, call: CallId) -> Option<usize> {
        let c = self.calls.get(&call)?;
        self.legs.get(&c.customer)?.trunk
    }

    /// An in-dialog request of leg `leg_id` in transaction (branch) `branch`, built by its
    /// dialog: bytes and next hop. `None` when the leg is gone.
    pub fn in_dialog_request(
        &mut self,
        io: &mut Shared,
        leg_id: u64,
        method: Method,
        branch: u64,
        extra: &[(&str, String)],
        sdp: Option<&str>,
    ) -> Option<(Vec<u8>, SocketAddr, Transport)> {
        let leg = self.legs.get_mut(&leg_id)?;
        let via = io.via(leg.dialog.transport, branch);
        Some(leg.dialog.request(method, via, extra, sdp))
    }
}

/// A call: its legs by id and what it needs for failover and reporting.
#[derive(Debug)]
pub(super) struct Call {
    pub customer: u64,
    pub agent: Option<u64>,
    /// Outbound: the trunk group and the trunks tried so far.
    pub group: Option<usize>,
    pub tried: Vec<usize>,
    pub place: Option<PlaceCall>,
    pub answered_at: Option<Instant>,
    /// Reason header to add to the customer BYE when abandoning.
    pub abandoning: bool,
    /// `EarlyMedia` was reported (once per call, across failovers).
    pub early_media: bool,
    /// A direct call to an agent's phone ([`Calls::call_agent`]): its far end is the agent.
    pub agent_call: bool,
}

impl Call {
    /// A call whose customer leg is `customer` (0 until an outbound call's first INVITE).
    pub fn new(customer: u64, group: Option<usize>, place: Option<PlaceCall>) -> Call {
        Call {
            customer,
            agent: None,
            group,
            tried: Vec::new(),
            place,
            answered_at: None,
            abandoning: false,
            early_media: false,
            agent_call: false,
        }
    }
}

/// `sip:USER@IP`, with `;user=phone` when the user is a global number (RFC 3261 §19.1.6).
pub(super) fn phone_uri(user: &CallerId, ip: std::net::IpAddr) -> String {
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
pub(super) fn name_addr(display: Option<&DisplayName>, uri: &str) -> String {
    match display {
        Some(d) => format!("{} <{uri}>", d.quoted()),
        None => format!("<{uri}>"),
    }
}

/// What an agent's phone is shown of a leg outdial places to it: the From (`from_user`, else
/// `outdial`, at our address, with the display name) and the extra header lines (`X-` headers,
/// `Call-Info`), one shape for per-call joins and anchored agent calls alike.
pub(super) fn agent_presentation(
    shown: &crate::sip::endpoint::AgentLeg,
    from_user: Option<&CallerId>,
    ip: std::net::IpAddr,
) -> (String, String) {
    let local = match from_user {
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
    (local, extra)
}

/// The user part of a SIP URI (empty when it has none).
pub(super) fn user_of(uri: &str) -> String {
    let u = uri
        .strip_prefix("sip:")
        .or_else(|| uri.strip_prefix("sips:"))
        .unwrap_or(uri);
    match u.split_once('@') {
        Some((user, _)) => user.to_string(),
        None => String::new(),
    }
}
