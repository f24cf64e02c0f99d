//! The generator's packet: a 12-byte RTP header (PCMU) and 160 payload bytes holding the send
//! time (8 bytes, ns), the stream's id (4 bytes) and the side's audio code. The relay rewrites
//! SSRC, sequence and timestamp but copies a PCMU payload as it is, so the id in the payload is
//! what tells the receiver which call and direction a packet belongs to (the generator's few
//! sockets carry many calls). Owns the layout only; sends and reads nothing.

/// Bytes of a G.711 packet: RTP header + 20 ms at 8 kHz.
pub const PACKET: usize = 12 + 160;

/// The µ-law code filling each direction's payload after its send time and id (customer→agent,
/// agent→customer): a steady tone-less level, different per side, so a recording shows which
/// channel carries which side.
pub const AUDIO: [u8; 2] = [0x9c, 0x1c];

/// Where the send time starts (first payload byte).
const SENT_AT: usize = 12;
/// Where the id starts.
const ID_AT: usize = 20;
/// Where the audio starts.
const AUDIO_AT: usize = 24;
/// Each id byte carries 6 bits over this mark, so no id byte is ever one of [`AUDIO`]'s codes
/// (a recording's channel check counts those codes).
const ID_MARK: u8 = 0x40;
/// Ids are 24 bits: 8 million calls, far beyond what a host's ports allow.
pub const MAX_ID: u32 = 1 << 24;

/// A stream: call index and direction (0: customer→agent, 1: agent→customer).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StreamId {
    /// The call's index.
    pub call: usize,
    /// The direction.
    pub dir: usize,
}

impl StreamId {
    fn to_u32(self) -> u32 {
        (self.call as u32) * 2 + self.dir as u32
    }
}

/// A packet template for direction `dir`: version 2, PCMU, the side's audio code.
pub fn template(dir: usize) -> [u8; PACKET] {
    let mut p = [AUDIO[dir & 1]; PACKET];
    p[..12].fill(0);
    p[0] = 0x80;
    p
}

/// Writes the per-tick fields (sequence number, RTP timestamp) and the stream's id and SSRC.
pub fn address(packet: &mut [u8; PACKET], id: StreamId, tick: u64) {
    packet[2..4].copy_from_slice(&(tick as u16).to_be_bytes());
    packet[4..8].copy_from_slice(&((tick as u32).wrapping_mul(160)).to_be_bytes());
    let n = id.to_u32() % MAX_ID;
    packet[8..12].copy_from_slice(&n.to_be_bytes());
    for (k, byte) in packet[ID_AT..AUDIO_AT].iter_mut().enumerate() {
        *byte = ID_MARK | ((n >> (18 - 6 * k)) & 0x3f) as u8;
    }
}

/// Stamps the send time (ns on [`crate::media::rx_stamp::now_ns`]'s clock).
pub fn stamp(packet: &mut [u8; PACKET], sent_ns: u64) {
    packet[SENT_AT..ID_AT].copy_from_slice(&sent_ns.to_be_bytes());
}

/// The send time and stream of a received datagram, or `None` when it is not the generator's.
pub fn read(data: &[u8]) -> Option<(u64, StreamId)> {
    if data.len() < AUDIO_AT || data[0] >> 6 != 2 {
        return None;
    }
    let mut n = 0u32;
    for &byte in &data[ID_AT..AUDIO_AT] {
        if byte & !0x3f != ID_MARK {
            return None;
        }
        n = (n << 6) | u32::from(byte & 0x3f);
    }
    let mut ts = [0u8; 8];
    ts.copy_from_slice(&data[SENT_AT..ID_AT]);
    Some((
        u64::from_be_bytes(ts),
        StreamId {
            call: (n / 2) as usize,
            dir: (n % 2) as usize,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_packet_reads_back_its_stream_and_send_time_and_never_shows_the_other_sides_code() {
        for (call, dir) in [(0, 0), (0, 1), (1499, 1), (123_456, 0)] {
            let id = StreamId { call, dir };
            let mut p = template(dir);
            address(&mut p, id, 7);
            stamp(&mut p, 0x0102_0304_0506_0708);
            assert_eq!(read(&p), Some((0x0102_0304_0506_0708, id)));
            assert!(!p[ID_AT..].contains(&AUDIO[1 - dir]), "{call}/{dir}");
        }
    }

    #[test]
    fn a_datagram_without_the_ids_mark_is_not_the_generators() {
        let mut p = template(0);
        address(&mut p, StreamId { call: 3, dir: 0 }, 0);
        p[ID_AT] = 0x1c;
        assert_eq!(read(&p), None);
        assert_eq!(read(&p[..20]), None);
    }
}
