//! A campaign's recent calls as the pacing core's warm start wants them
//! ([`crate::pacing::PastCall`]): closed attempts of every node, newest first, read from the
//! call-detail records. Owns no pacing rule: the weights and the use are the pacing core's
//! ([`crate::pacing::opening`]).

use std::str::FromStr;

use super::db::{from_row, Arg};
use super::{Store, StoreError};
use crate::campaign::CallDisposition;
use crate::pacing::{PastCall, PastOutcome};

/// How far back a warm start looks by default: the regulation's shortest window.
pub const WARM_START_WINDOW_MS: i64 = 24 * 3_600_000;
/// At most this many calls feed a warm start (the estimators' memory is about 3,000 outcomes).
pub const WARM_START_CALLS: i64 = 3_000;

from_row! {
    struct PastRow {
        dial_ms: i64,
        answer_ms: Option<i64>,
        connect_ms: Option<i64>,
        end_ms: Option<i64>,
        wrapup_end_ms: Option<i64>,
        disposition: Option<String>,
        live: i64,
    }
}

impl Store {
    /// The last `limit` closed attempts of `campaign` dialled at or after `since_ms`, on every
    /// node, newest first, as the pacing core's [`PastCall`]s aged against `now_ms`. Attempts
    /// closed as `unknown` (a crashed node) say nothing about the trunk and are left out.
    pub async fn recent_calls(
        &self,
        campaign: &str,
        since_ms: i64,
        limit: i64,
        now_ms: i64,
    ) -> Result<Vec<PastCall>, StoreError> {
        let mut tx = self.read_tx().await?;
        let rec = self.campaign_in(&mut tx, campaign).await?;
        let rows: Vec<PastRow> = tx
            .all(
                "SELECT dial_ms, answer_ms, connect_ms, end_ms, wrapup_end_ms, disposition, \
                 CAST(live AS BIGINT) AS live FROM attempts \
                 WHERE campaign_id = $1 AND is_open = 0 AND dial_ms >= $2 \
                 ORDER BY dial_ms DESC, id DESC LIMIT $3",
                &[Arg::I(rec.id), Arg::I(since_ms), Arg::I(limit.max(0))],
            )
            .await?;
        tx.commit().await?;
        Ok(rows.iter().filter_map(|r| past_call(r, now_ms)).collect())
    }
}

/// One record as a past call; `None` when it says nothing about the trunk.
fn past_call(r: &PastRow, now_ms: i64) -> Option<PastCall> {
    let disp = r
        .disposition
        .as_deref()
        .and_then(|d| CallDisposition::from_str(d).ok())?;
    let outcome = match disp {
        CallDisposition::Unknown => return None,
        d if d.is_live_answer() || r.live != 0 => PastOutcome::Live {
            abandoned: d == CallDisposition::Abandoned,
        },
        CallDisposition::Machine => PastOutcome::Machine,
        CallDisposition::NoAnswer => PastOutcome::NoAnswer,
        _ => PastOutcome::Quick,
    };
    let secs = |from: Option<i64>, to: Option<i64>| match (from, to) {
        (Some(a), Some(b)) if b >= a => Some((b - a) as f64 / 1000.0),
        _ => None,
    };
    let ring_s = match outcome {
        PastOutcome::Live { .. } | PastOutcome::Machine => secs(Some(r.dial_ms), r.answer_ms),
        PastOutcome::Quick => secs(Some(r.dial_ms), r.end_ms),
        PastOutcome::NoAnswer => None,
    };
    // A conversation we cut (the engine's shutdown, a crash) says how long it had lasted, not
    // how long it would have: its talk and wrap-up would pull the fits short.
    let cut = matches!(
        disp,
        CallDisposition::Shutdown | CallDisposition::Interrupted
    );
    Some(PastCall {
        age_ms: now_ms.saturating_sub(r.dial_ms).max(0) as u64,
        outcome,
        ring_s,
        talk_s: secs(r.connect_ms, r.end_ms).filter(|_| !cut),
        wrap_s: secs(r.end_ms, r.wrapup_end_ms).filter(|_| r.connect_ms.is_some() && !cut),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(disposition: &str) -> PastRow {
        PastRow {
            dial_ms: 1_000,
            answer_ms: Some(7_000),
            connect_ms: Some(7_500),
            end_ms: Some(67_500),
            wrapup_end_ms: Some(97_500),
            disposition: Some(disposition.into()),
            live: 1,
        }
    }

    #[test]
    fn a_conversation_we_cut_gives_its_ring_time_but_no_talk_or_wrap_up() {
        let done = past_call(&row("completed"), 100_000).expect("a live answer");
        assert_eq!(
            (done.ring_s, done.talk_s, done.wrap_s),
            (Some(6.0), Some(60.0), Some(30.0))
        );
        for cut in ["shutdown", "interrupted"] {
            let c = past_call(&row(cut), 100_000).expect("a live answer");
            assert_eq!(
                (c.ring_s, c.talk_s, c.wrap_s),
                (Some(6.0), None, None),
                "{cut}"
            );
        }
        assert!(past_call(&row("unknown"), 100_000).is_none());
    }
}
