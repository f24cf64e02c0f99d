//! The VICIdial-style adaptive dial level, restated from pacing.md so users migrating from
//! VICIdial can compare: a feedback loop on the dial level DL with no model of answers or handle
//! times. Every 1 s a sample of (ready agents, waiting calls, logged-in agents); every 15 s DL is
//! adjusted from the last 15 samples; every 2.5 s `round(DL × active agents) − calls in progress`
//! calls are placed. Owns DL and its samples only.

use std::collections::VecDeque;

use crate::pacing::{DropRule, Millis};

/// Adaptive dial-level state of one campaign.
#[derive(Clone, Debug)]
pub struct Adaptive {
    /// Current dial level.
    pub dl: f64,
    /// Upper clamp of DL (VICIdial's `max_level`, default 3.0).
    pub max_level: f64,
    /// `dl_diff_target` (default 0).
    pub diff_target: f64,
    /// Intensity I (default 0).
    pub intensity: f64,
    /// Drop-percentage rule.
    pub rule: DropRule,
    samples: VecDeque<(f64, f64, f64)>,
    recent: VecDeque<(Millis, bool)>,
}

impl Adaptive {
    /// Starts at DL = 1.
    pub fn new(max_level: f64, rule: DropRule) -> Self {
        Adaptive {
            dl: 1.0,
            max_level: max_level.max(1.0),
            diff_target: 0.0,
            intensity: 0.0,
            rule,
            samples: VecDeque::new(),
            recent: VecDeque::new(),
        }
    }

    /// The 1 s sample.
    pub fn sample(&mut self, ready: u32, waiting: u32, total: u32) {
        self.samples
            .push_back((ready as f64, waiting as f64, total as f64));
        while self.samples.len() > 15 {
            self.samples.pop_front();
        }
    }

    /// Records a live answer (dropped or not) for the last-minute rule.
    pub fn answered(&mut self, now: Millis, dropped: bool) {
        self.recent.push_back((now, dropped));
    }

    /// The 15 s adjustment. `live`/`dropped` are today's totals, `dials` today's calls placed,
    /// `target` the drop cap, `shift_left` the share of the shift still to come (tapered rule).
    pub fn adjust(
        &mut self,
        now: Millis,
        dials: u64,
        live: f64,
        dropped: f64,
        target: f64,
        shift_left: f64,
    ) {
        while matches!(self.recent.front(), Some(&(t, _)) if now.since(t) > 60_000) {
            self.recent.pop_front();
        }
        let n = self.samples.len().max(1) as f64;
        let (r, w, t) = self.samples.iter().fold((0.0, 0.0, 0.0), |acc, s| {
            (acc.0 + s.0, acc.1 + s.1, acc.2 + s.2)
        });
        let (ready_avg, waiting_avg, total_avg) = (r / n, w / n, t / n);
        if total_avg > 0.0 {
            let diff = ready_avg - waiting_avg + self.diff_target;
            let m = diff / total_avg;
            let gain = if m >= 0.0 {
                1.0 + self.intensity / 100.0
            } else {
                1.0 - self.intensity / 100.0
            };
            self.dl *= 1.0 + m * gain;
        }
        self.dl = self.dl.clamp(1.0, self.max_level);
        // Safety: more than 20 calls in the last minute and over half dropped.
        let last_min = self.recent.len();
        let drops = self.recent.iter().filter(|e| e.1).count();
        if last_min > 20 && drops * 2 > last_min {
            self.dl = (self.dl / 2.0).max(1.0);
        }
        // Today's drop percentage over the target, once more than 50 calls were made.
        if dials > 50 && live > 0.0 && dropped / live > target {
            self.dl = match self.rule {
                DropRule::HardLimit => 1.0,
                DropRule::Average => (self.dl / 2.0).max(1.0),
                DropRule::Tapered => 1.0 + (self.dl - 1.0) * shift_left.clamp(0.0, 1.0),
            };
        }
    }

    /// Calls to place in this 2.5 s cycle.
    pub fn to_place(&self, active_agents: u32, in_progress: u32) -> u32 {
        let want = (self.dl * active_agents as f64).round() as i64 - in_progress as i64;
        want.max(0) as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_agents_raise_the_level_and_drops_halve_it() {
        let mut a = Adaptive::new(3.0, DropRule::Average);
        for _ in 0..15 {
            a.sample(5, 0, 10);
        }
        a.adjust(Millis(15_000), 10, 5.0, 0.0, 0.03, 1.0);
        assert!((a.dl - 1.5).abs() < 1e-9);
        a.adjust(Millis(30_000), 100, 100.0, 10.0, 0.03, 1.0);
        // Raised to 2.25 by the idle agents, then halved for the 10 % drop rate.
        assert!((a.dl - 1.125).abs() < 1e-9, "{}", a.dl);
        assert_eq!(a.to_place(10, 4), 7);
    }
}
