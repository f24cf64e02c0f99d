//! The RTP load generator (`outdial rtp-load`): N concurrent bidirectional G.711 streams (20 ms,
//! 160-byte payloads) through a relay under test for a bounded time, measuring packets sent and
//! received per direction and per call, loss, added latency (send time in the payload)
//! p50/p99, the relay's CPU time, and the generator's own CPU and on-time share of its schedule
//! (so a starved run is told from a relay figure). The generator sends from a few shared
//! sockets a side with batched syscalls ([`streams`]); every relay leg keeps its own socket. Relays: outdial's media shell in-process (its worker threads' CPU from
//! `/proc/self/task/<tid>/stat`), and rtpengine (a `--table=-1` userspace daemon started here,
//! calls set up over its ng protocol; CPU from `/proc/<pid>/stat`). Both run one after the
//! other in one invocation with the same streams, so neither competes with the other for CPU.
//!
//! With `record`, outdial records every call through the engine's own path: the shell's tap
//! feeding [`Recorder`] (stereo µ-law WAV written while the call runs, on the media workers),
//! each call's Record command spread over the second before the streams so the once-a-second
//! appends are spread as a dialer's calls would be; the files are closed by closing the legs,
//! then checked ([`RecordingFigures`]). With `relay_timing` (always on here) the shell times
//! each relayed datagram from its kernel receive stamp to the return of its send
//! ([`RelayFigures::relay_latency`]): the relay's own delay, whatever the generator does. With
//! `pin`, the generator's threads and the relay's run on separate CPUs.
//!
//! Owns the generator's sockets and threads and the rtpengine child process; decides nothing
//! for the dialer.

pub mod connect;
pub mod ng;
pub mod passthrough;
pub mod recorded;
pub mod streams;
pub mod wire;

use std::io;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::media::core::MediaCore;
use crate::media::io::{Codec, LegId, LegRole, MediaCommand, MediaEvent, RemoteMedia};
use crate::media::latency::LatencySnapshot;
use crate::media::recording::Recorder;
use crate::media::shell::{MediaShell, RealtimePriority, ShellConfig};
pub use recorded::RecordingFigures;
use streams::{Generator, Route, StreamFigures};

/// Which core the outdial relay runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutdialCore {
    /// outdial's media core ([`MediaCore`]).
    Media,
    /// The shell around the byte-for-byte [`passthrough::PassThrough`] relay: the shell's cost
    /// alone.
    PassThrough,
}

/// A relay to put under load.
#[derive(Clone, Debug)]
pub enum Target {
    /// outdial's media shell, in this process.
    Outdial {
        /// Which core.
        core: OutdialCore,
        /// Worker threads.
        workers: usize,
        /// First RTP port of the legs (4 ports a call; ports in use are skipped).
        base_port: u16,
    },
    /// rtpengine, started here as a child (userspace forwarding).
    Rtpengine {
        /// The daemon's binary.
        binary: PathBuf,
        /// Its ng control port on 127.0.0.1.
        ng_port: u16,
        /// Its RTP port range start (it uses up to port 65000; 4 ports a call).
        port_min: u16,
        /// Worker threads (`--num-threads`).
        threads: usize,
    },
}

/// The load's shape.
#[derive(Clone, Debug)]
pub struct LoadOptions {
    /// Concurrent calls (two streams each).
    pub calls: usize,
    /// How long the streams run.
    pub duration: Duration,
    /// The loopback address everything uses.
    pub addr: IpAddr,
    /// Record every call (outdial only) into this directory (`call-NNNNN.wav`).
    pub record: Option<PathBuf>,
    /// CPUs for the generator's threads and for the relay's.
    pub pin: Option<Pinning>,
    /// The generator's shared sockets a side (call `i` uses socket `i % n` of each side).
    pub generator_sockets: usize,
    /// Real-time scheduling for the relay under test: outdial's media workers get
    /// [`ShellConfig::realtime_priority`], rtpengine `--scheduling=fifo --priority=N`, so both
    /// get the same treatment in one run. `None`: both at the normal policy.
    pub relay_priority: Option<RealtimePriority>,
}

/// Which CPUs the generator and the relay may run on (`sched_setaffinity`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pinning {
    /// The generator's sender and receiver threads.
    pub generator: Vec<usize>,
    /// outdial's media workers, or every thread of rtpengine.
    pub relay: Vec<usize>,
}

/// Restricts thread `tid` (`None`: the calling thread) to `cpus`.
pub fn pin_thread(tid: Option<u32>, cpus: &[usize]) -> io::Result<()> {
    use nix::sched::{sched_setaffinity, CpuSet};
    use nix::unistd::Pid;
    let mut set = CpuSet::new();
    for &cpu in cpus {
        set.set(cpu).map_err(io::Error::from)?;
    }
    let pid = Pid::from_raw(tid.map_or(0, |t| t as i32));
    sched_setaffinity(pid, &set).map_err(io::Error::from)
}

/// Why a load run failed.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// Sockets, threads or the child process failed.
    #[error("rtp-load: {0}")]
    Io(#[from] io::Error),
    /// The outdial shell did not start.
    #[error("rtp-load: {0}")]
    Shell(#[from] crate::media::shell::ShellError),
    /// rtpengine's control protocol failed.
    #[error("rtp-load: {0}")]
    Ng(#[from] ng::NgError),
    /// rtpengine's SDP had no usable address.
    #[error("rtp-load: rtpengine's SDP has no media address")]
    Sdp,
    /// A leg of outdial's shell could not open its port: its call carried nothing, so the
    /// figures would read as lost packets.
    #[error("rtp-load: {failed} legs could not open their ports, first: {first}")]
    LegsNotOpened {
        /// How many.
        failed: u64,
        /// The first one's leg and reason.
        first: String,
    },
}

/// One relay's results.
#[derive(Clone, Debug)]
pub struct RelayFigures {
    /// The relay's name for the report.
    pub name: String,
    /// The streams' figures.
    pub streams: StreamFigures,
    /// The relay's CPU time (user + system) while the streams ran.
    pub cpu: Duration,
    /// Calls carried.
    pub calls: usize,
    /// outdial only: kernel receive stamp of each relayed datagram → return of its send.
    pub relay_latency: Option<LatencySnapshot>,
    /// outdial with `record` only.
    pub recording: Option<RecordingFigures>,
}

impl RelayFigures {
    /// CPU per call: µs of relay CPU per call per second of streaming.
    pub fn cpu_us_per_call_second(&self) -> f64 {
        let secs = self.streams.elapsed.as_secs_f64();
        if self.calls == 0 || secs == 0.0 {
            return f64::NAN;
        }
        self.cpu.as_secs_f64() * 1e6 / (self.calls as f64 * secs)
    }

    /// The relay's CPU as a share of one core, %.
    pub fn cpu_pct(&self) -> f64 {
        let secs = self.streams.elapsed.as_secs_f64();
        self.cpu.as_secs_f64() * 100.0 / secs
    }
}

/// Runs the load through `target`.
pub fn run(opts: &LoadOptions, target: &Target) -> Result<RelayFigures, LoadError> {
    let generator = Generator::bind(opts.addr, opts.generator_sockets)?;
    match target {
        Target::Outdial {
            core,
            workers,
            base_port,
        } => run_outdial(opts, generator, *core, *workers, *base_port),
        Target::Rtpengine {
            binary,
            ng_port,
            port_min,
            threads,
        } => run_rtpengine(opts, generator, binary, *ng_port, *port_min, *threads),
    }
}

/// Settling time between set-up and the streams, and after them for stragglers.
const SETTLE: Duration = Duration::from_millis(500);

fn run_outdial(
    opts: &LoadOptions,
    generator: Generator,
    core: OutdialCore,
    workers: usize,
    base_port: u16,
) -> Result<RelayFigures, LoadError> {
    let mut cfg = ShellConfig::new(opts.addr);
    cfg.workers = workers;
    cfg.recv_buffer = 1 << 20;
    cfg.relay_timing = true;
    cfg.realtime_priority = opts.relay_priority;
    if let Some(dir) = &opts.record {
        std::fs::create_dir_all(dir)?;
        cfg.recordings = Box::new(Recorder::new());
    }
    let mut shell = match core {
        OutdialCore::Media => MediaShell::start_with(cfg, MediaCore::new)?,
        OutdialCore::PassThrough => MediaShell::start_with(cfg, passthrough::PassThrough::new)?,
    };
    // The relay's threads: the workers and the recording thread (CPU and disk are both
    // counted over them, so the figures stay "relaying and recording").
    let mut tids = shell.worker_tids().to_vec();
    let rec_tid: Vec<u32> = shell.recording_tid().into_iter().collect();
    tids.extend(&rec_tid);
    if let Some(pin) = &opts.pin {
        for &tid in &tids {
            pin_thread(Some(tid), &pin.relay)?;
        }
    }
    // The engine's side of the event channel: only failures matter here.
    let failures = match shell.take_events() {
        Some(mut events) => Some(
            std::thread::Builder::new()
                .name("rtp-load-events".into())
                .spawn(move || {
                    let (mut recording, mut opening) = (0u64, Vec::new());
                    while let Some(event) = events.blocking_recv() {
                        match event {
                            MediaEvent::RecordingFailed { reason, .. } => {
                                tracing::warn!(%reason, "recording failed");
                                recording += 1;
                            }
                            MediaEvent::OpenFailed { leg, reason, .. } => {
                                tracing::warn!(?leg, %reason, "leg not opened");
                                opening.push(format!("{leg:?}: {reason}"));
                            }
                            _ => {}
                        }
                    }
                    (recording, opening)
                })?,
        ),
        None => None,
    };
    let mut calls = Vec::with_capacity(opts.calls);
    let mut ports = PortScan::new(opts.addr, base_port);
    for i in 0..opts.calls {
        let (cleg, aleg) = (LegId(i as u64 * 2), LegId(i as u64 * 2 + 1));
        // Each leg is told the shared generator socket its side sends from (as a real call's
        // SDP names its far end), and latches to it on the first packet anyway.
        let far = [generator.customer_addr(i)?, generator.agent_addr(i)?];
        let (cport, aport) = open_pair(&shell, &mut ports, [cleg, aleg], far)?;
        shell.send(MediaCommand::Bridge {
            customer: cleg,
            agent: aleg,
        });
        calls.push(Route {
            relay_customer: SocketAddr::new(opts.addr, cport),
            relay_agent: SocketAddr::new(opts.addr, aport),
        });
    }
    let started = match &opts.record {
        Some(dir) => recorded::start(&shell, dir, calls.len(), RECORD_SPREAD),
        None => Vec::new(),
    };
    std::thread::sleep(SETTLE);
    let cpu_before = threads_cpu(&tids);
    let rec_cpu_before = threads_cpu(&rec_tid);
    let written_before = threads_written(&tids);
    let latency_before = shell.relay_latency();
    let (mut cpu, mut written, mut relay_latency) = (Duration::ZERO, 0, LatencySnapshot::default());
    let mut rec_cpu = Duration::ZERO;
    let figures = streams::run(
        &generator,
        &calls,
        opts.duration,
        SETTLE,
        opts.pin.as_ref().map(|p| p.generator.as_slice()),
        &mut || {
            cpu = threads_cpu(&tids).saturating_sub(cpu_before);
            rec_cpu = threads_cpu(&rec_tid).saturating_sub(rec_cpu_before);
            written = threads_written(&tids).saturating_sub(written_before);
            relay_latency = shell.relay_latency().since(&latency_before);
        },
    )?;
    // Closing the customer leg ends its recording (the file's last second and its header).
    let closed_at = std::time::Instant::now();
    for i in 0..calls.len() as u64 {
        shell.send(MediaCommand::Close { leg: LegId(i * 2) });
        shell.send(MediaCommand::Close {
            leg: LegId(i * 2 + 1),
        });
    }
    let frames_dropped = shell
        .counters()
        .recording_frames_dropped
        .load(std::sync::atomic::Ordering::Relaxed);
    shell.stop();
    let (failed, not_opened) = match failures {
        Some(handle) => handle
            .join()
            .map_err(|_| io::Error::other("event thread panicked"))?,
        None => (0, Vec::new()),
    };
    if let Some(first) = not_opened.first() {
        return Err(LoadError::LegsNotOpened {
            failed: not_opened.len() as u64,
            first: first.clone(),
        });
    }
    let recording = match &opts.record {
        Some(_) => Some(recorded::RecordingFigures {
            frames_dropped,
            thread_cpu: rec_cpu,
            ..recorded::check(&started, closed_at, failed, written, figures.elapsed)
        }),
        None => None,
    };
    let name = match core {
        OutdialCore::Media => format!("outdial media shell + MediaCore ({workers} workers)"),
        OutdialCore::PassThrough => {
            format!("outdial media shell + pass-through core ({workers} workers)")
        }
    };
    Ok(RelayFigures {
        name,
        streams: figures,
        cpu,
        calls: calls.len(),
        relay_latency: Some(relay_latency),
        recording,
    })
}

/// Over how long the calls' Record commands are spread (a dialer's calls start at any moment,
/// so their once-a-second file appends are spread too).
const RECORD_SPREAD: Duration = Duration::from_secs(1);

/// Kills the child when dropped.
struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Err(err) = self.0.kill() {
            tracing::debug!(%err, "rtpengine already gone");
        }
        if let Err(err) = self.0.wait() {
            tracing::debug!(%err, "rtpengine not reaped");
        }
    }
}

fn run_rtpengine(
    opts: &LoadOptions,
    generator: Generator,
    binary: &PathBuf,
    ng_port: u16,
    port_min: u16,
    threads: usize,
) -> Result<RelayFigures, LoadError> {
    // rtpengine picks ports at random in its range and gives up after a few collisions: give it
    // everything above port_min, not a tight fit.
    let port_max: u16 = 65000.max(port_min);
    let mut command = Command::new(binary);
    if let Some(priority) = opts.relay_priority {
        command.args([
            "--scheduling=fifo".to_string(),
            format!("--priority={priority}"),
        ]);
    }
    let child = command
        .args([
            "--table=-1",
            "--foreground",
            "--log-stderr",
            "--log-level=3",
            &format!("--interface={}", opts.addr),
            &format!("--listen-ng={}:{ng_port}", opts.addr),
            &format!("--port-min={port_min}"),
            &format!("--port-max={port_max}"),
            &format!("--num-threads={threads}"),
            "--timeout=60",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let daemon = Daemon(child);
    let mut ng = ng::NgClient::connect(SocketAddr::new(opts.addr, ng_port))?;
    let deadline = Instant::now() + Duration::from_secs(10);
    while let Err(err) = ng.ping() {
        if Instant::now() > deadline {
            return Err(err.into());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut calls = Vec::with_capacity(opts.calls);
    for i in 0..opts.calls {
        let call_id = format!("rtp-load-{i}");
        let (from_tag, to_tag) = (format!("c{i}"), format!("a{i}"));
        // The SDPs name the shared generator sockets the sides really send from, so rtpengine
        // sends there from the start (no latching needed; the receiver checks every packet
        // came back from its call's rtpengine port).
        let to_agent = ng.offer(
            &call_id,
            &from_tag,
            &ng::sdp_for(generator.customer_addr(i)?, i as u64),
        )?;
        let to_customer = ng.answer(
            &call_id,
            &from_tag,
            &to_tag,
            &ng::sdp_for(generator.agent_addr(i)?, i as u64),
        )?;
        // The SDP given to the agent names where the agent sends; the one given to the
        // customer, where the customer sends.
        let relay_agent = ng::media_addr(&to_agent).ok_or(LoadError::Sdp)?;
        let relay_customer = ng::media_addr(&to_customer).ok_or(LoadError::Sdp)?;
        calls.push(Route {
            relay_customer,
            relay_agent,
        });
    }
    std::thread::sleep(SETTLE);
    let pid = daemon.0.id();
    if let Some(pin) = &opts.pin {
        for tid in process_tids(pid)? {
            pin_thread(Some(tid), &pin.relay)?;
        }
    }
    let cpu_before = process_cpu(pid);
    let mut cpu = Duration::ZERO;
    let figures = streams::run(
        &generator,
        &calls,
        opts.duration,
        SETTLE,
        opts.pin.as_ref().map(|p| p.generator.as_slice()),
        &mut || cpu = process_cpu(pid).saturating_sub(cpu_before),
    )?;
    for i in 0..calls.len() {
        if let Err(err) = ng.delete(&format!("rtp-load-{i}"), &format!("c{i}")) {
            tracing::debug!(%err, "rtpengine delete failed (the daemon stops next anyway)");
        }
    }
    drop(daemon);
    Ok(RelayFigures {
        name: format!("rtpengine --table=-1 ({threads} threads)"),
        streams: figures,
        cpu,
        calls: calls.len(),
        relay_latency: None,
        recording: None,
    })
}

/// Linux's USER_HZ: /proc's CPU times are in these ticks.
const TICKS_PER_SECOND: u64 = 100;

/// Hands out RTP ports (even, with the RTCP port above it free too) from a first port up,
/// skipping ports something else holds: a load run shares the machine with other programs (and
/// tests), and a leg whose port is taken would stay silent and read as lost packets.
pub(crate) struct PortScan {
    addr: IpAddr,
    next: u32,
}

impl PortScan {
    pub(crate) fn new(addr: IpAddr, first: u16) -> Self {
        PortScan {
            addr,
            next: u32::from(first) + u32::from(first) % 2,
        }
    }

    /// The next even port whose pair is free now (bound and released: the shell binds it
    /// next, so only a program racing for that very port in between can still take it).
    pub(crate) fn take(&mut self) -> io::Result<u16> {
        while self.next < 65_535 {
            let port = self.next as u16;
            self.next += 2;
            let rtp = UdpSocket::bind((self.addr, port));
            let rtcp = UdpSocket::bind((self.addr, port + 1));
            if rtp.is_ok() && rtcp.is_ok() {
                return Ok(port);
            }
        }
        Err(io::Error::other(
            "no free port pair left below 65535: lower --base-port or --calls",
        ))
    }
}

/// Opens a call's customer and agent legs (`legs`) in `shell` on the next two free port pairs
/// of `ports`, each sending PCMU to its generator socket in `far`; returns the two ports.
fn open_pair(
    shell: &MediaShell,
    ports: &mut PortScan,
    legs: [LegId; 2],
    far: [SocketAddr; 2],
) -> io::Result<(u16, u16)> {
    let ports = [ports.take()?, ports.take()?];
    for ((leg, role), (local_port, far)) in legs
        .into_iter()
        .zip([LegRole::Customer, LegRole::Agent])
        .zip(ports.into_iter().zip(far))
    {
        shell.send(MediaCommand::Open {
            leg,
            role,
            local_port,
        });
        shell.send(MediaCommand::Remote {
            leg,
            remote: RemoteMedia {
                addr: far,
                codec: Codec::Pcmu,
                pt: 0,
                dtmf_pt: None,
                ptime_ms: 20,
            },
        });
    }
    Ok((ports[0], ports[1]))
}

/// utime + stime from a `/proc/.../stat` line (fields 14 and 15, after the `(comm)`).
fn stat_cpu(path: &str) -> Duration {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Duration::ZERO;
    };
    let Some(after) = text.rfind(')').map(|i| &text[i + 1..]) else {
        return Duration::ZERO;
    };
    let fields: Vec<&str> = after.split_whitespace().collect();
    // After ")": field 3 (state) is index 0, so utime (14) is index 11, stime (15) index 12.
    let ticks: u64 = [11, 12]
        .iter()
        .filter_map(|&i| fields.get(i)?.parse::<u64>().ok())
        .sum();
    Duration::from_millis(ticks * 1000 / TICKS_PER_SECOND)
}

pub(crate) fn threads_cpu(tids: &[u32]) -> Duration {
    tids.iter()
        .map(|tid| stat_cpu(&format!("/proc/self/task/{tid}/stat")))
        .sum()
}

fn process_cpu(pid: u32) -> Duration {
    stat_cpu(&format!("/proc/{pid}/stat"))
}

/// Every thread of process `pid`.
fn process_tids(pid: u32) -> io::Result<Vec<u32>> {
    let mut tids = Vec::new();
    for entry in std::fs::read_dir(format!("/proc/{pid}/task"))? {
        if let Some(tid) = entry?.file_name().to_str().and_then(|n| n.parse().ok()) {
            tids.push(tid);
        }
    }
    Ok(tids)
}

/// Bytes the threads handed to `write`-family calls (`wchar` of `/proc/self/task/<tid>/io`):
/// for the media workers, the recordings' appends and header rewrites (socket sends are not
/// counted there).
fn threads_written(tids: &[u32]) -> u64 {
    tids.iter()
        .filter_map(|tid| std::fs::read_to_string(format!("/proc/self/task/{tid}/io")).ok())
        .filter_map(|text| {
            text.lines()
                .find_map(|l| l.strip_prefix("wchar:"))
                .and_then(|v| v.trim().parse::<u64>().ok())
        })
        .sum()
}
