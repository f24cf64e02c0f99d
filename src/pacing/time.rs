//! Time as a plain value: milliseconds since an arbitrary origin chosen by the driver (the
//! simulator's virtual clock starts at 0; the live engine maps its monotonic clock onto it).

use serde::Serialize;

/// A point in time, in milliseconds since the driver's origin.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Millis(pub u64);

impl Millis {
    /// Seconds since the origin.
    pub fn secs(self) -> f64 {
        self.0 as f64 / 1000.0
    }
    /// `self + ms`.
    pub fn plus(self, ms: u64) -> Millis {
        Millis(self.0.saturating_add(ms))
    }
    /// `self + s` seconds (rounded to the millisecond, never negative).
    pub fn plus_secs(self, s: f64) -> Millis {
        self.plus((s.max(0.0) * 1000.0).round() as u64)
    }
    /// Milliseconds from `earlier` to `self` (0 if `earlier` is later).
    pub fn since(self, earlier: Millis) -> u64 {
        self.0.saturating_sub(earlier.0)
    }
}
