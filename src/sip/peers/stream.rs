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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::io::Codec;
    use crate::sip::peers::voice::Voice;

    #[tokio::test]
    async fn streams_to_the_far_end_and_counts_only_rtp_received() {
        let ours = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
        let ours_addr = ours.local_addr().expect("addr");
        let far = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
        let call = Arc::new(Counts::default());
        let total = Arc::new(Counts::default());
        let task = spawn(
            ours,
            far.local_addr().expect("addr"),
            RtpVoice::new(Voice::Agent, Codec::Pcma, 1),
            call.clone(),
            total.clone(),
        );
        let mut buf = [0u8; 2048];
        let (n, from) = tokio::time::timeout(Duration::from_secs(5), far.recv_from(&mut buf))
            .await
            .expect("a packet in time")
            .expect("recv");
        assert_eq!((n, from), (172, ours_addr), "from the socket of the SDP");
        assert_eq!(buf[1] & 0x7F, 8, "PCMA as offered");
        let mut rtp = vec![0x80, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1];
        rtp.extend([0xD5; 160]);
        for p in [&rtp[..], b"not rtp", &rtp[..], &rtp[..]] {
            far.send_to(p, ours_addr).await.expect("send");
        }
        // Bounded wait for the stream task to read them (not a timing threshold).
        for _ in 0..250 {
            if call.get().1 >= 3 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        task.abort();
        assert_eq!(call.get().1, 3, "three RTP packets, the junk not counted");
        assert_eq!(total.get().1, 3);
        assert!(call.get().0 >= 1 && total.get().0 == call.get().0);
    }
}
