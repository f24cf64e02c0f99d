//! Cost per 20 ms frame of the call-progress signal detectors (issue 18): the tone detector and
//! the announcement matcher against the shipped references, on the shipped `cmn/busy`
//! announcement with light noise (the matcher's busiest case: every landmark finds entries).
//! Target: 1,500 concurrent analyses within 0.3 of a core, i.e. 4 µs per frame for the whole
//! classifier. Run: `cargo bench --bench cpa_signals`.

use std::path::Path;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use outdial::cpa::fingerprint::{Library, Matcher};
use outdial::cpa::tones::ToneDetector;
use outdial::cpa::FRAME;

fn frames() -> (Arc<Library>, Vec<[i16; FRAME]>) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("campaigns/announcements");
    let library = Arc::new(Library::load_dir(&dir).expect("shipped announcements"));
    let pcm = outdial::media::wav::load(&dir.join("cmn/busy.wav"))
        .expect("shipped WAV")
        .0;
    // A fixed LCG for the noise: the bench must not depend on a seed source.
    let mut x: u32 = 1;
    let noisy: Vec<i16> = pcm
        .iter()
        .map(|&s| {
            x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            s.saturating_add(((x >> 16) as i16) / 64)
        })
        .collect();
    let frames = noisy
        .chunks_exact(FRAME)
        .map(|c| std::array::from_fn(|i| c[i]))
        .collect();
    (library, frames)
}

fn bench(c: &mut Criterion) {
    let (library, frames) = frames();
    let mut g = c.benchmark_group("cpa_signals");
    g.throughput(Throughput::Elements(frames.len() as u64));
    g.bench_function("tones_per_clip", |b| {
        b.iter(|| {
            let mut d = ToneDetector::new();
            frames.iter().filter_map(|f| d.push(f)).count()
        })
    });
    g.bench_function("matcher_per_clip", |b| {
        b.iter(|| {
            // A fresh matcher after each match: a matched one stops working, which would flatter
            // the figure.
            let mut m = Matcher::new(Arc::clone(&library));
            let mut matches = 0;
            for f in &frames {
                if m.push(f).is_some() {
                    matches += 1;
                    m = Matcher::new(Arc::clone(&library));
                }
            }
            matches
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
