//! Landmarks of one stream, computed incrementally: one 256-point FFT per 20 ms frame, spectral
//! peaks that are the loudest point of their time-frequency neighbourhood, and hashes of peak
//! pairs `(f1, f2 − f1, Δt)` stamped with the first peak's time. References and live streams go
//! through this same code, so the same audio gives the same hashes.
//!
//! Owns its sample window, a few columns of spectrum and the recent peaks, all allocated once:
//! [`Landmarks::push`] allocates nothing. Knows nothing of references or matching.

use std::sync::{Arc, OnceLock};

use realfft::num_complex::Complex;
use realfft::{RealFftPlanner, RealToComplex};

use crate::cpa::FRAME;

/// FFT length: 32 ms, 31.25 Hz bins; the hop is one frame (20 ms), so windows overlap.
const WINDOW: usize = 256;
/// Bins analysed: 250 to 3500 Hz (the telephone band, where G.711 keeps the spectrum).
const LOW_BIN: usize = 8;
const HIGH_BIN: usize = 112;
pub const BINS: usize = HIGH_BIN - LOW_BIN + 1;
/// A peak is the loudest cell within ±`PEAK_TIME` columns and ±`PEAK_FREQ` bins: 60 ms and
/// ±190 Hz, a density of a few peaks per column on speech. Peaks are known `PEAK_TIME` columns
/// late (the neighbourhood's future half).
const PEAK_TIME: usize = 2;
const PEAK_FREQ: usize = 4;
/// Columns kept for the neighbourhood test.
const RING: usize = 2 * PEAK_TIME + 1;
/// At most this many peaks per column (the loudest): bounds the work on dense spectra.
const MAX_PEAKS: usize = 5;
/// Cells quieter than this (dB of |X|², where a full-scale sine peaks near 126 dB) are never
/// peaks: about 65 dB under full scale, so silence and faint hiss give no landmarks while a
/// reference played 20 dB quieter than recorded still does.
const FLOOR_DB: f32 = 61.0;
/// A peak must also stand this far (dB) above its bin's noise floor: line noise then gives
/// few landmarks, which would otherwise crowd the stream with hashes no reference has.
const ABOVE_FLOOR_DB: f32 = 12.0;
/// The noise floor per bin follows the spectrum down quickly and up slowly (a time constant
/// of 200 frames, 4 s, so a long utterance does not raise it to speech level); for the first
/// `FLOOR_SETTLE` frames it follows both ways quickly, so a stream that starts in noise
/// learns it at once.
const FLOOR_FALL: f32 = 0.1;
const FLOOR_RISE: f32 = 0.005;
const FLOOR_SETTLE: u32 = 10;
const FLOOR_SETTLE_RATE: f32 = 0.3;
/// Pairs: the second peak 1 to 32 columns (20–640 ms) after the first, within ±31 bins (±970
/// Hz); each peak pairs with at most `FAN_OUT` earlier ones, nearest in time first.
pub const MAX_DT: u32 = 32;
/// Bits of a hash that hold Δt − 1 (its lowest; `MAX_DT` − 1 fits).
const DT_BITS: u32 = 5;
/// Bits above them that hold Δf + `MAX_DF` (up to 2 · 31).
const DF_BITS: u32 = 6;
const MAX_DF: i32 = 31;
const FAN_OUT: usize = 8;
/// Recent peaks kept for pairing: `MAX_DT` columns' worth at most.
const PEAK_HISTORY: usize = (MAX_DT as usize + 1) * MAX_PEAKS;
/// Hash layout: 7 bits of f1 (bin − LOW_BIN), [`DF_BITS`] of f2 − f1 + 31, [`DT_BITS`] of Δt − 1.
pub const HASH_BITS: u32 = 7 + DF_BITS + DT_BITS;

/// Most hashes one [`Landmarks::push`] can give: every peak of a column times its fan-out.
pub const MAX_PER_PUSH: usize = MAX_PEAKS * FAN_OUT;

/// One landmark: a hash and the column (20 ms frame index) of its first peak.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Landmark {
    /// `HASH_BITS` bits of (f1, f2 − f1, Δt).
    pub hash: u32,
    /// The first peak's column.
    pub t: u32,
}

impl Landmark {
    /// The second peak's column: the landmark attests the audio from [`Landmark::t`] to here
    /// (Δt is the hash's low [`DT_BITS`], plus one).
    pub fn end(self) -> u32 {
        self.t + (self.hash & ((1 << DT_BITS) - 1)) + 1
    }
}

#[cfg(test)]
#[test]
fn db_of_is_within_a_twentieth_of_a_db() {
    for p in [1e-3f32, 0.7, 1.0, 3.0, 1234.5, 2.0e12, 4.4e12] {
        let exact = 10.0 * p.log10();
        assert!(
            (db_of(p) - exact).abs() < 0.05,
            "{p}: {} vs {exact}",
            db_of(p)
        );
    }
}

#[derive(Clone, Copy, Debug, Default)]
struct PeakAt {
    t: u32,
    bin: u8,
}

/// `10·log10(power)` to about 0.02 dB, from the float's exponent and a quadratic in its
/// mantissa: `log10` itself cost a third of a frame's work. References and streams use the same
/// approximation, so their peaks agree.
fn db_of(power: f32) -> f32 {
    let bits = power.to_bits();
    let exponent = ((bits >> 23) & 0xff) as f32 - 127.0;
    let m = f32::from_bits((bits & 0x007f_ffff) | 0x3f80_0000) - 1.0;
    // log2(1 + m) ≈ m·(1.3466 − 0.3466·m) on [0, 1): exact at both ends, error < 0.005.
    let log2 = exponent + m * (1.346_6 - 0.346_6 * m);
    log2 * (10.0 * std::f32::consts::LOG10_2)
}

/// The FFT plan, made once per process and shared by every stream.
fn plan() -> Arc<dyn RealToComplex<f32>> {
    static PLAN: OnceLock<Arc<dyn RealToComplex<f32>>> = OnceLock::new();
    PLAN.get_or_init(|| RealFftPlanner::<f32>::new().plan_fft_forward(WINDOW))
        .clone()
}

/// Incremental landmark extraction over one stream.
pub struct Landmarks {
    fft: Arc<dyn RealToComplex<f32>>,
    window: Vec<f32>,
    /// The last `WINDOW` samples, oldest first.
    samples: Vec<f32>,
    input: Vec<f32>,
    spectrum: Vec<Complex<f32>>,
    scratch: Vec<Complex<f32>>,
    /// Per ring slot: the column's dB values and their max over ±`PEAK_FREQ` bins.
    db: Vec<[f32; BINS]>,
    fmax: Vec<[f32; BINS]>,
    /// Per ring slot: the noise floor as it was when that column was computed.
    floor_at: Vec<[f32; BINS]>,
    /// The running noise floor per bin (dB).
    floor: [f32; BINS],
    /// Columns computed so far.
    columns: u32,
    /// Recent peaks, a ring of `PEAK_HISTORY`, `peak_count` ever written.
    peaks: Vec<PeakAt>,
    peak_count: usize,
}

impl std::fmt::Debug for Landmarks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Landmarks")
            .field("columns", &self.columns)
            .field("peaks", &self.peak_count)
            .finish_non_exhaustive()
    }
}

impl Default for Landmarks {
    fn default() -> Self {
        let fft = plan();
        let window = (0..WINDOW)
            .map(|i| {
                let x = std::f32::consts::PI * i as f32 / WINDOW as f32;
                x.sin() * x.sin()
            })
            .collect();
        Landmarks {
            input: fft.make_input_vec(),
            spectrum: fft.make_output_vec(),
            scratch: fft.make_scratch_vec(),
            fft,
            window,
            samples: vec![0.0; WINDOW],
            db: vec![[f32::MIN; BINS]; RING],
            fmax: vec![[f32::MIN; BINS]; RING],
            floor_at: vec![[FLOOR_DB; BINS]; RING],
            floor: [FLOOR_DB; BINS],
            columns: 0,
            peaks: vec![PeakAt::default(); PEAK_HISTORY],
            peak_count: 0,
        }
    }
}

impl Landmarks {
    /// Columns (frames) pushed so far.
    pub fn columns(&self) -> u32 {
        self.columns
    }

    /// The dB spectrum (bins 250–3500 Hz) of the last frame pushed ([`super::tail`] reads it,
    /// so the stream's one FFT serves both matchers).
    pub fn last_db(&self) -> &[f32; BINS] {
        &self.db[(self.columns as usize + RING - 1) % RING]
    }

    /// One more frame; the landmarks it completes are appended to `out` (at most
    /// [`MAX_PER_PUSH`]).
    pub fn push(&mut self, frame: &[i16; FRAME], out: &mut Vec<Landmark>) {
        self.samples.copy_within(FRAME.., 0);
        for (d, &s) in self.samples[WINDOW - FRAME..].iter_mut().zip(frame) {
            *d = f32::from(s);
        }
        let slot = self.columns as usize % RING;
        self.column_into(slot);
        self.columns += 1;
        // The column whose neighbourhood just became complete.
        if self.columns as usize > PEAK_TIME {
            let centre = self.columns - 1 - PEAK_TIME as u32;
            self.peaks_of(centre, out);
        }
    }

    /// The spectrum of the current window into ring slot `slot`.
    fn column_into(&mut self, slot: usize) {
        for ((x, &s), &w) in self.input.iter_mut().zip(&self.samples).zip(&self.window) {
            *x = s * w;
        }
        let db = &mut self.db[slot];
        // The buffers are the plan's own, so the FFT cannot fail on length; were it ever to,
        // the column is left silent (no peaks) rather than panicking.
        if self
            .fft
            .process_with_scratch(&mut self.input, &mut self.spectrum, &mut self.scratch)
            .is_err()
        {
            db.fill(f32::MIN);
        } else {
            for (d, c) in db.iter_mut().zip(&self.spectrum[LOW_BIN..=HIGH_BIN]) {
                *d = db_of(c.norm_sqr() + 1e-3);
            }
        }
        let (fall, rise) = if self.columns < FLOOR_SETTLE {
            (FLOOR_SETTLE_RATE, FLOOR_SETTLE_RATE)
        } else {
            (FLOOR_FALL, FLOOR_RISE)
        };
        for (n, &d) in self.floor.iter_mut().zip(db.iter()) {
            let rate = if d < *n { fall } else { rise };
            *n += rate * (d.max(0.0) - *n);
        }
        self.floor_at[slot] = self.floor;
        let fmax = &mut self.fmax[slot];
        for (f, m) in fmax.iter_mut().enumerate() {
            let lo = f.saturating_sub(PEAK_FREQ);
            let hi = (f + PEAK_FREQ).min(BINS - 1);
            *m = db[lo..=hi].iter().copied().fold(f32::MIN, f32::max);
        }
    }

    /// The peaks of column `centre` (its whole neighbourhood is in the ring), paired with
    /// earlier peaks into `out`.
    fn peaks_of(&mut self, centre: u32, out: &mut Vec<Landmark>) {
        let c = centre as usize % RING;
        let mut found = [(0u8, f32::MIN); MAX_PEAKS];
        let mut n = 0;
        for f in 0..BINS {
            let v = self.db[c][f];
            if v < FLOOR_DB || v < self.floor_at[c][f] + ABOVE_FLOOR_DB || v < self.fmax[c][f] {
                continue;
            }
            // The loudest over every column of the neighbourhood (ties go to the centre: a
            // steady tone's plateau still gives one peak per column, which pairs harmlessly).
            if (0..RING).any(|s| s != c && self.fmax[s][f] > v) {
                continue;
            }
            // Keep the MAX_PEAKS loudest.
            let (weakest, wv) =
                found.iter().enumerate().fold(
                    (0, f32::MAX),
                    |a, (i, p)| if p.1 < a.1 { (i, p.1) } else { a },
                );
            if n < MAX_PEAKS {
                found[n] = (f as u8, v);
                n += 1;
            } else if v > wv {
                found[weakest] = (f as u8, v);
            }
        }
        let found = &mut found[..n];
        found.sort_unstable_by_key(|p| p.0);
        for &(bin, _) in found.iter() {
            self.pair(centre, bin, out);
        }
        for &(bin, _) in found.iter() {
            self.peaks[self.peak_count % PEAK_HISTORY] = PeakAt { t: centre, bin };
            self.peak_count += 1;
        }
    }

    /// Hashes of the new peak `(t, bin)` with up to `FAN_OUT` earlier peaks in its target zone.
    fn pair(&self, t: u32, bin: u8, out: &mut Vec<Landmark>) {
        let mut made = 0;
        let kept = self.peak_count.min(PEAK_HISTORY);
        for back in 1..=kept {
            let p = self.peaks[(self.peak_count - back) % PEAK_HISTORY];
            let dt = t - p.t;
            if dt > MAX_DT {
                break;
            }
            let df = i32::from(bin) - i32::from(p.bin);
            if dt == 0 || df.abs() > MAX_DF {
                continue;
            }
            let hash = (u32::from(p.bin) << (DF_BITS + DT_BITS))
                | (((df + MAX_DF) as u32) << DT_BITS)
                | (dt - 1);
            out.push(Landmark { hash, t: p.t });
            made += 1;
            if made == FAN_OUT {
                break;
            }
        }
    }
}
