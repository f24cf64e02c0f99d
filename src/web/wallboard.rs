//! The supervisor wallboard (`/ui/`): campaigns, agents, trunks, sparklines of the last hour,
//! controls and the audit trail. The page is rendered whole once; its tables are then replaced
//! once a second by fragments pushed over server-sent events (`/ui/events/wallboard`, htmx's SSE
//! extension, which reconnects by itself after an engine restart). The controls sit outside the
//! replaced fragments so a value being typed is never overwritten.
//!
//! Owns the rendering, the one-second cache of [`Wallboard`] shared by every open wallboard (one
//! engine request a second however many screens watch), and the hour of history the sparklines
//! draw. Changes go through `admin::changes` (the JSON API's validation and audit), agent
//! logout through [`Control::agent_action`] as the JSON API does.

use std::collections::{BTreeMap, VecDeque};
use std::convert::Infallible;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use maud::{html, Markup};
use serde::Deserialize;
use tokio_stream::wrappers::ReceiverStream;

use super::i18n::Lang;
use super::layout::{app_page, Section};
use super::session::Viewer;
use super::sparkline::sparkline;
use super::{forbidden, Inner, WebState};
use crate::admin::changes;
use crate::admin::wallboard::{AgentBoard, CampaignBoard, TrunkBoard, Wallboard};
use crate::admin::{AgentAction, AgentState, ApiError, AuditRow, ControlError, PacingRequest};

/// How often the live fragments are pushed.
pub const TICK: Duration = Duration::from_secs(1);
/// How long one reading of the engine serves every open wallboard.
const FRESH: Duration = Duration::from_millis(900);
/// How often the sparklines' history takes a sample, and how much it keeps.
const SAMPLE_EVERY: Duration = Duration::from_secs(10);
const HISTORY_MS: i64 = 3600 * 1000;

/// One sample of a campaign: (epoch ms, occupancy, abandon rate of the run).
type Sample = (i64, Option<f64>, Option<f64>);

/// The latest reading of the engine (shared by every open wallboard) and the last hour of
/// samples per campaign.
#[derive(Default)]
pub(crate) struct BoardCache {
    latest: tokio::sync::Mutex<Option<(Instant, Arc<Wallboard>)>>,
    history: Mutex<BTreeMap<String, VecDeque<Sample>>>,
}

impl BoardCache {
    /// The wallboard, read from the engine at most once per [`FRESH`].
    async fn get(&self, inner: &Inner) -> Result<Arc<Wallboard>, ControlError> {
        let mut latest = self.latest.lock().await;
        if let Some((at, b)) = latest.as_ref() {
            if at.elapsed() < FRESH {
                return Ok(b.clone());
            }
        }
        let b = Arc::new(inner.control.wallboard().await?);
        *latest = Some((Instant::now(), b.clone()));
        Ok(b)
    }

    fn record(&self, board: &Wallboard) {
        let mut h = self.history.lock().unwrap_or_else(|p| p.into_inner());
        for c in &board.campaigns {
            let q = h.entry(c.view.name.clone()).or_default();
            q.push_back((board.at_ms, c.view.occupancy, c.view.abandon_rate.run));
            while q.front().is_some_and(|s| s.0 < board.at_ms - HISTORY_MS) {
                q.pop_front();
            }
        }
    }

    fn history(&self, campaign: &str) -> Vec<Sample> {
        let h = self.history.lock().unwrap_or_else(|p| p.into_inner());
        h.get(campaign)
            .map(|q| q.iter().copied().collect())
            .unwrap_or_default()
    }
}

/// Samples the sparklines' history every [`SAMPLE_EVERY`] while the pages exist (it holds only a
/// weak reference: dropping the router ends it).
pub(crate) fn start_sampler(state: &WebState) {
    let Ok(rt) = tokio::runtime::Handle::try_current() else {
        tracing::debug!("no tokio runtime: the wallboard history is not sampled");
        return;
    };
    let weak: Weak<Inner> = Arc::downgrade(&state.inner);
    rt.spawn(async move {
        let mut every = tokio::time::interval(SAMPLE_EVERY);
        loop {
            every.tick().await;
            let Some(inner) = weak.upgrade() else { return };
            match inner.board.get(&inner).await {
                Ok(b) => inner.board.record(&b),
                Err(e) => tracing::debug!(error = %e, "wallboard sample"),
            }
        }
    });
}

/// The wallboard's routes.
pub(crate) fn routes() -> Router<WebState> {
    Router::new()
        .route("/ui/", get(page))
        .route("/ui/events/wallboard", get(events))
        .route("/ui/campaigns/{name}/pacing", post(set_pacing))
        .route("/ui/campaigns/{name}/pause", post(pause))
        .route("/ui/campaigns/{name}/resume", post(resume))
        .route("/ui/agents/{id}/logout", post(agent_logout))
}

/// `GET /ui/`: the whole page (agents are sent to their desktop).
async fn page(State(state): State<WebState>, viewer: Viewer, lang: Lang) -> Response {
    if !viewer.is_supervisor() {
        return Redirect::to("/ui/desk").into_response();
    }
    let board = match state.inner.board.get(&state.inner).await {
        Ok(b) => b,
        Err(e) => return super::engine_error(lang, &e),
    };
    let f = Fragments::render(lang, &board, &state.inner.board);
    let body = html! {
        main {
            h1 { (lang.t("wb.title")) " " span #live.live.ok sse-swap="status" { (f.status) } }
            div hx-ext="sse" sse-connect="/ui/events/wallboard" {
                span hidden sse-swap="status" hx-target="#live" {}
                h2 { (lang.t("wb.campaigns")) }
                div #campaigns sse-swap="campaigns" { (f.campaigns) }
                h2 { (lang.t("wb.controls")) }
                (controls(lang, &board))
                div.grid2 {
                    div {
                        h2 { (lang.t("wb.agents")) }
                        div #agents sse-swap="agents" { (f.agents) }
                    }
                    div {
                        h2 { (lang.t("wb.trunks")) }
                        div #trunks sse-swap="trunks" { (f.trunks) }
                        h2 { (lang.t("wb.audit")) }
                        div #audit sse-swap="audit" { (f.audit) }
                    }
                }
            }
        }
    };
    app_page(lang, &viewer, Section::Wallboard, lang.t("wb.title"), body).into_response()
}

/// `GET /ui/events/wallboard`: the fragments, once a second, as SSE events `status`,
/// `campaigns`, `agents`, `trunks` and `audit`, while the session lasts.
async fn events(
    State(state): State<WebState>,
    viewer: Viewer,
    lang: Lang,
    headers: axum::http::HeaderMap,
) -> Response {
    if !viewer.is_supervisor() {
        return forbidden(lang);
    }
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Event, Infallible>>(8);
    tokio::spawn(async move {
        let inner = state.inner.clone();
        let mut every = tokio::time::interval(TICK);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            every.tick().await;
            // A session that ended (logout, expiry, token removed) gets no more figures.
            if super::session::session_of(&state, &headers).is_none() {
                return;
            }
            let events = match inner.board.get(&inner).await {
                Ok(board) => Fragments::render(lang, &board, &inner.board).events(),
                Err(e) => vec![Event::default()
                    .event("status")
                    .data(format!("{} ({e})", lang.t("live.lost")))],
            };
            for ev in events {
                if tx.send(Ok(ev)).await.is_err() {
                    // The browser went away.
                    return;
                }
            }
        }
    });
    Sse::new(ReceiverStream::new(rx))
        .keep_alive(KeepAlive::default())
        .into_response()
}

/// The live parts of the page.
struct Fragments {
    status: Markup,
    campaigns: Markup,
    agents: Markup,
    trunks: Markup,
    audit: Markup,
}

impl Fragments {
    fn render(lang: Lang, board: &Wallboard, cache: &BoardCache) -> Fragments {
        Fragments {
            status: html! { (lang.t("live.live")) " · " (clock(board.at_ms)) },
            campaigns: campaigns_table(lang, board, cache),
            agents: agents_table(lang, &board.agents),
            trunks: trunks_table(lang, &board.trunks),
            audit: audit_table(lang, &board.audit),
        }
    }

    fn events(self) -> Vec<Event> {
        [
            ("status", self.status),
            ("campaigns", self.campaigns),
            ("agents", self.agents),
            ("trunks", self.trunks),
            ("audit", self.audit),
        ]
        .into_iter()
        .map(|(name, m)| Event::default().event(name).data(m.into_string()))
        .collect()
    }
}

/// `HH:MM:SS` UTC of epoch ms.
fn clock(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%H:%M:%S UTC").to_string())
        .unwrap_or_default()
}

fn pct(x: Option<f64>) -> String {
    match x {
        Some(x) if x.is_finite() => format!("{:.1} %", x * 100.0),
        _ => "–".to_string(),
    }
}

fn count(x: Option<i64>) -> String {
    x.map_or_else(|| "–".to_string(), |n| n.to_string())
}

/// `1h02m`, `4m05s`, `12s`.
fn duration(ms: u64) -> String {
    let s = ms / 1000;
    if s >= 3600 {
        format!("{}h{:02}m", s / 3600, s / 60 % 60)
    } else if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

/// The gauge's colour for an abandon rate against its cap: amber from 80 % of the cap, red at it.
pub fn gauge_level(rate: f64, cap: f64) -> &'static str {
    if cap <= 0.0 {
        return "ok";
    }
    if rate >= cap {
        "red"
    } else if rate >= 0.8 * cap {
        "amber"
    } else {
        "ok"
    }
}

fn rate_cell(rate: Option<f64>, cap: f64) -> Markup {
    let level = rate.map_or("ok", |r| gauge_level(r, cap));
    html! { span.rate class=(level) { (pct(rate)) } }
}

fn campaigns_table(lang: Lang, board: &Wallboard, cache: &BoardCache) -> Markup {
    let to = board.at_ms;
    let from = to - HISTORY_MS;
    html! {
        table #campaign-table {
            thead { tr {
                th { (lang.t("wb.campaign")) }
                th { (lang.t("wb.mode")) }
                th.num { (lang.t("wb.dial_level")) }
                th.num { (lang.t("wb.ringing")) }
                th.num { (lang.t("wb.waiting")) }
                th.num { (lang.t("wb.connected")) }
                th.num { (lang.t("wb.live_answers")) }
                th { (lang.t("wb.abandon")) }
                th.num { (lang.t("wb.occupancy")) }
                th.num { (lang.t("wb.mean_wait")) }
                th.num { (lang.t("wb.dialable")) }
                th.num { (lang.t("wb.sla_risk")) }
                th { (lang.t("wb.trend")) }
            } }
            tbody {
                @for c in &board.campaigns {
                    (campaign_row(lang, c, &cache.history(&c.view.name), from, to))
                }
            }
        }
    }
}

fn campaign_row(lang: Lang, c: &CampaignBoard, hist: &[Sample], from: i64, to: i64) -> Markup {
    let v = &c.view;
    let cap = v.abandon_cap;
    let worst = [
        v.abandon_rate.run,
        v.abandon_rate.last_24h,
        v.abandon_rate.last_30d,
    ]
    .into_iter()
    .flatten()
    .fold(0.0_f64, f64::max);
    let fill = if cap > 0.0 {
        (worst / cap).clamp(0.0, 1.0) * 100.0
    } else {
        0.0
    };
    let occ: Vec<(i64, Option<f64>)> = hist.iter().map(|s| (s.0, s.1)).collect();
    let ab: Vec<(i64, Option<f64>)> = hist.iter().map(|s| (s.0, s.2)).collect();
    html! {
        tr data-campaign=(v.name) {
            td {
                strong { (v.name) } " "
                @if v.paused { span.badge.paused data-paused="true" { (lang.t("wb.paused")) } }
                @else { span.badge.running data-paused="false" { (lang.t("wb.running")) } }
                @if !c.verdicts.is_empty() {
                    div.verdicts title=(lang.t("wb.verdicts")) {
                        @for (i, (verdict, n)) in c.verdicts.iter().enumerate() {
                            @if i > 0 { " · " }
                            (verdict) " " (n)
                        }
                    }
                }
            }
            td data-field="mode" { (v.pacing.mode.to_string()) " · " (format!("{:.2}", v.pacing.ratio)) br; small { "max " (format!("{:.2}", v.pacing.max_ratio)) } }
            td.num data-field="dial_level" { (format!("{:.2}", v.dial_level)) }
            td.num data-field="ringing" { (c.ringing) }
            td.num data-field="waiting" { (c.waiting) }
            td.num data-field="connected" { (c.connected) }
            td.num data-field="live_answers" { (c.live_answers) }
            td data-field="abandon" {
                (rate_cell(v.abandon_rate.run, cap)) " / "
                (rate_cell(v.abandon_rate.last_24h, cap)) " / "
                (rate_cell(v.abandon_rate.last_30d, cap)) " "
                span.gauge class=(gauge_level(worst, cap)) title={ (lang.t("wb.cap")) " " (pct(Some(cap))) } {
                    span style={ "width:" (format!("{fill:.0}")) "%" } {}
                }
                br;
                small { (lang.t("wb.cap")) " " (pct(Some(cap))) " · " (lang.t("wb.target")) " " (pct(Some(v.pacing.target_abandon))) }
            }
            td.num data-field="occupancy" { (pct(v.occupancy)) }
            td.num data-field="mean_wait" { (c.mean_wait_ms.map_or_else(|| "–".to_string(), |w| format!("{:.1} s", w / 1000.0))) }
            td.num data-field="dialable" { (count(c.dialable_now)) }
            td.num data-field="sla_risk" { (count(c.sla_at_risk)) }
            td {
                (sparkline(&occ, from, to, 1.0, "occ", lang.t("wb.occupancy")))
                " "
                (sparkline(&ab, from, to, cap.max(0.001) * 1.5, "abandon", lang.t("wb.abandon")))
            }
        }
    }
}

fn state_label(lang: Lang, s: AgentState) -> &'static str {
    lang.t(match s {
        AgentState::LoggedOut => "state.logged_out",
        AgentState::Ready => "state.ready",
        AgentState::Reserved => "state.reserved",
        AgentState::Talking => "state.talking",
        AgentState::WrapUp => "state.wrap_up",
        AgentState::Paused => "state.paused",
    })
}

fn agents_table(lang: Lang, agents: &[AgentBoard]) -> Markup {
    html! {
        table #agent-table {
            thead { tr {
                th { (lang.t("wb.agent")) }
                th { (lang.t("wb.state")) }
                th.num { (lang.t("wb.in_state")) }
                th { (lang.t("wb.campaign")) }
                th.num { (lang.t("wb.calls_today")) }
                th.num { (lang.t("wb.occupancy")) }
                th {}
            } }
            tbody {
                @for (i, a) in agents.iter().enumerate() {
                    tr data-agent=(a.view.id) {
                        td { (a.view.id) }
                        td data-field="state" {
                            (state_label(lang, a.view.state))
                            @if let Some(r) = &a.view.pause_reason { " (" (r) ")" }
                        }
                        td.num { (duration(a.in_state_ms)) }
                        td { (a.view.campaign.as_deref().unwrap_or("")) }
                        td.num { (a.calls_today) }
                        td.num { (pct(a.occupancy)) }
                        td {
                            @if a.view.state != AgentState::LoggedOut {
                                button type="button"
                                    hx-post={ "/ui/agents/" (path_segment(&a.view.id)) "/logout" }
                                    hx-confirm=(lang.t("wb.confirm_logout"))
                                    hx-target={ "#agent-msg" }
                                    id={ "logout-agent-" (i) }
                                    { (lang.t("wb.logout_agent")) }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn trunks_table(lang: Lang, trunks: &[TrunkBoard]) -> Markup {
    html! {
        table #trunk-table {
            thead { tr {
                th { (lang.t("wb.trunk")) }
                th.num { (lang.t("wb.channels")) }
                th.num { (lang.t("wb.cps")) }
                th { (lang.t("wb.health")) }
                th { (lang.t("wb.last_error")) }
            } }
            tbody {
                @for t in trunks {
                    tr data-trunk=(t.name) {
                        td { (t.name) }
                        td.num { (t.in_use) " / " (t.max) }
                        td.num { (format!("{:.1}", t.calls_per_s)) }
                        td { @if t.healthy { span.badge.up { (lang.t("wb.up")) } } @else { span.badge.down { (lang.t("wb.down")) } } }
                        td { (t.last_error.as_deref().unwrap_or("")) }
                    }
                }
            }
        }
    }
}

fn audit_table(lang: Lang, rows: &[AuditRow]) -> Markup {
    html! {
        table #audit-table {
            thead { tr {
                th { (lang.t("wb.when")) }
                th { (lang.t("wb.who")) }
                th { (lang.t("wb.campaign")) }
                th { (lang.t("wb.field")) }
                th { (lang.t("wb.old")) }
                th { (lang.t("wb.new")) }
            } }
            tbody {
                @if rows.is_empty() { tr { td colspan="6" { (lang.t("wb.none")) } } }
                @for r in rows {
                    tr {
                        td { (chrono::DateTime::from_timestamp_millis(r.at_ms).map(|t| t.format("%m-%d %H:%M:%S").to_string()).unwrap_or_default()) }
                        td { (r.token) }
                        td { (r.campaign) }
                        td { (r.field) }
                        td { (r.old) }
                        td { (r.new) }
                    }
                }
            }
        }
    }
}

/// A path segment with everything but unreserved characters percent-encoded.
pub fn path_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The control forms: one row per campaign (pacing fields, pause or resume), and the place where
/// agent logouts answer. Rendered once with the page, never replaced by the live stream.
fn controls(lang: Lang, board: &Wallboard) -> Markup {
    html! {
        div.controls {
            @for (i, c) in board.campaigns.iter().enumerate() {
                @let v = &c.view;
                @let base = format!("/ui/campaigns/{}", path_segment(&v.name));
                @let target = format!("#msg-{i}");
                div data-controls=(v.name) {
                    strong { (v.name) } " "
                    form hx-post={ (base) "/pacing" } hx-target=(target) {
                        label { (lang.t("wb.mode")) " " input name="mode" placeholder=(v.pacing.mode.to_string()); }
                        label { (lang.t("wb.ratio")) " " input name="ratio" inputmode="decimal" placeholder=(v.pacing.ratio); }
                        label { (lang.t("wb.max_ratio")) " " input name="max_ratio" inputmode="decimal" placeholder=(v.pacing.max_ratio); }
                        label { (lang.t("wb.target_abandon")) " " input name="target_abandon" inputmode="decimal" placeholder=(v.pacing.target_abandon); }
                        button type="submit" { (lang.t("wb.apply")) }
                    }
                    button type="button" hx-post={ (base) "/pause" } hx-target=(target)
                        hx-confirm=(lang.t("wb.confirm_pause")) { (lang.t("wb.pause")) }
                    " "
                    button type="button" hx-post={ (base) "/resume" } hx-target=(target)
                        hx-confirm=(lang.t("wb.confirm_resume")) { (lang.t("wb.resume")) }
                    div.msg id={ "msg-" (i) } {}
                }
            }
            div.msg #agent-msg {}
        }
    }
}

/// The pacing form: every field optional (empty keeps the value).
#[derive(Debug, Deserialize)]
struct PacingForm {
    #[serde(default)]
    mode: String,
    #[serde(default)]
    ratio: String,
    #[serde(default)]
    max_ratio: String,
    #[serde(default)]
    target_abandon: String,
}

fn number(field: &str, text: &str) -> Result<Option<f64>, ApiError> {
    let t = text.trim();
    if t.is_empty() {
        return Ok(None);
    }
    t.parse::<f64>()
        .map(Some)
        .map_err(|_| ApiError::bad_request(format!("{field}: {t:?} is not a number")))
}

impl PacingForm {
    fn request(&self) -> Result<PacingRequest, ApiError> {
        let mode = self.mode.trim();
        let r = PacingRequest {
            mode: (!mode.is_empty()).then(|| mode.to_string()),
            ratio: number("ratio", &self.ratio)?,
            max_ratio: number("max_ratio", &self.max_ratio)?,
            target_abandon: number("target_abandon", &self.target_abandon)?,
        };
        if r.is_empty() {
            return Err(ApiError::bad_request(
                "nothing to change: fill in at least one field",
            ));
        }
        Ok(r)
    }
}

/// A control's answer: a short message (the status is the JSON API's for the same outcome).
fn answer(lang: Lang, r: Result<String, ApiError>) -> Response {
    match r {
        Ok(text) => (
            StatusCode::OK,
            html! { span.msg.ok { (lang.t("wb.applied")) " " (text) } },
        )
            .into_response(),
        Err(e) => (
            e.status(),
            html! { span.msg.err role="alert" { (e.message()) } },
        )
            .into_response(),
    }
}

async fn set_pacing(
    State(state): State<WebState>,
    viewer: Viewer,
    lang: Lang,
    Path(name): Path<String>,
    Form(form): Form<PacingForm>,
) -> Response {
    if !viewer.is_supervisor() {
        return forbidden(lang);
    }
    let r = async {
        let request = form.request()?;
        let u = changes::pacing(state.control(), &viewer.name, &name, request).await?;
        Ok(format!(
            "{}: {} {:.2}/{:.2}, {}",
            u.campaign,
            u.new.mode,
            u.new.ratio,
            u.new.max_ratio,
            pct(Some(u.new.target_abandon))
        ))
    }
    .await;
    answer(lang, r)
}

async fn set_paused(
    state: WebState,
    viewer: Viewer,
    lang: Lang,
    name: String,
    paused: bool,
) -> Response {
    if !viewer.is_supervisor() {
        return forbidden(lang);
    }
    let r = changes::paused(state.control(), &viewer.name, &name, paused)
        .await
        .map(|u| {
            let word = if u.paused {
                lang.t("wb.paused")
            } else {
                lang.t("wb.running")
            };
            format!("{}: {word}", u.campaign)
        });
    answer(lang, r)
}

async fn pause(
    State(state): State<WebState>,
    viewer: Viewer,
    lang: Lang,
    Path(name): Path<String>,
) -> Response {
    set_paused(state, viewer, lang, name, true).await
}

async fn resume(
    State(state): State<WebState>,
    viewer: Viewer,
    lang: Lang,
    Path(name): Path<String>,
) -> Response {
    set_paused(state, viewer, lang, name, false).await
}

async fn agent_logout(
    State(state): State<WebState>,
    viewer: Viewer,
    lang: Lang,
    Path(id): Path<String>,
) -> Response {
    if !viewer.is_supervisor() {
        return forbidden(lang);
    }
    let r = state
        .control()
        .agent_action(&id, AgentAction::Logout)
        .await
        .map(|a| format!("{}: {}", a.id, state_label(lang, a.state)))
        .map_err(ApiError::from);
    answer(lang, r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gauge_turns_amber_at_80_percent_of_the_cap_and_red_at_it() {
        assert_eq!(gauge_level(0.0, 0.03), "ok");
        assert_eq!(gauge_level(0.0239, 0.03), "ok");
        assert_eq!(gauge_level(0.024, 0.03), "amber");
        assert_eq!(gauge_level(0.0299, 0.03), "amber");
        assert_eq!(gauge_level(0.03, 0.03), "red");
    }

    #[test]
    fn form_fields_are_optional_and_named_when_wrong() {
        let f = PacingForm {
            mode: " ".into(),
            ratio: "2.5".into(),
            max_ratio: String::new(),
            target_abandon: "x".into(),
        };
        let e = f.request().unwrap_err();
        assert!(e.message().contains("target_abandon"), "{}", e.message());
        let f = PacingForm {
            target_abandon: String::new(),
            ..f
        };
        let r = f.request().unwrap();
        assert_eq!((r.mode, r.ratio, r.max_ratio), (None, Some(2.5), None));
    }

    #[test]
    fn segments_are_encoded() {
        assert_eq!(path_segment("a b/c"), "a%20b%2Fc");
        assert_eq!(path_segment("credit-verification"), "credit-verification");
    }

    #[test]
    fn durations() {
        assert_eq!(duration(12_400), "12s");
        assert_eq!(duration(245_000), "4m05s");
        assert_eq!(duration(3_720_000), "1h02m");
    }
}
