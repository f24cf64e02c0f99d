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
//!   `outdial cpa score` on the user's own labelled recordings, which also gives the
//!   detector's false-negative rate on machines, `amd_false_negative` (default 0.10);
//! - *measured*, once agents have marked at least [`MIN_MARKS`] connected calls `machine` at
//!   wrap-up. Those marks are the detector's false negatives (machines it passed as people),
//!   the only error agents can observe. Their share among the machines answered,
//!   `ε_M = marks / (machine verdicts + marks)` with the marks scaled from the connected
//!   calls to all human verdicts and taken at the one-sided 95 % Wilson upper bound, says how
//!   the detector does on *this* campaign's lines against the offline test: the drift
//!   `d = ε_M / amd_false_negative`. The detector's two errors are taken to drift together
//!   (a noisier trunk or an unfamiliar greeting style hurts both), so `fp = configured × d`
//!   ([`fp_from_marks`]), never below the configured rate.
//!
//! Limits, said plainly: the shared drift is a modelling assumption, not a measurement; agents
//! who do not mark every voicemail they are handed make `ε_M` look low, which is why the marks
//! can raise the configured rate but never lower it (good performance and lazy marking look
//! the same); the estimate covers machine verdicts only (people classed `other` — an
//! announcement, fax, dead air — are not in it). Until [`MIN_MARKS`] marks exist the
//! configured rate is used whatever the marks say.

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
    /// The configured share of machines passed as people (the offline test's).
    configured_fn: f64,
    /// Human verdicts, machine verdicts, other verdicts (all time).
    counts: [u64; 3],
    /// Analysed calls connected to an agent, and those the agent marked `machine`.
    connected: u64,
    marks: u64,
}

impl Analysis {
    /// From the priors: the verdict mix (human, machine, other; any scale), the analysis delay
    /// (`Some` also says CPA runs from the start), and the configured false-positive share of
    /// machine verdicts and false-negative share of machines.
    pub fn new(
        verdicts: [f64; 3],
        delay: Option<&Dist>,
        configured_fp: f64,
        configured_fn: f64,
    ) -> Analysis {
        let s: f64 = verdicts.iter().sum::<f64>().max(1e-9);
        let fallback = default_delay();
        Analysis {
            w: verdicts.map(|x| x / s * PRIOR_WEIGHT),
            decay: 1.0 - 1.0 / MEMORY,
            delay: DurationFit::new(delay.unwrap_or(&fallback), 20.0, MEMORY),
            active: delay.is_some(),
            configured_fp,
            configured_fn,
            counts: [0; 3],
            connected: 0,
            marks: 0,
        }
    }

    /// A call went into analysis: from now on the dialer plans with it.
    pub fn started(&mut self) {
        self.active = true;
    }

    /// The campaign runs analysis (its setup arrived after the dialer was built): plan with
    /// `delay` from now. Until a verdict has been observed `delay` replaces the delay prior;
    /// after that the learned delay stays.
    pub fn expect(&mut self, delay: &Dist) {
        if self.counts.iter().all(|&c| c == 0) {
            self.delay = DurationFit::new(delay, 20.0, MEMORY);
        }
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
                Counts {
                    human: self.counts[Verdict::Human as usize] as f64,
                    machine: self.counts[Verdict::Machine as usize] as f64,
                    connected: self.connected as f64,
                    marks: self.marks as f64,
                },
                self.configured_fp,
                self.configured_fn,
            );
            if fp > self.configured_fp {
                return (fp, FpSource::Measured);
            }
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

    /// New configured false-positive and false-negative shares (supervisor change).
    pub fn set_configured(&mut self, fp: f64, fn_: f64) {
        self.configured_fp = fp;
        self.configured_fn = fn_;
    }
}

/// The analysis delay assumed when the campaign gives none: 2 s ± 0.8 s (AMD decides a person
/// after the greeting and a short silence, within its 5 s total).
pub fn default_delay() -> Dist {
    Dist::lognormal(2.0, 0.8).unwrap_or(Dist::Constant { mean: 2.0 })
}

/// Verdict and mark counts behind a measured false-positive rate.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Counts {
    /// Human verdicts.
    pub human: f64,
    /// Machine verdicts.
    pub machine: f64,
    /// Human-verdict calls connected to an agent.
    pub connected: f64,
    /// Of those, marked `machine` by the agent.
    pub marks: f64,
}

/// The share of machine verdicts that were people, measured as the module doc says: the
/// configured share `configured_fp` scaled by how far the detector's false negatives on this
/// campaign (from the marks, at their Wilson upper bound) exceed the configured
/// `configured_fn`. Below the configured share when the marks say the detector does better;
/// the caller keeps the larger.
pub fn fp_from_marks(c: Counts, configured_fp: f64, configured_fn: f64) -> f64 {
    if c.connected <= 0.0 || configured_fn <= 0.0 {
        return configured_fp;
    }
    let phi = wilson_upper((c.marks / c.connected).min(1.0), c.connected, Z);
    // Machines passed as people, over all human verdicts; and the machines answered.
    let fneg = phi * c.human;
    let machines = c.machine + fneg;
    if machines <= 0.0 {
        return configured_fp;
    }
    let drift = (fneg / machines) / configured_fn;
    (configured_fp * drift).clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drift_of_the_false_negatives_scales_the_configured_rate() {
        // 100,000 answered calls, 70 % people; the detector misses 20 % of machines where the
        // offline test said 10 %: twice as bad, so its false positives are taken as doubled.
        let (h, m) = (70_000.0, 30_000.0);
        let fneg = 0.20 * m;
        let fpos = 0.01 * h;
        let c = Counts {
            human: h - fpos + fneg,
            machine: m - fneg + fpos,
            connected: h - fpos + fneg,
            marks: fneg,
        };
        let fp = fp_from_marks(c, 0.02, 0.10);
        // The drift is 0.20 / 0.10 = 2 up to the machine verdicts' own false positives (0.7 %
        // of them) and the Wilson bound (1.645 × √((1 − φ)/(φ n)) ≈ 3 % relative).
        // The marks count machines among the human verdicts, whose own people misclassified
        // as machines (0.7 % of them) dilute the measured share: 0.0397 here.
        assert!(fp > 0.04 * 0.97 && fp < 0.04 * 1.06, "{fp}");
        // As good as the offline test: the configured rate, within the bound's margin.
        let ok = Counts {
            marks: 0.10 * m,
            human: h - fpos + 0.10 * m,
            connected: h - fpos + 0.10 * m,
            machine: m - 0.10 * m + fpos,
        };
        let fp = fp_from_marks(ok, 0.02, 0.10);
        assert!((fp - 0.02).abs() < 0.02 * 0.06, "{fp}");
    }

    #[test]
    fn configured_until_enough_marks() {
        let mut a = Analysis::new([0.6, 0.3, 0.1], None, 0.02, 0.10);
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
        // 20 marks of 100 connected (Wilson upper bound ≈ 0.28): 28 of 128 machines passed as
        // people, 0.22 where the offline test said 0.10 — more than twice as bad, and so are
        // its false positives taken to be: 0.02 × 2.2 ≈ 0.044.
        assert!(r > 2.0 * 0.02 && r < 3.0 * 0.02, "{r}");
    }
}
