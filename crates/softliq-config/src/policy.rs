//! Liquidation policies as people write them: a mechanism's name and flat overrides, in a
//! simulator scenario (`mechanisms = ["soft"]` with `[mechanism.soft] max_fraction = "20%"`) and
//! in the API (`POST /v1/policy` with `{"mechanism": "soft", "overrides": {"max_fraction":
//! "20%"}}`) alike: one reader, one set of names, one ratio syntax, errors that name the field.
//! The exact form (`softliq_core::liquidation::Policy` as JSON) stays what the API shows back.
//!
//! Keys: `rule` (the base of a custom name: `full`, `close_factor`, `soft`, `restore`, `aave_v3`,
//! `two_stage`, `dutch`), the rule's own parameters (`max_fraction`, `target_hf`, `soft_hf`,
//! `soft_cf_min`, `soft_pen_min`, `close_factor`, `full_close_hf`, `small_position_usd`,
//! `min_leftover_usd`; a `dutch` curve and its `tau_s`, `step_s`, `cut`, `buf`, `tail_s`, `cusp`,
//! `chop`, `chip`, `tip_usd`, `chost_usd`, `hole_total_usd`), `incentive` with `discount_min`,
//! `discount_max`, `shortfall_slope`, `ramp_s`, `protocol_fee`, `min_call_usd`, `absorb` with
//! `absorb_hf_max`, `absorb_after_s`, `absorb_small_usd_max`, `absorb_penalty`,
//! `storefront_discount`, and the market's `dust_usd` and `insurance_share`.

use std::fmt;

use softliq_core::liquidation::auction::{Curve, Dutch};
use softliq_core::liquidation::{Absorb, Incentive, Policy, Rule};
use softliq_core::money::{Ratio, Value};

use crate::Number;

/// A policy that could not be built: the field (dotted path) and the problem.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyError {
    pub field: String,
    pub problem: String,
}

impl PolicyError {
    fn new(field: impl Into<String>, problem: impl ToString) -> Self {
        Self {
            field: field.into(),
            problem: problem.to_string(),
        }
    }
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.problem)
    }
}

impl std::error::Error for PolicyError {}

type Result<T> = std::result::Result<T, PolicyError>;

/// The rules a policy may start from.
pub const RULES: &str = "full, close_factor, soft, restore, two_stage, aave_v3, dutch";

/// Where a policy is written, for the fields its errors name.
#[derive(Clone, Copy, Debug)]
pub struct At<'a> {
    /// Where the name was given (`mechanisms`, `mechanism`).
    pub name: &'a str,
    /// The dotted path of the overrides (`mechanism.soft`, `overrides`).
    pub overrides: &'a str,
}

/// The policy `name` (a rule, or a custom name whose overrides give `rule`) with `overrides`
/// applied to the rule's defaults, after `prepare` (which sets what the caller's market gives,
/// such as the dust value). Not yet validated against the market's assets
/// ([`Policy::validate`]).
///
/// # Errors
/// An unknown name or rule, an unknown or malformed key, a parameter for another rule or
/// curve; each names its field.
pub fn policy(
    name: &str,
    overrides: Option<&toml::Table>,
    at: At<'_>,
    prepare: impl FnOnce(&mut Policy),
) -> Result<Policy> {
    let mut policy = base_policy(name, overrides, at)?;
    prepare(&mut policy);
    if let Some(overrides) = overrides {
        let ordered = FIRST_KEYS
            .iter()
            .filter_map(|k| overrides.get_key_value(*k))
            .chain(
                overrides
                    .iter()
                    .filter(|(k, _)| k.as_str() != "rule" && !FIRST_KEYS.contains(&k.as_str())),
            );
        for (key, value) in ordered {
            let field = format!("{}.{key}", at.overrides);
            if set_common(&mut policy, key, value, &field)? {
                continue;
            }
            match &mut policy.rule {
                Rule::Dutch(dutch) => set_dutch(dutch, key, value, &field)?,
                rule => set(rule, key, value, &field)?,
            }
        }
    }
    Ok(policy)
}

/// Keys read before the others, in this order: the auction curve and the incentive preset, so
/// that their own parameters apply to what they chose. (`rule`, the base of a custom mechanism,
/// is read by `base_policy`.)
const FIRST_KEYS: [&str; 3] = ["curve", "incentive", "absorb"];

/// The policy a mechanism starts from: its own name's defaults, or those of the `rule` its
/// table names (a custom mechanism such as `[mechanism.soft_ramp] rule = "soft"`).
fn base_policy(name: &str, overrides: Option<&toml::Table>, at: At<'_>) -> Result<Policy> {
    let rule = overrides.and_then(|o| o.get("rule"));
    let base = match rule {
        Some(r) => r.as_str().ok_or_else(|| {
            PolicyError::new(format!("{}.rule", at.overrides), "must be a string")
        })?,
        None => name,
    };
    Policy::by_name(base).ok_or_else(|| match rule {
        Some(_) => PolicyError::new(
            format!("{}.rule", at.overrides),
            format!("unknown rule {base:?} (known: {RULES})"),
        ),
        None => PolicyError::new(
            at.name,
            format!(
                "unknown mechanism {name:?} (known: {RULES}; a custom name needs `rule` in {})",
                at.overrides
            ),
        ),
    })
}

/// Sets a parameter every call rule shares (the minimum call, the incentive and absorb);
/// false when `key` is not one of them.
fn set_common(policy: &mut Policy, key: &str, value: &toml::Value, field: &str) -> Result<bool> {
    if key == "incentive" {
        policy.incentive = value.as_str().and_then(Incentive::by_name).ok_or_else(|| {
            PolicyError::new(field, format!("must be one of {}", Incentive::NAMES))
        })?;
        return Ok(true);
    }
    if key == "dust_usd" {
        policy.dust_value = Given::new(value, field)?.usd()?;
        return Ok(true);
    }
    if key == "insurance_share" {
        policy.insurance_share = Given::new(value, field)?.ratio()?;
        return Ok(true);
    }
    if key == "min_call_usd" {
        policy.min_call_value = Given::new(value, field)?.usd()?;
        return Ok(true);
    }
    if key == "absorb" {
        let on = value
            .as_bool()
            .ok_or_else(|| PolicyError::new(field, "must be true or false"))?;
        policy.absorb = on.then(Absorb::preset);
        return Ok(true);
    }
    if let Some(absorb_key) = ABSORB_KEYS.iter().find(|k| **k == key) {
        let Some(absorb) = &mut policy.absorb else {
            return Err(PolicyError::new(
                field,
                "an absorb parameter: set absorb = true first",
            ));
        };
        let given = Given::new(value, field)?;
        match *absorb_key {
            "absorb_hf_max" => absorb.hf_max = given.ratio()?,
            "absorb_after_s" => absorb.after_s = given.seconds()?,
            "absorb_small_usd_max" => absorb.small_value_max = given.usd()?,
            "absorb_penalty" => absorb.penalty = given.ratio()?,
            _ => absorb.storefront_discount = given.ratio()?,
        }
        return Ok(true);
    }
    let need_keys = [
        "discount_min",
        "discount_max",
        "shortfall_slope",
        "ramp_s",
        "protocol_fee",
    ];
    if !need_keys.contains(&key) {
        return Ok(false);
    }
    let Incentive::Need(need) = &mut policy.incentive else {
        return Err(PolicyError::new(
            field,
            "a need-sized incentive's parameter: set incentive = \"ramp\" or \"euler\" first",
        ));
    };
    let given = Given::new(value, field)?;
    match key {
        "discount_min" => need.discount_min = given.ratio()?,
        "discount_max" => need.discount_max = given.ratio()?,
        "shortfall_slope" => need.shortfall_slope = given.ratio()?,
        "ramp_s" => need.ramp_s = given.seconds()?,
        _ => need.protocol_fee = given.ratio()?,
    }
    Ok(true)
}

/// The absorb parameters a mechanism may set after `absorb = true`.
const ABSORB_KEYS: [&str; 5] = [
    "absorb_hf_max",
    "absorb_after_s",
    "absorb_small_usd_max",
    "absorb_penalty",
    "storefront_discount",
];

/// An override's value as a number, with its readers.
pub struct Given<'a> {
    number: Number,
    field: &'a str,
}

impl<'a> Given<'a> {
    /// Reads `value` as a number for `field`.
    ///
    /// # Errors
    /// Not a number or a decimal string.
    pub fn new(value: &toml::Value, field: &'a str) -> Result<Self> {
        let number: Number = value
            .clone()
            .try_into()
            .map_err(|_| PolicyError::new(field, "must be a number or a decimal string"))?;
        Ok(Self { number, field })
    }

    /// As a ratio (`"20%"`, `0.2`, `"2000bps"`).
    ///
    /// # Errors
    /// Malformed or out of range, naming the field.
    pub fn ratio(&self) -> Result<Ratio> {
        self.number
            .ratio(self.field)
            .map_err(|e| PolicyError::new(self.field, format!("{} (got {:?})", e.problem, e.text)))
    }

    /// As USD.
    ///
    /// # Errors
    /// Malformed or out of range, naming the field.
    pub fn usd(&self) -> Result<Value> {
        self.number
            .usd(self.field)
            .map_err(|e| PolicyError::new(self.field, format!("{} (got {:?})", e.problem, e.text)))
    }

    /// As whole seconds.
    ///
    /// # Errors
    /// Not a whole number.
    pub fn seconds(&self) -> Result<u64> {
        match self.number {
            Number::Int(s) => Ok(s),
            _ => Err(PolicyError::new(
                self.field,
                "must be a whole number of seconds",
            )),
        }
    }
}

/// Sets one parameter of a `dutch` policy. `curve` (`linear`, `stairstep`, `exponential`)
/// switches the curve with Maker-like defaults (`tau_s` = `tail_s`; 1% per 90 s; the same fall
/// per second), which `tau_s`, `cut` and `step_s` then change.
fn set_dutch(dutch: &mut Dutch, key: &str, value: &toml::Value, field: &str) -> Result<()> {
    if key == "curve" {
        dutch.curve = match value.as_str() {
            Some("linear") => Curve::Linear {
                tau_s: dutch.tail_s,
            },
            Some("stairstep") => Dutch::maker().curve,
            Some("exponential") => Curve::Exponential {
                cut: Ratio::from_raw(EXPONENTIAL_CUT_DEFAULT),
            },
            _ => {
                return Err(PolicyError::new(
                    field,
                    "must be \"linear\", \"stairstep\" or \"exponential\"",
                ));
            }
        };
        return Ok(());
    }
    let given = Given::new(value, field)?;
    match (&mut dutch.curve, key) {
        (Curve::Linear { tau_s }, "tau_s") => *tau_s = given.seconds()?,
        (Curve::Stairstep { step_s, .. }, "step_s") => *step_s = given.seconds()?,
        (Curve::Stairstep { cut, .. } | Curve::Exponential { cut }, "cut") => {
            *cut = given.ratio()?
        }
        (_, "tau_s" | "step_s" | "cut") => {
            return Err(PolicyError::new(field, "no such parameter for this curve"));
        }
        (_, "buf") => dutch.buf = given.ratio()?,
        (_, "tail_s") => dutch.tail_s = given.seconds()?,
        (_, "cusp") => dutch.cusp = given.ratio()?,
        (_, "chop") => dutch.chop = given.ratio()?,
        (_, "chip") => dutch.chip = given.ratio()?,
        (_, "tip_usd") => dutch.tip = given.usd()?,
        (_, "chost_usd") => dutch.chost = given.usd()?,
        (_, "hole_total_usd") => dutch.hole_total = given.usd()?,
        _ => {
            return Err(PolicyError::new(
                field,
                "no such parameter for this mechanism",
            ));
        }
    }
    Ok(())
}

/// 0.99^(1/90) in WAD: Maker's 1% per 90 s as a fall per second.
const EXPONENTIAL_CUT_DEFAULT: u128 = 999_888_335_836_534_611;

fn set(rule: &mut Rule, key: &str, value: &toml::Value, field: &str) -> Result<()> {
    let given = Given::new(value, field)?;
    let slot = match (rule, key) {
        (Rule::Soft { max_fraction }, "max_fraction")
        | (Rule::Restore { max_fraction, .. }, "max_fraction")
        | (Rule::TwoStage { max_fraction, .. }, "max_fraction")
        | (
            Rule::Restore {
                target_hf: max_fraction,
                ..
            },
            "target_hf",
        )
        | (
            Rule::TwoStage {
                soft_hf: max_fraction,
                ..
            },
            "soft_hf",
        )
        | (
            Rule::TwoStage {
                soft_cf_min: max_fraction,
                ..
            },
            "soft_cf_min",
        )
        | (
            Rule::TwoStage {
                soft_pen_min: max_fraction,
                ..
            },
            "soft_pen_min",
        )
        | (
            Rule::CloseFactor {
                close_factor: max_fraction,
                ..
            },
            "close_factor",
        )
        | (
            Rule::CloseFactor {
                full_close_hf: max_fraction,
                ..
            },
            "full_close_hf",
        ) => max_fraction,
        (
            Rule::CloseFactor {
                small_position_value,
                ..
            },
            "small_position_usd",
        ) => {
            *small_position_value = given.usd()?;
            return Ok(());
        }
        (
            Rule::CloseFactor {
                min_leftover_value, ..
            },
            "min_leftover_usd",
        ) => {
            *min_leftover_value = given.usd()?;
            return Ok(());
        }
        _ => {
            return Err(PolicyError::new(
                field,
                "no such parameter for this mechanism",
            ));
        }
    };
    *slot = given.ratio()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(text: &str) -> toml::Table {
        toml::from_str(text).expect("toml")
    }

    const AT: At<'static> = At {
        name: "mechanism",
        overrides: "overrides",
    };

    #[test]
    fn overrides_apply_after_the_market_defaults() {
        let dust = Value::from_int(25).unwrap();
        let o = table("max_fraction = \"30%\"\ndust_usd = 12");
        let p = policy("soft", Some(&o), AT, |p| p.dust_value = dust).unwrap();
        assert_eq!(
            p.rule,
            Rule::Soft {
                max_fraction: Ratio::parse("r", "0.3").unwrap()
            }
        );
        assert_eq!(
            p.dust_value,
            Value::from_int(12).unwrap(),
            "the override wins"
        );
        let p = policy("soft", None, AT, |p| p.dust_value = dust).unwrap();
        assert_eq!(p.dust_value, dust, "the market's value without an override");
        let custom = table("rule = \"restore\"\ntarget_hf = \"1.2\"");
        assert!(matches!(
            policy("gentle", Some(&custom), AT, |_| {}).unwrap().rule,
            Rule::Restore { .. }
        ));
    }

    #[test]
    fn errors_name_the_field() {
        let field = |name: &str, text: &str| {
            policy(name, Some(&table(text)), AT, |_| {})
                .unwrap_err()
                .field
        };
        assert_eq!(
            field("soft", "max_fractoin = 0.2"),
            "overrides.max_fractoin"
        );
        assert_eq!(field("soft", "target_hf = 1.2"), "overrides.target_hf");
        assert_eq!(
            field("soft", "discount_max = \"5%\""),
            "overrides.discount_max"
        );
        assert_eq!(field("softer", ""), "mechanism");
        assert_eq!(field("custom", "rule = \"nope\""), "overrides.rule");
        assert_eq!(field("dutch", "curve = \"cubic\""), "overrides.curve");
    }
}
