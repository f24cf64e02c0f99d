//! The tap's jitter buffer: places one leg's decoded audio on the media core's 20-ms slot clock
//! by RTP timestamp (so reordered packets land where they belong) and plays out one frame per
//! slot, in order: a frame as soon as it is whole (its slot begun, every sample arrived), else
//! `DEPTH` slots after its slot began, silence where nothing arrived. So in-order audio reaches
//! the analysis as it arrives (a person's verdict is not held 40 ms more), and a late packet
//! still has `DEPTH` slots to fill its gap. Only what outdial itself listens to (recording,
//! analysis) goes through here; the relay never does. Pure data.

use std::collections::VecDeque;

/// Samples per slot (20 ms at 8 kHz).
pub const SLOT_SAMPLES: usize = 160;
/// Slots a frame with a gap is held before play-out (60 ms): how late a packet may be and still
/// be heard.
pub const DEPTH: u64 = 3;
/// A packet this many slots ahead of the clock means the sender jumped: re-anchor.
const MAX_AHEAD: u64 = 2 * DEPTH + 4;
/// Late packets in a row that mean the sender's clock drifted behind ours: re-anchor.
const LATE_RESET: u32 = 5;

/// One 20 ms frame.
pub type Frame = [i16; SLOT_SAMPLES];

/// Which samples of a frame arrived (one bit each).
type Filled = [u64; SLOT_SAMPLES.div_ceil(64)];

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
    /// The samples of each buffered frame that arrived (a whole frame plays out at once).
    filled: VecDeque<Filled>,
    anchor: Option<Anchor>,
    late_run: u32,
}

impl TapBuffer {
    /// A buffer whose first frame is slot `slot` (the tap was turned on then).
    pub fn new(slot: u64) -> Self {
        TapBuffer {
            next_emit: slot,
            frames: VecDeque::with_capacity(MAX_AHEAD as usize + 2),
            filled: VecDeque::with_capacity(MAX_AHEAD as usize + 2),
            anchor: None,
            late_run: 0,
        }
    }

    /// Audio `pcm` from `ssrc` with RTP timestamp `ts`, arriving during slot `now_slot`.
    pub fn push(&mut self, ssrc: u32, ts: u32, pcm: &[i16], now_slot: u64) {
        // Never before what was already played out (a whole frame of this slot may have been).
        let fresh = Anchor {
            ssrc,
            ts,
            sample: now_slot.max(self.next_emit) * SLOT_SAMPLES as u64,
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
                self.filled.push_back([0; SLOT_SAMPLES.div_ceil(64)]);
            }
            self.frames[slot][off] = s;
            self.filled[slot][off / 64] |= 1 << (off % 64);
        }
    }

    /// Frames ready by `now_slot`, in order: each whole frame whose slot has begun, and every
    /// slot `DEPTH` slots after it began (what arrived of it, silence for the rest).
    pub fn drain(&mut self, now_slot: u64, mut emit: impl FnMut(u64, Frame)) {
        loop {
            let due = self.next_emit + DEPTH <= now_slot;
            let whole = self.next_emit <= now_slot
                && self.filled.front().is_some_and(|f| {
                    f.iter().map(|w| w.count_ones()).sum::<u32>() as usize == SLOT_SAMPLES
                });
            if !due && !whole {
                return;
            }
            let frame = self.frames.pop_front().unwrap_or([0; SLOT_SAMPLES]);
            self.filled.pop_front();
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
        // Whole frames play out at once, in order, up to the gap.
        assert_eq!(drain(&mut b, 12), vec![(10, 1), (11, 2), (12, 3)]);
        // The gap waits its `DEPTH` slots for a late packet, then is silence.
        assert_eq!(drain(&mut b, 15), vec![]);
        assert_eq!(drain(&mut b, 16), vec![(13, 0), (14, 5)]);
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
    fn a_frame_is_never_played_before_its_slot_and_a_half_frame_waits() {
        let mut b = TapBuffer::new(0);
        // Two packets at once (a burst): the second's slot has not begun.
        b.push(1, 0, &frame(1), 0);
        b.push(1, 160, &frame(2), 0);
        assert_eq!(drain(&mut b, 0), vec![(0, 1)]);
        assert_eq!(drain(&mut b, 1), vec![(1, 2)]);
        // 10 ms of slot 2 only: held until its deadline.
        b.push(1, 320, &[3; SLOT_SAMPLES / 2], 2);
        assert_eq!(drain(&mut b, 4), vec![]);
        let mut out = Vec::new();
        b.drain(5, |s, f| out.push((s, f[0], f[SLOT_SAMPLES - 1])));
        assert_eq!(out, vec![(2, 3, 0)]);
        // A new source in a slot already played starts at the next one, not lost as late.
        b.push(2, 777, &frame(4), 2);
        assert_eq!(drain(&mut b, 3), vec![(3, 4)]);
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
