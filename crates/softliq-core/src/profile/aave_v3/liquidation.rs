//! `LiquidationLogic.executeLiquidationCall` (v3.6), step by step in Aave's order so that the
//! first revert is Aave's first revert.
//!
//! 1. The borrower's account data at the block; the collateral balance `⌊s_c · I_c⌋` and the
//!    debt `⌈s_d · B_d⌉` in the chosen reserves.
//! 2. Validation: `HF < 1` strictly (`HealthFactorNotBelowThreshold`), the collateral bit
//!    (`CollateralCannotBeLiquidated`), a debt in the reserve
//!    (`SpecifiedCurrencyNotBorrowedByUser`).
//! 3. The close factor: the whole debt in the reserve, unless the reserve's collateral and
//!    debt are both worth at least 2,000 USD and HF > 0.95, when the cap is
//!    `percentMul(total debt in base, 50%)` converted back to tokens (down) if the reserve's
//!    debt is worth more than that.
//! 4. The collateral for the repaid debt: `⌊p_d · repay · 10^dec_c / (p_c · 10^dec_d)⌋`, times
//!    the bonus (`percentMul`, half up); when that exceeds the balance, all of it, and the debt
//!    needed `percentDivCeil(⌊p_c · balance · 10^dec_d / (p_d · 10^dec_c)⌋, bonus)`. The
//!    protocol fee is `percentMul(c − percentDiv(c, bonus), fee)` of that collateral, taken out
//!    of the liquidator's part.
//! 5. Dust: unless the call clears the reserve's debt or takes all the collateral, both
//!    leftovers must be worth at least 1,000 USD (debt rounded up, collateral down), else
//!    `MustNotLeaveDust` — the call reverts, it is not shrunk.
//! 6. Burns in Aave's order: the debt (`⌊amount / B⌋` scaled; the whole debt and a deficit
//!    for the rest when the call takes the account's last collateral), the collateral
//!    (`⌈amount / I⌉` scaled, paid out of the reserve's virtual balance unless aTokens are
//!    received), the fee to the treasury (`⌈fee / I⌉` scaled, capped by what is left), then
//!    every other debt of an account left without collateral becomes a deficit.

use super::account_data::account_data;
use super::math::{self, U256};
use super::{Position, Reserve, Revert};

/// `MIN_BASE_MAX_CLOSE_FACTOR_THRESHOLD`: 2,000 USD in base currency.
const MIN_BASE_MAX_CLOSE_FACTOR: U256 = U256::from_limbs([200_000_000_000, 0, 0, 0]);
/// `MIN_LEFTOVER_BASE`: 1,000 USD in base currency.
const MIN_LEFTOVER_BASE: U256 = U256::from_limbs([100_000_000_000, 0, 0, 0]);
/// `CLOSE_FACTOR_HF_THRESHOLD`: 0.95 as WAD.
const CLOSE_FACTOR_HF: U256 = U256::from_limbs([950_000_000_000_000_000, 0, 0, 0]);
/// `DEFAULT_LIQUIDATION_CLOSE_FACTOR`: 50% in basis points.
const CLOSE_FACTOR_BPS: U256 = U256::from_limbs([5_000, 0, 0, 0]);

/// A `liquidationCall`: which reserves (indexes into the market's reserves), how much debt the
/// liquidator offers to cover (`U256::MAX` for "as much as allowed"), and whether it takes
/// aTokens instead of the underlying.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Call {
    pub collateral: usize,
    pub debt: usize,
    pub debt_to_cover: U256,
    pub receive_a_token: bool,
}

/// What a successful call moves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Liquidation {
    /// Debt tokens the liquidator pays.
    pub debt_repaid: U256,
    /// Collateral the liquidator receives (underlying, or aTokens worth this much).
    pub collateral_to_liquidator: U256,
    /// The scaled aTokens the liquidator receives when it takes aTokens (`⌈amount / I⌉`), else 0.
    pub collateral_scaled_to_liquidator: U256,
    /// The protocol fee in collateral tokens, and in scaled aTokens sent to the treasury.
    pub protocol_fee: U256,
    pub protocol_fee_scaled: U256,
    /// Deficit created per reserve (bad debt burnt in this call).
    pub deficits: Vec<U256>,
    /// The borrower's positions after the call.
    pub positions: Vec<Position>,
    /// The borrower's account data before the call (what the call was validated on).
    pub account_before: super::AccountData,
}

/// The amounts of step 4, before any burn.
struct Split {
    collateral: U256,
    debt: U256,
    fee: U256,
    collateral_base: U256,
}

/// `liquidationCall` on a borrower's positions (one per reserve, in the reserves' order).
///
/// # Errors
/// The revert Aave v3.6 raises for the same call, by name.
///
/// # Panics
/// When `call` names a reserve outside `reserves`, or `positions` is not one per reserve.
pub fn liquidation_call(
    reserves: &[Reserve],
    positions: &[Position],
    call: Call,
) -> Result<Liquidation, Revert> {
    assert_eq!(reserves.len(), positions.len(), "one position per reserve");
    assert_ne!(
        call.collateral, call.debt,
        "collateral and debt must differ"
    );
    let account = account_data(reserves, positions)?;
    let (cr, dr) = (&reserves[call.collateral], &reserves[call.debt]);
    let (cp, dp) = (&positions[call.collateral], &positions[call.debt]);
    let balance = math::a_token_balance(cp.scaled_supply, cr.liquidity_index)?;
    let owed = math::v_token_balance(dp.scaled_debt, dr.borrow_index)?;
    if account.health_factor >= math::WAD {
        return Err(Revert::HealthFactorNotBelowThreshold);
    }
    if !cp.collateral {
        return Err(Revert::CollateralCannotBeLiquidated);
    }
    if owed.is_zero() {
        return Err(Revert::SpecifiedCurrencyNotBorrowedByUser);
    }
    let (c_unit, d_unit) = (math::unit(cr.decimals)?, math::unit(dr.decimals)?);
    let owed_base = math::mul_div_ceil(owed, dr.price, d_unit)?;
    let balance_base = math::div(math::mul(balance, cr.price)?, c_unit)?;
    let mut cap = owed;
    if balance_base >= MIN_BASE_MAX_CLOSE_FACTOR
        && owed_base >= MIN_BASE_MAX_CLOSE_FACTOR
        && account.health_factor > CLOSE_FACTOR_HF
    {
        let half = math::percent_mul(account.total_debt_base, CLOSE_FACTOR_BPS)?;
        if owed_base > half {
            cap = math::div(math::mul(half, d_unit)?, dr.price)?;
        }
    }
    let split = split(
        cr,
        dr,
        (c_unit, d_unit),
        call.debt_to_cover.min(cap),
        balance,
    )?;
    check_dust(&split, (cr, dr), (c_unit, d_unit), (owed, balance))?;
    settle(reserves, positions, call, &account, &split, owed)
}

/// `_calculateAvailableCollateralToLiquidate` (step 4).
fn split(
    cr: &Reserve,
    dr: &Reserve,
    (c_unit, d_unit): (U256, U256),
    debt_to_cover: U256,
    balance: U256,
) -> Result<Split, Revert> {
    let bonus = U256::from(cr.bonus_bps);
    let base = math::div(
        math::mul(math::mul(dr.price, debt_to_cover)?, c_unit)?,
        math::mul(cr.price, d_unit)?,
    )?;
    let max_collateral = math::percent_mul(base, bonus)?;
    let (mut collateral, debt) = if max_collateral > balance {
        let worth = math::div(
            math::mul(math::mul(cr.price, balance)?, d_unit)?,
            math::mul(dr.price, c_unit)?,
        )?;
        (balance, math::percent_div_ceil(worth, bonus)?)
    } else {
        (max_collateral, debt_to_cover)
    };
    let collateral_base = math::div(math::mul(collateral, cr.price)?, c_unit)?;
    let mut fee = U256::ZERO;
    if cr.protocol_fee_bps != 0 {
        let bonus_part = math::sub(collateral, math::percent_div(collateral, bonus)?)?;
        fee = math::percent_mul(bonus_part, U256::from(cr.protocol_fee_bps))?;
        collateral = math::sub(collateral, fee)?;
    }
    Ok(Split {
        collateral,
        debt,
        fee,
        collateral_base,
    })
}

/// Step 5: clear the debt, take all the collateral, or leave 1,000 USD of each.
fn check_dust(
    s: &Split,
    (cr, dr): (&Reserve, &Reserve),
    (c_unit, d_unit): (U256, U256),
    (owed, balance): (U256, U256),
) -> Result<(), Revert> {
    let taken = math::add(s.collateral, s.fee)?;
    if s.debt >= owed || taken >= balance {
        return Ok(());
    }
    let debt_left = math::mul_div_ceil(math::sub(owed, s.debt)?, dr.price, d_unit)?;
    let left = math::sub(math::sub(balance, s.collateral)?, s.fee)?;
    let collateral_left = math::div(math::mul(left, cr.price)?, c_unit)?;
    if debt_left >= MIN_LEFTOVER_BASE && collateral_left >= MIN_LEFTOVER_BASE {
        Ok(())
    } else {
        Err(Revert::MustNotLeaveDust)
    }
}

/// Step 6: the burns and transfers, in Aave's order.
fn settle(
    reserves: &[Reserve],
    positions: &[Position],
    call: Call,
    account: &super::AccountData,
    s: &Split,
    owed: U256,
) -> Result<Liquidation, Revert> {
    let mut after = positions.to_vec();
    let mut deficits = vec![U256::ZERO; reserves.len()];
    let (cr, dr) = (&reserves[call.collateral], &reserves[call.debt]);
    let balance = math::a_token_balance(after[call.collateral].scaled_supply, cr.liquidity_index)?;
    if math::add(s.collateral, s.fee)? == balance {
        after[call.collateral].collateral = false;
    }
    let no_collateral_left = account.total_collateral_base == s.collateral_base;
    let burn = if no_collateral_left { owed } else { s.debt };
    burn_debt(&mut after[call.debt], dr, burn)?;
    let outstanding = math::sub(owed, s.debt)?;
    if no_collateral_left {
        deficits[call.debt] = outstanding;
    }
    let c_index = cr.liquidity_index;
    let scaled = math::ray_div_ceil(s.collateral, c_index)?;
    if !call.receive_a_token {
        // The reserve's rate update subtracts the payout from its virtual balance (checked).
        math::sub(cr.virtual_balance, s.collateral)?;
        if scaled.is_zero() {
            return Err(Revert::InvalidBurnAmount);
        }
    }
    let from = &mut after[call.collateral].scaled_supply;
    *from = math::sub(*from, scaled)?;
    let mut fee = s.fee;
    let mut fee_scaled = U256::ZERO;
    if !fee.is_zero() {
        fee_scaled = math::ray_div_ceil(fee, c_index)?;
        if fee_scaled > *from {
            fee_scaled = *from;
            fee = math::a_token_balance(fee_scaled, c_index)?;
        }
        *from -= fee_scaled;
    }
    if no_collateral_left {
        burn_bad_debt(reserves, &mut after, &mut deficits)?;
    }
    Ok(Liquidation {
        debt_repaid: s.debt,
        collateral_to_liquidator: s.collateral,
        collateral_scaled_to_liquidator: if call.receive_a_token {
            scaled
        } else {
            U256::ZERO
        },
        protocol_fee: fee,
        protocol_fee_scaled: fee_scaled,
        deficits,
        positions: after,
        account_before: *account,
    })
}

/// `_burnDebtTokens`' burn: `⌊amount / B⌋` scaled units (nonzero), the borrowing bit cleared
/// when nothing is left.
fn burn_debt(p: &mut Position, r: &Reserve, amount: U256) -> Result<(), Revert> {
    let scaled = math::ray_div_floor(amount, r.borrow_index)?;
    if scaled.is_zero() {
        return Err(Revert::InvalidBurnAmount);
    }
    p.scaled_debt = math::sub(p.scaled_debt, scaled)?;
    if p.scaled_debt.is_zero() {
        p.borrowing = false;
    }
    Ok(())
}

/// `_burnBadDebt`: every debt still borrowed becomes a deficit of its reserve.
fn burn_bad_debt(
    reserves: &[Reserve],
    after: &mut [Position],
    deficits: &mut [U256],
) -> Result<(), Revert> {
    for (i, r) in reserves.iter().enumerate() {
        if !after[i].borrowing {
            continue;
        }
        let owed = math::v_token_balance(after[i].scaled_debt, r.borrow_index)?;
        if !owed.is_zero() {
            burn_debt(&mut after[i], r, owed)?;
        }
        deficits[i] = math::add(deficits[i], owed)?;
        if owed.is_zero() {
            after[i].borrowing = false;
        }
    }
    Ok(())
}
