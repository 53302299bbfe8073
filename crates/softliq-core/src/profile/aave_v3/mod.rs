//! The `aave_v3` profile: Aave v3.6's account data and `liquidationCall`, to the wei
//! (aave-v3-origin 3.6.0; docs/liquidation.md, "Protocol profiles").
//!
//! A reserve is described as Aave stores it at one block (8-decimal base-currency price,
//! basis-point parameters, ray indexes already brought to the block, the pool's virtual
//! balance) and a borrower as its scaled balances and configuration flags. [`account_data`] is
//! `getUserAccountData`; [`liquidation_call`] is `liquidationCall` with `receiveAToken` either
//! way, returning what moves or the revert Aave would raise, by its error name.
//!
//! What is not modelled, because softliq's markets do not have it: e-mode categories,
//! isolation-mode debt ceilings, paused or inactive reserves, liquidation grace periods, the
//! price-oracle sentinel, self-liquidation, and a call whose collateral and debt are the same
//! asset. Each of those would only add a revert or an alternative parameter to the same
//! arithmetic. Interest accrual is also outside: the indexes come in as Aave computed them
//! (`getReserveNormalizedIncome` / `getReserveNormalizedVariableDebt` at the block).
//!
//! The committed vectors (`tests/data/aave_v3_vectors.json`, made by
//! `tools/aave_vectors/generate.py` from Aave's own compiled contracts) are replayed by
//! `tests/aave_v3_vectors.rs` and must agree on every figure.

mod account_data;
mod liquidation;
pub mod math;
#[cfg(test)]
mod tests;

pub use account_data::{AccountData, account_data};
pub use liquidation::{Call, Liquidation, liquidation_call};
pub use ruint::aliases::U256;

/// One reserve as Aave holds it at the block of the call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reserve {
    pub decimals: u8,
    /// The oracle's price in base currency (USD with 8 decimals).
    pub price: U256,
    pub ltv_bps: u16,
    pub lt_bps: u16,
    /// `liquidationBonus`: 10,000 + the bonus, in basis points (10,500 is a 5% bonus).
    pub bonus_bps: u16,
    /// The protocol's share of the bonus collateral, in basis points.
    pub protocol_fee_bps: u16,
    /// Ray; the normalized income at the block.
    pub liquidity_index: U256,
    /// Ray; the normalized variable debt at the block.
    pub borrow_index: U256,
    /// `getVirtualUnderlyingBalance`: the underlying the reserve can pay out.
    pub virtual_balance: U256,
}

/// A borrower's position in one reserve: scaled balances and its two configuration bits.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Position {
    pub scaled_supply: U256,
    pub scaled_debt: U256,
    /// The reserve counts as the borrower's collateral.
    pub collateral: bool,
    /// The borrower's "borrowing" bit for the reserve.
    pub borrowing: bool,
}

/// A revert, named as Aave v3.6 names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Revert {
    #[error("HealthFactorNotBelowThreshold")]
    HealthFactorNotBelowThreshold,
    #[error("CollateralCannotBeLiquidated")]
    CollateralCannotBeLiquidated,
    #[error("SpecifiedCurrencyNotBorrowedByUser")]
    SpecifiedCurrencyNotBorrowedByUser,
    #[error("MustNotLeaveDust")]
    MustNotLeaveDust,
    /// A burn of zero scaled units (a call too small to move one unit of a balance).
    #[error("InvalidBurnAmount")]
    InvalidBurnAmount,
    /// Solidity's checked arithmetic: 0x11 overflow or underflow (also a payout beyond the
    /// reserve's virtual balance), 0x12 division by zero.
    #[error("Panic(0x{0:02x})")]
    Panic(u8),
    /// An assembly helper's overflow guard (`revert(0, 0)`).
    #[error("EmptyRevert")]
    Empty,
}

/// `PoolConfigurator.configureReserveAsCollateral`'s check: `ltv ≤ lt`, and with a threshold,
/// a bonus above 100% that the threshold can pay: `percentMul(lt, bonus) ≤ 100%` — rounded half
/// up, so LT 95.24% with a 105% bonus passes (`9,524 · 10,500 = 100,002,000` → 10,000) and
/// 95.25% does not; without a threshold, no bonus. Aave's revert is `InvalidReserveParams`; the
/// error here names the field.
///
/// # Errors
/// The first parameter out of bounds, named.
pub fn check_collateral_params(
    ltv_bps: u16,
    lt_bps: u16,
    bonus_bps: u16,
) -> Result<(), crate::asset::ParamError> {
    use crate::asset::ParamError;
    if ltv_bps > lt_bps {
        return Err(ParamError::new(
            "ltv",
            "ltv <= liquidation_threshold (aave_v3)",
            ltv_bps,
        ));
    }
    if lt_bps == 0 {
        if bonus_bps != 0 {
            return Err(ParamError::new(
                "liquidation_bonus",
                "0 without a liquidation threshold (aave_v3)",
                bonus_bps,
            ));
        }
        return Ok(());
    }
    if bonus_bps <= 10_000 {
        return Err(ParamError::new(
            "liquidation_bonus",
            "liquidation_bonus > 100.00% (aave_v3)",
            bonus_bps,
        ));
    }
    let paid = math::percent_mul(U256::from(lt_bps), U256::from(bonus_bps));
    if paid.map_or(true, |p| p > math::PERCENTAGE_FACTOR) {
        return Err(ParamError::new(
            "liquidation_bonus",
            "percentMul(liquidation_threshold, liquidation_bonus) <= 100.00% (aave_v3)",
            format!("{bonus_bps} (liquidation threshold {lt_bps})"),
        ));
    }
    Ok(())
}

/// One basis point as a WAD ratio.
const BPS: u128 = 100_000_000_000_000;

/// `r` in basis points (rounded down), and whether that is exact.
#[must_use]
pub fn bps(r: crate::money::Ratio) -> (u128, bool) {
    (r.raw() / BPS, r.raw().is_multiple_of(BPS))
}

/// The protocol's share of the bonus, `(pen − disc) / pen`, in basis points (rounded down),
/// and whether that is exact (zero without a penalty).
#[must_use]
pub fn fee_bps(pen: crate::money::Ratio, disc: crate::money::Ratio) -> (u128, bool) {
    if pen.is_zero() {
        return (0, true);
    }
    let scaled = pen.raw().saturating_sub(disc.raw()) * 10_000;
    (scaled / pen.raw(), scaled.is_multiple_of(pen.raw()))
}

/// Whether softliq's parameters of one asset are ones Aave could list: LTV, threshold and
/// penalty in whole basis points, the protocol's share `(pen − disc) / pen` too, no borrow
/// weight, and the configurator's check ([`check_collateral_params`]).
///
/// # Errors
/// The first parameter that is not, named.
pub fn check_asset(p: &crate::asset::AssetParams) -> Result<(), crate::asset::ParamError> {
    use crate::asset::ParamError;
    use crate::money::Ratio;
    for (field, r) in [
        ("collateral_factor", p.collateral_factor),
        ("liquidation_threshold", p.liquidation_threshold),
        ("liquidation_penalty", p.liquidation_penalty),
    ] {
        if !bps(r).1 {
            return Err(ParamError::new(
                field,
                "a whole number of basis points (aave_v3)",
                r,
            ));
        }
    }
    if p.borrow_weight != Ratio::ONE {
        return Err(ParamError::new(
            "borrow_weight",
            "1 (aave_v3: Aave has no borrow weight)",
            p.borrow_weight,
        ));
    }
    if !fee_bps(p.liquidation_penalty, p.liquidation_discount).1 {
        return Err(ParamError::new(
            "liquidation_discount",
            "(liquidation_penalty - liquidation_discount) / liquidation_penalty a whole number of basis points (aave_v3)",
            p.liquidation_discount,
        ));
    }
    let b = Bps::of(
        p.collateral_factor,
        p.liquidation_threshold,
        p.liquidation_penalty,
        p.liquidation_discount,
    );
    check_collateral_params(b.ltv, b.lt, b.bonus)
}

/// softliq's collateral parameters as Aave's, in basis points (each rounded down; saturating):
/// LTV = `collateral_factor`, threshold, bonus `10,000 + pen` (0 without a threshold, as Aave
/// requires), and the protocol fee `(pen − disc) / pen` of the bonus.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bps {
    pub ltv: u16,
    pub lt: u16,
    pub bonus: u16,
    pub protocol_fee: u16,
}

impl Bps {
    #[must_use]
    pub fn of(
        cf: crate::money::Ratio,
        lt: crate::money::Ratio,
        pen: crate::money::Ratio,
        disc: crate::money::Ratio,
    ) -> Self {
        let small = |x: u128| u16::try_from(x).unwrap_or(u16::MAX);
        let lt = small(bps(lt).0);
        Self {
            ltv: small(bps(cf).0),
            lt,
            bonus: if lt == 0 {
                0
            } else {
                10_000u16.saturating_add(small(bps(pen).0))
            },
            protocol_fee: small(fee_bps(pen, disc).0),
        }
    }
}
