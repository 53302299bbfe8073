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

/// A sound perp market in the style of a large venue's BTC or ETH perpetual at 10x: contracts
/// with 6 decimals, IM 10% / MM 5% up to 1 M USD of notional then 20% / 10%, fees 0.05% taker,
/// 0.5% liquidation fee shared half with the liquidator, hourly funding, 2% chunk tolerance.
///
/// # Panics
/// Never for these literals.
#[must_use]
pub fn perp_params(index_asset: crate::asset::AssetId) -> crate::perp::PerpParams {
    use crate::money::{Amount, Price, Value};
    use crate::perp::{FundingParams, MarginTier, MarkParams, PerpParams};
    PerpParams {
        index_asset,
        decimals: Decimals::new(6).expect("decimals"),
        tiers: vec![
            MarginTier {
                notional_max: Some(Value::from_int(1_000_000).expect("tier")),
                initial: ratio("0.1"),
                maintenance: ratio("0.05"),
            },
            MarginTier {
                notional_max: None,
                initial: ratio("0.2"),
                maintenance: ratio("0.1"),
            },
        ],
        max_leverage: ratio("10"),
        lot_size: Amount::from_raw(1_000),
        tick_size: Price::parse("test", "0.01").expect("tick"),
        taker_fee: ratio("0.0005"),
        maker_fee: ratio("0.0002"),
        liquidation_fee: ratio("0.005"),
        liquidator_share: ratio("0.5"),
        funding: FundingParams {
            interval_s: 3_600,
            interest_rate: ratio("0.0000125"),
            premium_clamp: ratio("0.0005"),
            rate_cap: ratio("0.04"),
        },
        mark: MarkParams {
            premium_max: ratio("0.005"),
            smoothing: ratio("0.1"),
        },
        slippage_tolerance: ratio("0.02"),
        chunk_notional_max: Value::from_int(100_000).expect("chunk"),
        open_interest_cap: None,
        unwind_target: ratio("1"),
        backstop_line: ratio("0.66"),
        empty_rounds_max: 3,
    }
}
