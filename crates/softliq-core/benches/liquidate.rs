//! `cargo bench --bench liquidate`: quotes and settlements per second on 100,000 random
//! liquidatable accounts, per policy. Targets (issue #3, one core): ≤ 500 ns per quote,
//! ≤ 1 µs per settlement; a whole call (quote and settlement) is printed as one figure too.
//!
//! Accounts borrow stablecoins against volatile collateral through real pools, then the
//! volatile assets fall 25%; the accounts that became liquidatable are kept.

mod common;

use std::hint::black_box;
use std::time::Instant;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use softliq_core::account::Account;
use softliq_core::asset::{Asset, AssetId, AssetParams};
use softliq_core::health::{Health, RiskSnapshot};
use softliq_core::liquidation::{Parties, Policy, Quote, Request, quote, settle};
use softliq_core::money::{Amount, Price, Ratio, Rounding};
use softliq_core::pool::Pool;
use softliq_core::testing::{ratio, stable_params};

const ACCOUNTS: usize = 100_000;

/// (symbol, decimals, price, cf, lt, bw, pen, disc).
type AssetRow = (
    &'static str,
    u8,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
);

/// The first four are borrowed, the last four are collateral.
const ASSETS: [AssetRow; 8] = [
    ("USDC", 6, "1", "0.8", "0.85", "1", "0.05", "0.04"),
    ("USDT", 6, "1.0001", "0.75", "0.8", "1", "0.05", "0.04"),
    ("DAI", 18, "0.9999", "0.77", "0.82", "1", "0.05", "0.04"),
    ("FRAX", 18, "0.998", "0.7", "0.75", "1.1", "0.06", "0.05"),
    ("WETH", 18, "3000", "0.8", "0.825", "1", "0.05", "0.04"),
    ("WBTC", 8, "60000", "0.73", "0.78", "1", "0.05", "0.04"),
    ("LINK", 18, "15", "0.53", "0.68", "1.2", "0.07", "0.05"),
    ("SOL", 9, "150", "0.6", "0.7", "1.1", "0.1", "0.08"),
];

fn market() -> (Vec<Asset>, Vec<Option<Price>>) {
    let assets = ASSETS
        .iter()
        .enumerate()
        .map(|(i, &(symbol, decimals, _, cf, lt, bw, pen, disc))| {
            let params = AssetParams {
                collateral_factor: ratio(cf),
                liquidation_threshold: ratio(lt),
                borrow_weight: ratio(bw),
                liquidation_penalty: ratio(pen),
                liquidation_discount: ratio(disc),
                ..stable_params(decimals)
            };
            Asset::new(AssetId(i as u16), symbol, params).unwrap()
        })
        .collect();
    let prices = ASSETS
        .iter()
        .map(|a| Some(Price::parse("p", a.2).unwrap()))
        .collect();
    (assets, prices)
}

struct Book {
    assets: Vec<Asset>,
    pools: Vec<Pool>,
    accounts: Vec<Account>,
    snapshot: RiskSnapshot,
}

fn build() -> Book {
    let (assets, mut prices) = market();
    let mut pools = vec![Pool::new(0); 8];
    // Deep stablecoin liquidity to borrow from.
    for pool in pools.iter_mut().take(4) {
        pool.deposit(Amount::from_raw(u128::MAX >> 20), None)
            .unwrap();
    }
    let before = RiskSnapshot::of_market(&assets, &pools, &prices);
    let mut after_prices = prices.clone();
    for p in after_prices.iter_mut().skip(4) {
        *p = p.map(|p| Price::from_raw(p.raw() / 4 * 3));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let mut accounts = Vec::with_capacity(ACCOUNTS);
    while accounts.len() < ACCOUNTS {
        let mut a = Account::new();
        let mut trial = pools.clone();
        for _ in 0..rng.random_range(1..=3) {
            let c = AssetId(rng.random_range(4..8));
            let unit = before.get(c).unwrap().decimals.unit();
            let amount = Amount::from_raw(rng.random_range(unit / 10..unit * 1_000));
            a.add_supply(c, trial[c.index()].deposit(amount, None).unwrap())
                .unwrap();
        }
        let power = Health::of(&a, &before).unwrap().borrowing_power;
        let used = power
            .mul_ratio(
                Ratio::from_fraction(rng.random_range(80..=99), 100, Rounding::Down).unwrap(),
                Rounding::Down,
            )
            .unwrap();
        let debts = rng.random_range(1..=2u128);
        for k in 0..debts {
            let d = AssetId(rng.random_range(0..4));
            let r = before.get(d).unwrap();
            let v = used.div_ratio(r.borrow_weight, Rounding::Down).unwrap();
            let amount = v.to_amount(r.price, r.decimals, Rounding::Down).unwrap();
            let amount = Amount::from_raw(amount.raw() / debts + u128::from(k == 0));
            a.add_debt(d, trial[d.index()].borrow(amount, None).unwrap())
                .unwrap();
        }
        let crashed = RiskSnapshot::of_market(&assets, &trial, &after_prices);
        if Health::of(&a, &crashed).unwrap().is_liquidatable() {
            pools = trial;
            accounts.push(a);
        }
    }
    prices.clone_from(&after_prices);
    let snapshot = RiskSnapshot::of_market(&assets, &pools, &prices);
    Book {
        assets,
        pools,
        accounts,
        snapshot,
    }
}

/// The first debt and first collateral of the account, repaying as much as allowed.
fn request(a: &Account) -> Request {
    let d = a
        .positions()
        .iter()
        .find(|p| !p.debt.is_zero())
        .unwrap()
        .asset;
    let c = a
        .positions()
        .iter()
        .find(|p| !p.supply.is_zero())
        .unwrap()
        .asset;
    Request {
        debt_asset: d,
        collateral_asset: c,
        max_repay: Amount::MAX,
        liquidatable_for_s: 0,
    }
}

fn main() {
    let start = Instant::now();
    let book = build();
    let _ = &book.assets;
    println!(
        "liquidate: {ACCOUNTS} liquidatable accounts built in {:.1} s",
        start.elapsed().as_secs_f64()
    );
    // The five policies, and the aave_v3 profile on the same accounts (Aave has no borrow
    // weight: it values debts at weight 1, so its calls differ; the figure is its cost).
    for policy in Policy::all().into_iter().chain([Policy::aave_v3()]) {
        let requests: Vec<Request> = book.accounts.iter().map(request).collect();
        let t = Instant::now();
        let quotes: Vec<Result<Quote, _>> = book
            .accounts
            .iter()
            .zip(&requests)
            .map(|(a, r)| quote(black_box(a), &book.snapshot, &policy, r))
            .collect();
        let quote_ns = t.elapsed().as_nanos() as f64 / ACCOUNTS as f64;
        let ok = quotes.iter().filter(|q| q.is_ok()).count();

        let mut pools = book.pools.clone();
        let mut borrowers = book.accounts.clone();
        let (mut liquidator, mut treasury, mut insurance) =
            (Account::new(), Account::new(), Account::new());
        let t = Instant::now();
        let mut settled = 0usize;
        for (b, q) in borrowers.iter_mut().zip(&quotes) {
            let Ok(q) = q else { continue };
            let mut parties = Parties {
                borrower: b,
                liquidator: &mut liquidator,
                treasury: &mut treasury,
                insurance: &mut insurance,
            };
            settled +=
                usize::from(settle(q, &mut parties, &mut pools, &book.snapshot, &policy).is_ok());
        }
        let settle_ns = t.elapsed().as_nanos() as f64 / ok.max(1) as f64;
        println!(
            "liquidate: {:<12} {:>7.0} ns per quote ({:>9.0} quotes/s; {ok} quoted), {:>7.0} ns per settlement ({:>9.0}/s; {settled} settled), {:>7.0} ns per call (quote + settlement)",
            policy.name(),
            quote_ns,
            1e9 / quote_ns,
            settle_ns,
            1e9 / settle_ns,
            quote_ns + settle_ns
        );
    }
    println!(
        "liquidate: targets <= 500 ns per quote, <= 1000 ns per settlement (one core); load average {}",
        common::load_average()
    );
}
