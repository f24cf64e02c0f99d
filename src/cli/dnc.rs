//! `outdial dnc …`: the do-not-call list (numbers normalised to E.164 before they are stored).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;
use outdial::campaign::{normalize_e164, parse_region};
use outdial::store::Store;

/// Do-not-call subcommands.
#[derive(Subcommand, Debug)]
pub enum DncCmd {
    /// Add numbers to the do-not-call list.
    Add {
        /// Phone numbers (national numbers use --region).
        #[arg(required = true)]
        numbers: Vec<String>,
        /// Region for numbers written without a country code.
        #[arg(long, default_value = "CN")]
        region: String,
    },
    /// Import numbers, one per line or from a `phone` column.
    Import {
        /// File to read.
        file: PathBuf,
        /// Region for numbers written without a country code.
        #[arg(long, default_value = "CN")]
        region: String,
    },
    /// Remove numbers from the do-not-call list.
    Remove {
        /// Phone numbers.
        #[arg(required = true)]
        numbers: Vec<String>,
        /// Region for numbers written without a country code.
        #[arg(long, default_value = "CN")]
        region: String,
    },
}

fn normalize_all<'a>(
    numbers: impl IntoIterator<Item = (String, &'a str)>,
    region: &str,
) -> anyhow::Result<Vec<String>> {
    let region = parse_region(region).map_err(anyhow::Error::msg)?;
    numbers
        .into_iter()
        .map(|(where_, n)| normalize_e164(n, region).map_err(|e| anyhow::anyhow!("{where_}{e}")))
        .collect()
}

/// Reads numbers from `file`: a CSV with a `phone` column, or one number per line.
fn read_numbers(file: &PathBuf, region: &str) -> anyhow::Result<Vec<String>> {
    let name = file.display().to_string();
    let text = std::fs::read(file).map_err(|e| anyhow::anyhow!("{name}: cannot read: {e}"))?;
    let text = String::from_utf8(text).map_err(|e| {
        let line = 1 + e.as_bytes()[..e.utf8_error().valid_up_to()]
            .iter()
            .filter(|b| **b == b'\n')
            .count();
        anyhow::anyhow!("{name}:{line}: invalid UTF-8")
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .peekable();
    let header: Option<Vec<String>> = lines.peek().and_then(|(_, l)| {
        let cols: Vec<String> = l
            .split(',')
            .map(|c| c.trim().to_ascii_lowercase())
            .collect();
        cols.iter().any(|c| c == "phone").then_some(cols)
    });
    let mut out = Vec::new();
    if let Some(cols) = header {
        // A stray quote would hide every number after it inside one field: none would be
        // blocked, and nothing would say so.
        if let Some(line) = outdial::campaign::unterminated_quote(text.as_bytes()) {
            anyhow::bail!(
                "{name}:{line}: malformed CSV: a quoted field opened on this line is never closed"
            );
        }
        let idx = cols.iter().position(|c| c == "phone").unwrap_or(0);
        let mut rdr = csv::ReaderBuilder::new()
            .flexible(true)
            .from_reader(text.as_bytes());
        for rec in rdr.records() {
            let rec = rec.with_context(|| format!("{name}: malformed CSV"))?;
            let line = rec.position().map(|p| p.line()).unwrap_or(0);
            let phone = rec.get(idx).unwrap_or("").to_string();
            out.push((format!("{name}:{line}: "), phone));
        }
    } else {
        for (i, l) in lines {
            out.push((format!("{name}:{}: ", i + 1), l.trim().to_string()));
        }
    }
    normalize_all(out.iter().map(|(w, n)| (w.clone(), n.as_str())), region)
}

/// Runs a DNC subcommand against the store at `db`.
pub fn run(db: &str, cmd: DncCmd) -> anyhow::Result<ExitCode> {
    // Parse everything first: one bad number changes nothing.
    let (numbers, adding, source) = match &cmd {
        DncCmd::Add { numbers, region } => (
            normalize_all(numbers.iter().map(|n| (String::new(), n.as_str())), region)?,
            true,
            "cli",
        ),
        DncCmd::Import { file, region } => (read_numbers(file, region)?, true, "import"),
        DncCmd::Remove { numbers, region } => (
            normalize_all(numbers.iter().map(|n| (String::new(), n.as_str())), region)?,
            false,
            "cli",
        ),
    };
    super::runtime()?.block_on(async move {
        let store = Store::open(db)
            .await
            .with_context(|| format!("cannot open store {db}"))?;
        if adding {
            let added = store
                .add_dnc(&numbers, source, super::campaign::now_ms())
                .await?;
            println!(
                "do-not-call: {added} added, {} already listed",
                numbers.len() as u64 - added.min(numbers.len() as u64)
            );
        } else {
            let removed = store.remove_dnc(&numbers).await?;
            println!("do-not-call: {removed} removed");
        }
        store.close().await;
        Ok(ExitCode::SUCCESS)
    })
}
