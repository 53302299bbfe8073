//! `deploy/` stays true to the binary: every metric the Grafana dashboard and the alert rules
//! query exists in a running server's `/metrics` (with the in-process keeper, whose counters
//! are among them) or in `softliq keeper --metrics-listen`, the histogram buckets they name are
//! real bucket bounds, and the systemd units pass only flags the commands take.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::Guard;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `softliq serve --demo`, small (lending and perp markets, the in-process keeper).
fn serve(data: &Path) -> common::Served {
    let args = [
        "--demo",
        "--demo-borrowers",
        "100",
        "--demo-perp-traders",
        "20",
        "--data",
    ];
    common::serve(
        args.iter().map(OsStr::new).chain([data.as_os_str()]),
        &[],
        1,
    )
}

/// Metric names by `# TYPE` (classic text format: counters named by their `_total` sample),
/// and every sample line's name with its labels.
fn exposition(text: &str) -> (BTreeMap<String, String>, BTreeSet<String>) {
    let mut types = BTreeMap::new();
    let mut samples = BTreeSet::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            types.insert(name.to_owned(), kind.to_owned());
        } else if !line.starts_with('#') && !line.is_empty() {
            samples.insert(line.rsplit_once(' ').unwrap().0.to_owned());
        }
    }
    (types, samples)
}

/// Whether `name` as a query writes it is exposed: itself, or a histogram's series.
fn exists(types: &BTreeMap<String, String>, name: &str) -> bool {
    types.contains_key(name)
        || ["_bucket", "_sum", "_count"].iter().any(|suffix| {
            name.strip_suffix(suffix)
                .is_some_and(|base| types.get(base).is_some_and(|k| k == "histogram"))
        })
}

/// Every `softliq_…` identifier in `expr`.
fn metric_names(expr: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = expr;
    while let Some(i) = rest.find("softliq_") {
        let tail = &rest[i..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        out.push(tail[..end].to_owned());
        rest = &tail[end..];
    }
    out
}

/// The queries of the dashboard (every panel's targets) and of the alert rules (`expr:`).
fn queries() -> Vec<(String, String)> {
    let dash: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("deploy/grafana/softliq-dashboard.json")).unwrap(),
    )
    .expect("the dashboard is JSON");
    let mut out = Vec::new();
    let mut ids = BTreeSet::new();
    for panel in dash["panels"].as_array().expect("panels") {
        let title = panel["title"].as_str().expect("title").to_owned();
        assert!(
            ids.insert(panel["id"].as_u64().expect("id")),
            "{title}: id reused"
        );
        let targets = panel["targets"].as_array().expect("targets");
        assert!(!targets.is_empty(), "{title}: no query");
        for t in targets {
            out.push((title.clone(), t["expr"].as_str().expect("expr").to_owned()));
        }
    }
    let rules =
        std::fs::read_to_string(root().join("deploy/prometheus/softliq-alerts.yml")).unwrap();
    let mut alert = String::new();
    for line in rules.lines().map(str::trim) {
        if let Some(name) = line.strip_prefix("- alert: ") {
            alert = name.to_owned();
        } else if let Some(expr) = line.strip_prefix("expr: ") {
            assert!(!alert.is_empty(), "expr before any alert: {expr}");
            out.push((alert.clone(), expr.to_owned()));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboards_and_alerts_query_metrics_that_exist() {
    let dir = tempfile::tempdir().unwrap();
    let served = serve(&dir.path().join("data"));
    let url = &served.url;
    // Wait for the demo's perp markets (listed after its lending markets and borrowers).
    for _ in 0..300 {
        let perps: serde_json::Value = reqwest::get(format!("{url}/v1/perps"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if perps["markets"].as_array().is_some_and(|m| !m.is_empty()) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    // One refusal, so that the refusals-by-code series exists.
    let refused = reqwest::Client::new()
        .post(format!("{url}/v1/prices"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    let text = reqwest::get(format!("{url}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let (types, samples) = exposition(&text);
    let queries = queries();
    assert!(queries.len() >= 20, "{} queries", queries.len());
    let mut named = BTreeSet::new();
    for (source, expr) in &queries {
        let names = metric_names(expr);
        assert!(
            !names.is_empty(),
            "{source}: queries no softliq metric: {expr}"
        );
        for name in names {
            assert!(
                exists(&types, &name),
                "{source}: {name} is not exposed\n{text}"
            );
            named.insert(name);
        }
        // A bucket bound a query names must be one the histogram has.
        for (i, _) in expr.match_indices("le=\"") {
            let bound = expr[i + 4..].split('"').next().unwrap();
            let series = format!("softliq_account_health_factor_bucket{{le=\"{bound}\"}}");
            assert!(samples.contains(&series), "{source}: no bucket le={bound}");
        }
    }
    // The alerts the issue asks for are there: HF buckets, bad debt, breakers, keeper failures.
    for needed in [
        "softliq_account_health_factor_bucket",
        "softliq_bad_debt_events_total",
        "softliq_perp_bad_debt_usd",
        "softliq_breaker_trips_total",
        "softliq_breaker_open",
        "softliq_keeper_failures_total",
    ] {
        assert!(named.contains(needed), "nothing queries {needed}");
    }
}

/// `--flags` of the `ExecStart` line of a unit file, with the subcommand.
fn exec_flags(unit: &str) -> (String, Vec<String>) {
    let text = std::fs::read_to_string(root().join("deploy/systemd").join(unit)).unwrap();
    let exec = text
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .expect("ExecStart");
    let mut words = exec.split_whitespace().skip(1);
    let sub = words.next().expect("subcommand").to_owned();
    (
        sub,
        words
            .filter(|w| w.starts_with("--"))
            .map(str::to_owned)
            .collect(),
    )
}

#[test]
fn systemd_units_pass_flags_the_commands_take() {
    for unit in ["softliq.service", "softliq-keeper.service"] {
        let (sub, flags) = exec_flags(unit);
        let help = Command::new(env!("CARGO_BIN_EXE_softliq"))
            .args([sub.as_str(), "--help"])
            .output()
            .unwrap();
        let help = String::from_utf8(help.stdout).unwrap();
        assert!(!flags.is_empty(), "{unit}");
        for flag in flags {
            let taken = help.lines().any(|l| {
                l.trim_start()
                    .strip_prefix(flag.as_str())
                    .is_some_and(|rest| {
                        !rest.starts_with(|c: char| c.is_alphanumeric() || c == '-')
                    })
            });
            assert!(taken, "{unit}: softliq {sub} has no {flag}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_standalone_keeper_exposes_the_same_counters() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let token = "deploy-test-liquidator-token";
    let liquidator = format!("liquidator:bot:{token}");
    let data = dir.path().join("data");
    let served = common::serve(
        [OsStr::new("--data"), data.as_os_str()],
        &[("SOFTLIQ_TOKENS", &liquidator)],
        1,
    );
    let url = &served.url;
    let _keeper = Guard(
        Command::new(env!("CARGO_BIN_EXE_softliq"))
            .args(["keeper", "--url", url, "--token", token])
            .args(["--metrics-listen", &format!("127.0.0.1:{port}")])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut text = String::new();
    for _ in 0..100 {
        if let Ok(r) = reqwest::get(format!("http://127.0.0.1:{port}/metrics")).await {
            text = r.text().await.unwrap();
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let (types, _) = exposition(&text);
    let keeper_names: BTreeSet<String> = queries()
        .iter()
        .flat_map(|(_, e)| metric_names(e))
        .filter(|n| n.starts_with("softliq_keeper_"))
        .collect();
    assert!(!keeper_names.is_empty());
    for name in keeper_names {
        assert!(
            exists(&types, &name),
            "{name} missing from the keeper's /metrics:\n{text}"
        );
    }
}
