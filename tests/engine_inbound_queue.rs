//! The inbound queue's limits in the live engine: with `inbound_queue_cap: 2`, a third caller
//! waiting at once is refused at once with `inbound_refuse_status` (486 Busy Here); callers no
//! agent takes within `inbound_queue_timeout` are refused then, never held until they give up.
//! The agents here are outbound-only, so no inbound caller is ever taken. The caller is
//! outdial's own SIP core, on the trunk's IP, over loopback.

mod engine_support;

use std::time::{Duration, Instant};

use engine_support::*;
use outdial::sip::{Event, SipHandle};
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::task::JoinHandle;

/// The engine of these tests on the lab campaign `lab-in` (no leads; outbound-only agents), and
/// a caller whose trunk is the engine. Dropping it stops the engine first.
struct QueueLab {
    _engine: Proc,
    caller: SipHandle,
    events: UnboundedReceiver<Event>,
    _task: JoinHandle<()>,
    admin: String,
    _lab: Lab,
}

/// Starts a [`QueueLab`] with agents 1 to `last_agent`, the engine config's text edited by `edit`.
async fn queue_lab(
    tag: &str,
    node: &str,
    last_agent: u32,
    edit: impl FnOnce(String, &Lab) -> String,
) -> QueueLab {
    let l = Lab::new(tag, None, 3);
    l.campaign("lab-in", "predictive", 50, 0, 0, 0);
    let (cfg, admin) = engine_config(
        &l.dir,
        &EngineSetup {
            agent_range: (1, last_agent),
            grace_s: 2,
            channels: 10,
            ..l.setup(node, "lab-in", 60)
        },
    );
    let text = edit(std::fs::read_to_string(&cfg).expect("config"), &l);
    std::fs::write(&cfg, &text).expect("config");
    let engine = start_engine(&l.db, &cfg);
    let _client = wait_admin(&admin).await;
    let (caller, events, _task) = inbound_caller(&sip_listen(&text)).await;
    QueueLab {
        _engine: engine,
        caller,
        events,
        _task,
        admin,
        _lab: l,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inbound_callers_beyond_the_cap_or_past_the_timeout_get_busy() {
    // 20 s of pacing time is 1 s of wall time at the lab's scale.
    let mut q = queue_lab("inbound-queue", "inq-1", 3, |text, _| {
        text.replace(
            "\nadmin:\n",
            "\n  inbound_queue_cap: 2\n  inbound_queue_timeout: 20s\n  inbound_refuse_status: 486\nadmin:\n",
        )
    })
    .await;
    let start = Instant::now();
    let mut calls = Vec::new();
    for i in 0..3 {
        let caller_id = format!("+659000000{i}");
        calls.push(call_engine(&q.caller, &caller_id, Duration::from_secs(10)).await);
        // In order: the first two are queued before the third arrives.
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    let mut ended = Vec::new();
    let end = start + Duration::from_secs(8);
    while ended.len() < 3 {
        let left = end.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, q.events.recv()).await {
            Ok(Some(Event::Failed { call, code, .. })) => {
                ended.push((call, code, start.elapsed()));
            }
            Ok(Some(Event::Answered { call, .. })) => panic!("{call} answered: no inbound agent"),
            Ok(Some(_)) => {}
            _ => panic!("callers still held after 8 s: {ended:?}"),
        }
    }
    // The third caller, over the cap, first and at once; then the two queued at the timeout.
    assert_eq!(ended[0].0, calls[2], "{ended:?}");
    assert!(ended[0].2 < Duration::from_millis(800), "{ended:?}");
    for (_, code, _) in &ended {
        assert_eq!(*code, Some(486), "{ended:?}");
    }
    for (_, _, at) in &ended[1..] {
        assert!(
            *at >= Duration::from_millis(900) && *at < Duration::from_secs(4),
            "refused at the queue timeout (1 s wall): {ended:?}"
        );
    }
    let m = metrics_text(&q.admin).await;
    for (reason, n) in [("queue_full", 1), ("queue_timeout", 2)] {
        let line =
            format!("outdial_inbound_refused_total{{campaign=\"lab-in\",reason=\"{reason}\"}} {n}");
        assert!(m.contains(&line), "{line} not in {m}");
    }
    drop(q);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_inbound_timeout_announcement_the_caller_hears_the_message_instead() {
    // agent-sim's third phone (not one of the engine's agents) stands in for the announcement.
    let mut q = queue_lab("inbound-announce", "inq-2", 2, |text, l| {
        text.replace(
            "\nadmin:\n",
            "\n  inbound_queue_timeout: 20s\n  inbound_timeout_announcement: true\nadmin:\n",
        )
        .replace(
            "{name: lab-in}",
            &format!(
                "{{name: lab-in, announcement: \"sip:agent0003@{}\"}}",
                l.agents.addr
            ),
        )
    })
    .await;
    let start = Instant::now();
    let call = call_engine(&q.caller, "+6590000001", Duration::from_secs(10)).await;
    let end = start + Duration::from_secs(8);
    loop {
        let left = end.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, q.events.recv()).await {
            Ok(Some(Event::Answered { call: c, .. })) if c == call => break,
            Ok(Some(Event::Failed { code, .. })) => panic!("refused ({code:?}), not announced"),
            Ok(Some(_)) => {}
            _ => panic!("caller still held after 8 s"),
        }
    }
    assert!(
        start.elapsed() >= Duration::from_millis(900),
        "answered at the queue timeout (1 s wall), not before: {:?}",
        start.elapsed()
    );
    q.caller
        .hangup(call)
        .await
        .expect("driver")
        .expect("hangup");
    drop(q);
}
