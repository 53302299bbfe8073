//! Perp detection: which perp wallets may have crossed their maintenance line (or back) after
//! a mark or funding move, without valuing every wallet.
//!
//! # The bound
//! A wallet's cross margin gap is `g = Em − MM` (maintenance equity less maintenance margin);
//! it is liquidatable when `g ≤ 0` (with a position open). For one position of `u` whole
//! contracts, when its market's mark moves by `Δm` and its cumulative funding by `ΔF`:
//!
//! ```text
//! Δ uPnL    = ±u·Δm                      (+ for a long)
//! Δ funding = ∓u·ΔF                      (a long owes when F rises)
//! Δ MM      ∈ [0, r_max·u·|Δm|] · sign(Δm)  (marginal tiers, r_max the highest maintenance rate)
//! ```
//!
//! so the gap moves by at most `u·(1 + r_max)·|Δm| + u·|ΔF|`, and a move in the position's
//! favour (mark up for a long, or funding down) never lowers it: `u·Δm − ΔMM ≥ (1 − r_max)·u·Δm
//! ≥ 0`. A healthy wallet with gap `g` shares `b ≈ g` among its positions in proportion to
//! their notionals, position `i` getting `b_i`, of which 7/8 is for its mark and 1/8 for its
//! funding; its thresholds are then the *adverse* levels
//!
//! ```text
//! long:  mark < m⁰ − (7/8)·b_i / (u_i·(1 + r_max))     F > F⁰ + (1/8)·b_i / u_i
//! short: mark > m⁰ + (7/8)·b_i / (u_i·(1 + r_max))     F < F⁰ − (1/8)·b_i / u_i
//! ```
//!
//! While none is crossed, the gap fell by less than `Σ b_i < g`: still healthy. A flagged wallet
//! (not being unwound) gets the mirror image with the *favourable* levels, so it is looked at
//! again only once it could have recovered. A wallet being unwound is flagged whatever the
//! prices (its rounds continue to the target) and has no thresholds: only a command on it can
//! end its unwinding, and such a command settles it anyway.
//!
//! `b` is `|g|` less a slack for the exact arithmetic's roundings (16 wei per position, plus
//! `10⁻¹²` of the notional and cash for the float conversions), shaved by `10⁻⁹`; a wallet
//! whose `b` is below `10⁻⁹` of its notional is not keyed but sits in the *near* list, valued
//! after every market-wide change.
//!
//! # The structure
//! Per market, four ordered sets of thresholds (mark falls below, mark rises above, funding
//! falls below, funding rises above), keyed by the threshold's float bits in an order-preserving
//! form; each wallet remembers its own entries, so settling it removes exactly those. After a
//! mark or funding change, every entry the new level crossed is taken: those wallets and the
//! near list are the candidates, each valued exactly and settled anew. The index is derived
//! data, rebuilt on recovery; a property test checks the flags against a full scan after every
//! command.

use std::collections::{BTreeSet, HashMap};

use smallvec::SmallVec;
use softliq_core::account::AccountId;
use softliq_core::perp::{Exchange, Exposure, PerpAccount, PerpMarketId, PerpSnapshot};

/// Share of each budget kept back against the float rounding of the thresholds.
const SHAVE: f64 = 1e-9;
/// Rounding slack of the exact valuation per position, WAD units (uPnL, funding, notional,
/// requirement and the total each round once, by one unit).
const SLACK_PER_POSITION: f64 = 16.0;
/// Slack for the float conversion of the wallet's figures, relative to notional plus cash.
const SLACK_RELATIVE: f64 = 1e-12;
/// Below this budget (relative to notional) a wallet goes to the near list.
const BUDGET_MIN: f64 = 1e-9;
/// Share of a position's budget its mark may spend; the rest is its funding's.
const MARK_SHARE: f64 = 7.0 / 8.0;

/// The four ways a level can be crossed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Way {
    MarkBelow = 0,
    MarkAbove = 1,
    FundingBelow = 2,
    FundingAbove = 3,
}

/// One threshold a wallet is keyed on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Key {
    market: PerpMarketId,
    way: Way,
    level: u64,
}

/// The perp detection index.
#[derive(Debug, Default)]
pub(crate) struct PerpWatch {
    /// Per market, per [`Way`]: (threshold, wallet).
    queues: Vec<[BTreeSet<(u64, AccountId)>; 4]>,
    keys: HashMap<AccountId, SmallVec<[Key; 2]>>,
    near: BTreeSet<AccountId>,
}

/// `x`'s bits in an order that sorts like `x` (for finite values).
fn ordered(x: f64) -> u64 {
    let b = x.to_bits();
    if b >> 63 == 1 { !b } else { b | 1 << 63 }
}

/// A WAD integer as a float of the whole unit.
fn wad(raw: i128) -> f64 {
    raw as f64 / 1e18
}

impl PerpWatch {
    /// Forgets everything and keys every wallet of `perps` by its flag in `flagged`.
    pub(crate) fn rebuild(&mut self, perps: &Exchange, flagged: &BTreeSet<AccountId>) {
        *self = Self::default();
        let Ok(snap) = perps.snapshot() else {
            return;
        };
        for (id, a) in perps.accounts() {
            let e = perps.exposure(id, &snap).ok();
            self.settle(perps, &snap, id, a, flagged.contains(&id), e.as_ref());
        }
    }

    fn queue(&mut self, key: Key) -> &mut BTreeSet<(u64, AccountId)> {
        let i = key.market.index();
        if self.queues.len() <= i {
            self.queues.resize_with(i + 1, Default::default);
        }
        &mut self.queues[i][key.way as usize]
    }

    /// Removes `id`'s entries.
    fn forget(&mut self, id: AccountId) {
        self.near.remove(&id);
        if let Some(keys) = self.keys.remove(&id) {
            for k in keys {
                self.queue(k).remove(&(k.level, id));
            }
        }
    }

    /// Keys `id` anew at `snap`, given its current flag (`flagged`, which the caller has just
    /// made equal to its exact state) and its exposure there (`None`: it could not be valued).
    /// Levels it already has that would fire no later than the new ones are kept as they are:
    /// firing early only costs a re-evaluation, and a trade that lowered the wallet's risk (or
    /// left it nearly unchanged) then touches no set.
    pub(crate) fn settle(
        &mut self,
        perps: &Exchange,
        snap: &PerpSnapshot,
        id: AccountId,
        wallet: &PerpAccount,
        flagged: bool,
        exposure: Option<&Exposure>,
    ) {
        if perps.is_unwinding(id) || wallet.is_flat() {
            self.forget(id);
            return;
        }
        let Some(keys) = exposure.and_then(|e| levels(snap, wallet, flagged, e)) else {
            self.forget(id);
            self.near.insert(id);
            return;
        };
        if let Some(old) = self.keys.get(&id)
            && old.len() == keys.len()
            && old.iter().zip(&keys).all(|(o, n)| o.no_later_than(n))
        {
            return;
        }
        self.forget(id);
        for k in &keys {
            self.queue(*k).insert((k.level, id));
        }
        self.keys.insert(id, keys);
    }

    /// Every wallet whose thresholds the marks and funding of `snap` reached, and the near
    /// list, into `out`. Their entries are removed; the caller settles each anew.
    pub(crate) fn fired(&mut self, snap: &PerpSnapshot, out: &mut Vec<AccountId>) {
        let first = out.len();
        for (market, r) in snap.iter() {
            let Some(queues) = self.queues.get_mut(market.index()) else {
                continue;
            };
            let mark = ordered(r.mark.to_f64());
            let funding = ordered(r.cumulative_funding.to_f64());
            // "Below" fires for every threshold above the level, "above" for every one below.
            for (way, level) in [
                (Way::MarkBelow, mark),
                (Way::MarkAbove, mark),
                (Way::FundingBelow, funding),
                (Way::FundingAbove, funding),
            ] {
                let q = &mut queues[way as usize];
                let taken: Vec<(u64, AccountId)> = match way {
                    Way::MarkBelow | Way::FundingBelow => q
                        .range((level.saturating_add(1), AccountId(0))..)
                        .copied()
                        .collect(),
                    Way::MarkAbove | Way::FundingAbove => {
                        q.range(..(level, AccountId(0))).copied().collect()
                    }
                };
                for (_, id) in taken {
                    out.push(id);
                }
            }
        }
        out.extend(self.near.iter().copied());
        for &id in &out[first..] {
            self.forget(id);
        }
    }
}

impl Key {
    /// Whether this level fires no later than `new` would (same market and way, and at least
    /// as close to the current level).
    fn no_later_than(&self, new: &Self) -> bool {
        self.market == new.market
            && self.way == new.way
            && match self.way {
                Way::MarkBelow | Way::FundingBelow => self.level >= new.level,
                Way::MarkAbove | Way::FundingAbove => self.level <= new.level,
            }
    }
}

/// The levels of a wallet with positions at `snap` (see the module docs), or `None` when it
/// belongs in the near list.
fn levels(
    snap: &PerpSnapshot,
    wallet: &PerpAccount,
    flagged: bool,
    e: &Exposure,
) -> Option<SmallVec<[Key; 2]>> {
    let gap = e.equity.minus(e.maintenance).ok()?;
    let mut notional = 0.0;
    let mut open = 0.0;
    for p in wallet.positions() {
        if p.size == 0 || p.isolated.is_some() {
            continue;
        }
        let r = snap.get(p.market).ok()?;
        notional += units(p.size, r.decimals()).abs() * r.mark.to_f64();
        open += 1.0;
    }
    let slack = SLACK_PER_POSITION * (open + 1.0) / 1e18
        + SLACK_RELATIVE * (notional + wallet.cash.to_f64().abs());
    let budget = (wad(gap.raw()).abs() - slack) * (1.0 - SHAVE);
    if open == 0.0 || budget <= BUDGET_MIN * notional {
        return None;
    }
    let mut keys = SmallVec::new();
    for p in wallet.positions() {
        if p.size == 0 || p.isolated.is_some() {
            continue;
        }
        let r = snap.get(p.market).ok()?;
        let u = units(p.size, r.decimals()).abs();
        let mark = r.mark.to_f64();
        let share = budget * u * mark / notional;
        let r_max = r
            .params
            .tiers
            .last()
            .map_or(1.0, |t| t.maintenance.to_f64());
        let mark_move = MARK_SHARE * share / (u * (1.0 + r_max));
        let funding_move = (1.0 - MARK_SHARE) * share / u;
        let funding = r.cumulative_funding.to_f64();
        // A healthy long fears the mark falling and funding rising; a flagged one recovers
        // the other way; shorts are the mirror image.
        let fears_fall = (p.size > 0) != flagged;
        let (mark_way, mark_level) = if fears_fall {
            (Way::MarkBelow, mark - mark_move)
        } else {
            (Way::MarkAbove, mark + mark_move)
        };
        let (funding_way, funding_level) = if fears_fall {
            (Way::FundingAbove, funding + funding_move)
        } else {
            (Way::FundingBelow, funding - funding_move)
        };
        for (way, level) in [(mark_way, mark_level), (funding_way, funding_level)] {
            keys.push(Key {
                market: p.market,
                way,
                level: ordered(level),
            });
        }
    }
    Some(keys)
}

/// A signed size in base units as whole contracts.
fn units(size: i128, decimals: softliq_core::money::Decimals) -> f64 {
    size as f64 / 10f64.powi(i32::from(u8::from(decimals)))
}
