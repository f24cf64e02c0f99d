//! SIP signalling built on rsip: transport (UDP, TCP), RFC 3261 transactions and timers, dialogs,
//! digest authentication, trunk groups with health and failover, and synthetic peers.
//!
//! # Layout
//! - [`values`]: validated values that may reach a header (`E164`, `CallerId`, `ExtraHeader`,
//!   `SipUri`). Nothing from a lead reaches a message any other way.
//! - [`message`]: compact-header normalisation, parsing (rsip) into [`Msg`], Content-Length
//!   framing for TCP, and the writer for outgoing messages.
//! - The sans-IO user agent, in layers (after RFC 3261's own; restsend/rsipstack is shaped alike):
//!   - [`endpoint`]: [`Endpoint`], the routing layer and the public API. It parses each message
//!     and hands it to the transaction, dialog or call it belongs to, and routes timers the same
//!     way; beside it the services the layers share (`shared.rs`: ids, sending, the transaction
//!     table, timers, output queues), trunk pings (`pings.rs`) and the public types.
//!   - [`transaction`]: client transactions keyed by [`transaction::TransactionKey`] (branch
//!     number + method) and their timers A/B/D/E/F/K/M, the UAS INVITE's G/H, the non-INVITE
//!     response cache (J) keyed by [`transaction::ServerKey`], branch generation.
//!   - [`dialog`]: [`dialog::Dialog`] and [`dialog::DialogKey`] (Call-ID + local tag + remote
//!     tag): route set, remote target, CSeq, in-dialog request building and matching.
//!   - `call` (private): calls of a customer leg and an agent leg (`Leg`, built in one place)
//!     and their rules — outbound with trunk failover, the flow I join and abandon, inbound
//!     (UAS), dialog snapshots and recovery ([`endpoint::DialogSnapshot`]).
//!   - [`session`]: the SDP seam of each leg: relayed (flow I) or anchored (negotiated with
//!     [`crate::media::sdp`] into the far end's `RemoteMedia`).
//! - [`timer`]: the single timer heap of an endpoint.
//! - [`trunk`]: trunk and group config (YAML) and runtime limits/health.
//! - [`disposition`]: final status → [`SipOutcome`] table, overridable per trunk.
//! - [`digest`]: MD5 digest authentication (client answer, server check).
//! - [`nonces`]: the server side's nonces (seeded, with a lifetime and nonce counts) and its
//!   verdict on an `Authorization` (accepted, stale, wrong, replayed): agents that dial in.
//! - [`driver`]: the tokio shell: one UDP socket (plus TCP) and one task owning the endpoint.
//! - [`trunk_test`]: the `outdial trunk-test` load generator.
//! - `peers`: synthetic trunk and agents (owned separately).
//!
//! # Using it
//! Live: [`driver::spawn`] returns a [`SipHandle`] (commands) and an event receiver
//! ([`Event`]). Tests and the simulator can drive [`Endpoint`] directly on virtual time:
//! feed `handle_datagram` / `handle_timeout` / commands, drain `poll_transmit` and `poll_event`,
//! sleep until `poll_timeout`.
//!
//! Outbound: `place_call(PlaceCall { group, number: E164, caller_id, headers, ring_timeout,
//! offer })` → `CallId`, or `PlaceError::NoCapacity` when every trunk of the group is at its
//! channel or CPS limit (`available_lines(group)` tells pacing how many calls it may start now).
//! Then `Ringing`, and `Answered { machine, offer }` or `Failed { code, disposition }`.
//! Unanswered after `ring_timeout`: CANCEL, then `Failed { NoAnswer }` (487, or a 200 that
//! crossed the CANCEL, which is ACKed and then ended with BYE). A 5xx, or no response at all
//! (the trunk is then marked out of service), re-places the call at once on the next untried
//! trunk of the group; only the last attempt's outcome is reported.
//!
//! Machine answers: a trunk marks a 200 answered by a machine with the header
//! `X-Outdial-Answer: machine` ([`ANSWER_HEADER`]); anything else (or none) is a live answer.
//!
//! # Anchored media (`media: anchor`, the default per trunk)
//! outdial's media plane carries the RTP; the SIP layer only moves SDP. `place_call` with
//! `offer: Some(outdial's SDP)` (early offer, [`crate::media::sdp::offer`]): the first 18x with
//! SDP is `EarlyMedia { sdp }` (once per call), the 2xx is ACKed at once and `Answered { offer }`
//! carries the 2xx's SDP; [`Endpoint::negotiated`] gives the far end's `RemoteMedia`. A 2xx whose
//! SDP outdial cannot serve (no PCMU/PCMA, audio rejected) is ACKed (RFC 3261 §13.2.2.4: a 2xx is
//! always ACKed; a CANCEL cannot undo an answer) and then ended with BYE and
//! `Reason: SIP;cause=488;text="Not Acceptable Here"`; the call is `Failed { code: 488 }`, without
//! failover (the customer picked up already). Agents are reached with [`Endpoint::call_agent`]:
//! an INVITE with outdial's offer straight to the phone, no trunk used, reported as a call of its
//! own (Ringing, Answered, Failed, Ended with `by: Agent` when the phone hangs up); the media plane,
//! not SIP, joins it to customers. Re-INVITEs on anchored legs (session timers, refreshes of a
//! nailed-up connection) are answered with outdial's SDP answer on the same address and port,
//! 488 for an offer outdial cannot serve. An inbound INVITE from anything but a `flow-i` trunk
//! whose offer cannot be served gets 488 before the application hears of it; otherwise the
//! application answers with outdial's answer ([`crate::media::sdp::answer`]). A group's trunks
//! share one mode (config error otherwise).
//!
//! # Agent connect: RFC 3725 flow I (`media: flow-i`)
//! 1. `place_call` without `offer` sends the INVITE to the customer without SDP.
//! 2. The customer's 200 carries the SDP offer: `Answered { offer }`. The ACK is **held**: it must
//!    carry the answer, which only the agent can give. Retransmitted 200s are absorbed meanwhile.
//! 3. `connect(call, agent_uri)` sends an INVITE with that offer to the agent.
//! 4. The agent's 200 carries the answer: we ACK the agent (no body), then ACK the customer with
//!    the agent's answer, and report `Connected { answer_to_connect }` (200 received → agent 200).
//!
//! When the customer leg is ACKed: at step 4, or at `abandon`, or at the latest `ack_hold`
//! (default 20 s, below the 64·T1 = 32 s the far end waits for an ACK) after the 200 — then
//! with an answer declining every stream (m-lines with port 0), followed by BYE. A failing agent
//! leg reports `ConnectFailed` and leaves the customer waiting for another `connect` or `abandon`.
//! `abandon(call, Some(uri))` runs the same flow towards the announcement (reported as
//! `Abandoned { announced: true }`); `abandon(call, None)` ACKs with the declining answer and sends
//! BYE with `Reason: SIP;cause=480;text="No agent available"` (`Abandoned { announced: false }`).
//! Either side's BYE ends both legs: `Ended { by: Customer | Agent }`.
//!
//! Inbound: an INVITE yields `InboundCall`; answer it with `ring`/`answer`/`reject`/`challenge`
//! (the synthetic peers do), or `connect` it to an agent: the INVITE's offer goes to the agent and
//! the agent's answer goes back in our 200 (retransmitted until the caller's ACK, RFC 6026).
//!
//! # Routing (RFC 3261 §12)
//! Requests we send in a dialog follow the dialog, not the configured address: the route set
//! (the 2xx's Record-Route reversed as UAC, the INVITE's as UAS) and the remote target (the
//! Contact of the 2xx, refreshed by a re-INVITE). Loose routers (`;lr`): Request-URI = remote
//! target, Route = route set, sent to the first route; a strict router gets its URI as
//! Request-URI and the remote target as last Route. Without a route set the request goes to the
//! remote target's address (a host name, which the core cannot resolve, falls back to where the
//! INVITE went). Re-ACKs of retransmitted 2xx take the same path. A trunk's `outbound_proxy`
//! preloads `Route: <sip:proxy;lr>` on the INVITE (CANCEL and non-2xx ACK follow it) and stays
//! the next hop of the dialog when the proxy records no route.
//!
//! # Hostile input
//! Requests outside a dialog (no To tag: a new INVITE, OPTIONS, a stray CANCEL) are taken only
//! from the sources [`EndpointConfig::accept_from`] allows (the engine: its trunks' and agents'
//! IPs and `sip.accept_from`); any other source gets a 403 that is sent once and kept nowhere
//! (`Stats::forbidden`). Branches are `z9hG4bK<id>.<128 bits of ChaCha20 keystream for that id>`
//! and tags and Call-IDs come from the same ChaCha20 generator, keyed by the shell from the OS RNG
//! (`EndpointConfig::secret`; tests use a fixed `seed` instead): none can be computed from the
//! ones seen before. A response is taken only when its whole branch is ours AND it comes from
//! the IP address (or TCP connection) its request went to — any port, as a UAS may answer from
//! another port than it listens on (RFC 3261 §18.2.2); others are dropped (`Stats::stray`,
//! `Stats::wrong_source`). So an outcome (`Failed`, `Answered`) always comes from the trunk the
//! call went to, and a lead is closed only by that trunk's final response, as the campaign's
//! retry rule for its disposition says.
//!
//! # Presentation
//! Towards a trunk: the trunk's `uri_form`, `from_user`, `from_display`, `asserted_identity` and
//! `privacy` ([`trunk`]); `PlaceCall::headers` (outdial's identifiers) only with
//! `internal_headers`. Towards an agent ([`AgentLeg`], [`Endpoint::connect_with`]): the customer's
//! number in From, with a display name, `X-` identifiers and a `Call-Info` when given.

mod call;
pub mod dialog;
pub mod digest;
pub mod disposition;
pub mod driver;
pub mod endpoint;
pub mod message;
pub mod nonces;
pub mod peers;
pub mod session;
pub mod timer;
pub mod transaction;
pub mod trunk;
pub mod trunk_test;
pub mod values;

pub use disposition::{DispositionTable, SipOutcome};
pub use driver::{spawn, SipHandle};
pub use endpoint::{
    AgentCall, AgentLeg, CallError, CallId, EndedBy, Endpoint, EndpointConfig, Event, PlaceCall,
    PlaceError, Stats, Transmit, ANSWER_HEADER,
};
pub use message::{Msg, ParseError};
pub use trunk::{
    Strategy, Transport, TrunkConfig, TrunkGroupConfig, TrunkSet, TrunksConfig, UriForm,
};
pub use values::{CallInfo, CallerId, DisplayName, ExtraHeader, SipUri, ValueError, E164};
