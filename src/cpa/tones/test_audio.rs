//! Test audio for the signal detectors' unit tests (tones and fingerprints): tones, gain,
//! G.711 round trips, seeded noise at a given SNR, espeak-ng speech at 8 kHz. Test-only.

use std::process::{Command, Stdio};

use rand::Rng;

use crate::cpa::FRAME;
use crate::media::g711;
use crate::media::io::Codec;

/// `ms` of the sum of `freqs`, each a sine peaking at `dbfs` (0 dBFS: full scale), phase
/// continuous, no ramps (SIT and fax generators switch tones abruptly too).
pub fn tone(freqs: &[f32], ms: u32, dbfs: f64) -> Vec<i16> {
    let amp = 32767.0 * 10f64.powf(dbfs / 20.0);
    (0..ms as usize * 8)
        .map(|i| {
            let t = i as f64 / 8000.0;
            let v: f64 = freqs
                .iter()
                .map(|&f| (2.0 * std::f64::consts::PI * f64::from(f) * t).sin())
                .sum();
            (v * amp).clamp(-32768.0, 32767.0) as i16
        })
        .collect()
}

/// `ms` of digital silence.
pub fn silence(ms: u32) -> Vec<i16> {
    vec![0; ms as usize * 8]
}

/// `pcm` made `db` louder (negative: quieter), clipped.
pub fn gain(pcm: &[i16], db: f64) -> Vec<i16> {
    let g = 10f64.powf(db / 20.0);
    pcm.iter()
        .map(|&s| (f64::from(s) * g).clamp(-32768.0, 32767.0) as i16)
        .collect()
}

/// `pcm` encoded and decoded with `codec`.
pub fn g711_round_trip(pcm: &[i16], codec: Codec) -> Vec<i16> {
    let mut bytes = Vec::with_capacity(pcm.len());
    g711::encode(codec, pcm, &mut bytes);
    let mut out = Vec::with_capacity(pcm.len());
    g711::decode(codec, &bytes, &mut out);
    out
}

/// `pcm` plus white noise `snr_db` below its power (measured over its non-silent samples).
pub fn add_noise(pcm: &[i16], snr_db: f64, rng: &mut impl Rng) -> Vec<i16> {
    let active: Vec<f64> = pcm
        .iter()
        .filter(|&&s| s != 0)
        .map(|&s| f64::from(s))
        .collect();
    let power = active.iter().map(|v| v * v).sum::<f64>() / active.len().max(1) as f64;
    // Uniform noise on ±a has power a²/3.
    let a = (3.0 * power / 10f64.powf(snr_db / 10.0)).sqrt().max(1.0);
    pcm.iter()
        .map(|&s| (f64::from(s) + rng.gen_range(-a..a)).clamp(-32768.0, 32767.0) as i16)
        .collect()
}

/// `pcm` cut into frames, the last padded with silence.
pub fn frames(pcm: &[i16]) -> Vec<[i16; FRAME]> {
    crate::cpa::frames_of(pcm, 0, 0)
}

/// Whether espeak-ng runs. Under `CI=true` a missing one fails the test; elsewhere the caller
/// skips after the warning printed here.
pub fn espeak_available() -> bool {
    let ok = Command::new("espeak-ng")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if !ok {
        assert!(
            std::env::var("CI").map_or(true, |v| v != "true"),
            "espeak-ng is not installed (Debian package espeak-ng) and CI=true"
        );
        eprintln!("warning: espeak-ng not found (apt-get install espeak-ng); test skipped");
    }
    ok
}

/// `text` spoken by espeak-ng's `voice` at `speed` words per minute and `pitch` (0–99), as
/// 8 kHz samples (espeak's 22.05 kHz resampled by [`crate::media::wav`]).
pub fn speech(voice: &str, text: &str, speed: u32, pitch: u32) -> Vec<i16> {
    let out = Command::new("espeak-ng")
        .args([
            "-v",
            voice,
            "-s",
            &speed.to_string(),
            "-p",
            &pitch.to_string(),
        ])
        .arg("--stdout")
        .arg(text)
        .stderr(Stdio::null())
        .output()
        .expect("run espeak-ng");
    assert!(out.status.success(), "espeak-ng failed for {voice}: {text}");
    let prompt = crate::media::wav::parse(&out.stdout).expect("espeak-ng's WAV parses");
    prompt.0.to_vec()
}
