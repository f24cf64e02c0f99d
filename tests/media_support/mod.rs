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

/// A loopback TCP port that was free a moment ago.
pub fn free_tcp_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind tcp 127.0.0.1:0");
    l.local_addr().expect("local addr").port()
}

/// `n` consecutive loopback UDP ports (n even, first even) that were all free a moment ago.
pub fn free_udp_ports(n: u16) -> u16 {
    for _ in 0..50 {
        let base = sipp::free_udp_port() & !1;
        if base.checked_add(n).is_none() {
            continue;
        }
        let held: Vec<_> = (base..base + n)
            .map_while(|p| std::net::UdpSocket::bind(("127.0.0.1", p)).ok())
            .collect();
        if held.len() == usize::from(n) {
            return base;
        }
    }
    panic!("no {n} consecutive free UDP ports");
}
