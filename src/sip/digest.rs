//! HTTP Digest authentication for SIP (RFC 2617 / RFC 3261 §22): answering a 401/407 challenge
//! with MD5 and `qop=auth` (UAC side), parsing and checking an `Authorization` header (UAS side:
//! synthetic trunks, and dial-in agents through [`super::nonces`], which owns nonce lifetimes
//! and nonce counts). Pure functions: no clock, no RNG, no state.

use md5::{Digest, Md5};

/// Credentials of one trunk (or of a dial-in agent's phone). `Debug` never shows the password,
/// so a logged config or agent spec leaks no secret.
#[derive(Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    /// Authentication user name.
    pub username: String,
    /// Password.
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<hidden>")
            .finish()
    }
}

/// A parsed `WWW-Authenticate` / `Proxy-Authenticate` challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// Protection realm.
    pub realm: String,
    /// Server nonce.
    pub nonce: String,
    /// Opaque value to echo.
    pub opaque: Option<String>,
    /// True when the server offers `qop=auth`.
    pub qop_auth: bool,
}

/// Splits `k=v, k="v, with comma"` into pairs.
fn params(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = s.trim();
    while !rest.is_empty() {
        let Some(eq) = rest.find('=') else { break };
        let key = rest[..eq]
            .trim()
            .trim_start_matches(',')
            .trim()
            .to_ascii_lowercase();
        rest = rest[eq + 1..].trim_start();
        let value;
        if let Some(q) = rest.strip_prefix('"') {
            let end = q.find('"').unwrap_or(q.len());
            value = q[..end].to_string();
            rest = q.get(end + 1..).unwrap_or("");
        } else {
            let end = rest.find(',').unwrap_or(rest.len());
            value = rest[..end].trim().to_string();
            rest = &rest[end..];
        }
        rest = rest.trim_start().trim_start_matches(',').trim_start();
        out.push((key, value));
    }
    out
}

impl Challenge {
    /// Parses a `Digest …` challenge; `None` for other schemes or algorithms than MD5.
    pub fn parse(value: &str) -> Option<Self> {
        let v = value.trim();
        if v.len() < 7 || !v.is_char_boundary(7) || !v[..7].eq_ignore_ascii_case("digest ") {
            return None;
        }
        let ps = params(&v[7..]);
        let get = |k: &str| ps.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        if let Some(alg) = get("algorithm") {
            if !alg.eq_ignore_ascii_case("md5") {
                return None;
            }
        }
        Some(Challenge {
            realm: get("realm")?,
            nonce: get("nonce")?,
            opaque: get("opaque"),
            qop_auth: get("qop")
                .map(|q| q.split(',').any(|x| x.trim().eq_ignore_ascii_case("auth")))
                .unwrap_or(false),
        })
    }
}

fn md5_hex(s: &str) -> String {
    let d = Md5::digest(s.as_bytes());
    let mut out = String::with_capacity(32);
    for b in d {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

fn response(
    c: &Credentials,
    realm: &str,
    nonce: &str,
    method: &str,
    uri: &str,
    qop: Option<(&str, &str)>,
) -> String {
    let ha1 = md5_hex(&format!("{}:{realm}:{}", c.username, c.password));
    let ha2 = md5_hex(&format!("{method}:{uri}"));
    match qop {
        Some((nc, cnonce)) => md5_hex(&format!("{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}")),
        None => md5_hex(&format!("{ha1}:{nonce}:{ha2}")),
    }
}

/// The `Authorization` (or `Proxy-Authorization`) value answering `ch` for `method uri`.
/// `cnonce` should be fresh per request; the nonce count is always 1 (one use per nonce).
pub fn authorization(
    c: &Credentials,
    ch: &Challenge,
    method: &str,
    uri: &str,
    cnonce: &str,
) -> String {
    authorization_counted(c, ch, method, uri, cnonce, 1)
}

/// [`authorization`] for the `nc`-th use of the challenge's nonce (a client reusing a nonce
/// counts up; a server sees a count not above the last as a replay).
pub fn authorization_counted(
    c: &Credentials,
    ch: &Challenge,
    method: &str,
    uri: &str,
    cnonce: &str,
    nc: u32,
) -> String {
    let nc = format!("{nc:08x}");
    let qop = ch.qop_auth.then_some((nc.as_str(), cnonce));
    let resp = response(c, &ch.realm, &ch.nonce, method, uri, qop);
    let mut s = format!(
        "Digest username=\"{}\", realm=\"{}\", nonce=\"{}\", uri=\"{uri}\", response=\"{resp}\", algorithm=MD5",
        c.username, ch.realm, ch.nonce
    );
    if let Some(o) = &ch.opaque {
        s.push_str(&format!(", opaque=\"{o}\""));
    }
    if let Some((nc, cn)) = qop {
        s.push_str(&format!(", qop=auth, nc={nc}, cnonce=\"{cn}\""));
    }
    s
}

/// A parsed `Authorization` (or `Proxy-Authorization`) value, server side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    /// `username`.
    pub username: String,
    /// `realm`.
    pub realm: String,
    /// `nonce` (the server's, echoed).
    pub nonce: String,
    /// `uri` (the digest URI the client hashed).
    pub uri: String,
    /// `response` (32 hex digits).
    pub response: String,
    /// `qop`, when the client chose one (`auth`).
    pub qop: Option<String>,
    /// `nc`, the nonce count (8 hex digits), with `qop`.
    pub nc: Option<String>,
    /// `cnonce`, with `qop`.
    pub cnonce: Option<String>,
    /// `algorithm` (MD5 when absent).
    pub algorithm: Option<String>,
}

/// An `Authorization` value that cannot be checked; names the field at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthorizationError {
    /// Another scheme than Digest (e.g. Basic).
    #[error("authorization: not a Digest scheme")]
    Scheme,
    /// A required field is missing.
    #[error("authorization: no {0} field")]
    Missing(&'static str),
    /// A field has a value outdial does not accept.
    #[error("authorization: {0} {1:?} not accepted")]
    Invalid(&'static str, String),
}

impl Authorization {
    /// Parses a `Digest …` credentials value. Only MD5 (or no algorithm) is accepted; with a
    /// `qop`, it must be `auth` and come with `nc` (8 hex digits) and `cnonce`.
    pub fn parse(value: &str) -> Result<Self, AuthorizationError> {
        let v = value.trim();
        if v.len() < 7 || !v.is_char_boundary(7) || !v[..7].eq_ignore_ascii_case("digest ") {
            return Err(AuthorizationError::Scheme);
        }
        let ps = params(&v[7..]);
        let get = |k: &str| ps.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        let need = |k: &'static str| get(k).ok_or(AuthorizationError::Missing(k));
        let a = Authorization {
            username: need("username")?,
            realm: need("realm")?,
            nonce: need("nonce")?,
            uri: need("uri")?,
            response: need("response")?,
            qop: get("qop"),
            nc: get("nc"),
            cnonce: get("cnonce"),
            algorithm: get("algorithm"),
        };
        if let Some(alg) = &a.algorithm {
            if !alg.eq_ignore_ascii_case("md5") {
                return Err(AuthorizationError::Invalid("algorithm", alg.clone()));
            }
        }
        if let Some(q) = &a.qop {
            if !q.eq_ignore_ascii_case("auth") {
                return Err(AuthorizationError::Invalid("qop", q.clone()));
            }
            let nc = a.nc.as_deref().ok_or(AuthorizationError::Missing("nc"))?;
            if a.nonce_count().is_none() {
                return Err(AuthorizationError::Invalid("nc", nc.to_string()));
            }
            if a.cnonce.is_none() {
                return Err(AuthorizationError::Missing("cnonce"));
            }
        }
        Ok(a)
    }

    /// The nonce count as a number (`nc` is 8 hex digits), when present and well formed.
    pub fn nonce_count(&self) -> Option<u32> {
        let nc = self.nc.as_deref()?;
        if nc.len() != 8 {
            return None;
        }
        u32::from_str_radix(nc, 16).ok()
    }

    /// Whether `response` is what `c` gives for `method` over this header's own realm, nonce,
    /// uri and qop fields (the caller checks the realm and nonce are the ones it issued).
    pub fn answers(&self, c: &Credentials, method: &str) -> bool {
        let qop = match (&self.qop, &self.nc, &self.cnonce) {
            (Some(_), Some(nc), Some(cn)) => Some((nc.as_str(), cn.as_str())),
            _ => None,
        };
        self.username == c.username
            && response(c, &self.realm, &self.nonce, method, &self.uri, qop)
                .eq_ignore_ascii_case(&self.response)
    }
}

/// Checks an `Authorization` value against the expected credentials and nonce (server side).
pub fn verify(value: &str, c: &Credentials, nonce: &str, method: &str) -> bool {
    let v = value.trim();
    if v.len() < 7 || !v.is_char_boundary(7) || !v[..7].eq_ignore_ascii_case("digest ") {
        return false;
    }
    let ps = params(&v[7..]);
    let get = |k: &str| ps.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let (Some(user), Some(realm), Some(n), Some(uri), Some(resp)) = (
        get("username"),
        get("realm"),
        get("nonce"),
        get("uri"),
        get("response"),
    ) else {
        return false;
    };
    if user != c.username || n != nonce {
        return false;
    }
    let qop = match (get("qop"), get("nc"), get("cnonce")) {
        (Some(_), Some(nc), Some(cn)) => Some((nc, cn)),
        _ => None,
    };
    response(c, realm, nonce, method, uri, qop) == resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc2617_example_response() {
        // The worked example of RFC 2617 §3.5 (HTTP, same algorithm).
        let c = Credentials {
            username: "Mufasa".into(),
            password: "Circle Of Life".into(),
        };
        let r = response(
            &c,
            "testrealm@host.com",
            "dcd98b7102dd2f0e8b11d0f600bfb0c093",
            "GET",
            "/dir/index.html",
            Some(("00000001", "0a4f113b")),
        );
        assert_eq!(r, "6629fae49393a05397450978507c4ef1");
    }

    fn mufasa() -> Credentials {
        Credentials {
            username: "Mufasa".into(),
            password: "Circle Of Life".into(),
        }
    }

    /// RFC 2617 §3.5's request, as a client sends it.
    const RFC2617_AUTH: &str = "Digest username=\"Mufasa\", realm=\"testrealm@host.com\", \
         nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", uri=\"/dir/index.html\", qop=auth, \
         nc=00000001, cnonce=\"0a4f113b\", response=\"6629fae49393a05397450978507c4ef1\", \
         opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"";

    #[test]
    fn the_rfc2617_example_request_parses_and_answers_for_the_right_password_only() {
        let a = Authorization::parse(RFC2617_AUTH).unwrap();
        assert_eq!(a.username, "Mufasa");
        assert_eq!(a.nonce_count(), Some(1));
        assert!(a.answers(&mufasa(), "GET"));
        let wrong = Credentials {
            password: "Circle of life".into(),
            ..mufasa()
        };
        assert!(!a.answers(&wrong, "GET"), "the password is case-sensitive");
        assert!(!a.answers(&mufasa(), "POST"), "the method is hashed in");
    }

    #[test]
    fn a_bad_authorization_names_the_field_at_fault() {
        assert_eq!(
            Authorization::parse("Basic QWxhZGRpbjpvcGVu"),
            Err(AuthorizationError::Scheme)
        );
        let no_response =
            RFC2617_AUTH.replace(", response=\"6629fae49393a05397450978507c4ef1\"", "");
        assert_eq!(
            Authorization::parse(&no_response),
            Err(AuthorizationError::Missing("response"))
        );
        let sha = format!("{RFC2617_AUTH}, algorithm=SHA-256");
        assert!(matches!(
            Authorization::parse(&sha),
            Err(AuthorizationError::Invalid("algorithm", _))
        ));
        let bad_nc = RFC2617_AUTH.replace("nc=00000001", "nc=1");
        assert!(matches!(
            Authorization::parse(&bad_nc),
            Err(AuthorizationError::Invalid("nc", _))
        ));
        // Multi-byte input where the scheme would be: an error, not a panic.
        assert!(Authorization::parse("Digeéé x").is_err());
    }

    #[test]
    fn challenge_answer_verifies() {
        let ch = Challenge::parse(
            "Digest realm=\"outdial\", nonce=\"abc,def\", qop=\"auth,auth-int\", algorithm=MD5, opaque=\"o\"",
        )
        .unwrap();
        assert_eq!(ch.nonce, "abc,def");
        assert!(ch.qop_auth);
        let c = Credentials {
            username: "u".into(),
            password: "p".into(),
        };
        let a = authorization(&c, &ch, "INVITE", "sip:+1555@127.0.0.1", "cn1");
        assert!(verify(&a, &c, "abc,def", "INVITE"));
        let wrong = Credentials {
            username: "u".into(),
            password: "q".into(),
        };
        assert!(!verify(&a, &wrong, "abc,def", "INVITE"));
        assert!(Challenge::parse("Basic realm=x").is_none());
    }

    #[test]
    fn debug_output_hides_the_password() {
        let shown = format!("{:?}", mufasa());
        assert!(
            shown.contains("Mufasa") && !shown.contains("Circle"),
            "{shown}"
        );
    }
}
