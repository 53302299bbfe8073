//! A float mirror of every borrower's shares, for the per-step scan.
//!
//! A year of hourly steps over 100,000 borrowers is 876 million account-steps; exact health in
//! 256-bit integers for each would take minutes. The scan instead computes an approximate HF in
//! `f64` from the mirrored shares and per-asset factors (price × weight × index / 10^decimals),
//! in parallel, and hands only accounts below a threshold (times `1 + SCREEN_MARGIN`) to the
//! exact core code. Share counts below 2^53 are exact in `f64` and larger ones carry a relative
//! error under 10⁻¹⁵, so an account whose exact HF is at or below the threshold is never missed;
//! every decision that moves money is then taken on the exact ledger. The mirror is refreshed
//! from the ledger after every change to an account.

use rayon::prelude::*;
use softliq_core::account::Account;
use softliq_core::asset::Asset;
use softliq_core::pool::Pool;

/// Relative slack of the float screen (far above its rounding error).
pub const SCREEN_MARGIN: f64 = 1e-9;
/// Accounts per parallel task.
const CHUNK: usize = 4_096;

#[derive(Clone, Debug)]
pub struct Screen {
    width: usize,
    supply: Vec<f64>,
    debt: Vec<f64>,
}

/// Per-asset multipliers turning shares into weighted USD at this step's prices and indices.
#[derive(Clone, Debug)]
pub struct Factors {
    /// `price · lt · supply_index / RAY / 10^decimals`.
    pub collateral: Vec<f64>,
    /// `price · bw · borrow_index / RAY / 10^decimals`.
    pub debt: Vec<f64>,
    /// `price · supply_index / RAY / 10^decimals` (plain collateral value).
    pub supply_value: Vec<f64>,
    /// `price · borrow_index / RAY / 10^decimals` (plain debt value).
    pub debt_value: Vec<f64>,
}

/// One account the scan flagged: its index and approximate HF.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Flagged {
    pub index: u32,
    pub hf: f64,
}

/// What one scan found.
#[derive(Clone, Debug, Default)]
pub struct ScanResult {
    /// Accounts below the threshold, in index order.
    pub flagged: Vec<Flagged>,
    /// Accounts with HF below 1 (liquidatable), for the time-underwater statistic.
    pub underwater: u64,
}

#[allow(clippy::cast_precision_loss)]
fn f(x: u128) -> f64 {
    x as f64
}

impl Factors {
    /// Approximate (collateral value, debt value) of an account outside the screen (the
    /// treasury's).
    #[must_use]
    pub fn values(&self, account: &Account) -> (f64, f64) {
        account.positions().iter().fold((0.0, 0.0), |(c, d), p| {
            let a = p.asset.index();
            (
                c + f(p.supply.raw()) * self.supply_value[a],
                d + f(p.debt.raw()) * self.debt_value[a],
            )
        })
    }

    /// The factors at `prices` (USD per token, one per asset).
    #[must_use]
    pub fn new(assets: &[Asset], pools: &[Pool], prices: &[f64]) -> Self {
        let ray = 1e27;
        let mut out = Self {
            collateral: Vec::new(),
            debt: Vec::new(),
            supply_value: Vec::new(),
            debt_value: Vec::new(),
        };
        for ((asset, pool), &price) in assets.iter().zip(pools).zip(prices) {
            let p = asset.params();
            let unit = 10f64.powi(i32::from(p.decimals.get()));
            let si = f(pool.supply_index().raw()) / ray;
            let bi = f(pool.borrow_index().raw()) / ray;
            let value = price * si / unit;
            out.supply_value.push(value);
            out.collateral
                .push(value * p.liquidation_threshold.to_f64());
            out.debt_value.push(price * bi / unit);
            out.debt.push(price * bi / unit * p.borrow_weight.to_f64());
        }
        out
    }
}

impl Screen {
    /// A mirror of `accounts` over `width` assets.
    #[must_use]
    pub fn new(accounts: &[Account], width: usize) -> Self {
        let mut screen = Self {
            width,
            supply: vec![0.0; accounts.len() * width],
            debt: vec![0.0; accounts.len() * width],
        };
        for (i, account) in accounts.iter().enumerate() {
            screen.refresh(i, account);
        }
        screen
    }

    /// Copies account `i`'s shares from the ledger.
    pub fn refresh(&mut self, i: usize, account: &Account) {
        let row = i * self.width..(i + 1) * self.width;
        self.supply[row.clone()].fill(0.0);
        self.debt[row].fill(0.0);
        for p in account.positions() {
            let k = i * self.width + p.asset.index();
            self.supply[k] = f(p.supply.raw());
            self.debt[k] = f(p.debt.raw());
        }
    }

    /// Approximate HF of account `i` (infinite without debt).
    #[must_use]
    pub fn health(&self, i: usize, factors: &Factors) -> f64 {
        let (c, d) = self.weighted(i, factors);
        if d > 0.0 { c / d } else { f64::INFINITY }
    }

    /// Approximate (liquidation-weighted collateral, weighted debt) of account `i`.
    #[must_use]
    pub fn weighted(&self, i: usize, factors: &Factors) -> (f64, f64) {
        let row = i * self.width..(i + 1) * self.width;
        weighted(&self.supply[row.clone()], &self.debt[row], factors)
    }

    /// The collateral asset of account `i` with the largest weighted value.
    #[must_use]
    pub fn largest_collateral(&self, i: usize, factors: &Factors) -> Option<usize> {
        largest(
            &self.supply[i * self.width..(i + 1) * self.width],
            &factors.collateral,
        )
    }

    /// Approximate plain (collateral value, debt value) of account `i`.
    #[must_use]
    pub fn values(&self, i: usize, factors: &Factors) -> (f64, f64) {
        let row = i * self.width..(i + 1) * self.width;
        let (s, d) = (&self.supply[row.clone()], &self.debt[row]);
        let mut out = (0.0, 0.0);
        for a in 0..self.width {
            out.0 += s[a] * factors.supply_value[a];
            out.1 += d[a] * factors.debt_value[a];
        }
        out
    }

    /// The accounts whose approximate HF is below `threshold · (1 + SCREEN_MARGIN)`, in index
    /// order, scanning in parallel. The result does not depend on the number of threads.
    #[must_use]
    pub fn scan(&self, factors: &Factors, threshold: f64) -> ScanResult {
        let w = self.width;
        let limit = threshold * (1.0 + SCREEN_MARGIN);
        let parts: Vec<ScanResult> = self
            .supply
            .par_chunks(CHUNK * w)
            .zip(self.debt.par_chunks(CHUNK * w))
            .enumerate()
            .map(|(chunk, (supply, debt))| {
                let mut part = ScanResult::default();
                for (k, (s, d)) in supply.chunks_exact(w).zip(debt.chunks_exact(w)).enumerate() {
                    let hf = hf(s, d, factors);
                    if hf < limit {
                        let index = u32::try_from(chunk * CHUNK + k).unwrap_or(u32::MAX);
                        part.flagged.push(Flagged { index, hf });
                    }
                    if hf < 1.0 {
                        part.underwater += 1;
                    }
                }
                part
            })
            .collect();
        let mut out = ScanResult::default();
        for part in parts {
            out.flagged.extend(part.flagged);
            out.underwater += part.underwater;
        }
        out
    }
}

/// The asset of `row` (shares per asset) with the largest `row[a] · factor[a]`.
fn largest(row: &[f64], factor: &[f64]) -> Option<usize> {
    (0..row.len())
        .filter(|&a| row[a] > 0.0)
        .max_by(|&x, &y| (row[x] * factor[x]).total_cmp(&(row[y] * factor[y])))
}

#[inline]
fn weighted(supply: &[f64], debt: &[f64], factors: &Factors) -> (f64, f64) {
    let (mut c, mut d) = (0.0, 0.0);
    for a in 0..supply.len() {
        c += supply[a] * factors.collateral[a];
        d += debt[a] * factors.debt[a];
    }
    (c, d)
}

#[inline]
fn hf(supply: &[f64], debt: &[f64], factors: &Factors) -> f64 {
    let (c, d) = weighted(supply, debt, factors);
    if d > 0.0 { c / d } else { f64::INFINITY }
}
