//! The agents' side of a [`Dialer`]'s bookkeeping: ready queues (outbound-only, blended,
//! inbound-only), idle and active counts, moving agents between states and bridging them to
//! outbound and inbound calls. Keeps the forecast's agent buckets in step; decides nothing about
//! how many calls to launch.

use std::collections::VecDeque;

use crate::agents::{AgentError, AgentId, AgentState, Skills};
use crate::pacing::call::{CallId, CallState};
use crate::pacing::dialer::{Action, AgentSlot, Busy, Dialer, DialerError, InboundId};
use crate::pacing::predictive::{Forecast, Group};
use crate::pacing::Millis;

impl Dialer {
    pub(super) fn slot(&self, agent: AgentId) -> Result<&AgentSlot, DialerError> {
        self.agents
            .get(agent.0 as usize)
            .ok_or(DialerError::Agent(AgentError::Unknown(agent.0)))
    }

    pub(super) fn is_out(&self, a: AgentId) -> bool {
        self.agents[a.0 as usize].agent.skills().outbound()
    }

    pub(super) fn make_ready(&mut self, now: Millis, id: AgentId) -> Result<(), DialerError> {
        let i = id.0 as usize;
        let from = self.agents[i].agent.state();
        let prev_key = self.agents[i].agent.since().0 / 1000;
        self.agents[i].agent.transition(now, AgentState::Ready)?;
        let skills = self.agents[i].agent.skills();
        if skills.outbound() {
            match from {
                AgentState::WrapUp => self.forecast.remove(Group::Wrap, prev_key),
                AgentState::LoggedOut | AgentState::Paused => self.active_out += 1,
                _ => {}
            }
        }
        if skills.inbound() && from == AgentState::LoggedOut {
            self.logged_in_in += 1;
        }
        if skills == Skills::Blended && matches!(from, AgentState::LoggedOut | AgentState::Paused) {
            self.active_blended += 1;
        }
        self.agents[i].busy = Busy::None;
        self.agents[i].epoch = self.agents[i].epoch.wrapping_add(1);
        self.dirty = true;
        // Work waiting for this agent: an outbound call about to be abandoned goes first unless
        // an inbound caller has waited half the service time; otherwise inbound first.
        let inbound_urgent = self
            .inbound_queue
            .front()
            .is_some_and(|q| now.since(q.1) * 2 >= self.params.service_time_ms);
        if skills.outbound() && !self.waiting.is_empty() && !(skills.inbound() && inbound_urgent) {
            if let Some((call, _)) = self.waiting.pop_front() {
                self.connect(now, call, id);
                return Ok(());
            }
        }
        if skills.inbound() {
            if let Some((inb, at)) = self.inbound_queue.pop_front() {
                self.connect_inbound(now, inb, at, id);
                return Ok(());
            }
        }
        let epoch = self.agents[i].epoch;
        match skills {
            Skills::Outbound => self.ready_out_only.push_back((id, epoch)),
            Skills::Blended => self.ready_blended.push_back((id, epoch)),
            Skills::Inbound => self.ready_in_only.push_back((id, epoch)),
        }
        if skills.outbound() {
            self.idle_out += 1;
        } else {
            self.idle_in_only += 1;
        }
        Ok(())
    }

    pub(super) fn leave_idle_or_wrap(
        &mut self,
        now: Millis,
        agent: AgentId,
        to: AgentState,
    ) -> Result<(), DialerError> {
        let i = self.slot(agent)?.agent.id().0 as usize;
        let from = self.agents[i].agent.state();
        let prev_key = self.agents[i].agent.since().0 / 1000;
        self.agents[i].agent.transition(now, to)?;
        let out = self.agents[i].agent.skills().outbound();
        match from {
            AgentState::Ready => self.dec_idle(agent),
            AgentState::WrapUp if out => self.forecast.remove(Group::Wrap, prev_key),
            _ => {}
        }
        if out && matches!(from, AgentState::Ready | AgentState::WrapUp) {
            self.active_out = self.active_out.saturating_sub(1);
        }
        let skills = self.agents[i].agent.skills();
        if skills == Skills::Blended && matches!(from, AgentState::Ready | AgentState::WrapUp) {
            self.active_blended = self.active_blended.saturating_sub(1);
        }
        if skills.inbound() && to == AgentState::LoggedOut && from != AgentState::LoggedOut {
            self.logged_in_in = self.logged_in_in.saturating_sub(1);
        }
        self.agents[i].epoch = self.agents[i].epoch.wrapping_add(1);
        self.dirty = true;
        Ok(())
    }

    pub(super) fn dec_idle(&mut self, a: AgentId) {
        if self.is_out(a) {
            self.idle_out = self.idle_out.saturating_sub(1);
        } else {
            self.idle_in_only = self.idle_in_only.saturating_sub(1);
        }
    }

    pub(super) fn pop_valid(
        q: &mut VecDeque<(AgentId, u32)>,
        agents: &[AgentSlot],
    ) -> Option<AgentId> {
        while let Some((a, e)) = q.pop_front() {
            let s = &agents[a.0 as usize];
            if s.epoch == e && s.agent.state() == AgentState::Ready {
                return Some(a);
            }
        }
        None
    }

    pub(super) fn pop_ready_out(&mut self) -> Option<AgentId> {
        let a = Self::pop_valid(&mut self.ready_out_only, &self.agents)
            .or_else(|| Self::pop_valid(&mut self.ready_blended, &self.agents))?;
        self.dec_idle(a);
        Some(a)
    }

    pub(super) fn pop_ready_in(&mut self) -> Option<AgentId> {
        let a = Self::pop_valid(&mut self.ready_in_only, &self.agents)
            .or_else(|| Self::pop_valid(&mut self.ready_blended, &self.agents))?;
        self.dec_idle(a);
        Some(a)
    }

    pub(super) fn connect(&mut self, now: Millis, call: CallId, agent: AgentId) {
        let i = agent.0 as usize;
        // The agent is ready or reserved (callers guarantee it), so talking is legal.
        let _ = self.agents[i].agent.transition(now, AgentState::Talking);
        self.agents[i].busy = Busy::Out(call);
        if self.agents[i].agent.skills().outbound() {
            self.forecast.add(Group::TalkOut, Forecast::talk_key(now));
        }
        let mut wait_ms = 0;
        if let Some(c) = self.calls.get_mut(&call.0) {
            if c.analysed {
                self.analysis.connected();
            }
            c.state = CallState::Connected;
            c.agent = Some(agent);
            wait_ms = now.since(c.answered);
            c.answered = now;
        }
        self.connected_out += 1;
        self.counters.connected += 1;
        self.strategy.on_live_answer(now, false);
        self.dirty = true;
        self.actions.push_back(Action::Connect {
            call,
            agent,
            wait_ms,
        });
    }

    pub(super) fn connect_inbound(
        &mut self,
        now: Millis,
        inb: InboundId,
        arrived: Millis,
        agent: AgentId,
    ) {
        let i = agent.0 as usize;
        // Ready → talking is legal; callers pass a ready agent.
        let _ = self.agents[i].agent.transition(now, AgentState::Talking);
        self.agents[i].busy = Busy::In(inb);
        if self.agents[i].agent.skills().outbound() {
            self.forecast.add(Group::TalkIn, Forecast::talk_key(now));
        }
        self.inbound_agent.insert(inb.0, agent);
        let wait_ms = now.since(arrived);
        self.counters.inbound_connected += 1;
        let ok = wait_ms <= self.params.service_time_ms;
        if ok {
            self.counters.inbound_in_sl += 1;
        }
        self.sl_window.0 += 1.0;
        self.sl_window.1 += if ok { 1.0 } else { 0.0 };
        self.actions.push_back(Action::ConnectInbound {
            inbound: inb,
            agent,
            wait_ms,
        });
    }

    pub(super) fn enter_wrap(&mut self, now: Millis, agent: AgentId) {
        let i = agent.0 as usize;
        let busy = self.agents[i].busy;
        let key = Forecast::talk_key(self.agents[i].agent.since());
        // Talking → wrap-up is legal; only talking agents have a call to end.
        let _ = self.agents[i].agent.transition(now, AgentState::WrapUp);
        if self.agents[i].agent.skills().outbound() {
            match busy {
                Busy::In(_) => self.forecast.remove(Group::TalkIn, key),
                _ => self.forecast.remove(Group::TalkOut, key),
            }
            self.forecast.add(Group::Wrap, now.0 / 1000);
        }
        self.agents[i].busy = Busy::None;
        self.dirty = true;
    }

    pub(super) fn release_reserved(&mut self, now: Millis, agent: AgentId) {
        // Reserved → ready is legal.
        let _ = self.make_ready(now, agent);
    }
}
