//! The recording thread: the [`TapSink`] (the recorder: mixing, µ-law encoding, file appends)
//! runs here, not on the media workers, so a slow disk or a busy recorder never delays a relayed
//! packet. Workers hand it their requests and each wake-up's tapped frames over one channel
//! ([`RecordingQueue`], one per worker, no lock shared with the relay); the frames waiting in it
//! are bounded: when the recorder falls behind, a worker drops the frames it would add and
//! counts them, and the recorder is told which legs lost how many (their recordings get
//! silence there, keep their timing, and say they have a gap). Requests (start, bridge, stop)
//! are never dropped: they are few, driven by the engine's calls, and a lost stop would leave a
//! file open. The thread sends the sink's events (a failed recording) to the engine itself and
//! ends after the workers, whose queues hold its only senders.
//!
//! Must not: decide what is recorded (the engine's Record does), or block a worker.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc as std_mpsc;
use std::sync::Arc;
use std::thread::JoinHandle;

use tokio::sync::mpsc;

use super::{ShellCounters, TapSink};
use crate::media::io::{LegId, MediaEvent, TapFrame};

/// What a worker hands the recording thread, in the worker's order.
pub(super) enum ToRecorder {
    /// Record `customer`'s call at `path`.
    Start { customer: LegId, path: PathBuf },
    /// `agent` was bridged to `customer`.
    Bridged { customer: LegId, agent: LegId },
    /// The bridge of `leg` ended.
    Unbridged(LegId),
    /// `customer`'s leg closed: finish its recording.
    Stop(LegId),
    /// One worker wake-up's tapped frames.
    Frames(Vec<TapFrame>),
    /// Frames of these legs the full queue refused since the last message (leg → frames).
    Gap(HashMap<LegId, u32>),
}

/// A worker's end of the recording thread's queue.
pub(super) struct RecordingQueue {
    tx: std_mpsc::Sender<ToRecorder>,
    /// Frames sent and not yet taken by the recorder (shared by every worker's queue).
    queued: Arc<AtomicUsize>,
    /// At most this many frames wait for the recorder.
    capacity: usize,
    /// Frames dropped since the last message, by leg: told before anything else is sent, so a
    /// gap reaches its recording before that recording's stop.
    dropped: HashMap<LegId, u32>,
    /// The shell's counters (frames dropped).
    counters: Arc<ShellCounters>,
}

impl RecordingQueue {
    /// A request: always queued (never dropped), after any gap not told yet.
    pub(super) fn request(&mut self, msg: ToRecorder) {
        self.tell_gap();
        self.send(msg);
    }

    /// A wake-up's frames: queued when the recorder has room, else dropped and counted.
    pub(super) fn frames(&mut self, frames: Vec<TapFrame>) {
        if frames.is_empty() {
            return;
        }
        let n = frames.len();
        let before = self.queued.fetch_add(n, Ordering::AcqRel);
        if before + n > self.capacity {
            self.queued.fetch_sub(n, Ordering::AcqRel);
            ShellCounters::bump(&self.counters.recording_frames_dropped, n as u64);
            for f in &frames {
                *self.dropped.entry(f.leg).or_default() += 1;
            }
            return;
        }
        self.tell_gap();
        self.send(ToRecorder::Frames(frames));
    }

    fn tell_gap(&mut self) {
        if !self.dropped.is_empty() {
            let gap = std::mem::take(&mut self.dropped);
            self.send(ToRecorder::Gap(gap));
        }
    }

    fn send(&self, msg: ToRecorder) {
        let frames = match &msg {
            ToRecorder::Frames(f) => f.len(),
            _ => 0,
        };
        if self.tx.send(msg).is_err() {
            // Only after the thread ended, i.e. while the shell stops.
            self.queued.fetch_sub(frames, Ordering::AcqRel);
            tracing::debug!("recording thread gone");
        }
    }
}

/// The recording thread and how workers reach it.
pub(super) struct Spawned {
    /// Cloned into one [`RecordingQueue`] per worker by [`Spawned::queue`].
    tx: std_mpsc::Sender<ToRecorder>,
    queued: Arc<AtomicUsize>,
    capacity: usize,
    counters: Arc<ShellCounters>,
    handle: JoinHandle<()>,
    /// The thread's Linux id, when the OS says.
    tid: Option<u32>,
}

impl Spawned {
    /// A worker's own queue.
    pub(super) fn queue(&self) -> RecordingQueue {
        RecordingQueue {
            tx: self.tx.clone(),
            queued: Arc::clone(&self.queued),
            capacity: self.capacity,
            dropped: HashMap::new(),
            counters: Arc::clone(&self.counters),
        }
    }

    /// Lets the thread end once every worker's queue is gone.
    pub(super) fn into_parts(self) -> (JoinHandle<()>, Option<u32>) {
        (self.handle, self.tid)
    }
}

/// Starts the recording thread around `sink`; at most `capacity` frames wait for it;
/// `counters` count the frames refused.
pub(super) fn spawn(
    sink: Box<dyn TapSink>,
    events: mpsc::Sender<MediaEvent>,
    capacity: usize,
    counters: Arc<ShellCounters>,
) -> std::io::Result<Spawned> {
    let (tx, rx) = std_mpsc::channel();
    let queued = Arc::new(AtomicUsize::new(0));
    let (tid_tx, tid_rx) = std_mpsc::channel();
    let taken = Arc::clone(&queued);
    let handle = std::thread::Builder::new()
        .name("media-recording".into())
        .spawn(move || {
            // The receiver waits for this (below); failing means only that spawn gave up.
            if tid_tx.send(super::own_tid()).is_err() {
                tracing::debug!("media shell gone before the recording thread started");
            }
            run(sink, &rx, &taken, &events)
        })?;
    let tid = tid_rx.recv().ok().flatten();
    Ok(Spawned {
        tx,
        queued,
        capacity: capacity.max(1),
        counters,
        handle,
        tid,
    })
}

fn run(
    mut sink: Box<dyn TapSink>,
    rx: &std_mpsc::Receiver<ToRecorder>,
    queued: &AtomicUsize,
    events: &mpsc::Sender<MediaEvent>,
) {
    super::side::serve(
        &mut sink,
        rx,
        events,
        |sink, msg| handle(sink.as_mut(), queued, msg),
        |sink| sink.poll_event(),
    );
}

/// One message; a sink that panics loses that message, never the thread and every other
/// call's recording with it.
fn handle(sink: &mut dyn TapSink, queued: &AtomicUsize, msg: ToRecorder) {
    let frames = match &msg {
        ToRecorder::Frames(f) => f.len(),
        _ => 0,
    };
    let done = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| apply(sink, msg)));
    if done.is_err() {
        tracing::error!("the recording sink panicked; message dropped");
    }
    // Room again for the workers only once the frames are written (the bound is on what waits
    // and what is being written).
    queued.fetch_sub(frames, Ordering::AcqRel);
}

fn apply(sink: &mut dyn TapSink, msg: ToRecorder) {
    match msg {
        ToRecorder::Start { customer, path } => sink.start_recording(customer, &path),
        ToRecorder::Bridged { customer, agent } => sink.bridged(customer, agent),
        ToRecorder::Unbridged(leg) => sink.unbridged(leg),
        ToRecorder::Stop(customer) => sink.stop(customer),
        ToRecorder::Frames(frames) => frames.iter().for_each(|f| sink.frame(f)),
        ToRecorder::Gap(gap) => {
            for (leg, frames) in gap {
                sink.gap(leg, frames);
            }
        }
    }
}
