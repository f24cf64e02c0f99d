//! Owned callbacks in the live engine. A callback an agent scheduled at wrap-up is that agent's
//! until its time plus the campaign's `callbacks.owner_grace` (the store's rule, enforced in the
//! lease: see `store::lease`). While the agent works the campaign on this node, the engine leases
//! the agent's due callbacks for it ([`StoreCommand::LeaseOwned`]), keeps each at hand until the
//! agent is ready, then dials it for that agent alone ([`Dialer::dial_for`] reserves the agent,
//! as progressive does): a live answer is connected to the owner and nobody else, and an
//! unanswered call gives the agent back. Once the grace has passed the store hands the lead to
//! the shared pool, and any agent's call may take it.
//!
//! Owns the owned leads at hand and the calls launched for them; decides nothing about who may
//! take a lead when (the store's lease) nor how many calls the campaign dials (its dialer).
//!
//! [`Dialer::dial_for`]: crate::pacing::dialer::Dialer::dial_for

use std::time::Duration;

use crate::agents::AgentState;
use crate::engine::config::WrapUp;
use crate::store::{LeasedLead, StoreError};

use super::{CampaignId, Core, StoreCommand};

/// How often a campaign asks the store for the callbacks its agents own: a callback due now is
/// dialled within about this long of its owner being ready.
const OWNED_POLL: Duration = Duration::from_secs(1);

/// Owned leads are released this long before their lease ends (and leased again if still due),
/// as the shared buffer's are.
const OWNED_MARGIN: Duration = Duration::from_secs(20);

impl Core {
    /// Whether agent `ai` works campaign `ci` on this node now (logged in, owned, home there)
    /// and may own callbacks: only agents whose desktop wraps up (`wrap_up: api`) schedule them;
    /// synthetic agents never do, and are never asked for (simulators run thousands).
    fn works_here(&self, ai: usize, ci: usize) -> bool {
        let a = &self.agents[ai];
        a.spec.wrap_up == WrapUp::Api
            && a.logged_in
            && a.claimed
            && !a.conn_lost
            && a.home == Some(ci)
    }

    /// Housekeeping: gives back owned leads whose agent left the campaign (or whose lease is
    /// ending), and asks for the due callbacks of the campaign's agents that hold none.
    pub(crate) fn refill_owned_callbacks(&mut self) {
        if self.stopping.is_some() {
            return;
        }
        let now = self.now;
        let ttl = self.cfg.lease.ttl.0;
        let blocked = self.dial_blocked();
        for ci in 0..self.camps.len() {
            let held = std::mem::take(&mut self.camps[ci].owned);
            let (keep, back): (Vec<_>, Vec<_>) = held.into_iter().partition(|(ai, at, _)| {
                self.works_here(*ai, ci) && now.duration_since(*at) + OWNED_MARGIN < ttl
            });
            self.camps[ci].owned = keep;
            let ids = back.into_iter().map(|(_, _, l)| l.lead_id).collect();
            self.release_leases("release owned callbacks", ids);

            let c = &self.camps[ci];
            if c.paused || blocked || c.leasing_owned || now < c.owned_idle_until {
                continue;
            }
            let agents: Vec<String> = (0..self.agents.len())
                .filter(|&ai| self.works_here(ai, ci) && !c.owned.iter().any(|o| o.0 == ai))
                .map(|ai| self.agents[ai].spec.id.clone())
                .collect();
            if agents.is_empty() {
                continue;
            }
            let campaign = c.name.clone();
            let c = &mut self.camps[ci];
            c.leasing_owned = true;
            c.owned_idle_until = now + OWNED_POLL;
            let wall_ms = self.wall_ms();
            self.emit_store(StoreCommand::LeaseOwned {
                camp: CampaignId(ci),
                campaign,
                agents,
                wall_ms,
                node: self.cfg.node.clone(),
                ttl_ms: ttl.as_millis() as i64,
            });
        }
    }

    /// Owned callbacks leased: each waits for its agent, unless that agent no longer works the
    /// campaign here (then it goes back to the pool at once).
    pub(crate) fn on_leased_owned(
        &mut self,
        ci: usize,
        result: Result<Vec<LeasedLead>, StoreError>,
    ) {
        let now = self.now;
        let Some(c) = self.camps.get_mut(ci) else {
            return;
        };
        c.leasing_owned = false;
        let leads = match result {
            Ok(leads) => leads,
            Err(e) => {
                tracing::error!(campaign = %c.name, error = %e, "lease of owned callbacks failed");
                c.owned_idle_until = now + 2 * OWNED_POLL;
                if e.is_transient() {
                    self.on_store_down();
                }
                return;
            }
        };
        let mut back = Vec::new();
        for lead in leads {
            let owner = lead
                .owner
                .as_deref()
                .and_then(|id| self.agent_ix.get(id).copied());
            let taken = owner.is_some_and(|ai| {
                self.stopping.is_none()
                    && self.works_here(ai, ci)
                    && !self.camps[ci].owned.iter().any(|o| o.0 == ai)
            });
            match owner {
                Some(ai) if taken => self.camps[ci].owned.push((ai, now, lead)),
                _ => back.push(lead.lead_id),
            }
        }
        self.release_leases("release owned callbacks", back);
    }

    /// Dials every owned callback whose agent is ready, for that agent: before the dialers
    /// decide (a progressive campaign would reserve the agent for another lead) and after every
    /// input that may have freed one.
    pub(crate) fn dial_owned_callbacks(&mut self) {
        if self.stopping.is_some() || self.dial_blocked() {
            return;
        }
        let now = self.pnow();
        let ports = self.media.ports.free(self.now) as u32;
        for ci in 0..self.camps.len() {
            let c = &self.camps[ci];
            if c.paused || c.owned.is_empty() {
                continue;
            }
            // Lines (and RTP ports) this campaign may still take: calls launched for an agent
            // spend them as any other dial does (`dial`).
            let spent = c.directed.len() as u32;
            let mut room = c.line_budget.saturating_sub(spent);
            if c.anchored {
                room = room.min(ports.saturating_sub(spent));
            }
            let mut i = 0;
            while i < self.camps[ci].owned.len() && room > 0 {
                let ai = self.camps[ci].owned[i].0;
                let id = self.agents[ai].ids.get(&ci).copied();
                let c = &mut self.camps[ci];
                let ready =
                    id.is_some_and(|id| c.dialer.agent_state(id) == Some(AgentState::Ready));
                let Some(id) = id.filter(|_| ready && self.agents[ai].home == Some(ci)) else {
                    i += 1;
                    continue;
                };
                match c.dialer.dial_for(now, id) {
                    Ok(call) => {
                        let (_, _, lead) = c.owned.remove(i);
                        tracing::debug!(lead = lead.lead_id, agent = %self.agents[ai].spec.id,
                            "dialling a callback for its owner");
                        c.directed.insert(call.0, lead);
                        room -= 1;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "owned callback not dialled");
                        i += 1;
                    }
                }
            }
        }
    }
}
