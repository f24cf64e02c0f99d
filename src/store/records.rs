//! Reading call records for people: the earlier attempts of one lead (the agent's screen pop),
//! the supervisors' call-record search (campaign, number, date range, disposition, agent; newest
//! first, paginated) and the recording file of one record. Queries only; how the rows are shown
//! or exported is `admin::records`'.

use serde::{Deserialize, Serialize};

use super::db::{from_row, Arg, Where};
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

/// The search's WHERE, each condition only when its filter is given, so each can be served by
/// an index; `outdial recordings` adds its own to it. The campaign is a condition on `attempts`
/// itself, its id looked up by name once, so the `attempts_campaign (campaign_id, dial_ms)` index
/// serves it together with the date range. The number ending is a range on the indexed
/// `phone_rev` (`phone LIKE '%digits'` is a suffix no index can serve).
pub(super) fn search_where<'a>(filter: &'a CallFilter, phone: &'a PhoneArgs) -> Where<'a> {
    let mut w = Where::default();
    if let Some(name) = filter.campaign.as_deref() {
        w.and_with(Arg::S(name), |p| {
            format!("a.campaign_id = (SELECT id FROM campaigns WHERE name = {p})")
        });
    }
    if let Some(exact) = phone.exact.as_deref() {
        w.and_with(Arg::S(exact), |p| format!("a.phone = {p}"));
    }
    if let Some((low, high)) = &phone.ending {
        w.and_with(Arg::S(low), |p| format!("a.phone_rev >= {p}"));
        w.and_with(Arg::S(high), |p| format!("a.phone_rev < {p}"));
    }
    if let Some(from) = filter.from_ms {
        w.and_with(Arg::I(from), |p| format!("a.dial_ms >= {p}"));
    }
    if let Some(to) = filter.to_ms {
        w.and_with(Arg::I(to), |p| format!("a.dial_ms < {p}"));
    }
    if let Some(d) = filter.disposition.as_deref() {
        w.and_with(Arg::S(d), |p| {
            format!("(a.disposition = {p} OR a.agent_disposition = {p})")
        });
    }
    if let Some(agent) = filter.agent.as_deref() {
        w.and_with(Arg::S(agent), |p| format!("a.agent = {p}"));
    }
    w
}

/// The search's count query. Without the joins of the rows query: every attempt has its lead and
/// its campaign (foreign keys on both backends), so they would not change the count, only add a
/// lookup per matching record.
fn count_sql(w: &Where) -> String {
    format!("SELECT CAST(COUNT(*) AS BIGINT) FROM attempts a{}", w.sql())
}

/// A number's digits, last first: what `attempts.phone_rev` holds, so a search by the last
/// digits of a number is a search by the first digits of this (an index range).
pub fn phone_rev(phone: &str) -> String {
    phone.chars().rev().filter(char::is_ascii_digit).collect()
}

/// The number part of a search: an exact E.164 number, or the reversed range of an ending
/// given as digits (`[rev, rev + ":")`: `:` sorts right after `9`).
pub(super) struct PhoneArgs {
    exact: Option<String>,
    ending: Option<(String, String)>,
}

impl PhoneArgs {
    /// Exactly `phone` (any number when `None`), taken as it is.
    pub(super) fn exact(phone: Option<String>) -> PhoneArgs {
        PhoneArgs {
            exact: phone,
            ending: None,
        }
    }
}

fn phone_args(phone: Option<&str>) -> Result<PhoneArgs, StoreError> {
    let Some(p) = phone.map(str::trim).filter(|p| !p.is_empty()) else {
        return Ok(PhoneArgs::exact(None));
    };
    let digits = p.strip_prefix('+').unwrap_or(p);
    let ok = (1..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit());
    if !ok {
        return Err(StoreError::NotE164(p.to_string()));
    }
    Ok(if p.starts_with('+') {
        PhoneArgs::exact(Some(p.to_string()))
    } else {
        let low = phone_rev(digits);
        let high = format!("{low}:");
        PhoneArgs {
            exact: None,
            ending: Some((low, high)),
        }
    })
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
        let filter_where = search_where(filter, &phone);
        let mut page = filter_where.clone();
        let limit = page.bind(Arg::I(limit.clamp(0, MAX_PAGE)));
        let offset = page.bind(Arg::I(offset.max(0)));
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
                     AS has_recording \
                     FROM attempts a JOIN campaigns c ON c.id = a.campaign_id \
                     JOIN leads l ON l.id = a.lead_id{} \
                     ORDER BY a.dial_ms DESC, a.id DESC LIMIT {limit} OFFSET {offset}",
                    page.sql()
                ),
                page.args(),
            )
            .await?;
        let (total,): (i64,) = tx
            .one(&count_sql(&filter_where), filter_where.args())
            .await?;
        tx.commit().await?;
        Ok(CallPage { rows, total })
    }

    /// The query plan of `filter`'s count query, one line per step (SQLite's `EXPLAIN QUERY
    /// PLAN`, PostgreSQL's `EXPLAIN`): which indexes a search uses.
    pub async fn search_plan(&self, filter: &CallFilter) -> Result<Vec<String>, StoreError> {
        let phone = phone_args(filter.phone.as_deref())?;
        let w = search_where(filter, &phone);
        let (count, args) = (count_sql(&w), w.args());
        let mut tx = self.read_tx().await?;
        let lines: Vec<String> = if tx.is_pg() {
            let rows: Vec<(String,)> = tx.all(&format!("EXPLAIN {count}"), args).await?;
            rows.into_iter().map(|(l,)| l).collect()
        } else {
            let rows: Vec<(i64, i64, i64, String)> =
                tx.all(&format!("EXPLAIN QUERY PLAN {count}"), args).await?;
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
