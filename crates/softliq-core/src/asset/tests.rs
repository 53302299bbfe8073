//! One test per parameter bound (docs/configuration.md), each at the edge and just past it.

use super::*;
use crate::money::{Decimals, Ratio};
use crate::testing::{ratio, stable_params};

fn refused_field(params: &AssetParams) -> &'static str {
    params.validate().expect_err("should be refused").field
}

#[test]
fn the_fixture_is_valid() {
    assert_eq!(stable_params(6).validate(), Ok(()));
}

#[test]
fn decimals_at_most_30() {
    assert!(Decimals::new(30).is_some());
    assert!(Decimals::new(31).is_none());
}

#[test]
fn collateral_factor_below_liquidation_threshold() {
    let mut p = stable_params(6);
    p.collateral_factor = ratio("0.849999999999999999");
    assert_eq!(p.validate(), Ok(()));
    p.collateral_factor = ratio("0.85");
    assert_eq!(refused_field(&p), "collateral_factor");
    p.collateral_factor = Ratio::ZERO;
    assert_eq!(
        p.validate(),
        Ok(()),
        "cf = 0: an asset that cannot back borrows"
    );
}

#[test]
fn liquidation_threshold_in_zero_one() {
    let mut p = stable_params(6);
    p.collateral_factor = Ratio::ZERO;
    p.liquidation_threshold = Ratio::ZERO;
    assert_eq!(refused_field(&p), "liquidation_threshold");
    p.liquidation_penalty = Ratio::ZERO;
    p.liquidation_discount = Ratio::ZERO;
    p.liquidation_threshold = Ratio::ONE;
    assert_eq!(p.validate(), Ok(()), "lt = 1 with no penalty");
    p.liquidation_threshold = ratio("1.000000000000000001");
    assert_eq!(refused_field(&p), "liquidation_threshold");
}

#[test]
fn threshold_leaves_room_for_the_penalty() {
    let mut p = stable_params(6);
    // lt · (1 + pen) = 0.952380952380952380 · 1.05 = 0.999999999999999999 <= 1
    p.liquidation_threshold = ratio("0.952380952380952380");
    assert_eq!(p.validate(), Ok(()));
    // 0.952380952380952381 · 1.05 = 1.00000000000000000005 > 1, caught exactly.
    p.liquidation_threshold = ratio("0.952380952380952381");
    let err = p.validate().unwrap_err();
    assert_eq!(err.field, "liquidation_threshold");
    assert!(err.bound.contains("(1 + liquidation_penalty)"), "{err}");
}

#[test]
fn borrow_weight_between_one_and_ten() {
    let mut p = stable_params(6);
    p.borrow_weight = ratio("0.999999999999999999");
    assert_eq!(refused_field(&p), "borrow_weight");
    p.borrow_weight = ratio("10");
    assert_eq!(p.validate(), Ok(()));
    p.borrow_weight = ratio("10.000000000000000001");
    assert_eq!(refused_field(&p), "borrow_weight");
}

#[test]
fn penalty_at_most_twenty_percent() {
    let mut p = stable_params(6);
    p.liquidation_threshold = ratio("0.8");
    p.collateral_factor = ratio("0.7");
    p.liquidation_penalty = ratio("0.2");
    assert_eq!(p.validate(), Ok(()));
    p.liquidation_penalty = ratio("0.200000000000000001");
    assert_eq!(refused_field(&p), "liquidation_penalty");
}

#[test]
fn discount_within_penalty_and_fifteen_percent() {
    let mut p = stable_params(6);
    p.liquidation_discount = ratio("0.05");
    assert_eq!(p.validate(), Ok(()), "disc = pen");
    p.liquidation_discount = ratio("0.050000000000000001");
    assert_eq!(refused_field(&p), "liquidation_discount");
    p.liquidation_threshold = ratio("0.8");
    p.collateral_factor = ratio("0.7");
    p.liquidation_penalty = ratio("0.2");
    p.liquidation_discount = ratio("0.15");
    assert_eq!(p.validate(), Ok(()));
    p.liquidation_discount = ratio("0.150000000000000001");
    assert_eq!(refused_field(&p), "liquidation_discount");
}

#[test]
fn reserve_factor_below_one() {
    let mut p = stable_params(6);
    p.reserve_factor = ratio("0.999999999999999999");
    assert_eq!(p.validate(), Ok(()));
    p.reserve_factor = Ratio::ONE;
    assert_eq!(refused_field(&p), "reserve_factor");
}

#[test]
fn kink_strictly_inside_zero_one() {
    let mut p = stable_params(6);
    for bad in ["0", "1"] {
        p.rate_model.optimal_utilisation = ratio(bad);
        assert_eq!(
            refused_field(&p),
            "rate_model.optimal_utilisation",
            "u* = {bad}"
        );
    }
    p.rate_model.optimal_utilisation = ratio("0.000000000000000001");
    assert_eq!(p.validate(), Ok(()));
}

#[test]
fn top_rate_bounded() {
    let mut p = stable_params(6);
    p.rate_model.slope2 = ratio("99.96");
    assert_eq!(p.validate(), Ok(()), "0 + 0.04 + 99.96 = 100");
    p.rate_model.slope2 = ratio("99.960000000000000001");
    assert_eq!(refused_field(&p), "rate_model");
    p.rate_model.slope2 = Ratio::MAX;
    assert_eq!(
        refused_field(&p),
        "rate_model",
        "overflowing sum refused, not wrapped"
    );
}

#[test]
fn oracle_guards_bounded() {
    let mut p = stable_params(6);
    p.oracle.max_staleness_s = 0;
    assert_eq!(refused_field(&p), "oracle.max_staleness_s");
    p = stable_params(6);
    p.oracle.max_jump = Ratio::ZERO;
    assert_eq!(refused_field(&p), "oracle.max_jump");
    p.oracle.max_jump = ratio("10.000000000000000001");
    assert_eq!(refused_field(&p), "oracle.max_jump");
    p = stable_params(6);
    p.oracle.confirm_s = 0;
    assert_eq!(refused_field(&p), "oracle.confirm_s");
}

#[test]
fn update_validates_and_keeps_decimals() {
    let mut asset = Asset::new(AssetId(0), "USDC", stable_params(6)).unwrap();
    let mut next = stable_params(6);
    next.liquidation_penalty = ratio("0.3");
    assert_eq!(asset.update(next).unwrap_err().field, "liquidation_penalty");
    assert_eq!(
        asset.params(),
        &stable_params(6),
        "a refused update changes nothing"
    );
    assert_eq!(
        asset.update(stable_params(18)).unwrap_err().field,
        "decimals"
    );
    let mut ok = stable_params(6);
    ok.reserve_factor = ratio("0.2");
    asset.update(ok.clone()).unwrap();
    assert_eq!(asset.params(), &ok);
}

#[test]
fn error_message_names_field_bound_and_value() {
    let mut p = stable_params(6);
    p.borrow_weight = ratio("0.5");
    let msg = p.validate().unwrap_err().to_string();
    assert_eq!(
        msg,
        "borrow_weight = 0.5 is out of bounds: 1 <= borrow_weight <= 10"
    );
}

#[test]
fn kinked_rate_curve() {
    let m = stable_params(6).rate_model; // 0 + 4% to the kink at 90%, then +60%
    let r = |u: &str| m.borrow_rate(ratio(u)).unwrap();
    assert_eq!(r("0"), ratio("0"));
    assert_eq!(r("0.45"), ratio("0.02"));
    assert_eq!(r("0.9"), ratio("0.04"));
    assert_eq!(r("0.95"), ratio("0.34"));
    assert_eq!(r("1"), ratio("0.64"));
    assert_eq!(
        r("1.5"),
        ratio("0.64"),
        "utilisation beyond 1 is clamped to the top rate"
    );
    // Rounds up: 0.04 · (0.3 / 0.9) = 0.01333.. -> ...334
    assert_eq!(r("0.3"), ratio("0.013333333333333334"));
}

/// Aave's listing rules replace softliq's two cross-checks under the `aave_v3` profile: LTV may
/// equal the threshold, and LT 95.24% with a 5% bonus passes Aave's half-up `percentMul`
/// (softliq's exact `lt · (1 + pen) ≤ 1` refuses it: 1.00002); 95.25% fails both. A borrow
/// weight or a fee share that is not whole basis points has no Aave meaning.
#[test]
fn the_aave_v3_profile_lists_by_aaves_rules() {
    use crate::profile::Profile;
    let mut p = crate::testing::stable_params(18);
    p.liquidation_threshold = crate::testing::ratio("0.9524");
    p.collateral_factor = crate::testing::ratio("0.9524");
    p.liquidation_penalty = crate::testing::ratio("0.05");
    p.liquidation_discount = crate::testing::ratio("0.045");
    assert!(p.validate_in(Profile::AaveV3).is_ok());
    assert_eq!(p.validate().unwrap_err().field, "collateral_factor");
    p.collateral_factor = crate::testing::ratio("0.9");
    assert_eq!(p.validate().unwrap_err().field, "liquidation_threshold");
    p.liquidation_threshold = crate::testing::ratio("0.9525");
    assert_eq!(
        p.validate_in(Profile::AaveV3).unwrap_err().field,
        "liquidation_bonus"
    );
    p.liquidation_threshold = crate::testing::ratio("0.9");
    p.borrow_weight = crate::testing::ratio("1.1");
    assert_eq!(
        p.validate_in(Profile::AaveV3).unwrap_err().field,
        "borrow_weight"
    );
    p.borrow_weight = crate::money::Ratio::ONE;
    p.liquidation_discount = crate::testing::ratio("0.033333");
    assert_eq!(
        p.validate_in(Profile::AaveV3).unwrap_err().field,
        "liquidation_discount"
    );
}
