//! A headless baresip softphone as a test peer: generated config and accounts in a temp dir,
//! UDP SIP on a free loopback port, G.711 only, a WAV as its microphone (`aufile`), what it hears
//! written to a WAV (`sndfile`: baresip 1.0, Debian's, has no `aufile` player; its `sndfile`
//! filter dumps the decoded far-end audio to `dump-…-dec.wav`), ALSA's `null` device as the
//! player, auto-answer, commands and events over `ctrl_tcp` (netstring JSON). Bounded by
//! baresip's own `-t` and killed on drop.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

use super::{audio, free_tcp_port, free_udp_ports, sipp::free_udp_port, temp_dir};

/// Longest a baresip lives (its `-t`), whatever the test does.
const LIFETIME_S: u32 = 120;
/// Silence added after the microphone WAV: baresip hangs up when its microphone file ends.
const MIC_PAD_S: u32 = 60;

/// A running baresip with one account `sip:NAME@127.0.0.1:PORT`, auto-answering.
#[derive(Debug)]
pub struct Baresip {
    child: Option<Child>,
    /// Its config dir; recordings are written here too.
    pub dir: PathBuf,
    /// Where it takes SIP (UDP).
    pub sip: SocketAddr,
    /// Account user part.
    pub name: String,
    ctrl: TcpStream,
    events: Receiver<serde_json::Value>,
    token: u64,
}

impl Baresip {
    /// Starts baresip `name` with `mic` (any WAV) as its microphone. Panics if it does not come
    /// up within 10 s.
    pub fn start(name: &str, mic: &Path) -> Baresip {
        Baresip::start_answering(name, mic, &[])
    }

    /// [`Baresip::start`] with further accounts `also` (user parts) on the same address:
    /// baresip answers only requests to a user it has an account for ("UA not found"), so a
    /// baresip standing in for a trunk needs one per number dialled.
    pub fn start_answering(name: &str, mic: &Path, also: &[&str]) -> Baresip {
        Baresip::start_with(name, mic, also, "")
    }

    /// [`Baresip::start`] for a phone that dials in to outdial (`connect: dial-in`): its
    /// account answers a digest challenge with user `name` and `password`.
    pub fn start_dialling_in(name: &str, mic: &Path, password: &str) -> Baresip {
        Baresip::start_with(name, mic, &[], &format!(";auth_pass={password}"))
    }

    fn start_with(name: &str, mic: &Path, also: &[&str], account_params: &str) -> Baresip {
        let dir = temp_dir(&format!("baresip-{name}"));
        let mic = audio::padded(mic, &dir.join("mic.wav"), MIC_PAD_S);
        for _ in 0..5 {
            let sip_port = free_udp_port();
            let ctrl_port = free_tcp_port();
            let rtp = free_udp_ports(10);
            let config = format!(
                "poll_method\tepoll\n\
                 sip_listen\t127.0.0.1:{sip_port}\n\
                 sip_transports\tudp\n\
                 net_interface\t127.0.0.1\n\
                 audio_player\talsa,null\n\
                 audio_alert\talsa,null\n\
                 audio_source\taufile,{mic}\n\
                 audio_path\t/usr/share/baresip\n\
                 rtp_ports\t{rtp}-{rtp_hi}\n\
                 module_path\t/usr/lib/baresip/modules\n\
                 module\tg711.so\n\
                 module\taufile.so\n\
                 module\talsa.so\n\
                 module\tsndfile.so\n\
                 module_app\taccount.so\n\
                 module_app\tmenu.so\n\
                 module_app\tctrl_tcp.so\n\
                 ctrl_tcp_listen\t127.0.0.1:{ctrl_port}\n\
                 snd_path\t{dir}\n",
                mic = mic.display(),
                rtp_hi = rtp + 9,
                dir = dir.display(),
            );
            std::fs::write(dir.join("config"), config).expect("write baresip config");
            let accounts: String = std::iter::once(name)
                .chain(also.iter().copied())
                .map(|user| {
                    format!(
                        "<sip:{user}@127.0.0.1:{sip_port};transport=udp>;regint=0;\
                         answermode=auto;audio_codecs=PCMU,PCMA{account_params}\n"
                    )
                })
                .collect();
            std::fs::write(dir.join("accounts"), accounts).expect("write baresip accounts");
            let log = std::fs::File::create(dir.join("baresip.log")).expect("baresip log");
            let mut child = Command::new("baresip")
                .arg("-f")
                .arg(&dir)
                .args(["-t", &LIFETIME_S.to_string()])
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("clone log"))
                .stderr(log)
                .spawn()
                .expect("spawn baresip");
            let end = Instant::now() + Duration::from_secs(10);
            let ctrl = loop {
                if let Ok(s) = TcpStream::connect(("127.0.0.1", ctrl_port)) {
                    break Some(s);
                }
                if Instant::now() > end || matches!(child.try_wait(), Ok(Some(_))) {
                    break None;
                }
                std::thread::sleep(Duration::from_millis(50));
            };
            let Some(ctrl) = ctrl else {
                // Lost a port race (or failed): kill what is left and try other ports.
                let _ = child.kill();
                let _ = child.wait();
                continue;
            };
            let events = spawn_reader(ctrl.try_clone().expect("clone ctrl socket"));
            return Baresip {
                child: Some(child),
                dir,
                sip: SocketAddr::from(([127, 0, 0, 1], sip_port)),
                name: name.to_string(),
                ctrl,
                events,
                token: 0,
            };
        }
        panic!(
            "baresip {name} did not start; see {}",
            dir.join("baresip.log").display()
        );
    }

    /// Its SIP URI.
    pub fn uri(&self) -> String {
        format!("sip:{}@{}", self.name, self.sip)
    }

    /// Sends a command (`dial`, `hangup`, `quit`, …) over ctrl_tcp.
    pub fn command(&mut self, command: &str, params: &str) {
        self.token += 1;
        let msg = serde_json::json!({
            "command": command,
            "params": params,
            "token": self.token.to_string(),
        })
        .to_string();
        let frame = format!("{}:{},", msg.len(), msg);
        self.ctrl
            .write_all(frame.as_bytes())
            .expect("write to baresip ctrl_tcp");
    }

    /// Dials `uri`.
    pub fn dial(&mut self, uri: &str) {
        self.command("dial", uri);
    }

    /// Hangs up the current call.
    pub fn hangup(&mut self) {
        self.command("hangup", "");
    }

    /// The next event whose `type` is `kind` (e.g. `CALL_ESTABLISHED`, `CALL_CLOSED`) within
    /// `limit`; events of other types are dropped.
    pub fn wait_event(&mut self, kind: &str, limit: Duration) -> Option<serde_json::Value> {
        let end = Instant::now() + limit;
        loop {
            let left = end.checked_duration_since(Instant::now())?;
            let ev = self.events.recv_timeout(left).ok()?;
            if ev.get("type").and_then(|t| t.as_str()) == Some(kind) {
                return Some(ev);
            }
        }
    }

    /// The WAVs of what it heard, one per call, oldest first (complete once the call closed).
    pub fn recordings(&self) -> Vec<PathBuf> {
        self.dumps("-dec.wav")
    }

    /// The WAVs of what it sent, one per call, oldest first.
    pub fn sent(&self) -> Vec<PathBuf> {
        self.dumps("-enc.wav")
    }

    fn dumps(&self, suffix: &str) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(&self.dir)
            .map(|d| {
                d.filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| {
                        p.file_name()
                            .and_then(|n| n.to_str())
                            .is_some_and(|n| n.starts_with("dump-") && n.ends_with(suffix))
                    })
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }

    /// Its log so far, for assertion messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("baresip.log")).unwrap_or_default()
    }
}

impl Drop for Baresip {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // Best effort at the end of a test: the process may already be gone.
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Reads netstrings (`LEN:JSON,`) from ctrl_tcp on a thread; ends when the socket closes.
fn spawn_reader(mut s: TcpStream) -> Receiver<serde_json::Value> {
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            match s.read(&mut chunk) {
                Ok(0) | Err(_) => return,
                Ok(k) => buf.extend_from_slice(&chunk[..k]),
            }
            while let Some(colon) = buf.iter().position(|&b| b == b':') {
                let Some(len) = std::str::from_utf8(&buf[..colon])
                    .ok()
                    .and_then(|l| l.parse::<usize>().ok())
                else {
                    return;
                };
                if buf.len() < colon + 1 + len + 1 {
                    break;
                }
                let body = buf[colon + 1..colon + 1 + len].to_vec();
                buf.drain(..colon + 1 + len + 1);
                if let Ok(v) = serde_json::from_slice(&body) {
                    if tx.send(v).is_err() {
                        return;
                    }
                }
            }
        }
    });
    rx
}
