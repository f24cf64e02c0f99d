//! Benchmark: `lease(campaign, 100, …)` on a campaign of 1,000,000 leads, median and p90 over 200
//! calls, on SQLite and PostgreSQL. Leased leads stay leased (the pool shrinks by 20,000 of
//! 1,000,000 over the run); every call walks the same hopper index.
//! Run: `cargo bench --bench lease` (rows: OUTDIAL_BENCH_ROWS; PostgreSQL: OUTDIAL_TEST_PG).

#[path = "common.rs"]
mod common;

use std::time::Instant;

use outdial::campaign::Campaign;
use outdial::store::Store;

const CALLS: usize = 200;

fn main() {
    if std::env::args().any(|a| a == "--list") {
        println!("lease: bench");
        return;
    }
    let n = common::rows();
    let dir = common::temp_dir("lease");
    let csv = dir.join("list.csv");
    common::write_list(&csv, n);
    let campaign = Campaign::parse("bench.yaml", common::CAMPAIGN).unwrap();
    let now = common::window_open_ms();
    let (campaign, csv) = (&campaign, &csv);
    common::on_each_store(&dir, "lease", |backend, store| async move {
        run(backend, &store, campaign, csv, n, now).await;
        store
    });
    let _ = std::fs::remove_dir_all(&dir);
}

async fn run(backend: &str, store: &Store, c: &Campaign, csv: &std::path::Path, n: u64, now: i64) {
    let r = common::apply_and_load(store, c, csv, now).await;
    assert_eq!(r.loaded, n);
    // Let the load's dirty pages reach disk before timing (untimed): otherwise the checkpoint a
    // 1M-row load triggers competes with the leases for the disk.
    store.checkpoint().await.unwrap();
    // Warm-up (statement caches, page cache).
    for _ in 0..5 {
        store
            .lease("bench", 100, now, "warm", 600_000)
            .await
            .unwrap();
    }
    let mut times = Vec::with_capacity(CALLS);
    for i in 0..CALLS {
        let t = Instant::now();
        let got = store
            .lease("bench", 100, now + i as i64, "node", 600_000)
            .await
            .unwrap();
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(got.len(), 100);
    }
    times.sort_by(|a, b| a.total_cmp(b));
    println!(
        "{backend}: lease(100) on {n} leads: median {:.2} ms, p90 {:.2} ms, max {:.2} ms ({CALLS} calls)",
        times[CALLS / 2],
        times[CALLS * 9 / 10],
        times[CALLS - 1]
    );
}
