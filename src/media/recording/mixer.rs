//! The recording mixer, sans-IO: one call's tapped frames (customer and agent, slot-numbered)
//! in, interleaved stereo µ-law bytes out (customer left, agent right), aligned by slot. Owns
//! only the frames waiting for their slot to close; no file, clock or socket.

use std::collections::BTreeMap;

use crate::media::g711::ulaw_encode;

/// Samples in one 20-ms slot at 8 kHz.
pub const SLOT_SAMPLES: usize = 160;

/// Bytes one slot takes in the file (two channels, one byte a sample).
pub const SLOT_BYTES: usize = 2 * SLOT_SAMPLES;

/// Slots a frame may arrive behind the newest one seen and still be placed (100 ms): the two
/// legs' frames of one slot reach the recorder at slightly different times.
pub const LAG_SLOTS: u64 = 5;

/// Largest jump ahead (60 s) filled with silence; a frame further ahead than this (a clock
/// glitch, a leg attached to the wrong call) starts a new stretch instead of writing minutes of
/// silence in one go.
pub const MAX_GAP_SLOTS: u64 = 3000;

/// µ-law code of silence (linear 0).
const SILENCE: u8 = 0xFF;

/// Which channel a frame goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// Left: the customer.
    Customer,
    /// Right: the agent.
    Agent,
}

/// One call's channel alignment.
#[derive(Debug, Default)]
pub struct Mixer {
    /// The first slot of the file (the call's first frame, from either side): a leg that starts
    /// later is padded with silence from here.
    next: Option<u64>,
    /// Newest slot seen.
    newest: u64,
    /// Encoded halves waiting for their slot to be written: `[customer, agent]`.
    pending: BTreeMap<u64, [Option<[u8; SLOT_SAMPLES]>; 2]>,
    /// Frames dropped because their slot was already written.
    late: u64,
}

impl Mixer {
    /// An empty mixer.
    pub fn new() -> Mixer {
        Mixer::default()
    }

    /// Takes one side's 20 ms of `slot`; appends to `out` the slots that can no longer get a
    /// frame (more than [`LAG_SLOTS`] behind the newest), silence where a side had none.
    pub fn push(&mut self, side: Side, slot: u64, pcm: &[i16; SLOT_SAMPLES], out: &mut Vec<u8>) {
        let next = *self.next.get_or_insert(slot);
        if slot < next {
            // Its slot is already in the file (or before the call's first slot).
            self.late += 1;
            return;
        }
        if slot > self.newest.max(next).saturating_add(MAX_GAP_SLOTS) {
            tracing::warn!(
                slot,
                newest = self.newest,
                "recording: slot jump, gap not filled"
            );
            self.finish(out);
            self.next = Some(slot);
        }
        let mut coded = [SILENCE; SLOT_SAMPLES];
        for (c, &s) in coded.iter_mut().zip(pcm.iter()) {
            *c = ulaw_encode(s);
        }
        let idx = match side {
            Side::Customer => 0,
            Side::Agent => 1,
        };
        self.pending.entry(slot).or_default()[idx] = Some(coded);
        self.newest = self.newest.max(slot);
        self.drain_to(self.newest.saturating_sub(LAG_SLOTS), out);
    }

    /// Appends every slot still held (the call ended).
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        self.drain_to(self.newest.saturating_add(1), out);
    }

    /// Frames that came too late to be placed.
    pub fn late_frames(&self) -> u64 {
        self.late
    }

    /// Writes slots `next..until` (silence for slots nobody sent: the file keeps real time).
    fn drain_to(&mut self, until: u64, out: &mut Vec<u8>) {
        let Some(mut next) = self.next else { return };
        while next < until {
            let halves = self.pending.remove(&next).unwrap_or_default();
            let left = halves[0].unwrap_or([SILENCE; SLOT_SAMPLES]);
            let right = halves[1].unwrap_or([SILENCE; SLOT_SAMPLES]);
            out.reserve(SLOT_BYTES);
            for (l, r) in left.iter().zip(right.iter()) {
                out.push(*l);
                out.push(*r);
            }
            next += 1;
        }
        self.next = Some(next);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::g711::ulaw_decode;

    fn frame(v: i16) -> [i16; SLOT_SAMPLES] {
        [v; SLOT_SAMPLES]
    }

    /// The (left, right) linear value of each written slot (first sample of each).
    fn slots(bytes: &[u8]) -> Vec<(i16, i16)> {
        bytes
            .chunks_exact(SLOT_BYTES)
            .map(|s| (ulaw_decode(s[0]), ulaw_decode(s[1])))
            .collect()
    }

    #[test]
    fn channels_align_by_slot_with_silence_where_a_side_is_missing() {
        let mut m = Mixer::new();
        let mut out = Vec::new();
        // Customer from slot 100; the agent joins at 103, and its 103 arrives after the
        // customer's 104 (out of order across legs).
        for s in 100..=104 {
            m.push(Side::Customer, s, &frame(1000), &mut out);
        }
        m.push(Side::Agent, 103, &frame(-2000), &mut out);
        m.push(Side::Agent, 104, &frame(-2000), &mut out);
        m.push(Side::Customer, 106, &frame(1000), &mut out); // 105: nobody
        m.finish(&mut out);
        let got = slots(&out);
        let c = ulaw_decode(ulaw_encode(1000));
        let a = ulaw_decode(ulaw_encode(-2000));
        assert_eq!(
            got,
            vec![(c, 0), (c, 0), (c, 0), (c, a), (c, a), (0, 0), (c, 0)]
        );
        assert_eq!(out.len(), 7 * SLOT_BYTES);
    }

    #[test]
    fn a_huge_slot_jump_is_not_filled_with_silence() {
        let mut m = Mixer::new();
        let mut out = Vec::new();
        m.push(Side::Customer, 10, &frame(500), &mut out);
        m.push(Side::Customer, 11, &frame(500), &mut out);
        m.push(Side::Customer, 1_000_000_000, &frame(500), &mut out);
        m.finish(&mut out);
        assert_eq!(out.len(), 3 * SLOT_BYTES);
        // Within the limit, a gap is real time: silence.
        let mut m = Mixer::new();
        let mut out = Vec::new();
        m.push(Side::Customer, 0, &frame(500), &mut out);
        m.push(Side::Customer, 100, &frame(500), &mut out);
        m.finish(&mut out);
        assert_eq!(out.len(), 101 * SLOT_BYTES);
    }

    #[test]
    fn frames_older_than_the_written_slots_are_dropped_not_misplaced() {
        let mut m = Mixer::new();
        let mut out = Vec::new();
        for s in 0..20 {
            m.push(Side::Customer, s, &frame(500), &mut out);
        }
        let written = out.len();
        m.push(Side::Agent, 2, &frame(500), &mut out);
        assert_eq!(out.len(), written);
        assert_eq!(m.late_frames(), 1);
    }
}
