//! `outdial pacing show|set` and `outdial agents` run as the real binary against the admin API
//! served in this test process over an in-memory engine: output a supervisor reads, changes
//! reaching the engine with the token's name, and engine errors as one line with a non-zero exit.

use crate::admin_support;

use std::process::Output;

use admin_support::{Server, ANA, BO};

const CV: &str = "credit-verification";

/// Runs `outdial ARGS` with the engine URL and token in the environment (as a user would set
/// them); `token: None` leaves OUTDIAL_TOKEN unset.
async fn outdial(url: &str, token: Option<&str>, args: &[&str]) -> Output {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_outdial"));
    cmd.args(args)
        .env("OUTDIAL_ENGINE", url)
        .env_remove("OUTDIAL_TOKEN")
        .env_remove("OUTDIAL_LOG");
    if let Some(t) = token {
        cmd.env("OUTDIAL_TOKEN", t);
    }
    let run = tokio::time::timeout(std::time::Duration::from_secs(30), cmd.output());
    run.await
        .expect("outdial hung")
        .expect("outdial did not start")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A failed command: non-zero exit and exactly one line on stderr containing every `needle`.
fn assert_one_line_error(o: &Output, needles: &[&str]) {
    let err = stderr(o);
    assert!(
        !o.status.success(),
        "exit 0 for a failing command; stderr: {err}"
    );
    assert_eq!(err.trim_end().lines().count(), 1, "not one line: {err:?}");
    for n in needles {
        assert!(err.contains(n), "{n:?} missing from {err:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pacing_show_prints_settings_and_live_figures() {
    let srv = Server::start().await;
    let o = outdial(&srv.url, Some(ANA), &["pacing", "show", CV]).await;
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    for needle in [
        "credit-verification",
        "running",
        "power",
        "1.5",
        "0.03",
        "run 1.20 %, 24h 1.50 %, 30d -",
        "87.00 %",
        "ready 1, reserved 0, talking 1",
    ] {
        assert!(out.contains(needle), "{needle:?} missing from:\n{out}");
    }
    // --json is the engine's object.
    let o = outdial(&srv.url, Some(ANA), &["pacing", "show", CV, "--json"]).await;
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        (v["mode"].as_str(), v["calls_in_flight"].as_u64()),
        (Some("power"), Some(7))
    );
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pacing_set_changes_the_engine_and_is_audited() {
    let srv = Server::start().await;
    let o = outdial(
        &srv.url,
        Some(BO),
        &[
            "pacing",
            "set",
            CV,
            "--mode",
            "predictive",
            "--target-abandon",
            "0.02",
            "--max-ratio",
            "3",
        ],
    )
    .await;
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("mode power → predictive"), "{out}");
    assert!(out.contains("max_ratio 2 → 3"), "{out}");
    assert!(out.contains("target_abandon 0.03 → 0.02"), "{out}");
    {
        let s = srv.engine.lock();
        let p = &s.campaigns[CV].pacing;
        assert_eq!(
            (p.mode.to_string().as_str(), p.max_ratio, p.target_abandon),
            ("predictive", 3.0, 0.02)
        );
        assert_eq!(s.audit.len(), 3);
        assert!(s.audit.iter().all(|r| r.token == "bo"));
    }
    // `show` after `set` reflects it.
    let o = outdial(&srv.url, Some(ANA), &["pacing", "show", CV]).await;
    assert!(stdout(&o).contains("predictive"));
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn engine_errors_are_one_line_and_non_zero() {
    let srv = Server::start().await;
    let before = srv.engine.lock().campaigns.clone();
    let o = outdial(
        &srv.url,
        Some(ANA),
        &["pacing", "set", CV, "--ratio", "0.5"],
    )
    .await;
    assert_one_line_error(&o, &["400", "ratio must be in [1, 5]"]);
    let o = outdial(
        &srv.url,
        Some(ANA),
        &["pacing", "set", CV, "--target-abandon", "0.5"],
    )
    .await;
    assert_one_line_error(&o, &["400", "target_abandon"]);
    let o = outdial(
        &srv.url,
        Some(ANA),
        &["pacing", "set", CV, "--mode", "turbo"],
    )
    .await;
    assert_one_line_error(&o, &["400", "unknown mode"]);
    let o = outdial(&srv.url, Some("wrong"), &["pacing", "show", CV]).await;
    assert_one_line_error(&o, &["401"]);
    let o = outdial(&srv.url, Some(ANA), &["pacing", "show", "nope"]).await;
    assert_one_line_error(&o, &["404", "nope"]);
    let o = outdial(&srv.url, None, &["agents"]).await;
    assert_one_line_error(&o, &["OUTDIAL_TOKEN"]);
    {
        let s = srv.engine.lock();
        assert_eq!(s.campaigns, before);
        assert!(s.audit.is_empty());
    }
    // Nothing to set: refused by the command line itself.
    let o = outdial(&srv.url, Some(ANA), &["pacing", "set", CV]).await;
    assert!(!o.status.success());
    srv.stop().await;
    // Engine gone: a clear line, not a hang.
    let o = outdial("http://127.0.0.1:9", Some(ANA), &["agents"]).await;
    assert_one_line_error(&o, &["cannot reach the engine"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pacing_set_refuses_values_that_break_the_abandon_cap_naming_field_and_range() {
    let srv = Server::start().await;
    let before = srv.engine.lock().campaigns.clone();
    // The values a hostile probe got accepted, and one above the campaign's 3 % legal cap.
    let cases: [(&[&str], &[&str]); 6] = [
        (&["--mode", "power:1e308"], &["400", "power", "[1, 5]"]),
        (&["--ratio", "1e308"], &["400", "ratio must be in [1, 5]"]),
        (
            &["--max-ratio", "1e308"],
            &["400", "max_ratio must be in [1, 5]"],
        ),
        (
            &["--mode", "rate:1e-300"],
            &["400", "rate", "at least 0.01"],
        ),
        (
            &["--target-abandon", "5e-324"],
            &["400", "target_abandon must be in [0.001"],
        ),
        (
            &["--target-abandon", "0.05"],
            &[
                "400",
                "target_abandon must be in [0.001, 0.03]",
                "abandon_cap",
            ],
        ),
    ];
    for (args, needles) in cases {
        let mut argv = vec!["pacing", "set", CV];
        argv.extend_from_slice(args);
        let o = outdial(&srv.url, Some(ANA), &argv).await;
        assert_one_line_error(&o, needles);
    }
    {
        let s = srv.engine.lock();
        assert_eq!(s.campaigns, before, "a refused value changed a campaign");
        assert_eq!(s.changes, 0, "a refused value reached the engine");
    }
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_lists_every_agent_with_its_state() {
    let srv = Server::start().await;
    let o = outdial(&srv.url, Some(ANA), &["agents"]).await;
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 4, "header + 3 agents:\n{out}");
    assert!(
        lines[1].starts_with("a1") && lines[1].contains("ready"),
        "{out}"
    );
    assert!(
        lines[2].starts_with("a2") && lines[2].contains("talking"),
        "{out}"
    );
    assert!(lines[2].contains("credit-verification/42"), "{out}");
    assert!(
        lines[3].starts_with("a3") && lines[3].contains("logged_out"),
        "{out}"
    );
    assert!(lines[1].contains("sip:a1@127.0.0.1:5070") && lines[1].contains("verifiers"));
    // a2's long skill list widens its column: every column starts at the same place on every
    // line, and the skills are followed by the reason column, not run into it.
    let starts = |l: &str| -> Vec<usize> {
        let b = l.as_bytes();
        (2..b.len())
            .filter(|&i| b[i] != b' ' && b[i - 1] == b' ' && b[i - 2] == b' ')
            .collect()
    };
    let columns = starts(lines[0]);
    assert_eq!(columns.len(), 6, "header columns after the id:\n{out}");
    for l in &lines[1..] {
        assert_eq!(starts(l), columns, "columns do not line up:\n{out}");
    }
    let skills = "outbound,inbound,verification,mandarin,cantonese";
    let at = lines[2].find(skills).expect("a2's skills");
    assert_eq!(at, columns[3], "{out}");
    assert!(lines[2][at + skills.len()..].starts_with("  -  "), "{out}");
    let o = outdial(&srv.url, Some(ANA), &["agents", "--json"]).await;
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v.as_array().map(Vec::len), Some(3));
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_table_escapes_control_characters() {
    let srv = Server::start().await;
    if let Some(a) = srv.engine.lock().agents.get_mut("a1") {
        a.pause_reason = Some("\u{1b}[2J\u{1b}]0;pwned\u{7}".into());
        a.skills.push("x\u{9b}31m".into());
    }
    let o = outdial(&srv.url, Some(ANA), &["agents"]).await;
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        !out.chars().any(|c| c.is_control() && c != '\n'),
        "a control character reached the terminal: {out:?}"
    );
    assert!(out.contains("\\u{1b}[2J\\u{1b}]0;pwned\\u{7}"), "{out}");
    assert!(out.contains("x\\u{9b}31m"), "{out}");
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_wrapup_gives_the_engine_the_agents_code_including_machine() {
    use outdial::admin::{AgentState, WrapUpCode};
    let srv = Server::start().await;
    for id in ["a1", "a2"] {
        srv.engine.lock().agents.get_mut(id).expect("agent").state = AgentState::WrapUp;
    }
    // Voicemail passed as a person: the agent says so at wrap-up.
    let o = outdial(&srv.url, Some(ANA), &["agents", "wrapup", "a1", "machine"]).await;
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o)
            .lines()
            .any(|l| l.starts_with("a1") && l.contains("ready")),
        "{}",
        stdout(&o)
    );
    // A callback two hours from now, with the flags after the subcommand.
    let before = chrono::Utc::now().timestamp_millis();
    let o = outdial(
        &srv.url,
        Some(ANA),
        &["agents", "wrapup", "a2", "callback", "--at", "2h", "--json"],
    )
    .await;
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["id"], "a2");
    {
        let s = srv.engine.lock();
        assert_eq!(s.dispositions[0], ("a1".to_string(), WrapUpCode::Machine));
        let (agent, code) = &s.dispositions[1];
        assert_eq!(agent, "a2");
        let WrapUpCode::Callback { at_ms } = code else {
            panic!("{code:?}")
        };
        let two_h = 2 * 3_600_000;
        assert!(
            (before + two_h..before + two_h + 60_000).contains(at_ms),
            "{at_ms}"
        );
    }
    // A bad code or a callback without a time never reaches the engine.
    let o = outdial(
        &srv.url,
        Some(ANA),
        &["agents", "wrapup", "a3", "Voice Mail"],
    )
    .await;
    assert_one_line_error(&o, &["Voice Mail"]);
    let o = outdial(&srv.url, Some(ANA), &["agents", "wrapup", "a3", "callback"]).await;
    assert_one_line_error(&o, &["callback"]);
    assert_eq!(srv.engine.lock().dispositions.len(), 2);
    // Not in wrap-up: the engine's refusal, as one line.
    let o = outdial(
        &srv.url,
        Some(ANA),
        &["agents", "wrapup", "a1", "completed"],
    )
    .await;
    assert_one_line_error(&o, &["409"]);
    srv.stop().await;
}
