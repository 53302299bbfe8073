//! `prices.json`: oracle prices in USD per whole token, with their time.
//!
//! ```json
//! { "timestamp": 1722816000, "prices": { "WETH": "2300.5", "USDC": "1" } }
//! ```

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use softliq_core::money::Price;

use crate::error::{ConfigError, from_json};
use crate::markets::Markets;
use crate::number::Number;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PricesFile {
    timestamp: u64,
    prices: BTreeMap<String, Number>,
}

/// Prices indexed by asset id (`None` where the file gives none), and their Unix time.
#[derive(Debug, Clone)]
pub struct PriceInput {
    pub timestamp_s: u64,
    pub prices: Vec<Option<Price>>,
}

impl PriceInput {
    /// # Errors
    /// A [`ConfigError`] naming the file and field: an unknown asset, a bad or zero price.
    pub fn load(file: &Path, markets: &Markets) -> Result<Self, ConfigError> {
        Self::parse(file, &ConfigError::read(file)?, markets)
    }

    /// # Errors
    /// As [`PriceInput::load`].
    pub fn parse(file: &Path, text: &str, markets: &Markets) -> Result<Self, ConfigError> {
        let parsed: PricesFile = from_json(file, text)?;
        let mut prices = vec![None; markets.assets.len()];
        for (symbol, number) in &parsed.prices {
            let field = format!("prices.{symbol}");
            let id = markets.lookup(file, &field, symbol)?;
            let price = number
                .price(&field)
                .map_err(|e| ConfigError::parse(file, &e))?;
            if price.is_zero() {
                return Err(ConfigError::new(file, &field, "must be greater than zero"));
            }
            prices[id.index()] = Some(price);
        }
        Ok(Self {
            timestamp_s: parsed.timestamp,
            prices,
        })
    }
}
