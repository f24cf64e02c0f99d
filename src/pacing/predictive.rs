//! Predictive pacing: how many calls to launch now so that live answers meet the agents expected
//! to be free when they answer, with the campaign's abandon rate held under `target_abandon`.
//!
//! # Model
//! Let `D` be the patience (2 s), `p_L` the live-answer probability, `R` the dial-to-answer time
//! of answered calls, `H_talk`, `H_wrap` the talk and wrap-up times — all estimated online
//! ([`crate::pacing::estimate`]) from a prior. Consider launching one more call now. If it is
//! answered live at time `t` (distributed like `R`), it is abandoned when the agents free by
//! `t + D` are all taken by the calls queued before it:
//!
//! ```text
//! P_ab = E_t[ P( Free(t + D) ≤ Ahead(t) ) ]
//! Free(τ)  = idle + Σ_busy agents i  Bernoulli( P(rem_i ≤ τ | elapsed e_i) )
//! Ahead(t) = waiting + Σ_in-flight j Bernoulli( P(live answer in (r_j, r_j + t] | unresolved at r_j) )
//!          + n · Bernoulli(p_L F_R(t))           (the n calls launched before it in this decision)
//!          + Poisson(λ_in (t + D)) + reserve      (blended inbound load, see below)
//! ```
//! `rem_i` is the remaining talk plus a wrap-up (conditional survival of the fitted lognormal
//! talk time given the time already talked, convolved with the wrap-up at three quantiles), or the
//! remaining wrap-up for agents already wrapping. The expectation over `t` uses the 12.5/37.5/62.5/
//! 87.5 % quantiles of `R`. `P_ab` is the marginal abandon probability per live answer of that
//! call. Free and Ahead are Poisson-binomial: up to 64 outbound agents they are convolved exactly;
//! above, a normal approximation with continuity correction is used:
//! `P_ab ≈ Φ((E[Ahead] − E[Free] + ½) / √(Var Free + Var Ahead))`.
//!
//! # Decision
//! Launch calls one at a time while `P_ab(n) ≤ θ` (and the channel and `max_ratio` caps allow).
//! Because the inframarginal calls are safer than the last one, the campaign's average abandon
//! rate sits below `θ`; `θ` is a Lagrange-style price set by feedback ([`AbandonControl`]):
//! with `L` live answers and `A` abandons so far, goal `g = margin × target_abandon`,
//! `credit = g·L − A` (abandons still "allowed"), `θ = θ₀ · exp(credit / s)` with
//! `s = max(2, 0.03 g L)`, clamped to `[θ_min, θ_max]`. While `A ≥ 0.97 · target · L` (and `L` is
//! large enough to mean something) `θ = θ_min`: the dialler then only launches calls that are
//! almost surely covered, so the run-level rate comes back under the cap.
//!
//! A second, slower loop catches model bias that θ cannot price away (in pools of thousands
//! `Free` and `Ahead` are so sharp that a bias of a few agents moves `P_ab` by orders of
//! magnitude): every minute, if the last minute's abandon rate exceeded the cap while θ sat at its
//! floor, a calibration offset of `1 + 0.01 × active agents` is added to `Ahead`; it decays while
//! the recent rate is under half the goal ([`crate::pacing::Dialer`], `update_bias`).
//!
//! # Cold start
//! A campaign starts (and restarts) with priors only, and the regulation counts its 24 h / 30 day
//! rate, so the first minutes must stay under the cap too. Measured before this section existed
//! (small-team, 10 min, no warm-up, seeds 1–5): 1–7 abandons of 61–68 live answers, up to 10 %,
//! nearly all in the first 30 s; mid-team 15–27 of ~690. Causes and remedies:
//! - *The opening burst*: with every agent idle the dialler filled `max_ratio` lines at once,
//!   sized on the prior P(live) = 0.25 taken as exact (the trunk's was 0.29–0.35). `P_ab` now
//!   mixes over the estimate's uncertainty (`rel_sd` = `√((1−p)/(p n))`, all calls sharing it):
//!   three Gauss–Hermite nodes in the exact convolution, an added variance
//!   `(rel_sd · E[live answers ahead])²` in the normal approximation. Negligible once
//!   `n` ≈ 3,000 outcomes.
//! - *Survivorship*: early completed talks are the short ones (fitted 106–150 s for a true
//!   180 s), so agents looked free too soon. Talk and wrap-up fits use the durations still
//!   running as right-censored observations ([`crate::pacing::estimate::DurationFit::dist_censored`]).
//! - *The controller*: a short record cannot absorb noise (20 agents answer ~60 live calls in
//!   10 min: one abandon is 1.7 %, two break the cap), and the credit earned on the first, safe
//!   answers (idle agents) was spent at once — θ reached 0.45 after 20 s on 200 agents. Now
//!   (1) the controller aims at [`AbandonControl::allowed`] abandons: `margin · target · L`,
//!   but at most the `m` with `m + 1.5√m = target · L`, and θ₀ scales with that share (θ_min
//!   at `L` = 0: near-progressive); (2) until the team has completed twice its size in talks
//!   (at least 20; `warm` < 1) θ is capped at `θ_min + warm · θ₀` and credit cannot raise it;
//!   (3) positive credit raises θ by at most e²; (4) abandons already bought — the priced
//!   `p_L · P_ab` of calls still in flight — count against the credit, so one tick's purchase
//!   is not bought again on the next tick before its answers arrive.
//!
//! Measured after (same runs): small-team 0 abandons in 10 min for every seed (86.5–87.1 %
//! occupancy), 0–2 of 152–173 in 30 min; mid-team 13–20 of 656–697 (≤ 2.87 %) in 10 min,
//! 44–48 of ~1,850 in 30 min. The 8 h figures (10 min warm-up excluded) did not drop.
//!
//! All of the above still took the priors as roughly right, and a trunk far from them broke
//! the cap (issue 14: 61 % live after 6 s, 249 INVITEs in 10 s for 100 agents, 6.1 % abandon
//! over 3 minutes). The opening is now capped at the pessimistic end of what the data allows,
//! and a restart is seeded from the campaign's recent calls: [`crate::pacing::opening`].
//!
//! # Cost
//! Busy agents are bucketed by the second they entered their state and calls by the 100 ms they
//! were launched ([`crate::pacing::forecast::Buckets`]); conditional probabilities come from
//! tables rebuilt when the estimators are refitted. A decision is O(buckets × 5) plus O(n) for the
//! launches — about a thousand buckets for 9,000 agents. The agents' sums are kept between
//! decisions and walked afresh only when their bucket key moves (every 2 s for talk, 1 s for
//! wrap-up; [`crate::pacing::forecast::AgentGroup`]); the calls' 100 ms buckets are walked on
//! every decision. Φ comes from a table accurate to 1e-10 ([`crate::pacing::normal`]).
//!
//! # Supervisor parameters
//! - `target_abandon`: the cap (share of live answers). The controller aims at `margin` × cap
//!   (default 0.85) so noise does not push the run over.
//! - `max_ratio`: lines in use (ringing + waiting + connected) per active agent, a hard cap.
//! - `patience`: `D`, the horizon beyond the answer.
//! - inbound `service_level` / `service_time`: the blending reserve grows while inbound misses
//!   its objective and shrinks while it is met.
//!
//! # Team size
//! - 1 agent: Free is 0 or 1; a second call in flight would make `P_ab` ≈ `p_L` (≫ θ), so the
//!   dialler launches the next call only when the agent is idle or almost surely free by the
//!   answer: it degrades to progressive-like pacing without reserving the agent (measured on
//!   small-team's trunk with 1 agent: identical to progressive, 78 % occupancy, 0 abandons).
//! - 5 agents: the exact convolution matters; launches start only when agents near the end of
//!   their wrap-up are nearly certain to be free, and `θ` starts near θ_min and grows with the
//!   record (*Cold start*), so early abandons cannot push the run over the cap (measured:
//!   84.3 % occupancy at 2.1 % abandon, progressive 79.5 %; BENCHMARKS.md).
//! - 50 agents: many agents free every few seconds, the law of large numbers makes `Free` sharp,
//!   and the dialler keeps a small queue of calls in flight sized to the expected free agents
//!   (measured: 95 % occupancy at 2.6 % abandon, progressive 78 %).

use crate::pacing::dist::Dist;
use crate::pacing::forecast::{
    analysis_table, pb_push, ring_table, talk_table, walk, wrap_table, AgentGroup, Buckets,
    RingModel, Table,
};
use crate::pacing::normal;
use crate::pacing::Millis;

/// Number of answer-time quantiles in the expectation over `t`.
pub const K: usize = 4;
/// Columns: the K quantiles and the slack rule's horizon.
pub const COLS: usize = K + 1;
/// Largest age row of the agent tables.
const MAX_AGE: u64 = 8191;
/// Talking agents are bucketed by 2 s (their probabilities change slowly with elapsed time);
/// wrap-ups by 1 s (a constant wrap-up ends at an exact time); calls by 100 ms.
const TALK_UNIT_MS: u64 = 2_000;

/// Per-column sums of one decision.
#[derive(Clone, Debug, Default)]
pub struct Sums {
    /// E[Free(τ_k)].
    pub f_mean: [f64; COLS],
    /// Var[Free(τ_k)].
    pub f_var: [f64; COLS],
    /// E[Ahead(t_k)].
    pub a_mean: [f64; COLS],
    /// Var[Ahead(t_k)].
    pub a_var: [f64; COLS],
    /// P(a new call is answered live by t_k); last column P(live at all).
    pub q0: [f64; COLS],
    /// E[live answers by t_k of the calls in flight] (the part of `a_mean` that scales with the
    /// live-answer probability).
    pub a_live: [f64; COLS],
    /// Relative standard error of the live-answer probability (shared by every call).
    pub rel_sd: f64,
}

impl Sums {
    /// Marginal abandon probability of the (n+1)-th call launched now (normal approximation).
    pub fn marginal(&self, n: u32) -> f64 {
        let n = n as f64;
        let mut p = 0.0;
        for k in 0..K {
            let q = self.q0[k];
            let m = self.a_mean[k] + n * q - self.f_mean[k] + 0.5;
            // Every call shares the error of the estimated live-answer probability.
            let shared = self.rel_sd * (self.a_live[k] + n * q);
            let v = self.f_var[k] + self.a_var[k] + n * q * (1.0 - q) + shared * shared + 0.05;
            p += normal::cdf(m / v.sqrt());
        }
        p / K as f64
    }
    /// The reference slack rule's margin for the (n+1)-th call: F − A − n·p.
    pub fn slack(&self, n: u32) -> f64 {
        self.f_mean[K] - self.a_mean[K] - n as f64 * self.q0[K]
    }
}

/// Exact distributions for small teams: per column, P(Free = i) and P(Ahead = j), the latter
/// for each node of the live-probability mixture.
#[derive(Clone, Debug, Default)]
pub struct Exact {
    free_cdf: Vec<Vec<f64>>,
    /// Per node: (weight, live-probability factor, per column P(Ahead = j)).
    nodes: Vec<(f64, f64, Vec<Vec<f64>>)>,
    q0: [f64; COLS],
}

/// Three-point Gauss–Hermite rule: (weight, standard-normal node).
const GH3: [(f64, f64); 3] = [
    (2.0 / 3.0, 0.0),
    (1.0 / 6.0, -1.732_050_807_568_877_2),
    (1.0 / 6.0, 1.732_050_807_568_877_2),
];

/// The live-probability factors to mix over, given its relative standard error.
fn live_nodes(rel_sd: f64) -> Vec<(f64, f64)> {
    if rel_sd < 1e-3 {
        return vec![(1.0, 1.0)];
    }
    GH3.iter()
        .map(|&(w, z)| (w, (1.0 + z * rel_sd).max(0.0)))
        .collect()
}

impl Exact {
    /// Marginal abandon probability of the next call, then counts it as launched.
    pub fn marginal_and_push(&mut self, push: bool) -> f64 {
        let mut p = 0.0;
        for (w, f, ahead) in &mut self.nodes {
            for (k, (col, cdf)) in ahead.iter_mut().zip(&self.free_cdf).enumerate() {
                let mut s = 0.0;
                for (a, pa) in col.iter().enumerate() {
                    let fc = if a < cdf.len() { cdf[a] } else { 1.0 };
                    s += pa * fc;
                }
                p += *w * s;
                if push {
                    pb_push(col, (self.q0[k] * *f).min(1.0));
                }
            }
        }
        p / K as f64
    }
}

/// Busy agents and calls in flight, and the tables to turn them into probabilities.
#[derive(Clone, Debug, Default)]
pub struct Forecast {
    /// Outbound-capable agents talking on outbound calls, by start in 2 s.
    talk_out: AgentGroup<K>,
    /// Outbound-capable (blended) agents talking on inbound calls, by start in 2 s.
    talk_in: AgentGroup<K>,
    /// Outbound-capable agents in wrap-up, by start second.
    wrap: AgentGroup<K>,
    /// Unresolved outbound calls, by launch time in 100 ms.
    pub ringing: Buckets,
    /// Answered calls still in call-progress analysis, by answer time in 100 ms.
    pub analysing: Buckets,
    t_talk_out: Table,
    t_talk_in: Table,
    t_wrap: Table,
    t_ring: Table,
    /// P(human verdict by t | analysing for a): empty until analysis runs.
    t_analysis: Table,
    /// Answer-time quantiles t_k in seconds.
    pub ts: [f64; K],
    /// Horizons τ_k = t_k + D, and the mean ring time for the slack column.
    pub taus: [f64; COLS],
    /// Relative standard error of the live-answer probability the ring table was built with
    /// (0: treat it as exact).
    pub rel_sd: f64,
    fitted: bool,
}

/// The busy outbound-capable agents the forecast counts, by what they are doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Group {
    /// Talking on an outbound call (keyed by [`Forecast::talk_key`] of the start).
    TalkOut,
    /// Talking on an inbound call (keyed by [`Forecast::talk_key`] of the start).
    TalkIn,
    /// In wrap-up (keyed by the start second).
    Wrap,
}

/// (elapsed seconds, count) of durations still running.
pub type Censored = Vec<(f64, f64)>;

/// Fitted inputs of a refit.
pub struct Fitted<'a> {
    /// Outbound talk time.
    pub talk_out: &'a Dist,
    /// Inbound talk time (`None`: no inbound traffic, keep the old table).
    pub talk_in: Option<&'a Dist>,
    /// Wrap-up time.
    pub wrap: &'a Dist,
    /// Ring model.
    pub ring: &'a RingModel,
    /// Patience D in seconds.
    pub patience_s: f64,
    /// P(human verdict) of an analysed call (used when `ring.analysis` is set).
    pub analysis_human: f64,
}

impl Forecast {
    /// Rebuilds the tables from the current estimates.
    pub fn refit(&mut self, f: &Fitted) {
        // With call-progress analysis a live answer needs its agent after ring + analysis.
        let need = f.ring.need_agent();
        let latest = f.ring.timeout_s + f.ring.analysis.as_ref().map_or(0.0, |a| a.mean());
        for (k, t) in self.ts.iter_mut().enumerate() {
            *t = need.quantile((k as f64 + 0.5) / K as f64).min(latest);
        }
        for k in 0..K {
            self.taus[k] = self.ts[k] + f.patience_s;
        }
        self.taus[K] = need.mean().min(latest);
        self.t_talk_out = talk_table(f.talk_out, f.wrap, &self.taus, TALK_UNIT_MS as f64 / 1000.0);
        if let Some(t) = f.talk_in {
            self.t_talk_in = talk_table(t, f.wrap, &self.taus, TALK_UNIT_MS as f64 / 1000.0);
        } else if self.t_talk_in.data.is_empty() {
            self.t_talk_in = self.t_talk_out.clone();
        }
        self.t_wrap = wrap_table(f.wrap, &self.taus);
        self.t_ring = ring_table(f.ring, &self.ts);
        self.t_analysis = match &f.ring.analysis {
            Some(delay) => analysis_table(delay, f.analysis_human, &self.ts),
            None => Table::default(),
        };
        for g in [&mut self.talk_out, &mut self.talk_in, &mut self.wrap] {
            g.invalidate();
        }
        self.fitted = true;
    }

    /// Counts one agent entering `g` under `key`.
    pub fn add(&mut self, g: Group, key: u64) {
        let (group, table) = self.group(g);
        group.add(key, table, MAX_AGE);
    }

    /// Counts one agent leaving `g`; `key` is the one it entered under.
    pub fn remove(&mut self, g: Group, key: u64) {
        let (group, table) = self.group(g);
        group.remove(key, table, MAX_AGE);
    }

    fn group(&mut self, g: Group) -> (&mut AgentGroup<K>, &Table) {
        match g {
            Group::TalkOut => (&mut self.talk_out, &self.t_talk_out),
            Group::TalkIn => (&mut self.talk_in, &self.t_talk_in),
            Group::Wrap => (&mut self.wrap, &self.t_wrap),
        }
    }

    /// Bucket key of a talking agent that started at `t`.
    pub fn talk_key(t: Millis) -> u64 {
        t.0 / TALK_UNIT_MS
    }

    /// (elapsed seconds, count) of the agents talking on outbound calls at `now`, and of those
    /// in wrap-up: the durations still in progress, for a censoring-aware fit.
    pub fn in_progress(&self, now: Millis) -> (Censored, Censored) {
        let unit = TALK_UNIT_MS as f64 / 1000.0;
        let talk = self
            .talk_out
            .buckets
            .iter(Self::talk_key(now), MAX_AGE)
            .map(|(age, c)| (age as f64 * unit, c as f64))
            .collect();
        let wrap = self
            .wrap
            .buckets
            .iter(now.0 / 1000, MAX_AGE)
            .map(|(age, c)| (age as f64, c as f64))
            .collect();
        (talk, wrap)
    }

    /// Whether [`Forecast::refit`] ran.
    pub fn is_fitted(&self) -> bool {
        self.fitted
    }

    fn age(&mut self, now: Millis) {
        let s = now.0 / 1000;
        let t = Self::talk_key(now);
        self.talk_out.buckets.age(t, MAX_AGE);
        self.talk_in.buckets.age(t, MAX_AGE);
        self.wrap.buckets.age(s, MAX_AGE);
        self.ringing.age(now.0 / 100, self.t_ring.max_row() as u64);
        self.analysing
            .age(now.0 / 100, self.t_analysis.max_row() as u64);
    }

    /// Sums for a decision at `now`. `ahead0` is the count certainly ahead (waiting calls,
    /// waiting inbound calls, reserve); `lambda_in` the inbound arrival rate landing on
    /// outbound-capable agents.
    /// `slack` selects the slack rule's column only; otherwise the K quantile columns.
    pub fn sums(
        &mut self,
        now: Millis,
        idle: u32,
        ahead0: f64,
        lambda_in: f64,
        slack: bool,
    ) -> Sums {
        self.age(now);
        let mut s = Sums::default();
        if slack {
            for (b, t, key) in self.agent_buckets(now) {
                let (mean, var) = walk::<K, 1>(b, t, key, MAX_AGE);
                s.f_mean[K] += mean[0];
                s.f_var[K] += var[0];
            }
            let (mut mean, mut var) = self.ring_sums::<K, 1>(now);
            self.add_analysis_sums::<K, 1>(now, &mut mean, &mut var);
            (s.a_mean[K], s.a_var[K], s.a_live[K]) = (mean[0], var[0], mean[0]);
        } else {
            // The quantile columns of the agent groups: kept between key changes (AgentGroup).
            let (sec, tk) = (now.0 / 1000, Self::talk_key(now));
            for (g, t, key) in [
                (&mut self.talk_out, &self.t_talk_out, tk),
                (&mut self.talk_in, &self.t_talk_in, tk),
                (&mut self.wrap, &self.t_wrap, sec),
            ] {
                let (mean, var) = g.sums(t, key, MAX_AGE);
                for k in 0..K {
                    s.f_mean[k] += mean[k];
                    s.f_var[k] += var[k];
                }
            }
            let (mut mean, mut var) = self.ring_sums::<0, K>(now);
            self.add_analysis_sums::<0, K>(now, &mut mean, &mut var);
            s.a_mean[..K].copy_from_slice(&mean);
            s.a_var[..K].copy_from_slice(&var);
            // The ring table's values are all live answers.
            s.a_live[..K].copy_from_slice(&mean);
        }
        s.rel_sd = self.rel_sd;
        let row0 = self.t_ring.row(0);
        for k in 0..COLS {
            s.f_mean[k] += idle as f64;
            let inbound = if k < K { lambda_in * self.taus[k] } else { 0.0 };
            s.a_mean[k] += ahead0 + inbound;
            s.a_var[k] += inbound;
        }
        s.q0.copy_from_slice(&row0[..COLS]);
        s
    }

    /// Each agent group's buckets, the table of its probabilities and its bucket key at `now`,
    /// in the fixed order the sums add them.
    fn agent_buckets(&self, now: Millis) -> [(&Buckets, &Table, u64); 3] {
        let (sec, tk) = (now.0 / 1000, Self::talk_key(now));
        [
            (&self.talk_out.buckets, &self.t_talk_out, tk),
            (&self.talk_in.buckets, &self.t_talk_in, tk),
            (&self.wrap.buckets, &self.t_wrap, sec),
        ]
    }

    /// `Σ c·q` and `Σ c·q·(1 − q)` of the calls in flight for columns `C0..C0 + N` of the ring
    /// table. Walked on every decision: its 100 ms keys move on every tick.
    #[inline(always)]
    fn ring_sums<const C0: usize, const N: usize>(&self, now: Millis) -> ([f64; N], [f64; N]) {
        let ring_max = self.t_ring.max_row() as u64;
        walk::<C0, N>(&self.ringing, &self.t_ring, now.0 / 100, ring_max)
    }

    /// Adds the calls in analysis to sums of the ring table's columns `C0..C0 + N` (the
    /// analysis table has the same columns).
    #[inline(always)]
    fn add_analysis_sums<const C0: usize, const N: usize>(
        &self,
        now: Millis,
        mean: &mut [f64; N],
        var: &mut [f64; N],
    ) {
        if self.analysing.total() == 0 || self.t_analysis.data.is_empty() {
            return;
        }
        let max = self.t_analysis.max_row() as u64;
        let (m, v) = walk::<C0, N>(&self.analysing, &self.t_analysis, now.0 / 100, max);
        for k in 0..N {
            mean[k] += m[k];
            var[k] += v[k];
        }
    }

    /// Exact Poisson-binomial distributions for a small team (same inputs as [`Forecast::sums`]).
    pub fn exact(&mut self, now: Millis, idle: u32, ahead0: f64, lambda_in: f64) -> Exact {
        self.age(now);
        let mut ex = Exact::default();
        for k in 0..K {
            let mut free = vec![1.0];
            for (b, t, key) in self.agent_buckets(now) {
                for (age, c) in b.iter(key, MAX_AGE) {
                    if age < t.live_from {
                        break;
                    }
                    let p = t.row(age)[k];
                    for _ in 0..c {
                        pb_push(&mut free, p);
                    }
                }
            }
            let mut cdf = vec![0.0; idle as usize];
            let mut acc = 0.0;
            for p in free {
                acc += p;
                cdf.push(acc);
            }
            ex.free_cdf.push(cdf);
        }
        let ring_max = self.t_ring.max_row() as u64;
        for (w, f) in live_nodes(self.rel_sd) {
            let mut per_col = Vec::with_capacity(K);
            for k in 0..K {
                let mut ahead = vec![0.0; ahead0.round().max(0.0) as usize];
                ahead.push(1.0);
                for (age, c) in self.ringing.iter(now.0 / 100, ring_max) {
                    let q = (self.t_ring.row(age)[k] * f).min(1.0);
                    for _ in 0..c {
                        pb_push(&mut ahead, q);
                    }
                }
                if !self.t_analysis.data.is_empty() {
                    let max = self.t_analysis.max_row() as u64;
                    for (age, c) in self.analysing.iter(now.0 / 100, max) {
                        let q = (self.t_analysis.row(age)[k] * f).min(1.0);
                        for _ in 0..c {
                            pb_push(&mut ahead, q);
                        }
                    }
                }
                let m = lambda_in * self.taus[k];
                if m > 1e-9 {
                    ahead = convolve_poisson(&ahead, m);
                }
                per_col.push(ahead);
            }
            ex.nodes.push((w, f, per_col));
        }
        let row0 = self.t_ring.row(0);
        ex.q0[..COLS].copy_from_slice(&row0[..COLS]);
        ex
    }
}

fn convolve_poisson(d: &[f64], m: f64) -> Vec<f64> {
    let n = (m + 6.0 * m.sqrt() + 4.0).ceil() as usize;
    let mut pois = Vec::with_capacity(n);
    let mut p = (-m).exp();
    for i in 0..n {
        pois.push(p);
        p *= m / (i + 1) as f64;
    }
    let mut out = vec![0.0; d.len() + n];
    for (i, a) in d.iter().enumerate() {
        for (j, b) in pois.iter().enumerate() {
            out[i + j] += a * b;
        }
    }
    out
}

/// Smallest and largest price of an abandon.
pub const THETA_MIN: f64 = 0.002;
/// Largest marginal abandon probability ever accepted.
pub const THETA_MAX: f64 = 0.5;

/// The feedback that sets θ from the campaign's abandon record.
#[derive(Clone, Debug)]
pub struct AbandonControl {
    /// The cap.
    pub target: f64,
    /// Share of the cap aimed at.
    pub margin: f64,
    /// θ when the record is exactly on goal, as a multiple of the target.
    pub theta0_factor: f64,
}

/// Confidence (in Poisson standard deviations) with which the cumulative record is kept under
/// the cap while it is short: see [`AbandonControl::allowed`].
pub const RECORD_Z: f64 = 1.5;

impl AbandonControl {
    /// θ given `live` answers and `abandoned` calls so far, fully warmed up.
    pub fn theta(&self, live: u64, abandoned: u64) -> f64 {
        self.theta_warming(live, abandoned as f64, 1.0)
    }

    /// Abandons the controller aims at after `live` answers: `margin · target · live`, but no
    /// more than the `m` with `m + z√m = target · live` (z = [`RECORD_Z`]), so that Poisson
    /// noise on a short record stays under the cap. 0 at 0 live answers; 0.9 of 60 (20
    /// agents, ten minutes), 17 of 700; `margin · target · live` from about 2,800 on.
    pub fn allowed(&self, live: u64) -> f64 {
        let cap = self.target * live as f64;
        let z = RECORD_Z;
        let root = (-z + (z * z + 4.0 * cap).sqrt()) / 2.0;
        (root * root).min(self.margin * cap)
    }

    /// θ given `live` answers and `abandoned` calls so far (abandons already bought with calls
    /// still in flight included, so a fraction), and `warm` ∈ [0, 1]: how far the estimates are
    /// from their cold-start priors (see the module doc, *Cold start*).
    pub fn theta_warming(&self, live: u64, abandoned: f64, warm: f64) -> f64 {
        let goal = self.margin * self.target;
        let l = live as f64;
        let a = abandoned;
        if l >= 1.0 / self.target && a >= 0.97 * self.target * l {
            return THETA_MIN;
        }
        let allowed = self.allowed(live);
        // θ₀ in proportion to the rate aimed at: THETA_MIN (near-progressive) at 0 answers.
        let share = if l > 0.0 { allowed / (goal * l) } else { 0.0 };
        let theta0 = self.theta0_factor * self.target * share;
        let s = (0.03 * goal * l).max(2.0);
        let warm = warm.clamp(0.0, 1.0);
        // Credit earned is spent at most e² times θ₀, and not at all before the estimates
        // are warm: the calls launched on it are answered seconds later, all at once.
        let credit = (allowed - a).min(2.0 * s * warm);
        let cap = if warm < 1.0 {
            THETA_MIN + warm * theta0
        } else {
            THETA_MAX
        };
        (theta0 * (credit / s).exp()).clamp(THETA_MIN, cap.max(THETA_MIN))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controller_tightens_when_over_goal() {
        let c = AbandonControl {
            target: 0.03,
            margin: 0.85,
            theta0_factor: 2.0,
        };
        let on_goal = c.theta(1000, 25);
        assert!(c.theta(1000, 10) > on_goal);
        assert!(c.theta(1000, 28) < on_goal);
        assert_eq!(c.theta(1000, 31), THETA_MIN);
    }

    #[test]
    fn cold_start_is_near_progressive() {
        let c = AbandonControl {
            target: 0.03,
            margin: 0.85,
            theta0_factor: 1.0,
        };
        assert_eq!(c.theta(0, 0), THETA_MIN);
        assert!(c.theta_warming(200, 0.0, 0.0) <= THETA_MIN);
        // A short record aims below margin × target, a long one at it.
        assert!(c.allowed(60) < 1.0);
        assert!((c.allowed(5000) - 0.85 * 0.03 * 5000.0).abs() < 1e-9);
        // Warm estimates: θ grows with the record.
        assert!(c.theta(60, 0) < c.theta(600, 0));
    }

    #[test]
    fn exact_and_normal_agree_for_a_large_pool() {
        let mut f = Forecast::default();
        let ring = RingModel {
            live: 0.3,
            machine: 0.1,
            quick: 0.12,
            quick_mean_s: 2.5,
            ring: Dist::lognormal(12.0, 6.0).unwrap(),
            timeout_s: 25.0,
            analysis: None,
        };
        let talk = Dist::lognormal(180.0, 120.0).unwrap();
        let wrap = Dist::Constant { mean: 30.0 };
        f.refit(&Fitted {
            talk_out: &talk,
            talk_in: Some(&talk),
            wrap: &wrap,
            ring: &ring,
            patience_s: 2.0,
            analysis_human: 1.0,
        });
        let now = Millis(1_000_000);
        for i in 0..60u64 {
            f.add(
                Group::TalkOut,
                Forecast::talk_key(Millis(1_000_000 - i * 5_000)),
            );
        }
        for i in 0..20u64 {
            f.ringing.add(10_000 - i * 3);
        }
        let s = f.sums(now, 0, 0.0, 0.0, false);
        let mut e = f.exact(now, 0, 0.0, 0.0);
        let (pn, pe) = (s.marginal(0), e.marginal_and_push(false));
        assert!((pn - pe).abs() < 0.05, "normal {pn} exact {pe}");
        assert!(s.marginal(5) > s.marginal(0));
    }
}
