//! SDP cost per call: outdial's offer written, a carrier's answer (G.729 first, dynamic AMR,
//! telephone-event) parsed and negotiated, and outdial's answer to that as an offer. Every
//! anchored call pays one offer and one negotiation. Run: `cargo bench --bench sdp`.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use outdial::media::sdp::{answer, negotiate_answer, offer, parse};
use std::hint::black_box;

const CARRIER: &str = "v=0\r\no=HuaweiSoftX3000 1073741828 1073741828 IN IP4 10.20.30.40\r\ns=Sip Call\r\nc=IN IP4 10.20.30.41\r\nt=0 0\r\nm=audio 31000 RTP/AVP 18 96 8 0 97\r\na=rtpmap:18 G729/8000\r\na=fmtp:18 annexb=no\r\na=rtpmap:96 AMR/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:97 telephone-event/8000\r\na=fmtp:97 0-15\r\na=ptime:20\r\na=sendrecv\r\n";

fn bench(c: &mut Criterion) {
    let ip = std::net::IpAddr::from([10, 0, 0, 5]);
    let mut g = c.benchmark_group("sdp");
    g.throughput(Throughput::Elements(1));
    g.bench_function("offer", |b| b.iter(|| offer(ip, black_box(40000), 1, 1)));
    g.bench_function("negotiate_carrier_answer", |b| {
        b.iter(|| negotiate_answer(black_box(CARRIER)))
    });
    g.bench_function("answer_carrier_offer", |b| {
        b.iter(|| parse(black_box(CARRIER)).and_then(|p| answer(&p, ip, 40000, 1, 1)))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
