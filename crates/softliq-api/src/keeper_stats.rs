//! A keeper's counters.

use std::sync::{Arc, Mutex};

/// What a keeper has done so far.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeeperStats {
    pub liquidations: u64,
    /// Accounts it had the protocol absorb (calls that did not pay, in markets that absorb).
    pub absorbs: u64,
    pub skipped: u64,
    pub failed: u64,
    pub auctions_started: u64,
    pub takes: u64,
    pub resets: u64,
    /// Calls not made (or refused) because a price was stale; each backs the keeper off.
    pub stale_waits: u64,
    /// Perp liquidation steps accepted.
    pub perp_steps: u64,
    /// Backstops it took in the vault's place.
    pub perp_takeovers: u64,
    /// Reduce-only orders it sent to close what it took.
    pub perp_unwinds: u64,
}

/// The shared counters a running keeper updates (for metrics).
pub type SharedStats = Arc<Mutex<KeeperStats>>;
