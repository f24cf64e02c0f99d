//! `outdial rtp-load`: the RTP load generator's front end — parses the load's shape and the
//! relays to test, runs them one after the other with the same streams, prints a table.

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, ValueEnum};
use outdial::media::rtp_load::connect::{self, ConnectOptions};
use outdial::media::rtp_load::streams::SOCKETS_PER_SIDE;
use outdial::media::rtp_load::{run, LoadOptions, OutdialCore, Pinning, RelayFigures, Target};
use outdial::media::shell::RealtimePriority;

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
    /// First RTP port of outdial's legs (4 ports a call; ports in use are skipped).
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
    /// Record every call outdial relays into this directory (`call-NNNNN.wav`, stereo µ-law,
    /// the engine's recording path), then check the files. Needs ≈ 16 kB per call-second.
    #[arg(long)]
    record: Option<PathBuf>,
    /// The generator's shared UDP sockets a side (customer side, agent side): call `i` sends
    /// and receives on socket `i % N` of each side, batched with sendmmsg/recvmmsg.
    #[arg(long, default_value_t = SOCKETS_PER_SIDE)]
    generator_sockets: usize,
    /// CPUs (comma-separated) the generator's sender and receiver threads may run on; with
    /// `--pin-relay`.
    #[arg(long, value_delimiter = ',', requires = "pin_relay")]
    pin_generator: Vec<usize>,
    /// CPUs (comma-separated) the relay's threads (outdial's workers, rtpengine) may run on.
    #[arg(long, value_delimiter = ',', requires = "pin_generator")]
    pin_relay: Vec<usize>,
    /// Real-time priority (SCHED_FIFO, 1-99) for the relays: outdial's media workers
    /// (`media.realtime_priority`) and rtpengine (`--scheduling=fifo --priority=N`) alike.
    #[arg(long, value_parser = parse_priority)]
    relay_priority: Option<RealtimePriority>,
}

fn parse_priority(s: &str) -> Result<RealtimePriority, String> {
    let n: u32 = s
        .parse()
        .map_err(|e| format!("{s:?} is not a number: {e}"))?;
    RealtimePriority::new(n).map_err(|e| e.to_string())
}

/// Runs each relay in turn and prints one line of figures per relay.
pub fn rtp_load(args: RtpLoadArgs) -> anyhow::Result<ExitCode> {
    if args.answer_to_connect {
        return answer_to_connect(&args);
    }
    let pin = (!args.pin_generator.is_empty()).then(|| Pinning {
        generator: args.pin_generator.clone(),
        relay: args.pin_relay.clone(),
    });
    let opts = LoadOptions {
        calls: args.calls,
        duration: Duration::from_secs(args.seconds),
        addr: args.addr,
        record: args.record.clone(),
        pin,
        generator_sockets: args.generator_sockets.max(1),
        relay_priority: args.relay_priority,
    };
    let load_before = loadavg();
    println!(
        "{} calls x 2 G.711 streams (20 ms, 160 B), {} s per relay{}{}{}; load average {}",
        args.calls,
        args.seconds,
        match args.relay_priority {
            Some(p) => format!(", relays at SCHED_FIFO priority {p}"),
            None => String::new(),
        },
        match &args.record {
            Some(dir) => format!(", outdial recording to {}", dir.display()),
            None => String::new(),
        },
        match &opts.pin {
            Some(p) => format!(
                ", generator on CPUs {:?}, relay on {:?}",
                p.generator, p.relay
            ),
            None => String::new(),
        },
        load_before
    );
    println!(
        "{:<52} {:>9} {:>9} {:>6} {:>7} {:>6} {:>8} {:>8} {:>8} {:>8} {:>6} {:>9} {:>9} {:>10}",
        "relay",
        "sent c>a",
        "sent a>c",
        "lost",
        "on time",
        "gen %",
        "path p50",
        "path p99",
        "relay50",
        "relay99",
        "CPU %",
        "µs/call·s",
        "rec ok/n",
        "disk kB/s"
    );
    let mut rows = Vec::new();
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
        rows.push(figures);
    }
    let load_after = loadavg();
    println!(
        "\nBENCHMARKS.md rows (path: generator's clock before sendto -> kernel receive stamp at \
         the far generator socket; relay: kernel receive stamp at the relay -> its send \
         returned; load average before / after: {load_before} / {load_after}):"
    );
    println!(
        "| relay | calls | pinned | recording | sent per direction | lost | generator on time / \
         CPU | path p50 / p99 | relay p50 / p99 | relay CPU | CPU per call | recordings ok | \
         disk | load |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for f in &rows {
        println!("{}", markdown_row(f, &opts, &load_before, &load_after));
    }
    let failed = rows
        .iter()
        .filter_map(|f| f.recording.as_ref())
        .any(|r| r.failures() > 0);
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// The 1-, 5- and 15-minute load averages (`/proc/loadavg`), or `?`.
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|t| t.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "?".into())
}

fn us(v: f64) -> String {
    if v.is_nan() {
        "-".into()
    } else if v >= 1000.0 {
        format!("{:.2} ms", v / 1000.0)
    } else {
        format!("{v:.0} µs")
    }
}

fn markdown_row(f: &RelayFigures, opts: &LoadOptions, before: &str, after: &str) -> String {
    let s = &f.streams;
    let lost: u64 = s.lost().iter().sum();
    let (r50, r99) = f.relay_latency.as_ref().map_or((f64::NAN, f64::NAN), |h| {
        (h.quantile_us(0.5), h.quantile_us(0.99))
    });
    let (rec, ok, disk) = match &f.recording {
        Some(r) => (
            "on".to_string(),
            format!(
                "{}/{} ({} failed, {} frames dropped)",
                r.valid,
                r.started,
                r.failures(),
                r.frames_dropped
            ),
            format!("{:.0} kB/s", r.disk_bytes_per_s() / 1000.0),
        ),
        None => ("off".into(), "-".into(), "-".into()),
    };
    let pinned = opts.pin.as_ref().map_or("no".to_string(), |p| {
        format!("gen {:?} / relay {:?}", p.generator, p.relay)
    });
    format!(
        "| {} | {} | {} | {} | {} | **{}**{} | {:.1} % / {:.0} % | {} / {} | {} / {} | {:.1} % | {:.0} µs/call·s | {} | {} | {} → {} |",
        f.name,
        f.calls,
        pinned,
        rec,
        s.sent[0].min(s.sent[1]),
        lost,
        match (s.dropped_at_generator, s.misrouted) {
            (0, 0) => String::new(),
            (d, 0) => format!(" ({d} dropped by the generator)"),
            (d, m) => format!(" ({d} dropped by the generator, {m} misrouted)"),
        },
        s.on_time_pct(),
        s.generator_cpu_pct(),
        us(s.latency_us(0.5)),
        us(s.latency_us(0.99)),
        us(r50),
        us(r99),
        f.cpu_pct(),
        f.cpu_us_per_call_second(),
        ok,
        disk,
        before,
        after
    )
}

fn print_line(f: &RelayFigures) {
    let s = &f.streams;
    let lost: u64 = s.lost().iter().sum();
    let (r50, r99) = f.relay_latency.as_ref().map_or((f64::NAN, f64::NAN), |h| {
        (h.quantile_us(0.5), h.quantile_us(0.99))
    });
    let (rec, disk) = match &f.recording {
        Some(r) => (
            format!("{}/{}", r.valid, r.started),
            format!("{:.1}", r.disk_bytes_per_s() / 1000.0),
        ),
        None => ("-".into(), "-".into()),
    };
    println!(
        "{:<52} {:>9} {:>9} {:>6} {:>6.1}% {:>6.1} {:>8.0} {:>8.0} {:>8.0} {:>8.0} {:>6.1} {:>9.1} {:>9} {:>10}",
        f.name,
        s.sent[0],
        s.sent[1],
        lost,
        s.on_time_pct(),
        s.generator_cpu_pct(),
        s.latency_us(0.5),
        s.latency_us(0.99),
        r50,
        r99,
        f.cpu_pct(),
        f.cpu_us_per_call_second(),
        rec,
        disk
    );
    println!(
        "    generator: {} sockets, sent {:.1} % of its schedule ({} packets a direction), {:.1} % \
         within {} ms of due; its CPU {:.1} % of one core; slot lag p50 {:.0} µs, p99 {:.0} µs, \
         max {:.0} µs; sendmmsg p50 {:.0} µs, p99 {:.0} µs{}",
        s.generator_sockets,
        s.sent_pct(),
        s.scheduled,
        s.on_time_pct(),
        outdial::media::rtp_load::streams::ON_TIME.as_millis(),
        s.generator_cpu_pct(),
        s.sender_lag_us(0.5),
        s.sender_lag_us(0.99),
        s.sender_lag_us(1.0),
        s.batch_us(0.5),
        s.batch_us(0.99),
        if s.on_time_pct() < 99.0 {
            " — STARVED: the generator missed its schedule, so latency and CPU are not relay \
             figures"
        } else {
            ""
        }
    );
    println!(
        "    {} of the lost packets dropped by the generator's own full sockets (not the \
         relay's); {} packets without a kernel stamp; {} misrouted (wrong call's socket or \
         leg); {} calls with a packet missing; relay samples {}",
        s.dropped_at_generator,
        s.unstamped,
        s.misrouted,
        s.calls_short(),
        f.relay_latency.as_ref().map_or(0, |h| h.count())
    );
    for e in &s.misrouted_examples {
        println!("    misrouted: {e}");
    }
    let short = s
        .per_call_sent
        .iter()
        .zip(&s.per_call_received)
        .enumerate()
        .filter(|(_, (sent, got))| sent != got)
        .take(3);
    for (call, (sent, got)) in short {
        println!("    call {call}: sent {sent:?}, received {got:?}");
    }
    if let Some(r) = &f.recording {
        println!(
            "    recordings: {} started, {} valid, {} failure events; {:.2}–{:.2} s each, worst \
             |duration − (Close − Record)| {:.3} s; {} bytes in the files, {} written while \
             streaming ({:.0} B/s); {} frames dropped (recorder behind); recording thread \
             CPU {:.1} % of one core",
            r.started,
            r.valid,
            r.failed_events,
            r.secs_min,
            r.secs_max,
            r.worst_duration_error,
            r.bytes_total,
            r.bytes_streaming,
            r.disk_bytes_per_s(),
            r.frames_dropped,
            100.0 * r.thread_cpu.as_secs_f64() / r.streaming.as_secs_f64().max(f64::EPSILON)
        );
        for p in &r.problems {
            println!("    invalid: {p}");
        }
    }
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
