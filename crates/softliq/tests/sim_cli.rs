//! `softliq sim` and `softliq sim fit` from the command line.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn softliq(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_softliq"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("softliq runs")
}

#[test]
fn sim_writes_the_report_files() {
    let out = std::env::temp_dir().join(format!("softliq-sim-cli-{}", std::process::id()));
    let out_arg = out.display().to_string();
    let run = softliq(&[
        "sim",
        "scenarios/crash-2024-08-05.toml",
        "--seeds",
        "2",
        "--set",
        "population.borrowers=400",
        "--out",
        &out_arg,
    ]);
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(
        stdout.contains("20 runs (1 points × 2 seeds × 10 mechanisms)"),
        "{stdout}"
    );
    for m in [
        "full",
        "close_factor",
        "soft",
        "restore",
        "two_stage",
        "dutch",
        "soft_ramp",
        "restore_ramp",
        "two_stage_ramp",
    ] {
        assert!(stdout.lines().any(|l| l.starts_with(m)), "{m} in {stdout}");
    }
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).expect("summary"))
            .expect("json");
    assert_eq!(summary["scenario"], "crash-2024-08-05");
    assert_eq!(summary["borrowers"], 400);
    assert_eq!(summary["audit"], false);
    let bins = summary["start_hf_histogram"].as_array().expect("histogram");
    let counted: u64 = bins.iter().map(|b| b[1].as_u64().expect("count")).sum();
    assert_eq!(counted, 400, "every borrower in one bin");
    // Every mechanism against full, recomputed here from the statistics.
    let mean = |m: &str, metric: &str| -> f64 {
        let mech = summary["points"][0]["mechanisms"]
            .as_array()
            .expect("mechanisms")
            .iter()
            .find(|x| x["mechanism"] == m)
            .expect("mechanism");
        mech["metrics"]
            .as_array()
            .expect("metrics")
            .iter()
            .find(|pair| pair[0] == metric)
            .expect("metric")[1]["mean"]
            .as_f64()
            .expect("mean")
    };
    let versus = summary["against_full"].as_array().expect("against_full");
    assert_eq!(versus.len(), 9);
    for v in versus {
        let m = v["mechanism"].as_str().expect("name");
        let share = mean(m, "borrower_loss_usd") / mean("full", "borrower_loss_usd");
        let per_dollar = mean(m, "borrower_loss_usd") / mean(m, "liquidated_volume_usd");
        assert!(
            (v["loss_share_of_full"].as_f64().unwrap() - share).abs() < 1e-12,
            "{v}"
        );
        assert!(
            (v["loss_per_liquidated_dollar"].as_f64().unwrap() - per_dollar).abs() < 1e-12,
            "{v}"
        );
        assert_eq!(v["meets_loss"], share <= 0.25, "{v}");
        // The saving's parts add up to full's loss less this one's.
        let saving = &v["saving"];
        let part = |k: &str| saving[k].as_f64().expect("part");
        let total = mean("full", "borrower_loss_usd") - mean(m, "borrower_loss_usd");
        assert!(
            (part("total_usd") - total).abs() < 1e-6 * total.abs().max(1.0),
            "{v}"
        );
        let sum = part("cheaper_per_dollar_usd")
            + part("bad_debt_left_usd")
            + part("top_ups_usd")
            + part("less_liquidated_usd");
        assert!((sum - total).abs() < 1e-6 * total.abs().max(1.0), "{v}");
        assert_eq!(v["meets_loss_per_dollar"], per_dollar <= 0.015, "{v}");
        assert_eq!(
            v["meets_bad_debt"],
            mean(m, "bad_debt_usd") <= mean("full", "bad_debt_usd"),
            "{v}"
        );
    }
    // The crash runs calibrated, and the summary checks full's liquidated share against the
    // range reported for it.
    assert_eq!(summary["preset"], "calibrated");
    let calibration = &summary["calibration"];
    let share = mean("full", "liquidated_share_of_debt");
    assert_eq!(calibration["full_liquidated_share"].as_f64(), Some(share));
    let (lo, hi) = (
        calibration["liquidated_share_min"].as_f64().expect("min"),
        calibration["liquidated_share_max"].as_f64().expect("max"),
    );
    assert_eq!((lo, hi), (0.015, 0.04));
    assert_eq!(calibration["within"], (lo..=hi).contains(&share));
    let csv = std::fs::read_to_string(out.join("runs.csv")).expect("runs.csv");
    assert_eq!(csv.lines().count(), 1 + 20);
    let html = std::fs::read_to_string(out.join("report.html")).expect("report");
    assert!(
        html.contains("<svg") && !html.contains("<script"),
        "self-contained, no scripts"
    );
    assert!(html.contains("Against full liquidation"));
    assert!(html.contains("Where the saving comes from") && html.contains("Per-borrower losses"));
    assert!(html.contains("preset <b>calibrated</b>") && html.contains("Calibration: lending"));
    // A price chart for each collateral asset of the population (WETH and WBTC).
    assert!(html.contains("WETH price (USD)") && html.contains("WBTC price (USD)"));
    let _ = std::fs::remove_dir_all(&out);
}

/// A sweep prints one table per grid point, each under its label, with every mechanism.
#[test]
fn a_sweep_labels_every_grid_point() {
    let out = std::env::temp_dir().join(format!("softliq-sim-sweep-{}", std::process::id()));
    let out_arg = out.display().to_string();
    let run = softliq(&[
        "sim",
        "scenarios/sweep-soft.toml",
        "--seeds",
        "1",
        "--audit",
        "--set",
        "population.borrowers=100",
        "--out",
        &out_arg,
    ]);
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "{stdout}");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).expect("summary"))
            .expect("json");
    assert_eq!(summary["audit"], true);
    let points = summary["points"].as_array().expect("points");
    assert_eq!(points.len(), 12);
    for p in points {
        let label = p["label"].as_str().expect("label");
        assert!(stdout.contains(&format!("{label}:")), "{label} in {stdout}");
    }
    assert_eq!(stdout.matches("\nsoft ").count(), 12, "{stdout}");
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn sim_refuses_a_bad_override_naming_it() {
    let run = softliq(&[
        "sim",
        "scenarios/crash-2024-08-05.toml",
        "--set",
        "population.borrowers=0",
    ]);
    assert_eq!(run.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(stderr.contains("population.borrowers"), "{stderr}");
}

#[test]
fn fit_prints_a_prices_table() {
    let run = softliq(&[
        "sim",
        "fit",
        "--series",
        "WETH=data/prices/eth_usdt_1h_binance_spot_2020_2025.csv",
        "--series",
        "WBTC=data/prices/btc_usdt_1h_binance_spot_2020_2025.csv",
        "--from-s",
        "1640995200",
        "--to-s",
        "1672531200",
    ]);
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let table: toml::Table = stdout.parse().expect("the output is TOML");
    let prices = table["prices"].as_table().expect("[prices]");
    assert_eq!(prices["process"].as_str(), Some("gbm"));
    let vol: Vec<f64> = prices["volatility"]
        .as_array()
        .expect("volatility")
        .iter()
        .map(|v| v.as_float().expect("float"))
        .collect();
    // 2022's realised volatility: ETH around 75-80% a year, BTC around 60-65%.
    assert!(
        (0.6..1.0).contains(&vol[0]) && (0.45..0.8).contains(&vol[1]),
        "{vol:?}"
    );
    let rho = prices["correlation"][0][1].as_float().expect("rho");
    assert!((0.75..0.95).contains(&rho), "{rho}");
    assert!(stdout.contains("garch_beta"));
}
