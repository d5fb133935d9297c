//! A real headless Chromium, driven through chromedriver over WebDriver, for the web UI's tests.
//! Chromium and chromedriver come from Debian's `chromium` and `chromium-driver`; when they are
//! missing they are installed once per test run, and a machine where that fails fails the tests
//! with the reason (they are never skipped). Every page a test looks at can be checked for
//! console errors and size, and kept as a screenshot under `target/tmp/ui-screenshots`.

use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";
/// The largest page the UI may send.
pub const PAGE_LIMIT: usize = 100 * 1024;

fn program(var: &str, default: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| default.to_string())
}

/// Installs Chromium and chromedriver when they are missing; once per test binary.
fn ensure_installed() {
    static INSTALLED: OnceLock<Result<(), String>> = OnceLock::new();
    let outcome = INSTALLED.get_or_init(|| {
        let driver = program("PATCHBAY_CHROMEDRIVER", CHROMEDRIVER);
        let chromium = program("PATCHBAY_CHROMIUM", CHROMIUM);
        if std::path::Path::new(&driver).exists() && std::path::Path::new(&chromium).exists() {
            return Ok(());
        }
        // A fresh machine's package lists may be empty: refresh them first.
        let status = Command::new("sh")
            .args([
                "-c",
                "apt-get update -qq && apt-get install -y -q chromium chromium-driver",
            ])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdout(Stdio::null())
            .status();
        match status {
            Ok(s) if s.success() && std::path::Path::new(&driver).exists() => Ok(()),
            other => Err(format!(
                "the web UI's browser tests need Chromium and chromedriver \
                 (`apt-get install chromium chromium-driver`, or set PATCHBAY_CHROMIUM and \
                 PATCHBAY_CHROMEDRIVER); installing them failed: {other:?}"
            )),
        }
    });
    if let Err(e) = outcome {
        panic!("{e}");
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// chromedriver's `se/log` command: the browser console since the last call.
#[derive(Debug)]
struct BrowserLog;

impl WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(
        &self,
        base: &url::Url,
        session: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/se/log", session.unwrap_or_default()))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (
            http::Method::POST,
            Some(json!({"type": "browser"}).to_string()),
        )
    }
}

pub struct Browser {
    pub client: Client,
    driver: Child,
    base: String,
    test: String,
    profile: PathBuf,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

impl Browser {
    /// A fresh browser (no cookies) for the server at `base`; `test` names its screenshots.
    pub async fn open(base: &str, test: &str) -> Browser {
        ensure_installed();
        let port = free_port();
        let driver = Command::new(program("PATCHBAY_CHROMEDRIVER", CHROMEDRIVER))
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        while reqwest::get(format!("{url}/status")).await.is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let profile = std::env::temp_dir().join(format!("pb-chromium-{port}"));
        let caps = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": program("PATCHBAY_CHROMIUM", CHROMIUM),
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                         "--disable-dev-shm-usage", "--window-size=1280,1000",
                         "--no-first-run", "--disable-extensions",
                         format!("--user-data-dir={}", profile.display())]
            },
            "goog:loggingPrefs": {"browser": "ALL"}
        });
        let Value::Object(caps) = caps else {
            unreachable!()
        };
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&url)
            .await
            .expect("a Chromium session");
        Browser {
            client,
            driver,
            base: base.to_string(),
            test: test.to_string(),
            profile,
        }
    }

    pub async fn goto(&self, path: &str) {
        self.client
            .goto(&format!("{}{path}", self.base))
            .await
            .unwrap();
    }

    /// The current path and query.
    pub async fn path(&self) -> String {
        let url = self.client.current_url().await.unwrap();
        match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_string(),
        }
    }

    pub async fn fill(&self, css: &str, value: &str) {
        let e = self.client.find(Locator::Css(css)).await.unwrap();
        e.clear().await.unwrap();
        e.send_keys(value).await.unwrap();
    }

    pub async fn choose(&self, css: &str, value: &str) {
        let e = self.client.find(Locator::Css(css)).await.unwrap();
        e.select_by_value(value).await.unwrap();
    }

    /// Clicks and waits for the page the click loads.
    pub async fn click(&self, css: &str) {
        let e = self
            .client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|_| panic!("no element {css}"));
        // Every click in these tests loads a page; the old document carries a mark, so the
        // wait ends only once the new one has replaced it and finished loading.
        self.script("window.pbBeforeClick = true; return null;")
            .await;
        e.click().await.unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let loaded = self
                .client
                .execute(
                    "return !window.pbBeforeClick && document.readyState === 'complete';",
                    vec![],
                )
                .await;
            if matches!(loaded, Ok(Value::Bool(true))) {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "clicking {css} loaded no page within 10 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn text(&self, css: &str) -> String {
        // An element that refreshes itself can be replaced between finding and reading it.
        for _ in 0..40 {
            let element = self
                .client
                .find(Locator::Css(css))
                .await
                .unwrap_or_else(|_| panic!("no element {css}"));
            match element.text().await {
                Ok(text) => return text,
                Err(_) => tokio::time::sleep(Duration::from_millis(25)).await,
            }
        }
        panic!("{css} was replaced every time it was read");
    }

    pub async fn has(&self, css: &str) -> bool {
        !self
            .client
            .find_all(Locator::Css(css))
            .await
            .unwrap()
            .is_empty()
    }

    /// The whole page's visible text.
    pub async fn body(&self) -> String {
        self.text("body").await
    }

    pub async fn script(&self, js: &str) -> Value {
        self.client.execute(js, vec![]).await.unwrap()
    }

    /// Console messages at error level since the last call.
    pub async fn console_errors(&self) -> Vec<String> {
        let logs = self.client.issue_cmd(BrowserLog).await.unwrap();
        logs.as_array()
            .into_iter()
            .flatten()
            .filter(|l| l["level"] == "SEVERE")
            .map(|l| l["message"].as_str().unwrap_or_default().to_string())
            .collect()
    }

    /// Checks the page on screen: no console error, under the size limit, laid out without
    /// sideways scrolling; and keeps a screenshot of it named `label`. Chromium logs a page's
    /// own 4xx status (a refused form answered 403 or 422) as a console error; that status is
    /// the server's answer, which tests assert on their own, so it alone is let through.
    pub async fn page(&self, label: &str) {
        let mut url = self.client.current_url().await.unwrap();
        url.set_fragment(None);
        let own_status =
            format!("{url} - Failed to load resource: the server responded with a status of 4");
        let errors: Vec<String> = self
            .console_errors()
            .await
            .into_iter()
            .filter(|e| !e.starts_with(&own_status))
            .collect();
        assert!(errors.is_empty(), "console errors on {label}: {errors:?}");
        let size = self.client.source().await.unwrap().len();
        assert!(size < PAGE_LIMIT, "{label} is {size} bytes");
        let overflow = self
            .script("return document.documentElement.scrollWidth > window.innerWidth + 1")
            .await;
        assert_eq!(overflow, json!(false), "{label} scrolls sideways");
        let png = self.client.screenshot().await.unwrap();
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("ui-screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{}-{label}.png", self.test)), png).unwrap();
    }

    /// Resizes the window's viewport to `width` CSS pixels.
    pub async fn width(&self, width: u32) {
        self.client.set_window_size(width, 900).await.unwrap();
    }

    /// Signs in with `key` through the form.
    pub async fn sign_in(&self, key: &str) {
        self.goto("/ui/sign-in").await;
        self.fill("#key", key).await;
        self.click("form[action='/ui/sign-in'] button").await;
    }

    pub async fn close(self) {
        let Browser { client, .. } = &self;
        let _ = client.clone().close().await;
    }
}
