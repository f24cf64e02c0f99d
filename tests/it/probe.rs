//! The hostile probes of issue 15, as a hostile tester ran them, kept in the suite at small sizes
//! and run at full size by `make probe` (`PROBE_SCALE=full`): every input is mutated from a real
//! one by a fixed-seed generator, everything stays on loopback, every probe is bounded in count and
//! in time.
//!
//! - SIP: mutated datagrams and TCP streams (truncation, duplicated headers, huge or negative
//!   Content-Length, bad CSeq, binary junk, compact headers, UTF-8 garbage, oversized datagrams)
//!   at a running engine, from the trunk's IP and from 127.0.0.2, while it dials. The trunk's
//!   mutants include INVITEs (and `invite`s, which are no INVITE): no agent has the `inbound`
//!   skill, so each INVITE that still parses is refused at once and none holds pacing. The engine
//!   keeps running without a panic, keeps dialling, answers the stranger nothing but refusals, and
//!   stores nothing of the stranger's.
//! - Admin API: requests on every route with valid and invalid tokens, mutated JSON, wrong
//!   methods, huge and malformed headers, path traversal and odd percent-encodings, over raw TCP.
//!   No 5xx, no 2xx without the token, no pacing or pause change from a refused request.
//! - Call lists: mutated CSV files (quotes, delimiters, BOMs, CR/CRLF, NULs, invalid UTF-8, huge
//!   fields, duplicated headers, formula cells) loaded with `outdial campaign load`. Each load
//!   loads every untouched row or nothing (then exits non-zero naming file:line); the store holds
//!   only `+`-and-digits phones and no phone twice.
//!
//! Each test prints its row of the table in BENCHMARKS.md ("Reliability"): lines starting `|`.

use crate::engine_support;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use engine_support::*;
use outdial::store::{Db, Store};
use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64;

/// True under `PROBE_SCALE=full` (`make probe`): the sizes of issue 15.
fn full() -> bool {
    std::env::var("PROBE_SCALE").is_ok_and(|v| v == "full")
}

/// `suite` normally, `full` under `PROBE_SCALE=full`.
fn size(suite: usize, full_size: usize) -> usize {
    if full() {
        full_size
    } else {
        suite
    }
}

/// `name` from the environment, else `default`; never above `max`.
fn knob(name: &str, default: usize, max: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
        .min(max)
}

/// The table header `make probe` prints above the rows.
const TABLE: &str = "| probe | inputs sent | panics | 5xx | 2xx without token | unauthenticated \
                     effects in store | leads lost / dialled twice | engine RSS before → after | \
                     dials during flood vs clean run |\n|---|---|---|---|---|---|---|---|---|";

/// Occurrences of a panic report in an engine's stderr log.
fn panics(log: &Path) -> usize {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .matches("panicked")
        .count()
}

/// Starts `outdial run` like [`start_engine`], its stderr written to `log`.
fn start_logged(db: &str, config: &Path, log: &Path) -> Proc {
    start_engine_with_stderr(db, config, std::fs::File::create(log).expect("log file"))
}

/// Sum of every series of `name` in `/metrics`.
async fn metric(admin: &str, name: &str) -> f64 {
    let text = engine_support::metrics_text(admin).await;
    text.lines()
        .filter(|l| l.starts_with(name) && l[name.len()..].starts_with([' ', '{']))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// The SIP listen address and admin URL of a config written by [`engine_config`].
fn sip_addr(cfg: &Path) -> SocketAddr {
    std::fs::read_to_string(cfg)
        .expect("config")
        .lines()
        .find_map(|l| l.trim().strip_prefix("listen: "))
        .and_then(|a| a.parse().ok())
        .expect("sip listen")
}

async fn count(store: &Store, q: &str) -> i64 {
    let (n,): (i64,) = match store.db() {
        Db::Sqlite(p) => sqlx::query_as(q).fetch_one(p).await,
        Db::Postgres(p) => sqlx::query_as(q).fetch_one(p).await,
    }
    .expect("count");
    n
}

/// Leads dialled more than once in the run (no retry delay of the lab campaign is that short),
/// and leads lost: attempts left open, leads left leased or dialling, or fewer leads than loaded.
async fn lost_and_twice(store: &Store, loaded: i64) -> (usize, usize) {
    let atts = attempts(store).await;
    let mut per_lead: HashMap<i64, usize> = HashMap::new();
    for a in &atts {
        *per_lead.entry(a.lead_id).or_default() += 1;
    }
    let twice = per_lead.values().filter(|&&n| n > 1).count();
    let open = atts.iter().filter(|a| a.is_open != 0).count();
    let states = lead_states(store).await;
    let stuck: i64 = states
        .iter()
        .filter(|(s, _)| !["new", "scheduled", "done"].contains(&s.as_str()))
        .map(|(_, n)| n)
        .sum();
    let total: i64 = states.iter().map(|(_, n)| n).sum();
    (
        open + stuck as usize + (loaded - total).max(0) as usize,
        twice,
    )
}

// ---------------------------------------------------------------------------------------------
// SIP

/// Caller digits of the stranger's requests: a stored inbound call with them is a leak.
const STRANGER_CALLER: &str = "6599990002";

/// Real messages, as a trunk or agent would send them to the engine at `e` from `me`.
fn sip_templates(e: SocketAddr, me: SocketAddr, caller: &str, i: usize) -> Vec<String> {
    let sdp = format!(
        "v=0\r\no=x 1 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n",
        ip = me.ip()
    );
    let req = |method: &str, cseq: &str, body: &str, ctype: &str| {
        format!(
            "{method} sip:+6560001000@{e} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bKp{i}x\r\n\
             Max-Forwards: 70\r\nFrom: <sip:+{caller}@{ip}>;tag=f{i}\r\nTo: <sip:+6560001000@{e}>\r\n\
             Call-ID: probe-{i}@{ip}\r\nCSeq: {cseq}\r\nContact: <sip:x@{me}>\r\n{ctype}\
             Content-Length: {}\r\n\r\n{body}",
            body.len(),
            ip = me.ip()
        )
    };
    let resp = |code: &str, body: &str| {
        format!(
            "SIP/2.0 {code}\r\nVia: SIP/2.0/UDP {e};branch=z9hG4bK{i:x}.{i};rport\r\n\
             From: <sip:+6560000000@{e}>;tag=a{i}\r\nTo: <sip:+6560001000@{me}>;tag=b{i}\r\n\
             Call-ID: probe-r{i}\r\nCSeq: 1 INVITE\r\nContact: <sip:x@{me}>\r\n\
             Content-Length: {}\r\n\r\n{body}",
            body.len()
        )
    };
    let ct = "Content-Type: application/sdp\r\n";
    vec![
        req("INVITE", "1 INVITE", &sdp, ct),
        req("INVITE", "1 INVITE", "", ""),
        req("OPTIONS", "1 OPTIONS", "", ""),
        req("BYE", "2 BYE", "", ""),
        req("CANCEL", "1 CANCEL", "", ""),
        req("ACK", "1 ACK", "", ""),
        req("REGISTER", "1 REGISTER", "", ""),
        req(
            "INFO",
            "3 INFO",
            "Signal=1\r\n",
            "Content-Type: application/dtmf-relay\r\n",
        ),
        resp("200 OK", &sdp),
        resp("180 Ringing", ""),
        resp("486 Busy Here", ""),
        resp("604 Does Not Exist Anywhere", ""),
    ]
}

const COMPACT: [(&str, &str); 7] = [
    ("Via:", "v:"),
    ("From:", "f:"),
    ("To:", "t:"),
    ("Call-ID:", "i:"),
    ("Content-Length:", "l:"),
    ("Contact:", "m:"),
    ("Content-Type:", "c:"),
];

const CONTENT_LENGTHS: [&str; 7] = [
    "99999999999999999999999",
    "-1",
    "4294967296",
    "65536",
    "1e3",
    "",
    "0x10",
];

const CSEQS: [&str; 8] = [
    "abc INVITE",
    "4294967296 INVITE",
    "-1 INVITE",
    "1 BYE",
    "",
    "1",
    "99999999999999999999 INVITE",
    "1 INVITE extra",
];

const START_LINES: [&str; 6] = [
    "INVITE  SIP/2.0",
    "SIP/2.0 99999 X",
    "invite sip:x SIP/2.0",
    "INVITE sip:x SIP/3.0",
    "SIP/2.0 2OO OK",
    "\u{feff}OPTIONS sip:x SIP/2.0",
];

/// One mutation of a SIP message (bytes: some mutations leave UTF-8 behind).
fn mutate_sip(msg: &[u8], rng: &mut Pcg64) -> Vec<u8> {
    let text = String::from_utf8_lossy(msg).into_owned();
    let mut lines: Vec<String> = text.split("\r\n").map(str::to_string).collect();
    let header = |rng: &mut Pcg64, lines: &[String]| {
        // A header line (not the start line, not the blank line or body).
        let end = lines
            .iter()
            .position(String::is_empty)
            .unwrap_or(lines.len());
        1 + rng.gen_range(0..end.saturating_sub(1).max(1))
    };
    // What was cut down to a line or two gets byte edits only.
    let op = if lines.len() < 3 {
        8
    } else {
        rng.gen_range(0..12)
    };
    match op {
        0 => {
            let cut = rng.gen_range(0..msg.len());
            return msg[..cut].to_vec();
        }
        1 => {
            let h = header(rng, &lines);
            let copies = rng.gen_range(1..6);
            for _ in 0..copies {
                let l = lines[h].clone();
                lines.insert(h, l);
            }
        }
        2 => {
            let v = CONTENT_LENGTHS[rng.gen_range(0..CONTENT_LENGTHS.len())];
            for l in lines.iter_mut() {
                if l.starts_with("Content-Length:") {
                    *l = format!("Content-Length: {v}");
                }
            }
        }
        3 => {
            let v = CSEQS[rng.gen_range(0..CSEQS.len())];
            for l in lines.iter_mut() {
                if l.starts_with("CSeq:") {
                    *l = format!("CSeq: {v}");
                }
            }
        }
        4 => {
            let n = rng.gen_range(1..1400);
            return (0..n).map(|_| rng.gen()).collect();
        }
        5 => {
            for (long, short) in COMPACT {
                if rng.gen_bool(0.7) {
                    for l in lines.iter_mut() {
                        if let Some(rest) = l.strip_prefix(long) {
                            *l = format!("{short}{rest}");
                        }
                    }
                }
            }
        }
        6 => {
            let garbage: &[&[u8]] = &[
                b"\xff\xfe",
                b"\xc3\x28",
                b"\xe2\x82",
                b"\xf0\x9f\x98",
                b"\xc0\xaf",
            ];
            let mut out = msg.to_vec();
            for _ in 0..rng.gen_range(1..5) {
                let at = rng.gen_range(0..=out.len());
                let g = garbage[rng.gen_range(0..garbage.len())];
                out.splice(at..at, g.iter().copied());
            }
            return out;
        }
        7 => {
            let h = header(rng, &lines);
            let len = rng.gen_range(1_000..knob("PROBE_PAD_MAX", 60_000, 60_000).max(1_001));
            lines.insert(h, format!("X-Pad: {}", "a".repeat(len)));
        }
        8 => {
            let mut out = msg.to_vec();
            for _ in 0..rng.gen_range(1..8) {
                if out.is_empty() {
                    break;
                }
                let p = rng.gen_range(0..out.len());
                match rng.gen_range(0..3) {
                    0 => out[p] = rng.gen(),
                    1 => {
                        out.remove(p);
                    }
                    _ => out.insert(p, rng.gen()),
                }
            }
            return out;
        }
        9 => {
            let h = header(rng, &lines);
            lines.remove(h);
        }
        10 => lines[0] = START_LINES[rng.gen_range(0..START_LINES.len())].to_string(),
        _ => {
            // Header values in other scripts and control characters.
            let h = header(rng, &lines);
            let junk = ["ü€𝄞", "\u{0}", "\u{7f}\u{1b}[2J", "\u{202e}evil", "%00%ff"];
            lines[h].push_str(junk[rng.gen_range(0..junk.len())]);
        }
    }
    lines.join("\r\n").into_bytes()
}

struct SipRun {
    sent: usize,
    tcp: usize,
    panics: usize,
    stranger_answers: usize,
    stranger_stored: i64,
    lost: usize,
    twice: usize,
    rss: (u64, u64, u64),
    dials_flood: f64,
    /// Seconds the senders took (0 in a clean run).
    flood_len: f64,
    dials_after: f64,
    dials: u64,
}

/// Runs an engine for `run_s` on a fresh lab; from 2 s on, unless `clean`, sends `datagrams`
/// mutated datagrams (half from 127.0.0.1, the trunk's and agents' IP, half from 127.0.0.2) and
/// `streams` TCP connections with mutated messages, over `flood_s` seconds.
async fn sip_run(
    clean: bool,
    datagrams: usize,
    streams: usize,
    run_s: u32,
    flood_s: f64,
) -> SipRun {
    let l = Lab::new(
        if clean {
            "probe-sip-clean"
        } else {
            "probe-sip"
        },
        None,
        20,
    );
    let leads = 1500;
    l.campaign("lab-calls", "predictive", 50, 1_000_000, leads, 0);
    let (cfg, admin) = engine_config(
        &l.dir,
        &EngineSetup {
            agent_range: (1, 20),
            grace_s: 2,
            ..l.setup("probe-1", "lab-calls", run_s)
        },
    );
    let engine_sip = sip_addr(&cfg);
    let log = l.dir.join("engine.log");
    let mut engine = start_logged(&l.db, &cfg, &log);
    let client = wait_admin(&admin).await;
    let started = tokio::time::Instant::now();
    let pid = engine.child.id();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_before = rss_kb(pid);
    let dials_0 = metric(&admin, "outdial_dials_total").await;
    let flood_start = tokio::time::Instant::now();
    // Dials are counted over the same `flood_s` window in the clean and the hostile run, whether
    // or not the senders are done by then.
    let window_end = flood_start + Duration::from_secs_f64(flood_s);
    let admin_url = admin.clone();
    let window = tokio::spawn(async move {
        tokio::time::sleep_until(window_end).await;
        metric(&admin_url, "outdial_dials_total").await
    });
    let stranger_answers = Arc::new(AtomicUsize::new(0));
    let mut sent = 0;
    let mut tcp = 0;
    let flood_len;
    if !clean {
        let trusted = Arc::new(
            tokio::net::UdpSocket::bind("127.0.0.1:0")
                .await
                .expect("bind"),
        );
        let stranger = Arc::new(
            tokio::net::UdpSocket::bind("127.0.0.2:0")
                .await
                .expect("bind"),
        );
        // Drain both sockets (an unread socket drops what comes); count what the stranger is
        // answered other than a refusal.
        // Until a second after the flood's planned end: the engine retransmits to the trunk's IP.
        let drain_end = flood_start + Duration::from_secs_f64(flood_s + 1.0);
        let mut drains = Vec::new();
        for (sock, is_stranger) in [(trusted.clone(), false), (stranger.clone(), true)] {
            let answers = stranger_answers.clone();
            drains.push(tokio::spawn(async move {
                let mut buf = vec![0u8; 65_536];
                while let Ok(Ok((len, _))) =
                    tokio::time::timeout_at(drain_end, sock.recv_from(&mut buf)).await
                {
                    let m = &buf[..len];
                    let refusal = m.starts_with(b"SIP/2.0 4")
                        || m.starts_with(b"SIP/2.0 5")
                        || m.starts_with(b"SIP/2.0 6");
                    if is_stranger && !refusal {
                        answers.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }));
        }
        // TCP streams, alongside: each connection carries one to three mutated messages, some
        // split across writes, then is closed.
        // Bounded in time as well as count: whatever is not sent by then is not sent (and the
        // count of inputs sent says so).
        let give_up = flood_start + Duration::from_secs_f64(3.0 * flood_s + 10.0);
        let stream_task = tokio::spawn(async move {
            let mut rng = Pcg64::seed_from_u64(1502);
            let mut n = 0;
            for i in 0..streams {
                if tokio::time::Instant::now() > give_up {
                    break;
                }
                let ip: std::net::IpAddr = if i % 2 == 0 {
                    [127, 0, 0, 1]
                } else {
                    [127, 0, 0, 2]
                }
                .into();
                let Ok(sock) = tokio::net::TcpSocket::new_v4() else {
                    continue;
                };
                if sock.bind((ip, 0).into()).is_err() {
                    continue;
                }
                let Ok(Ok(mut s)) =
                    tokio::time::timeout(Duration::from_secs(1), sock.connect(engine_sip)).await
                else {
                    continue;
                };
                let me = s.local_addr().unwrap_or((ip, 0).into());
                let caller = if i % 2 == 0 {
                    "6599990001"
                } else {
                    STRANGER_CALLER
                };
                let t = sip_templates(engine_sip, me, caller, 1_000_000 + i);
                let mut bytes = Vec::new();
                for _ in 0..rng.gen_range(1..4) {
                    let base = t[rng.gen_range(0..t.len())].replace("SIP/2.0/UDP", "SIP/2.0/TCP");
                    let m = mutate_sip(base.as_bytes(), &mut rng);
                    bytes.extend(m);
                }
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                let cut = rng.gen_range(0..=bytes.len());
                let ok = s.write_all(&bytes[..cut]).await.is_ok()
                    && s.write_all(&bytes[cut..]).await.is_ok();
                if ok {
                    n += 1;
                }
                let _ = s.shutdown().await; // the engine may have closed first: nothing to do
                let mut sink = [0u8; 4096];
                let _ = tokio::time::timeout(Duration::from_millis(20), s.read(&mut sink)).await;
                // answers are not checked on TCP
            }
            n
        });
        let mut rng = Pcg64::seed_from_u64(1501);
        let per_tick = (datagrams as f64 / (flood_s * 10.0)).ceil() as usize;
        for i in 0..datagrams {
            if tokio::time::Instant::now() > give_up {
                break;
            }
            let from_stranger = i % 2 == 1;
            let (sock, caller) = if from_stranger {
                (&stranger, STRANGER_CALLER)
            } else {
                (&trusted, "6599990001")
            };
            let me = sock.local_addr().expect("local");
            let t = sip_templates(engine_sip, me, caller, i);
            let base = t[rng.gen_range(0..t.len())].as_bytes().to_vec();
            let mut m = mutate_sip(&base, &mut rng);
            if rng.gen_bool(0.2) {
                m = mutate_sip(&m, &mut rng);
            }
            m.truncate(65_000);
            // A send may fail on an oversized datagram: that input was not sent.
            if sock.send_to(&m, engine_sip).await.is_ok() {
                sent += 1;
            }
            if (i + 1) % per_tick == 0 {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        tcp = stream_task.await.expect("tcp probe");
        // The flood is over when both senders are done (later than `flood_s` on a busy machine).
        flood_len = flood_start.elapsed().as_secs_f64();
        for d in drains {
            d.await.expect("drain");
        }
    } else {
        flood_len = 0.0;
    }
    let dials_1 = window.await.expect("dials window");
    let rss_flood = rss_kb(pid);
    // Two seconds before the end: the engine counts its run from before its admin API answered.
    tokio::time::sleep_until(started + Duration::from_secs(u64::from(run_s) - 2)).await;
    let dials_2 = metric(&admin, "outdial_dials_total").await;
    let rss_end = rss_kb(pid);
    assert!(
        engine.child.try_wait().expect("engine status").is_none(),
        "the engine died under the probe: {}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    drop(client);
    let summary = finish_engine(engine, Duration::from_secs(60));
    let store = Store::open(&l.db).await.expect("store");
    let stranger_stored = count(
        &store,
        &format!("SELECT CAST(COUNT(*) AS BIGINT) FROM inbound_calls WHERE caller LIKE '%{STRANGER_CALLER}%'"),
    )
    .await;
    let (lost, twice) = lost_and_twice(&store, leads.into()).await;
    store.close().await;
    let panicked = panics(&log);
    // The lab's store and logs are not needed past the counts above.
    std::fs::remove_dir_all(&l.dir).ok();
    SipRun {
        sent,
        tcp,
        panics: panicked,
        stranger_answers: stranger_answers.load(Ordering::Relaxed),
        stranger_stored,
        lost,
        twice,
        rss: (rss_before, rss_flood, rss_end),
        dials_flood: dials_1 - dials_0,
        flood_len,
        dials_after: dials_2 - dials_1,
        dials: summary["campaigns"][0]["dials"].as_u64().unwrap_or(0),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_sip_at_a_running_engine_neither_crashes_it_nor_stops_dialling_nor_reaches_the_store(
) {
    // Overrides to narrow a failure down (bounded like the full sizes).
    let datagrams = knob("PROBE_DATAGRAMS", size(3_000, 100_000), 100_000);
    let streams = knob("PROBE_STREAMS", size(60, 1_000), 1_000);
    let (run_s, flood_s) = if full() { (20, 12.0) } else { (8, 3.0) };
    let clean = if full() && std::env::var("PROBE_NO_CLEAN").is_err() {
        Some(sip_run(true, 0, 0, run_s, flood_s).await)
    } else {
        None
    };
    let r = sip_run(false, datagrams, streams, run_s, flood_s).await;
    let vs = clean
        .as_ref()
        .map_or("— (clean run: `make probe`)".to_string(), |c| {
            format!(
                "{} vs {} in the first {flood_s} s of the flood (sent in {:.1} s); {} vs {} in the \
                 whole run",
                r.dials_flood, c.dials_flood, r.flood_len, r.dials, c.dials
            )
        });
    println!(
        "\n{TABLE}\n| SIP at `outdial run` | {} datagrams + {} TCP streams | {} | — | {} SIP answers to the \
         stranger other than 4xx–6xx | {} | {} / {} | {} → {} kB (flood end), {} kB at the end | {vs} |",
        r.sent,
        r.tcp,
        r.panics,
        r.stranger_answers,
        r.stranger_stored,
        r.lost,
        r.twice,
        r.rss.0,
        r.rss.1,
        r.rss.2,
    );
    assert!(
        r.sent >= datagrams * 95 / 100,
        "only {} datagrams sent",
        r.sent
    );
    assert_eq!(r.panics, 0, "the engine panicked");
    assert_eq!(
        r.stranger_answers, 0,
        "the stranger was answered other than with a refusal"
    );
    assert_eq!(
        r.stranger_stored, 0,
        "the stranger's calls reached the store"
    );
    assert_eq!((r.lost, r.twice), (0, 0), "leads lost / dialled twice");
    assert!(
        r.dials_flood >= 10.0,
        "dialling stopped during the flood: {} dials",
        r.dials_flood
    );
    assert!(
        r.dials_after >= 5.0,
        "dialling stopped after the flood: {} dials",
        r.dials_after
    );
    if let Some(c) = clean {
        assert!(
            r.dials_flood >= 0.9 * c.dials_flood && r.dials as f64 >= 0.9 * c.dials as f64,
            "dials during the flood {} vs {} in the clean run (whole run {} vs {})",
            r.dials_flood,
            c.dials_flood,
            r.dials,
            c.dials
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Admin API

/// Campaign names and odd path segments, for every `{name}` and `{id}`.
const ODD_SEGMENTS: [&str; 14] = [
    "..",
    "%2e%2e",
    "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "lab-calls%2Fpause",
    "lab%00calls",
    "%ff%fe",
    "%",
    "%zz",
    "%E2%80%AE",
    "LAB-CALLS",
    "lab-calls/../lab-calls",
    "..%5c..%5c",
    "%25%32%65",
    "ü",
];

const PATH_MUTATIONS: [(&str, &str); 9] = [
    ("/..", ""),
    ("/", ""),
    ("", "?%"),
    ("", "?a=%zz&&=="),
    ("", "#frag"),
    ("", "/"),
    ("", "/../../metrics"),
    ("/%2e%2e", ""),
    ("http://127.0.0.1", ""),
];

const METHODS: [&str; 10] = [
    "GET", "POST", "PATCH", "PUT", "DELETE", "HEAD", "OPTIONS", "TRACE", "FOO", "get",
];

const BAD_TOKENS: [&str; 7] = [
    "Bearer engine-test-token-012345678",
    "Bearer engine-test-token-0123456789x",
    "Bearer ",
    "Bearer engine-test-token-0123456789 extra",
    "Basic ZW5naW5lOnRlc3Q=",
    "Bearer engine-test-token-0123456788",
    "engine-test-token-0123456789",
];

/// A JSON body of a route, then mutated half of the time.
fn admin_body(route: &str, rng: &mut Pcg64) -> Vec<u8> {
    let valid: &[&str] = match route {
        "pacing" => &[
            r#"{"ratio": 1.5}"#,
            r#"{"mode": "predictive", "max_ratio": 2.5}"#,
            r#"{"target_abandon": 0.02}"#,
            r#"{"mode": "progressive"}"#,
            r#"{"mode": "power", "ratio": 1.2}"#,
        ],
        "pause" => &[r#"{"reason": "lunch"}"#, r#"{"reason": "training"}"#],
        "wrapup" => &[
            r#"{"disposition": "completed"}"#,
            r#"{"disposition": "callback", "at_ms": 1900000000000}"#,
            r#"{"disposition": "promise_to_pay"}"#,
        ],
        _ => &["", "{}"],
    };
    let mut b = valid[rng.gen_range(0..valid.len())].as_bytes().to_vec();
    if rng.gen_bool(0.5) {
        return b;
    }
    match rng.gen_range(0..12) {
        0 => b.truncate(rng.gen_range(0..=b.len())),
        1 => b = br#"{"ratio": 1e309}"#.to_vec(),
        2 => b = br#"{"ratio": "1.5", "max_ratio": [], "target_abandon": {}}"#.to_vec(),
        3 => b = br#"{"ratio": 1.5, "ratio": -1, "surprise": true}"#.to_vec(),
        4 => b = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000)).into_bytes(),
        5 => b = format!(r#"{{"reason": "{}"}}"#, "x".repeat(70_000)).into_bytes(),
        6 => b = b"null".to_vec(),
        7 => b = b"\xff\xfe{\"ratio\": 1}".to_vec(),
        8 => b = br#"{"target_abandon": 5e-324, "ratio": NaN, "power": 1e308}"#.to_vec(),
        9 => b = br#"{"disposition": "callback", "at_ms": 99999999999999999999}"#.to_vec(),
        10 => {
            b = "{\"reason\": \"\u{202e}\u{0}\u{1b}[2J\"}"
                .as_bytes()
                .to_vec()
        }
        _ => {
            for _ in 0..rng.gen_range(1..6) {
                if b.is_empty() {
                    break;
                }
                let p = rng.gen_range(0..b.len());
                b[p] = rng.gen();
            }
        }
    }
    b
}

/// One probe request: its bytes and whether it carries the valid token.
fn admin_request(rng: &mut Pcg64, campaign: &str, agents: &[String]) -> (Vec<u8>, bool) {
    let name = |rng: &mut Pcg64, real: &str| {
        if rng.gen_bool(0.7) {
            real.to_string()
        } else if rng.gen_bool(0.1) {
            "a".repeat(rng.gen_range(100..20_000))
        } else {
            ODD_SEGMENTS[rng.gen_range(0..ODD_SEGMENTS.len())].to_string()
        }
    };
    let agent = agents[rng.gen_range(0..agents.len())].clone();
    let c = name(rng, campaign);
    let a = name(rng, &agent);
    let (method, path, route) = match rng.gen_range(0..14) {
        0 => ("GET", "/campaigns".to_string(), ""),
        1 => ("GET", format!("/campaigns/{c}"), ""),
        2 => ("PATCH", format!("/campaigns/{c}/pacing"), "pacing"),
        3 => ("POST", format!("/campaigns/{c}/pacing"), "pacing"),
        4 => ("POST", format!("/campaigns/{c}/pause"), ""),
        5 => ("POST", format!("/campaigns/{c}/resume"), ""),
        6 => ("GET", "/agents".to_string(), ""),
        7 => ("POST", format!("/agents/{a}/login"), ""),
        8 => ("POST", format!("/agents/{a}/ready"), ""),
        9 => ("POST", format!("/agents/{a}/pause"), "pause"),
        10 => ("POST", format!("/agents/{a}/wrapup"), "wrapup"),
        11 => ("GET", format!("/agents/{a}/current"), ""),
        12 => ("POST", format!("/agents/{a}/logout"), ""),
        _ => ("GET", "/metrics".to_string(), ""),
    };
    let method = if rng.gen_bool(0.8) {
        method
    } else {
        METHODS[rng.gen_range(0..METHODS.len())]
    };
    let path = if rng.gen_bool(0.15) {
        let (pre, post) = PATH_MUTATIONS[rng.gen_range(0..PATH_MUTATIONS.len())];
        format!("{pre}{path}{post}")
    } else {
        path
    };
    let valid = rng.gen_bool(0.4);
    let auth = if valid {
        // The scheme is case-insensitive (RFC 9110 §11.1): `bearer` is the same token.
        Some(format!(
            "{} {TOKEN}",
            if rng.gen_bool(0.9) {
                "Bearer"
            } else {
                "bearer"
            }
        ))
    } else if rng.gen_bool(0.3) {
        None
    } else {
        Some(BAD_TOKENS[rng.gen_range(0..BAD_TOKENS.len())].to_string())
    };
    let body = admin_body(route, rng);
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
    if let Some(a) = &auth {
        head.push_str(&format!("Authorization: {a}\r\n"));
    }
    let mut length = body.len().to_string();
    let mut raw_extra: Vec<u8> = Vec::new();
    if rng.gen_bool(0.2) {
        match rng.gen_range(0..10) {
            0 => head.push_str(&format!("X-Huge: {}\r\n", "h".repeat(100_000))),
            1 => {
                for i in 0..500 {
                    head.push_str(&format!("X-Many-{i}: {i}\r\n"));
                }
            }
            2 => head.push_str("This line has no colon\r\n"),
            3 => raw_extra.extend_from_slice(b"X-Bytes: \xff\xfe\x00\x01\r\n"),
            4 => head.push_str("X-Folded: a\r\n b\r\n"),
            5 => head.push_str("Transfer-Encoding: chunked\r\n"),
            6 => length = format!("{}", body.len() / 2),
            7 => length = "-1".to_string(),
            8 => head.push_str(&format!("Authorization: {}\r\n", BAD_TOKENS[0])),
            _ => head.push_str("Content-Type: text/plain\r\n"),
        }
    }
    if !body.is_empty() || rng.gen_bool(0.5) {
        head.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {length}\r\n"
        ));
    }
    let mut bytes = head.into_bytes();
    bytes.extend(raw_extra);
    bytes.extend_from_slice(b"\r\n");
    bytes.extend(body);
    (bytes, valid)
}

/// Sends one request over a fresh connection and reads the answer: its status code,
/// or `None` when the server closed without one (or stayed silent for 3 s).
fn http_raw(addr: SocketAddr, req: &[u8]) -> (Option<u16>, Vec<u8>) {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(3)) else {
        return (None, Vec::new());
    };
    // A refused or timed-out socket option leaves the defaults: the read is still bounded below.
    s.set_read_timeout(Some(Duration::from_secs(3))).ok();
    s.set_write_timeout(Some(Duration::from_secs(3))).ok();
    // The server may answer and close before the whole request went out (a huge header); no
    // half-close after it: the server reads that as the client going away, and `Connection:
    // close` ends the exchange.
    let _sent = s.write_all(req).is_ok();
    let mut out = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    while out.len() < 1 << 20 {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
    let code = out
        .strip_prefix(b"HTTP/1.1 ")
        .and_then(|r| std::str::from_utf8(r.get(..3)?).ok()?.parse().ok());
    (code, out)
}

/// The supervisor-visible state: every campaign's pacing settings and paused flag.
fn admin_state(addr: SocketAddr) -> Vec<serde_json::Value> {
    let req = format!(
        "GET /campaigns HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\
         Authorization: Bearer {TOKEN}\r\n\r\n"
    );
    let (code, out) = http_raw(addr, req.as_bytes());
    assert_eq!(code, Some(200), "{}", String::from_utf8_lossy(&out));
    let body = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|p| &out[p + 4..])
        .expect("a body");
    let all: Vec<serde_json::Value> = serde_json::from_slice(body).expect("campaigns JSON");
    pacing_state(&all)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_admin_requests_get_no_5xx_no_2xx_without_the_token_and_change_nothing_when_refused(
) {
    let requests = size(2_000, 5_000);
    let l = Lab::new("probe-admin", None, 3);
    l.campaign("lab-calls", "predictive", 50, 1_000_000, 300, 0);
    let (cfg, admin) = engine_config(
        &l.dir,
        &EngineSetup {
            agent_range: (1, 3),
            grace_s: 1,
            ..l.setup("probe-admin", "lab-calls", 600)
        },
    );
    let addr: SocketAddr = admin
        .strip_prefix("http://")
        .and_then(|a| a.parse().ok())
        .expect("admin address");
    let log = l.dir.join("engine.log");
    let mut engine = start_logged(&l.db, &cfg, &log);
    let client = wait_admin(&admin).await;
    let agents: Vec<String> = client
        .agents()
        .await
        .expect("agents")
        .into_iter()
        .map(|a| a.id)
        .collect();
    let rss_before = rss_kb(engine.child.id());
    let probe = tokio::task::spawn_blocking(move || {
        let mut rng = Pcg64::seed_from_u64(1503);
        let mut by_class = [0usize; 6]; // none, 1xx … 5xx
        let (mut unauth_2xx, mut changed, mut five) = (0, 0, Vec::new());
        let mut culprits: Vec<String> = Vec::new();
        let show = |r: &[u8]| String::from_utf8_lossy(&r[..r.len().min(300)]).into_owned();
        let mut state = admin_state(addr);
        for _ in 0..requests {
            let (req, valid) = admin_request(&mut rng, "lab-calls", &agents);
            let writes = valid && !req.starts_with(b"GET ") && !req.starts_with(b"HEAD ");
            if writes && admin_state(addr) != state {
                // Something refused since the last check changed the state.
                changed += 1;
                culprits.push(format!("before {}", show(&req)));
            }
            let (code, out) = http_raw(addr, &req);
            by_class[code.map_or(0, |c| usize::from(c / 100).min(5))] += 1;
            if code.is_some_and(|c| c >= 500) && five.len() < 5 {
                five.push(
                    String::from_utf8_lossy(&req[..req.len().min(300)]).into_owned()
                        + " => "
                        + &String::from_utf8_lossy(&out[..out.len().min(300)]),
                );
            }
            let ok = code.is_some_and(|c| (200..300).contains(&c));
            if ok && !valid {
                unauth_2xx += 1;
            }
            if writes {
                let now = admin_state(addr);
                if !ok && now != state {
                    changed += 1;
                    culprits.push(format!("{code:?} {}", show(&req)));
                }
                state = now;
            }
        }
        if admin_state(addr) != state {
            changed += 1;
            culprits.push("after the last request".into());
        }
        (by_class, unauth_2xx, changed, five, culprits)
    });
    let (by_class, unauth_2xx, changed, five, culprits) = probe.await.expect("probe");
    let rss_after = rss_kb(engine.child.id());
    assert!(
        engine.child.try_wait().expect("engine status").is_none(),
        "the engine died under the probe"
    );
    drop(client);
    drop(engine);
    let p = panics(&log);
    // The lab's store and log are not needed past the counts.
    std::fs::remove_dir_all(&l.dir).ok();
    println!(
        "\n{TABLE}\n| admin API of `outdial run` | {requests} requests ({} no answer, {} 2xx, {} 4xx) | {p} \
         | {} | {unauth_2xx} | {changed} state changes from refused requests | — | {rss_before} → \
         {rss_after} kB | — |",
        by_class[0], by_class[2], by_class[4], by_class[5]
    );
    assert_eq!(p, 0, "the engine panicked");
    assert_eq!(by_class[5], 0, "5xx answers: {five:#?}");
    assert_eq!(unauth_2xx, 0, "2xx without the token");
    assert_eq!(
        changed, 0,
        "a refused request changed pacing or pause state: {culprits:#?}"
    );
    assert!(
        by_class[2] > requests / 10 && by_class[4] > requests / 4,
        "{by_class:?}: the mix tests little"
    );
}

// ---------------------------------------------------------------------------------------------
// Call lists

/// Rows in each list before mutation.
const ROWS: usize = 20;

const PHONES: [&str; 10] = [
    "9abc1234",
    "+65 9123 4567",
    "９１２３４５６７",
    "٩١٢٣٤٥٦٧",
    "",
    "99999999999999999999999",
    "-1",
    "1e10",
    "=HYPERLINK(\"x\")",
    "+",
];

const FORMULAS: [&str; 5] = ["=cmd|' /C calc'!A0", "+SUM(1,2)", "@x", "-2+3", "\t=1+1"];

/// A mutated list: its bytes, the phones (national) of the rows no mutation touched, and whether
/// a mutation may reach beyond its row (a quote, invalid UTF-8, a header change, bare CRs).
struct ListMutant {
    bytes: Vec<u8>,
    untouched: Vec<String>,
    wide: bool,
}

/// List `m` (its phones are its own) with one to three mutations.
fn mutate_list(m: usize, rng: &mut Pcg64) -> ListMutant {
    let phone = |i: usize| format!("9{:07}", 1_000_000 + m * ROWS + i);
    // (original row, line bytes); the header is row None.
    let mut lines: Vec<(Option<usize>, Vec<u8>)> =
        vec![(None, b"phone,name,external_id,loan_amount".to_vec())];
    for i in 0..ROWS {
        let l = format!("{},Customer {i},APP-{m}-{i},{}", phone(i), 1000 + i * 37);
        lines.push((Some(i), l.into_bytes()));
    }
    let mut touched = [false; ROWS];
    let mut wide = false;
    let mut ending: &[u8] = b"\n";
    let mut bom = false;
    let mut quoted = false;
    for _ in 0..rng.gen_range(1..4) {
        let k = rng.gen_range(1..lines.len().max(2)).min(lines.len() - 1);
        let mut touch = |lines: &Vec<(Option<usize>, Vec<u8>)>, k: usize| {
            if let Some(i) = lines[k].0 {
                touched[i] = true;
            }
        };
        match rng.gen_range(0..14) {
            0 => {
                let at = rng.gen_range(0..=lines[k].1.len());
                lines[k].1.insert(at, b'"');
                quoted = true;
                touch(&lines, k);
            }
            1 => {
                let d = [&b";"[..], b"\t", b",,", b"|"][rng.gen_range(0..4)];
                if let Some(p) = lines[k].1.iter().position(|&b| b == b',') {
                    lines[k].1.splice(p..p + 1, d.iter().copied());
                    touch(&lines, k);
                }
            }
            2 => {
                if rng.gen_bool(0.5) {
                    bom = true;
                } else {
                    lines[k].1.splice(0..0, "\u{feff}".bytes());
                    touch(&lines, k);
                }
            }
            3 => {
                if rng.gen_bool(0.7) {
                    ending = b"\r\n";
                } else {
                    ending = b"\r";
                    wide = true;
                }
            }
            4 => {
                let at = rng.gen_range(0..=lines[k].1.len());
                lines[k].1.insert(at, 0);
                touch(&lines, k);
            }
            5 => {
                let at = rng.gen_range(0..=lines[k].1.len());
                lines[k].1.splice(at..at, [0xff, 0xfe, 0xc3]);
                wide = true;
            }
            6 => {
                let n = if rng.gen_bool(0.8) { 5_000 } else { 1 << 20 };
                lines[k]
                    .1
                    .extend_from_slice(format!(",{}", "x".repeat(n)).as_bytes());
                let name = lines[k].1.iter().position(|&b| b == b',').unwrap_or(0);
                lines[k]
                    .1
                    .splice(name..name, format!(",{}", "y".repeat(n)).bytes());
                touch(&lines, k);
            }
            7 => {
                if rng.gen_bool(0.5) {
                    lines.insert(k, (None, lines[0].1.clone()));
                } else {
                    lines[0].1.extend_from_slice(b",phone");
                    wide = true;
                }
            }
            8 => {
                let f = FORMULAS[rng.gen_range(0..FORMULAS.len())];
                let cell = format!("\"{}\"", f.replace('"', "\"\""));
                if let Some(p) = lines[k].1.iter().position(|&b| b == b',') {
                    let end = lines[k].1[p + 1..]
                        .iter()
                        .position(|&b| b == b',')
                        .map_or(lines[k].1.len(), |e| p + 1 + e);
                    lines[k].1.splice(p + 1..end, cell.bytes());
                    touch(&lines, k);
                }
            }
            9 => {
                let p = PHONES[rng.gen_range(0..PHONES.len())];
                let end = lines[k].1.iter().position(|&b| b == b',').unwrap_or(0);
                lines[k]
                    .1
                    .splice(0..end, format!("\"{}\"", p.replace('"', "\"\"")).bytes());
                touch(&lines, k);
            }
            10 => {
                let cut = rng.gen_range(0..=lines[k].1.len());
                lines[k].1.truncate(cut);
                touch(&lines, k);
                for i in lines.drain(k + 1..).filter_map(|l| l.0) {
                    touched[i] = true;
                }
            }
            11 => {
                if rng.gen_bool(0.5) {
                    touch(&lines, k);
                    lines.remove(k);
                } else {
                    lines.insert(k, lines[k].clone());
                }
            }
            12 => lines.insert(
                k,
                (
                    None,
                    [&b""[..], b"   ", b",,,"][rng.gen_range(0..3)].to_vec(),
                ),
            ),
            _ => {
                if rng.gen_bool(0.5) {
                    lines[0].1.extend_from_slice(b",extra");
                    wide = true;
                } else {
                    lines[k].1.extend_from_slice(b",surplus");
                    touch(&lines, k);
                }
            }
        }
        if lines.len() < 2 {
            break;
        }
    }
    let mut bytes = if bom {
        "\u{feff}".as_bytes().to_vec()
    } else {
        Vec::new()
    };
    for (_, l) in &lines {
        bytes.extend_from_slice(l);
        bytes.extend_from_slice(ending);
    }
    // Quotes may pair across lines (a field spanning rows, then rejected for its field count:
    // the csv crate also closes a field at a quote followed by more text). A lone quote in the
    // file can only stay open to the end, which must refuse the whole file or be taken
    // literally, never swallow the rows after it.
    if quoted && bytes.iter().filter(|&&b| b == b'"').count() != 1 {
        wide = true;
    }
    let untouched = (0..ROWS)
        .filter(|&i| !touched[i] && lines.iter().any(|l| l.0 == Some(i)))
        .map(phone)
        .collect();
    ListMutant {
        bytes,
        untouched,
        wide,
    }
}

/// What the list probe counted.
#[derive(Default)]
struct ListCounts {
    loads: usize,
    refused: usize,
    panics: usize,
    unlocated: Vec<String>,
    partial: Vec<String>,
    lost: Vec<String>,
    expected: Vec<String>,
}

/// Loads `mutants` lists (those `m` with `m % workers == w`) into the store at `db`, one
/// `outdial campaign load` each.
async fn load_lists(
    dir: PathBuf,
    db: String,
    w: usize,
    workers: usize,
    mutants: usize,
) -> ListCounts {
    let store = Store::open(&db).await.expect("store");
    let leads = "SELECT CAST(COUNT(*) AS BIGINT) FROM leads";
    let mut c = ListCounts::default();
    // `PROBE_LIST_FIRST`: start there, to replay one list of a failure.
    let first = knob("PROBE_LIST_FIRST", 0, mutants);
    for m in (first + w..mutants).step_by(workers) {
        let mut rng = Pcg64::seed_from_u64(1504 + m as u64);
        let mutant = mutate_list(m, &mut rng);
        let path = dir.join(format!("list-{m}.csv"));
        std::fs::write(&path, &mutant.bytes).expect("write list");
        let before = count(&store, leads).await;
        let (db2, p2) = (db.clone(), path.clone());
        let out = tokio::task::spawn_blocking(move || {
            Command::new(bin())
                .args(["--db", &db2, "campaign", "load", "lab-calls"])
                .arg(&p2)
                .arg("--json")
                .stdin(Stdio::null())
                .output()
                .expect("outdial campaign load")
        })
        .await
        .expect("load");
        let after = count(&store, leads).await;
        // Lists up to 2 MB each: kept only while loaded (a failed removal costs disk, not truth).
        if std::env::var("PROBE_KEEP").is_err() {
            std::fs::remove_file(&path).ok();
        }
        let stderr = String::from_utf8_lossy(&out.stderr);
        c.loads += 1;
        c.panics += stderr.matches("panicked").count();
        let name = path.display().to_string();
        if out.status.success() {
            let report: serde_json::Value =
                serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null);
            let loaded = report["loaded"].as_i64().unwrap_or(-1);
            if after - before != loaded {
                c.partial.push(format!(
                    "{name}: reported {loaded}, stored {}",
                    after - before
                ));
            }
            if !mutant.wide {
                c.expected
                    .extend(mutant.untouched.iter().map(|p| format!("+65{p}")));
            }
        } else {
            c.refused += 1;
            if after != before {
                c.partial.push(format!(
                    "{name}: refused, yet {} leads stored",
                    after - before
                ));
            }
            let located = stderr.lines().any(|l| {
                l.split_once(&format!("{name}:")).is_some_and(|(_, rest)| {
                    rest.starts_with(" empty file")
                        || rest
                            .split(':')
                            .next()
                            .is_some_and(|n| n.parse::<u64>().is_ok())
                })
            });
            if !located {
                c.unlocated.push(format!("{name}: {stderr}"));
            }
        }
    }
    let q = "SELECT phone FROM leads";
    let phones: Vec<(String,)> = match store.db() {
        Db::Sqlite(p) => sqlx::query_as(q).fetch_all(p).await,
        Db::Postgres(p) => sqlx::query_as(q).fetch_all(p).await,
    }
    .expect("phones");
    let stored: std::collections::HashSet<String> = phones.into_iter().map(|(p,)| p).collect();
    c.lost = c
        .expected
        .iter()
        .filter(|p| !stored.contains(*p))
        .cloned()
        .collect();
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutated_call_lists_load_every_clean_row_or_nothing_and_store_only_clean_phones() {
    let mutants = knob("PROBE_LISTS", size(160, 2_000), 2_000);
    let workers = 4;
    let dir = temp_dir("probe-lists");
    let mut stores = Vec::new();
    let mut tasks = Vec::new();
    for w in 0..workers {
        let db = format!("sqlite://{}", dir.join(format!("lists-{w}.db")).display());
        let f = dir.join(format!("campaign-{w}.yaml"));
        std::fs::write(&f, campaign_yaml("lab-calls", "predictive")).expect("campaign");
        outdial(&db, &["campaign", "apply", f.to_str().expect("path")], None);
        stores.push(db.clone());
        tasks.push(tokio::spawn(load_lists(
            dir.clone(),
            db,
            w,
            workers,
            mutants,
        )));
    }
    let mut all = ListCounts::default();
    for t in tasks {
        let c = t.await.expect("worker");
        all.loads += c.loads;
        all.refused += c.refused;
        all.panics += c.panics;
        all.unlocated.extend(c.unlocated);
        all.partial.extend(c.partial);
        all.lost.extend(c.lost);
        all.expected.extend(c.expected);
    }
    // Across every store: only `+` and digits, and no phone twice in the campaign.
    let (mut bad, mut dup, mut leads) = (Vec::new(), 0, 0);
    for db in &stores {
        let store = Store::open(db).await.expect("store");
        let q = "SELECT phone FROM leads";
        let phones: Vec<(String,)> = match store.db() {
            Db::Sqlite(p) => sqlx::query_as(q).fetch_all(p).await,
            Db::Postgres(p) => sqlx::query_as(q).fetch_all(p).await,
        }
        .expect("phones");
        leads += phones.len();
        bad.extend(phones.iter().filter_map(|(p,)| {
            let clean =
                p.len() > 1 && p.starts_with('+') && p[1..].bytes().all(|b| b.is_ascii_digit());
            (!clean).then(|| format!("{p:?}"))
        }));
        dup += count(
            &store,
            "SELECT CAST(COUNT(*) AS BIGINT) FROM (SELECT phone FROM leads \
             GROUP BY campaign_id, phone HAVING COUNT(*) > 1) d",
        )
        .await;
    }
    println!(
        "\n{TABLE}\n| call lists (`outdial campaign load`) | {} lists ({} refused, {leads} leads stored) | {} \
         | — | — | {} phones other than `+` and digits | {} untouched rows lost ({} partial loads) / {dup} \
         duplicated | — | — |",
        all.loads,
        all.refused,
        all.panics,
        bad.len(),
        all.lost.len(),
        all.partial.len()
    );
    // The stores and lists are not needed past the counts above.
    if std::env::var("PROBE_KEEP").is_err() {
        std::fs::remove_dir_all(&dir).ok();
    }
    assert_eq!(all.panics, 0, "a load panicked");
    assert!(
        all.unlocated.is_empty(),
        "refusals without file:line: {:#?}",
        all.unlocated
    );
    assert!(
        all.partial.is_empty(),
        "loads neither whole nor nothing: {:#?}",
        all.partial
    );
    assert!(
        all.lost.is_empty(),
        "untouched rows not loaded: {:?}",
        all.lost
    );
    assert!(bad.is_empty(), "phones stored: {bad:?}");
    assert_eq!(dup, 0, "a phone stored twice");
    assert!(
        all.refused > mutants / 20 && all.refused < mutants * 3 / 4 && all.expected.len() > mutants,
        "the mix tests little: {} refused of {}",
        all.refused,
        all.loads
    );
}
