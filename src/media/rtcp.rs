//! RTCP (RFC 3550 §6.4): building outdial's compound sender/receiver reports with an SDES
//! CNAME, and reading received compound packets enough to count their reports and take the
//! last SR's time for LSR/DLSR. Pure bytes in and out.

/// Packet type of a sender report.
pub const SR: u8 = 200;
/// Packet type of a receiver report.
pub const RR: u8 = 201;
const SDES: u8 = 202;
const CNAME: &[u8] = b"outdial";

/// One report block (RFC 3550 §6.4.1) about the source outdial receives from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReportBlock {
    /// The source reported on.
    pub ssrc: u32,
    /// Fraction lost since the last report (8-bit fixed point).
    pub fraction_lost: u8,
    /// Cumulative packets lost (24 bits).
    pub cumulative_lost: u32,
    /// Extended highest sequence number received.
    pub ext_highest: u32,
    /// Interarrival jitter, timestamp units.
    pub jitter: u32,
    /// Middle 32 bits of the NTP time of the last SR received (0 if none).
    pub lsr: u32,
    /// Delay since that SR, 1/65536 s.
    pub dlsr: u32,
}

/// What outdial sent, for an SR's sender-info section.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SenderInfo {
    /// NTP timestamp (64-bit fixed point).
    pub ntp: u64,
    /// RTP timestamp of the same instant.
    pub rtp_ts: u32,
    /// Packets sent.
    pub packets: u32,
    /// Payload octets sent.
    pub octets: u32,
}

/// A compound RTCP packet: SR when `sender` is given, else RR; a report block when `block` is
/// given; then SDES with outdial's CNAME.
pub fn build(ssrc: u32, sender: Option<SenderInfo>, block: Option<ReportBlock>) -> Vec<u8> {
    let mut out = Vec::with_capacity(80);
    let rc = u8::from(block.is_some());
    let words = 1 + if sender.is_some() { 5 } else { 0 } + if block.is_some() { 6 } else { 0 };
    out.push(0x80 | rc);
    out.push(if sender.is_some() { SR } else { RR });
    out.extend_from_slice(&(words as u16).to_be_bytes());
    out.extend_from_slice(&ssrc.to_be_bytes());
    if let Some(s) = sender {
        out.extend_from_slice(&s.ntp.to_be_bytes());
        out.extend_from_slice(&s.rtp_ts.to_be_bytes());
        out.extend_from_slice(&s.packets.to_be_bytes());
        out.extend_from_slice(&s.octets.to_be_bytes());
    }
    if let Some(b) = block {
        out.extend_from_slice(&b.ssrc.to_be_bytes());
        let lost = b.cumulative_lost.min(0x7f_ffff);
        out.push(b.fraction_lost);
        out.extend_from_slice(&lost.to_be_bytes()[1..]);
        out.extend_from_slice(&b.ext_highest.to_be_bytes());
        out.extend_from_slice(&b.jitter.to_be_bytes());
        out.extend_from_slice(&b.lsr.to_be_bytes());
        out.extend_from_slice(&b.dlsr.to_be_bytes());
    }
    // SDES: one chunk, CNAME item, null terminator, padded to a 32-bit boundary.
    let item_len = 2 + CNAME.len();
    let chunk = 4 + item_len + 1;
    let padded = chunk.div_ceil(4) * 4;
    out.push(0x81);
    out.push(SDES);
    out.extend_from_slice(&((padded / 4) as u16).to_be_bytes());
    out.extend_from_slice(&ssrc.to_be_bytes());
    out.push(1);
    out.push(CNAME.len() as u8);
    out.extend_from_slice(CNAME);
    out.resize(out.len() + padded - 4 - item_len, 0);
    out
}

/// What a received compound RTCP packet held.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Received {
    /// Sender reports in it.
    pub sender_reports: u32,
    /// Receiver reports in it.
    pub receiver_reports: u32,
    /// Middle 32 bits of the NTP time of the last SR (for our LSR).
    pub sr_ntp_middle: Option<u32>,
}

/// Why a datagram on an RTCP port is not RTCP.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RtcpError {
    /// Bad version, a length running past the datagram, or an SR too short for its sender info.
    #[error("malformed RTCP")]
    Malformed,
}

/// Walk a compound RTCP packet.
pub fn parse(data: &[u8]) -> Result<Received, RtcpError> {
    let mut r = Received::default();
    let mut rest = data;
    if rest.len() < 4 {
        return Err(RtcpError::Malformed);
    }
    while rest.len() >= 4 {
        if rest[0] >> 6 != 2 {
            return Err(RtcpError::Malformed);
        }
        let len = (usize::from(u16::from_be_bytes([rest[2], rest[3]])) + 1) * 4;
        let pkt = rest.get(..len).ok_or(RtcpError::Malformed)?;
        match pkt[1] {
            SR => {
                let ntp = pkt.get(8..16).ok_or(RtcpError::Malformed)?;
                r.sender_reports += 1;
                r.sr_ntp_middle = Some(u32::from_be_bytes([ntp[2], ntp[3], ntp[4], ntp[5]]));
            }
            RR => r.receiver_reports += 1,
            _ => {}
        }
        rest = &rest[len..];
    }
    if !rest.is_empty() {
        return Err(RtcpError::Malformed);
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_reports_parse_back() {
        let sr = build(
            5,
            Some(SenderInfo {
                ntp: 0x0001_0002_0003_0004,
                rtp_ts: 1,
                packets: 2,
                octets: 3,
            }),
            Some(ReportBlock {
                ssrc: 9,
                fraction_lost: 32,
                cumulative_lost: 2,
                ..Default::default()
            }),
        );
        assert_eq!(sr.len() % 4, 0);
        let got = parse(&sr).unwrap();
        assert_eq!(
            (got.sender_reports, got.sr_ntp_middle),
            (1, Some(0x0002_0003))
        );
        // Fraction lost and cumulative lost in the block.
        assert_eq!(&sr[32..36], &[32, 0, 0, 2]);
        let rr = build(5, None, None);
        assert_eq!(parse(&rr).unwrap().receiver_reports, 1);
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(parse(&[]).is_err());
        assert!(parse(&[0x80, 200, 0, 9, 0, 0, 0, 0]).is_err());
        assert!(parse(&[0x80, 200, 0, 1, 0, 0, 0, 0]).is_err());
        assert!(parse(&[0x40, 201, 0, 0]).is_err());
    }
}
