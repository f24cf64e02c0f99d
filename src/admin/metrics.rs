//! Prometheus metrics of the engine: the metric names (constants, one doc line each), the helper
//! functions the engine calls, and the process-wide recorder whose handle `/metrics` renders.
//! Owns no figures: the engine computes rates and levels and reports them here.
//!
//! | name | type | labels | meaning |
//! |---|---|---|---|
//! | `outdial_dials_total` | counter | campaign | calls placed (INVITE sent) |
//! | `outdial_calls_total` | counter | campaign, disposition | finished calls by final disposition |
//! | `outdial_live_answers_total` | counter | campaign | calls answered by a person |
//! | `outdial_abandons_total` | counter | campaign | live answers not connected within patience |
//! | `outdial_abandon_rate` | gauge | campaign, window (`run`, `24h`, `30d`) | abandoned / live answers |
//! | `outdial_occupancy` | gauge | campaign | busy / staffed agent time over the run, 0–1 |
//! | `outdial_agents` | gauge | state | agents in each state |
//! | `outdial_calls_in_flight` | gauge | campaign | calls dialling, ringing, waiting or connected |
//! | `outdial_dial_level` | gauge | campaign | lines in use per available agent |
//! | `outdial_calls_per_second` | gauge | campaign | recent dial rate (engine's sliding window) |
//! | `outdial_trunk_health` | gauge | trunk | 1 healthy … 0 down (share of recent attempts without trunk failure) |
//! | `outdial_pacing_decision_seconds` | histogram | campaign | wall time of one pacing decision |
//!
//! Labels carry names from the config and the store (campaign, trunk, disposition codes), never
//! lead data, so their number stays small.

use std::sync::OnceLock;
use std::time::Duration;

use metrics::{
    counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram, Unit,
};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use super::control::AgentState;

/// Counter `{campaign}`: calls placed (INVITE sent).
pub const DIALS: &str = "outdial_dials_total";
/// Counter `{campaign, disposition}`: finished calls by final disposition.
pub const CALLS: &str = "outdial_calls_total";
/// Counter `{campaign}`: calls answered by a person (machines excluded).
pub const LIVE_ANSWERS: &str = "outdial_live_answers_total";
/// Counter `{campaign}`: live answers not connected to an agent within patience.
pub const ABANDONS: &str = "outdial_abandons_total";
/// Gauge `{campaign, window}`: abandoned / live answers over `run`, `24h` or `30d`.
pub const ABANDON_RATE: &str = "outdial_abandon_rate";
/// Gauge `{campaign}`: agent occupancy, busy (talk + wrap) / staffed time, 0–1.
pub const OCCUPANCY: &str = "outdial_occupancy";
/// Gauge `{state}`: number of agents in each state (`logged_out`, `ready`, …).
pub const AGENTS: &str = "outdial_agents";
/// Gauge `{campaign}`: calls dialling, ringing, waiting for an agent or connected.
pub const CALLS_IN_FLIGHT: &str = "outdial_calls_in_flight";
/// Gauge `{campaign}`: current dial level, lines in use per available agent.
pub const DIAL_LEVEL: &str = "outdial_dial_level";
/// Gauge `{campaign}`: recent dial rate in calls per second.
pub const CALLS_PER_SECOND: &str = "outdial_calls_per_second";
/// Gauge `{trunk}`: trunk health, 1 healthy to 0 down.
pub const TRUNK_HEALTH: &str = "outdial_trunk_health";
/// Histogram `{campaign}`: seconds taken by one pacing decision.
pub const PACING_DECISION_SECONDS: &str = "outdial_pacing_decision_seconds";

/// Every metric name, for documentation checks and tests.
pub const ALL: [&str; 12] = [
    DIALS,
    CALLS,
    LIVE_ANSWERS,
    ABANDONS,
    ABANDON_RATE,
    OCCUPANCY,
    AGENTS,
    CALLS_IN_FLIGHT,
    DIAL_LEVEL,
    CALLS_PER_SECOND,
    TRUNK_HEALTH,
    PACING_DECISION_SECONDS,
];

/// Histogram buckets of pacing decision time: 1 µs to 100 ms (the target is < 1 ms).
const DECISION_BUCKETS: [f64; 11] = [
    1e-6, 5e-6, 1e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 5e-3, 2e-2, 1e-1,
];

/// Why the recorder could not be installed.
#[derive(Debug, Clone, thiserror::Error)]
#[error("cannot install the prometheus recorder: {0}")]
pub struct MetricsError(String);

static HANDLE: OnceLock<Result<PrometheusHandle, MetricsError>> = OnceLock::new();

/// Installs the process-wide Prometheus recorder (once; later calls return the same handle) and
/// describes every metric. Fails only if another global `metrics` recorder was installed first.
///
/// Histograms are drained by `PrometheusHandle::run_upkeep`, which `/metrics` calls on each
/// scrape; an engine that is never scraped should call it every few seconds.
pub fn install() -> Result<PrometheusHandle, MetricsError> {
    HANDLE
        .get_or_init(|| {
            let handle = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Full(PACING_DECISION_SECONDS.to_string()),
                    &DECISION_BUCKETS,
                )
                .and_then(PrometheusBuilder::install_recorder)
                .map_err(|e| MetricsError(e.to_string()))?;
            describe();
            Ok(handle)
        })
        .clone()
}

fn describe() {
    describe_counter!(DIALS, "Calls placed (INVITE sent).");
    describe_counter!(CALLS, "Finished calls by final disposition.");
    describe_counter!(LIVE_ANSWERS, "Calls answered by a person.");
    describe_counter!(
        ABANDONS,
        "Live answers not connected to an agent within patience."
    );
    describe_gauge!(
        ABANDON_RATE,
        "Abandoned / live answers over a window (run, 24h, 30d)."
    );
    describe_gauge!(OCCUPANCY, "Agent busy (talk + wrap) / staffed time, 0-1.");
    describe_gauge!(AGENTS, "Agents in each state.");
    describe_gauge!(
        CALLS_IN_FLIGHT,
        "Calls dialling, ringing, waiting or connected."
    );
    describe_gauge!(DIAL_LEVEL, "Lines in use per available agent.");
    describe_gauge!(CALLS_PER_SECOND, "Recent dial rate, calls per second.");
    describe_gauge!(TRUNK_HEALTH, "Trunk health: 1 healthy, 0 down.");
    describe_histogram!(
        PACING_DECISION_SECONDS,
        Unit::Seconds,
        "Time of one pacing decision."
    );
}

/// Window of an abandon rate (the `window` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AbandonWindow {
    /// Since the engine started the campaign.
    Run,
    /// Last 24 hours.
    Day,
    /// Last 30 days.
    Month,
}

impl AbandonWindow {
    /// Label value: `run`, `24h`, `30d`.
    pub fn label(self) -> &'static str {
        match self {
            AbandonWindow::Run => "run",
            AbandonWindow::Day => "24h",
            AbandonWindow::Month => "30d",
        }
    }
}

/// Counts a call placed.
pub fn dial(campaign: &str) {
    counter!(DIALS, "campaign" => campaign.to_string()).increment(1);
}

/// Counts a finished call with its final disposition code (`busy`, `no_answer`, `abandoned`, …).
pub fn call_ended(campaign: &str, disposition: &str) {
    counter!(CALLS, "campaign" => campaign.to_string(), "disposition" => disposition.to_string())
        .increment(1);
}

/// Counts a live answer.
pub fn live_answer(campaign: &str) {
    counter!(LIVE_ANSWERS, "campaign" => campaign.to_string()).increment(1);
}

/// Counts an abandoned call.
pub fn abandon(campaign: &str) {
    counter!(ABANDONS, "campaign" => campaign.to_string()).increment(1);
}

/// Sets a campaign's abandon rate over a window.
pub fn set_abandon_rate(campaign: &str, window: AbandonWindow, rate: f64) {
    gauge!(ABANDON_RATE, "campaign" => campaign.to_string(), "window" => window.label()).set(rate);
}

/// Sets a campaign's occupancy (0–1).
pub fn set_occupancy(campaign: &str, occupancy: f64) {
    gauge!(OCCUPANCY, "campaign" => campaign.to_string()).set(occupancy);
}

/// Sets the number of agents in a state.
pub fn set_agents(state: AgentState, count: u32) {
    gauge!(AGENTS, "state" => state.as_str()).set(f64::from(count));
}

/// Sets a campaign's calls in flight.
pub fn set_calls_in_flight(campaign: &str, calls: u32) {
    gauge!(CALLS_IN_FLIGHT, "campaign" => campaign.to_string()).set(f64::from(calls));
}

/// Sets a campaign's dial level.
pub fn set_dial_level(campaign: &str, level: f64) {
    gauge!(DIAL_LEVEL, "campaign" => campaign.to_string()).set(level);
}

/// Sets a campaign's recent dial rate (calls/s).
pub fn set_calls_per_second(campaign: &str, rate: f64) {
    gauge!(CALLS_PER_SECOND, "campaign" => campaign.to_string()).set(rate);
}

/// Sets a trunk's health (1 healthy … 0 down).
pub fn set_trunk_health(trunk: &str, health: f64) {
    gauge!(TRUNK_HEALTH, "trunk" => trunk.to_string()).set(health);
}

/// Records the time one pacing decision took.
pub fn pacing_decision(campaign: &str, took: Duration) {
    histogram!(PACING_DECISION_SECONDS, "campaign" => campaign.to_string())
        .record(took.as_secs_f64());
}
