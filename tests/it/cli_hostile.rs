//! Hostile files through the real binary, as a user would meet them (issue 15 point 6): a CSV
//! with a quote that never closes, config values far beyond any sane bound, invalid UTF-8 and
//! absurd nesting. Each must be refused with `file:line: field:` on one line, exit non-zero,
//! never panic, and load nothing.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

struct Cli {
    dir: PathBuf,
}

impl Cli {
    fn new() -> Cli {
        Cli {
            dir: common::temp_dir("hostile"),
        }
    }

    fn run(&self, args: &[&str]) -> Output {
        let db = format!("sqlite://{}", self.dir.join("cli.db").display());
        Command::new(env!("CARGO_BIN_EXE_outdial"))
            .arg("--db")
            .arg(db)
            .args(args)
            .output()
            .unwrap()
    }

    fn file(&self, name: &str, bytes: &[u8]) -> String {
        let p = self.dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        p.display().to_string()
    }

    /// Runs `args`, expects a refusal: exit code 1, one line on stderr containing `needle`, no
    /// panic.
    fn refused(&self, args: &[&str], needle: &str) -> String {
        let out = self.run(args);
        let err = String::from_utf8_lossy(&out.stderr).to_string();
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(needle), "{args:?}: want {needle:?} in {err}");
        err
    }
}

fn shipped(rel: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)).unwrap()
}

/// 1-based line of the first line of `text` containing `needle`.
fn line_of(text: &str, needle: &str) -> usize {
    1 + text
        .lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("{needle} not in text"))
}

#[test]
fn a_csv_quote_that_never_closes_fails_the_load_at_its_line_and_loads_nothing() {
    let cli = Cli::new();
    let campaign = Path::new(env!("CARGO_MANIFEST_DIR")).join("campaigns/welcome.yaml");
    let out = cli.run(&["campaign", "apply", campaign.to_str().unwrap()]);
    assert!(out.status.success());
    let path = cli.file(
        "quote.csv",
        b"phone,name\n13800000001,a\n13800000002,\"Wang\n13800000003,b\n13800000004,c\n",
    );
    cli.refused(
        &["campaign", "load", "welcome", &path],
        &format!("{path}:3: malformed CSV: a quoted field opened on this line is never closed"),
    );
    let out = cli.run(&["campaign", "stats", "welcome", "--json"]);
    let stats: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(stats["leads"], 0, "{stats}");
}

#[test]
fn engine_config_values_past_their_bounds_are_refused_with_line_and_field() {
    let cli = Cli::new();
    let base = shipped("campaigns/engine/outdial.example.yaml");
    for (from, to, field) in [
        (
            "shutdown_grace: 30s",
            "shutdown_grace: 300000000000y",
            "shutdown_grace",
        ),
        (
            "shutdown_grace: 30s",
            "shutdown_grace: 2h",
            "shutdown_grace",
        ),
        ("# run_for: 60s", "run_for: 300000000000y", "run_for"),
        ("# run_for: 60s", "run_for: 31d", "run_for"),
        ("count: 200", "count: 100000000", "agents[1].count"),
        ("first: 1\n", "first: 4294967295\n", "agents[1].first"),
        ("node_ttl: 30s", "node_ttl: 1000d", "node_ttl"),
        ("ttl: 2m", "ttl: 3650d", "lease.ttl"),
        ("time_scale: 1", "time_scale: 1e300", "time_scale"),
        (
            "mean: 30s, sd: 10s",
            "mean: 3000d, sd: 10s",
            "auto_wrap_time",
        ),
    ] {
        let text = base.replacen(from, to, 1);
        let line = line_of(&text, to.trim_end());
        let path = cli.file("engine.yaml", text.as_bytes());
        cli.refused(
            &["run", "--config", &path],
            &format!("{path}:{line}: {field}:"),
        );
    }
}

#[test]
fn scenario_values_past_their_bounds_are_refused_before_the_simulator_starts() {
    let cli = Cli::new();
    let base = shipped("sim/small-team.yaml");
    for (from, to, field) in [
        ("patience: 2s", "patience: 100000h", "patience"),
        ("patience: 2s", "patience: 584542046090y", "patience"),
        ("agents: 20", "agents: 4294967295", "agents"),
        ("duration: 8h", "duration: 100000h", "duration"),
        ("channels: 200", "channels: 4294967295", "trunk.channels"),
        (
            "no_answer_timeout: 25s",
            "no_answer_timeout: 3000d",
            "trunk.no_answer_timeout",
        ),
        ("mean: 180s, sd: 120s", "mean: 3000d, sd: 120s", "talk_time"),
        (
            "rate_per_hour: 0",
            "rate_per_hour: 1e300",
            "inbound.rate_per_hour",
        ),
    ] {
        let text = base.replacen(from, to, 1);
        let line = line_of(&text, to);
        let path = cli.file("scenario.yaml", text.as_bytes());
        cli.refused(&["sim", &path], &format!("{path}:{line}: {field}:"));
    }
}

#[test]
fn invalid_utf8_in_a_campaign_file_names_its_line_once() {
    let cli = Cli::new();
    let mut bytes = shipped("campaigns/welcome.yaml").into_bytes();
    let at = bytes.windows(6).position(|w| w == b"region").unwrap();
    bytes[at + 1] = 0xff;
    let line = 1 + bytes[..at].iter().filter(|&&b| b == b'\n').count();
    let path = cli.file("utf8.yaml", &bytes);
    let err = cli.refused(
        &["campaign", "apply", &path],
        &format!("{path}:{line}: .: invalid UTF-8 at column 2"),
    );
    assert_eq!(err.matches("UTF-8").count(), 1, "{err}");
}

#[test]
fn deeply_nested_yaml_is_refused_before_parsing() {
    let cli = Cli::new();
    for (name, text) in [
        ("flow", format!("name: {}\n", "[".repeat(100_000))),
        ("block", format!("name:\n{}x\n", "- ".repeat(100_000))),
    ] {
        let path = cli.file(&format!("{name}.yaml"), text.as_bytes());
        cli.refused(
            &["campaign", "apply", &path],
            &format!(
                "{path}:{}: .: nested deeper than 64 levels",
                if name == "flow" { 1 } else { 2 }
            ),
        );
    }
}

#[test]
fn a_dnc_import_with_a_quote_that_never_closes_blocks_nothing_silently() {
    let cli = Cli::new();
    // Without the check, 13800000002 and 13800000003 would vanish into the first note.
    let path = cli.file(
        "dnc.csv",
        b"phone,note\n13800000001,\"asked twice\n13800000002,x\n13800000003,y\n",
    );
    cli.refused(
        &["dnc", "import", &path],
        &format!("{path}:2: malformed CSV: a quoted field opened on this line is never closed"),
    );
}
