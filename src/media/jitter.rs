//! The tap's jitter buffer: places one leg's decoded audio on the media core's 20-ms slot clock
//! by RTP timestamp (so reordered packets land where they belong), holds it `DEPTH` slots, and
//! plays out one frame per slot, silence where nothing arrived. Only what outdial itself listens
//! to (recording, analysis) goes through here; the relay never does. Pure data.

use std::collections::VecDeque;

/// Samples per slot (20 ms at 8 kHz).
pub const SLOT_SAMPLES: usize = 160;
/// Slots held before play-out (60 ms): how late a packet may be and still be heard.
pub const DEPTH: u64 = 3;
/// A packet this many slots ahead of the clock means the sender jumped: re-anchor.
const MAX_AHEAD: u64 = 2 * DEPTH + 4;
/// Late packets in a row that mean the sender's clock drifted behind ours: re-anchor.
const LATE_RESET: u32 = 5;

/// One 20 ms frame.
pub type Frame = [i16; SLOT_SAMPLES];

#[derive(Debug, Clone, Copy)]
struct Anchor {
    ssrc: u32,
    ts: u32,
    sample: u64,
}

/// One tapped leg's buffer.
#[derive(Debug)]
pub struct TapBuffer {
    next_emit: u64,
    frames: VecDeque<Frame>,
    anchor: Option<Anchor>,
    late_run: u32,
}

impl TapBuffer {
    /// A buffer whose first frame is slot `slot` (the tap was turned on then).
    pub fn new(slot: u64) -> Self {
        TapBuffer {
            next_emit: slot,
            frames: VecDeque::with_capacity(MAX_AHEAD as usize + 2),
            anchor: None,
            late_run: 0,
        }
    }

    /// Audio `pcm` from `ssrc` with RTP timestamp `ts`, arriving during slot `now_slot`.
    pub fn push(&mut self, ssrc: u32, ts: u32, pcm: &[i16], now_slot: u64) {
        let fresh = Anchor {
            ssrc,
            ts,
            sample: now_slot * SLOT_SAMPLES as u64,
        };
        let anchor = match self.anchor {
            Some(a) if a.ssrc == ssrc => a,
            _ => fresh,
        };
        let mut start = anchor.sample as i64 + i64::from(ts.wrapping_sub(anchor.ts) as i32);
        let first_slot = (start.max(0) as u64) / SLOT_SAMPLES as u64;
        if start < 0 || first_slot > now_slot + MAX_AHEAD {
            self.anchor = Some(fresh);
            start = fresh.sample as i64;
        } else if first_slot < self.next_emit {
            self.late_run += 1;
            if self.late_run < LATE_RESET {
                return;
            }
            self.anchor = Some(fresh);
            start = fresh.sample as i64;
        } else {
            self.anchor = Some(anchor);
        }
        self.late_run = 0;
        let emit_base = self.next_emit * SLOT_SAMPLES as u64;
        for (i, &s) in pcm.iter().enumerate() {
            let idx = start as u64 + i as u64;
            if idx < emit_base {
                continue;
            }
            let rel = (idx - emit_base) as usize;
            let (slot, off) = (rel / SLOT_SAMPLES, rel % SLOT_SAMPLES);
            if slot > MAX_AHEAD as usize + 1 {
                break;
            }
            while self.frames.len() <= slot {
                self.frames.push_back([0; SLOT_SAMPLES]);
            }
            self.frames[slot][off] = s;
        }
    }

    /// Frames due by `now_slot` (each slot played `DEPTH` slots after it started), in order.
    pub fn drain(&mut self, now_slot: u64, mut emit: impl FnMut(u64, Frame)) {
        while self.next_emit + DEPTH <= now_slot {
            let frame = self.frames.pop_front().unwrap_or([0; SLOT_SAMPLES]);
            emit(self.next_emit, frame);
            self.next_emit += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(v: i16) -> Vec<i16> {
        vec![v; SLOT_SAMPLES]
    }

    fn drain(b: &mut TapBuffer, slot: u64) -> Vec<(u64, i16)> {
        let mut out = Vec::new();
        b.drain(slot, |s, f| out.push((s, f[0])));
        out
    }

    #[test]
    fn reordered_packets_play_in_order_and_loss_is_silence() {
        let mut b = TapBuffer::new(10);
        b.push(1, 1600, &frame(1), 10);
        b.push(1, 1600 + 320, &frame(3), 11);
        b.push(1, 1600 + 160, &frame(2), 11);
        // Packet 4 lost, 5 arrives.
        b.push(1, 1600 + 640, &frame(5), 12);
        assert_eq!(drain(&mut b, 12), vec![]);
        assert_eq!(
            drain(&mut b, 17),
            vec![(10, 1), (11, 2), (12, 3), (13, 0), (14, 5)]
        );
    }

    #[test]
    fn ssrc_change_and_jump_reanchor_to_now() {
        let mut b = TapBuffer::new(0);
        b.push(1, 0, &frame(1), 0);
        b.push(2, 999_999, &frame(2), 2);
        b.push(2, 999_999 + 1_000_000, &frame(3), 3);
        assert_eq!(drain(&mut b, 6), vec![(0, 1), (1, 0), (2, 2), (3, 3)]);
    }

    #[test]
    fn too_late_is_dropped() {
        let mut b = TapBuffer::new(0);
        b.push(1, 0, &frame(1), 0);
        assert_eq!(drain(&mut b, 4), vec![(0, 1), (1, 0)]);
        b.push(1, 160, &frame(9), 4);
        assert_eq!(drain(&mut b, 5), vec![(2, 0)]);
    }
}
