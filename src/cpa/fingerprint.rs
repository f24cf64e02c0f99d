//! Known recorded announcements, matched by spectral-peak landmarks (Wang, ISMIR 2003): pairs of
//! peaks hashed with their time gap, matched by the count of hashes agreeing on one offset, so a
//! match survives a different start offset, gain, G.711 and line noise.
//!
//! - [`landmarks`]: one stream's peaks and hashes, one FFT per frame (references use it too).
//! - [`index`]: hash → (reference, time), shared read-only by every stream.
//! - [`votes`]: one stream's vote counts per (reference, offset).
//! - [`tail`]: a looped announcement recognised from its last words alone, when the stream's
//!   first short utterance ends like one of an announcement's sounding runs (spectra compared
//!   frame by frame, the ends aligned), reported as [`Recognition::Tail`].
//! - [`Library`]: the references and their index; [`Matcher`]: one stream's matching.
//!
//! The decision rule ([`Matcher::push`]): a reference is recognised when the landmark hashes
//! agreeing on one offset (±1 frame, for a window that straddles frames differently) number at
//! least [`MIN_VOTES`], come from landmarks spread over at least [`MIN_SPAN_MS`] of the
//! stream (to the latest landmark's second peak once they are [`CLASS_MIN_VOTES`]), make up
//! at least [`MIN_SHARE`] of the hashes the stream produced since that alignment's start
//! (relative to the stream, so a dense spectrum needs more agreement),
//! and lead every other reference by [`MIN_LEAD`] votes and by [`LEAD_RATIO`] times (several
//! carrier messages start with the same words: the matcher waits for the words that differ).
//! Before that lead, once the best alignment has every other proof of a match and at least
//! [`CLASS_MIN_VOTES`], the *class* is reported ([`Recognition::Class`]): every candidate is a
//! known recording of one [`ReferenceClass`] (a carrier's announcement, or a voicemail system's
//! prompt: files under a `voicemail/` folder at the library's top, see [`Library::load_dir`]),
//! so the stream is one, whichever; candidates of both classes report nothing until the lead
//! names one. The name follows ([`Recognition::Named`]) when the lead holds.
//! Carriers loop a message with a pause between plays, so a call that joins in its last words
//! hears a tail too short for the span rule, then the repeat. The tail's alignment and the
//! repeat's are one reference's two plays when the earlier one's end and the later one's start
//! are a pause of at most [`MAX_LOOP_GAP_MS`] apart; each with [`LOOP_PARTNER_MIN_VOTES`], their
//! votes add up and their span runs from the tail to the repeat, so the loop is recognised (and
//! often named: tails differ where openings are shared) sooner than the repeat alone would be.
//! A tail too short for any votes is [`tail`]'s: recognised when it ends, before the repeat.
//! Chance agreement is tiny by comparison: a hash has 2^18 values, so even a library of a few
//! hundred references gives a random stream well under one vote per alignment per second.
//!
//! Owns no I/O but [`Library::load_dir`]'s reading of WAV files; nothing here knows a call.

mod index;
mod landmarks;
pub mod tail;
#[cfg(test)]
mod tests;
mod votes;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{frames_of, FRAME, FRAME_MS};
use crate::media::wav::{self, WavError};
use index::Index;
use landmarks::{Landmark, Landmarks, MAX_DT, MAX_PER_PUSH};
use tail::{TailBank, TailMatcher};
use votes::Votes;

/// Agreeing hashes a match needs at least (chance agreements on speech that is not a
/// reference stay under a handful).
pub const MIN_VOTES: u32 = 20;
/// The agreeing landmarks must spread over this much of the stream: one syllable that a
/// person happens to share with a recording (请 in 请问 and in 请稍后再拨) agrees densely but
/// briefly. Measured from the earliest landmark's first peak to the latest one's first peak,
/// or, once the alignment has [`CLASS_MIN_VOTES`], to the latest one's second peak (a pair
/// agrees on both of its peaks, so the audio up to the second agrees too): a recording then
/// passes up to a pair's Δt sooner (the generated corpus's announcements 70–80 ms sooner on
/// average). Not below those votes: one chance pair of a long Δt (up to 640 ms) then stretches
/// the span, and two people's introductions ("喂,你好,我是…") reached a name's 20 votes with
/// spans of 700–960 ms that way (seed 7), where their first peaks spread under 500 ms.
pub const MIN_SPAN_MS: u32 = 500;
/// Share of the stream's hashes (since the matched alignment began) that must agree.
pub const MIN_SHARE: f32 = 0.02;
/// Votes the best reference must have over any other's best alignment, and the ratio it must
/// have to it: two carriers' messages that share words share landmarks too.
pub const MIN_LEAD: u32 = 10;
/// See [`MIN_LEAD`].
pub const LEAD_RATIO: f32 = 1.25;
/// Agreeing hashes the best alignment needs before the class alone is reported (span and
/// share as for a name). Higher than [`MIN_VOTES`]: without the lead rule a syllable or two
/// that other speech shares with several references' common words (a voicemail's 您好, a
/// coloured ringback's 您拨打的用户) must not pass. On the generated corpus such speech
/// reached 20–23 votes; a real announcement has 80 or more by the time its agreement spans
/// [`MIN_SPAN_MS`].
pub const CLASS_MIN_VOTES: u32 = 40;
/// Votes each of a loop's two plays needs before their votes add up (the loop rule in the
/// module doc): as many as a name needs alone, because with fewer, chance pairs appeared on
/// the generated corpus (a coloured ringback's music at 4, a voicemail greeting that says
/// 您拨打的 twice at 16).
pub const LOOP_PARTNER_MIN_VOTES: u32 = MIN_VOTES;
/// Longest pause between two plays of a looped message that still pairs them, beyond the
/// silence the reference itself ends and begins with: carriers repeat after a short breath.
pub const MAX_LOOP_GAP_MS: u32 = 2000;

/// A folder of reference recordings could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LibraryError {
    /// Reading the folder or a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// A WAV file could not be decoded (the error names the file).
    #[error(transparent)]
    Wav(#[from] WavError),
    /// A recording too short or too quiet to give the landmarks a match needs.
    #[error("{path}: too short or too quiet to recognise ({landmarks} landmarks in {ms} ms; a reference needs at least {MIN_VOTES})")]
    TooFewLandmarks {
        /// The file.
        path: String,
        /// Its length.
        ms: u32,
        /// Landmarks found in it.
        landmarks: usize,
    },
    /// The folder holds no `.wav` file.
    #[error("{path}: no .wav files (announcement references are WAV files, one per message)")]
    NoReferences {
        /// The folder.
        path: String,
    },
}

/// The folder, at a library's top, whose references are voicemail systems' prompts.
pub const VOICEMAIL_DIR: &str = "voicemail";

/// What a reference recording is: what a match of it means for the call.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum ReferenceClass {
    /// A carrier's announcement of the number's state (powered off, vacant…): nobody is there.
    #[default]
    Announcement,
    /// A voicemail system's own prompt ("您好,您拨打的用户暂时无法接听,请在提示音后留言"): a
    /// machine, whose beep follows.
    Voicemail,
}

impl ReferenceClass {
    /// Agreeing hashes a name of this class needs: [`MIN_VOTES`] for an announcement (a call
    /// may join it anywhere, even in its last words), [`CLASS_MIN_VOTES`] for a voicemail
    /// prompt. A voicemail system plays its prompt from the start and in full, so waiting for
    /// more of it costs little, while a person's introduction ("喂,你好,我是…") shares
    /// syllables with a Mandarin prompt (您好…) and reached 20–30 votes on the generated corpus:
    /// a person taken for a machine is hung up on.
    pub fn min_votes(self) -> u32 {
        match self {
            ReferenceClass::Announcement => MIN_VOTES,
            ReferenceClass::Voicemail => CLASS_MIN_VOTES,
        }
    }
}

/// Latest point in a voicemail prompt at which the call's audio may join it (ms; see
/// [`Matcher::evidence`]'s rule): the prompt starts when the system answers, 1 s allows for
/// an answer reported late.
pub const VOICEMAIL_MAX_JOIN_MS: i32 = 1000;
/// Latest a voicemail prompt may start after the call's audio does (ms): the system answers
/// and speaks; a prompt that starts later is a coincidence of words.
pub const VOICEMAIL_MAX_LEAD_MS: i32 = 3000;

/// One reference's name, class and length.
#[derive(Clone, Debug)]
struct Reference {
    name: String,
    class: ReferenceClass,
    /// Length in frames.
    columns: u32,
}

/// The fingerprints of a set of reference announcements.
#[derive(Debug, Default)]
pub struct Library {
    references: Vec<Reference>,
    index: Index,
    /// The announcements' tails ([`tail`]).
    tails: TailBank,
}

impl Library {
    /// Every WAV under `dir` (recursively), named by its path relative to `dir` without the
    /// extension (e.g. `cmn/powered-off`). Files under `dir/voicemail/` are voicemail systems'
    /// prompts ([`ReferenceClass::Voicemail`]), named relative to that folder (e.g.
    /// `voicemail/cmn/secretary.wav` is `cmn/secretary`); every other file is an announcement.
    pub fn load_dir(dir: &Path) -> Result<Library, LibraryError> {
        let mut files = Vec::new();
        collect_wavs(dir, &mut files)?;
        if files.is_empty() {
            return Err(LibraryError::NoReferences {
                path: dir.display().to_string(),
            });
        }
        // Sorted: the same folder gives the same library (and tie-breaks) on every machine.
        files.sort();
        let mut clips = Vec::with_capacity(files.len());
        for file in &files {
            let pcm = wav::load(file)?.0.to_vec();
            let (class, name) = reference_name(dir, file);
            let landmarks = fingerprint(&pcm);
            if landmarks.len() / SHIFTS.len() < MIN_VOTES as usize {
                return Err(LibraryError::TooFewLandmarks {
                    path: file.display().to_string(),
                    ms: (pcm.len() / 8) as u32,
                    landmarks: landmarks.len() / SHIFTS.len(),
                });
            }
            tracing::debug!(reference = %name, ?class, landmarks = landmarks.len(), "reference loaded");
            clips.push((name, class, pcm, landmarks));
        }
        Ok(Library::from_landmarks(clips))
    }

    /// From named 8 kHz clips of announcements.
    pub fn from_clips(clips: Vec<(String, Vec<i16>)>) -> Library {
        Library::from_classified_clips(
            clips
                .into_iter()
                .map(|(name, pcm)| (name, ReferenceClass::Announcement, pcm))
                .collect(),
        )
    }

    /// From named 8 kHz clips, each with its class.
    pub fn from_classified_clips(clips: Vec<(String, ReferenceClass, Vec<i16>)>) -> Library {
        Library::from_landmarks(
            clips
                .into_iter()
                .map(|(name, class, pcm)| {
                    let marks = fingerprint(&pcm);
                    (name, class, pcm, marks)
                })
                .collect(),
        )
    }

    fn from_landmarks(clips: Vec<(String, ReferenceClass, Vec<i16>, Vec<Landmark>)>) -> Library {
        let tails =
            TailBank::build(clips.iter().map(|(_, class, pcm, _)| {
                (pcm.as_slice(), *class == ReferenceClass::Announcement)
            }));
        let mut references = Vec::with_capacity(clips.len());
        let mut marks = Vec::with_capacity(clips.len());
        for (name, class, pcm, m) in clips {
            references.push(Reference {
                name,
                class,
                columns: pcm.len().div_ceil(FRAME) as u32,
            });
            marks.push(m);
        }
        Library {
            index: Index::build(&marks),
            references,
            tails,
        }
    }

    /// How many references.
    pub fn len(&self) -> usize {
        self.references.len()
    }

    /// No references.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The references' names, in library order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.references.iter().map(|r| r.name.as_str())
    }

    /// The references' names with their classes, in library order.
    pub fn classified_names(&self) -> impl Iterator<Item = (&str, ReferenceClass)> {
        self.references.iter().map(|r| (r.name.as_str(), r.class))
    }

    /// Landmark hashes indexed, over all references.
    pub fn landmarks(&self) -> usize {
        self.index.len()
    }
}

/// Sub-frame shifts (samples) at which each reference is fingerprinted. A stream joins a
/// reference at any sample, so its frames straddle the reference's differently; peaks then move
/// by a column now and then and their pairs' Δt changes, which breaks hashes. Indexing the
/// reference at four shifts keeps every stream within 20 samples (1/8 frame) of one of them.
const SHIFTS: [usize; 4] = [0, 40, 80, 120];

/// Every landmark of a whole clip at every one of [`SHIFTS`] (the clip padded with silence so
/// its last peaks complete).
fn fingerprint(pcm: &[i16]) -> Vec<Landmark> {
    let mut out = Vec::new();
    for shift in SHIFTS {
        let mut marks = Landmarks::default();
        for f in frames_of(pcm, shift, 8 * FRAME) {
            marks.push(&f, &mut out);
        }
    }
    out
}

/// `file`'s class and name: its path under `dir` (under `dir/voicemail` for a voicemail
/// prompt), without extension, `/`-separated.
fn reference_name(dir: &Path, file: &Path) -> (ReferenceClass, String) {
    let rel = file.strip_prefix(dir).unwrap_or(file).with_extension("");
    let (class, rel) = match rel.strip_prefix(VOICEMAIL_DIR) {
        Ok(inner) if inner.components().next().is_some() => {
            (ReferenceClass::Voicemail, inner.to_path_buf())
        }
        _ => (ReferenceClass::Announcement, rel),
    };
    let name = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/");
    (class, name)
}

fn collect_wavs(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), LibraryError> {
    let io = |source| LibraryError::Io {
        path: dir.display().to_string(),
        source,
    };
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        if path.is_dir() {
            collect_wavs(&path, out)?;
        } else if path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("wav"))
        {
            out.push(path);
        }
    }
    Ok(())
}

/// A reference recognised in a stream.
#[derive(Clone, Debug, PartialEq)]
pub struct AnnouncementMatch {
    /// The reference's name.
    pub name: String,
    /// What the reference is.
    pub class: ReferenceClass,
    /// Where in the reference the stream's first frame fell, ms (negative: before it began).
    pub offset_ms: i32,
    /// Landmark hashes agreeing on that offset.
    pub votes: u32,
}

/// What a [`Matcher`] recognised.
#[derive(Clone, Debug, PartialEq)]
pub enum Recognition {
    /// The stream is a known recording of one class, but so far only words several references
    /// of that class share were heard: `candidates` (library order) are those the best is not
    /// yet ahead of.
    Class {
        /// What every candidate is.
        class: ReferenceClass,
        /// The references it may be.
        candidates: Vec<String>,
        /// The best alignment's votes.
        votes: u32,
    },
    /// Which reference it is.
    Named(AnnouncementMatch),
    /// An announcement recognised from its tail ([`tail`]): the utterance that just ended is the
    /// end of a run of one of `candidates` (the best first); named when no other came close.
    Tail(TailRecognition),
}

/// An announcement's tail recognised ([`Recognition::Tail`]).
#[derive(Clone, Debug, PartialEq)]
pub struct TailRecognition {
    /// The reference, when no other's tail scored within [`tail::NAME_MARGIN`] of it.
    pub name: Option<String>,
    /// The references whose tails scored within that margin (the best first).
    pub candidates: Vec<String>,
    /// The best score ([`tail`]'s measure, at most 1).
    pub score: f32,
    /// Where in the best reference the stream's first frame fell, ms.
    pub offset_ms: i32,
}

/// Alignments within this many frames of each other are one (their neighbours sum into one
/// score, see `votes`).
const NEAR: i32 = 2;

/// Frames of the stream's hash counts kept (for the share rule): 20 s.
const COUNT_RING: usize = 1024;
/// Frames between prunings of alignments that can no longer gain votes.
const PRUNE_EVERY: u32 = 50;

/// Matches one stream against a [`Library`].
#[derive(Debug)]
pub struct Matcher {
    library: Arc<Library>,
    marks: Landmarks,
    /// The tail rule's state ([`tail`]).
    tail: TailMatcher,
    /// This frame's landmarks (reused: no allocation per frame).
    found: Vec<Landmark>,
    /// Votes per (reference, offset in frames = reference column − stream column).
    votes: Votes,
    /// Per reference: its best alignment's score and offset.
    best: Vec<(u32, i32)>,
    /// Per reference: the best alignment more than [`NEAR`] frames from `best`'s (another play
    /// of a looped message, or nothing in particular).
    second: Vec<(u32, i32)>,
    /// Hashes produced by the stream up to each frame (cumulative, ring of `COUNT_RING`).
    produced: Vec<u32>,
    total: u32,
    /// The class was reported (the name may still follow).
    classed: bool,
    /// The name was reported: nothing more to do.
    matched: bool,
    /// Votes a name needs at least, whatever its class's own figure ([`Matcher::for_early_media`]).
    min_name_votes: u32,
}

impl Matcher {
    /// A matcher at the start of a stream.
    pub fn new(library: Arc<Library>) -> Self {
        let refs = library.len();
        Matcher {
            library,
            marks: Landmarks::default(),
            tail: TailMatcher::default(),
            found: Vec::with_capacity(MAX_PER_PUSH),
            votes: Votes::with_capacity(1024),
            best: vec![(0, 0); refs],
            second: vec![(0, 0); refs],
            produced: vec![0; COUNT_RING],
            total: 0,
            classed: false,
            matched: false,
            min_name_votes: 0,
        }
    }

    /// A matcher for early media (a 183's audio before the answer): a name needs
    /// [`CLASS_MIN_VOTES`], as the class does. There a match cancels the call, and coloured
    /// ringbacks that say a carrier's words ("欢迎致电,您拨打的用户正在为您接通,请稍候")
    /// reached a name's 20 votes on the generated corpus, cancelling calls a person could have
    /// answered (3 of 240 on two seeds; 1 with this rule). The corpus's early announcements were
    /// not named later for it (68/70 and 69/70 within 1.5 s, as before); under heavy line noise
    /// (0 dB) a message's name can come seconds later, while the call still rings.
    pub fn for_early_media(library: Arc<Library>) -> Self {
        Matcher {
            min_name_votes: CLASS_MIN_VOTES,
            ..Matcher::new(library)
        }
    }

    /// 20 ms more audio; the class once the stream is surely a known announcement, the name
    /// once it is known which (at most one of each, the name possibly without a class first).
    pub fn push(&mut self, frame: &[i16; FRAME]) -> Option<Recognition> {
        if self.matched || self.library.is_empty() {
            return None;
        }
        self.found.clear();
        self.marks.push(frame, &mut self.found);
        let now = self.marks.columns();
        self.total += self.found.len() as u32;
        self.produced[now as usize % COUNT_RING] = self.total;
        let library = Arc::clone(&self.library);
        for m in &self.found {
            for e in library.index.lookup(m.hash) {
                let offset = e.t as i32 - m.t as i32;
                let score = self.votes.add(e.reference, offset, m.t, m.end());
                let r = e.reference as usize;
                note(&mut self.best[r], &mut self.second[r], score, offset);
            }
        }
        if now.is_multiple_of(PRUNE_EVERY) {
            self.prune(now);
        }
        // The tail rule gives the class (or the name) of an announcement the votes have not
        // recognised yet; once they have, it has nothing to add.
        let tail = if self.classed {
            None
        } else {
            self.tail.push(&library.tails, frame, self.marks.last_db())
        };
        let found = self
            .decide(now)
            .or_else(|| tail.map(|t| self.recognise_tail(t)))?;
        match found {
            Recognition::Class { .. } => self.classed = true,
            Recognition::Named(_) => self.matched = true,
            Recognition::Tail(ref t) => {
                self.classed = true;
                self.matched = t.name.is_some();
            }
        }
        Some(found)
    }

    /// The tail rule's scores so far ([`tail`]'s measure): the stream's first utterance's, and
    /// the best of any (0 before any). For reports and tuning.
    pub fn tail_scores(&self) -> (Option<f32>, f32) {
        self.tail.scores()
    }

    fn recognise_tail(&self, t: tail::TailMatch) -> Recognition {
        let references = &self.library.references;
        let candidates: Vec<String> = t
            .candidates
            .iter()
            .filter_map(|&i| references.get(i).map(|r| r.name.clone()))
            .collect();
        Recognition::Tail(TailRecognition {
            name: if t.named {
                candidates.first().cloned()
            } else {
                None
            },
            candidates,
            score: t.score,
            offset_ms: t.offset * FRAME_MS as i32,
        })
    }

    /// Votes of the best alignment of any reference so far: how much of a known recording the
    /// stream has shown, before it is enough to name one. Speech that is no reference stays
    /// near zero; a few hundred ms of a reference give several.
    pub fn evidence(&self) -> u32 {
        self.standing().map(|(_, l)| l.0).max().unwrap_or(0)
    }

    /// Per reference (library order): its evidence ([`Matcher::looped`]: votes, the earlier
    /// play's offset, the later one's), or nothing (0) for a voicemail prompt joined later than
    /// [`VOICEMAIL_MAX_JOIN_MS`] into it or starting more than [`VOICEMAIL_MAX_LEAD_MS`] after
    /// the stream: a voicemail system plays its prompt from the start once it answers, so
    /// agreement elsewhere is other speech that shares its syllables (a person's "你好,我是…",
    /// another prompt's "after the tone").
    fn standing(&self) -> impl Iterator<Item = (usize, (u32, i32, i32))> + '_ {
        (0..self.best.len()).map(|r| {
            let (score, offset, late) = self.looped(r);
            let at_ms = offset * FRAME_MS as i32;
            let off_start = self.library.references[r].class == ReferenceClass::Voicemail
                && !(-VOICEMAIL_MAX_LEAD_MS..=VOICEMAIL_MAX_JOIN_MS).contains(&at_ms);
            if off_start {
                (r, (0, 0, 0))
            } else {
                (r, (score, offset, late))
            }
        })
    }

    /// Reference `r`'s evidence: its best alignment's votes, plus those of its other play when
    /// the two are a loop (the earlier play's end and the later one's start a pause of at most
    /// [`MAX_LOOP_GAP_MS`] apart, each with [`LOOP_PARTNER_MIN_VOTES`]); and the offsets of the
    /// earlier play and the later one (the same when there is no loop).
    fn looped(&self, r: usize) -> (u32, i32, i32) {
        let (b, s) = (self.best[r], self.second[r]);
        let (early, late) = if b.1 > s.1 { (b, s) } else { (s, b) };
        let gap =
            i64::from(early.1) - i64::from(late.1) - i64::from(self.library.references[r].columns);
        let max_gap = i64::from(MAX_LOOP_GAP_MS / FRAME_MS);
        if s.0 >= LOOP_PARTNER_MIN_VOTES && (-i64::from(NEAR)..=max_gap).contains(&gap) {
            (b.0 + s.0, early.1, late.1)
        } else {
            (b.0, b.1, b.1)
        }
    }

    /// What the rule in the module doc recognises now, if anything new.
    fn decide(&self, now: u32) -> Option<Recognition> {
        let (r, (score, offset, late)) = self.standing().max_by_key(|(_, l)| l.0)?;
        if score < MIN_VOTES.min(CLASS_MIN_VOTES) {
            return None;
        }
        // The audio the agreement attests reaches the latest landmark's second peak only with
        // CLASS_MIN_VOTES (see MIN_SPAN_MS).
        let attested = score >= CLASS_MIN_VOTES;
        // A loop's two plays: their agreement spans from the first's start to the second's end.
        let span = if late == offset {
            self.votes.span(r as u32, offset, attested)
        } else {
            let (first, _) = self.votes.extent(r as u32, offset, attested);
            let (_, last) = self.votes.extent(r as u32, late, attested);
            last.saturating_sub(first)
        };
        if span < MIN_SPAN_MS / FRAME_MS {
            return None;
        }
        // Another reference the best is not yet clearly ahead of.
        let close = |s: u32| score < s + MIN_LEAD || (score as f32) < LEAD_RATIO * s as f32;
        // A voicemail prompt heard off its start is out of the running: it neither wins nor
        // delays an announcement that shares its words ("The subscriber you dialed…").
        let ahead = self.standing().all(|(i, l)| i == r || !close(l.0));
        let named = ahead
            && score
                >= self.library.references[r]
                    .class
                    .min_votes()
                    .max(self.min_name_votes);
        if !named && (self.classed || score < CLASS_MIN_VOTES) {
            return None;
        }
        // The stream column where the reference began (its column 0), clamped to the ring.
        let start = (-offset).max(0) as u32;
        let start = start.max(now.saturating_sub(COUNT_RING as u32 - 1));
        let before = if start == 0 {
            0
        } else {
            self.produced[(start - 1) as usize % COUNT_RING]
        };
        let since = self.total - before;
        if (score as f32) < MIN_SHARE * since as f32 {
            return None;
        }
        let references = &self.library.references;
        if !named {
            let candidates: Vec<&Reference> = self
                .standing()
                .filter(|&(i, l)| i == r || close(l.0))
                .map(|(i, _)| &references[i])
                .collect();
            // A voicemail prompt and an announcement can share words (您拨打的): the class is
            // certain only when every candidate has it.
            let class = references[r].class;
            if candidates.iter().any(|c| c.class != class) {
                return None;
            }
            return Some(Recognition::Class {
                class,
                candidates: candidates.iter().map(|c| c.name.clone()).collect(),
                votes: score,
            });
        }
        Some(Recognition::Named(AnnouncementMatch {
            name: references[r].name.clone(),
            class: references[r].class,
            offset_ms: offset * FRAME_MS as i32,
            votes: score,
        }))
    }

    /// Drops alignments whose reference has been over for a while (they can gain no more
    /// votes), and recomputes each reference's best among those left.
    fn prune(&mut self, now: u32) {
        let refs = &self.library.references;
        let horizon = MAX_DT as i64 + 2 * PRUNE_EVERY as i64;
        // Alignment (r, o) gains votes while the stream column t = reference column − o is at
        // most the reference's length − o.
        self.votes.retain(|r, o| {
            let end = i64::from(refs[r as usize].columns) - i64::from(o);
            end + horizon >= i64::from(now)
        });
        self.best.fill((0, 0));
        self.second.fill((0, 0));
        for (r, o) in self.votes.alignments() {
            let s = self.votes.score(r, o);
            let b = &mut self.best[r as usize];
            if s > b.0 {
                *b = (s, o);
            }
        }
        for (r, o) in self.votes.alignments() {
            let s = self.votes.score(r, o);
            let (b, second) = (self.best[r as usize], &mut self.second[r as usize]);
            if (o - b.1).abs() > NEAR && s > second.0 {
                *second = (s, o);
            }
        }
    }
}

/// One alignment's new `score` at `offset`, into its reference's best and second best (the
/// best more than [`NEAR`] frames from the best's).
fn note(best: &mut (u32, i32), second: &mut (u32, i32), score: u32, offset: i32) {
    if (offset - best.1).abs() <= NEAR {
        if score > best.0 {
            *best = (score, offset);
        }
    } else if score > best.0 {
        *second = *best;
        *best = (score, offset);
    } else if score > second.0 {
        *second = (score, offset);
    }
}
