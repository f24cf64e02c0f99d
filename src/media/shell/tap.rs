//! Where tapped audio goes for recording: the [`TapSink`] trait the recording writer implements,
//! and a no-op default (analysis has its own thread: `analysis`). Owns no file: a sink decides
//! what to write.

use std::path::Path;

use crate::media::io::{LegId, MediaEvent, TapFrame};

/// A consumer of the media plane's tap: the recording writer. (Call-progress analysis does not
/// go through it: it has its own thread and channel, see the shell's doc.)
///
/// Called from the shell's own recording thread (never from a media worker: the workers queue
/// each wake-up's frames for it), so a slow write delays only the recordings. When that thread
/// falls too far behind, the workers drop frames rather than wait, and tell the sink through
/// [`gap`](Self::gap).
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
    /// `frames` 20-ms frames of `leg` (a customer or a bridged agent) were dropped before
    /// reaching the sink (its queue was full): the recording has a gap there.
    fn gap(&mut self, _leg: LegId, _frames: u32) {}
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
