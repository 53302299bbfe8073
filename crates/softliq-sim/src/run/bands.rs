//! Band conversion (`llamma`) in a run: each borrower's collateral leaves the pool for its bands
//! (core `bands::Loan`, one loan per collateral asset, the debt split by value); the debt stays
//! in the pool and accrues. Each step the AMM's oracle, an exponential moving average of the
//! market price, moves in `substeps` updates; after each, arbitrageurs trade every band to the
//! market (the venue's price) through the core's `Loan::arbitrage`, sell the collateral they
//! bought into the venue, and buy at the external price what they sell to the bands. After
//! the substeps, a borrower whose band health is below zero is hard-liquidated when it pays a
//! liquidator: it repays the whole debt and takes every band's two balances.
//!
//! Booking, at the external prices: collateral leaving the bands less the debt asset paid in
//! (and the reverse) is the borrower's loss; the arbitrageur's gain is what it sold for less
//! what it paid and its cost. Responses (borrower top-ups) are not modelled for band loans.

use softliq_core::asset::AssetId;
use softliq_core::bands::{BandError, Loan, Swap};
use softliq_core::money::muldiv::mul_div;
use softliq_core::money::{Amount, Ratio, Rounding, WAD};

use super::liquidators::{signed, value_down};
use super::{Run, wad_price};
use crate::error::{Result, SimError};
use crate::ledger::{Holder, Ledger};
use crate::scenario::BandsSpec;

/// The most oracle updates in one step.
/// Band arbitrage and hard liquidations are done by the cheapest bot (bot 0): the searcher
/// that wins such races on chain.
const ARBITRAGEUR: usize = 0;
const SUBSTEPS_MAX: f64 = 2_000.0;

/// Band tokens that came in and went out, per asset, in 18-decimal units: the conservation
/// check of a band run.
#[derive(Clone, Copy, Debug, Default)]
struct Moved {
    start: u128,
    to_arbitrageurs: u128,
    from_arbitrageurs: u128,
    hard: u128,
}

pub(super) struct BandRun {
    spec: BandsSpec,
    debt: AssetId,
    /// Per borrower, its loans: (collateral asset, bands).
    loans: Vec<Vec<(AssetId, Loan)>>,
    /// The AMM's oracle per asset, in debt-asset units per token.
    p_o: Vec<f64>,
    /// Per asset: collateral (y) moved; and the debt asset (x), indexed by the debt asset.
    y: Vec<Moved>,
    x: Moved,
}

/// What borrower `i` owes in `debt`, rounded up.
fn owed(ledger: &Ledger, i: usize, debt: AssetId) -> Result<Amount> {
    let shares = ledger.borrowers[i].position(debt).debt;
    let index = ledger.pools[debt.index()].borrow_index();
    Ok(shares.to_amount(index, Rounding::Up)?)
}

/// `10^(18 − decimals)`: base units to 18-decimal units.
fn scale(ledger: &Ledger, asset: AssetId) -> u128 {
    10u128.pow(u32::from(
        18 - ledger.assets[asset.index()].params().decimals.get(),
    ))
}

impl BandRun {
    /// Moves every borrower's collateral into bands at `prices` (USD, the first step's).
    pub(super) fn new(
        ledger: &mut Ledger,
        spec: BandsSpec,
        debt: AssetId,
        prices: &[f64],
    ) -> Result<Self> {
        let n_assets = ledger.assets.len();
        let p_o: Vec<f64> = prices.iter().map(|p| p / prices[debt.index()]).collect();
        let mut y = vec![Moved::default(); n_assets];
        let mut loans = Vec::with_capacity(ledger.borrowers.len());
        for i in 0..ledger.borrowers.len() {
            let owed = owed(ledger, i, debt)?.raw() * scale(ledger, debt);
            let mut held = Vec::new();
            for a in (0..n_assets)
                .map(AssetId::from_index)
                .filter(|a| *a != debt)
            {
                let amount = ledger.withdraw_all(i, a)?;
                if !amount.is_zero() {
                    let tokens = amount.raw() * scale(ledger, a);
                    y[a.index()].start += tokens;
                    held.push((a, tokens, tokens as f64 * p_o[a.index()]));
                }
            }
            let total: f64 = held.iter().map(|h| h.2).sum();
            let mut mine = Vec::new();
            for (a, tokens, value) in held {
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                let part = (owed as f64 * value / total).ceil() as u128;
                let p = wad_price(p_o[a.index()]).raw();
                let loan = match Loan::open(tokens, part, p, p, &spec.params) {
                    Err(BandError::TooMuchDebt { .. }) => Loan::highest(tokens, p, p, &spec.params),
                    other => other,
                }
                .map_err(|e| SimError::accounting(format!("borrower {i}: bands: {e}")))?;
                mine.push((a, loan));
            }
            loans.push(mine);
        }
        Ok(Self {
            spec,
            debt,
            loans,
            p_o,
            y,
            x: Moved::default(),
        })
    }

    /// Checks that every band token is in a band or went out through a recorded trade.
    pub(super) fn check(&self) -> Result<()> {
        let mut y_now = vec![0u128; self.y.len()];
        let mut x_now = 0u128;
        for loans in &self.loans {
            for (a, loan) in loans {
                let (x, y) = loan.totals();
                y_now[a.index()] += y;
                x_now += x;
            }
        }
        for (a, m) in self.y.iter().enumerate() {
            let expected = m.start + m.from_arbitrageurs - m.to_arbitrageurs - m.hard;
            if y_now[a] != expected {
                return Err(SimError::accounting(format!(
                    "asset {a}: bands hold {} of collateral, the trades leave {expected}",
                    y_now[a]
                )));
            }
        }
        let expected = self.x.from_arbitrageurs - self.x.to_arbitrageurs - self.x.hard;
        if x_now != expected {
            return Err(SimError::accounting(format!(
                "bands hold {x_now} of the debt asset, the trades leave {expected}"
            )));
        }
        Ok(())
    }
}

/// Whether no arbitrage can touch `loan` at `p_o`: all collateral with the price at or above its
/// top band, or all debt asset with the price at or below its bottom band. Checked on the end
/// bands first (bands fill from the top down as the price falls), so most loans cost two reads.
fn idle(loan: &Loan, p_o: u128, a: u32) -> bool {
    let (Some(top), Some(bottom)) = (loan.bands.first(), loan.bands.last()) else {
        return true;
    };
    if p_o >= top.p_up && top.x == 0 && bottom.x == 0 {
        return loan.bands.iter().all(|b| b.x == 0);
    }
    if p_o <= bottom.p_down(a) && top.y == 0 && bottom.y == 0 {
        return loan.bands.iter().all(|b| b.y == 0);
    }
    false
}

impl Run<'_> {
    /// USD (signed WAD) of `tokens` 18-decimal units at `price` USD.
    fn band_value(tokens: u128, price: f64, rounding: Rounding) -> Result<i128> {
        let v = mul_div(tokens, wad_price(price).raw(), WAD, rounding)?;
        i128::try_from(v).map_err(|_| SimError::accounting("value beyond i128"))
    }

    /// One step of a band market: the oracle's substeps with arbitrage after each, then hard
    /// liquidations, then the count of accounts below zero health.
    pub(super) fn bands_step(&mut self, t: usize, fair: &[f64], oracle: &[f64]) -> Result<()> {
        let Some(mut b) = self.bands.take() else {
            return Ok(());
        };
        let result = self.bands_step_with(&mut b, t, fair, oracle);
        self.bands = Some(b);
        result
    }

    fn bands_step_with(
        &mut self,
        b: &mut BandRun,
        t: usize,
        fair: &[f64],
        oracle: &[f64],
    ) -> Result<()> {
        let times = &self.spec.path.times_s;
        let dt = times[t].saturating_sub(times[t.saturating_sub(1)]) as f64;
        let d = b.debt.index();
        let market: Vec<f64> = oracle.iter().map(|p| p / oracle[d]).collect();
        let a = b.spec.params.a;
        // The oracle moves in updates of at most a quarter band (`1 / (4A)` in log price), as a
        // per-block EMA would: an oracle that jumps past bands sells them far below the market
        // (docs/liquidation.md), which no real smoothed oracle does.
        let whole = if b.spec.ema_s == 0 {
            1.0
        } else {
            1.0 - (-dt / b.spec.ema_s as f64).exp()
        };
        let moved = b
            .p_o
            .iter()
            .zip(&market)
            .filter(|(p_o, _)| **p_o > 0.0)
            .map(|(p_o, p_m)| ((p_o + (p_m - p_o) * whole) / p_o).ln().abs())
            .fold(0.0, f64::max);
        let k = (moved * 4.0 * f64::from(a))
            .ceil()
            .clamp(f64::from(b.spec.substeps), SUBSTEPS_MAX);
        let alpha = if b.spec.ema_s == 0 {
            1.0
        } else {
            1.0 - (-dt / k / b.spec.ema_s as f64).exp()
        };
        for _ in 0..b.spec.substeps {
            for (p_o, p_m) in b.p_o.iter_mut().zip(&market) {
                *p_o += (p_m - *p_o) * alpha;
            }
            let mut swaps = vec![Swap::default(); b.y.len()];
            for (i, loans) in b.loans.iter_mut().enumerate() {
                for (asset, loan) in loans.iter_mut() {
                    let c = asset.index();
                    let p_o = wad_price(b.p_o[c]).raw();
                    if idle(loan, p_o, a) {
                        continue;
                    }
                    let s = loan.arbitrage(p_o, wad_price(market[c]).raw(), &b.spec.params)?;
                    if s != Swap::default() {
                        self.touched[i] = true;
                        self.loss_by_borrower[i] += Self::swap_loss(&s, fair, c, b.debt.index())?;
                        let t = &mut swaps[c];
                        t.x_in += s.x_in;
                        t.y_out += s.y_out;
                        t.y_in += s.y_in;
                        t.x_out += s.x_out;
                    }
                }
            }
            for (c, s) in swaps.iter().enumerate() {
                if *s != Swap::default() {
                    self.book_band_trade(b, AssetId::from_index(c), s, (fair, oracle))?;
                }
            }
        }
        self.hard_liquidations(b, fair, oracle)
    }

    /// What a loan's borrower lost in one swap with arbitrageurs, at the external prices
    /// (collateral out less debt asset in, plus debt asset out less collateral in), rounded as
    /// [`Self::book_band_trade`] rounds the same figures summed over loans.
    fn swap_loss(s: &Swap, fair: &[f64], c: usize, d: usize) -> Result<i128> {
        let x_in = Self::band_value(s.x_in, fair[d], Rounding::Up)?;
        let x_out = Self::band_value(s.x_out, fair[d], Rounding::Down)?;
        let y_out = Self::band_value(s.y_out, fair[c], Rounding::Down)?;
        let y_in = Self::band_value(s.y_in, fair[c], Rounding::Up)?;
        Ok((y_out - x_in) + (x_out - y_in))
    }

    /// Books one substep's arbitrage on asset `c`'s bands: the collateral bought is sold into
    /// the venue, the collateral sold to the bands bought at the external price.
    fn book_band_trade(
        &mut self,
        b: &mut BandRun,
        c: AssetId,
        s: &Swap,
        (fair, oracle): (&[f64], &[f64]),
    ) -> Result<()> {
        let (ci, d) = (c.index(), b.debt.index());
        let cost = signed(self.bots.cost(ARBITRAGEUR))?;
        let x_in = Self::band_value(s.x_in, fair[d], Rounding::Up)?;
        let x_out = Self::band_value(s.x_out, fair[d], Rounding::Down)?;
        let y_out_fair = Self::band_value(s.y_out, fair[ci], Rounding::Down)?;
        let y_out_oracle = Self::band_value(s.y_out, oracle[ci], Rounding::Down)?;
        let y_in_fair = Self::band_value(s.y_in, fair[ci], Rounding::Up)?;
        let y_in_oracle = Self::band_value(s.y_in, oracle[ci], Rounding::Up)?;
        let proceeds = if s.y_out > 0 {
            let usd = self.venue.sell(ci, s.y_out as f64 / 1e18, fair[ci]);
            signed(value_down(usd))?
        } else {
            0
        };
        let sums = &mut self.sums;
        sums.borrower_loss += (y_out_fair - x_in) + (x_out - y_in_fair);
        sums.penalty += (y_out_oracle - x_in) + (x_out - y_in_oracle);
        sums.slippage += y_out_fair - proceeds;
        sums.liquidator_profit += (proceeds - x_in) + (x_out - y_in_fair) - cost;
        sums.liquidator_costs += cost;
        sums.repaid += x_in;
        self.metrics.calls += 1;
        b.y[ci].to_arbitrageurs += s.y_out;
        b.y[ci].from_arbitrageurs += s.y_in;
        b.x.from_arbitrageurs += s.x_in;
        b.x.to_arbitrageurs += s.x_out;
        Ok(())
    }

    /// Borrowers whose band health is below zero: hard-liquidated when repaying the debt for
    /// the bands' balances pays a liquidator; counted underwater either way.
    fn hard_liquidations(&mut self, b: &mut BandRun, fair: &[f64], oracle: &[f64]) -> Result<()> {
        let d = b.debt;
        let keep = Ratio::ONE.checked_sub(b.spec.params.liquidation_discount)?;
        let cost = signed(self.bots.cost(ARBITRAGEUR))?;
        for i in 0..b.loans.len() {
            if b.loans[i].is_empty() {
                continue;
            }
            let owed = owed(&self.ledger, i, d)?;
            let owed18 = owed.raw() * scale(&self.ledger, d);
            let mut x_down = 0u128;
            for (c, loan) in &b.loans[i] {
                x_down += loan.x_down(wad_price(b.p_o[c.index()]).raw(), b.spec.params.a)?;
            }
            if mul_div(x_down, keep.raw(), WAD, Rounding::Down)? >= owed18 {
                continue;
            }
            self.underwater_steps += 1;
            // What the liquidator would get: every band's debt asset, and the collateral sold.
            let mut x = 0u128;
            let mut quote = 0.0;
            for (c, loan) in &b.loans[i] {
                let (bx, by) = loan.totals();
                x += bx;
                {
                    quote += self
                        .venue
                        .quote_sell(c.index(), by as f64 / 1e18, fair[c.index()]);
                }
            }
            let debt_value = self.fair_value(d, owed, fair, Rounding::Up)?;
            let x_value = Self::band_value(x, fair[d.index()], Rounding::Down)?;
            let profit = (x_value - debt_value) as f64 / 1e18 + quote;
            if !self.bots.pays(ARBITRAGEUR, profit, 0.0) || owed.is_zero() {
                continue;
            }
            self.ledger.repay(Holder::Borrower(i), d, owed)?;
            let (mut y_fair, mut y_oracle, mut proceeds) = (0i128, 0i128, 0i128);
            for (c, loan) in std::mem::take(&mut b.loans[i]) {
                let (bx, by) = loan.totals();
                let ci = c.index();
                b.x.hard += bx;
                b.y[ci].hard += by;
                y_fair += Self::band_value(by, fair[ci], Rounding::Down)?;
                y_oracle += Self::band_value(by, oracle[ci], Rounding::Down)?;
                let usd = self.venue.sell(ci, by as f64 / 1e18, fair[ci]);
                proceeds += signed(value_down(usd))?;
            }
            self.loss_by_borrower[i] += x_value + y_fair - debt_value;
            let s = &mut self.sums;
            s.borrower_loss += x_value + y_fair - debt_value;
            s.penalty += x_value + y_oracle - debt_value;
            s.slippage += y_fair - proceeds;
            s.liquidator_profit += x_value + proceeds - debt_value - cost;
            s.liquidator_costs += cost;
            s.repaid += debt_value;
            self.metrics.calls += 1;
            self.metrics.accounts_closed_out += 1;
            self.touched[i] = true;
        }
        Ok(())
    }

    /// Debt beyond what the bands hold, at the last external prices, over open band loans.
    pub(super) fn band_shortfall(&self, fair: &[f64]) -> Result<f64> {
        let Some(b) = &self.bands else {
            return Ok(0.0);
        };
        let d = b.debt;
        let mut shortfall = 0.0;
        for (i, loans) in b.loans.iter().enumerate() {
            let owed = owed(&self.ledger, i, d)?;
            if owed.is_zero() {
                continue;
            }
            let debt = self.fair_value(d, owed, fair, Rounding::Up)?;
            let mut held = 0i128;
            for (c, loan) in loans {
                let (x, y) = loan.totals();
                held += Self::band_value(x, fair[d.index()], Rounding::Down)?;
                held += Self::band_value(y, fair[c.index()], Rounding::Down)?;
            }
            shortfall += crate::metrics::usd((debt - held).max(0));
        }
        b.check()?;
        Ok(shortfall)
    }
}
