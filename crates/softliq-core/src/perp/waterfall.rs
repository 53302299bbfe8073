//! After soft unwinding: the backstop, the insurance fund and auto-deleveraging.
//!
//! 1. **Backstop** (when equity falls below `backstop_line · MM`, or the book absorbed nothing
//!    for `empty_rounds_max` rounds): the scope's positions are transferred to the backstop
//!    vault at the mark. If the trader's wallet is still positive, the vault keeps up to the
//!    transferred positions' maintenance requirement as its price for taking the risk (the
//!    rest stays with the trader): Hyperliquid's vault keeps the remaining margin; capping it
//!    at MM leaves a cross account's other margin alone.
//! 2. **Insurance**: a wallet left negative and not backed by the account's lending net worth
//!    (collateral value − debt value) is bankrupt by that much; the market's insurance fund
//!    pays it in, as far as it holds.
//! 3. **Auto-deleveraging**: what the fund cannot pay is taken from the most profitable
//!    opposite positions. The vault closes the position it just took against them at the mark,
//!    and each pays a haircut, pro rata to the size closed and never more than the profit it
//!    realises on it (so ADL never turns a winner into a loser). Ranking: `uPnL / basis ×
//!    notional / equity` (profit % × leverage, Binance and Hyperliquid's order), ties by the
//!    order given. A position on the bankrupt side is never touched.
//! 4. What ADL cannot cover is written off in the same step: the wallet is brought back to
//!    zero and the market books it as bad debt (a loss the market's traders bear together).
//!
//! Every step moves money between wallets by the same exact integer, so the conservation sum
//! of [`PerpAccount::quote`](super::PerpAccount::quote) holds through all of it.

use crate::money::{Amount, MathError, Ratio, Rounding, Value, muldiv::mul_div};

use super::{Fill, PerpAccount, PerpError, PerpMarketId, PerpMarketState, PerpSnapshot, Scope};

/// A position moved to the vault.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transfer {
    pub market: PerpMarketId,
    /// Signed size the vault took (the trader's size).
    pub size: i128,
    pub notional: Value,
}

/// One counterparty deleveraged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AdlFill {
    pub market: PerpMarketId,
    /// Index of the counterparty in the slice given.
    pub counterparty: usize,
    /// Size closed, base units.
    pub size: Amount,
    pub haircut: Value,
}

/// What the backstop and the waterfall did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Backstop {
    pub transfers: Vec<Transfer>,
    /// Margin the vault kept.
    pub margin_to_vault: Value,
    pub insurance_paid: Value,
    pub adl: Vec<AdlFill>,
    /// Loss nobody covered, written off as the market's bad debt.
    pub bad_debt: Value,
}

/// Runs the backstop on `scope`: transfer at the mark to `vault`, then insurance, then ADL
/// against `counterparties`. `lending_net_worth` is the account's lending collateral value less
/// its debt value (zero when negative): what still backs a negative perp wallet. Funding must
/// be settled first.
///
/// # Errors
/// A missing price; `StalePrice`; `Overflow`.
pub fn backstop(
    scope: Scope,
    perp: &mut PerpAccount,
    lending_net_worth: Value,
    perps: &PerpSnapshot,
    markets: &mut [PerpMarketState],
    vault: &mut PerpAccount,
    counterparties: &mut [&mut PerpAccount],
) -> Result<Backstop, PerpError> {
    let mut out = Backstop::default();
    let cash_before = perp.cash;
    let mut maintenance = Value::ZERO;
    let taken: Vec<_> = perp
        .positions()
        .iter()
        .filter(|p| match scope {
            Scope::Cross => p.isolated.is_none(),
            Scope::Isolated(m) => p.market == m,
        })
        .copied()
        .collect();
    for pos in &taken {
        let r = perps.get(pos.market)?;
        if r.stale {
            return Err(PerpError::StalePrice(pos.market));
        }
        let pm = super::PositionMargin::of(pos, r)?;
        maintenance = maintenance.checked_add(pm.maintenance)?;
        // The trader sells a long at the mark rounded down and buys back a short rounded up.
        let rounding = if pos.is_long() {
            Rounding::Down
        } else {
            Rounding::Up
        };
        let notional = pos.abs_size().value_at(r.mark, r.decimals(), rounding)?;
        let cum = r.cumulative_funding;
        settle(perp, pos.market, r, markets)?;
        settle(vault, pos.market, r, markets)?;
        perp.trade(
            pos.market,
            Fill {
                size: -pos.size,
                notional,
            },
            Value::ZERO,
            cum,
        )?;
        vault.trade(
            pos.market,
            Fill {
                size: pos.size,
                notional,
            },
            Value::ZERO,
            cum,
        )?;
        out.transfers.push(Transfer {
            market: pos.market,
            size: pos.size,
            notional,
        });
    }
    // What the closed scope left in its wallet: the whole cash for the cross scope; for an
    // isolated position, its own margin, which closing returned to the cash (a deficit there
    // is the position's alone and is not charged to the cross cash).
    let wallet = match scope {
        Scope::Cross => perp.cash,
        Scope::Isolated(_) => perp.cash.checked_sub(cash_before)?,
    };
    if wallet.raw() > 0 {
        let kept = wallet.positive_part().min(maintenance);
        perp.cash = perp.cash.minus(kept)?;
        vault.cash = vault.cash.plus(kept)?;
        out.margin_to_vault = kept;
        return Ok(out);
    }
    let backing = match scope {
        Scope::Cross => lending_net_worth,
        Scope::Isolated(_) => Value::ZERO,
    };
    let mut loss = wallet.negative_part().saturating_sub(backing);
    for t in &out.transfers {
        if loss.is_zero() {
            break;
        }
        let fund = &mut markets[t.market.index()].insurance_fund;
        let paid = loss.min(*fund);
        *fund = fund.checked_sub(paid)?;
        perp.cash = perp.cash.plus(paid)?;
        out.insurance_paid = out.insurance_paid.checked_add(paid)?;
        loss = loss.checked_sub(paid)?;
    }
    for t in &out.transfers {
        if loss.is_zero() {
            break;
        }
        let r = perps.get(t.market)?;
        let covered = deleverage(
            t,
            r,
            &mut markets[t.market.index()],
            loss,
            perp,
            vault,
            counterparties,
            &mut out.adl,
        )?;
        loss = loss.checked_sub(covered)?;
    }
    // What nobody covered is written off in the same step (the bad-debt rule of lending): the
    // wallet is brought back to zero and the market books the loss as bad debt.
    if let Some(t) = out.transfers.first().filter(|_| !loss.is_zero()) {
        perp.cash = perp.cash.plus(loss)?;
        let state = &mut markets[t.market.index()];
        state.bad_debt = state.bad_debt.checked_add(loss)?;
    }
    out.bad_debt = loss;
    Ok(out)
}

/// Closes the vault's newly taken position `t` against ranked opposite counterparties at the
/// mark, each paying a haircut toward `loss`. Returns what was covered.
#[allow(clippy::too_many_arguments)]
fn deleverage(
    t: &Transfer,
    r: &super::PerpRisk,
    state: &mut PerpMarketState,
    loss: Value,
    bankrupt: &mut PerpAccount,
    vault: &mut PerpAccount,
    counterparties: &mut [&mut PerpAccount],
    adl: &mut Vec<AdlFill>,
) -> Result<Value, PerpError> {
    let ranked = adl_ranking(t.market, t.size > 0, counterparties, r)?;
    let mut size_left = t.size.unsigned_abs();
    let mut loss_left = loss;
    let d = r.decimals();
    for i in ranked {
        if size_left == 0 || loss_left.is_zero() {
            break;
        }
        let c = &mut *counterparties[i];
        let Some(pos) = c.position(t.market).copied() else {
            continue;
        };
        let paid = c.settle_funding(t.market, r.cumulative_funding, r.decimals())?;
        state.book_funding(paid)?;
        let q = pos.size.unsigned_abs().min(size_left);
        let qi = i128::try_from(q).map_err(|_| MathError::Overflow)?;
        // The counterparty closes q at the mark (rounded against it), the vault takes the other
        // side of that fill.
        let (c_size, rounding) = if pos.size > 0 {
            (-qi, Rounding::Down)
        } else {
            (qi, Rounding::Up)
        };
        let notional = Amount::from_raw(q).value_at(r.mark, d, rounding)?;
        let realised = c.trade(
            t.market,
            Fill {
                size: c_size,
                notional,
            },
            Value::ZERO,
            r.cumulative_funding,
        )?;
        vault.trade(
            t.market,
            Fill {
                size: -c_size,
                notional,
            },
            Value::ZERO,
            r.cumulative_funding,
        )?;
        let share = Value::from_raw(mul_div(loss_left.raw(), q, size_left, Rounding::Up)?);
        let haircut = share.min(loss_left).min(realised.positive_part());
        c.cash = c.cash.minus(haircut)?;
        bankrupt.cash = bankrupt.cash.plus(haircut)?;
        loss_left = loss_left.checked_sub(haircut)?;
        size_left -= q;
        adl.push(AdlFill {
            market: t.market,
            counterparty: i,
            size: Amount::from_raw(q),
            haircut,
        });
    }
    Ok(loss.checked_sub(loss_left)?)
}

/// Opposite-side positions in `market` with a profit and positive equity, best first by
/// `uPnL/basis · notional/equity` (ties: lower index). `bankrupt_long` is the side being
/// deleveraged against: only shorts are ranked for a bankrupt long, and vice versa.
///
/// # Errors
/// A missing price; `Overflow`.
pub fn adl_ranking<A: std::ops::Deref<Target = PerpAccount>>(
    market: PerpMarketId,
    bankrupt_long: bool,
    counterparties: &[A],
    r: &super::PerpRisk,
) -> Result<Vec<usize>, PerpError> {
    let mut scored = Vec::new();
    for (i, c) in counterparties.iter().enumerate() {
        let Some(pos) = c.position(market) else {
            continue;
        };
        if pos.size == 0 || (pos.size > 0) == bankrupt_long {
            continue;
        }
        let pm = super::PositionMargin::of(pos, r)?;
        let pnl = pm.pnl()?;
        let equity = match pos.isolated {
            Some(w) => w.checked_add(pnl)?,
            None => c.cash.checked_add(pnl)?,
        };
        if pnl.raw() <= 0 || equity.raw() <= 0 || pos.basis.is_zero() {
            continue;
        }
        let profit_pct = pnl.positive_part().ratio_to(pos.basis, Rounding::Down)?;
        let leverage = pm
            .notional
            .ratio_to(equity.positive_part(), Rounding::Down)?;
        scored.push((
            profit_pct
                .mul(leverage, Rounding::Down)
                .unwrap_or(Ratio::MAX),
            i,
        ));
    }
    scored.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    Ok(scored.into_iter().map(|(_, i)| i).collect())
}

/// Moves to the vault, at the mark, just enough of the scope's largest position to bring it to
/// its unwinding target, and no more: the rest stays with the trader. The vault's price is the
/// market's liquidation fee on the part it takes (capped at the equity left): what a chunk sold
/// to the book would have paid, now paid to whoever takes the risk. This is the soft answer to a book too thin for the tolerance: what the book cannot
/// absorb within it this round leaves the trader's risk now, at the mark, instead of waiting
/// for the next round with the price still moving.
///
/// # Size (derivation)
/// Moving `q` at the mark `m` leaves equity unchanged but for the vault's price `fee · q m` at
/// most, and lowers the target requirement by at least `target · im₀ · q m`, so with gap `G`:
/// `q = ⌈G / (m · (target · im₀ − fee))⌉`, rounded up to the lot and capped by the position
/// (`target · im₀ > tolerance + fee` is checked when the market is listed).
///
/// # Errors
/// A missing price; `StalePrice`; `Overflow`. `Ok(None)` when the scope is at its target.
pub fn transfer_to_target(
    scope: Scope,
    lending: &crate::account::Account,
    perp: &mut PerpAccount,
    risk: &crate::health::RiskSnapshot,
    perps: &PerpSnapshot,
    markets: &mut [PerpMarketState],
    vault: &mut PerpAccount,
) -> Result<Option<Transfer>, PerpError> {
    let exposure = super::Exposure::of(scope, lending, perp, risk, perps)?;
    let Some(&market) = super::unwind::by_risk(scope, perp, perps)?.first() else {
        return Ok(None);
    };
    let r = perps.get(market)?;
    if r.stale {
        return Err(PerpError::StalePrice(market));
    }
    let p = &r.params;
    let gap = exposure.gap(p.unwind_target)?;
    let Some(pos) = perp.position(market).copied() else {
        return Ok(None);
    };
    if gap.raw() <= 0 {
        return Ok(None);
    }
    let tier = p.base_tier();
    let k = tier
        .initial
        .mul(p.unwind_target, Rounding::Down)?
        .saturating_sub(p.liquidation_fee);
    let per_unit = Value::from_raw(r.mark.raw()).mul_ratio(k, Rounding::Down)?;
    let open = pos.size.unsigned_abs();
    let q = if per_unit.is_zero() {
        open
    } else {
        let q = mul_div(
            gap.positive_part().raw(),
            p.decimals.unit(),
            per_unit.raw(),
            Rounding::Up,
        )?;
        super::unwind::to_lot(q, p.lot_size, true).min(open)
    };
    let rounding = if pos.is_long() {
        Rounding::Down
    } else {
        Rounding::Up
    };
    let notional = Amount::from_raw(q).value_at(r.mark, p.decimals, rounding)?;
    let price = notional
        .mul_ratio(p.liquidation_fee, Rounding::Up)?
        .min(exposure.equity.positive_part());
    let size = i128::try_from(q).map_err(|_| MathError::Overflow)?;
    let size = if pos.is_long() { size } else { -size };
    let cum = r.cumulative_funding;
    settle(perp, market, r, markets)?;
    settle(vault, market, r, markets)?;
    perp.trade(
        market,
        Fill {
            size: -size,
            notional,
        },
        price,
        cum,
    )?;
    vault.trade(market, Fill { size, notional }, Value::ZERO, cum)?;
    vault.cash = vault.cash.plus(price)?;
    Ok(Some(Transfer {
        market,
        size,
        notional,
    }))
}

/// Settles `a`'s funding in `market` into its wallet and the market's pool, so that a fill that
/// changes the position's size starts from the current index. The waterfall trades wallets no
/// command touched since the last funding tick (the vault, ADL counterparties): without this,
/// the next settlement would charge the new size for funding accrued on the old one.
fn settle(
    a: &mut PerpAccount,
    market: PerpMarketId,
    r: &super::PerpRisk,
    markets: &mut [PerpMarketState],
) -> Result<(), PerpError> {
    let paid = a.settle_funding(market, r.cumulative_funding, r.decimals())?;
    markets[market.index()].book_funding(paid)?;
    Ok(())
}
