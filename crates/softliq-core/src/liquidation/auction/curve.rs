//! How an auction's price falls from its `top` with the seconds `t` since it started or was
//! reset (Maker's "abacus"):
//!
//! - `linear { tau_s }`: `top · (tau − t) / tau`, zero from `tau` on;
//! - `stairstep { cut, step_s }`: `top · cut^⌊t / step⌋`;
//! - `exponential { cut }`: `top · cut^t` (`cut` per second).
//!
//! Rounding: a keeper pays the curve's price for collateral, so the protocol's side is the
//! higher price. Every result is at or above the exact value: the linear quotient rounds up,
//! and the power `cut^n` is taken at RAY precision with each product rounded up (so the factor
//! is at or above the exact power, by at most one RAY unit per multiplication) before one
//! final product with `top`, rounded up.

use crate::asset::ParamError;
use crate::money::muldiv::{mul_div, mul_div_pow10};
use crate::money::{Index, MathError, Price, Ratio, Rounding};

/// The longest linear `tau` and stair `step`: 30 days.
pub const DURATION_MAX_S: u64 = 30 * 86_400;

/// A price curve and its parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Curve {
    Linear { tau_s: u64 },
    Stairstep { cut: Ratio, step_s: u64 },
    Exponential { cut: Ratio },
}

impl Curve {
    /// Checks the curve's bounds: `0 < tau ≤ 30 days`, `0 < step ≤ 30 days`, `0 < cut < 1`.
    ///
    /// # Errors
    /// The parameter out of bounds, named with its bound.
    pub fn validate(&self) -> Result<(), ParamError> {
        let duration = |field, s: u64| {
            if s == 0 || s > DURATION_MAX_S {
                return Err(ParamError::new(
                    field,
                    "0 < duration <= 2592000 s (30 days)",
                    s,
                ));
            }
            Ok(())
        };
        let cut = |c: Ratio| {
            if c.is_zero() || c >= Ratio::ONE {
                return Err(ParamError::new("cut", "0 < cut < 1", c));
            }
            Ok(())
        };
        match *self {
            Self::Linear { tau_s } => duration("tau_s", tau_s),
            Self::Stairstep { cut: c, step_s } => {
                cut(c)?;
                duration("step_s", step_s)
            }
            Self::Exponential { cut: c } => cut(c),
        }
    }

    /// The price `elapsed_s` seconds after an auction started at `top`, rounded up.
    ///
    /// # Errors
    /// `Overflow` only for a `top` beyond any real price.
    pub fn price(&self, top: Price, elapsed_s: u64) -> Result<Price, MathError> {
        match *self {
            Self::Linear { tau_s } => {
                if elapsed_s >= tau_s {
                    return Ok(Price::ZERO);
                }
                let left = u128::from(tau_s - elapsed_s);
                mul_div(top.raw(), left, u128::from(tau_s), Rounding::Up).map(Price::from_raw)
            }
            Self::Stairstep { cut, step_s } => scaled(top, cut, elapsed_s / step_s),
            Self::Exponential { cut } => scaled(top, cut, elapsed_s),
        }
    }
}

/// `top · cut^n`, rounded up.
fn scaled(top: Price, cut: Ratio, n: u64) -> Result<Price, MathError> {
    let factor: Index = cut.to_index()?.pow(n, Rounding::Up)?;
    mul_div_pow10(top.raw(), factor.raw(), Index::SCALE, Rounding::Up).map(Price::from_raw)
}
