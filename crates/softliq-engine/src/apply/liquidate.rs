//! The permissionless liquidation call: the core's quote and settlement (docs/liquidation.md) under
//! the market's policy, at the market's liquidation prices, behind the oracle guards
//! (docs/engine.md, Oracle guards) and the caller's slippage limit.

use softliq_core::asset::AssetId;
use softliq_core::liquidation::{Parties, Request, liquidate};
use softliq_core::money::Amount;

use super::{parse_amount, record_payment};
use crate::command::CommandBody;
use crate::engine::Engine;
use crate::event::{Event, Liquidation};
use crate::rejection::{Code, Rejection};
use crate::state::{INSURANCE, TREASURY};

impl Engine {
    pub(crate) fn check_oracle(
        &self,
        field: &str,
        asset: AssetId,
        now_s: u64,
    ) -> Result<(), Rejection> {
        let oracle = &self.state.oracles[asset.index()];
        let guards = &self.asset_ref(field, asset)?.params().oracle;
        if oracle.is_stale(now_s, guards) {
            return Err(Rejection::new(
                Code::StalePrice,
                field,
                format!(
                    "the price of asset {} is missing or older than max_staleness_s = {}",
                    asset.0, guards.max_staleness_s
                ),
            ));
        }
        if let Some(b) = oracle.open_breaker(now_s) {
            return Err(Rejection::new(
                Code::BreakerOpen,
                field,
                format!(
                    "the circuit breaker of asset {} is open until {} or a confirming price",
                    asset.0, b.until_s
                ),
            ));
        }
        Ok(())
    }

    pub(crate) fn liquidate(
        &mut self,
        now_s: u64,
        body: &CommandBody,
    ) -> Result<Vec<Event>, Rejection> {
        let CommandBody::Liquidate {
            liquidator,
            borrower,
            debt_asset,
            collateral_asset,
            max_repay,
            min_collateral_out,
        } = body
        else {
            unreachable!("dispatched on Liquidate");
        };
        let b = self.user_account("borrower", *borrower)?;
        let l = self.user_account("liquidator", *liquidator)?;
        if b == l {
            return Err(Rejection::new(
                Code::InvalidParams,
                "liquidator",
                "a borrower cannot liquidate itself",
            ));
        }
        let d_params = self.asset_ref("debt_asset", *debt_asset)?.params();
        let c_params = self
            .asset_ref("collateral_asset", *collateral_asset)?
            .params();
        let max_repay = parse_amount("max_repay", max_repay, d_params.decimals)?;
        // Zero is a valid floor here: "no slippage limit".
        let min_out =
            Amount::parse_tokens("min_collateral_out", min_collateral_out, c_params.decimals)
                .map_err(|e| Rejection::parse(&e))?;
        self.check_oracle("debt_asset", *debt_asset, now_s)?;
        self.check_oracle("collateral_asset", *collateral_asset, now_s)?;

        let mut events = Vec::new();
        let mut pools = self.accrued_pools(now_s, &mut events)?;
        let accounts = &self.state.accounts;
        let mut borrower_acct = accounts[b].account.clone();
        let mut liquidator_acct = accounts[l].account.clone();
        let mut treasury = accounts[TREASURY.index()].account.clone();
        let mut insurance = accounts[INSURANCE.index()].account.clone();
        let policy = self.state.market.policy;
        let request = Request {
            debt_asset: *debt_asset,
            collateral_asset: *collateral_asset,
            max_repay,
            liquidatable_for_s: self.state.liquidatable_for_s(*borrower, now_s),
        };
        let settlement = liquidate(
            &mut Parties {
                borrower: &mut borrower_acct,
                liquidator: &mut liquidator_acct,
                treasury: &mut treasury,
                insurance: &mut insurance,
            },
            &mut pools,
            &self.views.liq,
            &policy,
            &request,
        )
        .map_err(Rejection::refusal)?;
        if settlement.quote.to_liquidator < min_out {
            return Err(Rejection::new(
                Code::Slippage,
                "min_collateral_out",
                format!(
                    "the call pays {} base units, less than the {} asked for",
                    settlement.quote.to_liquidator, min_out
                ),
            ));
        }
        record_payment(
            &mut self.state.flows,
            ("max_repay", *debt_asset, settlement.paid),
            &settlement.bad_debt,
        )?;
        let accounts = &mut self.state.accounts;
        accounts[b].account = borrower_acct;
        accounts[l].account = liquidator_acct;
        accounts[TREASURY.index()].account = treasury;
        accounts[INSURANCE.index()].account = insurance;
        self.state.pools = pools;
        events.push(Event::Liquidated(Box::new(Liquidation {
            borrower: *borrower,
            liquidator: *liquidator,
            policy: policy.name().to_owned(),
            quote: settlement.quote,
            treasury_shares: settlement.treasury_shares,
            insurance_shares: settlement.insurance_shares,
        })));
        events.extend(settlement.bad_debt.iter().map(|&step| Event::BadDebt {
            account: *borrower,
            step,
        }));
        Ok(events)
    }
}
