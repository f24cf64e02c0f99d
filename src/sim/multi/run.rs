//! One strategy on a multi-campaign scenario: builds the live engine's [`Core`] from the
//! scenario, wraps it in the harness's virtual-time [`World`] with the synthetic SIP side and
//! the seeded in-memory store, carries the scheduled pauses and resumes out as supervisor
//! requests, and reads the figures back. Owns no pacing or routing rule: every decision is
//! Core's.
//!
//! [`Core`]: crate::engine::Core

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::engine::core::AdminRequest;
use crate::engine::harness::{GroupLimits, World};
use crate::pacing::Verdict;
use crate::sim::engine::{RunOptions, StrategyResult};

use super::scenario::MultiScenario;
use super::sip::Customers;
use super::{store, MultiError};

/// How often progress is reported while a run goes on, virtual time.
const PROGRESS_STEP: Duration = Duration::from_secs(60);

/// Figures of one campaign under one strategy (the `campaigns` array of `--json`).
#[derive(Clone, Debug, Serialize)]
pub struct CampaignResult {
    /// Campaign.
    pub campaign: String,
    /// Dial mode it ran with (its own `mode`, or the strategy).
    pub mode: String,
    /// Calls placed.
    pub dials: u64,
    /// Live answers.
    pub live_answers: u64,
    /// Abandoned live answers.
    pub abandoned: u64,
    /// abandoned / live answers (0 without live answers).
    pub abandon_rate: f64,
    /// Share of SLA leads due within the run that were first dialled by their deadline (null
    /// for a campaign without an SLA or with none due).
    pub sla_met: Option<f64>,
    /// Mean wait from live answer to agent, connected calls, seconds.
    pub mean_wait_s: f64,
}

/// Builds the world of `strategy` on `sc` with `seed`, not started.
pub fn world(sc: &MultiScenario, strategy: &str, seed: u64) -> Result<World, MultiError> {
    let cfg = sc.engine_config()?;
    let defs = (0..sc.campaigns.len())
        .map(|i| sc.campaign_def(i, strategy))
        .collect::<Result<Vec<_>, _>>()
        .map_err(MultiError::Build)?;
    let groups: BTreeMap<String, GroupLimits> = sc
        .trunks
        .iter()
        .map(|t| {
            let limits = GroupLimits {
                channels: t.channels,
                cps: t.cps,
            };
            (t.name.clone(), limits)
        })
        .collect();
    let mut w = World::from_parts(cfg, defs, groups)?;
    w.store = store::seeded(sc, seed, w.start_wall_ms);
    let models = (0..sc.campaigns.len())
        .map(|i| (sc.campaigns[i].name.clone(), sc.trunk_model(i)))
        .collect();
    let analysis: BTreeMap<String, crate::sim::analysis::AnalysisSpec> = (0..sc.campaigns.len())
        .filter_map(|i| Some((sc.campaigns[i].name.clone(), sc.analysis_of(i)?.clone())))
        .collect();
    for name in analysis.keys() {
        // The campaign's default analysis: connect people and unsure, hang up the rest.
        let setup = crate::engine::core::CpaSetup {
            settings: std::sync::Arc::new(crate::cpa::settings::CpaSettings::default()),
            library: None,
            policy: crate::campaign::cpa::CpaPolicy::default(),
        };
        if !w.core.set_cpa(name, Some(setup)) {
            return Err(MultiError::Scenario(format!(
                "campaign {name}: analysis needs anchored media"
            )));
        }
    }
    let customers = Customers::new(models, analysis, seed);
    w.sip.script = customers.script();
    w.sip.talk_of = Some(customers.talk());
    w.media.cpa = Some(customers.cpa());
    w.sip.record_commands = false;
    Ok(w)
}

/// Runs `strategy` on `sc` to the end of its duration: the world at the end, for callers that
/// look further than the figures (tests).
pub fn run_world(
    sc: &MultiScenario,
    strategy: &str,
    seed: u64,
    opts: &RunOptions,
) -> Result<World, MultiError> {
    // The engine logs what an operator should see live (an abandon budget spent, a campaign
    // no agent can work); a simulation reports it in its figures instead of one line per event.
    tracing::dispatcher::with_default(&tracing::Dispatch::none(), || {
        run_quiet(sc, strategy, seed, opts)
    })
}

fn run_quiet(
    sc: &MultiScenario,
    strategy: &str,
    seed: u64,
    opts: &RunOptions,
) -> Result<World, MultiError> {
    let mut w = world(sc, strategy, seed)?;
    w.start(Vec::new());
    // Supervisor pauses and resumes, in time order.
    let mut admin: Vec<(Duration, String, bool)> = Vec::new();
    for c in &sc.campaigns {
        if let Some(at) = c.pause_at {
            admin.push((at.0, c.name.clone(), true));
        }
        if let Some(at) = c.resume_at {
            admin.push((at.0, c.name.clone(), false));
        }
    }
    admin.sort_by_key(|(at, _, _)| *at);
    let mut admin = admin.into_iter().peekable();
    let end = w.start + sc.duration.0;
    while w.now < end {
        let mut next = (w.now + PROGRESS_STEP).min(end);
        if let Some((at, _, _)) = admin.peek() {
            next = next.min(w.start + *at);
        }
        let before = w.now;
        w.run_until(next);
        if let Some(p) = &opts.progress {
            let d = w.now.saturating_duration_since(before);
            p.fetch_add(d.as_millis() as u64, Ordering::Relaxed);
        }
        while let Some((_, name, paused)) = admin.next_if(|(at, _, _)| w.start + *at <= w.now) {
            // The names are the config's own, so a refusal is a bug: say so.
            if let Some(crate::engine::core::AdminReply::Paused(Err(e))) =
                w.admin(AdminRequest::SetPaused(name.clone(), paused))
            {
                return Err(MultiError::Scenario(format!("pause/resume {name}: {e}")));
            }
        }
        if w.core.is_done() {
            break;
        }
    }
    Ok(w)
}

/// The figures of a finished world run with `seed`: totals in the single-campaign keys, one
/// [`CampaignResult`] per campaign.
pub fn result_of(
    sc: &MultiScenario,
    strategy: &str,
    seed: u64,
    w: &World,
    wall: Instant,
) -> StrategyResult {
    let summary = w.core.summary(w.now);
    let mut first_dial: HashMap<i64, i64> = HashMap::new();
    for p in &w.sip.placed {
        let at = w.start_wall_ms + p.at.saturating_duration_since(w.start).as_millis() as i64;
        first_dial.entry(p.lead).or_insert(at);
    }
    let records = store::recorded(&w.store, &first_dial, w.wall_ms());
    let mut campaigns = Vec::new();
    for (i, c) in sc.campaigns.iter().enumerate() {
        let s = summary.campaigns.iter().find(|s| s.campaign == c.name);
        let r = records.get(&c.name).copied().unwrap_or_default();
        let (dials, live, abandoned) =
            s.map_or((0, 0, 0), |s| (s.dials, s.live_answers, s.abandoned));
        campaigns.push(CampaignResult {
            campaign: c.name.clone(),
            mode: sc.campaigns[i]
                .mode
                .clone()
                .unwrap_or_else(|| strategy.to_string()),
            dials,
            live_answers: live,
            abandoned,
            abandon_rate: ratio(abandoned, live),
            sla_met: (c.sla.is_some() && r.sla_due > 0).then(|| ratio(r.sla_met, r.sla_due)),
            mean_wait_s: if r.connected > 0 {
                r.wait_sum_ms as f64 / r.connected as f64 / 1000.0
            } else {
                0.0
            },
        });
    }
    // An agent is in one campaign's dialer at a time (it logs out of one before it enters
    // another), so the dialers' agent times add up to the centre's.
    let mut times = crate::agents::StateTimes::default();
    for c in &w.core.camps {
        times.add(&c.dialer.agent_times(w.core.pnow()));
    }
    let mut waits: Vec<i64> = w
        .store
        .finished
        .iter()
        .filter(|(_, o)| o.connect_ms.is_some())
        .filter_map(|(_, o)| o.wait_ms)
        .collect();
    waits.sort_unstable();
    let live: u64 = campaigns.iter().map(|c| c.live_answers).sum();
    let abandoned: u64 = campaigns.iter().map(|c| c.abandoned).sum();
    StrategyResult {
        strategy: strategy.to_string(),
        dials: campaigns.iter().map(|c| c.dials).sum(),
        live_answers: live,
        machines: summary.campaigns.iter().map(|c| c.machines).sum(),
        abandoned,
        // People call-progress analysis hung up on as machines or as something else (the
        // draws of the answered leads), and the dialers' estimate of the former.
        amd_false_positives: analysed_people(sc, w, seed, Verdict::Machine),
        people_classed_other: analysed_people(sc, w, seed, Verdict::Other),
        estimated_false_positives: w
            .core
            .camps
            .iter()
            .map(|c| c.dialer.estimated_false_positives())
            .sum(),
        abandon_rate: ratio(abandoned, live),
        time_to_connect_s: if waits.is_empty() {
            0.0
        } else {
            waits.iter().sum::<i64>() as f64 / waits.len() as f64 / 1000.0
        },
        without_analysis: None,
        occupancy: times.occupancy(),
        talk_share: ratio(
            times.get(crate::agents::AgentState::Talking),
            times.staffed(),
        ),
        mean_wait_s: if waits.is_empty() {
            0.0
        } else {
            waits.iter().sum::<i64>() as f64 / waits.len() as f64 / 1000.0
        },
        p95_wait_s: waits
            .get(((waits.len() as f64 - 1.0) * 0.95).round().max(0.0) as usize)
            .map_or(0.0, |&w| w as f64 / 1000.0),
        inbound_calls: summary.campaigns.iter().map(|c| c.inbound_calls).sum(),
        inbound_service_level: None,
        events: w.events,
        wall_s: wall.elapsed().as_secs_f64(),
        series: Vec::new(),
        outcomes: Vec::new(),
        calls: Vec::new(),
        campaigns,
    }
}

/// People among the dialled leads of analysed campaigns whose verdict was `v` (drawn again
/// from the leads' own streams, as the run drew them).
fn analysed_people(sc: &MultiScenario, w: &World, seed: u64, v: Verdict) -> u64 {
    let models = (0..sc.campaigns.len())
        .map(|i| (sc.campaigns[i].name.clone(), sc.trunk_model(i)))
        .collect();
    let analysis = (0..sc.campaigns.len())
        .filter_map(|i| Some((sc.campaigns[i].name.clone(), sc.analysis_of(i)?.clone())))
        .collect();
    let customers = Customers::new(models, analysis, seed);
    let mut seen = std::collections::HashSet::new();
    w.sip
        .placed
        .iter()
        .filter(|p| seen.insert((p.campaign.clone(), p.lead)))
        .filter(|p| {
            customers
                .draw(&p.campaign, p.lead)
                .is_some_and(|d| d.outcome == crate::sim::dist::Outcome::Live)
                && customers
                    .verdict(&p.campaign, p.lead)
                    .is_some_and(|(got, _)| got == v)
        })
        .count() as u64
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}
