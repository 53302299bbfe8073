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
        step.contains("sold to the book") || step.contains("backstop"),
        "{step}"
    );

    // The risk manager's panels, at a desktop width and at a phone's.
    for (width, height, name) in [
        (1400, 1000, "dashboard.png"),
        (390, 844, "dashboard-390.png"),
    ] {
        d.call(
            reqwest::Method::POST,
            "/window/rect",
            Some(json!({"width": width, "height": height})),
        )
        .await;
        check_panels(&d, &url).await;
        let shot = d.call(reqwest::Method::GET, "/screenshot", None).await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(shot["value"].as_str().unwrap())
            .unwrap();
        assert!(png.starts_with(b"\x89PNG"));
        let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
        std::fs::write(&out, &png).unwrap();
        eprintln!("screenshot ({width} px): {}", out.display());
    }
    d.call(reqwest::Method::DELETE, "", None).await;
    let _ = std::fs::remove_dir_all(&data);
}

/// Runs `script` until it returns something other than `null`, for up to 60 s.
async fn until(d: &Driver, script: &str, what: &str) -> Value {
    let body = json!({"script": script, "args": []});
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let found = d
            .call(reqwest::Method::POST, "/execute/sync", Some(body.clone()))
            .await;
        if !found["value"].is_null() {
            return found["value"].clone();
        }
        assert!(Instant::now() < deadline, "{what} after 60 s");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// The panels of issue 22 (11-14) hold what a risk manager needs, by content: totals in USD,
/// USD beside token amounts, the price-drop table, the insolvent accounts kept apart from the
/// at-risk list, the history charts, a liquidation counter from the server, feed times in
/// engine time, no contradictory liquidation prices, an account drill-down, and nothing wider
/// than the window.
async fn check_panels(d: &Driver, url: &str) {
    let panels = until(
        d,
        r##"const text = (id) => document.getElementById(id)?.textContent ?? "";
        const cards = ["total-collateral", "total-debt", "total-liquidatable", "total-near", "total-shortfall", "total-bad-debt"];
        if (!cards.every((c) => /\$[0-9]/.test(text(c)))) return null;
        const drops = [...document.querySelectorAll("#drops tbody tr")];
        const markets = document.querySelectorAll("#markets tbody tr").length;
        if (markets === 0 || drops.length !== markets) return null;
        if (document.querySelectorAll("#liq-chart rect").length === 0) return null;
        if (!/[1-9]/.test(text("liq-count"))) return null;
        const feedTime = document.querySelector("#feed li .t")?.textContent;
        if (!feedTime) return null;
        return {
          usdBeside: document.querySelectorAll("#markets tbody .usd").length,
          params: [...document.querySelectorAll("#params tbody tr")].map((r) => r.cells.length),
          dropsCells: drops.map((r) => r.cells.length),
          liqCount: text("liq-count"),
          feedTime, now: text("now"),
          atRisk: [...document.querySelectorAll("#at-risk tbody tr")].map((r) => [r.cells[5].textContent, r.cells[6].textContent]),
          firstAccount: document.querySelector("#at-risk tbody a")?.textContent ?? null,
          insolventPanel: !!document.getElementById("insolvent"),
          overflow: document.documentElement.scrollWidth - window.innerWidth,
          width: window.innerWidth,
        };"##,
        "the totals, price-drop table, history chart and feed did not fill",
    )
    .await;
    assert!(
        panels["overflow"].as_i64().unwrap() <= 0,
        "wider than the window: {panels}"
    );
    assert!(panels["usdBeside"].as_u64().unwrap() > 0, "{panels}");
    assert!(
        panels["params"].as_array().unwrap().iter().all(|n| n == 7),
        "{panels}"
    );
    assert!(
        panels["dropsCells"]
            .as_array()
            .unwrap()
            .iter()
            .all(|n| n == 5),
        "{panels}"
    );
    assert!(panels["insolventPanel"].as_bool().unwrap());
    // Engine time in the feed, written as the header's clock is (`YYYY-MM-DD HH:MM` plus
    // seconds), not the browser's wall-clock time of arrival. (The demo's clock runs hours
    // per second, so the two are compared by form, not by value.)
    let feed_time = panels["feedTime"].as_str().unwrap();
    let now = panels["now"].as_str().unwrap();
    let form = |t: &str| {
        t.bytes()
            .map(|b| if b.is_ascii_digit() { b'9' } else { b })
            .collect::<Vec<u8>>()
    };
    assert_eq!(form(feed_time), b"9999-99-99 99:99:99", "{feed_time}");
    assert_eq!(form(now), b"9999-99-99 99:99", "{now}");
    // A liquidation price ahead of the price: a fall below it (negative distance), a rise
    // above (positive); liquidatable accounts say so instead.
    for pair in panels["atRisk"].as_array().unwrap() {
        let (what, distance) = (pair[0].as_str().unwrap(), pair[1].as_str().unwrap());
        if what.contains(" falls to ") {
            assert!(distance.starts_with('-'), "{what} {distance}");
        } else if what.contains(" rises to ") {
            assert!(!distance.starts_with('-'), "{what} {distance}");
        } else {
            assert!(what == "liquidatable now" || what == "–", "{what}");
        }
    }
    // The counter is the server's, not the page's since it loaded.
    let counted: u64 = panels["liqCount"]
        .as_str()
        .unwrap()
        .trim_end_matches("+ (counting the log)")
        .replace(',', "")
        .parse()
        .unwrap();
    let activity: Value = reqwest::get(format!("{url}/v1/activity?spans=1"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let served = activity["totals"]["liquidations"].as_u64().unwrap();
    assert!(
        counted > 0 && counted <= served,
        "page {counted}, server {served}: {activity}"
    );
    // Drill-down into the first at-risk account. The board refreshes on an interval, so the
    // account it lists first may have been liquidated to nothing since: each try reads the
    // list afresh and opens its first account.
    assert!(panels["firstAccount"].is_string(), "no at-risk account");
    let open = r##"const link = document.querySelector("#at-risk tbody a");
        if (!link) return null;
        const account = link.textContent.replace("#", "");
        if (location.hash !== "#account/" + account) { location.hash = "account/" + account; return null; }
        const v = document.getElementById("account-view");
        const rows = document.querySelectorAll("#account-positions tbody tr").length;
        return v.classList.contains("open") && rows > 0 && document.getElementById("account-title").textContent === "#" + account
          && /\$[0-9]/.test(document.getElementById("account-debt").textContent) ? rows : null;"##;
    until(d, open, "the account drill-down did not open").await;
    let closed = r##"location.hash = ""; return document.getElementById("account-view").classList.contains("open") ? null : true;"##;
    until(d, closed, "the drill-down did not close").await;
}
