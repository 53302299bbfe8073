//! A float mirror of every borrower's shares, for the per-step scan.
//!
//! A year of hourly steps over 100,000 borrowers is 876 million account-steps; exact health in
//! 256-bit integers for each would take minutes. The scan instead estimates each account in
//! `f64` from the mirrored shares and per-asset factors, in parallel, and hands the exact core
//! code every account not clearly above the threshold. Factors, margin and verdict are core's
//! float pre-check (`softliq_core::health::estimate`, the rule the engine's detection uses, with
//! its error proof), computed from the exact snapshot's prices, so an account whose exact HF is
//! below the threshold is never missed (a property test checks it against `Health::of`); every
//! decision that moves money is then taken on the exact ledger. The mirror is refreshed from
//! the ledger after every change to an account.

use rayon::prelude::*;
use softliq_core::account::Account;
use softliq_core::asset::Asset;
use softliq_core::health::AssetRisk;
use softliq_core::health::estimate::{self, Estimate};
use softliq_core::pool::Pool;

use crate::run::wad_price;

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
    /// The positions' margin of an account holding both sides of every asset: an upper bound
    /// of any account's (core's `position_slack`), so one figure serves the whole scan.
    pub positions_slack: f64,
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

    /// The factors at `prices` (USD per token, one per asset), each rounded to the exact
    /// snapshot's price first, as the ledger's snapshot rounds it.
    #[must_use]
    pub fn new(assets: &[Asset], pools: &[Pool], prices: &[f64]) -> Self {
        let mut out = Self {
            collateral: Vec::new(),
            debt: Vec::new(),
            supply_value: Vec::new(),
            debt_value: Vec::new(),
            positions_slack: 0.0,
        };
        for ((asset, pool), &price) in assets.iter().zip(pools).zip(prices) {
            let f = estimate::Factors::of(&AssetRisk::new(asset, pool, wad_price(price)));
            out.supply_value.push(f.supply_value);
            out.collateral.push(f.collateral);
            out.debt_value.push(f.debt_value);
            out.debt.push(f.debt);
            out.positions_slack += f.position_slack(true, true);
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

    /// Account `i`'s approximate HF when it may be below `threshold`; `None` only when its
    /// estimate is clear above it by more than the estimate's error.
    #[must_use]
    pub fn below(&self, i: usize, factors: &Factors, threshold: f64) -> Option<f64> {
        let (c, d) = self.weighted(i, factors);
        may_be_below((c, d), factors, threshold).then(|| hf(c, d))
    }

    /// Approximate HF of account `i` (infinite without debt).
    #[must_use]
    pub fn health(&self, i: usize, factors: &Factors) -> f64 {
        let (c, d) = self.weighted(i, factors);
        hf(c, d)
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

    /// The accounts that may be below `threshold` (core's estimate is not clear above it), in
    /// index order, scanning in parallel. The result does not depend on the number of threads.
    #[must_use]
    pub fn scan(&self, factors: &Factors, threshold: f64) -> ScanResult {
        let w = self.width;
        let parts: Vec<ScanResult> = self
            .supply
            .par_chunks(CHUNK * w)
            .zip(self.debt.par_chunks(CHUNK * w))
            .enumerate()
            .map(|(chunk, (supply, debt))| {
                let mut part = ScanResult::default();
                for (k, (s, d)) in supply.chunks_exact(w).zip(debt.chunks_exact(w)).enumerate() {
                    let sums = weighted(s, d, factors);
                    let hf = hf(sums.0, sums.1);
                    if may_be_below(sums, factors, threshold) {
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

/// Approximate HF from the weighted sums (infinite without debt).
#[inline]
fn hf(c: f64, d: f64) -> f64 {
    if d > 0.0 { c / d } else { f64::INFINITY }
}

/// Whether weighted sums `(c, d)` may be below `threshold`: false only when core's estimate
/// is clear above it by more than its error.
#[inline]
fn may_be_below((c, d): (f64, f64), factors: &Factors, threshold: f64) -> bool {
    Estimate::new(c, d, factors.positions_slack, d > 0.0)
        .is_none_or(|e| e.below(threshold) != Some(false))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use softliq_core::account::Account;
    use softliq_core::asset::{Asset, AssetId};
    use softliq_core::health::{Health, RiskSnapshot};
    use softliq_core::money::{Ratio, Shares};
    use softliq_core::pool::Pool;
    use softliq_core::testing::stable_params;

    use super::{Factors, Screen};
    use crate::run::wad_price;

    fn asset(id: u16, decimals: u8, lt_pct: u128) -> Asset {
        let mut p = stable_params(decimals);
        p.liquidation_threshold = Ratio::from_raw(lt_pct * 10u128.pow(16));
        p.collateral_factor = Ratio::from_raw((lt_pct - 5) * 10u128.pow(16));
        Asset::new(AssetId(id), format!("A{id}"), p).expect("params")
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3_000))]

        /// The scan never misses an account whose exact HF is below the threshold: accounts of
        /// any size, from a few base units up, placed on, near and far from the line, against
        /// the liquidation line and the response buffers above it.
        #[test]
        fn the_scan_never_misses_an_account_below_the_threshold(
            decimals in prop::sample::select(vec![0u8, 6, 8, 18]),
            debt_decimals in prop::sample::select(vec![0u8, 6, 18]),
            price_exp in -6i32..6,
            price_mantissa in 1.0f64..10.0,
            debt_price in 0.5f64..2.0,
            lt_pct in 50u128..95,
            threshold in prop::sample::select(vec![1.0f64, 1.05, 1.5]),
            supply in prop_oneof![1u128..1_000, 1u128..1_000_000_000_000_000_000_000_000],
            offset in prop_oneof![Just(0i128), -3i128..=3, -1_000_000i128..1_000_000],
        ) {
            let assets = [asset(0, decimals, lt_pct), asset(1, debt_decimals, 80)];
            let pools = [Pool::new(0), Pool::new(0)];
            let prices = [price_mantissa * 10f64.powi(price_exp), debt_price];
            let factors = Factors::new(&assets, &pools, &prices);
            // Debt shares that put the estimate on the threshold, moved by `offset` shares (or
            // a millionth of them).
            let per_debt_share = factors.collateral[0] / (factors.debt[1] * threshold);
            let on_line = ((supply as f64 * per_debt_share) as i128).min(10i128.pow(33));
            let debt = on_line
                .saturating_add(offset.saturating_mul(1 + on_line / 1_000_000_000))
                .max(1);
            let mut account = Account::new();
            account.add_supply(AssetId(0), Shares::from_raw(supply)).expect("supply");
            account.add_debt(AssetId(1), Shares::from_raw(debt as u128)).expect("debt");
            let exact_prices: Vec<_> = prices.iter().map(|&p| Some(wad_price(p))).collect();
            let snapshot = RiskSnapshot::of_market(&assets, &pools, &exact_prices);
            let Ok(health) = Health::of(&account, &snapshot) else {
                return Ok(());
            };
            let below = health.health_factor().is_some_and(|hf| hf < wad_ratio(threshold));
            let screen = Screen::new(std::slice::from_ref(&account), 2);
            let flagged = !screen.scan(&factors, threshold).flagged.is_empty();
            prop_assert!(!below || flagged, "exact {:?} below {threshold}, not flagged", health.health_factor());
            prop_assert_eq!(flagged, screen.below(0, &factors, threshold).is_some());
        }
    }

    fn wad_ratio(x: f64) -> Ratio {
        Ratio::parse("t", &format!("{x}")).expect("ratio")
    }
}
