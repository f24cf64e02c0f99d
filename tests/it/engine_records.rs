//! What the live engine writes and reports about its calls, end to end over real SIP on loopback
//! (`outdial run` against `outdial trunk-sim` and `agent-sim`, time-scaled, SQLite store): the
//! final SIP code of every attempt in the call records, the `/metrics` series per trunk and per
//! campaign against those records, the `shutdown` and `not_set` dispositions a SIGTERM leaves,
//! and the `--progress` line once a second.

use crate::engine_support;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use engine_support::*;
use outdial::admin::AgentState;
use outdial::store::{Db, Store};

/// One call record with the fields these tests read.
#[derive(Debug, Clone)]
struct Record {
    disposition: Option<String>,
    sip_code: Option<i64>,
    trunk: Option<String>,
    agent: Option<String>,
    connect_ms: Option<i64>,
    agent_disposition: Option<String>,
    live: i64,
    connected: i64,
    lead_state: String,
}

const RECORDS: &str = "SELECT a.disposition, a.sip_code, a.trunk, a.agent, a.connect_ms, \
     a.agent_disposition, CAST(a.live AS BIGINT), CAST(a.connected AS BIGINT), l.state \
     FROM attempts a JOIN leads l ON l.id = a.lead_id ORDER BY a.id";

async fn records(store: &Store) -> Vec<Record> {
    type Row = (
        Option<String>,
        Option<i64>,
        Option<String>,
        Option<String>,
        Option<i64>,
        Option<String>,
        i64,
        i64,
        String,
    );
    let rows: Vec<Row> = match store.db() {
        Db::Sqlite(p) => sqlx::query_as(RECORDS).fetch_all(p).await,
        Db::Postgres(p) => sqlx::query_as(RECORDS).fetch_all(p).await,
    }
    .expect("call records");
    rows.into_iter()
        .map(|r| Record {
            disposition: r.0,
            sip_code: r.1,
            trunk: r.2,
            agent: r.3,
            connect_ms: r.4,
            agent_disposition: r.5,
            live: r.6,
            connected: r.7,
            lead_state: r.8,
        })
        .collect()
}

/// `/metrics` text as `series{labels}` → value (comments skipped).
fn parse_metrics(text: &str) -> HashMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let (k, v) = l.rsplit_once(' ')?;
            Some((k.to_string(), v.parse().ok()?))
        })
        .collect()
}

fn metric(m: &HashMap<String, f64>, key: &str) -> f64 {
    m.get(key).copied().unwrap_or(0.0)
}

/// The response class `/metrics` files a recorded code under.
fn class(code: Option<i64>) -> &'static str {
    match code {
        Some(200..=299) => "2xx",
        Some(300..=399) => "3xx",
        Some(400..=499) => "4xx",
        Some(500..=599) => "5xx",
        Some(600..=699) => "6xx",
        _ => "timeout",
    }
}

/// Polls `check` every 100 ms until it holds; panics with `what` after `limit`.
async fn until<F, Fut>(limit: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let end = Instant::now() + limit;
    while !check().await {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn call_records_carry_every_final_code_and_metrics_agree_with_them() {
    let l = Lab::new("records", None, 40);
    l.campaign("lab-rec", "predictive", 50, 1_000_000, 400, 0);
    let (cfg, admin) = engine_config(&l.dir, &l.setup("rec-1", "lab-rec", 600));
    let engine = start_engine(&l.db, &cfg);
    let client = wait_admin(&admin).await;

    // While the campaign dials: the trunk's gauges move and say it is up.
    const IN_USE: &str = r#"outdial_trunk_channels_in_use{trunk="lab-trunk"}"#;
    const CPS: &str = r#"outdial_trunk_calls_per_second{trunk="lab-trunk"}"#;
    const UP: &str = r#"outdial_trunk_up{trunk="lab-trunk"}"#;
    let (mut max_in_use, mut max_cps, mut up_seen) = (0.0f64, 0.0f64, false);
    for _ in 0..32 {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let m = parse_metrics(&client.metrics().await.expect("metrics"));
        max_in_use = max_in_use.max(metric(&m, IN_USE));
        max_cps = max_cps.max(metric(&m, CPS));
        up_seen |= metric(&m, UP) == 1.0;
    }
    // Then no new calls; wait for every call and wrap-up to end, and for the figures to settle.
    client.set_paused("lab-rec", true).await.expect("pause");
    until(
        Duration::from_secs(30),
        "calls and wrap-ups to end",
        || async {
            let v = client.campaign("lab-rec").await.expect("campaign view");
            let agents = client.agents().await.expect("agents");
            v.calls_in_flight == 0
                && agents.iter().all(|a| {
                    !matches!(
                        a.state,
                        AgentState::Reserved | AgentState::Talking | AgentState::WrapUp
                    )
                })
        },
    )
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let m = parse_metrics(&client.metrics().await.expect("metrics"));
    engine.signal("TERM");
    finish_engine(engine, Duration::from_secs(30));

    assert!(up_seen, "{UP} never 1 while the trunk answered");
    assert!(
        (1.0..=60.0).contains(&max_in_use),
        "channels in use {max_in_use} (max_channels 60)"
    );
    assert!((1.0..=100.0).contains(&max_cps), "calls/s {max_cps}");
    assert_eq!(
        metric(&m, r#"outdial_trunk_max_channels{trunk="lab-trunk"}"#),
        60.0
    );
    assert_eq!(metric(&m, IN_USE), 0.0, "channels held with no call up");

    let store = Store::open(&l.db).await.expect("store");
    let recs = records(&store).await;
    assert!(recs.len() >= 40, "too little traffic: {} calls", recs.len());
    // Every attempt has the final code of its INVITE: 200 for every answer (person or machine),
    // the failure's code otherwise; trunk-sim answers every INVITE, so none is empty.
    let mut answered = 0;
    for r in &recs {
        let d = r.disposition.as_deref().expect("closed attempt");
        match d {
            "connected" | "abandoned" | "machine" => {
                answered += 1;
                assert_eq!(r.sip_code, Some(200), "answered without 200: {r:?}");
            }
            "busy" => assert_eq!(r.sip_code, Some(486), "{r:?}"),
            "invalid" => assert_eq!(r.sip_code, Some(404), "{r:?}"),
            // Cancelled at the ring timeout (487), or a 200 that crossed the CANCEL.
            "no_answer" => assert!(matches!(r.sip_code, Some(487 | 200)), "{r:?}"),
            other => panic!("unexpected disposition {other}: {r:?}"),
        }
        assert_eq!(r.trunk.as_deref(), Some("lab-trunk"), "{r:?}");
    }
    assert!(answered >= 10, "{answered} answered calls");

    // /metrics counts the same calls: by trunk and response class, by campaign and disposition,
    // and the agents' wrap-up codes.
    let mut by_class: HashMap<&str, f64> = HashMap::new();
    let mut by_disp: HashMap<&str, f64> = HashMap::new();
    let mut by_agent_disp: HashMap<&str, f64> = HashMap::new();
    for r in &recs {
        *by_class.entry(class(r.sip_code)).or_default() += 1.0;
        *by_disp
            .entry(r.disposition.as_deref().unwrap_or("-"))
            .or_default() += 1.0;
        if let Some(a) = r.agent_disposition.as_deref() {
            *by_agent_disp.entry(a).or_default() += 1.0;
        }
    }
    for c in ["2xx", "3xx", "4xx", "5xx", "6xx", "timeout"] {
        let key = format!(r#"outdial_trunk_calls_total{{trunk="lab-trunk",class="{c}"}}"#);
        assert_eq!(
            metric(&m, &key),
            by_class.get(c).copied().unwrap_or(0.0),
            "{key}"
        );
    }
    for (d, n) in &by_disp {
        let key = format!(r#"outdial_calls_total{{campaign="lab-rec",disposition="{d}"}}"#);
        assert_eq!(metric(&m, &key), *n, "{key}");
    }
    assert!(by_agent_disp.get("completed").is_some_and(|&n| n >= 1.0));
    for (d, n) in &by_agent_disp {
        let key =
            format!(r#"outdial_agent_dispositions_total{{campaign="lab-rec",disposition="{d}"}}"#);
        assert_eq!(metric(&m, &key), *n, "{key}");
    }
}

/// Writes a scenario whose customers talk 1–10 s (scaled) and starts the peers on it.
fn long_talk_lab(tag: &str) -> Lab {
    let dir = temp_dir(tag);
    let sc = dir.join("scenario.yaml");
    std::fs::write(
        &sc,
        "name: shutdown-test\nseed: 5\nduration: 1h\nagents: 10\npatience: 2s\n\
         talk_time: {dist: uniform, min: 20s, max: 200s}\n\
         wrap_time: {dist: constant, mean: 10s}\n\
         trunk:\n  channels: 100\n  live_answer: 0.60\n  machine: 0.0\n  busy: 0.10\n  invalid: 0.0\n\
         \x20 ring_time: {dist: constant, mean: 4s}\n  no_answer_timeout: 25s\n\
         inbound: {rate_per_hour: 0, talk_time: {dist: constant, mean: 60s}}\n\
         target_abandon: 0.03\nstrategies: [predictive]\n",
    )
    .expect("scenario");
    let trunk = peer("trunk-sim", &sc, SCALE, &[]);
    let agents = peer(
        "agent-sim",
        &sc,
        SCALE,
        &["--agents", "20", "--hold-until-bye"],
    );
    let (open, closed) = open_and_closed_zones();
    Lab {
        db: format!("sqlite://{}", dir.join("lab.db").display()),
        dir,
        trunk,
        agents,
        open,
        closed,
    }
}

/// Rewrites the config's automatic wrap-up time (scenario seconds).
fn set_wrap(config: &Path, secs: u32) {
    let text = std::fs::read_to_string(config).expect("config");
    let text = text.replace(
        "auto_wrap_time: {dist: constant, mean: 10s}",
        &format!("auto_wrap_time: {{dist: constant, mean: {secs}s}}"),
    );
    std::fs::write(config, text).expect("config");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_records_cut_calls_as_shutdown_and_open_wrap_ups_as_not_set() {
    let l = long_talk_lab("shutdown");
    l.campaign("lab-stop", "predictive", 50, 1_000_000, 300, 0);
    let mut s = l.setup("stop-1", "lab-stop", 600);
    s.grace_s = 1;
    let (cfg, admin) = engine_config(&l.dir, &s);
    // Wrap-ups of 10 min (30 s real) never end within the test: an agent whose customer hung
    // up stays in wrap-up until the engine exits.
    set_wrap(&cfg, 600);
    let engine = start_engine(&l.db, &cfg);
    let client = wait_admin(&admin).await;

    // SIGTERM once one agent is in wrap-up and at least three are talking (1–10 s calls).
    until(
        Duration::from_secs(30),
        "agents talking and in wrap-up",
        || async {
            let agents = client.agents().await.expect("agents");
            let n = |st: AgentState| agents.iter().filter(|a| a.state == st).count();
            n(AgentState::WrapUp) >= 1 && n(AgentState::Talking) >= 3
        },
    )
    .await;
    let signalled = Instant::now();
    engine.signal("TERM");
    finish_engine(engine, Duration::from_secs(30));
    let took = signalled.elapsed();

    let store = Store::open(&l.db).await.expect("store");
    let recs = records(&store).await;
    let cut: Vec<&Record> = recs
        .iter()
        .filter(|r| r.disposition.as_deref() == Some("shutdown"))
        .collect();
    assert!(
        !cut.is_empty(),
        "no call recorded as cut by the shutdown: {recs:?}"
    );
    for r in &cut {
        // Talking to an agent when cut: a live, connected answer, called again after the
        // default hour (the lab campaign lists no `shutdown` rule), its wrap-up not set.
        assert!(r.agent.is_some() && r.connect_ms.is_some(), "{r:?}");
        assert_eq!(
            (r.live, r.connected, r.sip_code),
            (1, 1, Some(200)),
            "{r:?}"
        );
        assert_eq!(r.lead_state, "scheduled", "{r:?}");
        assert_eq!(r.agent_disposition.as_deref(), Some("not_set"), "{r:?}");
    }
    // Calls the customer ended before the signal, their agents still in wrap-up at exit.
    assert!(
        recs.iter()
            .any(|r| r.disposition.as_deref() == Some("connected")
                && r.agent_disposition.as_deref() == Some("not_set")),
        "no wrap-up closed as not set: {recs:?}"
    );
    // Every call an agent took has an agent disposition: none is left empty.
    for r in recs.iter().filter(|r| r.connect_ms.is_some()) {
        assert!(
            r.agent_disposition.is_some(),
            "empty agent disposition: {r:?}"
        );
    }
    // The grace was 1 s: the engine did not wait for the 30 s wrap-ups.
    assert!(took < Duration::from_secs(10), "exit took {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_prints_one_line_a_second() {
    let l = Lab::new("progress", None, 20);
    l.campaign("lab-prog", "predictive", 50, 1_000_000, 200, 0);
    let (cfg, _admin) = engine_config(&l.dir, &l.setup("prog-1", "lab-prog", 6));
    let started = Instant::now();
    let mut child = Command::new(bin())
        .args(["--db", &l.db, "run", "--progress", "--config"])
        .arg(&cfg)
        .env("RUST_LOG", "error")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn engine");
    let err = child.stderr.take().expect("stderr");
    let reader = std::thread::spawn(move || {
        BufReader::new(err)
            .lines()
            .map_while(Result::ok)
            .filter(|l| l.contains("dials") && l.contains("agents busy"))
            .count()
    });
    let mut proc = Proc { child };
    let status = proc.wait_for(Duration::from_secs(40));
    assert!(status.success(), "engine exited with {status}");
    let ran = started.elapsed().as_secs_f64();
    let lines = reader.join().expect("reader") as f64;
    // run_for 6 s: one line a second (stderr is a pipe, so whole lines), give or take the
    // start-up and the shutdown.
    assert!(
        (4.0..=ran + 1.0).contains(&lines),
        "{lines} progress lines in a {ran:.1} s run"
    );
}
