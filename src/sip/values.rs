//! Validated values that may reach a SIP header: E.164 numbers, caller IDs, SIP URIs of agents and
//! trunks, and custom `X-` headers. Nothing from a lead is written into a message except through
//! these types, so CR/LF injection and stray characters are impossible by construction.

use std::fmt;
use std::net::{IpAddr, SocketAddr};

/// A value that cannot go into a SIP header.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    /// Not `+` followed by 3 to 15 digits.
    #[error("not an E.164 number (want '+' and 3 to 15 digits): {0:?}")]
    E164(String),
    /// A header name or value with characters outside the SIP token set (or empty, or too long).
    #[error("not a SIP token (letters, digits and -.!%*_+`'~ only, 1 to 128 chars): {0:?}")]
    Token(String),
    /// A SIP URI that is not `sip:[user@]IP[:port]`.
    #[error("not a SIP URI of the form sip:user@IP:port: {0:?}")]
    Uri(String),
    /// A display name with control characters, or empty, or longer than 64 characters.
    #[error("not a display name (1 to 64 printable characters, no control characters): {0:?}")]
    Display(String),
}

/// An E.164 number: `+` then 3 to 15 digits. The only part of a lead that reaches a header.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct E164(String);

impl E164 {
    /// Validates `s` (exactly `+` and digits; no spaces, no separators).
    pub fn new(s: &str) -> Result<Self, ValueError> {
        let digits = s
            .strip_prefix('+')
            .ok_or_else(|| ValueError::E164(s.into()))?;
        if (3..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) {
            Ok(E164(s.to_string()))
        } else {
            Err(ValueError::E164(s.into()))
        }
    }
    /// The number with its leading `+`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// The digits without `+`.
    pub fn digits(&self) -> &str {
        &self.0[1..]
    }
}

impl fmt::Display for E164 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// True for the RFC 3261 `token` characters.
pub fn is_token_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&b)
}

fn token(s: &str) -> Result<String, ValueError> {
    if !s.is_empty() && s.len() <= 128 && s.bytes().all(is_token_char) {
        Ok(s.to_string())
    } else {
        Err(ValueError::Token(s.into()))
    }
}

/// The user part of our From header: an E.164 number or a token such as `anonymous`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallerId(String);

impl CallerId {
    /// Validates a caller ID (SIP token characters only, `+` allowed).
    pub fn new(s: &str) -> Result<Self, ValueError> {
        token(s).map(CallerId)
    }
    /// The caller ID as written in the From URI.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A display name for a From header, written as an RFC 3261 `quoted-string`: `"` and `\` are
/// escaped, control characters (CR, LF, TAB, …) are refused, so a name taken from a lead cannot
/// end the header or add one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplayName(String);

impl DisplayName {
    /// Longest accepted name, in characters.
    pub const MAX_CHARS: usize = 64;

    /// Validates `s` (trimmed): 1 to [`Self::MAX_CHARS`] characters, none of them a control
    /// character.
    pub fn new(s: &str) -> Result<Self, ValueError> {
        let t = s.trim();
        let n = t.chars().count();
        if n == 0 || n > Self::MAX_CHARS || t.chars().any(char::is_control) {
            return Err(ValueError::Display(s.into()));
        }
        Ok(DisplayName(t.to_string()))
    }
    /// The name as given (unquoted).
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// The name as a `quoted-string`, quotes included: `"O\"Brien"`.
    pub fn quoted(&self) -> String {
        let mut out = String::with_capacity(self.0.len() + 2);
        out.push('"');
        for c in self.0.chars() {
            if c == '"' || c == '\\' {
                out.push('\\');
            }
            out.push(c);
        }
        out.push('"');
        out
    }
}

/// A `Call-Info` value pointing at an agent's screen pop on the admin API
/// (`<http://IP:port/agents/{id}/current>;purpose=info`). The agent id is percent-encoded, so
/// the URL stays inside its angle brackets whatever the id holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallInfo(String);

impl CallInfo {
    /// The screen pop of agent `agent_id` on the admin listener `admin`.
    pub fn screen_pop(admin: SocketAddr, agent_id: &str) -> Self {
        let mut id = String::with_capacity(agent_id.len());
        for b in agent_id.bytes() {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                id.push(b as char);
            } else {
                id.push_str(&format!("%{b:02X}"));
            }
        }
        CallInfo(format!("<http://{admin}/agents/{id}/current>;purpose=info"))
    }
    /// The header value.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A custom header such as `X-Outdial-Lead: 12345`; name and value are SIP tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtraHeader {
    name: String,
    value: String,
}

impl ExtraHeader {
    /// Validates both parts; the name must start with `X-` so it cannot shadow a SIP header.
    pub fn new(name: &str, value: &str) -> Result<Self, ValueError> {
        let name = token(name)?;
        if !(name.len() > 2 && name[..2].eq_ignore_ascii_case("x-")) {
            return Err(ValueError::Token(name));
        }
        Ok(ExtraHeader {
            name,
            value: token(value)?,
        })
    }
    /// `X-Outdial-Lead: <id>`.
    pub fn lead(id: &str) -> Result<Self, ValueError> {
        Self::new("X-Outdial-Lead", id)
    }
    /// `X-Outdial-Campaign: <name>`.
    pub fn campaign(name: &str) -> Result<Self, ValueError> {
        Self::new("X-Outdial-Campaign", name)
    }
    /// The header name.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// The header value.
    pub fn value(&self) -> &str {
        &self.value
    }
}

/// A SIP URI `sip:[user@]IP[:port]` whose host is a literal IP address (no DNS in the core).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SipUri {
    user: Option<String>,
    addr: SocketAddr,
}

impl SipUri {
    /// Parses `sip:user@127.0.0.1:5080` (port defaults to 5060; IPv6 as `[::1]:5080`).
    pub fn parse(s: &str) -> Result<Self, ValueError> {
        let err = || ValueError::Uri(s.into());
        let rest = s.strip_prefix("sip:").ok_or_else(err)?;
        let rest = rest.split(';').next().unwrap_or(rest);
        let (user, hostport) = match rest.rsplit_once('@') {
            Some((u, h)) => (Some(token(u).map_err(|_| err())?), h),
            None => (None, rest),
        };
        let addr = if let Ok(a) = hostport.parse::<SocketAddr>() {
            a
        } else if let Ok(ip) = hostport.trim_matches(['[', ']']).parse::<IpAddr>() {
            SocketAddr::new(ip, 5060)
        } else {
            return Err(err());
        };
        Ok(SipUri { user, addr })
    }
    /// A URI for `user` at `addr`.
    pub fn new(user: Option<&str>, addr: SocketAddr) -> Result<Self, ValueError> {
        Ok(SipUri {
            user: user.map(token).transpose()?,
            addr,
        })
    }
    /// The user part, if any.
    pub fn user(&self) -> Option<&str> {
        self.user.as_deref()
    }
    /// Where requests for this URI are sent.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl fmt::Display for SipUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.user {
            Some(u) => write!(f, "sip:{u}@{}", self.addr),
            None => write!(f, "sip:{}", self.addr),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn e164_accepts_plus_digits_only() {
        assert!(E164::new("+14155550100").is_ok());
        for bad in [
            "14155550100",
            "+1 415",
            "+1\r\nX: y",
            "+",
            "+12",
            "+1234567890123456",
        ] {
            assert!(E164::new(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn headers_reject_injection() {
        assert!(ExtraHeader::lead("L-42").is_ok());
        assert!(ExtraHeader::lead("42\r\nBYE").is_err());
        assert!(ExtraHeader::lead("a b").is_err());
        assert!(ExtraHeader::new("Via", "x").is_err());
        assert!(CallerId::new("anonymous").is_ok());
        assert!(CallerId::new("<sip:x>").is_err());
    }

    #[test]
    fn display_names_are_quoted_and_cannot_break_a_header() {
        let d = DisplayName::new(" Zoë \"Z\" O\\Brien ").unwrap();
        assert_eq!(d.quoted(), r#""Zoë \"Z\" O\\Brien""#);
        for bad in ["", "   ", "a\r\nVia: x", "tab\there", &"x".repeat(65)] {
            assert!(DisplayName::new(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn screen_pop_ids_are_percent_encoded() {
        let a: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        assert_eq!(
            CallInfo::screen_pop(a, "agent0001").as_str(),
            "<http://127.0.0.1:8080/agents/agent0001/current>;purpose=info"
        );
        assert_eq!(
            CallInfo::screen_pop(a, "a>b c").as_str(),
            "<http://127.0.0.1:8080/agents/a%3Eb%20c/current>;purpose=info"
        );
    }

    #[test]
    fn uri_parses_ip_and_port() {
        let u = SipUri::parse("sip:agent0001@127.0.0.1:5080").unwrap();
        assert_eq!(u.user(), Some("agent0001"));
        assert_eq!(u.addr().port(), 5080);
        assert_eq!(u.to_string(), "sip:agent0001@127.0.0.1:5080");
        assert_eq!(SipUri::parse("sip:10.0.0.1").unwrap().addr().port(), 5060);
        assert!(SipUri::parse("sip:a@example.com").is_err());
        assert!(SipUri::parse("http://x").is_err());
    }
}
