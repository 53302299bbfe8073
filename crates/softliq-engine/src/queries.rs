//! Typed reads of the engine (`&self` only): what the server serialises and the simulator and
//! CLI compute the same way. No read can change the engine; commands go through the log.

use softliq_core::account::AccountId;
use softliq_core::asset::AssetId;
use softliq_core::health::{HealthError, largest_pair};
use softliq_core::liquidation::{Quote, Refusal, Request, plan, quote};
use softliq_core::money::Amount;

use crate::engine::Engine;

/// A liquidation call asked for on one pair, repaying at most `max_repay` of the debt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PairAsked {
    pub debt_asset: AssetId,
    pub collateral_asset: AssetId,
    pub max_repay: Amount,
}

/// The largest debt and largest collateral of an account (`None` on a side with nothing of
/// value).
pub type LargestPair = (Option<AssetId>, Option<AssetId>);

impl Engine {
    /// The market policy's call on `borrower` at the engine's time and liquidation prices: on
    /// the pair asked for, else on the pair that pays the liquidator most (`plan`). The
    /// account's age as liquidatable is taken at the engine's time, so a call submitted later
    /// is priced at its own, older age. `None` when no call is open.
    ///
    /// # Errors
    /// The policy's refusal. An unknown account has no call (`Ok(None)`): callers that must
    /// tell the two apart look the account up first.
    pub fn liquidation_quote(
        &self,
        borrower: AccountId,
        asked: Option<PairAsked>,
    ) -> Result<Option<Quote>, Refusal> {
        let (state, views) = self.state_and_views();
        let Some(entry) = state.account(borrower) else {
            return Ok(None);
        };
        let policy = state.market.policy;
        let age_s = state.liquidatable_for_s(borrower, state.now_s);
        match asked {
            Some(p) => {
                let request = Request {
                    debt_asset: p.debt_asset,
                    collateral_asset: p.collateral_asset,
                    max_repay: p.max_repay,
                    liquidatable_for_s: age_s,
                };
                quote(&entry.account, &views.liq, &policy, &request).map(Some)
            }
            None => plan(&entry.account, &views.liq, &policy, age_s),
        }
    }

    /// The pair a Dutch auction on `borrower` sells when none is named: its largest debt and
    /// largest collateral by value at the liquidation prices (core's `largest_pair`, which the
    /// simulator's auctions use too). `None` for an unknown account.
    ///
    /// # Errors
    /// A position that cannot be valued.
    pub fn auction_pair(&self, borrower: AccountId) -> Result<Option<LargestPair>, HealthError> {
        let (state, views) = self.state_and_views();
        state
            .account(borrower)
            .map(|e| largest_pair(&e.account, &views.liq))
            .transpose()
    }
}
