//! The controller: a hand vector of a trade with fees and open interest, its refusals, and a
//! property over random operations checking every invariant after each, that a refusal
//! changes nothing, and that an accepted risk-adding order leaves its taker above IM.

use proptest::prelude::*;

use super::{price, sv, usd};
use crate::account::{Account, AccountId};
use crate::asset::AssetId;
use crate::health::RiskSnapshot;
use crate::money::{Amount, Price, SignedValue};
use crate::perp::*;
use crate::testing::perp_params;

const A: AccountId = AccountId(2);
const B: AccountId = AccountId(3);
/// The property's market maker.
const MAKER: AccountId = AccountId(9);
const KEEPER: AccountId = AccountId(10);

fn exchange() -> (Exchange, PerpMarketId) {
    let mut x = Exchange::new();
    let m = x.list("BTC-PERP", perp_params(AssetId(0))).unwrap();
    x.set_index(m, price("100")).unwrap();
    (x, m)
}

fn req(
    m: PerpMarketId,
    side: Side,
    px: Option<&str>,
    size: u128,
    tif: TimeInForce,
) -> OrderRequest {
    OrderRequest {
        market: m,
        side,
        price: px.map(price),
        size: Amount::from_raw(size),
        tif,
        reduce_only: false,
    }
}

#[test]
fn a_trade_books_both_sides_fees_and_open_interest() {
    let (mut x, m) = exchange();
    x.deposit(A, usd("1000")).unwrap();
    x.deposit(B, usd("1000")).unwrap();
    // B rests an ask of 5 contracts at 100; A buys 2 at market.
    x.place(
        B,
        req(m, Side::Ask, Some("100"), 5_000_000, TimeInForce::Gtc),
    )
    .unwrap();
    let (_, placed) = x
        .place(A, req(m, Side::Bid, None, 2_000_000, TimeInForce::Ioc))
        .unwrap();
    assert_eq!(placed.fills.len(), 1);
    let a = x.account(A).unwrap();
    assert_eq!(a.position(m).unwrap().size, 2_000_000);
    assert_eq!(a.cash, sv("999.9"), "taker fee 0.05% of 200");
    assert_eq!(
        x.account(B).unwrap().cash,
        sv("999.96"),
        "maker fee 0.02% of 200"
    );
    assert_eq!(x.markets()[0].state.fees, usd("0.14"));
    assert_eq!(
        x.markets()[0].state.open_interest,
        Amount::from_raw(2_000_000)
    );
    x.check().unwrap();
    // Reduce-only: a buy does not reduce A's long; a sell of 5 is cut to the 2 held.
    let mut r = req(m, Side::Bid, Some("100"), 1_000_000, TimeInForce::Gtc);
    r.reduce_only = true;
    let before = x.clone();
    assert!(matches!(x.place(A, r), Err(ExchangeError::WouldNotReduce)));
    assert_eq!(x, before);
    x.place(
        B,
        req(m, Side::Bid, Some("99"), 5_000_000, TimeInForce::Gtc),
    )
    .unwrap();
    let mut r = req(m, Side::Ask, None, 5_000_000, TimeInForce::Ioc);
    r.reduce_only = true;
    let (_, placed) = x.place(A, r).unwrap();
    assert_eq!(placed.fills[0].size, Amount::from_raw(2_000_000));
    assert!(x.account(A).unwrap().is_flat());
    assert_eq!(
        x.markets()[0].state.open_interest,
        Amount::ZERO,
        "A's long closed against B's bid, which also closed B's short"
    );
    x.check().unwrap();
}

#[test]
fn refusals_name_their_rule_and_change_nothing() {
    let (mut x, m) = exchange();
    x.deposit(A, usd("100")).unwrap();
    x.deposit(B, usd("100000")).unwrap();
    x.place(
        B,
        req(m, Side::Ask, Some("100"), 100_000_000, TimeInForce::Gtc),
    )
    .unwrap();
    let before = x.clone();
    // 100 USD of margin at 10x buys at most 10 contracts at 100 (IM 10%): 11 is refused.
    let e = x
        .place(
            A,
            req(m, Side::Bid, Some("100"), 11_000_000, TimeInForce::Ioc),
        )
        .unwrap_err();
    assert!(e.to_string().starts_with("margin: initial equity"), "{e}");
    assert_eq!(x, before);
    let e = x
        .place(
            A,
            req(m, Side::Bid, Some("100.001"), 1_000_000, TimeInForce::Ioc),
        )
        .unwrap_err();
    assert!(e.to_string().starts_with("price:"), "{e}");
    let e = x
        .place(A, req(m, Side::Bid, Some("100"), 1_500, TimeInForce::Ioc))
        .unwrap_err();
    assert!(e.to_string().starts_with("size:"), "{e}");
    assert_eq!(x, before);
    x.place(
        A,
        req(m, Side::Bid, Some("100"), 5_000_000, TimeInForce::Ioc),
    )
    .unwrap();
    let e = x.withdraw(A, usd("60")).unwrap_err();
    assert!(
        matches!(e, ExchangeError::WithdrawBelowMargin { .. }),
        "{e}"
    );
    x.withdraw(A, usd("40")).unwrap();
    assert!(matches!(
        x.cancel(A, m, OrderId(0)),
        Err(ExchangeError::NotYourOrder(_))
    ));
    x.check().unwrap();
}

#[derive(Clone, Debug)]
enum Op {
    Deposit {
        who: u8,
        usd: u32,
    },
    Withdraw {
        who: u8,
        usd: u32,
    },
    Place {
        who: u8,
        bid: bool,
        off_bp: i32,
        lots: u32,
        tif: u8,
        market: bool,
        reduce: bool,
    },
    Cancel {
        who: u8,
        nth: usize,
    },
    Index {
        bp: i32,
    },
    /// The market maker quotes both sides 0.5% around the index.
    Quote {
        lots: u32,
    },
    /// `who` deposits 100 and opens about 9x against the maker at the index.
    Lever {
        who: u8,
        long: bool,
    },
    Fund,
    /// `by` (4 and 5: the keeper) runs a step on `who`, offering to take the backstop itself
    /// when `take`.
    Liquidate {
        who: u8,
        by: u8,
        take: bool,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        1 => (0u8..4, 50u32..300).prop_map(|(who, usd)| Op::Deposit { who, usd }),
        1 => (0u8..4, 1u32..200).prop_map(|(who, usd)| Op::Withdraw { who, usd }),
        8 => (0u8..4, any::<bool>(), -300i32..300, 1u32..8_000, 0u8..3, proptest::bool::weighted(0.15), proptest::bool::weighted(0.15))
            .prop_map(|(who, bid, off_bp, lots, tif, market, reduce)| Op::Place { who, bid, off_bp, lots, tif, market, reduce }),
        2 => (0u8..4, 0usize..64).prop_map(|(who, nth)| Op::Cancel { who, nth }),
        3 => (-700i32..600).prop_map(|bp| Op::Index { bp }),
        1 => Just(Op::Fund),
        5 => (0u8..4, 0u8..6, any::<bool>()).prop_map(|(who, by, take)| Op::Liquidate { who, by, take }),
        3 => (1u32..5_000).prop_map(|lots| Op::Quote { lots }),
        2 => (0u8..4, any::<bool>()).prop_map(|(who, long)| Op::Lever { who, long }),
    ]
}

fn at_bp(p: Price, bp: i32) -> Price {
    let moved = crate::money::SignedRatio::from_raw(i128::from(bp) * 10i128.pow(14))
        .apply_to(p, crate::money::Rounding::Down)
        .unwrap();
    // Round to the 0.01 tick.
    Price::from_raw(moved.raw() / 10u128.pow(16) * 10u128.pow(16))
}

proptest! {
    // A fixed seed: the reach test's counts must not depend on the run.
    #![proptest_config(ProptestConfig { cases: 256, rng_seed: proptest::test_runner::RngSeed::Fixed(21), ..ProptestConfig::default() })]

    // Run by `the_controller_property_reaches_trades`, which checks how much it exercised.
    fn every_operation_keeps_the_invariants(ops in proptest::collection::vec(op(), 1..150)) {
        let (mut x, m) = exchange();
        x.deposit(MAKER, usd("1000000")).unwrap();
        x.deposit(KEEPER, usd("100000")).unwrap();
        let mut index = price("100");
        let mut tally = [0u32; 5]; // fills, refusals, chunks, backstops, takeovers
        for o in ops {
            let before = x.clone();
            let result = match o {
                Op::Deposit { who, usd } => x.deposit(AccountId(u64::from(who)), crate::money::Value::from_int(u128::from(usd)).unwrap()).map(|()| None),
                Op::Withdraw { who, usd } => x.withdraw(AccountId(u64::from(who)), crate::money::Value::from_int(u128::from(usd)).unwrap()).map(|()| None),
                Op::Place { who, bid, off_bp, lots, tif, market, reduce } => {
                    let tif = [TimeInForce::Gtc, TimeInForce::Ioc, TimeInForce::PostOnly][usize::from(tif)];
                    let (px, tif) = if market { (None, TimeInForce::Ioc) } else { (Some(at_bp(index, off_bp)), tif) };
                    let r = OrderRequest { market: m, side: if bid { Side::Bid } else { Side::Ask }, price: px, size: Amount::from_raw(u128::from(lots) * 1_000), tif, reduce_only: reduce };
                    let who = AccountId(u64::from(who));
                    let held = x.account(who).and_then(|a| a.position(m)).map_or(0, |p| p.size);
                    x.place(who, r).map(|(_, p)| Some((who, held, p)))
                }
                Op::Cancel { who, nth } => {
                    let ids: Vec<OrderId> = (0..200).map(OrderId).filter(|id| x.markets()[0].book.order(*id).is_some()).collect();
                    if ids.is_empty() { Ok(None) } else { x.cancel(AccountId(u64::from(who)), m, ids[nth % ids.len()]).map(|()| None) }
                }
                Op::Index { bp } => {
                    index = at_bp(index, bp).max(price("1"));
                    x.set_index(m, index).and_then(|()| x.observe(m)).map(|()| None)
                }
                Op::Fund => x.fund(m).map(|_| None),
                Op::Lever { who, long } => {
                    let who = AccountId(u64::from(who));
                    x.deposit(who, usd("100")).unwrap();
                    let at = Price::from_raw(index.raw() / 10u128.pow(16) * 10u128.pow(16));
                    let px = Some(at);
                    let (maker_side, taker_side) = if long { (Side::Ask, Side::Bid) } else { (Side::Bid, Side::Ask) };
                    let q = u128::from(9u32) * 100 * 10u128.pow(6) * 10u128.pow(18) / at.raw() / 1_000 * 1_000;
                    let size = Amount::from_raw(q);
                    let quote = OrderRequest { market: m, side: maker_side, price: px, size, tif: TimeInForce::Gtc, reduce_only: false };
                    let take = OrderRequest { market: m, side: taker_side, price: px, size, tif: TimeInForce::Ioc, reduce_only: false };
                    let before_quote = x.clone();
                    if x.place(MAKER, quote).is_err() {
                        prop_assert_eq!(&x, &before_quote);
                    }
                    let held = x.account(who).and_then(|a| a.position(m)).map_or(0, |p| p.size);
                    let before_take = x.clone();
                    match x.place(who, take) {
                        Err(_) => {
                            prop_assert_eq!(&x, &before_take);
                            Ok(None)
                        }
                        Ok((_, p)) => Ok(Some((who, held, p))),
                    }
                }
                Op::Quote { lots } => {
                    let size = Amount::from_raw(u128::from(lots) * 1_000);
                    for (side, bp) in [(Side::Bid, -50), (Side::Ask, 50)] {
                        // Each side is its own operation: a refused one changes nothing.
                        let r = OrderRequest { market: m, side, price: Some(at_bp(index, bp)), size, tif: TimeInForce::PostOnly, reduce_only: false };
                        let before_side = x.clone();
                        if x.place(MAKER, r).is_err() {
                            prop_assert_eq!(&x, &before_side);
                        }
                    }
                    Ok(None)
                }
                Op::Liquidate { who, by, take } => {
                    // 4 and 5: a keeper with margin to carry a takeover.
                    let by = if by >= 4 { KEEPER } else { AccountId(u64::from(by)) };
                    match x.liquidate(AccountId(u64::from(who)), by, take) {
                        Err(e) => Err(e),
                        Ok(l) => {
                            tally[2] += u32::try_from(l.round.chunks.len()).unwrap();
                            tally[3] += u32::from(l.backstop.is_some());
                            prop_assert_eq!(l.taker.is_some(), l.backstop.is_some());
                            if l.taker == Some(by) {
                                tally[4] += 1;
                                prop_assert!(take, "the liquidator took a backstop it did not offer to take");
                                let b = l.backstop.clone().unwrap();
                                prop_assert!(b.insurance_paid.is_zero() && b.adl.is_empty() && b.bad_debt.is_zero());
                                let snap = x.snapshot().unwrap();
                                let a = x.account(by).cloned().unwrap_or_default();
                                let margin = Margin::of(&Account::new(), &a, &RiskSnapshot::new(), &snap).unwrap();
                                prop_assert!(margin.meets_initial(), "a takeover left the liquidator below IM");
                            }
                            Ok(None)
                        }
                    }
                }
            };
            match result {
                Err(_) => {
                    tally[1] += 1;
                    prop_assert_eq!(&x, &before, "a refusal changed the exchange");
                }
                Ok(Some((who, held, placed))) => {
                    tally[0] += u32::try_from(placed.fills.len()).unwrap();
                    let a = x.account(who).cloned().unwrap_or_default();
                    let now = a.position(m).map_or(0, |p| p.size);
                    if !placed.fills.is_empty() && !reduces_only(held, now) {
                        let snap = x.snapshot().unwrap();
                        let margin = Margin::of(&Account::new(), &a, &RiskSnapshot::new(), &snap).unwrap();
                        prop_assert!(margin.meets_initial(), "an accepted order left its taker below IM");
                    }
                }
                Ok(None) => {}
            }
            prop_assert!(x.check().is_ok(), "{:?}", x.check());
        }
        TALLY.with(|t| { let mut t = t.borrow_mut(); for i in 0..5 { t[i] += tally[i]; } });
    }
}

thread_local! {
    static TALLY: std::cell::RefCell<[u32; 5]> = const { std::cell::RefCell::new([0; 5]) };
}

#[test]
fn the_controller_property_reaches_trades_and_refusals() {
    TALLY.with(|t| *t.borrow_mut() = [0; 5]);
    every_operation_keeps_the_invariants();
    let [fills, refusals, chunks, backstops, takeovers] = TALLY.with(|t| *t.borrow());
    eprintln!(
        "controller property: {fills} fills, {refusals} refusals, {chunks} liquidation chunks, {backstops} backstops, {takeovers} taken by the liquidator"
    );
    assert!(takeovers >= 3, "takeovers {takeovers}");
    assert!(chunks > 20, "chunks {chunks}");
    assert!(backstops > 5, "backstops {backstops}");
    assert!(fills > 500, "fills {fills}");
    assert!(refusals > 200, "refusals {refusals}");
    let _ = SignedValue::ZERO;
}

#[test]
fn a_liquidation_sends_chunks_to_the_book_then_the_backstop_takes_the_rest() {
    let (mut x, m) = exchange();
    x.deposit(A, usd("100")).unwrap();
    x.deposit(B, usd("100000")).unwrap();
    let ask = req(m, Side::Ask, Some("100"), 10_000_000, TimeInForce::Gtc);
    x.place(B, ask).unwrap();
    let buy = req(m, Side::Bid, Some("100"), 9_000_000, TimeInForce::Ioc);
    x.place(A, buy).unwrap();
    // A: 9 long at 100 with 99.55 of cash left; a resting bid of A's is cancelled first.
    let bid = req(m, Side::Bid, Some("90"), 1_000_000, TimeInForce::Gtc);
    x.place(A, bid).unwrap();
    let refused = x.liquidate(A, B, false);
    assert!(matches!(
        refused,
        Err(ExchangeError::Perp(PerpError::NotLiquidatable))
    ));
    // Index 93.5: equity 99.55 − 58.5 = 41.05 ≤ MM 42.075.
    x.set_index(m, price("93.5")).unwrap();
    // B bids 1 contract within the 2% tolerance (down to 91.63).
    let b_bid = req(m, Side::Bid, Some("93"), 1_000_000, TimeInForce::Gtc);
    x.place(B, b_bid).unwrap();
    let l = x.liquidate(A, AccountId(7), false).unwrap();
    assert_eq!(l.cancelled.len(), 1);
    assert_eq!(l.round.chunks.len(), 1);
    assert_eq!(l.round.chunks[0].size, -1_000_000);
    assert!(l.backstop.is_none());
    assert!(
        x.account(AccountId(7)).unwrap().cash.raw() > 0,
        "the liquidator got its share"
    );
    x.check().unwrap();
    // Empty book for the next rounds: after empty_rounds_max (3) the vault takes the rest.
    let mut backstopped = false;
    for _ in 0..3 {
        let l = x.liquidate(A, AccountId(7), false).unwrap();
        assert!(l.round.chunks.is_empty());
        backstopped |= l.backstop.is_some();
        x.check().unwrap();
    }
    assert!(backstopped);
    assert!(x.account(A).unwrap().is_flat());
    assert_eq!(
        x.account(VAULT).unwrap().position(m).unwrap().size,
        8_000_000
    );
}

/// A 9-long at 100 with 99.55 of cash, the index at 93.5 and no bids: three empty rounds bring
/// the backstop. Returns the exchange and the step that ran it.
fn backstopped(take: bool, liquidator: AccountId, margin: &str) -> (Exchange, Liquidation) {
    let (mut x, m) = exchange();
    x.deposit(A, usd("100")).unwrap();
    x.deposit(B, usd("100000")).unwrap();
    if margin != "0" {
        x.deposit(liquidator, usd(margin)).unwrap();
    }
    x.place(
        B,
        req(m, Side::Ask, Some("100"), 10_000_000, TimeInForce::Gtc),
    )
    .unwrap();
    x.place(
        A,
        req(m, Side::Bid, Some("100"), 9_000_000, TimeInForce::Ioc),
    )
    .unwrap();
    x.set_index(m, price("93.5")).unwrap();
    for _ in 0..3 {
        let l = x.liquidate(A, liquidator, take).unwrap();
        x.check().unwrap();
        if l.backstop.is_some() {
            return (x, l);
        }
    }
    panic!("no backstop after three empty rounds");
}

#[test]
fn a_liquidator_with_margin_takes_the_backstop_it_offers_to_take() {
    let keeper = AccountId(8);
    let (x, l) = backstopped(true, keeper, "1000");
    assert_eq!(l.taker, Some(keeper));
    let b = l.backstop.unwrap();
    // Equity 99.55 − 9 · 6.5 = 41.05 below the MM of 42.075: all of it is the taker's price.
    assert_eq!(b.margin_to_vault, usd("41.05"));
    let k = x.account(keeper).unwrap();
    assert_eq!(k.position(PerpMarketId(0)).unwrap().size, 9_000_000);
    assert_eq!(k.cash, sv("1041.05"));
    assert!(x.account(VAULT).is_none_or(PerpAccount::is_flat));
    assert!(x.account(A).unwrap().is_flat());
}

#[test]
fn the_vault_takes_the_backstop_when_the_liquidator_cannot_carry_it_or_did_not_offer() {
    // IM of 9 at 93.5 is 84.15: 30 of margin and the 41.05 taken fall short of it.
    for (take, margin) in [(true, "0"), (true, "30"), (false, "1000")] {
        let keeper = AccountId(8);
        let (x, l) = backstopped(take, keeper, margin);
        assert_eq!(l.taker, Some(VAULT), "take {take}, margin {margin}");
        assert_eq!(
            x.account(VAULT)
                .unwrap()
                .position(PerpMarketId(0))
                .unwrap()
                .size,
            9_000_000
        );
        assert!(x.account(keeper).is_none_or(PerpAccount::is_flat));
    }
}

#[test]
fn the_insurance_fund_is_funded_from_outside_and_counted_with_deposits() {
    let (mut x, m) = exchange();
    x.fund_insurance(m, usd("1000")).unwrap();
    assert_eq!(x.markets()[0].state.insurance_fund, usd("1000"));
    x.check().unwrap();
    assert!(matches!(
        x.fund_insurance(PerpMarketId(9), usd("1")),
        Err(ExchangeError::UnknownMarket(_))
    ));
}
