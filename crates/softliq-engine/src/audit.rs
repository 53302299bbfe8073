//! The invariants of docs/engine.md, Invariants, checked after every command in audit mode (debug
//! builds, all tests, `--audit` in release), and a full pass over every account for `replay` and
//! tests.
//!
//! Per command the checks are local — only the pools and accounts the command touched — so an
//! audited engine stays proportional to the work done:
//! 1. each touched pool's identity, its cash equal to the tokens that came in less those that
//!    went out, and its change in supply and debt shares equal to the touched accounts' changes
//!    (conservation per asset, exact in base units and shares);
//! 2. no touched account that was not liquidatable before the command is liquidatable after it,
//!    unless the command moves prices or indices for everyone or socialises bad debt;
//! 3. a settlement's seized shares equal the liquidator's, the treasury's and the insurance
//!    fund's together;
//! 4. the borrower's loss on a call is at most `pen` times the repaid value, to one base unit
//!    of collateral;
//! 5. after an auction command, the caps' totals equal the sums over the running auctions, and
//!    no start leaves them above `hole_total` or an asset's `auction_hole`;
//! 6. every flagged account has the time it was flagged (a time-ramped incentive's clock), and
//!    only those (counted per command, compared key by key in the full pass);
//! 7. an absorbed account owes nothing afterwards.
//!
//! Check 2 skips the treasury: after an absorb it may owe the debt it took over.
//!
//! Shares held by running auctions (lots and debt) count with the accounts' in conservation.

use softliq_core::account::{Account, AccountId};
use softliq_core::asset::AssetId;
use softliq_core::liquidation::Quote;
use softliq_core::liquidation::auction::{Outcome, Step};
use softliq_core::money::muldiv::mul_div;
use softliq_core::money::{Amount, Rounding, Shares, Value, WAD};
use softliq_core::pool::Pool;
use softliq_core::pool::conservation::{check_cash, check_shares};

use crate::command::{Command, CommandBody};
use crate::engine::{Engine, liquidatable_at};
use crate::event::Event;
use crate::state::{INSURANCE, State, TREASURY};

/// The accounts a command may change.
pub(crate) fn touched_accounts(state: &State, body: &CommandBody) -> Vec<AccountId> {
    let exists = |id: &AccountId| state.account(*id).is_some();
    let ids = match body {
        CommandBody::Deposit { account, .. }
        | CommandBody::Withdraw { account, .. }
        | CommandBody::Borrow { account, .. }
        | CommandBody::Repay { account, .. } => vec![*account],
        CommandBody::Liquidate {
            borrower,
            liquidator,
            ..
        } => vec![*borrower, *liquidator, TREASURY, INSURANCE],
        CommandBody::FundInsurance { .. } => vec![INSURANCE],
        CommandBody::Bark {
            borrower, keeper, ..
        } => vec![*borrower, *keeper, TREASURY, INSURANCE],
        CommandBody::Take {
            keeper, auction, ..
        } => state
            .auctions
            .borrower(*auction)
            .into_iter()
            .chain([*keeper, TREASURY, INSURANCE])
            .collect(),
        CommandBody::Redo { keeper, .. } => vec![*keeper, TREASURY],
        CommandBody::Absorb { borrower, .. } => vec![*borrower, TREASURY, INSURANCE],
        CommandBody::BuyCollateral { buyer, .. } => vec![*buyer, TREASURY, INSURANCE],
        // Listing and parameters change no balance; a new account has no "before"; prices and
        // time change values, not balances; perp commands move perp wallets, which the perp checks
        // cover, never a lending account. Listed one by one, so that a new command must say what it
        // touches.
        CommandBody::ListAsset { .. }
        | CommandBody::UpdateParams { .. }
        | CommandBody::SetPolicy { .. }
        | CommandBody::OpenAccount { .. }
        | CommandBody::PostPrice { .. }
        | CommandBody::AdvanceTime
        | CommandBody::ListPerpMarket { .. }
        | CommandBody::UpdatePerpMarket { .. }
        | CommandBody::FundPerpInsurance { .. }
        | CommandBody::PerpDeposit { .. }
        | CommandBody::PerpWithdraw { .. }
        | CommandBody::PlaceOrder { .. }
        | CommandBody::CancelOrder { .. }
        | CommandBody::PerpLiquidate { .. } => Vec::new(),
    };
    ids.into_iter().filter(exists).collect()
}

/// The assets whose pools a command may change.
fn touched_assets(state: &State, body: &CommandBody) -> Vec<AssetId> {
    let all = || (0..state.assets.len()).map(AssetId::from_index).collect();
    match body {
        CommandBody::Deposit { asset, .. }
        | CommandBody::Withdraw { asset, .. }
        | CommandBody::Borrow { asset, .. }
        | CommandBody::Repay { asset, .. }
        | CommandBody::FundInsurance { asset, .. }
        | CommandBody::UpdateParams { asset, .. } => {
            if state.asset(*asset).is_some() {
                vec![*asset]
            } else {
                Vec::new()
            }
        }
        CommandBody::Liquidate { .. }
        | CommandBody::AdvanceTime
        | CommandBody::Bark { .. }
        | CommandBody::Take { .. }
        | CommandBody::Redo { .. }
        | CommandBody::Absorb { .. }
        | CommandBody::BuyCollateral { .. } => all(),
        // No pool moves: listing creates one (nothing before it), policy and prices change
        // no pool, and perp commands keep their own books (checked by the perp audit).
        CommandBody::ListAsset { .. }
        | CommandBody::SetPolicy { .. }
        | CommandBody::OpenAccount { .. }
        | CommandBody::PostPrice { .. }
        | CommandBody::ListPerpMarket { .. }
        | CommandBody::UpdatePerpMarket { .. }
        | CommandBody::FundPerpInsurance { .. }
        | CommandBody::PerpDeposit { .. }
        | CommandBody::PerpWithdraw { .. }
        | CommandBody::PlaceOrder { .. }
        | CommandBody::CancelOrder { .. }
        | CommandBody::PerpLiquidate { .. } => Vec::new(),
    }
}

/// What the checks compare against: the touched accounts and pools before the command.
pub(crate) struct Before {
    accounts: Vec<(AccountId, Account, bool)>,
    /// Each touched pool, and the supply and debt shares running auctions held in it.
    pools: Vec<(AssetId, Pool, (Shares, Shares))>,
}

impl Before {
    pub(crate) fn capture(engine: &Engine, cmd: &Command) -> Self {
        let state = &engine.state;
        let accounts = touched_accounts(state, &cmd.body)
            .into_iter()
            .map(|id| {
                let account = state.accounts[id.index()].account.clone();
                let liquidatable = liquidatable_at(&account, &engine.views.liq).0;
                (id, account, liquidatable)
            })
            .collect();
        let pools = touched_assets(state, &cmd.body)
            .into_iter()
            .map(|a| {
                let held = state.auctions.book.held(a);
                (a, state.pools[a.index()].clone(), held)
            })
            .collect();
        Self { accounts, pools }
    }
}

fn check_pool(state: &State, asset: AssetId) -> Result<(), String> {
    let pool = &state.pools[asset.index()];
    pool.check_identity()
        .map_err(|e| format!("1 (pool identity) on asset {}: {e}", asset.0))?;
    let f = &state.flows[asset.index()];
    check_cash(asset, pool, f.tokens_in, f.tokens_out).map_err(|e| format!("1 ({e})"))
}

/// `after − before`, signed. Share totals stay far below 2^127 (caps bound them), so the
/// saturation never bites; if it did, the audit would report a mismatch, not hide one.
fn share_delta(after: Shares, before: Shares) -> i128 {
    let signed = |s: Shares| i128::try_from(s.raw()).unwrap_or(i128::MAX);
    signed(after) - signed(before)
}

/// The checks after an accepted command.
pub(crate) fn after_command(
    engine: &Engine,
    before: &Before,
    cmd: &Command,
    events: &[Event],
) -> Result<(), String> {
    let state = &engine.state;
    if is_perp(&cmd.body) {
        state.perps.check().map_err(|e| format!("perp: {e}"))?;
    }
    for (asset, old, (held_supply, held_debt)) in &before.pools {
        check_pool(state, *asset)?;
        let new = &state.pools[asset.index()];
        let held = state.auctions.book.held(*asset);
        let mut supply = share_delta(held.0, *held_supply);
        let mut debt = share_delta(held.1, *held_debt);
        for (id, account, _) in &before.accounts {
            let (was, is) = (
                account.position(*asset),
                state.accounts[id.index()].account.position(*asset),
            );
            supply += share_delta(is.supply, was.supply);
            debt += share_delta(is.debt, was.debt);
        }
        if supply != share_delta(new.supply_shares(), old.supply_shares())
            || debt != share_delta(new.debt_shares(), old.debt_shares())
        {
            return Err(format!(
                "1 (conservation of shares) on asset {}: accounts and auctions moved {supply} \
                 supply and {debt} debt shares, the pool {} and {}",
                asset.0,
                share_delta(new.supply_shares(), old.supply_shares()),
                share_delta(new.debt_shares(), old.debt_shares())
            ));
        }
    }
    // Socialised bad debt moves everyone's supply; debt an auction hands back is the
    // borrower's own again: both may rightly leave an account liquidatable.
    let exempt = events.iter().any(|e| match e {
        Event::BadDebt { step, .. } => step.socialised().is_some(),
        Event::Auction { step, .. } => matches!(
            **step,
            Step::Finished {
                outcome: Outcome::LotSold { .. },
                ..
            }
        ),
        _ => false,
    });
    if !exempt {
        // The treasury may owe what it took over in an absorb: a protocol account, not a
        // borrower anyone liquidates.
        for (id, _, was) in before.accounts.iter().filter(|a| a.0 != TREASURY) {
            let account = &state.accounts[id.index()].account;
            let is = liquidatable_at(account, &engine.views.liq).0;
            if is && !was {
                return Err(format!(
                    "2 (no command makes a healthy account liquidatable): account {} after {}",
                    id.0,
                    cmd.body.kind()
                ));
            }
        }
    }
    check_auctions(state, cmd)?;
    if state.flagged_since_s.len() != state.flagged.len() {
        return Err(format!(
            "6 (every flagged account has its flag time): {} flagged, {} flag times",
            state.flagged.len(),
            state.flagged_since_s.len()
        ));
    }
    for e in events {
        match e {
            Event::Liquidated(l) => {
                check_split(&l.quote, l.treasury_shares, l.insurance_shares)?;
                check_loss(engine, &l.quote)?;
            }
            Event::Absorbed(a) if state.accounts[a.borrower.index()].account.has_debt() => {
                return Err(format!(
                    "7 (an absorbed account owes nothing): account {}",
                    a.borrower.0
                ));
            }
            _ => {}
        }
    }
    Ok(())
}

/// After an auction command: the caps' running totals equal their sums, and a start never
/// pushes them above the caps (a later, lower cap may leave running auctions above it).
fn check_auctions(state: &State, cmd: &Command) -> Result<(), String> {
    if !matches!(
        cmd.body,
        CommandBody::Bark { .. } | CommandBody::Take { .. } | CommandBody::Redo { .. }
    ) {
        return Ok(());
    }
    let book = &state.auctions.book;
    book.check_totals()
        .map_err(|e| format!("5 (auction caps) {e}"))?;
    if let (CommandBody::Bark { .. }, Some(dutch)) = (&cmd.body, state.market.policy.auction()) {
        if book.dirt_total() > dutch.hole_total {
            return Err(format!(
                "5 (auction caps): {} USD under auction, above hole_total {}",
                book.dirt_total(),
                dutch.hole_total
            ));
        }
        for asset in &state.assets {
            if let Some(hole) = asset.params().auction_hole
                && book.dirt(asset.id) > hole
            {
                return Err(format!(
                    "5 (auction caps): {} USD under auction against {}, above its auction_hole {hole}",
                    book.dirt(asset.id),
                    asset.symbol
                ));
            }
        }
    }
    Ok(())
}

fn check_split(q: &Quote, treasury: Shares, insurance: Shares) -> Result<(), String> {
    let paid_out = q.liquidator_shares.raw() + treasury.raw() + insurance.raw();
    if paid_out != q.collateral_shares_seized.raw() {
        return Err(format!(
            "3 (exact split): seized {} shares, paid out {paid_out}",
            q.collateral_shares_seized
        ));
    }
    Ok(())
}

fn check_loss(engine: &Engine, q: &Quote) -> Result<(), String> {
    let loss = q.seized_value.raw().saturating_sub(q.repaid_value.raw());
    let allowed = mul_div(q.repaid_value.raw(), q.penalty.raw(), WAD, Rounding::Up)
        .map_err(|e| e.to_string())?;
    let c = engine
        .views
        .liq
        .get(q.request.collateral_asset)
        .map_err(|e| e.to_string())?;
    let unit = Amount::from_raw(1)
        .value_at(c.price, c.decimals, Rounding::Up)
        .unwrap_or(Value::ZERO);
    if loss > allowed + unit.raw() {
        return Err(format!(
            "4 (borrower loss ≤ pen · repaid): lost {loss}, allowed {allowed} (raw USD·1e18)"
        ));
    }
    Ok(())
}

/// Invariant 1 over every account and pool, and 6: the flag times are those of exactly the
/// flagged accounts, none in the future.
pub(crate) fn full(state: &State) -> Result<(), String> {
    state.perps.check().map_err(|e| format!("perp: {e}"))?;
    let times: Vec<AccountId> = state.flagged_since_s.keys().copied().collect();
    let flagged: Vec<AccountId> = state.flagged.iter().collect();
    if times != flagged || state.flagged_since_s.values().any(|s| *s > state.now_s) {
        return Err(format!(
            "6 (flag times): {} flagged, {} flag times, or one after now ({} s)",
            flagged.len(),
            times.len(),
            state.now_s
        ));
    }
    state
        .auctions
        .book
        .check_totals()
        .map_err(|e| format!("5 (auction caps) {e}"))?;
    for a in 0..state.assets.len() {
        let asset = AssetId::from_index(a);
        check_pool(state, asset)?;
        let accounts = state.accounts.iter().map(|e| &e.account);
        check_shares(
            asset,
            &state.pools[a],
            accounts,
            state.auctions.book.held(asset),
        )
        .map_err(|e| format!("1 ({e})"))?;
    }
    Ok(())
}

/// Commands that change the perp controller (and so take its invariant check after them).
fn is_perp(body: &CommandBody) -> bool {
    matches!(
        body,
        CommandBody::ListPerpMarket { .. }
            | CommandBody::UpdatePerpMarket { .. }
            | CommandBody::PerpDeposit { .. }
            | CommandBody::FundPerpInsurance { .. }
            | CommandBody::PerpWithdraw { .. }
            | CommandBody::PlaceOrder { .. }
            | CommandBody::CancelOrder { .. }
            | CommandBody::PerpLiquidate { .. }
            | CommandBody::PostPrice { .. }
            | CommandBody::AdvanceTime
    )
}
