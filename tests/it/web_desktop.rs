//! The agent desktop and the call records over HTTP, as a browser and curl see them: the screen
//! pop with the lead's attributes (hostile text escaped), tier and earlier attempts; wrap-up with
//! a callback time and a note through the JSON API's own checks; the call-record search (JSON,
//! page, CSV) on a real SQLite store; recordings served with HTTP Range (206, Content-Range,
//! 416) and only to supervisors.

use crate::admin_support;
use crate::common;

use admin_support::{Server, ANA, DESK_A1};
use common::*;
use outdial::admin::{AgentState, ScreenPop, WrapUpCode};
use outdial::campaign::CallDisposition;
use outdial::store::LeadAttempt;
use outdial::store::{AgentWrapUp, AttemptMedia, AttemptOutcome, RecordingInfo, Store};
use reqwest::StatusCode;

const HOSTILE: &str = "<script>alert(1)</script>";

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// Signs in with `token`; returns the session cookie and the CSRF token of page `page`.
async fn session(url: &str, token: &str, page: &str) -> (String, String) {
    let resp = http()
        .post(format!("{url}/ui/login"))
        .form(&[("token", token)])
        .send()
        .await
        .expect("login");
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let cookie = resp.headers()["set-cookie"]
        .to_str()
        .expect("cookie")
        .split(';')
        .next()
        .expect("cookie")
        .to_string();
    let text = get(url, page, &cookie, None).await.1;
    let csrf = text
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap_or_default()
        .to_string();
    (cookie, csrf)
}

async fn get(url: &str, path: &str, cookie: &str, range: Option<&str>) -> (StatusCode, String) {
    let mut req = http().get(format!("{url}{path}")).header("cookie", cookie);
    if let Some(r) = range {
        req = req.header("range", r);
    }
    let resp = req.send().await.expect("get");
    (resp.status(), resp.text().await.unwrap_or_default())
}

async fn post(
    url: &str,
    path: &str,
    cookie: &str,
    csrf: &str,
    form: &[(&str, &str)],
) -> (StatusCode, String) {
    let resp = http()
        .post(format!("{url}{path}"))
        .header("cookie", cookie)
        .header("x-csrf-token", csrf)
        .form(form)
        .send()
        .await
        .expect("post");
    (resp.status(), resp.text().await.unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_sees_the_pop_escaped_and_wraps_up_with_a_callback_and_a_note() {
    let srv = Server::start().await;
    {
        let mut s = srv.engine.lock();
        s.agents.get_mut("a1").expect("a1").state = AgentState::Talking;
        s.current.insert(
            "a1".into(),
            ScreenPop {
                campaign: "credit-verification".into(),
                lead: 42,
                name: Some("王小明".into()),
                external_id: Some("APP-000042".into()),
                phone: "+8613800000042".into(),
                attributes: serde_json::json!({"product": "consumer loan", "comment": HOSTILE}),
                connected_at_ms: 1_714_525_200_000,
                tier: Some("gold".into()),
                attempt: Some(9),
                history: vec![LeadAttempt {
                    attempt: 3,
                    dial_ms: 1_714_500_000_000,
                    disposition: Some("connected".into()),
                    agent_disposition: Some("callback".into()),
                    agent: Some("a2".into()),
                    note: Some("asked for the <b>12-month</b> plan".into()),
                }],
            },
        );
    }
    let (cookie, csrf) = session(&srv.url, DESK_A1, "/ui/agent").await;
    assert_eq!(csrf.len(), 32, "the desktop carries the CSRF token");
    let (status, page) = get(&srv.url, "/ui/agent", &cookie, None).await;
    assert_eq!(status, StatusCode::OK);
    for shown in [
        "王小明",
        "APP-000042",
        "gold",
        "consumer loan",
        "12-month",
        "Alt+R",
        "Alt+P",
        "Alt+3",
    ] {
        assert!(page.contains(shown), "the desktop lacks {shown}");
    }
    assert!(
        page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "attribute not escaped"
    );
    assert!(!page.contains(HOSTILE) && !page.contains("<b>12-month"));
    // No wrap-up form while talking; in wrap-up it is there with the campaign's codes.
    assert!(!page.contains("id=\"wrapup\""));
    srv.engine.lock().agents.get_mut("a1").expect("a1").state = AgentState::WrapUp;
    let page = get(&srv.url, "/ui/agent", &cookie, None).await.1;
    for code in [
        "callback",
        "not_interested",
        "do_not_call",
        "wrong_number",
        "machine",
        "completed",
    ] {
        assert!(page.contains(&format!("value=\"{code}\"")), "no {code}");
    }

    // A callback without its time is refused by the JSON API's check, and changes nothing.
    let (status, msg) = post(
        &srv.url,
        "/ui/agent/wrapup",
        &cookie,
        &csrf,
        &[("disposition", "callback")],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{msg}");
    assert!(msg.contains("needs its time"), "{msg}");
    // Without the CSRF token: 403, nothing changes.
    let (status, _) = post(
        &srv.url,
        "/ui/agent/wrapup",
        &cookie,
        "",
        &[("disposition", "completed")],
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(srv.engine.lock().dispositions.is_empty());
    // In two hours, with a note: the agent is ready again.
    let before = chrono::Utc::now().timestamp_millis();
    let (status, msg) = post(
        &srv.url,
        "/ui/agent/wrapup",
        &cookie,
        &csrf,
        &[
            ("disposition", "callback"),
            ("delay", "2h"),
            ("note", "payday is Friday"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{msg}");
    {
        let s = srv.engine.lock();
        let (agent, code) = s
            .dispositions
            .last()
            .expect("wrap-up reached the engine")
            .clone();
        assert_eq!(agent, "a1");
        let WrapUpCode::Callback { at_ms } = code else {
            panic!("{code:?}")
        };
        let two_h = 2 * 3_600_000;
        assert!(at_ms >= before + two_h && at_ms <= chrono::Utc::now().timestamp_millis() + two_h);
        assert_eq!(
            s.notes.last().and_then(|n| n.1.clone()).as_deref(),
            Some("payday is Friday")
        );
        assert_eq!(s.agents["a1"].state, AgentState::Ready);
    }
    // Pause with a reason, then ready, through the same checks.
    let (status, _) = post(
        &srv.url,
        "/ui/agent/pause",
        &cookie,
        &csrf,
        &[("reason", "  ")],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = post(
        &srv.url,
        "/ui/agent/pause",
        &cookie,
        &csrf,
        &[("reason", "lunch")],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        srv.engine.lock().agents["a1"].pause_reason.as_deref(),
        Some("lunch")
    );
    // A supervisor has no desktop of its own.
    let (sup, _) = session(&srv.url, ANA, "/ui/").await;
    assert_eq!(
        get(&srv.url, "/ui/agent", &sup, None).await.0,
        StatusCode::FORBIDDEN
    );
    srv.stop().await;
}

/// Two campaigns' calls in a real store: one recorded (a 1000-byte file), with notes.
async fn store_with_calls(dir: &std::path::Path) -> (Store, i64, Vec<u8>) {
    let store = Store::open(dir.join("r.db").to_str().expect("path"))
        .await
        .expect("store");
    apply(&store, &campaign_yaml("c1", RETRY, "")).await;
    let p: Vec<String> = mobiles(1, 3).iter().map(|n| e164(n)).collect();
    let csv = format!(
        "phone,name\n{},=cmd|calc\n{},{HOSTILE}\n{},Li Lei\n",
        p[0], p[1], p[2]
    );
    load(&store, "c1", &csv, t0() - HOUR).await;
    let leased = store
        .lease("c1", 10, t0(), "n1", 10 * MIN)
        .await
        .expect("lease");
    let mut recorded = 0;
    for (i, l) in leased.iter().enumerate() {
        let dial = t0() + i as i64 * MIN;
        let a = store
            .begin_attempt(l.lead_id, "n1", dial)
            .await
            .expect("begin");
        let mut o = AttemptOutcome::new(CallDisposition::Connected, dial + 30_000);
        o.agent = Some(if i == 0 { "a1" } else { "a2" }.into());
        o.connect_ms = Some(dial + 5_000);
        store.finish_attempt(a, &o).await.expect("finish");
        let (d, at) = if i == 1 {
            (CallDisposition::Callback, Some(t0() + DAY))
        } else {
            (CallDisposition::Completed, None)
        };
        let w = AgentWrapUp {
            disposition: d,
            callback_at_ms: at,
            agent: o.agent.as_deref(),
            note: Some("note with, a comma"),
        };
        store
            .apply_wrap_up(a, &w, dial + 60_000)
            .await
            .expect("wrap");
        if l.phone_e164 == p[2] {
            recorded = a;
        }
    }
    let audio: Vec<u8> = (0..1000u32).map(|i| (i % 251) as u8).collect();
    let path = dir.join("call.wav");
    std::fs::write(&path, &audio).expect("write");
    let media = AttemptMedia {
        recording: Some(RecordingInfo {
            path: path.display().to_string(),
            secs: 3.0,
            failed: None,
        }),
        customer: None,
    };
    assert!(store.record_media(recorded, &media).await.expect("media"));
    (store, recorded, audio)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_are_searched_exported_and_their_recordings_seek_with_range() {
    let dir = temp_dir("web-records");
    let (store, rec, audio) = store_with_calls(&dir).await;
    let srv = Server::start().await;
    srv.engine.lock().store = Some(store.clone());
    let api = |path: &str, token: &str, range: Option<&str>| {
        let mut r = http().get(format!("{}{path}", srv.url)).bearer_auth(token);
        if let Some(v) = range {
            r = r.header("range", v);
        }
        r.send()
    };

    // JSON search: by agent, by the agent's code, by the end of the number, by day; paginated.
    let v: serde_json::Value = api("/records?agent=a2", ANA, None)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["total"], 2);
    let v: serde_json::Value = api("/records?disposition=callback", ANA, None)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["total"], 1);
    assert_eq!(v["rows"][0]["note"], "note with, a comma");
    let v: serde_json::Value = api("/records?phone=800000003", ANA, None)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (v["total"].as_i64(), v["rows"][0]["has_recording"].as_i64()),
        (Some(1), Some(1))
    );
    let v: serde_json::Value = api(
        "/records?campaign=c1&per_page=2&page=2&from=2026-03-04&to=2026-03-04",
        ANA,
        None,
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(
        (
            v["total"].as_i64(),
            v["pages"].as_i64(),
            v["rows"].as_array().map(Vec::len)
        ),
        (Some(3), Some(2), Some(1))
    );
    let v: serde_json::Value = api("/records?from=2026-03-05", ANA, None)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["total"], 0);
    let bad = api("/records?phone=12ab", ANA, None).await.unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    assert!(bad.text().await.unwrap().contains("phone"));
    // CSV: a cell a spreadsheet would run is text; commas and quotes survive.
    let csv = api("/records.csv?campaign=c1", ANA, None).await.unwrap();
    assert!(csv.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let text = csv.text().await.unwrap();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
    assert_eq!(rows.len(), 3);
    assert!(rows.iter().any(|r| &r[4] == "'=cmd|calc"), "{text}");
    assert!(rows.iter().all(|r| &r[13] == "note with, a comma"));

    // The recording, curl-style: whole, a range, the tail, outside the file.
    let path = format!("/recordings/{rec}");
    let whole = api(&path, ANA, None).await.unwrap();
    assert_eq!(whole.status(), StatusCode::OK);
    assert_eq!(whole.headers()["accept-ranges"], "bytes");
    assert_eq!(whole.bytes().await.unwrap().as_ref(), &audio[..]);
    let part = api(&path, ANA, Some("bytes=100-199")).await.unwrap();
    assert_eq!(part.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(part.headers()["content-range"], "bytes 100-199/1000");
    assert_eq!(part.bytes().await.unwrap().as_ref(), &audio[100..200]);
    let tail = api(&path, ANA, Some("bytes=-10")).await.unwrap();
    assert_eq!(tail.headers()["content-range"], "bytes 990-999/1000");
    assert_eq!(tail.bytes().await.unwrap().as_ref(), &audio[990..]);
    let over = api(&path, ANA, Some("bytes=1000-")).await.unwrap();
    assert_eq!(over.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(over.headers()["content-range"], "bytes */1000");
    assert_eq!(
        api(&path, ANA, Some("bytes=9-3")).await.unwrap().status(),
        StatusCode::RANGE_NOT_SATISFIABLE
    );
    // Auth: no token 401, an agent's 403, a call without a recording 404.
    assert_eq!(
        http()
            .get(format!("{}{path}", srv.url))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        api(&path, DESK_A1, None).await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        api(&format!("/recordings/{}", rec - 1), ANA, None)
            .await
            .unwrap()
            .status(),
        StatusCode::NOT_FOUND
    );

    // The page: rows escaped, an <audio> on the recorded call, served from the session.
    let (cookie, _) = session(&srv.url, ANA, "/ui/records").await;
    let (status, page) = get(&srv.url, "/ui/records?campaign=c1", &cookie, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains(&format!(
            "<audio controls preload=\"metadata\" src=\"/ui/recordings/{rec}\""
        )),
        "{page}"
    );
    assert_eq!(page.matches("<audio").count(), 1);
    assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;") && !page.contains(HOSTILE));
    assert!(page.contains("href=\"/ui/records.csv?campaign=c1\""));
    let (status, msg) = get(&srv.url, "/ui/records?from=yesterday", &cookie, None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(msg.contains("from"));
    let ui = format!("/ui/recordings/{rec}");
    let resp = http()
        .get(format!("{}{ui}", srv.url))
        .header("cookie", &cookie)
        .header("range", "bytes=0-9")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(resp.bytes().await.unwrap().as_ref(), &audio[..10]);
    // No session: the login page, not the audio; an agent's session: 403.
    let anon = http().get(format!("{}{ui}", srv.url)).send().await.unwrap();
    assert!(anon.status().is_redirection(), "{}", anon.status());
    let (agent, _) = session(&srv.url, DESK_A1, "/ui/agent").await;
    assert_eq!(
        get(&srv.url, &ui, &agent, None).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        get(&srv.url, "/ui/records", &agent, None).await.0,
        StatusCode::FORBIDDEN
    );
    srv.stop().await;
    store.close().await;
}

/// Token of the browser test's agent, bound to `agent0001`.
const DESK_TOKEN: &str = "desk-agent0001-token-0123456789";

/// In a real browser against a dialling engine (trunk-sim, agent-sim): the agent logs in, gets
/// the screen pop with the lead's attributes (a `<script>` in one shows as text), schedules a
/// callback with a note, and a few seconds later gets that same lead again, its note in the
/// pop's history; then a supervisor finds the call on the records page. Screenshot on failure
/// (`web_support`); `OUTDIAL_UPDATE_SCREENSHOTS=1` also saves the README's desk and records pages.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_gets_a_screen_pop_schedules_a_callback_and_gets_it() {
    use crate::engine_support::{self as es, Lab};
    use crate::web_support::with_browser;
    use std::time::Duration;

    // A lab whose every call is answered by a person (the shared scenario answers 30 %).
    let dir = es::temp_dir("web-desk");
    let sc = es::scenario(&dir, 60);
    let mut text = std::fs::read_to_string(&sc).expect("scenario");
    for (from, to) in [
        ("live_answer: 0.30", "live_answer: 1.0"),
        ("machine: 0.10", "machine: 0.0"),
        ("busy: 0.10", "busy: 0.0"),
        ("invalid: 0.02", "invalid: 0.0"),
    ] {
        assert!(text.contains(from), "the lab scenario changed: {text}");
        text = text.replace(from, to);
    }
    std::fs::write(&sc, text).expect("scenario");
    let (open, closed) = es::open_and_closed_zones();
    let lab = Lab {
        db: format!("sqlite://{}", dir.join("lab.db").display()),
        trunk: es::peer("trunk-sim", &sc, es::SCALE, &[]),
        agents: es::peer(
            "agent-sim",
            &sc,
            es::SCALE,
            &["--agents", "1", "--hold-until-bye"],
        ),
        dir,
        open,
        closed,
    };
    let yaml = es::campaign_yaml("desk-c", "progressive");
    let f = lab.dir.join("desk-c.yaml");
    std::fs::write(&f, &yaml).expect("campaign");
    es::outdial(
        &lab.db,
        &["campaign", "apply", f.to_str().expect("path")],
        None,
    );
    let csv = format!(
        "phone,name,external_id,timezone,tier,product,comment\n\
         91234567,Tan Mei Ling,APP-000777,{},gold,home loan,{HOSTILE}\n",
        lab.open
    );
    es::outdial(&lab.db, &["campaign", "load", "desk-c", "-"], Some(&csv));
    let mut setup = lab.setup("d1", "desk-c", 90);
    setup.agent_range = (1, 1);
    setup.wrap_up = "api";
    let (config, admin_url) = es::engine_config(&lab.dir, &setup);
    let text = std::fs::read_to_string(&config).expect("config");
    let supervisor = format!("    - {{name: test-supervisor, token: {}}}\n", es::TOKEN);
    assert!(text.contains(&supervisor), "the lab config changed: {text}");
    let agent_token = format!(
        "{supervisor}    - {{name: desk-1, token: {DESK_TOKEN}, role: agent, agent: agent0001}}\n"
    );
    std::fs::write(&config, text.replace(&supervisor, &agent_token)).expect("config");
    let _engine = es::start_engine(&lab.db, &config);
    let _client = es::wait_admin(&admin_url).await;
    with_browser("agent_desktop_callback", "en-US", move |b| async move {
        let secs = Duration::from_secs;
        b.login(&admin_url, DESK_TOKEN).await;
        let end = std::time::Instant::now() + secs(5);
        while b.path().await != "/ui/agent" && std::time::Instant::now() < end {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(b.path().await, "/ui/agent", "{}", b.text("main").await);
        assert!(b.text("#shortcuts").await.contains("Alt+R"));
        b.click("#btn-login").await;
        // Logged in, the engine makes the agent ready (or paused until it says so).
        let st = b
            .wait_text("#state-name", secs(5), |t| t != "logged out")
            .await;
        if st == "paused" {
            b.click("#btn-ready").await;
        }
        // The call connects: the pop shows the lead, its attributes, hostile text as text.
        b.wait_text("#pop-name", secs(20), |t| t == "Tan Mei Ling")
            .await;
        assert_eq!(b.text("#pop-external").await, "APP-000777");
        assert_eq!(b.text("#pop-tier").await, "gold");
        let comment = b.text("tr.attr[data-key=comment] td").await;
        assert_eq!(comment, HOSTILE);
        assert!(b
            .text("tr.attr[data-key=product] td")
            .await
            .contains("home loan"));
        let ran = b
            .client
            .execute(
                "return document.querySelectorAll('#pop script').length",
                vec![],
            )
            .await
            .expect("js");
        assert_eq!(ran, serde_json::json!(0), "the attribute became a script");
        // The customer hangs up: wrap-up; a callback in 5 s with a note, then ready.
        b.wait_text("#state-name", secs(20), |t| t == "wrap-up")
            .await;
        b.click("#d-callback").await;
        b.fill("#wrapup input[name=at]", "5s").await;
        b.fill("#wrapup textarea[name=note]", "ring back at five")
            .await;
        b.click("#wrapup-done").await;
        b.wait_text("#desk-msg", secs(5), |t| t.contains("Applied"))
            .await;
        // The callback comes back to this agent: the same lead, the note in its history.
        b.wait_text("#pop-history", secs(30), |t| {
            t.contains("ring back at five")
        })
        .await;
        assert_eq!(b.text("#pop-name").await, "Tan Mei Ling");
        assert!(b.text("#pop-history").await.contains("callback"));
        shoot(&b, "desk.png").await;
        // A supervisor finds this lead's calls on the records page.
        b.client.delete_all_cookies().await.expect("cookies");
        b.login(&admin_url, es::TOKEN).await;
        b.goto(&format!("{admin_url}/ui/records?campaign=desk-c"))
            .await;
        b.wait_text("#record-table", secs(5), |t| t.contains("91234567"))
            .await;
        shoot(&b, "records.png").await;
    })
    .await;
}

/// Saves the page for the README when `OUTDIAL_UPDATE_SCREENSHOTS` is set (docs/screenshots/).
async fn shoot(b: &crate::web_support::Browser, name: &str) {
    if std::env::var("OUTDIAL_UPDATE_SCREENSHOTS").is_ok() {
        b.screenshot(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("docs/screenshots")
                .join(name),
        )
        .await;
    }
}
