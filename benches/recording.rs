//! Benchmark: the call recorder ([`outdial::media::recording::Recorder`]) at the reference
//! centre's size: 1,500 calls recorded at once, each with a customer and an agent leg tapped
//! every 20 ms, for OUTDIAL_BENCH_SECS seconds of audio (default 10). Reports the CPU time per
//! call-second of audio (a fraction of one core for 1,500 calls in real time) and the bytes
//! written a second. Files go to the system temp directory (say whether it is tmpfs or a disk).
//! Run: `cargo bench --bench recording` (OUTDIAL_BENCH_CALLS, OUTDIAL_BENCH_SECS).

use std::time::Instant;

use outdial::media::io::{LegId, TapFrame};
use outdial::media::recording::Recorder;

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        println!("recording: bench");
        return;
    }
    let calls = env("OUTDIAL_BENCH_CALLS", 1500);
    let secs = env("OUTDIAL_BENCH_SECS", 10);
    let dir = std::env::temp_dir().join(format!("outdial-bench-rec-{}", std::process::id()));
    let mut rec = Recorder::new();
    for c in 0..calls {
        rec.start_recording(LegId(2 * c), &dir.join(format!("{c}.wav")));
        rec.attach(LegId(2 * c + 1), LegId(2 * c));
    }
    // Speech-like content: a different sawtooth per leg (the encoder's cost does not depend on
    // the values much, but silence would flatter nothing either).
    let mut pcm = [0i16; 160];
    for (i, s) in pcm.iter_mut().enumerate() {
        *s = ((i as i32 * 397) % 16000 - 8000) as i16;
    }
    let start = Instant::now();
    for slot in 0..secs * 50 {
        for leg in 0..2 * calls {
            rec.frame(&TapFrame {
                leg: LegId(leg),
                slot,
                pcm,
            });
        }
    }
    let mut audio = 0.0;
    for c in 0..calls {
        if let Some(s) = rec.stop(LegId(2 * c)) {
            assert!(s.failed.is_none(), "{:?}", s.failed);
            audio += s.duration_secs;
        }
    }
    let wall = start.elapsed().as_secs_f64();
    let failed = std::iter::from_fn(|| rec.poll_event()).count();
    let bytes: u64 = std::fs::read_dir(&dir)
        .map(|d| {
            d.filter_map(Result::ok)
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0);
    println!(
        "recording: {calls} calls x {secs} s ({audio:.0} call-seconds of audio) in {wall:.2} s wall: \
         {:.1} µs per call-second, {:.1} % of one core for {calls} calls in real time; \
         {:.1} MB written ({:.0} B per call-second); {failed} failures",
        wall * 1e6 / audio,
        wall / secs as f64 * 100.0,
        bytes as f64 / 1e6,
        bytes as f64 / audio,
    );
    // Best effort: a temp directory.
    let _ = std::fs::remove_dir_all(&dir);
}
