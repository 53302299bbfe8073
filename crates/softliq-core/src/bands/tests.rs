//! Band conversion: hand vectors (arithmetic in the comments) and properties over random bands,
//! prices and fees.

use proptest::prelude::*;

use super::*;

const E18: u128 = WAD;

fn band(p_up: u128, x: u128, y: u128) -> Band {
    Band {
        p_up: p_up * E18,
        x,
        y,
    }
}

fn params(fee_bps: u128) -> BandParams {
    BandParams {
        fee: Ratio::from_raw(fee_bps * E18 / 10_000),
        ..BandParams::crvusd_eth()
    }
}

fn close(a: u128, b: u128, tolerance: u128) -> bool {
    a.abs_diff(b) <= tolerance
}

#[test]
fn the_grid_steps_down_by_one_over_a() {
    // A = 100 from 2,000: 1,980, then 1,960.2, exactly.
    assert_eq!(next_down(2_000 * E18, 100), 1_980 * E18);
    assert_eq!(next_down(1_980 * E18, 100), 19_602 * E18 / 10);
    let b = band(2_000, 0, E18);
    assert_eq!(b.p_down(100), 1_980 * E18);
}

#[test]
fn the_amm_price_moves_as_the_cube_of_the_oracle() {
    // All collateral (1 WETH) in the band topping at 2,000. At p_o = p_up the AMM quotes the
    // oracle price; at p_o = 1,990 it quotes 1,990³ / 2,000² = 1,970.14975: the band offers
    // its collateral below the market, which is what arbitrageurs buy.
    let b = band(2_000, 0, E18);
    let at_top = b.price(2_000 * E18, 100).unwrap().unwrap();
    assert!(close(at_top, 2_000 * E18, 10), "{at_top}");
    let lower = b.price(1_990 * E18, 100).unwrap().unwrap();
    assert!(
        close(lower, 1_970_149_750 * E18 / 1_000_000, 10_000),
        "{lower}"
    );
    assert_eq!(
        Band {
            p_up: 1,
            x: 0,
            y: 0
        }
        .price(E18, 100),
        Ok(None)
    );
}

#[test]
fn a_half_band_fall_sells_half_the_collateral_below_the_market() {
    // 1 WETH at the top of the 2,000 band; the oracle and the market fall to 1,990, mid-band.
    // With x = 0 the quadratic gives y0 = p_o · y / p_up = 0.995. At the equilibrium where the
    // AMM price is 1,990: y' = y0 · (A − (A − 1) · p_up / p_o) = 0.995 · (100 − 99 · 2,000 /
    // 1,990) = 0.5, and x' = A · y0 · p_o · (1 − p_o / p_up) = 100 · 0.995 · 1,990 · 0.005
    // = 990.025. Arbitrageurs buy 0.5 WETH for 990.025 (1,980.05 each) while the market pays
    // 1,990: 4.975 USD of loss to the borrower for this jump, with no fee.
    let mut loan = Loan {
        bands: vec![band(2_000, 0, E18)],
    };
    let s = loan
        .arbitrage(1_990 * E18, 1_990 * E18, &params(0))
        .unwrap();
    assert!(close(s.y_out, E18 / 2, 10), "{}", s.y_out);
    assert!(close(s.x_in, 990_025 * E18 / 1_000, 10_000), "{}", s.x_in);
    assert!(
        s.y_out < E18 / 2 && s.x_in > 990_025 * E18 / 1_000,
        "rounding favours the band"
    );
    let after = loan.bands[0].price(1_990 * E18, 100).unwrap().unwrap();
    assert!(close(after, 1_990 * E18, 1_000_000), "{after}");
    // The same fall with a 0.6% fee: arbitrage stops where the AMM price is 1,990 · 0.994, so
    // less is sold, and every unit paid in carries the fee.
    let mut with_fee = Loan {
        bands: vec![band(2_000, 0, E18)],
    };
    let f = with_fee
        .arbitrage(1_990 * E18, 1_990 * E18, &params(60))
        .unwrap();
    assert!(f.y_out < s.y_out);
    // What the curve got (x_in less the fee) lies between the band's starting quote and the
    // price it stopped at, per unit sold.
    let per_unit = quotient(
        u(f.x_in) * u(994) / u(1_000) * w(),
        u(f.y_out),
        Rounding::Down,
    )
    .unwrap();
    assert!(per_unit >= 1_970_149 * E18 / 1_000, "{f:?}: {per_unit}");
    assert!(per_unit <= 19_780_600 * E18 / 10_000, "{f:?}: {per_unit}");
    // The fee stays in the band, so its quote ends a little above the target (2·10^-5).
    let p_f = with_fee.bands[0].price(1_990 * E18, 100).unwrap().unwrap();
    assert!(p_f >= 1_990 * 994 * E18 / 1_000, "{p_f}");
    assert!(
        close(p_f, 1_990 * 994 * E18 / 1_000, 5 * E18 / 100),
        "{p_f}"
    );
}

#[test]
fn an_oracle_that_jumps_past_the_band_sells_it_far_below_the_market_and_a_lagging_one_does_not() {
    // The oracle jumps from 2,000 to 1,900, below the band's bottom (1,980), the market with it.
    // At p_o = 1,900 the band quotes between 1,900³/2,000² = 1,714.75 and 1,900³/1,980² =
    // 1,749.6, all below the market: arbitrageurs buy the whole band on that curve. y0 = 0.95,
    // f = 100 · 0.95 · 1,900² / 2,000 = 171,475, g = 99 · 0.95 · 2,000 / 1,900 = 99,
    // I = f · (g + 1) = 17,147,500, x' = I/g − f = 1,732.07: 8.8% below 1,900; with the 0.6%
    // fee the arbitrageur pays 1,732.07 / 0.994 = 1,742.53.
    let p = params(60);
    let mut jump = Loan {
        bands: vec![band(2_000, 0, E18)],
    };
    let s = jump.arbitrage(1_900 * E18, 1_900 * E18, &p).unwrap();
    assert_eq!(s.y_out, E18);
    assert!(close(s.x_in, 174_253 * E18 / 100, E18 / 100), "{s:?}");
    // An oracle that lags the market (an EMA, as crvUSD's) walks down in small steps while the
    // market is already at 1,900: the band's quote (∝ p_o³) reaches 1,900 · (1 − fee) while
    // p_o is still near 1,960, and the band sells there, near the market less the fee.
    let mut lagging = Loan {
        bands: vec![band(2_000, 0, E18)],
    };
    let mut x_in = 0;
    for step in 0..=100u128 {
        let p_o = (2_000 - step) * E18;
        x_in += lagging.arbitrage(p_o, 1_900 * E18, &p).unwrap().x_in;
    }
    assert_eq!(lagging.bands[0].y, 0);
    assert!(x_in >= 1_900 * E18 * 994 / 1_000, "{x_in}");
    assert!(x_in <= 1_900 * E18, "{x_in}");
    // And back up with the market at 2,000 and the oracle lagging up to 2,050: the band's quote
    // stops at 2,000 / 0.994, and the fee it earns is paid in collateral, so it buys back at
    // about the market: ~1,900 / 2,000 = 0.95 WETH left. A round trip through the whole band
    // costs about the price move (5%) and no more; the fees went to the band.
    let mut x_out = 0;
    for step in 0..=150u128 {
        let p_o = (1_900 + step) * E18;
        x_out += lagging.arbitrage(p_o, 2_000 * E18, &p).unwrap().x_out;
    }
    assert_eq!(lagging.bands[0].x, x_in - x_out);
    assert_eq!(lagging.bands[0].x, 0, "all spent buying back");
    let y = lagging.bands[0].y;
    assert!(
        (E18 * 9_440 / 10_000..=E18 * 9_500 / 10_000).contains(&y),
        "bought back {y}"
    );
}

#[test]
fn x_down_of_bands_above_and_below_the_price() {
    // A band below the price holds collateral and would turn it into y · p_down; a band above
    // it holds the debt asset and keeps it.
    let below = band(2_000, 0, E18);
    // (y0 rounds down by a unit or so, and is then multiplied by the price.)
    assert!(close(
        below.x_down(2_100 * E18, 100).unwrap(),
        1_980 * E18,
        10_000
    ));
    let above = band(2_000, 1_500 * E18, 0);
    assert!(close(
        above.x_down(1_500 * E18, 100).unwrap(),
        1_500 * E18,
        10_000
    ));
}

#[test]
fn a_loan_takes_the_lowest_bands_that_back_its_debt() {
    // 10 WETH against 10,000 at 2,000, A = 100, ten bands, 9% loan discount. Bands n1 .. n1 + 9
    // are worth 1 · Σ 2,000 · 0.99^(n1+1+k) · 0.91 = 17,402.46 · 0.99^(n1+1) at their bottoms,
    // at least 10,000 while n1 + 1 ≤ ln(0.574631) / ln(0.99) = 55.1: n1 = 54, whose top is
    // 2,000 · 0.99^54 ≈ 1,161.6.
    let p = BandParams::crvusd_eth();
    let loan = Loan::open(10 * E18, 10_000 * E18, 2_000 * E18, 2_000 * E18, &p).unwrap();
    let mut top = 2_000 * E18;
    for _ in 0..54 {
        top = next_down(top, 100);
    }
    assert_eq!(loan.bands[0].p_up, top);
    assert_eq!(loan.bands.len(), 10);
    assert_eq!(loan.totals(), (0, 10 * E18));
    assert!(
        !loan
            .is_hard_liquidatable(10_000 * E18, 2_000 * E18, &p)
            .unwrap()
    );
    // One band lower would not cover the debt.
    let lower = Loan {
        bands: loan
            .bands
            .iter()
            .map(|b| Band {
                p_up: next_down(b.p_up, 100),
                ..*b
            })
            .collect(),
    };
    let keep = u(WAD - p.loan_discount.raw());
    let worth = quotient(
        u(lower.x_down(2_000 * E18, 100).unwrap()) * keep,
        w(),
        Rounding::Down,
    )
    .unwrap();
    assert!(worth < 10_000 * E18);
    assert!(matches!(
        Loan::open(10 * E18, 20_000 * E18, 2_000 * E18, 2_000 * E18, &p),
        Err(BandError::TooMuchDebt { .. })
    ));
    // A loan too large for that is placed just below the price: band 1, topping at 1,980.
    let high = Loan::highest(10 * E18, 2_000 * E18, 2_000 * E18, &p).unwrap();
    assert_eq!(high.bands[0].p_up, 1_980 * E18);
    assert_eq!(high.totals(), (0, 10 * E18));
    assert!(matches!(
        Loan::open(999, 1, 2_000 * E18, 2_000 * E18, &p),
        Err(BandError::TooLittleCollateral { .. })
    ));
}

#[test]
fn health_falls_below_zero_only_past_the_bands() {
    // The loan above: hard-liquidatable only once the price is far enough into or below its
    // bands that x_down · 0.94 < 10,000.
    let p = BandParams::crvusd_eth();
    let mut loan = Loan::open(10 * E18, 10_000 * E18, 2_000 * E18, 2_000 * E18, &p).unwrap();
    for price in [1_500u128, 1_200, 1_150, 1_100, 1_050, 1_000] {
        loan.arbitrage(price * E18, price * E18, &p).unwrap();
    }
    let (x, y) = loan.totals();
    assert!(x > 0, "the bands converted");
    let hard = loan
        .is_hard_liquidatable(10_000 * E18, 1_000 * E18, &p)
        .unwrap();
    assert!(
        hard == (quotient(
            u(loan.x_down(1_000 * E18, 100).unwrap()) * u(94),
            u(100),
            Rounding::Down
        )
        .unwrap()
            < 10_000 * E18),
        "x {x} y {y}"
    );
}

fn a_band() -> impl Strategy<Value = (Band, u128, u128)> {
    // A band topping at 100..5,000, holding 0.001..1,000 of collateral and up to as much debt
    // asset by value; an oracle inside or near the band, and a market price near the oracle.
    (
        100u128..5_000,
        1u128..1_000_000,
        0u128..=100,
        90u128..=110,
        95u128..=105,
    )
        .prop_map(|(top, milli, x_pct, o_pct, m_pct)| {
            let p_up = top * E18;
            let y = milli * E18 / 1_000;
            let x = y / E18 * top * E18 * x_pct / 100 / 2;
            let p_o = p_up / 100 * o_pct;
            let p_m = p_o / 100 * m_pct;
            (Band { p_up, x, y }, p_o, p_m)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// An arbitrage pays in at least the band's starting AMM price and never more than the
    /// market for what it takes out (so arbitrageurs never lose and the band never sells below
    /// its own quote), the invariant never falls, and the band never goes negative.
    #[test]
    fn arbitrage_trades_between_the_amm_and_the_market((b, p_o, p_m) in a_band(), fee_bps in 0u128..=100) {
        let p = params(fee_bps);
        let Some(start) = b.price(p_o, p.a).unwrap() else { return Err(TestCaseError::reject("empty")) };
        let before = Curve::of(&b, p_o, p.a).invariant(&b);
        let mut loan = Loan { bands: vec![b] };
        let s = loan.arbitrage(p_o, p_m, &p).unwrap();
        let after = loan.bands[0];
        prop_assert!(s.x_in == 0 || s.x_out == 0, "one direction: {s:?}");
        let keep = u(WAD - p.fee.raw());
        let wide = |v: u128| u(v);
        // Rounding slack: a few units of each side, valued.
        let slack = u(4) * (u(start) + u(p_m)) + u(4) * w();
        if s.y_out > 0 {
            // Band sells at or above its starting quote; the buyer pays at most the market.
            prop_assert!(wide(s.x_in) * keep + slack * w() >= wide(s.y_out) * u(start), "{s:?} start {start}");
            prop_assert!(wide(s.x_in) * w() <= wide(s.y_out) * u(p_m) + slack * w(), "{s:?} market {p_m}");
            prop_assert_eq!(after.y, b.y - s.y_out);
            prop_assert_eq!(after.x, b.x + s.x_in);
        }
        if s.x_out > 0 {
            // Band buys at or below its starting quote; the seller gets at least the market.
            prop_assert!(wide(s.x_out) * w() * w() <= wide(s.y_in) * keep * u(start) + slack * w() * w(), "{s:?} start {start}");
            prop_assert!(wide(s.x_out) * w() + slack * w() >= wide(s.y_in) * u(p_m), "{s:?} market {p_m}");
            prop_assert_eq!(after.x, b.x - s.x_out);
            prop_assert_eq!(after.y, b.y + s.y_in);
        }
        if s != Swap::default() {
            let now = Curve::of(&after, p_o, p.a).invariant(&after);
            // The curve's y0 is recomputed from rounded balances: allow a relative 1e-12.
            prop_assert!(now + before / u(1_000_000_000_000) >= before, "invariant fell");
        }
    }

    /// An oracle that lags the market down in steps of 0.1% lets arbitrageurs buy the band only
    /// near the market less the fee: per unit of collateral sold the band gets at least
    /// `p_m · (1 − fee)`, less what one step of the oracle can overshoot (three times its size,
    /// as the quote moves with p_o³).
    #[test]
    fn a_lagging_oracle_sells_near_the_market((b, _p_o, _p_m) in a_band(), fee_bps in 0u128..=100, fall_pct in 1u128..=30) {
        let p = params(fee_bps);
        let start = Band { x: 0, ..b };
        let p_m = start.p_up / 100 * (100 - fall_pct);
        let mut loan = Loan { bands: vec![start] };
        let (mut x_in, mut y_out) = (0u128, 0u128);
        let mut p_o = start.p_up;
        while p_o > p_m {
            p_o = (p_o - p_o / 1_000).max(p_m);
            let s = loan.arbitrage(p_o, p_m, &p).unwrap();
            x_in += s.x_in;
            y_out += s.y_out;
        }
        prop_assume!(y_out > 0);
        let floor = u(p_m) * (w() - u(p.fee.raw())) / w() * u(997) / u(1_000);
        prop_assert!(u(x_in) * w() >= u(y_out) * floor, "sold {y_out} for {x_in} (market {p_m})");
        prop_assert!(u(x_in) * w() <= u(y_out) * u(p_m) + w() * w(), "paid above the market");
    }

    /// A loan opened at any price and size sits wholly below the price, covers its debt at the
    /// loan discount, and is not hard-liquidatable at once.
    #[test]
    fn an_opened_loan_is_healthy(price in 100u128..5_000, y_milli in 100u128..1_000_000, ltv_pct in 1u128..80, n in 4u32..=50) {
        let p = BandParams { n_bands: n, ..BandParams::crvusd_eth() };
        let y = y_milli * E18 / 1_000;
        let debt = y / E18 * price * E18 * ltv_pct / 100 + 1;
        match Loan::open(y, debt, price * E18, price * E18, &p) {
            Ok(loan) => {
                prop_assert!(loan.bands[0].p_up < price * E18);
                prop_assert_eq!(loan.bands.len(), n as usize);
                prop_assert_eq!(loan.totals(), (0, y));
                prop_assert!(!loan.is_hard_liquidatable(debt, price * E18, &p).unwrap());
            }
            Err(BandError::TooMuchDebt { max_debt }) => prop_assert!(max_debt < debt),
            Err(e) => return Err(TestCaseError::fail(format!("{e}"))),
        }
    }
}
