//! One stream's vote counts per (reference, offset), in a hash map keyed by one `u64` with a
//! multiply-shift hasher: the matcher does a few of these per landmark, and std's SipHash cost
//! more than the FFT. The keys come from audio, not from a peer's choosing of map keys, so a
//! DoS-resistant hash buys nothing here. Owns the counts only.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// Fibonacci hashing of one `u64` (the only key type used).
#[derive(Clone, Copy, Debug, Default)]
pub struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0 ^ n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }

    fn finish(&self) -> u64 {
        // The high bits are the well-mixed ones; hashbrown uses the top 7 and the low bits.
        self.0.rotate_left(26)
    }
}

fn key(reference: u32, offset: i32) -> u64 {
    (u64::from(reference) << 32) | u64::from(offset as u32)
}

/// One alignment's votes and the stream columns they came from: the earliest voting
/// landmark's first peak, the latest first peak, and the latest second peak.
#[derive(Clone, Copy, Debug)]
struct Tally {
    count: u32,
    first: u32,
    last: u32,
    last_end: u32,
}

/// Votes per (reference, offset in frames).
#[derive(Debug)]
pub struct Votes {
    map: HashMap<u64, Tally, BuildHasherDefault<KeyHasher>>,
}

impl Votes {
    /// Room for `capacity` alignments before the map grows.
    pub fn with_capacity(capacity: usize) -> Self {
        Votes {
            map: HashMap::with_capacity_and_hasher(capacity, BuildHasherDefault::default()),
        }
    }

    /// One more vote for `(reference, offset)`, from a landmark whose peaks are at stream
    /// columns `t` and `end`; its score afterwards.
    pub fn add(&mut self, reference: u32, offset: i32, t: u32, end: u32) -> u32 {
        let tally = self.map.entry(key(reference, offset)).or_insert(Tally {
            count: 0,
            first: t,
            last: t,
            last_end: end,
        });
        tally.count += 1;
        tally.first = tally.first.min(t);
        tally.last = tally.last.max(t);
        tally.last_end = tally.last_end.max(end);
        self.score(reference, offset)
    }

    /// Votes at `offset` and its two neighbours (a window that straddles frames differently
    /// moves a landmark by a frame now and then).
    pub fn score(&self, reference: u32, offset: i32) -> u32 {
        (offset - 1..=offset + 1)
            .filter_map(|o| self.map.get(&key(reference, o)))
            .map(|t| t.count)
            .sum()
    }

    /// Stream frames between the first and the last landmark that voted for `offset` or its
    /// neighbours: how much of the audio agrees, not just how many hashes. Measured to the
    /// latest landmark's first peak, or with `attested` to its second (a landmark is a pair of
    /// peaks and agrees on both: the audio up to the second peak agrees too).
    pub fn span(&self, reference: u32, offset: i32, attested: bool) -> u32 {
        let (first, last) = self.extent(reference, offset, attested);
        last.saturating_sub(first)
    }

    /// The first and last stream frames that voted for `offset` or its neighbours (the last to
    /// the latest second peak with `attested`, see [`Votes::span`]).
    pub fn extent(&self, reference: u32, offset: i32, attested: bool) -> (u32, u32) {
        (offset - 1..=offset + 1)
            .filter_map(|o| self.map.get(&key(reference, o)))
            .fold((u32::MAX, 0), |(f, l), t| {
                let last = if attested { t.last_end } else { t.last };
                (f.min(t.first), l.max(last))
            })
    }

    /// Keeps the alignments `keep(reference, offset)` approves.
    pub fn retain(&mut self, mut keep: impl FnMut(u32, i32) -> bool) {
        self.map
            .retain(|&k, _| keep((k >> 32) as u32, k as u32 as i32));
    }

    /// Every alignment with a vote.
    pub fn alignments(&self) -> impl Iterator<Item = (u32, i32)> + '_ {
        self.map
            .keys()
            .map(|&k| ((k >> 32) as u32, k as u32 as i32))
    }
}
