//! Call-record search, on SQLite and PostgreSQL. By the last digits of a number: it finds the
//! records a suffix match finds, for records written before the search column existed too (the
//! migration fills it), and its plan uses the `attempts_phone_rev` index instead of scanning
//! every attempt (`EXPLAIN` of the search's count query). Every combination of filters finds,
//! orders, counts and pages what a plain filter over the seeded records finds, and the
//! recordings listing likewise; on SQLite the searches by campaign and date, by agent and by
//! number read an index of `attempts`. An ignored test times searches on 1,000,000 records.

use crate::common;

use common::*;
use outdial::store::{phone_rev, CallFilter, CallRecord, Db, RecordingFilter, Store};

const SEC: i64 = 1_000;

/// Every row of `sql` (no parameters), on either backend.
async fn select_all<T>(s: &Store, sql: &str) -> Vec<T>
where
    T: for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>
        + for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>
        + Send
        + Unpin,
{
    match s.db() {
        Db::Sqlite(p) => sqlx::query_as(sql).fetch_all(p).await,
        Db::Postgres(p) => sqlx::query_as(sql).fetch_all(p).await,
    }
    .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

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

/// One seeded call record, as the reference filter sees it.
#[derive(Clone, Debug, PartialEq)]
struct Seed {
    id: i64,
    campaign: String,
    phone: String,
    dial_ms: i64,
    disposition: Option<String>,
    agent_disposition: Option<String>,
    agent: Option<String>,
    recorded: bool,
}

impl Seed {
    fn of(r: &CallRecord) -> Seed {
        Seed {
            id: r.attempt,
            campaign: r.campaign.clone(),
            phone: r.phone.clone(),
            dial_ms: r.dial_ms,
            disposition: r.disposition.clone(),
            agent_disposition: r.agent_disposition.clone(),
            agent: r.agent.clone(),
            recorded: r.has_recording == 1,
        }
    }

    /// The reference: what `f` matches, written as plainly as the filter's documentation.
    fn matches(&self, f: &CallFilter) -> bool {
        let phone_ok = match f.phone.as_deref() {
            None => true,
            Some(p) if p.starts_with('+') => self.phone == p,
            Some(digits) => self.phone.ends_with(digits),
        };
        f.campaign.as_ref().is_none_or(|c| &self.campaign == c)
            && phone_ok
            && f.from_ms.is_none_or(|t| self.dial_ms >= t)
            && f.to_ms.is_none_or(|t| self.dial_ms < t)
            && f.disposition.as_ref().is_none_or(|d| {
                self.disposition.as_ref() == Some(d) || self.agent_disposition.as_ref() == Some(d)
            })
            && f.agent
                .as_ref()
                .is_none_or(|a| self.agent.as_ref() == Some(a))
    }
}

/// Two campaigns of six leads each and 72 call records over an hour from [`t0`]: three agents
/// and none, four dispositions and none, wrap-up codes on connected calls, several records in
/// the same millisecond (the order falls back to the id), every other one recorded.
async fn seed_records(s: &Store) -> Vec<Seed> {
    apply(s, &campaign_yaml("c1", RETRY, "")).await;
    apply(s, &campaign_yaml("c2", RETRY, "")).await;
    let csv = |nums: Vec<String>| format!("phone\n{}\n", nums.join("\n"));
    load(s, "c1", &csv(mobiles(1, 6)), t0() - HOUR).await;
    load(s, "c2", &csv(mobiles(7, 6)), t0() - HOUR).await;
    let leads: Vec<(i64, i64, String)> =
        select_all(s, "SELECT id, campaign_id, phone FROM leads ORDER BY id").await;
    assert_eq!(leads.len(), 12);
    let text = |v: Option<&str>| v.map_or("NULL".to_string(), |v| format!("'{v}'"));
    let rows: Vec<String> = (0..72usize)
        .map(|i| {
            let (lead, camp, phone) = &leads[i * 5 % leads.len()];
            let disposition = [
                Some("busy"),
                Some("no_answer"),
                Some("connected"),
                None,
                Some("machine"),
            ][i % 5];
            let wrap = (disposition == Some("connected")).then(|| ["ptp", "busy"][i % 2]);
            let agent = [None, Some("a1"), Some("a2"), Some("a3")][i % 4];
            let recording = (i % 2 == 0).then(|| format!("/rec/{i}.wav"));
            format!(
                "({lead}, {camp}, '{phone}', 'n1', 0, {}, '{}', {}, {}, {}, {})",
                t0() + (i as i64 * 7 % 24) * 150 * SEC,
                phone_rev(phone),
                text(disposition),
                text(wrap),
                text(agent),
                text(recording.as_deref()),
            )
        })
        .collect();
    exec(
        s,
        &format!(
            "INSERT INTO attempts (lead_id, campaign_id, phone, node, is_open, dial_ms, \
             phone_rev, disposition, agent_disposition, agent, recording_path) VALUES {}",
            rows.join(", ")
        ),
    )
    .await;
    // Read back with the database's own ids, independently of the search.
    type Row = (
        i64,
        String,
        String,
        i64,
        Option<String>,
        Option<String>,
        Option<String>,
        i64,
    );
    let sql = "SELECT a.id, c.name, a.phone, a.dial_ms, a.disposition, a.agent_disposition, \
               a.agent, CAST(CASE WHEN a.recording_path IS NULL THEN 0 ELSE 1 END AS BIGINT) \
               FROM attempts a JOIN campaigns c ON c.id = a.campaign_id ORDER BY a.id";
    let read: Vec<Row> = select_all(s, sql).await;
    assert_eq!(read.len(), 72);
    read.into_iter()
        .map(|r| Seed {
            id: r.0,
            campaign: r.1,
            phone: r.2,
            dial_ms: r.3,
            disposition: r.4,
            agent_disposition: r.5,
            agent: r.6,
            recorded: r.7 == 1,
        })
        .collect()
}

/// Every filter's values, `None` (no filter) first.
fn filters(seeds: &[Seed]) -> Vec<CallFilter> {
    let c2_number = seeds
        .iter()
        .find(|r| r.campaign == "c2")
        .unwrap()
        .phone
        .clone();
    let mut out = Vec::new();
    for campaign in [None, Some("c2")] {
        // Exact; an ending several numbers share (…01 and …11); an ending of one number.
        for phone in [None, Some(c2_number.as_str()), Some("1"), Some("0000003")] {
            for from_ms in [None, Some(t0() + 15 * MIN)] {
                for to_ms in [None, Some(t0() + 45 * MIN)] {
                    // A call's disposition; a code that is both a disposition and a wrap-up
                    // code; a wrap-up code only.
                    for disposition in [None, Some("no_answer"), Some("busy"), Some("ptp")] {
                        for agent in [None, Some("a1")] {
                            out.push(CallFilter {
                                campaign: campaign.map(str::to_string),
                                phone: phone.map(str::to_string),
                                from_ms,
                                to_ms,
                                disposition: disposition.map(str::to_string),
                                agent: agent.map(str::to_string),
                            });
                        }
                    }
                }
            }
        }
    }
    out
}

async fn search_matches_a_plain_filter(db: &TestDb) {
    let s = &db.store;
    let mut seeds = seed_records(s).await;
    // What every search lists: newest first, ties by the higher id first.
    seeds.sort_by_key(|r| (std::cmp::Reverse(r.dial_ms), std::cmp::Reverse(r.id)));
    assert!(seeds.windows(2).any(|w| w[0].dial_ms == w[1].dial_ms));

    let mut narrowed = 0;
    for f in filters(&seeds) {
        let want: Vec<Seed> = seeds.iter().filter(|r| r.matches(&f)).cloned().collect();
        let page = s.search_calls(&f, 0, 500).await.unwrap();
        let got: Vec<Seed> = page.rows.iter().map(Seed::of).collect();
        assert_eq!(got, want, "{f:?}");
        assert_eq!(page.total, want.len() as i64, "{f:?}");
        // A page in the middle: the same rows, the same total.
        let page = s.search_calls(&f, 2, 3).await.unwrap();
        let got: Vec<Seed> = page.rows.iter().map(Seed::of).collect();
        let end = want.len().min(5);
        assert_eq!(got, want[want.len().min(2)..end], "{f:?} page 2+3");
        assert_eq!(page.total, want.len() as i64, "{f:?} page 2+3");
        if !want.is_empty() && want.len() < seeds.len() {
            narrowed += 1;
        }
    }
    // Each filter value alone finds some records and not all: a filter the search dropped would
    // show.
    for f in filters(&seeds) {
        let given = [
            f.campaign.is_some(),
            f.phone.is_some(),
            f.from_ms.is_some(),
            f.to_ms.is_some(),
            f.disposition.is_some(),
            f.agent.is_some(),
        ];
        if given.iter().filter(|g| **g).count() == 1 {
            let n = seeds.iter().filter(|r| r.matches(&f)).count();
            assert!(
                n > 0 && n < seeds.len(),
                "{f:?} finds {n} of {}",
                seeds.len()
            );
        }
    }
    assert!(
        narrowed > 100,
        "only {narrowed} combinations find some records"
    );

    // The recordings listing: recorded calls only, oldest first, by campaign, number and date.
    let mut recorded: Vec<&Seed> = seeds.iter().filter(|r| r.recorded).collect();
    recorded.sort_by_key(|r| (r.dial_ms, r.id));
    let mut listed = 0;
    for f in filters(&seeds) {
        let exact = f.phone.as_ref().is_none_or(|p| p.starts_with('+'));
        if !exact || f.disposition.is_some() || f.agent.is_some() {
            continue;
        }
        let rf = RecordingFilter {
            campaign: f.campaign.clone(),
            phone: f.phone.clone(),
            from_ms: f.from_ms,
            to_ms: f.to_ms,
        };
        let want: Vec<i64> = recorded
            .iter()
            .filter(|r| r.matches(&f))
            .map(|r| r.id)
            .collect();
        let got: Vec<i64> = s
            .recordings(&rf)
            .await
            .unwrap()
            .iter()
            .map(|r| r.attempt)
            .collect();
        assert_eq!(got, want, "{rf:?}");
        listed += usize::from(!want.is_empty());
    }
    assert!(listed > 10, "only {listed} recordings filters list some");
}

crate::on_both_backends!(search_matches_a_plain_filter);

/// The plan lines of `f`'s count query: some line reads `index`, none scans `attempts` whole
/// (SQLite's `EXPLAIN QUERY PLAN`, PostgreSQL's `EXPLAIN`).
async fn assert_index(s: &Store, f: &CallFilter, index: &str, when: &str) {
    let plan = s.search_plan(f).await.unwrap();
    let reads = |l: &String| match s.db() {
        Db::Sqlite(_) => {
            l.contains(&format!("USING INDEX {index} "))
                || l.contains(&format!("USING COVERING INDEX {index} "))
        }
        Db::Postgres(_) => {
            l.contains(&format!(" using {index} ")) || l.contains(&format!(" on {index} "))
        }
    };
    let scans = |l: &String| match s.db() {
        Db::Sqlite(_) => l.starts_with("SCAN a") || l.starts_with("SCAN attempts"),
        Db::Postgres(_) => l.contains("Seq Scan on attempts"),
    };
    assert!(
        plan.iter().any(reads),
        "{when}: {f:?} does not use {index}: {plan:#?}"
    );
    assert!(
        !plan.iter().any(scans),
        "{when}: {f:?} scans the attempts: {plan:#?}"
    );
}

async fn searches_read_an_index_of_attempts(db: &TestDb) {
    let s = &db.store;
    seed_records(s).await;
    // 30 days of records (6,000 more) in both campaigns, by 20 agents.
    let first_leads =
        "SELECT MIN(id), campaign_id FROM leads GROUP BY campaign_id ORDER BY campaign_id";
    let leads: Vec<(i64, i64)> = select_all(s, first_leads).await;
    let rows: Vec<String> = (0..6_000i64)
        .map(|i| {
            let (lead, camp) = leads[(i % 2) as usize];
            let phone = format!("+86139{:08}", i * 7_919 % 100_000_000);
            format!(
                "({lead}, {camp}, '{phone}', 'n1', 0, {}, '{}', 'a{}')",
                t0() - 30 * DAY + i * 432 * SEC,
                phone_rev(&phone),
                i % 20
            )
        })
        .collect();
    exec(
        s,
        &format!(
            "INSERT INTO attempts (lead_id, campaign_id, phone, node, is_open, dial_ms, \
             phone_rev, agent) VALUES {}",
            rows.join(", ")
        ),
    )
    .await;
    let by_campaign = CallFilter {
        campaign: Some("c2".into()),
        from_ms: Some(t0() - 2 * DAY),
        to_ms: Some(t0() - DAY),
        ..CallFilter::default()
    };
    let by_agent = CallFilter {
        agent: Some("a7".into()),
        ..CallFilter::default()
    };
    let by_date = CallFilter {
        from_ms: Some(t0() - 2 * DAY),
        to_ms: Some(t0() - DAY),
        ..CallFilter::default()
    };
    let by_number = CallFilter {
        phone: Some(format!("+86139{:08}", 7_919)),
        ..CallFilter::default()
    };
    let by_ending = CallFilter {
        phone: Some("4321".into()),
        ..CallFilter::default()
    };
    // Without planner statistics (what a SQLite store that never ran ANALYZE has), then with
    // them. PostgreSQL's autovacuum analyses a table as it grows: only that case is its own.
    let pg = matches!(s.db(), Db::Postgres(_));
    for when in ["no statistics", "after ANALYZE"] {
        if when == "no statistics" && pg {
            continue;
        }
        if when == "after ANALYZE" {
            exec(s, "ANALYZE").await;
        }
        assert_index(s, &by_campaign, "attempts_campaign", when).await;
        assert_index(s, &by_agent, "attempts_agent", when).await;
        assert_index(s, &by_date, "attempts_dial", when).await;
        assert_index(s, &by_number, "attempts_phone", when).await;
        assert_index(s, &by_ending, "attempts_phone_rev", when).await;
    }
}

crate::on_both_backends!(searches_read_an_index_of_attempts);

/// Median and slowest of `runs` timed calls of `f` (after one untimed call), in ms.
async fn time_ms<F, Fut>(runs: usize, mut f: F) -> (f64, f64)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    f().await;
    let mut t: Vec<f64> = Vec::with_capacity(runs);
    for _ in 0..runs {
        let start = std::time::Instant::now();
        f().await;
        t.push(start.elapsed().as_secs_f64() * 1000.0);
    }
    t.sort_by(f64::total_cmp);
    (t[runs / 2], t[runs - 1])
}

/// A measurement, not a check: the latency of a search page (50 rows and the total) on a SQLite
/// store of 1,000,000 call records (`OUTDIAL_BENCH_ROWS`) over 90 days: 4 campaigns, 100,000
/// numbers, 200 agents taking a third of the calls. Seeded with plain `INSERT`s (the store's
/// indexes as migrated, no `ANALYZE`, as a store that only ever dialled has). Run:
/// `cargo test --test it store_records::search_latency -- --ignored --nocapture`
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement of about a minute; run by hand for BENCHMARKS.md"]
async fn search_latency() {
    let n: i64 = std::env::var("OUTDIAL_BENCH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    const LEADS: i64 = 100_000;
    const SPAN: i64 = 90 * DAY;
    let db = TestDb::sqlite().await;
    let s = &db.store;
    let Db::Sqlite(pool) = s.db() else {
        unreachable!("a SQLite store")
    };
    let start = t0() - SPAN;
    let seeding = std::time::Instant::now();
    for c in 0..4 {
        apply(s, &campaign_yaml(&format!("c{c}"), RETRY, "")).await;
    }
    let camps: Vec<(i64,)> = sqlx::query_as("SELECT id FROM campaigns ORDER BY id")
        .fetch_all(pool)
        .await
        .unwrap();
    let phone = |k: i64| format!("+86139{:08}", k * 7_919 % 100_000_000);
    let mut tx = pool.begin().await.unwrap();
    for chunk in (0..LEADS).collect::<Vec<_>>().chunks(500) {
        let rows: Vec<String> = chunk
            .iter()
            .map(|&k| {
                format!(
                    "({k} + 1, {}, '{}', 'Asia/Shanghai', 0, 0, 0)",
                    camps[(k % 4) as usize].0,
                    phone(k)
                )
            })
            .collect();
        sqlx::query(&format!(
            "INSERT INTO leads (id, campaign_id, phone, timezone, due_ms, sla_ms, created_ms) \
             VALUES {}",
            rows.join(", ")
        ))
        .execute(&mut *tx)
        .await
        .unwrap();
    }
    for chunk in (0..n).collect::<Vec<_>>().chunks(500) {
        let rows: Vec<String> = chunk
            .iter()
            .map(|&i| {
                // Consecutive attempts dial different numbers; one in three is connected to an
                // agent and wrapped up.
                let k = i * 7 % LEADS;
                let connected = i % 3 == 0;
                let (disp, agent, wrap) = if connected {
                    (
                        "'connected'",
                        format!("'agent{}'", i / 3 % 200),
                        ["'ptp'", "'refused'"][(i % 2) as usize],
                    )
                } else {
                    (
                        ["'busy'", "'no_answer'"][(i % 2) as usize],
                        "NULL".into(),
                        "NULL",
                    )
                };
                format!(
                    "({}, {}, '{}', 'n1', 0, {}, '{}', {disp}, {agent}, {wrap})",
                    k + 1,
                    camps[(k % 4) as usize].0,
                    phone(k),
                    start + i * (SPAN / n),
                    phone_rev(&phone(k))
                )
            })
            .collect();
        sqlx::query(&format!(
            "INSERT INTO attempts (lead_id, campaign_id, phone, node, is_open, dial_ms, \
             phone_rev, disposition, agent, agent_disposition) VALUES {}",
            rows.join(", ")
        ))
        .execute(&mut *tx)
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
    s.checkpoint().await.unwrap();
    println!(
        "seeded {n} call records in {:.1} s",
        seeding.elapsed().as_secs_f64()
    );

    let day = |d: i64| Some(start + d * DAY);
    let searches = [
        (
            "campaign + one day",
            CallFilter {
                campaign: Some("c2".into()),
                from_ms: day(45),
                to_ms: day(46),
                ..CallFilter::default()
            },
        ),
        (
            "campaign + one day + disposition",
            CallFilter {
                campaign: Some("c2".into()),
                from_ms: day(45),
                to_ms: day(46),
                disposition: Some("ptp".into()),
                ..CallFilter::default()
            },
        ),
        (
            "agent",
            CallFilter {
                agent: Some("agent17".into()),
                ..CallFilter::default()
            },
        ),
        (
            "agent + one week",
            CallFilter {
                agent: Some("agent17".into()),
                from_ms: day(40),
                to_ms: day(47),
                ..CallFilter::default()
            },
        ),
        (
            "one day",
            CallFilter {
                from_ms: day(45),
                to_ms: day(46),
                ..CallFilter::default()
            },
        ),
        ("no filter (the newest page)", CallFilter::default()),
        (
            "exact number",
            CallFilter {
                phone: Some(phone(4_242)),
                ..CallFilter::default()
            },
        ),
        (
            "number ending (4 digits)",
            CallFilter {
                phone: Some("4321".into()),
                ..CallFilter::default()
            },
        ),
    ];
    for (what, f) in &searches {
        let page = s.search_calls(f, 0, 50).await.unwrap();
        let (median, max) = time_ms(9, || async {
            s.search_calls(f, 0, 50).await.unwrap();
        })
        .await;
        println!(
            "{what}: {} matching, page of {}: median {median:.2} ms, max {max:.2} ms (9 runs)",
            page.total,
            page.rows.len()
        );
    }
    db.cleanup().await;
}
