//! Worked flows: every figure in the assertions is derived by hand in the comment above it.

use super::*;
use crate::liquidation::bad_debt::BadDebtEvent;
use crate::liquidation::{Request, quote};

fn keeper() -> usize {
    FIRST + 1
}
fn usdc(w: &World, tokens: &str) -> Amount {
    w.amount(USDC, tokens)
}
fn weth(w: &World, tokens: &str) -> Amount {
    w.amount(WETH, tokens)
}
/// A linear curve over 1,000 s, reset after `tail_s` or below `cusp`.
fn linear(w: &mut World, tail_s: u64, cusp: &str) {
    let d = w.dutch();
    d.curve = Curve::Linear { tau_s: 1_000 };
    d.tail_s = tail_s;
    d.cusp = ratio(cusp);
}

#[test]
fn bark_moves_the_whole_single_collateral_position_and_pays_the_keeper() {
    let mut w = one_weth_borrower();
    let (id, step) = w.bark(FIRST, USDC, WETH, keeper()).unwrap();
    assert_eq!(id, AuctionId(1));
    // tab = 1600 · 1.13 = 1808; the lot backing it at lt 0.825 would be 1808 / 0.825 / 1900 =
    // 1.153 WETH, more than the 1 WETH held, so all of it; top = 1900 · 1.2 = 2280; reward =
    // 5 + 0.1% · 1808 = 6.808 USD = 6.808 USDC out of the treasury's 100.
    let Step::Started {
        debt,
        penalty,
        lot_tokens,
        top,
        dirt,
        reward,
        ..
    } = step
    else {
        panic!("a start");
    };
    assert_eq!(debt, usdc(&w, "1600"));
    assert_eq!(penalty, usdc(&w, "208"));
    assert_eq!(lot_tokens, weth(&w, "1"));
    assert_eq!(top, price("2280"));
    assert_eq!(dirt, usd("1808"));
    assert_eq!(reward.owed, usd("6.808"));
    assert_eq!(reward.paid, usdc(&w, "6.808"));
    assert!(!reward.short);
    assert_eq!(w.claim(TREASURY, USDC), usdc(&w, "93.192"));
    assert_eq!(w.claim(keeper(), USDC), usdc(&w, "6.808"));
    assert!(w.accounts[FIRST].positions().is_empty(), "all moved");
    assert_eq!(w.book.dirt_total(), usd("1808"));
    assert_eq!(w.book.dirt(WETH), usd("1808"));
    w.check().unwrap();
}

#[test]
fn partial_takes_respect_chost_and_the_leftover_lot_goes_back() {
    let mut w = one_weth_borrower();
    w.policy.insurance_share = ratio("0.1");
    let (id, _) = w.bark(FIRST, USDC, WETH, keeper()).unwrap();
    let buyer = FIRST + 2;
    // At t = 0 the price is top, 2280: 0.5 WETH costs 1140 USDC, leaving 668 of the 1808 tab.
    let t = w.take(id, buyer, "0.5", "2280").unwrap();
    let Step::Taken {
        price: p,
        paid,
        to_debt,
        to_penalty,
        tab_left,
        released,
        ..
    } = t.step
    else {
        panic!("a take");
    };
    assert_eq!(p, price("2280"));
    assert_eq!(paid, usdc(&w, "1140"));
    assert_eq!((to_debt, to_penalty), (usdc(&w, "1140"), Amount::ZERO));
    assert_eq!(tab_left, usdc(&w, "668"));
    assert_eq!(released, usd("1140"), "1808 · 1140 / 1808");
    assert!(t.finished.is_none());
    assert_eq!(w.claim(buyer, WETH), weth(&w, "0.5"));
    w.check().unwrap();

    // 0.29 WETH would cost 661.2 and leave 6.8 USD < chost 100: refused, naming the most a
    // partial take may buy, (668 − 100) / 2280 = 0.249122807017543859 WETH (rounded down).
    let before = w.clone();
    assert_eq!(
        w.take(id, buyer, "0.29", "2280").unwrap_err(),
        Refusal::LeavesLessThanChost {
            max_partial: weth(&w, "0.249122807017543859")
        }
    );
    assert_eq!(w.book, before.book);
    assert_eq!(w.accounts, before.accounts);
    assert_eq!(w.pools, before.pools);

    // Asking for more than the lot buys the tab: 668 USDC for ⌊668 / 2280⌋ = 0.292982456140350877
    // WETH; 460 repays the debt, 208 is the penalty (10% to insurance: 20.8), and the other
    // 0.207017543859649123 WETH goes back to the borrower.
    let t = w.take(id, buyer, "5", "2280").unwrap();
    let Step::Taken {
        bought,
        paid,
        to_debt,
        to_penalty,
        treasury_shares,
        insurance_shares,
        ..
    } = t.step
    else {
        panic!("a take");
    };
    assert_eq!(bought, weth(&w, "0.292982456140350877"));
    assert_eq!(paid, usdc(&w, "668"));
    assert_eq!((to_debt, to_penalty), (usdc(&w, "460"), usdc(&w, "208")));
    assert_eq!(treasury_shares.raw(), 187_200_000);
    assert_eq!(insurance_shares.raw(), 20_800_000);
    assert_eq!(
        t.finished,
        Some(Step::Finished {
            at_s: w.now_s,
            outcome: Outcome::Covered {
                lot_returned: Shares::from_raw(207_017_543_859_649_123)
            }
        })
    );
    assert_eq!(w.claim(FIRST, WETH), weth(&w, "0.207017543859649123"));
    assert!(!w.accounts[FIRST].has_debt());
    assert!(w.book.get(id).is_none());
    assert_eq!(w.book.dirt_total(), Value::ZERO);
    assert_eq!(w.history[&id].len(), 4, "started, 2 takes, finished");
    w.check().unwrap();
}

#[test]
fn a_take_never_pays_above_max_price() {
    let mut w = one_weth_borrower();
    let (id, _) = w.bark(FIRST, USDC, WETH, keeper()).unwrap();
    assert_eq!(
        w.take(id, FIRST + 2, "0.1", "2279.99").unwrap_err(),
        Refusal::PriceAboveMax {
            price: price("2280"),
            max_price: price("2279.99")
        }
    );
    // Maker's default stairstep: 1% off every 90 s, so after 90 s the price is 2257.2.
    w.skip(90);
    let t = w.take(id, FIRST + 2, "0.1", "2257.2").unwrap();
    assert!(matches!(t.step, Step::Taken { price: p, .. } if p == price("2257.2")));
    w.check().unwrap();
}

#[test]
fn reset_by_cusp_and_by_tail() {
    let mut w = one_weth_borrower();
    linear(&mut w, 600, "0.5");
    let (id, _) = w.bark(FIRST, USDC, WETH, keeper()).unwrap();
    // At t = 400 the price is 2280 · 0.6 = 1368. It is exactly cusp · top = 1140 at t = 500 and
    // below it from t = 501: a reset is due in 101 s (before the tail, at 601).
    w.skip(400);
    let s = w.status(id).unwrap();
    assert_eq!(s.price, price("1368"));
    assert_eq!((s.needs_reset, s.reset_in_s), (false, 101));
    assert_eq!(
        w.redo(id, keeper()).unwrap_err(),
        Refusal::StillRunning { reset_in_s: 101 }
    );
    w.skip(100);
    assert!(
        w.take(id, FIRST + 2, "0.1", "1140").is_ok(),
        "t = 500 is open"
    );
    w.skip(1);
    assert_eq!(
        w.take(id, FIRST + 2, "0.1", "2000").unwrap_err(),
        Refusal::NeedsReset(id)
    );
    assert!(w.status(id).unwrap().needs_reset);

    // Reset at WETH 1800: top 2160, the keeper paid 5 + 0.1% of the tab's value.
    w.set_price(WETH, "1800");
    let tab = w.status(id).unwrap().tab;
    let treasury = w.claim(TREASURY, USDC);
    let Step::Reset { top, reward, .. } = w.redo(id, keeper()).unwrap() else {
        panic!("a reset");
    };
    assert_eq!(top, price("2160"));
    let reward = reward.expect("tab and lot above chost");
    let tab_value = tab.value_at(price("1"), w.assets[0].params().decimals, Rounding::Down);
    assert_eq!(
        reward.owed,
        usd("5")
            .checked_add(
                tab_value
                    .unwrap()
                    .mul_ratio(ratio("0.001"), Rounding::Down)
                    .unwrap()
            )
            .unwrap()
    );
    assert_eq!(
        w.claim(TREASURY, USDC),
        treasury.checked_sub(reward.paid).unwrap()
    );
    let s = w.status(id).unwrap();
    assert_eq!((s.price, s.elapsed_s, s.resets), (price("2160"), 0, 1));
    w.check().unwrap();

    // The tail: with cusp 0.1 the price stays open for 900 s, but tail_s = 300 ends it at 301.
    let mut w = one_weth_borrower();
    linear(&mut w, 300, "0.1");
    let (id, _) = w.bark(FIRST, USDC, WETH, keeper()).unwrap();
    w.skip(300);
    assert_eq!(w.status(id).unwrap().reset_in_s, 1);
    w.skip(1);
    let s = w.status(id).unwrap();
    assert!(
        s.needs_reset && s.price == price("1593.72"),
        "2280 · 0.699 = 1593.72, still above cusp"
    );
    assert!(w.redo(id, keeper()).is_ok());
    w.check().unwrap();
}

#[test]
fn a_reset_pays_no_reward_below_chost() {
    let mut w = one_weth_borrower();
    linear(&mut w, 100, "0.1");
    let (id, _) = w.bark(FIRST, USDC, WETH, keeper()).unwrap();
    w.dutch().chost = usd("10000");
    w.skip(101);
    let treasury = w.claim(TREASURY, USDC);
    let Step::Reset { reward, .. } = w.redo(id, keeper()).unwrap() else {
        panic!("a reset");
    };
    assert_eq!(reward, None, "tab 1808 < chost 10000");
    assert_eq!(w.claim(TREASURY, USDC), treasury);
    w.check().unwrap();
}

#[test]
fn caps_are_reached_then_released() {
    let mut w = World::new(8);
    for b in FIRST..FIRST + 3 {
        w.supply(b, WETH, "1").borrow(b, USDC, "1600");
    }
    w.supply(TREASURY, USDC, "100").set_price(WETH, "1900");
    let keeper = FIRST + 4;
    w.dutch().hole_total = usd("3000");
    let (first, _) = w.bark(FIRST, USDC, WETH, keeper).unwrap();
    // Room 3000 − 1808 = 1192: debt ⌊1192 / 1.13⌋ = 1054.867256 USDC, tab ⌈· 1.13⌉ = 1192
    // exactly, leaving 545.132744 USDC (above dust) with the borrower.
    let (_, step) = w.bark(FIRST + 1, USDC, WETH, keeper).unwrap();
    let Step::Started { debt, dirt, .. } = step else {
        panic!("a start");
    };
    assert_eq!(debt, usdc(&w, "1054.867256"));
    assert_eq!(dirt, usd("1192"));
    assert_eq!(w.book.dirt_total(), usd("3000"));
    assert_eq!(w.accounts[FIRST + 1].position(USDC).debt.raw(), 545_132_744);
    let before = w.clone();
    assert_eq!(
        w.bark(FIRST + 2, USDC, WETH, keeper).unwrap_err(),
        Refusal::NoRoom { room: Value::ZERO }
    );
    assert_eq!(w.accounts, before.accounts);
    w.check().unwrap();

    // The first auction is bought out: its 1808 is released and the third start fits whole.
    w.take(first, keeper, "1", "2280").unwrap();
    assert_eq!(w.book.dirt_total(), usd("1192"));
    let (_, step) = w.bark(FIRST + 2, USDC, WETH, keeper).unwrap();
    assert!(matches!(step, Step::Started { dirt, .. } if dirt == usd("1808")));
    w.check().unwrap();
}

#[test]
fn the_asset_cap_and_the_dust_rule_shape_a_partial_start() {
    // WETH's own cap of 1,000 USD: debt ⌊1000 / 1.13⌋ = 884.955752 USDC.
    let mut w = one_weth_borrower();
    w.holes[WETH.index()] = Some(usd("1000"));
    let (_, step) = w.bark(FIRST, USDC, WETH, keeper()).unwrap();
    assert!(matches!(step, Step::Started { debt, .. } if debt == usdc(&w, "884.955752")));
    assert_eq!(
        w.book.dirt(WETH),
        usd("1000"),
        "⌈884.955752 · 1.13⌉ = ⌈999.99999976⌉"
    );
    w.check().unwrap();

    // Room 1803: ⌊1803 / 1.13⌋ = 1595.575221 would leave 4.42 USDC, under the 10 USD dust, so
    // the start shrinks to leave exactly the dust: 1590 USDC, tab 1796.7.
    let mut w = one_weth_borrower();
    w.dutch().hole_total = usd("1803");
    let (_, step) = w.bark(FIRST, USDC, WETH, keeper()).unwrap();
    assert!(matches!(step, Step::Started { debt, dirt, .. }
        if debt == usdc(&w, "1590") && dirt == usd("1796.7")));
    assert_eq!(w.accounts[FIRST].position(USDC).debt.raw(), 10_000_000);
    w.check().unwrap();

    // Room for less than dust: refused.
    let mut w = one_weth_borrower();
    w.dutch().hole_total = usd("11");
    assert_eq!(
        w.bark(FIRST, USDC, WETH, keeper()).unwrap_err(),
        Refusal::NoRoom { room: usd("11") }
    );
}

#[test]
fn a_lot_sold_before_the_tab_realises_bad_debt_insurance_first() {
    let mut w = one_weth_borrower();
    w.supply(INSURANCE, USDC, "50");
    linear(&mut w, 1_000, "0.3");
    let (id, _) = w.bark(FIRST, USDC, WETH, keeper()).unwrap();
    // At t = 600 the price is 2280 · 0.4 = 912: the whole lot pays 912 of the 1600 debt. The
    // other 688 goes back to the borrower, who holds nothing else: the bad-debt rule lets the
    // insurance fund's 50 USDC cover what it can and writes the other 638 off; the penalty is
    // forgiven.
    w.skip(600);
    let supply_index = w.pools[USDC.index()].supply_index();
    let t = w.take(id, FIRST + 2, "1", "912").unwrap();
    assert_eq!(t.paid, usdc(&w, "912"));
    assert_eq!(
        t.finished,
        Some(Step::Finished {
            at_s: w.now_s,
            outcome: Outcome::LotSold {
                debt_returned: Shares::from_raw(688_000_000),
                penalty_forgiven: usdc(&w, "208"),
            }
        })
    );
    assert_eq!(
        t.bad_debt,
        vec![
            BadDebtEvent::InsuranceCovered {
                asset: USDC,
                amount: usdc(&w, "50")
            },
            BadDebtEvent::Socialised {
                asset: USDC,
                amount: usdc(&w, "638")
            },
        ]
    );
    assert!(w.pools[USDC.index()].supply_index() < supply_index);
    assert!(w.accounts[FIRST].positions().is_empty());
    assert_eq!(w.book.dirt_total(), Value::ZERO);
    w.check().unwrap();
}

#[test]
fn returned_debt_stays_with_a_borrower_that_still_has_collateral() {
    // 1 WETH and 0.01 WBTC (600 USD) against 2000 USDC; at WETH 1500 the account is
    // liquidatable (1500 · 0.825 + 600 · 0.78 = 1705.5 < 2000).
    let mut w = World::new(6);
    w.supply(FIRST, WETH, "1")
        .supply(FIRST, WBTC, "0.01")
        .borrow(FIRST, USDC, "2000");
    w.supply(TREASURY, USDC, "100").set_price(WETH, "1500");
    linear(&mut w, 1_000, "0.3");
    let (id, step) = w.bark(FIRST, USDC, WETH, keeper()).unwrap();
    // tab 2260, backed at lt 0.825 by 2260 / 0.825 / 1500 = 1.83 WETH: all of the 1 WETH;
    // the WBTC stays in the account.
    assert!(matches!(step, Step::Started { lot_tokens, .. } if lot_tokens == weth(&w, "1")));
    assert_eq!(w.claim(FIRST, WBTC), w.amount(WBTC, "0.01"));
    // top 1800; at t = 600, 720: the lot pays 720 and 1280 USDC comes back as debt.
    w.skip(600);
    let t = w.take(id, FIRST + 2, "1", "720").unwrap();
    assert!(t.bad_debt.is_empty(), "600 USD of WBTC still backs it");
    assert_eq!(w.accounts[FIRST].position(USDC).debt.raw(), 1_280_000_000);
    assert!(w.health(FIRST).is_liquidatable());
    // The next start takes the WBTC: tab 1280 · 1.13 = 1446.4.
    let (_, step) = w.bark(FIRST, USDC, WBTC, keeper()).unwrap();
    assert!(matches!(step, Step::Started { dirt, .. } if dirt == usd("1446.4")));
    w.check().unwrap();
}

#[test]
fn refusals_name_the_reason_and_change_nothing() {
    let mut w = one_weth_borrower();
    w.supply(FIRST + 2, WETH, "10")
        .borrow(FIRST + 2, USDC, "100");
    let before = w.clone();
    let cases = [
        (w.bark(FIRST + 2, USDC, WETH, keeper()), "healthy"),
        (w.bark(FIRST, USDC, USDC, keeper()), "same asset"),
        (w.bark(FIRST, WBTC, WETH, keeper()), "no WBTC debt"),
        (w.bark(FIRST, USDC, WBTC, keeper()), "no WBTC collateral"),
    ];
    let errors: Vec<_> = cases.into_iter().map(|(r, _)| r.unwrap_err()).collect();
    assert!(matches!(errors[0], Refusal::NotLiquidatable { .. }));
    assert_eq!(errors[1], Refusal::SameAsset);
    assert_eq!(errors[2], Refusal::NoDebt(WBTC));
    assert_eq!(errors[3], Refusal::NoCollateral(WBTC));
    assert_eq!(
        w.take(AuctionId(7), keeper(), "1", "1").unwrap_err(),
        Refusal::UnknownAuction(AuctionId(7))
    );
    assert_eq!(
        w.redo(AuctionId(7), keeper()).unwrap_err(),
        Refusal::UnknownAuction(AuctionId(7))
    );
    assert_eq!(w.accounts, before.accounts);
    assert_eq!(w.book, before.book);

    // A call market refuses auctions, and an auction market refuses calls.
    w.policy = Policy::soft();
    assert_eq!(
        w.bark(FIRST, USDC, WETH, keeper()).unwrap_err(),
        Refusal::NotAuctionMarket
    );
    let request = Request {
        debt_asset: USDC,
        collateral_asset: WETH,
        max_repay: usdc(&w, "100"),
        liquidatable_for_s: 0,
    };
    assert_eq!(
        quote(
            &w.accounts[FIRST],
            &w.snapshot(),
            &Policy::dutch(),
            &request
        )
        .unwrap_err(),
        Refusal::AuctionMarket
    );

    // A stale price refuses a start; a take of nothing is refused.
    w.policy = Policy::dutch();
    let mut snapshot_stale = w.clone();
    snapshot_stale.prices[WETH.index()] = None;
    assert!(matches!(
        snapshot_stale
            .bark(FIRST, USDC, WETH, keeper())
            .unwrap_err(),
        Refusal::Health(_)
    ));
    let (id, _) = w.bark(FIRST, USDC, WETH, keeper()).unwrap();
    assert_eq!(
        w.take(id, FIRST + 2, "0", "3000").unwrap_err(),
        Refusal::TakeTooSmall
    );
    w.check().unwrap();
}

#[test]
fn interest_keeps_accruing_on_debt_under_auction() {
    let mut w = one_weth_borrower();
    // Raise USDC utilisation to 80% so that the rate is visible: 0.04 · 0.8 / 0.9 a year.
    w.borrow(SUPPLIER, USDC, "8000000");
    let (id, _) = w.bark(FIRST, USDC, WETH, keeper()).unwrap();
    let tab = w.status(id).unwrap().tab;
    w.advance(86_400 * 30);
    let s = w.status(id).unwrap();
    assert!(s.tab > tab, "{} > {}", s.tab, tab);
    assert_eq!(
        s.penalty,
        usdc(&w, "208"),
        "the penalty is fixed at the start"
    );
    let growth = (s.tab.raw() - tab.raw()) as f64 / 1_600e6;
    // 30 days at ~3.56%/yr, compounded per second: about 0.29%.
    assert!((0.002..0.004).contains(&growth), "{growth}");
    w.check().unwrap();
}

#[test]
fn an_empty_treasury_pays_what_it_has_and_says_so() {
    let mut w = World::new(6);
    w.supply(FIRST, WETH, "1").borrow(FIRST, USDC, "1600");
    w.set_price(WETH, "1900");
    let (_, step) = w.bark(FIRST, USDC, WETH, keeper()).unwrap();
    let Step::Started { reward, .. } = step else {
        panic!("a start");
    };
    assert_eq!(reward.owed, usd("6.808"));
    assert_eq!((reward.paid, reward.short), (Amount::ZERO, true));
    w.check().unwrap();
}

#[test]
fn exponential_and_stairstep_auctions_sell_at_their_curve() {
    for curve in [
        Curve::Exponential {
            cut: ratio("0.999"),
        },
        Curve::Stairstep {
            cut: ratio("0.97"),
            step_s: 60,
        },
    ] {
        let mut w = one_weth_borrower();
        w.dutch().curve = curve;
        let (id, _) = w.bark(FIRST, USDC, WETH, keeper()).unwrap();
        w.skip(333);
        let expected = curve.price(price("2280"), 333).unwrap();
        assert_eq!(w.status(id).unwrap().price, expected);
        let t = w.take(id, FIRST + 2, "0.1", "3000").unwrap();
        assert!(matches!(t.step, Step::Taken { price: p, .. } if p == expected));
        w.check().unwrap();
    }
}
