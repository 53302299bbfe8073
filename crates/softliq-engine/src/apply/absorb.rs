//! Protocol absorb and the storefront (the core's `absorb` and `buy_collateral`), under the
//! market's absorb parameters, at the market's liquidation prices, behind the oracle guards.

use softliq_core::account::AccountId;
use softliq_core::liquidation::{Absorb, Protocol, Purchase, Refusal, absorb, buy_collateral};
use softliq_core::money::Amount;

use super::{parse_amount, record_payment, record_socialised};
use crate::command::CommandBody;
use crate::engine::Engine;
use crate::event::{Absorbed, Bought, Event};
use crate::rejection::{Code, Rejection};
use crate::state::{INSURANCE, TREASURY};

impl Engine {
    fn absorb_params(&self) -> Result<Absorb, Rejection> {
        self.state
            .market
            .policy
            .absorb
            .ok_or_else(|| Rejection::refusal(Refusal::NoAbsorb))
    }

    pub(crate) fn absorb(
        &mut self,
        now_s: u64,
        absorber: AccountId,
        borrower: AccountId,
    ) -> Result<Vec<Event>, Rejection> {
        let b = self.user_account("borrower", borrower)?;
        self.user_account("absorber", absorber)?;
        let params = self.absorb_params()?;
        for p in self.state.accounts[b].account.positions() {
            self.check_oracle("borrower", p.asset, now_s)?;
        }
        let mut events = Vec::new();
        let mut pools = self.accrued_pools(now_s, &mut events)?;
        let mut account = self.state.accounts[b].account.clone();
        let mut treasury = self.state.accounts[TREASURY.index()].account.clone();
        let mut insurance = self.state.accounts[INSURANCE.index()].account.clone();
        let absorption = absorb(
            &mut account,
            &mut Protocol {
                treasury: &mut treasury,
                insurance: &mut insurance,
            },
            &mut pools,
            &self.views.liq,
            &params,
            self.state.liquidatable_for_s(borrower, now_s),
        )
        .map_err(Rejection::refusal)?;
        // No tokens cross the boundary; only the shortfall's write-offs are recorded.
        record_socialised(&mut self.state.flows, &absorption.bad_debt);
        self.commit_protocol(pools, (b, account), treasury, insurance);
        let steps = absorption.bad_debt.clone();
        events.push(Event::Absorbed(Box::new(Absorbed {
            borrower,
            absorber,
            absorption,
        })));
        events.extend(steps.into_iter().map(|step| Event::BadDebt {
            account: borrower,
            step,
        }));
        Ok(events)
    }

    pub(crate) fn buy_collateral(
        &mut self,
        now_s: u64,
        body: &CommandBody,
    ) -> Result<Vec<Event>, Rejection> {
        let CommandBody::BuyCollateral {
            buyer,
            asset,
            pay_asset,
            max_pay,
            min_out,
        } = body
        else {
            unreachable!("dispatched on BuyCollateral");
        };
        let b = self.user_account("buyer", *buyer)?;
        let decimals = self.asset_ref("asset", *asset)?.params().decimals;
        let pay_decimals = self.asset_ref("pay_asset", *pay_asset)?.params().decimals;
        let max_pay = parse_amount("max_pay", max_pay, pay_decimals)?;
        let min_out =
            Amount::parse_tokens("min_out", min_out, decimals).map_err(|e| Rejection::parse(&e))?;
        let params = self.absorb_params()?;
        self.check_oracle("asset", *asset, now_s)?;
        self.check_oracle("pay_asset", *pay_asset, now_s)?;
        let mut events = Vec::new();
        let mut pools = self.accrued_pools(now_s, &mut events)?;
        let mut account = self.state.accounts[b].account.clone();
        let mut treasury = self.state.accounts[TREASURY.index()].account.clone();
        let mut insurance = self.state.accounts[INSURANCE.index()].account.clone();
        let sale = buy_collateral(
            &mut Protocol {
                treasury: &mut treasury,
                insurance: &mut insurance,
            },
            &mut account,
            &mut pools,
            &self.views.liq,
            &params,
            &Purchase {
                asset: *asset,
                pay_asset: *pay_asset,
                max_pay,
            },
        )
        .map_err(|e| match e {
            Refusal::ZeroAmount | Refusal::TakeTooSmall => {
                Rejection::new(Code::ZeroAmount, "max_pay", e.to_string())
            }
            Refusal::SameAsset => Rejection::new(Code::InvalidParams, "pay_asset", e.to_string()),
            e => Rejection::refusal(e),
        })?;
        if sale.amount < min_out {
            return Err(Rejection::new(
                Code::Slippage,
                "min_out",
                format!(
                    "the purchase buys {} base units, less than the {} asked for",
                    sale.amount, min_out
                ),
            ));
        }
        record_payment(
            &mut self.state.flows,
            ("max_pay", *pay_asset, sale.paid),
            &sale.bad_debt,
        )?;
        self.commit_protocol(pools, (b, account), treasury, insurance);
        let steps = sale.bad_debt.clone();
        events.push(Event::CollateralBought(Box::new(Bought {
            buyer: *buyer,
            sale,
        })));
        events.extend(steps.into_iter().map(|step| Event::BadDebt {
            account: TREASURY,
            step,
        }));
        Ok(events)
    }

    /// Writes back the pools, one user account and the protocol's two accounts.
    fn commit_protocol(
        &mut self,
        pools: Vec<softliq_core::pool::Pool>,
        (index, account): (usize, softliq_core::account::Account),
        treasury: softliq_core::account::Account,
        insurance: softliq_core::account::Account,
    ) {
        let accounts = &mut self.state.accounts;
        accounts[index].account = account;
        accounts[TREASURY.index()].account = treasury;
        accounts[INSURANCE.index()].account = insurance;
        self.state.pools = pools;
    }
}
