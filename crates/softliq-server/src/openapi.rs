//! The OpenAPI 3 document, generated from the handlers' annotations and the request and
//! response types, served at `/openapi.json`. The bad-input tests read it to reach every
//! `POST` endpoint, so a new endpoint is covered as soon as it is documented here.

use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::routes::{auctions, commands, export, perps, queries, stream};

struct Bearer;

impl Modify for Bearer {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        if let Some(components) = openapi.components.as_mut() {
            components.add_security_scheme(
                "bearer",
                SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
            );
        }
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "softliq",
        description = "Soft-liquidation risk engine: commands in, events out. Amounts are decimal strings in whole tokens (events carry base units). Reads are public; commands need a bearer token of the right role. `Idempotency-Key` makes a command safe to retry."
    ),
    paths(
        commands::list_asset,
        commands::update_params,
        commands::set_policy,
        commands::fund_insurance,
        commands::advance_time,
        commands::post_price,
        commands::open_account,
        commands::deposit,
        commands::withdraw,
        commands::borrow,
        commands::repay,
        commands::liquidate,
        commands::absorb,
        commands::buy_collateral,
        auctions::bark,
        auctions::take,
        auctions::redo,
        auctions::auctions,
        auctions::auction,
        perps::list_perp,
        perps::update_perp,
        perps::fund_perp_insurance,
        perps::perp_deposit,
        perps::perp_withdraw,
        perps::place_order,
        perps::cancel_order,
        perps::perp_liquidate,
        perps::perp_markets,
        perps::book,
        perps::wallet,
        perps::queue,
        perps::adl,
        queries::markets,
        queries::account,
        queries::at_risk,
        queries::liquidation_quote,
        queries::protocol,
        queries::status,
        queries::events,
        queries::risk,
        queries::activity,
        export::liquidations_csv,
        stream::stream,
    ),
    modifiers(&Bearer)
)]
struct ApiDoc;

/// The document as JSON.
#[must_use]
pub fn document() -> String {
    ApiDoc::openapi()
        .to_pretty_json()
        .unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
}
