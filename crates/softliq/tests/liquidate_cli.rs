//! `softliq liquidate` run as a user would, on the bundled example after a price drop.

use std::path::Path;
use std::process::{Command, Output};

fn softliq(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_softliq"))
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."))
        .args(args)
        .output()
        .expect("run softliq")
}

fn json(args: &[&str]) -> serde_json::Value {
    let out = softliq(args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

const CRASH: &str = "examples/prices-crash.json";

#[test]
fn keeper_quote_under_soft() {
    // Debt value V = 25,000 USDT · 1.0001 + 1,000 LINK · 9.5 = 34,502.5; 20% = 6,900.5 USD,
    // repaid in USDT (the pair with the largest profit: 4% of 6,900.5 against WETH).
    let v = json(&["liquidate", "--prices", CRASH, "--json"]);
    assert_eq!(
        v["repaid"], "6899.810019",
        "6,900.5 / 1.0001 rounded up to 6 decimals"
    );
    assert_eq!(
        v["repaid_value"], "6900.5000000019",
        "6,899.810019 · 1.0001"
    );
    assert_eq!(
        (v["debt"].as_str(), v["collateral"].as_str()),
        (Some("USDT"), Some("WETH"))
    );
    assert_eq!(v["bound"], "policy cap");
    assert_eq!(v["penalty"], "5.00%");
}

/// `--set` changes the policy with a scenario's keys: a 10% cap repays 3,450.25 USD of USDT
/// (3,449.90501 tokens, rounded up to 6 decimals, at 1.0001).
#[test]
fn set_overrides_the_policy_as_a_scenario_would() {
    let v = json(&[
        "liquidate",
        "--prices",
        CRASH,
        "--set",
        "max_fraction=10%",
        "--json",
    ]);
    assert_eq!(v["repaid_value"], "3450.250000501", "{v}");
    assert_eq!(v["bound"], "policy cap");
}

/// A healthy account under `--json` is JSON too: no call, with its health factor.
#[test]
fn no_call_is_json_under_json() {
    let v = json(&["liquidate", "--json"]);
    assert_eq!(v["call"], serde_json::Value::Null);
    assert_eq!(v["policy"], "soft");
    assert_eq!(v["health_factor"], "1.307190440217018061");
}

#[test]
fn explicit_request_and_its_refusals() {
    let v = json(&[
        "liquidate",
        "--prices",
        CRASH,
        "--policy",
        "close_factor",
        "--debt",
        "USDT",
        "--collateral",
        "WETH",
        "--max-repay",
        "1000",
        "--json",
    ]);
    assert_eq!(
        (v["repaid"].as_str(), v["bound"].as_str()),
        (Some("1000"), Some("requested"))
    );
    for (args, expected) in [
        (
            vec!["--policy", "gentle"],
            "--policy \"gentle\": unknown policy",
        ),
        (
            vec!["--policy", "dutch"],
            "--policy \"dutch\": dutch runs auctions over time",
        ),
        (vec!["--set", "max_fractoin=10%"], "--set.max_fractoin"),
        (
            vec!["--debt", "USDC", "--collateral", "WETH"],
            "--debt: the account owes nothing in USDC",
        ),
        (
            vec![
                "--debt",
                "USDC",
                "--collateral",
                "WETH",
                "--max-repay",
                "10",
            ],
            "--debt: the account owes nothing in USDC",
        ),
        (vec!["--set", "max_fraction=150%"], "--set max_fraction"),
        (vec!["--set", "rule=dutch"], "dutch runs auctions over time"),
        (
            vec!["--debt", "DOGE", "--collateral", "WETH"],
            "--debt: unknown asset \"DOGE\"",
        ),
        (
            vec![
                "--debt",
                "USDT",
                "--collateral",
                "WETH",
                "--max-repay",
                "1.0000001",
            ],
            "--max-repay: more than 6 decimal places",
        ),
        (
            vec!["--debt", "USDT", "--collateral", "LINK"],
            "--collateral: the account holds no LINK as collateral",
        ),
    ] {
        let mut all = vec!["liquidate", "--prices", CRASH];
        all.extend(args);
        let out = softliq(&all);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains(expected), "expected {expected:?} in {err}");
    }
    // At the healthy example prices an explicit call is refused, and the keeper finds none.
    let out = softliq(&["liquidate", "--debt", "USDT", "--collateral", "WETH"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not liquidatable"));
    let out = softliq(&["liquidate"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("no call is open under soft"));
}

#[test]
fn until_healthy_and_compare() {
    let plan = json(&[
        "liquidate",
        "--prices",
        CRASH,
        "--policy",
        "two_stage",
        "--until-healthy",
        "--json",
    ]);
    assert_eq!(plan["outcome"], "healthy");
    assert!(
        plan["calls"].as_array().unwrap().len() > 1,
        "the buffer band takes several gentle calls"
    );
    let all = json(&["liquidate", "--prices", CRASH, "--compare", "--json"]);
    let rows = all.as_array().unwrap();
    let names: Vec<_> = rows.iter().map(|r| r["policy"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        ["full", "close_factor", "soft", "restore", "two_stage"]
    );
    let loss = |name: &str| -> f64 {
        rows.iter().find(|r| r["policy"] == name).unwrap()["borrower_loss"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap()
    };
    assert!(
        loss("soft") < loss("full") / 2.0,
        "soft {} vs full {}",
        loss("soft"),
        loss("full")
    );
    let extra: f64 = rows[2]["two_step_extra"].as_str().unwrap().parse().unwrap();
    assert!(
        extra > 0.0,
        "the two-step strategy gains against the soft cap"
    );
    assert!(
        rows[3]["two_step_extra"].is_null(),
        "not computed for restore"
    );
}

const AAVE: &str = "examples/markets-aave.toml";
const DEEP: &str = "examples/prices-deep-crash.json";

/// A market file with `profile = "aave_v3"` liquidates by Aave v3.6's rules by default. At
/// WETH 1,700 and WBTC 36,000 (HF 0.9289 ≤ 0.95: no close factor), the keeper's call takes all
/// 0.5 WBTC (18,000 USD) for the debt Aave needs: `⌊18,000 / 1.0001⌋` = 17,998.200179 USDT,
/// `percentDivCeil` by the 105% bonus = 17,141.143028 USDT; the protocol fee is 10% of the
/// bonus collateral, `0.5 − 0.5 / 1.05` = 0.0238095 → 0.00238095 WBTC.
#[test]
fn an_aave_v3_market_liquidates_by_aaves_rules() {
    let v = json(&["liquidate", "--markets", AAVE, "--prices", DEEP, "--json"]);
    assert_eq!(v["repaid"], "17141.143028", "{v}");
    assert_eq!(v["seized"], "0.5");
    assert_eq!(v["to_treasury"], "0.00238095");
    assert_eq!(v["bound"], "all collateral");
    // Leaving 50 LINK (475 USD) of debt is Aave's MustNotLeaveDust, not a shrunk call.
    let out = softliq(&[
        "liquidate",
        "--markets",
        AAVE,
        "--prices",
        DEEP,
        "--debt",
        "LINK",
        "--collateral",
        "WETH",
        "--max-repay",
        "950",
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("reverts this call with MustNotLeaveDust"),
        "{err}"
    );
    // softliq's example market has a borrow weight Aave cannot express: named, refused.
    let out = softliq(&["liquidate", "--prices", DEEP, "--policy", "aave_v3"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--policy aave_v3: borrow_weight: 1.2 (asset LINK)"),
        "{err}"
    );
}
