//! What `softliq serve` and `softliq keeper` say when started wrongly: each message names the
//! input and the form expected, the process exits non-zero, and nothing is left behind.

mod common;

use std::process::Command;

use common::softliq;

fn fails_saying(cmd: &mut Command, needles: &[&str]) {
    let out = cmd.output().expect("runs");
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "exit 0: {said}");
    for n in needles {
        assert!(said.contains(n), "lacks {n:?}: {said}");
    }
}

#[test]
fn a_port_in_use_is_named_and_creates_no_data_directory() {
    let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = held.local_addr().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    fails_saying(
        softliq()
            .args(["serve", "--listen", &addr, "--data"])
            .arg(&data),
        &["address is in use", "--listen"],
    );
    assert!(!data.exists(), "the data directory was created");
}

#[test]
fn a_host_name_listens_and_a_missing_port_is_explained() {
    fails_saying(
        softliq().args(["serve", "--listen", "localhost"]),
        &["has no port", "localhost:8080"],
    );
    // A name resolves: `localhost:0` gets as far as the data directory (unwritable here).
    fails_saying(
        softliq().args([
            "serve",
            "--listen",
            "localhost:0",
            "--data",
            "/proc/softliq-none",
        ]),
        &["/proc/softliq-none"],
    );
}

#[test]
fn a_keeper_url_without_a_scheme_shows_the_form_expected() {
    fails_saying(
        softliq().args(["keeper", "--url", "127.0.0.1:8080", "--token", "t"]),
        &["--url", "http://127.0.0.1:8080"],
    );
}

/// `serve` on `data` with `extra` arguments: the process, its URL, and what `--markets` said.
fn serve_lines(data: &std::path::Path, extra: &[&str]) -> common::Served {
    let args = [data.as_os_str()]
        .into_iter()
        .chain(extra.iter().map(std::ffi::OsStr::new));
    common::serve(
        std::iter::once(std::ffi::OsStr::new("--data")).chain(args),
        &[],
        2,
    )
}

#[tokio::test]
async fn serve_starts_on_a_markets_file_and_applies_its_changes_on_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let file = dir.path().join("markets.toml");
    let example = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/markets.toml"
    ))
    .unwrap();
    std::fs::write(&file, &example).unwrap();
    let file_arg = file.to_str().unwrap();
    let markets = |url: String| async move {
        let v: serde_json::Value = reqwest::get(format!("{url}/v1/markets"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        v["markets"].as_array().unwrap().clone()
    };

    let served = serve_lines(&data, &["--markets", file_arg]);
    assert!(
        served.lines[1].contains("listed USDC, USDT, "),
        "{:?}",
        served.lines
    );
    let listed = markets(served.url.clone()).await;
    let count = example.matches("[[assets]]").count();
    assert_eq!(listed.len(), count);
    assert_eq!(listed[0]["symbol"], "USDC");
    drop(served);

    // The same file again changes nothing; an edited threshold is applied to the listed asset.
    let served = serve_lines(&data, &["--markets", file_arg]);
    assert!(
        served.lines[1].contains("listed none; updated none"),
        "{:?}",
        served.lines
    );
    drop(served);
    let edited = example.replacen(
        "liquidation_threshold = \"85%\"",
        "liquidation_threshold = \"86%\"",
        1,
    );
    assert_ne!(
        edited, example,
        "the example's first threshold moved; update this test"
    );
    std::fs::write(&file, edited).unwrap();
    let served = serve_lines(&data, &["--markets", file_arg]);
    assert!(
        served.lines[1].contains("listed none; updated USDC;"),
        "{:?}",
        served.lines
    );
    let listed = markets(served.url.clone()).await;
    assert_eq!(listed[0]["liquidation_threshold"], "0.86");
    drop(served);

    // A bad file is refused with its line before anything starts.
    std::fs::write(&file, "[[assets]]\nsymbol = \"X\"\ndecimals = \"six\"\n").unwrap();
    fails_saying(
        softliq()
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--markets",
                file_arg,
                "--data",
            ])
            .arg(dir.path().join("other")),
        &["markets.toml", "line 3"],
    );
    assert!(!dir.path().join("other").exists());
}

/// A file with `profile = "aave_v3"` sets the market's policy to `aave_v3` before listing its
/// assets: the engine checks each listing against the policy in force and lists it under the
/// profile's rules.
#[tokio::test]
async fn serve_on_an_aave_v3_file_sets_its_policy_first() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let file = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/markets-aave.toml"
    );
    let served = serve_lines(&data, &["--markets", file]);
    assert!(
        served.lines[1]
            .contains("policy set to aave_v3 by the file's profile; listed USDC, USDT, "),
        "{:?}",
        served.lines
    );
    let v: serde_json::Value = reqwest::get(format!("{}/v1/markets", served.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["policy"], "aave_v3", "{v}");
    assert_eq!(v["markets"].as_array().unwrap().len(), 6);
}

#[test]
fn token_prints_a_fresh_token_or_a_tokens_file_entry() {
    let run = |args: &[&str]| softliq().arg("token").args(args).output().unwrap();
    let a = String::from_utf8(run(&[]).stdout).unwrap();
    let b = String::from_utf8(run(&[]).stdout).unwrap();
    let a = a.trim();
    assert_eq!(a.len(), 32, "{a}");
    assert!(a.bytes().all(|c| c.is_ascii_hexdigit()), "{a}");
    assert_ne!(a, b.trim(), "two tokens alike");
    // An entry the server reads as a tokens file.
    let entry = run(&["--role", "liquidator", "--subject", "bot"]);
    let text = String::from_utf8(entry.stdout).unwrap();
    let parsed: toml::Value = toml::from_str(&text).unwrap();
    let t = &parsed["tokens"][0];
    assert_eq!(
        (t["role"].as_str(), t["subject"].as_str()),
        (Some("liquidator"), Some("bot"))
    );
    fails_saying(
        softliq().args(["token", "--role", "root", "--subject", "x"]),
        &["--role", "admin, oracle, account, liquidator or maker"],
    );
    fails_saying(
        softliq().args(["token", "--role", "admin", "--subject", "softliq:keeper"]),
        &["--subject", "reserved"],
    );
}
