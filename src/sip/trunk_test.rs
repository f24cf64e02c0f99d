//! `outdial trunk-test`: places N calls at a fixed rate through one trunk (the target), holds the
//! answered ones, ends them with BYE, and measures what a user needs to size a trunk. Each INVITE
//! carries a static SDP offer (SIPp's default UAS expects one); numbers dialled are `+1555…`
//! sequential test numbers sent to the target's address. Bounded: it stops when every call has
//! ended or at `calls/rate + hold + 40 s`, whichever comes first.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::driver::{spawn, Command, DriverGone};
use super::endpoint::{CallId, EndpointConfig, Event, PlaceCall};
use super::trunk::{Strategy, Transport, TrunkConfig, TrunkGroupConfig, TrunkSet, TrunksConfig};
use super::values::{CallerId, SipUri, E164};

/// The static SDP offer of trunk-test calls (media is never sent).
pub const TEST_OFFER: &str = "v=0\r\no=outdial 1 1 IN IP4 127.0.0.1\r\ns=trunk-test\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";

/// What to run.
#[derive(Debug, Clone)]
pub struct TrunkTestOptions {
    /// The trunk to call (`sip:[user@]IP:port`).
    pub target: SipUri,
    /// Calls per second.
    pub rate: f64,
    /// Number of calls.
    pub calls: u64,
    /// How long answered calls are held before BYE.
    pub hold: Duration,
    /// Transport towards the target.
    pub transport: Transport,
}

/// The result, printed as JSON by the CLI.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct TrunkTestReport {
    /// Calls placed.
    pub attempted: u64,
    /// Calls answered (2xx).
    pub answered: u64,
    /// Calls that failed (non-2xx, timeout) or were never answered before the deadline.
    pub failed: u64,
    /// Calls placed per second, measured from the first to the last INVITE.
    pub cps: f64,
    /// Wall time from the first INVITE until the last call ended.
    pub duration_s: f64,
    /// Requests and responses we retransmitted (a sign of loss or an overloaded peer).
    pub retransmissions: u64,
    /// Median INVITE → 200 time.
    pub setup_ms_p50: f64,
    /// 99th percentile INVITE → 200 time.
    pub setup_ms_p99: f64,
    /// Peak resident memory of this process (VmHWM).
    pub peak_rss_mb: f64,
}

/// trunk-test could not run.
#[derive(Debug, thiserror::Error)]
pub enum TrunkTestError {
    /// Rate or call count of zero, or a rate that is not a positive number.
    #[error("--rate must be > 0 and --calls >= 1")]
    Args,
    /// The local socket could not be bound.
    #[error("cannot bind the sip socket: {0}")]
    Bind(std::io::Error),
    /// The driver stopped.
    #[error(transparent)]
    Driver(#[from] DriverGone),
}

/// Peak resident set size of this process in MiB, from /proc (0 where unavailable).
pub fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Runs the test (inside a tokio runtime).
pub async fn run(opts: TrunkTestOptions) -> Result<TrunkTestReport, TrunkTestError> {
    if opts.rate.is_nan() || opts.rate <= 0.0 || opts.calls == 0 {
        return Err(TrunkTestError::Args);
    }
    let target = opts.target.addr();
    let cfg = TrunksConfig {
        trunks: vec![TrunkConfig {
            name: "target".into(),
            address: target.to_string(),
            transport: opts.transport,
            credentials: None,
            max_channels: u32::MAX,
            max_cps: u32::MAX,
            prefix: None,
            dispositions: Default::default(),
            ping_interval: Some(crate::yaml::Dur(Duration::ZERO)),
            ..Default::default()
        }],
        groups: vec![TrunkGroupConfig {
            name: "target".into(),
            strategy: Strategy::Ordered,
            trunks: vec!["target".into()],
        }],
    };
    // Invariant: the config above is valid by construction (one trunk, one group, non-zero limits).
    let trunks = TrunkSet::new(&cfg)
        .map_err(|e| TrunkTestError::Bind(std::io::Error::other(e.to_string())))?;
    let bind: SocketAddr = if target.ip().is_loopback() {
        SocketAddr::from(([127, 0, 0, 1], 0))
    } else {
        SocketAddr::from(([0, 0, 0, 0], 0))
    };
    let (handle, mut events, _task) = spawn(bind, EndpointConfig::new(bind), trunks)
        .await
        .map_err(TrunkTestError::Bind)?;
    let caller = CallerId::new("trunk-test").map_err(|_| TrunkTestError::Args)?;

    let start = Instant::now();
    let deadline = start
        + Duration::from_secs_f64(opts.calls as f64 / opts.rate)
        + opts.hold
        + Duration::from_secs(40);
    let mut placed = 0u64;
    let mut last_place = start;
    let mut started: std::collections::HashMap<CallId, Instant> = Default::default();
    let mut setup = Vec::with_capacity(opts.calls as usize);
    let mut hold_q: VecDeque<(Instant, CallId)> = VecDeque::new();
    let (mut answered, mut failed, mut ended) = (0u64, 0u64, 0u64);
    let mut tick = tokio::time::interval(Duration::from_millis(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            _ = tick.tick() => {
                let now = Instant::now();
                let due = ((now - start).as_secs_f64() * opts.rate).floor() as u64 + 1;
                let due = due.min(opts.calls);
                if due > placed {
                    let n = due - placed;
                    let first = placed;
                    placed = due;
                    let caller = caller.clone();
                    let reqs: Vec<PlaceCall> = (0..n)
                        .filter_map(|k| {
                            let num = format!("+1555{:07}", (first + k) % 10_000_000);
                            let number = E164::new(&num).ok()?;
                            Some(PlaceCall {
                                group: "target".into(),
                                number,
                                caller_id: caller.clone(),
                                headers: vec![],
                                ring_timeout: Duration::from_secs(60),
                                offer: Some(TEST_OFFER.to_string()),
                            })
                        })
                        .collect();
                    let at = Instant::now();
                    let ids: Vec<Option<(CallId, Instant)>> = handle
                        .place_many(reqs)
                        .await?
                        .into_iter()
                        .map(|r| r.ok().map(|c| (c, at)))
                        .collect();
                    let caller_ok = ids.iter().flatten().count() as u64;
                    failed += n - caller_ok;
                    started.extend(ids.into_iter().flatten());
                    last_place = now;
                }
                // Release calls whose hold time is over.
                let mut bye = Vec::new();
                while hold_q.front().map(|(t, _)| *t <= now).unwrap_or(false) {
                    if let Some((_, c)) = hold_q.pop_front() {
                        bye.push(c);
                    }
                }
                if !bye.is_empty() {
                    // A call already ended by the far end refuses the hang-up: nothing to do.
                    handle.send(Command::Hangup { calls: bye, reply: None }).await?;
                }
            }
            e = events.recv() => {
                let Some(e) = e else { break };
                let now = Instant::now();
                match e {
                    Event::Answered { call, .. } => {
                        answered += 1;
                        if let Some(t0) = started.remove(&call) {
                            setup.push((now - t0).as_secs_f64() * 1000.0);
                        }
                        hold_q.push_back((now + opts.hold, call));
                    }
                    Event::Failed { call, .. } => {
                        failed += 1;
                        started.remove(&call);
                    }
                    Event::Ended { .. } => ended += 1,
                    _ => {}
                }
            }
        }
        let now = Instant::now();
        let all_done = placed == opts.calls && answered + failed >= opts.calls && ended >= answered;
        if all_done {
            // Let the BYE transactions finish (bounded by the deadline).
            let h = handle.clone();
            while Instant::now() < deadline {
                let open = h.open_dialogs().await?;
                if open == 0 {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            break;
        }
        if now >= deadline {
            break;
        }
    }
    let end = Instant::now();
    let stats = handle.stats().await?;
    setup.sort_by(|a, b| a.total_cmp(b));
    let place_span = last_place.duration_since(start).as_secs_f64();
    Ok(TrunkTestReport {
        attempted: placed,
        answered,
        // Refused, failed, and still unanswered at the deadline all count as failed.
        failed: placed.saturating_sub(answered).max(failed),
        cps: if place_span > 0.0 {
            (placed.saturating_sub(1)) as f64 / place_span
        } else {
            placed as f64
        },
        duration_s: (end - start).as_secs_f64(),
        retransmissions: stats.retransmissions,
        setup_ms_p50: percentile(&setup, 0.50),
        setup_ms_p99: percentile(&setup, 0.99),
        peak_rss_mb: peak_rss_mb(),
    })
}
