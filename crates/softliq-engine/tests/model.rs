//! Model-based property test: random command sequences — deposits, withdrawals, borrows,
//! repayments, price moves including crashes, time steps and liquidations — run through the
//! engine (audit mode: every invariant of docs/engine.md after every command) and through a
//! deliberately simple reference model kept here: balances as plain integers, health in `f64`.
//!
//! Rates are zero, so indices stay at one and shares equal base units until bad debt is
//! socialised (the model then follows the engine's supply index and the one rounding rule:
//! deposits mint ⌊a/SI⌋ shares, withdrawals burn ⌈a/SI⌉). Outcomes must match whenever the
//! model's health is decisively away from a boundary (1e-9 relative); balances must match
//! exactly after every command; health factors to 1e-9.

use proptest::prelude::*;
use softliq_core::account::AccountId;
use softliq_core::asset::{AssetId, RateModel};
use softliq_core::health::Health;
use softliq_core::liquidation::{Absorb, Policy};
use softliq_core::money::muldiv::mul_div;
use softliq_core::money::{Amount, Decimals, RAY, Ratio, Rounding};
use softliq_engine::{ClientId, Code, Command, CommandBody, Engine, EngineConfig, Event};
use softliq_node::workload::params;

const ASSETS: [(&str, u8, u128, u128, u128); 3] = [
    // symbol, decimals, price (USD), cf bps, lt bps
    ("USDC", 6, 1, 8_000, 8_500),
    ("WETH", 18, 3_000, 8_000, 8_250),
    ("WBTC", 8, 60_000, 7_300, 7_800),
];
const USERS: u64 = 4;
const FIRST: u64 = 2;

#[derive(Clone, Debug)]
enum Op {
    Deposit(u64, u16, u128),
    Withdraw(u64, u16, u128),
    Borrow(u64, u16, u128),
    Repay(u64, u16, u128),
    /// Asset 1 or 2 times `factor / 100`.
    Price(u16, u32),
    /// Borrower and liquidator; the call takes the borrower's largest debt and collateral.
    Liquidate(u64, u64),
    /// Borrower and the account that asks.
    Absorb(u64, u64),
    Wait(u64),
}

fn op() -> impl Strategy<Value = Op> {
    let user = 0..USERS;
    let asset = 0..3u16;
    // Amounts in thousandths of a token.
    let milli = 1..20_000u128;
    prop_oneof![
        3 => (user.clone(), asset.clone(), milli.clone()).prop_map(|(u, a, m)| Op::Deposit(u, a, m)),
        1 => (user.clone(), asset.clone(), milli.clone()).prop_map(|(u, a, m)| Op::Withdraw(u, a, m)),
        4 => (user.clone(), asset.clone(), milli.clone()).prop_map(|(u, a, m)| Op::Borrow(u, a, m)),
        1 => (user.clone(), asset.clone(), milli.clone()).prop_map(|(u, a, m)| Op::Repay(u, a, m)),
        3 => (1..3u16, 55..150u32).prop_map(|(a, f)| Op::Price(a, f)),
        3 => (user.clone(), user.clone()).prop_map(|(b, l)| Op::Liquidate(b, l)),
        2 => (user.clone(), user).prop_map(|(b, l)| Op::Absorb(b, l)),
        1 => (1..600u64).prop_map(Op::Wait),
    ]
}

/// The reference model.
#[derive(Clone, Debug, Default)]
struct Model {
    /// [account][asset] supply and debt shares.
    supply: Vec<[u128; 3]>,
    debt: Vec<[u128; 3]>,
    cash: [u128; 3],
    /// Supply index (RAY), which only socialisation moves here.
    index: [u128; 3],
    /// Prices in USD (f64) for health; exact strings go to the engine.
    price: [f64; 3],
}

impl Model {
    fn amount(&self, a: usize, shares: u128) -> f64 {
        shares as f64 * self.index[a] as f64 / RAY as f64
    }
    fn value(&self, a: usize, base: f64) -> f64 {
        base / 10f64.powi(i32::from(ASSETS[a].1)) * self.price[a]
    }
    /// (borrowing power, liquidation collateral, debt) in USD.
    fn totals(&self, acct: usize) -> (f64, f64, f64) {
        let (mut b, mut c, mut d) = (0.0, 0.0, 0.0);
        for (a, asset) in ASSETS.iter().enumerate() {
            let v = self.value(a, self.amount(a, self.supply[acct][a]));
            b += v * asset.3 as f64 / 1e4;
            c += v * asset.4 as f64 / 1e4;
            d += self.value(a, self.debt[acct][a] as f64);
        }
        (b, c, d)
    }
}

fn decisive(x: f64, y: f64) -> bool {
    (x - y).abs() > 1e-9 * x.abs().max(y.abs()).max(1e-12)
}

struct Run {
    engine: Engine,
    model: Model,
    next: u128,
    now: u64,
    /// Liquidations and absorbs this run settled: the exercise test counts them.
    liquidations: usize,
    absorbs: usize,
}

impl Run {
    fn new() -> Self {
        let mut run = Self {
            engine: Engine::new(EngineConfig { audit: true }),
            model: Model {
                index: [RAY; 3],
                price: [1.0, 3_000.0, 60_000.0],
                ..Model::default()
            },
            next: 1,
            now: 1_700_000_000,
            liquidations: 0,
            absorbs: 0,
        };
        // Soft calls, and the protocol may absorb any liquidatable account (hf_max = 1), so
        // that random sequences reach absorbs often.
        run.must(CommandBody::SetPolicy {
            policy: Policy {
                absorb: Some(Absorb {
                    hf_max: Ratio::ONE,
                    ..Absorb::preset()
                }),
                ..Policy::soft()
            },
            liquidation_price: softliq_engine::PriceSource::Spot,
        });
        for (symbol, dec, _, cf, lt) in ASSETS {
            let mut p = params(dec, cf, lt);
            p.rate_model = RateModel {
                base: Ratio::ZERO,
                slope1: Ratio::ZERO,
                slope2: Ratio::ZERO,
                optimal_utilisation: p.rate_model.optimal_utilisation,
            };
            p.oracle.max_jump = Ratio::from_int(10).expect("ratio");
            run.must(CommandBody::ListAsset {
                symbol: symbol.into(),
                params: p,
            });
        }
        for a in 0..3u16 {
            run.post(a, ASSETS[a as usize].2 as f64);
        }
        run.model.supply = vec![[0; 3]; (FIRST + USERS) as usize];
        run.model.debt = vec![[0; 3]; (FIRST + USERS) as usize];
        for u in 0..USERS {
            run.must(CommandBody::OpenAccount {
                owner: format!("user{u}"),
            });
        }
        run
    }

    fn apply(
        &mut self,
        body: CommandBody,
    ) -> Result<softliq_engine::Events, softliq_engine::Rejection> {
        self.now += 1;
        let c = Command {
            client_id: ClientId(self.next),
            timestamp_s: self.now,
            body,
        };
        self.next += 1;
        self.engine.apply(&c)
    }

    fn must(&mut self, body: CommandBody) -> softliq_engine::Events {
        self.apply(body).expect("accepted")
    }

    fn post(&mut self, a: u16, usd: f64) {
        // Prices to 6 decimals, exact in the string and (closely) in the model.
        let micro = (usd * 1e6).round().max(1.0) as u128;
        self.model.price[a as usize] = micro as f64 / 1e6;
        let text = Amount::from_raw(micro)
            .display_tokens(Decimals::new(6).expect("6"))
            .to_string();
        let published_s = self.now + 1;
        self.must(CommandBody::PostPrice {
            asset: AssetId(a),
            price: text,
            published_s,
        });
    }

    fn text(a: u16, step: u128) -> String {
        let dec = Decimals::new(ASSETS[a as usize].1).expect("dec");
        Amount::from_raw(Self::base(a, step))
            .display_tokens(dec)
            .to_string()
    }

    /// `step` units of 1 USDC, 0.001 WETH or 0.0001 WBTC (about 0.3–6 USD each).
    fn base(a: u16, step: u128) -> u128 {
        const PER_TOKEN: [u128; 3] = [1, 1_000, 10_000];
        step * 10u128.pow(u32::from(ASSETS[a as usize].1)) / PER_TOKEN[a as usize]
    }

    fn step(&mut self, op: &Op) {
        let m = &mut self.model;
        match *op {
            Op::Deposit(u, a, milli) => {
                let (i, ai, amt) = ((FIRST + u) as usize, a as usize, Self::base(a, milli));
                self.must(CommandBody::Deposit {
                    account: AccountId(FIRST + u),
                    asset: AssetId(a),
                    amount: Self::text(a, milli),
                });
                let m = &mut self.model;
                m.supply[i][ai] += mul_div(amt, RAY, m.index[ai], Rounding::Down).expect("shares");
                m.cash[ai] += amt;
            }
            Op::Withdraw(u, a, milli) | Op::Borrow(u, a, milli) => {
                let withdraw = matches!(op, Op::Withdraw(..));
                let (i, ai, amt) = ((FIRST + u) as usize, a as usize, Self::base(a, milli));
                let mut next = m.clone();
                let feasible = if withdraw {
                    let shares = mul_div(amt, RAY, m.index[ai], Rounding::Up).expect("shares");
                    let ok =
                        amt <= m.cash[ai] && (amt as f64) <= m.amount(ai, m.supply[i][ai]) + 0.5;
                    next.supply[i][ai] = next.supply[i][ai].saturating_sub(shares);
                    ok
                } else {
                    next.debt[i][ai] += amt;
                    amt <= m.cash[ai]
                };
                next.cash[ai] = next.cash[ai].saturating_sub(amt);
                let (b, c, d) = next.totals(i);
                let healthy = d == 0.0 || (b >= d && c > d);
                let body = CommandBody::Withdraw {
                    account: AccountId(FIRST + u),
                    asset: AssetId(a),
                    amount: Self::text(a, milli),
                };
                let body = if withdraw {
                    body
                } else {
                    CommandBody::Borrow {
                        account: AccountId(FIRST + u),
                        asset: AssetId(a),
                        amount: Self::text(a, milli),
                    }
                };
                let result = self.apply(body);
                let clear = d == 0.0 || (decisive(b, d) && decisive(c, d));
                if clear {
                    assert_eq!(result.is_ok(), feasible && healthy, "{op:?}: {result:?}");
                }
                if result.is_ok() {
                    self.model = next;
                }
            }
            Op::Repay(u, a, milli) => {
                let (i, ai, amt) = ((FIRST + u) as usize, a as usize, Self::base(a, milli));
                let owed = m.debt[i][ai];
                let result = self.apply(CommandBody::Repay {
                    account: AccountId(FIRST + u),
                    asset: AssetId(a),
                    amount: Self::text(a, milli),
                });
                assert_eq!(result.is_ok(), owed > 0, "{op:?}: {result:?}");
                if owed > 0 {
                    let paid = amt.min(owed);
                    self.model.debt[i][ai] -= paid;
                    self.model.cash[ai] += paid;
                }
            }
            Op::Price(a, factor) => {
                let p = m.price[a as usize] * f64::from(factor) / 100.0;
                self.post(a, p);
            }
            Op::Wait(s) => {
                self.now += s;
                self.must(CommandBody::AdvanceTime);
                // Fresh prices (unchanged), so staleness — tested on its own — stays out.
                for a in 0..3u16 {
                    self.post(a, self.model.price[a as usize]);
                }
            }
            Op::Liquidate(b, l) => {
                let i = (FIRST + b) as usize;
                let largest = |v: &[u128; 3], m: &Model| {
                    (0..3u16)
                        .max_by(|&x, &y| {
                            let vx = m.value(x as usize, m.amount(x as usize, v[x as usize]));
                            let vy = m.value(y as usize, m.amount(y as usize, v[y as usize]));
                            vx.total_cmp(&vy)
                        })
                        .unwrap_or(0)
                };
                let d = largest(&self.model.debt[i].clone(), &self.model);
                let c = largest(&self.model.supply[i].clone(), &self.model);
                self.liquidate(b, l, d, c);
            }
            Op::Absorb(b, l) => self.absorb(b, l),
        }
    }

    fn absorb(&mut self, b: u64, l: u64) {
        let i = (FIRST + b) as usize;
        let (_, coll, debt) = self.model.totals(i);
        let result = self.apply(CommandBody::Absorb {
            absorber: AccountId(FIRST + l),
            borrower: AccountId(FIRST + b),
        });
        if debt == 0.0 || (decisive(coll, debt) && coll > debt) {
            let r = result.expect_err("healthy account absorbed");
            assert_eq!(r.code, Code::NotLiquidatable, "{r}");
            return;
        }
        if decisive(coll, debt) {
            assert!(result.is_ok(), "a liquidatable account refused: {result:?}");
        }
        let Ok(events) = result else { return };
        assert!(
            events.iter().any(|e| matches!(e, Event::Absorbed(_))),
            "{events:?}"
        );
        self.absorbs += 1;
        // Absorb moves no cash: the model's cash stays, and `compare` checks it. The borrower
        // owes nothing and keeps what the engine left it.
        let state = self.engine.state();
        for (a, pool) in state.pools.iter().enumerate() {
            self.model.index[a] = pool.supply_index().raw();
        }
        for a in 0..3 {
            let p = state.accounts[i].account.position(AssetId(a as u16));
            assert!(p.debt.is_zero(), "an absorbed account owes nothing");
            assert!(
                p.supply.raw() <= self.model.supply[i][a],
                "absorb only takes"
            );
            self.model.supply[i][a] = p.supply.raw();
            self.model.debt[i][a] = 0;
        }
    }

    fn liquidate(&mut self, b: u64, l: u64, d: u16, c: u16) {
        let i = (FIRST + b) as usize;
        let (_, coll, debt) = self.model.totals(i);
        let result = self.apply(CommandBody::Liquidate {
            liquidator: AccountId(FIRST + l),
            borrower: AccountId(FIRST + b),
            debt_asset: AssetId(d),
            collateral_asset: AssetId(c),
            max_repay: "1000000".into(),
            min_collateral_out: "0".into(),
        });
        if b == l {
            assert!(result.is_err());
            return;
        }
        if debt > 0.0 && decisive(coll, debt) && coll > debt {
            let r = result.expect_err("healthy account liquidated");
            let holds = self.model.debt[i][d as usize] > 0 && self.model.supply[i][c as usize] > 0;
            let expected = if holds {
                Code::NotLiquidatable
            } else {
                Code::LiquidationRefused
            };
            assert_eq!(r.code, expected, "{r}");
            return;
        }
        let Ok(events) = result else { return };
        for e in events.iter() {
            match e {
                Event::Liquidated(l) => {
                    let q = &l.quote;
                    self.liquidations += 1;
                    let (da, ca) = (d as usize, c as usize);
                    // Soft rule: at most 20% of the total debt value (to one base unit of `d`), unless it is dust.
                    let repaid_usd = self.model.value(da, q.repaid.raw() as f64);
                    // Soft rule: at most 20% of the total debt value (or the minimum call),
                    // unless the debt is dust or the account is past the death-spiral bound (C < D·(1 + pen),
                    // where a capped call would only lower HF).
                    let (_, c_now, _) = self.model.totals(i);
                    let lt_c = ASSETS[ca].4 as f64 / 1e4;
                    let spiral = c_now / debt <= 1.05 * lt_c * (1.0 + 1e-9);
                    if q.bound == softliq_core::liquidation::Bound::DeathSpiral {
                        assert!(spiral, "death spiral claimed at HF {}", c_now / debt);
                    }
                    // The 1,000 USD minimum call lifts a smaller cap.
                    let cap = (0.2 * debt).max(1_000.0);
                    assert!(
                        repaid_usd <= cap * (1.0 + 1e-9) + self.model.value(da, 1.0) + 1e-9
                            || debt < 10.0 + 1e-6
                            || spiral,
                        "repaid {repaid_usd} of {debt} ({:?})",
                        q.bound
                    );
                    self.model.debt[i][da] -= q.debt_shares_burned.raw();
                    self.model.cash[da] += q.repaid.raw();
                    self.model.supply[i][ca] -= q.collateral_shares_seized.raw();
                }
                Event::BadDebt { .. } => {}
                _ => {}
            }
        }
        // Collateral the seizure paid out, and any bad-debt realisation, are taken from the
        // engine for the parties other than the borrower's own debt and collateral checked
        // above; the engine's audit checks their exact split.
        let state = self.engine.state();
        for (a, pool) in state.pools.iter().enumerate() {
            self.model.index[a] = pool.supply_index().raw();
        }
        for id in [0usize, 1, i, (FIRST + l) as usize] {
            for a in 0..3 {
                let p = state.accounts[id].account.position(AssetId(a as u16));
                if id == i {
                    // Bad debt may have swept or written off the rest.
                    if events.iter().any(|e| matches!(e, Event::BadDebt { .. })) {
                        self.model.supply[id][a] = p.supply.raw();
                        self.model.debt[id][a] = p.debt.raw();
                    }
                } else {
                    self.model.supply[id][a] = p.supply.raw();
                }
            }
        }
    }

    fn compare(&mut self) {
        let views = self.engine.views().clone();
        let state = self.engine.state();
        for (id, entry) in state.accounts.iter().enumerate().skip(FIRST as usize) {
            for a in 0..3 {
                let p = entry.account.position(AssetId(a as u16));
                assert_eq!(p.supply.raw(), self.model.supply[id][a], "supply {id}/{a}");
                assert_eq!(p.debt.raw(), self.model.debt[id][a], "debt {id}/{a}");
            }
            let h = Health::of(&entry.account, &views.spot).expect("health");
            let (_, c, d) = self.model.totals(id);
            match h.health_factor() {
                None => assert!(d == 0.0),
                Some(hf) => {
                    let model = c / d;
                    // Balances round to whole base units: one unit of each asset, per side.
                    let unit: f64 = (0..3).map(|a| self.model.value(a, 1.0)).sum();
                    let tolerance = 1e-9 * model + 2.0 * unit * (1.0 + model) / d;
                    assert!(
                        (hf.to_f64() - model).abs() <= tolerance,
                        "HF {hf} vs model {model}"
                    );
                }
            }
        }
        for a in 0..3 {
            assert_eq!(state.pools[a].cash().raw(), self.model.cash[a], "cash {a}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn engine_matches_the_reference_model(ops in prop::collection::vec(op(), 60..200)) {
        let mut run = Run::new();
        for op in &ops {
            run.step(op);
            run.compare();
        }
        run.engine.audit_full().expect("full audit");
        prop_assert!(run.engine.state().halted.is_none());
    }
}

#[test]
fn the_model_run_exercises_liquidations() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let (mut settled, mut absorbed) = (0, 0);
    for _ in 0..512 {
        let ops = prop::collection::vec(op(), 60..200)
            .new_tree(&mut runner)
            .expect("tree")
            .current();
        let mut run = Run::new();
        for op in &ops {
            run.step(op);
            run.compare();
        }
        settled += run.liquidations;
        absorbed += run.absorbs;
    }
    // The runner is deterministic: 6 absorbs at the time of writing.
    eprintln!("{settled} liquidations, {absorbed} absorbs");
    assert!(absorbed >= 5, "only {absorbed} absorbs in 512 sequences");
    assert!(
        settled >= 40,
        "only {settled} liquidations in 512 sequences"
    );
}
