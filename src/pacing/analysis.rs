//! What a dialer learns from call-progress analysis (CPA): the verdict mix of answered calls
//! (person, machine, other), how long the analysis takes after the answer, and the estimate
//! of people hung up on as machines (AMD false positives) that the abandon budget includes.
//! Plain numbers in, rates out; it never sees audio, a clock or the classifier itself (the
//! classifier is [`crate::cpa`]; the engine reports its verdicts to the
//! [`crate::pacing::Dialer`]).
//!
//! # Why pacing cares
//! While a call is analysed nobody talks to the customer, and only a `human` verdict needs an
//! agent, so the time from dial to "needs an agent" is ring + analysis delay and the share of
//! dials that need one is P(answer) × P(human verdict). Both are learned here from the
//! campaign's calls, starting from priors ([`crate::pacing::Priors::verdicts`],
//! [`crate::pacing::Priors::analysis`]) worth [`PRIOR_WEIGHT`] calls.
//!
//! # AMD false positives (UK Ofcom: counted as abandoned calls)
//! A person classified as a machine is hung up on: a silent or abandoned call. It cannot be
//! seen directly (nobody listens to the calls hung up on), so the campaign's abandon figure
//! adds an *estimate*: machine verdicts × `fp`, where `fp` is the share of machine verdicts
//! that were really people:
//! - *configured*: the campaign's `amd_false_positive` (default 0.02), e.g. from
//!   `outdial cpa score` on the user's own labelled recordings;
//! - *measured*, once agents have marked at least [`MIN_MARKS`] connected calls `machine` at
//!   wrap-up: those marks are the detector's false negatives (machines it passed as people),
//!   the only error agents can observe. Their share φ among connected analysed calls (taken
//!   at its one-sided 95 % Wilson upper bound) gives the false negatives among all human
//!   verdicts, `F = φ · V_H`. Assuming the detector errs at the same rate ε on people and on
//!   machines (a detector tuned at its equal-error point), `F = ε · M` and `FP = ε · H` with
//!   `M = V_M − FP + F` true machines and `H = V_H − F + FP` true people; the fixed point gives
//!   `FP`, and `fp = FP / V_M` ([`fp_from_marks`]).
//!
//! Limits, said plainly: the equal-error assumption is a modelling choice, not a measurement
//! (a detector tuned to spare people errs more on machines, and the estimate is then high; one
//! tuned to catch machines errs more on people, and it is then low); agents who do not mark
//! every voicemail they are handed make φ, and the estimate, too low. Until [`MIN_MARKS`]
//! marks exist the configured rate is used whatever the marks say.

use crate::pacing::dist::Dist;
use crate::pacing::estimate::DurationFit;
use crate::pacing::opening::{wilson_upper, Z};

/// The verdict of call-progress analysis, as pacing classes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// A person: needs an agent now.
    Human,
    /// A voicemail greeting (the calls the false-positive estimate is about).
    Machine,
    /// Anything else that ends the call (announcement, SIT, fax, dead air, callee hung up).
    Other,
}

/// Pseudo-observations behind the priors of the verdict mix.
pub const PRIOR_WEIGHT: f64 = 50.0;
/// Effective memory of the verdict mix, in verdicts.
const MEMORY: f64 = 3000.0;
/// Agent `machine` marks needed before the measured false-positive rate replaces the
/// configured one.
pub const MIN_MARKS: u64 = 20;

/// Where the false-positive rate in use comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FpSource {
    /// The campaign's `amd_false_positive`.
    Configured,
    /// Estimated from the agents' `machine` marks (see the module doc).
    Measured,
}

/// The campaign's call-progress analysis as pacing knows it.
#[derive(Clone, Debug)]
pub struct Analysis {
    /// Recency-weighted verdict counts: human, machine, other.
    w: [f64; 3],
    decay: f64,
    /// Seconds from answer to verdict.
    delay: DurationFit,
    /// Whether any call of this dialer was analysed (or the campaign said CPA runs).
    active: bool,
    /// The configured share of machine verdicts that were people.
    configured_fp: f64,
    /// Human verdicts, machine verdicts, other verdicts (all time).
    counts: [u64; 3],
    /// Analysed calls connected to an agent, and those the agent marked `machine`.
    connected: u64,
    marks: u64,
}

impl Analysis {
    /// From the priors: the verdict mix (human, machine, other; any scale), the analysis delay
    /// (`Some` also says CPA runs from the start), and the configured false-positive share.
    pub fn new(verdicts: [f64; 3], delay: Option<&Dist>, configured_fp: f64) -> Analysis {
        let s: f64 = verdicts.iter().sum::<f64>().max(1e-9);
        let fallback = default_delay();
        Analysis {
            w: verdicts.map(|x| x / s * PRIOR_WEIGHT),
            decay: 1.0 - 1.0 / MEMORY,
            delay: DurationFit::new(delay.unwrap_or(&fallback), 20.0, MEMORY),
            active: delay.is_some(),
            configured_fp,
            counts: [0; 3],
            connected: 0,
            marks: 0,
        }
    }

    /// A call went into analysis: from now on the dialer plans with it.
    pub fn started(&mut self) {
        self.active = true;
    }

    /// Whether pacing plans with an analysis delay.
    pub fn active(&self) -> bool {
        self.active
    }

    /// A verdict `v` came `delay_s` seconds after the answer.
    pub fn verdict(&mut self, v: Verdict, delay_s: f64) {
        for w in &mut self.w {
            *w *= self.decay;
        }
        self.w[v as usize] += 1.0;
        self.counts[v as usize] += 1;
        if delay_s.is_finite() && delay_s >= 0.0 {
            self.delay.observe(delay_s);
        }
    }

    /// An analysed call (human verdict) was connected to an agent.
    pub fn connected(&mut self) {
        self.connected += 1;
    }

    /// The agent marked a connected analysed call `machine` (a false negative).
    pub fn marked_machine(&mut self) {
        self.marks += 1;
    }

    /// Current P(verdict `v`) of an analysed call.
    pub fn p(&self, v: Verdict) -> f64 {
        let s: f64 = self.w.iter().sum();
        if s > 0.0 {
            self.w[v as usize] / s
        } else {
            1.0 / 3.0
        }
    }

    /// The fitted answer-to-verdict delay.
    pub fn delay(&self) -> Dist {
        self.delay.dist()
    }

    /// Verdicts so far (all time).
    pub fn count(&self, v: Verdict) -> u64 {
        self.counts[v as usize]
    }

    /// Agent `machine` marks so far.
    pub fn marks(&self) -> u64 {
        self.marks
    }

    /// The share of machine verdicts taken to be people, and where it comes from.
    pub fn fp_rate(&self) -> (f64, FpSource) {
        if self.marks >= MIN_MARKS && self.connected > 0 {
            let fp = fp_from_marks(
                self.counts[Verdict::Human as usize] as f64,
                self.counts[Verdict::Machine as usize] as f64,
                self.connected as f64,
                self.marks as f64,
            );
            return (fp, FpSource::Measured);
        }
        (self.configured_fp, FpSource::Configured)
    }

    /// Estimated people classified as machines so far: machine verdicts × the rate in use.
    pub fn estimated_fp(&self) -> f64 {
        self.counts[Verdict::Machine as usize] as f64 * self.fp_rate().0
    }

    /// Expected false positives per person who reaches an agent, at the current mix:
    /// P(machine) × fp / P(human). What one live answer's share of the budget loses to them.
    pub fn fp_per_live(&self) -> f64 {
        if !self.active {
            return 0.0;
        }
        self.p(Verdict::Machine) * self.fp_rate().0 / self.p(Verdict::Human).max(1e-3)
    }

    /// A new configured false-positive share (supervisor change).
    pub fn set_configured_fp(&mut self, fp: f64) {
        self.configured_fp = fp;
    }
}

/// The analysis delay assumed when the campaign gives none: 2 s ± 0.8 s (AMD decides a person
/// after the greeting and a short silence, within its 5 s total).
pub fn default_delay() -> Dist {
    Dist::lognormal(2.0, 0.8).unwrap_or(Dist::Constant { mean: 2.0 })
}

/// The share of `v_machine` machine verdicts that were people, from `marks` agent `machine`
/// marks on `connected` connected human-verdict calls out of `v_human` human verdicts, under
/// the equal-error assumption of the module doc. The marks' share is taken at its Wilson
/// upper bound (one-sided 95 %).
pub fn fp_from_marks(v_human: f64, v_machine: f64, connected: f64, marks: f64) -> f64 {
    if v_machine <= 0.0 || connected <= 0.0 {
        return 0.0;
    }
    let phi = wilson_upper((marks / connected).min(1.0), connected, Z);
    let f = phi * v_human;
    // ε = F / M with M = V_M − FP + F, FP = ε (V_H − F) / (1 − ε): a contraction for the
    // small ε that make sense; a few dozen steps settle it.
    let mut eps = (f / (v_machine + f)).min(0.5);
    let mut fp = 0.0;
    for _ in 0..50 {
        fp = eps * (v_human - f).max(0.0) / (1.0 - eps);
        let m = (v_machine + f - fp).max(f.max(1e-9));
        eps = (f / m).min(0.5);
    }
    (fp / v_machine).clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_errors_are_recovered_from_the_marks() {
        // 100,000 answered calls, 70 % people, ε = 3 % both ways.
        let (h, m, eps) = (70_000.0, 30_000.0, 0.03);
        let (fneg, fpos) = (eps * m, eps * h);
        let v_h = h - fpos + fneg;
        let v_m = m - fneg + fpos;
        // Every human verdict connected, the agents mark every machine they get.
        let fp = fp_from_marks(v_h, v_m, v_h, fneg);
        let truth = fpos / v_m;
        // φ is taken at its upper bound, 1.645 relative standard errors above (√((1 − φ)/(φ n))
        // ≈ 3.3 % on 68,800 calls): the estimate is at or above the truth, by less than three
        // of them.
        let phi = fneg / v_h;
        let rel = ((1.0 - phi) / (phi * v_h)).sqrt();
        assert!(
            fp >= truth && fp < truth * (1.0 + 3.0 * rel),
            "{fp} vs {truth}"
        );
    }

    #[test]
    fn configured_until_enough_marks() {
        let mut a = Analysis::new([0.6, 0.3, 0.1], None, 0.02);
        for _ in 0..100 {
            a.verdict(Verdict::Machine, 2.0);
            a.verdict(Verdict::Human, 1.5);
            a.connected();
        }
        assert_eq!(a.fp_rate(), (0.02, FpSource::Configured));
        assert!((a.estimated_fp() - 2.0).abs() < 1e-9);
        for _ in 0..MIN_MARKS {
            a.marked_machine();
        }
        let (r, src) = a.fp_rate();
        assert_eq!(src, FpSource::Measured);
        assert!(r > 0.1, "20 marks of 100 connected is a poor detector: {r}");
    }
}
