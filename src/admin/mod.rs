//! Supervisor control of a running engine: the admin HTTP API (axum, bearer tokens, audit trail),
//! Prometheus metrics, the client used by `outdial pacing|agents|campaign pause`, and the per-hour
//! report over call records. Owns no pacing logic: it validates requests and hands changes to the
//! engine through [`Control`].
//!
//! # Layout
//! - `control`: the [`Control`] and [`AuditSink`] traits the engine implements, and the data they
//!   exchange (also the JSON bodies). Types owned elsewhere are re-exported, not copied: the
//!   agent state ([`AgentState`], from `agents`), audit and report rows ([`AuditRow`], from
//!   `store`), the dial mode (`campaign::DialMode`).
//! - `validate`: checks of pacing changes, modes, pause reasons and wrap-up codes (pure), with
//!   their error ([`validate::Invalid`]).
//! - `auth`: bearer tokens ([`ApiToken`]) with their [`Role`], constant-time comparison, the 401
//!   layer and the 403 of agent tokens outside their own agent.
//! - `changes`: the audited supervisor changes (pacing, pause/resume), shared by the JSON API and
//!   the web pages (`crate::web`).
//! - [`wallboard`]: the view the supervisor wallboard shows ([`Control::wallboard`]).
//! - `http`: the routes ([`router`]), each handler with its OpenAPI description, and the
//!   error → status mapping.
//! - `openapi`: the frame of the OpenAPI document ([`openapi()`]) and `/openapi.json`.
//! - `params`: the path parameters the document describes (agent id, campaign name), each
//!   written once.
//! - `responses`: the error answers the document describes, each written once, and the sets of
//!   them the handlers list.
//! - [`grafana`]: the Grafana dashboard of the metrics, embedded and served at `/grafana.json`.
//! - `serve`: [`bind`] and [`serve`] (graceful shutdown, connection cap and timeouts), loopback by
//!   default.
//! - [`metrics`]: metric names, helpers the engine calls, the recorder behind `/metrics`.
//! - [`client`]: HTTP client of this API.
//! - [`report`]: per-hour figures from call records (pure).
//! - [`analysis_report`]: call-progress analysis figures from call records (pure): verdict
//!   counts, mean and p95 analysis delay.

pub mod analysis_report;
mod auth;
pub(crate) mod changes;
pub mod client;
mod control;
pub mod grafana;
mod http;
pub mod metrics;
mod openapi;
mod params;
pub mod records;
pub mod report;
mod responses;
mod serve;
pub mod validate;
pub mod wallboard;

pub use crate::agents::AgentState;
pub(crate) use auth::Tokens;
pub use auth::{ApiToken, Caller, Role, TokenName};
pub(crate) use changes::now_ms;
pub use client::{Client, ClientError};
pub use control::{
    AbandonParts, AbandonRates, AgentAction, AgentCounts, AgentView, AuditRow, AuditSink,
    BoxFuture, CampaignView, Control, ControlError, PacingChange, PacingRequest, PacingSettings,
    PacingUpdate, ScreenPop, WrapUpCode, POP_HISTORY,
};
pub(crate) use http::ApiError;
pub use http::{openapi, router, CurrentCall, ErrorBody, PauseUpdate};
pub use serve::{bind, serve, serve_with, DEFAULT_ADDR, DEFAULT_LIMITS};
