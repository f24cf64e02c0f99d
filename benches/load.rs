//! Benchmark: loading a generated 1,000,000-row CSV into a campaign (rows/s), compared in the same
//! run with `sqlite3 .import` / `psql \copy` of the same file into a bare table (no validation).
//! Run: `cargo bench --bench load` (rows: OUTDIAL_BENCH_ROWS; PostgreSQL: OUTDIAL_TEST_PG).
//! A measured-once command rather than criterion: one 1M-row load takes seconds.

#[path = "common.rs"]
mod common;

use std::process::Command;
use std::time::Instant;

use outdial::campaign::Campaign;
use outdial::store::Store;

fn main() {
    if std::env::args().any(|a| a == "--list") {
        println!("load: bench");
        return;
    }
    let n = common::rows();
    let dir = common::temp_dir("load");
    let csv = dir.join("list.csv");
    common::write_list(&csv, n);
    let campaign = Campaign::parse("bench.yaml", common::CAMPAIGN).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();

    // SQLite: outdial load.
    let db = dir.join("load.db");
    let secs = rt.block_on(async {
        let store = Store::open(db.to_str().unwrap()).await.unwrap();
        store.apply_campaign(&campaign, 0).await.unwrap();
        let t = Instant::now();
        let r = store
            .load_list(
                "bench",
                std::fs::File::open(&csv).unwrap(),
                "list.csv",
                0,
                |_| {},
            )
            .await
            .unwrap();
        let secs = t.elapsed().as_secs_f64();
        assert_eq!(r.loaded, n, "{r:?}");
        store.close().await;
        secs
    });
    // SQLite reference: sqlite3 .import into a bare table.
    let ref_db = dir.join("ref.db");
    let t = Instant::now();
    let ok = Command::new("sqlite3")
        .arg(&ref_db)
        .arg(".mode csv")
        .arg(format!(".import {} bare", csv.display()))
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    let ref_secs = t.elapsed().as_secs_f64();
    report(
        "sqlite",
        n,
        secs,
        ok.then_some(("sqlite3 .import", ref_secs)),
    );

    // PostgreSQL: outdial load, then psql \copy into a bare table of the same schema.
    let url = common::pg_url();
    let pg = rt.block_on(async {
        let (store, schema) = Store::open_isolated_pg(&url).await.ok()?;
        store.apply_campaign(&campaign, 0).await.unwrap();
        let t = Instant::now();
        let r = store
            .load_list(
                "bench",
                std::fs::File::open(&csv).unwrap(),
                "list.csv",
                0,
                |_| {},
            )
            .await
            .unwrap();
        let secs = t.elapsed().as_secs_f64();
        assert_eq!(r.loaded, n, "{r:?}");
        Some((store, schema, secs))
    });
    match pg {
        Some((store, schema, secs)) => {
            let create = format!(
                "CREATE TABLE {schema}.bare (phone text, name text, external_id text, \
                 tier text, loan_amount text, due_date text)"
            );
            let copy = format!(
                "\\copy {schema}.bare FROM '{}' WITH (FORMAT csv, HEADER true)",
                csv.display()
            );
            let t = Instant::now();
            let ok = Command::new("psql")
                .arg(&url)
                .arg("-q")
                .arg("-v")
                .arg("ON_ERROR_STOP=1")
                .arg("-c")
                .arg(&create)
                .arg("-c")
                .arg(&copy)
                .status()
                .map(|s| s.success())
                .unwrap_or(false);
            let ref_secs = t.elapsed().as_secs_f64();
            report("postgres", n, secs, ok.then_some(("psql \\copy", ref_secs)));
            rt.block_on(async {
                store.drop_schema(&schema).await.unwrap();
                store.close().await;
            });
        }
        None => println!("postgres: skipped ({url} unreachable)"),
    }
    let _ = std::fs::remove_dir_all(&dir);
}

fn report(backend: &str, n: u64, secs: f64, reference: Option<(&str, f64)>) {
    let rate = n as f64 / secs;
    match reference {
        Some((name, r)) => println!(
            "{backend}: outdial load {n} rows in {secs:.2} s = {rate:.0} rows/s; \
             {name} {r:.2} s = {:.0} rows/s; ratio {:.2}x",
            n as f64 / r,
            secs / r
        ),
        None => println!("{backend}: outdial load {n} rows in {secs:.2} s = {rate:.0} rows/s"),
    }
}
