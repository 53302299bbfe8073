//! softliq's file formats, read into `softliq-core` types.
//!
//! The core never touches files; this crate does, and every error it returns names the file,
//! the field and the problem ([`ConfigError`]).
#![forbid(unsafe_code)]

mod account;
mod error;
mod markets;
mod number;
#[cfg(test)]
mod tests;

pub use account::AccountInput;
pub use error::{ConfigError, toml_error};
pub use markets::Markets;
pub use number::Number;
pub use prices::PriceInput;

mod prices;
