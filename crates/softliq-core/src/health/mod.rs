//! Account health (docs/risk-model.md): borrowing power, liquidation collateral, weighted and plain
//! debt, health factor, risk level, liquidatable or not, and liquidation prices.
//!
//! Everything here is a pure function of an [`Account`](crate::account::Account) and a
//! [`RiskSnapshot`] (the market side: prices, weights, indices), returning a result struct.
//! The snapshot is built once per price update and shared, like mango-v4's `HealthCache`.

mod compute;
pub mod estimate;
mod liquidation_price;
mod snapshot;
#[cfg(test)]
mod tests;

pub use compute::{Health, PositionHealth, largest_pair, position_health};
pub(crate) use compute::{Totals, Valued};
pub use liquidation_price::{
    Direction, LiquidationPrice, PairLiquidationPrice, liquidation_prices, pair_liquidation_price,
};
pub use snapshot::{AssetRisk, RiskSnapshot};

use crate::asset::AssetId;
use crate::money::MathError;

/// Why health could not be computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HealthError {
    #[error("asset {} is not listed or has no price", .0.0)]
    MissingAsset(AssetId),
    #[error(transparent)]
    Math(#[from] MathError),
}
