//! The static files of the pages, embedded in the binary so they work on an isolated network (no
//! CDN, no JavaScript build step), served under `/ui/assets/` with long-lived caching (each name
//! carries its version).
//!
//! - htmx 2.0.11 (`htmx.org` on npm, `dist/htmx.min.js`), BSD Zero Clause licence
//!   (`assets/LICENSE-htmx.txt`), sha256 d6fdc75f204e6bdefa99b69bf1e6d4ac69b8a364f77929f45c13476b4000f717.
//! - htmx SSE extension 2.2.4 (`htmx-ext-sse` on npm, `dist/sse.min.js`), BSD Zero Clause licence
//!   (same text, same authors), sha256 98a46496de0c3605fbffdce9167ba427bdd9553184f83f149c261891a92c0136.
//! - `app.css`: ours.
//!
//! Fetched once with `npm pack htmx.org@2.0.11 htmx-ext-sse@2.2.4` and committed; to upgrade,
//! repeat with the new versions and change the names below and in the README.

use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

/// htmx, by URL name.
pub const HTMX: &str = "htmx-2.0.11.min.js";
/// The htmx SSE extension, by URL name.
pub const HTMX_SSE: &str = "htmx-ext-sse-2.2.4.min.js";
/// The stylesheet, by URL name (bump the suffix when it changes: browsers cache it for a year).
pub const CSS: &str = "app-1.css";

/// (URL name, content type, bytes).
const FILES: &[(&str, &str, &[u8])] = &[
    (
        HTMX,
        "text/javascript; charset=utf-8",
        include_bytes!("assets/htmx-2.0.11.min.js"),
    ),
    (
        HTMX_SSE,
        "text/javascript; charset=utf-8",
        include_bytes!("assets/htmx-ext-sse-2.2.4.min.js"),
    ),
    (
        CSS,
        "text/css; charset=utf-8",
        include_bytes!("assets/app.css"),
    ),
    (
        "LICENSE-htmx.txt",
        "text/plain; charset=utf-8",
        include_bytes!("assets/LICENSE-htmx.txt"),
    ),
];

/// `GET /ui/assets/{name}`.
pub(crate) async fn asset(Path(name): Path<String>) -> Response {
    match FILES.iter().find(|(n, _, _)| *n == name) {
        Some((_, ctype, bytes)) => (
            [
                (header::CONTENT_TYPE, *ctype),
                (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
            ],
            *bytes,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "no such asset").into_response(),
    }
}
