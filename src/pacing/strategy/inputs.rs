//! What the shared bookkeeping feeds the forecast at a model-based decision, besides the tables
//! refitted from the estimators. One struct so that new evidence joins as a field, not as a new
//! argument threaded through every strategy.
//!
//! # Call-progress analysis (next)
//! Answering-machine detection will hang up on some live answers it takes for machines (its
//! false-positive rate) and pass some machines to agents. Both change who reaches an agent, so
//! they enter where the live-answer mix is set: the rate joins [`Inputs`] (read by the
//! strategies for the pricing of a call, `live × (1 − false positives)`), and the dialer's
//! refit scales the ring model's live share the same way (marked there). Not built yet.

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
