//! Store: what a call reaches is written while it is up (`record_progress`), on SQLite and
//! PostgreSQL. A live answer counts in the 24-hour and 30-day abandon windows, seen from every
//! node, from the moment it happens — not when the call ends, which made the windows read high
//! while calls were up. Recovery after a crash closes each open call with what it reached
//! (`interrupted` when it was connected, `abandoned` when answered live and still waiting,
//! `machine`, or `unknown` before an answer) and hands back the dialogs of the legs that were up.

use crate::common;

use common::*;
use outdial::campaign::CallDisposition;
use outdial::store::{AttemptOutcome, CallProgress, Db, OpenLeg, Store};

const TTL: i64 = 5 * MIN;
const SEC: i64 = 1000;

/// `(disposition, live, connected, agent, answer_ms, connect_ms)` of every attempt, by lead id.
type Row = (
    i64,
    Option<String>,
    i64,
    i64,
    Option<String>,
    Option<i64>,
    Option<i64>,
);

async fn rows(s: &Store) -> Vec<Row> {
    let q = "SELECT lead_id, disposition, CAST(live AS BIGINT), CAST(connected AS BIGINT), agent, \
             answer_ms, connect_ms FROM attempts ORDER BY lead_id";
    match s.db() {
        Db::Sqlite(p) => sqlx::query_as(q).fetch_all(p).await,
        Db::Postgres(p) => sqlx::query_as(q).fetch_all(p).await,
    }
    .unwrap()
}

/// Leases `n` fresh leads of campaign `c1` to `node` and opens an attempt on each at `at`.
async fn dial(s: &Store, n: usize, node: &str, at: i64) -> Vec<(i64, String, i64)> {
    let leased = s.lease("c1", n, at, node, TTL).await.unwrap();
    assert_eq!(leased.len(), n);
    let mut out = Vec::new();
    for l in leased {
        let a = s.begin_attempt(l.lead_id, node, at).await.unwrap();
        out.push((l.lead_id, l.phone_e164, a));
    }
    out
}

fn answered(attempt: i64, at: i64, live: bool) -> CallProgress {
    let mut p = CallProgress::new(attempt);
    p.ring_ms = Some(at - 3 * SEC);
    p.answer_ms = Some(at);
    p.live = Some(live);
    p.trunk = Some("t1".into());
    p
}

async fn live_answers_count_when_they_happen(db: &TestDb) {
    let s = &db.store;
    apply(s, &campaign_yaml("c1", RETRY, "")).await;
    let csv = format!("phone\n{}\n", mobiles(1, 3).join("\n"));
    load(s, "c1", &csv, t0() - HOUR).await;
    let calls = dial(s, 3, "node-a", t0()).await;
    let (talking, waiting, machine) = (calls[0].2, calls[1].2, calls[2].2);
    let now = t0() + 10 * SEC;
    s.record_progress(&[
        answered(talking, t0() + 5 * SEC, true),
        answered(waiting, t0() + 6 * SEC, true),
        answered(machine, t0() + 6 * SEC, false),
    ])
    .await
    .unwrap();
    let mut connected = CallProgress::new(talking);
    connected.connect_ms = Some(t0() + 6 * SEC);
    connected.agent = Some("1001".into());
    s.record_progress(&[connected]).await.unwrap();
    // The waiting customer is abandoned (written at once, as before); the other still talks.
    let mut o = AttemptOutcome::new(CallDisposition::Abandoned, now);
    o.answer_ms = Some(t0() + 6 * SEC);
    s.finish_attempt(waiting, &o).await.unwrap();

    // Two live answers, one abandon: 50 % in every window, from every node — the run's own
    // figure for these calls. Before, the talking call was missing: 1 of 1, 100 %.
    let other = db.second().await;
    for store in [s, &other] {
        assert_eq!(
            store.abandon_rates("c1", now).await.unwrap(),
            (2, 1, 2, 1),
            "24 h and 30 d windows while a call is up"
        );
        assert_eq!(store.abandon_counts("c1", now - DAY).await.unwrap(), (2, 1));
    }
    other.close().await;

    // The call ends: counted once, not twice.
    let mut o = AttemptOutcome::new(CallDisposition::Connected, now + MIN);
    o.answer_ms = Some(t0() + 5 * SEC);
    o.connect_ms = Some(t0() + 6 * SEC);
    o.agent = Some("1001".into());
    s.finish_attempt(talking, &o).await.unwrap();
    s.finish_attempt(machine, &AttemptOutcome::new(CallDisposition::Machine, now))
        .await
        .unwrap();
    assert_eq!(
        s.abandon_rates("c1", now + MIN).await.unwrap(),
        (2, 1, 2, 1)
    );

    // Progress that arrives after the call record (a late batch) changes nothing.
    let mut late = answered(machine, now, true);
    late.connect_ms = Some(now);
    s.record_progress(&[late]).await.unwrap();
    assert_eq!(
        s.abandon_rates("c1", now + MIN).await.unwrap(),
        (2, 1, 2, 1)
    );
    let r = rows(s).await;
    assert_eq!((r[2].1.as_deref(), r[2].2, r[2].3), (Some("machine"), 0, 0));
}

async fn recovery_closes_calls_with_what_they_reached(db: &TestDb) {
    let s = &db.store;
    apply(
        s,
        &campaign_yaml("c1", RETRY, "contact_cap: { max_connected: 1, per: 7d }"),
    )
    .await;
    let csv = format!("phone\n{}\n", mobiles(1, 5).join("\n"));
    load(s, "c1", &csv, t0() - HOUR).await;
    let calls = dial(s, 5, "node-a", t0()).await;
    let [_dialled, (_, _, ringing), (_, _, machine), (_, _, waiting), (_, talking_phone, talking)] =
        <[(i64, String, i64); 5]>::try_from(calls.clone()).unwrap();
    let mut ring = CallProgress::new(ringing);
    ring.ring_ms = Some(t0() + 2 * SEC);
    let mut waiting_p = answered(waiting, t0() + 5 * SEC, true);
    waiting_p.customer_dialog = Some("customer-of-waiting".into());
    let mut talking_p = answered(talking, t0() + 5 * SEC, true);
    talking_p.customer_dialog = Some("customer-of-talking".into());
    let mut talking_c = CallProgress::new(talking);
    talking_c.connect_ms = Some(t0() + 6 * SEC);
    talking_c.agent = Some("1001".into());
    talking_c.agent_dialog = Some("agent-of-talking".into());
    s.record_progress(&[
        ring,
        answered(machine, t0() + 4 * SEC, false),
        waiting_p,
        talking_p,
        talking_c,
    ])
    .await
    .unwrap();

    // node-a dies; node-b recovers it once its liveness row expired.
    s.register_node("node-a", t0(), 30 * SEC).await.unwrap();
    let crash = t0() + MIN;
    let dead = s.reap_dead_nodes(crash, "node-b").await.unwrap();
    assert_eq!(dead.len(), 1);
    let rep = &dead[0].recovered;
    assert_eq!(rep.attempts_closed, 5);
    assert_eq!(
        rep.legs,
        vec![
            OpenLeg {
                attempt: waiting,
                agent: None,
                dialog: Some("customer-of-waiting".into())
            },
            OpenLeg {
                attempt: talking,
                agent: None,
                dialog: Some("customer-of-talking".into())
            },
            OpenLeg {
                attempt: talking,
                agent: Some("1001".into()),
                dialog: Some("agent-of-talking".into())
            },
        ],
        "every leg that was up, with the agent of the agent leg"
    );

    let r = rows(s).await;
    let got: Vec<(Option<&str>, i64, i64)> = r.iter().map(|x| (x.1.as_deref(), x.2, x.3)).collect();
    assert_eq!(
        got,
        vec![
            (Some("unknown"), 0, 0),
            (Some("unknown"), 0, 0),
            (Some("machine"), 0, 0),
            (Some("abandoned"), 1, 0),
            (Some("interrupted"), 1, 1),
        ],
        "(disposition, live, connected) of: dialled, ringing, machine, waiting, talking"
    );
    // The connected call keeps its agent and times.
    assert_eq!(
        (r[4].4.as_deref(), r[4].5, r[4].6),
        (Some("1001"), Some(t0() + 5 * SEC), Some(t0() + 6 * SEC))
    );
    // Two live answers (the abandon and the interrupted call), one abandoned.
    assert_eq!(s.abandon_rates("c1", crash).await.unwrap(), (2, 1, 2, 1));

    // Nothing is recovered twice, and the dialogs are gone with the open attempts.
    s.register_node("node-a", crash, 30 * SEC).await.unwrap();
    let again = s.recover_node("node-a", crash + MIN).await.unwrap();
    assert_eq!((again.attempts_closed, again.legs.len()), (0, 0));

    // The customer who was talking is not called again inside the contact cap (7 days), though
    // the `unknown` ones come back after their 15 minutes.
    let info = s.find_lead("c1", &talking_phone).await.unwrap().unwrap();
    assert_eq!(info.last_disposition.as_deref(), Some("interrupted"));
    assert!(info.due_ms >= crash + DAY, "interrupted: a day at least");
    let soon = s
        .lease("c1", 10, crash + 20 * MIN, "node-b", TTL)
        .await
        .unwrap();
    assert_eq!(soon.len(), 2, "the two unknown calls are due again");
    assert!(soon.iter().all(|l| l.phone_e164 != talking_phone));
    s.release(&soon.iter().map(|l| l.lead_id).collect::<Vec<_>>())
        .await
        .unwrap();
    let day_later = s
        .lease("c1", 10, crash + 2 * DAY, "node-b", TTL)
        .await
        .unwrap();
    assert!(
        day_later.iter().all(|l| l.phone_e164 != talking_phone),
        "inside the contact cap"
    );
    s.release(&day_later.iter().map(|l| l.lead_id).collect::<Vec<_>>())
        .await
        .unwrap();
    let week_later = s
        .lease("c1", 10, t0() + 8 * DAY, "node-b", TTL)
        .await
        .unwrap();
    assert!(week_later.iter().any(|l| l.phone_e164 == talking_phone));
}

on_both_backends!(
    live_answers_count_when_they_happen,
    recovery_closes_calls_with_what_they_reached,
);
