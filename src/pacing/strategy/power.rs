//! `power:R`: keep `R` × ready agents calls in flight, no model and no reservation. Owns the
//! ratio only.

use crate::pacing::dialer::Floor;
use crate::pacing::strategy::Strategy;
use crate::pacing::Millis;

/// Calls in flight per ready agent.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Power {
    /// Calls per ready agent.
    pub(crate) ratio: f64,
}

impl Strategy for Power {
    fn decide(&mut self, now: Millis, floor: &mut Floor<'_>) {
        let want =
            (self.ratio * floor.ready_agents() as f64).floor() as i64 - floor.in_flight() as i64;
        let n = want.max(0).min(floor.lines_free() as i64);
        for _ in 0..n {
            floor.dial(now, None);
        }
    }
    fn clone_box(&self) -> Box<dyn Strategy> {
        Box::new(*self)
    }
}
