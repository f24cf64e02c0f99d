//! The relay's cost per packet: one RTP packet from a customer through
//! `MediaCore::handle_datagram` and out of `poll_transmit` to the bridged agent, with 1,500
//! bridged calls open in the core (3,000 legs). Same codec (a copy) and PCMU→PCMA (a table
//! lookup per byte). Target budget: 150k packets/s on 2 cores, i.e. well under 13 µs each.
//!
//! Run: `cargo bench --bench media_relay`.

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use outdial::media::core::{MediaConfig, MediaCore};
use outdial::media::io::{Codec, LegId, LegRole, MediaCommand, RemoteMedia};

const CALLS: u16 = 1_500;

fn remote(port: u16, codec: Codec) -> RemoteMedia {
    RemoteMedia {
        addr: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port),
        codec,
        pt: if codec == Codec::Pcmu { 0 } else { 8 },
        dtmf_pt: Some(101),
        ptime_ms: 20,
    }
}

/// A core with `CALLS` bridged calls; customers on 10000.., agents on 30000...
fn build(agent_codec: Codec) -> (MediaCore, Instant) {
    let t0 = Instant::now();
    let mut core = MediaCore::new(MediaConfig::default(), t0);
    for i in 0..CALLS {
        let (c, a) = (LegId(u64::from(i) * 2), LegId(u64::from(i) * 2 + 1));
        let (cp, ap) = (10_000 + i * 2, 30_000 + i * 2);
        core.handle_command(
            t0,
            MediaCommand::Open {
                leg: c,
                role: LegRole::Customer,
                local_port: cp,
            },
        );
        core.handle_command(
            t0,
            MediaCommand::Open {
                leg: a,
                role: LegRole::Agent,
                local_port: ap,
            },
        );
        core.handle_command(
            t0,
            MediaCommand::Remote {
                leg: c,
                remote: remote(cp, Codec::Pcmu),
            },
        );
        core.handle_command(
            t0,
            MediaCommand::Remote {
                leg: a,
                remote: remote(ap, agent_codec),
            },
        );
        core.handle_command(
            t0,
            MediaCommand::Bridge {
                customer: c,
                agent: a,
            },
        );
    }
    while core.poll_event().is_some() {}
    (core, t0)
}

fn relay(c: &mut Criterion, name: &str, agent_codec: Codec) {
    let (mut core, t0) = build(agent_codec);
    let from = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 4000);
    let mut pkt = vec![0x80u8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x12, 0x34];
    pkt.extend((0..160).map(|i| i as u8));
    let mut seq: u16 = 0;
    let mut call: u16 = 0;
    let mut now = t0;
    let mut g = c.benchmark_group("media_relay");
    g.throughput(Throughput::Elements(1));
    g.bench_function(name, |b| {
        b.iter(|| {
            // Round-robin over the calls, as the shell's socket reads would be.
            call = (call + 1) % CALLS;
            if call == 0 {
                seq = seq.wrapping_add(1);
                now += Duration::from_millis(20);
            }
            pkt[2..4].copy_from_slice(&seq.to_be_bytes());
            pkt[4..8].copy_from_slice(&(u32::from(seq) * 160).to_be_bytes());
            core.handle_datagram(now, 10_000 + call * 2, from, &pkt);
            black_box(core.poll_transmit())
        })
    });
    g.finish();
}

fn benches(c: &mut Criterion) {
    relay(c, "pcmu_to_pcmu", Codec::Pcmu);
    relay(c, "pcmu_to_pcma", Codec::Pcma);
}

criterion_group!(media, benches);
criterion_main!(media);
