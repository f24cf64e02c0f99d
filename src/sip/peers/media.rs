//! What the synthetic peers say about media, as plain data: the audio an SDP offer asks for
//! and the SDP they answer with (both through [`crate::media::sdp`]), and the RTP packets of
//! their voice (headers through [`crate::media::rtp`]). Pure: the sockets are
//! [`super::stream`]'s.

use std::net::IpAddr;

use crate::media::io::{Codec, RemoteMedia};
use crate::media::{rtp, sdp as msdp};

use super::voice::{Talker, Voice, FRAME};

/// An SDP offer with usable audio: the parsed offer (to answer it) and what was chosen from it.
#[derive(Debug, Clone, PartialEq)]
pub struct Offered {
    /// The offer as parsed.
    pub parsed: msdp::Parsed,
    /// Where to send RTP and in which law (PCMU if offered, else PCMA).
    pub remote: RemoteMedia,
}

/// Reads the audio of an SDP offer: `None` when it has none outdial's media plane could serve
/// (no audio, rejected, no address, neither PCMU nor PCMA, unparsable).
pub fn parse_offer(sdp: &str) -> Option<Offered> {
    let parsed = msdp::parse(sdp).ok()?;
    let remote = msdp::choose(&parsed).ok()?.remote;
    Some(Offered { parsed, remote })
}

/// The SDP of a synthetic peer whose RTP socket is `ip:port`: the answer to `offered`, or
/// (flow I: no offer) an offer of PCMU and PCMA. `seed` fills the `o=` session id.
pub fn sdp(ip: IpAddr, port: u16, offered: Option<&Offered>, seed: u64) -> String {
    // The session id is a 63-bit number in practice (RFC 4566 asks for an NTP-like value).
    let id = seed >> 1;
    offered
        .and_then(|o| msdp::answer(&o.parsed, ip, port, id, 1).ok())
        .unwrap_or_else(|| msdp::offer(ip, port, id, 1))
}

/// The payload type of a G.711 law.
pub fn payload_type(codec: Codec) -> u8 {
    match codec {
        Codec::Pcmu => 0,
        Codec::Pcma => 8,
    }
}

/// Whether `p` is an RTP packet (not RTCP): what the peers count.
pub fn is_rtp(p: &[u8]) -> bool {
    !rtp::looks_like_rtcp(p) && rtp::parse(p).is_ok()
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
        let mut p = Vec::with_capacity(rtp::HEADER_LEN + FRAME);
        let pt = payload_type(self.codec);
        rtp::write_header(&mut p, marker, pt, self.seq, self.ts, self.ssrc);
        crate::media::g711::encode(self.codec, &self.pcm, &mut p);
        self.seq = self.seq.wrapping_add(1);
        self.ts = self.ts.wrapping_add(FRAME as u32);
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::SocketAddr;

    #[test]
    fn an_offer_gives_its_address_and_a_g711_codec() {
        let o = "v=0\r\no=x 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n\
                 m=audio 4000 RTP/AVP 18 8 101\r\nc=IN IP4 10.0.0.2\r\n\
                 a=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\n";
        let got = parse_offer(o).expect("usable");
        assert_eq!(
            got.remote.addr,
            "10.0.0.2:4000".parse::<SocketAddr>().expect("addr")
        );
        assert_eq!(got.remote.codec, Codec::Pcma, "the G.711 law offered");
    }

    #[test]
    fn offers_without_usable_audio_are_none() {
        for o in [
            "",
            "v=0\r\no=x 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=audio 0 RTP/AVP 0\r\n",
            "v=0\r\no=x 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 18\r\n",
            "v=0\r\no=x 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=video 4000 RTP/AVP 0\r\n",
        ] {
            assert_eq!(parse_offer(o), None, "{o:?}");
        }
    }

    #[test]
    fn our_sdp_answers_in_the_offered_codec_and_is_read_back() {
        let ip: IpAddr = [127, 0, 0, 1].into();
        let offer = crate::media::sdp::offer([127, 0, 0, 2].into(), 30000, 1, 1)
            .replace("RTP/AVP 0 8 101", "RTP/AVP 8 101");
        let offered = parse_offer(&offer).expect("usable");
        let a = sdp(ip, 41000, Some(&offered), 7);
        assert!(a.contains("m=audio 41000 RTP/AVP 8"), "{a}");
        let back = parse_offer(&a).expect("parses");
        assert_eq!(back.remote.addr, SocketAddr::new(ip, 41000));
        assert_eq!(back.remote.codec, Codec::Pcma);
        assert!(sdp(ip, 9, None, 7).contains("m=audio 9 RTP/AVP 0 8"));
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
        assert!(
            !is_rtp(&[0x80, 200, 0, 1, 0, 0, 0, 0]),
            "RTCP is not counted"
        );
    }
}
