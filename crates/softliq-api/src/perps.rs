//! Perpetual markets: request bodies (listing, margin, orders, liquidation steps) and the views
//! of markets, books, wallets, the liquidation queue and the ADL ranking.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ListPerpRequest {
    /// Ticker, for example `BTC-PERP`.
    pub symbol: String,
    /// Market parameters (see docs/perpetuals.md): index asset (id or symbol), decimals,
    /// margin tiers, lot and tick, fees, funding, mark, liquidation and backstop settings.
    #[schema(value_type = Object)]
    pub params: serde_json::Value,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UsdRequest {
    /// USD.
    #[schema(pattern = r"^(0|[1-9][0-9]*)(\.[0-9]+)?$", example = "1000")]
    pub amount: String,
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrderSide {
    Buy,
    Sell,
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrderTif {
    /// Rests until filled or cancelled.
    Gtc,
    /// Fills what it can now; the rest is cancelled.
    Ioc,
    /// Refused if any of it would fill on arrival.
    PostOnly,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlaceOrderRequest {
    /// The account (owned by the calling token) that trades.
    pub account: u64,
    pub side: OrderSide,
    /// Limit price (USD per contract, a multiple of the tick); absent: a market order, filled
    /// no further from the index than the market's slippage tolerance.
    #[schema(pattern = r"^(0|[1-9][0-9]*)(\.[0-9]+)?$", example = "64250.5")]
    pub price: Option<String>,
    /// Contracts (a multiple of the lot).
    #[schema(pattern = r"^(0|[1-9][0-9]*)(\.[0-9]+)?$", example = "0.25")]
    pub size: String,
    /// Default `gtc` for a limit order; a market order is always `ioc`. A `maker` token may
    /// only send `post_only` orders.
    pub tif: Option<OrderTif>,
    /// Only reduce the position (cut to its size); refused when it would not reduce it.
    #[serde(default)]
    pub reduce_only: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelOrderRequest {
    /// The account (owned by the calling token) whose order it is.
    pub account: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PerpLiquidateRequest {
    /// The account (owned by the calling token) that receives the liquidator's share of fees.
    pub liquidator: u64,
    /// The flagged wallet to run one liquidation step on.
    pub account: u64,
    /// Offer to take a backstop in the vault's place, at the mark with the margin the vault
    /// would keep (at most the positions' MM). Granted when the wallet covers the transfer and
    /// the liquidator's own wallet meets its initial margin afterwards; otherwise the vault
    /// takes it.
    #[serde(default)]
    pub take_backstop: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdatePerpRequest {
    /// The market's new parameters; `index_asset` and `decimals` must stay as listed.
    #[schema(value_type = Object)]
    pub params: serde_json::Value,
}

/// One perp market as a trader sees it.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct PerpMarketView {
    pub market: u16,
    pub symbol: String,
    pub index_asset: u16,
    /// `null` until the index asset has a price.
    pub index: Option<String>,
    pub mark: Option<String>,
    /// The smoothed premium of the book over the index (bounded by `premium_max` in the mark).
    pub premium: String,
    /// The rate the next funding tick pays at the premium so far (longs pay when positive).
    pub next_funding_rate: String,
    pub next_funding_s: Option<u64>,
    pub cumulative_funding: String,
    /// Contracts long (= short).
    pub open_interest: String,
    pub open_interest_usd: Option<String>,
    pub best_bid: Option<String>,
    pub best_ask: Option<String>,
    /// Fee rates on a fill's notional (`0.0005` is 5 bp).
    pub taker_fee: String,
    pub maker_fee: String,
    /// Prices are multiples of the tick (USD); sizes of the lot (contracts).
    pub tick_size: String,
    pub lot_size: String,
    /// Fees collected so far, USD.
    pub fees: String,
    pub insurance_fund: String,
    pub funding_pool: String,
    pub bad_debt: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct PerpMarketsView {
    pub seq: u64,
    pub now_s: u64,
    pub markets: Vec<PerpMarketView>,
    /// Wallets flagged liquidatable now.
    pub flagged: usize,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct LevelView {
    pub price: String,
    /// Contracts resting at the price.
    pub size: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct BookView {
    pub market: u16,
    pub seq: u64,
    /// Best first.
    pub bids: Vec<LevelView>,
    pub asks: Vec<LevelView>,
}

/// One position valued at its market's mark.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct PerpPositionView {
    pub market: u16,
    pub symbol: String,
    /// Contracts, negative for a short.
    pub size: String,
    pub entry_price: Option<String>,
    pub mark: String,
    pub notional: String,
    /// Unrealised PnL at the mark, less the funding owed since the position last settled.
    pub unrealised_pnl: String,
    pub funding_owed: String,
    pub initial_margin: String,
    pub maintenance_margin: String,
    /// The mark at which the wallet crosses its maintenance line with every other mark held
    /// (below for a long, above for a short); `null` when no such mark exists.
    pub liquidation_price: Option<String>,
}

/// A resting order.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct RestingOrderView {
    pub market: u16,
    pub order: u64,
    pub side: OrderSide,
    pub price: String,
    pub size: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct PerpWalletView {
    pub account: u64,
    pub cash: String,
    /// Cash plus every position's PnL.
    pub equity: String,
    pub initial_margin: String,
    pub maintenance_margin: String,
    /// `(equity⁺) / (MM + equity⁻)`; `null` with no position.
    pub health_factor: Option<String>,
    /// Flagged liquidatable by detection.
    pub flagged: bool,
    /// A liquidation is under way: its rounds continue to the target.
    pub unwinding: bool,
    pub positions: Vec<PerpPositionView>,
    pub orders: Vec<RestingOrderView>,
}

/// A flagged wallet in the liquidation queue.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct PerpQueueRow {
    pub account: u64,
    pub equity: String,
    pub maintenance_margin: String,
    pub health_factor: Option<String>,
    pub unwinding: bool,
    /// Σ |notional| of its positions.
    pub notional: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct PerpQueueView {
    pub seq: u64,
    /// Flagged wallets in all.
    pub total: usize,
    /// Lowest health first.
    pub accounts: Vec<PerpQueueRow>,
    /// Pass as `after` for the next page; `null` on the last.
    pub next: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct AdlRow {
    pub account: u64,
    pub size: String,
    pub unrealised_pnl: String,
    pub notional: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct AdlView {
    pub market: u16,
    pub seq: u64,
    /// Shorts deleveraged first if a long goes bankrupt past the insurance fund.
    pub against_longs: Vec<AdlRow>,
    /// Longs deleveraged first if a short does.
    pub against_shorts: Vec<AdlRow>,
    /// The last rank listed, to pass as `after`, while either side has more; else `null`.
    pub next: Option<usize>,
}
