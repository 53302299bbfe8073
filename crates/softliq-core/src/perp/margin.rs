//! Unified margin: one account, lending positions and perp positions, one health number.
//!
//! ```text
//! perp equity      pe = cash + Σ_cross (uPnL_i − funding_owed_i)
//! maintenance eq.  Em = C − D + pe          (C, D: the lending side, docs/risk-model.md)
//! initial eq.      Ei = B − D + pe          (B: borrowing power, collateral at cf)
//! requirements     IM = Σ_cross im(|size_i| · mark_i),  MM = Σ_cross mm(|size_i| · mark_i)
//! health factor    HF = (C + pe⁺) / (D + MM + pe⁻)      (= C / D with no perps)
//! liquidatable     D + MM + pe⁻ > 0 and ≥ C + pe⁺       (⇔ Em ≤ MM)
//! may open / withdraw only if Ei ≥ IM
//! ```
//!
//! The lending side counts collateral at its liquidation weights and debt at its borrow
//! weights, so a perp position may be margined by lending collateral and one health number
//! decides. A lending-only account gets exactly its lending HF; a perp-only account gets
//! `(cash + uPnL)⁺ / (MM + losses)`, which crosses 1 where equity crosses MM. The line is
//! the lending line `HF ≤ 1` (equity ≤ MM) for the whole account; the perp rule's strict `equity <
//! MM` is the same line but for exact equality, and one account cannot have two lines.
//!
//! Rounding, against the account: a long's mark value rounds down and a short's up; funding
//! owed rounds up and funding due down; requirements are taken on the notional rounded up, and
//! an account's IM and MM are the exact sums of every position's bracket terms rounded up once
//! (as the lending side's `B`, `C` and `D` are).

use std::sync::Arc;

use crate::account::Account;
use crate::health::{RiskSnapshot, Totals};
use crate::money::{Decimals, MathError, Price, Ratio, Rounding, SignedValue, Value, WeightedSum};

use super::{PerpAccount, PerpError, PerpMarketId, PerpParams, PerpPosition};

/// What margin needs to know about one perp market at one moment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PerpRisk {
    pub mark: Price,
    /// The oracle price (for slippage bounds and funding), from the index asset.
    pub index: Price,
    pub cumulative_funding: SignedValue,
    pub params: Arc<PerpParams>,
    /// A stale index may value an account for display but never liquidate it.
    pub stale: bool,
}

impl PerpRisk {
    #[must_use]
    pub fn decimals(&self) -> Decimals {
        self.params.decimals
    }
}

/// Every perp market's [`PerpRisk`], by [`PerpMarketId`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PerpSnapshot {
    markets: Vec<Option<PerpRisk>>,
}

impl PerpSnapshot {
    #[must_use]
    pub const fn new() -> Self {
        Self {
            markets: Vec::new(),
        }
    }

    pub fn set(&mut self, market: PerpMarketId, risk: PerpRisk) {
        if self.markets.len() <= market.index() {
            self.markets.resize(market.index() + 1, None);
        }
        self.markets[market.index()] = Some(risk);
    }

    /// # Errors
    /// `MissingMarket` when the market is unknown or has no mark.
    #[inline]
    pub fn get(&self, market: PerpMarketId) -> Result<&PerpRisk, PerpError> {
        self.markets
            .get(market.index())
            .and_then(Option::as_ref)
            .ok_or(PerpError::MissingMarket(market))
    }

    /// Mutable access, for the liquidation-price solver's what-if marks.
    pub(crate) fn get_mut(&mut self, market: PerpMarketId) -> Option<&mut PerpRisk> {
        self.markets
            .get_mut(market.index())
            .and_then(Option::as_mut)
    }

    /// Every market with a mark, with its id.
    pub fn iter(&self) -> impl Iterator<Item = (PerpMarketId, &PerpRisk)> {
        self.markets.iter().enumerate().filter_map(|(i, r)| {
            r.as_ref()
                .map(|r| (PerpMarketId(u16::try_from(i).unwrap_or(u16::MAX)), r))
        })
    }
}

/// One position valued at its market's mark.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PositionMargin {
    pub market: PerpMarketId,
    /// `|size| · mark`, rounded up (requirements are taken on it).
    pub notional: Value,
    /// Unrealised PnL at the mark, rounded against the position.
    pub upnl: SignedValue,
    /// Funding owed since the position last settled (negative: due to it).
    pub funding_owed: SignedValue,
    pub initial: Value,
    pub maintenance: Value,
}

impl PositionMargin {
    /// Values one position at `risk`.
    ///
    /// # Errors
    /// `Overflow`.
    #[inline]
    pub fn of(pos: &PerpPosition, risk: &PerpRisk) -> Result<Self, MathError> {
        let (notional, upnl, funding_owed) = value(pos, risk)?;
        let (initial, maintenance) = risk.params.requirements(notional)?;
        Ok(Self {
            market: pos.market,
            notional,
            upnl,
            funding_owed,
            initial,
            maintenance,
        })
    }

    /// `uPnL − funding owed`: what closing at the mark would add to the wallet.
    ///
    /// # Errors
    /// `Overflow`.
    pub fn pnl(&self) -> Result<SignedValue, MathError> {
        self.upnl.checked_sub(self.funding_owed)
    }
}

/// A position's notional at the mark (rounded up), its unrealised PnL (a long's mark value
/// rounded down, a short's up) and the funding it owes: one product and division for the mark
/// value's two roundings, one for the funding.
#[inline]
fn value(
    pos: &PerpPosition,
    risk: &PerpRisk,
) -> Result<(Value, SignedValue, SignedValue), MathError> {
    let d = risk.decimals();
    let (value, notional) = pos.abs_size().value_at_down_up(risk.mark, d)?;
    let upnl = if pos.size >= 0 {
        SignedValue::positive(value)?.minus(pos.basis)?
    } else {
        SignedValue::positive(pos.basis)?.minus(notional)?
    };
    let owed = if pos.funding_index == risk.cumulative_funding {
        SignedValue::ZERO
    } else {
        pos.funding_owed(risk.cumulative_funding, d)?
    };
    Ok((notional, upnl, owed))
}

/// The account's cross margin at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Margin {
    /// `C` of the lending side (rounded down).
    pub liquidation_collateral: Value,
    /// `D` of the lending side (rounded up).
    pub weighted_debt: Value,
    /// The exact sum behind `B`, rounded down only by [`Margin::borrowing_power`]: the
    /// liquidation check never needs it, so it costs no division there.
    borrowing_power_sum: WeightedSum,
    /// `cash + Σ_cross (uPnL − funding owed)`.
    pub perp_equity: SignedValue,
    /// Σ of cross positions' notionals at the mark.
    pub notional: Value,
    /// The exact terms behind IM, rounded up only by [`Margin::initial`] (the liquidation check
    /// does not need it).
    initial_sum: WeightedSum,
    /// MM: every position's bracket terms summed exactly, rounded up once.
    pub maintenance: Value,
}

impl Margin {
    /// Computes the account's cross margin in one pass over each side.
    ///
    /// # Errors
    /// A lending asset or perp market without a price; `Overflow`.
    #[inline]
    pub fn of(
        lending: &Account,
        perp: &PerpAccount,
        risk: &RiskSnapshot,
        perps: &PerpSnapshot,
    ) -> Result<Self, PerpError> {
        let mut m = Self {
            perp_equity: perp.cash,
            ..Self::default()
        };
        if !lending.positions().is_empty() {
            let t = Totals::of(lending, risk)?;
            m.liquidation_collateral = t.liquidation_collateral()?;
            m.weighted_debt = t.weighted_debt()?;
            m.borrowing_power_sum = t.borrowing_power_sum();
        }
        let mut maintenance = WeightedSum::ZERO;
        for pos in perp.positions() {
            if pos.isolated.is_some() {
                continue;
            }
            let risk = perps.get(pos.market)?;
            let (notional, upnl, owed) = value(pos, risk)?;
            m.perp_equity = m.perp_equity.checked_add(upnl.checked_sub(owed)?)?;
            m.notional = m.notional.checked_add(notional)?;
            let p = &risk.params;
            p.add_requirement(notional, |t| t.initial, &mut m.initial_sum)?;
            p.add_requirement(notional, |t| t.maintenance, &mut maintenance)?;
        }
        m.maintenance = maintenance.total(Rounding::Up)?;
        Ok(m)
    }

    /// IM, rounded up.
    ///
    /// # Errors
    /// `Overflow`.
    pub fn initial(&self) -> Result<Value, MathError> {
        self.initial_sum.total(Rounding::Up)
    }

    /// `B` of the lending side, rounded down.
    ///
    /// # Errors
    /// `Overflow`.
    pub fn borrowing_power(&self) -> Result<Value, MathError> {
        self.borrowing_power_sum.total(Rounding::Down)
    }

    /// `Em = C − D + pe`.
    ///
    /// # Errors
    /// `Overflow`.
    pub fn maintenance_equity(&self) -> Result<SignedValue, MathError> {
        SignedValue::positive(self.liquidation_collateral)?
            .minus(self.weighted_debt)?
            .checked_add(self.perp_equity)
    }

    /// `Ei = B − D + pe`.
    ///
    /// # Errors
    /// `Overflow`.
    pub fn initial_equity(&self) -> Result<SignedValue, MathError> {
        SignedValue::positive(self.borrowing_power()?)?
            .minus(self.weighted_debt)?
            .checked_add(self.perp_equity)
    }

    /// `C + pe⁺`.
    ///
    /// # Errors
    /// `Overflow`.
    pub fn assets(&self) -> Result<Value, MathError> {
        self.liquidation_collateral
            .checked_add(self.perp_equity.positive_part())
    }

    /// `D + MM + pe⁻`.
    ///
    /// # Errors
    /// `Overflow`.
    pub fn liabilities(&self) -> Result<Value, MathError> {
        self.weighted_debt
            .checked_add(self.maintenance)?
            .checked_add(self.perp_equity.negative_part())
    }

    /// `HF = assets / liabilities`, rounded down; `None` with no liabilities (infinite).
    #[must_use]
    pub fn health_factor(&self) -> Option<Ratio> {
        let l = self.liabilities().unwrap_or(Value::MAX);
        if l.is_zero() {
            return None;
        }
        let a = self.assets().unwrap_or(Value::ZERO);
        Some(a.ratio_to(l, Rounding::Down).unwrap_or(Ratio::MAX))
    }

    /// `RL = liabilities / assets`, rounded up; 0 with no liabilities.
    #[must_use]
    pub fn risk_level(&self) -> Ratio {
        let l = self.liabilities().unwrap_or(Value::MAX);
        if l.is_zero() {
            return Ratio::ZERO;
        }
        let a = self.assets().unwrap_or(Value::ZERO);
        l.ratio_to(a, Rounding::Up).unwrap_or(Ratio::MAX)
    }

    /// Liabilities > 0 and ≥ assets, compared exactly (⇔ `Em ≤ MM`).
    #[must_use]
    pub fn is_liquidatable(&self) -> bool {
        match (self.liabilities(), self.assets()) {
            (Ok(l), Ok(a)) => !l.is_zero() && l >= a,
            _ => true,
        }
    }

    /// `Ei ≥ IM`: what every trade that adds risk, and every withdrawal, must leave true.
    #[must_use]
    pub fn meets_initial(&self) -> bool {
        self.initial_equity().is_ok_and(|e| {
            self.initial()
                .and_then(SignedValue::positive)
                .is_ok_and(|im| e >= im)
        })
    }
}

/// An isolated position's own margin: its wallet plus its PnL against its own requirements.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IsolatedMargin {
    pub position: PositionMargin,
    /// `margin + uPnL − funding owed`.
    pub equity: SignedValue,
}

impl IsolatedMargin {
    /// The isolated position in `market`, if the account has one.
    ///
    /// # Errors
    /// A market without a mark; `Overflow`.
    pub fn of(
        perp: &PerpAccount,
        market: PerpMarketId,
        perps: &PerpSnapshot,
    ) -> Result<Option<Self>, PerpError> {
        let Some(pos) = perp.position(market) else {
            return Ok(None);
        };
        let Some(wallet) = pos.isolated else {
            return Ok(None);
        };
        let pm = PositionMargin::of(pos, perps.get(market)?)?;
        Ok(Some(Self {
            position: pm,
            equity: wallet.checked_add(pm.pnl()?)?,
        }))
    }

    /// `equity ≤ MM` with a position open.
    #[must_use]
    pub fn is_liquidatable(&self) -> bool {
        !self.position.notional.is_zero()
            && SignedValue::positive(self.position.maintenance).is_ok_and(|mm| self.equity <= mm)
    }
}
