//! The keeper's view: the call a rational liquidator makes next, and the whole sequence of calls
//! until the account is healthy, closed, or its bad debt realised.

use super::Refusal;
use super::bad_debt::BadDebtEvent;
use super::policy::Policy;
use super::quote::{Quote, Request, quote};
use super::settle::{Parties, settle};
use crate::account::Account;
use crate::health::{Health, RiskSnapshot};
use crate::money::{Amount, Ratio, Rounding, Value};
use crate::pool::Pool;
use crate::profile::aave_v3::Revert;

/// The most calls a plan makes: far above what any policy needs (the soft cap's geometric
/// series reaches dust in a few hundred calls), so a plan always terminates.
pub const PLAN_CALLS_MAX: usize = 2_000;

/// How a plan ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// No call is open any more and the account still owes something.
    Healthy,
    /// The account owes nothing.
    Closed,
    /// Its remaining debt was realised as bad debt.
    BadDebt,
    /// [`PLAN_CALLS_MAX`] calls were made.
    CallLimit,
}

/// A sequence of calls and what it added up to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    pub calls: Vec<Quote>,
    pub outcome: Outcome,
    pub repaid_value: Value,
    pub borrower_loss: Value,
    pub liquidator_profit: Value,
    pub protocol_revenue: Value,
    /// Socialised bad debt, valued at the snapshot's prices.
    pub bad_debt: Value,
    pub final_health: Option<Ratio>,
}

/// The call that maximises the liquidator's realised gross profit (`liquidator_value −
/// repaid_value`, ties to the larger repaid value; `repaid · disc` for an unbounded call) among every
/// debt/collateral pair of the account, each repaying as much as the policy allows; `None`
/// when no call is open. `age_s` is how long the account has been liquidatable (read only by a
/// need-sized incentive with a time ramp; see [`Request::liquidatable_for_s`]).
///
/// # Errors
/// A stale price, or a health computation that fails.
pub fn plan(
    account: &Account,
    snapshot: &RiskSnapshot,
    policy: &Policy,
    age_s: u64,
) -> Result<Option<Quote>, Refusal> {
    let mut best: Option<Quote> = None;
    for d in account.positions().iter().filter(|p| !p.debt.is_zero()) {
        let owed = d
            .debt
            .to_amount(snapshot.get(d.asset)?.borrow_index, Rounding::Up)?;
        for c in account.positions().iter().filter(|p| !p.supply.is_zero()) {
            let request = Request {
                debt_asset: d.asset,
                collateral_asset: c.asset,
                max_repay: owed,
                liquidatable_for_s: age_s,
            };
            let q = match quote(account, snapshot, policy, &request) {
                Ok(q) => q,
                Err(e @ (Refusal::StalePrice(_) | Refusal::Health(_) | Refusal::Math(_))) => {
                    return Err(e);
                }
                Err(Refusal::Aave(Revert::MustNotLeaveDust)) => {
                    match largest_clean(account, snapshot, policy, request) {
                        Some(q) => q,
                        None => continue,
                    }
                }
                Err(_) => continue,
            };
            let better = best.as_ref().is_none_or(|b| {
                (q.liquidator_profit(), q.repaid_value) > (b.liquidator_profit(), b.repaid_value)
            });
            if better {
                best = Some(q);
            }
        }
    }
    Ok(best)
}

/// Under a profile that reverts a call leaving dust instead of shrinking it (`aave_v3`'s
/// `MustNotLeaveDust`), what a liquidator does: asks for the largest amount that goes through.
/// Below the amount that would leave dust every smaller request leaves more of both, so the
/// requests that go through form a prefix `[1, b)` of `[1, request.max_repay]`, and a binary
/// search over the request finds `b − 1` (at most 128 quotes, only on this path). `None` when
/// even one base unit is refused.
fn largest_clean(
    account: &Account,
    snapshot: &RiskSnapshot,
    policy: &Policy,
    request: Request,
) -> Option<Quote> {
    let at = |max: u128| {
        quote(
            account,
            snapshot,
            policy,
            &Request {
                max_repay: Amount::from_raw(max),
                ..request
            },
        )
        .ok()
    };
    let (mut lo, mut hi) = (1u128, request.max_repay.raw());
    let mut best = at(lo)?;
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        match at(mid) {
            Some(q) => (lo, best) = (mid, q),
            None => hi = mid,
        }
    }
    Some(best)
}

/// The sequence of [`plan`] calls, each settled on copies of the account and pools, until no
/// call is open. The same prices and the same age hold throughout (one instant).
///
/// # Errors
/// As [`plan`] and [`settle`].
pub fn plan_until_healthy(
    account: &Account,
    snapshot: &RiskSnapshot,
    policy: &Policy,
    pools: &[Pool],
    age_s: u64,
) -> Result<Plan, Refusal> {
    run(account, snapshot, policy, pools, |a, s, p| {
        plan(a, s, p, age_s)
    })
}

/// Runs a strategy (a function choosing the next call) to the end, adding up its effects.
fn run(
    account: &Account,
    snapshot: &RiskSnapshot,
    policy: &Policy,
    pools: &[Pool],
    mut next: impl FnMut(&Account, &RiskSnapshot, &Policy) -> Result<Option<Quote>, Refusal>,
) -> Result<Plan, Refusal> {
    let (mut borrower, mut pools) = (account.clone(), pools.to_vec());
    let (mut liquidator, mut treasury, mut insurance) =
        (Account::new(), Account::new(), Account::new());
    let mut plan = Plan {
        calls: Vec::new(),
        outcome: Outcome::CallLimit,
        repaid_value: Value::ZERO,
        borrower_loss: Value::ZERO,
        liquidator_profit: Value::ZERO,
        protocol_revenue: Value::ZERO,
        bad_debt: Value::ZERO,
        final_health: None,
    };
    while plan.calls.len() < PLAN_CALLS_MAX {
        let Some(q) = next(&borrower, snapshot, policy)? else {
            plan.outcome = if borrower.has_debt() {
                Outcome::Healthy
            } else {
                Outcome::Closed
            };
            break;
        };
        let mut parties = Parties {
            borrower: &mut borrower,
            liquidator: &mut liquidator,
            treasury: &mut treasury,
            insurance: &mut insurance,
        };
        let settled = settle(&q, &mut parties, &mut pools, snapshot, policy)?;
        plan.repaid_value = plan.repaid_value.checked_add(q.repaid_value)?;
        plan.borrower_loss = plan.borrower_loss.checked_add(q.borrower_loss())?;
        plan.liquidator_profit = plan.liquidator_profit.checked_add(q.liquidator_profit())?;
        plan.protocol_revenue = plan.protocol_revenue.checked_add(q.protocol_revenue())?;
        plan.calls.push(q);
        for (asset, amount) in settled.bad_debt.iter().filter_map(BadDebtEvent::socialised) {
            let risk = snapshot.get(asset)?;
            plan.bad_debt = plan.bad_debt.checked_add(amount.value_at(
                risk.price,
                risk.decimals,
                Rounding::Up,
            )?)?;
        }
        if !settled.bad_debt.is_empty() {
            plan.outcome = Outcome::BadDebt;
            break;
        }
    }
    plan.final_health = Health::of(&borrower, snapshot)?.health_factor();
    Ok(plan)
}

/// The known two-step strategy against per-call caps: whenever the largest call would make the
/// account healthy, repay instead the most that keeps it liquidatable, so that the next call
/// gets a fresh cap. Returns the strategy's plan; compare its `liquidator_profit` with
/// [`plan_until_healthy`]'s to see what the strategy extracts.
///
/// # Errors
/// As [`plan_until_healthy`].
pub fn two_step_extraction(
    account: &Account,
    snapshot: &RiskSnapshot,
    policy: &Policy,
    pools: &[Pool],
    age_s: u64,
) -> Result<Plan, Refusal> {
    run(account, snapshot, policy, pools, |a, s, p| {
        let Some(best) = plan(a, s, p, age_s)? else {
            return Ok(None);
        };
        if best.liquidatable_after {
            return Ok(Some(best));
        }
        Ok(Some(
            largest_keeping_liquidatable(a, s, p, &best)?.unwrap_or(best),
        ))
    })
}

/// The largest call on `best`'s pair that leaves the account liquidatable, by bisection on the
/// repaid amount (HF after a call falls monotonically with a smaller repayment above the
/// death-spiral bound).
fn largest_keeping_liquidatable(
    account: &Account,
    snapshot: &RiskSnapshot,
    policy: &Policy,
    best: &Quote,
) -> Result<Option<Quote>, Refusal> {
    let (mut lo, mut hi) = (0u128, best.repaid.raw());
    let mut found = None;
    while lo + 1 < hi {
        let mid = lo + (hi - lo) / 2;
        let request = Request {
            max_repay: Amount::from_raw(mid),
            ..best.request
        };
        match quote(account, snapshot, policy, &request) {
            Ok(q) if q.liquidatable_after => {
                lo = mid;
                found = Some(q);
            }
            _ => hi = mid,
        }
    }
    Ok(found)
}
