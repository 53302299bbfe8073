//! Scenario files: every refusal names the field and the bound, and changes in `extends`,
//! overrides and sweeps land where they say.

use std::path::{Path, PathBuf};

use softliq_sim::batch::{Options, Progress, run_batch};
use softliq_sim::scenario;

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios")
}

/// Writes `text` as a scenario next to the bundled ones (so `extends = "base.toml"` works)
/// under a unique name, loads it, and removes it.
fn load_text(name: &str, text: &str) -> Result<scenario::Loaded, softliq_sim::SimError> {
    let file = std::env::temp_dir().join(format!(
        "softliq-scenario-{}-{name}.toml",
        std::process::id()
    ));
    let text = text.replace("BASE", &dir().join("base.toml").display().to_string());
    std::fs::write(&file, text).expect("write");
    let loaded = scenario::load(&file);
    let _ = std::fs::remove_file(&file);
    loaded
}

const WINDOW: &str = r#"
extends = "BASE"
name = "t"
[prices]
model = "window"
file = "DATA"
event = "2022-06-13"
series = { WETH = "eth_usdt", WBTC = "btc_usdt" }
"#;

fn window(extra: &str) -> String {
    let data = dir().join("../data/prices/crash_windows_1h_ohlc_binance.csv");
    format!(
        "{}{extra}",
        WINDOW.replace("DATA", &data.display().to_string())
    )
}

#[test]
fn refusals_name_the_field() {
    let cases = [
        ("[population]\nborrowers = 0", "population.borrowers"),
        (
            "[population]\ncollateral = { DOGE = 1.0 }",
            "population.collateral.DOGE",
        ),
        (
            "[population]\nstart_hf = { min = 0.5, median = 1.5, sigma = 0.5 }",
            "population.start_hf.min",
        ),
        ("[liquidators]\ncount = 0", "liquidators.count"),
        ("[depth]\nusd = { WETH = 0.5 }", "depth.usd.WETH"),
        (
            "[depth]\nreference_debt_usd = 0.5",
            "depth.reference_debt_usd",
        ),
        ("[depth]\nstress_factor = 0", "depth.stress_factor"),
        (
            "[depth]\nstress_recovery_half_life_steps = -1",
            "depth.stress_recovery_half_life_steps",
        ),
        (
            "[calibration]\nliquidated_share = { min = 0.2, max = 0.1 }",
            "calibration.liquidated_share.max",
        ),
        ("preset = \"none\"", "preset"),
        (
            "[depth]\nmodel = \"pool\"\nusd = { WETH = 1e6, WBTC = -1.0 }",
            "depth.usd.WBTC",
        ),
        (
            "[mechanism.soft]\nmax_fraction = \"150%\"",
            "mechanism.soft.max_fraction",
        ),
        (
            "[mechanism.soft]\ntarget_hf = \"1.1\"",
            "mechanism.soft.target_hf",
        ),
        (
            "[mechanism.two_stage]\nsoft_hf = \"1.5\"",
            "mechanism.two_stage.soft_hf",
        ),
        (
            "[markets]\ninsurance_share = 2.0",
            "markets.insurance_share",
        ),
        ("seeds = 0", "seeds"),
        ("[mechanism.dutch]\nchop = \"1.5\"", "mechanism.dutch.chop"),
        (
            "[mechanism.dutch]\ncurve = \"cubic\"",
            "mechanism.dutch.curve",
        ),
        // The default curve is the stairstep: no `tau_s`.
        ("[mechanism.dutch]\ntau_s = 600", "mechanism.dutch.tau_s"),
        ("[mechanism.dutch]\ntail_s = 1.5", "mechanism.dutch.tail_s"),
        (
            "[mechanism.dutch]\ncurve = \"linear\"\ntau_s = 0",
            "mechanism.dutch.tau_s",
        ),
        ("[mechanism.dutch]\nhole = 5", "mechanism.dutch.hole"),
    ];
    for (extra, field) in cases {
        let text = if extra.starts_with('[') {
            format!("{}\n{extra}\n", window(""))
        } else {
            format!("{extra}\n{}", window(""))
        };
        let e = load_text("refusal", &text).expect_err(extra);
        assert!(
            e.field.starts_with(field),
            "{extra}: got field {:?} ({e})",
            e.field
        );
    }
    let e = load_text(
        "unknown",
        &format!("mechanisms = [\"full\", \"magic\"]\n{}", window("")),
    )
    .expect_err("unknown");
    assert!(
        e.to_string().contains("mechanisms") || e.field.contains("mechanisms"),
        "{e}"
    );
    let e = load_text(
        "typo",
        &format!("{}\n[population]\nborowers = 5\n", window("")),
    )
    .expect_err("typo");
    assert!(e.field == "population.borowers", "{e}");
    let e = load_text("event", &window("").replace("2022-06-13", "1999-01-01"))
        .expect_err("no such event");
    assert!(
        e.to_string().contains("1999-01-01") || e.field.contains("series"),
        "{e}"
    );
}

#[test]
fn extends_and_overrides_land_where_they_say() {
    let loaded = scenario::load(&dir().join("crash-2020-03-12.toml")).expect("bundled");
    assert_eq!(
        loaded.scenario.population.borrowers, 5_000,
        "from base.toml"
    );
    assert_eq!(
        loaded.scenario.name, "crash-2020-03-12",
        "the extending file wins"
    );
    let set = |k: &str, v: toml::Value| vec![(k.to_owned(), v)];
    let changed = loaded
        .with(&set(
            "markets.assets.WETH.liquidation_penalty",
            toml::Value::String("7%".into()),
        ))
        .expect("valid");
    let weth = changed
        .markets
        .asset(changed.markets.id("WETH").expect("WETH"));
    assert_eq!(weth.params().liquidation_penalty.to_string(), "0.07");
    let e = loaded
        .with(&set(
            "markets.assets.DOGE.liquidation_penalty",
            toml::Value::String("7%".into()),
        ))
        .expect_err("no DOGE");
    assert!(e.problem.contains("DOGE"), "{e}");
    let e = loaded
        .with(&set(
            "markets.assets.*.liquidation_penalty",
            toml::Value::String("3%".into()),
        ))
        .expect_err("discount 4% > penalty 3%");
    assert!(
        e.field.contains("liquidation_discount") || e.field.contains("liquidation_penalty"),
        "{e}"
    );
}

/// The `dutch` overrides reach the policy: base.toml's `chop`, then a linear curve (the
/// `curve` key is read first whatever the table's order) and the caps.
#[test]
fn dutch_overrides_reach_the_policy() {
    use softliq_core::liquidation::auction::Curve;
    let text = window(
        "\n[mechanism.dutch]\ntau_s = 3600\ncurve = \"linear\"\nhole_total_usd = 250000\ntip_usd = \"2.5\"\n",
    );
    let loaded = load_text("dutch", &text).expect("valid");
    let m = scenario::mechanism("dutch", &loaded.scenario, &loaded.markets).expect("dutch");
    let d = m.policy.auction().expect("a dutch policy");
    assert_eq!(d.curve, Curve::Linear { tau_s: 3_600 });
    assert_eq!(d.chop.to_string(), "1.05", "from base.toml");
    assert_eq!(d.hole_total.to_string(), "250000");
    assert_eq!(d.tip.to_string(), "2.5");
    assert_eq!(d.tail_s, 8_400, "Maker's default");
}

#[test]
fn a_sweep_runs_every_valid_point_and_skips_the_rest() {
    let text = "mechanisms = [\"soft\"]\n".to_owned()
        + &window(
            "\n[population]\nborrowers = 300\n[sweep]\n\"mechanism.soft.max_fraction\" = [\"10%\", \"40%\"]\n\"markets.assets.*.liquidation_penalty\" = [\"2%\", \"6%\"]\n",
        );
    let loaded = load_text("sweep", &text).expect("valid");
    let b = run_batch(
        &loaded,
        Options {
            seeds: Some(1),
            audit: true,
        },
        &Progress::default(),
    )
    .expect("batch");
    assert_eq!(b.points.len(), 4);
    let skipped: Vec<_> = b.points.iter().filter(|p| p.skipped.is_some()).collect();
    // A 2% penalty is below the 4% discount: those points are refused, with the reason.
    assert_eq!(skipped.len(), 2, "{:?}", b.points);
    assert!(skipped.iter().all(|p| p.label.contains("2%")));
    assert!(
        skipped[0]
            .skipped
            .as_deref()
            .unwrap_or_default()
            .contains("liquidation_discount")
    );
    assert_eq!(b.runs.len(), 2);
    let summary = softliq_sim::report::Summary::of(&loaded, &b);
    assert!(
        summary
            .best
            .iter()
            .any(|best| best.metric == "borrower_loss_usd")
    );
    let out = std::env::temp_dir().join(format!("softliq-sweep-{}", std::process::id()));
    softliq_sim::report::write(&out, &loaded, &b).expect("report");
    let html = std::fs::read_to_string(out.join("report.html")).expect("html");
    assert!(html.contains("<h2>Sweep</h2>") && html.contains("Skipped"));
    let _ = std::fs::remove_dir_all(&out);
}

/// A preset is merged over the scenario; `--set` (and a sweep value) wins over the preset's;
/// an override of `preset` itself chooses the preset first; an unknown preset is refused with
/// the defined ones named.
#[test]
fn presets_merge_under_overrides() {
    let loaded = scenario::load(&dir().join("crash-2022-11-08.toml")).expect("bundled");
    assert_eq!(loaded.scenario.preset.as_deref(), Some("calibrated"));
    assert_eq!(loaded.scenario.depth.oracle_weight, 0.3);
    assert_eq!(loaded.scenario.depth.usd["WBTC"], 60e6);
    let set = |pairs: &[(&str, &str)]| -> Vec<(String, toml::Value)> {
        pairs
            .iter()
            .map(|(k, v)| scenario::parse_set(&format!("{k}={v}")).expect("override"))
            .collect()
    };
    // The override of `preset` comes last here, yet it is applied first: the weight set on
    // the command line survives the preset.
    let ideal = loaded
        .with(&set(&[("depth.oracle_weight", "0.5"), ("preset", "ideal")]))
        .expect("valid");
    assert_eq!(ideal.scenario.preset.as_deref(), Some("ideal"));
    assert_eq!(ideal.scenario.depth.oracle_weight, 0.5, "--set wins");
    assert_eq!(ideal.scenario.depth.usd["WBTC"], 3e6, "the preset's depth");
    assert_eq!(ideal.scenario.liquidators.cost_usd, 5.0);
    // Overrides accumulate: a later `with` (a sweep point) keeps the earlier ones.
    let again = ideal
        .with(&set(&[("liquidators.cost_usd", "7")]))
        .expect("valid");
    assert_eq!(again.scenario.depth.oracle_weight, 0.5);
    assert_eq!(again.scenario.preset.as_deref(), Some("ideal"));
    assert_eq!(again.scenario.liquidators.cost_usd, 7.0);
    let e = loaded
        .with(&set(&[("preset", "kind")]))
        .expect_err("no such preset");
    assert_eq!(e.field, "preset");
    assert!(
        e.problem.contains("calibrated") && e.problem.contains("ideal"),
        "{e}"
    );
}
