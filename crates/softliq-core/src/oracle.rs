//! Oracle guards (docs/engine.md, Oracle guards): staleness, the jump circuit breaker with
//! confirmation, and the delayed or time-weighted price that a market's liquidation checks may
//! use. In core, as pure functions of the accepted prices and a timestamp, so that the engine
//! and the simulator can put the same guards between a feed and the ledger; the engine turns
//! what a post did ([`Posted`]) into its events and a refusal ([`OracleError`]) into its own.
//!
//! A breaker "expires" by the clock passing `until_s`, with no command needed to close it.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use crate::asset::OracleGuards;
use crate::money::muldiv::Wide;
use crate::money::{Price, Rounding, WAD};

/// How far back accepted prices are kept for delayed and time-weighted liquidation prices;
/// also the largest `delay_s` or `window_s` a market may choose.
pub const HISTORY_S_MAX: u64 = 86_400;
/// The most price entries kept per asset (one a second for a day), so memory stays bounded.
pub const HISTORY_LEN_MAX: usize = 86_400;

/// Which price a market's liquidation checks use (docs/engine.md, Oracle guards). Borrowing and
/// withdrawing always use the spot price; liquidation may lag it, trading reaction speed for
/// resistance to a manipulated or glitching feed (MakerDAO's one-hour oracle security module).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PriceSource {
    /// The latest accepted price.
    #[default]
    Spot,
    /// The latest price published at least `delay_s` seconds ago.
    Delayed { delay_s: u64 },
    /// The time-weighted average of accepted prices over the last `window_s` seconds.
    Twap { window_s: u64 },
}

/// Why a price was refused; nothing changed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct OracleError {
    pub kind: OracleErrorKind,
    pub field: &'static str,
    pub message: String,
}

/// What kind of input an oracle refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OracleErrorKind {
    /// A price that is zero, from the future, or not after the last one.
    InvalidPrice,
    /// A price older than `max_staleness_s` on arrival.
    StalePrice,
    /// A liquidation price source the oracle cannot serve.
    InvalidSource,
}

impl OracleError {
    fn new(kind: OracleErrorKind, field: &'static str, message: impl Into<String>) -> Self {
        Self {
            kind,
            field,
            message: message.into(),
        }
    }

    fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        Self::new(OracleErrorKind::InvalidPrice, field, message)
    }
}

/// What an accepted price did to the breaker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Posted {
    /// Nothing: no jump, no breaker open.
    Accepted,
    /// It jumped more than `max_jump` from `previous` (the price or the open breaker's):
    /// liquidations wait until `until_s` or a confirming price.
    BreakerOpened { previous: Price, until_s: u64 },
    /// It confirmed the open breaker's price, which closes it.
    BreakerConfirmed,
}

/// An open circuit breaker.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Breaker {
    /// The jumped price, which later updates must confirm.
    pub price: Price,
    /// When the breaker closes by itself.
    pub until_s: u64,
}

/// One asset's oracle state.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Oracle {
    /// The latest accepted price, if any.
    pub price: Option<Price>,
    pub published_s: u64,
    pub breaker: Option<Breaker>,
    /// Accepted prices `(published_s, price)`, oldest first, for [`HISTORY_S_MAX`] seconds
    /// plus the one before (a step function needs its value at the window's start).
    pub history: VecDeque<(u64, Price)>,
}

impl Oracle {
    /// Whether the latest price is too old at `now_s` (or missing).
    #[must_use]
    pub fn is_stale(&self, now_s: u64, guards: &OracleGuards) -> bool {
        self.price.is_none() || now_s.saturating_sub(self.published_s) > guards.max_staleness_s
    }

    /// The open breaker at `now_s`, if any.
    #[must_use]
    pub fn open_breaker(&self, now_s: u64) -> Option<Breaker> {
        self.breaker.filter(|b| now_s < b.until_s)
    }

    /// Accepts `price` published at `published_s`, at `now_s`, and says what the guards did.
    /// Every check comes before the first change, so on refusal nothing changes (the engine
    /// relies on it and posts in place).
    ///
    /// # Errors
    /// A zero price, a publication time in the future or not after the last one, or a price
    /// already stale on arrival.
    pub fn post(
        &mut self,
        price: Price,
        published_s: u64,
        now_s: u64,
        guards: &OracleGuards,
    ) -> Result<Posted, OracleError> {
        if price.is_zero() {
            return Err(OracleError::invalid("price", "must be greater than zero"));
        }
        if published_s > now_s {
            return Err(OracleError::invalid(
                "published_s",
                format!("{published_s} is after the command's timestamp {now_s}"),
            ));
        }
        if self.price.is_some() && published_s <= self.published_s {
            return Err(OracleError::invalid(
                "published_s",
                format!(
                    "must be after the last accepted price's {}",
                    self.published_s
                ),
            ));
        }
        if now_s - published_s > guards.max_staleness_s {
            return Err(OracleError::new(
                OracleErrorKind::StalePrice,
                "published_s",
                format!(
                    "the price is {} s old, more than max_staleness_s = {}",
                    now_s - published_s,
                    guards.max_staleness_s
                ),
            ));
        }
        let open = self.open_breaker(now_s);
        let reference = open.map(|b| b.price).or(self.price);
        let jumped = reference.filter(|previous| is_jump(*previous, price, guards));
        let (breaker, posted) = match (jumped, open) {
            (Some(previous), _) => {
                let until_s = now_s.saturating_add(guards.confirm_s);
                (
                    Some(Breaker { price, until_s }),
                    Posted::BreakerOpened { previous, until_s },
                )
            }
            (None, Some(_)) => (None, Posted::BreakerConfirmed),
            (None, None) => (None, Posted::Accepted),
        };
        self.breaker = breaker;
        self.price = Some(price);
        self.published_s = published_s;
        self.history.push_back((published_s, price));
        self.prune(now_s);
        Ok(posted)
    }

    fn prune(&mut self, now_s: u64) {
        let horizon = now_s.saturating_sub(HISTORY_S_MAX);
        while self.history.len() > HISTORY_LEN_MAX
            || (self.history.len() >= 2 && self.history[1].0 <= horizon)
        {
            self.history.pop_front();
        }
    }

    /// The price liquidation checks use at `now_s` under `source`; `None` when there is none
    /// (no price yet, or none old enough for the delayed feed).
    #[must_use]
    pub fn liquidation_price(&self, source: PriceSource, now_s: u64) -> Option<Price> {
        match source {
            PriceSource::Spot => self.price,
            PriceSource::Delayed { delay_s } => {
                let cutoff = now_s.checked_sub(delay_s)?;
                self.history
                    .iter()
                    .rev()
                    .find(|(t, _)| *t <= cutoff)
                    .map(|(_, p)| *p)
            }
            PriceSource::Twap { window_s } => self.twap(now_s, window_s),
        }
    }

    /// The time-weighted average of the accepted prices over `[now − window, now]` (over the
    /// part of it that has prices), rounded down; the latest price when the span is empty.
    fn twap(&self, now_s: u64, window_s: u64) -> Option<Price> {
        let start = now_s.saturating_sub(window_s);
        let mut sum = Wide::default();
        let mut span_s: u128 = 0;
        let mut iter = self.history.iter().peekable();
        while let Some(&(t, p)) = iter.next() {
            let end = iter.peek().map_or(now_s, |(next, _)| *next).min(now_s);
            let from = t.max(start);
            if end > from {
                let dt = u128::from(end - from);
                sum = sum.checked_add(Wide::product(p.raw(), dt)).ok()?;
                span_s += dt;
            }
        }
        if span_s == 0 {
            return self.price;
        }
        sum.div(span_s, Rounding::Down).ok().map(Price::from_raw)
    }
}

/// Whether `next` is more than `max_jump` away from `previous`, exactly:
/// `|next − previous| · WAD > max_jump · previous`.
fn is_jump(previous: Price, next: Price, guards: &OracleGuards) -> bool {
    let moved = previous.raw().abs_diff(next.raw());
    Wide::product(moved, WAD) > Wide::product(guards.max_jump.raw(), previous.raw())
}

/// Whether `source` is one an oracle can serve.
///
/// # Errors
/// A delay or window of zero or beyond [`HISTORY_S_MAX`]: the field and the bound.
pub fn validate_source(source: PriceSource) -> Result<(), OracleError> {
    let (field, s) = match source {
        PriceSource::Spot => return Ok(()),
        PriceSource::Delayed { delay_s } => ("liquidation_price.delay_s", delay_s),
        PriceSource::Twap { window_s } => ("liquidation_price.window_s", window_s),
    };
    if s == 0 || s > HISTORY_S_MAX {
        return Err(OracleError::new(
            OracleErrorKind::InvalidSource,
            field,
            format!("{s} is out of bounds: 1 ≤ seconds ≤ {HISTORY_S_MAX}"),
        ));
    }
    Ok(())
}
