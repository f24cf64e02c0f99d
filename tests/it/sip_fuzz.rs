//! The receive path never panics: arbitrary bytes and mutated valid messages are counted as
//! malformed (or handled) and dropped. proptest with its default deterministic-per-failure
//! shrinking; case counts keep the file well under a few seconds.

use std::net::SocketAddr;
use std::time::Instant;

use outdial::sip::trunk::TrunkSet;
use outdial::sip::{Endpoint, EndpointConfig, Transport};
use proptest::prelude::*;

const VALID: &[&str] = &[
    "INVITE sip:+14155550100@127.0.0.1:5060 SIP/2.0\r\nv: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-1\r\nf: <sip:a@127.0.0.1>;tag=x1\r\nt: <sip:b@127.0.0.1>\r\ni: abc@host\r\nCSeq: 1 INVITE\r\nm: <sip:a@127.0.0.1:5070>\r\nc: application/sdp\r\nl: 4\r\n\r\nv=0\n",
    "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK1.2\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:c@d>;tag=2\r\nCall-ID: q\r\nCSeq: 1 INVITE\r\nContact: <sip:c@127.0.0.1>\r\nContent-Length: 0\r\n\r\n",
    "BYE sip:outdial@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5001;branch=z9hG4bKb\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:c@d>;tag=2\r\nCall-ID: q\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n",
];

fn endpoint() -> Endpoint {
    let a: SocketAddr = "127.0.0.1:5060".parse().unwrap();
    Endpoint::new(EndpointConfig::new(a), TrunkSet::default(), Instant::now())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let mut ep = endpoint();
        let from: SocketAddr = "127.0.0.1:5001".parse().unwrap();
        ep.handle_datagram(Instant::now(), from, Transport::Udp, &bytes);
        while ep.poll_transmit().is_some() {}
        let _ = outdial::sip::message::frame_len(&bytes);
    }

    #[test]
    fn mutated_valid_messages_never_panic(
        which in 0..VALID.len(),
        edits in proptest::collection::vec((any::<usize>(), any::<u8>(), 0u8..3), 1..8),
    ) {
        let mut bytes = VALID[which].as_bytes().to_vec();
        for (pos, byte, op) in edits {
            if bytes.is_empty() { break; }
            let p = pos % bytes.len();
            match op {
                0 => bytes[p] = byte,
                1 => { bytes.remove(p); }
                _ => bytes.insert(p, byte),
            }
        }
        let mut ep = endpoint();
        let from: SocketAddr = "127.0.0.1:5001".parse().unwrap();
        let now = Instant::now();
        ep.handle_datagram(now, from, Transport::Udp, &bytes);
        ep.handle_timeout(now + std::time::Duration::from_secs(40));
        while ep.poll_transmit().is_some() {}
    }
}

#[test]
fn malformed_datagrams_are_counted() {
    let mut ep = endpoint();
    let from: SocketAddr = "127.0.0.1:5001".parse().unwrap();
    for junk in [
        &b"hello"[..],
        b"INVITE sip:x SIP/2.0\r\n\r\n",
        b"SIP/2.0 999999 X\r\n\r\n",
    ] {
        ep.handle_datagram(Instant::now(), from, Transport::Udp, junk);
    }
    assert_eq!(ep.stats().malformed, 3);
    assert!(ep.poll_transmit().is_none(), "nothing answered to garbage");
}
