//! The borrower population of one seed: who holds what, how healthy, how large, and who acts
//! when their health falls. Drawn once per seed and shared by every mechanism of that seed.
//!
//! Per borrower, from a seeded ChaCha stream independent of the price path's:
//! - collateral value `V = min · U^(−1/α)` (Pareto with tail index `α`), cut at `max`;
//! - one collateral asset drawn by weight, or with probability `two_collateral_share` two
//!   (distinct, by weight) holding half the value each;
//! - starting HF `min + (median − min) · e^{σZ}`, raised where needed to the borrowing limit
//!   (`HF ≥ C/B · 1.0001`, since a borrow must keep `D ≤ B`);
//! - debt `D = C / HF` in the debt asset (`C` the liquidation-weighted collateral value);
//! - responsive with probability `responsive_share`.
//!
//! The lender supplies the debt asset so that the pool starts at the configured utilisation.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use softliq_config::Markets;
use softliq_core::asset::AssetId;
use softliq_core::money::Amount;

use crate::error::{Result, SimError};
use crate::ledger::{Holder, Ledger};
use crate::scenario::PopulationSpec;

/// A seed's starting market.
#[derive(Clone, Debug)]
pub struct Population {
    pub ledger: Ledger,
    /// Whether each borrower acts below the buffer.
    pub responsive: Vec<bool>,
    /// Each borrower's starting approximate HF (for reports).
    pub start_hf: Vec<f64>,
}

/// Stream separation: the population's stream never overlaps the path's for the same seed.
const STREAM: u64 = 0x706f_7075_6c61_7469;

/// Tokens (base units) worth `usd` at `price`, rounded down.
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
pub fn tokens(usd: f64, price: f64, decimals: u8) -> Amount {
    let units = usd / price * 10f64.powi(i32::from(decimals));
    Amount::from_raw(if units.is_finite() && units > 0.0 {
        units as u128
    } else {
        0
    })
}

fn pick(rng: &mut ChaCha8Rng, weights: &[(AssetId, f64)], except: Option<AssetId>) -> AssetId {
    let total: f64 = weights
        .iter()
        .filter(|(a, _)| Some(*a) != except)
        .map(|(_, w)| w)
        .sum();
    let mut x = rng.random::<f64>() * total;
    for &(a, w) in weights.iter().filter(|(a, _)| Some(*a) != except) {
        if x < w {
            return a;
        }
        x -= w;
    }
    weights
        .iter()
        .rev()
        .find(|(a, _)| Some(*a) != except)
        .map_or(weights[0].0, |(a, _)| *a)
}

/// One borrower as drawn: what it holds (USD per collateral asset), what it owes (USD of the
/// debt asset), its starting HF, and whether it acts below the buffer. The simulator opens it
/// on its exact ledger; the service's demo opens it through the engine's commands.
#[derive(Clone, Debug, PartialEq)]
pub struct BorrowerPlan {
    pub holdings: Vec<(AssetId, f64)>,
    pub debt_usd: f64,
    pub start_hf: f64,
    pub responsive: bool,
}

/// The borrowers of `seed` (the module docs give the distributions), with the asset they all
/// borrow.
///
/// # Errors
/// An asset the spec names that the markets do not list.
pub fn plans(
    spec: &PopulationSpec,
    markets: &Markets,
    seed: u64,
) -> Result<(AssetId, Vec<BorrowerPlan>)> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ STREAM);
    let id = |s: &str| {
        markets
            .id(s)
            .ok_or_else(|| SimError::field("population", s))
    };
    let debt = id(&spec.debt)?;
    let weights: Vec<(AssetId, f64)> = spec
        .collateral
        .iter()
        .filter(|(_, w)| **w > 0.0)
        .map(|(s, w)| Ok((id(s)?, *w)))
        .collect::<Result<_>>()?;
    let param = |a: AssetId| markets.asset(a).params();
    let mut plans = Vec::with_capacity(spec.borrowers as usize);
    for _ in 0..spec.borrowers {
        let u: f64 = 1.0 - rng.random::<f64>();
        let value = (spec.size.min_usd * u.powf(-1.0 / spec.size.alpha)).min(spec.size.max_usd);
        let first = pick(&mut rng, &weights, None);
        let two = weights.len() > 1 && rng.random::<f64>() < spec.two_collateral_share;
        let holdings: Vec<(AssetId, f64)> = if two {
            let second = pick(&mut rng, &weights, Some(first));
            vec![(first, value / 2.0), (second, value / 2.0)]
        } else {
            vec![(first, value)]
        };
        let c: f64 = holdings
            .iter()
            .map(|(a, v)| v * param(*a).liquidation_threshold.to_f64())
            .sum();
        let b: f64 = holdings
            .iter()
            .map(|(a, v)| v * param(*a).collateral_factor.to_f64())
            .sum();
        let z: f64 = StandardNormal.sample(&mut rng);
        let hf = spec.start_hf.min
            + (spec.start_hf.median - spec.start_hf.min) * (spec.start_hf.sigma * z).exp();
        let hf = hf.max(c / b * 1.0001);
        let debt_usd = c / hf / param(debt).borrow_weight.to_f64();
        let responsive = rng.random::<f64>() < spec.responsive_share;
        plans.push(BorrowerPlan {
            holdings,
            debt_usd,
            start_hf: hf,
            responsive,
        });
    }
    Ok((debt, plans))
}

/// Draws the population of `seed` at the starting `prices` (one per listed asset).
///
/// # Errors
/// A pool refusal while seeding (a cap too small for the population), named.
pub fn draw(
    spec: &PopulationSpec,
    markets: &Markets,
    prices: &[f64],
    (start_s, seed): (u64, u64),
) -> Result<Population> {
    let (debt, plans) = plans(spec, markets, seed)?;
    let param = |a: AssetId| markets.asset(a).params();
    let mut ledger = Ledger::new(markets.assets.clone(), start_s);
    let total_debt: f64 = plans.iter().map(|p| p.debt_usd).sum();
    let lend = total_debt / spec.utilisation;
    let debt_decimals = param(debt).decimals.get();
    ledger.deposit(
        Holder::Lender,
        debt,
        tokens(lend.max(1.0), prices[debt.index()], debt_decimals),
    )?;
    let mut responsive = Vec::with_capacity(plans.len());
    let mut start_hf = Vec::with_capacity(plans.len());
    for (i, plan) in plans.into_iter().enumerate() {
        let BorrowerPlan {
            holdings,
            debt_usd,
            start_hf: hf,
            responsive: flag,
        } = plan;
        ledger.borrowers.push(softliq_core::account::Account::new());
        for (asset, usd) in holdings {
            let amount = tokens(usd, prices[asset.index()], param(asset).decimals.get());
            if !amount.is_zero() {
                ledger.deposit(Holder::Borrower(i), asset, amount)?;
            }
        }
        let owed = tokens(debt_usd, prices[debt.index()], debt_decimals);
        if !owed.is_zero() {
            ledger.borrow(Holder::Borrower(i), debt, owed)?;
        }
        responsive.push(flag);
        start_hf.push(hf);
    }
    Ok(Population {
        ledger,
        responsive,
        start_hf,
    })
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use softliq_core::health::Health;

    use super::*;
    use crate::run::wad_price;
    use crate::scenario::load;

    #[test]
    fn every_borrower_starts_within_its_borrowing_power() {
        let loaded = load(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/crash-2022-06-13.toml"),
        )
        .expect("bundled");
        let prices = [1.0, 1_800.0, 30_000.0];
        let spec = &loaded.scenario.population;
        let a = draw(spec, &loaded.markets, &prices, (0, 9)).expect("population");
        let b = draw(spec, &loaded.markets, &prices, (0, 9)).expect("population");
        assert_eq!(a.ledger.borrowers, b.ledger.borrowers, "seeded");
        assert_eq!(a.ledger.borrowers.len(), 5_000);
        let snapshot = a.ledger.snapshot(&prices.map(wad_price));
        let mut two = 0;
        for (i, account) in a.ledger.borrowers.iter().enumerate() {
            let h = Health::of(account, &snapshot).expect("health");
            assert!(
                h.within_borrowing_power(),
                "borrower {i} starts beyond its borrowing power"
            );
            assert!(!h.is_liquidatable());
            two += usize::from(
                account
                    .positions()
                    .iter()
                    .filter(|p| !p.supply.is_zero())
                    .count()
                    == 2,
            );
        }
        // 20% hold two collateral assets.
        assert!((800..1_200).contains(&two), "{two}");
        // Half respond (calibrated.toml).
        let responsive = a.responsive.iter().filter(|r| **r).count();
        assert!((2_300..2_700).contains(&responsive), "{responsive}");
        let u = a.ledger.pools[0]
            .utilisation()
            .expect("utilisation")
            .to_f64();
        assert!((u - 0.8).abs() < 0.001, "{u}");
        a.ledger.reconcile().expect("seeded through the books");
    }
}
