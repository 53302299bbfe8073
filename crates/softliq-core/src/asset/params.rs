//! Per-asset risk parameters (docs/configuration.md) and their validation.
//!
//! Every bound is checked in one place, [`AssetParams::validate`], which is called when an
//! asset is listed and on every update. A refusal names the parameter, the bound it broke and
//! the value given, so an operator can fix the config without reading code.

use super::rate_model::RateModel;
use crate::money::{Amount, Decimals, Ratio, Value};
use crate::profile::Profile;

/// A refused parameter: which one, the bound it broke, and the value given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field} = {value} is out of bounds: {bound}")]
pub struct ParamError {
    pub field: &'static str,
    pub bound: &'static str,
    pub value: String,
}

impl ParamError {
    pub(crate) fn new(field: &'static str, bound: &'static str, value: impl ToString) -> Self {
        Self {
            field,
            bound,
            value: value.to_string(),
        }
    }

    /// The same refusal, its value naming the asset it is about (a market-wide check).
    #[must_use]
    pub(crate) fn of_asset(self, symbol: &str) -> Self {
        Self {
            value: format!("{} (asset {symbol})", self.value),
            ..self
        }
    }
}

/// Oracle guards of one asset (docs/engine.md, Oracle guards); enforced by the engine, validated
/// here.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OracleGuards {
    /// A price older than this many seconds is stale and refused.
    pub max_staleness_s: u64,
    /// A move larger than this share of the last accepted price trips the circuit breaker.
    pub max_jump: Ratio,
    /// A tripped breaker closes by itself after this many seconds.
    pub confirm_s: u64,
}

/// The risk parameters of one asset. Ratios are WAD; see docs/configuration.md for their meaning.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AssetParams {
    pub decimals: Decimals,
    /// Share of collateral value usable for borrowing (LTV).
    pub collateral_factor: Ratio,
    /// Share of collateral value that counts against debt for liquidation (`lt`).
    pub liquidation_threshold: Ratio,
    /// Multiplier on debt value (`bw` ≥ 1).
    pub borrow_weight: Ratio,
    /// Extra collateral the borrower loses per unit of debt repaid (`pen`).
    pub liquidation_penalty: Ratio,
    /// The liquidator's part of the penalty (`disc`); the treasury keeps `pen − disc`.
    pub liquidation_discount: Ratio,
    /// Share of borrow interest that goes to the treasury.
    pub reserve_factor: Ratio,
    pub rate_model: RateModel,
    /// Most tokens that may be supplied in total, if capped.
    pub supply_cap: Option<Amount>,
    /// Most tokens that may be borrowed in total, if capped.
    pub borrow_cap: Option<Amount>,
    pub oracle: OracleGuards,
    /// Most tab value (USD) under Dutch auction at once against this collateral (Maker's
    /// per-collateral `hole`), if capped; markets on other policies ignore it.
    #[serde(default)]
    pub auction_hole: Option<Value>,
}

/// The fixed parameter bounds (docs/configuration.md), as ratios.
pub mod bounds {
    use crate::money::Ratio;
    /// `pen ≤ 0.20`.
    pub const PENALTY_MAX: Ratio = Ratio::from_raw(200_000_000_000_000_000);
    /// `disc ≤ 0.15`.
    pub const DISCOUNT_MAX: Ratio = Ratio::from_raw(150_000_000_000_000_000);
    /// `bw ≤ 10`: the usual bound is only `bw ≥ 1`; a weight above 10 would make an asset all but
    /// unborrowable, so anything larger is taken as a typo.
    pub const BORROW_WEIGHT_MAX: Ratio = Ratio::from_raw(10_000_000_000_000_000_000);
    /// `max_jump ≤ 10` (a 1,000% move); larger would disable the breaker in all but name.
    pub const MAX_JUMP_MAX: Ratio = Ratio::from_raw(10_000_000_000_000_000_000);
}

impl AssetParams {
    /// Checks every parameter bound (docs/configuration.md).
    ///
    /// # Errors
    /// The first parameter out of bounds, with the bound named.
    pub fn validate(&self) -> Result<(), ParamError> {
        self.validate_in(Profile::Softliq)
    }

    /// Checks every parameter bound of a market following `profile`: softliq's own, or under
    /// `aave_v3` Aave's listing rules in place of softliq's two cross-checks (`ltv ≤ lt` instead
    /// of `cf < lt`, the configurator's half-up `percentMul(lt, bonus) ≤ 100%` instead of the
    /// exact `lt · (1 + pen) ≤ 1`), plus whole basis points and no borrow weight.
    ///
    /// # Errors
    /// The first parameter out of bounds, with the bound named.
    pub fn validate_in(&self, profile: Profile) -> Result<(), ParamError> {
        let softliq = profile == Profile::Softliq;
        self.validate_weights(softliq)?;
        self.validate_liquidation(softliq)?;
        if !softliq {
            crate::profile::aave_v3::check_asset(self)?;
        }
        self.validate_interest()?;
        self.validate_oracle()?;
        if self.auction_hole.is_some_and(Value::is_zero) {
            return Err(ParamError::new(
                "auction_hole",
                "auction_hole > 0 USD when set",
                "0",
            ));
        }
        Ok(())
    }

    fn validate_weights(&self, softliq: bool) -> Result<(), ParamError> {
        let lt = self.liquidation_threshold;
        if lt.is_zero() || lt > Ratio::ONE {
            return Err(ParamError::new(
                "liquidation_threshold",
                "0 < liquidation_threshold <= 1",
                lt,
            ));
        }
        if softliq && self.collateral_factor >= lt {
            return Err(ParamError::new(
                "collateral_factor",
                "0 <= collateral_factor < liquidation_threshold",
                self.collateral_factor,
            ));
        }
        let bw = self.borrow_weight;
        if bw < Ratio::ONE || bw > bounds::BORROW_WEIGHT_MAX {
            return Err(ParamError::new(
                "borrow_weight",
                "1 <= borrow_weight <= 10",
                bw,
            ));
        }
        Ok(())
    }

    fn validate_liquidation(&self, softliq: bool) -> Result<(), ParamError> {
        let pen = self.liquidation_penalty;
        if pen > bounds::PENALTY_MAX {
            return Err(ParamError::new(
                "liquidation_penalty",
                "0 <= liquidation_penalty <= 0.2",
                pen,
            ));
        }
        let disc = self.liquidation_discount;
        if disc > pen || disc > bounds::DISCOUNT_MAX {
            return Err(ParamError::new(
                "liquidation_discount",
                "0 <= liquidation_discount <= liquidation_penalty and <= 0.15",
                disc,
            ));
        }
        // lt · (1 + pen) ≤ 1: an account at HF = 1 can always pay its penalty. Exact: both
        // sides scaled by WAD², so no rounding can let a borderline set through.
        let lhs = self.liquidation_threshold.raw() * (Ratio::ONE.raw() + pen.raw());
        if softliq && lhs > Ratio::ONE.raw() * Ratio::ONE.raw() {
            return Err(ParamError::new(
                "liquidation_threshold",
                "liquidation_threshold * (1 + liquidation_penalty) <= 1",
                self.liquidation_threshold,
            ));
        }
        Ok(())
    }

    fn validate_interest(&self) -> Result<(), ParamError> {
        if self.reserve_factor >= Ratio::ONE {
            return Err(ParamError::new(
                "reserve_factor",
                "0 <= reserve_factor < 1",
                self.reserve_factor,
            ));
        }
        self.rate_model.validate()
    }

    fn validate_oracle(&self) -> Result<(), ParamError> {
        let o = &self.oracle;
        if o.max_staleness_s == 0 {
            return Err(ParamError::new(
                "oracle.max_staleness_s",
                "max_staleness_s >= 1",
                o.max_staleness_s,
            ));
        }
        if o.max_jump.is_zero() || o.max_jump > bounds::MAX_JUMP_MAX {
            return Err(ParamError::new(
                "oracle.max_jump",
                "0 < max_jump <= 10",
                o.max_jump,
            ));
        }
        if o.confirm_s == 0 {
            return Err(ParamError::new(
                "oracle.confirm_s",
                "confirm_s >= 1",
                o.confirm_s,
            ));
        }
        Ok(())
    }

    /// Checks that `next` may replace `self`: the decimals unchanged (they fix the meaning of
    /// every balance already held). The bounds are the market profile's
    /// ([`AssetParams::validate_in`], called by `Asset::update_in`).
    ///
    /// # Errors
    /// `decimals` when they differ.
    pub fn validate_update(&self, next: &Self) -> Result<(), ParamError> {
        if next.decimals != self.decimals {
            return Err(ParamError::new(
                "decimals",
                "decimals cannot change once an asset is listed",
                next.decimals.get(),
            ));
        }
        Ok(())
    }
}
