//! The labelled call-progress corpus of issue 18, generated with espeak-ng and sox from a fixed
//! seed and cached under `target/cpa-corpus/<seed>-v<VERSION>-<size>-<references>/`, so a second
//! run (or the benchmark after the test) finds it ready.
//!
//! - [`plan`]: what the files are (pure, seeded).
//! - [`render`]: one file from its plan (espeak-ng, sox).
//! - [`references`]: the announcements cut from and given to the classifier.
//!
//! Size: the test size (~200 files, scale 1) unless `CPA_CORPUS=full` (~1,000, scale 5); seed
//! `CPA_CORPUS_SEED` (default 18). Owns only its cache folder; never writes under the
//! repository.
#![allow(dead_code)]

pub mod plan;
pub mod references;
pub mod render;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

pub use plan::Item;

/// Bumped whenever the plan or the rendering changes, so stale caches are not reused.
pub const VERSION: u32 = 6;

/// A generated corpus.
pub struct Corpus {
    /// The folder holding the WAVs, `labels.csv` and `meta.csv`; the files are named relative
    /// to it.
    pub dir: PathBuf,
    /// `labels.csv` (`file,label,onset_ms`).
    pub labels: PathBuf,
    /// The announcements folder to give the classifier (`--announcements`).
    pub announcements: PathBuf,
    /// What each file is, in label order.
    pub items: Vec<Item>,
    /// `labels-early.csv`: the early-media files (`--phase early`).
    pub early_labels: PathBuf,
    /// What each early-media file is, in label order.
    pub early: Vec<Item>,
    /// Per file with speech: where its first utterance's sound ends (ms), from `meta.csv`.
    pub speech_end: HashMap<String, u32>,
}

/// `(scale, name)` from `CPA_CORPUS` (`full` → 5, anything else → 1).
pub fn size() -> (usize, &'static str) {
    match std::env::var("CPA_CORPUS").as_deref() {
        Ok("full") => (5, "full"),
        _ => (1, "test"),
    }
}

/// The seed from `CPA_CORPUS_SEED` (default 18, the number).
pub fn seed() -> u64 {
    std::env::var("CPA_CORPUS_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(18)
}

/// Whether espeak-ng and sox run; under `CI=true` their absence is a failure (the Makefile
/// installs them), elsewhere the caller skips with the line printed here.
pub fn tools_available() -> bool {
    let ok = ["espeak-ng", "sox"].iter().all(|t| {
        std::process::Command::new(t)
            .arg("--version")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok()
    });
    if !ok {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "espeak-ng and sox are required under CI (make installs them)"
        );
        eprintln!("skipped: espeak-ng or sox is not installed (apt-get install espeak-ng sox)");
    }
    ok
}

/// Moves a finished `partial` folder to `dir`; if another process got there first (its `done`
/// marker exists), ours is removed.
pub fn publish(partial: &Path, dir: &Path, done: &Path) {
    if let Err(e) = std::fs::rename(partial, dir) {
        assert!(
            done.exists(),
            "{} → {}: {e}",
            partial.display(),
            dir.display()
        );
        std::fs::remove_dir_all(partial).unwrap_or_else(|e| panic!("{}: {e}", partial.display()));
    }
}

/// The corpus for [`seed`] and [`size`], generated under `target` (the cargo target folder)
/// unless already there. Panics with the failing command or file: this is test set-up.
pub fn corpus(target: &Path) -> Corpus {
    let (scale, size_name) = size();
    let seed = seed();
    let cache = target.join("cpa-corpus");
    std::fs::create_dir_all(&cache).unwrap_or_else(|e| panic!("{}: {e}", cache.display()));
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let lib = references::library(repo, &cache);
    let items = plan::plan(seed, scale, &lib.refs);
    let early = plan::plan_early(seed, scale, &lib.refs);
    let dir = cache.join(format!(
        "{seed}-v{VERSION}-{size_name}-{}",
        &lib.digest[..8]
    ));
    let labels = dir.join("labels.csv");
    // The suite's tests run in parallel threads of one process: one generates, the others wait
    // for it (a partial directory is named by process, so two threads must not share one).
    static GENERATING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one_at_a_time = GENERATING.lock().unwrap_or_else(|p| p.into_inner());
    if !labels.exists() {
        let started = std::time::Instant::now();
        let partial = cache.join(format!(
            "{seed}-v{VERSION}-{size_name}.partial-{}",
            std::process::id()
        ));
        generate(&items, &early, &lib, &partial);
        publish(&partial, &dir, &labels);
        eprintln!(
            "cpa corpus: {} + {} early-media files generated in {:.1} s under {}",
            items.len(),
            early.len(),
            started.elapsed().as_secs_f64(),
            dir.display()
        );
    }
    let speech_end = read_speech_end(&dir.join("meta.csv"));
    Corpus {
        speech_end,
        early_labels: dir.join("labels-early.csv"),
        dir,
        labels,
        announcements: lib.dir,
        items,
        early,
    }
}

/// The `speech_end_ms` column of `meta.csv`, by file.
fn read_speech_end(meta: &Path) -> HashMap<String, u32> {
    let text = std::fs::read_to_string(meta).unwrap_or_else(|e| panic!("{}: {e}", meta.display()));
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let cols: Vec<&str> = l.split(',').collect();
            let end = cols.get(8)?.parse().ok()?;
            Some((cols.first()?.to_string(), end))
        })
        .collect()
}

/// Renders every item into `dir` on all cores, then writes `meta.csv`, `labels-early.csv` and,
/// last (it marks the corpus complete), `labels.csv`.
fn generate(answer: &[Item], early: &[Item], lib: &references::Library, dir: &Path) {
    let items: Vec<&Item> = answer.iter().chain(early).collect();
    std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    render::noise_beds(dir).unwrap_or_else(|e| panic!("noise beds: {e}"));
    let next = AtomicUsize::new(0);
    let failures = Mutex::new(Vec::<String>::new());
    let ends = Mutex::new(vec![None; items.len()]);
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(&item) = items.get(i) else { break };
                let work = dir.join(format!("work-{i}"));
                match render::render(item, &lib.samples, dir, &work, &dir.join(&item.file)) {
                    Ok(end) => ends.lock().unwrap_or_else(|p| p.into_inner())[i] = end,
                    Err(e) => failures
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push(format!("{}: {e}", item.file)),
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap_or_else(|p| p.into_inner());
    assert!(
        failures.is_empty(),
        "corpus generation failed:\n{}",
        failures.join("\n")
    );
    for colour in ["whitenoise", "pinknoise"] {
        let bed = dir.join(format!("noise-{colour}.wav"));
        std::fs::remove_file(&bed).unwrap_or_else(|e| panic!("{}: {e}", bed.display()));
    }
    let ends = ends.into_inner().unwrap_or_else(|p| p.into_inner());
    let mut meta =
        String::from("file,label,kind,lang,codec,peak_db,noise,noise_db,speech_end_ms\n");
    for (it, end) in items.iter().zip(&ends) {
        let (colour, db) = it.channel.noise.unwrap_or(("none", 0.0));
        meta.push_str(&format!(
            "{},{},{},{},{:?},{},{colour},{db:.1},{}\n",
            it.file,
            it.label,
            it.kind,
            it.lang,
            it.channel.codec,
            it.channel
                .peak_db
                .map_or(String::new(), |d| format!("{d:.1}")),
            end.map_or(String::new(), |e| e.to_string()),
        ));
    }
    let labels = |items: &[Item]| {
        let mut text = String::from("file,label,onset_ms\n");
        for it in items {
            let onset = it.onset_ms.map_or(String::new(), |m| m.to_string());
            text.push_str(&format!("{},{},{onset}\n", it.file, it.label));
        }
        text
    };
    let (labels_early, labels) = (labels(early), labels(answer));
    for (name, text) in [
        ("meta.csv", meta),
        ("labels-early.csv", labels_early),
        ("labels.csv", labels),
    ] {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    }
}
