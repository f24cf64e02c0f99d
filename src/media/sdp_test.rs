//! SDP tests with carrier-style bodies (Cisco, Huawei/ZTE SBC and softswitch shapes) and
//! hostile ones.

use super::*;
use proptest::prelude::*;
use std::net::Ipv4Addr;

/// A softswitch answer listing G.729 first, dynamic AMR, session-level c=, LF line ends.
const CARRIER_ANSWER: &str = "v=0\n\
o=HuaweiSoftX3000 1073741828 1073741828 IN IP4 10.20.30.40\n\
s=Sip Call\n\
c=IN IP4 10.20.30.41\n\
t=0 0\n\
m=audio 31000 RTP/AVP 18 96 8 0 97\n\
a=rtpmap:18 G729/8000\n\
a=fmtp:18 annexb=no\n\
a=rtpmap:96 AMR/8000\n\
a=rtpmap:8 PCMA/8000\n\
a=rtpmap:0 PCMU/8000\n\
a=rtpmap:97 telephone-event/8000\n\
a=fmtp:97 0-15\n\
a=ptime:30\n\
a=sendrecv\n";

#[test]
fn our_offer_round_trips_through_the_parser() {
    let sdp = offer(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7)), 40000, 42, 1);
    assert!(sdp.contains("m=audio 40000 RTP/AVP 0 8 101\r\n"), "{sdp}");
    assert!(sdp.contains("a=fmtp:101 0-15\r\n"), "{sdp}");
    let remote = negotiate_answer(&sdp).expect("our own offer is servable");
    assert_eq!(remote.addr, "192.0.2.7:40000".parse().expect("addr"));
    assert_eq!((remote.codec, remote.pt), (Codec::Pcmu, 0));
    assert_eq!((remote.dtmf_pt, remote.ptime_ms), (Some(101), 20));
}

#[test]
fn carrier_answer_with_many_codecs_gets_pcmu_dtmf_and_ptime() {
    let r = negotiate_answer(CARRIER_ANSWER).expect("servable");
    assert_eq!(r.addr, "10.20.30.41:31000".parse().expect("addr"));
    assert_eq!((r.codec, r.pt), (Codec::Pcmu, 0));
    assert_eq!(r.dtmf_pt, Some(97));
    assert_eq!(r.ptime_ms, 30);
}

#[test]
fn pcma_is_taken_when_pcmu_is_absent() {
    let sdp = CARRIER_ANSWER.replace(" 0 97", " 97");
    let r = negotiate_answer(&sdp).expect("PCMA is enough");
    assert_eq!((r.codec, r.pt), (Codec::Pcma, 8));
}

#[test]
fn static_types_without_rtpmap_are_known() {
    let sdp = "v=0\r\no=- 1 1 IN IP4 198.51.100.1\r\ns=-\r\nc=IN IP4 198.51.100.1\r\nt=0 0\r\n\
               m=audio 5004 RTP/AVP 8\r\n";
    let r = negotiate_answer(sdp).expect("pt 8 is PCMA without an rtpmap");
    assert_eq!(
        (r.codec, r.pt, r.dtmf_pt, r.ptime_ms),
        (Codec::Pcma, 8, None, 20)
    );
}

#[test]
fn media_level_c_wins_and_ipv6_is_read() {
    let sdp = "v=0\r\no=- 1 1 IN IP6 2001:db8::1\r\ns=-\r\nc=IN IP4 203.0.113.9\r\nt=0 0\r\n\
               m=audio 7000 RTP/AVP 0\r\nc=IN IP6 2001:db8::2\r\na=sendonly\r\n";
    let p = parse(sdp).expect("parses");
    let c = choose(&p).expect("servable");
    assert_eq!(c.remote.addr, "[2001:db8::2]:7000".parse().expect("addr"));
    assert_eq!(c.direction, Direction::SendOnly);
    let session_only = sdp.replace("c=IN IP6 2001:db8::2\r\n", "");
    let r = negotiate_answer(&session_only).expect("servable");
    assert_eq!(r.addr, "203.0.113.9:7000".parse().expect("addr"));
}

#[test]
fn unservable_sdps_get_typed_errors() {
    let g729 = "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n\
                m=audio 4000 RTP/AVP 18\r\na=rtpmap:18 G729/8000\r\n";
    assert!(matches!(
        negotiate_answer(g729),
        Err(SdpError::NoCommonCodec(s)) if s.contains("G729")
    ));
    let rejected = g729.replace("4000 RTP/AVP 18", "0 RTP/AVP 0");
    assert_eq!(negotiate_answer(&rejected), Err(SdpError::AudioRejected));
    let video = g729.replace("m=audio", "m=video");
    assert_eq!(negotiate_answer(&video), Err(SdpError::NoAudio));
    let srtp = g729.replace("RTP/AVP 18", "RTP/SAVP 0");
    assert!(matches!(
        negotiate_answer(&srtp),
        Err(SdpError::NoCommonCodec(_))
    ));
    let no_c = g729
        .replace("c=IN IP4 10.0.0.1\r\n", "")
        .replace("RTP/AVP 18", "RTP/AVP 0");
    assert_eq!(negotiate_answer(&no_c), Err(SdpError::NoAddress));
    assert!(matches!(
        negotiate_answer("hello"),
        Err(SdpError::Syntax(_))
    ));
    // 16 kHz "PCMU" is not G.711.
    let wide = g729.replace(
        "18\r\na=rtpmap:18 G729/8000",
        "96\r\na=rtpmap:96 PCMU/16000",
    );
    assert!(matches!(
        negotiate_answer(&wide),
        Err(SdpError::NoCommonCodec(_))
    ));
}

#[test]
fn answer_keeps_m_line_order_and_rejects_other_streams() {
    let offer_sdp = "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n\
        m=video 4002 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n\
        m=audio 4000 RTP/AVP 18 8 0 101\r\na=rtpmap:101 telephone-event/8000\r\na=sendonly\r\n\
        m=image 4004 udptl t38\r\n";
    let p = parse(offer_sdp).expect("parses");
    let ans = answer(&p, IpAddr::V4(Ipv4Addr::LOCALHOST), 30000, 9, 1).expect("servable");
    let m: Vec<&str> = ans.lines().filter(|l| l.starts_with("m=")).collect();
    assert_eq!(
        m,
        [
            "m=video 0 RTP/AVP 96",
            "m=audio 30000 RTP/AVP 0 101",
            "m=image 0 udptl t38"
        ]
    );
    assert!(
        ans.contains("a=recvonly\r\n"),
        "sendonly offer → recvonly answer: {ans}"
    );
    let back = parse(&ans).expect("our answer parses");
    let c = choose(&back).expect("and is servable");
    assert_eq!((c.index, c.remote.pt, c.remote.dtmf_pt), (1, 0, Some(101)));
}

#[test]
fn answer_to_unservable_offer_is_an_error() {
    let p = parse(
        "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n\
         m=audio 4000 RTP/AVP 18\r\n",
    )
    .expect("parses");
    assert!(answer(&p, IpAddr::V4(Ipv4Addr::LOCALHOST), 1, 1, 1).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, rng_algorithm: proptest::test_runner::RngAlgorithm::ChaCha, ..ProptestConfig::default() })]

    #[test]
    fn random_strings_never_panic(s in "\\PC{0,300}") {
        let _ignored_result_only_panics_matter = negotiate_answer(&s);
    }

    #[test]
    fn mangled_carrier_sdp_never_panics(cut in 0usize..400, junk in "[ -~\r\n]{0,40}") {
        let base = CARRIER_ANSWER.as_bytes();
        let cut = cut.min(base.len());
        let s = format!("{}{junk}{}", String::from_utf8_lossy(&base[..cut]), String::from_utf8_lossy(&base[cut..]));
        if let Ok(p) = parse(&s) {
            let _ignored_result_only_panics_matter = answer(&p, IpAddr::V4(Ipv4Addr::LOCALHOST), 1, 1, 1);
        }
    }
}
