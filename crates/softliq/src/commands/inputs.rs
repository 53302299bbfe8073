//! The three input files every account-level command reads, loaded and checked once.

use std::path::PathBuf;

use anyhow::{Result, bail};
use softliq_config::{AccountInput, Markets, PriceInput};
use softliq_core::account::Account;
use softliq_core::asset::AssetId;
use softliq_core::health::RiskSnapshot;
use softliq_core::money::Amount;
use softliq_core::pool::Pool;

#[derive(clap::Args)]
pub struct InputArgs {
    /// Markets file (TOML): listed assets and their risk parameters.
    #[arg(long, default_value = "examples/markets.toml")]
    pub markets: PathBuf,
    /// Account file (JSON): the owner's supply and debt in whole tokens.
    #[arg(long, default_value = "examples/account.json")]
    pub account: PathBuf,
    /// Prices file (JSON): USD per whole token and the time of the prices.
    #[arg(long, default_value = "examples/prices.json")]
    pub prices: PathBuf,
}

/// The loaded inputs: markets, the account, its prices, and pools that hold it.
pub struct Inputs {
    pub markets: Markets,
    pub owner: String,
    pub account: Account,
    pub prices: PriceInput,
    /// One pool per asset at index 1 holding the account's balances, with other suppliers'
    /// cash beside them, so that calls can be settled exactly as the engine would.
    pub pools: Vec<Pool>,
}

impl Inputs {
    /// Loads and cross-checks the three files.
    ///
    /// # Errors
    /// A file that cannot be used, named with its field; a held asset without a price.
    pub fn load(args: &InputArgs) -> Result<Self> {
        let markets = Markets::load(&args.markets)?;
        let input = AccountInput::load(&args.account, &markets)?;
        let prices = PriceInput::load(&args.prices, &markets)?;
        for pos in input.account.positions() {
            if prices.prices[pos.asset.index()].is_none() {
                let symbol = &markets.asset(pos.asset).symbol;
                bail!(
                    "{}: prices.{symbol}: missing: the account in {} holds {symbol}",
                    args.prices.display(),
                    args.account.display()
                );
            }
        }
        let pools = pools_holding(&input.account, markets.assets.len(), prices.timestamp_s)?;
        Ok(Self {
            markets,
            owner: input.owner,
            account: input.account,
            prices,
            pools,
        })
    }

    /// The snapshot of the market at the given prices.
    pub fn snapshot(&self) -> RiskSnapshot {
        RiskSnapshot::of_market(&self.markets.assets, &self.pools, &self.prices.prices)
    }

    pub fn symbol(&self, asset: AssetId) -> &str {
        &self.markets.asset(asset).symbol
    }
}

/// Pools at index 1 whose shares are exactly the account's (shares equal base units there):
/// other suppliers first lend as much as the account borrows, then the account deposits and
/// borrows.
fn pools_holding(account: &Account, assets: usize, now_s: u64) -> Result<Vec<Pool>> {
    let mut pools = vec![Pool::new(now_s); assets];
    for pos in account.positions() {
        let pool = &mut pools[pos.asset.index()];
        let (supply, debt) = (
            Amount::from_raw(pos.supply.raw()),
            Amount::from_raw(pos.debt.raw()),
        );
        if !debt.is_zero() {
            pool.deposit(debt, None)?;
        }
        if !supply.is_zero() {
            pool.deposit(supply, None)?;
        }
        if !debt.is_zero() {
            pool.borrow(debt, None)?;
        }
    }
    Ok(pools)
}
