//! Agents in the live engine: which campaign each works for, login/ready/pause/logout and
//! wrap-up (from the agent API, or automatic for synthetic agents), and ownership across nodes.
//!
//! Sharing between campaigns: an agent works for one campaign at a time, among the campaigns
//! whose `agent_group` is the agent's group and whose `skills` it all has. Priority is strict: a
//! ready agent moves to the highest-priority campaign it may work that has leads to dial (when
//! that campaign has no ready agent of its own), and leaves a campaign that has run out of leads.
//! Agents move only while ready, never during a call, a reservation or a wrap-up.
//!
//! An agent a progressive (or preview) campaign holds is almost never ready: the campaign
//! reserves it for a new call at its next decision. It is never taken from its reservation (an
//! answered customer always finds the agent reserved for them, and a call launched for it is
//! never left agentless, so the move causes no abandon); instead the engine looks again the
//! instant the reservation or the call ends and the agent is ready (agents of the other modes
//! are ready while idle, and the once-a-second pass finds them): after every input (a
//! ring-back that ended unanswered, a machine, a wrap-up done) and before the dialers' timers
//! fire (an automatic wrap-up that ends at the instant of a pacing tick), so the agent moves
//! before its campaign's next decision can reserve it again. The one case it cannot catch is a
//! ring time-out the dialer fires inside its own tick, which may reserve the agent again at once:
//! that agent moves when its next call or reservation ends.
//!
//! Credit verification has the highest priority and its SLA leads head its own queue, so leads
//! near their deadline get agents first.

use std::cmp::Reverse;
use std::time::Duration;

use crate::admin::{self, AgentAction, AgentView, ControlError, WrapUpCode};
use crate::agents::AgentState;
use crate::campaign::disposition::AGENT_NOT_SET;
use crate::campaign::{CallDisposition, Campaign};
use crate::pacing::Mode;

use crate::engine::config::{AgentSpec, WrapUp};
use crate::engine::writes::Write;

use super::{noted, Core, Leg, StoreCommand};

/// How long an agent claim lasts without renewal (a dead node's agents free up after this).
pub const CLAIM_TTL: Duration = Duration::from_secs(30);

/// Whether an agent may work for a campaign: same group, and every skill the campaign asks for.
pub(crate) fn can_work(agent: &AgentSpec, campaign: &Campaign) -> bool {
    campaign.agent_group == agent.group
        && campaign
            .skills
            .iter()
            .all(|s| agent.skill_names.contains(s))
}

impl Core {
    /// Whether campaign `ci` has leads to dial (buffered, in flight, or leased recently).
    fn has_work(&self, ci: usize) -> bool {
        let c = &self.camps[ci];
        !c.paused
            && (!c.buffer.is_empty()
                || !c.calls.is_empty()
                || c.last_work.is_some_and(|t| {
                    self.now.saturating_duration_since(t) < Duration::from_secs(3)
                }))
    }

    /// Campaigns an agent may work for, highest priority first.
    fn campaigns_for(&self, ai: usize) -> Vec<usize> {
        let spec = &self.agents[ai].spec;
        let mut v: Vec<usize> = (0..self.camps.len())
            .filter(|&ci| can_work(spec, &self.camps[ci].def))
            .collect();
        v.sort_by_key(|&ci| Reverse(self.camps[ci].def.priority));
        v
    }

    /// The agent's home campaign and its id in that campaign's dialer.
    fn home_id(&self, ai: usize) -> Option<(usize, crate::agents::AgentId)> {
        let a = &self.agents[ai];
        a.home.and_then(|ci| Some((ci, *a.ids.get(&ci)?)))
    }

    /// The agent's state in its home campaign's dialer (logged out when it has none).
    pub(crate) fn agent_state(&self, ai: usize) -> AgentState {
        match self.home_id(ai) {
            Some((ci, id)) => self.camps[ci]
                .dialer
                .agent_state(id)
                .unwrap_or(AgentState::LoggedOut),
            None => AgentState::LoggedOut,
        }
    }

    /// Puts a logged-in agent into campaign `ci` and makes it ready there.
    fn enter(&mut self, ai: usize, ci: usize) {
        let now = self.pnow();
        let skills = self.agents[ai].spec.skills;
        match self.agents[ai].ids.get(&ci) {
            Some(&id) => {
                if let Err(e) = self.camps[ci].dialer.handle_agent_ready(now, id) {
                    tracing::warn!(error = %e, "agent ready");
                }
            }
            None => {
                let id = self.camps[ci].dialer.handle_agent_login(now, skills);
                self.agents[ai].ids.insert(ci, id);
                self.camps[ci].agents.insert(id, ai);
            }
        }
        self.agents[ai].home = Some(ci);
        // A staffed interval for the report's occupancy.
        // Its id comes back as `Msg::Session` once the write lands.
        self.queue_write(Write::SessionStart {
            agent_ix: ai,
            agent: self.agents[ai].spec.id.clone(),
            campaign: self.camps[ci].name.clone(),
            node: self.cfg.node.clone(),
            wall_ms: self.wall_ms(),
        });
    }

    /// A session started in the store; close it at once if the agent already left.
    pub(crate) fn on_session(&mut self, ai: usize, id: i64) {
        let Some(agent) = self.agents.get(ai) else {
            return;
        };
        if agent.home.is_some() && agent.session.is_none() {
            self.agents[ai].session = Some(id);
        } else {
            self.end_session(id);
        }
    }

    fn end_session(&mut self, id: i64) {
        let wall_ms = self.wall_ms();
        self.queue_write(Write::SessionEnd { id, wall_ms });
    }

    /// Takes an agent out of its home campaign's dialer.
    pub(crate) fn leave(&mut self, ai: usize) {
        let now = self.pnow();
        if let Some((ci, id)) = self.home_id(ai) {
            noted(
                "agent logout",
                self.camps[ci].dialer.handle_agent_logout(now, id),
            );
        }
        self.agents[ai].home = None;
        if let Some(s) = self.agents[ai].session.take() {
            self.end_session(s);
        }
    }

    /// Logs in an agent this node owns, into the best campaign for it.
    fn login(&mut self, ai: usize) -> Result<(), ControlError> {
        if !self.claims_known {
            // The engine has just started and the store has not answered its claim yet.
            return Err(ControlError::Unavailable(format!(
                "agent {}: this engine node is still claiming its agents; retry in a moment",
                self.agents[ai].spec.id
            )));
        }
        if !self.agents[ai].claimed {
            return Err(ControlError::Conflict(format!(
                "agent {} is owned by another engine node",
                self.agents[ai].spec.id
            )));
        }
        if self.agent_held(ai) {
            return Err(ControlError::Conflict(format!(
                "agent {}: the call it had when the engine crashed is still being ended",
                self.agents[ai].spec.id
            )));
        }
        let first = self.best_campaign(ai)?;
        if self.agents[ai].conn_lost {
            // Still held by the call it was reserved for when its connection was lost.
            return Err(ControlError::Conflict(format!(
                "agent {}: its last connection is still being released",
                self.agents[ai].spec.id
            )));
        }
        self.agents[ai].logged_in = true;
        self.agents[ai].pause_reason = None;
        if self.needs_connection(ai) {
            // Available only once its phone answers (`media`): then it enters a campaign.
            self.connect_agent(ai);
            return Ok(());
        }
        self.enter(ai, first);
        Ok(())
    }

    /// The campaign a logging-in agent starts in: the first (by priority) with work, else the
    /// first it may work.
    fn best_campaign(&self, ai: usize) -> Result<usize, ControlError> {
        let options = self.campaigns_for(ai);
        options
            .iter()
            .find(|&&ci| self.has_work(ci))
            .or(options.first())
            .copied()
            .ok_or_else(|| {
                ControlError::Conflict(format!(
                    "no running campaign uses agent group {:?} with skills the agent has ({:?})",
                    self.agents[ai].spec.group, self.agents[ai].spec.skill_names
                ))
            })
    }

    /// Puts a logged-in agent whose nailed-up connection just came up into its best campaign.
    pub(crate) fn enter_best(&mut self, ai: usize) -> Result<(), ControlError> {
        let first = self.best_campaign(ai)?;
        self.enter(ai, first);
        Ok(())
    }

    /// Logs in every owned automatic agent that is not logged in yet.
    pub(crate) fn login_auto_agents(&mut self) {
        if self.stopping.is_some() {
            return;
        }
        for ai in 0..self.agents.len() {
            let a = &self.agents[ai];
            if a.claimed && !a.logged_in && a.spec.wrap_up == WrapUp::Auto {
                if let Err(e) = self.login(ai) {
                    tracing::debug!(error = %e, "automatic agent not logged in");
                }
            }
        }
    }

    /// An agent this node no longer owns (its claim went to another node) leaves as soon as it
    /// can: at once when idle, in wrap-up or paused; after its wrap-up when in a call or
    /// reserved for one (the dialer cannot take it out then). Returns whether it left.
    fn release_if_lost(&mut self, ai: usize) -> bool {
        let a = &self.agents[ai];
        if a.claimed || !a.logged_in || a.call.is_some() {
            return false;
        }
        if matches!(
            self.agent_state(ai),
            AgentState::Reserved | AgentState::Talking
        ) {
            return false;
        }
        tracing::warn!(agent = %a.spec.id, "agent claim lost");
        self.leave(ai);
        self.agents[ai].logged_in = false;
        self.disconnect_agent(ai);
        true
    }

    /// Takes out agents whose claim was lost, then moves ready agents to where strict priority
    /// wants them (see the module doc).
    pub(crate) fn rebalance(&mut self) {
        for ai in 0..self.agents.len() {
            self.release_if_lost(ai);
            self.leave_if_connection_lost(ai);
        }
        self.move_ready_agents(false);
    }

    /// Moves every ready agent to where strict priority wants it: to the highest-priority
    /// campaign it may work that has leads to dial, when that campaign has no ready agent of its
    /// own, or away from a campaign that has run out of leads. Called once a second and after
    /// every input that may have freed an agent (and before the dialers' timers fire), so an
    /// agent freed by a lower-priority campaign moves before that campaign can reserve it again
    /// (see the module doc). Only ready agents move: a reserved one keeps its call. With
    /// `reserving_only`, only agents of campaigns that reserve their agents (progressive,
    /// preview), and only up to a higher priority: the others are ready while idle, and the
    /// once-a-second pass finds them (and moves agents off campaigns out of leads, which right
    /// after a lease could see one campaign's leads land before another's).
    pub(crate) fn move_ready_agents(&mut self, reserving_only: bool) {
        if self.camps.len() < 2 {
            return;
        }
        let reserving: Vec<bool> = self
            .camps
            .iter()
            .map(|c| matches!(c.dialer.params().mode, Mode::Progressive | Mode::Preview))
            .collect();
        // Called after every input: first the cheap look at the reserving campaigns' own
        // agents, whose state their dialer holds in a list (most of the time none is ready).
        let any_ready = |ci: usize| {
            let c = &self.camps[ci];
            c.agents
                .keys()
                .any(|&id| c.dialer.agent_state(id) == Some(AgentState::Ready))
        };
        if reserving_only && !(0..self.camps.len()).any(|ci| reserving[ci] && any_ready(ci)) {
            return;
        }
        let work: Vec<bool> = (0..self.camps.len()).map(|ci| self.has_work(ci)).collect();
        let mut ready_in: Vec<u32> = vec![0; self.camps.len()];
        for ai in 0..self.agents.len() {
            if let Some(h) = self.agents[ai].home {
                if self.agent_state(ai) == AgentState::Ready {
                    ready_in[h] += 1;
                }
            }
        }
        // Nothing to move unless a campaign with leads has no ready agent, or ready agents sit
        // in a campaign without leads (the common case: skip the per-agent search).
        let wanted = (0..self.camps.len()).any(|ci| work[ci] && ready_in[ci] == 0);
        let stranded =
            !reserving_only && (0..self.camps.len()).any(|ci| !work[ci] && ready_in[ci] > 0);
        if !wanted && !stranded {
            return;
        }
        for ai in 0..self.agents.len() {
            let Some(home) = self.agents[ai].home else {
                continue;
            };
            if reserving_only && !reserving[home] {
                continue;
            }
            if !self.agents[ai].logged_in || self.agent_state(ai) != AgentState::Ready {
                continue;
            }
            let Some(best) = self.campaigns_for(ai).into_iter().find(|&ci| work[ci]) else {
                continue;
            };
            if best == home {
                continue;
            }
            let better = self.camps[best].def.priority > self.camps[home].def.priority;
            let leave_empty = !work[home] && !reserving_only;
            if leave_empty || (better && ready_in[best] == 0) {
                self.leave(ai);
                self.enter(ai, best);
                ready_in[home] = ready_in[home].saturating_sub(1);
                ready_in[best] += 1;
            }
        }
    }

    /// The agent's call ended: wrap-up starts (the dialer already moved it there).
    pub(crate) fn start_wrap(&mut self, ai: usize) {
        let a = &mut self.agents[ai];
        a.wrap_epoch += 1;
        if a.spec.wrap_up == WrapUp::Auto {
            let secs = self.cfg.auto_wrap_time.sample(&mut self.rng);
            let real = self.clock.real(Duration::from_secs_f64(secs.max(0.0)));
            self.wraps
                .push(Reverse((self.now + real, ai, a.wrap_epoch)));
        }
    }

    /// An automatic wrap-up ended: the agent is ready and its call is disposed `completed`.
    pub(crate) fn auto_wrap_done(&mut self, ai: usize, epoch: u64) {
        if self.agents[ai].wrap_epoch != epoch || self.agent_state(ai) != AgentState::WrapUp {
            return;
        }
        self.wrap_done(ai, WrapUpCode::Completed, None);
    }

    /// Ends wrap-up with `disposition`: the agent is ready and the lead is rescheduled by it.
    fn wrap_done(&mut self, ai: usize, disposition: WrapUpCode, note: Option<String>) {
        if let Some(attempt) = self.agents[ai].last_attempt.take() {
            self.write_disposition(ai, attempt, &disposition, note);
        }
        if self.agents[ai].conn_lost {
            // Its connection is gone: out of the dialer rather than ready.
            return self.leave_if_connection_lost(ai);
        }
        let now = self.pnow();
        if let Some((ci, id)) = self.home_id(ai) {
            noted(
                "agent ready after wrap-up",
                self.camps[ci].dialer.handle_agent_ready(now, id),
            );
        }
        self.release_if_lost(ai);
    }

    /// Writes the agent's wrap-up code and note for `attempt` (the lead is rescheduled by it; a
    /// callback becomes the agent's own: `callbacks`).
    fn write_disposition(
        &mut self,
        ai: usize,
        attempt: i64,
        disposition: &WrapUpCode,
        note: Option<String>,
    ) {
        let (disp, at) = match disposition {
            WrapUpCode::Callback { at_ms } => (CallDisposition::Callback, Some(*at_ms)),
            WrapUpCode::NotInterested => (CallDisposition::NotInterested, None),
            WrapUpCode::DoNotCall => (CallDisposition::DoNotCall, None),
            WrapUpCode::Completed => (CallDisposition::Completed, None),
            // A wrong number reached someone else: never dialled again, like an invalid one.
            WrapUpCode::Other { code } if code == "wrong_number" => {
                (CallDisposition::Invalid, None)
            }
            WrapUpCode::Other { .. } => (CallDisposition::Completed, None),
            WrapUpCode::Machine => (CallDisposition::Machine, None),
        };
        if *disposition == WrapUpCode::Machine {
            // Voicemail passed to the agent as a person: pacing's measure of the analysis —
            // only where analysis ran on the call (without it the mark is just the outcome).
            if let Some(ci) = self.agents[ai].last_analysed {
                let now = self.pnow();
                self.camps[ci].dialer.handle_machine_mark(now);
            }
        }
        if let Some(ci) = self.agents[ai].home {
            admin::metrics::agent_disposition(&self.camps[ci].name, disp.as_str());
        }
        let wall_ms = self.wall_ms();
        self.queue_write(Write::Disposition {
            attempt,
            disposition: disp,
            callback_at_ms: at,
            wall_ms,
            agent: Some(self.agents[ai].spec.id.clone()),
            note,
        });
    }

    /// Whether an agent is still in wrap-up after an outbound call (its code is still to come).
    pub(crate) fn wrapping_up(&self) -> bool {
        (0..self.agents.len()).any(|ai| {
            self.agents[ai].last_attempt.is_some() && self.agent_state(ai) == AgentState::WrapUp
        })
    }

    /// At exit: every call whose agent is still in wrap-up gets the explicit "not set" agent
    /// disposition (the lead keeps the schedule its call outcome gave it). Returns how many
    /// writes were started; the caller waits for them like any other write.
    pub(crate) fn close_wrap_ups(&mut self) -> usize {
        let mut n = 0;
        for ai in 0..self.agents.len() {
            if self.agent_state(ai) != AgentState::WrapUp {
                continue;
            }
            let Some(attempt) = self.agents[ai].last_attempt.take() else {
                continue;
            };
            if let Some(ci) = self.agents[ai].home {
                admin::metrics::agent_disposition(&self.camps[ci].name, AGENT_NOT_SET);
            }
            tracing::info!(agent = %self.agents[ai].spec.id, attempt, "wrap-up open at exit: not set");
            let wall_ms = self.wall_ms();
            self.queue_write(Write::DispositionNotSet { attempt, wall_ms });
            n += 1;
        }
        n
    }

    /// A supervisor/agent-desktop action on an agent.
    pub(crate) fn agent_action(
        &mut self,
        id: &str,
        action: AgentAction,
    ) -> Result<AgentView, ControlError> {
        let ai = *self
            .agent_ix
            .get(id)
            .ok_or_else(|| ControlError::NotFound(format!("unknown agent {id:?}")))?;
        let now = self.pnow();
        let state = self.agent_state(ai);
        let conflict = |what: &str| {
            ControlError::Conflict(format!("agent {id} cannot {what} while {state:?}"))
        };
        match action {
            AgentAction::Login => {
                if self.agents[ai].logged_in {
                    return Err(conflict("log in"));
                }
                if self.stopping.is_some() {
                    return Err(ControlError::Unavailable("the engine is stopping".into()));
                }
                self.login(ai)?;
            }
            AgentAction::Ready => {
                if !self.agents[ai].logged_in || state != AgentState::Paused {
                    return Err(conflict("become ready"));
                }
                self.with_dialer(ai, |d, id| d.handle_agent_ready(now, id))?;
                self.agents[ai].pause_reason = None;
            }
            AgentAction::Pause { reason } => {
                if !matches!(state, AgentState::Ready | AgentState::WrapUp) {
                    return Err(conflict("pause"));
                }
                self.with_dialer(ai, |d, id| d.handle_agent_pause(now, id))?;
                self.agents[ai].pause_reason = Some(reason);
            }
            AgentAction::Logout => {
                let connecting = self.agents[ai].logged_in && self.agents[ai].home.is_none();
                if !connecting
                    && !matches!(
                        state,
                        AgentState::Ready | AgentState::WrapUp | AgentState::Paused
                    )
                {
                    return Err(conflict("log out"));
                }
                self.leave(ai);
                self.agents[ai].logged_in = false;
                self.agents[ai].pause_reason = None;
                self.disconnect_agent(ai);
            }
            AgentAction::WrapUp { disposition, note } => {
                if state != AgentState::WrapUp {
                    return Err(conflict("finish wrap-up"));
                }
                self.wrap_done(ai, disposition, note);
            }
        }
        Ok(self.agent_view(ai))
    }

    fn with_dialer<F>(&mut self, ai: usize, f: F) -> Result<(), ControlError>
    where
        F: FnOnce(
            &mut crate::pacing::dialer::Dialer,
            crate::agents::AgentId,
        ) -> Result<(), crate::pacing::dialer::DialerError>,
    {
        let (ci, id) = self.home_id(ai).ok_or_else(|| {
            ControlError::Conflict(format!("agent {} is logged out", self.agents[ai].spec.id))
        })?;
        f(&mut self.camps[ci].dialer, id).map_err(|e| ControlError::Conflict(e.to_string()))
    }

    /// The admin view of an agent.
    pub(crate) fn agent_view(&self, ai: usize) -> AgentView {
        let a = &self.agents[ai];
        // An agent whose connection was lost is logged out, even while its dialer still holds
        // it for the call it was reserved for.
        let state = if a.conn_lost {
            AgentState::LoggedOut
        } else {
            self.agent_state(ai)
        };
        let lead = match a.call {
            Some(Leg::Out(key)) => self.calls.get(&key).map(|c| c.lead.lead_id),
            _ => None,
        };
        AgentView {
            id: a.spec.id.clone(),
            uri: a.spec.uri.to_string(),
            state,
            pause_reason: a.pause_reason.clone(),
            skills: a.spec.skill_names.clone(),
            group: Some(a.spec.group.clone()),
            campaign: a.home.map(|ci| self.camps[ci].name.clone()),
            lead,
        }
    }

    /// Screen pop of the agent's current outbound call.
    pub(crate) fn current_call(&self, id: &str) -> Result<Option<admin::ScreenPop>, ControlError> {
        let ai = *self
            .agent_ix
            .get(id)
            .ok_or_else(|| ControlError::NotFound(format!("unknown agent {id:?}")))?;
        let a = &self.agents[ai];
        // The customer's data stays on the agent's screen through the wrap-up of the call.
        let wrapping = a.call.is_none()
            && a.last_attempt.is_some()
            && self.agent_state(ai) == AgentState::WrapUp;
        Ok(match a.call {
            Some(Leg::Out(_)) => a.pop.clone(),
            None if wrapping => a.pop.clone(),
            _ => None,
        })
    }

    // ----- ownership across nodes -----

    /// Claims (or renews) every configured agent for this node (answered by `StoreResult::Claimed`).
    pub(crate) fn renew_claims(&mut self) {
        let ids: Vec<String> = self.agents.iter().map(|a| a.spec.id.clone()).collect();
        let wall_ms = self.wall_ms();
        self.emit_store(StoreCommand::ClaimAgents {
            node: self.cfg.node.clone(),
            ids,
            wall_ms,
            ttl_ms: CLAIM_TTL.as_millis() as i64,
        });
    }

    /// Claims came back: agents we own now may log in; agents we lost are taken out.
    pub(crate) fn on_claimed(&mut self, ids: Vec<String>) {
        self.claims_known = true;
        let owned: std::collections::HashSet<String> = ids.into_iter().collect();
        for ai in 0..self.agents.len() {
            let mine = owned.contains(&self.agents[ai].spec.id);
            self.agents[ai].claimed = mine;
            self.release_if_lost(ai);
        }
        self.login_auto_agents();
    }
}
