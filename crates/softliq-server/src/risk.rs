//! The risk board: every account with debt, ordered by health factor, computed on the read
//! view (on a blocking thread, never the engine's) at most every refresh interval (the
//! at-risk list, the HF histogram of `/metrics` and the dashboard read it; one pass serves all
//! of them instead of one per request).

use softliq_core::account::AccountId;
use softliq_core::health::{Direction, Health, LiquidationPrice, RiskSnapshot, liquidation_prices};
use softliq_core::money::{Ratio, Value};
use softliq_engine::Engine;
use softliq_engine::state::{AccountEntry, FIRST_USER_ACCOUNT};

use softliq_api::queries::{DROPS_PCT, HfBucket, PriceDrops, RiskRow, Totals};
use softliq_api::report::LiquidationPriceRow;

/// The board at one sequence number.
#[derive(Clone, Debug)]
pub struct RiskBoard {
    pub seq: u64,
    pub now_s: u64,
    /// Accounts with debt, lowest HF first.
    pub rows: Vec<BoardRow>,
    pub totals: Totals,
    /// How the accounts' health factors are distributed.
    pub histogram: Vec<HfBucket>,
    pub price_drops: Vec<PriceDrops>,
}

/// One account on the board: the row as the API shows it, and the exact figures the board
/// sorts, sums and pages by.
#[derive(Clone, Debug)]
pub struct BoardRow {
    pub row: RiskRow,
    /// `None` when the account cannot be valued.
    pub hf: Option<Ratio>,
    pub debt: Value,
    pub collateral: Value,
}

/// Bucket bounds of the HF histogram (WAD): dense near 1, where liquidations happen.
const HF_BOUNDS: [(&str, u128); 8] = [
    ("<0.9", 900_000_000_000_000_000),
    ("<1", 1_000_000_000_000_000_000),
    ("<1.05", 1_050_000_000_000_000_000),
    ("<1.1", 1_100_000_000_000_000_000),
    ("<1.2", 1_200_000_000_000_000_000),
    ("<1.5", 1_500_000_000_000_000_000),
    ("<2", 2_000_000_000_000_000_000),
    ("<3", 3_000_000_000_000_000_000),
];

fn histogram(rows: &[BoardRow]) -> Vec<HfBucket> {
    let mut buckets: Vec<HfBucket> = HF_BOUNDS
        .iter()
        .map(|(label, upper)| HfBucket {
            label: (*label).to_owned(),
            upper: Some(Ratio::from_raw(*upper).to_string()),
            count: 0,
        })
        .chain(std::iter::once(HfBucket {
            label: "≥3".to_owned(),
            upper: None,
            count: 0,
        }))
        .collect();
    for hf in rows.iter().filter_map(|r| r.hf) {
        let i = HF_BOUNDS
            .iter()
            .position(|(_, upper)| hf.raw() < *upper)
            .unwrap_or(HF_BOUNDS.len());
        buckets[i].count += 1;
    }
    buckets
}

/// HF below which an account counts as near the line.
const NEAR_HF: u128 = 1_050_000_000_000_000_000;

/// Builds the board from `engine` (the read view's), at the market's liquidation prices.
#[must_use]
pub fn build(engine: &Engine) -> RiskBoard {
    let (state, views) = engine.state_and_views();
    let snapshot = &views.liq;
    let first = usize::try_from(FIRST_USER_ACCOUNT).unwrap_or(usize::MAX);
    let assets = state.assets.len();
    // Per asset and drop: accounts and debt newly liquidatable.
    let mut drops = vec![[(0usize, Value::ZERO); DROPS_PCT.len()]; assets];
    let mut rows: Vec<BoardRow> = Vec::new();
    for (i, e) in state.accounts.iter().enumerate().skip(first) {
        if !e.account.has_debt() {
            continue;
        }
        let (row, valued) = BoardRow::of(i as u64, e, snapshot);
        if valued && !row.row.liquidatable {
            count_drops(&e.account, snapshot, row.debt, &mut drops);
        }
        rows.push(row);
    }
    sort(&mut rows);
    let price_drops = state
        .assets
        .iter()
        .zip(drops)
        .map(|(a, per)| PriceDrops {
            asset: a.symbol.clone(),
            price: state.oracles[a.id.index()].price.map(|p| p.to_string()),
            accounts: per.iter().map(|(n, _)| *n).collect(),
            debt_value: per.iter().map(|(_, v)| v.to_string()).collect(),
        })
        .collect();
    RiskBoard {
        seq: state.seq,
        now_s: state.now_s,
        totals: totals(&rows),
        histogram: histogram(&rows),
        rows,
        price_drops,
    }
}

impl BoardRow {
    /// Account `id`'s row at `snapshot`, and whether it could be valued.
    fn of(id: u64, e: &AccountEntry, snapshot: &RiskSnapshot) -> (Self, bool) {
        let h = Health::of(&e.account, snapshot).ok();
        let hf = h.as_ref().and_then(Health::health_factor);
        let liquidatable = h.as_ref().is_some_and(Health::is_liquidatable);
        let (debt, collateral) = h.as_ref().map_or((Value::ZERO, Value::ZERO), |h| {
            (h.debt_value, h.collateral_value)
        });
        let insolvent = h.is_some() && collateral < debt;
        let row = RiskRow {
            account: id,
            owner: e.owner.clone(),
            health_factor: hf.map(|r| r.to_string()),
            liquidatable,
            debt_value: h.as_ref().map(|_| debt.to_string()).unwrap_or_default(),
            collateral_value: h
                .as_ref()
                .map(|_| collateral.to_string())
                .unwrap_or_default(),
            insolvent,
            shortfall_value: insolvent.then(|| debt.saturating_sub(collateral).to_string()),
        };
        let board_row = Self {
            row,
            hf,
            debt,
            collateral,
        };
        (board_row, h.is_some())
    }
}

/// The board's order: lowest HF first, unvalued accounts (no HF) last; ties by id, so the
/// order is deterministic.
fn sort(rows: &mut [BoardRow]) {
    rows.sort_by_key(|r| (r.hf.is_none(), r.hf, r.row.account));
}

/// The liquidatable accounts now, in the board's order, from the engine's flagged set (the
/// detection index keeps it exact after every command) rather than a pass over every account:
/// fresh on every request, and as cheap as the list is short. Each is checked exactly again.
#[must_use]
pub fn liquidatable(engine: &Engine) -> (u64, Vec<BoardRow>) {
    let (state, views) = engine.state_and_views();
    let mut rows: Vec<BoardRow> = state
        .flagged
        .iter()
        .filter_map(|id| Some(BoardRow::of(id.0, state.account(id)?, &views.liq).0))
        .filter(|r| r.row.liquidatable)
        .collect();
    sort(&mut rows);
    (state.seq, rows)
}

/// Adds a healthy account's debt to every (asset, drop) whose fall reaches one of its
/// liquidation prices. Display figures: the distance is a float, the debt exact.
fn count_drops(
    account: &softliq_core::account::Account,
    snapshot: &RiskSnapshot,
    debt: Value,
    drops: &mut [[(usize, Value); DROPS_PCT.len()]],
) {
    let Ok(prices) = liquidation_prices(account, snapshot) else {
        return;
    };
    for lp in prices
        .iter()
        .filter(|lp| lp.direction == Direction::Falls && lp.is_ahead())
    {
        let fall_pct = -lp.distance_pct();
        let Some(per) = drops.get_mut(lp.asset.index()) else {
            continue;
        };
        for (slot, drop) in per.iter_mut().zip(DROPS_PCT) {
            if fall_pct <= f64::from(drop) {
                slot.0 += 1;
                slot.1 = slot.1.saturating_add(debt);
            }
        }
    }
}

fn totals(rows: &[BoardRow]) -> Totals {
    let sum = |f: &dyn Fn(&BoardRow) -> Option<Value>| {
        rows.iter()
            .filter_map(f)
            .fold(Value::ZERO, Value::saturating_add)
            .to_string()
    };
    Totals {
        accounts: rows.len(),
        debt_value: sum(&|r| Some(r.debt)),
        collateral_value: sum(&|r| Some(r.collateral)),
        liquidatable_accounts: rows.iter().filter(|r| r.row.liquidatable).count(),
        liquidatable_debt_value: sum(&|r| r.row.liquidatable.then_some(r.debt)),
        near_debt_value: sum(&|r| r.hf.filter(|h| h.raw() < NEAR_HF).map(|_| r.debt)),
        insolvent_accounts: rows.iter().filter(|r| r.row.insolvent).count(),
        shortfall_value: sum(&|r| r.row.insolvent.then(|| r.debt.saturating_sub(r.collateral))),
    }
}

/// The liquidation price nearest to the current one of each account in `ids`, among those
/// ahead of it (`None` for an account already liquidatable: it has none ahead).
#[must_use]
pub fn nearest_prices(engine: &Engine, ids: &[u64]) -> Vec<Option<LiquidationPriceRow>> {
    let (state, views) = engine.state_and_views();
    ids.iter()
        .map(|&id| {
            let entry = state.account(AccountId(id))?;
            let prices = liquidation_prices(&entry.account, &views.liq).ok()?;
            let nearest = prices
                .into_iter()
                .filter(LiquidationPrice::is_ahead)
                .min_by(|a, b| a.distance_pct().abs().total_cmp(&b.distance_pct().abs()))?;
            let symbol = state.asset(nearest.asset)?.symbol.clone();
            Some(LiquidationPriceRow::of(&nearest, symbol))
        })
        .collect()
}
