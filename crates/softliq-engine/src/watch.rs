//! Fast detection: which accounts may have crossed into (or out of) liquidatable after a price
//! or index change, without scanning every account.
//!
//! # The bound
//! Fix a *reference* snapshot (liquidation prices and indices at the last rebuild). For an
//! account with liquidation collateral `C_a = lc_a` and weighted debt `D_a = wd_a` per asset
//! at the reference, margin `m = ΣC_a − ΣD_a`. Let asset `a`'s price·supply-index move by the
//! factor `h_a` and its price·borrow-index by `f_a` since the reference. Weights are fixed
//! (a parameter change rebuilds), so the margin now is
//!
//! ```text
//! m' = Σ C_a·h_a − Σ D_a·f_a  ≥  m − Σ_a R_a·(C_a + D_a),   R_a = max(0, 1 − h_a, f_a − 1).
//! ```
//!
//! With `k` assets held and the key `ρ_a = m / (k·(C_a + D_a))`, if every `R_a < ρ_a` then
//! `Σ R_a(C_a + D_a) < m` and `m' > 0`: the account cannot be liquidatable. So an account only
//! needs looking at once some asset's deviation `R_a` reaches its key `ρ_a`.
//!
//! # The structure
//! Per asset, keys go into log-spaced buckets (5% apart, from 10⁻⁶ up). After a change the
//! engine computes each asset's `R_a` and moves every bucket whose floor is ≤ `R_a` into the
//! *watched* list, which it then evaluates exactly. Watched accounts stay watched until the
//! next rebuild; a rebuild (new reference) happens when the watched list grows past a bound,
//! when weights change, or when an asset gains or loses its liquidation price. An account whose
//! positions change is re-keyed lazily, at the next evaluation. The index is derived data: it is
//! rebuilt on recovery and never hashed; a property test checks it against a full scan.

use softliq_core::account::{Account, AccountId};
use softliq_core::asset::AssetId;
use softliq_core::health::{AssetRisk, RiskSnapshot, position_health};

use crate::state::{FIRST_USER_ACCOUNT, State};

const RHO_MIN: f64 = 1e-6;
const GROWTH: f64 = 1.05;
const BUCKETS: usize = 360;
/// Relative slack against float rounding (the bound is computed in `f64`; the decision is
/// always the exact integer one).
const SLACK: f64 = 1e-9;
/// The watched list may grow to twice its size after a rebuild plus this many accounts (plus
/// 1/256 of all) before the next rebuild.
const WATCH_MIN: usize = 256;

/// The detection index.
#[derive(Debug, Default)]
pub struct Watch {
    reference: RiskSnapshot,
    priced: Vec<bool>,
    /// `buckets[asset][bucket]`: (account, generation) entries.
    buckets: Vec<Vec<Vec<(u64, u32)>>>,
    /// Per asset, buckets below this index are already moved to the watched list.
    pulled: Vec<usize>,
    generation: Vec<u32>,
    watched: Vec<bool>,
    list: Vec<AccountId>,
    dirty: Vec<AccountId>,
    dirty_mark: Vec<bool>,
    entries: usize,
    accounts: usize,
    /// The watched list's length right after the last rebuild (the accounts liquidatable or
    /// within rounding of it then): the list may grow by a bounded amount past it.
    watched_after_rebuild: usize,
}

fn bucket_of(rho: f64) -> usize {
    let b = 1.0 + ((rho / RHO_MIN).ln() / GROWTH.ln()).floor();
    // `b ≥ 1` since `rho > RHO_MIN`; the cast saturates for huge keys.
    (b as usize).min(BUCKETS - 1)
}

fn bucket_floor(b: usize) -> f64 {
    RHO_MIN * GROWTH.powi(i32::try_from(b).unwrap_or(i32::MAX) - 1)
}

/// `R_a`: how far the asset's factors moved against borrowers since the reference.
fn deviation(reference: &AssetRisk, now: &AssetRisk) -> f64 {
    let p = now.price.to_f64() / reference.price.to_f64();
    let h = p * now.supply_index.to_f64() / reference.supply_index.to_f64();
    let f = p * now.borrow_index.to_f64() / reference.borrow_index.to_f64();
    (1.0 - h).max(f - 1.0).max(0.0) * (1.0 + SLACK) + 1e-12
}

/// An account's keys at the reference.
enum Keys {
    /// No debt: no price move can make it liquidatable.
    Safe,
    /// Liquidatable or within rounding of it at the reference, or not valued: always look.
    Watch,
    Bounded(Vec<(usize, f64)>),
}

fn keys(account: &Account, reference: &RiskSnapshot) -> Keys {
    if !account.has_debt() {
        return Keys::Safe;
    }
    let Ok(positions) = position_health(account, reference) else {
        return Keys::Watch;
    };
    let exposure = |p: &softliq_core::health::PositionHealth| {
        p.liquidation_collateral.to_f64() + p.weighted_debt.to_f64()
    };
    let c: f64 = positions
        .iter()
        .map(|p| p.liquidation_collateral.to_f64())
        .sum();
    let d: f64 = positions.iter().map(|p| p.weighted_debt.to_f64()).sum();
    let m = c - d;
    if m <= SLACK * (c + d) + 1e-15 {
        return Keys::Watch;
    }
    let held = positions.iter().filter(|p| exposure(p) > 0.0).count() as f64;
    Keys::Bounded(
        positions
            .iter()
            .filter(|p| exposure(p) > 0.0)
            .map(|p| (p.asset.index(), m / (held * exposure(p)) * (1.0 - SLACK)))
            .collect(),
    )
}

impl Watch {
    /// A fresh index with `liq` as the reference: every account keyed anew.
    pub fn rebuild(&mut self, state: &State, liq: &RiskSnapshot) {
        let assets = state.assets.len();
        let n = state.accounts.len();
        self.reference = liq.clone();
        self.priced = (0..assets)
            .map(|a| liq.get(AssetId::from_index(a)).is_ok())
            .collect();
        self.buckets = vec![vec![Vec::new(); BUCKETS]; assets];
        self.pulled = vec![1; assets];
        self.generation = vec![0; n];
        self.watched = vec![false; n];
        self.list.clear();
        self.dirty.clear();
        self.dirty_mark = vec![false; n];
        self.entries = 0;
        self.accounts = n;
        for (i, entry) in state
            .accounts
            .iter()
            .enumerate()
            .skip(FIRST_USER_ACCOUNT as usize)
        {
            self.insert(i, &entry.account);
        }
        for &id in &state.flagged {
            self.watch(id);
        }
        self.watched_after_rebuild = self.list.len();
    }

    fn grow(&mut self, n: usize) {
        if self.generation.len() < n {
            self.generation.resize(n, 0);
            self.watched.resize(n, false);
            self.dirty_mark.resize(n, false);
        }
    }

    fn insert(&mut self, i: usize, account: &Account) {
        match keys(account, &self.reference) {
            Keys::Safe => {}
            Keys::Watch => self.watch(AccountId(i as u64)),
            Keys::Bounded(keys) => {
                let generation = self.generation[i];
                for (asset, rho) in keys {
                    let b = if rho <= RHO_MIN { 0 } else { bucket_of(rho) };
                    if b < self.pulled[asset] {
                        self.watch(AccountId(i as u64));
                        return;
                    }
                    self.buckets[asset][b].push((i as u64, generation));
                    self.entries += 1;
                }
            }
        }
    }

    /// Adds `id` to the watched list.
    pub fn watch(&mut self, id: AccountId) {
        let i = id.0 as usize;
        self.grow(i + 1);
        if !self.watched[i] {
            self.watched[i] = true;
            self.list.push(id);
        }
    }

    /// `id`'s positions changed: re-key it at the next evaluation.
    pub fn mark_dirty(&mut self, id: AccountId) {
        let i = id.0 as usize;
        self.grow(i + 1);
        if !self.dirty_mark[i] {
            self.dirty_mark[i] = true;
            self.dirty.push(id);
        }
    }

    /// Every account that may be liquidatable now or may have just recovered: the watched
    /// list after re-keying changed accounts and pulling the buckets that the deviations since
    /// the reference have reached.
    pub fn candidates(&mut self, state: &State, liq: &RiskSnapshot) -> Vec<AccountId> {
        let priced_now: Vec<bool> = (0..state.assets.len())
            .map(|a| liq.get(AssetId::from_index(a)).is_ok())
            .collect();
        if priced_now != self.priced {
            self.rebuild(state, liq);
        }
        self.grow(state.accounts.len());
        for id in std::mem::take(&mut self.dirty) {
            let i = id.0 as usize;
            self.dirty_mark[i] = false;
            self.generation[i] = self.generation[i].wrapping_add(1);
            if !self.watched[i] && id.0 >= FIRST_USER_ACCOUNT {
                self.insert(i, &state.accounts[i].account);
            }
        }
        for a in 0..self.priced.len() {
            let (Ok(reference), Ok(now)) = (
                self.reference.get(AssetId::from_index(a)),
                liq.get(AssetId::from_index(a)),
            ) else {
                continue;
            };
            let r = deviation(reference, now);
            while self.pulled[a] < BUCKETS && bucket_floor(self.pulled[a]) <= r {
                let bucket = std::mem::take(&mut self.buckets[a][self.pulled[a]]);
                for (i, generation) in bucket {
                    if self.generation[i as usize] == generation {
                        self.watch(AccountId(i));
                    }
                }
                self.pulled[a] += 1;
            }
        }
        self.list.clone()
    }

    /// Rebuilds when the watched list or the stale entries have grown past their bounds, so
    /// evaluation stays proportional to the accounts near liquidation.
    pub fn maybe_rebuild(&mut self, state: &State, liq: &RiskSnapshot) {
        let n = state.accounts.len();
        let grown = self.list.len() > 2 * self.watched_after_rebuild + WATCH_MIN + n / 256;
        if grown || self.entries > 4 * n.max(self.accounts) + 1_000_000 {
            self.rebuild(state, liq);
        }
    }

    /// How many accounts are watched now.
    #[must_use]
    pub fn watched_len(&self) -> usize {
        self.list.len()
    }
}
