//! Shared set-up for the store benchmarks: a generated call list and a benchmark campaign.
#![allow(dead_code)]

use std::future::Future;
use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::TimeZone;
use outdial::campaign::Campaign;
use outdial::store::{LoadReport, Store};
use rand::{Rng, SeedableRng};

/// Rows in the generated list (`OUTDIAL_BENCH_ROWS`, default 1,000,000).
pub fn rows() -> u64 {
    std::env::var("OUTDIAL_BENCH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000)
}

pub fn pg_url() -> String {
    std::env::var("OUTDIAL_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string())
}

pub fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("outdial-bench-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Wednesday 4 March 2026, 10:00 in Shanghai, in ms: the window of [`CAMPAIGN`] is open.
pub fn window_open_ms() -> i64 {
    chrono_tz::Asia::Shanghai
        .with_ymd_and_hms(2026, 3, 4, 10, 0, 0)
        .unwrap()
        .timestamp_millis()
}

/// Runs `bench` on a fresh SQLite store (`dir/TAG.db`), then on a private PostgreSQL schema at
/// [`pg_url`] (skipped, with a line saying why, when PostgreSQL is unreachable). `bench` is
/// given the backend's name and the store, and hands the store back to be closed.
pub fn on_each_store<F, Fut>(dir: &Path, tag: &str, mut bench: F)
where
    F: FnMut(&'static str, Store) -> Fut,
    Fut: Future<Output = Store>,
{
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let db = dir.join(format!("{tag}.db"));
        let store = Store::open(db.to_str().unwrap()).await.unwrap();
        bench("sqlite", store).await.close().await;
        match Store::open_isolated_pg(&pg_url()).await {
            Ok((store, schema)) => {
                let store = bench("postgres", store).await;
                store.drop_schema(&schema).await.unwrap();
                store.close().await;
            }
            Err(e) => println!("postgres: skipped ({e})"),
        }
    });
}

/// Applies the campaign `c` (named `bench`) to `store` and loads the list at `csv` into it, an
/// hour before `now`.
pub async fn apply_and_load(store: &Store, c: &Campaign, csv: &Path, now: i64) -> LoadReport {
    store.apply_campaign(c, 0).await.unwrap();
    store
        .load_list(
            "bench",
            std::fs::File::open(csv).unwrap(),
            "list.csv",
            now - 3_600_000,
            |_| {},
        )
        .await
        .unwrap()
}

/// Writes `n` rows of distinct CN mobile numbers (seeded, shuffled order) with a name, an
/// external id, a tier and two attribute columns.
pub fn write_list(path: &Path, n: u64) {
    let mut rng = rand_pcg::Pcg64::seed_from_u64(7);
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    writeln!(out, "phone,name,external_id,tier,loan_amount,due_date").unwrap();
    // Distinct numbers: a bijection of i over 10^8 (odd multiplier) under prefixes 135..139.
    for i in 0..n {
        let x = (i.wrapping_mul(48_271) + 12_345) % 100_000_000;
        let prefix = 135 + (i % 5);
        let tier = ["A", "B", "C"][rng.gen_range(0..3)];
        writeln!(
            out,
            "{prefix}{x:08},Customer {i},APP-{i:08},{tier},{},2026-03-{:02}",
            rng.gen_range(1_000..50_000),
            rng.gen_range(1..29)
        )
        .unwrap();
    }
}

pub const CAMPAIGN: &str = "name: bench
kind: collection
region: CN
timezone: Asia/Shanghai
dialing:
  mode: predictive
  ring_timeout: 25s
window:
  default: \"08:00-21:00\"
retry:
  max_attempts: 10
caller_id: \"+862160885500\"
trunk_group: t1
agent_group: a1
";
