//! The wire format: compact-header normalisation, parsing with rsip into the few fields the
//! transaction and dialog layers need ([`Msg`]), stream framing by Content-Length, and a fast
//! writer for the messages we send. Owns no state; never panics on input.

use std::borrow::Cow;
use std::fmt::Write as _;

use rsip::headers::UntypedHeader;
use rsip::{Header, SipMessage};

/// Why a datagram or stream frame was dropped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// rsip rejected the message syntax.
    #[error("malformed sip message: {0}")]
    Syntax(String),
    /// A mandatory header (Via, From, To, Call-ID, CSeq) is missing or unreadable.
    #[error("missing or bad {0} header")]
    Missing(&'static str),
}

/// Request method or response status of a [`Msg`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Start {
    /// A request: method and Request-URI.
    Request {
        /// The method.
        method: rsip::Method,
        /// The Request-URI as written.
        uri: String,
    },
    /// A request whose method outdial does not know (RFC 3261 §7.1: method names are
    /// case-sensitive, so `invite` is one of these, not an INVITE). Answered 405 or 403, never
    /// taken for a method it resembles.
    Extension {
        /// The method as written.
        method: String,
        /// The Request-URI as written.
        uri: String,
    },
    /// A response: status code.
    Response {
        /// The status code (100..=699).
        code: u16,
    },
}

/// A parsed SIP message reduced to what outdial uses. Header values are kept verbatim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Msg {
    /// Request line or status line.
    pub start: Start,
    /// Every Via value, top first (comma-separated lines split).
    pub vias: Vec<String>,
    /// The `branch` parameter of the top Via.
    pub branch: String,
    /// Full From value.
    pub from: String,
    /// `tag` of From.
    pub from_tag: Option<String>,
    /// Full To value.
    pub to: String,
    /// `tag` of To.
    pub to_tag: Option<String>,
    /// Call-ID.
    pub call_id: String,
    /// CSeq number.
    pub cseq: u32,
    /// CSeq method (matched case-sensitively). For a [`Start::Extension`] request, whose CSeq
    /// method must equal its start line's, a stand-in `OPTIONS`: rsip names no other methods.
    pub cseq_method: rsip::Method,
    /// URI of the first Contact, without angle brackets.
    pub contact: Option<String>,
    /// Record-Route values, in message order.
    pub record_route: Vec<String>,
    /// Other headers outdial reads (name as received, value), e.g. WWW-Authenticate, X-*.
    pub other: Vec<(String, String)>,
    /// Body (SDP), empty when none.
    pub body: Vec<u8>,
}

impl Msg {
    /// The first header named `name` (case-insensitive) among [`Msg::other`].
    pub fn header(&self, name: &str) -> Option<&str> {
        self.other
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    /// The method of a request.
    pub fn method(&self) -> Option<rsip::Method> {
        match &self.start {
            Start::Request { method, .. } => Some(*method),
            Start::Extension { .. } | Start::Response { .. } => None,
        }
    }
    /// The status code of a response.
    pub fn code(&self) -> Option<u16> {
        match &self.start {
            Start::Response { code } => Some(*code),
            Start::Request { .. } | Start::Extension { .. } => None,
        }
    }
    /// The body as text, if any.
    pub fn body_str(&self) -> Option<String> {
        (!self.body.is_empty()).then(|| String::from_utf8_lossy(&self.body).into_owned())
    }
}

/// RFC 3261 §7.3.3 compact forms and the full names they stand for.
const COMPACT: &[(u8, &str)] = &[
    (b'v', "Via"),
    (b'f', "From"),
    (b't', "To"),
    (b'i', "Call-ID"),
    (b'm', "Contact"),
    (b'l', "Content-Length"),
    (b'c', "Content-Type"),
    (b'k', "Supported"),
    (b's', "Subject"),
    (b'e', "Content-Encoding"),
    (b'o', "Event"),
    (b'r', "Refer-To"),
    (b'b', "Referred-By"),
    (b'u', "Allow-Events"),
];

fn compact_name(line: &[u8]) -> Option<(&'static str, usize)> {
    let first = line.first()?.to_ascii_lowercase();
    let rest = &line[1..];
    let spaces = rest
        .iter()
        .take_while(|b| **b == b' ' || **b == b'\t')
        .count();
    if rest.get(spaces) != Some(&b':') {
        return None;
    }
    COMPACT
        .iter()
        .find(|(c, _)| *c == first)
        .map(|(_, full)| (*full, 1 + spaces))
}

/// Rewrites compact header names (`v:`, `f:`, `i:` …) to their full names in the header section,
/// leaving the body untouched. Borrows when there is nothing to rewrite (the common case).
pub fn normalize(raw: &[u8]) -> Cow<'_, [u8]> {
    let head_end = find(raw, b"\r\n\r\n").map(|p| p + 2).unwrap_or(raw.len());
    let head = &raw[..head_end];
    let needs = head
        .split(|b| *b == b'\n')
        .skip(1)
        .any(|l| compact_name(l).is_some());
    if !needs {
        return Cow::Borrowed(raw);
    }
    let mut out = Vec::with_capacity(raw.len() + 64);
    for (i, line) in head.split_inclusive(|b| *b == b'\n').enumerate() {
        match compact_name(line).filter(|_| i > 0) {
            Some((full, skip)) => {
                out.extend_from_slice(full.as_bytes());
                out.extend_from_slice(&line[skip..]);
            }
            None => out.extend_from_slice(line),
        }
    }
    out.extend_from_slice(&raw[head_end..]);
    Cow::Owned(out)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The value of parameter `name` in a header value (`...;tag=abc;x=y`), outside angle brackets.
pub fn param<'a>(value: &'a str, name: &str) -> Option<&'a str> {
    let after = match value.rfind('>') {
        Some(p) => &value[p..],
        None => value,
    };
    after.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=').unwrap_or((p, ""));
        k.trim()
            .eq_ignore_ascii_case(name)
            .then(|| v.trim().trim_end_matches(',').trim())
    })
}

/// The URI inside `<…>` of a name-addr, or the bare value up to the first `;`.
pub fn uri_of(value: &str) -> &str {
    match (value.find('<'), value.find('>')) {
        (Some(a), Some(b)) if a < b => &value[a + 1..b],
        _ => value.split(';').next().unwrap_or(value).trim(),
    }
}

/// The host part and parameters of a `sip:`/`sips:` URI: what follows the last `@` (or the
/// scheme), without `?headers`. `None` for other schemes (`tel:`).
fn uri_host_params(uri: &str) -> Option<(&str, bool)> {
    let (rest, secure) = match uri.get(..5) {
        Some(p) if p.eq_ignore_ascii_case("sips:") => (&uri[5..], true),
        _ => match uri.get(..4) {
            Some(p) if p.eq_ignore_ascii_case("sip:") => (&uri[4..], false),
            _ => return None,
        },
    };
    let rest = rest.split('?').next().unwrap_or(rest);
    let host = rest.rsplit_once('@').map(|(_, h)| h).unwrap_or(rest);
    Some((host, secure))
}

/// The address a request for `uri` goes to when its host is a literal IP: `sip:u@IP[:port]`
/// (port 5060, or 5061 for `sips:`). `None` for host names (the core does no DNS) and for
/// non-SIP URIs.
pub fn uri_addr(uri: &str) -> Option<std::net::SocketAddr> {
    let (host, secure) = uri_host_params(uri)?;
    let hostport = host.split(';').next().unwrap_or(host).trim();
    if let Ok(a) = hostport.parse() {
        return Some(a);
    }
    let ip: std::net::IpAddr = hostport.trim_matches(['[', ']']).parse().ok()?;
    Some(std::net::SocketAddr::new(
        ip,
        if secure { 5061 } else { 5060 },
    ))
}

/// True when SIP URI `uri` carries the parameter `name` (e.g. `lr` of a loose router).
pub fn uri_has_param(uri: &str, name: &str) -> bool {
    uri_host_params(uri)
        .map(|(h, _)| {
            h.split(';').skip(1).any(|p| {
                p.split('=')
                    .next()
                    .unwrap_or(p)
                    .trim()
                    .eq_ignore_ascii_case(name)
            })
        })
        .unwrap_or(false)
}

/// The method named exactly `tok` (RFC 3261 §7.1: case-sensitive), if rsip knows it.
fn known_method(tok: &[u8]) -> Option<rsip::Method> {
    let m = std::str::from_utf8(tok)
        .ok()?
        .parse::<rsip::Method>()
        .ok()?;
    (m.to_string().as_bytes() == tok).then_some(m)
}

/// RFC 3261 §25.1 `token` characters (a method name is a token).
fn is_token_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&b)
}

/// Splits a header value on commas that are outside `<>` and quotes.
fn split_commas(value: &str) -> impl Iterator<Item = &str> {
    let mut parts = Vec::new();
    let (mut depth, mut quoted, mut start) = (0i32, false, 0usize);
    for (i, c) in value.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '<' if !quoted => depth += 1,
            '>' if !quoted => depth -= 1,
            ',' if !quoted && depth == 0 => {
                parts.push(value[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(value[start..].trim());
    parts.into_iter().filter(|p| !p.is_empty())
}

/// Parses one SIP message (a UDP datagram or a framed stream message).
pub fn parse(raw: &[u8]) -> Result<Msg, ParseError> {
    let norm = normalize(raw);
    // rsip matches method names regardless of case; RFC 3261 §7.1 says they are case-sensitive.
    // A request whose method is not exactly one rsip knows is parsed as an OPTIONS (for its
    // headers) and reported as an extension method.
    let line = norm.split(|b| *b == b'\n').next().unwrap_or_default();
    let tok = line.split(|b| *b == b' ').next().unwrap_or_default();
    let extension = if tok.starts_with(b"SIP/") || known_method(tok).is_some() {
        None
    } else if !tok.is_empty() && tok.iter().all(|&b| is_token_char(b)) {
        Some(String::from_utf8_lossy(tok).into_owned())
    } else {
        return Err(ParseError::Syntax("bad request method".into()));
    };
    let stand_in;
    let text: &[u8] = match &extension {
        Some(m) => {
            let mut v = b"OPTIONS".to_vec();
            v.extend_from_slice(&norm[m.len()..]);
            stand_in = v;
            &stand_in
        }
        None => norm.as_ref(),
    };
    let sip = SipMessage::try_from(text).map_err(|e| ParseError::Syntax(e.to_string()))?;
    let (start, headers, body) = match sip {
        SipMessage::Request(r) => (
            match extension.clone() {
                Some(method) => Start::Extension {
                    method,
                    uri: r.uri.to_string(),
                },
                None => Start::Request {
                    method: r.method,
                    uri: r.uri.to_string(),
                },
            },
            r.headers,
            r.body,
        ),
        SipMessage::Response(r) => {
            let code = r.status_code.code();
            if !(100..=699).contains(&code) {
                return Err(ParseError::Syntax(format!("status code {code}")));
            }
            (Start::Response { code }, r.headers, r.body)
        }
    };
    let mut vias = Vec::new();
    let (mut from, mut to, mut call_id, mut cseq, mut contact) = (None, None, None, None, None);
    let mut record_route = Vec::new();
    let mut other = Vec::new();
    for h in headers {
        match h {
            Header::Via(v) => vias.extend(split_commas(v.value()).map(str::to_string)),
            Header::From(v) => from = Some(v.value().to_string()),
            Header::To(v) => to = Some(v.value().to_string()),
            Header::CallId(v) => call_id = Some(v.value().trim().to_string()),
            Header::CSeq(v) => cseq = Some(v.value().to_string()),
            Header::Contact(v) if contact.is_none() => {
                contact = split_commas(v.value())
                    .next()
                    .map(|c| uri_of(c).to_string())
            }
            Header::RecordRoute(v) => {
                record_route.extend(split_commas(v.value()).map(str::to_string))
            }
            Header::WwwAuthenticate(v) => other.push(("WWW-Authenticate".into(), v.to_string())),
            Header::ProxyAuthenticate(v) => {
                other.push(("Proxy-Authenticate".into(), v.value().to_string()))
            }
            Header::Authorization(v) => other.push(("Authorization".into(), v.value().to_string())),
            Header::ProxyAuthorization(v) => {
                other.push(("Proxy-Authorization".into(), v.value().to_string()))
            }
            Header::Other(k, v) => other.push((k, v)),
            _ => {}
        }
    }
    // rsip's WwwAuthenticate Display includes the name; keep only the value.
    for (k, v) in other.iter_mut() {
        if k == "WWW-Authenticate" {
            if let Some((_, val)) = v.split_once(':') {
                *v = val.trim().to_string();
            }
        }
    }
    let branch = vias
        .first()
        .and_then(|v| param(v, "branch"))
        .ok_or(ParseError::Missing("Via"))?
        .to_string();
    let from = from.ok_or(ParseError::Missing("From"))?;
    let to = to.ok_or(ParseError::Missing("To"))?;
    let call_id = call_id
        .filter(|c| !c.is_empty())
        .ok_or(ParseError::Missing("Call-ID"))?;
    let cseq = cseq.ok_or(ParseError::Missing("CSeq"))?;
    let mut it = cseq.split_whitespace();
    let num = it.next().and_then(|n| n.parse::<u32>().ok());
    let meth = it.next().and_then(|m| match &extension {
        Some(e) => (m == e).then_some(rsip::Method::Options),
        None => known_method(m.as_bytes()),
    });
    let (Some(cseq), Some(cseq_method)) = (num, meth) else {
        return Err(ParseError::Missing("CSeq"));
    };
    Ok(Msg {
        start,
        from_tag: param(&from, "tag").map(str::to_string),
        to_tag: param(&to, "tag").map(str::to_string),
        vias,
        branch,
        from,
        to,
        call_id,
        cseq,
        cseq_method,
        contact,
        record_route,
        other,
        body,
    })
}

/// Length of the first complete message in a stream buffer (headers + Content-Length body), or
/// `None` when more bytes are needed. Leading CRLF keep-alives count as a zero-body message of
/// their own length. `Err` when the header section has no usable Content-Length (RFC 3261 §18.3
/// makes it mandatory on streams) or exceeds 64 KiB.
pub fn frame_len(buf: &[u8]) -> Result<Option<usize>, ParseError> {
    let ws = buf
        .iter()
        .take_while(|b| **b == b'\r' || **b == b'\n')
        .count();
    if ws > 0 {
        return Ok(Some(ws));
    }
    let Some(end) = find(buf, b"\r\n\r\n") else {
        if buf.len() > 65536 {
            return Err(ParseError::Syntax("header section too long".into()));
        }
        return Ok(None);
    };
    let head = std::str::from_utf8(&buf[..end]).map_err(|_| ParseError::Syntax("utf-8".into()))?;
    let len = head
        .split("\r\n")
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            let k = k.trim();
            (k.eq_ignore_ascii_case("content-length") || k.eq_ignore_ascii_case("l"))
                .then(|| v.trim().parse::<usize>().ok())
                .flatten()
        })
        .ok_or(ParseError::Missing("Content-Length"))?;
    if len > 65536 {
        return Err(ParseError::Syntax("body too long".into()));
    }
    let total = end + 4 + len;
    Ok((buf.len() >= total).then_some(total))
}

/// Reason phrase for the status codes outdial sends or reports.
pub fn reason(code: u16) -> &'static str {
    match code {
        100 => "Trying",
        180 => "Ringing",
        183 => "Session Progress",
        200 => "OK",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        480 => "Temporarily Unavailable",
        481 => "Call/Transaction Does Not Exist",
        484 => "Address Incomplete",
        486 => "Busy Here",
        487 => "Request Terminated",
        488 => "Not Acceptable Here",
        500 => "Server Internal Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Server Time-out",
        600 => "Busy Everywhere",
        603 => "Decline",
        604 => "Does Not Exist Anywhere",
        _ => "Unknown",
    }
}

/// A message being written: start line, headers, then [`Builder::finish`] adds Content-Length
/// and the body. Writing to a `String` cannot fail, so the `write!` results are ignored.
pub struct Builder {
    buf: String,
}

impl Builder {
    /// Starts a request.
    pub fn request(method: rsip::Method, uri: &str) -> Self {
        let mut buf = String::with_capacity(640);
        let _ = write!(buf, "{method} {uri} SIP/2.0\r\n");
        Builder { buf }
    }
    /// Starts a response.
    pub fn response(code: u16) -> Self {
        let mut buf = String::with_capacity(640);
        let _ = write!(buf, "SIP/2.0 {code} {}\r\n", reason(code));
        Builder { buf }
    }
    /// Adds `name: value`. Callers pass only validated or self-generated values.
    pub fn header(mut self, name: &str, value: impl std::fmt::Display) -> Self {
        let _ = write!(self.buf, "{name}: {value}\r\n");
        self
    }
    /// Adds a header only when `value` is `Some`.
    pub fn header_opt(self, name: &str, value: Option<impl std::fmt::Display>) -> Self {
        match value {
            Some(v) => self.header(name, v),
            None => self,
        }
    }
    /// Finishes with an SDP body (or none) and returns the bytes.
    pub fn finish(mut self, sdp: Option<&str>) -> Vec<u8> {
        match sdp {
            Some(b) => {
                let _ = write!(
                    self.buf,
                    "Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{b}",
                    b.len()
                );
            }
            None => self.buf.push_str("Content-Length: 0\r\n\r\n"),
        }
        self.buf.into_bytes()
    }
}

/// Starts a response to `req`, copying Via, From, To (adding `to_tag` when To has none), Call-ID
/// and CSeq as RFC 3261 §8.2.6.2 requires.
pub fn response_to(req: &Msg, code: u16, to_tag: Option<&str>) -> Builder {
    let mut b = Builder::response(code);
    for v in &req.vias {
        b = b.header("Via", v);
    }
    b = b.header("From", &req.from);
    b = match (&req.to_tag, to_tag) {
        (None, Some(t)) => b.header("To", format_args!("{};tag={t}", req.to)),
        _ => b.header("To", &req.to),
    };
    b.header("Call-ID", &req.call_id)
        .header("CSeq", format_args!("{} {}", req.cseq, cseq_method(req)))
}

/// The CSeq method to echo: an extension request's own, else the parsed one.
fn cseq_method(req: &Msg) -> Cow<'_, str> {
    match &req.start {
        Start::Extension { method, .. } => Cow::Borrowed(method),
        _ => Cow::Owned(req.cseq_method.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INVITE: &str = "INVITE sip:+14155550100@127.0.0.1:5060 SIP/2.0\r\n\
v: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-1\r\n\
f: <sip:a@127.0.0.1>;tag=x1\r\n\
t: <sip:+14155550100@127.0.0.1>\r\n\
i: abc@host\r\n\
CSeq: 1 INVITE\r\n\
m: <sip:a@127.0.0.1:5070>\r\n\
c: application/sdp\r\n\
l: 4\r\n\r\nv=0\n";

    #[test]
    fn compact_headers_are_normalised() {
        let m = parse(INVITE.as_bytes()).unwrap();
        assert_eq!(m.method(), Some(rsip::Method::Invite));
        assert_eq!(m.branch, "z9hG4bK-1");
        assert_eq!(m.from_tag.as_deref(), Some("x1"));
        assert_eq!(m.to_tag, None);
        assert_eq!(m.call_id, "abc@host");
        assert_eq!(m.contact.as_deref(), Some("sip:a@127.0.0.1:5070"));
        assert_eq!(m.body, b"v=0\n");
    }

    #[test]
    fn response_round_trips_through_rsip() {
        let req = parse(INVITE.as_bytes()).unwrap();
        let bytes = response_to(&req, 486, Some("srv"))
            .header("Contact", "<sip:b@127.0.0.1>")
            .finish(None);
        let m = parse(&bytes).unwrap();
        assert_eq!(m.code(), Some(486));
        assert_eq!(m.to_tag.as_deref(), Some("srv"));
        assert_eq!(m.cseq_method, rsip::Method::Invite);
    }

    #[test]
    fn framing_uses_content_length() {
        let two = format!("{INVITE}{INVITE}");
        let n = frame_len(two.as_bytes()).unwrap().unwrap();
        assert_eq!(n, INVITE.len());
        assert_eq!(frame_len(&two.as_bytes()[..10]).unwrap(), None);
        assert_eq!(frame_len(b"\r\n\r\nINV").unwrap(), Some(4));
    }

    #[test]
    fn params_and_uris() {
        assert_eq!(param("<sip:a@b;lr>;tag=9", "tag"), Some("9"));
        assert_eq!(param("<sip:a@b;tag=no>", "tag"), None);
        assert_eq!(uri_of("\"A\" <sip:a@b>;tag=1"), "sip:a@b");
    }

    #[test]
    fn uri_addresses_and_loose_routing_params() {
        let a = |s: &str| uri_addr(s).map(|a| a.to_string());
        assert_eq!(
            a("sip:127.0.0.1:5070;lr").as_deref(),
            Some("127.0.0.1:5070")
        );
        assert_eq!(
            a("sip:u;x=1@127.0.0.2;lr?h=v").as_deref(),
            Some("127.0.0.2:5060")
        );
        assert_eq!(a("sips:[::1]").as_deref(), Some("[::1]:5061"));
        assert_eq!(a("sip:proxy.example.com;lr"), None);
        assert_eq!(a("tel:+14155550100"), None);
        assert!(uri_has_param("sip:127.0.0.1:5070;lr;ftag=x", "lr"));
        assert!(uri_has_param("sip:127.0.0.1;lr=on", "lr"));
        assert!(!uri_has_param("sip:lr@127.0.0.1;ftag=lr", "lr"));
    }
}
