//! Soft unwinding: a liquidatable account's positions are reduced in chunks sent to the book
//! as immediate-or-cancel orders bounded by the slippage tolerance around the oracle, largest
//! risk first, until maintenance equity reaches `unwind_target · IM`; what the book cannot
//! absorb within the tolerance waits for the next round.
//!
//! # How large a chunk (derivation)
//! Let `E` be maintenance equity and `T = target · IM` the target requirement, gap `G = T − E`.
//! Selling `q` of a long marked at `m` fills no worse than `m(1 − tol)` (the limit is set from
//! the index; mark and index differ by the bounded premium, which the tolerance absorbs), pays
//! at most `fee · q m`, and lowers the requirement by at least `target · imr₀ · q m` (`imr₀` is
//! the smallest bracket's ratio: the marginal rate of any unit is at least that). So
//!
//! ```text
//! E' − T' ≥ E − T + q m (target · imr₀ − tol − fee)
//! q ≥ G / (m · k),   k = target · imr₀ − tol − fee  (> 0, checked when the market is listed)
//! ```
//!
//! rounded up to the lot. Fills better than the worst case leave the account above the target
//! by at most the saving. A short is the mirror image (buys bounded by `m(1 + tol)`).
//!
//! # One round
//! At most one chunk per position (so the book, which the simulator lets recover between
//! rounds, is never emptied in one go), each no larger than `chunk_notional_max`, than the
//! position, and than what rests within the tolerance. The fee is `fee · notional` rounded up,
//! but never more than the account's remaining positive equity: a fee does not create bad debt.

use crate::account::Account;
use crate::health::RiskSnapshot;
use crate::money::{
    Amount, MathError, Price, Ratio, Rounding, SignedValue, Value, muldiv::mul_div,
};

use super::{
    BookSide, Fill, IsolatedMargin, Margin, PerpAccount, PerpError, PerpMarketId, PerpMarketState,
    PerpSnapshot, Side,
};

/// Which wallet a liquidation acts on: the cross account or one isolated position.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Scope {
    Cross,
    Isolated(PerpMarketId),
}

/// The three figures liquidation needs, for either scope.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Exposure {
    pub equity: SignedValue,
    pub initial: Value,
    pub maintenance: Value,
}

impl Exposure {
    /// The scope's equity (maintenance weights) and requirements.
    ///
    /// # Errors
    /// A missing price; `Overflow`.
    pub fn of(
        scope: Scope,
        lending: &Account,
        perp: &PerpAccount,
        risk: &RiskSnapshot,
        perps: &PerpSnapshot,
    ) -> Result<Self, PerpError> {
        match scope {
            Scope::Cross => {
                let m = Margin::of(lending, perp, risk, perps)?;
                Ok(Self {
                    equity: m.maintenance_equity()?,
                    initial: m.initial()?,
                    maintenance: m.maintenance,
                })
            }
            Scope::Isolated(market) => {
                let Some(im) = IsolatedMargin::of(perp, market, perps)? else {
                    return Ok(Self {
                        equity: SignedValue::ZERO,
                        initial: Value::ZERO,
                        maintenance: Value::ZERO,
                    });
                };
                Ok(Self {
                    equity: im.equity,
                    initial: im.position.initial,
                    maintenance: im.position.maintenance,
                })
            }
        }
    }

    /// `equity ≤ MM` with a requirement (a flat scope is never liquidatable here).
    #[must_use]
    pub fn is_liquidatable(&self) -> bool {
        !self.maintenance.is_zero()
            && SignedValue::positive(self.maintenance).is_ok_and(|mm| self.equity <= mm)
    }

    /// `target · IM − equity`, the target requirement rounded up.
    ///
    /// # Errors
    /// `Overflow`.
    pub fn gap(&self, target: Ratio) -> Result<SignedValue, MathError> {
        SignedValue::positive(self.initial.mul_ratio(target, Rounding::Up)?)?
            .checked_sub(self.equity)
    }

    /// `equity < line · MM` (the line rounded down).
    #[must_use]
    pub fn below_line(&self, line: Ratio) -> bool {
        self.maintenance
            .mul_ratio(line, Rounding::Down)
            .and_then(SignedValue::positive)
            .is_ok_and(|b| self.equity < b)
    }
}

/// The books liquidation sends chunks to.
pub trait Books {
    /// The side of `market`'s book to hit (a seller hits the bids), if the market has a book.
    fn side_for(&mut self, market: PerpMarketId, hit: Side) -> Option<&mut BookSide>;
}

/// One chunk sent and what it filled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChunkFill {
    pub market: PerpMarketId,
    /// Signed as the account's fill (selling a long < 0).
    pub size: i128,
    pub notional: Value,
    /// The IOC limit: `index · (1 ∓ tol)`, rounded inward.
    pub limit: Price,
    pub worst_price: Price,
    /// Mark at the time of the chunk (what "slippage" is measured against).
    pub mark: Price,
    pub fee: Value,
    pub fee_to_liquidator: Value,
}

/// What one round did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Round {
    pub chunks: Vec<ChunkFill>,
    /// True when the scope ended at or above the target (or flat).
    pub done: bool,
}

/// The IOC limit for an order hitting `hit` at oracle `index`: a sale (hitting bids) no lower
/// than `index(1 − tol)` rounded up, a purchase (hitting asks) no higher than `index(1 + tol)`
/// rounded down, so no fill is ever outside the exact tolerance band.
///
/// # Errors
/// `Overflow`.
pub fn chunk_limit(index: Price, tol: Ratio, hit: Side) -> Result<Price, MathError> {
    let band = Value::from_raw(index.raw());
    let width = band.mul_ratio(tol, Rounding::Down)?;
    Ok(Price::from_raw(match hit {
        Side::Bid => band.checked_sub(width)?.raw(),
        Side::Ask => band.checked_add(width)?.raw(),
    }))
}

/// Rounds `q` up (`up`) or down to a multiple of `lot`.
pub(crate) fn to_lot(q: u128, lot: Amount, up: bool) -> u128 {
    let l = lot.raw().max(1);
    let r = q % l;
    if r == 0 {
        q
    } else if up {
        q.saturating_add(l - r)
    } else {
        q - r
    }
}

/// How a round sizes and bounds its orders.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Mode {
    /// Chunks sized to the target, within the tolerance; `started` when an earlier round began
    /// this unwinding and it is not done yet.
    Soft { started: bool },
    /// The baseline: every position of the scope at once, as deep into the book as the
    /// bankruptcy price allows (what a venue's liquidation order does).
    Hard,
}

/// Runs one round of soft unwinding on `scope`. Funding of the scope's positions must already
/// be settled (the caller touches the account first). Fees: the liquidator's share is returned
/// in each chunk; the rest goes to the market's insurance fund.
///
/// Unwinding starts when the scope is liquidatable (equity ≤ MM) and goes on, round after
/// round, until the target (`equity ≥ unwind_target · IM`) even though the account rises above
/// MM on the way: `Soft { started }` says an earlier round began it and it is not done yet (the
/// caller keeps that flag until a round reports `done`).
///
/// Every order is also bounded by the scope's **bankruptcy price** for its size (the fill at
/// which equity would reach zero): no fill ever leaves a loss for the insurance fund; what
/// cannot fill above it is left to the backstop, which takes it at the mark.
///
/// # Errors
/// `NotLiquidatable` when the scope is neither liquidatable nor a started soft unwinding; `StalePrice` for a
/// market whose index is stale; a missing price; `Overflow`.
// Each argument is a separate piece of state the round reads or moves money between.
#[allow(clippy::too_many_arguments)]
pub fn unwind_round(
    mode: Mode,
    scope: Scope,
    lending: &Account,
    perp: &mut PerpAccount,
    risk: &RiskSnapshot,
    perps: &PerpSnapshot,
    markets: &mut [PerpMarketState],
    books: &mut impl Books,
) -> Result<Round, PerpError> {
    let start = Exposure::of(scope, lending, perp, risk, perps)?;
    if !start.is_liquidatable() && mode != (Mode::Soft { started: true }) {
        return Err(PerpError::NotLiquidatable);
    }
    let mut round = Round::default();
    for market in by_risk(scope, perp, perps)? {
        let exposure = Exposure::of(scope, lending, perp, risk, perps)?;
        let r = perps.get(market)?;
        let p = &r.params;
        if r.stale {
            return Err(PerpError::StalePrice(market));
        }
        let gap = exposure.gap(p.unwind_target)?;
        if gap.raw() <= 0 && mode != Mode::Hard {
            break;
        }
        let Some(pos) = perp.position(market) else {
            continue;
        };
        let hit = if pos.is_long() { Side::Bid } else { Side::Ask };
        let Some(book) = books.side_for(market, hit) else {
            continue;
        };
        let (q, limit) = if mode == Mode::Hard {
            let q = pos.abs_size();
            (q, bankruptcy_limit(exposure.equity, q, r, hit)?)
        } else {
            let tolerance = chunk_limit(r.index, p.slippage_tolerance, hit)?;
            let q = chunk_size(
                gap.positive_part(),
                pos.abs_size(),
                r,
                book.absorbable(tolerance),
            )?;
            let bankrupt = bankruptcy_limit(exposure.equity, q, r, hit)?;
            let tighter = if hit == Side::Bid {
                tolerance.max(bankrupt)
            } else {
                tolerance.min(bankrupt)
            };
            (q, tighter)
        };
        if q.is_zero() {
            continue;
        }
        let fill = book.take(q, limit, p.decimals)?;
        if fill.size.is_zero() {
            continue;
        }
        let signed = i128::try_from(fill.size.raw()).map_err(|_| MathError::Overflow)?;
        let size = if hit == Side::Bid { -signed } else { signed };
        let fee = fill
            .notional
            .mul_ratio(p.liquidation_fee, Rounding::Up)?
            .min(equity_after(exposure.equity, &fill, r, hit)?.positive_part());
        let fill_ = Fill {
            size,
            notional: fill.notional,
        };
        perp.trade(market, fill_, fee, r.cumulative_funding)?;
        let state = &mut markets[market.index()];
        let to_liquidator = state.split_liquidation_fee(fee, p.liquidator_share)?;
        round.chunks.push(ChunkFill {
            market,
            size,
            notional: fill.notional,
            limit,
            worst_price: fill.worst_price.unwrap_or(limit),
            mark: r.mark,
            fee,
            fee_to_liquidator: to_liquidator,
        });
    }
    let end = Exposure::of(scope, lending, perp, risk, perps)?;
    let target = perps_target(scope, perp, perps)?;
    round.done = end.maintenance.is_zero() || (mode != Mode::Hard && end.gap(target)?.raw() <= 0);
    Ok(round)
}

/// The unwind target that applies to the scope (the strictest of its markets').
fn perps_target(
    scope: Scope,
    perp: &PerpAccount,
    perps: &PerpSnapshot,
) -> Result<Ratio, PerpError> {
    let mut target = Ratio::ZERO;
    for pos in in_scope(scope, perp) {
        target = target.max(perps.get(pos.market)?.params.unwind_target);
    }
    Ok(target)
}

fn in_scope(scope: Scope, perp: &PerpAccount) -> impl Iterator<Item = &super::PerpPosition> {
    perp.positions().iter().filter(move |p| match scope {
        Scope::Cross => p.isolated.is_none(),
        Scope::Isolated(m) => p.market == m,
    })
}

/// The scope's markets by maintenance requirement, largest first (ties: lower market id).
pub(crate) fn by_risk(
    scope: Scope,
    perp: &PerpAccount,
    perps: &PerpSnapshot,
) -> Result<Vec<PerpMarketId>, PerpError> {
    let mut ranked = Vec::new();
    for pos in in_scope(scope, perp) {
        let pm = super::PositionMargin::of(pos, perps.get(pos.market)?)?;
        ranked.push((pm.maintenance, pos.market));
    }
    ranked.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    Ok(ranked.into_iter().map(|(_, m)| m).collect())
}

/// `q = ⌈G / (m · k)⌉` to the lot, capped by the position, the chunk cap (at least one lot) and
/// what the book holds within the tolerance (down to the lot).
fn chunk_size(
    gap: Value,
    open: Amount,
    r: &super::PerpRisk,
    absorbable: Amount,
) -> Result<Amount, MathError> {
    let p = &r.params;
    let k = p
        .base_tier()
        .initial
        .mul(p.unwind_target, Rounding::Down)?
        .saturating_sub(p.slippage_tolerance)
        .saturating_sub(p.liquidation_fee);
    let unit = p.decimals.unit();
    let needed = if k.is_zero() || r.mark.is_zero() {
        open.raw()
    } else {
        let per_unit = Value::from_raw(r.mark.raw()).mul_ratio(k, Rounding::Down)?;
        if per_unit.is_zero() {
            open.raw()
        } else {
            mul_div(gap.raw(), unit, per_unit.raw(), Rounding::Up)?
        }
    };
    let needed = to_lot(needed, p.lot_size, true);
    let cap = if r.mark.is_zero() {
        open.raw()
    } else {
        mul_div(
            p.chunk_notional_max.raw(),
            unit,
            r.mark.raw(),
            Rounding::Down,
        )?
    };
    let cap = to_lot(cap, p.lot_size, false).max(p.lot_size.raw());
    let book = to_lot(absorbable.raw(), p.lot_size, false);
    // The last lot of a position may be smaller than a lot (a position opened off-lot is not
    // left with dust): `open` itself bounds it.
    let q = needed.min(cap).min(open.raw());
    let q = if q == open.raw() {
        q.min(absorbable.raw())
    } else {
        q.min(book)
    };
    Ok(Amount::from_raw(q))
}

/// The worst price at which `q` may fill without taking the scope's equity below zero: a sale
/// no lower than `m − E/q` (rounded up), a purchase no higher than `m + E/q` (rounded down);
/// with no positive equity, the mark itself.
fn bankruptcy_limit(
    equity: SignedValue,
    q: Amount,
    r: &super::PerpRisk,
    hit: Side,
) -> Result<Price, MathError> {
    if q.is_zero() {
        return Ok(r.mark);
    }
    let unit = r.params.decimals.unit();
    Ok(match hit {
        Side::Bid => {
            let per = mul_div(equity.positive_part().raw(), unit, q.raw(), Rounding::Down)?;
            Price::from_raw(r.mark.raw().saturating_sub(per))
        }
        Side::Ask => {
            let per = mul_div(equity.positive_part().raw(), unit, q.raw(), Rounding::Down)?;
            Price::from_raw(r.mark.raw().checked_add(per).ok_or(MathError::Overflow)?)
        }
    })
}

/// Equity after a chunk, before its fee, at most the exact figure: closing at the mark leaves
/// equity unchanged, so only the fill's distance from the mark moves it — `N − q·m` for a
/// sale, `q·m − N` for a purchase, the mark value rounded so the estimate is never above.
fn equity_after(
    before: SignedValue,
    fill: &super::BookFill,
    r: &super::PerpRisk,
    hit: Side,
) -> Result<SignedValue, MathError> {
    let d = r.params.decimals;
    match hit {
        Side::Bid => {
            before
                .plus(fill.notional)?
                .minus(fill.size.value_at(r.mark, d, Rounding::Up)?)
        }
        Side::Ask => before
            .plus(fill.size.value_at(r.mark, d, Rounding::Down)?)?
            .minus(fill.notional),
    }
}
