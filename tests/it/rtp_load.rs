//! The RTP load generator: its SDP helpers for rtpengine's ng protocol, and a short run through
//! outdial's media shell counting every packet both ways.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use outdial::media::rtp_load::ng::{media_addr, sdp_for};
use outdial::media::rtp_load::{run, LoadOptions, OutdialCore, Target};

#[test]
fn the_media_address_of_an_sdp_is_its_c_line_and_first_audio_port() {
    let addr: SocketAddr = "127.0.0.1:40012".parse().expect("addr");
    assert_eq!(media_addr(&sdp_for(addr, 7)), Some(addr));
    let rtpengine_like =
        "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.2\r\nt=0 0\r\n\
        m=audio 30000 RTP/AVP 0\r\na=rtcp:30001\r\n";
    assert_eq!(
        media_addr(rtpengine_like),
        Some("127.0.0.2:30000".parse().expect("addr"))
    );
    assert_eq!(
        media_addr("v=0\r\nm=audio 1 RTP/AVP 0\r\n"),
        None,
        "no c= line"
    );
}

#[test]
fn a_short_load_through_the_media_shell_counts_every_packet_both_ways() {
    let opts = LoadOptions {
        calls: 10,
        duration: Duration::from_millis(400),
        addr: IpAddr::V4(Ipv4Addr::LOCALHOST),
    };
    let target = Target::Outdial {
        core: OutdialCore::Media,
        workers: 2,
        base_port: 47000,
    };
    let figures = run(&opts, &target).expect("load run");
    let s = &figures.streams;
    // 10 calls × 50 packets/s × 0.4 s ≈ 200 a direction.
    assert!(s.sent[0] >= 150 && s.sent[1] >= 150, "sent {:?}", s.sent);
    assert_eq!(s.received, s.sent, "every packet relayed, both directions");
    assert_eq!(s.latencies_ns.len() as u64, s.sent[0] + s.sent[1]);
}
