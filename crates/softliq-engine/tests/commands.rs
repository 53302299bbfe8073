//! Commands one by one: bad input of every kind is refused with its reason and field and
//! changes nothing (the state hash is unchanged); idempotency; the oracle guards.

mod common;

use common::*;

#[test]
fn bad_amounts_are_refused_with_the_field_named() {
    let mut m = Market::new();
    m.refuse(dep(ALICE, USDC, "0"), Code::ZeroAmount, "amount");
    m.refuse(dep(ALICE, USDC, "0.000"), Code::ZeroAmount, "amount");
    m.refuse(dep(ALICE, USDC, "-5"), Code::InvalidAmount, "amount");
    m.refuse(dep(ALICE, USDC, "1e6"), Code::InvalidAmount, "amount");
    m.refuse(dep(ALICE, USDC, ""), Code::InvalidAmount, "amount");
    m.refuse(dep(ALICE, USDC, "1.0000001"), Code::InvalidAmount, "amount");
    m.refuse(
        dep(ALICE, USDC, "999999999999999999999999999999999999999"),
        Code::InvalidAmount,
        "amount",
    );
    // Parses (u128::MAX / 10^6 tokens) but cannot fit beside the pool's cash.
    m.refuse(
        dep(ALICE, USDC, "340282366920938463463374607431768"),
        Code::Overflow,
        "amount",
    );
    m.refuse(
        CommandBody::Withdraw {
            account: ALICE,
            asset: WETH,
            amount: "10.000000000000000001".into(),
        },
        Code::InvalidAmount,
        "amount",
    );
}

#[test]
fn unknown_and_reserved_ids_are_refused() {
    let mut m = Market::new();
    m.refuse(dep(ALICE, AssetId(9), "1"), Code::UnknownAsset, "asset");
    m.refuse(
        dep(AccountId(99), USDC, "1"),
        Code::UnknownAccount,
        "account",
    );
    m.refuse(
        dep(AccountId(0), USDC, "1"),
        Code::ReservedAccount,
        "account",
    );
    m.refuse(
        dep(AccountId(1), USDC, "1"),
        Code::ReservedAccount,
        "account",
    );
    m.refuse(price(AssetId(7), "1", T0), Code::UnknownAsset, "asset");
    m.refuse(
        CommandBody::OpenAccount {
            owner: String::new(),
        },
        Code::InvalidParams,
        "owner",
    );
}

#[test]
fn unhealthy_borrows_and_healthy_liquidations_are_refused() {
    let mut m = Market::new();
    // Borrowing power 24,000: 4,000.01 more is over it.
    m.refuse(borrow(ALICE, "4000.01"), Code::Unhealthy, "amount");
    m.ok(borrow(ALICE, "4000"));
    m.refuse(
        CommandBody::Withdraw {
            account: ALICE,
            asset: WETH,
            amount: "0.001".into(),
        },
        Code::Unhealthy,
        "amount",
    );
    m.refuse(liquidate("1000", "0"), Code::NotLiquidatable, "borrower");
    m.refuse(
        CommandBody::Repay {
            account: LENDER,
            asset: USDC,
            amount: "1".into(),
        },
        Code::InvalidAmount,
        "asset",
    );
}

#[test]
fn idempotency_and_time() {
    let mut m = Market::new();
    let first = m.cmd(dep(ALICE, WETH, "1"));
    let events = m.engine.apply(&first).expect("accepted");
    let hash = m.engine.state().hash();
    let seq = m.engine.state().seq;
    // The same id and body: the first outcome again, nothing changes — even with a later
    // timestamp, as an HTTP retry would carry.
    let retry = Command {
        timestamp_s: first.timestamp_s + 5,
        ..first.clone()
    };
    assert_eq!(m.engine.apply(&retry).expect("retry"), events);
    assert_eq!((m.engine.state().hash(), m.engine.state().seq), (hash, seq));
    // The same id with a different body.
    let conflict = Command {
        body: dep(ALICE, WETH, "2"),
        ..first
    };
    m.refuse_cmd(&conflict, Code::IdempotencyConflict, "client_id");
    // Time never goes backwards.
    m.now = T0 + 10;
    m.ok(dep(ALICE, WETH, "1"));
    m.now = T0 + 9;
    m.refuse(
        dep(ALICE, WETH, "1"),
        Code::TimeWentBackwards,
        "timestamp_s",
    );
}

#[test]
fn prices_zero_future_old_or_stale_are_refused() {
    let mut m = Market::new();
    m.now = T0 + 100;
    m.refuse(price(WETH, "0", T0 + 100), Code::InvalidPrice, "price");
    m.refuse(price(WETH, "-1", T0 + 100), Code::InvalidPrice, "price");
    m.refuse(
        price(WETH, "3000", T0 + 101),
        Code::InvalidPrice,
        "published_s",
    );
    m.refuse(price(WETH, "3000", T0), Code::InvalidPrice, "published_s");
    // max_staleness_s is 3,600: a price published 3,601 s ago is stale on arrival.
    m.now = T0 + 3_701;
    m.refuse(
        price(WETH, "3000", T0 + 100),
        Code::StalePrice,
        "published_s",
    );
    // And with the last prices now over an hour old, borrowing and liquidating wait.
    m.refuse(borrow(ALICE, "1"), Code::StalePrice, "asset");
    m.refuse(liquidate("1000", "0"), Code::StalePrice, "debt_asset");
}

fn count(events: &[Event], f: impl Fn(&Event) -> bool) -> usize {
    events.iter().filter(|e| f(e)).count()
}

#[test]
fn jump_opens_the_breaker_until_confirmed() {
    let mut m = Market::new();
    m.now += 10;
    // −20% with max_jump 10%: accepted, breaker opens, Alice (HF 0.99) is flagged but cannot
    // be liquidated yet.
    let ev = m.ok(price(WETH, "2400", m.now));
    assert_eq!(count(&ev, |e| matches!(e, Event::BreakerOpened { .. })), 1);
    assert_eq!(
        count(
            &ev,
            |e| matches!(e, Event::BecameLiquidatable { account, .. } if *account == ALICE)
        ),
        1
    );
    m.refuse(
        liquidate("1000", "0"),
        Code::BreakerOpen,
        "collateral_asset",
    );
    // A confirming update within 10% of the jumped price closes it.
    m.now += 10;
    let ev = m.ok(price(WETH, "2390", m.now));
    assert_eq!(count(&ev, |e| matches!(e, Event::BreakerClosed { .. })), 1);
    // The slippage floor: Alice's call pays ~ (1000·1.04)/2390 ≈ 0.435 WETH.
    m.refuse(
        liquidate("1000", "0.5"),
        Code::Slippage,
        "min_collateral_out",
    );
    let ev = m.ok(liquidate("1000", "0.4"));
    assert_eq!(count(&ev, |e| matches!(e, Event::Liquidated(_))), 1);
}

#[test]
fn breaker_expires_after_confirm_s() {
    let mut m = Market::new();
    m.now += 10;
    m.ok(price(WETH, "2400", m.now));
    m.now += 299;
    m.refuse(
        liquidate("1000", "0"),
        Code::BreakerOpen,
        "collateral_asset",
    );
    m.now += 1;
    m.ok(liquidate("1000", "0"));
}

#[test]
fn delayed_liquidation_price_lags_spot() {
    let mut m = Market::new();
    m.ok(CommandBody::SetPolicy {
        policy: softliq_core::liquidation::Policy::soft(),
        liquidation_price: PriceSource::Delayed { delay_s: 600 },
    });
    // No price is 600 s old yet: liquidation checks have nothing to value with.
    m.refuse(liquidate("1000", "0"), Code::NoPrice, "asset");
    m.now += 700;
    m.ok(price(USDC, "1", m.now));
    m.ok(price(WETH, "3000", m.now));
    m.now += 10;
    m.ok(price(WETH, "2900", m.now));
    m.now += 10;
    m.ok(price(WETH, "2650", m.now));
    m.now += 10;
    // Spot 2,400 makes Alice liquidatable (HF 0.99) but the delayed price is still 3,000.
    m.ok(price(WETH, "2400", m.now));
    m.refuse(liquidate("1000", "0"), Code::NotLiquidatable, "borrower");
    // Borrowing uses spot (borrowing power 19,200 < 20,000): refused.
    m.refuse(borrow(ALICE, "1"), Code::Unhealthy, "amount");
    // Ten minutes after the first fall the delayed price is 2,900: still healthy (HF 1.196);
    // ten minutes after the third it is 2,400.
    m.now += 600 - 20;
    m.ok(price(USDC, "1", m.now));
    m.ok(price(WETH, "2400.5", m.now));
    m.refuse(liquidate("1000", "0"), Code::NotLiquidatable, "borrower");
    m.now += 20;
    let ev = m.ok(price(WETH, "2401", m.now));
    assert_eq!(
        count(&ev, |e| matches!(e, Event::BecameLiquidatable { .. })),
        1
    );
    m.ok(liquidate("1000", "0"));
    m.refuse(
        CommandBody::SetPolicy {
            policy: softliq_core::liquidation::Policy::soft(),
            liquidation_price: PriceSource::Twap { window_s: 0 },
        },
        Code::InvalidParams,
        "liquidation_price.window_s",
    );
}

#[test]
fn twap_is_the_time_weighted_mean() {
    use softliq_core::money::Price;
    use softliq_engine::oracle::Oracle;
    let guards = params(18, 8_000, 8_250).oracle;
    let mut o = Oracle::default();
    let p = |x: u128| Price::from_raw(x * 1_000_000_000_000_000_000);
    o.post(p(100), 1_000, 1_000, &guards).expect("post");
    o.post(p(105), 1_100, 1_100, &guards).expect("post");
    o.post(p(110), 1_400, 1_400, &guards).expect("post");
    let twap = |now, window| {
        o.liquidation_price(PriceSource::Twap { window_s: window }, now)
            .expect("price")
    };
    // [1000, 1500): 100 for 100 s, 105 for 300 s, 110 for 100 s → 52,500 / 500 = 105.
    assert_eq!(twap(1_500, 500), p(105));
    // Window starting inside the first step: [1050, 1500): 100·50 + 105·300 + 110·100 = 47,500 / 450.
    assert_eq!(
        twap(1_500, 450).raw(),
        47_500 * 1_000_000_000_000_000_000 / 450
    );
    // A window reaching before the first price averages over what exists.
    assert_eq!(twap(1_500, 10_000), p(105));
    // [1200, 1500): 105·200 + 110·100 = 32,000 / 300, rounded down.
    assert_eq!(
        twap(1_500, 300).raw(),
        32_000 * 1_000_000_000_000_000_000 / 300
    );
    // Delayed: the last price at least 200 s old at 1,450 is the one from 1,100.
    assert_eq!(
        o.liquidation_price(PriceSource::Delayed { delay_s: 200 }, 1_450),
        Some(p(105))
    );
}
