//! What the supervisor wallboard shows, as one view the engine fills in one request
//! ([`Control::wallboard`](super::Control::wallboard)): per campaign the live figures beyond
//! [`CampaignView`] (calls by stage, waits, leads dialable now, SLA leads at risk, the
//! call-progress verdict mix), per agent its time in state and calls today, per trunk its
//! channels and health, and the latest audit rows. Plain data (serde): owns no rule and no HTML.

use serde::{Deserialize, Serialize};

use super::control::{AgentView, AuditRow, CampaignView};

/// Everything the wallboard shows at one instant.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Wallboard {
    /// When the figures were taken, epoch milliseconds UTC.
    pub at_ms: i64,
    /// Campaigns, ordered by name.
    pub campaigns: Vec<CampaignBoard>,
    /// Agents, ordered by id.
    pub agents: Vec<AgentBoard>,
    /// Trunks, ordered by name.
    pub trunks: Vec<TrunkBoard>,
    /// The latest audit rows, newest first (at most [`AUDIT_ROWS`]).
    pub audit: Vec<AuditRow>,
}

/// How many audit rows the wallboard carries.
pub const AUDIT_ROWS: usize = 20;

/// How far ahead a first-call deadline counts as "at risk".
pub const SLA_RISK_MS: i64 = 5 * 60 * 1000;

/// One campaign's row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CampaignBoard {
    /// Settings and the figures the JSON API also gives.
    pub view: CampaignView,
    /// Calls dialled and not yet answered (dialling, ringing, in early media).
    pub ringing: u32,
    /// Answered calls waiting for an agent (in analysis or queued).
    pub waiting: u32,
    /// Calls connected to an agent now.
    pub connected: u32,
    /// Live answers over the run.
    pub live_answers: u64,
    /// Mean wait of connected calls from answer to agent over the run, ms; `None` before any.
    pub mean_wait_ms: Option<f64>,
    /// Leads a lease could hand out now (window, due time, attempts, DNC); `None` when the
    /// store could not be read.
    pub dialable_now: Option<i64>,
    /// Never-attempted leads whose first-call deadline falls within [`SLA_RISK_MS`] (or has
    /// passed); `None` when the store could not be read.
    pub sla_at_risk: Option<i64>,
    /// Call-progress verdicts over the run: (verdict, count), e.g. `("human", 40)`.
    pub verdicts: Vec<(String, u64)>,
}

/// One agent's row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentBoard {
    /// State, campaign and call, as the JSON API gives them.
    pub view: AgentView,
    /// Time in the current state, ms (since this engine first saw the state).
    pub in_state_ms: u64,
    /// Calls connected to the agent since midnight UTC (by this engine).
    pub calls_today: u32,
    /// Share of staffed time spent on calls and wrap-up over the run; `None` before any.
    pub occupancy: Option<f64>,
}

/// One trunk's row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrunkBoard {
    /// Trunk name from the config.
    pub name: String,
    /// Channels in use now.
    pub in_use: u32,
    /// Channel limit.
    pub max: u32,
    /// Calls placed per second over the last few seconds.
    pub calls_per_s: f64,
    /// The trunk answers its OPTIONS pings (or is not pinged).
    pub healthy: bool,
    /// The last failure seen on it, if any (a SIP status or a timeout).
    pub last_error: Option<String>,
}
