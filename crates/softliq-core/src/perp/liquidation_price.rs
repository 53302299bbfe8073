//! Liquidation prices of perp positions and of the assets of a unified account.
//!
//! Three figures, from the simplest to the exact one:
//! - [`isolated_formula`]: the textbook isolated-margin price of a position opened with margin
//!   `imr · notional` and no fees: `entry · (1 − imr) / (1 − mmr)` for a long,
//!   `entry · (1 + imr) / (1 + mmr)` for a short. A check, and what traders expect to see.
//! - [`mark_liquidation_price`]: the mark of one market at which the account (cross) or the
//!   position (isolated) becomes liquidatable by the engine's own exact predicate, with
//!   everything else fixed: tiers, funding owed, fees already paid and rounding included.
//! - [`asset_liquidation_price`]: for a cross account, the price of one lending asset at which
//!   the whole account reaches maintenance, moving that asset's collateral and debt and the
//!   mark of every perp indexed to it by the same factor (premiums kept).
//!
//! The exact ones bisect the integer price on the predicate. The predicate is monotone in the
//! price for one position; for a mixed account it may not be (a long perp margined by debt in
//! the same asset), and the search then returns a crossing nearest to the current price within
//! the bracket it tested, found from the current price outward.

use crate::account::Account;
use crate::asset::AssetId;
use crate::health::RiskSnapshot;
use crate::money::{MathError, Price, Ratio, Rounding, Value, muldiv::mul_div};

use super::{Exposure, PerpAccount, PerpError, PerpMarketId, PerpSnapshot, Scope};

/// A liquidation price below the current one (prices falling) and one above (rising); either
/// may be absent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Crossings {
    pub down: Option<Price>,
    pub up: Option<Price>,
}

/// `entry · (1 − imr)/(1 − mmr)` (long) or `entry · (1 + imr)/(1 + mmr)` (short), rounded
/// toward the entry (the conservative side: the position liquidates no later than this).
///
/// # Errors
/// `Overflow`; `DivisionByZero` for `mmr = 1`.
pub fn isolated_formula(
    entry: Price,
    imr: Ratio,
    mmr: Ratio,
    long: bool,
) -> Result<Price, MathError> {
    let (num, den, rounding) = if long {
        (
            Ratio::ONE.checked_sub(imr)?,
            Ratio::ONE.checked_sub(mmr)?,
            Rounding::Up,
        )
    } else {
        (
            Ratio::ONE.checked_add(imr)?,
            Ratio::ONE.checked_add(mmr)?,
            Rounding::Down,
        )
    };
    mul_div(entry.raw(), num.raw(), den.raw(), rounding).map(Price::from_raw)
}

/// The exact mark of `market` at which `scope` becomes liquidatable, all else fixed.
///
/// # Errors
/// A missing price; `Overflow`.
pub fn mark_liquidation_price(
    scope: Scope,
    lending: &Account,
    perp: &PerpAccount,
    risk: &RiskSnapshot,
    perps: &PerpSnapshot,
    market: PerpMarketId,
) -> Result<Crossings, PerpError> {
    let current = perps.get(market)?.mark;
    let mut what_if = perps.clone();
    let liquidatable = |p: Price| -> Result<bool, PerpError> {
        if let Some(r) = what_if.get_mut(market) {
            r.mark = p;
        }
        Ok(Exposure::of(scope, lending, perp, risk, &what_if)?.is_liquidatable())
    };
    crossings(current, liquidatable)
}

/// The exact price of lending asset `asset` at which the cross account becomes liquidatable,
/// with every perp whose index is `asset` marked by the same factor.
///
/// # Errors
/// A missing price; `Overflow`.
pub fn asset_liquidation_price(
    lending: &Account,
    perp: &PerpAccount,
    risk: &RiskSnapshot,
    perps: &PerpSnapshot,
    asset: AssetId,
) -> Result<Crossings, PerpError> {
    let base = *risk.get(asset)?;
    let current = base.price;
    let indexed: Vec<(PerpMarketId, Price)> = perps
        .iter()
        .filter(|(_, r)| r.params.index_asset == asset)
        .map(|(id, r)| (id, r.mark))
        .collect();
    let mut what_if_risk = risk.clone();
    let mut what_if = perps.clone();
    let liquidatable = |p: Price| -> Result<bool, PerpError> {
        let mut moved = base;
        moved.price = p;
        what_if_risk.set(asset, moved);
        for &(id, mark) in &indexed {
            if let Some(r) = what_if.get_mut(id) {
                // mark' = mark · p / price: each market keeps its premium (rounded down, as
                // marks are).
                r.mark =
                    Price::from_raw(mul_div(mark.raw(), p.raw(), current.raw(), Rounding::Down)?);
            }
        }
        Ok(Exposure::of(Scope::Cross, lending, perp, &what_if_risk, &what_if)?.is_liquidatable())
    };
    crossings(current, liquidatable)
}

/// Bisects the boundary on each side of `current`. `liquidatable(current)` true means the
/// account is already liquidatable: no crossing is reported.
fn crossings(
    current: Price,
    mut liquidatable: impl FnMut(Price) -> Result<bool, PerpError>,
) -> Result<Crossings, PerpError> {
    if current.is_zero() || liquidatable(current)? {
        return Ok(Crossings::default());
    }
    let mut out = Crossings::default();
    // Falling: search (0, current) for the highest liquidatable price.
    let floor = Price::from_raw(1);
    if liquidatable(floor)? {
        let (mut bad, mut good) = (floor.raw(), current.raw());
        while good - bad > 1 {
            let mid = bad + (good - bad) / 2;
            if liquidatable(Price::from_raw(mid))? {
                bad = mid;
            } else {
                good = mid;
            }
        }
        out.down = Some(Price::from_raw(bad));
    }
    // Rising: search up to 10^6 times the current price for the lowest liquidatable price.
    let ceiling = Value::from_raw(current.raw())
        .mul_ratio(
            Ratio::from_raw(Ratio::ONE.raw() * 1_000_000),
            Rounding::Down,
        )
        .map_or(Price::MAX, |v| Price::from_raw(v.raw()));
    if liquidatable(ceiling)? {
        let (mut good, mut bad) = (current.raw(), ceiling.raw());
        while bad - good > 1 {
            let mid = good + (bad - good) / 2;
            if liquidatable(Price::from_raw(mid))? {
                bad = mid;
            } else {
                good = mid;
            }
        }
        out.up = Some(Price::from_raw(bad));
    }
    Ok(out)
}
