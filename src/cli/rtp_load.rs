//! `outdial rtp-load`: the RTP load generator's front end — parses the load's shape and the
//! relays to test, runs them one after the other with the same streams, prints a table.

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, ValueEnum};
use outdial::media::rtp_load::connect::{self, ConnectOptions};
use outdial::media::rtp_load::{run, LoadOptions, OutdialCore, RelayFigures, Target};

/// Which relays to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Relay {
    /// outdial's media shell with its media core.
    Outdial,
    /// outdial's media shell with the pass-through core (the shell's cost alone).
    OutdialPassthrough,
    /// rtpengine in userspace forwarding mode.
    Rtpengine,
}

/// Arguments of `outdial rtp-load`.
#[derive(Args, Debug)]
pub struct RtpLoadArgs {
    /// Concurrent calls (two G.711 streams each, 50 packets/s per stream).
    #[arg(long, default_value_t = 100)]
    calls: usize,
    /// Seconds the streams run.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Relays to test, in order (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "outdial,rtpengine")]
    relays: Vec<Relay>,
    /// Worker threads of outdial's shell and rtpengine's --num-threads.
    #[arg(long, default_value_t = 2)]
    workers: usize,
    /// First RTP port of outdial's legs (4 ports a call).
    #[arg(long, default_value_t = 20000)]
    base_port: u16,
    /// rtpengine's binary.
    #[arg(long, default_value = "rtpengine")]
    rtpengine: PathBuf,
    /// rtpengine's ng control port.
    #[arg(long, default_value_t = 22222)]
    ng_port: u16,
    /// rtpengine's first RTP port.
    #[arg(long, default_value_t = 40000)]
    rtpengine_port_min: u16,
    /// Loopback address for everything.
    #[arg(long, default_value = "127.0.0.1")]
    addr: IpAddr,
    /// Instead of the relays' table: the answer-to-connect measurement — `--calls` customer
    /// legs and as many nailed agent legs in outdial's shell, all streaming, and `--bridges`
    /// Bridge commands at random moments, each timed to its first forwarded customer packet.
    #[arg(long)]
    answer_to_connect: bool,
    /// Bridges timed by `--answer-to-connect`.
    #[arg(long, default_value_t = 1000)]
    bridges: usize,
    /// Seed of `--answer-to-connect`'s bridge schedule.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Milliseconds each `--answer-to-connect` bridge is held before its Unbridge.
    #[arg(long, default_value_t = 400)]
    hold_ms: u64,
}

/// Runs each relay in turn and prints one line of figures per relay.
pub fn rtp_load(args: RtpLoadArgs) -> anyhow::Result<ExitCode> {
    if args.answer_to_connect {
        return answer_to_connect(&args);
    }
    let opts = LoadOptions {
        calls: args.calls,
        duration: Duration::from_secs(args.seconds),
        addr: args.addr,
    };
    println!(
        "{} calls x 2 G.711 streams (20 ms, 160 B), {} s per relay",
        args.calls, args.seconds
    );
    println!(
        "{:<58} {:>9} {:>9} {:>7} {:>7} {:>9} {:>9} {:>8} {:>10}",
        "relay", "sent c>a", "sent a>c", "lost", "loss %", "p50 µs", "p99 µs", "CPU %", "µs/call·s"
    );
    for relay in &args.relays {
        let target = match relay {
            Relay::Outdial | Relay::OutdialPassthrough => Target::Outdial {
                core: if *relay == Relay::Outdial {
                    OutdialCore::Media
                } else {
                    OutdialCore::PassThrough
                },
                workers: args.workers,
                base_port: args.base_port,
            },
            Relay::Rtpengine => Target::Rtpengine {
                binary: args.rtpengine.clone(),
                ng_port: args.ng_port,
                port_min: args.rtpengine_port_min,
                threads: args.workers,
            },
        };
        let figures = run(&opts, &target)?;
        print_line(&figures);
    }
    Ok(ExitCode::SUCCESS)
}

fn print_line(f: &RelayFigures) {
    let s = &f.streams;
    let lost: u64 = s.lost().iter().sum();
    let sent: u64 = s.sent.iter().sum();
    let loss_pct = if sent == 0 {
        0.0
    } else {
        lost as f64 * 100.0 / sent as f64
    };
    println!(
        "{:<58} {:>9} {:>9} {:>7} {:>7.3} {:>9.1} {:>9.1} {:>8.1} {:>10.2}",
        f.name,
        s.sent[0],
        s.sent[1],
        lost,
        loss_pct,
        s.latency_us(0.5),
        s.latency_us(0.99),
        f.cpu_pct(),
        f.cpu_us_per_call_second()
    );
}

/// `--answer-to-connect`: runs the measurement and prints its quantiles.
fn answer_to_connect(args: &RtpLoadArgs) -> anyhow::Result<ExitCode> {
    let opts = ConnectOptions {
        pairs: args.calls,
        bridges: args.bridges,
        workers: args.workers,
        base_port: args.base_port,
        addr: args.addr,
        seed: args.seed,
        hold: Duration::from_millis(args.hold_ms),
    };
    println!(
        "answer-to-connect: {} customer + {} agent legs ({} G.711 streams into the shell, {} \
         workers), {} bridges",
        args.calls,
        args.calls,
        args.calls * 2,
        args.workers,
        args.bridges
    );
    let f = connect::run(&opts)?;
    println!(
        "{:<52} {:>6} {:>9} {:>9} {:>9}",
        "figure", "n", "p50 µs", "p99 µs", "max µs"
    );
    for (name, ns) in [
        ("first packet after decision -> at agent", &f.connect_ns),
        ("decision -> first customer audio at agent", &f.decision_ns),
    ] {
        println!(
            "{:<52} {:>6} {:>9.1} {:>9.1} {:>9.1}",
            name,
            ns.len(),
            connect::quantile_us(ns, 0.5),
            connect::quantile_us(ns, 0.99),
            connect::quantile_us(ns, 1.0)
        );
    }
    println!(
        "missed bridges {}, Connected events {}, schedule {:.1} s; shell datagrams in {} out {} \
         refused {}",
        f.missed,
        f.connected_events,
        f.elapsed.as_secs_f64(),
        f.shell_datagrams[0],
        f.shell_datagrams[1],
        f.shell_datagrams[2]
    );
    Ok(ExitCode::SUCCESS)
}
