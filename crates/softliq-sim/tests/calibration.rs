//! The calibrated world (docs/simulator.md, *Calibration*): each bundled crash makes `full`
//! liquidate the share of debt lending protocols reported for it, its market moves by what
//! its sourced depth says, and the `ideal` preset still gives the world before calibration.

use std::path::Path;

use softliq_sim::batch::{Options, Progress, run_batch};
use softliq_sim::report::Summary;
use softliq_sim::scenario::{self, Loaded};
use softliq_sim::venue::{self, Venue};

const CRASHES: [&str; 6] = [
    "crash-2020-03-12",
    "crash-2021-05-19",
    "crash-2022-06-13",
    "crash-2022-11-08",
    "crash-2024-08-05",
    "crash-2025-10-10",
];

fn load(name: &str, sets: &[(&str, &str)]) -> Loaded {
    let file = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../scenarios")
        .join(format!("{name}.toml"));
    let overrides: Vec<(String, toml::Value)> = sets
        .iter()
        .map(|(k, v)| scenario::parse_set(&format!("{k}={v}")).expect("override"))
        .collect();
    scenario::load(&file)
        .expect("bundled scenario")
        .with(&overrides)
        .expect("overrides")
}

fn summary(loaded: &Loaded) -> Summary {
    let options = Options {
        seeds: None,
        audit: false,
    };
    let batch = run_batch(loaded, options, &Progress::default()).expect("batch runs");
    Summary::of(loaded, &batch)
}

/// Every bundled crash, as bundled (its own seeds and population), under `full`: the mean
/// liquidated share of the starting debt lies in the range reported for that crash, and the
/// summary says so. The range comes from the scenario file, which names its sources.
#[test]
fn full_liquidates_the_reported_share_of_debt_on_every_crash() {
    for name in CRASHES {
        let loaded = load(name, &[("mechanisms", r#"["full"]"#)]);
        assert_eq!(loaded.scenario.preset.as_deref(), Some("calibrated"));
        let range = loaded
            .scenario
            .calibration
            .expect("every crash names its reported range")
            .liquidated_share;
        let s = summary(&loaded);
        let share = s
            .stat(0, "full", "liquidated_share_of_debt")
            .expect("full ran")
            .mean;
        println!(
            "{name}: {:.3}% in [{}, {}]",
            share * 100.0,
            range.min,
            range.max
        );
        assert!(
            range.contains(share),
            "{name}: full liquidates {:.3}% of the debt, reported {:.1}%-{:.1}%",
            share * 100.0,
            range.min * 100.0,
            range.max * 100.0
        );
        let check = s.calibration.expect("the summary carries the check");
        assert!(check.within);
        assert_eq!(check.full_liquidated_share, share);
    }
}

/// The `ideal` preset is the world before calibration: the same crash liquidates most of the
/// book there (92% on 2020-03-12 with this population), far outside what was reported, and
/// the summary says it is outside.
#[test]
fn the_ideal_preset_is_the_uncalibrated_world() {
    let loaded = load(
        "crash-2020-03-12",
        &[("mechanisms", r#"["full"]"#), ("preset", "ideal")],
    );
    let d = &loaded.scenario.depth;
    assert_eq!(d.usd["WETH"], 2e6);
    assert_eq!(d.reference_debt_usd, 0.0);
    assert_eq!(d.oracle_weight, 1.0);
    assert_eq!(loaded.scenario.liquidators.absent_share, 0.0);
    assert_eq!(loaded.scenario.population.start_hf.median, 1.6);
    let s = summary(&loaded);
    assert_eq!(s.preset.as_deref(), Some("ideal"));
    let check = s.calibration.expect("the range still applies");
    assert!(!check.within, "{}", check.full_liquidated_share);
    assert!(check.full_liquidated_share > 0.8);
}

/// The sourced depth reaches the venue scaled by the population's share of the lending book:
/// on 2024-08-05 (40 M USD of ETH per 1%, 13 B USD of DeFi loans), selling ETH worth 1% of
/// the population's debt at once moves ETH by 0.01 · 13e9 / (100 · 40e6) = 3.25%, whatever
/// the population's size; with `ideal`'s fixed 2 M USD book the same sale's impact shrinks
/// as the population does.
#[test]
fn a_sale_moves_the_calibrated_market_by_its_share_of_the_book() {
    let loaded = load("crash-2024-08-05", &[]);
    let weth = loaded.markets.id("WETH").expect("WETH").index();
    let symbols = || loaded.markets.assets.iter().map(|a| a.symbol.as_str());
    let stress = loaded.scenario.liquidators.stress_move;
    for debt_usd in [1e6, 1e7, 1e9] {
        let usd = venue::depth_usd(&loaded.scenario.depth, symbols(), debt_usd);
        let mut v = Venue::new(&loaded.scenario.depth, usd, stress);
        let price = 2_500.0;
        v.sell(weth, 0.01 * debt_usd / price, price);
        assert!(
            (v.impact(weth) - 0.0325).abs() < 1e-9,
            "{debt_usd}: {}",
            v.impact(weth)
        );
        // In a stressed step half the depth is gone: the next sale of the same size moves
        // the price twice as far.
        v.recover(0.06);
        let before = v.impact(weth);
        v.sell(weth, 0.01 * debt_usd / price, price);
        assert!((v.impact(weth) - before - 0.065).abs() < 1e-9);
    }
    let ideal = load("crash-2024-08-05", &[("preset", "ideal")]);
    let usd = venue::depth_usd(&ideal.scenario.depth, symbols(), 1e6);
    assert_eq!(usd[weth], 2e6, "ideal takes the depth as written");
}
