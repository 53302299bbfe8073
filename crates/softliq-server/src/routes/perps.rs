//! Perpetual markets over HTTP: listing (admin), margin in and out, orders and cancels
//! (account, liquidator, maker), liquidation steps (liquidator), and the reads a trader, a
//! market maker and a risk desk need — markets with mark, index, funding and open interest,
//! book levels, a wallet's positions with uPnL, margin and liquidation prices, the liquidation
//! queue, the ADL ranking. Every figure is the core's, computed on the read view from one
//! consistent state; the perp events reach the SSE stream like every other event.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use serde::Deserialize;
use softliq_core::account::{Account, AccountId};
use softliq_core::health::RiskSnapshot;
use softliq_core::money::{Amount, Price, Ratio, SignedValue};
use softliq_core::perp::{
    Margin, OrderRequest, PerpAccount, PerpMarketId, PerpParams, PerpSnapshot, PositionMargin,
    Scope, Side, TimeInForce, adl_ranking, mark_liquidation_price,
};
use softliq_engine::{CommandBody, Engine};
use utoipa::IntoParams;

use super::commands::{error_responses, path_id, require_owner, run};
use crate::app::AppState;
use crate::auth::{Principal, Role};
use crate::error::ApiError;
use crate::json::{ApiJson, ApiQuery};
use crate::names::Resolve;
use crate::paging::{HealthKey, page};
use softliq_api::commands::CommandOutcome;
use softliq_api::error::ErrorBody;
use softliq_api::names::Named;
use softliq_api::perps::{
    AdlRow, AdlView, BookView, CancelOrderRequest, LevelView, ListPerpRequest, OrderSide, OrderTif,
    PerpLiquidateRequest, PerpMarketView, PerpMarketsView, PerpPositionView, PerpQueueRow,
    PerpQueueView, PerpWalletView, PlaceOrderRequest, RestingOrderView, UpdatePerpRequest,
    UsdRequest,
};

type Shared = State<Arc<AppState>>;

/// The roles that trade: an account holder, a liquidator, a market maker.
const TRADERS: [Role; 3] = [Role::Account, Role::Liquidator, Role::Maker];

/// Perp parameters from a body's `params`, with `index_asset` given by id or symbol.
async fn perp_params(
    state: &AppState,
    mut params: serde_json::Value,
) -> Result<PerpParams, ApiError> {
    let field = "params.index_asset";
    if let Some(index) = params.get_mut("index_asset") {
        let named: Named = crate::json::from_value(index.take(), field)?;
        *index = serde_json::Value::from(named.asset(state, field).await?.0);
    }
    crate::json::from_value(params, "params")
}

/// A signed size in base units as decimal contracts (`-0.25` for a short).
fn contracts(size: i128, decimals: softliq_core::money::Decimals) -> String {
    let sign = if size < 0 { "-" } else { "" };
    format!(
        "{sign}{}",
        Amount::from_raw(size.unsigned_abs()).display_tokens(decimals)
    )
}

/// The listed market `market`, or 404 naming `market`.
fn listed(
    s: &softliq_engine::State,
    market: PerpMarketId,
) -> Result<&softliq_core::perp::PerpMarket, ApiError> {
    s.perps
        .markets()
        .get(market.index())
        .ok_or_else(|| ApiError::not_found("market", format!("no perp market {}", market.0)))
}

/// A count from the query: 20 when absent, else 1 to [`DEPTH_MAX`], or 422 naming `field`.
fn count(field: &str, value: Option<usize>) -> Result<usize, ApiError> {
    let n = value.unwrap_or(20);
    if (1..=DEPTH_MAX).contains(&n) {
        Ok(n)
    } else {
        Err(ApiError::unprocessable(
            "invalid_query",
            field,
            format!("between 1 and {DEPTH_MAX}, got {n}"),
        ))
    }
}

/// List a perpetual market (admin).
#[utoipa::path(post, path = "/v1/perps", tag = "perps", request_body = ListPerpRequest,
    security(("bearer" = [])),
    responses((status = 200, body = CommandOutcome), (status = "4XX", body = ErrorBody, description = error_responses!())))]
pub async fn list_perp(
    State(state): Shared,
    principal: Principal,
    headers: HeaderMap,
    ApiJson(req): ApiJson<ListPerpRequest>,
) -> Result<Json<CommandOutcome>, ApiError> {
    principal.require("Authorization", &[Role::Admin])?;
    let body = CommandBody::ListPerpMarket {
        symbol: req.symbol,
        params: perp_params(&state, req.params).await?,
    };
    run(&state, &principal, &headers, body).await
}

/// Replace a perp market's parameters (admin); every holder is re-evaluated at once.
#[utoipa::path(post, path = "/v1/perps/{market}/params", tag = "perps", request_body = UpdatePerpRequest,
    params(("market" = String, Path, description = "perp market id or symbol")), security(("bearer" = [])),
    responses((status = 200, body = CommandOutcome), (status = "4XX", body = ErrorBody, description = error_responses!())))]
pub async fn update_perp(
    State(state): Shared,
    principal: Principal,
    Path(market): Path<String>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<UpdatePerpRequest>,
) -> Result<Json<CommandOutcome>, ApiError> {
    principal.require("Authorization", &[Role::Admin])?;
    let body = CommandBody::UpdatePerpMarket {
        market: Named::market_in_path(&state, "market", &market).await?,
        params: perp_params(&state, req.params).await?,
    };
    run(&state, &principal, &headers, body).await
}

/// Add USD to a perp market's insurance fund (admin): it pays bankrupt wallets before ADL.
#[utoipa::path(post, path = "/v1/perps/{market}/insurance", tag = "perps", request_body = UsdRequest,
    params(("market" = String, Path, description = "perp market id or symbol")), security(("bearer" = [])),
    responses((status = 200, body = CommandOutcome), (status = "4XX", body = ErrorBody, description = error_responses!())))]
pub async fn fund_perp_insurance(
    State(state): Shared,
    principal: Principal,
    Path(market): Path<String>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<UsdRequest>,
) -> Result<Json<CommandOutcome>, ApiError> {
    principal.require("Authorization", &[Role::Admin])?;
    let body = CommandBody::FundPerpInsurance {
        market: Named::market_in_path(&state, "market", &market).await?,
        amount: req.amount,
    };
    run(&state, &principal, &headers, body).await
}

macro_rules! perp_cash_endpoint {
    ($name:ident, $variant:ident, $path:literal, $doc:literal) => {
        #[doc = $doc]
        #[utoipa::path(post, path = $path, tag = "perps", request_body = UsdRequest,
            params(("id" = u64, Path, description = "account id")), security(("bearer" = [])),
            responses((status = 200, body = CommandOutcome), (status = "4XX", body = ErrorBody, description = error_responses!())))]
        pub async fn $name(
            State(state): Shared,
            principal: Principal,
            Path(id): Path<String>,
            headers: HeaderMap,
            ApiJson(req): ApiJson<UsdRequest>,
        ) -> Result<Json<CommandOutcome>, ApiError> {
            principal.require("Authorization", &TRADERS)?;
            let account: u64 = path_id("id", &id)?;
            require_owner(&state, &principal, "id", account).await?;
            let body = CommandBody::$variant {
                account: AccountId(account),
                amount: req.amount,
            };
            run(&state, &principal, &headers, body).await
        }
    };
}

perp_cash_endpoint!(
    perp_deposit,
    PerpDeposit,
    "/v1/accounts/{id}/perp/deposit",
    "Add USD margin to the perp wallet of an account you own."
);
perp_cash_endpoint!(
    perp_withdraw,
    PerpWithdraw,
    "/v1/accounts/{id}/perp/withdraw",
    "Take USD margin out of the perp wallet of an account you own (initial margin must still be met)."
);

/// Place an order (account, liquidator, maker; a maker's must be post-only).
#[utoipa::path(post, path = "/v1/perps/{market}/orders", tag = "perps", request_body = PlaceOrderRequest,
    params(("market" = String, Path, description = "perp market id or symbol")), security(("bearer" = [])),
    responses((status = 200, body = CommandOutcome), (status = "4XX", body = ErrorBody, description = error_responses!())))]
pub async fn place_order(
    State(state): Shared,
    principal: Principal,
    Path(market): Path<String>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<PlaceOrderRequest>,
) -> Result<Json<CommandOutcome>, ApiError> {
    principal.require("Authorization", &TRADERS)?;
    let market = Named::market_in_path(&state, "market", &market).await?;
    let tif = match (req.price.is_some(), req.tif) {
        (false, None | Some(OrderTif::Ioc)) => TimeInForce::Ioc,
        (false, Some(_)) => {
            return Err(ApiError::unprocessable(
                "invalid_order",
                "tif",
                "a market order (no price) is immediate-or-cancel",
            ));
        }
        (true, None | Some(OrderTif::Gtc)) => TimeInForce::Gtc,
        (true, Some(OrderTif::Ioc)) => TimeInForce::Ioc,
        (true, Some(OrderTif::PostOnly)) => TimeInForce::PostOnly,
    };
    if principal.role == Role::Maker && tif != TimeInForce::PostOnly {
        return Err(ApiError::forbidden(
            "tif",
            "a maker token may only place post_only orders",
        ));
    }
    require_owner(&state, &principal, "account", req.account).await?;
    let decimals = state
        .read(move |e| listed(e.state(), market).map(|m| m.params.decimals))
        .await??;
    let invalid = |e: softliq_core::money::ParseError| {
        ApiError::unprocessable("invalid_amount", &e.field.clone(), e.to_string())
    };
    let size = Amount::parse_tokens("size", &req.size, decimals).map_err(invalid)?;
    let price = req
        .price
        .as_deref()
        .map(|p| Price::parse("price", p))
        .transpose()
        .map_err(invalid)?;
    let body = CommandBody::PlaceOrder {
        account: AccountId(req.account),
        order: OrderRequest {
            market,
            side: match req.side {
                OrderSide::Buy => Side::Bid,
                OrderSide::Sell => Side::Ask,
            },
            price,
            size,
            tif,
            reduce_only: req.reduce_only,
        },
    };
    run(&state, &principal, &headers, body).await
}

/// Cancel a resting order of an account you own (account, liquidator, maker).
#[utoipa::path(post, path = "/v1/perps/{market}/orders/{order}/cancel", tag = "perps", request_body = CancelOrderRequest,
    params(("market" = String, Path, description = "perp market id or symbol"), ("order" = u64, Path, description = "order id")),
    security(("bearer" = [])),
    responses((status = 200, body = CommandOutcome), (status = "4XX", body = ErrorBody, description = error_responses!())))]
pub async fn cancel_order(
    State(state): Shared,
    principal: Principal,
    Path((market, order)): Path<(String, String)>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<CancelOrderRequest>,
) -> Result<Json<CommandOutcome>, ApiError> {
    principal.require("Authorization", &TRADERS)?;
    let market = Named::market_in_path(&state, "market", &market).await?;
    let order = softliq_core::perp::OrderId(path_id("order", &order)?);
    require_owner(&state, &principal, "account", req.account).await?;
    let body = CommandBody::CancelOrder {
        account: AccountId(req.account),
        market,
        order,
    };
    run(&state, &principal, &headers, body).await
}

/// Run one liquidation step on a flagged perp wallet (liquidator): a soft round of chunks sent
/// to the books within the tolerance, or the backstop when the wallet is past its line or the
/// books stayed empty. The liquidator's share of the fees goes to `liquidator`.
#[utoipa::path(post, path = "/v1/perps/liquidations", tag = "perps", request_body = PerpLiquidateRequest,
    security(("bearer" = [])),
    responses((status = 200, body = CommandOutcome), (status = "4XX", body = ErrorBody, description = error_responses!())))]
pub async fn perp_liquidate(
    State(state): Shared,
    principal: Principal,
    headers: HeaderMap,
    ApiJson(req): ApiJson<PerpLiquidateRequest>,
) -> Result<Json<CommandOutcome>, ApiError> {
    principal.require("Authorization", &[Role::Liquidator])?;
    require_owner(&state, &principal, "liquidator", req.liquidator).await?;
    let body = CommandBody::PerpLiquidate {
        liquidator: AccountId(req.liquidator),
        account: AccountId(req.account),
        take_backstop: req.take_backstop,
    };
    run(&state, &principal, &headers, body).await
}

fn perp_markets_of(engine: &Engine) -> Result<PerpMarketsView, String> {
    let state = engine.state();
    let perps = &state.perps;
    let snap = perps.snapshot().map_err(|e| e.to_string())?;
    let mut markets = Vec::new();
    for (i, m) in perps.markets().iter().enumerate() {
        let id = PerpMarketId(u16::try_from(i).map_err(|e| e.to_string())?);
        let mark = snap.get(id).ok().map(|r| r.mark);
        let (bid, ask) = m.book.best();
        let p = &m.params;
        let oi_usd = mark
            .map(|x| {
                m.state
                    .open_interest
                    .value_at(x, p.decimals, softliq_core::money::Rounding::Down)
            })
            .transpose()
            .map_err(|e| e.to_string())?;
        markets.push(PerpMarketView {
            market: id.0,
            symbol: m.symbol.clone(),
            index_asset: p.index_asset.0,
            index: m.index.map(|x| x.to_string()),
            mark: mark.map(|x| x.to_string()),
            premium: m.state.premium_ema.to_string(),
            next_funding_rate: m
                .state
                .next_rate(&p.funding)
                .map_err(|e| e.to_string())?
                .to_string(),
            next_funding_s: (m.last_funding_s > 0)
                .then(|| m.last_funding_s.saturating_add(p.funding.interval_s)),
            cumulative_funding: m.state.cumulative_funding.to_string(),
            open_interest: m.state.open_interest.display_tokens(p.decimals).to_string(),
            open_interest_usd: oi_usd.map(|v| v.to_string()),
            best_bid: bid.map(|x| x.to_string()),
            best_ask: ask.map(|x| x.to_string()),
            taker_fee: p.taker_fee.to_string(),
            maker_fee: p.maker_fee.to_string(),
            tick_size: p.tick_size.to_string(),
            lot_size: p.lot_size.display_tokens(p.decimals).to_string(),
            fees: m.state.fees.to_string(),
            insurance_fund: m.state.insurance_fund.to_string(),
            funding_pool: m.state.funding_pool.to_string(),
            bad_debt: m.state.bad_debt.to_string(),
        });
    }
    Ok(PerpMarketsView {
        seq: state.seq,
        now_s: state.now_s,
        markets,
        flagged: state.perp_flagged.len(),
    })
}

/// Every perp market with its index, mark, funding, open interest and funds.
#[utoipa::path(get, path = "/v1/perps", tag = "perps", responses((status = 200, body = PerpMarketsView)))]
pub async fn perp_markets(State(state): Shared) -> Result<Json<PerpMarketsView>, ApiError> {
    state
        .read(perp_markets_of)
        .await?
        .map(Json)
        .map_err(ApiError::unavailable)
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DepthQuery {
    /// Price levels per side (1–500, default 20).
    pub depth: Option<usize>,
}

/// Most levels per side a book read returns.
const DEPTH_MAX: usize = 500;

/// The book's price levels, best first (aggregated per price).
#[utoipa::path(get, path = "/v1/perps/{market}/book", tag = "perps", params(("market" = String, Path, description = "perp market id or symbol"), DepthQuery),
    responses((status = 200, body = BookView), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn book(
    State(state): Shared,
    Path(market): Path<String>,
    ApiQuery(q): ApiQuery<DepthQuery>,
) -> Result<Json<BookView>, ApiError> {
    let market = Named::market_in_path(&state, "market", &market).await?;
    let depth = count("depth", q.depth)?;
    state
        .read(move |e| {
            let s = e.state();
            let m = listed(s, market)?;
            let d = m.params.decimals;
            let side = |side| {
                m.book
                    .levels(side, depth)
                    .into_iter()
                    .map(|l| LevelView {
                        price: l.price.to_string(),
                        size: l.size.display_tokens(d).to_string(),
                    })
                    .collect()
            };
            Ok(BookView {
                market: market.0,
                seq: s.seq,
                bids: side(Side::Bid),
                asks: side(Side::Ask),
            })
        })
        .await?
        .map(Json)
}

fn position_view(
    engine: &Engine,
    wallet: &PerpAccount,
    snap: &PerpSnapshot,
    p: &softliq_core::perp::PerpPosition,
) -> Result<PerpPositionView, String> {
    let m = &engine.state().perps.markets()[p.market.index()];
    let r = snap.get(p.market).map_err(|e| e.to_string())?;
    let pm = PositionMargin::of(p, r).map_err(|e| e.to_string())?;
    let crossing = mark_liquidation_price(
        Scope::Cross,
        &Account::new(),
        wallet,
        &RiskSnapshot::new(),
        snap,
        p.market,
    )
    .map_err(|e| e.to_string())?;
    let liquidation = if p.size > 0 {
        crossing.down
    } else {
        crossing.up
    };
    Ok(PerpPositionView {
        market: p.market.0,
        symbol: m.symbol.clone(),
        size: contracts(p.size, m.params.decimals),
        entry_price: p.entry_price(m.params.decimals).map(|x| x.to_string()),
        mark: r.mark.to_string(),
        notional: pm.notional.to_string(),
        unrealised_pnl: pm.pnl().map_err(|e| e.to_string())?.to_string(),
        funding_owed: pm.funding_owed.to_string(),
        initial_margin: pm.initial.to_string(),
        maintenance_margin: pm.maintenance.to_string(),
        liquidation_price: liquidation.map(|x| x.to_string()),
    })
}

fn wallet_of(engine: &Engine, id: AccountId) -> Result<PerpWalletView, String> {
    let state = engine.state();
    let perps = &state.perps;
    let snap = perps.snapshot().map_err(|e| e.to_string())?;
    let empty = PerpAccount::new();
    let wallet = perps.account(id).unwrap_or(&empty);
    let margin = Margin::of(&Account::new(), wallet, &RiskSnapshot::new(), &snap)
        .map_err(|e| e.to_string())?;
    let mut positions = Vec::new();
    for p in wallet.positions().iter().filter(|p| p.size != 0) {
        positions.push(position_view(engine, wallet, &snap, p)?);
    }
    let mut orders = Vec::new();
    for (i, m) in perps.markets().iter().enumerate() {
        for oid in m.book.orders_of(id.0) {
            if let Some(o) = m.book.order(oid) {
                orders.push(RestingOrderView {
                    market: u16::try_from(i).unwrap_or(u16::MAX),
                    order: oid.0,
                    side: if o.side == Side::Bid {
                        OrderSide::Buy
                    } else {
                        OrderSide::Sell
                    },
                    price: o.price.to_string(),
                    size: o.size.display_tokens(m.params.decimals).to_string(),
                });
            }
        }
    }
    Ok(PerpWalletView {
        account: id.0,
        cash: wallet.cash.to_string(),
        equity: margin.perp_equity.to_string(),
        initial_margin: margin.initial().map_err(|e| e.to_string())?.to_string(),
        maintenance_margin: margin.maintenance.to_string(),
        health_factor: margin.health_factor().map(|h| h.to_string()),
        flagged: state.perp_flagged.contains(&id),
        unwinding: perps.is_unwinding(id),
        positions,
        orders,
    })
}

/// An account's perp wallet: cash, equity, margin, health, positions with uPnL and liquidation
/// prices, resting orders.
#[utoipa::path(get, path = "/v1/accounts/{id}/perp", tag = "perps",
    params(("id" = u64, Path, description = "account id")),
    responses((status = 200, body = PerpWalletView), (status = 404, body = ErrorBody)))]
pub async fn wallet(
    State(state): Shared,
    Path(id): Path<String>,
) -> Result<Json<PerpWalletView>, ApiError> {
    let id = AccountId(path_id("id", &id)?);
    state
        .read(move |e| {
            if e.state().account(id).is_none() {
                return Err(ApiError::not_found("id", format!("no account {}", id.0)));
            }
            wallet_of(e, id).map_err(ApiError::unavailable)
        })
        .await?
        .map(Json)
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Most rows (1–1000, default 100).
    pub limit: Option<usize>,
    /// The previous page's `next`: list the rows after it.
    pub after: Option<String>,
}

/// The perp liquidation queue: every flagged wallet, lowest health first.
#[utoipa::path(get, path = "/v1/perps/liquidations", tag = "perps", params(ListQuery),
    responses((status = 200, body = PerpQueueView), (status = 422, body = ErrorBody)))]
pub async fn queue(
    State(state): Shared,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<PerpQueueView>, ApiError> {
    let limit = crate::paging::limit(q.limit, 100)?;
    let after = q.after.as_deref().map(HealthKey::parse).transpose()?;
    state
        .read(move |e| {
            let s = e.state();
            let snap = s.perps.snapshot().map_err(|e| e.to_string())?;
            let mut rows = Vec::new();
            for &id in &s.perp_flagged {
                let Some(w) = s.perps.account(id) else {
                    continue;
                };
                let m = Margin::of(&Account::new(), w, &RiskSnapshot::new(), &snap)
                    .map_err(|e| e.to_string())?;
                rows.push((
                    m.health_factor(),
                    PerpQueueRow {
                        account: id.0,
                        equity: m.perp_equity.to_string(),
                        maintenance_margin: m.maintenance.to_string(),
                        health_factor: m.health_factor().map(|h| h.to_string()),
                        unwinding: s.perps.is_unwinding(id),
                        notional: m.notional.to_string(),
                    },
                ));
            }
            let key = |(hf, r): &(Option<Ratio>, PerpQueueRow)| HealthKey::new(*hf, r.account);
            rows.sort_by_key(key);
            let total = rows.len();
            let (rows, next) = page(rows, key, after, limit);
            Ok::<_, String>(PerpQueueView {
                seq: s.seq,
                total,
                accounts: rows.into_iter().map(|(_, r)| r).collect(),
                next: next.map(|k| k.cursor()),
            })
        })
        .await?
        .map(Json)
        .map_err(ApiError::unavailable)
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AdlQuery {
    /// Most accounts per side (1–500, default 20).
    pub limit: Option<usize>,
    /// The previous page's `next`: list both sides from the rank after it. The ranking moves
    /// with the mark, so the rank is of the ranking at the time of each request.
    pub after: Option<usize>,
}

/// The ADL ranking of a market (profit share × leverage, best first): who is closed first
/// against a bankrupt position the insurance fund cannot cover.
#[utoipa::path(get, path = "/v1/perps/{market}/adl", tag = "perps",
    params(("market" = String, Path, description = "perp market id or symbol"), AdlQuery),
    responses((status = 200, body = AdlView), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn adl(
    State(state): Shared,
    Path(market): Path<String>,
    ApiQuery(q): ApiQuery<AdlQuery>,
) -> Result<Json<AdlView>, ApiError> {
    let market = Named::market_in_path(&state, "market", &market).await?;
    let limit = count("limit", q.limit)?;
    let skip = q.after.unwrap_or(0);
    state
        .read(move |e| {
            let s = e.state();
            let m = listed(s, market)?;
            let mut more = false;
            let snap = s
                .perps
                .snapshot()
                .map_err(|e| ApiError::unavailable(e.to_string()))?;
            let r = snap
                .get(market)
                .map_err(|e| ApiError::conflict("no_price", "market", e.to_string()))?;
            let holders: Vec<(AccountId, &PerpAccount)> = s
                .perps
                .accounts()
                .filter(|(_, w)| w.position(market).is_some_and(|p| p.size != 0))
                .collect();
            let wallets: Vec<&PerpAccount> = holders.iter().map(|(_, w)| *w).collect();
            let mut side = |bankrupt_long: bool| -> Result<Vec<AdlRow>, ApiError> {
                let order = adl_ranking(market, bankrupt_long, &wallets, r)
                    .map_err(|e| ApiError::unavailable(e.to_string()))?;
                more |= order.len() > skip.saturating_add(limit);
                order
                    .into_iter()
                    .skip(skip)
                    .take(limit)
                    .map(|i| {
                        let (id, w) = holders[i];
                        let p = w
                            .position(market)
                            .ok_or_else(|| ApiError::unavailable("position"))?;
                        let pm = PositionMargin::of(p, r)
                            .map_err(|e| ApiError::unavailable(e.to_string()))?;
                        let signed: SignedValue =
                            pm.pnl().map_err(|e| ApiError::unavailable(e.to_string()))?;
                        Ok(AdlRow {
                            account: id.0,
                            size: contracts(p.size, m.params.decimals),
                            unrealised_pnl: signed.to_string(),
                            notional: pm.notional.to_string(),
                        })
                    })
                    .collect()
            };
            Ok(AdlView {
                market: market.0,
                seq: s.seq,
                against_longs: side(true)?,
                against_shorts: side(false)?,
                next: more.then_some(skip + limit),
            })
        })
        .await?
        .map(Json)
}
