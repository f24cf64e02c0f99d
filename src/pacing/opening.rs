//! The opening of a campaign: the safe cold-start cap and the warm start from past calls.
//!
//! # Why
//! A fresh dialer knows nothing about its trunk. The model of [`crate::pacing::predictive`]
//! starts from generic priors (25 % live, 12 s ring, 3 min talk); measured against a trunk
//! answering 61 % after 6 s, 100 agents got 249 INVITEs in the first 10 s, 161 live answers and
//! 42 abandons (issue 14). Priors taken as roughly right are a bet on the trunk; the cap must
//! hold whatever the trunk does.
//!
//! # Safe cold start
//! Until the team has completed [`COLD_TURNOVER`] talks per agent (at least 20) and
//! [`MIN_SETTLED`] call outcomes are settled, every controlled mode (predictive, adaptive)
//! launches no more than [`Opening::cap`] calls. The cap takes the pessimistic end of what the
//! data so far allows:
//! - *live-answer rate*: the Wilson upper bound ([`Z`] = 1.64, one-sided 95 %) of the share of
//!   live answers; 1 with no data. Early outcomes are the quick ones (busy, invalid, trunk
//!   failure) and the short rings, so the share is read only from calls *settled* — launched at
//!   least one no-answer timeout ago, whose outcome cannot be missing — and while none is, the
//!   calls still in flight count as live answers;
//! - *ring time*: zero — every call in flight may be answered now;
//! - *handle time*: unbounded — no busy agent is counted as becoming free.
//!
//! So the expected live answers of the calls in flight and the new ones, at that upper bound,
//! never exceed the ready agents: until the first calls have settled (one no-answer timeout
//! after the first dial), at most one call in flight per ready agent — a call that failed
//! (busy, invalid) frees its agent for another. After the cap,
//! and until the team has completed twice its size in talks (the predictive controller's own
//! warm-up, [`crate::pacing::predictive`]), the predictive model takes the live-answer rate at
//! the same upper bound rather than at its estimate, which starts from a generic prior.
//! Releasing the cap at half a turnover rather than two cost nothing in safety in the tests and
//! halved the opening cost on mid-team. The cost is occupancy in the first minutes
//! (BENCHMARKS.md, *Opening cost*).
//!
//! Power and rate are left alone: the supervisor picks their ratio or rate, and their abandons
//! are uncontrolled by definition (pacing.md). Progressive and preview reserve the agent.
//!
//! # Warm start
//! A dialer (re)starting a campaign is fed the campaign's recent calls ([`PastCall`], from the
//! store, every node) through [`crate::pacing::Dialer::warm_start`]: they seed the outcome and
//! duration estimators (recency-weighted: [`HALF_LIFE_MS`]), the settled counts above and the
//! abandon record the controller prices from, so a restart dials at the learned rate.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use crate::pacing::Millis;

/// One-sided confidence of the live-answer upper bound (standard normal quantile, 95 %).
pub const Z: f64 = 1.645;
/// Settled outcomes needed (with warm duration fits) before the model alone paces.
pub const MIN_SETTLED: f64 = 100.0;
/// Completed talks, per outbound agent (at least 20), before the model alone paces.
pub const COLD_TURNOVER: f64 = 0.5;
/// Half-life of a past call's weight in a warm start: a call from 6 h ago counts half.
pub const HALF_LIFE_MS: u64 = 6 * 3_600_000;

/// How a past call ended, as the estimators class it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PastOutcome {
    /// A person answered (connected or abandoned).
    Live {
        /// No agent within patience.
        abandoned: bool,
    },
    /// An answering machine answered.
    Machine,
    /// Busy, invalid number, rejected or trunk failure: over within seconds.
    Quick,
    /// Nobody answered before the timeout.
    NoAnswer,
}

/// One past call of a campaign, as plain data (the store's attempt records, see
/// `Store::recent_calls`). Durations are `None` where the call did not reach that stage or the
/// record lacks the time.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PastCall {
    /// How long before the warm start it was dialled.
    pub age_ms: u64,
    /// How it ended.
    pub outcome: PastOutcome,
    /// Dial to answer (answered calls) or to the failure (quick ones), seconds.
    pub ring_s: Option<f64>,
    /// Agent connect to hang-up, seconds.
    pub talk_s: Option<f64>,
    /// Hang-up to the end of the agent's wrap-up, seconds.
    pub wrap_s: Option<f64>,
}

impl PastCall {
    /// Weight of this call in a warm start: halves every [`HALF_LIFE_MS`].
    pub fn weight(&self) -> f64 {
        0.5f64.powf(self.age_ms as f64 / HALF_LIFE_MS as f64)
    }
}

/// Wilson score upper bound of a proportion `p` observed on `n` trials (1 when `n` is 0).
pub fn wilson_upper(p: f64, n: f64, z: f64) -> f64 {
    if n <= 0.0 {
        return 1.0;
    }
    let p = p.clamp(0.0, 1.0);
    let z2 = z * z;
    let centre = p + z2 / (2.0 * n);
    let spread = z * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    ((centre + spread) / (1.0 + z2 / n)).min(1.0)
}

/// What the opening cap knows: outcomes of calls launched by this dialer, settled or not, and
/// those seeded from past calls.
#[derive(Clone, Debug, Default)]
pub struct Opening {
    /// Resolved calls not yet settled: (launch time in ms, live answer), earliest launch first.
    pending: BinaryHeap<Reverse<(u64, bool)>>,
    /// Settled outcomes (weighted): total and live answers.
    settled: (f64, f64),
    /// Every resolved outcome (weighted): total and live answers.
    resolved: (f64, f64),
}

impl Opening {
    /// A call launched at `launched` resolved (answered, failed or timed out) at `now`; calls
    /// launched a no-answer timeout (`timeout_ms`) ago settle, so the pending ones stay few
    /// whatever the mode.
    pub fn resolved(&mut self, now: Millis, timeout_ms: u64, launched: Millis, live: bool) {
        self.resolved.0 += 1.0;
        self.resolved.1 += if live { 1.0 } else { 0.0 };
        self.pending.push(Reverse((launched.0, live)));
        self.settled(now, timeout_ms);
    }

    /// Seeds one settled outcome of weight `w` (a past call).
    pub fn seed(&mut self, live: bool, w: f64) {
        self.settled.0 += w;
        self.resolved.0 += w;
        if live {
            self.settled.1 += w;
            self.resolved.1 += w;
        }
    }

    /// Settled outcomes so far (weighted), after settling those launched before `now −
    /// timeout`.
    pub fn settled(&mut self, now: Millis, timeout_ms: u64) -> f64 {
        while let Some(&Reverse((t, live))) = self.pending.peek() {
            if t.saturating_add(timeout_ms) > now.0 {
                break;
            }
            self.pending.pop();
            self.settled.0 += 1.0;
            self.settled.1 += if live { 1.0 } else { 0.0 };
        }
        self.settled.0
    }

    /// Pessimistic live-answer probability: the upper bound over settled calls, or, while none
    /// is settled, over every resolved call with the `in_flight` ones counted as live.
    pub fn upper_live(&mut self, now: Millis, timeout_ms: u64, in_flight: u32) -> f64 {
        if self.settled(now, timeout_ms) > 0.0 {
            let (n, live) = self.settled;
            return wilson_upper(live / n, n, Z);
        }
        let f = in_flight as f64;
        let n = self.resolved.0 + f;
        if n <= 0.0 {
            return 1.0;
        }
        wilson_upper((self.resolved.1 + f) / n, n, Z)
    }

    /// New calls allowed now: the most `n` with `u · (in_flight + n) ≤ ready − ahead`, where
    /// `u` is [`Opening::upper_live`], `ready` the ready agents and `ahead` the answered calls
    /// (outbound and inbound) already waiting for one; while no outcome is settled, `u` = 1.
    pub fn cap(
        &mut self,
        now: Millis,
        timeout_ms: u64,
        ready: u32,
        ahead: u32,
        in_flight: u32,
    ) -> u32 {
        if self.settled(now, timeout_ms) <= 0.0 {
            // No outcome is settled yet: every call in flight may be a live answer, and one
            // call per ready agent at a time is all the data allows.
            return ready.saturating_sub(ahead).saturating_sub(in_flight);
        }
        let u = self.upper_live(now, timeout_ms, in_flight).max(1e-3);
        let room = ready as f64 - ahead as f64 - u * in_flight as f64;
        if room <= 0.0 {
            return 0;
        }
        // A hair of tolerance so that u = 1 with r ready agents allows exactly r calls.
        ((room / u) + 1e-9).floor().min(u32::MAX as f64) as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_data_means_one_call_per_ready_agent() {
        let mut o = Opening::default();
        assert_eq!(o.cap(Millis(0), 45_000, 100, 0, 0), 100);
        assert_eq!(o.cap(Millis(0), 45_000, 100, 0, 40), 60);
        assert_eq!(o.cap(Millis(0), 45_000, 100, 3, 97), 0);
    }

    #[test]
    fn early_quick_failures_do_not_lower_the_bound() {
        // 100 calls out; after 1 s only 12 busy signals are back: the other 88 may all be live.
        let mut o = Opening::default();
        for _ in 0..12 {
            o.resolved(Millis(1_000), 45_000, Millis(0), false);
        }
        let u = o.upper_live(Millis(1_000), 45_000, 88);
        assert!(u > 0.88, "{u}");
        // Once the wave has settled (61 live of 100), the bound is data-based.
        let mut o = Opening::default();
        for i in 0..100 {
            o.resolved(Millis(7_000), 45_000, Millis(0), i % 100 < 61);
        }
        let u = o.upper_live(Millis(46_000), 45_000, 0);
        assert!(u > 0.61 && u < 0.72, "{u}");
    }

    #[test]
    fn wilson_bound_shrinks_to_the_share() {
        assert_eq!(wilson_upper(0.3, 0.0, Z), 1.0);
        let wide = wilson_upper(0.3, 20.0, Z);
        let narrow = wilson_upper(0.3, 20_000.0, Z);
        assert!(wide > 0.45 && narrow < 0.31, "{wide} {narrow}");
    }
}
