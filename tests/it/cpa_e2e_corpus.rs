//! Issue 18's end-to-end figure: a sample of the generated corpus (`cpa_support`: people,
//! voicemail greetings, carriers' announcements after the answer, and announcements in early
//! media) streamed by one SIPp trunk as RTP to the real `outdial run` with media anchored and
//! analysis on, four nailed-up agents on a baresip. The same files go through
//! `outdial cpa classify` offline, and the test asserts what a user notices:
//! - the live verdicts in the call records are the offline ones (the offline tool reads the
//!   same µ-law the trunk streams) except for at most [`timing_allowance`] calls, whose audio
//!   the network shifted;
//! - the analysis delay in each record is the offline decision time plus the far end's own start
//!   (analysis start to its first packet, from the engine's `cpa timing` debug line) plus the
//!   tap's packetisation ([`tap_lag_bounds`]): no time of outdial's beyond that;
//! - each label's misses stay within what a classifier at the issue's target rate makes
//!   ([`allowed_misses`]);
//! - each verdict did what the campaign's policy says: people (and unsure) are connected or
//!   abandoned, never hung up on; machines are hung up with `machine`; announcements with their
//!   own disposition; an announcement in a 183 cancels the call before any answer;
//! - agents receive only calls the classifier passed as people (or unsure), so no more
//!   non-people than the offline classifier itself passes;
//! - a call that joins a looped announcement in its last words is told from its tail live as
//!   offline ([`tail_cut`]: the sample always holds one).
//!
//! One SIPp serves every call: its scenario (written here) picks the audio by the number
//! dialled. Bounded: about 30 calls, every wait capped, the whole test well under a minute
//! once the corpus is cached (`target/cpa-corpus`). The figures it prints are in BENCHMARKS.md.

use crate::cpa_support;
use crate::engine_support;
use crate::media_support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use engine_support::{
    campaign_yaml, finish_engine, free_port, open_and_closed_zones, outdial, Proc, TOKEN,
};
use media_support::audio::to_ulaw;
use media_support::baresip::Baresip;
use media_support::sipp::Builder;
use media_support::{free_udp_ports, peers_available, temp_dir};
use outdial::cpa::score::parse_results;
use outdial::cpa::VerdictClass;

/// Files of each kind in the sample (answered calls: people, greetings, announcements; early
/// media: announcements in a 183).
const PEOPLE: usize = 14;
const GREETINGS: usize = 12;
const ANNOUNCEMENTS: usize = 3;
const EARLY: usize = 3;
/// The dispositions of a known announcement (by its name: powered off, vacant, …).
const ANNOUNCED: [&str; 6] = [
    "powered_off",
    "invalid",
    "suspended",
    "unreachable",
    "busy",
    "announcement",
];
/// Nailed-up agents (one baresip account each).
const AGENTS: u32 = 4;
/// A customer who is not hung up on hangs up this long after the ACK: longer than any analysis
/// (`total_analysis`, 6.5 s by default, then a `machine` held for `announcement_grace`, 2 s)
/// plus the live lag of the verdict behind the offline one, so every call gets its verdict
/// before the customer's BYE.
const CUSTOMER_HOLD_MS: u32 = 9_500;
/// The tap's frame (packetisation, ms; `outdial::media::jitter`).
const FRAME_MS: i64 = outdial::media::jitter::SLOT_SAMPLES as i64 / 8;
/// How many interarrival jitters (RFC 3550's smoothed mean deviation) a packet may come late.
const JITTER_SPAN: f64 = 4.0;
/// Allowed chance that a correct classifier fails a rate check below (one-sided, per label).
const ALPHA: f64 = 0.01;

/// One call of the sample: the corpus file, its label and the phone dialled.
struct Call {
    file: String,
    label: VerdictClass,
    early: bool,
    phone: String,
}

fn target_dir() -> PathBuf {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    tmp.parent().unwrap_or(tmp).to_path_buf()
}

/// `n` items of `items` labelled `label`, spread evenly over them (so every generator kind
/// and language of that label is represented), in plan order.
fn spread(items: &[cpa_support::Item], label: VerdictClass, n: usize) -> Vec<&cpa_support::Item> {
    let of: Vec<_> = items.iter().filter(|i| i.label == label).collect();
    let step = (of.len() / n.max(1)).max(1);
    of.into_iter().step_by(step).take(n).collect()
}

/// The first answered announcement that the tail rule itself recognises, with a margin over its
/// threshold (0.05: the live audio is the µ-law of the file), among the cuts that start in a
/// message's last words: the corpus must hold one, or the live tail rule goes unexercised.
fn tail_cut(corpus: &cpa_support::Corpus) -> &cpa_support::Item {
    use outdial::cpa::fingerprint::{tail::MIN_SCORE, Library, Matcher, Recognition};
    use std::sync::Arc;
    let refs = cpa_support::references::load(&corpus.announcements)
        .unwrap_or_else(|| panic!("{}: no references", corpus.announcements.display()))
        .refs;
    let library = Arc::new(
        Library::load_dir(&corpus.announcements)
            .unwrap_or_else(|e| panic!("{}: {e}", corpus.announcements.display())),
    );
    let by_tail_rule = |item: &cpa_support::Item| {
        let path = corpus.dir.join(&item.file);
        let pcm = outdial::media::wav::load(&path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .0;
        let mut m = Matcher::new(Arc::clone(&library));
        outdial::cpa::frames_of(&pcm, 0, 0)
            .iter()
            .find_map(|f| m.push(f))
            .is_some_and(|r| matches!(r, Recognition::Tail(t) if t.score >= MIN_SCORE + 0.05))
    };
    corpus
        .items
        .iter()
        .filter(|i| i.label == VerdictClass::Announcement)
        .filter(|i| {
            i.cut()
                .and_then(|(r, from_ms)| refs.get(r).map(|r| r.tail_and_pause(from_ms).0))
                .is_some_and(|tail| tail > 0)
        })
        .find(|i| by_tail_rule(i))
        .expect("the corpus holds an announcement cut the tail rule recognises")
}

/// The disagreements network timing may explain: the engine analyses RTP as it arrives (its
/// first frame some milliseconds after the answer, frames re-aligned by the jitter buffer),
/// the offline tool the file from byte 0; a 20 ms shift moves every frame's energy and a
/// landmark's bin, which flips a verdict on the cusp (the corpus test saw a same-voice greeting
/// match an announcement at 2 of 20 sub-frame alignments). A tenth of the calls, at least 2.
fn timing_allowance(n: usize) -> usize {
    n.div_ceil(10).max(2)
}

/// The live analysis delay less the offline decision time and less the far end's own start
/// (analysis start to its first RTP packet), when the engine works as designed: the tap counts
/// frames from the start of the 20-ms slot that holds the analysis start, places the first
/// packet's audio at the start of the slot it arrived in, and hands a frame over as soon as its
/// packet is in (`media::jitter`). SIPp sends packet j (audio j·FRAME..(j+1)·FRAME of the file)
/// j·FRAME after its first, so the frame the offline tool decides at `d` (its end) reaches the
/// engine at `start + d - FRAME`: the tap's lag is -FRAME. Both instants are the engine's (the
/// first packet's as its event arrives), so either may be late by scheduling (worker wake-up,
/// analysis thread, engine channel): one frame allowed each way, and [`JITTER_SPAN`] times the
/// leg's measured interarrival jitter (per call, from its record) on top, either way.
/// Two shared cores busy with other builds measured -32..7 ms; the earlier buffer, which held
/// every frame 60 ms after its slot began, measured 14..47 ms and fails this.
fn tap_lag_bounds() -> (i64, i64) {
    (-2 * FRAME_MS - 1, FRAME_MS)
}

/// The most calls of `n` a classifier with miss rate `miss` (the issue's target) gets wrong
/// with probability at least [`ALPHA`]: the smallest k with P(X > k) < ALPHA, X ~ Bin(n, miss).
fn allowed_misses(n: usize, miss: f64) -> usize {
    let mut cdf = 0.0;
    let mut pmf = (1.0 - miss).powi(n as i32);
    for k in 0..=n {
        cdf += pmf;
        if 1.0 - cdf < ALPHA {
            return k;
        }
        pmf *= (n - k) as f64 / (k + 1) as f64 * miss / (1.0 - miss);
    }
    n
}

/// The engine's own account of each call's far-end start (`cpa timing: first audio` at debug):
/// lead id → ms from the analysis start to the first RTP packet.
fn first_audio(log: &str) -> BTreeMap<i64, i64> {
    let field = |line: &str, name: &str| -> Option<i64> {
        let at = line.find(&format!("{name}="))? + name.len() + 1;
        let digits: String = line[at..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        digits.parse().ok()
    };
    log.lines()
        .map(|l| {
            // The engine colours its log: drop the escape sequences.
            let mut out = String::with_capacity(l.len());
            let mut esc = false;
            for ch in l.chars() {
                match (esc, ch) {
                    (false, '\u{1b}') => esc = true,
                    (true, 'm') => esc = false,
                    (true, _) => {}
                    (false, c) => out.push(c),
                }
            }
            out
        })
        .filter(|l| l.contains("cpa timing: first audio"))
        .filter_map(|l| Some((field(&l, "lead")?, field(&l, "after_ms")?)))
        .collect()
}

/// `outdial run` with its log at warn, and the analysis-timing lines at debug, to `log`.
fn start_engine_traced(db: &str, config: &Path, log: &Path) -> Proc {
    let child = Command::new(env!("CARGO_BIN_EXE_outdial"))
        .args(["--db", db, "run", "--json", "--config"])
        .arg(config)
        .env("OUTDIAL_LOG", "warn,outdial::engine::core::media=debug")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(log).expect("log"))
        .spawn()
        .expect("spawn engine");
    Proc { child }
}

/// Call k's audio as the offline tool reads it: the µ-law the trunk streams, decoded.
fn offline_name(k: usize) -> String {
    format!("f{k}.wav")
}

/// Runs `outdial cpa classify --json` on `files` (in `dir`); verdict class by file.
fn classify_offline(
    dir: &Path,
    files: &[&str],
    phase: &str,
    announcements: &Path,
    out: &Path,
) -> std::process::Child {
    let stdout = std::fs::File::create(out).expect("results file");
    Command::new(env!("CARGO_BIN_EXE_outdial"))
        .current_dir(dir)
        .args(["cpa", "classify", "--json", "--phase", phase])
        .arg("--announcements")
        .arg(announcements)
        .args(files)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(Stdio::inherit())
        .spawn()
        .expect("outdial cpa classify")
}

fn wait_child(child: &mut std::process::Child, what: &str, limit: Duration) {
    let end = Instant::now() + limit;
    loop {
        match child.try_wait() {
            Ok(Some(st)) => {
                assert!(st.success(), "{what}: {st}");
                return;
            }
            Ok(None) if Instant::now() < end => std::thread::sleep(Duration::from_millis(100)),
            Ok(None) => {
                let _ = child.kill();
                panic!("{what} ran past {limit:?}");
            }
            Err(e) => panic!("{what}: {e}"),
        }
    }
}

/// The SIP and SDP of a 200 or a 183 with SIPp's media address.
fn answer_with_sdp(status: &str) -> String {
    format!(
        r#"  <send retrans="500">
    <![CDATA[

      SIP/2.0 {status}
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:[local_ip]:[local_port];transport=[transport]>
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=customer 53655765 2353687637 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 0
      a=rtpmap:0 PCMU/8000
      a=ptime:20
      a=sendrecv

    ]]>
  </send>
"#
    )
}

fn reply(status: &str, cseq: &str) -> String {
    format!(
        r#"  <send>
    <![CDATA[

      SIP/2.0 {status}
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      {cseq}
      Contact: <sip:[local_ip]:[local_port];transport=[transport]>
      Content-Length: 0

    ]]>
  </send>
"#
    )
}

/// The customers' scenario: the number dialled picks the call's audio (`f<k>.ulaw`, call k).
/// Answered calls: 180, 200 with SDP, the audio after the ACK, then the dialler's BYE or, after
/// [`CUSTOMER_HOLD_MS`], the customer's own. Early calls: 183 with SDP and the audio, then the
/// dialler's CANCEL (200, 487, ACK).
fn scenario(calls: &[Call]) -> String {
    let mut x = String::from(
        "<?xml version=\"1.0\" encoding=\"ISO-8859-1\" ?>\n<!DOCTYPE scenario SYSTEM \"sipp.dtd\">\n\
         <scenario name=\"cpa corpus customers\">\n  <recv request=\"INVITE\" crlf=\"true\" rrs=\"true\">\n    <action>\n\
         \x20     <ereg regexp=\".*\" search_in=\"hdr\" header=\"From:\" assign_to=\"remote_party\" />\n\
         \x20     <ereg regexp=\".*\" search_in=\"hdr\" header=\"To:\" assign_to=\"local_party\" />\n\
         \x20     <ereg regexp=\"[0-9]+\" search_in=\"hdr\" header=\"CSeq:\" assign_to=\"invite_cseq\" />\n",
    );
    for (k, c) in calls.iter().enumerate() {
        x.push_str(&format!(
            "      <ereg regexp=\"{}@\" search_in=\"hdr\" header=\"To:\" assign_to=\"m{k}\" />\n",
            c.phone
        ));
    }
    x.push_str("    </action>\n  </recv>\n");
    x.push_str(
        &reply("100 Trying", "[last_CSeq:]").replace(";tag=[pid]SIPpTag01[call_number]", ""),
    );
    for (k, _) in calls.iter().enumerate().filter(|(_, c)| c.early) {
        x.push_str(&format!("  <nop test=\"m{k}\" next=\"early{k}\" />\n"));
    }
    x.push_str(&reply("180 Ringing", "[last_CSeq:]"));
    x.push_str("  <pause milliseconds=\"200\" />\n");
    x.push_str(&answer_with_sdp("200 OK"));
    // The ACK is the step right after the 200: an ACK that arrives while SIPp is still walking
    // a chain of `nop`s is unexpected there and ignored, and the stream then started only at the
    // ACK of the 200's retransmission, 500 ms later (measured: 24 of 29 answered calls).
    x.push_str("  <recv request=\"ACK\" crlf=\"true\" />\n");
    for (k, _) in calls.iter().enumerate().filter(|(_, c)| !c.early) {
        x.push_str(&format!("  <nop test=\"m{k}\" next=\"ack{k}\" />\n"));
    }
    // A number not in the sample (never dialled): silence, so a mistake shows as a verdict.
    x.push_str("  <nop next=\"talk\" />\n");
    for (k, _) in calls.iter().enumerate().filter(|(_, c)| !c.early) {
        x.push_str(&format!(
            "  <label id=\"ack{k}\" />\n  <nop next=\"talk\">\n    \
             <action>\n      <exec rtp_stream=\"f{k}.ulaw,1,0\" />\n    </action>\n  </nop>\n"
        ));
    }
    x.push_str(&format!(
        "  <label id=\"talk\" />\n  <recv request=\"BYE\" timeout=\"{CUSTOMER_HOLD_MS}\" ontimeout=\"hangup\" next=\"bye_received\" />\n  <label id=\"hangup\" />\n"
    ));
    x.push_str(
        r#"  <send retrans="500">
    <![CDATA[

      BYE [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: [$local_party];tag=[pid]SIPpTag01[call_number]
      To: [$remote_party]
      [routes]
      Call-ID: [call_id]
      CSeq: 1 BYE
      Max-Forwards: 70
      Contact: <sip:[local_ip]:[local_port];transport=[transport]>
      Content-Length: 0

    ]]>
  </send>
  <recv response="200" crlf="true" next="done" />
  <label id="bye_received" />
"#,
    );
    x.push_str(&reply("200 OK", "[last_CSeq:]").replace("  <send>", "  <send next=\"done\">"));
    for (k, _) in calls.iter().enumerate().filter(|(_, c)| c.early) {
        x.push_str(&format!("  <label id=\"early{k}\" />\n"));
        x.push_str(&answer_with_sdp("183 Session Progress").replace(" retrans=\"500\"", ""));
        x.push_str(&format!(
            "  <nop next=\"cancel\">\n    <action>\n      <exec rtp_stream=\"f{k}.ulaw,1,0\" />\n    </action>\n  </nop>\n"
        ));
    }
    x.push_str("  <label id=\"cancel\" />\n  <recv request=\"CANCEL\" timeout=\"40000\" />\n");
    x.push_str(&reply("200 OK", "[last_CSeq:]"));
    x.push_str(&reply(
        "487 Request Terminated",
        "CSeq: [$invite_cseq] INVITE",
    ));
    x.push_str("  <recv request=\"ACK\" />\n  <label id=\"done\" />\n  <timewait milliseconds=\"500\" />\n</scenario>\n");
    x
}

/// The engine: one anchored trunk (SIPp), four nailed-up agents on `agents`, campaign `c1`.
fn engine_yaml(dir: &Path, trunk: std::net::SocketAddr, agents: std::net::SocketAddr) -> PathBuf {
    let sip_port = free_port();
    let admin_port = free_port();
    let ports = free_udp_ports(100);
    let text = format!(
        "node: n1\nsip:\n  listen: 127.0.0.1:{sip_port}\n  trunks:\n    - {{name: t0, address: \
         \"{trunk}\", max_channels: 12, max_cps: 10, ping_interval: 0s, media: anchor}}\n  groups:\n    \
         - {{name: lab, trunks: [t0]}}\nmedia: {{ports: {ports}-{hi}}}\nadmin:\n  listen: \
         127.0.0.1:{admin_port}\n  tokens:\n    - {{name: test-supervisor, token: {TOKEN}}}\n\
         agents:\n  - {{uri: \"sip:agent{{n}}@{agents}\", count: {AGENTS}, group: lab, skills: \
         [outbound, verification], wrap_up: auto, connect: nailed}}\n\
         auto_wrap_time: {{dist: constant, mean: 1s}}\ncampaigns:\n  - {{name: c1}}\n\
         time_scale: 1\nrun_for: 55s\nshutdown_grace: 2s\n",
        hi = ports + 99,
    );
    let path = dir.join("engine.yaml");
    std::fs::write(&path, text).expect("write config");
    path
}

/// One call record: lead id, external id (the sample index), analysis delay, disposition,
/// verdict, detail, action, answer and connect times, the customer leg's interarrival jitter.
type Row = (
    i64,
    Option<String>,
    Option<i64>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<i64>,
    Option<i64>,
    Option<f64>,
);

fn records(db: &str) -> Vec<Row> {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let store = outdial::store::Store::open(db).await.expect("store");
        let outdial::store::Db::Sqlite(p) = store.db() else {
            panic!("sqlite")
        };
        let rows = sqlx::query_as(
            "SELECT l.id, l.external_id, a.cpa_delay_ms, a.disposition, a.cpa_verdict, a.cpa_detail, a.cpa_action, \
             a.answer_ms, a.connect_ms, a.media_jitter_ms FROM attempts a JOIN leads l ON l.id = a.lead_id \
             WHERE a.disposition IS NOT NULL ORDER BY a.id",
        )
        .fetch_all(p)
        .await
        .expect("attempts");
        store.close().await;
        rows
    })
}

#[test]
fn live_verdicts_on_corpus_audio_match_the_offline_classifier_and_only_people_reach_agents() {
    if !peers_available() || !cpa_support::tools_available() {
        return;
    }
    let started = Instant::now();
    let corpus = cpa_support::corpus(&target_dir());
    let dir = temp_dir("cpa-e2e-corpus");
    let mut sample: Vec<(&cpa_support::Item, bool)> = Vec::new();
    for (label, n) in [
        (VerdictClass::Human, PEOPLE),
        (VerdictClass::Machine, GREETINGS),
        (VerdictClass::Announcement, ANNOUNCEMENTS),
    ] {
        sample.extend(
            spread(&corpus.items, label, n)
                .into_iter()
                .map(|i| (i, false)),
        );
    }
    sample.extend(
        spread(&corpus.early, VerdictClass::Announcement, EARLY)
            .into_iter()
            .map(|i| (i, true)),
    );
    // And a cut that starts in a message's last words, which only the tail rule
    // (`outdial::cpa::fingerprint::tail`) recognises before the repeat: over SIPp too.
    let tail_cut = tail_cut(&corpus);
    println!("cpa e2e: the tail rule's call: {}", tail_cut.file);
    if !sample.iter().any(|(i, _)| i.file == tail_cut.file) {
        sample.push((tail_cut, false));
    }
    // Interleaved (people, greetings and announcements alternate, as on a real list), so a
    // wave of calls is not all people for four agents.
    let class_sizes: BTreeMap<(VerdictClass, bool), usize> =
        sample.iter().fold(BTreeMap::new(), |mut m, (i, e)| {
            *m.entry((i.label, *e)).or_default() += 1;
            m
        });
    let mut seen: BTreeMap<(VerdictClass, bool), usize> = BTreeMap::new();
    let mut order: Vec<(f64, usize)> = sample
        .iter()
        .enumerate()
        .map(|(j, (i, e))| {
            let n = seen.entry((i.label, *e)).or_default();
            *n += 1;
            ((*n as f64 - 0.5) / class_sizes[&(i.label, *e)] as f64, j)
        })
        .collect();
    order.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let sample: Vec<(&cpa_support::Item, bool)> = order.iter().map(|(_, j)| sample[*j]).collect();
    let calls: Vec<Call> = sample
        .iter()
        .enumerate()
        .map(|(k, (item, early))| Call {
            file: item.file.clone(),
            label: item.label,
            early: *early,
            phone: format!("912345{k:02}"),
        })
        .collect();
    // What the trunk streams (µ-law), and the same µ-law decoded back for the offline tool:
    // like with like (a noisy greeting's 16-bit original decided 0.6 s later than its G.711).
    let customers = dir.join("customers");
    std::fs::create_dir_all(&customers).expect("dir");
    for (k, c) in calls.iter().enumerate() {
        let ulaw = to_ulaw(
            &corpus.dir.join(&c.file),
            &customers.join(format!("f{k}.ulaw")),
        );
        let st = Command::new("sox")
            .args(["-t", "ul", "-r", "8000", "-c", "1"])
            .arg(&ulaw)
            .args(["-b", "16", "-e", "signed-integer"])
            .arg(customers.join(offline_name(k)))
            .status()
            .expect("sox");
        assert!(st.success(), "sox: µ-law back to WAV");
    }
    // The offline verdicts, computed while the calls run.
    let names: Vec<String> = (0..calls.len()).map(offline_name).collect();
    let answer_files: Vec<&str> = (0..calls.len())
        .filter(|k| !calls[*k].early)
        .map(|k| names[k].as_str())
        .collect();
    let early_files: Vec<&str> = (0..calls.len())
        .filter(|k| calls[*k].early)
        .map(|k| names[k].as_str())
        .collect();
    let (answer_json, early_json) = (dir.join("offline.json"), dir.join("offline-early.json"));
    let mut offline_answer = classify_offline(
        &customers,
        &answer_files,
        "answer",
        &corpus.announcements,
        &answer_json,
    );
    let mut offline_early = classify_offline(
        &customers,
        &early_files,
        "early",
        &corpus.announcements,
        &early_json,
    );

    let xml = customers.join("customers.xml");
    std::fs::write(&xml, scenario(&calls)).expect("scenario");
    let media = free_udp_ports(4);
    let mut sipp = Builder::new(xml.to_str().expect("path"))
        .dir(&customers)
        .args(["-mi", "127.0.0.1", "-mp", &media.to_string()])
        .args(["-m", &calls.len().to_string()])
        .args(["-default_behaviors", "all,-abortunexp"])
        .timeout(Duration::from_secs(58))
        .spawn();
    let names: Vec<String> = (2..=AGENTS).map(|n| format!("agent{n:04}")).collect();
    let also: Vec<&str> = names.iter().map(String::as_str).collect();
    // The agents' phones say nothing (their microphone is any audio; it plays to the customer).
    let phone = Baresip::start_answering("agent0001", &corpus.dir.join(&calls[0].file), &also);

    let db = format!("sqlite://{}", dir.join("e2e.db").display());
    let text = campaign_yaml("c1", "power")
        .replacen("\"09:00-18:00\"", "\"00:00-23:59\"", 1)
        .replacen("  ratio: 1.0\n", "  ratio: 1.5\n", 1)
        // A person waits up to 4 s for one of the four agents (the lab's 2 s would abandon
        // people a power dialler over-dials for, which is not what this test is about).
        .replacen("  patience: 2s\n", "  patience: 4s\n", 1)
        .replace(
            "cpa:\n  enabled: false\n",
            &format!(
                "cpa:\n  enabled: true\n  announcements: \"{}\"\n",
                corpus.announcements.display()
            ),
        );
    let f = dir.join("c1.yaml");
    std::fs::write(&f, text).expect("campaign");
    outdial(&db, &["campaign", "apply", f.to_str().expect("path")], None);
    let (open, _) = open_and_closed_zones();
    let mut csv = String::from("phone,name,external_id,timezone\n");
    for (k, c) in calls.iter().enumerate() {
        csv.push_str(&format!("{},C{k},{k},{open}\n", c.phone));
    }
    outdial(&db, &["campaign", "load", "c1", "-"], Some(&csv));
    let config = engine_yaml(&dir, sipp.addr, phone.sip);
    let engine = start_engine_traced(&db, &config, &dir.join("engine.log"));
    // SIPp exits after the last call (-m); then the engine is stopped.
    let report = sipp.wait(Duration::from_secs(58));
    engine.signal("TERM");
    let summary = finish_engine(engine, Duration::from_secs(20));
    let log = format!(
        "{summary}\n{}",
        std::fs::read_to_string(dir.join("engine.log")).unwrap_or_default()
    );
    wait_child(&mut offline_answer, "cpa classify", Duration::from_secs(60));
    wait_child(
        &mut offline_early,
        "cpa classify --phase early",
        Duration::from_secs(60),
    );
    let results: Vec<_> = [&answer_json, &early_json]
        .into_iter()
        .flat_map(|p| {
            let text = std::fs::read_to_string(p).expect("results");
            parse_results(&text, &p.display().to_string()).expect("offline results")
        })
        .collect();
    let offline: BTreeMap<String, VerdictClass> = results
        .iter()
        .map(|c| (c.file.clone(), c.verdict))
        .collect();
    let offline_ms: BTreeMap<String, u32> = results
        .iter()
        .map(|c| (c.file.clone(), c.decided_ms))
        .collect();
    let offline_detail: BTreeMap<String, String> = results
        .iter()
        .map(|c| (c.file.clone(), c.detail.clone()))
        .collect();

    let rows = records(&db);
    let mut by_call: BTreeMap<usize, Row> = BTreeMap::new();
    for r in rows {
        let k: usize =
            r.1.as_deref()
                .and_then(|s| s.parse().ok())
                .expect("external id");
        assert!(
            by_call.insert(k, r).is_none(),
            "call {k} dialled twice\n{log}"
        );
    }
    assert_eq!(
        by_call.len(),
        calls.len(),
        "every call of the sample has its record ({report:?})\n{log}"
    );

    let starts = first_audio(&log);
    let (lag_lo, lag_hi) = tap_lag_bounds();
    let mut disagree = Vec::new();
    let mut late = Vec::new();
    let mut table: BTreeMap<(VerdictClass, VerdictClass), u32> = BTreeMap::new();
    let mut connected_not_people = 0;
    // Per label, calls whose live verdict is the offline one: count, and sums (ms) of the live
    // delay, the offline decision time, and the far end's start (analysis start to first RTP).
    let mut delays: BTreeMap<VerdictClass, (i64, i64, i64, i64)> = BTreeMap::new();
    let mut lags = Vec::new();
    let mut people_live = 0;
    let mut abandoned = 0;
    let mut offline_passed_not_people = 0;
    for (k, c) in calls.iter().enumerate() {
        let (lead, _, delay, disp, verdict, detail, action, answer, connect, jitter) = &by_call[&k];
        let off = offline[&offline_name(k)];
        // Early media gives a verdict only for what ends the call (announcements, SIT); a
        // call it lets ring has none, as the offline tool's `unsure`.
        let live: VerdictClass = match verdict.as_deref() {
            Some(v) => v.parse().expect("verdict name"),
            None if c.early => VerdictClass::Unsure,
            None => panic!("call {k} ({}) has no verdict: {disp:?}\n{log}", c.file),
        };
        *table.entry((c.label, live)).or_default() += 1;
        // Like with like: the same verdict reached on the same audio, timed from its first
        // sample (offline: the file's start; live: the far end's first packet).
        if let (Some(d), true) = (delay, live == off) {
            let off_ms = i64::from(offline_ms[&offline_name(k)]);
            let start = *starts.get(lead).unwrap_or_else(|| {
                panic!("call {k}: no first-audio line for lead {lead} in the engine's log\n{log}")
            });
            let e = delays.entry(c.label).or_insert((0, 0, 0, 0));
            *e = (e.0 + 1, e.1 + *d, e.2 + off_ms, e.3 + start);
            let lag = *d - off_ms - start;
            lags.push(lag);
            // In a 183 the first packets may reach the media plane before the engine's Analyse
            // does (SIPp streams right after its 183), so the start seen is an upper bound and
            // only the upper bound holds there.
            // A packet late by the network or the receiving worker's wake-up delays its frame
            // (or the first packet's event, which moves the start seen): JITTER_SPAN times the
            // leg's measured interarrival jitter (RFC 3550) either way.
            let spread = (JITTER_SPAN * jitter.unwrap_or(0.0)).ceil() as i64;
            let lo = if c.early { i64::MIN } else { lag_lo - spread };
            let hi = lag_hi + spread;
            if !(lo..=hi).contains(&lag) {
                late.push(format!(
                    "{}: live {d} ms = offline {off_ms} ms + far-end start {start} ms + {lag} ms \
                     (bounds {lo}..={hi})",
                    c.file
                ));
            }
        }
        if live != off {
            disagree.push(format!(
                "{}: offline {off}, live {live} ({detail:?})",
                c.file
            ));
        }
        let passed = matches!(off, VerdictClass::Human | VerdictClass::Unsure);
        offline_passed_not_people +=
            u32::from(passed && !c.early && c.label != VerdictClass::Human);
        // What the verdict did to the call, as the policy says.
        let disp = disp.as_deref().unwrap_or("");
        match live {
            _ if c.early => {
                assert_eq!(
                    *answer, None,
                    "{}: early media is never answered\n{log}",
                    c.file
                );
                if live == VerdictClass::Announcement {
                    assert_eq!(action.as_deref(), Some("cancel"), "{}", c.file);
                    assert!(ANNOUNCED.contains(&disp), "{}: {disp}\n{log}", c.file);
                }
            }
            VerdictClass::Human | VerdictClass::Unsure => {
                assert!(
                    matches!(disp, "connected" | "abandoned"),
                    "{}: a {live} verdict is a live answer, not {disp}\n{log}",
                    c.file
                );
                assert_eq!(action.as_deref(), Some("connect"), "{}", c.file);
                people_live += u32::from(c.label == VerdictClass::Human);
                abandoned += u32::from(disp == "abandoned");
            }
            VerdictClass::Machine => {
                assert_eq!(disp, "machine", "{}\n{log}", c.file);
                assert_eq!(action.as_deref(), Some("hangup"), "{}", c.file);
            }
            VerdictClass::Announcement => {
                assert_eq!(action.as_deref(), Some("hangup"), "{}", c.file);
                assert!(ANNOUNCED.contains(&disp), "{}: {disp}\n{log}", c.file);
            }
            _ => assert_eq!(action.as_deref(), Some("hangup"), "{}: {disp}", c.file),
        }
        if connect.is_some() {
            assert!(
                matches!(live, VerdictClass::Human | VerdictClass::Unsure),
                "{}: an agent received a {live} verdict\n{log}",
                c.file
            );
            connected_not_people += u32::from(c.label != VerdictClass::Human);
        }
    }
    // The tail cut: told from its tail offline, and the same live (SIPp, the relay, the tap).
    let k = calls
        .iter()
        .position(|c| c.file == tail_cut.file)
        .expect("the tail cut was dialled");
    let off_detail = &offline_detail[&offline_name(k)];
    assert!(
        off_detail.contains("from its tail"),
        "{}: offline {off_detail}",
        tail_cut.file
    );
    let (_, _, _, _, verdict, detail, ..) = &by_call[&k];
    assert_eq!(
        verdict.as_deref(),
        Some("announcement"),
        "{}: live {detail:?}\n{log}",
        tail_cut.file
    );
    assert!(
        detail
            .as_deref()
            .is_some_and(|d| d.contains("from its tail")),
        "{}: live {detail:?}",
        tail_cut.file
    );
    let allowance = timing_allowance(calls.len());
    println!(
        "cpa e2e: {} calls ({} people, {} greetings, {} announcements after the answer, {} in \
         early media, one of them a message's tail), {AGENTS} agents, in {:.1} s",
        calls.len(),
        PEOPLE,
        GREETINGS,
        calls
            .iter()
            .filter(|c| !c.early && c.label == VerdictClass::Announcement)
            .count(),
        EARLY,
        started.elapsed().as_secs_f64()
    );
    for ((label, live), n) in &table {
        println!("  label {label} → live {live}: {n}");
    }
    println!(
        "  live ≠ offline: {} of {} (allowed {allowance}); connected non-people: {} \
         (offline passes {})",
        disagree.len(),
        calls.len(),
        connected_not_people,
        offline_passed_not_people
    );
    for (label, (n, live, off, start)) in &delays {
        println!(
            "  {label}: mean analysis delay live {} ms = offline decision {} ms + far-end start \
             {} ms + tap {} ms ({n} calls, same verdict)",
            live / n,
            off / n,
            start / n,
            (live - off - start) / n
        );
    }
    lags.sort_unstable();
    println!(
        "  tap lag (live - offline - far-end start) over {} calls: min {} / median {} / max {} ms \
         (bounds {lag_lo}..={lag_hi} ± {JITTER_SPAN} jitters)",
        lags.len(),
        lags.first().unwrap_or(&0),
        lags.get(lags.len() / 2).unwrap_or(&0),
        lags.last().unwrap_or(&0)
    );
    for d in &disagree {
        println!("    {d}");
    }
    for l in &late {
        println!("    off the tap's bounds: {l}");
    }
    // A call on a cusp (the verdict or the frame it is reached at moves with the few frames of
    // silence before the far end's first packet: a noisy greeting's announcement matcher gave up
    // 0.6 s sooner live) counts against the same allowance as a changed verdict.
    assert!(
        late.len() + disagree.len() <= allowance,
        "the live analysis delay is not the offline decision time plus the far end's start \
         plus the tap's {lag_lo}..={lag_hi} ms on {} calls (and {} verdicts changed; at most \
         {allowance} in all):\n{}\n{log}",
        late.len(),
        disagree.len(),
        late.join("\n")
    );
    assert!(
        lags.len() + allowance >= calls.len(),
        "only {} calls timed like with like",
        lags.len()
    );
    // Each label gets the disposition the issue asks for at its target rate (human recall
    // ≥ 0.97, machine ≥ 0.90, announcement ≥ 0.98): more misses than a classifier at the target
    // makes with probability ALPHA fail, whatever the offline tool says.
    for (label, miss) in [
        (VerdictClass::Human, 0.03),
        (VerdictClass::Machine, 0.10),
        (VerdictClass::Announcement, 0.02),
    ] {
        let n: u32 = table
            .iter()
            .filter(|((l, _), _)| *l == label)
            .map(|(_, n)| n)
            .sum();
        let missed = n - table.get(&(label, label)).copied().unwrap_or(0);
        let allowed = allowed_misses(n as usize, miss);
        println!("  {label}: {missed} of {n} missed (at most {allowed} at the target rate)");
        assert!(
            missed as usize <= allowed,
            "{label}: {missed} of {n} calls got another verdict; a classifier at the target \
             misses more than {allowed} with probability < {ALPHA}"
        );
    }
    assert!(
        disagree.len() <= allowance,
        "live verdicts disagree with the offline classifier on {} calls (at most {allowance} \
         explained by RTP timing):\n{}\n{log}",
        disagree.len(),
        disagree.join("\n")
    );
    assert!(
        connected_not_people as usize <= offline_passed_not_people as usize + allowance,
        "agents received {connected_not_people} non-people; the offline classifier passes \
         {offline_passed_not_people}"
    );
    // People were answered as people: connected to an agent, or (all four busy) abandoned.
    let people_passed = calls
        .iter()
        .enumerate()
        .filter(|(k, c)| {
            c.label == VerdictClass::Human && offline[&offline_name(*k)] == VerdictClass::Human
        })
        .count();
    println!("  people live-answered: {people_live} (offline passes {people_passed}); abandoned: {abandoned}");
    assert!(
        people_live as usize + allowance >= people_passed,
        "{people_live} people were answered as people; the offline classifier passes \
         {people_passed}\n{log}"
    );
}
