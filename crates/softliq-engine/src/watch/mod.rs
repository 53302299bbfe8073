//! Fast detection: which accounts may have crossed into (or out of) liquidatable after a price
//! or index change, without scanning every account.
//!
//! # The bound
//! Detection keys every account with debt on the two numbers per asset that move its health:
//! the asset's *collateral factor* `κ_a` (USD of liquidation collateral per supply share:
//! price × supply index × liquidation threshold) and its *debt factor* `δ_a` (USD of weighted
//! debt per debt share: price × borrow index × borrow weight), both from the float pre-check
//! ([`Screen`]). When an account is settled at factors `κ⁰, δ⁰` its estimate is clear of the
//! line by a margin `m`. Share `m` among the sides it holds (each supply side and each debt side
//! of each position), side `i` getting `m_i` with `Σ m_i < m`. For a healthy account, side
//! values `S_i` (collateral, which must not fall) and `B_i` (debt, which must not rise) give
//! thresholds
//!
//! ```text
//! κ_a > κ⁰_a · (1 − m_i / S_i)      δ_a < δ⁰_a · (1 + m_i / B_i).
//! ```
//!
//! While all hold, the collateral lost plus the debt gained is below `Σ m_i < m`, so the margin
//! is still positive: the estimate still says healthy, hence so does the exact check (the
//! pre-check's guarantee). The shares are `m_i ∝ value_i × typical move of the side's factor`,
//! which puts every threshold equally many typical moves away. A liquidatable account gets the
//! mirror image: its debt must not fall below, its collateral not rise above, their thresholds. The thresholds are absolute
//! levels of `κ` and `δ`, so they stay valid whatever happens to other accounts and however
//! often prices move; an account is looked at again only when a level it depends on is crossed.
//!
//! The side values carry the pre-check's own error terms so that the bound holds for the
//! estimate, not just in real numbers: `S = c·(1 − 10⁻¹²) − 2u` and `B = d·(1 + 10⁻¹²) + u`
//! (`u` a base unit's weighted value, which moves with price alone). Because indices only grow,
//! price moves by at most as much as `κ` (resp. `δ`), which is what lets `u` move with `κ` or
//! `δ`; the `2u` on collateral allows the supply index to fall to half of its highest since the
//! last rebuild (socialised bad debt), past which the index is rebuilt. Thresholds keep `10⁻⁹`
//! of the margin back for float rounding, and a margin under `10⁻⁶ · (C + D)` is not keyed at
//! all: such an account (on the line, holding dust below two base units, or holding an asset
//! without a price) sits in the *near* list and is evaluated after every market-wide change.
//!
//! # The structure
//! Per asset, four queues of thresholds, smallest first, one per way a level can be crossed
//! (collateral falls, debt rises, collateral rises, debt falls); each is a sorted run, sorted
//! batches of recent thresholds and a small fresh heap, the batches merged into the run a slice
//! per command (see [`queue`]). After a market-wide change the engine takes every threshold the
//! current factors have reached: those accounts, and the near list, are the candidates.
//! Settling an account (after it fired, or after a command touched it) makes its thresholds anew
//! at the current factors; its old entries are left behind as stale (a generation number per
//! account tells them apart) and are dropped when taken, merged, or compacted once they
//! outnumber the live ones. So a price update costs the accounts whose own
//! thresholds it crosses — after which they are keyed at the new price — not a fraction of the
//! market.
//!
//! Detection after a market-wide change is therefore complete: every account whose exact state
//! differs from its flag is a candidate. That makes the flagged set a function of the commands
//! alone, whatever the index's history (a recovered engine rebuilds it and reaches the same
//! flags). The index is derived data: never hashed, rebuilt on recovery, and a property test
//! checks it against a full scan after every market-wide change.

mod perp;
mod queue;

use softliq_core::account::{Account, AccountId};

use crate::screen::{Estimate, Factors, RELATIVE, Screen, Term, WEI_USD};
use crate::state::{FIRST_USER_ACCOUNT, State};
pub(crate) use perp::PerpWatch;
use queue::{Entry, Queue};

/// Share of each threshold's margin kept back against the float rounding of the threshold
/// itself.
const SHAVE: f64 = 1e-9;
/// Below this margin (relative to collateral plus debt), thresholds would be within float
/// rounding of the current factors: the account goes to the near list instead.
const MARGIN_MIN: f64 = 1e-6;
/// The collateral side allows for its supply index falling to this share of the highest seen
/// since the last rebuild (via twice the base-unit term); below it the index is rebuilt.
const SUPPLY_INDEX_FALL_MIN: f64 = 0.5;
/// Stale heap entries may outnumber the live ones by this many before a compaction.
const STALE_MIN: usize = 1 << 16;
/// Entries the running queue merges move per command, all queues together: well under a
/// millisecond even when each entry's generation is looked up (a compaction), so a merge of a
/// million-entry run spreads over about a hundred commands instead of stalling one, and a
/// compaction, which merges every queue, over several hundred.
const MERGE_SLICE: usize = 1 << 13;
/// Weight of the latest move in each factor's running variance (per market-wide change).
const MOTION_WEIGHT: f64 = 0.01;
/// A factor's assumed typical move per market-wide change before any is seen (1%), and the
/// least assumed of any factor (so a still factor's sides keep a sliver of the margin).
const MOTION_START: f64 = 1e-2;
const MOTION_MIN: f64 = 1e-5;

/// The four ways a threshold is crossed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Trigger {
    /// A healthy account's collateral factor fell to its threshold.
    CollateralFalls,
    /// A healthy account's debt factor rose to its threshold.
    DebtRises,
    /// A liquidatable account's collateral factor rose to its threshold.
    CollateralRises,
    /// A liquidatable account's debt factor fell to its threshold.
    DebtFalls,
}

impl Trigger {
    const ALL: [Self; 4] = [
        Self::CollateralFalls,
        Self::DebtRises,
        Self::CollateralRises,
        Self::DebtFalls,
    ];

    /// +1 when crossing means rising to the threshold, −1 when falling to it: queues store
    /// `sign · threshold` and fire once `sign · factor` reaches it.
    const fn sign(self) -> f64 {
        match self {
            Self::DebtRises | Self::CollateralRises => 1.0,
            Self::CollateralFalls | Self::DebtFalls => -1.0,
        }
    }

    const fn is_debt(self) -> bool {
        matches!(self, Self::DebtRises | Self::DebtFalls)
    }

    const fn factor(self, f: &Factors) -> f64 {
        match self {
            Self::CollateralFalls | Self::CollateralRises => f.collateral,
            Self::DebtRises | Self::DebtFalls => f.debt,
        }
    }

    /// The sides an account holds that can move its verdict, with their values: for a healthy
    /// account its collateral (must not fall) and its debt (must not rise), for a liquidatable
    /// one the mirror image. A side with a zero factor (a zero liquidation threshold) is
    /// exactly zero in both checks until the weights change, which rebuilds the index.
    fn sides(t: &Term, liquidatable: bool) -> [Option<(Self, f64)>; 2] {
        let (collateral, debt) = (t.unit_collateral > 0.0, t.unit_debt > 0.0);
        if liquidatable {
            let debt_low = t.debt * (1.0 - RELATIVE) - t.unit_debt;
            let collateral_high = t.collateral * (1.0 + RELATIVE) + 2.0 * t.unit_collateral;
            [
                debt.then_some((Self::DebtFalls, debt_low)),
                collateral.then_some((Self::CollateralRises, collateral_high)),
            ]
        } else {
            let collateral_low = t.collateral * (1.0 - RELATIVE) - 2.0 * t.unit_collateral;
            let debt_high = t.debt * (1.0 + RELATIVE) + t.unit_debt;
            [
                collateral.then_some((Self::CollateralFalls, collateral_low)),
                debt.then_some((Self::DebtRises, debt_high)),
            ]
        }
    }

    /// Whether this side must not fall (it holds the verdict up) rather than not rise.
    const fn supports(self) -> bool {
        matches!(self, Self::CollateralFalls | Self::DebtFalls)
    }
}

/// Per account: which of its heap entries are live, how many, and whether it is near.
#[derive(Clone, Copy, Debug, Default)]
struct Slot {
    generation: u32,
    keys: u16,
    near: bool,
}

impl Slot {
    /// Makes every entry of the account stale; returns how many were live.
    fn forget(&mut self) -> usize {
        self.generation = self.generation.wrapping_add(1);
        usize::from(std::mem::take(&mut self.keys))
    }
}

/// How much one factor (collateral or debt, of one asset) moves per market-wide change: the
/// level last seen, a running mean of the squared log move, and its root (the typical move),
/// kept with it because every side an account is keyed on reads it twice.
#[derive(Clone, Copy, Debug)]
struct Motion {
    last: f64,
    variance: f64,
    typical: f64,
}

impl Default for Motion {
    fn default() -> Self {
        let variance = MOTION_START * MOTION_START;
        Self {
            last: 0.0,
            variance,
            typical: Self::root(variance),
        }
    }
}

impl Motion {
    fn observe(&mut self, level: f64) {
        if self.last > 0.0 && level > 0.0 {
            let step = (level / self.last).ln();
            self.variance += MOTION_WEIGHT * (step * step - self.variance);
            self.typical = Self::root(self.variance);
        }
        self.last = level;
    }

    fn root(variance: f64) -> f64 {
        variance.sqrt().max(MOTION_MIN)
    }
}

/// One side of an account being keyed: its asset and trigger.
#[derive(Clone, Copy, Debug)]
struct Side {
    asset: usize,
    trigger: Trigger,
}

/// What the thresholds assume about one asset, checked after every market-wide change.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Basis {
    weights: (f64, f64),
    supply_index_max: f64,
}

/// The detection index.
#[derive(Debug, Default)]
pub struct Watch {
    /// `queues[asset][trigger]`.
    queues: Vec<[Queue; 4]>,
    slots: Vec<Slot>,
    near: Vec<AccountId>,
    /// Accounts whose slot says near (the list may repeat or hold settled ones): counted as
    /// they change, so that statistics need no pass over a million slots.
    near_count: usize,
    basis: Vec<Option<Basis>>,
    /// Per asset, how its collateral and debt factors move: a side's share of an account's
    /// margin is in proportion to its value times its factor's typical move.
    motion: Vec<[Motion; 2]>,
    /// Entries in all queues, and the live ones among them.
    entries: usize,
    live: usize,
    /// Thresholds popped that were live, accounts settled, queue merges and rebuilds, since the
    /// engine started.
    fired: u64,
    settled: u64,
    merges: u64,
    rebuilds: u64,
    terms: Vec<Term>,
    sides: Vec<Side>,
    /// Entries a running merge moves per command; `None`: [`MERGE_SLICE`].
    merge_slice: Option<usize>,
}

/// The detection index's size and work, for benchmarks and metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DetectionStats {
    /// Accounts evaluated after every market-wide change (no thresholds).
    pub near: usize,
    /// Live thresholds, and heap entries including stale ones.
    pub thresholds: usize,
    pub entries: usize,
    /// Accounts whose thresholds fired, accounts settled (fired, touched or near), and queue
    /// merges (batches into run) and rebuilds of the whole index (at start, and when the
    /// thresholds' assumptions broke), since the engine started.
    pub fired: u64,
    pub settled: u64,
    pub merges: u64,
    pub rebuilds: u64,
    /// Queues with a merge in progress now.
    pub merging: usize,
}

impl Watch {
    /// A fresh index at `screen`: every account keyed anew, consistently with its flag. An
    /// account whose estimate disagrees with its flag (it crossed since it was last evaluated)
    /// goes to the near list, so the next market-wide change reports it.
    pub fn rebuild(&mut self, state: &State, screen: &Screen) {
        let n = state.accounts.len();
        *self = Self {
            queues: (0..screen.assets()).map(|_| Default::default()).collect(),
            slots: vec![Slot::default(); n],
            basis: Vec::new(),
            motion: std::mem::take(&mut self.motion),
            fired: self.fired,
            settled: self.settled,
            merges: self.merges,
            rebuilds: self.rebuilds + 1,
            terms: std::mem::take(&mut self.terms),
            sides: std::mem::take(&mut self.sides),
            merge_slice: self.merge_slice,
            ..Self::default()
        };
        self.motion.resize(screen.assets(), Default::default());
        self.basis_moved(screen);
        for (i, entry) in state
            .accounts
            .iter()
            .enumerate()
            .skip(AccountId(FIRST_USER_ACCOUNT).index())
        {
            let id = AccountId::from_index(i);
            let verdict = self.settle(id, &entry.account, screen);
            if verdict.is_some_and(|v| v != state.flagged.contains(&id)) {
                self.distrust(id);
            }
        }
        // Recovery has no commands to spread the merges over: all of them now.
        self.compact_by(usize::MAX);
    }

    /// Whether the thresholds' assumptions broke (an asset gained or lost its price, weights
    /// changed, a supply index fell past the allowance, an asset was listed); records the
    /// supply indices seen.
    fn basis_moved(&mut self, screen: &Screen) -> bool {
        let moved = screen.assets() != self.basis.len()
            || self
                .basis
                .iter()
                .enumerate()
                .any(|(a, b)| match (screen.factors(a), b) {
                    (Some(f), Some(b)) => {
                        f.weights != b.weights
                            || f.supply_index < SUPPLY_INDEX_FALL_MIN * b.supply_index_max
                    }
                    (None, None) => false,
                    _ => true,
                });
        if moved {
            self.basis = vec![None; screen.assets()];
        }
        for (a, b) in self.basis.iter_mut().enumerate() {
            *b = screen.factors(a).map(|f| Basis {
                weights: f.weights,
                supply_index_max: b
                    .map_or(f.supply_index, |b| b.supply_index_max.max(f.supply_index)),
            });
        }
        moved
    }

    fn grow(&mut self, n: usize) {
        if self.slots.len() < n {
            self.slots.resize(n, Slot::default());
        }
    }

    /// Makes every heap entry of account `i` stale.
    fn forget(&mut self, i: usize) {
        self.live -= self.slots[i].forget();
    }

    fn add_near(&mut self, i: usize) {
        if !self.slots[i].near {
            self.slots[i].near = true;
            self.near_count += 1;
            self.near.push(AccountId::from_index(i));
        }
    }

    /// Drops `id`'s thresholds and puts it on the near list.
    pub fn distrust(&mut self, id: AccountId) {
        let i = usize::try_from(id.0).unwrap_or(usize::MAX);
        self.grow(i + 1);
        self.forget(i);
        self.add_near(i);
    }

    /// Settles `id` at `screen`: its old thresholds dropped, new ones made. Returns the
    /// estimate's verdict (`Some(liquidatable)`), or `None` when only the exact check can say.
    /// The caller sets the account's flag to the verdict (or to the exact check's answer). An
    /// account without thresholds (too close to call, dust, unpriced) joins the near list.
    pub fn settle(&mut self, id: AccountId, account: &Account, screen: &Screen) -> Option<bool> {
        let i = usize::try_from(id.0).unwrap_or(usize::MAX);
        self.grow(i + 1);
        self.forget(i);
        self.settled += 1;
        if std::mem::take(&mut self.slots[i].near) {
            self.near_count -= 1;
        }
        let mut terms = std::mem::take(&mut self.terms);
        let estimate = screen.estimate(account, &mut terms);
        let verdict = estimate.and_then(|e| e.verdict());
        let keyed = match (estimate, verdict) {
            (Some(e), Some(v)) => !e.has_debt || self.key(i, v, &e, &terms, screen),
            _ => false,
        };
        self.terms = terms;
        if !keyed {
            self.add_near(i);
        }
        verdict
    }

    /// Pushes account `i`'s thresholds for `verdict`; `false` (nothing pushed) when its margin
    /// is too thin to key or a side it depends on is below two base units. The margin is shared
    /// among the sides in proportion to value × typical move of the side's factor, so each
    /// threshold is about equally far in typical moves: a stablecoin debt, whose factor moves
    /// only by interest, leaves nearly all of it to a volatile collateral. Any split that sums
    /// to less than the margin is sound; this one makes thresholds fire least often.
    fn key(
        &mut self,
        i: usize,
        liquidatable: bool,
        estimate: &Estimate,
        terms: &[Term],
        screen: &Screen,
    ) -> bool {
        self.sides.clear();
        let mut margin = -(terms.len() as f64) * WEI_USD;
        let mut weights = 0.0;
        for t in terms {
            for (trigger, value) in Trigger::sides(t, liquidatable).into_iter().flatten() {
                if trigger.supports() {
                    if value <= 0.0 {
                        return false;
                    }
                    margin += value;
                } else {
                    margin -= value;
                }
                weights += value * self.typical_move(t.asset, trigger);
                self.sides.push(Side {
                    asset: t.asset,
                    trigger,
                });
            }
        }
        if margin <= MARGIN_MIN * (estimate.collateral + estimate.debt) {
            return false;
        }
        // Heap entries hold the account as 32 bits (a cache line per heap node's children).
        let (Ok(keys), Ok(account)) = (u16::try_from(self.sides.len()), u32::try_from(i)) else {
            return false;
        };
        // Side i's threshold is `margin · move_i / weights` away (relative): the shares
        // `value_i · that` sum to the margin less the shave.
        let reach = margin / weights * (1.0 - SHAVE);
        let generation = self.slots[i].generation;
        for k in 0..self.sides.len() {
            let Side { asset, trigger } = self.sides[k];
            let Some(factors) = screen.factors(asset) else {
                continue;
            };
            let factor = trigger.factor(&factors);
            let ratio = reach * self.typical_move(asset, trigger);
            let threshold = if trigger.supports() {
                if ratio >= 1.0 {
                    // The side could vanish entirely and the margin would hold.
                    continue;
                }
                factor * (1.0 - ratio)
            } else {
                factor * (1.0 + ratio)
            };
            self.queues[asset][trigger as usize].push(
                trigger.sign() * threshold,
                account,
                generation,
            );
            self.entries += 1;
        }
        self.slots[i].keys = keys;
        self.live += usize::from(keys);
        true
    }

    fn typical_move(&self, asset: usize, trigger: Trigger) -> f64 {
        self.motion
            .get(asset)
            .map_or(MOTION_START, |m| m[usize::from(trigger.is_debt())].typical)
    }

    /// Appends to `out` the accounts to evaluate after a market-wide change (prices, indices,
    /// parameters): those whose thresholds `screen` has reached, and the near list. Rebuilds
    /// first when the thresholds' assumptions no longer hold.
    pub fn fired(&mut self, state: &State, screen: &Screen, out: &mut Vec<AccountId>) {
        self.grow(state.accounts.len());
        if self.basis_moved(screen) {
            self.rebuild(state, screen);
        }
        // The near list may hold accounts settled since (their flag is down) and repeats.
        for id in std::mem::take(&mut self.near) {
            if std::mem::take(&mut self.slots[id.index()].near) {
                self.near_count -= 1;
                out.push(id);
            }
        }
        for (a, queues) in self.queues.iter_mut().enumerate() {
            let Some(factors) = screen.factors(a) else {
                continue;
            };
            if let Some(motion) = self.motion.get_mut(a) {
                motion[0].observe(factors.collateral);
                motion[1].observe(factors.debt);
            }
            for trigger in Trigger::ALL {
                let level = trigger.sign() * trigger.factor(&factors);
                queues[trigger as usize].pop_fired(level, |i, generation| {
                    self.entries -= 1;
                    let slot = &mut self.slots[i];
                    if slot.generation == generation {
                        self.fired += 1;
                        self.live -= slot.forget();
                        out.push(AccountId::from_index(i));
                    }
                });
            }
        }
    }

    /// Starts merging a queue's batches into its run once they have grown large, and advances
    /// the running merges by one slice in all, so no command carries a whole merge. Once stale
    /// entries outnumber the live ones by more than a bound, every queue's next merge drops them
    /// from the run as well, so memory stays proportional to the accounts with debt.
    pub fn compact(&mut self) {
        self.compact_by(self.merge_slice.unwrap_or(MERGE_SLICE));
    }

    /// Sets how many entries a running merge moves per command (at least one).
    pub fn set_merge_slice(&mut self, entries: usize) {
        self.merge_slice = Some(entries.max(1));
    }

    /// [`Watch::compact`] with `slice` entries moved per running merge.
    fn compact_by(&mut self, slice: usize) {
        let all = self.entries > 2 * self.live + STALE_MIN;
        let slots = &self.slots;
        let live = |&(_, account, generation): &Entry| {
            slots
                .get(account as usize)
                .is_some_and(|s| s.generation == generation)
        };
        let mut left = slice;
        for queue in self.queues.iter_mut().flatten() {
            if !queue.is_merging() && (all || queue.wants_merge()) {
                queue.merge_start(all);
                self.merges += 1;
            }
            left -= queue.merge_step(live, left);
        }
        if left < slice {
            self.entries = self.queues.iter().flatten().map(Queue::len).sum();
        }
    }

    /// The index's size and the work it has done.
    #[must_use]
    pub fn stats(&self) -> DetectionStats {
        debug_assert_eq!(
            self.near_count,
            self.slots.iter().filter(|s| s.near).count(),
            "near accounts miscounted"
        );
        DetectionStats {
            near: self.near_count,
            thresholds: self.live,
            entries: self.entries,
            fired: self.fired,
            settled: self.settled,
            merges: self.merges,
            rebuilds: self.rebuilds,
            merging: self
                .queues
                .iter()
                .flatten()
                .filter(|q| q.is_merging())
                .count(),
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use softliq_core::account::{Account, AccountId};
    use softliq_core::asset::AssetId;
    use softliq_core::health::{AssetRisk, Health, RiskSnapshot};
    use softliq_core::money::{Index, Price, Shares};

    use super::{Trigger, Watch};
    use crate::screen::Screen;
    use crate::screen::tests::risk;
    use crate::state::{AccountEntry, State};

    const ID: AccountId = AccountId(2);

    /// `r` with its price scaled by `move_` and its indices grown (or the supply index fallen)
    /// by the given parts per million.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    fn moved(r: &AssetRisk, move_: f64, supply_ppm: i64, borrow_ppm: u64) -> AssetRisk {
        let scale = |raw: u128, by: f64| ((raw as f64 * by) as u128).max(1);
        AssetRisk {
            price: Price::from_raw(scale(r.price.raw(), move_)),
            supply_index: Index::from_raw(scale(
                r.supply_index.raw(),
                1.0 + supply_ppm as f64 * 1e-6,
            )),
            borrow_index: Index::from_raw(scale(
                r.borrow_index.raw(),
                1.0 + borrow_ppm as f64 * 1e-6,
            )),
            ..*r
        }
    }

    /// An account placed near the line by the estimate: collateral of `10^units_log10` base
    /// units of asset 0 (from dust up), optionally some in asset 1 and some debt in asset 0 (in
    /// proportion to it), and debt in asset 1 that puts it `10^distance` (relative) above or
    /// below the line.
    #[derive(Clone, Debug)]
    struct Placement {
        decimals: u8,
        prices: (u128, u128),
        lt_pct: u128,
        indices: (u128, u128),
        units_log10: f64,
        mix: (f64, f64),
        distance: i32,
        below: bool,
    }

    fn placement() -> impl Strategy<Value = Placement> {
        (
            prop::sample::select(vec![0u8, 6, 8, 18]),
            (
                1u128..1_000_000_000_000_000_000_000_000,
                1u128..10_000_000_000_000_000_000,
            ),
            50u128..95,
            (0u128..2_000, 0u128..2_000),
            prop_oneof![0.0f64..4.0, 0.0f64..15.0],
            (
                prop_oneof![Just(0.0), 0.0f64..2.0],
                prop_oneof![Just(0.0), 0.0f64..0.5],
            ),
            -6i32..0,
            any::<bool>(),
        )
            .prop_map(
                |(decimals, prices, lt_pct, indices, units_log10, mix, distance, below)| {
                    Placement {
                        decimals,
                        prices,
                        lt_pct,
                        indices,
                        units_log10,
                        mix,
                        distance,
                        below,
                    }
                },
            )
    }

    impl Placement {
        fn gap(&self) -> f64 {
            10f64.powi(self.distance)
        }

        /// The snapshot and the account.
        fn place(&self) -> (RiskSnapshot, Account) {
            let mut s0 = RiskSnapshot::new();
            s0.set(
                AssetId(0),
                risk(self.decimals, self.prices.0, self.lt_pct, self.indices),
            );
            s0.set(
                AssetId(1),
                risk(6, self.prices.1, 80, (self.indices.1, self.indices.0)),
            );
            let screen = Screen::of(&s0, 2);
            let f = |a: usize| screen.factors(a).expect("priced");
            let value = 10f64.powf(self.units_log10) * f(0).unit_collateral;
            let shares = |usd: f64, per_share: f64| (usd / per_share).min(1e33) as u128;
            let mut account = Account::new();
            let supply = shares(value, f(0).collateral).max(1);
            account
                .add_supply(AssetId(0), Shares::from_raw(supply))
                .expect("supply");
            let (mix_supply, mix_debt) = (
                shares(value * self.mix.0, f(1).collateral),
                shares(value * self.mix.1, f(0).debt),
            );
            if mix_supply > 0 {
                account
                    .add_supply(AssetId(1), Shares::from_raw(mix_supply))
                    .expect("supply");
            }
            if mix_debt > 0 {
                account
                    .add_debt(AssetId(0), Shares::from_raw(mix_debt))
                    .expect("debt");
            }
            let room = account
                .positions()
                .iter()
                .map(|p| {
                    let f = f(p.asset.index());
                    float(p.supply.raw()) * f.collateral - float(p.debt.raw()) * f.debt
                })
                .sum::<f64>();
            let side = if self.below {
                1.0 - self.gap()
            } else {
                1.0 + self.gap()
            };
            let debt = (room / f(1).debt * side).clamp(1.0, 1e33) as u128;
            account
                .add_debt(AssetId(1), Shares::from_raw(debt))
                .expect("debt");
            (s0, account)
        }
    }

    /// `account` keyed alone at `screen`: the index, the state (its flag set) and the verdict;
    /// `None` when the estimate cannot say.
    fn keyed(account: &Account, screen: &Screen) -> Option<(Watch, State, bool)> {
        let mut state = State::default();
        state.accounts.push(AccountEntry {
            owner: "a".into(),
            account: account.clone(),
        });
        let mut watch = Watch::default();
        watch.rebuild(&state, screen);
        let verdict = watch.settle(ID, account, screen)?;
        if verdict {
            state.flagged.insert(ID);
        }
        Some((watch, state, verdict))
    }

    /// The inverse of `ordered`.
    fn unordered(bits: u64) -> f64 {
        f64::from_bits(if bits >> 63 == 1 {
            bits & !(1 << 63)
        } else {
            !bits
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(8_000))]

        /// While none of an account's thresholds is reached, the exact check keeps the verdict
        /// it was keyed with: accounts of any size placed near the line, cross-margined over two
        /// assets, and moves of prices and indices on the scale of their margin.
        #[test]
        fn thresholds_hold_the_verdict(
            p in placement(),
            moves in prop::collection::vec((-1.5f64..1.5, -1.5f64..1.5, -2_000i64..500, 0u64..500), 1..12),
        ) {
            let (s0, account) = p.place();
            let Some((mut watch, state, verdict)) = keyed(&account, &Screen::of(&s0, 2)) else {
                return Ok(());
            };
            let gap = p.gap();
            for (price0, price1, supply_ppm, borrow_ppm) in moves {
                let mut s1 = RiskSnapshot::new();
                let r = |a: u16| s0.get(AssetId(a)).copied().expect("priced");
                s1.set(AssetId(0), moved(&r(0), 1.0 + gap * price0, supply_ppm, borrow_ppm));
                s1.set(AssetId(1), moved(&r(1), 1.0 + gap * price1, supply_ppm / 2, borrow_ppm));
                let mut fired = Vec::new();
                watch.fired(&state, &Screen::of(&s1, 2), &mut fired);
                if fired.contains(&ID) {
                    break;
                }
                if let Ok(health) = Health::of(&account, &s1) {
                    prop_assert_eq!(health.is_liquidatable(), verdict);
                }
            }
        }

        /// Each threshold alone, reached as closely as a price can reach it (its asset's price
        /// moved to put the factor just inside it, nothing else moved), still leaves the exact
        /// check on the keyed side: random moves seldom land on an edge, this test only does.
        #[test]
        fn every_threshold_holds_at_its_edge(p in placement()) {
            let (s0, account) = p.place();
            let screen = Screen::of(&s0, 2);
            let Some((watch, _, verdict)) = keyed(&account, &screen) else {
                return Ok(());
            };
            for (asset, queues) in watch.queues.iter().enumerate() {
                let id = AssetId(u16::try_from(asset).expect("two assets"));
                let r = s0.get(id).copied().expect("priced");
                let factors = screen.factors(asset).expect("priced");
                for trigger in Trigger::ALL {
                    let queue = &queues[trigger as usize];
                    let live = |g: u32| watch.slots[ID.0 as usize].generation == g;
                    for &(key, _, _) in queue.iter().filter(|e| live(e.2)) {
                        let threshold = trigger.sign() * unordered(key);
                        // The factor moves with the price: the price that puts it on the
                        // threshold, rounded to the inside.
                        let edge = r.price.raw() as f64 * threshold / trigger.factor(&factors);
                        let raw = if trigger.sign() < 0.0 { edge.ceil() + 1.0 } else { edge.floor() - 1.0 } as u128;
                        if raw == 0 {
                            continue;
                        }
                        let mut s1 = s0.clone();
                        s1.set(id, AssetRisk { price: Price::from_raw(raw), ..r });
                        if let Ok(health) = Health::of(&account, &s1) {
                            prop_assert_eq!(health.is_liquidatable(), verdict, "{:?} of asset {} at {}", trigger, asset, raw);
                        }
                    }
                }
            }
        }
    }

    fn float(x: u128) -> f64 {
        x as f64
    }
}
