//! The tokio loop of a synthetic peer: receives the core's events, asks the [`Peer`] for a plan
//! per inbound call, and runs the planned steps on time through the [`SipHandle`]. One timer (the
//! earliest step) for all calls; steps of calls that ended meanwhile are dropped. An answer binds
//! the call's RTP socket (its port goes into the SDP) and starts the call's [`stream`]; the end
//! of the call (BYE either way, CANCEL, failure) stops it.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::UdpSocket;
use tokio::sync::mpsc::Receiver;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::media::RtpVoice;
use super::stream::{self, Counts};
use super::{AnswerMedia, Incoming, Peer, Step, DISCARD_PORT};
use crate::sip::driver::{DriverGone, SipHandle};
use crate::sip::endpoint::{CallId, Event};
use crate::sip::values::ExtraHeader;
use crate::sip::ANSWER_HEADER;

/// What a peer did while it served.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Served {
    /// Inbound calls seen.
    pub calls: u64,
    /// RTP packets sent, all calls together.
    pub rtp_sent: u64,
    /// Valid RTP packets received, all calls together.
    pub rtp_received: u64,
}

/// One answered call's stream and its counts.
struct Media {
    task: JoinHandle<()>,
    counts: Arc<Counts>,
}

/// Binds the RTP socket of an answer on `media.ip` (any port); `None` if that fails.
async fn bind_rtp(media: &AnswerMedia) -> Option<UdpSocket> {
    match UdpSocket::bind(SocketAddr::new(media.ip, 0)).await {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::warn!(ip = %media.ip, error = %e, "no RTP socket: answering without media");
            None
        }
    }
}

/// Stops a call's stream and logs what it counted.
fn stop(streams: &mut HashMap<CallId, Media>, call: CallId) {
    if let Some(m) = streams.remove(&call) {
        m.task.abort();
        let (sent, received) = m.counts.get();
        tracing::debug!(%call, sent, received, "rtp stream stopped");
    }
}

/// Serves `peer` on `handle` until `shutdown` completes or the driver stops. Returns what it
/// served.
pub async fn serve<P: Peer>(
    handle: SipHandle,
    events: Receiver<Event>,
    peer: P,
    shutdown: impl Future<Output = ()>,
) -> Result<Served, DriverGone> {
    let total = Arc::new(Counts::default());
    let mut streams: HashMap<CallId, Media> = HashMap::new();
    let calls = run(handle, events, peer, shutdown, &total, &mut streams).await;
    for (_, m) in streams.drain() {
        m.task.abort();
    }
    let (rtp_sent, rtp_received) = total.get();
    Ok(Served {
        calls: calls?,
        rtp_sent,
        rtp_received,
    })
}

/// The event loop of [`serve`].
async fn run<P: Peer>(
    handle: SipHandle,
    mut events: Receiver<Event>,
    mut peer: P,
    shutdown: impl Future<Output = ()>,
    total: &Arc<Counts>,
    streams: &mut HashMap<CallId, Media>,
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
                    stop(streams, call);
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
                        Step::Answer { media, machine: m } => {
                            // Both parts are valid tokens, so the header always builds.
                            let headers: Vec<ExtraHeader> = if m {
                                ExtraHeader::new(ANSWER_HEADER, "machine").into_iter().collect()
                            } else {
                                Vec::new()
                            };
                            // Flow I (no offer): signalling only, a placeholder port. With an offer:
                            // the call's own socket, or port 0 (stream refused) if none was had.
                            let sock = match &media.offered {
                                Some(_) => bind_rtp(&media).await,
                                None => None,
                            };
                            let port = match (&media.offered, &sock) {
                                (None, _) => DISCARD_PORT,
                                (Some(_), Some(s)) => s.local_addr().map_or(0, |a| a.port()),
                                (Some(_), None) => 0,
                            };
                            let r = handle.answer(call, Some(media.sdp(port)), headers).await?;
                            if let (Ok(()), Some(sock), Some(offered)) = (&r, sock, &media.offered) {
                                let counts = Arc::new(Counts::default());
                                let task = stream::spawn(
                                    sock,
                                    offered.remote.addr,
                                    RtpVoice::new(media.voice, offered.remote.codec, media.seed),
                                    counts.clone(),
                                    total.clone(),
                                );
                                streams.insert(call, Media { task, counts });
                            }
                            r
                        }
                        Step::Reject(code) => {
                            let r = handle.reject(call, code).await?;
                            live.remove(&call);
                            peer.on_end(call);
                            r
                        }
                        Step::Hangup => {
                            stop(streams, call);
                            handle.hangup(call).await?
                        }
                    };
                    if let Err(e) = res {
                        tracing::debug!(%call, error = %e, "peer step skipped");
                    }
                }
            }
        }
    }
}
