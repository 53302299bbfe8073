//! Settlement (docs/liquidation.md): a quote applied to the borrower, the liquidator, the treasury,
//! the insurance fund and the pools, exactly, with bad debt realised in the same step
//! (docs/liquidation.md, Bad debt).
//!
//! Tokens of `d` move from the liquidator to the pool's cash through `Pool::repay`, which burns
//! the borrower's debt shares. Collateral moves as supply shares of `c`, so the pool of `c` is
//! untouched and the split is exact: the borrower's shares fall by `collateral_shares_seized`,
//! and the liquidator, the treasury and the insurance fund together gain exactly as many. Every
//! change is made on copies and committed only when all of it succeeded.

use super::Refusal;
use super::bad_debt::{BadDebtEvent, realise_bad_debt, write_off_debt};
use super::policy::{Policy, Rule};
use super::quote::{Basis, Quote, Request, quote};
use crate::account::Account;
use crate::asset::AssetId;
use crate::health::{HealthError, RiskSnapshot};
use crate::money::{Amount, Rounding, Shares};
use crate::pool::Pool;

/// Everyone whose balances a liquidation changes.
pub struct Parties<'a> {
    pub borrower: &'a mut Account,
    /// Receives the discounted collateral (as supply shares of `c`).
    pub liquidator: &'a mut Account,
    /// Receives the protocol's part of the penalty, less the insurance share.
    pub treasury: &'a mut Account,
    /// Receives the insurance share of the protocol's part; covers bad debt first.
    pub insurance: &'a mut Account,
}

/// What a settled call did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settlement {
    pub quote: Quote,
    /// Tokens of `d` the liquidator paid into the pool.
    pub paid: Amount,
    pub treasury_shares: Shares,
    pub insurance_shares: Shares,
    pub bad_debt: Vec<BadDebtEvent>,
}

pub(crate) fn pool_mut(pools: &mut [Pool], asset: AssetId) -> Result<&mut Pool, Refusal> {
    pools
        .get_mut(asset.index())
        .ok_or(Refusal::Health(HealthError::MissingAsset(asset)))
}

/// Applies `quote` (made against `parties.borrower` and `snapshot` as they are now).
///
/// # Errors
/// `StaleQuote` when the borrower or the pool changed since the quote, or when `quote` did
/// not make `q` as it is (changed after, or read back from a record); nothing changes then.
pub fn settle(
    q: &Quote,
    parties: &mut Parties,
    pools: &mut [Pool],
    snapshot: &RiskSnapshot,
    policy: &Policy,
) -> Result<Settlement, Refusal> {
    if !q.is_sealed() {
        return Err(Refusal::StaleQuote);
    }
    let (d, c) = (q.request.debt_asset, q.request.collateral_asset);
    let now = Basis {
        debt_shares: parties.borrower.position(d).debt,
        collateral_shares: parties.borrower.position(c).supply,
        borrow_index: pool_mut(pools, d)?.borrow_index(),
        supply_index: pool_mut(pools, c)?.supply_index(),
    };
    if now != q.basis {
        return Err(Refusal::StaleQuote);
    }
    let mut borrower = parties.borrower.clone();
    let mut pools_next = pools.to_vec();
    let owed = borrower.position(d).debt;
    let (burned, paid) = pool_mut(&mut pools_next, d)?.repay(q.repaid, owed)?;
    if burned != q.debt_shares_burned || paid != q.repaid {
        return Err(Refusal::StaleQuote);
    }
    borrower = q.apply_to(&borrower).map_err(|_| Refusal::StaleQuote)?;

    let protocol = q
        .collateral_shares_seized
        .checked_sub(q.liquidator_shares)?;
    let insurance_shares = protocol.mul_ratio(policy.insurance_share, Rounding::Down)?;
    let treasury_shares = protocol.checked_sub(insurance_shares)?;
    let mut liquidator = parties.liquidator.clone();
    let mut treasury = parties.treasury.clone();
    let mut insurance = parties.insurance.clone();
    liquidator.add_supply(c, q.liquidator_shares)?;
    treasury.add_supply(c, treasury_shares)?;
    insurance.add_supply(c, insurance_shares)?;

    // The bad-debt test (docs/liquidation.md), from what the quote already knows about the account
    // after the call.
    let no_collateral = borrower.positions().iter().all(|p| p.supply.is_zero());
    let dust_collateral = q.liquidatable_after && q.collateral_value_after < policy.dust_value;
    let bad_debt = if q.writes_off {
        write_off_debt(&mut borrower, &mut insurance, &mut pools_next)?
    } else if matches!(policy.rule, Rule::AaveV3) {
        Vec::new() // Aave writes off only with the last collateral (`writes_off`)
    } else if borrower.has_debt() && (no_collateral || dust_collateral) {
        realise_bad_debt(
            &mut borrower,
            snapshot,
            &mut insurance,
            &mut pools_next,
            policy.dust_value,
        )?
    } else {
        Vec::new()
    };

    *parties.borrower = borrower;
    *parties.liquidator = liquidator;
    *parties.treasury = treasury;
    *parties.insurance = insurance;
    pools.clone_from_slice(&pools_next);
    Ok(Settlement {
        quote: *q,
        paid,
        treasury_shares,
        insurance_shares,
        bad_debt,
    })
}

/// Quotes and settles in one step: what a permissionless liquidation call does.
///
/// # Errors
/// Any [`Refusal`] of [`quote`] or [`settle`]; nothing changes then.
pub fn liquidate(
    parties: &mut Parties,
    pools: &mut [Pool],
    snapshot: &RiskSnapshot,
    policy: &Policy,
    request: &Request,
) -> Result<Settlement, Refusal> {
    let q = quote(parties.borrower, snapshot, policy, request)?;
    settle(&q, parties, pools, snapshot, policy)
}
