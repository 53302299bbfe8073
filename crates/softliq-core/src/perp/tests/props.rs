//! Properties over random sequences: value conserved across traders, fees, funding, insurance,
//! ADL and bad debt after every step; chunks never fill outside the tolerance; ADL never
//! touches the bankrupt's side; chunked unwinding never costs more than one hard close.
//! Each property counts the cases that reached its assertion and requires enough of them.

use proptest::prelude::*;

use super::{BTC, OneBook, contracts, risk_at, sv};
use crate::account::Account;
use crate::health::RiskSnapshot;
use crate::money::{Amount, Decimals, Price, Ratio, Rounding, SignedRatio, SignedValue, Value};
use crate::perp::*;

fn d6() -> Decimals {
    Decimals::new(6).unwrap()
}

/// Bids (or asks) stepping away from `from` by `step_bp` basis points, `each` base units per level.
fn book(side: Side, from: Price, step_bp: u32, levels: u32, each: u128) -> BookSide {
    let from = from.raw();
    BookSide::new(
        side,
        (0..levels)
            .map(|i| {
                let off = from / 10_000 * u128::from(step_bp * i);
                Level {
                    price: Price::from_raw(if side == Side::Bid {
                        from - off
                    } else {
                        from + off
                    }),
                    size: Amount::from_raw(each),
                }
            })
            .collect(),
    )
}

fn snap_at(mark: Price, cumulative: SignedValue) -> PerpSnapshot {
    let mut s = PerpSnapshot::new();
    let mut r = risk_at("1");
    r.mark = mark;
    r.index = mark;
    r.cumulative_funding = cumulative;
    s.set(BTC, r);
    s
}

#[derive(Clone, Debug)]
enum Step {
    /// Account `a` takes `size` (signed, lots) from account `b` at mark · (1 + bp/10^4).
    Trade {
        a: usize,
        b: usize,
        lots: i64,
        bp: i32,
    },
    /// The mark moves by `bp` basis points.
    Move { bp: i32 },
    /// A funding tick with premium `bp` and a settlement of account `a`.
    Fund { bp: i32, a: usize },
    /// Liquidation pass: every liquidatable account gets a round against a fresh book of
    /// `depth_lots` per level, then the backstop where its line is crossed.
    Liquidate { depth_lots: u32 },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (0..6usize, 0..6usize, -400i64..400, -50i32..50).prop_map(|(a, b, lots, bp)| Step::Trade { a, b, lots, bp }),
        3 => (-800i32..600).prop_map(|bp| Step::Move { bp }),
        1 => (-100i32..100, 0..6usize).prop_map(|(bp, a)| Step::Fund { bp, a }),
        2 => (0u32..200).prop_map(|depth_lots| Step::Liquidate { depth_lots }),
    ]
}

/// The whole market: traders, the book's maker, the backstop vault, the liquidator's fees.
struct World {
    traders: Vec<PerpAccount>,
    maker: PerpAccount,
    vault: PerpAccount,
    state: Vec<PerpMarketState>,
    liquidator: Value,
    mark: Price,
    deposits: SignedValue,
}

impl World {
    fn new(cash: &[u32]) -> Self {
        let traders: Vec<_> = cash
            .iter()
            .map(|c| PerpAccount::with_cash(sv(&c.to_string())))
            .collect();
        let maker = PerpAccount::with_cash(sv("10000000"));
        let vault = PerpAccount::with_cash(sv("10000000"));
        let deposits = traders
            .iter()
            .chain([&maker, &vault])
            .fold(SignedValue::ZERO, |s, a| s.checked_add(a.cash).unwrap());
        Self {
            traders,
            maker,
            vault,
            state: vec![PerpMarketState::default()],
            liquidator: Value::ZERO,
            mark: Price::from_int(1000).unwrap(),
            deposits,
        }
    }

    fn snap(&self) -> PerpSnapshot {
        snap_at(self.mark, self.state[0].cumulative_funding)
    }

    /// Σ quote + fees + insurance + funding pool + liquidator − bad debt; and Σ size.
    fn totals(&self) -> (SignedValue, i128) {
        let mut q = SignedValue::ZERO;
        let mut size = 0;
        for a in self.traders.iter().chain([&self.maker, &self.vault]) {
            q = q.checked_add(a.quote().unwrap()).unwrap();
            size += a.positions().iter().map(|p| p.size).sum::<i128>();
        }
        let s = &self.state[0];
        let q = q
            .plus(s.fees)
            .unwrap()
            .plus(s.insurance_fund)
            .unwrap()
            .checked_add(s.funding_pool)
            .unwrap()
            .plus(self.liquidator)
            .unwrap()
            .minus(s.bad_debt)
            .unwrap();
        (q, size)
    }

    fn settle(&mut self, i: usize) {
        let cum = self.state[0].cumulative_funding;
        let paid = self.traders[i].settle_funding(BTC, cum, d6()).unwrap();
        self.state[0].book_funding(paid).unwrap();
    }

    fn trade(&mut self, a: usize, b: usize, lots: i64, bp: i32) {
        if a == b || lots == 0 {
            return;
        }
        self.settle(a);
        self.settle(b);
        let px = SignedRatio::from_raw(i128::from(bp) * 10i128.pow(14))
            .apply_to(self.mark, Rounding::Down)
            .unwrap();
        let size = i128::from(lots) * 10_000;
        let notional = Amount::from_raw(size.unsigned_abs())
            .value_at(px, d6(), Rounding::Down)
            .unwrap();
        let fee = notional
            .mul_ratio(Ratio::from_raw(500_000_000_000_000), Rounding::Up)
            .unwrap();
        let cum = self.state[0].cumulative_funding;
        // `a` pays the taker fee; a trade that leaves either side below IM is refused (and
        // undone), as the engine will refuse it.
        let (sa, sb) = (self.traders[a].clone(), self.traders[b].clone());
        self.traders[a]
            .trade(BTC, Fill { size, notional }, fee, cum)
            .unwrap();
        self.traders[b]
            .trade(
                BTC,
                Fill {
                    size: -size,
                    notional,
                },
                Value::ZERO,
                cum,
            )
            .unwrap();
        let snap = self.snap();
        let ok = |x: &PerpAccount| {
            Margin::of(&Account::new(), x, &RiskSnapshot::new(), &snap)
                .unwrap()
                .meets_initial()
        };
        if ok(&self.traders[a]) && ok(&self.traders[b]) {
            self.state[0].fees = self.state[0].fees.checked_add(fee).unwrap();
        } else {
            self.traders[a] = sa;
            self.traders[b] = sb;
        }
    }
}

proptest! {
    // 1,024 cases unless `PROPTEST_CASES` says otherwise (CI sets 256): the bounds of the test
    // below scale with the cases that ran.
    #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

    // Not a test of its own: `conservation_reaches_rounds_backstops_and_adl` runs it and then
    // checks how many liquidation paths its assertions saw.
    fn value_is_conserved_and_sizes_net_to_zero(
        cash in proptest::collection::vec(20u32..800, 6),
        steps in proptest::collection::vec(step(), 1..60),
    ) {
        let mut w = World::new(&cash);
        let (start, _) = w.totals();
        prop_assert_eq!(start, w.deposits);
        let mut counts = [0u32; 4];
        for s in steps {
            match s {
                Step::Trade { a, b, lots, bp } => w.trade(a, b, lots, bp),
                Step::Move { bp } => {
                    w.mark = SignedRatio::from_raw(i128::from(bp) * 10i128.pow(14)).apply_to(w.mark, Rounding::Down).unwrap().max(Price::from_int(1).unwrap());
                }
                Step::Fund { bp, a } => {
                    let p = risk_at("1").params;
                    w.state[0].observe_premium(&p.mark, SignedRatio::from_raw(i128::from(bp) * 10i128.pow(14))).unwrap();
                    w.state[0].fund(&p.funding, w.mark).unwrap();
                    w.settle(a);
                }
                Step::Liquidate { depth_lots } => liquidate_all(&mut w, depth_lots, &mut counts),
            }
            let (total, size) = w.totals();
            prop_assert_eq!(total, w.deposits);
            prop_assert_eq!(size, 0);
        }
        COUNTS.with(|c| {
            let mut c = c.borrow_mut();
            for i in 0..4 { c[i] += counts[i]; }
            c[4] += 1;
        });
    }
}

thread_local! {
    // Per-thread tallies of rounds, backstops and ADL fills reached by the conservation
    // property; the test below runs it in this thread and checks them (not shared with any
    // other test: proptest runs the cases of one test on the calling thread).
    // The fifth tally counts the cases that ran to the end.
    static COUNTS: std::cell::RefCell<[u32; 5]> = const { std::cell::RefCell::new([0; 5]) };
}

#[test]
fn conservation_reaches_rounds_backstops_and_adl() {
    COUNTS.with(|c| *c.borrow_mut() = [0; 5]);
    value_is_conserved_and_sizes_net_to_zero();
    let [rounds, backstops, adl, transfers, cases] = COUNTS.with(|c| *c.borrow());
    eprintln!(
        "conservation property: {cases} cases, {rounds} rounds, {backstops} backstops, {adl} ADL fills, {transfers} transfers to target"
    );
    // Per case, over 8 local runs of 256 and 4 of 1,024: rounds 0.38–0.48, backstops 0.22–0.27,
    // ADL fills 0.13–0.20, partial backstops 0.04–0.11 (one CI run of 256: 10 = 0.039). Each
    // bound is about a quarter of the lowest rate seen, and a path never reached fails.
    assert!(cases >= 64, "cases {cases}");
    assert!(rounds >= cases / 10, "rounds {rounds} in {cases} cases");
    assert!(
        backstops >= cases / 20,
        "backstops {backstops} in {cases} cases"
    );
    assert!(adl >= cases / 32, "adl fills {adl} in {cases} cases");
    assert!(
        transfers >= cases / 100 && transfers > 0,
        "transfers {transfers} in {cases} cases"
    );
}

/// The cross exposure of a perp-only account.
fn cross(a: &PerpAccount, snap: &PerpSnapshot) -> Exposure {
    Exposure::of(Scope::Cross, &Account::new(), a, &RiskSnapshot::new(), snap).unwrap()
}

fn liquidate_all(w: &mut World, depth_lots: u32, counts: &mut [u32; 4]) {
    for i in 0..w.traders.len() {
        w.settle(i);
        let snap = w.snap();
        let exp = cross(&w.traders[i], &snap);
        if !exp.is_liquidatable() {
            continue;
        }
        let long = w.traders[i]
            .position(BTC)
            .is_some_and(PerpPosition::is_long);
        let hit = if long { Side::Bid } else { Side::Ask };
        let mut books = OneBook(book(hit, w.mark, 20, 8, u128::from(depth_lots) * 1_000));
        let round = unwind_round(
            Mode::Soft { started: false },
            Scope::Cross,
            &Account::new(),
            &mut w.traders[i],
            &RiskSnapshot::new(),
            &snap,
            &mut w.state,
            &mut books,
        )
        .unwrap();
        counts[0] += 1;
        let cum = w.state[0].cumulative_funding;
        for c in &round.chunks {
            w.maker
                .trade(
                    BTC,
                    Fill {
                        size: -c.size,
                        notional: c.notional,
                    },
                    Value::ZERO,
                    cum,
                )
                .unwrap();
            w.liquidator = w.liquidator.checked_add(c.fee_to_liquidator).unwrap();
        }
        let after = cross(&w.traders[i], &snap);
        if after.is_liquidatable() && after.below_line(risk_at("1").params.backstop_line) {
            for j in 0..w.traders.len() {
                w.settle(j);
            }
            let mut bankrupt = std::mem::take(&mut w.traders[i]);
            let out = {
                let mut cps: Vec<&mut PerpAccount> = w.traders.iter_mut().collect();
                backstop(
                    Scope::Cross,
                    &mut bankrupt,
                    Value::ZERO,
                    &snap,
                    &mut w.state,
                    &mut w.vault,
                    &mut cps,
                )
                .unwrap()
            };
            w.traders[i] = bankrupt;
            counts[1] += 1;
            counts[2] += u32::try_from(out.adl.len()).unwrap();
        } else if !round.done && depth_lots.is_multiple_of(2) {
            // The rest of the reduction the target needs goes to the vault at the mark.
            let moved = transfer_to_target(
                Scope::Cross,
                &Account::new(),
                &mut w.traders[i],
                &RiskSnapshot::new(),
                &snap,
                &mut w.state,
                &mut w.vault,
            )
            .unwrap();
            if moved.is_some() {
                let e = cross(&w.traders[i], &snap);
                assert!(
                    e.gap(risk_at("1").params.unwind_target).unwrap().raw() <= 0
                        || w.traders[i].is_flat(),
                    "a transfer reaches the target"
                );
                counts[3] += 1;
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Every chunk fills within the tolerance of the index, and levels outside it are untouched.
    #[test]
    fn chunks_never_fill_outside_the_tolerance(
        long in any::<bool>(),
        lots in 1u32..5_000,
        cash_bp in 0u32..520,
        step_bp in 1u32..80,
        levels in 1u32..30,
        each_lots in 1u32..400,
    ) {
        let mark = Price::from_int(1000).unwrap();
        let size = i128::from(lots) * 1_000 * if long { 1 } else { -1 };
        let notional = Amount::from_raw(size.unsigned_abs()).value_at(mark, d6(), Rounding::Down).unwrap();
        // Cash between 0 and 5.2% of notional: at or below the 5% MM, mostly.
        let cash = notional.mul_ratio(Ratio::from_raw(u128::from(cash_bp) * 10u128.pow(14)), Rounding::Down).unwrap();
        let mut a = PerpAccount::with_cash(SignedValue::positive(cash).unwrap());
        a.trade(BTC, Fill { size, notional }, Value::ZERO, SignedValue::ZERO).unwrap();
        let snap = snap_at(mark, SignedValue::ZERO);
        let exp = cross(&a, &snap);
        prop_assume!(exp.is_liquidatable());
        let hit = if long { Side::Bid } else { Side::Ask };
        let original = book(hit, mark, step_bp, levels, u128::from(each_lots) * 1_000);
        let mut books = OneBook(original.clone());
        let mut state = vec![PerpMarketState::default()];
        let round = unwind_round(Mode::Soft { started: false }, Scope::Cross, &Account::new(), &mut a, &RiskSnapshot::new(), &snap, &mut state, &mut books).unwrap();
        let tol = risk_at("1").params.slippage_tolerance;
        for c in &round.chunks {
            // Exact: worst · 1e18 vs index · (1e18 ∓ tol).
            let bound = crate::money::Wide::product(mark.raw(), if long { Ratio::ONE.raw() - tol.raw() } else { Ratio::ONE.raw() + tol.raw() });
            let worst = crate::money::Wide::product(c.worst_price.raw(), Ratio::ONE.raw());
            let within = if long { worst >= bound } else { worst <= bound };
            prop_assert!(within, "chunk filled at {} outside the band", c.worst_price);
        }
        let after = cross(&a, &snap);
        // No fill goes past the bankruptcy price: equity that was positive stays so (to the
        // units of the mark's rounding).
        if exp.equity.raw() >= 0 {
            prop_assert!(after.equity.raw() >= -2, "a chunk made equity {}", after.equity);
        }
        // A fee is taken only from equity the fill left positive: it never creates a deficit.

        prop_assert!(after.equity.raw() >= 0 || round.chunks.iter().all(|c| c.fee.is_zero()), "a fee made equity {}", after.equity);
        for l in original.levels() {
            if !original.within(l.price, chunk_limit(mark, tol, hit).unwrap()) {
                prop_assert!(books.0.levels().contains(l), "a level outside the limit was touched");
            }
        }
    }

    /// Rounds against a static book never cost the trader more (slippage + fees per unit
    /// closed) than one hard close of the same size through the same book, to rounding.
    #[test]
    fn chunks_cost_no_more_than_one_hard_close(
        lots in 10u32..5_000,
        cash_bp in 100u32..500,
        step_bp in 1u32..40,
        each_lots in 1u32..300,
    ) {
        let mark = Price::from_int(1000).unwrap();
        let size = i128::from(lots) * 10_000;
        let notional = Amount::from_raw(size.unsigned_abs()).value_at(mark, d6(), Rounding::Down).unwrap();
        let cash = notional.mul_ratio(Ratio::from_raw(u128::from(cash_bp) * 10u128.pow(14)), Rounding::Down).unwrap();
        let mut a = PerpAccount::with_cash(SignedValue::positive(cash).unwrap());
        a.trade(BTC, Fill { size, notional }, Value::ZERO, SignedValue::ZERO).unwrap();
        let snap = snap_at(mark, SignedValue::ZERO);
        let original = book(Side::Bid, mark, step_bp, 40, u128::from(each_lots) * 1_000);
        let mut books = OneBook(original.clone());
        let mut state = vec![PerpMarketState::default()];
        let (mut closed, mut proceeds, mut fees, mut chunks) = (0u128, Value::ZERO, Value::ZERO, 0u128);
        for _ in 0..50 {
            let Ok(round) = unwind_round(Mode::Soft { started: closed > 0 }, Scope::Cross, &Account::new(), &mut a, &RiskSnapshot::new(), &snap, &mut state, &mut books) else { break };
            for c in &round.chunks {
                closed += c.size.unsigned_abs();
                proceeds = proceeds.checked_add(c.notional).unwrap();
                fees = fees.checked_add(c.fee).unwrap();
                chunks += 1;
            }
            if round.done || round.chunks.is_empty() { break; }
        }
        prop_assume!(closed > 0);
        let mut hard_book = original.clone();
        let hard = hard_book.take(Amount::from_raw(closed), Price::ZERO, d6()).unwrap();
        prop_assert_eq!(hard.size.raw(), closed);
        let hard_fee = hard.notional.mul_ratio(risk_at("1").params.liquidation_fee, Rounding::Up).unwrap();
        // cost = what the closed size is worth at the mark − proceeds + fees.
        let at_mark = Amount::from_raw(closed).value_at(mark, d6(), Rounding::Down).unwrap();
        let soft_cost = at_mark.raw() + fees.raw() - proceeds.raw().min(at_mark.raw() + fees.raw());
        let hard_cost = at_mark.raw() + hard_fee.raw() - hard.notional.raw().min(at_mark.raw() + hard_fee.raw());
        prop_assert!(soft_cost <= hard_cost + 2 * chunks, "soft {} hard {} chunks {}", soft_cost, hard_cost, chunks);
    }

    /// ADL takes only opposite positions; same-side accounts come out unchanged.
    #[test]
    fn adl_never_touches_the_same_side(
        sides in proptest::collection::vec((any::<bool>(), 1u32..50, 500u32..1500), 1..8),
        insurance in 0u32..200,
    ) {
        // A bankrupt long: 10 contracts at 1000, cash 100, marked at 900 (−900 at the mark).
        let mut bankrupt = PerpAccount::with_cash(sv("100"));
        bankrupt.trade(BTC, super::fill("10", "1000"), Value::ZERO, SignedValue::ZERO).unwrap();
        let mut others: Vec<PerpAccount> = sides.iter().map(|&(long, n, entry)| {
            let mut a = PerpAccount::with_cash(sv("1000"));
            let q = contracts(&n.to_string()) * if long { 1 } else { -1 };
            let notional = Amount::from_raw(q.unsigned_abs()).value_at(Price::from_int(u128::from(entry)).unwrap(), d6(), Rounding::Down).unwrap();
            a.trade(BTC, Fill { size: q, notional }, Value::ZERO, SignedValue::ZERO).unwrap();
            a
        }).collect();
        let before = others.clone();
        let mut vault = PerpAccount::new();
        let mut state = vec![PerpMarketState { insurance_fund: Value::from_int(u128::from(insurance)).unwrap(), ..PerpMarketState::default() }];
        let snap = snap_at(Price::from_int(900).unwrap(), SignedValue::ZERO);
        let out = {
            let mut cps: Vec<&mut PerpAccount> = others.iter_mut().collect();
            backstop(Scope::Cross, &mut bankrupt, Value::ZERO, &snap, &mut state, &mut vault, &mut cps).unwrap()
        };
        for (i, (a, b)) in others.iter().zip(&before).enumerate() {
            if b.position(BTC).is_some_and(PerpPosition::is_long) {
                prop_assert_eq!(a, b);
                prop_assert!(out.adl.iter().all(|f| f.counterparty != i));
            }
        }
        for f in &out.adl {
            // A haircut never exceeds the profit the counterparty realised: no winner turned
            // into a loser (no fees or funding here, so its cash may only rise).
            prop_assert!(others[f.counterparty].cash >= before[f.counterparty].cash);
        }
        prop_assert_eq!(bankrupt.cash, SignedValue::ZERO, "covered or written off");
    }
}
