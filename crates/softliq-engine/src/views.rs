//! The market as health sees it at the current command's time: two risk snapshots, one at
//! spot prices (borrowing, withdrawing) and one at the market's liquidation prices (docs/engine.md,
//! Oracle guards), both with every pool's indices projected to that time by the same accrual the
//! pools run. Rebuilt when time moves or a price, parameter or index changes other than by accrual.

use softliq_core::health::{AssetRisk, RiskSnapshot};

use crate::screen::Screen;
use crate::state::State;

/// Cached snapshots at `now_s`.
#[derive(Clone, Debug, Default)]
pub struct Views {
    now_s: u64,
    valid: bool,
    pub spot: RiskSnapshot,
    pub liq: RiskSnapshot,
    /// Float factors of `liq`, for detection's pre-check.
    pub(crate) liq_screen: Screen,
}

impl Views {
    /// Marks the snapshots out of date (a price, parameter or non-accrual index changed).
    pub fn invalidate(&mut self) {
        self.valid = false;
    }

    /// Whether the snapshots are current at `now_s`.
    #[must_use]
    pub const fn is_at(&self, now_s: u64) -> bool {
        self.valid && self.now_s == now_s
    }

    /// Brings the snapshots to `now_s`.
    pub fn refresh(&mut self, state: &State, now_s: u64) {
        if self.is_at(now_s) {
            return;
        }
        // Renewed in place: each asset's scalers are rebuilt only where their inputs moved.
        let (mut spot, mut liq) = (
            std::mem::take(&mut self.spot),
            std::mem::take(&mut self.liq),
        );
        for (i, asset) in state.assets.iter().enumerate() {
            let oracle = &state.oracles[i];
            let pool = state.pools[i].projected(now_s, asset.params());
            let stale = oracle.is_stale(now_s, &asset.params().oracle);
            let prices = [
                (&mut spot, oracle.price),
                (
                    &mut liq,
                    oracle.liquidation_price(state.market.liquidation_price, now_s),
                ),
            ];
            for (snapshot, price) in prices {
                match price {
                    Some(price) => snapshot.set(
                        asset.id,
                        AssetRisk {
                            stale,
                            ..AssetRisk::new(asset, &pool, price)
                        },
                    ),
                    None => snapshot.remove(asset.id),
                }
            }
        }
        *self = Self {
            now_s,
            valid: true,
            liq_screen: Screen::of(&liq, state.assets.len()),
            spot,
            liq,
        };
    }
}
