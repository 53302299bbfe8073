//! A perp market's order book: resting limit orders matched by price, then time.
//!
//! Pure and deterministic: orders arrive with their ids (the engine assigns them from its log),
//! the book keeps them in ordered maps (no hash order leaks into state or results), and every
//! operation either applies whole or refuses with nothing changed.
//!
//! - **Price-time priority**: the best price first; at one price, the order that arrived first.
//! - **Time in force**: `Gtc` rests what does not fill; `Ioc` cancels it; `PostOnly` refuses an
//!   order that would fill on arrival (a maker that does not want to take). A market order is
//!   an `Ioc` with no price limit.
//! - **Self-trade prevention** (cancel the resting order): a taker never fills against its own
//!   owner's resting order; that order is cancelled and matching goes on, so a market maker's
//!   stale quote cannot be used to wash-trade.
//! - Reduce-only orders and lot/tick/margin checks belong to the caller, which knows the
//!   position (see [`super::order`]); the book matches what it is given.
//!
//! A fill's notional is not computed here: the caller values `size · price` with the market's
//! decimals once per fill and books the same figure on both sides.

use std::collections::{BTreeMap, VecDeque};

use crate::money::{Amount, Price};

use super::{BookSide, Level, Side};

/// An order's id, unique per market for the life of the book.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct OrderId(pub u64);

/// What happens to the part of an order that does not fill on arrival.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum TimeInForce {
    /// Rests on the book until filled or cancelled.
    Gtc,
    /// Immediate or cancel: the rest is cancelled.
    Ioc,
    /// Refused if any of it would fill on arrival; otherwise rests.
    PostOnly,
}

/// An order as submitted. `side` is the side it rests on (`Bid` = buy); `price` `None` is a
/// market order (only with `Ioc`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Order {
    pub id: OrderId,
    pub owner: u64,
    pub side: Side,
    pub price: Option<Price>,
    pub size: Amount,
    pub tif: TimeInForce,
}

/// One fill: the resting (maker) order it hit, at the maker's price.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Match {
    pub maker: OrderId,
    pub maker_owner: u64,
    pub price: Price,
    pub size: Amount,
}

/// What placing an order did.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Placed {
    pub fills: Vec<Match>,
    /// Size left resting on the book (GTC and post-only).
    pub rested: Amount,
    /// Size cancelled at once (the unfilled rest of an IOC or market order).
    pub cancelled: Amount,
    /// The taker's own resting orders cancelled by self-trade prevention.
    pub self_trade_cancels: Vec<OrderId>,
}

/// Why the book refused an order or a cancel (nothing changed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BookError {
    #[error("order_id: {} is already on the book", .0.0)]
    DuplicateId(OrderId),
    #[error("size: must not be zero")]
    ZeroSize,
    #[error("price: a market order (no price) must be immediate-or-cancel")]
    MarketMustBeIoc,
    #[error("post_only: the order would fill at {0} on arrival")]
    PostOnlyWouldCross(Price),
    #[error("order_id: {} is not on the book", .0.0)]
    UnknownOrder(OrderId),
}

/// A resting order's state, kept by id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Resting {
    pub owner: u64,
    pub side: Side,
    pub price: Price,
    pub size: Amount,
}

/// One price level: its orders in arrival order and their total size.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct Queue {
    ids: VecDeque<OrderId>,
    total: Amount,
}

/// The book of one market.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OrderBook {
    bids: BTreeMap<Price, Queue>,
    asks: BTreeMap<Price, Queue>,
    orders: BTreeMap<OrderId, Resting>,
}

impl OrderBook {
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// A resting order, if on the book.
    #[must_use]
    pub fn order(&self, id: OrderId) -> Option<&Resting> {
        self.orders.get(&id)
    }

    /// The resting orders of `owner`, by id.
    #[must_use]
    pub fn orders_of(&self, owner: u64) -> Vec<OrderId> {
        self.orders
            .iter()
            .filter(|(_, r)| r.owner == owner)
            .map(|(id, _)| *id)
            .collect()
    }

    /// Number of resting orders.
    #[must_use]
    pub fn len(&self) -> usize {
        self.orders.len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.orders.is_empty()
    }

    /// The best bid and best ask.
    #[must_use]
    pub fn best(&self) -> (Option<Price>, Option<Price>) {
        (
            self.bids.keys().next_back().copied(),
            self.asks.keys().next().copied(),
        )
    }

    /// Up to `n` levels of `side`, best first, with their total sizes.
    #[must_use]
    pub fn levels(&self, side: Side, n: usize) -> Vec<Level> {
        let level = |(p, q): (&Price, &Queue)| Level {
            price: *p,
            size: q.total,
        };
        match side {
            Side::Bid => self.bids.iter().rev().take(n).map(level).collect(),
            Side::Ask => self.asks.iter().take(n).map(level).collect(),
        }
    }

    /// The levels of `side` at or better than `limit`, as the [`BookSide`] a liquidation round
    /// plans against (the round's fills are then placed here as IOC orders at the same limit,
    /// which fill the same levels).
    #[must_use]
    pub fn side_within(&self, side: Side, limit: Price) -> BookSide {
        let levels = match side {
            Side::Bid => self
                .bids
                .range(limit..)
                .rev()
                .map(|(p, q)| Level {
                    price: *p,
                    size: q.total,
                })
                .collect(),
            Side::Ask => self
                .asks
                .range(..=limit)
                .map(|(p, q)| Level {
                    price: *p,
                    size: q.total,
                })
                .collect(),
        };
        BookSide::new(side, levels)
    }

    /// Places an order: matches what crosses, then rests or cancels the rest by its time in
    /// force.
    ///
    /// # Errors
    /// `ZeroSize`, `DuplicateId`, `MarketMustBeIoc`, `PostOnlyWouldCross`; the book is unchanged.
    pub fn place(&mut self, order: Order) -> Result<Placed, BookError> {
        if order.size.is_zero() {
            return Err(BookError::ZeroSize);
        }
        if self.orders.contains_key(&order.id) {
            return Err(BookError::DuplicateId(order.id));
        }
        if order.price.is_none() && order.tif != TimeInForce::Ioc {
            return Err(BookError::MarketMustBeIoc);
        }
        if order.tif == TimeInForce::PostOnly
            && let Some(best) = self.crossing_best(order.side, order.price)
        {
            return Err(BookError::PostOnlyWouldCross(best));
        }
        let mut placed = Placed::default();
        let left = self.take(&order, &mut placed);
        match (order.tif, order.price) {
            (TimeInForce::Ioc, _) | (_, None) => placed.cancelled = left,
            (_, Some(price)) if !left.is_zero() => {
                self.rest(order.id, order.owner, order.side, price, left);
                placed.rested = left;
            }
            _ => {}
        }
        Ok(placed)
    }

    /// Cancels a resting order; returns what was left of it.
    ///
    /// # Errors
    /// `UnknownOrder`; the book is unchanged.
    pub fn cancel(&mut self, id: OrderId) -> Result<Resting, BookError> {
        let resting = self.orders.remove(&id).ok_or(BookError::UnknownOrder(id))?;
        let levels = match resting.side {
            Side::Bid => &mut self.bids,
            Side::Ask => &mut self.asks,
        };
        if let Some(q) = levels.get_mut(&resting.price) {
            q.ids.retain(|x| *x != id);
            q.total = q.total.saturating_sub(resting.size);
            if q.ids.is_empty() {
                levels.remove(&resting.price);
            }
        }
        Ok(resting)
    }

    /// The best opposite price an order on `side` at `limit` would fill against, if any.
    fn crossing_best(&self, side: Side, limit: Option<Price>) -> Option<Price> {
        let best = match side {
            Side::Bid => self.asks.keys().next().copied(),
            Side::Ask => self.bids.keys().next_back().copied(),
        }?;
        let crosses = limit.is_none_or(|l| match side {
            Side::Bid => best <= l,
            Side::Ask => best >= l,
        });
        crosses.then_some(best)
    }

    /// Matches `order` against the opposite side; returns the size left.
    fn take(&mut self, order: &Order, placed: &mut Placed) -> Amount {
        let mut left = order.size;
        while !left.is_zero() {
            let Some(best) = self.crossing_best(order.side, order.price) else {
                break;
            };
            let levels = match order.side {
                Side::Bid => &mut self.asks,
                Side::Ask => &mut self.bids,
            };
            let Some(queue) = levels.get_mut(&best) else {
                break;
            };
            while !left.is_zero() {
                let Some(&maker) = queue.ids.front() else {
                    break;
                };
                let Some(m) = self.orders.get_mut(&maker) else {
                    queue.ids.pop_front();
                    continue;
                };
                if m.owner == order.owner {
                    queue.total = queue.total.saturating_sub(m.size);
                    queue.ids.pop_front();
                    self.orders.remove(&maker);
                    placed.self_trade_cancels.push(maker);
                    continue;
                }
                let q = left.min(m.size);
                m.size = m.size.saturating_sub(q);
                queue.total = queue.total.saturating_sub(q);
                left = left.saturating_sub(q);
                placed.fills.push(Match {
                    maker,
                    maker_owner: m.owner,
                    price: best,
                    size: q,
                });
                if m.size.is_zero() {
                    queue.ids.pop_front();
                    self.orders.remove(&maker);
                }
            }
            if queue.ids.is_empty() {
                levels.remove(&best);
            }
        }
        left
    }

    fn rest(&mut self, id: OrderId, owner: u64, side: Side, price: Price, size: Amount) {
        let levels = match side {
            Side::Bid => &mut self.bids,
            Side::Ask => &mut self.asks,
        };
        let q = levels.entry(price).or_default();
        q.ids.push_back(id);
        q.total = q.total.saturating_add(size);
        self.orders.insert(
            id,
            Resting {
                owner,
                side,
                price,
                size,
            },
        );
    }

    /// Checks the book's own invariants: not crossed, every level's total is the sum of its
    /// orders, every order sits in its level once, no empty level. For tests and `--audit`.
    ///
    /// # Errors
    /// What is broken, in words.
    pub fn check(&self) -> Result<(), String> {
        if let (Some(b), Some(a)) = self.best()
            && b >= a
        {
            return Err(format!("crossed: best bid {b} >= best ask {a}"));
        }
        let mut seen = 0usize;
        for (side, levels) in [(Side::Bid, &self.bids), (Side::Ask, &self.asks)] {
            for (price, q) in levels {
                if q.ids.is_empty() {
                    return Err(format!("empty level at {price}"));
                }
                let mut total = Amount::ZERO;
                for id in &q.ids {
                    let o = self
                        .orders
                        .get(id)
                        .ok_or(format!("order {} missing", id.0))?;
                    if o.side != side || o.price != *price || o.size.is_zero() {
                        return Err(format!("order {} misplaced or empty", id.0));
                    }
                    total = total.saturating_add(o.size);
                    seen += 1;
                }
                if total != q.total {
                    return Err(format!(
                        "level {price}: total {} != orders {}",
                        q.total, total
                    ));
                }
            }
        }
        if seen != self.orders.len() {
            return Err(format!("{} orders, {seen} in levels", self.orders.len()));
        }
        Ok(())
    }
}
