//! Auction tests: the curves' closed forms (`curve`), worked flows with hand arithmetic in the
//! comments (`flows`), and random sequences of starts, takes, resets, price moves and interest
//! with every invariant checked after each step (`props`).
//!
//! [`World`] is a small market — USDC, WETH, WBTC — whose balances all go through real pools,
//! with the tokens that came in from outside counted per asset, so conservation is checked on
//! the state the engine keeps.

mod curve;
mod flows;
mod props;

use super::*;
use crate::account::Account;
use crate::asset::{Asset, AssetParams};
use crate::health::{Health, RiskSnapshot};
use crate::liquidation::Policy;
use crate::liquidation::settle::Parties;
use crate::pool::Pool;
use crate::testing::{ratio, stable_params};

pub const USDC: AssetId = AssetId(0);
pub const WETH: AssetId = AssetId(1);
pub const WBTC: AssetId = AssetId(2);
pub const T0: u64 = 1_700_000_000;
pub const TREASURY: usize = 0;
pub const INSURANCE: usize = 1;
pub const SUPPLIER: usize = 2;
/// The first borrower; keepers and borrowers are any account from here on.
pub const FIRST: usize = 3;

pub fn price(text: &str) -> Price {
    Price::parse("price", text).expect("price")
}
pub fn usd(text: &str) -> Value {
    Value::parse("usd", text).expect("usd")
}

fn params(decimals: u8, cf: &str, lt: &str) -> AssetParams {
    let mut p = stable_params(decimals);
    p.collateral_factor = ratio(cf);
    p.liquidation_threshold = ratio(lt);
    p
}

/// A market, its accounts, its auctions, and what came in from outside.
#[derive(Clone, Debug)]
pub struct World {
    pub assets: Vec<Asset>,
    pub pools: Vec<Pool>,
    pub prices: Vec<Option<Price>>,
    pub accounts: Vec<Account>,
    pub book: AuctionBook,
    pub policy: Policy,
    pub holes: Vec<Option<Value>>,
    pub now_s: u64,
    /// Tokens in from outside less tokens out, per asset.
    pub net_in: [u128; 3],
    /// Every auction's steps, as an event log would keep them.
    pub history: std::collections::BTreeMap<AuctionId, Vec<Step>>,
}

impl World {
    /// USDC (6 dec, lt 0.85, 1 USD), WETH (18 dec, lt 0.825, 2,000 USD), WBTC (8 dec, lt 0.78,
    /// 60,000 USD); a deep supplier in each; `accounts` accounts in all; Maker's auction
    /// settings with a linear curve unless a test changes them.
    pub fn new(accounts: usize) -> Self {
        let assets = vec![
            Asset::new(USDC, "USDC", params(6, "0.8", "0.85")).unwrap(),
            Asset::new(WETH, "WETH", params(18, "0.8", "0.825")).unwrap(),
            Asset::new(WBTC, "WBTC", params(8, "0.73", "0.78")).unwrap(),
        ];
        let mut w = Self {
            assets,
            pools: vec![Pool::new(T0); 3],
            prices: vec![Some(price("1")), Some(price("2000")), Some(price("60000"))],
            accounts: vec![Account::new(); accounts.max(FIRST + 2)],
            book: AuctionBook::new(),
            policy: Policy::dutch(),
            holes: vec![None; 3],
            now_s: T0,
            net_in: [0; 3],
            history: std::collections::BTreeMap::new(),
        };
        for (asset, tokens) in [(USDC, "10000000"), (WETH, "10000"), (WBTC, "1000")] {
            w.supply(SUPPLIER, asset, tokens);
        }
        w
    }

    pub fn dutch(&mut self) -> &mut Dutch {
        match &mut self.policy.rule {
            crate::liquidation::Rule::Dutch(d) => d,
            _ => unreachable!("auction tests run a dutch market"),
        }
    }

    pub fn amount(&self, asset: AssetId, tokens: &str) -> Amount {
        Amount::parse_tokens("test", tokens, self.assets[asset.index()].params().decimals).unwrap()
    }

    pub fn supply(&mut self, who: usize, asset: AssetId, tokens: &str) -> &mut Self {
        let amount = self.amount(asset, tokens);
        let shares = self.pools[asset.index()].deposit(amount, None).unwrap();
        self.accounts[who].add_supply(asset, shares).unwrap();
        self.net_in[asset.index()] += amount.raw();
        self
    }

    pub fn borrow(&mut self, who: usize, asset: AssetId, tokens: &str) -> &mut Self {
        let amount = self.amount(asset, tokens);
        let shares = self.pools[asset.index()].borrow(amount, None).unwrap();
        self.accounts[who].add_debt(asset, shares).unwrap();
        self.net_in[asset.index()] -= amount.raw();
        self
    }

    pub fn set_price(&mut self, asset: AssetId, p: &str) -> &mut Self {
        self.prices[asset.index()] = Some(price(p));
        self
    }

    /// Moves the clock without accruing: for worked figures that interest would blur.
    pub fn skip(&mut self, seconds: u64) -> &mut Self {
        self.now_s += seconds;
        self
    }

    /// Moves the clock and accrues every pool.
    pub fn advance(&mut self, seconds: u64) -> &mut Self {
        self.now_s += seconds;
        for (pool, asset) in self.pools.iter_mut().zip(&self.assets) {
            pool.accrue(self.now_s, asset.params()).unwrap();
        }
        self
    }

    pub fn snapshot(&self) -> RiskSnapshot {
        RiskSnapshot::of_market(&self.assets, &self.pools, &self.prices)
    }

    pub fn health(&self, who: usize) -> Health {
        Health::of(&self.accounts[who], &self.snapshot()).unwrap()
    }

    /// Runs `f` with the market and four distinct accounts as parties.
    fn with_parties<T>(
        &mut self,
        borrower: usize,
        keeper: usize,
        f: impl FnOnce(&mut AuctionBook, &mut Parties, &mut [Pool], &Market) -> T,
    ) -> T {
        assert!(borrower >= FIRST && keeper >= FIRST && borrower != keeper);
        let snapshot = self.snapshot();
        let market = Market {
            policy: &self.policy,
            snapshot: &snapshot,
            asset_holes: &self.holes,
            now_s: self.now_s,
        };
        let mut b = std::mem::take(&mut self.accounts[borrower]);
        let mut k = std::mem::take(&mut self.accounts[keeper]);
        let mut t = std::mem::take(&mut self.accounts[TREASURY]);
        let mut i = std::mem::take(&mut self.accounts[INSURANCE]);
        let mut parties = Parties {
            borrower: &mut b,
            liquidator: &mut k,
            treasury: &mut t,
            insurance: &mut i,
        };
        let out = f(&mut self.book, &mut parties, &mut self.pools, &market);
        self.accounts[borrower] = b;
        self.accounts[keeper] = k;
        self.accounts[TREASURY] = t;
        self.accounts[INSURANCE] = i;
        out
    }

    pub fn bark(
        &mut self,
        borrower: usize,
        d: AssetId,
        c: AssetId,
        keeper: usize,
    ) -> Result<(AuctionId, Step), Refusal> {
        let req = Bark {
            borrower: AccountId(borrower as u64),
            debt_asset: d,
            collateral_asset: c,
            keeper: AccountId(keeper as u64),
        };
        let (id, step) = self.with_parties(borrower, keeper, |book, parties, pools, market| {
            book.bark(parties, pools, market, &req)
        })?;
        self.history.insert(id, vec![step.clone()]);
        Ok((id, step))
    }

    pub fn take(
        &mut self,
        id: AuctionId,
        keeper: usize,
        tokens: &str,
        max_price: &str,
    ) -> Result<Taken, Refusal> {
        let c = self.book.get(id).map_or(WETH, |a| a.collateral_asset);
        let amount = self.amount(c, tokens);
        self.take_raw(id, keeper, amount, price(max_price))
    }

    pub fn take_raw(
        &mut self,
        id: AuctionId,
        keeper: usize,
        amount: Amount,
        max_price: Price,
    ) -> Result<Taken, Refusal> {
        let Some(a) = self.book.get(id) else {
            return Err(Refusal::UnknownAuction(id));
        };
        let (borrower, d) = (a.borrower.0 as usize, a.debt_asset);
        let req = Take {
            id,
            keeper: AccountId(keeper as u64),
            amount,
            max_price,
        };
        let taken = self.with_parties(borrower, keeper, |book, parties, pools, market| {
            book.take(parties, pools, market, &req)
        })?;
        self.net_in[d.index()] += taken.paid.raw();
        let h = self.history.entry(id).or_default();
        h.push(taken.step.clone());
        h.extend(taken.finished.clone());
        Ok(taken)
    }

    pub fn redo(&mut self, id: AuctionId, keeper: usize) -> Result<Step, Refusal> {
        let snapshot = self.snapshot();
        let market = Market {
            policy: &self.policy,
            snapshot: &snapshot,
            asset_holes: &self.holes,
            now_s: self.now_s,
        };
        let mut k = std::mem::take(&mut self.accounts[keeper]);
        let mut t = std::mem::take(&mut self.accounts[TREASURY]);
        let out = self.book.redo(
            &mut k,
            &mut t,
            &self.pools,
            &market,
            id,
            AccountId(keeper as u64),
        );
        self.accounts[keeper] = k;
        self.accounts[TREASURY] = t;
        if let Ok(step) = &out {
            self.history.entry(id).or_default().push(step.clone());
        }
        out
    }

    pub fn status(&self, id: AuctionId) -> Option<Status> {
        let dutch = *self.policy.auction().unwrap();
        self.book
            .status(id, &dutch, &self.pools, self.now_s)
            .unwrap()
    }

    /// Supply shares of `asset` held by account `who`, as tokens (rounded down).
    pub fn claim(&self, who: usize, asset: AssetId) -> Amount {
        self.accounts[who]
            .position(asset)
            .supply
            .to_amount(self.pools[asset.index()].supply_index(), Rounding::Down)
            .unwrap()
    }

    /// Every invariant the auctions must keep: per asset, shares of all accounts plus those
    /// held by auctions equal the pool's; the pool identity; cash equal to what came in less
    /// what went out; the caps' totals equal their sums and never above the caps.
    pub fn check(&self) -> Result<(), String> {
        self.book.check_totals()?;
        let dutch = self.policy.auction().unwrap();
        if self.book.dirt_total() > dutch.hole_total {
            return Err(format!(
                "dirt_total {} above hole_total {}",
                self.book.dirt_total(),
                dutch.hole_total
            ));
        }
        for asset in [USDC, WETH, WBTC] {
            let pool = &self.pools[asset.index()];
            if let Some(hole) = self.holes[asset.index()]
                && self.book.dirt(asset) > hole
            {
                return Err(format!("asset {} dirt above its hole", asset.0));
            }
            crate::pool::conservation::check_shares(
                asset,
                pool,
                &self.accounts,
                self.book.held(asset),
            )?;
            pool.check_identity()?;
            if pool.cash().raw() != self.net_in[asset.index()] {
                return Err(format!(
                    "asset {}: cash {} but {} came in net",
                    asset.0,
                    pool.cash().raw(),
                    self.net_in[asset.index()]
                ));
            }
        }
        Ok(())
    }
}

/// A borrower at `FIRST` with 1 WETH against 1,600 USDC (the borrowing limit at 2,000), made
/// liquidatable by WETH at 1,900 (`1900 · 0.825 = 1567.5 < 1600`); a treasury with 100 USDC.
pub fn one_weth_borrower() -> World {
    let mut w = World::new(6);
    w.supply(FIRST, WETH, "1").borrow(FIRST, USDC, "1600");
    w.supply(TREASURY, USDC, "100");
    w.set_price(WETH, "1900");
    assert!(w.health(FIRST).is_liquidatable());
    w
}
