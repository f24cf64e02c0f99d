//! Simulator speed on large-centre (8 h, 3,000 blended agents, four strategies), one strategy at
//! a time so wall times are not shared between threads: events, wall seconds and events/s.
//! Targets (BENCHMARKS.md): ≥ 5 M events/s, < 5 s per strategy.
//!
//! Run: `cargo bench --bench sim_speed`. Peak memory: `/usr/bin/time -v target/release/outdial
//! sim sim/large-centre.yaml` (maximum resident set size).

use std::path::Path;

use outdial::pacing::Mode;
use outdial::sim::{run_strategy, RunOptions, Scenario};

fn main() {
    // `cargo test --all-targets` runs bench targets too; only `cargo bench` (which passes
    // `--bench`) should spend seconds on a full 8 h large-centre run.
    if !std::env::args().any(|a| a == "--bench") {
        println!("sim_speed: run with `cargo bench --bench sim_speed`");
        return;
    }
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("sim/large-centre.yaml");
    let sc = Scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
    println!(
        "{:<12} {:>10} {:>8} {:>12} {:>9} {:>8}",
        "strategy", "events", "wall_s", "events/s", "occupancy", "abandon%"
    );
    for name in &sc.strategies {
        let mode: Mode = name.parse().unwrap_or_else(|e| panic!("{e}"));
        let r = run_strategy(&sc, name, mode, sc.seed, &RunOptions::default())
            .unwrap_or_else(|e| panic!("{e}"));
        println!(
            "{:<12} {:>10} {:>8.2} {:>12.0} {:>9.4} {:>8.3}",
            name,
            r.events,
            r.wall_s,
            r.events as f64 / r.wall_s,
            r.occupancy,
            r.abandon_rate * 100.0
        );
    }
}
