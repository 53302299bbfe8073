//! Rejections: why a command was refused. A rejected command changes nothing, and its reason
//! names the field at fault and the limit it broke.

use serde::{Deserialize, Serialize};
use softliq_core::asset::ParamError;
use softliq_core::health::HealthError;
use softliq_core::liquidation::Refusal;
use softliq_core::money::{MathError, ParseError};
use softliq_core::pool::PoolError;

/// The reason, as a stable machine-readable code (metrics count rejections by it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Code {
    /// The same client id with a different body.
    IdempotencyConflict,
    TimeWentBackwards,
    UnknownAsset,
    UnknownAccount,
    /// Treasury and insurance accounts take no user commands.
    ReservedAccount,
    InvalidAmount,
    ZeroAmount,
    InvalidParams,
    InvalidPrice,
    NoPrice,
    StalePrice,
    /// The asset's circuit breaker is open: liquidations wait.
    BreakerOpen,
    /// The command would leave the account above its borrowing power.
    Unhealthy,
    InsufficientCash,
    CapExceeded,
    NotLiquidatable,
    /// A liquidation refused by the policy (dust, minimum size, nothing to take).
    LiquidationRefused,
    /// The call would pay the liquidator less than `min_collateral_out`.
    Slippage,
    /// A call in an auction market, or an auction command in a call market.
    WrongMechanism,
    UnknownAuction,
    /// The auction ran past `tail_s` or below `cusp · top`: it needs a `redo` first.
    AuctionNeedsReset,
    /// A `redo` of an auction still open for takes.
    AuctionRunning,
    /// The auction's price is above the keeper's `max_price`.
    PriceAboveMax,
    /// Arithmetic would overflow: an amount too large for the ledger.
    Overflow,
    /// An invariant broke: the engine halted (a bug; see the message).
    InvariantBroken,
    /// The engine halted after a broken invariant and takes no more commands.
    Halted,
    /// An absorb of an account that none of the market's absorb tests allows.
    NotAbsorbable,
}

impl Code {
    /// The code as the API spells it (`stale_price`).
    #[must_use]
    pub fn name(self) -> String {
        // The variant in snake case, as `#[serde(rename_all = "snake_case")]` writes it.
        let mut out = String::new();
        for (i, c) in format!("{self:?}").chars().enumerate() {
            if c.is_ascii_uppercase() {
                if i > 0 {
                    out.push('_');
                }
                out.push(c.to_ascii_lowercase());
            } else {
                out.push(c);
            }
        }
        out
    }
}

/// A refused command.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{field}: {message} ({})", code.name())]
pub struct Rejection {
    pub code: Code,
    /// The command field at fault (`amount`, `asset`, `timestamp_s`, …).
    pub field: String,
    pub message: String,
}

impl Rejection {
    #[must_use]
    pub fn new(code: Code, field: &str, message: impl Into<String>) -> Self {
        Self {
            code,
            field: field.to_owned(),
            message: message.into(),
        }
    }

    pub(crate) fn parse(e: &ParseError) -> Self {
        Self::new(Code::InvalidAmount, &e.field, e.problem.to_string())
    }

    pub(crate) fn params(e: &ParamError) -> Self {
        Self::new(
            Code::InvalidParams,
            &format!("params.{}", e.field),
            format!("{} is out of bounds: {}", e.value, e.bound),
        )
    }

    pub(crate) fn math(field: &str, e: MathError) -> Self {
        Self::new(Code::Overflow, field, e.to_string())
    }

    pub(crate) fn pool(field: &str, e: PoolError) -> Self {
        let code = match e {
            PoolError::ZeroAmount | PoolError::BelowOneShare => Code::ZeroAmount,
            PoolError::InsufficientCash { .. } => Code::InsufficientCash,
            PoolError::SupplyCap { .. } | PoolError::BorrowCap { .. } => Code::CapExceeded,
            PoolError::TimeWentBackwards { .. } => Code::TimeWentBackwards,
            PoolError::Math(_) => Code::Overflow,
            PoolError::ReservesFell => Code::InvariantBroken,
        };
        Self::new(code, field, e.to_string())
    }

    pub(crate) fn health(e: HealthError) -> Self {
        match e {
            HealthError::MissingAsset(a) => Self::new(
                Code::NoPrice,
                "asset",
                format!("asset {} has no price", a.0),
            ),
            HealthError::Math(m) => Self::math("amount", m),
        }
    }

    pub(crate) fn refusal(e: Refusal) -> Self {
        let (code, field) = match e {
            Refusal::ZeroAmount => (Code::ZeroAmount, "max_repay"),
            Refusal::StalePrice(_) => (Code::StalePrice, "price"),
            Refusal::NotLiquidatable { .. } => (Code::NotLiquidatable, "borrower"),
            Refusal::NoDebt(_) => (Code::LiquidationRefused, "debt_asset"),
            Refusal::NoCollateral(_) => (Code::LiquidationRefused, "collateral_asset"),
            Refusal::WouldLeaveDust { .. } | Refusal::BelowMinimum { .. } => {
                (Code::LiquidationRefused, "max_repay")
            }
            Refusal::StaleQuote => (Code::LiquidationRefused, "quote"),
            Refusal::AuctionMarket | Refusal::NotAuctionMarket => (Code::WrongMechanism, "policy"),
            Refusal::SameAsset => (Code::InvalidParams, "collateral_asset"),
            Refusal::NoRoom { .. } => (Code::CapExceeded, "debt_asset"),
            Refusal::UnknownAuction(_) => (Code::UnknownAuction, "auction"),
            Refusal::NeedsReset(_) => (Code::AuctionNeedsReset, "auction"),
            Refusal::StillRunning { .. } => (Code::AuctionRunning, "auction"),
            Refusal::PriceAboveMax { .. } => (Code::PriceAboveMax, "max_price"),
            Refusal::LeavesLessThanChost { .. } | Refusal::TakeTooSmall => {
                (Code::LiquidationRefused, "amount")
            }
            Refusal::NotAbsorbable { .. } => (Code::NotAbsorbable, "borrower"),
            Refusal::NoAbsorb => (Code::WrongMechanism, "policy"),
            Refusal::NothingToSell(_) => (Code::LiquidationRefused, "asset"),
            Refusal::Aave(_) => (Code::LiquidationRefused, "max_repay"),
            Refusal::Health(h) => return Self::health(h),
            Refusal::Math(m) => return Self::math("max_repay", m),
            Refusal::Pool(p) => return Self::pool("max_repay", p),
        };
        Self::new(code, field, e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::Code;

    /// Messages spell a code as the API does: the serde name of every variant.
    #[test]
    fn a_code_is_named_as_the_api_spells_it() {
        for code in [
            Code::IdempotencyConflict,
            Code::TimeWentBackwards,
            Code::UnknownAsset,
            Code::UnknownAccount,
            Code::ReservedAccount,
            Code::InvalidAmount,
            Code::ZeroAmount,
            Code::InvalidParams,
            Code::InvalidPrice,
            Code::NoPrice,
            Code::StalePrice,
            Code::BreakerOpen,
            Code::Unhealthy,
            Code::InsufficientCash,
            Code::CapExceeded,
            Code::NotLiquidatable,
            Code::LiquidationRefused,
            Code::Slippage,
            Code::WrongMechanism,
            Code::UnknownAuction,
            Code::AuctionNeedsReset,
            Code::AuctionRunning,
            Code::PriceAboveMax,
            Code::Overflow,
            Code::InvariantBroken,
            Code::Halted,
            Code::NotAbsorbable,
        ] {
            let serde = serde_json::to_value(code).unwrap();
            assert_eq!(serde.as_str(), Some(code.name().as_str()));
        }
        let r = super::Rejection::new(Code::StalePrice, "price", "old");
        assert_eq!(r.to_string(), "price: old (stale_price)");
    }
}
