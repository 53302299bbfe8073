//! Worked vectors per policy (hand arithmetic in the comments) and property tests over random
//! accounts, prices and calls. Every balance goes through real pools, so the pool identity and
//! conservation are checked on the same state the engine will keep.

use super::*;
use crate::account::Account;
use crate::asset::{Asset, AssetId, AssetParams};
use crate::health::{Health, RiskSnapshot};
use crate::money::{Amount, Price, Ratio, Rounding, Shares, Value};
use crate::pool::Pool;
use crate::testing::{ratio, stable_params};
use proptest::prelude::*;

const USDC: AssetId = AssetId(0);
const WETH: AssetId = AssetId(1);
const ALT: AssetId = AssetId(2);
const T0: u64 = 1_700_000_000;

fn params(decimals: u8, cf: &str, lt: &str, bw: &str, pen: &str, disc: &str) -> AssetParams {
    let mut p = stable_params(decimals);
    p.collateral_factor = ratio(cf);
    p.liquidation_threshold = ratio(lt);
    p.borrow_weight = ratio(bw);
    p.liquidation_penalty = ratio(pen);
    p.liquidation_discount = ratio(disc);
    p
}

/// A market of three assets, a deep supplier in each, and the parties of a liquidation.
#[derive(Clone, Debug)]
struct World {
    assets: Vec<Asset>,
    pools: Vec<Pool>,
    prices: Vec<Option<Price>>,
    borrower: Account,
    supplier: Account,
    liquidator: Account,
    treasury: Account,
    insurance: Account,
    /// The liquidator's tokens outside the protocol, per asset (negative: paid in).
    wallet: [i128; 3],
}

impl World {
    /// USDC (6 dec, lt 0.85), WETH (18 dec, lt 0.825), ALT (8 dec, lt 0.8, bw 1.2, Scallop-like
    /// pen 20% / disc 15%).
    fn new(alt: AssetParams) -> Self {
        let assets = vec![
            Asset::new(USDC, "USDC", params(6, "0.8", "0.85", "1", "0.05", "0.04")).unwrap(),
            Asset::new(
                WETH,
                "WETH",
                params(18, "0.8", "0.825", "1", "0.05", "0.04"),
            )
            .unwrap(),
            Asset::new(ALT, "ALT", alt).unwrap(),
        ];
        let mut w = Self {
            assets,
            pools: vec![Pool::new(T0); 3],
            prices: vec![Some(price("1")), Some(price("2000")), Some(price("2"))],
            borrower: Account::new(),
            supplier: Account::new(),
            liquidator: Account::new(),
            treasury: Account::new(),
            insurance: Account::new(),
            wallet: [0; 3],
        };
        for (asset, tokens) in [(USDC, "10000000"), (WETH, "10000"), (ALT, "10000000")] {
            let amount = w.amount(asset, tokens);
            let shares = w.pools[asset.index()].deposit(amount, None).unwrap();
            w.supplier.add_supply(asset, shares).unwrap();
        }
        w
    }

    fn scallop() -> Self {
        Self::new(params(18, "0.7", "0.8", "1", "0.2", "0.15"))
    }

    fn amount(&self, asset: AssetId, tokens: &str) -> Amount {
        Amount::parse_tokens("test", tokens, self.assets[asset.index()].params().decimals).unwrap()
    }

    fn supply(&mut self, asset: AssetId, tokens: &str) -> &mut Self {
        let amount = self.amount(asset, tokens);
        let shares = self.pools[asset.index()].deposit(amount, None).unwrap();
        self.borrower.add_supply(asset, shares).unwrap();
        self
    }

    fn borrow(&mut self, asset: AssetId, tokens: &str) -> &mut Self {
        let amount = self.amount(asset, tokens);
        let shares = self.pools[asset.index()].borrow(amount, None).unwrap();
        self.borrower.add_debt(asset, shares).unwrap();
        self
    }

    fn insure(&mut self, asset: AssetId, tokens: &str) -> &mut Self {
        let amount = self.amount(asset, tokens);
        let shares = self.pools[asset.index()].deposit(amount, None).unwrap();
        self.insurance.add_supply(asset, shares).unwrap();
        self
    }

    fn price(&mut self, asset: AssetId, p: &str) -> &mut Self {
        self.prices[asset.index()] = Some(price(p));
        self
    }

    fn snapshot(&self) -> RiskSnapshot {
        RiskSnapshot::of_market(&self.assets, &self.pools, &self.prices)
    }

    fn health(&self) -> Health {
        Health::of(&self.borrower, &self.snapshot()).unwrap()
    }

    fn quote(&self, policy: &Policy, d: AssetId, c: AssetId, max: &str) -> Result<Quote, Refusal> {
        let request = Request {
            debt_asset: d,
            collateral_asset: c,
            max_repay: self.amount(d, max),
            liquidatable_for_s: 0,
        };
        quote(&self.borrower, &self.snapshot(), policy, &request)
    }

    fn settle(&mut self, q: &Quote, policy: &Policy) -> Result<Settlement, Refusal> {
        let snapshot = self.snapshot();
        let mut parties = Parties {
            borrower: &mut self.borrower,
            liquidator: &mut self.liquidator,
            treasury: &mut self.treasury,
            insurance: &mut self.insurance,
        };
        let s = settle(q, &mut parties, &mut self.pools, &snapshot, policy)?;
        self.wallet[q.request.debt_asset.index()] -= i128::try_from(s.paid.raw()).unwrap();
        Ok(s)
    }

    /// Every account's shares of `asset`, summed, and the tokens outside the pool.
    fn ledger(&self, asset: AssetId) -> (u128, u128, i128) {
        let accounts = [
            &self.borrower,
            &self.supplier,
            &self.liquidator,
            &self.treasury,
            &self.insurance,
        ];
        let supply = accounts
            .iter()
            .map(|a| a.position(asset).supply.raw())
            .sum();
        let debt = accounts.iter().map(|a| a.position(asset).debt.raw()).sum();
        let cash = i128::try_from(self.pools[asset.index()].cash().raw()).unwrap();
        (supply, debt, cash + self.wallet[asset.index()])
    }

    /// The first engine invariant (docs/engine.md): shares are conserved, tokens are conserved,
    /// pools balance.
    fn check_invariants(&self) -> Result<(), TestCaseError> {
        for (i, pool) in self.pools.iter().enumerate() {
            let asset = AssetId(i as u16);
            let (supply, debt, _) = self.ledger(asset);
            prop_assert_eq!(
                supply,
                pool.supply_shares().raw(),
                "supply shares of {:?}",
                asset
            );
            prop_assert_eq!(debt, pool.debt_shares().raw(), "debt shares of {:?}", asset);
            pool.check_identity().map_err(TestCaseError::fail)?;
        }
        Ok(())
    }
}

/// Scallop's soft rule alone: the 20% cap without a minimum useful call, as the worked vectors
/// of the cap, dust and death-spiral rules are written.
fn scallop_soft() -> Policy {
    Policy {
        min_call_value: Value::ZERO,
        ..Policy::soft()
    }
}

fn price(text: &str) -> Price {
    Price::parse("price", text).unwrap()
}

fn value(text: &str) -> Value {
    Value::parse("value", text).unwrap()
}

const ALL: &str = "1000000000";

#[test]
fn policy_validation_names_the_bound() {
    // Defaults against an asset with room for the band: 0.7 · 1.10 = 0.77 <= 0.85.
    let roomy = params(6, "0.7", "0.85", "1", "0.05", "0.04");
    for p in Policy::all() {
        assert_eq!(
            p.validate(&[("USDC", &roomy)]),
            Ok(()),
            "{} defaults",
            p.name()
        );
    }
    // With cf 0.8 the default band (0.8 · 1.10 = 0.88 > 0.85) is refused.
    let usdc = stable_params(6);
    let assets = [("USDC", &usdc)];
    assert_eq!(
        Policy::two_stage().validate(&assets).unwrap_err().field,
        "soft_hf"
    );
    let field = |p: Policy| p.validate(&assets).unwrap_err().field;
    assert_eq!(
        field(Policy {
            rule: Rule::Soft {
                max_fraction: Ratio::ZERO
            },
            ..Policy::soft()
        }),
        "max_fraction"
    );
    assert_eq!(
        field(Policy {
            insurance_share: ratio("1.1"),
            ..Policy::soft()
        }),
        "insurance_share"
    );
    let restore = |t| Policy {
        rule: Rule::Restore {
            target_hf: ratio(t),
            max_fraction: ratio("0.2"),
        },
        ..Policy::restore()
    };
    assert_eq!(field(restore("1")), "target_hf");
    assert_eq!(field(restore("2.01")), "target_hf");
    let two = |soft_hf, cf_min| Policy {
        rule: Rule::TwoStage {
            soft_hf: ratio(soft_hf),
            soft_cf_min: ratio(cf_min),
            soft_pen_min: ratio("0.01"),
            max_fraction: ratio("0.2"),
        },
        ..Policy::two_stage()
    };
    assert_eq!(
        field(two("1.1", "0.3")),
        "soft_cf_min",
        "above max_fraction"
    );
    // cf · soft_hf ≤ lt: 0.8 · 1.0625 = 0.85 is the edge; one unit more and a borrow could land
    // inside the buffer band.
    assert_eq!(two("1.0625", "0.05").validate(&assets), Ok(()));
    let err = two("1.062500000000000001", "0.05")
        .validate(&assets)
        .unwrap_err();
    assert_eq!(err.field, "soft_hf");
    assert!(err.value.contains("asset USDC"), "{err}");
}

#[test]
fn scallop_split_protocol_keeps_five_percent() {
    // 1,000 ALT at 2 USD (lt 0.8, pen 20%, disc 15%) = C 1,600; debt 1,640 USDC: HF 0.9756,
    // above the death-spiral bound 1.2 · 0.8 / 1 = 0.96. Soft cap: 20% of 1,640 = 328 USDC.
    //   seized        = 328 · 1.20 / 2 = 196.8 ALT  (393.6 USD)
    //   to liquidator = 328 · 1.15 / 2 = 188.6 ALT  (377.2 USD: repaid · (1 + disc))
    //   to treasury   = 8.2 ALT = 16.4 USD = 5% of 328
    let mut w = World::scallop();
    w.supply(ALT, "1000").borrow(USDC, "1640");
    let policy = scallop_soft();
    let q = w.quote(&policy, USDC, ALT, ALL).unwrap();
    assert_eq!(q.bound, Bound::PolicyCap);
    assert_eq!(q.repaid, w.amount(USDC, "328"));
    assert_eq!(q.seized, w.amount(ALT, "196.8"));
    assert_eq!(q.to_liquidator, w.amount(ALT, "188.6"));
    assert_eq!(q.to_treasury, w.amount(ALT, "8.2"));
    assert_eq!(q.protocol_revenue(), value("16.4"));
    assert_eq!(q.borrower_loss(), value("65.6"), "pen · repaid = 0.2 · 328");
    assert_eq!(
        q.liquidator_profit(),
        value("49.2"),
        "disc · repaid = 0.15 · 328"
    );
    // After: C = 803.2 · 2 · 0.8 = 1,285.12; D = 1,312: HF 0.97951.. > 0.97560..
    assert_eq!(q.health_after, Some(ratio("0.979512195121951219")));
    w.settle(&q, &policy).unwrap();
    assert_eq!(
        w.liquidator.position(ALT).supply,
        Shares::from_raw(w.amount(ALT, "188.6").raw())
    );
    assert_eq!(
        w.treasury.position(ALT).supply,
        Shares::from_raw(w.amount(ALT, "8.2").raw())
    );
    assert_eq!(w.wallet[USDC.index()], -328_000_000);
    w.check_invariants().unwrap();
}

#[test]
fn soft_cap_is_a_share_of_debt_across_all_debt_assets() {
    // Debt 1,000 USDC + 0.5 WETH at 2,000 = 2,000 USD in all; cap 20% = 400 USD. Repaying USDC
    // against WETH collateral repays 400 USDC, not 20% of the USDC debt alone.
    let mut w = World::scallop();
    w.supply(WETH, "1.2")
        .borrow(USDC, "1000")
        .borrow(WETH, "0.5");
    // C = 1.2 · 2,000 · 0.825 = 1,980 < D = 2,000: liquidatable.
    let q = w.quote(&scallop_soft(), USDC, WETH, ALL).unwrap();
    assert_eq!(
        (q.repaid, q.bound),
        (w.amount(USDC, "400"), Bound::PolicyCap)
    );
}

#[test]
fn dust_rules() {
    // Whole debt under 10 USD: the whole debt in one call. 0.01 WETH (20 USD, C 16.5) vs 8 USDC
    // at WETH 900: C = 7.425 < 8.
    let mut w = World::scallop();
    w.supply(WETH, "0.01").borrow(USDC, "8").price(WETH, "900");
    let q = w.quote(&scallop_soft(), USDC, WETH, ALL).unwrap();
    assert_eq!(q.repaid, w.amount(USDC, "8"));

    // Debt in d of 25 USD in a 100 USD total: the cap (20) would leave 5 < 10, so the call is
    // widened to all 25; a liquidator offering only 20 is refused and told the minimum.
    let mut w = World::scallop();
    w.supply(WETH, "0.07")
        .borrow(USDC, "25")
        .borrow(ALT, "37.5")
        .price(WETH, "1600");
    // C = 0.07 · 1,600 · 0.825 = 92.4 < D = 25 + 75 = 100: HF 0.924, above the death-spiral
    // bound 1.05 · 0.825 = 0.866.
    let q = w.quote(&scallop_soft(), USDC, WETH, ALL).unwrap();
    assert_eq!((q.repaid, q.bound), (w.amount(USDC, "25"), Bound::Dust));
    assert_eq!(
        w.quote(&scallop_soft(), USDC, WETH, "20"),
        Err(Refusal::WouldLeaveDust {
            minimum: w.amount(USDC, "25")
        })
    );
}

#[test]
fn close_factor_fifty_then_hundred_percent() {
    let policy = Policy::close_factor();
    // 10 WETH at 2,000 (C 16,500) against 17,000 USDC: HF 0.97 > 0.95, both sides over 2,000
    // USD: 50% of 17,000 = 8,500.
    let mut w = World::scallop();
    w.supply(WETH, "10").borrow(USDC, "17000");
    let q = w.quote(&policy, USDC, WETH, ALL).unwrap();
    assert_eq!(
        (q.repaid, q.bound),
        (w.amount(USDC, "8500"), Bound::PolicyCap)
    );
    // 17,600 USDC: HF 0.9375 <= 0.95: up to 100%.
    let mut w = World::scallop();
    w.supply(WETH, "10").borrow(USDC, "17600");
    let q = w.quote(&policy, USDC, WETH, ALL).unwrap();
    assert_eq!(q.repaid, w.amount(USDC, "17600"));
    // Debt under 2,000 USD: 100% even at HF 0.868 (1 WETH, C 1,650, debt 1,900).
    let mut w = World::scallop();
    w.supply(WETH, "1").borrow(USDC, "1900");
    let q = w.quote(&policy, USDC, WETH, ALL).unwrap();
    assert_eq!(q.repaid, w.amount(USDC, "1900"));
}

#[test]
fn close_factor_leaves_a_thousand_or_nothing() {
    // 3.5 WETH (7,000 USD, C 5,775) + 7,200 USDC collateral (C 6,120) = C 11,895 against
    // 12,500 of ALT-denominated debt at 2 USD (bw 1): HF 0.9516 > 0.95, cap 6,250 USD.
    // Against WETH: seizing 6,250 · 1.05 = 6,562.5 would leave 437.5 USD of WETH < 1,000, and
    // taking all WETH (6,666.67 USD of repayment) exceeds the cap, so the call shrinks to
    // leave 1,000 USD: repay (7,000 − 1,000) / 1.05 = 5,714.2857.. USD.
    let mut w = World::new(params(18, "0.7", "0.8", "1", "0.05", "0.04"));
    w.supply(WETH, "3.5")
        .supply(USDC, "7200")
        .borrow(ALT, "6250");
    let q = w.quote(&Policy::close_factor(), ALT, WETH, ALL).unwrap();
    assert_eq!(q.bound, Bound::Dust);
    assert_eq!(q.repaid_value.to_string(), "5714.285714285714285714");
    let left = w.amount(WETH, "3.5").raw() - q.seized.raw();
    // At least 0.5 WETH = 1,000 USD stays, to the base unit (sizing in value and rounding the
    // tokens up used to leave one base unit less), and the repayment is the largest that does.
    assert!(left >= w.amount(WETH, "0.5").raw(), "left {left}");
    assert!(
        left - w.amount(WETH, "0.5").raw() <= 2,
        "left {left}: shrunk too far"
    );
}

#[test]
fn close_factor_holds_the_leftover_in_tokens_with_odd_decimals() {
    // The case: 1.5 WETH + 0.04866667 WBTC (as ALT, 8 decimals) against 4,760 USDC;
    // a call on WETH shrunk to leave 1,000 USD must not leave 999.99999975 USD.
    let mut w = World::new(params(8, "0.7", "0.75", "1", "0.05", "0.04"));
    w.price(ALT, "60000");
    w.supply(WETH, "1.5")
        .supply(ALT, "0.04866667")
        .borrow(USDC, "4760");
    w.price(WETH, "1980");
    let h = w.health();
    assert!(h.is_liquidatable(), "HF {:?}", h.health_factor());
    let q = w.quote(&Policy::close_factor(), USDC, WETH, ALL).unwrap();
    let snapshot = w.snapshot();
    let (rc, rd) = (snapshot.get(WETH).unwrap(), snapshot.get(USDC).unwrap());
    let left_coll = Amount::from_raw(w.amount(WETH, "1.5").raw() - q.seized.raw());
    let left_debt = Amount::from_raw(w.amount(USDC, "4760").raw() - q.repaid.raw());
    let worth = |a: Amount, r: &crate::health::AssetRisk| {
        a.value_at(r.price, r.decimals, Rounding::Down).unwrap()
    };
    assert!(
        q.seized < w.amount(WETH, "1.5") && q.repaid < w.amount(USDC, "4760"),
        "{q:?}"
    );
    assert!(
        worth(left_coll, rc) >= value("1000"),
        "collateral left {}",
        worth(left_coll, rc)
    );
    assert!(
        worth(left_debt, rd) >= value("1000"),
        "debt left {}",
        worth(left_debt, rd)
    );
}

#[test]
fn restore_lands_on_its_target() {
    // 10 WETH (C 16,500) against 16,520 USDC, target 1.02, cap 100%:
    // v* = (1.02 · 16,520 − 16,500) / (1.02 − 1.05 · 0.825) = 350.4 / 0.15375 = 2,279.0243..
    let mut policy = Policy::restore();
    policy.rule = Rule::Restore {
        target_hf: ratio("1.02"),
        max_fraction: Ratio::ONE,
    };
    let mut w = World::scallop();
    w.supply(WETH, "10").borrow(USDC, "16520");
    let q = w.quote(&policy, USDC, WETH, ALL).unwrap();
    assert_eq!(
        q.repaid,
        w.amount(USDC, "2279.024391"),
        "value rounded down, tokens up"
    );
    let hf = q.health_after.unwrap();
    assert!(
        hf >= ratio("1.02") && hf <= ratio("1.0200001"),
        "HF after {hf}"
    );
    // Under the default 20% cap the same call stops at 3,304 and does not reach the target.
    let mut capped = policy;
    capped.rule = Rule::Restore {
        target_hf: ratio("1.02"),
        max_fraction: ratio("0.1"),
    };
    let q = w.quote(&capped, USDC, WETH, ALL).unwrap();
    assert_eq!(
        (q.repaid, q.bound),
        (w.amount(USDC, "1652"), Bound::PolicyCap)
    );
}

#[test]
fn death_spiral_switch() {
    // pen 20%, lt 0.8, bw 1: partial calls raise HF only above 1.2 · 0.8 = 0.96.
    // 1,000 ALT at 1.92 (C 1,536) against 1,600 USDC: HF exactly 0.96: the whole debt may go,
    // and the collateral (1,920 / 1.2 = 1,600) pays for exactly all of it.
    let mut w = World::scallop();
    w.supply(ALT, "1000")
        .borrow(USDC, "1600")
        .price(ALT, "1.92");
    let q = w.quote(&scallop_soft(), USDC, ALT, ALL).unwrap();
    assert_eq!(
        (q.repaid, q.bound),
        (w.amount(USDC, "1600"), Bound::DeathSpiral)
    );
    assert_eq!(q.seized, w.amount(ALT, "1000"));
    // 1 USDC less debt: HF 0.9606 > 0.96: back to the 20% cap (319.8).
    let mut w = World::scallop();
    w.supply(ALT, "1000")
        .borrow(USDC, "1599")
        .price(ALT, "1.92");
    let q = w.quote(&scallop_soft(), USDC, ALT, ALL).unwrap();
    assert_eq!(
        (q.repaid, q.bound),
        (w.amount(USDC, "319.8"), Bound::PolicyCap)
    );
}

#[test]
fn exhausted_collateral_realises_bad_debt_insurance_first() {
    // 1 WETH against 1,500 USDC; WETH falls to 1,000: C 825, D 1,500, HF 0.55, below the
    // death-spiral bound, so the call may repay all it can: the collateral pays for
    // 1,000 / 1.05 = 952.380952.. USDC. 547.619.. USDC remain with no collateral: the
    // insurance fund's 100 USDC cover part, the suppliers the rest.
    let mut w = World::scallop();
    w.supply(WETH, "1")
        .borrow(USDC, "1500")
        .insure(USDC, "100")
        .price(WETH, "1000");
    let supplier_before = w
        .supplier
        .position(USDC)
        .supply
        .to_amount(w.pools[0].supply_index(), Rounding::Down)
        .unwrap();
    let policy = Policy::soft();
    let q = w.quote(&policy, USDC, WETH, ALL).unwrap();
    assert_eq!(q.bound, Bound::Collateral);
    assert_eq!(q.repaid, w.amount(USDC, "952.380953"));
    assert_eq!(q.seized, w.amount(WETH, "1"));
    let s = w.settle(&q, &policy).unwrap();
    assert_eq!(
        s.bad_debt,
        vec![
            BadDebtEvent::InsuranceCovered {
                asset: USDC,
                amount: w.amount(USDC, "100")
            },
            BadDebtEvent::Socialised {
                asset: USDC,
                amount: w.amount(USDC, "447.619047")
            },
        ]
    );
    assert!(!w.borrower.has_debt() && w.borrower.positions().is_empty());
    let supplier_after = w
        .supplier
        .position(USDC)
        .supply
        .to_amount(w.pools[0].supply_index(), Rounding::Down)
        .unwrap();
    let lost = supplier_before.raw() - supplier_after.raw();
    assert!(
        (447_619_047..=447_619_049).contains(&lost),
        "supplier lost {lost}"
    );
    w.check_invariants().unwrap();
}

#[test]
fn refusals() {
    let mut w = World::scallop();
    w.supply(WETH, "10").borrow(USDC, "10000");
    let p = Policy::soft();
    assert!(matches!(
        w.quote(&p, USDC, WETH, ALL),
        Err(Refusal::NotLiquidatable { .. })
    ));
    w.price(WETH, "1000");
    assert_eq!(w.quote(&p, USDC, WETH, "0"), Err(Refusal::ZeroAmount));
    // "As much as allowed": a request too large to value does not bind.
    let request = Request {
        debt_asset: USDC,
        collateral_asset: WETH,
        max_repay: Amount::MAX,
        liquidatable_for_s: 0,
    };
    let q = quote(&w.borrower, &w.snapshot(), &p, &request).unwrap();
    assert_eq!(q.repaid, w.quote(&p, USDC, WETH, ALL).unwrap().repaid);
    assert_eq!(w.quote(&p, WETH, WETH, ALL), Err(Refusal::NoDebt(WETH)));
    assert_eq!(w.quote(&p, USDC, ALT, ALL), Err(Refusal::NoCollateral(ALT)));
    let mut snapshot = w.snapshot();
    let mut stale = *snapshot.get(WETH).unwrap();
    stale.stale = true;
    snapshot.set(WETH, stale);
    let request = Request {
        debt_asset: USDC,
        collateral_asset: WETH,
        max_repay: w.amount(USDC, "1"),
        liquidatable_for_s: 0,
    };
    assert_eq!(
        quote(&w.borrower, &snapshot, &p, &request),
        Err(Refusal::StalePrice(WETH))
    );
    // A quote settled after the account changed is refused and changes nothing.
    let q = w.quote(&p, USDC, WETH, ALL).unwrap();
    w.borrow(USDC, "1");
    let before = w.clone();
    assert_eq!(w.settle(&q, &p), Err(Refusal::StaleQuote));
    assert_eq!((w.borrower, w.pools), (before.borrower, before.pools));
}

/// Only a quote `quote` made, unchanged, settles: one with a field changed after, or one read
/// back from its JSON record, is refused and changes nothing; the record still compares equal.
#[test]
fn only_an_unchanged_quote_settles() {
    let mut w = World::scallop();
    w.supply(WETH, "10").borrow(USDC, "10000");
    w.price(WETH, "1000");
    let p = Policy::soft();
    let q = w.quote(&p, USDC, WETH, ALL).unwrap();
    assert!(q.is_sealed());
    let before = w.clone();
    let mut richer = q;
    richer.liquidator_shares = richer.collateral_shares_seized;
    assert_eq!(w.settle(&richer, &p), Err(Refusal::StaleQuote));
    let mut later = q;
    later.liquidatable_after = !later.liquidatable_after;
    assert_eq!(w.settle(&later, &p), Err(Refusal::StaleQuote));
    let record: Quote = serde_json::from_str(&serde_json::to_string(&q).unwrap()).unwrap();
    assert_eq!(
        record, q,
        "a logged quote compares equal to the settled one"
    );
    assert!(!record.is_sealed());
    assert_eq!(w.settle(&record, &p), Err(Refusal::StaleQuote));
    assert_eq!((&w.borrower, &w.pools), (&before.borrower, &before.pools));
    w.settle(&q, &p).expect("the quote as made settles");
    w.check_invariants().unwrap();
}

#[test]
fn two_stage_buffer_band() {
    // HF 1.05 is inside the band (1, 1.10) halfway: share 5% + 15% · 0.5 = 12.5%, penalty
    // 1% + (5% − 1%) · 0.5 = 3%, discount 4% · 3/5 = 2.4%.
    let mut w = World::scallop();
    w.supply(WETH, "10").borrow(USDC, "15714.285714"); // C 16,500: HF 1.05
    let policy = Policy::two_stage();
    assert!(matches!(
        w.quote(&Policy::soft(), USDC, WETH, ALL),
        Err(Refusal::NotLiquidatable { .. })
    ));
    let q = w.quote(&policy, USDC, WETH, ALL).unwrap();
    assert_eq!(q.stage, Stage::Buffer);
    // HF is 1.05 to 1e-11 (the debt is rounded to 6 decimals), so the figures are to 1e-9.
    let near = |x: Ratio, y: &str| x.raw().abs_diff(ratio(y).raw()) < 1_000_000_000;
    assert!(near(q.penalty, "0.03"), "{}", q.penalty);
    assert!(near(q.discount, "0.024"), "{}", q.discount);
    let hf = q.health_after.unwrap();
    assert!(
        hf > ratio("1.05") && hf <= ratio("1.1000001"),
        "HF after {hf}"
    );
}

#[test]
fn minimum_call_raises_a_small_cap() {
    // 1.2 WETH at 1,500 (C = 1,800 · 0.825 = 1,485) against 1,500 USDC: HF 0.99, above the
    // death-spiral bound 1.05 · 0.825 = 0.866. The soft cap is 20% of 1,500 = 300 USD, too
    // small to pay a liquidator's cost; the market's 1,000 USD minimum call applies instead.
    let mut w = World::scallop();
    w.supply(WETH, "1.2")
        .borrow(USDC, "1500")
        .price(WETH, "1500");
    let q = w.quote(&scallop_soft(), USDC, WETH, ALL).unwrap();
    assert_eq!(
        (q.repaid, q.bound),
        (w.amount(USDC, "300"), Bound::PolicyCap)
    );
    let q = w.quote(&Policy::soft(), USDC, WETH, ALL).unwrap();
    assert_eq!(
        (q.repaid, q.bound),
        (w.amount(USDC, "1000"), Bound::MinCall)
    );
    // A liquidator may still repay less than the minimum.
    let q = w.quote(&Policy::soft(), USDC, WETH, "200").unwrap();
    assert_eq!(
        (q.repaid, q.bound),
        (w.amount(USDC, "200"), Bound::Requested)
    );
    // Restore to 1.05 needs v* = (1.05 · 1,500 − 1,485) / (1.05 − 1.05 · 0.825) = 90 / 0.18375
    // = 489.8 USD, also under the minimum: the floor lifts it to 1,000.
    let q = w.quote(&Policy::restore(), USDC, WETH, ALL).unwrap();
    assert_eq!(
        (q.repaid, q.bound),
        (w.amount(USDC, "1000"), Bound::MinCall)
    );
    // The rules without a small cap refuse a minimum call.
    let usdc = stable_params(6);
    for p in [Policy::full(), Policy::close_factor(), Policy::dutch()] {
        let with = Policy {
            min_call_value: value("1000"),
            ..p
        };
        assert_eq!(
            with.validate(&[("USDC", &usdc)]).unwrap_err().field,
            "min_call_value",
            "{}",
            p.name()
        );
    }
}

#[test]
fn minimum_call_is_capped_by_the_debt_in_d() {
    // 1.2 WETH against 600 USDC and 225 ALT (at 2 USD, bw 1: 450 USD) = 1,050 USD of debt. At
    // WETH 1,000: C = 1,200 · 0.825 = 990 < 1,050, HF 0.943, above the death-spiral bound
    // 0.866. The soft cap is 20% of 1,050 = 210 USD; the 1,000 USD floor stops at all 600 USDC
    // owed.
    let mut w = World::new(params(8, "0", "0.5", "1", "0.05", "0.04"));
    w.supply(WETH, "1.2")
        .borrow(USDC, "600")
        .borrow(ALT, "225")
        .price(WETH, "1000");
    let q = w.quote(&Policy::soft(), USDC, WETH, ALL).unwrap();
    assert_eq!((q.repaid, q.bound), (w.amount(USDC, "600"), Bound::MinCall));
    let q = w.quote(&scallop_soft(), USDC, WETH, ALL).unwrap();
    assert_eq!(
        (q.repaid, q.bound),
        (w.amount(USDC, "210"), Bound::PolicyCap)
    );
}

#[test]
fn need_sized_incentive_prices_the_call() {
    // 10 WETH at 1,900 (C = 19,000 · 0.825 = 15,675) against 16,500 USDC: HF 0.95, shortfall 5%.
    let mut w = World::scallop();
    w.supply(WETH, "10")
        .borrow(USDC, "16500")
        .price(WETH, "1900");
    let euler = Policy {
        incentive: Incentive::Need(Need::euler()),
        ..scallop_soft()
    };
    // Euler: the discount is the shortfall, 5%; the penalty 5% · 1.1 = 5.5%.
    let q = w.quote(&euler, USDC, WETH, ALL).unwrap();
    assert_eq!((q.discount, q.penalty), (ratio("0.05"), ratio("0.055")));
    // 20% of 16,500 = 3,300 repaid; seized 3,300 · 1.055 / 1,900 = 1.832368... WETH (rounded
    // up), of which 3,300 · 1.05 / 1,900 = 1.823684... to the liquidator (rounded down).
    assert_eq!(q.repaid, w.amount(USDC, "3300"));
    assert_eq!(q.seized, w.amount(WETH, "1.832368421052631579"));
    assert_eq!(q.to_liquidator, w.amount(WETH, "1.823684210526315789"));
    // The ramp: 0.5% at the moment the account became liquidatable, +7.5% over an hour.
    let ramp = Policy {
        incentive: Incentive::Need(Need::ramp()),
        ..scallop_soft()
    };
    let at = |age_s| {
        let request = Request {
            debt_asset: USDC,
            collateral_asset: WETH,
            max_repay: Amount::MAX,
            liquidatable_for_s: age_s,
        };
        let q = quote(&w.borrower, &w.snapshot(), &ramp, &request).unwrap();
        (q.discount, q.penalty)
    };
    assert_eq!(at(0), (ratio("0.005"), ratio("0.0055")));
    assert_eq!(at(1_800), (ratio("0.0425"), ratio("0.04675")));
    assert_eq!(at(3_600), (ratio("0.08"), ratio("0.088")));
    assert_eq!(at(86_400), (ratio("0.08"), ratio("0.088")));
    // A discount above what the market's threshold allows is refused: lt 0.825 · (1 + 0.22) > 1.
    let usdc = stable_params(6);
    let weth = params(18, "0.8", "0.825", "1", "0.05", "0.04");
    let greedy = Policy {
        incentive: Incentive::Need(Need {
            discount_max: ratio("0.15"),
            protocol_fee: ratio("0.3"),
            ..Need::euler()
        }),
        ..Policy::soft()
    };
    assert_eq!(
        greedy
            .validate(&[("USDC", &usdc), ("WETH", &weth)])
            .unwrap_err()
            .field,
        "discount_max"
    );
    let dutch = Policy {
        incentive: Incentive::Need(Need::ramp()),
        ..Policy::dutch()
    };
    assert_eq!(dutch.validate(&[]).unwrap_err().field, "incentive");
}

#[test]
fn plan_and_two_step_extraction() {
    // 10 WETH (C 16,500) against 16,800 USDC: HF 0.982. Greedy soft: one 20% call (3,360)
    // makes it healthy. Two-step: first the most that keeps it liquidatable, then a fresh cap.
    let mut w = World::scallop();
    w.supply(WETH, "10").borrow(USDC, "16800");
    let p = Policy::soft();
    let greedy = plan_until_healthy(&w.borrower, &w.snapshot(), &p, &w.pools, 0).unwrap();
    assert_eq!(greedy.calls.len(), 1);
    assert_eq!(greedy.outcome, plan::Outcome::Healthy);
    assert_eq!(greedy.repaid_value, value("3360"));
    // Greedy profit: 4% of 3,360 = 134.4.
    assert_eq!(greedy.liquidator_profit, value("134.4"));
    let two = two_step_extraction(&w.borrower, &w.snapshot(), &p, &w.pools, 0).unwrap();
    // First call: HF stays ≤ 1 while 16,500 − 0.86625·v ≤ 16,800 − v, i.e. v ≤ 300 / 0.13375
    // = 2,242.99; then the cap is 20% of the remaining 14,557.0 = 2,911.4: 5,154.4 repaid in
    // all, 206.2 of profit, 71.8 more than greedy.
    assert_eq!(two.calls.len(), 2);
    let extra = two.liquidator_profit.raw() - greedy.liquidator_profit.raw();
    assert!(
        (value("71.7").raw()..value("71.9").raw()).contains(&extra),
        "extra {}",
        Value::from_raw(extra)
    );
    // Restore bounds the total: whatever the sequence, no more than one call sized to the
    // target, v* = (1.05 · 16,800 − 16,500) / (1.05 − 1.05 · 0.825) = 1,140 / 0.18375 = 6,204.08.
    // (Its 20% cap makes the greedy plan stop sooner, at 3,360, once HF passes 1.)
    let r = Policy::restore();
    let t = two_step_extraction(&w.borrower, &w.snapshot(), &r, &w.pools, 0).unwrap();
    assert!(t.repaid_value <= value("6204.09"), "{}", t.repaid_value);
}

// ---- property tests -----------------------------------------------------------------------

/// A random liquidation scenario, as raw numbers turned into a world by [`Scenario::world`].
#[derive(Clone, Debug)]
struct Scenario {
    /// ALT's penalty (0..=20%), discount share of it, threshold headroom, borrow weight.
    pen_pct: u128,
    disc_share_pct: u128,
    lt_pct: u128,
    bw_pct: u128,
    /// Collateral in each asset (thousandths of a token; 0 = none).
    supply: [u64; 3],
    /// Share of borrowing power used (percent), split between debt assets by `split_pct`.
    use_pct: u64,
    debt_assets: (usize, usize),
    split_pct: u64,
    /// Price moves applied after borrowing, in percent of the old price.
    shock_pct: [u64; 3],
    policy: usize,
    /// 0: the assets' fixed incentive; 1: the ramp; 2: Euler's shortfall rule.
    incentive: usize,
    /// How long the account has been liquidatable when the calls are priced.
    age_s: u64,
}

fn scenario() -> impl Strategy<Value = Scenario> {
    (
        (0u128..=20, 0u128..=100, 50u128..=100, 100u128..=150),
        prop::array::uniform3(0u64..5_000_000),
        (70u64..=100, (0usize..3, 0usize..3), 0u64..=100),
        prop::array::uniform3(25u64..=110),
        (0usize..5, 0usize..3, 0u64..=7_200),
    )
        .prop_map(
            |(
                (pen_pct, disc_share_pct, lt_pct, bw_pct),
                supply,
                (use_pct, debt_assets, split_pct),
                shock_pct,
                (policy, incentive, age_s),
            )| Scenario {
                pen_pct,
                disc_share_pct,
                lt_pct,
                bw_pct,
                supply,
                use_pct,
                debt_assets,
                split_pct,
                shock_pct,
                policy,
                incentive,
                age_s,
            },
        )
}

fn pct(n: u128) -> Ratio {
    Ratio::from_fraction(n, 100, Rounding::Down).unwrap()
}

impl Scenario {
    fn alt(&self) -> AssetParams {
        let pen = pct(self.pen_pct);
        // lt · (1 + pen) ≤ 1: scale the largest allowed threshold by lt_pct.
        let lt_max = Ratio::ONE
            .div(Ratio::ONE.checked_add(pen).unwrap(), Rounding::Down)
            .unwrap();
        let lt = lt_max
            .mul(pct(self.lt_pct.min(99)), Rounding::Down)
            .unwrap();
        let disc = pen
            .mul(pct(self.disc_share_pct), Rounding::Down)
            .unwrap()
            .min(ratio("0.15"));
        let mut p = params(8, "0", "0.5", "1", "0", "0");
        p.liquidation_threshold = lt;
        p.collateral_factor = lt.mul(ratio("0.9"), Rounding::Down).unwrap();
        p.borrow_weight = pct(self.bw_pct);
        p.liquidation_penalty = pen;
        p.liquidation_discount = disc;
        p
    }

    /// The policy, with a need-sized incentive whose largest penalty every asset of the world
    /// can pay (`lt · (1 + pen_max) ≤ 1`): the discount cap is cut to fit the highest threshold.
    fn policy(&self) -> Policy {
        let mut policy = Policy::all()[self.policy];
        let base = match self.incentive {
            0 => return policy,
            1 => Need::ramp(),
            _ => Need::euler(),
        };
        let lt_max = self.alt().liquidation_threshold.max(ratio("0.85"));
        let pen_room = Ratio::ONE
            .div(lt_max, Rounding::Down)
            .unwrap()
            .saturating_sub(Ratio::ONE);
        let disc_room = pen_room
            .div(
                Ratio::ONE.checked_add(base.protocol_fee).unwrap(),
                Rounding::Down,
            )
            .unwrap()
            .saturating_sub(Ratio::from_raw(1));
        let discount_max = base.discount_max.min(disc_room);
        policy.incentive = Incentive::Need(Need {
            discount_max,
            discount_min: base.discount_min.min(discount_max),
            ..base
        });
        policy
    }

    /// The penalty the first call on `(c, d)` pays at the world's state: the incentive's, or
    /// the collateral asset's.
    fn first_penalty(&self, policy: &Policy, h: &Health, c: &crate::health::AssetRisk) -> Ratio {
        match policy.incentive {
            Incentive::Fixed => c.liquidation_penalty,
            Incentive::Need(n) => n
                .penalty(
                    n.discount(h.liquidation_collateral, h.weighted_debt, self.age_s)
                        .unwrap(),
                )
                .unwrap(),
        }
    }

    /// Builds the world: deposits, borrows within borrowing power, then the price shock.
    /// `None` when the numbers make no usable position.
    fn world(&self) -> Option<World> {
        let mut w = World::new(self.alt());
        let decimals = [6u32, 18, 8];
        for (i, &q) in self.supply.iter().enumerate() {
            if q > 0 {
                let amount = Amount::from_raw(u128::from(q) * 10u128.pow(decimals[i]) / 1000);
                let asset = AssetId(i as u16);
                let shares = w.pools[i].deposit(amount, None).ok()?;
                w.borrower.add_supply(asset, shares).ok()?;
            }
        }
        let h = Health::of(&w.borrower, &w.snapshot()).ok()?;
        let budget = h
            .borrowing_power
            .mul_ratio(pct(u128::from(self.use_pct)), Rounding::Down)
            .ok()?;
        let (a, b) = self.debt_assets;
        let first = budget
            .mul_ratio(pct(u128::from(self.split_pct)), Rounding::Down)
            .ok()?;
        for (asset, share) in [(a, first), (b, budget.saturating_sub(first))] {
            let risk = *w.snapshot().get(AssetId(asset as u16)).ok()?;
            // Borrow value `share / bw` so that the weighted debt stays within the budget.
            let v = share.div_ratio(risk.borrow_weight, Rounding::Down).ok()?;
            let amount = v
                .to_amount(risk.price, risk.decimals, Rounding::Down)
                .ok()?;
            if amount.is_zero() {
                continue;
            }
            let shares = w.pools[asset].borrow(amount, None).ok()?;
            w.borrower.add_debt(AssetId(asset as u16), shares).ok()?;
        }
        if !w.borrower.has_debt() {
            return None;
        }
        for (i, &s) in self.shock_pct.iter().enumerate() {
            let old = w.prices[i].unwrap();
            w.prices[i] = Some(Price::from_raw(old.raw() / 100 * u128::from(s)));
        }
        Some(w)
    }
}

/// Every (debt, collateral) pair the borrower holds.
fn pairs(a: &Account) -> Vec<(AssetId, AssetId)> {
    let debts = a
        .positions()
        .iter()
        .filter(|p| !p.debt.is_zero())
        .map(|p| p.asset);
    debts
        .flat_map(|d| {
            a.positions()
                .iter()
                .filter(|p| !p.supply.is_zero())
                .map(move |c| (d, c.asset))
        })
        .collect()
}

/// The value of one base unit of `asset`, rounded up: the rounding slack of a token amount.
fn unit_value(w: &World, asset: AssetId) -> Value {
    let r = *w.snapshot().get(asset).unwrap();
    Amount::from_raw(1)
        .value_at(r.price, r.decimals, Rounding::Up)
        .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    /// One call under any policy: refused and nothing changed, or settled with every property
    /// every policy keeps (docs/liquidation.md) and the engine invariants holding after it.
    #[test]
    fn every_call_keeps_the_invariants(s in scenario(), pick in any::<prop::sample::Index>(), size_pct in 0u128..=120) {
        // Scenarios that build no world are rejected (counted: proptest fails past its limit).
        let w = s.world();
        prop_assume!(w.is_some());
        let mut w = w.unwrap();
        let pairs = pairs(&w.borrower);
        prop_assume!(!pairs.is_empty());
        let (d, c) = pairs[pick.index(pairs.len())];
        let policy = s.policy();
        let assets: Vec<_> = w.assets.iter().map(|a| (a.symbol.as_str(), a.params())).collect();
        // The incentive fits every asset (checked on a rule that has no bounds of its own).
        let incentive_only = Policy { rule: Rule::Full, min_call_value: Value::ZERO, ..policy };
        prop_assert_eq!(incentive_only.validate(&assets).map_err(|e| e.field), Ok(()));
        let snapshot = w.snapshot();
        let owed = w.borrower.position(d).debt.to_amount(snapshot.get(d).unwrap().borrow_index, Rounding::Up).unwrap();
        let max_repay = Amount::from_raw(owed.raw() * size_pct / 100);
        let request = Request { debt_asset: d, collateral_asset: c, max_repay, liquidatable_for_s: s.age_s };
        let before = w.clone();
        let before_ledger: Vec<_> = (0..3).map(|i| w.ledger(AssetId(i)).2).collect();
        let q = match quote(&w.borrower, &snapshot, &policy, &request) {
            Ok(q) => q,
            Err(_) => {
                // A refused call changes nothing (quote takes no mutable state; settle's refusal
                // is checked in `refusals`).
                prop_assert_eq!(&w.borrower, &before.borrower);
                return Ok(());
            }
        };
        prop_assert!(q.repaid <= max_repay && q.repaid > Amount::ZERO);
        // The quote's health after the call (computed incrementally) equals a full pass.
        let full = Health::of(&q.apply_to(&w.borrower).unwrap(), &snapshot).unwrap();
        prop_assert_eq!(q.health_after, full.health_factor());
        prop_assert_eq!(q.liquidatable_after, full.is_liquidatable());
        prop_assert_eq!(q.collateral_value_after, full.collateral_value);
        prop_assert_eq!(q.seized.raw(), q.to_liquidator.raw() + q.to_treasury.raw(), "seized = liquidator + treasury");
        let (rd, rc) = (snapshot.get(d).unwrap(), snapshot.get(c).unwrap());
        let held = w.borrower.position(c).supply.to_amount(rc.supply_index, Rounding::Down).unwrap();
        let left_coll = held.checked_sub(q.seized).unwrap();
        let left_debt = owed.checked_sub(q.repaid).unwrap();
        let worth = |a: Amount, r: &crate::health::AssetRisk| a.value_at(r.price, r.decimals, Rounding::Down).unwrap();
        // No call leaves collateral in `c` worth nothing: it would be unliquidatable forever.
        prop_assert!(left_coll.is_zero() || !worth(left_coll, rc).is_zero(), "left {:?} of c worth 0", left_coll);
        if let Rule::CloseFactor { min_leftover_value: min, .. } = policy.rule {
            // Clear the debt in `d`, take all of `c`, or leave `min` of each, to the base unit.
            let cleared = left_debt.is_zero() || left_coll.is_zero();
            prop_assert!(
                cleared || (worth(left_debt, rd) >= min && worth(left_coll, rc) >= min),
                "close_factor left {} of debt and {} of collateral", worth(left_debt, rd), worth(left_coll, rc)
            );
        }
        let settled = w.settle(&q, &policy).unwrap();
        prop_assert_eq!(
            q.collateral_shares_seized.raw(),
            q.liquidator_shares.raw() + settled.treasury_shares.raw() + settled.insurance_shares.raw()
        );
        w.check_invariants()?;
        for i in 0..3u16 {
            prop_assert_eq!(w.ledger(AssetId(i)).2, before_ledger[usize::from(i)], "tokens of asset {} conserved", i);
        }
        // The borrower loses at most pen · repaid, plus a unit of each token for rounding.
        let slack = unit_value(&w, c).raw() + unit_value(&w, d).raw() * 2 + 2;
        let max_loss = q.repaid_value.mul_ratio(q.penalty, Rounding::Up).unwrap().raw() + slack;
        prop_assert!(q.borrower_loss().raw() <= max_loss, "loss {} > pen · repaid {}", q.borrower_loss(), Value::from_raw(max_loss));
        // Above the death-spiral bound HF does not fall; restore does not overshoot its target.
        let hf_before = q.health_before.unwrap();
        let hf_after = q.health_after.unwrap_or(Ratio::MAX);
        let h = Health::of(&before.borrower, &snapshot).unwrap();
        let spiral = policy::at_death_spiral(h.liquidation_collateral, h.weighted_debt, rd.borrow_weight, q.penalty, rc.liquidation_threshold);
        // The death-spiral rule reads the call's own penalty (the incentive's, when need-sized).
        if q.stage == Stage::Hard && !matches!(policy.rule, Rule::Full) {
            let lifted = !matches!(q.bound, Bound::PolicyCap | Bound::MinCall);
            prop_assert!(if spiral { lifted } else { q.bound != Bound::DeathSpiral }, "spiral {} but bound {:?}", spiral, q.bound);
        }
        if !spiral && settled.bad_debt.is_empty() {
            let tolerance = Ratio::from_raw(1_000_000_000); // 1e-9
            prop_assert!(hf_after.checked_add(tolerance).unwrap_or(Ratio::MAX) >= hf_before, "HF fell: {} -> {}", hf_before, hf_after);
        }
        let target = match policy.rule {
            Rule::Restore { target_hf, .. } => Some(target_hf),
            Rule::TwoStage { soft_hf, .. } => Some(soft_hf),
            _ => None,
        };
        if let Some(t) = target
            && matches!(q.bound, Bound::PolicyCap | Bound::Requested)
        {
            prop_assert!(hf_after <= t.checked_add(ratio("0.000001")).unwrap(), "overshot {} to {}", t, hf_after);
        }
    }

    /// For `restore` and `two_stage`, at unchanged prices, a sequence of calls of any sizes on
    /// a two-asset account repays no more in total than one call sized to the target. For every
    /// policy the keeper's plan terminates healthy, closed, or with bad debt realised.
    #[test]
    fn sequences_and_plans(s in scenario(), sizes in prop::collection::vec(1u128..=100, 1..12)) {
        // Scenarios that build no world are rejected (counted: proptest fails past its limit).
        let w = s.world();
        prop_assume!(w.is_some());
        let mut w = w.unwrap();
        let policy = s.policy();
        let snapshot = w.snapshot();
        let plan = plan_until_healthy(&w.borrower, &snapshot, &policy, &w.pools, s.age_s).unwrap();
        prop_assert_ne!(plan.outcome, plan::Outcome::CallLimit);
        if plan.outcome == plan::Outcome::Healthy {
            // No call is open any more.
            let mut after = w.borrower.clone();
            for q in &plan.calls {
                after = q.apply_to(&after).unwrap();
            }
            prop_assert!(super::plan(&after, &snapshot, &policy, s.age_s).unwrap().is_none());
        }

        let target = match policy.rule {
            Rule::Restore { target_hf, .. } => target_hf,
            Rule::TwoStage { soft_hf, .. } => soft_hf,
            _ => return Ok(()),
        };
        let pairs = pairs(&w.borrower);
        prop_assume!(pairs.len() == 1);
        let (d, c) = pairs[0];
        let h = w.health();
        let (rd, rc) = (*snapshot.get(d).unwrap(), *snapshot.get(c).unwrap());
        // Need-sized penalties only fall as HF rises, so the first call's penalty bounds them all.
        let pen = s.first_penalty(&policy, &h, &rc);
        let one_call = policy::restore_value(target, h.liquidation_collateral, h.weighted_debt, rd.borrow_weight, pen, rc.liquidation_threshold)
            .unwrap()
            .unwrap_or(Value::MAX);
        let mut total = Value::ZERO;
        let mut calls = 0u128;
        let mut floor = Value::ZERO;
        for size in sizes {
            let owed = w.borrower.position(d).debt.to_amount(rd.borrow_index, Rounding::Up).unwrap();
            let request = Request { debt_asset: d, collateral_asset: c, max_repay: Amount::from_raw((owed.raw() * size / 100).max(1)), liquidatable_for_s: s.age_s };
            let Ok(q) = quote(&w.borrower, &w.snapshot(), &policy, &request) else { continue };
            if q.bound == Bound::Dust || q.bound == Bound::DeathSpiral {
                return Ok(()); // the dust and death-spiral rules may clear past the target
            }
            if q.bound == Bound::MinCall {
                // The minimum call may pass the target, by at most itself, once.
                floor = policy.min_call_value;
            }
            w.settle(&q, &policy).unwrap();
            total = total.checked_add(q.repaid_value).unwrap();
            calls += 1;
        }
        let slack = unit_value(&w, d).raw() * (calls + 1) + calls;
        let allowed = one_call.raw().saturating_add(floor.raw()).saturating_add(slack);
        prop_assert!(total.raw() <= allowed, "{} calls repaid {} > one call to target {} (+ minimum call {})", calls, total, one_call, floor);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Deep crashes on single-collateral accounts, liquidated by the keeper until no call is
    /// open: the invariants hold after every call, and when collateral runs out the insurance
    /// fund pays first (at most its claim) and the suppliers lose exactly the socialised rest.
    #[test]
    fn crashes_realise_bad_debt_exactly(
        alt in any::<bool>(), tokens in 1u64..1_000_000, use_pct in 50u128..=100,
        crash_pct in 5u64..=60, insurance in 0u64..=2_000, policy in 0usize..5,
    ) {
        let mut w = World::scallop();
        let c = if alt { ALT } else { WETH };
        w.supply(c, &format!("{}", tokens));
        if insurance > 0 {
            w.insure(USDC, &format!("{insurance}"));
        }
        let h = w.health();
        let debt = h.borrowing_power.mul_ratio(pct(use_pct), Rounding::Down).unwrap();
        let amount = debt.to_amount(price("1"), crate::money::Decimals::new(6).unwrap(), Rounding::Down).unwrap();
        prop_assume!(!amount.is_zero() && amount <= w.pools[0].cash());
        let shares = w.pools[0].borrow(amount, None).unwrap();
        w.borrower.add_debt(USDC, shares).unwrap();
        let old = w.prices[c.index()].unwrap();
        w.prices[c.index()] = Some(Price::from_raw(old.raw() / 100 * u128::from(crash_pct)));
        let policy = Policy::all()[policy];
        let claim = |w: &World, a: &Account| a.position(USDC).supply.to_amount(w.pools[0].supply_index(), Rounding::Down).unwrap().raw();
        let supplier_before = claim(&w, &w.supplier);
        let fund_before = claim(&w, &w.insurance);
        let (mut covered, mut socialised) = (0u128, 0u128);
        for _ in 0..PLAN_CALLS {
            let Some(q) = super::plan(&w.borrower, &w.snapshot(), &policy, 0).unwrap() else { break };
            let s = w.settle(&q, &policy).unwrap();
            w.check_invariants()?;
            for e in &s.bad_debt {
                match *e {
                    BadDebtEvent::InsuranceCovered { amount, .. } => covered += amount.raw(),
                    BadDebtEvent::Socialised { amount, .. } => socialised += amount.raw(),
                    BadDebtEvent::CollateralSwept { .. } => {}
                    BadDebtEvent::ReservesCovered { .. } => prop_assert!(false, "a liquidation's bad debt spends no reserves"),
                }
            }
            if !s.bad_debt.is_empty() {
                prop_assert!(!w.borrower.has_debt(), "bad debt realised in full");
                break;
            }
        }
        prop_assert!(covered <= fund_before, "insurance paid {covered} of a {fund_before} claim");
        if socialised > 0 {
            prop_assert!(covered + 1 >= fund_before.min(covered + socialised), "insurance first");
        }
        let lost = supplier_before - claim(&w, &w.supplier);
        // The supplier holds nearly all of the pool, so it bears the loss, to a unit or two.
        prop_assert!(lost <= socialised + 2 && lost + 2 >= socialised * 99 / 100, "lost {lost}, socialised {socialised}");
    }
}

const PLAN_CALLS: usize = 500;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// A need-sized discount stays within `[discount_min, discount_max]`, never falls as the
    /// shortfall or the age grows, and its penalty is `disc · (1 + fee)` rounded up; with
    /// Euler's parameters it is the shortfall itself (to float precision) until the cap.
    #[test]
    fn need_discount_is_bounded_and_monotone(
        (min, span, slope, ramp_s, fee) in (0u128..=8, 0u128..=7, 0u128..=300, 0u64..=7_200, 0u128..=100),
        (c, d, less) in (1u128..10u128.pow(27), 1u128..10u128.pow(27), 0u128..10u128.pow(27)),
        (age, older) in (0u64..20_000, 0u64..20_000),
    ) {
        let need = Need {
            discount_min: pct(min),
            discount_max: pct(min + span),
            shortfall_slope: pct(slope),
            ramp_s,
            protocol_fee: pct(fee),
        };
        let (cv, dv) = (Value::from_raw(c), Value::from_raw(d));
        let disc = need.discount(cv, dv, age).unwrap();
        prop_assert!(disc >= need.discount_min && disc <= need.discount_max, "{}", disc);
        let deeper = need.discount(Value::from_raw(c.saturating_sub(less)), dv, age).unwrap();
        prop_assert!(deeper >= disc, "more shortfall, smaller discount: {} < {}", deeper, disc);
        let later = need.discount(cv, dv, age + older).unwrap();
        prop_assert!(later >= disc, "older, smaller discount: {} < {}", later, disc);
        let pen = need.penalty(disc).unwrap();
        let exact = disc.raw() * (100 + fee);
        prop_assert!(pen.raw() * 100 >= exact && pen.raw() * 100 < exact + 100, "pen {} disc {}", pen, disc);

        let euler = Need { discount_min: Ratio::ZERO, ..Need::euler() }.discount(cv, dv, age).unwrap();
        let shortfall = if d > c { (d - c) as f64 / d as f64 } else { 0.0 };
        prop_assert!((euler.to_f64() - shortfall.min(0.08)).abs() < 1e-12, "{} vs {}", euler, shortfall);
    }
}

mod absorb;

#[test]
fn refusals_read_as_figures_not_debug_forms() {
    let r = Refusal::NotAbsorbable {
        health_factor: Some(Ratio::from_raw(950_000_000_000_000_000)),
        age_s: 60,
    };
    let text = r.to_string();
    assert!(text.contains("health factor 0.95,"), "{text}");
    assert!(
        !text.contains("Some(") && !text.contains("Ratio("),
        "{text}"
    );
}

#[test]
fn a_call_bounded_by_the_collateral_takes_its_worthless_remainder() {
    // ALT (24 decimals) at 0.37 USD: one base unit is worth 3.7e-25 USD, under the 1e-18 USD a
    // value can hold. 1,000 ALT (370 USD) back 0.18 WETH (360 USD) of debt, HF 0.82: the
    // collateral bounds the call, and rounding its value to WETH and back leaves a few base
    // units of ALT that no later call could ever value, so this call takes them.
    let mut w = World::new(params(24, "0.75", "0.8", "1", "0.05", "0.04"));
    w.price(ALT, "0.5");
    w.supply(ALT, "1000.000001700000000000000123")
        .borrow(WETH, "0.18");
    w.price(ALT, "0.37");
    for policy in [Policy::full(), Policy::close_factor()] {
        let q = w.quote(&policy, WETH, ALT, ALL).unwrap();
        assert_eq!(q.bound, Bound::Collateral, "{}", policy.name());
        let all = w.amount(ALT, "1000.000001700000000000000123");
        assert_eq!(q.seized, all, "{}", policy.name());
    }
}

#[test]
fn under_aave_v3_the_keeper_asks_for_the_largest_call_that_leaves_no_dust() {
    // 2.5 WETH against 2,500 USDC + 300 ALT (600 USD). At WETH 1,480: collateral 3,700 USD,
    // HF 3,052.5 / 3,100 = 0.985 > 0.95, so Aave's close factor caps USDC at 1,550 USD, which
    // would leave 950 USDC: `MustNotLeaveDust`. The keeper's plan asks for the largest amount
    // that goes through instead: 1,500 USDC, leaving exactly 1,000.
    let mut w = World::new(params(8, "0.7", "0.8", "1", "0.05", "0.04"));
    w.supply(WETH, "2.5")
        .borrow(USDC, "2500")
        .borrow(ALT, "300");
    w.price(WETH, "1480");
    let policy = Policy::aave_v3();
    let refused = w.quote(&policy, USDC, WETH, ALL).unwrap_err();
    assert_eq!(
        refused,
        Refusal::Aave(crate::profile::aave_v3::Revert::MustNotLeaveDust)
    );
    let q = plan(&w.borrower, &w.snapshot(), &policy, 0)
        .unwrap()
        .unwrap();
    assert_eq!(
        (q.request.debt_asset, q.request.collateral_asset),
        (USDC, WETH)
    );
    assert_eq!(q.repaid, w.amount(USDC, "1500"));
    // One base unit more is Aave's revert again.
    let more = Request {
        max_repay: w.amount(USDC, "1500.000001"),
        ..q.request
    };
    assert!(quote(&w.borrower, &w.snapshot(), &policy, &more).is_err());
}
