//! Mechanisms: a name from the scenario's `mechanisms` list, its parameter overrides from
//! `[mechanism.<name>]`, and the core policy they make. The simulator liquidates through the
//! same `softliq_core::liquidation` code the engine runs; a mechanism is only its parameters.

use serde::Serialize;
use softliq_config::Markets;
use softliq_config::policy::{self, Given};
use softliq_core::bands::BandParams;
use softliq_core::liquidation::Policy;
use softliq_core::money::{Ratio, Value};

use super::Scenario;
use crate::error::{Result, SimError};

/// The mechanisms a scenario may name; any other name needs a `rule` (one of these but
/// `llamma`) in its `[mechanism.<name>]` table. The policies are read by
/// `softliq_config::policy`, the reader the API's `POST /v1/policy` uses too.
pub const KNOWN: &str = "full, close_factor, soft, restore, two_stage, dutch, llamma";

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
    let dust_value = usd(scenario.markets.dust_usd, "markets.dust_usd")?;
    let insurance_share = fraction(scenario.markets.insurance_share, "markets.insurance_share")?;
    let at = policy::At {
        name: "mechanisms",
        overrides: &format!("mechanism.{name}"),
    };
    let policy = policy::policy(name, overrides, at, |p| {
        p.dust_value = dust_value;
        p.insurance_share = insurance_share;
    })?;
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

fn usd(amount: f64, field: &str) -> Result<Value> {
    Value::parse(field, &format!("{amount}")).map_err(|e| SimError::field(field, e.problem))
}

fn fraction(share: f64, field: &str) -> Result<Ratio> {
    Ratio::parse(field, &format!("{share}")).map_err(|e| SimError::field(field, e.problem))
}
