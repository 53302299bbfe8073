//! Dutch auctions (docs/liquidation.md, Dutch auctions): `bark`, `take` and `redo` through the
//! core's auction book, under the market's `dutch` policy, at the market's liquidation prices.
//! Starts and resets read the oracle and so pass its guards (docs/engine.md, Oracle guards); a take
//! reads no oracle — its price is the curve's, from the top and debt price fixed at the last start
//! or reset — so a stale feed cannot stall a sale in progress.

use softliq_core::account::{Account, AccountId};
use softliq_core::asset::AssetId;
use softliq_core::liquidation::Parties;
use softliq_core::liquidation::auction::{
    Auction, AuctionBook, AuctionId, Bark, Market, Step, Take,
};
use softliq_core::money::Value;
use softliq_core::pool::Pool;

use super::{parse_amount, parse_price, record_payment};
use crate::engine::Engine;
use crate::event::Event;
use crate::rejection::{Code, Rejection};
use crate::state::{INSURANCE, TREASURY};

/// Copies of the four parties' accounts, written back only when the flow succeeded.
struct Copies {
    borrower: Account,
    keeper: Account,
    treasury: Account,
    insurance: Account,
}

impl Engine {
    fn copies(&self, borrower: usize, keeper: usize) -> Copies {
        let a = &self.state.accounts;
        Copies {
            borrower: a[borrower].account.clone(),
            keeper: a[keeper].account.clone(),
            treasury: a[TREASURY.index()].account.clone(),
            insurance: a[INSURANCE.index()].account.clone(),
        }
    }

    fn write_back(&mut self, borrower: usize, keeper: usize, c: Copies) {
        let a = &mut self.state.accounts;
        a[borrower].account = c.borrower;
        a[keeper].account = c.keeper;
        a[TREASURY.index()].account = c.treasury;
        a[INSURANCE.index()].account = c.insurance;
    }

    /// The borrower's and the keeper's account indices; they must differ.
    fn auction_parties(
        &self,
        borrower: AccountId,
        keeper: AccountId,
    ) -> Result<(usize, usize), Rejection> {
        let b = self.user_account("borrower", borrower)?;
        let k = self.user_account("keeper", keeper)?;
        if b == k {
            return Err(Rejection::new(
                Code::InvalidParams,
                "keeper",
                "a borrower cannot keep its own auction",
            ));
        }
        Ok((b, k))
    }

    fn running_auction(&self, id: AuctionId) -> Result<&Auction, Rejection> {
        self.state.auctions.book.get(id).ok_or_else(|| {
            Rejection::new(
                Code::UnknownAuction,
                "auction",
                format!("no running auction {}", id.0),
            )
        })
    }

    fn asset_holes(&self) -> Vec<Option<Value>> {
        self.state
            .assets
            .iter()
            .map(|a| a.params().auction_hole)
            .collect()
    }

    /// Runs an auction flow on copies of the parties and of `pools` (accrued to `now_s`), and
    /// writes them back only when it succeeded.
    fn run_flow<T>(
        &mut self,
        (b, k): (usize, usize),
        now_s: u64,
        mut pools: Vec<Pool>,
        flow: impl FnOnce(&mut AuctionBook, &mut Copies, &mut [Pool], &Market) -> Result<T, Rejection>,
    ) -> Result<T, Rejection> {
        let holes = self.asset_holes();
        let mut c = self.copies(b, k);
        let market = Market {
            policy: &self.state.market.policy,
            snapshot: &self.views.liq,
            asset_holes: &holes,
            now_s,
        };
        let out = flow(&mut self.state.auctions.book, &mut c, &mut pools, &market)?;
        self.write_back(b, k, c);
        self.state.pools = pools;
        Ok(out)
    }

    pub(crate) fn bark(
        &mut self,
        now_s: u64,
        keeper: AccountId,
        borrower: AccountId,
        (debt_asset, collateral_asset): (AssetId, AssetId),
    ) -> Result<Vec<Event>, Rejection> {
        let (b, k) = self.auction_parties(borrower, keeper)?;
        self.asset_ref("debt_asset", debt_asset)?;
        self.asset_ref("collateral_asset", collateral_asset)?;
        self.check_oracle("debt_asset", debt_asset, now_s)?;
        self.check_oracle("collateral_asset", collateral_asset, now_s)?;
        let mut events = Vec::new();
        let pools = self.accrued_pools(now_s, &mut events)?;
        let req = Bark {
            borrower,
            debt_asset,
            collateral_asset,
            keeper,
        };
        let (id, step) = self.run_flow((b, k), now_s, pools, |book, c, pools, market| {
            book.bark(&mut parties(c), pools, market, &req)
                .map_err(Rejection::refusal)
        })?;
        self.record(&mut events, id, borrower, step);
        Ok(events)
    }

    pub(crate) fn take(
        &mut self,
        now_s: u64,
        keeper: AccountId,
        id: AuctionId,
        (amount, max_price): (&str, &str),
    ) -> Result<Vec<Event>, Rejection> {
        let auction = self.running_auction(id)?;
        let (borrower, collateral) = (auction.borrower, auction.collateral_asset);
        let debt_asset = auction.debt_asset;
        let (b, k) = self.auction_parties(borrower, keeper)?;
        let decimals = self.asset_ref("auction", collateral)?.params().decimals;
        let amount = parse_amount("amount", amount, decimals)?;
        let max_price = parse_price("max_price", max_price)?;
        let mut events = Vec::new();
        let pools = self.accrued_pools(now_s, &mut events)?;
        let req = Take {
            id,
            keeper,
            amount,
            max_price,
        };
        let mut flows = self.state.flows.clone();
        let taken = self.run_flow((b, k), now_s, pools, |book, c, pools, market| {
            let taken = book
                .take(&mut parties(c), pools, market, &req)
                .map_err(Rejection::refusal)?;
            record_payment(
                &mut flows,
                ("amount", debt_asset, taken.paid),
                &taken.bad_debt,
            )?;
            Ok(taken)
        })?;
        self.state.flows = flows;
        self.record(&mut events, id, borrower, taken.step);
        if let Some(f) = taken.finished {
            self.record(&mut events, id, borrower, f);
        }
        events.extend(taken.bad_debt.iter().map(|&step| Event::BadDebt {
            account: borrower,
            step,
        }));
        Ok(events)
    }

    pub(crate) fn redo(
        &mut self,
        now_s: u64,
        keeper: AccountId,
        id: AuctionId,
    ) -> Result<Vec<Event>, Rejection> {
        let auction = self.running_auction(id)?;
        let (borrower, d, c_asset) = (
            auction.borrower,
            auction.debt_asset,
            auction.collateral_asset,
        );
        let (b, k) = self.auction_parties(borrower, keeper)?;
        self.check_oracle("auction", d, now_s)?;
        self.check_oracle("auction", c_asset, now_s)?;
        let mut events = Vec::new();
        let pools = self.accrued_pools(now_s, &mut events)?;
        let step = self.run_flow((b, k), now_s, pools, |book, c, pools, market| {
            book.redo(&mut c.keeper, &mut c.treasury, pools, market, id, keeper)
                .map_err(Rejection::refusal)
        })?;
        self.record(&mut events, id, borrower, step);
        Ok(events)
    }

    /// Keeps `step` in the auction's history and reports it as an event.
    fn record(&mut self, events: &mut Vec<Event>, id: AuctionId, borrower: AccountId, step: Step) {
        self.state.auctions.record(id, step.clone());
        events.push(Event::Auction {
            auction: id,
            borrower,
            step: Box::new(step),
        });
    }
}

fn parties(c: &mut Copies) -> Parties<'_> {
    Parties {
        borrower: &mut c.borrower,
        liquidator: &mut c.keeper,
        treasury: &mut c.treasury,
        insurance: &mut c.insurance,
    }
}
