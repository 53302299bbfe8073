//! `cargo bench --bench perp`, two figures (targets of issue #20):
//! 1. unified margin of accounts holding one lending collateral (spot) and one perp position —
//!    the shape of Drift's margin calculation (~0.7–1.1 µs per user measured on this 2-core VM)
//!    — over 100,000 random accounts, best of five passes: ns per account (target ≤ 100 ns);
//! 2. the bundled perp crash scenario (2025-10-10) with 100,000 traders, one seed, all three
//!    mechanisms on the machine's cores: wall seconds (target ≤ 30 s).

use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use softliq_core::account::Account;
use softliq_core::asset::AssetId;
use softliq_core::health::{AssetRisk, RiskSnapshot};
use softliq_core::money::{Amount, Decimals, Index, Price, Rounding, Shares, SignedValue, Value};
use softliq_core::perp::{Fill, Margin, PerpAccount, PerpMarketId, PerpRisk, PerpSnapshot};
use softliq_core::testing::{perp_params, ratio};

const ACCOUNTS: usize = 100_000;
const PASSES: usize = 5;

fn snapshots() -> (RiskSnapshot, PerpSnapshot) {
    let mut s = RiskSnapshot::new();
    s.set(
        AssetId(0),
        AssetRisk {
            price: Price::parse("p", "3000.123456").unwrap(),
            decimals: Decimals::new(18).unwrap(),
            collateral_factor: ratio("0.8"),
            liquidation_threshold: ratio("0.825"),
            borrow_weight: ratio("1"),
            liquidation_penalty: ratio("0.05"),
            liquidation_discount: ratio("0.04"),
            stale: false,
            supply_index: Index::parse("i", "1.031234567891234567").unwrap(),
            borrow_index: Index::parse("i", "1.072345678912345678").unwrap(),
        },
    );
    let mut p = PerpSnapshot::new();
    p.set(
        PerpMarketId(0),
        PerpRisk {
            mark: Price::parse("p", "3001.5").unwrap(),
            index: Price::parse("p", "3000.123456").unwrap(),
            cumulative_funding: SignedValue::parse("f", "1.25").unwrap(),
            params: Arc::new(perp_params(AssetId(0))),
            stale: false,
        },
    );
    (s, p)
}

fn main() {
    matching();
    margin();
    // For profiling the margin figure alone.
    if std::env::var_os("SOFTLIQ_BENCH_MARGIN_ONLY").is_none() {
        scenario();
    }
}

/// Order-book matching: 100,000 resting asks over 1,000 price levels (100 orders each, 20
/// owners), swept by IOC buys of 1–300 orders' worth; then a steady state of one resting order
/// placed and one crossing order per fill. Prints ns per fill (target ≤ 200 ns).
fn matching() {
    use softliq_core::perp::{Order, OrderBook, OrderId, Side, TimeInForce};
    let mut rng = ChaCha8Rng::seed_from_u64(21);
    let mut book = OrderBook::new();
    let mut id = 0u64;
    let mut next = || {
        id += 1;
        OrderId(id)
    };
    let tick = 10u128.pow(16);
    for level in 0..1_000u128 {
        for k in 0..100u64 {
            let o = Order {
                id: next(),
                owner: k % 20,
                side: Side::Ask,
                price: Some(Price::from_raw(60_000 * 10u128.pow(18) + level * tick)),
                size: Amount::from_raw(rng.random_range(1_000u128..100_000)),
                tif: TimeInForce::Gtc,
            };
            book.place(o).unwrap();
        }
    }
    let t = Instant::now();
    let mut fills = 0usize;
    while !book.is_empty() {
        let o = Order {
            id: next(),
            owner: 99,
            side: Side::Bid,
            price: None,
            size: Amount::from_raw(rng.random_range(1_000u128..15_000_000)),
            tif: TimeInForce::Ioc,
        };
        fills += black_box(book.place(o).unwrap()).fills.len();
    }
    let sweep = t.elapsed().as_secs_f64() * 1e9 / fills as f64;
    let t = Instant::now();
    let rounds = 200_000u64;
    for i in 0..rounds {
        let price = Some(Price::from_raw(
            60_000 * 10u128.pow(18) + u128::from(i % 50) * tick,
        ));
        let maker = Order {
            id: next(),
            owner: i % 20,
            side: Side::Ask,
            price,
            size: Amount::from_raw(5_000),
            tif: TimeInForce::Gtc,
        };
        book.place(maker).unwrap();
        let taker = Order {
            id: next(),
            owner: 99,
            side: Side::Bid,
            price,
            size: Amount::from_raw(5_000),
            tif: TimeInForce::Ioc,
        };
        black_box(book.place(taker).unwrap());
    }
    let steady = t.elapsed().as_secs_f64() * 1e9 / rounds as f64;
    println!(
        "order book: {sweep:.0} ns per fill sweeping 100,000 resting orders ({fills} fills); {steady:.0} ns per place-and-fill pair in steady state; target <= 200 ns per fill"
    );
}

fn scenario() {
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../scenarios/perp-2025-10-10.toml");
    let mut s = softliq_sim::perp::PerpScenario::load(&file).unwrap();
    s.population.traders = 100_000;
    let t = Instant::now();
    let summary = softliq_sim::perp::run_all(&s, 1).unwrap();
    println!(
        "perp crash scenario {}: {} traders, {} steps, {} mechanisms x 1 seed in {:.1} s wall on {} threads; target <= 30 s",
        s.name,
        summary.traders,
        summary.steps,
        summary.mechanisms.len(),
        t.elapsed().as_secs_f64(),
        rayon::current_num_threads()
    );
}

fn margin() {
    let (risk, perps) = snapshots();
    let mut rng = ChaCha8Rng::seed_from_u64(20);
    let d6 = Decimals::new(6).unwrap();
    let accounts: Vec<(Account, PerpAccount)> = (0..ACCOUNTS)
        .map(|_| {
            let mut lending = Account::new();
            let weth = rng.random_range(10u128.pow(16)..10u128.pow(21));
            lending
                .add_supply(AssetId(0), Shares::from_raw(weth))
                .unwrap();
            let size = rng.random_range(1_000i128..100_000_000)
                * if rng.random_bool(0.5) { 1 } else { -1 };
            let entry = Price::from_int(rng.random_range(2_500u128..3_500)).unwrap();
            let notional = Amount::from_raw(size.unsigned_abs())
                .value_at(entry, d6, Rounding::Down)
                .unwrap();
            let mut perp = PerpAccount::with_cash(
                SignedValue::positive(Value::from_int(rng.random_range(0u128..50_000)).unwrap())
                    .unwrap(),
            );
            perp.trade(
                PerpMarketId(0),
                Fill { size, notional },
                Value::ZERO,
                SignedValue::ZERO,
            )
            .unwrap();
            (lending, perp)
        })
        .collect();
    let mut best = f64::MAX;
    let mut liquidatable = 0usize;
    for _ in 0..PASSES {
        let t = Instant::now();
        liquidatable = 0;
        for (lending, perp) in &accounts {
            let m = Margin::of(black_box(lending), black_box(perp), &risk, &perps).unwrap();
            liquidatable += usize::from(m.is_liquidatable());
        }
        let ns = t.elapsed().as_secs_f64() * 1e9 / ACCOUNTS as f64;
        best = best.min(ns);
    }
    let hot = &accounts[..1_000];
    let mut hot_best = f64::MAX;
    for _ in 0..PASSES {
        let t = Instant::now();
        for _ in 0..100 {
            for (lending, perp) in hot {
                black_box(Margin::of(black_box(lending), black_box(perp), &risk, &perps).unwrap());
            }
        }
        hot_best = hot_best.min(t.elapsed().as_secs_f64() * 1e9 / 100_000.0);
    }
    let mut lending_best = f64::MAX;
    for _ in 0..PASSES {
        let t = Instant::now();
        for (lending, _) in &accounts {
            black_box(softliq_core::health::Health::of(black_box(lending), &risk).unwrap());
        }
        lending_best = lending_best.min(t.elapsed().as_secs_f64() * 1e9 / ACCOUNTS as f64);
    }
    let mut perp_best = f64::MAX;
    let (_, perp_risk) = perps.iter().next().unwrap();
    for _ in 0..PASSES {
        let t = Instant::now();
        for (_, perp) in &accounts {
            black_box(
                softliq_core::perp::PositionMargin::of(black_box(&perp.positions()[0]), perp_risk)
                    .unwrap(),
            );
        }
        perp_best = perp_best.min(t.elapsed().as_secs_f64() * 1e9 / ACCOUNTS as f64);
    }
    println!("  in cache (1,000 accounts, 100 times): {hot_best:.1} ns per account");
    println!(
        "  of which: lending health alone {lending_best:.1} ns, the perp position alone {perp_best:.1} ns"
    );
    println!(
        "perp margin, 1 spot + 1 perp position: {best:.1} ns per account (best of {PASSES} passes over {ACCOUNTS} accounts; {liquidatable} liquidatable); target <= 100 ns"
    );
}
