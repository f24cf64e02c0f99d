//! What a user notices: every shipped announcement recognised as one within 1.5 s and by name
//! soon after, from wherever the call joins it, through gain, G.711 and line noise; nothing
//! recognised in other speech, another reference, silence, ringback or music; and a folder of
//! WAVs loads with errors naming the file.

use std::path::Path;
use std::sync::Arc;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::*;
use crate::cpa::tones::test_audio::{
    add_noise, espeak_available, frames, g711_round_trip, gain, silence, speech, tone,
};
use crate::media::io::Codec;

fn shipped_dir() -> &'static Path {
    Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/campaigns/announcements"
    ))
}

/// The shipped references of `class`, by name, with their samples.
fn shipped_of(class: ReferenceClass) -> Vec<(String, Vec<i16>)> {
    let library = Library::load_dir(shipped_dir()).expect("shipped references load");
    let mut names: Vec<String> = library
        .classified_names()
        .filter(|&(_, c)| c == class)
        .map(|(n, _)| n.to_string())
        .collect();
    names.sort();
    let folder = match class {
        ReferenceClass::Announcement => shipped_dir().to_path_buf(),
        ReferenceClass::Voicemail => shipped_dir().join(VOICEMAIL_DIR),
    };
    names
        .into_iter()
        .map(|n| {
            let pcm = wav::load(&folder.join(format!("{n}.wav")))
                .expect("shipped WAV")
                .0
                .to_vec();
            (n, pcm)
        })
        .collect()
}

fn shipped() -> Vec<(String, Vec<i16>)> {
    shipped_of(ReferenceClass::Announcement)
}

/// Every recognition over `pcm` with the ms at which it came.
fn recognitions(library: &Arc<Library>, pcm: &[i16]) -> Vec<(u32, Recognition)> {
    recognitions_by(Matcher::new(Arc::clone(library)), pcm)
}

/// What matcher `m` reports over `pcm`, each with the ms at which it came.
fn recognitions_by(mut m: Matcher, pcm: &[i16]) -> Vec<(u32, Recognition)> {
    frames(pcm)
        .iter()
        .enumerate()
        .filter_map(|(i, f)| m.push(f).map(|hit| ((i as u32 + 1) * FRAME_MS, hit)))
        .collect()
}

/// The name over `pcm` and the ms at which it came.
fn first_match(library: &Arc<Library>, pcm: &[i16]) -> Option<(u32, AnnouncementMatch)> {
    recognitions(library, pcm)
        .into_iter()
        .find_map(|(at, r)| match r {
            Recognition::Named(m) => Some((at, m)),
            // A tail named (see `tail`): the same reference, with no votes of its own.
            Recognition::Tail(TailRecognition {
                name: Some(name),
                offset_ms,
                ..
            }) => Some((
                at,
                AnnouncementMatch {
                    name,
                    class: ReferenceClass::Announcement,
                    offset_ms,
                    votes: 0,
                },
            )),
            Recognition::Class { .. } | Recognition::Tail(_) => None,
        })
}

/// When the stream was first known to be an announcement (class or name).
fn first_class(library: &Arc<Library>, pcm: &[i16]) -> Option<u32> {
    recognitions(library, pcm).first().map(|(at, _)| *at)
}

/// What a call hears when it joins `clip` at `offset` samples: the rest of it, then the
/// carrier's repeat, for `ms` in all.
fn joined_at(clip: &[i16], offset: usize, ms: u32) -> Vec<i16> {
    clip[offset..]
        .iter()
        .chain(clip.iter())
        .chain(clip.iter())
        .copied()
        .take(ms as usize * 8)
        .collect()
}

#[test]
fn every_shipped_announcement_is_recognised_from_any_point_within_a_second_and_a_half() {
    let clips = shipped();
    assert_eq!(
        clips.len(),
        7,
        "{:?}",
        clips.iter().map(|c| &c.0).collect::<Vec<_>>()
    );
    let library = Arc::new(Library::from_clips(clips.clone()));
    let mut rng = ChaCha8Rng::seed_from_u64(2003);
    let mut times = Vec::new();
    let mut late = Vec::new();
    let mut classes = Vec::new();
    for (name, clip) in &clips {
        for k in 0..3 {
            let offset = rng.gen_range(0..clip.len() - 8000);
            let db = rng.gen_range(-20.0..6.0);
            let codec = if k % 2 == 0 { Codec::Pcmu } else { Codec::Pcma };
            // Half a second of line noise before the announcement (early media starting).
            let mut pcm = silence(500);
            let lead = pcm.len() as u32 / 8;
            pcm.extend(gain(&joined_at(clip, offset, 4000), db));
            let pcm = add_noise(&g711_round_trip(&pcm, codec), 15.0, &mut rng);
            let got = first_match(&library, &pcm);
            let Some((at, hit)) = got else {
                panic!(
                    "{name} at {} ms, {db:.1} dB, {codec:?}: no match",
                    offset / 8
                );
            };
            assert_eq!(&hit.name, name, "at {} ms: {hit:?}", offset / 8);
            // Where the stream's first frame fell in the reference: the join point less the
            // lead-in, or that less one play when the match came in the carrier's repeat.
            let first = offset as i32 / 8 - lead as i32;
            let repeat = first - clip.len() as i32 / 8;
            assert!(
                (hit.offset_ms - first).abs() <= 40 || (hit.offset_ms - repeat).abs() <= 40,
                "{name}: offset {} ms, expected {first} or {repeat}",
                hit.offset_ms
            );
            let after = at - lead;
            times.push(after);
            let class = first_class(&library, &pcm).map_or(u32::MAX, |c| c - lead);
            assert!(
                class <= after,
                "{name}: class at {class} ms, name at {after} ms"
            );
            classes.push(class);
            if after > 1500 {
                late.push(format!("{name}@{}ms: {after} ms", offset / 8));
            }
        }
    }
    times.sort_unstable();
    let pct = |p: usize| times[(times.len() - 1) * p / 100];
    println!(
        "announcement decision after its start, ms: min {} p50 {} p90 {} max {} (n={}); over 1.5 s: {late:?}",
        times[0],
        pct(50),
        pct(90),
        times[times.len() - 1],
        times.len()
    );
    // The target is 1.5 s. A call that joins inside words several messages share (您拨打的电话
    // opens four of the five Mandarin ones) can only be told once the words differ, so the
    // bound asserted per call is looser; the median must meet the target.
    assert!(pct(50) <= 1500, "median {} ms", pct(50));
    assert!(times[times.len() - 1] <= 4000, "{times:?}");
    // The class needs no telling apart: nine calls in ten are known to be an announcement
    // within 1.5 s (the name's p90 is later), and none waits for the words that differ.
    classes.sort_unstable();
    let class_p90 = classes[(classes.len() - 1) * 90 / 100];
    println!("announcement class after its start, ms: p90 {class_p90}, all {classes:?}");
    assert!(class_p90 <= 1500, "{classes:?}");
    assert!(classes[classes.len() - 1] <= 2000, "{classes:?}");
}

/// A call that joins in a message's last words hears that tail, the carrier's pause, then the
/// repeat: the tail's votes and the repeat's agree on one loop, so the class comes as soon as
/// the repeat has the votes, without waiting for the repeat alone to span the span rule.
#[test]
fn a_messages_tail_and_its_repeat_count_as_one_loop() {
    let clips = shipped();
    let library = Arc::new(Library::from_clips(clips.clone()));
    let mut rng = ChaCha8Rng::seed_from_u64(18);
    let mut gained = Vec::new();
    for (name, clip) in &clips {
        // The last 700 ms of the message's sound, then the rest of the file (its trailing
        // silence), 500 ms of carrier pause, and the repeat.
        let end = clip
            .iter()
            .rposition(|s| s.unsigned_abs() > 300)
            .unwrap_or(clip.len());
        let tail = end.saturating_sub(700 * 8);
        let mut looped = clip[tail..].to_vec();
        looped.extend(silence(500));
        let repeat_at = looped.len() as u32 / 8;
        looped.extend_from_slice(clip);
        let looped = add_noise(&g711_round_trip(&looped, Codec::Pcmu), 20.0, &mut rng);
        let mut alone = vec![0; repeat_at as usize * 8];
        alone.extend_from_slice(&looped[repeat_at as usize * 8..]);
        let with_tail = first_class(&library, &looped).map(|t| t.saturating_sub(repeat_at));
        let without = first_class(&library, &alone).map(|t| t.saturating_sub(repeat_at));
        println!(
            "{name}: class {with_tail:?} ms into the repeat after its tail, {without:?} without"
        );
        let (Some(with_tail), Some(without)) = (with_tail, without) else {
            panic!("{name}: no class ({with_tail:?}, {without:?})");
        };
        assert!(with_tail <= without, "{name}: {with_tail} > {without} ms");
        gained.push(without - with_tail);
    }
    // Most messages: the loop is recognised well before the repeat alone would be.
    let sooner = gained.iter().filter(|&&g| g >= 200).count();
    assert!(sooner * 2 > gained.len(), "gains (ms): {gained:?}");
}

/// A pair of peaks agrees on both of them: once an alignment has the class's votes, the span
/// rule counts the audio up to the latest pair's second peak, not its first. Every shipped
/// message heard from its first sound (after 300 ms of line, G.711, 20 dB SNR) is known to be
/// an announcement within 700 ms of it (600–700 ms: 500 ms of agreement, the first peak's
/// distance from the first sound, and a peak's 40 ms lag); counting to first peaks only, five
/// of the seven took 740–780 ms.
#[test]
fn a_message_heard_from_its_start_is_known_once_half_a_second_of_it_agrees() {
    let clips = shipped();
    let library = Arc::new(Library::from_clips(clips.clone()));
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut after = Vec::new();
    for (name, clip) in &clips {
        let first = clip
            .iter()
            .position(|s| s.unsigned_abs() > 300)
            .unwrap_or(0) as u32
            / 8;
        let mut pcm = silence(300);
        pcm.extend_from_slice(clip);
        let pcm = add_noise(&g711_round_trip(&pcm, Codec::Pcmu), 20.0, &mut rng);
        let Some(at) = first_class(&library, &pcm) else {
            panic!("{name}: not recognised");
        };
        after.push((at - 300 - first, name.as_str()));
    }
    after.sort_unstable();
    println!("class after the first sound, ms: {after:?}");
    assert!(after.iter().all(|a| a.0 <= 700), "{after:?}");
}

/// A library without `left_out`, and every other reference's stream through the impairments.
#[test]
fn other_speech_another_reference_silence_ringback_and_music_match_nothing() {
    let clips = shipped();
    let left_out = ["en/not-in-service", "yue/powered-off"];
    let library = Arc::new(Library::from_clips(
        clips
            .iter()
            .filter(|(n, _)| !left_out.contains(&n.as_str()))
            .cloned()
            .collect(),
    ));
    let mut rng = ChaCha8Rng::seed_from_u64(15);
    let mut cases: Vec<(String, Vec<i16>)> = clips
        .iter()
        .filter(|(n, _)| left_out.contains(&n.as_str()))
        .map(|(n, pcm)| (format!("reference {n} not in the library"), pcm.clone()))
        .collect();
    cases.push(("silence".into(), silence(5000)));
    let mut ringback = Vec::new();
    for _ in 0..2 {
        ringback.extend(tone(&[450.0], 1000, -12.0));
        ringback.extend(silence(4000));
    }
    ringback.extend(tone(&[440.0, 480.0], 2000, -16.0));
    ringback.extend(silence(2000));
    cases.push(("ringback".into(), ringback));
    // Music: a melody of chords with harmonics, each 250 ms (a coloured ringback tone's kind).
    let mut music = Vec::new();
    for i in 0..24 {
        let root = [261.6f32, 293.7, 329.6, 349.2, 392.0, 440.0][i % 6];
        music.extend(tone(
            &[root, root * 1.26, root * 1.5, root * 2.0, root * 3.0],
            250,
            -22.0,
        ));
    }
    cases.push(("music".into(), music));
    if espeak_available() {
        for (voice, text) in [
            (
                "cmn",
                "喂?你好,请问你是哪位?我现在在开会,等一下给你回电话。",
            ),
            ("cmn", "您好,这里是客服中心,请问有什么可以帮您?"),
            ("yue", "喂?边位呀?我而家好忙,迟啲再倾啦。"),
            (
                "en-us",
                "Hello, you have reached the Smith family. We can't come to the phone right now.",
            ),
        ] {
            cases.push((format!("{voice} speech"), speech(voice, text, 160, 50)));
        }
    }
    for (name, pcm) in cases {
        let pcm = add_noise(&g711_round_trip(&pcm, Codec::Pcmu), 15.0, &mut rng);
        assert_eq!(recognitions(&library, &pcm), [], "{name}");
    }
}

#[test]
fn a_folder_loads_by_relative_name_and_errors_name_the_bad_file() {
    let library = Library::load_dir(shipped_dir()).expect("shipped announcements load");
    let mut names: Vec<(&str, ReferenceClass)> = library.classified_names().collect();
    names.sort_unstable_by_key(|n| n.0);
    use ReferenceClass::{Announcement as A, Voicemail as V};
    assert_eq!(
        names,
        [
            ("cmn/busy", A),
            ("cmn/mailbox", V),
            ("cmn/powered-off", A),
            ("cmn/secretary", V),
            ("cmn/suspended", A),
            ("cmn/unreachable", A),
            ("cmn/vacant", A),
            ("en/mailbox", V),
            ("en/not-in-service", A),
            ("yue/powered-off", A)
        ]
    );
    let dir = std::env::temp_dir().join(format!("outdial-fingerprint-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("xx")).expect("temp dir");
    let err = Library::load_dir(&dir).expect_err("no WAVs");
    assert!(err.to_string().contains("no .wav files"), "{err}");
    std::fs::copy(
        shipped_dir().join("en/not-in-service.wav"),
        dir.join("xx/ok.wav"),
    )
    .expect("copy");
    std::fs::write(dir.join("xx/broken.WAV"), b"RIFF\x04\0\0\0WAVEjunk").expect("write");
    let err = Library::load_dir(&dir).expect_err("broken WAV");
    assert!(err.to_string().contains("broken.WAV"), "{err}");
    std::fs::remove_file(dir.join("xx/broken.WAV")).expect("remove");
    let tone_only = tone(&[1000.0], 60, -10.0);
    let mut wav = Vec::new();
    {
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 8000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::new(std::io::Cursor::new(&mut wav), spec).expect("writer");
        for s in silence(300).into_iter().chain(tone_only) {
            w.write_sample(s).expect("sample");
        }
        w.finalize().expect("finalize");
    }
    std::fs::write(dir.join("beep.wav"), &wav).expect("write");
    let err = Library::load_dir(&dir).expect_err("too few landmarks");
    assert!(err.to_string().contains("beep.wav"), "{err}");
    std::fs::remove_file(dir.join("beep.wav")).expect("remove");
    let library = Library::load_dir(&dir).expect("one good WAV");
    assert_eq!(library.names().collect::<Vec<_>>(), ["xx/ok"]);
    // Under `voicemail/`: a voicemail prompt, named without the folder.
    std::fs::create_dir_all(dir.join("voicemail/yy")).expect("temp dir");
    std::fs::copy(dir.join("xx/ok.wav"), dir.join("voicemail/yy/vm.wav")).expect("copy");
    let library = Library::load_dir(&dir).expect("two good WAVs");
    assert_eq!(
        library.classified_names().collect::<Vec<_>>(),
        [
            ("yy/vm", ReferenceClass::Voicemail),
            ("xx/ok", ReferenceClass::Announcement)
        ]
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Every shipped voicemail prompt, with the announcements in the library too (cmn/secretary
/// shares 您拨打的 with them).
fn with_voicemail() -> (Arc<Library>, Vec<(String, Vec<i16>)>) {
    let prompts = shipped_of(ReferenceClass::Voicemail);
    let clips = shipped()
        .into_iter()
        .map(|(n, pcm)| (n, ReferenceClass::Announcement, pcm))
        .chain(
            prompts
                .iter()
                .map(|(n, pcm)| (n.clone(), ReferenceClass::Voicemail, pcm.clone())),
        )
        .collect();
    (Arc::new(Library::from_classified_clips(clips)), prompts)
}

#[test]
fn a_voicemail_prompt_heard_from_its_start_is_recognised_as_voicemail_within_two_seconds() {
    let (library, prompts) = with_voicemail();
    assert_eq!(
        prompts.len(),
        3,
        "{:?}",
        library.names().collect::<Vec<_>>()
    );
    let mut rng = ChaCha8Rng::seed_from_u64(18);
    for (name, clip) in &prompts {
        for codec in [Codec::Pcmu, Codec::Pcma] {
            let db = rng.gen_range(-20.0..0.0);
            let lead = rng.gen_range(0..600);
            let mut pcm = silence(lead);
            pcm.extend(gain(clip, db));
            let pcm = add_noise(&g711_round_trip(&pcm, codec), 15.0, &mut rng);
            let got = recognitions(&library, &pcm);
            let Some((at, first)) = got.first() else {
                panic!("{name}, {db:.1} dB, {codec:?}: nothing recognised");
            };
            let class = match first {
                Recognition::Named(m) => {
                    assert_eq!(&m.name, name, "{got:?}");
                    m.class
                }
                Recognition::Class {
                    class, candidates, ..
                } => {
                    assert!(candidates.contains(name), "{got:?}");
                    *class
                }
                Recognition::Tail(_) => ReferenceClass::Announcement,
            };
            assert_eq!(class, ReferenceClass::Voicemail, "{name}: {got:?}");
            assert!(*at <= lead + 2000, "{name}: at {at} ms: {got:?}");
            // Never an announcement on the way (the shared 您拨打的 must not make one).
            for (_, r) in &got {
                let ok = match r {
                    Recognition::Named(m) => m.class == ReferenceClass::Voicemail,
                    Recognition::Class { class, .. } => *class == ReferenceClass::Voicemail,
                    Recognition::Tail(_) => false,
                };
                assert!(ok, "{name}: {got:?}");
            }
        }
    }
}

#[test]
fn a_voicemail_prompt_joined_in_its_middle_is_not_recognised_as_voicemail() {
    // A voicemail system plays its prompt from the start: agreement with its middle is other
    // speech sharing its syllables (a person's "你好,我是…"), and must not hang up on anyone.
    // (Words it shares with an announcement may still name that announcement: a prompt is
    // never heard from its middle, and an announcement must not wait on one.)
    let (library, prompts) = with_voicemail();
    for (name, clip) in &prompts {
        let pcm: Vec<i16> = clip[3 * 8000..].to_vec();
        let got = recognitions(&library, &pcm);
        let voicemail = got.iter().any(|(_, r)| match r {
            Recognition::Named(m) => m.class == ReferenceClass::Voicemail,
            Recognition::Class { class, .. } => *class == ReferenceClass::Voicemail,
            Recognition::Tail(_) => false,
        });
        assert!(!voicemail, "{name} from 3 s: {got:?}");
        let mut m = Matcher::new(Arc::clone(&library));
        for f in frames(&pcm) {
            m.push(&f);
        }
        // Its own (late) alignment is no evidence that holds a person's verdict either.
        let own = m.best.iter().map(|b| b.0).max().unwrap_or(0);
        assert!(
            m.evidence() < own,
            "{name} from 3 s: evidence {} of {own}",
            m.evidence()
        );
    }
}

#[test]
fn in_early_media_a_weak_agreement_names_nothing_until_it_has_the_class_votes() {
    // A message under heavy noise (0 dB SNR) agrees weakly at first: after the answer its name
    // comes with fewer than CLASS_MIN_VOTES, which in early media (where a match cancels the
    // call) is what a coloured ringback that says a carrier's words reaches. Early media waits
    // for the class's votes, and a real message gets there as it goes on.
    let library = Arc::new(Library::load_dir(shipped_dir()).expect("shipped"));
    let clip = shipped()
        .into_iter()
        .find(|(name, _)| name == "en/not-in-service")
        .expect("shipped en/not-in-service")
        .1;
    let mut pcm = silence(300);
    pcm.extend_from_slice(&clip);
    pcm.extend(silence(1000));
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let pcm = add_noise(&pcm, 0.0, &mut rng);
    let first = |m: Matcher| recognitions_by(m, &pcm).into_iter().next();
    let Some((answered_at, Recognition::Named(m))) = first(Matcher::new(Arc::clone(&library)))
    else {
        panic!("not named after the answer");
    };
    assert_eq!(m.name, "en/not-in-service");
    assert!(m.votes < CLASS_MIN_VOTES, "{m:?}: not a weak agreement");
    let Some((early_at, Recognition::Named(e))) =
        first(Matcher::for_early_media(Arc::clone(&library)))
    else {
        panic!("not named in early media");
    };
    assert_eq!(e.name, "en/not-in-service");
    assert!(e.votes >= CLASS_MIN_VOTES, "{e:?}");
    assert!(early_at > answered_at, "{early_at} ms vs {answered_at} ms");
}
