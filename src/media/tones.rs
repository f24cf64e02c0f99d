//! Synthesised prompts: the tone that tells an agent a customer is connected. Pure arithmetic
//! producing [`Prompt`]s; plays nothing itself.

use std::sync::Arc;

use super::io::Prompt;

/// `ms` milliseconds at 8 kHz of the sum of `freqs` (Hz), each at `amplitude`, with 5 ms
/// ramps at both ends so the tone starts and stops without a click.
pub fn tone(freqs: &[f64], ms: u32, amplitude: i16) -> Prompt {
    let n = (ms as usize) * 8;
    let ramp = 40usize.min(n / 2).max(1);
    let samples: Vec<i16> = (0..n)
        .map(|i| {
            let t = i as f64 / 8000.0;
            let v: f64 = freqs
                .iter()
                .map(|f| (2.0 * std::f64::consts::PI * f * t).sin())
                .sum::<f64>()
                * f64::from(amplitude);
            let edge = i.min(n - 1 - i);
            let gain = if edge < ramp {
                edge as f64 / ramp as f64
            } else {
                1.0
            };
            (v * gain).clamp(-32768.0, 32767.0) as i16
        })
        .collect();
    Prompt(Arc::from(samples))
}

/// The connect tone played to an agent when a customer is bridged in: 400 ms of 440 + 480 Hz
/// at about −16 dBFS each.
pub fn connect_tone() -> Prompt {
    tone(&[440.0, 480.0], 400, 5000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_tone_is_400_ms_and_audible() {
        let p = connect_tone();
        assert_eq!(p.0.len(), 3200);
        let peak = p.0.iter().map(|s| s.unsigned_abs()).max().unwrap_or(0);
        assert!(peak > 5000, "peak {peak}");
        assert_eq!(p.0[0], 0);
    }
}
