//! Hand-computed cases of the `aave_v3` profile; the recorded vectors
//! (`tests/aave_v3_vectors.rs`) check it against Aave's own contracts.

use super::math::RAY;
use super::*;

fn u(x: u128) -> U256 {
    U256::from(x)
}

const E18: u128 = 1_000_000_000_000_000_000;

/// WETH (18 decimals, 2,000 USD, LT 82.5%, bonus 5%, fee 10% of the bonus) against USDC
/// (6 decimals, 1 USD); indexes at 1.
fn market() -> Vec<Reserve> {
    let reserve = |decimals, price: u128, lt_bps: u16, bonus_bps, protocol_fee_bps| Reserve {
        decimals,
        price: u(price),
        ltv_bps: lt_bps.saturating_sub(300),
        lt_bps,
        bonus_bps,
        protocol_fee_bps,
        liquidity_index: RAY,
        borrow_index: RAY,
        virtual_balance: U256::MAX,
    };
    vec![
        reserve(18, 2_000 * 100_000_000, 8_250, 10_500, 1_000),
        reserve(6, 100_000_000, 8_600, 10_450, 1_000),
    ]
}

fn account(weth: u128, usdc_debt: u128) -> Vec<Position> {
    vec![
        Position {
            scaled_supply: u(weth),
            collateral: true,
            ..Position::default()
        },
        Position {
            scaled_debt: u(usdc_debt),
            borrowing: true,
            ..Position::default()
        },
    ]
}

#[test]
fn account_data_values_each_position_in_base_currency() {
    // 10 WETH = 20,000 USD; 17,000 USDC of debt. HF = wadDiv(2e12 · 8,250, 1.7e12) / 1e4.
    let data = account_data(&market(), &account(10 * E18, 17_000_000_000)).unwrap();
    assert_eq!(data.total_collateral_base, u(2_000_000_000_000));
    assert_eq!(data.total_debt_base, u(1_700_000_000_000));
    assert_eq!(data.health_factor, u(970_588_235_294_117_647));
}

#[test]
fn a_call_above_095_is_capped_at_half_the_debt_and_pays_the_fee_from_the_bonus() {
    let call = Call {
        collateral: 0,
        debt: 1,
        debt_to_cover: U256::MAX,
        receive_a_token: false,
    };
    let l = liquidation_call(&market(), &account(10 * E18, 17_000_000_000), call).unwrap();
    // Cap: percentMul(17,000 USD, 50%) = 8,500 USD = 8,500 USDC.
    assert_eq!(l.debt_repaid, u(8_500_000_000));
    // 4.25 WETH for the debt, × 1.05 = 4.4625; bonus part 0.2125, fee 10% of it.
    assert_eq!(l.protocol_fee, u(21_250_000_000_000_000));
    assert_eq!(l.collateral_to_liquidator, u(4_441_250_000_000_000_000));
    assert_eq!(l.positions[0].scaled_supply, u(5_537_500_000_000_000_000));
    assert_eq!(l.positions[1].scaled_debt, u(8_500_000_000));
    assert!(l.deficits.iter().all(|d| d.is_zero()));
}

#[test]
fn at_exactly_one_the_account_is_safe_and_dust_reverts_instead_of_shrinking() {
    // 10 WETH · 82.5% = 16,500 USD of weighted collateral against 16,500 USDC: HF exactly 1.
    let call = Call {
        collateral: 0,
        debt: 1,
        debt_to_cover: U256::MAX,
        receive_a_token: false,
    };
    let at_line = liquidation_call(&market(), &account(10 * E18, 16_500_000_000), call);
    assert_eq!(at_line, Err(Revert::HealthFactorNotBelowThreshold));
    // At 1,855 USD the 10 WETH weigh 15,303.75 USD against 17,000: HF 0.90, the whole debt
    // may go, but repaying 16,001 USDC would leave 999 USDC of debt: Aave reverts.
    let mut m = market();
    m[0].price = u(1_855 * 100_000_000);
    let dust = Call {
        debt_to_cover: u(16_001_000_000),
        ..call
    };
    let positions = account(10 * E18, 17_000_000_000);
    assert_eq!(
        liquidation_call(&m, &positions, dust),
        Err(Revert::MustNotLeaveDust)
    );
    let clean = Call {
        debt_to_cover: u(16_000_000_000),
        ..call
    };
    assert_eq!(
        liquidation_call(&m, &positions, clean).unwrap().debt_repaid,
        u(16_000_000_000)
    );
}

#[test]
fn collateral_params_follow_the_configurators_half_up_check() {
    assert!(check_collateral_params(9_000, 9_524, 10_500).is_ok());
    let refused = check_collateral_params(9_000, 9_525, 10_500).unwrap_err();
    assert_eq!(refused.field, "liquidation_bonus");
    assert_eq!(
        check_collateral_params(8_000, 7_000, 10_500)
            .unwrap_err()
            .field,
        "ltv"
    );
    assert_eq!(
        check_collateral_params(0, 8_000, 10_000).unwrap_err().field,
        "liquidation_bonus"
    );
    assert!(check_collateral_params(0, 0, 0).is_ok());
}
