//! The synthetic peers' voices: speech-like audio made from a seed, 20 ms frames of 8 kHz
//! linear PCM. Talk spurts are a few harmonic partials of a pitch drawn per spurt under a
//! syllable-rate envelope, separated by silent pauses; an answering machine speaks one long
//! greeting, pauses, then beeps at 1 kHz. Pure: no clock, no socket (the stream shell asks for
//! one frame every 20 ms).

use std::sync::OnceLock;

use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64Mcg;

/// Samples in one 20 ms frame at 8 kHz.
pub const FRAME: usize = 160;
const RATE: f32 = 8000.0;

/// Entries of the sine table (a power of two).
const SINE_N: usize = 4096;

/// sin(2π·`cycles`) from a table: a sim streams hundreds of calls, and five `f32::sin` a sample
/// cost several times what the rest of a packet does. 4,096 entries keep the error under 0.2 %.
fn sine(cycles: f32) -> f32 {
    static TABLE: OnceLock<Vec<f32>> = OnceLock::new();
    let t = TABLE.get_or_init(|| {
        (0..SINE_N)
            .map(|i| (std::f32::consts::TAU * i as f32 / SINE_N as f32).sin())
            .collect()
    });
    let i = (cycles.rem_euclid(1.0) * SINE_N as f32) as usize;
    t[i & (SINE_N - 1)]
}

/// Who is speaking: decides the rhythm of spurts and pauses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Voice {
    /// A person answering: a short "hello?" spurt, then 1–3 s spurts and 0.5–2 s pauses.
    Live,
    /// An agent: 1–3 s spurts and 0.5–2 s pauses from the start.
    Agent,
    /// An answering machine: a 4–6 s greeting without real pauses, 0.3 s of silence, a 1 kHz
    /// beep of 0.5 s, then silence (it records).
    Machine,
}

/// What the talker is doing and for how many more samples.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Part {
    Talk {
        left: usize,
        f0: f32,
        syllable_hz: f32,
    },
    Pause {
        left: usize,
    },
    Beep {
        left: usize,
    },
    /// Silence until the call ends.
    Quiet,
}

/// A deterministic speech-like source: the same voice and seed give the same samples.
#[derive(Debug, Clone)]
pub struct Talker {
    voice: Voice,
    rng: Pcg64Mcg,
    part: Part,
    /// Samples into the current part (drives the envelope and the oscillators).
    t: usize,
    spurts: u32,
}

impl Talker {
    /// A talker for `voice`, its randomness drawn from `seed`.
    pub fn new(voice: Voice, seed: u64) -> Self {
        let mut t = Talker {
            voice,
            rng: Pcg64Mcg::seed_from_u64(seed),
            part: Part::Quiet,
            t: 0,
            spurts: 0,
        };
        t.part = t.first_part();
        t
    }

    fn secs(&mut self, lo: f32, hi: f32) -> usize {
        (self.rng.gen_range(lo..hi) * RATE) as usize
    }

    fn talk(&mut self, lo: f32, hi: f32) -> Part {
        self.spurts += 1;
        Part::Talk {
            left: self.secs(lo, hi),
            f0: self.rng.gen_range(100.0..220.0),
            syllable_hz: self.rng.gen_range(3.5..5.5),
        }
    }

    fn first_part(&mut self) -> Part {
        match self.voice {
            Voice::Live => self.talk(0.5, 0.8),
            Voice::Agent => self.talk(1.0, 3.0),
            Voice::Machine => self.talk(4.0, 6.0),
        }
    }

    fn next_part(&mut self) -> Part {
        match (self.voice, self.part) {
            (Voice::Machine, Part::Talk { .. }) => Part::Pause {
                left: self.secs(0.3, 0.31),
            },
            (Voice::Machine, Part::Pause { .. }) => Part::Beep {
                left: (0.5 * RATE) as usize,
            },
            (Voice::Machine, _) => Part::Quiet,
            (_, Part::Talk { .. }) => Part::Pause {
                left: self.secs(0.5, 2.0),
            },
            (_, _) => self.talk(1.0, 3.0),
        }
    }

    /// Fills `out` with the next 20 ms; true when a talk spurt (or the beep) starts in it, where
    /// RTP sets the marker bit.
    pub fn frame(&mut self, out: &mut [i16; FRAME]) -> bool {
        let mut onset = false;
        for s in out.iter_mut() {
            let left = match self.part {
                Part::Talk { left, .. } | Part::Pause { left } | Part::Beep { left } => left,
                Part::Quiet => usize::MAX,
            };
            if self.t >= left {
                self.part = self.next_part();
                self.t = 0;
            }
            if self.t == 0 && matches!(self.part, Part::Talk { .. } | Part::Beep { .. }) {
                onset = true;
            }
            *s = self.sample();
            self.t += 1;
        }
        onset
    }

    fn sample(&self) -> i16 {
        let secs = self.t as f32 / RATE;
        match self.part {
            Part::Talk {
                left,
                f0,
                syllable_hz,
            } => {
                // Syllables: a raised-sine envelope at 3.5–5.5 Hz, faded in and out over 30 ms
                // at the spurt's edges so that it starts and ends without a click.
                let syllable = sine(0.5 * syllable_hz * secs).powi(2);
                let edge = 240.0;
                let fade = (self.t as f32 / edge)
                    .min((left.saturating_sub(self.t)) as f32 / edge)
                    .min(1.0);
                // The pitch drifts a little over a spurt, as intonation does.
                let f = f0 * (1.0 + 0.05 * sine(0.7 * secs));
                let voiced = sine(f * secs)
                    + 0.5 * sine(2.0 * f * secs)
                    + 0.3 * sine(3.0 * f * secs)
                    + 0.2 * sine(650.0 * secs);
                (5000.0 * syllable * fade * voiced) as i16
            }
            Part::Beep { .. } => (8000.0 * sine(1000.0 * secs)) as i16,
            Part::Pause { .. } | Part::Quiet => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Per-frame RMS of `secs` seconds of `voice`.
    fn levels(voice: Voice, seed: u64, secs: usize) -> Vec<f64> {
        let mut t = Talker::new(voice, seed);
        let mut f = [0i16; FRAME];
        (0..secs * 50)
            .map(|_| {
                t.frame(&mut f);
                (f.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / FRAME as f64).sqrt()
            })
            .collect()
    }

    #[test]
    fn the_sine_table_is_close_to_sin() {
        for k in 0..1000 {
            let x = k as f32 * 0.0137 - 3.0;
            let want = (std::f32::consts::TAU * x).sin();
            assert!((sine(x) - want).abs() < 0.002, "{x}: {} vs {want}", sine(x));
        }
    }

    #[test]
    fn speech_alternates_talk_spurts_and_silent_pauses() {
        let l = levels(Voice::Agent, 3, 30);
        let loud = l.iter().filter(|&&r| r > 300.0).count();
        let silent = l.iter().filter(|&&r| r == 0.0).count();
        // Spurts of 1–3 s and pauses of 0.5–2 s: both take a real share of half a minute.
        assert!(loud > 300 && silent > 200, "loud {loud} silent {silent}");
        let onsets = {
            let mut t = Talker::new(Voice::Agent, 3);
            let mut f = [0i16; FRAME];
            (0..1500).filter(|_| t.frame(&mut f)).count()
        };
        assert!((6..=20).contains(&onsets), "spurts in 30 s: {onsets}");
    }

    #[test]
    fn the_same_seed_gives_the_same_voice_and_another_seed_another() {
        assert_eq!(levels(Voice::Live, 9, 5), levels(Voice::Live, 9, 5));
        assert_ne!(levels(Voice::Live, 9, 5), levels(Voice::Live, 10, 5));
    }

    #[test]
    fn a_machine_greets_without_pauses_then_beeps_at_1khz_then_is_quiet() {
        let mut t = Talker::new(Voice::Machine, 1);
        let mut f = [0i16; FRAME];
        let mut frames = Vec::new();
        for _ in 0..500 {
            t.frame(&mut f);
            frames.push(f);
        }
        let rms = |f: &[i16; FRAME]| {
            (f.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / FRAME as f64).sqrt()
        };
        // The first 4 s: no silent 20 ms frame (a greeting, not a conversation).
        assert!(frames[..200].iter().all(|f| rms(f) > 0.0));
        // Then a pause, and the first sound after it is the beep: 1 kHz, 8 samples a period,
        // 40 zero crossings in 160 samples, for 25 frames.
        let pause = frames.iter().position(|f| rms(f) == 0.0).expect("a pause");
        assert!(pause >= 200, "the greeting lasts 4 s at least: {pause}");
        let beep = pause
            + frames[pause..]
                .iter()
                .position(|f| rms(f) > 0.0)
                .expect("a beep");
        assert!((14..=16).contains(&(beep - pause)), "0.3 s of silence");
        for f in &frames[beep + 1..beep + 24] {
            let crossings = f.windows(2).filter(|w| (w[0] < 0) != (w[1] < 0)).count();
            assert!((39..=41).contains(&crossings), "{crossings}");
        }
        assert_eq!(rms(&frames[499]), 0.0, "quiet after the beep");
    }
}
