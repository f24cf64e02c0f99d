//! Call-progress analysis end to end (issue 18): the real `outdial run` with anchored trunks and
//! analysis on, against SIPp customers streaming audio as RTP — a person saying "Hello?" then
//! waiting, a voicemail greeting, and a carrier announcing in early media (a 183) that the phone
//! is switched off — and a nailed-up baresip agent. Asserts what a user notices: the call
//! records' dispositions and verdicts, the announcement cancelled before any answer, and only
//! the person bridged to the agent. Real processes, espeak-ng audio made in a temp dir; every
//! wait bounded.

use crate::engine_support;
use crate::media_support;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use engine_support::{
    campaign_yaml, finish_engine, free_port, open_and_closed_zones, outdial,
    start_engine_with_stderr, TOKEN,
};
use media_support::audio::{say, say_as, to_ulaw};
use media_support::baresip::Baresip;
use media_support::sipp::{Builder, Sipp};
use media_support::{free_udp_ports, peers_available, temp_dir};

const PERSON: &str = "Hello?";
const GREETING: &str = "Hi, you have reached the voicemail of John Smith. I am not available \
                        right now. Please leave your name, your number and a short message \
                        after the tone, and I will call you back as soon as I can.";

/// A SIPp customer running `scenario` with `audio` (WAV, converted to headerless µ-law as
/// `file`) in its directory, for one call.
fn customer(dir: &Path, tag: &str, scenario: &Path, audio: &Path, file: &str) -> Sipp {
    let d = dir.join(tag);
    std::fs::create_dir_all(&d).expect("dir");
    to_ulaw(audio, &d.join(file));
    let media = free_udp_ports(4);
    Builder::new(scenario.to_str().expect("path"))
        .dir(&d)
        .args(["-mi", "127.0.0.1", "-mp", &media.to_string()])
        .args(["-m", "1"])
        .args(["-default_behaviors", "all,-abortunexp"])
        .timeout(Duration::from_secs(50))
        .spawn()
}

/// `src` with `secs` of silence after it (a person waits for an answer).
fn padded(src: &Path, dst: &Path, secs: u32) -> PathBuf {
    let st = std::process::Command::new("sox")
        .arg(src)
        .args(["-r", "8000", "-c", "1", "-b", "16", "-e", "signed-integer"])
        .arg(dst)
        .args(["pad", "0.3", &secs.to_string()])
        .status()
        .expect("sox");
    assert!(st.success(), "sox pad");
    dst.to_path_buf()
}

/// The engine file: one single-channel anchored trunk per customer (so each gets exactly one
/// call), a nailed-up agent at `agent`, campaign `c1`.
fn engine_yaml(dir: &Path, trunks: &[SocketAddr], agent: SocketAddr, run_for_s: u32) -> PathBuf {
    let sip_port = free_port();
    let admin_port = free_port();
    let ports = free_udp_ports(20);
    let list: String = trunks
        .iter()
        .enumerate()
        .map(|(i, t)| {
            format!(
                "    - {{name: t{i}, address: \"{t}\", max_channels: 1, max_cps: 5, \
                 ping_interval: 0s, media: anchor}}\n"
            )
        })
        .collect();
    let names: Vec<String> = (0..trunks.len()).map(|i| format!("t{i}")).collect();
    let text = format!(
        "node: n1\nsip:\n  listen: 127.0.0.1:{sip_port}\n  trunks:\n{list}  groups:\n    \
         - {{name: lab, trunks: [{names}]}}\nmedia: {{ports: {ports}-{hi}}}\nadmin:\n  listen: \
         127.0.0.1:{admin_port}\n  tokens:\n    - {{name: test-supervisor, token: {TOKEN}}}\n\
         agents:\n  - {{uri: \"sip:agent{{n}}@{agent}\", count: 1, group: lab, skills: [outbound, \
         verification], wrap_up: auto, connect: nailed}}\n\
         auto_wrap_time: {{dist: constant, mean: 1s}}\ncampaigns:\n  - {{name: c1}}\n\
         time_scale: 1\nrun_for: {run_for_s}s\nshutdown_grace: 2s\n",
        names = names.join(", "),
        hi = ports + 19,
    );
    let path = dir.join("engine.yaml");
    std::fs::write(&path, text).expect("write config");
    path
}

/// One call record: trunk, disposition, verdict, action, answer and connect times.
type Row = (
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<i64>,
    Option<i64>,
);

/// Runs the campaign against a person (trunk t0), a greeting (t1) and, with `early`, a carrier
/// announcing powered-off in early media (t2); returns the call records and the engine's log.
fn run(tag: &str, early: bool) -> (Vec<Row>, String) {
    let dir = temp_dir(tag);
    let db = format!("sqlite://{}", dir.join("e2e.db").display());
    let person = padded(
        &say(&dir, "person", PERSON),
        &dir.join("person-line.wav"),
        12,
    );
    // Another voice than the placeholder announcements' (en-us/en-gb at pitch 40–50): in the
    // same espeak voice "you are calling" and "call you back" are the same landmarks, and the
    // matcher took this greeting for yue/powered-off's English part at 2 of 20 sub-frame
    // alignments (see the issue 18 note: same-voice false matches).
    let greeting = say_as(&dir, "greeting", GREETING, "en-us", 70);
    let announcement = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("campaigns/announcements/cmn/powered-off.wav");
    // The answering customers hang up 10 s after the ACK rather than wait 60 s for a BYE.
    let xml = std::fs::read_to_string(media_support::sipp::scenario("uas-media-answer.xml"))
        .expect("read scenario");
    let xml = xml.replace(
        "timeout=\"60000\" ontimeout=\"hangup\"",
        "timeout=\"10000\" ontimeout=\"hangup\"",
    );
    assert!(xml.contains("timeout=\"10000\""), "patched");
    let answer = dir.join("answer.xml");
    std::fs::write(&answer, xml).expect("write scenario");
    let early_xml =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/sipp_media/uas-early-cancel.xml");
    let mut sipps = vec![
        customer(&dir, "person", &answer, &person, "customer.ulaw"),
        customer(&dir, "greeting", &answer, &greeting, "customer.ulaw"),
    ];
    if early {
        sipps.push(customer(
            &dir,
            "early",
            &early_xml,
            &announcement,
            "early.ulaw",
        ));
    }
    let phone = Baresip::start("agent0001", &greeting);
    // Analysis on (the lab campaign turns it off), matching the shipped announcements.
    let refs = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("campaigns/announcements");
    // Power, three lines for the one agent: the three customers are called at once.
    let text = campaign_yaml("c1", "power")
        .replacen("\"09:00-18:00\"", "\"00:00-23:59\"", 1)
        .replacen("  ratio: 1.0\n", "  ratio: 3.0\n", 1)
        .replace(
            "cpa:\n  enabled: false\n",
            &format!(
                "cpa:\n  enabled: true\n  announcements: \"{}\"\nrecording: {{mode: all, dir: \"{}\"}}\n",
                refs.display(),
                dir.join("recordings").display()
            ),
        );
    let f = dir.join("c1.yaml");
    std::fs::write(&f, text).expect("campaign");
    outdial(&db, &["campaign", "apply", f.to_str().expect("path")], None);
    let (open, _) = open_and_closed_zones();
    let mut csv = String::from("phone,name,external_id,timezone\n");
    for i in 0..sipps.len() {
        csv.push_str(&format!("{},C{i},A-{i},{open}\n", 91_234_500 + i));
    }
    outdial(&db, &["campaign", "load", "c1", "-"], Some(&csv));
    let config = engine_yaml(
        &dir,
        &sipps.iter().map(|s| s.addr).collect::<Vec<_>>(),
        phone.sip,
        30,
    );
    let engine = start_engine_with_stderr(
        &db,
        &config,
        std::fs::File::create(dir.join("engine.log")).expect("log"),
    );
    for s in sipps.iter_mut() {
        s.wait(Duration::from_secs(45));
    }
    let summary = finish_engine(engine, Duration::from_secs(30));
    let log = format!(
        "{summary}\n{}",
        std::fs::read_to_string(dir.join("engine.log")).unwrap_or_default()
    );

    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let store = rt
        .block_on(outdial::store::Store::open(&db))
        .expect("store");
    let rows: Vec<Row> = rt.block_on(async {
        let outdial::store::Db::Sqlite(p) = store.db() else {
            panic!("sqlite")
        };
        sqlx::query_as(
            "SELECT trunk, disposition, cpa_verdict, cpa_action, answer_ms, connect_ms \
             FROM attempts ORDER BY id",
        )
        .fetch_all(p)
        .await
        .expect("attempts")
    });
    (rows, log)
}

fn by_trunk(rows: &[Row], log: &str, t: &str) -> Row {
    rows.iter()
        .find(|r| r.0 == t)
        .unwrap_or_else(|| panic!("no call on {t}: {rows:?}\n{log}"))
        .clone()
}

#[test]
fn a_person_reaches_the_agent_at_the_verdict_and_a_voicemail_greeting_is_hung_up() {
    if !peers_available() {
        return;
    }
    let (rows, log) = run("cpa-e2e", false);
    let (_, disp, verdict, _, answer, connect) = by_trunk(&rows, &log, "t0");
    assert_eq!(
        (disp.as_deref(), verdict.as_deref()),
        (Some("connected"), Some("human")),
        "the person: {rows:?}\n{log}"
    );
    assert!(
        connect.is_some_and(|c| answer.is_some_and(|a| c > a)),
        "the person was bridged to the agent after the verdict"
    );
    let (_, disp, verdict, _, _, connect) = by_trunk(&rows, &log, "t1");
    assert_eq!(
        (disp.as_deref(), verdict.as_deref()),
        (Some("machine"), Some("machine")),
        "the greeting: {rows:?}\n{log}"
    );
    assert_eq!(connect, None, "no agent hears a voicemail greeting");
}

#[test]
fn a_carriers_announcement_in_early_media_cancels_the_call_before_any_answer() {
    if !peers_available() {
        return;
    }
    let (rows, log) = run("cpa-e2e-early", true);
    let (_, disp, verdict, action, answer, _) = by_trunk(&rows, &log, "t2");
    assert_eq!(
        (disp.as_deref(), verdict.as_deref(), action.as_deref()),
        (Some("powered_off"), Some("announcement"), Some("cancel")),
        "the early announcement: {rows:?}\n{log}"
    );
    assert_eq!(answer, None, "cancelled before any answer");
}

/// The media shell alone: a leg analysed after the answer, whose far end sends only silence,
/// gets its verdict from the analysis thread (dead air), then the analysis's end.
#[test]
fn the_media_shell_reports_dead_air_on_an_analysed_leg() {
    use std::net::{IpAddr, Ipv4Addr, UdpSocket};
    use std::sync::Arc;
    use std::time::Instant;

    use outdial::cpa::settings::CpaSettings;
    use outdial::cpa::{CpaEvent, Phase, Verdict};
    use outdial::media::io::{Codec, LegId, LegRole, MediaCommand, MediaEvent, RemoteMedia};
    use outdial::media::shell::{MediaShell, ShellConfig};

    let local = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let port = free_udp_ports(2);
    let far = UdpSocket::bind((local, 0)).expect("far end");
    let mut shell = MediaShell::start(ShellConfig::new(local)).expect("shell");
    let mut events = shell.take_events().expect("events");
    let leg = LegId(1);
    shell.send(MediaCommand::Open {
        leg,
        role: LegRole::Customer,
        local_port: port,
    });
    shell.send(MediaCommand::Remote {
        leg,
        remote: RemoteMedia {
            addr: far.local_addr().expect("addr"),
            codec: Codec::Pcmu,
            pt: 0,
            dtmf_pt: None,
            ptime_ms: 20,
        },
    });
    shell.send(MediaCommand::Analyse {
        leg,
        phase: Phase::Answer,
        settings: Arc::new(CpaSettings::default()),
        library: None,
    });
    // µ-law silence (0xFF) every 20 ms until the verdict, at most 12 s.
    let started = Instant::now();
    let mut seq: u16 = 0;
    let mut got = Vec::new();
    while started.elapsed() < Duration::from_secs(12) {
        let mut p = vec![0x80, 0, (seq >> 8) as u8, seq as u8];
        p.extend_from_slice(&(u32::from(seq) * 160).to_be_bytes());
        p.extend_from_slice(&[0, 0, 0, 7]);
        p.extend_from_slice(&[0xFF; 160]);
        far.send_to(&p, (local, port)).expect("send");
        seq = seq.wrapping_add(1);
        std::thread::sleep(Duration::from_millis(20));
        while let Ok(e) = events.try_recv() {
            got.push(e);
        }
        if got
            .iter()
            .any(|e| matches!(e, MediaEvent::AnalysisDone { .. }))
        {
            break;
        }
    }
    let verdicts: Vec<_> = got
        .iter()
        .filter_map(|e| match e {
            MediaEvent::Cpa {
                leg: l,
                event: CpaEvent::Verdict(d),
            } if *l == leg => Some(d.verdict.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(verdicts, [Verdict::Silence], "{got:?}");
    assert!(
        got.iter()
            .any(|e| matches!(e, MediaEvent::AnalysisDone { leg: l } if *l == leg)),
        "{got:?}"
    );
    shell.send(MediaCommand::Close { leg });
    shell.stop();
}
