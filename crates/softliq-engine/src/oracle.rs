//! The oracle guards are core's (`softliq_core::oracle`); this maps what a post did to the
//! engine's events, and a refusal to its rejections.

use softliq_core::asset::{AssetId, OracleGuards};
use softliq_core::money::Price;
pub use softliq_core::oracle::{
    Breaker, HISTORY_LEN_MAX, HISTORY_S_MAX, Oracle, OracleError, OracleErrorKind, Posted,
    PriceSource,
};

use crate::event::{BreakerClose, Event};
use crate::rejection::{Code, Rejection};

/// Posts a price to `oracle` (in place: nothing changes on refusal), as the engine's events.
///
/// # Errors
/// The guards' refusal, as `stale_price` or `invalid_price` naming the field.
pub(crate) fn post(
    oracle: &mut Oracle,
    asset: AssetId,
    price: Price,
    (published_s, now_s): (u64, u64),
    guards: &OracleGuards,
) -> Result<Vec<Event>, Rejection> {
    let posted = oracle
        .post(price, published_s, now_s, guards)
        .map_err(rejection)?;
    let mut events = vec![Event::PriceAccepted {
        asset,
        price,
        published_s,
    }];
    match posted {
        Posted::Accepted => {}
        Posted::BreakerOpened { previous, until_s } => events.push(Event::BreakerOpened {
            asset,
            price,
            previous,
            until_s,
        }),
        Posted::BreakerConfirmed => events.push(Event::BreakerClosed {
            asset,
            reason: BreakerClose::Confirmed,
        }),
    }
    Ok(events)
}

/// Whether `source` is one the engine can serve.
///
/// # Errors
/// A delay or window of zero or beyond [`HISTORY_S_MAX`].
pub fn validate_source(source: PriceSource) -> Result<(), Rejection> {
    softliq_core::oracle::validate_source(source).map_err(rejection)
}

fn rejection(e: OracleError) -> Rejection {
    let code = match e.kind {
        OracleErrorKind::InvalidPrice => Code::InvalidPrice,
        OracleErrorKind::StalePrice => Code::StalePrice,
        OracleErrorKind::InvalidSource => Code::InvalidParams,
    };
    Rejection::new(code, e.field, e.message)
}
