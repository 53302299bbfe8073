//! Protocol absorb in a run: after the liquidators, the protocol absorbs every due account its
//! absorb tests allow (small, deep, or liquidatable for `after_s`), through the core; then
//! bots buy what the treasury took at the storefront whenever reselling it into the venue pays
//! them, halving an unprofitable purchase as they halve calls.
//!
//! Booking, at the external prices (as a call is booked):
//! - an absorb "repays" the debt the treasury took over; the borrower loses the collateral
//!   seized less that debt; the protocol gains the same (marked to market); the shortfall's
//!   steps are bad debt;
//! - a storefront sale costs the protocol the collateral's worth less the payment (the
//!   discount, and any price move); the bot earns proceeds less payment and its cost.

use softliq_core::asset::AssetId;
use softliq_core::liquidation::{Absorb, Absorption, Purchase, Refusal};
use softliq_core::money::{Amount, Rounding};

use super::liquidators::{HALVINGS_MAX, Market, signed};
use super::{NONE, Run};
use crate::error::Result;
use crate::population::tokens;

/// The most storefront purchases per step.
const PURCHASES_PER_STEP_MAX: u32 = 16;

impl Run<'_> {
    /// Absorbs the due accounts in `queue` (borrower indices) that the tests allow at `now_s`.
    pub(super) fn absorb_due(
        &mut self,
        params: &Absorb,
        queue: &[(f64, u32)],
        now_s: u64,
        market: &mut Market,
    ) -> Result<()> {
        let times = &self.spec.path.times_s;
        for &(_, i) in queue {
            let i = i as usize;
            if !self.ledger.borrowers[i].has_debt() || self.open_since[i] == NONE {
                continue;
            }
            let age_s = now_s - times[self.open_since[i] as usize];
            match self.ledger.absorb(i, &market.snapshot, params, age_s) {
                Ok(a) => self.book_absorb(i, &a, market)?,
                Err(Refusal::NotLiquidatable { .. } | Refusal::NotAbsorbable { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// `amount` of `asset` at the external and at the oracle price, signed WAD USD.
    fn both_values(
        &self,
        asset: AssetId,
        amount: Amount,
        market: &Market,
        rounding: Rounding,
    ) -> Result<(i128, i128)> {
        let decimals = self.ledger.assets[asset.index()].params().decimals;
        Ok((
            self.fair_value(asset, amount, market.fair, rounding)?,
            signed(amount.value_at(market.prices[asset.index()], decimals, rounding)?)?,
        ))
    }

    fn book_absorb(&mut self, i: usize, a: &Absorption, market: &mut Market) -> Result<()> {
        let (mut seized, mut seized_oracle) = (0i128, 0i128);
        for &(asset, shares) in &a.seized {
            let amount = self.ledger.supply_amount(asset, shares)?;
            let (fair, oracle) = self.both_values(asset, amount, market, Rounding::Down)?;
            seized += fair;
            seized_oracle += oracle;
        }
        let (mut taken, mut taken_oracle) = (0i128, 0i128);
        for &(asset, shares) in &a.taken_over {
            let index = self.ledger.pools[asset.index()].borrow_index();
            let amount = shares.to_amount(index, Rounding::Up)?;
            let (fair, oracle) = self.both_values(asset, amount, market, Rounding::Up)?;
            taken += fair;
            taken_oracle += oracle;
        }
        self.loss_by_borrower[i] += seized - taken;
        let s = &mut self.sums;
        s.borrower_loss += seized - taken;
        s.penalty += seized_oracle - taken_oracle;
        s.protocol_revenue += seized - taken;
        s.repaid += taken;
        self.book_bad_debt(&a.bad_debt, market.fair)?;
        self.touched[i] = true;
        self.metrics.absorbs += 1;
        self.metrics.accounts_closed_out += 1;
        self.screen.refresh(i, &self.ledger.borrowers[i]);
        market.snapshot = self.ledger.snapshot(&market.prices);
        Ok(())
    }

    /// Bots buy the treasury's collateral while reselling it pays.
    pub(super) fn storefront(&mut self, params: &Absorb, market: &mut Market) -> Result<()> {
        for _ in 0..PURCHASES_PER_STEP_MAX {
            let Some(asset) = self.inventory() else {
                return Ok(());
            };
            let Some(bot) = self.bots.next() else {
                return Ok(());
            };
            if !self.buy_some(bot, asset, params, market)? {
                return Ok(());
            }
        }
        Ok(())
    }

    /// The treasury's collateral asset of which it holds the most shares, if any (each is sold
    /// in turn as the others run out).
    pub(super) fn inventory(&self) -> Option<AssetId> {
        self.ledger
            .treasury
            .positions()
            .iter()
            .filter(|p| !p.supply.is_zero())
            .max_by(|a, b| a.supply.cmp(&b.supply))
            .map(|p| p.asset)
    }

    /// The asset a buyer pays in: the treasury's largest debt (the payment repays it), else the
    /// first other asset.
    fn pay_asset(&self, asset: AssetId) -> AssetId {
        self.ledger
            .treasury
            .positions()
            .iter()
            .filter(|p| !p.debt.is_zero() && p.asset != asset)
            .max_by(|a, b| a.debt.cmp(&b.debt))
            .map_or_else(|| AssetId(u16::from(asset.0 == 0)), |p| p.asset)
    }

    /// One purchase by `bot`: the whole holding, halved until reselling it pays; false when
    /// none pays.
    fn buy_some(
        &mut self,
        bot: usize,
        asset: AssetId,
        params: &Absorb,
        market: &mut Market,
    ) -> Result<bool> {
        let pay = self.pay_asset(asset);
        let c = asset.index();
        let held = self
            .ledger
            .supply_amount(asset, self.ledger.treasury.position(asset).supply)?;
        let decimals = self.ledger.assets[c].params().decimals.get();
        let factor = 1.0 - params.storefront_discount.to_f64();
        let mut whole = held.raw() as f64 / 10f64.powi(i32::from(decimals));
        let oracle = market.prices[c].to_f64();
        for _ in 0..=HALVINGS_MAX {
            let pay_usd = whole * oracle * factor;
            let proceeds = self.venue.quote_sell(c, whole, market.fair[c]);
            let capital = self.bots.capital[bot];
            if pay_usd <= capital && self.bots.pays(bot, proceeds, pay_usd) {
                let pay_params = self.ledger.assets[pay.index()].params();
                let max_pay = tokens(
                    pay_usd,
                    market.prices[pay.index()].to_f64(),
                    pay_params.decimals.get(),
                );
                return self.purchase(
                    bot,
                    Purchase {
                        asset,
                        pay_asset: pay,
                        max_pay,
                    },
                    params,
                    market,
                );
            }
            whole /= 2.0;
        }
        Ok(false)
    }

    fn purchase(
        &mut self,
        bot: usize,
        p: Purchase,
        params: &Absorb,
        market: &mut Market,
    ) -> Result<bool> {
        if p.max_pay.is_zero() {
            return Ok(false);
        }
        let sale = match self.ledger.buy_collateral(&p, &market.snapshot, params) {
            Ok(sale) => sale,
            Err(Refusal::TakeTooSmall) => return Ok(false),
            Err(e) => return Err(e.into()),
        };
        let sold: Amount = self.ledger.redeem_liquidator(p.asset)?;
        let proceeds = self.sell(p.asset, sold, market.fair)?;
        let sold_fair = self.fair_value(p.asset, sold, market.fair, Rounding::Down)?;
        let paid = self.fair_value(p.pay_asset, sale.paid, market.fair, Rounding::Up)?;
        let cost = signed(self.bots.cost(bot))?;
        let s = &mut self.sums;
        s.protocol_revenue -= sold_fair - paid;
        s.slippage += sold_fair - proceeds;
        s.liquidator_profit += proceeds - paid - cost;
        s.liquidator_costs += cost;
        self.spend(bot, proceeds - paid - cost);
        self.book_bad_debt(&sale.bad_debt, market.fair)?;
        self.metrics.storefront_sales += 1;
        market.snapshot = self.ledger.snapshot(&market.prices);
        Ok(true)
    }
}
