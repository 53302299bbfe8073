use std::path::Path;

use softliq_config::Markets;

use super::*;
use crate::scenario::{Process, SyntheticSpec};

fn markets() -> Markets {
    Markets::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/markets.toml"))
        .expect("bundled markets")
}

fn spec(process: Process, steps: u32) -> SyntheticSpec {
    SyntheticSpec {
        process,
        steps,
        assets: vec!["WETH".into(), "WBTC".into()],
        start: vec![2_000.0, 40_000.0],
        drift: vec![0.0, 0.0],
        volatility: vec![0.8, 0.5],
        correlation: vec![vec![1.0, 0.7], vec![0.7, 1.0]],
        jump_intensity: 0.0,
        jump_mean: 0.0,
        jump_sd: 0.0,
        garch_alpha: 0.0,
        garch_beta: 0.0,
    }
}

fn returns(path: &PricePath, asset: usize) -> Vec<f64> {
    (1..path.steps())
        .map(|k| (path.at(k)[asset] / path.at(k - 1)[asset]).ln())
        .collect()
}

fn moments(x: &[f64]) -> (f64, f64, f64) {
    let n = x.len() as f64;
    let mean = x.iter().sum::<f64>() / n;
    let var = x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
    let kurt = x.iter().map(|v| (v - mean).powi(4)).sum::<f64>() / n / (var * var);
    (mean, var.sqrt(), kurt)
}

const DT: f64 = 3_600.0 / 31_536_000.0;

#[test]
fn synthetic_paths_are_seeded() {
    let m = markets();
    let a = synthetic::generate(&m, &spec(Process::Gbm, 500), 3_600, 7).expect("path");
    let b = synthetic::generate(&m, &spec(Process::Gbm, 500), 3_600, 7).expect("path");
    let c = synthetic::generate(&m, &spec(Process::Gbm, 500), 3_600, 8).expect("path");
    assert_eq!(a, b);
    assert_ne!(a.prices, c.prices);
    assert_eq!(
        a.at(0),
        &[1.0, 2_000.0, 40_000.0],
        "stablecoin at 1, others at start"
    );
}

#[test]
fn gbm_has_the_configured_volatility_and_correlation() {
    let m = markets();
    let path = synthetic::generate(&m, &spec(Process::Gbm, 40_000), 3_600, 1).expect("path");
    let (eth, btc) = (returns(&path, 1), returns(&path, 2));
    let (_, sd_eth, kurt) = moments(&eth);
    let (_, sd_btc, _) = moments(&btc);
    assert!((sd_eth / (0.8 * DT.sqrt()) - 1.0).abs() < 0.02, "{sd_eth}");
    assert!((sd_btc / (0.5 * DT.sqrt()) - 1.0).abs() < 0.02, "{sd_btc}");
    assert!((kurt - 3.0).abs() < 0.15, "normal returns: kurtosis {kurt}");
    let series = |a: usize| -> Vec<(u64, f64)> {
        (0..path.steps())
            .map(|k| (path.times_s[k], path.at(k)[a]))
            .collect()
    };
    let fitted = fit(
        &[("WETH".into(), series(1)), ("WBTC".into(), series(2))],
        3_600,
    )
    .expect("fit");
    assert!(
        (fitted.volatility[0] / 0.8 - 1.0).abs() < 0.02,
        "{:?}",
        fitted.volatility
    );
    assert!(
        (fitted.correlation[0][1] - 0.7).abs() < 0.02,
        "{:?}",
        fitted.correlation
    );
    assert!(fitted.jump_intensity[0] < 50.0, "few false jumps in a GBM");
}

#[test]
fn merton_jumps_arrive_at_the_configured_rate() {
    let m = markets();
    let mut s = spec(Process::Merton, 40_000);
    s.volatility = vec![0.3, 0.3];
    (s.jump_intensity, s.jump_mean, s.jump_sd) = (200.0, -0.08, 0.02);
    let path = synthetic::generate(&m, &s, 3_600, 3).expect("path");
    let r = returns(&path, 1);
    // Diffusion moves one hour by ~0.3%; a jump by ~8%: count moves beyond 4%.
    let jumps = r.iter().filter(|x| **x < -0.04).count() as f64;
    let expected = 200.0 * DT * r.len() as f64;
    assert!(
        (jumps / expected - 1.0).abs() < 0.15,
        "{jumps} jumps, expected {expected}"
    );
    let (_, _, kurt) = moments(&r);
    assert!(kurt > 10.0, "jumps fatten the tails: {kurt}");
}

#[test]
fn garch_clusters_volatility_around_the_long_run_level() {
    let m = markets();
    let mut s = spec(Process::Garch, 60_000);
    (s.garch_alpha, s.garch_beta) = (0.1, 0.85);
    let path = synthetic::generate(&m, &s, 3_600, 5).expect("path");
    let r = returns(&path, 1);
    let (_, sd, kurt) = moments(&r);
    assert!((sd / (0.8 * DT.sqrt()) - 1.0).abs() < 0.1, "{sd}");
    assert!(kurt > 3.5, "clustering fattens the tails: {kurt}");
    let series: Vec<(u64, f64)> = (0..path.steps())
        .map(|k| (path.times_s[k], path.at(k)[1]))
        .collect();
    let fitted = fit(&[("WETH".into(), series)], 3_600).expect("fit");
    assert!(
        (fitted.garch_beta[0] - 0.85).abs() < 0.05,
        "{:?}",
        fitted.garch_beta
    );
    assert!(
        (fitted.garch_alpha[0] - 0.1).abs() < 0.04,
        "{:?}",
        fitted.garch_alpha
    );
}

#[test]
fn correlation_must_be_a_correlation() {
    assert!(cholesky(&[], 2).is_ok());
    let bad = |m: Vec<Vec<f64>>| cholesky(&m, 2).expect_err("refused").problem;
    assert!(bad(vec![vec![1.0, 0.5], vec![0.4, 1.0]]).contains("equal"));
    assert!(bad(vec![vec![2.0, 0.0], vec![0.0, 1.0]]).contains("must be 1"));
    assert!(bad(vec![vec![1.0, 1.0], vec![1.0, 1.0]]).contains("positive definite"));
    assert!(bad(vec![vec![1.0]]).contains("2 × 2"));
}

#[test]
fn crash_window_with_lows_reaches_the_recorded_low() {
    let m = markets();
    let file = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../data/prices/crash_windows_1h_ohlc_binance.csv");
    let series = [("WETH".to_owned(), "eth_usdt".to_owned())]
        .into_iter()
        .collect();
    let select = |trigger| historical::WindowSelect {
        event: "2020-03-12",
        market: "spot",
        series: &series,
        trigger,
        step_s: 3_600,
    };
    let lows =
        historical::window(&m, &file, &select(crate::scenario::Trigger::Low)).expect("window");
    let closes =
        historical::window(&m, &file, &select(crate::scenario::Trigger::Close)).expect("window");
    assert_eq!((lows.steps(), closes.steps()), (336, 168));
    let min = |p: &PricePath| (0..p.steps()).map(|k| p.at(k)[1]).fold(f64::MAX, f64::min);
    assert_eq!(min(&lows), 86.0, "ETH's hourly low on 2020-03-13");
    assert!(min(&closes) > 86.0);
    assert!(lows.times_s.windows(2).all(|w| w[0] < w[1]));
    assert!(lows.max_drawdown(1) > 0.55);
}
