//! The float pre-check of health: one rule, with its error proof, for every place that screens
//! many accounts before the exact check (the engine's detection, the simulator's per-step
//! scan). An estimate decides only when it is clear of the line by more than its worst error;
//! otherwise the exact [`Health::of`](super::Health::of) decides. Used that way, a screen never
//! changes an outcome, it only saves exact checks; the engine and the simulator each test that
//! against the exact check on random accounts.
//!
//! # The error bound
//! Per position, the exact check turns shares into tokens (rounded down for supply, up for
//! debt: at most one base unit, worth `price / 10^decimals` times the weight), values them
//! (one wei) and weights them (one wei), then rounds each total once (one wei). The estimate
//! multiplies the shares by a per-asset factor `index · price · weight / 10^decimals` in
//! `f64`, a relative error below 10⁻¹⁵ per step. The margin the estimate must clear is
//! therefore `10⁻¹² · (C + D)` plus, per position, one base unit's weighted value on each side
//! it holds (a side with no shares is exactly zero in both) and `10⁻¹⁵` USD. Against a
//! threshold `t` other than 1 (`C < t·D`), every term of the margin scales by at most
//! `max(1, t)`.
//!
//! The price in the factor is the snapshot's exact price: a screen fed a float price (the
//! simulator's path) must first round it as the snapshot does, or the bound does not hold.

use super::AssetRisk;

/// Relative error budget of the estimate (far above `f64`'s, for a handful of operations).
pub const RELATIVE: f64 = 1e-12;
/// Absolute error budget per position for the wei roundings, in USD.
pub const WEI_USD: f64 = 1e-15;
/// Above this (USD), the exact check may overflow where the float does not: leave it to it.
pub const VALUE_MAX_USD: f64 = 1e18;

/// One asset's float factors. The collateral factor moves with price × supply index ×
/// liquidation threshold, the debt factor with price × borrow index × borrow weight.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Factors {
    /// USD of liquidation collateral per supply share.
    pub collateral: f64,
    /// USD of weighted debt per debt share.
    pub debt: f64,
    /// USD of plain (unweighted) value per supply share and per debt share.
    pub supply_value: f64,
    pub debt_value: f64,
    /// One base unit's liquidation-collateral value.
    pub unit_collateral: f64,
    /// One base unit's weighted-debt value.
    pub unit_debt: f64,
    /// The pool's supply index (it falls only when bad debt is socialised).
    pub supply_index: f64,
    /// Liquidation threshold and borrow weight.
    pub weights: (f64, f64),
}

impl Factors {
    /// The factors of one asset's exact risk view.
    #[must_use]
    pub fn of(risk: &AssetRisk) -> Self {
        let per_unit = risk.price.to_f64() / 10f64.powi(i32::from(risk.decimals.get()));
        let lt = risk.liquidation_threshold.to_f64();
        let bw = risk.borrow_weight.to_f64();
        let supply_index = risk.supply_index.to_f64();
        let supply_value = supply_index * per_unit;
        let debt_value = risk.borrow_index.to_f64() * per_unit;
        Self {
            collateral: supply_value * lt,
            debt: debt_value * bw,
            supply_value,
            debt_value,
            unit_collateral: per_unit * lt,
            unit_debt: per_unit * bw,
            supply_index,
            weights: (lt, bw),
        }
    }

    /// The margin one position adds: a base unit on each side it holds, and the wei roundings.
    #[must_use]
    pub fn position_slack(&self, supplied: bool, owed: bool) -> f64 {
        let c = if supplied { self.unit_collateral } else { 0.0 };
        let d = if owed { self.unit_debt } else { 0.0 };
        c + d + WEI_USD
    }
}

/// An account's estimate: the weighted sums and the error they must clear.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Estimate {
    /// Liquidation collateral and weighted debt, USD.
    pub collateral: f64,
    pub debt: f64,
    /// The positions' margins plus [`RELATIVE`] of both sums.
    pub slack: f64,
    pub has_debt: bool,
}

impl Estimate {
    /// An estimate from sums and the positions' margins (see [`Factors::position_slack`]);
    /// `None` beyond [`VALUE_MAX_USD`], where only the exact check can say.
    #[must_use]
    pub fn new(collateral: f64, debt: f64, positions_slack: f64, has_debt: bool) -> Option<Self> {
        if collateral > VALUE_MAX_USD || debt > VALUE_MAX_USD {
            return None;
        }
        Some(Self {
            collateral,
            debt,
            slack: positions_slack + RELATIVE * (collateral + debt),
            has_debt,
        })
    }

    /// Liquidatable (HF < 1): `Some` when clear by more than the error, `None` when only the
    /// exact check can say.
    #[must_use]
    pub fn verdict(&self) -> Option<bool> {
        self.below(1.0)
    }

    /// Whether the health factor is below `threshold` (`C < t·D`): `Some` when clear by more
    /// than the error scaled to the threshold, `None` when only the exact check can say.
    #[must_use]
    pub fn below(&self, threshold: f64) -> Option<bool> {
        if !self.has_debt {
            return Some(false);
        }
        let slack = self.slack * threshold.max(1.0);
        let gap = self.collateral - threshold * self.debt;
        if gap > slack {
            Some(false)
        } else if -gap > slack {
            Some(true)
        } else {
            None
        }
    }
}

/// `x` as `f64` from its two 64-bit halves: two hardware conversions instead of the slow
/// 128-bit one, within one part in 2⁵² of `x` (far inside the error budget).
#[inline]
#[must_use]
#[allow(clippy::cast_possible_truncation)]
pub fn shares_f64(x: u128) -> f64 {
    const TWO_64: f64 = 18_446_744_073_709_551_616.0;
    ((x >> 64) as u64) as f64 * TWO_64 + (x as u64) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_halves_are_close() {
        for x in [
            0u128,
            1,
            u128::from(u64::MAX),
            1 << 64,
            (1 << 64) + 1,
            u128::MAX,
            10u128.pow(30) + 7,
        ] {
            let exact = x as f64;
            assert!((shares_f64(x) - exact).abs() <= exact * 1e-15, "{x}");
        }
    }

    #[test]
    fn a_threshold_scales_the_margin() {
        let e = Estimate::new(100.0, 100.0 / 1.2, 1e-6, true).unwrap();
        assert_eq!(e.below(1.0), Some(false), "HF 1.2 is clear of 1");
        assert_eq!(
            e.below(1.2),
            None,
            "on the threshold only the exact check can say"
        );
        assert_eq!(e.below(1.3), Some(true));
        assert_eq!(
            Estimate::new(1.0, 0.0, 0.0, false).unwrap().below(5.0),
            Some(false)
        );
        assert_eq!(Estimate::new(2e18, 1.0, 0.0, true), None);
    }
}
