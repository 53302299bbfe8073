//! Soft liquidation (docs/liquidation.md): policies, quotes, exact settlement, bad debt, and the
//! keeper's plan.
//!
//! - [`policy`]: the five rules and their closed forms;
//! - [`quote`]: what one call would do, or a typed refusal;
//! - [`settle`]: applying a quote to balances, exactly, plus bad debt in the same step;
//! - [`bad_debt`]: insurance cover and socialisation;
//! - [`absorb`]: the protocol takes over accounts no liquidator will touch, and sells the
//!   collateral at its storefront;
//! - [`plan`]: the call a rational liquidator makes next, and the sequence until healthy;
//! - [`cost`]: what a call must earn to be worth making (fee, slippage into a linear book);
//! - [`aave`]: the `aave_v3` profile as a rule: an account in Aave's terms and its call as a quote;
//! - [`auction`]: the `dutch` policy's auctions (docs/liquidation.md, Dutch auctions): `bark`,
//!   `take`, `redo`.

pub mod aave;
pub mod absorb;
pub mod auction;
pub mod bad_debt;
pub mod cost;
pub mod plan;
pub mod policy;
pub mod quote;
pub mod settle;
#[cfg(test)]
mod tests;

pub use absorb::{Absorb, Absorption, Protocol, Purchase, Reason, Sale, absorb, buy_collateral};
pub use bad_debt::{BadDebtEvent, realise_bad_debt};
pub use cost::{CostModel, Profit};
pub use plan::{Plan, plan, plan_until_healthy, two_step_extraction};
pub use policy::{Incentive, Need, Policy, Rule};
pub use quote::{Basis, Bound, Quote, Request, Stage, quote};
pub use settle::{Parties, Settlement, liquidate, settle};

use crate::asset::AssetId;
use crate::health::HealthError;
use crate::money::{Amount, MathError, Ratio};
use crate::pool::PoolError;
use auction::AuctionId;

/// Why a liquidation call was refused. A refused call changes nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("max_repay: must be greater than zero")]
    ZeroAmount,
    #[error("price: the price of asset {} is stale", .0.0)]
    StalePrice(AssetId),
    #[error("account: not liquidatable (health factor {})", health_factor.map_or_else(|| "infinite: no debt".to_owned(), |h| h.to_string()))]
    NotLiquidatable { health_factor: Option<Ratio> },
    #[error("debt_asset: the account owes nothing in asset {}", .0.0)]
    NoDebt(AssetId),
    #[error("collateral_asset: the account holds no collateral in asset {}", .0.0)]
    NoCollateral(AssetId),
    #[error("max_repay: the call would leave dust; repay at least {minimum} base units")]
    WouldLeaveDust { minimum: Amount },
    #[error("max_repay: a buffer-band call must repay at least {minimum} USD")]
    BelowMinimum { minimum: crate::money::Value },
    #[error(
        "account: not absorbable (health factor {}, liquidatable for {age_s} s): none of the market's absorb tests holds",
        health_factor.map_or_else(|| "infinite: no debt".to_owned(), |h| h.to_string())
    )]
    NotAbsorbable {
        health_factor: Option<Ratio>,
        age_s: u64,
    },
    #[error("policy: this market does not absorb accounts (its policy has no absorb)")]
    NoAbsorb,
    #[error("asset: the treasury holds none of asset {} to sell", .0.0)]
    NothingToSell(AssetId),
    #[error("quote: the account changed since the quote")]
    StaleQuote,
    #[error("policy: this market sells collateral by Dutch auction; use bark and take")]
    AuctionMarket,
    #[error("policy: this market liquidates by calls; auctions need the dutch policy")]
    NotAuctionMarket,
    #[error("collateral_asset: must differ from debt_asset")]
    SameAsset,
    #[error(
        "debt_asset: only {room} USD of tab may start under hole_total and the asset's auction_hole, too little for more than dust"
    )]
    NoRoom { room: crate::money::Value },
    #[error("auction: no running auction {}", .0.0)]
    UnknownAuction(AuctionId),
    #[error("auction: auction {} ran past tail_s or below cusp * top; it needs a redo first", .0.0)]
    NeedsReset(AuctionId),
    #[error("auction: still open for takes; it may be reset in {reset_in_s} s")]
    StillRunning { reset_in_s: u64 },
    #[error("max_price: the auction's price {price} is above {max_price}")]
    PriceAboveMax {
        price: crate::money::Price,
        max_price: crate::money::Price,
    },
    #[error(
        "amount: a partial take must leave at least chost of tab; buy at most {max_partial} base units, or the whole lot"
    )]
    LeavesLessThanChost { max_partial: Amount },
    #[error("amount: too small to buy a single share of the lot")]
    TakeTooSmall,
    /// The `aave_v3` profile's call reverts as Aave v3.6 would, by Aave's error name.
    #[error("max_repay: Aave v3.6 reverts this call with {name}{hint}", name = .0, hint = aave_hint(*.0))]
    Aave(crate::profile::aave_v3::Revert),
    #[error(transparent)]
    Health(#[from] HealthError),
    #[error(transparent)]
    Math(#[from] MathError),
    #[error(transparent)]
    Pool(#[from] PoolError),
}

/// What an Aave revert means for the caller.
fn aave_hint(revert: crate::profile::aave_v3::Revert) -> &'static str {
    use crate::profile::aave_v3::Revert;
    match revert {
        Revert::MustNotLeaveDust => {
            " (the call must clear the debt in the asset, take all the collateral, or leave at least 1,000 USD of each)"
        }
        Revert::InvalidBurnAmount => " (too small to burn one scaled unit)",
        _ => "",
    }
}
