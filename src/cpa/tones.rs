//! Tone detection on 20 ms frames: SIT (ITU-T E.180 frequencies, North American segment
//! patterns), fax CNG (1100 Hz) and CED (2100 Hz), and the voicemail beep (one tone of
//! 850–1500 Hz lasting 0.3–1.5 s). No verdict rules beyond "this tone was heard": the
//! classifier decides what a hit means in its phase.
//!
//! How: each frame's strongest tone is measured ([`peak`]); consecutive frames holding one steady
//! tone (≥ 80 % of their energy in its main lobe, frequency within 1 % of the run's mean) form a
//! segment, which survives one or two frames of dropout (a phase jump, a burst of noise) and
//! ends at the third quiet frame or at a different tone. Segments are then read as patterns:
//! three in a row as a SIT ([`sit`]), a lone 850–1500 Hz one followed by no tone as a beep, two
//! 1100 Hz bursts three seconds apart as CNG, 500 ms of 2100 Hz as CED.
//!
//! Owns only its frame counter and those segments; touches no clock, socket or file.

mod peak;
mod sit;
#[cfg(test)]
pub(crate) mod test_audio;
#[cfg(test)]
mod tests;

use super::{FaxTone, SitVariant, FRAME, FRAME_MS};
use peak::PeakFinder;
use sit::Segment;

pub use sit::nominal as sit_nominal;

/// A tone pattern recognised, reported when it completes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ToneHit {
    /// Three SIT segments.
    Sit(SitVariant),
    /// A fax tone.
    Fax(FaxTone),
    /// A single beep of `freq_hz` that lasted `ms`.
    Beep {
        /// Its frequency.
        freq_hz: f64,
        /// How long it lasted.
        ms: u32,
    },
}

/// A frame counts as one tone when this share of its energy is in the tone's main lobe: a pure
/// tone under 20 dB of line noise or G.711 keeps above 0.95; speech, chords and DTMF pairs fall
/// well below.
const TONAL_SHARE: f32 = 0.8;
/// A frame continues a segment when its frequency is within this fraction of the segment's
/// mean: steady tones vary by a hertz or two, sung or spoken vowels glide by far more.
const STEADY: f32 = 0.01;
/// Non-tone frames a segment may bridge (a phase reversal, a noise burst); the next one ends it.
/// Also why a beep is reported 60 ms after it stops: the silence must last that long.
const BRIDGE_FRAMES: u32 = 2;
/// Shorter runs are transitions between tones, not segments (no pattern uses one).
const MIN_SEGMENT_MS: u32 = 60;
/// Non-tone frames allowed between SIT segments (E.180 allows 30 ms of silence, plus a frame
/// straddling the change of tone on each side).
const SIT_GAP_FRAMES: u32 = 3;

/// Beep: frequency band and length, each widened by the measurement's error (1 % of the
/// frequency; a frame, 20 ms, of the length) so a beep at the nominal edges (850 or 1500 Hz,
/// 300 or 1500 ms) is still one.
const BEEP_HZ: (f32, f32) = (841.0, 1515.0);
const BEEP_MS: (u32, u32) = (280, 1520);

/// CNG: 1100 ± 38 Hz (T.30), 0.5 s ± 15 % on, 3 s ± 15 % off. One burst is indistinguishable
/// from an 1100 Hz voicemail beep, so CNG is reported at the second burst (about 4 s in), the
/// safer choice; the first burst is reported as a beep.
const CNG_HZ: f32 = 1100.0;
const CNG_TOLERANCE_HZ: f32 = 38.0;
const CNG_ON_MS: (u32, u32) = (400, 600);
const CNG_OFF_MS: (u32, u32) = (2500, 3500);

/// CED: 2100 ± 15 Hz (V.25), reported once it has lasted 500 ms (it lasts 2.6–4 s).
const CED_HZ: f32 = 2100.0;
const CED_TOLERANCE_HZ: f32 = 21.0;
const CED_REPORT_MS: u32 = 500;

/// The segment being measured.
#[derive(Clone, Copy, Debug)]
struct Run {
    /// Frame index of its first frame.
    start: u64,
    /// Frames holding the tone.
    tone_frames: u32,
    /// Sum of their frequencies (for the mean).
    freq_sum: f32,
    /// Non-tone frames since the last tone frame (bridged if the tone comes back).
    missing: u32,
    /// Bridged non-tone frames inside it (count toward its length).
    bridged: u32,
    /// CED already reported for this run.
    ced_reported: bool,
}

impl Run {
    fn new(start: u64, freq: f32) -> Self {
        Run {
            start,
            tone_frames: 1,
            freq_sum: freq,
            missing: 0,
            bridged: 0,
            ced_reported: false,
        }
    }

    fn mean(&self) -> f32 {
        self.freq_sum / self.tone_frames as f32
    }

    fn frames(&self) -> u32 {
        self.tone_frames + self.bridged
    }

    /// Frame index just after its last tone frame.
    fn end(&self) -> u64 {
        self.start + u64::from(self.frames())
    }

    fn segment(&self) -> Segment {
        Segment {
            freq_hz: self.mean(),
            ms: self.frames() * FRAME_MS,
        }
    }
}

/// A finished segment with where it sat in the stream (frame indices).
#[derive(Clone, Copy, Debug)]
struct Placed {
    segment: Segment,
    start: u64,
    end: u64,
}

/// Tone detectors over one stream of frames.
#[derive(Debug, Default)]
pub struct ToneDetector {
    peaks: PeakFinder,
    /// Frames pushed so far.
    frame: u64,
    run: Option<Run>,
    /// The last three finished segments, oldest first (SIT candidates).
    recent: [Option<Placed>; 3],
    /// End (frame index) of the last CNG-like burst.
    cng_burst_end: Option<u64>,
    /// A segment that ended at a change of frequency: if what follows is only a transition
    /// (a frame straddling the tone's end reads as a third frequency) and then quiet, the
    /// segment ended alone after all and is read as a beep or a CNG burst.
    ended_at_change: Option<Placed>,
}

impl ToneDetector {
    /// A detector at the start of a stream.
    pub fn new() -> Self {
        ToneDetector::default()
    }

    /// 20 ms more audio; a hit when a tone pattern just completed.
    pub fn push(&mut self, frame: &[i16; FRAME]) -> Option<ToneHit> {
        let now = self.frame;
        self.frame += 1;
        let tone = self
            .peaks
            .analyse(frame)
            .filter(|p| p.share >= TONAL_SHARE)
            .map(|p| p.freq_hz);
        let Some(mut run) = self.run.take() else {
            self.run = tone.map(|f| Run::new(now, f));
            return None;
        };
        match tone {
            Some(f) if (f - run.mean()).abs() <= run.mean() * STEADY => {
                run.bridged += run.missing;
                run.missing = 0;
                run.tone_frames += 1;
                run.freq_sum += f;
                let hit = self.ced(&mut run);
                self.run = Some(run);
                hit
            }
            Some(f) => {
                // A different tone: this segment ended, the next begins here.
                self.run = Some(Run::new(now, f));
                self.finish(&run, true)
            }
            None if run.missing < BRIDGE_FRAMES => {
                run.missing += 1;
                self.run = Some(run);
                None
            }
            None => self.finish(&run, false),
        }
    }

    /// CED, once per run, as soon as the run is long enough.
    fn ced(&self, run: &mut Run) -> Option<ToneHit> {
        let long_enough = run.frames() * FRAME_MS >= CED_REPORT_MS;
        if run.ced_reported || !long_enough || (run.mean() - CED_HZ).abs() > CED_TOLERANCE_HZ {
            return None;
        }
        run.ced_reported = true;
        Some(ToneHit::Fax(FaxTone::Ced))
    }

    /// A segment ended; `next_is_tone` when another tone follows at once.
    fn finish(&mut self, run: &Run, next_is_tone: bool) -> Option<ToneHit> {
        let placed = Placed {
            segment: run.segment(),
            start: run.start,
            end: run.end(),
        };
        if placed.segment.ms < MIN_SEGMENT_MS {
            // A frame straddling a change of tone can read as a third frequency between the
            // two: a transition, not a segment (the sequence rules see it as a short gap).
            // When quiet follows it, the segment before it ended alone.
            let before = self.ended_at_change.take();
            if next_is_tone {
                self.ended_at_change = before;
                return None;
            }
            return before.and_then(|b| self.ended_alone(b));
        }
        self.ended_at_change = None;
        self.recent.rotate_left(1);
        self.recent[2] = Some(placed);
        if let Some(variant) = self.sit() {
            self.recent = [None; 3];
            return Some(ToneHit::Sit(variant));
        }
        if next_is_tone {
            self.ended_at_change = Some(placed);
            return None;
        }
        self.ended_alone(placed)
    }

    /// `placed` (the latest segment in `recent`) was followed by quiet: a CNG burst, a beep or
    /// nothing.
    fn ended_alone(&mut self, placed: Placed) -> Option<ToneHit> {
        let s = placed.segment;
        if self.cng(&placed) {
            return Some(ToneHit::Fax(FaxTone::Cng));
        }
        let beep =
            (BEEP_HZ.0..=BEEP_HZ.1).contains(&s.freq_hz) && (BEEP_MS.0..=BEEP_MS.1).contains(&s.ms);
        // A lone tone: one that followed another closely is part of a sequence (a SIT's second
        // segment, a melody), not a recording beep.
        let lone = match self.recent[1] {
            Some(prev) => placed.start.saturating_sub(prev.end) > u64::from(SIT_GAP_FRAMES),
            None => true,
        };
        (beep && lone).then_some(ToneHit::Beep {
            freq_hz: f64::from(s.freq_hz),
            ms: s.ms,
        })
    }

    /// The SIT the last three segments spell, if they are contiguous.
    fn sit(&self) -> Option<SitVariant> {
        let [Some(a), Some(b), Some(c)] = &self.recent else {
            return None;
        };
        let close =
            |x: &Placed, y: &Placed| y.start.saturating_sub(x.end) <= u64::from(SIT_GAP_FRAMES);
        if !(close(a, b) && close(b, c)) {
            return None;
        }
        sit::decode([&a.segment, &b.segment, &c.segment])
    }

    /// Whether `burst` is the second CNG burst (remembering it as the first otherwise).
    fn cng(&mut self, burst: &Placed) -> bool {
        let s = burst.segment;
        let is_burst = (s.freq_hz - CNG_HZ).abs() <= CNG_TOLERANCE_HZ
            && (CNG_ON_MS.0..=CNG_ON_MS.1).contains(&s.ms);
        if !is_burst {
            return false;
        }
        let second = self.cng_burst_end.is_some_and(|end| {
            let off_ms = burst.start.saturating_sub(end) * u64::from(FRAME_MS);
            (u64::from(CNG_OFF_MS.0)..=u64::from(CNG_OFF_MS.1)).contains(&off_ms)
        });
        self.cng_burst_end = Some(burst.end);
        second
    }
}
