//! `GET` endpoints: markets, accounts, the at-risk list, quotes, the protocol's funds, the
//! log. Reads are public and run on the read view (an engine following the durable log, off
//! the engine thread), so each sees one consistent state: the log's at a durable entry, at or
//! after every command acknowledged before the read began.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::IntoResponse;
use serde::Deserialize;
use softliq_core::account::AccountId;
use softliq_core::liquidation::{Quote, Refusal};
use softliq_core::money::{Amount, Rounding};
use softliq_core::profile::Profile;
use softliq_engine::state::{INSURANCE, TREASURY};
use softliq_engine::{Engine, PairAsked};
use utoipa::IntoParams;

use super::commands::path_id;
use crate::app::AppState;
use crate::error::ApiError;
use crate::json::ApiQuery;
use crate::names::Resolve;
use crate::paging::{HealthKey, page};
use crate::risk::nearest_prices;
use softliq_api::error::ErrorBody;
use softliq_api::names::Named;
use softliq_api::queries::{
    AccountView, AssetFunds, AtRiskRow, AtRiskView, DROPS_PCT, MarketView, MarketsView,
    ProtocolView, QuoteView, RiskRow, RiskView, StatusView, SuggestedCall,
};
use softliq_api::report::account_report;

type Shared = State<Arc<AppState>>;

fn markets_of(engine: &Engine) -> Result<MarketsView, String> {
    let state = engine.state();
    let now = state.now_s;
    let mut markets = Vec::new();
    for (i, asset) in state.assets.iter().enumerate() {
        let p = asset.params();
        let oracle = &state.oracles[i];
        let pool = state.pools[i].projected(now, p);
        let rates = pool.rates(p).map_err(|e| e.to_string())?;
        let tokens = |a: Amount| a.display_tokens(p.decimals).to_string();
        let supplied = pool.supplied().map_err(|e| e.to_string())?;
        let borrowed = pool.borrowed().map_err(|e| e.to_string())?;
        let usd = |a: Amount| {
            oracle
                .price
                .and_then(|x| a.value_at(x, p.decimals, Rounding::Down).ok())
                .map(|v| v.to_string())
        };
        markets.push(MarketView {
            asset: asset.id.0,
            symbol: asset.symbol.clone(),
            decimals: p.decimals.get(),
            price: oracle.price.map(|x| x.to_string()),
            price_published_s: oracle.published_s,
            price_stale: oracle.is_stale(now, &p.oracle),
            breaker_open_until_s: oracle.open_breaker(now).map(|b| b.until_s),
            supplied: tokens(supplied),
            borrowed: tokens(borrowed),
            supplied_value: usd(supplied),
            borrowed_value: usd(borrowed),
            supply_cap: p.supply_cap.map(tokens),
            borrow_cap: p.borrow_cap.map(tokens),
            utilisation: rates.utilisation.to_string(),
            borrow_rate: rates.borrow.to_string(),
            supply_rate: rates.supply.to_string(),
            collateral_factor: p.collateral_factor.to_string(),
            liquidation_threshold: p.liquidation_threshold.to_string(),
            liquidation_penalty: p.liquidation_penalty.to_string(),
            liquidation_discount: p.liquidation_discount.to_string(),
        });
    }
    Ok(MarketsView {
        seq: state.seq,
        now_s: now,
        policy: state.market.policy.name().to_owned(),
        policy_params: state.market.policy,
        liquidation_price: state.market.liquidation_price,
        markets,
    })
}

/// The largest sequence number a query may name: the log stores them as SQLite integers.
pub const SEQ_MAX: u64 = i64::MAX as u64;

/// A sequence number from a query, bounded by [`SEQ_MAX`].
pub(crate) fn seq_param(field: &str, seq: u64) -> Result<u64, ApiError> {
    if seq <= SEQ_MAX {
        Ok(seq)
    } else {
        Err(ApiError::unprocessable(
            "invalid_query",
            field,
            format!("at most {SEQ_MAX}, got {seq}"),
        ))
    }
}

/// Every listed asset with its price, utilisation and rates.
#[utoipa::path(get, path = "/v1/markets", tag = "queries", responses((status = 200, body = MarketsView)))]
pub async fn markets(State(state): Shared) -> Result<Json<MarketsView>, ApiError> {
    state
        .read(markets_of)
        .await?
        .map(Json)
        .map_err(ApiError::unavailable)
}

/// One account's positions, health, risk level and liquidation prices with distances.
#[utoipa::path(get, path = "/v1/accounts/{id}", tag = "queries",
    params(("id" = u64, Path, description = "account id")),
    responses((status = 200, body = AccountView), (status = 404, body = ErrorBody)))]
pub async fn account(
    State(state): Shared,
    Path(id): Path<String>,
) -> Result<Json<AccountView>, ApiError> {
    let id: u64 = path_id("id", &id)?;
    state
        .read(move |engine| {
            let (s, views) = engine.state_and_views();
            let entry = s
                .account(AccountId(id))
                .ok_or_else(|| ApiError::not_found("id", format!("no account {id}")))?;
            let report = account_report(&entry.account, &views.spot, &s.assets)
                .map_err(|e| ApiError::conflict("not_valued", "id", e.to_string()))?;
            let aave_v3 = (s.market.policy.profile() == Profile::AaveV3)
                .then(|| softliq_api::report::aave_account_data(&entry.account, &views.spot))
                .transpose()
                .map_err(|e| ApiError::conflict("not_valued", "id", e.to_string()))?;
            Ok(AccountView {
                account: id,
                owner: entry.owner.clone(),
                flagged: s.flagged.contains(&AccountId(id)),
                report,
                aave_v3,
            })
        })
        .await?
        .map(Json)
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AtRiskQuery {
    /// Most accounts to list (1–1000, default 50).
    pub limit: Option<usize>,
    /// The previous page's `next`: list the accounts after it.
    pub after: Option<String>,
    /// Only accounts liquidatable now: listed from the engine's flagged set at this request,
    /// not from the board (which may be up to its refresh interval old).
    pub liquidatable: Option<bool>,
    /// `true`: only insolvent accounts (collateral worth less than the debt); `false`: only
    /// solvent ones, the accounts a liquidation can still make whole.
    pub insolvent: Option<bool>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ActivityQuery {
    /// From this engine time (Unix seconds; default: the first activity).
    pub from_s: Option<u64>,
    /// To this engine time (default: the last activity).
    pub to_s: Option<u64>,
    /// Most spans in the series (1–1000, default 60).
    pub spans: Option<usize>,
}

/// Liquidation activity over engine time: totals since the log began (liquidation calls, debt
/// repaid, borrower loss, perp steps, bad debt in USD) and a series of equal spans.
#[utoipa::path(get, path = "/v1/activity", tag = "queries", params(ActivityQuery),
    responses((status = 200, body = softliq_api::queries::ActivityView), (status = 422, body = ErrorBody)))]
pub async fn activity(
    State(state): Shared,
    ApiQuery(q): ApiQuery<ActivityQuery>,
) -> Result<Json<softliq_api::queries::ActivityView>, ApiError> {
    let spans = crate::paging::limit(q.spans, 60).map_err(|mut e| {
        e.field = "spans".to_owned();
        e
    })?;
    let range = crate::routes::export::RangeQuery {
        from_s: q.from_s,
        to_s: q.to_s,
    };
    range.bounds()?;
    let Some(history) = &state.history else {
        return Ok(Json(state.activity.view(q.from_s, q.to_s, spans as u64)));
    };
    // From the event store: its activity table, through the projector's position.
    let unavailable =
        |e: softliq_history::HistoryError| ApiError::unavailable(format!("the event store: {e}"));
    let store = softliq_history::History::open(&history.config)
        .await
        .map_err(unavailable)?;
    let (totals, buckets) = store
        .activity(crate::activity::BUCKET_S)
        .await
        .map_err(unavailable)?;
    Ok(Json(crate::activity::view_of(
        totals,
        &buckets,
        true,
        (q.from_s, q.to_s),
        spans as u64,
    )))
}

/// Risk summary: totals (debt, collateral, liquidatable, insolvent with their shortfall), the
/// HF histogram, and per asset the debt newly liquidatable if it fell 5, 10, 20 or 30%.
#[utoipa::path(get, path = "/v1/risk", tag = "queries", responses((status = 200, body = RiskView)))]
pub async fn risk(State(state): Shared) -> Result<Json<RiskView>, ApiError> {
    let board = state.risk_board().await?;
    Ok(Json(RiskView {
        seq: board.seq,
        totals: board.totals.clone(),
        histogram: board.histogram.clone(),
        drops_pct: DROPS_PCT.to_vec(),
        price_drops: board.price_drops.clone(),
    }))
}

/// Accounts with debt by ascending health factor (the at-risk list).
#[utoipa::path(get, path = "/v1/accounts", tag = "queries", params(AtRiskQuery),
    responses((status = 200, body = AtRiskView), (status = 422, body = ErrorBody)))]
pub async fn at_risk(
    State(state): Shared,
    ApiQuery(q): ApiQuery<AtRiskQuery>,
) -> Result<Json<AtRiskView>, ApiError> {
    let limit = crate::paging::limit(q.limit, 50)?;
    let after = q.after.as_deref().map(HealthKey::parse).transpose()?;
    let board = state.risk_board().await?;
    // The liquidatable accounts come from the engine's flagged set, read now (on a blocking
    // thread: after a crash the set can hold tens of thousands); every other list from the
    // board.
    let flagged = if q.liquidatable == Some(true) {
        Some(state.read_long(crate::risk::liquidatable).await?)
    } else {
        None
    };
    let (seq, listed) = flagged
        .as_ref()
        .map_or((board.seq, board.rows.as_slice()), |(seq, rows)| {
            (*seq, rows.as_slice())
        });
    let (rows, next) = page(
        listed
            .iter()
            .filter(|r| q.insolvent.is_none_or(|i| i == r.row.insolvent)),
        |r| HealthKey::new(r.hf, r.row.account),
        after,
        limit,
    );
    let rows: Vec<RiskRow> = rows.into_iter().map(|r| r.row.clone()).collect();
    let ids: Vec<u64> = rows.iter().map(|r| r.account).collect();
    let nearest = state.read(move |e| nearest_prices(e, &ids)).await?;
    Ok(Json(AtRiskView {
        seq,
        total: board.rows.len(),
        histogram: board.histogram.clone(),
        totals: board.totals.clone(),
        next: next.map(|k| k.cursor()),
        accounts: rows
            .into_iter()
            .zip(nearest)
            .map(|(row, nearest_liquidation_price)| AtRiskRow {
                row,
                nearest_liquidation_price,
            })
            .collect(),
    }))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct QuoteQuery {
    /// With `collateral_asset`: quote this pair; without both, the most profitable pair.
    /// Asset id or symbol.
    #[param(value_type = Option<String>)]
    pub debt_asset: Option<Named>,
    /// Asset id or symbol.
    #[param(value_type = Option<String>)]
    pub collateral_asset: Option<Named>,
    /// Most debt tokens to repay (default: all the policy allows).
    pub max_repay: Option<String>,
}

/// The policy's call on `borrower`: on the pair asked for, else the most profitable pair
/// (`Engine::liquidation_quote`); this parses the query and names the field of an error.
fn find_quote(engine: &Engine, borrower: u64, q: &QuoteQuery) -> Result<Quote, ApiError> {
    let s = engine.state();
    if s.account(AccountId(borrower)).is_none() {
        return Err(ApiError::not_found("id", format!("no account {borrower}")));
    }
    let asked = match (&q.debt_asset, &q.collateral_asset) {
        (Some(d), Some(c)) => {
            let (d, c) = (
                d.asset_in(s, "debt_asset")?,
                c.asset_in(s, "collateral_asset")?,
            );
            let d_asset = s
                .asset(d)
                .ok_or_else(|| ApiError::not_found("debt_asset", format!("no asset {}", d.0)))?;
            s.asset(c).ok_or_else(|| {
                ApiError::not_found("collateral_asset", format!("no asset {}", c.0))
            })?;
            let max_repay = match &q.max_repay {
                Some(text) => Amount::parse_tokens("max_repay", text, d_asset.params().decimals)
                    .map_err(|e| {
                        ApiError::unprocessable("invalid_amount", "max_repay", e.to_string())
                    })?,
                None => Amount::MAX,
            };
            Some(PairAsked {
                debt_asset: d,
                collateral_asset: c,
                max_repay,
            })
        }
        (None, None) => None,
        _ => {
            return Err(ApiError::unprocessable(
                "invalid_query",
                "collateral_asset",
                "give both debt_asset and collateral_asset, or neither",
            ));
        }
    };
    let refused = |e: Refusal| ApiError::conflict("liquidation_refused", "id", e.to_string());
    engine
        .liquidation_quote(AccountId(borrower), asked)
        .map_err(refused)?
        .ok_or_else(|| {
            ApiError::conflict(
                "not_liquidatable",
                "id",
                format!("no liquidation call is open on account {borrower}"),
            )
        })
}

fn quote_of(
    engine: &Engine,
    borrower: u64,
    q: &QuoteQuery,
    now_s: u64,
) -> Result<QuoteView, ApiError> {
    let qt = find_quote(engine, borrower, q)?;
    let s = engine.state();
    let policy = s.market.policy;
    let (d, c) = (qt.request.debt_asset, qt.request.collateral_asset);
    let (da, ca) = (&s.assets[d.index()], &s.assets[c.index()]);
    let (dd, cd) = (da.params().decimals, ca.params().decimals);
    let breaker_open = [d, c]
        .iter()
        .any(|a| s.oracles[a.index()].open_breaker(s.now_s).is_some());
    let price_stale = [(d, da), (c, ca)]
        .iter()
        .any(|(a, asset)| s.oracles[a.index()].is_stale(now_s, &asset.params().oracle));
    Ok(QuoteView {
        seq: s.seq,
        borrower,
        policy: policy.name().to_owned(),
        debt_symbol: da.symbol.clone(),
        collateral_symbol: ca.symbol.clone(),
        repaid: qt.repaid.display_tokens(dd).to_string(),
        seized: qt.seized.display_tokens(cd).to_string(),
        to_liquidator: qt.to_liquidator.display_tokens(cd).to_string(),
        to_treasury: qt.to_treasury.display_tokens(cd).to_string(),
        liquidator_gross_profit: qt.liquidator_profit().to_string(),
        breaker_open,
        price_stale,
        call: SuggestedCall {
            borrower,
            debt_asset: d.0,
            collateral_asset: c.0,
            max_repay: qt.repaid.display_tokens(dd).to_string(),
            min_collateral_out: qt.to_liquidator.display_tokens(cd).to_string(),
        },
        quote: qt,
    })
}

/// A liquidation quote for an account under the market's policy and liquidation prices.
#[utoipa::path(get, path = "/v1/accounts/{id}/quote", tag = "queries",
    params(("id" = u64, Path, description = "borrower"), QuoteQuery),
    responses((status = 200, body = QuoteView), (status = 409, body = ErrorBody)))]
pub async fn liquidation_quote(
    State(state): Shared,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<QuoteQuery>,
) -> Result<Json<QuoteView>, ApiError> {
    let id: u64 = path_id("id", &id)?;
    let now_s = state.engine_now_s();
    state
        .read(move |e| quote_of(e, id, &q, now_s))
        .await?
        .map(Json)
}

/// Treasury, insurance funds and bad debt.
#[utoipa::path(get, path = "/v1/protocol", tag = "queries", responses((status = 200, body = ProtocolView)))]
pub async fn protocol(State(state): Shared) -> Result<Json<ProtocolView>, ApiError> {
    state
        .read(|engine| {
            let (s, views) = engine.state_and_views();
            let report = |id: AccountId| {
                let entry = s.account(id).ok_or_else(|| "missing".to_owned())?;
                account_report(&entry.account, &views.spot, &s.assets).map_err(|e| e.to_string())
            };
            let assets = s
                .assets
                .iter()
                .zip(&s.flows)
                .map(|(a, f)| {
                    let dec = a.params().decimals;
                    AssetFunds {
                        symbol: a.symbol.clone(),
                        bad_debt: f.socialised.display_tokens(dec).to_string(),
                        tokens_in: f.tokens_in.display_tokens(dec).to_string(),
                        tokens_out: f.tokens_out.display_tokens(dec).to_string(),
                    }
                })
                .collect();
            Ok::<_, String>(ProtocolView {
                treasury: report(TREASURY)?,
                insurance: report(INSURANCE)?,
                assets,
            })
        })
        .await?
        .map(Json)
        .map_err(ApiError::unavailable)
}

/// The engine's position, and the state hash.
#[utoipa::path(get, path = "/v1/status", tag = "queries", responses((status = 200, body = StatusView)))]
pub async fn status(State(state): Shared) -> Result<Json<StatusView>, ApiError> {
    let durable_seq = state.hub.head();
    let mut view = state
        .read(|e| {
            let s = e.state();
            StatusView {
                seq: s.seq,
                durable_seq: 0,
                now_s: s.now_s,
                accounts: s.accounts.len(),
                flagged: s.flagged.len(),
                halted: s.halted.clone(),
                state_hash: s.hash().to_hex().to_string(),
                store: String::new(),
                role: String::new(),
                cluster: None,
            }
        })
        .await?;
    view.durable_seq = durable_seq;
    view.role = if state.handle.leading() {
        "writer"
    } else {
        "follower"
    }
    .into();
    view.store = if state.replica.is_some() {
        "jetstream"
    } else {
        "sqlite"
    }
    .into();
    view.cluster = state.cluster_view();
    Ok(Json(view))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct EventsQuery {
    /// Entries with a sequence number above this (default 0; at most 2^63 − 1).
    pub since: Option<u64>,
    /// Most entries (1–1000, default 100).
    pub limit: Option<usize>,
    /// Only entries at or after this engine time (Unix seconds); sets where the first page
    /// starts when `since` is absent.
    pub from_s: Option<u64>,
    /// Only entries at or before this engine time; the page that reaches it has `next: null`.
    pub to_s: Option<u64>,
}

/// Log entries (command and events) after a sequence number.
#[utoipa::path(get, path = "/v1/events", tag = "queries", params(EventsQuery),
    responses((status = 200, description = "`{\"head\": n, \"entries\": [{seq, timestamp_s, kind, command, events}], \"next\": seq or null}`: pass `next` as `since` for the following page")))]
pub async fn events(
    State(state): Shared,
    ApiQuery(q): ApiQuery<EventsQuery>,
) -> Result<impl IntoResponse, ApiError> {
    let limit = crate::paging::limit(q.limit, 100)?;
    let since = seq_param("since", q.since.unwrap_or(0))?;
    let range = crate::routes::export::RangeQuery {
        from_s: q.from_s,
        to_s: q.to_s,
    };
    let (from_s, to_s) = range.bounds()?;
    let hub = state.hub.clone();
    let head = hub.head();
    let page = tokio::task::spawn_blocking(move || {
        let since = match (q.since, q.from_s) {
            (None, Some(from)) => hub.seq_before(from)?,
            _ => since,
        };
        hub.page(since, limit)
    })
    .await
    .map_err(|e| ApiError::unavailable(e.to_string()))??;
    // The cursor of the next page: the last sequence number read (kept or not), when the page
    // is full (the log may hold more) or ends below the head, and the range goes on.
    let last = page.last().map(|p| p.seq);
    let range_ended = page.iter().any(|p| p.timestamp_s > to_s);
    let next = last.filter(|&l| !range_ended && (page.len() == limit || l < head));
    let page: Vec<_> = page
        .into_iter()
        .filter(|p| (from_s..=to_s).contains(&p.timestamp_s))
        .collect();
    let mut body = format!("{{\"head\":{head},\"entries\":[");
    for (i, p) in page.iter().enumerate() {
        if i > 0 {
            body.push(',');
        }
        body.push_str(&p.json);
    }
    match next {
        Some(seq) => body.push_str(&format!("],\"next\":{seq}}}")),
        None => body.push_str("],\"next\":null}"),
    }
    Ok(([(header::CONTENT_TYPE, "application/json")], body))
}
