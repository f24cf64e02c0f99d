//! Voice activity: speech or not, per 20 ms frame, from the frame's level against a tracked
//! noise floor. Owns the level measure and the floor; knows nothing of words or verdicts
//! ([`super::amd`] reads its output).
//!
//! Why not a neural detector such as `earshot`: it wants 16 kHz audio in 16 ms frames, so every
//! 20 ms frame of 8 kHz would be resampled and re-cut, and its published speed (a real-time
//! factor of about 0.0003) alone is over this analysis' whole budget (1,500 concurrent calls in
//! 0.3 of a core: 0.0002 of a core each, tones and fingerprints included). What AMD needs is
//! the cadence of speech and pause on a telephone line, which a level against the line's own
//! floor gives for a sum of squares and a logarithm per frame.
//!
//! The floor is the quietest frame of the last few seconds (minimum statistics, tracked in
//! blocks of [`BLOCK_FRAMES`] so the cost is constant): stationary line noise at any level is
//! its own floor and never speech, the gain of the line (−30..0 dBFS) moves speech and floor
//! together, and the pauses between a greeting's sentences keep the floor down while it talks.

use super::FRAME;

/// Frames per block of the floor's history (200 ms).
pub const BLOCK_FRAMES: u32 = 10;
/// Blocks of history the floor is the minimum of (3 s): longer than the loud stretches of a
/// greeting, shorter than a change of line.
pub const BLOCKS: usize = 15;
/// The level given to digital silence, dBFS.
pub const SILENT_DBFS: f64 = -100.0;

/// Voice activity over one stream of frames.
#[derive(Clone, Debug)]
pub struct Vad {
    above_floor_db: f64,
    min_speech_dbfs: f64,
    /// The quietest level of each full block, a ring of [`BLOCKS`].
    block_mins: [f64; BLOCKS],
    /// How many entries of `block_mins` hold a block (until the ring has filled).
    filled: usize,
    /// Where the next full block goes in the ring.
    next: usize,
    /// The quietest level of the block being filled.
    current_min: f64,
    frames_in_block: u32,
    level_db: f64,
    floor_db: f64,
    /// The last three samples of the previous frame, for the low-pass across frames.
    tail: [i16; 3],
}

impl Vad {
    /// A detector at the start of a stream: a frame is speech when it is `above_floor_db` over
    /// the floor and at least `min_speech_dbfs`.
    pub fn new(above_floor_db: f64, min_speech_dbfs: f64) -> Self {
        Vad {
            above_floor_db,
            min_speech_dbfs,
            block_mins: [SILENT_DBFS; BLOCKS],
            filled: 0,
            next: 0,
            current_min: f64::INFINITY,
            frames_in_block: 0,
            level_db: SILENT_DBFS,
            floor_db: SILENT_DBFS,
            tail: [0; 3],
        }
    }

    /// 20 ms more audio: whether it is speech.
    pub fn push(&mut self, frame: &[i16; FRAME]) -> bool {
        let level = voice_band_dbfs(frame, &mut self.tail);
        self.level_db = level;
        self.current_min = self.current_min.min(level);
        self.frames_in_block += 1;
        let floor = self.block_mins[..self.filled]
            .iter()
            .fold(self.current_min, |m, &b| m.min(b));
        self.floor_db = floor;
        if self.frames_in_block == BLOCK_FRAMES {
            self.block_mins[self.next] = self.current_min;
            self.next = (self.next + 1) % BLOCKS;
            self.filled = (self.filled + 1).min(BLOCKS);
            self.current_min = f64::INFINITY;
            self.frames_in_block = 0;
        }
        level >= self.min_speech_dbfs && level >= floor + self.above_floor_db
    }

    /// The last frame's level, dBFS (RMS; a full-scale square wave is 0).
    pub fn level_db(&self) -> f64 {
        self.level_db
    }

    /// The noise floor the last frame was judged against, dBFS.
    pub fn floor_db(&self) -> f64 {
        self.floor_db
    }
}

/// The level of a frame in the voice band, dBFS: the RMS of a 4-sample moving average (0 dB
/// at DC, nulls at 2 and 4 kHz), which keeps voiced speech (its power is under 1 kHz) and
/// halves flat line noise's (−6 dB), so speech stands further above the floor. `tail` carries
/// the last three samples from one frame to the next.
pub fn voice_band_dbfs(frame: &[i16; FRAME], tail: &mut [i16; 3]) -> f64 {
    let [mut a, mut b, mut c] = tail.map(i32::from);
    let mut energy: i64 = 0;
    for &s in frame {
        let d = i32::from(s);
        // Four times the average: the division goes into the scale below.
        let sum = i64::from(a + b + c + d);
        energy += sum * sum;
        (a, b, c) = (b, c, d);
    }
    *tail = [a, b, c].map(|v| v as i16);
    if energy == 0 {
        return SILENT_DBFS;
    }
    let mean = energy as f64 / (16.0 * FRAME as f64 * 32768.0 * 32768.0);
    (10.0 * mean.log10()).max(SILENT_DBFS)
}

/// The RMS level of a frame in dBFS, [`SILENT_DBFS`] for digital silence.
pub fn level_dbfs(frame: &[i16; FRAME]) -> f64 {
    let energy: i64 = frame.iter().map(|&s| i64::from(s) * i64::from(s)).sum();
    if energy == 0 {
        return SILENT_DBFS;
    }
    let mean = energy as f64 / (FRAME as f64 * 32768.0 * 32768.0);
    (10.0 * mean.log10()).max(SILENT_DBFS)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// A crude voiced sound: a 150 Hz pulse train through a resonance, syllables of `on` ms
    /// separated by `off` ms, at `dbfs` (peak-ish).
    pub(crate) fn syllables(ms: u32, on: u32, off: u32, dbfs: f64) -> Vec<i16> {
        let amp = 32767.0 * 10f64.powf(dbfs / 20.0);
        let n = (ms * 8) as usize;
        (0..n)
            .map(|i| {
                let t_ms = (i / 8) as u32;
                if t_ms % (on + off) >= on {
                    return 0;
                }
                let t = i as f64 / 8000.0;
                let v = (2.0 * std::f64::consts::PI * 150.0 * t).sin() * 0.5
                    + (2.0 * std::f64::consts::PI * 700.0 * t).sin() * 0.3
                    + (2.0 * std::f64::consts::PI * 1200.0 * t).sin() * 0.2;
                (v * amp) as i16
            })
            .collect()
    }

    /// White noise at about `dbfs` RMS.
    pub(crate) fn noise(ms: u32, dbfs: f64, seed: u64) -> Vec<i16> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        // Uniform in ±a has RMS a/√3.
        let a = 32767.0 * 10f64.powf(dbfs / 20.0) * 3f64.sqrt();
        (0..ms * 8).map(|_| (rng.gen_range(-a..a)) as i16).collect()
    }

    pub(crate) fn mix(a: &[i16], b: &[i16]) -> Vec<i16> {
        let n = a.len().max(b.len());
        (0..n)
            .map(|i| {
                let s = i32::from(*a.get(i).unwrap_or(&0)) + i32::from(*b.get(i).unwrap_or(&0));
                s.clamp(-32768, 32767) as i16
            })
            .collect()
    }

    fn speech_frames(samples: &[i16]) -> Vec<bool> {
        let mut vad = Vad::new(9.0, -60.0);
        samples
            .chunks_exact(FRAME)
            .map(|c| vad.push(c.try_into().unwrap()))
            .collect()
    }

    #[test]
    fn level_of_full_scale_and_silence() {
        assert_eq!(level_dbfs(&[0; FRAME]), SILENT_DBFS);
        let square: [i16; FRAME] = std::array::from_fn(|i| if i % 2 == 0 { 32767 } else { -32767 });
        assert!(level_dbfs(&square).abs() < 0.01);
    }

    #[test]
    fn steady_line_noise_at_any_level_is_never_speech() {
        for (i, db) in [-70.0, -50.0, -35.0, -20.0].into_iter().enumerate() {
            let frames = speech_frames(&noise(5000, db, i as u64));
            let n = frames.iter().filter(|&&s| s).count();
            assert_eq!(n, 0, "noise at {db} dBFS: {n} speech frames");
        }
    }

    #[test]
    fn speech_after_silence_or_in_noise_is_found_at_any_gain() {
        for gain in [0.0, -15.0, -30.0] {
            for noise_db in [None, Some(gain - 25.0)] {
                // 1 s of line, then 1 s of syllables (200 ms on, 60 ms off).
                let mut talk = vec![0i16; 8000];
                talk.extend(syllables(1000, 200, 60, gain - 6.0));
                let audio = match noise_db {
                    Some(db) => mix(&talk, &noise(2000, db, 7)),
                    None => talk,
                };
                let frames = speech_frames(&audio);
                let before = frames[..50].iter().filter(|&&s| s).count();
                let during = frames[50..].iter().filter(|&&s| s).count();
                assert_eq!(before, 0, "gain {gain}, noise {noise_db:?}");
                // 200 of every 260 ms is voiced: about 38 of 50 frames.
                assert!(during >= 34, "gain {gain}, noise {noise_db:?}: {during}/50");
            }
        }
    }
}
