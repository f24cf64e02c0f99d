//! The simulator's `trunk.analysis` (issue 18): the analysis delay shows in the time to
//! connect, and its confusion matrix in the abandons.

use outdial::pacing::Mode;
use outdial::sim::{self, RunOptions, Scenario};

const DELAY_MEAN: f64 = 1.5;
const DELAY_SD: f64 = 0.5;
const P_PERSON_AS_MACHINE: f64 = 0.03;

fn scenario(agents: u32) -> Scenario {
    let text = format!(
        "name: cpa
duration: 3h
warmup: 10m
agents: {agents}
patience: 2s
talk_time: {{dist: lognormal, mean: 120s, sd: 60s}}
wrap_time: {{dist: constant, mean: 20s}}
trunk:
  channels: 1000
  live_answer: 0.30
  machine: 0.30
  busy: 0.10
  ring_time: {{dist: lognormal, mean: 10s, sd: 5s}}
  analysis:
    delay: {{dist: lognormal, mean: {DELAY_MEAN}s, sd: {}ms}}
    confusion:
      person: {{human: {}, machine: {P_PERSON_AS_MACHINE}, other: 0.0}}
      machine: {{human: 0.10, machine: 0.90, other: 0.0}}
target_abandon: 0.03
strategies: [progressive, predictive]
",
        DELAY_SD * 1000.0,
        1.0 - P_PERSON_AS_MACHINE,
    );
    Scenario::parse("cpa.yaml", &text).expect("scenario parses")
}

#[test]
fn time_to_connect_rises_by_about_the_analysis_delay() {
    let sc = scenario(40);
    let strategies = ["progressive".to_string(), "predictive".to_string()];
    let r = sim::run(&sc, &strategies, 3, 2, &RunOptions::default()).expect("run");
    for x in &r.results {
        let without = x.without_analysis.expect("run without analysis too");
        // Connected calls: at least a thousand; the mean delay over them is known to within
        // DELAY_SD / √n. Progressive has no wait at all; predictive's waits (tens of ms) may
        // differ between the two runs, by at most their own size.
        let n = x.live_answers as f64 * 0.9;
        let se = DELAY_SD / n.sqrt();
        let added = x.time_to_connect_s - without.time_to_connect_s;
        let slack = if x.strategy == "progressive" {
            0.0
        } else {
            x.mean_wait_s.max(without.time_to_connect_s) + 0.05
        };
        assert!(
            (added - DELAY_MEAN).abs() < 4.0 * se + slack,
            "{}: +{added:.3} s (with {:.3}, without {:.3})",
            x.strategy,
            x.time_to_connect_s,
            without.time_to_connect_s
        );
        assert!(x.time_to_connect_s > without.time_to_connect_s);
    }
}

#[test]
fn people_classified_as_machines_are_counted_with_the_abandons() {
    let sc = scenario(40);
    let x = sim::run_strategy(
        &sc,
        "progressive",
        Mode::Progressive,
        5,
        &RunOptions::default(),
    )
    .expect("run");
    // Progressive never abandons: every person not connected was hung up on by analysis.
    assert_eq!(x.abandoned, 0);
    let n = x.live_answers as f64;
    let share = x.amd_false_positives as f64 / n;
    // Binomial: P(machine | person) = 0.03 over n people, 4 standard errors.
    let se = (P_PERSON_AS_MACHINE * (1.0 - P_PERSON_AS_MACHINE) / n).sqrt();
    assert!(
        (share - P_PERSON_AS_MACHINE).abs() < 4.0 * se,
        "{} of {n}",
        x.amd_false_positives
    );
    assert!((x.abandon_rate - share).abs() < 1e-12);
    // The same run without analysis hangs up on nobody.
    let mut bare = sc.clone();
    bare.trunk.analysis = None;
    let y = sim::run_strategy(
        &bare,
        "progressive",
        Mode::Progressive,
        5,
        &RunOptions::default(),
    )
    .expect("run");
    assert_eq!((y.amd_false_positives, y.abandon_rate), (0, 0.0));
}

#[test]
fn a_confusion_row_that_is_not_a_distribution_is_refused_with_its_field() {
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("sim/mid-team-cpa.yaml"),
    )
    .expect("shipped scenario");
    assert!(Scenario::parse("mid-team-cpa.yaml", &text).is_ok());
    let bad = text.replace("machine: {human: 0.10,", "machine: {human: 0.20,");
    let e = Scenario::parse("mid-team-cpa.yaml", &bad)
        .expect_err("row adds up to 1.1")
        .to_string();
    assert!(
        e.contains("mid-team-cpa.yaml:") && e.contains("trunk.analysis.confusion.machine.human"),
        "{e}"
    );
}

/// The campaign's abandon figure as the cap counts it: (abandons + estimated people hung up
/// on as machines) / (live answers + those), and the count it is over.
fn figure(x: &sim::StrategyResult) -> (f64, f64) {
    let n = x.live_answers as f64 + x.estimated_false_positives;
    (
        (x.abandoned as f64 + x.estimated_false_positives) / n.max(1.0),
        n,
    )
}

#[test]
fn adaptive_and_predictive_keep_abandons_plus_estimated_false_positives_under_the_cap() {
    // Machines answer as often as people and the detector's estimate of the people it hangs
    // up on is about 1.9 % of the live answers: two thirds of the 3 % budget before any
    // abandon. Adaptive used to steer its abandons alone to 3 % (4.61 % with the estimate on
    // mid-team-cpa).
    let sc = scenario(40);
    for (name, mode) in [
        ("adaptive", "adaptive".parse::<Mode>().expect("mode")),
        ("predictive", Mode::Predictive),
    ] {
        for seed in 1..=3 {
            let x = sim::run_strategy(&sc, name, mode, seed, &RunOptions::default()).expect("run");
            let (rate, n) = figure(&x);
            // The cap with the sampling error of a proportion near it over n answers
            // (one-sided 99 %): a controller at the cap exceeds this one run in a hundred.
            let cap = 0.03 + 2.326 * (0.03 * 0.97 / n).sqrt();
            println!(
                "{name} seed {seed}: abandoned {} + estimated fp {:.1} over {} live: {:.2} % (allowed {:.2} %)",
                x.abandoned,
                x.estimated_false_positives,
                x.live_answers,
                rate * 100.0,
                cap * 100.0
            );
            assert!(
                x.estimated_false_positives > 0.01 * n,
                "{name}: the estimate is there"
            );
            assert!(
                rate <= cap,
                "{name} seed {seed}: {:.2} % > {:.2} %",
                rate * 100.0,
                cap * 100.0
            );
        }
    }
}
