//! The supervisor wallboard in a real browser (headless Chromium through chromedriver): a
//! supervisor signs in and watches a live engine dial against trunk-sim and agent-sim, changes
//! its pacing (applied and audited), pauses it (dialling stops); wrong and expired tokens get
//! the login page; text from the outside shows as text; a state change without the session's
//! CSRF token is refused; agent tokens reach their own agent only. The fake-engine tests serve
//! the real router (JSON API and pages) over `admin_support::FakeEngine`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use outdial::admin::{self, AgentAction, Control};
use reqwest::StatusCode;

use crate::admin_support::{self, FakeEngine, ANA, DESK_A1};
use crate::engine_support::{self as es, Lab};
use crate::web_support::{screenshot_dir, with_browser};

/// The number in a wallboard cell (`"12"`, `"0.85"`), 0 when there is none.
fn num(text: &str) -> f64 {
    text.split_whitespace()
        .next()
        .and_then(|t| t.parse().ok())
        .unwrap_or(0.0)
}

fn cell(campaign: &str, field: &str) -> String {
    format!("#campaign-table tr[data-campaign=\"{campaign}\"] td[data-field=\"{field}\"]")
}

/// Attempts the engine has written so far.
async fn dials(db: &str) -> usize {
    let store = outdial::store::Store::open(db).await.expect("store");
    es::attempts(&store).await.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn supervisor_watches_tunes_and_pauses_a_dialling_engine() {
    let lab = Lab::new("web-wallboard", None, 10);
    lab.campaign("web-a", "predictive", 50, 1000, 3000, 0);
    let (config, admin_url) = es::engine_config(&lab.dir, &lab.setup("w1", "web-a", 120));
    let engine = es::start_engine(&lab.db, &config);
    let client = es::wait_admin(&admin_url).await;
    let db = lab.db.clone();
    with_browser(
        "supervisor_watches_tunes_and_pauses",
        "en-US",
        move |b| async move {
            // Signed in, the supervisor lands on the wallboard.
            b.login(&admin_url, es::TOKEN).await;
            assert_eq!(b.path().await, "/ui/");
            b.wait_text("#campaign-table", Duration::from_secs(5), |t| {
                t.contains("web-a")
            })
            .await;

            // The numbers move without a reload: live answers go up while the engine dials.
            let first = num(&b
                .wait_text(
                    &cell("web-a", "live_answers"),
                    Duration::from_secs(20),
                    |t| num(t) >= 1.0,
                )
                .await);
            b.wait_text(
                &cell("web-a", "live_answers"),
                Duration::from_secs(20),
                |t| num(t) > first,
            )
            .await;
            let stamp = b.text("#live").await;
            b.wait_text("#live", Duration::from_secs(5), |t| t != stamp)
                .await;
            b.screenshot(&screenshot_dir().join("wallboard.png")).await;
            if std::env::var("OUTDIAL_UPDATE_SCREENSHOTS").is_ok() {
                b.screenshot(
                    &std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                        .join("docs/screenshots/wallboard.png"),
                )
                .await;
            }

            // A bad value is refused with the field named, and nothing changes.
            let form = "div[data-controls=\"web-a\"]";
            b.fill(&format!("{form} input[name=ratio]"), "9").await;
            b.click(&format!("{form} button[type=submit]")).await;
            b.wait_text("#msg-0", Duration::from_secs(5), |t| t.contains("ratio"))
                .await;
            assert_eq!(
                client
                    .campaign("web-a")
                    .await
                    .expect("campaign")
                    .pacing
                    .ratio,
                1.0
            );

            // Power dialling at 2 lines per agent: applied in the engine, shown, audited.
            b.fill(&format!("{form} input[name=mode]"), "power").await;
            b.fill(&format!("{form} input[name=ratio]"), "2").await;
            b.click(&format!("{form} button[type=submit]")).await;
            b.wait_text("#msg-0", Duration::from_secs(5), |t| t.contains("Applied"))
                .await;
            let v = client.campaign("web-a").await.expect("campaign");
            assert_eq!(
                (v.pacing.mode.to_string().as_str(), v.pacing.ratio),
                ("power", 2.0)
            );
            b.wait_text(&cell("web-a", "mode"), Duration::from_secs(5), |t| {
                t.starts_with("power · 2.00")
            })
            .await;
            let audit = b
                .wait_text("#audit-table", Duration::from_secs(5), |t| {
                    t.contains("ratio")
                })
                .await;
            assert!(
                audit.contains("test-supervisor") && audit.contains("mode"),
                "{audit}"
            );

            // Pause, confirmed: the badge says so, ringing drains to zero and no new dial is placed.
            b.click(&format!("{form} button[hx-post$=\"/pause\"]"))
                .await;
            b.accept_dialog().await;
            b.wait_text(
                "#campaign-table tr[data-campaign=\"web-a\"] .badge",
                Duration::from_secs(5),
                |t| t == "Paused",
            )
            .await;
            assert!(client.campaign("web-a").await.expect("campaign").paused);
            b.wait_text(&cell("web-a", "ringing"), Duration::from_secs(20), |t| {
                num(t) == 0.0
            })
            .await;
            let before = dials(&db).await;
            // 3 s is a minute of the engine's scaled time: a running campaign places dozens of calls.
            tokio::time::sleep(Duration::from_secs(3)).await;
            assert_eq!(dials(&db).await, before, "dials placed while paused");
            let audit = b.text("#audit-table").await;
            assert!(audit.contains("paused"), "{audit}");

            // The engine restarts: the open wallboard reconnects by itself, still signed in (the
            // session is signed with the token, not held by the process that died).
            drop(engine);
            let down = b.text("#live").await;
            let engine = es::start_engine(&db, &config);
            es::wait_admin(&admin_url).await;
            b.wait_text("#live", Duration::from_secs(20), |t| {
                t != down && t.contains("Live")
            })
            .await;
            assert_eq!(b.path().await, "/ui/");
            b.wait_text(
                "#campaign-table tr[data-campaign=\"web-a\"] .badge",
                Duration::from_secs(5),
                |t| t == "Paused",
            )
            .await;
            drop(engine);
        },
    )
    .await;
}

/// A fake engine's server whose sessions last `ttl`.
async fn fake_with_ttl(ttl: Duration) -> (String, Arc<FakeEngine>, tokio::task::JoinHandle<()>) {
    let engine = FakeEngine::new();
    let pages = outdial::web::WebState::new(engine.clone(), admin_support::tokens(), ttl);
    let router =
        admin::router(engine.clone(), admin_support::tokens()).merge(outdial::web::router(pages));
    let listener = admin::bind("127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let task = tokio::spawn(async move {
        let _ = admin::serve(listener, router, std::future::pending()).await;
    });
    (url, engine, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_or_expired_token_gets_the_login_page() {
    let (url, _engine, task) = fake_with_ttl(Duration::from_secs(2)).await;
    with_browser("wrong_or_expired_token", "en-US", move |b| async move {
        // Not signed in: the wallboard sends to the login page.
        b.goto(&format!("{url}/ui/")).await;
        assert_eq!(b.path().await, "/ui/login");
        // A wrong token: the login page again, saying why.
        b.login(&url, "tok-not-configured").await;
        assert_eq!(b.path().await, "/ui/login");
        assert!(b.text("main").await.contains("not valid"));
        if std::env::var("OUTDIAL_UPDATE_SCREENSHOTS").is_ok() {
            b.screenshot(
                &std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("docs/screenshots/login.png"),
            )
            .await;
        }
        // The right one: the wallboard; once the session is over, the login page again.
        b.login(&url, ANA).await;
        assert_eq!(b.path().await, "/ui/");
        let signed_in = Instant::now();
        tokio::time::sleep(Duration::from_millis(2200).saturating_sub(signed_in.elapsed())).await;
        b.goto(&format!("{url}/ui/")).await;
        assert_eq!(b.path().await, "/ui/login");
        assert!(b.text("main").await.contains("session has ended"));
    })
    .await;
    task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_from_outside_shows_as_text_in_chinese() {
    let srv = admin_support::Server::start().await;
    // A pause reason is the wallboard's free text: an agent (or its softphone) typed it.
    let hostile = "<script>window.pwned=1</script><b>bold</b>";
    srv.engine
        .agent_action(
            "a1",
            AgentAction::Pause {
                reason: hostile.into(),
            },
        )
        .await
        .expect("pause");
    let url = srv.url.clone();
    with_browser("text_from_outside_shows_as_text", "zh-CN", move |b| async move {
        b.login(&url, ANA).await;
        // Labels follow the browser's language.
        assert!(b.text("h1").await.contains("实时监控"), "{}", b.text("h1").await);
        let row = b.wait_text("#agent-table tr[data-agent=\"a1\"]", Duration::from_secs(5), |t| t.contains("bold")).await;
        assert!(row.contains(hostile), "{row}");
        let pwned = b.client.execute("return window.pwned === undefined && document.querySelectorAll('#agent-table b').length === 0", vec![]).await.expect("js");
        assert_eq!(pwned, serde_json::Value::Bool(true), "the text ran as HTML");
    })
    .await;
    srv.stop().await;
}

/// Signs in with `token` over plain HTTP; returns the session cookie and the page's CSRF token.
async fn session(url: &str, token: &str) -> (String, String) {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let resp = http
        .post(format!("{url}/ui/login"))
        .form(&[("token", token)])
        .send()
        .await
        .expect("login");
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let set = resp.headers()["set-cookie"]
        .to_str()
        .expect("cookie")
        .to_string();
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/ui"] {
        assert!(set.contains(attr), "{set} lacks {attr}");
    }
    let cookie = set.split(';').next().expect("cookie").to_string();
    let page = http
        .get(format!("{url}/ui/"))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("text");
    let csrf = page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap_or_default()
        .to_string();
    (cookie, csrf)
}

#[tokio::test]
async fn state_change_without_the_csrf_token_is_403() {
    let srv = admin_support::Server::start().await;
    let (cookie, csrf) = session(&srv.url, ANA).await;
    assert_eq!(csrf.len(), 32, "page carries the CSRF token");
    let http = reqwest::Client::new();
    let pause = format!("{}/ui/campaigns/credit-verification/pause", srv.url);
    let post = |cookie: Option<&str>, header: Option<&str>, form: Option<&str>| {
        let mut r = http.post(&pause);
        if let Some(c) = cookie {
            r = r.header("cookie", c.to_string());
        }
        if let Some(h) = header {
            r = r.header("x-csrf-token", h.to_string());
        }
        if let Some(f) = form {
            r = r.form(&[("csrf", f.to_string())]);
        }
        r.send()
    };
    for (what, resp) in [
        ("no token", post(Some(&cookie), None, None).await),
        (
            "wrong header",
            post(
                Some(&cookie),
                Some("0123456789abcdef0123456789abcdef"),
                None,
            )
            .await,
        ),
        ("wrong field", post(Some(&cookie), None, Some("nope")).await),
        ("no session", post(None, Some(&csrf), None).await),
    ] {
        assert_eq!(
            resp.expect("post").status(),
            StatusCode::FORBIDDEN,
            "{what}"
        );
    }
    assert_eq!(
        srv.engine.lock().changes,
        0,
        "a refused request reached the engine"
    );
    // With the token, as htmx sends it (header) or as a form field: applied and audited as ana.
    assert_eq!(
        post(Some(&cookie), Some(&csrf), None)
            .await
            .expect("post")
            .status(),
        StatusCode::OK
    );
    let resume = http
        .post(format!(
            "{}/ui/campaigns/credit-verification/resume",
            srv.url
        ))
        .header("cookie", &cookie)
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .expect("resume");
    assert_eq!(resume.status(), StatusCode::OK);
    let audit = srv.engine.lock().audit.clone();
    assert_eq!(audit.len(), 2);
    assert!(
        audit
            .iter()
            .all(|r| r.token == "ana" && r.field == "paused"),
        "{audit:?}"
    );
    // A live stream open under the session...
    let mut stream = reqwest::Client::new()
        .get(format!("{}/ui/events/wallboard", srv.url))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("events");
    assert_eq!(stream.status(), StatusCode::OK);
    let first = stream.chunk().await.expect("chunk").expect("an event");
    assert!(
        String::from_utf8_lossy(&first).contains("event: "),
        "{first:?}"
    );
    // Logout ends the session: the same cookie no longer opens the wallboard.
    let http_nr = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let out = http_nr
        .post(format!("{}/ui/logout", srv.url))
        .header("cookie", &cookie)
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .expect("logout");
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    let after = http_nr
        .get(format!("{}/ui/", srv.url))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("page");
    assert_eq!(after.status(), StatusCode::SEE_OTHER);
    assert!(after.headers()["location"]
        .to_str()
        .expect("loc")
        .starts_with("/ui/login"));
    // ...and the stream opened before it ends (within a tick or two).
    let ended = tokio::time::timeout(Duration::from_secs(5), async {
        while let Ok(Some(_)) = stream.chunk().await {}
    })
    .await;
    assert!(ended.is_ok(), "the live stream outlived the logout");
    srv.stop().await;
}

#[tokio::test]
async fn agent_tokens_reach_their_own_agent_only() {
    let srv = admin_support::Server::start().await;
    let http = reqwest::Client::new();
    let call = |method: reqwest::Method, path: &str, body: Option<&str>| {
        let mut r = http
            .request(method, format!("{}{path}", srv.url))
            .bearer_auth(DESK_A1);
        if let Some(b) = body {
            r = r
                .header("content-type", "application/json")
                .body(b.to_string());
        }
        r.send()
    };
    use reqwest::Method as M;
    for (m, path) in [
        (M::GET, "/campaigns"),
        (M::GET, "/campaigns/credit-verification"),
        (M::POST, "/campaigns/credit-verification/pause"),
        (M::PATCH, "/campaigns/credit-verification/pacing"),
        (M::GET, "/agents"),
        (M::POST, "/agents/a2/logout"),
        (M::GET, "/agents/a2/current"),
        (M::GET, "/metrics"),
    ] {
        let resp = call(m.clone(), path, Some(r#"{"ratio": 2}"#))
            .await
            .expect("send");
        assert_eq!(resp.status(), StatusCode::FORBIDDEN, "{m} {path}");
    }
    assert_eq!(srv.engine.lock().changes, 0);
    // Its own agent: current call and actions.
    assert_eq!(
        call(M::GET, "/agents/a1/current", None)
            .await
            .expect("send")
            .status(),
        StatusCode::OK
    );
    let paused = call(M::POST, "/agents/a1/pause", Some(r#"{"reason": "break"}"#))
        .await
        .expect("send");
    assert_eq!(paused.status(), StatusCode::OK);
    // In the browser pages, an agent session has no wallboard and no supervisor control.
    let (cookie, _) = session(&srv.url, DESK_A1).await;
    let nr = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let page = nr
        .get(format!("{}/ui/", srv.url))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("page");
    assert_eq!(page.headers()["location"], "/ui/desk");
    srv.stop().await;
}
