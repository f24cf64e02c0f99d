//! The synthetic agents' policy: `agents` endpoints `sip:agent0001@ADDR`… on one socket. An
//! agent answers an INVITE for its user part at once with an SDP answer to the INVITE's offer
//! (the customer's under flow I, outdial's when it anchors the media) and talks on RTP, is busy
//! (486) while on a call, and hangs up after a talk time drawn from the scenario unless the other
//! side ends the call first — or, held (`talk_time: None`), keeps the call up until the other
//! side's BYE, as a nailed-up agent connection. Unknown users get 404.

use std::collections::HashMap;
use std::net::IpAddr;

use crate::pacing::dist::Dist;
use crate::sim::dist::stream_rng;

use super::voice::Voice;
use super::{scaled, AnswerMedia, Incoming, Peer, Planned, Step};
use crate::sip::endpoint::CallId;

/// Random stream of agent-sim talk times.
const AGENT_SIM_STREAM: u64 = 0x4147_454E_5453_494D;

/// How the synthetic agents behave.
#[derive(Debug, Clone)]
pub struct AgentSimConfig {
    /// Number of agents (`agent0001` … `agentNNNN`).
    pub agents: usize,
    /// Talk time after which an agent hangs up; `None`: hold until the other side's BYE.
    pub talk_time: Option<Dist>,
    /// Seed of the talk-time draws.
    pub seed: u64,
    /// Durations are divided by this.
    pub time_scale: f64,
    /// Address written in the SDP.
    pub ip: IpAddr,
}

/// N agent endpoints answering flow I INVITEs.
#[derive(Debug, Clone)]
pub struct AgentSim {
    cfg: AgentSimConfig,
    busy: HashMap<CallId, usize>,
    on_call: Vec<bool>,
    calls: u64,
}

/// The user part of agent `i` (0-based): `agent0001` for 0 (the inverse of `agent_index`).
#[cfg(test)]
fn agent_user(i: usize) -> String {
    format!("agent{:04}", i + 1)
}

/// The 0-based index of `user` if it names one of `n` agents (`agent0001`…, at least 4 digits).
fn agent_index(user: &str, n: usize) -> Option<usize> {
    let digits = user.strip_prefix("agent")?;
    if digits.len() < 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let k: usize = digits.parse().ok()?;
    (1..=n).contains(&k).then(|| k - 1)
}

impl AgentSim {
    /// Agents as configured.
    pub fn new(cfg: AgentSimConfig) -> Self {
        AgentSim {
            on_call: vec![false; cfg.agents],
            cfg,
            busy: HashMap::new(),
            calls: 0,
        }
    }

    /// Agents currently on a call.
    pub fn agents_on_call(&self) -> usize {
        self.busy.len()
    }
}

impl Peer for AgentSim {
    fn on_call(&mut self, call: &Incoming) -> Vec<Planned> {
        let Some(i) = agent_index(&call.to, self.cfg.agents) else {
            return vec![Planned {
                after: scaled(0.0, 1.0),
                step: Step::Reject(404),
            }];
        };
        if self.on_call[i] {
            return vec![Planned {
                after: scaled(0.0, 1.0),
                step: Step::Reject(486),
            }];
        }
        self.on_call[i] = true;
        self.busy.insert(call.call, i);
        let k = self.calls;
        self.calls += 1;
        let mut plan = vec![Planned {
            after: scaled(0.0, 1.0),
            step: Step::Answer {
                media: AnswerMedia::new(
                    self.cfg.ip,
                    call.offer.as_deref(),
                    Voice::Agent,
                    self.cfg.seed ^ (k + 1).wrapping_mul(0xA076_1D64_78BD_642F),
                ),
                machine: false,
            },
        }];
        if let Some(talk) = &self.cfg.talk_time {
            let t = talk.sample(&mut stream_rng(self.cfg.seed, AGENT_SIM_STREAM, k));
            plan.push(Planned {
                after: scaled(t, self.cfg.time_scale),
                step: Step::Hangup,
            });
        }
        plan
    }

    fn on_end(&mut self, call: CallId) {
        if let Some(i) = self.busy.remove(&call) {
            self.on_call[i] = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn sim(talk: Option<Dist>) -> AgentSim {
        AgentSim::new(AgentSimConfig {
            agents: 2,
            talk_time: talk,
            seed: 1,
            time_scale: 10.0,
            ip: IpAddr::from([127, 0, 0, 1]),
        })
    }

    fn invite(call: u64, to: &str) -> Incoming {
        Incoming {
            call: CallId(call),
            to: to.into(),
            offer: Some("v=0".into()),
        }
    }

    #[test]
    fn agents_are_numbered_from_one_with_four_digits() {
        assert_eq!(agent_user(0), "agent0001");
        assert_eq!(agent_index("agent0002", 2), Some(1));
        assert_eq!(agent_index("agent0003", 2), None);
        assert_eq!(agent_index("agent0000", 2), None);
        assert_eq!(agent_index("agent1", 2), None);
        assert_eq!(agent_index("bob", 2), None);
    }

    #[test]
    fn an_agent_answers_once_then_is_busy_until_the_call_ends() {
        let mut s = sim(None);
        let p = s.on_call(&invite(1, "agent0001"));
        assert_eq!(p.len(), 1, "no hang-up without a talk time");
        assert!(matches!(p[0].step, Step::Answer { .. }));
        assert_eq!(
            s.on_call(&invite(2, "agent0001"))[0].step,
            Step::Reject(486)
        );
        assert!(matches!(
            s.on_call(&invite(3, "agent0002"))[0].step,
            Step::Answer { .. }
        ));
        assert_eq!(
            s.on_call(&invite(4, "agent0009"))[0].step,
            Step::Reject(404)
        );
        s.on_end(CallId(1));
        assert!(matches!(
            s.on_call(&invite(5, "agent0001"))[0].step,
            Step::Answer { .. }
        ));
    }

    #[test]
    fn an_agent_answers_the_offer_with_its_voice_but_not_a_placeholder() {
        let mut s = sim(None);
        let offer = crate::media::sdp::offer([127, 0, 0, 2].into(), 30000, 1, 1);
        let mut call = invite(1, "agent0001");
        call.offer = Some(offer);
        let Step::Answer { media, .. } = &s.on_call(&call)[0].step else {
            panic!("no answer")
        };
        assert_eq!(media.voice, Voice::Agent);
        assert_eq!(
            media.offered.as_ref().map(|o| o.remote.addr),
            Some("127.0.0.2:30000".parse().expect("addr"))
        );
        let mut call = invite(2, "agent0002");
        call.offer = Some(crate::sip::peers::sdp("caller", [127, 0, 0, 1].into()));
        let Step::Answer { media, .. } = &s.on_call(&call)[0].step else {
            panic!("no answer")
        };
        assert_eq!(
            media.offered, None,
            "the discard-port placeholder gets no RTP"
        );
    }

    #[test]
    fn agent_hangs_up_after_the_scaled_talk_time() {
        let mut s = sim(Some(Dist::Constant { mean: 30.0 }));
        let p = s.on_call(&invite(1, "agent0001"));
        assert_eq!(p[1].after, Duration::from_secs(3));
        assert_eq!(p[1].step, Step::Hangup);
    }
}
