//! Market administration and the oracle: listing assets, updating parameters, setting the
//! policy, opening accounts, posting prices and moving the clock.

use softliq_core::account::{Account, AccountId};
use softliq_core::asset::{Asset, AssetId, AssetParams};
use softliq_core::liquidation::Policy;
use softliq_core::pool::Pool;

use crate::command::PriceSource;
use crate::engine::Engine;
use crate::event::Event;
use crate::oracle::{Oracle, validate_source};
use crate::rejection::{Code, Rejection};
use crate::state::{ASSETS_MAX, AccountEntry, Flows};

/// Longest symbol or owner name.
const NAME_LEN_MAX: usize = 64;

fn check_name(field: &str, name: &str) -> Result<(), Rejection> {
    if name.is_empty() || name.len() > NAME_LEN_MAX || name.chars().any(char::is_control) {
        return Err(Rejection::new(
            Code::InvalidParams,
            field,
            format!("must be 1 to {NAME_LEN_MAX} printable characters"),
        ));
    }
    Ok(())
}

/// A symbol of an asset or a perp market: a name, unique among its kind, and not all digits
/// (the API reads digits as an id, so such a symbol could never be named).
pub(crate) fn check_symbol<'a>(
    symbol: &str,
    mut listed: impl Iterator<Item = &'a str>,
) -> Result<(), Rejection> {
    check_name("symbol", symbol)?;
    if symbol.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Rejection::new(
            Code::InvalidParams,
            "symbol",
            format!("{symbol} is all digits, which reads as an id; add a letter"),
        ));
    }
    if listed.any(|s| s == symbol) {
        return Err(Rejection::new(
            Code::InvalidParams,
            "symbol",
            format!("{symbol} is already listed"),
        ));
    }
    Ok(())
}

impl Engine {
    /// The policy checked against every asset's parameters, with `next` in place of asset
    /// `replace` (or appended when `replace` is the next id).
    fn check_policy(
        &self,
        policy: &Policy,
        replace: Option<(AssetId, &str, &AssetParams)>,
    ) -> Result<(), Rejection> {
        let mut list: Vec<(&str, &AssetParams)> = self
            .state
            .assets
            .iter()
            .map(|a| (a.symbol.as_str(), a.params()))
            .collect();
        if let Some((id, symbol, params)) = replace {
            if id.index() < list.len() {
                list[id.index()] = (symbol, params);
            } else {
                list.push((symbol, params));
            }
        }
        policy.validate(&list).map_err(|e| {
            Rejection::new(
                Code::InvalidParams,
                &format!("policy.{}", e.field),
                format!("{} is out of bounds: {}", e.value, e.bound),
            )
        })
    }

    pub(crate) fn list_asset(
        &mut self,
        now_s: u64,
        symbol: &str,
        params: &AssetParams,
    ) -> Result<Vec<Event>, Rejection> {
        check_symbol(symbol, self.state.assets.iter().map(|a| a.symbol.as_str()))?;
        if self.state.assets.len() >= ASSETS_MAX {
            return Err(Rejection::new(
                Code::InvalidParams,
                "symbol",
                format!("at most {ASSETS_MAX} assets per market"),
            ));
        }
        let id = AssetId::from_index(self.state.assets.len());
        let profile = self.state.market.policy.profile();
        let asset = Asset::new_in(id, symbol, params.clone(), profile)
            .map_err(|e| Rejection::params(&e))?;
        self.check_policy(&self.state.market.policy, Some((id, symbol, params)))?;
        self.state.assets.push(asset);
        self.state.pools.push(Pool::new(now_s));
        self.state.oracles.push(Oracle::default());
        self.state.flows.push(Flows::default());
        Ok(vec![Event::AssetListed {
            asset: id,
            symbol: symbol.to_owned(),
        }])
    }

    pub(crate) fn update_params(
        &mut self,
        now_s: u64,
        id: AssetId,
        params: &AssetParams,
    ) -> Result<Vec<Event>, Rejection> {
        let mut asset = self.asset_ref("asset", id)?.clone();
        // Interest up to now accrues at the old parameters.
        let mut events = Vec::new();
        let pool = self.accrued_pool(id, now_s, &mut events)?;
        asset
            .update_in(params.clone(), self.state.market.policy.profile())
            .map_err(|e| Rejection::params(&e))?;
        self.check_policy(
            &self.state.market.policy,
            Some((id, &asset.symbol, asset.params())),
        )?;
        self.state.assets[id.index()] = asset;
        self.state.pools[id.index()] = pool;
        events.push(Event::ParamsUpdated { asset: id });
        Ok(events)
    }

    pub(crate) fn set_policy(
        &mut self,
        policy: &Policy,
        liquidation_price: PriceSource,
    ) -> Result<Vec<Event>, Rejection> {
        self.check_policy(policy, None)?;
        validate_source(liquidation_price)?;
        let running = self.state.auctions.book.active().count();
        if running > 0 && policy.auction().is_none() {
            return Err(Rejection::new(
                Code::InvalidParams,
                "policy",
                format!(
                    "{running} auctions are running; they must end before the market leaves dutch"
                ),
            ));
        }
        self.state.market.policy = *policy;
        self.state.market.liquidation_price = liquidation_price;
        Ok(vec![Event::PolicySet {
            policy: Box::new(*policy),
            liquidation_price,
        }])
    }

    pub(crate) fn open_account(&mut self, owner: &str) -> Result<Vec<Event>, Rejection> {
        check_name("owner", owner)?;
        let account = AccountId(self.state.accounts.len() as u64);
        self.state.accounts.push(AccountEntry {
            owner: owner.to_owned(),
            account: Account::new(),
        });
        Ok(vec![Event::AccountOpened {
            account,
            owner: owner.to_owned(),
        }])
    }

    pub(crate) fn post_price(
        &mut self,
        now_s: u64,
        id: AssetId,
        text: &str,
        published_s: u64,
    ) -> Result<Vec<Event>, Rejection> {
        let guards = self.asset_ref("asset", id)?.params().oracle;
        let price = super::parse_price("price", text)?;
        // In place: `Oracle::post` checks everything before it changes anything, and a copy
        // would copy up to a day of price history.
        crate::oracle::post(
            &mut self.state.oracles[id.index()],
            id,
            price,
            (published_s, now_s),
            &guards,
        )
    }

    pub(crate) fn advance_time(&mut self, now_s: u64) -> Result<Vec<Event>, Rejection> {
        let mut events = Vec::new();
        self.state.pools = self.accrued_pools(now_s, &mut events)?;
        Ok(events)
    }
}
