//! The `dutch` policy's parameters (docs/liquidation.md, Dutch auctions) and their bounds.
//!
//! Names follow MakerDAO's `clip` and `dog` so that anyone who has run a Liquidations 2.0 market
//! recognises them; units are written into the names where Maker leaves them implicit.

use super::curve::{Curve, DURATION_MAX_S};
use crate::asset::ParamError;
use crate::money::{Ratio, Value, WAD};

/// How a Dutch-auction market sells collateral.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Dutch {
    /// The starting price over the oracle price: `top = price · buf` (`1 ≤ buf ≤ 2`).
    pub buf: Ratio,
    /// How the price falls from `top`.
    pub curve: Curve,
    /// Seconds after a start or reset from which the auction must be reset (`0 < tail ≤ 30 d`).
    pub tail_s: u64,
    /// The auction must be reset once its price is below `cusp · top` (`0 < cusp < 1`).
    pub cusp: Ratio,
    /// Debt moved into an auction is owed as `debt · chop` (Maker's multiplier: `chop = 1 +
    /// penalty`, `1 ≤ chop ≤ 1.2`, the asset parameters' penalty bound).
    pub chop: Ratio,
    /// Flat reward to the keeper who starts or resets an auction, in USD (`≤ 10,000`).
    pub tip: Value,
    /// Reward share of the auction's tab to that keeper (`≤ 10%`).
    pub chip: Ratio,
    /// A partial take may not leave less than this much tab, in USD; a reset pays its reward
    /// only when both the tab and the lot are worth at least this much (`≤ 10,000,000`).
    pub chost: Value,
    /// Maker's `Hole`: the most tab under auction at once, all collateral assets together, in
    /// USD at the prices of each start. Each asset's own cap is its `auction_hole` parameter.
    pub hole_total: Value,
}

const PCT: u128 = WAD / 100;
const fn usd(n: u128) -> Value {
    Value::from_raw(n * WAD)
}

/// `tip ≤ 10,000 USD`: a larger flat reward would pay keepers to start auctions on dust.
pub const TIP_MAX: Value = usd(10_000);
/// `chip ≤ 10%` of the tab.
pub const CHIP_MAX: Ratio = Ratio::from_raw(10 * PCT);
/// `chost ≤ 10,000,000 USD`.
pub const CHOST_MAX: Value = usd(10_000_000);

impl Dutch {
    /// Maker's ETH-A settings scaled to a lending market: top 20% above the oracle, 1% cut
    /// every 90 s, reset after 140 minutes or below 40% of top, 13% penalty, a 5 USD + 0.1%
    /// keeper reward, 100 USD chost, 100 M USD under auction at once.
    #[must_use]
    pub const fn maker() -> Self {
        Self {
            buf: Ratio::from_raw(120 * PCT),
            curve: Curve::Stairstep {
                cut: Ratio::from_raw(99 * PCT),
                step_s: 90,
            },
            tail_s: 8_400,
            cusp: Ratio::from_raw(40 * PCT),
            chop: Ratio::from_raw(113 * PCT),
            tip: usd(5),
            chip: Ratio::from_raw(PCT / 10),
            chost: usd(100),
            hole_total: usd(100_000_000),
        }
    }

    /// Checks every bound.
    ///
    /// # Errors
    /// The first parameter out of bounds, named with its bound.
    pub fn validate(&self) -> Result<(), ParamError> {
        if self.buf < Ratio::ONE || self.buf > Ratio::from_raw(2 * WAD) {
            return Err(ParamError::new("buf", "1 <= buf <= 2", self.buf));
        }
        self.curve.validate()?;
        if self.tail_s == 0 || self.tail_s > DURATION_MAX_S {
            return Err(ParamError::new(
                "tail_s",
                "0 < tail_s <= 2592000 s (30 days)",
                self.tail_s,
            ));
        }
        if self.cusp.is_zero() || self.cusp >= Ratio::ONE {
            return Err(ParamError::new("cusp", "0 < cusp < 1", self.cusp));
        }
        if self.chop < Ratio::ONE || self.chop > Ratio::from_raw(120 * PCT) {
            return Err(ParamError::new("chop", "1 <= chop <= 1.2", self.chop));
        }
        if self.tip > TIP_MAX {
            return Err(ParamError::new("tip", "0 <= tip <= 10000 USD", self.tip));
        }
        if self.chip > CHIP_MAX {
            return Err(ParamError::new("chip", "0 <= chip <= 0.1", self.chip));
        }
        if self.chost > CHOST_MAX {
            return Err(ParamError::new(
                "chost",
                "0 <= chost <= 10000000 USD",
                self.chost,
            ));
        }
        if self.hole_total.is_zero() {
            return Err(ParamError::new(
                "hole_total",
                "hole_total > 0 USD",
                self.hole_total,
            ));
        }
        Ok(())
    }
}
