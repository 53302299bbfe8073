//! Bounds of every scenario field, checked before a run starts; the error names the field and
//! the bound.

use softliq_config::Markets;

use super::load::{needs_depth, path_assets};
use super::{PriceSpec, Scenario};
use crate::error::{Result, SimError};

/// At most this many borrowers in one run (memory stays bounded: ~200 bytes each).
pub const BORROWERS_MAX: u32 = 10_000_000;
/// At most this many steps in one path (two years of hourly bars with lows).
pub const STEPS_MAX: u32 = 40_000;
/// At most this many seeds in one batch.
pub const SEEDS_MAX: u32 = 10_000;

fn check(ok: bool, field: &str, problem: impl ToString) -> Result<()> {
    if ok {
        Ok(())
    } else {
        Err(SimError::field(field, problem))
    }
}

fn within(value: f64, lo: f64, hi: f64, field: &str) -> Result<()> {
    check(
        value.is_finite() && (lo..=hi).contains(&value),
        field,
        format!("{value} is out of bounds: {lo} <= {field} <= {hi}"),
    )
}

fn known(markets: &Markets, symbol: &str, field: &str) -> Result<()> {
    check(
        markets.id(symbol).is_some(),
        field,
        format!("unknown asset {symbol:?} (listed: {})", markets.symbols()),
    )
}

pub(super) fn scenario(s: &Scenario, markets: &Markets) -> Result<()> {
    check(!s.name.is_empty(), "name", "must not be empty")?;
    check(
        (1..=SEEDS_MAX).contains(&s.seeds),
        "seeds",
        format!("{} is out of bounds: 1 <= seeds <= {SEEDS_MAX}", s.seeds),
    )?;
    check(
        (1..=86_400 * 7).contains(&s.markets.step_s),
        "markets.step_s",
        "out of bounds: 1 <= step_s <= 604800",
    )?;
    within(s.markets.dust_usd, 0.0, 1e6, "markets.dust_usd")?;
    within(
        s.markets.insurance_share,
        0.0,
        1.0,
        "markets.insurance_share",
    )?;
    check(!s.mechanisms.is_empty(), "mechanisms", "list at least one")?;
    for (name, table) in &s.mechanism {
        check(
            softliq_core::liquidation::Policy::by_name(name).is_some()
                || name == "llamma"
                || table.contains_key("rule"),
            &format!("mechanism.{name}"),
            format!(
                "parameters for an unknown mechanism (known: {}; a custom name needs `rule`)",
                super::mechanism::KNOWN
            ),
        )?;
    }
    prices(&s.prices, markets)?;
    population(s, markets)?;
    depth(s, markets)?;
    calibration(s)?;
    liquidators(s)
}

fn prices(spec: &PriceSpec, markets: &Markets) -> Result<()> {
    for symbol in path_assets(spec) {
        known(markets, &symbol, "prices")?;
    }
    match spec {
        PriceSpec::Window { .. } => Ok(()),
        PriceSpec::Closes { from_s, to_s, .. } => {
            check(from_s < to_s, "prices.to_s", "must be after prices.from_s")
        }
        PriceSpec::Synthetic(p) => {
            let n = p.assets.len();
            check(n > 0, "prices.assets", "list at least one asset")?;
            check(
                (1..=STEPS_MAX).contains(&p.steps),
                "prices.steps",
                format!("out of bounds: 1 <= steps <= {STEPS_MAX}"),
            )?;
            for (field, v) in [("start", &p.start), ("volatility", &p.volatility)] {
                check(
                    v.len() == n,
                    &format!("prices.{field}"),
                    format!("needs {n} values, one per asset"),
                )?;
            }
            check(
                p.drift.is_empty() || p.drift.len() == n,
                "prices.drift",
                format!("needs {n} values, one per asset"),
            )?;
            for (i, &v) in p.start.iter().enumerate() {
                within(v, 1e-9, 1e12, &format!("prices.start[{i}]"))?;
            }
            for (i, &v) in p.volatility.iter().enumerate() {
                within(v, 0.0, 20.0, &format!("prices.volatility[{i}]"))?;
            }
            for (i, &v) in p.drift.iter().enumerate() {
                within(v, -20.0, 20.0, &format!("prices.drift[{i}]"))?;
            }
            within(p.jump_intensity, 0.0, 10_000.0, "prices.jump_intensity")?;
            within(p.jump_mean, -5.0, 5.0, "prices.jump_mean")?;
            within(p.jump_sd, 0.0, 5.0, "prices.jump_sd")?;
            within(p.garch_alpha, 0.0, 1.0, "prices.garch_alpha")?;
            within(p.garch_beta, 0.0, 1.0, "prices.garch_beta")?;
            check(
                p.garch_alpha + p.garch_beta < 1.0,
                "prices.garch_beta",
                "garch_alpha + garch_beta must be below 1 (a stationary variance)",
            )?;
            crate::paths::cholesky(&p.correlation, n).map(|_| ())
        }
    }
}

fn calibration(s: &Scenario) -> Result<()> {
    if let Some(c) = s.calibration {
        let r = c.liquidated_share;
        within(r.min, 0.0, 1.0, "calibration.liquidated_share.min")?;
        within(r.max, r.min, 1.0, "calibration.liquidated_share.max")?;
    }
    Ok(())
}

fn depth(s: &Scenario, markets: &Markets) -> Result<()> {
    let d = &s.depth;
    within(
        d.recovery_half_life_steps,
        0.0,
        1e6,
        "depth.recovery_half_life_steps",
    )?;
    within(d.oracle_weight, 0.0, 1.0, "depth.oracle_weight")?;
    if d.reference_debt_usd != 0.0 {
        within(d.reference_debt_usd, 1.0, 1e15, "depth.reference_debt_usd")?;
    }
    within(d.stress_factor, 0.01, 1.0, "depth.stress_factor")?;
    within(
        d.stress_recovery_half_life_steps,
        0.0,
        1e6,
        "depth.stress_recovery_half_life_steps",
    )?;
    for (symbol, &usd) in &d.usd {
        known(markets, symbol, &format!("depth.usd.{symbol}"))?;
        within(usd, 1.0, 1e15, &format!("depth.usd.{symbol}"))?;
    }
    if needs_depth(d.model) {
        for symbol in s.population.collateral.keys() {
            check(
                d.usd.contains_key(symbol),
                &format!("depth.usd.{symbol}"),
                "a finite-depth market needs the depth of every collateral asset",
            )?;
        }
    }
    Ok(())
}

fn population(s: &Scenario, markets: &Markets) -> Result<()> {
    let p = &s.population;
    check(
        (1..=BORROWERS_MAX).contains(&p.borrowers),
        "population.borrowers",
        format!("out of bounds: 1 <= borrowers <= {BORROWERS_MAX}"),
    )?;
    known(markets, &p.debt, "population.debt")?;
    check(
        !p.collateral.is_empty(),
        "population.collateral",
        "list at least one collateral asset",
    )?;
    for (symbol, &w) in &p.collateral {
        let field = format!("population.collateral.{symbol}");
        known(markets, symbol, &field)?;
        within(w, 0.0, 1e9, &field)?;
        check(symbol != &p.debt, &field, "collateral and debt must differ")?;
    }
    check(
        p.collateral.values().sum::<f64>() > 0.0,
        "population.collateral",
        "weights must not all be zero",
    )?;
    within(
        p.two_collateral_share,
        0.0,
        1.0,
        "population.two_collateral_share",
    )?;
    within(p.start_hf.min, 1.0, 100.0, "population.start_hf.min")?;
    within(
        p.start_hf.median,
        p.start_hf.min,
        100.0,
        "population.start_hf.median",
    )?;
    within(p.start_hf.sigma, 0.0, 5.0, "population.start_hf.sigma")?;
    within(p.size.alpha, 0.1, 10.0, "population.size.alpha")?;
    within(p.size.min_usd, 1.0, 1e12, "population.size.min_usd")?;
    within(
        p.size.max_usd,
        p.size.min_usd,
        1e12,
        "population.size.max_usd",
    )?;
    within(p.responsive_share, 0.0, 1.0, "population.responsive_share")?;
    within(p.buffer_hf, 1.0, 100.0, "population.buffer_hf")?;
    within(
        p.response_target_hf,
        p.buffer_hf,
        100.0,
        "population.response_target_hf",
    )?;
    within(p.utilisation, 0.01, 0.99, "population.utilisation")
}

fn liquidators(s: &Scenario) -> Result<()> {
    let l = &s.liquidators;
    check(
        (1..=10_000).contains(&l.count),
        "liquidators.count",
        "out of bounds: 1 <= count <= 10000",
    )?;
    check(
        l.latency_steps <= 10_000,
        "liquidators.latency_steps",
        "out of bounds: latency_steps <= 10000",
    )?;
    if l.latency_max_steps != 0 {
        check(
            (l.latency_steps..=10_000).contains(&l.latency_max_steps),
            "liquidators.latency_max_steps",
            "out of bounds: 0 or latency_steps <= latency_max_steps <= 10000",
        )?;
    }
    within(l.cost_usd, 0.0, 1e9, "liquidators.cost_usd")?;
    within(l.min_profit_usd, -1e12, 1e12, "liquidators.min_profit_usd")?;
    within(l.capital_usd, 1.0, 1e15, "liquidators.capital_usd")?;
    within(l.absent_share, 0.0, 1.0, "liquidators.absent_share")?;
    within(l.cost_spread, 0.0, 100.0, "liquidators.cost_spread")?;
    within(l.cost_per_move, 0.0, 1e4, "liquidators.cost_per_move")?;
    within(l.stress_move, 0.0, 1.0, "liquidators.stress_move")?;
    check(
        l.calls_per_step >= 1,
        "liquidators.calls_per_step",
        "out of bounds: calls_per_step >= 1",
    )
}
