//! Kernel receive timestamps for UDP sockets (`SO_TIMESTAMPNS`): the kernel stamps each datagram
//! when it reaches the socket's queue, and `recvmsg` hands the stamp over with the bytes. What
//! they are for: measuring how long a datagram waited *after* it arrived (in a relay, or in a
//! load generator's receiver) without counting the reader's own scheduling lag.
//!
//! Stamps and [`now_ns`] are the same clock (`CLOCK_REALTIME`, ns since the Unix epoch), so a
//! stamp can be compared with a time read in user space or carried in a payload on this host.
//! Owns no socket: it enables the option on one and reads from it through `nix` (no `unsafe`).

use std::io::{self, IoSliceMut};
use std::net::{SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{AsFd, AsRawFd};
use std::time::{SystemTime, UNIX_EPOCH};

use nix::sys::socket::{
    recvmsg, setsockopt, sockopt, ControlMessageOwned, MsgFlags, SockaddrStorage,
};
use nix::sys::time::TimeSpec;

/// Asks the kernel to stamp every datagram `socket` receives.
pub fn enable(socket: &impl AsFd) -> io::Result<()> {
    setsockopt(socket, sockopt::ReceiveTimestampns, &true).map_err(io::Error::from)
}

/// Now on the stamps' clock: ns since the Unix epoch (0 if the clock is before it).
pub fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// One datagram read by [`StampedReader::recv`].
#[derive(Clone, Copy, Debug)]
pub struct Stamped {
    /// Bytes in the caller's buffer.
    pub len: usize,
    /// The sender.
    pub from: Option<SocketAddr>,
    /// When the kernel queued it (ns, [`now_ns`]'s clock); `None` when the socket has no
    /// stamping enabled.
    pub stamp_ns: Option<u64>,
}

/// A reader's reusable control-message buffer (one allocation, at creation).
pub struct StampedReader {
    cmsg: Vec<u8>,
}

impl Default for StampedReader {
    fn default() -> Self {
        StampedReader::new()
    }
}

impl StampedReader {
    /// A reader with room for one timestamp.
    pub fn new() -> Self {
        StampedReader {
            cmsg: nix::cmsg_space!(TimeSpec),
        }
    }

    /// Reads one datagram from `socket` (non-blocking sockets give `WouldBlock` as usual).
    pub fn recv(&mut self, socket: &impl AsRawFd, buf: &mut [u8]) -> io::Result<Stamped> {
        let mut iov = [IoSliceMut::new(buf)];
        let msg = recvmsg::<SockaddrStorage>(
            socket.as_raw_fd(),
            &mut iov,
            Some(&mut self.cmsg),
            MsgFlags::empty(),
        )
        .map_err(io::Error::from)?;
        let mut stamp_ns = None;
        // A truncated control area only loses the stamp, not the datagram.
        if let Ok(cmsgs) = msg.cmsgs() {
            for c in cmsgs {
                if let ControlMessageOwned::ScmTimestampns(ts) = c {
                    let ns = (ts.tv_sec() as i128) * 1_000_000_000 + ts.tv_nsec() as i128;
                    stamp_ns = u64::try_from(ns).ok();
                }
            }
        }
        let from = msg.address.as_ref().and_then(socket_addr);
        Ok(Stamped {
            len: msg.bytes,
            from,
            stamp_ns,
        })
    }
}

fn socket_addr(a: &SockaddrStorage) -> Option<SocketAddr> {
    if let Some(v4) = a.as_sockaddr_in() {
        return Some(SocketAddr::V4(SocketAddrV4::from(*v4)));
    }
    if let Some(v6) = a.as_sockaddr_in6() {
        return Some(SocketAddr::V6(SocketAddrV6::from(*v6)));
    }
    None // not an IP sender: never on a UDP/IP socket
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::UdpSocket;

    #[test]
    fn a_stamped_datagram_arrives_with_its_sender_and_a_stamp_between_send_and_read() {
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        enable(&rx).unwrap();
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let before = now_ns();
        tx.send_to(b"hello", rx.local_addr().unwrap()).unwrap();
        let mut buf = [0u8; 64];
        let got = StampedReader::new().recv(&rx, &mut buf).unwrap();
        let after = now_ns();
        assert_eq!(&buf[..got.len], b"hello");
        assert_eq!(got.from, Some(tx.local_addr().unwrap()));
        let stamp = got.stamp_ns.expect("stamp");
        assert!(
            before <= stamp && stamp <= after,
            "{before} {stamp} {after}"
        );
    }

    #[test]
    fn without_the_option_there_is_no_stamp() {
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        tx.send_to(b"x", rx.local_addr().unwrap()).unwrap();
        let mut buf = [0u8; 8];
        let got = StampedReader::new().recv(&rx, &mut buf).unwrap();
        assert_eq!((got.len, got.stamp_ns), (1, None));
    }
}
