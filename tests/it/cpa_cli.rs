//! `outdial cpa classify` run as a user would (the real binary) on speech synthesised with
//! espeak-ng and lines made with sox: a person answering, voicemail greetings, dead air; the
//! exact JSON shape, the verdicts, the baseline beside outdial's detector, and bad input (a
//! broken WAV, a settings file with a typo) refused with the file named.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A temporary folder of generated audio, removed at the end.
struct Audio {
    dir: PathBuf,
}

impl Drop for Audio {
    fn drop(&mut self) {
        // Best effort: a leftover temp directory harms nothing.
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn tool(cmd: &mut Command) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{cmd:?}: {e} (install espeak-ng and sox: make peers)"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `text` spoken by espeak-ng `voice`, at 8 kHz, with `lead` s of line before and `tail` after.
fn say(dir: &Path, name: &str, voice: &str, text: &str, lead: f64, tail: f64) {
    let raw = dir.join(format!("{name}.raw.wav"));
    tool(
        Command::new("espeak-ng")
            .args(["-v", voice, "-w"])
            .arg(&raw)
            .arg(text),
    );
    tool(
        Command::new("sox")
            .arg(&raw)
            .args(["-r", "8000", "-b", "16", "-c", "1"])
            .arg(dir.join(format!("{name}.wav")))
            .args(["pad", &lead.to_string(), &tail.to_string()]),
    );
    std::fs::remove_file(&raw).ok();
}

/// Mixes `name`.wav with white noise at `vol` (sox's scale) into `out`.wav: a noisy line.
fn with_noise(dir: &Path, name: &str, vol: f64, out: &str) {
    let src = dir.join(format!("{name}.wav"));
    let secs = {
        let o = Command::new("soxi").arg("-D").arg(&src).output().unwrap();
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    };
    let noise = dir.join(format!("{out}.noise.wav"));
    tool(
        Command::new("sox")
            .args(["-n", "-r", "8000", "-b", "16", "-c", "1"])
            .arg(&noise)
            .args(["synth", &secs, "whitenoise", "vol", &vol.to_string()]),
    );
    tool(
        Command::new("sox")
            .arg("-m")
            .arg(&src)
            .arg(&noise)
            .arg(dir.join(format!("{out}.wav"))),
    );
}

/// The test audio in a folder of its own for the test `tag` (tests run in parallel).
fn audio(tag: &str) -> Audio {
    let dir = std::env::temp_dir().join(format!("outdial-cpa-cli-{}-{tag}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let d = &dir;
    say(d, "person-cmn", "cmn", "喂?", 0.3, 4.0);
    say(d, "person-en", "en-us", "Hello?", 0.6, 4.0);
    with_noise(d, "person-en", 0.01, "person-en-noisy");
    say(
        d,
        "machine-en",
        "en-us",
        "Hi, you have reached John Smith. I can't take your call right now. \
         Please leave a message after the tone.",
        0.3,
        1.0,
    );
    say(
        d,
        "machine-cmn",
        "cmn",
        "您好,我现在不方便接听电话,请在嘀声后留言,谢谢。",
        0.4,
        1.0,
    );
    tool(
        Command::new("sox")
            .args(["-n", "-r", "8000", "-b", "16", "-c", "1"])
            .arg(d.join("dead-air.wav"))
            .args(["synth", "6", "whitenoise", "vol", "0.005"]),
    );
    std::fs::write(d.join("broken.wav"), b"RIFF\x10\x00\x00\x00WAVEfmt ").unwrap();
    Audio { dir }
}

fn outdial(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_outdial"))
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap()
}

fn json(out: &Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("stdout is one JSON object")
}

/// (file, verdict) of each result, checking every result has exactly the four documented keys.
fn verdicts(v: &serde_json::Value) -> Vec<(String, String)> {
    let obj = v.as_object().unwrap();
    assert_eq!(obj.keys().collect::<Vec<_>>(), ["results"], "{v}");
    v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let mut keys: Vec<&String> = r.as_object().unwrap().keys().collect();
            keys.sort();
            assert_eq!(keys, ["decided_ms", "detail", "file", "verdict"], "{r}");
            assert!(r["decided_ms"].is_u64(), "{r}");
            assert!(r["detail"].is_string(), "{r}");
            (
                r["file"].as_str().unwrap().to_string(),
                r["verdict"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn people_machines_and_dead_air_are_told_apart_in_one_json_object() {
    let a = audio("people");
    let files = [
        "person-cmn.wav",
        "person-en.wav",
        "person-en-noisy.wav",
        "machine-en.wav",
        "machine-cmn.wav",
        "dead-air.wav",
    ];
    let mut args = vec!["cpa", "classify", "--json"];
    args.extend(files);
    // One file by its absolute path: `file` is as given, whichever way.
    let absolute = a.dir.join("person-cmn.wav").display().to_string();
    args.push(&absolute);
    let v = json(&outdial(&a.dir, &args));
    let got = verdicts(&v);
    let want = [
        ("person-cmn.wav", "human"),
        ("person-en.wav", "human"),
        ("person-en-noisy.wav", "human"),
        ("machine-en.wav", "machine"),
        ("machine-cmn.wav", "machine"),
        ("dead-air.wav", "silence"),
        (absolute.as_str(), "human"),
    ];
    let want: Vec<(String, String)> = want
        .iter()
        .map(|(f, v)| (f.to_string(), v.to_string()))
        .collect();
    assert_eq!(got, want, "{v:#}");
    // A person is decided in their first pause: "喂?" starts at 0.3 s and is short.
    let person_ms = v["results"][0]["decided_ms"].as_u64().unwrap();
    assert!((600..=1500).contains(&person_ms), "{v:#}");
    // A greeting is a machine once it has talked for `max_utterance` (5 s: people who say
    // who they are take up to 4–5 s), before it ends (about 7 s).
    let machine_ms = v["results"][3]["decided_ms"].as_u64().unwrap();
    assert!((5000..=6000).contains(&machine_ms), "{v:#}");
    assert_eq!(v["results"][5]["decided_ms"], 2500, "{v:#}");
}

#[test]
fn the_baseline_runs_app_amd_rules_and_calls_dead_air_a_machine() {
    let a = audio("baseline");
    let v = json(&outdial(
        &a.dir,
        &[
            "cpa",
            "classify",
            "--json",
            "--amd",
            "baseline",
            "person-cmn.wav",
            "machine-en.wav",
            "dead-air.wav",
        ],
    ));
    let got: Vec<String> = verdicts(&v).into_iter().map(|(_, v)| v).collect();
    assert_eq!(got, ["human", "machine", "machine"], "{v:#}");
    assert_eq!(
        v["results"][2]["detail"], "initial silence 2500 ms",
        "{v:#}"
    );
}

#[test]
fn early_media_speech_is_no_verdict_and_the_table_is_readable() {
    let a = audio("early");
    let out = outdial(
        &a.dir,
        &["cpa", "classify", "--phase", "early", "machine-cmn.wav"],
    );
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    for col in ["file", "verdict", "decided_ms", "detail"] {
        assert!(header.contains(col), "{text}");
    }
    let row = lines.next().unwrap();
    assert!(row.starts_with("machine-cmn.wav"), "{text}");
    assert!(row.contains("unsure"), "{text}");
}

#[test]
fn a_broken_wav_fails_the_run_naming_the_file_and_prints_no_results() {
    let a = audio("broken");
    let out = outdial(
        &a.dir,
        &["cpa", "classify", "--json", "person-cmn.wav", "broken.wav"],
    );
    assert!(!out.status.success());
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("broken.wav:"), "{err}");
    let out = outdial(&a.dir, &["cpa", "classify", "missing.wav"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.wav"));
    // A missing reference folder: named, with the system's reason said once.
    let out = outdial(
        &a.dir,
        &[
            "cpa",
            "classify",
            "person-cmn.wav",
            "--announcements",
            "no-such-folder",
        ],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--announcements no-such-folder"), "{err}");
    assert_eq!(err.matches("(os error 2)").count(), 1, "{err}");
}

#[test]
fn settings_tune_the_detector_and_a_typo_names_file_line_and_field() {
    let a = audio("settings");
    // Greeting limits past a 3 s analysis: the greeting that was a machine is not one now.
    std::fs::write(
        a.dir.join("slow.yaml"),
        "amd: default\nadaptive:\n  max_utterance: 30s\n  max_words: 500\n  total_analysis: 3s\n",
    )
    .unwrap();
    let v = json(&outdial(
        &a.dir,
        &[
            "cpa",
            "classify",
            "--json",
            "--settings",
            "slow.yaml",
            "machine-en.wav",
        ],
    ));
    assert_ne!(verdicts(&v)[0].1, "machine", "{v:#}");
    std::fs::write(
        a.dir.join("typo.yaml"),
        "amd: default\nadaptive:\n  max_utterence: 2s\n",
    )
    .unwrap();
    let out = outdial(
        &a.dir,
        &[
            "cpa",
            "classify",
            "--settings",
            "typo.yaml",
            "person-cmn.wav",
        ],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("typo.yaml:3: adaptive.max_utterence"), "{err}");
    std::fs::write(
        a.dir.join("range.yaml"),
        "adaptive:\n  after_utterance_silence: 40ms\n",
    )
    .unwrap();
    let out = outdial(
        &a.dir,
        &[
            "cpa",
            "classify",
            "--settings",
            "range.yaml",
            "person-cmn.wav",
        ],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("range.yaml:2: adaptive.after_utterance_silence"),
        "{err}"
    );
}

#[test]
fn a_known_announcement_is_named_in_early_media_and_after_the_answer() {
    let a = audio("announcements");
    let refs = Path::new(env!("CARGO_MANIFEST_DIR")).join("campaigns/announcements");
    // The shipped English reference, cut 1.2 s in and on a quieter line, as a carrier plays it.
    let cut = a.dir.join("not-in-service-cut.wav");
    tool(
        Command::new("sox")
            .arg(refs.join("en/not-in-service.wav"))
            .arg(&cut)
            .args(["trim", "1.2", "gain", "-8"]),
    );
    for phase in ["early", "answer"] {
        let v = json(&outdial(
            &a.dir,
            &[
                "cpa",
                "classify",
                "--json",
                "--phase",
                phase,
                "--announcements",
                refs.to_str().unwrap(),
                "not-in-service-cut.wav",
                "person-cmn.wav",
            ],
        ));
        let got: Vec<String> = verdicts(&v).into_iter().map(|(_, v)| v).collect();
        let person = if phase == "early" { "unsure" } else { "human" };
        assert_eq!(got, ["announcement", person], "{phase}: {v:#}");
        let detail = v["results"][0]["detail"].as_str().unwrap();
        assert!(detail.contains("en/not-in-service"), "{v:#}");
    }
}
