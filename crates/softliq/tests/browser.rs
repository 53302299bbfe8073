//! The dashboard in a real browser: `softliq serve --demo` on a loopback port, headless
//! Chromium driven through ChromeDriver (WebDriver), until a liquidation appears in the live
//! feed; then a screenshot is saved beside the test binaries (`dashboard.png`).
//!
//! Chromium and ChromeDriver come from Debian (`chromium`, `chromium-driver`); `.ci/run`
//! installs them, and this test installs them itself when it runs as root on a machine that
//! lacks them.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};

use common::{Guard, free_port};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

fn ensure_browser() {
    if Path::new(CHROMIUM).exists() && Path::new(CHROMEDRIVER).exists() {
        return;
    }
    let status = Command::new("sh")
        .args([
            "-c",
            "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver",
        ])
        .status();
    assert!(
        status.is_ok_and(|s| s.success())
            && Path::new(CHROMIUM).exists()
            && Path::new(CHROMEDRIVER).exists(),
        "the browser test needs Debian's chromium and chromium-driver \
         (apt-get install chromium chromium-driver)"
    );
}

/// Kills, when dropped, the Chromium processes ChromeDriver started with this profile: killing
/// ChromeDriver alone leaves them running when a failing assertion skips the session's delete.
struct BrowserGuard(std::path::PathBuf);

impl Drop for BrowserGuard {
    fn drop(&mut self) {
        let _ = Command::new("pkill")
            .args(["-f", "--"])
            .arg(format!("--user-data-dir={}", self.0.display()))
            .status();
    }
}

fn start_demo(data: &Path) -> (Guard, String) {
    let served = common::serve(
        [
            "--demo".as_ref(),
            "--demo-borrowers".as_ref(),
            "1500".as_ref(),
            "--demo-bar-ms".as_ref(),
            "200".as_ref(),
            "--data".as_ref(),
            data.as_os_str(),
        ],
        &[],
        1,
    );
    (served.guard, served.url)
}

struct Driver {
    http: reqwest::Client,
    base: String,
    session: String,
}

impl Driver {
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let mut req = self.http.request(method, url);
        if let Some(b) = body {
            req = req.json(&b);
        }
        req.send().await.unwrap().json().await.unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_shows_a_liquidation_from_the_demo() {
    ensure_browser();
    let data = std::env::temp_dir().join(format!("softliq-browser-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    let (_server, url) = start_demo(&data);

    let port = free_port();
    let _driver = Guard(
        Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let http = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(20);
    while http.get(format!("{base}/status")).send().await.is_err() {
        assert!(Instant::now() < deadline, "chromedriver did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let profile = data.join("chromium-profile");
    let _browser = BrowserGuard(profile.clone());
    let caps = json!({"capabilities": {"alwaysMatch": {
        "browserName": "chrome",
        "goog:chromeOptions": {
            "binary": CHROMIUM,
            "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                     "--no-first-run", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync",
                     "--window-size=1400,1200",
                     format!("--user-data-dir={}", profile.display())]
        }
    }}});
    let created: Value = http
        .post(format!("{base}/session"))
        .json(&caps)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let session = created["value"]["sessionId"]
        .as_str()
        .unwrap_or_else(|| panic!("no session: {created}"))
        .to_owned();
    let d = Driver {
        http,
        base,
        session,
    };
    d.call(
        reqwest::Method::POST,
        "/url",
        Some(json!({"url": format!("{url}/")})),
    )
    .await;

    // The demo's crash reaches the first liquidations within seconds; allow a slow machine.
    let deadline = Instant::now() + Duration::from_secs(120);
    let script = json!({
        "script": "const li = document.querySelector('#feed li.liquidation'); return li ? li.textContent : null;",
        "args": []
    });
    let text = loop {
        let found = d
            .call(reqwest::Method::POST, "/execute/sync", Some(script.clone()))
            .await;
        if let Some(text) = found["value"].as_str() {
            break text.to_owned();
        }
        assert!(
            Instant::now() < deadline,
            "no liquidation in the dashboard's feed after 120 s"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert!(text.contains("soft"), "feed entry: {text}");
    assert!(text.contains("repaid"), "feed entry: {text}");
    // The other panels filled in from the API.
    let markets = d
        .call(
            reqwest::Method::POST,
            "/element",
            Some(json!({"using": "css selector", "value": "#markets tbody tr"})),
        )
        .await;
    assert!(
        markets["value"].is_object(),
        "markets table empty: {markets}"
    );
    // The perp panels: both markets with a mark, a drawn depth chart, and perp liquidation
    // steps arriving in the feed as the crash reaches the leveraged longs.
    let perps = json!({
        "script": "const rows = [...document.querySelectorAll('#perps tbody tr')].map((r) => r.cells[2].textContent); const depth = document.querySelectorAll('#depth-chart polyline').length; const step = document.querySelector('#feed li.perp-liquidation'); return rows.length === 2 && rows.every((m) => m !== '–') && depth > 0 && step ? step.textContent : null;",
        "args": []
    });
    let deadline = Instant::now() + Duration::from_secs(120);
    let step = loop {
        let found = d
            .call(reqwest::Method::POST, "/execute/sync", Some(perps.clone()))
            .await;
        if let Some(text) = found["value"].as_str() {
            break text.to_owned();
        }
        assert!(
            Instant::now() < deadline,
            "perp panels not filled or no perp liquidation step in the feed after 120 s"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert!(
        step.contains("USD sold to the book") || step.contains("backstop"),
        "{step}"
    );

    let shot = d.call(reqwest::Method::GET, "/screenshot", None).await;
    let png = base64::engine::general_purpose::STANDARD
        .decode(shot["value"].as_str().unwrap())
        .unwrap();
    assert!(png.starts_with(b"\x89PNG"));
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("dashboard.png");
    std::fs::write(&out, &png).unwrap();
    eprintln!("screenshot: {}", out.display());
    d.call(reqwest::Method::DELETE, "", None).await;
    let _ = std::fs::remove_dir_all(&data);
}
