//! The hopper: [`Store::lease`] hands a node up to `n` dialable leads and marks them leased, with
//! every dial-time rule checked in the same transaction: calling window in the lead's own time
//! zone, retry due, both attempt caps, DNC, abandon cooldown and the cross-campaign contact cap,
//! and no number leased twice at once (across campaigns). PostgreSQL locks candidates with
//! `FOR UPDATE SKIP LOCKED`; SQLite serialises writers with `BEGIN IMMEDIATE`.
//!
//! Speed: which time zones are open is computed in Rust from the campaign's distinct zones, so the
//! candidate scan is an ordered walk of one partial index (`leads_pool`); the per-number checks
//! (cap, cooldown, in-flight) are indexed lookups on a few × n candidates only.

use std::collections::{HashMap, HashSet};

use serde::Serialize;

use super::db::{Arg, Tx};
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
    /// Customer name (screen pop only; never in SIP).
    pub name: Option<String>,
    /// Customer id in the lender's systems.
    pub external_id: Option<String>,
    /// Callee time zone (IANA).
    pub timezone: String,
    /// Extra list columns, as a JSON object.
    pub attributes: String,
    /// Attempts made before this one.
    pub attempts: i64,
    /// First-attempt deadline, if the lead has one and was never attempted.
    pub sla_deadline_ms: Option<i64>,
    /// When the lease expires and the lead returns to the pool.
    pub lease_until_ms: i64,
}

#[derive(sqlx::FromRow)]
struct Candidate {
    id: i64,
    phone: String,
    name: Option<String>,
    external_id: Option<String>,
    timezone: String,
    attributes: String,
    attempts: i64,
    day_key: i64,
    day_attempts: i64,
    sla_ms: i64,
}

/// Rounds of candidate fetching before giving up on filling `n` (each fetches 2n + 16).
const MAX_ROUNDS: i64 = 4;

impl Store {
    /// Leases up to `n` dialable leads of `campaign` to `node` until `now_ms + lease_ttl_ms`,
    /// ordered by SLA deadline (nearest first), priority (high first), tier, due time.
    pub async fn lease(
        &self,
        campaign: &str,
        n: usize,
        now_ms: i64,
        node: &str,
        lease_ttl_ms: i64,
    ) -> Result<Vec<LeasedLead>, StoreError> {
        let mut tx = self.write_tx().await?;
        if tx.is_pg() {
            // Plan every lookup for the parameters and table sizes of this call. A cached generic
            // plan is fixed when it is first chosen: the `inflight` and `attempts` lookups are
            // first run while those tables are nearly empty (a sequential scan is cheapest
            // then), and that plan stayed as `inflight` grew: 100+ ms per lease at 20,000 rows.
            tx.exec("SET LOCAL plan_cache_mode = force_custom_plan", &[])
                .await?;
        }
        let rec = self.campaign_in(&mut tx, campaign).await?;
        let def = &rec.def;
        reclaim_expired(&mut tx, rec.id, now_ms).await?;
        let open = open_zones(&mut tx, rec.id, &def.window, now_ms).await?;
        if open.is_empty() || n == 0 {
            tx.commit().await?;
            return Ok(Vec::new());
        }

        let limit = 2 * n as i64 + 16;
        let mut chosen: Vec<Candidate> = Vec::with_capacity(n);
        // Leads that fail a per-number rule get a later due time so they stop heading the queue.
        let mut postpone: Vec<(i64, i64)> = Vec::new();
        for round in 0..MAX_ROUNDS {
            let cands: Vec<Candidate> = tx
                .all(
                    "SELECT id, phone, name, external_id, timezone, attributes, attempts, day_key, \
                     day_attempts, sla_ms FROM leads \
                     WHERE campaign_id = $1 AND state IN ('new', 'scheduled') AND due_ms <= $2 \
                     AND timezone = ANY($3) AND attempts < $4 \
                     AND NOT EXISTS (SELECT 1 FROM dnc WHERE dnc.phone = leads.phone) \
                     ORDER BY sla_ms, priority DESC, tier, due_ms \
                     LIMIT $5 OFFSET $6 FOR UPDATE SKIP LOCKED",
                    &[
                        Arg::I(rec.id),
                        Arg::I(now_ms),
                        Arg::Strs(&open),
                        Arg::I(def.retry.max_attempts as i64),
                        Arg::I(limit),
                        Arg::I(round * limit),
                    ],
                )
                .await?;
            let fetched = cands.len() as i64;
            let blocked = self.number_blocks(&mut tx, def, &cands, now_ms).await?;
            for c in cands {
                if chosen.len() == n {
                    break;
                }
                let tz = parse_timezone(&c.timezone).unwrap_or(chrono_tz::UTC);
                let today = local_day(tz, now_ms);
                if c.day_key == today && c.day_attempts >= def.retry.max_attempts_per_day as i64 {
                    postpone.push((c.id, next_local_midnight(tz, now_ms)));
                    continue;
                }
                match blocked.get(&c.phone) {
                    Some(Block::Until(t)) => postpone.push((c.id, *t)),
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
        // The in-flight table arbitrates numbers across campaigns: a conflicting live row (another
        // node leased the same number a moment ago) makes the upsert skip it.
        let won: Vec<(i64,)> = tx
            .all(
                "INSERT INTO inflight (phone, lead_id, until_ms) \
                 SELECT phone, id, $2 FROM leads WHERE id = ANY($1) \
                 ON CONFLICT (phone) DO UPDATE SET lead_id = excluded.lead_id, \
                 until_ms = excluded.until_ms WHERE inflight.until_ms <= $3 \
                 OR inflight.lead_id = excluded.lead_id RETURNING lead_id",
                &[Arg::Ints(&ids), Arg::I(until), Arg::I(now_ms)],
            )
            .await?;
        let won: HashSet<i64> = won.into_iter().map(|(id,)| id).collect();
        chosen.retain(|c| won.contains(&c.id));
        let ids: Vec<i64> = chosen.iter().map(|c| c.id).collect();
        if !ids.is_empty() {
            tx.exec(
                "UPDATE leads SET state = 'leased', lease_node = $2, lease_until_ms = $3 \
                 WHERE id = ANY($1)",
                &[Arg::Ints(&ids), Arg::S(node), Arg::I(until)],
            )
            .await?;
        }
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
                attempts: c.attempts,
                sla_deadline_ms: (c.sla_ms != NO_SLA).then_some(c.sla_ms),
                lease_until_ms: until,
            })
            .collect())
    }

    /// Per-number rules for a batch of candidates: in flight elsewhere, abandon cooldown, and the
    /// contact cap (both counted over every campaign's attempts on the number).
    async fn number_blocks(
        &self,
        tx: &mut Tx,
        def: &crate::campaign::Campaign,
        cands: &[Candidate],
        now_ms: i64,
    ) -> Result<HashMap<String, Block>, StoreError> {
        let mut out = HashMap::new();
        if cands.is_empty() {
            return Ok(out);
        }
        let phones: Vec<String> = cands.iter().map(|c| c.phone.clone()).collect();
        let busy: Vec<(String,)> = tx
            .all(
                "SELECT phone FROM inflight WHERE phone = ANY($1) AND until_ms > $2",
                &[Arg::Strs(&phones), Arg::I(now_ms)],
            )
            .await?;
        for (p,) in busy {
            out.insert(p, Block::InFlight);
        }
        let cooldown = def.retry.abandon_cooldown.millis();
        if cooldown > 0 {
            let rows: Vec<(String, i64)> = tx
                .all(
                    "SELECT phone, MAX(dial_ms) FROM attempts WHERE phone = ANY($1) \
                     AND dial_ms > $2 AND disposition = 'abandoned' GROUP BY phone",
                    &[Arg::Strs(&phones), Arg::I(now_ms - cooldown)],
                )
                .await?;
            for (p, last) in rows {
                out.entry(p).or_insert(Block::Until(last + cooldown));
            }
        }
        if let Some(cap) = def.contact_cap {
            let per = cap.per.millis();
            let rows: Vec<(String, i64, i64)> = tx
                .all(
                    "SELECT phone, COUNT(*), MIN(dial_ms) FROM attempts WHERE phone = ANY($1) \
                     AND dial_ms > $2 AND connected = 1 GROUP BY phone",
                    &[Arg::Strs(&phones), Arg::I(now_ms - per)],
                )
                .await?;
            for (p, count, oldest) in rows {
                if count >= cap.max_connected as i64 {
                    // The oldest counted call leaves the window first: recheck then.
                    out.entry(p).or_insert(Block::Until(oldest + per + 1));
                }
            }
        }
        Ok(out)
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
