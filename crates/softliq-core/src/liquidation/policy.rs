//! The liquidation policies (SPEC §4.1): how much one call may repay.
//!
//! Each policy turns the state of one call — the account's health, its debt in the chosen debt
//! asset `d` and its collateral in the chosen collateral asset `c` — into a cap on the repaid
//! value. The quote (`quote.rs`) then takes the smallest of that cap, the liquidator's request,
//! the debt in `d` and what the collateral in `c` can pay for, and applies the death-spiral and
//! dust rules that every policy shares.

use ruint::aliases::U512;

use super::auction::Dutch;
use crate::asset::{AssetParams, ParamError};
use crate::money::muldiv::quotient;
use crate::money::{MathError, Ratio, Rounding, Value, WAD};

/// A market's liquidation policy: the rule, and what every rule shares.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Policy {
    pub rule: Rule,
    /// No call may leave debt in `d` worth less than this (SPEC §4.1, default 10 USD).
    pub dust_value: Value,
    /// Share of the protocol's part of seized collateral paid into the insurance fund.
    pub insurance_share: Ratio,
}

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
    /// No calls: collateral is sold by Dutch auction (SPEC §6; `bark`, `take`, `redo`).
    Dutch(Dutch),
}

const fn ratio(raw: u128) -> Ratio {
    Ratio::from_raw(raw)
}
const PCT: u128 = WAD / 100;

impl Policy {
    const fn with(rule: Rule) -> Self {
        Self {
            rule,
            dust_value: Value::from_raw(10 * WAD),
            insurance_share: Ratio::ZERO,
        }
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
            Rule::Dutch(_) => "dutch",
        }
    }

    /// The policy with default parameters called `name`.
    #[must_use]
    pub fn by_name(name: &str) -> Option<Self> {
        Self::all()
            .into_iter()
            .chain([Self::dutch()])
            .find(|p| p.name() == name)
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
            Rule::Dutch(d) => d.validate(),
        }
    }
}

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
