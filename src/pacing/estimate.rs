//! Online estimators of one campaign, with priors so a cold start behaves: outcome probabilities
//! (recency-weighted), and lognormal fits of ring (time to answer), talk and wrap-up times from
//! exponentially weighted log-moments. Plain numbers in, distributions out.

use crate::sim::dist::Dist;

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
        for w in &mut self.w {
            *w *= self.decay;
        }
        self.w[c as usize] += 1.0;
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
}

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
        }
    }
    /// Records one duration in seconds (clamped to ≥ 50 ms).
    pub fn observe(&mut self, secs: f64) {
        let x = secs.max(0.05).ln();
        self.w = self.w * self.decay + 1.0;
        self.s1 = self.s1 * self.decay + x;
        self.s2 = self.s2 * self.decay + x * x;
    }
    /// The fitted lognormal.
    pub fn dist(&self) -> Dist {
        let mu = self.s1 / self.w;
        let sigma = (self.s2 / self.w - mu * mu)
            .max(0.0)
            .sqrt()
            .max(self.min_sigma);
        let mean = (mu + sigma * sigma / 2.0).exp();
        let sd = mean * ((sigma * sigma).exp() - 1.0).sqrt();
        // mean and sd are finite and > 0 here; fall back to the mean if rounding broke that.
        Dist::lognormal(mean, sd).unwrap_or(Dist::Constant { mean })
    }
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
}
