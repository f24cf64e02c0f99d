//! Bearer-token authentication of the admin API: every request, `/metrics` included, must carry
//! `Authorization: Bearer <token>` matching one configured token, else 401. Tokens are compared in
//! constant time; the matching token's NAME (never the token) is attached to the request for the
//! audit trail, with its [`Role`]. A token of role `agent` is bound to one agent and may only act
//! on that agent (`/agents/{its id}/…`); anything else is 403. Owns no routing.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::http::error_body;

/// One configured API token: who (`name`, written to the audit trail), the secret, and what the
/// holder may do. In the config: `{name: ana, token: …}` (a supervisor) or
/// `{name: desk-7, token: …, role: agent, agent: agent0007}`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "TokenWire")]
pub struct ApiToken {
    /// Who holds the token, e.g. `supervisor-ana`; appears in audit rows.
    pub name: String,
    /// The secret presented as `Authorization: Bearer <token>`.
    pub token: String,
    /// What the holder may do (default supervisor, so configs written before roles keep working).
    #[serde(default)]
    pub role: Role,
    /// The agent an `agent` token is bound to (required for that role, refused for a supervisor).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
}

impl ApiToken {
    /// A supervisor token (what every token was before roles).
    pub fn supervisor(name: impl Into<String>, token: impl Into<String>) -> Self {
        ApiToken {
            name: name.into(),
            token: token.into(),
            role: Role::Supervisor,
            agent: None,
        }
    }

    /// An agent token bound to `agent`.
    pub fn agent(
        name: impl Into<String>,
        token: impl Into<String>,
        agent: impl Into<String>,
    ) -> Self {
        ApiToken {
            name: name.into(),
            token: token.into(),
            role: Role::Agent,
            agent: Some(agent.into()),
        }
    }

    /// Who the holder of this token is, as requests carry it.
    pub fn caller(&self) -> Caller {
        Caller {
            name: self.name.clone(),
            role: self.role,
            agent: self.agent.clone(),
        }
    }
}

/// What a token's holder may do.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Everything: campaigns, pacing, every agent, metrics.
    #[default]
    Supervisor,
    /// Its own agent only: login, ready, pause, logout, wrap-up, its current call.
    Agent,
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Role::Supervisor => "supervisor",
            Role::Agent => "agent",
        })
    }
}

/// An [`ApiToken`] as written in a config, before the role/agent pairing is checked.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenWire {
    name: String,
    token: String,
    #[serde(default)]
    role: Role,
    #[serde(default)]
    agent: Option<String>,
}

impl TryFrom<TokenWire> for ApiToken {
    type Error = String;

    fn try_from(w: TokenWire) -> Result<Self, Self::Error> {
        match (w.role, &w.agent) {
            (Role::Agent, None) => Err(format!(
                "token {:?}: role agent needs `agent: <agent id>` (the agent it acts for)",
                w.name
            )),
            (Role::Agent, Some(a)) if a.trim().is_empty() => {
                Err(format!("token {:?}: `agent` must name an agent", w.name))
            }
            (Role::Supervisor, Some(_)) => Err(format!(
                "token {:?}: `agent` is only for role agent (a supervisor acts on every agent)",
                w.name
            )),
            _ => Ok(ApiToken {
                name: w.name,
                token: w.token,
                role: w.role,
                agent: w.agent,
            }),
        }
    }
}

/// Who made a request: the token's name (for the audit trail), its role and, for an agent, the
/// agent it is bound to. A request extension set by the auth layer, and what a web session holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The token's name.
    pub name: String,
    /// What it may do.
    pub role: Role,
    /// Its agent, for role agent.
    pub agent: Option<String>,
}

impl Caller {
    /// True when this caller may act on agent `id`: a supervisor on any, an agent on its own.
    pub fn may_act_on_agent(&self, id: &str) -> bool {
        match self.role {
            Role::Supervisor => true,
            Role::Agent => self.agent.as_deref() == Some(id),
        }
    }
}

impl std::fmt::Debug for ApiToken {
    // Never print the secret (configs end up in logs).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiToken")
            .field("name", &self.name)
            .field("token", &"<redacted>")
            .field("role", &self.role)
            .field("agent", &self.agent)
            .finish()
    }
}

/// The name of the token that authenticated a request (a request extension set by the auth layer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenName(pub String);

/// Configured tokens, shared by the auth layer. Empty tokens are dropped: an empty secret would
/// let `Bearer ` (nothing) in.
#[derive(Debug, Clone)]
pub(crate) struct Tokens(Arc<Vec<ApiToken>>);

impl Tokens {
    pub(crate) fn new(tokens: Vec<ApiToken>) -> Self {
        let kept: Vec<ApiToken> = tokens.into_iter().filter(|t| !t.token.is_empty()).collect();
        if kept.is_empty() {
            tracing::warn!("admin API has no token configured: every request will get 401");
        }
        Tokens(Arc::new(kept))
    }

    /// The token matching `presented`. Every configured token is compared (no early exit), so
    /// the time taken does not tell which one matched or how much of it did.
    pub(crate) fn find(&self, presented: &[u8]) -> Option<&ApiToken> {
        let mut found = None;
        for t in self.0.iter() {
            if ct_eq(presented, t.token.as_bytes()) && found.is_none() {
                found = Some(t);
            }
        }
        found
    }

    /// The configured token named `name` (web sessions name their token).
    pub(crate) fn by_name(&self, name: &str) -> Option<&ApiToken> {
        self.0.iter().find(|t| t.name == name)
    }
}

/// True when `caller` may reach `path`: a supervisor anything, an agent `/agents/{own id}/…`
/// only (its actions and its current call; not the list of agents, campaigns or metrics).
fn agent_may(caller: &Caller, path: &str) -> bool {
    if caller.role == Role::Supervisor {
        return true;
    }
    let mut parts = path.trim_start_matches('/').splitn(3, '/');
    match (parts.next(), parts.next(), parts.next()) {
        (Some("agents"), Some(id), Some(rest)) => !rest.is_empty() && caller.may_act_on_agent(id),
        _ => false,
    }
}

/// Constant-time equality: the time depends only on the length of `secret`, not on the content
/// of either input nor on where they first differ.
fn ct_eq(presented: &[u8], secret: &[u8]) -> bool {
    let mut diff = presented.len() ^ secret.len();
    for (i, s) in secret.iter().enumerate() {
        // Out-of-range bytes compare against 0; the length difference already counts as a mismatch.
        let p = presented.get(i).copied().unwrap_or(0);
        diff |= usize::from(p ^ s);
    }
    std::hint::black_box(diff) == 0
}

/// The token after `Bearer ` (scheme case-insensitive, RFC 6750), if the header has that shape.
fn bearer(headers: &HeaderMap) -> Option<&[u8]> {
    let value = headers.get(header::AUTHORIZATION)?.as_bytes();
    let (scheme, rest) = value.split_at_checked(7)?;
    if !scheme.eq_ignore_ascii_case(b"bearer ") {
        return None;
    }
    Some(rest.trim_ascii())
}

/// Axum middleware: 401 unless the request carries a configured token; 403 when an agent token
/// asks for anything but its own agent.
pub(crate) async fn require_token(
    State(tokens): State<Tokens>,
    mut req: Request,
    next: Next,
) -> Response {
    let caller = bearer(req.headers())
        .and_then(|t| tokens.find(t))
        .map(ApiToken::caller);
    match caller {
        Some(caller) => {
            if !agent_may(&caller, req.uri().path()) {
                return error_body(
                    StatusCode::FORBIDDEN,
                    &format!(
                        "token {:?} is an agent token: it may only act on /agents/{}/…",
                        caller.name,
                        caller.agent.as_deref().unwrap_or("?")
                    ),
                )
                .into_response();
            }
            req.extensions_mut().insert(TokenName(caller.name.clone()));
            req.extensions_mut().insert(caller);
            next.run(req).await
        }
        None => {
            let mut resp = error_body(
                StatusCode::UNAUTHORIZED,
                "missing or invalid bearer token (Authorization: Bearer <token>)",
            )
            .into_response();
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
            resp
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_time_eq() {
        assert!(ct_eq(b"secret", b"secret"));
        assert!(!ct_eq(b"secreT", b"secret"));
        assert!(!ct_eq(b"secret1", b"secret"));
        assert!(!ct_eq(b"secre", b"secret"));
        assert!(!ct_eq(b"", b"secret"));
    }

    #[test]
    fn finds_name_and_drops_empty_tokens() {
        let tokens = Tokens::new(vec![
            ApiToken::supervisor("empty", ""),
            ApiToken::supervisor("ana", "t-ana"),
        ]);
        assert_eq!(tokens.find(b"t-ana").map(|t| t.name.as_str()), Some("ana"));
        assert_eq!(tokens.find(b""), None);
        assert_eq!(tokens.find(b"t-an"), None);
    }

    #[test]
    fn agent_tokens_reach_their_own_agent_only() {
        let a = ApiToken::agent("desk-7", "t", "agent0007").caller();
        assert!(agent_may(&a, "/agents/agent0007/ready"));
        assert!(agent_may(&a, "/agents/agent0007/current"));
        assert!(!agent_may(&a, "/agents/agent0008/ready"));
        assert!(!agent_may(&a, "/agents/agent0007"));
        assert!(!agent_may(&a, "/agents"));
        assert!(!agent_may(&a, "/campaigns"));
        assert!(!agent_may(&a, "/metrics"));
        let s = ApiToken::supervisor("ana", "t").caller();
        assert!(agent_may(&s, "/campaigns/x/pause"));
    }

    #[test]
    fn config_roles() {
        let t: ApiToken = serde_yaml::from_str("{name: ana, token: x}").unwrap();
        assert_eq!(t.role, Role::Supervisor);
        let t: ApiToken =
            serde_yaml::from_str("{name: d, token: x, role: agent, agent: agent0001}").unwrap();
        assert_eq!(t.agent.as_deref(), Some("agent0001"));
        let e = serde_yaml::from_str::<ApiToken>("{name: d, token: x, role: agent}").unwrap_err();
        assert!(e.to_string().contains("role agent needs"), "{e}");
        let e = serde_yaml::from_str::<ApiToken>("{name: d, token: x, agent: a}").unwrap_err();
        assert!(e.to_string().contains("only for role agent"), "{e}");
    }

    #[test]
    fn bearer_parsing() {
        let mut h = HeaderMap::new();
        assert_eq!(bearer(&h), None);
        h.insert(header::AUTHORIZATION, "bearer abc ".parse().unwrap());
        assert_eq!(bearer(&h), Some(&b"abc"[..]));
        h.insert(header::AUTHORIZATION, "Basic abc".parse().unwrap());
        assert_eq!(bearer(&h), None);
    }
}
