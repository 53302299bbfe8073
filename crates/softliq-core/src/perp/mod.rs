//! Perpetual markets (docs/perpetuals.md): positions in the same account as lending positions, one
//! unified margin, funding, and soft unwinding with its backstop, insurance and
//! auto-deleveraging.
//!
//! Layers, bottom up (each pure, exact, with its rounding named):
//! - [`params`]: a market's parameters (tiered margin, fees, funding, mark, liquidation) and
//!   their validation;
//! - [`order`]: what a trade must satisfy (lot, tick, open-interest cap, initial margin);
//! - [`position`]: signed positions, cost basis and the average-entry rules, funding settled on
//!   touch, and the account's perp wallet;
//! - [`market`]: the running state of a market (mark premium, cumulative funding, funding
//!   pool, open interest, fees, insurance fund, bad debt) and the funding-rate formula;
//! - [`margin`]: equity, IM and MM, the one health number of a unified account;
//! - [`liquidation_price`]: the isolated formula, and the exact prices from the predicate;
//! - [`book`]: one side of an order book as liquidation sees it;
//! - [`exchange`]: the controller: markets, wallets, orders, funding, and one invariant check;
//! - [`matching`]: a market's order book, price-time priority, time in force, self-trade
//!   prevention;
//! - [`unwind`]: chunked soft unwinding within the slippage tolerance;
//! - [`waterfall`]: backstop vault, insurance fund, auto-deleveraging, bad debt.

pub mod book;
pub mod exchange;
pub mod liquidation_price;
pub mod margin;
pub mod market;
pub mod matching;
pub mod order;
pub mod params;
pub mod position;
#[cfg(test)]
mod tests;
pub mod unwind;
pub mod waterfall;

pub use book::{BookFill, BookSide, Level, Side};
pub use exchange::{
    Exchange, ExchangeError, Liquidation, OrderRequest, PerpMarket, Unwinding, VAULT,
};
pub use liquidation_price::{
    Crossings, asset_liquidation_price, isolated_formula, mark_liquidation_price,
};
pub use margin::{IsolatedMargin, Margin, PerpRisk, PerpSnapshot, PositionMargin};
pub use market::{PerpMarketState, funding_rate};
pub use matching::{BookError, Match, Order, OrderBook, OrderId, Placed, Resting, TimeInForce};
pub use order::{
    OrderError, check_margin, check_open_interest, check_order, open_interest_change, reduces_only,
};
pub use params::{FundingParams, MarginTier, MarkParams, PerpMarketId, PerpParams, perp_bounds};
pub use position::{Fill, PerpAccount, PerpPosition};
pub use unwind::{Books, ChunkFill, Exposure, Mode, Round, Scope, chunk_limit, unwind_round};
pub use waterfall::{AdlFill, Backstop, Transfer, adl_ranking, backstop, transfer_to_target};

use crate::health::HealthError;
use crate::money::MathError;

/// Why a perp computation or liquidation step was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PerpError {
    #[error("perp market {} is not listed or has no mark price", .0.0)]
    MissingMarket(PerpMarketId),
    #[error("the index price of perp market {} is stale", .0.0)]
    StalePrice(PerpMarketId),
    #[error("the account is not below its maintenance line")]
    NotLiquidatable,
    #[error(transparent)]
    Health(#[from] HealthError),
    #[error(transparent)]
    Math(#[from] MathError),
}
