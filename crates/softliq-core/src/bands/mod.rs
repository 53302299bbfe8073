//! Band conversion (Curve's LLAMMA, the crvUSD design): a loan's collateral is spread over `N`
//! price bands below its liquidation line, and as the oracle price falls through a band,
//! arbitrageurs buy the band's collateral for the debt asset at the band's price plus a fee,
//! and sell it back as the price rises. A loan is hard-liquidated only when its band health
//! falls below zero.
//!
//! Units. Every amount is a token amount scaled to 18 decimals (`x`: the debt asset, `y`: the
//! collateral), every price a WAD count of debt tokens per collateral token; the caller scales
//! base units (exactly: decimals ≤ 18) and USD prices (`p_c / p_d`).
//!
//! The grid: band `n` spans oracle prices `p_down(n) = p_up(n + 1) < p_o ≤ p_up(n)`, with
//! `p_up(n + 1) = ⌊p_up(n) · (A − 1) / A⌋` from the grid's base, so each band is `1/A` wide and
//! neighbours share their edge exactly.
//!
//! Inside a band the AMM keeps the invariant `(f + x) · (g + y) = I = p_o · A² · y0²` with
//! `f = A · y0 · p_o² / p_up` and `g = (A − 1) · y0 · p_up / p_o`; `y0` (the collateral the band
//! would hold at `p_o = p_up` with no debt asset) solves the quadratic
//! `p_o·A·y0² − y0·(p_up/p_o·(A − 1)·x + p_o²/p_up·A·y) − x·y = 0`, and the AMM's price is
//! `(f + x) / (g + y)`. At fixed composition the AMM price moves as `p_o³`, so when the oracle
//! falls the band offers its collateral below the market and arbitrageurs buy it until the
//! AMM's price, less the fee, meets the market's. The derivations are in docs/liquidation.md.
//!
//! Rounding, in the band's (the borrower's) favour: what leaves a band rounds down and what an
//! arbitrageur pays in rounds up.

#[cfg(test)]
mod tests;

use ruint::aliases::U512;

use crate::money::muldiv::quotient;
use crate::money::{MathError, Ratio, Rounding, WAD};

/// Why a band operation was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BandError {
    #[error(transparent)]
    Math(#[from] MathError),
    #[error("debt: even the bands just below the price cannot back it ({max_debt} at most)")]
    TooMuchDebt { max_debt: u128 },
    #[error("collateral: too little to put {min} in each of the bands")]
    TooLittleCollateral { min: u128 },
    #[error("price: must be greater than zero")]
    ZeroPrice,
}

/// A band market's parameters (crvUSD's names).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BandParams {
    /// Band density: each band is `1/A` of its top price wide.
    pub a: u32,
    /// The AMM's fee on what an arbitrageur pays in.
    pub fee: Ratio,
    /// Haircut on the bands' value when a loan is opened (the maximum LTV).
    pub loan_discount: Ratio,
    /// Haircut on the bands' value for health: a loan is hard-liquidatable when
    /// `x_down · (1 − liquidation_discount) < debt`.
    pub liquidation_discount: Ratio,
    /// Bands per loan.
    pub n_bands: u32,
}

/// The most bands a loan may span, and the most bands scanned to place one (Curve's limits).
pub const BANDS_MAX: u32 = 50;
const SCAN_MAX: usize = 1_024;
/// The least collateral per band, in 18-decimal units (Curve refuses under 100).
pub const Y_PER_BAND_MIN: u128 = 100;

impl BandParams {
    /// crvUSD's WETH market: A = 100, a 0.6% fee, 9% loan discount, 6% liquidation discount,
    /// ten bands.
    #[must_use]
    pub const fn crvusd_eth() -> Self {
        Self {
            a: 100,
            fee: Ratio::from_raw(6 * WAD / 1_000),
            loan_discount: Ratio::from_raw(9 * WAD / 100),
            liquidation_discount: Ratio::from_raw(6 * WAD / 100),
            n_bands: 10,
        }
    }

    /// # Errors
    /// The first parameter out of bounds, named.
    pub fn validate(&self) -> Result<(), crate::asset::ParamError> {
        use crate::asset::ParamError;
        if !(10..=10_000).contains(&self.a) {
            return Err(ParamError::new("bands.a", "10 <= a <= 10000", self.a));
        }
        if self.fee > Ratio::from_raw(WAD / 10) {
            return Err(ParamError::new("bands.fee", "0 <= fee <= 0.1", self.fee));
        }
        if self.liquidation_discount >= Ratio::from_raw(WAD / 2) {
            return Err(ParamError::new(
                "bands.liquidation_discount",
                "0 <= liquidation_discount < 0.5",
                self.liquidation_discount,
            ));
        }
        if self.loan_discount < self.liquidation_discount
            || self.loan_discount >= Ratio::from_raw(WAD / 2)
        {
            return Err(ParamError::new(
                "bands.loan_discount",
                "liquidation_discount <= loan_discount < 0.5",
                self.loan_discount,
            ));
        }
        if !(4..=BANDS_MAX).contains(&self.n_bands) {
            return Err(ParamError::new(
                "bands.n_bands",
                "4 <= n_bands <= 50",
                self.n_bands,
            ));
        }
        Ok(())
    }
}

/// One band of one loan: its top oracle price and its two balances.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Band {
    pub p_up: u128,
    pub x: u128,
    pub y: u128,
}

/// A loan's bands, highest price first (consecutive on the grid).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Loan {
    pub bands: Vec<Band>,
}

/// What one arbitrage pass exchanged with a loan's bands.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Swap {
    /// Debt asset paid into the bands and collateral taken out (the price fell).
    pub x_in: u128,
    pub y_out: u128,
    /// Collateral sold to the bands and debt asset taken out (the price rose).
    pub y_in: u128,
    pub x_out: u128,
}

fn u(v: u128) -> U512 {
    U512::from(v)
}

fn w() -> U512 {
    U512::from(WAD)
}

fn narrow(v: U512) -> Result<u128, MathError> {
    quotient(v, U512::from(1u8), Rounding::Down)
}

/// `⌊√v⌋` by Newton's method from a power of two above the root (integers only).
fn isqrt(v: U512) -> U512 {
    if v.is_zero() {
        return v;
    }
    let bits = 512 - v.leading_zeros();
    let mut x = U512::from(1u8) << bits.div_ceil(2);
    loop {
        let next = (x + v / x) >> 1;
        if next >= x {
            return x;
        }
        x = next;
    }
}

/// `p · (A − 1) / A`, rounded down: the next band's top.
#[must_use]
pub fn next_down(p: u128, a: u32) -> u128 {
    let a = u128::from(a);
    p / a * (a - 1) + p % a * (a - 1) / a
}

/// The band's invariant terms at oracle price `p_o`: `(y0, f, g)`, each rounded down.
struct Curve {
    f: U512,
    g: U512,
    y0: U512,
}

impl Curve {
    fn of(b: &Band, p_o: u128, a: u32) -> Curve {
        let (a, am1) = (u(u128::from(a)), u(u128::from(a) - 1));
        let (x, y, p_o, p_up) = (u(b.x), u(b.y), u(p_o), u(b.p_up));
        // b = p_up·(A−1)·x/p_o + A·p_o²·y/(p_up·WAD), in x-units.
        let lin = p_up * am1 * x / p_o + a * p_o * p_o * y / (p_up * w());
        let y0 = if b.x > 0 && b.y > 0 {
            let d = lin * lin + u(4) * a * p_o * y / w() * x;
            (lin + isqrt(d)) * w() / (u(2) * a * p_o)
        } else {
            lin * w() / (a * p_o)
        };
        let f = a * y0 * p_o * p_o / (p_up * w());
        let g = am1 * y0 * p_up / p_o;
        Curve { f, g, y0 }
    }

    fn invariant(&self, b: &Band) -> U512 {
        (self.f + u(b.x)) * (self.g + u(b.y))
    }

    /// The AMM's price `(f + x) / (g + y)` of band `b` on this curve, rounded down; `None` when
    /// the denominator is zero.
    fn price(&self, b: &Band) -> Result<Option<u128>, MathError> {
        let den = self.g + u(b.y);
        if den.is_zero() {
            return Ok(None);
        }
        Ok(Some(narrow((self.f + u(b.x)) * w() / den)?))
    }
}

impl Band {
    /// The band's bottom oracle price, the next band's top.
    #[must_use]
    pub fn p_down(&self, a: u32) -> u128 {
        next_down(self.p_up, a)
    }

    /// The AMM's price in this band at oracle price `p_o` (`get_p`), rounded down; `None` for
    /// an empty band.
    ///
    /// # Errors
    /// `Overflow` for balances beyond the ledger's.
    pub fn price(&self, p_o: u128, a: u32) -> Result<Option<u128>, MathError> {
        if (self.x == 0 && self.y == 0) || p_o == 0 || self.p_up == 0 {
            return Ok(None);
        }
        Curve::of(self, p_o, a).price(self)
    }

    /// The debt asset this band would hold once the oracle price has fallen to its bottom along
    /// the invariant: `y0 · p_down`, with `y0` taken at `p_o` clamped into the band (a band
    /// above the price holds only `x` and keeps it; a band below holds only `y`).
    ///
    /// # Errors
    /// `Overflow` for balances beyond the ledger's.
    pub fn x_down(&self, p_o: u128, a: u32) -> Result<u128, MathError> {
        let p_down = self.p_down(a);
        let clamped = p_o.clamp(p_down.max(1), self.p_up);
        let c = Curve::of(self, clamped, a);
        narrow(c.y0 * u(p_down) / w())
    }

    /// Trades the band, as arbitrageurs do, until its AMM price (less the fee on what they pay
    /// in) meets `p_market`, or the band is all one asset. Returns what moved.
    fn arbitrage(
        &mut self,
        p_o: u128,
        p_market: u128,
        a: u32,
        fee: Ratio,
    ) -> Result<Swap, MathError> {
        let mut swap = Swap::default();
        if (self.x == 0 && self.y == 0) || p_o == 0 || self.p_up == 0 || p_market == 0 {
            return Ok(swap);
        }
        let keep = w() - u(fee.raw());
        let c = Curve::of(self, p_o, a);
        // The AMM's price, as `price` computes it, from the same curve.
        let Some(p_amm) = c.price(self)? else {
            return Ok(swap);
        };
        let inv = c.invariant(self);
        // Buy collateral while `p_amm / (1 − fee) < p_market`.
        let pump_to = u(p_market) * keep / w();
        let dump_to = u(p_market) * w() / keep;
        if self.y > 0 && u(p_amm) < pump_to {
            // The target composition: f + x' = √(I·P), g + y' = √(I/P); y' ≥ 0.
            let gy = isqrt(inv * w() / pump_to);
            let (x_target, y_target) = if gy > c.g {
                (
                    isqrt(inv * pump_to / w()).saturating_sub(c.f) + u(1),
                    gy - c.g + u(1),
                )
            } else {
                (inv.div_ceil(c.g.max(u(1))).saturating_sub(c.f), U512::ZERO)
            };
            let y_target = narrow(y_target)?.min(self.y);
            let x_target = narrow(x_target)?.max(self.x);
            let y_out = self.y - y_target;
            if y_out > 0 {
                let x_in = quotient(u(x_target - self.x) * w(), keep, Rounding::Up)?.max(1);
                self.y = y_target;
                self.x = self.x.checked_add(x_in).ok_or(MathError::Overflow)?;
                swap.x_in = x_in;
                swap.y_out = y_out;
            }
        } else if self.x > 0 && u(p_amm) > dump_to {
            let fx = isqrt(inv * dump_to / w());
            let (x_target, y_target) = if fx > c.f {
                (
                    fx - c.f + u(1),
                    isqrt(inv * w() / dump_to).saturating_sub(c.g) + u(1),
                )
            } else {
                (U512::ZERO, inv.div_ceil(c.f.max(u(1))).saturating_sub(c.g))
            };
            let x_target = narrow(x_target)?.min(self.x);
            let y_target = narrow(y_target)?.max(self.y);
            let x_out = self.x - x_target;
            if x_out > 0 {
                let y_in = quotient(u(y_target - self.y) * w(), keep, Rounding::Up)?.max(1);
                self.x = x_target;
                self.y = self.y.checked_add(y_in).ok_or(MathError::Overflow)?;
                swap.y_in = y_in;
                swap.x_out = x_out;
            }
        }
        Ok(swap)
    }
}

impl Loan {
    /// Places collateral `y` backing `debt` in `params.n_bands` consecutive bands of the grid
    /// whose band 0 tops at `base`: the lowest bands whose value at their bottoms, less the
    /// loan discount, still covers the debt, and all below the band of `p_o`. The first band
    /// takes the remainder of the even split.
    ///
    /// # Errors
    /// `TooMuchDebt` when even the bands just below `p_o` cannot back the debt;
    /// `TooLittleCollateral` under [`Y_PER_BAND_MIN`] per band; `ZeroPrice`.
    pub fn open(
        y: u128,
        debt: u128,
        p_o: u128,
        base: u128,
        params: &BandParams,
    ) -> Result<Self, BandError> {
        let (mut tops, first, per) = Self::grid(y, p_o, base, params)?;
        let n = params.n_bands as usize;
        // Bands n1 .. n1 + n − 1 are worth `per · Σ bottoms · (1 − loan_discount)` at their
        // bottoms; the lowest start that still covers the debt is the loan's (a sliding sum).
        let keep = u(WAD - params.loan_discount.raw());
        let covered = |sum: u128| quotient(u(per) * u(sum) / w() * keep, w(), Rounding::Down);
        let mut sum: u128 = tops[first + 1..=first + n].iter().sum();
        if covered(sum)? < debt {
            return Err(BandError::TooMuchDebt {
                max_debt: covered(sum)?,
            });
        }
        let mut n1 = first;
        while n1 < first + SCAN_MAX {
            tops.push(next_down(tops[tops.len() - 1], params.a));
            let next = sum - tops[n1 + 1] + tops[n1 + n + 1];
            if covered(next)? < debt {
                break;
            }
            sum = next;
            n1 += 1;
        }
        Ok(Self::place(y, per, &tops[n1..n1 + n]))
    }

    /// Places collateral `y` in the `params.n_bands` bands just below `p_o`, whatever the debt:
    /// a loan too large for [`Loan::open`] (it starts hard-liquidatable or close to it).
    ///
    /// # Errors
    /// As [`Loan::open`], but never `TooMuchDebt`.
    pub fn highest(y: u128, p_o: u128, base: u128, params: &BandParams) -> Result<Self, BandError> {
        let (tops, first, per) = Self::grid(y, p_o, base, params)?;
        Ok(Self::place(
            y,
            per,
            &tops[first..first + params.n_bands as usize],
        ))
    }

    /// The grid's tops from `base` down to the first below `p_o` (index `first`, the first band
    /// wholly below the price) and `n_bands` more, and the even share of `y` per band.
    fn grid(
        y: u128,
        p_o: u128,
        base: u128,
        params: &BandParams,
    ) -> Result<(Vec<u128>, usize, u128), BandError> {
        if p_o == 0 || base == 0 {
            return Err(BandError::ZeroPrice);
        }
        let n = params.n_bands as usize;
        let per = y / n as u128;
        if per < Y_PER_BAND_MIN {
            return Err(BandError::TooLittleCollateral {
                min: Y_PER_BAND_MIN * n as u128,
            });
        }
        let mut tops = vec![base];
        while tops[tops.len() - 1] >= p_o && tops.len() < SCAN_MAX {
            tops.push(next_down(tops[tops.len() - 1], params.a));
        }
        let first = tops.len() - 1;
        while tops.len() < first + n + 1 {
            tops.push(next_down(tops[tops.len() - 1], params.a));
        }
        Ok((tops, first, per))
    }

    /// `y` over bands topping at `tops`, the first taking the remainder of the even split.
    fn place(y: u128, per: u128, tops: &[u128]) -> Self {
        let rest = y - per * (tops.len() as u128 - 1);
        let bands = tops
            .iter()
            .enumerate()
            .map(|(k, &p_up)| Band {
                p_up,
                x: 0,
                y: if k == 0 { rest } else { per },
            })
            .collect();
        Self { bands }
    }

    /// Σ [`Band::x_down`]: what the loan's bands would hold in the debt asset once the price
    /// has fallen through all of them.
    ///
    /// # Errors
    /// `Overflow` for balances beyond the ledger's.
    pub fn x_down(&self, p_o: u128, a: u32) -> Result<u128, MathError> {
        self.bands.iter().try_fold(0u128, |acc, b| {
            acc.checked_add(b.x_down(p_o, a)?)
                .ok_or(MathError::Overflow)
        })
    }

    /// Whether the loan may be hard-liquidated: `x_down · (1 − liquidation_discount) < debt`
    /// (Curve's health below zero).
    ///
    /// # Errors
    /// `Overflow` for balances beyond the ledger's.
    pub fn is_hard_liquidatable(
        &self,
        debt: u128,
        p_o: u128,
        params: &BandParams,
    ) -> Result<bool, MathError> {
        let keep = Ratio::ONE.checked_sub(params.liquidation_discount)?;
        let x = quotient(
            u(self.x_down(p_o, params.a)?) * u(keep.raw()),
            w(),
            Rounding::Down,
        )?;
        Ok(x < debt)
    }

    /// The loan's collateral and debt asset across its bands.
    #[must_use]
    pub fn totals(&self) -> (u128, u128) {
        self.bands
            .iter()
            .fold((0, 0), |(x, y), b| (x + b.x, y + b.y))
    }

    /// Arbitrages every band against `p_market` at oracle price `p_o` and returns the total
    /// exchanged.
    ///
    /// # Errors
    /// `Overflow` for balances beyond the ledger's.
    pub fn arbitrage(
        &mut self,
        p_o: u128,
        p_market: u128,
        params: &BandParams,
    ) -> Result<Swap, MathError> {
        let mut total = Swap::default();
        let mut next = self.clone();
        for band in &mut next.bands {
            let s = band.arbitrage(p_o, p_market, params.a, params.fee)?;
            total.x_in += s.x_in;
            total.y_out += s.y_out;
            total.y_in += s.y_in;
            total.x_out += s.x_out;
        }
        *self = next;
        Ok(total)
    }
}
