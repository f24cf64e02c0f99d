//! `outdial recordings list|export|purge` run as a user would (the real binary) against a
//! SQLite store seeded with call records and recording files; and the store's media writes
//! behind them (the opt-out that lists the number and marks the record in one transaction).

use crate::common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use chrono::{Duration, Utc};
use common::*;
use outdial::campaign::CallDisposition;
use outdial::store::{
    AttemptMedia, AttemptOutcome, Db, MediaFigures, RecordingFilter, RecordingInfo, Store,
};

/// dial_ms, recording_path, recording_secs, media_mos.
type CallRow = (i64, Option<String>, Option<f64>, Option<f64>);

struct Seeded {
    dir: PathBuf,
    db: String,
    /// Files: c1 old, c1 recent, c2 old.
    old: PathBuf,
    recent: PathBuf,
    kept_long: PathBuf,
    /// The national number of the c2 call.
    c2_number: String,
}

impl Drop for Seeded {
    fn drop(&mut self) {
        // Best effort: a leftover temp directory harms nothing.
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// 10:00 in Shanghai two days ago: a recent call, inside any 08:00-21:00 window.
fn recent_ms() -> i64 {
    let day = (Utc::now() - Duration::days(2))
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .date_naive();
    sh(
        chrono::Datelike::year(&day),
        chrono::Datelike::month(&day),
        chrono::Datelike::day(&day),
        10,
        0,
    )
}

/// One recorded call of `campaign` dialled at `at`; its file has `bytes` of content.
async fn call(store: &Store, campaign: &str, at: i64, file: &Path) -> (i64, String) {
    let leased = store
        .lease(campaign, 1, at, "node-a", 5 * MIN)
        .await
        .unwrap();
    let lead = &leased[0];
    let mut outcome = AttemptOutcome::new(CallDisposition::Completed, at + 60_000);
    outcome.dial_ms = Some(at);
    outcome.answer_ms = Some(at + 5_000);
    let (attempt, _) = store.record_attempt(lead.lead_id, &outcome).await.unwrap();
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(file, format!("audio of attempt {attempt}")).unwrap();
    let media = AttemptMedia {
        recording: Some(RecordingInfo {
            path: file.display().to_string(),
            secs: 55.0,
            failed: None,
        }),
        customer: Some(MediaFigures {
            packets: 2750,
            loss_pct: 0.5,
            jitter_ms: 3.0,
            mos: 4.3,
        }),
    };
    assert!(store.record_media(attempt, &media).await.unwrap());
    (attempt, lead.phone_e164.clone())
}

async fn seed() -> Seeded {
    let dir = temp_dir("recordings");
    let db = format!("sqlite://{}", dir.join("rec.db").display());
    let store = Store::open(&db).await.unwrap();
    apply(
        &store,
        &campaign_yaml("c1", RETRY, "recording: { retention: 30d }\n"),
    )
    .await;
    apply(
        &store,
        &campaign_yaml(
            "c2",
            RETRY,
            "recording: { mode: connected, retention: 3650d }\n",
        ),
    )
    .await;
    load(
        &store,
        "c1",
        &format!("phone\n{}\n", mobiles(1, 2).join("\n")),
        t0() - HOUR,
    )
    .await;
    load(
        &store,
        "c2",
        &format!("phone\n{}\n", mobiles(10, 1).join("\n")),
        t0() - HOUR,
    )
    .await;
    let files = dir.join("recordings");
    let old = files.join("c1/2026-03-04/old.wav");
    let recent = files.join("c1/recent/recent.wav");
    let kept_long = files.join("c2/2026-03-04/long.wav");
    call(&store, "c1", t0(), &old).await;
    call(&store, "c1", recent_ms(), &recent).await;
    let (_, phone) = call(&store, "c2", t0() + MIN, &kept_long).await;
    store.close().await;
    Seeded {
        dir,
        db,
        old,
        recent,
        kept_long,
        c2_number: phone.trim_start_matches("+86").to_string(),
    }
}

fn run(s: &Seeded, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_outdial"))
        .arg("--db")
        .arg(&s.db)
        .arg("recordings")
        .args(args)
        .output()
        .unwrap()
}

fn ok(s: &Seeded, args: &[&str]) -> String {
    let out = run(s, args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn listed(s: &Seeded, args: &[&str]) -> Vec<String> {
    let mut all = vec!["list", "--json"];
    all.extend_from_slice(args);
    let v: serde_json::Value = serde_json::from_str(&ok(s, &all)).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .map(|r| r["path"].as_str().unwrap().to_string())
        .collect()
}

fn p(path: &Path) -> String {
    path.display().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_filters_by_campaign_number_and_date() {
    let s = seed().await;
    assert_eq!(
        listed(&s, &["--campaign", "c1"]),
        vec![p(&s.old), p(&s.recent)]
    );
    assert_eq!(
        listed(&s, &["--number", &s.c2_number]),
        vec![p(&s.kept_long)]
    );
    // The whole day of t0 (UTC: 02:00 and 02:01), then only what came after it.
    assert_eq!(
        listed(&s, &["--from", "2026-03-04", "--to", "2026-03-04"]),
        vec![p(&s.old), p(&s.kept_long)]
    );
    assert_eq!(listed(&s, &["--from", "2026-03-05"]), vec![p(&s.recent)]);
    let table = ok(&s, &["list", "--campaign", "c2"]);
    assert!(
        table.contains("2026-03-04T02:01:00Z") && table.contains("55.0"),
        "{table}"
    );
    let bad = run(&s, &["list", "--from", "yesterday"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--from \"yesterday\""));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_copies_the_files_with_a_csv_index() {
    let s = seed().await;
    let out = s.dir.join("export");
    let msg = ok(&s, &["export", "--campaign", "c1", "--dir", &p(&out)]);
    assert!(msg.starts_with("exported 2 recording(s)"), "{msg}");
    let mut rdr = csv::Reader::from_path(out.join("index.csv")).unwrap();
    let rows: Vec<csv::StringRecord> = rdr.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 2);
    for row in &rows {
        let copy = std::fs::read(out.join(&row[5])).unwrap();
        assert_eq!(copy, std::fs::read(&row[6]).unwrap());
        assert_eq!(&row[1], "c1");
        assert!(row[2].starts_with("+86"));
    }
    // A file gone from the disk: reported, the rest still exported, the status says so.
    std::fs::remove_file(&s.recent).unwrap();
    let failed = run(
        &s,
        &[
            "export",
            "--campaign",
            "c1",
            "--dir",
            &p(&s.dir.join("again")),
        ],
    );
    assert!(!failed.status.success());
    assert!(String::from_utf8_lossy(&failed.stderr).contains("recent.wav"));
    assert!(s.dir.join("again/index.csv").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purge_deletes_by_each_campaigns_retention_and_keeps_the_records() {
    let s = seed().await;
    let dry = ok(&s, &["purge", "--dry-run"]);
    assert_eq!(dry.lines().count(), 1, "{dry}");
    assert!(
        dry.starts_with(&format!("would purge {}", p(&s.old))),
        "{dry}"
    );
    assert!(s.old.exists());

    let out = ok(&s, &["purge"]);
    assert!(out.contains(&format!("purged {} (c1 ", p(&s.old))), "{out}");
    assert!(out.ends_with("1 recording(s) purged\n"), "{out}");
    // c1's 30-day retention took the March call; c2 keeps ten years; the recent call stays.
    assert!(!s.old.exists());
    assert!(s.recent.exists() && s.kept_long.exists());
    assert_eq!(listed(&s, &[]), vec![p(&s.kept_long), p(&s.recent)]);
    // The call record is kept, only its path cleared.
    let store = Store::open(&s.db).await.unwrap();
    let Db::Sqlite(pool) = store.db() else {
        unreachable!()
    };
    let rows: Vec<CallRow> = sqlx::query_as(
        "SELECT dial_ms, recording_path, recording_secs, media_mos FROM attempts ORDER BY dial_ms",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0].1, None);
    assert_eq!((rows[0].2, rows[0].3), (Some(55.0), Some(4.3)));
    store.close().await;
    // Nothing left to purge.
    assert_eq!(ok(&s, &["purge"]), "0 recording(s) purged\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opt_out_lists_the_number_and_marks_the_record_together() {
    let s = seed().await;
    let store = Store::open(&s.db).await.unwrap();
    let Db::Sqlite(pool) = store.db() else {
        unreachable!()
    };
    let (id, phone): (i64, String) =
        sqlx::query_as("SELECT id, phone FROM attempts ORDER BY dial_ms LIMIT 1")
            .fetch_one(pool)
            .await
            .unwrap();
    // Not this call's number: refused, nothing listed, nothing marked.
    assert!(store.opt_out(id, "+8613999999999", t0()).await.is_err());
    assert!(!store.is_dnc("+8613999999999").await.unwrap());
    assert!(store.opt_out(id, &phone, t0()).await.unwrap());
    assert!(store.is_dnc(&phone).await.unwrap());
    let (opted,): (i64,) = sqlx::query_as("SELECT opted_out FROM attempts WHERE id = ?")
        .bind(id)
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(opted, 1);
    // Pressing 9 twice lists it once.
    assert!(!store.opt_out(id, &phone, t0()).await.unwrap());
    assert_eq!(store.dnc_count().await.unwrap(), 1);
    // A failed recording is kept in the record with its reason.
    let failed = AttemptMedia {
        recording: Some(RecordingInfo {
            path: "/nowhere/x.wav".into(),
            secs: 0.0,
            failed: Some("disk full".into()),
        }),
        customer: None,
    };
    assert!(store.record_media(id, &failed).await.unwrap());
    let (why, mos): (Option<String>, Option<f64>) =
        sqlx::query_as("SELECT recording_failed, media_mos FROM attempts WHERE id = ?")
            .bind(id)
            .fetch_one(pool)
            .await
            .unwrap();
    assert_eq!((why.as_deref(), mos), (Some("disk full"), Some(4.3)));
    assert!(!store.record_media(999_999, &failed).await.unwrap());
    store.close().await;
}

async fn count(s: &Store, sql: &str) -> i64 {
    let (n,): (i64,) = match s.db() {
        Db::Sqlite(p) => sqlx::query_as(sql).fetch_one(p).await,
        Db::Postgres(p) => sqlx::query_as(sql).fetch_one(p).await,
    }
    .unwrap();
    n
}

/// The store side of the media columns on both backends: media written, recordings found by
/// filter, a purged path cleared, an opt-out listed and marked together.
async fn store_media_api(db: &TestDb) {
    let s = &db.store;
    let dir = temp_dir("store-media");
    apply(s, &campaign_yaml("m1", RETRY, "")).await;
    load(
        s,
        "m1",
        &format!("phone\n{}\n", mobiles(1, 2).join("\n")),
        t0() - HOUR,
    )
    .await;
    let (a1, phone1) = call(s, "m1", t0(), &dir.join("a.wav")).await;
    let (a2, _) = call(s, "m1", t0() + HOUR, &dir.join("b.wav")).await;
    let filter = |from_ms| RecordingFilter {
        campaign: Some("m1".into()),
        from_ms,
        ..RecordingFilter::default()
    };
    let rows = s.recordings(&filter(None)).await.unwrap();
    assert_eq!(
        rows.iter().map(|r| r.attempt).collect::<Vec<_>>(),
        vec![a1, a2]
    );
    assert_eq!(rows[0].secs, Some(55.0));
    assert_eq!(rows[0].phone, phone1);
    assert_eq!(
        s.recordings(&filter(Some(t0() + 1))).await.unwrap().len(),
        1
    );
    assert!(s.clear_recording(a1).await.unwrap());
    assert!(!s.clear_recording(a1).await.unwrap());
    assert_eq!(s.recordings(&filter(None)).await.unwrap().len(), 1);
    assert_eq!(
        count(
            s,
            "SELECT COUNT(*) FROM attempts WHERE media_packets = 2750"
        )
        .await,
        2
    );
    assert!(s.opt_out(a1, "+8613999999999", t0()).await.is_err());
    assert!(s.opt_out(a1, &phone1, t0()).await.unwrap());
    assert!(s.is_dnc(&phone1).await.unwrap());
    assert_eq!(
        count(s, "SELECT COUNT(*) FROM attempts WHERE opted_out = 1").await,
        1
    );
    assert_eq!(
        count(s, "SELECT COUNT(*) FROM dnc WHERE source = 'opt-out'").await,
        1
    );
    let _ = std::fs::remove_dir_all(&dir); // best effort: a temp directory
}

on_both_backends!(store_media_api);
