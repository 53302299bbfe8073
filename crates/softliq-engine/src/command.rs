//! Commands: what clients ask of the engine. Each carries a client id (idempotency) and a
//! timestamp (the engine's clock: time comes in with commands, it is never read).
//!
//! Amounts and prices travel as decimal strings in whole tokens / USD, exactly as a client
//! typed them; the engine parses them against the asset's decimals, so a malformed,
//! negative, over-precise or overflowing figure is refused with the field named.

use serde::{Deserialize, Serialize};
use softliq_core::account::AccountId;
use softliq_core::asset::{AssetId, AssetParams};
use softliq_core::liquidation::Policy;
use softliq_core::liquidation::auction::AuctionId;
pub use softliq_core::oracle::PriceSource;
use softliq_core::perp::{OrderId, OrderRequest, PerpMarketId, PerpParams};

/// A client-chosen command id. Repeating an id returns the first outcome and changes nothing;
/// the same id with a different body is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ClientId(pub u128);

impl ClientId {
    /// A client id from any text key (an HTTP `Idempotency-Key`, say): its first 128 bits of
    /// BLAKE3, so distinct keys collide with probability ~2⁻¹²⁸.
    #[must_use]
    pub fn from_key(key: &str) -> Self {
        let hash = blake3::hash(key.as_bytes());
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&hash.as_bytes()[..16]);
        Self(u128::from_le_bytes(bytes))
    }
}

/// One command.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Command {
    pub client_id: ClientId,
    /// Seconds since the Unix epoch; never less than the last accepted command's.
    pub timestamp_s: u64,
    pub body: CommandBody,
}

/// What a command asks for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CommandBody {
    /// Lists a new asset; its id is the next free one.
    ListAsset {
        symbol: String,
        params: AssetParams,
    },
    UpdateParams {
        asset: AssetId,
        params: AssetParams,
    },
    /// The market's liquidation policy and the price its liquidation checks use.
    SetPolicy {
        policy: Policy,
        liquidation_price: PriceSource,
    },
    /// Opens an account owned by `owner`; its id is the next free one.
    OpenAccount {
        owner: String,
    },
    Deposit {
        account: AccountId,
        asset: AssetId,
        amount: String,
    },
    Withdraw {
        account: AccountId,
        asset: AssetId,
        amount: String,
    },
    Borrow {
        account: AccountId,
        asset: AssetId,
        amount: String,
    },
    /// Repays up to `amount`; paying more than the debt takes only the debt.
    Repay {
        account: AccountId,
        asset: AssetId,
        amount: String,
    },
    /// A permissionless liquidation call: `liquidator` pays up to `max_repay` of the
    /// borrower's debt in `debt_asset` and receives collateral in `collateral_asset`, and the
    /// call is refused if that would be less than `min_collateral_out` tokens.
    Liquidate {
        liquidator: AccountId,
        borrower: AccountId,
        debt_asset: AssetId,
        collateral_asset: AssetId,
        max_repay: String,
        min_collateral_out: String,
    },
    /// Starts a Dutch auction on `borrower`'s debt in `debt_asset` against its collateral in
    /// `collateral_asset` (markets with the `dutch` policy); `keeper` receives the reward.
    Bark {
        keeper: AccountId,
        borrower: AccountId,
        debt_asset: AssetId,
        collateral_asset: AssetId,
    },
    /// Buys up to `amount` tokens of auction `auction`'s lot at no more than `max_price` USD per
    /// token; `keeper` pays from outside and receives the collateral.
    Take {
        keeper: AccountId,
        auction: AuctionId,
        amount: String,
        max_price: String,
    },
    /// Restarts an auction past `tail_s` or below `cusp · top` from a fresh top.
    Redo {
        keeper: AccountId,
        auction: AuctionId,
    },
    /// An oracle update: `price` in USD per whole token, observed at `published_s`.
    PostPrice {
        asset: AssetId,
        price: String,
        published_s: u64,
    },
    /// Moves the clock to the command's timestamp and accrues every pool.
    AdvanceTime,
    /// Supplies `amount` to the pool on behalf of the insurance fund.
    FundInsurance {
        asset: AssetId,
        amount: String,
    },
    /// The protocol takes over `borrower` (markets whose policy absorbs, when one of its tests
    /// holds): the treasury seizes collateral worth the debt plus the absorb penalty and takes
    /// over the debt; the shortfall of an underwater account is paid by reserves, insurance,
    /// suppliers. Anyone may ask; `absorber` is recorded.
    Absorb {
        absorber: AccountId,
        borrower: AccountId,
    },
    /// Buys the treasury's `asset` at the storefront price (oracle less the absorb
    /// `storefront_discount`), paying up to `max_pay` tokens of `pay_asset` from outside;
    /// refused if that buys less than `min_out` tokens.
    BuyCollateral {
        buyer: AccountId,
        asset: AssetId,
        pay_asset: AssetId,
        max_pay: String,
        min_out: String,
    },
    /// Lists a perpetual market; its id is the next free one. Its index is the oracle price of
    /// `params.index_asset`.
    ListPerpMarket {
        symbol: String,
        params: PerpParams,
    },
    /// Replaces a perp market's parameters (index asset and decimals are fixed at listing).
    UpdatePerpMarket {
        market: PerpMarketId,
        params: PerpParams,
    },
    /// Adds `amount` USD of margin to the account's perp wallet, from outside.
    /// USD into a perp market's insurance fund (admin).
    FundPerpInsurance {
        market: PerpMarketId,
        amount: String,
    },
    PerpDeposit {
        account: AccountId,
        amount: String,
    },
    /// Takes `amount` USD out of the perp wallet, if it leaves initial equity ≥ IM.
    PerpWithdraw {
        account: AccountId,
        amount: String,
    },
    /// Places an order (limit GTC / IOC / post-only, or market, optionally reduce-only).
    PlaceOrder {
        account: AccountId,
        order: OrderRequest,
    },
    CancelOrder {
        account: AccountId,
        market: PerpMarketId,
        order: OrderId,
    },
    /// One soft-unwinding step on `account` (and the backstop when due); `liquidator` receives
    /// the liquidator's share of the fees. Permissionless. With `take_backstop` the liquidator
    /// offers to take a backstop in the vault's place (it gets it when the account's wallet
    /// covers the transfer and its own wallet meets IM afterwards; decision 110).
    PerpLiquidate {
        liquidator: AccountId,
        account: AccountId,
        #[serde(default)]
        take_backstop: bool,
    },
}

impl CommandBody {
    /// The command's kind, as metrics and logs name it.
    #[must_use]
    pub const fn kind(&self) -> &'static str {
        match self {
            Self::ListAsset { .. } => "list_asset",
            Self::UpdateParams { .. } => "update_params",
            Self::SetPolicy { .. } => "set_policy",
            Self::OpenAccount { .. } => "open_account",
            Self::Deposit { .. } => "deposit",
            Self::Withdraw { .. } => "withdraw",
            Self::Borrow { .. } => "borrow",
            Self::Repay { .. } => "repay",
            Self::Liquidate { .. } => "liquidate",
            Self::Bark { .. } => "bark",
            Self::Take { .. } => "take",
            Self::Redo { .. } => "redo",
            Self::PostPrice { .. } => "post_price",
            Self::AdvanceTime => "advance_time",
            Self::FundInsurance { .. } => "fund_insurance",
            Self::Absorb { .. } => "absorb",
            Self::BuyCollateral { .. } => "buy_collateral",
            Self::ListPerpMarket { .. } => "list_perp_market",
            Self::UpdatePerpMarket { .. } => "update_perp_market",
            Self::FundPerpInsurance { .. } => "fund_perp_insurance",
            Self::PerpDeposit { .. } => "perp_deposit",
            Self::PerpWithdraw { .. } => "perp_withdraw",
            Self::PlaceOrder { .. } => "place_order",
            Self::CancelOrder { .. } => "cancel_order",
            Self::PerpLiquidate { .. } => "perp_liquidate",
        }
    }

    /// A 128-bit fingerprint of the body (BLAKE3 of its canonical encoding), used to tell a
    /// retry from a different command reusing an id.
    #[must_use]
    pub fn fingerprint(&self) -> [u8; 16] {
        // Encoded on the stack: growing a vector for every command was a third of the
        // fingerprint's cost. A body too long for the buffer takes the vector.
        let mut buffer = [0u8; 512];
        let hash = match postcard::to_slice(self, &mut buffer) {
            Ok(bytes) => blake3::hash(bytes),
            Err(_) => blake3::hash(&postcard::to_stdvec(self).unwrap_or_default()),
        };
        let mut out = [0u8; 16];
        out.copy_from_slice(&hash.as_bytes()[..16]);
        out
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use softliq_core::account::AccountId;
    use softliq_core::asset::AssetId;

    use super::CommandBody;

    /// The fingerprint as first defined: BLAKE3 of the body's encoding in a vector.
    fn reference(body: &CommandBody) -> [u8; 16] {
        let hash = blake3::hash(&postcard::to_stdvec(body).expect("encodes"));
        hash.as_bytes()[..16].try_into().expect("16 bytes")
    }

    proptest! {
        /// Bodies shorter and longer than the stack buffer (owners of up to 2,000 bytes)
        /// fingerprint as the vector encoding does, so stored receipts still match.
        #[test]
        fn fingerprints_are_the_encodings_hash(owner in "\\PC{0,2000}", amount in "[0-9]{1,40}", account in any::<u64>()) {
            let open = CommandBody::OpenAccount { owner };
            let deposit = CommandBody::Deposit { account: AccountId(account), asset: AssetId(3), amount };
            for body in [open, deposit] {
                prop_assert_eq!(body.fingerprint(), reference(&body));
            }
        }
    }
}
