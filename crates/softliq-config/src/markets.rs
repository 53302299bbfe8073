//! `markets.toml`: the listed assets and their risk parameters.
//!
//! ```toml
//! [[assets]]
//! symbol = "USDC"
//! decimals = 6
//! collateral_factor = "80%"
//! liquidation_threshold = "85%"
//! borrow_weight = "1"
//! liquidation_penalty = "5%"
//! liquidation_discount = "4%"
//! reserve_factor = "10%"
//! supply_cap = "2000000000"          # whole tokens, optional
//! rate_model = { base = "0%", slope1 = "4%", slope2 = "60%", optimal_utilisation = "90%" }
//! oracle = { max_staleness_s = 3600, max_jump = "10%", confirm_s = 300 }
//! auction_hole = "20000000"          # USD, optional: cap on tab under Dutch auction
//! ```
//!
//! Asset ids follow the order of the `[[assets]]` tables. An optional top-level
//! `profile = "aave_v3"` (before the tables) makes the market follow Aave v3.6's rules: its
//! assets are checked by Aave's listing rules (whole basis points, `ltv ≤ lt`, the
//! configurator's half-up `percentMul(lt, bonus) ≤ 100%`, no borrow weight) and its liquidation
//! policy is `aave_v3` (docs/liquidation.md, Protocol profiles). The default is `"softliq"`.

use std::collections::HashMap;
use std::path::Path;

use serde::Deserialize;
use softliq_core::asset::{Asset, AssetId, AssetParams, OracleGuards, RateModel};
use softliq_core::money::{Amount, Decimals};
use softliq_core::profile::Profile;

use crate::error::{ConfigError, from_toml};
use crate::number::Number;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MarketsFile {
    profile: Option<String>,
    assets: Vec<AssetEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AssetEntry {
    symbol: String,
    decimals: u8,
    collateral_factor: Number,
    liquidation_threshold: Number,
    borrow_weight: Number,
    liquidation_penalty: Number,
    liquidation_discount: Number,
    reserve_factor: Number,
    supply_cap: Option<Number>,
    borrow_cap: Option<Number>,
    rate_model: RateEntry,
    oracle: OracleEntry,
    /// USD, optional: the asset's cap on tab under Dutch auction.
    auction_hole: Option<Number>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RateEntry {
    base: Number,
    slope1: Number,
    slope2: Number,
    optimal_utilisation: Number,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OracleEntry {
    max_staleness_s: u64,
    max_jump: Number,
    confirm_s: u64,
}

/// The listed assets of a market, validated, with a symbol lookup.
#[derive(Debug, Clone)]
pub struct Markets {
    /// The rules the market follows (`profile = "..."`; softliq's own by default).
    pub profile: Profile,
    pub assets: Vec<Asset>,
    by_symbol: HashMap<String, AssetId>,
}

impl Markets {
    /// Reads and validates a markets file.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the file, the field and the problem.
    pub fn load(file: &Path) -> Result<Self, ConfigError> {
        Self::parse(file, &ConfigError::read(file)?)
    }

    /// Parses and validates markets TOML; `file` names it in errors.
    ///
    /// # Errors
    /// As [`Markets::load`].
    pub fn parse(file: &Path, text: &str) -> Result<Self, ConfigError> {
        let parsed: MarketsFile = from_toml(file, text)?;
        if parsed.assets.is_empty() {
            return Err(ConfigError::new(
                file,
                "assets",
                "at least one asset must be listed",
            ));
        }
        if parsed.assets.len() > usize::from(u16::MAX) {
            return Err(ConfigError::new(file, "assets", "at most 65535 assets"));
        }
        let profile = match parsed.profile.as_deref() {
            None => Profile::Softliq,
            Some(name) => Profile::by_name(name).ok_or_else(|| {
                ConfigError::new(
                    file,
                    "profile",
                    format!("unknown profile {name:?} (known: {})", Profile::NAMES),
                )
            })?,
        };
        let mut markets = Self {
            profile,
            assets: Vec::new(),
            by_symbol: HashMap::new(),
        };
        for (i, entry) in parsed.assets.iter().enumerate() {
            let id = AssetId::from_index(i);
            let at = format!("assets[{i}]");
            if markets.by_symbol.insert(entry.symbol.clone(), id).is_some() {
                return Err(ConfigError::new(
                    file,
                    format!("{at}.symbol"),
                    format!("{:?} is listed twice", entry.symbol),
                ));
            }
            let params = entry.params(file, &at)?;
            let asset = Asset::new_in(id, &entry.symbol, params, profile).map_err(|e| {
                ConfigError::new(
                    file,
                    format!("{at}.{}", e.field),
                    format!("{} is out of bounds: {}", e.value, e.bound),
                )
            })?;
            markets.assets.push(asset);
        }
        Ok(markets)
    }

    /// The liquidation policy the market's profile sets, if any (`aave_v3`); `None` for
    /// softliq's own rules, where the policy is chosen separately.
    #[must_use]
    pub const fn profile_policy(&self) -> Option<softliq_core::liquidation::Policy> {
        match self.profile {
            Profile::Softliq => None,
            Profile::AaveV3 => Some(softliq_core::liquidation::Policy::aave_v3()),
        }
    }

    /// The id of the asset called `symbol`.
    #[must_use]
    pub fn id(&self, symbol: &str) -> Option<AssetId> {
        self.by_symbol.get(symbol).copied()
    }

    /// The id of `symbol`, or an "unknown asset" error at `field` of `file` listing the assets.
    pub(crate) fn lookup(
        &self,
        file: &Path,
        field: &str,
        symbol: &str,
    ) -> Result<AssetId, ConfigError> {
        self.id(symbol).ok_or_else(|| {
            ConfigError::new(
                file,
                field,
                format!("unknown asset (listed: {})", self.symbols()),
            )
        })
    }

    #[must_use]
    pub fn asset(&self, id: AssetId) -> &Asset {
        &self.assets[id.index()]
    }

    /// The listed symbols, in id order (for "unknown asset" messages).
    #[must_use]
    pub fn symbols(&self) -> String {
        self.assets
            .iter()
            .map(|a| a.symbol.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl AssetEntry {
    fn params(&self, file: &Path, at: &str) -> Result<AssetParams, ConfigError> {
        let field = |name: &str| format!("{at}.{name}");
        let bad = |e: softliq_core::money::ParseError| {
            ConfigError::new(
                file,
                e.field.clone(),
                format!("{} (got {:?})", e.problem, e.text),
            )
        };
        let ratio = |n: &Number, name: &str| n.ratio(&field(name)).map_err(bad);
        let decimals = Decimals::new(self.decimals).ok_or_else(|| {
            ConfigError::new(
                file,
                field("decimals"),
                format!(
                    "{} is out of bounds: 0 <= decimals <= {}",
                    self.decimals,
                    Decimals::MAX
                ),
            )
        })?;
        let cap = |n: &Option<Number>, name: &str| -> Result<Option<Amount>, ConfigError> {
            n.as_ref()
                .map(|n| n.tokens(&field(name), decimals).map_err(bad))
                .transpose()
        };
        Ok(AssetParams {
            decimals,
            collateral_factor: ratio(&self.collateral_factor, "collateral_factor")?,
            liquidation_threshold: ratio(&self.liquidation_threshold, "liquidation_threshold")?,
            borrow_weight: ratio(&self.borrow_weight, "borrow_weight")?,
            liquidation_penalty: ratio(&self.liquidation_penalty, "liquidation_penalty")?,
            liquidation_discount: ratio(&self.liquidation_discount, "liquidation_discount")?,
            reserve_factor: ratio(&self.reserve_factor, "reserve_factor")?,
            rate_model: RateModel {
                base: ratio(&self.rate_model.base, "rate_model.base")?,
                slope1: ratio(&self.rate_model.slope1, "rate_model.slope1")?,
                slope2: ratio(&self.rate_model.slope2, "rate_model.slope2")?,
                optimal_utilisation: ratio(
                    &self.rate_model.optimal_utilisation,
                    "rate_model.optimal_utilisation",
                )?,
            },
            supply_cap: cap(&self.supply_cap, "supply_cap")?,
            borrow_cap: cap(&self.borrow_cap, "borrow_cap")?,
            oracle: OracleGuards {
                max_staleness_s: self.oracle.max_staleness_s,
                max_jump: ratio(&self.oracle.max_jump, "oracle.max_jump")?,
                confirm_s: self.oracle.confirm_s,
            },
            auction_hole: self
                .auction_hole
                .as_ref()
                .map(|n| n.usd(&field("auction_hole")).map_err(bad))
                .transpose()?,
        })
    }
}
