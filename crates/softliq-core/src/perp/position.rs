//! Perp positions and the account's perp wallet: trades that open, add to, reduce, close and
//! flip a position, realised PnL, and funding settled on touch.
//!
//! # Bookkeeping
//! A position keeps its signed `size` (base units; long > 0), its `basis` (the entry notional
//! of the open size, USD, never negative) and the cumulative funding index it last settled at.
//! Entry price = `basis / |size|`. Realised PnL and funding go to the wallet: the account's
//! cross `cash`, or the position's own `isolated` margin.
//!
//! Average-entry rules (the "average cost" method every major venue uses):
//! - **open / add** (`size` 0 or same sign as the fill): `basis += notional`; the entry price
//!   becomes the size-weighted average.
//! - **reduce** by `q < |size|`: the closed part's basis is `basis · q / |size|`, rounded
//!   against the trader (up for a long, whose realised PnL is `proceeds − basis_closed`; down
//!   for a short, whose PnL is `basis_closed − cost`); the remaining basis keeps the entry
//!   price. Over a position's life the closed bases sum to the basis exactly, so rounding only
//!   moves PnL between trades of one position, by at most one unit each.
//! - **close**: all the basis is released; realised = proceeds − basis (long) or basis − cost.
//! - **flip**: a fill larger than the position closes it (its notional split pro rata, the
//!   closing part rounded down, the opening part the exact remainder) and opens the rest on the
//!   other side at the fill price.
//!
//! # Conservation
//! For every account, `quote = wallet − basis` (long) or `wallet + basis` (short) changes by
//! exactly `−notional` on a buy and `+notional` on a sell, whatever the rounding above, so the
//! sum of all quotes, fees, the insurance fund and the funding pool is constant: see
//! [`PerpAccount::quote`].

use smallvec::SmallVec;

use crate::money::{Amount, Decimals, MathError, Rounding, SignedValue, Value};

use super::PerpMarketId;

/// A fill as the account sees it: `size` signed (buy > 0, sell < 0) and its USD `notional`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fill {
    pub size: i128,
    pub notional: Value,
}

/// One perp position.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PerpPosition {
    pub market: PerpMarketId,
    /// Signed size in base units: long > 0, short < 0.
    pub size: i128,
    /// Entry notional of the open size (USD), 0 when flat.
    pub basis: Value,
    /// The market's cumulative funding per whole contract when this position last settled.
    pub funding_index: SignedValue,
    /// `Some(margin)` for an isolated position: its own wallet, apart from the account's cash.
    pub isolated: Option<SignedValue>,
}

impl PerpPosition {
    #[must_use]
    pub const fn new(market: PerpMarketId, funding_index: SignedValue) -> Self {
        Self {
            market,
            size: 0,
            basis: Value::ZERO,
            funding_index,
            isolated: None,
        }
    }

    /// `|size|` as an amount of base units.
    #[must_use]
    pub const fn abs_size(&self) -> Amount {
        Amount::from_raw(self.size.unsigned_abs())
    }

    #[must_use]
    pub const fn is_long(&self) -> bool {
        self.size > 0
    }

    /// `basis / |size|` (the average entry price), `None` when flat.
    #[must_use]
    pub fn entry_price(&self, decimals: Decimals) -> Option<crate::money::Price> {
        if self.size == 0 {
            return None;
        }
        crate::money::muldiv::mul_div(
            self.basis.raw(),
            decimals.unit(),
            self.size.unsigned_abs(),
            Rounding::Down,
        )
        .ok()
        .map(crate::money::Price::from_raw)
    }

    /// The signed basis as the quote side sees it: `−basis` for a long, `+basis` for a short.
    fn signed_basis(&self) -> Result<SignedValue, MathError> {
        if self.size >= 0 {
            SignedValue::negative(self.basis)
        } else {
            SignedValue::positive(self.basis)
        }
    }

    /// Applies a fill to the position; returns the realised PnL to credit to its wallet.
    ///
    /// # Errors
    /// `Overflow`. On error the position is unchanged.
    pub fn apply(&mut self, fill: Fill) -> Result<SignedValue, MathError> {
        let mut next = *self;
        let realised = next.apply_inner(fill)?;
        *self = next;
        Ok(realised)
    }

    fn apply_inner(&mut self, fill: Fill) -> Result<SignedValue, MathError> {
        if fill.size == 0 {
            return Ok(SignedValue::ZERO);
        }
        if self.size == 0 || (self.size > 0) == (fill.size > 0) {
            self.size = self
                .size
                .checked_add(fill.size)
                .ok_or(MathError::Overflow)?;
            self.basis = self.basis.checked_add(fill.notional)?;
            return Ok(SignedValue::ZERO);
        }
        let open = self.size.unsigned_abs();
        let q = fill.size.unsigned_abs();
        let closed = q.min(open);
        let closing_notional = if closed == q {
            fill.notional
        } else {
            Value::from_raw(crate::money::muldiv::mul_div(
                fill.notional.raw(),
                closed,
                q,
                Rounding::Down,
            )?)
        };
        let long = self.size > 0;
        let basis_closed = if closed == open {
            self.basis
        } else {
            let against_trader = if long { Rounding::Up } else { Rounding::Down };
            Value::from_raw(crate::money::muldiv::mul_div(
                self.basis.raw(),
                closed,
                open,
                against_trader,
            )?)
        };
        let realised = if long {
            SignedValue::positive(closing_notional)?.minus(basis_closed)?
        } else {
            SignedValue::positive(basis_closed)?.minus(closing_notional)?
        };
        self.basis = self.basis.checked_sub(basis_closed)?;
        let closed_signed = i128::try_from(closed).map_err(|_| MathError::Overflow)?;
        self.size = if long {
            self.size - closed_signed
        } else {
            self.size + closed_signed
        };
        if closed < q {
            // Flip: the rest opens on the other side at the fill price.
            let rest = i128::try_from(q - closed).map_err(|_| MathError::Overflow)?;
            self.size = if fill.size > 0 { rest } else { -rest };
            self.basis = fill.notional.checked_sub(closing_notional)?;
        }
        Ok(realised)
    }

    /// Funding this position owes since it last settled: `size · (cumulative − own index)`
    /// per whole contract; positive = owed by the position. Rounded against the position:
    /// what it owes rounds up, what it is owed rounds down.
    ///
    /// # Errors
    /// `Overflow`.
    #[inline]
    pub fn funding_owed(
        &self,
        cumulative: SignedValue,
        decimals: Decimals,
    ) -> Result<SignedValue, MathError> {
        let delta = cumulative.checked_sub(self.funding_index)?;
        let owes = (self.size > 0) == (delta.raw() > 0);
        let rounding = if owes { Rounding::Up } else { Rounding::Down };
        SignedValue::of_units(self.size, delta, decimals, rounding)
    }
}

/// An account's perp side: its cross-margin cash (USD, may be negative after losses) and its
/// positions, at most one per market, sorted by market. One position (most accounts) is held
/// inline, so valuing an account in a book of many touches one place in memory, not two.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PerpAccount {
    pub cash: SignedValue,
    positions: SmallVec<[PerpPosition; 1]>,
}

impl PerpAccount {
    #[must_use]
    pub const fn new() -> Self {
        Self {
            cash: SignedValue::ZERO,
            positions: SmallVec::new_const(),
        }
    }

    /// An account with `cash` USD of margin and no positions.
    #[must_use]
    pub const fn with_cash(cash: SignedValue) -> Self {
        Self {
            cash,
            positions: SmallVec::new_const(),
        }
    }

    #[must_use]
    pub fn positions(&self) -> &[PerpPosition] {
        &self.positions
    }

    /// The position in `market`, if open (or holding isolated margin).
    #[must_use]
    pub fn position(&self, market: PerpMarketId) -> Option<&PerpPosition> {
        self.find(market).ok().map(|i| &self.positions[i])
    }

    fn find(&self, market: PerpMarketId) -> Result<usize, usize> {
        self.positions.binary_search_by_key(&market, |p| p.market)
    }

    /// True when no position is open.
    #[must_use]
    pub fn is_flat(&self) -> bool {
        self.positions.iter().all(|p| p.size == 0)
    }

    /// Settles the position's funding into its wallet at `cumulative`; returns what it paid
    /// (positive) or received (negative), for the market's funding pool.
    ///
    /// # Errors
    /// `Overflow`.
    pub fn settle_funding(
        &mut self,
        market: PerpMarketId,
        cumulative: SignedValue,
        decimals: Decimals,
    ) -> Result<SignedValue, MathError> {
        let Ok(i) = self.find(market) else {
            return Ok(SignedValue::ZERO);
        };
        let owed = self.positions[i].funding_owed(cumulative, decimals)?;
        self.credit(i, SignedValue::ZERO.checked_sub(owed)?)?;
        self.positions[i].funding_index = cumulative;
        Ok(owed)
    }

    /// Adds `amount` to position `i`'s wallet (its isolated margin, or the cash).
    fn credit(&mut self, i: usize, amount: SignedValue) -> Result<(), MathError> {
        match &mut self.positions[i].isolated {
            Some(m) => *m = m.checked_add(amount)?,
            None => self.cash = self.cash.checked_add(amount)?,
        }
        Ok(())
    }

    /// Applies a fill in `market` (funding must be settled first: the caller passes the
    /// market's cumulative index, which a new position starts from) and charges `fee` to the
    /// position's wallet. Returns the realised PnL. A position that ends flat with cross margin
    /// is removed; a flat isolated one returns its margin to the cash.
    ///
    /// # Errors
    /// `Overflow`. On error nothing changes.
    pub fn trade(
        &mut self,
        market: PerpMarketId,
        fill: Fill,
        fee: Value,
        cumulative: SignedValue,
    ) -> Result<SignedValue, MathError> {
        let before = self.clone();
        let r = self.trade_inner(market, fill, fee, cumulative);
        if r.is_err() {
            *self = before;
        }
        r
    }

    fn trade_inner(
        &mut self,
        market: PerpMarketId,
        fill: Fill,
        fee: Value,
        cumulative: SignedValue,
    ) -> Result<SignedValue, MathError> {
        let i = match self.find(market) {
            Ok(i) => i,
            Err(i) => {
                self.positions
                    .insert(i, PerpPosition::new(market, cumulative));
                i
            }
        };
        let realised = self.positions[i].apply(fill)?;
        self.credit(i, realised.minus(fee)?)?;
        self.drop_if_flat(i)?;
        Ok(realised)
    }

    fn drop_if_flat(&mut self, i: usize) -> Result<(), MathError> {
        if self.positions[i].size != 0 {
            return Ok(());
        }
        if let Some(m) = self.positions[i].isolated {
            self.cash = self.cash.checked_add(m)?;
        }
        self.positions.remove(i);
        Ok(())
    }

    /// Moves `margin` from the cash into an isolated position in `market` (opening the slot if
    /// needed). Refused when the position exists with cross margin and size, since switching a
    /// live position's mode would move its PnL between wallets.
    ///
    /// # Errors
    /// `Negative` when `margin` exceeds the positive cash; `Overflow`.
    pub fn isolate(
        &mut self,
        market: PerpMarketId,
        margin: Value,
        cumulative: SignedValue,
    ) -> Result<(), MathError> {
        if self.cash.positive_part() < margin {
            return Err(MathError::Negative);
        }
        let i = match self.find(market) {
            Ok(i) if self.positions[i].isolated.is_none() => return Err(MathError::Negative),
            Ok(i) => i,
            Err(i) => {
                let mut p = PerpPosition::new(market, cumulative);
                p.isolated = Some(SignedValue::ZERO);
                self.positions.insert(i, p);
                i
            }
        };
        self.cash = self.cash.minus(margin)?;
        self.credit(i, SignedValue::positive(margin)?)
    }

    /// The account's quote balance: `cash + Σ (isolated margin ∓ basis)`. A fill moves it by
    /// exactly `∓notional` and a fee by `−fee`, so `Σ quote` over all accounts plus fees,
    /// insurance and the funding pool never changes: the conservation check.
    ///
    /// # Errors
    /// `Overflow`.
    pub fn quote(&self) -> Result<SignedValue, MathError> {
        let mut q = self.cash;
        for p in &self.positions {
            q = q.checked_add(p.signed_basis()?)?;
            if let Some(m) = p.isolated {
                q = q.checked_add(m)?;
            }
        }
        Ok(q)
    }
}
