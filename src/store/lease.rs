//! The hopper: [`Store::lease`] hands a node up to `n` dialable leads and marks them leased, with
//! every dial-time rule checked in the same transaction: calling window in the lead's own time
//! zone, retry due, both attempt caps, DNC, abandon cooldown and the cross-campaign contact cap,
//! and no number leased twice at once (across campaigns). PostgreSQL locks candidates with
//! `FOR UPDATE SKIP LOCKED`; SQLite serialises writers with `BEGIN IMMEDIATE`.
//!
//! Speed: which time zones are open is computed in Rust from the campaign's distinct zones, so the
//! candidate scan is an ordered walk of one partial index (`leads_pool`); the per-number checks
//! (cap, cooldown, in-flight) are correlated index lookups in that same query, on the ≈ n rows it
//! returns, and only those the campaign's rules need. PostgreSQL does not wait for the lease's WAL
//! flush (why that is safe: [`Store::lease`]).

use std::collections::HashSet;

use serde::Serialize;

use super::db::{from_row, Arg, Tx};
use super::{Store, StoreError, NO_SLA};
use crate::campaign::phone::parse_timezone;
use crate::campaign::window::{local_day, next_local_midnight};

/// A lead handed to a node for dialling.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LeasedLead {
    /// Lead id.
    pub lead_id: i64,
    /// Campaign name.
    pub campaign: String,
    /// The dial string: E.164, `+` and digits only.
    pub phone_e164: String,
    /// Customer name: the screen pop, and the agent leg's display name where the campaign sets
    /// `agent_display_name` (as a validated `DisplayName`, never raw).
    pub name: Option<String>,
    /// Customer id in the lender's systems.
    pub external_id: Option<String>,
    /// Callee time zone (IANA).
    pub timezone: String,
    /// Extra list columns, as a JSON object.
    pub attributes: String,
    /// The list's tier (empty when the list has none).
    #[serde(default)]
    pub tier: String,
    /// The agent this lead was leased for: a callback that agent scheduled, still inside its
    /// owner grace ([`Store::lease_owned`]); `None` from [`Store::lease`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// Attempts made before this one.
    pub attempts: i64,
    /// First-attempt deadline, if the lead has one and was never attempted.
    pub sla_deadline_ms: Option<i64>,
    /// When the lease expires and the lead returns to the pool.
    pub lease_until_ms: i64,
}

from_row! {
    struct Candidate {
        id: i64,
        phone: String,
        name: Option<String>,
        external_id: Option<String>,
        timezone: String,
        attributes: String,
        tier: String,
        owner_agent: Option<String>,
        attempts: i64,
        day_key: i64,
        day_attempts: i64,
        sla_ms: i64,
        /// Live `inflight` rows for this number (another lead with it is leased or being dialled).
        in_flight: i64,
        /// Latest abandoned call to this number inside the cooldown.
        abandoned_ms: Option<i64>,
        /// With the contact cap reached: the max-th most recent connected call in the period.
        capped_since_ms: Option<i64>,
    }
}

/// Rounds of candidate fetching before giving up on filling `n` (each fetches n + 16).
const MAX_ROUNDS: i64 = 8;

impl Store {
    /// Leases up to `n` dialable leads of `campaign` to `node` until `now_ms + lease_ttl_ms`,
    /// ordered by SLA deadline (nearest first), priority (high first), tier, due time. A
    /// callback an agent owns is not among them until its owner grace has passed
    /// ([`Store::lease_owned`] hands it to its owner until then).
    pub async fn lease(
        &self,
        campaign: &str,
        n: usize,
        now_ms: i64,
        node: &str,
        lease_ttl_ms: i64,
    ) -> Result<Vec<LeasedLead>, StoreError> {
        self.lease_from(campaign, n, None, now_ms, node, lease_ttl_ms)
            .await
    }

    /// Leases to `node` the due callbacks of `campaign` that `agents` own and whose owner grace
    /// has not passed: at most one per agent, each with its [`LeasedLead::owner`], under every
    /// dial-time rule of [`Store::lease`] and in the same transaction. The engine dials each for
    /// its owner only, and connects it to that agent.
    pub async fn lease_owned(
        &self,
        campaign: &str,
        agents: &[String],
        now_ms: i64,
        node: &str,
        lease_ttl_ms: i64,
    ) -> Result<Vec<LeasedLead>, StoreError> {
        if agents.is_empty() {
            return Ok(Vec::new());
        }
        self.lease_from(
            campaign,
            agents.len(),
            Some(agents),
            now_ms,
            node,
            lease_ttl_ms,
        )
        .await
    }

    /// [`Store::lease`] (`owners` `None`: the shared pool) or [`Store::lease_owned`].
    async fn lease_from(
        &self,
        campaign: &str,
        n: usize,
        owners: Option<&[String]>,
        now_ms: i64,
        node: &str,
        lease_ttl_ms: i64,
    ) -> Result<Vec<LeasedLead>, StoreError> {
        // PostgreSQL settings for this transaction, sent with its BEGIN:
        // plan_cache_mode: plan every lookup for the parameters and table sizes of this call. A
        // cached generic plan is fixed when it is first chosen: the `inflight` and `attempts`
        // lookups first run while those tables are nearly empty (a sequential scan is cheapest
        // then), and such a plan stayed as `inflight` grew: 100+ ms per lease at 20,000 rows.
        // synchronous_commit: a lease is a reservation, not a dial. If the server crashed before
        // this commit reached disk, the leads are simply back in the pool; the node holding them
        // cannot dial them, because `begin_attempt` (a synchronous commit, which also flushes
        // this one) refuses a lead that is not leased to it. Waiting for the WAL flush cost
        // ≈ 4 ms per lease on this machine's disk.
        let mut tx = self
            .write_tx_with(
                "SET LOCAL plan_cache_mode = force_custom_plan; \
                 SET LOCAL synchronous_commit = off",
            )
            .await?;
        let rec = self.campaign_in(&mut tx, campaign).await?;
        let def = &rec.def;
        reclaim_expired(&mut tx, rec.id, now_ms).await?;
        let open = open_zones(&mut tx, rec.id, &def.window, now_ms).await?;
        if open.is_empty() || n == 0 {
            tx.commit().await?;
            return Ok(Vec::new());
        }

        let rules = NumberRules::of(def, now_ms, owners.is_some());
        let limit = n as i64 + 16;
        let mut chosen: Vec<Candidate> = Vec::with_capacity(n);
        // Leads that fail a per-number rule get a later due time so they stop heading the queue.
        let mut postpone: Vec<(i64, i64)> = Vec::new();
        for round in 0..MAX_ROUNDS {
            // The per-number rules (in flight elsewhere, abandon cooldown, contact cap; counted
            // over every campaign) are correlated lookups on the candidates only: the ordered
            // walk of `leads_pool` stops at LIMIT, so they cost a few index probes per row.
            let mut args = vec![
                Arg::I(rec.id),
                Arg::I(now_ms),
                Arg::Strs(&open),
                Arg::I(def.retry.max_attempts as i64),
                Arg::I(limit),
                Arg::I(round * limit),
                Arg::I(rules.cooldown_after),
                Arg::I(rules.contacts_after),
                Arg::I(rules.cap_offset),
            ];
            if let Some(agents) = owners {
                args.push(Arg::Strs(agents));
            }
            let cands: Vec<Candidate> = tx.all(&rules.candidate_sql, &args).await?;
            let fetched = cands.len() as i64;
            for c in cands {
                if chosen.len() == n {
                    break;
                }
                // One callback per agent at a time: the agent takes one call at a time.
                if owners.is_some() && chosen.iter().any(|o| o.owner_agent == c.owner_agent) {
                    continue;
                }
                let tz = parse_timezone(&c.timezone).unwrap_or(chrono_tz::UTC);
                let today = local_day(tz, now_ms);
                if c.day_key == today && c.day_attempts >= def.retry.max_attempts_per_day as i64 {
                    postpone.push((c.id, next_local_midnight(tz, now_ms)));
                    continue;
                }
                match rules.block(&c) {
                    Some(Block::Until(t)) => postpone.push((c.id, t)),
                    Some(Block::InFlight) => {}
                    None => chosen.push(c),
                }
            }
            if chosen.len() == n || fetched < limit {
                break;
            }
        }

        for (id, due) in &postpone {
            tx.exec(
                "UPDATE leads SET due_ms = $2 WHERE id = $1",
                &[Arg::I(*id), Arg::I(*due)],
            )
            .await?;
        }
        let until = now_ms.saturating_add(lease_ttl_ms);
        let ids: Vec<i64> = chosen.iter().map(|c| c.id).collect();
        let won = mark_leased(&mut tx, &ids, node, until, now_ms).await?;
        chosen.retain(|c| won.contains(&c.id));
        tx.commit().await?;
        Ok(chosen
            .into_iter()
            .map(|c| LeasedLead {
                lead_id: c.id,
                campaign: def.name.clone(),
                phone_e164: c.phone,
                name: c.name,
                external_id: c.external_id,
                timezone: c.timezone,
                attributes: c.attributes,
                tier: c.tier,
                owner: owners.and(c.owner_agent),
                attempts: c.attempts,
                sla_deadline_ms: (c.sla_ms != NO_SLA).then_some(c.sla_ms),
                lease_until_ms: until,
            })
            .collect())
    }
}

/// Claims the numbers of `ids` in `inflight` and marks the leads that won theirs as leased;
/// returns those lead ids. The in-flight table arbitrates numbers across campaigns: a conflicting
/// live row (another node leased the same number a moment ago) makes the upsert skip it.
async fn mark_leased(
    tx: &mut Tx,
    ids: &[i64],
    node: &str,
    until: i64,
    now_ms: i64,
) -> Result<HashSet<i64>, StoreError> {
    if ids.is_empty() {
        return Ok(HashSet::new());
    }
    const CLAIM: &str = "INSERT INTO inflight (phone, lead_id, until_ms) \
        SELECT phone, id, $2 FROM leads WHERE id = ANY($1) \
        ON CONFLICT (phone) DO UPDATE SET lead_id = excluded.lead_id, \
        until_ms = excluded.until_ms WHERE inflight.until_ms <= $3 \
        OR inflight.lead_id = excluded.lead_id RETURNING lead_id";
    let won: Vec<(i64,)> = tx
        .all(CLAIM, &[Arg::Ints(ids), Arg::I(until), Arg::I(now_ms)])
        .await?;
    let won_ids: Vec<i64> = won.into_iter().map(|(id,)| id).collect();
    if !won_ids.is_empty() {
        tx.exec(
            "UPDATE leads SET state = 'leased', lease_node = $2, lease_until_ms = $3 \
             WHERE id = ANY($1)",
            &[Arg::Ints(&won_ids), Arg::S(node), Arg::I(until)],
        )
        .await?;
    }
    Ok(won_ids.into_iter().collect())
}

/// The candidate query and the campaign's per-number rules as cut-off times for it.
struct NumberRules {
    /// The candidate SELECT, with only the lookups this campaign's rules need (each correlated
    /// lookup costs planning time on every call).
    candidate_sql: String,
    /// Abandoned calls dialled after this are inside the cooldown.
    cooldown_after: i64,
    cooldown_ms: i64,
    /// Connected calls dialled after this count towards the contact cap.
    contacts_after: i64,
    /// `max_connected - 1`: the cap lookup returns the max-th most recent counted call, if any.
    cap_offset: i64,
    /// The contact-cap period.
    cap_per_ms: i64,
}

impl NumberRules {
    /// `owned`: the candidates are the callbacks owned by the agents in `$10` and still inside
    /// their owner grace; otherwise the shared pool, which leaves those out.
    fn of(def: &crate::campaign::Campaign, now_ms: i64, owned: bool) -> Self {
        let cooldown_ms = def.retry.abandon_cooldown.millis();
        let cap = def
            .contact_cap
            .map(|c| (c.max_connected as i64, c.per.millis()));
        // $1 campaign, $2 now, $3 open zones, $4 max attempts, $5 limit, $6 offset, $7 cooldown
        // cut-off, $8 contact cut-off, $9 cap offset. Unused parameters stay bound.
        let cooldown = if cooldown_ms > 0 {
            "(SELECT MAX(a.dial_ms) FROM attempts a WHERE a.phone = leads.phone \
             AND a.dial_ms > $7 AND a.disposition = 'abandoned')"
        } else {
            "CAST(NULL AS BIGINT) + $7"
        };
        // Non-NULL exactly when the number already has max_connected counted calls: the
        // max-th most recent one. When it leaves the period the number is below the cap again.
        let cap_sql = if cap.is_some() {
            "(SELECT a.dial_ms FROM attempts a WHERE a.phone = leads.phone \
             AND a.dial_ms > $8 AND a.connected = 1 ORDER BY a.dial_ms DESC LIMIT 1 OFFSET $9)"
        } else {
            "CAST(NULL AS BIGINT) + $8 + $9"
        };
        // An owned callback belongs to its owner until `owner_until_ms` (its time plus the
        // campaign's owner grace), to everyone after.
        let pool = if owned {
            "AND owner_agent = ANY($10) AND owner_until_ms > $2"
        } else {
            "AND (owner_agent IS NULL OR owner_until_ms <= $2)"
        };
        let candidate_sql = format!(
            "SELECT id, phone, name, external_id, timezone, attributes, tier, owner_agent, \
             attempts, day_key, \
             day_attempts, sla_ms, \
             (SELECT COUNT(*) FROM inflight i \
              WHERE i.phone = leads.phone AND i.until_ms > $2) AS in_flight, \
             {cooldown} AS abandoned_ms, {cap_sql} AS capped_since_ms \
             FROM leads \
             WHERE campaign_id = $1 AND state IN ('new', 'scheduled') AND due_ms <= $2 \
             AND timezone = ANY($3) AND attempts < $4 {pool} \
             AND NOT EXISTS (SELECT 1 FROM dnc WHERE dnc.phone = leads.phone) \
             ORDER BY sla_ms, priority DESC, tier, due_ms \
             LIMIT $5 OFFSET $6 FOR UPDATE SKIP LOCKED"
        );
        NumberRules {
            candidate_sql,
            cooldown_after: now_ms.saturating_sub(cooldown_ms),
            cooldown_ms,
            contacts_after: cap.map_or(i64::MAX, |(_, per)| now_ms.saturating_sub(per)),
            cap_offset: cap.map_or(0, |(max, _)| (max - 1).max(0)),
            cap_per_ms: cap.map_or(0, |(_, per)| per),
        }
    }

    /// Why this candidate's number cannot be dialled now, if it cannot.
    fn block(&self, c: &Candidate) -> Option<Block> {
        if c.in_flight > 0 {
            return Some(Block::InFlight);
        }
        if let Some(last) = c.abandoned_ms {
            return Some(Block::Until(last + self.cooldown_ms));
        }
        c.capped_since_ms
            .map(|t| Block::Until(t + self.cap_per_ms + 1))
    }
}

/// Why a number cannot be dialled now.
enum Block {
    /// Another lead with this number is leased or being dialled.
    InFlight,
    /// Cooldown or cap: not before this time.
    Until(i64),
}

/// Expired leases return to the pool (a dead node loses nothing). Leads being dialled are not
/// touched: their attempt is open and only `finish_attempt` / `recover_node` close it.
async fn reclaim_expired(tx: &mut Tx, campaign_id: i64, now_ms: i64) -> Result<u64, StoreError> {
    tx.exec(
        "UPDATE leads SET state = CASE WHEN attempts = 0 THEN 'new' ELSE 'scheduled' END, \
         lease_node = NULL, lease_until_ms = NULL WHERE id IN (SELECT id FROM leads \
         WHERE campaign_id = $1 AND state = 'leased' AND lease_until_ms <= $2 \
         FOR UPDATE SKIP LOCKED)",
        &[Arg::I(campaign_id), Arg::I(now_ms)],
    )
    .await
}

/// The campaign's callee time zones whose calling window is open at `now_ms`.
pub(crate) async fn open_zones(
    tx: &mut Tx,
    campaign_id: i64,
    window: &crate::campaign::CallingWindow,
    now_ms: i64,
) -> Result<Vec<String>, StoreError> {
    let zones: Vec<(String,)> = tx
        .all(
            "SELECT timezone FROM campaign_timezones WHERE campaign_id = $1",
            &[Arg::I(campaign_id)],
        )
        .await?;
    Ok(zones
        .into_iter()
        .map(|(z,)| z)
        .filter(|z| parse_timezone(z).is_ok_and(|tz| window.is_open(tz, now_ms)))
        .collect())
}
