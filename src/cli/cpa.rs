//! `outdial cpa classify|score`: call-progress analysis over WAV files, so users can tune the
//! settings on their own recordings before going live, and score a labelled corpus. Reads the
//! files and prints; the verdict rules are `outdial::cpa`'s.
//!
//! A file that cannot be read fails the whole run, naming it, before anything is printed: the
//! JSON schema has no error entry, and a result list silently missing a file would be scored
//! as if it were complete.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use outdial::cpa::classifier::Classifier;
use outdial::cpa::fingerprint::Library;
use outdial::cpa::settings::{AmdMode, CpaSettings};
use outdial::cpa::{CpaEvent, Decision, Phase, FRAME};
use outdial::media::wav;
use outdial::yaml::{self, YamlError};

/// Call-progress analysis subcommands.
#[derive(Subcommand, Debug)]
pub enum CpaCmd {
    /// Classify WAV files: person, machine, announcement, SIT, fax, silence or unsure.
    Classify(ClassifyArgs),
    /// Score `classify --json` results against a labels CSV (`file,label`): confusion matrix,
    /// recall per class, people classified as anything else, decision times.
    Score {
        /// The labels, CSV with a header: `file,label`.
        labels: PathBuf,
        /// The results, as `outdial cpa classify --json` printed them.
        results: PathBuf,
    },
}

/// Which part of the call a file holds.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum PhaseArg {
    /// After the answer: AMD, fax, SIT and announcements.
    Answer,
    /// Early media (before the answer): SIT and announcements only.
    Early,
}

/// Which AMD runs.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum AmdArg {
    /// outdial's detector.
    Default,
    /// app_amd's documented state machine with its defaults.
    Baseline,
    /// None: fax, SIT and announcements only.
    Off,
}

/// `outdial cpa classify`.
#[derive(Args, Debug)]
pub struct ClassifyArgs {
    /// WAV files (any common WAV: converted to 8 kHz mono).
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Which part of the call the files hold.
    #[arg(long, value_enum, default_value = "answer")]
    phase: PhaseArg,
    /// A folder of known announcements (WAVs, named by their path: `cmn/powered-off`).
    #[arg(long)]
    announcements: Option<PathBuf>,
    /// Which AMD runs (overrides the settings file's `amd`).
    #[arg(long, value_enum)]
    amd: Option<AmdArg>,
    /// The analysis settings, a YAML file of a campaign's `cpa:` section (defaults otherwise).
    #[arg(long)]
    settings: Option<PathBuf>,
    /// Print one JSON object: `{"results": [{"file", "verdict", "decided_ms", "detail"}]}`.
    #[arg(long)]
    json: bool,
}

/// Runs a `cpa` subcommand.
pub fn run(cmd: CpaCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        CpaCmd::Classify(args) => classify(args),
        CpaCmd::Score { labels, results } => {
            let card = outdial::cpa::score::score_files(&labels, &results)?;
            println!("{card}");
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Reads and validates a settings file; errors name the file, line and field.
fn load_settings(path: &Path) -> Result<CpaSettings, YamlError> {
    let (settings, text): (CpaSettings, String) = yaml::load(path)?;
    settings
        .validate()
        .map_err(|e| YamlError::invalid(&path.display().to_string(), &text, &e.field, e.message))?;
    Ok(settings)
}

fn classify(args: ClassifyArgs) -> anyhow::Result<ExitCode> {
    let mut settings = match &args.settings {
        Some(path) => load_settings(path)?,
        None => CpaSettings::default(),
    };
    if let Some(amd) = args.amd {
        settings.amd = match amd {
            AmdArg::Default => AmdMode::Default,
            AmdArg::Baseline => AmdMode::Baseline,
            AmdArg::Off => AmdMode::Off,
        };
    }
    let phase = match args.phase {
        PhaseArg::Answer => Phase::Answer,
        PhaseArg::Early => Phase::Early,
    };
    let library = match &args.announcements {
        Some(dir) => {
            let lib = Library::load_dir(dir)
                .with_context(|| format!("--announcements {}", dir.display()))?;
            tracing::info!(references = lib.len(), dir = %dir.display(), "announcements loaded");
            Some(Arc::new(lib))
        }
        None => None,
    };
    let mut results = Vec::with_capacity(args.files.len());
    for file in &args.files {
        let audio = wav::load(file)?;
        let decision = classify_samples(&settings, phase, library.clone(), &audio.0);
        results.push((file.display().to_string(), decision));
    }
    if args.json {
        let list: Vec<serde_json::Value> = results
            .iter()
            .map(|(file, d)| {
                serde_json::json!({
                    "file": file,
                    "verdict": d.verdict.name(),
                    "decided_ms": d.decided_ms,
                    "detail": d.detail,
                })
            })
            .collect();
        println!("{}", serde_json::json!({ "results": list }));
    } else {
        print_table(&results);
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs one classifier over `samples` (8 kHz), frame by frame until it is done, then
/// `finish()`. A last partial frame (under 20 ms) is not analysed. A beep after a machine is
/// added to the detail.
fn classify_samples(
    settings: &CpaSettings,
    phase: Phase,
    library: Option<Arc<Library>>,
    samples: &[i16],
) -> Decision {
    let mut classifier = Classifier::new(settings, phase, library);
    let mut verdict = None;
    let mut beep = None;
    let mut named = None;
    for chunk in samples.chunks_exact(FRAME) {
        if classifier.is_done() {
            break;
        }
        let Ok(frame) = <&[i16; FRAME]>::try_from(chunk) else {
            continue; // chunks_exact gives FRAME samples: cannot happen.
        };
        match classifier.push(frame) {
            Some(CpaEvent::Verdict(d)) => verdict = Some(d),
            Some(CpaEvent::Beep { at_ms }) => beep = Some(at_ms),
            Some(CpaEvent::Named { name, at_ms }) => named = Some((name, at_ms)),
            None => {}
        }
    }
    let mut d = verdict.unwrap_or_else(|| classifier.finish());
    if let Some(at) = beep {
        d.detail = format!("{}; beep ended at {at} ms", d.detail);
    }
    // The class's time stays the decision's; the name, known later, is added with its time.
    if let Some((name, at)) = named {
        d.detail = format!("{}; named {name} at {at} ms", d.detail);
        d.verdict = outdial::cpa::Verdict::Announcement(Some(name));
    }
    d
}

fn print_table(results: &[(String, Decision)]) {
    let width = results
        .iter()
        .map(|(f, _)| unicode_width::UnicodeWidthStr::width(f.as_str()))
        .max()
        .unwrap_or(4)
        .max(4);
    println!(
        "{:<width$}  {:<12}  {:>10}  detail",
        "file", "verdict", "decided_ms"
    );
    for (file, d) in results {
        let pad = width - unicode_width::UnicodeWidthStr::width(file.as_str()).min(width);
        let verdict = match &d.verdict {
            outdial::cpa::Verdict::Announcement(Some(name)) => format!("announcement {name}"),
            v => v.name().to_string(),
        };
        println!(
            "{file}{:pad$}  {verdict:<12}  {:>10}  {}",
            "", d.decided_ms, d.detail
        );
    }
}
