//! Hand-computed vectors (figures from exact decimal arithmetic, shown in the comments) and
//! property tests over random accounts, prices, decimals and parameters.

use super::*;
use crate::account::Account;
use crate::asset::AssetId;
use crate::money::{Amount, Decimals, Index, Price, RAY, Ratio, Rounding, Shares, Value, WAD};
use crate::testing::ratio;
use proptest::prelude::*;

fn risk(price: &str, decimals: u8, cf: &str, lt: &str, bw: &str) -> AssetRisk {
    AssetRisk {
        price: Price::parse("price", price).unwrap(),
        decimals: Decimals::new(decimals).unwrap(),
        collateral_factor: ratio(cf),
        liquidation_threshold: ratio(lt),
        borrow_weight: ratio(bw),
        liquidation_penalty: ratio("0.05"),
        liquidation_discount: ratio("0.04"),
        stale: false,
        supply_index: Index::ONE,
        borrow_index: Index::ONE,
    }
}

fn value(text: &str) -> Value {
    Value::parse("value", text).unwrap()
}

/// Shares worth `tokens` at index 1.
fn tokens(text: &str, decimals: u8) -> Shares {
    let a = Amount::parse_tokens("amount", text, Decimals::new(decimals).unwrap()).unwrap();
    Shares::from_raw(a.raw())
}

const WETH: AssetId = AssetId(0);
const USDC: AssetId = AssetId(1);
const WBTC: AssetId = AssetId(2);
const DAI: AssetId = AssetId(3);
const USDT: AssetId = AssetId(4);

fn snapshot() -> RiskSnapshot {
    let mut s = RiskSnapshot::new();
    s.set(WETH, risk("3000", 18, "0.8", "0.825", "1.05"));
    s.set(USDC, risk("1.0001", 6, "0.8", "0.85", "1"));
    s.set(WBTC, risk("60000", 8, "0.7", "0.75", "1.1"));
    s.set(DAI, risk("0.9998", 18, "0.75", "0.8", "1"));
    let mut usdt = risk("1.0002", 6, "0.8", "0.85", "1.1");
    usdt.borrow_index = Index::parse("i", "1.05").unwrap();
    s.set(USDT, usdt);
    s
}

#[test]
fn one_collateral_one_debt() {
    // 10 WETH at 3000 (cf 0.8, lt 0.825) against 20,000 USDC at 1 (bw 1).
    let mut s = snapshot();
    s.set(USDC, risk("1", 6, "0.8", "0.85", "1"));
    let mut a = Account::new();
    a.add_supply(WETH, tokens("10", 18)).unwrap();
    a.add_debt(USDC, tokens("20000", 6)).unwrap();
    let h = Health::of(&a, &s).unwrap();
    assert_eq!(h.collateral_value, value("30000"));
    assert_eq!(h.borrowing_power, value("24000")); // 30,000 · 0.8
    assert_eq!(h.liquidation_collateral, value("24750")); // 30,000 · 0.825
    assert_eq!(h.debt_value, value("20000"));
    assert_eq!(h.weighted_debt, value("20000"));
    assert_eq!(h.health_factor(), Some(ratio("1.2375"))); // 24,750 / 20,000
    assert_eq!(h.risk_level(), ratio("0.808080808080808081")); // 20,000/24,750, up
    assert_eq!(h.borrowing_power_left(), value("4000"));
    assert!(!h.is_liquidatable() && h.within_borrowing_power());

    let prices = liquidation_prices(&a, &s).unwrap();
    // WETH: 20,000 / (10 · 0.825) = 2424.2424.., down; USDC: 24,750 / 20,000 = 1.2375.
    assert_eq!(prices.len(), 2);
    assert_eq!(prices[0].asset, WETH);
    assert_eq!(prices[0].direction, Direction::Falls);
    assert_eq!(prices[0].price.to_string(), "2424.242424242424242424");
    assert!((prices[0].distance_pct() - (-19.191_919)).abs() < 1e-5);
    assert_eq!(prices[1].asset, USDC);
    assert_eq!(prices[1].direction, Direction::Rises);
    assert_eq!(prices[1].price.to_string(), "1.2375");
    assert!((prices[1].distance_pct() - 23.75).abs() < 1e-9);

    // Pair: WETH/USDC at 20,000 / (10 · 0.825) = 2424.2424.., rounded down.
    let pair = pair_liquidation_price(&a, &s).unwrap().unwrap();
    assert_eq!((pair.collateral, pair.debt), (WETH, USDC));
    assert_eq!(pair.ratio.to_string(), "2424.242424242424242424");
    assert_eq!(pair.current, ratio("3000"));
}

#[test]
fn three_collateral_two_debt_mixed_decimals() {
    // Collateral: 0.5 WBTC (8 dec) at 60,000; 2.5 WETH (18) at 3,000; 10,000.5 USDC (6) at
    // 1.0001. Debt: 15,000 DAI (18) at 0.9998, bw 1; 4,000 USDT debt shares (6) at borrow
    // index 1.05 = 4,200 USDT at 1.0002, bw 1.1.
    //   B = 21,000 + 6,000 + 8,001.20004               = 35,001.20004
    //   C = 22,500 + 6,187.5 + 8,501.2750425           = 37,188.7750425
    //   V = 14,997 + 4,200.84                          = 19,197.84
    //   D = 14,997 + 4,620.924                         = 19,617.924
    //   HF = C/D = 1.895652926502314923.. (down), RL = D/C = 0.527522726349020212 (up)
    let s = snapshot();
    let mut a = Account::new();
    a.add_supply(WBTC, tokens("0.5", 8)).unwrap();
    a.add_supply(WETH, tokens("2.5", 18)).unwrap();
    a.add_supply(USDC, tokens("10000.5", 6)).unwrap();
    a.add_debt(DAI, tokens("15000", 18)).unwrap();
    a.add_debt(USDT, tokens("4000", 6)).unwrap();
    let h = Health::of(&a, &s).unwrap();
    assert_eq!(h.borrowing_power, value("35001.20004"));
    assert_eq!(h.liquidation_collateral, value("37188.7750425"));
    assert_eq!(h.debt_value, value("19197.84"));
    assert_eq!(h.weighted_debt, value("19617.924"));
    assert_eq!(h.health_factor(), Some(ratio("1.895652926502314923")));
    assert_eq!(h.risk_level(), ratio("0.527522726349020212"));
    let parts = position_health(&a, &s).unwrap();
    let usdt = parts.iter().find(|p| p.asset == USDT).unwrap();
    assert_eq!(usdt.debt_amount.raw(), 4_200_000_000, "4,000 shares · 1.05");

    let prices = liquidation_prices(&a, &s).unwrap();
    let of = |asset| prices.iter().find(|p| p.asset == asset).unwrap();
    // WBTC falls: (D − (C − 22,500)) / (0.5 · 0.75) = 13,144.39722
    assert_eq!(of(WBTC).price.to_string(), "13144.39722");
    // DAI rises: (C − (D − 14,997)) / (15,000 · 1) = 2.1711900695
    assert_eq!(of(DAI).price.to_string(), "2.1711900695");
    assert!(
        pair_liquidation_price(&a, &s).unwrap().is_none(),
        "not a two-asset account"
    );
}

#[test]
fn no_debt_is_infinitely_healthy() {
    let s = snapshot();
    let mut a = Account::new();
    a.add_supply(WETH, tokens("1", 18)).unwrap();
    let h = Health::of(&a, &s).unwrap();
    assert_eq!(h.health_factor(), None);
    assert_eq!(h.risk_level(), Ratio::ZERO);
    assert!(!h.is_liquidatable());
    assert!(liquidation_prices(&a, &s).unwrap().is_empty());
    let empty = Health::of(&Account::new(), &s).unwrap();
    assert!(!empty.is_liquidatable() && empty.health_factor().is_none());
}

#[test]
fn exactly_at_one_is_liquidatable() {
    // 1 WETH at 2,000 with lt 0.825: C = 1,650. A debt of exactly 1,650 USDC gives HF = 1.
    let mut s = snapshot();
    s.set(WETH, risk("2000", 18, "0.8", "0.825", "1"));
    s.set(USDC, risk("1", 6, "0.8", "0.85", "1"));
    let mut a = Account::new();
    a.add_supply(WETH, tokens("1", 18)).unwrap();
    a.add_debt(USDC, tokens("1650", 6)).unwrap();
    let h = Health::of(&a, &s).unwrap();
    assert_eq!(h.health_factor(), Some(Ratio::ONE));
    assert_eq!(h.risk_level(), Ratio::ONE);
    assert!(h.is_liquidatable());
    // One base unit (0.000001 USDC) less debt and it is not.
    a.remove_debt(USDC, Shares::from_raw(1)).unwrap();
    assert!(!Health::of(&a, &s).unwrap().is_liquidatable());
}

#[test]
fn debt_without_collateral_and_missing_prices() {
    let s = snapshot();
    let mut a = Account::new();
    a.add_debt(DAI, tokens("1", 18)).unwrap();
    let h = Health::of(&a, &s).unwrap();
    assert_eq!(h.health_factor(), Some(Ratio::ZERO));
    assert_eq!(h.risk_level(), Ratio::MAX);
    assert!(h.is_liquidatable());
    a.add_supply(AssetId(9), Shares::from_raw(1)).unwrap();
    assert_eq!(
        Health::of(&a, &s),
        Err(HealthError::MissingAsset(AssetId(9)))
    );
}

// ---- property tests -----------------------------------------------------------------------

const ASSETS: u16 = 8;

/// A random but valid asset: decimals 0..=30, price 10^-4..10^6 USD, lt in (0.05, 0.95],
/// cf < lt, bw in [1, 2], indices in [1, 3).
fn asset_risk() -> impl Strategy<Value = AssetRisk> {
    (
        0u8..=30,
        1u128..=10u128.pow(10),
        50u128..=950,
        0u128..1000,
        0u128..=1000,
        0u128..2 * RAY,
        0u128..2 * RAY,
    )
        .prop_map(|(d, price_e4, lt_m, cf_share, bw_m, si, bi)| {
            let lt = Ratio::from_fraction(lt_m, 1000, Rounding::Down).unwrap();
            AssetRisk {
                price: Price::from_raw(price_e4 * (WAD / 10_000)),
                decimals: Decimals::new(d).unwrap(),
                liquidation_threshold: lt,
                collateral_factor: lt
                    .mul(
                        Ratio::from_fraction(cf_share, 1000, Rounding::Down).unwrap(),
                        Rounding::Down,
                    )
                    .unwrap(),
                borrow_weight: Ratio::from_fraction(1000 + bw_m, 1000, Rounding::Down).unwrap(),
                liquidation_penalty: ratio("0.05"),
                liquidation_discount: ratio("0.04"),
                stale: false,
                supply_index: Index::from_raw(RAY + si),
                borrow_index: Index::from_raw(RAY + bi),
            }
        })
}

fn market() -> impl Strategy<Value = RiskSnapshot> {
    prop::collection::vec(asset_risk(), ASSETS as usize).prop_map(|assets| {
        let mut s = RiskSnapshot::new();
        for (i, a) in assets.into_iter().enumerate() {
            s.set(AssetId(i as u16), a);
        }
        s
    })
}

/// Whole-token quantities 0.001..10^7 (several lots of 10^7 tokens of a 30-decimal asset at index 3 near the u128 limit) as (asset, thousandths), turned into shares per asset.
fn holdings(max: usize) -> impl Strategy<Value = Vec<(u16, u64)>> {
    prop::collection::vec((0..ASSETS, 1u64..10_000_000_000), 1..=max)
}

fn shares_for(s: &RiskSnapshot, asset: AssetId, thousandths: u64) -> Shares {
    let unit = s.get(asset).unwrap().decimals.unit();
    let raw =
        crate::money::muldiv::mul_div(u128::from(thousandths), unit, 1000, Rounding::Down).unwrap();
    Shares::from_raw(raw.max(1))
}

/// An account with collateral in some assets and debt in others (disjoint when asked).
fn account(
    s: &RiskSnapshot,
    supply: &[(u16, u64)],
    debt: &[(u16, u64)],
    disjoint: bool,
) -> Account {
    let mut a = Account::new();
    for &(asset, q) in supply {
        a.add_supply(AssetId(asset), shares_for(s, AssetId(asset), q))
            .unwrap();
    }
    for &(asset, q) in debt {
        if !(disjoint && supply.iter().any(|&(c, _)| c == asset)) {
            a.add_debt(AssetId(asset), shares_for(s, AssetId(asset), q))
                .unwrap();
        }
    }
    a
}

fn with_price(s: &RiskSnapshot, asset: AssetId, price: Price) -> RiskSnapshot {
    let mut out = s.clone();
    let mut r = *s.get(asset).unwrap();
    r.price = price;
    out.set(asset, r);
    out
}

fn hf_raw(h: &Health) -> u128 {
    h.health_factor().map_or(u128::MAX, Ratio::raw)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    /// Any shares, prices, decimals and indices: a result or a typed error, never a panic.
    #[test]
    fn no_input_panics(
        raw in prop::collection::vec((0..ASSETS, any::<u128>(), any::<u128>()), 0..8),
        prices in prop::collection::vec((any::<u128>(), 0u8..=30, any::<u128>(), any::<u128>()), ASSETS as usize),
    ) {
        let mut s = RiskSnapshot::new();
        for (i, (p, d, si, bi)) in prices.into_iter().enumerate() {
            s.set(AssetId(i as u16), AssetRisk {
                price: Price::from_raw(p), decimals: Decimals::new(d).unwrap(),
                collateral_factor: Ratio::from_raw(p % WAD), liquidation_threshold: Ratio::ONE,
                borrow_weight: Ratio::from_raw(WAD + si % WAD),
                liquidation_penalty: Ratio::from_raw(bi % (WAD / 5)), liquidation_discount: Ratio::ZERO, stale: false,
                supply_index: Index::from_raw(si), borrow_index: Index::from_raw(bi),
            });
        }
        let mut a = Account::new();
        for (asset, sup, debt) in raw {
            let _ = a.add_supply(AssetId(asset), Shares::from_raw(sup));
            let _ = a.add_debt(AssetId(asset), Shares::from_raw(debt));
        }
        if let Ok(h) = Health::of(&a, &s) {
            let _ = (h.health_factor(), h.risk_level(), h.is_liquidatable());
        }
        let _ = liquidation_prices(&a, &s);
        let _ = pair_liquidation_price(&a, &s);
        let _ = position_health(&a, &s);
    }

    /// The weighted totals round once per account: each lies within one unit per position of
    /// the sum of the separately rounded per-position terms, on the protocol's side. The
    /// unweighted totals are exact sums.
    #[test]
    fn totals_bracket_the_sums_of_positions(s in market(), sup in holdings(4), debt in holdings(3)) {
        let a = account(&s, &sup, &debt, false);
        let h = Health::of(&a, &s).unwrap();
        let parts = position_health(&a, &s).unwrap();
        let n = parts.len() as u128;
        let sum = |f: fn(&PositionHealth) -> Value| parts.iter().map(|p| f(p).raw()).sum::<u128>();
        let (c, b, d) = (sum(|p| p.liquidation_collateral), sum(|p| p.borrowing_power), sum(|p| p.weighted_debt));
        prop_assert!(c <= h.liquidation_collateral.raw() && h.liquidation_collateral.raw() < c + n);
        prop_assert!(b <= h.borrowing_power.raw() && h.borrowing_power.raw() < b + n);
        prop_assert!(d >= h.weighted_debt.raw() && h.weighted_debt.raw() + n > d);
        prop_assert_eq!(sum(|p| p.collateral_value), h.collateral_value.raw());
        prop_assert_eq!(sum(|p| p.debt_value), h.debt_value.raw());
        prop_assert!(h.borrowing_power <= h.liquidation_collateral, "cf < lt everywhere");
        prop_assert!(h.debt_value <= h.weighted_debt, "bw >= 1 everywhere");
        prop_assert_eq!(h.is_liquidatable(), h.health_factor().is_some_and(|hf| hf <= Ratio::ONE));
    }

    /// The auction pair is the largest debt and the largest collateral by value: no position
    /// is worth more on its side, and a side is empty exactly when nothing on it has value.
    #[test]
    fn largest_pair_is_largest_by_value(s in market(), sup in holdings(4), debt in holdings(3), overlap in any::<bool>()) {
        let a = account(&s, &sup, &debt, overlap);
        let parts = position_health(&a, &s).unwrap();
        let (d, c) = largest_pair(&a, &s).unwrap();
        let check = |chosen: Option<AssetId>, side: fn(&PositionHealth) -> Value| {
            let best = parts.iter().map(side).max().unwrap_or(Value::ZERO);
            match chosen {
                None => best.is_zero(),
                Some(id) => parts.iter().any(|p| p.asset == id && side(p) == best && !best.is_zero()),
            }
        };
        prop_assert!(check(d, |p| p.debt_value), "debt side {d:?} of {parts:?}");
        prop_assert!(check(c, |p| p.collateral_value), "collateral side {c:?} of {parts:?}");
    }

    /// Raising a collateral price never lowers HF; raising a debt price never raises it.
    #[test]
    fn health_is_monotone_in_prices(s in market(), sup in holdings(4), debt in holdings(3), asset in 0..ASSETS, bump in 1u128..=1000) {
        let a = account(&s, &sup, &debt, true);
        let id = AssetId(asset);
        let before = Health::of(&a, &s).unwrap();
        let p = s.get(id).unwrap().price;
        let higher = Price::from_raw(p.raw() + p.raw() / 1000 * bump + 1);
        let after = Health::of(&a, &with_price(&s, id, higher)).unwrap();
        let pos = a.position(id);
        if !pos.supply.is_zero() {
            prop_assert!(hf_raw(&after) >= hf_raw(&before));
            prop_assert!(after.liquidation_collateral >= before.liquidation_collateral);
        }
        if !pos.debt.is_zero() {
            prop_assert!(hf_raw(&after) <= hf_raw(&before));
            prop_assert!(after.weighted_debt >= before.weighted_debt);
        }
    }

    /// At each liquidation price the account is liquidatable, and one unit of price on the
    /// safe side its HF is 1 to within one unit of the last place (10^-18). Debts are at least
    /// 10 USD so that the last place of HF is finer than the rounding of the values.
    #[test]
    fn hf_is_one_at_each_liquidation_price(s in market(), sup in holdings(4), debt in holdings(3), overlap in any::<bool>()) {
        let a = account(&s, &sup, &debt, !overlap);
        let h = Health::of(&a, &s).unwrap();
        prop_assume!(h.weighted_debt >= value("10"));
        for lp in liquidation_prices(&a, &s).unwrap() {
            // A price so far away that the account's value no longer fits is not checkable.
            let Ok(at) = Health::of(&a, &with_price(&s, lp.asset, lp.price)) else { continue };
            prop_assert!(at.is_liquidatable(), "{:?}: HF {:?}", lp, at.health_factor());
            let safe = match lp.direction {
                Direction::Falls => Price::from_raw(lp.price.raw() + 1),
                Direction::Rises => Price::from_raw(lp.price.raw() - 1),
            };
            let Ok(next) = Health::of(&a, &with_price(&s, lp.asset, safe)) else { continue };
            if next.weighted_debt >= value("10") {
                prop_assert!(hf_raw(&next) >= WAD - 1, "{:?}: HF one unit away {:?}", lp, next.health_factor());
            }
        }
    }

    /// For a two-asset account, scaling both prices so their ratio sits at the pair
    /// liquidation price makes it liquidatable, and a slightly higher ratio does not.
    #[test]
    fn pair_price_is_the_boundary(s in market(), c in 0..ASSETS, d in 0..ASSETS, qc in 1u64..10_000_000_000, qd in 1u64..10_000_000_000) {
        prop_assume!(c != d);
        let a = account(&s, &[(c, qc)], &[(d, qd)], true);
        // Accounts without a pair price are rejected (counted: proptest fails past its limit).
        let pair = pair_liquidation_price(&a, &s).unwrap();
        prop_assume!(pair.is_some());
        let pair = pair.unwrap();
        let (cid, did) = (AssetId(c), AssetId(d));
        // Keep the debt price, set the collateral price to ratio · p_d (rounded either way).
        let pd = s.get(did).unwrap().price;
        let pc_at = Price::from_raw(crate::money::muldiv::mul_div(pair.ratio.raw(), pd.raw(), WAD, Rounding::Down).unwrap());
        let h = Health::of(&a, &with_price(&s, cid, pc_at)).unwrap();
        prop_assume!(h.weighted_debt >= value("10"));
        prop_assert!(h.is_liquidatable(), "at the pair price: HF {:?}", h.health_factor());
        let above = Price::from_raw(pc_at.raw() + pc_at.raw() / 1_000_000 + 1);
        let h2 = Health::of(&a, &with_price(&s, cid, above)).unwrap();
        prop_assert!(!h2.is_liquidatable(), "1 ppm above: HF {:?}", h2.health_factor());
    }
}

// ---- the scaled valuation equals the dividing one ------------------------------------------

/// Health by the definition: every position valued by dividing ([`Valued::of`]).
fn health_by_division(a: &Account, s: &RiskSnapshot) -> Result<Health, HealthError> {
    let mut t = Totals::default();
    for pos in a.positions() {
        let risk = s.get(pos.asset)?;
        t.add(&Valued::of(pos, risk)?, risk)?;
    }
    Ok(t.health()?)
}

/// Prices and indices that are round (whole dollars, index 1, a cent) beside random ones: round
/// ones make the exact products integers, where the scaler must decline and divide.
fn round_or_random_risk() -> impl Strategy<Value = AssetRisk> {
    (
        asset_risk(),
        prop_oneof![Just(None), (1u128..=100_000).prop_map(Some)],
        prop_oneof![Just(0u128), Just(RAY), 0u128..RAY],
    )
        .prop_map(|(mut r, whole_price, index_extra)| {
            if let Some(cents) = whole_price {
                r.price = Price::from_raw(cents * (WAD / 100));
            }
            r.supply_index = Index::from_raw(RAY + index_extra);
            r
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    /// Any position at any asset view, in the whole input domain (errors included): the scaled
    /// valuation is the dividing one, to the last unit.
    #[test]
    fn scaled_valuation_equals_division(
        supply in prop_oneof![any::<u128>(), (0u128..1_000_000, 0u32..=30).prop_map(|(v, e)| v * 10u128.pow(e))],
        debt in prop_oneof![any::<u128>(), (0u128..1_000_000, 0u32..=30).prop_map(|(v, e)| v * 10u128.pow(e))],
        risk in prop_oneof![asset_risk(), round_or_random_risk()],
        raw_price in prop_oneof![Just(None), any::<u128>().prop_map(Some)],
        raw_index in prop_oneof![Just(None), any::<u128>().prop_map(Some)],
    ) {
        let mut risk = risk;
        if let Some(p) = raw_price {
            risk.price = Price::from_raw(p);
        }
        if let Some(i) = raw_index {
            risk.borrow_index = Index::from_raw(i);
        }
        let mut s = RiskSnapshot::new();
        s.set(WETH, risk);
        let (risk, scalers) = s.entry(WETH).unwrap();
        let pos = crate::account::Position { asset: WETH, supply: Shares::from_raw(supply), debt: Shares::from_raw(debt) };
        prop_assert_eq!(Valued::scaled(&pos, risk, scalers), Valued::of(&pos, risk));
    }

    /// Whole accounts over random and round markets, with whole-token holdings: `Health::of`
    /// (scaled) equals health by division, figure for figure.
    #[test]
    fn health_equals_health_by_division(
        risks in prop::collection::vec(prop_oneof![asset_risk(), round_or_random_risk()], ASSETS as usize),
        supply in holdings(4),
        debt in holdings(3),
        whole_tokens in any::<bool>(),
    ) {
        let mut s = RiskSnapshot::new();
        for (i, r) in risks.into_iter().enumerate() {
            s.set(AssetId(i as u16), r);
        }
        let round = |h: &[(u16, u64)]| -> Vec<(u16, u64)> {
            h.iter().map(|&(a, q)| (a, if whole_tokens { (q / 1000).max(1) * 1000 } else { q })).collect()
        };
        let a = account(&s, &round(&supply), &round(&debt), false);
        prop_assert_eq!(Health::of(&a, &s), health_by_division(&a, &s));
    }
}

/// One asset's view in a market state for the renewal test: `None` is "no price"; the index
/// and price choices are few, so that renewals keep some scalers and rebuild others.
fn market_view() -> impl Strategy<Value = Option<(u8, u128, u128, u128)>> {
    proptest::option::of((
        prop::sample::select(vec![0u8, 6, 8, 18]),
        prop::sample::select(vec![1u128, 3_000 * WAD, 3_001 * WAD, WAD / 3]),
        prop::sample::select(vec![RAY, RAY + 1, RAY * 3 / 2]),
        prop::sample::select(vec![RAY, RAY + 7, RAY * 2]),
    ))
}

fn view_risk((decimals, price, supply, borrow): (u8, u128, u128, u128)) -> AssetRisk {
    AssetRisk {
        price: Price::from_raw(price),
        decimals: Decimals::new(decimals).expect("decimals"),
        supply_index: Index::from_raw(supply),
        borrow_index: Index::from_raw(borrow),
        ..risk("1", 6, "0.8", "0.85", "1")
    }
}

fn fresh(views: &[Option<(u8, u128, u128, u128)>]) -> RiskSnapshot {
    let mut s = RiskSnapshot::new();
    for (a, v) in views.iter().enumerate() {
        if let Some(v) = v {
            s.set(AssetId::from_index(a), view_risk(*v));
        }
    }
    s
}

proptest! {
    /// A snapshot renewed in place (each asset set or removed, its scalers kept where their
    /// inputs did not move) equals the snapshot built afresh, scalers and length included, over
    /// several renewals.
    #[test]
    fn a_renewed_snapshot_equals_a_fresh_one(
        markets in prop::collection::vec(prop::collection::vec(market_view(), 0..6), 1..5),
    ) {
        let mut renewed = RiskSnapshot::new();
        for views in &markets {
            for a in 0..6 {
                let id = AssetId::from_index(a);
                match views.get(a).copied().flatten() {
                    Some(v) => renewed.set(id, view_risk(v)),
                    None => renewed.remove(id),
                }
            }
            prop_assert_eq!(&renewed, &fresh(views));
        }
    }
}
