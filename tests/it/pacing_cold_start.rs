//! Cold start: a campaign under predictive pacing starts with priors only (and the live engine
//! restarts campaigns), while the regulation counts the campaign's 24 h / 30 day rate — so the
//! first minutes must stay under the abandon cap too. Small and mid teams, no warm-up excluded,
//! 10 and 30 minutes, seeds 1–5.

use std::path::Path;
use std::time::Duration;

use outdial::pacing::Mode;
use outdial::sim::{run_strategy, RunOptions, Scenario};
use outdial::yaml::Dur;

fn shipped(name: &str) -> Scenario {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("sim/{name}.yaml"));
    Scenario::load(&path).unwrap()
}

#[test]
fn predictive_stays_under_the_cap_from_the_first_minute() {
    for name in ["small-team", "mid-team"] {
        for minutes in [10, 30] {
            let mut sc = shipped(name);
            sc.duration = Dur(Duration::from_secs(minutes * 60));
            sc.warmup = Dur(Duration::ZERO);
            for seed in 1..=5 {
                let r = run_strategy(
                    &sc,
                    "predictive",
                    Mode::Predictive,
                    seed,
                    &RunOptions::default(),
                )
                .unwrap();
                // 20 agents answer about 60 live calls in ten minutes: the test means something.
                assert!(
                    r.live_answers >= 50,
                    "{name} {minutes} min seed {seed}: {r:?}"
                );
                assert!(
                    r.abandon_rate <= sc.target_abandon,
                    "{name} {minutes} min seed {seed}: {} abandoned of {} live ({:.4}) over {}",
                    r.abandoned,
                    r.live_answers,
                    r.abandon_rate,
                    sc.target_abandon
                );
            }
        }
    }
}
