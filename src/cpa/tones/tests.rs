//! What a user of the tone detector notices: every SIT named with its variant through the line
//! impairments E.180 allows and G.711 adds, fax tones found, beeps in range reported with their
//! frequency and length, and nothing reported on speech, ringback, DTMF or chords.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::test_audio::{
    add_noise, espeak_available, frames, g711_round_trip, gain, silence, speech, tone,
};
use super::*;
use crate::media::io::Codec;

/// Every hit over `pcm`, with the frame time (ms) it came at.
fn hits(pcm: &[i16]) -> Vec<(u32, ToneHit)> {
    let mut d = ToneDetector::new();
    frames(pcm)
        .iter()
        .enumerate()
        .filter_map(|(i, f)| d.push(f).map(|h| ((i as u32 + 1) * FRAME_MS, h)))
        .collect()
}

fn only(pcm: &[i16]) -> Vec<ToneHit> {
    hits(pcm).into_iter().map(|(_, h)| h).collect()
}

const VARIANTS: [SitVariant; 6] = [
    SitVariant::Intercept,
    SitVariant::NoCircuit,
    SitVariant::VacantCode,
    SitVariant::Reorder,
    SitVariant::IneffectiveOther,
    SitVariant::Unknown,
];

/// A SIT of `variant`, each segment's frequency scaled by `1 + err` (the line's error), at
/// `dbfs`, preceded by `lead_ms` of silence (to misalign segment edges against frames) and
/// followed by 500 ms of silence.
fn sit(variant: SitVariant, err: f32, dbfs: f64, lead_samples: usize) -> Vec<i16> {
    sit_jittered(variant, err, dbfs, lead_samples, [0; 3])
}

/// [`sit`] with each segment `jitter_ms` longer (or shorter).
fn sit_jittered(
    variant: SitVariant,
    err: f32,
    dbfs: f64,
    lead_samples: usize,
    jitter_ms: [i32; 3],
) -> Vec<i16> {
    let mut pcm = vec![0; lead_samples];
    for ((f, ms), j) in sit_nominal(variant).into_iter().zip(jitter_ms) {
        pcm.extend(tone(&[f * (1.0 + err)], ms.saturating_add_signed(j), dbfs));
    }
    pcm.extend(silence(500));
    pcm
}

#[test]
fn every_sit_variant_is_named_through_line_impairments() {
    let mut rng = ChaCha8Rng::seed_from_u64(18);
    for variant in VARIANTS {
        for (err, dbfs, codec) in [
            (0.0, -10.0, None),
            (0.015, -30.0, Some(Codec::Pcmu)),
            (-0.015, 0.0, Some(Codec::Pcma)),
            (0.01, -20.0, Some(Codec::Pcmu)),
        ] {
            // A misalignment of up to a frame at every edge: segment edges fall anywhere.
            let lead = rng.gen_range(0..FRAME);
            // And each segment's edge up to 20 ms early or late.
            let jitter = [(); 3].map(|_| rng.gen_range(-20..=20));
            let mut pcm = sit_jittered(variant, err, dbfs, lead, jitter);
            if let Some(c) = codec {
                pcm = g711_round_trip(&pcm, c);
            }
            let pcm = add_noise(&pcm, 20.0, &mut rng);
            assert_eq!(
                only(&pcm),
                vec![ToneHit::Sit(variant)],
                "{variant:?} err {err} at {dbfs} dBFS {codec:?}, lead {lead} samples, {jitter:?} ms"
            );
        }
    }
}

#[test]
fn a_sit_is_reported_when_its_third_tone_ends() {
    let pcm = sit(SitVariant::VacantCode, 0.0, -10.0, 0);
    // 380 + 274 + 380 = 1034 ms of tones, then three quiet frames to end the last segment.
    let got = hits(&pcm);
    assert_eq!(got.len(), 1, "{got:?}");
    assert!((1040..=1120).contains(&got[0].0), "{got:?}");
}

#[test]
fn three_tones_off_the_sit_frequencies_are_not_a_sit() {
    let mut pcm = tone(&[850.0], 380, -10.0);
    pcm.extend(tone(&[1300.0], 380, -10.0));
    pcm.extend(tone(&[1776.7], 380, -10.0));
    pcm.extend(silence(300));
    assert_eq!(only(&pcm), vec![]);
}

#[test]
fn fax_answer_tone_is_reported_after_half_a_second() {
    let mut rng = ChaCha8Rng::seed_from_u64(2100);
    let pcm = g711_round_trip(&tone(&[2100.0], 3000, -20.0), Codec::Pcma);
    let got = hits(&add_noise(&pcm, 20.0, &mut rng));
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].1, ToneHit::Fax(FaxTone::Ced));
    assert!((500..=560).contains(&got[0].0), "{got:?}");
}

#[test]
fn fax_calling_tone_is_reported_at_its_second_burst() {
    let mut rng = ChaCha8Rng::seed_from_u64(1100);
    let mut pcm = Vec::new();
    for _ in 0..3 {
        pcm.extend(tone(&[1100.0], 500, -15.0));
        pcm.extend(silence(3000));
    }
    let pcm = add_noise(&g711_round_trip(&pcm, Codec::Pcmu), 20.0, &mut rng);
    let got = hits(&pcm);
    let fax: Vec<_> = got
        .iter()
        .filter(|(_, h)| *h == ToneHit::Fax(FaxTone::Cng))
        .collect();
    assert!(!fax.is_empty(), "{got:?}");
    // The second burst ends at 3.5 + 0.5 s; reported 60 ms later.
    assert!((4000..=4100).contains(&fax[0].0), "{got:?}");
}

#[test]
fn a_tone_is_found_wherever_its_edges_fall_in_a_frame() {
    // A frame straddling a tone's end reads as a slightly different frequency (part tone, part
    // quiet): the tone still ended alone, so a beep is a beep and CNG's bursts are bursts.
    for lead in (0..FRAME).step_by(10) {
        let mut beep = silence(300);
        beep.extend(vec![0; lead]);
        beep.extend(tone(&[1000.0], 500, -12.0));
        beep.extend(silence(600));
        let got = only(&beep);
        assert!(
            matches!(got.as_slice(), [ToneHit::Beep { ms, .. }] if ms.abs_diff(500) <= 20),
            "beep after {lead} samples: {got:?}"
        );
        let mut cng = vec![0; lead];
        for _ in 0..2 {
            cng.extend(tone(&[1100.0], 500, -20.0));
            cng.extend(silence(3000));
        }
        let got = only(&cng);
        assert!(
            got.contains(&ToneHit::Fax(FaxTone::Cng)),
            "CNG after {lead} samples: {got:?}"
        );
    }
}

#[test]
fn beeps_in_range_are_reported_with_frequency_and_length() {
    let mut rng = ChaCha8Rng::seed_from_u64(850);
    for (freq, ms) in [(850.0, 300), (1000.0, 500), (1400.0, 1500), (1200.0, 800)] {
        let mut pcm = speech_like(&mut rng, 1500);
        pcm.extend(silence(200));
        pcm.extend(tone(&[freq], ms, -12.0));
        pcm.extend(silence(600));
        let pcm = add_noise(
            &g711_round_trip(&gain(&pcm, -6.0), Codec::Pcmu),
            25.0,
            &mut rng,
        );
        let got = only(&pcm);
        assert_eq!(got.len(), 1, "{freq} Hz {ms} ms: {got:?}");
        let ToneHit::Beep {
            freq_hz,
            ms: measured,
        } = got[0]
        else {
            panic!("{freq} Hz {ms} ms: {got:?}");
        };
        assert!((freq_hz - f64::from(freq)).abs() < 5.0, "{freq}: {freq_hz}");
        assert!(measured.abs_diff(ms) <= 20, "{ms}: {measured}");
    }
}

#[test]
fn tones_out_of_the_beep_range_are_not_beeps() {
    for (freq, ms) in [(700.0, 500), (1800.0, 500), (1000.0, 200), (1000.0, 2000)] {
        let mut pcm = silence(200);
        pcm.extend(tone(&[freq], ms, -12.0));
        pcm.extend(silence(600));
        assert_eq!(only(&pcm), vec![], "{freq} Hz {ms} ms");
    }
}

/// A voiced, gliding, amplitude-modulated sound (no espeak needed): harmonics of a pitch that
/// moves, shaped by two formants.
fn speech_like(rng: &mut ChaCha8Rng, ms: u32) -> Vec<i16> {
    let mut phase = 0.0f64;
    (0..ms as usize * 8)
        .map(|i| {
            let t = i as f64 / 8000.0;
            let f0 = 130.0 + 30.0 * (2.0 * std::f64::consts::PI * 2.0 * t).sin();
            phase += 2.0 * std::f64::consts::PI * f0 / 8000.0;
            let mut v = 0.0;
            for h in 1..25 {
                let f = f0 * h as f64;
                let formant = (-((f - 800.0) / 150.0).powi(2)).exp()
                    + 0.6 * (-((f - 1300.0) / 200.0).powi(2)).exp()
                    + 0.05;
                v += formant * (phase * h as f64).sin();
            }
            let env = 0.3 + 0.7 * (2.0 * std::f64::consts::PI * 3.0 * t).sin().abs();
            (v * 2500.0 * env + rng.gen_range(-200.0..200.0)) as i16
        })
        .collect()
}

#[test]
fn speech_ringback_dtmf_and_chords_give_no_hit() {
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let mut cases: Vec<(&str, Vec<i16>)> = vec![("speech-like", speech_like(&mut rng, 4000))];
    // China ringback: 450 Hz, 1 s on, 4 s off; North American: 440 + 480 Hz, 2 s on, 4 s off.
    let mut cn = Vec::new();
    let mut na = Vec::new();
    for _ in 0..2 {
        cn.extend(tone(&[450.0], 1000, -10.0));
        cn.extend(silence(4000));
        na.extend(tone(&[440.0, 480.0], 2000, -16.0));
        na.extend(silence(4000));
    }
    cases.push(("ringback cn", cn));
    cases.push(("ringback na", na));
    // DTMF: every key, 100 ms on, 100 ms off.
    let mut dtmf = Vec::new();
    for r in [697.0, 770.0, 852.0, 941.0] {
        for c in [1209.0, 1336.0, 1477.0, 1633.0] {
            dtmf.extend(tone(&[r, c], 100, -10.0));
            dtmf.extend(silence(100));
        }
    }
    // A long key press too: 600 ms of '5'.
    dtmf.extend(tone(&[770.0, 1336.0], 600, -10.0));
    dtmf.extend(silence(300));
    cases.push(("dtmf", dtmf));
    // Chords with harmonics, each held 800 ms: A major around the beep band, C major, E minor.
    let mut chords = Vec::new();
    for chord in [
        [880.0, 1108.7, 1318.5],
        [523.3, 659.3, 784.0],
        [1318.5, 1568.0, 987.8],
    ] {
        let mut notes: Vec<f32> = chord.to_vec();
        notes.extend(chord.iter().map(|f| f * 2.0));
        chords.extend(tone(&notes, 800, -20.0));
        chords.extend(silence(200));
    }
    cases.push(("chords", chords));
    for (name, pcm) in cases {
        let pcm = add_noise(&g711_round_trip(&pcm, Codec::Pcmu), 30.0, &mut rng);
        assert_eq!(only(&pcm), vec![], "{name}");
    }
}

#[test]
fn espeak_speech_in_three_languages_gives_no_hit() {
    if !espeak_available() {
        return;
    }
    let cases = [
        ("cmn", "喂?你好,请问是哪位?我现在不方便接电话,请稍后再打过来。", 150, 50),
        ("cmn", "您拨打的电话正在通话中,请稍后再拨。", 130, 70),
        ("yue", "喂?你好,边位呀?我而家唔得闲,请你迟啲再打嚟。", 150, 40),
        ("en", "Hello? Hi, this is Anna. I can't take your call right now, please leave a message after the tone.", 170, 50),
        ("en-us", "Yes? Hello? Who is this?", 140, 80),
    ];
    for (voice, text, speed, pitch) in cases {
        let pcm = speech(voice, text, speed, pitch);
        assert!(pcm.len() > 8000, "{voice}: {} samples", pcm.len());
        assert_eq!(only(&pcm), vec![], "{voice}: {text}");
    }
}

#[test]
fn a_sit_before_an_announcement_is_one_hit_and_announcements_give_none() {
    let dir = std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/campaigns/announcements"
    ));
    for name in ["cmn/vacant", "en/not-in-service", "yue/powered-off"] {
        let announcement = crate::media::wav::load(&dir.join(format!("{name}.wav")))
            .expect("shipped announcement")
            .0
            .to_vec();
        assert_eq!(only(&announcement), vec![], "{name} alone");
        // E.180: the announcement follows the SIT within 300 ms, about 2 dB louder.
        let mut pcm = sit(SitVariant::VacantCode, 0.0, -12.0, 37);
        pcm.truncate(pcm.len() - 8 * 400);
        pcm.extend(announcement);
        assert_eq!(
            only(&pcm),
            vec![ToneHit::Sit(SitVariant::VacantCode)],
            "{name} after SIT"
        );
    }
}
