//! Protocol absorb and the storefront: hand vectors (arithmetic in the comments) and a property
//! test over random accounts, crashes, reserves and insurance.

use super::*;
use crate::liquidation::absorb::{Absorb, Purchase, Reason, absorb, buy_collateral};
use crate::liquidation::{Absorption, Protocol, Sale};

impl World {
    fn absorb(&mut self, params: &Absorb, age_s: u64) -> Result<Absorption, Refusal> {
        let snapshot = self.snapshot();
        absorb(
            &mut self.borrower,
            &mut Protocol {
                treasury: &mut self.treasury,
                insurance: &mut self.insurance,
            },
            &mut self.pools,
            &snapshot,
            params,
            age_s,
        )
    }

    /// The liquidator buys from the storefront, paying from its wallet.
    fn buy(
        &mut self,
        params: &Absorb,
        asset: AssetId,
        pay: AssetId,
        max: Amount,
    ) -> Result<Sale, Refusal> {
        let snapshot = self.snapshot();
        let sale = buy_collateral(
            &mut Protocol {
                treasury: &mut self.treasury,
                insurance: &mut self.insurance,
            },
            &mut self.liquidator,
            &mut self.pools,
            &snapshot,
            params,
            &Purchase {
                asset,
                pay_asset: pay,
                max_pay: max,
            },
        )?;
        self.wallet[pay.index()] -= i128::try_from(sale.paid.raw()).unwrap();
        Ok(sale)
    }

    fn donate(&mut self, asset: AssetId, tokens: &str) {
        let amount = self.amount(asset, tokens);
        self.pools[asset.index()].donate(amount).unwrap();
        self.wallet[asset.index()] -= i128::try_from(amount.raw()).unwrap();
    }
}

/// The parameters the hand vectors use: absorb below HF 0.9, after an hour flagged, or at
/// 100 USD of collateral or debt.
fn params() -> Absorb {
    Absorb {
        hf_max: ratio("0.9"),
        after_s: 3_600,
        ..Absorb::preset()
    }
}

/// 1 WETH (lt 0.825) against 1,500 USDC.
fn one_weth_1500_usdc() -> World {
    let mut w = World::scallop();
    w.supply(WETH, "1").borrow(USDC, "1500");
    w
}

#[test]
fn absorb_tests_in_order_and_refuses_otherwise() {
    let p = params();
    let mut w = one_weth_1500_usdc();
    // At 2,000: HF = 1,650 / 1,500 = 1.1, not liquidatable.
    assert!(matches!(
        w.absorb(&p, 10_000),
        Err(Refusal::NotLiquidatable { .. })
    ));
    // At 1,700: HF = 1,402.5 / 1,500 = 0.935: liquidatable, not below 0.9, debt above 100 USD.
    w.price(WETH, "1700");
    assert_eq!(
        w.absorb(&p, 3_599),
        Err(Refusal::NotAbsorbable {
            health_factor: Some(ratio("0.935")),
            age_s: 3_599
        })
    );
    let before = w.clone();
    assert!(w.absorb(&p, 3_599).is_err());
    assert_eq!(w.borrower, before.borrower, "a refusal changes nothing");
    assert_eq!(w.absorb(&p, 3_600).unwrap().reason, Reason::Neglected);
    // At 1,500: HF 0.825 < 0.9.
    let mut deep = one_weth_1500_usdc();
    deep.price(WETH, "1500");
    assert_eq!(deep.absorb(&p, 0).unwrap().reason, Reason::Deep);
    // 0.05 WETH against 80 USDC at 1,700: HF 70.125 / 80 = 0.877, but the debt is at most
    // 100 USD, which is tested first.
    let mut small = World::scallop();
    small
        .supply(WETH, "0.05")
        .borrow(USDC, "80")
        .price(WETH, "1700");
    assert_eq!(small.absorb(&p, 0).unwrap().reason, Reason::Small);
    // A stale price refuses.
    let mut stale = one_weth_1500_usdc();
    stale.price(WETH, "1500");
    let mut snapshot = stale.snapshot();
    let mut risk = *snapshot.get(WETH).unwrap();
    risk.stale = true;
    snapshot.set(WETH, risk);
    let refused = absorb(
        &mut stale.borrower,
        &mut Protocol {
            treasury: &mut stale.treasury,
            insurance: &mut stale.insurance,
        },
        &mut stale.pools,
        &snapshot,
        &p,
        0,
    );
    assert_eq!(refused, Err(Refusal::StalePrice(WETH)));
}

#[test]
fn absorbing_a_solvent_account_takes_debt_plus_penalty_and_leaves_the_rest() {
    // At 1,700: C = 1,700, V = 1,500. The treasury seizes t = 1,500 · 1.05 / 1,700
    // = 0.926470588235294118 (rounded up) of the WETH and takes over all the debt (C ≥ V).
    // The borrower keeps 0.073529411764705882 WETH (125 USD) and owes nothing: it lost 75 USD,
    // 5% of the debt.
    let p = params();
    let mut w = one_weth_1500_usdc();
    w.price(WETH, "1700");
    let a = w.absorb(&p, 3_600).unwrap();
    let seized = Shares::from_raw(926_470_588_235_294_118);
    assert_eq!(a.seized, vec![(WETH, seized)]);
    assert_eq!(a.taken_over, vec![(USDC, Shares::from_raw(1_500_000_000))]);
    assert!(a.bad_debt.is_empty() && a.netted.is_empty());
    assert_eq!(
        w.borrower.position(WETH).supply,
        Shares::from_raw(73_529_411_764_705_882)
    );
    assert!(!w.borrower.has_debt());
    assert_eq!(w.treasury.position(WETH).supply, seized);
    assert_eq!(
        w.treasury.position(USDC).debt,
        Shares::from_raw(1_500_000_000)
    );
    w.check_invariants().unwrap();

    // The storefront sells at 1,700 · 0.975 = 1,657.5. 1,000 USDC buy 1,000 / 0.975 / 1,700
    // = 0.603318250377073906 WETH (each step rounded down); their cost rounds up to exactly
    // 1,000 USDC, which repays 1,000 of the treasury's 1,500 USDC debt.
    let first = w.buy(&p, WETH, USDC, w.amount(USDC, "1000")).unwrap();
    assert_eq!(first.amount, w.amount(WETH, "0.603318250377073906"));
    assert_eq!(first.paid, w.amount(USDC, "1000"));
    assert_eq!(first.repaid, w.amount(USDC, "1000"));
    // The rest, 0.323152337858220212 WETH, costs 0.323152337858220212 · 1,700 · 0.975
    // = 535.625000000000001.. rounded up to 535.625001 USDC: 500 repay the treasury's debt and
    // 35.625001 become reserves. The treasury holds nothing and owes nothing.
    let reserves = w.pools[USDC.index()].reserves();
    let second = w.buy(&p, WETH, USDC, w.amount(USDC, "10000")).unwrap();
    assert_eq!(second.amount, w.amount(WETH, "0.323152337858220212"));
    assert_eq!(second.paid, w.amount(USDC, "535.625001"));
    assert_eq!(second.repaid, w.amount(USDC, "500"));
    assert_eq!(
        w.pools[USDC.index()].reserves().raw() - reserves.raw(),
        35_625_001
    );
    assert!(w.treasury.positions().is_empty());
    assert_eq!(
        w.buy(&p, WETH, USDC, w.amount(USDC, "1")),
        Err(Refusal::NothingToSell(WETH))
    );
    w.check_invariants().unwrap();
}

#[test]
fn absorbing_an_underwater_account_pays_the_shortfall_reserves_insurance_suppliers() {
    // At 1,400: C = 1,400 < V = 1,500 (HF 0.77, Deep). The treasury seizes all the WETH and
    // takes over k = 1,400 / 1,500 = 0.933333333333333333 of the debt: ⌊1,500e6 · k⌋
    // = 1,399,999,999 shares. The other 100,000,001 (100.000001 USDC) are the shortfall:
    // 30 from the reserves, 50 from the insurance fund, 20.000001 written off.
    let p = params();
    let mut w = one_weth_1500_usdc();
    w.insure(USDC, "50").donate(USDC, "30");
    w.price(WETH, "1400");
    let a = w.absorb(&p, 0).unwrap();
    assert_eq!(a.reason, Reason::Deep);
    assert_eq!(a.seized, vec![(WETH, Shares::from_raw(10u128.pow(18)))]);
    assert_eq!(a.taken_over, vec![(USDC, Shares::from_raw(1_399_999_999))]);
    assert_eq!(
        a.bad_debt,
        vec![
            BadDebtEvent::ReservesCovered {
                asset: USDC,
                amount: w.amount(USDC, "30")
            },
            BadDebtEvent::InsuranceCovered {
                asset: USDC,
                amount: w.amount(USDC, "50")
            },
            BadDebtEvent::Socialised {
                asset: USDC,
                amount: w.amount(USDC, "20.000001")
            },
        ]
    );
    assert!(w.borrower.positions().is_empty());
    assert!(
        w.pools[USDC.index()].reserves().raw() <= 1,
        "the reserves were spent"
    );
    w.check_invariants().unwrap();
}

#[test]
fn the_treasury_pays_its_debt_from_its_own_claims_and_clears_what_is_left() {
    // The treasury already holds 200 USDC of supply (penalties). Absorbing the 1,400-USD
    // account takes over 1,399.999999 USDC of debt, of which its own 200 USDC pay at once.
    let p = params();
    let mut w = one_weth_1500_usdc();
    let amount = w.amount(USDC, "200");
    let shares = w.pools[0].deposit(amount, None).unwrap();
    w.treasury.add_supply(USDC, shares).unwrap();
    w.wallet[0] -= 200_000_000;
    w.price(WETH, "1400");
    let a = w.absorb(&p, 0).unwrap();
    assert_eq!(a.netted, vec![(USDC, w.amount(USDC, "200"))]);
    assert_eq!(w.treasury.position(USDC).supply, Shares::ZERO);
    assert_eq!(
        w.treasury.position(USDC).debt,
        Shares::from_raw(1_199_999_999)
    );
    // WETH then falls to 1,000 before the sale: all of it fetches 1,000 · 0.975 = 975 USDC,
    // and the treasury's remaining 224.999999 USDC of debt, with no collateral left, is cleared
    // by the waterfall (no reserves, no insurance: written off).
    w.price(WETH, "1000");
    let sale = w.buy(&p, WETH, USDC, w.amount(USDC, "5000")).unwrap();
    assert_eq!(sale.paid, w.amount(USDC, "975"));
    assert_eq!(
        sale.bad_debt,
        vec![BadDebtEvent::Socialised {
            asset: USDC,
            amount: w.amount(USDC, "224.999999")
        }]
    );
    assert!(w.treasury.positions().is_empty());
    w.check_invariants().unwrap();
}

#[test]
fn absorb_validation_names_the_field() {
    let field = |a: Absorb| a.validate().unwrap_err().field;
    let p = Absorb::preset();
    assert_eq!(
        field(Absorb {
            hf_max: ratio("1.01"),
            ..p
        }),
        "absorb.hf_max"
    );
    assert_eq!(
        field(Absorb {
            penalty: ratio("0.21"),
            ..p
        }),
        "absorb.penalty"
    );
    assert_eq!(
        field(Absorb {
            storefront_discount: ratio("0.3"),
            ..p
        }),
        "absorb.storefront_discount"
    );
    let dutch = Policy {
        absorb: Some(p),
        ..Policy::dutch()
    };
    assert_eq!(dutch.validate(&[]).unwrap_err().field, "absorb");
    assert!(
        Policy {
            absorb: Some(p),
            ..Policy::soft()
        }
        .validate(&[])
        .is_ok()
    );
}

proptest! {
    // Rejects (accounts a shock leaves healthy) are counted by proptest and bounded here.
    #![proptest_config(ProptestConfig { cases: 1000, max_global_rejects: 5000, ..ProptestConfig::default() })]

    /// Any account, any crash, any reserves and insurance: an absorb keeps shares, tokens and
    /// every pool identity; the account ends with no debt; the treasury never owes more than it
    /// took; the borrower keeps what exceeds `V · (1 + penalty)`; the shortfall cleared equals
    /// `V − C` up to rounding. Then the storefront sells everything, and the treasury ends
    /// with nothing.
    #[test]
    fn absorb_and_storefront_keep_the_books(
        s in scenario(),
        reserves in 0u64..=2_000,
        insured in 0u64..=2_000,
        age_s in 0u64..=7_200,
        penalty_pct in 0u128..=20,
    ) {
        let Some(mut w) = s.world() else { return Err(TestCaseError::reject("no position")) };
        w.donate(USDC, &reserves.to_string());
        if insured > 0 {
            w.insure(USDC, &insured.to_string());
        }
        // Every liquidatable account is absorbable (hf_max = 1), so most cases reach the checks.
        let p = Absorb { hf_max: Ratio::ONE, penalty: pct(penalty_pct), ..Absorb::preset() };
        let h = w.health();
        let before = w.clone();
        let a = match w.absorb(&p, age_s) {
            Ok(a) => a,
            Err(Refusal::NotLiquidatable { .. } | Refusal::NotAbsorbable { .. }) => {
                prop_assert_eq!(&w.borrower, &before.borrower);
                prop_assert_eq!(&w.pools, &before.pools);
                return Err(TestCaseError::reject("not absorbable"));
            }
            Err(e) => return Err(TestCaseError::fail(format!("{e}"))),
        };
        w.check_invariants()?;
        prop_assert!(!w.borrower.has_debt());
        let (c, v) = (h.collateral_value, h.debt_value);
        prop_assert_eq!((a.collateral_value, a.debt_value), (c, v));
        let snapshot = before.snapshot();
        // Rounding slack: a few base units of each position, valued.
        let slack = 10u128.pow(13);
        let kept = Health::of(&w.borrower, &snapshot).unwrap().collateral_value.raw();
        let owed = v.mul_ratio(Ratio::ONE.checked_add(p.penalty).unwrap(), Rounding::Up).unwrap();
        let left = c.saturating_sub(owed).raw();
        prop_assert!(kept <= left + slack && kept + slack >= left, "kept {kept} of {c} owing {owed}");
        let treasury_debt = Health::of(&w.treasury, &snapshot).unwrap().debt_value.raw();
        prop_assert!(treasury_debt <= c.min(v).raw() + slack, "treasury owes {treasury_debt}");
        let cleared: u128 = a.bad_debt.iter().map(|e| match *e {
            BadDebtEvent::ReservesCovered { asset, amount }
            | BadDebtEvent::InsuranceCovered { asset, amount }
            | BadDebtEvent::Socialised { asset, amount } => amount.value_at(snapshot.get(asset).unwrap().price, snapshot.get(asset).unwrap().decimals, Rounding::Up).unwrap().raw(),
            BadDebtEvent::CollateralSwept { .. } => 0,
        }).sum();
        let shortfall = v.saturating_sub(c).raw();
        prop_assert!(cleared + slack >= shortfall && cleared <= shortfall + slack, "cleared {cleared}, shortfall {shortfall}");

        // Sell everything the treasury holds, paying in USDC, or in WETH for USDC.
        for _ in 0..4 {
            let held: Vec<AssetId> = w.treasury.positions().iter().filter(|p| !p.supply.is_zero()).map(|p| p.asset).collect();
            for asset in held {
                let pay = if asset == USDC { WETH } else { USDC };
                let max = w.amount(pay, "1000000000");
                match w.buy(&p, asset, pay, max) {
                    Ok(_) | Err(Refusal::TakeTooSmall) => {}
                    Err(e) => return Err(TestCaseError::fail(format!("{e}"))),
                }
                w.check_invariants()?;
            }
        }
        let dust = w.treasury.positions().iter().all(|p| p.supply.raw() < 10u128.pow(6));
        prop_assert!(dust, "the storefront sold everything it could: {:?}", w.treasury);
    }
}
