//! `take`: a keeper buys part or all of a lot at the auction's current price.
//!
//! With the price `p` (USD per collateral token, rounded up by the curve) and the debt price
//! `p_d` fixed at the last start or reset:
//!
//! ```text
//! slice = min(amount, lot)                              collateral tokens asked for
//! owe   = ⌈slice · p · 10^dec_d / (10^dec_c · p_d)⌉      tokens of d the keeper pays
//! if owe > tab:  owe = tab,  slice = ⌊tab · p_d · 10^dec_c / (p · 10^dec_d)⌋
//! ```
//!
//! A partial take (it neither pays the whole tab nor buys the whole lot) must leave at least
//! `chost` of tab; one that would leave less is refused, naming the most it may buy. The keeper
//! receives `⌊slice / SI_c⌋` supply shares of the collateral (the whole lot's shares when it buys
//! the whole lot). Its payment repays the debt first and the penalty after: the penalty is
//! only earned on what the sale raised beyond the debt, so suppliers are made whole before
//! the protocol takes its cut. The penalty part is supplied to the pool of `d` for the
//! treasury and the insurance fund (split by `insurance_share`); a part too small to mint a
//! share goes to the pool's reserves.
//!
//! The auction ends when its tab is paid (leftover lot back to the borrower) or its lot is
//! sold (unpaid debt back to the borrower, unpaid penalty forgiven). Returned debt is the
//! borrower's again: if the account then holds no collateral, or only dust, the bad-debt rule
//! realises it at once — insurance first, then the suppliers of `d`; otherwise it stays an
//! ordinary, liquidatable debt that the next `bark` takes up.

use ruint::aliases::U512;

use super::bark::pool_ref;
use super::book::{Auction, AuctionBook, AuctionId, Outcome};
use super::{Market, Refusal, Step};
use crate::account::{Account, AccountId};
use crate::asset::AssetId;
use crate::liquidation::bad_debt::{BadDebtEvent, realise_bad_debt};
use crate::liquidation::settle::Parties;
use crate::money::muldiv::{mul_div, quotient};
use crate::money::{Amount, Price, Rounding, Shares, Value};
use crate::pool::{Pool, PoolError};

/// A keeper's bid: up to `amount` tokens of collateral, at no more than `max_price` USD each.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Take {
    pub id: AuctionId,
    /// Receives the collateral, as supply shares.
    pub keeper: AccountId,
    pub amount: Amount,
    pub max_price: Price,
}

/// What a take did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Taken {
    /// The `Taken` step.
    pub step: Step,
    /// Tokens of the debt asset the keeper paid in.
    pub paid: Amount,
    /// The `Finished` step when this take ended the auction.
    pub finished: Option<Step>,
    /// Bad-debt steps when returned debt had nothing left to back it.
    pub bad_debt: Vec<BadDebtEvent>,
}

impl AuctionBook {
    /// Buys part or all of auction `req.id`'s lot for `parties.liquidator` (the keeper).
    /// `parties.borrower` must be the auction's borrower (see [`AuctionBook::get`]): it gets the
    /// leftover lot or the unpaid debt when this take ends the auction. The keeper's payment
    /// comes from outside the protocol and is returned as `paid`.
    ///
    /// # Errors
    /// An unknown auction, one that needs a reset, a price above `max_price`, a partial take
    /// that would leave less than `chost`, or one too small to buy a share; nothing changes
    /// then.
    pub fn take(
        &mut self,
        parties: &mut Parties,
        pools: &mut [Pool],
        market: &Market,
        req: &Take,
    ) -> Result<Taken, Refusal> {
        let dutch = market.dutch()?;
        let mut a = self
            .active
            .get(&req.id)
            .ok_or(Refusal::UnknownAuction(req.id))?
            .clone();
        let (d, c) = (a.debt_asset, a.collateral_asset);
        let price = self.current_price(&a, dutch, market.now_s)?;
        if price > req.max_price {
            return Err(Refusal::PriceAboveMax {
                price,
                max_price: req.max_price,
            });
        }
        let mut pool_d = pool_ref(pools, d)?.clone();
        let si_c = pool_ref(pools, c)?.supply_index();
        let tab = a.tab(pool_d.borrow_index())?;
        let lot_tokens = a.lot_tokens(si_c)?;
        let mut slice = req.amount.min(lot_tokens);
        let mut owe = owe_for(&a, slice, price)?;
        if owe > tab {
            owe = tab;
            slice = slice_for(&a, owe, price)?;
        } else if owe < tab && slice < lot_tokens {
            let left = tab.checked_sub(owe)?;
            if left.value_at(a.debt_price, a.debt_decimals, Rounding::Down)? < dutch.chost {
                let chost = dutch
                    .chost
                    .to_amount(a.debt_price, a.debt_decimals, Rounding::Up)?;
                let max_partial = slice_for(&a, tab.saturating_sub(chost), price)?;
                return Err(Refusal::LeavesLessThanChost { max_partial });
            }
        }
        let bought_shares = if slice == lot_tokens {
            a.lot
        } else {
            slice.to_shares(si_c, Rounding::Down)?.min(a.lot)
        };
        if slice.is_zero() || bought_shares.is_zero() || owe.is_zero() {
            return Err(Refusal::TakeTooSmall);
        }

        // The payment: debt first, then penalty.
        let (burned, to_debt) = if a.debt.is_zero() {
            (Shares::ZERO, Amount::ZERO)
        } else {
            pool_d.repay(owe, a.debt)?
        };
        let to_penalty = owe.checked_sub(to_debt)?;
        let (treasury_shares, insurance_shares) =
            penalty_shares(&mut pool_d, to_penalty, market.policy.insurance_share)?;
        let mut keeper = parties.liquidator.clone();
        keeper.add_supply(c, bought_shares)?;
        // Copied only when they change (most takes pay debt only).
        let treasury = credited(parties.treasury, d, treasury_shares)?;
        let mut insurance = credited(parties.insurance, d, insurance_shares)?;
        a.debt = a.debt.checked_sub(burned)?;
        a.penalty = a.penalty.checked_sub(to_penalty)?;
        a.lot = a.lot.checked_sub(bought_shares)?;

        let covered = a.debt.is_zero() && a.penalty.is_zero();
        let done = covered || a.lot.is_zero();
        let released = if done {
            a.dirt
        } else {
            Value::from_raw(mul_div(a.dirt.raw(), owe.raw(), tab.raw(), Rounding::Down)?)
        };
        a.dirt = a.dirt.checked_sub(released)?;
        let step = Step::Taken {
            at_s: market.now_s,
            keeper: req.keeper,
            price,
            bought: slice,
            bought_shares,
            paid: owe,
            to_debt,
            to_penalty,
            treasury_shares,
            insurance_shares,
            tab_left: a.tab(pool_d.borrow_index())?,
            lot_left: a.lot,
            released,
        };

        let mut pools_after_bad_debt = None;
        let mut borrower = None;
        let (mut finished, mut bad_debt) = (None, Vec::new());
        if done {
            let mut b = parties.borrower.clone();
            let outcome = if covered {
                b.add_supply(c, a.lot)?;
                Outcome::Covered {
                    lot_returned: a.lot,
                }
            } else {
                b.add_debt(d, a.debt)?;
                Outcome::LotSold {
                    debt_returned: a.debt,
                    penalty_forgiven: a.penalty,
                }
            };
            if !covered {
                // The bad-debt rule on the borrower with the debt back; an account whose health
                // cannot be computed (a missing price) keeps it as an ordinary debt until it can.
                let mut all = pools.to_vec();
                all[d.index()] = pool_d.clone();
                let fund = insurance.get_or_insert_with(|| parties.insurance.clone());
                match realise_bad_debt(
                    &mut b,
                    market.snapshot,
                    fund,
                    &mut all,
                    market.policy.dust_value,
                ) {
                    Ok(steps) if !steps.is_empty() => {
                        bad_debt = steps;
                        pools_after_bad_debt = Some(all);
                    }
                    Ok(_) | Err(Refusal::Health(_)) => {}
                    Err(e) => return Err(e),
                }
            }
            borrower = Some(b);
            finished = Some(Step::Finished {
                at_s: market.now_s,
                outcome,
            });
        }

        // Commit.
        self.release_dirt(c, released)?;
        if finished.is_some() {
            self.active.remove(&req.id);
        } else {
            self.active.insert(req.id, a);
        }
        if let Some(b) = borrower {
            *parties.borrower = b;
        }
        *parties.liquidator = keeper;
        if let Some(t) = treasury {
            *parties.treasury = t;
        }
        if let Some(i) = insurance {
            *parties.insurance = i;
        }
        match pools_after_bad_debt {
            Some(all) => pools.clone_from_slice(&all),
            None => pools[d.index()] = pool_d,
        }
        Ok(Taken {
            step,
            paid: owe,
            finished,
            bad_debt,
        })
    }
}

/// A copy of `account` holding `shares` more supply of `asset`; `None` (no copy) when `shares`
/// is zero.
fn credited(account: &Account, asset: AssetId, shares: Shares) -> Result<Option<Account>, Refusal> {
    if shares.is_zero() {
        return Ok(None);
    }
    let mut copy = account.clone();
    copy.add_supply(asset, shares)?;
    Ok(Some(copy))
}

/// Supplies the penalty part of a payment to the pool for the treasury and the insurance fund;
/// a part too small for one share is left to the pool's reserves.
fn penalty_shares(
    pool: &mut Pool,
    amount: Amount,
    insurance_share: crate::money::Ratio,
) -> Result<(Shares, Shares), Refusal> {
    if amount.is_zero() {
        return Ok((Shares::ZERO, Shares::ZERO));
    }
    let shares = match pool.deposit(amount, None) {
        Ok(s) => s,
        Err(PoolError::BelowOneShare) => {
            pool.donate(amount)?;
            return Ok((Shares::ZERO, Shares::ZERO));
        }
        Err(e) => return Err(e.into()),
    };
    let insurance = shares.mul_ratio(insurance_share, Rounding::Down)?;
    Ok((shares.checked_sub(insurance)?, insurance))
}

/// `⌈slice · p · 10^dec_d / (10^dec_c · p_d)⌉`: tokens of `d` owed for `slice` of collateral.
fn owe_for(a: &Auction, slice: Amount, price: Price) -> Result<Amount, Refusal> {
    let n = U512::from(slice.raw()) * U512::from(price.raw()) * U512::from(a.debt_decimals.unit());
    let q = U512::from(a.collateral_decimals.unit()) * U512::from(a.debt_price.raw());
    Ok(Amount::from_raw(quotient(n, q, Rounding::Up)?))
}

/// `⌊owe · p_d · 10^dec_c / (p · 10^dec_d)⌋`: collateral bought by paying `owe` tokens of `d`.
fn slice_for(a: &Auction, owe: Amount, price: Price) -> Result<Amount, Refusal> {
    let n = U512::from(owe.raw())
        * U512::from(a.debt_price.raw())
        * U512::from(a.collateral_decimals.unit());
    let q = U512::from(price.raw()) * U512::from(a.debt_decimals.unit());
    Ok(Amount::from_raw(quotient(n, q, Rounding::Down)?))
}
