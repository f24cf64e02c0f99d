//! Browser tests' harness: headless Chromium driven through chromedriver (WebDriver, fantoccini),
//! each test with its own chromedriver on a free loopback port, and a screenshot kept in
//! `target/web-screenshots/<test>.png` when the test fails. Without chromium or chromedriver a
//! test is skipped with a note, except under `CI=true`, where that is a failure (`make peers`
//! installs both).
#![allow(dead_code)] // each suite uses a part

use std::future::Future;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};

use crate::engine_support::{free_port, Proc};

/// The system browser and its driver (Debian's `chromium` and `chromium-driver`).
pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// Where failing tests leave their screenshot.
pub fn screenshot_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/web-screenshots")
}

/// True when both binaries are here; under CI their absence fails the test.
fn browser_available() -> bool {
    let here =
        std::path::Path::new(CHROMIUM).exists() && std::path::Path::new(CHROMEDRIVER).exists();
    if !here {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "chromium/chromedriver missing under CI (make peers installs them)"
        );
        eprintln!("skipping: {CHROMIUM} or {CHROMEDRIVER} missing");
    }
    here
}

/// A headless Chromium at 1366×768 and its chromedriver, killed on drop.
pub struct Browser {
    pub client: Client,
    driver: Proc,
    test: String,
}

impl Browser {
    /// Starts chromedriver and a browser session; `None` (skip) when they are not installed.
    /// `lang` is the browser's language (`en-US`, `zh-CN`): what `Accept-Language` says.
    pub async fn start(test: &str, lang: &str) -> Option<Browser> {
        if !browser_available() {
            return None;
        }
        let port = free_port();
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn chromedriver");
        let driver = Proc { child };
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({
                "binary": CHROMIUM,
                "args": ["--headless=new", "--no-sandbox", "--window-size=1366,768",
                         "--disable-gpu", "--disable-dev-shm-usage", format!("--lang={lang}")],
                "prefs": { "intl.accept_languages": lang },
            }),
        );
        let url = format!("http://127.0.0.1:{port}");
        let end = Instant::now() + Duration::from_secs(20);
        let client = loop {
            match ClientBuilder::native()
                .capabilities(caps.clone())
                .connect(&url)
                .await
            {
                Ok(c) => break c,
                Err(e) => {
                    assert!(Instant::now() < end, "chromedriver did not start: {e}");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        };
        Some(Browser {
            client,
            driver,
            test: test.to_string(),
        })
    }

    /// Opens `url`.
    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.expect("goto");
    }

    /// The current URL's path.
    pub async fn path(&self) -> String {
        self.client
            .current_url()
            .await
            .expect("url")
            .path()
            .to_string()
    }

    /// The visible text of the first element matching `css` ("" when there is none).
    pub async fn text(&self, css: &str) -> String {
        match self.client.find(Locator::Css(css)).await {
            Ok(e) => e.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        }
    }

    /// The page's HTML source.
    pub async fn source(&self) -> String {
        self.client.source().await.expect("source")
    }

    /// Waits up to `limit` until `check` holds on the text of `css`; returns that text, or
    /// panics with the last text seen.
    pub async fn wait_text(
        &self,
        css: &str,
        limit: Duration,
        check: impl Fn(&str) -> bool,
    ) -> String {
        let end = Instant::now() + limit;
        loop {
            let t = self.text(css).await;
            if check(&t) {
                return t;
            }
            assert!(
                Instant::now() < end,
                "{css}: condition not met within {limit:?}; last text {t:?}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Types `text` into the element matching `css` (cleared first).
    pub async fn fill(&self, css: &str, text: &str) {
        let e = self.client.find(Locator::Css(css)).await.expect(css);
        e.clear().await.expect("clear");
        e.send_keys(text).await.expect("type");
    }

    /// Clicks the element matching `css`.
    pub async fn click(&self, css: &str) {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"))
            .click()
            .await
            .expect("click");
    }

    /// Accepts the confirmation dialog that is open now (waits for it a little).
    pub async fn accept_dialog(&self) {
        let end = Instant::now() + Duration::from_secs(5);
        loop {
            match self.client.accept_alert().await {
                Ok(()) => return,
                Err(e) => {
                    assert!(Instant::now() < end, "no dialog to accept: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }

    /// Signs in at `base`/ui/login with `token`.
    /// Returns once the login page has been replaced by the answer (the old token field is gone:
    /// WebDriver's "stale element" wait), so the caller reads the next page, not the login form.
    pub async fn login(&self, base: &str, token: &str) {
        self.goto(&format!("{base}/ui/login")).await;
        self.fill("#token", token).await;
        let field = self
            .client
            .find(Locator::Css("#token"))
            .await
            .expect("#token");
        self.click("button[type=submit]").await;
        let end = Instant::now() + Duration::from_secs(10);
        while field.attr("id").await.is_ok() {
            assert!(
                Instant::now() < end,
                "the login form was not replaced within 10 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Saves a PNG of the viewport to `path`.
    pub async fn screenshot(&self, path: &std::path::Path) {
        match self.client.screenshot().await {
            Ok(png) => {
                if let Some(d) = path.parent() {
                    let _ = std::fs::create_dir_all(d);
                }
                if let Err(e) = std::fs::write(path, png) {
                    eprintln!("screenshot {}: {e}", path.display());
                }
            }
            Err(e) => eprintln!("screenshot failed: {e}"),
        }
    }

    async fn close(&self) {
        let _ = self.client.clone().close().await;
    }
}

/// Runs `body` with a fresh browser; when it panics, saves a screenshot to
/// `target/web-screenshots/<test>.png` before failing the test. Skips when no browser is here.
pub async fn with_browser<F, Fut>(test: &str, lang: &str, body: F)
where
    F: FnOnce(Arc<Browser>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Some(b) = Browser::start(test, lang).await else {
        return;
    };
    let b = Arc::new(b);
    let outcome = tokio::spawn(body(b.clone())).await;
    if let Err(e) = outcome {
        let shot = screenshot_dir().join(format!("{test}.png"));
        b.screenshot(&shot).await;
        eprintln!("{test} failed: screenshot in {}", shot.display());
        b.close().await;
        if e.is_panic() {
            std::panic::resume_unwind(e.into_panic());
        }
        panic!("{test}: {e}");
    }
    b.close().await;
}
