//! Fixtures shared by the core's unit tests and benchmarks (which cannot see `cfg(test)`
//! code): realistic parameters and small helpers. Not part of the API: they panic on bad
//! literals.

use crate::asset::{AssetParams, OracleGuards, RateModel};
use crate::money::{Decimals, Ratio};

/// A ratio from a decimal literal such as "0.825".
///
/// # Panics
/// On a literal that is not a ratio.
#[must_use]
pub fn ratio(text: &str) -> Ratio {
    Ratio::parse("test", text).expect("test ratio")
}

/// A sound parameter set in the style of a large stablecoin market; tests change one field.
///
/// # Panics
/// On more decimals than a token may have.
#[must_use]
pub fn stable_params(decimals: u8) -> AssetParams {
    AssetParams {
        decimals: Decimals::new(decimals).expect("decimals"),
        collateral_factor: ratio("0.8"),
        liquidation_threshold: ratio("0.85"),
        borrow_weight: ratio("1"),
        liquidation_penalty: ratio("0.05"),
        liquidation_discount: ratio("0.04"),
        reserve_factor: ratio("0.1"),
        rate_model: RateModel {
            base: ratio("0"),
            slope1: ratio("0.04"),
            slope2: ratio("0.6"),
            optimal_utilisation: ratio("0.9"),
        },
        supply_cap: None,
        borrow_cap: None,
        oracle: OracleGuards {
            max_staleness_s: 3600,
            max_jump: ratio("0.1"),
            confirm_s: 300,
        },
        auction_hole: None,
    }
}
