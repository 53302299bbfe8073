//! Assets: identity, risk parameters and the interest-rate model (docs/configuration.md,
//! docs/interest.md).

mod params;
mod rate_model;
#[cfg(test)]
mod tests;

pub use params::{AssetParams, OracleGuards, ParamError, bounds};
pub use rate_model::{RATE_MAX, RateModel};

/// Dense asset identifier: the position of the asset in its market's listing order.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct AssetId(pub u16);

impl AssetId {
    #[must_use]
    pub const fn index(self) -> usize {
        self.0 as usize
    }

    /// The id of the asset at `index` in a market's list (ids are dense); saturates past
    /// `u16::MAX`, which no market reaches (listing refuses it).
    #[must_use]
    pub fn from_index(index: usize) -> Self {
        Self(u16::try_from(index).unwrap_or(u16::MAX))
    }
}

/// A listed asset: its symbol and its (validated) parameters.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Asset {
    pub id: AssetId,
    pub symbol: String,
    params: AssetParams,
}

impl Asset {
    /// Lists an asset after validating its parameters.
    ///
    /// # Errors
    /// The first parameter out of bounds.
    pub fn new(
        id: AssetId,
        symbol: impl Into<String>,
        params: AssetParams,
    ) -> Result<Self, ParamError> {
        Self::new_in(id, symbol, params, crate::profile::Profile::Softliq)
    }

    /// An asset of a market that follows `profile`, validated by its rules
    /// ([`AssetParams::validate_in`]).
    ///
    /// # Errors
    /// The first parameter out of bounds, named.
    pub fn new_in(
        id: AssetId,
        symbol: impl Into<String>,
        params: AssetParams,
        profile: crate::profile::Profile,
    ) -> Result<Self, ParamError> {
        params.validate_in(profile)?;
        Ok(Self {
            id,
            symbol: symbol.into(),
            params,
        })
    }

    #[must_use]
    pub const fn params(&self) -> &AssetParams {
        &self.params
    }

    /// Replaces the parameters; on refusal nothing changes.
    ///
    /// # Errors
    /// As [`AssetParams::validate_update`].
    pub fn update(&mut self, next: AssetParams) -> Result<(), ParamError> {
        self.update_in(next, crate::profile::Profile::Softliq)
    }

    /// [`Asset::update`] in a market that follows `profile` ([`AssetParams::validate_in`]).
    ///
    /// # Errors
    /// The first parameter out of bounds, or a change of decimals.
    pub fn update_in(
        &mut self,
        next: AssetParams,
        profile: crate::profile::Profile,
    ) -> Result<(), ParamError> {
        self.params.validate_update(&next)?;
        next.validate_in(profile)?;
        self.params = next;
        Ok(())
    }
}
