//! The perp controller: markets (parameters, running state, order book, index price) and every
//! account's perp wallet, with the operations the engine turns into commands — list a market,
//! set its index, observe its book, fund, deposit and withdraw margin, place and cancel
//! orders — each applied whole or refused with nothing changed, and one `check` of every
//! invariant the tests and `--audit` run after each operation.
//!
//! Rules a trade follows here:
//! - lot and tick ([`check_order`]), post-only/IOC/market semantics of the book;
//! - **reduce-only** orders are cut to the position they reduce and refused when they would
//!   not reduce anything;
//! - **margin**: a risk-adding order must leave `Ei ≥ IM` if it filled whole at its limit price
//!   (for a market order, at the index moved by the slippage tolerance against the taker): the
//!   equity change and the requirement are both linear in the filled size, so every partial
//!   fill passes too. Resting orders reserve no margin: a maker fill is booked like a
//!   liquidation fill, without the check (a simplification this part keeps; venues reserve
//!   order margin);
//! - **open interest**: refused when `open interest + size` would pass the cap (a trade moves
//!   open interest by at most its size);
//! - each fill's notional is `size · price` rounded down, booked on both sides; the taker pays
//!   `taker_fee`, the maker `maker_fee`, both rounded up, to the market's fees.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::account::{Account, AccountId};
use crate::health::RiskSnapshot;
use crate::money::{Amount, MathError, Price, Rounding, SignedValue, Value};

use super::{
    BookError, Fill, Margin, Order, OrderBook, OrderError, OrderId, PerpAccount, PerpError,
    PerpMarketId, PerpMarketState, PerpParams, PerpRisk, PerpSnapshot, Placed, Side, TimeInForce,
    check_open_interest, check_order, open_interest_change,
};

/// One listed perp market.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PerpMarket {
    pub symbol: String,
    pub params: Arc<PerpParams>,
    pub state: PerpMarketState,
    pub book: OrderBook,
    /// The latest accepted index (oracle) price, if any.
    pub index: Option<Price>,
    /// When the last funding tick was (command time); 0 before the first index price.
    pub last_funding_s: u64,
}

/// An order as an account submits it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OrderRequest {
    pub market: PerpMarketId,
    pub side: Side,
    /// `None`: a market order.
    pub price: Option<Price>,
    pub size: Amount,
    pub tif: TimeInForce,
    pub reduce_only: bool,
}

/// Why the controller refused an operation (nothing changed).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExchangeError {
    #[error("market: perp market {} is not listed", .0.0)]
    UnknownMarket(PerpMarketId),
    #[error("market: perp market {} has no index price yet", .0.0)]
    NoIndex(PerpMarketId),
    #[error("order: {} is not this account's resting order", .0.0)]
    NotYourOrder(OrderId),
    #[error("reduce_only: the order would not reduce the position")]
    WouldNotReduce,
    #[error("amount: withdrawing {asked} USD would leave initial equity below the initial margin")]
    WithdrawBelowMargin { asked: Value },
    #[error(transparent)]
    Order(#[from] OrderError),
    #[error(transparent)]
    Book(#[from] BookError),
    #[error(transparent)]
    Param(#[from] crate::asset::ParamError),
    #[error(transparent)]
    Perp(#[from] PerpError),
    #[error(transparent)]
    Math(#[from] MathError),
}

/// An account's unwinding in progress: started rounds continue to the target.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Unwinding {
    pub empty_rounds: u32,
}

/// What one liquidation step did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Liquidation {
    pub round: super::Round,
    /// The backstop, when the account crossed its line or the book stayed empty.
    pub backstop: Option<super::Backstop>,
    /// Resting orders of the account cancelled before the round.
    pub cancelled: Vec<OrderId>,
    /// The makers the round's chunks filled against, in fill order (repeats removed).
    pub makers: Vec<AccountId>,
    /// The counterparty of each of the backstop's ADL fills, in the same order.
    pub adl_accounts: Vec<AccountId>,
    /// Who took the backstopped positions: [`VAULT`], or the liquidator when it offered to and
    /// could (see [`Exchange::liquidate`]). `None` without a backstop.
    pub taker: Option<AccountId>,
}

/// The backstop vault's account.
pub const VAULT: AccountId = AccountId(u64::MAX);

/// Every perp market and wallet.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Exchange {
    markets: Vec<PerpMarket>,
    accounts: BTreeMap<AccountId, PerpAccount>,
    unwinding: BTreeMap<AccountId, Unwinding>,
    /// USD deposited less withdrawn: what the conservation sum must equal.
    deposits: SignedValue,
    next_order: u64,
}

impl Exchange {
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    #[must_use]
    pub fn markets(&self) -> &[PerpMarket] {
        &self.markets
    }

    #[must_use]
    pub fn account(&self, id: AccountId) -> Option<&PerpAccount> {
        self.accounts.get(&id)
    }

    /// Every perp wallet (the vault's included), by account.
    pub fn accounts(&self) -> impl Iterator<Item = (AccountId, &PerpAccount)> {
        self.accounts.iter().map(|(id, a)| (*id, a))
    }

    /// Whether `account` is being unwound: its started rounds continue to the target whatever
    /// its margin.
    #[must_use]
    pub fn is_unwinding(&self, account: AccountId) -> bool {
        self.unwinding.contains_key(&account)
    }

    /// `account`'s cross exposure at `snap`, funding owed counted (not settled).
    ///
    /// # Errors
    /// A market without a mark; `Overflow`.
    pub fn exposure(
        &self,
        account: AccountId,
        snap: &PerpSnapshot,
    ) -> Result<super::Exposure, ExchangeError> {
        let a = self.accounts.get(&account);
        Ok(super::Exposure::of(
            super::Scope::Cross,
            &Account::new(),
            a.unwrap_or(&PerpAccount::new()),
            &RiskSnapshot::new(),
            snap,
        )?)
    }

    /// The one rule for who may be liquidated: an account being unwound, or one whose
    /// maintenance equity is at or below its MM (`Exposure::is_liquidatable`). Detection flags
    /// by it and [`Exchange::liquidate`] refuses what it does not accept.
    ///
    /// # Errors
    /// A market without a mark; `Overflow`.
    pub fn liquidatable(
        &self,
        account: AccountId,
        snap: &PerpSnapshot,
    ) -> Result<bool, ExchangeError> {
        Ok(self.is_unwinding(account) || self.exposure(account, snap)?.is_liquidatable())
    }

    fn market(&self, id: PerpMarketId) -> Result<&PerpMarket, ExchangeError> {
        self.markets
            .get(id.index())
            .ok_or(ExchangeError::UnknownMarket(id))
    }

    /// Lists a market; its id is the next free one.
    ///
    /// # Errors
    /// `Param` naming the field out of bounds.
    pub fn list(
        &mut self,
        symbol: &str,
        params: PerpParams,
    ) -> Result<PerpMarketId, ExchangeError> {
        params.validate()?;
        let id = PerpMarketId(u16::try_from(self.markets.len()).map_err(|_| MathError::Overflow)?);
        self.markets.push(PerpMarket {
            symbol: symbol.to_owned(),
            params: Arc::new(params),
            state: PerpMarketState::default(),
            book: OrderBook::new(),
            index: None,
            last_funding_s: 0,
        });
        Ok(id)
    }

    /// Replaces a market's parameters. The index asset and the decimals are fixed at listing
    /// (positions and the index are counted in them); everything else may change. New tiers
    /// apply to every position at once (the engine then re-evaluates every holder); resting
    /// orders stay as placed even off a new lot or tick.
    ///
    /// # Errors
    /// `UnknownMarket`; `Param` naming the field out of bounds or immutable.
    pub fn update(&mut self, id: PerpMarketId, params: PerpParams) -> Result<(), ExchangeError> {
        params.validate()?;
        let m = self.market(id)?;
        if params.index_asset != m.params.index_asset {
            return Err(crate::asset::ParamError::new(
                "index_asset",
                "fixed at listing",
                params.index_asset.0,
            )
            .into());
        }
        if params.decimals != m.params.decimals {
            return Err(crate::asset::ParamError::new(
                "decimals",
                "fixed at listing",
                u8::from(params.decimals),
            )
            .into());
        }
        self.markets[id.index()].params = Arc::new(params);
        Ok(())
    }

    /// Accepts an index price (the engine's oracle guards decide before calling).
    ///
    /// # Errors
    /// `UnknownMarket`.
    pub fn set_index(&mut self, id: PerpMarketId, index: Price) -> Result<(), ExchangeError> {
        self.market(id)?;
        self.markets[id.index()].index = Some(index);
        Ok(())
    }

    /// Folds the book's mid over the index into the smoothed premium (no book side: nothing).
    ///
    /// # Errors
    /// `UnknownMarket`, `NoIndex`; `Math`.
    pub fn observe(&mut self, id: PerpMarketId) -> Result<(), ExchangeError> {
        let m = self.market(id)?;
        let index = m.index.ok_or(ExchangeError::NoIndex(id))?;
        let (Some(bid), Some(ask)) = m.book.best() else {
            return Ok(());
        };
        // Mid rounded down; premium = mid / index − 1, magnitude rounded toward zero.
        let mid =
            Value::from_raw(bid.raw() / 2 + ask.raw() / 2 + (bid.raw() % 2 + ask.raw() % 2) / 2);
        let ratio = crate::money::SignedRatio::positive(
            mid.ratio_to(Value::from_raw(index.raw()), Rounding::Down)?,
        )?
        .minus(crate::money::Ratio::ONE)?;
        let m = &mut self.markets[id.index()];
        m.state.observe_premium(&m.params.mark, ratio)?;
        Ok(())
    }

    /// Funding ticks due at `now_s`: every market with an index pays one tick per whole
    /// `funding.interval_s` since its last (the first index price starts the clock). At most
    /// `FUNDING_CATCH_UP_MAX` ticks per call, so a long gap cannot make one command unbounded.
    ///
    /// # Errors
    /// `Math`.
    pub fn advance(
        &mut self,
        now_s: u64,
    ) -> Result<Vec<(PerpMarketId, crate::money::SignedRatio)>, ExchangeError> {
        const FUNDING_CATCH_UP_MAX: u32 = 1_000;
        let mut ticks = Vec::new();
        for i in 0..self.markets.len() {
            let id = PerpMarketId(u16::try_from(i).map_err(|_| MathError::Overflow)?);
            let m = &self.markets[i];
            if m.index.is_none() {
                continue;
            }
            if m.last_funding_s == 0 {
                self.markets[i].last_funding_s = now_s;
                continue;
            }
            if now_s < m.last_funding_s {
                continue;
            }
            let interval = m.params.funding.interval_s;
            let mut n = 0;
            while self.markets[i].last_funding_s.saturating_add(interval) <= now_s
                && n < FUNDING_CATCH_UP_MAX
            {
                ticks.push((id, self.fund(id)?));
                self.markets[i].last_funding_s += interval;
                n += 1;
            }
        }
        Ok(ticks)
    }

    /// Starts the funding clock at `now_s` of every market that has an index and no clock yet
    /// (the engine calls it when a price arrives).
    pub fn start_funding(&mut self, now_s: u64) {
        for m in &mut self.markets {
            if m.index.is_some() && m.last_funding_s == 0 {
                m.last_funding_s = now_s;
            }
        }
    }

    /// The markets whose index is `asset`'s price.
    #[must_use]
    pub fn indexed_on(&self, asset: crate::asset::AssetId) -> Vec<PerpMarketId> {
        self.markets
            .iter()
            .enumerate()
            .filter(|(_, m)| m.params.index_asset == asset)
            .map(|(i, _)| PerpMarketId(u16::try_from(i).unwrap_or(u16::MAX)))
            .collect()
    }

    /// A funding tick at the index.
    ///
    /// # Errors
    /// `UnknownMarket`, `NoIndex`; `Math`.
    pub fn fund(&mut self, id: PerpMarketId) -> Result<crate::money::SignedRatio, ExchangeError> {
        let m = self.market(id)?;
        let index = m.index.ok_or(ExchangeError::NoIndex(id))?;
        let m = &mut self.markets[id.index()];
        Ok(m.state.fund(&m.params.funding, index)?)
    }

    /// The snapshot margin reads: every market with an index, at its mark.
    ///
    /// # Errors
    /// `Math`.
    pub fn snapshot(&self) -> Result<PerpSnapshot, ExchangeError> {
        let mut s = PerpSnapshot::new();
        for (i, m) in self.markets.iter().enumerate() {
            let Some(index) = m.index else { continue };
            s.set(
                PerpMarketId(u16::try_from(i).map_err(|_| MathError::Overflow)?),
                PerpRisk {
                    mark: m.state.mark_price(&m.params.mark, index)?,
                    index,
                    cumulative_funding: m.state.cumulative_funding,
                    params: Arc::clone(&m.params),
                    stale: false,
                },
            );
        }
        Ok(s)
    }

    /// Adds `amount` USD of margin to `account`'s cash.
    ///
    /// # Errors
    /// `Math`.
    pub fn deposit(&mut self, account: AccountId, amount: Value) -> Result<(), ExchangeError> {
        let deposits = self.deposits.plus(amount)?;
        let a = self.accounts.entry(account).or_default();
        a.cash = a.cash.plus(amount)?;
        self.deposits = deposits;
        Ok(())
    }

    /// Adds `amount` USD to `market`'s insurance fund (money from outside, counted with the
    /// deposits): the fund pays bankrupt wallets before ADL touches anyone.
    ///
    /// # Errors
    /// `UnknownMarket`; `Math`.
    pub fn fund_insurance(
        &mut self,
        market: PerpMarketId,
        amount: Value,
    ) -> Result<(), ExchangeError> {
        self.market(market)?;
        let deposits = self.deposits.plus(amount)?;
        let state = &mut self.markets[market.index()].state;
        state.insurance_fund = state.insurance_fund.checked_add(amount)?;
        self.deposits = deposits;
        Ok(())
    }

    /// Takes `amount` USD out of `account`'s cash, if it leaves `Ei ≥ IM` (and the cash ≥ 0).
    ///
    /// # Errors
    /// `WithdrawBelowMargin`; `Math`.
    pub fn withdraw(&mut self, account: AccountId, amount: Value) -> Result<(), ExchangeError> {
        let snap = self.snapshot()?;
        let mut a = self.accounts.get(&account).cloned().unwrap_or_default();
        let paid = Self::settle_all(&mut a, &snap)?;
        a.cash = a.cash.minus(amount)?;
        let m = Margin::of(&Account::new(), &a, &RiskSnapshot::new(), &snap)?;
        if a.cash.is_negative() || !m.meets_initial() {
            return Err(ExchangeError::WithdrawBelowMargin { asked: amount });
        }
        self.deposits = self.deposits.minus(amount)?;
        self.book_paid(&paid)?;
        self.accounts.insert(account, a);
        Ok(())
    }

    /// Settles funding of every position of `a` at the snapshot; returns what each market's
    /// pool receives, for the caller to book once the operation is accepted.
    fn settle_all(
        a: &mut PerpAccount,
        snap: &PerpSnapshot,
    ) -> Result<Vec<(PerpMarketId, SignedValue)>, ExchangeError> {
        let markets: Vec<PerpMarketId> = a.positions().iter().map(|p| p.market).collect();
        let mut paid = Vec::with_capacity(markets.len());
        for id in markets {
            let r = snap.get(id)?;
            paid.push((
                id,
                a.settle_funding(id, r.cumulative_funding, r.decimals())?,
            ));
        }
        Ok(paid)
    }

    fn book_paid(&mut self, paid: &[(PerpMarketId, SignedValue)]) -> Result<(), ExchangeError> {
        for &(id, amount) in paid {
            self.markets[id.index()].state.book_funding(amount)?;
        }
        Ok(())
    }

    /// Places an order for `account`. Returns the order's id and what the book did.
    ///
    /// # Errors
    /// Every rule in the module docs, naming the field; nothing changes on a refusal.
    pub fn place(
        &mut self,
        account: AccountId,
        req: OrderRequest,
    ) -> Result<(OrderId, Placed), ExchangeError> {
        let m = self.market(req.market)?;
        let index = m.index.ok_or(ExchangeError::NoIndex(req.market))?;
        let params = Arc::clone(&m.params);
        check_order(
            &params,
            i128::try_from(req.size.raw()).map_err(|_| MathError::Overflow)?,
            req.price.unwrap_or(params.tick_size),
        )?;
        let snap = self.snapshot()?;
        let mut taker = self.accounts.get(&account).cloned().unwrap_or_default();
        let paid = Self::settle_all(&mut taker, &snap)?;
        let held = taker.position(req.market).map_or(0, |p| p.size);
        let sign = if req.side == Side::Bid { 1 } else { -1 };
        let mut size = req.size;
        let reduces = held != 0 && (held > 0) != (sign > 0);
        if req.reduce_only {
            if !reduces {
                return Err(ExchangeError::WouldNotReduce);
            }
            size = size.min(Amount::from_raw(held.unsigned_abs()));
        }
        let q = i128::try_from(size.raw()).map_err(|_| MathError::Overflow)?;
        // A market order is an IOC bounded by the index moved by the slippage tolerance against
        // the taker (price protection): it never fills further from the oracle than that.
        let limit = match req.price {
            Some(p) => p,
            None => {
                let hit = if req.side == Side::Bid {
                    Side::Ask
                } else {
                    Side::Bid
                };
                super::chunk_limit(index, params.slippage_tolerance, hit)?
            }
        };
        if !(reduces && q <= held.abs()) {
            check_open_interest(&params, &m.state, q)?;
            self.check_worst_fill(&taker, &snap, req.market, limit, q * sign)?;
        }
        let id = OrderId(self.next_order);
        let order = Order {
            id,
            owner: account.0,
            side: req.side,
            price: Some(limit),
            size,
            tif: if req.price.is_none() {
                TimeInForce::Ioc
            } else {
                req.tif
            },
        };
        let placed = self.markets[req.market.index()].book.place(order)?;
        self.next_order += 1;
        self.book_paid(&paid)?;
        self.accounts.insert(account, taker);
        for f in &placed.fills {
            self.book_fill(req.market, account, req.side, f)?;
        }
        Ok((id, placed))
    }

    /// Refuses a risk-adding order whose whole size, filled at its limit `price`, would leave
    /// `Ei < IM`.
    fn check_worst_fill(
        &self,
        taker: &PerpAccount,
        snap: &PerpSnapshot,
        market: PerpMarketId,
        price: Price,
        signed: i128,
    ) -> Result<(), ExchangeError> {
        let params = &self.market(market)?.params;
        let notional = Amount::from_raw(signed.unsigned_abs()).value_at(
            price,
            params.decimals,
            Rounding::Up,
        )?;
        let fee = notional.mul_ratio(params.taker_fee, Rounding::Up)?;
        let mut after = taker.clone();
        let cum = snap.get(market)?.cumulative_funding;
        after.trade(
            market,
            Fill {
                size: signed,
                notional,
            },
            fee,
            cum,
        )?;
        let m = Margin::of(&Account::new(), &after, &RiskSnapshot::new(), snap)?;
        super::check_margin(
            taker.position(market).map_or(0, |p| p.size),
            after.position(market).map_or(0, |p| p.size),
            &m,
        )?;
        Ok(())
    }

    /// Books one fill on the taker and the maker, with their fees and open interest.
    fn book_fill(
        &mut self,
        id: PerpMarketId,
        taker: AccountId,
        side: Side,
        f: &super::Match,
    ) -> Result<(), ExchangeError> {
        let snap_cum = self.markets[id.index()].state.cumulative_funding;
        let params = Arc::clone(&self.markets[id.index()].params);
        let notional = f.size.value_at(f.price, params.decimals, Rounding::Down)?;
        let taker_fee = notional.mul_ratio(params.taker_fee, Rounding::Up)?;
        let maker_fee = notional.mul_ratio(params.maker_fee, Rounding::Up)?;
        let q = i128::try_from(f.size.raw()).map_err(|_| MathError::Overflow)?;
        let q = if side == Side::Bid { q } else { -q };
        let maker_id = AccountId(f.maker_owner);
        let mut oi = 0;
        for (who, size, fee) in [(taker, q, taker_fee), (maker_id, -q, maker_fee)] {
            let a = self.accounts.entry(who).or_default();
            let paid = a.settle_funding(id, snap_cum, params.decimals)?;
            let before = a.position(id).map_or(0, |p| p.size);
            a.trade(id, Fill { size, notional }, fee, snap_cum)?;
            oi += open_interest_change(before, a.position(id).map_or(0, |p| p.size));
            let state = &mut self.markets[id.index()].state;
            state.book_funding(paid)?;
            state.fees = state.fees.checked_add(fee)?;
        }
        let state = &mut self.markets[id.index()].state;
        let now = state.open_interest.raw();
        let after = if oi >= 0 {
            now.checked_add(oi.unsigned_abs())
        } else {
            now.checked_sub(oi.unsigned_abs())
        };
        state.open_interest = Amount::from_raw(after.ok_or(MathError::Overflow)?);
        Ok(())
    }

    /// Cancels `account`'s resting order.
    ///
    /// # Errors
    /// `UnknownMarket`, `NotYourOrder`.
    pub fn cancel(
        &mut self,
        account: AccountId,
        market: PerpMarketId,
        order: OrderId,
    ) -> Result<(), ExchangeError> {
        let m = self.market(market)?;
        if m.book.order(order).is_none_or(|r| r.owner != account.0) {
            return Err(ExchangeError::NotYourOrder(order));
        }
        self.markets[market.index()].book.cancel(order)?;
        Ok(())
    }

    /// One liquidation step on `account`'s cross margin, run by `liquidator` (who receives the
    /// liquidator's share of each chunk's fee): the account's resting orders are cancelled, a
    /// soft round sends its chunks to the books as IOC orders within the tolerance (the makers
    /// they hit are booked with their fees), and the backstop takes the rest to the vault at the
    /// mark when the account is below `backstop_line · MM` or the books absorbed nothing for
    /// `empty_rounds_max` rounds — with the insurance fund and ADL behind it.
    ///
    /// With `take_backstop`, the liquidator offers to take the backstopped positions itself, at
    /// the mark and with the margin the vault would have kept (at most their MM): it gets them
    /// when the account's wallet covers the transfer (no insurance, ADL or bad debt) and its own
    /// wallet still meets its initial margin afterwards; otherwise the vault takes them as
    /// without the offer. A keeper that can unwind within the MM profits; the protocol's vault
    /// carries less risk.
    ///
    /// # Errors
    /// `Perp(NotLiquidatable)` for an account neither below its line nor being unwound; a
    /// market without an index. Nothing changes on a refusal.
    pub fn liquidate(
        &mut self,
        account: AccountId,
        liquidator: AccountId,
        take_backstop: bool,
    ) -> Result<Liquidation, ExchangeError> {
        let snap = self.snapshot()?;
        if !self.liquidatable(account, &snap)? {
            return Err(PerpError::NotLiquidatable.into());
        }
        let started = self.is_unwinding(account);
        let mut a = self.accounts.get(&account).cloned().unwrap_or_default();
        let paid = Self::settle_all(&mut a, &snap)?;
        self.book_paid(&paid)?;
        let mut out = Liquidation {
            cancelled: self.cancel_all(account),
            ..Liquidation::default()
        };
        let mut states: Vec<PerpMarketState> = self.markets.iter().map(|m| m.state).collect();
        let mut view = BookView {
            markets: &self.markets,
            built: None,
        };
        let round = super::unwind_round(
            super::Mode::Soft { started },
            super::Scope::Cross,
            &Account::new(),
            &mut a,
            &RiskSnapshot::new(),
            &snap,
            &mut states,
            &mut view,
        )?;
        for (m, st) in self.markets.iter_mut().zip(states) {
            m.state = st;
        }
        self.accounts.insert(account, a);
        for c in &round.chunks {
            for maker in self.fill_chunk(account, c)? {
                if !out.makers.contains(&maker) {
                    out.makers.push(maker);
                }
            }
            let l = self.accounts.entry(liquidator).or_default();
            l.cash = l.cash.plus(c.fee_to_liquidator)?;
        }
        let mut u = self.unwinding.get(&account).copied().unwrap_or_default();
        u.empty_rounds = if round.chunks.is_empty() {
            u.empty_rounds + 1
        } else {
            0
        };
        let a = &self.accounts[&account];
        let after = super::Exposure::of(
            super::Scope::Cross,
            &Account::new(),
            a,
            &RiskSnapshot::new(),
            &snap,
        )?;
        let (line, empty_max) =
            a.positions()
                .first()
                .map_or((crate::money::Ratio::ZERO, u32::MAX), |p| {
                    let q = &self.markets[p.market.index()].params;
                    (q.backstop_line, q.empty_rounds_max)
                });
        if !a.is_flat()
            && ((after.is_liquidatable() && after.below_line(line)) || u.empty_rounds >= empty_max)
        {
            let taken = if take_backstop && liquidator != account && liquidator != VAULT {
                self.take_over(account, liquidator, &snap)?
            } else {
                None
            };
            if let Some(backstop) = taken {
                out.backstop = Some(backstop);
                out.taker = Some(liquidator);
            } else {
                let (backstop, adl_accounts) = self.backstop(account, &snap)?;
                out.backstop = Some(backstop);
                out.adl_accounts = adl_accounts;
                out.taker = Some(VAULT);
            }
            self.unwinding.remove(&account);
        } else if round.done || a.is_flat() {
            self.unwinding.remove(&account);
        } else {
            self.unwinding.insert(account, u);
        }
        out.round = round;
        Ok(out)
    }

    /// Cancels every resting order of `account`.
    fn cancel_all(&mut self, account: AccountId) -> Vec<OrderId> {
        let mut out = Vec::new();
        for m in &mut self.markets {
            for id in m.book.orders_of(account.0) {
                if m.book.cancel(id).is_ok() {
                    out.push(id);
                }
            }
        }
        out
    }

    /// Replays a chunk the round planned on a view of the book as an IOC order at the chunk's
    /// limit (it meets the same levels), books each maker's side — its notional rounded down,
    /// the last maker taking what makes the makers' total the chunk's — and their fees.
    /// Returns the makers, one per fill.
    fn fill_chunk(
        &mut self,
        account: AccountId,
        c: &super::ChunkFill,
    ) -> Result<Vec<AccountId>, ExchangeError> {
        let id = c.market;
        let order = Order {
            id: OrderId(self.next_order),
            owner: account.0,
            side: if c.size > 0 { Side::Bid } else { Side::Ask },
            price: Some(c.limit),
            size: Amount::from_raw(c.size.unsigned_abs()),
            tif: TimeInForce::Ioc,
        };
        self.next_order += 1;
        let placed = self.markets[id.index()].book.place(order)?;
        let params = Arc::clone(&self.markets[id.index()].params);
        let cum = self.markets[id.index()].state.cumulative_funding;
        let mut left = c.notional;
        let n = placed.fills.len();
        let mut filled = 0u128;
        for (k, f) in placed.fills.iter().enumerate() {
            let notional = if k + 1 == n {
                left
            } else {
                f.size
                    .value_at(f.price, params.decimals, Rounding::Down)?
                    .min(left)
            };
            left = left.checked_sub(notional)?;
            filled += f.size.raw();
            let q = i128::try_from(f.size.raw()).map_err(|_| MathError::Overflow)?;
            let maker_size = if c.size > 0 { -q } else { q };
            let fee = notional.mul_ratio(params.maker_fee, Rounding::Up)?;
            let maker = self.accounts.entry(AccountId(f.maker_owner)).or_default();
            let paid = maker.settle_funding(id, cum, params.decimals)?;
            maker.trade(
                id,
                Fill {
                    size: maker_size,
                    notional,
                },
                fee,
                cum,
            )?;
            let state = &mut self.markets[id.index()].state;
            state.book_funding(paid)?;
            state.fees = state.fees.checked_add(fee)?;
        }
        if filled != c.size.unsigned_abs() || !left.is_zero() {
            return Err(PerpError::Math(MathError::Negative).into());
        }
        self.recount_open_interest(id);
        Ok(placed
            .fills
            .iter()
            .map(|f| AccountId(f.maker_owner))
            .collect())
    }

    /// The backstop on `account` with `liquidator` in the vault's place, tried on copies and
    /// kept only when no insurance, ADL or bad debt was needed and the liquidator's wallet
    /// meets its initial margin with the positions taken. `None` leaves everything unchanged.
    fn take_over(
        &mut self,
        account: AccountId,
        liquidator: AccountId,
        snap: &PerpSnapshot,
    ) -> Result<Option<super::Backstop>, ExchangeError> {
        let mut trader = self.accounts.get(&account).cloned().unwrap_or_default();
        let mut taker = self.accounts.get(&liquidator).cloned().unwrap_or_default();
        let mut states: Vec<PerpMarketState> = self.markets.iter().map(|m| m.state).collect();
        let out = super::backstop(
            super::Scope::Cross,
            &mut trader,
            Value::ZERO,
            snap,
            &mut states,
            &mut taker,
            &mut [],
        )?;
        let covered = out.insurance_paid.is_zero() && out.adl.is_empty() && out.bad_debt.is_zero();
        let m = Margin::of(&Account::new(), &taker, &RiskSnapshot::new(), snap)?;
        if !covered || taker.cash.is_negative() || !m.meets_initial() {
            return Ok(None);
        }
        self.accounts.insert(account, trader);
        self.accounts.insert(liquidator, taker);
        for (m, st) in self.markets.iter_mut().zip(states) {
            m.state = st;
        }
        for t in &out.transfers {
            self.recount_open_interest(t.market);
        }
        Ok(Some(out))
    }

    /// The backstop on `account`: the vault at the mark, insurance, then ADL against every other
    /// account (the core ranks them). Returns the outcome and each ADL fill's counterparty.
    fn backstop(
        &mut self,
        account: AccountId,
        snap: &PerpSnapshot,
    ) -> Result<(super::Backstop, Vec<AccountId>), ExchangeError> {
        let mut bankrupt = self.accounts.remove(&account).unwrap_or_default();
        let mut vault = self.accounts.remove(&VAULT).unwrap_or_default();
        let mut states: Vec<PerpMarketState> = self.markets.iter().map(|m| m.state).collect();
        // Counterparties matter only when the fund cannot cover the deficit (ADL): otherwise
        // none are gathered, so a backstop does not walk every wallet.
        let e = super::Exposure::of(
            super::Scope::Cross,
            &Account::new(),
            &bankrupt,
            &RiskSnapshot::new(),
            snap,
        )?;
        let fund: Value = bankrupt
            .positions()
            .iter()
            .map(|p| states[p.market.index()].insurance_fund)
            .fold(Value::ZERO, Value::saturating_add);
        let needs_adl = e.equity.negative_part() > fund;
        let ids: Vec<AccountId> = if needs_adl {
            self.accounts.keys().copied().collect()
        } else {
            Vec::new()
        };
        let result = {
            let mut others: Vec<&mut PerpAccount> = if needs_adl {
                self.accounts.values_mut().collect()
            } else {
                Vec::new()
            };
            super::backstop(
                super::Scope::Cross,
                &mut bankrupt,
                Value::ZERO,
                snap,
                &mut states,
                &mut vault,
                &mut others,
            )
        };
        self.accounts.insert(account, bankrupt);
        self.accounts.insert(VAULT, vault);
        let result = result?;
        for (m, st) in self.markets.iter_mut().zip(states) {
            m.state = st;
        }
        for i in 0..self.markets.len() {
            self.recount_open_interest(PerpMarketId(
                u16::try_from(i).map_err(|_| MathError::Overflow)?,
            ));
        }
        let adl = result.adl.iter().map(|f| ids[f.counterparty]).collect();
        Ok((result, adl))
    }

    /// Open interest from the wallets (after a liquidation step moved positions between many).
    fn recount_open_interest(&mut self, id: PerpMarketId) {
        let longs = self
            .accounts
            .values()
            .filter_map(|a| a.position(id))
            .map(|p| p.size.max(0).unsigned_abs())
            .fold(0u128, u128::saturating_add);
        self.markets[id.index()].state.open_interest = Amount::from_raw(longs);
    }

    /// Every invariant: value conserved (quotes + fees + insurance + funding pools − bad debt =
    /// deposits), sizes net to zero per market, open interest equal to the longs, every book
    /// sound.
    ///
    /// # Errors
    /// What is broken, in words.
    pub fn check(&self) -> Result<(), String> {
        let mut total = SignedValue::ZERO;
        let mut net = vec![0i128; self.markets.len()];
        let mut longs = vec![0u128; self.markets.len()];
        for a in self.accounts.values() {
            total = total
                .checked_add(a.quote().map_err(|e| e.to_string())?)
                .map_err(|e| e.to_string())?;
            for p in a.positions() {
                net[p.market.index()] += p.size;
                longs[p.market.index()] += u128::try_from(p.size.max(0)).unwrap_or(0);
            }
        }
        for (i, m) in self.markets.iter().enumerate() {
            let s = &m.state;
            total = total
                .plus(s.fees)
                .and_then(|t| t.plus(s.insurance_fund))
                .and_then(|t| t.checked_add(s.funding_pool))
                .and_then(|t| t.minus(s.bad_debt))
                .map_err(|e| e.to_string())?;
            if net[i] != 0 {
                return Err(format!("{}: sizes net to {} base units", m.symbol, net[i]));
            }
            if s.open_interest.raw() != longs[i] {
                return Err(format!(
                    "{}: open interest {} != longs {}",
                    m.symbol, s.open_interest, longs[i]
                ));
            }
            m.book.check().map_err(|e| format!("{}: {e}", m.symbol))?;
        }
        if total != self.deposits {
            return Err(format!(
                "conservation: {total} held against {} deposited",
                self.deposits
            ));
        }
        Ok(())
    }
}

/// The books as a liquidation round plans against them: each side whole, as a [`BookSide`]
/// copy; the round's chunks are then replayed on the real books.
struct BookView<'a> {
    markets: &'a [PerpMarket],
    built: Option<super::BookSide>,
}

impl super::Books for BookView<'_> {
    fn side_for(&mut self, market: PerpMarketId, hit: Side) -> Option<&mut super::BookSide> {
        let m = self.markets.get(market.index())?;
        let side = super::BookSide::new(hit, m.book.levels(hit, usize::MAX));
        self.built = Some(side);
        self.built.as_mut()
    }
}
