//! The call-record search page at `/ui/records` (supervisors): campaign, number, date range,
//! disposition and agent, newest first and paginated, a CSV export of the search
//! (`/ui/records.csv`), and on each recorded row an HTML5 `<audio>` playing its recording from
//! `/ui/recordings/{id}` (the session's auth, HTTP Range requests so the player can seek).
//!
//! Must not touch: the query rules, the CSV format and the range handling, which are
//! `admin::records`' (the JSON API's `/records`, `/records.csv` and `/recordings/{id}` use the
//! same functions). Every value is escaped by maud.

use axum::extract::{Path, Query, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use maud::{html, Markup};

use super::i18n::Lang;
use super::layout::{app_page, Section};
use super::session::Viewer;
use super::{forbidden, WebState};
use crate::admin::records::{self, RecordQuery, RecordsView};
use crate::admin::ApiError;
use crate::store::CallRecord;

pub(crate) fn routes() -> Router<WebState> {
    Router::new()
        .route("/ui/records", get(page))
        .route("/ui/records.csv", get(csv))
        .route("/ui/recordings/{id}", get(recording))
}

fn time(ms: Option<i64>) -> String {
    ms.and_then(chrono::DateTime::from_timestamp_millis)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_default()
}

/// The query string of `q` on another page.
fn with_page(q: &RecordQuery, page: i64) -> String {
    // The query-string encoder of reqwest's Url (the `url` crate): a fixed base always parses.
    let Ok(mut url) = reqwest::Url::parse("http://outdial/ui/records") else {
        return String::new();
    };
    let mut out = url.query_pairs_mut();
    for (k, v) in [
        ("campaign", &q.campaign),
        ("phone", &q.phone),
        ("from", &q.from),
        ("to", &q.to),
        ("disposition", &q.disposition),
        ("agent", &q.agent),
    ] {
        if !v.trim().is_empty() {
            out.append_pair(k, v);
        }
    }
    out.append_pair("page", &page.to_string());
    if let Some(n) = q.per_page {
        out.append_pair("per_page", &n.to_string());
    }
    drop(out);
    url.query().unwrap_or_default().to_string()
}

async fn page(
    State(state): State<WebState>,
    viewer: Viewer,
    lang: Lang,
    Query(q): Query<RecordQuery>,
    RawQuery(raw): RawQuery,
) -> Response {
    if !viewer.is_supervisor() {
        return forbidden(lang);
    }
    let result = match q.check() {
        Ok(s) => records::search(state.control(), &s)
            .await
            .map_err(|e| ApiError::from(e).message().to_string()),
        Err(e) => Err(e),
    };
    let field = |name: &'static str, label: &'static str, value: &str, kind: &'static str| {
        html! { label { (lang.t(label)) " " input type=(kind) name=(name) value=(value); } }
    };
    let body = html! {
        main {
            h1 { (lang.t("rec.title")) }
            form #record-search method="get" action="/ui/records" {
                (field("campaign", "wb.campaign", &q.campaign, "text"))
                (field("phone", "desk.phone", &q.phone, "text"))
                (field("from", "rec.from", &q.from, "date"))
                (field("to", "rec.to", &q.to, "date"))
                (field("disposition", "desk.outcome", &q.disposition, "text"))
                (field("agent", "wb.agent", &q.agent, "text"))
                button type="submit" { (lang.t("rec.search")) }
                " "
                a #csv-link href={ "/ui/records.csv?" (raw.as_deref().unwrap_or("")) } { (lang.t("rec.csv")) }
            }
            @match &result {
                Err(msg) => p.msg.err role="alert" { (msg) },
                Ok(view) => (table(lang, &q, view)),
            }
        }
    };
    let status = if result.is_ok() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    (
        status,
        app_page(lang, &viewer, Section::Records, lang.t("rec.title"), body),
    )
        .into_response()
}

fn table(lang: Lang, q: &RecordQuery, v: &RecordsView) -> Markup {
    html! {
        p #record-count { (v.total) " " (lang.t("rec.found")) }
        table #record-table {
            tr {
                th { (lang.t("wb.when")) } th { (lang.t("wb.campaign")) } th { (lang.t("desk.phone")) }
                th { (lang.t("desk.name")) } th { (lang.t("wb.agent")) } th { (lang.t("desk.outcome")) }
                th { (lang.t("desk.note")) } th { (lang.t("rec.recording")) }
            }
            @for r in &v.rows { (row(r)) }
        }
        @if v.pages > 1 {
            p.pages {
                @if v.page > 1 { a rel="prev" href={ "/ui/records?" (with_page(q, v.page - 1)) } { "←" } " " }
                (v.page) " / " (v.pages)
                @if v.page < v.pages { " " a rel="next" href={ "/ui/records?" (with_page(q, v.page + 1)) } { "→" } }
            }
        }
    }
}

fn row(r: &CallRecord) -> Markup {
    let outcome = match (&r.disposition, &r.agent_disposition) {
        (Some(d), Some(a)) => format!("{d} / {a}"),
        (Some(d), None) => d.clone(),
        (None, Some(a)) => a.clone(),
        (None, None) => String::new(),
    };
    html! {
        tr data-attempt=(r.attempt) {
            td { (time(Some(r.dial_ms))) }
            td { (r.campaign) }
            td { (r.phone) }
            td { (r.name.as_deref().unwrap_or("")) }
            td { (r.agent.as_deref().unwrap_or("")) }
            td { (outcome) }
            td.note-text { (r.note.as_deref().unwrap_or("")) }
            td {
                @if r.has_recording != 0 {
                    audio controls preload="metadata" src={ "/ui/recordings/" (r.attempt) } {}
                }
            }
        }
    }
}

async fn csv(
    State(state): State<WebState>,
    viewer: Viewer,
    lang: Lang,
    Query(q): Query<RecordQuery>,
) -> Response {
    if !viewer.is_supervisor() {
        return forbidden(lang);
    }
    let s = match q.check() {
        Ok(s) => s,
        Err(e) => return ApiError::bad_request(e).into_response(),
    };
    match records::csv_download(state.control(), &s).await {
        Ok(r) => r,
        Err(e) => ApiError::from(e).into_response(),
    }
}

async fn recording(
    State(state): State<WebState>,
    viewer: Viewer,
    lang: Lang,
    Path(id): Path<i64>,
    headers: HeaderMap,
) -> Response {
    if !viewer.is_supervisor() {
        return forbidden(lang);
    }
    records::serve_recording(state.control(), id, &headers).await
}
