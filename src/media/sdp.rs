//! SDP offer/answer for audio — stand-in until the sdp branch merges: outdial's offer and a
//! minimal reading of a far end's `c=`/`m=audio` (PCMU, else PCMA; telephone-event). The sdp
//! branch replaces this file whole; the engine uses only `offer` and `negotiate_answer`, with
//! the sdp branch's signatures.
// stand-in until the sdp branch merges

use std::net::{IpAddr, SocketAddr};

use super::io::{Codec, RemoteMedia};

/// Why an SDP cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SdpError {
    /// No usable `c=` address.
    #[error("no connection address")]
    NoAddress,
    /// No `m=audio` line with a port.
    #[error("no audio stream")]
    NoAudio,
    /// Neither PCMU nor PCMA offered.
    #[error("no common codec")]
    NoCodec,
}

/// What was read from an SDP.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Parsed {
    addr: Option<IpAddr>,
    port: u16,
    pts: Vec<u8>,
    dtmf_pt: Option<u8>,
}

/// outdial's offer: PCMU 0, PCMA 8, telephone-event 101, ptime 20, sendrecv.
pub fn offer(addr: IpAddr, port: u16, session_id: u64, version: u64) -> String {
    let ip = if addr.is_ipv4() { "IP4" } else { "IP6" };
    format!(
        "v=0\r\no=outdial {session_id} {version} IN {ip} {addr}\r\ns=outdial\r\n\
         c=IN {ip} {addr}\r\nt=0 0\r\nm=audio {port} RTP/AVP 0 8 101\r\n\
         a=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\n\
         a=fmtp:101 0-15\r\na=ptime:20\r\na=sendrecv\r\n"
    )
}

/// Parses a far end's SDP and chooses from it: the media of an answer to outdial's offer (a
/// 183 or 2xx), or of an inbound offer.
pub fn negotiate_answer(sdp: &str) -> Result<RemoteMedia, SdpError> {
    choose(&parse(sdp)?)
}

/// Reads the connection address, the audio port and payload types.
fn parse(sdp: &str) -> Result<Parsed, SdpError> {
    let mut p = Parsed {
        addr: None,
        port: 0,
        pts: Vec::new(),
        dtmf_pt: None,
    };
    for line in sdp.lines().map(str::trim) {
        if let Some(c) = line.strip_prefix("c=") {
            p.addr = c.split_whitespace().nth(2).and_then(|a| a.parse().ok());
        } else if let Some(m) = line.strip_prefix("m=audio ") {
            let mut f = m.split_whitespace();
            p.port = f.next().and_then(|x| x.parse().ok()).unwrap_or(0);
            p.pts = f.skip(1).filter_map(|x| x.parse().ok()).collect();
        } else if let Some(r) = line.strip_prefix("a=rtpmap:") {
            if r.to_ascii_lowercase().contains("telephone-event") {
                p.dtmf_pt = r.split_whitespace().next().and_then(|x| x.parse().ok());
            }
        }
    }
    if p.port == 0 {
        return Err(SdpError::NoAudio);
    }
    Ok(p)
}

/// The far end's media: PCMU if offered, else PCMA.
fn choose(p: &Parsed) -> Result<RemoteMedia, SdpError> {
    let addr = p.addr.ok_or(SdpError::NoAddress)?;
    let (codec, pt) = if p.pts.contains(&0) {
        (Codec::Pcmu, 0)
    } else if p.pts.contains(&8) {
        (Codec::Pcma, 8)
    } else {
        return Err(SdpError::NoCodec);
    };
    Ok(RemoteMedia {
        addr: SocketAddr::new(addr, p.port),
        codec,
        pt,
        dtmf_pt: p.dtmf_pt,
        ptime_ms: 20,
    })
}
