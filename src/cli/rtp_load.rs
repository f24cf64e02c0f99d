//! `outdial rtp-load`: the RTP load generator's front end — parses the load's shape and the
//! relays to test, runs them one after the other with the same streams, prints a table.

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, ValueEnum};
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
}

/// Runs each relay in turn and prints one line of figures per relay.
pub fn rtp_load(args: RtpLoadArgs) -> anyhow::Result<ExitCode> {
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
