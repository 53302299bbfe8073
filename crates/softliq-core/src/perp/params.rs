//! A perpetual market's parameters and their validation.
//!
//! As for assets, every bound is checked in one place ([`PerpParams::validate`]) and a refusal
//! names the field, the bound and the value (the same [`ParamError`] as the lending side).

use crate::asset::{AssetId, ParamError};
use crate::money::{Amount, Decimals, Price, Ratio, Rounding, Value, WeightedSum};

/// Dense perp market identifier (its position in the listing order).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct PerpMarketId(pub u16);

impl PerpMarketId {
    #[must_use]
    pub const fn index(self) -> usize {
        self.0 as usize
    }
}

/// One bracket of a tiered margin schedule: the ratios that apply to the part of a position's
/// notional up to `notional_max` (the last tier has none). Requirements are **marginal**: a
/// 3 M USD position under tiers (1 M: 2%), (∞: 4%) needs 1 M · 2% + 2 M · 4%. That is the
/// same figure as Binance's "whole notional at the bracket's rate minus the maintenance
/// amount" and keeps the requirement continuous and monotone in size.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MarginTier {
    pub notional_max: Option<Value>,
    /// Initial margin ratio `imr` of this bracket.
    pub initial: Ratio,
    /// Maintenance margin ratio `mmr` of this bracket.
    pub maintenance: Ratio,
}

/// The funding rate, per interval: `F = P + clamp(I − P, −premium_clamp, +premium_clamp)`,
/// then `|F| ≤ rate_cap` (Binance and Hyperliquid publish this shape). `P` is the premium of
/// the mark over the index averaged over the interval; `I` the interest term.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FundingParams {
    pub interval_s: u64,
    /// `I` per interval (Binance: 0.01% per 8 h; Hyperliquid the same, paid hourly).
    pub interest_rate: Ratio,
    pub premium_clamp: Ratio,
    pub rate_cap: Ratio,
}

/// The mark price: `index · (1 + clamp(ema_premium, ±premium_max))`, where `ema_premium` is an
/// exponential average of observed premiums (book mid or last trade over the index) with weight
/// `smoothing` per observation. Bounded so that a thin or manipulated book moves the mark — and
/// so liquidations — by at most `premium_max` away from the oracle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MarkParams {
    pub premium_max: Ratio,
    pub smoothing: Ratio,
}

/// Everything that defines a perp market. Ratios are WAD.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PerpParams {
    /// The lending asset whose oracle price is this market's index.
    pub index_asset: AssetId,
    /// Base units per whole contract, `10^decimals` (sizes are integers of base units).
    pub decimals: Decimals,
    /// Margin brackets, in increasing `notional_max`, the last one open-ended.
    pub tiers: Vec<MarginTier>,
    /// Most leverage a position may open at: every tier's `initial` is at least `1/max_leverage`.
    pub max_leverage: Ratio,
    /// Sizes are multiples of this (base units).
    pub lot_size: Amount,
    /// Limit prices are multiples of this.
    pub tick_size: Price,
    pub taker_fee: Ratio,
    pub maker_fee: Ratio,
    /// Charged on each liquidation chunk's notional, from what is left of the trader's equity.
    pub liquidation_fee: Ratio,
    /// Share of the liquidation fee paid to whoever ran the round; the rest goes to the
    /// insurance fund.
    pub liquidator_share: Ratio,
    pub funding: FundingParams,
    pub mark: MarkParams,
    /// A liquidation chunk never fills further than this from the oracle (index) price.
    pub slippage_tolerance: Ratio,
    /// Largest notional a single liquidation chunk may carry.
    pub chunk_notional_max: Value,
    /// Most open interest (total long size, base units), if capped.
    pub open_interest_cap: Option<Amount>,
    /// Soft unwinding stops once maintenance equity ≥ `unwind_target · IM`.
    pub unwind_target: Ratio,
    /// Backstop when maintenance equity < `backstop_line · MM` (Hyperliquid: 2/3).
    pub backstop_line: Ratio,
    /// Backstop also after this many rounds in a row in which the book absorbed nothing.
    pub empty_rounds_max: u32,
}

/// Upper bounds a config is very unlikely to exceed on purpose.
pub mod perp_bounds {
    use crate::money::Ratio;
    /// Trading fees ≤ 1%.
    pub const FEE_MAX: Ratio = Ratio::from_raw(10_000_000_000_000_000);
    /// Liquidation fee ≤ 5%.
    pub const LIQUIDATION_FEE_MAX: Ratio = Ratio::from_raw(50_000_000_000_000_000);
    /// Premium bound and funding cap ≤ 10% per interval.
    pub const RATE_MAX: Ratio = Ratio::from_raw(100_000_000_000_000_000);
    /// Leverage ≤ 200.
    pub const LEVERAGE_MAX: Ratio = Ratio::from_raw(200_000_000_000_000_000_000);
    /// Unwinding target ≤ 2 · IM.
    pub const TARGET_MAX: Ratio = Ratio::from_raw(2_000_000_000_000_000_000);
}

fn err(field: &'static str, bound: &'static str, value: impl ToString) -> ParamError {
    ParamError {
        field,
        bound,
        value: value.to_string(),
    }
}

fn at_most(
    field: &'static str,
    bound: &'static str,
    v: Ratio,
    max: Ratio,
) -> Result<(), ParamError> {
    if v > max {
        return Err(err(field, bound, v));
    }
    Ok(())
}

impl PerpParams {
    /// Checks every bound.
    ///
    /// # Errors
    /// The first field out of bounds, with the bound named.
    pub fn validate(&self) -> Result<(), ParamError> {
        self.validate_tiers()?;
        self.validate_fees()?;
        self.validate_funding()?;
        self.validate_liquidation()
    }

    fn validate_tiers(&self) -> Result<(), ParamError> {
        let lev = self.max_leverage;
        if lev < Ratio::ONE || lev > perp_bounds::LEVERAGE_MAX {
            return Err(err("max_leverage", "1 <= max_leverage <= 200", lev));
        }
        let imr_min = Ratio::ONE
            .div(lev, Rounding::Up)
            .map_err(|_| err("max_leverage", "1 <= max_leverage <= 200", lev))?;
        let Some(last) = self.tiers.last() else {
            return Err(err("tiers", "at least one margin tier", "[]"));
        };
        if last.notional_max.is_some() {
            return Err(err(
                "tiers.notional_max",
                "the last tier has no notional_max",
                "set",
            ));
        }
        let mut prev: Option<&MarginTier> = None;
        for t in &self.tiers {
            if t.maintenance.is_zero() || t.maintenance >= t.initial {
                return Err(err(
                    "tiers.maintenance",
                    "0 < maintenance < initial",
                    t.maintenance,
                ));
            }
            if t.initial > Ratio::ONE || t.initial < imr_min {
                return Err(err(
                    "tiers.initial",
                    "1/max_leverage <= initial <= 1",
                    t.initial,
                ));
            }
            if let Some(p) = prev {
                if t.initial < p.initial || t.maintenance < p.maintenance {
                    return Err(err(
                        "tiers",
                        "ratios do not fall as notional grows",
                        t.initial,
                    ));
                }
                match (p.notional_max, t.notional_max) {
                    (Some(a), Some(b)) if b <= a => {
                        return Err(err("tiers.notional_max", "strictly increasing", b));
                    }
                    (None, _) => {
                        return Err(err(
                            "tiers.notional_max",
                            "only the last tier is open-ended",
                            "none",
                        ));
                    }
                    _ => {}
                }
            }
            prev = Some(t);
        }
        Ok(())
    }

    fn validate_fees(&self) -> Result<(), ParamError> {
        if self.lot_size.is_zero() {
            return Err(err("lot_size", "lot_size > 0", self.lot_size));
        }
        if self.tick_size.is_zero() {
            return Err(err("tick_size", "tick_size > 0", self.tick_size));
        }
        if self.open_interest_cap.is_some_and(|c| c.is_zero()) {
            return Err(err(
                "open_interest_cap",
                "open_interest_cap > 0 when set",
                0,
            ));
        }
        at_most(
            "taker_fee",
            "taker_fee <= 1%",
            self.taker_fee,
            perp_bounds::FEE_MAX,
        )?;
        if self.maker_fee > self.taker_fee {
            return Err(err("maker_fee", "maker_fee <= taker_fee", self.maker_fee));
        }
        at_most(
            "liquidation_fee",
            "liquidation_fee <= 5%",
            self.liquidation_fee,
            perp_bounds::LIQUIDATION_FEE_MAX,
        )?;
        at_most(
            "liquidator_share",
            "liquidator_share <= 1",
            self.liquidator_share,
            Ratio::ONE,
        )
    }

    fn validate_funding(&self) -> Result<(), ParamError> {
        let f = &self.funding;
        if f.interval_s == 0 {
            return Err(err("funding.interval_s", "interval_s > 0", 0));
        }
        at_most(
            "funding.rate_cap",
            "rate_cap <= 10%",
            f.rate_cap,
            perp_bounds::RATE_MAX,
        )?;
        at_most(
            "funding.interest_rate",
            "interest_rate <= rate_cap",
            f.interest_rate,
            f.rate_cap,
        )?;
        at_most(
            "funding.premium_clamp",
            "premium_clamp <= rate_cap",
            f.premium_clamp,
            f.rate_cap,
        )?;
        at_most(
            "mark.premium_max",
            "premium_max <= 10%",
            self.mark.premium_max,
            perp_bounds::RATE_MAX,
        )?;
        let s = self.mark.smoothing;
        if s.is_zero() || s > Ratio::ONE {
            return Err(err("mark.smoothing", "0 < smoothing <= 1", s));
        }
        Ok(())
    }

    fn validate_liquidation(&self) -> Result<(), ParamError> {
        if self.chunk_notional_max.is_zero() {
            return Err(err("chunk_notional_max", "chunk_notional_max > 0", "0"));
        }
        let target = self.unwind_target;
        if target > perp_bounds::TARGET_MAX {
            return Err(err("unwind_target", "unwind_target <= 2", target));
        }
        // The closed form of `unwind` needs every unit closed to raise equity more than it costs
        // at the worst price: target · imr > tolerance + fee for the smallest tier, and the
        // target must sit above the line (target · imr > mmr) or unwinding would stop while
        // the account is still liquidatable.
        let tier0 = self.tiers[0];
        let gain = tier0
            .initial
            .mul(target, Rounding::Down)
            .unwrap_or(Ratio::ZERO);
        let cost = self
            .slippage_tolerance
            .checked_add(self.liquidation_fee)
            .unwrap_or(Ratio::MAX);
        if gain <= cost {
            return Err(err(
                "slippage_tolerance",
                "slippage_tolerance + liquidation_fee < unwind_target * tiers[0].initial",
                self.slippage_tolerance,
            ));
        }
        if gain <= tier0.maintenance {
            return Err(err(
                "unwind_target",
                "unwind_target * tiers[0].initial > tiers[0].maintenance",
                target,
            ));
        }
        if self.backstop_line >= Ratio::ONE {
            return Err(err(
                "backstop_line",
                "0 <= backstop_line < 1",
                self.backstop_line,
            ));
        }
        Ok(())
    }

    /// `Σ_tier notional_in_tier · ratio`, rounded up (a requirement is what the account owes
    /// the protocol in margin), for `ratio` = the tier's initial or maintenance ratio.
    ///
    /// # Errors
    /// `Overflow`.
    pub fn requirement(
        &self,
        notional: Value,
        ratio: impl Fn(&MarginTier) -> Ratio,
    ) -> Result<Value, crate::money::MathError> {
        let mut sum = WeightedSum::ZERO;
        self.add_requirement(notional, ratio, &mut sum)?;
        sum.total(Rounding::Up)
    }

    /// Adds the exact terms of [`PerpParams::requirement`] to `sum`, unrounded, so that an
    /// account's requirement over all its positions is rounded once.
    ///
    /// # Errors
    /// `Overflow`.
    #[inline]
    pub fn add_requirement(
        &self,
        notional: Value,
        ratio: impl Fn(&MarginTier) -> Ratio,
        sum: &mut WeightedSum,
    ) -> Result<(), crate::money::MathError> {
        let mut lower = Value::ZERO;
        for t in &self.tiers {
            let upper = t.notional_max.map_or(notional, |m| m.min(notional));
            if upper > lower {
                sum.add(upper.checked_sub(lower)?, ratio(t))?;
            }
            if upper >= notional {
                break;
            }
            lower = upper;
        }
        Ok(())
    }

    /// `(IM, MM)` of a notional, each rounded up.
    ///
    /// # Errors
    /// `Overflow`.
    #[inline]
    pub fn requirements(&self, notional: Value) -> Result<(Value, Value), crate::money::MathError> {
        Ok((
            self.requirement(notional, |t| t.initial)?,
            self.requirement(notional, |t| t.maintenance)?,
        ))
    }

    /// The ratio of the smallest bracket: the marginal rate of a position's last unit at worst.
    #[must_use]
    pub fn base_tier(&self) -> MarginTier {
        self.tiers[0]
    }
}
