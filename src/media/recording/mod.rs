//! Call recording: a consumer of the media tap ([`TapFrame`]s, one leg's 20 ms, slot-numbered)
//! that writes each call as a stereo µ-law WAV, customer left and agent right.
//!
//! - [`mixer`]: sans-IO channel alignment (slots in, interleaved bytes out).
//! - [`writer`]: the file (header rewritten every second; [`writer::recover`] after a crash).
//! - [`Recorder`]: which legs belong to which recording, and the failures to report.
//!
//! A recording that cannot be written (unwritable directory, full disk) is dropped with a
//! [`MediaEvent::RecordingFailed`]; the call never notices. Nothing here relays audio, reads a
//! clock or touches the store; the media shell drives it and turns its events into the engine's.
//! File writes are blocking syscalls (one append a second per call): the shell runs the recorder
//! on its own thread, off the packet path, and tells it of frames it had to drop
//! ([`Recorder::gap`]).

pub mod mixer;
pub mod stale;
pub mod writer;

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};

use self::mixer::{Mixer, Side};
use self::writer::WavWriter;
pub use self::writer::{recover, WriteError};
use super::io::{LegId, MediaEvent, TapFrame};

/// What a finished recording left, for the call record.
#[derive(Clone, Debug, PartialEq)]
pub struct RecordingSummary {
    /// The file.
    pub path: PathBuf,
    /// Seconds of audio in it.
    pub duration_secs: f64,
    /// Why it failed, when it did (the file may then be partial or absent).
    pub failed: Option<String>,
    /// Milliseconds of audio (of either channel) dropped before reaching the recorder: silence
    /// in the file there, the timing kept.
    pub gap_ms: u64,
}

/// One call being recorded.
#[derive(Debug)]
struct Recording {
    path: PathBuf,
    mixer: Mixer,
    /// `None` once it failed.
    writer: Option<WavWriter>,
    failed: Option<String>,
    /// Seconds written before a failure.
    seconds: f64,
    /// Scratch for the mixer's output.
    out: Vec<u8>,
    /// 20-ms frames dropped before they reached the recorder (see [`Recorder::gap`]).
    gap_frames: u64,
}

/// Every recording of a media plane, keyed by the customer leg.
#[derive(Debug, Default)]
pub struct Recorder {
    calls: HashMap<LegId, Recording>,
    /// Agent leg → the customer whose recording its audio goes to (nailed-up agents change
    /// customer between calls: the engine re-attaches them).
    agents: HashMap<LegId, LegId>,
    events: VecDeque<MediaEvent>,
}

impl Recorder {
    /// No recordings.
    pub fn new() -> Recorder {
        Recorder::default()
    }

    /// Starts recording `customer`'s call to `path` (the directory is created). A failure is
    /// reported through [`Recorder::poll_event`], and [`Recorder::stop`] still summarises it.
    pub fn start_recording(&mut self, customer: LegId, path: &Path) {
        let (writer, failed) = match WavWriter::create(path) {
            Ok(w) => (Some(w), None),
            Err(e) => {
                tracing::warn!(error = %e, "recording failed to start");
                self.events.push_back(MediaEvent::RecordingFailed {
                    customer,
                    reason: e.to_string(),
                });
                (None, Some(e.to_string()))
            }
        };
        self.calls.insert(
            customer,
            Recording {
                path: path.to_path_buf(),
                mixer: Mixer::new(),
                writer,
                failed,
                seconds: 0.0,
                out: Vec::new(),
                gap_frames: 0,
            },
        );
    }

    /// `agent`'s audio goes to the right channel of `customer`'s recording from now on.
    pub fn attach(&mut self, agent: LegId, customer: LegId) {
        self.agents.insert(agent, customer);
    }

    /// `agent`'s audio goes to no recording.
    pub fn detach(&mut self, agent: LegId) {
        self.agents.remove(&agent);
    }

    /// `frames` frames of `leg` (a recorded customer or an agent bridged to one) never reached
    /// the recorder (its queue was full): the mixer fills the slots with silence, the recording
    /// is marked as having a gap, and the engine hears of it once
    /// ([`MediaEvent::RecordingGap`]).
    pub fn gap(&mut self, leg: LegId, frames: u32) {
        let customer = if self.calls.contains_key(&leg) {
            leg
        } else if let Some(&c) = self.agents.get(&leg) {
            c
        } else {
            return;
        };
        let Some(rec) = self.calls.get_mut(&customer) else {
            return;
        };
        let first = rec.gap_frames == 0;
        rec.gap_frames += u64::from(frames);
        if first && frames > 0 {
            self.events.push_back(MediaEvent::RecordingGap {
                customer,
                missing_ms: rec.gap_frames * 20,
            });
        }
    }

    /// One tapped frame: placed in the recording its leg belongs to, if any.
    pub fn frame(&mut self, frame: &TapFrame) {
        let (customer, side) = if self.calls.contains_key(&frame.leg) {
            (frame.leg, Side::Customer)
        } else if let Some(&c) = self.agents.get(&frame.leg) {
            (c, Side::Agent)
        } else {
            return;
        };
        let Some(rec) = self.calls.get_mut(&customer) else {
            return;
        };
        let Some(writer) = rec.writer.as_mut() else {
            return; // failed earlier: the call goes on unrecorded
        };
        rec.out.clear();
        rec.mixer.push(side, frame.slot, &frame.pcm, &mut rec.out);
        if rec.out.is_empty() {
            return;
        }
        if let Err(e) = writer.append(&rec.out) {
            let reason = e.to_string();
            tracing::warn!(error = %reason, "recording failed");
            rec.seconds = writer.seconds();
            rec.writer = None;
            rec.failed = Some(reason.clone());
            self.events
                .push_back(MediaEvent::RecordingFailed { customer, reason });
        }
    }

    /// Ends `customer`'s recording: the held slots are written and the file closed. `None`
    /// when it was not being recorded. Agents attached to it are detached.
    pub fn stop(&mut self, customer: LegId) -> Option<RecordingSummary> {
        let mut rec = self.calls.remove(&customer)?;
        if rec.gap_frames > 0 {
            tracing::warn!(
                path = %rec.path.display(),
                missing_ms = rec.gap_frames * 20,
                "recording closed with a gap (the recorder fell behind)"
            );
        }
        self.agents.retain(|_, c| *c != customer);
        if let Some(mut writer) = rec.writer.take() {
            rec.out.clear();
            rec.mixer.finish(&mut rec.out);
            let done = writer.append(&rec.out).and_then(|()| writer.finish());
            match done {
                Ok(secs) => rec.seconds = secs,
                Err(e) => {
                    let reason = e.to_string();
                    tracing::warn!(error = %reason, "recording failed at its end");
                    rec.failed = Some(reason.clone());
                    self.events
                        .push_back(MediaEvent::RecordingFailed { customer, reason });
                }
            }
        }
        Some(RecordingSummary {
            path: rec.path,
            duration_secs: rec.seconds,
            failed: rec.failed,
            gap_ms: rec.gap_frames * 20,
        })
    }

    /// The next event for the engine ([`MediaEvent::RecordingFailed`]).
    pub fn poll_event(&mut self) -> Option<MediaEvent> {
        self.events.pop_front()
    }

    /// Recordings in progress.
    pub fn active(&self) -> usize {
        self.calls.len()
    }
}

/// The media shell's tap consumer: the shell hands the recorder its requests, bridges and
/// frames (file writes happen here, once a second per call, on the shell's recording thread).
impl crate::media::shell::TapSink for Recorder {
    fn start_recording(&mut self, customer: LegId, path: &Path) {
        Recorder::start_recording(self, customer, path);
    }
    fn frame(&mut self, frame: &TapFrame) {
        Recorder::frame(self, frame);
    }
    fn stop(&mut self, customer: LegId) {
        if let Some(s) = Recorder::stop(self, customer) {
            tracing::debug!(path = %s.path.display(), secs = s.duration_secs, "recording closed");
        }
    }
    fn bridged(&mut self, customer: LegId, agent: LegId) {
        self.attach(agent, customer);
    }
    fn gap(&mut self, leg: LegId, frames: u32) {
        Recorder::gap(self, leg, frames);
    }
    fn unbridged(&mut self, leg: LegId) {
        self.detach(leg);
        self.agents.retain(|_, c| *c != leg);
    }
    fn poll_event(&mut self) -> Option<MediaEvent> {
        Recorder::poll_event(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::g711::ulaw_decode;

    fn tap(leg: u64, slot: u64, v: i16) -> TapFrame {
        TapFrame {
            leg: LegId(leg),
            slot,
            pcm: [v; 160],
        }
    }

    fn dir(name: &str) -> PathBuf {
        let d =
            std::env::temp_dir().join(format!("outdial-recorder-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d); // a leftover from an earlier run, if any
        d
    }

    #[test]
    fn a_call_is_recorded_customer_left_agent_right_from_the_first_slot() {
        let path = dir("call").join("c.wav");
        let mut r = Recorder::new();
        r.start_recording(LegId(1), &path);
        // The customer speaks from slot 10; the agent is bridged at slot 60 (one second later).
        for s in 10..110 {
            r.frame(&tap(1, s, 3000));
            if s == 60 {
                r.attach(LegId(2), LegId(1));
            }
            r.frame(&tap(2, s, -3000)); // before attach: not recorded
            r.frame(&tap(9, s, 1234)); // some other call's leg: ignored
        }
        let sum = r.stop(LegId(1)).unwrap();
        assert_eq!(sum.failed, None);
        assert!(
            (sum.duration_secs - 2.0).abs() < 1e-9,
            "{}",
            sum.duration_secs
        );
        let bytes = std::fs::read(&path).unwrap();
        let data = &bytes[writer::HEADER_LEN as usize..];
        assert_eq!(data.len(), 100 * 320);
        let at = |slot: usize, ch: usize| ulaw_decode(data[slot * 320 + ch]);
        assert!(at(0, 0) > 2900 && at(0, 1) == 0);
        assert!(at(49, 0) > 2900 && at(49, 1) == 0);
        assert!(at(50, 0) > 2900 && at(50, 1) < -2900);
        assert!(at(99, 0) > 2900 && at(99, 1) < -2900);
        assert!(r.poll_event().is_none());
        assert_eq!(r.active(), 0);
    }

    #[test]
    fn dropped_frames_leave_silence_in_place_and_mark_the_recording_once() {
        let path = dir("gap").join("c.wav");
        let mut r = Recorder::new();
        r.start_recording(LegId(1), &path);
        r.attach(LegId(2), LegId(1));
        for s in 0..100 {
            // Slots 40..60 of the customer never reach the recorder (its queue was full).
            if !(40..60).contains(&s) {
                r.frame(&tap(1, s, 3000));
            }
            r.frame(&tap(2, s, -3000));
        }
        r.gap(LegId(1), 15);
        r.gap(LegId(2), 0);
        r.gap(LegId(1), 5);
        r.gap(LegId(9), 7); // a leg of no recording: nothing
        match r.poll_event() {
            Some(MediaEvent::RecordingGap {
                customer,
                missing_ms,
            }) => {
                assert_eq!(customer, LegId(1));
                assert_eq!(missing_ms, 300);
            }
            other => panic!("{other:?}"),
        }
        assert!(r.poll_event().is_none(), "told once per recording");
        let sum = r.stop(LegId(1)).unwrap();
        assert_eq!(sum.gap_ms, 400);
        assert_eq!(sum.failed, None);
        let bytes = std::fs::read(&path).unwrap();
        let data = &bytes[writer::HEADER_LEN as usize..];
        // Timing kept: 100 slots, silence on the left where the frames were dropped.
        assert_eq!(data.len(), 100 * 320);
        let at = |slot: usize, ch: usize| ulaw_decode(data[slot * 320 + ch]);
        assert!(at(39, 0) > 2900 && at(40, 0) == 0 && at(59, 0) == 0 && at(60, 0) > 2900);
        assert!(at(50, 1) < -2900);
    }

    #[test]
    fn an_unwritable_directory_fails_the_recording_not_the_call() {
        let base = dir("unwritable");
        std::fs::create_dir_all(&base).unwrap();
        let blocker = base.join("file");
        std::fs::write(&blocker, b"x").unwrap();
        let mut r = Recorder::new();
        r.start_recording(LegId(1), &blocker.join("c.wav"));
        for s in 0..100 {
            r.frame(&tap(1, s, 100));
        }
        match r.poll_event() {
            Some(MediaEvent::RecordingFailed { customer, reason }) => {
                assert_eq!(customer, LegId(1));
                assert!(reason.contains("c.wav"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
        let sum = r.stop(LegId(1)).unwrap();
        assert!(sum.failed.is_some());
        assert!(r.poll_event().is_none());
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn a_full_disk_is_reported_once_and_the_frames_after_it_are_dropped() {
        // /dev/full accepts the open and fails every write with ENOSPC (here: the header).
        let full = Path::new("/dev/full");
        if !full.exists() {
            return;
        }
        let mut r = Recorder::new();
        r.start_recording(LegId(7), full);
        for s in 0..200 {
            r.frame(&tap(7, s, 100));
        }
        let events: Vec<_> = std::iter::from_fn(|| r.poll_event()).collect();
        assert_eq!(events.len(), 1, "{events:?}");
        let sum = r.stop(LegId(7)).unwrap();
        assert!(sum.failed.unwrap().contains("No space"));
    }
}
