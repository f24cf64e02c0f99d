//! Inbound call records: one row per call a trunk offered to this centre's blended agents,
//! written by the engine when the call ends, read by `outdial report`. Owns the `inbound_calls`
//! table; inbound calls have no lead, so nothing here touches leads, leases or attempts.

use super::db::Arg;
use super::{Store, StoreError};
use crate::admin::report::InboundRow;

/// The longest caller number kept (E.164 has at most 15 digits; some trunks prefix more).
const MAX_CALLER: usize = 32;

/// One inbound call, as the engine saw it.
#[derive(Clone, Debug, PartialEq)]
pub struct InboundRecord {
    /// Campaign whose agents the call was queued for.
    pub campaign: String,
    /// Engine node that answered it.
    pub node: String,
    /// User part of the From URI, as received: only its digits and `+` are stored.
    pub caller: String,
    /// Agent who took it, if one did.
    pub agent: Option<String>,
    /// When the INVITE arrived, epoch ms UTC.
    pub arrive_ms: i64,
    /// When the agent was bridged.
    pub connect_ms: Option<i64>,
    /// When the call ended.
    pub end_ms: i64,
}

impl Store {
    /// Stores the record of an inbound call that ended.
    pub async fn record_inbound(&self, r: &InboundRecord) -> Result<(), StoreError> {
        let caller: String = r
            .caller
            .chars()
            .filter(|c| c.is_ascii_digit() || *c == '+')
            .take(MAX_CALLER)
            .collect();
        let mut tx = self.write_tx().await?;
        let rec = self.campaign_in(&mut tx, &r.campaign).await?;
        tx.exec(
            "INSERT INTO inbound_calls (campaign_id, node, caller, agent, arrive_ms, connect_ms, \
             end_ms) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[
                Arg::I(rec.id),
                Arg::S(&r.node),
                Arg::S(&caller),
                Arg::OS(r.agent.as_deref()),
                Arg::I(r.arrive_ms),
                Arg::OI(r.connect_ms),
                Arg::I(r.end_ms.max(r.arrive_ms)),
            ],
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The campaign's inbound calls that arrived at or after `since_ms`, oldest first.
    pub async fn inbound_rows(
        &self,
        campaign: &str,
        since_ms: Option<i64>,
    ) -> Result<Vec<InboundRow>, StoreError> {
        let mut tx = self.read_tx().await?;
        let rec = self.campaign_in(&mut tx, campaign).await?;
        let rows: Vec<(i64, Option<i64>, i64)> = tx
            .all(
                "SELECT arrive_ms, connect_ms, end_ms FROM inbound_calls \
                 WHERE campaign_id = $1 AND arrive_ms >= $2 ORDER BY arrive_ms, id",
                &[Arg::I(rec.id), Arg::I(since_ms.unwrap_or(i64::MIN))],
            )
            .await?;
        tx.commit().await?;
        Ok(rows
            .into_iter()
            .map(|(arrive_ms, connect_ms, end_ms)| InboundRow {
                arrive_ms,
                connect_ms,
                end_ms,
            })
            .collect())
    }
}
