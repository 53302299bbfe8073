//! What one liquidation call would do (docs/liquidation.md), or why it is refused.
//!
//! Sizing happens in value (WAD USD): the smallest of the policy's cap, the liquidator's
//! request, the debt in `d` and what the collateral in `c` can pay for (`X_c / (1 + pen)`),
//! then the death-spiral and dust rules. The value is converted to tokens of `d` rounding up,
//! and the split of seized collateral is computed from those tokens exactly:
//!
//! ```text
//! seized        = ⌈r · p_d / u_d · (1 + pen) · u_c / p_c⌉     (what the borrower gives up)
//! to_liquidator = ⌊r · p_d / u_d · (1 + disc) · u_c / p_c⌋    (what the liquidator receives)
//! to_treasury   = seized − to_liquidator                    (exactly, nothing lost)
//! ```
//!
//! each formed in 512 bits and rounded once. Collateral moves as supply shares of `c`: the
//! borrower's shares fall by `⌈seized / SI⌉`, the liquidator's rise by `⌊to_liquidator / SI⌋`, and
//! the protocol takes the difference, so shares are conserved exactly.

use ruint::aliases::U512;

use super::Refusal;
use super::policy::{Incentive, Policy, Rule, at_death_spiral, restore_value};
use crate::account::{Account, Position};
use crate::asset::AssetId;
use crate::health::{AssetRisk, Health, RiskSnapshot, Totals, Valued};
use crate::money::muldiv::quotient;
use crate::money::{Amount, Index, Ratio, Rounding, Shares, Value, WAD};
use crate::pool::repay_shares;

/// A liquidator's call: repay debt in `debt_asset`, receive collateral in `collateral_asset`,
/// repaying at most `max_repay` base units of the debt asset.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Request {
    pub debt_asset: AssetId,
    pub collateral_asset: AssetId,
    pub max_repay: Amount,
    /// How long the account has been liquidatable, in seconds, by the record of whoever
    /// prices the call (the engine's own state, the simulator's clock; never the liquidator's
    /// word). Only a need-sized incentive with a time ramp reads it.
    #[serde(default)]
    pub liquidatable_for_s: u64,
}

/// What limited the repaid amount.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Bound {
    /// The liquidator's `max_repay`.
    Requested,
    /// The policy's cap (share of debt, close factor, restore target).
    PolicyCap,
    /// All of the debt in `d`.
    Debt,
    /// All that the collateral in `c` can pay for.
    Collateral,
    /// Widened or shrunk by a dust or leftover rule.
    Dust,
    /// Below the death-spiral bound: the whole debt in `d` against `c` is allowed.
    DeathSpiral,
    /// The rule's cap was below the market's minimum useful call, which applied instead.
    MinCall,
}

/// Which side of a two-stage market's bands the call is in; `Hard` for every other policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Stage {
    /// `1 < HF < soft_hf`: smaller share, smaller penalty.
    Buffer,
    /// `HF ≤ 1`.
    Hard,
}

/// A priced liquidation call, ready to settle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Quote {
    pub request: Request,
    pub stage: Stage,
    pub bound: Bound,
    /// Tokens of `d` the liquidator pays.
    pub repaid: Amount,
    /// `repaid · p_d`, rounded down.
    pub repaid_value: Value,
    /// Tokens of `c` the borrower gives up.
    pub seized: Amount,
    pub to_liquidator: Amount,
    pub to_treasury: Amount,
    /// `seized · p_c`, rounded down.
    pub seized_value: Value,
    /// `to_liquidator · p_c`, rounded down.
    pub liquidator_value: Value,
    /// The penalty and discount that applied (a two-stage buffer band scales them down).
    pub penalty: Ratio,
    pub discount: Ratio,
    pub health_before: Option<Ratio>,
    pub health_after: Option<Ratio>,
    pub liquidatable_after: bool,
    /// The borrower's collateral value after the call (for the bad-debt test of
    /// docs/liquidation.md, Bad debt).
    pub collateral_value_after: Value,
    /// Share movements that settle this quote.
    pub debt_shares_burned: Shares,
    pub collateral_shares_seized: Shares,
    pub liquidator_shares: Shares,
    /// The call writes off the account's remaining debt as bad debt in the same step, whatever
    /// collateral is left: a protocol profile's rule (Aave v3.6 burns the debt of an account
    /// whose last collateral the call takes, `profile::aave_v3`). softliq's own policies leave
    /// it `false` and realise bad debt by their own test in `settle`.
    #[serde(default)]
    pub writes_off: bool,
    /// What the quote was priced on; settlement refuses it if any of these changed.
    pub basis: Basis,
    /// [`quote`]'s mark over every field above: `settle` refuses a quote that `quote` did not
    /// make (one read back from JSON or a log) or that was changed after. Not encoded, and
    /// ignored by `==`, so a logged quote compares equal to the one that was settled.
    #[serde(skip)]
    pub(super) seal: Seal,
}

/// A fingerprint of a quote's fields, set by [`quote`] alone (a private field, so no other
/// crate can build a `Quote`). A guard against mistakes (a field changed, a record replayed as a
/// call), not against hostile code in the same process, which could do anything anyway.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Seal(u64);

impl PartialEq for Seal {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for Seal {}

/// The balances and indices a quote was priced on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Basis {
    pub debt_shares: Shares,
    pub collateral_shares: Shares,
    pub borrow_index: Index,
    pub supply_index: Index,
}

/// The low and the high 64 bits of `w`.
#[allow(clippy::cast_possible_truncation)] // taking each half is the point
const fn halves(w: u128) -> [u64; 2] {
    [w as u64, (w >> 64) as u64]
}

impl Quote {
    /// Every field but the seal, mixed into 64 bits (FNV-style over the raw integers, in four
    /// lanes).
    fn fingerprint(&self) -> u64 {
        const PRIME: u64 = 0x0000_0100_0000_01b3;
        let ratio = |r: Option<Ratio>| r.map_or(u128::MAX, Ratio::raw);
        let words = [
            u128::from(self.request.debt_asset.0),
            u128::from(self.request.collateral_asset.0),
            self.request.max_repay.raw(),
            u128::from(self.request.liquidatable_for_s),
            self.stage as u128,
            self.bound as u128,
            self.repaid.raw(),
            self.repaid_value.raw(),
            self.seized.raw(),
            self.to_liquidator.raw(),
            self.to_treasury.raw(),
            self.seized_value.raw(),
            self.liquidator_value.raw(),
            self.penalty.raw(),
            self.discount.raw(),
            ratio(self.health_before),
            ratio(self.health_after),
            u128::from(self.liquidatable_after),
            self.collateral_value_after.raw(),
            self.debt_shares_burned.raw(),
            self.collateral_shares_seized.raw(),
            self.liquidator_shares.raw(),
            u128::from(self.writes_off),
            self.basis.debt_shares.raw(),
            self.basis.collateral_shares.raw(),
            self.basis.borrow_index.raw(),
            self.basis.supply_index.raw(),
        ];
        // Four independent lanes, so the multiplications overlap instead of queueing.
        let mut lanes: [u64; 4] = [0xcbf2_9ce4_8422_2325, 1, 2, 3];
        for (i, w) in words.iter().enumerate() {
            let lane = &mut lanes[i % 4];
            for half in halves(*w) {
                *lane = (*lane ^ half).wrapping_mul(PRIME);
            }
        }
        let h = lanes
            .iter()
            .fold(0u64, |h, lane| (h ^ lane).wrapping_mul(PRIME));
        h | 1 // never 0, the seal of a quote nobody sealed
    }

    /// Marks the quote as made by this crate's pricing (see [`Seal`]).
    pub(super) fn sealed(mut self) -> Self {
        self.seal = Seal(self.fingerprint());
        self
    }

    /// Whether [`quote`] made this quote as it is.
    #[must_use]
    pub fn is_sealed(&self) -> bool {
        self.seal.0 == self.fingerprint()
    }

    /// What the borrower lost beyond the debt repaid: `seized_value − repaid_value`.
    #[must_use]
    pub fn borrower_loss(&self) -> Value {
        self.seized_value.saturating_sub(self.repaid_value)
    }

    /// The liquidator's gross profit before its own costs: `liquidator_value − repaid_value`.
    #[must_use]
    pub fn liquidator_profit(&self) -> Value {
        self.liquidator_value.saturating_sub(self.repaid_value)
    }

    /// The protocol's part of the seized collateral, in value.
    #[must_use]
    pub fn protocol_revenue(&self) -> Value {
        self.seized_value.saturating_sub(self.liquidator_value)
    }

    /// The account after this call (balances only; pools are not touched).
    ///
    /// # Errors
    /// `Math` when the account no longer holds what the quote takes.
    pub fn apply_to(&self, account: &Account) -> Result<Account, Refusal> {
        let mut after = account.clone();
        after.remove_debt(self.request.debt_asset, self.debt_shares_burned)?;
        after.remove_supply(self.request.collateral_asset, self.collateral_shares_seized)?;
        Ok(after)
    }
}

/// The two positions of one call, valued.
struct Pair<'a> {
    d: &'a AssetRisk,
    c: &'a AssetRisk,
    debt: Position,
    coll: Position,
    vd: Valued,
    vc: Valued,
}

/// Prices a liquidation call under `policy`.
///
/// # Errors
/// A [`Refusal`]: zero amount, a stale price, an account that is not liquidatable, an asset
/// the account does not hold, or a call that would leave dust the liquidator will not clear.
pub fn quote(
    account: &Account,
    snapshot: &RiskSnapshot,
    policy: &Policy,
    request: &Request,
) -> Result<Quote, Refusal> {
    if request.max_repay.is_zero() {
        return Err(Refusal::ZeroAmount);
    }
    match policy.rule {
        Rule::Dutch(_) => return Err(Refusal::AuctionMarket),
        Rule::AaveV3 => return super::aave::quote(account, snapshot, request),
        _ => {}
    }
    let (totals, pair) = survey(account, snapshot, request)?;
    let health = totals.health()?;
    let stage = stage(policy, &health)?;
    let (pen, disc) = penalty(policy, stage, &health, pair.c, request.liquidatable_for_s)?;
    let (value, bound, repay_max) = size(policy, stage, &health, &pair, pen, request)?;
    if stage == Stage::Buffer && value < policy.dust_value && value < pair.vd.debt_value {
        // The band is sized by restore to `soft_hf`, rounded down; without a floor the calls
        // would shrink toward the target forever. Below the dust value the band is closed.
        return Err(Refusal::BelowMinimum {
            minimum: policy.dust_value,
        });
    }
    let mut q = priced(
        request,
        &pair,
        (value, bound, repay_max),
        (pen, disc),
        (stage, &health),
    )?;
    let after = totals_after(totals, &q, &pair)?.health()?;
    q.health_after = after.health_factor();
    q.liquidatable_after = after.is_liquidatable();
    q.collateral_value_after = after.collateral_value;
    Ok(q.sealed())
}

/// The account's exact sums after the call: the changed positions' old terms out and their
/// new terms in (one position when `d` and `c` are the same asset). Equal to a full pass over
/// the account after the call, without copying it.
fn totals_after(mut totals: Totals, q: &Quote, p: &Pair) -> Result<Totals, Refusal> {
    let (d, c) = (q.request.debt_asset, q.request.collateral_asset);
    let both = [(p.d, p.debt, p.vd), (p.c, p.coll, p.vc)];
    let changed = if d == c { &both[..1] } else { &both[..] };
    for &(risk, old, old_valued) in changed {
        let mut new = old;
        if old.asset == d {
            new.debt = new.debt.checked_sub(q.debt_shares_burned)?;
        }
        if old.asset == c {
            new.supply = new.supply.checked_sub(q.collateral_shares_seized)?;
        }
        totals.sub(&old_valued, risk)?;
        totals.add(&Valued::of(&new, risk)?, risk)?;
    }
    Ok(totals)
}

/// One pass over the account: refuses stale prices, sums its health exactly, and values the
/// two positions of the call.
fn survey<'a>(
    account: &Account,
    snapshot: &'a RiskSnapshot,
    request: &Request,
) -> Result<(Totals, Pair<'a>), Refusal> {
    let (d, c) = (
        snapshot.get(request.debt_asset)?,
        snapshot.get(request.collateral_asset)?,
    );
    for (asset, risk) in [(request.debt_asset, d), (request.collateral_asset, c)] {
        if risk.stale {
            return Err(Refusal::StalePrice(asset));
        }
    }
    let mut totals = Totals::default();
    let (mut vd, mut vc) = (None, None);
    for pos in account.positions() {
        let (risk, scalers) = snapshot.entry(pos.asset)?;
        if risk.stale {
            return Err(Refusal::StalePrice(pos.asset));
        }
        let v = Valued::scaled(pos, risk, scalers)?;
        totals.add(&v, risk)?;
        if pos.asset == request.debt_asset {
            vd = Some((*pos, v));
        }
        if pos.asset == request.collateral_asset {
            vc = Some((*pos, v));
        }
    }
    let Some((debt, vd)) = vd.filter(|(p, _)| !p.debt.is_zero()) else {
        return Err(Refusal::NoDebt(request.debt_asset));
    };
    let Some((coll, vc)) = vc.filter(|(p, _)| !p.supply.is_zero()) else {
        return Err(Refusal::NoCollateral(request.collateral_asset));
    };
    Ok((
        totals,
        Pair {
            d,
            c,
            debt,
            coll,
            vd,
            vc,
        },
    ))
}

/// Which band the account is in, or `NotLiquidatable`. Two-stage markets open calls below
/// `soft_hf`, compared exactly (`C < soft_hf · D`); every other policy at `D ≥ C`.
fn stage(policy: &Policy, health: &Health) -> Result<Stage, Refusal> {
    if health.is_liquidatable() {
        return Ok(Stage::Hard);
    }
    if let Rule::TwoStage { soft_hf, .. } = policy.rule {
        let c = U512::from(health.liquidation_collateral.raw()) * U512::from(WAD);
        let d = U512::from(health.weighted_debt.raw()) * U512::from(soft_hf.raw());
        if !health.weighted_debt.is_zero() && c < d {
            return Ok(Stage::Buffer);
        }
    }
    Err(Refusal::NotLiquidatable {
        health_factor: health.health_factor(),
    })
}

/// How far into the buffer band the account is: `t = (soft_hf − HF) / (soft_hf − 1)`, from 0
/// at `soft_hf` to 1 at HF = 1, with HF rounded down (so `t` rounds toward the hard line).
fn band_depth(soft_hf: Ratio, health: &Health) -> Result<Ratio, Refusal> {
    let hf = health.health_factor().unwrap_or(soft_hf).min(soft_hf);
    let width = soft_hf.checked_sub(Ratio::ONE)?;
    Ok(soft_hf
        .checked_sub(hf)?
        .div(width, Rounding::Up)?
        .min(Ratio::ONE))
}

/// `from + (to − from) · t` for `from ≤ to`.
fn lerp(from: Ratio, to: Ratio, t: Ratio) -> Result<Ratio, Refusal> {
    Ok(from.checked_add(to.saturating_sub(from).mul(t, Rounding::Down)?)?)
}

/// The penalty and discount of the call: the collateral asset's, or the need-sized incentive's
/// (docs/liquidation.md); in a two-stage buffer band the penalty then rises linearly from
/// `soft_pen_min` at `soft_hf` to that penalty at HF = 1 and the discount keeps its proportion of
/// the penalty.
fn penalty(
    policy: &Policy,
    stage: Stage,
    health: &Health,
    c: &AssetRisk,
    age_s: u64,
) -> Result<(Ratio, Ratio), Refusal> {
    let (pen, disc) = match policy.incentive {
        Incentive::Fixed => (c.liquidation_penalty, c.liquidation_discount),
        Incentive::Need(need) => {
            let disc = need.discount(health.liquidation_collateral, health.weighted_debt, age_s)?;
            (need.penalty(disc)?, disc)
        }
    };
    match (policy.rule, stage) {
        (
            Rule::TwoStage {
                soft_hf,
                soft_pen_min,
                ..
            },
            Stage::Buffer,
        ) => {
            let t = band_depth(soft_hf, health)?;
            let band_pen = lerp(soft_pen_min.min(pen), pen, t)?;
            let band_disc = if pen.is_zero() {
                Ratio::ZERO
            } else {
                disc.mul(band_pen, Rounding::Down)?
                    .div(pen, Rounding::Down)?
            };
            Ok((band_pen, band_disc))
        }
        _ => Ok((pen, disc)),
    }
}

/// The soft cap: `max_fraction · V`, or all of `V` under the dust value.
fn soft_cap(policy: &Policy, max_fraction: Ratio, health: &Health) -> Result<Value, Refusal> {
    if health.debt_value < policy.dust_value {
        return Ok(health.debt_value);
    }
    Ok(health.debt_value.mul_ratio(max_fraction, Rounding::Down)?)
}

/// The policy's cap on repaid value for this call, and whether the death-spiral rule lifted it.
fn policy_cap(
    policy: &Policy,
    stage: Stage,
    health: &Health,
    p: &Pair,
    pen: Ratio,
) -> Result<(Value, Bound), Refusal> {
    let debt = p.vd.debt_value;
    let restore = |target| {
        restore_value(
            target,
            health.liquidation_collateral,
            health.weighted_debt,
            p.d.borrow_weight,
            pen,
            p.c.liquidation_threshold,
        )
    };
    let cap = match policy.rule {
        Rule::Full => return Ok((debt, Bound::Debt)),
        Rule::Dutch(_) => return Err(Refusal::AuctionMarket),
        Rule::AaveV3 => unreachable!("aave_v3 quotes are priced by the profile"),
        Rule::Soft { max_fraction } => soft_cap(policy, max_fraction, health)?,
        Rule::CloseFactor {
            close_factor,
            full_close_hf,
            small_position_value,
            ..
        } => {
            let full = health.health_factor().is_some_and(|hf| hf <= full_close_hf)
                || debt < small_position_value
                || p.vc.collateral_value < small_position_value;
            if full {
                debt
            } else {
                health
                    .debt_value
                    .mul_ratio(close_factor, Rounding::Down)?
                    .min(debt)
            }
        }
        Rule::Restore {
            target_hf,
            max_fraction,
        } => {
            let soft = soft_cap(policy, max_fraction, health)?;
            restore(target_hf)?.map_or(soft, |v| v.min(soft))
        }
        // Both stages are sized by restore to `soft_hf` (see docs/decisions.md), so that no
        // sequence of calls repays more than one call sized to the target.
        Rule::TwoStage {
            soft_hf,
            soft_cf_min,
            max_fraction,
            ..
        } => match stage {
            Stage::Hard => {
                let soft = soft_cap(policy, max_fraction, health)?;
                restore(soft_hf)?.map_or(soft, |v| v.min(soft))
            }
            Stage::Buffer => {
                let share = lerp(soft_cf_min, max_fraction, band_depth(soft_hf, health)?)?;
                let band = health.debt_value.mul_ratio(share, Rounding::Down)?;
                restore(soft_hf)?.map_or(band, |v| v.min(band))
            }
        },
    };
    let spiral = stage == Stage::Hard
        && at_death_spiral(
            health.liquidation_collateral,
            health.weighted_debt,
            p.d.borrow_weight,
            pen,
            p.c.liquidation_threshold,
        );
    if spiral {
        return Ok((debt, Bound::DeathSpiral));
    }
    // The minimum useful call: a floor under the cap, never above the debt in `d`.
    let floor = policy.min_call_value.min(debt);
    Ok(if policy.has_min_call() && cap < floor {
        (floor, Bound::MinCall)
    } else {
        (cap, Bound::PolicyCap)
    })
}

/// The repaid value, what bound it, and the most tokens of `d` the call may repay, after the
/// dust and leftover rules.
fn size(
    policy: &Policy,
    stage: Stage,
    health: &Health,
    p: &Pair,
    pen: Ratio,
    request: &Request,
) -> Result<(Value, Bound, Amount), Refusal> {
    let debt = p.vd.debt_value;
    let coll_pays =
        p.vc.collateral_value
            .div_ratio(Ratio::ONE.checked_add(pen)?, Rounding::Down)?;
    // A request too large to value (a liquidator's "as much as allowed") does not bind.
    let requested = request
        .max_repay
        .value_at(p.d.price, p.d.decimals, Rounding::Down)
        .unwrap_or(Value::MAX);
    let (mut v, mut bound) = policy_cap(policy, stage, health, p, pen)?;
    for (candidate, b) in [
        (requested, Bound::Requested),
        (debt, Bound::Debt),
        (coll_pays, Bound::Collateral),
    ] {
        if candidate < v {
            (v, bound) = (candidate, b);
        }
    }
    let clear = debt.min(coll_pays);
    let leftover_debt = debt.saturating_sub(v);
    let seized_value = v.mul_ratio(Ratio::ONE.checked_add(pen)?, Rounding::Up)?;
    let leftover_coll = p.vc.collateral_value.saturating_sub(seized_value);
    let dust = |left: Value, min: Value| !left.is_zero() && left < min;
    if let Rule::CloseFactor {
        min_leftover_value: min,
        ..
    } = policy.rule
    {
        // Aave V3.3: clear the debt or the collateral, or leave at least `min` of each.
        if v < clear {
            let leaves_dust = dust(leftover_debt, min) || dust(leftover_coll, min);
            if leaves_dust && clear <= policy_cap(policy, stage, health, p, pen)?.0 {
                return widened(clear, request, p);
            }
            // Shrunk to leave `min` of each, or only held to it in tokens: a call sized in
            // value and rounded up to tokens could leave a base unit less.
            let most = leaving(min, pen, p)?;
            if most.is_zero() {
                return Err(Refusal::WouldLeaveDust {
                    minimum: tokens(clear, p)?,
                });
            }
            let bound = if leaves_dust { Bound::Dust } else { bound };
            return Ok((v, bound, most.min(request.max_repay)));
        }
    } else if v < clear && dust(leftover_debt, policy.dust_value) {
        // The dust rule: no call leaves debt in `d` below the dust value.
        return widened(clear, request, p);
    }
    Ok((v, bound, request.max_repay))
}

/// The most tokens of `d` a call may repay and still leave at least `min` of debt in `d` and
/// of collateral in `c`, each valued rounded down, exactly in tokens: the debt side is
/// `debt − ⌈min / p_d⌉`; the collateral side is the largest `r` whose seizure
/// `⌈r · p_d / u_d · (1 + pen) · u_c / p_c⌉` leaves `⌈min / p_c⌉` tokens, i.e.
/// `⌊(supply − ⌈min / p_c⌉) · p_c · u_d / (p_d · (1 + pen) · u_c)⌋` (a ceiling stays at or
/// under a whole number exactly when its argument does). Shrinking in value and converting
/// back rounded up could leave a base unit less than `min`.
fn leaving(min: Value, pen: Ratio, p: &Pair) -> Result<Amount, Refusal> {
    let keep_debt = min.to_amount(p.d.price, p.d.decimals, Rounding::Up)?;
    let keep_coll = min.to_amount(p.c.price, p.c.decimals, Rounding::Up)?;
    let debt_side = p.vd.debt_amount.saturating_sub(keep_debt);
    let seizable = p.vc.supply_amount.saturating_sub(keep_coll);
    let w = U512::from(WAD);
    let coll_side = quotient(
        U512::from(seizable.raw())
            * U512::from(p.c.price.raw())
            * U512::from(p.d.decimals.unit())
            * w,
        U512::from(p.d.price.raw()) * (w + U512::from(pen.raw())) * U512::from(p.c.decimals.unit()),
        Rounding::Down,
    )?;
    Ok(debt_side.min(Amount::from_raw(coll_side)))
}

/// The call widened to `clear` (all the debt in `d`, or all the collateral in `c`), if the
/// liquidator's request allows it.
fn widened(clear: Value, request: &Request, p: &Pair) -> Result<(Value, Bound, Amount), Refusal> {
    let needed = tokens(clear, p)?;
    if needed > request.max_repay {
        return Err(Refusal::WouldLeaveDust { minimum: needed });
    }
    Ok((clear, Bound::Dust, request.max_repay))
}

/// Tokens of `d` worth `v`, rounded up, never more than the debt.
fn tokens(v: Value, p: &Pair) -> Result<Amount, Refusal> {
    if v >= p.vd.debt_value {
        return Ok(p.vd.debt_amount);
    }
    Ok(v.to_amount(p.d.price, p.d.decimals, Rounding::Up)?
        .min(p.vd.debt_amount))
}

/// `r · p_d / u_d · (1 + rate) · u_c / p_c` in tokens of `c`, rounded as asked.
fn collateral_for(
    repaid: Amount,
    rate: Ratio,
    p: &Pair,
    rounding: Rounding,
) -> Result<Amount, Refusal> {
    let w = U512::from(WAD);
    let numerator = U512::from(repaid.raw())
        * U512::from(p.d.price.raw())
        * (w + U512::from(rate.raw()))
        * U512::from(p.c.decimals.unit());
    let denominator = U512::from(p.d.decimals.unit()) * U512::from(p.c.price.raw()) * w;
    Ok(Amount::from_raw(quotient(
        numerator,
        denominator,
        rounding,
    )?))
}

fn priced(
    request: &Request,
    p: &Pair,
    (value, bound, repay_max): (Value, Bound, Amount),
    (penalty, discount): (Ratio, Ratio),
    (stage, health): (Stage, &Health),
) -> Result<Quote, Refusal> {
    let repaid = tokens(value, p)?.min(repay_max);
    if repaid.is_zero() {
        return Err(Refusal::ZeroAmount);
    }
    let mut seized = collateral_for(repaid, penalty, p, Rounding::Up)?.min(p.vc.supply_amount);
    let rest = p.vc.supply_amount.checked_sub(seized)?;
    if !rest.is_zero()
        && rest
            .value_at(p.c.price, p.c.decimals, Rounding::Down)?
            .is_zero()
    {
        // What would be left is worth less than 1e-18 USD: no one could ever liquidate it, so
        // the call takes it and the protocol keeps it (it is part of `to_treasury`).
        seized = p.vc.supply_amount;
    }
    let to_liquidator = collateral_for(repaid, discount, p, Rounding::Down)?.min(seized);
    let collateral_shares_seized = if seized == p.vc.supply_amount {
        p.coll.supply
    } else {
        seized
            .to_shares(p.c.supply_index, Rounding::Up)?
            .min(p.coll.supply)
    };
    let liquidator_shares = to_liquidator
        .to_shares(p.c.supply_index, Rounding::Down)?
        .min(collateral_shares_seized);
    let (debt_shares_burned, _) = repay_shares(repaid, p.debt.debt, p.d.borrow_index)?;
    Ok(Quote {
        request: *request,
        stage,
        bound,
        repaid,
        repaid_value: repaid.value_at(p.d.price, p.d.decimals, Rounding::Down)?,
        seized,
        to_liquidator,
        to_treasury: seized.checked_sub(to_liquidator)?,
        seized_value: seized.value_at(p.c.price, p.c.decimals, Rounding::Down)?,
        liquidator_value: to_liquidator.value_at(p.c.price, p.c.decimals, Rounding::Down)?,
        penalty,
        discount,
        health_before: health.health_factor(),
        health_after: None,
        liquidatable_after: false,
        collateral_value_after: Value::ZERO,
        debt_shares_burned,
        collateral_shares_seized,
        liquidator_shares,
        writes_off: false,
        basis: Basis {
            debt_shares: p.debt.debt,
            collateral_shares: p.coll.supply,
            borrow_index: p.d.borrow_index,
            supply_index: p.c.supply_index,
        },
        seal: Seal::default(),
    })
}
