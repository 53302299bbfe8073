//! What a trade must satisfy before it is booked: lot and tick, the open-interest cap, and the
//! initial margin for a trade that adds risk. Each refusal names the field and the limit, so a
//! trader or an integrator can fix the order without reading code. Liquidation fills (soft
//! chunks, hard closes, backstop transfers and ADL) only reduce positions and skip these.

use crate::money::{Amount, Price, SignedValue, Value};

use super::{Margin, PerpMarketState, PerpParams};

/// Why an order or trade was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum OrderError {
    #[error("size: must not be zero")]
    ZeroSize,
    #[error("price: must be greater than zero")]
    ZeroPrice,
    #[error("size: {size} base units is not a multiple of lot_size {lot}")]
    Lot { size: Amount, lot: Amount },
    #[error("price: {price} is not a multiple of tick_size {tick}")]
    Tick { price: Price, tick: Price },
    #[error(
        "open_interest: {after} base units after the trade would exceed open_interest_cap {cap}"
    )]
    OpenInterest { after: Amount, cap: Amount },
    #[error(
        "margin: initial equity {equity} USD would be below the initial margin {required} USD; reduce the size or add collateral"
    )]
    Margin {
        equity: SignedValue,
        required: Value,
    },
}

/// Size a multiple of the lot, price a multiple of the tick.
///
/// # Errors
/// `ZeroSize`, `ZeroPrice`, `Lot`, `Tick`.
pub fn check_order(params: &PerpParams, size: i128, price: Price) -> Result<(), OrderError> {
    let abs = size.unsigned_abs();
    if abs == 0 {
        return Err(OrderError::ZeroSize);
    }
    let lot = params.lot_size;
    if !abs.is_multiple_of(lot.raw().max(1)) {
        return Err(OrderError::Lot {
            size: Amount::from_raw(abs),
            lot,
        });
    }
    if price.is_zero() {
        return Err(OrderError::ZeroPrice);
    }
    let tick = params.tick_size;
    if !price.raw().is_multiple_of(tick.raw().max(1)) {
        return Err(OrderError::Tick { price, tick });
    }
    Ok(())
}

/// How a position's change moves the market's open interest (total long size): the change of
/// its long part, `max(after, 0) − max(before, 0)`.
#[must_use]
pub fn open_interest_change(before: i128, after: i128) -> i128 {
    after.max(0) - before.max(0)
}

/// The open interest after a trade whose two sides change it by `change` in total.
///
/// # Errors
/// `OpenInterest` when it would exceed the market's cap and grows (a trade that lowers open
/// interest is never refused for it).
pub fn check_open_interest(
    params: &PerpParams,
    state: &PerpMarketState,
    change: i128,
) -> Result<Amount, OrderError> {
    let now = state.open_interest.raw();
    let after = if change >= 0 {
        now.saturating_add(change.unsigned_abs())
    } else {
        now.saturating_sub(change.unsigned_abs())
    };
    let after = Amount::from_raw(after);
    if let Some(cap) = params.open_interest_cap
        && change > 0
        && after > cap
    {
        return Err(OrderError::OpenInterest { after, cap });
    }
    Ok(after)
}

/// True when going from `before` to `after` only reduces the position (same side, smaller or
/// flat): always allowed, whatever the margin.
#[must_use]
pub fn reduces_only(before: i128, after: i128) -> bool {
    after == 0 || ((after > 0) == (before > 0) && after.unsigned_abs() <= before.unsigned_abs())
}

/// The margin rule for a trade: one that adds risk must leave `Ei ≥ IM`.
///
/// # Errors
/// `Margin` with the account's initial equity and requirement after the trade.
pub fn check_margin(before: i128, after: i128, margin_after: &Margin) -> Result<(), OrderError> {
    if reduces_only(before, after) || margin_after.meets_initial() {
        return Ok(());
    }
    Err(OrderError::Margin {
        equity: margin_after.initial_equity().unwrap_or(SignedValue::ZERO),
        required: margin_after.initial().unwrap_or(Value::MAX),
    })
}
