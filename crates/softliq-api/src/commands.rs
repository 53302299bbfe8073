//! The lending commands' request bodies (`POST /v1/...`), what a durable command answers, and
//! one log entry as `GET /v1/events` and the SSE stream show it.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use softliq_core::asset::AssetParams;
use softliq_core::liquidation::Policy;
use softliq_engine::event::Event;
use softliq_engine::{CommandBody, PriceSource};
use utoipa::ToSchema;

use crate::names::Named;

/// One durable log entry as readers see it: `GET /v1/events` pages and the SSE stream's
/// `data`. Borrowed when the server renders it, owned when a client reads it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LogEntry<'a> {
    pub seq: u64,
    /// The command's engine time (Unix seconds); never decreases along the log.
    pub timestamp_s: u64,
    pub kind: Cow<'a, str>,
    pub command: Cow<'a, CommandBody>,
    pub events: Cow<'a, [Event]>,
}

/// A durable command's outcome.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct CommandOutcome {
    /// The command's sequence number in the log (the first outcome's, for a retry).
    pub seq: u64,
    /// What it did, in order (see `GET /v1/events` for the shapes).
    #[schema(value_type = Vec<Object>)]
    pub events: Vec<Event>,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ListAssetRequest {
    /// Ticker, 1–16 characters.
    pub symbol: String,
    /// Risk parameters: `decimals`, ratios as decimal strings, caps in base units, rate model
    /// and oracle guards (see docs/configuration.md).
    #[schema(value_type = Object)]
    pub params: AssetParams,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateParamsRequest {
    #[schema(value_type = Object)]
    pub params: AssetParams,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetPolicyRequest {
    /// The exact policy, as `GET /v1/markets` shows it:
    /// `{"rule": {"Soft": {"max_fraction": "0.2"}}, "dust_value": "10", "insurance_share": "0.5", …}`.
    /// Give this or `mechanism`.
    #[schema(value_type = Option<Object>)]
    pub policy: Option<Policy>,
    /// A mechanism by name, as a simulator scenario names it (`full`, `close_factor`, `soft`,
    /// `restore`, `two_stage`, `dutch`, or any name with `rule` in `overrides`). Give this or
    /// `policy`.
    pub mechanism: Option<String>,
    /// The mechanism's parameters, with the keys and syntax of a scenario's
    /// `[mechanism.<name>]` table: `{"max_fraction": "20%", "incentive": "ramp", "dust_usd": 10}`.
    #[schema(value_type = Option<Object>)]
    pub overrides: Option<serde_json::Map<String, serde_json::Value>>,
    /// `"spot"`, `{"delayed": {"delay_s": 3600}}` or `{"twap": {"window_s": 1800}}`; spot when
    /// absent.
    #[schema(value_type = Option<Object>)]
    pub liquidation_price: Option<PriceSource>,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PostPriceRequest {
    /// Asset id or symbol.
    pub asset: Named,
    /// USD per whole token.
    #[schema(pattern = r"^(0|[1-9][0-9]*)(\.[0-9]+)?$", example = "1834.25")]
    pub price: String,
    /// When the price was observed (Unix seconds); now when absent.
    pub published_s: Option<u64>,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssetAmountRequest {
    /// Asset id or symbol.
    pub asset: Named,
    /// Whole tokens, at most the asset's decimals.
    #[schema(pattern = r"^(0|[1-9][0-9]*)(\.[0-9]+)?$", example = "1.5")]
    pub amount: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmptyRequest {}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LiquidateRequest {
    /// The account (owned by the calling token) that receives the collateral.
    pub liquidator: u64,
    pub borrower: u64,
    /// Asset id or symbol.
    pub debt_asset: Named,
    /// Asset id or symbol.
    pub collateral_asset: Named,
    /// Most debt tokens to repay; the policy may allow less.
    #[schema(pattern = r"^(0|[1-9][0-9]*)(\.[0-9]+)?$", example = "1000")]
    pub max_repay: String,
    /// Least collateral tokens to receive, else the call is refused (zero allowed: no floor).
    #[schema(pattern = r"^(0|[1-9][0-9]*)(\.[0-9]+)?$", example = "0.5")]
    pub min_collateral_out: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AbsorbRequest {
    /// An account the calling token owns, recorded as the one that asked.
    pub absorber: u64,
    pub borrower: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BuyCollateralRequest {
    /// The account (owned by the calling token) that receives the collateral.
    pub buyer: u64,
    /// The collateral asset to buy from the treasury (id or symbol).
    pub asset: Named,
    /// The asset paid with (id or symbol).
    pub pay_asset: Named,
    /// Most tokens of `pay_asset` to pay.
    #[schema(pattern = r"^(0|[1-9][0-9]*)(\.[0-9]+)?$", example = "1000")]
    pub max_pay: String,
    /// Least tokens of `asset` to receive, else refused (zero allowed: no floor).
    #[schema(pattern = r"^(0|[1-9][0-9]*)(\.[0-9]+)?$", example = "0.5")]
    pub min_out: String,
}
