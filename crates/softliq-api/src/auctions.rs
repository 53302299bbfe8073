//! Dutch auctions: the bodies of `bark`, `take` and `redo`, and the views of running auctions.

use serde::{Deserialize, Serialize};
use softliq_core::liquidation::auction::Step;
use utoipa::ToSchema;

use crate::names::Named;

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BarkRequest {
    /// The account (owned by the calling token) that receives the keeper's reward.
    pub keeper: u64,
    pub borrower: u64,
    /// The debt to auction (id or symbol); the account's largest debt by value when absent.
    pub debt_asset: Option<Named>,
    /// The collateral to sell (id or symbol); the account's largest collateral by value when
    /// absent.
    pub collateral_asset: Option<Named>,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TakeRequest {
    /// The account (owned by the calling token) that receives the collateral.
    pub keeper: u64,
    /// Most collateral tokens to buy.
    #[schema(pattern = r"^(0|[1-9][0-9]*)(\.[0-9]+)?$", example = "2.5")]
    pub amount: String,
    /// Most USD per collateral token to pay.
    #[schema(pattern = r"^(0|[1-9][0-9]*)(\.[0-9]+)?$", example = "2850")]
    pub max_price: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RedoRequest {
    /// The account (owned by the calling token) that receives the keeper's reward.
    pub keeper: u64,
}

/// What buying the whole lot now would take and give.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct TakeAll {
    /// Collateral tokens a take of the whole lot receives (less than the lot when the tab is
    /// paid first).
    pub collateral: String,
    /// USD it pays at the current price.
    pub cost: String,
    /// USD the collateral is worth at the oracle's spot price; `null` without a price.
    pub value: Option<String>,
}

/// One running auction at the engine clock's time now.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct AuctionRow {
    pub id: u64,
    pub borrower: u64,
    pub debt_asset: u16,
    pub debt_symbol: String,
    pub collateral_asset: u16,
    pub collateral_symbol: String,
    /// USD per collateral token now.
    pub price: String,
    pub top: String,
    pub elapsed_s: u64,
    /// Takes wait for a `redo`.
    pub needs_reset: bool,
    /// Seconds until it needs a reset.
    pub reset_in_s: u64,
    /// Collateral tokens left.
    pub lot: String,
    /// Debt-asset tokens still owed (debt plus penalty).
    pub tab: String,
    pub penalty: String,
    pub resets: u32,
    pub take_all: TakeAll,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct AuctionsView {
    pub now_s: u64,
    pub policy: String,
    /// USD under auction, and the global cap (`null` outside `dutch` markets).
    pub dirt_total: String,
    pub hole_total: Option<String>,
    /// Running auctions in all.
    pub total: usize,
    pub auctions: Vec<AuctionRow>,
    /// Pass as `after` for the next page; `null` on the last.
    pub next: Option<u64>,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct AuctionDetail {
    pub id: u64,
    /// `null` once the auction ended.
    pub status: Option<AuctionRow>,
    /// Every step (`started`, `taken`, `reset`, `finished`) with its figures in base units.
    #[schema(value_type = Vec<Object>)]
    pub history: Vec<Step>,
}
