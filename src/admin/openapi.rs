//! The OpenAPI 3.1 description of the admin API: the document's frame (title, version, tags, the
//! bearer security scheme), what the token layer adds to every operation (401, 403), and the
//! `/openapi.json` handler. The operations themselves are described on their handlers in `http`
//! and collected by `utoipa_axum`'s `routes!`; this module must not describe a route by hand.
//!
//! `/openapi.json` sits behind the token like every other route: the document is no secret, but
//! the engine keeps one rule, no unauthenticated access on any endpoint (a client that has a
//! token can fetch it: `curl -H "Authorization: Bearer $TOKEN" …/openapi.json`).

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::OpenApi;
use utoipa::OpenApi as _;

use super::control::AgentView;
use super::http::{AppState, ErrorBody};
use super::responses;

/// Name of the security scheme in the document.
const BEARER: &str = "bearer";

#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "outdial admin API",
        description = "Supervisor and agent control of a running outdial engine: campaigns and \
            their pacing, agents and their calls, Prometheus metrics. Every request carries \
            `Authorization: Bearer <token>` (a token of the engine config's `admin.tokens`); \
            errors are `{\"error\": \"…\"}`."
    ),
    tags(
        (name = "campaigns", description = "Campaigns: live figures, pacing, pause and resume"),
        (name = "agents", description = "Agents: state, the agent's actions, the screen pop"),
        (name = "records", description = "Call records: search, CSV export, recordings"),
        (name = "monitoring", description = "Metrics, the Grafana dashboard, this document"),
    ),
    // The bodies of the shared answers (`responses`) and of the token layer's: they refer to
    // these schemas by name, and only a handler's own `body = …` adds a schema by itself.
    components(schemas(ErrorBody, AgentView))
)]
struct Frame;

/// The document's frame, before the handlers' operations are added.
pub(super) fn document() -> OpenApi {
    let mut doc = Frame::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").to_string();
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        BEARER,
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .description(Some("A token of the engine config's `admin.tokens`"))
                .build(),
        ),
    );
    doc.security = Some(vec![SecurityRequirement::new(BEARER, Vec::<String>::new())]);
    doc
}

/// Adds what the token layer answers to every operation, with the error body (the layer runs
/// before any handler, so no handler lists them): 401 without a valid token, 403 for an agent
/// token outside `/agents/{its agent}/…`. A handler mounted on two methods (pacing:
/// PATCH and POST) gets one operation id per method, `set_pacing_post`: OpenAPI wants them
/// unique.
pub(super) fn finish(mut doc: OpenApi) -> OpenApi {
    let layer = [responses::UNAUTHORIZED, responses::FORBIDDEN];
    let mut ids = std::collections::HashSet::new();
    for item in doc.paths.paths.values_mut() {
        let ops: [(&str, &mut Option<Operation>); 8] = [
            ("get", &mut item.get),
            ("put", &mut item.put),
            ("patch", &mut item.patch),
            ("post", &mut item.post),
            ("delete", &mut item.delete),
            ("options", &mut item.options),
            ("head", &mut item.head),
            ("trace", &mut item.trace),
        ];
        for (method, op) in ops {
            let Some(op) = op else { continue };
            for answer in &layer {
                op.responses
                    .responses
                    .entry(answer.status())
                    .or_insert_with(|| answer.response().into());
            }
            if let Some(id) = &mut op.operation_id {
                if !ids.insert(id.clone()) {
                    *id = format!("{id}_{method}");
                    ids.insert(id.clone());
                }
            }
        }
    }
    doc
}

/// This document.
#[utoipa::path(get, path = "/openapi.json", tag = "monitoring",
    responses((status = 200, description = "The OpenAPI 3.1 document of this API", body = Object)))]
pub(super) async fn spec(State(s): State<AppState>) -> Response {
    Json(s.spec.as_ref().clone()).into_response()
}
