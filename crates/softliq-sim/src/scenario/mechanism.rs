//! Mechanisms: a name from the scenario's `mechanisms` list, its parameter overrides from
//! `[mechanism.<name>]`, and the core policy they make. The simulator liquidates through the
//! same `softliq_core::liquidation` code the engine runs; a mechanism is only its parameters.

use serde::Serialize;
use softliq_config::{Markets, Number};
use softliq_core::liquidation::{Policy, Rule};
use softliq_core::money::{Ratio, Value};

use super::Scenario;
use crate::error::{Result, SimError};

/// One mechanism of a comparison.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Mechanism {
    pub name: String,
    #[serde(skip)]
    pub policy: Policy,
}

/// The mechanism `name` with the scenario's overrides, validated against its market.
///
/// # Errors
/// An unknown name, an unknown or malformed parameter, or a policy out of bounds (named).
pub fn mechanism(name: &str, scenario: &Scenario, markets: &Markets) -> Result<Mechanism> {
    let mut policy = Policy::by_name(name).ok_or_else(|| {
        SimError::field(
            "mechanisms",
            format!(
                "unknown mechanism {name:?} (known: full, close_factor, soft, restore, two_stage)"
            ),
        )
    })?;
    if policy.auction().is_some() {
        // The run loop drives liquidation calls only: a `dutch` run would liquidate nothing and
        // report it as a result. Refused until the simulator drives auctions.
        return Err(SimError::field(
            "mechanisms",
            "dutch: Dutch auctions are not simulated yet (the engine, API and keeper run them)",
        ));
    }
    policy.dust_value = usd(scenario.markets.dust_usd, "markets.dust_usd")?;
    policy.insurance_share = fraction(scenario.markets.insurance_share, "markets.insurance_share")?;
    if let Some(overrides) = scenario.mechanism.get(name) {
        for (key, value) in overrides {
            let field = format!("mechanism.{name}.{key}");
            set(&mut policy.rule, key, value, &field)?;
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
    })
}

fn usd(amount: f64, field: &str) -> Result<Value> {
    Value::parse(field, &format!("{amount}")).map_err(|e| SimError::field(field, e.problem))
}

fn fraction(share: f64, field: &str) -> Result<Ratio> {
    Ratio::parse(field, &format!("{share}")).map_err(|e| SimError::field(field, e.problem))
}

fn set(rule: &mut Rule, key: &str, value: &toml::Value, field: &str) -> Result<()> {
    let number: Number = value
        .clone()
        .try_into()
        .map_err(|_| SimError::field(field, "must be a number or a decimal string"))?;
    let ratio = || {
        number
            .ratio(field)
            .map_err(|e| SimError::field(field, format!("{} (got {:?})", e.problem, e.text)))
    };
    let value_usd = || {
        number
            .price(field)
            .map(|p| Value::from_raw(p.raw()))
            .map_err(|e| SimError::field(field, format!("{} (got {:?})", e.problem, e.text)))
    };
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
            *small_position_value = value_usd()?;
            return Ok(());
        }
        (
            Rule::CloseFactor {
                min_leftover_value, ..
            },
            "min_leftover_usd",
        ) => {
            *min_leftover_value = value_usd()?;
            return Ok(());
        }
        _ => {
            return Err(SimError::field(
                field,
                "no such parameter for this mechanism",
            ));
        }
    };
    *slot = ratio()?;
    Ok(())
}
