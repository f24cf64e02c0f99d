//! Reading call records for people: the earlier attempts of one lead (the agent's screen pop),
//! the supervisors' call-record search (campaign, number, date range, disposition, agent; newest
//! first, paginated) and the recording file of one record. Queries only; how the rows are shown
//! or exported is `admin::records`'.

use serde::{Deserialize, Serialize};

use super::db::{from_row, Arg};
use super::{Store, StoreError};

/// Most rows one search page may ask for.
pub const MAX_PAGE: i64 = 1000;

from_row! {
    /// One earlier attempt on a lead, as its screen pop lists it.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
    pub struct LeadAttempt {
        /// The call record (attempt id).
        pub attempt: i64,
        /// When it was dialled, epoch ms UTC.
        pub dial_ms: i64,
        /// What the call reached (`busy`, `no_answer`, `connected`…; `None` while open).
        pub disposition: Option<String>,
        /// The agent's wrap-up code, if an agent took it.
        pub agent_disposition: Option<String>,
        /// The agent who took it.
        pub agent: Option<String>,
        /// The agent's note.
        pub note: Option<String>,
    }
}

/// What a call-record search matches; `None` fields match everything.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CallFilter {
    /// Campaign name.
    pub campaign: Option<String>,
    /// The number: `+` and digits match it exactly; digits alone match the end of the number
    /// (a national number without its prefix).
    pub phone: Option<String>,
    /// Dialled at or after, epoch ms.
    pub from_ms: Option<i64>,
    /// Dialled before, epoch ms.
    pub to_ms: Option<i64>,
    /// The call's disposition or the agent's wrap-up code.
    pub disposition: Option<String>,
    /// The agent who took the call.
    pub agent: Option<String>,
}

from_row! {
    /// One call record as the search lists it.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
    pub struct CallRecord {
        /// The call record (attempt id).
        pub attempt: i64,
        /// Campaign name.
        pub campaign: String,
        /// The lead.
        pub lead: i64,
        /// The number called (E.164).
        pub phone: String,
        /// Customer name from the list.
        pub name: Option<String>,
        /// The lender's id for the customer.
        pub external_id: Option<String>,
        /// The agent who took it.
        pub agent: Option<String>,
        /// When it was dialled, epoch ms UTC.
        pub dial_ms: i64,
        /// When it was answered.
        pub answer_ms: Option<i64>,
        /// When it was connected to the agent.
        pub connect_ms: Option<i64>,
        /// When it ended.
        pub end_ms: Option<i64>,
        /// What the call reached (`None` while open).
        pub disposition: Option<String>,
        /// The agent's wrap-up code.
        pub agent_disposition: Option<String>,
        /// The agent's note.
        pub note: Option<String>,
        /// Seconds of recorded audio, when the call has a recording file.
        pub recording_secs: Option<f64>,
        /// 1 when the call has a recording file still kept.
        pub has_recording: i64,
    }
}

/// One page of a search.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CallPage {
    /// The rows, newest first.
    pub rows: Vec<CallRecord>,
    /// How many records match in all.
    pub total: i64,
}

/// The shared WHERE of the search: `$1` campaign, `$2` exact number, `$3` number ending, `$4`
/// from, `$5` to, `$6` disposition, `$7` agent.
const SEARCH_WHERE: &str = "FROM attempts a JOIN campaigns c ON c.id = a.campaign_id \
     JOIN leads l ON l.id = a.lead_id \
     WHERE ($1 IS NULL OR c.name = $1) AND ($2 IS NULL OR a.phone = $2) \
     AND ($3 IS NULL OR a.phone LIKE $3) \
     AND ($4 IS NULL OR a.dial_ms >= $4) AND ($5 IS NULL OR a.dial_ms < $5) \
     AND ($6 IS NULL OR a.disposition = $6 OR a.agent_disposition = $6) \
     AND ($7 IS NULL OR a.agent = $7)";

impl Store {
    /// The attempts of `lead` before `before` (an attempt id; all when `None`), newest first, at
    /// most `limit`.
    pub async fn lead_history(
        &self,
        lead: i64,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<LeadAttempt>, StoreError> {
        let mut tx = self.read_tx().await?;
        let rows = tx
            .all(
                "SELECT id AS attempt, dial_ms, disposition, agent_disposition, agent, \
                 agent_note AS note FROM attempts WHERE lead_id = $1 AND ($2 IS NULL OR id < $2) \
                 ORDER BY dial_ms DESC, id DESC LIMIT $3",
                &[
                    Arg::I(lead),
                    Arg::OI(before),
                    Arg::I(limit.clamp(0, MAX_PAGE)),
                ],
            )
            .await?;
        tx.commit().await?;
        Ok(rows)
    }

    /// The call records matching `filter`, newest first: `limit` (at most [`MAX_PAGE`]) from
    /// `offset`, with how many match in all. A number that is not `+` and 1–15 digits is
    /// refused ([`StoreError::NotE164`]).
    pub async fn search_calls(
        &self,
        filter: &CallFilter,
        offset: i64,
        limit: i64,
    ) -> Result<CallPage, StoreError> {
        let (exact, ending) = match filter.phone.as_deref().map(str::trim) {
            None | Some("") => (None, None),
            Some(p) => {
                let digits = p.strip_prefix('+').unwrap_or(p);
                let ok =
                    (1..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit());
                if !ok {
                    return Err(StoreError::NotE164(p.to_string()));
                }
                if p.starts_with('+') {
                    (Some(p.to_string()), None)
                } else {
                    // Digits only, so the pattern holds no LIKE wildcard but its own.
                    (None, Some(format!("%{digits}")))
                }
            }
        };
        let args = [
            Arg::OS(filter.campaign.as_deref()),
            Arg::OS(exact.as_deref()),
            Arg::OS(ending.as_deref()),
            Arg::OI(filter.from_ms),
            Arg::OI(filter.to_ms),
            Arg::OS(filter.disposition.as_deref()),
            Arg::OS(filter.agent.as_deref()),
            Arg::I(limit.clamp(0, MAX_PAGE)),
            Arg::I(offset.max(0)),
        ];
        let mut tx = self.read_tx().await?;
        let rows: Vec<CallRecord> = tx
            .all(
                &format!(
                    "SELECT a.id AS attempt, c.name AS campaign, a.lead_id AS lead, a.phone, \
                     l.name, l.external_id, a.agent, a.dial_ms, a.answer_ms, a.connect_ms, \
                     a.end_ms, a.disposition, a.agent_disposition, a.agent_note AS note, \
                     CASE WHEN a.recording_path IS NULL THEN NULL ELSE a.recording_secs END \
                     AS recording_secs, \
                     CAST(CASE WHEN a.recording_path IS NULL THEN 0 ELSE 1 END AS BIGINT) \
                     AS has_recording {SEARCH_WHERE} \
                     ORDER BY a.dial_ms DESC, a.id DESC LIMIT $8 OFFSET $9"
                ),
                &args,
            )
            .await?;
        let (total,): (i64,) = tx
            .one(
                &format!("SELECT CAST(COUNT(*) AS BIGINT) {SEARCH_WHERE}"),
                &args[..7],
            )
            .await?;
        tx.commit().await?;
        Ok(CallPage { rows, total })
    }

    /// The recording file of call record `attempt`, while it is kept (`None`: no such record,
    /// never recorded, or purged).
    pub async fn recording_file(&self, attempt: i64) -> Result<Option<String>, StoreError> {
        let mut tx = self.read_tx().await?;
        let row: Option<(Option<String>,)> = tx
            .opt(
                "SELECT recording_path FROM attempts WHERE id = $1",
                &[Arg::I(attempt)],
            )
            .await?;
        tx.commit().await?;
        Ok(row.and_then(|(p,)| p))
    }
}
