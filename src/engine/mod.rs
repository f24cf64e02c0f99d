//! The live engine (`outdial run`): a thin tokio shell around [`Core`], the engine's decisions
//! as one sans-IO state machine (which drives the same pacing core the simulator does). It leases leads from the store, lets each
//! campaign's [`Dialer`](crate::pacing::dialer::Dialer) decide how many calls to place, places
//! them over SIP trunks, joins answered customers to agents (RFC 3725 flow I), writes a call
//! record for every attempt and lets the store schedule the retry.
//!
//! Core decides (agent sharing, SLA order, leases, line budgets, the abandon throttle, call
//! records, recovery) in virtual or real time alike; the shell only carries its effects out and
//! feeds results back. Compliance is the store's (lease and `begin_attempt`, atomically), pacing
//! is the dialer's, signalling is the SIP layer's.
//!
//! # Crash safety
//! The lease and the attempt row are committed before the INVITE leaves, and what each call
//! reaches (ringing, answered live or machine, connected to an agent, the SIP dialogs of its
//! legs) is written as it happens, batched every 100 ms. After a crash, the restarted node (same
//! `node` name) closes its open attempts with what they reached (`interrupted` for a call that
//! was connected, `abandoned` for a live answer still waiting for an agent, `unknown` before an
//! answer), sends BYE on every customer and agent leg that was up (its agents get no call before
//! their old leg is ended), and returns its undialled leases to the pool. A 2xx for a dialog the
//! node does not know (a customer who answered during the outage) is ACKed and ended at once. A
//! node that never comes back stops renewing its liveness row (`node_ttl`); once it expires, any
//! other node on the store does the same recovery for it (`store::nodes`), and a node that finds
//! its row reaped stops dialling, hangs up and exits with an error, so its leads are never
//! dialled by two nodes.
//!
//! # Store outages
//! Every write the engine owes the store (call records and milestones, agent dispositions and
//! sessions, released leases, supervisor changes) goes through one ordered queue and is retried
//! until it lands, past a memory bound into a spool file replayed at the next start (`writes`;
//! backlog in `/metrics`). While the store is unreachable no lease is taken and no call placed;
//! calls in progress go on and are recorded when it returns. The node resumes by itself once a
//! renewal of its liveness row lands, unless another node reaped the row meanwhile (`nodes`).
//! On SIGTERM/SIGINT the engine stops dialling, lets connected calls and agents' wrap-ups finish
//! within `shutdown_grace`, releases its leases and agents, and exits 0. At the end of the grace,
//! calls still connected to an agent are hung up and recorded `shutdown` (a live, connected
//! answer, retried by the campaign's `shutdown` rule: by default after an hour), and every call
//! whose agent is still in wrap-up at exit gets the agent disposition `not_set` instead of none.
//!
//! # Inbound calls
//! Only INVITEs from a trunk are customers: the SIP layer answers 403 to requests outside a dialog
//! from anyone but the trunks, the agents and `sip.accept_from`, and an INVITE from an agent's
//! address is refused too; neither leaves a record. The exception is an INVITE whose
//! Request-URI user names a `connect: dial-in` agent: that agent's phone setting up its
//! nailed-up connection, with digest auth (`core::dial_in`); while any agent dials in, a
//! non-trunk INVITE naming nobody gets 404. A trunk's caller waits in the inbound
//! campaign's queue for an agent; when no logged-in agent of that campaign has the inbound
//! skill it is refused at once (`sip.inbound_refuse_status`, reason `no_agent`), and a waiting
//! caller counts in pacing only where a blended agent could take it from outbound work. At most
//! `sip.inbound_queue_cap` at once, at most `sip.inbound_queue_timeout`; beyond either the caller gets `sip.inbound_refuse_status` (486),
//! or at the timeout the campaign's announcement (`sip.inbound_timeout_announcement`), counted
//! in `outdial_inbound_refused_total`, and pacing stops counting it.
//!
//! # Several engines, one centre
//! Engines sharing one PostgreSQL store lease disjoint leads (`FOR UPDATE SKIP LOCKED`), own
//! disjoint agents (claims that expire when a node dies), read one campaign-wide abandon figure
//! (the call records of every node) and share supervisor changes through the store.
//!
//! # Layout
//! - `config`: the config file.
//! - `clock`: wall time for the store, scaled pacing time for the dialers (pure arithmetic from
//!   a start instant).
//! - [`core`]: [`Core`], sans-IO (no tokio, sqlx, socket or clock read): `core::io` the typed
//!   ids, inputs and effects; `calls` leases, dialling, SIP events, call records, inbound queue;
//!   `agents` agent homes, wrap-up, claims; `nodes` liveness, store outages, recovery of dead
//!   nodes; `lines` trunk lines shared between campaigns by need, in priority order; `control`
//!   supervisor requests, overrides and the abandon budget; `stats` figures; `warm` dialer warm
//!   start.
//! - `shell`: the tokio loop: bounded channels, typed SIP commands
//!   ([`crate::sip::driver::Command`]), store commands as tasks, replies to supervisors.
//! - `control`: [`EngineControl`], the admin API's handle (requests to the loop, answers back).
//! - [`writes`]: the ordered, retried queue of store writes and its spool (IO: the shell's).
//! - [`harness`]: Core in virtual time with an in-memory store and a scripted SIP side (tests
//!   and the simulator).

mod clock;
pub mod config;
mod control;
pub mod core;
pub mod harness;
mod shell;
pub mod writes;

pub use self::core::Core;
pub use self::core::{CampaignSummary, RunSummary};
pub use clock::Clock;
pub use config::EngineConfig;
pub use control::EngineControl;
pub use shell::run;

use crate::store::StoreError;

/// Why the engine could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The config names something that does not exist or does not fit.
    #[error("config: {0}")]
    Config(String),
    /// A campaign's pacing settings were refused by its dialer.
    #[error("config: {0}")]
    Campaign(#[from] core::CampaignSetupError),
    /// The spool of writes owed to the store could not be read or written.
    #[error(transparent)]
    Spool(#[from] writes::SpoolError),
    /// A socket could not be bound.
    #[error("cannot listen on {what} {addr}: {source}")]
    Bind {
        /// `sip` or `admin`.
        what: &'static str,
        /// The address.
        addr: std::net::SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// Another node reaped this node's liveness row while it could not renew it (see
    /// `node_ttl`) and took its calls over; it stopped.
    #[error(
        "node {0}: another node took this node's calls over (its liveness row was reaped after \
         node_ttl without renewal), so it stopped dialling and hung up; restart it to dial again"
    )]
    NodeLost(String),
}

/// How the run reports progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// Nothing but logs.
    Quiet,
    /// A progress line on stderr every second: rewritten in place on a terminal, one line a
    /// second otherwise (a log file or a pipe).
    Line,
}
