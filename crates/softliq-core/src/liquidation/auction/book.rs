//! The running auctions of a market: each one's lot and debt, and the caps' running totals.
//!
//! The book keeps state, not history: each flow returns the [`super::Step`] it took, and whoever
//! records events keeps the history (the engine keeps every auction's steps in its state). A
//! take then costs what the sale costs, not the upkeep of an ever-growing log.
//!
//! An auction holds what `bark` took from the borrower as shares — supply shares of the
//! collateral (`lot`) and debt shares of the debt asset (`debt`) — so that pools never see an
//! auction start: shares change hands, totals stay. The debt keeps accruing interest like any
//! other debt (suppliers are not short-changed by a slow auction); the penalty is a fixed
//! amount of the debt asset set at the start. Conservation per asset therefore reads: the
//! shares of all accounts plus those held by active auctions equal the pool's totals.

use std::collections::BTreeMap;

use crate::account::AccountId;
use crate::asset::AssetId;
use crate::money::{Amount, Decimals, Index, MathError, Price, Rounding, Shares, Value};

/// An auction's number, in start order from 1.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct AuctionId(pub u64);

/// One running auction.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Auction {
    pub id: AuctionId,
    /// Whose position it sells: leftover collateral, or unpaid debt, goes back to this account.
    pub borrower: AccountId,
    pub debt_asset: AssetId,
    pub collateral_asset: AssetId,
    pub debt_decimals: Decimals,
    pub collateral_decimals: Decimals,
    /// Supply shares of the collateral asset for sale.
    pub lot: Shares,
    /// Debt shares of the debt asset still to repay.
    pub debt: Shares,
    /// Tokens of the debt asset still due as penalty, after the debt.
    pub penalty: Amount,
    /// USD counted against the caps: the tab's value at the start, released in proportion as
    /// the tab is paid and in full when the auction ends.
    pub dirt: Value,
    /// USD per whole collateral token at the last start or reset.
    pub top: Price,
    /// USD per whole debt token at the last start or reset: what converts a keeper's price into
    /// tokens of the debt asset until the next reset.
    pub debt_price: Price,
    /// Second of the last start or reset (Maker's `tic`).
    pub started_s: u64,
    pub resets: u32,
}

impl Auction {
    /// The tab in tokens of the debt asset at `borrow_index`: debt (rounded up) plus penalty.
    ///
    /// # Errors
    /// `Overflow` on an impossible balance.
    pub fn tab(&self, borrow_index: Index) -> Result<Amount, MathError> {
        self.debt
            .to_amount(borrow_index, Rounding::Up)?
            .checked_add(self.penalty)
    }

    /// The lot in tokens of the collateral asset at `supply_index`, rounded down.
    ///
    /// # Errors
    /// `Overflow` on an impossible balance.
    pub fn lot_tokens(&self, supply_index: Index) -> Result<Amount, MathError> {
        self.lot.to_amount(supply_index, Rounding::Down)
    }
}

/// An auction that ended, and how.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The tab was paid; `lot_returned` supply shares went back to the borrower.
    Covered { lot_returned: Shares },
    /// The lot ran out first: `debt_returned` debt shares went back to the borrower (and on to
    /// realised as bad debt if nothing backs them there); `penalty_forgiven` of the penalty was
    /// never paid.
    LotSold {
        debt_returned: Shares,
        penalty_forgiven: Amount,
    },
}

/// Every auction of a market: the running ones and the caps' totals.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AuctionBook {
    pub(super) active: BTreeMap<AuctionId, Auction>,
    pub(super) last_id: u64,
    /// Σ dirt of active auctions (checked against `hole_total`).
    pub(super) dirt_total: Value,
    /// Σ dirt of active auctions per collateral asset (checked against `auction_hole`).
    pub(super) dirt_by_asset: BTreeMap<AssetId, Value>,
}

impl AuctionBook {
    #[must_use]
    pub const fn new() -> Self {
        Self {
            active: BTreeMap::new(),
            last_id: 0,
            dirt_total: Value::ZERO,
            dirt_by_asset: BTreeMap::new(),
        }
    }

    /// The running auctions, by id.
    pub fn active(&self) -> impl Iterator<Item = &Auction> {
        self.active.values()
    }

    #[must_use]
    pub fn get(&self, id: AuctionId) -> Option<&Auction> {
        self.active.get(&id)
    }

    /// How many auctions were ever started.
    #[must_use]
    pub const fn started(&self) -> u64 {
        self.last_id
    }

    /// The tab value under auction, all assets together.
    #[must_use]
    pub const fn dirt_total(&self) -> Value {
        self.dirt_total
    }

    /// The tab value under auction against collateral `asset`.
    #[must_use]
    pub fn dirt(&self, asset: AssetId) -> Value {
        self.dirt_by_asset
            .get(&asset)
            .copied()
            .unwrap_or(Value::ZERO)
    }

    /// Supply and debt shares of `asset` held by running auctions: what conservation adds to
    /// the accounts' shares.
    #[must_use]
    pub fn held(&self, asset: AssetId) -> (Shares, Shares) {
        let (mut supply, mut debt) = (0u128, 0u128);
        for a in self.active.values() {
            if a.collateral_asset == asset {
                supply = supply.saturating_add(a.lot.raw());
            }
            if a.debt_asset == asset {
                debt = debt.saturating_add(a.debt.raw());
            }
        }
        (Shares::from_raw(supply), Shares::from_raw(debt))
    }

    /// Checks that the caps' running totals equal the sums over the running auctions.
    ///
    /// # Errors
    /// A description of the first total that differs.
    pub fn check_totals(&self) -> Result<(), String> {
        let mut total = 0u128;
        let mut by_asset: BTreeMap<AssetId, u128> = BTreeMap::new();
        for a in self.active.values() {
            total += a.dirt.raw();
            *by_asset.entry(a.collateral_asset).or_default() += a.dirt.raw();
        }
        if total != self.dirt_total.raw() {
            return Err(format!(
                "auctions: dirt_total {} but the running auctions sum to {total}",
                self.dirt_total.raw()
            ));
        }
        for (asset, dirt) in &self.dirt_by_asset {
            let sum = by_asset.get(asset).copied().unwrap_or(0);
            if sum != dirt.raw() {
                return Err(format!(
                    "auctions: dirt of asset {} is {} but its auctions sum to {sum}",
                    asset.0,
                    dirt.raw()
                ));
            }
        }
        Ok(())
    }

    /// Counts `dirt` against the caps.
    pub(super) fn add_dirt(&mut self, asset: AssetId, dirt: Value) -> Result<(), MathError> {
        self.dirt_total = self.dirt_total.checked_add(dirt)?;
        let d = self.dirt_by_asset.entry(asset).or_insert(Value::ZERO);
        *d = d.checked_add(dirt)?;
        Ok(())
    }

    /// Releases `dirt` from the caps.
    pub(super) fn release_dirt(&mut self, asset: AssetId, dirt: Value) -> Result<(), MathError> {
        self.dirt_total = self.dirt_total.checked_sub(dirt)?;
        let d = self.dirt_by_asset.entry(asset).or_insert(Value::ZERO);
        *d = d.checked_sub(dirt)?;
        if d.is_zero() {
            self.dirt_by_asset.remove(&asset);
        }
        Ok(())
    }
}
