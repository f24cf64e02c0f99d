//! The inbound queue's limits in the live engine: with `inbound_queue_cap: 2`, a third caller
//! waiting at once is refused at once with `inbound_refuse_status` (486 Busy Here); callers no
//! agent takes within `inbound_queue_timeout` are refused then, never held until they give up.
//! The agents here are outbound-only but for one inbound agent logged in and paused: callers may
//! wait (an agent could come back), yet none is ever taken. The caller is outdial's own SIP core,
//! on the trunk's IP, over loopback.

use crate::engine_support;

use std::time::{Duration, Instant};

use engine_support::*;
use outdial::admin::{AgentAction, Client, ClientError};
use outdial::sip::trunk::TrunkSet;
use outdial::sip::{spawn, CallerId, EndpointConfig, Event, PlaceCall, TrunksConfig, E164};

/// Adds the inbound agent `desk` (driven through the API) to an engine config's text.
fn with_paused_desk(text: &str) -> String {
    text.replace(
        "\nagents:\n",
        "\nagents:\n  - {uri: \"sip:desk@127.0.0.1:9\", group: lab, skills: [inbound, verification], \
         wrap_up: api}\n",
    )
}

/// Logs `desk` in and pauses it: a logged-in inbound agent that takes no call. A login the
/// engine answers with 503 (it has just started and its claim of the agents is not back from
/// the store yet) is asked again, as a desktop would.
async fn pause_desk(client: &Client) {
    let end = Instant::now() + Duration::from_secs(10);
    loop {
        match client.agent_action("desk", &AgentAction::Login).await {
            Ok(_) => break,
            Err(ClientError::Status { status, .. })
                if status.as_u16() == 503 && Instant::now() < end =>
            {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("login desk: {e:?}"),
        }
    }
    let pause = AgentAction::Pause {
        reason: "break".into(),
    };
    client
        .agent_action("desk", &pause)
        .await
        .expect("pause desk");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inbound_callers_beyond_the_cap_or_past_the_timeout_get_busy() {
    let l = Lab::new("inbound-queue", None, 3);
    l.campaign("lab-in", "predictive", 50, 0, 0, 0);
    let (cfg, admin) = engine_config(
        &l.dir,
        &EngineSetup {
            agent_range: (1, 3),
            grace_s: 2,
            channels: 10,
            ..l.setup("inq-1", "lab-in", 60)
        },
    );
    // 20 s of pacing time is 1 s of wall time at the lab's scale.
    let text = std::fs::read_to_string(&cfg).expect("config").replace(
        "\nadmin:\n",
        "\n  inbound_queue_cap: 2\n  inbound_queue_timeout: 20s\n  inbound_refuse_status: 486\nadmin:\n",
    );
    let text = with_paused_desk(&text);
    std::fs::write(&cfg, &text).expect("config");
    let sip_addr = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("listen: 127.0.0.1:"))
        .map(|p| format!("127.0.0.1:{p}"))
        .expect("sip listen");
    let engine = start_engine(&l.db, &cfg);
    let client = wait_admin(&admin).await;
    pause_desk(&client).await;

    let y = format!(
        "trunks:\n  - {{ name: engine, address: \"{sip_addr}\", max_channels: 5, max_cps: 5, ping_interval: 0s }}\n\
         groups:\n  - {{ name: g, trunks: [engine] }}\n"
    );
    let set = TrunkSet::new(&TrunksConfig::from_yaml("t.yaml", &y).expect("yaml")).expect("set");
    let any: std::net::SocketAddr = ([127, 0, 0, 1], 0).into();
    let (caller, mut events, _task) = spawn(any, EndpointConfig::new(any), set)
        .await
        .expect("bind caller");
    let offer = outdial::sip::peers::sdp("caller", [127, 0, 0, 1].into());
    let start = Instant::now();
    let mut calls = Vec::new();
    for i in 0..3 {
        let c = caller
            .place_call(PlaceCall {
                group: "g".into(),
                number: E164::new("+6560001000").expect("number"),
                caller_id: CallerId::new(&format!("+659000000{i}")).expect("caller id"),
                headers: vec![],
                ring_timeout: Duration::from_secs(10),
                offer: Some(offer.clone()),
            })
            .await
            .expect("driver")
            .expect("placed");
        calls.push(c);
        // In order: the first two are queued before the third arrives.
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    let mut ended = Vec::new();
    let end = start + Duration::from_secs(8);
    while ended.len() < 3 {
        let left = end.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, events.recv()).await {
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
    let m = metrics_text(&admin).await;
    for (reason, n) in [("queue_full", 1), ("queue_timeout", 2)] {
        let line =
            format!("outdial_inbound_refused_total{{campaign=\"lab-in\",reason=\"{reason}\"}} {n}");
        assert!(m.contains(&line), "{line} not in {m}");
    }
    drop(engine);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_inbound_timeout_announcement_the_caller_hears_the_message_instead() {
    let l = Lab::new("inbound-announce", None, 3);
    l.campaign("lab-in", "predictive", 50, 0, 0, 0);
    let (cfg, admin) = engine_config(
        &l.dir,
        &EngineSetup {
            agent_range: (1, 2),
            grace_s: 2,
            channels: 10,
            ..l.setup("inq-2", "lab-in", 60)
        },
    );
    // agent-sim's third phone (not one of the engine's agents) stands in for the announcement.
    let text = std::fs::read_to_string(&cfg)
        .expect("config")
        .replace(
            "\nadmin:\n",
            "\n  inbound_queue_timeout: 20s\n  inbound_timeout_announcement: true\nadmin:\n",
        )
        .replace(
            "{name: lab-in}",
            &format!(
                "{{name: lab-in, announcement: \"sip:agent0003@{}\"}}",
                l.agents.addr
            ),
        );
    let text = with_paused_desk(&text);
    std::fs::write(&cfg, &text).expect("config");
    let sip_addr = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("listen: 127.0.0.1:"))
        .map(|p| format!("127.0.0.1:{p}"))
        .expect("sip listen");
    let engine = start_engine(&l.db, &cfg);
    let client = wait_admin(&admin).await;
    pause_desk(&client).await;
    let y = format!(
        "trunks:\n  - {{ name: engine, address: \"{sip_addr}\", max_channels: 5, max_cps: 5, ping_interval: 0s }}\n\
         groups:\n  - {{ name: g, trunks: [engine] }}\n"
    );
    let set = TrunkSet::new(&TrunksConfig::from_yaml("t.yaml", &y).expect("yaml")).expect("set");
    let any: std::net::SocketAddr = ([127, 0, 0, 1], 0).into();
    let (caller, mut events, _task) = spawn(any, EndpointConfig::new(any), set)
        .await
        .expect("bind caller");
    let start = Instant::now();
    let call = caller
        .place_call(PlaceCall {
            group: "g".into(),
            number: E164::new("+6560001000").expect("number"),
            caller_id: CallerId::new("+6590000001").expect("caller id"),
            headers: vec![],
            ring_timeout: Duration::from_secs(10),
            offer: Some(outdial::sip::peers::sdp("caller", [127, 0, 0, 1].into())),
        })
        .await
        .expect("driver")
        .expect("placed");
    let end = start + Duration::from_secs(8);
    loop {
        let left = end.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, events.recv()).await {
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
    caller.hangup(call).await.expect("driver").expect("hangup");
    drop(engine);
}
