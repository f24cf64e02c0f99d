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
//! | `outdial_abandon_estimated_fp_total` | gauge | campaign | estimated people hung up on as machines by call-progress analysis since the run started (machine verdicts × the AMD false-positive rate in use; UK Ofcom counts them as abandoned) |
//! | `outdial_abandon_with_fp_rate` | gauge | campaign | (abandoned + estimated false positives) / (live answers + estimated false positives) over the run: the figure pacing holds under the cap |
//! | `outdial_abandon_target` | gauge | campaign | the campaign's `target_abandon` (pacing keeps the abandon figure under it) |
//! | `outdial_abandon_cap` | gauge | campaign | the campaign's legal abandon cap (`dialing.abandon_cap`) |
//! | `outdial_cpa_verdicts_total` | counter | campaign, verdict (`human`, `machine`, `announcement`, `sit`, `fax`, `silence`, `unsure`) | call-progress verdicts acted on: at the answer, or an early-media announcement or SIT that cancelled the call |
//! | `outdial_occupancy` | gauge | campaign | busy / staffed agent time over the run, 0–1 |
//! | `outdial_agents` | gauge | state | agents in each state |
//! | `outdial_calls_in_flight` | gauge | campaign | calls dialling, ringing, waiting or connected |
//! | `outdial_dial_level` | gauge | campaign | lines in use per available agent |
//! | `outdial_calls_per_second` | gauge | campaign | recent dial rate (engine's sliding window) |
//! | `outdial_agent_dispositions_total` | counter | campaign, disposition | wrap-up codes agents gave (`completed`, `callback`, …; `not_set` when the engine stopped during the wrap-up) |
//! | `outdial_trunk_calls_total` | counter | trunk, class | calls by the final response of their INVITE: `class` is `2xx` (answered), `3xx`, `4xx`, `5xx`, `6xx`, or `timeout` (no final response) |
//! | `outdial_trunk_channels_in_use` | gauge | trunk | calls holding one of the trunk's channels |
//! | `outdial_trunk_max_channels` | gauge | trunk | the trunk's `max_channels` |
//! | `outdial_trunk_calls_per_second` | gauge | trunk | calls started on the trunk in the last second (the window its `max_cps` limits) |
//! | `outdial_trunk_up` | gauge | trunk | 1 in service, 0 out of service (OPTIONS pings, timeouts, 503) |
//! | `outdial_pacing_decision_seconds` | histogram | campaign | wall time of one pacing decision |
//! | `outdial_listener_refusals_total` | counter | listener (`sip_tcp`, `admin`), reason (`cap`, `header_timeout`, `idle_timeout`) | connections closed by a listener's limits: over `max_connections` at accept, a request header not complete within `header_timeout`, no traffic within `idle_timeout` |
//! | `outdial_sip_refused_total` | counter | reason | SIP input refused or dropped: `forbidden` (request outside a dialog from a source that is neither a trunk, an agent nor in `sip.accept_from`: answered 403), `wrong_source` (response whose branch matches, from another IP than its request was sent to), `stray` (response matching no branch of ours) |
//! | `outdial_inbound_refused_total` | counter | campaign, reason | inbound calls refused with `sip.inbound_refuse_status`: `no_agent` (no logged-in agent of the campaign has the inbound skill), `queue_full` (`inbound_queue_cap` callers already waiting), `queue_timeout` (no agent within `inbound_queue_timeout`), `not_a_trunk` (an allowed source that is not a trunk, answered 403), `unknown_user` (the same, naming no agent while some agent dials in: answered 404) |
//! | `outdial_store_backlog` | gauge | where (`memory`, `spool`) | writes owed to the store, not yet landed (see `engine::writes`); 0 when the store keeps up |
//! | `outdial_store_write_retries_total` | counter | | tries of a store write that failed because the store was unreachable |
//! | `outdial_opt_outs_total` | counter | campaign | customers who pressed the opt-out key during the safe-harbour message |
//! | `outdial_recording_failures_total` | counter | campaign | recordings that failed (unwritable, disk full); the calls went on |
//! | `outdial_recording_gaps_total` | counter | campaign | recordings that lost frames because the recording thread fell behind (silence in the file; the relay and the call went on) |
//! | `outdial_rtp_ports_free` | gauge | | RTP port pairs free in `media.ports` |
//! | `outdial_call_mos` | histogram | campaign | E-model MOS estimate of each anchored call's customer leg |
//! | `outdial_call_loss_percent` | histogram | campaign | packet loss (%) of each anchored call's customer leg |
//! | `outdial_call_jitter_seconds` | histogram | campaign | interarrival jitter (RFC 3550) of each anchored call's customer leg |
//!
//! The trunk gauges are read from the SIP endpoint's trunk table once a second. A call is counted
//! in `outdial_trunk_calls_total` once, when it ends, on the trunk it was last seen on (answered
//! or ringing there; the first trunk tried when it failed before either): failover inside the SIP
//! layer is not a call of its own.
//!
//! Labels carry names from the config and the store (campaign, trunk, disposition codes), never
//! lead data, so their number stays small.

use std::sync::OnceLock;
use std::time::Duration;

use metrics::{
    counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram, Unit,
};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::agents::AgentState;

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
/// Gauge `{campaign}`: estimated people hung up on as machines (AMD false positives) over
/// the run; a running total that can move when the false-positive rate in use is re-measured.
pub const ABANDON_ESTIMATED_FP: &str = "outdial_abandon_estimated_fp_total";
/// Gauge `{campaign}`: (abandoned + estimated false positives) / (live answers + estimated
/// false positives) over the run.
pub const ABANDON_WITH_FP_RATE: &str = "outdial_abandon_with_fp_rate";
/// Gauge `{campaign}`: the campaign's abandon target (`target_abandon`).
pub const ABANDON_TARGET: &str = "outdial_abandon_target";
/// Gauge `{campaign}`: the campaign's legal abandon cap (`dialing.abandon_cap`).
pub const ABANDON_CAP: &str = "outdial_abandon_cap";
/// Counter `{campaign, verdict}`: call-progress verdicts acted on.
pub const CPA_VERDICTS: &str = "outdial_cpa_verdicts_total";
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
/// Counter `{campaign, disposition}`: wrap-up codes given by agents (`not_set`: none at exit).
pub const AGENT_DISPOSITIONS: &str = "outdial_agent_dispositions_total";
/// Counter `{trunk, class}`: calls by the class of their final response (`2xx` … `6xx`,
/// `timeout`).
pub const TRUNK_CALLS: &str = "outdial_trunk_calls_total";
/// Gauge `{trunk}`: channels in use.
pub const TRUNK_CHANNELS_IN_USE: &str = "outdial_trunk_channels_in_use";
/// Gauge `{trunk}`: configured channel limit.
pub const TRUNK_MAX_CHANNELS: &str = "outdial_trunk_max_channels";
/// Gauge `{trunk}`: calls started in the last second.
pub const TRUNK_CALLS_PER_SECOND: &str = "outdial_trunk_calls_per_second";
/// Gauge `{trunk}`: 1 in service, 0 out of service.
pub const TRUNK_UP: &str = "outdial_trunk_up";
/// Histogram `{campaign}`: seconds taken by one pacing decision.
pub const PACING_DECISION_SECONDS: &str = "outdial_pacing_decision_seconds";

/// Counter `{listener, reason}`: connections a TCP listener closed by its limits.
pub const LISTENER_REFUSALS: &str = "outdial_listener_refusals_total";
/// Counter `{reason}`: SIP input refused (`forbidden`: 403 outside a dialog) or dropped
/// (`wrong_source`, `stray` responses).
pub const SIP_REFUSED: &str = "outdial_sip_refused_total";
/// Counter `{campaign, reason}`: inbound calls refused (`no_agent`, `queue_full`,
/// `queue_timeout`, `not_a_trunk`).
pub const INBOUND_REFUSED: &str = "outdial_inbound_refused_total";
/// Gauge `{where}`: writes owed to the store not yet landed, in `memory` or in the `spool` file.
pub const STORE_BACKLOG: &str = "outdial_store_backlog";
/// Counter: store write tries that failed because the store was unreachable (retried).
pub const STORE_WRITE_RETRIES: &str = "outdial_store_write_retries_total";
/// Counter `{campaign}`: customers who pressed the opt-out key during the safe-harbour message.
pub const OPT_OUTS: &str = "outdial_opt_outs_total";
/// Counter `{campaign}`: recordings that failed (unwritable, disk full); the calls went on.
pub const RECORDING_FAILURES: &str = "outdial_recording_failures_total";
/// Counter `{campaign}`: recordings with a gap (the recording thread fell behind and frames
/// for it were dropped; the calls were relayed as usual).
pub const RECORDING_GAPS: &str = "outdial_recording_gaps_total";
/// Gauge: RTP port pairs free in `media.ports`.
pub const RTP_PORTS_FREE: &str = "outdial_rtp_ports_free";
/// Histogram `{campaign}`: E-model MOS estimate of each anchored call's customer leg.
pub const CALL_MOS: &str = "outdial_call_mos";
/// Histogram `{campaign}`: packet loss (%) of each anchored call's customer leg.
pub const CALL_LOSS: &str = "outdial_call_loss_percent";
/// Histogram `{campaign}`: interarrival jitter (RFC 3550, seconds) of each customer leg.
pub const CALL_JITTER: &str = "outdial_call_jitter_seconds";

/// Every metric name, for documentation checks and tests.
pub const ALL: [&str; 34] = [
    DIALS,
    CALLS,
    LIVE_ANSWERS,
    ABANDONS,
    ABANDON_RATE,
    ABANDON_ESTIMATED_FP,
    ABANDON_WITH_FP_RATE,
    ABANDON_TARGET,
    ABANDON_CAP,
    CPA_VERDICTS,
    OCCUPANCY,
    AGENTS,
    CALLS_IN_FLIGHT,
    DIAL_LEVEL,
    CALLS_PER_SECOND,
    AGENT_DISPOSITIONS,
    TRUNK_CALLS,
    TRUNK_CHANNELS_IN_USE,
    TRUNK_MAX_CHANNELS,
    TRUNK_CALLS_PER_SECOND,
    TRUNK_UP,
    PACING_DECISION_SECONDS,
    LISTENER_REFUSALS,
    SIP_REFUSED,
    INBOUND_REFUSED,
    STORE_BACKLOG,
    STORE_WRITE_RETRIES,
    OPT_OUTS,
    RECORDING_FAILURES,
    RECORDING_GAPS,
    RTP_PORTS_FREE,
    CALL_MOS,
    CALL_LOSS,
    CALL_JITTER,
];

/// Buckets of the per-call media figures: MOS (1–4.5), loss % and jitter seconds.
const MOS_BUCKETS: [f64; 8] = [1.0, 2.0, 3.0, 3.5, 3.8, 4.0, 4.2, 4.4];
const LOSS_BUCKETS: [f64; 8] = [0.0, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 20.0];
const JITTER_BUCKETS: [f64; 7] = [0.001, 0.005, 0.01, 0.02, 0.04, 0.08, 0.16];

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
                .and_then(|b| {
                    b.set_buckets_for_metric(Matcher::Full(CALL_MOS.into()), &MOS_BUCKETS)
                })
                .and_then(|b| {
                    b.set_buckets_for_metric(Matcher::Full(CALL_LOSS.into()), &LOSS_BUCKETS)
                })
                .and_then(|b| {
                    b.set_buckets_for_metric(Matcher::Full(CALL_JITTER.into()), &JITTER_BUCKETS)
                })
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
    describe_gauge!(
        ABANDON_ESTIMATED_FP,
        "Estimated people hung up on as machines by call-progress analysis over the run."
    );
    describe_gauge!(
        ABANDON_WITH_FP_RATE,
        "(Abandoned + estimated AMD false positives) / (live answers + those) over the run."
    );
    describe_gauge!(
        ABANDON_TARGET,
        "The campaign's abandon target (target_abandon)."
    );
    describe_gauge!(
        ABANDON_CAP,
        "The campaign's legal abandon cap (dialing.abandon_cap)."
    );
    describe_counter!(
        CPA_VERDICTS,
        "Call-progress verdicts acted on (at the answer, or early media that cancelled the call)."
    );
    describe_gauge!(OCCUPANCY, "Agent busy (talk + wrap) / staffed time, 0-1.");
    describe_gauge!(AGENTS, "Agents in each state.");
    describe_gauge!(
        CALLS_IN_FLIGHT,
        "Calls dialling, ringing, waiting or connected."
    );
    describe_gauge!(DIAL_LEVEL, "Lines in use per available agent.");
    describe_gauge!(CALLS_PER_SECOND, "Recent dial rate, calls per second.");
    describe_counter!(
        AGENT_DISPOSITIONS,
        "Wrap-up codes given by agents (not_set: wrap-up open when the engine stopped)."
    );
    describe_counter!(
        TRUNK_CALLS,
        "Calls by trunk and class of the final response (2xx..6xx, timeout)."
    );
    describe_gauge!(TRUNK_CHANNELS_IN_USE, "Trunk channels in use.");
    describe_gauge!(TRUNK_MAX_CHANNELS, "Trunk channel limit (max_channels).");
    describe_gauge!(
        TRUNK_CALLS_PER_SECOND,
        "Calls started on the trunk in the last second."
    );
    describe_gauge!(TRUNK_UP, "Trunk in service: 1, out of service: 0.");
    describe_counter!(
        LISTENER_REFUSALS,
        "Connections closed by a listener's limits (cap, header_timeout, idle_timeout)."
    );
    describe_counter!(
        SIP_REFUSED,
        "SIP input refused (forbidden: 403 outside a dialog) or dropped (wrong_source, stray)."
    );
    describe_counter!(
        INBOUND_REFUSED,
        "Inbound calls refused (no_agent, queue_full, queue_timeout, not_a_trunk)."
    );
    describe_gauge!(
        STORE_BACKLOG,
        "Writes owed to the store, not yet landed (where: memory, spool)."
    );
    describe_counter!(
        STORE_WRITE_RETRIES,
        "Store write tries that failed because the store was unreachable."
    );
    describe_counter!(
        OPT_OUTS,
        "Customers who pressed the opt-out key during the safe-harbour message."
    );
    describe_counter!(
        RECORDING_FAILURES,
        "Recordings that failed (unwritable, disk full); the calls went on."
    );
    describe_counter!(
        RECORDING_GAPS,
        "Recordings with a gap (frames dropped while the recorder was behind); the calls went on."
    );
    describe_gauge!(RTP_PORTS_FREE, "RTP port pairs free in media.ports.");
    describe_histogram!(
        CALL_MOS,
        "E-model MOS estimate of each anchored call's customer leg."
    );
    describe_histogram!(
        CALL_LOSS,
        "Packet loss (%) of each anchored call's customer leg."
    );
    describe_histogram!(
        CALL_JITTER,
        Unit::Seconds,
        "Interarrival jitter (RFC 3550) of each anchored call's customer leg."
    );
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

/// Counts a connection `listener` (`sip_tcp`, `admin`) closed by its limits.
pub fn listener_refused(listener: &'static str, why: crate::limits::Refusal) {
    counter!(LISTENER_REFUSALS, "listener" => listener, "reason" => why.as_str()).increment(1);
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

/// Sets a campaign's abandon figure in its AMD part: the estimated false positives over the
/// run, and (abandoned + them) / (live answers + them) when there was a live answer.
pub fn set_abandon_fp(campaign: &str, estimated: f64, rate: Option<f64>) {
    gauge!(ABANDON_ESTIMATED_FP, "campaign" => campaign.to_string()).set(estimated);
    if let Some(r) = rate {
        gauge!(ABANDON_WITH_FP_RATE, "campaign" => campaign.to_string()).set(r);
    }
}

/// Sets a campaign's abandon target and legal cap (fractions, 0.03 = 3 %).
pub fn set_abandon_limits(campaign: &str, target: f64, cap: f64) {
    gauge!(ABANDON_TARGET, "campaign" => campaign.to_string()).set(target);
    gauge!(ABANDON_CAP, "campaign" => campaign.to_string()).set(cap);
}

/// Counts a call-progress verdict acted on (`human`, `machine`, …).
pub fn cpa_verdict(campaign: &str, verdict: &'static str) {
    counter!(CPA_VERDICTS, "campaign" => campaign.to_string(), "verdict" => verdict).increment(1);
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

/// Counts a wrap-up code given by an agent (or `not_set`).
pub fn agent_disposition(campaign: &str, disposition: &str) {
    counter!(AGENT_DISPOSITIONS, "campaign" => campaign.to_string(), "disposition" => disposition.to_string())
        .increment(1);
}

/// The `class` label of a final response: `2xx` … `6xx`, or `timeout` when none came.
pub fn response_class(code: Option<u16>) -> &'static str {
    match code {
        Some(200..=299) => "2xx",
        Some(300..=399) => "3xx",
        Some(400..=499) => "4xx",
        Some(500..=599) => "5xx",
        Some(600..=699) => "6xx",
        // A provisional or out-of-range code is never final: treat it as no answer at all.
        Some(_) | None => "timeout",
    }
}

/// Counts a call that ended on `trunk` with final response `code` (`None`: no final response).
pub fn trunk_call(trunk: &str, code: Option<u16>) {
    counter!(TRUNK_CALLS, "trunk" => trunk.to_string(), "class" => response_class(code))
        .increment(1);
}

/// A trunk's state as the SIP endpoint sees it (set once a second).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrunkGauges {
    /// Trunk name.
    pub trunk: String,
    /// Channels in use.
    pub channels_in_use: u32,
    /// `max_channels`.
    pub max_channels: u32,
    /// Calls started in the last second.
    pub calls_last_second: u32,
    /// In service.
    pub up: bool,
}

/// Sets a trunk's gauges.
pub fn set_trunk(t: &TrunkGauges) {
    let name = || t.trunk.clone();
    gauge!(TRUNK_CHANNELS_IN_USE, "trunk" => name()).set(f64::from(t.channels_in_use));
    gauge!(TRUNK_MAX_CHANNELS, "trunk" => name()).set(f64::from(t.max_channels));
    gauge!(TRUNK_CALLS_PER_SECOND, "trunk" => name()).set(f64::from(t.calls_last_second));
    set_trunk_up(&t.trunk, t.up);
}

/// Sets whether a trunk is in service (also on the endpoint's TrunkUp/TrunkDown events, at once).
pub fn set_trunk_up(trunk: &str, up: bool) {
    gauge!(TRUNK_UP, "trunk" => trunk.to_string()).set(if up { 1.0 } else { 0.0 });
}

/// Sets the SIP refusal counters to the endpoint's totals (`forbidden`, `wrong_source`,
/// `stray`).
pub fn set_sip_refused(forbidden: u64, wrong_source: u64, stray: u64) {
    for (reason, n) in [
        ("forbidden", forbidden),
        ("wrong_source", wrong_source),
        ("stray", stray),
    ] {
        counter!(SIP_REFUSED, "reason" => reason).absolute(n);
    }
}

/// Counts an inbound call refused for `reason` (`no_agent`, `queue_full`, `queue_timeout`,
/// `not_a_trunk`).
pub fn inbound_refused(campaign: &str, reason: &'static str) {
    counter!(INBOUND_REFUSED, "campaign" => campaign.to_string(), "reason" => reason).increment(1);
}

/// Records the time one pacing decision took.
pub fn pacing_decision(campaign: &str, took: Duration) {
    histogram!(PACING_DECISION_SECONDS, "campaign" => campaign.to_string())
        .record(took.as_secs_f64());
}

/// The write queue's backlog: writes held in memory and in the spool file.
pub fn set_store_backlog(memory: usize, spool: usize) {
    gauge!(STORE_BACKLOG, "where" => "memory").set(memory as f64);
    gauge!(STORE_BACKLOG, "where" => "spool").set(spool as f64);
}

/// A store write failed because the store was unreachable (it is retried).
pub fn store_write_retry() {
    counter!(STORE_WRITE_RETRIES).increment(1);
}

/// Counts an opt-out during the safe-harbour message.
pub fn opt_out(campaign: &str) {
    counter!(OPT_OUTS, "campaign" => campaign.to_string()).increment(1);
}

/// Counts a failed recording.
pub fn recording_failed(campaign: &str) {
    counter!(RECORDING_FAILURES, "campaign" => campaign.to_string()).increment(1);
}

/// Counts a recording with a gap.
pub fn recording_gap(campaign: &str) {
    counter!(RECORDING_GAPS, "campaign" => campaign.to_string()).increment(1);
}

/// Records an anchored call's customer-leg figures (only legs that received RTP).
pub fn call_media(campaign: &str, stats: &crate::media::io::LegStats) {
    if stats.packets_in == 0 {
        return;
    }
    let c = campaign.to_string();
    histogram!(CALL_MOS, "campaign" => c.clone()).record(stats.mos);
    histogram!(CALL_LOSS, "campaign" => c.clone()).record(stats.loss_pct);
    histogram!(CALL_JITTER, "campaign" => c).record(stats.jitter_ms / 1000.0);
}

/// Sets the RTP port pairs free.
pub fn set_rtp_ports_free(free: usize) {
    gauge!(RTP_PORTS_FREE).set(free as f64);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn response_classes_follow_the_first_digit_and_no_response_is_a_timeout() {
        for (code, class) in [
            (Some(200), "2xx"),
            (Some(302), "3xx"),
            (Some(486), "4xx"),
            (Some(487), "4xx"),
            (Some(503), "5xx"),
            (Some(603), "6xx"),
            (Some(180), "timeout"),
            (None, "timeout"),
        ] {
            assert_eq!(response_class(code), class, "{code:?}");
        }
    }
}
