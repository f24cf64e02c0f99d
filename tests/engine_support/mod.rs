//! Helpers for the live-engine tests: synthetic peers (`outdial trunk-sim`, `agent-sim`) and the
//! engine itself run as the real binary on loopback, a lab campaign, generated lists with callee
//! time zones chosen so that some are inside the calling window now and some outside, and
//! queries of the store the engine wrote. Every child is killed on drop; every wait is bounded.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use chrono::{Timelike, Utc};
use outdial::engine::harness::{GroupLimits, World};
use outdial::store::{Db, Store};

/// The binary under test.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_outdial")
}

/// A fresh directory for one test.
pub fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "outdial-{tag}-{}-{:x}",
        std::process::id(),
        rand::random::<u32>()
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// A loopback port free for UDP and TCP right now (the engine binds both for SIP).
pub fn free_port() -> u16 {
    for _ in 0..50 {
        let Ok(u) = UdpSocket::bind("127.0.0.1:0") else {
            continue;
        };
        let Ok(a) = u.local_addr() else { continue };
        if TcpListener::bind(a).is_ok() {
            return a.port();
        }
    }
    panic!("no free loopback port");
}

/// A child process killed on drop.
pub struct Proc {
    pub child: Child,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Proc {
    /// Waits up to `limit` for the process to exit; kills it and panics otherwise.
    pub fn wait_for(&mut self, limit: Duration) -> ExitStatus {
        let end = Instant::now() + limit;
        loop {
            if let Some(st) = self.child.try_wait().expect("wait") {
                return st;
            }
            if Instant::now() > end {
                let _ = self.child.kill();
                panic!("process did not exit within {limit:?}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Sends a signal (`TERM`, `KILL`).
    pub fn signal(&self, sig: &str) {
        let st = Command::new("kill")
            .args([format!("-{sig}"), self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(st.success(), "kill -{sig}");
    }
}

/// A synthetic peer and the address it listens on.
pub struct Peer {
    pub proc: Proc,
    pub addr: SocketAddr,
}

/// The scenario the peers follow: 30 % live, 10 % machine, 10 % busy, 2 % invalid, ring
/// lognormal 10 s, talk lognormal `talk_s`.
pub fn scenario(dir: &Path, talk_s: u32) -> PathBuf {
    let path = dir.join("scenario.yaml");
    let text = format!(
        "name: engine-test\nseed: 11\nduration: 1h\nagents: 10\npatience: 2s\n\
         talk_time: {{dist: lognormal, mean: {talk_s}s, sd: {}s}}\n\
         wrap_time: {{dist: constant, mean: 10s}}\n\
         trunk:\n  channels: 100\n  live_answer: 0.30\n  machine: 0.10\n  busy: 0.10\n  invalid: 0.02\n\
         \x20 ring_time: {{dist: lognormal, mean: 10s, sd: 5s}}\n  no_answer_timeout: 25s\n\
         inbound: {{rate_per_hour: 0, talk_time: {{dist: constant, mean: 60s}}}}\n\
         target_abandon: 0.03\nstrategies: [predictive]\n",
        talk_s / 2
    );
    std::fs::write(&path, text).expect("write scenario");
    path
}

/// Starts `outdial trunk-sim` or `agent-sim` on a free port.
pub fn peer(cmd: &str, scenario: &Path, scale: f64, extra: &[&str]) -> Peer {
    let mut child = Command::new(bin())
        .arg(cmd)
        .args([
            "--listen",
            "127.0.0.1:0",
            "--time-scale",
            &scale.to_string(),
        ])
        .arg("--scenario")
        .arg(scenario)
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn peer");
    let out = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut r = BufReader::new(out);
        let mut line = String::new();
        let _ = r.read_line(&mut line);
        let _ = tx.send(line);
        // Keep draining so the peer never blocks on a full pipe.
        let mut sink = String::new();
        while r.read_line(&mut sink).unwrap_or(0) > 0 {
            sink.clear();
        }
    });
    let line = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("peer printed its address");
    let addr = line
        .trim()
        .rsplit("sip:")
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("no address in {line:?}"));
    Peer {
        proc: Proc { child },
        addr,
    }
}

/// The lab campaign: predictive, window 09:00–18:00 callee-local, retries minutes apart, and
/// call-progress analysis off: these suites test signalling, pacing and the relay, whose peers
/// send no audio a classifier could judge (`cpa_e2e` and `engine_cpa` turn it on).
pub fn campaign_yaml(name: &str, mode: &str) -> String {
    format!(
        "name: {name}\nkind: verification\npriority: 50\nregion: SG\ntimezone: Asia/Singapore\n\
         dialing:\n  mode: {mode}\n  ratio: 1.0\n  max_ratio: 3.0\n  target_abandon: 0.03\n\
         \x20 patience: 2s\n  ring_timeout: 25s\n\
         window:\n  default: \"09:00-18:00\"\n\
         retry:\n  max_attempts: 5\n  max_attempts_per_day: 3\n  abandon_cooldown: 1h\n  rules:\n\
         \x20   busy: {{ delay: 10m }}\n    no_answer: {{ delay: 20m }}\n    machine: {{ delay: 30m }}\n\
         \x20   abandoned: {{ delay: 1h }}\n    trunk_failure: {{ delay: 5m }}\n    unknown: {{ delay: 15m }}\n\
         caller_id: \"6560885500\"\ntrunk_group: lab\nagent_group: lab\nskills: [verification]\n\
         cpa:\n  enabled: false\n"
    )
}

/// Two fixed-offset zones: one whose local time now is well inside 09:00–18:00, one well
/// outside it (the test runs at any hour).
pub fn open_and_closed_zones() -> (String, String) {
    let h = Utc::now().hour() as i32;
    let zone = |off: i32| {
        // Etc/GMT-8 is UTC+8 (POSIX sign).
        if off == 0 {
            "Etc/GMT".to_string()
        } else if off > 0 {
            format!("Etc/GMT-{off}")
        } else {
            format!("Etc/GMT+{}", -off)
        }
    };
    let local = |off: i32| (h + off).rem_euclid(24);
    let open = (-10..=12)
        .find(|&o| (11..=15).contains(&local(o)))
        .expect("an open zone");
    let closed = (-10..=12)
        .find(|&o| local(o) >= 21 || local(o) <= 5)
        .expect("a closed zone");
    (zone(open), zone(closed))
}

/// A list of `n` synthetic SG mobiles from `first`, alternating the two zones when
/// `closed_every` > 0 (every k-th lead in the closed zone).
pub fn list_csv(first: u32, n: u32, open: &str, closed: &str, closed_every: u32) -> String {
    let mut s = String::from("phone,name,external_id,timezone,loan_amount\n");
    for i in 0..n {
        let tz = if closed_every > 0 && i % closed_every == 0 {
            closed
        } else {
            open
        };
        s.push_str(&format!(
            "9{:07},Customer {i},APP-{i:06},{tz},{}\n",
            first + i * 7,
            1000 + i * 37 % 50_000
        ));
    }
    s
}

/// Runs `outdial --db URL ARGS…` with `stdin`, asserting success.
pub fn outdial(db: &str, args: &[&str], stdin: Option<&str>) -> String {
    use std::io::Write;
    let mut child = Command::new(bin())
        .args(["--db", db])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn outdial");
    if let Some(s) = stdin {
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(s.as_bytes())
            .expect("write stdin");
    } else {
        drop(child.stdin.take());
    }
    let out = child.wait_with_output().expect("outdial");
    assert!(
        out.status.success(),
        "outdial {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// What an engine config needs.
pub struct EngineSetup<'a> {
    pub node: &'a str,
    /// Campaign name, or several separated by commas.
    pub campaign: &'a str,
    pub trunk: SocketAddr,
    pub agents: SocketAddr,
    /// Agent numbers (agent-sim's `agent0001` is 1).
    pub agent_range: (u32, u32),
    pub time_scale: f64,
    pub run_for_s: u32,
    pub grace_s: u32,
    pub channels: u32,
    /// `auto` (synthetic agents) or `api` (agents driven through the agent API).
    pub wrap_up: &'a str,
}

/// Writes an engine config; returns its path and the admin URL.
pub fn engine_config(dir: &Path, e: &EngineSetup) -> (PathBuf, String) {
    let sip_port = free_port();
    let admin_port = free_port();
    let text = format!(
        "node: {node}\nsip:\n  listen: 127.0.0.1:{sip_port}\n  trunks:\n    - {{name: lab-trunk, \
         address: \"{trunk}\", max_channels: {ch}, max_cps: 100, ping_interval: 0s, media: flow-i}}\n  groups:\n    \
         - {{name: lab, trunks: [lab-trunk]}}\nadmin:\n  listen: 127.0.0.1:{admin_port}\n  tokens:\n    \
         - {{name: test-supervisor, token: {TOKEN}}}\nagents:\n  - {{uri: \"sip:agent{{n}}@{agents}\", \
         count: {count}, first: {first}, group: lab, skills: [outbound, verification], wrap_up: {wrap}}}\n\
         auto_wrap_time: {{dist: constant, mean: 10s}}\ncampaigns:\n{campaigns}\
         time_scale: {scale}\nrun_for: {run}s\nshutdown_grace: {grace}s\n",
        node = e.node,
        trunk = e.trunk,
        ch = e.channels,
        agents = e.agents,
        count = e.agent_range.1 - e.agent_range.0 + 1,
        first = e.agent_range.0,
        campaigns = e
            .campaign
            .split(',')
            .map(|c| format!("  - {{name: {c}}}\n"))
            .collect::<String>(),
        scale = e.time_scale,
        run = e.run_for_s,
        grace = e.grace_s,
        wrap = e.wrap_up,
    );
    let path = dir.join(format!("engine-{}.yaml", e.node));
    std::fs::write(&path, text).expect("write config");
    (path, format!("http://127.0.0.1:{admin_port}"))
}

/// The admin token of [`engine_config`].
pub const TOKEN: &str = "engine-test-token-0123456789";

/// Starts `outdial --db DB run --config FILE --json`.
pub fn start_engine(db: &str, config: &Path) -> Proc {
    start_engine_with_stderr(db, config, Stdio::inherit())
}

/// [`start_engine`] with the engine's stderr sent to `stderr` (a log file, say).
pub fn start_engine_with_stderr(db: &str, config: &Path, stderr: impl Into<Stdio>) -> Proc {
    let child = Command::new(bin())
        .args(["--db", db, "run", "--json", "--config"])
        .arg(config)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .expect("spawn engine");
    Proc { child }
}

/// Resident memory of a process, kB (Linux; 0 when it cannot be read).
pub fn rss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// Waits for the engine to exit successfully and returns its JSON summary.
pub fn finish_engine(mut p: Proc, limit: Duration) -> serde_json::Value {
    let st = p.wait_for(limit);
    assert!(st.success(), "engine exited with {st}");
    let mut out = String::new();
    if let Some(mut o) = p.child.stdout.take() {
        use std::io::Read;
        let _ = o.read_to_string(&mut out);
    }
    serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("summary {out:?}: {e}"))
}

/// The PostgreSQL the engine tests use: `OUTDIAL_TEST_PG`, else the local `test` database.
pub fn pg_url() -> String {
    std::env::var("OUTDIAL_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string())
}

/// A private schema on the PostgreSQL at `url`: the store and the schema's name. `None` when
/// PostgreSQL is unreachable (the caller skips its test), which under `CI=true` is a failure.
pub async fn isolated_pg(url: &str) -> Option<(Store, String)> {
    let opened = tokio::time::timeout(Duration::from_secs(20), Store::open_isolated_pg(url)).await;
    match opened {
        Ok(Ok(x)) => Some(x),
        other => {
            let why = match other {
                Ok(Err(e)) => e.to_string(),
                Err(_) => "timed out".into(),
                Ok(Ok(_)) => unreachable!(),
            };
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "PostgreSQL unreachable under CI: {why}"
            );
            eprintln!("skipping: PostgreSQL unreachable ({why})");
            None
        }
    }
}

/// The SIP listen address (`127.0.0.1:PORT`) in the text of a config written by
/// [`engine_config`] (its first `listen:` line; the admin one comes after).
pub fn sip_listen(config_text: &str) -> String {
    config_text
        .lines()
        .find_map(|l| l.trim().strip_prefix("listen: 127.0.0.1:"))
        .map(|p| format!("127.0.0.1:{p}"))
        .expect("sip listen")
}

/// The text of the engine's `/metrics` page at the admin URL `admin`.
pub async fn metrics_text(admin: &str) -> String {
    reqwest::Client::new()
        .get(format!("{admin}/metrics"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("metrics text")
}

/// A SIP endpoint on loopback whose one trunk, in group `g`, is the engine listening at
/// `sip_addr`: the caller of the inbound tests. Returns its handle, its events and its task.
pub async fn inbound_caller(
    sip_addr: &str,
) -> (
    outdial::sip::SipHandle,
    tokio::sync::mpsc::Receiver<outdial::sip::Event>,
    tokio::task::JoinHandle<()>,
) {
    use outdial::sip::{spawn, trunk::TrunkSet, EndpointConfig, TrunksConfig};
    let y = format!(
        "trunks:\n  - {{ name: engine, address: \"{sip_addr}\", max_channels: 5, max_cps: 5, ping_interval: 0s }}\n\
         groups:\n  - {{ name: g, trunks: [engine] }}\n"
    );
    let set = TrunkSet::new(&TrunksConfig::from_yaml("t.yaml", &y).expect("yaml")).expect("set");
    let any: SocketAddr = ([127, 0, 0, 1], 0).into();
    spawn(any, EndpointConfig::new(any), set)
        .await
        .expect("bind caller")
}

/// Places a call from `caller` (an [`inbound_caller`]) to the engine, presenting `caller_id`,
/// with an SDP offer; the INVITE is on its way when this returns.
pub async fn call_engine(
    caller: &outdial::sip::SipHandle,
    caller_id: &str,
    ring_timeout: Duration,
) -> outdial::sip::CallId {
    use outdial::sip::{CallerId, PlaceCall, E164};
    caller
        .place_call(PlaceCall {
            group: "g".into(),
            number: E164::new("+6560001000").expect("number"),
            caller_id: CallerId::new(caller_id).expect("caller id"),
            headers: vec![],
            ring_timeout,
            offer: Some(outdial::sip::peers::sdp("caller", [127, 0, 0, 1].into())),
        })
        .await
        .expect("driver")
        .expect("placed")
}

/// Waits until `url` answers an authenticated request (the engine is up).
pub async fn wait_admin(url: &str) -> outdial::admin::Client {
    let client = outdial::admin::Client::new(url, TOKEN).expect("client");
    let end = Instant::now() + Duration::from_secs(20);
    loop {
        if client.campaigns().await.is_ok() {
            return client;
        }
        assert!(Instant::now() < end, "engine admin API did not come up");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// One attempt row, as the engine wrote it.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub lead_id: i64,
    pub node: String,
    pub is_open: i64,
    pub disposition: Option<String>,
    pub dial_ms: i64,
    pub timezone: String,
}

const ATTEMPTS: &str = "SELECT a.lead_id, a.node, CAST(a.is_open AS BIGINT) AS is_open, \
     a.disposition, a.dial_ms, l.timezone FROM attempts a JOIN leads l ON l.id = a.lead_id \
     ORDER BY a.lead_id, a.dial_ms";

const STATES: &str =
    "SELECT state, CAST(COUNT(*) AS BIGINT) FROM leads GROUP BY state ORDER BY state";

/// Every attempt in the store.
pub async fn attempts(store: &Store) -> Vec<Attempt> {
    type Row = (i64, String, i64, Option<String>, i64, String);
    let rows: Vec<Row> = match store.db() {
        Db::Sqlite(p) => sqlx::query_as(ATTEMPTS).fetch_all(p).await,
        Db::Postgres(p) => sqlx::query_as(ATTEMPTS).fetch_all(p).await,
    }
    .expect("attempts");
    rows.into_iter()
        .map(
            |(lead_id, node, is_open, disposition, dial_ms, timezone)| Attempt {
                lead_id,
                node,
                is_open,
                disposition,
                dial_ms,
                timezone,
            },
        )
        .collect()
}

/// Leads by state.
pub async fn lead_states(store: &Store) -> Vec<(String, i64)> {
    match store.db() {
        Db::Sqlite(p) => sqlx::query_as(STATES).fetch_all(p).await,
        Db::Postgres(p) => sqlx::query_as(STATES).fetch_all(p).await,
    }
    .expect("states")
}

/// Time scale of the engine tests: the peers divide durations by it, the engine's pacing clock
/// runs this much faster.
pub const SCALE: f64 = 20.0;

/// A lab: a store, `trunk-sim` and `agent-sim` on loopback (talk ≈ 60 s, scaled), and callee
/// time zones open and closed right now.
pub struct Lab {
    pub dir: PathBuf,
    pub db: String,
    pub trunk: Peer,
    pub agents: Peer,
    pub open: String,
    pub closed: String,
}

impl Lab {
    /// A lab on a fresh SQLite file (`db: None`) or the given store URL, with `agents` agents.
    pub fn new(tag: &str, db: Option<String>, agents: u32) -> Lab {
        let dir = temp_dir(tag);
        let db = db.unwrap_or_else(|| format!("sqlite://{}", dir.join("lab.db").display()));
        let sc = scenario(&dir, 60);
        let trunk = peer("trunk-sim", &sc, SCALE, &[]);
        let n = agents.to_string();
        let agents = peer(
            "agent-sim",
            &sc,
            SCALE,
            &["--agents", &n, "--hold-until-bye"],
        );
        let (open, closed) = open_and_closed_zones();
        Lab {
            dir,
            db,
            trunk,
            agents,
            open,
            closed,
        }
    }

    /// Applies a lab campaign and loads `leads` numbers from `first`; every `closed_every`-th
    /// lead (0: none) lives where it is night now.
    pub fn campaign(
        &self,
        name: &str,
        mode: &str,
        priority: i32,
        first: u32,
        leads: u32,
        closed_every: u32,
    ) {
        let text =
            campaign_yaml(name, mode).replace("priority: 50", &format!("priority: {priority}"));
        self.campaign_text(name, &text, first, leads, closed_every);
    }

    /// Applies a campaign from its YAML text, then loads `leads` numbers from `first` on.
    pub fn campaign_text(&self, name: &str, text: &str, first: u32, leads: u32, closed_every: u32) {
        let f = self.dir.join(format!("{name}.yaml"));
        std::fs::write(&f, text).expect("campaign");
        outdial(
            &self.db,
            &["campaign", "apply", f.to_str().expect("path")],
            None,
        );
        if leads > 0 {
            let csv = list_csv(first, leads, &self.open, &self.closed, closed_every);
            outdial(&self.db, &["campaign", "load", name, "-"], Some(&csv));
        }
    }

    /// An engine of this lab: agents `agent0001`–`agent0010`, 60 lines, automatic wrap-up.
    pub fn setup<'a>(&self, node: &'a str, campaign: &'a str, run_for_s: u32) -> EngineSetup<'a> {
        EngineSetup {
            node,
            campaign,
            trunk: self.trunk.addr,
            agents: self.agents.addr,
            agent_range: (1, 10),
            time_scale: SCALE,
            run_for_s,
            grace_s: 5,
            channels: 60,
            wrap_up: "auto",
        }
    }
}

/// The most abandons a campaign pacing exactly at `target` shows among `live` answers in 99 %
/// of runs (binomial upper quantile): above it the engine ran over its target, not by chance. A
/// run of a few minutes has a few dozen live answers, where `≤ target · live` would allow one
/// abandon and fail on the second by the luck of the draw.
#[allow(dead_code)] // not every engine test binary checks an abandon figure
pub fn abandon_bound(live: u64, target: f64) -> u64 {
    use statrs::distribution::{Binomial, DiscreteCDF};
    match Binomial::new(target, live) {
        Ok(b) => b.inverse_cdf(0.99),
        Err(_) => 0,
    }
}

/// A virtual-time world (the engine's core on a scripted SIP side and an in-memory store) on the
/// engine file `config`, whose one trunk group is `lab`, at 30 channels and 30 calls/s, with the
/// campaign files `campaigns`.
pub fn lab_world(config: &str, campaigns: &[&str]) -> World {
    let groups = std::collections::BTreeMap::from([(
        "lab".to_string(),
        GroupLimits {
            channels: 30,
            cps: 30,
        },
    )]);
    World::new(config, campaigns, groups).expect("world")
}

/// What a refused admin request must not change, from `GET /campaigns`' array: each campaign's
/// name, pacing settings and paused flag.
pub fn pacing_state(campaigns: &[serde_json::Value]) -> Vec<serde_json::Value> {
    campaigns
        .iter()
        .map(|c| {
            serde_json::json!([
                c["name"],
                c["mode"],
                c["ratio"],
                c["max_ratio"],
                c["target_abandon"],
                c["paused"]
            ])
        })
        .collect()
}
