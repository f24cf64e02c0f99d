//! The engine's two clocks: wall time for the store (epoch ms: calling windows, retry delays,
//! call records) and the pacing core's clock, which runs `time_scale` times faster than wall time
//! so a time-scaled synthetic trunk means the same thing to pacing as the real one. Pure
//! arithmetic from a start instant and the wall clock read at that instant: nothing here reads
//! a clock, so the engine core runs the same in virtual time. With `time_scale` 1 both advance
//! together.

use std::time::{Duration, Instant};

use crate::pacing::Millis;

/// Converts between `Instant`, pacing [`Millis`] and wall-clock epoch milliseconds.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    start: Instant,
    start_wall_ms: i64,
    scale: f64,
}

impl Clock {
    /// A clock starting at `start`, when the wall clock read `start_wall_ms` (epoch ms), with
    /// pacing time running `scale` times faster.
    pub fn new(start: Instant, start_wall_ms: i64, scale: f64) -> Clock {
        Clock {
            start,
            start_wall_ms,
            scale: scale.max(1.0),
        }
    }

    /// The time-scale factor.
    pub fn scale(&self) -> f64 {
        self.scale
    }

    /// Pacing time at `at`.
    pub fn pacing(&self, at: Instant) -> Millis {
        // From whole nanoseconds, so that at scale 1 an instant made by `instant` reads back
        // exactly (seconds as a float lose the last millisecond, 150.001 s reading 150000 ms).
        let ns = at.saturating_duration_since(self.start).as_nanos() as f64;
        Millis((ns * self.scale / 1e6) as u64)
    }

    /// The first instant at which pacing time reads `t` or later (never before the start):
    /// rounded up, so a timer due at `t` is due when woken at `instant(t)` (float rounding
    /// could otherwise wake it a hair early, again and again — in virtual time for ever).
    pub fn instant(&self, t: Millis) -> Instant {
        let mut at =
            self.start + Duration::from_nanos((t.0 as f64 * 1e6 / self.scale).ceil() as u64);
        // The float product can still land a nanosecond short; a step or two settles it.
        while self.pacing(at) < t {
            at += Duration::from_nanos(1);
        }
        at
    }

    /// A pacing-time duration in wall time.
    pub fn real(&self, scenario: Duration) -> Duration {
        scenario.div_f64(self.scale)
    }

    /// Wall clock at `at`, epoch milliseconds UTC (real time: not scaled).
    pub fn wall_ms(&self, at: Instant) -> i64 {
        let since = at.saturating_duration_since(self.start).as_millis();
        self.start_wall_ms
            .saturating_add(i64::try_from(since).unwrap_or(i64::MAX))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pacing_time_runs_scale_times_faster_and_round_trips() {
        let start = Instant::now();
        let c = Clock::new(start, 1_000_000, 10.0);
        let at = start + Duration::from_millis(150);
        assert_eq!(c.pacing(at), Millis(1500));
        let back = c.instant(Millis(1500));
        assert!(back.duration_since(start).as_millis().abs_diff(150) <= 1);
        for t in [1, 3, 7, 299, 1001, 123_457] {
            for scale in [1.0, 3.0, 7.5, 1000.0] {
                let c = Clock::new(start, 0, scale);
                assert!(
                    c.pacing(c.instant(Millis(t))) >= Millis(t),
                    "{t} ms at {scale}x"
                );
            }
        }
        assert_eq!(c.real(Duration::from_secs(2)), Duration::from_millis(200));
        assert_eq!(c.wall_ms(at), 1_000_150, "wall time is not scaled");
    }

    /// A timer due at pacing time `t` is due at `instant(t)`: in virtual time the engine is
    /// woken exactly then, and a timer that reads as not yet due would wake it again at the same
    /// instant for ever.
    #[test]
    fn a_timer_is_due_at_its_own_instant() {
        let start = Instant::now();
        for scale in [1.0, 3.0, 10.0] {
            let c = Clock::new(start, 0, scale);
            for t in (0..400_000).step_by(7) {
                assert!(
                    c.pacing(c.instant(Millis(t))) >= Millis(t),
                    "t {t} scale {scale}"
                );
            }
        }
    }
}
