//! How a [`Dialer`] is set up and tuned: priors, supervisor parameters (and their checks),
//! construction settings, and the counters it reports. Plain values, no logic beyond validation.

use crate::pacing::dialer::DialerError;
use crate::pacing::dist::Dist;
#[cfg(doc)]
use crate::pacing::Dialer;
use crate::pacing::Mode;

/// Prior beliefs about a campaign, used until observations take over.
#[derive(Clone, Debug)]
pub struct Priors {
    /// P(live), P(machine), P(busy/invalid/failure), P(no answer).
    pub outcomes: [f64; 4],
    /// Dial-to-answer time of answered calls.
    pub ring: Dist,
    /// Outbound talk time.
    pub talk: Dist,
    /// Inbound talk time.
    pub inbound_talk: Dist,
    /// Wrap-up time.
    pub wrap: Dist,
    /// Inbound arrivals per second.
    pub inbound_rate: f64,
    /// Verdict mix of analysed calls: P(human), P(machine), P(other) (see
    /// [`crate::pacing::analysis`]).
    pub verdicts: [f64; 3],
    /// Answer-to-verdict delay of call-progress analysis. `Some` when the campaign runs CPA,
    /// so the first calls are planned with it; `None` until the first analysed call (then a
    /// prior of 2 ± 0.8 s).
    pub analysis: Option<Dist>,
}

impl Default for Priors {
    /// Generic contact-centre figures: 25 % live, 10 % machine, 12 % busy/invalid, 12 s ring,
    /// 3 min talk, 30 s wrap-up; analysed calls 65 % people, 30 % machines, 5 % other.
    fn default() -> Self {
        Priors {
            outcomes: [0.25, 0.10, 0.12, 0.53],
            ring: Dist::lognormal(12.0, 6.0).unwrap_or_default(),
            talk: Dist::lognormal(180.0, 120.0).unwrap_or_default(),
            inbound_talk: Dist::lognormal(240.0, 120.0).unwrap_or_default(),
            wrap: Dist::lognormal(30.0, 10.0).unwrap_or_default(),
            inbound_rate: 0.0,
            verdicts: [0.65, 0.30, 0.05],
            analysis: None,
        }
    }
}

/// Supervisor parameters (changeable at run time with [`Dialer::set_params`]).
#[derive(Clone, Debug)]
pub struct Params {
    /// Dial mode.
    pub mode: Mode,
    /// Abandon cap (share of live answers).
    pub target_abandon: f64,
    /// Share of the cap the predictive controller aims at.
    pub abandon_margin: f64,
    /// Lines in use (ringing + waiting + connected) per active agent, at most.
    pub max_ratio: f64,
    /// How long an answered call waits for an agent, in ms (0: abandon at once).
    pub patience_ms: u64,
    /// Unanswered calls are cancelled after this many ms.
    pub no_answer_timeout_ms: u64,
    /// Outbound lines.
    pub channels: u32,
    /// Inbound service-level objective: share answered within `service_time_ms`.
    pub service_level: f64,
    /// Inbound service-level threshold.
    pub service_time_ms: u64,
    /// Share of machine verdicts of call-progress analysis taken to be people hung up on
    /// (AMD false positives), until agents' marks measure it (see
    /// [`crate::pacing::analysis`]). They count as abandoned calls in the abandon budget.
    pub amd_false_positive: f64,
    /// Share of machines call-progress analysis passes as people in the user's offline test:
    /// the reference the agents' `machine` marks are compared with.
    pub amd_false_negative: f64,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            mode: Mode::Predictive,
            target_abandon: 0.03,
            abandon_margin: 0.85,
            max_ratio: 3.0,
            patience_ms: 2_000,
            no_answer_timeout_ms: 25_000,
            channels: u32::MAX,
            service_level: 0.8,
            service_time_ms: 20_000,
            amd_false_positive: DEFAULT_AMD_FALSE_POSITIVE,
            amd_false_negative: DEFAULT_AMD_FALSE_NEGATIVE,
        }
    }
}

/// The share of machine verdicts taken to be people when the campaign says nothing (issue
/// 18's figure). A placeholder: users should set their own from `outdial cpa score` on their
/// recordings, or let the agents' `machine` marks measure it.
pub const DEFAULT_AMD_FALSE_POSITIVE: f64 = 0.02;

/// The share of machines passed as people when the campaign says nothing: the middle of the
/// 85–95 % accuracy reported for tuned AMD (cpa.md).
pub const DEFAULT_AMD_FALSE_NEGATIVE: f64 = 0.10;

/// Construction-time settings.
#[derive(Clone, Debug)]
pub struct Config {
    /// Initial supervisor parameters.
    pub params: Params,
    /// Priors of the estimators.
    pub priors: Priors,
    /// Pacing tick in ms (decisions happen on ticks; 200 ms by default).
    pub tick_ms: u64,
    /// Seed of the dialer's own RNG (Poisson dialling of `rate:λ`).
    pub seed: u64,
    /// Length of the shift in ms (adaptive tapered rule); 8 h by default.
    pub shift_ms: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            params: Params::default(),
            priors: Priors::default(),
            tick_ms: 200,
            seed: 0,
            shift_ms: 8 * 3_600_000,
        }
    }
}

/// Cumulative counters of one dialer since it was created.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Calls placed.
    pub dials: u64,
    /// Live answers.
    pub live: u64,
    /// Machine answers.
    pub machines: u64,
    /// Abandoned live answers.
    pub abandoned: u64,
    /// Answered calls that went through call-progress analysis.
    pub analysed: u64,
    /// Analysed calls with a machine verdict (hung up on as voicemail).
    pub machine_verdicts: u64,
    /// Connected calls the agent marked `machine` at wrap-up (AMD false negatives).
    pub machine_marks: u64,
    /// Live answers connected to an agent.
    pub connected: u64,
    /// Inbound calls arrived.
    pub inbound: u64,
    /// Inbound calls connected within the service time.
    pub inbound_in_sl: u64,
    /// Inbound calls connected.
    pub inbound_connected: u64,
}

pub(super) fn check_params(p: &Params) -> Result<(), DialerError> {
    let bad = |name, message: &str| {
        Err(DialerError::Param {
            name,
            message: message.to_string(),
        })
    };
    if !(p.target_abandon > 0.0 && p.target_abandon < 1.0) {
        return bad("target_abandon", "must be between 0 and 1");
    }
    if !(p.abandon_margin > 0.0 && p.abandon_margin <= 1.0) {
        return bad("abandon_margin", "must be in (0, 1]");
    }
    if !(p.max_ratio >= 1.0 && p.max_ratio.is_finite()) {
        return bad("max_ratio", "must be at least 1");
    }
    if p.no_answer_timeout_ms == 0 {
        return bad("no_answer_timeout", "must be above 0");
    }
    if !(0.0..=1.0).contains(&p.amd_false_positive) {
        return bad("amd_false_positive", "must be between 0 and 1");
    }
    if !(p.amd_false_negative > 0.0 && p.amd_false_negative <= 1.0) {
        return bad("amd_false_negative", "must be above 0 and at most 1");
    }
    if !(0.0..=1.0).contains(&p.service_level) {
        return bad("service_level", "must be between 0 and 1");
    }
    Ok(())
}
