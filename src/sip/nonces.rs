//! The UAS side of digest authentication (RFC 2617 / RFC 3261 §22.4) for phones that dial in:
//! [`NonceBook`] issues nonces (from a ChaCha20 stream keyed by the caller, never a global
//! RNG), remembers each for its lifetime with the highest nonce count seen, and judges an
//! `Authorization` value: accepted, stale (right password, nonce expired or unknown: challenge
//! again with `stale=true`), wrong, replayed (a nonce count not above the last one), for
//! another resource (the right response, its `uri` not the Request-URI: RFC 2617 §3.2.2.5,
//! answered 400) or
//! malformed.
//!
//! Sans-IO: every call takes `now`; no clock, no socket. Must not touch: who the user is (the
//! caller looks up the credentials), SIP messages (the caller builds the 401/403).

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use rand::RngCore;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;

use super::digest::{Authorization, AuthorizationError, Credentials};

/// Most nonces remembered at once: a flood of unauthenticated INVITEs each gets a nonce, and
/// the oldest are forgotten first (a phone holding one then gets `stale=true`, and retries).
pub const MAX_NONCES: usize = 10_000;

/// What a nonce remembers.
#[derive(Debug, Clone, Copy)]
struct Issued {
    at: Instant,
    /// Highest nonce count accepted with it (0: none yet).
    last_nc: u32,
}

/// The judgement on an `Authorization` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Right credentials, a live nonce of ours, a nonce count above any used before.
    Accepted,
    /// Right credentials over a nonce that expired or that this book does not know (an old
    /// one, or one of an earlier run): challenge again with `stale=true`.
    Stale,
    /// Wrong user name, realm or password (or no `qop=auth`, which this server requires).
    Wrong,
    /// Right credentials, but a nonce count already used with this nonce: a replay.
    Replayed,
    /// The digest's `uri` names another resource than the request's Request-URI (a response
    /// computed for some other request, replayed here): 400 Bad Request (RFC 2617 §3.2.2.5).
    UriMismatch,
    /// The header cannot be checked.
    Malformed(AuthorizationError),
}

/// Nonces issued and their use (see the module doc).
pub struct NonceBook {
    rng: ChaCha20Rng,
    lifetime: Duration,
    issued: HashMap<String, Issued>,
    /// Issue order, for expiry and the cap.
    order: VecDeque<(Instant, String)>,
}

impl NonceBook {
    /// A book whose nonces come from a ChaCha20 stream keyed by `seed` (the live shell passes
    /// 256 bits from the OS; tests a fixed key) and live for `lifetime`.
    pub fn new(seed: [u8; 32], lifetime: Duration) -> Self {
        NonceBook {
            rng: ChaCha20Rng::from_seed(seed),
            lifetime,
            issued: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    /// How long a nonce stays valid.
    pub fn lifetime(&self) -> Duration {
        self.lifetime
    }

    /// Nonces remembered now (expired ones go at the next `issue`).
    pub fn len(&self) -> usize {
        self.issued.len()
    }

    /// True when no nonce is remembered.
    pub fn is_empty(&self) -> bool {
        self.issued.is_empty()
    }

    /// A fresh nonce (128 random bits, hex), valid from `now` for the lifetime.
    pub fn issue(&mut self, now: Instant) -> String {
        self.expire(now);
        while self.order.len() >= MAX_NONCES {
            if let Some((_, n)) = self.order.pop_front() {
                self.issued.remove(&n);
            }
        }
        let mut bytes = [0u8; 16];
        self.rng.fill_bytes(&mut bytes);
        let nonce: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        self.issued.insert(
            nonce.clone(),
            Issued {
                at: now,
                last_nc: 0,
            },
        );
        self.order.push_back((now, nonce.clone()));
        nonce
    }

    fn expire(&mut self, now: Instant) {
        while let Some((at, _)) = self.order.front() {
            if now.saturating_duration_since(*at) < self.lifetime {
                break;
            }
            if let Some((_, n)) = self.order.pop_front() {
                self.issued.remove(&n);
            }
        }
    }

    /// Judges `header` (an `Authorization` value) for `method` with Request-URI `request_uri`
    /// against `creds` in `realm` at `now`. An accepted nonce count is remembered, so the same
    /// header twice is a replay. The `uri` is checked after the credentials (a wrong password is
    /// `Wrong` whatever its uri) and spends nothing.
    pub fn check(
        &mut self,
        now: Instant,
        header: &str,
        creds: &Credentials,
        realm: &str,
        method: &str,
        request_uri: &str,
    ) -> Verdict {
        let a = match Authorization::parse(header) {
            Ok(a) => a,
            Err(e) => return Verdict::Malformed(e),
        };
        // Without qop there is no nonce count, so no replay protection: refused.
        if a.realm != realm || a.qop.is_none() || !a.answers(creds, method) {
            return Verdict::Wrong;
        }
        // A right response computed for another resource (a header replayed from some other
        // request): a wrong password is 403 above whatever its uri, so this tells nothing new.
        if !same_uri(&a.uri, request_uri) {
            return Verdict::UriMismatch;
        }
        let lifetime = self.lifetime;
        let Some(issued) = self
            .issued
            .get_mut(&a.nonce)
            .filter(|i| now.saturating_duration_since(i.at) < lifetime)
        else {
            return Verdict::Stale;
        };
        match a.nonce_count() {
            Some(nc) if nc > issued.last_nc => {
                issued.last_nc = nc;
                Verdict::Accepted
            }
            _ => Verdict::Replayed,
        }
    }
}

/// Whether a digest `uri` names the same resource as a Request-URI, compared as SIP URIs (RFC
/// 3261 §19.1.4, the parts a phone can write differently): scheme and host case-insensitive,
/// user and password case-sensitive, the port as written (an absent port is not 5060), URI
/// parameters in any order with case-insensitive names and values, headers (`?…`) exactly.
/// Anything that is not a `sip:`/`sips:` URI must be the same string.
pub fn same_uri(a: &str, b: &str) -> bool {
    match (UriParts::parse(a.trim()), UriParts::parse(b.trim())) {
        (Some(x), Some(y)) => x == y,
        _ => a.trim() == b.trim(),
    }
}

/// A SIP URI cut into what [`same_uri`] compares.
#[derive(Debug, PartialEq, Eq)]
struct UriParts<'a> {
    secure: bool,
    userinfo: Option<&'a str>,
    host_port: String,
    params: Vec<(String, String)>,
    headers: Option<&'a str>,
}

impl<'a> UriParts<'a> {
    fn parse(uri: &'a str) -> Option<Self> {
        let scheme_end = uri.find(':')?;
        let secure = match uri[..scheme_end].to_ascii_lowercase().as_str() {
            "sip" => false,
            "sips" => true,
            _ => return None,
        };
        let rest = &uri[scheme_end + 1..];
        let (rest, headers) = match rest.split_once('?') {
            Some((r, h)) => (r, Some(h)),
            None => (rest, None),
        };
        let (userinfo, host_part) = match rest.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, rest),
        };
        let mut pieces = host_part.split(';');
        let host_port = pieces.next()?.to_ascii_lowercase();
        let mut params: Vec<(String, String)> = pieces
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (k.to_ascii_lowercase(), v.to_ascii_lowercase())
            })
            .collect();
        params.sort();
        Some(UriParts {
            secure,
            userinfo,
            host_port,
            params,
            headers,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::digest::{authorization, authorization_counted, Challenge};

    fn agent() -> Credentials {
        Credentials {
            username: "agent0001".into(),
            password: "s3cret".into(),
        }
    }

    fn book() -> NonceBook {
        NonceBook::new([9; 32], Duration::from_secs(30))
    }

    /// What a phone answers to a 401 carrying `nonce`, with nonce count `nc`.
    fn answer(c: &Credentials, nonce: &str, nc: u32) -> String {
        let ch = Challenge::parse(&format!(
            "Digest realm=\"outdial\", nonce=\"{nonce}\", qop=\"auth\", algorithm=MD5"
        ))
        .unwrap();
        authorization_counted(c, &ch, "INVITE", URI, "c0ffee", nc)
    }

    /// The Request-URI the phone dials (and so hashes as its digest `uri`).
    const URI: &str = "sip:agent0001@127.0.0.1";

    #[test]
    fn the_right_password_over_a_fresh_nonce_is_accepted_once() {
        let t0 = Instant::now();
        let mut b = book();
        let n = b.issue(t0);
        assert_eq!(n.len(), 32);
        let h = answer(&agent(), &n, 1);
        assert_eq!(
            b.check(t0, &h, &agent(), "outdial", "INVITE", URI),
            Verdict::Accepted
        );
        assert_eq!(
            b.check(t0, &h, &agent(), "outdial", "INVITE", URI),
            Verdict::Replayed,
            "the same nonce count again is a replay"
        );
        let next = answer(&agent(), &n, 2);
        assert_eq!(
            b.check(t0, &next, &agent(), "outdial", "INVITE", URI),
            Verdict::Accepted
        );
    }

    #[test]
    fn a_wrong_password_user_or_realm_is_wrong_even_over_a_fresh_nonce() {
        let t0 = Instant::now();
        let mut b = book();
        let n = b.issue(t0);
        let guess = Credentials {
            password: "secret".into(),
            ..agent()
        };
        let h = answer(&guess, &n, 1);
        assert_eq!(
            b.check(t0, &h, &agent(), "outdial", "INVITE", URI),
            Verdict::Wrong
        );
        let other = Credentials {
            username: "agent0002".into(),
            ..agent()
        };
        let h = answer(&other, &n, 1);
        assert_eq!(
            b.check(t0, &h, &agent(), "outdial", "INVITE", URI),
            Verdict::Wrong
        );
        let h = answer(&agent(), &n, 1);
        assert_eq!(
            b.check(t0, &h, &agent(), "elsewhere", "INVITE", URI),
            Verdict::Wrong
        );
        // A wrong guess spends nothing: the right answer still gets in.
        assert_eq!(
            b.check(t0, &h, &agent(), "outdial", "INVITE", URI),
            Verdict::Accepted
        );
    }

    #[test]
    fn a_nonce_past_its_lifetime_or_unknown_is_stale_when_the_password_is_right() {
        let t0 = Instant::now();
        let mut b = book();
        let n = b.issue(t0);
        let h = answer(&agent(), &n, 1);
        let late = t0 + Duration::from_secs(30);
        assert_eq!(
            b.check(late, &h, &agent(), "outdial", "INVITE", URI),
            Verdict::Stale
        );
        let just_in_time = t0 + Duration::from_millis(29_999);
        assert_eq!(
            b.check(just_in_time, &h, &agent(), "outdial", "INVITE", URI),
            Verdict::Accepted
        );
        let forged = answer(&agent(), "00112233445566778899aabbccddeeff", 1);
        assert_eq!(
            b.check(t0, &forged, &agent(), "outdial", "INVITE", URI),
            Verdict::Stale
        );
        // A stale nonce with the wrong password is wrong, not stale: no hint is given.
        let bad = answer(
            &Credentials {
                password: "x".into(),
                ..agent()
            },
            &n,
            2,
        );
        assert_eq!(
            b.check(late, &bad, &agent(), "outdial", "INVITE", URI),
            Verdict::Wrong
        );
    }

    #[test]
    fn expired_nonces_are_forgotten_and_the_book_is_capped() {
        let t0 = Instant::now();
        let mut b = book();
        for _ in 0..100 {
            b.issue(t0);
        }
        assert_eq!(b.len(), 100);
        b.issue(t0 + Duration::from_secs(31));
        assert_eq!(b.len(), 1, "the 100 expired ones went");
        for _ in 0..MAX_NONCES + 5 {
            b.issue(t0 + Duration::from_secs(31));
        }
        assert_eq!(b.len(), MAX_NONCES);
    }

    #[test]
    fn the_same_seed_issues_the_same_nonces_and_another_seed_others() {
        let t0 = Instant::now();
        let (mut a, mut b) = (book(), book());
        assert_eq!(a.issue(t0), b.issue(t0));
        let mut c = NonceBook::new([10; 32], Duration::from_secs(30));
        assert_ne!(a.issue(t0), c.issue(t0));
    }

    #[test]
    fn no_qop_and_malformed_headers_are_refused() {
        let t0 = Instant::now();
        let mut b = book();
        let n = b.issue(t0);
        let ch = Challenge::parse(&format!("Digest realm=\"outdial\", nonce=\"{n}\"")).unwrap();
        let rfc2069 = authorization(&agent(), &ch, "INVITE", URI, "c");
        assert_eq!(
            b.check(t0, &rfc2069, &agent(), "outdial", "INVITE", URI),
            Verdict::Wrong
        );
        assert_eq!(
            b.check(
                t0,
                "Digest username=\"agent0001\"",
                &agent(),
                "outdial",
                "INVITE",
                URI
            ),
            Verdict::Malformed(AuthorizationError::Missing("realm"))
        );
    }

    #[test]
    fn a_right_digest_for_another_uri_is_refused_and_spends_nothing() {
        let t0 = Instant::now();
        let mut b = book();
        let n = b.issue(t0);
        let ch = Challenge::parse(&format!(
            "Digest realm=\"outdial\", nonce=\"{n}\", qop=\"auth\", algorithm=MD5"
        ))
        .unwrap();
        // The right password, hashed for another resource than the INVITE's Request-URI.
        let other = authorization_counted(
            &agent(),
            &ch,
            "INVITE",
            "sip:agent0002@127.0.0.1",
            "c0ffee",
            1,
        );
        assert_eq!(
            b.check(t0, &other, &agent(), "outdial", "INVITE", URI),
            Verdict::UriMismatch
        );
        let guess = Credentials {
            password: "guess".into(),
            ..agent()
        };
        let wrong_elsewhere = authorization_counted(
            &guess,
            &ch,
            "INVITE",
            "sip:agent0002@127.0.0.1",
            "c0ffee",
            1,
        );
        assert_eq!(
            b.check(t0, &wrong_elsewhere, &agent(), "outdial", "INVITE", URI),
            Verdict::Wrong,
            "a wrong password is wrong whatever its uri"
        );
        // Nothing spent: the nonce count 1 is still good for the right uri, and the same URI
        // written with another case of scheme and host matches.
        let h = answer(&agent(), &n, 1);
        assert_eq!(
            b.check(
                t0,
                &h,
                &agent(),
                "outdial",
                "INVITE",
                "SIP:agent0001@127.0.0.1"
            ),
            Verdict::Accepted
        );
    }

    #[test]
    fn uris_compare_as_sip_uris() {
        assert!(same_uri(
            "sip:a@Host.example;transport=UDP;lr",
            "SIP:a@host.example;lr;transport=udp"
        ));
        assert!(
            !same_uri("sip:A@host", "sip:a@host"),
            "user part is case-sensitive"
        );
        assert!(
            !same_uri("sip:a@host", "sip:a@host:5060"),
            "an absent port is not 5060"
        );
        assert!(!same_uri("sip:a@host", "sips:a@host"));
        assert!(!same_uri("sip:a@host;transport=tcp", "sip:a@host"));
        assert!(same_uri("tel:+8613800000000", "tel:+8613800000000"));
        assert!(!same_uri("tel:+8613800000000", "sip:+8613800000000@host"));
    }
}
