//! A looped announcement recognised from its tail: a call that joins a carrier's message in its
//! last words hears a few hundred ms of speech, then the loop's pause. Too few landmarks for
//! [`super::Matcher`]'s vote rules, and to the AMD a person's "喂?" then a wait. But the tail's
//! alignment is known: it ends where a sounding run of the reference ends. So when an utterance
//! of the stream ends (speech, then [`DECIDE_PAUSE_FRAMES`] of silence), its band spectra (from its
//! start, up to [`MAX_FRAMES`]) are compared frame by frame with the frames before each run end
//! of each announcement (its final end and the ends of its phrases followed by a pause), the
//! two ends aligned within ±[`SLOP_FRAMES`]. Content must then agree frame by frame: a person's
//! word scores far below a real tail, where landmark counts did not separate them.
//!
//! The measure: per frame, the landmark FFT's dB per bin (250–3500 Hz) averaged into [`BANDS`]
//! bands, each clamped to [`RANGE_DB`] under the frame's loudest band (line noise in quiet
//! bands then weighs little), and the frame's mean removed (the line's gain). The score is the
//! cosine of the two aligned sequences of such vectors (a frame before the reference's start
//! counts as silence on its side): 1 for the same audio, near 0 for unrelated audio.
//!
//! The rule: the best reference's score at least [`MIN_SCORE`] recognises an announcement; the
//! name too when it leads every other reference's best by [`NAME_MARGIN`] (two messages ending
//! in the same words, 请稍后再拨, give the class only, and the landmark matcher names it later).
//! Only announcements have tails here: a voicemail system plays its prompt from its start once
//! it answers, so a call never joins one in its last words.
//!
//! Owns the references' tail spectra (built once with the [`super::Library`]) and one stream's
//! short ring of band vectors and speech runs ([`TailMatcher`]); the comparison runs only at an
//! utterance's end. No I/O.

use super::landmarks::{Landmarks, BINS};
use crate::cpa::vad::{level_dbfs, Vad, SILENT_DBFS};
use crate::cpa::{frames_of, FRAME};

/// Bands per frame: the 105 bins of the landmark FFT in groups of 5 (156 Hz each).
pub const BANDS: usize = 21;
const BINS_PER_BAND: usize = BINS / BANDS;
/// Dynamic range kept per frame (dB under its loudest band).
pub const RANGE_DB: f32 = 30.0;
/// Silence that ends an utterance (a shorter one is a break inside it): 120 ms.
pub const CONFIRM_FRAMES: u32 = 6;
/// Silence after an utterance before it is compared: 300 ms. A tail is followed by the loop's
/// pause (over 1 s), while a greeting or a coloured ringback's speech goes on after a breath
/// (on the generated corpus, Cantonese greetings whose phrases scored up to 0.785 were
/// compared at 120 ms); and it is still before the AMD's 450 ms pause rule calls a short
/// utterance a person.
pub const DECIDE_PAUSE_FRAMES: u32 = 15;
/// Longest utterance compared (1.5 s): a tail heard within the 1.5 s is at most that
/// long, and a longer part of a message gives the landmark matcher its votes.
pub const MAX_FRAMES: u32 = 75;
/// Latest start of an utterance compared (3 s into the stream): a call that joins a message in
/// its last words hears them first (after a ringback burst at most, in early media).
pub const LATEST_START_FRAMES: u32 = 150;
/// Shortest utterance compared (100 ms): shorter ones are too little to tell from a click.
pub const MIN_FRAMES: u32 = 5;
/// The utterance's end may fall this many frames either side of the reference run's end (the
/// line's noise moves where the voice detector hears a word end).
pub const SLOP_FRAMES: i32 = 5;
/// Score that recognises a tail (see the module doc for the measure). On the generated full
/// corpus (seeds 18 and 7) every other file's best stayed at or under 0.604 (people 0.599),
/// and tails of 200 ms or more 0.766 or more (100–140 ms ones 0.37–0.82). A constant, not a
/// campaign setting: it belongs to this measure, not to a campaign's policy.
pub const MIN_SCORE: f32 = 0.75;
/// Lead over every other reference's best that names the reference.
pub const NAME_MARGIN: f32 = 0.10;
/// The voice detector of the stream: as the AMD's defaults (9 dB over the floor, −60 dBFS).
const VAD_ABOVE_FLOOR_DB: f64 = 9.0;
const VAD_MIN_DBFS: f64 = -60.0;
/// A reference frame sounds when its level is above this (its pauses are digital silence or
/// close to it).
const REF_SOUNDING_DBFS: f64 = -45.0;
/// Sub-frame shifts (samples) at which the references' spectra are computed: a stream's frames
/// straddle the reference's anywhere, and 10 ms changes a 32 ms window's spectrum.
const SHIFTS: [usize; 2] = [0, 80];
/// Frames of band vectors a stream keeps.
const RING: usize = 128;

/// One frame's normalised band vector.
type Bands = [f32; BANDS];

/// A frame's bands from its dB spectrum: mean dB per band, clamped to [`RANGE_DB`] under the
/// loudest, mean removed.
fn bands_of(db: &[f32; BINS]) -> Bands {
    let mut b = [0.0; BANDS];
    for (v, bins) in b.iter_mut().zip(db.chunks_exact(BINS_PER_BAND)) {
        *v = bins.iter().sum::<f32>() / BINS_PER_BAND as f32;
    }
    let top = b.iter().copied().fold(f32::MIN, f32::max);
    for v in &mut b {
        *v = v.max(top - RANGE_DB);
    }
    let mean = b.iter().sum::<f32>() / BANDS as f32;
    for v in &mut b {
        *v -= mean;
    }
    b
}

/// One announcement's spectra and the ends of its sounding runs.
#[derive(Debug)]
struct Tail {
    /// The reference's index in the library.
    reference: usize,
    /// Per shift of [`SHIFTS`]: per frame, its bands.
    frames: Vec<Vec<Bands>>,
    /// Frames (indices) that end a sounding run and are followed by at least
    /// [`DECIDE_PAUSE_FRAMES`] of silence (or the reference's end).
    ends: Vec<u32>,
}

/// The announcements' tails, built once with the library.
#[derive(Debug, Default)]
pub struct TailBank {
    tails: Vec<Tail>,
    references: usize,
}

impl TailBank {
    /// From the library's clips (index order); `is_announcement` picks those with tails.
    pub fn build<'a>(clips: impl Iterator<Item = (&'a [i16], bool)>) -> TailBank {
        let mut bank = TailBank::default();
        for (reference, (pcm, announcement)) in clips.enumerate() {
            bank.references = reference + 1;
            if !announcement {
                continue;
            }
            let frames = SHIFTS.iter().map(|&s| spectra(pcm, s)).collect();
            bank.tails.push(Tail {
                reference,
                frames,
                ends: run_ends(pcm),
            });
        }
        bank
    }
}

/// The bands of every frame of `pcm` delayed by `shift` samples (as a stream would compute
/// them, through [`Landmarks`]).
fn spectra(pcm: &[i16], shift: usize) -> Vec<Bands> {
    let mut marks = Landmarks::default();
    let mut sink = Vec::new();
    frames_of(pcm, shift, 0)
        .iter()
        .map(|f| {
            marks.push(f, &mut sink);
            sink.clear();
            bands_of(marks.last_db())
        })
        .collect()
}

/// Frames of `pcm` that end a sounding run followed by [`DECIDE_PAUSE_FRAMES`] of silence (or by
/// the clip's end, where the carrier's loop pauses).
fn run_ends(pcm: &[i16]) -> Vec<u32> {
    let sounding: Vec<bool> = frames_of(pcm, 0, 0)
        .iter()
        .map(|f| level_dbfs(f) > REF_SOUNDING_DBFS)
        .collect();
    let mut ends = Vec::new();
    for (i, w) in sounding.windows(2).enumerate() {
        if w[0] && !w[1] {
            let quiet = sounding[i + 1..]
                .iter()
                .take(DECIDE_PAUSE_FRAMES as usize)
                .all(|s| !s);
            if quiet {
                ends.push(i as u32);
            }
        }
    }
    if sounding.last() == Some(&true) {
        ends.push(sounding.len() as u32 - 1);
    }
    ends
}

/// A tail recognised: the best reference, whether it is named, and the others close to it.
#[derive(Clone, Debug, PartialEq)]
pub struct TailMatch {
    /// Library indices of the references within [`NAME_MARGIN`] of the best (the best first).
    pub candidates: Vec<usize>,
    /// The best is named (no other reference within the margin).
    pub named: bool,
    /// The best score.
    pub score: f32,
    /// Where in the best reference the stream's first frame fell, in frames.
    pub offset: i32,
}

/// One stream's tail matching.
#[derive(Debug)]
pub struct TailMatcher {
    vad: Vad,
    /// Per frame (ring of [`RING`]): its bands and its level (dBFS).
    ring: Vec<(Bands, f64)>,
    /// Frames pushed.
    now: u32,
    /// The last frame that is speech against the floor known now, if any.
    last_speech: Option<u32>,
    /// The floor (dBFS) `last_speech` was found against.
    floor: f64,
    /// The last utterance end compared (each is compared once).
    compared: Option<u32>,
    /// The first comparison's score and the best of every comparison so far (for reports and
    /// tuning: a late cut's tail is the stream's first utterance).
    first_seen: Option<f32>,
    best_seen: f32,
}

impl Default for TailMatcher {
    fn default() -> Self {
        TailMatcher {
            vad: Vad::new(VAD_ABOVE_FLOOR_DB, VAD_MIN_DBFS),
            ring: vec![([0.0; BANDS], SILENT_DBFS); RING],
            now: 0,
            last_speech: None,
            floor: f64::INFINITY,
            compared: None,
            first_seen: None,
            best_seen: 0.0,
        }
    }
}

impl TailMatcher {
    /// One more frame, with its spectrum from the stream's [`Landmarks`]; a match when an
    /// utterance ends like an announcement's run.
    ///
    /// Speech is judged against the floor known now, looking back: a stream that starts in the
    /// middle of words has no floor until they stop (the floor is then their own level), and
    /// that tail is the very utterance to compare.
    pub fn push(
        &mut self,
        bank: &TailBank,
        frame: &[i16; FRAME],
        db: &[f32; BINS],
    ) -> Option<TailMatch> {
        let t = self.now;
        self.now += 1;
        self.vad.push(frame);
        let (level, floor) = (self.vad.level_db(), self.vad.floor_db());
        self.ring[t as usize % RING] = (bands_of(db), level);
        if self.is_speech(level, floor) {
            self.last_speech = Some(t);
        } else if floor < self.floor - 0.5 {
            // A lower floor: earlier frames may be speech after all.
            let kept = (t as usize).min(RING - 1) as u32;
            self.last_speech = (t - kept..t)
                .rev()
                .find(|&f| self.is_speech(self.ring[f as usize % RING].1, floor))
                .max(self.last_speech);
        }
        self.floor = floor;
        let end = self.last_speech?;
        if t - end < DECIDE_PAUSE_FRAMES || self.compared.is_some_and(|c| c >= end) {
            return None;
        }
        self.compared = Some(end);
        // The utterance: back from its end until a pause of CONFIRM_FRAMES (or the stream's
        // start), against the floor known now.
        let bound = end.saturating_sub(MAX_FRAMES + CONFIRM_FRAMES);
        let (mut start, mut quiet, mut paused) = (end, 0, false);
        for f in (bound..end).rev() {
            if self.is_speech(self.ring[f as usize % RING].1, floor) {
                start = f;
                quiet = 0;
            } else {
                quiet += 1;
                if quiet == CONFIRM_FRAMES {
                    paused = true;
                    break;
                }
            }
        }
        let len = end + 1 - start;
        // A tail is the first thing the call hears, and short: a longer utterance, or one
        // later in the call, is somebody talking (and a longer part of a message has the
        // landmarks' votes). The ring must still hold it.
        let too_long = len > MAX_FRAMES || (!paused && bound > 0);
        let stale = t - bound >= RING as u32;
        if len < MIN_FRAMES || too_long || stale || start > LATEST_START_FRAMES {
            return None;
        }
        if bank.tails.is_empty() {
            return None;
        }
        self.compare(bank, end, len)
    }

    fn is_speech(&self, level: f64, floor: f64) -> bool {
        level >= VAD_MIN_DBFS && level >= floor + VAD_ABOVE_FLOOR_DB
    }

    /// The first comparison's score, and the best of any so far (0 before any).
    pub fn scores(&self) -> (Option<f32>, f32) {
        (self.first_seen, self.best_seen)
    }

    /// The utterance `len` frames ending at `end` against every reference run end.
    fn compare(&mut self, bank: &TailBank, end: u32, len: u32) -> Option<TailMatch> {
        // Per reference: best score and the offset it was at.
        let mut best = vec![(f32::MIN, 0i32); bank.references];
        for tail in &bank.tails {
            for frames in &tail.frames {
                for &run_end in &tail.ends {
                    for slop in -SLOP_FRAMES..=SLOP_FRAMES {
                        let r_end = i64::from(run_end) + i64::from(slop);
                        if r_end < 0 || r_end >= frames.len() as i64 {
                            continue;
                        }
                        let s = self.score(frames, end, r_end as usize, len);
                        let b = &mut best[tail.reference];
                        if s > b.0 {
                            *b = (s, (r_end - i64::from(end)) as i32);
                        }
                    }
                }
            }
        }
        let (top, &(score, offset)) = best
            .iter()
            .enumerate()
            .max_by(|a, b| a.1 .0.total_cmp(&b.1 .0))?;
        self.best_seen = self.best_seen.max(score);
        self.first_seen.get_or_insert(score);
        tracing::debug!(
            score,
            reference = top,
            len,
            "utterance end compared with tails"
        );
        if score < MIN_SCORE {
            return None;
        }
        let mut candidates = vec![top];
        candidates.extend(
            best.iter()
                .enumerate()
                .filter(|&(i, b)| i != top && b.0 > score - NAME_MARGIN)
                .map(|(i, _)| i),
        );
        Some(TailMatch {
            named: candidates.len() == 1,
            candidates,
            score,
            offset,
        })
    }

    /// Correlation of the stream's `len` frames ending at `end` with `frames` ending at `r_end`
    /// (a frame before the reference's start is silence, all zero), each band's mean over the
    /// window removed on each side: what is left is how the spectrum moves, which the words
    /// set, not the shape every voice shares (more low than high) nor the line's colouring.
    fn score(&self, frames: &[Bands], end: u32, r_end: usize, len: u32) -> f32 {
        let (mut sa, mut sb, mut ab, mut aa, mut bb) =
            ([0.0f32; BANDS], [0.0f32; BANDS], 0.0, 0.0, 0.0);
        for k in 0..len as usize {
            let a = &self.ring[(end as usize + RING - k) % RING].0;
            for (s, x) in sa.iter_mut().zip(a) {
                *s += x;
                aa += x * x;
            }
            let Some(b) = r_end.checked_sub(k).map(|i| &frames[i]) else {
                continue;
            };
            for ((s, x), y) in sb.iter_mut().zip(a).zip(b) {
                *s += y;
                ab += x * y;
                bb += y * y;
            }
        }
        let n = len as f32;
        // Σ(a − ā)(b − b̄) = Σab − Σa·Σb / n, per band, summed.
        let dot: f32 = sa.iter().zip(&sb).map(|(x, y)| x * y).sum();
        let ab = ab - dot / n;
        let aa = aa - sa.iter().map(|x| x * x).sum::<f32>() / n;
        let bb = bb - sb.iter().map(|y| y * y).sum::<f32>() / n;
        if aa <= f32::EPSILON || bb <= f32::EPSILON {
            return 0.0;
        }
        ab / (aa * bb).sqrt()
    }
}

#[cfg(test)]
mod tests {
    //! What a user notices: a call that joins an announcement in its last words is told it is
    //! one as soon as those words end, through gain, G.711 and noise; the same voice saying
    //! other words ("喂?", the message's opening) is not.

    use std::path::Path;
    use std::sync::Arc;

    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::super::{Library, Matcher, Recognition};
    use super::MIN_SCORE;
    use crate::cpa::tones::test_audio::{
        add_noise, espeak_available, frames, g711_round_trip, gain, silence, speech,
    };
    use crate::cpa::FRAME_MS;
    use crate::media::io::Codec;
    use crate::media::wav;

    fn shipped() -> &'static Path {
        Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/campaigns/announcements"
        ))
    }

    fn clip(name: &str) -> Vec<i16> {
        wav::load(&shipped().join(format!("{name}.wav")))
            .expect("shipped WAV")
            .0
            .to_vec()
    }

    /// The first recognition over `pcm` (by the tail rule or the votes) and the ms it came
    /// at, with the best tail score.
    fn tail_of(library: &Arc<Library>, pcm: &[i16]) -> (Option<(u32, Recognition)>, f32) {
        let mut m = Matcher::new(Arc::clone(library));
        let mut found = None;
        for (i, f) in frames(pcm).iter().enumerate() {
            if let Some(r) = m.push(f) {
                found.get_or_insert(((i as u32 + 1) * FRAME_MS, r));
            }
        }
        (found, m.tail_scores().1)
    }

    /// The last `ms` of `name`'s sound, its trailing silence, the carrier's 500 ms pause and
    /// 300 ms of the repeat's silence: what a call joining there hears before the repeat.
    fn tail_cut(name: &str, ms: usize) -> (Vec<i16>, u32) {
        let pcm = clip(name);
        let end = pcm
            .iter()
            .rposition(|s| s.unsigned_abs() > 300)
            .unwrap_or(pcm.len());
        let mut cut = silence(300);
        cut.extend_from_slice(&pcm[end.saturating_sub(ms * 8)..]);
        cut.extend(silence(800));
        (cut, 300 + ms as u32)
    }

    #[test]
    fn an_announcements_last_words_through_a_phone_line_are_recognised_when_they_end() {
        let library = Arc::new(Library::load_dir(shipped()).expect("shipped references"));
        let mut rng = ChaCha8Rng::seed_from_u64(18);
        for (name, ms, db, codec) in [
            ("cmn/powered-off", 600, -6.0, Codec::Pcmu),
            ("cmn/vacant", 400, -15.0, Codec::Pcma),
            ("cmn/unreachable", 300, 0.0, Codec::Pcmu),
            ("en/not-in-service", 500, -10.0, Codec::Pcma),
            ("yue/powered-off", 700, -3.0, Codec::Pcmu),
        ] {
            let (cut, sound_ends) = tail_cut(name, ms);
            let line = add_noise(&g711_round_trip(&gain(&cut, db), codec), 20.0, &mut rng);
            let (found, best) = tail_of(&library, &line);
            println!("{name}, last {ms} ms: best tail score {best:.3}: {found:?}");
            let at = match found {
                Some((at, Recognition::Tail(t))) => {
                    assert!(
                        t.candidates.iter().any(|c| c == name),
                        "{name}: {t:?} at {at} ms"
                    );
                    if let Some(named) = &t.name {
                        assert_eq!(named, name, "{t:?}");
                    }
                    at
                }
                // A tail long enough for the votes' span (700 ms of yue/powered-off: its
                // pairs' second peaks count once it has the class's votes) is named by them,
                // as the words end; the rest need the tail rule.
                Some((at, Recognition::Named(m))) if ms >= 700 => {
                    assert_eq!(m.name, name, "{m:?} at {at} ms");
                    at
                }
                _ => panic!(
                    "{name}, last {ms} ms: no tail recognised (best score {best:.3}): {found:?}"
                ),
            };
            // Told within 400 ms of the words' end (300 ms of pause, and where a word's end
            // falls under the line's noise): before the AMD's pause rule (450 ms).
            assert!(
                at <= sound_ends + 400,
                "{name}: at {at} ms, sound ends {sound_ends}"
            );
        }
    }

    #[test]
    fn other_words_in_the_same_voice_are_not_a_tail() {
        let library = Arc::new(Library::load_dir(shipped()).expect("shipped references"));
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        // A message's opening, heard alone then a pause: the same voice, other words.
        let mut cases: Vec<(String, Vec<i16>)> = Vec::new();
        for name in ["cmn/powered-off", "cmn/busy", "en/not-in-service"] {
            let pcm = clip(name);
            let start = pcm.iter().position(|s| s.unsigned_abs() > 300).unwrap_or(0);
            let mut cut = silence(300);
            cut.extend_from_slice(&pcm[start..(start + 8 * 700).min(pcm.len())]);
            cut.extend(silence(800));
            cases.push((format!("{name}'s opening"), cut));
        }
        if espeak_available() {
            for (voice, text) in [("cmn", "喂?"), ("cmn", "你好,哪位?"), ("en-us", "Hello?")] {
                let mut pcm = silence(300);
                pcm.extend(speech(voice, text, 160, 50));
                pcm.extend(silence(800));
                cases.push((format!("{voice} {text}"), pcm));
            }
        }
        for (what, pcm) in cases {
            let line = add_noise(&g711_round_trip(&pcm, Codec::Pcmu), 20.0, &mut rng);
            let (found, best) = tail_of(&library, &line);
            println!("{what}: best tail score {best:.3}");
            // (A message's opening may still give the class by its votes: it is one.)
            assert!(
                !matches!(found, Some((_, Recognition::Tail(_)))),
                "{what}: {found:?}"
            );
            assert!(best < MIN_SCORE, "{what}: {best}");
        }
    }
}
