//! The Special Information Tone code table: three measured tone segments to a [`SitVariant`].
//! Owns the frequencies, lengths and the North American code assignments; nothing else.
//!
//! First segment 913.8 (low) or 985.2 Hz (high), second 1370.6 (low) or 1428.5 Hz (high), third
//! 1776.7 Hz; the first two are 274 ms (short) or 380 ms (long). The codes (Telcordia's, as
//! restated in public references): IC = low short, low short; NC = high long, high long (or low
//! long, low long, its interLATA form); VC = high long, low short; RO = low short, high long (or
//! high short, low long); IO = low long, high short. Other combinations are reserved:
//! [`SitVariant::Unknown`].

use crate::cpa::SitVariant;

/// The two first-segment frequencies (low, high).
const FIRST: [f32; 2] = [913.8, 985.2];
/// The two second-segment frequencies (low, high).
const SECOND: [f32; 2] = [1370.6, 1428.5];
/// The third segment's one frequency.
const THIRD: f32 = 1776.7;
/// Frequency error allowed: the ±1.5 % a line may add, plus the estimator's own half percent.
const FREQ_TOLERANCE: f32 = 0.02;
/// Segment lengths accepted at all (ms, as measured in 20 ms frames): 274 − 74 to 380 + 100,
/// covering a frame of misalignment at either edge.
const MIN_MS: u32 = 200;
const MAX_MS: u32 = 480;
/// Between short (274 ms) and long (380 ms).
const SHORT_LONG_SPLIT_MS: u32 = 327;

/// One steady tone, as measured.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Segment {
    /// Mean frequency.
    pub freq_hz: f32,
    /// Length.
    pub ms: u32,
}

/// Which of `options` `freq` is (index), if within tolerance of the nearest.
fn nearest(freq: f32, options: &[f32]) -> Option<usize> {
    let (i, nominal) = options
        .iter()
        .enumerate()
        .min_by(|a, b| (a.1 - freq).abs().total_cmp(&(b.1 - freq).abs()))?;
    ((freq - nominal).abs() <= nominal * FREQ_TOLERANCE).then_some(i)
}

fn in_length(s: &Segment) -> bool {
    (MIN_MS..=MAX_MS).contains(&s.ms)
}

/// The variant three consecutive segments spell, or `None` if they are not a SIT.
pub fn decode(segments: [&Segment; 3]) -> Option<SitVariant> {
    let [a, b, c] = segments;
    if !segments.iter().all(|s| in_length(s)) {
        return None;
    }
    let high1 = nearest(a.freq_hz, &FIRST)? == 1;
    let high2 = nearest(b.freq_hz, &SECOND)? == 1;
    nearest(c.freq_hz, &[THIRD])?;
    let long1 = a.ms > SHORT_LONG_SPLIT_MS;
    let long2 = b.ms > SHORT_LONG_SPLIT_MS;
    Some(match (high1, long1, high2, long2) {
        (false, false, false, false) => SitVariant::Intercept,
        (true, true, true, true) | (false, true, false, true) => SitVariant::NoCircuit,
        (true, true, false, false) => SitVariant::VacantCode,
        (false, false, true, true) | (true, false, false, true) => SitVariant::Reorder,
        (false, true, true, false) => SitVariant::IneffectiveOther,
        _ => SitVariant::Unknown,
    })
}

/// The nominal segments of `variant` (its first listed form), for tests and tone generators:
/// `(frequency Hz, length ms)` three times.
pub fn nominal(variant: SitVariant) -> [(f32, u32); 3] {
    let (s, l) = (274, 380);
    let (f1, d1, f2, d2) = match variant {
        SitVariant::Intercept => (FIRST[0], s, SECOND[0], s),
        SitVariant::NoCircuit => (FIRST[1], l, SECOND[1], l),
        SitVariant::VacantCode => (FIRST[1], l, SECOND[0], s),
        SitVariant::Reorder => (FIRST[0], s, SECOND[1], l),
        SitVariant::IneffectiveOther => (FIRST[0], l, SECOND[1], s),
        SitVariant::Unknown => (FIRST[1], s, SECOND[1], s),
    };
    [(f1, d1), (f2, d2), (THIRD, l)]
}
