//! The live engine end to end over real SIP on loopback: `outdial run` against `outdial
//! trunk-sim` and `agent-sim` (time-scaled), on an SQLite store. Checks what a campaign manager
//! and a regulator would: every lead ends in a final state or a scheduled retry, no lead is
//! dialled twice, nothing is dialled outside the callee's calling window, the abandon rate stays
//! under target, a supervisor's pacing change mid-run shows in the dial level, a connected agent
//! gets the screen pop, and SIGTERM stops the engine cleanly.

use crate::engine_support;

use std::collections::HashMap;
use std::time::Duration;

use engine_support::*;
use outdial::admin::PacingRequest;
use outdial::store::Store;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn engine_dials_connects_and_follows_the_supervisor() {
    let l = Lab::new("e2e", None, 40);
    // Every 5th lead lives where it is night now: never to be dialled.
    l.campaign("lab-verify", "predictive", 50, 1_000_000, 1500, 5);
    let (cfg, admin) = engine_config(&l.dir, &l.setup("e2e-1", "lab-verify", 36));
    let engine = start_engine(&l.db, &cfg);
    let client = wait_admin(&admin).await;

    // Predictive for 14 s (≈ 4.5 min of scenario time), sampling the dial level and the screen
    // pop of whoever is talking.
    let mut before: Vec<f64> = Vec::new();
    let mut pops = 0;
    for _ in 0..56 {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let v = client.campaign("lab-verify").await.expect("campaign view");
        before.push(v.dial_level);
        for a in client.agents().await.expect("agents") {
            if a.state == outdial::admin::AgentState::Talking {
                if let Ok(cur) = client.current_call(&a.id).await {
                    if let Some(pop) = cur.call {
                        assert!(pop
                            .external_id
                            .as_deref()
                            .is_some_and(|x| x.starts_with("APP-")));
                        assert!(pop.attributes.get("loan_amount").is_some(), "{pop:?}");
                        pops += 1;
                    }
                }
            }
        }
    }
    // The supervisor switches to progressive: at most one line per agent from then on.
    let up = client
        .set_pacing(
            "lab-verify",
            &PacingRequest {
                mode: Some("progressive".into()),
                ..PacingRequest::default()
            },
        )
        .await
        .expect("pacing change");
    assert_eq!(
        (
            up.old.mode.to_string().as_str(),
            up.new.mode.to_string().as_str()
        ),
        ("predictive", "progressive")
    );
    // Calls launched before the change drain within a ring timeout (25 s scenario = 1.25 s).
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut after: Vec<f64> = Vec::new();
    for _ in 0..30 {
        tokio::time::sleep(Duration::from_millis(250)).await;
        after.push(
            client
                .campaign("lab-verify")
                .await
                .expect("campaign view")
                .dial_level,
        );
    }
    let summary = finish_engine(engine, Duration::from_secs(60));

    let max_before = before.iter().cloned().fold(0.0, f64::max);
    let max_after = after.iter().cloned().fold(0.0, f64::max);
    assert!(
        max_before > 1.0,
        "predictive dials ahead of agents: {before:?}"
    );
    assert!(
        max_after <= 1.0 + 1e-9,
        "progressive holds at most one line per agent: {after:?}"
    );
    assert!(pops > 0, "no screen pop seen for a talking agent");

    let c = &summary["campaigns"][0];
    let (dials, live, abandoned) = (
        c["dials"].as_u64().unwrap_or(0),
        c["live_answers"].as_u64().unwrap_or(0),
        c["abandoned"].as_u64().unwrap_or(0),
    );
    eprintln!("lab-verify: {dials} dials, {live} live answers, {abandoned} abandoned");
    assert!(dials >= 100 && live >= 30, "too little traffic: {summary}");
    let bound = abandon_bound(live, 0.03);
    assert!(
        abandoned <= bound,
        "abandon rate over target: {abandoned}/{live} (at most {bound} at 3 %, 99 % of runs)"
    );

    let store = Store::open(&l.db).await.expect("store");
    let atts = attempts(&store).await;
    assert_eq!(atts.len() as u64, dials, "one call record per dial");
    let mut per_lead: HashMap<i64, u32> = HashMap::new();
    for a in &atts {
        *per_lead.entry(a.lead_id).or_default() += 1;
        assert_eq!(a.is_open, 0, "attempt left open: {a:?}");
        assert_ne!(
            a.timezone, l.closed,
            "dialled outside the calling window: {a:?}"
        );
        assert_eq!(a.timezone, l.open);
    }
    assert!(
        per_lead.values().all(|&n| n == 1),
        "a lead was dialled twice within its retry delay"
    );
    // Every lead is new (never reached), scheduled for a retry, or done: none stuck.
    let states = lead_states(&store).await;
    for (state, n) in &states {
        assert!(
            ["new", "scheduled", "done"].contains(&state.as_str()),
            "{n} leads left {state}: {states:?}"
        );
    }
    // The change is in the audit trail with the token's name.
    let audit = store.audit_rows(Some("lab-verify")).await.expect("audit");
    assert!(
        audit
            .iter()
            .any(|r| r.token == "test-supervisor" && r.field == "mode" && r.new == "progressive"),
        "{audit:?}"
    );
    // The per-hour report reads the same call records.
    let rep = outdial(&l.db, &["report", "lab-verify", "--json"], None);
    let rep: serde_json::Value = serde_json::from_str(&rep).expect("report json");
    assert_eq!(rep["total"]["attempts"].as_u64(), Some(dials), "{rep}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_dialling_lets_calls_finish_and_releases_leases() {
    let l = Lab::new("term", None, 40);
    l.campaign("lab-term", "predictive", 50, 1_000_000, 600, 5);
    let (cfg, admin) = engine_config(&l.dir, &l.setup("term-1", "lab-term", 600));
    let engine = start_engine(&l.db, &cfg);
    let _client = wait_admin(&admin).await;
    tokio::time::sleep(Duration::from_secs(4)).await;

    // A supervisor pauses the campaign from the CLI: no new attempt after the pause settles.
    let cli = |args: &[&str]| {
        outdial(
            &l.db,
            &[args, &["--engine", &admin, "--token", TOKEN]].concat(),
            None,
        )
    };
    let shown = cli(&["pacing", "show", "lab-term"]);
    assert!(shown.contains("predictive"), "{shown}");
    cli(&["campaign", "pause", "lab-term"]);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let store = Store::open(&l.db).await.expect("store");
    let n1 = attempts(&store).await.len();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let n2 = attempts(&store).await.len();
    assert!(n1 > 0);
    assert_eq!(n1, n2, "attempts were placed while paused");
    cli(&["campaign", "resume", "lab-term"]);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        attempts(&store).await.len() > n2,
        "resume did not dial again"
    );
    store.close().await;

    engine.signal("TERM");
    let summary = finish_engine(engine, Duration::from_secs(30));
    assert!(summary["campaigns"][0]["dials"].as_u64().unwrap_or(0) > 0);

    let store = Store::open(&l.db).await.expect("store");
    assert!(attempts(&store).await.iter().all(|a| a.is_open == 0));
    let states = lead_states(&store).await;
    assert!(
        states
            .iter()
            .all(|(s, _)| ["new", "scheduled", "done"].contains(&s.as_str())),
        "leases or calls left behind: {states:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_drive_their_state_through_the_api_and_a_refusal_goes_on_the_dnc_list() {
    use outdial::admin::{AgentAction, AgentState, WrapUpCode};
    let l = Lab::new("api", None, 40);
    l.campaign("lab-api", "progressive", 50, 1_000_000, 300, 5);
    let mut s = l.setup("api-1", "lab-api", 600);
    s.agent_range = (1, 2);
    s.wrap_up = "api";
    let (cfg, admin) = engine_config(&l.dir, &s);
    let engine = start_engine(&l.db, &cfg);
    let client = wait_admin(&admin).await;

    // API agents start logged out; nothing is dialled for them.
    let agents = client.agents().await.expect("agents");
    assert!(
        agents.iter().all(|a| a.state == AgentState::LoggedOut),
        "{agents:?}"
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    let store = Store::open(&l.db).await.expect("store");
    assert_eq!(
        attempts(&store).await.len(),
        0,
        "dialled with no agent logged in"
    );

    let a = client
        .agent_action("agent0001", &AgentAction::Login)
        .await
        .expect("login");
    assert_eq!(a.campaign.as_deref(), Some("lab-api"));
    // A pause with a reason, then ready again. The progressive campaign may reserve the agent
    // for a call the moment it logs in; a pause is refused (409) while a call rings for the
    // agent or is connected to it, so a desktop asks again once the call has resolved.
    let asked = std::time::Instant::now();
    let p = loop {
        let pause = AgentAction::Pause {
            reason: "coaching".into(),
        };
        match client.agent_action("agent0001", &pause).await {
            Ok(p) => break p,
            Err(outdial::admin::ClientError::Status { status, message })
                if status.as_u16() == 409
                    && (message.contains("while Reserved")
                        || message.contains("while Talking")) =>
            {
                assert!(
                    asked.elapsed() < Duration::from_secs(20),
                    "pause: {message}"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("pause: {e:?}"),
        }
    };
    assert_eq!(
        (p.state, p.pause_reason.as_deref()),
        (AgentState::Paused, Some("coaching"))
    );
    client
        .agent_action("agent0001", &AgentAction::Ready)
        .await
        .expect("ready");

    // Wait for a connected call, keep its screen pop, then for the wrap-up.
    let mut phone = None;
    let end = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        assert!(std::time::Instant::now() < end, "no call reached wrap-up");
        tokio::time::sleep(Duration::from_millis(100)).await;
        let cur = client.current_call("agent0001").await.expect("current");
        if let Some(pop) = cur.call {
            phone = Some(pop.phone.clone());
        }
        let view = client
            .agents()
            .await
            .expect("agents")
            .into_iter()
            .find(|a| a.id == "agent0001")
            .expect("agent0001");
        if view.state == AgentState::WrapUp && phone.is_some() {
            break;
        }
    }
    let phone = phone.expect("screen pop");
    // The agent stays in wrap-up until the desktop says it is done: no automatic ready.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let v = client.agents().await.expect("agents");
    assert!(v
        .iter()
        .any(|a| a.id == "agent0001" && a.state == AgentState::WrapUp));
    client
        .agent_action(
            "agent0001",
            &AgentAction::WrapUp {
                disposition: WrapUpCode::DoNotCall,
                note: Some("asked not to be called again".into()),
            },
        )
        .await
        .expect("wrap-up done");
    let metrics = client.metrics().await.expect("metrics");
    for m in [
        "outdial_dials_total",
        "outdial_agents",
        "outdial_pacing_decision_seconds",
    ] {
        assert!(metrics.contains(m), "{m} missing from /metrics");
    }
    client
        .agent_action("agent0001", &AgentAction::Logout)
        .await
        .ok();
    engine.signal("TERM");
    finish_engine(engine, Duration::from_secs(30));

    let mut listed = false;
    for _ in 0..20 {
        if store.is_dnc(&phone).await.expect("dnc") {
            listed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        listed,
        "{phone} refused the call but is not on the DNC list"
    );
}
