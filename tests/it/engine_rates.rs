//! The abandon-rate windows the budget rule reads agree with the run's own figure while calls
//! are up: a live answer reaches the store when it happens, not when the call ends. Against SIPp
//! peers (`sim/sipp/crash-trunk.xml`: two customers answer after 1 s and talk until hung up, two
//! after 2 s and find no agent; `crash-agent.xml`: agents that never hang up).

use crate::engine_support;
use crate::sipp;

use std::time::{Duration, Instant};

use engine_support::*;
use outdial::store::{Db, Store};

/// Open attempts connected to an agent right now.
async fn connected_now(store: &Store) -> i64 {
    let q = "SELECT CAST(COUNT(*) AS BIGINT) FROM attempts WHERE is_open = 1 \
             AND connect_ms IS NOT NULL";
    let (n,): (i64,) = match store.db() {
        Db::Sqlite(p) => sqlx::query_as(q).fetch_one(p).await,
        Db::Postgres(p) => sqlx::query_as(q).fetch_one(p).await,
    }
    .expect("count");
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_calls_are_connected_the_24h_rate_equals_the_run_rate() {
    if !sipp::available() {
        return;
    }
    let dir = temp_dir("rates");
    let db = format!("sqlite://{}", dir.join("rates.db").display());
    let peer = |scenario: &str| {
        sipp::Builder::new(scenario)
            .args(["-default_behaviors", "all,-abortunexp"])
            .timeout(Duration::from_secs(90))
            .spawn()
    };
    let (trunk, agents) = (peer("crash-trunk.xml"), peer("crash-agent.xml"));
    let (open, closed) = open_and_closed_zones();
    // Power dialling, three lines per agent, two agents: six calls at once, 2 s patience.
    let text = campaign_yaml("lab-rates", "power").replace("ratio: 1.0", "ratio: 3.0");
    let f = dir.join("lab-rates.yaml");
    std::fs::write(&f, text).expect("campaign");
    outdial(&db, &["campaign", "apply", f.to_str().expect("path")], None);
    let csv = list_csv(300, 6, &open, &closed, 0);
    outdial(&db, &["campaign", "load", "lab-rates", "-"], Some(&csv));
    let (cfg, admin) = engine_config(
        &dir,
        &EngineSetup {
            node: "rates-1",
            campaign: "lab-rates",
            trunk: trunk.addr,
            agents: agents.addr,
            agent_range: (1, 2),
            time_scale: 1.0,
            run_for_s: 6,
            grace_s: 1,
            channels: 20,
            wrap_up: "auto",
        },
    );
    let engine = start_engine(&db, &cfg);
    let client = wait_admin(&admin).await;
    let store = Store::open(&db).await.expect("store");

    // Once two customers talk and two were abandoned (both before the later ones answer at
    // 10 s), the run's figure and the store's 24 h and 30 d windows describe the same calls.
    let deadline = Instant::now() + Duration::from_secs(8);
    let (run, rates) = loop {
        let views = client.campaigns().await.expect("campaigns");
        let run = views[0].abandon_rate.run;
        let rates = store
            .abandon_rates("lab-rates", chrono::Utc::now().timestamp_millis())
            .await
            .expect("rates");
        if rates.1 >= 2 && connected_now(&store).await >= 2 {
            break (run, rates);
        }
        assert!(
            Instant::now() < deadline,
            "no abandoned calls beside connected ones (run {run:?}, store {rates:?})"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let (live_24h, abandoned_24h, live_30d, abandoned_30d) = rates;
    assert_eq!(
        (live_24h, abandoned_24h),
        (4, 2),
        "24 h window: the two connected calls count as live answers while they are up"
    );
    assert_eq!((live_30d, abandoned_30d), (live_24h, abandoned_24h));
    assert_eq!(run, Some(0.5), "the run's own figure");
    assert_eq!(
        run,
        Some(abandoned_24h as f64 / live_24h as f64),
        "run and 24 h figures differ"
    );
    store.close().await;
    finish_engine(engine, Duration::from_secs(30));
}
