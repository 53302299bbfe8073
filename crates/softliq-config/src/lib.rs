//! softliq's file formats, read into `softliq-core` types.
//!
//! The core never touches files; this crate does, and every error it returns names the file,
//! the field and the problem ([`ConfigError`]).
#![forbid(unsafe_code)]
// A cast that can truncate, wrap or lose a sign is a conversion with a reason: checked
// (`try_from`) or allowed where it stands with the reason. Tests are exempt.
#![cfg_attr(
    not(test),
    warn(
        clippy::cast_possible_truncation,
        clippy::cast_possible_wrap,
        clippy::cast_sign_loss
    )
)]

mod account;
mod error;
mod markets;
mod number;
pub mod policy;
#[cfg(test)]
mod tests;

pub use account::AccountInput;
pub use error::{ConfigError, toml_error};
pub use markets::Markets;
pub use number::Number;
pub use prices::PriceInput;

mod prices;
