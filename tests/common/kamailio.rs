//! Kamailio (Debian package `kamailio`) as a real proxy between outdial and SIPp: started by the
//! test on a free loopback port with the shipped `tests/kamailio/proxy.cfg`, no database, logging
//! to a file; stopped with SIGTERM (its children exit with it) when the handle is dropped. A
//! missing kamailio fails under `CI=true` and is skipped with a warning otherwise.
#![allow(dead_code)]

use std::net::{SocketAddr, UdpSocket};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = "/usr/sbin/kamailio";
const MODULES: &str = "/usr/lib/x86_64-linux-gnu/kamailio/modules";

/// Whether kamailio can be used. Under `CI=true` a missing kamailio panics (the test fails);
/// elsewhere the caller skips the test after the warning printed here.
pub fn available() -> bool {
    let ok = Command::new(BIN)
        .arg("-v")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
        && PathBuf::from(MODULES).join("tm.so").exists();
    if !ok {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("kamailio is not installed (Debian package kamailio) and CI=true");
        }
        eprintln!("warning: kamailio not found (apt-get install kamailio); test skipped");
    }
    ok
}

/// How the proxy behaves.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Record-Route initial requests, with the second socket ([`Kamailio::dialog_addr`]).
    pub record_route: bool,
    /// Forward initial requests here instead of to the Request-URI's host.
    pub trunk: Option<SocketAddr>,
}

/// A running kamailio, stopped on drop.
#[derive(Debug)]
pub struct Kamailio {
    child: Option<Child>,
    /// Where it takes initial requests (UDP).
    pub addr: SocketAddr,
    /// Its second socket, the one it Record-Routes: in-dialog requests must arrive here.
    pub dialog_addr: SocketAddr,
    dir: PathBuf,
}

impl Kamailio {
    /// Starts kamailio on a free loopback port and waits (≤ 5 s) until it answers an OPTIONS
    /// probe; panics if it cannot.
    pub fn start(opts: Options) -> Kamailio {
        let cfg = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/kamailio/proxy.cfg");
        for attempt in 0..3 {
            let free = || {
                UdpSocket::bind("127.0.0.1:0")
                    .and_then(|s| s.local_addr())
                    .expect("free port")
                    .port()
            };
            let (port, port2) = (free(), free());
            let dir = std::env::temp_dir().join(format!(
                "outdial-kamailio-{}-{port}-{attempt}",
                std::process::id()
            ));
            std::fs::create_dir_all(&dir).expect("kamailio run dir");
            let log = std::fs::File::create(dir.join("kamailio.log")).expect("log file");
            let mut cmd = Command::new(BIN);
            cmd.args(["-DD", "-E", "-m", "16", "-M", "4", "-f"])
                .arg(&cfg)
                .arg("-L")
                .arg(MODULES)
                .arg("-Y")
                .arg(&dir)
                .args(["-l", &format!("udp:127.0.0.1:{port}")])
                .args(["-l", &format!("udp:127.0.0.1:{port2}")]);
            if opts.record_route {
                cmd.args(["-A", &format!("RR_ADDR=\"127.0.0.1:{port2}\"")]);
            }
            if let Some(t) = opts.trunk {
                cmd.args(["-A", &format!("TRUNK_URI=\"sip:{t}\"")]);
            }
            // Own process group: nothing of it outlives the test, even if the main process dies.
            cmd.process_group(0)
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("clone log"))
                .stderr(log);
            let child = cmd.spawn().expect("spawn kamailio");
            let mut k = Kamailio {
                child: Some(child),
                addr: SocketAddr::from(([127, 0, 0, 1], port)),
                dialog_addr: SocketAddr::from(([127, 0, 0, 1], port2)),
                dir,
            };
            if k.ready(Duration::from_secs(5)) {
                return k;
            }
            eprintln!("kamailio did not start on {port}:\n{}", k.log());
            k.stop();
        }
        panic!("kamailio could not start");
    }

    fn ready(&mut self, limit: Duration) -> bool {
        let Ok(sock) = UdpSocket::bind("127.0.0.1:0") else {
            return false;
        };
        let Ok(me) = sock.local_addr() else {
            return false;
        };
        if sock
            .set_read_timeout(Some(Duration::from_millis(200)))
            .is_err()
        {
            return false;
        }
        let end = Instant::now() + limit;
        let mut n = 0;
        while Instant::now() < end {
            if let Some(Ok(Some(_))) = self.child.as_mut().map(|c| c.try_wait()) {
                return false; // exited: bad config or port taken
            }
            n += 1;
            let probe = format!(
                "OPTIONS sip:{a} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bKprobe{n}\r\n\
                 Max-Forwards: 70\r\nFrom: <sip:probe@{me}>;tag=p{n}\r\nTo: <sip:{a}>\r\n\
                 Call-ID: probe{n}@{me}\r\nCSeq: {n} OPTIONS\r\nContent-Length: 0\r\n\r\n",
                a = self.addr
            );
            if sock.send_to(probe.as_bytes(), self.addr).is_err() {
                return false;
            }
            let mut buf = [0u8; 2048];
            if let Ok((len, _)) = sock.recv_from(&mut buf) {
                if buf[..len].starts_with(b"SIP/2.0 200") {
                    return true;
                }
            }
        }
        false
    }

    /// Everything kamailio logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("kamailio.log")).unwrap_or_default()
    }

    /// Stops kamailio: SIGTERM to its process group, SIGKILL after 3 s. Returns its log.
    pub fn stop(&mut self) -> String {
        if let Some(mut child) = self.child.take() {
            let group = format!("-{}", child.id());
            // Ignored results: the group may already be gone; the wait below is the check.
            let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
            let end = Instant::now() + Duration::from_secs(3);
            loop {
                match child.try_wait() {
                    Ok(Some(_)) => break,
                    Ok(None) if Instant::now() < end => {
                        std::thread::sleep(Duration::from_millis(20))
                    }
                    _ => {
                        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
                        let _ = child.kill();
                        let _ = child.wait();
                        break;
                    }
                }
            }
        }
        self.log()
    }
}

impl Drop for Kamailio {
    fn drop(&mut self) {
        self.stop();
        // Ignored: a temp dir left behind is harmless.
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
