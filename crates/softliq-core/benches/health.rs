//! `cargo bench --bench health`: full health of 1,000,000 random accounts (1–4 collateral and
//! 1–3 debt positions over 8 assets). Prints ns per account, ns per position and resident bytes
//! per position. Targets (one core): ≤ 20 ns per position (issue #24; #2 asked for 25), ≤ 96
//! bytes per position.

mod common;

use std::hint::black_box;
use std::time::Instant;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use softliq_core::account::Account;
use softliq_core::asset::AssetId;
use softliq_core::health::{AssetRisk, Health, RiskSnapshot};
use softliq_core::money::{Decimals, Index, Price, Ratio, Shares};

const ACCOUNTS_DEFAULT: usize = 1_000_000;
const PASSES: usize = 5;

fn ratio(text: &str) -> Ratio {
    Ratio::parse("bench", text).unwrap()
}

/// Eight assets in the style of a large market: (price, decimals, cf, lt, bw).
fn snapshot() -> RiskSnapshot {
    let assets = [
        ("1", 6, "0.8", "0.85", "1"),
        ("1.0001", 6, "0.75", "0.8", "1"),
        ("3000.123456", 18, "0.8", "0.825", "1"),
        ("60000.5", 8, "0.73", "0.78", "1"),
        ("9.5", 18, "0.53", "0.68", "1.2"),
        ("0.9999", 18, "0.77", "0.82", "1"),
        ("150.25", 9, "0.6", "0.7", "1.1"),
        ("0.35", 18, "0.4", "0.5", "1.3"),
    ];
    let mut s = RiskSnapshot::new();
    for (i, (price, decimals, cf, lt, bw)) in assets.into_iter().enumerate() {
        s.set(
            AssetId(i as u16),
            AssetRisk {
                price: Price::parse("price", price).unwrap(),
                decimals: Decimals::new(decimals).unwrap(),
                collateral_factor: ratio(cf),
                liquidation_threshold: ratio(lt),
                borrow_weight: ratio(bw),
                liquidation_penalty: ratio("0.05"),
                liquidation_discount: ratio("0.04"),
                stale: false,
                supply_index: Index::parse("i", "1.031234567891234567").unwrap(),
                borrow_index: Index::parse("i", "1.072345678912345678").unwrap(),
            },
        );
    }
    s
}

fn random_accounts(s: &RiskSnapshot, n: usize) -> (Vec<Account>, usize) {
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let mut positions = 0;
    let accounts = (0..n)
        .map(|_| {
            let mut assets: Vec<u16> = (0..8).collect();
            for i in (1..assets.len()).rev() {
                assets.swap(i, rng.random_range(0..=i));
            }
            let (n_c, n_d) = (rng.random_range(1..=4usize), rng.random_range(1..=3usize));
            positions += n_c + n_d;
            let mut a = Account::new();
            for (k, &asset) in assets.iter().take(n_c + n_d).enumerate() {
                let unit = s.get(AssetId(asset)).unwrap().decimals.unit();
                let shares = Shares::from_raw(rng.random_range(unit / 100..unit * 100_000));
                if k < n_c {
                    a.add_supply(AssetId(asset), shares).unwrap();
                } else {
                    a.add_debt(AssetId(asset), shares).unwrap();
                }
            }
            a
        })
        .collect();
    (accounts, positions)
}

/// Resident set size in bytes, from /proc (Linux).
fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

fn main() {
    let accounts_n = std::env::var("SOFTLIQ_BENCH_ACCOUNTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(ACCOUNTS_DEFAULT);
    let s = snapshot();
    let rss_before = resident_bytes();
    let (accounts, positions) = random_accounts(&s, accounts_n);
    let rss_after = resident_bytes();

    let mut best_ns = f64::MAX;
    let mut liquidatable = 0usize;
    for _ in 0..PASSES {
        let start = Instant::now();
        liquidatable = 0;
        for a in &accounts {
            let h = Health::of(black_box(a), &s).expect("health");
            black_box((h.health_factor(), h.risk_level(), h.borrowing_power_left()));
            liquidatable += usize::from(h.is_liquidatable());
        }
        best_ns = best_ns.min(start.elapsed().as_nanos() as f64);
    }
    let per_account = best_ns / accounts_n as f64;
    let per_position = best_ns / positions as f64;
    println!(
        "health: {accounts_n} accounts, {positions} positions ({:.2} per account), {liquidatable} liquidatable",
        positions as f64 / accounts_n as f64
    );
    println!(
        "health: best of {PASSES} passes on one core: {:.1} ms total",
        best_ns / 1e6
    );
    println!(
        "health: {per_account:.1} ns per account, {per_position:.2} ns per position (target <= 20); load average {}",
        common::load_average()
    );
    match (rss_before, rss_after) {
        (Some(b), Some(a)) => println!(
            "health: {:.1} resident bytes per position (target <= 96; {} MiB for all accounts)",
            a.saturating_sub(b) as f64 / positions as f64,
            a.saturating_sub(b) / (1 << 20)
        ),
        _ => println!("health: resident bytes unavailable (no /proc)"),
    }
    println!(
        "health: layout: Account {} bytes + {} bytes per asset held (Position)",
        size_of::<Account>(),
        size_of::<softliq_core::account::Position>()
    );
}
