//! The announcements (and voicemail systems' prompts, under `voicemail/`) the corpus cuts from,
//! and the library the classifier is given: the shipped references under
//! `campaigns/announcements/` when there are any, else stand-ins spoken by
//! espeak-ng with the same texts into the cache (so the corpus and the classifier's library
//! always agree, whichever exists).
//!
//! Owns reading the references and the stand-ins' folder; writes nothing under the repository.

use std::path::{Path, PathBuf};

use md5::{Digest, Md5};

use super::plan::{Reference, Speech};
use super::render;

/// The stand-ins: name, espeak-ng voice, text (repeated so each is 4–8 s, as carriers repeat).
const STANDINS: [(&str, &str, &str); 10] = [
    ("cmn/powered-off", "cmn", "您拨打的电话已关机。"),
    ("cmn/vacant", "cmn", "您拨打的号码是空号,请查证后再拨。"),
    ("cmn/suspended", "cmn", "您拨打的电话已停机。"),
    (
        "cmn/unreachable",
        "cmn",
        "您拨打的电话暂时无法接通,请稍后再拨。",
    ),
    ("cmn/busy", "cmn", "您拨打的电话正在通话中,请稍后再拨。"),
    (
        "en/not-in-service",
        "en-us",
        "The number you have dialed is not in service. Please check the number and dial again.",
    ),
    ("yue/powered-off", "yue", "你所打嘅电话已经关机。"),
    // Voicemail systems' prompts (class voicemail: under `voicemail/`).
    (
        "voicemail/cmn/secretary",
        "cmn",
        "您好,您拨打的用户暂时无法接听,请在提示音后留言。",
    ),
    (
        "voicemail/cmn/mailbox",
        "cmn",
        "欢迎使用语音信箱,机主现在不方便接听,请在嘀声后留言。",
    ),
    (
        "voicemail/en/mailbox",
        "en-us",
        "The person you are calling is not available. Please record your message after the tone.",
    ),
];

/// A folder of reference WAVs and their samples.
pub struct Library {
    /// The folder (`--announcements`).
    pub dir: PathBuf,
    /// Names and lengths, in name order.
    pub refs: Vec<Reference>,
    /// Samples at 8 kHz, in the same order.
    pub samples: Vec<Vec<i16>>,
    /// MD5 of the names and samples: part of the corpus cache key.
    pub digest: String,
}

fn wavs_under(dir: &Path, found: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            wavs_under(&p, found);
        } else if p.extension().is_some_and(|x| x.eq_ignore_ascii_case("wav")) {
            found.push(p);
        }
    }
}

/// Per 20 ms frame: RMS above −45 dBFS (the references' pauses are digital silence or close).
fn sounding(pcm: &[i16]) -> Vec<bool> {
    const FLOOR: f64 = 32768.0 * 0.005_623; // −45 dBFS
    pcm.chunks(160)
        .map(|c| {
            let e = c.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / c.len() as f64;
            e.sqrt() > FLOOR
        })
        .collect()
}

/// Reads every WAV under `dir` (any common WAV, through outdial's own loader); `None` if there
/// is none.
pub fn load(dir: &Path) -> Option<Library> {
    let mut files = Vec::new();
    wavs_under(dir, &mut files);
    files.sort();
    if files.is_empty() {
        return None;
    }
    let mut refs = Vec::new();
    let mut samples = Vec::new();
    let mut md5 = Md5::new();
    for f in files {
        let name = f
            .strip_prefix(dir)
            .unwrap_or(&f)
            .with_extension("")
            .to_string_lossy()
            .replace('\\', "/");
        let prompt = outdial::media::wav::load(&f).unwrap_or_else(|e| panic!("reference {e}"));
        let pcm: Vec<i16> = prompt.0.to_vec();
        md5.update(name.as_bytes());
        for s in &pcm {
            md5.update(s.to_le_bytes());
        }
        refs.push(Reference {
            name,
            ms: (pcm.len() as u64 * 1000 / u64::from(render::RATE)) as u32,
            sounding: sounding(&pcm),
        });
        samples.push(pcm);
    }
    let digest = md5.finalize().iter().map(|b| format!("{b:02x}")).collect();
    Some(Library {
        dir: dir.to_path_buf(),
        refs,
        samples,
        digest,
    })
}

/// The shipped references if any, else the stand-ins made (once) under `cache`.
pub fn library(repo: &Path, cache: &Path) -> Library {
    if let Some(lib) = load(&repo.join("campaigns/announcements")) {
        return lib;
    }
    let dir = cache.join("standin-announcements-v2");
    let done = dir.join(".done");
    if !done.exists() {
        let partial = cache.join(format!(
            "standin-announcements.partial-{}",
            std::process::id()
        ));
        for (name, voice, text) in STANDINS {
            let out = partial.join(format!("{name}.wav"));
            let parent = out.parent().unwrap_or(&partial);
            std::fs::create_dir_all(parent).unwrap_or_else(|e| panic!("{}: {e}", parent.display()));
            let speech = Speech {
                voice: voice.to_string(),
                text: format!("{text} {text}"),
                speed: 165,
                pitch: 50,
                gap: 0,
            };
            render::speak(&speech, &out).unwrap_or_else(|e| panic!("stand-in {name}: {e}"));
        }
        std::fs::write(partial.join(".done"), b"").unwrap_or_else(|e| panic!("{e}"));
        super::publish(&partial, &dir, &done);
    }
    load(&dir).unwrap_or_else(|| panic!("{}: no stand-in references", dir.display()))
}
