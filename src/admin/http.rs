//! The admin HTTP API (axum): routes, request decoding and validation, audit rows, and the
//! mapping of [`ControlError`] to HTTP statuses. Every route sits behind the bearer-token layer
//! (`auth`), `/metrics` and `/openapi.json` included. Owns no engine state: everything goes
//! through [`Control`].
//!
//! Each handler carries its OpenAPI description (`#[utoipa::path]`: path, parameters, body and
//! every status it can answer, its errors as one of `responses`'s sets) and is mounted only
//! through `utoipa_axum`'s `routes!`, so a route cannot exist without its description;
//! `/openapi.json` serves the document (see `openapi`).
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
//! | GET | `/openapi.json` | | OpenAPI 3.1 document of this API |
//! | GET | `/grafana.json` | | Grafana dashboard of the metrics |
//! | GET | `/records`, `/records.csv`, `/recordings/{attempt}` | | call records (`records`) |
//!
//! Errors are `{"error": "…"}` ([`ErrorBody`]) with 400 (invalid value or malformed path or
//! body: nothing changed), 401 (token), 403 (an agent token outside `/agents/{its agent}/…`),
//! 404 (no such campaign/agent/route), 409 (action does not fit the agent's state), 413 (body
//! over 64 KiB), 500, 503.
//! Audit: every successful campaign change (pacing fields, `paused`) writes one row per field
//! whose value changed, with the token's name (`admin::changes`, which the web pages share).
//! Agent actions are the agents' routine work and are not audited.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequest, FromRequestParts, Path, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json, Router};
use metrics_exporter_prometheus::PrometheusHandle;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::{require_token, ApiToken, TokenName, Tokens};
use super::changes;
use super::control::{
    AgentAction, AgentView, CampaignView, Control, ControlError, PacingRequest, PacingUpdate,
    ScreenPop,
};
use super::params::{AgentId, CampaignName};
use super::responses::{
    AgentActed, AgentErrors, AgentPauseErrors, CampaignErrors, CurrentCallErrors, EngineErrors,
    LoginErrors, MetricsErrors, PacingErrors, PauseErrors, WrapUpErrors,
};
use super::validate::{self, DispositionWire};

/// Largest request body accepted (bytes); admin bodies are a few fields.
const BODY_LIMIT: usize = 64 * 1024;

/// Answer of pause/resume.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PauseUpdate {
    /// Campaign.
    pub campaign: String,
    /// Paused now.
    pub paused: bool,
    /// Paused before the request (equal to `paused` when nothing changed).
    pub was_paused: bool,
}

/// Answer of `GET /agents/{id}/current`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CurrentCall {
    /// Agent id.
    pub agent: String,
    /// The screen pop of the connected call, `null` when the agent has none.
    pub call: Option<ScreenPop>,
}

/// Body of `POST /agents/{id}/pause`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct PauseBody {
    /// Why (break, training, …): 1–200 characters after trimming blanks, no control
    /// characters.
    #[schema(example = "break", min_length = 1, max_length = 200)]
    reason: String,
}

/// An error answer: what was wrong, in words (the field and its allowed values for a bad value).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    /// The reason.
    pub error: String,
}

#[derive(Clone)]
pub(super) struct AppState {
    control: Arc<dyn Control>,
    /// The Prometheus handle, or why it could not be installed.
    metrics: Result<PrometheusHandle, super::metrics::MetricsError>,
    /// This API's OpenAPI document, served by `/openapi.json`.
    pub(super) spec: Arc<utoipa::openapi::OpenApi>,
}

/// Builds the admin router: every route requires a bearer token from `tokens` (401 otherwise).
///
/// `/metrics` renders the process-wide recorder of [`super::metrics::install`] (installed here if
/// it was not yet; call `install` at engine start so that earlier metrics are kept).
pub fn router(control: Arc<dyn Control>, tokens: Vec<ApiToken>) -> Router {
    let (routes, records, spec) = parts();
    let records = records.with_state(control.clone());
    let state = AppState {
        control,
        metrics: super::metrics::install(),
        spec: Arc::new(spec),
    };
    routes
        .fallback(|| async { error_body(StatusCode::NOT_FOUND, "no such route") })
        .with_state(state)
        .merge(records)
        .layer(axum::middleware::from_fn_with_state(
            Tokens::new(tokens),
            require_token,
        ))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
}

/// The OpenAPI document of the admin API (what `/openapi.json` serves).
pub fn openapi() -> utoipa::openapi::OpenApi {
    parts().2
}

/// The routes (this module's, and `records`'s with their own state) and their finished
/// description.
fn parts() -> (
    Router<AppState>,
    Router<Arc<dyn Control>>,
    utoipa::openapi::OpenApi,
) {
    let (routes, mut spec) = api().split_for_parts();
    let (records, records_spec) = super::records::api().split_for_parts();
    spec.merge(records_spec);
    (routes, records, super::openapi::finish(spec))
}

/// Every route with its description. Only `routes!` adds to it: a handler mounted here without
/// a `#[utoipa::path]` does not compile.
fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(super::openapi::document())
        .routes(routes!(campaigns))
        .routes(routes!(campaign))
        .routes(routes!(set_pacing))
        .routes(routes!(pause_campaign))
        .routes(routes!(resume_campaign))
        .routes(routes!(agents))
        .routes(routes!(agent_login))
        .routes(routes!(agent_ready))
        .routes(routes!(agent_pause))
        .routes(routes!(agent_logout))
        .routes(routes!(agent_wrapup))
        .routes(routes!(agent_current))
        .routes(routes!(metrics))
        .routes(routes!(super::openapi::spec))
        .routes(routes!(super::grafana::dashboard))
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
pub(crate) fn error_body(status: StatusCode, message: &str) -> (StatusCode, Json<ErrorBody>) {
    (
        status,
        Json(ErrorBody {
            error: message.to_string(),
        }),
    )
}

/// The `{name}`, `{id}` or `{attempt}` segment of a path, percent-decoded and parsed. A segment
/// that does not decode (not UTF-8) or parse (`/recordings/abc`) is a 400 with the JSON error
/// body, like every other refusal of this API, rather than axum's plain-text one.
pub(crate) struct Segment<T = String>(pub(crate) T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for Segment<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(segment)) => Ok(Segment(segment)),
            Err(e) => Err(ApiError::new(e.status(), e.body_text())),
        }
    }
}

/// A query string decoded into `T`; one that does not decode (`page=abc`) is a 400 with the
/// JSON error body.
pub(crate) struct ApiQuery<T>(pub(crate) T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(q)) => Ok(ApiQuery(q)),
            Err(e) => Err(ApiError::new(e.status(), e.body_text())),
        }
    }
}

/// A request body, at most [`BODY_LIMIT`] bytes: over it is a 413 with the JSON error body.
struct Body(Bytes);

impl<S: Send + Sync> FromRequest<S> for Body {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match Bytes::from_request(req, state).await {
            Ok(bytes) => Ok(Body(bytes)),
            Err(e) => Err(ApiError::new(e.status(), e.body_text())),
        }
    }
}

/// Decodes a JSON body; unknown fields and wrong types are a 400 naming the problem.
fn decode<T: DeserializeOwned>(body: &Bytes) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request("request body must be a JSON object"));
    }
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("invalid JSON body: {e}")))
}

// Each handler lists its success answer and the set of its errors (`responses`); 401 and 403
// from the token layer are added to each operation by `openapi::finish`.

#[utoipa::path(get, path = "/campaigns", tag = "campaigns",
    responses(
        (status = 200, description = "Every campaign the engine runs, by name", body = [CampaignView]),
        EngineErrors,
    ))]
async fn campaigns(State(s): State<AppState>) -> Result<Response, ApiError> {
    Ok(Json(s.control.campaigns().await?).into_response())
}

#[utoipa::path(get, path = "/campaigns/{name}", tag = "campaigns",
    params(CampaignName),
    responses(
        (status = 200, description = "The campaign's settings and live figures", body = CampaignView),
        CampaignErrors,
    ))]
async fn campaign(State(s): State<AppState>, Segment(name): Segment) -> Result<Response, ApiError> {
    Ok(Json(s.control.campaign(&name).await?).into_response())
}

/// Changes a campaign's pacing; each field whose value changed is audited with the token's name.
#[utoipa::path(method(patch, post), path = "/campaigns/{name}/pacing", tag = "campaigns",
    params(CampaignName),
    request_body(content = PacingRequest, description = "The fields to change (at least one)"),
    responses(
        (status = 200, description = "Applied (within one pacing tick): settings before and after", body = PacingUpdate),
        PacingErrors,
    ))]
async fn set_pacing(
    State(s): State<AppState>,
    Extension(token): Extension<TokenName>,
    Segment(name): Segment,
    Body(body): Body,
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

/// Pauses a campaign: no new dials, calls in progress finish. Audited when it changes.
#[utoipa::path(post, path = "/campaigns/{name}/pause", tag = "campaigns",
    params(CampaignName),
    responses(
        (status = 200, description = "Paused (`was_paused` tells whether it already was)", body = PauseUpdate),
        PauseErrors,
    ))]
async fn pause_campaign(
    State(s): State<AppState>,
    Extension(token): Extension<TokenName>,
    Segment(name): Segment,
) -> Result<Response, ApiError> {
    set_paused(s, token, name, true).await
}

/// Resumes a paused campaign. Audited when it changes.
#[utoipa::path(post, path = "/campaigns/{name}/resume", tag = "campaigns",
    params(CampaignName),
    responses(
        (status = 200, description = "Dialling again (`was_paused` tells whether it was paused)", body = PauseUpdate),
        PauseErrors,
    ))]
async fn resume_campaign(
    State(s): State<AppState>,
    Extension(token): Extension<TokenName>,
    Segment(name): Segment,
) -> Result<Response, ApiError> {
    set_paused(s, token, name, false).await
}

#[utoipa::path(get, path = "/agents", tag = "agents",
    responses(
        (status = 200, description = "Every configured agent, by id", body = [AgentView]),
        EngineErrors,
    ))]
async fn agents(State(s): State<AppState>) -> Result<Response, ApiError> {
    Ok(Json(s.control.agents().await?).into_response())
}

async fn act(s: &AppState, id: &str, action: AgentAction) -> Result<Response, ApiError> {
    Ok(Json(s.control.agent_action(id, action).await?).into_response())
}

/// Logs an agent in (paused until `ready`).
#[utoipa::path(
    post,
    path = "/agents/{id}/login",
    tag = "agents",
    params(AgentId),
    responses(AgentActed, LoginErrors)
)]
async fn agent_login(
    State(s): State<AppState>,
    Segment(id): Segment,
) -> Result<Response, ApiError> {
    act(&s, &id, AgentAction::Login).await
}

/// Makes an agent ready for calls.
#[utoipa::path(
    post,
    path = "/agents/{id}/ready",
    tag = "agents",
    params(AgentId),
    responses(AgentActed, AgentErrors)
)]
async fn agent_ready(
    State(s): State<AppState>,
    Segment(id): Segment,
) -> Result<Response, ApiError> {
    act(&s, &id, AgentAction::Ready).await
}

/// Logs an agent out.
#[utoipa::path(
    post,
    path = "/agents/{id}/logout",
    tag = "agents",
    params(AgentId),
    responses(AgentActed, AgentErrors)
)]
async fn agent_logout(
    State(s): State<AppState>,
    Segment(id): Segment,
) -> Result<Response, ApiError> {
    act(&s, &id, AgentAction::Logout).await
}

/// Pauses an agent with a reason.
#[utoipa::path(post, path = "/agents/{id}/pause", tag = "agents",
    params(AgentId),
    request_body = PauseBody,
    responses(
        AgentActed,
        AgentPauseErrors,
    ))]
async fn agent_pause(
    State(s): State<AppState>,
    Segment(id): Segment,
    Body(body): Body,
) -> Result<Response, ApiError> {
    let body: PauseBody = decode(&body)?;
    let reason = validate::pause_reason(&body.reason).map_err(ApiError::invalid)?;
    act(&s, &id, AgentAction::Pause { reason }).await
}

/// Ends an agent's wrap-up with the call's disposition; the agent is ready again.
#[utoipa::path(post, path = "/agents/{id}/wrapup", tag = "agents",
    params(AgentId),
    request_body = DispositionWire,
    responses(
        AgentActed,
        WrapUpErrors,
    ))]
async fn agent_wrapup(
    State(s): State<AppState>,
    Segment(id): Segment,
    Body(body): Body,
) -> Result<Response, ApiError> {
    // Decoded field by field: a well-formed body with a bad value names its field.
    let value: serde_json::Value = decode(&body)?;
    let wire = validate::disposition_wire(value).map_err(ApiError::invalid)?;
    let checked = validate::wrap_up(wire, changes::now_ms()).map_err(ApiError::invalid)?;
    let action = AgentAction::WrapUp {
        disposition: checked.disposition,
        note: checked.note,
    };
    act(&s, &id, action).await
}

/// The screen pop of the agent's connected call (`call` is `null` without one). List data as
/// loaded, every control character escaped.
#[utoipa::path(get, path = "/agents/{id}/current", tag = "agents",
    params(AgentId),
    responses(
        (status = 200, description = "The agent's current call", body = CurrentCall),
        CurrentCallErrors,
    ))]
async fn agent_current(
    State(s): State<AppState>,
    Segment(id): Segment,
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

/// The Prometheus metrics (text exposition format 0.0.4; names in `admin::metrics`).
#[utoipa::path(get, path = "/metrics", tag = "monitoring",
    responses(
        (status = 200, description = "Every metric", body = String,
            content_type = "text/plain; version=0.0.4; charset=utf-8"),
        MetricsErrors,
    ))]
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
