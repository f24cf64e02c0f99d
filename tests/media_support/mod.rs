//! Real media peers for the media plane's end-to-end tests (issue 17): test audio made at test
//! time ([`audio`]: espeak-ng and sox), the audio assertions ([`audio::read_wav_mono_8k`],
//! [`audio::best_correlation`]), headless baresip softphones ([`baresip::Baresip`]) and SIPp
//! customers that stream a WAV as RTP ([`sipp_media`]). Owns child processes and temp files
//! only; never touches outdial's store or engine. Every peer is killed on drop and every wait is
//! bounded.
#![allow(dead_code)]

pub mod audio;
pub mod baresip;
pub mod sipp_media;

#[path = "../common/sipp.rs"]
pub mod sipp;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

/// Whether the command `name` runs (`NAME --version` or `-h` exits at all). Under `CI=true` a
/// missing peer panics (the test fails); elsewhere the caller skips after the warning printed
/// here.
pub fn available(name: &str, package: &str) -> bool {
    let ok = Command::new(name)
        .arg("-h")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if !ok {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{name} is not installed (Debian package {package}) and CI=true");
        }
        eprintln!("warning: {name} not found (apt-get install {package}); test skipped");
    }
    ok
}

/// Whether every peer the media tests use is here (see [`available`]).
pub fn peers_available() -> bool {
    [
        ("baresip", "baresip"),
        ("espeak-ng", "espeak-ng"),
        ("sox", "sox"),
        ("sipp", "sip-tester"),
    ]
    .iter()
    .all(|(n, p)| available(n, p))
}

static DIRS: AtomicU32 = AtomicU32::new(0);

/// A fresh, empty directory under the system temp dir, unique to this process and call.
pub fn temp_dir(tag: &str) -> PathBuf {
    let n = DIRS.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("outdial-media-{tag}-{}-{n}", std::process::id()));
    // A leftover from an earlier process with the same pid: start empty.
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

/// The log an engine started in `dir` wrote (`dir/engine.log`; empty when there is none), for
/// failure messages.
pub fn engine_log(dir: &std::path::Path) -> String {
    std::fs::read_to_string(dir.join("engine.log")).unwrap_or_default()
}

/// A loopback TCP port that was free a moment ago.
pub fn free_tcp_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind tcp 127.0.0.1:0");
    l.local_addr().expect("local addr").port()
}

/// `n` consecutive loopback UDP ports (n even, first even) that were all free a moment ago.
pub fn free_udp_ports(n: u16) -> u16 {
    // Below the kernel's ephemeral range (32768–60999 by default): a block found free there is
    // never handed to another process binding port 0 meanwhile (another test's SIPp, an engine's
    // SIP socket), which once took a port of a block between this check and the engine's bind.
    // The start is spread by time and pid so parallel test processes pick different blocks.
    // Within one process, blocks follow each other, so two calls never hand out the same ports.
    static SEED: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let seed = *SEED.get_or_init(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0)
            ^ std::process::id().wrapping_mul(2_654_435_761)
    });
    for _ in 0..50u32 {
        let span = 32_000 - 10_000 - u32::from(n);
        let start = seed
            .wrapping_add(NEXT.fetch_add(u32::from(n) + 2, std::sync::atomic::Ordering::AcqRel));
        let offset = start % span;
        let Ok(base) = u16::try_from((10_000 + offset) & !1) else {
            continue;
        };
        let held: Vec<_> = (base..base + n)
            .map_while(|p| std::net::UdpSocket::bind(("127.0.0.1", p)).ok())
            .collect();
        if held.len() == usize::from(n) {
            return base;
        }
    }
    panic!("no {n} consecutive free UDP ports");
}
