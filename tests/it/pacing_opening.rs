//! The opening of a campaign on a trunk unlike the built-in priors (issue 14, point 1): a fresh
//! campaign must hold the abandon cap from the first minute whatever the trunk does — live
//! answer 5 % to 85 %, ring 2 s or 25 s, talk 20 s or 10 min — for 5 to 500 agents.
//!
//! # Design
//! Five factors (live answer 4 levels, agents 4, ring 2, talk 2, length 10 / 30 min) are covered
//! by eight runs in which every level of every factor appears at least twice, and every pair of
//! live answer × ring, live answer × talk and agents × ring levels appears once (a full grid
//! would be 128 runs). Predictive runs every scenario for its length; adaptive, the VICIdial
//! baseline, for its first minute — the opening, under the same safe cap. Past the opening its
//! reactive dial-level feedback is VICIdial's and can exceed the cap on these trunks (measured on
//! the 0.6 / 2 s / 20 s / 100-agent trunk: 21 abandons of 510 live answers over 3 minutes, all
//! after the cap released it); that is the baseline's known weakness, not the opening's.
//!
//! # Tolerance
//! The cap is asserted as in `pacing_cold_start.rs`: abandoned ≤ target × live answers, no
//! allowance — the regulation has none. A run where that means "no abandon at all" (fewer than
//! 1 / target live answers) is still a test: before this work, the opening wave alone abandoned
//! tens of calls. Each run must also have answered enough live calls for the figure to mean
//! something (at least 3 per agent-team turn the scenario allows, see `min_live`).

use std::time::Duration;

use outdial::pacing::dist::Dist;
use outdial::pacing::Mode;
use outdial::sim::{run_strategy, InboundSpec, RunOptions, Scenario, TrunkSpec};
use outdial::yaml::Dur;

/// One run of the covering design.
#[derive(Clone, Copy, Debug)]
struct Case {
    live: f64,
    ring_s: f64,
    talk_s: f64,
    agents: u32,
    minutes: u64,
}

/// The eight runs (see the module doc).
const CASES: [Case; 8] = [
    Case {
        live: 0.05,
        ring_s: 2.0,
        talk_s: 20.0,
        agents: 5,
        minutes: 10,
    },
    Case {
        live: 0.05,
        ring_s: 25.0,
        talk_s: 600.0,
        agents: 100,
        minutes: 30,
    },
    Case {
        live: 0.30,
        ring_s: 2.0,
        talk_s: 600.0,
        agents: 20,
        minutes: 30,
    },
    Case {
        live: 0.30,
        ring_s: 25.0,
        talk_s: 20.0,
        agents: 500,
        minutes: 10,
    },
    Case {
        live: 0.60,
        ring_s: 2.0,
        talk_s: 20.0,
        agents: 100,
        minutes: 10,
    },
    Case {
        live: 0.60,
        ring_s: 25.0,
        talk_s: 600.0,
        agents: 5,
        minutes: 30,
    },
    Case {
        live: 0.85,
        ring_s: 2.0,
        talk_s: 600.0,
        agents: 500,
        minutes: 30,
    },
    Case {
        live: 0.85,
        ring_s: 25.0,
        talk_s: 20.0,
        agents: 20,
        minutes: 10,
    },
];

/// A fresh campaign on the case's trunk: busy 10 %, invalid 3 %, trunk failure 2 % (less when
/// the live answers leave no room), the rest rings out after 45 s; 10 s wrap-up; no warm-up.
fn scenario(c: Case, minutes: u64) -> Scenario {
    let rest = 1.0 - c.live;
    let busy = (0.10f64).min(rest);
    let invalid = (0.03f64).min(rest - busy);
    let failure = (0.02f64).min(rest - busy - invalid);
    let lognormal = |mean: f64| Dist::lognormal(mean, mean / 2.0).expect("valid lognormal");
    Scenario {
        name: format!("opening {c:?}"),
        seed: 1,
        duration: Dur(Duration::from_secs(minutes * 60)),
        warmup: Dur(Duration::ZERO),
        agents: c.agents,
        inbound_agents: None,
        outbound_agents: Some(c.agents),
        patience: Dur(Duration::from_secs(2)),
        talk_time: lognormal(c.talk_s),
        wrap_time: Dist::Constant { mean: 10.0 },
        trunk: TrunkSpec {
            channels: c.agents * 10,
            live_answer: c.live,
            machine: 0.0,
            busy,
            invalid,
            failure,
            ring_time: lognormal(c.ring_s),
            no_answer_timeout: Dur(Duration::from_secs(45)),
        },
        inbound: InboundSpec::default(),
        target_abandon: 0.03,
        strategies: Vec::new(),
    }
}

/// Live answers a run must reach to count: a quarter of what the team could talk through at
/// full occupancy, or of what `max_ratio` (3) lines per agent can bring in at this trunk's
/// line-holding time, whichever is less.
fn min_live(c: Case) -> u64 {
    let secs = c.minutes as f64 * 60.0;
    let team = c.agents as f64 * secs / (c.talk_s + 10.0 + c.ring_s);
    let hold = c.live * (c.ring_s + c.talk_s) + (0.85 - c.live).max(0.0) * 45.0 + 0.15 * 2.5;
    let lines = 3.0 * c.agents as f64 * secs / hold * c.live;
    (team.min(lines) / 4.0).floor() as u64
}

#[test]
fn a_fresh_campaign_holds_the_cap_from_the_first_minute_whatever_the_trunk() {
    let mut failures = Vec::new();
    for c in CASES {
        for (name, mode, minutes) in [
            ("predictive", Mode::Predictive, c.minutes),
            // Adaptive (the VICIdial baseline) is held to the opening only: once warm, its
            // reactive feedback is the baseline's own (see the module doc).
            ("adaptive", "adaptive".parse().expect("a mode"), 1),
        ] {
            let c = Case { minutes, ..c };
            let sc = scenario(c, minutes);
            let r = run_strategy(&sc, name, mode, 1, &RunOptions::default()).expect("runs");
            let line = format!(
                "{name} {c:?}: {} abandoned of {} live ({:.2} %), {} dials, occupancy {:.1} %",
                r.abandoned,
                r.live_answers,
                100.0 * r.abandon_rate,
                r.dials,
                100.0 * r.occupancy
            );
            eprintln!("{line}");
            if r.live_answers < min_live(c) {
                failures.push(format!("too few live answers (< {}): {line}", min_live(c)));
            }
            if r.abandoned as f64 > sc.target_abandon * r.live_answers as f64 {
                failures.push(line);
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn a_fresh_campaign_dials_at_most_one_call_per_agent_before_any_outcome() {
    // The first 1.5 s: no call has rung long enough to be answered (ring ≥ 2 s here is a
    // lognormal, so a few may be; none of the first wave has resolved the live-answer rate).
    for c in CASES {
        let mut sc = scenario(c, 1);
        sc.duration = Dur(Duration::from_millis(300));
        for (name, mode) in [
            ("predictive", Mode::Predictive),
            ("adaptive", "adaptive".parse().expect("a mode")),
        ] {
            let r = run_strategy(&sc, name, mode, 1, &RunOptions::default()).expect("runs");
            assert!(
                r.dials <= c.agents as u64,
                "{name} {c:?}: {} calls in the first 300 ms for {} agents",
                r.dials,
                c.agents
            );
        }
    }
}
