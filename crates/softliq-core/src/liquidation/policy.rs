//! The liquidation policies (docs/liquidation.md): how much one call may repay.
//!
//! Each policy turns the state of one call — the account's health, its debt in the chosen debt
//! asset `d` and its collateral in the chosen collateral asset `c` — into a cap on the repaid
//! value. The quote (`quote.rs`) then takes the smallest of that cap, the liquidator's request,
//! the debt in `d` and what the collateral in `c` can pay for, and applies the death-spiral and
//! dust rules that every policy shares.

use ruint::aliases::U512;

use super::absorb::Absorb;
use super::auction::Dutch;
use crate::asset::{AssetParams, ParamError};
use crate::money::muldiv::quotient;
use crate::money::{MathError, Ratio, Rounding, Value, WAD};

/// A market's liquidation policy: the rule, and what every rule shares.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Policy {
    pub rule: Rule,
    /// No call may leave debt in `d` worth less than this (the dust rule, default 10 USD).
    pub dust_value: Value,
    /// Share of the protocol's part of seized collateral paid into the insurance fund.
    pub insurance_share: Ratio,
    /// The minimum useful call (docs/liquidation.md): where the rule's cap allows less, a call may
    /// repay up to this value (all of the debt in `d` when smaller), so that a call on a small
    /// account still pays a liquidator's cost. Zero turns it off; only `soft`, `restore` and
    /// `two_stage` have a cap small enough to need it.
    #[serde(default)]
    pub min_call_value: Value,
    /// How the liquidator's discount and the borrower's penalty are set: the collateral asset's
    /// fixed pair, or sized by need ([`Need`]).
    #[serde(default)]
    pub incentive: Incentive,
    /// Whether and when the protocol absorbs accounts no liquidator takes ([`Absorb`]).
    #[serde(default)]
    pub absorb: Option<Absorb>,
}

/// The incentive of a call (docs/liquidation.md, need-sized incentive).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Incentive {
    /// The collateral asset's `liquidation_penalty` and `liquidation_discount`.
    #[default]
    Fixed,
    /// A discount that grows with how far the account is below the line and with how long it
    /// has been liquidatable; see [`Need::discount`].
    Need(Need),
}

impl Incentive {
    /// The names [`Incentive::by_name`] knows, for messages.
    pub const NAMES: &str = "fixed, ramp, euler";

    /// The incentive called `name`: `fixed`, or a need-sized preset ([`Need::ramp`],
    /// [`Need::euler`]).
    #[must_use]
    pub fn by_name(name: &str) -> Option<Self> {
        match name {
            "fixed" => Some(Self::Fixed),
            "ramp" => Some(Self::Need(Need::ramp())),
            "euler" => Some(Self::Need(Need::euler())),
            _ => None,
        }
    }

    /// A need-sized incentive's bounds, and that every asset can pay its largest penalty
    /// (`lt · (1 + pen_max) ≤ 1`); a fixed incentive has the assets' own, checked at listing.
    ///
    /// # Errors
    /// The first parameter out of bounds, named.
    pub fn validate(&self, assets: &[(&str, &AssetParams)]) -> Result<(), ParamError> {
        match self {
            Self::Fixed => Ok(()),
            Self::Need(need) => need.validate(assets),
        }
    }
}

/// A need-sized discount: `disc = min(discount_max, discount_min + shortfall_slope · (1 − HF)
/// + (discount_max − discount_min) · min(age, ramp_s) / ramp_s)`, and the borrower's penalty
/// `pen = disc · (1 + protocol_fee)`.
///
/// - With `shortfall_slope = 1`, `ramp_s = 0` this is Euler v2's rule (the discount is the
///   shortfall, capped).
/// - With `shortfall_slope = 0` and `ramp_s > 0` it is a reverse Dutch auction on the discount:
///   it starts at `discount_min` when the account becomes liquidatable and rises to
///   `discount_max` over `ramp_s` seconds, so competing liquidators take the call at the
///   lowest discount that pays them, and no higher.
/// - Both terms may be used at once; the discount never falls as the shortfall or the age
///   grows (see docs/liquidation.md for the derivation and the death-spiral bound it moves).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Need {
    pub discount_min: Ratio,
    pub discount_max: Ratio,
    /// Discount added per unit of shortfall `1 − HF` (HF below 1 only).
    pub shortfall_slope: Ratio,
    /// Seconds over which the time term rises from 0 to `discount_max − discount_min`; 0 turns
    /// the time term off.
    pub ramp_s: u64,
    /// The protocol's part of the penalty, as a share of the discount.
    pub protocol_fee: Ratio,
}

impl Need {
    /// The reverse Dutch auction softliq ships: from 0.5% to 8% over an hour, a 10% protocol fee
    /// on top of the discount, no shortfall term.
    #[must_use]
    pub const fn ramp() -> Self {
        Self {
            discount_min: ratio(PCT / 2),
            discount_max: ratio(8 * PCT),
            shortfall_slope: Ratio::ZERO,
            ramp_s: 3_600,
            protocol_fee: ratio(10 * PCT),
        }
    }

    /// Euler v2's rule: the discount is the shortfall `1 − HF`, between 0 and 8%.
    #[must_use]
    pub const fn euler() -> Self {
        Self {
            discount_min: Ratio::ZERO,
            discount_max: ratio(8 * PCT),
            shortfall_slope: Ratio::ONE,
            ramp_s: 0,
            protocol_fee: ratio(10 * PCT),
        }
    }

    /// The discount for an account whose weighted debt `d` and liquidation collateral `c` give
    /// it a shortfall `(d − c) / d` (zero at or above the line), liquidatable for `age_s`
    /// seconds. Every term is rounded down: the discount is paid out to the liquidator.
    ///
    /// # Errors
    /// `Overflow` only for parameters outside their bounds.
    pub fn discount(&self, c: Value, d: Value, age_s: u64) -> Result<Ratio, MathError> {
        let shortfall = if d > c && !d.is_zero() {
            d.checked_sub(c)?.ratio_to(d, Rounding::Down)?
        } else {
            Ratio::ZERO
        };
        let mut disc = self
            .discount_min
            .checked_add(shortfall.mul(self.shortfall_slope, Rounding::Down)?)?;
        if self.ramp_s > 0 {
            let span = self.discount_max.saturating_sub(self.discount_min);
            let part = Ratio::from_fraction(
                u128::from(age_s.min(self.ramp_s)),
                u128::from(self.ramp_s),
                Rounding::Down,
            )?;
            disc = disc.checked_add(span.mul(part, Rounding::Down)?)?;
        }
        Ok(disc.min(self.discount_max))
    }

    /// `disc · (1 + protocol_fee)`, rounded up: the protocol receives the fee.
    ///
    /// # Errors
    /// `Overflow` only for parameters outside their bounds.
    pub fn penalty(&self, disc: Ratio) -> Result<Ratio, MathError> {
        disc.mul(Ratio::ONE.checked_add(self.protocol_fee)?, Rounding::Up)
    }

    fn validate(&self, assets: &[(&str, &AssetParams)]) -> Result<(), ParamError> {
        use crate::asset::bounds::{DISCOUNT_MAX, PENALTY_MAX};
        if self.discount_max > DISCOUNT_MAX {
            return Err(ParamError::new(
                "discount_max",
                "discount_max <= 0.15",
                self.discount_max,
            ));
        }
        if self.discount_min > self.discount_max {
            return Err(ParamError::new(
                "discount_min",
                "discount_min <= discount_max",
                self.discount_min,
            ));
        }
        if self.shortfall_slope > ratio(10 * WAD) {
            return Err(ParamError::new(
                "shortfall_slope",
                "0 <= shortfall_slope <= 10",
                self.shortfall_slope,
            ));
        }
        if self.ramp_s > RAMP_S_MAX {
            return Err(ParamError::new(
                "ramp_s",
                "ramp_s <= 604800 (a week)",
                self.ramp_s,
            ));
        }
        if self.protocol_fee > Ratio::ONE {
            return Err(ParamError::new(
                "protocol_fee",
                "0 <= protocol_fee <= 1",
                self.protocol_fee,
            ));
        }
        let pen_max = self.penalty(self.discount_max).map_err(|_| {
            ParamError::new("protocol_fee", "0 <= protocol_fee <= 1", self.protocol_fee)
        })?;
        if pen_max > PENALTY_MAX {
            return Err(ParamError::new(
                "discount_max",
                "discount_max * (1 + protocol_fee) <= 0.2",
                self.discount_max,
            ));
        }
        for (symbol, p) in assets {
            // lt · (1 + pen_max) ≤ 1, exactly: an account at HF 1 can always pay the penalty.
            if p.liquidation_threshold.raw() * (WAD + pen_max.raw()) > WAD * WAD {
                return Err(ParamError::new(
                    "discount_max",
                    "liquidation_threshold * (1 + discount_max * (1 + protocol_fee)) <= 1 for every asset",
                    format!(
                        "{} (asset {symbol}: lt {})",
                        self.discount_max, p.liquidation_threshold
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// The longest discount ramp a market may set: a week.
pub const RAMP_S_MAX: u64 = 604_800;

/// The minimum useful call of `soft`, `restore` and `two_stage` unless a market sets its own
/// (see docs/liquidation.md for how it was chosen).
pub const MIN_CALL_VALUE_DEFAULT: Value = Value::from_raw(1_000 * WAD);

/// The five rules, each with its own parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Rule {
    /// Scallop: at most `max_fraction` of the account's total debt value per call; the whole
    /// debt when that total is under `dust_value`.
    Soft { max_fraction: Ratio },
    /// Aave V3.3: `close_factor` of the total debt value, capped by the debt in `d`; all of it at
    /// `HF ≤ full_close_hf` or when the debt in `d` or the collateral in `c` is worth less than
    /// `small_position_value`; a call must clear the debt in `d`, take all the collateral in
    /// `c`, or leave at least `min_leftover_value` of each.
    CloseFactor {
        close_factor: Ratio,
        full_close_hf: Ratio,
        small_position_value: Value,
        min_leftover_value: Value,
    },
    /// Just enough to bring HF to `target_hf`, never above the soft cap.
    Restore {
        target_hf: Ratio,
        max_fraction: Ratio,
    },
    /// A buffer band `1 < HF < soft_hf` with a share rising from `soft_cf_min` to
    /// `max_fraction` and a penalty rising from `soft_pen_min` to the asset's, sized by restore
    /// to `soft_hf`; the soft rule at `HF ≤ 1`.
    TwoStage {
        soft_hf: Ratio,
        soft_cf_min: Ratio,
        soft_pen_min: Ratio,
        max_fraction: Ratio,
    },
    /// The whole debt in `d`: the hard-liquidation baseline.
    Full,
    /// The `aave_v3` profile: Aave v3.6's `liquidationCall` to the wei (HF < 1 strictly,
    /// 8-decimal base-currency valuation, the 50% close factor with its 0.95 and 2,000 USD
    /// thresholds, `MustNotLeaveDust` instead of a shrunk call, the protocol fee out of the
    /// bonus, and the rest of the debt written off with the last collateral); no parameters of
    /// its own (`crate::profile::aave_v3`).
    AaveV3,
    /// No calls: collateral is sold by Dutch auction (docs/liquidation.md; `bark`, `take`, `redo`).
    Dutch(Dutch),
}

const fn ratio(raw: u128) -> Ratio {
    Ratio::from_raw(raw)
}
const PCT: u128 = WAD / 100;

impl Policy {
    const fn with(rule: Rule) -> Self {
        let mut policy = Self {
            rule,
            dust_value: Value::from_raw(10 * WAD),
            insurance_share: Ratio::ZERO,
            min_call_value: Value::ZERO,
            incentive: Incentive::Fixed,
            absorb: None,
        };
        if policy.has_min_call() {
            policy.min_call_value = MIN_CALL_VALUE_DEFAULT;
        }
        policy
    }

    /// `soft` with Scallop's 20% cap and 10 USD dust.
    #[must_use]
    pub const fn soft() -> Self {
        Self::with(Rule::Soft {
            max_fraction: ratio(20 * PCT),
        })
    }

    /// `close_factor` with Aave V3.3's numbers: 50%, 100% at HF ≤ 0.95 or under 2,000 USD,
    /// 1,000 USD minimum leftover.
    #[must_use]
    pub const fn close_factor() -> Self {
        Self::with(Rule::CloseFactor {
            close_factor: ratio(50 * PCT),
            full_close_hf: ratio(95 * PCT),
            small_position_value: Value::from_raw(2_000 * WAD),
            min_leftover_value: Value::from_raw(1_000 * WAD),
        })
    }

    /// `restore` to HF 1.05 under the 20% soft cap.
    #[must_use]
    pub const fn restore() -> Self {
        Self::with(Rule::Restore {
            target_hf: ratio(105 * PCT),
            max_fraction: ratio(20 * PCT),
        })
    }

    /// `two_stage` with the band below HF 1.10, 5% to 20% share, 1% to the asset's penalty.
    #[must_use]
    pub const fn two_stage() -> Self {
        Self::with(Rule::TwoStage {
            soft_hf: ratio(110 * PCT),
            soft_cf_min: ratio(5 * PCT),
            soft_pen_min: ratio(PCT),
            max_fraction: ratio(20 * PCT),
        })
    }

    /// `full`: the baseline.
    #[must_use]
    pub const fn full() -> Self {
        Self::with(Rule::Full)
    }

    /// `aave_v3`: Aave v3.6's rules; its dust and bad-debt rules are Aave's, so softliq's dust
    /// value is off.
    #[must_use]
    pub const fn aave_v3() -> Self {
        let mut policy = Self::with(Rule::AaveV3);
        policy.dust_value = Value::ZERO;
        policy
    }

    /// `dutch` with Maker's ETH-A settings ([`Dutch::maker`]).
    #[must_use]
    pub const fn dutch() -> Self {
        Self::with(Rule::Dutch(Dutch::maker()))
    }

    /// The five call policies with their default parameters, in the order reports show them.
    #[must_use]
    pub const fn all() -> [Self; 5] {
        [
            Self::full(),
            Self::close_factor(),
            Self::soft(),
            Self::restore(),
            Self::two_stage(),
        ]
    }

    /// The policy's name as configs and reports spell it.
    #[must_use]
    pub const fn name(&self) -> &'static str {
        match self.rule {
            Rule::Soft { .. } => "soft",
            Rule::CloseFactor { .. } => "close_factor",
            Rule::Restore { .. } => "restore",
            Rule::TwoStage { .. } => "two_stage",
            Rule::Full => "full",
            Rule::AaveV3 => "aave_v3",
            Rule::Dutch(_) => "dutch",
        }
    }

    /// The policy with default parameters called `name`.
    #[must_use]
    pub fn by_name(name: &str) -> Option<Self> {
        Self::all()
            .into_iter()
            .chain([Self::aave_v3(), Self::dutch()])
            .find(|p| p.name() == name)
    }

    /// The protocol profile the policy's rule belongs to: `aave_v3` for [`Rule::AaveV3`],
    /// softliq's own for every other rule.
    #[must_use]
    pub const fn profile(&self) -> crate::profile::Profile {
        match self.rule {
            Rule::AaveV3 => crate::profile::Profile::AaveV3,
            _ => crate::profile::Profile::Softliq,
        }
    }

    /// The auction parameters of a `dutch` policy.
    #[must_use]
    pub const fn auction(&self) -> Option<&Dutch> {
        match &self.rule {
            Rule::Dutch(d) => Some(d),
            _ => None,
        }
    }

    /// Checks the policy's own bounds and, for `two_stage`, that no asset lets a borrow land
    /// inside the buffer band (`cf · soft_hf ≤ lt` for every asset).
    ///
    /// # Errors
    /// The first parameter out of bounds, named.
    pub fn validate(&self, assets: &[(&str, &AssetParams)]) -> Result<(), ParamError> {
        let fraction = |field, f: Ratio| {
            if f.is_zero() || f > Ratio::ONE {
                return Err(ParamError::new(field, "0 < fraction <= 1", f));
            }
            Ok(())
        };
        if self.insurance_share > Ratio::ONE {
            return Err(ParamError::new(
                "insurance_share",
                "0 <= insurance_share <= 1",
                self.insurance_share,
            ));
        }
        self.validate_extras(assets)?;
        if self.profile() == crate::profile::Profile::Softliq {
            // Assets listed under the aave_v3 profile may break softliq's own cross-checks
            // (`cf < lt`, `lt · (1 + pen) ≤ 1`); softliq's rules need them.
            for (symbol, p) in assets {
                p.validate().map_err(|e| e.of_asset(symbol))?;
            }
        }
        match self.rule {
            Rule::Soft { max_fraction } => fraction("max_fraction", max_fraction),
            Rule::CloseFactor {
                close_factor,
                full_close_hf,
                ..
            } => {
                fraction("close_factor", close_factor)?;
                fraction("full_close_hf", full_close_hf)
            }
            Rule::Restore {
                target_hf,
                max_fraction,
            } => {
                fraction("max_fraction", max_fraction)?;
                if target_hf <= Ratio::ONE || target_hf > ratio(2 * WAD) {
                    return Err(ParamError::new(
                        "target_hf",
                        "1 < target_hf <= 2",
                        target_hf,
                    ));
                }
                Ok(())
            }
            Rule::TwoStage {
                soft_hf,
                soft_cf_min,
                soft_pen_min,
                max_fraction,
            } => {
                fraction("max_fraction", max_fraction)?;
                if soft_hf <= Ratio::ONE || soft_hf > ratio(2 * WAD) {
                    return Err(ParamError::new("soft_hf", "1 < soft_hf <= 2", soft_hf));
                }
                if soft_cf_min.is_zero() || soft_cf_min > max_fraction {
                    return Err(ParamError::new(
                        "soft_cf_min",
                        "0 < soft_cf_min <= max_fraction",
                        soft_cf_min,
                    ));
                }
                if soft_pen_min > crate::asset::bounds::PENALTY_MAX {
                    return Err(ParamError::new(
                        "soft_pen_min",
                        "0 <= soft_pen_min <= 0.2",
                        soft_pen_min,
                    ));
                }
                for (symbol, p) in assets {
                    // cf · soft_hf ≤ lt, exactly (both sides scaled by WAD²).
                    if p.collateral_factor.raw() * soft_hf.raw()
                        > p.liquidation_threshold.raw() * WAD
                    {
                        return Err(ParamError::new(
                            "soft_hf",
                            "collateral_factor * soft_hf <= liquidation_threshold for every asset",
                            format!(
                                "{soft_hf} (asset {symbol}: cf {}, lt {})",
                                p.collateral_factor, p.liquidation_threshold
                            ),
                        ));
                    }
                }
                Ok(())
            }
            Rule::Full => Ok(()),
            Rule::AaveV3 => validate_aave(assets),
            Rule::Dutch(d) => d.validate(),
        }
    }
}

impl Policy {
    /// Whether the rule's cap can fall below a useful call (`soft`, `restore`, `two_stage`).
    #[must_use]
    pub const fn has_min_call(&self) -> bool {
        matches!(
            self.rule,
            Rule::Soft { .. } | Rule::Restore { .. } | Rule::TwoStage { .. }
        )
    }

    /// The minimum call and the incentive: each only where its rule can use it.
    fn validate_extras(&self, assets: &[(&str, &AssetParams)]) -> Result<(), ParamError> {
        if !self.min_call_value.is_zero() && !self.has_min_call() {
            return Err(ParamError::new(
                "min_call_value",
                "0 unless the rule is soft, restore or two_stage",
                self.min_call_value,
            ));
        }
        if self.min_call_value > MIN_CALL_VALUE_MAX {
            return Err(ParamError::new(
                "min_call_value",
                "min_call_value <= 1000000 USD",
                self.min_call_value,
            ));
        }
        if let (Incentive::Need(_), Rule::AaveV3) = (self.incentive, self.rule) {
            return Err(ParamError::new(
                "incentive",
                "Fixed in an aave_v3 market (Aave's bonus is the asset's)",
                "Need",
            ));
        }
        if let (Some(_), Rule::AaveV3) = (&self.absorb, self.rule) {
            return Err(ParamError::new(
                "absorb",
                "none in an aave_v3 market (Aave writes off the debt of an account it empties)",
                "Some",
            ));
        }
        if let (Incentive::Need(_), Rule::Dutch(_)) = (self.incentive, self.rule) {
            return Err(ParamError::new(
                "incentive",
                "Fixed in a dutch market (the auction's curve sets the price)",
                "Need",
            ));
        }
        if let Some(absorb) = &self.absorb {
            if let Rule::Dutch(_) = self.rule {
                return Err(ParamError::new(
                    "absorb",
                    "none in a dutch market (its auctions hold the debt of accounts being sold)",
                    "Some",
                ));
            }
            absorb.validate()?;
        }
        self.incentive.validate(assets)
    }
}

/// Every asset of an `aave_v3` market must be one Aave could list
/// ([`crate::profile::aave_v3::check_asset`]).
fn validate_aave(assets: &[(&str, &AssetParams)]) -> Result<(), ParamError> {
    for (symbol, p) in assets {
        crate::profile::aave_v3::check_asset(p).map_err(|e| e.of_asset(symbol))?;
    }
    Ok(())
}

/// The largest minimum call a market may set.
pub const MIN_CALL_VALUE_MAX: Value = Value::from_raw(1_000_000 * WAD);

/// `v* = (T·D − C) / (T·bw_d − (1 + pen)·lt_c)`: the repaid value that brings HF to exactly
/// `T`, rounded down so that the call does not overshoot.
///
/// Derivation: repaying value `v` of `d` lowers `D` by `v·bw_d` and seizes `v·(1 + pen)` of `c`,
/// lowering `C` by `v·(1 + pen)·lt_c`. Setting `(C − v(1+pen)lt_c) / (D − v·bw_d) = T` and solving
/// for `v` gives the closed form. It is positive and reachable only when `T·D > C` (the account
/// is below target) and `T·bw_d > (1 + pen)·lt_c` (each unit repaid raises HF toward `T`);
/// otherwise `None`: no partial call can reach the target.
///
/// # Errors
/// `Overflow` when the result does not fit a `Value`.
pub fn restore_value(
    target: Ratio,
    c: Value,
    d: Value,
    bw_d: Ratio,
    pen: Ratio,
    lt_c: Ratio,
) -> Result<Option<Value>, MathError> {
    let w = U512::from(WAD);
    // Numerator and denominator at WAD² scale; the quotient times WAD is a WAD value.
    let td = U512::from(target.raw()) * U512::from(d.raw());
    let cw = U512::from(c.raw()) * w;
    let t_bw = U512::from(target.raw()) * U512::from(bw_d.raw());
    let pen_lt = (w + U512::from(pen.raw())) * U512::from(lt_c.raw());
    if td <= cw || t_bw <= pen_lt {
        return Ok(None);
    }
    let v = quotient((td - cw) * w, t_bw - pen_lt, Rounding::Down)?;
    Ok(Some(Value::from_raw(v)))
}

/// Whether the account is at or below the death-spiral bound for this pair:
/// `HF ≤ (1 + pen)·lt_c / bw_d`, where a partial call would lower HF further. Exact:
/// `C · bw_d · WAD ≤ D · (1 + pen) · lt_c` in 512 bits.
#[must_use]
pub fn at_death_spiral(c: Value, d: Value, bw_d: Ratio, pen: Ratio, lt_c: Ratio) -> bool {
    let w = U512::from(WAD);
    U512::from(c.raw()) * U512::from(bw_d.raw()) * w
        <= U512::from(d.raw()) * (w + U512::from(pen.raw())) * U512::from(lt_c.raw())
}
