//! `outdial recordings list|export|purge`: call recordings found through the call records
//! (campaign, number, date range), copied out with a CSV index, or deleted once older than
//! their campaign's `recording.retention` (the record is kept, its path cleared). Reads and
//! writes files and the store; the retention rule is the campaign's, the rows the store's.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use chrono::{DateTime, NaiveDate, Utc};
use clap::{Args, Subcommand};
use outdial::campaign::{normalize_e164, parse_region};
use outdial::store::{RecordingFilter, RecordingRow, Store};

/// Recordings subcommands.
#[derive(Subcommand, Debug)]
pub enum RecordingsCmd {
    /// List recorded calls (time, campaign, number, seconds, file).
    List {
        #[command(flatten)]
        filter: FilterArgs,
        /// Print JSON (one array).
        #[arg(long)]
        json: bool,
    },
    /// Copy the matching recordings into a directory, with an `index.csv`.
    Export {
        #[command(flatten)]
        filter: FilterArgs,
        /// Where to copy them (created).
        #[arg(long)]
        dir: PathBuf,
    },
    /// Delete recordings older than their campaign's retention; each deletion is printed and
    /// the call record kept (its recording path cleared).
    Purge {
        /// Only this campaign.
        #[arg(long)]
        campaign: Option<String>,
        /// Say what would be deleted, delete nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

/// Which recordings.
#[derive(Args, Debug)]
pub struct FilterArgs {
    /// Campaign name.
    #[arg(long)]
    campaign: Option<String>,
    /// The number called (national numbers use --region).
    #[arg(long)]
    number: Option<String>,
    /// Region for a number written without a country code.
    #[arg(long, default_value = "CN")]
    region: String,
    /// Calls dialled on or after: `YYYY-MM-DD` (UTC) or an RFC 3339 time.
    #[arg(long)]
    from: Option<String>,
    /// Calls dialled up to: `YYYY-MM-DD` (that whole day, UTC) or an RFC 3339 time (excluded).
    #[arg(long)]
    to: Option<String>,
}

impl FilterArgs {
    fn filter(&self) -> anyhow::Result<RecordingFilter> {
        let phone = match &self.number {
            None => None,
            Some(n) => {
                let region = parse_region(&self.region).map_err(anyhow::Error::msg)?;
                Some(normalize_e164(n, region).map_err(|e| anyhow::anyhow!("--number: {e}"))?)
            }
        };
        Ok(RecordingFilter {
            campaign: self.campaign.clone(),
            phone,
            from_ms: self
                .from
                .as_deref()
                .map(|t| parse_time("--from", t, false))
                .transpose()?,
            to_ms: self
                .to
                .as_deref()
                .map(|t| parse_time("--to", t, true))
                .transpose()?,
        })
    }
}

/// Epoch ms of `text`; a bare date is its midnight UTC, or the next midnight for an end bound.
fn parse_time(flag: &str, text: &str, end: bool) -> anyhow::Result<i64> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.timestamp_millis());
    }
    let day = NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| anyhow::anyhow!("{flag} {text:?}: write YYYY-MM-DD or an RFC 3339 time"))?;
    let day = if end {
        day.succ_opt().unwrap_or(day)
    } else {
        day
    };
    Ok(day
        .and_hms_opt(0, 0, 0)
        .map(|t| t.and_utc().timestamp_millis())
        .unwrap_or_default())
}

fn utc(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|| ms.to_string())
}

fn secs(row: &RecordingRow) -> String {
    row.secs.map(|s| format!("{s:.1}")).unwrap_or_default()
}

/// Writes `text` to stdout; a reader that went away (`… | head`) is not an error.
fn write_out(text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

/// Runs a recordings subcommand against the store at `db`.
pub fn run(db: &str, cmd: RecordingsCmd) -> anyhow::Result<ExitCode> {
    super::runtime()?.block_on(async move {
        let store = Store::open(db)
            .await
            .with_context(|| format!("cannot open store {db}"))?;
        let code = match cmd {
            RecordingsCmd::List { filter, json } => {
                let rows = store.recordings(&filter.filter()?).await?;
                let mut text = String::new();
                if json {
                    text = serde_json::to_string_pretty(&rows)?;
                    text.push('\n');
                } else {
                    text.push_str(&format!(
                        "{:<20}  {:<20}  {:<16}  {:>7}  file\n",
                        "time (UTC)", "campaign", "number", "secs"
                    ));
                    for r in &rows {
                        text.push_str(&format!(
                            "{:<20}  {:<20}  {:<16}  {:>7}  {}\n",
                            utc(r.dial_ms),
                            r.campaign,
                            r.phone,
                            secs(r),
                            r.path
                        ));
                    }
                }
                write_out(&text)?;
                ExitCode::SUCCESS
            }
            RecordingsCmd::Export { filter, dir } => {
                let rows = store.recordings(&filter.filter()?).await?;
                export(&rows, &dir)?
            }
            RecordingsCmd::Purge { campaign, dry_run } => {
                purge(&store, campaign, dry_run, super::campaign::now_ms()).await?
            }
        };
        store.close().await;
        Ok(code)
    })
}

/// Copies each row's file into `to` as `<attempt>-<file name>` and writes `index.csv`. A
/// missing file is reported and the exit status is 1; the others are still copied.
fn export(rows: &[RecordingRow], to: &Path) -> anyhow::Result<ExitCode> {
    std::fs::create_dir_all(to).with_context(|| format!("cannot create {}", to.display()))?;
    let index = to.join("index.csv");
    let mut csv = csv::Writer::from_path(&index)
        .with_context(|| format!("cannot write {}", index.display()))?;
    csv.write_record([
        "attempt", "campaign", "number", "time_utc", "secs", "file", "original",
    ])?;
    let (mut copied, mut missing) = (0, 0);
    for r in rows {
        let src = Path::new(&r.path);
        let name = format!(
            "{}-{}",
            r.attempt,
            src.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "recording.wav".into())
        );
        let file = match std::fs::copy(src, to.join(&name)) {
            Ok(_) => {
                copied += 1;
                name
            }
            Err(e) => {
                missing += 1;
                eprintln!("outdial: cannot copy {}: {e}", r.path);
                String::new()
            }
        };
        csv.write_record([
            r.attempt.to_string(),
            r.campaign.clone(),
            r.phone.clone(),
            utc(r.dial_ms),
            secs(r),
            file,
            r.path.clone(),
        ])?;
    }
    csv.flush()?;
    println!(
        "exported {copied} recording(s) to {} (index.csv){}",
        to.display(),
        if missing > 0 {
            format!("; {missing} could not be copied")
        } else {
            String::new()
        }
    );
    Ok(if missing > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Deletes the recordings older than their campaign's retention at `now_ms`.
async fn purge(
    store: &Store,
    campaign: Option<String>,
    dry_run: bool,
    now_ms: i64,
) -> anyhow::Result<ExitCode> {
    let filter = RecordingFilter {
        campaign,
        ..RecordingFilter::default()
    };
    let rows = store.recordings(&filter).await?;
    let mut retention: HashMap<String, i64> = HashMap::new();
    let (mut purged, mut failed) = (0, 0);
    for r in rows {
        let keep_ms = match retention.get(&r.campaign) {
            Some(&ms) => ms,
            None => {
                let rec = store.campaign(&r.campaign).await?;
                let ms = rec.def.recording.retention.millis();
                retention.insert(r.campaign.clone(), ms);
                ms
            }
        };
        if r.dial_ms >= now_ms.saturating_sub(keep_ms) {
            continue;
        }
        let what = format!(
            "{} ({} {} {}, kept {})",
            r.path,
            r.campaign,
            r.phone,
            utc(r.dial_ms),
            humantime::format_duration(std::time::Duration::from_millis(keep_ms as u64))
        );
        if dry_run {
            println!("would purge {what}");
            continue;
        }
        match std::fs::remove_file(&r.path) {
            Ok(()) => {}
            // Already gone (deleted by hand): the record still stops pointing at it.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                tracing::warn!(path = %r.path, "recording already missing");
            }
            Err(e) => {
                failed += 1;
                eprintln!("outdial: cannot delete {}: {e}", r.path);
                continue;
            }
        }
        store.clear_recording(r.attempt).await?;
        tracing::info!(attempt = r.attempt, path = %r.path, "recording purged");
        println!("purged {what}");
        purged += 1;
    }
    if !dry_run {
        println!("{purged} recording(s) purged");
    }
    Ok(if failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
