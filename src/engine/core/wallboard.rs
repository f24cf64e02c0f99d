//! The wallboard's live figures ([`Core::wallboard`]): calls by stage per campaign, waits,
//! verdict mix, and per agent its time in state, calls today and occupancy. Owns the few
//! counters only the wallboard reads ([`BoardTrack`]), fed by three hooks: the housekeeping tick
//! observes agent states, a connect notes the wait, a call-progress verdict notes its class.
//! Must not touch pacing, calls or agents (it reads them), the store (the shell adds the store's
//! figures) or the clock (`now` is the core's).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::admin::wallboard::{AgentBoard, CampaignBoard, Wallboard};
use crate::agents::AgentState;

use super::Core;

/// Milliseconds in a day (calls today count from midnight UTC).
const DAY_MS: i64 = 86_400_000;

/// What the wallboard needs that nothing else keeps.
#[derive(Debug, Default)]
pub(crate) struct BoardTrack {
    /// Per agent: the state last seen and since when.
    since: Vec<Option<(AgentState, Instant)>>,
    /// Per agent: (UTC day number, calls connected that day).
    calls_today: Vec<(i64, u32)>,
    /// Per agent: (busy, staffed) time seen over the run.
    busy: Vec<(Duration, Duration)>,
    /// When the states were last observed.
    observed: Option<Instant>,
    /// Per campaign: (connected calls, sum of answer-to-agent waits).
    waits: Vec<(u64, Duration)>,
    /// Per campaign: verdict name → count.
    verdicts: Vec<BTreeMap<&'static str, u64>>,
}

fn grow<T: Default + Clone>(v: &mut Vec<T>, i: usize) -> &mut T {
    if v.len() <= i {
        v.resize(i + 1, T::default());
    }
    &mut v[i]
}

impl Core {
    /// Housekeeping hook: notes each agent's state (time in state, occupancy).
    pub(crate) fn board_observe(&mut self) {
        let now = self.now;
        let dt = self
            .board
            .observed
            .map(|t| now.saturating_duration_since(t))
            .unwrap_or_default();
        self.board.observed = Some(now);
        for ai in 0..self.agents.len() {
            let state = self.agent_view_state(ai);
            let since = grow(&mut self.board.since, ai);
            match since {
                Some((s, _)) if *s == state => {}
                _ => *since = Some((state, now)),
            }
            let (busy, staffed) = grow(&mut self.board.busy, ai);
            match state {
                AgentState::LoggedOut => {}
                AgentState::Talking | AgentState::WrapUp | AgentState::Reserved => {
                    *busy += dt;
                    *staffed += dt;
                }
                AgentState::Ready | AgentState::Paused => *staffed += dt,
            }
        }
    }

    /// Connect hook: a call of campaign `ci` reached agent `ai` after waiting `waited`.
    pub(crate) fn board_connected(&mut self, ci: usize, ai: Option<usize>, waited: Duration) {
        let (n, sum) = grow(&mut self.board.waits, ci);
        *n += 1;
        *sum += waited;
        if let Some(ai) = ai {
            let day = self.wall_ms().div_euclid(DAY_MS);
            let (d, calls) = grow(&mut self.board.calls_today, ai);
            if *d != day {
                *d = day;
                *calls = 0;
            }
            *calls += 1;
        }
    }

    /// Verdict hook: call-progress analysis judged a call of campaign `ci`.
    pub(crate) fn board_verdict(&mut self, ci: usize, verdict: &'static str) {
        *grow(&mut self.board.verdicts, ci)
            .entry(verdict)
            .or_default() += 1;
    }

    /// The state the wallboard shows (a lost connection shows as logged out, as in the API).
    fn agent_view_state(&self, ai: usize) -> AgentState {
        if self.agents[ai].conn_lost {
            AgentState::LoggedOut
        } else {
            self.agent_state(ai)
        }
    }

    /// The wallboard's live figures; the store's (leads, audit) are left empty for the shell.
    pub(crate) fn wallboard(&mut self) -> Wallboard {
        self.board_observe();
        let now = self.now;
        let today = self.wall_ms().div_euclid(DAY_MS);
        let mut campaigns: Vec<CampaignBoard> = (0..self.camps.len())
            .map(|ci| {
                let (mut ringing, mut waiting, mut connected) = (0, 0, 0);
                for rec in self.calls.values().filter(|r| r.camp == ci && r.in_dialer) {
                    if rec.connect_ms.is_some() {
                        connected += 1;
                    } else if rec.answer_ms.is_some() {
                        waiting += 1;
                    } else {
                        ringing += 1;
                    }
                }
                let (n, sum) = self.board.waits.get(ci).copied().unwrap_or_default();
                CampaignBoard {
                    view: self.campaign_view(ci),
                    ringing,
                    waiting,
                    connected,
                    live_answers: self.camps[ci].dialer.counters().live,
                    mean_wait_ms: (n > 0).then(|| sum.as_secs_f64() * 1000.0 / n as f64),
                    dialable_now: None,
                    sla_at_risk: None,
                    verdicts: self
                        .board
                        .verdicts
                        .get(ci)
                        .map(|m| m.iter().map(|(k, v)| (k.to_string(), *v)).collect())
                        .unwrap_or_default(),
                }
            })
            .collect();
        campaigns.sort_by(|a, b| a.view.name.cmp(&b.view.name));
        let mut agents: Vec<AgentBoard> = (0..self.agents.len())
            .map(|ai| {
                let in_state = self
                    .board
                    .since
                    .get(ai)
                    .copied()
                    .flatten()
                    .map(|(_, t)| now.saturating_duration_since(t))
                    .unwrap_or_default();
                let (busy, staffed) = self.board.busy.get(ai).copied().unwrap_or_default();
                let calls_today = match self.board.calls_today.get(ai) {
                    Some(&(d, n)) if d == today => n,
                    _ => 0,
                };
                AgentBoard {
                    view: self.agent_view(ai),
                    in_state_ms: u64::try_from(in_state.as_millis()).unwrap_or(u64::MAX),
                    calls_today,
                    occupancy: (!staffed.is_zero())
                        .then(|| busy.as_secs_f64() / staffed.as_secs_f64()),
                }
            })
            .collect();
        agents.sort_by(|a, b| a.view.id.cmp(&b.view.id));
        Wallboard {
            at_ms: self.wall_ms(),
            campaigns,
            agents,
            trunks: Vec::new(),
            audit: Vec::new(),
        }
    }
}
