//! One call's analysis: the detectors of [`super`] run per phase over 20 ms frames, and the
//! decision rules that turn their outputs into one [`Decision`] (and a beep after a machine).
//! Owns the precedence between detectors and the time they are given; each detector owns its
//! own signal rules.
//!
//! Call order: [`Classifier::push`] every frame until [`Classifier::is_done`]; each push may
//! return the verdict (once) and later a beep. If the audio ends first, [`Classifier::finish`]
//! gives the verdict it leaves.
//!
//! Rules, in order of precedence:
//! - Early media: only SIT ([`tones`]) and known announcements ([`fingerprint`]) decide;
//!   ringback, music and coloured ringback give nothing. After `early_limit`, done (`unsure`).
//!   There a name needs as many votes as a class ([`Matcher::for_early_media`]): a match
//!   cancels the call, and a coloured ringback may say a carrier's words.
//! - An announcement decides as soon as its class is certain (the audio matches known
//!   references, even if only words several of them share); without its name then, the matcher
//!   listens on up to `announcement_name_wait` and reports the name as [`CpaEvent::Named`].
//!   So does a looped announcement's tail ([`super::fingerprint::tail`]): the call's first short
//!   utterance ending like one of a message's phrases decides 300 ms into the pause after it,
//!   before the AMD's pause rule would call those words a person's "喂?".
//! - After the answer: fax tones, SIT and announcements decide at once. AMD's verdicts follow;
//!   a `machine` is held for `announcement_grace` while a library is loaded, because a carrier's
//!   announcement sounds like a long greeting and its name is worth more than "machine"; a
//!   `human` is held for `announcement_hold` only when the matcher already has
//!   `announcement_evidence` votes (a cut into an announcement can start with a phrase's tail
//!   and a pause, a person's cadence), so people without such evidence are not kept waiting.
//! - A lone tone of beep frequency before any speech may be a fax's first CNG burst (reported
//!   at the second, 3 s later): AMD restarts after it and its verdict waits for that window.
//!   A beep after speech ends a greeting: `machine`, then the beep.
//! - A voicemail system's prompt (a library reference of class voicemail) decides `machine` after
//!   the answer as soon as it is matched (its class, or its name), whatever AMD says; the beep
//!   is awaited as after any machine. In early media it decides nothing (a voicemail system
//!   answers the call; the answered call's analysis hears it again).
//! - After `machine`, tones keep listening up to `beep_wait` for the recording beep.

use std::sync::Arc;

use super::amd::Amd;
use super::baseline::Baseline;
use super::fingerprint::{Library, Matcher, Recognition, ReferenceClass};
use super::settings::{AmdMode, CpaSettings};
use super::tones::{ToneDetector, ToneHit};
use super::{CpaEvent, Decision, Phase, Verdict, FRAME, FRAME_MS};

/// After a lone tone that may be a fax's first CNG burst, how long AMD's verdict waits for the
/// second: T.30's 3 s off (+15 %) and 0.5 s on (+20 %), and the detector's 60 ms to see it end.
const CNG_WINDOW_MS: u32 = 4200;

/// Frames in `ms`, rounded up.
fn frames_in(ms: i64) -> u32 {
    u32::try_from(ms).unwrap_or(u32::MAX).div_ceil(FRAME_MS)
}

/// The AMD in use after the answer.
#[derive(Debug)]
enum Detector {
    /// outdial's ([`super::amd`]).
    Adaptive(Box<Amd>),
    /// app_amd's documented rules ([`super::baseline`]).
    Baseline(Box<Baseline>),
}

impl Detector {
    fn new(settings: &CpaSettings) -> Option<Detector> {
        match settings.amd {
            AmdMode::Default => Some(Detector::Adaptive(Box::new(Amd::new(&settings.adaptive)))),
            AmdMode::Baseline => Some(Detector::Baseline(Box::new(Baseline::new(
                &settings.baseline,
            )))),
            AmdMode::Off => None,
        }
    }

    fn push(&mut self, frame: &[i16; FRAME]) -> Option<Decision> {
        match self {
            Detector::Adaptive(d) => d.push(frame),
            Detector::Baseline(d) => d.push(frame),
        }
    }

    /// Voice heard so far in the greeting, ms (to tell a lone tone from a greeting's end).
    fn voice_ms(&self) -> u32 {
        match self {
            Detector::Adaptive(d) => d.utterance_ms(),
            Detector::Baseline(d) => d.greeting_voice_ms(),
        }
    }
}

/// Where the analysis stands.
#[derive(Debug)]
enum State {
    /// No verdict yet.
    Listening,
    /// AMD said machine (or human, with some announcement evidence); the matcher has until
    /// frame `until` to name an announcement.
    Holding {
        /// AMD's verdict.
        amd: Decision,
        /// Last frame of the grace.
        until: u32,
    },
    /// `machine` was reported; the beep is awaited until frame `until`.
    AwaitingBeep {
        /// Last frame of the wait.
        until: u32,
    },
    /// An announcement was reported without its name; the matcher has until frame `until`.
    AwaitingName {
        /// Last frame of the wait.
        until: u32,
    },
    /// Nothing more to report.
    Done,
}

/// One call's analysis in one phase.
#[derive(Debug)]
pub struct Classifier {
    phase: Phase,
    settings: CpaSettings,
    tones: ToneDetector,
    matcher: Option<Matcher>,
    /// `None` in early media and with `amd: off`.
    amd: Option<Detector>,
    /// Frames pushed.
    frames: u32,
    state: State,
    /// The verdict, once reported.
    decision: Option<Decision>,
    /// A beep heard with the verdict it made, reported at the next push.
    pending_beep: Option<u32>,
    /// A lone tone was heard: AMD's verdicts wait until this frame (a fax's second CNG burst).
    cng_window_until: Option<u32>,
    /// AMD's verdict reached inside that window.
    amd_waiting: Option<Decision>,
}

impl Classifier {
    /// A new analysis; `library` holds the known announcements to match (none: matching off).
    pub fn new(settings: &CpaSettings, phase: Phase, library: Option<Arc<Library>>) -> Self {
        let amd = match phase {
            Phase::Early => None,
            Phase::Answer => Detector::new(settings),
        };
        Classifier {
            phase,
            settings: settings.clone(),
            tones: ToneDetector::new(),
            matcher: library.filter(|l| !l.is_empty()).map(|l| match phase {
                Phase::Early => Matcher::for_early_media(l),
                Phase::Answer => Matcher::new(l),
            }),
            amd,
            frames: 0,
            state: State::Listening,
            decision: None,
            pending_beep: None,
            cng_window_until: None,
            amd_waiting: None,
        }
    }

    /// 20 ms more audio; an event when one is reached (the verdict once, then possibly a beep).
    pub fn push(&mut self, frame: &[i16; FRAME]) -> Option<CpaEvent> {
        if let Some(at_ms) = self.pending_beep.take() {
            // The beep heard with the verdict; this frame is past the analysis.
            self.state = State::Done;
            return Some(CpaEvent::Beep { at_ms });
        }
        if matches!(self.state, State::Done) {
            return None;
        }
        self.frames += 1;
        let now = self.frames;
        let tone = self.tones.push(frame);
        if let State::AwaitingBeep { until } = self.state {
            if let Some(ToneHit::Beep { .. }) = tone {
                self.state = State::Done;
                return Some(CpaEvent::Beep { at_ms: self.ms() });
            }
            if now >= until {
                self.state = State::Done;
            }
            return None;
        }
        if let State::AwaitingName { until } = self.state {
            // Only an announcement's name: the class reported was an announcement's.
            if let Some(Recognition::Named(m)) = self
                .matcher
                .as_mut()
                .and_then(|m| m.push(frame))
                .filter(|r| matches!(r, Recognition::Named(m) if m.class == ReferenceClass::Announcement))
            {
                self.state = State::Done;
                return Some(CpaEvent::Named {
                    name: m.name,
                    at_ms: self.ms(),
                });
            }
            if now >= until {
                self.state = State::Done;
            }
            return None;
        }
        let matched = self.matcher.as_mut().and_then(|m| m.push(frame));
        if let Some(decision) = self.signal_verdict(tone, matched) {
            return self.report(decision);
        }
        match self.phase {
            Phase::Early => self.early_limit(),
            Phase::Answer => self.answer_amd(frame),
        }
    }

    /// What a tone or a matched announcement decides in this phase, if anything. A beep after
    /// a greeting's speech makes a machine here (with the beep reported next).
    fn signal_verdict(
        &mut self,
        tone: Option<ToneHit>,
        matched: Option<Recognition>,
    ) -> Option<Decision> {
        match matched {
            Some(Recognition::Named(m)) if m.class == ReferenceClass::Announcement => {
                let detail = format!(
                    "announcement {} at {:.1} s",
                    m.name,
                    f64::from(m.offset_ms) / 1000.0
                );
                return Some(self.decide(Verdict::Announcement(Some(m.name)), detail));
            }
            Some(Recognition::Class {
                class: ReferenceClass::Announcement,
                candidates,
                votes,
            }) => {
                let detail = format!(
                    "announcement, one of {} ({votes} votes)",
                    candidates.join(", ")
                );
                return Some(self.decide(Verdict::Announcement(None), detail));
            }
            Some(Recognition::Tail(t)) => {
                let detail = format!(
                    "announcement from its tail, {} (tail score {:.2}, at {:.1} s)",
                    t.name
                        .clone()
                        .unwrap_or_else(|| format!("one of {}", t.candidates.join(", "))),
                    t.score,
                    f64::from(t.offset_ms) / 1000.0
                );
                return Some(self.decide(Verdict::Announcement(t.name), detail));
            }
            // A voicemail system's prompt: a machine, whatever AMD is at (the beep follows).
            // In early media it decides nothing: a voicemail system answers the call, and what
            // a machine gets (a hang-up or a message) is the answered call's policy.
            Some(Recognition::Named(m)) if self.phase == Phase::Answer => {
                let detail = format!(
                    "voicemail system {} at {:.1} s ({} votes)",
                    m.name,
                    f64::from(m.offset_ms) / 1000.0,
                    m.votes
                );
                return Some(self.decide(Verdict::Machine, detail));
            }
            Some(Recognition::Class {
                candidates, votes, ..
            }) if self.phase == Phase::Answer => {
                let detail = format!(
                    "voicemail system, one of {} ({votes} votes)",
                    candidates.join(", ")
                );
                return Some(self.decide(Verdict::Machine, detail));
            }
            Some(_) | None => {}
        }
        match (tone?, self.phase) {
            (ToneHit::Sit(v), _) => {
                let name = serde_json::to_value(v)
                    .ok()
                    .and_then(|j| j.as_str().map(str::to_string))
                    .unwrap_or_default();
                Some(self.decide(Verdict::Sit(v), format!("SIT {name}")))
            }
            (ToneHit::Fax(f), Phase::Answer) => {
                let name = match f {
                    super::FaxTone::Cng => "CNG 1100 Hz",
                    super::FaxTone::Ced => "CED 2100 Hz",
                };
                Some(self.decide(Verdict::Fax(f), format!("fax {name}")))
            }
            (ToneHit::Beep { freq_hz, ms }, Phase::Answer) => {
                let voice = self.amd.as_ref().map_or(0, Detector::voice_ms);
                // The detector reports a beep 60 ms after it ends; the greeting's voice includes
                // the tone itself and up to that slack.
                if voice > ms + 3 * FRAME_MS {
                    self.pending_beep = Some(self.ms());
                    let detail = format!("greeting then beep ({freq_hz:.0} Hz, {ms} ms)");
                    return Some(self.decide(Verdict::Machine, detail));
                }
                // A lone tone: perhaps a fax's first CNG burst. AMD starts over after it.
                self.amd = Detector::new(&self.settings);
                self.amd_waiting = None;
                self.cng_window_until = Some(self.frames + CNG_WINDOW_MS / FRAME_MS);
                None
            }
            _ => None,
        }
    }

    /// Early media: done, with no verdict, after `early_limit`.
    fn early_limit(&mut self) -> Option<CpaEvent> {
        if self.frames >= frames_in(self.settings.early_limit.millis()) {
            self.state = State::Done;
        }
        None
    }

    /// After the answer: AMD's verdict, held while an announcement or a fax may still be named.
    fn answer_amd(&mut self, frame: &[i16; FRAME]) -> Option<CpaEvent> {
        let now = self.frames;
        if let State::Holding { until, .. } = self.state {
            if now < until {
                return None;
            }
            let State::Holding { amd, .. } = std::mem::replace(&mut self.state, State::Done) else {
                return None; // Checked just above.
            };
            let detail = format!("{}; no announcement matched", amd.detail);
            return self.report(self.decide(amd.verdict, detail));
        }
        let Some(amd) = self.amd.as_mut() else {
            // AMD off: only signals decide, within the early limit's time.
            return self.early_limit();
        };
        if let Some(d) = amd.push(frame) {
            self.amd_waiting = Some(d);
        }
        if let Some(until) = self.cng_window_until {
            if now < until {
                return None;
            }
            self.cng_window_until = None;
        }
        let d = self.amd_waiting.take()?;
        // The detector counts from its own start (a restart after a lone tone): the call's time
        // is ours.
        let d = self.decide(d.verdict, d.detail);
        let Some(matcher) = self.matcher.as_ref() else {
            return self.report(d);
        };
        let evidence = matcher.evidence();
        let hold = match d.verdict {
            Verdict::Machine => frames_in(self.settings.announcement_grace.millis()),
            Verdict::Human if evidence >= self.settings.announcement_evidence => {
                frames_in(self.settings.announcement_hold.millis())
            }
            _ => 0,
        };
        if hold == 0 {
            return self.report(d);
        }
        let detail = match d.verdict {
            Verdict::Human => format!("{}; held for {evidence} announcement votes", d.detail),
            _ => d.detail,
        };
        self.state = State::Holding {
            amd: Decision { detail, ..d },
            until: now + hold,
        };
        None
    }

    /// Reports the verdict and moves on: to the beep wait after a machine, to the name's wait
    /// after an announcement without one, else done.
    fn report(&mut self, decision: Decision) -> Option<CpaEvent> {
        let wait = frames_in(self.settings.beep_wait.millis());
        let name_wait = frames_in(self.settings.announcement_name_wait.millis());
        self.state = if decision.verdict == Verdict::Announcement(None) && name_wait > 0 {
            State::AwaitingName {
                until: self.frames + name_wait,
            }
        } else if decision.verdict == Verdict::Machine
            && self.phase == Phase::Answer
            && wait > 0
            && self.pending_beep.is_none()
        {
            State::AwaitingBeep {
                until: self.frames + wait,
            }
        } else {
            State::Done
        };
        self.decision = Some(decision.clone());
        Some(CpaEvent::Verdict(decision))
    }

    fn decide(&self, verdict: Verdict, detail: String) -> Decision {
        Decision {
            verdict,
            decided_ms: self.ms(),
            detail,
        }
    }

    fn ms(&self) -> u32 {
        self.frames * FRAME_MS
    }

    /// The verdict (and, after a machine, the beep or its wait) is over: stop feeding.
    pub fn is_done(&self) -> bool {
        matches!(self.state, State::Done) && self.pending_beep.is_none()
    }

    /// The verdict reported so far, if any.
    pub fn decision(&self) -> Option<&Decision> {
        self.decision.as_ref()
    }

    /// The audio ended (file end, far end hung up) before a verdict: the verdict it leaves.
    /// After a verdict, that verdict.
    pub fn finish(&mut self) -> Decision {
        if let Some(d) = &self.decision {
            return d.clone();
        }
        let state = std::mem::replace(&mut self.state, State::Done);
        let d = match (state, self.amd_waiting.take()) {
            (State::Holding { amd, .. }, _) => {
                let detail = format!("{}; audio ended", amd.detail);
                self.decide(amd.verdict, detail)
            }
            (_, Some(waiting)) => self.decide(waiting.verdict, waiting.detail),
            _ => {
                let why = match self.phase {
                    Phase::Early
                        if self.frames >= frames_in(self.settings.early_limit.millis()) =>
                    {
                        "early media limit without SIT or announcement".to_string()
                    }
                    _ => format!("audio ended after {} ms", self.ms()),
                };
                self.decide(Verdict::Unsure, why)
            }
        };
        self.decision = Some(d.clone());
        d
    }
}

#[cfg(test)]
mod tests {
    use super::super::vad::tests::{noise, syllables};
    use super::*;

    fn frames(samples: &[i16]) -> Vec<[i16; FRAME]> {
        samples
            .chunks_exact(FRAME)
            .map(|c| c.try_into().unwrap())
            .collect()
    }

    /// Pushes until done or the audio ends; the events and the frames pushed.
    fn run(c: &mut Classifier, samples: &[i16]) -> (Vec<CpaEvent>, usize) {
        let mut events = Vec::new();
        let mut pushed = 0;
        for f in frames(samples) {
            if c.is_done() {
                break;
            }
            pushed += 1;
            events.extend(c.push(&f));
        }
        (events, pushed)
    }

    fn person() -> Vec<i16> {
        let mut a = vec![0; 8 * 500];
        a.extend(syllables(500, 150, 40, -12.0));
        a.extend(vec![0; 8 * 4000]);
        a
    }

    fn greeting(ms: u32) -> Vec<i16> {
        let mut a = vec![0; 8 * 300];
        a.extend(syllables(ms, 180, 50, -10.0));
        a
    }

    #[test]
    fn a_person_is_reported_once_and_the_analysis_stops() {
        let mut c = Classifier::new(&CpaSettings::default(), Phase::Answer, None);
        let (events, pushed) = run(&mut c, &person());
        assert_eq!(events.len(), 1, "{events:?}");
        let CpaEvent::Verdict(d) = &events[0] else {
            panic!("{events:?}")
        };
        assert_eq!(d.verdict, Verdict::Human);
        assert_eq!(pushed as u32 * FRAME_MS, d.decided_ms);
        assert!(c.is_done());
        assert_eq!(&c.finish(), d);
    }

    #[test]
    fn a_machine_keeps_listening_for_the_beep_up_to_the_wait() {
        let s = CpaSettings {
            beep_wait: crate::yaml::Dur(std::time::Duration::from_secs(3)),
            ..CpaSettings::default()
        };
        let mut c = Classifier::new(&s, Phase::Answer, None);
        let (events, pushed) = run(&mut c, &greeting(12_000));
        let [CpaEvent::Verdict(d)] = events.as_slice() else {
            panic!("{events:?}")
        };
        assert_eq!(d.verdict, Verdict::Machine);
        // Stopped 3 s after the verdict, not at the end of the 12 s greeting.
        assert_eq!(pushed as u32 * FRAME_MS, d.decided_ms + 3000);
        assert!(c.is_done());
    }

    #[test]
    fn baseline_mode_runs_app_amd_rules() {
        let s = CpaSettings {
            amd: AmdMode::Baseline,
            ..CpaSettings::default()
        };
        let mut c = Classifier::new(&s, Phase::Answer, None);
        // Dead air: app_amd calls it a machine, outdial's detector silence.
        let (events, _) = run(&mut c, &vec![0; 8 * 6000]);
        let Some(CpaEvent::Verdict(d)) = events.first() else {
            panic!("{events:?}")
        };
        assert_eq!((d.verdict.clone(), d.decided_ms), (Verdict::Machine, 2500));
        let mut c = Classifier::new(&CpaSettings::default(), Phase::Answer, None);
        let (events, _) = run(&mut c, &noise(6000, -50.0, 5));
        let Some(CpaEvent::Verdict(d)) = events.first() else {
            panic!("{events:?}")
        };
        assert_eq!((d.verdict.clone(), d.decided_ms), (Verdict::Silence, 2500));
    }

    #[test]
    fn early_media_speech_is_no_verdict_and_ends_unsure() {
        let mut c = Classifier::new(&CpaSettings::default(), Phase::Early, None);
        let (events, _) = run(&mut c, &greeting(8000));
        assert!(events.is_empty(), "{events:?}");
        assert!(!c.is_done());
        let d = c.finish();
        assert_eq!(d.verdict, Verdict::Unsure);
        assert_eq!(d.decided_ms, 8300);
    }

    #[test]
    fn early_media_gives_up_at_its_limit() {
        let s = CpaSettings {
            early_limit: crate::yaml::Dur(std::time::Duration::from_secs(2)),
            ..CpaSettings::default()
        };
        let mut c = Classifier::new(&s, Phase::Early, None);
        let (events, pushed) = run(&mut c, &greeting(8000));
        assert!(events.is_empty());
        assert_eq!(pushed, 100);
        assert!(c.is_done());
        let d = c.finish();
        assert_eq!(d.verdict, Verdict::Unsure);
        assert!(d.detail.contains("early media limit"), "{d:?}");
    }

    #[test]
    fn with_amd_off_a_person_is_left_unsure() {
        let s = CpaSettings {
            amd: AmdMode::Off,
            ..CpaSettings::default()
        };
        let mut c = Classifier::new(&s, Phase::Answer, None);
        let (events, _) = run(&mut c, &person());
        assert!(events.is_empty(), "{events:?}");
        assert_eq!(c.finish().verdict, Verdict::Unsure);
    }

    use super::super::tones::sit_nominal;
    use super::super::tones::test_audio::{silence, tone};
    use super::super::SitVariant;

    fn sit(variant: SitVariant) -> Vec<i16> {
        let mut a = silence(200);
        for (f, ms) in sit_nominal(variant) {
            a.extend(tone(&[f], ms, -12.0));
        }
        a.extend(silence(3000));
        a
    }

    fn first_verdict(events: &[CpaEvent]) -> Decision {
        match events.first() {
            Some(CpaEvent::Verdict(d)) => d.clone(),
            _ => panic!("no verdict first: {events:?}"),
        }
    }

    #[test]
    fn sit_decides_in_early_media_and_after_the_answer() {
        for phase in [Phase::Early, Phase::Answer] {
            let mut c = Classifier::new(&CpaSettings::default(), phase, None);
            let (events, _) = run(&mut c, &sit(SitVariant::VacantCode));
            let d = first_verdict(&events);
            assert_eq!(d.verdict, Verdict::Sit(SitVariant::VacantCode), "{phase:?}");
            assert_eq!(d.detail, "SIT vacant_code");
            // Three segments end at 200 + 380 + 274 + 380 ms: decided just after, before the
            // AMD's pause rule could call the tones a person.
            assert!(d.decided_ms <= 1400, "{d:?}");
        }
    }

    #[test]
    fn fax_answer_tone_is_fax_after_the_answer_and_nothing_in_early_media() {
        let mut ced = silence(300);
        ced.extend(tone(&[2100.0], 3000, -10.0));
        let mut c = Classifier::new(&CpaSettings::default(), Phase::Answer, None);
        let (events, _) = run(&mut c, &ced);
        let d = first_verdict(&events);
        assert_eq!(d.verdict, Verdict::Fax(super::super::FaxTone::Ced));
        assert!(d.decided_ms <= 1000, "{d:?}");
        let mut c = Classifier::new(&CpaSettings::default(), Phase::Early, None);
        let (events, _) = run(&mut c, &ced);
        assert!(events.is_empty(), "{events:?}");
    }

    #[test]
    fn a_fax_calling_tone_is_not_taken_for_a_short_hello() {
        // CNG: 0.5 s of 1100 Hz every 3.5 s. Its first burst alone looks like "喂?" then a pause.
        let mut cng = silence(300);
        for _ in 0..3 {
            cng.extend(tone(&[1100.0], 500, -10.0));
            cng.extend(silence(3000));
        }
        let mut c = Classifier::new(&CpaSettings::default(), Phase::Answer, None);
        let (events, _) = run(&mut c, &cng);
        let d = first_verdict(&events);
        assert_eq!(d.verdict, Verdict::Fax(super::super::FaxTone::Cng), "{d:?}");
    }

    #[test]
    fn a_greeting_then_its_beep_gives_machine_then_the_beep_when_it_ends() {
        let mut a = greeting(4000);
        a.extend(silence(300));
        a.extend(tone(&[1000.0], 600, -10.0));
        a.extend(silence(2000));
        let mut c = Classifier::new(&CpaSettings::default(), Phase::Answer, None);
        let (events, _) = run(&mut c, &a);
        let d = first_verdict(&events);
        assert_eq!(d.verdict, Verdict::Machine);
        let Some(CpaEvent::Beep { at_ms }) = events.get(1) else {
            panic!("{events:?}")
        };
        // The beep ends at 300 + 4000 + 300 + 600 ms; reported within 100 ms of that.
        assert!((5200..=5300).contains(at_ms), "{events:?}");
        assert!(c.is_done());
    }

    #[test]
    fn a_short_greeting_ending_in_a_beep_is_a_machine_not_a_person() {
        // "Please leave a message" in 1 s, the beep 200 ms later: too short for the greeting
        // limit, so the beep after speech decides.
        let mut a = greeting(1000);
        a.extend(silence(200));
        a.extend(tone(&[1400.0], 400, -10.0));
        a.extend(silence(2000));
        let mut c = Classifier::new(&CpaSettings::default(), Phase::Answer, None);
        let (events, _) = run(&mut c, &a);
        let d = first_verdict(&events);
        assert_eq!(d.verdict, Verdict::Machine, "{events:?}");
        assert!(d.detail.starts_with("greeting then beep"), "{d:?}");
        assert!(
            matches!(events.get(1), Some(CpaEvent::Beep { .. })),
            "{events:?}"
        );
    }

    #[test]
    fn a_short_greeting_whose_beep_comes_late_is_still_a_machine() {
        // "请留言。" in 1.2 s and the beep 800 ms after it: a person would have been waiting
        // that long too, so the pause rule after a sentence leaves the beep time to start.
        let mut a = greeting(1200);
        a.extend(silence(800));
        a.extend(tone(&[1000.0], 500, -10.0));
        a.extend(silence(2000));
        let mut c = Classifier::new(&CpaSettings::default(), Phase::Answer, None);
        let (events, _) = run(&mut c, &a);
        let d = first_verdict(&events);
        assert_eq!(d.verdict, Verdict::Machine, "{events:?}");
        assert!(d.detail.starts_with("greeting then beep"), "{d:?}");
    }

    #[test]
    fn a_carriers_announcement_after_the_answer_is_named_not_called_a_machine() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("campaigns/announcements");
        let library = Arc::new(Library::load_dir(&dir).unwrap());
        let clip = crate::media::wav::load(&dir.join("cmn/powered-off.wav")).unwrap();
        for phase in [Phase::Answer, Phase::Early] {
            let mut c = Classifier::new(&CpaSettings::default(), phase, Some(library.clone()));
            let (events, _) = run(&mut c, &clip.0);
            let d = first_verdict(&events);
            // The clip opens with the words every Mandarin message shares (您拨打的): the
            // class is reported then, with the candidates, and the name when it is heard.
            assert_eq!(d.verdict, Verdict::Announcement(None), "{phase:?}: {d:?}");
            assert!(d.detail.contains("cmn/powered-off"), "{d:?}");
            assert!(d.decided_ms <= 1500, "{phase:?}: {d:?}");
            let Some(CpaEvent::Named { name, at_ms }) = events.get(1) else {
                panic!("{phase:?}: no name: {events:?}")
            };
            assert_eq!(name, "cmn/powered-off");
            assert!(*at_ms > d.decided_ms, "{events:?}");
            assert!(c.is_done(), "done once named");
        }
    }

    #[test]
    fn without_a_name_wait_the_class_alone_ends_the_analysis() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("campaigns/announcements");
        let library = Arc::new(Library::load_dir(&dir).unwrap());
        let clip = crate::media::wav::load(&dir.join("cmn/busy.wav")).unwrap();
        let s = CpaSettings {
            announcement_name_wait: crate::yaml::Dur(std::time::Duration::ZERO),
            ..CpaSettings::default()
        };
        let mut c = Classifier::new(&s, Phase::Answer, Some(library));
        let (events, _) = run(&mut c, &clip.0);
        assert_eq!(events.len(), 1, "{events:?}");
        assert_eq!(first_verdict(&events).verdict, Verdict::Announcement(None));
        assert!(c.is_done());
    }

    #[test]
    fn a_voicemail_systems_prompt_is_a_machine_at_once_and_its_beep_follows() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("campaigns/announcements");
        let library = Arc::new(Library::load_dir(&dir).unwrap());
        let clip = crate::media::wav::load(&dir.join("voicemail/cmn/secretary.wav")).unwrap();
        let mut a = silence(300);
        a.extend_from_slice(&clip.0);
        a.extend(silence(400));
        a.extend(tone(&[1000.0], 500, -10.0));
        a.extend(silence(2000));
        let mut c = Classifier::new(
            &CpaSettings::default(),
            Phase::Answer,
            Some(library.clone()),
        );
        let (events, _) = run(&mut c, &a);
        let d = first_verdict(&events);
        assert_eq!(d.verdict, Verdict::Machine, "{events:?}");
        assert!(d.detail.starts_with("voicemail system"), "{d:?}");
        assert!(d.detail.contains("cmn/secretary"), "{d:?}");
        // Long before AMD could judge a 13 s prompt.
        assert!(d.decided_ms <= 2000, "{d:?}");
        let Some(CpaEvent::Beep { at_ms }) = events.get(1) else {
            panic!("no beep: {events:?}")
        };
        assert!(*at_ms as usize >= a.len() / 8 - 2500, "{events:?}");
        // In early media it decides nothing: a voicemail system answers the call.
        let mut c = Classifier::new(&CpaSettings::default(), Phase::Early, Some(library));
        let (events, _) = run(&mut c, &a);
        assert_eq!(events, [], "early media");
        assert_eq!(c.finish().verdict, Verdict::Unsure);
    }
}
