//! The pitch (F0) of a 20 ms frame of voiced speech. Owns the 4 kHz band the pitch is read
//! from and the estimator; knows nothing of utterances or verdicts ([`super::intonation`]
//! summarises a pitch track, [`super::amd`] decides what it means).
//!
//! The estimator is YIN's (de Cheveigné and Kawahara, 2002, as published): the squared
//! difference between the frame and the audio one lag earlier, normalised by its mean over the
//! shorter lags, and the first dip under [`APERIODIC`] from 400 Hz down is the period. Voices
//! on a telephone line sit between about 60 Hz and 400 Hz, whose harmonics are all under 2 kHz,
//! so the band is low-passed and kept at 4 kHz: half the samples and half the lags of 8 kHz,
//! a quarter of the cost (about 6,400 multiply-adds for a frame), and the formants above
//! 1.3 kHz that pull the dip to a harmonic are weakened (a 3-tap average has its null there).

use super::FRAME;

/// Samples of the band per frame (20 ms at 4 kHz).
const BAND_FRAME: usize = FRAME / 2;
/// The shortest period looked for: 400 Hz at 4 kHz.
const MIN_LAG: usize = 10;
/// The longest: 50 Hz.
const MAX_LAG: usize = 80;
/// Samples compared at each lag: the frame.
const WINDOW: usize = BAND_FRAME;
/// The band kept: the frame and the longest lag before it.
const HISTORY: usize = WINDOW + MAX_LAG;
/// A normalised difference under this at the period is voiced speech; noise, breath and
/// unvoiced consonants stay over it.
pub const APERIODIC: f32 = 0.35;
/// The band's sample rate, Hz.
const BAND_HZ: f32 = 4000.0;

/// The 4 kHz band of a stream, and the pitch of its last frame on demand.
#[derive(Clone, Debug)]
pub struct PitchTracker {
    /// The band's last [`HISTORY`] samples, oldest first.
    band: [f32; HISTORY],
    /// The last three 8 kHz samples of the previous frame (the 4-sample sum crosses frames).
    tail: [i32; 3],
    /// The last two 4 kHz samples before the 3-tap average.
    decimated: [f32; 2],
}

impl Default for PitchTracker {
    fn default() -> Self {
        PitchTracker {
            band: [0.0; HISTORY],
            tail: [0; 3],
            decimated: [0.0; 2],
        }
    }
}

impl PitchTracker {
    /// 20 ms more audio into the band (every frame, so the band is continuous).
    pub fn push(&mut self, frame: &[i16; FRAME]) {
        self.band.copy_within(BAND_FRAME.., 0);
        let [mut a, mut b, mut c] = self.tail;
        let [mut y1, mut y2] = self.decimated;
        let out = &mut self.band[HISTORY - BAND_FRAME..];
        for (pair, slot) in frame.chunks_exact(2).zip(out.iter_mut()) {
            // A 4-sample sum (nulls at 2 and 4 kHz) kept at every other sample, then a
            // 3-sample sum at 4 kHz (null at 1.33 kHz).
            let (d0, d1) = (i32::from(pair[0]), i32::from(pair[1]));
            let y = (b + c + d0 + d1) as f32;
            (a, b, c) = (c, d0, d1);
            *slot = y + y1 + y2;
            (y2, y1) = (y1, y);
        }
        self.tail = [a, b, c];
        self.decimated = [y1, y2];
    }

    /// The pitch of the last frame pushed, Hz; `None` when it is not periodic enough to be
    /// voiced speech (or silence).
    pub fn estimate(&self) -> Option<f32> {
        let x = &self.band[MAX_LAG..];
        let diff = |lag: usize| squared_difference(x, &self.band[MAX_LAG - lag..HISTORY - lag]);
        // d'(τ) = d(τ)·τ / Σ_{k≤τ} d(k); the lags under MIN_LAG only feed the sum.
        let mut sum = 0.0f32;
        let mut prev = f32::INFINITY;
        let mut found: Option<usize> = None;
        let mut norm = [1.0f32; MAX_LAG + 2];
        for (lag, slot) in norm.iter_mut().enumerate().take(MAX_LAG + 1).skip(1) {
            let d = diff(lag);
            sum += d;
            let n = if sum > 0.0 { d * lag as f32 / sum } else { 1.0 };
            *slot = n;
            match found {
                // Past the threshold: follow the dip to its bottom, one lag past it.
                Some(_) if n < prev => found = Some(lag),
                Some(_) => break,
                None if lag >= MIN_LAG && n < APERIODIC => found = Some(lag),
                None => {}
            }
            prev = n;
        }
        let lag = found?;
        // The bottom between lags, from the parabola through its neighbours.
        let (l, m, r) = (norm[lag - 1], norm[lag], norm[lag + 1]);
        let curve = l - 2.0 * m + r;
        let shift = if lag < MAX_LAG && curve > 0.0 {
            (0.5 * (l - r) / curve).clamp(-0.5, 0.5)
        } else {
            0.0
        };
        Some(BAND_HZ / (lag as f32 + shift))
    }
}

/// Σ (x − y)² over equal slices, in [`LANES`] partial sums: the compiler keeps floating-point
/// additions in the order written, so one running sum could not use vector instructions; eight
/// independent ones do, and this loop is nearly all of the estimator's time.
fn squared_difference(x: &[f32], y: &[f32]) -> f32 {
    let mut acc = [0.0f32; LANES];
    for (xs, ys) in x.chunks_exact(LANES).zip(y.chunks_exact(LANES)) {
        for ((s, a), b) in acc.iter_mut().zip(xs).zip(ys) {
            let d = a - b;
            *s += d * d;
        }
    }
    acc.iter().sum()
}

/// Partial sums in [`squared_difference`]; [`WINDOW`] is a multiple of it.
const LANES: usize = 8;
const _: () = assert!(WINDOW.is_multiple_of(LANES));

#[cfg(test)]
mod tests {
    use super::*;

    fn track(pcm: &[i16]) -> Vec<Option<f32>> {
        let mut p = PitchTracker::default();
        pcm.chunks_exact(FRAME)
            .map(|c| {
                p.push(c.try_into().unwrap());
                p.estimate()
            })
            .collect()
    }

    /// A glottal-like pulse train at `hz` through one formant (500 Hz), `ms` long.
    fn voiced(hz: f64, ms: u32) -> Vec<i16> {
        (0..ms as usize * 8)
            .map(|i| {
                let t = i as f64 / 8000.0;
                let v: f64 = (1..=12)
                    .map(|k| hz * f64::from(k))
                    .filter(|&f| f < 3800.0)
                    .map(|f| {
                        let formant = 1.0 / (1.0 + ((f - 500.0) / 300.0).powi(2));
                        formant * (2.0 * std::f64::consts::PI * f * t).sin() * hz / f
                    })
                    .sum();
                (v * 8000.0) as i16
            })
            .collect()
    }

    #[test]
    fn voices_from_low_to_high_are_measured_within_a_few_percent() {
        for hz in [70.0, 110.0, 180.0, 250.0, 350.0] {
            let got = track(&voiced(hz, 200));
            // The first two frames fill the band.
            for (i, f) in got.iter().enumerate().skip(2) {
                let f = f.unwrap_or_else(|| panic!("{hz} Hz, frame {i}: unvoiced"));
                assert!((f64::from(f) / hz - 1.0).abs() < 0.03, "{hz} Hz: {f}");
            }
        }
    }

    #[test]
    fn noise_and_silence_have_no_pitch() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        let noise: Vec<i16> = (0..8000).map(|_| rng.gen_range(-3000..3000)).collect();
        let voiced = track(&noise).iter().filter(|f| f.is_some()).count();
        assert_eq!(voiced, 0);
        assert!(track(&[0; 1600]).iter().all(Option::is_none));
    }
}
