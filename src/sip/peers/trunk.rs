//! The synthetic trunk's policy: every INVITE is one draw from the scenario's trunk model
//! (live, machine, busy, invalid, failure, no answer; ring and talk times), turned into steps.
//! Owns only the per-call draw; the SIP exchange is the core's.

use std::net::IpAddr;

use crate::sim::dist::{stream_rng, Outcome, TrunkModel};

use super::voice::Voice;
use super::{scaled, AnswerMedia, Incoming, Peer, Planned, Step};
use crate::sip::endpoint::CallId;

/// Random stream of trunk-sim draws (distinct from the simulator's streams).
const TRUNK_SIM_STREAM: u64 = 0x5452_554E_4B53_494D;

/// A UAS that answers like a scenario's `trunk` section, durations divided by `time_scale`.
///
/// Live and machine answers ring, then answer 200 with SDP — machines with `X-Outdial-Answer:
/// machine`. An INVITE with an offer gets an answer naming the call's RTP socket and talk on RTP
/// (a person's spurts and pauses, or a machine's greeting and beep); one without (flow I) gets
/// a placeholder offer, signalling only. The customer hangs up after the drawn talk time
/// (counted from the answer). Busy rings then sends 486;
/// invalid sends 404; failure 503; no answer rings until the caller cancels.
#[derive(Debug, Clone)]
pub struct TrunkSim {
    model: TrunkModel,
    seed: u64,
    time_scale: f64,
    ip: IpAddr,
    calls: u64,
}

impl TrunkSim {
    /// A trunk drawing from `model` with `seed`; `ip` goes into the SDP.
    pub fn new(model: TrunkModel, seed: u64, time_scale: f64, ip: IpAddr) -> Self {
        TrunkSim {
            model,
            seed,
            time_scale,
            ip,
            calls: 0,
        }
    }

    /// Calls seen so far.
    pub fn calls(&self) -> u64 {
        self.calls
    }
}

impl Peer for TrunkSim {
    fn on_call(&mut self, call: &Incoming) -> Vec<Planned> {
        let k = self.calls;
        self.calls += 1;
        let draw = self
            .model
            .draw(&mut stream_rng(self.seed, TRUNK_SIM_STREAM, k));
        let at = |s: f64| scaled(s, self.time_scale);
        let ring = Planned {
            after: at(0.0),
            step: Step::Ring,
        };
        let reject = |code| Planned {
            after: at(draw.after_s),
            step: Step::Reject(code),
        };
        match draw.outcome {
            Outcome::Live | Outcome::Machine => vec![
                ring,
                Planned {
                    after: at(draw.after_s),
                    step: Step::Answer {
                        media: AnswerMedia::new(
                            self.ip,
                            call.offer.as_deref(),
                            if draw.outcome == Outcome::Machine {
                                Voice::Machine
                            } else {
                                Voice::Live
                            },
                            self.seed ^ k.wrapping_mul(0x9E37_79B9_7F4A_7C15),
                        ),
                        machine: draw.outcome == Outcome::Machine,
                    },
                },
                Planned {
                    after: at(draw.after_s + draw.talk_s),
                    step: Step::Hangup,
                },
            ],
            Outcome::Busy => vec![ring, reject(486)],
            Outcome::Invalid => vec![reject(404)],
            Outcome::Failure => vec![reject(503)],
            Outcome::NoAnswer => vec![ring],
        }
    }

    fn on_end(&mut self, _call: CallId) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pacing::dist::Dist;
    use std::time::Duration;

    fn model(live: f64, machine: f64, busy: f64, invalid: f64, failure: f64) -> TrunkModel {
        TrunkModel {
            live,
            machine,
            busy,
            invalid,
            failure,
            ring: Dist::Constant { mean: 4.0 },
            no_answer_timeout_s: 25.0,
            talk: Dist::Constant { mean: 60.0 },
        }
    }

    fn plan(m: TrunkModel) -> Vec<Planned> {
        let mut t = TrunkSim::new(m, 7, 10.0, IpAddr::from([127, 0, 0, 1]));
        t.on_call(&Incoming {
            call: CallId(1),
            to: "8613800000000".into(),
            offer: None,
        })
    }

    #[test]
    fn live_answer_rings_answers_then_hangs_up_scaled() {
        let p = plan(model(1.0, 0.0, 0.0, 0.0, 0.0));
        assert_eq!(p.len(), 3);
        assert_eq!(p[0].step, Step::Ring);
        assert_eq!(p[1].after, Duration::from_millis(400));
        assert!(matches!(p[1].step, Step::Answer { machine: false, .. }));
        assert_eq!(p[2].after, Duration::from_millis(6400));
        assert_eq!(p[2].step, Step::Hangup);
    }

    #[test]
    fn machine_busy_invalid_failure_and_no_answer() {
        let p = plan(model(0.0, 1.0, 0.0, 0.0, 0.0));
        assert!(matches!(p[1].step, Step::Answer { machine: true, .. }));
        let p = plan(model(0.0, 0.0, 1.0, 0.0, 0.0));
        assert_eq!(p.last().map(|s| &s.step), Some(&Step::Reject(486)));
        let p = plan(model(0.0, 0.0, 0.0, 1.0, 0.0));
        assert_eq!(
            p.iter().map(|s| &s.step).collect::<Vec<_>>(),
            [&Step::Reject(404)]
        );
        let p = plan(model(0.0, 0.0, 0.0, 0.0, 1.0));
        assert_eq!(
            p.iter().map(|s| &s.step).collect::<Vec<_>>(),
            [&Step::Reject(503)]
        );
        let p = plan(model(0.0, 0.0, 0.0, 0.0, 0.0));
        assert_eq!(p.iter().map(|s| &s.step).collect::<Vec<_>>(), [&Step::Ring]);
    }

    #[test]
    fn an_offer_is_answered_with_media_to_its_address_and_flow_i_is_not() {
        let mut t = TrunkSim::new(
            model(0.0, 1.0, 0.0, 0.0, 0.0),
            7,
            10.0,
            IpAddr::from([127, 0, 0, 1]),
        );
        let offer = crate::media::sdp::offer([127, 0, 0, 2].into(), 30000, 1, 1);
        let p = t.on_call(&Incoming {
            call: CallId(1),
            to: "1".into(),
            offer: Some(offer),
        });
        let Step::Answer { media, machine } = &p[1].step else {
            panic!("{p:?}")
        };
        assert!(machine);
        assert_eq!(media.voice, Voice::Machine, "a machine greets and beeps");
        assert_eq!(
            media.offered.as_ref().map(|o| o.remote.addr),
            Some("127.0.0.2:30000".parse().expect("addr"))
        );
        assert!(media.sdp(41000).contains("m=audio 41000 RTP/AVP 0 101\r\n"));
        // Flow I: no offer, so a placeholder offer and no RTP.
        let Step::Answer { media, .. } = &plan(model(1.0, 0.0, 0.0, 0.0, 0.0))[1].step else {
            panic!("no answer")
        };
        assert_eq!((&media.offered, media.voice), (&None, Voice::Live));
        assert!(media.sdp(41000).contains("RTP/AVP 0 8 101\r\n"));
    }

    #[test]
    fn outcome_shares_follow_the_model() {
        // 20,000 draws; each share within 5 binomial standard deviations (sd <= 0.0036).
        let m = model(0.3, 0.1, 0.1, 0.02, 0.0);
        let mut t = TrunkSim::new(m, 3, 1.0, IpAddr::from([127, 0, 0, 1]));
        let n = 20_000;
        let (mut live, mut machine, mut busy, mut invalid) = (0, 0, 0, 0);
        for i in 0..n {
            let p = t.on_call(&Incoming {
                call: CallId(i),
                to: "1".into(),
                offer: None,
            });
            match p
                .iter()
                .find(|s| !matches!(s.step, Step::Ring))
                .map(|s| &s.step)
            {
                Some(Step::Answer { machine: false, .. }) => live += 1,
                Some(Step::Answer { machine: true, .. }) => machine += 1,
                Some(Step::Reject(486)) => busy += 1,
                Some(Step::Reject(404)) => invalid += 1,
                _ => {}
            }
        }
        for (count, p) in [(live, 0.3), (machine, 0.1), (busy, 0.1), (invalid, 0.02)] {
            let sd = (p * (1.0 - p) / n as f64).sqrt();
            let share = f64::from(count) / n as f64;
            assert!((share - p).abs() < 5.0 * sd, "share {share} vs {p}");
        }
    }
}
