//! The agent desktop at `/ui/agent` (an agent token's page; `/ui/desk` leads here): log in,
//! ready, pause with a reason, log out; the screen pop of the connected call (name, external id,
//! tier, every list attribute, the lead's earlier attempts with their codes and notes), live
//! over server-sent events; the wrap-up form (the campaign's dispositions, a callback time, a
//! note), after which the agent is ready. Keyboard shortcuts (shown on the page) are htmx
//! triggers: Alt+R ready, Alt+P pause, Alt+1…6 the dispositions.
//!
//! Must not touch: the rules of an action. Each goes through the JSON API's own checks
//! (`validate::pause_reason`, `validate::wrap_up`) and then [`Control::agent_action`], as
//! `POST /agents/{id}/…` does; every value from the list is escaped by maud.
//!
//! [`Control::agent_action`]: crate::admin::Control::agent_action

use std::convert::Infallible;
use std::time::Duration;

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
use super::{forbidden, WebState};
use crate::admin::validate::{self, DispositionWire};
use crate::admin::{AgentAction, AgentState, AgentView, ApiError, ControlError, ScreenPop};

/// How often the live panel looks at the agent and its call.
const TICK: Duration = Duration::from_millis(500);

/// The wrap-up codes offered, with their shortcut digit and label key: the campaign list of the
/// brief (callback at a chosen time, not interested, do-not-call, wrong number, machine — a
/// missed voicemail, completed).
pub const DISPOSITIONS: [(&str, char, &str); 6] = [
    ("callback", '1', "desk.d.callback"),
    ("not_interested", '2', "desk.d.not_interested"),
    ("do_not_call", '3', "desk.d.do_not_call"),
    ("wrong_number", '4', "desk.d.wrong_number"),
    ("machine", '5', "desk.d.machine"),
    ("completed", '6', "desk.d.completed"),
];

/// Callback delays offered next to the free time field.
const DELAYS: [&str; 6] = ["15m", "30m", "1h", "2h", "4h", "24h"];

pub(crate) fn routes() -> Router<WebState> {
    Router::new()
        .route("/ui/desk", get(|| async { Redirect::to("/ui/agent") }))
        .route("/ui/agent", get(page))
        .route("/ui/events/agent", get(events))
        .route("/ui/agent/{action}", post(act))
}

/// The agent a viewer works as (agent tokens only).
fn agent_of(viewer: &Viewer) -> Option<&str> {
    viewer.agent.as_deref()
}

async fn page(State(state): State<WebState>, viewer: Viewer, lang: Lang) -> Response {
    let Some(agent) = agent_of(&viewer) else {
        return forbidden(lang);
    };
    let (view, pop) = match look(&state, agent).await {
        Ok(x) => x,
        Err(e) => return super::engine_error(lang, &e),
    };
    let key = |k: &str, label: &str| html! { kbd { (k) } " " (label) };
    let body = html! {
        main.desk {
            h1 { (lang.t("desk.title")) " · " (agent) }
            div hx-ext="sse" sse-connect="/ui/events/agent" {
                div #agent-state sse-swap="state" { (state_panel(lang, &view)) }
                div.actions {
                    button #btn-login hx-post="/ui/agent/login" hx-target="#desk-msg" { (lang.t("desk.login")) }
                    button #btn-ready hx-post="/ui/agent/ready" hx-target="#desk-msg"
                        hx-trigger="click, keyup[altKey&&key=='r'] from:body" { (lang.t("desk.ready")) }
                    form #pause-form hx-post="/ui/agent/pause" hx-target="#desk-msg"
                        hx-trigger="submit, keyup[altKey&&key=='p'] from:body" {
                        input #pause-reason name="reason" value="break" maxlength="200"
                            aria-label=(lang.t("desk.reason"));
                        button type="submit" { (lang.t("desk.pause")) }
                    }
                    button #btn-logout hx-post="/ui/agent/logout" hx-target="#desk-msg" { (lang.t("desk.logout")) }
                }
                div #desk-msg role="status" {}
                div #pop sse-swap="pop" { (pop_panel(lang, &view, pop.as_ref())) }
            }
            p.hint #shortcuts {
                (lang.t("desk.shortcuts")) ": "
                (key("Alt+R", lang.t("desk.ready"))) " · "
                (key("Alt+P", lang.t("desk.pause")))
                @for (code, digit, label) in DISPOSITIONS {
                    " · " (key(&format!("Alt+{digit}"), lang.t(label))) span hidden { (code) }
                }
            }
        }
    };
    app_page(lang, &viewer, Section::Desk, lang.t("desk.title"), body).into_response()
}

/// The agent's view and the screen pop of its call (or of the call it is wrapping up).
async fn look(
    state: &WebState,
    agent: &str,
) -> Result<(AgentView, Option<ScreenPop>), ControlError> {
    let view = state
        .control()
        .agents()
        .await?
        .into_iter()
        .find(|a| a.id == agent)
        .ok_or_else(|| ControlError::NotFound(format!("unknown agent {agent:?}")))?;
    let pop = state.control().current_call(agent).await?;
    Ok((view, pop))
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

fn state_panel(lang: Lang, v: &AgentView) -> Markup {
    html! {
        p {
            (lang.t("wb.state")) ": "
            strong #state-name data-state=(v.state.as_str()) { (state_label(lang, v.state)) }
            @if let Some(r) = &v.pause_reason { " (" (r) ")" }
            @if let Some(c) = &v.campaign { " · " (lang.t("wb.campaign")) ": " (c) }
        }
    }
}

fn time(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default()
}

/// The screen pop and, in wrap-up, the wrap-up form.
fn pop_panel(lang: Lang, v: &AgentView, pop: Option<&ScreenPop>) -> Markup {
    let Some(p) = pop else {
        return html! { p.hint { (lang.t("desk.no_call")) } };
    };
    let attrs: Vec<(String, String)> = match &p.attributes {
        serde_json::Value::Object(m) => m
            .iter()
            .map(|(k, v)| {
                let text = match v {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                (k.clone(), text)
            })
            .collect(),
        _ => Vec::new(),
    };
    html! {
        section.pop data-lead=(p.lead) {
            h2 { (lang.t("desk.customer")) }
            table #pop-fields {
                tr { th { (lang.t("desk.name")) } td #pop-name { (p.name.as_deref().unwrap_or("")) } }
                tr { th { (lang.t("desk.external_id")) } td #pop-external { (p.external_id.as_deref().unwrap_or("")) } }
                tr { th { (lang.t("desk.tier")) } td #pop-tier { (p.tier.as_deref().unwrap_or("")) } }
                tr { th { (lang.t("desk.phone")) } td { (p.phone) } }
                tr { th { (lang.t("wb.campaign")) } td { (p.campaign) } }
                @for (k, val) in &attrs {
                    tr.attr data-key=(k) { th { (k) } td { (val) } }
                }
            }
            h2 { (lang.t("desk.history")) }
            @if p.history.is_empty() {
                p.hint { (lang.t("desk.no_history")) }
            } @else {
                table #pop-history {
                    tr { th { (lang.t("wb.when")) } th { (lang.t("desk.outcome")) } th { (lang.t("wb.agent")) } th { (lang.t("desk.note")) } }
                    @for h in &p.history {
                        tr {
                            td { (time(h.dial_ms)) }
                            td { (h.agent_disposition.as_deref().or(h.disposition.as_deref()).unwrap_or("")) }
                            td { (h.agent.as_deref().unwrap_or("")) }
                            td.note-text { (h.note.as_deref().unwrap_or("")) }
                        }
                    }
                }
            }
            @if v.state == AgentState::WrapUp {
                (wrap_form(lang))
            }
        }
    }
}

fn wrap_form(lang: Lang) -> Markup {
    html! {
        form #wrapup hx-post="/ui/agent/wrapup" hx-target="#desk-msg" {
            h2 { (lang.t("desk.wrapup")) }
            fieldset {
                @for (code, digit, label) in DISPOSITIONS {
                    label {
                        input type="radio" name="disposition" value=(code) id={ "d-" (code) };
                        " " (lang.t(label)) " " kbd { "Alt+" (digit) }
                    }
                }
            }
            p {
                label { (lang.t("desk.callback_in")) " "
                    select name="delay" {
                        option value="" { "—" }
                        @for d in DELAYS { option value=(d) { (d) } }
                    }
                }
                " " label { (lang.t("desk.callback_at")) " "
                    input name="at" placeholder="2026-03-04T15:30+08:00" size="24";
                }
            }
            p { label { (lang.t("desk.note")) br; textarea name="note" rows="3" cols="60" maxlength="2000" {} } }
            button type="submit" #wrapup-done { (lang.t("desk.done")) }
        }
        // Outside the form (htmx would add its radios): each shortcut sends its code with the
        // form's other fields.
        div #wrapup-keys hidden {
            @for (code, digit, _) in DISPOSITIONS {
                button type="button" id={ "key-" (code) }
                    hx-post="/ui/agent/wrapup" hx-target="#desk-msg"
                    hx-vals=(serde_json::json!({ "disposition": code }).to_string())
                    hx-include="#wrapup [name=delay], #wrapup [name=at], #wrapup [name=note]"
                    hx-trigger={ "keyup[altKey&&key=='" (digit) "'] from:body" } {}
            }
        }
    }
}

/// `GET /ui/events/agent`: the state and the screen pop, each sent when it changes.
async fn events(State(state): State<WebState>, viewer: Viewer, lang: Lang) -> Response {
    let Some(agent) = agent_of(&viewer).map(str::to_string) else {
        return forbidden(lang);
    };
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Event, Infallible>>(8);
    tokio::spawn(async move {
        let mut every = tokio::time::interval(TICK);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let (mut last_state, mut last_pop) = (String::new(), String::new());
        loop {
            every.tick().await;
            let (s, p) = match look(&state, &agent).await {
                Ok((v, pop)) => (
                    state_panel(lang, &v).into_string(),
                    pop_panel(lang, &v, pop.as_ref()).into_string(),
                ),
                Err(e) => (
                    html! { p.msg.err { (lang.t("live.lost")) " (" (e.to_string()) ")" } }
                        .into_string(),
                    last_pop.clone(),
                ),
            };
            // Only what changed: a pop sent again would clear the wrap-up form being typed.
            let mut out = Vec::new();
            if s != last_state {
                out.push(Event::default().event("state").data(&s));
                last_state = s;
            }
            if p != last_pop {
                out.push(Event::default().event("pop").data(&p));
                last_pop = p;
            }
            for ev in out {
                if tx.send(Ok(ev)).await.is_err() {
                    return;
                }
            }
        }
    });
    Sse::new(ReceiverStream::new(rx))
        .keep_alive(KeepAlive::default())
        .into_response()
}

/// The fields of the pause and wrap-up forms.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ActionForm {
    reason: String,
    disposition: String,
    delay: String,
    at: String,
    note: String,
    #[allow(dead_code)]
    csrf: String,
}

impl ActionForm {
    /// The wrap-up as the JSON API's body: a delay chosen or a time typed (not both).
    fn wire(&self) -> DispositionWire {
        let pick = |s: &str| Some(s.trim().to_string()).filter(|s| !s.is_empty());
        DispositionWire {
            disposition: self.disposition.clone(),
            at_ms: None,
            at: match (pick(&self.at), pick(&self.delay)) {
                (Some(at), _) => Some(at),
                (None, delay) => delay,
            },
            note: pick(&self.note),
        }
    }
}

/// `POST /ui/agent/{login|ready|pause|logout|wrapup}`: the JSON API's checks, then the engine.
async fn act(
    State(state): State<WebState>,
    viewer: Viewer,
    lang: Lang,
    Path(action): Path<String>,
    Form(form): Form<ActionForm>,
) -> Response {
    let Some(agent) = agent_of(&viewer) else {
        return forbidden(lang);
    };
    let action = match action.as_str() {
        "login" => Ok(AgentAction::Login),
        "ready" => Ok(AgentAction::Ready),
        "logout" => Ok(AgentAction::Logout),
        "pause" => validate::pause_reason(&form.reason).map(|reason| AgentAction::Pause { reason }),
        "wrapup" => validate::wrap_up(form.wire(), crate::admin::changes::now_ms()).map(|w| {
            AgentAction::WrapUp {
                disposition: w.disposition,
                note: w.note,
            }
        }),
        _ => return (StatusCode::NOT_FOUND, lang.t("err.not_found")).into_response(),
    };
    let r = match action {
        Ok(a) => state
            .control()
            .agent_action(agent, a)
            .await
            .map_err(|e| (ApiError::from(e.clone()).status(), e.to_string())),
        Err(e) => Err((StatusCode::BAD_REQUEST, e.to_string())),
    };
    match r {
        Ok(v) => (
            StatusCode::OK,
            html! { span.msg.ok { (lang.t("wb.applied")) " " (state_label(lang, v.state)) } },
        )
            .into_response(),
        Err((status, msg)) => {
            (status, html! { span.msg.err role="alert" { (msg) } }).into_response()
        }
    }
}
