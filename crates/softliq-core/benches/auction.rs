//! `cargo bench --bench auction`: price evaluations and takes per second over 10,000 running
//! Dutch auctions, on one core. Target (issue #7): ≤ 1 µs per take.
//!
//! 10,000 borrowers with one collateral (WETH, WBTC or SOL) against USDC at 90–99% of their
//! borrowing power; the collateral falls 25%; every account is barked. Then each curve is
//! evaluated at many elapsed times, and keepers take 5% of each lot in turn, round after
//! round, as the price falls, until every auction ends or 20 rounds pass.

use std::hint::black_box;
use std::time::Instant;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use softliq_core::account::{Account, AccountId};
use softliq_core::asset::{Asset, AssetId, AssetParams};
use softliq_core::health::{Health, RiskSnapshot};
use softliq_core::liquidation::auction::{AuctionBook, Bark, Curve, Market, Take};
use softliq_core::liquidation::{Parties, Policy, Refusal, Rule};
use softliq_core::money::{Amount, Decimals, Price, Ratio, Rounding, Value};
use softliq_core::pool::Pool;
use softliq_core::testing::{ratio, stable_params};

const AUCTIONS: usize = 10_000;
const ROUNDS: usize = 20;
const USDC: AssetId = AssetId(0);

/// (symbol, decimals, price, cf, lt).
const ASSETS: [(&str, u8, &str, &str, &str); 4] = [
    ("USDC", 6, "1", "0.8", "0.85"),
    ("WETH", 18, "3000", "0.8", "0.825"),
    ("WBTC", 8, "60000", "0.73", "0.78"),
    ("SOL", 9, "150", "0.6", "0.7"),
];

fn params(decimals: u8, cf: &str, lt: &str) -> AssetParams {
    AssetParams {
        collateral_factor: ratio(cf),
        liquidation_threshold: ratio(lt),
        ..stable_params(decimals)
    }
}

#[derive(Clone)]
struct World {
    pools: Vec<Pool>,
    snapshot: RiskSnapshot,
    borrowers: Vec<Account>,
    keeper: Account,
    treasury: Account,
    insurance: Account,
    policy: Policy,
}

fn build() -> World {
    let assets: Vec<Asset> = ASSETS
        .iter()
        .enumerate()
        .map(|(i, &(s, dec, _, cf, lt))| {
            Asset::new(AssetId(i as u16), s, params(dec, cf, lt)).unwrap()
        })
        .collect();
    let mut prices: Vec<Option<Price>> = ASSETS
        .iter()
        .map(|a| Some(Price::parse("p", a.2).unwrap()))
        .collect();
    let mut pools = vec![Pool::new(0); ASSETS.len()];
    let mut treasury = Account::new();
    let deep = Amount::from_raw(u128::MAX >> 24);
    treasury
        .add_supply(USDC, pools[0].deposit(deep, None).unwrap())
        .unwrap();
    let before = RiskSnapshot::of_market(&assets, &pools, &prices);
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut borrowers = Vec::with_capacity(AUCTIONS);
    for _ in 0..AUCTIONS {
        let c = AssetId(rng.random_range(1..4));
        let unit = before.get(c).unwrap().decimals.unit();
        let mut a = Account::new();
        let amount = Amount::from_raw(rng.random_range(unit / 10..unit * 100));
        a.add_supply(c, pools[c.index()].deposit(amount, None).unwrap())
            .unwrap();
        let power = Health::of(&a, &before).unwrap().borrowing_power;
        let used = power
            .mul_ratio(
                Ratio::from_fraction(rng.random_range(90..=99), 100, Rounding::Down).unwrap(),
                Rounding::Down,
            )
            .unwrap();
        let debt = used
            .to_amount(Price::ONE, Decimals::new(6).unwrap(), Rounding::Down)
            .unwrap();
        a.add_debt(USDC, pools[0].borrow(debt, None).unwrap())
            .unwrap();
        borrowers.push(a);
    }
    for p in prices.iter_mut().skip(1) {
        *p = p.map(|p| Price::from_raw(p.raw() / 4 * 3));
    }
    let mut policy = Policy::dutch();
    if let Rule::Dutch(d) = &mut policy.rule {
        d.hole_total = Value::from_raw(u128::MAX >> 8);
        d.chost = Value::ZERO;
        d.tail_s = 86_400;
        d.cusp = ratio("0.2");
    }
    World {
        snapshot: RiskSnapshot::of_market(&assets, &pools, &prices),
        pools,
        borrowers,
        keeper: Account::new(),
        treasury,
        insurance: Account::new(),
        policy,
    }
}

const CURVES: [(&str, Curve); 3] = [
    ("linear", Curve::Linear { tau_s: 3_600 }),
    (
        "stairstep",
        Curve::Stairstep {
            cut: Ratio::from_raw(990_000_000_000_000_000),
            step_s: 90,
        },
    ),
    (
        "exponential",
        Curve::Exponential {
            cut: Ratio::from_raw(999_500_000_000_000_000),
        },
    ),
];

/// Barks every borrower; returns the book and the mean nanoseconds per bark.
fn start_all(w: &mut World, holes: &[Option<Value>]) -> (AuctionBook, f64) {
    let mut book = AuctionBook::new();
    let m = Market {
        policy: &w.policy,
        snapshot: &w.snapshot,
        asset_holes: holes,
        now_s: 0,
    };
    let t = Instant::now();
    for (i, b) in w.borrowers.iter_mut().enumerate() {
        let c = b
            .positions()
            .iter()
            .find(|p| !p.supply.is_zero())
            .unwrap()
            .asset;
        let mut parties = Parties {
            borrower: b,
            liquidator: &mut w.keeper,
            treasury: &mut w.treasury,
            insurance: &mut w.insurance,
        };
        let req = Bark {
            borrower: AccountId(i as u64),
            debt_asset: USDC,
            collateral_asset: c,
            keeper: AccountId(u64::MAX),
        };
        book.bark(&mut parties, &w.pools, &m, &req).unwrap();
    }
    (book, t.elapsed().as_nanos() as f64 / AUCTIONS as f64)
}

/// Every auction's price at 64 elapsed times: nanoseconds per evaluation.
fn price_evaluations(book: &AuctionBook, curve: Curve) -> f64 {
    let tops: Vec<Price> = book.active().map(|a| a.top).collect();
    let t = Instant::now();
    let mut n = 0u64;
    for k in 0..64u64 {
        for top in &tops {
            black_box(curve.price(black_box(*top), k * 97).unwrap());
            n += 1;
        }
    }
    t.elapsed().as_nanos() as f64 / n as f64
}

/// Takes of 5% of each lot per round, a minute apart, the whole lot in the last round:
/// (takes, auctions ended, refusals, nanoseconds per take).
fn takes(w: &mut World, book: &mut AuctionBook, holes: &[Option<Value>]) -> (u64, usize, u64, f64) {
    let (mut n, mut ended, mut refused, mut ns) = (0u64, 0usize, 0u64, 0u128);
    for round in 0..ROUNDS {
        let m = Market {
            policy: &w.policy,
            snapshot: &w.snapshot,
            asset_holes: holes,
            now_s: 60 * (round as u64 + 1),
        };
        let requests: Vec<(usize, Take)> = book
            .active()
            .map(|a| {
                let lot = a
                    .lot_tokens(w.pools[a.collateral_asset.index()].supply_index())
                    .unwrap();
                let amount = if round + 1 == ROUNDS {
                    lot
                } else {
                    Amount::from_raw(lot.raw() / 20 + 1)
                };
                let take = Take {
                    id: a.id,
                    keeper: AccountId(u64::MAX),
                    amount,
                    max_price: Price::from_raw(u128::MAX),
                };
                (a.borrower.0 as usize, take)
            })
            .collect();
        let t = Instant::now();
        for (b, req) in &requests {
            let mut parties = Parties {
                borrower: &mut w.borrowers[*b],
                liquidator: &mut w.keeper,
                treasury: &mut w.treasury,
                insurance: &mut w.insurance,
            };
            match book.take(&mut parties, &mut w.pools, &m, req) {
                Ok(taken) => {
                    n += 1;
                    ended += usize::from(taken.finished.is_some());
                }
                Err(Refusal::LeavesLessThanChost { .. } | Refusal::TakeTooSmall) => refused += 1,
                Err(e) => panic!("take refused: {e}"),
            }
        }
        ns += t.elapsed().as_nanos();
        if book.active().next().is_none() {
            break;
        }
    }
    (n, ended, refused, ns as f64 / n as f64)
}

fn main() {
    let t = Instant::now();
    let base = build();
    println!(
        "auction: {AUCTIONS} liquidatable borrowers built in {:.2} s; one core",
        t.elapsed().as_secs_f64()
    );
    let holes = vec![None; ASSETS.len()];
    for (name, curve) in CURVES {
        let mut w = base.clone();
        if let Rule::Dutch(d) = &mut w.policy.rule {
            d.curve = curve;
        }
        let (mut book, bark_ns) = start_all(&mut w, &holes);
        let price_ns = price_evaluations(&book, curve);
        let (n, ended, refused, take_ns) = takes(&mut w, &mut book, &holes);
        println!(
            "  {name:<11} bark {bark_ns:>5.0} ns | price {price_ns:>4.0} ns ({:>5.1} M/s) | \
             take {take_ns:>4.0} ns ({:.2} M/s; {n} takes, {ended} auctions ended, {refused} refused)  target <= 1000 ns",
            1e3 / price_ns,
            1e3 / take_ns
        );
    }
}
