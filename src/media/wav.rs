//! Loading a WAV file as a [`Prompt`] (8 kHz, 16-bit, mono): what `abandon_message` and other
//! sounds outdial plays are read through. Accepts any common WAV — integer PCM of 8/16/24/32
//! bits, 32-bit float, µ-law (format 7) and A-law (6), any channel count (mixed down), any
//! sample rate (resampled with rubato's band-limited FFT resampler, whose low-pass keeps
//! what is above 4 kHz from folding back into the band).
//!
//! Owns the RIFF chunk walk (to name what a file is before decoding it, and for the G.711
//! formats `hound` does not read) and the conversion. Touches no socket, store or engine; the
//! only I/O is [`load`] reading one file, and [`parse`] is the pure core used by it.

use std::io::Cursor;
use std::path::Path;
use std::sync::Arc;

use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Resampler};

use super::g711;
use super::io::Prompt;

/// The rate every prompt is converted to.
pub const RATE: u32 = 8000;

/// Longest prompt accepted: a safe-harbour message is a few seconds; a minute means the wrong
/// file was named.
pub const MAX_SECONDS: u32 = 60;

/// Largest file read at all (a minute of 192 kHz 32-bit stereo is 46 MB).
pub const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;

/// Lowest and highest sample rates accepted (telephone to studio rates).
pub const MIN_RATE: u32 = 4000;
/// See [`MIN_RATE`].
pub const MAX_RATE: u32 = 384_000;

/// A WAV file that cannot be used, naming the file and the reason.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {problem}")]
pub struct WavError {
    /// The file as named by the caller.
    pub file: String,
    /// What is wrong with it.
    pub problem: WavProblem,
}

/// What is wrong with a WAV file.
#[derive(Debug, thiserror::Error)]
pub enum WavProblem {
    /// It could not be read.
    #[error("cannot read: {0}")]
    Io(#[from] std::io::Error),
    /// Larger than [`MAX_FILE_BYTES`].
    #[error("file of {0} bytes is too large for a prompt (at most {MAX_FILE_BYTES})")]
    TooLarge(u64),
    /// No `RIFF…WAVE` header.
    #[error("not a WAV file (no RIFF/WAVE header)")]
    NotWav,
    /// A chunk is cut short or missing.
    #[error("malformed WAV: {0}")]
    Malformed(String),
    /// A format tag outdial does not decode.
    #[error("unsupported format tag {tag} ({name}); use PCM, float, µ-law or A-law")]
    UnsupportedFormat {
        /// The `wFormatTag`.
        tag: u16,
        /// Its common name.
        name: &'static str,
    },
    /// A PCM or float layout that is not decodable (e.g. 12-bit, 64-bit float).
    #[error("unsupported sample layout: {0}")]
    UnsupportedLayout(String),
    /// No audio samples.
    #[error("empty: no audio samples")]
    Empty,
    /// Longer than [`MAX_SECONDS`].
    #[error("too long: {0:.1} s (at most {MAX_SECONDS} s)")]
    TooLong(f64),
    /// The resampler refused the rates.
    #[error("cannot resample from {0} Hz: {1}")]
    Resample(u32, String),
}

const TAG_PCM: u16 = 1;
const TAG_FLOAT: u16 = 3;
const TAG_ALAW: u16 = 6;
const TAG_MULAW: u16 = 7;
const TAG_EXTENSIBLE: u16 = 0xFFFE;

/// The `fmt ` chunk's fields that matter here.
#[derive(Clone, Copy, Debug)]
struct Format {
    tag: u16,
    channels: u16,
    rate: u32,
    bits: u16,
}

/// Reads and converts `path` (errors name it as given).
pub fn load(path: &Path) -> Result<Prompt, WavError> {
    let file = path.display().to_string();
    let fail = |problem| WavError {
        file: file.clone(),
        problem,
    };
    let len = std::fs::metadata(path).map_err(|e| fail(e.into()))?.len();
    if len > MAX_FILE_BYTES {
        return Err(fail(WavProblem::TooLarge(len)));
    }
    let bytes = std::fs::read(path).map_err(|e| fail(e.into()))?;
    parse(&bytes).map_err(fail)
}

/// Converts the bytes of a WAV file to a prompt. Never panics, whatever the bytes.
pub fn parse(bytes: &[u8]) -> Result<Prompt, WavProblem> {
    if bytes.len() < 12 || &bytes[0..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return Err(WavProblem::NotWav);
    }
    let (fmt, data) = walk_chunks(bytes)?;
    if fmt.channels == 0 {
        return Err(WavProblem::Malformed("0 channels".into()));
    }
    if !(MIN_RATE..=MAX_RATE).contains(&fmt.rate) {
        return Err(WavProblem::UnsupportedLayout(format!(
            "sample rate {} Hz (accepted: {MIN_RATE} to {MAX_RATE})",
            fmt.rate
        )));
    }
    let channels = usize::from(fmt.channels);
    // Length check before decoding: a bogus header must not make us decode an hour of audio.
    let bytes_per_frame = (usize::from(fmt.bits).div_ceil(8)).max(1) * channels;
    let frames = data.len() / bytes_per_frame;
    if frames == 0 {
        return Err(WavProblem::Empty);
    }
    let seconds = frames as f64 / f64::from(fmt.rate);
    if seconds > f64::from(MAX_SECONDS) {
        return Err(WavProblem::TooLong(seconds));
    }
    let mono = match fmt.tag {
        TAG_MULAW | TAG_ALAW => {
            if fmt.bits != 8 {
                return Err(WavProblem::UnsupportedLayout(format!(
                    "G.711 with {} bits per sample",
                    fmt.bits
                )));
            }
            let decode = if fmt.tag == TAG_MULAW {
                g711::ulaw_decode
            } else {
                g711::alaw_decode
            };
            data.chunks_exact(channels)
                .map(|frame| {
                    let sum: f32 = frame.iter().map(|&c| f32::from(decode(c))).sum();
                    sum / channels as f32 / 32768.0
                })
                .collect()
        }
        _ => {
            // hound trusts the data chunk's size; a file written as a stream (size 0 or
            // 0xFFFFFFFF, or a recording cut short) gets the size of what is there.
            let at = data.as_ptr() as usize - bytes.as_ptr() as usize - 4;
            let declared = u32_at(bytes, at);
            if declared as usize != data.len() {
                let mut fixed = bytes[..at + 4 + data.len()].to_vec();
                let len = u32::try_from(data.len()).unwrap_or(u32::MAX);
                fixed[at..at + 4].copy_from_slice(&len.to_le_bytes());
                read_pcm(&fixed, fmt)?
            } else {
                read_pcm(bytes, fmt)?
            }
        }
    };
    if mono.is_empty() {
        return Err(WavProblem::Empty);
    }
    let samples = if fmt.rate == RATE {
        mono
    } else {
        resample(&mono, fmt.rate)?
    };
    let pcm: Vec<i16> = samples
        .iter()
        .map(|&s| (s * 32767.0).round().clamp(-32768.0, 32767.0) as i16)
        .collect();
    if pcm.is_empty() {
        return Err(WavProblem::Empty);
    }
    Ok(Prompt(Arc::from(pcm)))
}

/// Finds the `fmt ` and `data` chunks (the data clipped to the file: a streamed file's size
/// field may say more than was written).
fn walk_chunks(bytes: &[u8]) -> Result<(Format, &[u8]), WavProblem> {
    let mut pos = 12usize;
    let mut fmt = None;
    while pos + 8 <= bytes.len() {
        let id = &bytes[pos..pos + 4];
        let size = u32_at(bytes, pos + 4) as usize;
        let body = pos + 8;
        let end = body.saturating_add(size).min(bytes.len());
        match id {
            b"fmt " => fmt = Some(read_format(&bytes[body..end])?),
            b"data" => {
                let fmt = fmt.ok_or_else(|| {
                    WavProblem::Malformed("data chunk before the fmt chunk".into())
                })?;
                // Size 0 or 0xFFFFFFFF: written as a stream, the data runs to the end.
                let end = if size == 0 || size == u32::MAX as usize {
                    bytes.len()
                } else {
                    end
                };
                return Ok((fmt, &bytes[body.min(end)..end]));
            }
            _ => {}
        }
        // Chunks are padded to an even length.
        pos = body.saturating_add(size).saturating_add(size & 1);
    }
    Err(WavProblem::Malformed(
        match fmt {
            None => "no fmt chunk",
            Some(_) => "no data chunk",
        }
        .into(),
    ))
}

fn read_format(b: &[u8]) -> Result<Format, WavProblem> {
    if b.len() < 16 {
        return Err(WavProblem::Malformed(format!(
            "fmt chunk of {} bytes (at least 16)",
            b.len()
        )));
    }
    let mut tag = u16_at(b, 0);
    if tag == TAG_EXTENSIBLE {
        // WAVE_FORMAT_EXTENSIBLE: the real tag is the first two bytes of the sub-format GUID.
        if b.len() < 26 {
            return Err(WavProblem::Malformed(
                "extensible fmt chunk without its sub-format".into(),
            ));
        }
        tag = u16_at(b, 24);
    }
    let fmt = Format {
        tag,
        channels: u16_at(b, 2),
        rate: u32_at(b, 4),
        bits: u16_at(b, 14),
    };
    match tag {
        TAG_PCM | TAG_FLOAT | TAG_ALAW | TAG_MULAW => Ok(fmt),
        other => Err(WavProblem::UnsupportedFormat {
            tag: other,
            name: tag_name(other),
        }),
    }
}

/// Integer PCM and float through `hound`, mixed down to mono in [-1, 1].
fn read_pcm(bytes: &[u8], fmt: Format) -> Result<Vec<f32>, WavProblem> {
    let reader = hound::WavReader::new(Cursor::new(bytes)).map_err(hound_problem)?;
    let spec = reader.spec();
    let channels = usize::from(spec.channels.max(1));
    let interleaved: Vec<f32> = match (spec.sample_format, spec.bits_per_sample) {
        (hound::SampleFormat::Float, 32) => reader
            .into_samples::<f32>()
            .collect::<Result<_, _>>()
            .map_err(hound_problem)?,
        (hound::SampleFormat::Int, bits @ (8 | 16 | 24 | 32)) => {
            let scale = 1.0 / (1u64 << (bits - 1)) as f64;
            reader
                .into_samples::<i32>()
                .map(|s| s.map(|v| (f64::from(v) * scale) as f32))
                .collect::<Result<_, _>>()
                .map_err(hound_problem)?
        }
        (format, bits) => {
            return Err(WavProblem::UnsupportedLayout(format!(
                "{bits}-bit {} (tag {})",
                match format {
                    hound::SampleFormat::Float => "float",
                    hound::SampleFormat::Int => "integer",
                },
                fmt.tag
            )))
        }
    };
    Ok(interleaved
        .chunks_exact(channels)
        .map(|frame| {
            // NaN or infinite floats in a file become silence rather than noise or a panic.
            let sum: f32 = frame.iter().filter(|s| s.is_finite()).sum();
            (sum / channels as f32).clamp(-1.0, 1.0)
        })
        .collect())
}

fn hound_problem(e: hound::Error) -> WavProblem {
    match e {
        hound::Error::IoError(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            WavProblem::Malformed("cut short".into())
        }
        hound::Error::IoError(e) => WavProblem::Malformed(e.to_string()),
        other => WavProblem::Malformed(other.to_string()),
    }
}

/// Resamples mono audio from `rate` to [`RATE`] with rubato's synchronous FFT resampler: a
/// fixed ratio, band-limited (its anti-aliasing low-pass sits below the new Nyquist).
fn resample(mono: &[f32], rate: u32) -> Result<Vec<f32>, WavProblem> {
    let err = |e: &dyn std::fmt::Display| WavProblem::Resample(rate, e.to_string());
    let mut resampler = Fft::<f32>::new(rate as usize, RATE as usize, 1024, 1, FixedSync::Both)
        .map_err(|e| err(&e))?;
    let input = InterleavedSlice::new(mono, 1, mono.len()).map_err(|e| err(&e))?;
    let out = resampler
        .process_all(&input, mono.len(), None)
        .map_err(|e| err(&e))?;
    Ok(out.take_data())
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    match b.get(at..at + 2) {
        Some(&[x, y]) => u16::from_le_bytes([x, y]),
        _ => 0,
    }
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    match b.get(at..at + 4) {
        Some(&[a, c, d, e]) => u32::from_le_bytes([a, c, d, e]),
        _ => 0,
    }
}

/// Common names of format tags, for the error message.
fn tag_name(tag: u16) -> &'static str {
    match tag {
        0x0002 => "MS ADPCM",
        0x0011 => "IMA ADPCM",
        0x0031 => "GSM 6.10",
        0x0040 => "G.721 ADPCM",
        0x0050 => "MPEG",
        0x0055 => "MP3",
        0x0064 => "G.726 ADPCM",
        0x0161..=0x0163 => "WMA",
        0x2000 => "AC-3",
        0x674f..=0x6751 => "Ogg Vorbis",
        0xF1AC => "FLAC",
        _ => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A WAV file's bytes with a header written by hand (the shapes tools write).
    fn wav(tag: u16, channels: u16, rate: u32, bits: u16, data: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(b"RIFF");
        v.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
        v.extend_from_slice(b"WAVEfmt ");
        v.extend_from_slice(&16u32.to_le_bytes());
        v.extend_from_slice(&tag.to_le_bytes());
        v.extend_from_slice(&channels.to_le_bytes());
        v.extend_from_slice(&rate.to_le_bytes());
        let block = channels * bits.div_ceil(8);
        v.extend_from_slice(&rate.wrapping_mul(u32::from(block)).to_le_bytes());
        v.extend_from_slice(&block.to_le_bytes());
        v.extend_from_slice(&bits.to_le_bytes());
        v.extend_from_slice(b"data");
        v.extend_from_slice(&(data.len() as u32).to_le_bytes());
        v.extend_from_slice(data);
        v
    }

    fn sine(rate: u32, hz: f64, secs: f64) -> Vec<f64> {
        (0..(f64::from(rate) * secs) as usize)
            .map(|i| (2.0 * std::f64::consts::PI * hz * i as f64 / f64::from(rate)).sin() * 0.5)
            .collect()
    }

    fn rms(s: &[i16]) -> f64 {
        (s.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>() / s.len() as f64).sqrt()
    }

    #[test]
    fn pcm16_at_8k_passes_through_unchanged() {
        let pcm: Vec<i16> = (0..800).map(|i| (i * 37 % 2000 - 1000) as i16).collect();
        let data: Vec<u8> = pcm.iter().flat_map(|s| s.to_le_bytes()).collect();
        let p = parse(&wav(1, 1, 8000, 16, &data)).unwrap();
        assert_eq!(&p.0[..], &pcm[..]);
    }

    #[test]
    fn stereo_44k_is_mixed_down_and_resampled_to_one_second_at_8k() {
        let left = sine(44100, 440.0, 1.0);
        let data: Vec<u8> = left
            .iter()
            .flat_map(|&s| {
                let v = (s * 32767.0) as i16;
                // Right channel silent: the mix is half the left.
                [v.to_le_bytes(), 0i16.to_le_bytes()].concat()
            })
            .collect();
        let p = parse(&wav(1, 2, 44100, 16, &data)).unwrap();
        assert!((p.0.len() as i64 - 8000).abs() <= 2, "{}", p.0.len());
        // 0.5 amplitude halved by the mix: rms ≈ 0.25/√2 × 32767 ≈ 5790.
        let r = rms(&p.0[400..7600]);
        assert!((r - 5790.0).abs() < 300.0, "rms {r}");
    }

    #[test]
    fn resampling_low_passes_what_8k_cannot_carry() {
        // A 6 kHz tone at 48 kHz is above the 4 kHz Nyquist of 8 kHz: a naive decimation
        // folds it to 2 kHz at full level; a proper resampler removes it.
        let data: Vec<u8> = sine(48000, 6000.0, 1.0)
            .iter()
            .flat_map(|&s| ((s * 32767.0) as i16).to_le_bytes())
            .collect();
        let p = parse(&wav(1, 1, 48000, 16, &data)).unwrap();
        let r = rms(&p.0[400..7600]);
        assert!(r < 100.0, "6 kHz leaked through as rms {r}");
    }

    #[test]
    fn every_sample_format_decodes_to_the_same_tone() {
        let tone = sine(8000, 400.0, 0.5);
        let reference = rms(&tone
            .iter()
            .map(|&s| (s * 32767.0) as i16)
            .collect::<Vec<_>>());
        let cases: Vec<(&str, Vec<u8>)> = vec![
            (
                "u8",
                wav(
                    1,
                    1,
                    8000,
                    8,
                    &tone
                        .iter()
                        .map(|&s| ((s * 127.0) as i16 + 128) as u8)
                        .collect::<Vec<_>>(),
                ),
            ),
            (
                "s24",
                wav(
                    1,
                    1,
                    8000,
                    24,
                    &tone
                        .iter()
                        .flat_map(|&s| {
                            let v = (s * 8_388_607.0) as i32;
                            v.to_le_bytes()[..3].to_vec()
                        })
                        .collect::<Vec<_>>(),
                ),
            ),
            (
                "s32",
                wav(
                    1,
                    1,
                    8000,
                    32,
                    &tone
                        .iter()
                        .flat_map(|&s| ((s * 2_147_483_647.0) as i32).to_le_bytes())
                        .collect::<Vec<_>>(),
                ),
            ),
            (
                "f32",
                wav(
                    3,
                    1,
                    8000,
                    32,
                    &tone
                        .iter()
                        .flat_map(|&s| (s as f32).to_le_bytes())
                        .collect::<Vec<_>>(),
                ),
            ),
            (
                "ulaw",
                wav(
                    7,
                    1,
                    8000,
                    8,
                    &tone
                        .iter()
                        .map(|&s| g711::ulaw_encode((s * 32767.0) as i16))
                        .collect::<Vec<_>>(),
                ),
            ),
            (
                "alaw stereo",
                wav(
                    6,
                    2,
                    8000,
                    8,
                    &tone
                        .iter()
                        .flat_map(|&s| [g711::alaw_encode((s * 32767.0) as i16); 2])
                        .collect::<Vec<_>>(),
                ),
            ),
        ];
        for (name, bytes) in cases {
            let p = parse(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(p.0.len(), 4000, "{name}");
            let r = rms(&p.0);
            assert!(
                (r - reference).abs() / reference < 0.05,
                "{name}: rms {r} vs {reference}"
            );
        }
    }

    #[test]
    fn a_streamed_or_cut_file_plays_what_it_holds() {
        let pcm: Vec<u8> = (0..1600i16).flat_map(|i| (i * 10).to_le_bytes()).collect();
        for declared in [0u32, u32::MAX, 1_000_000] {
            let mut b = wav(1, 1, 8000, 16, &pcm);
            b[40..44].copy_from_slice(&declared.to_le_bytes());
            let p = parse(&b).unwrap_or_else(|e| panic!("{declared}: {e}"));
            assert_eq!(p.0.len(), 1600, "{declared}");
            assert_eq!(p.0[100], 1000);
        }
    }

    #[test]
    fn errors_say_what_is_wrong() {
        let e = |b: &[u8]| parse(b).unwrap_err().to_string();
        assert_eq!(
            e(b"ID3\x03 not a wav"),
            "not a WAV file (no RIFF/WAVE header)"
        );
        assert!(e(&wav(0x55, 1, 8000, 0, &[1; 100])).contains("unsupported format tag 85 (MP3)"));
        assert!(e(&wav(1, 1, 8000, 16, &[])).starts_with("empty"));
        let long = vec![0u8; 8000 * 61];
        assert!(e(&wav(7, 1, 8000, 8, &long)).starts_with("too long: 61.0 s"));
        let twelve = e(&wav(1, 1, 8000, 12, &[0; 100]));
        assert!(twelve.contains("bits per sample"), "{twelve}");
        let dir = std::env::temp_dir().join(format!("outdial-wav-{}", std::process::id()));
        let missing = dir.join("nope.wav");
        let err = load(&missing).unwrap_err().to_string();
        assert!(err.starts_with(&missing.display().to_string()), "{err}");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig {
            cases: 2000, rng_algorithm: proptest::test_runner::RngAlgorithm::ChaCha,
            failure_persistence: None, ..Default::default() })]

        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
            let _ = parse(&bytes); // the result does not matter here, only that it returns
        }

        #[test]
        fn random_bodies_behind_a_valid_header_never_panic(
            tag in proptest::sample::select(vec![1u16, 3, 6, 7, 0xFFFE, 85]),
            channels in 0u16..4, rate in proptest::sample::select(vec![0u32, 1, 8000, 11025, 44100, 4_000_000_000]),
            bits in proptest::sample::select(vec![0u16, 8, 12, 16, 24, 32, 64]),
            body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400),
            cut in 0usize..500,
        ) {
            let mut b = wav(tag, channels, rate, bits, &body);
            b.truncate(cut.max(12));
            let _ = parse(&b); // only that it returns
        }
    }
}
