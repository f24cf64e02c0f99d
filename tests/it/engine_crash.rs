//! Crash safety of the live engine: `kill -9` mid-campaign, then a restart of the same node, or
//! another node that recovers the dead one once its liveness row expires; and a node that finds
//! its own row expired stops. The lease and the attempt are committed before each INVITE, so
//! nothing is lost: the calls that were in flight are closed with what they reached (`unknown`
//! before an answer) and retried by the campaign's rules (not inside their retry delay),
//! undialled leases return to the pool, and no lead is dialled twice. Against SIPp peers, the
//! restarted node hangs up every customer and agent leg that was up, ACKs and ends the customers
//! who answered while it was down, and records connected calls as `interrupted`.

use crate::engine_support;
use crate::sipp;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use engine_support::*;
use outdial::store::{Db, Store};

/// Starts an engine, lets it dial for `secs`, kills it with SIGKILL; returns the leads whose
/// attempt was open at the kill (at least one).
async fn kill_mid_campaign(db: &str, cfg: &std::path::Path, admin: &str, secs: u64) -> Vec<i64> {
    let mut engine = start_engine(db, cfg);
    wait_admin(admin).await;
    tokio::time::sleep(Duration::from_secs(secs)).await;
    engine.signal("KILL");
    engine.wait_for(Duration::from_secs(10));
    let store = Store::open(db).await.expect("store");
    let before = attempts(&store).await;
    store.close().await;
    let open: Vec<i64> = before
        .iter()
        .filter(|a| a.is_open == 1)
        .map(|a| a.lead_id)
        .collect();
    assert!(
        !open.is_empty(),
        "the kill should catch calls in flight ({} attempts)",
        before.len()
    );
    open
}

/// After recovery: no attempt open, the calls open at the kill closed as `unknown` and not
/// dialled again inside their retry delay, no lead dialled twice, every lead in a resting state.
async fn assert_nothing_lost_nor_dialled_twice(db: &str, open_at_kill: &[i64], leads: u32) {
    let store = Store::open(db).await.expect("store");
    let after = attempts(&store).await;
    assert!(after.iter().all(|a| a.is_open == 0), "attempts left open");
    let mut by_lead: HashMap<i64, Vec<&Attempt>> = HashMap::new();
    for a in &after {
        by_lead.entry(a.lead_id).or_default().push(a);
    }
    for lead in open_at_kill {
        let atts = &by_lead[lead];
        assert!(
            matches!(
                atts[0].disposition.as_deref(),
                Some("unknown" | "interrupted" | "abandoned" | "machine")
            ),
            "an in-flight call is closed with what it reached: {:?}",
            atts[0].disposition
        );
        // Its retry is 15 minutes away: not dialled again by the recovering engine.
        assert_eq!(
            atts.len(),
            1,
            "lead {lead} dialled again inside its retry delay"
        );
    }
    assert!(
        by_lead.values().all(|v| v.len() == 1),
        "a lead was dialled twice"
    );
    let states = lead_states(&store).await;
    let total: i64 = states.iter().map(|(_, n)| n).sum();
    assert_eq!(total, leads as i64, "leads lost: {states:?}");
    assert!(
        states
            .iter()
            .all(|(s, _)| ["new", "scheduled", "done"].contains(&s.as_str())),
        "leads stuck leased or in flight: {states:?}"
    );
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_loses_nothing_and_dials_nothing_twice() {
    let l = Lab::new("crash", None, 10);
    let leads = 800;
    l.campaign("lab-crash", "predictive", 50, 2_000_000, leads, 0);
    let (dir, db) = (&l.dir, &l.db);
    let setup = |run_for_s| l.setup("crash-1", "lab-crash", run_for_s);

    let (cfg, admin) = engine_config(dir, &setup(600));
    let open_at_kill = kill_mid_campaign(db, &cfg, &admin, 8).await;

    // Restart the same node for a short run.
    let (cfg, _) = engine_config(dir, &setup(8));
    let summary = finish_engine(start_engine(db, &cfg), Duration::from_secs(60));
    assert!(summary["campaigns"][0]["dials"].as_u64().unwrap_or(0) > 0);
    assert_nothing_lost_nor_dialled_twice(db, &open_at_kill, leads).await;
}

/// A node killed for good: another node on the same store recovers its calls once its liveness
/// row expires (`node_ttl`), so none of its leads stays stuck in flight and none is dialled twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_never_returns_is_recovered_by_another() {
    let l = Lab::new("dead-node", None, 10);
    let leads = 800;
    l.campaign("lab-dead", "predictive", 50, 3_000_000, leads, 0);
    let (dir, db) = (&l.dir, &l.db);
    let node = |name, agents, run_for_s| {
        let (cfg, admin) = engine_config(
            dir,
            &EngineSetup {
                agent_range: agents,
                ..l.setup(name, "lab-dead", run_for_s)
            },
        );
        with_node_ttl(&cfg);
        (cfg, admin)
    };

    let (cfg_a, admin_a) = node("dead-a", (1, 5), 600);
    let open_at_kill = kill_mid_campaign(db, &cfg_a, &admin_a, 6).await;

    // Another node, never the dead one's name, runs past the dead node's TTL.
    let (cfg_b, _) = node("dead-b", (6, 10), 12);
    let summary = finish_engine(start_engine(db, &cfg_b), Duration::from_secs(60));
    assert!(summary["campaigns"][0]["dials"].as_u64().unwrap_or(0) > 0);
    assert_nothing_lost_nor_dialled_twice(db, &open_at_kill, leads).await;
}

/// A 3 s liveness TTL in an engine config, so the tests need not wait 30 s.
fn with_node_ttl(cfg: &std::path::Path) {
    let mut text = std::fs::read_to_string(cfg).expect("config");
    text.push_str("node_ttl: 3s\n");
    std::fs::write(cfg, text).expect("config");
}

/// A node whose liveness row another node reaped (as after a stall or a store outage longer than
/// `node_ttl`: the other node closed its calls and took its leads back) stops dialling, hangs up
/// and exits with an error, rather than going on with calls another node believes closed. (A row
/// that merely expired, reaped by nobody, is taken back: see `engine_outage`.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_whose_row_was_reaped_stops_with_an_error() {
    let l = Lab::new("lost-row", None, 10);
    l.campaign("lab-lost", "predictive", 50, 4_000_000, 400, 0);
    let (cfg, admin) = engine_config(&l.dir, &l.setup("lost-a", "lab-lost", 600));
    with_node_ttl(&cfg);
    let mut engine = start_engine(&l.db, &cfg);
    wait_admin(&admin).await;
    tokio::time::sleep(Duration::from_secs(3)).await;

    // The row expires under the running node, and another node reaps it at once.
    let store = Store::open(&l.db).await.expect("store");
    let q = "UPDATE nodes SET until_ms = 0 WHERE node = 'lost-a'";
    let n = match store.db() {
        Db::Sqlite(p) => sqlx::query(q).execute(p).await.map(|r| r.rows_affected()),
        Db::Postgres(p) => sqlx::query(q).execute(p).await.map(|r| r.rows_affected()),
    }
    .expect("expire the row");
    assert_eq!(n, 1, "the running node has a liveness row");
    let wall = chrono::Utc::now().timestamp_millis();
    let reaped = store.reap_dead_nodes(wall, "lost-b").await.expect("reap");
    assert_eq!(reaped.len(), 1, "{reaped:?}");
    let st = engine.wait_for(Duration::from_secs(30));
    assert!(
        !st.success(),
        "the engine went on after losing its row: {st}"
    );
    let after = attempts(&store).await;
    assert!(!after.is_empty(), "the engine dialled before the stop");
    assert!(
        after.iter().all(|x| x.is_open == 0),
        "calls were left up after the stop"
    );
}

/// One message in a SIPp message log (`-trace_msg`): when, sent or received, its first line,
/// Call-ID and CSeq method.
#[derive(Debug, Clone)]
struct Logged {
    at: chrono::NaiveDateTime,
    sent: bool,
    first: String,
    call_id: String,
    method: String,
}

/// Parses a SIPp `-message_file` (blocks headed by a dashed line with the local time).
fn sipp_log(path: &std::path::Path) -> Vec<Logged> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut out = Vec::new();
    for block in text
        .split("----------------------------------------------- ")
        .skip(1)
    {
        let mut lines = block.lines();
        let Some(at) = lines.next().and_then(|l| {
            chrono::NaiveDateTime::parse_from_str(l.trim(), "%Y-%m-%d %H:%M:%S%.f").ok()
        }) else {
            continue;
        };
        let Some(dir) = lines.next() else { continue };
        let body: Vec<&str> = lines.skip_while(|l| l.trim().is_empty()).collect();
        let header = |name: &str| {
            body.iter()
                .find_map(|l| {
                    let (n, v) = l.split_once(':')?;
                    n.trim()
                        .eq_ignore_ascii_case(name)
                        .then(|| v.trim().to_string())
                })
                .unwrap_or_default()
        };
        out.push(Logged {
            at,
            sent: dir.contains("sent"),
            first: body
                .first()
                .map(|l| l.trim().to_string())
                .unwrap_or_default(),
            call_id: header("Call-ID"),
            method: header("CSeq")
                .split_whitespace()
                .nth(1)
                .unwrap_or_default()
                .to_string(),
        });
    }
    out
}

/// What one peer saw of each SIP call (by Call-ID).
#[derive(Debug, Default)]
struct Seen {
    /// First and last 200 OK it sent to the INVITE.
    ok_first: Option<chrono::NaiveDateTime>,
    ok_last: Option<chrono::NaiveDateTime>,
    ack: Option<chrono::NaiveDateTime>,
    bye: Option<chrono::NaiveDateTime>,
}

fn by_call(log: &[Logged]) -> HashMap<String, Seen> {
    let mut m: HashMap<String, Seen> = HashMap::new();
    for e in log {
        let s = m.entry(e.call_id.clone()).or_default();
        if e.sent && e.first.starts_with("SIP/2.0 200") && e.method == "INVITE" {
            s.ok_first.get_or_insert(e.at);
            s.ok_last = Some(e.at);
        } else if !e.sent && e.first.starts_with("ACK ") {
            s.ack.get_or_insert(e.at);
        } else if !e.sent && e.first.starts_with("BYE ") {
            s.bye.get_or_insert(e.at);
        }
    }
    m.retain(|_, s| s.ok_first.is_some());
    m
}

/// `(lead, answer_ms, connect_ms, agent, disposition, live, open)` of every attempt.
type CallRow = (
    i64,
    Option<i64>,
    Option<i64>,
    Option<String>,
    Option<String>,
    i64,
    i64,
);

async fn call_rows(store: &Store) -> Vec<CallRow> {
    let q = "SELECT lead_id, answer_ms, connect_ms, agent, disposition, CAST(live AS BIGINT), \
             CAST(is_open AS BIGINT) FROM attempts ORDER BY lead_id";
    match store.db() {
        Db::Sqlite(p) => sqlx::query_as(q).fetch_all(p).await,
        Db::Postgres(p) => sqlx::query_as(q).fetch_all(p).await,
    }
    .expect("attempts")
}

/// `kill -9` with calls ringing, answered and waiting for an agent, and connected, against SIPp
/// peers (`sim/sipp/crash-trunk.xml`, `crash-agent.xml`); the node restarts at once on the same
/// address. Within a few seconds of the restart every customer and agent leg that was up gets a
/// BYE, every customer who answered while the node was down gets an ACK and a BYE (no
/// retransmitted 200 is left unanswered), and the records say what each call reached: connected
/// calls `interrupted` with their agent (not re-queued inside the contact cap), answered ones
/// `abandoned`, ringing ones `unknown`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_with_calls_up_ends_every_leg_on_restart_and_records_what_each_reached() {
    crash_with_calls_up(false).await;
}

/// The same crash, recovered by another node once the dead one's liveness row expired: it sends
/// BYE on every leg the dead node had up (from its own address) and closes the calls with what
/// they reached. (A 200 sent to the dead node's address after the crash reaches nobody: only a
/// restart on that address can answer it.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_nodes_legs_are_ended_by_the_node_that_recovers_it() {
    crash_with_calls_up(true).await;
}

/// Kills a node with calls in every state, then restarts it (`by_another`: false) or lets another
/// node recover it, and checks legs and records.
async fn crash_with_calls_up(by_another: bool) {
    if !sipp::available() {
        return;
    }
    let dir = temp_dir("crash-legs");
    let db = format!("sqlite://{}", dir.join("legs.db").display());
    let (trunk_log, agent_log) = (dir.join("trunk.log"), dir.join("agent.log"));
    let peer = |scenario: &str, log: &std::path::Path| {
        sipp::Builder::new(scenario)
            .args(["-default_behaviors", "all,-abortunexp", "-trace_msg"])
            .args(["-message_file", log.to_str().expect("path")])
            .timeout(Duration::from_secs(120))
            .spawn()
    };
    let mut trunk = peer("crash-trunk.xml", &trunk_log);
    let mut agents = peer("crash-agent.xml", &agent_log);

    // Power dialling, three lines per agent, two agents: six calls at once; customers wait up
    // to 20 s for an agent; one connected call per week.
    let (open, closed) = open_and_closed_zones();
    let text = campaign_yaml("lab-legs", "power")
        .replace("ratio: 1.0", "ratio: 3.0")
        .replace("patience: 2s", "patience: 20s")
        + "contact_cap: { max_connected: 1, per: 7d }\n";
    let f = dir.join("lab-legs.yaml");
    std::fs::write(&f, text).expect("campaign");
    outdial(&db, &["campaign", "apply", f.to_str().expect("path")], None);
    let csv = list_csv(100, 6, &open, &closed, 0);
    outdial(&db, &["campaign", "load", "lab-legs", "-"], Some(&csv));

    let setup = |node, run_for_s| EngineSetup {
        node,
        campaign: "lab-legs",
        trunk: trunk.addr,
        agents: agents.addr,
        agent_range: (1, 2),
        time_scale: 1.0,
        run_for_s,
        grace_s: 2,
        channels: 20,
        wrap_up: "auto",
    };
    let (cfg, admin) = engine_config(&dir, &setup("legs-1", 600));
    if by_another {
        with_node_ttl(&cfg);
    }
    let mut engine = start_engine(&db, &cfg);
    wait_admin(&admin).await;

    // Wait (bounded) until the store shows a call in each state: the milestones are written
    // while the calls are up.
    let store = Store::open(&db).await.expect("store");
    let deadline = Instant::now() + Duration::from_secs(15);
    let (at_kill, store_known) = loop {
        let rows = call_rows(&store).await;
        let open_rows: Vec<CallRow> = rows.into_iter().filter(|r| r.6 == 1).collect();
        let connected = open_rows.iter().filter(|r| r.2.is_some()).count();
        let waiting = open_rows
            .iter()
            .filter(|r| r.1.is_some() && r.2.is_none())
            .count();
        let ringing = open_rows.iter().filter(|r| r.1.is_none()).count();
        // Kill once every answer the trunk gave has reached the store (milestones are batched
        // every 100 ms; a leg killed inside that window is only known from its retransmitted
        // 200, which a restart on the same address answers).
        let log_read = chrono::Local::now().naive_local();
        let answered = by_call(&sipp_log(&trunk_log)).len();
        if connected >= 2 && waiting >= 1 && ringing >= 1 && connected + waiting == answered {
            break (open_rows, log_read);
        }
        assert!(
            Instant::now() < deadline,
            "no call in each state (connected {connected}, waiting {waiting}, ringing {ringing})"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    engine.signal("KILL");
    engine.wait_for(Duration::from_secs(10));
    let killed = chrono::Local::now().naive_local();

    // The node stays down until a ringing customer answers into the outage (its 200 is then
    // retransmitted until someone ACKs it).
    let deadline = Instant::now() + Duration::from_secs(20);
    while !by_another
        && !by_call(&sipp_log(&trunk_log))
            .values()
            .any(|s| s.ok_first.is_some_and(|t| t > killed))
    {
        assert!(
            Instant::now() < deadline,
            "nobody answered during the outage"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(700)).await;

    // Restart the same node (same SIP address) for a short run, or start another node (same
    // agents, another address) that runs past the dead one's 3 s liveness TTL.
    let cfg = if by_another {
        let (cfg, _) = engine_config(&dir, &setup("legs-2", 8));
        with_node_ttl(&cfg);
        cfg
    } else {
        let text = std::fs::read_to_string(&cfg).expect("config");
        std::fs::write(&cfg, text.replace("run_for: 600s", "run_for: 6s")).expect("config");
        cfg
    };
    let restart = chrono::Local::now().naive_local();
    let summary = finish_engine(start_engine(&db, &cfg), Duration::from_secs(60));
    assert_eq!(
        summary["campaigns"][0]["dials"], 0,
        "every lead was dialled before"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    trunk.stop();
    agents.stop();

    // "A few seconds", on a machine shared with builds: the restart itself (process, store,
    // recovery) is in it, and for another node the dead one's TTL (3 s) and the reaper's period.
    let few = chrono::Duration::seconds(if by_another { 8 } else { 5 });
    let customers = by_call(&sipp_log(&trunk_log));
    let agent_legs = by_call(&sipp_log(&agent_log));
    assert!(customers.len() >= 4, "answered customers: {customers:#?}");
    assert_eq!(agent_legs.len(), 2, "agent legs: {agent_legs:#?}");
    let up: Vec<&Seen> = customers
        .values()
        .chain(agent_legs.values())
        .filter(|s| s.ok_first.is_some_and(|t| t < killed))
        .collect();
    let last_bye = up.iter().filter_map(|s| s.bye).max();
    eprintln!(
        "{} legs up at the kill; last BYE {:?} ms after the restart began",
        up.len(),
        last_bye.map(|b| (b - restart).num_milliseconds())
    );
    for (id, s) in customers.iter().chain(agent_legs.iter()) {
        // Answered after the last look at the store: between that look and the kill signal's
        // effect the node may have taken a 200 without writing it, so the store has the call
        // as ringing and only the dead node's address hears the 200's retransmissions.
        if by_another && s.ok_first.is_none_or(|t| t >= store_known) {
            continue; // answered towards the dead node's address
        }
        let bye = s.bye.unwrap_or_else(|| panic!("{id}: no BYE ({s:?})"));
        let up_at_restart = s.ok_first.is_some_and(|t| t < restart);
        if up_at_restart {
            assert!(
                bye - restart < few,
                "{id}: BYE {bye} long after the restart {restart}"
            );
        } else {
            // Answered while the node was down or after it restarted: ACKed and ended at once.
            let ok = s.ok_first.unwrap_or(restart).max(restart);
            assert!(bye - ok < few, "{id}: BYE {bye} long after the answer {ok}");
        }
        // A 200 retransmitted to the restarted node (on the same address) is ACKed.
        if !by_another && s.ok_last.is_some_and(|t| t > restart) {
            let ack = s
                .ack
                .unwrap_or_else(|| panic!("{id}: 200 never ACKed ({s:?})"));
            assert!(ack <= s.ok_last.unwrap_or(ack) + few, "{id}: ACK late");
        }
    }
    if !by_another {
        let answered_in_outage: Vec<&Seen> = customers
            .values()
            .filter(|s| s.ok_first.is_some_and(|t| t > killed && t < restart))
            .collect();
        assert!(
            !answered_in_outage.is_empty(),
            "nobody answered during the outage: {customers:#?}"
        );
        for s in answered_in_outage {
            let ack = s
                .ack
                .unwrap_or_else(|| panic!("200 sent in the outage never ACKed: {s:?}"));
            assert!(
                ack - restart < few,
                "ACK {ack} long after the restart {restart}"
            );
        }
    }

    // The records: what each call in flight at the kill reached.
    let after = call_rows(&store).await;
    assert!(after.iter().all(|r| r.6 == 0), "attempts left open");
    for k in &at_kill {
        let r = after.iter().find(|r| r.0 == k.0).expect("attempt");
        let expected = match (k.1, k.2) {
            (_, Some(_)) => "interrupted",
            (Some(_), None) => "abandoned",
            (None, None) => "unknown",
        };
        // A call ringing at the kill may have been answered just before it (milestones are
        // batched every 100 ms): never closed as more than it reached by then.
        let d = r.4.as_deref().unwrap_or("");
        if expected == "unknown" {
            assert!(matches!(d, "unknown" | "abandoned"), "lead {}: {d}", k.0);
        } else {
            assert_eq!(d, expected, "lead {}", k.0);
        }
        if expected == "interrupted" {
            assert!(
                r.3.is_some() && r.2.is_some(),
                "connected call keeps its agent"
            );
            assert_eq!(r.5, 1, "counted as a live answer");
        }
    }
    // Connected customers are not re-queued: due a day later at the earliest, and the contact
    // cap holds them a week.
    let now = chrono::Utc::now().timestamp_millis();
    let due = store
        .lease("lab-legs", 10, now + 2 * 86_400_000, "probe", 60_000)
        .await
        .expect("lease");
    for k in at_kill.iter().filter(|k| k.2.is_some()) {
        assert!(
            due.iter().all(|l| l.lead_id != k.0),
            "connected lead {} re-queued inside the contact cap",
            k.0
        );
    }
    store.close().await;
}
