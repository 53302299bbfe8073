//! Protocol profiles (docs/liquidation.md, "Protocol profiles"): a named set of valuation,
//! rounding, liquidation line, dust and bad-debt rules that reproduces another protocol's
//! liquidation exactly, chosen as a unit rather than by separate flags.
//!
//! `softliq` is the default: softliq's own rules (WAD values, `HF ≤ 1` liquidatable, dust
//! handled by shrinking a call, bad debt left to the loss waterfall). `aave_v3` is Aave v3.6
//! to the wei ([`aave_v3`]).

pub mod aave_v3;

/// Which protocol's rules a market follows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Profile {
    /// softliq's own rules.
    #[default]
    Softliq,
    /// Aave v3.6 (aave-v3-origin 3.6.0): see [`aave_v3`].
    AaveV3,
}

impl Profile {
    /// The names configs use, for messages.
    pub const NAMES: &str = "softliq, aave_v3";

    /// The profile's name as configs spell it.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Softliq => "softliq",
            Self::AaveV3 => "aave_v3",
        }
    }

    /// The profile called `name`.
    #[must_use]
    pub fn by_name(name: &str) -> Option<Self> {
        [Self::Softliq, Self::AaveV3]
            .into_iter()
            .find(|p| p.name() == name)
    }
}
