//! The `aave_v3` profile in the engine: a market set to it prices and settles calls by Aave
//! v3.6's rules, refuses a dust-leaving call by Aave's error name and changes nothing, and
//! refuses parameters Aave could not list.

mod common;

use common::*;
use softliq_core::liquidation::{Bound, Policy};
use softliq_core::money::Amount;

fn aave_market() -> Market {
    let mut m = Market::new();
    m.ok(CommandBody::SetPolicy {
        policy: Policy::aave_v3(),
        liquidation_price: PriceSource::Spot,
    });
    m
}

fn quote_of(events: &[Event]) -> softliq_core::liquidation::Quote {
    events
        .iter()
        .find_map(|e| match e {
            Event::Liquidated(l) => Some(l.quote),
            _ => None,
        })
        .expect("a liquidation")
}

#[test]
fn an_aave_v3_market_caps_a_call_at_half_the_debt_and_reverts_on_dust() {
    let mut m = aave_market();
    m.crash();
    // HF 0.99 > 0.95 with 24,000 USD of WETH and 20,000 USDC (plus a few seconds of
    // interest) of debt: Aave's close factor caps the call at half the debt in base currency.
    let events = m.ok(liquidate("100000", "0"));
    let q = quote_of(&events);
    assert_eq!(q.bound, Bound::PolicyCap);
    // Half of the debt's base value (8 decimals, rounded up per position), back in USDC:
    // just over 10,000 USDC after the crash's seconds of interest.
    assert!(
        q.repaid >= Amount::from_raw(10_000_000_000) && q.repaid < Amount::from_raw(10_000_100_000),
        "{q:?}"
    );
    // The protocol's fee is 20% of the 5% bonus collateral ((5% − 4%) / 5%).
    let bonus = q.seized.raw() - q.seized.raw() * 10_000 / 10_500;
    assert!(q.to_treasury.raw().abs_diff(bonus / 5) <= 1, "{q:?}");
    assert_eq!(m.engine.audit_full(), Ok(()));
}

#[test]
fn below_095_the_whole_debt_may_go_but_a_call_leaving_dust_reverts() {
    let mut m = aave_market();
    m.crash();
    m.now += 10;
    let at = m.now;
    m.ok(price(WETH, "2250", at)); // HF 22,500 · 0.825 / 20,000 = 0.928
    // Leaving 500 USDC of debt: Aave's MustNotLeaveDust, refused as a whole, nothing changed.
    m.refuse(
        liquidate("19500", "0"),
        Code::LiquidationRefused,
        "max_repay",
    );
    let c = m.cmd(liquidate("19500", "0"));
    let r = m.engine.apply(&c).expect_err("refused");
    assert!(
        r.message
            .contains("reverts this call with MustNotLeaveDust"),
        "{r}"
    );
    // Leaving just over 1,000 USDC (the debt has grown by seconds of interest) goes through,
    // uncapped: below HF 0.95 there is no close factor.
    let q = quote_of(&m.ok(liquidate("19000", "0")));
    assert_eq!(
        (q.repaid, q.bound),
        (Amount::from_raw(19_000_000_000), Bound::Requested)
    );
    assert_eq!(m.engine.audit_full(), Ok(()));
}

#[test]
fn an_aave_v3_market_refuses_what_aave_could_not_list() {
    let mut m = aave_market();
    let mut p = params(18, 8_000, 8_250);
    p.borrow_weight = softliq_core::money::Ratio::parse("bw", "1.1").unwrap();
    m.refuse(
        CommandBody::ListAsset {
            symbol: "LINK".into(),
            params: p,
        },
        Code::InvalidParams,
        "params.borrow_weight",
    );
    // LTV equal to the threshold is Aave's to allow, and softliq's own rules refuse it.
    let same = params(18, 8_250, 8_250);
    m.ok(CommandBody::ListAsset {
        symbol: "WBTC".into(),
        params: same.clone(),
    });
    let mut soft = Market::new();
    soft.refuse(
        CommandBody::ListAsset {
            symbol: "WBTC".into(),
            params: same,
        },
        Code::InvalidParams,
        "params.collateral_factor",
    );
    // Back to softliq's own policy is refused while such an asset is listed, naming it.
    let c = m.cmd(CommandBody::SetPolicy {
        policy: Policy::soft(),
        liquidation_price: PriceSource::Spot,
    });
    let r = m.engine.apply(&c).expect_err("refused");
    assert_eq!(r.field, "policy.collateral_factor", "{r}");
    assert!(r.message.contains("asset WBTC"), "{r}");
}
