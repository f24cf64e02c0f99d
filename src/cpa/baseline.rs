//! The energy state machine Asterisk's app_amd documents, restated from its documentation (not
//! its code; see /work/shared/docs/cpa.md), with its documented defaults, so users can compare
//! outdial's detector with the one VICIdial ships. Owns only these rules; no tones, no
//! announcements.
//!
//! Per 20 ms frame, silence when the frame's mean absolute sample value is under
//! `silence_threshold` (app_amd's "average energy"), voice otherwise. Then, as documented:
//! - silence from the start past `initial_silence` → MACHINE (app_amd's answer to dead air);
//! - `min_word_length` of voice is a word; `between_words_silence` of silence ends it;
//! - words reaching `maximum_number_of_words` → MACHINE;
//! - one word longer than `maximum_word_length` → MACHINE;
//! - voice since the greeting began (its first word) past `greeting` → MACHINE;
//! - after a word, silence lasting `after_greeting_silence` → HUMAN;
//! - `total_analysis_time` without any of these → NOTSURE.
//!
//! HUMAN, MACHINE and NOTSURE are outdial's `human`, `machine` and `unsure`.

use super::settings::BaselineSettings;
use super::{Decision, Verdict, FRAME, FRAME_MS};

/// Milliseconds of a settings duration, saturated.
fn ms(d: crate::yaml::Dur) -> u32 {
    u32::try_from(d.millis()).unwrap_or(u32::MAX)
}

/// app_amd's documented state machine over one stream.
#[derive(Clone, Debug)]
pub struct Baseline {
    s: BaselineSettings,
    /// Milliseconds analysed.
    total_ms: u32,
    /// Consecutive silence, ms.
    silence_ms: u32,
    /// Consecutive voice, ms.
    voice_ms: u32,
    /// Voice since the greeting's first word, ms.
    greeting_voice_ms: u32,
    /// Inside a word (it reached `min_word_length` and no word-ending silence since).
    in_word: bool,
    /// A word has been heard.
    in_greeting: bool,
    words: u32,
    decided: bool,
}

impl Baseline {
    /// A detector at the answer.
    pub fn new(settings: &BaselineSettings) -> Self {
        Baseline {
            s: settings.clone(),
            total_ms: 0,
            silence_ms: 0,
            voice_ms: 0,
            greeting_voice_ms: 0,
            in_word: false,
            in_greeting: false,
            words: 0,
            decided: false,
        }
    }

    /// Whether app_amd would call this frame silence.
    pub fn is_silent(&self, frame: &[i16; FRAME]) -> bool {
        let sum: u64 = frame.iter().map(|&s| u64::from(s.unsigned_abs())).sum();
        sum / (FRAME as u64) < u64::from(self.s.silence_threshold)
    }

    /// Voice since the greeting's first word, ms.
    pub fn greeting_voice_ms(&self) -> u32 {
        self.greeting_voice_ms
    }

    /// 20 ms more audio; the verdict once it is reached (then `None` for ever).
    pub fn push(&mut self, frame: &[i16; FRAME]) -> Option<Decision> {
        if self.decided {
            return None;
        }
        let silent = self.is_silent(frame);
        self.total_ms += FRAME_MS;
        let decision = self.step(silent);
        self.decided = decision.is_some();
        decision
    }

    fn step(&mut self, silent: bool) -> Option<Decision> {
        let s = &self.s;
        if silent {
            self.silence_ms += FRAME_MS;
            self.voice_ms = 0;
            if !self.in_greeting && self.silence_ms >= ms(s.initial_silence) {
                let why = format!("initial silence {} ms", self.silence_ms);
                return Some(self.decide(Verdict::Machine, why));
            }
            if self.silence_ms >= ms(s.between_words_silence) {
                self.in_word = false;
            }
            if self.in_greeting && self.silence_ms >= ms(s.after_greeting_silence) {
                let why = format!("{} words, then {} ms silence", self.words, self.silence_ms);
                return Some(self.decide(Verdict::Human, why));
            }
        } else {
            self.voice_ms += FRAME_MS;
            self.silence_ms = 0;
            if self.in_greeting {
                self.greeting_voice_ms += FRAME_MS;
            }
            if !self.in_word && self.voice_ms >= ms(s.min_word_length) {
                self.in_word = true;
                self.words += 1;
                if !self.in_greeting {
                    // The greeting began with this word's first frame.
                    self.in_greeting = true;
                    self.greeting_voice_ms = self.voice_ms;
                }
                if self.words >= s.maximum_number_of_words {
                    let why = format!("maximum words {}", self.words);
                    return Some(self.decide(Verdict::Machine, why));
                }
            }
            if self.voice_ms > ms(s.maximum_word_length) {
                let why = format!("word longer than {} ms", ms(s.maximum_word_length));
                return Some(self.decide(Verdict::Machine, why));
            }
            if self.in_greeting && self.greeting_voice_ms > ms(s.greeting) {
                let why = format!("long greeting {} ms", self.greeting_voice_ms);
                return Some(self.decide(Verdict::Machine, why));
            }
        }
        if self.total_ms >= ms(self.s.total_analysis_time) {
            let why = format!("total analysis time {} ms", self.total_ms);
            return Some(self.decide(Verdict::Unsure, why));
        }
        None
    }

    fn decide(&self, verdict: Verdict, detail: String) -> Decision {
        Decision {
            verdict,
            decided_ms: self.total_ms,
            detail,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Frames of `ms` at a mean absolute value of `level` (a square wave), or silence.
    fn seg(ms: u32, level: i16) -> Vec<[i16; FRAME]> {
        let f: [i16; FRAME] = std::array::from_fn(|i| if i % 2 == 0 { level } else { -level });
        vec![f; (ms / FRAME_MS) as usize]
    }

    fn run(settings: &BaselineSettings, parts: &[(u32, i16)]) -> Decision {
        let mut b = Baseline::new(settings);
        let mut frames = Vec::new();
        for &(ms, level) in parts {
            frames.extend(seg(ms, level));
        }
        frames.extend(seg(10_000, 0));
        frames
            .iter()
            .find_map(|f| b.push(f))
            .expect("the total analysis time always decides")
    }

    fn defaults() -> BaselineSettings {
        BaselineSettings::default()
    }

    #[test]
    fn a_frame_is_silent_below_the_threshold_of_mean_absolute_value() {
        let b = Baseline::new(&defaults());
        assert!(b.is_silent(&seg(20, 255)[0]));
        assert!(!b.is_silent(&seg(20, 256)[0]));
    }

    #[test]
    fn initial_silence_past_its_limit_is_a_machine() {
        let d = run(&defaults(), &[]);
        assert_eq!((d.verdict.clone(), d.decided_ms), (Verdict::Machine, 2500));
        assert!(d.detail.starts_with("initial silence"), "{d:?}");
    }

    #[test]
    fn one_word_then_the_after_greeting_silence_is_a_person() {
        let d = run(&defaults(), &[(300, 0), (400, 2000)]);
        assert_eq!(d.verdict, Verdict::Human);
        // Voice ends at 700 ms; 800 ms of silence later.
        assert_eq!(d.decided_ms, 1500);
    }

    #[test]
    fn the_third_word_is_a_machine() {
        let word = (200, 2000);
        let gap = (100, 0);
        let d = run(&defaults(), &[word, gap, word, gap, word]);
        assert_eq!(d.verdict, Verdict::Machine);
        assert_eq!(d.detail, "maximum words 3");
        // The third word counts at its 100th ms: 200+100+200+100+100.
        assert_eq!(d.decided_ms, 700);
    }

    #[test]
    fn a_pause_shorter_than_between_words_does_not_split_a_word() {
        let d = run(&defaults(), &[(200, 2000), (40, 0), (200, 2000)]);
        // One word: then the after-greeting silence makes it a person.
        assert_eq!(d.verdict, Verdict::Human, "{d:?}");
    }

    #[test]
    fn voice_past_the_greeting_limit_is_a_machine() {
        // Two words (under the three that would decide), 1.6 s of voice in all.
        let d = run(&defaults(), &[(800, 2000), (100, 0), (800, 2000)]);
        assert_eq!(d.verdict, Verdict::Machine);
        assert!(d.detail.starts_with("long greeting"), "{d:?}");
        // Voice passes 1500 ms at 800 + 100 + 720 ms.
        assert_eq!(d.decided_ms, 1620);
    }

    #[test]
    fn one_word_longer_than_the_maximum_word_length_is_a_machine() {
        let mut s = defaults();
        s.greeting = crate::yaml::Dur(std::time::Duration::from_secs(20));
        s.maximum_word_length = crate::yaml::Dur(std::time::Duration::from_millis(1000));
        let d = run(&s, &[(3000, 2000)]);
        assert_eq!(d.verdict, Verdict::Machine);
        assert_eq!(d.decided_ms, 1020);
        assert!(d.detail.starts_with("word longer"), "{d:?}");
    }

    #[test]
    fn the_total_analysis_time_runs_out_as_unsure() {
        let mut s = defaults();
        s.greeting = crate::yaml::Dur(std::time::Duration::from_secs(20));
        s.maximum_number_of_words = 100;
        // Words of 300 ms with 500 ms pauses: never the after-greeting silence.
        let parts: Vec<(u32, i16)> = (0..20).flat_map(|_| [(300, 2000), (500, 0)]).collect();
        let d = run(&s, &parts);
        assert_eq!((d.verdict, d.decided_ms), (Verdict::Unsure, 5000));
    }
}
