//! `redo`: restart an auction that ran past `tail_s` or fell below `cusp · top`, from a fresh
//! top at today's oracle price (Maker's `redo`). The keeper who does it is rewarded only when
//! both the tab and the lot are worth at least `chost`, so that resetting a dust auction over
//! and over cannot drain the treasury.

use super::bark::{pool_ref, scale_price};
use super::book::{AuctionBook, AuctionId};
use super::{Market, Refusal, Step, pay_reward};
use crate::account::{Account, AccountId};
use crate::money::Rounding;
use crate::pool::Pool;

impl AuctionBook {
    /// Resets auction `id`, paying `keeper` (the account `keeper_id`) out of `treasury` when
    /// the reward is due. Returns the `Reset` step.
    ///
    /// # Errors
    /// An unknown auction, one still open for takes, or a stale price; nothing changes then.
    pub fn redo(
        &mut self,
        keeper: &mut Account,
        treasury: &mut Account,
        pools: &[Pool],
        market: &Market,
        id: AuctionId,
        keeper_id: AccountId,
    ) -> Result<Step, Refusal> {
        let dutch = market.dutch()?;
        let mut a = self
            .active
            .get(&id)
            .ok_or(Refusal::UnknownAuction(id))?
            .clone();
        if Self::open_price(&a, dutch, market.now_s)?.is_some() {
            return Err(Refusal::StillRunning {
                reset_in_s: Self::reset_in(&a, dutch, market.now_s)?,
            });
        }
        let (d, c) = (a.debt_asset, a.collateral_asset);
        let (rd, rc) = (market.snapshot.get(d)?, market.snapshot.get(c)?);
        for (asset, risk) in [(d, rd), (c, rc)] {
            if risk.stale {
                return Err(Refusal::StalePrice(asset));
            }
        }
        let (pool_d, pool_c) = (pool_ref(pools, d)?, pool_ref(pools, c)?);
        a.top = scale_price(rc.price, dutch.buf)?;
        a.debt_price = rd.price;
        a.started_s = market.now_s;
        a.resets = a.resets.saturating_add(1);
        let tab_value =
            a.tab(pool_d.borrow_index())?
                .value_at(rd.price, rd.decimals, Rounding::Down)?;
        let lot_value =
            a.lot_tokens(pool_c.supply_index())?
                .value_at(rc.price, rc.decimals, Rounding::Down)?;
        let (mut k, mut t) = (keeper.clone(), treasury.clone());
        let reward = if tab_value >= dutch.chost && lot_value >= dutch.chost {
            Some(pay_reward(
                dutch,
                tab_value,
                (d, rd.price, rd.decimals, pool_d.supply_index()),
                &mut k,
                &mut t,
            )?)
        } else {
            None
        };
        let step = Step::Reset {
            at_s: market.now_s,
            keeper: keeper_id,
            top: a.top,
            debt_price: a.debt_price,
            reward,
        };
        self.active.insert(id, a);
        *keeper = k;
        *treasury = t;
        Ok(step)
    }
}
