//! Perps under random command sequences: margin in and out, quotes, limit, IOC, post-only,
//! reduce-only and market orders, cancels, index moves, funding from the clock and liquidation
//! rounds (with the backstop and ADL behind them), run through the engine in audit mode (the
//! controller's full check after every perp command: value conserved, sizes net to zero, open
//! interest equal to the longs, books sound) and compared after every command with:
//! - a **full scan**: the flags perp detection keeps equal the liquidatable wallets found by
//!   valuing every wallet;
//! - a **reference model** of margin kept here, in `f64` from the wallets' raw figures (average
//!   entry basis, cumulative funding, marginal tiers written out by hand): where its verdict is
//!   decisively away from the line, it must equal the engine's flag;
//! - the rule that a liquidation is accepted exactly when the wallet was flagged, and that a
//!   refusal changes nothing.

mod common;

#[allow(unused_imports)]
use common::PriceSource as _;
use common::*;
use proptest::prelude::*;
use softliq_core::money::{Amount, Price};
use softliq_core::perp::{OrderRequest, PerpMarketId, Side, TimeInForce};

const PERP: PerpMarketId = PerpMarketId(0);
const MAKER: AccountId = AccountId(4);
const TRADERS: u64 = 4;
const FIRST_TRADER: u64 = 5;

#[derive(Clone, Debug)]
enum Op {
    Deposit(u64, u32),
    Withdraw(u64, u32),
    /// The maker quotes both sides at `bps` from the index, `milli` contracts each.
    Quote(u32, u32),
    /// Trader, buy?, bps from the index (signed), milli contracts, time in force, reduce-only.
    Limit(u64, bool, i32, u32, u8, bool),
    Market(u64, bool, u32),
    /// Trader (or the maker, `TRADERS`) cancels its `k`-th resting order.
    Cancel(u64, usize),
    /// The index times `percent / 100` (within the oracle's 10% breaker).
    Price(u32),
    Wait(u64),
    /// The admin switches the market between the test tiers and stricter ones.
    Params(bool),
    /// The `k`-th flagged wallet (or trader `k` when fewer are flagged) and the liquidator.
    Liquidate(u64, u64),
}

fn op() -> impl Strategy<Value = Op> {
    let t = 0..TRADERS;
    prop_oneof![
        2 => (t.clone(), 100..3_000u32).prop_map(|(a, u)| Op::Deposit(a, u)),
        1 => (t.clone(), 100..3_000u32).prop_map(|(a, u)| Op::Withdraw(a, u)),
        3 => (1..300u32, 1..20_000u32).prop_map(|(b, m)| Op::Quote(b, m)),
        3 => (t.clone(), any::<bool>(), -300..300i32, 1..8_000u32, 0..3u8, prop::bool::weighted(0.2))
            .prop_map(|(a, b, p, m, k, r)| Op::Limit(a, b, p, m, k, r)),
        5 => (t.clone(), any::<bool>(), 1..8_000u32).prop_map(|(a, b, m)| Op::Market(a, b, m)),
        1 => (0..=TRADERS, 0..4usize).prop_map(|(a, k)| Op::Cancel(a, k)),
        6 => (92..109u32).prop_map(Op::Price),
        1 => (1..4_000u64).prop_map(Op::Wait),
        1 => any::<bool>().prop_map(Op::Params),
        5 => (t.clone(), t).prop_map(|(a, l)| Op::Liquidate(a, l)),
    ]
}

/// The test market's parameters, or stricter ones (first tier IM 12%, MM 8%).
fn params(strict: bool) -> softliq_core::perp::PerpParams {
    let mut p = softliq_core::testing::perp_params(WETH);
    if strict {
        p.tiers[0].initial = softliq_core::money::Ratio::parse("im", "0.12").unwrap();
        p.tiers[0].maintenance = softliq_core::money::Ratio::parse("mm", "0.08").unwrap();
    }
    p
}

fn trader(i: u64) -> AccountId {
    AccountId(FIRST_TRADER + i)
}

/// What a run reached, so that the reach test can tell a run that never liquidated.
#[derive(Default, Debug)]
struct Reach {
    flagged: u32,
    recovered: u32,
    liquidated: u32,
    backstops: u32,
    /// Backstops a liquidator took in the vault's place.
    takeovers: u32,
    adl: u32,
    decisive: u32,
    fills: u32,
    updates: u32,
}

struct Run {
    m: Market,
    index: f64,
    /// Whether the market runs the stricter tiers.
    strict: bool,
    reach: Reach,
}

impl Run {
    fn new() -> Self {
        let mut m = Market::new();
        m.ok(CommandBody::OpenAccount {
            owner: "maker".into(),
        });
        for i in 0..TRADERS {
            m.ok(CommandBody::OpenAccount {
                owner: format!("trader{i}"),
            });
        }
        m.ok(CommandBody::ListPerpMarket {
            symbol: "WETH-PERP".into(),
            params: softliq_core::testing::perp_params(WETH),
        });
        m.ok(CommandBody::PerpDeposit {
            account: MAKER,
            amount: "5000000".into(),
        });
        for i in 0..TRADERS {
            m.ok(CommandBody::PerpDeposit {
                account: trader(i),
                amount: "2000".into(),
            });
        }
        Self {
            m,
            index: 3_000.0,
            strict: false,
            reach: Reach::default(),
        }
    }

    fn price_at(&self, bps: i32) -> Option<Price> {
        let p = self.index * (1.0 + f64::from(bps) / 10_000.0);
        let cents = (p * 100.0).round();
        (cents >= 1.0).then(|| Price::parse("p", &format!("{:.2}", cents / 100.0)).unwrap())
    }

    fn order(
        market_price: Option<Price>,
        buy: bool,
        milli: u32,
        tif: TimeInForce,
        reduce_only: bool,
    ) -> OrderRequest {
        OrderRequest {
            market: PERP,
            side: if buy { Side::Bid } else { Side::Ask },
            price: market_price,
            size: Amount::from_raw(u128::from(milli) * 1_000),
            tif,
            reduce_only,
        }
    }

    /// The commands `op` stands for.
    fn bodies(&self, op: &Op) -> Vec<CommandBody> {
        let place = |account, order| CommandBody::PlaceOrder { account, order };
        match *op {
            Op::Deposit(a, usd) => vec![CommandBody::PerpDeposit {
                account: trader(a),
                amount: usd.to_string(),
            }],
            Op::Withdraw(a, usd) => vec![CommandBody::PerpWithdraw {
                account: trader(a),
                amount: usd.to_string(),
            }],
            Op::Quote(bps, milli) => {
                let (Some(bid), Some(ask)) = (
                    self.price_at(-i32::try_from(bps).unwrap()),
                    self.price_at(i32::try_from(bps).unwrap()),
                ) else {
                    return Vec::new();
                };
                vec![
                    place(
                        MAKER,
                        Self::order(Some(bid), true, milli, TimeInForce::PostOnly, false),
                    ),
                    place(
                        MAKER,
                        Self::order(Some(ask), false, milli, TimeInForce::PostOnly, false),
                    ),
                ]
            }
            Op::Limit(a, buy, bps, milli, kind, reduce) => {
                let tif =
                    [TimeInForce::Gtc, TimeInForce::Ioc, TimeInForce::PostOnly][usize::from(kind)];
                self.price_at(bps).map_or_else(Vec::new, |p| {
                    vec![place(
                        trader(a),
                        Self::order(Some(p), buy, milli, tif, reduce),
                    )]
                })
            }
            Op::Market(a, buy, milli) => vec![place(
                trader(a),
                Self::order(None, buy, milli, TimeInForce::Ioc, false),
            )],
            Op::Cancel(a, k) => {
                let account = if a == TRADERS { MAKER } else { trader(a) };
                let book = &self.m.engine.state().perps.markets()[0].book;
                book.orders_of(account.0)
                    .get(k)
                    .map_or_else(Vec::new, |&order| {
                        vec![CommandBody::CancelOrder {
                            account,
                            market: PERP,
                            order,
                        }]
                    })
            }
            Op::Params(strict) => vec![CommandBody::UpdatePerpMarket {
                market: PERP,
                params: params(strict),
            }],
            Op::Price(_) | Op::Wait(_) => Vec::new(),
            Op::Liquidate(k, l) => {
                let flagged = &self.m.engine.state().perp_flagged;
                let account = flagged
                    .iter()
                    .nth(usize::try_from(k).unwrap())
                    .copied()
                    .unwrap_or_else(|| trader(k));
                vec![CommandBody::PerpLiquidate {
                    liquidator: trader(l),
                    account,
                    take_backstop: l % 2 == 0,
                }]
            }
        }
    }

    fn step(&mut self, op: &Op) {
        match *op {
            Op::Price(percent) => {
                self.index = (self.index * f64::from(percent) / 100.0).clamp(300.0, 30_000.0);
                self.m.now += 5;
                let at = self.m.now;
                let p = format!("{:.2}", self.index);
                self.apply(price(WETH, &p, at));
            }
            Op::Wait(s) => {
                self.m.now += s;
                self.apply(CommandBody::AdvanceTime);
            }
            _ => {
                for body in self.bodies(op) {
                    self.apply(body);
                }
            }
        }
    }

    /// Applies one command and checks what must hold whatever its outcome.
    fn apply(&mut self, body: CommandBody) {
        let liquidating = match &body {
            CommandBody::PerpLiquidate { account, .. } => Some(*account),
            _ => None,
        };
        let was_flagged =
            liquidating.is_some_and(|a| self.m.engine.state().perp_flagged.contains(&a));
        let before = self.m.engine.state().hash();
        let c = self.m.cmd(body);
        match self.m.engine.apply(&c) {
            Ok(events) => {
                if let CommandBody::UpdatePerpMarket { params, .. } = &c.body {
                    self.strict = params.tiers[0].maintenance.to_f64() > 0.06;
                    self.reach.updates += 1;
                }
                for e in events.iter() {
                    match e {
                        Event::PerpBecameLiquidatable { .. } => self.reach.flagged += 1,
                        Event::PerpRecovered { .. } => self.reach.recovered += 1,
                        Event::OrderPlaced(p) => {
                            self.reach.fills += u32::try_from(p.fills.len()).unwrap();
                        }
                        Event::PerpLiquidated(l) => {
                            self.reach.liquidated += 1;
                            self.reach.backstops += u32::from(l.backstop);
                            self.reach.takeovers += u32::from(l.taker == Some(l.liquidator));
                            self.reach.adl += u32::try_from(l.adl.len()).unwrap();
                        }
                        _ => {}
                    }
                }
                assert!(
                    liquidating.is_none() || was_flagged,
                    "liquidated an unflagged wallet: {:?}",
                    c.body
                );
            }
            Err(r) => {
                assert_eq!(
                    self.m.engine.state().hash(),
                    before,
                    "{r} changed the state"
                );
                assert!(
                    !matches!(
                        r.code,
                        Code::InvariantBroken | Code::Overflow | Code::Halted
                    ),
                    "{r}"
                );
                if liquidating.is_some() && was_flagged {
                    // A flagged wallet waits only for its oracle guards.
                    assert!(
                        matches!(r.code, Code::StalePrice | Code::BreakerOpen),
                        "flagged wallet refused: {r}"
                    );
                }
            }
        }
        self.compare();
    }

    /// Flags against the full scan, and against the reference model where it is decisive.
    fn compare(&mut self) {
        let engine = &self.m.engine;
        let state = engine.state();
        assert_eq!(
            state.perp_flagged,
            engine.scan_perp_liquidatable(),
            "perp flags differ from a full scan"
        );
        let perps = &state.perps;
        let Ok(snap) = perps.snapshot() else { return };
        let Ok(risk) = snap.get(PERP) else { return };
        let mark = risk.mark.to_f64();
        let funding = risk.cumulative_funding.to_f64();
        for i in 0..TRADERS {
            let id = trader(i);
            let Some(w) = perps.account(id) else { continue };
            let mut equity = w.cash.to_f64();
            let mut notional = 0.0;
            for p in w.positions() {
                let u = p.size as f64 / 1e6;
                let basis = p.basis.to_f64();
                equity += if p.size >= 0 {
                    u * mark - basis
                } else {
                    basis + u * mark
                };
                equity -= u * (funding - p.funding_index.to_f64());
                notional += u.abs() * mark;
            }
            // Marginal tiers: 5% (strict: 8%) up to 1M of notional, 10% above.
            let rate = if self.strict { 0.08 } else { 0.05 };
            let mm = rate * notional.min(1e6) + 0.1 * (notional - 1e6).max(0.0);
            let gap = equity - mm;
            if perps.is_unwinding(id) || gap.abs() <= 1e-9 * (notional + w.cash.to_f64().abs()) {
                continue;
            }
            self.reach.decisive += 1;
            let model = mm > 0.0 && gap < 0.0;
            assert_eq!(
                state.perp_flagged.contains(&id),
                model,
                "{id:?}: model gap {gap} (equity {equity}, MM {mm})"
            );
        }
    }
}

fn run(ops: &[Op]) -> Reach {
    let mut r = Run::new();
    for op in ops {
        r.step(op);
    }
    r.m.engine.audit_full().expect("full audit");
    assert!(r.m.engine.state().halted.is_none());
    // A recovered engine rebuilds the perp watch from the state and keeps detecting alike.
    let mut replay = Engine::new(EngineConfig { audit: true });
    for c in &r.m.log {
        let _ = replay.apply(c);
    }
    assert_eq!(replay.state().hash(), r.m.engine.state().hash());
    r.reach
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn perp_flags_match_a_full_scan_and_the_model(ops in prop::collection::vec(op(), 40..160)) {
        run(&ops);
    }
}

/// The sequences reach what the checks are about: flags both ways, fills, liquidation rounds,
/// the backstop, and decisive model comparisons. Its own counters, one runner, deterministic.
#[test]
fn the_perp_runs_reach_liquidations_and_the_backstop() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let mut total = Reach::default();
    for _ in 0..512 {
        let ops = prop::collection::vec(op(), 40..160)
            .new_tree(&mut runner)
            .expect("tree")
            .current();
        let r = run(&ops);
        total.flagged += r.flagged;
        total.recovered += r.recovered;
        total.liquidated += r.liquidated;
        total.backstops += r.backstops;
        total.takeovers += r.takeovers;
        total.adl += r.adl;
        total.decisive += r.decisive;
        total.fills += r.fills;
        total.updates += r.updates;
    }
    eprintln!("{total:?}");
    assert!(total.fills >= 2_000, "{total:?}");
    assert!(total.flagged >= 100 && total.recovered >= 80, "{total:?}");
    assert!(total.liquidated >= 40 && total.backstops >= 3, "{total:?}");
    assert!(total.takeovers >= 1, "{total:?}");
    assert!(total.decisive >= 50_000, "{total:?}");
    assert!(total.updates >= 100, "{total:?}");
}
