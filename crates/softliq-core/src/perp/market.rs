//! A perp market's running state: the smoothed premium behind the mark price, the cumulative
//! funding index, the funding pool, open interest and the insurance fund.
//!
//! Funding is index-based (Drift, dYdX): a tick adds `rate · index price` to the cumulative
//! funding per whole contract, and each position settles `size · Δindex` when it is next
//! touched. No money moves at the tick, so a tick costs O(1) whatever the number of positions.
//! The funding pool is what settled payers have paid in less what settled receivers have taken
//! out; it is signed (receivers may settle before payers) and ends at or above zero once every
//! position has settled, the difference being the rounding kept on the protocol's side.

use crate::money::{Amount, MathError, Price, Ratio, Rounding, SignedRatio, SignedValue, Value};

use super::params::{FundingParams, MarkParams};

/// The funding rate for one interval from the interval's average premium `P`:
/// `F = P + clamp(I − P, ±premium_clamp)`, then `clamp(F, ±rate_cap)`.
///
/// # Errors
/// `Overflow`.
pub fn funding_rate(
    params: &FundingParams,
    premium: SignedRatio,
) -> Result<SignedRatio, MathError> {
    let interest = SignedRatio::positive(params.interest_rate)?;
    let pull = interest
        .checked_sub(premium)?
        .clamp_magnitude(params.premium_clamp);
    Ok(premium.checked_add(pull)?.clamp_magnitude(params.rate_cap))
}

/// The state of one perp market.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PerpMarketState {
    /// Exponential average of observed premiums (book over index).
    pub premium_ema: SignedRatio,
    /// Sum of `premium_ema` samples since the last funding tick, and their count: the
    /// interval's average premium.
    pub premium_sum: SignedRatio,
    pub premium_samples: u32,
    /// Cumulative funding per whole contract (USD, WAD); longs pay when it rises.
    pub cumulative_funding: SignedValue,
    /// Paid in by settled payers less paid out to settled receivers.
    pub funding_pool: SignedValue,
    /// Total long size (= total short size), base units.
    pub open_interest: Amount,
    /// Fees collected (trading and the insurance share of liquidation fees go to the fund).
    pub fees: Value,
    pub insurance_fund: Value,
    /// Losses written off after insurance and ADL: the market is short by this much, so the
    /// conservation sum counts it with a minus sign.
    pub bad_debt: Value,
}

impl PerpMarketState {
    /// Folds an observed premium (`observed / index − 1`, from the book mid or last trade) into
    /// the smoothed premium: `ema += smoothing · (observed − ema)`, magnitude toward zero.
    ///
    /// # Errors
    /// `Overflow`.
    pub fn observe_premium(
        &mut self,
        params: &MarkParams,
        observed: SignedRatio,
    ) -> Result<(), MathError> {
        let step = observed
            .checked_sub(self.premium_ema)?
            .mul_ratio(params.smoothing, Rounding::Down)?;
        self.premium_ema = self.premium_ema.checked_add(step)?;
        self.premium_sum = self.premium_sum.checked_add(self.premium_ema)?;
        self.premium_samples = self.premium_samples.saturating_add(1);
        Ok(())
    }

    /// `index · (1 + clamp(premium_ema, ±premium_max))`, rounded down.
    ///
    /// # Errors
    /// `Overflow`.
    pub fn mark_price(&self, params: &MarkParams, index: Price) -> Result<Price, MathError> {
        self.premium_ema
            .clamp_magnitude(params.premium_max)
            .apply_to(index, Rounding::Down)
    }

    /// A funding tick at `index`: the interval's average premium gives the rate, and
    /// `rate · index` (magnitude toward zero) is added to the cumulative funding. Returns the
    /// rate applied.
    ///
    /// # Errors
    /// `Overflow`.
    pub fn fund(&mut self, params: &FundingParams, index: Price) -> Result<SignedRatio, MathError> {
        let rate = self.next_rate(params)?;
        self.cumulative_funding = self
            .cumulative_funding
            .checked_add(rate.mul_price(index, Rounding::Down)?)?;
        self.premium_sum = SignedRatio::ZERO;
        self.premium_samples = 0;
        Ok(rate)
    }

    /// The rate the next funding tick pays if no premium is observed before it: from the
    /// interval's average premium so far (the smoothed premium when none was sampled).
    ///
    /// # Errors
    /// `Overflow`.
    pub fn next_rate(&self, params: &FundingParams) -> Result<SignedRatio, MathError> {
        let premium = if self.premium_samples == 0 {
            self.premium_ema
        } else {
            SignedRatio::from_raw(self.premium_sum.raw() / i128::from(self.premium_samples))
        };
        funding_rate(params, premium)
    }

    /// Books a settlement: `paid` (positive: the position paid in) goes to the pool.
    ///
    /// # Errors
    /// `Overflow`.
    pub fn book_funding(&mut self, paid: SignedValue) -> Result<(), MathError> {
        self.funding_pool = self.funding_pool.checked_add(paid)?;
        Ok(())
    }

    /// Splits a liquidation fee: `share` (rounded down: paid out) to the liquidator, the rest to
    /// the insurance fund. Returns the liquidator's part.
    ///
    /// # Errors
    /// `Overflow`.
    pub fn split_liquidation_fee(&mut self, fee: Value, share: Ratio) -> Result<Value, MathError> {
        let to_liquidator = fee.mul_ratio(share, Rounding::Down)?;
        self.insurance_fund = self
            .insurance_fund
            .checked_add(fee.checked_sub(to_liquidator)?)?;
        Ok(to_liquidator)
    }
}
