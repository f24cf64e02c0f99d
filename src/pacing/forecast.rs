//! Incremental state of a campaign for forecasting: busy agents bucketed by the time they entered
//! their state, calls in flight bucketed by launch time, and precomputed tables of conditional
//! probabilities (agent free by τ given time already busy; live answer by t given ringing so far).
//! A decision then costs O(distinct buckets × columns), independent of how many agents or calls
//! share a bucket — never O(agents × calls).

use std::collections::VecDeque;

use crate::pacing::dist::Dist;

/// Counts of items keyed by when they entered a state (in units of `unit_ms`), oldest first.
///
/// Dense: one count per key from `base` on, zeros included, so adding or removing an item is
/// an index instead of a binary search (every agent state change and call resolution does one;
/// the search was a tenth of a simulator event on large-centre). The length is the span of keys
/// between the oldest item still counted and the newest — bounded by how long an item stays
/// (talk, wrap-up, ringing) or by `max_age` of [`Buckets::age`], not by the number of items.
#[derive(Clone, Debug, Default)]
pub struct Buckets {
    q: VecDeque<u32>,
    /// Key of `q[0]` (meaningless while `q` is empty).
    base: u64,
    old: u32,
    total: u32,
}

impl Buckets {
    /// Adds one item entering at `key`.
    pub fn add(&mut self, key: u64) {
        self.total += 1;
        if self.q.is_empty() {
            self.base = key;
        } else if key < self.base {
            // Out-of-order time from the driver (rare): grow the front.
            for _ in key..self.base {
                self.q.push_front(0);
            }
            self.base = key;
        }
        let i = (key - self.base) as usize;
        if i >= self.q.len() {
            self.q.resize(i + 1, 0);
        }
        self.q[i] += 1;
    }
    /// Removes one item that entered at `key`, and says where it was counted.
    pub fn remove(&mut self, key: u64) -> Removed {
        self.total = self.total.saturating_sub(1);
        let slot = key
            .checked_sub(self.base)
            .and_then(|i| self.q.get_mut(usize::try_from(i).ok()?))
            .filter(|c| **c > 0);
        let removed = match slot {
            Some(c) => {
                *c -= 1;
                Removed::AtKey
            }
            // It aged out into the `old` bucket.
            None if self.old > 0 => {
                self.old -= 1;
                Removed::Old
            }
            None => Removed::Nothing,
        };
        while self.q.front() == Some(&0) {
            self.q.pop_front();
            self.base += 1;
        }
        removed
    }
    /// Folds buckets older than `max_age` units (at `now_key`) into the oldest row.
    pub fn age(&mut self, now_key: u64, max_age: u64) {
        while let Some(&c) = self.q.front() {
            if now_key.saturating_sub(self.base) > max_age {
                self.old += c;
                self.q.pop_front();
                self.base += 1;
            } else {
                break;
            }
        }
    }
    /// Number of items.
    pub fn total(&self) -> u32 {
        self.total
    }
    /// Calls `f(age, count)` for every non-empty bucket in the order of [`Buckets::iter`]
    /// (aged-out items first, then oldest first) until it returns `false`. The same sequence as
    /// `iter`, as a plain loop: the predictive decision's sums walk every bucket on every tick.
    #[inline]
    pub fn visit(&self, now_key: u64, max_age: u64, mut f: impl FnMut(usize, u32) -> bool) {
        if self.old > 0 && !f(max_age as usize, self.old) {
            return;
        }
        let (a, b) = self.q.as_slices();
        let mut k = self.base;
        for part in [a, b] {
            for &c in part {
                if c > 0 && !f(now_key.saturating_sub(k).min(max_age) as usize, c) {
                    return;
                }
                k += 1;
            }
        }
    }
    /// (age in units, count) of every non-empty bucket; aged-out items report `max_age`.
    pub fn iter(&self, now_key: u64, max_age: u64) -> impl Iterator<Item = (usize, u32)> + '_ {
        let old = (self.old > 0).then_some((max_age as usize, self.old));
        let base = self.base;
        old.into_iter().chain(
            self.q
                .iter()
                .enumerate()
                .filter(|e| *e.1 > 0)
                .map(move |(i, &c)| {
                    let k = base + i as u64;
                    (now_key.saturating_sub(k).min(max_age) as usize, c)
                }),
        )
    }
}

/// Where [`Buckets::remove`] found the item.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Removed {
    /// In the bucket of its key.
    AtKey,
    /// Among the aged-out items (counted at the largest age).
    Old,
    /// Nowhere: it was never added (a driver out of step; nothing changes).
    Nothing,
}

/// `Σ c·p` and `Σ c·p·(1 − p)` over the buckets of `b` at `now_key`, for columns
/// `C0..C0 + N` of `t` (oldest first; rows below `t.live_from` add 0 and end the walk).
/// The columns are fixed at compile time and accumulate in locals, so the compiler keeps them
/// in registers and unrolls them.
#[inline(always)]
pub fn walk<const C0: usize, const N: usize>(
    b: &Buckets,
    t: &Table,
    now_key: u64,
    max_age: u64,
) -> ([f64; N], [f64; N]) {
    let (mut mean, mut var) = ([0.0f64; N], [0.0f64; N]);
    let (max_row, cols) = (t.max_row(), t.cols);
    b.visit(now_key, max_age, |age, c| {
        if age < t.live_from {
            return false;
        }
        let r = age.min(max_row) * cols;
        let row = &t.data[r + C0..r + C0 + N];
        let c = c as f64;
        for k in 0..N {
            let p = row[k];
            mean[k] += c * p;
            var[k] += c * p * (1.0 - p);
        }
        true
    });
    (mean, var)
}

/// Busy agents of one kind (talking on outbound calls, talking on inbound calls, wrapping up)
/// and, between decisions, the sums of [`walk`] over the first `N` columns at one key.
///
/// Why: the sums of the talking groups walk hundreds of buckets, but their ages change only
/// when the key does (every 2 s for talk, 1 s for wrap-up) while decisions come every 200 ms.
/// Between key changes an item that comes or goes adds or takes its own row, so the walk runs
/// once per key instead of once per decision. The kept sums differ from a fresh walk only by
/// rounding, and the next key change walks afresh.
#[derive(Clone, Debug, Default)]
pub struct AgentGroup<const N: usize> {
    /// The items by the key they entered at.
    pub buckets: Buckets,
    kept: Option<Kept<N>>,
}

#[derive(Clone, Debug)]
struct Kept<const N: usize> {
    key: u64,
    mean: [f64; N],
    var: [f64; N],
}

impl<const N: usize> AgentGroup<N> {
    /// Adds one item entering at `key`; `t` is the table the kept sums were built with.
    pub fn add(&mut self, key: u64, t: &Table, max_age: u64) {
        self.buckets.add(key);
        match &self.kept {
            Some(k) if key <= k.key => {
                let age = (k.key - key).min(max_age) as usize;
                self.change(age, t, 1.0);
            }
            // A key the kept sums have not reached: the next decision walks afresh anyway.
            _ => self.kept = None,
        }
    }

    /// Removes one item that entered at `key`.
    pub fn remove(&mut self, key: u64, t: &Table, max_age: u64) {
        let Some(k) = &self.kept else {
            self.buckets.remove(key);
            return;
        };
        let age = match self.buckets.remove(key) {
            Removed::AtKey => k.key.saturating_sub(key).min(max_age),
            Removed::Old => max_age,
            Removed::Nothing => return,
        };
        self.change(age as usize, t, -1.0);
    }

    fn change(&mut self, age: usize, t: &Table, sign: f64) {
        if age < t.live_from {
            return;
        }
        if let Some(k) = &mut self.kept {
            for (i, &p) in t.row(age)[..N].iter().enumerate() {
                k.mean[i] += sign * p;
                k.var[i] += sign * p * (1.0 - p);
            }
        }
    }

    /// Forgets the kept sums (the table changed).
    pub fn invalidate(&mut self) {
        self.kept = None;
    }

    /// [`walk`] over columns `0..N` at `now_key`, from the kept sums when the key has not moved.
    pub fn sums(&mut self, t: &Table, now_key: u64, max_age: u64) -> ([f64; N], [f64; N]) {
        if let Some(k) = &self.kept {
            if k.key == now_key {
                return (k.mean, k.var);
            }
        }
        let (mean, var) = walk::<0, N>(&self.buckets, t, now_key, max_age);
        self.kept = Some(Kept {
            key: now_key,
            mean,
            var,
        });
        (mean, var)
    }
}

/// A table of probabilities: one row per age unit, one column per horizon.
#[derive(Clone, Debug, Default)]
pub struct Table {
    /// Number of columns.
    pub cols: usize,
    /// Row-major values.
    pub data: Vec<f64>,
    /// Rows before this one are all zero (lets sums stop early on young buckets).
    pub live_from: usize,
}

impl Table {
    /// A table from row-major `data`.
    pub fn new(cols: usize, data: Vec<f64>) -> Table {
        let cols = cols.max(1);
        let live_from = data
            .chunks(cols)
            .position(|r| r.iter().any(|&p| p > 1e-12))
            .unwrap_or(data.len() / cols);
        Table {
            cols,
            data,
            live_from,
        }
    }

    /// Largest row index.
    pub fn max_row(&self) -> usize {
        (self.data.len() / self.cols.max(1)).saturating_sub(1)
    }
    /// Row `r` (clamped to the last).
    pub fn row(&self, r: usize) -> &[f64] {
        let r = r.min(self.max_row());
        &self.data[r * self.cols..(r + 1) * self.cols]
    }
}

/// P(remaining talk + wrap-up ≤ τ | talked `e` s) for each τ in `taus`, rows of `unit_s` s.
pub fn talk_table(talk: &Dist, wrap: &Dist, taus: &[f64], unit_s: f64) -> Table {
    let top = taus.iter().cloned().fold(0.0, f64::max);
    let rows = (((talk.quantile(0.999) + top) / unit_s).ceil() as usize + 2).clamp(16, 8192);
    let wraps: Vec<f64> = if wrap.sd() < 0.05 * wrap.mean().max(1e-9) {
        vec![wrap.mean()]
    } else {
        vec![
            wrap.quantile(1.0 / 6.0),
            wrap.quantile(0.5),
            wrap.quantile(5.0 / 6.0),
        ]
    };
    let mut data = Vec::with_capacity(rows * taus.len());
    for e in 0..rows {
        // Ages come from floored keys: age × unit is an unbiased estimate of the elapsed time.
        let e = e as f64 * unit_s;
        let fe = talk.cdf(e);
        let s = 1.0 - fe;
        for &tau in taus {
            let mut p = 0.0;
            for &w in &wraps {
                p += if s < 1e-12 {
                    if tau >= w {
                        1.0
                    } else {
                        0.0
                    }
                } else {
                    ((talk.cdf(e + tau - w) - fe).max(0.0) / s).min(1.0)
                };
            }
            data.push(p / wraps.len() as f64);
        }
    }
    Table::new(taus.len(), data)
}

/// P(wrap-up ends within τ | wrapped `e` s) for each τ, rows of 1 s.
pub fn wrap_table(wrap: &Dist, taus: &[f64]) -> Table {
    let top = taus.iter().cloned().fold(0.0, f64::max);
    let rows = ((wrap.quantile(0.9999) + top).ceil() as usize + 2).clamp(16, 8192);
    let mut data = Vec::with_capacity(rows * taus.len());
    for e in 0..rows {
        let e = e as f64;
        let fe = wrap.cdf(e);
        let s = 1.0 - fe;
        for &tau in taus {
            data.push(if s < 1e-12 {
                1.0
            } else {
                ((wrap.cdf(e + tau) - fe).max(0.0) / s).min(1.0)
            });
        }
    }
    Table::new(taus.len(), data)
}

/// What the ring model needs: outcome probabilities and timing.
#[derive(Clone, Debug)]
pub struct RingModel {
    /// P(live answer).
    pub live: f64,
    /// P(machine answer).
    pub machine: f64,
    /// P(busy, invalid or failure).
    pub quick: f64,
    /// Mean seconds to a quick failure.
    pub quick_mean_s: f64,
    /// Dial-to-answer time of answered calls.
    pub ring: Dist,
    /// Unanswered calls are cancelled after this many seconds.
    pub timeout_s: f64,
    /// Answer-to-verdict delay of call-progress analysis, when it runs: a live answer then
    /// needs its agent this long after the answer, and `live` is the share of dials with a
    /// human verdict.
    pub analysis: Option<Dist>,
}

/// Quantiles of the analysis delay the tables average over (like the wrap-up's in
/// [`talk_table`]): enough for a delay of a second or two against ring times of ten.
const ANALYSIS_QUANTILES: [f64; 5] = [0.1, 0.3, 0.5, 0.7, 0.9];

impl RingModel {
    /// Dial to "needs an agent" of a live answer: the ring time, plus the analysis delay when
    /// CPA runs (a lognormal with the sum's mean and variance: for the quantiles a decision
    /// looks at, not for the tables, which average over the delay's own quantiles).
    pub fn need_agent(&self) -> Dist {
        match &self.analysis {
            None => self.ring.clone(),
            Some(a) => {
                let mean = self.ring.mean() + a.mean();
                let sd = (self.ring.sd().powi(2) + a.sd().powi(2)).sqrt();
                Dist::lognormal(mean, sd.max(0.01 * mean)).unwrap_or(Dist::Constant { mean })
            }
        }
    }

    /// The analysis delay's quantiles (`[0]` without analysis).
    fn delays(&self) -> Vec<f64> {
        match &self.analysis {
            None => vec![0.0],
            Some(a) => ANALYSIS_QUANTILES.iter().map(|&q| a.quantile(q)).collect(),
        }
    }
}

/// Rows of 100 ms of ringing age `r`; columns: P(live answer needing an agent in (r, r + t] |
/// unresolved at r) for each `t` in `ts`, then (last column) P(live answer at all | unresolved
/// at r). With analysis a call answered at `R` needs its agent at `R + A` (`A` the analysis
/// delay, averaged over its quantiles); "unresolved" is still "not answered yet".
pub fn ring_table(m: &RingModel, ts: &[f64]) -> Table {
    let rows = (m.timeout_s * 10.0).ceil() as usize + 1;
    let fr = |t: f64| m.ring.cdf(t.min(m.timeout_s));
    let delays = m.delays();
    let fq = |t: f64| 1.0 - (-t / m.quick_mean_s.max(0.1)).exp();
    let mut data = Vec::with_capacity(rows * (ts.len() + 1));
    for r in 0..rows {
        let r = r as f64 / 10.0;
        let f = fr(r);
        let unresolved = (1.0 - m.live - m.machine - m.quick).max(0.0)
            + (m.live + m.machine) * (1.0 - f)
            + m.quick * (1.0 - fq(r));
        let u = unresolved.max(1e-12);
        for &t in ts {
            let mut by = 0.0;
            for &a in &delays {
                by += (fr(r + t - a) - f).max(0.0);
            }
            data.push((m.live * by / delays.len() as f64 / u).clamp(0.0, 1.0));
        }
        data.push((m.live * (fr(m.timeout_s) - f) / u).clamp(0.0, 1.0));
    }
    Table::new(ts.len() + 1, data)
}

/// Rows of 100 ms of analysis age `a` (time since the answer); columns: P(human verdict in
/// (a, a + t] | still analysing at a) for each `t` in `ts`, then P(human verdict at all |
/// still analysing) = `human`. The verdict is taken as independent of how long it took.
pub fn analysis_table(delay: &Dist, human: f64, ts: &[f64]) -> Table {
    let rows = ((delay.quantile(0.999) * 10.0).ceil() as usize + 2).clamp(16, 4096);
    let human = human.clamp(0.0, 1.0);
    let mut data = Vec::with_capacity(rows * (ts.len() + 1));
    for r in 0..rows {
        let a = r as f64 / 10.0;
        let fa = delay.cdf(a);
        let s = 1.0 - fa;
        for &t in ts {
            data.push(if s < 1e-12 {
                human
            } else {
                (human * (delay.cdf(a + t) - fa).max(0.0) / s).clamp(0.0, 1.0)
            });
        }
        data.push(human);
    }
    Table::new(ts.len() + 1, data)
}

/// Adds one Bernoulli(p) to a distribution of counts, in place.
pub fn pb_push(dist: &mut Vec<f64>, p: f64) {
    dist.push(0.0);
    for i in (1..dist.len()).rev() {
        dist[i] = dist[i] * (1.0 - p) + dist[i - 1] * p;
    }
    dist[0] *= 1.0 - p;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_track_ages() {
        let mut b = Buckets::default();
        b.add(10);
        b.add(10);
        b.add(12);
        b.age(100, 50);
        b.add(100);
        b.remove(10);
        let v: Vec<_> = b.iter(100, 50).collect();
        assert_eq!(v, vec![(50, 2), (0, 1)]);
        assert_eq!(b.total(), 3);
    }

    /// The sparse (key, count) representation the dense [`Buckets`] replaced, kept as the
    /// reference: both must report the same buckets, totals and aged-out counts.
    #[derive(Default)]
    struct Sparse {
        q: VecDeque<(u64, u32)>,
        old: u32,
    }

    impl Sparse {
        fn add(&mut self, key: u64) {
            let i = self.q.partition_point(|e| e.0 < key);
            if i < self.q.len() && self.q[i].0 == key {
                self.q[i].1 += 1;
            } else {
                self.q.insert(i, (key, 1));
            }
        }
        fn remove(&mut self, key: u64) {
            let i = self.q.partition_point(|e| e.0 < key);
            if i < self.q.len() && self.q[i].0 == key && self.q[i].1 > 0 {
                self.q[i].1 -= 1;
            } else {
                self.old = self.old.saturating_sub(1);
            }
            while matches!(self.q.front(), Some(&(_, 0))) {
                self.q.pop_front();
            }
        }
        fn age(&mut self, now_key: u64, max_age: u64) {
            while let Some(&(k, c)) = self.q.front() {
                if now_key.saturating_sub(k) > max_age {
                    self.old += c;
                    self.q.pop_front();
                } else {
                    break;
                }
            }
        }
        fn iter(&self, now_key: u64, max_age: u64) -> Vec<(usize, u32)> {
            let old = (self.old > 0).then_some((max_age as usize, self.old));
            old.into_iter()
                .chain(
                    self.q
                        .iter()
                        .filter(|e| e.1 > 0)
                        .map(|&(k, c)| (now_key.saturating_sub(k).min(max_age) as usize, c)),
                )
                .collect()
        }
    }

    /// A small deterministic generator for the randomised sequences below: 31 random bits.
    fn lcg(state: &mut u64) -> u64 {
        *state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        *state >> 33
    }

    #[test]
    fn dense_buckets_match_the_sparse_reference() {
        let (mut dense, mut sparse) = (Buckets::default(), Sparse::default());
        let mut live: Vec<u64> = Vec::new();
        let mut rng = 99u64;
        let mut now = 1_000u64;
        for step in 0..20_000u32 {
            let r = lcg(&mut rng);
            now += r % 3;
            match r % 7 {
                // Mostly current keys, sometimes out of order; removals of live and of unknown
                // keys (aged out or never added).
                0..=2 => {
                    let key = if r.is_multiple_of(11) {
                        now - r % 40
                    } else {
                        now
                    };
                    dense.add(key);
                    sparse.add(key);
                    live.push(key);
                }
                3..=4 if !live.is_empty() => {
                    let key = live.swap_remove((r as usize / 7) % live.len());
                    dense.remove(key);
                    sparse.remove(key);
                }
                5 => {
                    let key = now.saturating_sub(r % 200);
                    dense.remove(key);
                    sparse.remove(key);
                }
                _ => {
                    dense.age(now, 60);
                    sparse.age(now, 60);
                }
            }
            let want = sparse.iter(now, 60);
            assert_eq!(dense.iter(now, 60).collect::<Vec<_>>(), want, "step {step}");
            let mut visited = Vec::new();
            dense.visit(now, 60, |a, c| {
                visited.push((a, c));
                true
            });
            assert_eq!(visited, want, "step {step}");
        }
    }

    #[test]
    fn kept_group_sums_match_a_fresh_walk() {
        // A talk table whose young rows are zero (live_from > 0): nobody talks under 60 s.
        let talk = Dist::Uniform {
            min: 60.0,
            max: 400.0,
        };
        let t = talk_table(
            &talk,
            &Dist::Constant { mean: 30.0 },
            &[31.0, 35.0, 40.0],
            2.0,
        );
        assert!(t.live_from > 0);
        let max_age = 300;
        let mut g = AgentGroup::<3>::default();
        let mut live: Vec<u64> = Vec::new();
        let mut rng = 7u64;
        let mut now = 1_000u64;
        for step in 0..30_000u32 {
            let r = lcg(&mut rng);
            if r.is_multiple_of(13) {
                now += 1;
            }
            match r % 5 {
                0 | 1 => {
                    g.add(now, &t, max_age);
                    live.push(now);
                }
                2 if !live.is_empty() => {
                    let key = live.swap_remove((r as usize / 5) % live.len());
                    g.remove(key, &t, max_age);
                }
                // Removal of an item never added: nothing changes.
                3 if r.is_multiple_of(7) => g.remove(now.saturating_sub(r % 500), &t, max_age),
                _ => {
                    g.buckets.age(now, max_age);
                    let kept = g.sums(&t, now, max_age);
                    let fresh = walk::<0, 3>(&g.buckets, &t, now, max_age);
                    for k in 0..3 {
                        let (a, b) = ((kept.0[k], kept.1[k]), (fresh.0[k], fresh.1[k]));
                        assert!(
                            (a.0 - b.0).abs() < 1e-9 && (a.1 - b.1).abs() < 1e-9,
                            "{step}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn conditional_survival_grows_with_elapsed_time_for_lognormal() {
        let talk = Dist::lognormal(180.0, 120.0).unwrap();
        let t = talk_table(&talk, &Dist::Constant { mean: 30.0 }, &[44.0], 1.0);
        // Hardly anybody who just started talking frees within 44 s (30 s of it wrap-up).
        assert!(t.row(0)[0] < 0.01);
        assert!(t.row(300)[0] > t.row(100)[0]);
        let mut d = vec![1.0];
        pb_push(&mut d, 0.5);
        pb_push(&mut d, 0.5);
        assert_eq!(d, vec![0.25, 0.5, 0.25]);
    }
}
