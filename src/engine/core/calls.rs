//! Calls, from lease to call record: keeping leads leased ahead of the dialer, committing the
//! attempt before the INVITE leaves, executing the dialer's actions over SIP, feeding SIP events
//! back to the dialer, writing what each call reaches as it happens (batched: ringing, answered
//! live or machine, connected to an agent, the dialogs of the legs that are up) and the
//! call-detail record that schedules the retry. The compliance rules live in the store's lease
//! and `begin_attempt`; nothing here decides them.

use std::net::SocketAddr;
use std::time::Duration;

use crate::admin::{self, ScreenPop};
use crate::campaign::phone::dial_chars;
use crate::campaign::CallDisposition;
use crate::pacing::call::{AnswerKind, CallEnd};
use crate::pacing::dialer::Action;
use crate::pacing::CallId as DialCall;
use crate::sip::endpoint::{AgentLeg, Event, PlaceCall};
use crate::sip::values::{CallInfo, CallerId, DisplayName, ExtraHeader, E164};
use crate::sip::SipOutcome;
use crate::store::{AttemptOutcome, CallProgress, InboundRecord, LeasedLead, StoreError};

use crate::engine::writes::Write;

use super::{
    noted, CallKey, CallRec, CampaignId, Core, InboundRec, Leg, PlaceFailure, SipCommand,
    StoreCommand,
};

/// Leads never sit in the buffer longer than this before their lease ends (they are released
/// and leased again, so a long-buffered lead is re-checked against every rule).
const LEASE_MARGIN: Duration = Duration::from_secs(20);

impl Core {
    // ----- leases -----

    /// Keeps each campaign's buffer of leased leads about `lease.ahead` of dialling deep.
    pub(crate) fn refill_leases(&mut self) {
        let now = self.now;
        let ttl = self.cfg.lease.ttl.0;
        let ahead = self.cfg.lease.ahead.0.as_secs_f64();
        let blocked = self.dial_blocked();
        for ci in 0..self.camps.len() {
            // Leases about to expire go back to the pool rather than being dialled late.
            let stale: Vec<i64> = {
                let c = &mut self.camps[ci];
                let mut out = Vec::new();
                while let Some((at, _)) = c.buffer.front() {
                    if now.duration_since(*at) + LEASE_MARGIN < ttl {
                        break;
                    }
                    if let Some((_, l)) = c.buffer.pop_front() {
                        out.push(l.lead_id);
                    }
                }
                out
            };
            self.release_leases("release stale leases", stale);
            let c = &mut self.camps[ci];
            while c
                .recent_dials
                .front()
                .is_some_and(|t| now.duration_since(*t) > Duration::from_secs(10))
            {
                c.recent_dials.pop_front();
            }
            if c.paused
                || self.stopping.is_some()
                || blocked
                || c.leasing
                || now < c.lease_idle_until
            {
                continue;
            }
            // A campaign without agents still keeps a few leads leased: that is how the agents'
            // campaigns learn it has work (see `agents`), so its agents can come to it.
            let agents = c.dialer.active_agents() as usize;
            let rate = c.recent_dials.len() as f64 / 10.0;
            let want = ((rate * ahead).ceil() as usize)
                .max(2 * agents)
                .clamp(4, 2_000);
            if c.buffer.len() * 2 >= want {
                continue;
            }
            let n = want - c.buffer.len();
            c.leasing = true;
            let campaign = c.name.clone();
            let wall_ms = self.wall_ms();
            self.emit_store(StoreCommand::Lease {
                camp: CampaignId(ci),
                campaign,
                n,
                wall_ms,
                node: self.cfg.node.clone(),
                ttl_ms: ttl.as_millis() as i64,
            });
        }
    }

    pub(crate) fn on_leased(&mut self, ci: usize, result: Result<Vec<LeasedLead>, StoreError>) {
        let now = self.now;
        let Some(c) = self.camps.get_mut(ci) else {
            return;
        };
        c.leasing = false;
        match result {
            Ok(leads) if leads.is_empty() => {
                c.lease_idle_until = now + Duration::from_secs(1);
            }
            Ok(leads) if self.stopping.is_some() => {
                // Asked for before the stop began: back to the pool, as the buffer was.
                self.release_leases("release leases", leads.iter().map(|l| l.lead_id).collect());
            }
            Ok(leads) => {
                c.last_work = Some(now);
                c.buffer.extend(leads.into_iter().map(|l| (now, l)));
            }
            Err(e) => {
                tracing::error!(campaign = %c.name, error = %e, "lease failed");
                c.lease_idle_until = now + Duration::from_secs(2);
                if e.is_transient() {
                    self.on_store_down();
                }
            }
        }
    }

    // ----- dialer actions -----

    pub(crate) fn drain(&mut self, ci: usize) {
        loop {
            let Some(action) = self.camps[ci].dialer.poll_action() else {
                self.sync_channels(ci);
                return;
            };
            match action {
                Action::Dial { call, .. } => self.dial(ci, call),
                Action::Preview { call, .. } => {
                    // Previews are accepted at once: the agent API has no preview step yet.
                    let now = self.pnow();
                    if let Err(e) = self.camps[ci].dialer.handle_preview_done(now, call) {
                        tracing::warn!(error = %e, "preview");
                    }
                }
                Action::Connect { call, agent, .. } => self.connect(ci, call, agent),
                Action::ConnectInbound { inbound, agent, .. } => {
                    self.connect_inbound(ci, inbound, agent)
                }
                Action::Abandon { call } => self.abandon(ci, call),
                Action::Cancel { call } => {
                    let listening = self.camps[ci]
                        .calls
                        .get(&call.0)
                        .is_some_and(|k| self.cpa_listening(*k));
                    if listening {
                        // Answered and being analysed: the ring timeout ran out meanwhile. The
                        // call stays up for its verdict (a person then goes to the abandon
                        // path: the dialer no longer offers it an agent).
                        if let Some(rec) = self.rec_of(ci, call) {
                            rec.in_dialer = false;
                        }
                        continue;
                    }
                    let sip = self.rec_of(ci, call).and_then(|rec| {
                        rec.in_dialer = false;
                        rec.cancelled = true;
                        rec.sip
                    });
                    if let Some(call) = sip {
                        self.emit_sip(SipCommand::Hangup { call });
                    }
                }
            }
        }
    }

    fn rec_of(&mut self, ci: usize, call: DialCall) -> Option<&mut CallRec> {
        let key = *self.camps[ci].calls.get(&call.0)?;
        self.calls.get_mut(&key)
    }

    /// A dial: take the next leased lead and commit its attempt; the INVITE leaves when the
    /// commit is back ([`Engine::on_begun`]).
    fn dial(&mut self, ci: usize, call: DialCall) {
        let now = self.pnow();
        let c = &mut self.camps[ci];
        // A call launched for one agent dials that agent's lead (`callbacks`).
        let next = match c.directed.remove(&call.0) {
            Some(lead) => Some(lead),
            None => c.buffer.pop_front().map(|(_, l)| l),
        };
        let Some(lead) = next else {
            // The dialer is told how many leads are at hand, so this is a race with a stale
            // lease; the call never existed.
            noted(
                "a dial with no lead at hand ended",
                c.dialer.handle_call_ended(now, call, CallEnd::TrunkFailure),
            );
            return;
        };
        c.recent_dials.push_back(self.now);
        c.line_budget = c.line_budget.saturating_sub(1);
        admin::metrics::dial(&c.name);
        let key = CallKey(self.next_key);
        self.next_key += 1;
        c.calls.insert(call.0, key);
        let wall = self.clock.wall_ms(self.now);
        let lead_id = lead.lead_id;
        self.calls.insert(
            key,
            CallRec {
                camp: ci,
                dcall: call,
                lead,
                attempt: None,
                sip: None,
                in_dialer: true,
                agent: None,
                trunk: None,
                code: None,
                machine: false,
                abandoned: false,
                cancelled: false,
                media_failed: false,
                cut_by_shutdown: false,
                dial_ms: wall,
                ring_ms: None,
                answer_ms: None,
                connect_ms: None,
                media: None,
            },
        );
        self.emit_store(StoreCommand::BeginAttempt {
            key,
            lead: lead_id,
            node: self.cfg.node.clone(),
            wall_ms: wall,
        });
    }

    /// The attempt is committed: place the call.
    pub(crate) fn on_begun(&mut self, key: CallKey, result: Result<i64, StoreError>) {
        let now = self.pnow();
        let Some(rec) = self.calls.get_mut(&key) else {
            return;
        };
        let ci = rec.camp;
        let attempt = match result {
            Ok(a) => a,
            Err(e) => {
                // Not dialled: the store refused (DNC added, window closed, lease lost), or
                // could not be reached — then the attempt may or may not have committed: once
                // the store is back it is closed `unknown` if it did, the lead released if not.
                tracing::info!(lead = rec.lead.lead_id, error = %e, "lead not dialled");
                let (dcall, in_dialer, lead) = (rec.dcall, rec.in_dialer, rec.lead.lead_id);
                let dial_ms = rec.dial_ms;
                self.calls.remove(&key);
                let c = &mut self.camps[ci];
                c.calls.remove(&dcall.0);
                if in_dialer {
                    noted(
                        "an attempt the store refused ended",
                        c.dialer.handle_call_ended(now, dcall, CallEnd::Invalid),
                    );
                }
                if e.is_transient() {
                    let node = self.cfg.node.clone();
                    self.queue_write(Write::Undialled {
                        lead,
                        node,
                        dial_ms,
                    });
                    self.on_store_down();
                }
                return;
            }
        };
        rec.attempt = Some(attempt);
        rec.dial_ms = self.clock.wall_ms(self.now);
        self.camps[ci].placed += 1;
        if !rec.in_dialer {
            // Cancelled before the INVITE left (ring timeout shorter than a slow commit).
            self.finish(key, CallDisposition::NoAnswer);
            return;
        }
        let c = &self.camps[ci];
        let mut req =
            match place_request(c, &rec.lead, self.clock.real(c.def.dialing.ring_timeout.0)) {
                Ok(r) => r,
                Err(e) => {
                    tracing::error!(lead = rec.lead.lead_id, error = %e, "cannot build the INVITE");
                    self.dialer_end(key, CallEnd::Invalid);
                    self.finish(key, CallDisposition::Invalid);
                    return;
                }
            };
        if c.anchored {
            // Early offer: outdial's SDP for a customer leg on a port of the pool.
            match self.open_customer_leg(key) {
                Some(offer) => req.offer = Some(offer),
                None => {
                    tracing::warn!(campaign = %self.camps[ci].name, "no RTP port free: call not placed");
                    self.dialer_end(key, CallEnd::TrunkFailure);
                    self.finish(key, CallDisposition::TrunkFailure);
                    return;
                }
            }
        }
        self.emit_sip(SipCommand::Place { key, req });
    }

    /// The INVITE left (or could not): the call is the SIP layer's now.
    pub(crate) fn on_placed(
        &mut self,
        key: CallKey,
        result: Result<(crate::sip::endpoint::CallId, Option<String>), PlaceFailure>,
    ) {
        match result {
            Ok((sip, trunk)) => {
                let mut media_failed = false;
                if let Some(rec) = self.calls.get_mut(&key) {
                    rec.sip = Some(sip);
                    rec.trunk = trunk;
                    media_failed = rec.media_failed;
                }
                self.by_sip.insert(sip, Leg::Out(key));
                if media_failed {
                    // Its port failed before the INVITE was ours to cancel.
                    self.emit_sip(SipCommand::Hangup { call: sip });
                }
            }
            Err(e) => {
                match e {
                    PlaceFailure::Refused(_) => tracing::warn!(error = %e, "call not placed"),
                    PlaceFailure::DriverGone => tracing::error!(error = %e, "call not placed"),
                }
                self.dialer_end(key, CallEnd::TrunkFailure);
                self.finish(key, CallDisposition::TrunkFailure);
            }
        }
    }

    fn connect(&mut self, ci: usize, call: DialCall, agent: crate::agents::AgentId) {
        let Some(&ai) = self.camps[ci].agents.get(&agent) else {
            tracing::error!(?agent, "dialer chose an agent the engine does not know");
            return;
        };
        let Some(&key) = self.camps[ci].calls.get(&call.0) else {
            return;
        };
        let uri = self.agents[ai].spec.uri.clone();
        let now_ms = self.clock.wall_ms(self.now);
        let show_name = self
            .cfg
            .campaigns
            .iter()
            .any(|e| e.name == self.camps[ci].name && e.agent_display_name);
        let pop_at = screen_pop_addr(self.cfg.admin.listen, self.cfg.sip.listen);
        let Some(rec) = self.calls.get_mut(&key) else {
            return;
        };
        rec.agent = Some(ai);
        if let Some(attempt) = rec.attempt {
            // Written before the agent answers: after a crash, the agent is held until this leg,
            // even one still being set up, is over.
            let mut p = CallProgress::new(attempt);
            p.agent = Some(self.agents[ai].spec.id.clone());
            self.progress.push(p);
        }
        let shown = agent_leg(
            &self.camps[ci].name,
            &rec.lead,
            show_name,
            CallInfo::screen_pop(pop_at, &self.agents[ai].spec.id),
        );
        let pop = ScreenPop {
            campaign: self.camps[ci].name.clone(),
            lead: rec.lead.lead_id,
            name: rec.lead.name.clone(),
            external_id: rec.lead.external_id.clone(),
            phone: rec.lead.phone_e164.clone(),
            attributes: serde_json::from_str(&rec.lead.attributes)
                .unwrap_or(serde_json::Value::Null),
            connected_at_ms: now_ms,
            tier: Some(rec.lead.tier.clone()).filter(|t| !t.is_empty()),
            attempt: rec.attempt,
            // Read from the store by the admin handle (`engine::control`): the core reads none.
            history: Vec::new(),
        };
        let anchored = rec.media.is_some();
        let analysed = rec.media.as_ref().is_some_and(|m| m.cpa.is_some());
        let a = &mut self.agents[ai];
        a.call = Some(Leg::Out(key));
        a.last_attempt = rec.attempt;
        a.last_analysed = analysed.then_some(ci);
        a.pop = Some(pop);
        if anchored {
            // A switch in the relay (nailed-up) or an agent leg with outdial's offer.
            self.connect_anchored(key, ai, shown);
        } else if let Some(call) = rec.sip {
            self.emit_sip(SipCommand::Connect {
                call,
                agent: uri,
                shown,
            });
        }
    }

    fn connect_inbound(
        &mut self,
        ci: usize,
        inbound: crate::pacing::dialer::InboundId,
        agent: crate::agents::AgentId,
    ) {
        let Some(&ai) = self.camps[ci].agents.get(&agent) else {
            return;
        };
        let Some((&sip, rec)) = self
            .inbound
            .iter_mut()
            .find(|(_, r)| r.camp == ci && r.id == inbound)
        else {
            return;
        };
        rec.agent = Some(ai);
        let anchored = rec.anchored;
        let uri = self.agents[ai].spec.uri.clone();
        self.agents[ai].call = Some(Leg::In(sip));
        self.agents[ai].pop = None;
        // The caller's number is the From default; no lead and no screen pop for inbound calls.
        let shown = AgentLeg {
            headers: ExtraHeader::campaign(&self.camps[ci].name)
                .into_iter()
                .collect(),
            ..AgentLeg::default()
        };
        if anchored {
            // outdial answers the caller and switches it into the agent's nailed-up
            // connection (a SIP join would INVITE a phone already in its nailed call), or
            // calls a per-call agent with its own offer.
            return self.take_inbound_anchored(sip, ai, shown);
        }
        self.emit_sip(SipCommand::Connect {
            call: sip,
            agent: uri,
            shown,
        });
    }

    fn abandon(&mut self, ci: usize, call: DialCall) {
        admin::metrics::abandon(&self.camps[ci].name);
        let Some(&key) = self.camps[ci].calls.get(&call.0) else {
            return;
        };
        if let Some(rec) = self.calls.get_mut(&key) {
            rec.in_dialer = false;
            rec.abandoned = true;
        }
        // outdial's own message when the campaign has one, else the announcement or BYE.
        self.abandon_customer(key);
    }

    // ----- SIP events -----

    pub(crate) fn on_sip_event(&mut self, ev: Event) {
        let now = self.pnow();
        let wall = self.clock.wall_ms(self.now);
        if self.on_agent_sip(&ev) {
            return;
        }
        match ev {
            Event::EarlyMedia { call, sdp } => self.on_early_media(call, &sdp),
            Event::Ringing { call } => {
                if let Some(&Leg::Out(key)) = self.by_sip.get(&call) {
                    if self.calls.get(&key).is_some_and(|r| r.ring_ms.is_none()) {
                        // The trunk it rings on (after any failover), for the trunk metrics.
                        self.query_trunk(key, call);
                    }
                    if let Some(rec) = self.calls.get_mut(&key) {
                        if rec.ring_ms.is_none() {
                            rec.ring_ms = Some(wall);
                            if let Some(attempt) = rec.attempt {
                                let mut p = CallProgress::new(attempt);
                                p.ring_ms = Some(wall);
                                self.progress.push(p);
                            }
                        }
                        if rec.in_dialer {
                            noted(
                                "ringing",
                                self.camps[rec.camp]
                                    .dialer
                                    .handle_call_ringing(now, rec.dcall),
                            );
                        }
                    }
                }
            }
            Event::Answered {
                call,
                machine,
                offer,
            } => self.on_answered(call, machine, offer.as_deref()),
            Event::Failed {
                call,
                code,
                disposition,
            } => {
                let key = match self.by_sip.remove(&call) {
                    Some(Leg::Out(key)) => key,
                    // An inbound caller that gave up before an agent took it.
                    Some(Leg::In(sip)) => {
                        self.end_inbound(sip);
                        return self.close_inbound_media(sip);
                    }
                    Some(Leg::Agent(_) | Leg::AgentOf(_) | Leg::AgentOfIn(_)) | None => return,
                };
                let (end, disp) = map_failure(disposition);
                let (cancelled, media_failed) = match self.calls.get_mut(&key) {
                    Some(rec) => {
                        rec.code = code;
                        (rec.cancelled, rec.media_failed)
                    }
                    None => return,
                };
                // Our own media failure: not the customer's outcome, for the dialer either.
                let end = if media_failed {
                    CallEnd::TrunkFailure
                } else {
                    end
                };
                self.dialer_end(key, end);
                // Cancelled on an early-media verdict: that verdict's disposition.
                let disp = match self.cpa_disposition(key) {
                    Some(d) => d,
                    None if media_failed => CallDisposition::TrunkFailure,
                    None if cancelled => CallDisposition::NoAnswer,
                    None => disp,
                };
                self.finish(key, disp);
            }
            Event::Connected {
                call,
                answer_to_connect,
                ..
            } => {
                self.stats.connect_delay(answer_to_connect);
                match self.by_sip.get(&call) {
                    Some(&Leg::Out(key)) => {
                        if let Some(rec) = self.calls.get_mut(&key) {
                            rec.connect_ms = Some(wall);
                            let (ci, ai) = (rec.camp, rec.agent);
                            let agent = ai.map(|a| self.agents[a].spec.id.clone());
                            let attempt = rec.attempt;
                            self.board_connected(ci, ai, answer_to_connect);
                            if let Some(attempt) = attempt {
                                let mut p = CallProgress::new(attempt);
                                p.connect_ms = Some(wall);
                                p.agent = agent;
                                self.emit_sip(SipCommand::CompleteProgress { call, progress: p });
                            }
                        }
                    }
                    Some(&Leg::In(sip)) => {
                        if let Some(rec) = self.inbound.get_mut(&sip) {
                            rec.connect_ms = Some(wall);
                        }
                    }
                    Some(Leg::Agent(_) | Leg::AgentOf(_) | Leg::AgentOfIn(_)) | None => {}
                }
            }
            Event::ConnectFailed { call, agent, code } => {
                tracing::warn!(%agent, ?code, "agent leg failed; the customer is abandoned");
                match self.by_sip.get(&call).copied() {
                    Some(Leg::Out(key)) => {
                        let announcement = self
                            .calls
                            .get(&key)
                            .and_then(|r| self.camps[r.camp].announcement.clone());
                        if let Some(rec) = self.calls.get_mut(&key) {
                            rec.abandoned = true;
                        }
                        self.end_connected(key);
                        self.emit_sip(SipCommand::Abandon { call, announcement });
                    }
                    Some(Leg::In(_)) => self.emit_sip(SipCommand::Hangup { call }),
                    Some(Leg::Agent(_) | Leg::AgentOf(_) | Leg::AgentOfIn(_)) | None => {}
                }
            }
            Event::Acked { call, .. } => self.on_dial_in_acked(call),
            Event::Abandoned { .. } => {}
            Event::Ended { call, .. } => match self.by_sip.remove(&call) {
                Some(Leg::Out(key)) => {
                    let cpa = match self.cpa_disposition(key) {
                        Some(d) => Some(d),
                        None if self.cpa_listening(key) => Some(self.cpa_hung_up_listening(key)),
                        None => None,
                    };
                    let disp = self.calls.get(&key).map(|rec| {
                        if let Some(d) = cpa {
                            d
                        } else if rec.machine {
                            CallDisposition::Machine
                        } else if rec.abandoned {
                            CallDisposition::Abandoned
                        } else if rec.agent.is_some() && rec.cut_by_shutdown {
                            CallDisposition::Shutdown
                        } else if rec.agent.is_some() {
                            CallDisposition::Connected
                        } else if rec.media_failed {
                            // Answered as our hang-up for the failed port crossed: still ours.
                            CallDisposition::TrunkFailure
                        } else if rec.answer_ms.is_some() && !rec.cancelled {
                            // Hung up while waiting for an agent: an abandon.
                            CallDisposition::Abandoned
                        } else {
                            CallDisposition::NoAnswer
                        }
                    });
                    let Some(disp) = disp else { return };
                    if matches!(disp, CallDisposition::Connected | CallDisposition::Shutdown) {
                        self.end_connected(key);
                    } else {
                        self.dialer_end(key, CallEnd::Abandoned);
                    }
                    self.finish(key, disp);
                }
                Some(Leg::In(sip)) => {
                    self.end_inbound(sip);
                    self.close_inbound_media(sip);
                }
                Some(Leg::Agent(_) | Leg::AgentOf(_) | Leg::AgentOfIn(_)) | None => {}
            },
            Event::InboundCall {
                call,
                from,
                to,
                trunk,
                offer,
                authorization,
                request_uri,
                ..
            } => match self.dial_in_agent(&to) {
                Some(ai) => self.on_dial_in(call, ai, offer, authorization, &request_uri),
                None => self.on_inbound(call, from, &to, trunk, offer),
            },
            Event::Released { call } => self.on_released(call),
            Event::TrunkDown { trunk } => {
                tracing::warn!(%trunk, "trunk out of service");
                admin::metrics::set_trunk_up(&trunk, false);
            }
            Event::TrunkUp { trunk } => {
                tracing::info!(%trunk, "trunk back in service");
                admin::metrics::set_trunk_up(&trunk, true);
            }
        }
    }

    fn on_answered(
        &mut self,
        call: crate::sip::endpoint::CallId,
        machine: bool,
        sdp: Option<&str>,
    ) {
        let now = self.pnow();
        let wall = self.clock.wall_ms(self.now);
        let Some(&Leg::Out(key)) = self.by_sip.get(&call) else {
            return;
        };
        let Some(rec) = self.calls.get_mut(&key) else {
            return;
        };
        rec.answer_ms = Some(wall);
        // The final response of an answered attempt: the endpoint reports an answer without its
        // 2xx code, and 200 is the one an INVITE is answered with.
        rec.code = Some(200);
        rec.machine = machine;
        if !rec.in_dialer {
            // A 200 that crossed our CANCEL: the endpoint ACKs it; we end it.
            self.emit_sip(SipCommand::Hangup { call });
            return;
        }
        self.on_customer_answer(key, sdp);
        if !machine && self.cpa_answered(key) {
            // Analysed first: the dialer hears of the answer at the verdict (`cpa`).
            self.query_trunk(key, call);
            return;
        }
        let Some(rec) = self.calls.get_mut(&key) else {
            return;
        };
        if let Some(attempt) = rec.attempt {
            // Counted as a live answer in the store's windows now, not when the call ends.
            let mut p = CallProgress::new(attempt);
            p.answer_ms = Some(wall);
            p.live = Some(!machine);
            self.effects
                .push_back(super::Effect::Sip(SipCommand::CompleteProgress {
                    call,
                    progress: p,
                }));
        }
        let c = &mut self.camps[rec.camp];
        if machine {
            rec.in_dialer = false;
            noted(
                "machine answer",
                c.dialer
                    .handle_call_answered(now, rec.dcall, AnswerKind::Machine),
            );
            self.effects
                .push_back(super::Effect::Sip(SipCommand::Hangup { call }));
        } else {
            admin::metrics::live_answer(&c.name);
            noted(
                "live answer",
                c.dialer
                    .handle_call_answered(now, rec.dcall, AnswerKind::Live),
            );
        }
        self.query_trunk(key, call);
    }

    /// Asks the endpoint which trunk carries `call` now (answered by `SipInput::Trunk`).
    fn query_trunk(&mut self, key: CallKey, call: crate::sip::endpoint::CallId) {
        self.emit_sip(SipCommand::QueryTrunk { key, call });
    }

    /// Writes the queued call milestones in one transaction (each housekeeping tick).
    pub(crate) fn flush_progress(&mut self) {
        if self.progress.is_empty() {
            return;
        }
        let batch = std::mem::take(&mut self.progress);
        self.queue_write(Write::Progress { batch });
    }

    /// Tells the dialer a call it still tracks ended before a connect.
    fn dialer_end(&mut self, key: CallKey, end: CallEnd) {
        let now = self.pnow();
        if let Some(rec) = self.calls.get_mut(&key) {
            if rec.in_dialer {
                rec.in_dialer = false;
                noted(
                    "call ended",
                    self.camps[rec.camp]
                        .dialer
                        .handle_call_ended(now, rec.dcall, end),
                );
            }
        }
    }

    /// A connected call is over: the dialer puts its agent in wrap-up.
    pub(crate) fn end_connected(&mut self, key: CallKey) {
        self.dialer_end(key, CallEnd::Completed);
        let Some(rec) = self.calls.get(&key) else {
            return;
        };
        if let Some(ai) = rec.agent {
            self.agents[ai].call = None;
            self.start_wrap(ai);
        }
    }

    /// Writes the call record (and the retry it implies) and forgets the call.
    pub(crate) fn finish(&mut self, key: CallKey, disposition: CallDisposition) {
        self.media.cpa_due.remove(&key);
        // An anchored call's legs close first (the nailed-up agent leg stays); an answered
        // one's record waits (briefly) for the customer leg's figures.
        if self.close_call_media(key, disposition) {
            if let Some(s) = self.calls.get(&key).and_then(|r| r.sip) {
                self.by_sip.remove(&s);
            }
            return;
        }
        let Some(rec) = self.calls.remove(&key) else {
            return;
        };
        if let Some(s) = rec.sip {
            self.by_sip.remove(&s);
        }
        let c = &mut self.camps[rec.camp];
        c.calls.remove(&rec.dcall.0);
        admin::metrics::call_ended(&c.name, disposition.as_str());
        if let (Some(trunk), Some(_)) = (&rec.trunk, rec.sip) {
            admin::metrics::trunk_call(trunk, rec.code);
        }
        let Some(attempt) = rec.attempt else {
            return;
        };
        let end = self.clock.wall_ms(self.now);
        let wait_ms = rec.answer_ms.map(|a| rec.connect_ms.unwrap_or(end) - a);
        let outcome = AttemptOutcome {
            disposition,
            sip_code: rec.code,
            trunk: rec.trunk,
            agent: rec.agent.map(|a| self.agents[a].spec.id.clone()),
            dial_ms: Some(rec.dial_ms),
            ring_ms: rec.ring_ms,
            answer_ms: rec.answer_ms,
            connect_ms: rec.connect_ms,
            end_ms: Some(end),
            wait_ms,
            callback_at_ms: None,
            media: rec.media.map(|m| Box::new(m.record)),
        };
        self.queue_write(Write::Finish { attempt, outcome });
    }

    // ----- inbound -----

    /// An INVITE from a trunk joins the inbound campaign's queue (refused at once when no
    /// logged-in agent of the campaign has the inbound skill, or when `inbound_queue_cap` callers
    /// already wait); one from an allowed source that is not a trunk is no customer: 403 when it
    /// names an agent (not dial-in) or nobody while no agent dials in, 404 (no such user) when
    /// some agent dials in and it names none; nothing stored. (INVITEs naming a dial-in agent
    /// never reach here: `dial_in`.)
    fn on_inbound(
        &mut self,
        call: crate::sip::endpoint::CallId,
        from: String,
        to: &str,
        trunk: Option<String>,
        offer: Option<String>,
    ) {
        let now = self.pnow();
        let ci = self
            .cfg
            .sip
            .inbound_campaign
            .as_deref()
            .and_then(|n| self.camps.iter().position(|c| c.name == n))
            .unwrap_or(0);
        if self.stopping.is_some() || self.camps.is_empty() {
            self.emit_sip(SipCommand::Reject { call, code: 503 });
            return;
        }
        let dial_ins = self
            .agents
            .iter()
            .any(|a| a.connect == crate::engine::config::ConnectMode::DialIn);
        let refuse = if trunk.is_none() && dial_ins && !self.agent_ix.contains_key(to) {
            Some(("unknown_user", 404))
        } else if trunk.is_none() {
            Some(("not_a_trunk", 403))
        } else if self.camps[ci].dialer.inbound_agents() == 0 {
            // No logged-in agent can ever take it: queueing would only hold the caller (and a
            // flood would hold the queue) until the timeout for nothing.
            Some(("no_agent", self.cfg.sip.inbound_refuse_status))
        } else if self
            .inbound
            .values()
            .filter(|r| r.camp == ci && r.agent.is_none())
            .count()
            >= self.cfg.sip.inbound_queue_cap as usize
        {
            Some(("queue_full", self.cfg.sip.inbound_refuse_status))
        } else {
            None
        };
        if let Some((reason, code)) = refuse {
            admin::metrics::inbound_refused(&self.camps[ci].name, reason);
            self.emit_sip(SipCommand::Reject { call, code });
            return;
        }
        let id = self.camps[ci].dialer.handle_inbound_arrival(now);
        let anchored = trunk
            .as_deref()
            .is_some_and(|t| super::inbound_media::trunk_anchored(&self.cfg, t));
        self.inbound.insert(
            call,
            InboundRec {
                camp: ci,
                id,
                agent: None,
                from,
                arrive_ms: self.clock.wall_ms(self.now),
                connect_ms: None,
                arrived: now,
                anchored,
                offer,
            },
        );
        self.by_sip.insert(call, Leg::In(call));
        self.emit_sip(SipCommand::Ring { call });
    }

    /// Refuses (`inbound_refuse_status`) every inbound caller no agent took within
    /// `inbound_queue_timeout`: nobody is held forever, and pacing stops counting them.
    pub(crate) fn expire_inbound(&mut self) {
        let now = self.pnow();
        let limit = self.cfg.sip.inbound_queue_timeout.0.as_millis() as u64;
        let expired: Vec<_> = self
            .inbound
            .iter()
            .filter(|(_, r)| r.agent.is_none() && now.0.saturating_sub(r.arrived.0) >= limit)
            .map(|(&sip, _)| sip)
            .collect();
        let code = self.cfg.sip.inbound_refuse_status;
        for sip in expired {
            let Some(camp) = self.inbound.get(&sip).map(|r| r.camp) else {
                continue;
            };
            admin::metrics::inbound_refused(&self.camps[camp].name, "queue_timeout");
            if self.abandon_inbound_prompt(sip) {
                // Answered with the campaign's message; the SIP call stays mapped so the
                // caller's end closes its leg, and it is hung up when the message is over.
                self.end_inbound(sip);
                continue;
            }
            let announcement = self
                .cfg
                .sip
                .inbound_timeout_announcement
                .then(|| self.camps[camp].announcement.clone())
                .flatten();
            self.end_inbound(sip);
            match announcement {
                // The SIP call stays mapped (record gone): a failed announcement hangs the caller
                // up, its end is then ignored.
                Some(announcement) => self.emit_sip(SipCommand::Announce {
                    call: sip,
                    announcement,
                }),
                None => {
                    self.by_sip.remove(&sip);
                    self.emit_sip(SipCommand::Reject { call: sip, code });
                }
            }
        }
    }

    pub(crate) fn end_inbound(&mut self, sip: crate::sip::endpoint::CallId) {
        let now = self.pnow();
        let Some(rec) = self.inbound.remove(&sip) else {
            return;
        };
        noted(
            "inbound call ended",
            self.camps[rec.camp]
                .dialer
                .handle_inbound_ended(now, rec.id),
        );
        if let Some(ai) = rec.agent {
            self.agents[ai].call = None;
            self.start_wrap(ai);
        }
        let record = InboundRecord {
            campaign: self.camps[rec.camp].name.clone(),
            node: self.cfg.node.clone(),
            caller: rec.from,
            agent: rec.agent.map(|ai| self.agents[ai].spec.id.clone()),
            arrive_ms: rec.arrive_ms,
            connect_ms: rec.connect_ms,
            end_ms: self.clock.wall_ms(self.now),
        };
        self.queue_write(Write::Inbound { record });
    }
}

/// What the agent's phone is told about an outbound call: the customer's number in From, the
/// lead's name as display name when the campaign allows it (`agent_display_name`; a name that is
/// not a valid display name is left out, never written raw), outdial's identifiers and the
/// screen pop. Only validated values reach the headers.
fn agent_leg(campaign: &str, lead: &LeasedLead, show_name: bool, pop: CallInfo) -> AgentLeg {
    let mut headers = Vec::with_capacity(2);
    for h in [
        ExtraHeader::lead(&lead.lead_id.to_string()),
        ExtraHeader::campaign(campaign),
    ] {
        match h {
            Ok(h) => headers.push(h),
            Err(e) => tracing::debug!(error = %e, "identifier left out of the agent's INVITE"),
        }
    }
    let display = if show_name {
        lead.name.as_deref().and_then(|n| DisplayName::new(n).ok())
    } else {
        None
    };
    AgentLeg {
        from_user: CallerId::new(&lead.phone_e164).ok(),
        display,
        headers,
        call_info: Some(pop),
    }
}

/// The admin API address a desk phone or CRM can reach for the screen pop: the admin listener,
/// or the SIP listener's IP when the admin one listens on every interface.
fn screen_pop_addr(admin: SocketAddr, sip: SocketAddr) -> SocketAddr {
    if admin.ip().is_unspecified() {
        SocketAddr::new(sip.ip(), admin.port())
    } else {
        admin
    }
}

/// The INVITE for a lead: only the validated E.164 digits, the campaign's caller id and our own
/// identifiers reach SIP headers (the identifiers only towards trunks that opt in).
fn place_request(
    c: &super::Camp,
    lead: &LeasedLead,
    ring_timeout: Duration,
) -> Result<PlaceCall, crate::sip::values::ValueError> {
    let caller = dial_chars(&c.def.caller_id);
    Ok(PlaceCall {
        group: c.def.trunk_group.clone(),
        number: E164::new(&lead.phone_e164)?,
        caller_id: CallerId::new(&caller)?,
        headers: vec![
            ExtraHeader::lead(&lead.lead_id.to_string())?,
            ExtraHeader::campaign(&c.name)?,
        ],
        // The dialer cancels at the campaign's ring timeout; the SIP layer's own timer is a
        // back-stop a little later.
        ring_timeout: ring_timeout + Duration::from_secs(2),
        offer: None,
    })
}

/// A failed attempt as the dialer and the call record name it.
fn map_failure(d: SipOutcome) -> (CallEnd, CallDisposition) {
    match d {
        SipOutcome::Busy => (CallEnd::Busy, CallDisposition::Busy),
        SipOutcome::NoAnswer => (CallEnd::NoAnswer, CallDisposition::NoAnswer),
        SipOutcome::Invalid => (CallEnd::Invalid, CallDisposition::Invalid),
        SipOutcome::Rejected => (CallEnd::Invalid, CallDisposition::Rejected),
        SipOutcome::TrunkFailure | SipOutcome::Answered => {
            (CallEnd::TrunkFailure, CallDisposition::TrunkFailure)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lead(name: Option<&str>) -> LeasedLead {
        LeasedLead {
            lead_id: 42,
            campaign: "c1".into(),
            phone_e164: "+14155550100".into(),
            name: name.map(str::to_string),
            external_id: None,
            timezone: "UTC".into(),
            attributes: "{}".into(),
            tier: String::new(),
            owner: None,
            attempts: 0,
            sla_deadline_ms: None,
            lease_until_ms: 0,
        }
    }

    fn pop() -> CallInfo {
        CallInfo::screen_pop("127.0.0.1:8080".parse().expect("addr"), "a1")
    }

    #[test]
    fn the_agent_leg_shows_the_customer_and_the_name_only_when_the_campaign_allows() {
        let shown = agent_leg("c1", &lead(Some("Ann Lee")), true, pop());
        assert_eq!(
            shown.from_user.as_ref().map(|c| c.as_str()),
            Some("+14155550100")
        );
        assert_eq!(shown.display.as_ref().map(|d| d.as_str()), Some("Ann Lee"));
        let names: Vec<_> = shown
            .headers
            .iter()
            .map(|h| (h.name(), h.value()))
            .collect();
        assert_eq!(
            names,
            [("X-Outdial-Lead", "42"), ("X-Outdial-Campaign", "c1")]
        );
        assert!(shown.call_info.is_some());
        assert!(agent_leg("c1", &lead(Some("Ann Lee")), false, pop())
            .display
            .is_none());
    }

    #[test]
    fn a_lead_name_that_could_break_a_header_is_left_out() {
        let shown = agent_leg("c1", &lead(Some("Ann\r\nVia: x")), true, pop());
        assert!(shown.display.is_none());
        assert_eq!(shown.headers.len(), 2);
    }

    #[test]
    fn the_screen_pop_names_a_reachable_address() {
        let any: SocketAddr = "0.0.0.0:8080".parse().expect("addr");
        let sip: SocketAddr = "10.1.2.3:5060".parse().expect("addr");
        assert_eq!(screen_pop_addr(any, sip).to_string(), "10.1.2.3:8080");
        let lo: SocketAddr = "127.0.0.1:8080".parse().expect("addr");
        assert_eq!(screen_pop_addr(lo, sip), lo);
    }
}
