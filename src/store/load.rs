//! Bulk call-list loads: the CSV is parsed on its own thread (phone normalisation is the costly
//! part) while this task inserts batches, all in ONE transaction: a fatal list error rolls
//! everything back. Duplicates (within the file or already in the campaign) fall out of the
//! `UNIQUE (campaign_id, phone)` constraint; DNC hits are counted separately and not loaded.
//! SQLite: multi-row prepared INSERTs; PostgreSQL: UNNEST of column arrays.

use std::collections::{BTreeSet, HashSet};
use std::io::Read;

use serde::Serialize;
use sqlx::{Postgres, Sqlite, Transaction};

use super::db::{Arg, Tx};
use super::{Store, StoreError, NO_SLA};
use crate::campaign::{ListError, ListEvent, ListReader, ListRow, RowReject};

/// At most this many rejected rows are reported (the rest are only counted).
pub const MAX_REPORTED_ERRORS: usize = 1000;

/// Rows per multi-row INSERT on SQLite (7 parameters each, well under SQLite's 32,766).
const SQLITE_ROWS: usize = 100;
/// Rows per UNNEST insert on PostgreSQL.
const PG_ROWS: usize = 10_000;
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
    for i in 0..rows {
        let b = 4 + i * 7;
        if i > 0 {
            sql.push(',');
        }
        sql.push_str(&format!(
            "(?1,?2,?2,?3,?{},?{},?{},?{},?{},?{},?{})",
            b,
            b + 1,
            b + 2,
            b + 3,
            b + 4,
            b + 5,
            b + 6
        ));
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
    let mut q = sqlx::query(&sql)
        .bind(c.campaign_id)
        .bind(c.now_ms)
        .bind(c.sla);
    for r in rows.drain(..) {
        q = q
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

async fn insert_pg(
    tx: &mut Transaction<'static, Postgres>,
    c: &Consts,
    rows: &mut Vec<ListRow>,
) -> Result<u64, StoreError> {
    let n = rows.len();
    let mut phone = Vec::with_capacity(n);
    let mut name = Vec::with_capacity(n);
    let mut ext = Vec::with_capacity(n);
    let mut tz = Vec::with_capacity(n);
    let mut prio = Vec::with_capacity(n);
    let mut tier = Vec::with_capacity(n);
    let mut attrs = Vec::with_capacity(n);
    for r in rows.drain(..) {
        phone.push(r.phone);
        name.push(r.name);
        ext.push(r.external_id);
        tz.push(r.timezone);
        prio.push(r.priority as i64);
        tier.push(r.tier);
        attrs.push(r.attributes);
    }
    let done = sqlx::query(
        "INSERT INTO leads (campaign_id, due_ms, created_ms, sla_ms, phone, name, external_id, \
         timezone, priority, tier, attributes) \
         SELECT $1, $2, $2, $3, u.* FROM UNNEST($4::text[], $5::text[], $6::text[], $7::text[], \
         $8::int8[], $9::text[], $10::text[]) AS u \
         ON CONFLICT (campaign_id, phone) DO NOTHING",
    )
    .bind(c.campaign_id)
    .bind(c.now_ms)
    .bind(c.sla)
    .bind(phone)
    .bind(name)
    .bind(ext)
    .bind(tz)
    .bind(prio)
    .bind(tier)
    .bind(attrs)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected())
}
