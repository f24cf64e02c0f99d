//! Campaign definitions in the store: apply (create / update / no-op by content hash), look up
//! (cached, revalidated by hash), list.

use std::sync::Arc;

use serde::Serialize;

use super::db::{from_row, Arg, Tx};
use super::{decode_campaign, Store, StoreError};
use crate::campaign::{Campaign, DialMode};

/// What applying a definition did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ApplyOutcome {
    /// A new campaign.
    Created,
    /// The definition changed and was replaced.
    Updated,
    /// Same content hash: nothing written.
    Unchanged,
}

/// A stored campaign: its id, content hash and validated definition.
#[derive(Clone, Debug)]
pub struct CampaignRecord {
    /// Database id.
    pub id: i64,
    /// Content hash of the definition.
    pub hash: String,
    /// The definition.
    pub def: Campaign,
}

/// One line of `campaign list`.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct CampaignSummary {
    /// Name.
    pub name: String,
    /// Kind (`verification`, `collection`…).
    pub kind: String,
    /// Priority among campaigns.
    pub priority: i64,
    /// Dial mode.
    pub mode: DialMode,
    /// Leads in the campaign.
    pub leads: i64,
    /// Leads not yet done.
    pub open_leads: i64,
    /// When the definition last changed (epoch ms).
    pub updated_ms: i64,
}

from_row! {
    struct Row {
        id: i64,
        name: String,
        content_hash: String,
    }
}

impl Store {
    /// Stores `def` under its name. Same content hash as stored: nothing is written.
    pub async fn apply_campaign(
        &self,
        def: &Campaign,
        now_ms: i64,
    ) -> Result<ApplyOutcome, StoreError> {
        let json = def.to_json();
        let hash = def.content_hash();
        let mut tx = self.write_tx().await?;
        let existing: Option<Row> = tx
            .opt(
                "SELECT id, name, content_hash FROM campaigns WHERE name = $1 FOR UPDATE",
                &[Arg::S(&def.name)],
            )
            .await?;
        let outcome = match existing {
            Some(row) if row.content_hash == hash => ApplyOutcome::Unchanged,
            Some(row) => {
                tx.exec(
                    "UPDATE campaigns SET definition = $1, content_hash = $2, priority = $3, \
                     updated_ms = $4 WHERE id = $5",
                    &[
                        Arg::S(&json),
                        Arg::S(&hash),
                        Arg::I(def.priority as i64),
                        Arg::I(now_ms),
                        Arg::I(row.id),
                    ],
                )
                .await?;
                ApplyOutcome::Updated
            }
            None => {
                tx.exec(
                    "INSERT INTO campaigns (name, definition, content_hash, priority, created_ms, \
                     updated_ms) VALUES ($1, $2, $3, $4, $5, $5)",
                    &[
                        Arg::S(&def.name),
                        Arg::S(&json),
                        Arg::S(&hash),
                        Arg::I(def.priority as i64),
                        Arg::I(now_ms),
                    ],
                )
                .await?;
                ApplyOutcome::Created
            }
        };
        tx.commit().await?;
        Ok(outcome)
    }

    /// The stored campaign `name`.
    pub async fn campaign(&self, name: &str) -> Result<Arc<CampaignRecord>, StoreError> {
        let mut tx = self.read_tx().await?;
        let rec = self.campaign_in(&mut tx, name).await?;
        tx.commit().await?;
        Ok(rec)
    }

    pub(crate) async fn campaign_in(
        &self,
        tx: &mut Tx,
        name: &str,
    ) -> Result<Arc<CampaignRecord>, StoreError> {
        let row: Row = tx
            .opt(
                "SELECT id, name, content_hash FROM campaigns WHERE name = $1",
                &[Arg::S(name)],
            )
            .await?
            .ok_or_else(|| StoreError::UnknownCampaign(name.to_string()))?;
        self.cached(tx, row).await
    }

    pub(crate) async fn campaign_by_id(
        &self,
        tx: &mut Tx,
        id: i64,
    ) -> Result<Arc<CampaignRecord>, StoreError> {
        let row: Row = tx
            .opt(
                "SELECT id, name, content_hash FROM campaigns WHERE id = $1",
                &[Arg::I(id)],
            )
            .await?
            .ok_or_else(|| StoreError::UnknownCampaign(format!("#{id}")))?;
        self.cached(tx, row).await
    }

    /// The parsed definition, from the cache when the stored hash is unchanged.
    async fn cached(&self, tx: &mut Tx, row: Row) -> Result<Arc<CampaignRecord>, StoreError> {
        if let Some(rec) = self.cache_get(row.id) {
            if rec.hash == row.content_hash {
                return Ok(rec);
            }
        }
        let (json,): (String,) = tx
            .one(
                "SELECT definition FROM campaigns WHERE id = $1",
                &[Arg::I(row.id)],
            )
            .await?;
        let rec = Arc::new(CampaignRecord {
            id: row.id,
            hash: row.content_hash,
            def: decode_campaign(&row.name, &json)?,
        });
        if let Ok(mut cache) = self.cache.lock() {
            cache.insert(rec.id, rec.clone());
        }
        Ok(rec)
    }

    fn cache_get(&self, id: i64) -> Option<Arc<CampaignRecord>> {
        self.cache.lock().ok()?.get(&id).cloned()
    }

    /// Every campaign, highest priority first.
    pub async fn list_campaigns(&self) -> Result<Vec<CampaignSummary>, StoreError> {
        from_row! {
            struct L {
                id: i64,
                name: String,
                content_hash: String,
                updated_ms: i64,
                leads: i64,
                open_leads: i64,
            }
        }
        let mut tx = self.read_tx().await?;
        let rows: Vec<L> = tx
            .all(
                "SELECT c.id, c.name, c.content_hash, c.updated_ms, \
                 (SELECT COUNT(*) FROM leads l WHERE l.campaign_id = c.id) AS leads, \
                 (SELECT COUNT(*) FROM leads l WHERE l.campaign_id = c.id AND l.state <> 'done') \
                 AS open_leads \
                 FROM campaigns c ORDER BY c.priority DESC, c.name",
                &[],
            )
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let rec = self
                .cached(
                    &mut tx,
                    Row {
                        id: r.id,
                        name: r.name.clone(),
                        content_hash: r.content_hash,
                    },
                )
                .await?;
            out.push(CampaignSummary {
                name: r.name,
                kind: enum_name(&rec.def.kind),
                priority: rec.def.priority as i64,
                mode: rec.def.dialing.mode,
                leads: r.leads,
                open_leads: r.open_leads,
                updated_ms: r.updated_ms,
            });
        }
        tx.commit().await?;
        Ok(out)
    }
}

/// The serde (snake_case) name of a unit enum variant.
pub fn enum_name<T: Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}
