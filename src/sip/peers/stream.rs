//! The synthetic peers' RTP on the wire: one tokio task per answered call with media, owning
//! that call's UDP socket. Every 20 ms it sends the next packet of the call's [`RtpVoice`] to the
//! offer's address, from the port its SDP named (symmetric RTP), and it counts the RTP it
//! receives. Aborted when the call ends; the counts outlive it.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

use super::media::{is_rtp, RtpVoice};

/// RTP packets of one call (or of all calls), updated by the stream task.
#[derive(Debug, Default)]
pub struct Counts {
    /// Packets sent.
    pub sent: AtomicU64,
    /// Valid RTP packets received.
    pub received: AtomicU64,
}

impl Counts {
    /// (sent, received) now.
    pub fn get(&self) -> (u64, u64) {
        (
            self.sent.load(Ordering::Relaxed),
            self.received.load(Ordering::Relaxed),
        )
    }
}

/// Starts streaming `voice` on `sock` to `remote`; counts into `call` and `total`. Runs until
/// aborted.
pub fn spawn(
    sock: UdpSocket,
    remote: SocketAddr,
    mut voice: RtpVoice,
    call: Arc<Counts>,
    total: Arc<Counts>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(20));
        // A late tick sends at once and keeps the 20 ms grid: the far end sees jitter, not loss.
        tick.set_missed_tick_behavior(MissedTickBehavior::Burst);
        let mut buf = [0u8; 2048];
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    let packet = voice.next_packet();
                    match sock.send_to(&packet, remote).await {
                        Ok(_) => {
                            call.sent.fetch_add(1, Ordering::Relaxed);
                            total.sent.fetch_add(1, Ordering::Relaxed);
                        }
                        // Nobody listening yet, or a full buffer: the packet is lost, as on a
                        // network; the next one is tried on time.
                        Err(e) => tracing::trace!(%remote, error = %e, "rtp send failed"),
                    }
                }
                r = sock.recv_from(&mut buf) => match r {
                    Ok((n, _)) if is_rtp(&buf[..n]) => {
                        call.received.fetch_add(1, Ordering::Relaxed);
                        total.received.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(_) => {}
                    // An ICMP "port unreachable" for an earlier send surfaces here on Linux.
                    Err(e) => tracing::trace!(error = %e, "rtp receive error"),
                },
            }
        }
    })
}
