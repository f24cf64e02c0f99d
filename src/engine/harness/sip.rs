//! The harness's scripted SIP side: it places calls within trunk-group budgets (channels and
//! calls per second, like the endpoint's trunk table), answers or fails each per the test's
//! script, joins answered customers to agents for a talk time, ends legs a crashed run left up,
//! and records what happened for assertions. No sockets; the events it schedules are delivered
//! by [`World`](super::World) in virtual time.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::{Duration, Instant};

use crate::engine::core::{CallKey, SipCommand, SipInput};
use crate::sip::endpoint::{CallId as SipCall, EndedBy, Event, PlaceError};
use crate::sip::SipOutcome;

/// How a customer responds to a call.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Answer {
    /// Rings, then a person answers after this long.
    Live(Duration),
    /// Rings, then a machine answers after this long.
    Machine(Duration),
    /// Busy after this long.
    Busy(Duration),
    /// Fails with this final status and disposition after this long (invalid number, trunk
    /// failure).
    Failed(Duration, u16, SipOutcome),
    /// Rings until cancelled.
    Never,
    /// Early media (a 183 with SDP) after this long, then rings until cancelled: a carrier's
    /// announcement or SIT before any answer.
    EarlyMedia(Duration),
}

/// How the customer of (campaign, lead) responds.
pub type Script = Box<dyn FnMut(&str, i64) -> Answer>;

/// How long the customer of (campaign, lead) talks once connected to an agent.
pub type TalkScript = Box<dyn FnMut(&str, i64) -> Duration>;

/// One trunk group's limits.
#[derive(Clone, Copy, Debug)]
pub struct GroupLimits {
    /// Calls up at once.
    pub channels: u32,
    /// Calls started in any one second.
    pub cps: u32,
}

/// A call placed, as the trunk saw it.
#[derive(Clone, Debug)]
pub struct Placed {
    /// When.
    pub at: Instant,
    /// The engine's call.
    pub key: CallKey,
    /// The SIP call.
    pub call: SipCall,
    /// Campaign (from its `X-Outdial-Campaign` header).
    pub campaign: String,
    /// Lead (from its `X-Outdial-Lead` header).
    pub lead: i64,
    /// Trunk group.
    pub group: String,
    /// outdial's SDP offer (anchored calls).
    pub offer: Option<String>,
}

/// An INVITE straight to an agent's phone (`CallAgent`).
#[derive(Clone, Debug)]
pub struct AgentCalled {
    /// When.
    pub at: Instant,
    /// The agent's URI.
    pub uri: String,
    /// outdial's SDP offer.
    pub offer: String,
    /// The SIP call.
    pub call: SipCall,
}

/// A 401 sent to a phone dialling in.
#[derive(Clone, Debug)]
pub struct Challenged {
    /// The phone's call.
    pub call: SipCall,
    /// The realm.
    pub realm: String,
    /// The nonce.
    pub nonce: String,
    /// `stale=true`.
    pub stale: bool,
}

/// A customer joined to an agent.
#[derive(Clone, Debug)]
pub struct Joined {
    /// When.
    pub at: Instant,
    /// The agent's URI.
    pub agent: String,
    /// The customer's campaign.
    pub campaign: String,
    /// The lead.
    pub lead: i64,
}

#[derive(Debug)]
struct Live {
    group: String,
    answered: bool,
    placed: usize,
}

/// The scripted SIP side.
pub struct ScriptedSip {
    /// Limits per trunk group (a group not listed has none free).
    pub groups: BTreeMap<String, GroupLimits>,
    /// How the customer of (campaign, lead) responds.
    pub script: Script,
    /// How long an agent talks to a customer.
    pub talk: Duration,
    /// When set, how long each customer talks, instead of `talk` (the simulator's sampled talk
    /// times).
    pub talk_of: Option<TalkScript>,
    /// How long the BYE on a leg left up by a crashed run takes to be answered.
    pub bye_answer: Duration,
    /// Calls placed.
    pub placed: Vec<Placed>,
    /// Customers joined to agents (flow-I `Connect`, or a media bridge of an anchored call).
    pub joined: Vec<Joined>,
    /// Agent phones called.
    pub agent_calls: Vec<AgentCalled>,
    /// How an agent's phone responds: answers after this long, or (`None`) refuses (480)
    /// after a second.
    pub agent_answer: Option<Duration>,
    /// Places asked for beyond a group's channels or CPS (the engine broke a budget).
    pub over_budget: Vec<(Instant, String)>,
    /// Legs of a crashed run ended: (agent, attempt).
    pub ended_legs: Vec<(Option<String>, i64)>,
    /// Most calls up at once per group.
    pub max_up: BTreeMap<String, u32>,
    /// Commands received, in order (for assertions on anything else), while
    /// `record_commands`.
    pub commands: Vec<(Instant, String)>,
    /// Keep every command in `commands` (default true; a long simulation turns it off).
    pub record_commands: bool,
    /// Inbound callers answered by outdial itself (anchored): (call, outdial's SDP answer).
    pub inbound_answers: Vec<(SipCall, String)>,
    /// Digest challenges sent (401 to dial-in agents' phones).
    pub challenges: Vec<Challenged>,
    calls: HashMap<SipCall, Live>,
    /// Agent calls up or ringing: call → answered.
    agent_live: HashMap<SipCall, bool>,
    starts: BTreeMap<String, VecDeque<Instant>>,
    next_call: u64,
}

impl ScriptedSip {
    /// A SIP side with `groups`, every customer answering live after 5 s, agents talking 30 s.
    pub fn new(groups: BTreeMap<String, GroupLimits>) -> Self {
        ScriptedSip {
            groups,
            script: Box::new(|_, _| Answer::Live(Duration::from_secs(5))),
            talk: Duration::from_secs(30),
            talk_of: None,
            bye_answer: Duration::from_secs(1),
            placed: Vec::new(),
            joined: Vec::new(),
            agent_calls: Vec::new(),
            agent_answer: Some(Duration::from_secs(1)),
            agent_live: HashMap::new(),
            over_budget: Vec::new(),
            ended_legs: Vec::new(),
            max_up: BTreeMap::new(),
            commands: Vec::new(),
            record_commands: true,
            inbound_answers: Vec::new(),
            challenges: Vec::new(),
            calls: HashMap::new(),
            starts: BTreeMap::new(),
            next_call: 1,
        }
    }

    fn up(&self, group: &str) -> u32 {
        self.calls.values().filter(|c| c.group == group).count() as u32
    }

    fn started_last_second(&mut self, group: &str, now: Instant) -> u32 {
        let q = self.starts.entry(group.to_string()).or_default();
        while q
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) >= Duration::from_secs(1))
        {
            q.pop_front();
        }
        q.len() as u32
    }

    /// Lines of `group` that may be dialled now.
    pub fn free_lines(&mut self, group: &str, now: Instant) -> u32 {
        let Some(limits) = self.groups.get(group).copied() else {
            return 0;
        };
        let channels = limits.channels.saturating_sub(self.up(group));
        let cps = limits
            .cps
            .saturating_sub(self.started_last_second(group, now));
        channels.min(cps)
    }

    fn new_call(&mut self) -> SipCall {
        let c = SipCall(self.next_call);
        self.next_call += 1;
        c
    }

    /// Carries out `cmd`: the inputs to feed back, each with its delay.
    pub fn apply(&mut self, now: Instant, cmd: SipCommand) -> Vec<(Duration, SipInput)> {
        if self.record_commands {
            self.commands.push((now, format!("{cmd:?}")));
        }
        let ms = Duration::from_millis;
        match cmd {
            SipCommand::Place { key, req } => {
                let header = |name: &str| {
                    req.headers
                        .iter()
                        .find(|h| h.name() == name)
                        .map(|h| h.value().to_string())
                        .unwrap_or_default()
                };
                let campaign = header("X-Outdial-Campaign");
                let lead = header("X-Outdial-Lead").parse().unwrap_or(-1);
                if self.free_lines(&req.group, now) == 0 {
                    self.over_budget.push((now, req.group.clone()));
                    let result = Err(PlaceError::NoCapacity(req.group.clone()).into());
                    return vec![(Duration::ZERO, SipInput::Placed { key, result })];
                }
                let call = self.new_call();
                self.starts
                    .entry(req.group.clone())
                    .or_default()
                    .push_back(now);
                self.placed.push(Placed {
                    at: now,
                    key,
                    call,
                    campaign: campaign.clone(),
                    lead,
                    group: req.group.clone(),
                    offer: req.offer.clone(),
                });
                self.calls.insert(
                    call,
                    Live {
                        group: req.group.clone(),
                        answered: false,
                        placed: self.placed.len() - 1,
                    },
                );
                let up = self.up(&req.group);
                let max = self.max_up.entry(req.group.clone()).or_default();
                *max = (*max).max(up);
                let mut out = vec![(
                    Duration::ZERO,
                    SipInput::Placed {
                        key,
                        result: Ok((call, Some(format!("{}-trunk", req.group)))),
                    },
                )];
                let ringing = SipInput::Event(Event::Ringing { call });
                let answer = (self.script)(&campaign, lead);
                match answer {
                    Answer::Live(after) | Answer::Machine(after) if after > ms(300) => {
                        out.push((ms(300), ringing));
                    }
                    Answer::Never => out.push((ms(300), ringing)),
                    Answer::EarlyMedia(after) => out.push((
                        after,
                        SipInput::Event(Event::EarlyMedia {
                            call,
                            sdp: far_sdp(40_000),
                        }),
                    )),
                    _ => {}
                }
                // An early offer is answered with the trunk's SDP.
                let sdp = req.offer.as_ref().map(|_| far_sdp(40_000));
                match answer {
                    Answer::Live(after) => out.push((after, answered(call, false, sdp))),
                    Answer::Machine(after) => out.push((after, answered(call, true, sdp))),
                    Answer::Busy(after) => out.push((
                        after,
                        SipInput::Event(Event::Failed {
                            call,
                            code: Some(486),
                            disposition: SipOutcome::Busy,
                        }),
                    )),
                    Answer::Failed(after, code, disposition) => out.push((
                        after,
                        SipInput::Event(Event::Failed {
                            call,
                            code: Some(code),
                            disposition,
                        }),
                    )),
                    Answer::Never | Answer::EarlyMedia(_) => {}
                }
                out
            }
            SipCommand::Connect { call, agent, .. } => {
                let Some(live) = self.calls.get(&call) else {
                    return Vec::new();
                };
                let p = &self.placed[live.placed];
                let talk = match self.talk_of.as_mut() {
                    Some(talk_of) => talk_of(&p.campaign, p.lead),
                    None => self.talk,
                };
                self.joined.push(Joined {
                    at: now,
                    agent: agent.to_string(),
                    campaign: p.campaign.clone(),
                    lead: p.lead,
                });
                let connected = SipInput::Event(Event::Connected {
                    call,
                    agent,
                    answer_to_connect: ms(200),
                });
                vec![(ms(200), connected), (ms(200) + talk, ended(call))]
            }
            SipCommand::CallAgent { leg, req } => {
                let call = self.new_call();
                self.agent_calls.push(AgentCalled {
                    at: now,
                    uri: req.uri.to_string(),
                    offer: req.offer,
                    call,
                });
                self.agent_live.insert(call, false);
                let mut out = vec![(
                    Duration::ZERO,
                    SipInput::AgentPlaced {
                        leg,
                        result: Ok(call),
                    },
                )];
                match self.agent_answer {
                    Some(after) => out.push((
                        after,
                        SipInput::Event(Event::Answered {
                            call,
                            machine: false,
                            offer: Some(far_sdp(50_000)),
                        }),
                    )),
                    None => out.push((
                        Duration::from_secs(1),
                        SipInput::Event(Event::Failed {
                            call,
                            code: Some(480),
                            disposition: SipOutcome::NoAnswer,
                        }),
                    )),
                }
                out
            }
            SipCommand::Hangup { call } if self.agent_live.contains_key(&call) => {
                match self.agent_live.remove(&call) {
                    Some(true) => vec![(ms(10), ended(call))],
                    _ => vec![(
                        ms(10),
                        SipInput::Event(Event::Failed {
                            call,
                            code: Some(487),
                            disposition: SipOutcome::NoAnswer,
                        }),
                    )],
                }
            }
            SipCommand::Abandon { call, .. } | SipCommand::Hangup { call } => {
                match self.calls.get(&call) {
                    Some(live) if live.answered => vec![(ms(10), ended(call))],
                    Some(_) => vec![(
                        ms(10),
                        SipInput::Event(Event::Failed {
                            call,
                            code: Some(487),
                            disposition: SipOutcome::NoAnswer,
                        }),
                    )],
                    None => Vec::new(),
                }
            }
            SipCommand::Announce { call, .. } | SipCommand::Reject { call, .. } => {
                self.calls.remove(&call);
                Vec::new()
            }
            SipCommand::Challenge {
                call,
                realm,
                nonce,
                stale,
            } => {
                self.challenges.push(Challenged {
                    call,
                    realm,
                    nonce,
                    stale,
                });
                Vec::new()
            }
            SipCommand::Answer { call, sdp } => {
                self.inbound_answers.push((call, sdp));
                Vec::new()
            }
            SipCommand::Ring { .. } | SipCommand::PushTrunkGauges => Vec::new(),
            SipCommand::QueryTrunk { key, call } => {
                let trunk = self.calls.get(&call).map(|l| format!("{}-trunk", l.group));
                vec![(Duration::ZERO, SipInput::Trunk { key, trunk })]
            }
            SipCommand::CompleteProgress { progress, .. } => {
                vec![(Duration::ZERO, SipInput::Progress(progress))]
            }
            SipCommand::FreeLines { groups } => {
                let free = groups
                    .into_iter()
                    .map(|g| {
                        let n = self.free_lines(&g, now);
                        (g, n)
                    })
                    .collect();
                vec![(Duration::ZERO, SipInput::FreeLines(free))]
            }
            SipCommand::EndLeg { agent, attempt, .. } => {
                let call = self.new_call();
                self.ended_legs.push((agent.clone(), attempt));
                vec![
                    (
                        Duration::ZERO,
                        SipInput::LegEnding {
                            call: Some(call),
                            agent,
                            attempt,
                        },
                    ),
                    (self.bye_answer, SipInput::Event(Event::Released { call })),
                ]
            }
        }
    }

    /// An anchored customer (the call whose offer names `port`) was bridged to an agent (the
    /// agent call whose offer names `agent_port`): it talks for the script's talk time, then
    /// hangs up.
    pub fn bridged(
        &mut self,
        now: Instant,
        port: u16,
        agent_port: Option<u16>,
    ) -> Vec<(Duration, SipInput)> {
        let found = self.calls.iter().find_map(|(&call, live)| {
            let p = &self.placed[live.placed];
            let offered = p.offer.as_deref().and_then(offer_port);
            (offered == Some(port)).then_some((call, live.placed))
        });
        let Some((call, placed)) = found else {
            return Vec::new();
        };
        let p = self.placed[placed].clone();
        let talk = match self.talk_of.as_mut() {
            Some(talk_of) => talk_of(&p.campaign, p.lead),
            None => self.talk,
        };
        let agent = self
            .agent_calls
            .iter()
            .find(|a| agent_port.is_some() && offer_port(&a.offer) == agent_port)
            .map(|a| a.uri.clone())
            .unwrap_or_default();
        self.joined.push(Joined {
            at: now,
            agent,
            campaign: p.campaign,
            lead: p.lead,
        });
        vec![(talk, ended(call))]
    }

    /// The (campaign, lead) whose INVITE offered RTP port `port`.
    pub fn lead_of_port(&self, port: u16) -> Option<(String, i64)> {
        self.placed
            .iter()
            .rev()
            .find(|p| p.offer.as_deref().and_then(offer_port) == Some(port))
            .map(|p| (p.campaign.clone(), p.lead))
    }

    /// A call's state as an event reaches the engine (the trunk's channel frees as it ends).
    pub fn observe(&mut self, input: &SipInput) {
        let SipInput::Event(ev) = input else {
            return;
        };
        match ev {
            Event::Answered { call, .. } => {
                if let Some(l) = self.calls.get_mut(call) {
                    l.answered = true;
                }
                if let Some(a) = self.agent_live.get_mut(call) {
                    *a = true;
                }
            }
            Event::Failed { call, .. } | Event::Ended { call, .. } => {
                self.calls.remove(call);
                self.agent_live.remove(call);
            }
            _ => {}
        }
    }
}

fn answered(call: SipCall, machine: bool, offer: Option<String>) -> SipInput {
    SipInput::Event(Event::Answered {
        call,
        machine,
        offer,
    })
}

/// A far end's SDP answer (PCMU, telephone-event) with media on `port`.
fn far_sdp(port: u16) -> String {
    format!(
        "v=0\r\no=far 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
         m=audio {port} RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n"
    )
}

/// The RTP port of an SDP's `m=audio` line.
fn offer_port(sdp: &str) -> Option<u16> {
    sdp.lines()
        .find_map(|l| l.trim().strip_prefix("m=audio "))
        .and_then(|m| m.split_whitespace().next())
        .and_then(|p| p.parse().ok())
}

fn ended(call: SipCall) -> SipInput {
    SipInput::Event(Event::Ended {
        call,
        by: EndedBy::Customer,
    })
}
