//! Random sequences of starts, takes, resets, price moves and interest over several borrowers,
//! with every invariant checked after each step.

use proptest::prelude::*;
use ruint::aliases::U512;

use super::*;
use crate::money::Ratio;

#[derive(Clone, Debug)]
enum Op {
    Bark {
        borrower: usize,
        collateral: bool,
    },
    Take {
        pick: usize,
        percent: u8,
        max_pct: u8,
    },
    Redo {
        pick: usize,
    },
    Skip {
        seconds: u16,
    },
    Accrue {
        seconds: u32,
    },
    Price {
        btc: bool,
        move_pct: i8,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..4usize, any::<bool>()).prop_map(|(borrower, collateral)| Op::Bark { borrower, collateral }),
        4 => (0..8usize, 1..=120u8, 90..=110u8).prop_map(|(pick, percent, max_pct)| Op::Take { pick, percent, max_pct }),
        2 => (0..8usize).prop_map(|pick| Op::Redo { pick }),
        2 => (0..2_000u16).prop_map(|seconds| Op::Skip { seconds }),
        1 => (0..2_000_000u32).prop_map(|seconds| Op::Accrue { seconds }),
        2 => (any::<bool>(), -35..=15i8).prop_map(|(btc, move_pct)| Op::Price { btc, move_pct }),
    ]
}

fn curve() -> impl Strategy<Value = Curve> {
    prop_oneof![
        (60..5_000u64).prop_map(|tau_s| Curve::Linear { tau_s }),
        (900..999u128, 1..300u64).prop_map(|(c, step_s)| Curve::Stairstep {
            cut: Ratio::from_raw(c * 1_000_000_000_000_000),
            step_s
        }),
        (9_900..9_999u128).prop_map(|c| Curve::Exponential {
            cut: Ratio::from_raw(c * 100_000_000_000_000)
        }),
    ]
}

#[derive(Clone, Debug)]
struct Setup {
    curve: Curve,
    tail_s: u64,
    cusp_pct: u128,
    chost: u128,
    hole_total: u128,
    weth_hole: Option<u128>,
    insurance_pct: u128,
    treasury: u32,
}

fn setup() -> impl Strategy<Value = Setup> {
    (
        curve(),
        60..10_000u64,
        10..90u128,
        0..500u128,
        500..20_000u128,
        proptest::option::of(300..10_000u128),
        0..=100u128,
        0..200u32,
    )
        .prop_map(
            |(curve, tail_s, cusp_pct, chost, hole_total, weth_hole, insurance_pct, treasury)| {
                Setup {
                    curve,
                    tail_s,
                    cusp_pct,
                    chost,
                    hole_total,
                    weth_hole,
                    insurance_pct,
                    treasury,
                }
            },
        )
}

const WAD: u128 = crate::money::WAD;
const KEEPERS: [usize; 2] = [FIRST + 4, FIRST + 5];

/// Four borrowers at their limit in WETH and WBTC against USDC, then a 10% fall.
fn world(s: &Setup) -> World {
    let mut w = World::new(FIRST + 6);
    {
        let d = w.dutch();
        d.curve = s.curve;
        d.tail_s = s.tail_s;
        d.cusp = Ratio::from_raw(s.cusp_pct * WAD / 100);
        d.chost = Value::from_raw(s.chost * WAD);
        d.hole_total = Value::from_raw(s.hole_total * WAD);
    }
    w.holes[WETH.index()] = s.weth_hole.map(|h| Value::from_raw(h * WAD));
    w.policy.insurance_share = Ratio::from_raw(s.insurance_pct * WAD / 100);
    if s.treasury > 0 {
        w.supply(TREASURY, USDC, &s.treasury.to_string());
    }
    for (i, (eth, btc, usdc)) in [
        ("1", "0", "1600"),
        ("2", "0.02", "3900"),
        ("0", "0.1", "4300"),
        ("0.5", "0.05", "2990"),
    ]
    .into_iter()
    .enumerate()
    {
        let b = FIRST + i;
        if eth != "0" {
            w.supply(b, WETH, eth);
        }
        if btc != "0" {
            w.supply(b, WBTC, btc);
        }
        w.borrow(b, USDC, usdc);
    }
    w.set_price(WETH, "1800").set_price(WBTC, "54000");
    w
}

/// The USDC supply shares of the treasury and of each keeper, which rewards and penalties move.
fn usdc_shares(w: &World, who: usize) -> u128 {
    w.accounts[who].position(USDC).supply.raw()
}

/// `paid · p_d · 10^dec_c ≤ (bought + 1) · max_price · 10^dec_d + p_d · 10^dec_c`: the keeper paid at
/// most `max_price` per token, to one base unit of each side's rounding.
fn within_max_price(a: &Auction, bought: Amount, paid: Amount, max_price: Price) -> bool {
    let (uc, ud) = (
        U512::from(a.collateral_decimals.unit()),
        U512::from(a.debt_decimals.unit()),
    );
    let pd = U512::from(a.debt_price.raw());
    U512::from(paid.raw()) * pd * uc
        <= (U512::from(bought.raw()) + U512::from(1u8)) * U512::from(max_price.raw()) * ud + pd * uc
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(160))]

    #[test]
    fn every_sequence_keeps_conservation_caps_prices_and_rewards(
        s in setup(),
        ops in proptest::collection::vec(op(), 1..40),
    ) {
        let mut w = world(&s);
        w.check().map_err(TestCaseError::fail)?;
        let mut treasury = usdc_shares(&w, TREASURY);
        let mut redos: std::collections::BTreeMap<AuctionId, u32> = Default::default();
        for (n, op) in ops.iter().enumerate() {
            let keeper = KEEPERS[n % 2];
            let keeper_before = usdc_shares(&w, keeper);
            let mut keeper_gain = 0u128;
            let ids: Vec<AuctionId> = w.book.active().map(|a| a.id).collect();
            match *op {
                Op::Bark { borrower, collateral } => {
                    let c = if collateral { WETH } else { WBTC };
                    if let Ok((_, Step::Started { reward, dirt, .. })) = w.bark(FIRST + borrower, USDC, c, keeper) {
                        prop_assert!(dirt > Value::ZERO);
                        treasury -= reward.paid_shares.raw();
                        keeper_gain += reward.paid_shares.raw();
                    }
                }
                Op::Take { pick, percent, max_pct } if !ids.is_empty() => {
                    let id = ids[pick % ids.len()];
                    let a = w.book.get(id).unwrap().clone();
                    let status = w.status(id).unwrap();
                    let amount = Amount::from_raw(status.lot.raw() * u128::from(percent) / 100);
                    let max_price = Price::from_raw(status.price.raw() * u128::from(max_pct) / 100);
                    match w.take_raw(id, keeper, amount, max_price) {
                        Ok(t) => {
                            let Step::Taken { price, bought, paid, treasury_shares, .. } = t.step else {
                                return Err(TestCaseError::fail("a take records a take"));
                            };
                            prop_assert!(price <= max_price);
                            prop_assert!(bought <= amount);
                            prop_assert!(within_max_price(&a, bought, paid, max_price),
                                "paid {paid} for {bought} at max {max_price}");
                            treasury += treasury_shares.raw();
                        }
                        Err(Refusal::PriceAboveMax { price, .. }) => prop_assert!(price > max_price),
                        Err(Refusal::NeedsReset(_)) => prop_assert!(status.needs_reset),
                        Err(Refusal::LeavesLessThanChost { .. } | Refusal::TakeTooSmall) => {}
                        Err(e) => return Err(TestCaseError::fail(format!("take refused: {e}"))),
                    }
                }
                Op::Redo { pick } if !ids.is_empty() => {
                    let id = ids[pick % ids.len()];
                    let status = w.status(id).unwrap();
                    match w.redo(id, keeper) {
                        Ok(Step::Reset { reward, .. }) => {
                            prop_assert!(status.needs_reset);
                            *redos.entry(id).or_default() += 1;
                            if let Some(r) = reward {
                                treasury -= r.paid_shares.raw();
                                keeper_gain += r.paid_shares.raw();
                            }
                        }
                        Ok(other) => return Err(TestCaseError::fail(format!("redo gave {other:?}"))),
                        Err(Refusal::StillRunning { reset_in_s }) => {
                            prop_assert!(!status.needs_reset && reset_in_s == status.reset_in_s);
                        }
                        Err(e) => return Err(TestCaseError::fail(format!("redo refused: {e}"))),
                    }
                }
                Op::Take { .. } | Op::Redo { .. } => {}
                Op::Skip { seconds } => { w.skip(u64::from(seconds)); }
                Op::Accrue { seconds } => { w.advance(u64::from(seconds)); }
                Op::Price { btc, move_pct } => {
                    let asset = if btc { WBTC } else { WETH };
                    let p = w.prices[asset.index()].unwrap().raw();
                    let next = p / 100 * u128::try_from(100 + i32::from(move_pct)).unwrap();
                    w.prices[asset.index()] = Some(Price::from_raw(next));
                }
            }
            w.check().map_err(|e| TestCaseError::fail(format!("after {op:?}: {e}")))?;
            // Rewards and penalties are the only moves of the treasury's USDC, and a keeper's
            // USDC changes only by the rewards it was paid.
            prop_assert_eq!(usdc_shares(&w, TREASURY), treasury, "treasury after {:?}", op);
            prop_assert_eq!(usdc_shares(&w, keeper), keeper_before + keeper_gain);
        }
        // Each auction's history: one start with its reward, then one reset per accepted redo.
        for id in (1..=w.book.started()).map(AuctionId) {
            let h = &w.history[&id];
            prop_assert!(matches!(h[0], Step::Started { .. }), "auction {} starts with a start", id.0);
            prop_assert_eq!(h.iter().filter(|s| matches!(s, Step::Started { .. })).count(), 1);
            let resets = h.iter().filter(|s| matches!(s, Step::Reset { .. })).count();
            prop_assert_eq!(resets, redos.get(&id).copied().unwrap_or(0) as usize);
            let finished = h.iter().filter(|s| matches!(s, Step::Finished { .. })).count();
            prop_assert_eq!(finished, usize::from(w.book.get(id).is_none()));
        }
    }
}
