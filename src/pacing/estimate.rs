//! Online estimators of one campaign, with priors so a cold start behaves: outcome probabilities
//! (recency-weighted), and lognormal fits of ring (time to answer), talk and wrap-up times from
//! exponentially weighted log-moments. Plain numbers in, distributions out.
//!
//! # Cold start
//! Two biases matter in a campaign's first minutes, and both are handled here:
//! - *Survivorship*: after `t` seconds only durations shorter than `t` can have completed, so a fit
//!   of completed durations alone is pulled short (measured: the 180 s talk time of small-team
//!   fitted as 140–150 s over the first ten minutes, mid-team's as 106 s after two minutes), and
//!   the forecast then expects agents free too soon. [`DurationFit::dist_censored`] also uses the
//!   durations still in progress (right-censored at their elapsed time) by a few EM steps.
//! - *Parameter uncertainty*: the live-answer probability is known to within
//!   `√(p(1−p)/n)` only ([`OutcomeEstimator::rel_sd`]); at a cold start (n = the prior's 50
//!   pseudo-observations) that is ±25 % relative, and all calls in flight share the same error.

use crate::pacing::dist::{std_normal_cdf, Dist};

/// Outcome classes an estimator tracks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    /// Live answer.
    Live = 0,
    /// Machine answer.
    Machine = 1,
    /// Busy, invalid or trunk failure: ends within seconds.
    Quick = 2,
    /// No answer before the timeout.
    NoAnswer = 3,
}

/// Recency-weighted outcome probabilities: each observation has weight 1, older ones decay by
/// `1 - 1/memory` per observation, and a prior of `prior_weight` pseudo-observations keeps a cold
/// start (and a small team) sensible.
#[derive(Clone, Debug)]
pub struct OutcomeEstimator {
    w: [f64; 4],
    decay: f64,
}

impl OutcomeEstimator {
    /// Prior probabilities `p` (live, machine, quick, no-answer), worth `prior_weight`
    /// observations, forgetting with an effective memory of `memory` observations.
    pub fn new(p: [f64; 4], prior_weight: f64, memory: f64) -> Self {
        let s: f64 = p.iter().sum::<f64>().max(1e-9);
        OutcomeEstimator {
            w: p.map(|x| x / s * prior_weight),
            decay: 1.0 - 1.0 / memory.max(1.0),
        }
    }
    /// Records one outcome.
    pub fn observe(&mut self, c: Class) {
        self.observe_weighted(c, 1.0);
    }
    /// Records one outcome worth `weight` observations (a past call in a warm start): older
    /// ones decay as if `weight` observations had arrived.
    pub fn observe_weighted(&mut self, c: Class, weight: f64) {
        let d = self.decay.powf(weight);
        for w in &mut self.w {
            *w *= d;
        }
        self.w[c as usize] += weight;
    }
    /// Effective number of observations behind the estimate (prior included).
    pub fn weight(&self) -> f64 {
        self.w.iter().sum()
    }
    /// Relative standard error of the probability of class `c`: `√((1 − p) / (p · n))`.
    pub fn rel_sd(&self, c: Class) -> f64 {
        let p = self.p(c).max(1e-6);
        ((1.0 - p) / (p * self.weight().max(1.0))).sqrt()
    }
    /// Current probability of class `c`.
    pub fn p(&self, c: Class) -> f64 {
        let s: f64 = self.w.iter().sum();
        if s > 0.0 {
            self.w[c as usize] / s
        } else {
            0.25
        }
    }
}

/// A lognormal fitted to observed durations by exponentially weighted moments of their logarithm,
/// starting from a prior.
#[derive(Clone, Debug)]
pub struct DurationFit {
    w: f64,
    s1: f64,
    s2: f64,
    decay: f64,
    min_sigma: f64,
    fresh: f64,
    n: u64,
}

/// EM steps of [`DurationFit::dist_censored`].
const EM_STEPS: usize = 30;

impl DurationFit {
    /// Starts from `prior` (its mean and sd) worth `prior_weight` observations.
    pub fn new(prior: &Dist, prior_weight: f64, memory: f64) -> Self {
        let mean = prior.mean().max(0.05);
        let sd = prior.sd().max(mean * 0.02);
        let sigma2 = (1.0 + (sd / mean).powi(2)).ln();
        let mu = mean.ln() - sigma2 / 2.0;
        DurationFit {
            w: prior_weight,
            s1: mu * prior_weight,
            s2: (sigma2 + mu * mu) * prior_weight,
            decay: 1.0 - 1.0 / memory.max(1.0),
            min_sigma: 0.02,
            fresh: 1.0,
            n: 0,
        }
    }
    /// Durations observed so far.
    pub fn count(&self) -> u64 {
        self.n
    }
    /// Records one duration in seconds (clamped to ≥ 50 ms).
    pub fn observe(&mut self, secs: f64) {
        self.observe_weighted(secs, 1.0);
    }
    /// Records one duration worth `weight` observations (a past call in a warm start).
    pub fn observe_weighted(&mut self, secs: f64, weight: f64) {
        let x = secs.max(0.05).ln();
        let d = self.decay.powf(weight);
        self.w = self.w * d + weight;
        self.s1 = self.s1 * d + weight * x;
        self.s2 = self.s2 * d + weight * x * x;
        self.fresh *= d;
        self.n += 1;
    }
    fn log_moments(&self) -> (f64, f64) {
        let mu = self.s1 / self.w;
        let sigma = (self.s2 / self.w - mu * mu)
            .max(0.0)
            .sqrt()
            .max(self.min_sigma);
        (mu, sigma)
    }
    /// The fitted lognormal.
    pub fn dist(&self) -> Dist {
        let (mu, sigma) = self.log_moments();
        lognormal_of_logs(mu, sigma)
    }
    /// The fitted lognormal, also using durations still in progress: `censored` holds
    /// (elapsed seconds, count) of items known only to last longer than their elapsed time.
    ///
    /// Each EM step replaces a censored item by its expected log-moments under the current fit,
    /// `E[ln T | T > e]` and `E[ln² T | T > e]` (truncated normal), and refits. Censored items
    /// weigh `decay^n` each (n = durations observed): at a cold start, completed plus running
    /// durations are every duration started so far — an unbiased, censored sample — whereas in
    /// a steady state the exponentially weighted completions alone are unbiased, and adding the
    /// (length-biased) running ones would pull the fit long in large pools.
    pub fn dist_censored(&self, censored: &[(f64, f64)]) -> Dist {
        let omega = self.fresh;
        if censored.is_empty() || omega < 1e-3 {
            return self.dist();
        }
        let (mut mu, mut sigma) = self.log_moments();
        for _ in 0..EM_STEPS {
            let (mut w, mut s1, mut s2) = (self.w, self.s1, self.s2);
            for &(e, c) in censored {
                let a = e.max(0.05).ln();
                let alpha = (a - mu) / sigma;
                let tail = 1.0 - std_normal_cdf(alpha);
                let (m1, m2) = if tail < 1e-9 {
                    // Far beyond the fit: the fit is wrong there; count the item at its elapsed
                    // time (a lower bound) rather than trust a vanishing tail.
                    (a, a * a)
                } else {
                    let pdf = (-0.5 * alpha * alpha).exp() / (2.0 * std::f64::consts::PI).sqrt();
                    let lam = pdf / tail;
                    let m1 = mu + sigma * lam;
                    let var = sigma * sigma * (1.0 + alpha * lam - lam * lam).max(0.0);
                    (m1, var + m1 * m1)
                };
                let c = c * omega;
                w += c;
                s1 += c * m1;
                s2 += c * m2;
            }
            mu = s1 / w;
            sigma = (s2 / w - mu * mu).max(0.0).sqrt().max(self.min_sigma);
        }
        lognormal_of_logs(mu, sigma)
    }
}

fn lognormal_of_logs(mu: f64, sigma: f64) -> Dist {
    let mean = (mu + sigma * sigma / 2.0).exp();
    let sd = mean * ((sigma * sigma).exp() - 1.0).sqrt();
    // mean and sd are finite and > 0 here; fall back to the mean if rounding broke that.
    Dist::lognormal(mean, sd).unwrap_or(Dist::Constant { mean })
}

/// An arrival rate (per second) estimated with an exponential window of `window_s` seconds.
#[derive(Clone, Debug)]
pub struct RateEstimator {
    level: f64,
    last: f64,
    window_s: f64,
}

impl RateEstimator {
    /// Starts at `prior` arrivals per second.
    pub fn new(prior: f64, window_s: f64) -> Self {
        RateEstimator {
            level: prior,
            last: 0.0,
            window_s,
        }
    }
    fn decay_to(&mut self, t: f64) {
        if t > self.last {
            self.level *= (-(t - self.last) / self.window_s).exp();
            self.last = t;
        }
    }
    /// Records one arrival at `t` seconds.
    pub fn arrive(&mut self, t: f64) {
        self.decay_to(t);
        self.level += 1.0 / self.window_s;
    }
    /// Rate per second at `t`.
    pub fn rate(&mut self, t: f64) -> f64 {
        self.decay_to(t);
        self.level
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::dist::stream_rng;

    #[test]
    fn fits_converge_from_a_wrong_prior() {
        let truth = Dist::lognormal(180.0, 120.0).unwrap();
        let mut fit = DurationFit::new(&Dist::Constant { mean: 60.0 }, 20.0, 3000.0);
        let mut rng = stream_rng(1, 1, 1);
        for _ in 0..20_000 {
            fit.observe(truth.sample(&mut rng));
        }
        let d = fit.dist();
        // Effective sample ≈ 3000: SE of the mean ≈ 120/sqrt(3000) ≈ 2.2 s; allow 5 SE.
        assert!((d.mean() - 180.0).abs() < 11.0, "{d:?}");
        assert!((d.sd() - 120.0).abs() < 20.0, "{d:?}");
        let mut est = OutcomeEstimator::new([0.25; 4], 50.0, 2000.0);
        for k in 0..10_000 {
            est.observe(if k % 10 < 3 {
                Class::Live
            } else {
                Class::NoAnswer
            });
        }
        assert!((est.p(Class::Live) - 0.3).abs() < 0.01);
    }

    #[test]
    fn running_durations_undo_the_survivorship_bias() {
        // 200 calls start at 0; at 120 s only the short ones have ended.
        let truth = Dist::lognormal(180.0, 120.0).unwrap();
        let mut rng = stream_rng(2, 1, 1);
        let mut fit = DurationFit::new(&Dist::lognormal(100.0, 50.0).unwrap(), 20.0, 3000.0);
        let mut running = 0.0;
        for _ in 0..200 {
            let d = truth.sample(&mut rng);
            if d <= 120.0 {
                fit.observe(d);
            } else {
                running += 1.0;
            }
        }
        let naive = fit.dist().mean();
        let censored = fit.dist_censored(&[(120.0, running)]).mean();
        assert!(naive < 110.0, "{naive}");
        assert!(censored > 150.0, "{censored}");
    }
}
