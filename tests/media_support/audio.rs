//! Test audio: speech made with espeak-ng and sox, WAV reading at 8 kHz mono, and the
//! cross-correlation that tells whether one signal is inside another ("the customer's audio
//! reached the agent", not merely "something was heard").

use std::path::{Path, PathBuf};
use std::process::Command;

use rustfft::num_complex::Complex;
use rustfft::FftPlanner;

/// Runs a command to completion; panics with its stderr if it fails.
pub fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Speaks `text` (espeak-ng, English, fixed voice and speed) into `dir/NAME.wav` as 8 kHz mono
/// 16-bit PCM, the format baresip's `aufile` takes as a microphone.
pub fn say(dir: &Path, name: &str, text: &str) -> PathBuf {
    say_as(dir, name, text, "en", 50)
}

/// [`say`] in espeak-ng's `voice` at `pitch` (0–99): a speaker other than the one the shipped
/// placeholder announcements were made with (espeak renders the same words in the same voice
/// identically, which no two real speakers do).
pub fn say_as(dir: &Path, name: &str, text: &str, voice: &str, pitch: u32) -> PathBuf {
    let raw = dir.join(format!("{name}-espeak.wav"));
    run(Command::new("espeak-ng")
        .args(["-v", voice, "-p", &pitch.to_string(), "-s", "160", "-w"])
        .arg(&raw)
        .arg(text));
    let out = dir.join(format!("{name}.wav"));
    run(Command::new("sox")
        .arg(&raw)
        .args(["-r", "8000", "-c", "1", "-b", "16", "-e", "signed-integer"])
        .arg(&out));
    out
}

/// `src` (8 kHz mono) with `lead` seconds of silence before it and `gap` after, `times` times
/// over: an agent repeating its phrase, so whichever customer is bridged in hears it whole.
pub fn repeated(src: &Path, dst: &Path, lead: u32, gap: u32, times: u32) -> PathBuf {
    run(Command::new("sox")
        .arg(src)
        .args(["-r", "8000", "-c", "1", "-b", "16", "-e", "signed-integer"])
        .arg(dst)
        .args(["pad", &lead.to_string(), &gap.to_string()])
        .args(["repeat", &(times - 1).to_string()]));
    dst.to_path_buf()
}

/// `src` followed by `secs` seconds of silence, as 8 kHz mono 16-bit PCM in `dst` (baresip ends
/// a call when its microphone file ends: the padding keeps the call up).
pub fn padded(src: &Path, dst: &Path, secs: u32) -> PathBuf {
    run(Command::new("sox")
        .arg(src)
        .args(["-r", "8000", "-c", "1", "-b", "16", "-e", "signed-integer"])
        .arg(dst)
        .args(["pad", "0", &secs.to_string()]));
    dst.to_path_buf()
}

/// `src` as headerless 8 kHz G.711 µ-law in `dst`: what SIPp's `rtp_stream` sends (SIPp 3.6.1
/// sends a file's bytes as they are from byte 0, so a WAV header would be sent as noise).
pub fn to_ulaw(src: &Path, dst: &Path) -> PathBuf {
    run(Command::new("sox")
        .arg(src)
        .args(["-r", "8000", "-c", "1", "-t", "ul"])
        .arg(dst));
    dst.to_path_buf()
}

/// The samples of any WAV involved (espeak's 22 kHz, baresip's 16-bit dumps, µ-law, stereo) as
/// 8 kHz mono 16-bit: read with hound when already in that form, else converted by sox first.
pub fn read_wav_mono_8k(path: &Path) -> Vec<i16> {
    if let Ok(r) = hound::WavReader::open(path) {
        let s = r.spec();
        if s.sample_rate == 8000
            && s.channels == 1
            && s.bits_per_sample == 16
            && s.sample_format == hound::SampleFormat::Int
        {
            return r
                .into_samples::<i16>()
                .collect::<Result<_, _>>()
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        }
    }
    let tmp = path.with_extension("mono8k.wav");
    run(Command::new("sox")
        .arg(path)
        .args(["-r", "8000", "-c", "1", "-b", "16", "-e", "signed-integer"])
        .arg(&tmp));
    let samples = hound::WavReader::open(&tmp)
        .unwrap_or_else(|e| panic!("{}: {e}", tmp.display()))
        .into_samples::<i16>()
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("{}: {e}", tmp.display()));
    // Only a cache of the conversion: a failed removal leaves a temp file, nothing else.
    let _ = std::fs::remove_file(&tmp);
    samples
}

/// Root mean square of `s` (0 for an empty slice).
pub fn rms(s: &[i16]) -> f64 {
    if s.is_empty() {
        return 0.0;
    }
    (s.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>() / s.len() as f64).sqrt()
}

/// Where `reference` best matches inside `recorded`: `(lag, peak)`, `lag` the sample of
/// `recorded` where `reference` starts (negative: the recording began after the reference did),
/// `peak` the normalised cross-correlation there, `<ref, window> / (|ref| · |window|)` with
/// both sides' means removed: 1.0 for an exact (scaled) copy, near 0 for unrelated audio, at
/// most the overlapping share for a partial copy. Windows with almost no energy are skipped so
/// that silence cannot score. FFT-based: O((n + m) log(n + m)).
pub fn best_correlation(reference: &[i16], recorded: &[i16]) -> (i64, f64) {
    let n = reference.len();
    let m = recorded.len();
    if n == 0 || m == 0 {
        return (0, 0.0);
    }
    let centred = |s: &[i16]| {
        let mean = s.iter().map(|&x| f64::from(x)).sum::<f64>() / s.len() as f64;
        s.iter().map(|&x| f64::from(x) - mean).collect::<Vec<f64>>()
    };
    let a = centred(reference);
    let b = centred(recorded);
    let e_ref: f64 = a.iter().map(|x| x * x).sum();
    if e_ref <= 0.0 {
        return (0, 0.0);
    }
    let size = (n + m - 1).next_power_of_two();
    let mut planner = FftPlanner::<f64>::new();
    let fwd = planner.plan_fft_forward(size);
    let inv = planner.plan_fft_inverse(size);
    let spectrum = |x: &[f64]| {
        let mut v: Vec<Complex<f64>> = x.iter().map(|&r| Complex::new(r, 0.0)).collect();
        v.resize(size, Complex::new(0.0, 0.0));
        fwd.process(&mut v);
        v
    };
    let fa = spectrum(&a);
    let mut c: Vec<Complex<f64>> = spectrum(&b)
        .iter()
        .zip(&fa)
        .map(|(y, x)| x.conj() * y)
        .collect();
    inv.process(&mut c);
    // prefix[j] = energy of recorded[..j], for the energy of each window.
    let mut prefix = vec![0.0; m + 1];
    for (j, x) in b.iter().enumerate() {
        prefix[j + 1] = prefix[j] + x * x;
    }
    let floor = e_ref * 1e-4;
    let mut best = (0i64, 0.0f64);
    for k in -(n as i64 - 1)..m as i64 {
        let lo = k.max(0) as usize;
        let hi = ((k + n as i64) as usize).min(m);
        let e_win = prefix[hi] - prefix[lo];
        if e_win < floor {
            continue;
        }
        let idx = if k >= 0 {
            k as usize
        } else {
            size - (-k) as usize
        };
        let dot = c[idx].re / size as f64;
        let score = dot / (e_ref * e_win).sqrt();
        if score > best.1 {
            best = (k, score);
        }
    }
    best
}

/// The two channels (left, right) of outdial's stereo G.711 µ-law recording, decoded. Read
/// here (hound does not read WAV format 7): the `fmt ` chunk is checked, the `data` chunk
/// decoded with outdial's own G.711.
pub fn read_stereo_ulaw(path: &Path) -> (Vec<i16>, Vec<i16>) {
    use outdial::media::g711;
    use outdial::media::io::Codec;
    let b = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(
        b.len() >= 12 && &b[..4] == b"RIFF" && &b[8..12] == b"WAVE",
        "a WAV"
    );
    let mut at = 12;
    let mut data = None;
    while at + 8 <= b.len() {
        let id = &b[at..at + 4];
        let len = u32::from_le_bytes([b[at + 4], b[at + 5], b[at + 6], b[at + 7]]) as usize;
        let body = &b[at + 8..(at + 8 + len).min(b.len())];
        if id == b"fmt " {
            let format = u16::from_le_bytes([body[0], body[1]]);
            let channels = u16::from_le_bytes([body[2], body[3]]);
            let rate = u32::from_le_bytes([body[4], body[5], body[6], body[7]]);
            assert_eq!(
                (format, channels, rate),
                (7, 2, 8000),
                "stereo µ-law at 8 kHz"
            );
        } else if id == b"data" {
            data = Some(body);
        }
        at += 8 + len + (len & 1);
    }
    let data = data.expect("a data chunk");
    let (mut left, mut right) = (Vec::new(), Vec::new());
    let l: Vec<u8> = data.iter().step_by(2).copied().collect();
    let r: Vec<u8> = data.iter().skip(1).step_by(2).copied().collect();
    g711::decode(Codec::Pcmu, &l, &mut left);
    g711::decode(Codec::Pcmu, &r, &mut right);
    (left, right)
}
