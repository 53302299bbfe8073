//! `GenericLogic.calculateUserAccountData`: totals in base currency and the health factor.
//!
//! Each collateral is valued `⌊⌊scaled · index⌋ · price / 10^dec⌋` (rounded down twice), each
//! debt `⌈⌈scaled · index⌉ · price / 10^dec⌉` (up twice), before summing; the health factor is
//! `wadDiv(Σ value · lt_bps, debt) / 10,000` — half up, then down — and the maximum word when
//! there is no debt.

use super::math::{self, U256};
use super::{Position, Reserve, Revert};

/// What `getUserAccountData` reports that a liquidation depends on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AccountData {
    pub total_collateral_base: U256,
    pub total_debt_base: U256,
    /// WAD; `U256::MAX` without debt.
    pub health_factor: U256,
}

/// `getUserAccountData` for a borrower's positions (one per reserve, in the reserves' order).
///
/// # Errors
/// The revert Aave's arithmetic would raise on the same figures.
pub fn account_data(reserves: &[Reserve], positions: &[Position]) -> Result<AccountData, Revert> {
    let mut collateral = U256::ZERO;
    let mut weighted = U256::ZERO;
    let mut debt = U256::ZERO;
    for (r, p) in reserves.iter().zip(positions) {
        let unit = math::unit(r.decimals)?;
        if p.collateral {
            let value = collateral_base(r, p.scaled_supply, unit)?;
            collateral = math::add(collateral, value)?;
            weighted = math::add(weighted, math::mul(value, U256::from(r.lt_bps))?)?;
        }
        if p.borrowing {
            let owed = math::v_token_balance(p.scaled_debt, r.borrow_index)?;
            debt = math::add(debt, math::mul_div_ceil(owed, r.price, unit)?)?;
        }
    }
    let health_factor = if debt.is_zero() {
        U256::MAX
    } else {
        math::wad_div(weighted, debt)? / math::PERCENTAGE_FACTOR
    };
    Ok(AccountData {
        total_collateral_base: collateral,
        total_debt_base: debt,
        health_factor,
    })
}

/// `⌊⌊scaled · index⌋ · price / unit⌋`: one collateral's value in base currency.
fn collateral_base(r: &Reserve, scaled: U256, unit: U256) -> Result<U256, Revert> {
    let balance = math::a_token_balance(scaled, r.liquidity_index)?;
    Ok(math::mul(balance, r.price)? / unit)
}
