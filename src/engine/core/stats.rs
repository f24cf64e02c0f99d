//! Figures of one engine run: pacing decision times and answer-to-connect delays (kept
//! as bounded samples for percentiles), the live progress line and the end-of-run summary.
//! Owns no decisions; metrics for Prometheus are pushed from here once a second.

use std::time::Duration;

use serde::Serialize;

use crate::admin::{self, metrics::AbandonWindow};

use super::{Core, SipCommand};

/// Samples kept per figure (a reservoir would be fancier; the first 200,000 of a run suffice for
/// its percentiles and bound memory).
const MAX_SAMPLES: usize = 200_000;

/// Samples of a run (its counts are the campaigns' own: `placed` and the dialers' counters).
#[derive(Debug, Default)]
pub(crate) struct RunStats {
    decisions_us: Vec<u32>,
    connect_ms: Vec<u32>,
    /// Call-progress analysis: answer to verdict, ms.
    cpa_ms: Vec<u32>,
}

impl RunStats {
    pub(crate) fn decision(&mut self, took: Duration) {
        if self.decisions_us.len() < MAX_SAMPLES {
            self.decisions_us
                .push(took.as_micros().min(u32::MAX as u128) as u32);
        }
    }

    pub(crate) fn cpa_delay(&mut self, d: Duration) {
        if self.cpa_ms.len() < MAX_SAMPLES {
            self.cpa_ms.push(d.as_millis().min(u32::MAX as u128) as u32);
        }
    }

    pub(crate) fn connect_delay(&mut self, d: Duration) {
        if self.connect_ms.len() < MAX_SAMPLES {
            self.connect_ms
                .push(d.as_millis().min(u32::MAX as u128) as u32);
        }
    }
}

fn pct(v: &[u32], q: f64) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    let mut s = v.to_vec();
    s.sort_unstable();
    let i = ((s.len() as f64 - 1.0) * q).round() as usize;
    Some(s[i.min(s.len() - 1)] as f64)
}

/// Per-campaign figures at the end of a run.
#[derive(Debug, Clone, Serialize)]
pub struct CampaignSummary {
    /// Campaign.
    pub campaign: String,
    /// Calls placed by this node (attempts committed; a dial the store refused at dial time is
    /// not one).
    pub dials: u64,
    /// Live answers.
    pub live_answers: u64,
    /// Machine answers.
    pub machines: u64,
    /// Abandoned live answers.
    pub abandoned: u64,
    /// abandoned / live answers over the run.
    pub abandon_rate: Option<f64>,
    /// (talk + wrap) / staffed time of the campaign's agents, pacing clock.
    pub occupancy: Option<f64>,
    /// Inbound calls.
    pub inbound_calls: u64,
}

/// The run as a whole.
#[derive(Debug, Clone, Serialize)]
pub struct RunSummary {
    /// Node name.
    pub node: String,
    /// Wall seconds.
    pub wall_s: f64,
    /// Per campaign.
    pub campaigns: Vec<CampaignSummary>,
    /// Pacing decision (one `handle_timeout`) p50 / p99, microseconds.
    pub decision_us_p50: Option<f64>,
    /// See above.
    pub decision_us_p99: Option<f64>,
    /// Answer (200 from the customer) to agent connected, p50 / p99, wall milliseconds.
    pub answer_to_connect_ms_p50: Option<f64>,
    /// See above.
    pub answer_to_connect_ms_p99: Option<f64>,
    /// Call-progress analysis delay (answer to verdict) p50 / p95, ms; `None` without
    /// analysed calls.
    pub analysis_delay_ms_p50: Option<f64>,
    /// See above.
    pub analysis_delay_ms_p95: Option<f64>,
    /// Calls placed per wall second.
    pub calls_per_s: f64,
}

impl Core {
    /// The figures so far, at `at`.
    pub fn summary(&self, at: std::time::Instant) -> RunSummary {
        let now = self.clock.pacing(at);
        let wall_s = at.saturating_duration_since(self.started).as_secs_f64();
        let campaigns = self
            .camps
            .iter()
            .map(|c| {
                let k = c.dialer.counters();
                let t = c.dialer.agent_times(now);
                CampaignSummary {
                    campaign: c.name.clone(),
                    dials: c.placed,
                    live_answers: k.live,
                    machines: k.machines,
                    abandoned: k.abandoned,
                    abandon_rate: (k.live > 0).then(|| k.abandoned as f64 / k.live as f64),
                    occupancy: (t.staffed() > 0).then(|| t.occupancy()),
                    inbound_calls: k.inbound,
                }
            })
            .collect();
        RunSummary {
            node: self.cfg.node.clone(),
            wall_s,
            campaigns,
            decision_us_p50: pct(&self.stats.decisions_us, 0.5),
            decision_us_p99: pct(&self.stats.decisions_us, 0.99),
            answer_to_connect_ms_p50: pct(&self.stats.connect_ms, 0.5),
            answer_to_connect_ms_p99: pct(&self.stats.connect_ms, 0.99),
            analysis_delay_ms_p50: pct(&self.stats.cpa_ms, 0.5),
            analysis_delay_ms_p95: pct(&self.stats.cpa_ms, 0.95),
            calls_per_s: self.camps.iter().map(|c| c.placed).sum::<u64>() as f64 / wall_s.max(1e-9),
        }
    }

    /// One line for a terminal: the run so far, at `at`.
    pub fn progress_line(&self, at: std::time::Instant) -> String {
        let mut busy = 0;
        let mut ready = 0;
        for ai in 0..self.agents.len() {
            match self.agent_state(ai) {
                crate::agents::AgentState::Talking | crate::agents::AgentState::WrapUp => busy += 1,
                crate::agents::AgentState::Ready | crate::agents::AgentState::Reserved => {
                    ready += 1
                }
                _ => {}
            }
        }
        // Every campaign's figures, from the same counters as the summary.
        let (mut dials, mut live, mut abandoned) = (0, 0, 0);
        for c in &self.camps {
            let k = c.dialer.counters();
            (dials, live, abandoned) = (dials + c.placed, live + k.live, abandoned + k.abandoned);
        }
        let rate = if live > 0 {
            100.0 * abandoned as f64 / live as f64
        } else {
            0.0
        };
        format!(
            "{:>5.0}s  dials {:>6}  live {:>5}  abandoned {:>4} ({rate:.2} %)  in flight {:>4}  \
             agents busy {busy} ready {ready}",
            at.saturating_duration_since(self.started).as_secs_f64(),
            dials,
            live,
            abandoned,
            self.calls.len(),
        )
    }

    /// Pushes gauges to the metrics recorder.
    pub(crate) fn push_metrics(&mut self) {
        let mut counts = [0u32; 6];
        for ai in 0..self.agents.len() {
            counts[self.agent_state(ai) as usize] += 1;
        }
        for (i, st) in admin::AgentState::ALL.iter().enumerate() {
            admin::metrics::set_agents(*st, counts.get(i).copied().unwrap_or(0));
        }
        for ci in 0..self.camps.len() {
            let v = self.campaign_view(ci);
            admin::metrics::set_calls_in_flight(&v.name, v.calls_in_flight);
            admin::metrics::set_dial_level(&v.name, v.dial_level);
            admin::metrics::set_abandon_limits(&v.name, v.pacing.target_abandon, v.abandon_cap);
            if let Some(o) = v.occupancy {
                admin::metrics::set_occupancy(&v.name, o);
            }
            let windows = [
                (AbandonWindow::Run, v.abandon_rate.run),
                (AbandonWindow::Day, v.abandon_rate.last_24h),
                (AbandonWindow::Month, v.abandon_rate.last_30d),
            ];
            for (w, r) in windows {
                if let Some(r) = r {
                    admin::metrics::set_abandon_rate(&v.name, w, r);
                }
            }
            let parts = &v.abandon_parts;
            admin::metrics::set_abandon_fp(&v.name, parts.estimated_false_positives, parts.rate);
            let c = &self.camps[ci];
            admin::metrics::set_calls_per_second(&c.name, c.recent_dials.len() as f64 / 10.0);
        }
        // Trunk gauges straight from the endpoint's trunk table, on the SIP task.
        self.emit_sip(SipCommand::PushTrunkGauges);
    }
}
