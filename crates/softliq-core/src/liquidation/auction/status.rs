//! What a keeper or a dashboard asks of a running auction: its price now, whether it needs a
//! reset and when it will, and what is left of its lot and tab.

use super::book::{Auction, AuctionBook, AuctionId};
use super::{Dutch, Refusal};
use crate::account::AccountId;
use crate::asset::AssetId;
use crate::money::{Amount, Price, Ratio, Wide};
use crate::pool::Pool;

/// A running auction as of a moment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Status {
    pub id: AuctionId,
    pub borrower: AccountId,
    pub debt_asset: AssetId,
    pub collateral_asset: AssetId,
    /// USD per whole collateral token now, rounded up.
    pub price: Price,
    pub top: Price,
    /// USD per debt token fixed at the last start or reset: what a take's price converts at.
    pub debt_price: Price,
    pub elapsed_s: u64,
    /// Past `tail_s` or below `cusp · top`: takes wait for a `redo`.
    pub needs_reset: bool,
    /// Seconds until it needs a reset; zero when it does.
    pub reset_in_s: u64,
    /// Collateral tokens left for sale, rounded down.
    pub lot: Amount,
    /// Tokens of the debt asset still owed: debt (rounded up) plus penalty.
    pub tab: Amount,
    pub penalty: Amount,
    pub resets: u32,
}

/// Whether `price` is below `cusp · top`, exactly (both sides at WAD² scale).
fn below_cusp(dutch: &Dutch, top: Price, price: Price) -> bool {
    Wide::product(price.raw(), Ratio::ONE.raw()) < Wide::product(dutch.cusp.raw(), top.raw())
}

impl AuctionBook {
    /// `Some(price)` while takes are open at `now_s`, `None` once the auction needs a reset
    /// (Maker's `status().needsRedo`).
    pub(super) fn open_price(
        a: &Auction,
        dutch: &Dutch,
        now_s: u64,
    ) -> Result<Option<Price>, Refusal> {
        let elapsed = now_s.saturating_sub(a.started_s);
        let price = dutch.curve.price(a.top, elapsed)?;
        if elapsed > dutch.tail_s || below_cusp(dutch, a.top, price) {
            return Ok(None);
        }
        Ok(Some(price))
    }

    /// The price a take pays now.
    ///
    /// # Errors
    /// `NeedsReset` past `tail_s` or below `cusp · top`.
    pub(super) fn current_price(
        &self,
        a: &Auction,
        dutch: &Dutch,
        now_s: u64,
    ) -> Result<Price, Refusal> {
        Self::open_price(a, dutch, now_s)?.ok_or(Refusal::NeedsReset(a.id))
    }

    /// Seconds from `now_s` until auction `a` needs a reset: the first second past `tail_s` or
    /// below `cusp · top`, found by bisection on the curve (which never rises).
    pub(super) fn reset_in(a: &Auction, dutch: &Dutch, now_s: u64) -> Result<u64, Refusal> {
        let (mut lo, mut hi) = (now_s, a.started_s.saturating_add(dutch.tail_s) + 1);
        if Self::open_price(a, dutch, lo)?.is_none() {
            return Ok(0);
        }
        // Invariant: open at `lo`, closed at `hi`.
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if Self::open_price(a, dutch, mid)?.is_some() {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        Ok(hi - now_s)
    }

    /// Auction `id` at `now_s`, with its balances valued at `pools`' indices; `None` when no
    /// auction `id` is running.
    ///
    /// # Errors
    /// `Overflow` on an impossible balance.
    pub fn status(
        &self,
        id: AuctionId,
        dutch: &Dutch,
        pools: &[Pool],
        now_s: u64,
    ) -> Result<Option<Status>, Refusal> {
        let Some(a) = self.active.get(&id) else {
            return Ok(None);
        };
        let pool = |asset: AssetId| super::bark::pool_ref(pools, asset);
        let elapsed = now_s.saturating_sub(a.started_s);
        let reset_in_s = Self::reset_in(a, dutch, now_s)?;
        Ok(Some(Status {
            id,
            borrower: a.borrower,
            debt_asset: a.debt_asset,
            collateral_asset: a.collateral_asset,
            price: dutch.curve.price(a.top, elapsed)?,
            top: a.top,
            debt_price: a.debt_price,
            elapsed_s: elapsed,
            needs_reset: reset_in_s == 0,
            reset_in_s,
            lot: a.lot_tokens(pool(a.collateral_asset)?.supply_index())?,
            tab: a.tab(pool(a.debt_asset)?.borrow_index())?,
            penalty: a.penalty,
            resets: a.resets,
        }))
    }
}
