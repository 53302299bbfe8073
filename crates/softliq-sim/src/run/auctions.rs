//! Dutch auctions in a run (`dutch` markets): bots start, buy from and reset auctions through
//! the core's `bark`, `take` and `redo`, the code the engine runs.
//!
//! Each step, at the step's oracle prices, with the venue selling at the external prices:
//! 1. Every running auction, oldest first, is offered to the bots. A bot buys the whole lot (or
//!    what its capital pays for; with `partial_fill`, halves of that) at the first second of
//!    the step at which selling it into the venue would pay for the purchase, the bot's cost and
//!    its minimum profit. Keepers watch the price fall continuously, but the simulator knows the
//!    market only at step times, so the search runs over the seconds since the previous step at
//!    this step's prices. Buying at step times alone would overshoot by up to one step of the
//!    curve (18% at Maker's 1% per 90 s over a 30-minute step): a loss of the discretisation,
//!    not of the mechanism.
//! 2. An auction still running past `tail_s` or below `cusp · top` is reset by a bot at the
//!    step's time; its fresh `top` is above the market, so it sells from the next step on.
//! 3. Accounts open to liquidation for `latency_steps` are barked, lowest HF first, on their
//!    largest debt and largest collateral; a start the caps refuse is counted and skipped.
//!
//! Bots start and reset auctions whatever the reward (a protocol runs its own keeper for that if
//! need be); the reward, `tip + chip · tab` paid from the treasury's holdings of the debt asset,
//! is booked as their income and the protocol's cost, and every transaction costs `cost_usd`.

use std::collections::BTreeMap;

use softliq_core::account::AccountId;
use softliq_core::asset::AssetId;
use softliq_core::health::largest_pair;
use softliq_core::liquidation::Refusal;
use softliq_core::liquidation::auction::{Auction, AuctionId, Bark, Dutch, Step, Take, Taken};
use softliq_core::money::{Amount, Price, Rounding};

use super::Run;
use super::liquidators::{CALLS_PER_ACCOUNT_STEP_MAX, HALVINGS_MAX, Market, Sale, signed};
use crate::error::{Result, SimError};
use crate::ledger::{At, KEEPER};
use crate::screen::Factors;

/// The seconds one step spans: a purchase may happen at any of them.
#[derive(Clone, Copy, Debug)]
pub(super) struct Span {
    pub prev_s: u64,
    pub now_s: u64,
}

/// A purchase a bot decided on.
#[derive(Clone, Copy, Debug)]
struct Bid {
    amount: Amount,
    price: Price,
    at_s: u64,
    /// The auction's tab when the bid was sized.
    tab: Amount,
}

impl Run<'_> {
    /// One step of a `dutch` market: purchases, resets, then starts for `queue`.
    pub(super) fn run_auctions(
        &mut self,
        span: Span,
        queue: &[(f64, u32)],
        market: &mut Market,
    ) -> Result<()> {
        let dutch = *self
            .spec
            .mechanism
            .policy
            .auction()
            .ok_or_else(|| SimError::accounting("auction step in a market without auctions"))?;
        let ids: Vec<AuctionId> = self.ledger.auctions.active().map(|a| a.id).collect();
        for id in ids {
            if !self.buy(id, &dutch, span, market)?
                || !self.reset_if_due(id, &dutch, span, market)?
            {
                return Ok(());
            }
        }
        for &(_, i) in queue {
            if !self.bark(i as usize, span.now_s, market)? {
                break;
            }
        }
        Ok(())
    }

    /// Purchases from auction `id` while one pays. False when every bot is exhausted.
    fn buy(
        &mut self,
        id: AuctionId,
        dutch: &Dutch,
        span: Span,
        market: &mut Market,
    ) -> Result<bool> {
        for _ in 0..CALLS_PER_ACCOUNT_STEP_MAX {
            let Some(a) = self.ledger.auctions.get(id).cloned() else {
                return Ok(true);
            };
            let Some(bot) = self.bots.next() else {
                return Ok(false);
            };
            let Some(bid) = self.bid(&a, dutch, bot, span, market)? else {
                return Ok(true);
            };
            let Some(taken) = self.take(&a, bid, bot, market)? else {
                return Ok(true);
            };
            self.book_take(&a, bot, &taken, market)?;
        }
        Ok(true)
    }

    /// The earliest purchase bot `bot` would make in this step, if any pays.
    fn bid(
        &self,
        a: &Auction,
        dutch: &Dutch,
        bot: usize,
        span: Span,
        market: &Market,
    ) -> Result<Option<Bid>> {
        let lo = span.prev_s.max(a.started_s);
        let pools = &self.ledger.pools;
        let Some(status) = self.ledger.auctions.status(a.id, dutch, pools, lo)? else {
            return Ok(None);
        };
        if status.needs_reset {
            return Ok(None);
        }
        // Open for takes on [lo, lo + reset_in_s).
        let hi = span.now_s.min(lo + status.reset_in_s - 1);
        let mut want = status.lot;
        for _ in 0..=HALVINGS_MAX {
            if want.is_zero() {
                break;
            }
            let price_at = |t: u64| dutch.curve.price(a.top, t - a.started_s);
            let first = first_second(lo, hi, |t| {
                Ok(self
                    .estimate(a, want, status.tab, price_at(t)?, bot, market)
                    .pays)
            })?;
            if let Some(at_s) = first {
                let price = price_at(at_s)?;
                let amount = self
                    .estimate(a, want, status.tab, price, bot, market)
                    .amount;
                return Ok(Some(Bid {
                    amount,
                    price,
                    at_s,
                    tab: status.tab,
                }));
            }
            if !self.bots.partial_fill {
                break;
            }
            want = Amount::from_raw(want.raw() / 2);
        }
        Ok(None)
    }

    /// What buying `want` tokens of `a`'s lot (tab `tab`) at `price` would do for bot `bot`, in
    /// floats: the tab caps the slice, the bot's capital caps the payment.
    fn estimate(
        &self,
        a: &Auction,
        want: Amount,
        tab: Amount,
        price: Price,
        bot: usize,
        market: &Market,
    ) -> Estimate {
        let (c, d) = (a.collateral_asset.index(), a.debt_asset.index());
        let unit_c = 10f64.powi(i32::from(a.collateral_decimals.get()));
        let unit_d = 10f64.powi(i32::from(a.debt_decimals.get()));
        let (p, p_d) = (price.to_f64(), a.debt_price.to_f64());
        let (want_f, tab_f) = (want.raw() as f64 / unit_c, tab.raw() as f64 / unit_d);
        let mut slice = if p > 0.0 {
            want_f.min(tab_f * p_d / p)
        } else {
            want_f
        };
        let mut pay_usd = slice * p / p_d * market.fair[d];
        let capital = self.bots.capital[bot];
        let mut amount = want;
        if pay_usd > capital {
            slice *= capital / pay_usd;
            pay_usd = capital;
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let units = (slice * unit_c).floor() as u128;
            amount = Amount::from_raw(units).min(want);
        }
        let proceeds = self.venue.quote_sell(c, slice, market.fair[c]);
        Estimate {
            pays: self.bots.pays(bot, proceeds, pay_usd),
            amount,
        }
    }

    /// Bot `bot`'s take of `bid` on auction `a`; `None` when the core refuses it for a reason a
    /// bot would simply pass on (the `chost` rule, a purchase below one share).
    fn take(
        &mut self,
        a: &Auction,
        bid: Bid,
        bot: usize,
        market: &Market,
    ) -> Result<Option<Taken>> {
        let mut req = Take {
            id: a.id,
            keeper: KEEPER,
            amount: bid.amount,
            max_price: bid.price,
        };
        let at = At {
            policy: &self.spec.mechanism.policy,
            snapshot: &market.snapshot,
            now_s: bid.at_s,
        };
        let i = borrower(a)?;
        // At most one retry: with the largest partial take the `chost` rule allows.
        for retry in [false, true] {
            match self.ledger.take(i, &req, &at) {
                Ok(taken) => return Ok(Some(taken)),
                Err(Refusal::LeavesLessThanChost { max_partial })
                    if !retry
                        && !max_partial.is_zero()
                        && self
                            .estimate(a, max_partial, bid.tab, bid.price, bot, market)
                            .pays =>
                {
                    req.amount = max_partial;
                }
                Err(Refusal::LeavesLessThanChost { .. } | Refusal::TakeTooSmall) => {
                    return Ok(None);
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(None)
    }

    /// Sells what bot `bot` bought and books the take: exact sums, bad debt, the borrower's
    /// mirror when the auction ended.
    fn book_take(
        &mut self,
        a: &Auction,
        bot: usize,
        taken: &Taken,
        market: &mut Market,
    ) -> Result<()> {
        let Step::Taken {
            bought_shares,
            paid,
            to_debt,
            to_penalty,
            ..
        } = taken.step
        else {
            return Err(SimError::accounting("a take returned no Taken step"));
        };
        let (c, d) = (a.collateral_asset, a.debt_asset);
        let bought = self.ledger.supply_amount(c, bought_shares)?;
        let sold = self.ledger.redeem_liquidator(c)?;
        if sold != bought {
            return Err(SimError::accounting(format!(
                "auction {}: bought {} base units but the keeper redeemed {}",
                a.id.0,
                bought.raw(),
                sold.raw()
            )));
        }
        let proceeds = self.sell(c, sold, market.fair)?;
        let bought_fair = self.fair_value(c, bought, market.fair, Rounding::Down)?;
        let to_debt_fair = self.fair_value(d, to_debt, market.fair, Rounding::Up)?;
        let paid_fair = self.fair_value(d, paid, market.fair, Rounding::Up)?;
        let penalty_fair = self.fair_value(d, to_penalty, market.fair, Rounding::Down)?;
        let decimals = self.ledger.assets[d.index()].params().decimals;
        let penalty_oracle =
            signed(to_penalty.value_at(market.prices[d.index()], decimals, Rounding::Down)?)?;
        self.book_sale(
            bot,
            &Sale {
                borrower: borrower(a)?,
                collateral: bought_fair,
                sold: bought_fair,
                proceeds,
                paid: paid_fair,
                repaid: to_debt_fair,
                penalty_oracle,
                protocol: penalty_fair,
            },
        )?;
        self.book_bad_debt(&taken.bad_debt, market.fair)?;
        if !taken.bad_debt.is_empty() {
            market.snapshot = self.ledger.snapshot(&market.prices);
        }
        self.metrics.auction_takes += 1;
        if taken.finished.is_some() {
            let i = borrower(a)?;
            self.screen.refresh(i, &self.ledger.borrowers[i]);
            let in_auction = self
                .ledger
                .auctions
                .active()
                .any(|x| x.borrower == a.borrower);
            if !in_auction && !self.ledger.borrowers[i].has_debt() {
                self.metrics.accounts_closed_out += 1;
            }
        }
        Ok(())
    }

    /// Resets auction `id` when it is due. False when every bot is exhausted.
    fn reset_if_due(
        &mut self,
        id: AuctionId,
        dutch: &Dutch,
        span: Span,
        market: &Market,
    ) -> Result<bool> {
        let pools = &self.ledger.pools;
        let Some(status) = self.ledger.auctions.status(id, dutch, pools, span.now_s)? else {
            return Ok(true);
        };
        if !status.needs_reset {
            return Ok(true);
        }
        let Some(bot) = self.bots.next() else {
            return Ok(false);
        };
        let at = At {
            policy: &self.spec.mechanism.policy,
            snapshot: &market.snapshot,
            now_s: span.now_s,
        };
        self.ledger.redo(id, &at)?;
        self.book_reward(bot, status.debt_asset, market)?;
        self.metrics.auction_resets += 1;
        Ok(true)
    }

    /// Starts an auction on borrower `i`. False when every bot is exhausted.
    fn bark(&mut self, i: usize, now_s: u64, market: &Market) -> Result<bool> {
        let Some(bot) = self.bots.next() else {
            return Ok(false);
        };
        // The pair the server's auction start takes when none is named (core's rule).
        let (Some(d), Some(c)) = largest_pair(&self.ledger.borrowers[i], &market.snapshot)? else {
            return Ok(true);
        };
        let req = Bark {
            borrower: AccountId(i as u64),
            debt_asset: d,
            collateral_asset: c,
            keeper: KEEPER,
        };
        let at = At {
            policy: &self.spec.mechanism.policy,
            snapshot: &market.snapshot,
            now_s,
        };
        match self.ledger.bark(i, &req, &at) {
            Ok(_) => {
                self.book_reward(bot, d, market)?;
                self.metrics.auctions_started += 1;
                self.touched[i] = true;
                self.screen.refresh(i, &self.ledger.borrowers[i]);
            }
            Err(Refusal::NoRoom { .. }) => self.metrics.auction_cap_refusals += 1,
            // The float screen's margin lets through accounts exactly at the line; an account
            // whose largest collateral is worth less than one base unit has nothing to sell.
            Err(Refusal::NotLiquidatable { .. } | Refusal::NoCollateral(_)) => {}
            Err(e) => return Err(e.into()),
        }
        Ok(true)
    }

    /// Books a start or reset by bot `bot`: its cost, and the reward it was paid in supply
    /// shares of `d` (redeemed at once), which the protocol paid.
    fn book_reward(&mut self, bot: usize, d: AssetId, market: &Market) -> Result<()> {
        let got = self.ledger.redeem_liquidator(d)?;
        let got_fair = self.fair_value(d, got, market.fair, Rounding::Down)?;
        let cost = signed(self.bots.cost(bot))?;
        let s = &mut self.sums;
        s.liquidator_profit += got_fair - cost;
        s.liquidator_costs += cost;
        s.protocol_revenue -= got_fair;
        self.spend(bot, got_fair - cost);
        Ok(())
    }

    /// Plain (lot value, debt value) per borrower of the running auctions, at `factors`.
    pub(super) fn auction_positions(&self, factors: &Factors) -> BTreeMap<usize, (f64, f64)> {
        let mut out: BTreeMap<usize, (f64, f64)> = BTreeMap::new();
        for a in self.ledger.auctions.active() {
            let Ok(i) = borrower(a) else { continue };
            let e = out.entry(i).or_default();
            {
                e.0 += a.lot.raw() as f64 * factors.supply_value[a.collateral_asset.index()];
                e.1 += a.debt.raw() as f64 * factors.debt_value[a.debt_asset.index()];
            }
        }
        out
    }

    /// Borrowers whose position sits in an auction while their own account is not below
    /// HF 1 (those the scan did not count as underwater).
    pub(super) fn underwater_in_auctions(&self, factors: &Factors) -> u64 {
        let borrowers: std::collections::BTreeSet<usize> = self
            .ledger
            .auctions
            .active()
            .filter_map(|a| borrower(a).ok())
            .collect();
        borrowers
            .into_iter()
            .filter(|&i| self.screen.health(i, factors) >= 1.0)
            .count() as u64
    }
}

/// What an estimate found: whether the purchase pays, and the tokens to ask for.
struct Estimate {
    pays: bool,
    amount: Amount,
}

/// The borrower index of auction `a` (the simulator's borrowers are `AccountId(i)`).
fn borrower(a: &Auction) -> Result<usize> {
    usize::try_from(a.borrower.0).map_err(|_| SimError::accounting("borrower id beyond usize"))
}

/// The first second in `[lo, hi]` at which `pays` holds, given that once it holds it holds for
/// every later second (the price only falls, so a purchase only gets cheaper).
fn first_second(
    lo: u64,
    hi: u64,
    mut pays: impl FnMut(u64) -> Result<bool>,
) -> Result<Option<u64>> {
    if lo > hi || !pays(hi)? {
        return Ok(None);
    }
    let (mut lo, mut hi) = (lo, hi);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if pays(mid)? {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    Ok(Some(hi))
}

#[cfg(test)]
mod tests {
    use super::first_second;

    #[test]
    fn first_second_finds_the_crossing() {
        for cross in [0u64, 1, 7, 99, 100] {
            let got = first_second(0, 100, |t| Ok(t >= cross)).expect("search");
            assert_eq!(got, Some(cross));
        }
        assert_eq!(first_second(0, 100, |_| Ok(false)).expect("search"), None);
        assert_eq!(first_second(5, 4, |_| Ok(true)).expect("search"), None);
    }
}
