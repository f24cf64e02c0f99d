//! One frame's strongest tone: its frequency (to about a hertz) and the share of the frame's
//! energy it holds. Owns the per-frame spectrum only; knows nothing of tone patterns.
//!
//! Why a windowed FFT rather than a bank of Goertzel filters: a 20 ms Goertzel filter's main
//! lobe is 100 Hz wide, while the SIT's two second-segment frequencies (1370.6 and 1428.5 Hz)
//! are only 16 Hz apart once each is allowed its ±1.5 %. A Hann-windowed 160-point real FFT
//! (81 bins, 50 Hz apart) costs about as much as ten Goertzel filters, and interpolating its
//! peak from the two neighbouring bins (Grandke's ratio, exact for a pure tone under a Hann
//! window) measures the frequency to within a hertz or two at 20 dB SNR. The same frame then
//! answers every detector: SIT, fax and beep, whatever their frequency.

use std::sync::{Arc, OnceLock};

use realfft::num_complex::Complex;
use realfft::{RealFftPlanner, RealToComplex};

use crate::cpa::FRAME;

/// Hertz between FFT bins: 8000 Hz over 160 samples.
const BIN_HZ: f32 = 8000.0 / FRAME as f32;
/// Lowest and highest bins searched for a peak (300 and 3400 Hz: the telephone band).
const LOW_BIN: usize = 6;
const HIGH_BIN: usize = 68;
/// Bins either side of the peak counted as the tone's own (a Hann window's main lobe is ±2).
const LOBE: usize = 2;
/// Quieter frames (RMS, after removing DC) hold no tone worth measuring: about −47 dBFS, well
/// under the −30 dBFS quietest tone the detectors must hear.
const MIN_RMS: f32 = 100.0;

/// The strongest tone in one frame.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Peak {
    /// Its frequency, interpolated between bins.
    pub freq_hz: f32,
    /// The share of the frame's energy (DC removed) within its main lobe: near 1 for a pure
    /// tone, even under 20 dB of noise; well under 0.8 for speech, chords, DTMF pairs.
    pub share: f32,
}

/// The FFT plan, made once per process and shared by every stream (planning costs far more
/// than a transform).
fn plan() -> Arc<dyn RealToComplex<f32>> {
    static PLAN: OnceLock<Arc<dyn RealToComplex<f32>>> = OnceLock::new();
    PLAN.get_or_init(|| RealFftPlanner::<f32>::new().plan_fft_forward(FRAME))
        .clone()
}

/// Reusable buffers for one stream: nothing is allocated per frame.
pub struct PeakFinder {
    fft: Arc<dyn RealToComplex<f32>>,
    window: Vec<f32>,
    input: Vec<f32>,
    spectrum: Vec<Complex<f32>>,
    scratch: Vec<Complex<f32>>,
    power: Vec<f32>,
}

impl std::fmt::Debug for PeakFinder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeakFinder").finish_non_exhaustive()
    }
}

impl Default for PeakFinder {
    fn default() -> Self {
        let fft = plan();
        // Periodic Hann: its spectrum's neighbouring-bin ratio gives Grandke's estimate.
        let window = (0..FRAME)
            .map(|i| {
                let x = std::f32::consts::PI * i as f32 / FRAME as f32;
                x.sin() * x.sin()
            })
            .collect();
        PeakFinder {
            input: fft.make_input_vec(),
            spectrum: fft.make_output_vec(),
            scratch: fft.make_scratch_vec(),
            power: vec![0.0; FRAME / 2 + 1],
            window,
            fft,
        }
    }
}

impl PeakFinder {
    /// The strongest tone of `frame`, or `None` when the frame is too quiet to measure.
    pub fn analyse(&mut self, frame: &[i16; FRAME]) -> Option<Peak> {
        let mean = frame.iter().map(|&s| f32::from(s)).sum::<f32>() / FRAME as f32;
        let mut energy = 0.0;
        for ((x, &s), w) in self.input.iter_mut().zip(frame).zip(&self.window) {
            let v = f32::from(s) - mean;
            energy += v * v;
            *x = v * w;
        }
        if energy < MIN_RMS * MIN_RMS * FRAME as f32 {
            return None;
        }
        // The lengths are the plan's own (made from it above), so this cannot fail; if it ever
        // did, the frame is reported as holding no tone rather than panicking.
        self.fft
            .process_with_scratch(&mut self.input, &mut self.spectrum, &mut self.scratch)
            .ok()?;
        for (p, c) in self.power.iter_mut().zip(&self.spectrum) {
            *p = c.norm_sqr();
        }
        let total: f32 = self.power[1..].iter().sum();
        let (k, _) = self.power[LOW_BIN..=HIGH_BIN].iter().enumerate().fold(
            (0, f32::MIN),
            |best, (i, &p)| if p > best.1 { (i, p) } else { best },
        );
        let k = k + LOW_BIN;
        let lobe: f32 = self.power[k - LOBE..=k + LOBE].iter().sum();
        let share = if total > 0.0 { lobe / total } else { 0.0 };
        // Grandke: with a Hann window, the ratio α of the larger neighbour's magnitude to the
        // peak's gives the offset (2α − 1)/(α + 1) bins toward that neighbour.
        let mag = |i: usize| self.power[i].sqrt();
        let (left, mid, right) = (mag(k - 1), mag(k), mag(k + 1));
        let delta = if mid <= 0.0 {
            0.0
        } else if right >= left {
            let a = right / mid;
            (2.0 * a - 1.0) / (a + 1.0)
        } else {
            let a = left / mid;
            -(2.0 * a - 1.0) / (a + 1.0)
        };
        Some(Peak {
            freq_hz: (k as f32 + delta.clamp(-1.0, 1.0)) * BIN_HZ,
            share,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(freq: f64, amp: f64) -> [i16; FRAME] {
        std::array::from_fn(|i| {
            (amp * (2.0 * std::f64::consts::PI * freq * i as f64 / 8000.0 + 0.3).sin()) as i16
        })
    }

    #[test]
    fn a_pure_tone_is_measured_within_two_hertz() {
        let mut p = PeakFinder::default();
        for f in [
            450.0, 913.8, 985.2, 1100.0, 1370.6, 1399.0, 1428.5, 1776.7, 2100.0,
        ] {
            let peak = p.analyse(&frame(f, 1000.0)).expect("loud enough");
            assert!((f64::from(peak.freq_hz) - f).abs() < 2.0, "{f}: {peak:?}");
            assert!(peak.share > 0.97, "{f}: {peak:?}");
        }
    }

    #[test]
    fn silence_and_two_tones_are_not_one_tone() {
        let mut p = PeakFinder::default();
        assert_eq!(p.analyse(&[0; FRAME]), None);
        let a = frame(697.0, 4000.0);
        let b = frame(1209.0, 4000.0);
        let pair: [i16; FRAME] = std::array::from_fn(|i| a[i] + b[i]);
        let peak = p.analyse(&pair).expect("loud");
        assert!(peak.share < 0.6, "{peak:?}");
    }
}
