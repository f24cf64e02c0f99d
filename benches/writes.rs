//! Benchmark: throughput of the engine's store writes (`engine::writes`), one call record
//! (`Write::Finish`) per attempt: one at a time; in batches of `writes::PARALLEL` sent together,
//! each batch awaited before the next (as the write queue's writer sends independent writes on
//! PostgreSQL; on SQLite it sends one at a time); and eight streams in no order (close to the
//! engine's spawn-per-write before the queue), on SQLite and PostgreSQL. The figure to compare with is the engine's write rate under
//! load: about 1.3 writes per call plus 10 milestone batches a second.
//! Run: `cargo bench --bench writes` (attempts: OUTDIAL_BENCH_ROWS, default 2,000; PostgreSQL:
//! OUTDIAL_TEST_PG).

#[path = "common.rs"]
mod common;

use std::time::Instant;

use outdial::campaign::{CallDisposition, Campaign};
use outdial::engine::writes::{apply, parallel, Write, PARALLEL};
use outdial::store::{AttemptOutcome, Store};

fn main() {
    if std::env::args().any(|a| a == "--list") {
        println!("writes: bench");
        return;
    }
    let n = std::env::var("OUTDIAL_BENCH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000u64);
    let dir = common::temp_dir("writes");
    let csv = dir.join("list.csv");
    common::write_list(&csv, 3 * n);
    let campaign = Campaign::parse("bench.yaml", common::CAMPAIGN).unwrap();
    let now = common::window_open_ms();
    let (campaign, csv) = (&campaign, &csv);
    common::on_each_store(&dir, "writes", |backend, store| async move {
        run(backend, &store, campaign, csv, n, now).await;
        store
    });
    let _ = std::fs::remove_dir_all(&dir);
}

/// `n` open attempts' call records.
async fn records(store: &Store, n: u64, now: i64) -> Vec<Write> {
    let leased = store
        .lease("bench", n as usize, now, "node", 600_000)
        .await
        .unwrap();
    let mut out = Vec::with_capacity(leased.len());
    for l in leased {
        let attempt = store.begin_attempt(l.lead_id, "node", now).await.unwrap();
        let mut outcome = AttemptOutcome::new(CallDisposition::NoAnswer, now + 30_000);
        outcome.dial_ms = Some(now);
        outcome.sip_code = Some(487);
        out.push(Write::Finish { attempt, outcome });
    }
    out
}

async fn run(backend: &str, store: &Store, c: &Campaign, csv: &std::path::Path, n: u64, now: i64) {
    common::apply_and_load(store, c, csv, now).await;
    let writes = records(store, n, now).await;
    let t = Instant::now();
    for w in &writes {
        apply(store, w).await.unwrap();
    }
    let one = writes.len() as f64 / t.elapsed().as_secs_f64();

    let writes = records(store, n, now + 1).await;
    let t = Instant::now();
    for batch in writes.chunks(PARALLEL) {
        let mut set = tokio::task::JoinSet::new();
        for w in batch {
            let (store, w) = (store.clone(), w.clone());
            set.spawn(async move { apply(&store, &w).await.unwrap() });
        }
        while set.join_next().await.is_some() {}
    }
    let batched = writes.len() as f64 / t.elapsed().as_secs_f64();

    let writes = records(store, n, now + 2).await;
    let t = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for chunk in writes.chunks(writes.len().div_ceil(8)) {
        let (store, chunk) = (store.clone(), chunk.to_vec());
        set.spawn(async move {
            for w in &chunk {
                apply(&store, w).await.unwrap();
            }
        });
    }
    while set.join_next().await.is_some() {}
    let streams = writes.len() as f64 / t.elapsed().as_secs_f64();
    println!(
        "{backend}: call records/s: one at a time {one:.0}; batches of {PARALLEL} {batched:.0}; \
         eight streams {streams:.0} ({} each; the writer sends {} at once here)",
        writes.len(),
        parallel(store)
    );
}
