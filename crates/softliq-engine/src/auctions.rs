//! What keepers and dashboards ask about auctions: the running ones with their price now, time
//! to reset, lot and tab, and any auction's history.

use softliq_core::liquidation::auction::{AuctionId, Status, Step};
use softliq_core::pool::Pool;

use crate::engine::Engine;

/// One auction: its status while it runs, and every step so far.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct AuctionView {
    pub id: AuctionId,
    /// `None` once it ended.
    pub status: Option<Status>,
    pub history: Vec<Step>,
}

impl Engine {
    /// The pools with interest projected to `now_s` (never before the engine's clock).
    fn projected_pools(&self, now_s: u64) -> Vec<Pool> {
        let now_s = now_s.max(self.state.now_s);
        self.state
            .pools
            .iter()
            .zip(&self.state.assets)
            .map(|(pool, asset)| pool.projected(now_s, asset.params()))
            .collect()
    }

    /// Every running auction as of `now_s`, by id; empty unless the market is `dutch`.
    #[must_use]
    pub fn auctions_at(&self, now_s: u64) -> Vec<Status> {
        let Some(dutch) = self.state.market.policy.auction() else {
            return Vec::new();
        };
        let now_s = now_s.max(self.state.now_s);
        let pools = self.projected_pools(now_s);
        let book = &self.state.auctions.book;
        book.active()
            .filter_map(|a| book.status(a.id, dutch, &pools, now_s).ok().flatten())
            .collect()
    }

    /// Auction `id` as of `now_s`: its status while it runs and its history; `None` for an id
    /// never used.
    #[must_use]
    pub fn auction_at(&self, id: AuctionId, now_s: u64) -> Option<AuctionView> {
        let history = self.state.auctions.history.get(&id)?.clone();
        let now_s = now_s.max(self.state.now_s);
        let status = self.state.market.policy.auction().and_then(|dutch| {
            let pools = self.projected_pools(now_s);
            self.state
                .auctions
                .book
                .status(id, dutch, &pools, now_s)
                .ok()
                .flatten()
        });
        Some(AuctionView {
            id,
            status,
            history,
        })
    }
}
