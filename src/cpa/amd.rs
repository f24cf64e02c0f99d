//! outdial's answering-machine detector: the greeting's cadence, read from [`super::vad`]'s
//! speech/pause per frame. Owns the rules from cadence to `human` / `machine` / `silence` /
//! `unsure`; knows nothing of tones or announcements ([`super::classifier`] weighs those).
//!
//! A person picking up says one thing ("喂?", "你好,哪位?", "Hello?", 0.3–1.5 s; up to 4 s
//! when they say who they are) and then waits for an answer; a greeting talks on for 2–12 s
//! with only short breaks between its sentences, and a short one ("请留言。") is followed by
//! its beep within a second. So:
//! - no speech for `initial_silence` → `silence` (dead air);
//! - the first utterance (speech, with pauses shorter than `after_utterance_silence` inside it)
//!   running past `max_utterance`, or holding `max_words` words → `machine`;
//! - that utterance followed by `after_utterance_silence` of pause → `human`, as soon as the
//!   pause is long enough: the decision a person waits for is made in their first pause
//!   (`after_long_utterance_silence` after an utterance longer than `short_utterance`: a
//!   greeting's first sentence is often followed by a longer breath than its commas, or by
//!   its beep, which then continues the utterance and [`super::classifier`] hears it);
//! - a first "utterance" shorter than `short_sound` is not taken for a word when the pause
//!   comes: a click, a breath, or the last fragment of a carrier's looped message that was
//!   playing at the answer. It is forgotten and the next speech starts the first utterance;
//!   if only silence follows for `after_short_sound_silence`, it was a person after all
//!   (`human`);
//! - `total_analysis` without any of these → `unsure`.
//!
//! And one rule past cadence, from the utterance's intonation ([`super::intonation`]): an
//! utterance of at least `declarative_utterance` whose end does not rise by
//! `final_rise_semitones` over its median pitch → `machine`, at the moment the pause would have
//! made it a person. A person who says that much asks who is calling, and a question ends
//! high; a greeting's sentence is read, and ends level or low.
//!
//! And its shorter companion: an utterance of at least `falling_utterance` (but under
//! `declarative_utterance`) whose last third sits `final_fall_semitones` under its median pitch
//! and whose end does not rise → `machine`, at the same moment. Under 2 s "no rise" is not
//! enough (many short answers end level: espeak's "喂,你好,哪位啊?"), but a clear fall across
//! the sentence is the declination of a read statement ("Please leave a message.", "Leave a
//! message after the tone."); a question's rise at the end still makes it a person's.

use super::intonation::{Intonation, TAIL_FRAMES};
use super::settings::AdaptiveSettings;
use super::vad::Vad;
use super::{Decision, Verdict, FRAME, FRAME_MS};

/// Whole frames in a duration of settings (at least one where the setting is not zero).
fn frames(d: crate::yaml::Dur) -> u32 {
    let ms = u32::try_from(d.millis()).unwrap_or(u32::MAX);
    ms.div_ceil(FRAME_MS)
}

/// The thresholds in frames.
#[derive(Clone, Copy, Debug)]
struct Limits {
    initial_silence: u32,
    min_word: u32,
    word_gap: u32,
    max_utterance: u32,
    after_utterance_silence: u32,
    short_utterance: u32,
    after_long_utterance_silence: u32,
    short_sound: u32,
    after_short_sound_silence: u32,
    max_words: u32,
    total_analysis: u32,
    /// 0: the intonation rule is off.
    declarative_utterance: u32,
    final_rise: f32,
    /// 0: the declination rule is off.
    falling_utterance: u32,
    final_fall: f32,
    /// The shortest utterance either intonation rule judges (the shorter of
    /// `falling_utterance` and `declarative_utterance` that is on; 0 when both are off).
    judged_from: u32,
}

/// The first utterance, once its first word is heard.
#[derive(Clone, Copy, Debug)]
struct Utterance {
    /// Frame at which its first word began.
    start: u32,
    /// Frame after its last speech frame so far.
    end: u32,
    /// Words counted so far.
    words: u32,
}

/// outdial's AMD over one stream.
#[derive(Clone, Debug)]
pub struct Amd {
    limits: Limits,
    vad: Vad,
    /// Frames pushed.
    frames: u32,
    /// Consecutive speech frames up to the last one.
    speech_run: u32,
    /// Consecutive pause frames up to the last one.
    pause_run: u32,
    /// The current speech run has been counted as a word.
    in_word: bool,
    utterance: Option<Utterance>,
    /// A sound too short for a word, forgotten at the pause after it (see `short_sound`), while
    /// nothing else has been heard since.
    short_sound: Option<Utterance>,
    /// The first utterance's pitch; `None` when both intonation rules are off.
    intonation: Option<Box<Intonation>>,
    decided: bool,
}

impl Amd {
    /// A detector at the answer.
    pub fn new(settings: &AdaptiveSettings) -> Self {
        let falling_utterance = frames(settings.falling_utterance);
        let declarative_utterance = frames(settings.declarative_utterance);
        Amd {
            limits: Limits {
                initial_silence: frames(settings.initial_silence),
                min_word: frames(settings.min_word).max(1),
                word_gap: frames(settings.word_gap).max(1),
                max_utterance: frames(settings.max_utterance),
                after_utterance_silence: frames(settings.after_utterance_silence),
                short_utterance: frames(settings.short_utterance),
                after_long_utterance_silence: frames(settings.after_long_utterance_silence),
                short_sound: frames(settings.short_sound),
                after_short_sound_silence: frames(settings.after_short_sound_silence),
                max_words: settings.max_words,
                total_analysis: frames(settings.total_analysis),
                declarative_utterance,
                final_rise: settings.final_rise_semitones as f32,
                falling_utterance,
                final_fall: settings.final_fall_semitones as f32,
                judged_from: match (falling_utterance, declarative_utterance) {
                    (0, d) => d,
                    (f, 0) => f,
                    (f, d) => f.min(d),
                },
            },
            vad: Vad::new(settings.speech_above_floor_db, settings.min_speech_dbfs),
            frames: 0,
            speech_run: 0,
            pause_run: 0,
            in_word: false,
            utterance: None,
            short_sound: None,
            intonation: (declarative_utterance > 0 || falling_utterance > 0)
                .then(|| Box::new(Intonation::default())),
            decided: false,
        }
    }

    /// 20 ms more audio; the verdict once it is reached (then `None` for ever).
    pub fn push(&mut self, frame: &[i16; FRAME]) -> Option<Decision> {
        if self.decided {
            return None;
        }
        let speech = self.vad.push(frame);
        self.frames += 1;
        if let Some(intonation) = self.intonation.as_mut() {
            // Each speech frame is measured once the utterance is long enough for it to fall in
            // an end a rule judges (within TAIL_FRAMES of `judged_from`); before that, only the
            // median's samples are.
            let judged_from = self.limits.judged_from;
            let dense = self
                .utterance
                .is_some_and(|u| self.frames - u.start + TAIL_FRAMES > judged_from);
            intonation.push(frame, self.frames, speech, dense);
        }
        let decision = self.step(speech);
        self.decided = decision.is_some();
        decision
    }

    /// Length of the first utterance so far, ms (0 before its first word).
    pub fn utterance_ms(&self) -> u32 {
        self.utterance.map_or(0, |u| (u.end - u.start) * FRAME_MS)
    }

    /// The rules, after the frame's speech/pause is known.
    fn step(&mut self, speech: bool) -> Option<Decision> {
        let l = self.limits;
        let now = self.frames;
        if speech {
            self.speech_run += 1;
            self.pause_run = 0;
            if !self.in_word && self.speech_run >= l.min_word {
                self.in_word = true;
                let began = now - self.speech_run;
                self.short_sound = None;
                let u = self.utterance.get_or_insert(Utterance {
                    start: began,
                    end: now,
                    words: 0,
                });
                u.words += 1;
            }
            if let Some(u) = self.utterance.as_mut() {
                u.end = now;
                let u = *u;
                let length = u.end - u.start;
                if length > l.max_utterance {
                    return Some(self.decide(
                        Verdict::Machine,
                        format!("greeting over {} ms", l.max_utterance * FRAME_MS),
                    ));
                }
                if u.words >= l.max_words {
                    return Some(self.decide(
                        Verdict::Machine,
                        format!("{} words in {} ms", u.words, length * FRAME_MS),
                    ));
                }
            }
        } else {
            self.pause_run += 1;
            if self.pause_run >= l.word_gap {
                self.in_word = false;
                self.speech_run = 0;
            }
            // A person's pause: longer after a sentence than after a word.
            let person_pause = match self.utterance {
                Some(u) if u.end - u.start > l.short_utterance => l.after_long_utterance_silence,
                _ => l.after_utterance_silence,
            };
            match (self.utterance, self.short_sound) {
                (None, Some(sound)) if self.pause_run >= l.after_short_sound_silence => {
                    return Some(self.decide(
                        Verdict::Human,
                        format!(
                            "a sound of {} ms, then {} ms silence",
                            (sound.end - sound.start) * FRAME_MS,
                            self.pause_run * FRAME_MS
                        ),
                    ));
                }
                // Something was heard: not dead air, whatever the time.
                (None, Some(_)) => {}
                (None, None) if now >= l.initial_silence => {
                    return Some(self.decide(
                        Verdict::Silence,
                        format!("initial silence {} ms", now * FRAME_MS),
                    ));
                }
                (Some(u), _)
                    if self.pause_run >= person_pause && u.end - u.start < l.short_sound =>
                {
                    // Not a word yet. Its few pitch samples stay in the intonation's median;
                    // they are 3 at most against the next utterance's tens, and its end is
                    // outside the next utterance's last 300 ms.
                    self.short_sound = Some(u);
                    self.utterance = None;
                }
                (Some(u), _) if self.pause_run >= person_pause => {
                    if let Some(rise) = self.declarative(u) {
                        return Some(self.decide(
                            Verdict::Machine,
                            format!(
                                "utterance {} ms ending level or low ({rise:+.1} semitones over its median), then {} ms silence",
                                (u.end - u.start) * FRAME_MS,
                                self.pause_run * FRAME_MS
                            ),
                        ));
                    }
                    if let Some(fall) = self.falling(u) {
                        return Some(self.decide(
                            Verdict::Machine,
                            format!(
                                "utterance {} ms whose last third falls {fall:.1} semitones under its median, then {} ms silence",
                                (u.end - u.start) * FRAME_MS,
                                self.pause_run * FRAME_MS
                            ),
                        ));
                    }
                    return Some(self.decide(
                        Verdict::Human,
                        format!(
                            "utterance {} ms, then {} ms silence",
                            (u.end - u.start) * FRAME_MS,
                            self.pause_run * FRAME_MS
                        ),
                    ));
                }
                _ => {}
            }
        }
        if now >= l.total_analysis {
            return Some(self.decide(
                Verdict::Unsure,
                format!("no verdict in {} ms", now * FRAME_MS),
            ));
        }
        None
    }

    /// The utterance's final rise (semitones over its median) when it is long enough for the
    /// intonation rule and its end does not rise enough for a question; else `None` (no
    /// opinion: too short, rule off, or too few voiced frames).
    fn declarative(&self, u: Utterance) -> Option<f32> {
        // No intonation state: both rules are off.
        let intonation = self.intonation.as_ref()?;
        let l = self.limits;
        // This rule off (the declination rule may still be on).
        if l.declarative_utterance == 0 || u.end - u.start < l.declarative_utterance {
            return None;
        }
        let rise = intonation.final_rise(u.end)?;
        (rise < l.final_rise).then_some(rise)
    }

    /// The utterance's fall (semitones its last third sits under its median) when it is in the
    /// declination rule's lengths (at least `falling_utterance`, under `declarative_utterance`
    /// when that rule is on), falls at least `final_fall` and its end does not rise
    /// `final_rise` (when its end has too few voiced frames to say, the fall alone decides);
    /// else `None`.
    fn falling(&self, u: Utterance) -> Option<f32> {
        let intonation = self.intonation.as_ref()?;
        let l = self.limits;
        let length = u.end - u.start;
        if l.falling_utterance == 0
            || length < l.falling_utterance
            || (l.declarative_utterance > 0 && length >= l.declarative_utterance)
        {
            return None;
        }
        // A question's end vetoes the fall: a person who introduces themselves declines across
        // the sentence too, then asks ("…我是张伟,请问哪位?").
        if intonation
            .final_rise(u.end)
            .is_some_and(|rise| rise >= l.final_rise)
        {
            return None;
        }
        let fall = intonation.final_fall()?;
        (fall >= l.final_fall).then_some(fall)
    }

    fn decide(&self, verdict: Verdict, detail: String) -> Decision {
        Decision {
            verdict,
            decided_ms: self.frames * FRAME_MS,
            detail,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::vad::tests::{mix, noise, syllables};
    use super::*;

    fn run(audio: &[i16]) -> Option<Decision> {
        run_with(&AdaptiveSettings::default(), audio)
    }

    fn run_with(settings: &AdaptiveSettings, audio: &[i16]) -> Option<Decision> {
        let mut amd = Amd::new(settings);
        audio
            .chunks_exact(FRAME)
            .find_map(|c| amd.push(c.try_into().unwrap()))
    }

    fn silence(ms: u32) -> Vec<i16> {
        vec![0; (ms * 8) as usize]
    }

    /// `lead` ms of line, a short "word" of `talk` ms, then `tail` of line.
    fn answer(lead: u32, talk: u32, tail: u32) -> Vec<i16> {
        let mut a = silence(lead);
        a.extend(syllables(talk, 150, 40, -12.0));
        a.extend(silence(tail));
        a
    }

    #[test]
    fn a_short_hello_then_waiting_is_a_person_decided_in_the_first_pause() {
        let d = run(&answer(400, 500, 3000)).unwrap();
        assert_eq!(d.verdict, Verdict::Human, "{d:?}");
        // Speech ends at about 900 ms (the last syllable may end a little earlier); the pause
        // rule needs 450 ms of it.
        assert!((1200..=1500).contains(&d.decided_ms), "{d:?}");
    }

    #[test]
    fn a_fragment_then_a_looped_message_is_not_a_person() {
        // A call answered as a carrier's message loops: its last syllable's 100 ms, the loop's
        // pause, then the message again (sentences of 1.2 s with 300 ms breaks).
        let mut a = answer(300, 100, 600);
        for _ in 0..5 {
            a.extend(syllables(1200, 180, 50, -10.0));
            a.extend(silence(300));
        }
        let d = run(&a).unwrap();
        assert_eq!(d.verdict, Verdict::Machine, "{d:?}");
        // Without the rule the fragment alone was a person, 450 ms into the loop's pause.
        let every_word = AdaptiveSettings {
            short_sound: crate::yaml::Dur(std::time::Duration::ZERO),
            ..AdaptiveSettings::default()
        };
        let d = run_with(&every_word, &a).unwrap();
        assert_eq!(d.verdict, Verdict::Human, "{d:?}");
        assert!(d.decided_ms < 1000, "{d:?}");
    }

    #[test]
    fn a_short_sound_then_waiting_is_a_person_after_a_longer_pause() {
        let d = run(&answer(400, 100, 3000)).unwrap();
        assert_eq!(d.verdict, Verdict::Human, "{d:?}");
        // The sound ends at about 500 ms; `after_short_sound_silence` is 1500 ms.
        assert!((1900..=2200).contains(&d.decided_ms), "{d:?}");
        assert!(d.detail.starts_with("a sound of"), "{d:?}");
    }

    #[test]
    fn a_quick_word_is_a_word() {
        // A fast "喂" of 200 ms: decided at the usual 450 ms pause, not held as a sound.
        let d = run(&answer(400, 200, 3000)).unwrap();
        assert_eq!(d.verdict, Verdict::Human, "{d:?}");
        assert!((1000..=1200).contains(&d.decided_ms), "{d:?}");
    }

    #[test]
    fn the_same_person_on_a_noisy_quiet_line_is_still_a_person() {
        let talk = answer(400, 700, 3000);
        let quiet: Vec<i16> = talk.iter().map(|&s| s / 30).collect(); // about −30 dB
        let line = mix(&quiet, &noise(4100, -65.0, 3));
        let d = run(&line).unwrap();
        assert_eq!(d.verdict, Verdict::Human, "{d:?}");
    }

    #[test]
    fn a_long_greeting_is_a_machine_once_it_passes_the_limit() {
        // Sentences of 1.2 s with 300 ms breaks: never a pause long enough for a person.
        let mut a = silence(300);
        for _ in 0..5 {
            a.extend(syllables(1200, 180, 50, -10.0));
            a.extend(silence(300));
        }
        let d = run(&a).unwrap();
        assert_eq!(d.verdict, Verdict::Machine, "{d:?}");
        // The greeting begins at 300 ms and is a machine 5000 ms later.
        assert!((5200..=5500).contains(&d.decided_ms), "{d:?}");
    }

    #[test]
    fn after_a_sentence_a_breath_is_not_yet_a_person_but_a_longer_pause_is() {
        // A 1.4 s sentence, an 800 ms breath, then the greeting goes on.
        let mut greeting = answer(300, 1400, 800);
        greeting.extend(syllables(4000, 180, 50, -12.0));
        let d = run(&greeting).unwrap();
        assert_eq!(d.verdict, Verdict::Machine, "{d:?}");
        // The same sentence, then waiting: a person, 900 ms into the pause.
        let d = run(&answer(300, 1400, 3000)).unwrap();
        assert_eq!(d.verdict, Verdict::Human, "{d:?}");
        assert!(d.detail.ends_with("then 900 ms silence"), "{d:?}");
    }

    #[test]
    fn a_person_who_says_who_they_are_and_waits_is_still_a_person_by_cadence() {
        // "喂,你好,我是张伟,请问哪位?": 3.5 s in phrases with comma pauses, then waiting.
        // Cadence alone: these syllables have one pitch, so the intonation rule (its tests are
        // below, on speech) is off here.
        let mut a = silence(500);
        for _ in 0..3 {
            a.extend(syllables(1000, 180, 50, -12.0));
            a.extend(silence(200));
        }
        a.extend(syllables(500, 180, 50, -12.0));
        a.extend(silence(3000));
        let s = AdaptiveSettings {
            declarative_utterance: crate::yaml::Dur(std::time::Duration::ZERO),
            ..AdaptiveSettings::default()
        };
        let d = run_with(&s, &a).unwrap();
        assert_eq!(d.verdict, Verdict::Human, "{d:?}");
        // Speech ends near 4.6 s; decided 900 ms into the pause.
        assert!((5400..=5600).contains(&d.decided_ms), "{d:?}");
    }

    #[test]
    fn many_words_quickly_are_a_machine_before_the_length_limit() {
        let s = AdaptiveSettings {
            max_words: 4,
            ..AdaptiveSettings::default()
        };
        let mut amd = Amd::new(&s);
        let a = syllables(3000, 100, 120, -10.0);
        let d = a
            .chunks_exact(FRAME)
            .find_map(|c| amd.push(c.try_into().unwrap()))
            .unwrap();
        assert_eq!(d.verdict, Verdict::Machine);
        assert!(d.detail.starts_with("4 words"), "{d:?}");
        assert!(d.decided_ms < 1000, "{d:?}");
    }

    #[test]
    fn dead_air_with_line_noise_is_silence_at_the_initial_silence_limit() {
        let d = run(&noise(6000, -45.0, 11)).unwrap();
        assert_eq!(d.verdict, Verdict::Silence, "{d:?}");
        assert_eq!(d.decided_ms, 2500);
    }

    #[test]
    fn clicks_shorter_than_a_word_do_not_start_an_utterance() {
        let mut a = silence(500);
        a.extend(syllables(40, 40, 1000, -6.0));
        a.extend(silence(3000));
        let d = run(&a).unwrap();
        assert_eq!(d.verdict, Verdict::Silence, "{d:?}");
    }

    #[test]
    fn talk_that_never_settles_runs_out_as_unsure() {
        // Bursts of 1 s with 400 ms pauses (too short for the person rule), under machine
        // limits raised past the analysis time.
        let s = AdaptiveSettings {
            max_utterance: crate::yaml::Dur(std::time::Duration::from_secs(10)),
            max_words: 100,
            ..AdaptiveSettings::default()
        };
        let mut amd = Amd::new(&s);
        let mut a = Vec::new();
        for _ in 0..5 {
            a.extend(syllables(1000, 200, 50, -10.0));
            a.extend(silence(400));
        }
        let d = a
            .chunks_exact(FRAME)
            .find_map(|c| amd.push(c.try_into().unwrap()))
            .unwrap();
        assert_eq!(d.verdict, Verdict::Unsure, "{d:?}");
        assert_eq!(d.decided_ms, 6500);
    }

    /// `text` said by espeak-ng after 400 ms of line, then 3 s of waiting.
    fn said(voice: &str, text: &str, speed: u32, pitch: u32) -> Vec<i16> {
        use crate::cpa::tones::test_audio::speech;
        let mut a = silence(400);
        a.extend(speech(voice, text, speed, pitch));
        a.extend(silence(3000));
        a
    }

    fn rule_off() -> AdaptiveSettings {
        AdaptiveSettings {
            declarative_utterance: crate::yaml::Dur(std::time::Duration::ZERO),
            ..AdaptiveSettings::default()
        }
    }

    #[test]
    fn a_read_one_sentence_greeting_then_silence_is_a_machine_by_its_level_end() {
        if !crate::cpa::tones::test_audio::espeak_available() {
            return;
        }
        for (voice, text) in [
            ("cmn", "我现在不方便接听电话。"),
            ("en-us", "Hi, you've reached Sarah. Please leave a message."),
        ] {
            let a = said(voice, text, 175, 50);
            let d = run(&a).unwrap();
            assert_eq!(d.verdict, Verdict::Machine, "{voice} {text}: {d:?}");
            assert!(d.detail.contains("ending level or low"), "{d:?}");
            // Without the rule its cadence is a person's: that is what the rule adds.
            let d = run_with(&rule_off(), &a).unwrap();
            assert_eq!(d.verdict, Verdict::Human, "{voice} {text}, rule off: {d:?}");
        }
    }

    #[test]
    fn a_read_sentence_under_2_s_that_falls_across_it_is_a_machine() {
        if !crate::cpa::tones::test_audio::espeak_available() {
            return;
        }
        // "Leave a message after the tone." then silence: 1.6–2 s, too short for the rise rule,
        // and a read statement's pitch declines to its end.
        let a = said("en-us", "Leave a message after the tone.", 160, 50);
        let d = run(&a).unwrap();
        assert_eq!(d.verdict, Verdict::Machine, "{d:?}");
        assert!(d.detail.contains("last third falls"), "{d:?}");
        // Decided when the pause would have made it a person: nobody waits longer.
        let off = AdaptiveSettings {
            falling_utterance: crate::yaml::Dur(std::time::Duration::ZERO),
            ..AdaptiveSettings::default()
        };
        let person = run_with(&off, &a).unwrap();
        assert_eq!(person.verdict, Verdict::Human, "rule off: {person:?}");
        assert_eq!(d.decided_ms, person.decided_ms);
        // It rests on the measured fall: asking for more than a sentence falls makes it a person.
        let deaf = AdaptiveSettings {
            final_fall_semitones: 12.0,
            ..AdaptiveSettings::default()
        };
        assert_eq!(run_with(&deaf, &a).unwrap().verdict, Verdict::Human);
    }

    /// A voiced sound whose pitch per 20 ms frame is `contour` (Hz), after 400 ms of line and
    /// followed by 3 s of waiting.
    fn voiced(contour: &[f64]) -> Vec<i16> {
        let mut a = silence(400);
        let mut phase = 0.0f64;
        for &hz in contour {
            a.extend(super::super::intonation::tests::frame(hz, &mut phase));
        }
        a.extend(silence(3000));
        a
    }

    #[test]
    fn under_2_s_a_fall_across_the_sentence_is_a_greeting_unless_its_end_asks() {
        // 1.8 s declining 4 semitones: a read statement's declination.
        let statement: Vec<f64> = (0..90)
            .map(|k| 180.0 * 2f64.powf(-4.0 * f64::from(k) / 89.0 / 12.0))
            .collect();
        let d = run(&voiced(&statement)).unwrap();
        assert_eq!(d.verdict, Verdict::Machine, "{d:?}");
        assert!(d.detail.contains("last third falls"), "{d:?}");
        // The same decline, then a question's rise over its last 300 ms: a person.
        let mut question = statement[..75].to_vec();
        let low = question[74];
        question.extend((1..=15).map(|k| low * 2f64.powf(6.0 * f64::from(k) / 15.0 / 12.0)));
        let d = run(&voiced(&question)).unwrap();
        assert_eq!(d.verdict, Verdict::Human, "{d:?}");
    }

    #[test]
    fn short_answers_that_fall_are_left_to_cadence() {
        if !crate::cpa::tones::test_audio::espeak_available() {
            return;
        }
        // Statements and wh-questions fall too, but a person's are short.
        for (voice, text) in [
            ("en-us", "Hello, speaking."),
            ("en-us", "Hello, who's this?"),
            ("cmn", "喂,你好,哪位啊?"),
        ] {
            let d = run(&said(voice, text, 175, 50)).unwrap();
            assert_eq!(d.verdict, Verdict::Human, "{voice} {text}: {d:?}");
        }
    }

    #[test]
    fn people_who_ask_stay_people_long_or_short() {
        if !crate::cpa::tones::test_audio::espeak_available() {
            return;
        }
        let long = [
            ("cmn", "喂,你好,我是张伟,请问哪位?"),
            (
                "en-us",
                "Hello, this is David Chen speaking, who is calling please?",
            ),
        ];
        for (voice, text) in long {
            let a = said(voice, text, 175, 50);
            let d = run(&a).unwrap();
            assert_eq!(d.verdict, Verdict::Human, "{voice} {text}: {d:?}");
            // Their end rises: asking for a rise no question reaches makes them greetings,
            // so the verdict above rests on the pitch measured.
            let deaf = AdaptiveSettings {
                final_rise_semitones: 12.0,
                ..AdaptiveSettings::default()
            };
            let d = run_with(&deaf, &a).unwrap();
            assert_eq!(
                d.verdict,
                Verdict::Machine,
                "{voice} {text}, no rise heard: {d:?}"
            );
        }
        for (voice, text) in [
            ("cmn", "喂?"),
            ("en-us", "Hello?"),
            ("en-us", "Hello, speaking."),
        ] {
            let d = run(&said(voice, text, 175, 50)).unwrap();
            assert_eq!(d.verdict, Verdict::Human, "{voice} {text}: {d:?}");
        }
    }
}
