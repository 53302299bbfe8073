//! softliq-core: the pure domain of softliq.
//!
//! No I/O, no clock, no global state, no floating point in ledger paths: time and prices come
//! in as arguments and every function returns its result. Layers, bottom up:
//!
//! - [`money`]: exact fixed-point units and the one mul-div with named rounding;
//! - [`asset`]: risk parameters, their validation, and the rate model;
//! - [`pool`]: one asset's cash, shares, indices, reserves and interest accrual;
//! - [`account`]: an account's shares per asset;
//! - [`health`]: health factor, risk level and liquidation prices of an account at a snapshot;
//! - [`liquidation`]: the policies, quotes, settlement, bad debt and the keeper's plan;
//! - [`perp`]: perpetual positions, unified margin, funding, soft unwinding, backstop and ADL;
//! - [`profile`]: protocol profiles, rules of another protocol reproduced to the wei (Aave v3.6);
//! - [`bands`]: band conversion (Curve LLAMMA): a loan's collateral in price bands that
//!   arbitrageurs convert as the price moves.
#![forbid(unsafe_code)]
// Money is integers: a cast that can truncate, wrap or lose a sign is a bug unless it says why
// it cannot (an `allow` with its reason beside it). Test code, which indexes small fixtures,
// is exempt.
#![cfg_attr(
    not(test),
    warn(
        clippy::cast_possible_truncation,
        clippy::cast_possible_wrap,
        clippy::cast_sign_loss
    )
)]

pub mod account;
pub mod asset;
pub mod bands;
pub mod health;
pub mod liquidation;
pub mod money;
pub mod oracle;
pub mod perp;
pub mod pool;
pub mod profile;
#[doc(hidden)]
pub mod testing;
