//! HTTP Digest authentication for SIP (RFC 2617 / RFC 3261 §22): answering a 401/407 challenge
//! with MD5 and `qop=auth`, and checking an Authorization header (used by synthetic trunks).

use md5::{Digest, Md5};

/// Credentials of one trunk.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    /// Authentication user name.
    pub username: String,
    /// Password.
    pub password: String,
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
        if v.len() < 7 || !v[..7].eq_ignore_ascii_case("digest ") {
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
    let qop = ch.qop_auth.then_some(("00000001", cnonce));
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

/// Checks an `Authorization` value against the expected credentials and nonce (server side).
pub fn verify(value: &str, c: &Credentials, nonce: &str, method: &str) -> bool {
    let v = value.trim();
    if v.len() < 7 || !v[..7].eq_ignore_ascii_case("digest ") {
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
}
