//! Call-record search by the last digits of a number, on SQLite and PostgreSQL: it finds the
//! records a suffix match finds, for records written before the search column existed too (the
//! migration fills it), and its plan uses the `attempts_phone_rev` index instead of scanning
//! every attempt (`EXPLAIN` of the search's count query).

use crate::common;

use common::*;
use outdial::store::{phone_rev, CallFilter, Db, Store};

const SEC: i64 = 1_000;

async fn exec(s: &Store, sql: &str) {
    match s.db() {
        Db::Sqlite(p) => sqlx::query(sql).execute(p).await.map(|_| ()),
        Db::Postgres(p) => sqlx::query(sql).execute(p).await.map(|_| ()),
    }
    .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// The numbers of the records a search for `ending` finds (all of them: one page).
async fn found(s: &Store, ending: &str) -> Vec<String> {
    let filter = CallFilter {
        phone: Some(ending.to_string()),
        ..CallFilter::default()
    };
    let page = s.search_calls(&filter, 0, 500).await.unwrap();
    assert_eq!(page.total as usize, page.rows.len());
    let mut v: Vec<String> = page.rows.into_iter().map(|r| r.phone).collect();
    v.sort();
    v
}

/// The migration's statement that fills `phone_rev` for existing records, for `s`'s backend.
fn backfill(s: &Store) -> &'static str {
    let file = match s.db() {
        Db::Sqlite(_) => include_str!("../../migrations/sqlite/0009_phone_suffix.sql"),
        Db::Postgres(_) => include_str!("../../migrations/postgres/0010_phone_suffix.sql"),
    };
    file.lines()
        .find(|l| l.starts_with("UPDATE attempts SET phone_rev"))
        .expect("the migration fills phone_rev")
}

async fn search_by_number_ending(db: &TestDb) {
    let s = &db.store;
    apply(s, &campaign_yaml("c1", RETRY, "")).await;
    // 13800000001 … 13800000012: endings shared by several numbers and by one.
    let nums = mobiles(1, 12);
    load(
        s,
        "c1",
        &format!("phone\n{}\n", nums.join("\n")),
        t0() - HOUR,
    )
    .await;
    let phones: Vec<String> = nums.iter().map(|n| e164(n)).collect();
    for (i, p) in phones.iter().enumerate() {
        crate::store_engine::connected_call_by(s, "c1", p, t0() + i as i64 * SEC, "a1").await;
    }
    let expect = |ending: &str| -> Vec<String> {
        let mut v: Vec<String> = phones
            .iter()
            .filter(|p| p.ends_with(ending))
            .cloned()
            .collect();
        v.sort();
        v
    };
    for ending in [
        "1",
        "2",
        "12",
        "0000012",
        "13800000005",
        "8613800000007",
        "9",
        "99",
    ] {
        assert_eq!(found(s, ending).await, expect(ending), "ending {ending}");
    }
    assert_eq!(found(s, "12").await.len(), 1);
    assert_eq!(found(s, "1").await.len(), 2, "…01 and …11");

    // Records written before the column existed: the migration's statement fills them.
    exec(s, "UPDATE attempts SET phone_rev = NULL").await;
    assert!(found(s, "12").await.is_empty());
    exec(s, backfill(s)).await;
    assert_eq!(found(s, "12").await, expect("12"));
    assert_eq!(found(s, "0000005").await, expect("0000005"));
    assert_eq!(phone_rev("+8613800000012"), "2100000083168");

    // 30 days of records (3,000 attempts) with planner statistics: the search by ending reads
    // the index, not every attempt.
    let (lead, camp): (i64, i64) = match s.db() {
        Db::Sqlite(p) => sqlx::query_as("SELECT lead_id, campaign_id FROM attempts LIMIT 1")
            .fetch_one(p)
            .await
            .unwrap(),
        Db::Postgres(p) => sqlx::query_as("SELECT lead_id, campaign_id FROM attempts LIMIT 1")
            .fetch_one(p)
            .await
            .unwrap(),
    };
    let rows: Vec<String> = (0..3_000i64)
        .map(|i| {
            let phone = format!("+86139{:08}", i * 7_919 % 100_000_000);
            format!(
                "({lead}, {camp}, '{phone}', 'n1', 0, {}, '{}')",
                t0() - 30 * DAY + i * 864 * SEC,
                phone_rev(&phone)
            )
        })
        .collect();
    exec(
        s,
        &format!(
            "INSERT INTO attempts (lead_id, campaign_id, phone, node, is_open, dial_ms, \
             phone_rev) VALUES {}",
            rows.join(", ")
        ),
    )
    .await;
    exec(s, "ANALYZE").await;
    let filter = CallFilter {
        phone: Some("4321".into()),
        ..CallFilter::default()
    };
    let plan = s.search_plan(&filter).await.unwrap();
    assert!(
        plan.iter().any(|l| l.contains("attempts_phone_rev")),
        "the ending search does not use the index: {plan:#?}"
    );
}

crate::on_both_backends!(search_by_number_ending);
