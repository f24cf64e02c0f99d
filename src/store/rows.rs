//! Plain rows the store reads out for `outdial report` and the abandon-rate windows, and the
//! audit rows it writes for the admin API. Owned here so the store depends on no caller: the
//! report (`admin::report`) and the admin API read and build these types, not the other way round.
//! Shapes only; no queries (those are in `engine`) and no rules.

use serde::{Deserialize, Serialize};

/// What the report needs of one call-detail record: the store's `attempts` columns of the same
/// names (`wrapup_end_ms` is set when the agent's wrap-up ends, `None` before that).
#[derive(Debug, Clone, PartialEq)]
pub struct CdrRow {
    /// When the INVITE left, epoch ms UTC.
    pub dial_ms: i64,
    /// When the callee answered (person or machine).
    pub answer_ms: Option<i64>,
    /// When the call was bridged to an agent.
    pub connect_ms: Option<i64>,
    /// When the call ended.
    pub end_ms: Option<i64>,
    /// When the agent finished wrap-up (busy time ends here), if recorded.
    pub wrapup_end_ms: Option<i64>,
    /// Final disposition code (`busy`, `abandoned`, `completed`, …); `None` while the attempt
    /// is open (the call is in flight): it counts as an attempt only.
    pub disposition: Option<String>,
    /// Call-progress analysis's verdict (`human`, `machine`, …), when it ran.
    pub cpa_verdict: Option<String>,
    /// Its delay, ms (answer to verdict; early media: its start to the verdict).
    pub cpa_delay_ms: Option<i64>,
}

/// What the report needs of one inbound call record (the store's `inbound_calls`).
#[derive(Debug, Clone, PartialEq)]
pub struct InboundRow {
    /// When the INVITE arrived, epoch ms UTC.
    pub arrive_ms: i64,
    /// When an agent was bridged, `None` when the caller hung up first.
    pub connect_ms: Option<i64>,
    /// When the call ended.
    pub end_ms: i64,
}

/// One interval during which one agent was staffed (logged in, not paused), epoch ms UTC.
#[derive(Debug, Clone, PartialEq)]
pub struct StaffedInterval {
    /// Start.
    pub start_ms: i64,
    /// End (exclusive).
    pub end_ms: i64,
}

/// One audited change of one field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditRow {
    /// When the change was applied, epoch milliseconds UTC.
    pub at_ms: i64,
    /// The NAME of the API token that made the change (never the token itself).
    pub token: String,
    /// Campaign changed.
    pub campaign: String,
    /// Field changed: `mode`, `ratio`, `max_ratio`, `target_abandon` or `paused`.
    pub field: String,
    /// Value before, as text (`f64` in Rust's shortest round-trip form, booleans `true`/`false`).
    pub old: String,
    /// Value after, same format.
    pub new: String,
}
