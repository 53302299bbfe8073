//! The risk board: every account with debt, ordered by health factor, computed on the engine
//! thread at most every refresh interval (the at-risk list, the HF histogram of `/metrics`
//! and the dashboard read it; one pass serves all of them instead of one per request).

use serde::Serialize;
use softliq_core::account::AccountId;
use softliq_core::health::{Health, liquidation_prices};
use softliq_core::money::Ratio;
use softliq_engine::Engine;
use softliq_engine::state::FIRST_USER_ACCOUNT;

use crate::report::LiquidationPriceRow;

/// One account on the board.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct RiskRow {
    pub account: u64,
    pub owner: String,
    /// `null` when the account cannot be valued (a held asset without a price).
    pub health_factor: Option<String>,
    pub liquidatable: bool,
    pub debt_value: String,
    pub collateral_value: String,
    #[serde(skip)]
    pub hf: Option<Ratio>,
}

/// The board at one sequence number.
#[derive(Clone, Debug)]
pub struct RiskBoard {
    pub seq: u64,
    pub now_s: u64,
    /// Accounts with debt, lowest HF first.
    pub rows: Vec<RiskRow>,
}

/// Builds the board on the engine thread, at the market's liquidation prices.
#[must_use]
pub fn build(engine: &mut Engine) -> RiskBoard {
    let (state, views) = engine.state_and_views();
    let snapshot = &views.liq;
    let first = usize::try_from(FIRST_USER_ACCOUNT).unwrap_or(usize::MAX);
    let mut rows: Vec<RiskRow> = state
        .accounts
        .iter()
        .enumerate()
        .skip(first)
        .filter(|(_, e)| e.account.has_debt())
        .map(|(i, e)| {
            let h = Health::of(&e.account, snapshot).ok();
            let hf = h.as_ref().and_then(Health::health_factor);
            RiskRow {
                account: i as u64,
                owner: e.owner.clone(),
                health_factor: hf.map(|r| r.to_string()),
                liquidatable: h.as_ref().is_some_and(Health::is_liquidatable),
                debt_value: h
                    .as_ref()
                    .map(|h| h.debt_value.to_string())
                    .unwrap_or_default(),
                collateral_value: h
                    .as_ref()
                    .map(|h| h.collateral_value.to_string())
                    .unwrap_or_default(),
                hf,
            }
        })
        .collect();
    // Unvalued accounts (no HF) last; ties by id, so the order is deterministic.
    rows.sort_by_key(|r| (r.hf.is_none(), r.hf, r.account));
    RiskBoard {
        seq: state.seq,
        now_s: state.now_s,
        rows,
    }
}

/// The liquidation price nearest to the current one of each account in `ids`.
#[must_use]
pub fn nearest_prices(engine: &mut Engine, ids: &[u64]) -> Vec<Option<LiquidationPriceRow>> {
    let (state, views) = engine.state_and_views();
    ids.iter()
        .map(|&id| {
            let entry = state.account(AccountId(id))?;
            let prices = liquidation_prices(&entry.account, &views.liq).ok()?;
            let nearest = prices
                .into_iter()
                .min_by(|a, b| a.distance_pct().abs().total_cmp(&b.distance_pct().abs()))?;
            let symbol = state.asset(nearest.asset)?.symbol.clone();
            Some(LiquidationPriceRow::of(&nearest, symbol))
        })
        .collect()
}
