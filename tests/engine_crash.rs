//! Crash safety of the live engine: `kill -9` mid-campaign, then a restart of the same node, or
//! another node that recovers the dead one once its liveness row expires; and a node that finds
//! its own row expired stops. The lease and the attempt are committed before each INVITE, so
//! nothing is lost: the calls that were in flight are closed as `unknown` and retried by the
//! campaign's rules (not inside their retry delay), undialled leases return to the pool, and no
//! lead is dialled twice.

mod engine_support;

use std::collections::HashMap;
use std::time::Duration;

use engine_support::*;
use outdial::store::{Db, Store};

/// Starts an engine, lets it dial for `secs`, kills it with SIGKILL; returns the leads whose
/// attempt was open at the kill (at least one).
async fn kill_mid_campaign(db: &str, cfg: &std::path::Path, admin: &str, secs: u64) -> Vec<i64> {
    let mut engine = start_engine(db, cfg);
    wait_admin(admin).await;
    tokio::time::sleep(Duration::from_secs(secs)).await;
    engine.signal("KILL");
    engine.wait_for(Duration::from_secs(10));
    let store = Store::open(db).await.expect("store");
    let before = attempts(&store).await;
    store.close().await;
    let open: Vec<i64> = before
        .iter()
        .filter(|a| a.is_open == 1)
        .map(|a| a.lead_id)
        .collect();
    assert!(
        !open.is_empty(),
        "the kill should catch calls in flight ({} attempts)",
        before.len()
    );
    open
}

/// After recovery: no attempt open, the calls open at the kill closed as `unknown` and not
/// dialled again inside their retry delay, no lead dialled twice, every lead in a resting state.
async fn assert_nothing_lost_nor_dialled_twice(db: &str, open_at_kill: &[i64], leads: u32) {
    let store = Store::open(db).await.expect("store");
    let after = attempts(&store).await;
    assert!(after.iter().all(|a| a.is_open == 0), "attempts left open");
    let mut by_lead: HashMap<i64, Vec<&Attempt>> = HashMap::new();
    for a in &after {
        by_lead.entry(a.lead_id).or_default().push(a);
    }
    for lead in open_at_kill {
        let atts = &by_lead[lead];
        assert_eq!(
            atts[0].disposition.as_deref(),
            Some("unknown"),
            "an in-flight call is closed as unknown"
        );
        // Its retry is 15 minutes away: not dialled again by the recovering engine.
        assert_eq!(
            atts.len(),
            1,
            "lead {lead} dialled again inside its retry delay"
        );
    }
    assert!(
        by_lead.values().all(|v| v.len() == 1),
        "a lead was dialled twice"
    );
    let states = lead_states(&store).await;
    let total: i64 = states.iter().map(|(_, n)| n).sum();
    assert_eq!(total, leads as i64, "leads lost: {states:?}");
    assert!(
        states
            .iter()
            .all(|(s, _)| ["new", "scheduled", "done"].contains(&s.as_str())),
        "leads stuck leased or in flight: {states:?}"
    );
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_loses_nothing_and_dials_nothing_twice() {
    let l = Lab::new("crash", None, 10);
    let leads = 800;
    l.campaign("lab-crash", "predictive", 50, 2_000_000, leads, 0);
    let (dir, db) = (&l.dir, &l.db);
    let setup = |run_for_s| l.setup("crash-1", "lab-crash", run_for_s);

    let (cfg, admin) = engine_config(dir, &setup(600));
    let open_at_kill = kill_mid_campaign(db, &cfg, &admin, 8).await;

    // Restart the same node for a short run.
    let (cfg, _) = engine_config(dir, &setup(8));
    let summary = finish_engine(start_engine(db, &cfg), Duration::from_secs(60));
    assert!(summary["campaigns"][0]["dials"].as_u64().unwrap_or(0) > 0);
    assert_nothing_lost_nor_dialled_twice(db, &open_at_kill, leads).await;
}

/// A node killed for good: another node on the same store recovers its calls once its liveness
/// row expires (`node_ttl`), so none of its leads stays stuck in flight and none is dialled twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_never_returns_is_recovered_by_another() {
    let l = Lab::new("dead-node", None, 10);
    let leads = 800;
    l.campaign("lab-dead", "predictive", 50, 3_000_000, leads, 0);
    let (dir, db) = (&l.dir, &l.db);
    let node = |name, agents, run_for_s| {
        let (cfg, admin) = engine_config(
            dir,
            &EngineSetup {
                agent_range: agents,
                ..l.setup(name, "lab-dead", run_for_s)
            },
        );
        with_node_ttl(&cfg);
        (cfg, admin)
    };

    let (cfg_a, admin_a) = node("dead-a", (1, 5), 600);
    let open_at_kill = kill_mid_campaign(db, &cfg_a, &admin_a, 6).await;

    // Another node, never the dead one's name, runs past the dead node's TTL.
    let (cfg_b, _) = node("dead-b", (6, 10), 12);
    let summary = finish_engine(start_engine(db, &cfg_b), Duration::from_secs(60));
    assert!(summary["campaigns"][0]["dials"].as_u64().unwrap_or(0) > 0);
    assert_nothing_lost_nor_dialled_twice(db, &open_at_kill, leads).await;
}

/// A 3 s liveness TTL in an engine config, so the tests need not wait 30 s.
fn with_node_ttl(cfg: &std::path::Path) {
    let mut text = std::fs::read_to_string(cfg).expect("config");
    text.push_str("node_ttl: 3s\n");
    std::fs::write(cfg, text).expect("config");
}

/// A node that finds its liveness row expired (as after a stall longer than `node_ttl`, when
/// another node may already have taken its leads back) stops dialling, hangs up and exits with an
/// error, rather than going on with calls another node believes closed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_whose_row_expired_stops_with_an_error() {
    let l = Lab::new("lost-row", None, 10);
    l.campaign("lab-lost", "predictive", 50, 4_000_000, 400, 0);
    let (cfg, admin) = engine_config(&l.dir, &l.setup("lost-a", "lab-lost", 600));
    with_node_ttl(&cfg);
    let mut engine = start_engine(&l.db, &cfg);
    wait_admin(&admin).await;
    tokio::time::sleep(Duration::from_secs(3)).await;

    // The row expires under the running node.
    let store = Store::open(&l.db).await.expect("store");
    let q = "UPDATE nodes SET until_ms = 0 WHERE node = 'lost-a'";
    let n = match store.db() {
        Db::Sqlite(p) => sqlx::query(q).execute(p).await.map(|r| r.rows_affected()),
        Db::Postgres(p) => sqlx::query(q).execute(p).await.map(|r| r.rows_affected()),
    }
    .expect("expire the row");
    assert_eq!(n, 1, "the running node has a liveness row");
    let st = engine.wait_for(Duration::from_secs(30));
    assert!(
        !st.success(),
        "the engine went on after losing its row: {st}"
    );
    let after = attempts(&store).await;
    assert!(!after.is_empty(), "the engine dialled before the stop");
    assert!(
        after.iter().all(|x| x.is_open == 0),
        "calls were left up after the stop"
    );
}
