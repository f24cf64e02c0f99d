//! SDP offer/answer (RFC 4566, RFC 3264) for outdial's audio: the offer outdial puts in its
//! INVITEs, the answer it gives to an inbound offer, and the choice of codec, telephone-event
//! payload type, packetisation, RTP address and direction from what a far end sent.
//!
//! Parsing is webrtc-rs's `sdp` crate (a syntax layer that takes plain-telephony SDP as carriers
//! write it: LF or CRLF, session- or media-level `c=`, IPv6, unknown attributes); negotiation is
//! here. Writing is a fixed template: outdial's offer and answer have one shape, and the tests
//! parse them back with the same crate.
//!
//! Plain functions on strings and data: no socket, no clock, no SIP header. A typed
//! [`SdpError`] is what the SIP layer turns into 488 Not Acceptable Here.

use std::io::Cursor;
use std::net::{IpAddr, SocketAddr};

use super::io::{Codec, RemoteMedia};

/// The payload type outdial offers for RFC 4733 telephone-events.
pub const OUR_DTMF_PT: u8 = 101;

/// Packetisation when the SDP names none (RFC 3551's default for G.711 is 20 ms).
const DEFAULT_PTIME_MS: u32 = 20;

/// Why an SDP cannot be served: the SIP layer answers 488 (or ends the call) for each.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SdpError {
    /// Not SDP at all, or a line the grammar refuses.
    #[error("malformed SDP: {0}")]
    Syntax(String),
    /// No `m=audio` line.
    #[error("no audio stream in the SDP")]
    NoAudio,
    /// Every audio stream has port 0 (rejected by the far end).
    #[error("the audio stream is rejected (port 0)")]
    AudioRejected,
    /// Audio offered, but neither PCMU nor PCMA over plain RTP.
    #[error("no common codec (outdial speaks PCMU and PCMA over RTP/AVP); offered: {0}")]
    NoCommonCodec(String),
    /// The chosen stream has no usable `c=` address (missing, or not an IP address).
    #[error("no usable connection address for the audio stream")]
    NoAddress,
}

/// A stream's direction attribute (RFC 3264 §5.1); `sendrecv` when none is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Direction {
    /// Both ways.
    #[default]
    SendRecv,
    /// The SDP's author only sends.
    SendOnly,
    /// The SDP's author only receives.
    RecvOnly,
    /// Neither (hold).
    Inactive,
}

impl Direction {
    /// The attribute name as written in SDP.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }

    /// The direction an answer gives to an offered one (RFC 3264 §6.1).
    pub fn answered(self) -> Direction {
        match self {
            Direction::SendOnly => Direction::RecvOnly,
            Direction::RecvOnly => Direction::SendOnly,
            other => other,
        }
    }

    fn from_attr(key: &str) -> Option<Direction> {
        match key {
            "sendrecv" => Some(Direction::SendRecv),
            "sendonly" => Some(Direction::SendOnly),
            "recvonly" => Some(Direction::RecvOnly),
            "inactive" => Some(Direction::Inactive),
            _ => None,
        }
    }
}

/// One payload format of a stream: its type and, when known, its encoding name and clock rate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Format {
    /// The payload type as a number (formats that are not numbers are skipped).
    pub pt: u8,
    /// Encoding name from `a=rtpmap` (upper case), or the static one (RFC 3551) when absent.
    pub encoding: Option<String>,
    /// Clock rate from `a=rtpmap`, or the static one.
    pub clock: Option<u32>,
}

/// One `m=` line with what outdial needs from its attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stream {
    /// `audio`, `video`, `image` (T.38)...
    pub media: String,
    /// The port; 0 is a rejected stream.
    pub port: u16,
    /// The transport, e.g. `RTP/AVP`.
    pub proto: String,
    /// The format tokens exactly as written (kept to write a rejecting m-line back).
    pub raw_formats: Vec<String>,
    /// The numeric payload formats, in the SDP's order.
    pub formats: Vec<Format>,
    /// Connection address: the media-level `c=` if any, else the session-level one.
    pub addr: Option<IpAddr>,
    /// `a=ptime`, media level, else session level.
    pub ptime_ms: Option<u32>,
    /// Direction attribute, media level, else session level, else `sendrecv`.
    pub direction: Direction,
}

/// A parsed SDP: its streams in m-line order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    /// The `o=` line's session id and version.
    pub origin: (u64, u64),
    /// Every `m=` line, in order.
    pub streams: Vec<Stream>,
}

/// What outdial takes from a far end's SDP: which stream, and the media to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    /// Index of the chosen audio stream in [`Parsed::streams`].
    pub index: usize,
    /// Where to send and what.
    pub remote: RemoteMedia,
    /// The far end's direction for that stream.
    pub direction: Direction,
}

/// outdial's offer: PCMU, PCMA and telephone-event 101, 20 ms, send and receive, on
/// `addr:port`. `session_id` and `version` fill the `o=` line (bump `version` on each change).
pub fn offer(addr: IpAddr, port: u16, session_id: u64, version: u64) -> String {
    let ip = ip_kind(addr);
    format!(
        "v=0\r\n\
         o=outdial {session_id} {version} IN {ip} {addr}\r\n\
         s=outdial\r\n\
         c=IN {ip} {addr}\r\n\
         t=0 0\r\n\
         m=audio {port} RTP/AVP 0 8 {OUR_DTMF_PT}\r\n\
         a=rtpmap:0 PCMU/8000\r\n\
         a=rtpmap:8 PCMA/8000\r\n\
         a=rtpmap:{OUR_DTMF_PT} telephone-event/8000\r\n\
         a=fmtp:{OUR_DTMF_PT} 0-15\r\n\
         a=ptime:20\r\n\
         a=sendrecv\r\n"
    )
}

/// Parses an SDP body. Never panics, whatever the input.
pub fn parse(sdp: &str) -> Result<Parsed, SdpError> {
    let desc = sdp::SessionDescription::unmarshal(&mut Cursor::new(sdp.as_bytes()))
        .map_err(|e| SdpError::Syntax(e.to_string()))?;
    let session_addr = desc.connection_information.as_ref().and_then(connection_ip);
    let session_ptime = desc.attribute("ptime").and_then(|v| parse_ptime(v));
    let session_dir = desc
        .attributes
        .iter()
        .find_map(|a| Direction::from_attr(&a.key));
    let streams = desc
        .media_descriptions
        .iter()
        .map(|m| stream(m, session_addr, session_ptime, session_dir))
        .collect();
    Ok(Parsed {
        origin: (desc.origin.session_id, desc.origin.session_version),
        streams,
    })
}

fn stream(
    m: &sdp::MediaDescription,
    session_addr: Option<IpAddr>,
    session_ptime: Option<u32>,
    session_dir: Option<Direction>,
) -> Stream {
    let rtpmaps: Vec<(u8, String, Option<u32>)> = m
        .attributes
        .iter()
        .filter(|a| a.key == "rtpmap")
        .filter_map(|a| rtpmap(a.value.as_deref()?))
        .collect();
    let formats = m
        .media_name
        .formats
        .iter()
        .filter_map(|f| f.parse::<u8>().ok())
        .map(|pt| match rtpmaps.iter().find(|(p, _, _)| *p == pt) {
            Some((_, enc, clock)) => Format {
                pt,
                encoding: Some(enc.clone()),
                clock: *clock,
            },
            // RFC 3551 static types need no rtpmap; many carriers omit it for 0 and 8.
            None => Format {
                pt,
                encoding: static_encoding(pt).map(str::to_string),
                clock: static_encoding(pt).map(|_| 8000),
            },
        })
        .collect();
    Stream {
        media: m.media_name.media.clone(),
        port: u16::try_from(m.media_name.port.value).unwrap_or(0),
        proto: m.media_name.protos.join("/"),
        raw_formats: m.media_name.formats.clone(),
        formats,
        addr: m
            .connection_information
            .as_ref()
            .and_then(connection_ip)
            .or(session_addr),
        ptime_ms: m
            .attribute("ptime")
            .flatten()
            .and_then(parse_ptime)
            .or(session_ptime),
        direction: m
            .attributes
            .iter()
            .find_map(|a| Direction::from_attr(&a.key))
            .or(session_dir)
            .unwrap_or_default(),
    }
}

/// `0 PCMU/8000` → (0, "PCMU", Some(8000)).
fn rtpmap(value: &str) -> Option<(u8, String, Option<u32>)> {
    let (pt, rest) = value.trim().split_once(' ')?;
    let pt = pt.parse().ok()?;
    let mut parts = rest.trim().split('/');
    let enc = parts.next()?.to_ascii_uppercase();
    let clock = parts.next().and_then(|c| c.parse().ok());
    Some((pt, enc, clock))
}

fn static_encoding(pt: u8) -> Option<&'static str> {
    match pt {
        0 => Some("PCMU"),
        8 => Some("PCMA"),
        _ => None,
    }
}

/// A usable packetisation: whole ms from 10 to 120 (beyond that is a typo or an attack).
fn parse_ptime(v: &str) -> Option<u32> {
    let ms = v.trim().parse::<f64>().ok()?;
    (10.0..=120.0).contains(&ms).then_some(ms.round() as u32)
}

fn connection_ip(c: &sdp::description::common::ConnectionInformation) -> Option<IpAddr> {
    // The crate keeps `addr/ttl` split; a hostname (allowed by RFC 4566) is not resolved here.
    let ip: IpAddr = c.address.as_ref()?.address.trim().parse().ok()?;
    let matches = matches!(
        (c.address_type.as_str(), ip),
        ("IP4", IpAddr::V4(_)) | ("IP6", IpAddr::V6(_))
    );
    matches.then_some(ip)
}

fn ip_kind(addr: IpAddr) -> &'static str {
    match addr {
        IpAddr::V4(_) => "IP4",
        IpAddr::V6(_) => "IP6",
    }
}

/// Plain RTP outdial can relay: no SRTP, no DTLS.
fn plain_rtp(proto: &str) -> bool {
    proto.eq_ignore_ascii_case("RTP/AVP") || proto.eq_ignore_ascii_case("RTP/AVPF")
}

/// Picks the media outdial uses from a far end's SDP (its answer to our offer, or its offer):
/// the first audio stream that is not rejected, PCMU if offered else PCMA, its telephone-event
/// payload type, its ptime (20 by default), its address and direction.
pub fn choose(p: &Parsed) -> Result<Choice, SdpError> {
    let audio: Vec<(usize, &Stream)> = p
        .streams
        .iter()
        .enumerate()
        .filter(|(_, s)| s.media.eq_ignore_ascii_case("audio"))
        .collect();
    if audio.is_empty() {
        return Err(SdpError::NoAudio);
    }
    let live: Vec<&(usize, &Stream)> = audio.iter().filter(|(_, s)| s.port != 0).collect();
    if live.is_empty() {
        return Err(SdpError::AudioRejected);
    }
    for (index, s) in live.iter().copied() {
        if !plain_rtp(&s.proto) {
            continue;
        }
        let Some((codec, pt)) = pick_codec(&s.formats) else {
            continue;
        };
        let ip = s.addr.ok_or(SdpError::NoAddress)?;
        return Ok(Choice {
            index: *index,
            remote: RemoteMedia {
                addr: SocketAddr::new(ip, s.port),
                codec,
                pt,
                dtmf_pt: dtmf_pt(&s.formats),
                ptime_ms: s.ptime_ms.unwrap_or(DEFAULT_PTIME_MS),
            },
            direction: s.direction,
        });
    }
    let offered: Vec<String> = live
        .iter()
        .flat_map(|(_, s)| {
            s.formats.iter().map(|f| match &f.encoding {
                Some(e) => format!("{e}/{}", f.pt),
                None => f.pt.to_string(),
            })
        })
        .collect();
    Err(SdpError::NoCommonCodec(offered.join(" ")))
}

/// Parses a far end's SDP and chooses from it: the media of an answer to outdial's offer (a
/// 183 or 2xx), or of an inbound offer.
pub fn negotiate_answer(sdp: &str) -> Result<RemoteMedia, SdpError> {
    choose(&parse(sdp)?).map(|c| c.remote)
}

fn is(f: &Format, name: &str) -> bool {
    f.encoding
        .as_deref()
        .is_some_and(|e| e.eq_ignore_ascii_case(name))
        && f.clock.unwrap_or(8000) == 8000
}

fn pick_codec(formats: &[Format]) -> Option<(Codec, u8)> {
    // PCMU first: the codec of the mainland and North American networks, and the one
    // recordings are kept in, so choosing it spares a transcode.
    [("PCMU", Codec::Pcmu), ("PCMA", Codec::Pcma)]
        .iter()
        .find_map(|(name, codec)| formats.iter().find(|f| is(f, name)).map(|f| (*codec, f.pt)))
}

fn dtmf_pt(formats: &[Format]) -> Option<u8> {
    formats
        .iter()
        .find(|f| is(f, "TELEPHONE-EVENT"))
        .map(|f| f.pt)
}

/// outdial's answer to an inbound offer: the m-lines in the offer's order, the chosen audio
/// stream answered on `addr:port` with the chosen codec (and telephone-event if offered) and
/// the mirrored direction, every other stream rejected with port 0 (RFC 3264 §6).
pub fn answer(
    offer: &Parsed,
    addr: IpAddr,
    port: u16,
    session_id: u64,
    version: u64,
) -> Result<String, SdpError> {
    let chosen = choose(offer)?;
    let ip = ip_kind(addr);
    let mut out = format!(
        "v=0\r\no=outdial {session_id} {version} IN {ip} {addr}\r\ns=outdial\r\n\
         c=IN {ip} {addr}\r\nt=0 0\r\n"
    );
    for (i, s) in offer.streams.iter().enumerate() {
        if i != chosen.index {
            out.push_str(&format!(
                "m={} 0 {} {}\r\n",
                s.media,
                s.proto,
                s.raw_formats.join(" ")
            ));
            continue;
        }
        let r = &chosen.remote;
        let name = match r.codec {
            Codec::Pcmu => "PCMU",
            Codec::Pcma => "PCMA",
        };
        let mut pts = r.pt.to_string();
        if let Some(d) = r.dtmf_pt {
            pts.push_str(&format!(" {d}"));
        }
        out.push_str(&format!(
            "m=audio {port} {} {pts}\r\na=rtpmap:{} {name}/8000\r\n",
            s.proto, r.pt
        ));
        if let Some(d) = r.dtmf_pt {
            out.push_str(&format!(
                "a=rtpmap:{d} telephone-event/8000\r\na=fmtp:{d} 0-15\r\n"
            ));
        }
        out.push_str(&format!(
            "a=ptime:{}\r\na={}\r\n",
            r.ptime_ms,
            chosen.direction.answered().as_str()
        ));
    }
    Ok(out)
}

#[cfg(test)]
#[path = "sdp_test.rs"]
mod tests;
