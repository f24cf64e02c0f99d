//! Store: owned callbacks — a callback an agent schedules at wrap-up is leased only for that
//! agent until its time plus the campaign's `callbacks.owner_grace`, then for anyone; never
//! leased twice, never lost, the owner cleared once it is dialled — and the wrap-up note and
//! the lead's history — on SQLite and PostgreSQL.

use crate::common;

use std::collections::HashSet;

use common::*;
use outdial::campaign::CallDisposition;
use outdial::store::{AgentWrapUp, AttemptOutcome, Next, Store};

const TTL: i64 = 5 * MIN;
const SEC: i64 = 1_000;

/// Dials `phone` of `campaign` at `dial` and ends it connected to `agent`; returns the attempt.
async fn connected_call(s: &Store, campaign: &str, phone: &str, dial: i64, agent: &str) -> i64 {
    crate::store_engine::connected_call_by(s, campaign, phone, dial, agent)
        .await
        .0
}

async fn callback(s: &Store, attempt: i64, agent: &str, at: i64, wrap: i64, note: &str) -> Next {
    let w = AgentWrapUp {
        disposition: CallDisposition::Callback,
        callback_at_ms: Some(at),
        agent: Some(agent),
        note: Some(note),
    };
    s.apply_wrap_up(attempt, &w, wrap).await.unwrap()
}

fn names(v: &[String]) -> Vec<String> {
    v.to_vec()
}

async fn owner_then_anyone_after_the_grace(db: &TestDb) {
    let s = &db.store;
    apply(
        s,
        &campaign_yaml("c1", RETRY, "callbacks:\n  owner_grace: 10m\n"),
    )
    .await;
    let p: Vec<String> = mobiles(1, 3).iter().map(|n| e164(n)).collect();
    let csv = format!(
        "phone,name,tier\n{},Li Lei,A\n{},,\n{},,\n",
        p[0], p[1], p[2]
    );
    load(s, "c1", &csv, t0() - HOUR).await;
    let a = connected_call(s, "c1", &p[0], t0(), "a1").await;
    let at = t0() + 2 * HOUR;
    let wrap = t0() + 6 * MIN;
    assert_eq!(
        callback(s, a, "a1", at, wrap, "call after lunch").await,
        Next::Retry { due_ms: at }
    );
    let a1 = names(&["a1".into()]);
    let both = names(&["a2".into(), "a1".into()]);

    // Before its time nobody gets it; the shared pool has the other leads only.
    assert!(s
        .lease_owned("c1", &both, at - MIN, "n1", TTL)
        .await
        .unwrap()
        .is_empty());
    let shared = s.lease("c1", 10, at - MIN, "n1", TTL).await.unwrap();
    assert!(!shared.iter().any(|l| l.phone_e164 == p[0]), "{shared:?}");
    s.release(&shared.iter().map(|l| l.lead_id).collect::<Vec<_>>())
        .await
        .unwrap();

    // Due: only a lease for its owner takes it, and says whose it is.
    let shared = s.lease("c1", 10, at, "n1", TTL).await.unwrap();
    assert!(!shared.iter().any(|l| l.phone_e164 == p[0]));
    s.release(&shared.iter().map(|l| l.lead_id).collect::<Vec<_>>())
        .await
        .unwrap();
    let other = names(&["a2".into()]);
    assert!(s
        .lease_owned("c1", &other, at, "n1", TTL)
        .await
        .unwrap()
        .is_empty());
    let mine = s
        .lease_owned("c1", &both, at, "n1", 2 * HOUR)
        .await
        .unwrap();
    assert_eq!(mine.len(), 1, "{mine:?}");
    assert_eq!(mine[0].phone_e164, p[0]);
    assert_eq!(mine[0].owner.as_deref(), Some("a1"));
    assert_eq!(
        (mine[0].name.as_deref(), mine[0].tier.as_str()),
        (Some("Li Lei"), "A")
    );
    // Leased for its owner, it is in nobody else's lease, even past the grace (until that
    // lease expires).
    assert!(s
        .lease("c1", 10, at + HOUR, "n2", 10 * SEC)
        .await
        .unwrap()
        .iter()
        .all(|l| l.phone_e164 != p[0]));
    s.release(&[mine[0].lead_id]).await.unwrap();

    // The owner never came: one minute before the grace ends it still waits for them…
    let t = at + 9 * MIN;
    let shared = s.lease("c1", 10, t, "n2", TTL).await.unwrap();
    assert!(!shared.iter().any(|l| l.phone_e164 == p[0]));
    s.release(&shared.iter().map(|l| l.lead_id).collect::<Vec<_>>())
        .await
        .unwrap();
    // …and at the end of the grace any agent's lease takes it, and the owner's does not.
    let t = at + 10 * MIN;
    assert!(s
        .lease_owned("c1", &a1, t, "n1", TTL)
        .await
        .unwrap()
        .is_empty());
    let shared = s.lease("c1", 10, t, "n2", TTL).await.unwrap();
    let cb = shared
        .iter()
        .find(|l| l.phone_e164 == p[0])
        .expect("the callback falls back to the campaign");
    assert_eq!(cb.owner, None);

    // Dialled (by anyone): it is nobody's any more; an unanswered retry goes to the pool.
    let att = s.begin_attempt(cb.lead_id, "n2", t).await.unwrap();
    s.release(
        &shared
            .iter()
            .filter(|l| l.lead_id != cb.lead_id)
            .map(|l| l.lead_id)
            .collect::<Vec<_>>(),
    )
    .await
    .unwrap();
    let next = s
        .finish_attempt(
            att,
            &AttemptOutcome::new(CallDisposition::NoAnswer, t + 30 * SEC),
        )
        .await
        .unwrap();
    let Next::Retry { due_ms } = next else {
        panic!("{next:?}")
    };
    assert!(s
        .lease_owned("c1", &a1, due_ms, "n1", TTL)
        .await
        .unwrap()
        .is_empty());
    assert!(s
        .lease("c1", 10, due_ms, "n1", TTL)
        .await
        .unwrap()
        .iter()
        .any(|l| l.phone_e164 == p[0]));

    // The lead's history: newest first, with the agent's code and note; `before` leaves out
    // the current call.
    let h = s.lead_history(cb.lead_id, None, 20).await.unwrap();
    assert_eq!(h.len(), 2, "{h:?}");
    assert_eq!(h[0].attempt, att);
    assert_eq!(h[0].disposition.as_deref(), Some("no_answer"));
    assert_eq!(
        (
            h[1].agent_disposition.as_deref(),
            h[1].agent.as_deref(),
            h[1].note.as_deref()
        ),
        (Some("callback"), Some("a1"), Some("call after lunch"))
    );
    let before = s.lead_history(cb.lead_id, Some(att), 20).await.unwrap();
    assert_eq!(before.iter().map(|x| x.attempt).collect::<Vec<_>>(), [a]);
}

async fn one_callback_per_agent_and_a_zero_grace(db: &TestDb) {
    let s = &db.store;
    apply(s, &campaign_yaml("c1", RETRY, "")).await;
    apply(
        s,
        &campaign_yaml("c0", RETRY, "callbacks: { owner_grace: 0s }"),
    )
    .await;
    let p: Vec<String> = mobiles(11, 4).iter().map(|n| e164(n)).collect();
    load(
        s,
        "c1",
        &format!("phone\n{}\n{}\n{}\n", p[0], p[1], p[2]),
        t0() - HOUR,
    )
    .await;
    load(s, "c0", &format!("phone\n{}\n", p[3]), t0() - HOUR).await;
    let at = t0() + HOUR;
    for (i, agent) in [(0, "a1"), (1, "a1"), (2, "a2")] {
        let a = connected_call(s, "c1", &p[i], t0() + i as i64 * SEC, agent).await;
        callback(s, a, agent, at, t0() + 10 * MIN, "").await;
    }
    // a1 owns two due callbacks: one at a time (the agent takes one call at a time).
    let agents = names(&["a1".into(), "a2".into()]);
    let got = s.lease_owned("c1", &agents, at, "n1", TTL).await.unwrap();
    let mut owners: Vec<_> = got.iter().filter_map(|l| l.owner.clone()).collect();
    owners.sort();
    assert_eq!(owners, ["a1", "a2"]);
    let again = s.lease_owned("c1", &agents, at, "n1", TTL).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].owner.as_deref(), Some("a1"));
    // The default grace is 15 minutes.
    s.release(
        &got.iter()
            .chain(&again)
            .map(|l| l.lead_id)
            .collect::<Vec<_>>(),
    )
    .await
    .unwrap();
    assert!(s
        .lease("c1", 10, at + 15 * MIN - 1, "n2", TTL)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        s.lease("c1", 10, at + 15 * MIN, "n2", TTL)
            .await
            .unwrap()
            .len(),
        3
    );
    // `owner_grace: 0s`: the callback is anyone's at its time.
    let a = connected_call(s, "c0", &p[3], t0(), "a1").await;
    callback(s, a, "a1", at, t0() + 10 * MIN, "").await;
    let a1 = names(&["a1".into()]);
    assert!(s
        .lease_owned("c0", &a1, at, "n1", TTL)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(s.lease("c0", 10, at, "n1", TTL).await.unwrap().len(), 1);
    // A grace longer than any retry delay is refused with the field named.
    let bad = campaign_yaml("c9", RETRY, "callbacks: { owner_grace: 400d }");
    let e = outdial::campaign::Campaign::parse("c9.yaml", &bad).unwrap_err();
    assert!(e.to_string().contains("callbacks.owner_grace"), "{e}");
}

/// Two nodes whose clocks straddle the end of the grace race for the same callbacks (one for
/// the owner, one for anyone): each callback goes to exactly one of them.
async fn owner_and_fallback_never_share_a_callback(db: &TestDb) {
    let s = &db.store;
    apply(
        s,
        &campaign_yaml("c1", RETRY, "callbacks: { owner_grace: 1m }"),
    )
    .await;
    let nums = mobiles(100, 24);
    let agents: Vec<String> = (0..nums.len()).map(|i| format!("a{i}")).collect();
    let csv = std::iter::once("phone".to_string())
        .chain(nums.iter().cloned())
        .collect::<Vec<_>>()
        .join("\n");
    load(s, "c1", &csv, t0() - HOUR).await;
    let at = t0() + HOUR;
    let leased = s.lease("c1", 100, t0(), "n0", TTL).await.unwrap();
    assert_eq!(leased.len(), nums.len());
    for (i, l) in leased.iter().enumerate() {
        let att = s.begin_attempt(l.lead_id, "n0", t0()).await.unwrap();
        let mut o = AttemptOutcome::new(CallDisposition::Connected, t0() + MIN);
        o.agent = Some(agents[i].clone());
        s.finish_attempt(att, &o).await.unwrap();
        callback(s, att, &agents[i], at, t0() + 2 * MIN, "").await;
    }
    let other = db.second().await;
    let end = at + MIN;
    let (mine, theirs) = tokio::join!(
        s.lease_owned("c1", &agents, end - 1, "n1", TTL),
        other.lease("c1", 100, end, "n2", TTL),
    );
    let (mine, theirs) = (mine.unwrap(), theirs.unwrap());
    let mut seen = HashSet::new();
    for l in mine.iter().chain(&theirs) {
        assert!(seen.insert(l.lead_id), "lead {} leased twice", l.lead_id);
    }
    assert_eq!(seen.len(), nums.len(), "a callback was lost");
    other.close().await;
}

on_both_backends!(
    owner_then_anyone_after_the_grace,
    one_callback_per_agent_and_a_zero_grace,
    owner_and_fallback_never_share_a_callback,
);
