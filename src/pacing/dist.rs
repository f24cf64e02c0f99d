//! Duration distributions (talk, wrap-up, ring time): their YAML form, sampling, distribution
//! function and quantiles. Shared by the pacing core's estimators and forecast tables, the
//! simulator's scenarios and the live engine's configuration. Plain values: no clock, no state.

use std::time::Duration;

use rand::Rng;
use serde::{Deserialize, Serialize};
use statrs::distribution::Normal;

use crate::yaml::Dur;

/// A distribution of durations, in seconds.
///
/// Written in YAML as `{dist: constant, mean: 30s}`, `{dist: exponential, mean: 180s}`,
/// `{dist: lognormal, mean: 180s, sd: 120s}` (mean and standard deviation of the duration itself,
/// not of its logarithm) or `{dist: uniform, min: 5s, max: 20s}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "DistSpec", into = "DistSpec")]
pub enum Dist {
    /// Always `mean` seconds.
    Constant {
        /// Seconds.
        mean: f64,
    },
    /// Exponential with the given mean (seconds).
    Exponential {
        /// Mean seconds.
        mean: f64,
    },
    /// Lognormal with the given mean and standard deviation in real space (seconds).
    LogNormal {
        /// Mean seconds.
        mean: f64,
        /// Standard deviation, seconds.
        sd: f64,
        /// Location of the underlying normal (derived).
        mu: f64,
        /// Scale of the underlying normal (derived).
        sigma: f64,
    },
    /// Uniform on `[min, max]` seconds.
    Uniform {
        /// Lower bound, seconds.
        min: f64,
        /// Upper bound, seconds.
        max: f64,
    },
}

/// The YAML shape of a [`Dist`] before validation.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DistSpec {
    /// `constant`, `exponential`, `lognormal` or `uniform`.
    pub dist: String,
    /// Mean (constant, exponential, lognormal).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mean: Option<Dur>,
    /// Standard deviation (lognormal).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sd: Option<Dur>,
    /// Lower bound (uniform).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<Dur>,
    /// Upper bound (uniform).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<Dur>,
}

/// Why a distribution's YAML was refused; serde shows the message after the field.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DistError {
    /// A key the distribution needs is missing.
    #[error("`{dist}` needs `{key}`")]
    Needs {
        /// Distribution name.
        dist: String,
        /// Missing key.
        key: &'static str,
    },
    /// A key that does not apply to the distribution.
    #[error("`{key}` does not apply to `{dist}`")]
    DoesNotApply {
        /// Distribution name.
        dist: String,
        /// Key given.
        key: &'static str,
    },
    /// An exponential mean of zero.
    #[error("exponential mean must be above 0")]
    ExponentialMean,
    /// A lognormal mean or sd of zero.
    #[error("lognormal needs mean > 0 and sd > 0")]
    Lognormal,
    /// A uniform range upside down (seconds).
    #[error("uniform max ({max}s) is below min ({min}s)")]
    UniformRange {
        /// Lower bound.
        min: f64,
        /// Upper bound.
        max: f64,
    },
    /// Not a known distribution name.
    #[error("unknown dist `{0}` (expected constant, exponential, lognormal or uniform)")]
    Unknown(String),
}

impl TryFrom<DistSpec> for Dist {
    type Error = DistError;
    fn try_from(s: DistSpec) -> Result<Self, DistError> {
        let need = |v: Option<Dur>, key: &'static str| {
            v.map(Dur::secs_f64).ok_or_else(|| DistError::Needs {
                dist: s.dist.clone(),
                key,
            })
        };
        let forbid = |v: &Option<Dur>, key: &'static str| match v {
            Some(_) => Err(DistError::DoesNotApply {
                dist: s.dist.clone(),
                key,
            }),
            None => Ok(()),
        };
        match s.dist.as_str() {
            "constant" | "exponential" => {
                forbid(&s.sd, "sd")?;
                forbid(&s.min, "min")?;
                forbid(&s.max, "max")?;
                let mean = need(s.mean, "mean")?;
                if s.dist == "constant" {
                    Ok(Dist::Constant { mean })
                } else if mean <= 0.0 {
                    Err(DistError::ExponentialMean)
                } else {
                    Ok(Dist::Exponential { mean })
                }
            }
            "lognormal" => {
                forbid(&s.min, "min")?;
                forbid(&s.max, "max")?;
                let mean = need(s.mean, "mean")?;
                let sd = need(s.sd, "sd")?;
                Dist::lognormal(mean, sd).ok_or(DistError::Lognormal)
            }
            "uniform" => {
                forbid(&s.mean, "mean")?;
                forbid(&s.sd, "sd")?;
                let min = need(s.min, "min")?;
                let max = need(s.max, "max")?;
                if max < min {
                    return Err(DistError::UniformRange { min, max });
                }
                Ok(Dist::Uniform { min, max })
            }
            other => Err(DistError::Unknown(other.to_string())),
        }
    }
}

impl From<Dist> for DistSpec {
    fn from(d: Dist) -> Self {
        let dur = |s: f64| Some(Dur(Duration::from_secs_f64(s.max(0.0))));
        let mut spec = DistSpec {
            dist: String::new(),
            mean: None,
            sd: None,
            min: None,
            max: None,
        };
        match d {
            Dist::Constant { mean } => {
                spec.dist = "constant".into();
                spec.mean = dur(mean);
            }
            Dist::Exponential { mean } => {
                spec.dist = "exponential".into();
                spec.mean = dur(mean);
            }
            Dist::LogNormal { mean, sd, .. } => {
                spec.dist = "lognormal".into();
                spec.mean = dur(mean);
                spec.sd = dur(sd);
            }
            Dist::Uniform { min, max } => {
                spec.dist = "uniform".into();
                spec.min = dur(min);
                spec.max = dur(max);
            }
        }
        spec
    }
}

impl Default for Dist {
    /// Zero seconds (no wrap-up, say).
    fn default() -> Self {
        Dist::Constant { mean: 0.0 }
    }
}

impl Dist {
    /// A lognormal with the given real-space mean and standard deviation; `None` unless both > 0.
    pub fn lognormal(mean: f64, sd: f64) -> Option<Dist> {
        if !(mean > 0.0 && sd > 0.0 && mean.is_finite() && sd.is_finite()) {
            return None;
        }
        let sigma2 = (1.0 + (sd / mean).powi(2)).ln();
        Some(Dist::LogNormal {
            mean,
            sd,
            mu: mean.ln() - sigma2 / 2.0,
            sigma: sigma2.sqrt(),
        })
    }

    /// Mean in seconds.
    pub fn mean(&self) -> f64 {
        match *self {
            Dist::Constant { mean } | Dist::Exponential { mean } | Dist::LogNormal { mean, .. } => {
                mean
            }
            Dist::Uniform { min, max } => (min + max) / 2.0,
        }
    }

    /// Standard deviation in seconds.
    pub fn sd(&self) -> f64 {
        match *self {
            Dist::Constant { .. } => 0.0,
            Dist::Exponential { mean } => mean,
            Dist::LogNormal { sd, .. } => sd,
            Dist::Uniform { min, max } => (max - min) / 12f64.sqrt(),
        }
    }

    /// Draws one value in seconds (never negative).
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        match *self {
            Dist::Constant { mean } => mean,
            Dist::Exponential { mean } => {
                // 1 - u lies in (0, 1], so the logarithm is finite.
                let u: f64 = rng.gen();
                -mean * (1.0 - u).ln()
            }
            Dist::LogNormal { mu, sigma, .. } => {
                // Normal::new only fails for a non-finite or negative sd; sigma is derived > 0.
                let z: f64 = rng.sample(STANDARD_NORMAL.with(|n| *n));
                (mu + sigma * z).exp()
            }
            Dist::Uniform { min, max } => {
                if max > min {
                    rng.gen_range(min..=max)
                } else {
                    min
                }
            }
        }
    }

    /// Draws one value as a [`Duration`].
    pub fn sample_duration<R: Rng + ?Sized>(&self, rng: &mut R) -> Duration {
        Duration::from_secs_f64(self.sample(rng).max(0.0))
    }

    /// P(X ≤ t) for `t` in seconds. The lognormal's comes from the tabulated Φ of
    /// [`crate::pacing::normal`] (absolute error < 1e-10): this is what the forecast tables are
    /// built from, thousands of values per refit.
    pub fn cdf(&self, t: f64) -> f64 {
        match *self {
            Dist::Constant { mean } => {
                if t >= mean {
                    1.0
                } else {
                    0.0
                }
            }
            Dist::Exponential { mean } => {
                if t <= 0.0 {
                    0.0
                } else {
                    1.0 - (-t / mean).exp()
                }
            }
            Dist::LogNormal { mu, sigma, .. } => {
                if t <= 0.0 {
                    0.0
                } else {
                    crate::pacing::normal::cdf((t.ln() - mu) / sigma)
                }
            }
            Dist::Uniform { min, max } => {
                if t < min {
                    0.0
                } else if t >= max {
                    1.0
                } else {
                    (t - min) / (max - min)
                }
            }
        }
    }

    /// The `q`-quantile in seconds (`q` in (0, 1)).
    pub fn quantile(&self, q: f64) -> f64 {
        let q = q.clamp(1e-12, 1.0 - 1e-12);
        match *self {
            Dist::Constant { mean } => mean,
            Dist::Exponential { mean } => -mean * (1.0 - q).ln(),
            Dist::LogNormal { mu, sigma, .. } => (mu + sigma * std_normal_quantile(q)).exp(),
            Dist::Uniform { min, max } => min + q * (max - min),
        }
    }
}

const SQRT_2: f64 = std::f64::consts::SQRT_2;

thread_local! {
    // Normal::new(0, 1) cannot fail: the parameters are finite and sd > 0.
    static STANDARD_NORMAL: Normal = Normal::new(0.0, 1.0).expect("standard normal");
}

/// Quantile of the standard normal distribution.
pub fn std_normal_quantile(q: f64) -> f64 {
    -SQRT_2 * statrs::function::erf::erfc_inv(2.0 * q)
}

/// Cumulative distribution of the standard normal distribution.
pub fn std_normal_cdf(z: f64) -> f64 {
    0.5 * statrs::function::erf::erfc(-z / SQRT_2)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Dist, crate::yaml::YamlError> {
        crate::yaml::parse::<Dist>("d.yaml", text)
    }

    #[test]
    fn lognormal_has_requested_moments() {
        let d = parse("{dist: lognormal, mean: 180s, sd: 120s}").unwrap();
        let mut rng = <rand_pcg::Pcg64Mcg as rand::SeedableRng>::seed_from_u64(3);
        let n = 200_000;
        let xs: Vec<f64> = (0..n).map(|_| d.sample(&mut rng)).collect();
        let m = xs.iter().sum::<f64>() / n as f64;
        let sd = (xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / n as f64).sqrt();
        // Standard error of the mean is 120/sqrt(n) ≈ 0.27 s; 4 SE ≈ 1.1 s.
        assert!((m - 180.0).abs() < 1.1, "mean {m}");
        assert!((sd - 120.0).abs() < 4.0, "sd {sd}");
        assert!((d.cdf(d.quantile(0.3)) - 0.3).abs() < 1e-9);
    }

    #[test]
    fn bad_specs_are_errors() {
        assert!(parse("{dist: lognormal, mean: 3s}")
            .unwrap_err()
            .to_string()
            .contains("needs `sd`"));
        assert!(parse("{dist: uniform, min: 5s, max: 1s}").is_err());
        assert!(parse("{dist: gamma, mean: 1s}").is_err());
        assert!(parse("{dist: constant, mean: 1s, colour: red}").is_err());
        assert_eq!(
            parse("{dist: uniform, min: 1s, max: 3s}").unwrap().mean(),
            2.0
        );
    }
}
