//! What the synthetic peers say about media, as plain data: where an SDP offer wants audio and
//! in which codec, the SDP they answer (or offer) with their own RTP port, and the RTP packets
//! of their voice. Pure: the sockets are [`super::stream`]'s.
//!
//! The SDP reading here is a deliberately tiny private parse (`c=` and the first `m=audio`)
//! standing in until `crate::media::sdp` exists; it serves the synthetic peers only.

use std::net::{IpAddr, SocketAddr};

use crate::media::io::Codec;

use super::voice::{Talker, Voice, FRAME};

/// The audio an SDP offer asks for: where to send RTP and which G.711 law.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Offered {
    /// The `c=` address (media level over session level) and the `m=audio` port.
    pub addr: SocketAddr,
    /// The first of PCMU (0) and PCMA (8) in the m-line's format list.
    pub codec: Codec,
}

/// Reads the audio of an SDP offer: `None` when it has no usable `m=audio` (port 0, no `c=`,
/// neither PCMU nor PCMA). Private stand-in for `crate::media::sdp` (see the module doc).
pub fn parse_offer(sdp: &str) -> Option<Offered> {
    let mut session_ip: Option<IpAddr> = None;
    let mut media_ip: Option<IpAddr> = None;
    let mut audio: Option<(u16, Codec)> = None;
    // Which part of the SDP a line is in: the session, the first audio stream, or elsewhere.
    let mut seen_m = false;
    let mut in_audio = false;
    for line in sdp.lines().map(str::trim) {
        if let Some(m) = line.strip_prefix("m=") {
            if audio.is_some() {
                break; // only the first audio stream matters
            }
            seen_m = true;
            let mut f = m.split_whitespace();
            in_audio = f.next() == Some("audio");
            if in_audio {
                let port: u16 = f.next()?.split('/').next()?.parse().ok()?;
                let _proto = f.next()?;
                let codec = f.find_map(|pt| match pt {
                    "0" => Some(Codec::Pcmu),
                    "8" => Some(Codec::Pcma),
                    _ => None,
                })?;
                if port == 0 {
                    return None;
                }
                audio = Some((port, codec));
            }
        } else if let Some(c) = line.strip_prefix("c=") {
            // c=IN IP4 192.0.2.1 (a multicast TTL suffix is cut at '/').
            let ip = c
                .split_whitespace()
                .nth(2)
                .and_then(|a| a.split('/').next())
                .and_then(|a| a.parse().ok());
            if !seen_m {
                session_ip = ip;
            } else if in_audio {
                media_ip = ip;
            }
        }
    }
    let (port, codec) = audio?;
    let ip = media_ip.or(session_ip)?;
    Some(Offered {
        addr: SocketAddr::new(ip, port),
        codec,
    })
}

/// The SDP of a synthetic peer whose RTP socket is `ip:port`: an answer in `codec` when it
/// answers an offer, or (flow I: no offer) an offer of PCMU and PCMA.
pub fn sdp(user: &str, ip: IpAddr, port: u16, codec: Option<Codec>) -> String {
    let v = if ip.is_ipv4() { "IP4" } else { "IP6" };
    let formats = match codec {
        Some(Codec::Pcmu) => "0\r\na=rtpmap:0 PCMU/8000",
        Some(Codec::Pcma) => "8\r\na=rtpmap:8 PCMA/8000",
        None => "0 8\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000",
    };
    format!(
        "v=0\r\no={user} 1 1 IN {v} {ip}\r\ns=-\r\nc=IN {v} {ip}\r\nt=0 0\r\n\
         m=audio {port} RTP/AVP {formats}\r\na=ptime:20\r\na=sendrecv\r\n"
    )
}

/// The payload type of a G.711 law.
pub fn payload_type(codec: Codec) -> u8 {
    match codec {
        Codec::Pcmu => 0,
        Codec::Pcma => 8,
    }
}

/// Whether `p` looks like an RTP packet (version 2, a whole header): what the peers count.
pub fn is_rtp(p: &[u8]) -> bool {
    p.len() >= 12 && p[0] >> 6 == 2 && p.len() >= 12 + 4 * usize::from(p[0] & 0x0F)
}

/// A voice as RTP: one 20 ms G.711 packet per call of [`RtpVoice::next_packet`], sequence +1
/// and timestamp +160 each, the marker bit at each talk spurt's start (RFC 3550 §5.1, RFC 3551).
#[derive(Debug, Clone)]
pub struct RtpVoice {
    talker: Talker,
    codec: Codec,
    ssrc: u32,
    seq: u16,
    ts: u32,
    pcm: [i16; FRAME],
}

impl RtpVoice {
    /// `voice` in `codec`; SSRC and the initial sequence and timestamp derive from `seed`.
    pub fn new(voice: Voice, codec: Codec, seed: u64) -> Self {
        // Header fields from the seed's bits: distinct per call, fixed per seed.
        let mix = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        RtpVoice {
            talker: Talker::new(voice, seed),
            codec,
            ssrc: (mix >> 32) as u32,
            seq: (mix >> 16) as u16,
            ts: mix as u32 & 0xFFFF,
            pcm: [0; FRAME],
        }
    }

    /// The next packet (12-byte header, 160 bytes of G.711).
    pub fn next_packet(&mut self) -> Vec<u8> {
        let marker = self.talker.frame(&mut self.pcm);
        let mut p = Vec::with_capacity(12 + FRAME);
        p.push(0x80); // version 2, no padding, no extension, no CSRC
        p.push(payload_type(self.codec) | if marker { 0x80 } else { 0 });
        p.extend_from_slice(&self.seq.to_be_bytes());
        p.extend_from_slice(&self.ts.to_be_bytes());
        p.extend_from_slice(&self.ssrc.to_be_bytes());
        crate::media::g711::encode(self.codec, &self.pcm, &mut p);
        self.seq = self.seq.wrapping_add(1);
        self.ts = self.ts.wrapping_add(FRAME as u32);
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_offer_gives_its_address_and_first_g711_codec() {
        let o = "v=0\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 18 8 0 101\r\n\
                 c=IN IP4 10.0.0.2\r\na=rtpmap:8 PCMA/8000\r\n";
        assert_eq!(
            parse_offer(o),
            Some(Offered {
                addr: "10.0.0.2:4000".parse().expect("addr"),
                codec: Codec::Pcma
            }),
            "media-level c= wins; PCMA is the first G.711 offered"
        );
        let o = "v=0\r\nc=IN IP4 10.0.0.1\r\nm=audio 4002 RTP/AVP 0\r\n";
        assert_eq!(
            parse_offer(o).map(|x| (x.addr.to_string(), x.codec)),
            Some(("10.0.0.1:4002".into(), Codec::Pcmu)),
            "session-level c="
        );
    }

    #[test]
    fn offers_without_usable_audio_are_none() {
        for o in [
            "",
            "v=0\r\nc=IN IP4 10.0.0.1\r\nm=audio 0 RTP/AVP 0\r\n",
            "v=0\r\nc=IN IP4 10.0.0.1\r\nm=audio 4000 RTP/AVP 18\r\n",
            "v=0\r\nm=audio 4000 RTP/AVP 0\r\n",
            "v=0\r\nc=IN IP4 10.0.0.1\r\nm=video 4000 RTP/AVP 0\r\n",
            "v=0\r\nc=IN IP4 nonsense\r\nm=audio 99999 RTP/AVP 0\r\n",
        ] {
            assert_eq!(parse_offer(o), None, "{o:?}");
        }
    }

    #[test]
    fn our_sdp_answers_in_the_offered_codec_and_is_read_back() {
        let ip: IpAddr = [127, 0, 0, 1].into();
        let a = sdp("customer", ip, 41000, Some(Codec::Pcma));
        assert!(a.contains("m=audio 41000 RTP/AVP 8\r\n"), "{a}");
        let back = parse_offer(&a).expect("parses");
        assert_eq!(back.addr, SocketAddr::new(ip, 41000));
        assert_eq!(back.codec, Codec::Pcma);
        assert!(sdp("c", ip, 41000, None).contains("RTP/AVP 0 8\r\n"));
    }

    #[test]
    fn packets_are_rtp_with_running_sequence_and_timestamp() {
        let mut v = RtpVoice::new(Voice::Live, Codec::Pcmu, 5);
        let a = v.next_packet();
        let b = v.next_packet();
        assert_eq!(a.len(), 172);
        assert!(is_rtp(&a));
        assert_eq!(a[1] & 0x7F, 0);
        assert_eq!(a[1] & 0x80, 0x80, "the first spurt starts with the marker");
        assert_eq!(b[1] & 0x80, 0);
        let seq = |p: &[u8]| u16::from_be_bytes([p[2], p[3]]);
        let ts = |p: &[u8]| u32::from_be_bytes([p[4], p[5], p[6], p[7]]);
        assert_eq!(seq(&b), seq(&a).wrapping_add(1));
        assert_eq!(ts(&b), ts(&a).wrapping_add(160));
        assert_eq!(a[8..12], b[8..12], "one SSRC");
        assert!(!is_rtp(&[0x40; 20]), "version 1 is not RTP");
        assert!(!is_rtp(&[0x8F; 20]), "15 CSRCs do not fit in 20 bytes");
    }
}
