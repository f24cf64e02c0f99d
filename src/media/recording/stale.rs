//! Recordings a crash left open: found under a campaign's recording directory and made valid
//! with [`recover`] at the next start. Touches only files whose header
//! disagrees with their length and that no writer has touched for a while (a running writer
//! rewrites its header every second, so a file of another live node is left alone).

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::writer::{recover, HEADER_LEN};

/// What a sweep found.
#[derive(Debug, Default, PartialEq)]
pub struct Sweep {
    /// Files whose header was rewritten, with their seconds of audio.
    pub recovered: Vec<(PathBuf, f64)>,
    /// Files that could not be made valid, and why.
    pub failed: Vec<(PathBuf, String)>,
}

/// Recovers every stale open recording in `dirs` (each searched one level deep for day
/// directories, as the engine lays recordings out: `<campaign dir>/<yyyy-mm-dd>/*.wav`) not
/// modified within `quiet`.
pub fn sweep(dirs: &[PathBuf], quiet: Duration, now: SystemTime) -> Sweep {
    let mut out = Sweep::default();
    for dir in dirs {
        for day in entries(dir).filter(|p| p.is_dir()) {
            for file in entries(&day).filter(|p| p.extension().is_some_and(|e| e == "wav")) {
                if !is_open(&file, quiet, now) {
                    continue;
                }
                match recover(&file) {
                    Ok(secs) => out.recovered.push((file, secs)),
                    Err(e) => out.failed.push((file, e.to_string())),
                }
            }
        }
    }
    out
}

fn entries(dir: &Path) -> impl Iterator<Item = PathBuf> {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path()))
}

/// True when `file`'s RIFF and data sizes disagree with its length and it has been quiet.
fn is_open(file: &Path, quiet: Duration, now: SystemTime) -> bool {
    let Ok(meta) = std::fs::metadata(file) else {
        return false;
    };
    let stale = meta
        .modified()
        .ok()
        .and_then(|m| now.duration_since(m).ok())
        .is_some_and(|age| age >= quiet);
    if !stale || meta.len() < HEADER_LEN {
        return false;
    }
    let Ok(head) = read_head(file) else {
        return false;
    };
    let riff = u64::from(u32::from_le_bytes([head[4], head[5], head[6], head[7]]));
    let data = u64::from(u32::from_le_bytes([head[54], head[55], head[56], head[57]]));
    riff + 8 != meta.len() || data + HEADER_LEN != meta.len()
}

fn read_head(file: &Path) -> std::io::Result<[u8; HEADER_LEN as usize]> {
    use std::io::Read;
    let mut head = [0u8; HEADER_LEN as usize];
    std::fs::File::open(file)?.read_exact(&mut head)?;
    Ok(head)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::recording::writer::WavWriter;

    /// A recording whose writer died between a data write and its header rewrite is found and
    /// made valid; a closed
    /// one and a fresh one (a live writer's) are left alone.
    #[test]
    fn finds_and_fixes_only_stale_open_recordings() {
        let root = std::env::temp_dir().join(format!("outdial-stale-{}", std::process::id()));
        let day = root.join("camp").join("2026-12-05");
        std::fs::create_dir_all(&day).expect("dir");
        let open = day.join("1-100.wav");
        let closed = day.join("2-200.wav");
        let mut w = WavWriter::create(&open).expect("create");
        w.append(&[0x7f; 16_000]).expect("append"); // a second: written, header rewritten
        drop(w); // the crash: no finish
                 // ... and it struck between a second's data and its header rewrite.
        use std::io::Write;
        let mut torn = std::fs::OpenOptions::new()
            .append(true)
            .open(&open)
            .expect("open");
        torn.write_all(&[0x7f; 3_000]).expect("torn write");
        let mut c = WavWriter::create(&closed).expect("create");
        c.append(&[0x7f; 4_000]).expect("append");
        c.finish().expect("finish");
        let dirs = [root.join("camp")];
        let fresh = sweep(&dirs, Duration::from_secs(10), SystemTime::now());
        assert_eq!(
            fresh,
            Sweep::default(),
            "a file touched just now may be a live writer's"
        );
        let later = SystemTime::now() + Duration::from_secs(60);
        let s = sweep(&dirs, Duration::from_secs(10), later);
        assert_eq!(s.recovered.len(), 1, "{s:?}");
        assert_eq!(s.recovered[0].0, open);
        assert!((s.recovered[0].1 - 19_000.0 / 16_000.0).abs() < 1e-9);
        assert_eq!(
            sweep(&dirs, Duration::from_secs(10), later),
            Sweep::default()
        );
        std::fs::remove_dir_all(&root).expect("cleanup");
    }
}
