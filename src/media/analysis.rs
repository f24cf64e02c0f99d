//! Call-progress analysis inside the media plane: one [`Classifier`] per analysed leg, fed that
//! leg's tapped audio (20 ms frames after the jitter buffer), its verdicts turned into
//! [`MediaEvent::Cpa`] and [`MediaEvent::AnalysisDone`] for the engine.
//!
//! Sans-IO: commands and [`TapFrame`]s in, events out; owns no thread, socket or clock (the
//! shell's analysis thread drives it, off the relay path). Must not decide what a verdict
//! means for the call (the engine's `cpa` policy does), nor detect anything itself (that is
//! [`crate::cpa`]'s).

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use crate::cpa::classifier::Classifier;
use crate::cpa::fingerprint::Library;
use crate::cpa::settings::CpaSettings;
use crate::cpa::{CpaEvent, Phase};

use super::io::{LegId, MediaEvent, TapFrame};

/// One leg being analysed.
#[derive(Debug)]
struct Running {
    classifier: Classifier,
    /// The verdict was reported (a stop then reports nothing more).
    decided: bool,
    /// The tap slot of the first frame analysed (for the timing trace).
    first_slot: Option<u64>,
}

/// Every analysis of a media plane, keyed by leg.
///
/// # Call order
/// [`Analyses::start`], then [`Analyses::frame`] for every tapped frame (frames of legs not
/// analysed are ignored), [`Analyses::stop`] when the engine is done with the leg or it closed;
/// after each, drain [`Analyses::poll_event`].
#[derive(Debug, Default)]
pub struct Analyses {
    legs: HashMap<LegId, Running>,
    events: VecDeque<MediaEvent>,
}

impl Analyses {
    /// No analyses.
    pub fn new() -> Self {
        Analyses::default()
    }

    /// Starts (or restarts, in a new phase) the analysis of `leg`.
    pub fn start(
        &mut self,
        leg: LegId,
        phase: Phase,
        settings: &CpaSettings,
        library: Option<Arc<Library>>,
    ) {
        let classifier = Classifier::new(settings, phase, library);
        self.legs.insert(
            leg,
            Running {
                classifier,
                decided: false,
                first_slot: None,
            },
        );
    }

    /// 20 ms of a tapped leg's audio.
    pub fn frame(&mut self, frame: &TapFrame) {
        let Some(run) = self.legs.get_mut(&frame.leg) else {
            return;
        };
        if run.first_slot.is_none() {
            run.first_slot = Some(frame.slot);
            tracing::debug!(leg = ?frame.leg, slot = frame.slot, "cpa timing: first frame analysed");
        }
        if let Some(event) = run.classifier.push(&frame.pcm) {
            if let CpaEvent::Verdict(d) = &event {
                run.decided = true;
                tracing::debug!(
                    leg = ?frame.leg,
                    slot = frame.slot,
                    decided_ms = d.decided_ms,
                    "cpa timing: verdict decided"
                );
            }
            self.events.push_back(MediaEvent::Cpa {
                leg: frame.leg,
                event,
            });
        }
        if run.classifier.is_done() {
            self.legs.remove(&frame.leg);
            self.events
                .push_back(MediaEvent::AnalysisDone { leg: frame.leg });
        }
    }

    /// Stops analysing `leg`: before a verdict, the verdict the audio so far leaves is reported
    /// (a far end that hung up mid-greeting still gets its record's verdict).
    pub fn stop(&mut self, leg: LegId) {
        let Some(mut run) = self.legs.remove(&leg) else {
            return;
        };
        if !run.decided {
            let decision = run.classifier.finish();
            self.events.push_back(MediaEvent::Cpa {
                leg,
                event: CpaEvent::Verdict(decision),
            });
        }
        self.events.push_back(MediaEvent::AnalysisDone { leg });
    }

    /// Drops `leg`'s analysis without a word (its classifier failed).
    pub fn abort(&mut self, leg: LegId) {
        self.legs.remove(&leg);
    }

    /// Analyses running.
    pub fn len(&self) -> usize {
        self.legs.len()
    }

    /// None running.
    pub fn is_empty(&self) -> bool {
        self.legs.is_empty()
    }

    /// The next event for the engine.
    pub fn poll_event(&mut self) -> Option<MediaEvent> {
        self.events.pop_front()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpa::{Verdict, FRAME};

    const LEG: LegId = LegId(7);

    fn tone(hz: f64, ms: u32, amp: f64) -> Vec<[i16; FRAME]> {
        let n = (ms / 20) as usize;
        (0..n)
            .map(|f| {
                let mut frame = [0i16; FRAME];
                for (i, s) in frame.iter_mut().enumerate() {
                    let t = (f * FRAME + i) as f64 / 8000.0;
                    *s = (amp * (2.0 * std::f64::consts::PI * hz * t).sin()) as i16;
                }
                frame
            })
            .collect()
    }

    fn feed(a: &mut Analyses, frames: &[[i16; FRAME]]) -> Vec<MediaEvent> {
        let mut out = Vec::new();
        for (slot, pcm) in frames.iter().enumerate() {
            a.frame(&TapFrame {
                leg: LEG,
                slot: slot as u64,
                pcm: *pcm,
            });
            out.extend(std::iter::from_fn(|| a.poll_event()));
        }
        out
    }

    fn verdicts(events: &[MediaEvent]) -> Vec<Verdict> {
        events
            .iter()
            .filter_map(|e| match e {
                MediaEvent::Cpa {
                    event: CpaEvent::Verdict(d),
                    ..
                } => Some(d.verdict.clone()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn frames_of_a_leg_not_analysed_are_ignored() {
        let mut a = Analyses::new();
        let events = feed(&mut a, &tone(1000.0, 200, 8000.0));
        assert!(events.is_empty());
        assert!(a.is_empty());
    }

    #[test]
    fn dead_air_after_the_answer_gets_one_verdict_then_the_analysis_ends() {
        let mut a = Analyses::new();
        a.start(LEG, Phase::Answer, &CpaSettings::default(), None);
        // Ten seconds of silence: past every documented analysis limit.
        let events = feed(&mut a, &vec![[0i16; FRAME]; 500]);
        let v = verdicts(&events);
        assert_eq!(v.len(), 1, "{events:?}");
        assert!(
            matches!(v[0], Verdict::Silence | Verdict::Unsure),
            "{:?}",
            v[0]
        );
        assert!(events
            .iter()
            .any(|e| matches!(e, MediaEvent::AnalysisDone { leg } if *leg == LEG)));
        assert!(a.is_empty(), "a finished analysis is dropped");
        // A stop after the end reports nothing more.
        a.stop(LEG);
        assert_eq!(a.poll_event(), None);
    }

    #[test]
    fn a_stop_before_the_verdict_reports_what_the_audio_so_far_leaves() {
        let mut a = Analyses::new();
        a.start(LEG, Phase::Answer, &CpaSettings::default(), None);
        let events = feed(&mut a, &vec![[0i16; FRAME]; 5]);
        assert!(verdicts(&events).is_empty(), "100 ms decides nothing");
        a.stop(LEG);
        let events: Vec<_> = std::iter::from_fn(|| a.poll_event()).collect();
        assert_eq!(verdicts(&events).len(), 1, "{events:?}");
        assert!(matches!(
            events.last(),
            Some(MediaEvent::AnalysisDone { leg }) if *leg == LEG
        ));
        assert!(a.is_empty());
    }

    #[test]
    fn a_restart_in_the_answer_phase_replaces_the_early_analysis() {
        let mut a = Analyses::new();
        a.start(LEG, Phase::Early, &CpaSettings::default(), None);
        // Ringback (425 Hz, 1 s on 4 s off as in China): no verdict in early media.
        let mut ring = tone(425.0, 1000, 6000.0);
        ring.extend(vec![[0i16; FRAME]; 200]);
        let events = feed(&mut a, &ring);
        assert!(verdicts(&events).is_empty(), "{events:?}");
        a.start(LEG, Phase::Answer, &CpaSettings::default(), None);
        assert_eq!(a.len(), 1);
        let events = feed(&mut a, &vec![[0i16; FRAME]; 500]);
        assert_eq!(verdicts(&events).len(), 1, "{events:?}");
    }
}
