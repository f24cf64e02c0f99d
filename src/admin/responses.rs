//! Answers several operations of the admin API's OpenAPI document share, each written once:
//! the error answers (each (status, description), with the [`ErrorBody`] body), gathered into
//! the sets a handler lists beside its own success answer (`responses((status = 200, …),
//! SearchErrors)`), one set per family of routes that answer the same errors; and the agent
//! actions' common success answer ([`AgentActed`]). The token layer's 401 and 403
//! ([`UNAUTHORIZED`], [`FORBIDDEN`]) are added to every operation by `openapi::finish`.
//!
//! Describes only: which answer a handler really gives is decided in `http` and `records`, and
//! a set must list exactly what its handlers can answer. A schema named here is not collected
//! by `routes!` (only a handler's own `body = …` is): `openapi`'s frame registers them. Error
//! sets are plain [`IntoResponses`] impls rather than `#[derive(IntoResponses)]` enums because
//! a derived variant belongs to one enum: "The engine is stopping" would be written again in
//! every set.

use std::collections::BTreeMap;

use utoipa::openapi::{ContentBuilder, Ref, RefOr, Response, ResponseBuilder};
use utoipa::{IntoResponses, ToSchema};

use super::control::AgentView;
use super::http::ErrorBody;

/// A documented error answer: HTTP status and what it means; the body is always [`ErrorBody`].
pub(super) struct ErrorAnswer {
    status: u16,
    description: &'static str,
}

const fn answer(status: u16, description: &'static str) -> ErrorAnswer {
    ErrorAnswer {
        status,
        description,
    }
}

impl ErrorAnswer {
    /// The status as the document's responses map keys it (`"404"`).
    pub(super) fn status(&self) -> String {
        self.status.to_string()
    }

    /// The OpenAPI response: the description, `application/json` with the `ErrorBody` schema.
    pub(super) fn response(&self) -> Response {
        ResponseBuilder::new()
            .description(self.description)
            .content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name(ErrorBody::name())))
                    .build(),
            )
            .build()
    }
}

/// The token layer, on every route.
pub(super) const UNAUTHORIZED: ErrorAnswer = answer(
    401,
    "Missing or invalid bearer token (`WWW-Authenticate: Bearer`)",
);
pub(super) const FORBIDDEN: ErrorAnswer = answer(
    403,
    "An agent token outside its own agent's `/agents/{id}/…`",
);

// Malformed requests: nothing changed.
const MALFORMED_NAME: ErrorAnswer = answer(400, "Malformed name");
const BAD_PACING: ErrorAnswer = answer(
    400,
    "A value out of range, an unknown field or no field: nothing changed",
);
const MALFORMED_ID: ErrorAnswer = answer(400, "Malformed id");
const BAD_REASON: ErrorAnswer = answer(400, "Malformed id or body, or a bad reason");
const BAD_WRAP_UP: ErrorAnswer = answer(
    400,
    "Malformed id or body, or a bad field value (the message names the field and what it may be)",
);
const BAD_SEARCH: ErrorAnswer = answer(400, "A field of the search is wrong (named)");
const BAD_ATTEMPT: ErrorAnswer = answer(400, "The attempt is not a number");
const TOO_LARGE: ErrorAnswer = answer(413, "Body over 64 KiB");

// What the request names does not exist.
const NO_CAMPAIGN: ErrorAnswer = answer(404, "No such campaign running");
const NO_AGENT: ErrorAnswer = answer(404, "No such agent");
const NO_RECORDING: ErrorAnswer = answer(404, "The call has no recording");

// The agent's state refuses the action.
const WRONG_STATE: ErrorAnswer = answer(409, "The action does not fit the agent's state");
// Login alone can meet an agent another node of a shared store has claimed.
const LOGIN_CONFLICT: ErrorAnswer = answer(
    409,
    "The action does not fit the agent's state, or another engine node owns the agent",
);
const NOT_IN_WRAP_UP: ErrorAnswer = answer(409, "The agent is not in wrap-up");

// The engine's side.
const ENGINE_FAILED: ErrorAnswer = answer(500, "The engine failed");
const CHANGE_FAILED: ErrorAnswer = answer(500, "The engine or the audit write failed");
const STORE_FAILED: ErrorAnswer = answer(500, "The store failed");
const UNREADABLE: ErrorAnswer = answer(500, "The recording could not be read");
const STOPPING: ErrorAnswer = answer(503, "The engine is stopping");
// Login alone waits for the engine's claim of its agents at start.
const NOT_CLAIMED: ErrorAnswer = answer(
    503,
    "The engine is stopping, or has just started and not yet claimed its agents (retry)",
);
const NO_RECORDER: ErrorAnswer = answer(503, "The metrics recorder could not be installed");

/// The answer of every agent action (`POST /agents/{id}/…`): the agent's state after it.
#[derive(IntoResponses)]
#[response(status = 200, description = "The agent after the action")]
pub(super) struct AgentActed(
    #[expect(
        dead_code,
        reason = "never built: the field only names the schema for the derive"
    )]
    AgentView,
);

/// The responses map of a set.
fn map(answers: &[ErrorAnswer]) -> BTreeMap<String, RefOr<Response>> {
    answers
        .iter()
        .map(|a| (a.status(), RefOr::T(a.response())))
        .collect()
}

/// One unit struct per set, listed in `responses(…)` of `#[utoipa::path]`; `SETS` lists them
/// for the tests.
macro_rules! error_sets {
    ($($(#[doc = $doc:literal])+ $set:ident = [$($answer:ident),+ $(,)?];)+) => {
        $(
            $(#[doc = $doc])+
            pub(super) struct $set;

            impl IntoResponses for $set {
                fn responses() -> BTreeMap<String, RefOr<Response>> {
                    map(&[$($answer),+])
                }
            }
        )+

        #[cfg(test)]
        const SETS: &[(&str, &[ErrorAnswer])] = &[$((stringify!($set), &[$($answer),+])),+];
    };
}

error_sets! {
    /// `GET /campaigns`, `GET /agents`.
    EngineErrors = [ENGINE_FAILED, STOPPING];
    /// `GET /campaigns/{name}`.
    CampaignErrors = [MALFORMED_NAME, NO_CAMPAIGN, ENGINE_FAILED, STOPPING];
    /// `POST /campaigns/{name}/pause`, `/resume` (audited).
    PauseErrors = [MALFORMED_NAME, NO_CAMPAIGN, CHANGE_FAILED, STOPPING];
    /// `PATCH|POST /campaigns/{name}/pacing` (a body, audited).
    PacingErrors = [BAD_PACING, NO_CAMPAIGN, TOO_LARGE, CHANGE_FAILED, STOPPING];
    /// `POST /agents/{id}/login`.
    LoginErrors = [MALFORMED_ID, NO_AGENT, LOGIN_CONFLICT, ENGINE_FAILED, NOT_CLAIMED];
    /// `POST /agents/{id}/ready`, `/logout`.
    AgentErrors = [MALFORMED_ID, NO_AGENT, WRONG_STATE, ENGINE_FAILED, STOPPING];
    /// `POST /agents/{id}/pause` (a body).
    AgentPauseErrors = [BAD_REASON, NO_AGENT, WRONG_STATE, TOO_LARGE, ENGINE_FAILED, STOPPING];
    /// `POST /agents/{id}/wrapup` (a body).
    WrapUpErrors = [BAD_WRAP_UP, NO_AGENT, NOT_IN_WRAP_UP, TOO_LARGE, ENGINE_FAILED, STOPPING];
    /// `GET /agents/{id}/current`.
    CurrentCallErrors = [MALFORMED_ID, NO_AGENT, ENGINE_FAILED, STOPPING];
    /// `GET /records`, `/records.csv`.
    SearchErrors = [BAD_SEARCH, STORE_FAILED, STOPPING];
    /// `GET /recordings/{attempt}` (its 416 has no body: the handler lists it).
    RecordingErrors = [BAD_ATTEMPT, NO_RECORDING, UNREADABLE, STOPPING];
    /// `GET /metrics`.
    MetricsErrors = [NO_RECORDER];
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A set answers each status once: of two answers with one status, the map (and so the
    /// document) would keep only the last.
    #[test]
    fn a_set_answers_each_status_once() {
        for (name, answers) in SETS {
            let statuses: std::collections::BTreeSet<u16> =
                answers.iter().map(|a| a.status).collect();
            assert_eq!(statuses.len(), answers.len(), "{name} repeats a status");
        }
    }
}
