//! Several engines, one centre: two `outdial run` processes on one PostgreSQL store dial the same
//! campaign. Leases are disjoint (no lead dialled by both or twice), an agent configured on both
//! nodes is owned by one at a time, a supervisor change made on one node reaches the other
//! through the store, and both read the same campaign-wide abandon figures. With `CI=true` an
//! unreachable PostgreSQL fails the test.

use crate::engine_support;

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use engine_support::*;
use outdial::admin::PacingRequest;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_engines_share_one_campaign_without_overlap() {
    let url = pg_url();
    let Some((store, schema)) = isolated_pg(&url).await else {
        return;
    };
    let sep = if url.contains('?') { '&' } else { '?' };
    let db = format!("{url}{sep}options=-c%20search_path%3D{schema}");

    let l = Lab::new("pg2", Some(db.clone()), 20);
    let leads = 1200;
    l.campaign("lab-pg", "predictive", 50, 3_000_000, leads, 0);
    let dir = &l.dir;
    let setup = |node, range| EngineSetup {
        agent_range: range,
        run_for_s: 24,
        channels: 40,
        ..l.setup(node, "lab-pg", 24)
    };
    // agent0010 is configured on both nodes.
    let (cfg_a, admin_a) = engine_config(dir, &setup("site-a", (1, 10)));
    let (cfg_b, admin_b) = engine_config(dir, &setup("site-b", (10, 19)));
    let a = start_engine(&db, &cfg_a);
    let b = start_engine(&db, &cfg_b);
    let ca = wait_admin(&admin_a).await;
    let cb = wait_admin(&admin_b).await;
    tokio::time::sleep(Duration::from_secs(4)).await;

    // agent0010 belongs to exactly one node.
    let owned = |views: Vec<outdial::admin::AgentView>| {
        views
            .into_iter()
            .find(|v| v.id == "agent0010")
            .is_some_and(|v| v.state != outdial::admin::AgentState::LoggedOut)
    };
    let (on_a, on_b) = (
        owned(ca.agents().await.expect("agents a")),
        owned(cb.agents().await.expect("agents b")),
    );
    assert!(on_a ^ on_b, "agent0010 logged in on a: {on_a}, b: {on_b}");

    // A change on node A reaches node B through the store.
    ca.set_pacing(
        "lab-pg",
        &PacingRequest {
            target_abandon: Some(0.02),
            ..PacingRequest::default()
        },
    )
    .await
    .expect("pacing change on a");
    let mut seen = false;
    for _ in 0..40 {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let v = cb.campaign("lab-pg").await.expect("view b");
        if (v.pacing.target_abandon - 0.02).abs() < 1e-12 {
            seen = true;
            break;
        }
    }
    assert!(seen, "node b did not follow node a's pacing change");

    // Both read one campaign-wide abandon figure (all nodes' call records).
    tokio::time::sleep(Duration::from_secs(11)).await;
    let (va, vb) = (
        ca.campaign("lab-pg").await.expect("a"),
        cb.campaign("lab-pg").await.expect("b"),
    );
    assert!(va.abandon_rate.last_24h.is_some() && vb.abandon_rate.last_24h.is_some());

    let sa = finish_engine(a, Duration::from_secs(60));
    let sb = finish_engine(b, Duration::from_secs(60));
    let dials = |s: &serde_json::Value| s["campaigns"][0]["dials"].as_u64().unwrap_or(0);
    assert!(
        dials(&sa) > 0 && dials(&sb) > 0,
        "both nodes dial: {sa} {sb}"
    );

    let atts = attempts(&store).await;
    assert_eq!(atts.len() as u64, dials(&sa) + dials(&sb));
    let mut per_lead: HashMap<i64, usize> = HashMap::new();
    let mut nodes = HashSet::new();
    for at in &atts {
        *per_lead.entry(at.lead_id).or_default() += 1;
        nodes.insert(at.node.clone());
        assert_eq!(at.is_open, 0);
    }
    assert!(
        per_lead.values().all(|&n| n == 1),
        "a lead was dialled twice"
    );
    assert_eq!(nodes.len(), 2);
    let states = lead_states(&store).await;
    let total: i64 = states.iter().map(|(_, n)| n).sum();
    assert_eq!(total, leads as i64);
    assert!(
        states
            .iter()
            .all(|(s, _)| ["new", "scheduled", "done"].contains(&s.as_str())),
        "{states:?}"
    );
    let _ = store.drop_schema(&schema).await;
}
