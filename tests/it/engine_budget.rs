//! The abandon cap against the supervisor, on the live engine (`outdial run` against `outdial
//! trunk-sim` and `agent-sim` on loopback, time-scaled, SQLite store): a campaign whose 24-hour
//! abandon budget is already spent dials no faster than progressive even in `power:3`, and a
//! pacing override out of bounds written to the store (by another node or an older version) is
//! ignored, not applied.

use crate::engine_support;

use std::time::Duration;

use engine_support::*;
use outdial::admin::PacingRequest;
use outdial::campaign::DialMode;
use outdial::store::{AttemptOutcome, PacingOverride, Store};

/// Abandons `n` leads of `campaign` in the store as another node would have, a minute ago: `n`
/// live answers, all abandoned (100 %, far over any cap).
async fn seed_abandons(db: &str, campaign: &str, n: usize) {
    let store = Store::open(db).await.expect("store");
    let now = chrono::Utc::now().timestamp_millis();
    let leased = store
        .lease(campaign, n, now, "seed-node", 60_000)
        .await
        .expect("lease");
    assert_eq!(leased.len(), n, "not enough leads to seed");
    for l in &leased {
        let o = AttemptOutcome {
            dial_ms: Some(now - 60_000),
            answer_ms: Some(now - 55_000),
            ..AttemptOutcome::new(outdial::campaign::CallDisposition::Abandoned, now - 53_000)
        };
        store.record_attempt(l.lead_id, &o).await.expect("seed");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn power_3_with_its_abandon_budget_spent_places_at_most_one_call_per_agent() {
    let l = Lab::new("budget", None, 10);
    let text = campaign_yaml("lab-budget", "power").replace("  ratio: 1.0", "  ratio: 3.0");
    l.campaign_text("lab-budget", &text, 1_000_000, 600, 0);
    seed_abandons(&l.db, "lab-budget", 10).await;
    let (cfg, admin) = engine_config(&l.dir, &l.setup("budget-1", "lab-budget", 12));
    let engine = start_engine(&l.db, &cfg);
    let client = wait_admin(&admin).await;

    // 8 s ≈ 2.7 min of scenario time, sampled every 100 ms: never more lines in use than agents
    // (10), nor a dial level above one line per agent.
    let mut worst = (0, 0);
    let mut mode = String::new();
    for _ in 0..80 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let v = client.campaign("lab-budget").await.expect("campaign view");
        mode = v.pacing.mode.to_string();
        if v.calls_in_flight > worst.0 {
            worst = (v.calls_in_flight, v.agents.reserved + v.agents.talking);
        }
        assert!(
            v.calls_in_flight <= 10,
            "more calls than agents with the budget spent: {v:?}"
        );
        assert!(
            v.dial_level <= 1.0 + 1e-9,
            "dialled faster than progressive with the budget spent: {v:?}"
        );
    }
    let summary = finish_engine(engine, Duration::from_secs(60));
    // The supervisor's setting is kept (and shown); only the dialling is held back.
    assert_eq!(mode, "power");
    let c = &summary["campaigns"][0];
    let (dials, live, abandoned) = (
        c["dials"].as_u64().unwrap_or(0),
        c["live_answers"].as_u64().unwrap_or(0),
        c["abandoned"].as_u64().unwrap_or(0),
    );
    assert!(
        dials >= 20 && live >= 5,
        "too little traffic to tell: {summary}"
    );
    assert_eq!(
        abandoned, 0,
        "a call abandoned while the budget was spent ({abandoned}/{live}); worst {worst:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_override_in_the_store_is_ignored_and_a_good_one_applied() {
    let l = Lab::new("override", None, 4);
    l.campaign("lab-override", "predictive", 50, 2_000_000, 50, 0);
    let mut s = l.setup("override-1", "lab-override", 20);
    s.agent_range = (1, 4);
    let (cfg, admin) = engine_config(&l.dir, &s);
    let engine = start_engine(&l.db, &cfg);
    let client = wait_admin(&admin).await;
    // `rate:λ` above what the lab trunk accepts (max_cps 100) is refused by the engine, which
    // knows its trunks, with the field and the range.
    let e = client
        .set_pacing(
            "lab-override",
            &PacingRequest {
                mode: Some("rate:1000".into()),
                ..PacingRequest::default()
            },
        )
        .await
        .expect_err("rate above the trunks' CPS accepted");
    let e = e.to_string();
    assert!(
        e.contains("400") && e.contains("rate must be in [0.01, 100] calls/s"),
        "{e}"
    );
    let store = Store::open(&l.db).await.expect("store");
    let now = chrono::Utc::now().timestamp_millis();

    // What a hostile probe got through the API before bounds, written as another node would.
    let bad = PacingOverride {
        mode: Some(DialMode::Power { ratio: Some(1e308) }),
        ratio: Some(1e308),
        max_ratio: Some(1e308),
        target_abandon: Some(5e-324),
        paused: None,
    };
    store
        .set_override("lab-override", &bad, now)
        .await
        .expect("write override");
    // Overrides are polled every second: give it three.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let v = client.campaign("lab-override").await.expect("view");
    assert_eq!(
        (
            v.pacing.mode.to_string().as_str(),
            v.pacing.ratio,
            v.pacing.max_ratio,
            v.pacing.target_abandon
        ),
        ("predictive", 1.0, 3.0, 0.03),
        "a stored override out of bounds was applied"
    );

    // A sane override replaces it and is applied: the polling works, only the bad one was
    // refused.
    let good = PacingOverride {
        mode: Some(DialMode::Progressive),
        ratio: Some(1.0),
        max_ratio: Some(2.0),
        target_abandon: Some(0.02),
        paused: None,
    };
    store
        .set_override("lab-override", &good, now + 1)
        .await
        .expect("write override");
    let end = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let v = client.campaign("lab-override").await.expect("view");
        if v.pacing.mode.to_string() == "progressive" && v.pacing.target_abandon == 0.02 {
            break;
        }
        assert!(
            std::time::Instant::now() < end,
            "a valid stored override was not applied: {v:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    engine.signal("TERM");
    finish_engine(engine, Duration::from_secs(30));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_campaign_stored_with_values_out_of_bounds_is_not_run() {
    let l = Lab::new("stored-def", None, 2);
    l.campaign("lab-stored", "power", 50, 3_000_000, 10, 0);
    // What an older version accepted: 20 lines per agent and a 50 % abandon target.
    let store = Store::open(&l.db).await.expect("store");
    let text = campaign_yaml("lab-stored", "power");
    let mut def = outdial::campaign::Campaign::parse("lab-stored.yaml", &text).expect("def");
    def.dialing.max_ratio = 20.0;
    def.dialing.target_abandon = 0.5;
    let now = chrono::Utc::now().timestamp_millis();
    store.apply_campaign(&def, now).await.expect("store def");
    let mut s = l.setup("stored-1", "lab-stored", 3);
    s.agent_range = (1, 2);
    let (cfg, _admin) = engine_config(&l.dir, &s);
    let out = std::process::Command::new(bin())
        .args(["--db", &l.db, "run", "--json", "--config"])
        .arg(&cfg)
        .env("RUST_LOG", "off")
        .output()
        .expect("run engine");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "ran a campaign out of bounds: {err}");
    assert!(
        err.contains("campaign lab-stored in the store: dialing.max_ratio")
            && err.contains("and 5"),
        "{err}"
    );
    let atts = attempts(&store).await;
    assert!(atts.is_empty(), "dialled: {atts:?}");
}
