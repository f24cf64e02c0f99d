//! Crash safety of the live engine: `kill -9` mid-campaign, then a restart of the same node.
//! The lease and the attempt are committed before each INVITE, so nothing is lost: the calls
//! that were in flight are closed as `unknown` and retried by the campaign's rules (not inside
//! their retry delay), undialled leases return to the pool, and no lead is dialled twice.

mod engine_support;

use std::collections::HashMap;
use std::time::Duration;

use engine_support::*;
use outdial::store::Store;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_loses_nothing_and_dials_nothing_twice() {
    let l = Lab::new("crash", None, 10);
    let leads = 800;
    l.campaign("lab-crash", "predictive", 50, 2_000_000, leads, 0);
    let (dir, db) = (&l.dir, &l.db);
    let setup = |run_for_s| l.setup("crash-1", "lab-crash", run_for_s);

    let (cfg, admin) = engine_config(dir, &setup(600));
    let engine = start_engine(db, &cfg);
    wait_admin(&admin).await;
    tokio::time::sleep(Duration::from_secs(8)).await;
    engine.signal("KILL");
    let mut engine = engine;
    engine.wait_for(Duration::from_secs(10));

    let store = Store::open(db).await.expect("store");
    let before = attempts(&store).await;
    let open_at_kill: Vec<i64> = before
        .iter()
        .filter(|a| a.is_open == 1)
        .map(|a| a.lead_id)
        .collect();
    assert!(
        !open_at_kill.is_empty(),
        "the kill should catch calls in flight ({} attempts)",
        before.len()
    );
    store.close().await;

    // Restart the same node for a short run.
    let (cfg, _) = engine_config(dir, &setup(8));
    let summary = finish_engine(start_engine(db, &cfg), Duration::from_secs(60));
    assert!(summary["campaigns"][0]["dials"].as_u64().unwrap_or(0) > 0);

    let store = Store::open(db).await.expect("store");
    let after = attempts(&store).await;
    assert!(after.iter().all(|a| a.is_open == 0), "attempts left open");
    let mut by_lead: HashMap<i64, Vec<&Attempt>> = HashMap::new();
    for a in &after {
        by_lead.entry(a.lead_id).or_default().push(a);
    }
    for lead in &open_at_kill {
        let atts = &by_lead[lead];
        assert_eq!(
            atts[0].disposition.as_deref(),
            Some("unknown"),
            "an in-flight call is closed as unknown"
        );
        // Its retry is 15 minutes away: not dialled again by the restarted engine.
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
        "{states:?}"
    );
}
