//! Shared helpers for store tests: every test is written once and run on SQLite (a temp file) and
//! on PostgreSQL (a private schema, so tests run in parallel). With `CI=true` an unreachable
//! PostgreSQL fails the test; otherwise it is skipped with a warning.
#![allow(dead_code)]

use std::path::PathBuf;

use chrono::TimeZone;
use outdial::campaign::Campaign;
use outdial::store::{LoadReport, Store};

/// A store private to one test.
pub struct TestDb {
    pub store: Store,
    dir: Option<PathBuf>,
    pg: Option<(String, String)>,
}

pub fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "outdial-{tag}-{}-{:x}",
        std::process::id(),
        rand::random::<u64>()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

impl TestDb {
    pub async fn sqlite() -> TestDb {
        let dir = temp_dir("store");
        let store = Store::open(dir.join("t.db").to_str().unwrap())
            .await
            .unwrap();
        TestDb {
            store,
            dir: Some(dir),
            pg: None,
        }
    }

    pub async fn postgres() -> Option<TestDb> {
        let url = std::env::var("OUTDIAL_TEST_PG")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string());
        let opened = tokio::time::timeout(
            std::time::Duration::from_secs(20),
            Store::open_isolated_pg(&url),
        )
        .await;
        match opened {
            Ok(Ok((store, schema))) => Some(TestDb {
                store,
                dir: None,
                pg: Some((url, schema)),
            }),
            other => {
                let why = match other {
                    Ok(Err(e)) => e.to_string(),
                    _ => "timed out".to_string(),
                };
                if std::env::var("CI").is_ok_and(|v| v == "true") {
                    panic!("PostgreSQL at {url} is required under CI=true: {why}");
                }
                eprintln!("warning: skipping PostgreSQL test, {url} unreachable: {why}");
                None
            }
        }
    }

    /// A second, independent pool on the same database (another "node").
    pub async fn second(&self) -> Store {
        match (&self.dir, &self.pg) {
            (Some(dir), _) => Store::open(dir.join("t.db").to_str().unwrap())
                .await
                .unwrap(),
            (_, Some((url, schema))) => Store::open_pg_schema(url, schema).await.unwrap(),
            _ => unreachable!(),
        }
    }

    pub async fn cleanup(self) {
        if let Some((_, schema)) = &self.pg {
            let _ = self.store.drop_schema(schema).await;
        }
        self.store.close().await;
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// Defines `mod NAME { sqlite, postgres }` tests running `async fn NAME(&TestDb)` on both.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => { $(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let db = $crate::common::TestDb::sqlite().await;
                super::$name(&db).await;
                db.cleanup().await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(db) = $crate::common::TestDb::postgres().await {
                    super::$name(&db).await;
                    db.cleanup().await;
                }
            }
        }
    )* };
}

/// Epoch ms of a Shanghai wall-clock time.
pub fn sh(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> i64 {
    chrono_tz::Asia::Shanghai
        .with_ymd_and_hms(y, mo, d, h, mi, 0)
        .single()
        .unwrap()
        .timestamp_millis()
}

/// Wednesday 2026-03-04 10:00 in Shanghai (02:00 UTC; 21:00 the day before in New York).
pub fn t0() -> i64 {
    sh(2026, 3, 4, 10, 0)
}

pub const MIN: i64 = 60_000;
pub const HOUR: i64 = 3_600_000;
pub const DAY: i64 = 86_400_000;

/// A test campaign; `extra` is appended (top-level keys) and `retry` replaces the retry block.
pub fn campaign_yaml(name: &str, retry: &str, extra: &str) -> String {
    format!(
        "name: {name}
kind: collection
region: CN
timezone: Asia/Shanghai
dialing:
  mode: predictive
  ring_timeout: 20s
window:
  default: \"08:00-21:00\"
retry:
{retry}
caller_id: \"+862160885500\"
trunk_group: t1
agent_group: a1
{extra}"
    )
}

pub const RETRY: &str = "  max_attempts: 5
  max_attempts_per_day: 3
  abandon_cooldown: 72h
  rules:
    busy: { delay: 10m }
    no_answer: { delay: 1h }
    machine: { retry: false }";

pub async fn apply(store: &Store, yaml: &str) -> Campaign {
    let c = Campaign::parse("test.yaml", yaml).unwrap();
    store.apply_campaign(&c, t0()).await.unwrap();
    c
}

pub async fn load(store: &Store, campaign: &str, csv: &str, now: i64) -> LoadReport {
    store
        .load_list(
            campaign,
            std::io::Cursor::new(csv.as_bytes().to_vec()),
            "list.csv",
            now,
            |_| {},
        )
        .await
        .unwrap()
}

/// `n` distinct valid CN mobile numbers in national form, starting at `from`.
pub fn mobiles(from: u64, n: u64) -> Vec<String> {
    (from..from + n).map(|i| format!("1380{:07}", i)).collect()
}

pub fn e164(national: &str) -> String {
    format!("+86{national}")
}
