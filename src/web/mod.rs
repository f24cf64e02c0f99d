//! The browser pages, served by the engine on the admin listener under `/ui/` (same socket, same
//! tokens, loopback by default): login and sessions (`session`), the page frame (`layout`), the
//! embedded htmx and stylesheet (`assets`), labels in English and Chinese (`i18n`), and the
//! supervisor wallboard (`wallboard`, live over server-sent events). Pages are rendered on the
//! server with maud (every value escaped) and updated by htmx; no JavaScript of our own beyond
//! htmx attributes.
//!
//! Must not touch: engine state (everything goes through [`Control`], as the JSON API does) and
//! the rules of a change (pacing and pause go through `admin::changes`, the same validation and
//! audit code as the JSON API).
//!
//! | path | what |
//! |---|---|
//! | `GET/POST /ui/login`, `POST /ui/logout` | sessions |
//! | `GET /ui/` | wallboard (supervisor) |
//! | `GET /ui/events/wallboard` | its live fragments (SSE, once a second) |
//! | `POST /ui/campaigns/{name}/pacing`, `/pause`, `/resume` | supervisor controls |
//! | `POST /ui/agents/{id}/logout` | log an agent out (supervisor) |
//! | `GET /ui/assets/{name}` | embedded htmx, its SSE extension, the stylesheet |
//! | `GET /ui/agent` (`/ui/desk`), `GET /ui/events/agent` | agent desktop and its live pop (`desktop`) |
//! | `POST /ui/agent/{login,ready,pause,logout,wrapup}` | agent actions |
//! | `GET /ui/records`, `/ui/records.csv`, `/ui/recordings/{id}` | call records (`records`) |

pub mod assets;
pub mod desktop;
pub mod i18n;
pub mod layout;
pub mod records;
pub mod session;
mod sparkline;
pub mod wallboard;

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use maud::html;

use crate::admin::{ApiToken, Control, Tokens};
pub use i18n::Lang;
pub use session::Viewer;

/// What the pages share: the engine, the tokens, the session lifetime and the wallboard's
/// history. Cheap to clone.
#[derive(Clone)]
pub struct WebState {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) control: Arc<dyn Control>,
    pub(crate) tokens: Tokens,
    pub(crate) session_ttl: Duration,
    pub(crate) revoked: session::Revoked,
    pub(crate) board: wallboard::BoardCache,
}

impl WebState {
    /// The pages of the engine behind `control`, signing in with `tokens` (the admin API's), with
    /// sessions lasting `session_ttl`.
    pub fn new(control: Arc<dyn Control>, tokens: Vec<ApiToken>, session_ttl: Duration) -> Self {
        WebState {
            inner: Arc::new(Inner {
                control,
                tokens: Tokens::new(tokens),
                session_ttl,
                revoked: session::Revoked::default(),
                board: wallboard::BoardCache::default(),
            }),
        }
    }

    /// The engine.
    pub fn control(&self) -> &dyn Control {
        self.inner.control.as_ref()
    }
}

/// The `/ui/…` routes, to merge into the admin router. Starts the wallboard's history sampler
/// (it ends when the router is dropped).
pub fn router(state: WebState) -> Router {
    wallboard::start_sampler(&state);
    Router::new()
        .route(
            "/ui",
            get(|| async { axum::response::Redirect::permanent("/ui/") }),
        )
        .route("/ui/login", get(session::login_page).post(session::login))
        .route("/ui/logout", post(session::logout))
        .route("/ui/assets/{name}", get(assets::asset))
        .merge(wallboard::routes())
        .merge(desktop::routes())
        .merge(records::routes())
        .route("/ui/{*rest}", get(not_found).post(not_found))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            session::require_csrf,
        ))
        .with_state(state)
}

async fn not_found(lang: Lang) -> Response {
    let body = html! { main { h1 { "404" } p { (lang.t("err.not_found")) } p { a href="/ui/" { "outdial" } } } };
    (StatusCode::NOT_FOUND, layout::page(lang, "404", body)).into_response()
}

/// 403 page for a role that may not open a page or make a change.
pub(crate) fn forbidden(lang: Lang) -> Response {
    let body = html! { main { h1 { "403" } p { (lang.t("err.forbidden")) } } };
    (StatusCode::FORBIDDEN, layout::page(lang, "403", body)).into_response()
}

/// The page for an engine error, with the status the JSON API gives the same error.
pub(crate) fn engine_error(lang: Lang, e: &crate::admin::ControlError) -> Response {
    let status = crate::admin::ApiError::from(e.clone()).status();
    let body = html! { main { h1 { (status.as_u16()) } p { (e.to_string()) } } };
    (status, layout::page(lang, "outdial", body)).into_response()
}
