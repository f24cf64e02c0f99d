//! Benchmark: loading a generated 1,000,000-row CSV into a campaign (rows/s), compared in the same
//! run with `sqlite3 .import` / `psql \copy` of the same file into a bare table (no validation).
//! Run: `cargo bench --bench load` (rows: OUTDIAL_BENCH_ROWS; PostgreSQL: OUTDIAL_TEST_PG).
//! A measured-once command rather than criterion: one 1M-row load takes seconds.
//!
//! A third figure, the *database floor*, shows what the schema itself costs: the database's own
//! shell puts the already-imported rows into `leads` with its indexes and foreign key, with no
//! parsing, no validation and no client round trips (SQLite: `INSERT … SELECT` from the bare
//! table, with the store's pragmas; PostgreSQL: `\copy leads FROM` a file of rows already shaped
//! as `leads` rows, the same COPY a load sends). No loader that keeps the schema can beat it.

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
    // SQLite floor: a fresh store (migrations, campaign), then the shell's INSERT … SELECT.
    let floor_db = dir.join("floor.db");
    rt.block_on(async {
        let store = Store::open(floor_db.to_str().unwrap()).await.unwrap();
        store.apply_campaign(&campaign, 0).await.unwrap();
        store.close().await;
    });
    let t = Instant::now();
    let ok = Command::new("sqlite3")
        .arg(&floor_db)
        .arg(format!("ATTACH '{}' AS r", ref_db.display()))
        // The store's own settings (src/store/open.rs).
        .arg("PRAGMA foreign_keys = ON")
        .arg("PRAGMA synchronous = NORMAL")
        .arg("PRAGMA cache_size = -65536")
        .arg("PRAGMA temp_store = memory")
        .arg(format!(
            "INSERT INTO leads {FLOOR_SELECT} ON CONFLICT DO NOTHING"
        ))
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    match ok {
        true => floor("sqlite", n, t.elapsed().as_secs_f64(), ref_secs),
        false => println!("sqlite: database floor: the sqlite3 shell failed (see above)"),
    }

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
            // PostgreSQL floor: a fresh schema (migrations, campaign); the bare rows are shaped
            // as `leads` rows into a file (untimed), then `\copy leads FROM` that file is timed.
            let fresh = rt.block_on(async {
                let (store, fresh) = Store::open_isolated_pg(&url).await.unwrap();
                store.apply_campaign(&campaign, 0).await.unwrap();
                (store, fresh)
            });
            let shaped = dir.join("leads.tsv");
            let select = FLOOR_SELECT
                .split_once("SELECT")
                .map(|(_, rest)| format!("SELECT {rest}"))
                .unwrap_or_default()
                .replace("r.bare", &format!("{schema}.bare"));
            let psql = |cmd: String| {
                Command::new("psql")
                    .arg(&url)
                    .arg("-q")
                    .arg("-v")
                    .arg("ON_ERROR_STOP=1")
                    .arg("-c")
                    .arg(format!("SET search_path = {}", fresh.1))
                    .arg("-c")
                    .arg(cmd)
                    .status()
                    .map(|s| s.success())
                    .unwrap_or(false)
            };
            let shaped_ok = psql(format!(
                "\\copy ({}) TO '{}'",
                select.replace("c.name = 'bench'", "c.name = 'bench' ORDER BY b.ctid"),
                shaped.display()
            ));
            let t = Instant::now();
            let ok = shaped_ok
                && psql(format!(
                    "\\copy leads {} FROM '{}'",
                    FLOOR_SELECT
                        .split_once(" SELECT")
                        .map_or("", |(cols, _)| cols),
                    shaped.display()
                ));
            match ok {
                true => floor("postgres", n, t.elapsed().as_secs_f64(), ref_secs),
                false => println!("postgres: database floor: psql failed (see above)"),
            }
            rt.block_on(async {
                fresh.0.drop_schema(&fresh.1).await.unwrap();
                fresh.0.close().await;
            });
            rt.block_on(async {
                store.drop_schema(&schema).await.unwrap();
                store.close().await;
            });
        }
        None => println!("postgres: skipped ({url} unreachable)"),
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// The rows of the bare table as `leads` columns, as a load would store them.
const FLOOR_SELECT: &str = "(campaign_id, due_ms, created_ms, sla_ms, phone, name, external_id, \
    timezone, priority, tier, attributes) \
    SELECT c.id, 0, 0, 9223372036854775807, '+86' || b.phone, b.name, b.external_id, \
    'Asia/Shanghai', 0, b.tier, \
    '{\"loan_amount\":\"' || b.loan_amount || '\",\"due_date\":\"' || b.due_date || '\"}' \
    FROM r.bare b, campaigns c WHERE c.name = 'bench'";

fn floor(backend: &str, n: u64, secs: f64, ref_secs: f64) {
    println!(
        "{backend}: database floor (the shell, pre-shaped rows into leads) {n} rows \
         in {secs:.2} s = {:.0} rows/s; ratio to the reference {:.2}x",
        n as f64 / secs,
        secs / ref_secs
    );
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
