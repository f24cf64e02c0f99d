//! Every threshold of call-progress analysis, with its documented default (a campaign's `cpa:`
//! settings, or the file `outdial cpa classify --settings` reads). Plain data and its bounds;
//! owns no detection, reads no file.
//!
//! ```yaml
//! amd: default            # default | baseline | off
//! adaptive: { after_utterance_silence: 450ms }
//! baseline: { silence_threshold: 256 }
//! beep_wait: 15s
//! ```

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::yaml::Dur;

/// Which answering-machine detector runs after the answer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AmdMode {
    /// outdial's detector: voice activity, then the greeting's cadence ([`super::amd`]).
    #[default]
    Default,
    /// app_amd's documented energy state machine with its defaults ([`super::baseline`]).
    Baseline,
    /// No AMD: announcements, SIT and fax only; what would have been a person or a machine ends
    /// as `unsure` when the audio ends or the early limit passes.
    Off,
}

impl std::str::FromStr for AmdMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "default" => Ok(AmdMode::Default),
            "baseline" => Ok(AmdMode::Baseline),
            "off" => Ok(AmdMode::Off),
            _ => Err(format!(
                "unknown amd mode {s:?} (expected default, baseline or off)"
            )),
        }
    }
}

fn ms(n: u64) -> Dur {
    Dur(Duration::from_millis(n))
}

/// The analysis settings. Every field has a default; unknown fields are refused.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CpaSettings {
    /// Which AMD runs after the answer. Default `default` (outdial's detector).
    pub amd: AmdMode,
    /// outdial's detector ([`AdaptiveSettings`]), used when `amd: default`.
    pub adaptive: AdaptiveSettings,
    /// app_amd's state machine ([`BaselineSettings`]), used when `amd: baseline`.
    pub baseline: BaselineSettings,
    /// After a `machine` verdict, how long to keep listening for the greeting's recording beep
    /// (greetings run 2–12 s; the verdict usually comes within 2 s of the start). Default 15 s;
    /// 0 s: do not wait.
    pub beep_wait: Dur,
    /// In early media (before the answer), how long to listen for SIT or an announcement before
    /// giving up (`unsure`). Default 60 s: longer than any ring timeout.
    pub early_limit: Dur,
    /// When AMD says `machine` and a library of announcements is loaded, how long the verdict is
    /// held so the matcher can still name a carrier's announcement (which also sounds like a
    /// long greeting). Default 2 s: carriers' messages often share their first seconds
    /// ("您拨打的电话已…关机 / 停机"), so a match may need the word that tells them apart.
    pub announcement_grace: Dur,
    /// When AMD says `human` and the matcher has already found at least
    /// `announcement_evidence` votes for one alignment of a known announcement, the verdict is
    /// held up to `announcement_hold` so the matcher can name it: a cut into a carrier's message
    /// often starts with the tail of a phrase and a pause, which is a person's cadence. Speech
    /// that is no reference gathers a few chance votes (on the generated corpus: median 6,
    /// 4 people in 320 over 20), so few people are held. Default 20 votes.
    pub announcement_evidence: u32,
    /// See `announcement_evidence`; 0 s: never hold a person. Default 2 s (as
    /// `announcement_grace`: the words that tell carriers' messages apart).
    pub announcement_hold: Dur,
    /// After an announcement verdict given before its name was known (the audio so far was
    /// words several references share), how long the matcher listens on for the word that
    /// names it. Default 4 s: the shipped Mandarin messages differ 1.5–2.5 s in, and a call
    /// joining just after that word waits for the carrier's repeat. 0 s: do not wait.
    pub announcement_name_wait: Dur,
}

impl Default for CpaSettings {
    fn default() -> Self {
        CpaSettings {
            amd: AmdMode::Default,
            adaptive: AdaptiveSettings::default(),
            baseline: BaselineSettings::default(),
            beep_wait: ms(15_000),
            early_limit: ms(60_000),
            announcement_grace: ms(2_000),
            announcement_evidence: 20,
            announcement_hold: ms(2_000),
            announcement_name_wait: ms(4_000),
        }
    }
}

/// outdial's AMD ([`super::amd`]) and its voice activity detector ([`super::vad`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdaptiveSettings {
    /// Silence from the answer to the first speech that makes the call dead air (`silence`).
    /// Default 2500 ms.
    pub initial_silence: Dur,
    /// Speech bursts shorter than this are clicks or noise, not words (a 40 ms click can touch
    /// three frames). Default 100 ms.
    pub min_word: Dur,
    /// A pause at least this long ends a word (words are counted for `max_words`). Default
    /// 100 ms.
    pub word_gap: Dur,
    /// A first utterance longer than this is a greeting (`machine`): people say "喂?" or
    /// "Hello?" in 0.3–1.5 s and wait, but some introduce themselves ("喂,你好,我是张伟,
    /// 请问哪位?", 2–4 s spoken slowly, up to 5 s) and wait too; a greeting talks on past that.
    /// Default 5000 ms: 2200 ms hung up on most people who said who they were; 4500 ms (until
    /// the intonation rules judged a long first utterance at its pause) hung up on slow
    /// introductions. Full generated corpus, seeds 7, 18 and a held-out 3, 4500 → 5000 ms (with
    /// `total_analysis` 6000 → 6500 ms): people +3, +1, +7; greetings −0, −1, −2; people hung up
    /// on 12 → 3 of 960; 5500 ms (7000 ms): greetings −2, −4, −3 for the same people
    /// (BENCHMARKS.md).
    pub max_utterance: Dur,
    /// Silence after a first utterance no longer than `max_utterance` that makes it a person
    /// (`human`): the person waits for an answer, a greeting goes on. Shorter pauses (the
    /// comma in "你好,哪位?", a greeting's sentence breaks) belong to the utterance. Default
    /// 450 ms.
    pub after_utterance_silence: Dur,
    /// An utterance longer than this is a sentence ("请留言。", "Please leave a message."),
    /// which a greeting may follow with another sentence or its beep after a longer breath: it
    /// needs `after_long_utterance_silence` instead. "喂?" and "Hello?" stay under it. Default
    /// 700 ms.
    pub short_utterance: Dur,
    /// Silence after an utterance longer than `short_utterance` that makes it a person: long
    /// enough for a short greeting's beep to start (it follows the words by 0.2–1 s). Default
    /// 900 ms.
    pub after_long_utterance_silence: Dur,
    /// A first "utterance" shorter than this, followed by a person's pause, is not yet taken for
    /// a word: a click, a breath, or the last syllable's fragment of a carrier's message that was
    /// playing when the call was answered (its repeat follows the loop's pause). The AMD
    /// forgets it and listens on; see `after_short_sound_silence`. Shorter than any answer's
    /// word ("喂" 160 ms or more at espeak's fastest). Default 140 ms; 0 s: every word counts.
    pub short_sound: Dur,
    /// Silence after a forgotten `short_sound` that makes it a person after all (someone who
    /// said "嗯" and waits): long enough for a looped message's pause (0.5–1.5 s) to end.
    /// Default 1500 ms.
    pub after_short_sound_silence: Dur,
    /// Words (speech bursts of at least `min_word`) in the first utterance that make it a
    /// greeting even before `max_utterance`. Default 8.
    pub max_words: u32,
    /// A first utterance at least this long, followed by a person's pause, whose end does not
    /// rise in pitch (see `final_rise_semitones`) is a greeting (`machine`), decided at the
    /// moment it would have been a person. People who answer with a sentence this long ask who
    /// is calling ("喂,你好,我是张伟,请问哪位?", "…who is calling please?"), and a
    /// question ends high; a one-sentence greeting ("请在提示音后留言。", "Hi, you've reached
    /// Sarah.") is read, and ends low or level. Shorter answers ("喂?", "Hello, speaking.")
    /// are left to cadence: many are level or falling (English "Hello, who's this?" falls, as
    /// wh-questions do). Default 2000 ms (full generated corpus: 19 greetings more and no
    /// person lost on seed 18, 16 more and 2 people lost on seed 7, of 310 machines and 320
    /// people; BENCHMARKS.md). 0 s: rule off (and no pitch is measured).
    pub declarative_utterance: Dur,
    /// How far (semitones) the highest pitch of the utterance's last 300 ms must rise over its
    /// median pitch for the end to count as a question's under `declarative_utterance`. A
    /// question's rise is several semitones; read speech ends level or under its median. Default
    /// 0.5 (full generated corpus, first utterances of 2 s or more then a pause: people's ends
    /// median +1.3..+3.6 by language, lowest +0.6 on seed 18 and +0.0, +0.3 on seed 7; the
    /// greetings cadence calls people median 0.0, 10th–90th percentile −2..+2, those over the
    /// threshold ending on a comma's continuation rise).
    pub final_rise_semitones: f64,
    /// A first utterance at least this long (and shorter than `declarative_utterance`, whose
    /// rule judges the longer ones; all lengths from here when that rule is off), followed by a
    /// person's pause, whose pitch falls across it (see `final_fall_semitones`) and whose end
    /// does not rise `final_rise_semitones` is a greeting (`machine`), decided at the moment it
    /// would have been a person. A read statement declines toward its end ("Please leave a
    /// message.", "Leave a message after the tone."); a question ends high. Default 1600 ms
    /// (full generated corpus, greetings gained / people lost, seeds 7 and 18: 1600 ms +5 / 0
    /// and +2 / 0; 1500 ms +5 / 0 and +2 / −1, a Mandarin "喂,你好,哪位啊?" of 1.56 s falling
    /// 1.3; 1700 ms +3 / 0 and +1 / 0. English people's falling answers, "Hello, speaking.",
    /// "Hello, who's this?", last 1.0–1.46 s there; BENCHMARKS.md). 0 s: rule off.
    pub falling_utterance: Dur,
    /// How far (semitones) the median pitch of the utterance's last third must sit under its
    /// median for `falling_utterance`'s rule. Default 1.25 (full generated corpus, first
    /// utterances of 1.6–2 s then a pause: people at most 0.77; the greetings cadence calls
    /// people 1.05–2.96, but for one English and two Cantonese ending level, −0.18..0.0; 1.0
    /// gains one more greeting on seed 7 with 0.23 semitone to the nearest person).
    pub final_fall_semitones: f64,
    /// Total analysis time; past it the verdict is `unsure`. Default 6500 ms (room for up to
    /// 1 s before the first word, a `max_utterance` and the pause after it).
    pub total_analysis: Dur,
    /// A frame is speech when its level is this many dB above the tracked noise floor.
    /// Default 9 dB.
    pub speech_above_floor_db: f64,
    /// Frames quieter than this (dBFS, RMS) are never speech, whatever the floor. Default −60.
    pub min_speech_dbfs: f64,
}

impl Default for AdaptiveSettings {
    fn default() -> Self {
        AdaptiveSettings {
            initial_silence: ms(2500),
            min_word: ms(100),
            word_gap: ms(100),
            max_utterance: ms(5000),
            after_utterance_silence: ms(450),
            short_utterance: ms(700),
            after_long_utterance_silence: ms(900),
            short_sound: ms(140),
            after_short_sound_silence: ms(1500),
            max_words: 8,
            declarative_utterance: ms(2000),
            final_rise_semitones: 0.5,
            falling_utterance: ms(1600),
            final_fall_semitones: 1.25,
            total_analysis: ms(6500),
            speech_above_floor_db: 9.0,
            min_speech_dbfs: -60.0,
        }
    }
}

/// app_amd's parameters, with the defaults its documentation gives ([`super::baseline`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BaselineSettings {
    /// Silence before the first word that makes it a machine. Default 2500 ms.
    pub initial_silence: Dur,
    /// Longest greeting (voice since it began) before it is a machine. Default 1500 ms.
    pub greeting: Dur,
    /// Silence after the greeting that makes it a person. Default 800 ms.
    pub after_greeting_silence: Dur,
    /// Total analysis time; past it NOTSURE. Default 5000 ms.
    pub total_analysis_time: Dur,
    /// Shortest voice that counts as a word. Default 100 ms.
    pub min_word_length: Dur,
    /// Silence that ends a word. Default 50 ms.
    pub between_words_silence: Dur,
    /// Words that make it a machine. Default 3.
    pub maximum_number_of_words: u32,
    /// Longest single word before it is a machine. Default 5000 ms.
    pub maximum_word_length: Dur,
    /// A frame whose mean absolute sample value is below this is silence (16-bit scale).
    /// Default 256.
    pub silence_threshold: u32,
}

impl Default for BaselineSettings {
    fn default() -> Self {
        BaselineSettings {
            initial_silence: ms(2500),
            greeting: ms(1500),
            after_greeting_silence: ms(800),
            total_analysis_time: ms(5000),
            min_word_length: ms(100),
            between_words_silence: ms(50),
            maximum_number_of_words: 3,
            maximum_word_length: ms(5000),
            silence_threshold: 256,
        }
    }
}

/// A setting out of its bounds.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("{field}: {message}")]
pub struct SettingsError {
    /// Dotted path of the field (`adaptive.max_utterance`).
    pub field: String,
    /// What is wrong and the allowed range.
    pub message: String,
}

/// Longest analysis any setting may ask for: a minute of audio.
const MAX_ANALYSIS: Duration = Duration::from_secs(60);

fn check_dur(field: &str, value: Dur, min: Duration, max: Duration) -> Result<(), SettingsError> {
    crate::yaml::check_dur(field, value, min, max)
        .map_err(|(field, message)| SettingsError { field, message })
}

fn check_count(field: &str, value: u64, min: u64, max: u64) -> Result<(), SettingsError> {
    crate::yaml::check_count(field, value, min, max)
        .map_err(|(field, message)| SettingsError { field, message })
}

fn check_db(field: &str, value: f64, min: f64, max: f64) -> Result<(), SettingsError> {
    if value.is_finite() && (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(SettingsError {
            field: field.to_string(),
            message: format!("{value} is out of range: give {min} to {max}"),
        })
    }
}

impl CpaSettings {
    /// Checks every value against its bound; the error names the field (dotted, relative to
    /// these settings) and the allowed range.
    pub fn validate(&self) -> Result<(), SettingsError> {
        let frame = Duration::from_millis(u64::from(super::FRAME_MS));
        check_dur("beep_wait", self.beep_wait, Duration::ZERO, MAX_ANALYSIS)?;
        check_dur(
            "early_limit",
            self.early_limit,
            frame,
            Duration::from_secs(300),
        )?;
        check_dur(
            "announcement_grace",
            self.announcement_grace,
            Duration::ZERO,
            Duration::from_secs(10),
        )?;
        check_count(
            "announcement_evidence",
            u64::from(self.announcement_evidence),
            1,
            10_000,
        )?;
        check_dur(
            "announcement_hold",
            self.announcement_hold,
            Duration::ZERO,
            Duration::from_secs(10),
        )?;
        self.adaptive.validate()?;
        self.baseline.validate()
    }
}

impl AdaptiveSettings {
    fn validate(&self) -> Result<(), SettingsError> {
        let frame = Duration::from_millis(u64::from(super::FRAME_MS));
        let a = self;
        check_dur(
            "adaptive.initial_silence",
            a.initial_silence,
            frame,
            MAX_ANALYSIS,
        )?;
        check_dur(
            "adaptive.min_word",
            a.min_word,
            Duration::ZERO,
            Duration::from_secs(1),
        )?;
        check_dur(
            "adaptive.word_gap",
            a.word_gap,
            frame,
            Duration::from_secs(2),
        )?;
        check_dur(
            "adaptive.max_utterance",
            a.max_utterance,
            frame,
            MAX_ANALYSIS,
        )?;
        check_dur(
            "adaptive.after_utterance_silence",
            a.after_utterance_silence,
            frame,
            Duration::from_secs(10),
        )?;
        if a.after_utterance_silence < a.word_gap {
            return Err(SettingsError {
                field: "adaptive.after_utterance_silence".into(),
                message: format!(
                    "{} is under word_gap ({}): a pause between words would end the utterance",
                    a.after_utterance_silence, a.word_gap
                ),
            });
        }
        check_dur(
            "adaptive.short_utterance",
            a.short_utterance,
            frame,
            MAX_ANALYSIS,
        )?;
        check_dur(
            "adaptive.after_long_utterance_silence",
            a.after_long_utterance_silence,
            a.after_utterance_silence.0,
            Duration::from_secs(10),
        )?;
        check_dur(
            "adaptive.short_sound",
            a.short_sound,
            Duration::ZERO,
            Duration::from_secs(1),
        )?;
        check_dur(
            "adaptive.after_short_sound_silence",
            a.after_short_sound_silence,
            a.after_utterance_silence.0,
            Duration::from_secs(10),
        )?;
        check_count("adaptive.max_words", u64::from(a.max_words), 1, 1000)?;
        check_dur(
            "adaptive.declarative_utterance",
            a.declarative_utterance,
            Duration::ZERO,
            MAX_ANALYSIS,
        )?;
        check_db(
            "adaptive.final_rise_semitones",
            a.final_rise_semitones,
            -12.0,
            12.0,
        )?;
        check_dur(
            "adaptive.falling_utterance",
            a.falling_utterance,
            Duration::ZERO,
            MAX_ANALYSIS,
        )?;
        check_db(
            "adaptive.final_fall_semitones",
            a.final_fall_semitones,
            0.0,
            12.0,
        )?;
        check_dur(
            "adaptive.total_analysis",
            a.total_analysis,
            frame,
            MAX_ANALYSIS,
        )?;
        check_db(
            "adaptive.speech_above_floor_db",
            a.speech_above_floor_db,
            1.0,
            60.0,
        )?;
        check_db("adaptive.min_speech_dbfs", a.min_speech_dbfs, -96.0, -10.0)
    }
}

impl BaselineSettings {
    fn validate(&self) -> Result<(), SettingsError> {
        let frame = Duration::from_millis(u64::from(super::FRAME_MS));
        let b = self;
        check_dur(
            "baseline.initial_silence",
            b.initial_silence,
            frame,
            MAX_ANALYSIS,
        )?;
        check_dur("baseline.greeting", b.greeting, frame, MAX_ANALYSIS)?;
        check_dur(
            "baseline.after_greeting_silence",
            b.after_greeting_silence,
            frame,
            MAX_ANALYSIS,
        )?;
        check_dur(
            "baseline.total_analysis_time",
            b.total_analysis_time,
            frame,
            MAX_ANALYSIS,
        )?;
        check_dur(
            "baseline.min_word_length",
            b.min_word_length,
            Duration::ZERO,
            Duration::from_secs(5),
        )?;
        check_dur(
            "baseline.between_words_silence",
            b.between_words_silence,
            Duration::ZERO,
            Duration::from_secs(5),
        )?;
        check_count(
            "baseline.maximum_number_of_words",
            u64::from(b.maximum_number_of_words),
            1,
            1000,
        )?;
        check_dur(
            "baseline.maximum_word_length",
            b.maximum_word_length,
            frame,
            MAX_ANALYSIS,
        )?;
        check_count(
            "baseline.silence_threshold",
            u64::from(b.silence_threshold),
            1,
            32_767,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_baseline_matches_app_amd_documentation() {
        let s = CpaSettings::default();
        s.validate().unwrap();
        let b = &s.baseline;
        let got = [
            b.initial_silence.millis(),
            b.greeting.millis(),
            b.after_greeting_silence.millis(),
            b.total_analysis_time.millis(),
            b.min_word_length.millis(),
            b.between_words_silence.millis(),
        ];
        assert_eq!(got, [2500, 1500, 800, 5000, 100, 50]);
        assert_eq!(b.maximum_number_of_words, 3);
        assert_eq!(b.silence_threshold, 256);
    }

    #[test]
    fn an_empty_file_is_the_defaults_and_a_partial_one_keeps_the_rest() {
        let s: CpaSettings = crate::yaml::parse("c.yaml", "{}").unwrap();
        assert_eq!(s, CpaSettings::default());
        let text = "amd: baseline\nadaptive:\n  after_utterance_silence: 600ms\n";
        let s: CpaSettings = crate::yaml::parse("c.yaml", text).unwrap();
        assert_eq!(s.amd, AmdMode::Baseline);
        assert_eq!(s.adaptive.after_utterance_silence.millis(), 600);
        assert_eq!(
            s.adaptive.max_utterance,
            AdaptiveSettings::default().max_utterance
        );
    }

    #[test]
    fn unknown_fields_are_refused_with_their_line() {
        let text = "amd: default\nadaptive:\n  max_utterence: 2s\n";
        let err = crate::yaml::parse::<CpaSettings>("c.yaml", text)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("c.yaml:3: adaptive.max_utterence: unknown field"),
            "{err}"
        );
    }

    #[test]
    fn out_of_range_values_name_their_field() {
        let mut s = CpaSettings::default();
        s.adaptive.after_utterance_silence = ms(60);
        let err = s.validate().unwrap_err();
        assert_eq!(err.field, "adaptive.after_utterance_silence");
        let mut s = CpaSettings::default();
        s.baseline.silence_threshold = 0;
        assert_eq!(
            s.validate().unwrap_err().field,
            "baseline.silence_threshold"
        );
        let mut s = CpaSettings::default();
        s.adaptive.speech_above_floor_db = f64::NAN;
        assert_eq!(
            s.validate().unwrap_err().field,
            "adaptive.speech_above_floor_db"
        );
        let s = CpaSettings {
            early_limit: ms(0),
            ..CpaSettings::default()
        };
        assert_eq!(s.validate().unwrap_err().field, "early_limit");
    }
}
