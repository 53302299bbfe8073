//! The kinked borrow-rate model (docs/interest.md).
//!
//! `rate(U) = base + slope1 · U/u*` up to the kink `u*`, then
//! `base + slope1 + slope2 · (U − u*)/(1 − u*)`, per year. Gentle below the kink so borrowing
//! is cheap while liquidity is plentiful; steep above it so that lenders can always withdraw.

use super::params::ParamError;
use crate::money::{MathError, Ratio, Rounding};

/// Yearly rates as WAD ratios.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RateModel {
    pub base: Ratio,
    pub slope1: Ratio,
    pub slope2: Ratio,
    /// The kink `u*`, strictly between 0 and 1.
    pub optimal_utilisation: Ratio,
}

/// The highest yearly rate a model may reach at full utilisation: 100 (10,000% a year).
/// The rate model itself sets no ceiling; this one keeps per-second compounding far from overflow
/// over any realistic idle period while allowing every rate curve seen in production.
pub const RATE_MAX: Ratio = Ratio::from_raw(100 * 1_000_000_000_000_000_000);

impl RateModel {
    /// # Errors
    /// `rate_model.optimal_utilisation` outside (0, 1), or a top rate above [`RATE_MAX`].
    pub fn validate(&self) -> Result<(), ParamError> {
        let u = self.optimal_utilisation;
        if u.is_zero() || u >= Ratio::ONE {
            return Err(ParamError::new(
                "rate_model.optimal_utilisation",
                "0 < optimal_utilisation < 1",
                u,
            ));
        }
        let top = self
            .base
            .checked_add(self.slope1)
            .and_then(|r| r.checked_add(self.slope2));
        if top.is_err() || top.is_ok_and(|t| t > RATE_MAX) {
            return Err(ParamError::new(
                "rate_model",
                "base + slope1 + slope2 <= 100 (10,000% a year)",
                format!("{} + {} + {}", self.base, self.slope1, self.slope2),
            ));
        }
        Ok(())
    }

    /// The yearly borrow rate at utilisation `u` (0..=1), rounded up: borrowers are never
    /// charged less than the curve.
    ///
    /// # Errors
    /// Only on a model that failed validation.
    pub fn borrow_rate(&self, u: Ratio) -> Result<Ratio, MathError> {
        let kink = self.optimal_utilisation;
        if u <= kink {
            let slope = self.slope1.mul(u.div(kink, Rounding::Up)?, Rounding::Up)?;
            return self.base.checked_add(slope);
        }
        let over = u.saturating_sub(kink).min(Ratio::ONE.saturating_sub(kink));
        let steep = self.slope2.mul(
            over.div(Ratio::ONE.checked_sub(kink)?, Rounding::Up)?,
            Rounding::Up,
        )?;
        self.base.checked_add(self.slope1)?.checked_add(steep)
    }
}
