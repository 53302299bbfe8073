//! The detection screen: core's float pre-check (`softliq_core::health::estimate`, with its
//! error proof) applied to one snapshot. Most accounts detection looks at (those a command
//! touched, those whose thresholds a price move crossed) stay on the side of the line they were
//! on, and the exact `Health::of` (256-bit products, three weighted sums) costs far more than a
//! float estimate from the account's shares. The estimate decides only when it is clear by more
//! than its worst error; otherwise the exact check decides. So detection's results are exactly
//! the exact check's — a property test compares them with a full exact scan.

use softliq_core::account::Account;
use softliq_core::asset::AssetId;
use softliq_core::health::RiskSnapshot;
use softliq_core::health::estimate::shares_f64 as float;
pub use softliq_core::health::estimate::{Estimate, Factors, RELATIVE, WEI_USD};

/// Per-asset factors of one snapshot.
#[derive(Clone, Debug, Default)]
pub struct Screen {
    /// `None` for an asset without a price in the snapshot.
    factors: Vec<Option<Factors>>,
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

impl Screen {
    /// The factors of `snapshot`.
    #[must_use]
    pub fn of(snapshot: &RiskSnapshot, assets: usize) -> Self {
        let factors = (0..assets)
            .map(|a| snapshot.get(AssetId::from_index(a)).ok().map(Factors::of))
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
        let (mut collateral, mut debt, mut slack, mut has_debt) = (0.0, 0.0, 0.0, false);
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
            collateral += term.collateral;
            debt += term.debt;
            slack += f.position_slack(supplied, owed);
            has_debt |= owed;
            terms.push(term);
        }
        Estimate::new(collateral, debt, slack, has_debt)
    }

    /// `Some(liquidatable)` when the estimate is clear by more than its error, `None` when only
    /// the exact check can say (close to the line, an asset without a price, absurd sizes).
    #[cfg(test)]
    #[must_use]
    pub fn classify(&self, account: &Account) -> Option<bool> {
        self.estimate(account, &mut Vec::new())?.verdict()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use proptest::prelude::*;
    use softliq_core::account::Account;
    use softliq_core::asset::AssetId;
    use softliq_core::health::{AssetRisk, Health, RiskSnapshot};
    use softliq_core::money::{Decimals, Index, Price, Ratio, Shares, WAD};

    use super::Screen;

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
            let on_line = ((supply as f64 * f) as i128).min(10i128.pow(33));
            let debt = on_line
                .saturating_add(offset.saturating_mul(1 + on_line / 1_000_000_000))
                .max(1);
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
