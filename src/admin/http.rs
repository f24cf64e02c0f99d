//! The admin HTTP API (axum): routes, request decoding and validation, audit rows, and the
//! mapping of [`ControlError`] to HTTP statuses. Every route sits behind the bearer-token layer
//! (`auth`), `/metrics` included. Owns no engine state: everything goes through [`Control`].
//!
//! | method | path | body | answer |
//! |---|---|---|---|
//! | GET | `/campaigns` | | `[CampaignView]` |
//! | GET | `/campaigns/{name}` | | `CampaignView` |
//! | PATCH or POST | `/campaigns/{name}/pacing` | `PacingRequest` | `PacingUpdate` |
//! | POST | `/campaigns/{name}/pause`, `/resume` | | `PauseUpdate` |
//! | GET | `/agents` | | `[AgentView]` |
//! | POST | `/agents/{id}/login`, `/ready`, `/logout` | | `AgentView` |
//! | POST | `/agents/{id}/pause` | `{"reason": "…"}` | `AgentView` |
//! | POST | `/agents/{id}/wrapup` | `validate::DispositionWire` (code, callback `at`, note) | `AgentView` |
//! | GET | `/agents/{id}/current` | | `CurrentCall` |
//! | GET | `/metrics` | | Prometheus text |
//! | GET | `/records`, `/records.csv`, `/recordings/{attempt}` | | see [`super::records`] |
//!
//! Errors are `{"error": "…"}` with 400 (invalid value: nothing changed), 401 (token), 403 (an
//! agent token outside `/agents/{its agent}/…`), 404 (no such campaign/agent/route), 409 (action
//! does not fit the agent's state), 500, 503.
//! Audit: every successful campaign change (pacing fields, `paused`) writes one row per field
//! whose value changed, with the token's name (`admin::changes`, which the web pages share).
//! Agent actions are the agents' routine work and are not audited.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use metrics_exporter_prometheus::PrometheusHandle;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::auth::{require_token, ApiToken, TokenName, Tokens};
use super::changes;
use super::control::{AgentAction, Control, ControlError, PacingRequest, ScreenPop};
use super::validate;

/// Largest request body accepted (bytes); admin bodies are a few fields.
const BODY_LIMIT: usize = 64 * 1024;

/// Answer of pause/resume.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PauseUpdate {
    /// Campaign.
    pub campaign: String,
    /// Paused now.
    pub paused: bool,
    /// Paused before the request (equal to `paused` when nothing changed).
    pub was_paused: bool,
}

/// Answer of `GET /agents/{id}/current`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CurrentCall {
    /// Agent id.
    pub agent: String,
    /// The screen pop of the connected call, `null` when the agent has none.
    pub call: Option<ScreenPop>,
}

/// Body of `POST /agents/{id}/pause`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PauseBody {
    reason: String,
}

#[derive(Clone)]
struct AppState {
    control: Arc<dyn Control>,
    /// The Prometheus handle, or why it could not be installed.
    metrics: Result<PrometheusHandle, super::metrics::MetricsError>,
}

/// Builds the admin router: every route requires a bearer token from `tokens` (401 otherwise).
///
/// `/metrics` renders the process-wide recorder of [`super::metrics::install`] (installed here if
/// it was not yet; call `install` at engine start so that earlier metrics are kept).
pub fn router(control: Arc<dyn Control>, tokens: Vec<ApiToken>) -> Router {
    let records = control.clone();
    let state = AppState {
        control,
        metrics: super::metrics::install(),
    };
    Router::new()
        .route("/campaigns", get(campaigns))
        .route("/campaigns/{name}", get(campaign))
        .route(
            "/campaigns/{name}/pacing",
            post(set_pacing).patch(set_pacing),
        )
        .route("/campaigns/{name}/pause", post(pause_campaign))
        .route("/campaigns/{name}/resume", post(resume_campaign))
        .route("/agents", get(agents))
        .route("/agents/{id}/login", post(agent_login))
        .route("/agents/{id}/ready", post(agent_ready))
        .route("/agents/{id}/pause", post(agent_pause))
        .route("/agents/{id}/logout", post(agent_logout))
        .route("/agents/{id}/wrapup", post(agent_wrapup))
        .route("/agents/{id}/current", get(agent_current))
        .route("/metrics", get(metrics))
        .fallback(|| async { error_body(StatusCode::NOT_FOUND, "no such route") })
        .with_state(state)
        .merge(super::records::routes(records))
        .layer(axum::middleware::from_fn_with_state(
            Tokens::new(tokens),
            require_token,
        ))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
}

/// An error answer: status and `{"error": message}`.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    /// 400 with the validation's message.
    pub(crate) fn invalid(e: validate::Invalid) -> Self {
        Self::bad_request(e.to_string())
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
        }
    }

    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
        }
    }

    /// The HTTP status.
    pub(crate) fn status(&self) -> StatusCode {
        self.status
    }

    /// What went wrong, for the user.
    pub(crate) fn message(&self) -> &str {
        &self.message
    }
}

impl From<ControlError> for ApiError {
    fn from(e: ControlError) -> Self {
        let status = match e {
            ControlError::NotFound(_) => StatusCode::NOT_FOUND,
            ControlError::Invalid(_) => StatusCode::BAD_REQUEST,
            ControlError::Conflict(_) => StatusCode::CONFLICT,
            ControlError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ControlError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError {
            status,
            message: e.to_string(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        error_body(self.status, &self.message).into_response()
    }
}

/// `{"error": message}` with a status.
pub(crate) fn error_body(
    status: StatusCode,
    message: &str,
) -> (StatusCode, Json<serde_json::Value>) {
    (status, Json(serde_json::json!({ "error": message })))
}

/// Decodes a JSON body; unknown fields and wrong types are a 400 naming the problem.
fn decode<T: DeserializeOwned>(body: &Bytes) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request("request body must be a JSON object"));
    }
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("invalid JSON body: {e}")))
}

async fn campaigns(State(s): State<AppState>) -> Result<Response, ApiError> {
    Ok(Json(s.control.campaigns().await?).into_response())
}

async fn campaign(
    State(s): State<AppState>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    Ok(Json(s.control.campaign(&name).await?).into_response())
}

async fn set_pacing(
    State(s): State<AppState>,
    Extension(token): Extension<TokenName>,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let request: PacingRequest = decode(&body)?;
    let update = changes::pacing(s.control.as_ref(), &token.0, &name, request).await?;
    Ok(Json(update).into_response())
}

async fn set_paused(
    s: AppState,
    token: TokenName,
    name: String,
    paused: bool,
) -> Result<Response, ApiError> {
    let update = changes::paused(s.control.as_ref(), &token.0, &name, paused).await?;
    Ok(Json(update).into_response())
}

async fn pause_campaign(
    State(s): State<AppState>,
    Extension(token): Extension<TokenName>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    set_paused(s, token, name, true).await
}

async fn resume_campaign(
    State(s): State<AppState>,
    Extension(token): Extension<TokenName>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    set_paused(s, token, name, false).await
}

async fn agents(State(s): State<AppState>) -> Result<Response, ApiError> {
    Ok(Json(s.control.agents().await?).into_response())
}

async fn act(s: &AppState, id: &str, action: AgentAction) -> Result<Response, ApiError> {
    Ok(Json(s.control.agent_action(id, action).await?).into_response())
}

async fn agent_login(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    act(&s, &id, AgentAction::Login).await
}

async fn agent_ready(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    act(&s, &id, AgentAction::Ready).await
}

async fn agent_logout(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    act(&s, &id, AgentAction::Logout).await
}

async fn agent_pause(
    State(s): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let body: PauseBody = decode(&body)?;
    let reason = validate::pause_reason(&body.reason).map_err(ApiError::invalid)?;
    act(&s, &id, AgentAction::Pause { reason }).await
}

async fn agent_wrapup(
    State(s): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let wire: validate::DispositionWire = decode(&body)?;
    let checked = validate::wrap_up(wire, changes::now_ms()).map_err(ApiError::invalid)?;
    let action = AgentAction::WrapUp {
        disposition: checked.disposition,
        note: checked.note,
    };
    act(&s, &id, action).await
}

async fn agent_current(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let call = s.control.current_call(&id).await?;
    // List data as loaded: every control character escaped (see `crate::export`).
    let body = serde_json::to_string(&CurrentCall { agent: id, call })
        .map_err(|e| ApiError::from(ControlError::Internal(e.to_string())))?;
    Ok((
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        crate::export::json_text(body),
    )
        .into_response())
}

async fn metrics(State(s): State<AppState>) -> Result<Response, ApiError> {
    let handle = s.metrics.as_ref().map_err(|e| ApiError {
        status: StatusCode::SERVICE_UNAVAILABLE,
        message: format!("metrics recorder unavailable: {e}"),
    })?;
    handle.run_upkeep();
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        handle.render(),
    )
        .into_response())
}
