//! Account health (docs/risk-model.md): one pass over the positions, each valued once.
//!
//! Rounding, in the protocol's favour: supply balances and collateral values round down; debt
//! balances and debt values round up. The weighted totals `B`, `C` and `D` are exact sums of
//! `value · weight` rounded once per account (down for `B` and `C`, up for `D`), which is both
//! closer to the exact figure and cheaper than rounding every term.

use crate::account::{Account, Position};
use crate::asset::AssetId;
use crate::money::{Amount, Index, MathError, Ratio, Rounding, Scaler, Shares, Value, WeightedSum};

use super::snapshot::Scalers;
use super::{AssetRisk, HealthError, RiskSnapshot};

/// One position valued at the snapshot's prices.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PositionHealth {
    pub asset: AssetId,
    /// Supply balance in base units (rounded down).
    pub supply_amount: Amount,
    /// Debt balance in base units (rounded up).
    pub debt_amount: Amount,
    /// `a · p` of the supply (down).
    pub collateral_value: Value,
    /// `a · p · cf` (down).
    pub borrowing_power: Value,
    /// `a · p · lt` (down).
    pub liquidation_collateral: Value,
    /// `a · p` of the debt (up).
    pub debt_value: Value,
    /// `a · p · bw` (up).
    pub weighted_debt: Value,
}

/// A position's balances and unweighted values: the part every health figure starts from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Valued {
    pub supply_amount: Amount,
    pub debt_amount: Amount,
    pub collateral_value: Value,
    pub debt_value: Value,
}

impl Valued {
    /// Values `pos` by dividing: the definition, and the reference [`Valued::scaled`] equals
    /// (the same steps with no scaler, so every step divides).
    #[inline]
    pub(crate) fn of(pos: &Position, risk: &AssetRisk) -> Result<Self, MathError> {
        Self::scaled(pos, risk, &Scalers::NONE)
    }

    /// Values `pos` as [`Valued::of`] does, to the last unit, with the snapshot's `scalers`:
    /// each step multiplies by a prepared rational and divides exactly only where the
    /// multiplication cannot decide the rounding (money::scaler). The hot loop of health.
    #[inline(always)]
    pub(crate) fn scaled(
        pos: &Position,
        risk: &AssetRisk,
        scalers: &Scalers,
    ) -> Result<Self, MathError> {
        let mut v = Self::default();
        if !pos.supply.is_zero() {
            (v.supply_amount, v.collateral_value) = side(
                pos.supply,
                risk,
                (scalers.supply, risk.supply_index),
                scalers.value,
                Rounding::Down,
            )?;
        }
        if !pos.debt.is_zero() {
            (v.debt_amount, v.debt_value) = side(
                pos.debt,
                risk,
                (scalers.borrow, risk.borrow_index),
                scalers.value,
                Rounding::Up,
            )?;
        }
        Ok(v)
    }
}

/// One side of a position, scaled: shares to an amount at the side's index, the amount to a
/// value at the price, each by its scaler where it decides and by division where it declines.
#[inline(always)]
fn side(
    shares: Shares,
    risk: &AssetRisk,
    (index_scaler, index): (Option<Scaler>, Index),
    value_scaler: Option<Scaler>,
    rounding: Rounding,
) -> Result<(Amount, Value), MathError> {
    let amount = match index_scaler.and_then(|s| s.mul(shares.raw(), rounding)) {
        Some(a) => Amount::from_raw(a),
        None => shares.to_amount(index, rounding)?,
    };
    let value = match value_scaler.and_then(|s| s.mul(amount.raw(), rounding)) {
        Some(v) => Value::from_raw(v),
        None => amount.value_at(risk.price, risk.decimals, rounding)?,
    };
    Ok((amount, value))
}

impl PositionHealth {
    /// Values `pos` with its asset's `risk`; each weighted figure rounded on its own.
    ///
    /// # Errors
    /// `Overflow` for a position too large to value.
    pub fn of(pos: &Position, risk: &AssetRisk) -> Result<Self, MathError> {
        let v = Valued::of(pos, risk)?;
        Ok(Self {
            asset: pos.asset,
            supply_amount: v.supply_amount,
            debt_amount: v.debt_amount,
            collateral_value: v.collateral_value,
            borrowing_power: v
                .collateral_value
                .mul_ratio(risk.collateral_factor, Rounding::Down)?,
            liquidation_collateral: v
                .collateral_value
                .mul_ratio(risk.liquidation_threshold, Rounding::Down)?,
            debt_value: v.debt_value,
            weighted_debt: v.debt_value.mul_ratio(risk.borrow_weight, Rounding::Up)?,
        })
    }
}

/// The exact sums behind [`Health`], before the one rounding of each total. Because they are
/// exact, the health of an account after a change to a few positions is these sums less the
/// old terms of those positions plus their new ones — the same figure a full pass would give.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Totals {
    b: WeightedSum,
    c: WeightedSum,
    d: WeightedSum,
    collateral_value: Value,
    debt_value: Value,
}

impl Totals {
    #[inline]
    pub(crate) fn of(account: &Account, snapshot: &RiskSnapshot) -> Result<Self, HealthError> {
        let mut t = Self::default();
        for pos in account.positions() {
            let (risk, scalers) = snapshot.entry(pos.asset)?;
            t.add(&Valued::scaled(pos, risk, scalers)?, risk)?;
        }
        Ok(t)
    }

    #[inline]
    pub(crate) fn add(&mut self, v: &Valued, risk: &AssetRisk) -> Result<(), MathError> {
        if !v.collateral_value.is_zero() {
            self.collateral_value = self.collateral_value.checked_add(v.collateral_value)?;
            self.b.add(v.collateral_value, risk.collateral_factor)?;
            self.c.add(v.collateral_value, risk.liquidation_threshold)?;
        }
        if !v.debt_value.is_zero() {
            self.debt_value = self.debt_value.checked_add(v.debt_value)?;
            self.d.add(v.debt_value, risk.borrow_weight)?;
        }
        Ok(())
    }

    /// Removes a position's terms (valued exactly as when they were added).
    pub(crate) fn sub(&mut self, v: &Valued, risk: &AssetRisk) -> Result<(), MathError> {
        if !v.collateral_value.is_zero() {
            self.collateral_value = self.collateral_value.checked_sub(v.collateral_value)?;
            self.b.sub(v.collateral_value, risk.collateral_factor)?;
            self.c.sub(v.collateral_value, risk.liquidation_threshold)?;
        }
        if !v.debt_value.is_zero() {
            self.debt_value = self.debt_value.checked_sub(v.debt_value)?;
            self.d.sub(v.debt_value, risk.borrow_weight)?;
        }
        Ok(())
    }

    /// `C`, rounded down (zero without collateral, without a division).
    pub(crate) fn liquidation_collateral(&self) -> Result<Value, MathError> {
        if self.collateral_value.is_zero() {
            return Ok(Value::ZERO);
        }
        self.c.total(Rounding::Down)
    }

    /// `D`, rounded up (zero without debt, without a division).
    pub(crate) fn weighted_debt(&self) -> Result<Value, MathError> {
        if self.debt_value.is_zero() {
            return Ok(Value::ZERO);
        }
        self.d.total(Rounding::Up)
    }

    /// The exact sum behind `B`, for callers that round it only when they need it.
    pub(crate) const fn borrowing_power_sum(&self) -> WeightedSum {
        self.b
    }

    /// Rounds each total once: `B`, `C` down, `D` up.
    pub(crate) fn health(&self) -> Result<Health, MathError> {
        // A side with no positions skips its divisions (an account without debt is common).
        let (b, c) = if self.collateral_value.is_zero() {
            (Value::ZERO, Value::ZERO)
        } else {
            (self.b.total(Rounding::Down)?, self.c.total(Rounding::Down)?)
        };
        let d = if self.debt_value.is_zero() {
            Value::ZERO
        } else {
            self.d.total(Rounding::Up)?
        };
        Ok(Health {
            collateral_value: self.collateral_value,
            borrowing_power: b,
            liquidation_collateral: c,
            weighted_debt: d,
            debt_value: self.debt_value,
        })
    }
}

/// An account's aggregate health at one snapshot.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Health {
    /// `Σ a·p` of collateral.
    pub collateral_value: Value,
    /// `B = Σ a·p·cf`.
    pub borrowing_power: Value,
    /// `C = Σ a·p·lt`.
    pub liquidation_collateral: Value,
    /// `D = Σ a·p·bw`.
    pub weighted_debt: Value,
    /// `V = Σ a·p` of debt.
    pub debt_value: Value,
}

impl Health {
    /// Computes health in one pass.
    ///
    /// # Errors
    /// `MissingAsset` for a position whose asset has no price; `Math` on overflow.
    pub fn of(account: &Account, snapshot: &RiskSnapshot) -> Result<Self, HealthError> {
        Ok(Totals::of(account, snapshot)?.health()?)
    }

    /// `HF = C / D`, rounded down; `None` when there is no debt (HF is infinite). A ratio too
    /// large for a WAD saturates at [`Ratio::MAX`] (≈ 3.4·10^20).
    #[must_use]
    pub fn health_factor(&self) -> Option<Ratio> {
        if self.weighted_debt.is_zero() {
            return None;
        }
        Some(
            self.liquidation_collateral
                .ratio_to(self.weighted_debt, Rounding::Down)
                .unwrap_or(Ratio::MAX),
        )
    }

    /// `RL = D / C`, rounded up: 0 without debt, [`Ratio::MAX`] with debt and no collateral.
    #[must_use]
    pub fn risk_level(&self) -> Ratio {
        if self.weighted_debt.is_zero() {
            return Ratio::ZERO;
        }
        self.weighted_debt
            .ratio_to(self.liquidation_collateral, Rounding::Up)
            .unwrap_or(Ratio::MAX)
    }

    /// `D > 0` and `D ≥ C` (HF ≤ 1), compared exactly on the integers, not on a rounded HF.
    #[must_use]
    pub fn is_liquidatable(&self) -> bool {
        !self.weighted_debt.is_zero() && self.weighted_debt >= self.liquidation_collateral
    }

    /// `D ≤ B`: the condition every borrow and withdrawal must leave true.
    #[must_use]
    pub fn within_borrowing_power(&self) -> bool {
        self.weighted_debt <= self.borrowing_power
    }

    /// `B − D`, or zero when the account is already past its borrowing power.
    #[must_use]
    pub fn borrowing_power_left(&self) -> Value {
        self.borrowing_power.saturating_sub(self.weighted_debt)
    }
}

/// Every position valued, in the account's order, each weighted figure rounded on its own (for
/// reports; [`Health::of`] is the fast path, and its weighted totals round once, so they may
/// exceed the sum of these by less than one unit per position — or, for `D`, fall short of it).
///
/// # Errors
/// As [`Health::of`].
pub fn position_health(
    account: &Account,
    snapshot: &RiskSnapshot,
) -> Result<Vec<PositionHealth>, HealthError> {
    account
        .positions()
        .iter()
        .map(|pos| Ok(PositionHealth::of(pos, snapshot.get(pos.asset)?)?))
        .collect()
}

/// The account's largest debt and largest collateral by plain value at `snapshot` (debt
/// rounded up, collateral down, as [`PositionHealth`] values them): the pair a Dutch auction
/// sells when the caller does not name one. Ties go to the lower asset id. `None` on a side
/// with nothing of value.
///
/// # Errors
/// A position's asset without a price in `snapshot`, or an overflow.
pub fn largest_pair(
    account: &Account,
    snapshot: &RiskSnapshot,
) -> Result<(Option<AssetId>, Option<AssetId>), HealthError> {
    let positions = position_health(account, snapshot)?;
    let largest = |side: fn(&PositionHealth) -> Value| {
        positions
            .iter()
            .filter(|p| !side(p).is_zero())
            .min_by(|a, b| side(b).cmp(&side(a)).then(a.asset.cmp(&b.asset)))
            .map(|p| p.asset)
    };
    Ok((largest(|p| p.debt_value), largest(|p| p.collateral_value)))
}
