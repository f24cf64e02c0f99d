//! The engine's side of the media plane (issue 17): which calls are anchored, the RTP port
//! pool and media legs, outdial's SDP offers, bridging an answered customer into an agent's
//! nailed-up connection (or a per-call agent leg), the safe-harbour message with its opt-out
//! key, and what is recorded. Decisions only:
//! everything leaves as [`MediaCommand`]s, SIP and store commands.
//!
//! Must not touch: RTP, sockets, files (the media shell plays, relays and records), SDP beyond
//! `media::sdp::{offer, negotiate_answer}`.
//!
//! Assumptions shared with the sdp branch: an agent call placed with
//! [`SipCommand::CallAgent`] reports `Answered { offer }` with the phone's SDP answer,
//! `Failed` before an answer and `Ended` after one; an early-offer customer call's
//! `Answered { offer }` carries the far end's answer.
//!
//! The agents' nailed-up connections themselves (login to logout, re-connects) are `nailed`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::campaign::CallDisposition;
use crate::media::io::{LegId, LegRole, MediaCommand, MediaEvent, Prompt};
use crate::media::sdp;
use crate::sip::endpoint::{AgentCall, AgentLeg, CallId as SipCall};
use crate::store::CallProgress;

use crate::engine::config::{AgentSpec, ConnectMode, EngineConfig};

use super::{
    CallKey, Camp, CampaignSetupError, Core, Leg, LegOwner, RecordingMode, SipCommand, StoreCommand,
};

/// How long an agent's phone may ring before the call is given up.
pub(crate) const AGENT_RING: Duration = Duration::from_secs(30);
/// How long a call record waits for its customer leg's figures.
const FIGURES_WAIT: Duration = Duration::from_secs(2);

/// Whether a trunk group anchors media: its trunks' `media` (a group shares one mode; an
/// unknown group is not anchored).
pub(crate) fn group_anchored(cfg: &EngineConfig, group: &str) -> bool {
    let Some(g) = cfg.sip.groups.iter().find(|g| g.name == group) else {
        return false;
    };
    let mut modes = cfg
        .sip
        .trunks
        .iter()
        .filter(|t| g.trunks.contains(&t.name))
        .map(|t| t.media);
    modes.next() == Some(crate::media::io::MediaMode::Anchor)
}

/// An agent's connect mode: as configured, else nailed when every campaign it may work is
/// anchored. A nailed agent on a flow-i campaign is a config error naming the agent.
pub(crate) fn resolve_connect(
    agent: &AgentSpec,
    camps: &[Camp],
) -> Result<ConnectMode, CampaignSetupError> {
    let mine: Vec<&Camp> = camps
        .iter()
        .filter(|c| super::agents::can_work(agent, &c.def))
        .collect();
    let all_anchored = !mine.is_empty() && mine.iter().all(|c| c.anchored);
    match agent.connect {
        Some(mode @ (ConnectMode::Nailed | ConnectMode::DialIn)) => {
            match mine.iter().find(|c| !c.anchored) {
                Some(c) => Err(CampaignSetupError::NailedOnFlowI {
                    agent: agent.id.clone(),
                    campaign: c.name.clone(),
                    group: c.def.trunk_group.clone(),
                }),
                None => Ok(mode),
            }
        }
        Some(ConnectMode::PerCall) => Ok(ConnectMode::PerCall),
        None if all_anchored => Ok(ConnectMode::Nailed),
        None => Ok(ConnectMode::PerCall),
    }
}

/// The connect tone: 150 ms of 1 kHz at a moderate level.
pub(crate) fn connect_tone() -> Prompt {
    let n = 8_000 * 150 / 1000;
    let samples: Vec<i16> = (0..n)
        .map(|i| {
            let t = i as f64 / 8_000.0;
            (8_000.0 * (2.0 * std::f64::consts::PI * 1_000.0 * t).sin()) as i16
        })
        .collect();
    Prompt(Arc::from(samples))
}

/// A recording's path: `<dir>/<campaign>/<yyyy-mm-dd>/<attempt>-<digits>.wav`, the UTC date
/// of `wall_ms` (the answer). The number keeps only its digits.
pub(crate) fn recording_path(
    dir: &std::path::Path,
    campaign: &str,
    wall_ms: i64,
    attempt: i64,
    phone: &str,
) -> PathBuf {
    let day = chrono::DateTime::from_timestamp_millis(wall_ms)
        .map(|t| t.format("%Y-%m-%d").to_string())
        .unwrap_or_else(|| "unknown-date".into());
    let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
    dir.join(campaign)
        .join(day)
        .join(format!("{attempt}-{digits}.wav"))
}

impl Core {
    pub(crate) fn new_leg(&mut self, owner: LegOwner) -> LegId {
        let leg = LegId(self.media.next_leg);
        self.media.next_leg += 1;
        self.media.legs.insert(leg, owner);
        leg
    }

    /// outdial's SDP offer for a leg on `port`.
    pub(crate) fn offer_for(&self, leg: LegId, port: u16) -> String {
        sdp::offer(self.cfg.media.address, port, leg.0, 1)
    }

    /// Opens a customer leg for an anchored call: its port and outdial's offer for the INVITE.
    /// `None` when no RTP port is free (the call is not placed).
    pub(crate) fn open_customer_leg(&mut self, key: CallKey) -> Option<String> {
        let port = self.media.ports.allocate(self.now)?;
        let leg = self.new_leg(LegOwner::Customer(key));
        self.emit_media(MediaCommand::Open {
            leg,
            role: LegRole::Customer,
            local_port: port,
        });
        let offer = self.offer_for(leg, port);
        if let Some(rec) = self.calls.get_mut(&key) {
            rec.media = Some(super::CallLegs {
                customer: leg,
                port,
                agent_leg: None,
                agent_again: None,
                bridged: None,
                answered_at: None,
                prompting: false,
                closed: false,
                ending: None,
                record: Default::default(),
                cpa: None,
            });
        }
        Some(offer)
    }

    /// A far end's SDP (18x, 200) for `leg`: the media plane learns where to send.
    pub(crate) fn remote(&mut self, leg: LegId, sdp_text: &str) {
        match sdp::negotiate_answer(sdp_text) {
            Ok(remote) => self.emit_media(MediaCommand::Remote { leg, remote }),
            // Symmetric RTP still latches to the far end's first packet.
            Err(e) => tracing::warn!(?leg, error = %e, "far end's SDP not usable"),
        }
    }

    /// Early media (a 18x with SDP) on an anchored customer call.
    pub(crate) fn on_early_media(&mut self, call: SipCall, sdp_text: &str) {
        let Some(&Leg::Out(key)) = self.by_sip.get(&call) else {
            return;
        };
        if let Some(leg) = self
            .calls
            .get(&key)
            .and_then(|r| r.media.as_ref())
            .map(|m| m.customer)
        {
            self.remote(leg, sdp_text);
            // Carriers announce a phone's state here: listen before any answer.
            self.cpa_early_media(key);
        }
    }

    /// An anchored customer answered: its SDP, and the recording when the campaign records all.
    pub(crate) fn on_customer_answer(&mut self, key: CallKey, sdp_text: Option<&str>) {
        let now = self.now;
        let Some(rec) = self.calls.get_mut(&key) else {
            return;
        };
        let (ci, machine) = (rec.camp, rec.machine);
        let Some(m) = rec.media.as_mut() else {
            return;
        };
        m.answered_at = Some(now);
        let leg = m.customer;
        if let Some(text) = sdp_text {
            self.remote(leg, text);
        }
        if self.camps[ci].media.recording == RecordingMode::All && !machine {
            self.start_recording(key);
        }
    }

    fn start_recording(&mut self, key: CallKey) {
        let wall = self.wall_ms();
        let Some(rec) = self.calls.get_mut(&key) else {
            return;
        };
        let c = &self.camps[rec.camp];
        let (Some(m), Some(attempt)) = (rec.media.as_mut(), rec.attempt) else {
            return;
        };
        if m.record.recording.is_some() {
            return;
        }
        let path = recording_path(
            &c.media.recording_dir,
            &c.name,
            wall,
            attempt,
            &rec.lead.phone_e164,
        );
        m.record.recording = Some(path.display().to_string());
        m.record.recording_from_ms = Some(wall);
        let customer = m.customer;
        self.emit_media(MediaCommand::Record { customer, path });
    }

    /// Connects an answered anchored customer to agent `ai` (its screen pop is set): into the
    /// nailed-up connection at once, or through a per-call agent leg.
    pub(crate) fn connect_anchored(&mut self, key: CallKey, ai: usize, shown: AgentLeg) {
        let nailed = self.agents[ai]
            .conn
            .as_ref()
            .filter(|c| c.up)
            .map(|c| c.leg);
        if let Some(agent_leg) = nailed {
            self.bridge(key, agent_leg);
            self.connect_tone(agent_leg);
            return;
        }
        if self.agents[ai].connect.is_nailed() {
            // The dialer only offers agents whose connection is up; one lost in between.
            tracing::warn!(agent = %self.agents[ai].spec.id, "nailed-up connection gone at connect");
            self.agent_lost_customer(key);
            self.leave_if_connection_lost(ai);
            return;
        }
        let again = (ai, shown.clone());
        let Some(agent_leg) = self.open_agent_leg(LegOwner::AgentOf(key), ai, shown) else {
            tracing::warn!(agent = %self.agents[ai].spec.id, "no RTP port free for the agent leg: the customer is abandoned");
            self.agent_lost_customer(key);
            return;
        };
        if let Some(m) = self.calls.get_mut(&key).and_then(|r| r.media.as_mut()) {
            m.agent_leg = Some(agent_leg);
            m.agent_again = Some(again);
        }
    }

    /// The per-call agent leg `leg` of `key` could not be bound: called again on another
    /// port, else the customer is abandoned (the safe-harbour message).
    fn agent_leg_failed(&mut self, key: CallKey, leg: LegId, reason: &str) {
        if !self.agent_leg_again(key, leg) {
            tracing::error!(?leg, %reason, "agent leg not opened: the customer is abandoned");
            self.close_agent_leg(key);
            self.agent_lost_customer(key);
        }
    }

    /// The per-call agent leg `leg` of `key` could not be bound: its INVITE (already sent with
    /// that port in its offer) is hung up and the agent is called again with a leg on another
    /// port, once. False when that is not possible (not the call's current agent leg, already
    /// tried again, no port free): the caller then takes the abandon path.
    fn agent_leg_again(&mut self, key: CallKey, leg: LegId) -> bool {
        let Some(m) = self.calls.get_mut(&key).and_then(|r| r.media.as_mut()) else {
            return false;
        };
        if m.agent_leg.as_ref().map(|a| a.0) != Some(leg) {
            return false;
        }
        let Some((ai, shown)) = m.agent_again.take() else {
            return false;
        };
        self.close_agent_leg(key);
        let Some(agent_leg) = self.open_agent_leg(LegOwner::AgentOf(key), ai, shown) else {
            return false;
        };
        tracing::warn!(agent = %self.agents[ai].spec.id, port = agent_leg.1, "agent leg opened again on another port");
        if let Some(m) = self.calls.get_mut(&key).and_then(|r| r.media.as_mut()) {
            m.agent_leg = Some(agent_leg);
        }
        true
    }

    /// Tells a nailed-up agent a customer is there (when `media.connect_tone` is on).
    pub(crate) fn connect_tone(&mut self, agent_leg: LegId) {
        if self.cfg.media.connect_tone {
            let prompt = self.media.tone.clone();
            self.emit_media(MediaCommand::Play {
                leg: agent_leg,
                prompt,
            });
        }
    }

    /// A per-call agent leg for `owner` on a free port, agent `ai`'s phone called with it
    /// ([`Self::call_agent_leg`]), as `agent_leg` holds it: (leg, port, no SIP call yet);
    /// `None` when no port is free.
    pub(crate) fn open_agent_leg(
        &mut self,
        owner: LegOwner,
        ai: usize,
        shown: AgentLeg,
    ) -> Option<(LegId, u16, Option<SipCall>)> {
        let port = self.media.ports.allocate(self.now)?;
        Some((self.call_agent_leg(owner, port, ai, shown), port, None))
    }

    /// Opens a per-call agent leg for `owner` on `port` and calls agent `ai`'s phone with
    /// outdial's offer for it (bridged when the phone answers); returns the leg.
    pub(crate) fn call_agent_leg(
        &mut self,
        owner: LegOwner,
        port: u16,
        ai: usize,
        shown: AgentLeg,
    ) -> LegId {
        let leg = self.new_leg(owner);
        self.emit_media(MediaCommand::Open {
            leg,
            role: LegRole::Agent,
            local_port: port,
        });
        let req = AgentCall {
            uri: self.agents[ai].spec.uri.clone(),
            offer: self.offer_for(leg, port),
            shown,
            ring_timeout: AGENT_RING,
        };
        self.emit_sip(SipCommand::CallAgent { leg, req });
        leg
    }

    /// The switch that connects a customer: Bridge, and what today's SIP `Connected` recorded
    /// (answer-to-connect, connect time, the agent in the call's milestones).
    fn bridge(&mut self, key: CallKey, agent_leg: LegId) {
        let now = self.now;
        let wall = self.wall_ms();
        let Some(rec) = self.calls.get_mut(&key) else {
            return;
        };
        let Some(m) = rec.media.as_mut() else {
            return;
        };
        m.bridged = Some(agent_leg);
        let customer = m.customer;
        let waited = m
            .answered_at
            .map(|a| now.saturating_duration_since(a))
            .unwrap_or_default();
        rec.connect_ms = Some(wall);
        let agent = rec.agent.map(|a| self.agents[a].spec.id.clone());
        let (sip, attempt, ci) = (rec.sip, rec.attempt, rec.camp);
        self.emit_media(MediaCommand::Bridge {
            customer,
            agent: agent_leg,
        });
        self.stats.connect_delay(waited);
        let ai = self.calls.get(&key).and_then(|r| r.agent);
        self.board_connected(ci, ai, waited);
        if let (Some(call), Some(attempt)) = (sip, attempt) {
            let mut p = CallProgress::new(attempt);
            p.connect_ms = Some(wall);
            p.agent = agent;
            self.emit_sip(SipCommand::CompleteProgress { call, progress: p });
        }
        if self.camps[ci].media.recording == RecordingMode::Connected {
            self.start_recording(key);
        }
    }

    /// A customer whose agent is gone (the agent leg failed, the nailed-up connection was
    /// lost, no port): the abandon path, and the agent's wrap-up if it had the call.
    pub(crate) fn agent_lost_customer(&mut self, key: CallKey) {
        if let Some(rec) = self.calls.get_mut(&key) {
            rec.abandoned = true;
        }
        self.unbridge(key);
        self.end_connected(key);
        self.abandon_customer(key);
    }

    fn unbridge(&mut self, key: CallKey) {
        let Some(m) = self.calls.get_mut(&key).and_then(|r| r.media.as_mut()) else {
            return;
        };
        if m.bridged.take().is_some() {
            let leg = m.customer;
            self.emit_media(MediaCommand::Unbridge { leg });
        }
    }

    /// An answered customer no agent takes: outdial's own message with its opt-out when the
    /// campaign has one (a media command: it starts at once), else the announcement URI or a
    /// hang-up by the SIP layer.
    pub(crate) fn abandon_customer(&mut self, key: CallKey) {
        let Some(rec) = self.calls.get_mut(&key) else {
            return;
        };
        let Some(call) = rec.sip else {
            return;
        };
        let c = &self.camps[rec.camp];
        if let (Some(m), Some(prompt)) = (rec.media.as_mut(), c.media.abandon_prompt.clone()) {
            if !m.prompting {
                m.prompting = true;
                let leg = m.customer;
                self.emit_media(MediaCommand::Play { leg, prompt });
            }
            return;
        }
        let announcement = c.announcement.clone();
        self.emit_sip(SipCommand::Abandon { call, announcement });
    }

    /// The reply to [`SipCommand::CallAgent`].
    pub(crate) fn on_agent_placed(&mut self, leg: LegId, result: Result<SipCall, String>) {
        let owner = self.media.legs.get(&leg).copied();
        match (owner, result) {
            (Some(LegOwner::Nailed(ai)), Ok(sip)) => {
                match self.agents[ai].conn.as_mut().filter(|c| c.leg == leg) {
                    Some(c) => {
                        c.sip = Some(sip);
                        self.by_sip.insert(sip, Leg::Agent(ai));
                    }
                    None => self.emit_sip(SipCommand::Hangup { call: sip }),
                }
            }
            (Some(LegOwner::Nailed(ai)), Err(reason)) => self.connection_failed(ai, &reason),
            (Some(LegOwner::AgentOf(key)), Ok(sip)) => {
                match self
                    .calls
                    .get_mut(&key)
                    .and_then(|r| r.media.as_mut())
                    .and_then(|m| m.agent_leg.as_mut())
                {
                    Some(a) if a.0 == leg => {
                        a.2 = Some(sip);
                        self.by_sip.insert(sip, Leg::AgentOf(key));
                    }
                    _ => self.emit_sip(SipCommand::Hangup { call: sip }),
                }
            }
            (Some(LegOwner::AgentOf(key)), Err(reason)) => {
                tracing::warn!(%reason, "agent leg not placed; the customer is abandoned");
                self.close_agent_leg(key);
                self.agent_lost_customer(key);
            }
            (Some(LegOwner::AgentOfIn(caller)), result) => {
                self.on_inbound_agent_placed(caller, leg, result)
            }
            (_, Ok(sip)) => self.emit_sip(SipCommand::Hangup { call: sip }),
            (_, Err(_)) => {}
        }
    }

    /// Closes a per-call agent leg (hanging its SIP call up when it is still ours).
    fn close_agent_leg(&mut self, key: CallKey) {
        let Some((leg, port, sip)) = self
            .calls
            .get_mut(&key)
            .and_then(|r| r.media.as_mut())
            .and_then(|m| m.agent_leg.take())
        else {
            return;
        };
        if let Some(call) = sip {
            if self.by_sip.remove(&call).is_some() {
                self.emit_sip(SipCommand::Hangup { call });
            }
        }
        self.close_leg(leg, port);
    }

    pub(crate) fn close_leg(&mut self, leg: LegId, port: u16) {
        self.media.legs.remove(&leg);
        self.media.ports.release(port);
        self.emit_media(MediaCommand::Close { leg });
    }

    /// An event on an agent's SIP call (nailed-up connection or per-call agent leg). Returns
    /// false when `call` is not an agent call.
    pub(crate) fn on_agent_sip(&mut self, ev: &crate::sip::endpoint::Event) -> bool {
        use crate::sip::endpoint::Event;
        let call = match ev {
            Event::Ringing { call }
            | Event::Answered { call, .. }
            | Event::Failed { call, .. }
            | Event::Ended { call, .. }
            | Event::EarlyMedia { call, .. } => *call,
            _ => return false,
        };
        match self.by_sip.get(&call).copied() {
            Some(Leg::Agent(ai)) => {
                match ev {
                    Event::Answered { offer, .. } => self.connection_up(ai, offer.as_deref()),
                    Event::Failed { code, .. } => {
                        self.by_sip.remove(&call);
                        self.connection_failed(ai, &format!("the phone refused ({code:?})"));
                    }
                    Event::Ended { .. } => {
                        self.by_sip.remove(&call);
                        self.connection_lost(ai, "the agent's phone hung up");
                    }
                    _ => {}
                }
                true
            }
            Some(Leg::AgentOf(key)) => {
                match ev {
                    Event::Answered { offer, .. } => {
                        let leg = self
                            .calls
                            .get(&key)
                            .and_then(|r| r.media.as_ref())
                            .and_then(|m| m.agent_leg.as_ref())
                            .map(|a| a.0);
                        if let Some(leg) = leg {
                            if let Some(text) = offer {
                                self.remote(leg, text);
                            }
                            self.bridge(key, leg);
                        }
                    }
                    Event::Failed { code, .. } => {
                        tracing::warn!(?code, "agent leg failed; the customer is abandoned");
                        self.by_sip.remove(&call);
                        self.close_agent_leg(key);
                        self.agent_lost_customer(key);
                    }
                    Event::Ended { .. } => {
                        // The agent hung up: the call is over for the customer too.
                        self.by_sip.remove(&call);
                        self.unbridge(key);
                        self.close_agent_leg(key);
                        if let Some(customer) = self.calls.get(&key).and_then(|r| r.sip) {
                            self.emit_sip(SipCommand::Hangup { call: customer });
                        }
                    }
                    _ => {}
                }
                true
            }
            Some(Leg::AgentOfIn(caller)) => {
                self.on_inbound_agent_sip(caller, call, ev);
                true
            }
            _ => false,
        }
    }

    // ----- media events -----

    pub(crate) fn on_media_event(&mut self, ev: MediaEvent) {
        match ev {
            MediaEvent::Closed { leg, stats } => {
                if let Some(key) = self.media.closing.remove(&leg) {
                    if let Some(r) = self.calls.get(&key) {
                        crate::admin::metrics::call_media(&self.camps[r.camp].name, &stats);
                    }
                    let disp = self.calls.get_mut(&key).and_then(|r| {
                        let m = r.media.as_mut()?;
                        m.record.customer = Some(stats.into());
                        m.ending.take().map(|(d, _)| d)
                    });
                    if let Some(d) = disp {
                        self.finish(key, d);
                    }
                }
            }
            // The answer-to-connect figure is taken at the bridge decision; the relay's own
            // switch time (bridge to first forwarded packet) is measured by its benchmark.
            MediaEvent::FirstPacket { leg } => self.trace_first_audio(leg),
            MediaEvent::Connected { .. } => {}
            MediaEvent::Dtmf { leg, digit } => self.on_dtmf(leg, digit),
            MediaEvent::Cpa { leg, event } => self.on_cpa_event(leg, event),
            MediaEvent::AnalysisDone { leg } => self.on_analysis_done(leg),
            MediaEvent::PromptDone { leg } => {
                if let Some(&LegOwner::Inbound(sip)) = self.media.legs.get(&leg) {
                    self.inbound_prompt_done(sip);
                } else if let Some(&LegOwner::Customer(key)) = self.media.legs.get(&leg) {
                    if self.cpa_prompt_done(key) {
                        return;
                    }
                    let rec = self.calls.get(&key);
                    if rec
                        .and_then(|r| r.media.as_ref())
                        .is_some_and(|m| m.prompting)
                    {
                        if let Some(call) = rec.and_then(|r| r.sip) {
                            // The message is over: the call ends after it.
                            self.emit_sip(SipCommand::Hangup { call });
                        }
                    }
                }
            }
            MediaEvent::Timeout { leg } => match self.media.legs.get(&leg).copied() {
                Some(LegOwner::Nailed(ai)) => {
                    if let Some(call) = self.agents[ai].conn.as_ref().and_then(|c| c.sip) {
                        self.emit_sip(SipCommand::Hangup { call });
                    }
                    self.connection_lost(ai, "no RTP from the agent's phone");
                }
                Some(LegOwner::Customer(key)) => {
                    tracing::info!(?leg, "no RTP from the customer: hanging up");
                    if let Some(call) = self.calls.get(&key).and_then(|r| r.sip) {
                        self.emit_sip(SipCommand::Hangup { call });
                    }
                }
                Some(LegOwner::AgentOf(key)) => {
                    tracing::info!(?leg, "no RTP from the agent leg: hanging up");
                    if let Some(call) = self.calls.get(&key).and_then(|r| r.sip) {
                        self.emit_sip(SipCommand::Hangup { call });
                    }
                }
                Some(LegOwner::Inbound(call)) | Some(LegOwner::AgentOfIn(call)) => {
                    tracing::info!(?leg, "no RTP on an inbound caller's leg: hanging up");
                    self.emit_sip(SipCommand::Hangup { call });
                }
                None => {}
            },
            MediaEvent::OpenFailed { leg, port, reason } => {
                self.on_open_failed(leg, port, reason);
            }
            MediaEvent::RecordingGap {
                customer,
                missing_ms,
            } => {
                tracing::warn!(
                    ?customer,
                    missing_ms,
                    "recording has a gap (the recorder fell behind); the call goes on"
                );
                if let Some(&LegOwner::Customer(key)) = self.media.legs.get(&customer) {
                    if let Some(rec) = self.calls.get(&key) {
                        crate::admin::metrics::recording_gap(&self.camps[rec.camp].name);
                    }
                }
            }
            MediaEvent::RecordingFailed { customer, reason } => {
                tracing::error!(?customer, %reason, "recording failed; the call goes on");
                if let Some(&LegOwner::Customer(key)) = self.media.legs.get(&customer) {
                    if let Some(rec) = self.calls.get_mut(&key) {
                        crate::admin::metrics::recording_failed(&self.camps[rec.camp].name);
                        if let Some(m) = rec.media.as_mut() {
                            m.record.recording_failed = Some(reason);
                        }
                    }
                }
            }
        }
    }

    /// The analysis delay's budget (debug): how long after its analysis started (the answer, or
    /// the 183) a customer's first audio came. That part of the delay is the far end's (its
    /// stream's start), not outdial's; `cpa_e2e_corpus` reads this line to compare the live delay
    /// with the offline decision time like with like.
    fn trace_first_audio(&self, leg: LegId) {
        let Some(&LegOwner::Customer(key)) = self.media.legs.get(&leg) else {
            return;
        };
        let Some(rec) = self.calls.get(&key) else {
            return;
        };
        let Some(cpa) = rec.media.as_ref().and_then(|m| m.cpa.as_ref()) else {
            return;
        };
        let after_ms = self.now.saturating_duration_since(cpa.since).as_millis() as u64;
        tracing::debug!(
            lead = rec.lead.lead_id,
            phase = ?cpa.phase,
            after_ms,
            "cpa timing: first audio after the analysis started"
        );
    }

    /// A leg's port could not be bound (another program holds it): the port is quarantined so
    /// the next calls do not fail on it. The port comes with the event, not from the leg: the
    /// leg may have closed (and given its port back) before the media plane's report arrived,
    /// and the port is still bad.
    ///
    /// A per-call agent leg is opened again on another port, once (the customer is waiting);
    /// else the customer takes the abandon path (the safe-harbour message), as when no agent
    /// takes it. Any other leg's call ends: a customer call still ringing is our internal
    /// failure, `trunk_failure` (retried in minutes by default), not a customer's no-answer;
    /// the attempt still counts (the INVITE had left: the phone may have rung).
    fn on_open_failed(&mut self, leg: LegId, port: u16, reason: String) {
        tracing::warn!(port, %reason, "RTP port could not be bound: quarantined");
        self.media.ports.fail(port, self.now);
        match self.media.legs.get(&leg).copied() {
            Some(LegOwner::Nailed(ai)) => {
                if let Some(call) = self.agents[ai].conn.as_ref().and_then(|c| c.sip) {
                    self.emit_sip(SipCommand::Hangup { call });
                }
                self.connection_failed(ai, &reason);
            }
            Some(LegOwner::AgentOf(key)) => self.agent_leg_failed(key, leg, &reason),
            Some(LegOwner::Customer(key)) => {
                tracing::error!(?leg, %reason, "media leg not opened: hanging up");
                // The leg is the call's customer leg (its owner says so).
                if let Some(rec) = self.calls.get_mut(&key).filter(|r| r.agent.is_none()) {
                    rec.media_failed = true;
                }
                if let Some(call) = self.calls.get(&key).and_then(|r| r.sip) {
                    self.emit_sip(SipCommand::Hangup { call });
                }
            }
            Some(LegOwner::Inbound(call)) | Some(LegOwner::AgentOfIn(call)) => {
                self.inbound_leg_failed(call, leg, &reason)
            }
            None => {}
        }
    }

    /// The opt-out key during the safe-harbour message: the number goes on the do-not-call
    /// list at once and the call record says so. Once per call.
    fn on_dtmf(&mut self, leg: LegId, digit: char) {
        let Some(&LegOwner::Customer(key)) = self.media.legs.get(&leg) else {
            return;
        };
        let wall_ms = self.wall_ms();
        let Some(rec) = self.calls.get_mut(&key) else {
            return;
        };
        let key_char = self.camps[rec.camp].media.opt_out_key;
        let Some(m) = rec.media.as_mut() else {
            return;
        };
        if !m.prompting || digit != key_char || m.record.opted_out {
            return;
        }
        m.record.opted_out = true;
        crate::admin::metrics::opt_out(&self.camps[rec.camp].name);
        tracing::info!(
            lead = rec.lead.lead_id,
            "opt-out key pressed: number put on the do-not-call list"
        );
        if let Some(attempt) = rec.attempt {
            let phone = rec.lead.phone_e164.clone();
            self.emit_store(StoreCommand::OptOut {
                attempt,
                phone,
                wall_ms,
            });
        }
    }

    // ----- call end -----

    /// The call is over: its legs close (the nailed-up agent leg stays). Returns true when the
    /// call record must wait for the customer leg's figures ([`MediaEvent::Closed`]).
    pub(crate) fn close_call_media(&mut self, key: CallKey, disp: CallDisposition) -> bool {
        self.unbridge(key);
        self.close_agent_leg(key);
        let now = self.now;
        let Some(m) = self.calls.get_mut(&key).and_then(|r| r.media.as_mut()) else {
            return false;
        };
        if m.closed {
            return false;
        }
        m.closed = true;
        let (leg, port) = (m.customer, m.port);
        let wait = m.answered_at.is_some();
        if wait {
            m.ending = Some((disp, now));
            self.media.closing.insert(leg, key);
        }
        self.close_leg(leg, port);
        wait
    }

    /// Every housekeeping tick: connection retries that are due; call records that waited long
    /// enough for their figures.
    pub(crate) fn media_housekeeping(&mut self) {
        let now = self.now;
        crate::admin::metrics::set_rtp_ports_free(self.media.ports.free(self.now));
        for ai in 0..self.agents.len() {
            let due = self.agents[ai].retry.is_some_and(|(t, _)| t <= now);
            if due && self.agents[ai].logged_in && self.agents[ai].conn.is_none() {
                self.connect_agent(ai);
            } else if due && !self.agents[ai].logged_in {
                self.agents[ai].retry = None;
            }
        }
        self.cpa_housekeeping();
        // Only the calls waiting for figures are looked at, not every call in flight.
        let mut late: Vec<(CallKey, CallDisposition)> = self
            .media
            .closing
            .values()
            .filter_map(|k| {
                let (d, at) = self.calls.get(k)?.media.as_ref()?.ending?;
                (now.saturating_duration_since(at) >= FIGURES_WAIT).then_some((*k, d))
            })
            .collect();
        // In call order, so a run repeats exactly.
        late.sort_unstable_by_key(|(k, _)| *k);
        for (key, d) in late {
            tracing::debug!(
                ?key,
                "call record written without media figures (none reported)"
            );
            if let Some(m) = self.calls.get_mut(&key).and_then(|r| r.media.as_mut()) {
                self.media.closing.remove(&m.customer);
                m.ending = None;
            }
            self.finish(key, d);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recording_is_filed_by_campaign_utc_day_attempt_and_number_digits() {
        let p = recording_path(
            std::path::Path::new("/var/rec"),
            "credit-verification",
            1_780_000_000_000,
            42,
            "+8613800138000",
        );
        assert_eq!(
            p,
            PathBuf::from("/var/rec/credit-verification/2026-05-28/42-8613800138000.wav")
        );
        // Just before midnight UTC the day is still that day.
        let p = recording_path(std::path::Path::new("r"), "c", 1_780_012_799_999, 1, "+1");
        assert_eq!(p, PathBuf::from("r/c/2026-05-28/1-1.wav"));
    }

    #[test]
    fn the_connect_tone_is_short_and_audible() {
        let t = connect_tone();
        assert_eq!(t.0.len(), 1_200, "150 ms at 8 kHz");
        let peak = t.0.iter().map(|s| s.unsigned_abs()).max().unwrap_or(0);
        assert!((4_000..=16_000).contains(&peak), "peak {peak}");
    }
}
