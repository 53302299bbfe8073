//! Protocol absorb and the storefront (Compound III's `absorb` and `buyCollateral`): the
//! protocol itself takes over an account that no liquidator will touch, and sells what it took
//! later at a small discount.
//!
//! **Absorb.** An account may be absorbed when it is liquidatable and at least one of these
//! holds ([`Reason`]): its collateral or its debt is worth at most `small_value_max` (no call
//! on it can pay a liquidator's cost), its HF is below `hf_max` (it sank past the point where
//! calls help), or it has been liquidatable for `after_s` seconds (nobody took it). With collateral worth `C` and debt worth `V`:
//!
//! - the treasury seizes the fraction `t = min(1, V·(1 + penalty) / C)` of every collateral
//!   position (rounded up: the borrower keeps what is left of a solvent account, as Compound
//!   credits the excess back);
//! - it takes over the fraction `k = min(1, C / V)` of every debt position as its own debt
//!   (rounded down), so what it owes is never more than what it holds;
//! - the treasury's debts are paid out of its own claims in the same asset, where it has any;
//! - the rest of the debt, `1 − k` of it (the shortfall of an underwater account), is paid now
//!   by the pool's reserves, then the insurance fund, then the suppliers ([`Waterfall::Reserves`]).
//!
//! The account ends with no debt. The treasury holds collateral and the debt taken over; the
//! protocol now carries the market risk of that collateral, as Compound's reserves do.
//!
//! **Storefront.** Anyone may buy the treasury's collateral at the oracle price less
//! `storefront_discount`, paying in another asset: the payment first repays the treasury's debt
//! in that asset and the rest becomes the pool's reserves. When the treasury has debt and no
//! collateral left, that debt is cleared by the same waterfall.
//!
//! Every change is made on copies and committed only when all of it succeeded.

use super::Refusal;
use super::bad_debt::{BadDebtEvent, Waterfall, clear_debt, cover_with};
use super::settle::pool_mut;
use crate::account::Account;
use crate::asset::{AssetId, ParamError};
use crate::health::{Health, RiskSnapshot};
use crate::money::{Amount, Ratio, Rounding, Shares, Value};
use crate::pool::Pool;

/// When the protocol absorbs an account, and at what price it sells what it took.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Absorb {
    /// A liquidatable account with HF below this may be absorbed (0 turns the test off).
    pub hf_max: Ratio,
    /// A liquidatable account flagged for at least this many seconds may be absorbed (0 turns
    /// the test off).
    pub after_s: u64,
    /// A liquidatable account whose collateral or debt is worth at most this may be absorbed:
    /// a call's reward is a share of the smaller of the two.
    pub small_value_max: Value,
    /// What the borrower loses on the absorbed debt's value (Compound's `1/liquidationFactor −
    /// 1`).
    pub penalty: Ratio,
    /// The storefront's price is the oracle price times `1 − storefront_discount`.
    pub storefront_discount: Ratio,
}

const PCT: u128 = crate::money::WAD / 100;

impl Absorb {
    /// softliq's preset, a backstop behind the liquidators: absorb an account whose collateral
    /// or debt is worth at most 100 USD, one below HF 0.5, or one liquidatable for six hours; a
    /// 5% penalty and half of it as the storefront's discount (Compound III's
    /// `storeFrontPriceFactor` of 0.5). Earlier triggers cost borrowers and suppliers more on
    /// the bundled crashes (docs/liquidation.md, "Protocol absorb").
    #[must_use]
    pub const fn preset() -> Self {
        Self {
            hf_max: Ratio::from_raw(50 * PCT),
            after_s: 21_600,
            small_value_max: Value::from_raw(100 * crate::money::WAD),
            penalty: Ratio::from_raw(5 * PCT),
            storefront_discount: Ratio::from_raw(5 * PCT / 2),
        }
    }

    /// # Errors
    /// The first parameter out of bounds, named.
    pub fn validate(&self) -> Result<(), ParamError> {
        if self.hf_max > Ratio::ONE {
            return Err(ParamError::new(
                "absorb.hf_max",
                "0 <= hf_max <= 1",
                self.hf_max,
            ));
        }
        if self.penalty > crate::asset::bounds::PENALTY_MAX {
            return Err(ParamError::new(
                "absorb.penalty",
                "0 <= penalty <= 0.2",
                self.penalty,
            ));
        }
        if self.storefront_discount > Ratio::from_raw(20 * PCT) {
            return Err(ParamError::new(
                "absorb.storefront_discount",
                "0 <= storefront_discount <= 0.2",
                self.storefront_discount,
            ));
        }
        if self.small_value_max > super::policy::MIN_CALL_VALUE_MAX {
            return Err(ParamError::new(
                "absorb.small_value_max",
                "small_value_max <= 1000000 USD",
                self.small_value_max,
            ));
        }
        Ok(())
    }
}

/// Why an account may be absorbed, in the order they are tested.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Reason {
    /// Its collateral or its debt is worth at most `small_value_max`.
    Small,
    /// Its HF is below `hf_max`.
    Deep,
    /// It has been liquidatable for `after_s` seconds.
    Neglected,
}

/// What an absorb did.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Absorption {
    pub reason: Reason,
    /// The account's collateral and debt values before (debt rounded up).
    pub collateral_value: Value,
    pub debt_value: Value,
    /// Supply shares moved to the treasury, per asset.
    pub seized: Vec<(AssetId, Shares)>,
    /// Debt shares the treasury took over, per asset.
    pub taken_over: Vec<(AssetId, Shares)>,
    /// The shortfall's steps: reserves, insurance, suppliers.
    pub bad_debt: Vec<BadDebtEvent>,
    /// The treasury's debt paid from its own claims, per asset.
    pub netted: Vec<(AssetId, Amount)>,
}

/// The protocol's accounts an absorb or a sale changes.
pub struct Protocol<'a> {
    pub treasury: &'a mut Account,
    pub insurance: &'a mut Account,
}

/// Whether `account` may be absorbed now (liquidatable for `age_s` seconds), and why.
///
/// # Errors
/// `StalePrice` for any position's stale price; `NotLiquidatable`; `NotAbsorbable` when no
/// test of `params` holds.
pub fn absorbable(
    account: &Account,
    snapshot: &RiskSnapshot,
    params: &Absorb,
    age_s: u64,
) -> Result<(Reason, Health), Refusal> {
    for pos in account.positions() {
        if snapshot.get(pos.asset)?.stale {
            return Err(Refusal::StalePrice(pos.asset));
        }
    }
    let h = Health::of(account, snapshot)?;
    if !h.is_liquidatable() {
        return Err(Refusal::NotLiquidatable {
            health_factor: h.health_factor(),
        });
    }
    let hf = h.health_factor().unwrap_or(Ratio::MAX);
    let reason = if h.collateral_value.min(h.debt_value) <= params.small_value_max {
        Reason::Small
    } else if hf < params.hf_max {
        Reason::Deep
    } else if params.after_s > 0 && age_s >= params.after_s {
        Reason::Neglected
    } else {
        return Err(Refusal::NotAbsorbable {
            health_factor: h.health_factor(),
            age_s,
        });
    };
    Ok((reason, h))
}

/// Absorbs `borrower` into the treasury (see the module's doc for the rule).
///
/// # Errors
/// A refusal of [`absorbable`], or a pool operation that fails (a broken invariant); nothing
/// changes then.
pub fn absorb(
    borrower: &mut Account,
    protocol: &mut Protocol,
    pools: &mut [Pool],
    snapshot: &RiskSnapshot,
    params: &Absorb,
    age_s: u64,
) -> Result<Absorption, Refusal> {
    let (reason, h) = absorbable(borrower, snapshot, params, age_s)?;
    let (c, v) = (h.collateral_value, h.debt_value);
    let needed = v.mul_ratio(Ratio::ONE.checked_add(params.penalty)?, Rounding::Up)?;
    let take = if needed >= c {
        Ratio::ONE
    } else {
        needed.ratio_to(c, Rounding::Up)?
    };
    let keep_debt = if c >= v {
        Ratio::ONE
    } else {
        c.ratio_to(v, Rounding::Down)?
    };
    let mut acct = borrower.clone();
    let mut treasury = protocol.treasury.clone();
    let mut insurance = protocol.insurance.clone();
    let mut pools_next = pools.to_vec();
    let mut out = Absorption {
        reason,
        collateral_value: c,
        debt_value: v,
        seized: Vec::new(),
        taken_over: Vec::new(),
        bad_debt: Vec::new(),
        netted: Vec::new(),
    };
    let mut shortfall = Vec::new();
    for pos in borrower.positions() {
        if !pos.supply.is_zero() {
            let s = pos.supply.mul_ratio(take, Rounding::Up)?.min(pos.supply);
            acct.remove_supply(pos.asset, s)?;
            treasury.add_supply(pos.asset, s)?;
            out.seized.push((pos.asset, s));
        }
        if !pos.debt.is_zero() {
            let moved = pos.debt.mul_ratio(keep_debt, Rounding::Down)?;
            acct.remove_debt(pos.asset, pos.debt)?;
            if !moved.is_zero() {
                treasury.add_debt(pos.asset, moved)?;
                out.taken_over.push((pos.asset, moved));
            }
            shortfall.push((pos.asset, pos.debt.checked_sub(moved)?));
        }
    }
    // The treasury's own claims first (at their full worth), then the shortfall.
    out.netted = net_treasury(&mut treasury, &mut pools_next)?;
    for (asset, rest) in shortfall {
        if !rest.is_zero() {
            let pool = pool_mut(&mut pools_next, asset)?;
            let steps = clear_debt(pool, asset, rest, &mut insurance, Waterfall::Reserves)?;
            out.bad_debt.extend(steps);
        }
    }
    *borrower = acct;
    *protocol.treasury = treasury;
    *protocol.insurance = insurance;
    pools.clone_from_slice(&pools_next);
    Ok(out)
}

/// Pays the treasury's debt in each asset out of its own supply of that asset.
fn net_treasury(
    treasury: &mut Account,
    pools: &mut [Pool],
) -> Result<Vec<(AssetId, Amount)>, Refusal> {
    let mut netted = Vec::new();
    for pos in treasury.positions().to_vec() {
        if !pos.supply.is_zero() && !pos.debt.is_zero() {
            let (used, burned, amount) =
                cover_with(pool_mut(pools, pos.asset)?, pos.supply, pos.debt)?;
            treasury.remove_supply(pos.asset, used)?;
            treasury.remove_debt(pos.asset, burned)?;
            netted.push((pos.asset, amount));
        }
    }
    Ok(netted)
}

/// A storefront purchase: up to `max_pay` tokens of `pay_asset` for the treasury's `asset`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Purchase {
    pub asset: AssetId,
    pub pay_asset: AssetId,
    pub max_pay: Amount,
}

/// What a purchase did.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Sale {
    pub purchase: Purchase,
    /// Tokens of `pay_asset` the buyer paid.
    pub paid: Amount,
    /// Supply shares of `asset` moved from the treasury to the buyer, and their worth.
    pub shares: Shares,
    pub amount: Amount,
    /// The part of `paid` that repaid the treasury's debt; the rest became reserves.
    pub repaid: Amount,
    /// The treasury's remaining debt cleared once it had no collateral left.
    pub bad_debt: Vec<BadDebtEvent>,
}

/// Sells the treasury's collateral to `buyer` at the storefront price: `paid · p_pay /
/// (1 − storefront_discount) / p_asset` tokens of `asset`, rounded down, at most what the
/// treasury holds; the buyer pays for what it gets, rounded up, and never more than `max_pay`.
///
/// # Errors
/// `ZeroAmount`, `SameAsset`, `StalePrice`, `NothingToSell`, `TakeTooSmall`; nothing changes
/// then.
pub fn buy_collateral(
    protocol: &mut Protocol,
    buyer: &mut Account,
    pools: &mut [Pool],
    snapshot: &RiskSnapshot,
    params: &Absorb,
    p: &Purchase,
) -> Result<Sale, Refusal> {
    if p.max_pay.is_zero() {
        return Err(Refusal::ZeroAmount);
    }
    if p.asset == p.pay_asset {
        return Err(Refusal::SameAsset);
    }
    let (c, pay) = (snapshot.get(p.asset)?, snapshot.get(p.pay_asset)?);
    for (asset, risk) in [(p.asset, c), (p.pay_asset, pay)] {
        if risk.stale {
            return Err(Refusal::StalePrice(asset));
        }
    }
    let held = protocol.treasury.position(p.asset).supply;
    if held.is_zero() {
        return Err(Refusal::NothingToSell(p.asset));
    }
    let factor = Ratio::ONE.checked_sub(params.storefront_discount)?;
    // What the buyer may have for `max_pay`, every step rounded down.
    let budget = p
        .max_pay
        .value_at(pay.price, pay.decimals, Rounding::Down)?;
    let worth = budget.div_ratio(factor, Rounding::Down)?;
    let tokens = worth.to_amount(c.price, c.decimals, Rounding::Down)?;
    let shares = tokens.to_shares(c.supply_index, Rounding::Down)?.min(held);
    if shares.is_zero() {
        return Err(Refusal::TakeTooSmall);
    }
    // What those shares cost, every step rounded up, capped by the buyer's limit (the exact
    // cost is within it by construction).
    let amount = shares.to_amount(c.supply_index, Rounding::Down)?;
    let cost = amount
        .value_at(c.price, c.decimals, Rounding::Up)?
        .mul_ratio(factor, Rounding::Up)?;
    let paid = cost
        .to_amount(pay.price, pay.decimals, Rounding::Up)?
        .min(p.max_pay)
        .max(Amount::from_raw(1));

    let mut treasury = protocol.treasury.clone();
    let mut insurance = protocol.insurance.clone();
    let mut next_buyer = buyer.clone();
    let mut pools_next = pools.to_vec();
    treasury.remove_supply(p.asset, shares)?;
    next_buyer.add_supply(p.asset, shares)?;
    let pool = pool_mut(&mut pools_next, p.pay_asset)?;
    let owed = treasury.position(p.pay_asset).debt;
    let mut repaid = Amount::ZERO;
    if !owed.is_zero() {
        let (burned, taken) = pool.repay(paid, owed)?;
        treasury.remove_debt(p.pay_asset, burned)?;
        repaid = taken;
    }
    pool.donate(paid.checked_sub(repaid)?)?;
    let bad_debt = settle_treasury(&mut treasury, &mut insurance, &mut pools_next)?;
    *protocol.treasury = treasury;
    *protocol.insurance = insurance;
    *buyer = next_buyer;
    pools.clone_from_slice(&pools_next);
    Ok(Sale {
        purchase: *p,
        paid,
        shares,
        amount,
        repaid,
        bad_debt,
    })
}

/// Clears the treasury's debt by the reserves waterfall once it holds no collateral at all.
fn settle_treasury(
    treasury: &mut Account,
    insurance: &mut Account,
    pools: &mut [Pool],
) -> Result<Vec<BadDebtEvent>, Refusal> {
    let mut events = Vec::new();
    if !treasury.has_debt() || treasury.positions().iter().any(|p| !p.supply.is_zero()) {
        return Ok(events);
    }
    for pos in treasury.positions().to_vec() {
        let pool = pool_mut(pools, pos.asset)?;
        events.extend(clear_debt(
            pool,
            pos.asset,
            pos.debt,
            insurance,
            Waterfall::Reserves,
        )?);
        treasury.remove_debt(pos.asset, pos.debt)?;
    }
    Ok(events)
}
