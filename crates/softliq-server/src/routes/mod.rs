//! The HTTP surface: commands (`POST`), queries (`GET`), the live stream, `/metrics`,
//! `/openapi.json` and the dashboard at `/`.

pub mod auctions;
pub mod commands;
pub mod export;
pub mod perps;
pub mod queries;
pub mod stream;

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::header;
use axum::response::{Html, IntoResponse};
use axum::routing::{get, post};

use crate::app::AppState;
use crate::error::{ApiError, ErrorCode};
use crate::metrics::Gauges;

/// Every route, with the body limit applied.
pub fn router(state: Arc<AppState>, body_limit_bytes: usize) -> Router {
    use auctions as a;
    use commands as c;
    use perps as p;
    use queries as q;
    Router::new()
        .route("/", get(dashboard))
        .route("/healthz", get(|| async { "ok" }))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi))
        // Swagger UI from the binary (vendored assets), reading the document above.
        .merge(
            utoipa_swagger_ui::SwaggerUi::new("/docs")
                .config(utoipa_swagger_ui::Config::new(["/openapi.json"])),
        )
        .route("/v1/assets", post(c::list_asset))
        .route("/v1/assets/{asset}/params", post(c::update_params))
        .route("/v1/policy", post(c::set_policy))
        .route("/v1/insurance", post(c::fund_insurance))
        .route("/v1/time", post(c::advance_time))
        .route("/v1/prices", post(c::post_price))
        .route("/v1/accounts", post(c::open_account).get(q::at_risk))
        .route("/v1/accounts/{id}", get(q::account))
        .route("/v1/accounts/{id}/quote", get(q::liquidation_quote))
        .route("/v1/accounts/{id}/deposit", post(c::deposit))
        .route("/v1/accounts/{id}/withdraw", post(c::withdraw))
        .route("/v1/accounts/{id}/borrow", post(c::borrow))
        .route("/v1/accounts/{id}/repay", post(c::repay))
        .route("/v1/liquidations", post(c::liquidate))
        .route("/v1/liquidations.csv", get(export::liquidations_csv))
        .route("/v1/absorptions", post(c::absorb))
        .route("/v1/storefront", post(c::buy_collateral))
        .route("/v1/auctions", post(a::bark).get(a::auctions))
        .route("/v1/auctions/{id}", get(a::auction))
        .route("/v1/auctions/{id}/take", post(a::take))
        .route("/v1/auctions/{id}/redo", post(a::redo))
        .route("/v1/perps", post(p::list_perp).get(p::perp_markets))
        .route(
            "/v1/perps/liquidations",
            post(p::perp_liquidate).get(p::queue),
        )
        .route("/v1/perps/{market}/params", post(p::update_perp))
        .route("/v1/perps/{market}/insurance", post(p::fund_perp_insurance))
        .route("/v1/perps/{market}/book", get(p::book))
        .route("/v1/perps/{market}/adl", get(p::adl))
        .route("/v1/perps/{market}/orders", post(p::place_order))
        .route(
            "/v1/perps/{market}/orders/{order}/cancel",
            post(p::cancel_order),
        )
        .route("/v1/accounts/{id}/perp", get(p::wallet))
        .route("/v1/accounts/{id}/perp/deposit", post(p::perp_deposit))
        .route("/v1/accounts/{id}/perp/withdraw", post(p::perp_withdraw))
        .route("/v1/markets", get(q::markets))
        .route("/v1/protocol", get(q::protocol))
        .route("/v1/risk", get(q::risk))
        .route("/v1/activity", get(q::activity))
        .route("/v1/status", get(q::status))
        .route("/v1/events", get(q::events))
        .route("/v1/stream", get(stream::stream))
        .fallback(|| async { ApiError::not_found("path", "no such endpoint (see /openapi.json)") })
        .layer(DefaultBodyLimit::max(body_limit_bytes))
        .layer(axum::middleware::map_response_with_state(
            state.clone(),
            count_refusals,
        ))
        .with_state(state)
}

/// Counts every error answer by its code (engine rejections, auth, malformed bodies alike).
async fn count_refusals(
    State(state): State<Arc<AppState>>,
    response: axum::response::Response,
) -> axum::response::Response {
    if let Some(ErrorCode(code)) = response.extensions().get::<ErrorCode>() {
        state.metrics.rejected(code);
    }
    response
}

async fn dashboard() -> Html<&'static str> {
    Html(include_str!("../dashboard.html"))
}

async fn openapi() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        crate::openapi::document(),
    )
}

/// Prometheus metrics: OpenMetrics when `Accept` names it (as Prometheus does), the classic
/// text format (0.0.4) otherwise.
async fn metrics(
    State(state): State<Arc<AppState>>,
    headers: axum::http::HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    let format = softliq_api::exposition::Format::from_accept(
        headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()),
    );
    let board = state.risk_board().await?;
    let mut gauges = state.read(Gauges::read).await?;
    gauges.keeper = state.keeper_stats();
    gauges.health_factors = board
        .rows
        .iter()
        .filter_map(|r| r.hf.map(softliq_core::money::Ratio::to_f64))
        .collect();
    let body = format.body(state.metrics.render(&gauges));
    Ok(([(header::CONTENT_TYPE, format.content_type())], body))
}
