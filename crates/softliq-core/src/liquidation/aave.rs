//! The `aave_v3` profile as a market's liquidation rule (`Rule::AaveV3`): a softliq account and
//! snapshot in Aave's terms, [`crate::profile::aave_v3::liquidation_call`], and its outcome as a
//! [`Quote`] that `settle` applies like any other.
//!
//! The translation (docs/liquidation.md, Protocol profiles):
//! - a price is Aave's 8-decimal base currency: `⌊p / 10^10⌋` of the WAD price;
//! - `collateral_factor`, `liquidation_threshold` are Aave's LTV and threshold in basis points,
//!   `1 + liquidation_penalty` its bonus, `(pen − disc) / pen` its protocol fee share (the
//!   policy's validation refuses assets whose figures are not whole basis points);
//! - supply and debt shares are scaled balances, the pool's indexes Aave's (both RAY);
//! - every supplied asset with a threshold counts as collateral; the liquidator takes aTokens
//!   (`receiveAToken`), which is how softliq pays a liquidator: supply shares of `c`;
//! - a call that takes the account's last collateral (Aave's test, in base currency) writes
//!   off the rest of its debt in the same step ([`Quote::writes_off`]); the write-off goes
//!   through softliq's loss waterfall (insurance fund, then the suppliers) where Aave records a
//!   reserve deficit.

use super::Refusal;
use super::quote::{Basis, Bound, Quote, Request, Stage};
use crate::account::Account;
use crate::health::{AssetRisk, RiskSnapshot};
use crate::money::{Amount, MathError, Ratio, Rounding, Shares, Value};
use crate::pool::repay_shares;
use crate::profile::aave_v3::{self, Bps, Call, Position, Reserve, Revert, U256};

/// WAD prices to Aave's 8 decimals.
const BASE_SCALE: u128 = 10_000_000_000;

/// An asset as an Aave reserve at the snapshot.
fn reserve(risk: &AssetRisk) -> Reserve {
    let b = Bps::of(
        risk.collateral_factor,
        risk.liquidation_threshold,
        risk.liquidation_penalty,
        risk.liquidation_discount,
    );
    Reserve {
        decimals: risk.decimals.get(),
        price: U256::from(risk.price.raw() / BASE_SCALE),
        ltv_bps: b.ltv,
        lt_bps: b.lt,
        bonus_bps: b.bonus,
        protocol_fee_bps: b.protocol_fee,
        liquidity_index: U256::from(risk.supply_index.raw()),
        borrow_index: U256::from(risk.borrow_index.raw()),
        // softliq pays the liquidator in supply shares (aTokens): no cash leaves the pool.
        virtual_balance: U256::MAX,
    }
}

fn narrow(x: U256) -> Result<u128, Refusal> {
    u128::try_from(x).map_err(|_| Refusal::Math(MathError::Overflow))
}

/// An Aave base-currency amount (USD, 8 decimals) as a softliq value (saturating).
#[must_use]
pub fn base_value(base: U256) -> Value {
    Value::from_raw(
        u128::try_from(base)
            .unwrap_or(u128::MAX)
            .saturating_mul(BASE_SCALE),
    )
}

/// An Aave health factor as softliq's: `None` without debt, as for every policy.
#[must_use]
pub fn health(hf: U256) -> Option<Ratio> {
    if hf == U256::MAX {
        return None;
    }
    Some(Ratio::from_raw(u128::try_from(hf).unwrap_or(u128::MAX)))
}

/// An account in Aave's terms: its positions (plus any `extra` assets it does not hold, empty),
/// their assets' risk at the snapshot, and both as Aave reserves and user positions.
struct Terms<'a> {
    held: Vec<crate::account::Position>,
    risks: Vec<&'a AssetRisk>,
    reserves: Vec<Reserve>,
    positions: Vec<Position>,
}

impl<'a> Terms<'a> {
    fn of(
        account: &Account,
        snapshot: &'a RiskSnapshot,
        extra: &[crate::asset::AssetId],
    ) -> Result<Self, Refusal> {
        let mut held: Vec<_> = account.positions().to_vec();
        for &asset in extra {
            if held.iter().all(|p| p.asset != asset) {
                held.push(account.position(asset));
            }
        }
        let mut risks = Vec::with_capacity(held.len());
        for pos in &held {
            let risk = snapshot.get(pos.asset)?;
            if risk.stale {
                return Err(Refusal::StalePrice(pos.asset));
            }
            risks.push(risk);
        }
        let reserves = risks.iter().map(|r| reserve(r)).collect();
        let positions = held
            .iter()
            .zip(&risks)
            .map(|(p, r)| Position {
                scaled_supply: U256::from(p.supply.raw()),
                scaled_debt: U256::from(p.debt.raw()),
                collateral: !p.supply.is_zero() && !r.liquidation_threshold.is_zero(),
                borrowing: !p.debt.is_zero(),
            })
            .collect();
        Ok(Self {
            held,
            risks,
            reserves,
            positions,
        })
    }
}

/// Aave v3.6's `getUserAccountData` for a softliq account at the snapshot: totals in base
/// currency (USD, 8 decimals) and its health factor (`U256::MAX` without debt).
///
/// # Errors
/// A stale price or an asset missing from the snapshot; an Aave revert (overflow) by name.
pub fn account_data(
    account: &Account,
    snapshot: &RiskSnapshot,
) -> Result<aave_v3::AccountData, Refusal> {
    let t = Terms::of(account, snapshot, &[])?;
    aave_v3::account_data(&t.reserves, &t.positions).map_err(Refusal::Aave)
}

/// Prices `request` under Aave v3.6's rules.
pub(super) fn quote(
    account: &Account,
    snapshot: &RiskSnapshot,
    request: &Request,
) -> Result<Quote, Refusal> {
    let (d, c) = (request.debt_asset, request.collateral_asset);
    if d == c {
        return Err(Refusal::SameAsset);
    }
    // The account's reserves, plus `d` and `c` when it holds none (Aave's own order of checks
    // then decides which refusal comes first).
    let Terms {
        held,
        risks,
        reserves,
        positions,
    } = Terms::of(account, snapshot, &[d, c])?;
    let index = |asset| held.iter().position(|p| p.asset == asset).unwrap_or(0);
    let call = Call {
        collateral: index(c),
        debt: index(d),
        debt_to_cover: U256::from(request.max_repay.raw()),
        receive_a_token: true,
    };
    let l = aave_v3::liquidation_call(&reserves, &positions, call).map_err(|e| match e {
        Revert::HealthFactorNotBelowThreshold => Refusal::NotLiquidatable {
            health_factor: aave_v3::account_data(&reserves, &positions)
                .ok()
                .and_then(|a| health(a.health_factor)),
        },
        Revert::CollateralCannotBeLiquidated => Refusal::NoCollateral(c),
        Revert::SpecifiedCurrencyNotBorrowedByUser => Refusal::NoDebt(d),
        other => Refusal::Aave(other),
    })?;
    let before = l.account_before;
    let after = aave_v3::account_data(&reserves, &l.positions).map_err(Refusal::Aave)?;
    let (rd, rc) = (risks[call.debt], risks[call.collateral]);
    let (debt, coll) = (held[call.debt], held[call.collateral]);
    let repaid = Amount::from_raw(narrow(l.debt_repaid)?);
    let to_liquidator = Amount::from_raw(narrow(l.collateral_to_liquidator)?);
    let to_treasury = Amount::from_raw(narrow(l.protocol_fee)?);
    let seized = to_liquidator.checked_add(to_treasury)?;
    let coll_after = Shares::from_raw(narrow(l.positions[call.collateral].scaled_supply)?);
    let (debt_shares_burned, _) = repay_shares(repaid, debt.debt, rd.borrow_index)?;
    let owed = debt.debt.to_amount(rd.borrow_index, Rounding::Up)?;
    let bound = if coll_after.is_zero() {
        Bound::Collateral
    } else if repaid == owed {
        Bound::Debt
    } else if repaid == request.max_repay {
        Bound::Requested
    } else {
        Bound::PolicyCap
    };
    let value = |a: Amount, r: &AssetRisk| a.value_at(r.price, r.decimals, Rounding::Down);
    let q = Quote {
        request: *request,
        stage: Stage::Hard,
        bound,
        repaid,
        repaid_value: value(repaid, rd)?,
        seized,
        to_liquidator,
        to_treasury,
        seized_value: value(seized, rc)?,
        liquidator_value: value(to_liquidator, rc)?,
        penalty: rc.liquidation_penalty,
        discount: rc.liquidation_discount,
        health_before: health(before.health_factor),
        health_after: health(after.health_factor),
        liquidatable_after: after.health_factor < aave_v3::math::WAD,
        collateral_value_after: base_value(after.total_collateral_base),
        debt_shares_burned,
        collateral_shares_seized: coll.supply.checked_sub(coll_after)?,
        liquidator_shares: Shares::from_raw(narrow(l.collateral_scaled_to_liquidator)?),
        writes_off: l.deficits.iter().any(|x| !x.is_zero()),
        basis: Basis {
            debt_shares: debt.debt,
            collateral_shares: coll.supply,
            borrow_index: rd.borrow_index,
            supply_index: rc.supply_index,
        },
        seal: super::quote::Seal::default(),
    };
    Ok(q.sealed())
}
