//! Inbound calls through the live engine: INVITEs arriving from a trunk are queued for a blended
//! agent and joined to it with the same third-party call control as outbound calls; the caller's
//! hang-up ends both legs and the agent goes to wrap-up. Each call leaves a record (caller digits,
//! agent, arrival, connect, end) that `outdial report` counts. The caller here is outdial's own
//! SIP core placing calls at the engine, over loopback.

use crate::engine_support;

use std::time::Duration;

use engine_support::*;
use outdial::sip::Event;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inbound_calls_reach_a_blended_agent_and_free_it_on_hangup() {
    let l = Lab::new("inbound", None, 3);
    l.campaign("lab-in", "predictive", 50, 0, 0, 0);
    let (cfg, admin) = engine_config(
        &l.dir,
        &EngineSetup {
            agent_range: (1, 3),
            grace_s: 3,
            channels: 10,
            ..l.setup("in-1", "lab-in", 600)
        },
    );
    // Blended agents: the campaign has no leads, so they only take inbound calls.
    let text = std::fs::read_to_string(&cfg).expect("config").replace(
        "skills: [outbound, verification]",
        "skills: [outbound, inbound, verification]",
    );
    std::fs::write(&cfg, &text).expect("config");
    let sip_addr = sip_listen(&text);
    let engine = start_engine(&l.db, &cfg);
    let client = wait_admin(&admin).await;

    // The caller: a SIP endpoint whose "trunk" is the engine.
    let (caller, mut events, _task) = inbound_caller(&sip_addr).await;
    let mut calls = Vec::new();
    for i in 0..2 {
        let caller_id = format!("+659000000{i}");
        calls.push(call_engine(&caller, &caller_id, Duration::from_secs(20)).await);
    }
    // Both are answered by the engine once an agent is joined.
    let mut answered = 0;
    let end = std::time::Instant::now() + Duration::from_secs(15);
    while answered < 2 {
        let left = end.saturating_duration_since(std::time::Instant::now());
        match tokio::time::timeout(left, events.recv()).await {
            Ok(Some(Event::Answered { call, .. })) if calls.contains(&call) => answered += 1,
            Ok(Some(Event::Failed { code, .. })) => panic!("inbound call failed: {code:?}"),
            Ok(Some(_)) => {}
            _ => panic!("inbound calls not answered ({answered} of 2)"),
        }
    }
    let talking = |v: &[outdial::admin::AgentView]| {
        v.iter()
            .filter(|a| a.state == outdial::admin::AgentState::Talking)
            .count()
    };
    assert_eq!(talking(&client.agents().await.expect("agents")), 2);
    // The callers hang up: both agents go to wrap-up, then ready again.
    for c in &calls {
        let _ = caller.hangup(*c).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let v = client.agents().await.expect("agents");
    assert_eq!(talking(&v), 0, "{v:?}");
    engine.signal("TERM");
    let summary = finish_engine(engine, Duration::from_secs(30));
    assert_eq!(
        summary["campaigns"][0]["inbound_calls"].as_u64(),
        Some(2),
        "{summary}"
    );

    // One record per call, with the agent who took it and only the caller's digits.
    let store = outdial::store::Store::open(&l.db).await.expect("store");
    const Q: &str = "SELECT caller, agent, arrive_ms, connect_ms, end_ms FROM inbound_calls \
                     ORDER BY caller";
    type Row = (String, Option<String>, i64, Option<i64>, i64);
    let rows: Vec<Row> = match store.db() {
        outdial::store::Db::Sqlite(p) => sqlx::query_as(Q).fetch_all(p).await,
        outdial::store::Db::Postgres(p) => sqlx::query_as(Q).fetch_all(p).await,
    }
    .expect("inbound records");
    assert_eq!(rows.len(), 2, "{rows:?}");
    for (i, (caller, agent, arrive, connect, end)) in rows.iter().enumerate() {
        assert!(caller.ends_with(&format!("659000000{i}")), "{rows:?}");
        assert!(
            caller.chars().all(|c| c.is_ascii_digit() || c == '+'),
            "{rows:?}"
        );
        assert!(
            agent.as_deref().is_some_and(|a| a.starts_with("agent")),
            "{rows:?}"
        );
        let connect = connect.expect("connected");
        assert!(*arrive <= connect && connect <= *end, "{rows:?}");
    }
    let report: serde_json::Value =
        serde_json::from_str(&outdial(&l.db, &["report", "lab-in", "--json"], None))
            .expect("report json");
    assert_eq!(report["total"]["inbound_calls"], 2, "{report}");
    assert_eq!(report["total"]["inbound_connected"], 2, "{report}");
}
