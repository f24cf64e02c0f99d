//! `rtp-load --record`: starts a recording of every call through the shell (the engine's
//! `Record` command, the [`Recorder`](crate::media::recording::Recorder) as the tap's sink),
//! and afterwards checks each file against what the load did: present, its 58-byte header
//! exactly the one the writer makes for the file's length (so every size field agrees with the
//! bytes on disk), and its duration the time between the call's Record and its Close. Owns the
//! check; the files are the recorder's.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::media::io::{LegId, MediaCommand};
use crate::media::recording::writer::{header, BYTES_PER_SEC, HEADER_LEN};
use crate::media::shell::MediaShell;

/// One call's recording as started.
#[derive(Clone, Debug)]
pub struct Started {
    /// The file asked for.
    pub path: PathBuf,
    /// When the Record command was sent.
    pub at: Instant,
}

/// What the recordings of a run came to.
#[derive(Clone, Debug, Default)]
pub struct RecordingFigures {
    /// Recordings started (one per call).
    pub started: usize,
    /// Files present with a valid header matching their length.
    pub valid: usize,
    /// `RecordingFailed` events the shell reported.
    pub failed_events: u64,
    /// Why the first few invalid files are invalid.
    pub problems: Vec<String>,
    /// Shortest and longest recording, s.
    pub secs_min: f64,
    /// See `secs_min`.
    pub secs_max: f64,
    /// Largest |duration − (Close − Record)| over the valid files, s.
    pub worst_duration_error: f64,
    /// Bytes in the files at the end.
    pub bytes_total: u64,
    /// Bytes the media threads (workers and recording thread) wrote while the streams ran.
    pub bytes_streaming: u64,
    /// The streams' wall time.
    pub streaming: Duration,
    /// Tapped frames the workers dropped because the recording thread's queue was full (the
    /// recordings have silence there; the relay did not wait).
    pub frames_dropped: u64,
    /// CPU of the recording thread alone over the streaming window (included in the relay's).
    pub thread_cpu: Duration,
}

impl RecordingFigures {
    /// Disk bytes a second while the streams ran (bytes written ÷ streaming seconds).
    pub fn disk_bytes_per_s(&self) -> f64 {
        self.bytes_streaming as f64 / self.streaming.as_secs_f64().max(f64::EPSILON)
    }

    /// Recordings that failed: reported failures, or files missing or invalid.
    pub fn failures(&self) -> u64 {
        self.failed_events
            .max(self.started.saturating_sub(self.valid) as u64)
    }
}

/// Asks a recording of each of `calls` calls (customer leg `2i`, its agent `2i + 1`) into
/// `dir`, the Record commands spread evenly over `spread` (this sleeps that long).
pub fn start(shell: &MediaShell, dir: &Path, calls: usize, spread: Duration) -> Vec<Started> {
    let t0 = Instant::now();
    let mut started = Vec::with_capacity(calls);
    for i in 0..calls {
        let due = spread.mul_f64(i as f64 / calls.max(1) as f64);
        if let Some(wait) = due.checked_sub(t0.elapsed()) {
            std::thread::sleep(wait);
        }
        let path = dir.join(format!("call-{i:05}.wav"));
        shell.send(MediaCommand::Record {
            customer: LegId(i as u64 * 2),
            path: path.clone(),
        });
        started.push(Started {
            path,
            at: Instant::now(),
        });
    }
    started
}

/// Checks every started recording (see the module doc); `closed_at` is when the legs' Close
/// commands went out, `failed_events` the shell's `RecordingFailed` count, `written` the bytes
/// the workers wrote during the streams' `streaming` time.
pub fn check(
    started: &[Started],
    closed_at: Instant,
    failed_events: u64,
    written: u64,
    streaming: Duration,
) -> RecordingFigures {
    let mut f = RecordingFigures {
        started: started.len(),
        failed_events,
        bytes_streaming: written,
        streaming,
        secs_min: f64::INFINITY,
        secs_max: 0.0,
        ..RecordingFigures::default()
    };
    for s in started {
        match read_secs(&s.path) {
            Ok((secs, len)) => {
                f.valid += 1;
                f.bytes_total += len;
                f.secs_min = f.secs_min.min(secs);
                f.secs_max = f.secs_max.max(secs);
                let expected = closed_at.saturating_duration_since(s.at).as_secs_f64();
                f.worst_duration_error = f.worst_duration_error.max((secs - expected).abs());
            }
            Err(why) => {
                if f.problems.len() < 5 {
                    f.problems.push(format!("{}: {why}", s.path.display()));
                }
            }
        }
    }
    if f.valid == 0 {
        f.secs_min = 0.0;
    }
    f
}

/// A recording's seconds of audio and its length, when its header is the writer's for its
/// length.
fn read_secs(path: &Path) -> Result<(f64, u64), String> {
    let mut file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let len = file.metadata().map_err(|e| e.to_string())?.len();
    let data = len
        .checked_sub(HEADER_LEN)
        .ok_or_else(|| format!("{len} bytes: shorter than the header"))?;
    if data % 2 != 0 {
        return Err(format!("{data} data bytes: not whole stereo frames"));
    }
    let data32 = u32::try_from(data).map_err(|_| format!("{data} data bytes: over 4 GiB"))?;
    let mut head = [0u8; HEADER_LEN as usize];
    file.read_exact(&mut head).map_err(|e| e.to_string())?;
    if head != header(data32) {
        return Err(format!(
            "header does not describe its {data} data bytes (sizes not updated, or not a stereo \
             µ-law WAV)"
        ));
    }
    Ok((data as f64 / BYTES_PER_SEC as f64, len))
}
