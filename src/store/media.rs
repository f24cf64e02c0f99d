//! The media plane's part of the call records: a call's recording and the customer leg's media
//! figures ([`Store::record_media`]), call-progress analysis's verdict ([`CpaRecord`]), the opt-out key ([`Store::opt_out`], which puts the number
//! on the do-not-call list in the same transaction), and what `outdial recordings` reads and
//! clears ([`Store::recordings`], [`Store::clear_recording`]). Queries only; which calls are
//! recorded and when files are purged are the engine's and the CLI's rules.

use serde::{Deserialize, Serialize};

use super::db::{from_row, Arg, Tx};
use super::records::{search_where, PhoneArgs};
use super::{check_e164, CallFilter, CallMedia, Store, StoreError};

/// A call's recording, as the recorder summarised it.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct RecordingInfo {
    /// The file.
    pub path: String,
    /// Seconds of audio.
    pub secs: f64,
    /// Why it failed (`None`: it did not).
    pub failed: Option<String>,
}

/// The customer leg's media figures.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MediaFigures {
    /// RTP packets received.
    pub packets: i64,
    /// Loss, %.
    pub loss_pct: f64,
    /// Interarrival jitter, ms.
    pub jitter_ms: f64,
    /// E-model MOS estimate.
    pub mos: f64,
}

/// What call-progress analysis decided on a call, for its record and `outdial report`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CpaRecord {
    /// The verdict's name (`human`, `machine`, `announcement`, `sit`, `fax`, `silence`,
    /// `unsure`).
    pub verdict: String,
    /// Why, for people (which announcement, which SIT, the greeting's length…).
    pub detail: String,
    /// The analysis delay, ms: from the answer (early media: from its start) to the verdict,
    /// as the engine saw it. Part of a person's wait for an agent.
    pub delay_ms: i64,
    /// What the campaign's policy did: `connect`, `hangup`, `message` or `cancel` (early
    /// media, before any answer).
    pub action: String,
}

/// What the media plane adds to one call record; every part optional.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct AttemptMedia {
    /// The recording, if the call was recorded (or recording was tried).
    pub recording: Option<RecordingInfo>,
    /// The customer leg's figures, if it had media.
    pub customer: Option<MediaFigures>,
}

/// Which recordings `outdial recordings` works on; empty matches all that still have a file.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RecordingFilter {
    /// Campaign name.
    pub campaign: Option<String>,
    /// E.164 number.
    pub phone: Option<String>,
    /// Dialled at or after (epoch ms).
    pub from_ms: Option<i64>,
    /// Dialled before (epoch ms).
    pub to_ms: Option<i64>,
}

from_row! {
    /// One recorded call.
    #[derive(Clone, Debug, PartialEq, Serialize)]
    pub struct RecordingRow {
        /// The call record (attempt id).
        pub attempt: i64,
        /// Campaign name.
        pub campaign: String,
        /// The number called (E.164).
        pub phone: String,
        /// When the call was dialled, epoch ms UTC.
        pub dial_ms: i64,
        /// The file.
        pub path: String,
        /// Seconds of audio (`None` if never summarised: the call's node crashed).
        pub secs: Option<f64>,
    }
}

impl Store {
    /// Writes the media part of call record `attempt` (open or closed). Fields left `None` keep
    /// what is stored. Returns whether the record exists.
    pub async fn record_media(
        &self,
        attempt: i64,
        media: &AttemptMedia,
    ) -> Result<bool, StoreError> {
        let rec = media.recording.as_ref();
        let n = self
            .write_one(
                MEDIA_UPDATE,
                &media_args(
                    attempt,
                    rec.map(|r| r.path.as_str()),
                    rec.map(|r| r.secs),
                    rec.and_then(|r| r.failed.as_deref()),
                    media.customer.as_ref(),
                    false,
                ),
            )
            .await?;
        Ok(n > 0)
    }

    /// The customer of call record `attempt` pressed the opt-out key: `phone` goes on the
    /// do-not-call list (source `opt-out`) and the record says so, in one transaction — never
    /// one without the other. Returns whether the number was newly listed.
    pub async fn opt_out(
        &self,
        attempt: i64,
        phone: &str,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        check_e164(phone)?;
        let mut tx = self.write_tx().await?;
        let marked = tx
            .exec(
                "UPDATE attempts SET opted_out = 1 WHERE id = $1 AND phone = $2",
                &[Arg::I(attempt), Arg::S(phone)],
            )
            .await?;
        // The attempt must be this number's: an opt-out never lists someone else.
        if marked == 0 {
            return Err(StoreError::UnknownAttempt(attempt));
        }
        let added = tx
            .exec(
                "INSERT INTO dnc (phone, added_ms, source) VALUES ($1, $2, 'opt-out') \
                 ON CONFLICT (phone) DO NOTHING",
                &[Arg::S(phone), Arg::I(now_ms)],
            )
            .await?;
        tx.commit().await?;
        Ok(added > 0)
    }

    /// Calls whose recording file is still kept, matching `filter`, oldest first.
    pub async fn recordings(
        &self,
        filter: &RecordingFilter,
    ) -> Result<Vec<RecordingRow>, StoreError> {
        let calls = CallFilter {
            campaign: filter.campaign.clone(),
            from_ms: filter.from_ms,
            to_ms: filter.to_ms,
            ..CallFilter::default()
        };
        let phone = PhoneArgs::exact(filter.phone.clone());
        let mut w = search_where(&calls, &phone);
        w.and("a.recording_path IS NOT NULL");
        let mut tx = self.read_tx().await?;
        let rows = tx
            .all(
                &format!(
                    "SELECT a.id AS attempt, c.name AS campaign, a.phone AS phone, \
                     a.dial_ms AS dial_ms, a.recording_path AS path, a.recording_secs AS secs \
                     FROM attempts a JOIN campaigns c ON c.id = a.campaign_id{} \
                     ORDER BY a.dial_ms, a.id",
                    w.sql()
                ),
                w.args(),
            )
            .await?;
        tx.commit().await?;
        Ok(rows)
    }

    /// The recording of call record `attempt` was deleted: its path is cleared, the record (and
    /// its duration and figures) kept. Returns whether it had one.
    pub async fn clear_recording(&self, attempt: i64) -> Result<bool, StoreError> {
        let n = self
            .write_one(
                "UPDATE attempts SET recording_path = NULL \
                 WHERE id = $1 AND recording_path IS NOT NULL",
                &[Arg::I(attempt)],
            )
            .await?;
        Ok(n > 0)
    }
}

impl From<crate::media::io::LegStats> for MediaFigures {
    fn from(s: crate::media::io::LegStats) -> Self {
        MediaFigures {
            packets: i64::try_from(s.packets_in).unwrap_or(i64::MAX),
            loss_pct: s.loss_pct,
            jitter_ms: s.jitter_ms,
            mos: s.mos,
        }
    }
}

/// Writes what the engine's media plane kept of a call (recording, figures, opt-out) into call
/// record `attempt`, inside the transaction that closes it; `end_ms` is the call's end (the
/// recording's length runs from its start to there).
pub(crate) async fn write_call_media(
    tx: &mut Tx,
    attempt: i64,
    m: &CallMedia,
    end_ms: i64,
) -> Result<(), StoreError> {
    let secs = m
        .recording
        .as_ref()
        .and(m.recording_from_ms)
        .map(|from| (end_ms - from).max(0) as f64 / 1000.0);
    tx.exec(
        MEDIA_UPDATE,
        &media_args(
            attempt,
            m.recording.as_deref(),
            secs,
            m.recording_failed.as_deref(),
            m.customer.as_ref(),
            m.opted_out,
        ),
    )
    .await?;
    if let Some(c) = &m.cpa {
        tx.exec(
            "UPDATE attempts SET cpa_verdict = $2, cpa_detail = $3, cpa_delay_ms = $4, \
             cpa_action = $5 WHERE id = $1",
            &[
                Arg::I(attempt),
                Arg::S(&c.verdict),
                Arg::S(&c.detail),
                Arg::I(c.delay_ms),
                Arg::S(&c.action),
            ],
        )
        .await?;
    }
    Ok(())
}

/// The media columns of one call record; a `NULL` argument keeps what is stored, and the opt-out
/// flag is only ever set, never cleared.
const MEDIA_UPDATE: &str = "UPDATE attempts SET \
     recording_path = COALESCE($2, recording_path), \
     recording_secs = COALESCE($3, recording_secs), \
     recording_failed = COALESCE($4, recording_failed), \
     media_packets = COALESCE($5, media_packets), \
     media_loss_pct = COALESCE($6, media_loss_pct), \
     media_jitter_ms = COALESCE($7, media_jitter_ms), \
     media_mos = COALESCE($8, media_mos), \
     opted_out = CASE WHEN $9 = 1 THEN 1 ELSE opted_out END \
     WHERE id = $1";

/// [`MEDIA_UPDATE`]'s arguments.
fn media_args<'a>(
    attempt: i64,
    path: Option<&'a str>,
    secs: Option<f64>,
    failed: Option<&'a str>,
    fig: Option<&MediaFigures>,
    opted_out: bool,
) -> [Arg<'a>; 9] {
    [
        Arg::I(attempt),
        Arg::OS(path),
        Arg::OF(secs),
        Arg::OS(failed),
        Arg::OI(fig.map(|f| f.packets)),
        Arg::OF(fig.map(|f| f.loss_pct)),
        Arg::OF(fig.map(|f| f.jitter_ms)),
        Arg::OF(fig.map(|f| f.mos)),
        Arg::I(i64::from(opted_out)),
    ]
}
