//! Liquidation prices (SPEC §3): the price of one asset at which the account reaches HF = 1,
//! all else fixed; and for a one-collateral/one-debt account of two volatile assets, the
//! relative price at which it does.
//!
//! ## Derivation
//! Let asset `x` be held with supply `a_s` and debt `a_d` (either may be zero), one whole token
//! being `u = 10^decimals` base units. At price `p` its exact contributions are
//! `C_x = a_s·p·lt / (u·WAD)` and `D_x = a_d·p·bw / (u·WAD)` (values and ratios in WAD).
//! Every other position contributes the fixed, already rounded `C_rest = C − C_x` and
//! `D_rest = D − D_x`. HF = 1 means `C_rest + C_x = D_rest + D_x`, so
//!
//! ```text
//! p* = (D_rest − C_rest) · u · WAD / (a_s·lt − a_d·bw)
//! ```
//!
//! - `a_s·lt > a_d·bw` (net collateral): HF falls with `p`; `p*` exists when `D_rest > C_rest`.
//!   This is SPEC's `p_c* = (D − (C − a_c p_c lt_c)) / (a_c lt_c)` when `a_d = 0`. Rounded
//!   **down**: `p*` is the highest price at which the exact account is liquidatable.
//! - `a_d·bw > a_s·lt` (net debt): HF falls as `p` rises; `p*` exists when `C_rest > D_rest`,
//!   SPEC's `p_d*` when `a_s = 0`. Rounded **up**: the lowest price at which it is.
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
use crate::money::{MathError, Price, Ratio, Rounding, WAD};

use super::{Health, HealthError, PositionHealth, RiskSnapshot};

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
/// As [`Health::of`].
pub fn liquidation_prices(
    account: &Account,
    snapshot: &RiskSnapshot,
) -> Result<Vec<LiquidationPrice>, HealthError> {
    let health = Health::of(account, snapshot)?;
    let mut out = Vec::new();
    for pos in account.positions() {
        let risk = snapshot.get(pos.asset)?;
        let own = PositionHealth::of(pos, risk)?;
        let c_rest = health
            .liquidation_collateral
            .checked_sub(own.liquidation_collateral)?;
        let d_rest = health.weighted_debt.checked_sub(own.weighted_debt)?;
        let k_collateral =
            U512::from(own.supply_amount.raw()) * U512::from(risk.liquidation_threshold.raw());
        let k_debt = U512::from(own.debt_amount.raw()) * U512::from(risk.borrow_weight.raw());
        let scale = U512::from(risk.decimals.unit()) * U512::from(WAD);
        let solved = if k_collateral > k_debt && d_rest > c_rest {
            let gap = U512::from(d_rest.checked_sub(c_rest)?.raw());
            Some((
                Direction::Falls,
                quotient(gap * scale, k_collateral - k_debt, Rounding::Down),
            ))
        } else if k_debt > k_collateral && c_rest > d_rest {
            let gap = U512::from(c_rest.checked_sub(d_rest)?.raw());
            Some((
                Direction::Rises,
                quotient(gap * scale, k_debt - k_collateral, Rounding::Up),
            ))
        } else {
            None
        };
        // A price past u128 (or a rising one at zero) is no price at all.
        if let Some((direction, Ok(raw))) = solved
            && raw > 0
        {
            out.push(LiquidationPrice {
                asset: pos.asset,
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
/// As [`Health::of`].
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
    let (hc, hd) = (PositionHealth::of(c, rc)?, PositionHealth::of(d, rd)?);
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

fn quotient(numerator: U512, denominator: U512, rounding: Rounding) -> Result<u128, MathError> {
    if denominator.is_zero() {
        return Err(MathError::DivisionByZero);
    }
    let (q, r) = numerator.div_rem(denominator);
    let q = if rounding == Rounding::Up && !r.is_zero() {
        q + U512::from(1u8)
    } else {
        q
    };
    u128::try_from(q).map_err(|_| MathError::Overflow)
}
