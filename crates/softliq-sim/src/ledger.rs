//! The exact state of one run: the core's pools and accounts, and the cash that crossed the
//! protocol's boundary, per asset, so that every run can prove it created and lost nothing.
//!
//! Borrowers, the lender, the liquidators (one account that holds seized collateral only
//! between a settlement and its sale), the treasury and the insurance fund are plain
//! `softliq_core` accounts; every balance change goes through `softliq_core` pools and the
//! core's settlement or auction flows, so the simulator liquidates by the same code the engine
//! runs. In a `dutch` market the running auctions hold lots and debt between a `bark` and the
//! `take` that ends them.
//!
//! [`Ledger::reconcile`] checks, per asset and in base units:
//! - cash = deposited + repaid − withdrawn − borrowed (every flow the simulator recorded);
//! - the supply shares of all accounts and running auctions add up to the pool's, and so do
//!   the debt shares;
//! - the pool identity `supplied + reserves = cash + borrowed`;
//! - and, once, the auction caps' running totals against the running auctions.

use softliq_core::account::{Account, AccountId};
use softliq_core::asset::{Asset, AssetId};
use softliq_core::health::RiskSnapshot;
use softliq_core::liquidation::auction::{self, AuctionBook, AuctionId, Bark, Step, Take, Taken};
use softliq_core::liquidation::{
    Absorb, Absorption, Parties, Policy, Protocol, Purchase, Quote, Refusal, Sale as StoreSale,
    Settlement, absorb, buy_collateral, settle,
};
use softliq_core::money::{Amount, Price, Rounding, Shares, Value};
use softliq_core::pool::Pool;
use softliq_core::pool::conservation::{check_cash, check_shares};

use crate::error::{Result, SimError};

/// Cash that entered or left one asset's pool, in base units.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Flows {
    pub deposited: u128,
    pub withdrawn: u128,
    pub borrowed: u128,
    pub repaid: u128,
}

/// The liquidators' account id in auction histories (borrowers are `AccountId(i)`).
pub const KEEPER: AccountId = AccountId(u64::MAX);

/// When and at which prices an auction flow runs.
#[derive(Clone, Copy, Debug)]
pub struct At<'a> {
    /// The market's policy (a `dutch` one).
    pub policy: &'a Policy,
    /// Prices and parameters at the oracle.
    pub snapshot: &'a RiskSnapshot,
    pub now_s: u64,
}

impl<'a> At<'a> {
    fn market(&self, asset_holes: &'a [Option<Value>]) -> auction::Market<'a> {
        auction::Market {
            policy: self.policy,
            snapshot: self.snapshot,
            asset_holes,
            now_s: self.now_s,
        }
    }
}

/// Whose account a deposit, borrow or repayment touches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Holder {
    Lender,
    Borrower(usize),
}

#[derive(Clone, Debug)]
pub struct Ledger {
    pub assets: Vec<Asset>,
    pub pools: Vec<Pool>,
    pub borrowers: Vec<Account>,
    pub lender: Account,
    pub liquidator: Account,
    pub treasury: Account,
    pub insurance: Account,
    pub flows: Vec<Flows>,
    /// Running Dutch auctions (empty in markets that liquidate by calls).
    pub auctions: AuctionBook,
    /// Each asset's own cap on tab under auction, indexed by asset.
    asset_holes: Vec<Option<Value>>,
}

fn add(total: &mut u128, amount: Amount) -> Result<()> {
    *total = total
        .checked_add(amount.raw())
        .ok_or_else(|| SimError::accounting("flow total overflowed"))?;
    Ok(())
}

impl Ledger {
    /// Empty pools for `assets`, accruing from `start_s`.
    #[must_use]
    pub fn new(assets: Vec<Asset>, start_s: u64) -> Self {
        let n = assets.len();
        Self {
            asset_holes: assets.iter().map(|a| a.params().auction_hole).collect(),
            auctions: AuctionBook::new(),
            assets,
            pools: vec![Pool::new(start_s); n],
            borrowers: Vec::new(),
            lender: Account::new(),
            liquidator: Account::new(),
            treasury: Account::new(),
            insurance: Account::new(),
            flows: vec![Flows::default(); n],
        }
    }

    fn account(&mut self, who: Holder) -> &mut Account {
        match who {
            Holder::Lender => &mut self.lender,
            Holder::Borrower(i) => &mut self.borrowers[i],
        }
    }

    /// Supplies `amount` of `asset` from outside.
    ///
    /// # Errors
    /// A pool refusal (zero, below one share, cap) or overflow.
    pub fn deposit(&mut self, who: Holder, asset: AssetId, amount: Amount) -> Result<()> {
        let cap = self.assets[asset.index()].params().supply_cap;
        let shares = self.pools[asset.index()].deposit(amount, cap)?;
        self.account(who).add_supply(asset, shares)?;
        add(&mut self.flows[asset.index()].deposited, amount)
    }

    /// Borrows `amount` of `asset` out of the pool (the caller checked health).
    ///
    /// # Errors
    /// Not enough cash, the borrow cap, or overflow.
    pub fn borrow(&mut self, who: Holder, asset: AssetId, amount: Amount) -> Result<()> {
        let cap = self.assets[asset.index()].params().borrow_cap;
        let shares = self.pools[asset.index()].borrow(amount, cap)?;
        self.account(who).add_debt(asset, shares)?;
        add(&mut self.flows[asset.index()].borrowed, amount)
    }

    /// Repays up to `amount` of `who`'s debt in `asset` from outside funds; returns what was
    /// taken.
    ///
    /// # Errors
    /// A pool refusal or overflow.
    pub fn repay(&mut self, who: Holder, asset: AssetId, amount: Amount) -> Result<Amount> {
        let owed = self.account(who).position(asset).debt;
        if owed.is_zero() || amount.is_zero() {
            return Ok(Amount::ZERO);
        }
        let (burned, taken) = self.pools[asset.index()].repay(amount, owed)?;
        self.account(who).remove_debt(asset, burned)?;
        add(&mut self.flows[asset.index()].repaid, taken)?;
        Ok(taken)
    }

    /// Settles a liquidation quote on borrower `i` through the core; the liquidator's cash
    /// comes from outside.
    ///
    /// # Errors
    /// The core's refusal (a stale quote would be a simulator bug).
    pub fn liquidate(
        &mut self,
        i: usize,
        q: &Quote,
        snapshot: &RiskSnapshot,
        policy: &Policy,
    ) -> Result<Settlement> {
        let mut parties = Parties {
            borrower: &mut self.borrowers[i],
            liquidator: &mut self.liquidator,
            treasury: &mut self.treasury,
            insurance: &mut self.insurance,
        };
        let settled = settle(q, &mut parties, &mut self.pools, snapshot, policy)?;
        add(
            &mut self.flows[q.request.debt_asset.index()].repaid,
            settled.paid,
        )?;
        Ok(settled)
    }

    /// The protocol absorbs borrower `i` through the core (no cash moves).
    ///
    /// # Errors
    /// The core's refusal (not liquidatable, no absorb test holds, …); nothing changes then.
    pub fn absorb(
        &mut self,
        i: usize,
        snapshot: &RiskSnapshot,
        params: &Absorb,
        age_s: u64,
    ) -> std::result::Result<Absorption, Refusal> {
        absorb(
            &mut self.borrowers[i],
            &mut Protocol {
                treasury: &mut self.treasury,
                insurance: &mut self.insurance,
            },
            &mut self.pools,
            snapshot,
            params,
            age_s,
        )
    }

    /// The liquidator buys the treasury's collateral at the storefront; its payment comes from
    /// outside and is recorded as repaid cash of the pay asset.
    ///
    /// # Errors
    /// The core's refusal (nothing to sell, too small, …); nothing changes then.
    pub fn buy_collateral(
        &mut self,
        purchase: &Purchase,
        snapshot: &RiskSnapshot,
        params: &Absorb,
    ) -> std::result::Result<StoreSale, Refusal> {
        let sale = buy_collateral(
            &mut Protocol {
                treasury: &mut self.treasury,
                insurance: &mut self.insurance,
            },
            &mut self.liquidator,
            &mut self.pools,
            snapshot,
            params,
            purchase,
        )?;
        let flows = &mut self.flows[purchase.pay_asset.index()];
        flows.repaid = flows
            .repaid
            .checked_add(sale.paid.raw())
            .ok_or(Refusal::Math(softliq_core::money::MathError::Overflow))?;
        Ok(sale)
    }

    /// Starts an auction on borrower `i` through the core; the liquidator is the keeper.
    ///
    /// # Errors
    /// The core's refusal (not liquidatable, no room under the caps, …); nothing changes then.
    pub fn bark(
        &mut self,
        i: usize,
        req: &Bark,
        at: &At,
    ) -> std::result::Result<(AuctionId, Step), Refusal> {
        let market = at.market(&self.asset_holes);
        let mut parties = Parties {
            borrower: &mut self.borrowers[i],
            liquidator: &mut self.liquidator,
            treasury: &mut self.treasury,
            insurance: &mut self.insurance,
        };
        self.auctions.bark(&mut parties, &self.pools, &market, req)
    }

    /// Buys from auction `req.id` (whose borrower is `i`) for the liquidator; the payment comes
    /// from outside and is recorded as repaid cash of the debt asset.
    ///
    /// # Errors
    /// The core's refusal (price above the bid, the `chost` rule, …); nothing changes then.
    pub fn take(&mut self, i: usize, req: &Take, at: &At) -> std::result::Result<Taken, Refusal> {
        let market = at.market(&self.asset_holes);
        let d = self
            .auctions
            .get(req.id)
            .ok_or(Refusal::UnknownAuction(req.id))?
            .debt_asset;
        let mut parties = Parties {
            borrower: &mut self.borrowers[i],
            liquidator: &mut self.liquidator,
            treasury: &mut self.treasury,
            insurance: &mut self.insurance,
        };
        let taken = self
            .auctions
            .take(&mut parties, &mut self.pools, &market, req)?;
        self.flows[d.index()].repaid =
            self.flows[d.index()]
                .repaid
                .checked_add(taken.paid.raw())
                .ok_or(Refusal::Math(softliq_core::money::MathError::Overflow))?;
        Ok(taken)
    }

    /// Resets auction `id` for the liquidator (the keeper).
    ///
    /// # Errors
    /// The core's refusal (still running, …); nothing changes then.
    pub fn redo(&mut self, id: AuctionId, at: &At) -> std::result::Result<Step, Refusal> {
        self.auctions.redo(
            &mut self.liquidator,
            &mut self.treasury,
            &self.pools,
            &at.market(&self.asset_holes),
            id,
            KEEPER,
        )
    }

    /// Checks that the tab under auction is within `hole_total` and every asset's
    /// `auction_hole`.
    ///
    /// # Errors
    /// An accounting error naming the cap exceeded.
    pub fn check_caps(&self, hole_total: Value) -> Result<()> {
        let mut total = Value::ZERO;
        for (a, hole) in self.asset_holes.iter().enumerate() {
            let dirt = self.auctions.dirt(AssetId::from_index(a));
            total = total.checked_add(dirt)?;
            if hole.is_some_and(|h| dirt > h) {
                return Err(SimError::accounting(format!(
                    "{}: {dirt} USD under auction, above its auction_hole {hole:?}",
                    self.assets[a].symbol
                )));
            }
        }
        if total > hole_total {
            return Err(SimError::accounting(format!(
                "{total} USD under auction, above hole_total {hole_total}"
            )));
        }
        Ok(())
    }

    /// Withdraws all of borrower `i`'s supply of `asset` (to put it in its bands); returns the
    /// tokens.
    ///
    /// # Errors
    /// Not enough cash in the pool.
    pub fn withdraw_all(&mut self, i: usize, asset: AssetId) -> Result<Amount> {
        let shares = self.borrowers[i].position(asset).supply;
        if shares.is_zero() {
            return Ok(Amount::ZERO);
        }
        let amount = self.pools[asset.index()].redeem(shares)?;
        self.borrowers[i].remove_supply(asset, shares)?;
        add(&mut self.flows[asset.index()].withdrawn, amount)?;
        Ok(amount)
    }

    /// Withdraws all the liquidator's shares of `asset` (to sell them); returns the tokens.
    ///
    /// # Errors
    /// Not enough cash in the pool.
    pub fn redeem_liquidator(&mut self, asset: AssetId) -> Result<Amount> {
        let shares = self.liquidator.position(asset).supply;
        if shares.is_zero() {
            return Ok(Amount::ZERO);
        }
        let amount = self.pools[asset.index()].redeem(shares)?;
        self.liquidator.remove_supply(asset, shares)?;
        add(&mut self.flows[asset.index()].withdrawn, amount)?;
        Ok(amount)
    }

    /// Accrues every pool's interest up to `now_s`.
    ///
    /// # Errors
    /// Time going backwards or overflow.
    pub fn accrue(&mut self, now_s: u64) -> Result<()> {
        for (pool, asset) in self.pools.iter_mut().zip(&self.assets) {
            pool.accrue(now_s, asset.params())?;
        }
        Ok(())
    }

    /// The risk view of the market at `prices` (one per asset).
    #[must_use]
    pub fn snapshot(&self, prices: &[Price]) -> RiskSnapshot {
        let prices: Vec<Option<Price>> = prices.iter().copied().map(Some).collect();
        RiskSnapshot::of_market(&self.assets, &self.pools, &prices)
    }

    /// Tokens that `shares` of supply in `asset` stand for, rounded down.
    ///
    /// # Errors
    /// Overflow.
    pub fn supply_amount(&self, asset: AssetId, shares: Shares) -> Result<Amount> {
        Ok(shares.to_amount(self.pools[asset.index()].supply_index(), Rounding::Down)?)
    }

    /// Checks the three identities of the module docs for every asset.
    ///
    /// # Errors
    /// An accounting error naming the asset and the identity that broke.
    pub fn reconcile(&self) -> Result<()> {
        for (a, (pool, flows)) in self.pools.iter().zip(&self.flows).enumerate() {
            let asset = AssetId::from_index(a);
            let symbol = &self.assets[a].symbol;
            let sum = |a: u128, b: u128| Amount::from_raw(a.saturating_add(b));
            let (tokens_in, tokens_out) = (
                sum(flows.deposited, flows.repaid),
                sum(flows.withdrawn, flows.borrowed),
            );
            check_cash(asset, pool, tokens_in, tokens_out)
                .map_err(|e| SimError::accounting(format!("{symbol}: {e} ({flows:?})")))?;
            let others = [
                &self.lender,
                &self.liquidator,
                &self.treasury,
                &self.insurance,
            ];
            let accounts = self.borrowers.iter().chain(others);
            check_shares(asset, pool, accounts, self.auctions.held(asset))
                .map_err(|e| SimError::accounting(format!("{symbol}: {e}")))?;
            pool.check_identity()
                .map_err(|e| SimError::accounting(format!("{symbol}: {e}")))?;
        }
        self.auctions.check_totals().map_err(SimError::accounting)
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use softliq_config::Markets;

    use super::*;

    fn ledger() -> Ledger {
        let markets = Markets::load(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/markets.toml"),
        )
        .expect("bundled markets");
        let mut l = Ledger::new(markets.assets, 0);
        l.borrowers.push(Account::new());
        l.deposit(Holder::Lender, AssetId(0), Amount::from_raw(1_000_000_000))
            .expect("deposit");
        l.deposit(
            Holder::Borrower(0),
            AssetId(1),
            Amount::from_raw(10u128.pow(18)),
        )
        .expect("deposit");
        l.borrow(
            Holder::Borrower(0),
            AssetId(0),
            Amount::from_raw(500_000_000),
        )
        .expect("borrow");
        l.repay(
            Holder::Borrower(0),
            AssetId(0),
            Amount::from_raw(100_000_000),
        )
        .expect("repay");
        l
    }

    #[test]
    fn recorded_flows_reconcile() {
        let mut l = ledger();
        l.accrue(86_400 * 30).expect("accrue");
        l.reconcile().expect("every flow recorded");
    }

    #[test]
    fn cash_that_bypasses_the_books_is_caught() {
        let mut l = ledger();
        l.pools[1]
            .deposit(Amount::from_raw(5), None)
            .expect("pool deposit");
        let e = l.reconcile().expect_err("unrecorded cash");
        assert!(
            e.problem.contains("WETH") && e.problem.contains("cash conservation"),
            "{e}"
        );
    }

    #[test]
    fn shares_without_a_pool_are_caught() {
        let mut l = ledger();
        l.treasury
            .add_supply(AssetId(1), Shares::from_raw(1))
            .expect("shares");
        let e = l.reconcile().expect_err("shares from nowhere");
        assert!(
            e.problem.contains("WETH") && e.problem.contains("supply"),
            "{e}"
        );
    }
}
