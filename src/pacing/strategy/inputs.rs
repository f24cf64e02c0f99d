//! What the shared bookkeeping feeds the forecast at a model-based decision, besides the tables
//! refitted from the estimators. One struct so that new evidence joins as a field, not as a new
//! argument threaded through every strategy.
//!
//! # Call-progress analysis
//! With analysis, `live` is the share of dials with a *human verdict* (what the dialer's
//! outcome estimator records then), so the people analysis hangs up on as machines never
//! count as agent demand; they count in the abandon budget instead (`Floor::price`, see
//! [`crate::pacing::analysis`]). The forecast adds the analysis delay to the time a live
//! answer needs its agent, and counts the calls in analysis at the learned P(human).

/// The floor at a decision, as the forecast takes it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Inputs {
    /// Ready outbound-capable agents.
    pub(crate) idle: u32,
    /// Work queued before a new call, in agents: answered calls waiting, inbound callers ahead
    /// of outbound work, and the blending reserve.
    pub(crate) ahead: f64,
    /// The calibration offset (agents) the predictive model adds to `ahead` (see
    /// [`crate::pacing::predictive`], the second loop).
    pub(crate) bias: f64,
    /// Inbound arrivals per second competing for blended agents (0 while an inbound-only agent
    /// is free or no blended agent is active).
    pub(crate) inbound_rate: f64,
    /// Current estimate of P(live answer) of a new call.
    pub(crate) live: f64,
}
