//! The perp simulator end to end on the bundled 2025-10-10 window, with a small population:
//! every mechanism runs and passes its own conservation check, liquidations happen, the
//! mechanisms differ the way their design says, and a seed gives the same figures twice.

use std::path::Path;

use softliq_sim::perp::{PerpMechanism, PerpScenario, load_paths, run, run_all, run_with};

fn scenario(traders: u32) -> PerpScenario {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/perp-2025-10-10.toml");
    let mut s = PerpScenario::load(&root).expect("scenario loads");
    s.population.traders = traders;
    s
}

#[test]
fn mechanisms_differ_as_designed_and_conserve_value() {
    let s = scenario(3_000);
    let paths = load_paths(&s).unwrap();
    assert_eq!(paths.len(), 2);
    assert_eq!(
        paths[0].index.len(),
        168 * 3,
        "a week of hourly bars, three steps each"
    );
    let hard = run(&s, &paths, PerpMechanism::HardClose, 0).unwrap();
    let soft = run(&s, &paths, PerpMechanism::SoftUnwind, 0).unwrap();
    let vault = run(&s, &paths, PerpMechanism::BackstopVault, 0).unwrap();
    assert!(
        hard.traders_liquidated > 100.0,
        "{}",
        hard.traders_liquidated
    );
    assert!(soft.liquidated_notional_usd > 0.0);
    // The vault takes everything at the mark: no book, no slippage, no impact.
    assert_eq!(vault.slippage_bp, 0.0);
    assert_eq!(vault.price_impact_max_pct, 0.0);
    // Soft chunks within 1% of the index push the book less than whole positions at once.
    assert!(
        soft.price_impact_max_pct < hard.price_impact_max_pct,
        "soft {} vs hard {}",
        soft.price_impact_max_pct,
        hard.price_impact_max_pct
    );
    assert!(hard.slippage_bp > 0.0);
    // The vault keeps margin up to MM: the costliest for the liquidated traders per dollar.
    assert!(vault.trader_loss_bp > soft.trader_loss_bp);
}

#[test]
fn a_seed_gives_the_same_figures() {
    let s = scenario(1_000);
    let paths = load_paths(&s).unwrap();
    let a = run(&s, &paths, PerpMechanism::SoftUnwind, 7).unwrap();
    let b = run(&s, &paths, PerpMechanism::SoftUnwind, 7).unwrap();
    assert_eq!(
        serde_json::to_string(&a).unwrap(),
        serde_json::to_string(&b).unwrap()
    );
    let c = run(&s, &paths, PerpMechanism::SoftUnwind, 8).unwrap();
    assert_ne!(
        serde_json::to_string(&a).unwrap(),
        serde_json::to_string(&c).unwrap()
    );
}

#[test]
fn a_bad_scenario_names_its_field() {
    let dir = std::env::temp_dir().join(format!("softliq-perp-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/perp-2025-10-10.toml"),
    )
    .unwrap();
    let bad = good.replace(
        "slippage_tolerance = \"0.01\"",
        "slippage_tolerance = \"0.05\"",
    );
    let file = dir.join("bad.toml");
    std::fs::write(&file, bad).unwrap();
    let e = PerpScenario::load(&file).unwrap_err().to_string();
    assert!(e.contains("slippage_tolerance"), "{e}");
    let bad = good.replace("traders = 20_000", "traders = 0");
    std::fs::write(&file, bad).unwrap();
    let e = PerpScenario::load(&file).unwrap_err().to_string();
    assert!(e.contains("population.traders"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn screen_skips_nobody_the_exact_scan_would_liquidate() {
    let s = scenario(2_000);
    let paths = load_paths(&s).unwrap();
    for m in [
        PerpMechanism::HardClose,
        PerpMechanism::SoftUnwind,
        PerpMechanism::BackstopVault,
        PerpMechanism::SoftVault,
    ] {
        let mut screened = run_with(&s, &paths, m, 3, true).unwrap();
        let mut full = run_with(&s, &paths, m, 3, false).unwrap();
        assert!(
            screened.exact_share < 0.5 * full.exact_share,
            "the screen skips most checks"
        );
        eprintln!(
            "{m:?}: exact checks per trader-step {:.3} screened, {:.3} full",
            screened.exact_share, full.exact_share
        );
        screened.exact_share = 0.0;
        full.exact_share = 0.0;
        assert_eq!(
            serde_json::to_string(&screened).unwrap(),
            serde_json::to_string(&full).unwrap(),
            "{m:?}"
        );
    }
}

#[test]
fn the_anchor_crash_is_calibrated() {
    // The bundled 2025-10-10 world: the baseline liquidates the reported share of open
    // interest (at a smaller population than the file's, two seeds).
    let mut s = scenario(8_000);
    s.mechanisms = vec![PerpMechanism::HardClose];
    let summary = run_all(&s, 2).unwrap();
    let c = summary
        .calibration
        .expect("the anchor has a calibration range");
    assert!(
        c.within,
        "{:.3} outside {}..{}",
        c.baseline_mean, c.min, c.max
    );
}

#[test]
fn overrides_apply_before_validation_and_name_their_field() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/perp-2025-10-10.toml");
    let set = |p: &str, v: toml::Value| (p.to_owned(), v);
    let s = PerpScenario::load_with(
        &file,
        &[set("population.traders", toml::Value::Integer(500))],
    )
    .unwrap();
    assert_eq!(s.population.traders, 500);
    let e = PerpScenario::load_with(&file, &[set("market.nope", toml::Value::Integer(1))])
        .unwrap_err()
        .to_string();
    assert!(e.contains("market.nope"), "{e}");
    let e = PerpScenario::load_with(
        &file,
        &[set("market.backstop_line", toml::Value::String("1".into()))],
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("backstop_line"), "{e}");
}
