//! The loop the media shell's side threads share (call-progress analysis, recording): take
//! every queued message, then hand over what the thread has to tell the engine without ever
//! blocking on the engine's channel. Owns no state of its own: the thread's state and its two
//! steps are passed in.

use std::collections::VecDeque;
use std::sync::mpsc as std_mpsc;
use std::time::Duration;

use tokio::sync::mpsc;

use crate::media::io::MediaEvent;

/// How long a side thread waits before retrying events the engine's full channel refused.
const RETRY: Duration = Duration::from_millis(2);

/// Runs until every sender of `rx` is gone: `take` each message into `state`, then `poll` the
/// state's events to the engine. Events the engine's channel does not take yet wait in a backlog
/// (never block on the engine: it may be stopping and no longer reading; never drop an event
/// while it still listens); once nobody listens they are dropped (the run is over).
pub(super) fn serve<S, M>(
    state: &mut S,
    rx: &std_mpsc::Receiver<M>,
    events: &mpsc::Sender<MediaEvent>,
    mut take: impl FnMut(&mut S, M),
    mut poll: impl FnMut(&mut S) -> Option<MediaEvent>,
) {
    let mut backlog: VecDeque<MediaEvent> = VecDeque::new();
    loop {
        let msg = if backlog.is_empty() {
            match rx.recv() {
                Ok(msg) => Some(msg),
                Err(_) => return,
            }
        } else {
            match rx.recv_timeout(RETRY) {
                Ok(msg) => Some(msg),
                Err(std_mpsc::RecvTimeoutError::Timeout) => None,
                Err(std_mpsc::RecvTimeoutError::Disconnected) => return,
            }
        };
        if let Some(msg) = msg {
            take(state, msg);
            // Take what else is queued before talking to the engine.
            while let Ok(msg) = rx.try_recv() {
                take(state, msg);
            }
        }
        backlog.extend(std::iter::from_fn(|| poll(state)));
        while let Some(event) = backlog.pop_front() {
            match events.try_send(event) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(event)) => {
                    backlog.push_front(event);
                    break;
                }
                Err(mpsc::error::TrySendError::Closed(_)) => {
                    backlog.clear();
                    break;
                }
            }
        }
    }
}
