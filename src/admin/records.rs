//! Call records for supervisors: the search request as a user types it ([`RecordQuery`]: campaign,
//! number, date range, disposition, agent, page) checked into the store's [`CallFilter`], the
//! page of results ([`RecordsView`]), its CSV export (every cell through
//! [`crate::export::csv_cell`]), and a call's recording served with HTTP Range requests (206,
//! `Content-Range`, 416 for a range outside the file) so a browser's `<audio>` can seek. The JSON
//! API's routes are [`routes`] (bearer token, supervisors only: see `auth`); the web pages
//! (`web::records`) call the same functions.
//!
//! Must not touch: the store directly (everything goes through [`Control`]) and engine state.

use std::io::SeekFrom;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{NaiveDate, TimeZone};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use super::control::{Control, ControlError};
use super::http::{ApiError, ApiQuery, Segment};
use super::responses::{RecordingErrors, SearchErrors};
use crate::store::{CallFilter, CallRecord, MAX_PAGE};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Rows per page unless the request says otherwise.
pub const DEFAULT_PER_PAGE: i64 = 50;
/// Most rows one CSV export writes.
pub const MAX_EXPORT: i64 = MAX_PAGE;

/// A call-record search as typed (query string of `GET /records` and of the records page).
/// Empty fields match everything.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::IntoParams)]
#[serde(default)]
#[into_params(parameter_in = Query)]
pub struct RecordQuery {
    /// Campaign name.
    pub campaign: String,
    /// `+8613800000001` exactly, or digits matching the end of the number.
    pub phone: String,
    /// First day (`YYYY-MM-DD`, UTC) or instant (RFC 3339) dialled.
    pub from: String,
    /// Last day (`YYYY-MM-DD`, UTC, included) or instant (RFC 3339, excluded).
    pub to: String,
    /// The call's disposition or the agent's wrap-up code.
    pub disposition: String,
    /// Agent id.
    pub agent: String,
    /// Page, from 1.
    pub page: Option<i64>,
    /// Rows per page, 1 to 1000.
    pub per_page: Option<i64>,
}

/// A checked search: the store's filter and which rows.
#[derive(Debug, Clone, PartialEq)]
pub struct Search {
    /// What matches.
    pub filter: CallFilter,
    /// Page, from 1.
    pub page: i64,
    /// Rows per page.
    pub per_page: i64,
}

fn opt(s: &str) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_string())
}

/// A `from`/`to` field: a UTC day (its start; the next day's start for an inclusive `to`) or an
/// RFC 3339 instant.
fn instant(field: &str, raw: &str, end_of_day: bool) -> Result<Option<i64>, String> {
    let t = raw.trim();
    if t.is_empty() {
        return Ok(None);
    }
    if let Ok(d) = NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        let d = if end_of_day { d.succ_opt() } else { Some(d) };
        let ms = d
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|dt| chrono::Utc.from_utc_datetime(&dt).timestamp_millis());
        return ms
            .map(Some)
            .ok_or_else(|| format!("{field}: {t:?} is out of range"));
    }
    chrono::DateTime::parse_from_rfc3339(t)
        .map(|d| Some(d.timestamp_millis()))
        .map_err(|_| {
            format!("{field}: {t:?} is neither a day (2026-03-04) nor a time (2026-03-04T10:00:00+08:00)")
        })
}

impl RecordQuery {
    /// Checks the search; the message names the field that is wrong.
    pub fn check(&self) -> Result<Search, String> {
        let phone = opt(&self.phone);
        if let Some(p) = &phone {
            let digits = p.strip_prefix('+').unwrap_or(p);
            if !(1..=15).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(format!(
                    "phone: {p:?} must be + and digits (exact) or digits (end of the number)"
                ));
            }
        }
        let code_ok = |s: &str| {
            s.len() <= 64
                && s.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
        };
        let disposition = opt(&self.disposition);
        if disposition.as_deref().is_some_and(|d| !code_ok(d)) {
            return Err(format!(
                "disposition: {:?} must be a code such as callback or no_answer",
                self.disposition.trim()
            ));
        }
        let from_ms = instant("from", &self.from, false)?;
        let to_ms = instant("to", &self.to, true)?;
        if let (Some(f), Some(t)) = (from_ms, to_ms) {
            if f >= t {
                return Err("from must be before to".into());
            }
        }
        let page = self.page.unwrap_or(1);
        if !(1..=1_000_000).contains(&page) {
            return Err(format!("page must be 1 or more, got {page}"));
        }
        let per_page = self.per_page.unwrap_or(DEFAULT_PER_PAGE);
        if !(1..=MAX_PAGE).contains(&per_page) {
            return Err(format!(
                "per_page must be in [1, {MAX_PAGE}], got {per_page}"
            ));
        }
        Ok(Search {
            filter: CallFilter {
                campaign: opt(&self.campaign),
                phone,
                from_ms,
                to_ms,
                disposition,
                agent: opt(&self.agent),
            },
            page,
            per_page,
        })
    }
}

/// One page of call records (the JSON answer of `GET /records`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RecordsView {
    /// The records, newest first.
    pub rows: Vec<CallRecord>,
    /// How many match in all.
    pub total: i64,
    /// This page, from 1.
    pub page: i64,
    /// Rows per page.
    pub per_page: i64,
    /// Pages in all (0 when nothing matches).
    pub pages: i64,
}

/// Runs a checked search.
pub async fn search(control: &dyn Control, s: &Search) -> Result<RecordsView, ControlError> {
    let offset = (s.page - 1).saturating_mul(s.per_page);
    let page = control.search_calls(&s.filter, offset, s.per_page).await?;
    Ok(RecordsView {
        pages: (page.total + s.per_page - 1) / s.per_page,
        rows: page.rows,
        total: page.total,
        page: s.page,
        per_page: s.per_page,
    })
}

/// RFC 3339 UTC of epoch ms (empty for none).
fn time(ms: Option<i64>) -> String {
    ms.and_then(chrono::DateTime::from_timestamp_millis)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

/// The records as CSV (a header row, then one row per call); every cell through
/// [`crate::export::csv_cell`], so a customer name starting with `=` stays text.
pub fn csv(rows: &[CallRecord]) -> Result<String, ControlError> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let fail = |e: csv::Error| ControlError::Internal(format!("CSV export: {e}"));
    w.write_record([
        "attempt",
        "campaign",
        "lead",
        "phone",
        "name",
        "external_id",
        "agent",
        "dialled",
        "answered",
        "connected",
        "ended",
        "disposition",
        "agent_disposition",
        "note",
        "recording_secs",
    ])
    .map_err(fail)?;
    for r in rows {
        let cells = [
            r.attempt.to_string(),
            r.campaign.clone(),
            r.lead.to_string(),
            r.phone.clone(),
            r.name.clone().unwrap_or_default(),
            r.external_id.clone().unwrap_or_default(),
            r.agent.clone().unwrap_or_default(),
            time(Some(r.dial_ms)),
            time(r.answer_ms),
            time(r.connect_ms),
            time(r.end_ms),
            r.disposition.clone().unwrap_or_default(),
            r.agent_disposition.clone().unwrap_or_default(),
            r.note.clone().unwrap_or_default(),
            r.recording_secs
                .map(|s| format!("{s:.1}"))
                .unwrap_or_default(),
        ];
        w.write_record(
            cells
                .iter()
                .map(|c| crate::export::csv_cell(c).into_owned()),
        )
        .map_err(fail)?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| ControlError::Internal(format!("CSV export: {e}")))?;
    String::from_utf8(bytes).map_err(|e| ControlError::Internal(format!("CSV export: {e}")))
}

/// The CSV export of a search as a download: the first [`MAX_EXPORT`] matching rows.
pub async fn csv_download(control: &dyn Control, s: &Search) -> Result<Response, ControlError> {
    let page = control.search_calls(&s.filter, 0, MAX_EXPORT).await?;
    let body = csv(&page.rows)?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"call-records.csv\"",
            ),
        ],
        body,
    )
        .into_response())
}

/// A Range header that cannot be satisfied (HTTP 416).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unsatisfiable;

/// A requested byte range of a file of `len` bytes (RFC 9110 §14): `Ok(None)` to send it whole
/// (no Range, another unit, or several ranges, which a server may ignore), `Ok(Some((first,
/// last)))` inclusive, [`Unsatisfiable`] for a malformed range or one outside the file (416).
pub fn byte_range(value: Option<&str>, len: u64) -> Result<Option<(u64, u64)>, Unsatisfiable> {
    let Some(v) = value.map(str::trim) else {
        return Ok(None);
    };
    let Some(spec) = v.strip_prefix("bytes=") else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None);
    }
    let (a, b) = spec.split_once('-').ok_or(Unsatisfiable)?;
    let (a, b) = (a.trim(), b.trim());
    let num = |s: &str| s.parse::<u64>().map_err(|_| Unsatisfiable);
    let (first, last) = match (a.is_empty(), b.is_empty()) {
        // bytes=-N: the last N bytes.
        (true, false) => {
            let n = num(b)?;
            if n == 0 || len == 0 {
                return Err(Unsatisfiable);
            }
            (len.saturating_sub(n), len - 1)
        }
        (false, true) => (num(a)?, len.saturating_sub(1)),
        (false, false) => {
            let (f, l) = (num(a)?, num(b)?);
            if l < f {
                return Err(Unsatisfiable);
            }
            (f, l.min(len.saturating_sub(1)))
        }
        (true, true) => return Err(Unsatisfiable),
    };
    if first >= len {
        return Err(Unsatisfiable);
    }
    Ok(Some((first, last)))
}

/// The recording of call record `attempt`, whole or the requested range; 404 when the record
/// has none (never recorded, purged, or the file is gone).
pub async fn serve_recording(control: &dyn Control, attempt: i64, headers: &HeaderMap) -> Response {
    match recording(control, attempt, headers).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn recording(
    control: &dyn Control,
    attempt: i64,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let gone = || {
        ApiError::new(
            StatusCode::NOT_FOUND,
            format!("call {attempt} has no recording"),
        )
    };
    let path = control.recording_file(attempt).await?.ok_or_else(gone)?;
    let mut file = match tokio::fs::File::open(&path).await {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(gone()),
        Err(e) => {
            tracing::error!(attempt, path, error = %e, "recording unreadable");
            return Err(ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("recording of call {attempt} is unreadable"),
            ));
        }
    };
    let io = |e: std::io::Error| {
        tracing::error!(attempt, error = %e, "recording read failed");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("recording of call {attempt} could not be read"),
        )
    };
    let len = file.metadata().await.map_err(io)?.len();
    let content_type = if path.ends_with(".wav") {
        "audio/wav"
    } else {
        "application/octet-stream"
    };
    let range = headers.get(header::RANGE).and_then(|v| v.to_str().ok());
    let mut resp = match byte_range(range, len) {
        Err(Unsatisfiable) => {
            let mut r = StatusCode::RANGE_NOT_SATISFIABLE.into_response();
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{len}")) {
                r.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            return Ok(r);
        }
        Ok(None) => {
            let mut buf = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
            file.read_to_end(&mut buf).await.map_err(io)?;
            (StatusCode::OK, Body::from(buf)).into_response()
        }
        Ok(Some((first, last))) => {
            file.seek(SeekFrom::Start(first)).await.map_err(io)?;
            let n = usize::try_from(last - first + 1).map_err(|_| gone())?;
            let mut buf = vec![0u8; n];
            file.read_exact(&mut buf).await.map_err(io)?;
            let mut r = (StatusCode::PARTIAL_CONTENT, Body::from(buf)).into_response();
            if let Ok(v) = HeaderValue::from_str(&format!("bytes {first}-{last}/{len}")) {
                r.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            r
        }
    };
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    Ok(resp)
}

type AppControl = Arc<dyn Control>;

/// The JSON API's call-record routes with their descriptions (merged into `http::router`,
/// behind its bearer tokens): `GET /records` (a [`RecordQuery`] → [`RecordsView`]),
/// `GET /records.csv`, `GET /recordings/{attempt}` (Range requests).
pub(crate) fn api() -> OpenApiRouter<AppControl> {
    OpenApiRouter::new()
        .routes(routes!(records_json))
        .routes(routes!(records_csv))
        .routes(routes!(recording_api))
}

/// Searches the call records, a page at a time.
#[utoipa::path(get, path = "/records", tag = "records", params(RecordQuery),
    responses(
        (status = 200, description = "One page of matching records, newest first", body = RecordsView),
        SearchErrors,
    ))]
async fn records_json(
    State(c): State<AppControl>,
    ApiQuery(q): ApiQuery<RecordQuery>,
) -> Result<Response, ApiError> {
    let s = q.check().map_err(ApiError::bad_request)?;
    Ok(Json(search(c.as_ref(), &s).await?).into_response())
}

/// The matching records as CSV (at most 1,000 rows; `page` and `per_page` ignored), every cell
/// safe to open in a spreadsheet.
#[utoipa::path(get, path = "/records.csv", tag = "records", params(RecordQuery),
    responses(
        (status = 200, description = "The records as CSV", body = String, content_type = "text/csv"),
        SearchErrors,
    ))]
async fn records_csv(
    State(c): State<AppControl>,
    ApiQuery(q): ApiQuery<RecordQuery>,
) -> Result<Response, ApiError> {
    let s = q.check().map_err(ApiError::bad_request)?;
    Ok(csv_download(c.as_ref(), &s).await?)
}

/// A call's recording, whole or the byte range asked for (`Range: bytes=…`).
#[utoipa::path(get, path = "/recordings/{attempt}", tag = "records",
    params(("attempt" = i64, Path, description = "Call record (attempt id)", example = 1)),
    responses(
        (status = 200, description = "The whole recording", content_type = "audio/wav", body = Vec<u8>),
        (status = 206, description = "The range asked for (`Content-Range`)", content_type = "audio/wav", body = Vec<u8>),
        (status = 416, description = "The range lies outside the file (`Content-Range: bytes */len`)"),
        RecordingErrors,
    ))]
async fn recording_api(
    State(c): State<AppControl>,
    Segment(attempt): Segment<i64>,
    headers: HeaderMap,
) -> Response {
    serve_recording(c.as_ref(), attempt, &headers).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        let r = |v: &str| byte_range(Some(v), 1000);
        assert_eq!(byte_range(None, 1000), Ok(None));
        assert_eq!(r("bytes=0-99"), Ok(Some((0, 99))));
        assert_eq!(r("bytes=900-"), Ok(Some((900, 999))));
        assert_eq!(r("bytes=-100"), Ok(Some((900, 999))));
        assert_eq!(r("bytes=990-5000"), Ok(Some((990, 999))));
        assert_eq!(r("bytes=-5000"), Ok(Some((0, 999))));
        assert_eq!(r("bytes=0-1,5-9"), Ok(None));
        assert_eq!(r("items=0-1"), Ok(None));
        for bad in [
            "bytes=1000-",
            "bytes=5-2",
            "bytes=-0",
            "bytes=x-1",
            "bytes=-",
            "bytes=7",
        ] {
            assert_eq!(r(bad), Err(Unsatisfiable), "{bad}");
        }
        assert_eq!(byte_range(Some("bytes=0-"), 0), Err(Unsatisfiable));
    }

    #[test]
    fn queries_are_checked_field_by_field() {
        let q = |f: &dyn Fn(&mut RecordQuery)| {
            let mut q = RecordQuery::default();
            f(&mut q);
            q.check()
        };
        let s = q(&|q| {
            q.campaign = " c1 ".into();
            q.phone = "8000001".into();
            q.from = "2026-03-04".into();
            q.to = "2026-03-04".into();
            q.page = Some(2);
        })
        .unwrap();
        assert_eq!(s.filter.campaign.as_deref(), Some("c1"));
        assert_eq!(s.filter.from_ms, Some(1_772_582_400_000));
        assert_eq!(s.filter.to_ms, Some(1_772_582_400_000 + 86_400_000));
        assert_eq!((s.page, s.per_page), (2, DEFAULT_PER_PAGE));
        for (f, field) in [
            (
                &(|q: &mut RecordQuery| q.phone = "12ab".into()) as &dyn Fn(&mut RecordQuery),
                "phone",
            ),
            (&|q: &mut RecordQuery| q.from = "yesterday".into(), "from"),
            (
                &|q: &mut RecordQuery| q.disposition = "DROP TABLE".into(),
                "disposition",
            ),
            (&|q: &mut RecordQuery| q.per_page = Some(0), "per_page"),
            (&|q: &mut RecordQuery| q.page = Some(0), "page"),
        ] {
            let e = q(f).unwrap_err();
            assert!(e.starts_with(field), "{e}");
        }
    }

    #[test]
    fn csv_cells_cannot_run_as_formulas() {
        let row = CallRecord {
            attempt: 1,
            campaign: "c1".into(),
            lead: 2,
            phone: "+8613800000001".into(),
            name: Some("=HYPERLINK(\"x\")".into()),
            external_id: None,
            agent: Some("a1".into()),
            dial_ms: 0,
            answer_ms: None,
            connect_ms: None,
            end_ms: None,
            disposition: Some("connected".into()),
            agent_disposition: Some("callback".into()),
            note: Some("line one\nline two".into()),
            recording_secs: Some(12.0),
            has_recording: 1,
        };
        let text = csv(&[row]).unwrap();
        let mut r = csv::Reader::from_reader(text.as_bytes());
        let rec = r.records().next().unwrap().unwrap();
        assert_eq!(&rec[4], "'=HYPERLINK(\"x\")");
        assert_eq!(&rec[13], "line one\nline two");
        assert_eq!(&rec[7], "1970-01-01T00:00:00Z");
    }
}
