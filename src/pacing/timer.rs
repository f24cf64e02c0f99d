//! The dialer's own scheduled times, one table keyed by [`Timer`] with a single next wake-up
//! (the shape of quinn-proto's `TimerTable`). Owns the times only: what a timer does when it
//! fires belongs to the [`crate::pacing::Dialer`] or its strategy. Per-call deadlines (patience,
//! no-answer) are not here: they sit in the dialer's FIFO queues, already in deadline order.

use crate::pacing::Millis;

/// One of the dialer's scheduled times.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Timer {
    /// The next pacing decision (tick-driven strategies).
    Tick = 0,
    /// The next Poisson dial of `rate:λ`.
    RateDial = 1,
    /// Adaptive mode's next 1 s sample.
    Sample = 2,
    /// Adaptive mode's next 15 s dial-level adjustment.
    Adjust = 3,
    /// Adaptive mode's next 2.5 s dial cycle.
    Cycle = 4,
    /// The next refit of the forecast tables from the estimators.
    Refit = 5,
    /// The next minute's blending-reserve and calibration update.
    Reserve = 6,
}

const COUNT: usize = 7;

impl Timer {
    /// Whether the dialer asks to be woken up for this timer. `Refit` and `Reserve` only run
    /// when the dialer is awake anyway (at a decision, at any timeout): a wake-up of their own
    /// would move them and change the figures (the refit waits for the next decision, which is
    /// when it is needed).
    fn wakes(self) -> bool {
        !matches!(self, Timer::Refit | Timer::Reserve)
    }

    const ALL: [Timer; COUNT] = [
        Timer::Tick,
        Timer::RateDial,
        Timer::Sample,
        Timer::Adjust,
        Timer::Cycle,
        Timer::Refit,
        Timer::Reserve,
    ];
}

/// When each [`Timer`] is due (`None`: stopped).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct TimerTable {
    at: [Option<Millis>; COUNT],
    /// The earliest waking timer, kept on every change: the driver asks after every event
    /// (about ten times as often as a timer moves), and the scan showed at 3 % of a simulation.
    next: Option<(Millis, Timer)>,
}

impl TimerTable {
    /// Arms `timer` for `at` (replacing any earlier time).
    pub(crate) fn set(&mut self, timer: Timer, at: Millis) {
        self.at[timer as usize] = Some(at);
        self.next = self.scan();
    }

    /// Arms `timer` for `at` unless it is already armed.
    pub(crate) fn set_if_stopped(&mut self, timer: Timer, at: Millis) {
        if self.at[timer as usize].is_none() {
            self.set(timer, at);
        }
    }

    /// Stops `timer`.
    pub(crate) fn stop(&mut self, timer: Timer) {
        self.at[timer as usize] = None;
        self.next = self.scan();
    }

    /// When `timer` is due, if armed.
    pub(crate) fn get(&self, timer: Timer) -> Option<Millis> {
        self.at[timer as usize]
    }

    /// Whether `timer` is armed and due at or before `now`.
    pub(crate) fn is_due(&self, timer: Timer, now: Millis) -> bool {
        self.at[timer as usize].is_some_and(|t| t <= now)
    }

    /// The earliest armed timer that wakes the dialer. On a tie the first in declaration order.
    pub(crate) fn next_wakeup(&self) -> Option<(Millis, Timer)> {
        self.next
    }

    fn scan(&self) -> Option<(Millis, Timer)> {
        let mut best: Option<(Millis, Timer)> = None;
        for timer in Timer::ALL {
            if let Some(t) = self.at[timer as usize] {
                if timer.wakes() && best.is_none_or(|b| t < b.0) {
                    best = Some((t, timer));
                }
            }
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_wakeup_skips_stopped_and_lazy_timers() {
        let mut t = TimerTable::default();
        assert_eq!(t.next_wakeup(), None);
        t.set(Timer::Reserve, Millis(5));
        t.set(Timer::Refit, Millis(1));
        assert_eq!(
            t.next_wakeup(),
            None,
            "refit and reserve never wake the dialer"
        );
        t.set(Timer::Cycle, Millis(30));
        t.set(Timer::Sample, Millis(20));
        assert_eq!(t.next_wakeup(), Some((Millis(20), Timer::Sample)));
        t.stop(Timer::Sample);
        assert_eq!(t.next_wakeup(), Some((Millis(30), Timer::Cycle)));
        t.set_if_stopped(Timer::Cycle, Millis(1));
        assert_eq!(t.get(Timer::Cycle), Some(Millis(30)));
        assert!(t.is_due(Timer::Reserve, Millis(5)) && !t.is_due(Timer::Reserve, Millis(4)));
    }
}
