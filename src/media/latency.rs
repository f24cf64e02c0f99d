//! A latency histogram with fixed buckets for hot paths: recording is one relaxed atomic add
//! (no lock, no allocation), so a relay worker can time every packet; readers take a
//! [`LatencySnapshot`] and ask it for quantiles. Buckets: 1 µs wide up to 4,096 µs, then one per
//! doubling up to about 1 h (a quantile there is only good to a factor of two: the tail beyond
//! 4 ms is reported as such, not measured finely). Owns nothing but its counters.

use std::sync::atomic::{AtomicU64, Ordering};

/// µs covered one by one.
const FINE_US: u64 = 4096;
/// Doublings above that (4,096 µs · 2^20 ≈ 71 min).
const COARSE: usize = 20;
const BUCKETS: usize = FINE_US as usize + COARSE;

/// Counts of latencies by bucket (see the module doc); shared by reference between the thread
/// that records and the ones that read.
pub struct LatencyHistogram {
    counts: Box<[AtomicU64]>,
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        LatencyHistogram::new()
    }
}

impl std::fmt::Debug for LatencyHistogram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LatencyHistogram({} samples)", self.snapshot().count())
    }
}

fn bucket(ns: u64) -> usize {
    let us = ns / 1000;
    if us < FINE_US {
        return us as usize;
    }
    // 4096..8191 µs → the first coarse bucket, and so on by doubling.
    let doublings = (63 - (us / FINE_US).leading_zeros()) as usize;
    FINE_US as usize + doublings.min(COARSE - 1)
}

/// The largest latency (µs) bucket `i` holds.
fn upper_us(i: usize) -> f64 {
    if i < FINE_US as usize {
        (i + 1) as f64
    } else {
        (FINE_US << (i - FINE_US as usize + 1)) as f64
    }
}

impl LatencyHistogram {
    /// Empty.
    pub fn new() -> Self {
        LatencyHistogram {
            counts: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    /// Counts one latency of `ns` nanoseconds.
    pub fn record(&self, ns: u64) {
        self.counts[bucket(ns)].fetch_add(1, Ordering::Relaxed);
    }

    /// The counts now.
    pub fn snapshot(&self) -> LatencySnapshot {
        LatencySnapshot {
            counts: self
                .counts
                .iter()
                .map(|c| c.load(Ordering::Relaxed))
                .collect(),
        }
    }
}

/// Counts taken from one or more [`LatencyHistogram`]s.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LatencySnapshot {
    counts: Vec<u64>,
}

impl LatencySnapshot {
    /// Samples counted.
    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// Adds `other`'s counts (another worker's).
    pub fn merge(&mut self, other: &LatencySnapshot) {
        if self.counts.len() < other.counts.len() {
            self.counts.resize(other.counts.len(), 0);
        }
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
    }

    /// What was counted since `earlier` (a snapshot of the same histograms).
    pub fn since(&self, earlier: &LatencySnapshot) -> LatencySnapshot {
        LatencySnapshot {
            counts: self
                .counts
                .iter()
                .enumerate()
                .map(|(i, c)| c.saturating_sub(earlier.counts.get(i).copied().unwrap_or(0)))
                .collect(),
        }
    }

    /// The quantile `q` (0..=1) in µs: the upper edge of the bucket holding it (NaN when
    /// empty).
    pub fn quantile_us(&self, q: f64) -> f64 {
        let n = self.count();
        if n == 0 {
            return f64::NAN;
        }
        let rank = ((n as f64 * q.clamp(0.0, 1.0)).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return upper_us(i);
            }
        }
        upper_us(self.counts.len().saturating_sub(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_exact_to_the_microsecond_below_4_ms_and_coarse_above() {
        let h = LatencyHistogram::new();
        // 990 samples at 100.4 µs, 9 at 700 µs, one at 10 ms.
        for _ in 0..990 {
            h.record(100_400);
        }
        for _ in 0..9 {
            h.record(700_000);
        }
        h.record(10_000_000);
        let s = h.snapshot();
        assert_eq!(s.count(), 1000);
        assert_eq!(s.quantile_us(0.5), 101.0);
        assert_eq!(s.quantile_us(0.99), 101.0);
        assert_eq!(s.quantile_us(0.995), 701.0);
        // 10 ms lies in 8,192..16,384 µs: reported as its upper edge.
        assert_eq!(s.quantile_us(1.0), 16_384.0);
        let mut both = s.clone();
        both.merge(&s);
        assert_eq!(both.count(), 2000);
        assert_eq!(both.since(&s), s);
        assert!(LatencySnapshot::default().quantile_us(0.5).is_nan());
        h.record(u64::MAX);
        assert_eq!(
            h.snapshot().count(),
            1001,
            "an absurd value lands in the last bucket"
        );
    }
}
