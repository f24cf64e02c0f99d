//! The opening of a campaign in the live engine (issue 14, point 1), against a SIPp trunk
//! outdial did not write: `sim/sipp/trunk-opening-uas.xml`, 60 % live after about 6 s (busy
//! 10 %, 404 3 %, 503 2 %, the rest ringing out), time-scaled with the engine so three minutes of
//! pacing take 20 s. A fresh campaign must not burst — in its first 10 s, no more INVITEs than
//! ready agents, plus one for each agent a failed call (busy, 404, 503) freed again — and must hold
//! the abandon cap over its first three minutes. Before this work the engine sized its opening on
//! the priors (25 % live): three lines per agent at once. Then the engine is stopped and started
//! again on the same store: its opening is sized on what the campaign's calls taught it — more
//! lines per ready agent than the cold start — and it too must hold the abandon cap (before the
//! wave was sized on the spread of its live answers, among calls that did not fail quickly, it
//! abandoned 7–12 of about 55 live answers).

use crate::engine_support;
use crate::sipp;

use std::time::Duration;

use engine_support::{
    attempts, engine_config, finish_engine, peer, scenario, start_engine, Attempt, EngineSetup, Lab,
};
use outdial::store::{Db, Store};

/// (dial, end, live answer) of every attempt.
async fn ends(store: &Store) -> Vec<(i64, Option<i64>, bool)> {
    const Q: &str = "SELECT dial_ms, end_ms, CAST(live AS BIGINT) FROM attempts";
    let rows: Vec<(i64, Option<i64>, i64)> = match store.db() {
        Db::Sqlite(p) => sqlx::query_as(Q).fetch_all(p).await,
        Db::Postgres(p) => sqlx::query_as(Q).fetch_all(p).await,
    }
    .expect("attempts");
    rows.into_iter().map(|(d, e, l)| (d, e, l != 0)).collect()
}

/// Calls dialled from `from` on that failed without a live answer (busy, 404, 503) before
/// `until`: each frees its agent for another call.
fn freed_by_failures(ends: &[(i64, Option<i64>, bool)], from: i64, until: i64) -> usize {
    ends.iter()
        .filter(|(dial, end, live)| *dial >= from && !live && end.is_some_and(|e| e < until))
        .count()
}

/// The dispositions of a call answered by a person.
const LIVE: [&str; 6] = [
    "abandoned",
    "connected",
    "callback",
    "completed",
    "not_interested",
    "do_not_call",
];

/// How many of `rows` closed with one of `dispositions`.
fn closed_as<'a>(rows: impl IntoIterator<Item = &'a Attempt>, dispositions: &[&str]) -> usize {
    rows.into_iter()
        .filter(|a| {
            a.disposition
                .as_deref()
                .is_some_and(|x| dispositions.contains(&x))
        })
        .count()
}

/// The SIPp trunk of `sim/sipp/trunk-opening-uas.xml`, at [`SCALE`].
fn trunk() -> sipp::Sipp {
    sipp::Builder::new("trunk-opening-uas.xml")
        .args([
            "-default_behaviors",
            "all,-abortunexp",
            "-set",
            "scale",
            &SCALE.to_string(),
        ])
        .timeout(Duration::from_secs(120))
        .spawn()
}

/// Pacing time runs this much faster than wall time: 3 min of pacing in 20 s.
const SCALE: f64 = 9.0;
/// Synthetic agents (agent-sim, holding each call until the customer's BYE).
const AGENTS: u32 = 40;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_sipp_trunk_far_from_the_priors_a_fresh_campaign_holds_the_cap_and_a_restart_remembers(
) {
    if !sipp::available() {
        return;
    }
    // The lab's own trunk-sim and agents are replaced: the SIPp trunk, and agents at SCALE.
    let lab = Lab::new("opening", None, 1);
    let trunk = trunk();
    let sc = scenario(&lab.dir, 180);
    let n = AGENTS.to_string();
    let agents = peer(
        "agent-sim",
        &sc,
        SCALE,
        &["--agents", &n, "--hold-until-bye"],
    );
    lab.campaign("opening", "predictive", 50, 2_000_000, 1500, 0);
    let setup = EngineSetup {
        node: "opening-1",
        campaign: "opening",
        trunk: trunk.addr,
        agents: agents.addr,
        agent_range: (1, AGENTS),
        time_scale: SCALE,
        run_for_s: 27,
        grace_s: 3,
        channels: 300,
        wrap_up: "auto",
    };
    let (cfg, _admin) = engine_config(&lab.dir, &setup);
    let engine = start_engine(&lab.db, &cfg);
    finish_engine(engine, Duration::from_secs(60));

    let store = Store::open(&lab.db).await.expect("store");
    let rows = attempts(&store).await;
    let ended = ends(&store).await;
    store.close().await;
    let first = rows
        .iter()
        .map(|a| a.dial_ms)
        .min()
        .expect("calls were placed");
    // Wall milliseconds of `secs` of pacing time.
    let wall = |secs: f64| (secs * 1000.0 / SCALE) as i64;
    let opening = rows
        .iter()
        .filter(|a| a.dial_ms < first + wall(10.0))
        .count();
    // A call that failed without a live answer (busy, 404, 503) frees its agent for another
    // one: at most one call per ready agent at a time means at most AGENTS + those calls.
    let freed = freed_by_failures(&ended, first, first + wall(10.0));
    let three_min: Vec<_> = rows
        .iter()
        .filter(|a| a.dial_ms < first + wall(180.0))
        .collect();
    let abandoned = closed_as(three_min.iter().copied(), &["abandoned"]);
    let live = closed_as(three_min.iter().copied(), &LIVE);
    eprintln!(
        "{opening} INVITEs in the first 10 s for {AGENTS} agents ({freed} of them freed again by a \
         failed call); first 3 min: {} calls, {abandoned} abandoned of {live} live answers",
        three_min.len()
    );
    assert!(
        opening <= AGENTS as usize + freed,
        "opening burst: {opening} INVITEs in the first 10 s for {AGENTS} ready agents \
         ({freed} freed again by failed calls)"
    );
    // Enough live answers for the figure to mean something: at least one per agent.
    assert!(live >= AGENTS as usize, "only {live} live answers");
    assert!(
        abandoned as f64 <= 0.03 * live as f64,
        "{abandoned} abandoned of {live} live answers over the first 3 minutes"
    );

    // The restart: the same node on the same store, after 4 minutes of pacing. The engine
    // seeds the dialer from the campaign's calls (`Store::recent_calls`): its opening is sized
    // on the learned live-answer rate where the cold start above placed at most one call per
    // ready agent — and on the spread of the live answers such a wave brings (all agents are
    // ready at once, all its answers come within seconds), at the live share of the calls
    // that did not fail quickly: quick failures are replaced within a second, and the calls
    // left answer live 60 / 85 = 71 % of the time on this trunk (`outdial::pacing::opening`).
    let restart_at = rows.iter().map(|a| a.dial_ms).max().unwrap_or(first);
    // A fresh SIPp for the restart. SIPp never seeds the C library's `rand()` behind its
    // `chance` draws, so every SIPp process plays the same sequence of call outcomes (seed 1),
    // and the cold run above uses up its first 220–240 calls: the restart's wave, on the same
    // process, fell on calls 240–300 of that sequence, 49 live answers and 2 quick failures
    // in 60 — the "71–74 % live, no quick failures" of the restarts measured before. A new
    // process starts the sequence again (62 % live and 15 % quick failures in its first 64
    // calls, as the cold start met), as a trunk answering 60 % live should.
    drop(trunk);
    let trunk = self::trunk();
    let (cfg, _admin) = engine_config(
        &lab.dir,
        &EngineSetup {
            run_for_s: 6,
            trunk: trunk.addr,
            ..setup
        },
    );
    let engine = start_engine(&lab.db, &cfg);
    finish_engine(engine, Duration::from_secs(40));
    let store = Store::open(&lab.db).await.expect("store");
    let after: Vec<_> = attempts(&store)
        .await
        .into_iter()
        .filter(|a| a.dial_ms > restart_at)
        .collect();
    let ends2 = ends(&store).await;
    store.close().await;
    let first2 = after
        .iter()
        .map(|a| a.dial_ms)
        .min()
        .expect("the restart dialled");
    let reopening = after
        .iter()
        .filter(|a| a.dial_ms < first2 + wall(10.0))
        .count();
    let freed2 = freed_by_failures(&ends2, first2, first2 + wall(10.0));
    let abandoned2 = closed_as(&after, &["abandoned"]);
    // Calls cut by the end of the restart's run (`shutdown`) were live answers too.
    let live2 = closed_as(&after, &LIVE) + closed_as(&after, &["shutdown"]);
    eprintln!(
        "restart: {reopening} INVITEs in its first 10 s ({freed2} freed again by a failed call) \
         against {opening} at the cold start; {abandoned2} abandoned of {live2} live answers in \
         {} calls",
        after.len()
    );
    // Dialling at the learned rate: calls per ready agent beyond those freed again by failed
    // calls, about 1 / 0.73 (the bound of the live share of calls that did not fail quickly)
    // less the margin for the spread, against at most one at the cold start.
    let lines = |invites: usize, freed: usize| invites.saturating_sub(freed) as f64;
    let (cold_lines, warm_lines) = (lines(opening, freed), lines(reopening, freed2));
    assert!(
        warm_lines >= 1.15 * cold_lines,
        "restart {reopening} INVITEs in the first 10 s ({freed2} freed again) vs cold start \
         {opening} ({freed} freed again)"
    );
    // The cap on the restart, as the regulation counts it: the campaign's 24 h window holds both
    // runs, and the restarted dialer prices its calls on that record (it may spend abandons the
    // first run's answers allowed, never more). Before the warm-start wave was sized on the
    // spread of live answers, the restart alone abandoned 9 of 57: about 5 % of the window.
    assert!(
        live2 >= AGENTS as usize,
        "only {live2} live answers after the restart"
    );
    let cold_live = closed_as(&rows, &LIVE) + closed_as(&rows, &["shutdown"]);
    let cold_abandoned = closed_as(&rows, &["abandoned"]);
    let window_live = (cold_live + live2) as f64;
    let window_abandoned = (cold_abandoned + abandoned2) as f64;
    assert!(
        window_abandoned <= 0.03 * window_live,
        "24 h window: {window_abandoned} abandoned of {window_live} live answers (first run \
         {cold_abandoned} of {cold_live}, restart {abandoned2} of {live2})"
    );
    // And the restart's own minute is no burst: within 3 % of its live answers plus four standard
    // deviations of such a share (about 6 of 49; measured 2–4, and the 9 of 57 above is beyond
    // it). The bound is loose on purpose: the regulation's figure is the window above.
    let n = live2 as f64;
    let allowed = 0.03 * n + 4.0 * (n * 0.03 * 0.97).sqrt();
    assert!(
        abandoned2 as f64 <= allowed,
        "restart: {abandoned2} abandoned of {live2} live answers (allowed {allowed:.1})"
    );
}
