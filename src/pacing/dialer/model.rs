//! Keeping a [`Dialer`]'s model in step: refitting the forecast tables from the estimators,
//! the safe cold-start cap, how warm the estimates are, and the once-a-minute loops (blending
//! reserve, calibration offset). The strategies read the results through the
//! [`crate::pacing::dialer::Floor`]; nothing here launches a call.

use crate::pacing::analysis::Verdict;
use crate::pacing::dialer::{Dialer, RESERVE_MS};
use crate::pacing::estimate::Class;
use crate::pacing::forecast::RingModel;
use crate::pacing::opening::{Agents, COLD_TURNOVER, MIN_SETTLED};
use crate::pacing::predictive::Fitted;
use crate::pacing::timer::Timer;
use crate::pacing::Millis;

impl Dialer {
    /// Rebuilds the forecast tables from the estimators, and schedules the next refit.
    pub(super) fn refit(&mut self, now: Millis) {
        // Until the estimates are warm, the model too takes the live-answer rate at the upper
        // bound of what the settled calls allow (the prior may be far below the trunk's).
        let mut live = self.outcomes.p(Class::Live);
        if self.warmth() < 1.0 {
            let u = self
                .opening
                .upper_live(now, self.params.no_answer_timeout_ms, self.in_flight);
            live = live.max(u);
        }
        // With call-progress analysis, `live` is already the share of dials with a human
        // verdict (the verdict is what `Class::Live` records then): the people it hangs up on
        // as machines never reach an agent, and are counted in the abandon budget instead
        // (`Floor::price`). The ring model adds the analysis delay before an agent is needed.
        let rest = (1.0 - live).max(0.0);
        let (machine, quick) = (
            self.outcomes.p(Class::Machine),
            self.outcomes.p(Class::Quick),
        );
        let shrink = if machine + quick > rest {
            rest / (machine + quick)
        } else {
            1.0
        };
        let ring = RingModel {
            live,
            machine: machine * shrink,
            quick: quick * shrink,
            quick_mean_s: self.quick_fit.dist().mean(),
            ring: self.ring_fit.dist(),
            timeout_s: self.params.no_answer_timeout_ms as f64 / 1000.0,
            analysis: self.analysis.active().then(|| self.analysis.delay()),
        };
        // Cold start: only short calls have ended yet; the calls still running say how long the
        // others last at least (see `DurationFit::dist_censored`).
        let (talking, wrapping) = self.forecast.in_progress(now);
        let (talk, talk_in, wrap) = (
            self.talk_fit.dist_censored(&talking),
            self.talk_in_fit.dist(),
            self.wrap_fit.dist_censored(&wrapping),
        );
        self.forecast.rel_sd = self.outcomes.rel_sd(Class::Live);
        self.forecast.refit(&Fitted {
            talk_out: &talk,
            talk_in: (self.counters.inbound > 0).then_some(&talk_in),
            wrap: &wrap,
            ring: &ring,
            patience_s: self.params.patience_ms as f64 / 1000.0,
            analysis_human: self.analysis.p(Verdict::Human),
        });
        // Learn fast at first, then every 5 minutes (a refit costs about a millisecond).
        let gap = if now.since(self.start) < 600_000 {
            30_000
        } else {
            300_000
        };
        self.timers.set(Timer::Refit, now.plus(gap));
    }

    /// The safe cold-start cap on new calls while the estimates are cold (see
    /// [`crate::pacing::opening`]); `None` once this dialer's agents have completed
    /// [`COLD_TURNOVER`] talks each (at least 20) and [`MIN_SETTLED`] outcomes are settled.
    pub(super) fn cold_cap(&mut self, now: Millis) -> Option<u32> {
        let timeout = self.params.no_answer_timeout_ms;
        // Only this dialer's own talks count: after a warm start every agent is ready at once,
        // and the model prices each call at the margin, not the wave's total overflow (a wave
        // of calls for idle agents all answer together); the cap, at the learned upper bound,
        // sizes that wave (measured on a restart of 40 agents: 4 abandons of 44 live answers
        // in the first wave without it).
        let talks = (COLD_TURNOVER * self.active_out as f64).max(20.0);
        let own = self.talk_fit.count().saturating_sub(self.seeded_talks);
        if own as f64 >= talks && self.opening.settled(now, timeout) >= MIN_SETTLED {
            return None;
        }
        let agents = Agents {
            ready: self.idle_out,
            ahead: self.waiting.len() as u32 + self.inbound_ahead() as u32,
        };
        // Calls in analysis may still be people: they count in the wave. The people analysis
        // will hang up on as machines spend the budget too, at the prior's mix until the
        // verdicts say otherwise: the wave gets what is left of the target.
        let target = (self.params.target_abandon - self.analysis.fp_per_live()).max(0.0);
        let c = self.opening.cap(
            now,
            timeout,
            target,
            agents,
            self.in_flight + self.analysing,
        );
        Some(c)
    }

    /// How far the estimates are from their cold-start priors, in [0, 1]: completed outbound
    /// talks against twice the outbound team (at least 20). 1 once the team has turned over
    /// twice; predictive pacing is near-progressive before that ([`crate::pacing::predictive::AbandonControl`]).
    pub(super) fn warmth(&self) -> f64 {
        let need = (2.0 * self.active_out as f64).max(20.0);
        (self.talk_fit.count() as f64 / need).min(1.0)
    }

    /// Calibration: every minute, if the last minute's abandon rate exceeded the target while θ
    /// was already at its floor, the model is over-confident (a bias θ cannot price away, most
    /// visible in very large pools where Free and Ahead are sharp): count extra agents' worth of
    /// load as "ahead". The offset decays when the recent rate is well under the goal.
    pub(super) fn update_bias(&mut self) {
        let c = self.counters;
        let (live, ab) = (c.live - self.bias_mark.0, c.abandoned - self.bias_mark.1);
        self.bias_mark = (c.live, c.abandoned);
        if live < 20 {
            return;
        }
        let rate = ab as f64 / live as f64;
        let target = self.params.target_abandon;
        let floor = self.last_theta <= 2.0 * crate::pacing::predictive::THETA_MIN;
        if rate > target && floor {
            self.bias += 1.0 + 0.01 * self.active_out as f64;
        } else if rate < 0.5 * target * self.params.abandon_margin {
            self.bias = (self.bias - 0.25 - 0.002 * self.active_out as f64).max(0.0);
        }
    }

    /// Blending reserve: every minute, compare the recent inbound service level with its
    /// objective and move the reserve (agents' worth of "ahead" load) up or down.
    pub(super) fn update_reserve(&mut self, now: Millis) {
        let (n, ok) = self.sl_window;
        if n >= 20.0 {
            let sl = ok / n;
            if sl < self.params.service_level {
                self.reserve += 1.0 + 0.02 * self.active_out as f64;
            } else if sl > (self.params.service_level + 0.05).min(0.999) {
                self.reserve = (self.reserve - 0.5).max(0.0);
            }
        }
        // Exponential memory of about ten minutes.
        self.sl_window = (n * 0.9, ok * 0.9);
        self.timers.set(Timer::Reserve, now.plus(RESERVE_MS));
    }
}
