//! Protocol absorb and the storefront in the engine: the tests that allow an absorb, the
//! treasury taking over the account, a sale at the storefront price, refusals that change
//! nothing, and a replay that reaches the same state.

mod common;

use common::*;
use softliq_core::liquidation::{Absorb, Policy, Reason};
use softliq_core::money::{Amount, Rounding, Shares};
use softliq_engine::state::TREASURY;

fn absorbing_market() -> Market {
    let mut m = Market::new();
    m.ok(CommandBody::SetPolicy {
        policy: Policy {
            // Below HF 0.9 or an hour flagged (the preset waits longer).
            absorb: Some(Absorb {
                hf_max: softliq_core::money::Ratio::parse("hf_max", "0.9").unwrap(),
                after_s: 3_600,
                ..Absorb::preset()
            }),
            ..Policy::soft()
        },
        liquidation_price: PriceSource::Spot,
    });
    m
}

fn absorb_alice() -> CommandBody {
    CommandBody::Absorb {
        absorber: LENDER,
        borrower: ALICE,
    }
}

fn buy(max_pay: &str, min_out: &str) -> CommandBody {
    CommandBody::BuyCollateral {
        buyer: LENDER,
        asset: WETH,
        pay_asset: USDC,
        max_pay: max_pay.into(),
        min_out: min_out.into(),
    }
}

#[test]
fn a_neglected_account_is_absorbed_and_its_collateral_sold() {
    let mut m = absorbing_market();
    m.refuse(absorb_alice(), Code::NotLiquidatable, "borrower");
    // WETH at 2,400: HF 0.99, liquidatable but not below 0.9 and owing 20,000 USD.
    m.crash();
    m.refuse(absorb_alice(), Code::NotAbsorbable, "borrower");
    m.refuse(buy("100", "0"), Code::LiquidationRefused, "asset");
    // An hour after the flag nobody has taken it: absorbed.
    m.now += 3_600;
    let at = m.now;
    m.ok(price(WETH, "2400", at));
    m.ok(price(USDC, "1", at));
    let events = m.ok(absorb_alice());
    let a = events
        .iter()
        .find_map(|e| match e {
            Event::Absorbed(a) => Some(a.absorption.clone()),
            _ => None,
        })
        .expect("absorbed");
    assert_eq!(a.reason, Reason::Neglected);
    let state = m.engine.state();
    let alice = &state.account(ALICE).unwrap().account;
    assert!(!alice.has_debt());
    assert!(
        !state.flagged.contains(&ALICE),
        "the flag goes with the debt"
    );
    // The treasury took collateral worth the debt plus 5%, rounded up, and all the debt.
    let take = a
        .debt_value
        .mul_ratio(
            softliq_core::money::Ratio::parse("r", "1.05").unwrap(),
            Rounding::Up,
        )
        .unwrap()
        .ratio_to(a.collateral_value, Rounding::Up)
        .unwrap();
    let weth = Shares::from_raw(10 * 10u128.pow(18))
        .mul_ratio(take, Rounding::Up)
        .unwrap();
    let treasury = &state.account(TREASURY).unwrap().account;
    assert_eq!(treasury.position(WETH).supply, weth);
    assert_eq!(
        alice.position(WETH).supply.raw(),
        10 * 10u128.pow(18) - weth.raw()
    );
    assert!(!treasury.position(USDC).debt.is_zero());
    assert_eq!(m.engine.audit_full(), Ok(()));

    // The storefront: 2,400 · 0.975 = 2,340 USD per WETH. Asking for more than 1,000 USDC buy
    // is refused and changes nothing; then 1,000 USDC buy 0.427350427350427350 WETH.
    m.refuse(buy("1000", "0.5"), Code::Slippage, "min_out");
    m.refuse(
        CommandBody::BuyCollateral {
            buyer: LENDER,
            asset: WETH,
            pay_asset: WETH,
            max_pay: "1".into(),
            min_out: "0".into(),
        },
        Code::InvalidParams,
        "pay_asset",
    );
    let debt_before = m
        .engine
        .state()
        .account(TREASURY)
        .unwrap()
        .account
        .position(USDC)
        .debt;
    let events = m.ok(buy("1000", "0.4"));
    let sale = events
        .iter()
        .find_map(|e| match e {
            Event::CollateralBought(b) => Some(b.sale.clone()),
            _ => None,
        })
        .expect("bought");
    assert_eq!(sale.amount, Amount::from_raw(427_350_427_350_427_350));
    assert_eq!(sale.paid, Amount::from_raw(1_000_000_000));
    assert_eq!(
        sale.repaid, sale.paid,
        "the payment repays the treasury's debt"
    );
    let debt_after = m
        .engine
        .state()
        .account(TREASURY)
        .unwrap()
        .account
        .position(USDC)
        .debt;
    assert!(debt_after < debt_before);
    assert_eq!(m.engine.audit_full(), Ok(()));

    // The same commands from empty reach the same state, byte for byte.
    let mut replay = Engine::new(EngineConfig { audit: true });
    for c in &m.log {
        let _ = replay.apply(c);
    }
    assert_eq!(replay.state().hash(), m.engine.state().hash());
}

#[test]
fn a_market_without_absorb_refuses_it() {
    let mut m = Market::new();
    m.crash();
    m.refuse(absorb_alice(), Code::WrongMechanism, "policy");
    m.refuse(buy("100", "0"), Code::WrongMechanism, "policy");
}

#[test]
fn a_deep_account_is_absorbed_at_once() {
    let mut m = absorbing_market();
    // 2,900 → 2,650 → 2,400 → 2,200: HF 22,000 · 0.825 / 20,000 = 0.9075 > 0.9; at 2,150
    // HF 0.887: deep.
    m.crash();
    for p in ["2200", "2150"] {
        m.now += 10;
        let at = m.now;
        m.ok(price(WETH, p, at));
    }
    let events = m.ok(absorb_alice());
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::Absorbed(a) if a.absorption.reason == Reason::Deep))
    );
}
