//! A cross-margin account: per asset, a supply balance and a debt balance, both in shares.

use smallvec::SmallVec;

use crate::asset::AssetId;
use crate::money::{MathError, Shares};

/// Owner-facing account identifier.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct AccountId(pub u64);

// Account ids index in-memory tables; softliq targets 64-bit platforms, where that is lossless.
const _: () = assert!(usize::BITS >= u64::BITS, "softliq needs a 64-bit platform");

impl AccountId {
    /// The id as an index into a table of accounts (lossless: see the assertion above).
    #[inline]
    #[must_use]
    #[allow(clippy::cast_possible_truncation)]
    pub const fn index(self) -> usize {
        self.0 as usize
    }

    /// The id of the account at `index` (lossless on the 64-bit platforms softliq targets).
    #[inline]
    #[must_use]
    pub const fn from_index(index: usize) -> Self {
        Self(index as u64)
    }
}

/// One asset's balances in an account. An asset may be both supplied and borrowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Position {
    pub asset: AssetId,
    pub supply: Shares,
    pub debt: Shares,
}

impl Position {
    #[must_use]
    pub const fn is_empty(&self) -> bool {
        self.supply.is_zero() && self.debt.is_zero()
    }
}

/// An account's positions, sorted by asset, with no empty position kept: the shape health
/// computations walk in one pass. Up to two positions (most accounts: one collateral, one
/// debt) are held inline, so reading an account in a market of millions costs one cache miss
/// rather than two; the encoding is a plain sequence either way.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Account {
    positions: SmallVec<[Position; 2]>,
}

impl Account {
    #[must_use]
    pub const fn new() -> Self {
        Self {
            positions: SmallVec::new_const(),
        }
    }

    /// The non-empty positions, sorted by asset.
    #[must_use]
    pub fn positions(&self) -> &[Position] {
        &self.positions
    }

    /// The position in `asset`, or an empty one.
    #[must_use]
    pub fn position(&self, asset: AssetId) -> Position {
        self.find(asset).map_or(
            Position {
                asset,
                supply: Shares::ZERO,
                debt: Shares::ZERO,
            },
            |i| self.positions[i],
        )
    }

    /// True when the account owes anything.
    #[must_use]
    pub fn has_debt(&self) -> bool {
        self.positions.iter().any(|p| !p.debt.is_zero())
    }

    fn find(&self, asset: AssetId) -> Option<usize> {
        self.positions
            .binary_search_by_key(&asset, |p| p.asset)
            .ok()
    }

    /// Applies `change` to the position in `asset` (created if absent, dropped if it ends
    /// empty). On error nothing changes.
    fn update(
        &mut self,
        asset: AssetId,
        change: impl FnOnce(&mut Position) -> Result<(), MathError>,
    ) -> Result<(), MathError> {
        let mut pos = self.position(asset);
        change(&mut pos)?;
        match (
            self.positions.binary_search_by_key(&asset, |p| p.asset),
            pos.is_empty(),
        ) {
            (Ok(i), true) => {
                self.positions.remove(i);
            }
            (Ok(i), false) => self.positions[i] = pos,
            (Err(i), false) => self.positions.insert(i, pos),
            (Err(_), true) => {}
        }
        Ok(())
    }

    /// # Errors
    /// `Overflow`.
    pub fn add_supply(&mut self, asset: AssetId, shares: Shares) -> Result<(), MathError> {
        self.update(asset, |p| {
            p.supply = p.supply.checked_add(shares)?;
            Ok(())
        })
    }

    /// # Errors
    /// `Negative` when the account holds fewer shares.
    pub fn remove_supply(&mut self, asset: AssetId, shares: Shares) -> Result<(), MathError> {
        self.update(asset, |p| {
            p.supply = p.supply.checked_sub(shares)?;
            Ok(())
        })
    }

    /// # Errors
    /// `Overflow`.
    pub fn add_debt(&mut self, asset: AssetId, shares: Shares) -> Result<(), MathError> {
        self.update(asset, |p| {
            p.debt = p.debt.checked_add(shares)?;
            Ok(())
        })
    }

    /// # Errors
    /// `Negative` when the account owes fewer shares.
    pub fn remove_debt(&mut self, asset: AssetId, shares: Shares) -> Result<(), MathError> {
        self.update(asset, |p| {
            p.debt = p.debt.checked_sub(shares)?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_stay_sorted_and_empty_ones_go() {
        let mut a = Account::new();
        a.add_supply(AssetId(3), Shares::from_raw(5)).unwrap();
        a.add_debt(AssetId(1), Shares::from_raw(7)).unwrap();
        a.add_supply(AssetId(1), Shares::from_raw(2)).unwrap();
        let assets: Vec<_> = a.positions().iter().map(|p| p.asset.0).collect();
        assert_eq!(assets, [1, 3]);
        assert!(a.has_debt());
        a.remove_debt(AssetId(1), Shares::from_raw(7)).unwrap();
        assert!(!a.has_debt());
        assert_eq!(a.positions().len(), 2, "asset 1 still has supply");
        a.remove_supply(AssetId(1), Shares::from_raw(2)).unwrap();
        assert_eq!(a.positions().len(), 1);
        assert_eq!(
            a.remove_supply(AssetId(3), Shares::from_raw(6)),
            Err(MathError::Negative)
        );
        assert_eq!(
            a.position(AssetId(3)).supply,
            Shares::from_raw(5),
            "refusal changed nothing"
        );
    }
}
