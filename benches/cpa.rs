//! Call-progress analysis: the cost of one 20 ms frame through `cpa::classifier::Classifier`
//! over corpus audio (the generated corpus of `tests/cpa_support`, all classes), for outdial's
//! AMD with the shipped announcement library loaded, the same without a library (what the
//! fingerprint matcher costs), and app_amd's baseline (the reference of the same run); and,
//! to show where the time goes, the tone detector and the fingerprint matcher alone. A call's
//! classifier is replaced by a fresh one when it is done or its file ends, as the engine does,
//! so set-up is part of the cost.
//!
//! Target (issue 18): 1,500 concurrent analyses within 0.3 of a core, i.e. 1,500 × 50
//! frames/s × cost ≤ 0.3 s/s, so ≤ 4 µs per frame. After criterion's figures a plain timed pass
//! prints each configuration's fraction of a core at 1,500 calls.
//!
//! Run: `cargo bench --bench cpa` (needs espeak-ng and sox for the corpus, cached after the
//! first run under target/cpa-corpus).

#[path = "../tests/cpa_support/mod.rs"]
mod cpa_support;

use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use outdial::cpa::classifier::Classifier;
use outdial::cpa::fingerprint::{Library, Matcher};
use outdial::cpa::settings::{AmdMode, CpaSettings};
use outdial::cpa::tones::ToneDetector;
use outdial::cpa::{Phase, FRAME};

/// Concurrent analyses the target is stated for.
const CALLS: f64 = 1_500.0;
/// Frames per second of one call.
const FRAMES_PER_S: f64 = 50.0;

/// The corpus's files as whole 20 ms frames.
fn corpus_frames() -> (Vec<Vec<[i16; FRAME]>>, std::path::PathBuf) {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let corpus = cpa_support::corpus(tmp.parent().unwrap_or(tmp));
    let files = corpus
        .items
        .iter()
        .map(|it| {
            let path = corpus.dir.join(&it.file);
            let pcm = outdial::media::wav::load(&path).unwrap_or_else(|e| panic!("{e}"));
            pcm.0
                .chunks_exact(FRAME)
                .map(|c| {
                    let mut f = [0i16; FRAME];
                    f.copy_from_slice(c);
                    f
                })
                .collect()
        })
        .collect();
    (files, corpus.announcements)
}

/// Plays the corpus round-robin into classifiers, one frame per [`Feeder::step`].
struct Feeder<'a> {
    files: &'a [Vec<[i16; FRAME]>],
    settings: CpaSettings,
    library: Option<Arc<Library>>,
    file: usize,
    frame: usize,
    classifier: Classifier,
}

impl<'a> Feeder<'a> {
    fn new(files: &'a [Vec<[i16; FRAME]>], amd: AmdMode, library: Option<Arc<Library>>) -> Self {
        // Every other threshold at its documented default.
        let settings = CpaSettings {
            amd,
            ..CpaSettings::default()
        };
        let classifier = Classifier::new(&settings, Phase::Answer, library.clone());
        Feeder {
            files,
            settings,
            library,
            file: 0,
            frame: 0,
            classifier,
        }
    }

    fn step(&mut self) {
        let frames = &self.files[self.file];
        black_box(self.classifier.push(&frames[self.frame]));
        self.frame += 1;
        if self.frame == frames.len() || self.classifier.is_done() {
            if !self.classifier.is_done() {
                black_box(self.classifier.finish());
            }
            self.file = (self.file + 1) % self.files.len();
            self.frame = 0;
            self.classifier = Classifier::new(&self.settings, Phase::Answer, self.library.clone());
        }
    }
}

fn configs(library: &Arc<Library>) -> [(&'static str, AmdMode, Option<Arc<Library>>); 3] {
    [
        ("default+library", AmdMode::Default, Some(library.clone())),
        ("default, no library", AmdMode::Default, None),
        ("baseline+library", AmdMode::Baseline, Some(library.clone())),
    ]
}

fn bench(c: &mut Criterion) {
    let (files, announcements) = corpus_frames();
    let library = Arc::new(Library::load_dir(&announcements).unwrap_or_else(|e| panic!("{e}")));
    let total: usize = files.iter().map(Vec::len).sum();
    println!(
        "corpus: {} files, {total} frames ({:.0} s of audio); library {} references",
        files.len(),
        total as f64 / FRAMES_PER_S,
        library.len()
    );

    // The detectors alone (what the classifier composes): one frame through each.
    let mut g = c.benchmark_group("cpa_detector_frame");
    g.throughput(Throughput::Elements(1));
    let frames: Vec<&[i16; FRAME]> = files.iter().flatten().collect();
    let mut i = 0;
    let mut tones = ToneDetector::new();
    g.bench_function("tones", |b| {
        b.iter(|| {
            black_box(tones.push(frames[i % frames.len()]));
            i += 1;
        })
    });
    let mut matcher = Matcher::new(library.clone());
    let mut since_new = 0;
    g.bench_function("fingerprint matcher", |b| {
        b.iter(|| {
            // A fresh stream per 6 s, as per call; a matched stream stops working.
            if since_new == 300 {
                matcher = Matcher::new(library.clone());
                since_new = 0;
            }
            black_box(matcher.push(frames[i % frames.len()]));
            i += 1;
            since_new += 1;
        })
    });
    g.finish();

    let mut g = c.benchmark_group("cpa_frame");
    g.throughput(Throughput::Elements(1));
    for (name, amd, lib) in configs(&library) {
        let mut feeder = Feeder::new(&files, amd, lib);
        g.bench_function(name, |b| b.iter(|| feeder.step()));
    }
    g.finish();

    // The target's figure: one plain pass over the whole corpus per configuration.
    for (name, amd, lib) in configs(&library) {
        let mut feeder = Feeder::new(&files, amd, lib);
        let t0 = Instant::now();
        let mut n = 0u64;
        while n < total as u64 || t0.elapsed() < Duration::from_secs(2) {
            feeder.step();
            n += 1;
        }
        let per_frame = t0.elapsed().as_secs_f64() / n as f64;
        println!(
            "{name}: {:.2} µs per frame over {n} frames → 1,500 analyses = {:.3} of a core \
             (target ≤ 0.3, i.e. ≤ 4 µs per frame)",
            per_frame * 1e6,
            CALLS * FRAMES_PER_S * per_frame
        );
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
