//! DTMF: RFC 4733 telephone-event payloads and an in-band (two-tone) Goertzel detector, each
//! reporting a key once per press. Pure state machines over payloads and 8 kHz samples; know
//! nothing of legs, sockets or time.

/// The key an RFC 4733 event code stands for (0–15), `None` for other events.
pub fn event_digit(event: u8) -> Option<char> {
    const KEYS: &[u8; 16] = b"0123456789*#ABCD";
    KEYS.get(usize::from(event)).map(|&b| char::from(b))
}

/// RFC 4733 receiver state: one report per event, however often its packets repeat (the
/// updates while the key is held and the triple end packet share the event's timestamp).
#[derive(Debug, Default)]
pub struct EventReceiver {
    last: Option<(u32, u32)>,
}

impl EventReceiver {
    /// A telephone-event payload with RTP `ssrc` and `ts`: the digit when it starts a new
    /// press, `None` for repeats, unknown events or a payload too short (RFC 4733 §2.3: 4 bytes).
    pub fn on_packet(&mut self, ssrc: u32, ts: u32, payload: &[u8]) -> Option<char> {
        let event = *payload.first()?;
        if payload.len() < 4 {
            return None;
        }
        if self.last == Some((ssrc, ts)) {
            return None;
        }
        self.last = Some((ssrc, ts));
        event_digit(event)
    }
}

const ROWS: [f64; 4] = [697.0, 770.0, 852.0, 941.0];
const COLS: [f64; 4] = [1209.0, 1336.0, 1477.0, 1633.0];
const KEYPAD: [[char; 4]; 4] = [
    ['1', '2', '3', 'A'],
    ['4', '5', '6', 'B'],
    ['7', '8', '9', 'C'],
    ['*', '0', '#', 'D'],
];
/// Samples per analysis block: 20 ms, one packet of G.711 at ptime 20.
const BLOCK: usize = 160;
/// Blocks a key must be seen in a row before it counts (40 ms, the ITU Q.24 minimum).
const ON_BLOCKS: u8 = 2;
/// Blocks without it before the next press can count (debounces a short dropout).
const OFF_BLOCKS: u8 = 2;

fn coefficients(freqs: &[f64; 4]) -> [f64; 4] {
    freqs.map(|f| 2.0 * (2.0 * std::f64::consts::PI * f / 8000.0).cos())
}

/// Goertzel power of `x` at the frequency whose coefficient is `coeff`.
fn goertzel(x: &[f64], coeff: f64) -> f64 {
    let (mut s1, mut s2) = (0.0, 0.0);
    for &v in x {
        let s = v + coeff * s1 - s2;
        s2 = s1;
        s1 = s;
    }
    s1 * s1 + s2 * s2 - coeff * s1 * s2
}

/// In-band DTMF detector: feed decoded audio, get each key once per press.
#[derive(Debug)]
pub struct ToneDetector {
    block: Vec<f64>,
    row_c: [f64; 4],
    col_c: [f64; 4],
    candidate: Option<char>,
    seen: u8,
    reported: Option<char>,
    absent: u8,
}

impl Default for ToneDetector {
    fn default() -> Self {
        ToneDetector {
            block: Vec::with_capacity(BLOCK),
            row_c: coefficients(&ROWS),
            col_c: coefficients(&COLS),
            candidate: None,
            seen: 0,
            reported: None,
            absent: OFF_BLOCKS,
        }
    }
}

impl ToneDetector {
    /// Feed samples; returns a key when a press is recognised (at most one per call at
    /// ptime 20, as a call carries one block).
    pub fn push(&mut self, pcm: &[i16]) -> Option<char> {
        let mut found = None;
        for &s in pcm {
            self.block.push(f64::from(s));
            if self.block.len() == BLOCK {
                let key = self.classify();
                self.block.clear();
                if let Some(k) = self.step(key) {
                    found = Some(k);
                }
            }
        }
        found
    }

    /// The key in the current block, if it holds a clean DTMF pair.
    fn classify(&self) -> Option<char> {
        let energy: f64 = self.block.iter().map(|v| v * v).sum();
        // −40 dBFS or so: quieter is line noise.
        if energy < (BLOCK as f64) * 300.0 * 300.0 / 2.0 {
            return None;
        }
        // A pure tone of amplitude A gives Goertzel power (A·N/2)² and energy N·A²/2, so the
        // share of the block's energy in that tone is 2·P / (N·E).
        let share = |p: f64| 2.0 * p / (BLOCK as f64 * energy);
        let rows = self.row_c.map(|c| share(goertzel(&self.block, c)));
        let cols = self.col_c.map(|c| share(goertzel(&self.block, c)));
        let (ri, r) = best(&rows);
        let (ci, c) = best(&cols);
        // Both tones present, together nearly all the energy (speech and noise spread it),
        // twist within ~8 dB, and each clearly above its group's runner-up.
        let clean = r + c > 0.7
            && r > c / 6.3
            && c > r / 6.3
            && second(&rows, ri) < r / 6.3
            && second(&cols, ci) < c / 6.3;
        clean.then(|| KEYPAD[ri][ci])
    }

    fn step(&mut self, key: Option<char>) -> Option<char> {
        match key {
            Some(k) => {
                self.absent = 0;
                if self.candidate == Some(k) {
                    self.seen = self.seen.saturating_add(1);
                } else {
                    self.candidate = Some(k);
                    self.seen = 1;
                }
                if self.seen >= ON_BLOCKS && self.reported != Some(k) {
                    self.reported = Some(k);
                    return Some(k);
                }
                None
            }
            None => {
                self.candidate = None;
                self.seen = 0;
                self.absent = self.absent.saturating_add(1);
                if self.absent >= OFF_BLOCKS {
                    self.reported = None;
                }
                None
            }
        }
    }
}

fn best(v: &[f64; 4]) -> (usize, f64) {
    v.iter().copied().enumerate().fold(
        (0, f64::MIN),
        |acc, (i, x)| if x > acc.1 { (i, x) } else { acc },
    )
}

fn second(v: &[f64; 4], skip: usize) -> f64 {
    v.iter()
        .enumerate()
        .filter(|(i, _)| *i != skip)
        .map(|(_, &x)| x)
        .fold(0.0, f64::max)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn dtmf(row: f64, col: f64, ms: usize) -> Vec<i16> {
        (0..ms * 8)
            .map(|i| {
                let t = i as f64 / 8000.0;
                let v = (2.0 * std::f64::consts::PI * row * t).sin()
                    + (2.0 * std::f64::consts::PI * col * t).sin();
                (v * 6000.0) as i16
            })
            .collect()
    }

    fn detect(detector: &mut ToneDetector, pcm: &[i16]) -> Vec<char> {
        pcm.chunks(160).filter_map(|c| detector.push(c)).collect()
    }

    #[test]
    fn rfc4733_reports_once_per_press() {
        let mut r = EventReceiver::default();
        let held = [9u8, 0x0a, 0, 160];
        let end = [9u8, 0x8a, 3, 32];
        assert_eq!(r.on_packet(1, 1000, &held), Some('9'));
        assert_eq!(r.on_packet(1, 1000, &held), None);
        for _ in 0..3 {
            assert_eq!(r.on_packet(1, 1000, &end), None);
        }
        // The same key again is a new press: a new timestamp.
        assert_eq!(r.on_packet(1, 5000, &held), Some('9'));
        assert_eq!(r.on_packet(1, 6000, &[11, 0, 0, 0]), Some('#'));
        assert_eq!(r.on_packet(1, 7000, &[200, 0, 0, 0]), None);
        assert_eq!(r.on_packet(1, 8000, &[1, 0]), None);
    }

    #[test]
    fn inband_nine_is_detected_once_per_press() {
        let mut d = ToneDetector::default();
        let mut pcm = dtmf(852.0, 1477.0, 100);
        pcm.extend(std::iter::repeat_n(0, 800));
        pcm.extend(dtmf(852.0, 1477.0, 100));
        assert_eq!(detect(&mut d, &pcm), vec!['9', '9']);
        let mut d = ToneDetector::default();
        assert_eq!(detect(&mut d, &dtmf(941.0, 1336.0, 60)), vec!['0']);
    }

    #[test]
    fn speech_like_sound_and_noise_are_not_keys() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        // Vowel-like: a 120 Hz glottal pulse's harmonics shaped by formants at 700 and 1220 Hz
        // (close to the '1'/'2' pairs), amplitude-modulated at a syllable rate, plus noise.
        let speech: Vec<i16> = (0..8000 * 3)
            .map(|i| {
                let t = i as f64 / 8000.0;
                let f0 = 120.0 + 15.0 * (2.0 * std::f64::consts::PI * 3.0 * t).sin();
                let mut v = 0.0;
                for h in 1..30 {
                    let f = f0 * h as f64;
                    let formant = (-((f - 700.0) / 120.0).powi(2)).exp()
                        + 0.7 * (-((f - 1220.0) / 150.0).powi(2)).exp()
                        + 0.1;
                    v += formant * (2.0 * std::f64::consts::PI * f * t).sin();
                }
                let env = 0.5 + 0.5 * (2.0 * std::f64::consts::PI * 4.0 * t).sin().abs();
                (v * 3000.0 * env + rng.gen_range(-500.0..500.0)) as i16
            })
            .collect();
        let mut d = ToneDetector::default();
        assert_eq!(detect(&mut d, &speech), Vec::<char>::new());
        let noise: Vec<i16> = (0..8000 * 3).map(|_| rng.gen_range(-8000..8000)).collect();
        let mut d = ToneDetector::default();
        assert_eq!(detect(&mut d, &noise), Vec::<char>::new());
    }
}
