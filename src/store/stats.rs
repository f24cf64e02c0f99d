//! Campaign figures for `outdial campaign stats`: leads by state and by last disposition, attempts,
//! and how many leads are dialable now (window, due time, lifetime cap, DNC; the per-number checks
//! done at lease time are not counted here); and the wallboard's lead figures and latest audit
//! rows.

use std::collections::BTreeMap;

use serde::Serialize;

use super::db::{from_row, Arg};
use super::lease::open_zones;
use super::{AuditRow, Store, StoreError, NO_SLA};

/// Figures of one campaign.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct CampaignStats {
    /// Campaign name.
    pub campaign: String,
    /// Leads in the campaign.
    pub leads: i64,
    /// Leads by state: `new`, `scheduled`, `leased`, `dialing`, `done` (all keys present).
    pub by_state: BTreeMap<String, i64>,
    /// Leads by the disposition of their last attempt (`none` for never attempted).
    pub by_disposition: BTreeMap<String, i64>,
    /// Attempts (call-detail records) made.
    pub attempts: i64,
    /// Leads a lease at this moment could hand out (before per-number caps and cooldowns).
    pub dialable_now: i64,
    /// Callee time zones whose calling window is open now.
    pub open_timezones: Vec<String>,
}

impl Store {
    /// Figures of `campaign` at `now_ms`.
    pub async fn campaign_stats(
        &self,
        campaign: &str,
        now_ms: i64,
    ) -> Result<CampaignStats, StoreError> {
        let mut tx = self.read_tx().await?;
        let rec = self.campaign_in(&mut tx, campaign).await?;
        let id = Arg::I(rec.id);
        let mut s = CampaignStats {
            campaign: campaign.to_string(),
            ..CampaignStats::default()
        };
        for state in ["new", "scheduled", "leased", "dialing", "done"] {
            s.by_state.insert(state.to_string(), 0);
        }
        let rows: Vec<(String, i64)> = tx
            .all(
                "SELECT state, COUNT(*) FROM leads WHERE campaign_id = $1 GROUP BY state",
                &[id],
            )
            .await?;
        for (state, n) in rows {
            s.leads += n;
            s.by_state.insert(state, n);
        }
        let rows: Vec<(Option<String>, i64)> = tx
            .all(
                "SELECT last_disposition, COUNT(*) FROM leads WHERE campaign_id = $1 \
                 GROUP BY last_disposition",
                &[id],
            )
            .await?;
        for (d, n) in rows {
            s.by_disposition
                .insert(d.unwrap_or_else(|| "none".to_string()), n);
        }
        (s.attempts,) = tx
            .one(
                "SELECT COUNT(*) FROM attempts WHERE campaign_id = $1",
                &[id],
            )
            .await?;
        s.open_timezones = open_zones(&mut tx, rec.id, &rec.def.window, now_ms).await?;
        (s.dialable_now,) = tx
            .one(
                DIALABLE,
                &[
                    id,
                    Arg::I(now_ms),
                    Arg::Strs(&s.open_timezones),
                    Arg::I(rec.def.retry.max_attempts as i64),
                ],
            )
            .await?;
        tx.commit().await?;
        Ok(s)
    }

    /// The wallboard's lead figures of `campaign` at `now_ms`: leads dialable now (as in
    /// [`Store::campaign_stats`]) and never-attempted leads whose first-call deadline falls
    /// before `now_ms + within_ms` (passed deadlines included: still at risk, already late).
    pub async fn wallboard_leads(
        &self,
        campaign: &str,
        now_ms: i64,
        within_ms: i64,
    ) -> Result<(i64, i64), StoreError> {
        let mut tx = self.read_tx().await?;
        let rec = self.campaign_in(&mut tx, campaign).await?;
        let zones = open_zones(&mut tx, rec.id, &rec.def.window, now_ms).await?;
        let (dialable,): (i64,) = tx
            .one(
                DIALABLE,
                &[
                    Arg::I(rec.id),
                    Arg::I(now_ms),
                    Arg::Strs(&zones),
                    Arg::I(rec.def.retry.max_attempts as i64),
                ],
            )
            .await?;
        let (at_risk,): (i64,) = tx
            .one(
                "SELECT COUNT(*) FROM leads WHERE campaign_id = $1 \
                 AND state IN ('new', 'scheduled', 'leased') AND attempts = 0 \
                 AND sla_ms <> $2 AND sla_ms <= $3",
                &[
                    Arg::I(rec.id),
                    Arg::I(NO_SLA),
                    Arg::I(now_ms.saturating_add(within_ms)),
                ],
            )
            .await?;
        tx.commit().await?;
        Ok((dialable, at_risk))
    }

    /// The latest `limit` audit rows, newest first.
    pub async fn recent_audit(&self, limit: usize) -> Result<Vec<AuditRow>, StoreError> {
        let mut tx = self.read_tx().await?;
        let rows: Vec<(i64, String, String, String, String, String)> = tx
            .all(
                "SELECT at_ms, token, campaign, field, old, new FROM audit \
                 ORDER BY id DESC LIMIT $1",
                &[Arg::I(i64::try_from(limit).unwrap_or(i64::MAX))],
            )
            .await?;
        tx.commit().await?;
        Ok(rows
            .into_iter()
            .map(|(at_ms, token, campaign, field, old, new)| AuditRow {
                at_ms,
                token,
                campaign,
                field,
                old,
                new,
            })
            .collect())
    }
}

/// Leads a lease could hand out now: $1 campaign id, $2 now, $3 open zones, $4 max attempts.
const DIALABLE: &str = "SELECT COUNT(*) FROM leads WHERE campaign_id = $1 \
     AND state IN ('new', 'scheduled') AND due_ms <= $2 AND timezone = ANY($3) \
     AND attempts < $4 AND NOT EXISTS (SELECT 1 FROM dnc WHERE dnc.phone = leads.phone)";

from_row! {
    /// One lead's scheduling state (for tools, tests and the engine's diagnostics).
    #[derive(Clone, Debug, PartialEq, Serialize)]
    pub struct LeadInfo {
        /// Lead id.
        pub id: i64,
        /// E.164 number.
        pub phone: String,
        /// `new`, `scheduled`, `leased`, `dialing` or `done`.
        pub state: String,
        /// Earliest next attempt (epoch ms).
        pub due_ms: i64,
        /// Attempts made.
        pub attempts: i64,
        /// Attempts on the callee-local day of the last attempt.
        pub day_attempts: i64,
        /// Disposition of the last attempt.
        pub last_disposition: Option<String>,
        /// Node holding the lease.
        pub lease_node: Option<String>,
        /// Lease expiry.
        pub lease_until_ms: Option<i64>,
    }
}

impl Store {
    /// The lead of `campaign` with E.164 number `phone`, if any.
    pub async fn find_lead(
        &self,
        campaign: &str,
        phone: &str,
    ) -> Result<Option<LeadInfo>, StoreError> {
        let mut tx = self.read_tx().await?;
        let rec = self.campaign_in(&mut tx, campaign).await?;
        let info = tx
            .opt(
                "SELECT id, phone, state, due_ms, attempts, day_attempts, last_disposition, \
                 lease_node, lease_until_ms FROM leads WHERE campaign_id = $1 AND phone = $2",
                &[Arg::I(rec.id), Arg::S(phone)],
            )
            .await?;
        tx.commit().await?;
        Ok(info)
    }
}
