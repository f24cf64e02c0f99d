//! The interface between the admin API and the live engine: the [`Control`] trait the engine
//! implements, the [`AuditSink`] it (or its store) provides, and the plain data both exchange.
//! Owns no state and no rules beyond the shapes; validation lives in `validate`, HTTP in `http`.
//!
//! The same types are the JSON bodies of the admin API (serde), so the CLI client decodes exactly
//! what the router encodes.

use std::future::Future;
use std::pin::Pin;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::validate::DispositionWire;
use crate::agents::AgentState;
use crate::campaign::DialMode;
pub use crate::store::{AuditRow, LeadAttempt};
use crate::store::{CallFilter, CallPage};

/// A boxed, `Send` future: what every [`Control`] method returns, so the trait stays object-safe
/// and the engine can answer by message-passing to its tasks (send a command, await a reply).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What the engine can do for a supervisor or an agent. Implemented by the live engine; the admin
/// router holds it as `Arc<dyn Control>`.
///
/// Contract:
/// - Every method returns a boxed future (see [`BoxFuture`]) so an implementation may await its
///   own tasks or the store; none may block the calling thread.
/// - The router has already validated every value it passes (ranges, modes, dispositions), so an
///   implementation only rejects what needs its state: unknown names ([`ControlError::NotFound`]),
///   impossible transitions ([`ControlError::Conflict`]), or cross-field rules it alone can check
///   ([`ControlError::Invalid`]). A rejected call must change nothing.
/// - A pacing change returns the settings before and after it; it must take effect within one
///   pacing tick.
/// - Auditing is not the implementation's job: the router writes audit rows through
///   [`AuditSink`] after a change succeeded.
pub trait Control: AuditSink + Send + Sync {
    /// All campaigns the engine runs, with live figures, ordered by name.
    fn campaigns(&self) -> BoxFuture<'_, Result<Vec<CampaignView>, ControlError>>;

    /// One campaign with live figures.
    fn campaign<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<CampaignView, ControlError>>;

    /// Applies a (validated) pacing change; returns the settings before and after.
    fn set_pacing<'a>(
        &'a self,
        campaign: &'a str,
        change: PacingChange,
    ) -> BoxFuture<'a, Result<PacingUpdate, ControlError>>;

    /// Pauses (`paused = true`: no new dials, calls in progress finish) or resumes a campaign.
    /// Returns whether it was paused before the call.
    fn set_paused<'a>(
        &'a self,
        campaign: &'a str,
        paused: bool,
    ) -> BoxFuture<'a, Result<bool, ControlError>>;

    /// All configured agents, ordered by id.
    fn agents(&self) -> BoxFuture<'_, Result<Vec<AgentView>, ControlError>>;

    /// Applies an agent action (login, ready, pause, logout, wrap-up done); returns the agent
    /// after it.
    fn agent_action<'a>(
        &'a self,
        agent: &'a str,
        action: AgentAction,
    ) -> BoxFuture<'a, Result<AgentView, ControlError>>;

    /// The screen pop of the agent's current call (or of the call it is wrapping up), `None`
    /// when it has none.
    fn current_call<'a>(
        &'a self,
        agent: &'a str,
    ) -> BoxFuture<'a, Result<Option<ScreenPop>, ControlError>>;

    /// Everything the supervisor wallboard shows (see [`super::wallboard`]).
    fn wallboard(&self) -> BoxFuture<'_, Result<super::wallboard::Wallboard, ControlError>>;

    /// Call records matching `filter`, newest first, `limit` from `offset` (see
    /// [`super::records`]). The engine reads its store; an implementation without one answers
    /// [`ControlError::Unavailable`] (the default).
    fn search_calls<'a>(
        &'a self,
        filter: &'a CallFilter,
        offset: i64,
        limit: i64,
    ) -> BoxFuture<'a, Result<CallPage, ControlError>> {
        let _ = (filter, offset, limit);
        Box::pin(async { Err(ControlError::Unavailable("no call records here".into())) })
    }

    /// The recording file of call record `attempt`, while it is kept (default: none here).
    fn recording_file(&self, attempt: i64) -> BoxFuture<'_, Result<Option<String>, ControlError>> {
        let _ = attempt;
        Box::pin(async { Err(ControlError::Unavailable("no recordings here".into())) })
    }
}

/// Where audit rows go (the store's audit table in the engine). A supertrait of [`Control`] so the
/// router needs one object; the engine may forward it to the store.
pub trait AuditSink: Send + Sync {
    /// Durably writes the rows (all or none).
    fn audit(&self, rows: Vec<AuditRow>) -> BoxFuture<'_, Result<(), ControlError>>;
}

/// Why the engine refused or failed a request. Mapped to HTTP statuses by the router.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ControlError {
    /// No such campaign or agent (HTTP 404).
    #[error("{0}")]
    NotFound(String),
    /// The value is acceptable alone but not with the engine's state, e.g. ratio above max_ratio
    /// (HTTP 400).
    #[error("{0}")]
    Invalid(String),
    /// The action does not fit the current state, e.g. `ready` while talking (HTTP 409).
    #[error("{0}")]
    Conflict(String),
    /// The engine cannot answer now, e.g. shutting down (HTTP 503).
    #[error("{0}")]
    Unavailable(String),
    /// Anything else, e.g. the store failed (HTTP 500).
    #[error("{0}")]
    Internal(String),
}

/// A campaign's pacing settings, as a supervisor sets them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PacingSettings {
    /// Dial mode: `preview`, `progressive`, `power`, `power:R`, `predictive`, `adaptive`, `rate:λ`.
    #[schema(value_type = String, pattern = r"^(preview|progressive|power(:[0-9]+(\.[0-9]+)?)?|predictive|adaptive|rate:[0-9]+(\.[0-9]+)?)$", example = "predictive")]
    pub mode: DialMode,
    /// Lines per ready agent for `power` (and the starting dial level for `adaptive`).
    pub ratio: f64,
    /// Upper bound of the dial level in every mode.
    pub max_ratio: f64,
    /// Abandon rate the pacing keeps under, in [0.001, the campaign's `abandon_cap`].
    pub target_abandon: f64,
}

/// A requested pacing change: `None` fields stay as they are. `M` is how far the mode has been
/// checked: a [`DialMode`] (the default) once `validate` accepted the change, which is what
/// [`Control::set_pacing`] receives; the text as typed in a [`PacingRequest`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(
    bound = "",
    as = PacingRequest,
    description = "A pacing change: the fields to set (at least one); absent fields stay as they are."
)]
pub struct PacingChange<M = DialMode> {
    /// New dial mode, as typed: `preview`, `progressive`, `power`, `power:R`, `predictive`,
    /// `adaptive`, `rate:λ` (case and surrounding blanks ignored).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, example = "predictive")]
    pub mode: Option<M>,
    /// New ratio, in [1, 5].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, maximum = 5)]
    pub ratio: Option<f64>,
    /// New max ratio, in [1, 5].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, maximum = 5)]
    pub max_ratio: Option<f64>,
    /// New abandon target, in [0.001, the campaign's `abandon_cap`] (at most 0.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 0.001, maximum = 0.1)]
    pub target_abandon: Option<f64>,
}

/// The JSON body of `PATCH /campaigns/{name}/pacing` as a client sends it, before the router
/// checks it into a [`PacingChange`] (`validate::pacing_request`). The mode stays the text the
/// user typed (`Predictive`, ` power:2 `…) so that a bad one is answered like any other bad
/// field (the field and its allowed forms), not as a JSON decoding error.
pub type PacingRequest = PacingChange<String>;

// Not derived: a derive would ask `M: Default`, and a mode has no default.
impl<M> Default for PacingChange<M> {
    fn default() -> Self {
        PacingChange {
            mode: None,
            ratio: None,
            max_ratio: None,
            target_abandon: None,
        }
    }
}

impl From<PacingChange> for PacingRequest {
    fn from(c: PacingChange) -> Self {
        PacingRequest {
            mode: c.mode.map(|m| m.to_string()),
            ratio: c.ratio,
            max_ratio: c.max_ratio,
            target_abandon: c.target_abandon,
        }
    }
}

impl<M> PacingChange<M> {
    /// True when no field is set.
    pub fn is_empty(&self) -> bool {
        self.mode.is_none()
            && self.ratio.is_none()
            && self.max_ratio.is_none()
            && self.target_abandon.is_none()
    }
}

/// The result of a pacing change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PacingUpdate {
    /// Campaign changed.
    pub campaign: String,
    /// Settings before.
    pub old: PacingSettings,
    /// Settings after.
    pub new: PacingSettings,
}

/// Abandon rates (abandoned / live answers) over the three windows; `None` when the window had
/// no live answer.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AbandonRates {
    /// Since the engine started this campaign.
    pub run: Option<f64>,
    /// Last 24 hours.
    pub last_24h: Option<f64>,
    /// Last 30 days.
    pub last_30d: Option<f64>,
}

/// The abandon figure in its two parts over the run (UK Ofcom counts the people call-progress
/// analysis hangs up on as machines as abandoned calls; see `pacing::analysis`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AbandonParts {
    /// Live answers not connected to an agent within patience.
    pub abandoned: u64,
    /// Estimated people hung up on as machines: `machine_verdicts` × `fp_rate`.
    pub estimated_false_positives: f64,
    /// Calls call-progress analysis hung up on as machines.
    pub machine_verdicts: u64,
    /// Share of machine verdicts taken to be people.
    pub fp_rate: f64,
    /// Where `fp_rate` comes from: `configured` (`amd_false_positive`), `measured` (agents'
    /// `machine` marks), or `off` (the campaign's calls are not analysed).
    pub fp_source: String,
    /// Connected calls the agents marked `machine` at wrap-up.
    pub machine_marks: u64,
    /// (abandoned + estimated) / (live answers + estimated): the figure pacing holds under
    /// the target; `None` before any live answer.
    pub rate: Option<f64>,
    /// Whether the campaign's calls are analysed: without analysis nobody is hung up on as a
    /// machine, so `fp_rate` and the estimate are 0 and `fp_source` is `off`.
    #[serde(default)]
    pub analysis: bool,
    /// Mean answer-to-verdict delay pacing plans with, seconds (the campaign's prior until
    /// verdicts are learned); `None` without analysis.
    #[serde(default)]
    pub analysis_delay_s: Option<f64>,
}

/// Number of agents in each state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AgentCounts {
    /// Logged out.
    pub logged_out: u32,
    /// Ready for a call.
    pub ready: u32,
    /// Reserved for a call being placed or answered.
    pub reserved: u32,
    /// On a call.
    pub talking: u32,
    /// In wrap-up after a call.
    pub wrap_up: u32,
    /// Paused (break, training…).
    pub paused: u32,
}

/// A campaign as the supervisor sees it: settings and live figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CampaignView {
    /// Campaign name.
    pub name: String,
    /// Current pacing settings (flattened into the JSON object).
    #[serde(flatten)]
    pub pacing: PacingSettings,
    /// The campaign's legal abandon cap (`dialing.abandon_cap`, 3 % unless its file says
    /// otherwise): no `target_abandon` above it is accepted, and once the 24-hour or 30-day
    /// abandon rate reaches the target the campaign dials progressively whatever its mode.
    #[serde(default = "default_abandon_cap")]
    pub abandon_cap: f64,
    /// True when a supervisor paused it.
    pub paused: bool,
    /// Current dial level: lines in use per available agent.
    pub dial_level: f64,
    /// Calls dialling, ringing, waiting or connected.
    pub calls_in_flight: u32,
    /// Abandon rates by window.
    pub abandon_rate: AbandonRates,
    /// The run's abandon figure in its two parts: abandons and estimated AMD false positives.
    #[serde(default)]
    pub abandon_parts: AbandonParts,
    /// Occupancy of the campaign's agents over the run, `None` before any staffed time.
    pub occupancy: Option<f64>,
    /// The campaign's agents by state.
    pub agents: AgentCounts,
}

fn default_abandon_cap() -> f64 {
    super::validate::DEFAULT_ABANDON_CAP
}

/// An agent as the supervisor sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AgentView {
    /// Agent id from the config.
    pub id: String,
    /// SIP URI the engine connects calls to.
    pub uri: String,
    /// Current state.
    pub state: AgentState,
    /// Reason given with the last pause, while paused.
    #[serde(default)]
    pub pause_reason: Option<String>,
    /// Skills (`outbound`, `inbound`, or both).
    pub skills: Vec<String>,
    /// Agent group, if any.
    #[serde(default)]
    pub group: Option<String>,
    /// Campaign of the current call.
    #[serde(default)]
    pub campaign: Option<String>,
    /// Lead of the current call.
    #[serde(default)]
    pub lead: Option<i64>,
}

/// What an agent reports at the end of wrap-up (the engine records it as a
/// [`crate::campaign::CallDisposition`]).
///
/// JSON: `{"disposition": "callback", "at_ms": 1700000000000}`, `{"disposition": "do_not_call"}`,
/// `{"disposition": "machine"}` (voicemail reached the agent),
/// or any other code `{"disposition": "promise_to_pay"}`; checked on decoding (see `validate`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "DispositionWire", into = "DispositionWire")]
pub enum WrapUpCode {
    /// Call the customer back at a time.
    Callback {
        /// When, epoch milliseconds UTC.
        at_ms: i64,
    },
    /// Customer not interested: no retry.
    NotInterested,
    /// Customer asked not to be called: the number goes on the do-not-call list.
    DoNotCall,
    /// Done, the call achieved its purpose.
    Completed,
    /// The call was an answering machine that call-progress analysis passed as a person (a
    /// false negative): recorded with the `machine` disposition (and its retry rule), and
    /// counted by pacing for the measured AMD false-positive rate (`pacing::analysis`).
    Machine,
    /// Any other code (lowercase letters, digits, `_` and `-`, 1–64 chars). The store's call
    /// records know only the codes above (plus `connected`): the engine records such a call as
    /// `connected` and may keep the code alongside, or reject it with [`ControlError::Invalid`].
    Other {
        /// The code.
        code: String,
    },
}

impl WrapUpCode {
    /// The code stored in the call record (`callback`, `not_interested`, …, or the custom code).
    pub fn code(&self) -> &str {
        match self {
            WrapUpCode::Callback { .. } => "callback",
            WrapUpCode::NotInterested => "not_interested",
            WrapUpCode::DoNotCall => "do_not_call",
            WrapUpCode::Completed => "completed",
            WrapUpCode::Machine => "machine",
            WrapUpCode::Other { code } => code,
        }
    }
}

/// An action an agent (or its softphone, or `agent-sim`) takes.
#[derive(Debug, Clone, PartialEq)]
pub enum AgentAction {
    /// Log in (state becomes paused until `ready`, or ready if the engine so decides).
    Login,
    /// Ready for calls.
    Ready,
    /// Pause with a reason.
    Pause {
        /// Why (break, training, …).
        reason: String,
    },
    /// Log out.
    Logout,
    /// Wrap-up done with the call's disposition.
    WrapUp {
        /// Outcome of the call.
        disposition: WrapUpCode,
        /// The agent's note on the call (checked by `validate::wrap_up`), kept on its record
        /// and shown in the lead's later screen pops.
        note: Option<String>,
    },
}

/// What the agent's screen shows when a call connects.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ScreenPop {
    /// Campaign of the call.
    pub campaign: String,
    /// Lead id in the store.
    pub lead: i64,
    /// Customer name from the list, if any.
    pub name: Option<String>,
    /// The lender's own id for the customer/application, if any.
    pub external_id: Option<String>,
    /// E.164 number dialled.
    pub phone: String,
    /// Every other column of the list (JSON object).
    #[schema(value_type = Object)]
    pub attributes: serde_json::Value,
    /// When the call was connected to the agent, epoch milliseconds UTC.
    pub connected_at_ms: i64,
    /// The list's tier of the lead, if it has one.
    #[serde(default)]
    pub tier: Option<String>,
    /// This call's record (attempt id).
    #[serde(default)]
    pub attempt: Option<i64>,
    /// This lead's earlier attempts, newest first (at most [`POP_HISTORY`]), with their
    /// dispositions and the agents' notes.
    #[serde(default)]
    pub history: Vec<LeadAttempt>,
}

/// Most earlier attempts a screen pop lists.
pub const POP_HISTORY: i64 = 20;
