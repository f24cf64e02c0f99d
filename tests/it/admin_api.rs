//! The admin HTTP API over a real socket (127.0.0.1:0) in front of an in-memory engine: tokens,
//! validation (nothing changes, nothing audited), audited changes, pause/resume, agents, screen
//! pop and /metrics.

use crate::admin_support;

use admin_support::{Server, ANA, BO};
use outdial::admin::{metrics, AgentAction, AgentState, ClientError, PacingRequest, WrapUpCode};
use reqwest::StatusCode;
use serde_json::{json, Value};

const CV: &str = "credit-verification";

/// Sends a raw request; returns status and JSON (or `Value::String` of the text).
async fn raw(
    method: reqwest::Method,
    url: &str,
    auth: Option<&str>,
    body: Option<&str>,
) -> (StatusCode, Value) {
    let mut req = reqwest::Client::new().request(method, url);
    if let Some(a) = auth {
        req = req.header("authorization", a);
    }
    if let Some(b) = body {
        req = req
            .header("content-type", "application/json")
            .body(b.to_string());
    }
    let resp = req.send().await.unwrap();
    let status = resp.status();
    let text = resp.text().await.unwrap();
    let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, value)
}

fn status_of(e: ClientError) -> (StatusCode, String) {
    match e {
        ClientError::Status { status, message } => (status, message),
        other => panic!("expected an HTTP error status, got {other}"),
    }
}

#[tokio::test]
async fn every_route_needs_a_configured_token() {
    let srv = Server::start().await;
    let bad = [
        None,
        Some("Bearer wrong-token".to_string()),
        Some(format!("Basic {ANA}")),
        Some(format!("Bearer {}", &ANA[..ANA.len() - 1])),
        Some(format!("Bearer {ANA}x")),
        Some("Bearer ".to_string()),
    ];
    let routes = [
        (reqwest::Method::GET, "/campaigns"),
        (reqwest::Method::GET, "/campaigns/credit-verification"),
        (
            reqwest::Method::PATCH,
            "/campaigns/credit-verification/pacing",
        ),
        (
            reqwest::Method::POST,
            "/campaigns/credit-verification/pause",
        ),
        (reqwest::Method::GET, "/agents"),
        (reqwest::Method::POST, "/agents/a1/logout"),
        (reqwest::Method::GET, "/agents/a2/current"),
        (reqwest::Method::GET, "/metrics"),
        (reqwest::Method::GET, "/no/such/route"),
    ];
    for auth in &bad {
        for (method, path) in &routes {
            let (status, body) = raw(
                method.clone(),
                &format!("{}{path}", srv.url),
                auth.as_deref(),
                Some(r#"{"ratio": 2}"#),
            )
            .await;
            assert_eq!(
                status,
                StatusCode::UNAUTHORIZED,
                "{method} {path} with {auth:?}"
            );
            assert!(body["error"].as_str().unwrap().contains("bearer token"));
        }
    }
    {
        let s = srv.engine.lock();
        assert_eq!(
            s.changes, 0,
            "an unauthenticated request reached the engine"
        );
        assert!(s.audit.is_empty());
        assert_eq!(s.agents["a1"].state, AgentState::Ready);
    }
    // Both configured tokens work, and the scheme is case-insensitive.
    for auth in [format!("Bearer {ANA}"), format!("bearer {BO}")] {
        let (status, body) = raw(
            reqwest::Method::GET,
            &format!("{}/campaigns", srv.url),
            Some(&auth),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body.as_array().unwrap().len(), 2);
    }
    srv.stop().await;
}

#[tokio::test]
async fn invalid_pacing_is_400_and_changes_nothing() {
    let srv = Server::start().await;
    let before = srv.engine.lock().campaigns.clone();
    let url = format!("{}/campaigns/{CV}/pacing", srv.url);
    let auth = format!("Bearer {ANA}");
    let cases = [
        (r#"{"ratio": 0.5}"#, "ratio"),
        (r#"{"ratio": 0.999}"#, "ratio"),
        (r#"{"max_ratio": 0.9}"#, "max_ratio"),
        (r#"{"target_abandon": 0}"#, "target_abandon"),
        (r#"{"target_abandon": -0.01}"#, "target_abandon"),
        (r#"{"target_abandon": 0.21}"#, "target_abandon"),
        // The values a hostile probe got accepted (one pushed abandons to 46–49 %), each
        // refused with the field and its allowed range.
        (
            r#"{"mode": "power:1e308"}"#,
            "the power ratio R must be in [1, 5]",
        ),
        (r#"{"ratio": 1e308}"#, "ratio must be in [1, 5]"),
        (r#"{"max_ratio": 1e308}"#, "max_ratio must be in [1, 5]"),
        (
            r#"{"ratio": 1e308, "max_ratio": 1e308}"#,
            "ratio must be in [1, 5]",
        ),
        (
            r#"{"mode": "rate:1e-300"}"#,
            "rate must be at least 0.01 calls/s",
        ),
        (
            r#"{"target_abandon": 5e-324}"#,
            "target_abandon must be in [0.001, 0.1]",
        ),
        // Within the absolute bounds but above this campaign's legal cap (3 %).
        (
            r#"{"target_abandon": 0.05}"#,
            "target_abandon must be in [0.001, 0.03] (the campaign's abandon_cap)",
        ),
        // power:R above this campaign's max_ratio of 2.
        (r#"{"mode": "power:3"}"#, "at most max_ratio 2"),
        (r#"{"mode": "turbo"}"#, "unknown mode"),
        (r#"{"mode": "power:0.5"}"#, "power"),
        (r#"{"mode": "rate:0"}"#, "rate"),
        (r#"{"mode": "rate:abc"}"#, "unknown mode"),
        // Valid alone, but above this campaign's max_ratio of 2.
        (r#"{"ratio": 2.5}"#, "max_ratio"),
        (r#"{"ratio": 3, "max_ratio": 2.5}"#, "max_ratio"),
        // A valid field next to an invalid one: the valid one is not applied either.
        (r#"{"mode": "predictive", "ratio": 0.2}"#, "ratio"),
        (r#"{"ratoi": 2}"#, "unknown field"),
        (r#"{"ratio": "2"}"#, "invalid JSON"),
        (r#"{}"#, "nothing to change"),
        ("", "JSON object"),
        ("not json", "invalid JSON"),
    ];
    // The mode's message word for word, as it was when the mode was a string: the field, the
    // text as typed and every allowed form; a bad ratio beside it is still reported first.
    let unknown = "mode: unknown mode \"Turbo \": expected one of preview, progressive, power, \
                   power:R, predictive, adaptive, rate:λ";
    for (body, exact) in [
        (r#"{"mode": "Turbo "}"#, unknown),
        (
            r#"{"mode": "power:9"}"#,
            "mode \"power:9\": the power ratio R must be in [1, 5] lines per agent",
        ),
        (
            r#"{"mode": "rate:0.001"}"#,
            "mode \"rate:0.001\": the rate must be at least 0.01 calls/s (and at most the \
             trunks' CPS)",
        ),
        (
            r#"{"mode": "Turbo ", "ratio": 0.2}"#,
            "ratio must be in [1, 5], got 0.2",
        ),
    ] {
        let (status, resp) = raw(reqwest::Method::PATCH, &url, Some(&auth), Some(body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {resp}");
        assert_eq!(resp["error"].as_str(), Some(exact), "{body}");
    }
    for (body, expect) in cases {
        for method in [reqwest::Method::PATCH, reqwest::Method::POST] {
            let (status, resp) = raw(method.clone(), &url, Some(&auth), Some(body)).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{method} {body}: {resp}");
            let msg = resp["error"].as_str().unwrap_or_default();
            assert!(
                msg.contains(expect),
                "{body}: message {msg:?} lacks {expect:?}"
            );
        }
    }
    {
        let s = srv.engine.lock();
        assert_eq!(s.campaigns, before, "an invalid request changed a campaign");
        assert!(
            s.audit.is_empty(),
            "an invalid request wrote audit rows: {:?}",
            s.audit
        );
        assert_eq!(s.changes, 0, "an invalid request reached the engine");
    }
    srv.stop().await;
}

#[tokio::test]
async fn valid_change_is_visible_and_audited_with_the_token_name() {
    let srv = Server::start().await;
    let bo = srv.client(BO);
    let change = PacingRequest {
        mode: Some("Predictive".into()),
        ratio: None,
        max_ratio: Some(3.0),
        target_abandon: Some(0.02),
    };
    let update = bo.set_pacing(CV, &change).await.unwrap();
    assert_eq!(update.old.mode.to_string(), "power");
    assert_eq!(
        update.new.mode.to_string(),
        "predictive",
        "mode stored in canonical form"
    );
    let view = bo.campaign(CV).await.unwrap();
    assert_eq!(
        (
            view.pacing.mode.to_string().as_str(),
            view.pacing.ratio,
            view.pacing.max_ratio,
            view.pacing.target_abandon
        ),
        ("predictive", 1.5, 3.0, 0.02)
    );
    // Other campaigns untouched.
    assert_eq!(
        bo.campaign("welcome")
            .await
            .unwrap()
            .pacing
            .mode
            .to_string(),
        "progressive"
    );
    {
        let s = srv.engine.lock();
        let rows: Vec<(&str, &str, &str, &str, &str)> = s
            .audit
            .iter()
            .map(|r| {
                (
                    r.token.as_str(),
                    r.campaign.as_str(),
                    r.field.as_str(),
                    r.old.as_str(),
                    r.new.as_str(),
                )
            })
            .collect();
        assert_eq!(
            rows,
            [
                ("bo", CV, "mode", "power", "predictive"),
                ("bo", CV, "max_ratio", "2", "3"),
                ("bo", CV, "target_abandon", "0.03", "0.02"),
            ]
        );
        let now = chrono::Utc::now().timestamp_millis();
        assert!(
            s.audit.iter().all(|r| (now - r.at_ms).abs() < 60_000),
            "audit time is not now"
        );
        assert!(
            s.audit.iter().all(|r| !r.token.contains("tok-")),
            "a secret reached the audit"
        );
    }
    // Raw POST works too; the same value again changes nothing and is not audited.
    let (status, body) = raw(
        reqwest::Method::POST,
        &format!("{}/campaigns/{CV}/pacing", srv.url),
        Some(&format!("Bearer {ANA}")),
        Some(r#"{"ratio": 2.5, "target_abandon": 0.02}"#),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["new"]["ratio"], json!(2.5));
    {
        let s = srv.engine.lock();
        assert_eq!(s.audit.len(), 4);
        let last = s.audit.last().unwrap();
        assert_eq!(
            (
                last.token.as_str(),
                last.field.as_str(),
                last.old.as_str(),
                last.new.as_str()
            ),
            ("ana", "ratio", "1.5", "2.5")
        );
    }
    // Modes with a parameter.
    for (mode, canonical) in [
        ("power:2", "power:2"),
        ("RATE:0.5", "rate:0.5"),
        ("adaptive", "adaptive"),
    ] {
        let ch = PacingRequest {
            mode: Some(mode.into()),
            ..PacingRequest::default()
        };
        assert_eq!(
            bo.set_pacing(CV, &ch).await.unwrap().new.mode.to_string(),
            canonical
        );
    }
    srv.stop().await;
}

#[tokio::test]
async fn unknown_campaign_or_agent_is_404() {
    let srv = Server::start().await;
    let c = srv.client(ANA);
    let ch = PacingRequest {
        ratio: Some(1.2),
        ..PacingRequest::default()
    };
    for e in [
        c.campaign("nope").await.unwrap_err(),
        c.set_pacing("nope", &ch).await.unwrap_err(),
    ] {
        let (status, msg) = status_of(e);
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(msg.contains("nope"), "{msg}");
    }
    assert_eq!(
        status_of(c.set_paused("nope", true).await.unwrap_err()).0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        status_of(c.agent_action("zz", &AgentAction::Ready).await.unwrap_err()).0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        status_of(c.current_call("zz").await.unwrap_err()).0,
        StatusCode::NOT_FOUND
    );
    assert!(srv.engine.lock().audit.is_empty());
    srv.stop().await;
}

#[tokio::test]
async fn pause_and_resume_are_visible_and_audited_once() {
    let srv = Server::start().await;
    let c = srv.client(ANA);
    let p = c.set_paused(CV, true).await.unwrap();
    assert!(p.paused && !p.was_paused);
    assert!(c.campaign(CV).await.unwrap().paused);
    assert!(!c.campaign("welcome").await.unwrap().paused);
    // Pausing a paused campaign is fine and writes nothing.
    let again = c.set_paused(CV, true).await.unwrap();
    assert!(again.paused && again.was_paused);
    let r = srv.client(BO).set_paused(CV, false).await.unwrap();
    assert!(!r.paused && r.was_paused);
    assert!(!c.campaign(CV).await.unwrap().paused);
    {
        let s = srv.engine.lock();
        let rows: Vec<(&str, &str, &str, &str)> = s
            .audit
            .iter()
            .map(|r| {
                (
                    r.token.as_str(),
                    r.field.as_str(),
                    r.old.as_str(),
                    r.new.as_str(),
                )
            })
            .collect();
        assert_eq!(
            rows,
            [
                ("ana", "paused", "false", "true"),
                ("bo", "paused", "true", "false")
            ]
        );
    }
    srv.stop().await;
}

#[tokio::test]
async fn agents_list_and_actions() {
    let srv = Server::start().await;
    let c = srv.client(ANA);
    let agents = c.agents().await.unwrap();
    let ids: Vec<&str> = agents.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(ids, ["a1", "a2", "a3"]);
    assert_eq!(agents[1].state, AgentState::Talking);
    assert_eq!(
        (agents[1].campaign.as_deref(), agents[1].lead),
        (Some(CV), Some(42))
    );
    assert_eq!(agents[0].uri, "sip:a1@127.0.0.1:5070");

    // a3: login → paused, ready, pause with a reason, logout.
    assert_eq!(
        c.agent_action("a3", &AgentAction::Login)
            .await
            .unwrap()
            .state,
        AgentState::Paused
    );
    assert_eq!(
        c.agent_action("a3", &AgentAction::Ready)
            .await
            .unwrap()
            .state,
        AgentState::Ready
    );
    let paused = c
        .agent_action(
            "a3",
            &AgentAction::Pause {
                reason: "lunch".into(),
            },
        )
        .await
        .unwrap();
    assert_eq!(
        (paused.state, paused.pause_reason.as_deref()),
        (AgentState::Paused, Some("lunch"))
    );
    assert_eq!(
        c.agent_action("a3", &AgentAction::Logout)
            .await
            .unwrap()
            .state,
        AgentState::LoggedOut
    );
    // Visible in the list.
    let a3 = c
        .agents()
        .await
        .unwrap()
        .into_iter()
        .find(|a| a.id == "a3")
        .unwrap();
    assert_eq!(a3.state, AgentState::LoggedOut);

    // The engine's refusal reaches the client as 409 with its message.
    let (status, msg) = status_of(c.agent_action("a2", &AgentAction::Ready).await.unwrap_err());
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(msg.contains("talking"), "{msg}");

    // Wrap-up with dispositions, then invalid bodies (400, engine not called).
    srv.engine.lock().agents.get_mut("a1").unwrap().state = AgentState::WrapUp;
    // A callback must lie ahead (and within a year): tomorrow.
    let tomorrow = chrono::Utc::now().timestamp_millis() + 86_400_000;
    let wrap = AgentAction::WrapUp {
        disposition: WrapUpCode::Callback { at_ms: tomorrow },
        note: Some("call after payday".into()),
    };
    assert_eq!(
        c.agent_action("a1", &wrap).await.unwrap().state,
        AgentState::Ready
    );
    srv.engine.lock().agents.get_mut("a1").unwrap().state = AgentState::WrapUp;
    let (status, body) = raw(
        reqwest::Method::POST,
        &format!("{}/agents/a1/wrapup", srv.url),
        Some(&format!("Bearer {ANA}")),
        Some(r#"{"disposition": "do_not_call"}"#),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        srv.engine.lock().dispositions,
        [
            ("a1".to_string(), WrapUpCode::Callback { at_ms: tomorrow }),
            ("a1".to_string(), WrapUpCode::DoNotCall)
        ]
    );
    srv.engine.lock().agents.get_mut("a1").unwrap().state = AgentState::WrapUp;
    for (path, body, expect) in [
        ("wrapup", r#"{"disposition": "callback"}"#, "at_ms"),
        (
            "wrapup",
            r#"{"disposition": "Not Interested"}"#,
            "disposition \"Not Interested\": expected one of callback (with at or at_ms), \
             not_interested, do_not_call, completed, machine, or a custom code",
        ),
        // Well-formed JSON with a bad value: the field and what it may be, not "invalid JSON".
        (
            "wrapup",
            r#"{"disposition": "callback", "at_ms": 1000}"#,
            "callback time (at or at_ms) must be in the future",
        ),
        (
            "wrapup",
            r#"{"disposition": "callback", "at_ms": "tomorrow"}"#,
            "at_ms must be an integer: the callback time in epoch milliseconds",
        ),
        (
            "wrapup",
            r#"{"disposition": 5}"#,
            "disposition must be a string, one of callback",
        ),
        (
            "wrapup",
            r#"{"disposition": "completed", "when": 1}"#,
            "unknown field \"when\": expected disposition, at_ms, at, note",
        ),
        (
            "wrapup",
            r#"["completed"]"#,
            "the body must be a JSON object",
        ),
        (
            "wrapup",
            r#"{"disposition": "not_interested", "at_ms": 5}"#,
            "only for",
        ),
        ("wrapup", "", "JSON object"),
        ("pause", r#"{"reason": "   "}"#, "reason"),
        ("pause", r#"{}"#, "reason"),
    ] {
        let (status, resp) = raw(
            reqwest::Method::POST,
            &format!("{}/agents/a1/{path}", srv.url),
            Some(&format!("Bearer {ANA}")),
            Some(body),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path} {body}: {resp}");
        assert!(
            resp["error"].as_str().unwrap().contains(expect),
            "{path} {body}: {resp}"
        );
    }
    assert_eq!(
        srv.engine.lock().agents["a1"].state,
        AgentState::WrapUp,
        "a 400 changed the agent"
    );
    assert_eq!(srv.engine.lock().dispositions.len(), 2);
    // Agent actions are not supervisor changes: no audit rows.
    assert!(srv.engine.lock().audit.is_empty());
    srv.stop().await;
}

#[tokio::test]
async fn screen_pop_of_the_current_call() {
    let srv = Server::start().await;
    let c = srv.client(BO);
    let cur = c.current_call("a2").await.unwrap();
    assert_eq!(cur.agent, "a2");
    let pop = cur.call.expect("a2 is on a call");
    assert_eq!(pop.lead, 42);
    assert_eq!(pop.name.as_deref(), Some("王小明"));
    assert_eq!(pop.external_id.as_deref(), Some("APP-000042"));
    assert_eq!(pop.attributes["loan_amount"], json!("12000"));
    let idle = c.current_call("a1").await.unwrap();
    assert_eq!(idle.call, None);
    // The raw JSON shape an agent desktop reads.
    let (status, body) = raw(
        reqwest::Method::GET,
        &format!("{}/agents/a1/current", srv.url),
        Some(&format!("Bearer {BO}")),
        None,
    )
    .await;
    assert_eq!(
        (status, body),
        (StatusCode::OK, json!({"agent": "a1", "call": null}))
    );
    srv.stop().await;
}

#[tokio::test]
async fn metrics_renders_every_documented_name() {
    let srv = Server::start().await;
    metrics::dial(CV);
    metrics::call_ended(CV, "busy");
    metrics::call_ended(CV, "busy");
    metrics::call_ended(CV, "completed");
    metrics::live_answer(CV);
    metrics::abandon(CV);
    metrics::set_abandon_rate(CV, metrics::AbandonWindow::Day, 0.025);
    metrics::set_occupancy(CV, 0.91);
    metrics::set_agents(AgentState::Ready, 4);
    metrics::set_calls_in_flight(CV, 12);
    metrics::set_dial_level(CV, 2.5);
    metrics::set_calls_per_second(CV, 3.25);
    metrics::agent_disposition(CV, "completed");
    metrics::agent_disposition(CV, "not_set");
    metrics::trunk_call("carrier-a", Some(200));
    metrics::trunk_call("carrier-a", Some(486));
    metrics::trunk_call("carrier-a", Some(487));
    metrics::trunk_call("carrier-a", None);
    metrics::set_trunk(&metrics::TrunkGauges {
        trunk: "carrier-a".into(),
        channels_in_use: 17,
        max_channels: 120,
        calls_last_second: 4,
        up: true,
    });
    metrics::set_trunk_up("carrier-b", false);
    metrics::pacing_decision(CV, std::time::Duration::from_micros(40));
    metrics::listener_refused("admin", outdial::limits::Refusal::Cap);
    metrics::set_sip_refused(20, 1, 3);
    metrics::inbound_refused(CV, "queue_timeout");
    metrics::set_store_backlog(3, 1);
    metrics::store_write_retry();
    metrics::opt_out(CV);
    metrics::recording_failed(CV);
    metrics::recording_gap(CV);
    metrics::set_rtp_ports_free(4_990);
    metrics::set_abandon_fp(CV, 1.5, Some(0.018));
    metrics::set_abandon_limits(CV, 0.025, 0.03);
    metrics::cpa_verdict(CV, "machine");
    metrics::call_media(
        CV,
        &outdial::media::io::LegStats {
            packets_in: 1_500,
            packets_out: 1_500,
            loss_pct: 1.5,
            jitter_ms: 12.0,
            mos: 4.1,
        },
    );
    let text = srv.client(ANA).metrics().await.unwrap();
    for name in metrics::ALL {
        assert!(text.contains(name), "{name} missing from /metrics:\n{text}");
    }
    for line in [
        r#"outdial_calls_total{campaign="credit-verification",disposition="busy"} 2"#,
        r#"outdial_abandon_rate{campaign="credit-verification",window="24h"} 0.025"#,
        r#"outdial_store_backlog{where="spool"} 1"#,
        r#"outdial_abandon_estimated_fp_total{campaign="credit-verification"} 1.5"#,
        r#"outdial_opt_outs_total{campaign="credit-verification"} 1"#,
        r#"outdial_rtp_ports_free 4990"#,
        r#"outdial_abandon_target{campaign="credit-verification"} 0.025"#,
        r#"outdial_abandon_cap{campaign="credit-verification"} 0.03"#,
        r#"outdial_cpa_verdicts_total{campaign="credit-verification",verdict="machine"} 1"#,
        r#"outdial_call_mos_bucket{campaign="credit-verification",le="4.2"} 1"#,
        r#"outdial_call_mos_bucket{campaign="credit-verification",le="4"} 0"#,
        r#"outdial_call_loss_percent_bucket{campaign="credit-verification",le="2"} 1"#,
        r#"outdial_agents{state="ready"} 4"#,
        r#"outdial_dial_level{campaign="credit-verification"} 2.5"#,
        r#"outdial_agent_dispositions_total{campaign="credit-verification",disposition="not_set"} 1"#,
        r#"outdial_trunk_calls_total{trunk="carrier-a",class="2xx"} 1"#,
        r#"outdial_sip_refused_total{reason="forbidden"} 20"#,
        r#"outdial_inbound_refused_total{campaign="credit-verification",reason="queue_timeout"} 1"#,
        r#"outdial_trunk_calls_total{trunk="carrier-a",class="4xx"} 2"#,
        r#"outdial_trunk_calls_total{trunk="carrier-a",class="timeout"} 1"#,
        r#"outdial_trunk_channels_in_use{trunk="carrier-a"} 17"#,
        r#"outdial_trunk_max_channels{trunk="carrier-a"} 120"#,
        r#"outdial_trunk_calls_per_second{trunk="carrier-a"} 4"#,
        r#"outdial_trunk_up{trunk="carrier-a"} 1"#,
        r#"outdial_trunk_up{trunk="carrier-b"} 0"#,
        "# TYPE outdial_trunk_calls_total counter",
        r#"outdial_pacing_decision_seconds_bucket{campaign="credit-verification",le="0.00005"} 1"#,
        "# TYPE outdial_pacing_decision_seconds histogram",
    ] {
        assert!(
            text.contains(line),
            "{line:?} missing from /metrics:\n{text}"
        );
    }
    srv.stop().await;
}

#[tokio::test]
async fn hostile_list_cells_reach_the_screen_pop_as_data_with_control_characters_escaped() {
    use outdial::campaign::list::{ListEvent, ListReader};
    // A list row as an attacker might write it: a formula, an ANSI escape, DEL and a C1 CSI.
    let csv = "phone,name,note,macro\n\
               13800000042,\"=cmd|' /C calc'!A0\",\"\u{1b}[2J\u{7f}\u{9b}31m\",@SUM(A1)\n";
    let mut list = ListReader::new(
        csv.as_bytes(),
        "l.csv",
        phonenumber::country::Id::CN,
        chrono_tz::Asia::Shanghai,
    )
    .unwrap();
    let Some(ListEvent::Row(row)) = list.next_event().unwrap() else {
        panic!("the row loads: it is data")
    };
    let attributes: Value = serde_json::from_str(&row.attributes).unwrap();
    let srv = Server::start().await;
    srv.engine.lock().current.insert(
        "a1".into(),
        outdial::admin::ScreenPop {
            campaign: CV.into(),
            lead: 7,
            name: row.name.clone(),
            external_id: None,
            phone: row.phone.clone(),
            attributes: attributes.clone(),
            connected_at_ms: 0,
            tier: None,
            attempt: None,
            history: Vec::new(),
        },
    );
    let resp = reqwest::Client::new()
        .get(format!("{}/agents/a1/current", srv.url))
        .header("authorization", format!("Bearer {BO}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let body = resp.text().await.unwrap();
    assert!(
        !body.chars().any(char::is_control),
        "a control character reached the agent's screen raw: {body:?}"
    );
    // Decoded, the values are exactly what the list held.
    let pop: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(pop["call"]["name"], json!("=cmd|' /C calc'!A0"));
    assert_eq!(pop["call"]["attributes"], attributes);
    assert_eq!(
        pop["call"]["attributes"]["note"],
        json!("\u{1b}[2J\u{7f}\u{9b}31m")
    );
    srv.stop().await;
}
