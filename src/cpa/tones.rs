//! Tone detection on 20 ms frames: SIT (ITU-T E.180 frequencies, North American segment
//! patterns), fax CNG (1100 Hz) and CED (2100 Hz), and the voicemail beep (one tone of
//! 850–1500 Hz lasting 0.3–1.5 s). Goertzel filters; no verdict rules beyond "this tone was heard".
//!
//! SKELETON (owned by the cpa-signals branch): the signatures are the contract; bodies replaced.

use super::{FaxTone, SitVariant, FRAME};

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

/// Tone detectors over one stream of frames.
#[derive(Debug, Default)]
pub struct ToneDetector {}

impl ToneDetector {
    /// A detector at the start of a stream.
    pub fn new() -> Self {
        ToneDetector {}
    }

    /// 20 ms more audio; a hit when a tone pattern just completed.
    pub fn push(&mut self, _frame: &[i16; FRAME]) -> Option<ToneHit> {
        todo!("cpa-signals branch")
    }
}
