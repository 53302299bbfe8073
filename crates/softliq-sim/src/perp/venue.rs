//! The simulated perp venue: per market, a book of finite depth built around the traded price,
//! from which liquidation flow takes the best levels, and which recovers with a half-life.
//! Floats build the venue; the ledger sees exact integer levels from `BookSide` on.

use softliq_core::money::{Amount, Price};
use softliq_core::perp::{BookSide, Books, Level, PerpMarketId, Side};

/// One side's recovering depth: USD per 1% and what liquidations have taken from the top.
pub struct Depth {
    pub usd_per_pct: f64,
    pub consumed_usd: [f64; 2],
}

pub struct SimBooks<'a> {
    pub depth: &'a mut [Depth],
    pub prices: &'a [f64],
    pub level_bp: u32,
    pub levels: u32,
    pub built: Option<(PerpMarketId, BookSide)>,
}

impl SimBooks<'_> {
    /// Builds the side `hit` of `market` at its current price, less what was consumed.
    fn build(&self, market: PerpMarketId, hit: Side) -> BookSide {
        let d = &self.depth[market.index()];
        let price = self.prices[market.index()];
        let per_level_usd = d.usd_per_pct * f64::from(self.level_bp) / 100.0;
        let mut skip = d.consumed_usd[usize::from(hit == Side::Ask)];
        let mut levels = Vec::with_capacity(self.levels as usize);
        for k in 0..self.levels {
            let off = f64::from(k * self.level_bp) / 10_000.0;
            let px = if hit == Side::Bid {
                price * (1.0 - off)
            } else {
                price * (1.0 + off)
            };
            if px <= 0.0 {
                break;
            }
            let usd = (per_level_usd - skip).max(0.0);
            skip = (skip - per_level_usd).max(0.0);
            if usd <= 0.0 {
                continue;
            }
            // Floats build the venue; the ledger sees exact integers from here on.
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let level = Level {
                price: Price::from_raw((px * 1e18) as u128),
                size: Amount::from_raw((usd / px * 1e8) as u128),
            };
            levels.push(level);
        }
        BookSide::new(hit, levels)
    }
}

impl Books for SimBooks<'_> {
    fn side_for(&mut self, market: PerpMarketId, hit: Side) -> Option<&mut BookSide> {
        let side = self.build(market, hit);
        self.built = Some((market, side));
        self.built.as_mut().map(|(_, s)| s)
    }
}

impl Depth {
    /// How far liquidation flow has pushed each side's best price, percent: `[bids, asks]`.
    #[must_use]
    pub fn push_pct(&self) -> [f64; 2] {
        self.consumed_usd.map(|c| c / self.usd_per_pct.max(1e-9))
    }

    /// One step of recovery: what was taken decays by `decay`.
    pub fn recover(&mut self, decay: f64) {
        self.consumed_usd = self.consumed_usd.map(|c| c * decay);
    }

    /// Books a fill of `usd` against the side a taker of `size` (signed: selling < 0) hit.
    pub fn take(&mut self, size: i128, usd: f64) {
        self.consumed_usd[usize::from(size > 0)] += usd;
    }
}
