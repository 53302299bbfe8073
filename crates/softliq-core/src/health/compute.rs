//! Account health (SPEC §3): one pass over the positions, each valued once.
//!
//! Rounding, in the protocol's favour: supply balances and collateral values round down; debt
//! balances and debt values round up. `C` and `D` are the sums of the rounded per-position
//! terms, so an account's total is exactly the sum of what its positions report.

use crate::account::{Account, Position};
use crate::asset::AssetId;
use crate::money::{Amount, MathError, Ratio, Rounding, Value};

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

impl PositionHealth {
    /// Values `pos` with its asset's `risk`.
    ///
    /// # Errors
    /// `Overflow` for a position too large to value.
    #[inline]
    pub fn of(pos: &Position, risk: &AssetRisk) -> Result<Self, MathError> {
        let (mut h, price, decimals) = (Self::empty(pos.asset), risk.price, risk.decimals);
        if !pos.supply.is_zero() {
            h.supply_amount = pos.supply.to_amount(risk.supply_index, Rounding::Down)?;
            h.collateral_value = h.supply_amount.value_at(price, decimals, Rounding::Down)?;
            h.borrowing_power = h
                .collateral_value
                .mul_ratio(risk.collateral_factor, Rounding::Down)?;
            h.liquidation_collateral = h
                .collateral_value
                .mul_ratio(risk.liquidation_threshold, Rounding::Down)?;
        }
        if !pos.debt.is_zero() {
            h.debt_amount = pos.debt.to_amount(risk.borrow_index, Rounding::Up)?;
            h.debt_value = h.debt_amount.value_at(price, decimals, Rounding::Up)?;
            h.weighted_debt = h.debt_value.mul_ratio(risk.borrow_weight, Rounding::Up)?;
        }
        Ok(h)
    }

    const fn empty(asset: AssetId) -> Self {
        Self {
            asset,
            supply_amount: Amount::ZERO,
            debt_amount: Amount::ZERO,
            collateral_value: Value::ZERO,
            borrowing_power: Value::ZERO,
            liquidation_collateral: Value::ZERO,
            debt_value: Value::ZERO,
            weighted_debt: Value::ZERO,
        }
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
        let mut total = Self::default();
        for pos in account.positions() {
            total.add(&PositionHealth::of(pos, snapshot.get(pos.asset)?)?)?;
        }
        Ok(total)
    }

    fn add(&mut self, p: &PositionHealth) -> Result<(), MathError> {
        self.collateral_value = self.collateral_value.checked_add(p.collateral_value)?;
        self.borrowing_power = self.borrowing_power.checked_add(p.borrowing_power)?;
        self.liquidation_collateral = self
            .liquidation_collateral
            .checked_add(p.liquidation_collateral)?;
        self.weighted_debt = self.weighted_debt.checked_add(p.weighted_debt)?;
        self.debt_value = self.debt_value.checked_add(p.debt_value)?;
        Ok(())
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

/// Every position valued, in the account's order (for reports; [`Health::of`] is the fast path).
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
