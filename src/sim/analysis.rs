//! The trunk's `analysis:` section: call-progress analysis as the simulator models it, so
//! what-ifs include its delay and its mistakes. An answered call is analysed for a delay drawn
//! from `delay`, then classed by the confusion matrix P(verdict | truth): a person classed
//! `machine` is hung up on (counted with the abandons, as Ofcom counts AMD false positives;
//! one classed `other` is hung up on too, and counted apart); a machine classed `human` reaches an agent, who hears the greeting, hangs up
//! and marks the call `machine`. Owns sampling only; no clock, no call state.
//!
//! ```yaml
//! trunk:
//!   analysis:
//!     delay: {dist: lognormal, mean: 1.8s, sd: 0.6s}
//!     confusion:
//!       person:  {human: 0.97, machine: 0.02, other: 0.01}
//!       machine: {human: 0.08, machine: 0.90, other: 0.02}
//! ```

use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::pacing::dist::Dist;
use crate::pacing::Verdict;

/// Seconds an agent handed a voicemail greeting spends before hanging up on it.
pub const AGENT_ON_MACHINE_S: f64 = 8.0;

/// The `trunk.analysis` section.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnalysisSpec {
    /// Answer-to-verdict delay.
    pub delay: Dist,
    /// P(verdict | truth); defaults to a tuned detector (see [`Confusion::default`]).
    #[serde(default)]
    pub confusion: Confusion,
}

/// P(verdict | truth) for the two truths a trunk answers with.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Confusion {
    /// Verdicts when a person answered.
    pub person: VerdictRow,
    /// Verdicts when a machine answered.
    pub machine: VerdictRow,
}

impl Default for Confusion {
    /// A tuned detector (cpa.md: 3–5 % false positives tuned; 85–95 % accuracy): people 97 %
    /// human, 2 % machine, 1 % other; machines 10 % human, 88 % machine, 2 % other.
    fn default() -> Self {
        Confusion {
            person: VerdictRow {
                human: 0.97,
                machine: 0.02,
                other: 0.01,
            },
            machine: VerdictRow {
                human: 0.10,
                machine: 0.88,
                other: 0.02,
            },
        }
    }
}

/// One row of the confusion matrix: probabilities adding up to 1.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerdictRow {
    /// P(human).
    #[serde(default)]
    pub human: f64,
    /// P(machine).
    #[serde(default)]
    pub machine: f64,
    /// P(other: announcement, SIT, fax, dead air).
    #[serde(default)]
    pub other: f64,
}

impl VerdictRow {
    /// Draws a verdict from one uniform number.
    fn pick(&self, u: f64) -> Verdict {
        if u < self.human {
            Verdict::Human
        } else if u < self.human + self.machine {
            Verdict::Machine
        } else {
            Verdict::Other
        }
    }

    /// `Err((key suffix, message))` unless every entry is a probability and they add up to 1.
    fn check(&self) -> Result<(), (&'static str, String)> {
        for (k, p) in [
            ("human", self.human),
            ("machine", self.machine),
            ("other", self.other),
        ] {
            if !(0.0..=1.0).contains(&p) {
                return Err((k, format!("{p} is not a probability (0 to 1)")));
            }
        }
        let sum = self.human + self.machine + self.other;
        if (sum - 1.0).abs() > 1e-6 {
            return Err(("human", format!("the row adds up to {sum:.4}, not 1")));
        }
        Ok(())
    }
}

impl AnalysisSpec {
    /// `Err((field under trunk.analysis, message))` for a confusion row that is not a
    /// distribution.
    pub fn check(&self) -> Result<(), (String, String)> {
        for (row, r) in [
            ("person", &self.confusion.person),
            ("machine", &self.confusion.machine),
        ] {
            r.check()
                .map_err(|(k, m)| (format!("trunk.analysis.confusion.{row}.{k}"), m))?;
        }
        Ok(())
    }

    /// Draws the verdict and its delay (seconds after the answer) for a call answered by a
    /// person (`person`) or a machine. Two draws, in this order, from the call's own stream.
    pub fn draw<R: Rng + ?Sized>(&self, rng: &mut R, person: bool) -> (Verdict, f64) {
        let u: f64 = rng.gen();
        let delay = self.delay.sample(rng).max(0.0);
        let row = if person {
            &self.confusion.person
        } else {
            &self.confusion.machine
        };
        (row.pick(u), delay)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::dist::stream_rng;

    #[test]
    fn verdicts_follow_the_confusion_matrix() {
        let spec = AnalysisSpec {
            delay: Dist::Constant { mean: 1.5 },
            confusion: Confusion::default(),
        };
        let n = 50_000u64;
        let fp = (0..n)
            .filter(|&k| spec.draw(&mut stream_rng(3, 5, k), true).0 == Verdict::Machine)
            .count();
        // Binomial SE of 0.02 on 50,000: 0.00063; 4 SE.
        assert!((fp as f64 / n as f64 - 0.02).abs() < 0.0025, "{fp}");
        let bad = AnalysisSpec {
            confusion: Confusion {
                person: VerdictRow {
                    human: 0.9,
                    machine: 0.2,
                    other: 0.0,
                },
                ..Confusion::default()
            },
            ..spec
        };
        let (field, msg) = bad.check().unwrap_err();
        assert_eq!(field, "trunk.analysis.confusion.person.human");
        assert!(msg.contains("1.1000"), "{msg}");
    }
}
