//! Exact fixed-point money (docs/money.md).
//!
//! Amounts are `u128` base units; prices, values and ratios are WAD (10^18); interest indices are
//! RAY (10^27). Products go through a 256-bit intermediate ([`muldiv`]) so no precision is lost
//! before the single rounding of each operation, whose direction the caller names. The rule for
//! choosing it: round so that the protocol is never the one short — collateral value down, debt
//! value up, what the protocol pays out down, what it receives up.

mod decimal;
pub mod muldiv;
mod scaler;
mod signed;
mod units;

pub use decimal::{ParseError, ParseProblem, Scaled, format_scaled, parse_scaled};
pub use muldiv::Wide;
pub use scaler::Scaler;
pub use signed::{SignedRatio, SignedValue};
pub use units::{Amount, Decimals, Index, Price, Ratio, Shares, Value, WeightedSum};

/// 10^18: the scale of prices, values and ratios.
pub const WAD: u128 = 1_000_000_000_000_000_000;
/// 10^27: the scale of interest indices.
pub const RAY: u128 = 1_000_000_000_000_000_000_000_000_000;

/// Which way a quotient is rounded. Every operation that divides takes one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Rounding {
    /// Toward zero: for collateral value, what the protocol pays out, supply shares minted.
    Down,
    /// Away from zero: for debt value, what the protocol receives, debt shares booked.
    Up,
}

/// A checked arithmetic failure. Library code returns these; it never panics or wraps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum MathError {
    #[error("arithmetic overflow")]
    Overflow,
    #[error("division by zero")]
    DivisionByZero,
    #[error("result would be negative")]
    Negative,
}
