//! One call's analysis: the detectors of [`super`] run per phase over 20 ms frames, and the
//! decision rules that turn their outputs into one [`Decision`] (and a beep after a machine).
//!
//! SKELETON (owned by the cpa-amd branch): the signatures are the contract; bodies replaced.

use std::sync::Arc;

use super::fingerprint::Library;
use super::settings::CpaSettings;
use super::{CpaEvent, Decision, Phase, FRAME};

/// One call's analysis in one phase.
#[derive(Debug)]
pub struct Classifier {
    _phase: Phase,
}

impl Classifier {
    /// A new analysis; `library` holds the known announcements to match (none: matching off).
    pub fn new(_settings: &CpaSettings, phase: Phase, _library: Option<Arc<Library>>) -> Self {
        Classifier { _phase: phase }
    }

    /// 20 ms more audio; an event when one is reached (the verdict once, then possibly a beep).
    pub fn push(&mut self, _frame: &[i16; FRAME]) -> Option<CpaEvent> {
        todo!("cpa-amd branch")
    }

    /// The verdict (and, after a machine, the beep or its wait) is over: stop feeding.
    pub fn is_done(&self) -> bool {
        todo!("cpa-amd branch")
    }

    /// The audio ended (file end, far end hung up) before a verdict: the verdict it leaves.
    pub fn finish(&mut self) -> Decision {
        todo!("cpa-amd branch")
    }
}
