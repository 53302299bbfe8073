//! Events: what an accepted command did, in order. The log keeps them beside the command, so a
//! reader can follow the market without re-running it.

use serde::{Deserialize, Serialize};
use softliq_core::account::AccountId;
use softliq_core::asset::AssetId;
use softliq_core::liquidation::auction::{AuctionId, Step};
use softliq_core::liquidation::{BadDebtEvent, Policy, Quote};
use softliq_core::money::{Amount, Index, Price, Ratio, Shares};

use crate::command::PriceSource;

/// Why a circuit breaker closed.
/// A command's events, shared between its receipt (for retries) and whoever applied it: a
/// price update that flags thousands of accounts is not copied.
pub type Events = std::sync::Arc<Vec<Event>>;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakerClose {
    /// A later price within `max_jump` of the jumped one confirmed it.
    Confirmed,
}

/// One thing an accepted command did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    AssetListed {
        asset: AssetId,
        symbol: String,
    },
    ParamsUpdated {
        asset: AssetId,
    },
    PolicySet {
        /// Boxed: the largest payload by far, and every event is as large as the largest.
        policy: Box<Policy>,
        liquidation_price: PriceSource,
    },
    AccountOpened {
        account: AccountId,
        owner: String,
    },
    /// Interest accrued on `asset` since its last accrual.
    Accrued {
        asset: AssetId,
        elapsed_s: u64,
        interest: Amount,
        to_reserves: Amount,
        borrow_index: Index,
        supply_index: Index,
    },
    Deposited {
        account: AccountId,
        asset: AssetId,
        amount: Amount,
        shares: Shares,
    },
    Withdrawn {
        account: AccountId,
        asset: AssetId,
        amount: Amount,
        shares: Shares,
    },
    Borrowed {
        account: AccountId,
        asset: AssetId,
        amount: Amount,
        shares: Shares,
    },
    Repaid {
        account: AccountId,
        asset: AssetId,
        amount: Amount,
        shares: Shares,
    },
    InsuranceFunded {
        asset: AssetId,
        amount: Amount,
        shares: Shares,
    },
    /// A settled liquidation call; `quote` has every figure (repaid, seized, split, health
    /// before and after).
    Liquidated {
        borrower: AccountId,
        liquidator: AccountId,
        policy: String,
        quote: Box<Quote>,
        treasury_shares: Shares,
        insurance_shares: Shares,
    },
    /// A step of a Dutch auction (start, take, reset, end); `borrower` is whose position it
    /// sells.
    Auction {
        auction: AuctionId,
        borrower: AccountId,
        step: Box<Step>,
    },
    /// A step of realising the borrower's bad debt (SPEC §5).
    BadDebt {
        account: AccountId,
        step: BadDebtEvent,
    },
    PriceAccepted {
        asset: AssetId,
        price: Price,
        published_s: u64,
    },
    /// The price moved more than `max_jump` from the last accepted one: liquidations on the
    /// asset wait until a confirming update or `until_s`.
    BreakerOpened {
        asset: AssetId,
        price: Price,
        previous: Price,
        until_s: u64,
    },
    BreakerClosed {
        asset: AssetId,
        reason: BreakerClose,
    },
    /// Detection: the account crossed into liquidatable at the liquidation price.
    BecameLiquidatable {
        account: AccountId,
        health_factor: Option<Ratio>,
    },
    /// Detection: the account is no longer liquidatable.
    Recovered {
        account: AccountId,
        health_factor: Option<Ratio>,
    },
}
