//! A bounded mutation probe of the three config file kinds (issue 15 point 6): a few hundred
//! mutants each of the shipped campaign files, the example engine config and the scenarios
//! (extreme numbers and durations, deleted, doubled and swapped lines, YAML punctuation, bytes
//! cut off) from a fixed seed. None may panic; every refusal names a line or a field; whatever is
//! accepted can be used (agents expanded, a simulation of a few minutes run) without panicking.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use outdial::campaign::Campaign;
use outdial::engine::config::EngineConfig;
use outdial::pacing::Mode;
use outdial::sim::{run_strategy, RunOptions, Scenario};
use outdial::yaml::{Dur, YamlError};
use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64;

const MUTANTS_PER_FILE: usize = 60;

const NUMBERS: [&str; 12] = [
    "0",
    "-1",
    "1",
    "4294967295",
    "4294967296",
    "18446744073709551616",
    "1e308",
    "-1e308",
    ".nan",
    ".inf",
    "5e-324",
    "100000000",
];
const DURATIONS: [&str; 9] = [
    "0s",
    "1ns",
    "100000h",
    "584542046090y",
    "300000000000y",
    "3650d",
    "3651d",
    "-5s",
    "1e3s",
];
const PUNCTUATION: [&str; 12] = [
    "[",
    "{",
    "]",
    "}",
    ":",
    "\"",
    "'",
    "- ",
    "&a ",
    "*a",
    "!!binary ",
    "<<: ",
];

fn shipped(rel: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)).unwrap()
}

/// One mutation of `text`.
fn mutate(text: &str, rng: &mut Pcg64) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let n = lines.len();
    let i = rng.gen_range(0..n);
    match rng.gen_range(0..8) {
        // A value after `key:` replaced by an extreme number or duration.
        0..=2 => {
            if let Some(colon) = lines[i].find(": ") {
                // Mostly a value of the same kind (so that it reaches the bounds, past serde).
                let old = lines[i][colon + 2..].split('#').next().unwrap_or("").trim();
                let duration = old.parse::<Dur>().is_ok() && old.parse::<f64>().is_err();
                let pool: &[&str] = if duration ^ rng.gen_bool(0.2) {
                    &DURATIONS
                } else {
                    &NUMBERS
                };
                let v = pool[rng.gen_range(0..pool.len())];
                lines[i] = format!("{}: {v}", &lines[i][..colon]);
            }
        }
        3 => {
            lines.remove(i);
        }
        4 => {
            let l = lines[i].clone();
            lines.insert(i, l);
        }
        5 => lines.swap(i, rng.gen_range(0..n)),
        6 => {
            let at = rng.gen_range(0..=lines[i].len());
            if lines[i].is_char_boundary(at) {
                let p = PUNCTUATION[rng.gen_range(0..PUNCTUATION.len())];
                lines[i].insert_str(at, p);
            }
        }
        _ => {
            let keep = rng.gen_range(0..text.len());
            let mut t = text.as_bytes()[..keep].to_vec();
            while std::str::from_utf8(&t).is_err() {
                t.pop();
            }
            return String::from_utf8(t).unwrap();
        }
    }
    let mut out = lines.join("\n");
    out.push('\n');
    out
}

/// A refusal must say where: the line and the field (`.` for the document). Returns false (not
/// accepted) for the callers' `Err` arms.
fn assert_located(e: &YamlError, text: &str) -> bool {
    let (line, field) = match e {
        YamlError::Parse { line, field, .. } | YamlError::Invalid { line, field, .. } => {
            (*line, field.as_str())
        }
        YamlError::Read { .. } => panic!("no file is read here: {e}"),
    };
    assert!(
        line > 0 && !field.is_empty(),
        "refusal does not say where: {e}\n--- text ---\n{text}"
    );
    false
}

/// Runs `f` (true: accepted) on every mutant of every base text; asserts that no mutant panics
/// and that the mix holds both accepted and refused files (else the probe tests little).
fn probe(bases: &[(&str, String)], seed: u64, f: impl Fn(&str, &str) -> bool) {
    let mut rng = Pcg64::seed_from_u64(seed);
    let (mut ok, mut refused) = (0, 0);
    for (name, base) in bases {
        for k in 0..MUTANTS_PER_FILE {
            let mut text = mutate(base, &mut rng);
            if rng.gen_bool(0.3) {
                text = mutate(&text, &mut rng);
            }
            let r = catch_unwind(AssertUnwindSafe(|| f(name, &text)));
            match r {
                Ok(true) => ok += 1,
                Ok(false) => refused += 1,
                Err(_) => panic!("{name} mutant {k} panicked\n--- text ---\n{text}"),
            }
        }
    }
    eprintln!("{} mutants: {ok} accepted, {refused} refused", ok + refused);
    assert!(ok > 0 && refused > 0, "{ok} accepted, {refused} refused");
}

#[test]
fn mutated_campaign_files_never_panic_and_refusals_say_where() {
    let bases: Vec<(&str, String)> = [
        "credit-verification",
        "welcome",
        "repayment-reminder",
        "cross-sell",
    ]
    .iter()
    .map(|n| (*n, shipped(&format!("campaigns/{n}.yaml"))))
    .collect();
    // Parsed as if at their shipped place: `abandon_message` is relative to the file.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("campaigns");
    probe(&bases, 15, |name, text| {
        let file = dir.join(format!("{name}.yaml")).display().to_string();
        parse_campaign(&file, text)
    });
}

fn parse_campaign(name: &str, text: &str) -> bool {
    match Campaign::parse(name, text) {
        Ok(c) => {
            // What is accepted is used: the store keeps its JSON, the engine its window.
            assert_eq!(c.content_hash().len(), 32);
            assert!(!c.window.describe_day(0).is_empty());
            true
        }
        Err(e) => assert_located(&e, text),
    }
}

#[test]
fn mutated_engine_configs_never_panic_and_refusals_say_where() {
    let bases = vec![(
        "outdial.example.yaml",
        shipped("campaigns/engine/outdial.example.yaml"),
    )];
    let mut rng_bases = bases.clone();
    // Four copies: the example is one file, the probe wants a few hundred mutants.
    for _ in 0..3 {
        rng_bases.push(bases[0].clone());
    }
    probe(&rng_bases, 16, |name, text| {
        match EngineConfig::parse(name, text) {
            Ok(cfg) => {
                let agents = cfg.agent_specs().expect("checked at parse");
                assert!(agents.len() <= 10_000);
                assert!(cfg.shutdown_grace <= Dur(std::time::Duration::from_secs(3600)));
                true
            }
            Err(e) => assert_located(&e, text),
        }
    });
}

#[test]
fn mutated_scenarios_never_panic_and_what_is_accepted_runs() {
    let bases: Vec<(&str, String)> = ["small-team", "mid-team", "large-centre", "erlang-check"]
        .iter()
        .map(|n| (*n, shipped(&format!("sim/{n}.yaml"))))
        .collect();
    probe(&bases, 17, |name, text| match Scenario::parse(name, text) {
        Ok(mut sc) => {
            // A few simulated minutes of one strategy: enough to size every buffer the
            // scenario asks for, bounded in time.
            sc.duration = Dur(std::time::Duration::from_secs(120));
            sc.warmup = Dur::default();
            let mode: Mode = "progressive".parse().unwrap();
            let opts = RunOptions::default();
            // A dialer config refused by the pacing core is an answer too, not a panic.
            if let Ok(r) = run_strategy(&sc, "progressive", mode, 1, &opts) {
                assert!(r.abandon_rate.is_finite() || r.live_answers == 0);
            }
            true
        }
        Err(e) => assert_located(&e, text),
    });
}
