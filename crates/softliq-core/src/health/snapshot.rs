//! The market side of a health computation: per asset, the price, the weights and the indices,
//! gathered once per price update and then shared by every account's computation.

use crate::asset::{Asset, AssetId};
use crate::money::{Decimals, Index, Price, Ratio, Scaler};
use crate::pool::Pool;

use super::HealthError;

/// What health needs to know about one asset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AssetRisk {
    pub price: Price,
    pub decimals: Decimals,
    pub collateral_factor: Ratio,
    pub liquidation_threshold: Ratio,
    pub borrow_weight: Ratio,
    /// `pen`: what the borrower loses on top of each unit repaid (docs/liquidation.md).
    pub liquidation_penalty: Ratio,
    /// `disc`: the liquidator's part of the penalty.
    pub liquidation_discount: Ratio,
    pub supply_index: Index,
    pub borrow_index: Index,
    /// Set by whoever builds the snapshot (the engine, from its clock and the asset's
    /// `max_staleness_s`): a stale price may value an account for display but never
    /// liquidate it (docs/engine.md, Oracle guards).
    pub stale: bool,
}

impl AssetRisk {
    /// The risk view of a listed asset and its pool at `price`.
    #[must_use]
    pub fn new(asset: &Asset, pool: &Pool, price: Price) -> Self {
        let p = asset.params();
        Self {
            price,
            decimals: p.decimals,
            collateral_factor: p.collateral_factor,
            liquidation_threshold: p.liquidation_threshold,
            borrow_weight: p.borrow_weight,
            liquidation_penalty: p.liquidation_penalty,
            liquidation_discount: p.liquidation_discount,
            supply_index: pool.supply_index(),
            borrow_index: pool.borrow_index(),
            stale: false,
        }
    }
}

/// An asset's three fixed rationals of a snapshot, prepared once so that valuing a position
/// multiplies instead of dividing (money::scaler): shares to amounts at the supply and the
/// borrow index (`/ 10^27`), and amounts to value at the price (`/ 10^decimals`). A `None`
/// (a scale past 10^38, which no listed asset has) leaves that step to the exact division.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Scalers {
    pub supply: Option<Scaler>,
    pub borrow: Option<Scaler>,
    pub value: Option<Scaler>,
}

impl Scalers {
    /// No scaler: every step divides (the definition the scalers must equal).
    pub const NONE: Self = Self {
        supply: None,
        borrow: None,
        value: None,
    };

    /// `risk`'s scalers, keeping each of `old`'s (the entry `risk` replaces) whose inputs did
    /// not change: a scaler is a function of its inputs alone, and building one divides, so a
    /// snapshot renewed after one price moved rebuilds one scaler, not every asset's three.
    fn of(risk: &AssetRisk, old: Option<&Entry>) -> Self {
        // Each scaler's rational `num / 10^k`: supply index, borrow index, price per token.
        let rationals = |r: &AssetRisk| {
            [
                (r.supply_index.raw(), Index::SCALE),
                (r.borrow_index.raw(), Index::SCALE),
                (r.price.raw(), r.decimals.get()),
            ]
        };
        let now = rationals(risk);
        let was = old.map(|e| {
            let Self {
                supply,
                borrow,
                value,
            } = e.scalers;
            (rationals(&e.risk), [supply, borrow, value])
        });
        let [supply, borrow, value] = std::array::from_fn(|k| match was {
            Some((rational, scaler)) if rational[k] == now[k] => scaler[k],
            _ => Scaler::new(now[k].0, now[k].1),
        });
        Self {
            supply,
            borrow,
            value,
        }
    }
}

/// One listed asset's entry: its view and the scalers built from it (kept together, so that
/// one cache line or two hold what valuing a position needs).
#[derive(Clone, Debug, PartialEq, Eq)]
struct Entry {
    risk: AssetRisk,
    scalers: Scalers,
}

/// Every asset's [`AssetRisk`], indexed by [`AssetId`]. An asset without a price is absent,
/// and health of an account holding it is refused rather than guessed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RiskSnapshot {
    assets: Vec<Option<Entry>>,
}

impl RiskSnapshot {
    #[must_use]
    pub const fn new() -> Self {
        Self { assets: Vec::new() }
    }

    /// A snapshot of a whole market: `assets`, their `pools` and `prices`, all indexed by
    /// asset id (a `None` price leaves that asset out).
    #[must_use]
    pub fn of_market(assets: &[Asset], pools: &[Pool], prices: &[Option<Price>]) -> Self {
        let mut snapshot = Self::new();
        for ((asset, pool), price) in assets.iter().zip(pools).zip(prices) {
            if let Some(price) = price {
                snapshot.set(asset.id, AssetRisk::new(asset, pool, *price));
            }
        }
        snapshot
    }

    /// Sets (or replaces) one asset's view; a replaced view's scalers are kept where their
    /// inputs are unchanged.
    pub fn set(&mut self, asset: AssetId, risk: AssetRisk) {
        if self.assets.len() <= asset.index() {
            self.assets.resize(asset.index() + 1, None);
        }
        let slot = &mut self.assets[asset.index()];
        let scalers = Scalers::of(&risk, slot.as_ref());
        *slot = Some(Entry { risk, scalers });
    }

    /// Leaves one asset out (as if it had no price), so that a snapshot renewed in place
    /// equals one built afresh.
    pub fn remove(&mut self, asset: AssetId) {
        if let Some(slot) = self.assets.get_mut(asset.index()) {
            *slot = None;
        }
        while let Some(None) = self.assets.last() {
            self.assets.pop();
        }
    }

    /// # Errors
    /// `MissingAsset` when the asset is unknown or has no price.
    #[inline]
    pub fn get(&self, asset: AssetId) -> Result<&AssetRisk, HealthError> {
        self.entry(asset).map(|(risk, _)| risk)
    }

    /// The asset's view and its scalers.
    #[inline]
    pub(crate) fn entry(&self, asset: AssetId) -> Result<(&AssetRisk, &Scalers), HealthError> {
        self.assets
            .get(asset.index())
            .and_then(Option::as_ref)
            .map(|e| (&e.risk, &e.scalers))
            .ok_or(HealthError::MissingAsset(asset))
    }
}
