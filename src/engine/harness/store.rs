//! The harness's in-memory store: leads per campaign (arriving at a given wall time, with or
//! without an SLA deadline), leased in the real store's order (nearest SLA deadline first, then
//! the list's order), attempts, the writes the engine owes, agent claims, node liveness and the
//! dead nodes to recover. It answers [`StoreCommand`]s as plain data; no database.

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::engine::core::{AgentIdx, Figures, StoreCommand, StoreResult};
use crate::engine::writes::Write;
use crate::store::{AttemptOutcome, LeasedLead, OpenLeg, PacingOverride, StoreError};

/// One lead of the in-memory list.
#[derive(Clone, Debug)]
pub struct MemLead {
    /// The lead as a lease returns it.
    pub lead: LeasedLead,
    /// Leasable from this wall time (epoch ms): leads arriving over the day.
    pub arrives_ms: i64,
    /// Leased now.
    pub leased: bool,
    /// Dialled (an attempt was begun).
    pub dialled: bool,
    /// A callback an agent owns, and until when (wall ms): only a lease for that agent takes
    /// it before then.
    pub owner: Option<(String, i64)>,
}

/// The in-memory store.
#[derive(Debug, Default)]
pub struct MemStore {
    /// Leads per campaign, in list order.
    pub leads: BTreeMap<String, Vec<MemLead>>,
    /// Attempts begun: attempt id → lead id.
    pub attempts: Vec<(i64, i64)>,
    /// Call records written: (attempt, outcome).
    pub finished: Vec<(i64, AttemptOutcome)>,
    /// Every write, in the order the engine queued them.
    pub writes: Vec<Write>,
    /// Agents another node owns: never granted by a claim.
    pub claimed_elsewhere: HashSet<String>,
    /// The store is unreachable: leases, attempts and renewals fail (transiently).
    pub down: bool,
    /// Another node reaped this node's row: the next renewal finds it gone.
    pub reaped: bool,
    /// Legs left up by a dead node, handed over at the next reap (which also releases the
    /// agents of those legs from `claimed_elsewhere`).
    pub dead_legs: Vec<OpenLeg>,
    /// Campaign-wide (live, abandoned) over 24 h and 30 days, per campaign (default zero).
    pub rates: BTreeMap<String, Figures>,
    /// Overrides other nodes wrote: (campaign, override, wall-clock ms of that write).
    pub overrides: Vec<(String, PacingOverride, i64)>,
    /// Add this run's own call records to `rates` when the engine reads them (the simulator:
    /// the 24 h / 30 d throttle sees the run's abandons as the real store's figures would).
    pub count_records: bool,
    /// This run's (live, abandoned) per campaign, from the call records written.
    pub recorded: BTreeMap<String, (i64, i64)>,
    /// Numbers put on the do-not-call list by an opt-out: (phone, attempt).
    pub dnc: Vec<(String, i64)>,
    /// A callback's owner grace (the campaign's `callbacks.owner_grace`), ms.
    pub owner_grace_ms: i64,
    next_session: i64,
    /// Leads with an owner: a lease of owned callbacks looks at these only (a simulator's lists
    /// hold many thousand leads and ask every second).
    owned: HashSet<i64>,
    /// Lead id → (campaign, position in its list).
    index: HashMap<i64, (String, usize)>,
}

fn unreachable_store() -> StoreError {
    StoreError::Db(sqlx::Error::PoolTimedOut)
}

impl MemStore {
    /// Adds `n` leads to `campaign`, numbered from `first`, leasable from `arrives_ms`, with an
    /// SLA deadline `sla_ms` after arrival when given.
    pub fn add_leads(
        &mut self,
        campaign: &str,
        first: i64,
        n: i64,
        arrives_ms: i64,
        sla_ms: Option<i64>,
    ) {
        let list = self.leads.entry(campaign.to_string()).or_default();
        for id in first..first + n {
            self.index.insert(id, (campaign.to_string(), list.len()));
            list.push(MemLead {
                lead: LeasedLead {
                    lead_id: id,
                    campaign: campaign.to_string(),
                    phone_e164: format!("+1415555{:04}", id % 10_000),
                    name: None,
                    external_id: None,
                    timezone: "UTC".into(),
                    attributes: "{}".into(),
                    tier: String::new(),
                    owner: None,
                    attempts: 0,
                    sla_deadline_ms: sla_ms.map(|s| arrives_ms + s),
                    lease_until_ms: 0,
                },
                arrives_ms,
                leased: false,
                dialled: false,
                owner: None,
            });
        }
    }

    /// Leads of `campaign` never dialled.
    pub fn undialled(&self, campaign: &str) -> usize {
        self.leads
            .get(campaign)
            .map(|l| l.iter().filter(|m| !m.dialled).count())
            .unwrap_or(0)
    }

    /// The lead of id `lead`.
    pub fn lead(&self, lead: i64) -> Option<&MemLead> {
        let (campaign, i) = self.index.get(&lead)?;
        self.leads.get(campaign)?.get(*i)
    }

    fn lead_mut(&mut self, lead: i64) -> Option<&mut MemLead> {
        let (campaign, i) = self.index.get(&lead)?;
        self.leads.get_mut(campaign)?.get_mut(*i)
    }

    /// The lead an attempt was begun for.
    pub fn lead_of(&self, attempt: i64) -> Option<i64> {
        // Attempt ids are numbered from 1 in the order they were begun.
        let i = usize::try_from(attempt).ok()?.checked_sub(1)?;
        self.attempts
            .get(i)
            .filter(|(a, _)| *a == attempt)
            .map(|(_, l)| *l)
    }

    /// Answers one command: the results to feed back (none for a command that reports
    /// nothing).
    pub fn apply(&mut self, cmd: StoreCommand) -> Vec<StoreResult> {
        match cmd {
            StoreCommand::Lease {
                camp,
                campaign,
                n,
                wall_ms,
                ttl_ms,
                ..
            } => {
                let result = if self.down {
                    Err(unreachable_store())
                } else {
                    Ok(self.lease(&campaign, n, None, wall_ms, ttl_ms))
                };
                vec![StoreResult::Leased { camp, result }]
            }
            StoreCommand::LeaseOwned {
                camp,
                campaign,
                agents,
                wall_ms,
                ttl_ms,
                ..
            } => {
                let result = if self.down {
                    Err(unreachable_store())
                } else if self.owned.is_empty() {
                    Ok(Vec::new())
                } else {
                    Ok(self.lease(&campaign, agents.len(), Some(&agents), wall_ms, ttl_ms))
                };
                vec![StoreResult::LeasedOwned { camp, result }]
            }
            StoreCommand::BeginAttempt { key, lead, .. } => {
                let result = if self.down {
                    Err(unreachable_store())
                } else {
                    let id = self.attempts.len() as i64 + 1;
                    self.attempts.push((id, lead));
                    if let Some(m) = self.lead_mut(lead) {
                        m.dialled = true;
                        m.owner = None;
                    }
                    self.owned.remove(&lead);
                    Ok(id)
                };
                vec![StoreResult::Begun { key, result }]
            }
            StoreCommand::Write(w) => {
                let mut out = Vec::new();
                match &w {
                    Write::Finish { attempt, outcome } => {
                        self.record(*attempt, outcome);
                        self.finished.push((*attempt, outcome.clone()));
                    }
                    Write::Disposition {
                        attempt,
                        disposition: crate::campaign::CallDisposition::Callback,
                        callback_at_ms: Some(at),
                        agent,
                        ..
                    } => {
                        // The lead comes back at the agreed time, owned by the agent for the
                        // grace (the real store's rule, less the retry caps).
                        let grace = self.owner_grace_ms;
                        let lead = self.lead_of(*attempt);
                        if let Some(m) = lead.and_then(|l| self.lead_mut(l)) {
                            m.dialled = false;
                            m.leased = false;
                            m.arrives_ms = *at;
                            m.owner = agent.clone().map(|a| (a, at + grace));
                        }
                        if let (Some(l), Some(_)) = (lead, agent) {
                            self.owned.insert(l);
                        }
                    }
                    Write::Release { leads } => {
                        for id in leads {
                            if let Some(m) = self.lead_mut(*id) {
                                m.leased = false;
                            }
                        }
                    }
                    Write::SessionStart { agent_ix, .. } => {
                        self.next_session += 1;
                        out.push(StoreResult::Session {
                            agent: AgentIdx(*agent_ix),
                            id: self.next_session,
                        });
                    }
                    _ => {}
                }
                self.writes.push(w);
                out.push(StoreResult::Written);
                out
            }
            StoreCommand::RenewNode { sent, .. } => vec![if self.down {
                StoreResult::StoreDown
            } else if self.reaped {
                StoreResult::NodeLost
            } else {
                StoreResult::Renewed(sent)
            }],
            StoreCommand::ReapDeadNodes { .. } => {
                let legs = std::mem::take(&mut self.dead_legs);
                // The dead node's agents are released with it.
                for agent in legs.iter().filter_map(|l| l.agent.as_ref()) {
                    self.claimed_elsewhere.remove(agent);
                }
                if legs.is_empty() {
                    Vec::new()
                } else {
                    vec![StoreResult::Recovered(legs)]
                }
            }
            StoreCommand::ClaimAgents { ids, .. } => vec![StoreResult::Claimed(
                ids.into_iter()
                    .filter(|a| !self.claimed_elsewhere.contains(a))
                    .collect(),
            )],
            StoreCommand::OptOut { attempt, phone, .. } => {
                if !self.dnc.iter().any(|(p, _)| *p == phone) {
                    self.dnc.push((phone, attempt));
                }
                Vec::new()
            }
            StoreCommand::ReadOverrides => vec![StoreResult::Overrides(self.overrides.clone())],
            StoreCommand::ReadRates { camp, campaign, .. } => {
                let (mut day, mut month) = self.rates.get(&campaign).copied().unwrap_or_default();
                if self.count_records {
                    // A run is shorter than a day (scenarios are bounded to a week, but the
                    // engine's windows are what the store counts): every record of the run falls
                    // in both windows.
                    let (live, abandoned) =
                        self.recorded.get(&campaign).copied().unwrap_or_default();
                    day = (day.0 + live, day.1 + abandoned);
                    month = (month.0 + live, month.1 + abandoned);
                }
                vec![StoreResult::Rates { camp, day, month }]
            }
        }
    }

    /// Tallies a call record into its campaign's (live, abandoned), as the real store's abandon
    /// figures count them (live answers: connected, abandoned, cut by shutdown or a crash).
    fn record(&mut self, attempt: i64, outcome: &AttemptOutcome) {
        use crate::campaign::CallDisposition as D;
        let Some(lead) = self.lead_of(attempt) else {
            return;
        };
        let Some(campaign) = self.index.get(&lead).map(|(c, _)| c.clone()) else {
            return;
        };
        let live = outcome.disposition.is_live_answer();
        let t = self.recorded.entry(campaign).or_default();
        t.0 += i64::from(live);
        t.1 += i64::from(outcome.disposition == D::Abandoned);
    }

    /// Up to `n` leads of `campaign` arrived by `wall_ms`, nearest SLA deadline first, then in
    /// list order (the real lease's order, less the calling windows and retry rules). With
    /// `owners`: only callbacks those agents own inside their grace, one per agent; without:
    /// none of those.
    fn lease(
        &mut self,
        campaign: &str,
        n: usize,
        owners: Option<&[String]>,
        wall_ms: i64,
        ttl_ms: i64,
    ) -> Vec<LeasedLead> {
        let Some(list) = self.leads.get_mut(campaign) else {
            return Vec::new();
        };
        let owned_by = |m: &MemLead| match &m.owner {
            Some((a, until)) if *until > wall_ms => Some(a.clone()),
            _ => None,
        };
        let mut free: Vec<usize> = (0..list.len())
            .filter(|&i| !list[i].leased && !list[i].dialled && list[i].arrives_ms <= wall_ms)
            .filter(|&i| match (owners, owned_by(&list[i])) {
                (None, owner) => owner.is_none(),
                (Some(agents), Some(a)) => agents.contains(&a),
                (Some(_), None) => false,
            })
            .collect();
        free.sort_by_key(|&i| (list[i].lead.sla_deadline_ms.unwrap_or(i64::MAX), i));
        if owners.is_some() {
            let mut seen = HashSet::new();
            free.retain(|&i| seen.insert(owned_by(&list[i])));
        }
        free.truncate(n);
        free.into_iter()
            .map(|i| {
                list[i].leased = true;
                let mut l = list[i].lead.clone();
                l.lease_until_ms = wall_ms + ttl_ms;
                l.owner = owners.and_then(|_| owned_by(&list[i]));
                l
            })
            .collect()
    }
}
