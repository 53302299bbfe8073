//! `account.json`: one account's balances in whole tokens.
//!
//! ```json
//! { "owner": "alice", "supply": { "WETH": "10" }, "debt": { "USDC": "15000" } }
//! ```
//!
//! Balances are taken at index 1 (a fresh pool), so shares equal base units.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use softliq_core::account::Account;
use softliq_core::money::Shares;

use crate::error::{ConfigError, from_json};
use crate::markets::Markets;
use crate::number::Number;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AccountFile {
    owner: String,
    #[serde(default)]
    supply: BTreeMap<String, Number>,
    #[serde(default)]
    debt: BTreeMap<String, Number>,
}

/// An account read from a file, with its owner's name.
#[derive(Debug, Clone)]
pub struct AccountInput {
    pub owner: String,
    pub account: Account,
}

impl AccountInput {
    /// Reads an account file against `markets`.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the file and field: malformed JSON, an unknown asset, a bad
    /// number.
    pub fn load(file: &Path, markets: &Markets) -> Result<Self, ConfigError> {
        Self::parse(file, &ConfigError::read(file)?, markets)
    }

    /// # Errors
    /// As [`AccountInput::load`].
    pub fn parse(file: &Path, text: &str, markets: &Markets) -> Result<Self, ConfigError> {
        let parsed: AccountFile = from_json(file, text)?;
        let mut account = Account::new();
        for (side, balances) in [("supply", &parsed.supply), ("debt", &parsed.debt)] {
            for (symbol, number) in balances {
                let field = format!("{side}.{symbol}");
                let id = markets.lookup(file, &field, symbol)?;
                let decimals = markets.asset(id).params().decimals;
                let amount = number
                    .tokens(&field, decimals)
                    .map_err(|e| ConfigError::parse(file, &e))?;
                let shares = Shares::from_raw(amount.raw());
                let added = if side == "supply" {
                    account.add_supply(id, shares)
                } else {
                    account.add_debt(id, shares)
                };
                added.map_err(|e| ConfigError::new(file, &field, e))?;
            }
        }
        Ok(Self {
            owner: parsed.owner,
            account,
        })
    }
}
