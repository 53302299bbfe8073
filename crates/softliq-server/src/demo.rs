//! `softliq serve --demo`: the bundled example markets, a few thousand seeded synthetic
//! borrowers, and a real crash replayed as oracle updates at an accelerated pace, so the
//! dashboard shows soft liquidations within seconds of starting.
//!
//! With `perp_traders > 0` the perp markets of `perp_demo` run beside them on the same bars.
//!
//! The replay walks the bundled crash windows (hourly Binance OHLC of ETH and BTC around
//! 2020-03-12, 2021-05-19, 2022-06-13, 2022-11-08, 2024-08-05 and 2025-10-10) one bar per
//! `bar_ms`, posting WETH and WBTC. The first window is posted at its real prices; each later
//! one is scaled so the path continues from where the last ended (the returns are real, the
//! levels chain). Borrowers are opened only on an empty data directory; on a restart the demo
//! continues with the state it finds.

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use softliq_config::Markets;
use softliq_core::asset::AssetId;
use softliq_core::liquidation::Policy;
use softliq_engine::{ClientId, CommandBody, PriceSource};

use crate::app::AppState;
use crate::error::ApiError;

/// The bundled example markets (the same file as `examples/markets.toml`).
pub const MARKETS_TOML: &str = include_str!("../../../examples/markets.toml");
/// Hourly OHLC of ETH and BTC around six crashes (see `data/prices/README.md`).
pub const CRASH_CSV: &str = include_str!("../../../data/prices/crash_windows_1h_ohlc_binance.csv");

/// How the demo runs.
#[derive(Clone, Debug)]
pub struct DemoConfig {
    pub borrowers: usize,
    pub seed: u64,
    /// Wall time per replayed hourly bar.
    pub bar: Duration,
    /// Post each bar's low instead of its close (a harsher, wick-following oracle).
    pub use_low: bool,
    /// Bars of the first window skipped on a new market, so the first crash arrives soon.
    pub first_bar: usize,
    /// Leveraged traders on the perp markets (`perp_demo`); 0: no perp markets.
    pub perp_traders: usize,
}

impl DemoConfig {
    /// The engine clock's speed for this pace: one replayed bar is one engine hour.
    #[must_use]
    pub fn clock_speed(&self) -> u64 {
        let bar_ms = u64::try_from(self.bar.as_millis())
            .unwrap_or(u64::MAX)
            .max(1);
        (3_600_000 / bar_ms).max(1)
    }
}

impl Default for DemoConfig {
    fn default() -> Self {
        Self {
            borrowers: 3_000,
            seed: 42,
            bar: Duration::from_millis(400),
            use_low: false,
            // 2020-03-12's window opens on the 9th; its fall starts on the 12th (bar 72+).
            first_bar: 60,
            perp_traders: 400,
        }
    }
}

/// One hourly bar of both assets.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bar {
    pub eth: f64,
    pub btc: f64,
}

/// The crash windows in order, each a list of bars (spot market, close or low).
///
/// # Errors
/// A malformed row of the bundled file.
pub fn crash_windows(use_low: bool) -> Result<Vec<(String, Vec<Bar>)>, String> {
    use std::collections::BTreeMap;
    // event → bar time → (ETH, BTC)
    type Bars = BTreeMap<u64, (Option<f64>, Option<f64>)>;
    let mut windows: BTreeMap<String, Bars> = BTreeMap::new();
    for (i, line) in CRASH_CSV.lines().enumerate().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        if f.len() != 8 {
            return Err(format!("crash csv line {}: expected 8 fields", i + 1));
        }
        if f[2] != "spot" {
            continue;
        }
        let ts: u64 = f[3]
            .parse()
            .map_err(|_| format!("crash csv line {}: timestamp", i + 1))?;
        let price: f64 = f[if use_low { 6 } else { 7 }]
            .parse()
            .map_err(|_| format!("crash csv line {}: price", i + 1))?;
        let slot = windows
            .entry(f[0].to_owned())
            .or_default()
            .entry(ts)
            .or_default();
        match f[1] {
            "eth_usdt" => slot.0 = Some(price),
            "btc_usdt" => slot.1 = Some(price),
            _ => {}
        }
    }
    Ok(windows
        .into_iter()
        .map(|(event, bars)| {
            let bars = bars
                .into_values()
                .filter_map(|(e, b)| Some(Bar { eth: e?, btc: b? }))
                .collect();
            (event, bars)
        })
        .collect())
}

/// Formats a feed price with six decimals (the feed is external data, not ledger math).
fn price_text(p: f64) -> String {
    format!("{p:.6}")
}

/// A command body with the idempotency key it is submitted under.
type Keyed = (String, CommandBody);

async fn submit_all(
    state: &Arc<AppState>,
    bodies: Vec<Keyed>,
) -> Result<Vec<serde_json::Value>, ApiError> {
    let mut out = Vec::with_capacity(bodies.len());
    let mut bodies = bodies.into_iter().peekable();
    while bodies.peek().is_some() {
        let chunk: Vec<_> = bodies.by_ref().take(512).collect();
        let acks = join_all(
            chunk
                .into_iter()
                .map(|(key, body)| state.submit(ClientId::from_key(&key), body)),
        )
        .await;
        for ack in acks {
            out.push(serde_json::to_value(ack?.events).unwrap_or_default());
        }
    }
    Ok(out)
}

/// Lists the markets, posts the first prices, and opens the lender and the borrowers.
///
/// # Errors
/// A command refused (a bug in the demo's numbers) or a stopped engine.
pub async fn seed(state: &Arc<AppState>, config: &DemoConfig, first: Bar) -> Result<(), String> {
    let markets = Markets::parse(std::path::Path::new("examples/markets.toml"), MARKETS_TOML)
        .map_err(|e| e.to_string())?;
    let e = |e: ApiError| format!("demo: {}: {}", e.field, e.message);
    let mut setup = Vec::new();
    for a in &markets.assets {
        setup.push((
            format!("demo-list-{}", a.symbol),
            CommandBody::ListAsset {
                symbol: a.symbol.clone(),
                params: a.params().clone(),
            },
        ));
    }
    setup.push((
        "demo-policy".into(),
        CommandBody::SetPolicy {
            // Soft calls, and the protocol absorbs what no keeper takes (small, deep or an
            // hour neglected), so no account sits underwater for ever.
            policy: Policy {
                absorb: Some(softliq_core::liquidation::Absorb::preset()),
                ..Policy::soft()
            },
            liquidation_price: PriceSource::Spot,
        },
    ));
    submit_all(state, setup).await.map_err(e)?;
    post_prices(state, first).await.map_err(e)?;
    let owners = std::iter::once("demo-lender".to_owned())
        .chain((0..config.borrowers).map(|i| format!("demo-borrower-{i}")));
    let opened = submit_all(
        state,
        owners
            .map(|o| {
                (
                    format!("demo-open-{o}"),
                    CommandBody::OpenAccount { owner: o },
                )
            })
            .collect(),
    )
    .await
    .map_err(e)?;
    let ids: Vec<u64> = opened
        .iter()
        .filter_map(|ev| ev[0]["account_opened"]["account"].as_u64())
        .collect();
    let (lender, borrowers) = ids.split_first().ok_or("demo: no accounts opened")?;
    let mut deposits = vec![];
    for (asset, amount) in [(0u16, "500000000"), (1, "500000000"), (5, "100000000")] {
        deposits.push((
            format!("demo-lend-{asset}"),
            CommandBody::Deposit {
                account: softliq_core::account::AccountId(*lender),
                asset: AssetId(asset),
                amount: amount.into(),
            },
        ));
    }
    deposits.push((
        "demo-insurance".into(),
        CommandBody::FundInsurance {
            asset: AssetId(0),
            amount: "250000".into(),
        },
    ));
    let (borrows, collateral) = borrower_commands(config, borrowers, first);
    deposits.extend(collateral);
    submit_all(state, deposits).await.map_err(e)?;
    submit_all(state, borrows).await.map_err(e)?;
    Ok(())
}

/// Each borrower: collateral in WETH, WBTC or both worth 2,000–200,000 USD (log-uniform),
/// borrowing USDC or USDT to a health factor between 1.08 and 2.5.
fn borrower_commands(config: &DemoConfig, ids: &[u64], first: Bar) -> (Vec<Keyed>, Vec<Keyed>) {
    use softliq_core::account::AccountId;
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    let (mut borrows, mut deposits) = (Vec::new(), Vec::new());
    for &id in ids {
        let value = 2_000f64 * 100f64.powf(rng.random::<f64>());
        let eth_share = match rng.random_range(0..3u8) {
            0 => 1.0,
            1 => 0.0,
            _ => rng.random::<f64>(),
        };
        let hf = 1.08 + 1.42 * rng.random::<f64>().powi(2);
        // Liquidation thresholds: WETH 0.825, WBTC 0.78.
        let lc = value * (eth_share * 0.825 + (1.0 - eth_share) * 0.78);
        let debt = lc / hf;
        let debt_asset = rng.random_range(0..2u16);
        for (asset, share, price, places) in [
            (2u16, eth_share, first.eth, 6),
            (3, 1.0 - eth_share, first.btc, 8),
        ] {
            if share > 0.0 {
                deposits.push((
                    format!("demo-collateral-{id}-{asset}"),
                    CommandBody::Deposit {
                        account: AccountId(id),
                        asset: AssetId(asset),
                        amount: format!("{:.*}", places, value * share / price),
                    },
                ));
            }
        }
        borrows.push((
            format!("demo-borrow-{id}"),
            CommandBody::Borrow {
                account: AccountId(id),
                asset: AssetId(debt_asset),
                amount: format!("{debt:.2}"),
            },
        ));
    }
    (borrows, deposits)
}

/// Posts WETH and WBTC at `bar`, and the assets the demo holds flat (stablecoins at 1, LINK
/// at 9.5) so that no price goes stale.
async fn post_prices(state: &Arc<AppState>, bar: Bar) -> Result<(), ApiError> {
    let prices = [
        (2u16, price_text(bar.eth)),
        (3, price_text(bar.btc)),
        (0, "1".to_owned()),
        (1, "1".to_owned()),
        (4, "9.5".to_owned()),
        (5, "1".to_owned()),
    ];
    for (asset, price) in prices {
        state
            .submit_at(ClientId(rand::random()), move |now_s| {
                CommandBody::PostPrice {
                    asset: AssetId(asset),
                    price,
                    published_s: now_s,
                }
            })
            .await?;
    }
    Ok(())
}

/// Seeds an empty market, then replays the crash windows for ever.
///
/// # Errors
/// Seeding failed, or the engine stopped.
pub async fn run(state: Arc<AppState>, config: DemoConfig) -> Result<(), String> {
    let windows = crash_windows(config.use_low)?;
    let first = windows
        .first()
        .and_then(|(_, bars)| bars.get(config.first_bar))
        .copied()
        .ok_or("demo: no crash data")?;
    let listed = state
        .read(|e| e.state().assets.len())
        .await
        .map_err(|e| e.message)?;
    // The level the replay continues from: the first bar on a new market, else the last price.
    let mut level = first;
    let mut skip = 0;
    if listed == 0 {
        skip = config.first_bar;
        seed(&state, &config, first).await?;
        tracing::info!(borrowers = config.borrowers, "demo: market seeded");
    } else {
        let last = state
            .read(|e| {
                let o = &e.state().oracles;
                (
                    o.get(2).and_then(|o| o.price),
                    o.get(3).and_then(|o| o.price),
                )
            })
            .await
            .map_err(|e| e.message)?;
        if let (Some(eth), Some(btc)) = last {
            level = Bar {
                eth: eth.to_f64(),
                btc: btc.to_f64(),
            };
        }
    }
    let mut perps = if config.perp_traders > 0 {
        Some(crate::perp_demo::PerpDemo::start(&state, config.perp_traders, config.seed).await?)
    } else {
        None
    };
    let mut first_bar = true;
    state.set_clock_speed(config.clock_speed());
    loop {
        for (event, bars) in &windows {
            tracing::info!(%event, "demo: replaying crash window");
            let Some(start) = bars.get(skip) else {
                continue;
            };
            let (se, sb) = (level.eth / start.eth, level.btc / start.btc);
            for bar in &bars[std::mem::take(&mut skip)..] {
                // Wait first: each bar is one engine hour after the previous prices.
                tokio::time::sleep(config.bar).await;
                let scaled = Bar {
                    eth: bar.eth * se,
                    btc: bar.btc * sb,
                };
                if let Some(p) = perps.as_mut() {
                    p.requote(&state, scaled).await.map_err(|e| e.message)?;
                }
                if let Err(e) = post_prices(&state, scaled).await {
                    tracing::warn!(field = %e.field, message = %e.message, "demo: price refused");
                    if e.status.is_server_error() {
                        return Err(e.message);
                    }
                }
                if let Some(p) = perps.as_mut() {
                    p.after_prices(&state, scaled, std::mem::take(&mut first_bar))
                        .await
                        .map_err(|e| e.message)?;
                }
                level = scaled;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_windows_hold_the_six_crashes_with_real_lows() {
        let w = crash_windows(true).unwrap();
        let names: Vec<&str> = w.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "2020-03-12",
                "2021-05-19",
                "2022-06-13",
                "2022-11-08",
                "2024-08-05",
                "2025-10-10"
            ]
        );
        assert!(w.iter().all(|(_, bars)| bars.len() == 168));
        // The data README's check: ETH's lowest hourly low around 2020-03-13 was 86.00.
        let low = w[0].1.iter().map(|b| b.eth).fold(f64::INFINITY, f64::min);
        assert!((low - 86.0).abs() < 1e-9, "{low}");
    }

    #[test]
    fn borrowers_are_deterministic_and_within_bounds() {
        let c = DemoConfig::default();
        let ids: Vec<u64> = (2..202).collect();
        let bar = Bar {
            eth: 200.0,
            btc: 8000.0,
        };
        let a = borrower_commands(&c, &ids, bar);
        let b = borrower_commands(&c, &ids, bar);
        assert_eq!(a, b);
        assert_eq!(a.0.len(), 200);
        assert!(a.1.len() >= 200);
    }
}
