//! `outdial campaign …`: apply YAML definitions, load CSV lists, list and stats.

use std::io::{IsTerminal, Read};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;
use outdial::campaign::Campaign;
use outdial::store::{LoadReport, Store};

/// Campaign subcommands.
#[derive(Subcommand, Debug)]
pub enum CampaignCmd {
    /// Create or update a campaign from a YAML file (a no-op when unchanged).
    Apply {
        /// Campaign YAML file.
        file: PathBuf,
    },
    /// Load a CSV call list into a campaign (`-` reads stdin).
    Load {
        /// Campaign name.
        campaign: String,
        /// CSV file with a header row and a `phone` column, or `-` for stdin.
        file: String,
        /// Print exactly one JSON object on stdout.
        #[arg(long)]
        json: bool,
    },
    /// List campaigns.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Leads by state and disposition, attempts, and how many are dialable now.
    Stats {
        /// Campaign name.
        campaign: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Stop dialling a campaign on a running engine (calls in progress go on; audited).
    Pause(super::admin::CampaignControlArgs),
    /// Resume dialling a paused campaign on a running engine (audited).
    Resume(super::admin::CampaignControlArgs),
}

/// Wall-clock now in epoch milliseconds (the store never reads a clock itself).
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Runs a campaign subcommand against the store at `db`.
pub fn run(db: &str, cmd: CampaignCmd) -> anyhow::Result<ExitCode> {
    // Validate the file before touching the store: a bad file changes nothing.
    let cmd = match cmd {
        // These talk to a running engine, not to the store.
        CampaignCmd::Pause(args) => return super::admin::pause(args),
        CampaignCmd::Resume(args) => return super::admin::resume(args),
        other => other,
    };
    let def = match &cmd {
        CampaignCmd::Apply { file } => Some(Campaign::load(file)?),
        _ => None,
    };
    super::runtime()?.block_on(async move {
        let store = Store::open(db)
            .await
            .with_context(|| format!("cannot open store {db}"))?;
        let code = match cmd {
            CampaignCmd::Apply { .. } => {
                let Some(def) = def else {
                    unreachable!("validated above")
                };
                let outcome = store.apply_campaign(&def, now_ms()).await?;
                println!(
                    "campaign {}: {}",
                    def.name,
                    outdial::store::enum_name(&outcome)
                );
                ExitCode::SUCCESS
            }
            CampaignCmd::Load {
                campaign,
                file,
                json,
            } => load(&store, &campaign, &file, json).await?,
            CampaignCmd::List { json } => {
                let list = store.list_campaigns().await?;
                if json {
                    println!("{}", serde_json::to_string(&list)?);
                } else {
                    println!(
                        "{:<24} {:<13} {:>8} {:<12} {:>10} {:>10}",
                        "CAMPAIGN", "KIND", "PRIORITY", "MODE", "LEADS", "OPEN"
                    );
                    for c in list {
                        println!(
                            "{:<24} {:<13} {:>8} {:<12} {:>10} {:>10}",
                            c.name, c.kind, c.priority, c.mode, c.leads, c.open_leads
                        );
                    }
                }
                ExitCode::SUCCESS
            }
            CampaignCmd::Stats { campaign, json } => {
                let s = store.campaign_stats(&campaign, now_ms()).await?;
                if json {
                    println!("{}", serde_json::to_string(&s)?);
                } else {
                    println!(
                        "campaign {}: {} leads, {} attempts, {} dialable now",
                        s.campaign, s.leads, s.attempts, s.dialable_now
                    );
                    let states: Vec<String> =
                        s.by_state.iter().map(|(k, v)| format!("{k} {v}")).collect();
                    println!("  by state: {}", states.join(", "));
                    let disp: Vec<String> = s
                        .by_disposition
                        .iter()
                        .map(|(k, v)| format!("{k} {v}"))
                        .collect();
                    println!("  by last disposition: {}", disp.join(", "));
                    println!(
                        "  open time zones now: {}",
                        if s.open_timezones.is_empty() {
                            "none".to_string()
                        } else {
                            s.open_timezones.join(", ")
                        }
                    );
                }
                ExitCode::SUCCESS
            }
            // Handled above, before the store is opened.
            CampaignCmd::Pause(_) | CampaignCmd::Resume(_) => ExitCode::SUCCESS,
        };
        store.close().await;
        Ok(code)
    })
}

async fn load(store: &Store, campaign: &str, file: &str, json: bool) -> anyhow::Result<ExitCode> {
    let (input, name): (Box<dyn Read + Send>, String) = if file == "-" {
        (Box::new(std::io::stdin()), "<stdin>".to_string())
    } else {
        let f =
            std::fs::File::open(file).map_err(|e| anyhow::anyhow!("{file}: cannot read: {e}"))?;
        (Box::new(f), file.to_string())
    };
    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::new_spinner();
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} {pos} rows read ({per_sec}) {elapsed}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
        );
        bar
    });
    let progress_bar = bar.clone();
    let report = store
        .load_list(campaign, input, &name, now_ms(), move |read| {
            if let Some(b) = &progress_bar {
                b.set_position(read);
            }
        })
        .await;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let report = report?;
    if json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print_rejects(&name, &report);
        println!(
            "{}: loaded {} of {} rows into {} ({} duplicates, {} invalid, {} on DNC)",
            name,
            report.loaded,
            report.read,
            report.campaign,
            report.duplicates,
            report.invalid,
            report.dnc
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The first rejected rows go to stderr, so the summary stays one line on stdout.
fn print_rejects(name: &str, report: &LoadReport) {
    const SHOWN: usize = 10;
    for e in report.errors.iter().take(SHOWN) {
        eprintln!("{name}:{}: rejected: {}", e.line, e.reason);
    }
    if report.invalid as usize > SHOWN {
        eprintln!(
            "{name}: {} more rejected rows (see --json)",
            report.invalid as usize - SHOWN
        );
    }
}
