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
    Fund,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        1 => (0u8..4, 1u32..5_000).prop_map(|(who, usd)| Op::Deposit { who, usd }),
        1 => (0u8..4, 1u32..2_000).prop_map(|(who, usd)| Op::Withdraw { who, usd }),
        8 => (0u8..4, any::<bool>(), -300i32..300, 1u32..3_000, 0u8..3, proptest::bool::weighted(0.15), proptest::bool::weighted(0.15))
            .prop_map(|(who, bid, off_bp, lots, tif, market, reduce)| Op::Place { who, bid, off_bp, lots, tif, market, reduce }),
        2 => (0u8..4, 0usize..64).prop_map(|(who, nth)| Op::Cancel { who, nth }),
        2 => (-200i32..200).prop_map(|bp| Op::Index { bp }),
        1 => Just(Op::Fund),
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
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    // Run by `the_controller_property_reaches_trades`, which checks how much it exercised.
    fn every_operation_keeps_the_invariants(ops in proptest::collection::vec(op(), 1..150)) {
        let (mut x, m) = exchange();
        let mut index = price("100");
        let mut tally = [0u32; 2]; // fills, refusals
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
        TALLY.with(|t| { let mut t = t.borrow_mut(); t[0] += tally[0]; t[1] += tally[1]; });
    }
}

thread_local! {
    static TALLY: std::cell::RefCell<[u32; 2]> = const { std::cell::RefCell::new([0; 2]) };
}

#[test]
fn the_controller_property_reaches_trades_and_refusals() {
    TALLY.with(|t| *t.borrow_mut() = [0; 2]);
    every_operation_keeps_the_invariants();
    let [fills, refusals] = TALLY.with(|t| *t.borrow());
    eprintln!("controller property: {fills} fills, {refusals} refusals");
    assert!(fills > 500, "fills {fills}");
    assert!(refusals > 200, "refusals {refusals}");
    let _ = SignedValue::ZERO;
}
