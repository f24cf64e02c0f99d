//! Where tapped audio goes for recording: the [`TapSink`] trait the recording writer implements,
//! and a no-op default (analysis has its own thread: `analysis`). Owns no file: a sink decides
//! what to write.

use std::path::Path;

use crate::media::io::{LegId, MediaEvent, TapFrame};

/// A consumer of the media plane's tap: the recording writer. (Call-progress analysis does not
/// go through it: it has its own thread and channel, see the shell's doc.)
///
/// Called from the media worker threads (one at a time: the shell holds it behind a mutex and
/// hands it each worker's frames in batches), so an implementation must not block for long: a
/// slow disk belongs behind the sink's own queue, not on the relay's hot path.
pub trait TapSink: Send {
    /// The engine asked for a recording of `customer`'s call at `path` (the customer leg left,
    /// its bridged agent right). Frames of both legs follow through [`frame`](Self::frame).
    fn start_recording(&mut self, customer: LegId, path: &Path);
    /// 20 ms of one tapped leg's audio.
    fn frame(&mut self, frame: &TapFrame);
    /// `customer`'s leg closed: finish its recording.
    fn stop(&mut self, customer: LegId);
    /// `agent` was bridged to `customer`: the agent's frames belong to that call's recording
    /// (an agent's nailed-up leg serves many customers, so its frames name only the agent).
    fn bridged(&mut self, _customer: LegId, _agent: LegId) {}
    /// The bridge of `leg` (either side) ended.
    fn unbridged(&mut self, _leg: LegId) {}
    /// What the sink has to tell the engine (a recording that failed).
    fn poll_event(&mut self) -> Option<MediaEvent> {
        None
    }
}

/// The default sink: drops every frame (no recording writer plugged in).
#[derive(Clone, Copy, Debug, Default)]
pub struct NoTapSink;

impl TapSink for NoTapSink {
    fn start_recording(&mut self, customer: LegId, path: &Path) {
        tracing::debug!(?customer, path = %path.display(), "no tap sink: recording not written");
    }
    fn frame(&mut self, _frame: &TapFrame) {}
    fn stop(&mut self, _customer: LegId) {}
}
