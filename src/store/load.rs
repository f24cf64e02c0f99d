//! Bulk call-list loads: the CSV is parsed on its own thread (phone normalisation, memoised by
//! `campaign::phone_cache`) while this task inserts batches, all in ONE transaction: a fatal list
//! error rolls everything back. DNC hits are counted separately and not loaded.
//! SQLite: multi-row prepared INSERTs; duplicates (within the file or already in the campaign)
//! fall out of `ON CONFLICT (campaign_id, phone) DO NOTHING` (the writer lock is ours).
//! PostgreSQL: `COPY leads FROM STDIN`, which is several times cheaper per row than an INSERT but
//! has no ON CONFLICT: duplicates are found in memory instead (the campaign's numbers are read once,
//! under a per-campaign advisory lock that serialises concurrent loads of the same campaign).

use std::collections::{BTreeSet, HashSet};
use std::io::Read;

use serde::Serialize;
use sqlx::{Postgres, Sqlite, Transaction};

use super::db::{Arg, Tx};
use super::{Store, StoreError, NO_SLA};
use crate::campaign::{ListError, ListEvent, ListReader, ListRow, RowReject};

/// At most this many rejected rows are reported (the rest are only counted).
pub const MAX_REPORTED_ERRORS: usize = 1000;

/// Rows per multi-row INSERT on SQLite (11 parameters each, well under SQLite's 32,766).
const SQLITE_ROWS: usize = 500;
/// Rows per COPY data message on PostgreSQL.
const PG_ROWS: usize = 16_384;
/// First key of the PostgreSQL advisory lock taken by loads (the second is the campaign id).
const PG_LOAD_LOCK: i32 = 0x6f64_6c64; // "odld"
/// Rows handed from the parser thread at a time.
const PARSE_BATCH: usize = 4096;

/// The outcome of a load (also the `--json` output).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct LoadReport {
    /// Campaign name.
    pub campaign: String,
    /// Data rows read (header excluded).
    pub read: u64,
    /// Leads stored.
    pub loaded: u64,
    /// Rows whose E.164 number was already in the campaign or earlier in the file.
    pub duplicates: u64,
    /// Rows rejected (bad phone, field too long, wrong field count…).
    pub invalid: u64,
    /// Rows whose number is on the do-not-call list.
    pub dnc: u64,
    /// The first rejected rows, with line and reason.
    pub errors: Vec<RowReject>,
    /// More rows were rejected than `errors` lists.
    pub errors_truncated: bool,
}

type Batch = Result<(Vec<ListEvent>, u64), ListError>;

impl Store {
    /// Loads a CSV list from `input` (named `file` in errors) into `campaign`, in one transaction.
    /// `progress` is called with the number of data rows read so far.
    pub async fn load_list<R: Read + Send + 'static>(
        &self,
        campaign: &str,
        input: R,
        file: &str,
        now_ms: i64,
        mut progress: impl FnMut(u64) + Send,
    ) -> Result<LoadReport, StoreError> {
        let rec = self.campaign(campaign).await?;
        let def = rec.def.clone();
        let sla = def
            .sla
            .map(|s| now_ms.saturating_add(s.first_attempt_within.millis()))
            .unwrap_or(NO_SLA);

        let (send, mut recv) = tokio::sync::mpsc::channel::<Batch>(8);
        let file_name = file.to_string();
        let parser = std::thread::spawn(move || {
            let mut reader = match ListReader::new(input, &file_name, def.region_id(), def.tz()) {
                Ok(r) => r,
                Err(e) => {
                    let _ = send.blocking_send(Err(e));
                    return;
                }
            };
            loop {
                let mut events = Vec::with_capacity(PARSE_BATCH);
                let mut end = false;
                while events.len() < PARSE_BATCH {
                    match reader.next_event() {
                        Ok(Some(ev)) => events.push(ev),
                        Ok(None) => {
                            end = true;
                            break;
                        }
                        Err(e) => {
                            let _ = send.blocking_send(Err(e));
                            return;
                        }
                    }
                }
                // A closed channel means the loader gave up: stop reading.
                if send.blocking_send(Ok((events, reader.read))).is_err() || end {
                    return;
                }
            }
        });

        let mut report = LoadReport {
            campaign: campaign.to_string(),
            ..LoadReport::default()
        };
        let mut tx = self.write_tx().await?;
        let dnc: HashSet<String> = tx
            .all::<(String,)>("SELECT phone FROM dnc", &[])
            .await?
            .into_iter()
            .map(|(p,)| p)
            .collect();
        // PostgreSQL: COPY cannot skip conflicting rows, so the numbers already in the campaign
        // are read up front; the advisory lock keeps another load of this campaign from adding
        // some between that read and our COPY (only loads insert leads).
        let mut known: Option<HashSet<String>> = None;
        if tx.is_pg() {
            tx.exec(
                "SELECT pg_advisory_xact_lock($1::int4, $2::int4)",
                &[Arg::I(i64::from(PG_LOAD_LOCK)), Arg::I(rec.id)],
            )
            .await?;
            // `leads` has no foreign key on PostgreSQL (migration 0003: it was a per-row trigger
            // on the COPY); this lock gives the same guarantee once per load: the campaign row
            // cannot be deleted, nor its id changed, before the leads naming it commit.
            let held = tx
                .all::<(i64,)>(
                    "SELECT id FROM campaigns WHERE id = $1 FOR KEY SHARE",
                    &[Arg::I(rec.id)],
                )
                .await?;
            if held.is_empty() {
                return Err(StoreError::UnknownCampaign(campaign.to_string()));
            }
            let phones: Vec<(String,)> = tx
                .all(
                    "SELECT phone FROM leads WHERE campaign_id = $1",
                    &[Arg::I(rec.id)],
                )
                .await?;
            known = Some(phones.into_iter().map(|(p,)| p).collect());
        }
        let chunk = if tx.is_pg() { PG_ROWS } else { SQLITE_ROWS };
        let mut pending: Vec<ListRow> = Vec::with_capacity(chunk);
        let mut zones = BTreeSet::new();
        let consts = Consts {
            campaign_id: rec.id,
            now_ms,
            sla,
        };
        while let Some(batch) = recv.recv().await {
            let (events, read) = batch?;
            for ev in events {
                match ev {
                    ListEvent::Reject(r) => {
                        report.invalid += 1;
                        if report.errors.len() < MAX_REPORTED_ERRORS {
                            report.errors.push(r);
                        } else {
                            report.errors_truncated = true;
                        }
                    }
                    ListEvent::Row(row) if dnc.contains(&row.phone) => report.dnc += 1,
                    ListEvent::Row(row) => {
                        if let Some(known) = known.as_mut() {
                            // First sight in the file inserts it; any later sight, or a number
                            // already in the campaign, is a duplicate.
                            if !known.insert(row.phone.clone()) {
                                report.duplicates += 1;
                                continue;
                            }
                        }
                        if !zones.contains(&row.timezone) {
                            zones.insert(row.timezone.clone());
                        }
                        pending.push(row);
                        if pending.len() == chunk {
                            insert(&mut tx, &consts, &mut pending, &mut report).await?;
                        }
                    }
                }
            }
            report.read = read;
            progress(read);
        }
        insert(&mut tx, &consts, &mut pending, &mut report).await?;
        for z in &zones {
            tx.exec(
                "INSERT INTO campaign_timezones (campaign_id, timezone) VALUES ($1, $2) \
                 ON CONFLICT DO NOTHING",
                &[Arg::I(rec.id), Arg::S(z)],
            )
            .await?;
        }
        tx.commit().await?;
        // The parser has sent its last batch (or an error, returned above with a rollback).
        let _ = parser.join();
        if report.loaded >= 10_000 {
            self.refresh_statistics().await?;
        }
        Ok(report)
    }

    /// Writes every dirty page to disk now (SQLite: the WAL into the database file; PostgreSQL:
    /// `CHECKPOINT`, which needs superuser or `pg_checkpoint`). For benchmarks and maintenance.
    pub async fn checkpoint(&self) -> Result<(), StoreError> {
        match &self.db {
            super::Db::Sqlite(p) => {
                sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                    .execute(p)
                    .await?;
            }
            super::Db::Postgres(p) => {
                sqlx::query("CHECKPOINT").execute(p).await?;
            }
        }
        Ok(())
    }

    /// Refreshes planner statistics after a large load (keeps the hopper on its index).
    pub async fn refresh_statistics(&self) -> Result<(), StoreError> {
        match &self.db {
            super::Db::Sqlite(p) => {
                sqlx::query("PRAGMA optimize").execute(p).await?;
            }
            super::Db::Postgres(p) => {
                sqlx::query("ANALYZE leads").execute(p).await?;
            }
        }
        Ok(())
    }
}

struct Consts {
    campaign_id: i64,
    now_ms: i64,
    sla: i64,
}

async fn insert(
    tx: &mut Tx,
    c: &Consts,
    rows: &mut Vec<ListRow>,
    report: &mut LoadReport,
) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    let n = rows.len() as u64;
    let inserted = match tx {
        Tx::Sqlite(tx) => insert_sqlite(tx, c, rows).await?,
        Tx::Pg(tx) => insert_pg(tx, c, rows).await?,
    };
    report.loaded += inserted;
    report.duplicates += n - inserted;
    Ok(())
}

fn sqlite_insert_sql(rows: usize) -> String {
    let mut sql = String::from(
        "INSERT INTO leads (campaign_id, due_ms, created_ms, sla_ms, phone, name, external_id, \
         timezone, priority, tier, attributes) VALUES ",
    );
    // Anonymous `?` only: sqlx resolves every parameter through sqlite3_bind_parameter_name,
    // which is a linear scan of the named/numbered parameters (quadratic per statement).
    for i in 0..rows {
        if i > 0 {
            sql.push(',');
        }
        sql.push_str("(?,?,?,?,?,?,?,?,?,?,?)");
    }
    sql.push_str(" ON CONFLICT (campaign_id, phone) DO NOTHING");
    sql
}

async fn insert_sqlite(
    tx: &mut Transaction<'static, Sqlite>,
    c: &Consts,
    rows: &mut Vec<ListRow>,
) -> Result<u64, StoreError> {
    thread_local! {
        static FULL: String = sqlite_insert_sql(SQLITE_ROWS);
    }
    let sql = if rows.len() == SQLITE_ROWS {
        FULL.with(|s| s.clone())
    } else {
        sqlite_insert_sql(rows.len())
    };
    let mut q = sqlx::query(&sql);
    for r in rows.drain(..) {
        q = q
            .bind(c.campaign_id)
            .bind(c.now_ms)
            .bind(c.now_ms)
            .bind(c.sla)
            .bind(r.phone)
            .bind(r.name)
            .bind(r.external_id)
            .bind(r.timezone)
            .bind(r.priority as i64)
            .bind(r.tier)
            .bind(r.attributes);
    }
    Ok(q.execute(&mut **tx).await?.rows_affected())
}

/// Appends the rows to the open COPY in PostgreSQL's text format (tab-separated, `\N` for NULL).
async fn insert_pg(
    tx: &mut Transaction<'static, Postgres>,
    c: &Consts,
    rows: &mut Vec<ListRow>,
) -> Result<u64, StoreError> {
    let mut buf = Vec::with_capacity(rows.len() * 160);
    let fixed = format!("{}\t{}\t{}\t{}\t", c.campaign_id, c.now_ms, c.now_ms, c.sla);
    for r in rows.drain(..) {
        buf.extend_from_slice(fixed.as_bytes());
        copy_field(&mut buf, Some(&r.phone));
        buf.push(b'\t');
        copy_field(&mut buf, r.name.as_deref());
        buf.push(b'\t');
        copy_field(&mut buf, r.external_id.as_deref());
        buf.push(b'\t');
        copy_field(&mut buf, Some(&r.timezone));
        buf.push(b'\t');
        buf.extend_from_slice(r.priority.to_string().as_bytes());
        buf.push(b'\t');
        copy_field(&mut buf, Some(&r.tier));
        buf.push(b'\t');
        copy_field(&mut buf, Some(&r.attributes));
        buf.push(b'\n');
    }
    let mut copy = tx
        .copy_in_raw(
            "COPY leads (campaign_id, due_ms, created_ms, sla_ms, phone, name, external_id, \
             timezone, priority, tier, attributes) FROM STDIN",
        )
        .await?;
    copy.send(buf).await?;
    Ok(copy.finish().await?)
}

/// One field in COPY text format: backslash, tab, newline and CR escaped; `None` is `\N`.
fn copy_field(out: &mut Vec<u8>, v: Option<&str>) {
    let Some(v) = v else {
        out.extend_from_slice(b"\\N");
        return;
    };
    for &b in v.as_bytes() {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            _ => out.push(b),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::copy_field;

    #[test]
    fn copy_text_escapes() {
        let mut out = Vec::new();
        copy_field(&mut out, Some("a\\b\tc\nd\re\"f"));
        copy_field(&mut out, None);
        assert_eq!(out, b"a\\\\b\\tc\\nd\\re\"f\\N".to_vec());
    }
}
