//! Kernel receive timestamps for UDP sockets (`SO_TIMESTAMPNS`): the kernel stamps each datagram
//! when it reaches the socket's queue, and `recvmmsg` hands the stamp over with the bytes. What
//! they are for: measuring how long a datagram waited *after* it arrived (in a relay, or in a
//! load generator's receiver) without counting the reader's own scheduling lag.
//!
//! Stamps and [`now_ns`] are the same clock (`CLOCK_REALTIME`, ns since the Unix epoch), so a
//! stamp can be compared with a time read in user space or carried in a payload on this host.
//! Owns no socket: it enables the option on one and reads from it through `nix` (no `unsafe`), a
//! batch of datagrams per `recvmmsg` ([`BatchReader`]).

use std::io::{self, IoSliceMut};
use std::net::{SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{AsFd, AsRawFd};
use std::time::{SystemTime, UNIX_EPOCH};

use nix::sys::socket::{
    recvmmsg, setsockopt, sockopt, ControlMessageOwned, MsgFlags, MultiHeaders, SockaddrStorage,
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

/// What the kernel said of one datagram read by [`BatchReader::recv`].
#[derive(Clone, Copy, Debug)]
pub struct Stamped {
    /// Its length in bytes.
    pub len: usize,
    /// The sender.
    pub from: Option<SocketAddr>,
    /// When the kernel queued it (ns, [`now_ns`]'s clock); `None` when the socket has no
    /// stamping enabled.
    pub stamp_ns: Option<u64>,
    /// Datagrams the socket dropped for a full queue since it opened (`SO_RXQ_OVFL`, a running
    /// total); `None` when the socket does not report them.
    pub dropped: Option<u32>,
}

/// The kernel stamp and the drop count among a datagram's control messages (the last of each).
fn control_of(cmsgs: impl Iterator<Item = ControlMessageOwned>) -> (Option<u64>, Option<u32>) {
    let (mut stamp_ns, mut dropped) = (None, None);
    for c in cmsgs {
        match c {
            ControlMessageOwned::ScmTimestampns(ts) => stamp_ns = ns_of(&ts),
            ControlMessageOwned::RxqOvfl(n) => dropped = Some(n),
            _ => {}
        }
    }
    (stamp_ns, dropped)
}

/// An `SCM_TIMESTAMPNS` stamp in ns of [`now_ns`]'s clock (`None` before the epoch).
pub fn ns_of(ts: &TimeSpec) -> Option<u64> {
    let ns = (ts.tv_sec() as i128) * 1_000_000_000 + ts.tv_nsec() as i128;
    u64::try_from(ns).ok()
}

/// Reads up to `N` datagrams of up to `SIZE` bytes per `recvmmsg`, each with its sender, (on
/// a socket with [`enable`]d stamps) its kernel stamp and (with `SO_RXQ_OVFL` on) the socket's
/// drop count. Its buffers are allocated once, at
/// creation: a relay's hot path reads through it without allocating.
///
/// nix 0.32's `recvmmsg` does not reset a header's control length, which the kernel lowers to
/// what a datagram used: a slot that once read a datagram with a stamp alone (every datagram
/// before the socket's first drop) has no room left for a stamp and a drop count together, and
/// such a datagram would come back with neither. A reader for a socket with `SO_RXQ_OVFL` on is
/// made with [`BatchReader::counting_drops`], which renews its headers after every batch (a
/// few allocations per `recvmmsg`, for a load generator's receiver); a stamp-only reader (the
/// relay's) keeps its headers: a stamp always fits where a stamp fitted.
pub struct BatchReader<const N: usize, const SIZE: usize> {
    headers: MultiHeaders<SockaddrStorage>,
    bufs: Box<[[u8; SIZE]; N]>,
    got: [Stamped; N],
    len: usize,
    /// Renew `headers` after each batch (see the type's doc).
    renew_headers: bool,
}

/// Control space per datagram: a stamp and a drop count.
fn headers(n: usize) -> MultiHeaders<SockaddrStorage> {
    MultiHeaders::preallocate(n, Some(nix::cmsg_space!(TimeSpec, u32)))
}

impl<const N: usize, const SIZE: usize> Default for BatchReader<N, SIZE> {
    fn default() -> Self {
        BatchReader::new()
    }
}

impl<const N: usize, const SIZE: usize> BatchReader<N, SIZE> {
    /// A reader with room for `N` datagrams and one timestamp each.
    pub fn new() -> Self {
        let empty = Stamped {
            len: 0,
            from: None,
            stamp_ns: None,
            dropped: None,
        };
        BatchReader {
            headers: headers(N),
            bufs: Box::new([[0; SIZE]; N]),
            got: [empty; N],
            len: 0,
            renew_headers: false,
        }
    }

    /// A reader for a socket that reports its drops (`SO_RXQ_OVFL`) beside the stamps: every
    /// datagram's drop count is read, whatever its slot read before (see the type's doc).
    pub fn counting_drops() -> Self {
        BatchReader {
            renew_headers: true,
            ..BatchReader::new()
        }
    }

    /// Reads what `socket` holds, up to `N` datagrams, in one non-blocking `recvmmsg`; returns
    /// how many (then read by [`Self::get`]). An empty socket gives `WouldBlock`. Fewer than `N`
    /// means the socket's queue was empty when the kernel took them.
    pub fn recv(&mut self, socket: &impl AsRawFd) -> io::Result<usize> {
        self.len = 0;
        let mut iovs = self.bufs.each_mut().map(|b| [IoSliceMut::new(&mut b[..])]);
        let results = recvmmsg(
            socket.as_raw_fd(),
            &mut self.headers,
            iovs.iter_mut(),
            MsgFlags::MSG_DONTWAIT,
            None,
        )
        .map_err(io::Error::from)?;
        for (slot, msg) in self.got.iter_mut().zip(results) {
            let (stamp_ns, dropped) = msg.cmsgs().map(control_of).unwrap_or_default();
            *slot = Stamped {
                len: msg.bytes,
                from: msg.address.as_ref().and_then(socket_addr),
                stamp_ns,
                dropped,
            };
            self.len += 1;
        }
        if self.renew_headers && self.len > 0 {
            self.headers = headers(N);
        }
        Ok(self.len)
    }

    /// Datagram `i` of the last [`Self::recv`]: its bytes and what the kernel said of it.
    pub fn get(&self, i: usize) -> Option<(&[u8], Stamped)> {
        if i >= self.len {
            return None;
        }
        let got = *self.got.get(i)?;
        let buf = self.bufs.get(i)?;
        Some((buf.get(..got.len).unwrap_or(&buf[..]), got))
    }
}

/// The IP sender of a datagram read with `recvmsg`/`recvmmsg`.
pub fn socket_addr(a: &SockaddrStorage) -> Option<SocketAddr> {
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
        let mut reader = BatchReader::<1, 64>::new();
        assert_eq!(reader.recv(&rx).unwrap(), 1);
        let after = now_ns();
        let (data, got) = reader.get(0).unwrap();
        assert_eq!(data, b"hello");
        assert_eq!(got.from, Some(tx.local_addr().unwrap()));
        let stamp = got.stamp_ns.expect("stamp");
        assert!(
            before <= stamp && stamp <= after,
            "{before} {stamp} {after}"
        );
    }

    #[test]
    fn a_batch_read_takes_every_queued_datagram_with_sender_and_stamp_and_says_when_short() {
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        enable(&rx).unwrap();
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let before = now_ns();
        for i in 0..5u8 {
            tx.send_to(&[i; 3], rx.local_addr().unwrap()).unwrap();
        }
        let mut reader = BatchReader::<4, 64>::new();
        // A full batch first (4 of 5), then the short rest, then nothing.
        assert_eq!(reader.recv(&rx).unwrap(), 4);
        for i in 0..4 {
            let (data, got) = reader.get(i).unwrap();
            assert_eq!(data, &[i as u8; 3]);
            assert_eq!(got.from, Some(tx.local_addr().unwrap()));
            assert!(got.stamp_ns.unwrap() >= before);
        }
        assert!(reader.get(4).is_none());
        assert_eq!(reader.recv(&rx).unwrap(), 1);
        assert_eq!(reader.get(0).unwrap().0, &[4u8; 3]);
        assert!(reader.get(1).is_none());
        let empty = reader.recv(&rx).unwrap_err();
        assert_eq!(empty.kind(), io::ErrorKind::WouldBlock);
        assert!(reader.get(0).is_none());
    }

    #[test]
    fn a_stamped_socket_that_dropped_datagrams_says_how_many_beside_the_stamp() {
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        enable(&rx).unwrap();
        setsockopt(&rx, sockopt::RxqOvfl, &1).unwrap();
        // The smallest receive buffer the kernel allows holds a few datagrams, not 200.
        setsockopt(&rx, sockopt::RcvBuf, &1).unwrap();
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        for _ in 0..200 {
            tx.send_to(&[0; 100], rx.local_addr().unwrap()).unwrap();
        }
        // The count rides on datagrams queued after the drops: empty the queue, send one more.
        // The same reader both times: its first slot read a stamp alone (the kernel then
        // lowered that header's control length), and must still read the stamp and the count.
        let mut reader = BatchReader::<64, 128>::counting_drops();
        let queued = reader.recv(&rx).unwrap();
        assert!(queued < 64, "{queued} queued");
        assert_eq!(reader.get(0).unwrap().1.dropped, None);
        tx.send_to(&[1; 100], rx.local_addr().unwrap()).unwrap();
        assert_eq!(reader.recv(&rx).unwrap(), 1);
        let (data, got) = reader.get(0).unwrap();
        assert_eq!(data, &[1; 100]);
        assert!(got.stamp_ns.is_some(), "{got:?}");
        let dropped = got.dropped.expect("a drop count");
        assert!((1..200).contains(&dropped), "{dropped}");
    }

    #[test]
    fn without_the_option_there_is_no_stamp() {
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        tx.send_to(b"x", rx.local_addr().unwrap()).unwrap();
        let mut reader = BatchReader::<1, 8>::new();
        assert_eq!(reader.recv(&rx).unwrap(), 1);
        let (_, got) = reader.get(0).unwrap();
        assert_eq!((got.len, got.stamp_ns), (1, None));
    }
}
