//! Inbound call records: one row per call a trunk offered to this centre's blended agents,
//! written by the engine when the call ends, read by `outdial report` ([`Store::report_input`]). Owns the `inbound_calls`
//! table; inbound calls have no lead, so nothing here touches leads, leases or attempts.

use super::db::Arg;
use super::{Store, StoreError};
use crate::campaign::phone::dial_chars;

/// The longest caller number kept (E.164 has at most 15 digits; some trunks prefix more).
const MAX_CALLER: usize = 32;

/// One inbound call, as the engine saw it.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
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
    /// Stores the record of an inbound call that ended. Idempotent: the same record sent again
    /// (a retry whose first reply was lost) is not stored twice.
    pub async fn record_inbound(&self, r: &InboundRecord) -> Result<(), StoreError> {
        let caller: String = dial_chars(&r.caller).chars().take(MAX_CALLER).collect();
        let mut tx = self.write_tx().await?;
        let rec = self.campaign_in(&mut tx, &r.campaign).await?;
        tx.exec(
            "INSERT INTO inbound_calls (campaign_id, node, caller, agent, arrive_ms, connect_ms, \
             end_ms) SELECT $1, $2, $3, $4, $5, $6, $7 WHERE NOT EXISTS (SELECT 1 FROM \
             inbound_calls WHERE campaign_id = $1 AND node = $2 AND caller = $3 AND arrive_ms = $5 \
             AND end_ms = $7)",
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
}
