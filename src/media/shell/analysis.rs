//! The analysis thread: call-progress analysis runs here, not on the media workers, so a
//! classifier's cost never delays a relayed packet. Workers hand it jobs over their own channel
//! (no lock shared with the relay); it drives [`Analyses`] and sends its events straight to the
//! engine. Decides nothing: the classifiers do, the engine acts.

use std::sync::mpsc as std_mpsc;
use std::sync::Arc;
use std::thread::JoinHandle;

use tokio::sync::mpsc;

use crate::cpa::settings::CpaSettings;
use crate::cpa::Phase;
use crate::media::analysis::Analyses;
use crate::media::io::{Announcements, LegId, MediaEvent, TapFrame};

/// What a worker hands the analysis thread.
pub(super) enum Job {
    /// Analyse a leg (again, in a new phase).
    Start {
        leg: LegId,
        phase: Phase,
        settings: Arc<CpaSettings>,
        library: Option<Announcements>,
    },
    /// A tapped frame of an analysed leg.
    Frame(Box<TapFrame>),
    /// The engine is done with the leg, or it closed.
    Stop(LegId),
}

/// A worker's way to the analysis thread.
pub(super) type Jobs = std_mpsc::Sender<Job>;

/// Starts the analysis thread; it ends when every [`Jobs`] sender is gone.
pub(super) fn spawn(events: mpsc::Sender<MediaEvent>) -> std::io::Result<(Jobs, JoinHandle<()>)> {
    let (tx, rx) = std_mpsc::channel();
    let handle = std::thread::Builder::new()
        .name("media-analysis".into())
        .spawn(move || run(&rx, &events))?;
    Ok((tx, handle))
}

fn run(rx: &std_mpsc::Receiver<Job>, events: &mpsc::Sender<MediaEvent>) {
    super::side::serve(
        &mut Analyses::new(),
        rx,
        events,
        handle,
        Analyses::poll_event,
    );
}

/// One job; a classifier that panics loses its own analysis (the engine's deadline then decides
/// `unsure`), never the thread and every other call's analysis with it.
fn handle(analyses: &mut Analyses, job: Job) {
    let leg = match &job {
        Job::Start { leg, .. } | Job::Stop(leg) => *leg,
        Job::Frame(f) => f.leg,
    };
    let done = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| apply(analyses, job)));
    if done.is_err() {
        tracing::error!(
            ?leg,
            "call-progress analysis panicked; dropped for this leg"
        );
        analyses.abort(leg);
    }
}

fn apply(analyses: &mut Analyses, job: Job) {
    match job {
        Job::Start {
            leg,
            phase,
            settings,
            library,
        } => analyses.start(leg, phase, &settings, library.map(|l| l.0)),
        Job::Frame(frame) => analyses.frame(&frame),
        Job::Stop(leg) => analyses.stop(leg),
    }
}
