//! `softliq account` run as a user would: the real binary on the bundled examples and on
//! broken inputs.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn softliq(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_softliq"))
        .current_dir(root())
        .args(args)
        .output()
        .expect("run softliq")
}

fn account_with(account: &str, prices: &str) -> Output {
    let dir = std::env::temp_dir().join(format!(
        "softliq-cli-{}-{:x}",
        std::process::id(),
        fxhash(account, prices)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let (a, p) = (dir.join("account.json"), dir.join("prices.json"));
    std::fs::write(&a, account).unwrap();
    std::fs::write(&p, prices).unwrap();
    softliq(&[
        "account",
        "--markets",
        "examples/markets.toml",
        "--account",
        a.to_str().unwrap(),
        "--prices",
        p.to_str().unwrap(),
    ])
}

fn fxhash(a: &str, b: &str) -> u64 {
    a.bytes()
        .chain(b.bytes())
        .fold(0xcbf2_9ce4_8422_2325, |h, c| {
            (h ^ u64::from(c)).wrapping_mul(0x100_0000_01b3)
        })
}

const PRICES: &str = r#"{"timestamp": 1, "prices": {"WETH": "2000", "USDC": "1"}}"#;

#[test]
fn table_on_the_bundled_example() {
    let out = softliq(&[
        "account",
        "--markets",
        "examples/markets.toml",
        "--account",
        "examples/account.json",
        "--prices",
        "examples/prices.json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    // C = 4,250 + 22,275 + 21,060 = 47,585; D = 25,002.5 + 1,000 · 9.5 · 1.2 = 36,402.5.
    assert!(
        text.contains("liquidation collateral C          47,585.00 USD"),
        "{text}"
    );
    assert!(
        text.contains("weighted debt D                   36,402.50 USD"),
        "{text}"
    );
    assert!(
        text.contains("1.3071"),
        "HF 47,585 / 36,402.5 = 1.30719..: {text}"
    );
    assert!(text.contains("healthy"));
    // WETH falls to (36,402.5 − (47,585 − 22,275)) / (10 · 0.825) = 1,344.5454..
    assert!(text.contains("WETH   falls to     1,344.5454"), "{text}");
}

#[test]
fn json_has_exact_figures() {
    let out = softliq(&["account", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["owner"], "alice");
    assert_eq!(v["liquidation_collateral"], "47585");
    assert_eq!(v["weighted_debt"], "36402.5");
    assert_eq!(v["health_factor"], "1.307190440217018061"); // 47,585 / 36,402.5, down
    assert_eq!(v["liquidatable"], false);
    assert_eq!(v["positions"].as_array().unwrap().len(), 5);
    let weth = v["liquidation_prices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["asset"] == "WETH")
        .unwrap();
    assert_eq!(weth["price"], "1344.545454545454545454");
    assert_eq!(weth["direction"], "falls");
}

#[test]
fn two_asset_account_at_hf_one_and_its_pair_price() {
    // 1 WETH at 2,000 (lt 0.825) against 1,650 USDC: HF exactly 1, liquidatable.
    let out = account_with(
        r#"{"owner":"bob","supply":{"WETH":"1"},"debt":{"USDC":"1650"}}"#,
        PRICES,
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(out.status.success());
    assert!(text.contains("LIQUIDATABLE"), "{text}");
    assert!(text.contains("WETH/USDC falls to 2,000.000000"), "{text}");
}

#[test]
fn no_debt_means_infinite_health() {
    let out = account_with(r#"{"owner":"carol","supply":{"WETH":"1"}}"#, PRICES);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("infinite") && text.contains("none: no single price move"),
        "{text}"
    );
}

#[test]
fn bad_inputs_exit_2_naming_file_and_field() {
    let cases = [
        (
            r#"{"owner":"x","supply":{"DOGE":"1"}}"#,
            PRICES,
            "account.json: supply.DOGE: unknown asset",
        ),
        (
            r#"{"owner":"x","debt":{"USDC":"1.0000001"}}"#,
            PRICES,
            "account.json: debt.USDC: more than 6 decimal places",
        ),
        (
            r#"{"owner":"x","debt":{"USDC":"abc"}}"#,
            PRICES,
            "account.json: debt.USDC: not a plain decimal",
        ),
        (r#"{"owner":"x""#, PRICES, "account.json: "),
        (
            r#"{"owner":"x","supply":{"WBTC":"1"}}"#,
            PRICES,
            "prices.json: prices.WBTC: missing",
        ),
        (
            r#"{"owner":"x"}"#,
            r#"{"timestamp":1,"prices":{"WETH":"0"}}"#,
            "prices.json: prices.WETH: must be greater than zero",
        ),
        (
            r#"{"owner":"x"}"#,
            r#"{"timestamp":1,"prices":{"WETH":"-1"}}"#,
            "prices.json: prices.WETH: negative",
        ),
    ];
    for (account, prices, expected) in cases {
        let out = account_with(account, prices);
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(out.status.code(), Some(2), "{account} {prices}: {err}");
        assert!(err.contains(expected), "expected {expected:?} in {err:?}");
        assert!(out.stdout.is_empty());
    }
    let out = softliq(&["account", "--markets", "does/not/exist.toml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("does/not/exist.toml: cannot read"));
}

/// Under `profile = "aave_v3"` the report adds Aave v3.6's account data: totals in 8-decimal
/// base currency and Aave's HF, `Σ value · lt_bps / debt / 10^4` = (5,000 · 7,800 + 17,000 ·
/// 8,300 + 18,000 · 7,800) / 34,502.5 / 10^4 = 0.928918194333743931 (round figures: no
/// rounding differs from softliq's exact sums here). softliq's own market file has none.
#[test]
fn an_aave_v3_market_reports_aaves_account_data() {
    let args = |markets| {
        softliq(&[
            "account",
            "--markets",
            markets,
            "--prices",
            "examples/prices-deep-crash.json",
            "--json",
        ])
    };
    let out = args("examples/markets-aave.toml");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let aave = &v["aave_v3"];
    assert_eq!(aave["total_collateral_usd"], "40000", "{v}");
    assert_eq!(aave["total_debt_usd"], "34502.5");
    assert_eq!(aave["health_factor"], "0.928918194333743931");
    assert_eq!(aave["liquidatable"], true);
    let plain: serde_json::Value =
        serde_json::from_slice(&args("examples/markets.toml").stdout).unwrap();
    assert!(plain.get("aave_v3").is_none(), "{plain}");
}
