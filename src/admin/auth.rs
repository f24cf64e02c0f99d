//! Bearer-token authentication of the admin API: every request, `/metrics` included, must carry
//! `Authorization: Bearer <token>` matching one configured token, else 401. Tokens are compared in
//! constant time; the matching token's NAME (never the token) is attached to the request for the
//! audit trail. Owns no routing.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::http::error_body;

/// One configured API token: who (`name`, written to the audit trail) and the secret.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiToken {
    /// Who holds the token, e.g. `supervisor-ana`; appears in audit rows.
    pub name: String,
    /// The secret presented as `Authorization: Bearer <token>`.
    pub token: String,
}

impl std::fmt::Debug for ApiToken {
    // Never print the secret (configs end up in logs).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiToken")
            .field("name", &self.name)
            .field("token", &"<redacted>")
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

    /// The name of the token matching `presented`. Every configured token is compared (no early
    /// exit), so the time taken does not tell which one matched or how much of it did.
    fn find(&self, presented: &[u8]) -> Option<String> {
        let mut found = None;
        for t in self.0.iter() {
            if ct_eq(presented, t.token.as_bytes()) && found.is_none() {
                found = Some(t.name.clone());
            }
        }
        found
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

/// Axum middleware: 401 unless the request carries a configured token.
pub(crate) async fn require_token(
    State(tokens): State<Tokens>,
    mut req: Request,
    next: Next,
) -> Response {
    let name = bearer(req.headers()).and_then(|t| tokens.find(t));
    match name {
        Some(name) => {
            req.extensions_mut().insert(TokenName(name));
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
            ApiToken {
                name: "empty".into(),
                token: String::new(),
            },
            ApiToken {
                name: "ana".into(),
                token: "t-ana".into(),
            },
        ]);
        assert_eq!(tokens.find(b"t-ana").as_deref(), Some("ana"));
        assert_eq!(tokens.find(b""), None);
        assert_eq!(tokens.find(b"t-an"), None);
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
