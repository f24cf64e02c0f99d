//! Message parse + build throughput per core: parsing a 200 OK with rsip (after compact-header
//! normalisation) and writing an INVITE with the message builder. Run: `cargo bench --bench sip_message`.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use outdial::sip::message::{parse, response_to, Builder};

const OK: &str = "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK1f.2a;rport\r\nFrom: <sip:+14155550000@127.0.0.1>;tag=8a7b\r\nTo: <sip:+14155550100@127.0.0.1:5090>;tag=44\r\nCall-ID: 9f8e7d6c@127.0.0.1\r\nCSeq: 1 INVITE\r\nContact: <sip:service@127.0.0.1:5090>\r\nContent-Type: application/sdp\r\nContent-Length: 129\r\n\r\nv=0\r\no=user1 53655765 2353687637 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";
const COMPACT: &str = "BYE sip:outdial@127.0.0.1:5060 SIP/2.0\r\nv: SIP/2.0/UDP 127.0.0.1:5090;branch=z9hG4bK77\r\nf: <sip:+14155550100@127.0.0.1>;tag=44\r\nt: <sip:+14155550000@127.0.0.1>;tag=8a7b\r\ni: 9f8e7d6c@127.0.0.1\r\nCSeq: 2 BYE\r\nl: 0\r\n\r\n";

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("sip");
    g.throughput(Throughput::Elements(1));
    g.bench_function("parse_200_ok", |b| b.iter(|| parse(OK.as_bytes()).unwrap()));
    g.bench_function("parse_compact_bye", |b| {
        b.iter(|| parse(COMPACT.as_bytes()).unwrap())
    });
    g.bench_function("build_invite", |b| {
        b.iter(|| {
            Builder::request(rsip::Method::Invite, "sip:+14155550100@127.0.0.1:5090")
                .header(
                    "Via",
                    "SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK1f.2a;rport",
                )
                .header("Max-Forwards", 70)
                .header("From", "<sip:+14155550000@127.0.0.1>;tag=8a7b")
                .header("To", "<sip:+14155550100@127.0.0.1:5090>")
                .header("Call-ID", "9f8e7d6c@127.0.0.1")
                .header("CSeq", "1 INVITE")
                .header("Contact", "<sip:outdial@127.0.0.1:5060>")
                .header("X-Outdial-Lead", "L-42")
                .finish(None)
        })
    });
    let bye = parse(COMPACT.as_bytes()).unwrap();
    g.bench_function("build_response", |b| {
        b.iter(|| response_to(&bye, 200, None).finish(None))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
