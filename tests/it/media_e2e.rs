//! The media plane end to end (issue 17): the real `outdial run` with an anchored trunk against
//! real peers on loopback: SIPp customers streaming a spoken phrase as RTP, a baresip agent on a
//! nailed-up connection speaking another phrase, baresip as a customer hearing the safe-harbour
//! message. Asserts what a user notices: who hears whom (cross-correlation of the audio), which
//! channel of outdial's recording holds whom, the call records, one INVITE to the nailed-up
//! agent, no RTP after the BYE, every RTP port back in the pool. Real processes; every wait
//! bounded; no timing thresholds.

use crate::engine_support;
use crate::media_support;

use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use engine_support::{
    campaign_yaml, finish_engine, free_port, metrics_text, open_and_closed_zones, outdial,
    start_engine_with_stderr, TOKEN,
};
use media_support::audio::{
    best_correlation, read_stereo_ulaw, read_wav_mono_8k, repeated, run, say,
};
use media_support::baresip::Baresip;
use media_support::engine_log;
use media_support::sipp::{Builder, Sipp};
use media_support::{audio, free_udp_ports, peers_available, temp_dir};

const CUSTOMER_TEXT: &str = "Hello, this is the customer. My account number is four four seven \
                             two, and I would like to talk about my loan repayment.";
const AGENT_TEXT: &str = "Good morning, you are speaking with the lending office. How may I help \
                          you today?";

/// A SIPp customer (`uas-media-answer.xml`, answering outdial's offer with SDP and streaming
/// `speech` after the ACK) for `calls` calls, that hangs up itself `talk_ms` after the ACK
/// instead of waiting 60 s for a BYE. Returns SIPp and its RTP port.
fn customer(dir: &Path, speech: &Path, calls: u32, talk_ms: u32) -> (Sipp, u16) {
    audio::to_ulaw(speech, &dir.join("customer.ulaw"));
    let xml = std::fs::read_to_string(media_support::sipp::scenario("uas-media-answer.xml"))
        .expect("read scenario");
    let xml = xml.replace(
        "timeout=\"60000\" ontimeout=\"hangup\"",
        &format!("timeout=\"{talk_ms}\" ontimeout=\"hangup\""),
    );
    assert!(xml.contains(&format!("timeout=\"{talk_ms}\"")), "patched");
    let scenario = dir.join("customer.xml");
    std::fs::write(&scenario, xml).expect("write scenario");
    // SIPp binds [media_port] and the port two above it (video echo): four free ports.
    let media = free_udp_ports(4);
    let sipp = Builder::new(scenario.to_str().expect("path"))
        .dir(dir)
        .args(["-mi", "127.0.0.1", "-mp", &media.to_string()])
        .args(["-m", &calls.to_string()])
        .args(["-default_behaviors", "all,-abortunexp"])
        .timeout(Duration::from_secs(60))
        .spawn();
    (sipp, media)
}

/// An engine config: one anchored trunk at `trunk`, RTP ports `ports` (`(low, high)`), one
/// automatic agent `agent0001` at `agent` (none if `None`) connected `nailed`, campaign `c1`.
fn engine_yaml(
    dir: &Path,
    trunks: &[SocketAddr],
    agent: Option<SocketAddr>,
    ports: (u16, u16),
    run_for_s: u32,
) -> (PathBuf, String) {
    let sip_port = free_port();
    let admin_port = free_port();
    let agents = match agent {
        Some(a) => format!(
            "agents:\n  - {{uri: \"sip:agent{{n}}@{a}\", count: 1, group: lab, skills: [outbound, \
             verification], wrap_up: auto, connect: nailed}}\n"
        ),
        None => String::new(),
    };
    // One channel a trunk when there are several: each far end gets exactly one call.
    let channels = if trunks.len() > 1 { 1 } else { 4 };
    let list: String = trunks
        .iter()
        .enumerate()
        .map(|(i, t)| {
            format!(
                "    - {{name: t{i}, address: \"{t}\", max_channels: {channels}, max_cps: 5, \
                 ping_interval: 0s, media: anchor}}\n"
            )
        })
        .collect();
    let names: Vec<String> = (0..trunks.len()).map(|i| format!("t{i}")).collect();
    let text = format!(
        "node: n1\nsip:\n  listen: 127.0.0.1:{sip_port}\n  trunks:\n{list}  groups:\n    \
         - {{name: lab, trunks: [{names}]}}\nmedia: {{ports: {lo}-{hi}}}\nadmin:\n  listen: \
         127.0.0.1:{admin_port}\n  tokens:\n    - {{name: test-supervisor, token: {TOKEN}}}\n\
         {agents}auto_wrap_time: {{dist: constant, mean: 1s}}\ncampaigns:\n  - {{name: c1}}\n\
         time_scale: 1\nrun_for: {run_for_s}s\nshutdown_grace: 2s\n",
        names = names.join(", "),
        lo = ports.0,
        hi = ports.1,
    );
    let path = dir.join("engine.yaml");
    std::fs::write(&path, text).expect("write config");
    (path, format!("http://127.0.0.1:{admin_port}"))
}

/// Applies campaign `c1` (`mode`, open all day, `extra` YAML lines appended) to the store at
/// `db` and loads `leads` numbers into it; returns the numbers as the store writes them.
fn campaign(db: &str, dir: &Path, mode: &str, extra: &str, leads: u32) -> Vec<String> {
    let text = campaign_yaml("c1", mode).replacen("\"09:00-18:00\"", "\"00:00-23:59\"", 1) + extra;
    let f = dir.join("c1.yaml");
    std::fs::write(&f, text).expect("campaign");
    outdial(db, &["campaign", "apply", f.to_str().expect("path")], None);
    let (open, _) = open_and_closed_zones();
    let mut csv = String::from("phone,name,external_id,timezone,loan_amount\n");
    let mut phones = Vec::new();
    for i in 0..leads {
        let n = 91_234_500 + i;
        csv.push_str(&format!("{n},Customer {i},APP-{i:06},{open},1000\n"));
        phones.push(format!("+65{n}"));
    }
    outdial(db, &["campaign", "load", "c1", "-"], Some(&csv));
    phones
}

/// The value of the metric `name` (first sample) on the engine's `/metrics`.
fn metric(rt: &tokio::runtime::Runtime, admin: &str, name: &str) -> Option<f64> {
    let text = rt.block_on(metrics_text(admin));
    text.lines().filter(|l| !l.starts_with('#')).find_map(|l| {
        let (k, v) = l.rsplit_once(' ')?;
        (k == name || k.starts_with(&format!("{name}{{"))).then(|| v.parse().ok())?
    })
}

/// Polls the metric until it equals `want` (at most `limit`); returns its last value.
fn metric_becomes(
    rt: &tokio::runtime::Runtime,
    admin: &str,
    name: &str,
    want: f64,
    limit: Duration,
) -> Option<f64> {
    let end = Instant::now() + limit;
    loop {
        let v = metric(rt, admin, name);
        if v == Some(want) || Instant::now() > end {
            return v;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Counts the RTP packets arriving on `port` (bound here once its owner let go of it) within
/// `window`: what outdial still sends to a far end that hung up.
fn rtp_arriving(port: u16, window: Duration) -> usize {
    let end = Instant::now() + Duration::from_secs(5);
    let sock = loop {
        match UdpSocket::bind(("127.0.0.1", port)) {
            Ok(s) => break s,
            Err(e) if Instant::now() > end => panic!("bind {port}: {e}"),
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    };
    sock.set_read_timeout(Some(Duration::from_millis(100)))
        .expect("timeout");
    let end = Instant::now() + window;
    let mut n = 0;
    let mut buf = [0u8; 2048];
    while Instant::now() < end {
        if let Ok((k, _)) = sock.recv_from(&mut buf) {
            if k >= 12 && buf[0] >> 6 == 2 {
                n += 1;
            }
        }
    }
    n
}

/// The engine's stderr, for assertion messages.
#[test]
fn a_nailed_baresip_agent_and_sipp_customers_hear_each_other_and_outdial_records_both_sides() {
    if !peers_available() {
        return;
    }
    let dir = temp_dir("e2e-nailed");
    let db = format!("sqlite://{}", dir.join("e2e.db").display());
    let cust_wav = say(&dir, "customer", CUSTOMER_TEXT);
    let agent_wav = say(&dir, "agent", AGENT_TEXT);
    let cust = read_wav_mono_8k(&cust_wav);
    let agent = read_wav_mono_8k(&agent_wav);
    // The customer starts talking 1 s after the answer (the bridge is made by then); the agent
    // says its phrase over and over (its connection is up long before any customer).
    let cust_line = repeated(&cust_wav, &dir.join("customer-line.wav"), 1, 1, 1);
    let agent_mic = repeated(&agent_wav, &dir.join("agent-mic.wav"), 0, 1, 6);
    let mut phone = Baresip::start("agent0001", &agent_mic);
    let (mut sipp, media_port) = customer(&dir, &cust_line, 2, 11_000);
    let rec_dir = dir.join("rec");
    let phones = campaign(
        &db,
        &dir,
        "progressive",
        &format!("recording: {{mode: all, dir: \"{}\"}}\n", rec_dir.display()),
        2,
    );
    let ports = free_udp_ports(20);
    let (config, admin) = engine_yaml(&dir, &[sipp.addr], Some(phone.sip), (ports, ports + 19), 32);
    let engine = start_engine_with_stderr(
        &db,
        &config,
        std::fs::File::create(dir.join("engine.log")).expect("log"),
    );
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(engine_support::wait_admin(&admin));
    assert!(
        phone
            .wait_event("CALL_ESTABLISHED", Duration::from_secs(10))
            .is_some(),
        "outdial called the agent at login; engine log:\n{}\nbaresip log:\n{}",
        engine_log(&dir),
        phone.log()
    );

    // Both customers talk, then hang up.
    let report = sipp.wait(Duration::from_secs(45));
    assert_eq!(report.successful, 2, "{}", report.screen);
    // After the last customer's BYE nothing more reaches its RTP port, and only the agent's
    // connection still holds a port pair (10 pairs in the range).
    let late = rtp_arriving(media_port, Duration::from_millis(1500));
    assert_eq!(late, 0, "RTP after the BYE");
    let free = metric_becomes(
        &rt,
        &admin,
        "outdial_rtp_ports_free",
        9.0,
        Duration::from_secs(5),
    );
    assert_eq!(free, Some(9.0), "ports back in the pool but the agent's");

    let summary = finish_engine(engine, Duration::from_secs(30));
    assert!(
        phone
            .wait_event("CALL_CLOSED", Duration::from_secs(10))
            .is_some(),
        "the agent's connection closed at logout"
    );
    // sndfile closes its files when the audio stream is torn down, just after CALL_CLOSED.
    std::thread::sleep(Duration::from_millis(500));

    // One INVITE to the agent for two customers: one call, one dump.
    let heard = phone.recordings();
    assert_eq!(heard.len(), 1, "one call to the agent: {heard:?}");
    let heard = read_wav_mono_8k(&heard[0]);
    let (_, peak) = best_correlation(&cust, &heard);
    assert!(peak > 0.5, "the agent heard the customer: {peak}");

    // The call records name the recordings; the customer is on the left, the agent right.
    let rows: serde_json::Value =
        serde_json::from_str(&outdial(&db, &["recordings", "list", "--json"], None)).expect("json");
    let rows = rows.as_array().expect("array").clone();
    assert_eq!(rows.len(), 2, "two recorded calls: {rows:?}; {summary}");
    let mut numbers: Vec<String> = rows
        .iter()
        .map(|r| r["phone"].as_str().expect("phone").to_string())
        .collect();
    numbers.sort();
    assert_eq!(numbers, phones);
    for r in &rows {
        let path = PathBuf::from(r["path"].as_str().expect("path"));
        assert!(path.starts_with(&rec_dir), "{path:?}");
        let secs = r["secs"].as_f64().expect("secs");
        assert!(secs > 8.0, "the call's length: {secs}");
        let (left, right) = read_stereo_ulaw(&path);
        let (_, l_cust) = best_correlation(&cust, &left);
        let (_, r_agent) = best_correlation(&agent, &right);
        let (_, r_cust) = best_correlation(&cust, &right);
        let (_, l_agent) = best_correlation(&agent, &left);
        assert!(l_cust > 0.5, "customer on the left: {l_cust} ({path:?})");
        assert!(r_agent > 0.5, "agent on the right: {r_agent} ({path:?})");
        assert!(r_cust < 0.3, "not the customer on the right: {r_cust}");
        assert!(l_agent < 0.3, "not the agent on the left: {l_agent}");
    }
}

const MESSAGE_TEXT: &str = "We are sorry, all our agents are busy. We will call you back later. \
                            To stop these calls, press nine.";

/// What a power campaign (ratio 3, one nailed-up agent, three leads, `abandon_message`) leaves
/// behind when baresip is the trunk answering every customer with `mic` as its microphone: two
/// of the three customers find the agent busy and hear the message.
struct Abandoned {
    /// The message as spoken (8 kHz).
    message: Vec<i16>,
    /// What baresip heard, one WAV per customer call.
    heard: Vec<PathBuf>,
    /// (phone, disposition, opted out) of every call record.
    records: Vec<(String, Option<String>, bool)>,
    /// The do-not-call list.
    dnc: Vec<String>,
    /// Calls baresip saw closed by outdial before the engine stopped.
    closed_early: usize,
    /// `outdial_rtp_ports_free` once the abandoned calls ended.
    ports_free: Option<f64>,
}

/// Runs the power campaign of [`Abandoned`]; with `press_nine`, every customer sends the key
/// '9' as an RFC 4733 event (baresip's `sndcode`) 3.5 s after its call was established.
fn abandon_run(
    tag: &str,
    press_nine: bool,
    customer_mic: impl FnOnce(&Path) -> PathBuf,
) -> Abandoned {
    let dir = temp_dir(tag);
    let db = format!("sqlite://{}", dir.join("e2e.db").display());
    let message_wav = say(&dir, "message", MESSAGE_TEXT);
    let agent_wav = say(&dir, "agent", AGENT_TEXT);
    let mic = customer_mic(&dir);
    let phone = Baresip::start("agent0001", &agent_wav);
    // The numbers the campaign dials (the request URI's user part is the E.164 number).
    let numbers = ["+6591234500", "+6591234501", "+6591234502"];
    // One baresip a customer (sndfile names its dumps by the second: calls answered together
    // by one baresip would share a file), each with every number, as trunks of one channel.
    let mut customers: Vec<Baresip> = (0..3)
        .map(|i| Baresip::start_answering(&format!("customer{i}"), &mic, &numbers))
        .collect();
    campaign(
        &db,
        &dir,
        "power",
        &format!(
            "abandon_message: \"{}\"\nrecording: {{mode: none}}\n",
            message_wav.display()
        ),
        3,
    );
    // Ratio 3 for one agent: three customers at once.
    let text = std::fs::read_to_string(dir.join("c1.yaml")).expect("campaign");
    std::fs::write(
        dir.join("c1.yaml"),
        text.replacen("  ratio: 1.0\n", "  ratio: 3.0\n", 1),
    )
    .expect("campaign");
    outdial(
        &db,
        &[
            "campaign",
            "apply",
            dir.join("c1.yaml").to_str().expect("path"),
        ],
        None,
    );
    let ports = free_udp_ports(20);
    let (config, admin) = engine_yaml(
        &dir,
        &customers.iter().map(|c| c.sip).collect::<Vec<_>>(),
        Some(phone.sip),
        (ports, ports + 19),
        16,
    );
    let engine = start_engine_with_stderr(
        &db,
        &config,
        std::fs::File::create(dir.join("engine.log")).expect("log"),
    );
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(engine_support::wait_admin(&admin));
    let started = Instant::now();
    if press_nine {
        let mut answered_as = Vec::new();
        for c in customers.iter_mut() {
            let ev = c
                .wait_event("CALL_ESTABLISHED", Duration::from_secs(10))
                .expect("a customer answered");
            let aor = ev["accountaor"].as_str().expect("accountaor").to_string();
            answered_as.push(aor);
        }
        // The message starts 2 s after the answer (the patience) and lasts about 6 s.
        std::thread::sleep(Duration::from_millis(3_500));
        for (c, aor) in customers.iter_mut().zip(&answered_as) {
            // `sndcode` acts on the current account's call: make it the one that answered.
            c.command("uafind", aor);
            c.command("sndcode", "9");
        }
    }
    // Calls outdial ends while the engine still runs (the bridged one lasts to the shutdown).
    // (The events queue up meanwhile; they are read after.)
    std::thread::sleep(Duration::from_secs(14).saturating_sub(started.elapsed()));
    // The abandoned calls' ports are back: only the bridged customer and the agent hold a
    // pair of the ten.
    let ports_free = metric_becomes(
        &rt,
        &admin,
        "outdial_rtp_ports_free",
        8.0,
        Duration::from_secs(2),
    );
    let mut closed_early = 0;
    for c in customers.iter_mut() {
        if c.wait_event("CALL_CLOSED", Duration::from_millis(200))
            .is_some()
        {
            closed_early += 1;
        }
    }
    let summary = finish_engine(engine, Duration::from_secs(30));
    // sndfile closes its files when the audio stream is torn down, just after CALL_CLOSED.
    for c in customers.iter_mut() {
        // The call still up closed at the shutdown; the others' events were taken above.
        c.wait_event("CALL_CLOSED", Duration::from_secs(1));
    }
    std::thread::sleep(Duration::from_millis(500));
    let store = rt
        .block_on(outdial::store::Store::open(&db))
        .expect("store");
    let (records, dnc) = rt.block_on(async {
        let outdial::store::Db::Sqlite(p) = store.db() else {
            panic!("sqlite")
        };
        let records: Vec<(String, Option<String>, i64)> =
            sqlx::query_as("SELECT phone, disposition, CAST(opted_out AS BIGINT) FROM attempts")
                .fetch_all(p)
                .await
                .expect("attempts");
        let dnc: Vec<(String,)> = sqlx::query_as("SELECT phone FROM dnc")
            .fetch_all(p)
            .await
            .expect("dnc");
        (records, dnc)
    });
    eprintln!(
        "summary {summary}\nrecords {records:?}\nengine log:\n{}\ncustomer log tail:\n{}",
        engine_log(&dir),
        customers
            .iter()
            .map(|c| c
                .log()
                .lines()
                .filter(|l| !l.contains("audio="))
                .collect::<Vec<_>>()
                .join("\n"))
            .collect::<Vec<_>>()
            .join("\n----\n")
    );
    Abandoned {
        message: read_wav_mono_8k(&message_wav),
        heard: customers.iter().flat_map(|c| c.recordings()).collect(),
        records: records
            .into_iter()
            .map(|(p, d, o)| (p, d, o != 0))
            .collect(),
        dnc: dnc.into_iter().map(|(p,)| p).collect(),
        closed_early,
        ports_free,
    }
}

#[test]
fn a_customer_no_agent_can_take_hears_the_whole_safe_harbour_message_then_is_hung_up() {
    if !peers_available() {
        return;
    }
    let r = abandon_run("e2e-abandon", false, |dir| {
        let silence = dir.join("silence.wav");
        run(Command::new("sox")
            .args(["-n", "-r", "8000", "-c", "1", "-b", "16"])
            .arg(&silence)
            .args(["trim", "0", "1"]));
        silence
    });
    let abandoned: Vec<_> = r
        .records
        .iter()
        .filter(|(_, d, _)| d.as_deref() == Some("abandoned"))
        .collect();
    assert_eq!(
        abandoned.len(),
        2,
        "two customers found the agent busy: {:?}",
        r.records
    );
    assert_eq!(r.heard.len(), 3, "three calls reached the customer side");
    let peaks: Vec<f64> = r
        .heard
        .iter()
        .map(|h| best_correlation(&r.message, &read_wav_mono_8k(h)).1)
        .collect();
    assert_eq!(
        peaks.iter().filter(|p| **p > 0.5).count(),
        2,
        "the abandoned customers heard the message: {peaks:?}"
    );
    assert_eq!(r.closed_early, 2, "outdial hung up after the message");
    assert_eq!(r.ports_free, Some(8.0), "their RTP ports back in the pool");
    assert!(r.dnc.is_empty(), "nobody pressed the key: {:?}", r.dnc);
    assert!(r.records.iter().all(|(_, _, o)| !o));
}

#[test]
fn the_customer_pressing_nine_in_band_during_the_message_is_put_on_the_do_not_call_list() {
    if !peers_available() {
        return;
    }
    let r = abandon_run("e2e-optout", false, |dir| {
        // 3.5 s of silence (the message starts 2 s after the answer: the patience), then an
        // in-band '9' (852 + 1477 Hz) for 0.3 s, then silence.
        let key = dir.join("key9.wav");
        run(Command::new("sox")
            .args(["-n", "-r", "8000", "-c", "1", "-b", "16"])
            .arg(&key)
            .args([
                "synth", "0.3", "sine", "852", "sine", "1477", "remix", "-", "gain", "-6",
            ]));
        let mic = dir.join("mic9.wav");
        run(Command::new("sox")
            .arg(&key)
            .arg(&mic)
            .args(["pad", "3.5", "2"]));
        mic
    });
    assert_opted_out(&r);
}

#[test]
fn the_customer_pressing_nine_as_an_rfc4733_event_during_the_message_opts_out() {
    if !peers_available() {
        return;
    }
    let r = abandon_run("e2e-optout-4733", true, |dir| {
        let silence = dir.join("silence.wav");
        run(Command::new("sox")
            .args(["-n", "-r", "8000", "-c", "1", "-b", "16"])
            .arg(&silence)
            .args(["trim", "0", "1"]));
        silence
    });
    assert_opted_out(&r);
}

/// Both abandoned customers pressed 9 during the message: their records say opted out and
/// their numbers (only theirs) are on the do-not-call list.
fn assert_opted_out(r: &Abandoned) {
    let opted: Vec<_> = r.records.iter().filter(|(_, _, o)| *o).collect();
    assert_eq!(
        opted.len(),
        2,
        "both customers in the message opted out: {:?}",
        r.records
    );
    let mut listed = r.dnc.clone();
    listed.sort();
    let mut numbers: Vec<String> = opted.iter().map(|(p, _, _)| p.clone()).collect();
    numbers.sort();
    assert_eq!(listed, numbers, "their numbers are on the do-not-call list");
}
