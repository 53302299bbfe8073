//! Perpetual-market commands: thin wrappers over `softliq_core::perp::Exchange`, which applies
//! each whole or refuses it unchanged; here only parsing, account checks, the mapping of its
//! refusals to rejections naming the field, and the events.

use softliq_core::account::{Account, AccountId};
use softliq_core::asset::AssetId;
use softliq_core::health::RiskSnapshot;
use softliq_core::money::Value;
use softliq_core::perp::{
    ExchangeError, Margin, OrderError, OrderId, OrderRequest, PerpError, PerpMarketId, PerpParams,
    PerpSnapshot, VAULT,
};

use crate::command::CommandBody;
use crate::engine::Engine;
use crate::event::{Event, OrderPlaced, PerpAdl, PerpChunk, PerpLiquidated};
use crate::rejection::{Code, Rejection};
use crate::state::FIRST_USER_ACCOUNT;

/// A refusal of the perp controller as a rejection: the field its message starts with, and
/// the code of its rule.
fn reject(e: &ExchangeError) -> Rejection {
    let code = match e {
        ExchangeError::UnknownMarket(_) => Code::UnknownAsset,
        ExchangeError::NoIndex(_) => Code::NoPrice,
        ExchangeError::WithdrawBelowMargin { .. }
        | ExchangeError::Order(OrderError::Margin { .. }) => Code::Unhealthy,
        ExchangeError::Order(OrderError::OpenInterest { .. }) => Code::CapExceeded,
        ExchangeError::Perp(PerpError::NotLiquidatable) => Code::NotLiquidatable,
        ExchangeError::Perp(PerpError::StalePrice(_)) => Code::StalePrice,
        ExchangeError::Param(p) => return Rejection::params(p),
        ExchangeError::Math(_) | ExchangeError::Perp(PerpError::Math(_)) => Code::Overflow,
        _ => Code::InvalidParams,
    };
    let text = e.to_string();
    match text.split_once(": ") {
        Some((field, message)) if !field.contains(' ') => Rejection::new(code, field, message),
        _ => Rejection::new(code, "order", text),
    }
}

fn usd(field: &str, text: &str) -> Result<Value, Rejection> {
    let v = Value::parse(field, text).map_err(|e| Rejection::parse(&e))?;
    if v.is_zero() {
        return Err(Rejection::new(
            Code::ZeroAmount,
            field,
            "must be greater than zero",
        ));
    }
    Ok(v)
}

impl Engine {
    pub(crate) fn list_perp_market(
        &mut self,
        now_s: u64,
        symbol: &str,
        params: &PerpParams,
    ) -> Result<Vec<Event>, Rejection> {
        let listed = self.state.perps.markets().iter().map(|m| m.symbol.as_str());
        super::admin::check_symbol(symbol, listed)?;
        self.asset_ref("params.index_asset", params.index_asset)?;
        let mut perps = self.state.perps.clone();
        let market = perps.list(symbol, params.clone()).map_err(|e| reject(&e))?;
        self.sync_index(&mut perps, params.index_asset)?;
        perps.start_funding(now_s);
        self.state.perps = perps;
        Ok(vec![Event::PerpMarketListed {
            market,
            symbol: symbol.to_owned(),
        }])
    }

    pub(crate) fn update_perp_market(
        &mut self,
        market: PerpMarketId,
        params: &PerpParams,
    ) -> Result<Vec<Event>, Rejection> {
        self.state
            .perps
            .update(market, params.clone())
            .map_err(|e| reject(&e))?;
        Ok(vec![Event::PerpMarketUpdated { market }])
    }

    /// Feeds the accepted oracle price of `asset` to the perp markets indexed on it, and their
    /// books' mids into their premiums.
    fn sync_index(
        &self,
        perps: &mut softliq_core::perp::Exchange,
        asset: AssetId,
    ) -> Result<(), Rejection> {
        let Some(price) = self.state.oracles[asset.index()].price else {
            return Ok(());
        };
        for id in perps.indexed_on(asset) {
            perps.set_index(id, price).map_err(|e| reject(&e))?;
            // A premium too large to represent (a book mid absurdly far from the index) is not
            // observed: the mark stays on its last premium, still bounded by `premium_max`.
            let _ = perps.observe(id);
        }
        Ok(())
    }

    /// After an accepted price: the perp markets indexed on `asset` follow it. In place: only
    /// the affected markets' index and premium change (a copy of the controller would copy every
    /// wallet at every price update); setting the index of a listed market cannot fail and a
    /// premium that cannot be represented is skipped, so the price update is never half done.
    pub(crate) fn perp_price(&mut self, now_s: u64, asset: AssetId) -> Result<(), Rejection> {
        if self.state.perps.indexed_on(asset).is_empty() {
            return Ok(());
        }
        let mut perps = std::mem::take(&mut self.state.perps);
        let synced = self.sync_index(&mut perps, asset);
        perps.start_funding(now_s);
        self.state.perps = perps;
        synced
    }

    /// After the clock moved: the funding ticks due.
    pub(crate) fn perp_funding(
        &mut self,
        now_s: u64,
        events: &mut Vec<Event>,
    ) -> Result<(), Rejection> {
        if self.state.perps.markets().is_empty() {
            return Ok(());
        }
        let ticks = self.state.perps.advance(now_s).map_err(|e| reject(&e))?;
        events.extend(
            ticks
                .into_iter()
                .map(|(market, rate)| Event::Funding { market, rate }),
        );
        Ok(())
    }

    /// The oracle guards of every index the account's positions are marked on: a stale index
    /// or an open breaker makes liquidation wait, as on the lending side.
    fn perp_guards(&self, now_s: u64, account: AccountId) -> Result<(), Rejection> {
        let Some(a) = self.state.perps.account(account) else {
            return Ok(());
        };
        for p in a.positions() {
            let Some(m) = self.state.perps.markets().get(p.market.index()) else {
                continue;
            };
            let asset = m.params.index_asset;
            let guards = self.asset_ref("account", asset)?.params().oracle;
            let oracle = &self.state.oracles[asset.index()];
            if oracle.is_stale(now_s, &guards) {
                return Err(Rejection::new(
                    Code::StalePrice,
                    "account",
                    format!("the index of {} is stale", m.symbol),
                ));
            }
            if oracle.open_breaker(now_s).is_some() {
                return Err(Rejection::new(
                    Code::BreakerOpen,
                    "account",
                    format!("the circuit breaker of {}'s index is open", m.symbol),
                ));
            }
        }
        Ok(())
    }

    /// `perp_deposit` (`withdraw` false) or `perp_withdraw`: USD margin in or out of the
    /// account's perp wallet.
    pub(crate) fn perp_cash(
        &mut self,
        account: AccountId,
        text: &str,
        withdraw: bool,
    ) -> Result<Vec<Event>, Rejection> {
        self.user_account("account", account)?;
        let amount = usd("amount", text)?;
        let perps = &mut self.state.perps;
        let moved = if withdraw {
            perps.withdraw(account, amount)
        } else {
            perps.deposit(account, amount)
        };
        moved.map_err(|e| reject(&e))?;
        Ok(vec![if withdraw {
            Event::PerpWithdrawn { account, amount }
        } else {
            Event::PerpDeposited { account, amount }
        }])
    }

    /// `fund_perp_insurance`: USD into a market's insurance fund.
    pub(crate) fn fund_perp_insurance(
        &mut self,
        market: PerpMarketId,
        text: &str,
    ) -> Result<Vec<Event>, Rejection> {
        let amount = usd("amount", text)?;
        self.state
            .perps
            .fund_insurance(market, amount)
            .map_err(|e| reject(&e))?;
        Ok(vec![Event::PerpInsuranceFunded { market, amount }])
    }

    pub(crate) fn place_order(
        &mut self,
        account: AccountId,
        request: &OrderRequest,
    ) -> Result<Vec<Event>, Rejection> {
        self.user_account("account", account)?;
        let (order, placed) = self
            .state
            .perps
            .place(account, *request)
            .map_err(|e| reject(&e))?;
        Ok(vec![Event::OrderPlaced(Box::new(OrderPlaced {
            account,
            order,
            request: *request,
            fills: placed.fills,
            rested: placed.rested,
            cancelled: placed.cancelled,
            self_trade_cancels: placed.self_trade_cancels,
        }))])
    }

    pub(crate) fn cancel_order(
        &mut self,
        account: AccountId,
        market: PerpMarketId,
        order: OrderId,
    ) -> Result<Vec<Event>, Rejection> {
        self.user_account("account", account)?;
        self.state
            .perps
            .cancel(account, market, order)
            .map_err(|e| reject(&e))?;
        Ok(vec![Event::OrderCancelled {
            account,
            market,
            order,
        }])
    }

    pub(crate) fn perp_liquidate(
        &mut self,
        now_s: u64,
        liquidator: AccountId,
        account: AccountId,
        take_backstop: bool,
    ) -> Result<Vec<Event>, Rejection> {
        self.user_account("liquidator", liquidator)?;
        self.user_account("account", account)?;
        self.perp_guards(now_s, account)?;
        let mut perps = self.state.perps.clone();
        let l = perps
            .liquidate(account, liquidator, take_backstop)
            .map_err(|e| reject(&e))?;
        self.state.perps = perps;
        let backstop = l.backstop.is_some();
        let b = l.backstop.clone().unwrap_or_default();
        Ok(vec![Event::PerpLiquidated(Box::new(PerpLiquidated {
            account,
            liquidator,
            chunks: l
                .round
                .chunks
                .iter()
                .map(|c| PerpChunk {
                    market: c.market,
                    size: c.size,
                    notional: c.notional,
                    fee: c.fee,
                })
                .collect(),
            orders_cancelled: l.cancelled,
            makers: l.makers,
            backstop,
            taker: l.taker,
            margin_to_taker: b.margin_to_vault,
            insurance_paid: b.insurance_paid,
            adl: b
                .adl
                .iter()
                .zip(&l.adl_accounts)
                .map(|(f, &account)| PerpAdl {
                    account,
                    market: f.market,
                    size: f.size,
                    haircut: f.haircut,
                })
                .collect(),
            bad_debt: b.bad_debt,
        }))])
    }
}

/// The perp wallets whose margin a command's events say it changed: margin moved in or out,
/// the taker and the makers of each fill, a liquidation's account, liquidator and ADL
/// counterparties. An order that rested or was cancelled without a fill changes no margin
/// (resting orders reserve none, decision 103; the funding it settled was already counted as
/// owed, with the same rounding), nor does a cancel.
fn perp_touched(events: &[Event], out: &mut Vec<AccountId>) {
    for e in events {
        match e {
            Event::PerpDeposited { account, .. } | Event::PerpWithdrawn { account, .. } => {
                out.push(*account);
            }
            Event::OrderPlaced(p) if !p.fills.is_empty() => {
                out.push(p.account);
                out.extend(p.fills.iter().map(|f| AccountId(f.maker_owner)));
            }
            Event::PerpLiquidated(l) => {
                out.extend([l.account, l.liquidator]);
                out.extend(l.makers.iter().copied());
                out.extend(l.adl.iter().map(|a| a.account));
            }
            _ => {}
        }
    }
}

impl Engine {
    /// Perp detection after an accepted command, as on the lending side: a command that moves
    /// marks or funding (a price, the clock, a listing) takes the perp watch's candidates, every
    /// command re-evaluates the wallets it touched, and each candidate's flag is made equal to
    /// [`softliq_core::perp::Exchange::liquidatable`], with an event when it flips. A wallet
    /// that cannot be valued is not liquidatable (as on the lending side) and sits in the near
    /// list.
    pub(crate) fn detect_perps(&mut self, body: &CommandBody, events: &mut Vec<Event>) {
        if self.state.perps.markets().is_empty() {
            return;
        }
        let mut ids = Vec::new();
        perp_touched(events, &mut ids);
        let everyone = matches!(
            body,
            CommandBody::PostPrice { .. }
                | CommandBody::AdvanceTime
                | CommandBody::ListPerpMarket { .. }
                | CommandBody::UpdatePerpMarket { .. }
        );
        if ids.is_empty() && !everyone {
            return;
        }
        // The mark of a market whose premium overflowed is unchanged since its last update, so
        // a snapshot cannot fail once markets have marks; with none, nothing is flagged.
        let Ok(snap) = self.state.perps.snapshot() else {
            return;
        };
        if everyone {
            self.perp_watch.fired(&snap, &mut ids);
        }
        if let CommandBody::UpdatePerpMarket { market, .. } = body {
            // New tiers move every holder's requirement at once: each is valued again.
            let m = *market;
            ids.extend(
                self.state
                    .perps
                    .accounts()
                    .filter(|(_, w)| w.position(m).is_some())
                    .map(|(id, _)| id),
            );
        }
        ids.sort_unstable();
        ids.dedup();
        for id in ids {
            if id.0 >= FIRST_USER_ACCOUNT && id != VAULT {
                self.perp_redetect(&snap, id, events);
            }
        }
    }

    fn perp_redetect(&mut self, snap: &PerpSnapshot, id: AccountId, events: &mut Vec<Event>) {
        let perps = &self.state.perps;
        let Some(wallet) = perps.account(id) else {
            return;
        };
        // `Exchange::liquidatable`, with the exposure kept for the watch.
        let exposure = perps.exposure(id, snap).ok();
        let now = perps.is_unwinding(id) || exposure.is_some_and(|e| e.is_liquidatable());
        debug_assert_eq!(now, perps.liquidatable(id, snap).unwrap_or(false));
        let was = self.state.perp_flagged.contains(&id);
        self.perp_watch
            .settle(perps, snap, id, wallet, now, exposure.as_ref());
        if now == was {
            return;
        }
        let health_factor = Margin::of(&Account::new(), wallet, &RiskSnapshot::new(), snap)
            .ok()
            .and_then(|m| m.health_factor());
        if now {
            self.state.perp_flagged.insert(id);
            events.push(Event::PerpBecameLiquidatable {
                account: id,
                health_factor,
            });
        } else {
            self.state.perp_flagged.remove(&id);
            events.push(Event::PerpRecovered {
                account: id,
                health_factor,
            });
        }
    }

    /// Every liquidatable perp wallet, by valuing all of them: the reference the perp watch is
    /// tested against.
    #[must_use]
    pub fn scan_perp_liquidatable(&self) -> std::collections::BTreeSet<AccountId> {
        let perps = &self.state.perps;
        let Ok(snap) = perps.snapshot() else {
            return std::collections::BTreeSet::new();
        };
        perps
            .accounts()
            .map(|(id, _)| id)
            .filter(|&id| id.0 >= FIRST_USER_ACCOUNT && id != VAULT)
            .filter(|&id| perps.liquidatable(id, &snap).unwrap_or(false))
            .collect()
    }
}
