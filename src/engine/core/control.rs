//! Supervisor requests to the running engine, decided: [`Core::on_admin`] answers each
//! [`AdminRequest`] (the shell carries the reply back to the admin API). Pacing changes take
//! effect at the next pacing tick, and are also written to the store so every node sharing it
//! follows. The audit trail is the store's.
//!
//! Also owns the two rules no supervisor value gets past: every pacing change, from the API or
//! read back from the store, is checked against the bounds of `admin::validate` and the
//! campaign's state (its legal `abandon_cap`, its trunks' CPS) before it is applied; and a
//! campaign whose 24-hour or 30-day abandon budget is spent dials progressively whatever its mode
//! ([`budgeted_mode`], a pure rule) until it is back under its target.

use crate::admin::validate;
use crate::admin::{
    AbandonParts, AbandonRates, AgentCounts, CampaignView, ControlError, PacingChange,
    PacingSettings, PacingUpdate,
};
use crate::agents::AgentState;
use crate::campaign::DialMode;
use crate::pacing::Mode;
use crate::sip::TrunksConfig;
use crate::store::PacingOverride;

use crate::engine::writes::Write;

use super::{mode_of, AdminReply, AdminRequest, Core};

/// True when the campaign's abandon budget is spent: over the last 24 hours or the last 30 days
/// (`(live, abandoned)`, campaign-wide, every node) the abandons have reached `target` × live
/// answers, so not one more abandon fits under the cap.
pub fn budget_spent(target: f64, day: (i64, i64), month: (i64, i64)) -> bool {
    let spent = |(live, ab): (i64, i64)| live > 0 && ab as f64 >= target * live as f64;
    spent(day) || spent(month)
}

/// The dial mode handed to the dialer, given the supervisor's `mode` and `target` and the
/// campaign's 24-hour and 30-day `(live, abandoned)` figures (`None` until first read from the
/// store): the supervisor's mode while the budget has abandons left; progressive (one call per
/// ready agent, the agent reserved: no abandon possible) once it is spent, or while it is not
/// known yet, whatever the mode — power and rate included. Preview, slower still, stays preview.
/// No supervisor value changes this: it is the one rule no knob overrides.
pub fn budgeted_mode(mode: Mode, target: f64, figures: Option<Figures>) -> Mode {
    let spent = figures.is_none_or(|(day, month)| budget_spent(target, day, month));
    if spent && mode != Mode::Preview {
        Mode::Progressive
    } else {
        mode
    }
}

/// A campaign's `(live, abandoned)` over the last 24 hours and the last 30 days.
pub type Figures = ((i64, i64), (i64, i64));

/// The highest `rate:λ` a campaign may be set to: the calls per second its trunk group's trunks
/// accept together (`None` when the group is unknown, which the engine refuses at start).
fn group_cps(trunks: &TrunksConfig, group: &str) -> Option<f64> {
    let g = trunks.groups.iter().find(|g| g.name == group)?;
    Some(
        trunks
            .trunks
            .iter()
            .filter(|t| g.trunks.contains(&t.name))
            .map(|t| f64::from(t.max_cps))
            .sum(),
    )
}

fn rate(live: i64, abandoned: i64) -> Option<f64> {
    (live > 0).then(|| abandoned as f64 / live as f64)
}

impl Core {
    /// Answers one supervisor request.
    pub(crate) fn on_admin(&mut self, req: AdminRequest) -> AdminReply {
        match req {
            AdminRequest::Campaigns => AdminReply::Campaigns(Ok((0..self.camps.len())
                .map(|ci| self.campaign_view(ci))
                .collect())),
            AdminRequest::Campaign(name) => {
                AdminReply::Campaign(self.camp_ix(&name).map(|ci| self.campaign_view(ci)))
            }
            AdminRequest::SetPacing(name, change) => {
                let res = self.set_pacing(&name, &change);
                if res.is_ok() {
                    self.share_override(
                        &name,
                        PacingOverride {
                            mode: change.mode,
                            ratio: change.ratio,
                            max_ratio: change.max_ratio,
                            target_abandon: change.target_abandon,
                            paused: None,
                        },
                    );
                }
                AdminReply::Pacing(res)
            }
            AdminRequest::SetPaused(name, paused) => {
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
                AdminReply::Paused(res)
            }
            AdminRequest::Agents => AdminReply::Agents(Ok((0..self.agents.len())
                .map(|ai| self.agent_view(ai))
                .collect())),
            AdminRequest::AgentAction(id, action) => {
                AdminReply::Agent(self.agent_action(&id, action))
            }
            AdminRequest::Current(id) => AdminReply::Current(self.current_call(&id)),
            AdminRequest::Wallboard => AdminReply::Wallboard(Ok(self.wallboard())),
        }
    }

    /// Checks a pacing change against every bound (see [`validate`]) and the campaign's state:
    /// its legal `abandon_cap`, its `max_ratio`, and its trunks' CPS for `rate:λ`. The API's
    /// router checked all but the CPS already; a change read from the store (written by another
    /// node, or by an older version) has been checked by nobody. Returns the change with its
    /// mode in canonical form.
    fn check_change(&self, ci: usize, change: &PacingChange) -> Result<PacingChange, ControlError> {
        let c = &self.camps[ci];
        validate::pacing_change(change).map_err(|e| ControlError::Invalid(e.to_string()))?;
        let change = change.clone();
        validate::pacing_against(&c.settings, c.def.dialing.abandon_cap, &change)
            .map_err(|e| ControlError::Invalid(e.to_string()))?;
        if let Some(DialMode::Rate { per_s }) = change.mode {
            let cps = group_cps(&self.cfg.trunks(), &c.def.trunk_group).unwrap_or(0.0);
            if per_s > cps {
                return Err(ControlError::Invalid(format!(
                    "mode rate:{per_s}: the rate must be in [{}, {cps}] calls/s (the trunks' \
                     CPS of trunk group {})",
                    validate::MIN_RATE,
                    c.def.trunk_group
                )));
            }
        }
        Ok(change)
    }

    /// Applies a pacing change to a campaign's dialer, once [`Core::check_change`] accepts it.
    fn set_pacing(
        &mut self,
        name: &str,
        change: &PacingChange,
    ) -> Result<PacingUpdate, ControlError> {
        let ci = self.camp_ix(name)?;
        let change = &self.check_change(ci, change)?;
        let old = self.camps[ci].settings.clone();
        let mut new = old.clone();
        if let Some(m) = change.mode {
            new.mode = m;
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
        let mode = mode_of(&new);
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
        // Strictly increasing per campaign, so two changes in one millisecond stay ordered.
        let mut wall_ms = self.wall_ms();
        if let Ok(ci) = self.camp_ix(name) {
            wall_ms = wall_ms.max(self.camps[ci].override_ms + 1);
            self.camps[ci].override_ms = wall_ms;
        }
        self.queue_write(Write::Override {
            campaign: name.to_string(),
            change: o,
            wall_ms,
        });
    }

    /// Overrides read from the store (written by any node): apply what differs. Each is
    /// checked again like an API change (another node or an older version may have written a
    /// value out of bounds): a bad one is logged and ignored, the campaign keeps its settings.
    /// A row older than this node's own latest change is skipped (see `Camp::override_ms`);
    /// nodes' clocks are assumed to agree to well under the time between two supervisor changes.
    pub(crate) fn apply_overrides(&mut self, rows: Vec<(String, PacingOverride, i64)>) {
        for (name, o, written_ms) in rows {
            let Ok(ci) = self.camp_ix(&name) else {
                continue;
            };
            if written_ms < self.camps[ci].override_ms {
                tracing::debug!(campaign = %name, written_ms, "stored override older than this node's change");
                continue;
            }
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
    /// while either window has no abandons left to spend, the dialer runs progressive whatever
    /// the supervisor's mode ([`budgeted_mode`]); the supervisor's mode comes back once both
    /// windows are under the target again. Called whenever the figures, the settings or the
    /// pause change.
    pub(crate) fn apply_budget(&mut self, ci: usize) {
        let c = &self.camps[ci];
        let wanted = mode_of(&c.settings);
        let target = c.settings.target_abandon;
        let figures = c.rates_read.then_some((c.day, c.month));
        let mode = budgeted_mode(wanted, target, figures);
        let mut p = c.dialer.params().clone();
        if p.mode == mode && (p.target_abandon - target).abs() <= 1e-12 {
            return;
        }
        if mode != wanted && p.mode == wanted && c.rates_read {
            tracing::warn!(
                campaign = %c.name,
                supervisor_mode = %wanted,
                day = ?c.day,
                month = ?c.month,
                target,
                "abandon budget spent: dialling progressively until back under the target"
            );
        } else if mode == wanted && p.mode != wanted && c.rates_read {
            tracing::info!(campaign = %c.name, mode = %wanted, "abandon budget back under the target");
        }
        p.mode = mode;
        p.target_abandon = target;
        let now = self.pnow();
        if let Err(e) = self.camps[ci].dialer.set_params(now, p) {
            // The same values were accepted by `set_pacing`; only the mode differs.
            tracing::error!(campaign = %self.camps[ci].name, error = %e, "abandon budget not applied");
        }
    }

    /// The supervisor view of one campaign.
    pub(crate) fn campaign_view(&self, ci: usize) -> CampaignView {
        let c = &self.camps[ci];
        let k = c.dialer.counters();
        let mut agents = AgentCounts::default();
        for ai in 0..self.agents.len() {
            let a = &self.agents[ai];
            let state = self.agent_state(ai);
            // A logged-out agent has no home campaign: it counts for every campaign it may
            // work (its configured group and skills), if this node holds it. (One logged in
            // but still connecting has none yet either: not logged out, not counted.)
            let counted = match a.home {
                Some(home) => home == ci,
                None => !a.logged_in && a.claimed && super::agents::can_work(&a.spec, &c.def),
            };
            if !counted {
                continue;
            }
            match state {
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
            abandon_cap: c.def.dialing.abandon_cap,
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
            abandon_parts: abandon_parts(&c.dialer),
            occupancy: (times.staffed() > 0).then(|| times.occupancy()),
            agents,
        }
    }
}

/// The run's abandon figure in its two parts, from the campaign's dialer.
fn abandon_parts(d: &crate::pacing::Dialer) -> AbandonParts {
    let k = d.counters();
    let delay = d.planned_analysis_delay();
    // Without analysis nobody is hung up on as a machine: no rate, no estimate to show.
    let (fp_rate, source) = match (&delay, d.false_positive_rate()) {
        (None, _) => (0.0, "off"),
        (Some(_), (r, crate::pacing::FpSource::Configured)) => (r, "configured"),
        (Some(_), (r, crate::pacing::FpSource::Measured)) => (r, "measured"),
    };
    let estimated = if delay.is_some() {
        d.estimated_false_positives()
    } else {
        0.0
    };
    AbandonParts {
        abandoned: k.abandoned,
        estimated_false_positives: estimated,
        machine_verdicts: k.machine_verdicts,
        fp_rate,
        fp_source: source.to_string(),
        machine_marks: k.machine_marks,
        rate: (k.live > 0 || estimated > 0.0).then(|| d.abandon_figure()),
        analysis: delay.is_some(),
        analysis_delay_s: delay.map(|d| d.mean()),
    }
}

#[cfg(test)]
mod tests {
    use super::{budget_spent, budgeted_mode};
    use crate::pacing::Mode;

    #[test]
    fn a_spent_24h_or_30d_budget_is_detected_on_either_window() {
        assert!(!budget_spent(0.03, (1000, 20), (30_000, 600)));
        assert!(budget_spent(0.03, (1000, 30), (30_000, 600)));
        assert!(budget_spent(0.03, (1000, 10), (30_000, 900)));
        assert!(!budget_spent(0.03, (0, 0), (0, 0)));
    }

    #[test]
    fn a_spent_budget_dials_progressively_whatever_the_mode() {
        let spent = ((1000, 30), (30_000, 600));
        let month_spent = ((1000, 0), (30_000, 900));
        let fine = ((1000, 20), (30_000, 600));
        for mode in [
            Mode::Power { ratio: 3.0 },
            Mode::Rate { per_s: 50.0 },
            Mode::Predictive,
            Mode::Progressive,
            Mode::Adaptive {
                drop_rule: crate::pacing::DropRule::Average,
            },
        ] {
            for (day, month) in [spent, month_spent] {
                assert_eq!(
                    budgeted_mode(mode, 0.03, Some((day, month))),
                    Mode::Progressive,
                    "{mode} with its budget spent"
                );
            }
            assert_eq!(
                budgeted_mode(mode, 0.03, None),
                Mode::Progressive,
                "{mode} before the figures are known"
            );
            assert_eq!(budgeted_mode(mode, 0.03, Some(fine)), mode);
        }
        // Preview is slower than progressive already.
        assert_eq!(
            budgeted_mode(Mode::Preview, 0.03, Some(spent)),
            Mode::Preview
        );
    }
}
