//! Interest accrual (docs/interest.md): per-second compounding of the borrow index, the reserve
//! factor's share to the treasury, the rest to suppliers through the supply index.
//!
//! Derivation (see `docs/interest.md` for the full argument):
//! - per-second rate `r_s = ⌈rate_per_year / 31,536,000⌉` at RAY precision;
//! - `borrow_index' = ⌈borrow_index · (1 + r_s)^Δt⌉`, the power by squaring, each step rounded
//!   up, so debt never grows slower than exact compounding;
//! - interest `I = borrowed' − borrowed` in base units (both rounded up);
//! - the treasury's cut `⌈I · reserve_factor⌉`; suppliers' part `I_s = I − cut` raises the
//!   supply index by `⌊I_s · RAY / supply_shares⌋`, so suppliers receive at most `I_s`;
//! - whatever suppliers did not receive through rounding stays in reserves, so
//!   `I = to_suppliers + to_reserves` exactly.

use super::{Pool, PoolError};
use crate::asset::AssetParams;
use crate::money::{Amount, Index, MathError, RAY, Ratio, Rounding, Shares, muldiv::mul_div};

/// 365 days: the year of the yearly rates.
pub const SECONDS_PER_YEAR: u64 = 31_536_000;

/// What one accrual did, in base units.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Accrual {
    pub elapsed_s: u64,
    /// The yearly borrow rate that applied over the period.
    pub borrow_rate: Ratio,
    /// Growth of what borrowers owe.
    pub interest: Amount,
    /// Growth of what suppliers may claim.
    pub to_suppliers: Amount,
    /// Growth of the treasury's reserves (its cut plus rounding dust).
    pub to_reserves: Amount,
}

/// A pool's yearly rates at its current utilisation: what readers show.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rates {
    pub utilisation: Ratio,
    /// What borrowers pay per year, from the asset's rate model.
    pub borrow: Ratio,
    /// What suppliers earn per year: `borrow · utilisation · (1 − reserve_factor)`, each
    /// product rounded down (a figure shown, never paid: accrual pays through the indices).
    pub supply: Ratio,
}

impl Pool {
    /// The yearly rates at the pool's utilisation now.
    ///
    /// # Errors
    /// Overflow on an impossible pool or rate model.
    pub fn rates(&self, params: &AssetParams) -> Result<Rates, MathError> {
        let utilisation = self.utilisation()?;
        let borrow = params.rate_model.borrow_rate(utilisation)?;
        let keep = Ratio::ONE.saturating_sub(params.reserve_factor);
        let supply = borrow
            .mul(utilisation, Rounding::Down)?
            .mul(keep, Rounding::Down)?;
        Ok(Rates {
            utilisation,
            borrow,
            supply,
        })
    }

    /// A copy with interest accrued to `now_s` (never before the last accrual): what readers
    /// project balances at. An accrual that fails (an absurd idle time) leaves the copy as it
    /// is; the command that touches the pool is refused for it.
    #[must_use]
    pub fn projected(&self, now_s: u64, params: &AssetParams) -> Self {
        // No time to accrue: an accrual of zero seconds changes nothing (so it is skipped:
        // readers project every pool after every price update).
        if now_s <= self.last_accrual_s {
            return self.clone();
        }
        let mut pool = self.clone();
        let _ = pool.accrue(now_s, params);
        pool
    }

    /// Brings the indices forward to `now_s`. The rate is the one at the utilisation before
    /// the period (rates change only at commands, as on-chain).
    ///
    /// # Errors
    /// `TimeWentBackwards` when `now_s` is before the last accrual; overflow after an absurd
    /// idle period. On error nothing changes.
    pub fn accrue(&mut self, now_s: u64, params: &AssetParams) -> Result<Accrual, PoolError> {
        let elapsed_s =
            now_s
                .checked_sub(self.last_accrual_s)
                .ok_or(PoolError::TimeWentBackwards {
                    now_s,
                    last_s: self.last_accrual_s,
                })?;
        let borrow_rate = params.rate_model.borrow_rate(self.utilisation()?)?;
        let mut next = self.clone();
        next.last_accrual_s = now_s;
        let (supplied, borrowed) = (self.supplied()?, self.borrowed()?);
        if elapsed_s > 0 && !self.debt_shares.is_zero() {
            next.borrow_index = grown_index(self.borrow_index, borrow_rate, elapsed_s)?;
            let interest = next.borrowed()?.checked_sub(borrowed)?;
            let cut = interest.mul_ratio(params.reserve_factor, Rounding::Up)?;
            let to_suppliers = interest.checked_sub(cut)?;
            next.supply_index = raised_index(self.supply_index, to_suppliers, self.supply_shares)?;
        }
        self.commit(next)?;
        let interest = self.borrowed()?.checked_sub(borrowed)?;
        let to_suppliers = self.supplied()?.checked_sub(supplied)?;
        Ok(Accrual {
            elapsed_s,
            borrow_rate,
            interest,
            to_suppliers,
            to_reserves: interest.checked_sub(to_suppliers)?,
        })
    }
}

/// `index · (1 + rate/year)^elapsed`, compounded per second, rounded up.
fn grown_index(index: Index, rate_per_year: Ratio, elapsed_s: u64) -> Result<Index, MathError> {
    let per_second = mul_div(
        rate_per_year.to_index()?.raw(),
        1,
        u128::from(SECONDS_PER_YEAR),
        Rounding::Up,
    )?;
    let growth = Index::ONE
        .checked_add(Index::from_raw(per_second))?
        .pow(elapsed_s, Rounding::Up)?;
    index.mul(growth, Rounding::Up)
}

/// The supply index raised so that `shares` gain at most `gain` in total; unchanged when
/// nobody supplies (the gain then stays in reserves).
fn raised_index(index: Index, gain: Amount, shares: Shares) -> Result<Index, MathError> {
    if shares.is_zero() {
        return Ok(index);
    }
    let step = mul_div(gain.raw(), RAY, shares.raw(), Rounding::Down)?;
    index.checked_add(Index::from_raw(step))
}
