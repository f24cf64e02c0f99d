//! The recording file: a stereo µ-law WAV (format tag 7, 8 kHz, 8 bits, 2 channels = 16,000
//! bytes a second) written while the call runs. Audio is buffered for at most one second, then
//! appended and the header's sizes rewritten, so a crash loses at most the last second and
//! [`recover`] can make a file a crash left open valid again. Owns one file; knows nothing of
//! legs, slots or the media core.

use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// Bytes of audio a second (8,000 frames of two one-byte samples).
pub const BYTES_PER_SEC: u64 = 16_000;

/// Header length: RIFF(12) + fmt chunk(8 + 18) + fact chunk(8 + 4) + data chunk header(8).
pub const HEADER_LEN: u64 = 58;
const RIFF_SIZE_AT: u64 = 4;
const FACT_AT: u64 = 46;
const DATA_SIZE_AT: u64 = 54;

/// A recording file that could not be written or recovered.
#[derive(Debug, thiserror::Error)]
#[error("recording {path}: {what}: {source}")]
pub struct WriteError {
    /// The file.
    pub path: PathBuf,
    /// What was being done.
    pub what: &'static str,
    /// The OS error (permission, disk full, …).
    #[source]
    pub source: std::io::Error,
}

/// The 58-byte header for `data_len` bytes of audio.
pub fn header(data_len: u32) -> [u8; HEADER_LEN as usize] {
    let mut h = [0u8; HEADER_LEN as usize];
    let mut put = |at: usize, b: &[u8]| h[at..at + b.len()].copy_from_slice(b);
    put(0, b"RIFF");
    put(4, &(HEADER_LEN as u32 - 8 + data_len).to_le_bytes());
    put(8, b"WAVEfmt ");
    put(16, &18u32.to_le_bytes());
    put(20, &7u16.to_le_bytes()); // WAVE_FORMAT_MULAW
    put(22, &2u16.to_le_bytes()); // customer left, agent right
    put(24, &8000u32.to_le_bytes());
    put(28, &(BYTES_PER_SEC as u32).to_le_bytes());
    put(32, &2u16.to_le_bytes()); // block align: one frame
    put(34, &8u16.to_le_bytes());
    put(36, &0u16.to_le_bytes()); // cbSize: no extra format bytes
    put(38, b"fact");
    put(42, &4u32.to_le_bytes());
    put(46, &(data_len / 2).to_le_bytes()); // frames per channel
    put(50, b"data");
    put(54, &data_len.to_le_bytes());
    h
}

/// An open recording file.
#[derive(Debug)]
pub struct WavWriter {
    path: PathBuf,
    file: File,
    /// Audio not yet in the file (at most about a second).
    buf: Vec<u8>,
    /// Audio bytes in the file.
    written: u64,
}

impl WavWriter {
    /// Creates `path` (and its directory) with an empty recording's header.
    pub fn create(path: &Path) -> Result<WavWriter, WriteError> {
        let err = |what| {
            move |source| WriteError {
                path: path.to_path_buf(),
                what,
                source,
            }
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(err("cannot create its directory"))?;
        }
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)
            .map_err(err("cannot create"))?;
        file.write_all(&header(0))
            .map_err(err("cannot write the header"))?;
        Ok(WavWriter {
            path: path.to_path_buf(),
            file,
            buf: Vec::with_capacity(BYTES_PER_SEC as usize + 640),
            written: 0,
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Audio seconds written or buffered.
    pub fn seconds(&self) -> f64 {
        (self.written + self.buf.len() as u64) as f64 / BYTES_PER_SEC as f64
    }

    /// Takes interleaved stereo µ-law bytes; once a second's worth is held, appends it and
    /// rewrites the header's sizes.
    pub fn append(&mut self, bytes: &[u8]) -> Result<(), WriteError> {
        self.buf.extend_from_slice(bytes);
        if self.buf.len() as u64 >= BYTES_PER_SEC {
            self.flush()?;
        }
        Ok(())
    }

    /// Appends what is buffered and rewrites the sizes (the file is valid after this).
    pub fn flush(&mut self) -> Result<(), WriteError> {
        let err = |what| {
            let path = self.path.clone();
            move |source| WriteError { path, what, source }
        };
        if !self.buf.is_empty() {
            self.file
                .seek(SeekFrom::Start(HEADER_LEN + self.written))
                .map_err(err("cannot seek"))?;
            self.file
                .write_all(&self.buf)
                .map_err(err("cannot append audio"))?;
            self.written += self.buf.len() as u64;
            self.buf.clear();
        }
        let len = u32::try_from(self.written).unwrap_or(u32::MAX - HEADER_LEN as u32);
        let h = header(len);
        for (at, end) in [(RIFF_SIZE_AT, 8), (FACT_AT, 50), (DATA_SIZE_AT, 58)] {
            self.file
                .seek(SeekFrom::Start(at))
                .map_err(err("cannot seek"))?;
            self.file
                .write_all(&h[at as usize..end])
                .map_err(err("cannot rewrite the header"))?;
        }
        Ok(())
    }

    /// Flushes and closes; returns the seconds of audio in the file.
    pub fn finish(mut self) -> Result<f64, WriteError> {
        self.flush()?;
        let path = self.path.clone();
        self.file.sync_data().map_err(|source| WriteError {
            path,
            what: "cannot sync",
            source,
        })?;
        Ok(self.written as f64 / BYTES_PER_SEC as f64)
    }
}

/// Makes a recording that a crash left open valid: the sizes in its header are set from the
/// file's length (cut to whole stereo frames). Returns its seconds of audio.
pub fn recover(path: &Path) -> Result<f64, WriteError> {
    let err = |what| {
        move |source| WriteError {
            path: path.to_path_buf(),
            what,
            source,
        }
    };
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(err("cannot open"))?;
    let mut head = [0u8; HEADER_LEN as usize];
    std::io::Read::read_exact(&mut file, &mut head).map_err(err("cannot read the header"))?;
    if &head[0..4] != b"RIFF" || &head[8..16] != b"WAVEfmt " || &head[50..54] != b"data" {
        return Err(err("not an outdial recording")(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "unexpected header",
        )));
    }
    let len = file.metadata().map_err(err("cannot stat"))?.len();
    let data = len.saturating_sub(HEADER_LEN) & !1;
    let data32 = u32::try_from(data).unwrap_or(u32::MAX - HEADER_LEN as u32) & !1;
    file.set_len(HEADER_LEN + u64::from(data32))
        .map_err(err("cannot cut a partial frame"))?;
    file.seek(SeekFrom::Start(0)).map_err(err("cannot seek"))?;
    file.write_all(&header(data32))
        .map_err(err("cannot rewrite the header"))?;
    file.sync_data().map_err(err("cannot sync"))?;
    Ok(f64::from(data32) / BYTES_PER_SEC as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("outdial-rec-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir); // a leftover from an earlier run, if any
        dir.join("sub").join("call.wav")
    }

    fn sizes(bytes: &[u8]) -> (u32, u32, u32) {
        let u = |at: usize| {
            u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
        };
        (u(4), u(46), u(54))
    }

    #[test]
    fn the_header_follows_the_data_every_second_and_a_crash_loses_at_most_one() {
        let path = tmp("grow");
        let mut w = WavWriter::create(&path).unwrap();
        // 2.5 s in 20-ms slots.
        for _ in 0..125 {
            w.append(&[0x55; 320]).unwrap();
        }
        // "Crash" now: no finish. The file on disk is valid up to the last whole second.
        let on_disk = std::fs::read(&path).unwrap();
        let (riff, fact, data) = sizes(&on_disk);
        assert!(data as u64 >= 2 * BYTES_PER_SEC - 320, "{data}");
        assert_eq!(on_disk.len() as u64, HEADER_LEN + u64::from(data));
        assert_eq!((riff, fact), (data + 50, data / 2));
        // The file is a valid WAV that the prompt loader (and so any player) reads.
        assert!(crate::media::wav::parse(&on_disk).is_ok());
        assert!((w.finish().unwrap() - 2.5).abs() < 1e-9);
        let done = std::fs::read(&path).unwrap();
        assert_eq!(sizes(&done).2, 40_000);
    }

    #[test]
    fn recover_sets_sizes_from_the_file_length() {
        let path = tmp("recover");
        let mut w = WavWriter::create(&path).unwrap();
        w.append(&[0x11; 320]).unwrap();
        w.flush().unwrap();
        drop(w);
        // Bytes appended after the last header update, and a half frame cut by the crash.
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(&[0x22; 16_001]).unwrap();
        drop(f);
        let secs = recover(&path).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(sizes(&bytes).2, 16_320);
        assert_eq!(bytes.len() as u64, HEADER_LEN + 16_320);
        assert!((secs - 1.02).abs() < 1e-9);
        assert!(recover(&path.with_file_name("missing.wav")).is_err());
        std::fs::write(
            &path,
            b"not a recording at all, but long enough to read a header........",
        )
        .unwrap();
        assert!(recover(&path).is_err());
    }

    #[test]
    fn an_unwritable_place_is_an_error_not_a_panic() {
        let path = tmp("unwritable");
        std::fs::create_dir_all(path.parent().unwrap().parent().unwrap()).unwrap();
        // A file where the directory should be.
        std::fs::write(path.parent().unwrap(), b"x").unwrap();
        let e = WavWriter::create(&path).unwrap_err().to_string();
        assert!(e.contains("cannot create its directory"), "{e}");
    }
}
