//! Moving funds: deposit, withdraw, borrow, repay, and funding the insurance fund.
//!
//! Withdrawals and borrows are the only commands that can weaken an account, so they are the
//! only ones with a health check: the account must stay within its borrowing power at spot
//! prices (docs/risk-model.md) and must not be liquidatable at the market's liquidation prices
//! (which may lag spot, docs/engine.md, Oracle guards), and every price it depends on must be
//! fresh.

use softliq_core::account::{Account, AccountId};
use softliq_core::asset::AssetId;
use softliq_core::health::Health;
use softliq_core::money::{Amount, Rounding};
use softliq_core::pool::Pool;

use super::parse_amount;
use crate::engine::Engine;
use crate::event::Event;
use crate::rejection::{Code, Rejection};
use crate::state::INSURANCE;

/// Which way a command moves tokens across the protocol's boundary.
#[derive(Clone, Copy)]
enum Direction {
    In,
    Out,
}

impl Engine {
    /// Writes back a pool and an account computed on copies, and records `amount` crossing
    /// the protocol's boundary. The flow is summed before anything is written, so a failure
    /// here still changes nothing.
    fn commit(
        &mut self,
        asset: AssetId,
        pool: Pool,
        (index, account): (usize, Account),
        (amount, direction): (Amount, Direction),
    ) -> Result<(), Rejection> {
        let mut flows = self.state.flows[asset.index()];
        let slot = match direction {
            Direction::In => &mut flows.tokens_in,
            Direction::Out => &mut flows.tokens_out,
        };
        *slot = slot
            .checked_add(amount)
            .map_err(|e| Rejection::math("amount", e))?;
        self.state.flows[asset.index()] = flows;
        self.state.pools[asset.index()] = pool;
        self.state.accounts[index].account = account;
        Ok(())
    }

    /// Refuses an account that would be unhealthy or depends on a stale price.
    fn check_health(&self, account: &Account) -> Result<(), Rejection> {
        if !account.has_debt() {
            return Ok(());
        }
        for p in account.positions() {
            let risk = self.views.spot.get(p.asset).map_err(Rejection::health)?;
            if risk.stale {
                return Err(Rejection::new(
                    Code::StalePrice,
                    "asset",
                    format!(
                        "the price of asset {} is older than its max_staleness_s",
                        p.asset.0
                    ),
                ));
            }
        }
        let spot = Health::of(account, &self.views.spot).map_err(Rejection::health)?;
        let liq = Health::of(account, &self.views.liq).map_err(Rejection::health)?;
        if !spot.within_borrowing_power() || liq.is_liquidatable() {
            return Err(Rejection::new(
                Code::Unhealthy,
                "amount",
                format!(
                    "would leave weighted debt {} above borrowing power {}",
                    spot.weighted_debt, spot.borrowing_power
                ),
            ));
        }
        Ok(())
    }

    pub(crate) fn deposit(
        &mut self,
        now_s: u64,
        id: AccountId,
        asset: AssetId,
        text: &str,
    ) -> Result<Vec<Event>, Rejection> {
        let index = self.user_account("account", id)?;
        self.supply(now_s, index, asset, text)
    }

    pub(crate) fn fund_insurance(
        &mut self,
        now_s: u64,
        asset: AssetId,
        text: &str,
    ) -> Result<Vec<Event>, Rejection> {
        self.supply(now_s, INSURANCE.index(), asset, text)
    }

    /// A deposit into the pool credited to the account at `index`.
    fn supply(
        &mut self,
        now_s: u64,
        index: usize,
        asset: AssetId,
        text: &str,
    ) -> Result<Vec<Event>, Rejection> {
        let params = self.asset_ref("asset", asset)?.params();
        let (decimals, cap) = (params.decimals, params.supply_cap);
        let amount = parse_amount("amount", text, decimals)?;
        let mut events = Vec::new();
        let mut pool = self.accrued_pool(asset, now_s, &mut events)?;
        let shares = pool
            .deposit(amount, cap)
            .map_err(|e| Rejection::pool("amount", e))?;
        let mut account = self.state.accounts[index].account.clone();
        account
            .add_supply(asset, shares)
            .map_err(|e| Rejection::math("amount", e))?;
        self.commit(asset, pool, (index, account), (amount, Direction::In))?;
        let id = AccountId::from_index(index);
        events.push(if id == INSURANCE {
            Event::InsuranceFunded {
                asset,
                amount,
                shares,
            }
        } else {
            Event::Deposited {
                account: id,
                asset,
                amount,
                shares,
            }
        });
        Ok(events)
    }

    pub(crate) fn withdraw(
        &mut self,
        now_s: u64,
        id: AccountId,
        asset: AssetId,
        text: &str,
    ) -> Result<Vec<Event>, Rejection> {
        let index = self.user_account("account", id)?;
        let decimals = self.asset_ref("asset", asset)?.params().decimals;
        let amount = parse_amount("amount", text, decimals)?;
        let mut events = Vec::new();
        let mut pool = self.accrued_pool(asset, now_s, &mut events)?;
        let mut account = self.state.accounts[index].account.clone();
        let held = account.position(asset).supply;
        let balance = held
            .to_amount(pool.supply_index(), Rounding::Down)
            .map_err(|e| Rejection::math("amount", e))?;
        if amount > balance {
            return Err(Rejection::new(
                Code::InvalidAmount,
                "amount",
                format!(
                    "exceeds the account's balance of {}",
                    balance.display_tokens(decimals)
                ),
            ));
        }
        let shares = pool
            .withdraw(amount)
            .map_err(|e| Rejection::pool("amount", e))?;
        account
            .remove_supply(asset, shares.min(held))
            .map_err(|e| Rejection::math("amount", e))?;
        self.check_health(&account)?;
        self.commit(asset, pool, (index, account), (amount, Direction::Out))?;
        events.push(Event::Withdrawn {
            account: id,
            asset,
            amount,
            shares,
        });
        Ok(events)
    }

    pub(crate) fn borrow(
        &mut self,
        now_s: u64,
        id: AccountId,
        asset: AssetId,
        text: &str,
    ) -> Result<Vec<Event>, Rejection> {
        let index = self.user_account("account", id)?;
        let params = self.asset_ref("asset", asset)?.params();
        let (decimals, cap) = (params.decimals, params.borrow_cap);
        let amount = parse_amount("amount", text, decimals)?;
        let mut events = Vec::new();
        let mut pool = self.accrued_pool(asset, now_s, &mut events)?;
        let shares = pool
            .borrow(amount, cap)
            .map_err(|e| Rejection::pool("amount", e))?;
        let mut account = self.state.accounts[index].account.clone();
        account
            .add_debt(asset, shares)
            .map_err(|e| Rejection::math("amount", e))?;
        self.check_health(&account)?;
        self.commit(asset, pool, (index, account), (amount, Direction::Out))?;
        events.push(Event::Borrowed {
            account: id,
            asset,
            amount,
            shares,
        });
        Ok(events)
    }

    pub(crate) fn repay(
        &mut self,
        now_s: u64,
        id: AccountId,
        asset: AssetId,
        text: &str,
    ) -> Result<Vec<Event>, Rejection> {
        let index = self.user_account("account", id)?;
        let decimals = self.asset_ref("asset", asset)?.params().decimals;
        let amount = parse_amount("amount", text, decimals)?;
        let mut account = self.state.accounts[index].account.clone();
        let owed = account.position(asset).debt;
        if owed.is_zero() {
            return Err(Rejection::new(
                Code::InvalidAmount,
                "asset",
                format!("the account owes nothing in asset {}", asset.0),
            ));
        }
        let mut events = Vec::new();
        let mut pool = self.accrued_pool(asset, now_s, &mut events)?;
        let (burned, paid) = pool
            .repay(amount, owed)
            .map_err(|e| Rejection::pool("amount", e))?;
        account
            .remove_debt(asset, burned)
            .map_err(|e| Rejection::math("amount", e))?;
        self.commit(asset, pool, (index, account), (paid, Direction::In))?;
        events.push(Event::Repaid {
            account: id,
            asset,
            amount: paid,
            shares: burned,
        });
        Ok(events)
    }
}
