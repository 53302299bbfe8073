//! One side of an order book as liquidation sees it: resting price levels, best first, and an
//! immediate-or-cancel take bounded by a limit price. The engine's matching book (part 2) and
//! the simulator's venue both present their depth in this shape.

use crate::money::{Amount, Decimals, MathError, Price, Rounding, Value, Wide};

/// Which side of the book: bids (buyers; a long is unwound by selling into them) or asks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Side {
    Bid,
    Ask,
}

/// A resting price level.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Level {
    pub price: Price,
    pub size: Amount,
}

/// What a take filled.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BookFill {
    pub size: Amount,
    /// `Σ size_i · price_i` summed exactly and rounded once against the taker (down when it
    /// sells and receives, up when it buys and pays).
    pub notional: Value,
    /// The last (worst) level's price touched; `None` when nothing filled.
    pub worst_price: Option<Price>,
}

/// Levels of one side, best first: bids in falling price, asks in rising price.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BookSide {
    side: Side,
    levels: Vec<Level>,
}

impl BookSide {
    /// A side from levels in any order; they are sorted best first and empty ones dropped.
    #[must_use]
    pub fn new(side: Side, mut levels: Vec<Level>) -> Self {
        levels.retain(|l| !l.size.is_zero());
        match side {
            Side::Bid => levels.sort_by_key(|l| std::cmp::Reverse(l.price)),
            Side::Ask => levels.sort_by_key(|l| l.price),
        }
        Self { side, levels }
    }

    #[must_use]
    pub const fn side(&self) -> Side {
        self.side
    }

    #[must_use]
    pub fn levels(&self) -> &[Level] {
        &self.levels
    }

    /// True when `price` is at or better than `limit` for a taker on the other side.
    #[must_use]
    pub fn within(&self, price: Price, limit: Price) -> bool {
        match self.side {
            Side::Bid => price >= limit,
            Side::Ask => price <= limit,
        }
    }

    /// Size resting at or better than `limit`.
    #[must_use]
    pub fn absorbable(&self, limit: Price) -> Amount {
        self.levels
            .iter()
            .take_while(|l| self.within(l.price, limit))
            .fold(Amount::ZERO, |a, l| a.saturating_add(l.size))
    }

    /// Takes up to `size` at prices no worse than `limit`, best level first, removing what it
    /// fills. Nothing outside the limit is ever touched.
    ///
    /// # Errors
    /// `Overflow`. On error the book is unchanged.
    pub fn take(
        &mut self,
        size: Amount,
        limit: Price,
        decimals: Decimals,
    ) -> Result<BookFill, MathError> {
        let mut left = size;
        let mut sum = Wide::ZERO;
        let mut worst = None;
        let mut consumed = 0;
        let mut partial: Option<Amount> = None;
        for l in &self.levels {
            if left.is_zero() || !self.within(l.price, limit) {
                break;
            }
            let q = left.min(l.size);
            sum = sum.checked_add(Wide::product(q.raw(), l.price.raw()))?;
            worst = Some(l.price);
            left = left.checked_sub(q)?;
            if q == l.size {
                consumed += 1;
            } else {
                partial = Some(l.size.checked_sub(q)?);
            }
        }
        let rounding = match self.side {
            Side::Bid => Rounding::Down,
            Side::Ask => Rounding::Up,
        };
        let notional = Value::from_raw(sum.div_pow10(decimals.get(), rounding)?);
        self.levels.drain(..consumed);
        if let Some(rest) = partial {
            self.levels[0].size = rest;
        }
        Ok(BookFill {
            size: size.checked_sub(left)?,
            notional,
            worst_price: worst,
        })
    }
}
