//! Rendering a planned [`Item`] to a WAV: espeak-ng speaks, sox makes the tones, the line noise,
//! the level and the G.711 round trip; the timeline itself (parts one after another, the
//! announcement cut) is put together here in 8 kHz 16-bit samples, so every onset is exact.
//!
//! Owns the child processes and the files of one item's work folder; every failure is an error
//! naming the command or file (the caller panics with it: this is test code).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::plan::{Item, Part, Speech};

/// 8 kHz.
pub const RATE: u32 = 8000;
/// Length of each noise bed, s: longer than any corpus file.
pub const NOISE_BED_S: u32 = 40;

/// Runs `cmd`; an error with its stderr if it cannot start or fails.
pub fn run(cmd: &mut Command) -> Result<(), String> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{cmd:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{cmd:?}: {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

fn sox() -> Command {
    let mut c = Command::new("sox");
    // -R: sox's own random numbers (noise, dither) repeat from run to run.
    c.args(["-R", "-V1"]);
    c
}

/// The 8 kHz 16-bit mono format args for sox's output.
const PCM: [&str; 10] = [
    "-r",
    "8000",
    "-c",
    "1",
    "-b",
    "16",
    "-e",
    "signed-integer",
    "-t",
    "wav",
];

/// Makes the two noise beds (`noise-whitenoise.wav`, `noise-pinknoise.wav`) in `dir`, full
/// scale; each file takes a stretch of one at its own level.
pub fn noise_beds(dir: &Path) -> Result<(), String> {
    for colour in ["whitenoise", "pinknoise"] {
        let out = dir.join(format!("noise-{colour}.wav"));
        run(sox().args(["-n"]).args(PCM).arg(&out).args([
            "synth",
            &NOISE_BED_S.to_string(),
            colour,
        ]))?;
    }
    Ok(())
}

/// `s` spoken by espeak-ng into `out` at 8 kHz (espeak's 22.05 kHz resampled by sox).
pub fn speak(s: &Speech, out: &Path) -> Result<(), String> {
    let raw = out.with_extension("espeak.wav");
    run(Command::new("espeak-ng")
        .args(["-v", &s.voice])
        .args(["-s", &s.speed.to_string()])
        .args(["-p", &s.pitch.to_string()])
        .args(["-g", &s.gap.to_string()])
        .arg("-w")
        .arg(&raw)
        .arg(&s.text))?;
    run(sox().arg(&raw).args(PCM).arg(out))?;
    std::fs::remove_file(&raw).map_err(|e| format!("{}: {e}", raw.display()))
}

/// Chords (sine tones sounding together) one after another into `out` (sox `synth … : synth
/// …`, further notes of a chord mixed in by `synth … mix`), a single tone 6 dB under full scale.
pub fn tones(seq: &[(Vec<f64>, u32)], out: &Path) -> Result<(), String> {
    let mut cmd = sox();
    cmd.arg("-n").args(PCM).arg(out);
    for (i, (chord, ms)) in seq.iter().enumerate() {
        if i > 0 {
            cmd.arg(":");
        }
        let secs = format!("{:.3}", f64::from(*ms) / 1000.0);
        for (j, hz) in chord.iter().enumerate() {
            cmd.args(["synth", &secs, "sine"]);
            if j > 0 {
                cmd.arg("mix");
            }
            cmd.arg(format!("{hz:.1}"));
        }
        // Each note at full scale: leave room for the chord's peaks.
        let gain = -6.0 - 20.0 * (chord.len().max(1) as f64).log10();
        cmd.args(["gain", &format!("{gain:.1}")]);
    }
    run(&mut cmd)
}

/// The samples of an 8 kHz 16-bit mono WAV.
pub fn read_pcm(path: &Path) -> Result<Vec<i16>, String> {
    let r = hound::WavReader::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let spec = r.spec();
    if spec.sample_rate != RATE || spec.channels != 1 || spec.bits_per_sample != 16 {
        return Err(format!(
            "{}: not 8 kHz 16-bit mono: {spec:?}",
            path.display()
        ));
    }
    r.into_samples::<i16>()
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// Writes `pcm` as an 8 kHz 16-bit mono WAV.
pub fn write_pcm(path: &Path, pcm: &[i16]) -> Result<(), String> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: RATE,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let fail = |e: hound::Error| format!("{}: {e}", path.display());
    let mut w = hound::WavWriter::create(path, spec).map_err(fail)?;
    for &s in pcm {
        w.write_sample(s).map_err(fail)?;
    }
    w.finalize().map_err(fail)
}

fn samples(ms: u32) -> usize {
    (ms as usize) * (RATE as usize) / 1000
}

/// The stretch `[from_ms, from_ms + ms)` of `reference` repeated (carriers loop their message,
/// with a short pause).
fn cut(reference: &[i16], from_ms: u32, ms: u32) -> Vec<i16> {
    let gap = vec![0i16; samples(super::plan::LOOP_GAP_MS)];
    let mut looped = Vec::with_capacity(reference.len() * 3 + gap.len() * 2);
    for i in 0..3 {
        if i > 0 {
            looped.extend_from_slice(&gap);
        }
        looped.extend_from_slice(reference);
    }
    let start = samples(from_ms).min(looped.len());
    let end = (start + samples(ms)).min(looped.len());
    looped[start..end].to_vec()
}

/// Where the sound of `pcm` ends (ms): its last sample above 2 % of its peak (espeak-ng pads
/// its speech with silence).
fn sound_end_ms(pcm: &[i16]) -> u32 {
    let peak = pcm.iter().map(|s| s.unsigned_abs()).max().unwrap_or(0);
    let floor = peak / 50;
    let last = pcm
        .iter()
        .rposition(|s| s.unsigned_abs() > floor)
        .map_or(0, |i| i + 1);
    (last * 1000 / RATE as usize) as u32
}

/// Renders `item` into `out`, using `work` for its intermediate files (removed on success);
/// `beds` is the folder of [`noise_beds`], `refs` the references' samples. Returns where the
/// first speech part's sound ends in the file (ms), if it has speech: a person's greeting ends
/// there, and the wait they hear starts.
pub fn render(
    item: &Item,
    refs: &[Vec<i16>],
    beds: &Path,
    work: &Path,
    out: &Path,
) -> Result<Option<u32>, String> {
    std::fs::create_dir_all(work).map_err(|e| format!("{}: {e}", work.display()))?;
    let mut pcm: Vec<i16> = Vec::new();
    let mut speech_end = None;
    for (i, part) in item.parts.iter().enumerate() {
        match part {
            Part::Silence { ms } => pcm.resize(pcm.len() + samples(*ms), 0),
            Part::Speech(s) => {
                let p = work.join(format!("part{i}.wav"));
                speak(s, &p)?;
                let said = read_pcm(&p)?;
                if speech_end.is_none() {
                    let start = (pcm.len() * 1000 / RATE as usize) as u32;
                    speech_end = Some(start + sound_end_ms(&said));
                }
                pcm.extend(said);
            }
            Part::Tones(seq) => {
                let p = work.join(format!("part{i}.wav"));
                let chords: Vec<(Vec<f64>, u32)> =
                    seq.iter().map(|&(hz, ms)| (vec![hz], ms)).collect();
                tones(&chords, &p)?;
                pcm.extend(read_pcm(&p)?);
            }
            Part::Chords(seq) => {
                let p = work.join(format!("part{i}.wav"));
                tones(seq, &p)?;
                pcm.extend(read_pcm(&p)?);
            }
            Part::Reference { index, from_ms, ms } => {
                let r = refs
                    .get(*index)
                    .ok_or_else(|| format!("{}: no reference {index}", item.file))?;
                pcm.extend(cut(r, *from_ms, *ms));
            }
        }
    }
    let clean = work.join("clean.wav");
    write_pcm(&clean, &pcm)?;
    let secs = pcm.len() as f64 / f64::from(RATE);
    let ch = &item.channel;

    // Level first (on the sound alone), then the line's noise, then the codec.
    let coded: PathBuf = work.join("coded.wav");
    let mut mix = sox();
    let level = ch
        .peak_db
        .map(|db| format!("|sox -V1 {} -p norm {db:.1}", clean.display()));
    let noise = ch.noise.map(|(colour, db)| {
        let bed = beds.join(format!("noise-{colour}.wav"));
        let room = (f64::from(NOISE_BED_S) - secs).max(0.0);
        format!(
            "|sox -V1 {} -p trim {:.3} {secs:.3} gain {db:.1}",
            bed.display(),
            room * ch.noise_seek
        )
    });
    match (level, noise) {
        (Some(l), Some(n)) => mix
            .arg("-m")
            .args(["-v", "1"])
            .arg(l)
            .args(["-v", "1"])
            .arg(n),
        (Some(l), None) => mix.arg(l),
        (None, Some(n)) => mix.arg(n),
        (None, None) => mix.arg(&clean),
    };
    let target = if ch.codec.sox().is_some() {
        &coded
    } else {
        out
    };
    match ch.codec.sox() {
        Some(enc) => mix.args(["-r", "8000", "-c", "1", "-e", enc, "-t", "wav"]),
        None => mix.args(PCM),
    };
    run(mix.arg(target))?;
    if ch.codec.sox().is_some() {
        run(sox().arg(&coded).args(PCM).arg(out))?;
    }
    std::fs::remove_dir_all(work).map_err(|e| format!("{}: {e}", work.display()))?;
    Ok(speech_end)
}
