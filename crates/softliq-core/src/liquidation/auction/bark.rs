//! `bark`: start an auction on a liquidatable account.
//!
//! Sizing, in tokens of the debt asset `d` so that each step rounds once and the caps hold
//! exactly:
//!
//! ```text
//! room      = min(hole_total − Σ dirt, auction_hole_c − Σ dirt_c)          USD
//! whole     : tab = ⌈owed · chop⌉, dirt = ⌈tab · p_d⌉ ≤ room  → move all the debt in d
//! otherwise : tab_max  = ⌊room / p_d⌋,  debt_max = ⌊tab_max / chop⌋
//!             if owed − debt_max < dust: debt_max = owed − dust   (never leave dust behind)
//!             refuse if debt_max < dust                           (never start a dust auction)
//!             shares = ⌊debt_max / BI⌋,  debt = ⌈shares · BI⌉ ≤ debt_max
//! ```
//!
//! so `⌈debt · chop⌉ ≤ tab_max` and the dirt, `⌈tab · p_d⌉`, is at most `room`: the caps are never
//! exceeded, not even by rounding. (Maker lets a start overshoot its `hole` to avoid leaving a
//! dusty vault; here the start shrinks instead, so the caps are hard.)
//!
//! The lot is the collateral in `c` that backs the tab at the liquidation threshold,
//! `⌈tab · p_d / (lt_c · p_c)⌉` tokens, or all the account holds in `c` if that is less. For an
//! account with one collateral asset that is all of it, as in Maker; in a cross-margin account it
//! leaves the other collateral where it is. A larger lot costs the borrower nothing — what is
//! not sold comes back — but it keeps collateral out of the account while the auction runs.

use super::book::{Auction, AuctionBook, AuctionId};
use super::{Market, Refusal, Step, pay_reward};
use crate::account::AccountId;
use crate::asset::AssetId;
use crate::health::Health;
use crate::liquidation::settle::Parties;
use crate::money::muldiv::{mul_div, mul_div_pow10};
use crate::money::{Amount, Price, Ratio, Rounding, Value, WAD};
use crate::pool::Pool;

/// A keeper's request to start an auction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Bark {
    pub borrower: AccountId,
    pub debt_asset: AssetId,
    pub collateral_asset: AssetId,
    /// Receives the reward.
    pub keeper: AccountId,
}

impl AuctionBook {
    /// Starts an auction on `parties.borrower` (the account `req.borrower`): moves debt of
    /// `req.debt_asset` (plus `chop`) and collateral of `req.collateral_asset` into it, within
    /// the caps, and pays `parties.liquidator` (the keeper) its reward from `parties.treasury`.
    /// Returns the new auction's id and its `Started` step.
    ///
    /// # Errors
    /// Not a `dutch` market, the same asset twice, a stale price, an account that is not
    /// liquidatable or holds no debt in `d` or no collateral in `c`, no room under the caps for
    /// more than dust; nothing changes then.
    pub fn bark(
        &mut self,
        parties: &mut Parties,
        pools: &[Pool],
        market: &Market,
        req: &Bark,
    ) -> Result<(AuctionId, Step), Refusal> {
        let dutch = market.dutch()?;
        let (d, c) = (req.debt_asset, req.collateral_asset);
        if d == c {
            return Err(Refusal::SameAsset);
        }
        let borrower = &*parties.borrower;
        for pos in borrower.positions() {
            if market.snapshot.get(pos.asset)?.stale {
                return Err(Refusal::StalePrice(pos.asset));
            }
        }
        let health = Health::of(borrower, market.snapshot)?;
        if !health.is_liquidatable() {
            return Err(Refusal::NotLiquidatable {
                health_factor: health.health_factor(),
            });
        }
        let (rd, rc) = (market.snapshot.get(d)?, market.snapshot.get(c)?);
        let owed_shares = borrower.position(d).debt;
        let held = borrower.position(c).supply;
        if owed_shares.is_zero() {
            return Err(Refusal::NoDebt(d));
        }
        if held.is_zero() {
            return Err(Refusal::NoCollateral(c));
        }
        let (pool_d, pool_c) = (pool_ref(pools, d)?, pool_ref(pools, c)?);
        let (bi, si_c, si_d) = (
            pool_d.borrow_index(),
            pool_c.supply_index(),
            pool_d.supply_index(),
        );

        let room = self.room(dutch.hole_total, market.asset_holes, c);
        let owed = owed_shares.to_amount(bi, Rounding::Up)?;
        let whole_tab = owed.mul_ratio(dutch.chop, Rounding::Up)?;
        let debt_shares = if whole_tab.value_at(rd.price, rd.decimals, Rounding::Up)? <= room {
            owed_shares
        } else {
            let tab_max = room.to_amount(rd.price, rd.decimals, Rounding::Down)?;
            let mut debt_max = Amount::from_raw(mul_div(
                tab_max.raw(),
                WAD,
                dutch.chop.raw(),
                Rounding::Down,
            )?);
            let dust = market
                .policy
                .dust_value
                .to_amount(rd.price, rd.decimals, Rounding::Up)?;
            if owed.saturating_sub(debt_max) < dust {
                debt_max = owed.saturating_sub(dust);
            }
            if debt_max < dust || debt_max.is_zero() {
                return Err(Refusal::NoRoom { room });
            }
            debt_max.to_shares(bi, Rounding::Down)?.min(owed_shares)
        };
        if debt_shares.is_zero() {
            return Err(Refusal::NoRoom { room });
        }
        let debt = debt_shares.to_amount(bi, Rounding::Up)?;
        let tab = debt.mul_ratio(dutch.chop, Rounding::Up)?;
        let penalty = tab.checked_sub(debt)?;
        let dirt = tab.value_at(rd.price, rd.decimals, Rounding::Up)?;

        let backing = dirt
            .div_ratio(rc.liquidation_threshold, Rounding::Up)?
            .to_amount(rc.price, rc.decimals, Rounding::Up)?;
        let lot = backing.to_shares(si_c, Rounding::Up)?.min(held);
        let lot_tokens = lot.to_amount(si_c, Rounding::Down)?;
        if lot_tokens.is_zero() {
            return Err(Refusal::NoCollateral(c));
        }
        let top = scale_price(rc.price, dutch.buf)?;

        let mut borrower = parties.borrower.clone();
        let mut keeper = parties.liquidator.clone();
        let mut treasury = parties.treasury.clone();
        borrower.remove_debt(d, debt_shares)?;
        borrower.remove_supply(c, lot)?;
        let reward = pay_reward(
            dutch,
            tab.value_at(rd.price, rd.decimals, Rounding::Down)?,
            (d, rd.price, rd.decimals, si_d),
            &mut keeper,
            &mut treasury,
        )?;
        let id = AuctionId(self.last_id + 1);
        self.add_dirt(c, dirt)?;
        self.last_id = id.0;
        let step = Step::Started {
            at_s: market.now_s,
            keeper: req.keeper,
            borrower: req.borrower,
            debt_asset: d,
            collateral_asset: c,
            debt,
            penalty,
            lot,
            lot_tokens,
            top,
            dirt,
            reward,
        };
        self.active.insert(
            id,
            Auction {
                id,
                borrower: req.borrower,
                debt_asset: d,
                collateral_asset: c,
                debt_decimals: rd.decimals,
                collateral_decimals: rc.decimals,
                lot,
                debt: debt_shares,
                penalty,
                dirt,
                top,
                debt_price: rd.price,
                started_s: market.now_s,
                resets: 0,
            },
        );
        *parties.borrower = borrower;
        *parties.liquidator = keeper;
        *parties.treasury = treasury;
        Ok((id, step))
    }

    /// The tab value a new auction against collateral `asset` may add under both caps.
    #[must_use]
    pub fn room(&self, hole_total: Value, asset_holes: &[Option<Value>], asset: AssetId) -> Value {
        let total = hole_total.saturating_sub(self.dirt_total);
        match asset_holes.get(asset.index()).copied().flatten() {
            Some(hole) => total.min(hole.saturating_sub(self.dirt(asset))),
            None => total,
        }
    }
}

pub(super) fn pool_ref(pools: &[Pool], asset: AssetId) -> Result<&Pool, Refusal> {
    pools
        .get(asset.index())
        .ok_or(Refusal::Health(crate::health::HealthError::MissingAsset(
            asset,
        )))
}

/// `price · buf`, rounded up: the auction's starting price.
pub(super) fn scale_price(price: Price, buf: Ratio) -> Result<Price, Refusal> {
    Ok(Price::from_raw(mul_div_pow10(
        price.raw(),
        buf.raw(),
        Ratio::SCALE,
        Rounding::Up,
    )?))
}
