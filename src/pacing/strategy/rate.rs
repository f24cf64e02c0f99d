//! `rate:λ`: Poisson dialling at λ calls per second, blind to agents, on its own timer. Owns λ;
//! the random stream is the dialer's (one seed per campaign whatever the mode history).

use crate::pacing::dialer::Floor;
use crate::pacing::strategy::{due, Strategy};
use crate::pacing::timer::Timer;
use crate::pacing::Millis;

/// Poisson dialling.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Rate {
    /// Calls per second.
    pub(crate) per_s: f64,
}

impl Strategy for Rate {
    fn timers(&self) -> &'static [Timer] {
        &[Timer::RateDial]
    }

    /// The first dial is one gap from now: entering `rate:λ` (or a new λ) must not launch the
    /// backlog of an earlier rate period at once.
    fn start(&mut self, now: Millis, floor: &mut Floor<'_>) {
        let gap = floor.exp_gap(self.per_s);
        floor.timers().set(Timer::RateDial, now.plus_secs(gap));
    }

    fn on_timeout(&mut self, now: Millis, floor: &mut Floor<'_>) {
        while let Some(at) = due(floor, Timer::RateDial, now) {
            if floor.lines_free() > 0 {
                floor.dial(now, None);
            }
            let gap = floor.exp_gap(self.per_s);
            floor
                .timers()
                .set(Timer::RateDial, at.plus_secs(gap.max(0.001)));
        }
    }

    fn clone_box(&self) -> Box<dyn Strategy> {
        Box::new(*self)
    }
}
