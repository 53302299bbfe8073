//! Dutch auctions (docs/liquidation.md, MakerDAO Liquidations 2.0 style): the alternative to
//! fixed-discount calls.
//!
//! - [`curve`]: how the price falls from `top`;
//! - [`params`]: the `dutch` policy's parameters and bounds;
//! - [`book`]: the running auctions and the caps' totals;
//! - `bark`, `take`, `redo`: the three flows, as methods of [`AuctionBook`];
//! - `status`: what a keeper or a dashboard asks of a running auction.
//!
//! Rounding, everywhere in the protocol's favour: the price is rounded up; what a keeper owes
//! for collateral is rounded up and the collateral it receives for a payment rounded down; the
//! tab's value counted against the caps is rounded up and released rounded down; rewards paid
//! out of the treasury are rounded down.

mod bark;
pub mod book;
pub mod curve;
pub mod params;
mod redo;
mod status;
mod take;
#[cfg(test)]
mod tests;

pub use bark::Bark;
pub use book::{Auction, AuctionBook, AuctionId, Outcome};
pub use curve::Curve;
pub use params::Dutch;
pub use status::Status;
pub use take::{Take, Taken};

use super::Refusal;
use super::policy::{Policy, Rule};
use crate::account::{Account, AccountId};
use crate::asset::AssetId;
use crate::health::RiskSnapshot;
use crate::money::{Amount, Decimals, Index, Price, Rounding, Shares, Value};

/// What a flow needs to know about the market besides the balances it changes.
#[derive(Clone, Copy, Debug)]
pub struct Market<'a> {
    /// The market's policy; its rule must be `Dutch`. Its `dust_value` sizes partial starts and
    /// decides bad debt (docs/liquidation.md, Bad debt); its `insurance_share` splits the penalty.
    pub policy: &'a Policy,
    /// Prices and parameters at the liquidation price source.
    pub snapshot: &'a RiskSnapshot,
    /// Each asset's own cap on tab under auction (`auction_hole`), indexed by asset id.
    pub asset_holes: &'a [Option<Value>],
    pub now_s: u64,
}

impl Market<'_> {
    /// The `dutch` parameters, or the refusal every flow gives in a market that liquidates by
    /// calls.
    ///
    /// # Errors
    /// `NotAuctionMarket`.
    pub fn dutch(&self) -> Result<&Dutch, Refusal> {
        match &self.policy.rule {
            Rule::Dutch(d) => Ok(d),
            _ => Err(Refusal::NotAuctionMarket),
        }
    }
}

/// A keeper's reward for starting or resetting an auction: `tip + chip · tab` in USD, paid as
/// supply shares of the debt asset out of the treasury's, rounded down. A treasury that holds
/// less pays what it holds, and the reward says it was short.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Reward {
    pub owed: Value,
    /// Supply shares of the debt asset moved from the treasury to the keeper.
    pub paid_shares: Shares,
    /// What those shares are worth in tokens of the debt asset, rounded down.
    pub paid: Amount,
    /// The treasury held less than the reward.
    pub short: bool,
}

/// One entry of an auction's history.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// `bark`: the lot and the debt left the borrower's account.
    Started {
        at_s: u64,
        keeper: AccountId,
        borrower: AccountId,
        debt_asset: AssetId,
        collateral_asset: AssetId,
        /// Tokens of debt moved (rounded up) and the penalty added on top.
        debt: Amount,
        penalty: Amount,
        lot: Shares,
        lot_tokens: Amount,
        top: Price,
        dirt: Value,
        reward: Reward,
    },
    /// `take`: a keeper bought `bought` tokens of collateral for `paid` tokens of debt asset.
    Taken {
        at_s: u64,
        keeper: AccountId,
        price: Price,
        bought: Amount,
        bought_shares: Shares,
        paid: Amount,
        /// Of `paid`: what repaid debt, and what paid the penalty.
        to_debt: Amount,
        to_penalty: Amount,
        /// The penalty's split as supply shares of the debt asset.
        treasury_shares: Shares,
        insurance_shares: Shares,
        tab_left: Amount,
        lot_left: Shares,
        released: Value,
    },
    /// `redo`: a fresh top after `tail` or below `cusp · top`.
    Reset {
        at_s: u64,
        keeper: AccountId,
        top: Price,
        debt_price: Price,
        /// `None` when the tab or the lot was worth less than `chost`.
        reward: Option<Reward>,
    },
    Finished {
        at_s: u64,
        outcome: Outcome,
    },
}

/// Pays a keeper's reward for an auction whose tab is worth `tab_value`.
fn pay_reward(
    dutch: &Dutch,
    tab_value: Value,
    debt: (AssetId, Price, Decimals, Index),
    keeper: &mut Account,
    treasury: &mut Account,
) -> Result<Reward, Refusal> {
    let (asset, price, decimals, supply_index) = debt;
    let owed = dutch
        .tip
        .checked_add(tab_value.mul_ratio(dutch.chip, Rounding::Down)?)?;
    let shares = owed
        .to_amount(price, decimals, Rounding::Down)?
        .to_shares(supply_index, Rounding::Down)?;
    let paid_shares = shares.min(treasury.position(asset).supply);
    if !paid_shares.is_zero() {
        treasury.remove_supply(asset, paid_shares)?;
        keeper.add_supply(asset, paid_shares)?;
    }
    Ok(Reward {
        owed,
        paid_shares,
        paid: paid_shares.to_amount(supply_index, Rounding::Down)?,
        short: paid_shares < shares,
    })
}
