//! RTP packets (RFC 3550 §5.1): reading a received packet's header through `rtp-rs` (which
//! checks every length before any field is read, so garbage is an error, never a panic) and
//! writing outdial's own 12-byte headers. Owns no state; knows nothing of legs or sockets.

use rtp_rs::RtpReader;

/// Length of the fixed RTP header outdial writes (no CSRC, no extension).
pub const HEADER_LEN: usize = 12;

/// The fields of a received RTP packet that the media core uses; `payload` borrows the
/// datagram (CSRCs, header extension and padding already stripped).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RtpPacket<'a> {
    /// Marker bit (start of a talk spurt, or the first packet of an RFC 4733 event).
    pub marker: bool,
    /// Payload type.
    pub pt: u8,
    /// Sequence number.
    pub seq: u16,
    /// Media timestamp (8 kHz units for G.711 and telephone-event).
    pub ts: u32,
    /// Synchronisation source.
    pub ssrc: u32,
    /// The payload.
    pub payload: &'a [u8],
}

/// Why a datagram on an RTP port is not RTP outdial can use.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RtpError {
    /// Too short, wrong version, truncated CSRC/extension, bad padding.
    #[error("malformed RTP header: {0}")]
    Malformed(String),
}

/// Parse `data` as an RTP packet.
pub fn parse(data: &[u8]) -> Result<RtpPacket<'_>, RtpError> {
    let r = RtpReader::new(data).map_err(|e| RtpError::Malformed(format!("{e:?}")))?;
    Ok(RtpPacket {
        marker: r.mark(),
        pt: r.payload_type(),
        seq: u16::from(r.sequence_number()),
        ts: r.timestamp(),
        ssrc: r.ssrc(),
        payload: r.payload(),
    })
}

/// True when the second byte says RTCP (payload types 72–76 once the marker bit is masked,
/// i.e. packet types 200–204: RFC 5761 §4), so RTCP multiplexed on the RTP port is not read as
/// audio.
pub fn looks_like_rtcp(data: &[u8]) -> bool {
    data.len() >= 2 && (72..=76).contains(&(data[1] & 0x7f))
}

/// Append a 12-byte RTP header to `out`.
pub fn write_header(out: &mut Vec<u8>, marker: bool, pt: u8, seq: u16, ts: u32, ssrc: u32) {
    out.push(0x80);
    out.push((u8::from(marker) << 7) | (pt & 0x7f));
    out.extend_from_slice(&seq.to_be_bytes());
    out.extend_from_slice(&ts.to_be_bytes());
    out.extend_from_slice(&ssrc.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_header_parses_back() {
        let mut b = Vec::new();
        write_header(&mut b, true, 8, 65535, 0xdead_beef, 42);
        b.extend_from_slice(&[1, 2, 3]);
        let p = parse(&b).unwrap();
        assert_eq!(
            (p.marker, p.pt, p.seq, p.ts, p.ssrc, p.payload),
            (true, 8, 65535, 0xdead_beef, 42, &[1u8, 2, 3][..])
        );
    }

    #[test]
    fn short_and_wrong_version_are_errors() {
        assert!(parse(&[0x80; 11]).is_err());
        assert!(parse(&[0x40; 20]).is_err());
        // CSRC count 15 with no room for them.
        assert!(parse(&[0x8f, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]).is_err());
    }

    #[test]
    fn rtcp_is_recognised() {
        assert!(looks_like_rtcp(&[0x80, 201]));
        assert!(!looks_like_rtcp(&[0x80, 0]));
        assert!(!looks_like_rtcp(&[0x80, 0x88]));
    }
}
