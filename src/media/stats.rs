//! Reception statistics of one leg (RFC 3550 §6.4.1 and appendix A.1, A.8): sequence tracking
//! with wrap-around, loss by sequence numbers, interarrival jitter. An SSRC change (a carrier
//! switching media servers) starts new sequence tracking but keeps the leg's totals. Pure data.

/// A jump this large in sequence numbers is a restarted sender, not loss (RFC 3550 A.1).
const MAX_DROPOUT: u16 = 3000;

/// What one leg has received.
#[derive(Debug, Default, Clone)]
pub struct RecvStats {
    ssrc: Option<u32>,
    base_seq: u64,
    /// Extended highest sequence number (cycles in the high bits).
    ext_max: u64,
    received: u64,
    /// Expected and received of earlier sources or sequence restarts.
    prior_expected: u64,
    prior_received: u64,
    /// At the last RTCP report (for the fraction lost in that interval).
    report_expected: u64,
    report_received: u64,
    transit: Option<i64>,
    /// RFC 3550 interarrival jitter, in timestamp units (1/8000 s).
    jitter: f64,
    /// Every valid RTP packet, whatever its source.
    pub packets: u64,
}

impl RecvStats {
    /// Account a packet `seq`/`ts` from `ssrc` that arrived at `arrival` (in 1/8000 s since
    /// any fixed origin). Returns true when `ssrc` is new (first packet or an SSRC change).
    /// `audio` packets feed the jitter estimate; RFC 4733 events, whose timestamps stand
    /// still, do not.
    pub fn on_packet(&mut self, ssrc: u32, seq: u16, ts: u32, arrival: i64, audio: bool) -> bool {
        self.packets += 1;
        let new_source = self.ssrc != Some(ssrc);
        if new_source {
            self.restart(seq);
            self.ssrc = Some(ssrc);
            self.transit = None;
        } else {
            let max16 = self.ext_max as u16;
            let delta = seq.wrapping_sub(max16);
            if delta == 0 || delta >= 0x8000 {
                // Duplicate or reordered: counts as received, moves nothing.
            } else if delta < MAX_DROPOUT {
                self.ext_max += u64::from(delta);
            } else {
                self.restart(seq);
            }
        }
        self.received += 1;
        if audio {
            let transit = arrival - i64::from(ts);
            if let Some(prev) = self.transit {
                // Timestamps wrap at 2^32: take the difference modulo that.
                let d = (transit - prev) as i32 as f64;
                self.jitter += (d.abs() - self.jitter) / 16.0;
            }
            self.transit = Some(transit);
        }
        new_source
    }

    fn restart(&mut self, seq: u16) {
        if self.ssrc.is_some() {
            self.prior_expected += self.expected_current();
            self.prior_received += self.received;
        }
        // Keep the 16 low bits as the sequence and room above for cycles.
        self.base_seq = u64::from(seq) + (1 << 16);
        self.ext_max = self.base_seq;
        self.received = 0;
    }

    fn expected_current(&self) -> u64 {
        if self.ssrc.is_none() {
            0
        } else {
            self.ext_max - self.base_seq + 1
        }
    }

    /// Packets expected over the leg's life.
    pub fn expected(&self) -> u64 {
        self.prior_expected + self.expected_current()
    }

    /// Packets received that count against `expected` (duplicates may exceed it).
    pub fn received(&self) -> u64 {
        self.prior_received + self.received
    }

    /// Cumulative loss (never negative).
    pub fn lost(&self) -> u64 {
        self.expected().saturating_sub(self.received())
    }

    /// Loss in percent of the expected packets.
    pub fn loss_pct(&self) -> f64 {
        match self.expected() {
            0 => 0.0,
            e => self.lost() as f64 * 100.0 / e as f64,
        }
    }

    /// Interarrival jitter in ms.
    pub fn jitter_ms(&self) -> f64 {
        self.jitter / 8.0
    }

    /// Interarrival jitter in timestamp units, as RTCP carries it.
    pub fn jitter_units(&self) -> u32 {
        self.jitter as u32
    }

    /// The current source, if any packet arrived.
    pub fn ssrc(&self) -> Option<u32> {
        self.ssrc
    }

    /// Extended highest sequence number received of the current source (RTCP's field).
    pub fn ext_highest(&self) -> u32 {
        // Report cycles from 0: the base was placed one cycle up.
        (self.ext_max.saturating_sub(1 << 16)) as u32
    }

    /// The fraction lost since the last call, as RTCP's 8-bit fixed point; marks the report.
    pub fn take_fraction_lost(&mut self) -> u8 {
        let exp = self.expected() - self.report_expected.min(self.expected());
        let rec = self.received() - self.report_received.min(self.received());
        self.report_expected = self.expected();
        self.report_received = self.received();
        if exp == 0 || rec >= exp {
            0
        } else {
            (((exp - rec) << 8) / exp).min(255) as u8
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaps_count_as_loss_and_wrap_is_not_loss() {
        let mut s = RecvStats::default();
        let mut t = 0i64;
        for seq in (65530u16..=65535).chain(0..10) {
            if seq == 3 || seq == 4 {
                continue;
            }
            s.on_packet(7, seq, seq as u32 * 160, t, true);
            t += 160;
        }
        assert_eq!(s.expected(), 16);
        assert_eq!(s.lost(), 2);
        assert!((s.loss_pct() - 12.5).abs() < 1e-9);
        assert_eq!(s.take_fraction_lost(), 32);
        assert_eq!(s.take_fraction_lost(), 0);
    }

    #[test]
    fn ssrc_change_restarts_tracking_but_keeps_totals() {
        let mut s = RecvStats::default();
        for seq in 0..10 {
            s.on_packet(1, seq, 0, 0, false);
        }
        assert!(s.on_packet(2, 40000, 0, 0, false));
        for seq in 40001..40010 {
            s.on_packet(2, seq, 0, 0, false);
        }
        assert_eq!((s.expected(), s.lost(), s.packets), (20, 0, 20));
    }

    #[test]
    fn jitter_follows_rfc3550() {
        let mut s = RecvStats::default();
        // Every packet 80 units late relative to the previous: |D| = 80 each time.
        for i in 0..200u16 {
            let arrival = i64::from(i) * 160 + if i % 2 == 1 { 80 } else { 0 };
            s.on_packet(1, i, u32::from(i) * 160, arrival, true);
        }
        assert!(
            (s.jitter_units() as f64 - 80.0).abs() < 2.0,
            "{}",
            s.jitter_ms()
        );
        assert!((s.jitter_ms() - 10.0).abs() < 0.3);
    }
}
