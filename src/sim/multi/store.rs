//! The in-memory store of a multi-campaign run: the engine harness's
//! [`MemStore`] (leases in the real store's order, nearest
//! SLA deadline first; attempts; call records, counted into the 24 h / 30 d abandon figures the
//! engine throttles on), seeded with each campaign's list and the leads arriving during the
//! run, and the per-campaign figures read back from its records. Owns no decision.

use std::collections::HashMap;

use rand::Rng;

use crate::engine::harness::MemStore;
use crate::sim::dist::stream_rng;

use super::scenario::MultiScenario;

/// RNG stream of lead arrivals (item: campaign index).
pub const STREAM_ARRIVALS: u64 = 5;

/// The first lead id of campaign `i`: each campaign numbers its leads in its own range, so a
/// lead id names one customer whatever the strategy.
pub fn first_lead(i: usize) -> i64 {
    ((i as i64) + 1) << 32
}

/// A store holding every campaign's list (leasable at the start) and the leads arriving during
/// the run (Poisson, from the campaign's own stream), each with its SLA deadline.
pub fn seeded(sc: &MultiScenario, seed: u64, start_wall_ms: i64) -> MemStore {
    let mut store = MemStore::default();
    store.count_records = true;
    let end_ms = sc.duration.0.as_millis() as f64;
    for (i, c) in sc.campaigns.iter().enumerate() {
        let sla_ms = c.sla.map(|d| d.0.as_millis() as i64);
        let mut id = first_lead(i);
        store.add_leads(&c.name, id, c.list_size as i64, start_wall_ms, sla_ms);
        id += c.list_size as i64;
        if c.arrivals_per_hour > 0.0 {
            let mut rng = stream_rng(seed, STREAM_ARRIVALS, i as u64);
            let mean_gap_ms = 3_600_000.0 / c.arrivals_per_hour;
            let mut t = 0.0;
            loop {
                let u: f64 = rng.gen();
                t += -(1.0 - u).ln() * mean_gap_ms;
                if t >= end_ms {
                    break;
                }
                store.add_leads(&c.name, id, 1, start_wall_ms + t as i64, sla_ms);
                id += 1;
            }
        }
    }
    store
}

/// What the store's records say of one campaign.
#[derive(Clone, Copy, Debug, Default)]
pub struct Recorded {
    /// Waits from live answer to agent of connected calls, ms: sum and count.
    pub wait_sum_ms: i64,
    /// See above.
    pub connected: u64,
    /// Leads with an SLA whose deadline fell within the run.
    pub sla_due: u64,
    /// Of those, leads first dialled by their deadline.
    pub sla_met: u64,
}

/// Per campaign (by name): waits from the call records, and the SLA leads dialled in time
/// (`first_dial_ms`: lead id → wall ms of its first dial) among those due by `end_ms`.
pub fn recorded(
    store: &MemStore,
    first_dial_ms: &HashMap<i64, i64>,
    end_ms: i64,
) -> HashMap<String, Recorded> {
    let mut out: HashMap<String, Recorded> = HashMap::new();
    for (attempt, o) in &store.finished {
        let (Some(wait), Some(_)) = (o.wait_ms, o.connect_ms) else {
            continue;
        };
        let Some(lead) = store.lead_of(*attempt).and_then(|l| store.lead(l)) else {
            continue;
        };
        let r = out.entry(lead.lead.campaign.clone()).or_default();
        r.wait_sum_ms += wait;
        r.connected += 1;
    }
    for (campaign, leads) in &store.leads {
        let r = out.entry(campaign.clone()).or_default();
        for m in leads {
            let Some(deadline) = m.lead.sla_deadline_ms else {
                continue;
            };
            if deadline > end_ms {
                continue;
            }
            r.sla_due += 1;
            if first_dial_ms
                .get(&m.lead.lead_id)
                .is_some_and(|&at| at <= deadline)
            {
                r.sla_met += 1;
            }
        }
    }
    out
}
