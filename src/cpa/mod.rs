//! Call-progress analysis (issue 18): what answered a call, told from its audio — a person, a
//! voicemail greeting, a carrier's recorded announcement, Special Information Tones, fax or dead
//! air — and when a voicemail's recording beep sounds.
//!
//! Sans-IO: 20 ms frames of 8 kHz 16-bit audio in ([`crate::media::io::TapFrame`]'s `pcm`),
//! [`CpaEvent`]s out. Time is counted in frames pushed, so the same audio always gives the same
//! verdict at the same millisecond, live or offline. Nothing here reads a clock, a socket, the
//! store or a SIP header; the media shell feeds it, the engine acts on its verdicts, and
//! `outdial cpa` runs it over WAV files.
//!
//! Parts, each owning one thing:
//! - [`classifier`]: [`classifier::Classifier`], one call's analysis: runs the detectors below
//!   per phase and decides.
//! - [`settings`]: [`settings::CpaSettings`], every threshold with its documented default.
//! - [`vad`]: voice activity (speech or not, per frame).
//! - [`amd`]: outdial's greeting-cadence answering-machine detector.
//! - [`pitch`]: the pitch of a frame of voiced speech.
//! - [`intonation`]: a first utterance's final pitch against its own (question or statement).
//! - [`baseline`]: the energy state machine Asterisk's app_amd documents, with its defaults.
//! - [`tones`]: SIT (ITU-T E.180 / North American), fax CNG/CED and the voicemail beep.
//! - [`fingerprint`]: known announcements, matched by spectral-peak landmarks.
//! - [`score`]: a labelled corpus's confusion matrix, recall per class and decision times.

pub mod amd;
pub mod baseline;
pub mod classifier;
pub mod fingerprint;
pub mod intonation;
pub mod pitch;
pub mod score;
pub mod settings;
pub mod tones;
pub mod vad;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Samples in one frame: 20 ms at 8 kHz.
pub const FRAME: usize = 160;
/// Milliseconds per frame.
pub const FRAME_MS: u32 = 20;

/// `pcm` after `lead` samples of silence and before `trail` more, cut into frames (the last
/// padded with silence): a whole clip as the per-frame detectors take it.
pub fn frames_of(pcm: &[i16], lead: usize, trail: usize) -> Vec<[i16; FRAME]> {
    let padded: Vec<i16> = std::iter::repeat_n(0, lead)
        .chain(pcm.iter().copied())
        .chain(std::iter::repeat_n(0, trail))
        .collect();
    padded
        .chunks(FRAME)
        .map(|c| std::array::from_fn(|i| c.get(i).copied().unwrap_or(0)))
        .collect()
}

/// Which part of the call the audio comes from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Early media (a 183 before the answer): announcements and SIT only. Ringback, music and
    /// coloured ringback tones (彩铃) are neither and yield no verdict.
    Early,
    /// After the answer: AMD, plus the announcements, SIT and fax carriers and machines play.
    #[default]
    Answer,
}

/// The Special Information Tone variants (North American codes, ITU-T E.180 frequencies).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SitVariant {
    /// Number changed or disconnected (IC).
    Intercept,
    /// Vacant code (VC).
    VacantCode,
    /// No circuit found, interLATA (NC).
    NoCircuit,
    /// Reorder, system busy (RO).
    Reorder,
    /// Ineffective other (IO).
    IneffectiveOther,
    /// Three SIT segments whose pattern names no known condition.
    Unknown,
}

/// Which fax tone was heard.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaxTone {
    /// Calling tone, 1100 Hz (T.30).
    Cng,
    /// Answer tone, 2100 Hz (V.25).
    Ced,
}

/// What answered (or what the early media said).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// A person.
    Human,
    /// A voicemail greeting (a [`CpaEvent::Beep`] may follow).
    Machine,
    /// A known recorded announcement, by its reference's name (e.g. `cmn/powered-off`), or
    /// `None` while only the class is certain: the audio so far is words several references
    /// share ("您拨打的电话…"), and the name follows as [`CpaEvent::Named`] (the candidates are
    /// in the decision's `detail`).
    Announcement(Option<String>),
    /// Special Information Tones.
    Sit(SitVariant),
    /// A fax machine.
    Fax(FaxTone),
    /// Dead air.
    Silence,
    /// The analysis time ran out.
    Unsure,
}

impl Verdict {
    /// The seven verdict names, as `outdial cpa classify --json` and the labels use them.
    pub const NAMES: [&'static str; 7] = [
        "human",
        "machine",
        "announcement",
        "sit",
        "fax",
        "silence",
        "unsure",
    ];

    /// This verdict's name (one of [`Verdict::NAMES`]).
    pub fn name(&self) -> &'static str {
        match self {
            Verdict::Human => "human",
            Verdict::Machine => "machine",
            Verdict::Announcement(_) => "announcement",
            Verdict::Sit(_) => "sit",
            Verdict::Fax(_) => "fax",
            Verdict::Silence => "silence",
            Verdict::Unsure => "unsure",
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A verdict name that is not one of [`Verdict::NAMES`].
#[derive(Debug, thiserror::Error)]
#[error("unknown verdict {0:?} (expected one of human, machine, announcement, sit, fax, silence, unsure)")]
pub struct UnknownVerdict(pub String);

/// A verdict's class without its detail (what labels, policies and figures are keyed by).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VerdictClass {
    /// See [`Verdict::Human`].
    Human,
    /// See [`Verdict::Machine`].
    Machine,
    /// See [`Verdict::Announcement`].
    Announcement,
    /// See [`Verdict::Sit`].
    Sit,
    /// See [`Verdict::Fax`].
    Fax,
    /// See [`Verdict::Silence`].
    Silence,
    /// See [`Verdict::Unsure`].
    Unsure,
}

impl VerdictClass {
    /// Every class, in [`Verdict::NAMES`] order.
    pub const ALL: [VerdictClass; 7] = [
        VerdictClass::Human,
        VerdictClass::Machine,
        VerdictClass::Announcement,
        VerdictClass::Sit,
        VerdictClass::Fax,
        VerdictClass::Silence,
        VerdictClass::Unsure,
    ];

    /// The class's name (one of [`Verdict::NAMES`]).
    pub fn name(self) -> &'static str {
        Verdict::NAMES[self as usize]
    }
}

impl From<&Verdict> for VerdictClass {
    fn from(v: &Verdict) -> Self {
        match v {
            Verdict::Human => VerdictClass::Human,
            Verdict::Machine => VerdictClass::Machine,
            Verdict::Announcement(_) => VerdictClass::Announcement,
            Verdict::Sit(_) => VerdictClass::Sit,
            Verdict::Fax(_) => VerdictClass::Fax,
            Verdict::Silence => VerdictClass::Silence,
            Verdict::Unsure => VerdictClass::Unsure,
        }
    }
}

impl FromStr for VerdictClass {
    type Err = UnknownVerdict;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        VerdictClass::ALL
            .into_iter()
            .find(|c| c.name() == s)
            .ok_or_else(|| UnknownVerdict(s.to_string()))
    }
}

impl fmt::Display for VerdictClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A verdict with the time it was reached.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    /// What answered.
    pub verdict: Verdict,
    /// Milliseconds of audio analysed when the verdict was reached (from the first frame of the
    /// phase).
    pub decided_ms: u32,
    /// Why, for people: e.g. `greeting 2140 ms`, `announcement cmn/vacant at 0.8 s`, `SIT
    /// intercept`, `initial silence 2500 ms`.
    pub detail: String,
}

/// What a [`classifier::Classifier`] reports, at most one of each per call: the verdict, then
/// possibly a beep (after a machine) or a name (after an announcement without one).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum CpaEvent {
    /// The verdict (once).
    Verdict(Decision),
    /// After an announcement verdict without a name: which reference it is, once the words
    /// that tell the candidates apart were heard (`at_ms` as `decided_ms`). Never sent when
    /// the classifier's `announcement_name_wait` runs out first.
    Named {
        /// The reference's name.
        name: String,
        /// When it was known.
        at_ms: u32,
    },
    /// After a [`Verdict::Machine`]: the greeting's recording beep ended at `at_ms` (time of the
    /// phase, as `decided_ms`); a message played now is recorded.
    Beep {
        /// When the beep ended.
        at_ms: u32,
    },
}
