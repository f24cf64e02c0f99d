//! Campaigns share agents by priority: one engine runs a high-priority campaign with a handful of
//! leads and a low-priority one with many, on the same agent group. Every high-priority lead is
//! dialled first; once it has nothing left to dial its agents move to the low-priority campaign,
//! which then dials. A third campaign of the same group, highest priority of all, asks for a
//! skill no agent has: none of its leads is dialled.

use crate::engine_support;

use std::time::Duration;

use engine_support::*;
use outdial::store::{Db, Store};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_go_to_the_higher_priority_campaign_first_then_move_on() {
    let l = Lab::new("share", None, 10);
    l.campaign("lab-high", "predictive", 90, 5_000_000, 30, 0);
    l.campaign("lab-low", "predictive", 10, 6_000_000, 800, 0);
    let mandarin = campaign_yaml("lab-mandarin", "predictive")
        .replace("priority: 50", "priority: 99")
        .replace("skills: [verification]", "skills: [verification, mandarin]");
    l.campaign_text("lab-mandarin", &mandarin, 7_000_000, 50, 0);
    let (cfg, _) = engine_config(
        &l.dir,
        &EngineSetup {
            grace_s: 3,
            ..l.setup("share-1", "lab-low,lab-high,lab-mandarin", 20)
        },
    );
    finish_engine(start_engine(&l.db, &cfg), Duration::from_secs(60));

    let store = Store::open(&l.db).await.expect("store");
    const Q: &str = "SELECT c.name, CAST(COUNT(*) AS BIGINT), CAST(MIN(a.dial_ms) AS BIGINT), \
                     CAST(MAX(a.dial_ms) AS BIGINT) FROM attempts a JOIN campaigns c ON c.id = a.campaign_id \
                     GROUP BY c.name ORDER BY c.name";
    let rows: Vec<(String, i64, i64, i64)> = match store.db() {
        Db::Sqlite(p) => sqlx::query_as(Q).fetch_all(p).await,
        Db::Postgres(p) => sqlx::query_as(Q).fetch_all(p).await,
    }
    .expect("per campaign");
    let get = |n: &str| rows.iter().find(|r| r.0 == n).cloned();
    assert!(
        get("lab-mandarin").is_none(),
        "agents without the campaign's skill took its calls: {rows:?}"
    );
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
