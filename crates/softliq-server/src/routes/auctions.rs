//! Dutch auctions over HTTP (markets with the `dutch` policy): start, take and reset (the
//! `liquidator` role, for a keeper account the token owns), and the public views of running
//! auctions and of any auction's history. Views are computed at the engine clock's time now,
//! since an auction's price falls every second.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use serde::Deserialize;
use softliq_core::account::AccountId;
use softliq_core::asset::AssetId;
use softliq_core::liquidation::auction::{AuctionId, Status};
use softliq_core::money::{Decimals, Price, Rounding, parse_scaled};
use softliq_engine::{CommandBody, Engine};
use utoipa::IntoParams;

use super::commands::{error_responses, path_id, require_owner, run};
use crate::app::AppState;
use crate::auth::{Principal, Role};
use crate::error::ApiError;
use crate::json::{ApiJson, ApiQuery};
use crate::names::optional_asset;
use softliq_api::auctions::{
    AuctionDetail, AuctionRow, AuctionsView, BarkRequest, RedoRequest, TakeAll, TakeRequest,
};
use softliq_api::commands::CommandOutcome;
use softliq_api::error::ErrorBody;

type Shared = State<Arc<AppState>>;

/// The account's largest debt and largest collateral by value at the liquidation prices
/// (`Engine::auction_pair`: the same rule as the simulator's auctions).
fn largest_pair(engine: &Engine, borrower: u64) -> Result<(AssetId, AssetId), ApiError> {
    let refused = |field: &str, why: String| ApiError::conflict("liquidation_refused", field, why);
    let pair = engine
        .auction_pair(AccountId(borrower))
        .map_err(|e| {
            refused(
                "borrower",
                format!("account {borrower} cannot be valued: {e}"),
            )
        })?
        .ok_or_else(|| ApiError::not_found("borrower", format!("no account {borrower}")))?;
    match pair {
        (Some(d), Some(c)) => Ok((d, c)),
        (None, _) => Err(refused(
            "debt_asset",
            format!("account {borrower} owes nothing that can be valued"),
        )),
        (_, None) => Err(refused(
            "collateral_asset",
            format!("account {borrower} holds no collateral that can be valued"),
        )),
    }
}

/// Start a Dutch auction on a liquidatable account (liquidator; `dutch` markets).
#[utoipa::path(post, path = "/v1/auctions", tag = "auctions", request_body = BarkRequest,
    security(("bearer" = [])),
    responses((status = 200, body = CommandOutcome), (status = "4XX", body = ErrorBody, description = error_responses!())))]
pub async fn bark(
    State(state): Shared,
    principal: Principal,
    headers: HeaderMap,
    ApiJson(req): ApiJson<BarkRequest>,
) -> Result<Json<CommandOutcome>, ApiError> {
    principal.require("Authorization", &[Role::Liquidator])?;
    require_owner(&state, &principal, "keeper", req.keeper).await?;
    let debt = optional_asset(&state, "debt_asset", req.debt_asset).await?;
    let collateral = optional_asset(&state, "collateral_asset", req.collateral_asset).await?;
    let (debt_asset, collateral_asset) = match (debt, collateral) {
        (Some(d), Some(c)) => (d, c),
        (d, c) => {
            let borrower = req.borrower;
            let (ld, lc) = state.read(move |e| largest_pair(e, borrower)).await??;
            (d.unwrap_or(ld), c.unwrap_or(lc))
        }
    };
    let body = CommandBody::Bark {
        keeper: AccountId(req.keeper),
        borrower: AccountId(req.borrower),
        debt_asset,
        collateral_asset,
    };
    run(&state, &principal, &headers, body).await
}

/// Buy part or all of an auction's lot at its current price (liquidator).
#[utoipa::path(post, path = "/v1/auctions/{id}/take", tag = "auctions", request_body = TakeRequest,
    params(("id" = u64, Path, description = "auction id")), security(("bearer" = [])),
    responses((status = 200, body = CommandOutcome), (status = "4XX", body = ErrorBody, description = error_responses!())))]
pub async fn take(
    State(state): Shared,
    principal: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<TakeRequest>,
) -> Result<Json<CommandOutcome>, ApiError> {
    principal.require("Authorization", &[Role::Liquidator])?;
    let id: u64 = path_id("id", &id)?;
    require_owner(&state, &principal, "keeper", req.keeper).await?;
    check_decimal("amount", &req.amount, Decimals::MAX)?;
    check_decimal("max_price", &req.max_price, Price::SCALE)?;
    require_running(&state, id).await?;
    let body = CommandBody::Take {
        keeper: AccountId(req.keeper),
        auction: AuctionId(id),
        amount: req.amount,
        max_price: req.max_price,
    };
    run(&state, &principal, &headers, body).await
}

/// Restart an auction past `tail_s` or below `cusp · top` from a fresh top (liquidator).
#[utoipa::path(post, path = "/v1/auctions/{id}/redo", tag = "auctions", request_body = RedoRequest,
    params(("id" = u64, Path, description = "auction id")), security(("bearer" = [])),
    responses((status = 200, body = CommandOutcome), (status = "4XX", body = ErrorBody, description = error_responses!())))]
pub async fn redo(
    State(state): Shared,
    principal: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<RedoRequest>,
) -> Result<Json<CommandOutcome>, ApiError> {
    principal.require("Authorization", &[Role::Liquidator])?;
    let id: u64 = path_id("id", &id)?;
    require_owner(&state, &principal, "keeper", req.keeper).await?;
    require_running(&state, id).await?;
    let body = CommandBody::Redo {
        keeper: AccountId(req.keeper),
        auction: AuctionId(id),
    };
    run(&state, &principal, &headers, body).await
}

/// Checks a decimal field's syntax before the auction is looked up (the engine parses it again
/// at the asset's own decimals): digits, at most 30 decimals, in range, above zero.
fn check_decimal(field: &str, text: &str, scale: u8) -> Result<(), ApiError> {
    let raw = parse_scaled(field, text, scale)
        .map_err(|e| ApiError::unprocessable("invalid_amount", field, e.problem.to_string()))?;
    if raw == 0 {
        return Err(ApiError::unprocessable(
            "zero_amount",
            field,
            "must be greater than zero",
        ));
    }
    Ok(())
}

/// Checks that auction `id` is running, naming the path parameter when it is not.
async fn require_running(state: &AppState, id: u64) -> Result<(), ApiError> {
    let running = state
        .read(move |e| e.state().auctions.book.get(AuctionId(id)).is_some())
        .await?;
    if running {
        Ok(())
    } else {
        Err(ApiError::new(
            axum::http::StatusCode::NOT_FOUND,
            "unknown_auction",
            "id",
            format!("no running auction {id}"),
        ))
    }
}

fn row_of(engine: &Engine, s: &Status) -> Option<AuctionRow> {
    let state = engine.state();
    let (d, c) = (state.asset(s.debt_asset)?, state.asset(s.collateral_asset)?);
    let (dd, dc) = (d.params().decimals, c.params().decimals);
    let cost_lot = s.lot.value_at(s.price, dc, Rounding::Up).ok()?;
    let tab_usd = s.tab.value_at(s.debt_price, dd, Rounding::Up).ok()?;
    let (collateral, cost) = if cost_lot <= tab_usd {
        (s.lot, cost_lot)
    } else {
        (
            tab_usd.to_amount(s.price, dc, Rounding::Down).ok()?,
            tab_usd,
        )
    };
    let value = state.oracles[s.collateral_asset.index()]
        .price
        .and_then(|p| collateral.value_at(p, dc, Rounding::Down).ok())
        .map(|v| v.to_string());
    Some(AuctionRow {
        id: s.id.0,
        borrower: s.borrower.0,
        debt_asset: s.debt_asset.0,
        debt_symbol: d.symbol.clone(),
        collateral_asset: s.collateral_asset.0,
        collateral_symbol: c.symbol.clone(),
        price: s.price.to_string(),
        top: s.top.to_string(),
        elapsed_s: s.elapsed_s,
        needs_reset: s.needs_reset,
        reset_in_s: s.reset_in_s,
        lot: s.lot.display_tokens(dc).to_string(),
        tab: s.tab.display_tokens(dd).to_string(),
        penalty: s.penalty.display_tokens(dd).to_string(),
        resets: s.resets,
        take_all: TakeAll {
            collateral: collateral.display_tokens(dc).to_string(),
            cost: cost.to_string(),
            value,
        },
    })
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuctionsQuery {
    /// Most auctions (1–1000, default 100).
    pub limit: Option<usize>,
    /// The previous page's `next` (an auction id): list the auctions after it.
    pub after: Option<u64>,
}

/// Running auctions with their price now, time to reset, lot and tab, by id.
#[utoipa::path(get, path = "/v1/auctions", tag = "auctions", params(AuctionsQuery),
    responses((status = 200, body = AuctionsView), (status = 422, body = ErrorBody)))]
pub async fn auctions(
    State(state): Shared,
    ApiQuery(q): ApiQuery<AuctionsQuery>,
) -> Result<Json<AuctionsView>, ApiError> {
    let limit = crate::paging::limit(q.limit, 100)?;
    let now_s = state.now_s();
    let view = state
        .read(move |engine| {
            let s = engine.state();
            let mut running = engine.auctions_at(now_s);
            running.sort_by_key(|a| a.id);
            let total = running.len();
            let (page, next) = crate::paging::page(running, |a| a.id.0, q.after, limit);
            AuctionsView {
                now_s: now_s.max(s.now_s),
                policy: s.market.policy.name().to_owned(),
                dirt_total: s.auctions.book.dirt_total().to_string(),
                hole_total: s.market.policy.auction().map(|d| d.hole_total.to_string()),
                total,
                auctions: page.iter().filter_map(|st| row_of(engine, st)).collect(),
                next,
            }
        })
        .await?;
    Ok(Json(view))
}

/// One auction: its status while it runs, and its whole history.
#[utoipa::path(get, path = "/v1/auctions/{id}", tag = "auctions",
    params(("id" = u64, Path, description = "auction id")),
    responses((status = 200, body = AuctionDetail), (status = 404, body = ErrorBody)))]
pub async fn auction(
    State(state): Shared,
    Path(id): Path<String>,
) -> Result<Json<AuctionDetail>, ApiError> {
    let id: u64 = path_id("id", &id)?;
    let now_s = state.now_s();
    state
        .read(move |engine| {
            let view = engine
                .auction_at(AuctionId(id), now_s)
                .ok_or_else(|| ApiError::not_found("id", format!("no auction {id}")))?;
            Ok(AuctionDetail {
                id,
                status: view.status.as_ref().and_then(|s| row_of(engine, s)),
                history: view.history,
            })
        })
        .await?
        .map(Json)
}
