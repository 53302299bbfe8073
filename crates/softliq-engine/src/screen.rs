//! A float pre-check for detection. Most accounts detection looks at (those a command touched,
//! those whose thresholds a price move crossed) stay on the side of the line they were on, and
//! the exact `Health::of` (256-bit products, three weighted sums) costs far more than a float
//! estimate from the account's shares. The estimate decides only when it is clear by more than
//! its worst error; otherwise the exact check decides. So detection's results are exactly the
//! exact check's — a property test compares them with a full exact scan.
//!
//! # The error bound
//! Per position, the exact check turns shares into tokens (rounded down for supply, up for
//! debt: at most one base unit, worth `price / 10^decimals` times the weight), values them
//! (one wei) and weights them (one wei), then rounds each total once (one wei). The estimate
//! multiplies the shares by a per-asset factor `index · price · weight / 10^decimals` in
//! `f64`, a relative error below 10⁻¹⁵ per step. The margin the estimate must clear is
//! therefore `10⁻¹² · (C + D)` plus, per position, one base unit's weighted value on each side
//! it holds (a side with no shares is exactly zero in both) and `10⁻¹⁵` USD.

use softliq_core::account::Account;
use softliq_core::asset::AssetId;
use softliq_core::health::RiskSnapshot;

/// Relative error budget of the estimate (far above `f64`'s, for a handful of operations).
pub const RELATIVE: f64 = 1e-12;
/// Absolute error budget per position for the wei roundings, in USD.
pub const WEI_USD: f64 = 1e-15;
/// Above this (USD), the exact check may overflow where the float does not: leave it to it.
const VALUE_MAX_USD: f64 = 1e18;

/// Per-asset factors of one snapshot.
#[derive(Clone, Debug, Default)]
pub struct Screen {
    /// `None` for an asset without a price in the snapshot.
    factors: Vec<Option<Factors>>,
}

/// One asset's float factors. The collateral factor moves with price × supply index ×
/// liquidation threshold, the debt factor with price × borrow index × borrow weight: the
/// detection index keys its thresholds on exactly these two numbers.
#[derive(Clone, Copy, Debug)]
pub struct Factors {
    /// USD of liquidation collateral per supply share.
    pub collateral: f64,
    /// USD of weighted debt per debt share.
    pub debt: f64,
    /// One base unit's liquidation-collateral value.
    pub unit_collateral: f64,
    /// One base unit's weighted-debt value.
    pub unit_debt: f64,
    /// The pool's supply index (it falls only when bad debt is socialised).
    pub supply_index: f64,
    /// Liquidation threshold and borrow weight.
    pub weights: (f64, f64),
}

/// One position's estimate: its asset, its collateral and debt values (USD, zero for a side
/// without shares) and the base-unit rounding each held side may carry.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Term {
    pub asset: usize,
    pub collateral: f64,
    pub debt: f64,
    pub unit_collateral: f64,
    pub unit_debt: f64,
}

/// An account's estimate: the sums and the error they must clear.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Estimate {
    pub collateral: f64,
    pub debt: f64,
    pub slack: f64,
    pub has_debt: bool,
}

impl Estimate {
    /// `Some(liquidatable)` when clear by more than the error, `None` when only the exact check
    /// can say.
    #[must_use]
    pub fn verdict(&self) -> Option<bool> {
        if !self.has_debt {
            return Some(false);
        }
        if self.collateral - self.debt > self.slack {
            Some(false)
        } else if self.debt - self.collateral > self.slack {
            Some(true)
        } else {
            None
        }
    }
}

impl Screen {
    /// The factors of `snapshot`.
    #[must_use]
    pub fn of(snapshot: &RiskSnapshot, assets: usize) -> Self {
        let factors = (0..assets)
            .map(|a| {
                let risk = snapshot.get(AssetId::from_index(a)).ok()?;
                let per_unit = risk.price.to_f64() / 10f64.powi(i32::from(risk.decimals.get()));
                let lt = risk.liquidation_threshold.to_f64();
                let bw = risk.borrow_weight.to_f64();
                let supply_index = risk.supply_index.to_f64();
                Some(Factors {
                    collateral: supply_index * per_unit * lt,
                    debt: risk.borrow_index.to_f64() * per_unit * bw,
                    unit_collateral: per_unit * lt,
                    unit_debt: per_unit * bw,
                    supply_index,
                    weights: (lt, bw),
                })
            })
            .collect();
        Self { factors }
    }

    /// Asset `a`'s factors, `None` when it has no price in this snapshot.
    #[must_use]
    pub fn factors(&self, a: usize) -> Option<Factors> {
        self.factors.get(a).copied().flatten()
    }

    /// How many assets the screen covers.
    #[must_use]
    pub fn assets(&self) -> usize {
        self.factors.len()
    }

    /// `account`'s estimate, its positions' terms written to `terms`; `None` when an asset it
    /// holds has no price or its values are beyond what the exact check can hold.
    pub fn estimate(&self, account: &Account, terms: &mut Vec<Term>) -> Option<Estimate> {
        terms.clear();
        let mut e = Estimate {
            collateral: 0.0,
            debt: 0.0,
            slack: 0.0,
            has_debt: false,
        };
        for p in account.positions() {
            let f = self.factors(p.asset.index())?;
            let supplied = !p.supply.is_zero();
            let owed = !p.debt.is_zero();
            let term = Term {
                asset: p.asset.index(),
                collateral: float(p.supply.raw()) * f.collateral,
                debt: float(p.debt.raw()) * f.debt,
                unit_collateral: if supplied { f.unit_collateral } else { 0.0 },
                unit_debt: if owed { f.unit_debt } else { 0.0 },
            };
            e.collateral += term.collateral;
            e.debt += term.debt;
            e.slack += term.unit_collateral + term.unit_debt + WEI_USD;
            e.has_debt |= owed;
            terms.push(term);
        }
        if e.collateral > VALUE_MAX_USD || e.debt > VALUE_MAX_USD {
            return None;
        }
        e.slack += RELATIVE * (e.collateral + e.debt);
        Some(e)
    }

    /// `Some(liquidatable)` when the estimate is clear by more than its error, `None` when only
    /// the exact check can say (close to the line, an asset without a price, absurd sizes).
    #[cfg(test)]
    #[must_use]
    pub fn classify(&self, account: &Account) -> Option<bool> {
        self.estimate(account, &mut Vec::new())?.verdict()
    }
}

/// `x` as `f64` from its two 64-bit halves: two hardware conversions instead of the slow
/// 128-bit one, within one part in 2⁵² of `x` (far inside the error budget).
#[inline]
#[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation)]
fn float(x: u128) -> f64 {
    const TWO_64: f64 = 18_446_744_073_709_551_616.0;
    ((x >> 64) as u64) as f64 * TWO_64 + (x as u64) as f64
}

#[cfg(test)]
pub(crate) mod tests {
    use proptest::prelude::*;
    use softliq_core::account::Account;
    use softliq_core::asset::AssetId;
    use softliq_core::health::{AssetRisk, Health, RiskSnapshot};
    use softliq_core::money::{Decimals, Index, Price, Ratio, Shares, WAD};

    use super::{Screen, float};

    #[test]
    fn float_halves_are_close() {
        for x in [
            0u128,
            1,
            u128::from(u64::MAX),
            1 << 64,
            (1 << 64) + 1,
            u128::MAX,
            10u128.pow(30) + 7,
        ] {
            #[allow(clippy::cast_precision_loss)]
            let exact = x as f64;
            assert!((float(x) - exact).abs() <= exact * 1e-15, "{x}");
        }
    }

    /// An asset's risk view for tests: `index_pct` are the supply and borrow indices' growth in
    /// tenths of a percent (the borrow weight follows the first).
    pub(crate) fn risk(
        decimals: u8,
        price: u128,
        lt_pct: u128,
        index_pct: (u128, u128),
    ) -> AssetRisk {
        let ray = Index::ONE.raw();
        AssetRisk {
            price: Price::from_raw(price),
            decimals: Decimals::new(decimals).expect("decimals"),
            collateral_factor: Ratio::from_raw(lt_pct * WAD / 100 - WAD / 20),
            liquidation_threshold: Ratio::from_raw(lt_pct * WAD / 100),
            borrow_weight: Ratio::from_raw(WAD + index_pct.0 * WAD / 1_000),
            liquidation_penalty: Ratio::from_raw(WAD / 20),
            liquidation_discount: Ratio::from_raw(WAD / 25),
            supply_index: Index::from_raw(ray + ray / 1_000 * index_pct.0),
            borrow_index: Index::from_raw(ray + ray / 1_000 * index_pct.1),
            stale: false,
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4_000))]

        /// The pre-check never contradicts the exact check: on accounts of any size, from a
        /// few base units up, placed on, near and far from the line.
        #[test]
        fn never_contradicts_the_exact_check(
            decimals in prop::sample::select(vec![0u8, 6, 8, 18]),
            debt_decimals in prop::sample::select(vec![0u8, 6, 18]),
            price in 1u128..1_000_000_000_000_000_000_000_000,
            debt_price in 1u128..10_000_000_000_000_000_000,
            lt_pct in 50u128..95,
            indices in (0u128..2_000, 0u128..2_000),
            supply in prop_oneof![1u128..1_000, 1u128..1_000_000_000_000_000_000_000_000],
            offset in prop_oneof![Just(0i128), -3i128..=3, -1_000_000i128..1_000_000],
        ) {
            let mut snapshot = RiskSnapshot::new();
            let c = risk(decimals, price, lt_pct, indices);
            let d = risk(debt_decimals, debt_price, 80, (indices.1, indices.0));
            snapshot.set(AssetId(0), c);
            snapshot.set(AssetId(1), d);
            let mut account = Account::new();
            account.add_supply(AssetId(0), Shares::from_raw(supply)).expect("supply");
            // Debt shares that put the account on the line by the float estimate, moved by
            // `offset` shares (or a millionth of them).
            let screen = Screen::of(&snapshot, 2);
            let f = screen.factors(0).expect("priced").collateral / screen.factors(1).expect("priced").debt;
            #[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let on_line = ((supply as f64 * f) as i128).min(10i128.pow(33));
            let debt = on_line
                .saturating_add(offset.saturating_mul(1 + on_line / 1_000_000_000))
                .max(1);
            #[allow(clippy::cast_sign_loss)]
            account.add_debt(AssetId(1), Shares::from_raw(debt as u128)).expect("debt");
            let Ok(health) = Health::of(&account, &snapshot) else {
                return Ok(());
            };
            if let Some(liquidatable) = screen.classify(&account) {
                prop_assert_eq!(liquidatable, health.is_liquidatable());
            }
        }
    }
}
