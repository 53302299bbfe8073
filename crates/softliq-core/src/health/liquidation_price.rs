//! Liquidation prices (docs/risk-model.md): the price of one asset at which the account reaches
//! HF = 1, all else fixed; and for a one-collateral/one-debt account of two volatile assets, the
//! relative price at which it does.
//!
//! ## Derivation
//! Let asset `x` be held with supply amount `a_s` and debt amount `a_d` (either may be zero),
//! one whole token being `u = 10^decimals` base units. Health sums exact numerators and
//! rounds once: `C = ⌊N_C / WAD⌋` with `N_C = Σ value_i · lt_i`, and `D = ⌈N_D / WAD⌉` with
//! `N_D = Σ debt_value_i · bw_i`. At price `p` the asset adds `a_s·p/u · lt` to `N_C` and
//! `a_d·p/u · bw` to `N_D`; every other position adds the fixed `R_C` and `R_D` (the totals
//! less this asset's own terms). HF = 1 means `R_C + a_s·p·lt/u = R_D + a_d·p·bw/u`, so
//!
//! ```text
//! p* = (R_D − R_C) · u / (a_s·lt − a_d·bw)
//! ```
//!
//! - `a_s·lt > a_d·bw` (net collateral): HF falls with `p`; `p*` exists when `R_D > R_C`.
//!   This is the one-sided `p_c* = (D − (C − a_c p_c lt_c)) / (a_c lt_c)` when `a_d = 0`. Rounded
//!   **down**: at `p*` the account is liquidatable, since the values of `x` round down on the
//!   collateral side and up on the debt side.
//! - `a_d·bw > a_s·lt` (net debt): HF falls as `p` rises; `p*` exists when `R_C > R_D`,
//!   the one-sided `p_d*` when `a_s = 0`. Rounded **up**: the lowest price at which it is.
//! - Otherwise the price of `x` cannot move HF to 1 and there is no liquidation price.
//!
//! The numerator and denominator are formed in 512 bits, so the only rounding is the last one.
//!
//! For the pair `c`/`d` with nothing else held, `a_c·p_c·lt/u_c = a_d·p_d·bw/u_d` gives the
//! relative price `p_c/p_d = a_d·bw·u_c / (a_c·lt·u_d)`, rounded down like a falling price: the
//! highest ratio at which the exact account is liquidatable.

use ruint::aliases::U512;

use crate::account::Account;
use crate::asset::AssetId;
use crate::money::muldiv::quotient;
use crate::money::{Price, Ratio, Rounding, WAD};

use super::compute::Valued;
use super::{HealthError, RiskSnapshot};

/// Which way the price must move to reach the liquidation price.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Liquidatable at or below `price` (collateral falling).
    Falls,
    /// Liquidatable at or above `price` (debt rising).
    Rises,
}

/// One asset's liquidation price, all else fixed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LiquidationPrice {
    pub asset: AssetId,
    pub direction: Direction,
    pub price: Price,
    pub current: Price,
}

impl LiquidationPrice {
    /// `(price − current) / current` in percent: negative when the price must fall. For reports.
    #[must_use]
    pub fn distance_pct(&self) -> f64 {
        distance_pct(self.price.to_f64(), self.current.to_f64())
    }

    /// Whether the price lies ahead of the current one in its direction, or at it (at or below
    /// it for a fall, at or above for a rise). For an account below HF 1 the crossing solved for
    /// lies behind: it is where the account would recover, not where it is liquidated; an
    /// account exactly at HF 1 is at its liquidation price.
    #[must_use]
    pub fn is_ahead(&self) -> bool {
        match self.direction {
            Direction::Falls => self.price <= self.current,
            Direction::Rises => self.price >= self.current,
        }
    }
}

/// The relative price `p_collateral / p_debt` at which a two-asset account reaches HF = 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PairLiquidationPrice {
    pub collateral: AssetId,
    pub debt: AssetId,
    /// Units of the debt asset per unit of collateral, WAD.
    pub ratio: Ratio,
    pub current: Ratio,
}

impl PairLiquidationPrice {
    /// `(ratio − current) / current` in percent. For reports.
    #[must_use]
    pub fn distance_pct(&self) -> f64 {
        distance_pct(self.ratio.to_f64(), self.current.to_f64())
    }
}

fn distance_pct(target: f64, current: f64) -> f64 {
    (target - current) / current * 100.0
}

/// The liquidation price of every asset the account holds (those that have one).
///
/// # Errors
/// As [`Health::of`](super::Health::of).
pub fn liquidation_prices(
    account: &Account,
    snapshot: &RiskSnapshot,
) -> Result<Vec<LiquidationPrice>, HealthError> {
    // Each position's exact weighted numerators `value · lt` and `debt_value · bw`.
    let mut terms = Vec::with_capacity(account.positions().len());
    let (mut total_c, mut total_d) = (U512::ZERO, U512::ZERO);
    for pos in account.positions() {
        let risk = snapshot.get(pos.asset)?;
        let v = Valued::of(pos, risk)?;
        let c = U512::from(v.collateral_value.raw()) * U512::from(risk.liquidation_threshold.raw());
        let d = U512::from(v.debt_value.raw()) * U512::from(risk.borrow_weight.raw());
        total_c += c;
        total_d += d;
        terms.push((pos.asset, risk, v, c, d));
    }
    let mut out = Vec::new();
    for (asset, risk, v, own_c, own_d) in terms {
        let (rest_c, rest_d) = (total_c - own_c, total_d - own_d);
        let k_collateral =
            U512::from(v.supply_amount.raw()) * U512::from(risk.liquidation_threshold.raw());
        let k_debt = U512::from(v.debt_amount.raw()) * U512::from(risk.borrow_weight.raw());
        let unit = U512::from(risk.decimals.unit());
        let solved = if k_collateral > k_debt && rest_d > rest_c {
            let price = quotient(
                (rest_d - rest_c) * unit,
                k_collateral - k_debt,
                Rounding::Down,
            );
            Some((Direction::Falls, price))
        } else if k_debt > k_collateral && rest_c > rest_d {
            let price = quotient(
                (rest_c - rest_d) * unit,
                k_debt - k_collateral,
                Rounding::Up,
            );
            Some((Direction::Rises, price))
        } else {
            None
        };
        // A price past u128 (or a falling one at zero) is no price at all.
        if let Some((direction, Ok(raw))) = solved
            && raw > 0
        {
            out.push(LiquidationPrice {
                asset,
                direction,
                price: Price::from_raw(raw),
                current: risk.price,
            });
        }
    }
    Ok(out)
}

/// For an account holding exactly one collateral asset and a debt in one other asset, the
/// relative liquidation price; `None` for any other shape.
///
/// # Errors
/// As [`Health::of`](super::Health::of).
pub fn pair_liquidation_price(
    account: &Account,
    snapshot: &RiskSnapshot,
) -> Result<Option<PairLiquidationPrice>, HealthError> {
    let [a, b] = account.positions() else {
        return Ok(None);
    };
    let (c, d) = match (
        a.debt.is_zero(),
        b.debt.is_zero(),
        a.supply.is_zero(),
        b.supply.is_zero(),
    ) {
        (true, false, false, true) => (a, b),
        (false, true, true, false) => (b, a),
        _ => return Ok(None),
    };
    let (rc, rd) = (snapshot.get(c.asset)?, snapshot.get(d.asset)?);
    let (hc, hd) = (Valued::of(c, rc)?, Valued::of(d, rd)?);
    let numerator = U512::from(hd.debt_amount.raw())
        * U512::from(rd.borrow_weight.raw())
        * U512::from(rc.decimals.unit())
        * U512::from(WAD);
    let denominator = U512::from(hc.supply_amount.raw())
        * U512::from(rc.liquidation_threshold.raw())
        * U512::from(rd.decimals.unit());
    let Ok(ratio) = quotient(numerator, denominator, Rounding::Down) else {
        return Ok(None);
    };
    let current = rc.price.raw();
    Ok(Some(PairLiquidationPrice {
        collateral: c.asset,
        debt: d.asset,
        ratio: Ratio::from_raw(ratio),
        current: Ratio::from_fraction(current, rd.price.raw(), Rounding::Down)?,
    }))
}
