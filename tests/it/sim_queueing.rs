//! The simulator reproduces queueing theory: Erlang B (patience 0) and M/M/c+D (patience 2 s)
//! under blind Poisson dialling (`rate:λ`), against the formulas of pacing.md.
//!
//! Tolerances: each case runs `SEEDS` independent seeds (8 h each, 10 min warm-up) and compares
//! the mean over seeds with the formula, allowing 4 standard errors of that mean estimated from
//! the spread between seeds. Between-seed spread (rather than a binomial SE over live answers)
//! accounts for the autocorrelation of abandons inside one run (they come in busy periods).

use outdial::pacing::Mode;
use outdial::sim::{run_strategy, RunOptions, Scenario};

const SEEDS: u64 = 12;
const P_LIVE: f64 = 0.30;

fn scenario(agents: u32, talk: &str, patience: &str) -> Scenario {
    let text = format!(
        "name: queueing
duration: 8h
warmup: 10m
agents: {agents}
patience: {patience}
talk_time: {talk}
trunk:
  channels: 100000
  live_answer: {P_LIVE}
  machine: 0.10
  busy: 0.10
  invalid: 0.02
  ring_time: {{dist: uniform, min: 2s, max: 20s}}
  no_answer_timeout: 25s
"
    );
    Scenario::parse("queueing.yaml", &text).unwrap()
}

/// (mean, standard error of the mean) of abandon rate and occupancy over seeds.
fn measure(sc: &Scenario, per_s: f64) -> ((f64, f64), (f64, f64)) {
    let mode = Mode::Rate { per_s };
    let runs: Vec<(f64, f64)> = (1..=SEEDS)
        .map(|seed| {
            let r = run_strategy(sc, "rate", mode, seed, &RunOptions::default()).unwrap();
            (r.abandon_rate, r.occupancy)
        })
        .collect();
    let stat = |f: fn(&(f64, f64)) -> f64| {
        let n = runs.len() as f64;
        let m = runs.iter().map(f).sum::<f64>() / n;
        let var = runs.iter().map(|x| (f(x) - m).powi(2)).sum::<f64>() / (n - 1.0);
        (m, (var / n).sqrt())
    };
    (stat(|x| x.0), stat(|x| x.1))
}

fn erlang_b(c: u32, a: f64) -> f64 {
    (1..=c).fold(1.0, |b, k| a * b / (k as f64 + a * b))
}

fn mmcd(c: u32, lam: f64, h: f64, d: f64) -> f64 {
    let mu = 1.0 / h;
    let a = lam / mu;
    let mut terms = vec![1.0f64];
    for n in 1..c {
        let last = terms[terms.len() - 1];
        terms.push(last * a / n as f64);
    }
    let p = terms[c as usize - 1];
    let g = c as f64 * mu - lam;
    let wait = lam * p * (1.0 - (-g * d).exp()) / g;
    let tail = lam * p * (-g * d).exp() / (c as f64 * mu);
    tail / (terms.iter().sum::<f64>() + wait + tail)
}

fn check(name: &str, got: (f64, f64), want: f64) {
    let tol = 4.0 * got.1;
    assert!(
        (got.0 - want).abs() <= tol,
        "{name}: simulated {:.5} ± {:.5} (4 SE), formula {want:.5}",
        got.0,
        tol
    );
}

#[test]
fn erlang_b_loss_system_for_three_team_sizes() {
    // (agents, offered load a = λ p h, talk time with mean h = 120 s): B is insensitive to the
    // talk-time distribution beyond its mean, so each case uses a different one.
    let cases = [
        (5, 3.0, "{dist: uniform, min: 60s, max: 180s}"),
        (20, 18.0, "{dist: lognormal, mean: 120s, sd: 90s}"),
        (50, 45.0, "{dist: constant, mean: 120s}"),
    ];
    for (c, a, talk) in cases {
        let sc = scenario(c, talk, "0s");
        let per_s = a / (P_LIVE * 120.0);
        let (ab, occ) = measure(&sc, per_s);
        let b = erlang_b(c, a);
        check(&format!("B({c}, {a}) abandon"), ab, b);
        check(
            &format!("B({c}, {a}) occupancy"),
            occ,
            a * (1.0 - b) / c as f64,
        );
    }
}

#[test]
fn mmcd_with_two_seconds_patience() {
    // Exponential talk (h = 120 s), patience D = 2 s, answered-call rate λ' = λ p.
    for (c, lam_answered) in [(20u32, 0.15), (10, 0.07)] {
        let sc = scenario(c, "{dist: exponential, mean: 120s}", "2s");
        let (ab, _) = measure(&sc, lam_answered / P_LIVE);
        check(
            &format!("M/M/{c}+D abandon"),
            ab,
            mmcd(c, lam_answered, 120.0, 2.0),
        );
    }
}
