//! Hand vectors: PnL and the average-entry rules, funding, tiered margin, unified margin,
//! liquidation prices (long and short, isolated and cross), a round of unwinding, the
//! backstop, insurance and ADL.

mod exchange;
mod matching;
mod props;

use std::sync::Arc;

use super::*;
use crate::account::Account;
use crate::asset::AssetId;
use crate::health::{AssetRisk, RiskSnapshot};
use crate::money::{Amount, Index, Price, Ratio, SignedRatio, SignedValue, Value};
use crate::testing::{perp_params, ratio, stable_params};

pub(super) const BTC: PerpMarketId = PerpMarketId(0);

pub(super) fn usd(text: &str) -> Value {
    Value::parse("test", text).unwrap()
}
pub(super) fn sv(text: &str) -> SignedValue {
    SignedValue::parse("test", text).unwrap()
}
pub(super) fn price(text: &str) -> Price {
    Price::parse("test", text).unwrap()
}
/// Contracts (6 decimals) from whole units.
pub(super) fn contracts(text: &str) -> i128 {
    let (sign, digits) = text.strip_prefix('-').map_or((1, text), |t| (-1, t));
    let q = Amount::parse_tokens("test", digits, crate::money::Decimals::new(6).unwrap()).unwrap();
    sign * i128::try_from(q.raw()).unwrap()
}

pub(super) fn risk_at(mark: &str) -> PerpRisk {
    PerpRisk {
        mark: price(mark),
        index: price(mark),
        cumulative_funding: SignedValue::ZERO,
        params: Arc::new(perp_params(AssetId(0))),
        stale: false,
    }
}

pub(super) fn snapshot(mark: &str) -> PerpSnapshot {
    let mut s = PerpSnapshot::new();
    s.set(BTC, risk_at(mark));
    s
}

/// A fill of `size` contracts at `px` (notional exact for these round numbers).
pub(super) fn fill(size: &str, px: &str) -> Fill {
    let q = contracts(size);
    let n = Amount::from_raw(q.unsigned_abs())
        .value_at(
            price(px),
            crate::money::Decimals::new(6).unwrap(),
            crate::money::Rounding::Down,
        )
        .unwrap();
    Fill {
        size: q,
        notional: n,
    }
}

#[test]
fn average_entry_reduce_close_and_flip() {
    let mut a = PerpAccount::with_cash(sv("1000"));
    a.trade(BTC, fill("1", "100"), Value::ZERO, SignedValue::ZERO)
        .unwrap();
    a.trade(BTC, fill("1", "120"), Value::ZERO, SignedValue::ZERO)
        .unwrap();
    let d6 = crate::money::Decimals::new(6).unwrap();
    assert_eq!(a.position(BTC).unwrap().entry_price(d6), Some(price("110")));
    // Reduce 0.5 at 130: realised 0.5 · (130 − 110) = 10; entry unchanged.
    let r = a
        .trade(BTC, fill("-0.5", "130"), Value::ZERO, SignedValue::ZERO)
        .unwrap();
    assert_eq!(r, sv("10"));
    assert_eq!(a.position(BTC).unwrap().entry_price(d6), Some(price("110")));
    assert_eq!(a.position(BTC).unwrap().basis, usd("165"));
    // Flip: sell 2.5 at 100 closes 1.5 (realised −15) and opens 1 short at 100.
    let r = a
        .trade(BTC, fill("-2.5", "100"), usd("0.5"), SignedValue::ZERO)
        .unwrap();
    assert_eq!(r, sv("-15"));
    let p = a.position(BTC).unwrap();
    assert_eq!(p.size, contracts("-1"));
    assert_eq!(p.basis, usd("100"));
    assert_eq!(a.cash, sv("994.5"), "1000 + 10 − 15 − 0.5 fee");
    // Close the short at 90: +10, and the position is gone.
    let r = a
        .trade(BTC, fill("1", "90"), Value::ZERO, SignedValue::ZERO)
        .unwrap();
    assert_eq!(r, sv("10"));
    assert!(a.position(BTC).is_none());
    assert_eq!(a.cash, sv("1004.5"));
}

#[test]
fn partial_close_rounds_the_closed_basis_against_the_trader() {
    // Basis 10 (raw) over 3 units: closing 1 releases ceil(10/3) = 4 for a long (realised
    // lower), floor = 3 for a short (realised lower too: basis_closed − cost).
    let mut long = PerpPosition::new(BTC, SignedValue::ZERO);
    long.apply(Fill {
        size: 3,
        notional: Value::from_raw(10),
    })
    .unwrap();
    let r = long
        .apply(Fill {
            size: -1,
            notional: Value::from_raw(4),
        })
        .unwrap();
    assert_eq!(r, SignedValue::from_raw(0), "4 − ceil(10/3)");
    assert_eq!(long.basis, Value::from_raw(6));
    let mut short = PerpPosition::new(BTC, SignedValue::ZERO);
    short
        .apply(Fill {
            size: -3,
            notional: Value::from_raw(10),
        })
        .unwrap();
    let r = short
        .apply(Fill {
            size: 1,
            notional: Value::from_raw(3),
        })
        .unwrap();
    assert_eq!(r, SignedValue::from_raw(0), "floor(10/3) − 3");
    assert_eq!(short.basis, Value::from_raw(7));
}

#[test]
fn funding_settles_on_touch_and_rounds_against_the_position() {
    let d6 = crate::money::Decimals::new(6).unwrap();
    let mut long = PerpAccount::with_cash(sv("100"));
    long.trade(BTC, fill("2", "100"), Value::ZERO, SignedValue::ZERO)
        .unwrap();
    let mut short = PerpAccount::with_cash(sv("100"));
    short
        .trade(BTC, fill("-2", "100"), Value::ZERO, SignedValue::ZERO)
        .unwrap();
    let cum = sv("0.5");
    assert_eq!(long.settle_funding(BTC, cum, d6).unwrap(), sv("1"));
    assert_eq!(short.settle_funding(BTC, cum, d6).unwrap(), sv("-1"));
    assert_eq!(long.cash, sv("99"));
    assert_eq!(short.cash, sv("101"));
    assert_eq!(
        long.settle_funding(BTC, cum, d6).unwrap(),
        SignedValue::ZERO,
        "settled once"
    );
    // One base unit at a delta of 1 raw unit per contract: 10^-6 of a raw unit, owed rounds up
    // to 1, due rounds down to 0.
    let mut p = PerpPosition::new(BTC, SignedValue::ZERO);
    p.size = 1;
    assert_eq!(
        p.funding_owed(SignedValue::from_raw(1), d6).unwrap(),
        SignedValue::from_raw(1)
    );
    p.size = -1;
    assert_eq!(
        p.funding_owed(SignedValue::from_raw(1), d6).unwrap(),
        SignedValue::ZERO
    );
}

#[test]
fn funding_rate_formula() {
    let f = perp_params(AssetId(0)).funding;
    let r = |t: &str| SignedRatio::parse("test", t).unwrap();
    // Small premium: the interest term pulls it to I (clamp not reached).
    assert_eq!(funding_rate(&f, r("0.0003")).unwrap(), r("0.0000125"));
    // Large premium: P + clamp(I − P, ±0.05%) = 0.003 − 0.0005.
    assert_eq!(funding_rate(&f, r("0.003")).unwrap(), r("0.0025"));
    assert_eq!(funding_rate(&f, r("-0.003")).unwrap(), r("-0.0025"));
    // Capped at 4% per interval.
    assert_eq!(funding_rate(&f, r("0.5")).unwrap(), r("0.04"));
    let mut state = PerpMarketState::default();
    let mark = perp_params(AssetId(0)).mark;
    state.observe_premium(&mark, r("0.01")).unwrap();
    assert_eq!(state.premium_ema, r("0.001"), "10% of the way");
    assert_eq!(
        state.mark_price(&mark, price("1000")).unwrap(),
        price("1001")
    );
    for _ in 0..40 {
        state.observe_premium(&mark, r("0.01")).unwrap();
    }
    assert_eq!(
        state.mark_price(&mark, price("1000")).unwrap(),
        price("1005"),
        "bounded at 0.5%"
    );
    let rate = state.fund(&f, price("1000")).unwrap();
    assert_eq!(
        state.cumulative_funding,
        rate.mul_price(price("1000"), crate::money::Rounding::Down)
            .unwrap()
    );
    assert!(rate.raw() > 0);
}

#[test]
fn tiered_requirements_are_marginal() {
    let p = perp_params(AssetId(0));
    assert_eq!(
        p.requirement(usd("500000"), |t| t.initial).unwrap(),
        usd("50000")
    );
    assert_eq!(
        p.requirement(usd("3000000"), |t| t.initial).unwrap(),
        usd("500000"),
        "1M·10% + 2M·20%"
    );
    assert_eq!(
        p.requirement(usd("3000000"), |t| t.maintenance).unwrap(),
        usd("250000")
    );
}

#[test]
fn validation_names_the_field() {
    let mut p = perp_params(AssetId(0));
    p.slippage_tolerance = ratio("0.1");
    assert_eq!(p.validate().unwrap_err().field, "slippage_tolerance");
    let mut p = perp_params(AssetId(0));
    p.tiers[0].maintenance = ratio("0.1");
    assert_eq!(p.validate().unwrap_err().field, "tiers.maintenance");
    let mut p = perp_params(AssetId(0));
    p.tiers[0].initial = ratio("0.05");
    p.tiers[0].maintenance = ratio("0.01");
    assert_eq!(
        p.validate().unwrap_err().field,
        "tiers.initial",
        "below 1/max_leverage"
    );
    let mut p = perp_params(AssetId(0));
    p.tiers.reverse();
    assert!(p.validate().is_err());
    let mut p = perp_params(AssetId(0));
    p.maker_fee = ratio("0.001");
    assert_eq!(p.validate().unwrap_err().field, "maker_fee");
    let mut p = perp_params(AssetId(0));
    p.backstop_line = ratio("1");
    assert_eq!(p.validate().unwrap_err().field, "backstop_line");
    assert!(perp_params(AssetId(0)).validate().is_ok());
}

/// A long of 1 contract at 10,000 with 1,000 of cash (10x, the market's maximum).
fn long_10x() -> PerpAccount {
    let mut a = PerpAccount::with_cash(sv("1000"));
    a.trade(BTC, fill("1", "10000"), Value::ZERO, SignedValue::ZERO)
        .unwrap();
    a
}

#[test]
fn margin_of_a_perp_account() {
    let a = long_10x();
    let m = Margin::of(&Account::new(), &a, &RiskSnapshot::new(), &snapshot("9500")).unwrap();
    assert_eq!(m.perp_equity, sv("500"));
    assert_eq!(m.initial().unwrap(), usd("950"));
    assert_eq!(m.maintenance, usd("475"));
    assert_eq!(
        m.health_factor(),
        Some(Ratio::from_fraction(500, 475, crate::money::Rounding::Down).unwrap())
    );
    assert!(!m.is_liquidatable());
    assert!(!m.meets_initial());
    let m = Margin::of(&Account::new(), &a, &RiskSnapshot::new(), &snapshot("9400")).unwrap();
    assert!(m.is_liquidatable(), "400 < 470");
    // Unsettled funding counts: 30 owed at 9500 takes equity to 470 < 475.
    let mut s = snapshot("9500");
    s.set(
        BTC,
        PerpRisk {
            cumulative_funding: sv("30"),
            ..risk_at("9500")
        },
    );
    let m = Margin::of(&Account::new(), &a, &RiskSnapshot::new(), &s).unwrap();
    assert_eq!(m.perp_equity, sv("470"));
    assert!(m.is_liquidatable());
}

/// A lending snapshot with WETH (asset 0, 18 decimals) at `p`, lt 0.85.
fn weth_at(p: &str) -> RiskSnapshot {
    let params = stable_params(18);
    let mut s = RiskSnapshot::new();
    s.set(
        AssetId(0),
        AssetRisk {
            price: price(p),
            decimals: params.decimals,
            collateral_factor: params.collateral_factor,
            liquidation_threshold: params.liquidation_threshold,
            borrow_weight: params.borrow_weight,
            liquidation_penalty: params.liquidation_penalty,
            liquidation_discount: params.liquidation_discount,
            supply_index: Index::ONE,
            borrow_index: Index::ONE,
            stale: false,
        },
    );
    s
}

#[test]
fn unified_margin_counts_lending_collateral_and_keeps_lending_hf() {
    let mut lending = Account::new();
    lending
        .add_supply(AssetId(0), crate::money::Shares::from_raw(10u128.pow(18)))
        .unwrap();
    lending
        .add_debt(
            AssetId(0),
            crate::money::Shares::from_raw(5 * 10u128.pow(17)),
        )
        .unwrap();
    let flat = PerpAccount::new();
    let m = Margin::of(&lending, &flat, &weth_at("2000"), &PerpSnapshot::new()).unwrap();
    let lending_only = crate::health::Health::of(&lending, &weth_at("2000")).unwrap();
    assert_eq!(
        m.health_factor(),
        lending_only.health_factor(),
        "no perps: the lending HF"
    );
    // A 10x long with no cash, margined by the lending equity C − D = 1700 − 1000 = 700.
    let mut perp = PerpAccount::new();
    perp.trade(BTC, fill("1", "10000"), Value::ZERO, SignedValue::ZERO)
        .unwrap();
    let m = Margin::of(&lending, &perp, &weth_at("2000"), &snapshot("10000")).unwrap();
    assert_eq!(m.maintenance_equity().unwrap(), sv("700"));
    assert_eq!(
        m.initial_equity().unwrap(),
        sv("600"),
        "B − D = 1600 − 1000"
    );
    assert!(!m.meets_initial(), "600 < IM 1000");
    assert!(!m.is_liquidatable(), "700 > MM 500");
    assert_eq!(
        m.health_factor(),
        Some(Ratio::from_fraction(1700, 1500, crate::money::Rounding::Down).unwrap())
    );
}

#[test]
fn isolated_formula_and_exact_price_agree_long_and_short() {
    let p = perp_params(AssetId(0));
    let (imr, mmr) = (p.tiers[0].initial, p.tiers[0].maintenance);
    let long = isolated_formula(price("10000"), imr, mmr, true).unwrap();
    let short = isolated_formula(price("10000"), imr, mmr, false).unwrap();
    // 10000 · 0.9 / 0.95 and 10000 · 1.1 / 1.05.
    assert_eq!(long.to_string()[..9].to_owned(), "9473.6842");
    assert_eq!(short.to_string()[..10].to_owned(), "10476.1904");
    let a = long_10x();
    let c = mark_liquidation_price(
        Scope::Cross,
        &Account::new(),
        &a,
        &RiskSnapshot::new(),
        &snapshot("10000"),
        BTC,
    )
    .unwrap();
    let down = c.down.unwrap();
    assert!(c.up.is_none());
    assert!(down.raw().abs_diff(long.raw()) <= 2, "{down} vs {long}");
    let mut s = PerpAccount::with_cash(sv("1000"));
    s.trade(BTC, fill("-1", "10000"), Value::ZERO, SignedValue::ZERO)
        .unwrap();
    let c = mark_liquidation_price(
        Scope::Cross,
        &Account::new(),
        &s,
        &RiskSnapshot::new(),
        &snapshot("10000"),
        BTC,
    )
    .unwrap();
    let up = c.up.unwrap();
    assert!(c.down.is_none());
    assert!(up.raw().abs_diff(short.raw()) <= 2, "{up} vs {short}");
    // The exact price is on the line: liquidatable there, not one unit before.
    let at = |m: Price| {
        let mut snap = snapshot("10000");
        snap.set(
            BTC,
            PerpRisk {
                mark: m,
                ..risk_at("10000")
            },
        );
        Margin::of(&Account::new(), &s, &RiskSnapshot::new(), &snap)
            .unwrap()
            .is_liquidatable()
    };
    assert!(at(up));
    assert!(!at(Price::from_raw(up.raw() - 1)));
}

#[test]
fn isolated_position_keeps_its_loss_to_itself() {
    let mut a = PerpAccount::with_cash(sv("5000"));
    a.isolate(BTC, usd("1000"), SignedValue::ZERO).unwrap();
    a.trade(BTC, fill("1", "10000"), Value::ZERO, SignedValue::ZERO)
        .unwrap();
    assert_eq!(a.cash, sv("4000"));
    let snap = snapshot("9400");
    let im = IsolatedMargin::of(&a, BTC, &snap).unwrap().unwrap();
    assert_eq!(im.equity, sv("400"));
    assert!(im.is_liquidatable());
    let cross = Margin::of(&Account::new(), &a, &RiskSnapshot::new(), &snap).unwrap();
    assert!(!cross.is_liquidatable(), "the cross side holds only cash");
    assert_eq!(cross.perp_equity, sv("4000"));
    let c = mark_liquidation_price(
        Scope::Isolated(BTC),
        &Account::new(),
        &a,
        &RiskSnapshot::new(),
        &snapshot("10000"),
        BTC,
    )
    .unwrap();
    let formula = isolated_formula(price("10000"), ratio("0.1"), ratio("0.05"), true).unwrap();
    assert!(c.down.unwrap().raw().abs_diff(formula.raw()) <= 2);
}

#[test]
fn cross_asset_liquidation_price_moves_collateral_and_perp_together() {
    // 1 WETH of collateral (lt 0.85), a 10-contract ETH-PERP long at 2,000 on WETH's index, no
    // cash: Em(p) = 0.85 p + 10 (p − 2000) and MM = 0.05 · 10 p, so the line is
    // p = 20000 / 10.35 = 1932.367…
    let mut lending = Account::new();
    lending
        .add_supply(AssetId(0), crate::money::Shares::from_raw(10u128.pow(18)))
        .unwrap();
    let mut perp = PerpAccount::new();
    perp.trade(BTC, fill("10", "2000"), Value::ZERO, SignedValue::ZERO)
        .unwrap();
    let c = asset_liquidation_price(
        &lending,
        &perp,
        &weth_at("2000"),
        &snapshot("2000"),
        AssetId(0),
    )
    .unwrap();
    let down = c.down.unwrap().to_f64();
    assert!((down - 20000.0 / 10.35).abs() < 1e-6, "{down}");
    assert!(c.up.is_none());
}

/// Bids at 99, 98, … 90 (index 100), 1 contract each.
pub(super) fn ladder(top: u32, levels: u32, each: &str) -> BookSide {
    BookSide::new(
        Side::Bid,
        (0..levels)
            .map(|i| Level {
                price: Price::from_int(u128::from(top - i)).unwrap(),
                size: Amount::from_raw(contracts(each).unsigned_abs()),
            })
            .collect(),
    )
}

pub(super) struct OneBook(pub BookSide);
impl Books for OneBook {
    fn side_for(&mut self, _: PerpMarketId, hit: Side) -> Option<&mut BookSide> {
        (hit == self.0.side()).then_some(&mut self.0)
    }
}

#[test]
fn book_take_stays_within_the_limit_and_rounds_against_the_taker() {
    let mut b = ladder(99, 10, "1");
    assert_eq!(b.absorbable(price("97")), Amount::from_raw(3_000_000));
    let f = b
        .take(
            Amount::from_raw(2_500_000),
            price("97"),
            crate::money::Decimals::new(6).unwrap(),
        )
        .unwrap();
    assert_eq!(f.notional, usd("245.5"), "99 + 98 + 0.5 · 97");
    assert_eq!(f.worst_price, Some(price("97")));
    assert_eq!(b.levels()[0].size, Amount::from_raw(500_000));
    let f = b
        .take(
            Amount::from_raw(5_000_000),
            price("97"),
            crate::money::Decimals::new(6).unwrap(),
        )
        .unwrap();
    assert_eq!(f.size, Amount::from_raw(500_000), "stops at the limit");
}

#[test]
fn a_round_reduces_the_largest_risk_within_tolerance_to_the_target() {
    // 10 contracts long at 100 with 95 of cash, marked at 95: equity 45, MM 47.5: liquidatable.
    let mut a = PerpAccount::with_cash(sv("95"));
    a.trade(BTC, fill("10", "100"), Value::ZERO, SignedValue::ZERO)
        .unwrap();
    let snap = snapshot("95");
    let mut markets = vec![PerpMarketState::default()];
    // Bids from 95 down, 0.5 contracts a level: within 2% of 95 (93.1) are 95, 94.
    let mut books = OneBook(ladder(95, 5, "0.5"));
    let before = Exposure::of(
        Scope::Cross,
        &Account::new(),
        &a,
        &RiskSnapshot::new(),
        &snap,
    )
    .unwrap();
    assert!(before.is_liquidatable());
    let round = unwind_round(
        Mode::Soft { started: false },
        Scope::Cross,
        &Account::new(),
        &mut a,
        &RiskSnapshot::new(),
        &snap,
        &mut markets,
        &mut books,
    )
    .unwrap();
    assert_eq!(round.chunks.len(), 1);
    let c = round.chunks[0];
    assert!(c.worst_price >= c.limit && c.limit == price("93.1"));
    assert_eq!(
        c.size,
        -contracts("1"),
        "all the book holds within tolerance"
    );
    assert_eq!(c.fee, usd("0.4725"), "0.5% of 94.5");
    assert_eq!(
        markets[0].insurance_fund,
        c.fee.checked_sub(c.fee_to_liquidator).unwrap()
    );
    assert!(
        !round.done,
        "the book could not absorb enough: the rest waits"
    );
    // The book refills: the next round reaches the target (equity ≥ IM).
    let mut books = OneBook(ladder(95, 2, "50"));
    let between = Exposure::of(
        Scope::Cross,
        &Account::new(),
        &a,
        &RiskSnapshot::new(),
        &snap,
    )
    .unwrap();
    assert!(
        !between.is_liquidatable(),
        "above MM after the first chunk, still below IM"
    );
    let round = unwind_round(
        Mode::Soft { started: true },
        Scope::Cross,
        &Account::new(),
        &mut a,
        &RiskSnapshot::new(),
        &snap,
        &mut markets,
        &mut books,
    )
    .unwrap();
    assert!(round.done);
    let after = Exposure::of(
        Scope::Cross,
        &Account::new(),
        &a,
        &RiskSnapshot::new(),
        &snap,
    )
    .unwrap();
    assert!(after.gap(ratio("1")).unwrap().raw() <= 0);
    assert!(
        a.position(BTC).is_some(),
        "soft: the position is reduced, not closed"
    );
}

#[test]
fn backstop_insurance_and_adl_cover_a_bankrupt_long() {
    // A long bankrupt by 300 at the mark: 10 contracts at 100, cash 200, mark 50.
    let mut bankrupt = PerpAccount::with_cash(sv("200"));
    bankrupt
        .trade(BTC, fill("10", "100"), Value::ZERO, SignedValue::ZERO)
        .unwrap();
    // Counterparties: a profitable short (entry 100), a profitable long (same side: never
    // touched), a second short with less profit per unit of leverage.
    let mut short_a = PerpAccount::with_cash(sv("100"));
    short_a
        .trade(BTC, fill("-6", "100"), Value::ZERO, SignedValue::ZERO)
        .unwrap();
    let mut long_b = PerpAccount::with_cash(sv("1000"));
    long_b
        .trade(BTC, fill("5", "40"), Value::ZERO, SignedValue::ZERO)
        .unwrap();
    let mut short_c = PerpAccount::with_cash(sv("5000"));
    short_c
        .trade(BTC, fill("-6", "80"), Value::ZERO, SignedValue::ZERO)
        .unwrap();
    let mut vault = PerpAccount::with_cash(sv("1000000"));
    let mut markets = vec![PerpMarketState {
        insurance_fund: usd("100"),
        ..PerpMarketState::default()
    }];
    let snap = snapshot("50");
    let quotes = |xs: &[&PerpAccount], m: &PerpMarketState| {
        let mut q = SignedValue::ZERO;
        for x in xs {
            q = q.checked_add(x.quote().unwrap()).unwrap();
        }
        q.plus(m.insurance_fund).unwrap().minus(m.bad_debt).unwrap()
    };
    let total = quotes(
        &[&bankrupt, &short_a, &long_b, &short_c, &vault],
        &markets[0],
    );
    let long_b_before = long_b.clone();
    let out = {
        let mut cps: Vec<&mut PerpAccount> = vec![&mut short_a, &mut long_b, &mut short_c];
        backstop(
            Scope::Cross,
            &mut bankrupt,
            Value::ZERO,
            &snap,
            &mut markets,
            &mut vault,
            &mut cps,
        )
        .unwrap()
    };
    assert_eq!(out.insurance_paid, usd("100"));
    assert_eq!(out.bad_debt, Value::ZERO);
    assert!(!out.adl.is_empty());
    assert!(
        out.adl.iter().all(|f| f.counterparty != 1),
        "never the same side"
    );
    assert_eq!(
        out.adl[0].counterparty, 0,
        "short_a: 50% profit at 0.75x before short_c: 37.5% at 0.06x"
    );
    let haircuts: Value = out
        .adl
        .iter()
        .fold(Value::ZERO, |s, f| s.checked_add(f.haircut).unwrap());
    assert_eq!(haircuts, usd("200"));
    assert_eq!(bankrupt.cash, SignedValue::ZERO);
    assert!(bankrupt.is_flat());
    assert_eq!(long_b, long_b_before);
    assert!(
        vault.is_flat(),
        "the vault closed what it took against the shorts"
    );
    assert_eq!(
        quotes(
            &[&bankrupt, &short_a, &long_b, &short_c, &vault],
            &markets[0]
        ),
        total
    );
}

#[test]
fn backstop_with_margin_left_pays_the_vault_at_most_mm() {
    let mut a = PerpAccount::with_cash(sv("60"));
    a.trade(BTC, fill("10", "100"), Value::ZERO, SignedValue::ZERO)
        .unwrap();
    let mut vault = PerpAccount::new();
    let mut markets = vec![PerpMarketState::default()];
    let out = backstop(
        Scope::Cross,
        &mut a,
        Value::ZERO,
        &snapshot("95"),
        &mut markets,
        &mut vault,
        &mut [],
    )
    .unwrap();
    // Closing at 95 leaves 10; MM of the position was 47.5, so the vault keeps all 10.
    assert_eq!(out.margin_to_vault, usd("10"));
    assert_eq!(vault.position(BTC).unwrap().size, contracts("10"));
    assert_eq!(a.cash, SignedValue::ZERO);
}

/// The vault already holds 10 long from index 0 when the market's cumulative funding is 2 USD
/// per contract: before it takes 10 more, its 20 owed are settled into its cash and the pool,
/// and its position restarts from the current index (otherwise the next settlement would
/// charge the 20 contracts for funding only 10 accrued).
#[test]
fn the_backstop_settles_the_vaults_funding_before_its_size_changes() {
    let mut vault = PerpAccount::with_cash(sv("1000"));
    vault
        .trade(BTC, fill("10", "100"), Value::ZERO, SignedValue::ZERO)
        .unwrap();
    let mut a = PerpAccount::with_cash(sv("60"));
    a.trade(BTC, fill("10", "100"), Value::ZERO, sv("2"))
        .unwrap();
    let mut snap = PerpSnapshot::new();
    snap.set(
        BTC,
        PerpRisk {
            cumulative_funding: sv("2"),
            ..risk_at("95")
        },
    );
    let mut markets = vec![PerpMarketState::default()];
    let out = backstop(
        Scope::Cross,
        &mut a,
        Value::ZERO,
        &snap,
        &mut markets,
        &mut vault,
        &mut [],
    )
    .unwrap();
    assert_eq!(out.margin_to_vault, usd("10"));
    let p = vault.position(BTC).unwrap();
    assert_eq!(p.size, contracts("20"));
    assert_eq!(p.funding_index, sv("2"));
    assert_eq!(vault.cash, sv("990"), "1000 − 20 of funding + 10 of margin");
    assert_eq!(markets[0].funding_pool, sv("20"));
}

#[test]
fn uncovered_loss_is_written_off_as_bad_debt() {
    let mut a = PerpAccount::with_cash(sv("100"));
    a.trade(BTC, fill("10", "100"), Value::ZERO, SignedValue::ZERO)
        .unwrap();
    let mut vault = PerpAccount::new();
    let mut markets = vec![PerpMarketState::default()];
    let out = backstop(
        Scope::Cross,
        &mut a,
        Value::ZERO,
        &snapshot("80"),
        &mut markets,
        &mut vault,
        &mut [],
    )
    .unwrap();
    assert_eq!(out.bad_debt, usd("100"));
    assert_eq!(markets[0].bad_debt, usd("100"));
    assert_eq!(a.cash, SignedValue::ZERO);
}

#[test]
fn orders_are_checked_with_field_and_limit() {
    let mut p = perp_params(AssetId(0));
    assert_eq!(check_order(&p, 0, price("100")), Err(OrderError::ZeroSize));
    let e = check_order(&p, 1_500, price("100")).unwrap_err();
    assert_eq!(
        e.to_string(),
        "size: 1500 base units is not a multiple of lot_size 1000"
    );
    let e = check_order(&p, -2_000, price("100.005")).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("price: 100.005 is not a multiple of tick_size 0.01"),
        "{e}"
    );
    assert!(check_order(&p, -2_000, price("100.01")).is_ok());
    // Open interest: a flip from short 2 to long 3 adds 3 of long size; the cap refuses growth only.
    assert_eq!(open_interest_change(-2, 3), 3);
    assert_eq!(open_interest_change(5, 1), -4);
    p.open_interest_cap = Some(Amount::from_raw(10));
    let state = PerpMarketState {
        open_interest: Amount::from_raw(8),
        ..PerpMarketState::default()
    };
    assert_eq!(check_open_interest(&p, &state, 2), Ok(Amount::from_raw(10)));
    let e = check_open_interest(&p, &state, 3).unwrap_err();
    assert_eq!(
        e,
        OrderError::OpenInterest {
            after: Amount::from_raw(11),
            cap: Amount::from_raw(10)
        }
    );
    let full = PerpMarketState {
        open_interest: Amount::from_raw(12),
        ..PerpMarketState::default()
    };
    assert_eq!(
        check_open_interest(&p, &full, -1),
        Ok(Amount::from_raw(11)),
        "lowering is never refused"
    );
    p.open_interest_cap = Some(Amount::ZERO);
    assert_eq!(p.validate().unwrap_err().field, "open_interest_cap");
}

#[test]
fn adding_risk_needs_initial_margin_reducing_never_does() {
    // 1,000 of cash: 10 contracts at 1,000 need IM 1,000 (10%): allowed at exactly IM; 11 are not.
    let a = |n: &str| {
        let mut a = PerpAccount::with_cash(sv("1000"));
        a.trade(BTC, fill(n, "1000"), Value::ZERO, SignedValue::ZERO)
            .unwrap();
        Margin::of(&Account::new(), &a, &RiskSnapshot::new(), &snapshot("1000")).unwrap()
    };
    assert!(check_margin(0, contracts("10"), &a("10")).is_ok());
    let e = check_margin(0, contracts("11"), &a("11")).unwrap_err();
    assert_eq!(
        e,
        OrderError::Margin {
            equity: sv("1000"),
            required: usd("1100")
        }
    );
    assert!(e.to_string().contains("reduce the size or add collateral"));
    // From 11 (under-margined) down to 10.5: a reduction, allowed though still below IM.
    assert!(check_margin(contracts("11"), contracts("10.5"), &a("10.5")).is_ok());
    assert!(
        reduces_only(5, 0) && reduces_only(-5, -2) && !reduces_only(5, -1) && !reduces_only(0, 1)
    );
}
