//! Supervisor control of the running engine: [`EngineControl`] implements the admin API's
//! [`Control`] by sending commands to the engine loop (each answered on a oneshot channel), and
//! the loop side applies them — pacing changes take effect at the next pacing tick, and are also
//! written to the store so every node sharing it follows. The audit trail is the store's.

use tokio::sync::{mpsc, oneshot};

use crate::admin::{
    AbandonRates, AgentAction, AgentCounts, AgentView, AuditRow, AuditSink, BoxFuture,
    CampaignView, Control, ControlError, PacingChange, PacingSettings, PacingUpdate, ScreenPop,
};
use crate::agents::AgentState;
use crate::store::{PacingOverride, Store};

use super::core::{mode_of, reply, Engine, Msg};
use super::writes::Write;

type Reply<T> = oneshot::Sender<Result<T, ControlError>>;

/// A command from the admin API to the engine loop.
pub(crate) enum AdminCmd {
    Campaigns(Reply<Vec<CampaignView>>),
    Campaign(String, Reply<CampaignView>),
    SetPacing(String, PacingChange, Reply<PacingUpdate>),
    SetPaused(String, bool, Reply<bool>),
    Agents(Reply<Vec<AgentView>>),
    AgentAction(String, AgentAction, Reply<AgentView>),
    Current(String, Reply<Option<ScreenPop>>),
}

/// The admin API's handle on the engine.
pub struct EngineControl {
    tx: mpsc::UnboundedSender<Msg>,
    store: Store,
}

impl EngineControl {
    pub(crate) fn new(tx: mpsc::UnboundedSender<Msg>, store: Store) -> Self {
        EngineControl { tx, store }
    }

    async fn ask<T>(&self, make: impl FnOnce(Reply<T>) -> AdminCmd) -> Result<T, ControlError> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(Msg::Admin(make(tx)))
            .map_err(|_| ControlError::Unavailable("the engine has stopped".into()))?;
        rx.await
            .map_err(|_| ControlError::Unavailable("the engine has stopped".into()))?
    }
}

impl AuditSink for EngineControl {
    fn audit(&self, rows: Vec<AuditRow>) -> BoxFuture<'_, Result<(), ControlError>> {
        Box::pin(async move {
            self.store
                .audit(&rows)
                .await
                .map_err(|e| ControlError::Internal(e.to_string()))
        })
    }
}

impl Control for EngineControl {
    fn campaigns(&self) -> BoxFuture<'_, Result<Vec<CampaignView>, ControlError>> {
        Box::pin(self.ask(AdminCmd::Campaigns))
    }

    fn campaign<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<CampaignView, ControlError>> {
        Box::pin(self.ask(move |r| AdminCmd::Campaign(name.to_string(), r)))
    }

    fn set_pacing<'a>(
        &'a self,
        campaign: &'a str,
        change: PacingChange,
    ) -> BoxFuture<'a, Result<PacingUpdate, ControlError>> {
        Box::pin(self.ask(move |r| AdminCmd::SetPacing(campaign.to_string(), change, r)))
    }

    fn set_paused<'a>(
        &'a self,
        campaign: &'a str,
        paused: bool,
    ) -> BoxFuture<'a, Result<bool, ControlError>> {
        Box::pin(self.ask(move |r| AdminCmd::SetPaused(campaign.to_string(), paused, r)))
    }

    fn agents(&self) -> BoxFuture<'_, Result<Vec<AgentView>, ControlError>> {
        Box::pin(self.ask(AdminCmd::Agents))
    }

    fn agent_action<'a>(
        &'a self,
        agent: &'a str,
        action: AgentAction,
    ) -> BoxFuture<'a, Result<AgentView, ControlError>> {
        Box::pin(self.ask(move |r| AdminCmd::AgentAction(agent.to_string(), action, r)))
    }

    fn current_call<'a>(
        &'a self,
        agent: &'a str,
    ) -> BoxFuture<'a, Result<Option<ScreenPop>, ControlError>> {
        Box::pin(self.ask(move |r| AdminCmd::Current(agent.to_string(), r)))
    }
}

/// The abandon target handed to the dialer, given the supervisor's `target` and the campaign's
/// (live, abandoned) over the last 24 hours and 30 days (all nodes): the full target while both
/// windows have abandons left to spend, a quarter of it once either has none.
pub(crate) fn effective_target(target: f64, day: (i64, i64), month: (i64, i64)) -> f64 {
    let spent = |(live, ab): (i64, i64)| live > 0 && ab as f64 >= target * live as f64;
    if spent(day) || spent(month) {
        target * 0.25
    } else {
        target
    }
}

fn rate(live: i64, abandoned: i64) -> Option<f64> {
    (live > 0).then(|| abandoned as f64 / live as f64)
}

impl Engine {
    pub(crate) fn on_admin(&mut self, cmd: AdminCmd) {
        match cmd {
            AdminCmd::Campaigns(r) => {
                let v = (0..self.camps.len())
                    .map(|ci| self.campaign_view(ci))
                    .collect();
                reply(r, Ok(v));
            }
            AdminCmd::Campaign(name, r) => {
                reply(r, self.camp_ix(&name).map(|ci| self.campaign_view(ci)));
            }
            AdminCmd::SetPacing(name, change, r) => {
                let res = self.set_pacing(&name, &change);
                if res.is_ok() {
                    self.share_override(
                        &name,
                        PacingOverride {
                            mode: change.mode.clone(),
                            ratio: change.ratio,
                            max_ratio: change.max_ratio,
                            target_abandon: change.target_abandon,
                            paused: None,
                        },
                    );
                }
                reply(r, res);
            }
            AdminCmd::SetPaused(name, paused, r) => {
                let res = self.camp_ix(&name).map(|ci| {
                    let was = self.camps[ci].paused;
                    self.camps[ci].paused = paused;
                    self.apply_budget(ci);
                    was
                });
                if res.is_ok() {
                    self.share_override(
                        &name,
                        PacingOverride {
                            paused: Some(paused),
                            ..PacingOverride::default()
                        },
                    );
                }
                reply(r, res);
            }
            AdminCmd::Agents(r) => {
                reply(
                    r,
                    Ok((0..self.agents.len())
                        .map(|ai| self.agent_view(ai))
                        .collect()),
                );
            }
            AdminCmd::AgentAction(id, action, r) => reply(r, self.agent_action(&id, action)),
            AdminCmd::Current(id, r) => reply(r, self.current_call(&id)),
        }
    }

    /// Applies a (validated) pacing change to a campaign's dialer.
    fn set_pacing(
        &mut self,
        name: &str,
        change: &PacingChange,
    ) -> Result<PacingUpdate, ControlError> {
        let ci = self.camp_ix(name)?;
        let old = self.camps[ci].settings.clone();
        let mut new = old.clone();
        if let Some(m) = &change.mode {
            new.mode = m.clone();
        }
        if let Some(x) = change.ratio {
            new.ratio = x;
        }
        if let Some(x) = change.max_ratio {
            new.max_ratio = x;
        }
        if let Some(x) = change.target_abandon {
            new.target_abandon = x;
        }
        let mode = mode_of(&new).map_err(ControlError::Invalid)?;
        let mut params = self.camps[ci].dialer.params().clone();
        params.mode = mode;
        params.max_ratio = new.max_ratio;
        params.target_abandon = new.target_abandon;
        let now = self.pnow();
        self.camps[ci]
            .dialer
            .set_params(now, params)
            .map_err(|e| ControlError::Invalid(e.to_string()))?;
        self.camps[ci].settings = new.clone();
        self.apply_budget(ci);
        tracing::info!(campaign = name, ?old, ?new, "pacing changed");
        Ok(PacingUpdate {
            campaign: name.to_string(),
            old,
            new,
        })
    }

    /// Writes a change to the store so the other nodes apply it too.
    fn share_override(&mut self, name: &str, o: PacingOverride) {
        let wall_ms = self.clock.wall_ms();
        self.queue_write(Write::Override {
            campaign: name.to_string(),
            change: o,
            wall_ms,
        });
    }

    /// Overrides read from the store (written by any node): apply what differs.
    pub(crate) fn apply_overrides(&mut self, rows: Vec<(String, PacingOverride)>) {
        for (name, o) in rows {
            let Ok(ci) = self.camp_ix(&name) else {
                continue;
            };
            if let Some(p) = o.paused {
                if self.camps[ci].paused != p {
                    self.camps[ci].paused = p;
                    self.apply_budget(ci);
                }
            }
            let s = &self.camps[ci].settings;
            let change = PacingChange {
                mode: o.mode.filter(|m| m != &s.mode),
                ratio: o.ratio.filter(|x| *x != s.ratio),
                max_ratio: o.max_ratio.filter(|x| *x != s.max_ratio),
                target_abandon: o.target_abandon.filter(|x| *x != s.target_abandon),
            };
            if !change.is_empty() {
                if let Err(e) = self.set_pacing(&name, &change) {
                    tracing::warn!(campaign = %name, error = %e, "stored override not applied");
                }
            }
        }
    }

    /// Keeps the 24-hour and 30-day abandon rates (campaign-wide, every node) under target:
    /// when either window has no abandons left to spend at its current volume, the dialer's
    /// own target is cut to a quarter, which makes predictive dial nearly progressively until
    /// the window recovers.
    pub(crate) fn apply_budget(&mut self, ci: usize) {
        let c = &mut self.camps[ci];
        let eff = effective_target(c.settings.target_abandon, c.day, c.month);
        let mut p = c.dialer.params().clone();
        if (p.target_abandon - eff).abs() > 1e-12 {
            p.target_abandon = eff;
            let now = self.clock.pacing(std::time::Instant::now());
            let _ = self.camps[ci].dialer.set_params(now, p);
        }
    }

    /// The supervisor view of one campaign.
    pub(crate) fn campaign_view(&self, ci: usize) -> CampaignView {
        let c = &self.camps[ci];
        let k = c.dialer.counters();
        let mut agents = AgentCounts::default();
        for ai in 0..self.agents.len() {
            if self.agents[ai].home != Some(ci) {
                continue;
            }
            match self.agent_state(ai) {
                AgentState::LoggedOut => agents.logged_out += 1,
                AgentState::Ready => agents.ready += 1,
                AgentState::Reserved => agents.reserved += 1,
                AgentState::Talking => agents.talking += 1,
                AgentState::WrapUp => agents.wrap_up += 1,
                AgentState::Paused => agents.paused += 1,
            }
        }
        let times = c.dialer.agent_times(self.pnow());
        let active = c.dialer.active_agents();
        CampaignView {
            name: c.name.clone(),
            pacing: PacingSettings {
                ..c.settings.clone()
            },
            paused: c.paused,
            dial_level: if active > 0 {
                c.dialer.lines_in_use() as f64 / active as f64
            } else {
                0.0
            },
            calls_in_flight: c.dialer.lines_in_use(),
            abandon_rate: AbandonRates {
                run: rate(k.live as i64, k.abandoned as i64),
                last_24h: rate(c.day.0, c.day.1),
                last_30d: rate(c.month.0, c.month.1),
            },
            occupancy: (times.staffed() > 0).then(|| times.occupancy()),
            agents,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::effective_target;

    #[test]
    fn a_spent_24h_or_30d_budget_tightens_the_dialer() {
        assert_eq!(effective_target(0.03, (1000, 20), (30_000, 600)), 0.03);
        assert_eq!(effective_target(0.03, (1000, 30), (30_000, 600)), 0.0075);
        assert_eq!(effective_target(0.03, (1000, 10), (30_000, 900)), 0.0075);
        assert_eq!(effective_target(0.03, (0, 0), (0, 0)), 0.03);
    }
}
