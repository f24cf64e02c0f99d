//! HTTP client of the admin API, used by `outdial pacing|agents|campaign pause|resume` and by
//! tests (e.g. to change pacing mid-run). Plain HTTP (reqwest without TLS): the API is meant for
//! loopback. Owns no rules: the server validates.

use std::time::Duration;

use reqwest::{Method, StatusCode, Url};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::control::{AgentAction, AgentView, CampaignView, PacingRequest, PacingUpdate};
use super::http::{CurrentCall, PauseUpdate};
use super::validate::DispositionWire;

/// How long one request may take before the client gives up.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Why a request to the engine failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The engine URL does not parse or cannot take a path.
    #[error("invalid engine URL {0:?}")]
    Url(String),
    /// No answer: connection refused, timeout, broken connection.
    #[error("cannot reach the engine at {url}")]
    Request {
        /// URL requested.
        url: String,
        /// Transport error.
        source: reqwest::Error,
    },
    /// The engine answered with an error status; `message` is its `{"error": …}` text.
    #[error("engine answered {status}: {message}")]
    Status {
        /// HTTP status.
        status: StatusCode,
        /// The engine's message.
        message: String,
    },
    /// The engine answered 2xx with a body this client does not understand.
    #[error("unexpected answer from the engine at {url}: {message}")]
    Decode {
        /// URL requested.
        url: String,
        /// What did not decode.
        message: String,
    },
}

/// A client of one engine's admin API.
#[derive(Debug, Clone)]
pub struct Client {
    base: Url,
    token: String,
    http: reqwest::Client,
}

impl Client {
    /// A client for the engine at `base` (e.g. `http://127.0.0.1:8089`) with a bearer token.
    pub fn new(base: &str, token: &str) -> Result<Self, ClientError> {
        let base = Url::parse(base).map_err(|_| ClientError::Url(base.to_string()))?;
        if base.cannot_be_a_base() {
            return Err(ClientError::Url(base.to_string()));
        }
        let http = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .build()
            .map_err(|source| ClientError::Request {
                url: base.to_string(),
                source,
            })?;
        Ok(Client {
            base,
            token: token.to_string(),
            http,
        })
    }

    /// `GET /campaigns`.
    pub async fn campaigns(&self) -> Result<Vec<CampaignView>, ClientError> {
        self.call(Method::GET, &["campaigns"], None::<&()>).await
    }

    /// `GET /campaigns/{name}`.
    pub async fn campaign(&self, name: &str) -> Result<CampaignView, ClientError> {
        self.call(Method::GET, &["campaigns", name], None::<&()>)
            .await
    }

    /// `PATCH /campaigns/{name}/pacing`.
    pub async fn set_pacing(
        &self,
        name: &str,
        change: &PacingRequest,
    ) -> Result<PacingUpdate, ClientError> {
        self.call(Method::PATCH, &["campaigns", name, "pacing"], Some(change))
            .await
    }

    /// `POST /campaigns/{name}/pause` (`paused`) or `/resume`.
    pub async fn set_paused(&self, name: &str, paused: bool) -> Result<PauseUpdate, ClientError> {
        let verb = if paused { "pause" } else { "resume" };
        self.call(Method::POST, &["campaigns", name, verb], None::<&()>)
            .await
    }

    /// `GET /agents`.
    pub async fn agents(&self) -> Result<Vec<AgentView>, ClientError> {
        self.call(Method::GET, &["agents"], None::<&()>).await
    }

    /// `POST /agents/{id}/{action}`.
    pub async fn agent_action(
        &self,
        id: &str,
        action: &AgentAction,
    ) -> Result<AgentView, ClientError> {
        let path = |verb| ["agents", id, verb];
        match action {
            AgentAction::Login => self.call(Method::POST, &path("login"), None::<&()>).await,
            AgentAction::Ready => self.call(Method::POST, &path("ready"), None::<&()>).await,
            AgentAction::Logout => self.call(Method::POST, &path("logout"), None::<&()>).await,
            AgentAction::Pause { reason } => {
                let body = serde_json::json!({ "reason": reason });
                self.call(Method::POST, &path("pause"), Some(&body)).await
            }
            AgentAction::WrapUp { disposition, note } => {
                let mut body = DispositionWire::from(disposition.clone());
                body.note = note.clone();
                self.call(Method::POST, &path("wrapup"), Some(&body)).await
            }
        }
    }

    /// `GET /agents/{id}/current`: the screen pop.
    pub async fn current_call(&self, id: &str) -> Result<CurrentCall, ClientError> {
        self.call(Method::GET, &["agents", id, "current"], None::<&()>)
            .await
    }

    /// `GET /metrics`: the Prometheus text.
    pub async fn metrics(&self) -> Result<String, ClientError> {
        let url = self.url(&["metrics"])?;
        let resp = self.send(Method::GET, url.clone(), None::<&()>).await?;
        resp.text().await.map_err(|e| ClientError::Decode {
            url: url.to_string(),
            message: e.to_string(),
        })
    }

    /// The URL of a path; each segment is percent-encoded (campaign names may hold anything).
    fn url(&self, segments: &[&str]) -> Result<Url, ClientError> {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .map_err(|_| ClientError::Url(self.base.to_string()))?
            .pop_if_empty()
            .extend(segments);
        Ok(url)
    }

    async fn send<B: Serialize + ?Sized>(
        &self,
        method: Method,
        url: Url,
        body: Option<&B>,
    ) -> Result<reqwest::Response, ClientError> {
        let mut req = self
            .http
            .request(method, url.clone())
            .bearer_auth(&self.token);
        if let Some(body) = body {
            req = req.json(body);
        }
        let resp = req.send().await.map_err(|e| ClientError::Request {
            url: url.to_string(),
            // The URL is already in our message; keep the cause chain free of repeats.
            source: e.without_url(),
        })?;
        let status = resp.status();
        if status.is_success() {
            return Ok(resp);
        }
        let text = resp.text().await.unwrap_or_default();
        let message = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_string))
            .unwrap_or_else(|| text.chars().take(200).collect());
        Err(ClientError::Status { status, message })
    }

    async fn call<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        method: Method,
        segments: &[&str],
        body: Option<&B>,
    ) -> Result<T, ClientError> {
        let url = self.url(segments)?;
        let resp = self.send(method, url.clone(), body).await?;
        let bytes = resp.bytes().await.map_err(|e| ClientError::Request {
            url: url.to_string(),
            source: e.without_url(),
        })?;
        serde_json::from_slice(&bytes).map_err(|e| ClientError::Decode {
            url: url.to_string(),
            message: e.to_string(),
        })
    }
}
