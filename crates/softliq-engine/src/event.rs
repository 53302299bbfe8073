//! Events: what an accepted command did, in order. The log keeps them beside the command, so a
//! reader can follow the market without re-running it.

use serde::{Deserialize, Serialize};
use softliq_core::account::AccountId;
use softliq_core::asset::AssetId;
use softliq_core::liquidation::auction::{AuctionId, Step};
use softliq_core::liquidation::{Absorption, BadDebtEvent, Policy, Quote, Sale};
use softliq_core::money::{Amount, Index, Price, Ratio, Shares, SignedRatio, Value};
use softliq_core::perp::{Match, OrderId, OrderRequest, PerpMarketId};

use crate::command::PriceSource;

/// A command's events, shared between its receipt (for retries) and whoever applied it: a
/// price update that flags thousands of accounts is not copied. A slice, not a `Vec`: one
/// allocation of exactly the events, where a `Vec` in an `Arc` was two with up to half of one
/// unused, kept for the whole idempotency window (a third of a deposit's kept memory).
pub type Events = std::sync::Arc<[Event]>;

/// Why a circuit breaker closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakerClose {
    /// A later price within `max_jump` of the jumped one confirmed it.
    Confirmed,
}

/// One thing an accepted command did.
///
/// 48 bytes: the rare large payloads (an accrual, a liquidation) are boxed, so that the
/// thousands of detection events a crash update makes (each kept in the command's receipt) take
/// half the memory. A boxed struct in a newtype variant encodes exactly like the struct variant
/// it replaces, in JSON and in postcard.
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
    /// Interest accrued on an asset since its last accrual.
    Accrued(Box<Accrual>),
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
    /// A settled liquidation call.
    Liquidated(Box<Liquidation>),
    /// A step of a Dutch auction (start, take, reset, end); `borrower` is whose position it
    /// sells.
    Auction {
        auction: AuctionId,
        borrower: AccountId,
        step: Box<Step>,
    },
    /// A step of realising the borrower's bad debt (docs/liquidation.md, Bad debt).
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
    /// The protocol absorbed an account; its shortfall's steps follow as `BadDebt` events.
    Absorbed(Box<Absorbed>),
    /// A storefront sale of the treasury's collateral.
    CollateralBought(Box<Bought>),
    PerpMarketListed {
        market: PerpMarketId,
        symbol: String,
    },
    PerpMarketUpdated {
        market: PerpMarketId,
    },
    PerpDeposited {
        account: AccountId,
        amount: Value,
    },
    PerpInsuranceFunded {
        market: PerpMarketId,
        amount: Value,
    },
    PerpWithdrawn {
        account: AccountId,
        amount: Value,
    },
    /// An order and what the book did with it (fills at the makers' prices).
    OrderPlaced(Box<OrderPlaced>),
    OrderCancelled {
        account: AccountId,
        market: PerpMarketId,
        order: OrderId,
    },
    /// A funding tick: `rate` per interval, longs pay when positive.
    Funding {
        market: PerpMarketId,
        rate: SignedRatio,
    },
    /// One liquidation step on a perp account.
    PerpLiquidated(Box<PerpLiquidated>),
    /// Perp detection: the wallet's maintenance equity reached its maintenance margin (or it is
    /// being unwound). `health_factor` is its unified HF (perp side), `None` when flat.
    PerpBecameLiquidatable {
        account: AccountId,
        health_factor: Option<Ratio>,
    },
    /// Perp detection: the wallet is no longer liquidatable.
    PerpRecovered {
        account: AccountId,
        health_factor: Option<Ratio>,
    },
}

/// Interest accrued on `asset` since its last accrual, and the indices after it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Accrual {
    pub asset: AssetId,
    pub elapsed_s: u64,
    pub interest: Amount,
    pub to_reserves: Amount,
    pub borrow_index: Index,
    pub supply_index: Index,
}

/// A settled liquidation call; `quote` has every figure (repaid, seized, split, health before
/// and after).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Liquidation {
    pub borrower: AccountId,
    pub liquidator: AccountId,
    pub policy: String,
    pub quote: Quote,
    pub treasury_shares: Shares,
    pub insurance_shares: Shares,
}

/// An absorb: who asked, whose account, and every figure of it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Absorbed {
    pub borrower: AccountId,
    pub absorber: AccountId,
    pub absorption: Absorption,
}

/// A storefront sale.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bought {
    pub buyer: AccountId,
    pub sale: Sale,
}

/// What placing an order did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderPlaced {
    pub account: AccountId,
    pub order: OrderId,
    pub request: OrderRequest,
    pub fills: Vec<Match>,
    pub rested: Amount,
    pub cancelled: Amount,
    pub self_trade_cancels: Vec<OrderId>,
}

/// One chunk of a perp liquidation round.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PerpChunk {
    pub market: PerpMarketId,
    pub size: i128,
    pub notional: Value,
    pub fee: Value,
}

/// A perp liquidation step: the round's chunks and, when it ran, the backstop's outcome.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PerpLiquidated {
    pub account: AccountId,
    pub liquidator: AccountId,
    pub chunks: Vec<PerpChunk>,
    pub orders_cancelled: Vec<OrderId>,
    /// The makers the chunks filled against.
    pub makers: Vec<AccountId>,
    pub backstop: bool,
    /// Who took the backstopped positions: the vault's account, or the liquidator that offered
    /// to. `None` without a backstop.
    pub taker: Option<AccountId>,
    /// The margin the taker kept as its price for the risk (at most the positions' MM).
    pub margin_to_taker: Value,
    pub insurance_paid: Value,
    /// Auto-deleveraging: the positions closed against the bankrupt account's.
    pub adl: Vec<PerpAdl>,
    pub bad_debt: Value,
}

/// One auto-deleveraging fill: `size` of `account`'s position in `market` closed at the
/// bankruptcy price, its realised profit cut by `haircut`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PerpAdl {
    pub account: AccountId,
    pub market: PerpMarketId,
    pub size: Amount,
    pub haircut: Value,
}

#[cfg(test)]
mod tests {
    use serde::Serialize;
    use softliq_core::asset::AssetId;
    use softliq_core::money::{Amount, Index};

    use super::{Accrual, Event};

    /// Detection events are kept in receipts by the thousand: a new large variant must be boxed.
    #[test]
    fn events_stay_small() {
        assert_eq!(std::mem::size_of::<Event>(), 48);
    }

    /// Logs written when `Accrued` was a struct variant read the same as now.
    #[test]
    fn boxed_variants_encode_as_struct_variants() {
        #[derive(Serialize)]
        #[serde(rename_all = "snake_case")]
        enum Before {
            AssetListed,
            ParamsUpdated,
            PolicySet,
            AccountOpened,
            Accrued {
                asset: AssetId,
                elapsed_s: u64,
                interest: Amount,
                to_reserves: Amount,
                borrow_index: Index,
                supply_index: Index,
            },
        }
        let a = Accrual {
            asset: AssetId(3),
            elapsed_s: 12,
            interest: Amount::from_raw(1_234_567),
            to_reserves: Amount::from_raw(89),
            borrow_index: Index::from_raw(Index::ONE.raw() + 5),
            supply_index: Index::from_raw(Index::ONE.raw() + 2),
        };
        let before = Before::Accrued {
            asset: a.asset,
            elapsed_s: a.elapsed_s,
            interest: a.interest,
            to_reserves: a.to_reserves,
            borrow_index: a.borrow_index,
            supply_index: a.supply_index,
        };
        let _ = [
            Before::AssetListed,
            Before::ParamsUpdated,
            Before::PolicySet,
            Before::AccountOpened,
        ];
        assert_eq!(
            postcard::to_stdvec(&Event::Accrued(Box::new(a))).expect("encodes"),
            postcard::to_stdvec(&before).expect("encodes")
        );
    }
}
