//! The do-not-call list: E.164 numbers that no campaign may dial. Checked when a list is loaded
//! and again at lease time (a number may be added after its lead was loaded).

use super::db::Arg;
use super::{check_e164, Store, StoreError};

impl Store {
    /// Adds E.164 numbers; returns how many were not already listed.
    pub async fn add_dnc(
        &self,
        phones: &[String],
        source: &str,
        now_ms: i64,
    ) -> Result<u64, StoreError> {
        for p in phones {
            check_e164(p)?;
        }
        let mut tx = self.write_tx().await?;
        let sql = if tx.is_pg() {
            "INSERT INTO dnc (phone, added_ms, source) SELECT DISTINCT p, $2, $3 \
             FROM UNNEST($1::text[]) AS p ON CONFLICT (phone) DO NOTHING"
        } else {
            "INSERT INTO dnc (phone, added_ms, source) SELECT DISTINCT value, $2, $3 \
             FROM json_each($1) WHERE true ON CONFLICT (phone) DO NOTHING"
        };
        let mut added = 0;
        for chunk in phones.chunks(10_000) {
            added += tx
                .exec(sql, &[Arg::Strs(chunk), Arg::I(now_ms), Arg::S(source)])
                .await?;
        }
        tx.commit().await?;
        Ok(added)
    }

    /// Removes E.164 numbers; returns how many were listed.
    pub async fn remove_dnc(&self, phones: &[String]) -> Result<u64, StoreError> {
        self.write_one(
            "DELETE FROM dnc WHERE phone = ANY($1)",
            &[Arg::Strs(phones)],
        )
        .await
    }

    /// Whether `phone` (E.164) is on the list.
    pub async fn is_dnc(&self, phone: &str) -> Result<bool, StoreError> {
        let mut tx = self.read_tx().await?;
        let (n,): (i64,) = tx
            .one(
                "SELECT COUNT(*) FROM dnc WHERE phone = $1",
                &[Arg::S(phone)],
            )
            .await?;
        tx.commit().await?;
        Ok(n > 0)
    }

    /// Numbers on the list.
    pub async fn dnc_count(&self) -> Result<i64, StoreError> {
        let mut tx = self.read_tx().await?;
        let (n,): (i64,) = tx.one("SELECT COUNT(*) FROM dnc", &[]).await?;
        tx.commit().await?;
        Ok(n)
    }
}
