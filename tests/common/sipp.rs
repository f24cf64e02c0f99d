//! SIPp as a real peer in tests: finds `sipp` (a missing binary fails under `CI=true`, is skipped
//! with a warning otherwise), starts it on a free loopback port as a child process bounded by
//! `-timeout`, and kills it when the handle is dropped. The final screen SIPp prints on exit is
//! parsed for call and retransmission counts.
#![allow(dead_code)]

use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// Path of a shipped scenario in `sim/sipp/`.
pub fn scenario(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("sim/sipp")
        .join(name)
}

/// Whether SIPp can be used (see [`super::available`]: under `CI=true` a missing sipp fails the
/// test; elsewhere the caller skips it after a warning).
pub fn available() -> bool {
    super::available("sipp", "sip-tester")
}

/// A loopback UDP port that was free a moment ago (bound on port 0, then released). SIPp is
/// retried on another port if it loses the race.
pub fn free_udp_port() -> u16 {
    let s = UdpSocket::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    s.local_addr().expect("local addr").port()
}

/// What SIPp reported when it exited.
#[derive(Debug, Clone)]
pub struct Report {
    /// Exit status (0: every call successful; 1: some failed; 99: no call processed).
    pub status: Option<i32>,
    /// "Successful call" cumulative count.
    pub successful: u64,
    /// "Failed call" cumulative count.
    pub failed: u64,
    /// The final screen, for assertion messages.
    pub screen: String,
}

impl Report {
    /// The Retrans column of the first screen row whose label contains `label` (e.g. "INVITE",
    /// "200 <"), or 0 when absent.
    pub fn retrans(&self, label: &str) -> u64 {
        self.column(label, 1)
    }
    /// The Messages column of the first row whose label contains `label`.
    pub fn messages(&self, label: &str) -> u64 {
        self.column(label, 0)
    }
    fn column(&self, label: &str, idx: usize) -> u64 {
        // Rows look like "INVITE ---------->  2  0  0" (client) or "<---------- 200  1  0"
        // (server): the counts are the numbers after the label.
        self.screen
            .lines()
            .filter(|l| l.contains("---------->") || l.contains("<----------"))
            .find_map(|l| l.find(label).map(|i| &l[i + label.len()..]))
            .and_then(|rest| {
                rest.split_whitespace()
                    .filter_map(|t| t.parse::<u64>().ok())
                    .nth(idx)
            })
            .unwrap_or(0)
    }
}

static SEQ: AtomicU32 = AtomicU32::new(0);

/// How to start one SIPp.
#[derive(Debug, Clone)]
pub struct Builder {
    scenario: PathBuf,
    args: Vec<String>,
    remote: Option<SocketAddr>,
    timeout: Duration,
    dir: Option<PathBuf>,
}

impl Builder {
    /// A SIPp running `scenario` (a file name in `sim/sipp/` or an absolute path).
    pub fn new(scenario_name: &str) -> Self {
        let p = PathBuf::from(scenario_name);
        let scenario = if p.is_absolute() {
            p
        } else {
            scenario(scenario_name)
        };
        Builder {
            scenario,
            args: Vec::new(),
            remote: None,
            timeout: Duration::from_secs(40),
            dir: None,
        }
    }
    /// Extra SIPp arguments, e.g. `["-m", "1"]` to exit after one call.
    pub fn args<I: IntoIterator<Item = S>, S: Into<String>>(mut self, a: I) -> Self {
        self.args.extend(a.into_iter().map(Into::into));
        self
    }
    /// Makes SIPp a client calling `remote`.
    pub fn remote(mut self, remote: SocketAddr) -> Self {
        self.remote = Some(remote);
        self
    }
    /// SIPp's own `-timeout` (it exits with an error after this long); default 40 s.
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = t;
        self
    }
    /// Runs SIPp in `dir` (where `rtp_stream` finds its audio files).
    pub fn dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.dir = Some(dir.into());
        self
    }
    /// Starts SIPp on a free loopback port; panics if it cannot start after a few ports.
    pub fn spawn(self) -> Sipp {
        for _ in 0..5 {
            let port = free_udp_port();
            let n = SEQ.fetch_add(1, Ordering::Relaxed);
            let out = std::env::temp_dir().join(format!(
                "outdial-sipp-{}-{}-{}.out",
                std::process::id(),
                port,
                n
            ));
            let file = std::fs::File::create(&out).expect("create sipp output file");
            let mut cmd = Command::new("sipp");
            cmd.arg("-sf")
                .arg(&self.scenario)
                .args([
                    "-i",
                    "127.0.0.1",
                    "-p",
                    &port.to_string(),
                    "-nostdin",
                    "-aa",
                ])
                .args(["-timeout", &format!("{}s", self.timeout.as_secs().max(1))])
                .arg("-timeout_error")
                .args(&self.args)
                .stdin(Stdio::null())
                .stdout(file.try_clone().expect("clone file"))
                .stderr(file);
            if let Some(r) = self.remote {
                cmd.arg(r.to_string());
            }
            if let Some(d) = &self.dir {
                cmd.current_dir(d);
            }
            let mut child = cmd.spawn().expect("spawn sipp");
            // A port lost to another process makes SIPp exit at once: try another port.
            std::thread::sleep(Duration::from_millis(150));
            match child.try_wait() {
                Ok(Some(st)) if st.code() == Some(254) || st.code() == Some(255) => {
                    let _ = std::fs::remove_file(&out);
                    continue;
                }
                _ => {}
            }
            return Sipp {
                child: Some(child),
                addr: SocketAddr::from(([127, 0, 0, 1], port)),
                out,
                status: None,
            };
        }
        panic!("sipp could not start on a free port");
    }
}

/// A running SIPp, killed on drop.
#[derive(Debug)]
pub struct Sipp {
    child: Option<Child>,
    /// Where SIPp listens.
    pub addr: SocketAddr,
    out: PathBuf,
    status: Option<ExitStatus>,
}

impl Sipp {
    /// Waits until SIPp exits (use `-m N`), at most `limit`; then kills it. Returns its report.
    pub fn wait(&mut self, limit: Duration) -> Report {
        let end = Instant::now() + limit;
        if let Some(child) = self.child.as_mut() {
            loop {
                match child.try_wait() {
                    Ok(Some(st)) => {
                        self.status = Some(st);
                        break;
                    }
                    Ok(None) if Instant::now() < end => {
                        std::thread::sleep(Duration::from_millis(50))
                    }
                    _ => {
                        let _ = child.kill();
                        self.status = child.wait().ok();
                        break;
                    }
                }
            }
        }
        self.child = None;
        self.report()
    }

    /// Kills SIPp now and returns what it printed.
    pub fn stop(&mut self) -> Report {
        if let Some(mut child) = self.child.take() {
            // SIGUSR1 would print a final screen, but a kill is enough: counts come from wait().
            let _ = child.kill();
            self.status = child.wait().ok();
        }
        self.report()
    }

    fn report(&self) -> Report {
        let screen = std::fs::read_to_string(&self.out).unwrap_or_default();
        let count = |name: &str| {
            screen
                .lines()
                .rfind(|l| l.trim_start().starts_with(name))
                .and_then(|l| l.split('|').nth(2))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0)
        };
        Report {
            status: self.status.and_then(|s| s.code()),
            successful: count("Successful call"),
            failed: count("Failed call"),
            screen,
        }
    }
}

impl Drop for Sipp {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_file(&self.out);
    }
}
