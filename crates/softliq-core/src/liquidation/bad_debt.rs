//! Bad debt (docs/liquidation.md, Bad debt): debt that no collateral is left to repay, realised in
//! the command that leaves it. The asset's insurance fund — itself a supplier of the pool — covers
//! what its claim allows; the rest is written off by lowering the supply index, so every supplier
//! loses in proportion to its balance. Each step is an event.

use super::Refusal;
use super::settle::pool_mut;
use crate::account::Account;
use crate::asset::AssetId;
use crate::health::{Health, RiskSnapshot};
use crate::money::{Amount, Rounding, Shares, Value};
use crate::pool::Pool;

/// One step of realising bad debt.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum BadDebtEvent {
    /// Collateral worth less than the dust value, moved to the insurance fund before the debt
    /// it cannot repay is realised.
    CollateralSwept { asset: AssetId, shares: Shares },
    /// The insurance fund's claim in `asset` paid `amount` of the debt.
    InsuranceCovered { asset: AssetId, amount: Amount },
    /// `amount` was written off against the suppliers of `asset`.
    Socialised { asset: AssetId, amount: Amount },
    /// The pool's reserves paid `amount` of the debt (only when the protocol absorbs an
    /// account, see [`super::absorb`]).
    ReservesCovered { asset: AssetId, amount: Amount },
}

impl BadDebtEvent {
    /// The part of the debt that was not repaid by anyone: the socialised amount, else zero.
    #[must_use]
    pub const fn socialised(&self) -> Option<(AssetId, Amount)> {
        match *self {
            Self::Socialised { asset, amount } => Some((asset, amount)),
            _ => None,
        }
    }
}

/// Whether `account` holds debt that must be realised now: it owes something and has no
/// collateral, or is liquidatable with collateral worth less than `dust_value` (too little to
/// pay any liquidator).
///
/// # Errors
/// As [`Health::of`].
pub fn has_bad_debt(
    account: &Account,
    snapshot: &RiskSnapshot,
    dust_value: Value,
) -> Result<bool, Refusal> {
    if !account.has_debt() {
        return Ok(false);
    }
    if account.positions().iter().all(|p| p.supply.is_zero()) {
        return Ok(true);
    }
    let h = Health::of(account, snapshot)?;
    Ok(h.is_liquidatable() && h.collateral_value < dust_value)
}

/// Realises `account`'s bad debt, if it has any: sweeps its dust collateral to `insurance`,
/// lets the insurance fund's claim in each debt asset cover what it can, and writes off the
/// rest against that asset's suppliers.
///
/// # Errors
/// A pool operation that fails (which would be a broken invariant).
pub fn realise_bad_debt(
    account: &mut Account,
    snapshot: &RiskSnapshot,
    insurance: &mut Account,
    pools: &mut [Pool],
    dust_value: Value,
) -> Result<Vec<BadDebtEvent>, Refusal> {
    let mut events = Vec::new();
    if !has_bad_debt(account, snapshot, dust_value)? {
        return Ok(events);
    }
    for pos in account.positions().to_vec() {
        if !pos.supply.is_zero() {
            account.remove_supply(pos.asset, pos.supply)?;
            insurance.add_supply(pos.asset, pos.supply)?;
            events.push(BadDebtEvent::CollateralSwept {
                asset: pos.asset,
                shares: pos.supply,
            });
        }
    }
    events.extend(write_off_debt(account, insurance, pools)?);
    Ok(events)
}

/// Writes off all of `account`'s debt through the waterfall (insurance fund, then suppliers),
/// leaving its collateral where it is: what a profile that burns the rest of an emptied
/// account's debt does (see [`super::Quote::writes_off`]).
///
/// # Errors
/// A pool operation that fails (which would be a broken invariant).
pub fn write_off_debt(
    account: &mut Account,
    insurance: &mut Account,
    pools: &mut [Pool],
) -> Result<Vec<BadDebtEvent>, Refusal> {
    let mut events = Vec::new();
    for pos in account.positions().to_vec() {
        if !pos.debt.is_zero() {
            let pool = pool_mut(pools, pos.asset)?;
            let cleared = clear_debt(pool, pos.asset, pos.debt, insurance, Waterfall::Insurance)?;
            account.remove_debt(pos.asset, pos.debt)?;
            events.extend(cleared);
        }
    }
    Ok(events)
}

/// Who pays debt that no collateral repays, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Waterfall {
    /// The insurance fund's claim, then the suppliers (docs/liquidation.md, a liquidation's bad
    /// debt).
    Insurance,
    /// The pool's reserves, then the insurance fund, then the suppliers: the protocol's own
    /// losses when it absorbs an account (see [`super::absorb`]).
    Reserves,
}

/// Clears `debt` shares of `asset` that nobody will repay, by `order`, and returns the steps.
/// The caller removes the shares from the debtor.
pub(crate) fn clear_debt(
    pool: &mut Pool,
    asset: AssetId,
    debt: Shares,
    insurance: &mut Account,
    order: Waterfall,
) -> Result<Vec<BadDebtEvent>, Refusal> {
    let mut events = Vec::new();
    let mut rest = debt;
    if order == Waterfall::Reserves && !pool.reserves().is_zero() {
        let (burned, amount) = pool.forgive(rest)?;
        rest = rest.checked_sub(burned)?;
        events.push(BadDebtEvent::ReservesCovered { asset, amount });
    }
    let fund = insurance.position(asset).supply;
    if !fund.is_zero() && !rest.is_zero() {
        let (used, burned, amount) = cover_with(pool, fund, rest)?;
        insurance.remove_supply(asset, used)?;
        rest = rest.checked_sub(burned)?;
        events.push(BadDebtEvent::InsuranceCovered { asset, amount });
    }
    if !rest.is_zero() {
        let amount = pool.write_off(rest)?;
        events.push(BadDebtEvent::Socialised { asset, amount });
    }
    Ok(events)
}

/// Repays up to `owed` debt shares out of a supplier's `fund` shares of the same pool, without
/// moving cash: the fund's claim is rounded down, and only the shares it needs are used (rounded
/// up). Returns (supply shares used, debt shares burned, amount repaid).
pub(crate) fn cover_with(
    pool: &mut Pool,
    fund: Shares,
    owed: Shares,
) -> Result<(Shares, Shares, Amount), Refusal> {
    let debt = owed.to_amount(pool.borrow_index(), Rounding::Up)?;
    let claim = fund.to_amount(pool.supply_index(), Rounding::Down)?;
    let used = if claim <= debt {
        fund
    } else {
        debt.to_shares(pool.supply_index(), Rounding::Up)?.min(fund)
    };
    let (burned, amount) = pool.cover(used, owed)?;
    Ok((used, burned, amount))
}
