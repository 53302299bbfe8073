//! Mechanisms: a name from the scenario's `mechanisms` list, its parameter overrides from
//! `[mechanism.<name>]`, and the core policy they make. The simulator liquidates through the
//! same `softliq_core::liquidation` code the engine runs; a mechanism is only its parameters.

use serde::Serialize;
use softliq_config::{Markets, Number};
use softliq_core::bands::BandParams;
use softliq_core::liquidation::auction::{Curve, Dutch};
use softliq_core::liquidation::{Absorb, Incentive, Policy, Rule};
use softliq_core::money::{Ratio, Value};

use super::Scenario;
use crate::error::{Result, SimError};

/// The mechanisms a scenario may name; any other name needs a `rule` (one of these) in its
/// `[mechanism.<name>]` table.
pub const KNOWN: &str = "full, close_factor, soft, restore, two_stage, dutch, llamma";

/// Keys read before the others, in this order: the auction curve and the incentive preset, so
/// that their own parameters apply to what they chose. (`rule`, the base of a custom mechanism,
/// is read by `base_policy`.)
const FIRST_KEYS: [&str; 3] = ["curve", "incentive", "absorb"];

/// One mechanism of a comparison.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Mechanism {
    pub name: String,
    #[serde(skip)]
    pub policy: Policy,
    /// Band conversion (`llamma`) instead of liquidation calls; then `policy` is unused.
    #[serde(skip)]
    pub bands: Option<BandsSpec>,
}

/// A `llamma` mechanism: the market's band parameters, and the oracle its AMM reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BandsSpec {
    pub params: BandParams,
    /// Time constant of the AMM's oracle, an exponential moving average of the market price
    /// (crvUSD's oracles smooth over ~10 minutes), seconds; 0 follows the market at once.
    pub ema_s: u64,
    /// The least oracle updates (with arbitrage after each) per step; more are made so that no
    /// update moves the oracle more than a quarter band.
    pub substeps: u32,
}

impl BandsSpec {
    const DEFAULT: Self = Self {
        params: BandParams::crvusd_eth(),
        ema_s: 866,
        substeps: 1,
    };
}

const BAND_KEYS: [&str; 7] = [
    "a",
    "fee",
    "loan_discount",
    "liquidation_discount",
    "n_bands",
    "ema_s",
    "substeps",
];

/// The `llamma` mechanism with the scenario's overrides.
fn bands(name: &str, overrides: Option<&toml::Table>) -> Result<Mechanism> {
    let mut spec = BandsSpec::DEFAULT;
    for (key, value) in overrides.into_iter().flatten() {
        let field = format!("mechanism.{name}.{key}");
        if key == "rule" {
            continue;
        }
        if !BAND_KEYS.contains(&key.as_str()) {
            return Err(SimError::field(field, "no such parameter for llamma"));
        }
        let given = Given::new(value, &field)?;
        let whole = || -> Result<u32> {
            u32::try_from(given.seconds()?).map_err(|_| SimError::field(field.clone(), "too large"))
        };
        match key.as_str() {
            "a" => spec.params.a = whole()?,
            "fee" => spec.params.fee = given.ratio()?,
            "loan_discount" => spec.params.loan_discount = given.ratio()?,
            "liquidation_discount" => spec.params.liquidation_discount = given.ratio()?,
            "n_bands" => spec.params.n_bands = whole()?,
            "ema_s" => spec.ema_s = given.seconds()?,
            _ => spec.substeps = whole()?.clamp(1, 1_000),
        }
    }
    spec.params.validate().map_err(|e| {
        SimError::field(
            format!("mechanism.{name}.{}", e.field.trim_start_matches("bands.")),
            format!("{} is out of bounds: {}", e.value, e.bound),
        )
    })?;
    Ok(Mechanism {
        name: name.to_owned(),
        policy: Policy::full(),
        bands: Some(spec),
    })
}

/// The mechanism `name` with the scenario's overrides, validated against its market.
///
/// # Errors
/// An unknown name, an unknown or malformed parameter, or a policy out of bounds (named).
pub fn mechanism(name: &str, scenario: &Scenario, markets: &Markets) -> Result<Mechanism> {
    let overrides = scenario.mechanism.get(name);
    let rule = overrides
        .and_then(|o| o.get("rule"))
        .and_then(toml::Value::as_str);
    if name == "llamma" || rule == Some("llamma") {
        return bands(name, overrides);
    }
    let mut policy = base_policy(name, overrides)?;
    policy.dust_value = usd(scenario.markets.dust_usd, "markets.dust_usd")?;
    policy.insurance_share = fraction(scenario.markets.insurance_share, "markets.insurance_share")?;
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
            let field = format!("mechanism.{name}.{key}");
            if set_common(&mut policy, key, value, &field)? {
                continue;
            }
            match &mut policy.rule {
                Rule::Dutch(dutch) => set_dutch(dutch, key, value, &field)?,
                rule => set(rule, key, value, &field)?,
            }
        }
    }
    let assets: Vec<_> = markets
        .assets
        .iter()
        .map(|a| (a.symbol.as_str(), a.params()))
        .collect();
    policy.validate(&assets).map_err(|e| {
        SimError::field(
            format!("mechanism.{name}.{}", e.field),
            format!("{} is out of bounds: {}", e.value, e.bound),
        )
    })?;
    Ok(Mechanism {
        name: name.to_owned(),
        policy,
        bands: None,
    })
}

/// The policy a mechanism starts from: its own name's defaults, or those of the `rule` its
/// table names (a custom mechanism such as `[mechanism.soft_ramp] rule = "soft"`).
fn base_policy(name: &str, overrides: Option<&toml::Table>) -> Result<Policy> {
    let rule = overrides.and_then(|o| o.get("rule"));
    let base = match rule {
        Some(r) => r
            .as_str()
            .ok_or_else(|| SimError::field(format!("mechanism.{name}.rule"), "must be a string"))?,
        None => name,
    };
    Policy::by_name(base).ok_or_else(|| match rule {
        Some(_) => SimError::field(
            format!("mechanism.{name}.rule"),
            format!("unknown rule {base:?} (known: {KNOWN})"),
        ),
        None => SimError::field(
            "mechanisms",
            format!(
                "unknown mechanism {name:?} (known: {KNOWN}; a custom name needs `rule` in [mechanism.{name}])"
            ),
        ),
    })
}

/// Sets a parameter every call rule shares (the minimum call, the incentive and absorb);
/// false when `key` is not one of them.
fn set_common(policy: &mut Policy, key: &str, value: &toml::Value, field: &str) -> Result<bool> {
    if key == "incentive" {
        policy.incentive = value.as_str().and_then(Incentive::by_name).ok_or_else(|| {
            SimError::field(field, format!("must be one of {}", Incentive::NAMES))
        })?;
        return Ok(true);
    }
    if key == "min_call_usd" {
        policy.min_call_value = Given::new(value, field)?.usd()?;
        return Ok(true);
    }
    if key == "absorb" {
        let on = value
            .as_bool()
            .ok_or_else(|| SimError::field(field, "must be true or false"))?;
        policy.absorb = on.then(Absorb::preset);
        return Ok(true);
    }
    if let Some(absorb_key) = ABSORB_KEYS.iter().find(|k| **k == key) {
        let Some(absorb) = &mut policy.absorb else {
            return Err(SimError::field(
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
        return Err(SimError::field(
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

fn usd(amount: f64, field: &str) -> Result<Value> {
    Value::parse(field, &format!("{amount}")).map_err(|e| SimError::field(field, e.problem))
}

fn fraction(share: f64, field: &str) -> Result<Ratio> {
    Ratio::parse(field, &format!("{share}")).map_err(|e| SimError::field(field, e.problem))
}

/// An override's value as a number, with its readers.
struct Given<'a> {
    number: Number,
    field: &'a str,
}

impl<'a> Given<'a> {
    fn new(value: &toml::Value, field: &'a str) -> Result<Self> {
        let number: Number = value
            .clone()
            .try_into()
            .map_err(|_| SimError::field(field, "must be a number or a decimal string"))?;
        Ok(Self { number, field })
    }

    fn ratio(&self) -> Result<Ratio> {
        self.number
            .ratio(self.field)
            .map_err(|e| SimError::field(self.field, format!("{} (got {:?})", e.problem, e.text)))
    }

    fn usd(&self) -> Result<Value> {
        self.number
            .usd(self.field)
            .map_err(|e| SimError::field(self.field, format!("{} (got {:?})", e.problem, e.text)))
    }

    fn seconds(&self) -> Result<u64> {
        match self.number {
            Number::Int(s) => Ok(s),
            _ => Err(SimError::field(
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
                return Err(SimError::field(
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
            return Err(SimError::field(field, "no such parameter for this curve"));
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
            return Err(SimError::field(
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
            return Err(SimError::field(
                field,
                "no such parameter for this mechanism",
            ));
        }
    };
    *slot = given.ratio()?;
    Ok(())
}
