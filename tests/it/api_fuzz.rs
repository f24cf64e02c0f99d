//! The admin API of a running engine (`outdial run` dialling `trunk-sim` with `agent-sim`'s
//! agents on loopback), fuzzed by schemathesis from its own `/openapi.json`: no answer is a 5xx
//! and every answer conforms to the document (status listed, body matching its schema); and no
//! operation of the document answers without the token (none, a wrong one, another scheme).
//!
//! schemathesis comes from PyPI into `.venv/` (`make prereqs`); `OUTDIAL_SCHEMATHESIS` names
//! another executable. Without it the test says so and passes, except under `CI=true`, where it
//! fails. The run is bounded: a fixed seed, a number of examples per operation, one worker, and
//! a wall-clock limit after which schemathesis is killed and the test fails.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::engine_support::{
    engine_config, start_engine_with_stderr, wait_admin, EngineSetup, Lab, TOKEN,
};
use reqwest::{Method, StatusCode};
use serde_json::Value;

/// The campaign and agent names the document's examples use, so that schemathesis's example
/// phase acts on a real campaign and agent, not only on unknown ones (404).
const CAMPAIGN: &str = "credit-verification";

/// What every answer is checked for: no 5xx; a status, content type, headers and body the
/// document lists for the operation.
const CHECKS: &str = "not_a_server_error,status_code_conformance,content_type_conformance,\
    response_headers_conformance,response_schema_conformance";

/// Examples per operation and phase, and the seed: the same requests on every run.
/// `OUTDIAL_FUZZ_EXAMPLES` raises the count for a longer run by hand (BENCHMARKS.md).
const MAX_EXAMPLES: &str = "25";
const SEED: &str = "19";

fn max_examples() -> String {
    std::env::var("OUTDIAL_FUZZ_EXAMPLES").unwrap_or_else(|_| MAX_EXAMPLES.to_string())
}

/// Past this, schemathesis is killed and the test fails (it takes about 6 s on a quiet machine);
/// ten times as long for a run by hand with `OUTDIAL_FUZZ_EXAMPLES`.
fn fuzz_limit() -> Duration {
    match std::env::var_os("OUTDIAL_FUZZ_EXAMPLES") {
        Some(_) => Duration::from_secs(1200),
        None => Duration::from_secs(120),
    }
}

/// The schemathesis executable, or `None` (with the reason printed) when there is none.
fn schemathesis() -> Option<PathBuf> {
    let path = std::env::var_os("OUTDIAL_SCHEMATHESIS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/schemathesis"));
    if path.is_file() {
        return Some(path);
    }
    let msg = format!(
        "schemathesis not found at {} (`make prereqs` installs it in .venv/)",
        path.display()
    );
    assert!(std::env::var("CI").as_deref() != Ok("true"), "{msg}");
    eprintln!("skipped: {msg}");
    None
}

/// Every (method, path template) of the document.
fn operations(spec: &Value) -> Vec<(Method, String)> {
    let mut out = Vec::new();
    for (path, item) in spec["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("path item").keys() {
            if let Ok(m) = Method::from_bytes(method.to_uppercase().as_bytes()) {
                out.push((m, path.clone()));
            }
        }
    }
    out
}

/// Sends a request with `auth` (and a valid-looking body, so that only the token can refuse it).
async fn send(method: Method, url: &str, auth: Option<&str>) -> reqwest::Response {
    let mut req = reqwest::Client::new()
        .request(method, url)
        .header("content-type", "application/json")
        .body(r#"{"ratio": 1.2, "reason": "break", "disposition": "completed"}"#);
    if let Some(a) = auth {
        req = req.header("authorization", a);
    }
    req.send().await.expect("answer")
}

/// The settings a refused request must not change: each campaign's pacing and pause.
async fn settings(admin: &str) -> Value {
    let resp = send(
        Method::GET,
        &format!("{admin}/campaigns"),
        Some(&format!("Bearer {TOKEN}")),
    )
    .await;
    let campaigns: Value = resp.json().await.expect("campaigns");
    Value::Array(crate::engine_support::pacing_state(
        campaigns.as_array().expect("array"),
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_running_engine_answers_no_5xx_and_what_its_document_says_and_nothing_without_a_token()
{
    let Some(fuzzer) = schemathesis() else {
        return;
    };
    let l = Lab::new("api-fuzz", None, 3);
    l.campaign(CAMPAIGN, "predictive", 50, 1_000_000, 300, 0);
    let (cfg, admin) = engine_config(
        &l.dir,
        &EngineSetup {
            agent_range: (1, 3),
            grace_s: 1,
            ..l.setup("api-fuzz", CAMPAIGN, 1800)
        },
    );
    let log = l.dir.join("engine.log");
    let engine = start_engine_with_stderr(&l.db, &cfg, std::fs::File::create(&log).expect("log"));
    let client = wait_admin(&admin).await;
    let agent = client.agents().await.expect("agents")[0].id.clone();
    assert_eq!(agent, "agent0001", "the document's example agent id");
    let bearer = format!("Bearer {TOKEN}");
    let spec: Value = send(Method::GET, &format!("{admin}/openapi.json"), Some(&bearer))
        .await
        .json()
        .await
        .expect("the engine serves its document");

    // No access without the token, on every operation of the document.
    let before = settings(&admin).await;
    let wrong = [
        None,
        Some("Bearer wrong-token".to_string()),
        Some(format!("Basic {TOKEN}")),
        Some(format!("Bearer {}", &TOKEN[..TOKEN.len() - 1])),
        Some("Bearer ".to_string()),
    ];
    let ops = operations(&spec);
    assert!(ops.len() >= 15, "{ops:?}");
    for (method, path) in &ops {
        let url = format!(
            "{admin}{}",
            path.replace("{name}", CAMPAIGN)
                .replace("{id}", &agent)
                .replace("{attempt}", "1")
        );
        for auth in &wrong {
            let resp = send(method.clone(), &url, auth.as_deref()).await;
            assert_eq!(
                resp.status(),
                StatusCode::UNAUTHORIZED,
                "{method} {path} with {auth:?}"
            );
            assert_eq!(
                resp.headers().get("www-authenticate").map(|v| v.as_bytes()),
                Some(&b"Bearer"[..]),
                "{method} {path}"
            );
            let body: Value = resp.json().await.expect("JSON error body");
            assert!(body["error"]
                .as_str()
                .is_some_and(|e| e.contains("bearer token")));
        }
    }
    assert_eq!(
        settings(&admin).await,
        before,
        "a refused request changed pacing or pause"
    );
    // The same requests with the token get past the layer: the sweep tested real routes.
    for (method, path) in &ops {
        let url = format!(
            "{admin}{}",
            path.replace("{name}", CAMPAIGN)
                .replace("{id}", &agent)
                .replace("{attempt}", "1")
        );
        let resp = send(method.clone(), &url, Some(&bearer)).await;
        assert_ne!(resp.status(), StatusCode::UNAUTHORIZED, "{method} {path}");
    }

    // schemathesis against the document the engine serves.
    let out = l.dir.join("schemathesis");
    std::fs::create_dir_all(&out).expect("report dir");
    let started = Instant::now();
    let mut child = Command::new(&fuzzer)
        .args(["run", &format!("{admin}/openapi.json")])
        .args(["--header", &format!("Authorization: {bearer}")])
        .args(["--checks", CHECKS])
        .args(["--phases", "examples,coverage,fuzzing"])
        .args([
            "--max-examples",
            &max_examples(),
            "--seed",
            SEED,
            "--workers",
            "1",
        ])
        .args([
            "--request-timeout",
            "5",
            "--report",
            "junit",
            "--report-dir",
        ])
        .arg(&out)
        .current_dir(&out)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(out.join("stdout.txt")).expect("stdout file"))
        .stderr(Stdio::from(
            std::fs::File::create(out.join("stderr.txt")).expect("stderr file"),
        ))
        .spawn()
        .expect("start schemathesis");
    let status = loop {
        if let Some(st) = child.try_wait().expect("wait") {
            break Some(st);
        }
        if started.elapsed() > fuzz_limit() {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let took = started.elapsed();
    let report = std::fs::read_to_string(out.join("stdout.txt")).unwrap_or_default();
    println!("schemathesis took {:.1} s:\n{report}", took.as_secs_f64());
    let alive = engine_alive(engine, &log);
    assert!(status.is_some(), "schemathesis ran past {:?}", fuzz_limit());
    assert!(
        status.is_some_and(|s| s.success()),
        "schemathesis found failures (report above; stderr: {})",
        std::fs::read_to_string(out.join("stderr.txt")).unwrap_or_default()
    );
    assert!(
        alive,
        "the engine died or panicked under the fuzzer (log: {})",
        log.display()
    );
    std::fs::remove_dir_all(&l.dir).ok();
}

/// Whether the engine is still running and logged no panic; stops it.
fn engine_alive(mut engine: crate::engine_support::Proc, log: &Path) -> bool {
    let running = engine
        .child
        .try_wait()
        .map(|s| s.is_none())
        .unwrap_or(false);
    drop(engine);
    let panicked = std::fs::read_to_string(log)
        .unwrap_or_default()
        .contains("panicked");
    running && !panicked
}
