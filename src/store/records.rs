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

/// The shared WHERE of the search: `$1` campaign, `$2` exact number, `$3`..`$8` the reversed
/// number ending's range (`$3` <= `phone_rev` < `$8`, only when `ending`), `$4` from, `$5` to,
/// `$6` disposition, `$7` agent. The ending is a range on an indexed column rather than
/// `phone LIKE '%digits'`, which no index can serve.
fn search_where(ending: bool) -> String {
    let ending = if ending {
        "AND a.phone_rev >= $3 AND a.phone_rev < $8"
    } else {
        "AND $3 IS NULL AND $8 IS NULL"
    };
    format!(
        "FROM attempts a JOIN campaigns c ON c.id = a.campaign_id \
         JOIN leads l ON l.id = a.lead_id \
         WHERE ($1 IS NULL OR c.name = $1) AND ($2 IS NULL OR a.phone = $2) {ending} \
         AND ($4 IS NULL OR a.dial_ms >= $4) AND ($5 IS NULL OR a.dial_ms < $5) \
         AND ($6 IS NULL OR a.disposition = $6 OR a.agent_disposition = $6) \
         AND ($7 IS NULL OR a.agent = $7)"
    )
}

/// A number's digits, last first: what `attempts.phone_rev` holds, so a search by the last
/// digits of a number is a search by the first digits of this (an index range).
pub fn phone_rev(phone: &str) -> String {
    phone.chars().rev().filter(char::is_ascii_digit).collect()
}

/// The number part of a search: an exact E.164 number, or the reversed range of an ending
/// given as digits (`[rev, rev + ":")`: `:` sorts right after `9`).
struct PhoneArgs {
    exact: Option<String>,
    ending: Option<(String, String)>,
}

fn phone_args(phone: Option<&str>) -> Result<PhoneArgs, StoreError> {
    let Some(p) = phone.map(str::trim).filter(|p| !p.is_empty()) else {
        return Ok(PhoneArgs {
            exact: None,
            ending: None,
        });
    };
    let digits = p.strip_prefix('+').unwrap_or(p);
    let ok = (1..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit());
    if !ok {
        return Err(StoreError::NotE164(p.to_string()));
    }
    Ok(if p.starts_with('+') {
        PhoneArgs {
            exact: Some(p.to_string()),
            ending: None,
        }
    } else {
        let low = phone_rev(digits);
        let high = format!("{low}:");
        PhoneArgs {
            exact: None,
            ending: Some((low, high)),
        }
    })
}

/// The search's first eight parameters ($1…$8 of [`search_where`]'s text), in its order.
fn filter_args<'a>(filter: &'a CallFilter, phone: &'a PhoneArgs) -> [Arg<'a>; 8] {
    let (low, high) = match &phone.ending {
        Some((l, h)) => (Some(l.as_str()), Some(h.as_str())),
        None => (None, None),
    };
    [
        Arg::OS(filter.campaign.as_deref()),
        Arg::OS(phone.exact.as_deref()),
        Arg::OS(low),
        Arg::OI(filter.from_ms),
        Arg::OI(filter.to_ms),
        Arg::OS(filter.disposition.as_deref()),
        Arg::OS(filter.agent.as_deref()),
        Arg::OS(high),
    ]
}

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
        let phone = phone_args(filter.phone.as_deref())?;
        let mut args = filter_args(filter, &phone).to_vec();
        args.extend([Arg::I(limit.clamp(0, MAX_PAGE)), Arg::I(offset.max(0))]);
        let from_where = search_where(phone.ending.is_some());
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
                     AS has_recording {from_where} \
                     ORDER BY a.dial_ms DESC, a.id DESC LIMIT $9 OFFSET $10"
                ),
                &args,
            )
            .await?;
        let (total,): (i64,) = tx
            .one(
                &format!("SELECT CAST(COUNT(*) AS BIGINT) {from_where}"),
                &args[..8],
            )
            .await?;
        tx.commit().await?;
        Ok(CallPage { rows, total })
    }

    /// The query plan of `filter`'s count query, one line per step (SQLite's `EXPLAIN QUERY
    /// PLAN`, PostgreSQL's `EXPLAIN`): which indexes a search uses.
    pub async fn search_plan(&self, filter: &CallFilter) -> Result<Vec<String>, StoreError> {
        let phone = phone_args(filter.phone.as_deref())?;
        let args = filter_args(filter, &phone);
        let count = format!(
            "SELECT CAST(COUNT(*) AS BIGINT) {}",
            search_where(phone.ending.is_some())
        );
        let mut tx = self.read_tx().await?;
        let lines: Vec<String> = if tx.is_pg() {
            let rows: Vec<(String,)> = tx.all(&format!("EXPLAIN {count}"), &args).await?;
            rows.into_iter().map(|(l,)| l).collect()
        } else {
            let rows: Vec<(i64, i64, i64, String)> = tx
                .all(&format!("EXPLAIN QUERY PLAN {count}"), &args)
                .await?;
            rows.into_iter().map(|(_, _, _, l)| l).collect()
        };
        tx.commit().await?;
        Ok(lines)
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
