//! Liquidators: identical bots that share each step's work, and one account's calls.
//!
//! A bot acts only through the core: `plan` picks the most profitable call the policy allows,
//! the bot shrinks it to its capital, estimates what selling the collateral into the venue
//! would bring, and settles only when `proceeds − repaid − cost ≥ min_profit` (with
//! `partial_fill`, it halves an unprofitable call up to eight times first). Proceeds return to
//! the bot's capital at once; each bot has `calls_per_step` calls per step.

use softliq_core::asset::AssetId;
use softliq_core::health::RiskSnapshot;
use softliq_core::liquidation::{
    BadDebtEvent, Incentive, Policy, Quote, Request, Settlement, plan, quote,
};
use softliq_core::money::{Amount, Price, Rounding, Value};

use super::{Run, wad_price};
use crate::error::{Result, SimError};
use crate::metrics::WAD_F;
use crate::population::tokens;
use crate::scenario::LiquidatorSpec;
use crate::screen::{Factors, Screen};

/// The most calls on one account in one step (the soft cap's geometric series reaches dust in
/// far fewer).
pub const CALLS_PER_ACCOUNT_STEP_MAX: u32 = 200;
/// Halvings of an unprofitable call before a bot gives up on it (with `partial_fill`).
pub(super) const HALVINGS_MAX: u32 = 8;
/// The most a call's collateral split may lose to share rounding, in base units of `c`.
const SPLIT_RESIDUE_MAX: u128 = 3;

#[derive(Clone, Debug)]
pub(super) struct Bots {
    pub capital: Vec<f64>,
    calls_left: Vec<u32>,
    calls_per_step: u32,
    cursor: usize,
    /// This step's cost per call of the cheapest bot (`base_cost_usd` raised by the step's
    /// move); bot `k` pays `cost_scale[k]` times it.
    cost_usd: f64,
    base_cost_usd: f64,
    cost_per_move: f64,
    cost_scale: Vec<f64>,
    /// Whether bots compete for each call (they differ in cost) rather than take turns.
    compete: bool,
    /// Bots absent in a stressed step (the last, dearest ones), and the move that makes one.
    absent: usize,
    stress_move: f64,
    min_profit_usd: f64,
    pub partial_fill: bool,
}

/// The prices a step's calls are made at.
pub(super) struct Market<'a> {
    pub snapshot: RiskSnapshot,
    /// The screen's factors at the oracle prices (for the float pre-filter).
    pub factors: &'a Factors,
    /// Oracle prices in WAD.
    pub prices: Vec<Price>,
    /// External prices.
    pub fair: &'a [f64],
}

impl Bots {
    pub(super) fn new(spec: &LiquidatorSpec) -> Self {
        let n = spec.count as usize;
        Self {
            capital: vec![spec.capital_usd; n],
            calls_left: vec![0; n],
            calls_per_step: spec.calls_per_step,
            cursor: 0,
            cost_usd: spec.cost_usd,
            base_cost_usd: spec.cost_usd,
            cost_per_move: spec.cost_per_move,
            cost_scale: (0..n)
                .map(|k| 1.0 + spec.cost_spread * k as f64 / (n.max(2) - 1) as f64)
                .collect(),
            compete: spec.cost_spread > 0.0,
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            absent: ((spec.absent_share * n as f64).round() as usize).min(n),
            stress_move: spec.stress_move,
            min_profit_usd: spec.min_profit_usd,
            partial_fill: spec.partial_fill,
        }
    }

    /// A new step whose largest external price move since the last is `moved` (a fraction):
    /// calls reset, the cost follows the move, and in a stressed step the absent share makes
    /// no call.
    pub(super) fn new_step(&mut self, moved: f64) {
        self.calls_left.fill(self.calls_per_step);
        if moved >= self.stress_move && self.absent > 0 {
            // The dearest bots drop out: the cheapest are the best-run ones.
            let n = self.calls_left.len();
            self.calls_left[n - self.absent..].fill(0);
        }
        self.cost_usd = self.base_cost_usd * (1.0 + self.cost_per_move * moved);
    }

    /// Bot `bot`'s cost of one call this step, USD.
    fn cost_usd(&self, bot: usize) -> f64 {
        self.cost_usd * self.cost_scale[bot]
    }

    /// Bot `bot`'s cost of one call this step, as an exact WAD value (rounded down).
    pub(super) fn cost(&self, bot: usize) -> Value {
        value_down(self.cost_usd(bot))
    }

    /// Whether a sale bringing `proceeds_usd` pays bot `bot` for a purchase of `pay_usd`, its
    /// cost and its minimum profit.
    pub(super) fn pays(&self, bot: usize, proceeds_usd: f64, pay_usd: f64) -> bool {
        proceeds_usd - pay_usd - self.cost_usd(bot) >= self.min_profit_usd
    }

    /// The bots that may take the next call: with equal costs, the next in turn; when they
    /// differ (`cost_spread`), every bot with calls and capital left, cheapest first, to
    /// compete for it.
    pub(super) fn contenders(&mut self) -> Vec<usize> {
        if !self.compete {
            return self.next().into_iter().collect();
        }
        (0..self.capital.len())
            .filter(|&b| self.calls_left[b] > 0 && self.capital[b] > 0.0)
            .collect()
    }

    /// The next bot with calls and capital left, round robin.
    pub(super) fn next(&mut self) -> Option<usize> {
        let n = self.capital.len();
        for k in 0..n {
            let b = (self.cursor + k) % n;
            if self.calls_left[b] > 0 && self.capital[b] > 0.0 {
                self.cursor = (b + 1) % n;
                return Some(b);
            }
        }
        None
    }
}

/// One sale of liquidated collateral, in signed WAD USD at the external prices unless named.
pub(super) struct Sale {
    /// Whose collateral it was.
    pub borrower: usize,
    /// The collateral that left the borrower.
    pub collateral: i128,
    /// What the liquidator sold, and the venue's proceeds.
    pub sold: i128,
    pub proceeds: i128,
    /// What the liquidator paid in, and the part of it that repaid debt.
    pub paid: i128,
    pub repaid: i128,
    /// The penalty part, at the oracle price.
    pub penalty_oracle: i128,
    /// The protocol's part (treasury and insurance fund).
    pub protocol: i128,
}

/// Whether the policy's discount rises with time (a need-sized incentive with a ramp).
fn ramps(policy: &Policy) -> bool {
    matches!(policy.incentive, Incentive::Need(n) if n.ramp_s > 0)
}

/// USD (float, from the venue) as an exact WAD value, rounded down.
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
pub(super) fn value_down(usd: f64) -> Value {
    Value::from_raw((usd.max(0.0) * WAD_F).floor() as u128)
}

pub(super) fn signed(v: Value) -> Result<i128> {
    i128::try_from(v.raw()).map_err(|_| SimError::accounting("value beyond i128"))
}

impl Run<'_> {
    /// Calls on borrower `i` until it is healthy, no call pays, or the bots are out of calls.
    /// Returns false when every bot is exhausted for this step.
    ///
    /// `ages` is how long the account has been liquidatable at the previous step and now, in
    /// seconds. Under a time-ramped incentive the discount only rises, so the bots take each
    /// call at the first second in that span at which it pays them (found by bisection, at
    /// this step's prices): competing liquidators act at the lowest discount that pays.
    pub(super) fn liquidate_account(
        &mut self,
        i: usize,
        ages: (u64, u64),
        market: &mut Market,
    ) -> Result<bool> {
        let policy = self.spec.mechanism.policy;
        if !self.bound.may_pay(&self.screen, i, market.factors) {
            // Tests and debug runs check the float bound against core's exact quote.
            #[cfg(debug_assertions)]
            self.bound.check_against_quote(
                &self.ledger.borrowers[i],
                &market.snapshot,
                &policy,
                ages.1,
            );
            self.metrics.skipped_unprofitable += 1;
            return Ok(true);
        }
        let (mut age_lo, age_now) = ages;
        let mut calls = 0;
        while calls < CALLS_PER_ACCOUNT_STEP_MAX {
            let contenders = self.bots.contenders();
            if contenders.is_empty() {
                return Ok(false);
            }
            let Some(best) = plan(
                &self.ledger.borrowers[i],
                &market.snapshot,
                &policy,
                age_now,
            )?
            else {
                break;
            };
            let Some((bot, q)) = self.winner(i, &contenders, (age_lo, best), market)? else {
                self.metrics.skipped_unprofitable += 1;
                break;
            };
            age_lo = q.request.liquidatable_for_s;
            let settled = self.ledger.liquidate(i, &q, &market.snapshot, &policy)?;
            self.account(i, bot, &settled, market)?;
            calls += 1;
            if !settled.bad_debt.is_empty() {
                market.snapshot = self.ledger.snapshot(&market.prices);
            }
        }
        self.screen.refresh(i, &self.ledger.borrowers[i]);
        Ok(true)
    }

    /// Which contender takes the call, and at what: the first to find it paying. Under a
    /// time-ramped incentive that is the bot whose earliest paying second comes first (the
    /// cheaper on a tie); otherwise the cheapest bot it pays (contenders come cheapest first).
    /// `None` when it pays none of them.
    fn winner(
        &self,
        i: usize,
        contenders: &[usize],
        (age_lo, best): (u64, Quote),
        market: &Market,
    ) -> Result<Option<(usize, Quote)>> {
        let ramped = ramps(&self.spec.mechanism.policy);
        let mut winner: Option<(usize, Quote)> = None;
        for &bot in contenders {
            let Some(q) = self.choose(i, bot, best, market) else {
                continue;
            };
            if !ramped {
                return Ok(Some((bot, q)));
            }
            let q = self.earliest(i, bot, (age_lo, q), market)?;
            let first = winner
                .as_ref()
                .is_none_or(|(_, w)| q.request.liquidatable_for_s < w.request.liquidatable_for_s);
            if first {
                winner = Some((bot, q));
            }
        }
        Ok(winner)
    }

    /// The call bot `bot` would make at age `age_s`: the plan's best, within its capital, and
    /// only if it pays; `None` when no call is open or none pays.
    fn offer(&self, i: usize, bot: usize, age_s: u64, market: &Market) -> Result<Option<Quote>> {
        let policy = &self.spec.mechanism.policy;
        let best = plan(&self.ledger.borrowers[i], &market.snapshot, policy, age_s)?;
        Ok(best.and_then(|b| self.choose(i, bot, b, market)))
    }

    /// The offer at the smallest age in `lo..=q`'s age that pays, by bisection (the discount
    /// never falls with age, so neither does what a call pays); `q` pays at its own age.
    fn earliest(
        &self,
        i: usize,
        bot: usize,
        (mut lo, q): (u64, Quote),
        market: &Market,
    ) -> Result<Quote> {
        let (mut hi, mut best) = (q.request.liquidatable_for_s, q);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.offer(i, bot, mid, market)? {
                Some(q) => (hi, best) = (mid, q),
                None => lo = mid + 1,
            }
        }
        Ok(best)
    }

    /// The call bot `bot` makes from the plan's `best`: within its capital, and only if it
    /// pays; `None` when it does not.
    fn choose(&self, i: usize, bot: usize, best: Quote, market: &Market) -> Option<Quote> {
        let d = best.request.debt_asset;
        let d_params = self.ledger.assets[d.index()].params();
        let mut q = best;
        let capital = self.bots.capital[bot];
        if q.repaid_value.to_f64() > capital {
            let max_repay = tokens(capital, market.fair[d.index()], d_params.decimals.get());
            q = self.requote(i, &q, max_repay, market)?;
        }
        for _ in 0..=HALVINGS_MAX {
            if self.pays(bot, &q, market) {
                return Some(q);
            }
            if !self.bots.partial_fill {
                return None;
            }
            let half = Amount::from_raw(q.repaid.raw() / 2);
            q = self.requote(i, &q, half, market)?;
        }
        None
    }

    fn requote(&self, i: usize, q: &Quote, max_repay: Amount, market: &Market) -> Option<Quote> {
        if max_repay.is_zero() {
            return None;
        }
        let request = Request {
            max_repay,
            ..q.request
        };
        let policy = &self.spec.mechanism.policy;
        quote(
            &self.ledger.borrowers[i],
            &market.snapshot,
            policy,
            &request,
        )
        .ok()
    }

    /// Whether selling the call's collateral now would pay for it, its cost and the minimum
    /// profit.
    fn pays(&self, bot: usize, q: &Quote, market: &Market) -> bool {
        let c = q.request.collateral_asset.index();
        let decimals = self.ledger.assets[c].params().decimals.get();
        let liq_tokens = q.to_liquidator.raw() as f64 / 10f64.powi(i32::from(decimals));
        let proceeds = self.venue.quote_sell(c, liq_tokens, market.fair[c]);
        self.bots.pays(bot, proceeds, q.repaid_value.to_f64())
    }

    /// Sells `tokens` of `asset` into the venue (pushing its price); the proceeds in signed WAD
    /// USD, rounded down.
    pub(super) fn sell(&mut self, asset: AssetId, tokens: Amount, fair: &[f64]) -> Result<i128> {
        let decimals = self.ledger.assets[asset.index()].params().decimals.get();
        let whole = tokens.raw() as f64 / 10f64.powi(i32::from(decimals));
        let usd = self.venue.sell(asset.index(), whole, fair[asset.index()]);
        signed(value_down(usd))
    }

    /// Sells the liquidator's collateral and books the call: exact sums, checks, bot capital.
    fn account(
        &mut self,
        i: usize,
        bot: usize,
        settled: &Settlement,
        market: &Market,
    ) -> Result<()> {
        let q = &settled.quote;
        let (d, c) = (q.request.debt_asset, q.request.collateral_asset);
        let shares_split = q
            .liquidator_shares
            .checked_add(settled.treasury_shares)?
            .checked_add(settled.insurance_shares)?;
        if shares_split != q.collateral_shares_seized {
            return Err(SimError::accounting(format!(
                "borrower {i}: seized {} shares but {} were split",
                q.collateral_shares_seized.raw(),
                shares_split.raw()
            )));
        }
        let seized = self.ledger.supply_amount(c, q.collateral_shares_seized)?;
        let protocol = self.ledger.supply_amount(
            c,
            settled
                .treasury_shares
                .checked_add(settled.insurance_shares)?,
        )?;
        let sold = self.ledger.redeem_liquidator(c)?;
        let residue = seized
            .raw()
            .checked_sub(sold.raw())
            .and_then(|x| x.checked_sub(protocol.raw()))
            .filter(|r| *r <= SPLIT_RESIDUE_MAX)
            .ok_or_else(|| {
                SimError::accounting(format!(
                    "borrower {i}: seized {} base units but the liquidator got {} and the protocol {}",
                    seized.raw(),
                    sold.raw(),
                    protocol.raw()
                ))
            })?;
        self.metrics.split_residue_max = self
            .metrics
            .split_residue_max
            .max(u64::try_from(residue).unwrap_or(u64::MAX));

        let c_decimals = self.ledger.assets[c.index()].params().decimals;
        let proceeds = self.sell(c, sold, market.fair)?;
        let repaid_fair = self.fair_value(d, q.repaid, market.fair, Rounding::Up)?;
        let seized_fair = self.fair_value(c, seized, market.fair, Rounding::Down)?;
        let seized_oracle =
            signed(seized.value_at(market.prices[c.index()], c_decimals, Rounding::Down)?)?;
        let sold_fair = self.fair_value(c, sold, market.fair, Rounding::Down)?;
        let protocol_fair = self.fair_value(c, protocol, market.fair, Rounding::Down)?;
        self.book_sale(
            bot,
            &Sale {
                borrower: i,
                collateral: seized_fair,
                sold: sold_fair,
                proceeds,
                paid: repaid_fair,
                repaid: repaid_fair,
                penalty_oracle: seized_oracle - signed(q.repaid_value)?,
                protocol: protocol_fair,
            },
        )?;
        self.book_bad_debt(&settled.bad_debt, market.fair)?;
        self.touched[i] = true;
        if !self.ledger.borrowers[i].has_debt() {
            self.metrics.accounts_closed_out += 1;
        }
        Ok(())
    }

    /// Books one sale of liquidated collateral by bot `bot` (which also paid its cost).
    pub(super) fn book_sale(&mut self, bot: usize, sale: &Sale) -> Result<()> {
        let cost = signed(self.bots.cost(bot))?;
        let s = &mut self.sums;
        s.borrower_loss += sale.collateral - sale.repaid;
        self.loss_by_borrower[sale.borrower] += sale.collateral - sale.repaid;
        s.penalty += sale.penalty_oracle;
        s.slippage += sale.sold - sale.proceeds;
        s.liquidator_profit += sale.proceeds - sale.paid - cost;
        s.liquidator_costs += cost;
        s.protocol_revenue += sale.protocol;
        s.repaid += sale.repaid;
        self.spend(bot, sale.proceeds - sale.paid - cost);
        Ok(())
    }

    /// Adds the bad debt the core realised, at the external price of its asset.
    pub(super) fn book_bad_debt(&mut self, events: &[BadDebtEvent], fair: &[f64]) -> Result<()> {
        for event in events {
            let (asset, amount, socialised) = match *event {
                BadDebtEvent::InsuranceCovered { asset, amount }
                | BadDebtEvent::ReservesCovered { asset, amount } => (asset, amount, false),
                BadDebtEvent::Socialised { asset, amount } => (asset, amount, true),
                BadDebtEvent::CollateralSwept { .. } => continue,
            };
            let value = self.fair_value(asset, amount, fair, Rounding::Up)?;
            self.sums.bad_debt_realised += value;
            if socialised {
                self.sums.bad_debt_socialised += value;
            }
        }
        Ok(())
    }

    /// `amount` tokens of `asset` at its external price, in signed WAD USD.
    pub(super) fn fair_value(
        &self,
        asset: AssetId,
        amount: Amount,
        fair: &[f64],
        rounding: Rounding,
    ) -> Result<i128> {
        let decimals = self.ledger.assets[asset.index()].params().decimals;
        signed(amount.value_at(wad_price(fair[asset.index()]), decimals, rounding)?)
    }

    /// Books one transaction of bot `bot` that earned it `net` WAD USD (after its cost).
    pub(super) fn spend(&mut self, bot: usize, net: i128) {
        {
            self.bots.capital[bot] += net as f64 / WAD_F;
        }
        self.bots.calls_left[bot] -= 1;
        self.metrics.calls += 1;
    }
}

/// An upper bound on what any call on an account can earn, from the float screen: a call
/// repays at most the whole debt `V`, and outside the death-spiral zone and above the dust
/// value at most `fraction · V + dust` (the policy's share, widened by the dust rule); the
/// liquidator's collateral is worth at most `(1 + disc) · repaid` at the oracle price, and a
/// sale never brings more than that. Accounts whose bound, with 1% slack for the float, is
/// below the cost and minimum profit are skipped without pricing a call exactly: the exact
/// call could only earn less.
#[derive(Clone, Debug)]
pub(super) struct ProfitBound {
    /// The policy's largest share of the debt value outside the death spiral (1 when none).
    fraction: f64,
    /// The minimum useful call, USD (0 when the rule has none).
    min_call_usd: f64,
    dust_usd: f64,
    /// The largest discount of any asset.
    discount: f64,
    /// The largest death-spiral health factor `(1 + pen_c)·lt_c / bw_d` over asset pairs.
    spiral_hf: f64,
    /// What a call must earn: cost plus minimum profit.
    hurdle_usd: f64,
}

/// Relative slack of the bound over the float screen's error.
const BOUND_SLACK: f64 = 0.01;

impl ProfitBound {
    pub(super) fn new(
        run: &crate::scenario::Scenario,
        policy: &softliq_core::liquidation::Policy,
        assets: &[softliq_core::asset::Asset],
    ) -> Self {
        use softliq_core::liquidation::Rule;
        let fraction = match policy.rule {
            Rule::Soft { max_fraction }
            | Rule::Restore { max_fraction, .. }
            | Rule::TwoStage { max_fraction, .. } => max_fraction.to_f64(),
            Rule::CloseFactor { .. } | Rule::Full | Rule::AaveV3 | Rule::Dutch(_) => 1.0,
        };
        let params: Vec<_> = assets
            .iter()
            .map(softliq_core::asset::Asset::params)
            .collect();
        // The largest discount and penalty any call can have: the assets' own, or the
        // need-sized incentive's maximum.
        let (discount, penalty) = match policy.incentive {
            Incentive::Fixed => (
                params
                    .iter()
                    .map(|p| p.liquidation_discount.to_f64())
                    .fold(0.0, f64::max),
                None,
            ),
            Incentive::Need(n) => (
                n.discount_max.to_f64(),
                n.penalty(n.discount_max).ok().map(|p| p.to_f64()),
            ),
        };
        let bw_min = params
            .iter()
            .map(|p| p.borrow_weight.to_f64())
            .fold(f64::MAX, f64::min);
        let spiral = params
            .iter()
            .map(|p| {
                let pen = penalty.unwrap_or_else(|| p.liquidation_penalty.to_f64());
                (1.0 + pen) * p.liquidation_threshold.to_f64()
            })
            .fold(0.0, f64::max);
        Self {
            fraction,
            // Validation keeps it zero where the rule has no minimum call.
            min_call_usd: policy.min_call_value.to_f64(),
            dust_usd: run.markets.dust_usd,
            discount,
            spiral_hf: spiral / bw_min.max(1.0),
            hurdle_usd: run.liquidators.cost_usd + run.liquidators.min_profit_usd,
        }
    }

    /// False only when no call on account `i` can pay.
    pub(super) fn may_pay(&self, screen: &Screen, i: usize, factors: &Factors) -> bool {
        let (_, debt) = screen.values(i, factors);
        let hf = screen.health(i, factors);
        let repaid = if hf > self.spiral_hf * (1.0 + BOUND_SLACK)
            && debt > self.dust_usd * (1.0 + BOUND_SLACK)
        {
            (self.fraction * debt + self.dust_usd)
                .max(self.min_call_usd)
                .min(debt)
        } else {
            debt
        };
        repaid * self.discount * (1.0 + BOUND_SLACK) >= self.hurdle_usd
    }

    /// Ties the bound to the policy it mirrors: when [`ProfitBound::may_pay`] rules an account
    /// out, core's best call on it (`plan`, at the account's age now) must earn less than the
    /// hurdle before any slippage (`liquidator_value − repaid_value`, exact, at the oracle
    /// prices the bound reads). A policy change the bound does not follow fails here, in every
    /// simulator test, instead of silently skipping calls that pay.
    #[cfg(debug_assertions)]
    pub(super) fn check_against_quote(
        &self,
        account: &softliq_core::account::Account,
        snapshot: &RiskSnapshot,
        policy: &softliq_core::liquidation::Policy,
        age_s: u64,
    ) {
        let Ok(Some(q)) = plan(account, snapshot, policy, age_s) else {
            return;
        };
        let gross = q.liquidator_value.to_f64() - q.repaid_value.to_f64();
        assert!(
            gross < self.hurdle_usd,
            "the profit bound ruled out a call that earns {gross} USD before slippage, over the \
             hurdle {} (repaid {}, bound {self:?})",
            self.hurdle_usd,
            q.repaid_value,
        );
    }
}
