//! The writes the engine owes the store (`engine::writes`), on SQLite and PostgreSQL: each one is
//! safe to send again — a retry whose first reply was lost (it committed, then the connection
//! dropped) changes nothing — and a spool left by an earlier run is replayed in order, twice
//! over if need be, without doubling anything.

use crate::common;

use common::*;
use outdial::campaign::CallDisposition;
use outdial::engine::writes::{self, replay_spool, Landed, Write};
use outdial::store::{AttemptOutcome, Db, InboundRecord, Store};

const TTL: i64 = 5 * MIN;
const SEC: i64 = 1000;

async fn count(s: &Store, sql: &str) -> i64 {
    let (n,): (i64,) = match s.db() {
        Db::Sqlite(p) => sqlx::query_as(sql).fetch_one(p).await,
        Db::Postgres(p) => sqlx::query_as(sql).fetch_one(p).await,
    }
    .unwrap();
    n
}

/// Writes one connected call would leave behind, oldest first: its record, its agent's code,
/// an inbound call's record, a staffed interval opening.
async fn a_calls_writes(s: &Store) -> Vec<Write> {
    apply(s, &campaign_yaml("c1", RETRY, "")).await;
    let csv = format!("phone\n{}\n", mobiles(1, 2).join("\n"));
    load(s, "c1", &csv, t0() - HOUR).await;
    let leased = s.lease("c1", 1, t0(), "node-a", TTL).await.unwrap();
    let attempt = s
        .begin_attempt(leased[0].lead_id, "node-a", t0())
        .await
        .unwrap();
    let mut outcome = AttemptOutcome::new(CallDisposition::Connected, t0() + 60 * SEC);
    outcome.sip_code = Some(200);
    outcome.agent = Some("1001".into());
    outcome.dial_ms = Some(t0());
    outcome.answer_ms = Some(t0() + 5 * SEC);
    outcome.connect_ms = Some(t0() + 6 * SEC);
    vec![
        Write::Finish { attempt, outcome },
        Write::Disposition {
            attempt,
            disposition: CallDisposition::DoNotCall,
            callback_at_ms: None,
            wall_ms: t0() + 70 * SEC,
            agent: Some("1001".into()),
            note: Some("asked to be removed".into()),
        },
        Write::Inbound {
            record: InboundRecord {
                campaign: "c1".into(),
                node: "node-a".into(),
                caller: "+8613800000009".into(),
                agent: Some("1001".into()),
                arrive_ms: t0(),
                connect_ms: Some(t0() + SEC),
                end_ms: t0() + 30 * SEC,
            },
        },
        Write::SessionStart {
            agent_ix: 0,
            agent: "1001".into(),
            campaign: "c1".into(),
            node: "node-a".into(),
            wall_ms: t0(),
        },
    ]
}

/// What the writes left in the store: closed attempts, agent codes, DNC rows, inbound rows,
/// sessions.
async fn footprint(s: &Store) -> [i64; 5] {
    [
        count(
            s,
            "SELECT CAST(COUNT(*) AS BIGINT) FROM attempts WHERE is_open = 0",
        )
        .await,
        count(
            s,
            "SELECT CAST(COUNT(*) AS BIGINT) FROM attempts WHERE agent_disposition IS NOT NULL",
        )
        .await,
        count(s, "SELECT CAST(COUNT(*) AS BIGINT) FROM dnc").await,
        count(s, "SELECT CAST(COUNT(*) AS BIGINT) FROM inbound_calls").await,
        count(s, "SELECT CAST(COUNT(*) AS BIGINT) FROM agent_sessions").await,
    ]
}

async fn a_write_sent_again_changes_nothing(db: &TestDb) {
    let s = &db.store;
    let writes = a_calls_writes(s).await;
    let mut sessions = Vec::new();
    for w in &writes {
        sessions.push(
            writes::apply(s, w)
                .await
                .unwrap_or_else(|e| panic!("{}: {e}", w.what())),
        );
    }
    let once = footprint(s).await;
    assert_eq!(once, [1, 1, 1, 1, 1]);
    // Every reply lost: each write is sent again, in order; each says it is done.
    for (w, first) in writes.iter().zip(&sessions) {
        assert_eq!(
            &writes::apply(s, w)
                .await
                .unwrap_or_else(|e| panic!("{}: {e}", w.what())),
            first,
            "{}",
            w.what()
        );
    }
    assert_eq!(
        footprint(s).await,
        once,
        "a retried write was applied twice"
    );
    assert!(matches!(sessions[3], Landed::Session { agent_ix: 0, .. }));
}

async fn a_spool_is_replayed_in_order_and_a_second_replay_changes_nothing(db: &TestDb) {
    let s = &db.store;
    let writes = a_calls_writes(s).await;
    let dir = temp_dir("spool");
    let path = dir.join("node-a.spool");
    // The spool an earlier run left: its lines are the writes, oldest first. The agent's code
    // only lands after the call's record (an open attempt refuses it), so order matters.
    let text: String = writes
        .iter()
        .map(|w| serde_json::to_string(w).unwrap() + "\n")
        .collect();
    std::fs::write(&path, &text).unwrap();
    assert_eq!(replay_spool(s, &path).await.unwrap(), writes.len());
    assert!(!path.exists(), "a replayed spool is removed");
    let once = footprint(s).await;
    assert_eq!(once, [1, 1, 1, 1, 1]);
    // A crash mid-replay leaves (part of) the spool: replayed again, nothing doubles.
    std::fs::write(&path, &text).unwrap();
    assert_eq!(replay_spool(s, &path).await.unwrap(), writes.len());
    assert_eq!(footprint(s).await, once);
    // Nothing left open for recovery to guess at.
    let rec = s.recover_node("node-a", t0() + HOUR).await.unwrap();
    assert_eq!(rec.attempts_closed, 0);
    let _ = std::fs::remove_dir_all(&dir); // a temp dir; leaving it is harmless
}

/// A commit of `begin_attempt` that got no reply: the engine did not place the call. Once the
/// store is back, an attempt that did commit is closed `unknown` (retried by the campaign's
/// rules), and a lead whose attempt did not is back in the pool; sent twice, the same.
async fn an_attempt_whose_commit_got_no_reply_is_closed_or_released(db: &TestDb) {
    let s = &db.store;
    apply(s, &campaign_yaml("c1", RETRY, "")).await;
    let csv = format!("phone\n{}\n", mobiles(1, 2).join("\n"));
    load(s, "c1", &csv, t0() - HOUR).await;
    let leased = s.lease("c1", 2, t0(), "node-a", TTL).await.unwrap();
    let (committed, lost) = (leased[0].lead_id, leased[1].lead_id);
    s.begin_attempt(committed, "node-a", t0()).await.unwrap();
    for _ in 0..2 {
        for lead in [committed, lost] {
            let w = Write::Undialled {
                lead,
                node: "node-a".into(),
                dial_ms: t0(),
            };
            assert_eq!(writes::apply(s, &w).await.unwrap(), Landed::Done);
        }
    }
    let q = "SELECT CAST(COUNT(*) AS BIGINT) FROM attempts WHERE is_open = 0 AND disposition = 'unknown'";
    assert_eq!(
        count(s, q).await,
        1,
        "the committed attempt is closed unknown, once"
    );
    assert_eq!(
        count(s, "SELECT CAST(COUNT(*) AS BIGINT) FROM attempts").await,
        1
    );
    let q = "SELECT CAST(COUNT(*) AS BIGINT) FROM leads WHERE state IN ('leased', 'dialing')";
    assert_eq!(count(s, q).await, 0, "a lead is left leased or in flight");
    let again = s.lease("c1", 10, t0() + MIN, "node-b", TTL).await.unwrap();
    assert!(
        again.iter().any(|l| l.lead_id == lost),
        "the undialled lead is back in the pool"
    );
}

on_both_backends!(
    a_write_sent_again_changes_nothing,
    an_attempt_whose_commit_got_no_reply_is_closed_or_released,
    a_spool_is_replayed_in_order_and_a_second_replay_changes_nothing,
);
