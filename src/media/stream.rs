//! One leg's outgoing RTP stream: outdial's own SSRC, sequence and timestamp, continuous
//! whatever feeds it (relayed packets of one customer, then another, a prompt, the next
//! customer). Each source's numbers are mapped by an offset fixed at its first packet, so a
//! source's own gaps and reordering pass through while the stream never jumps back. Pure data.

use std::time::Instant;

/// Splitmix64: a fixed, well-spread mapping from a leg id to its stream's initial numbers.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Numbers for one outgoing packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stamp {
    /// Sequence number.
    pub seq: u16,
    /// Timestamp.
    pub ts: u32,
    /// True on a new source's first packet (set the marker bit: a talk spurt starts).
    pub new_source: bool,
}

/// A leg's outgoing stream.
#[derive(Debug)]
pub struct TxStream {
    /// The SSRC outdial sends with on this leg.
    pub ssrc: u32,
    seq: u16,
    ts: u32,
    source: Option<u64>,
    seq_off: u16,
    ts_off: u32,
    last_sent: Option<Instant>,
    /// Packets sent.
    pub packets: u64,
    /// Payload octets sent.
    pub octets: u64,
}

impl TxStream {
    /// A stream whose SSRC and starting numbers derive from `seed` (the leg id).
    pub fn new(seed: u64) -> Self {
        let r = mix(seed);
        TxStream {
            ssrc: r as u32,
            seq: (r >> 32) as u16,
            ts: mix(r) as u32,
            source: None,
            seq_off: 0,
            ts_off: 0,
            last_sent: None,
            packets: 0,
            octets: 0,
        }
    }

    /// Map a packet `in_seq`/`in_ts` of `source` (any key naming one incoming stream) onto this
    /// stream. A new source starts one sequence number and at least one 20-ms frame (or the
    /// wall-clock time since the last packet, if longer) after what was last sent.
    pub fn stamp(&mut self, now: Instant, source: u64, in_seq: u16, in_ts: u32) -> Stamp {
        let new_source = self.source != Some(source);
        if new_source {
            let gap = self.last_sent.map_or(0, |t| {
                let samples = now.saturating_duration_since(t).as_micros() * 8 / 1000;
                u32::try_from(samples).unwrap_or(u32::MAX).max(160)
            });
            let (next_seq, next_ts) = if self.source.is_some() || self.last_sent.is_some() {
                (self.seq.wrapping_add(1), self.ts.wrapping_add(gap))
            } else {
                (self.seq, self.ts)
            };
            self.seq_off = next_seq.wrapping_sub(in_seq);
            self.ts_off = next_ts.wrapping_sub(in_ts);
            self.source = Some(source);
        }
        let seq = in_seq.wrapping_add(self.seq_off);
        let ts = in_ts.wrapping_add(self.ts_off);
        let ahead = seq.wrapping_sub(self.seq);
        if new_source || (ahead != 0 && ahead < 0x8000) {
            self.seq = seq;
            self.ts = ts;
        }
        Stamp {
            seq,
            ts,
            new_source,
        }
    }

    /// Account a packet sent at `now` with `payload_len` bytes of payload.
    pub fn sent(&mut self, now: Instant, payload_len: usize) {
        self.packets += 1;
        self.octets += payload_len as u64;
        self.last_sent = Some(now);
    }

    /// The timestamp of the newest packet sent (for an SR).
    pub fn last_ts(&self) -> u32 {
        self.ts
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn sources_follow_one_another_without_jumps() {
        let t0 = Instant::now();
        let mut s = TxStream::new(1);
        let a = s.stamp(t0, 1, 500, 9000);
        s.sent(t0, 160);
        let b = s.stamp(t0, 1, 501, 9160);
        s.sent(t0, 160);
        assert!(a.new_source && !b.new_source);
        assert_eq!(
            (b.seq.wrapping_sub(a.seq), b.ts.wrapping_sub(a.ts)),
            (1, 160)
        );
        // Another source 1 s later: next sequence number, timestamp 1 s on.
        let c = s.stamp(t0 + Duration::from_secs(1), 2, 7, 123);
        assert!(c.new_source);
        assert_eq!(c.seq, b.seq.wrapping_add(1));
        assert_eq!(c.ts, b.ts.wrapping_add(8000));
        // A late packet of the new source keeps its place, and the stream does not go back.
        let late = s.stamp(t0, 2, 6, 123u32.wrapping_sub(160));
        assert_eq!(late.seq, c.seq.wrapping_sub(1));
        let d = s.stamp(t0, 2, 8, 283);
        assert_eq!(d.seq, c.seq.wrapping_add(1));
    }
}
