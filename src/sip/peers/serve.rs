//! The tokio loop of a synthetic peer: receives the core's events, asks the [`Peer`] for a plan
//! per inbound call, and runs the planned steps on time through the [`SipHandle`]. One timer (the
//! earliest step) for all calls; steps of calls that ended meanwhile are dropped.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashSet};
use std::future::Future;

use tokio::sync::mpsc::Receiver;
use tokio::time::Instant;

use super::{Incoming, Peer, Step};
use crate::sip::driver::{DriverGone, SipHandle};
use crate::sip::endpoint::{CallId, Event};
use crate::sip::values::ExtraHeader;
use crate::sip::ANSWER_HEADER;

/// Serves `peer` on `handle` until `shutdown` completes or the driver stops. Returns the number
/// of calls seen.
pub async fn serve<P: Peer>(
    handle: SipHandle,
    mut events: Receiver<Event>,
    mut peer: P,
    shutdown: impl Future<Output = ()>,
) -> Result<u64, DriverGone> {
    // (when, sequence, call, step): the sequence keeps a call's steps in plan order.
    let mut due: BinaryHeap<Reverse<(Instant, u64, u64)>> = BinaryHeap::new();
    let mut steps: std::collections::HashMap<u64, (CallId, Step)> = Default::default();
    let mut live: HashSet<CallId> = HashSet::new();
    let mut seq = 0u64;
    let mut calls = 0u64;
    tokio::pin!(shutdown);
    loop {
        let next = due.peek().map(|Reverse((t, _, _))| *t);
        tokio::select! {
            _ = &mut shutdown => return Ok(calls),
            ev = events.recv() => match ev {
                None => return Ok(calls),
                Some(Event::InboundCall { call, to, offer, .. }) => {
                    calls += 1;
                    live.insert(call);
                    let now = Instant::now();
                    for p in peer.on_call(&Incoming { call, to, offer }) {
                        due.push(Reverse((now + p.after, seq, seq)));
                        steps.insert(seq, (call, p.step));
                        seq += 1;
                    }
                }
                Some(Event::Ended { call, .. } | Event::Failed { call, .. }) => {
                    live.remove(&call);
                    peer.on_end(call);
                }
                Some(_) => {}
            },
            _ = tokio::time::sleep_until(next.unwrap_or_else(Instant::now)), if next.is_some() => {
                let now = Instant::now();
                while let Some(Reverse((t, _, id))) = due.peek().copied() {
                    if t > now {
                        break;
                    }
                    due.pop();
                    let Some((call, step)) = steps.remove(&id) else { continue };
                    if !live.contains(&call) {
                        continue;
                    }
                    // A step may race the far end (a CANCEL before the answer): the core then
                    // refuses it with a CallError, which only means the call moved on.
                    let res = match step {
                        Step::Ring => handle.ring(call).await?,
                        Step::Answer { sdp, machine: m } => {
                            // Both parts are valid tokens, so the header always builds.
                            let headers: Vec<ExtraHeader> = if m {
                                ExtraHeader::new(ANSWER_HEADER, "machine").into_iter().collect()
                            } else {
                                Vec::new()
                            };
                            handle.answer(call, Some(sdp), headers).await?
                        }
                        Step::Reject(code) => {
                            let r = handle.reject(call, code).await?;
                            live.remove(&call);
                            peer.on_end(call);
                            r
                        }
                        Step::Hangup => handle.hangup(call).await?,
                    };
                    if let Err(e) = res {
                        tracing::debug!(%call, error = %e, "peer step skipped");
                    }
                }
            }
        }
    }
}
