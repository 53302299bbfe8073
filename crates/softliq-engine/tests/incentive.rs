//! The need-sized incentive in the engine: the engine records when it flagged an account and
//! prices a call at that age, whatever the liquidator says; the record goes with the flag.

mod common;

use common::*;
use softliq_core::liquidation::{Incentive, Need, Policy};
use softliq_core::money::Ratio;

fn ramp_market() -> Market {
    let mut m = Market::new();
    let policy = Policy {
        incentive: Incentive::Need(Need::ramp()),
        ..Policy::soft()
    };
    m.ok(CommandBody::SetPolicy {
        policy,
        liquidation_price: PriceSource::Spot,
    });
    m
}

fn discount_of(events: &[Event]) -> Ratio {
    events
        .iter()
        .find_map(|e| match e {
            Event::Liquidated(l) => Some(l.quote.discount),
            _ => None,
        })
        .expect("a liquidation")
}

#[test]
fn the_ramp_prices_a_call_at_the_engines_age() {
    let mut m = ramp_market();
    m.crash();
    let flagged_at = m.now;
    assert_eq!(
        m.engine.state().flagged_since_s.get(&ALICE),
        Some(&flagged_at)
    );
    // Half an hour later (the price re-posted so it is fresh): 0.5% + 7.5% · 1,800 / 3,600.
    m.now += 1_800;
    let at = m.now;
    m.ok(price(WETH, "2400", at));
    assert_eq!(
        m.engine.state().flagged_since_s.get(&ALICE),
        Some(&flagged_at),
        "a price that keeps the account liquidatable keeps its flag time"
    );
    let events = m.ok(liquidate("100", "0"));
    assert_eq!(discount_of(&events), Ratio::parse("d", "0.0425").unwrap());
}

#[test]
fn the_flag_time_goes_with_the_flag() {
    let mut m = ramp_market();
    m.crash();
    assert!(m.engine.state().flagged_since_s.contains_key(&ALICE));
    // A top-up brings Alice back above the line: flag and flag time go together.
    m.ok(dep(ALICE, WETH, "5"));
    assert!(!m.engine.state().flagged.contains(&ALICE));
    assert!(m.engine.state().flagged_since_s.is_empty());
    assert_eq!(m.engine.audit_full(), Ok(()));
    // Flagged again later: the ramp restarts from the new time, at 0.5%. 15 WETH at 2,400 lend
    // 28,800; with 28,700 owed HF is 29,700 / 28,700 = 1.035, and at 2,300 it is 0.992.
    m.ok(borrow(ALICE, "8700"));
    assert!(m.engine.state().flagged_since_s.is_empty());
    m.now += 600;
    let at = m.now;
    m.ok(price(WETH, "2300", at));
    assert_eq!(m.engine.state().flagged_since_s.get(&ALICE), Some(&at));
    let events = m.ok(liquidate("100", "0"));
    assert_eq!(discount_of(&events), Ratio::parse("d", "0.005").unwrap());
}
