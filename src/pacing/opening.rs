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
//!   live answers among the calls that did not fail quickly; 1 with no data. Early outcomes are
//!   the quick ones (busy, invalid, trunk failure) and the short rings, so the share is read
//!   only from calls *settled* — launched at least one no-answer timeout ago, whose outcome
//!   cannot be missing. Quick failures are left out of it because they are back within
//!   seconds and their calls replaced: a wave soon holds only calls that did not fail quickly,
//!   and those answer live more often than calls at large (60 % live with 15 % quick failures:
//!   71 %). Counting a wave at the share over all calls, with no room for its spread (below),
//!   a warm restart of 40 agents on the SIPp trunk of `tests/it/engine_opening.rs` abandoned 9
//!   of its 57 live answers;
//! - *ring time*: zero — every call in flight may be answered now;
//! - *handle time*: unbounded — no busy agent is counted as becoming free.
//!
//! A wave of `w` calls in flight then brings L ~ Binomial(w, u) live answers for the `F` free
//! agents (ready, less answered calls already waiting): the cap allows the largest wave whose
//! expected abandons E[(L − F)⁺] ([`expected_overflow`]) stay within [`MARGIN`] × target ×
//! `E[L]`. Sizing the wave on `E[L]` ≤ F alone overflows the agents about half the time.
//! Measured over 8 warm restarts at 60 % live (`tests/it/pacing_warm_start.rs`), abandons of the
//! first minute's live answers: 40 agents 31 of 351 before either change, 23 of 342 with the
//! binomial wave alone, 3 of 321 with both; 10 agents 6 of 85, then 1 of 78; 200 agents 29 of
//! 1630, then 8 of 1606. With no outcome settled yet, at most one call in flight per ready
//! agent — a call that failed (busy, invalid) frees its agent for another. After the cap,
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

use crate::pacing::{normal, Millis};

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

/// How a call resolved, as the opening cap counts it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Resolution {
    /// A person answered.
    Live,
    /// Busy, invalid number, rejected or trunk failure: over within seconds.
    Quick,
    /// An answering machine, or nobody before the timeout.
    Other,
}

/// Weighted counts of outcomes: total, live answers, quick failures.
#[derive(Clone, Copy, Debug, Default)]
struct Counts {
    total: f64,
    live: f64,
    quick: f64,
}

impl Counts {
    fn add(&mut self, r: Resolution, w: f64) {
        self.total += w;
        match r {
            Resolution::Live => self.live += w,
            Resolution::Quick => self.quick += w,
            Resolution::Other => {}
        }
    }
}

/// What the opening cap knows: outcomes of calls launched by this dialer, settled or not, and
/// those seeded from past calls.
#[derive(Clone, Debug, Default)]
pub struct Opening {
    /// Resolved calls not yet settled: (launch time in ms, outcome), earliest launch first.
    pending: BinaryHeap<Reverse<(u64, Resolution)>>,
    /// Settled outcomes (weighted).
    settled: Counts,
    /// Every resolved outcome (weighted).
    resolved: Counts,
    /// The last [`max_wave`] computed, by (live bound, free agents, abandon share) bits.
    last_wave: Option<((u64, u32, u64), u32)>,
}

impl Opening {
    /// A call launched at `launched` resolved (answered, failed or timed out) at `now`; calls
    /// launched a no-answer timeout (`timeout_ms`) ago settle, so the pending ones stay few
    /// whatever the mode.
    pub fn resolved(&mut self, now: Millis, timeout_ms: u64, launched: Millis, how: Resolution) {
        self.resolved.add(how, 1.0);
        self.pending.push(Reverse((launched.0, how)));
        self.settled(now, timeout_ms);
    }

    /// Seeds one settled outcome of weight `w` (a past call).
    pub fn seed(&mut self, how: Resolution, w: f64) {
        self.settled.add(how, w);
        self.resolved.add(how, w);
    }

    /// Settled outcomes so far (weighted), after settling those launched before `now −
    /// timeout`.
    pub fn settled(&mut self, now: Millis, timeout_ms: u64) -> f64 {
        while let Some(&Reverse((t, how))) = self.pending.peek() {
            if t.saturating_add(timeout_ms) > now.0 {
                break;
            }
            self.pending.pop();
            self.settled.add(how, 1.0);
        }
        self.settled.total
    }

    /// Pessimistic live-answer probability: the upper bound over settled calls, or, while none
    /// is settled, over every resolved call with the `in_flight` ones counted as live.
    pub fn upper_live(&mut self, now: Millis, timeout_ms: u64, in_flight: u32) -> f64 {
        if self.settled(now, timeout_ms) > 0.0 {
            let c = self.settled;
            return wilson_upper(c.live / c.total, c.total, Z);
        }
        let f = in_flight as f64;
        let n = self.resolved.total + f;
        if n <= 0.0 {
            return 1.0;
        }
        wilson_upper((self.resolved.live + f) / n, n, Z)
    }

    /// Pessimistic live-answer probability of a call that has not failed quickly: the upper
    /// bound of live answers among the settled outcomes other than quick failures (1 while
    /// there are none). Quick failures are back within seconds and their calls replaced, so
    /// the calls a wave holds soon after its launch are those, and they answer live more often
    /// than calls at large (60 % live with 15 % quick failures: 71 %).
    pub fn upper_live_not_quick(&mut self, now: Millis, timeout_ms: u64) -> f64 {
        self.settled(now, timeout_ms);
        let c = self.settled;
        let n = c.total - c.quick;
        if n <= 0.0 {
            return 1.0;
        }
        wilson_upper(c.live / n, n, Z)
    }

    /// New calls allowed now: the most `n` for which the wave of `in_flight + n` calls, at the
    /// live-answer rate `u` ([`Opening::upper_live`]), is expected to abandon no more than
    /// [`MARGIN`] × `target` of its live answers, the live answers being Binomial(in_flight + n,
    /// `u`) and the agents for them `ready − ahead` (the ready agents less the answered calls,
    /// outbound and inbound, already waiting for one): see [`expected_overflow`]. While no
    /// outcome is settled, `u` = 1: one call in flight per ready agent.
    pub fn cap(
        &mut self,
        now: Millis,
        timeout_ms: u64,
        target: f64,
        agents: Agents,
        in_flight: u32,
    ) -> u32 {
        let free = agents.ready.saturating_sub(agents.ahead);
        if self.settled(now, timeout_ms) <= 0.0 {
            // No outcome is settled yet: every call in flight may be a live answer, and one
            // call per ready agent at a time is all the data allows.
            return free.saturating_sub(in_flight);
        }
        let u = self.upper_live_not_quick(now, timeout_ms).max(1e-3);
        let share = MARGIN * target.max(0.0);
        // The bound moves only when an outcome settles or an agent's state changes: keep the
        // last wave rather than recompute it on every decision.
        let key = (u.to_bits(), free, share.to_bits());
        let wave = match self.last_wave {
            Some((k, w)) if k == key => w,
            _ => {
                let w = max_wave(u, free, share);
                self.last_wave = Some((key, w));
                w
            }
        };
        wave.saturating_sub(in_flight)
    }
}

/// Agents as the opening cap counts them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Agents {
    /// Outbound agents ready now.
    pub ready: u32,
    /// Answered calls (outbound and inbound) already waiting for one of them.
    pub ahead: u32,
}

/// Share of the abandon target the opening's waves may spend: the rest is left to what the
/// pessimistic bounds do not cover (a live-answer share above its upper bound one time in
/// twenty, agents that log out).
pub const MARGIN: f64 = 0.5;

/// Above this many calls the binomial is taken as normal: the exact sum costs one `exp` per
/// call, the approximation a few, and its error there is a few percent of a budget that is
/// itself a rough margin.
const EXACT_UP_TO: u32 = 150;

/// E[(L − f)⁺] for L ~ Binomial(n, p): the expected live answers of a wave of `n` calls that
/// find none of `f` agents free, i.e. the abandons it causes when every answer comes at once and
/// no agent frees meanwhile (the cap's pessimistic reading of ring and handle times). Exact up
/// to `EXACT_UP_TO` calls, normal approximation above.
pub fn expected_overflow(n: u32, p: f64, f: u32) -> f64 {
    let p = p.clamp(0.0, 1.0);
    if n <= f || p <= 0.0 {
        return 0.0;
    }
    if p >= 1.0 {
        return (n - f) as f64;
    }
    if n <= EXACT_UP_TO {
        // Σ_{k>f} (k − f)·P(L = k), the pmf by its ratio recurrence in log space (P(L = 0) =
        // (1 − p)^n underflows for large n·p; its logarithm does not).
        let (ln_q, odds) = ((1.0 - p).ln(), (p / (1.0 - p)).ln());
        let mut ln_pmf = n as f64 * ln_q;
        let mut sum = 0.0;
        for k in 0..n {
            // ln P(L = k + 1) from ln P(L = k).
            ln_pmf += ((n - k) as f64 / (k + 1) as f64).ln() + odds;
            if k + 1 > f {
                sum += (k + 1 - f) as f64 * ln_pmf.exp();
            }
        }
        return sum;
    }
    let mean = n as f64 * p;
    let sd = (mean * (1.0 - p)).sqrt();
    // E[(L − f)⁺] = Σ_{k>f} P(L ≥ k), and with P(L ≥ k) ≈ 1 − Φ((k − ½ − mean)/sd) that sum is
    // the midpoint rule for ∫_f^∞ (1 − Φ) = E[(X − f)⁺], X ~ N(mean, sd²): no continuity shift.
    // E[(X − f)⁺] = sd·(φ(z) − z·(1 − Φ(z))), z = (f − mean)/sd.
    let z = (f as f64 - mean) / sd;
    let phi = (-0.5 * z * z).exp() / (2.0 * std::f64::consts::PI).sqrt();
    (sd * (phi - z * (1.0 - normal::cdf(z)))).max(0.0)
}

/// The largest wave of calls at live rate `u`, for `free` agents, expected to abandon at most
/// `share` of its live answers: the most `w` with E[(L − free)⁺] ≤ share · u · w,
/// L ~ Binomial(w, u). The abandoned share grows with the wave, so it is found by bisection (a
/// dozen [`expected_overflow`] calls).
pub fn max_wave(u: f64, free: u32, share: f64) -> u32 {
    let within = |w: u32| expected_overflow(w, u, free) <= share * u * w as f64 + 1e-12;
    // Up to `free` calls never overflow. A wave within the budget has fewer expected live
    // answers than agents plus a few standard deviations: past `free / u + 10·√(free / u) + 10`
    // calls none is.
    let mean_wave = free as f64 / u.max(1e-3);
    let mut hi = (mean_wave + 10.0 * mean_wave.sqrt() + 10.0).min(u32::MAX as f64 / 2.0) as u32;
    let mut lo = free;
    if hi <= lo || within(hi) {
        return hi.max(lo);
    }
    // Invariant: `lo` within, `hi` not.
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if within(mid) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    lo
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(live: bool) -> Resolution {
        if live {
            Resolution::Live
        } else {
            Resolution::Other
        }
    }

    fn agents(ready: u32, ahead: u32) -> Agents {
        Agents { ready, ahead }
    }

    #[test]
    fn no_data_means_one_call_per_ready_agent() {
        let mut o = Opening::default();
        assert_eq!(o.cap(Millis(0), 45_000, 0.03, agents(100, 0), 0), 100);
        assert_eq!(o.cap(Millis(0), 45_000, 0.03, agents(100, 0), 40), 60);
        assert_eq!(o.cap(Millis(0), 45_000, 0.03, agents(100, 3), 97), 0);
    }

    /// E[(L − f)⁺] by brute force over the binomial pmf (products, no logarithms).
    fn overflow_by_sum(n: u32, p: f64, f: u32) -> f64 {
        let mut pmf = vec![0.0; n as usize + 1];
        pmf[0] = 1.0;
        for _ in 0..n {
            for k in (0..=n as usize).rev() {
                pmf[k] = pmf[k] * (1.0 - p) + if k > 0 { pmf[k - 1] * p } else { 0.0 };
            }
        }
        (f + 1..=n).map(|k| (k - f) as f64 * pmf[k as usize]).sum()
    }

    #[test]
    fn expected_overflow_is_the_binomial_one_and_its_normal_tail_above() {
        for (n, p, f) in [(3, 0.3, 1), (20, 0.6, 12), (64, 0.62, 40), (150, 0.6, 90)] {
            let (got, want) = (expected_overflow(n, p, f), overflow_by_sum(n, p, f));
            assert!((got - want).abs() < 1e-9, "{n} {p} {f}: {got} vs {want}");
        }
        // Above the exact range the normal approximation stays within a few percent.
        for (n, p, f) in [(400, 0.6, 240), (300, 0.3, 95), (1000, 0.05, 55)] {
            let (got, want) = (expected_overflow(n, p, f), overflow_by_sum(n, p, f));
            assert!(
                (got - want).abs() < 0.05 * want + 1e-3,
                "{n} {p} {f}: {got} vs {want}"
            );
        }
        assert_eq!(expected_overflow(10, 0.5, 10), 0.0);
        assert_eq!(expected_overflow(12, 1.0, 10), 2.0);
    }

    #[test]
    fn the_wave_leaves_room_for_the_spread_of_live_answers() {
        // 40 ready agents at a live share of 0.62: a wave of 40 / 0.62 = 64 calls overflows
        // about half the time (E[L] = 40); the capped wave keeps the expected abandons within
        // MARGIN × 3 % of its live answers.
        let w = max_wave(0.62, 40, MARGIN * 0.03);
        assert!((52..62).contains(&w), "{w}");
        let abandons = expected_overflow(w, 0.62, 40) / (0.62 * w as f64);
        assert!(abandons <= MARGIN * 0.03, "{abandons}");
        assert!(expected_overflow(w + 1, 0.62, 40) > MARGIN * 0.03 * 0.62 * (w + 1) as f64);
        // Large teams lose little to the margin; with certain answers, one call per agent.
        let big = max_wave(0.62, 500, MARGIN * 0.03);
        assert!(big as f64 > 0.93 * 500.0 / 0.62, "{big}");
        assert_eq!(max_wave(1.0, 7, MARGIN * 0.03), 7);
        // Calls in flight use up the wave.
        let mut o = Opening::default();
        for i in 0..400 {
            o.resolved(Millis(7_000), 45_000, Millis(0), outcome(i % 100 < 60));
        }
        let now = Millis(46_000);
        let u = o.upper_live_not_quick(now, 45_000);
        let wave = max_wave(u, 40, MARGIN * 0.03);
        assert_eq!(o.cap(now, 45_000, 0.03, agents(40, 0), 0), wave);
        assert_eq!(o.cap(now, 45_000, 0.03, agents(40, 0), 10), wave - 10);
        assert_eq!(o.cap(now, 45_000, 0.03, agents(42, 2), 10), wave - 10);
        assert_eq!(o.cap(now, 45_000, 0.03, agents(40, 0), wave + 3), 0);
    }

    #[test]
    fn early_quick_failures_do_not_lower_the_bound() {
        // 100 calls out; after 1 s only 12 busy signals are back: the other 88 may all be live.
        let mut o = Opening::default();
        for _ in 0..12 {
            o.resolved(Millis(1_000), 45_000, Millis(0), Resolution::Quick);
        }
        let u = o.upper_live(Millis(1_000), 45_000, 88);
        assert!(u > 0.88, "{u}");
        // Once the wave has settled (61 live of 100), the bound is data-based.
        let mut o = Opening::default();
        for i in 0..100 {
            o.resolved(Millis(7_000), 45_000, Millis(0), outcome(i % 100 < 61));
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
