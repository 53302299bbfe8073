//! The order book: hand vectors for priority, time in force and self-trade prevention, and a
//! property against a naive reference (a flat list scanned in full for every match).

use proptest::prelude::*;

use crate::money::{Amount, Price};
use crate::perp::{BookError, Match, Order, OrderBook, OrderId, Side, TimeInForce};

fn px(n: u128) -> Price {
    Price::from_int(n).unwrap()
}

fn order(
    id: u64,
    owner: u64,
    side: Side,
    price: Option<u128>,
    size: u128,
    tif: TimeInForce,
) -> Order {
    Order {
        id: OrderId(id),
        owner,
        side,
        price: price.map(px),
        size: Amount::from_raw(size),
        tif,
    }
}

#[test]
fn price_then_time_priority_and_partial_fills() {
    let mut b = OrderBook::new();
    b.place(order(1, 10, Side::Ask, Some(101), 5, TimeInForce::Gtc))
        .unwrap();
    b.place(order(2, 11, Side::Ask, Some(100), 3, TimeInForce::Gtc))
        .unwrap();
    b.place(order(3, 12, Side::Ask, Some(100), 4, TimeInForce::Gtc))
        .unwrap();
    // A buy of 9 up to 101: 100 first (order 2 then 3, by arrival), then 2 of order 1 at 101.
    let p = b
        .place(order(4, 20, Side::Bid, Some(101), 9, TimeInForce::Gtc))
        .unwrap();
    let got: Vec<(u64, u128, u128)> = p
        .fills
        .iter()
        .map(|m| (m.maker.0, m.price.raw() / 10u128.pow(18), m.size.raw()))
        .collect();
    assert_eq!(got, [(2, 100, 3), (3, 100, 4), (1, 101, 2)]);
    assert_eq!(p.rested, Amount::ZERO);
    assert_eq!(b.order(OrderId(1)).unwrap().size, Amount::from_raw(3));
    assert_eq!(b.best(), (None, Some(px(101))));
    b.check().unwrap();
}

#[test]
fn time_in_force_and_market_orders() {
    let mut b = OrderBook::new();
    b.place(order(1, 10, Side::Bid, Some(99), 5, TimeInForce::Gtc))
        .unwrap();
    // IOC sell of 8 at 99: 5 fill, 3 cancelled, nothing rests.
    let p = b
        .place(order(2, 11, Side::Ask, Some(99), 8, TimeInForce::Ioc))
        .unwrap();
    assert_eq!(
        (p.fills.len(), p.cancelled, p.rested),
        (1, Amount::from_raw(3), Amount::ZERO)
    );
    assert!(b.is_empty());
    // GTC rests its rest; a post-only that would cross is refused whole.
    b.place(order(3, 10, Side::Bid, Some(98), 5, TimeInForce::Gtc))
        .unwrap();
    let before = b.clone();
    assert_eq!(
        b.place(order(4, 11, Side::Ask, Some(98), 1, TimeInForce::PostOnly)),
        Err(BookError::PostOnlyWouldCross(px(98)))
    );
    assert_eq!(b, before, "refused: nothing changed");
    assert_eq!(
        b.place(order(5, 11, Side::Ask, Some(99), 1, TimeInForce::PostOnly))
            .unwrap()
            .rested,
        Amount::from_raw(1)
    );
    // A market sell takes the bids at any price; a market GTC is refused.
    assert_eq!(
        b.place(order(6, 11, Side::Ask, None, 2, TimeInForce::Gtc)),
        Err(BookError::MarketMustBeIoc)
    );
    let p = b
        .place(order(6, 12, Side::Ask, None, 9, TimeInForce::Ioc))
        .unwrap();
    assert_eq!(
        p.fills,
        [Match {
            maker: OrderId(3),
            maker_owner: 10,
            price: px(98),
            size: Amount::from_raw(5)
        }]
    );
    assert_eq!(p.cancelled, Amount::from_raw(4));
    assert_eq!(
        b.place(order(5, 1, Side::Bid, Some(1), 1, TimeInForce::Gtc)),
        Err(BookError::DuplicateId(OrderId(5)))
    );
    assert_eq!(
        b.place(order(7, 1, Side::Bid, Some(1), 0, TimeInForce::Gtc)),
        Err(BookError::ZeroSize)
    );
    b.check().unwrap();
}

#[test]
fn self_trade_cancels_the_resting_order() {
    let mut b = OrderBook::new();
    b.place(order(1, 10, Side::Ask, Some(100), 5, TimeInForce::Gtc))
        .unwrap();
    b.place(order(2, 11, Side::Ask, Some(100), 5, TimeInForce::Gtc))
        .unwrap();
    let p = b
        .place(order(3, 10, Side::Bid, Some(100), 4, TimeInForce::Gtc))
        .unwrap();
    assert_eq!(p.self_trade_cancels, [OrderId(1)]);
    assert_eq!(p.fills.len(), 1);
    assert_eq!(p.fills[0].maker, OrderId(2));
    assert!(b.order(OrderId(1)).is_none());
    b.check().unwrap();
    assert_eq!(b.cancel(OrderId(2)).unwrap().size, Amount::from_raw(1));
    assert_eq!(
        b.cancel(OrderId(2)),
        Err(BookError::UnknownOrder(OrderId(2)))
    );
    assert!(b.is_empty());
}

#[test]
fn side_within_is_what_liquidation_plans_against() {
    let mut b = OrderBook::new();
    for (id, p) in [(1, 100), (2, 99), (3, 97)] {
        b.place(order(id, id, Side::Bid, Some(p), 2, TimeInForce::Gtc))
            .unwrap();
    }
    let side = b.side_within(Side::Bid, px(98));
    assert_eq!(
        side.levels().iter().map(|l| l.price).collect::<Vec<_>>(),
        [px(100), px(99)]
    );
    assert_eq!(b.levels(Side::Bid, 2).len(), 2);
}

/// The reference: every resting order in a list; a match scans all of it for the best price,
/// then the earliest arrival.
#[derive(Default)]
struct Naive {
    orders: Vec<(u64, u64, Side, u128, u128, u64)>, // id, owner, side, price, size, seq
    seq: u64,
}

impl Naive {
    fn place(&mut self, o: &Order) -> Result<Vec<(u64, u128, u128)>, ()> {
        if o.size.is_zero() || self.orders.iter().any(|x| x.0 == o.id.0) {
            return Err(());
        }
        let limit = o.price.map(|p| p.raw());
        let crosses = |x: &(u64, u64, Side, u128, u128, u64)| {
            x.2 != o.side
                && limit.is_none_or(|l| {
                    if o.side == Side::Bid {
                        x.3 <= l
                    } else {
                        x.3 >= l
                    }
                })
        };
        if o.tif == TimeInForce::PostOnly && self.orders.iter().any(crosses) {
            return Err(());
        }
        let mut left = o.size.raw();
        let mut fills = Vec::new();
        while left > 0 {
            let best = self
                .orders
                .iter()
                .enumerate()
                .filter(|(_, x)| crosses(x))
                .min_by_key(|(_, x)| {
                    let key = if o.side == Side::Bid {
                        x.3
                    } else {
                        u128::MAX - x.3
                    };
                    (key, x.5)
                });
            let Some((i, _)) = best else { break };
            if self.orders[i].1 == o.owner {
                self.orders.remove(i);
                continue;
            }
            let q = left.min(self.orders[i].4);
            fills.push((self.orders[i].0, self.orders[i].3, q));
            self.orders[i].4 -= q;
            left -= q;
            if self.orders[i].4 == 0 {
                self.orders.remove(i);
            }
        }
        if let Some(p) = limit.filter(|_| left > 0 && o.tif != TimeInForce::Ioc) {
            self.seq += 1;
            self.orders
                .push((o.id.0, o.owner, o.side, p, left, self.seq));
        }
        Ok(fills)
    }
}

#[derive(Clone, Debug)]
enum Op {
    Place {
        owner: u64,
        bid: bool,
        price: u128,
        size: u128,
        tif: u8,
        market: bool,
    },
    Cancel {
        nth: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        5 => (0u64..4, any::<bool>(), 95u128..106, 1u128..20, 0u8..3, proptest::bool::weighted(0.05))
            .prop_map(|(owner, bid, price, size, tif, market)| Op::Place { owner, bid, price, size, tif, market }),
        1 => (0usize..50).prop_map(|nth| Op::Cancel { nth }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    // Run by `the_reference_property_reaches_fills`, which then checks how many fills it saw.
    fn the_book_matches_like_the_naive_reference(ops in proptest::collection::vec(op(), 1..120)) {
        let mut book = OrderBook::new();
        let mut naive = Naive::default();
        let mut next = 1u64;
        let mut fills = 0usize;
        for o in ops {
            match o {
                Op::Place { owner, bid, price, size, tif, market } => {
                    let tif = [TimeInForce::Gtc, TimeInForce::Ioc, TimeInForce::PostOnly][usize::from(tif)];
                    let (price, tif) = if market { (None, TimeInForce::Ioc) } else { (Some(px(price)), tif) };
                    let ord = Order { id: OrderId(next), owner, side: if bid { Side::Bid } else { Side::Ask }, price, size: Amount::from_raw(size), tif };
                    next += 1;
                    let got = book.place(ord);
                    let want = naive.place(&ord);
                    match (got, want) {
                        (Ok(p), Ok(w)) => {
                            let g: Vec<_> = p.fills.iter().map(|m| (m.maker.0, m.price.raw(), m.size.raw())).collect();
                            prop_assert_eq!(g, w);
                            fills += p.fills.len();
                        }
                        (Err(_), Err(())) => {}
                        (g, w) => prop_assert!(false, "book {:?} vs reference {:?}", g, w),
                    }
                }
                Op::Cancel { nth } => {
                    if naive.orders.is_empty() { continue; }
                    let id = naive.orders[nth % naive.orders.len()].0;
                    naive.orders.retain(|x| x.0 != id);
                    prop_assert!(book.cancel(OrderId(id)).is_ok());
                }
            }
            prop_assert_eq!(book.len(), naive.orders.len());
            prop_assert!(book.check().is_ok(), "{:?}", book.check());
        }
        FILLS.with(|f| *f.borrow_mut() += fills);
    }
}

thread_local! {
    static FILLS: std::cell::RefCell<usize> = const { std::cell::RefCell::new(0) };
}

#[test]
fn the_reference_property_reaches_fills() {
    FILLS.with(|f| *f.borrow_mut() = 0);
    the_book_matches_like_the_naive_reference();
    let fills = FILLS.with(|f| *f.borrow());
    assert!(fills > 1_000, "fills {fills}");
}
