//! One asset's lending pool: cash, shares, indices and the treasury's reserves (docs/interest.md).
//!
//! Balances are shares; an account's claim is `supply_shares · supply_index` (rounded down)
//! and its debt `debt_shares · borrow_index` (rounded up). The pool keeps the **pool identity**
//! exact in base units after every operation:
//!
//! ```text
//! supplied + reserves = cash + borrowed
//! supplied = ⌊total supply shares · supply_index⌋,  borrowed = ⌈total debt shares · borrow_index⌉
//! ```
//!
//! Share conversions round in the protocol's favour (docs/money.md), so each operation leaves a few
//! base units of rounding dust on the protocol's side. That dust is credited to `reserves`,
//! which is therefore *defined* as `cash + borrowed − supplied`; every operation checks that it
//! never falls (see the derivations in `docs/interest.md`).

pub mod conservation;
mod interest;
#[cfg(test)]
mod tests;

pub use interest::{Accrual, Rates, SECONDS_PER_YEAR};

use crate::money::{Amount, Index, MathError, RAY, Ratio, Rounding, Shares, muldiv::mul_div};

/// How a repayment of `amount` against a debt of `owed_shares` at borrow index `index` burns
/// shares: rounded down (the borrower is never credited more than paid), except that paying at
/// least the whole debt (`⌈owed_shares · index⌉`) burns all of it and takes only that much.
/// Returns (shares burned, amount taken).
///
/// # Errors
/// `Overflow` on an impossible balance.
pub fn repay_shares(
    amount: Amount,
    owed_shares: Shares,
    index: Index,
) -> Result<(Shares, Amount), MathError> {
    let owed = owed_shares.to_amount(index, Rounding::Up)?;
    if amount >= owed {
        return Ok((owed_shares, owed));
    }
    Ok((
        amount.to_shares(index, Rounding::Down)?.min(owed_shares),
        amount,
    ))
}

/// Why a pool operation was refused. A refused operation changes nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PoolError {
    #[error(transparent)]
    Math(#[from] MathError),
    #[error("amount: must be greater than zero")]
    ZeroAmount,
    #[error("amount: too small to mint a single share at the current index")]
    BelowOneShare,
    #[error("amount: the pool holds only {available} base units of cash")]
    InsufficientCash { available: Amount },
    #[error("amount: supply cap of {cap} base units would be exceeded")]
    SupplyCap { cap: Amount },
    #[error("amount: borrow cap of {cap} base units would be exceeded")]
    BorrowCap { cap: Amount },
    #[error("timestamp: {now_s} is before the last accrual at {last_s}")]
    TimeWentBackwards { now_s: u64, last_s: u64 },
    #[error("pool identity broken: reserves would fall by rounding")]
    ReservesFell,
}

/// The state of one asset's pool.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Pool {
    cash: Amount,
    supply_shares: Shares,
    debt_shares: Shares,
    supply_index: Index,
    borrow_index: Index,
    reserves: Amount,
    last_accrual_s: u64,
}

impl Pool {
    /// An empty pool whose interest starts accruing at `now_s`.
    #[must_use]
    pub const fn new(now_s: u64) -> Self {
        Self {
            cash: Amount::ZERO,
            supply_shares: Shares::ZERO,
            debt_shares: Shares::ZERO,
            supply_index: Index::ONE,
            borrow_index: Index::ONE,
            reserves: Amount::ZERO,
            last_accrual_s: now_s,
        }
    }

    #[must_use]
    pub const fn cash(&self) -> Amount {
        self.cash
    }
    #[must_use]
    pub const fn reserves(&self) -> Amount {
        self.reserves
    }
    #[must_use]
    pub const fn supply_index(&self) -> Index {
        self.supply_index
    }
    #[must_use]
    pub const fn borrow_index(&self) -> Index {
        self.borrow_index
    }
    #[must_use]
    pub const fn supply_shares(&self) -> Shares {
        self.supply_shares
    }
    #[must_use]
    pub const fn debt_shares(&self) -> Shares {
        self.debt_shares
    }
    #[must_use]
    pub const fn last_accrual_s(&self) -> u64 {
        self.last_accrual_s
    }

    /// What all suppliers together may claim: `⌊supply shares · supply_index⌋`.
    ///
    /// # Errors
    /// `Overflow` on an impossible pool.
    pub fn supplied(&self) -> Result<Amount, MathError> {
        self.supply_shares
            .to_amount(self.supply_index, Rounding::Down)
    }

    /// What all borrowers together owe: `⌈debt shares · borrow_index⌉`.
    ///
    /// # Errors
    /// `Overflow` on an impossible pool.
    pub fn borrowed(&self) -> Result<Amount, MathError> {
        self.debt_shares.to_amount(self.borrow_index, Rounding::Up)
    }

    /// `U = borrowed / (cash + borrowed)`, rounded down; 0 for an empty pool.
    ///
    /// # Errors
    /// `Overflow` on an impossible pool.
    pub fn utilisation(&self) -> Result<Ratio, MathError> {
        let borrowed = self.borrowed()?;
        let total = self.cash.checked_add(borrowed)?;
        if total.is_zero() {
            return Ok(Ratio::ZERO);
        }
        Ratio::from_fraction(borrowed.raw(), total.raw(), Rounding::Down)
    }

    /// Takes `amount` of cash in and mints supply shares, rounded down.
    ///
    /// # Errors
    /// Zero amount, an amount below one share, the supply cap, or overflow.
    pub fn deposit(&mut self, amount: Amount, cap: Option<Amount>) -> Result<Shares, PoolError> {
        if amount.is_zero() {
            return Err(PoolError::ZeroAmount);
        }
        let shares = amount.to_shares(self.supply_index, Rounding::Down)?;
        if shares.is_zero() {
            return Err(PoolError::BelowOneShare);
        }
        if let Some(cap) = cap
            && self.supplied()?.checked_add(amount)? > cap
        {
            return Err(PoolError::SupplyCap { cap });
        }
        let mut next = self.clone();
        next.cash = next.cash.checked_add(amount)?;
        next.supply_shares = next.supply_shares.checked_add(shares)?;
        self.commit(next)?;
        Ok(shares)
    }

    /// Pays `amount` of cash out and burns the supply shares it stands for, rounded up.
    /// The caller checks that the account holds those shares.
    ///
    /// # Errors
    /// Zero amount, not enough cash, or burning more shares than exist.
    pub fn withdraw(&mut self, amount: Amount) -> Result<Shares, PoolError> {
        if amount.is_zero() {
            return Err(PoolError::ZeroAmount);
        }
        let shares = amount.to_shares(self.supply_index, Rounding::Up)?;
        self.remove_supply(shares, amount)?;
        Ok(shares)
    }

    /// Burns exactly `shares` of supply and pays out what they are worth, rounded down: the
    /// "withdraw everything" path, which leaves no share behind.
    ///
    /// # Errors
    /// Not enough cash, or burning more shares than exist.
    pub fn redeem(&mut self, shares: Shares) -> Result<Amount, PoolError> {
        let amount = shares.to_amount(self.supply_index, Rounding::Down)?;
        self.remove_supply(shares, amount)?;
        Ok(amount)
    }

    fn remove_supply(&mut self, shares: Shares, amount: Amount) -> Result<(), PoolError> {
        if amount > self.cash {
            return Err(PoolError::InsufficientCash {
                available: self.cash,
            });
        }
        let mut next = self.clone();
        next.cash = next.cash.checked_sub(amount)?;
        next.supply_shares = next.supply_shares.checked_sub(shares)?;
        self.commit(next)
    }

    /// Lends `amount` of cash and books debt shares, rounded up.
    ///
    /// # Errors
    /// Zero amount, not enough cash, the borrow cap, or overflow.
    pub fn borrow(&mut self, amount: Amount, cap: Option<Amount>) -> Result<Shares, PoolError> {
        if amount.is_zero() {
            return Err(PoolError::ZeroAmount);
        }
        if amount > self.cash {
            return Err(PoolError::InsufficientCash {
                available: self.cash,
            });
        }
        let shares = amount.to_shares(self.borrow_index, Rounding::Up)?;
        let mut next = self.clone();
        next.cash = next.cash.checked_sub(amount)?;
        next.debt_shares = next.debt_shares.checked_add(shares)?;
        if let Some(cap) = cap
            && next.borrowed()? > cap
        {
            return Err(PoolError::BorrowCap { cap });
        }
        self.commit(next)?;
        Ok(shares)
    }

    /// Takes `amount` of cash back and burns debt shares (see [`repay_shares`]). Returns the
    /// shares burned and the amount taken.
    ///
    /// # Errors
    /// Zero amount, or burning more shares than exist.
    pub fn repay(
        &mut self,
        amount: Amount,
        owed_shares: Shares,
    ) -> Result<(Shares, Amount), PoolError> {
        if amount.is_zero() {
            return Err(PoolError::ZeroAmount);
        }
        let (shares, taken) = repay_shares(amount, owed_shares, self.borrow_index)?;
        let mut next = self.clone();
        next.cash = next.cash.checked_add(taken)?;
        next.debt_shares = next.debt_shares.checked_sub(shares)?;
        self.commit(next)?;
        Ok((shares, taken))
    }

    /// Takes `amount` of cash in with no claim against it, so it becomes reserves: a penalty
    /// payment too small to mint a single share.
    ///
    /// # Errors
    /// `Overflow`.
    pub fn donate(&mut self, amount: Amount) -> Result<(), PoolError> {
        let mut next = self.clone();
        next.cash = next.cash.checked_add(amount)?;
        self.commit(next)
    }

    /// Pays a borrower's debt out of a supplier's claim without moving cash: burns
    /// `supply_shares` (worth `⌊shares · SI⌋`) and repays that much of `owed_shares` of debt.
    /// This is how an insurance fund, itself a supplier of the pool, covers bad debt.
    /// Returns the debt shares burned and the amount repaid.
    ///
    /// # Errors
    /// Burning more shares than exist.
    pub fn cover(
        &mut self,
        supply_shares: Shares,
        owed_shares: Shares,
    ) -> Result<(Shares, Amount), PoolError> {
        let worth = supply_shares.to_amount(self.supply_index, Rounding::Down)?;
        let (debt_burned, repaid) = repay_shares(worth, owed_shares, self.borrow_index)?;
        let mut next = self.clone();
        next.supply_shares = next.supply_shares.checked_sub(supply_shares)?;
        next.debt_shares = next.debt_shares.checked_sub(debt_burned)?;
        self.commit(next)?;
        Ok((debt_burned, repaid))
    }

    /// Pays a debt of `owed_shares` out of the reserves, as far as they go, without moving
    /// cash: the protocol's own money absorbs the loss before anyone else's (see
    /// `liquidation::absorb`). Burns `⌊min(reserves, owed) / BI⌋` shares (all of them when the
    /// reserves cover the whole debt), so `borrowed` falls by at most the amount and the
    /// reserves, by the identity, by at most the same. Returns (shares burned, amount paid).
    ///
    /// # Errors
    /// Burning more shares than exist.
    pub fn forgive(&mut self, owed_shares: Shares) -> Result<(Shares, Amount), PoolError> {
        let owed = owed_shares.to_amount(self.borrow_index, Rounding::Up)?;
        let (burned, paid) = repay_shares(owed.min(self.reserves), owed_shares, self.borrow_index)?;
        let mut next = self.clone();
        next.debt_shares = next.debt_shares.checked_sub(burned)?;
        next.reserves = next.identity_reserves()?;
        *self = next;
        Ok((burned, paid))
    }

    /// Writes off `debt_shares` that nobody will repay and spreads the loss over the suppliers
    /// by lowering the supply index (docs/liquidation.md, Bad debt), each losing in proportion to
    /// its balance. The index falls by `⌈loss / supply_shares⌉`, so suppliers' claims fall by at
    /// least the loss and reserves do not fall; only a loss larger than all suppliers' claims
    /// reaches the reserves. Returns the loss in base units.
    ///
    /// # Errors
    /// Burning more shares than exist.
    pub fn write_off(&mut self, debt_shares: Shares) -> Result<Amount, PoolError> {
        let mut next = self.clone();
        next.debt_shares = next.debt_shares.checked_sub(debt_shares)?;
        let loss = self.borrowed()?.checked_sub(next.borrowed()?)?;
        let step = if self.supply_shares.is_zero() {
            None
        } else {
            Some(mul_div(
                loss.raw(),
                RAY,
                self.supply_shares.raw(),
                Rounding::Up,
            )?)
        };
        next.supply_index =
            Index::from_raw(self.supply_index.raw().saturating_sub(step.unwrap_or(0)));
        if step.is_some_and(|s| s <= self.supply_index.raw()) {
            // Suppliers absorb the loss: reserves may not fall, as in every other operation.
            self.commit(next)?;
        } else {
            // No suppliers, or a loss beyond all their claims: the reserves take the rest.
            next.reserves = next.identity_reserves()?;
            *self = next;
        }
        Ok(loss)
    }

    /// Recomputes the reserves from the identity and installs `next` if they did not fall.
    fn commit(&mut self, mut next: Self) -> Result<(), PoolError> {
        next.reserves = next.identity_reserves()?;
        if next.reserves < self.reserves {
            return Err(PoolError::ReservesFell);
        }
        *self = next;
        Ok(())
    }

    /// `cash + borrowed − supplied`: what the identity leaves to the treasury.
    fn identity_reserves(&self) -> Result<Amount, MathError> {
        self.cash
            .checked_add(self.borrowed()?)?
            .checked_sub(self.supplied()?)
    }

    /// Checks the pool identity `supplied + reserves = cash + borrowed`, exactly.
    ///
    /// # Errors
    /// A description of the two sides when they differ.
    pub fn check_identity(&self) -> Result<(), String> {
        let lhs = self.supplied().and_then(|s| s.checked_add(self.reserves));
        let rhs = self.borrowed().and_then(|b| b.checked_add(self.cash));
        match (lhs, rhs) {
            (Ok(l), Ok(r)) if l == r => Ok(()),
            (l, r) => Err(format!(
                "supplied + reserves = {l:?} but cash + borrowed = {r:?}"
            )),
        }
    }
}
