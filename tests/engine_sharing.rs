//! Campaigns share agents by priority: one engine runs a high-priority campaign with a handful of
//! leads and a low-priority one with many, on the same agent group. Every high-priority lead is
//! dialled first; once it has nothing left to dial its agents move to the low-priority campaign,
//! which then dials.

mod engine_support;

use std::time::Duration;

use engine_support::*;
use outdial::store::{Db, Store};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_go_to_the_higher_priority_campaign_first_then_move_on() {
    let dir = temp_dir("share");
    let db = format!("sqlite://{}", dir.join("s.db").display());
    let sc = scenario(&dir, 60);
    let trunk = peer("trunk-sim", &sc, 20.0, &[]);
    let agents = peer(
        "agent-sim",
        &sc,
        20.0,
        &["--agents", "10", "--hold-until-bye"],
    );
    let (open, closed) = open_and_closed_zones();
    for (name, priority, first, leads) in [
        ("lab-high", 90, 5_000_000, 30),
        ("lab-low", 10, 6_000_000, 800),
    ] {
        let f = dir.join(format!("{name}.yaml"));
        let text = campaign_yaml(name, "predictive")
            .replace("priority: 50", &format!("priority: {priority}"));
        std::fs::write(&f, text).expect("campaign");
        outdial(&db, &["campaign", "apply", f.to_str().expect("path")], None);
        outdial(
            &db,
            &["campaign", "load", name, "-"],
            Some(&list_csv(first, leads, &open, &closed, 0)),
        );
    }
    let (cfg, _) = engine_config(
        &dir,
        &EngineSetup {
            node: "share-1",
            campaign: "lab-low,lab-high",
            trunk: trunk.addr,
            agents: agents.addr,
            agent_range: (1, 10),
            time_scale: 20.0,
            run_for_s: 20,
            grace_s: 3,
            channels: 60,
            wrap_up: "auto",
        },
    );
    finish_engine(start_engine(&db, &cfg), Duration::from_secs(60));

    let store = Store::open(&db).await.expect("store");
    const Q: &str = "SELECT c.name, CAST(COUNT(*) AS BIGINT), CAST(MIN(a.dial_ms) AS BIGINT), \
                     CAST(MAX(a.dial_ms) AS BIGINT) FROM attempts a JOIN campaigns c ON c.id = a.campaign_id \
                     GROUP BY c.name ORDER BY c.name";
    let rows: Vec<(String, i64, i64, i64)> = match store.db() {
        Db::Sqlite(p) => sqlx::query_as(Q).fetch_all(p).await,
        Db::Postgres(p) => sqlx::query_as(Q).fetch_all(p).await,
    }
    .expect("per campaign");
    let get = |n: &str| rows.iter().find(|r| r.0 == n).cloned();
    let high = get("lab-high").expect("high-priority campaign dialled");
    let low = get("lab-low").expect("low-priority campaign dialled once the high one ran dry");
    assert_eq!(high.1, 30, "every high-priority lead is dialled: {rows:?}");
    assert!(
        low.1 >= 30,
        "the low-priority campaign got the agents: {rows:?}"
    );
    // The high-priority campaign's leads were all dialled before most of the low one's.
    let low_median: i64 = {
        const M: &str =
            "SELECT a.dial_ms FROM attempts a JOIN campaigns c ON c.id = a.campaign_id \
                         WHERE c.name = 'lab-low' ORDER BY a.dial_ms";
        let v: Vec<(i64,)> = match store.db() {
            Db::Sqlite(p) => sqlx::query_as(M).fetch_all(p).await,
            Db::Postgres(p) => sqlx::query_as(M).fetch_all(p).await,
        }
        .expect("low dials");
        v[v.len() / 2].0
    };
    assert!(
        high.3 < low_median,
        "high-priority leads waited behind low-priority ones: {rows:?}"
    );
}
