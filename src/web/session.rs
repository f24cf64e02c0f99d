//! Browser sessions: the login page takes an API token and answers with a session cookie
//! (HttpOnly, SameSite=Strict, path `/ui`), the [`Viewer`] extractor that every page uses, the
//! CSRF check on every state-changing request, and logout. Owns no page content beyond the login
//! form.
//!
//! A session is the cookie `outdial_session = NAME.NONCE.EXPIRES.MAC`, where MAC is
//! HMAC-SHA256 keyed with the secret of the token named NAME. Sessions live in memory only as
//! this signature (and a list of sessions logged out), so:
//! - an engine restart does not log a wallboard out: its live stream reconnects by itself;
//! - removing or changing a token in the config ends every session opened with it;
//! - a session expires `session_ttl` after login (admin.session_ttl, default 12 h).
//!
//! The CSRF token is a second MAC over the nonce (so it is per session and needs no storage);
//! pages send it as `X-CSRF-Token` (htmx `hx-headers` on the page body) or as the form field
//! `csrf`. Every POST/PUT/PATCH/DELETE under `/ui` except the login itself must carry it: 403
//! otherwise. SameSite=Strict already keeps other sites' requests from carrying the cookie; the
//! token is the second lock.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use maud::html;
use serde::Deserialize;
use sha2::Sha256;

use super::i18n::Lang;
use super::layout;
use super::WebState;
use crate::admin::{ApiToken, Role};

/// Name of the session cookie.
pub const COOKIE: &str = "outdial_session";
/// Header carrying the CSRF token on htmx requests.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// Form field carrying the CSRF token on plain form posts.
pub const CSRF_FIELD: &str = "csrf";
/// Default session lifetime: a shift.
pub const DEFAULT_TTL: Duration = Duration::from_secs(12 * 3600);
/// Largest form body read when looking for the CSRF field.
const FORM_LIMIT: usize = 64 * 1024;

type HmacSha256 = Hmac<Sha256>;

/// Who is looking at a page: the token's name, role and agent, and the session's CSRF token to
/// put in the page. Extracting it from a request without a valid session sends the browser to
/// the login page (htmx requests get `HX-Redirect`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Viewer {
    /// The token's name (what the audit trail shows).
    pub name: String,
    /// What the token may do.
    pub role: Role,
    /// The agent an agent token is bound to.
    pub agent: Option<String>,
    /// The session's CSRF token.
    pub csrf: String,
}

impl Viewer {
    /// True for a supervisor.
    pub fn is_supervisor(&self) -> bool {
        self.role == Role::Supervisor
    }
}

/// Sessions logged out before their expiry (nonce → expiry ms), pruned as they expire.
#[derive(Debug, Default)]
pub(crate) struct Revoked(Mutex<HashMap<String, i64>>);

impl Revoked {
    fn revoke(&self, nonce: &str, expires_ms: i64, now_ms: i64) {
        let mut m = self.0.lock().unwrap_or_else(|p| p.into_inner());
        m.retain(|_, e| *e > now_ms);
        m.insert(nonce.to_string(), expires_ms);
    }

    fn contains(&self, nonce: &str) -> bool {
        let m = self.0.lock().unwrap_or_else(|p| p.into_inner());
        m.contains_key(nonce)
    }
}

/// HMAC-SHA256 of `parts` (each followed by a NUL, so parts cannot shift into each other) under
/// `secret`, in hex. `None` only if the key were refused, which HMAC never does (any length goes);
/// callers treat it as "no valid session" rather than trusting an empty MAC.
fn mac(secret: &str, parts: &[&str]) -> Option<String> {
    let mut m = HmacSha256::new_from_slice(secret.as_bytes()).ok()?;
    for p in parts {
        m.update(p.as_bytes());
        m.update(b"\0");
    }
    Some(hex(&m.finalize().into_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn b64(s: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s)
}

fn unb64(s: &str) -> Option<String> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .ok()?;
    String::from_utf8(bytes).ok()
}

/// A verified session cookie.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    token: ApiToken,
    nonce: String,
    expires_ms: i64,
}

impl Session {
    fn cookie_value(&self) -> Option<String> {
        let name = b64(&self.token.name);
        let exp = self.expires_ms.to_string();
        let sig = mac(&self.token.token, &["session", &name, &self.nonce, &exp])?;
        Some(format!("{name}.{}.{exp}.{sig}", self.nonce))
    }

    /// The session's CSRF token: 128 bits of a MAC over its nonce.
    fn csrf(&self) -> Option<String> {
        mac(&self.token.token, &["csrf", &self.nonce]).and_then(|m| m.get(..32).map(str::to_string))
    }

    fn viewer(&self) -> Option<Viewer> {
        Some(Viewer {
            name: self.token.name.clone(),
            role: self.token.role,
            agent: self.token.agent.clone(),
            csrf: self.csrf()?,
        })
    }
}

/// The session a request carries, if its cookie is valid, unexpired and not logged out.
pub(crate) fn session_of(state: &WebState, headers: &HeaderMap) -> Option<Session> {
    let value = cookie(headers, COOKIE)?;
    let mut it = value.split('.');
    let (name, nonce, exp, sig) = (it.next()?, it.next()?, it.next()?, it.next()?);
    if it.next().is_some() {
        return None;
    }
    let token = state.inner.tokens.by_name(&unb64(name)?)?.clone();
    let expected = mac(&token.token, &["session", name, nonce, exp])?;
    if !ct_eq_str(&expected, sig) {
        return None;
    }
    let expires_ms: i64 = exp.parse().ok()?;
    if expires_ms <= crate::admin::now_ms() || state.inner.revoked.contains(nonce) {
        return None;
    }
    Some(Session {
        token,
        nonce: nonce.to_string(),
        expires_ms,
    })
}

fn ct_eq_str(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |d, (x, y)| d | (x ^ y)) == 0
}

/// The value of cookie `name` in the request's `Cookie` headers.
fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|kv| {
            let (k, v) = kv.trim().split_once('=')?;
            (k == name).then_some(v)
        })
}

/// What a missing or invalid session gets: the login page (htmx: a redirect header, since htmx
/// swaps answers into the page instead of following redirects).
pub struct ToLogin {
    htmx: bool,
}

impl IntoResponse for ToLogin {
    fn into_response(self) -> Response {
        if self.htmx {
            (
                StatusCode::UNAUTHORIZED,
                [("hx-redirect", "/ui/login?expired=1")],
            )
                .into_response()
        } else {
            Redirect::to("/ui/login?expired=1").into_response()
        }
    }
}

impl FromRequestParts<WebState> for Viewer {
    type Rejection = ToLogin;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &WebState,
    ) -> Result<Self, Self::Rejection> {
        session_of(state, &parts.headers)
            .and_then(|s| s.viewer())
            .ok_or(ToLogin {
                htmx: parts.headers.contains_key("hx-request"),
            })
    }
}

/// Middleware on every `/ui` route: a state-changing request must carry its session's CSRF token
/// (header or form field), else 403 and the handler does not run. The login form is exempt (it
/// has no session yet; SameSite=Strict and the token itself guard it).
pub(crate) async fn require_csrf(
    State(state): State<WebState>,
    req: Request,
    next: Next,
) -> Response {
    let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if safe || req.uri().path() == "/ui/login" {
        return next.run(req).await;
    }
    let Some(session) = session_of(&state, req.headers()) else {
        // No session: the handler's Viewer would send the browser to login; a forged request
        // without a cookie is refused here all the same.
        return forbidden("no session: sign in first");
    };
    let Some(expected) = session.csrf() else {
        return forbidden("no CSRF token for this session");
    };
    if let Some(h) = req.headers().get(CSRF_HEADER).and_then(|v| v.to_str().ok()) {
        if ct_eq_str(h, &expected) {
            return next.run(req).await;
        }
        return forbidden("wrong CSRF token");
    }
    let is_form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return forbidden("missing CSRF token");
    }
    let (parts, body) = req.into_parts();
    let bytes = match axum::body::to_bytes(body, FORM_LIMIT).await {
        Ok(b) => b,
        Err(e) => {
            return (StatusCode::PAYLOAD_TOO_LARGE, format!("form body: {e}")).into_response()
        }
    };
    let ok =
        form_urlencoded::parse(&bytes).any(|(k, v)| k == CSRF_FIELD && ct_eq_str(&v, &expected));
    if !ok {
        return forbidden("missing or wrong CSRF token");
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

fn forbidden(why: &str) -> Response {
    tracing::info!(why, "web request refused (CSRF)");
    (StatusCode::FORBIDDEN, format!("403 Forbidden: {why}")).into_response()
}

/// Query of `GET /ui/login`.
#[derive(Debug, Deserialize, Default)]
pub(crate) struct LoginQuery {
    #[serde(default)]
    expired: Option<String>,
}

/// `GET /ui/login`: the form (a still-valid session goes straight to its home page).
pub(crate) async fn login_page(
    State(state): State<WebState>,
    lang: Lang,
    headers: HeaderMap,
    axum::extract::Query(q): axum::extract::Query<LoginQuery>,
) -> Response {
    if let Some(s) = session_of(&state, &headers) {
        return Redirect::to(home(s.token.role)).into_response();
    }
    let note = q.expired.is_some().then(|| lang.t("login.expired"));
    login_form(lang, note, StatusCode::OK)
}

fn login_form(lang: Lang, note: Option<&str>, status: StatusCode) -> Response {
    let body = html! {
        main.login {
            h1 { (lang.t("app.name")) " · " (lang.t("login.title")) }
            @if let Some(n) = note { p.note role="alert" { (n) } }
            form method="post" action="/ui/login" {
                label for="token" { (lang.t("login.token")) }
                input #token type="password" name="token" autocomplete="current-password" required autofocus;
                button type="submit" { (lang.t("login.submit")) }
            }
            p.hint { (lang.t("login.hint")) }
        }
    };
    (status, layout::page(lang, lang.t("login.title"), body)).into_response()
}

/// Where a role lands after login.
fn home(role: Role) -> &'static str {
    match role {
        Role::Supervisor => "/ui/",
        Role::Agent => "/ui/desk",
    }
}

/// Body of `POST /ui/login`.
#[derive(Debug, Deserialize)]
pub(crate) struct LoginForm {
    token: String,
}

/// `POST /ui/login`: a configured token opens a session (cookie) and goes to its home page; any
/// other gets the form again with 401.
pub(crate) async fn login(
    State(state): State<WebState>,
    lang: Lang,
    Form(form): Form<LoginForm>,
) -> Response {
    let Some(token) = state
        .inner
        .tokens
        .find(form.token.trim().as_bytes())
        .cloned()
    else {
        tracing::info!("web login with an unknown token");
        return login_form(
            lang,
            Some(lang.t("login.bad_token")),
            StatusCode::UNAUTHORIZED,
        );
    };
    let ttl_ms = i64::try_from(state.inner.session_ttl.as_millis()).unwrap_or(i64::MAX);
    let session = Session {
        nonce: hex(&rand::random::<[u8; 16]>()),
        expires_ms: crate::admin::now_ms().saturating_add(ttl_ms),
        token,
    };
    tracing::info!(token = %session.token.name, role = %session.token.role, "web login");
    let Some(value) = session.cookie_value() else {
        tracing::error!("session cookie could not be signed");
        return (StatusCode::INTERNAL_SERVER_ERROR, "session cookie").into_response();
    };
    let cookie = format!(
        "{COOKIE}={value}; Path=/ui; HttpOnly; SameSite=Strict; Max-Age={}",
        state.inner.session_ttl.as_secs()
    );
    let mut resp = Redirect::to(home(session.token.role)).into_response();
    match HeaderValue::from_str(&cookie) {
        Ok(v) => {
            resp.headers_mut().insert(header::SET_COOKIE, v);
        }
        Err(e) => {
            tracing::error!(error = %e, "session cookie not encodable");
            return (StatusCode::INTERNAL_SERVER_ERROR, "session cookie").into_response();
        }
    }
    resp
}

/// `POST /ui/logout` (CSRF-checked): ends the session and clears the cookie.
pub(crate) async fn logout(State(state): State<WebState>, headers: HeaderMap) -> Response {
    if let Some(s) = session_of(&state, &headers) {
        state
            .inner
            .revoked
            .revoke(&s.nonce, s.expires_ms, crate::admin::now_ms());
        tracing::info!(token = %s.token.name, "web logout");
    }
    let mut resp = Redirect::to("/ui/login").into_response();
    resp.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static(
            "outdial_session=; Path=/ui; HttpOnly; SameSite=Strict; Max-Age=0",
        ),
    );
    resp.headers_mut()
        .insert("hx-redirect", HeaderValue::from_static("/ui/login"));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookie_lookup() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            "a=1; outdial_session=x.y; b=2".parse().unwrap(),
        );
        assert_eq!(cookie(&h, COOKIE), Some("x.y"));
        assert_eq!(cookie(&h, "c"), None);
    }

    #[test]
    fn signature_depends_on_every_part_and_the_secret() {
        let a = mac("s1", &["session", "n", "1", "2"]).unwrap();
        assert_ne!(Some(&a), mac("s2", &["session", "n", "1", "2"]).as_ref());
        assert_ne!(Some(&a), mac("s1", &["session", "n", "1", "3"]).as_ref());
        // Parts are delimited: moving a character across a boundary changes the MAC.
        assert_ne!(mac("s", &["ab", "c"]), mac("s", &["a", "bc"]));
        assert_eq!(a.len(), 64);
    }
}
