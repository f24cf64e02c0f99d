//! The intonation of a first utterance: how high its end goes against its own typical pitch.
//! Owns which frames are measured and the summary; the pitch of one frame is
//! [`super::pitch`]'s, and what the summary means is [`super::amd`]'s rule.
//!
//! Why the end: a person answering asks ("喂?", "你好,哪位?", "…请问哪位?", "Hello?",
//! "who is calling please?"), and a question's last syllable rises or is pitched high; a
//! recorded greeting is read, and read sentences end low or level ("…请留言。", "…after
//! the tone."). The measure is the highest pitch of the utterance's last
//! [`TAIL_FRAMES`] voiced frames (a 3-frame median first, so one octave slip is not a rise)
//! less the median pitch of the whole utterance, in semitones: a rise reads positive whatever
//! the voice's register.
//!
//! A second summary, [`Intonation::final_fall`], reads the utterance's declination: the median
//! pitch of its last third (of the sampled voiced frames) under the median of the whole. Read
//! statements drift down across the sentence and lower further at its end ("final lowering");
//! a person's question holds up or rises. It needs no per-frame work past the median's samples.
//!
//! Cost: pitch is estimated on every [`REFERENCE_STEP`]th speech frame for the median, and on
//! every speech frame only once the utterance is long enough for its end to be judged
//! ([`Intonation::push`]'s `dense`), so most calls never pay for it.

use super::pitch::PitchTracker;
use super::FRAME;

/// The end of an utterance: its last 300 ms.
pub const TAIL_FRAMES: u32 = 15;
/// Voiced frames the end and the whole must each have for a summary (fewer: noise or
/// whispering, and no opinion).
const MIN_VOICED: usize = 5;
/// Every how many speech frames the median is sampled.
const REFERENCE_STEP: u32 = 2;
/// Samples kept for the median: a 5 s utterance (`max_utterance`) at [`REFERENCE_STEP`] needs 125.
const REFERENCE_CAP: usize = 128;

/// Semitones of `hz` over 100 Hz.
fn semitones(hz: f32) -> f32 {
    12.0 * (hz / 100.0).log2()
}

/// The median of `v` (the mean of the middle two for an even count); `v` is reordered.
fn median(v: &mut [f32]) -> f32 {
    v.sort_unstable_by(f32::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// One utterance's pitch, gathered per frame.
#[derive(Clone, Debug)]
pub struct Intonation {
    tracker: PitchTracker,
    /// Sampled pitches of the utterance (semitones), for its median.
    reference: [f32; REFERENCE_CAP],
    references: usize,
    /// The last [`TAIL_FRAMES`] speech frames measured densely: (frame, semitones or NaN).
    tail: [(u32, f32); TAIL_FRAMES as usize],
    /// Where the next tail entry goes.
    next: usize,
    /// Speech frames seen.
    speech: u32,
}

impl Default for Intonation {
    fn default() -> Self {
        Intonation {
            tracker: PitchTracker::default(),
            reference: [0.0; REFERENCE_CAP],
            references: 0,
            tail: [(0, f32::NAN); TAIL_FRAMES as usize],
            next: 0,
            speech: 0,
        }
    }
}

impl Intonation {
    /// Frame number `now` (every frame, so the band stays continuous); `speech` whether it is
    /// speech of the utterance, `dense` whether the utterance is already long enough for this
    /// frame to be in a judged end.
    pub fn push(&mut self, frame: &[i16; FRAME], now: u32, speech: bool, dense: bool) {
        self.tracker.push(frame);
        if !speech {
            return;
        }
        self.speech += 1;
        let sampled = self.speech.is_multiple_of(REFERENCE_STEP);
        if !sampled && !dense {
            return;
        }
        let st = self.tracker.estimate().map_or(f32::NAN, semitones);
        if sampled && !st.is_nan() && self.references < REFERENCE_CAP {
            self.reference[self.references] = st;
            self.references += 1;
        }
        if dense {
            self.tail[self.next] = (now, st);
            self.next = (self.next + 1) % self.tail.len();
        }
    }

    /// How far (semitones, positive when lower) the median pitch of the last third of the
    /// utterance's sampled voiced frames sits under the median of all of them; `None` when the
    /// last third has fewer than [`MIN_VOICED`] samples, or the samples stopped before the end
    /// (an utterance past [`REFERENCE_CAP`] samples, 5 s or more).
    pub fn final_fall(&self) -> Option<f32> {
        let n = self.references;
        let third = n / 3;
        if third < MIN_VOICED || n == REFERENCE_CAP {
            return None;
        }
        let mut last = [0.0f32; REFERENCE_CAP];
        last[..third].copy_from_slice(&self.reference[n - third..n]);
        let end = median(&mut last[..third]);
        let mut all = self.reference;
        Some(median(&mut all[..n]) - end)
    }

    /// The rise of the utterance's end (its speech frames among the [`TAIL_FRAMES`] up to
    /// frame `last`, its last speech frame) over its median, semitones; `None` when either has
    /// too few voiced frames.
    pub fn final_rise(&self, last: u32) -> Option<f32> {
        let from = last.saturating_sub(TAIL_FRAMES);
        let mut tail = self.tail;
        tail.sort_unstable_by_key(|&(f, _)| f);
        let mut pitches = [0.0f32; TAIL_FRAMES as usize];
        let mut n = 0;
        for &(_, st) in tail
            .iter()
            .filter(|&&(f, st)| f > from && f <= last && !st.is_nan())
        {
            pitches[n] = st;
            n += 1;
        }
        if n < MIN_VOICED || self.references < MIN_VOICED {
            return None;
        }
        let pitches = &pitches[..n];
        let highest = (0..n)
            .map(|i| {
                let mut w = [0.0f32; 3];
                let around = &pitches[i.saturating_sub(1)..(i + 2).min(n)];
                w[..around.len()].copy_from_slice(around);
                median(&mut w[..around.len()])
            })
            .fold(f32::NEG_INFINITY, f32::max);
        let mut reference = self.reference;
        Some(highest - median(&mut reference[..self.references]))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A voiced frame at `hz` continuing `phase` (a sawtooth-ish sum of harmonics).
    pub(crate) fn frame(hz: f64, phase: &mut f64) -> [i16; FRAME] {
        std::array::from_fn(|_| {
            *phase += hz / 8000.0;
            let v: f64 = (1..=6)
                .map(|k| (2.0 * std::f64::consts::PI * f64::from(k) * *phase).sin() / f64::from(k))
                .sum();
            (v * 6000.0) as i16
        })
    }

    /// The final rise of an utterance whose pitch per frame is `contour` (Hz), all measured.
    fn rise(contour: &[f64]) -> Option<f32> {
        let mut i = Intonation::default();
        let mut phase = 0.0;
        for (n, &hz) in contour.iter().enumerate() {
            i.push(&frame(hz, &mut phase), n as u32 + 1, true, true);
        }
        i.final_rise(contour.len() as u32)
    }

    #[test]
    fn a_question_rises_and_a_statement_falls() {
        let mut question = vec![150.0; 80];
        question.extend((0..15).map(|k| 150.0 * 2f64.powf(f64::from(k) / 24.0)));
        let r = rise(&question).unwrap();
        // The last frames reach 150 Hz · 2^(14/24): 7 semitones over the median.
        assert!((5.5..7.5).contains(&r), "{r}");
        let mut statement = vec![150.0; 80];
        statement.extend((0..15).map(|k| 150.0 * 2f64.powf(-f64::from(k) / 24.0)));
        let r = rise(&statement).unwrap();
        assert!(r.abs() < 0.5, "{r}");
    }

    /// The fall of an utterance whose pitch per frame is `contour` (Hz), sampled as the AMD
    /// samples it (every other speech frame).
    fn fall(contour: &[f64]) -> Option<f32> {
        let mut i = Intonation::default();
        let mut phase = 0.0;
        for (n, &hz) in contour.iter().enumerate() {
            i.push(&frame(hz, &mut phase), n as u32 + 1, true, false);
        }
        i.final_fall()
    }

    #[test]
    fn a_declining_sentence_falls_and_a_level_or_rising_one_does_not() {
        // 1.6 s from 180 Hz down 4 semitones, evenly: the last third's median is about
        // 2/3 of the way down, its whole median half way: a fall of about 1.3 semitones.
        let decline: Vec<f64> = (0..80)
            .map(|k| 180.0 * 2f64.powf(-4.0 * f64::from(k) / 79.0 / 12.0))
            .collect();
        let f = fall(&decline).unwrap();
        assert!((1.0..1.7).contains(&f), "{f}");
        let f = fall(&[150.0; 80]).unwrap();
        assert!(f.abs() < 0.2, "{f}");
        let mut question = vec![150.0; 60];
        question.extend((0..20).map(|k| 150.0 * 2f64.powf(f64::from(k) / 24.0)));
        assert!(fall(&question).unwrap() < 0.0);
        // Too few voiced samples for a third: no opinion.
        assert_eq!(fall(&[150.0; 20]), None);
    }

    #[test]
    fn a_one_frame_slip_to_the_octave_is_not_a_rise() {
        let mut contour = vec![120.0; 90];
        contour[85] = 240.0;
        let r = rise(&contour).unwrap();
        assert!(r.abs() < 0.5, "{r}");
    }

    #[test]
    fn an_unvoiced_end_gives_no_opinion() {
        let mut i = Intonation::default();
        let mut phase = 0.0;
        for n in 1..=60 {
            i.push(&frame(150.0, &mut phase), n, true, true);
        }
        for n in 61..=80 {
            i.push(&[0; FRAME], n, true, true);
        }
        assert_eq!(i.final_rise(80), None);
    }
}
