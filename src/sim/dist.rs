//! The synthetic trunk model that draws one call's outcome, and the per-item random streams
//! behind common random numbers. Shared by the simulator and `outdial trunk-sim`, so a live test
//! against the synthetic SIP trunk sees the same customers as a simulation of the same scenario.
//! Owns sampling only; it keeps no clock and no call state. Durations are
//! [`crate::pacing::dist::Dist`].

use rand::Rng;
use serde::{Deserialize, Serialize};

pub use crate::pacing::dist::Dist;

/// What happened to one dialled call on the trunk.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// A person answered.
    Live,
    /// An answering machine answered.
    Machine,
    /// The line was busy.
    Busy,
    /// The number does not exist.
    Invalid,
    /// The trunk failed the call (congestion, 5xx).
    Failure,
    /// Nobody answered before the no-answer timeout.
    NoAnswer,
}

/// The trunk's response to one dial: its outcome, when it happens and, for live answers, how long
/// the customer talks once connected.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CallDraw {
    /// What happens.
    pub outcome: Outcome,
    /// Seconds from dial to the outcome: the answer for live/machine, the busy/invalid/failure
    /// signal, or the no-answer timeout.
    pub after_s: f64,
    /// Seconds the customer talks with an agent if the call is connected, or with the machine
    /// (answered calls; 0 for the others).
    pub talk_s: f64,
}

/// Samples call outcomes the way a scenario's `trunk` section describes them.
///
/// One call takes draws from `rng` in a fixed order (outcome, ring time, early-failure delay,
/// then talk time only if the call is answered), so a per-call RNG seeded by the dial sequence
/// number gives every strategy the same customer. The talk time comes last so that skipping it
/// for the calls nobody answers changes no other draw. A live or machine answer whose ring time exceeds
/// `no_answer_timeout` becomes a no-answer. Busy, invalid and failure are signalled 1–4 s after
/// the dial.
#[derive(Clone, Debug, PartialEq)]
pub struct TrunkModel {
    /// Probability of a live answer.
    pub live: f64,
    /// Probability of a machine answer.
    pub machine: f64,
    /// Probability of busy.
    pub busy: f64,
    /// Probability of an invalid number.
    pub invalid: f64,
    /// Probability of a trunk failure.
    pub failure: f64,
    /// Dial-to-answer time of answered calls.
    pub ring: Dist,
    /// Seconds after which an unanswered call is given up.
    pub no_answer_timeout_s: f64,
    /// Talk time of connected live calls.
    pub talk: Dist,
}

impl TrunkModel {
    /// Draws one call.
    pub fn draw<R: Rng + ?Sized>(&self, rng: &mut R) -> CallDraw {
        let u: f64 = rng.gen();
        let ring = self.ring.sample(rng);
        let early = 1.0 + 3.0 * rng.gen::<f64>();
        let mut acc = self.live;
        let outcome = if u < acc {
            Outcome::Live
        } else if u < {
            acc += self.machine;
            acc
        } {
            Outcome::Machine
        } else if u < {
            acc += self.busy;
            acc
        } {
            Outcome::Busy
        } else if u < {
            acc += self.invalid;
            acc
        } {
            Outcome::Invalid
        } else if u < acc + self.failure {
            Outcome::Failure
        } else {
            Outcome::NoAnswer
        };
        let (outcome, after_s) = match outcome {
            Outcome::Live | Outcome::Machine if ring > self.no_answer_timeout_s => {
                (Outcome::NoAnswer, self.no_answer_timeout_s)
            }
            Outcome::Live | Outcome::Machine => (outcome, ring),
            Outcome::NoAnswer => (outcome, self.no_answer_timeout_s),
            _ => (outcome, early.min(self.no_answer_timeout_s)),
        };
        let talk_s = match outcome {
            Outcome::Live | Outcome::Machine => self.talk.sample(rng),
            _ => 0.0,
        };
        CallDraw {
            outcome,
            after_s,
            talk_s,
        }
    }
}

/// A fresh RNG for stream `stream` of item `k` under `seed`: the common-random-numbers key.
/// Item `k` is a dial sequence number, an agent index or an inbound arrival index.
pub fn stream_rng(seed: u64, stream: u64, k: u64) -> rand_pcg::Pcg64Mcg {
    use rand::SeedableRng;
    let mut x = seed ^ stream.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    x = splitmix(x ^ splitmix(k.wrapping_add(stream << 40)));
    rand_pcg::Pcg64Mcg::seed_from_u64(x)
}

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trunk_outcome_shares() {
        let t = TrunkModel {
            live: 0.3,
            machine: 0.1,
            busy: 0.1,
            invalid: 0.02,
            failure: 0.0,
            ring: Dist::Uniform {
                min: 2.0,
                max: 10.0,
            },
            no_answer_timeout_s: 25.0,
            talk: Dist::Constant { mean: 60.0 },
        };
        let n = 100_000;
        let live = (0..n)
            .filter(|&k| t.draw(&mut stream_rng(7, 0, k)).outcome == Outcome::Live)
            .count();
        // Binomial SE = sqrt(0.3*0.7/n) ≈ 0.00145; 4 SE ≈ 0.006.
        assert!((live as f64 / n as f64 - 0.3).abs() < 0.006);
        assert_eq!(
            t.draw(&mut stream_rng(7, 0, 5)),
            t.draw(&mut stream_rng(7, 0, 5))
        );
    }
}
