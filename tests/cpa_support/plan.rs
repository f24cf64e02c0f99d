//! The corpus plan: which files exist, what each contains and what its label is, drawn from one
//! seeded RNG. Pure data: nothing here runs a program or writes a file ([`super::render`] does).
//!
//! Every class of issue 18 and its hard cases, with the variation that keeps a classifier from
//! being tuned to one synthetic voice: several espeak-ng voices per language, speed, pitch and
//! word gap, level, line noise (white or pink, quiet or at 10–20 dB SNR), and a G.711 µ-law or
//! A-law round trip for two files in three.

use outdial::cpa::VerdictClass;
use rand::seq::SliceRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// One piece of a file's timeline, in order.
#[derive(Clone, Debug)]
pub enum Part {
    /// Digital silence (the channel's noise is added over the whole file later).
    Silence { ms: u32 },
    /// Speech from espeak-ng.
    Speech(Speech),
    /// Pure tones one after another (`(Hz, ms)`), made by sox.
    Tones(Vec<(f64, u32)>),
    /// Chords one after another (`(all Hz sounding together, ms)`): ringback, music.
    Chords(Vec<(Vec<f64>, u32)>),
    /// A known announcement from `from_ms` into the reference (looped once, as carriers repeat
    /// it, with 500 ms between), `ms` long.
    Reference { index: usize, from_ms: u32, ms: u32 },
}

/// What espeak-ng says and how.
#[derive(Clone, Debug)]
pub struct Speech {
    /// Voice with variant, e.g. `cmn+f2`.
    pub voice: String,
    /// The words.
    pub text: String,
    /// Words per minute (`-s`).
    pub speed: u32,
    /// Pitch 0–99 (`-p`).
    pub pitch: u32,
    /// Extra gap between words, in 10 ms units (`-g`).
    pub gap: u32,
}

/// The G.711 round trip a file goes through, if any.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Codec {
    /// 16-bit linear all the way.
    Linear,
    /// µ-law at 8 kHz and back.
    Ulaw,
    /// A-law at 8 kHz and back.
    Alaw,
}

impl Codec {
    /// sox's encoding name.
    pub fn sox(self) -> Option<&'static str> {
        match self {
            Codec::Linear => None,
            Codec::Ulaw => Some("u-law"),
            Codec::Alaw => Some("a-law"),
        }
    }
}

/// The line the file is heard through.
#[derive(Clone, Debug)]
pub struct Channel {
    /// Peak level of the sound before noise, dBFS (`norm`); `None` for dead air.
    pub peak_db: Option<f64>,
    /// Line noise: colour (`whitenoise`, `pinknoise`) and level in dB relative to full-scale
    /// white noise (sox `gain`).
    pub noise: Option<(&'static str, f64)>,
    /// G.711 round trip.
    pub codec: Codec,
    /// Where in the noise bed this file's stretch starts, as a fraction of the room there is.
    pub noise_seek: f64,
}

/// One corpus file.
#[derive(Clone, Debug)]
pub struct Item {
    /// File name inside the corpus folder.
    pub file: String,
    /// The label.
    pub label: VerdictClass,
    /// The generator's sub-kind (e.g. `person-twice`, `greeting-beep`), for breakdowns.
    pub kind: &'static str,
    /// Language or tone family, for breakdowns.
    pub lang: &'static str,
    /// Where the labelled sound starts (announcements: issue 18 times them from there; the
    /// first sounding frame of the cut, after any lead-in and any pause the cut starts in).
    pub onset_ms: Option<u32>,
    /// The timeline.
    pub parts: Vec<Part>,
    /// The line.
    pub channel: Channel,
}

/// A reference announcement the corpus cuts from: its name (`cmn/vacant`) and length.
#[derive(Clone, Debug)]
pub struct Reference {
    /// Name relative to the library folder, without extension.
    pub name: String,
    /// Its length, ms.
    pub ms: u32,
    /// Per 20 ms frame: whether it sounds (not one of the pauses between its parts).
    pub sounding: Vec<bool>,
}

/// Where a library keeps voicemail systems' prompts (`outdial::cpa::fingerprint::VOICEMAIL_DIR`):
/// references named under it are voicemail, not announcements.
pub const VOICEMAIL_PREFIX: &str = "voicemail/";

impl Reference {
    /// A voicemail system's prompt (a machine), not a carrier's announcement.
    pub fn is_voicemail(&self) -> bool {
        self.name.starts_with(VOICEMAIL_PREFIX)
    }

    /// The language folder of the name (`cmn/vacant`, `voicemail/yue/x` → `cmn`, `yue`).
    fn lang(&self) -> &'static str {
        let name = self
            .name
            .strip_prefix(VOICEMAIL_PREFIX)
            .unwrap_or(&self.name);
        if name.starts_with("cmn") {
            "cmn"
        } else if name.starts_with("yue") {
            "yue"
        } else {
            "en"
        }
    }
}

/// Pause between two plays of a reference when a carrier loops it (see `render::cut`).
pub const LOOP_GAP_MS: u32 = 500;

impl Item {
    /// The reference an announcement's cut is from and where in it the cut starts (ms).
    pub fn cut(&self) -> Option<(usize, u32)> {
        self.parts.iter().find_map(|p| match p {
            Part::Reference { index, from_ms, .. } => Some((*index, *from_ms)),
            _ => None,
        })
    }
}

impl Reference {
    /// For a cut starting `from_ms` into the looped reference: the message's last words heard
    /// before the loop's pause (the tail, ms; 0 when the cut starts in a pause), and that pause
    /// until the repeat's first sound (ms).
    pub fn tail_and_pause(&self, from_ms: u32) -> (u32, u32) {
        let frames = self.sounding.len() as u32;
        let period = frames + LOOP_GAP_MS / 20;
        // The loop's frame where the cut's first sound is, the message's last sounding frame,
        // and the repeat's first.
        let start = (from_ms + self.silence_from(from_ms)) / 20 % period;
        let last = self.sounding.iter().rposition(|&s| s).unwrap_or(0) as u32;
        let head = self.sounding.iter().position(|&s| s).unwrap_or(0) as u32;
        if start <= last {
            ((last + 1 - start) * 20, (period - last - 1 + head) * 20)
        } else {
            (0, 0)
        }
    }

    /// Milliseconds from `from_ms` into the looped reference until it sounds: a cut that starts
    /// in a pause starts, for a listener, when the voice comes back.
    pub fn silence_from(&self, from_ms: u32) -> u32 {
        let frames = self.sounding.len() as u32;
        let period = frames + LOOP_GAP_MS / 20;
        let start = from_ms / 20;
        (0..2 * period)
            .map(|k| start + k)
            .find(|&f| {
                let p = f % period;
                p < frames && self.sounding[p as usize]
            })
            .map_or(0, |f| (f - start) * 20)
    }
}

const VOICES_CMN: [&str; 5] = ["cmn", "cmn+f2", "cmn+m3", "cmn+f4", "cmn+m7"];
const VOICES_YUE: [&str; 3] = ["yue", "yue+f3", "yue+m2"];
const VOICES_EN: [&str; 8] = [
    "en-us",
    "en-gb+f3",
    "en-gb-scotland",
    "en-029+m2",
    "en-us-nyc+f2",
    "en-gb-x-rp+m4",
    "en-us+f4",
    "en-gb-x-gbclan",
];

/// People answering (issue 18: "喂?", "你好,哪位?", "Hello?", "喂,你好").
const ANSWER_CMN: [&str; 6] = [
    "喂?",
    "你好,哪位?",
    "喂,你好",
    "喂,哪位?",
    "你好?",
    "喂,你好,哪位啊?",
];
const ANSWER_YUE: [&str; 3] = ["喂?", "喂,你好", "你好,边位?"];
const ANSWER_EN: [&str; 5] = [
    "Hello?",
    "Hello, who's this?",
    "Hi, hello?",
    "Yes, hello?",
    "Hello, speaking.",
];
/// Long human greetings (the hard case that looks like a short machine).
const LONG_CMN: [&str; 3] = [
    "喂,你好,我是张伟,请问哪位?",
    "喂,你好,我是李娜,请问你找谁?",
    "你好,这里是王明,请问有什么事?",
];
const LONG_YUE: [&str; 1] = ["喂,你好,我系陈大文,请问边位?"];
const LONG_EN: [&str; 2] = [
    "Hello, this is David Chen speaking, who is calling please?",
    "Hi, Sarah Miller here, who am I speaking to?",
];
/// Voicemail greeting sentences; a greeting is as many as fit its length (2–12 s).
const GREETING_CMN: [&str; 9] = [
    "您好,",
    "我现在不方便接听电话。",
    "请在提示音后留下您的姓名和电话号码,",
    "我会尽快给您回电。",
    "谢谢您的来电。",
    "您好,这里是王先生的语音信箱。",
    "我现在正在开会,",
    "如有急事请发短信给我。",
    "请留言。",
];
const GREETING_YUE: [&str; 4] = [
    "你好,我而家唔方便听电话,",
    "请喺嘟一声之后留低你嘅名同电话,",
    "我会尽快覆你,",
    "多谢你打嚟。",
];
const GREETING_EN: [&str; 7] = [
    "Hi, you've reached Sarah.",
    "I can't take your call right now.",
    "Please leave your name, number and a short message after the tone,",
    "and I'll get back to you as soon as I can.",
    "Thanks for calling.",
    "Hello, this is the voicemail of Michael Brown.",
    "I'm away from my desk at the moment.",
];
/// Short machine greetings (the hard case that looks like a person).
const SHORT_CMN: [&str; 2] = ["请在提示音后留言。", "请留言。"];
const SHORT_YUE: [&str; 1] = ["请留言。"];
const SHORT_EN: [&str; 3] = [
    "Please leave a message.",
    "Leave a message after the tone.",
    "Not here, leave a message.",
];
/// What follows a SIT when the carrier speaks after it (not a library announcement).
const AFTER_SIT: [&str; 2] = [
    "We're sorry, your call cannot be completed as dialed.",
    "All circuits are busy now. Please try your call again later.",
];

/// SIT frequencies (ITU-T E.180 / North American): first segment low/high, second low/high,
/// third always 1776.7 Hz.
const SIT_F1: [f64; 2] = [913.8, 985.2];
const SIT_F2: [f64; 2] = [1370.6, 1428.5];
const SIT_F3: f64 = 1776.7;
const SHORT: u32 = 274;
const LONG: u32 = 380;
/// The North American SIT codes as (name, first/second frequency high?, segment lengths), as
/// the Bell System recorder/announcer tables list them (L = long 380 ms, S = short 274 ms).
pub const SIT_CODES: [(&str, bool, bool, [u32; 3]); 8] = [
    ("intercept", false, false, [SHORT, SHORT, LONG]),
    ("vacant-code", true, false, [LONG, SHORT, LONG]),
    ("reorder-intra", false, true, [SHORT, LONG, LONG]),
    ("reorder-inter", true, false, [SHORT, LONG, LONG]),
    ("no-circuit-intra", true, true, [LONG, LONG, LONG]),
    ("no-circuit-inter", false, false, [LONG, LONG, LONG]),
    ("ineffective-other", false, true, [LONG, SHORT, LONG]),
    ("reserved", true, true, [SHORT, SHORT, LONG]),
];

/// How many files of each kind at scale 1 (the test size, ~200 files); the full corpus is
/// scale 5 (~1,000).
pub struct Counts {
    person: usize,
    person_twice: usize,
    person_long: usize,
    person_noisy: usize,
    greeting_beep: usize,
    greeting: usize,
    short_beep: usize,
    short: usize,
    greeting_noisy: usize,
    announcement_per_ref: usize,
    sit_per_code: usize,
    cng: usize,
    ced: usize,
    dead_air: usize,
    carrier_voicemail: usize,
}

impl Counts {
    /// Scale 1 times `scale`.
    pub fn scaled(scale: usize) -> Counts {
        Counts {
            person: 36 * scale,
            person_twice: 10 * scale,
            person_long: 10 * scale,
            person_noisy: 8 * scale,
            greeting_beep: 18 * scale,
            greeting: 14 * scale,
            short_beep: 8 * scale,
            short: 4 * scale,
            greeting_noisy: 6 * scale,
            announcement_per_ref: 4 * scale,
            sit_per_code: 2 * scale,
            cng: 8 * scale,
            ced: 8 * scale,
            dead_air: 20 * scale,
            carrier_voicemail: 12 * scale,
        }
    }
}

fn pick<'a, T: ?Sized>(rng: &mut ChaCha8Rng, from: &[&'a T]) -> &'a T {
    from.choose(rng).copied().unwrap_or_else(|| from[0])
}

/// A language with its voices and texts, drawn 50 % Mandarin, 20 % Cantonese, 30 % English.
fn language(rng: &mut ChaCha8Rng) -> &'static str {
    match rng.gen_range(0..10) {
        0..=4 => "cmn",
        5..=6 => "yue",
        _ => "en",
    }
}

fn speech(rng: &mut ChaCha8Rng, lang: &str, text: String) -> Speech {
    let voice = match lang {
        "cmn" => pick(rng, &VOICES_CMN),
        "yue" => pick(rng, &VOICES_YUE),
        _ => pick(rng, &VOICES_EN),
    };
    // espeak-ng's Chinese voices are slow at English rates: 170–250 wpm gives 4–6 syllables/s.
    let speed = if lang == "en" {
        rng.gen_range(140..=210)
    } else {
        rng.gen_range(170..=250)
    };
    Speech {
        voice: voice.to_string(),
        text,
        speed,
        pitch: rng.gen_range(25..=75),
        gap: rng.gen_range(0..=5),
    }
}

/// Rough spoken length of `text` in s (measured on espeak-ng: ~0.25 s per Chinese character at
/// 170 wpm, ~0.05 s per English character at 165 wpm), to build greetings of a given length.
fn spoken_s(lang: &str, text: &str, speed: u32) -> f64 {
    let chars = text.chars().filter(|c| c.is_alphanumeric()).count() as f64;
    let per_char = if lang == "en" {
        0.05 * 165.0
    } else {
        0.25 * 170.0
    };
    chars * per_char / f64::from(speed.max(1)) + 0.3
}

/// A voicemail greeting of about 2–12 s: sentences from the pool, in order from a random one,
/// while they fit.
fn greeting(rng: &mut ChaCha8Rng, lang: &'static str) -> Speech {
    let mut s = speech(rng, lang, String::new());
    let pool = texts(lang, &GREETING_CMN, &GREETING_YUE, &GREETING_EN);
    let target = rng.gen_range(2.0..12.0);
    let start = rng.gen_range(0..pool.len());
    let mut chosen: Vec<&str> = Vec::new();
    let mut est = 0.0;
    for k in 0..pool.len() {
        let sentence = pool[(start + k) % pool.len()];
        let d = spoken_s(lang, sentence, s.speed);
        if !chosen.is_empty() && est + d > target {
            break;
        }
        chosen.push(sentence);
        est += d;
    }
    s.text = chosen.join(" ");
    s
}

fn texts(
    lang: &str,
    cmn: &[&'static str],
    yue: &[&'static str],
    en: &[&'static str],
) -> Vec<&'static str> {
    match lang {
        "cmn" => cmn.to_vec(),
        "yue" => yue.to_vec(),
        _ => en.to_vec(),
    }
}

/// A line: quiet noise (−70..−48 dB re full-scale white noise, i.e. roughly −75..−53 dBFS RMS)
/// or, when `noisy`, noise 10–20 dB under the speech; a G.711 round trip for two files in three.
fn channel(rng: &mut ChaCha8Rng, noisy: bool, sound: bool) -> Channel {
    let peak_db = sound.then(|| rng.gen_range(-24.0..-3.0));
    let colour = if rng.gen_bool(0.5) {
        "whitenoise"
    } else {
        "pinknoise"
    };
    let noise = if noisy {
        // Speech RMS sits ~15 dB under its peak; white noise at gain 0 is ~−4.8 dBFS RMS.
        let snr = rng.gen_range(10.0..20.0);
        Some((colour, peak_db.unwrap_or(-10.0) - 15.0 - snr + 4.8))
    } else if rng.gen_bool(0.9) {
        Some((colour, rng.gen_range(-70.0..-48.0)))
    } else {
        None
    };
    let codec = match rng.gen_range(0..3) {
        0 => Codec::Linear,
        1 => Codec::Ulaw,
        _ => Codec::Alaw,
    };
    Channel {
        peak_db,
        noise,
        codec,
        noise_seek: rng.gen(),
    }
}

fn silence(rng: &mut ChaCha8Rng, lo: u32, hi: u32) -> Part {
    Part::Silence {
        ms: rng.gen_range(lo..=hi),
    }
}

fn beep(rng: &mut ChaCha8Rng) -> Part {
    Part::Tones(vec![(
        rng.gen_range(850.0..1500.0),
        rng.gen_range(300..=1500),
    )])
}

/// Early media (a 183 before the answer) that is neither announcement nor SIT: coloured
/// ringback tones (彩铃) speak too, and must not be taken for a carrier's announcement.
const CRBT_SPEECH: [(&str, &str); 4] = [
    ("cmn", "欢迎致电,您拨打的用户正在为您接通,请稍候。"),
    ("cmn", "感谢您使用彩铃业务,祝您生活愉快,工作顺利。"),
    ("yue", "多谢你嘅来电,请稍候,正在为你接通。"),
    (
        "en",
        "Please hold while we connect your call. Thank you for waiting.",
    ),
];
/// Notes of a pentatonic scale (Hz) for music-like coloured ringback.
const SCALE: [f64; 8] = [261.6, 293.7, 329.6, 392.0, 440.0, 523.3, 587.3, 659.3];

/// The early-media plan (`--phase early`): announcements (after silence or one ringback burst),
/// SIT, and what must give no verdict (`unsure` when the audio ends): ringback (China 450 Hz 1 s
/// on 4 s off, North America 440+480 Hz 2 s on 4 s off) and coloured ringback, music or speech.
pub fn plan_early(seed: u64, scale: usize, refs: &[Reference]) -> Vec<Item> {
    use rand::SeedableRng;
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x6561_726c_7920_6d65);
    let mut items = Vec::new();
    let push =
        |items: &mut Vec<Item>, kind: &'static str, label, lang, onset_ms, parts, channel| {
            let file = format!("early-{:03}-{kind}-{lang}.wav", items.len());
            items.push(Item {
                file,
                label,
                kind,
                lang,
                onset_ms,
                parts,
                channel,
            });
        };
    for _ in 0..6 * scale {
        let mut parts = vec![silence(&mut rng, 0, 500)];
        for _ in 0..2 {
            parts.push(Part::Tones(vec![(450.0, 1000)]));
            parts.push(Part::Silence { ms: 4000 });
        }
        let ch = channel(&mut rng, false, true);
        push(
            &mut items,
            "ringback",
            VerdictClass::Unsure,
            "cn",
            None,
            parts,
            ch,
        );
    }
    for _ in 0..4 * scale {
        let mut parts = vec![silence(&mut rng, 0, 500)];
        for _ in 0..2 {
            parts.push(Part::Chords(vec![(vec![440.0, 480.0], 2000)]));
            parts.push(Part::Silence { ms: 4000 });
        }
        let ch = channel(&mut rng, false, true);
        push(
            &mut items,
            "ringback",
            VerdictClass::Unsure,
            "na",
            None,
            parts,
            ch,
        );
    }
    for _ in 0..8 * scale {
        let mut notes = Vec::new();
        let mut ms = 0;
        while ms < 8000 {
            let d = rng.gen_range(150..=400);
            let root = *SCALE.choose(&mut rng).unwrap_or(&SCALE[0]);
            notes.push((vec![root, root * 1.5, root / 2.0], d));
            ms += d;
        }
        let ch = channel(&mut rng, false, true);
        push(
            &mut items,
            "crbt-music",
            VerdictClass::Unsure,
            "tone",
            None,
            vec![Part::Chords(notes)],
            ch,
        );
    }
    for _ in 0..6 * scale {
        let (lang, text) = *CRBT_SPEECH.choose(&mut rng).unwrap_or(&CRBT_SPEECH[0]);
        let lang: &'static str = lang;
        let parts = vec![
            silence(&mut rng, 0, 500),
            Part::Speech(speech(&mut rng, lang, text.to_string())),
            silence(&mut rng, 500, 1500),
        ];
        let ch = channel(&mut rng, false, true);
        push(
            &mut items,
            "crbt-speech",
            VerdictClass::Unsure,
            lang,
            None,
            parts,
            ch,
        );
    }
    // Announcements only: a voicemail system answers the call, it plays no early media.
    for (index, r) in refs.iter().enumerate().filter(|(_, r)| !r.is_voicemail()) {
        for _ in 0..2 * scale {
            let mut parts = Vec::new();
            let pre = if rng.gen_bool(0.5) {
                let gap = rng.gen_range(300..=1000);
                parts.push(Part::Tones(vec![(450.0, 1000)]));
                parts.push(Part::Silence { ms: gap });
                1000 + gap
            } else {
                let pre = rng.gen_range(0..=600);
                parts.push(Part::Silence { ms: pre });
                pre
            };
            let from_ms = rng.gen_range(0..r.ms.max(1));
            let onset = pre + r.silence_from(from_ms);
            parts.push(Part::Reference {
                index,
                from_ms,
                ms: rng.gen_range(3000..=6000),
            });
            parts.push(silence(&mut rng, 300, 800));
            let ch = channel(&mut rng, false, true);
            let lang = r.name.split('/').next().map_or("en", |l| match l {
                "cmn" => "cmn",
                "yue" => "yue",
                _ => "en",
            });
            push(
                &mut items,
                "announcement",
                VerdictClass::Announcement,
                lang,
                Some(onset),
                parts,
                ch,
            );
        }
    }
    for (name, hi1, hi2, lens) in SIT_CODES.iter().copied().cycle().take(8 * scale) {
        let tones = vec![
            (SIT_F1[usize::from(hi1)], lens[0]),
            (SIT_F2[usize::from(hi2)], lens[1]),
            (SIT_F3, lens[2]),
        ];
        let parts = vec![
            silence(&mut rng, 0, 500),
            Part::Tones(tones),
            silence(&mut rng, 1000, 2000),
        ];
        let ch = channel(&mut rng, false, true);
        push(&mut items, "sit", VerdictClass::Sit, name, None, parts, ch);
    }
    items
}

/// The whole plan for `seed` at `scale`, with `refs` the announcements to cut from.
pub fn plan(seed: u64, scale: usize, refs: &[Reference]) -> Vec<Item> {
    use rand::SeedableRng;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let c = Counts::scaled(scale);
    let mut items = Vec::new();
    let push =
        |items: &mut Vec<Item>, kind: &'static str, label, lang, onset_ms, parts, channel| {
            let file = format!("{:04}-{kind}-{lang}.wav", items.len());
            items.push(Item {
                file,
                label,
                kind,
                lang,
                onset_ms,
                parts,
                channel,
            });
        };

    // People: a pause after the answer, the greeting, then waiting in silence (some say it
    // again after 2 s).
    let people = [
        ("person", c.person, false, false, false),
        ("person-twice", c.person_twice, true, false, false),
        ("person-long", c.person_long, false, true, false),
        ("person-noisy", c.person_noisy, false, false, true),
    ];
    for (kind, n, twice, long, noisy) in people {
        for _ in 0..n {
            let lang = language(&mut rng);
            let pool = if long {
                texts(lang, &LONG_CMN, &LONG_YUE, &LONG_EN)
            } else {
                texts(lang, &ANSWER_CMN, &ANSWER_YUE, &ANSWER_EN)
            };
            let text = pick(&mut rng, &pool).to_string();
            let said = speech(&mut rng, lang, text);
            let mut parts = vec![silence(&mut rng, 200, 1000), Part::Speech(said.clone())];
            if twice {
                parts.push(Part::Silence { ms: 2000 });
                parts.push(Part::Speech(said));
            }
            parts.push(silence(&mut rng, 2500, 4000));
            let ch = channel(&mut rng, noisy, true);
            push(&mut items, kind, VerdictClass::Human, lang, None, parts, ch);
        }
    }

    // Voicemail greetings of 1–6 sentences (2–12 s), with or without a beep; short ones.
    let machines = [
        ("greeting-beep", c.greeting_beep, false, true, false),
        ("greeting", c.greeting, false, false, false),
        ("short-beep", c.short_beep, true, true, false),
        ("short", c.short, true, false, false),
        ("greeting-noisy", c.greeting_noisy, false, true, true),
    ];
    for (kind, n, short, with_beep, noisy) in machines {
        for _ in 0..n {
            let lang = language(&mut rng);
            let said = if short {
                let text = pick(&mut rng, &texts(lang, &SHORT_CMN, &SHORT_YUE, &SHORT_EN));
                speech(&mut rng, lang, text.to_string())
            } else {
                greeting(&mut rng, lang)
            };
            let mut parts = vec![silence(&mut rng, 100, 600), Part::Speech(said)];
            if with_beep {
                parts.push(silence(&mut rng, 200, 600));
                parts.push(beep(&mut rng));
            }
            parts.push(silence(&mut rng, 2000, 3000));
            let ch = channel(&mut rng, noisy, true);
            push(
                &mut items,
                kind,
                VerdictClass::Machine,
                lang,
                None,
                parts,
                ch,
            );
        }
    }

    // Announcements: each reference cut at a random offset, 3–6 s of it, after 0–600 ms.
    for (index, r) in refs.iter().enumerate().filter(|(_, r)| !r.is_voicemail()) {
        for _ in 0..c.announcement_per_ref {
            let pre = rng.gen_range(0..=600);
            let from_ms = rng.gen_range(0..r.ms.max(1));
            let ms = rng.gen_range(3000..=6000);
            let parts = vec![
                Part::Silence { ms: pre },
                Part::Reference { index, from_ms, ms },
                silence(&mut rng, 500, 1000),
            ];
            let onset = pre + r.silence_from(from_ms);
            let ch = channel(&mut rng, false, true);
            let lang = if r.name.starts_with("cmn") {
                "cmn"
            } else if r.name.starts_with("yue") {
                "yue"
            } else {
                "en"
            };
            push(
                &mut items,
                "announcement",
                VerdictClass::Announcement,
                lang,
                Some(onset),
                parts,
                ch,
            );
        }
    }

    // SIT of each code (±0.5 % frequency error), then silence or a spoken apology.
    for (name, hi1, hi2, lens) in SIT_CODES {
        for _ in 0..c.sit_per_code {
            let jitter = |rng: &mut ChaCha8Rng, f: f64| f * rng.gen_range(0.995..1.005);
            let tones = vec![
                (jitter(&mut rng, SIT_F1[usize::from(hi1)]), lens[0]),
                (jitter(&mut rng, SIT_F2[usize::from(hi2)]), lens[1]),
                (jitter(&mut rng, SIT_F3), lens[2]),
            ];
            let mut parts = vec![silence(&mut rng, 0, 500), Part::Tones(tones)];
            if rng.gen_bool(0.5) {
                parts.push(silence(&mut rng, 100, 300));
                let text = pick(&mut rng, &AFTER_SIT).to_string();
                parts.push(Part::Speech(speech(&mut rng, "en", text)));
            }
            parts.push(silence(&mut rng, 1000, 2000));
            let ch = channel(&mut rng, false, true);
            push(&mut items, "sit", VerdictClass::Sit, name, None, parts, ch);
        }
    }

    // Fax: CNG (1100 Hz, 0.5 s on, 3 s off, 2–3 times) and CED (2100 Hz for 2.6–4 s).
    for _ in 0..c.cng {
        let mut parts = vec![silence(&mut rng, 0, 1000)];
        for _ in 0..rng.gen_range(2..=3) {
            parts.push(Part::Tones(vec![(1100.0, 500)]));
            parts.push(Part::Silence { ms: 3000 });
        }
        let ch = channel(&mut rng, false, true);
        push(
            &mut items,
            "fax-cng",
            VerdictClass::Fax,
            "tone",
            None,
            parts,
            ch,
        );
    }
    for _ in 0..c.ced {
        let parts = vec![
            silence(&mut rng, 200, 1000),
            Part::Tones(vec![(2100.0, rng.gen_range(2600..=4000))]),
            silence(&mut rng, 500, 1500),
        ];
        let ch = channel(&mut rng, false, true);
        push(
            &mut items,
            "fax-ced",
            VerdictClass::Fax,
            "tone",
            None,
            parts,
            ch,
        );
    }

    // Dead air: 6–8 s of line noise (or nothing at all).
    for _ in 0..c.dead_air {
        let parts = vec![silence(&mut rng, 6000, 8000)];
        let ch = channel(&mut rng, false, false);
        push(
            &mut items,
            "dead-air",
            VerdictClass::Silence,
            "none",
            None,
            parts,
            ch,
        );
    }

    // Carrier voicemail: the system's prompt from its start (after 0–600 ms, on an
    // announcement's line), its beep, silence. Drawn from a generator of its own and numbered
    // after every other kind, so the kinds above keep their files whatever the library holds.
    let voicemail: Vec<(usize, &Reference)> = refs
        .iter()
        .enumerate()
        .filter(|(_, r)| r.is_voicemail())
        .collect();
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x766d_6169_6c20_7379);
    for k in 0..if voicemail.is_empty() {
        0
    } else {
        c.carrier_voicemail
    } {
        let (index, r) = voicemail[k % voicemail.len()];
        let parts = vec![
            Part::Silence {
                ms: rng.gen_range(0..=600),
            },
            Part::Reference {
                index,
                from_ms: 0,
                ms: r.ms,
            },
            silence(&mut rng, 200, 600),
            beep(&mut rng),
            silence(&mut rng, 2000, 3000),
        ];
        let ch = channel(&mut rng, false, true);
        push(
            &mut items,
            "carrier-voicemail",
            VerdictClass::Machine,
            r.lang(),
            None,
            parts,
            ch,
        );
    }
    items
}
