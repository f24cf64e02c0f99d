//! outdial: a predictive outbound dialer engine.
//!
//! The pacing core and the call/agent state machines are sans-IO: they take plain data and the
//! current time as a value, and return decisions. The simulator drives them on a virtual clock; the
//! live engine drives the very same code from SIP and the store.
//!
//! # Layout
//! - [`campaign`]: campaign definitions (YAML), validation, and call-list parsing (CSV, E.164);
//!   the dial mode ([`campaign::DialMode`]) and the call disposition
//!   ([`campaign::CallDisposition`]) every layer shares.
//! - [`store`]: the persistent queue of leads, attempts, DNC list and audit trail (sqlx: SQLite or
//!   PostgreSQL), including the dial-time compliance lease ("hopper"); it owns its row types
//!   ([`store::CdrRow`], [`store::AuditRow`], …), which `admin` re-exports.
//! - [`agents`]: the agent state machine (sans-IO) and the one [`agents::AgentState`].
//! - [`pacing`]: call state machine, estimators and the per-campaign [`pacing::Dialer`] (sans-IO):
//!   shared bookkeeping, one timer table, and each dial mode as a strategy behind one trait.
//! - [`sim`]: discrete-event simulator that drives [`pacing`] and [`agents`] on a virtual clock;
//!   multi-campaign scenarios run the live engine's own [`engine::core::Core`] (`sim::multi`).
//! - [`sip`]: SIP on rsip, in layers: the endpoint routes each message to its transaction,
//!   dialog or call (customer + agent leg, trunk failover, flow I join); a session seam for SDP;
//!   transport shell, trunks and synthetic peers.
//! - [`cpa`]: call-progress analysis (sans-IO): 20 ms audio frames in, a verdict out — person,
//!   voicemail, known announcement, SIT, fax, dead air.
//! - [`engine`]: the engine's decisions as a sans-IO core (`engine::Core`, also driven in
//!   virtual time by `engine::harness`) and the live tokio shell joining it to store and SIP.
//! - [`admin`]: supervisor HTTP API, metrics and its CLI client.
//! - [`web`]: the browser pages on the admin listener (`/ui/`): login, supervisor wallboard.
//! - [`export`]: lead data neutralised where it is shown or exported (JSON, screens, CSV).
//! - [`limits`]: connection caps and timeouts of the TCP listeners.
//! - [`yaml`]: shared YAML loading with file/line/field errors, and duration values.
#![warn(missing_docs)]

pub mod admin;
pub mod agents;
pub mod campaign;
pub mod cpa;
pub mod engine;
pub mod export;
pub mod limits;
pub mod media;
pub mod pacing;
pub mod sim;
pub mod sip;
pub mod store;
pub mod web;
pub mod yaml;
