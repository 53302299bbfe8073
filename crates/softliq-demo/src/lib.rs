//! `softliq serve --demo`: the bundled example markets, a few thousand seeded synthetic
//! borrowers, and a real crash replayed as oracle updates at an accelerated pace, so the
//! dashboard shows soft liquidations within seconds of starting.
//!
//! With `perp_traders > 0` the perp markets of [`perp`] run beside them on the same bars.
//!
//! The replay ([`replay`]) walks the bundled crash windows (hourly Binance OHLC of ETH and BTC
//! around 2020-03-12, 2021-05-19, 2022-06-13, 2022-11-08, 2024-08-05 and 2025-10-10) one bar
//! per `bar_ms`, posting WETH and WBTC a dozen times a bar (walking open, extremes, close). Every window
//! opens at the same base level and the price walks back to it between windows, so the demo
//! runs for hours at real returns and real levels. While it walks back, borrowers whose health
//! drifted above their target loop back to it (borrow stablecoin, buy collateral), as
//! leveraged borrowers do after a recovery, so every crash finds debt to liquidate. Borrowers are opened only on an empty data
//! directory; on a restart the demo walks back from the prices it finds.

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use softliq_config::Markets;
use softliq_core::asset::AssetId;
use softliq_core::liquidation::Policy;
use softliq_engine::event::Event;
use softliq_engine::{ClientId, CommandBody, PriceSource};
use softliq_sim::population::plans;
use softliq_sim::scenario::PopulationSpec;

use softliq_server::app::AppState;
use softliq_server::error::ApiError;

pub mod perp;
pub mod replay;

pub use replay::Bar;

/// The bundled example markets (the same file as `examples/markets.toml`).
pub const MARKETS_TOML: &str = include_str!("../../../examples/markets.toml");
/// Hourly OHLC of ETH and BTC around six crashes (see `data/prices/README.md`).
pub const CRASH_CSV: &str = include_str!("../../../data/prices/crash_windows_1h_ohlc_binance.csv");

/// The bundled markets' assets, by listing order (a test checks them against the file).
pub(crate) const USDC: AssetId = AssetId(0);
pub(crate) const USDT: AssetId = AssetId(1);
pub(crate) const WETH: AssetId = AssetId(2);
pub(crate) const WBTC: AssetId = AssetId(3);
pub(crate) const LINK: AssetId = AssetId(4);
pub(crate) const DAI: AssetId = AssetId(5);

/// How the demo runs.
#[derive(Clone, Debug)]
pub struct DemoConfig {
    pub borrowers: usize,
    pub seed: u64,
    /// Wall time per replayed hourly bar.
    pub bar: Duration,
    /// Bars of the first window skipped (its quiet days), so the first crash arrives soon.
    pub first_bar: usize,
    /// Leveraged traders on the perp markets ([`perp`]); 0: no perp markets.
    pub perp_traders: usize,
    /// Stop after this many passes over all windows (`None`: run until stopped).
    pub cycles: Option<u64>,
    /// Prices per leg of a bar's walk (open → extreme → extreme → close): three legs, so 4
    /// posts 12 prices an hour.
    pub steps_per_leg: usize,
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
            // 2020-03-12's window opens on the 9th; its fall starts on the 12th (bar 72+).
            first_bar: 60,
            perp_traders: 400,
            cycles: None,
            steps_per_leg: 4,
        }
    }
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
) -> Result<Vec<Vec<Event>>, ApiError> {
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
            out.push(ack?.events.iter().cloned().collect());
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
    post_prices(state, first, true).await.map_err(e)?;
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
        .filter_map(|events| {
            events.iter().find_map(|e| match e {
                Event::AccountOpened { account, .. } => Some(account.0),
                _ => None,
            })
        })
        .collect();
    let (lender, borrowers) = ids.split_first().ok_or("demo: no accounts opened")?;
    let mut deposits = vec![];
    for (asset, amount) in [(USDC, "500000000"), (USDT, "500000000"), (DAI, "100000000")] {
        deposits.push((
            format!("demo-lend-{}", asset.0),
            CommandBody::Deposit {
                account: softliq_core::account::AccountId(*lender),
                asset,
                amount: amount.into(),
            },
        ));
    }
    deposits.push((
        "demo-insurance".into(),
        CommandBody::FundInsurance {
            asset: USDC,
            amount: "250000".into(),
        },
    ));
    let (borrows, collateral) = borrower_commands(config, &markets, borrowers, first)?;
    deposits.extend(collateral);
    submit_all(state, deposits).await.map_err(e)?;
    submit_all(state, borrows).await.map_err(e)?;
    Ok(())
}

/// The demo's borrowers, drawn as the simulator draws a population (`softliq_sim::population`:
/// Pareto sizes, a collateral mix by weight with some holding two, a log-normal starting HF
/// raised to the borrowing limit where needed, the debt sized from each asset's own liquidation
/// threshold); half borrow USDC, half USDT.
const POPULATION_TOML: &str = r#"
borrowers = 0
debt = "USDC"
collateral = { WETH = 0.6, WBTC = 0.4 }
two_collateral_share = 0.33
start_hf = { min = 1.08, median = 1.45, sigma = 0.45 }
size = { min_usd = 2000.0, alpha = 1.1, max_usd = 200000.0 }
"#;

/// Each borrower's collateral deposits and borrow, from the population of `config.seed`.
///
/// # Errors
/// The bundled population does not fit the bundled markets (a bug).
fn borrower_commands(
    config: &DemoConfig,
    markets: &Markets,
    ids: &[u64],
    first: Bar,
) -> Result<(Vec<Keyed>, Vec<Keyed>), String> {
    use softliq_core::account::AccountId;
    let mut spec: PopulationSpec =
        toml::from_str(POPULATION_TOML).map_err(|e| format!("demo population: {e}"))?;
    let price = |a: AssetId| match a {
        WETH => first.eth,
        WBTC => first.btc,
        _ => 1.0,
    };
    let (mut borrows, mut deposits) = (Vec::new(), Vec::new());
    let half = ids.len().div_ceil(2);
    for (k, (debt_symbol, ids)) in [("USDC", &ids[..half]), ("USDT", &ids[half..])]
        .into_iter()
        .enumerate()
    {
        spec.debt = debt_symbol.to_owned();
        spec.borrowers = u32::try_from(ids.len()).map_err(|e| e.to_string())?;
        let seed = config.seed.wrapping_add(k as u64);
        let (debt, plans) = plans(&spec, markets, seed).map_err(|e| e.to_string())?;
        for (&id, plan) in ids.iter().zip(plans) {
            for &(asset, usd) in &plan.holdings {
                let places = markets.asset(asset).params().decimals.get().min(8);
                deposits.push((
                    format!("demo-collateral-{id}-{}", asset.0),
                    CommandBody::Deposit {
                        account: AccountId(id),
                        asset,
                        amount: format!("{:.*}", usize::from(places), usd / price(asset)),
                    },
                ));
            }
            borrows.push((
                format!("demo-borrow-{id}"),
                CommandBody::Borrow {
                    account: AccountId(id),
                    asset: debt,
                    amount: format!("{:.2}", plan.debt_usd / price(debt)),
                },
            ));
        }
    }
    Ok((borrows, deposits))
}

/// Posts WETH and WBTC at `bar` and, with `flat`, the assets the demo holds flat
/// (stablecoins at 1, LINK at 9.5) so that no price goes stale. The posts go together (one
/// durable write); the first refusal is returned.
async fn post_prices(state: &Arc<AppState>, bar: Bar, flat: bool) -> Result<(), ApiError> {
    let mut prices = vec![(WETH, price_text(bar.eth)), (WBTC, price_text(bar.btc))];
    if flat {
        prices.extend([
            (USDC, "1".to_owned()),
            (USDT, "1".to_owned()),
            (LINK, "9.5".to_owned()),
            (DAI, "1".to_owned()),
        ]);
    }
    let posts = prices.into_iter().map(|(asset, price)| {
        state.submit_at(ClientId(rand::random()), move |now_s| {
            CommandBody::PostPrice {
                asset,
                price,
                published_s: now_s,
            }
        })
    });
    for ack in join_all(posts).await {
        ack?;
    }
    Ok(())
}

/// Seeds an empty market, then replays the crash windows (for ever, or `cycles` passes).
/// Returns the log's head when each cycle began.
///
/// # Errors
/// Seeding failed, or the engine stopped.
pub async fn run(state: Arc<AppState>, config: DemoConfig) -> Result<Vec<u64>, String> {
    let mut replay = replay::Replay::new(
        replay::crash_windows()?,
        config.first_bar,
        config.steps_per_leg,
    )?;
    let base = replay.base();
    let listed = state
        .read(|e| e.state().assets.len())
        .await
        .map_err(|e| e.message)?;
    if listed == 0 {
        seed(&state, &config, base).await?;
        tracing::info!(borrowers = config.borrowers, "demo: market seeded");
    } else if let Some(last) = last_prices(&state).await? {
        replay = replay.resumed_from(last);
    }
    let mut perps = if config.perp_traders > 0 {
        Some(perp::PerpDemo::start(&state, config.perp_traders, config.seed).await?)
    } else {
        None
    };
    let mut relever = Relever::new(&state, config.seed).await?;
    let mut first_bar = true;
    let mut phase = None;
    state.set_clock_speed(config.clock_speed());
    let step = config.bar / u32::try_from(replay.steps_per_bar()).unwrap_or(1);
    let mut starts = Vec::new();
    for tick in replay {
        if config.cycles.is_some_and(|n| tick.cycle >= n) {
            break;
        }
        if starts.len() <= usize::try_from(tick.cycle).unwrap_or(usize::MAX) {
            starts.push(state.hub.head());
        }
        if phase != Some(tick.phase) {
            tracing::info!(phase = ?tick.phase, cycle = tick.cycle, "demo: replaying");
            phase = Some(tick.phase);
        }
        // Wait first: each step is its share of an engine hour after the previous prices.
        tokio::time::sleep(step).await;
        if let Some(p) = perps.as_mut() {
            p.requote(&state, tick.prices)
                .await
                .map_err(|e| e.message)?;
        }
        if let Err(e) = post_prices(&state, tick.prices, tick.closes_bar).await {
            tracing::warn!(field = %e.field, message = %e.message, "demo: price refused");
            if e.status.is_server_error() {
                return Err(e.message);
            }
        }
        if !tick.closes_bar {
            continue;
        }
        if let Some(p) = perps.as_mut() {
            p.after_prices(&state, tick.prices, std::mem::take(&mut first_bar))
                .await
                .map_err(|e| e.message)?;
        }
        if tick.phase == replay::Phase::Recovery {
            relever
                .bar(&state, tick.prices)
                .await
                .map_err(|e| e.message)?;
        }
    }
    Ok(starts)
}

/// WETH's and WBTC's last prices, if both are set.
async fn last_prices(state: &Arc<AppState>) -> Result<Option<Bar>, String> {
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
    Ok(match last {
        (Some(eth), Some(btc)) => Some(Bar {
            eth: eth.to_f64(),
            btc: btc.to_f64(),
        }),
        _ => None,
    })
}

/// A borrower borrows again once its health is this many times its target.
const RELEVER_DRIFT: f64 = 1.1;

/// Borrowers borrowing again during a walk back to the base, a slice of them per bar so that
/// each is considered once per walk.
struct Relever {
    borrowers: Vec<softliq_core::account::AccountId>,
    /// Each borrower's target health, drawn like the seeded ones (1.08–2.5, denser low).
    targets: Vec<f64>,
    next: usize,
}

impl Relever {
    async fn new(state: &Arc<AppState>, seed: u64) -> Result<Self, String> {
        let borrowers = perp::owned(state, "demo-borrower-")
            .await
            .map_err(|e| e.message)?;
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5245_4c45_5645_5221);
        let targets = borrowers
            .iter()
            .map(|_| 1.08 + 1.42 * rng.random::<f64>().powi(2))
            .collect();
        Ok(Self {
            borrowers,
            targets,
            next: 0,
        })
    }

    /// One recovery bar at `prices`: the next slice of borrowers; those whose health drifted
    /// to [`RELEVER_DRIFT`] times their target (or with collateral and no debt) loop back to
    /// it: they borrow `x` USD of their stablecoin and buy `x` of their collateral with it
    /// (deposited here at the bar's price), so that
    /// `(C + x·lt) / (D + x) = target`, i.e. `x = (C − target·D) / (target − lt)`.
    /// Refusals (a cap, a breaker) are logged and skipped.
    async fn bar(&mut self, state: &Arc<AppState>, prices: Bar) -> Result<(), ApiError> {
        use softliq_core::health::Health;
        let n = self.borrowers.len();
        if n == 0 {
            return Ok(());
        }
        let per_bar = n.div_ceil(replay::RECOVERY_BARS);
        let slice: Vec<_> = (0..per_bar.min(n))
            .map(|k| {
                let i = (self.next + k) % n;
                (self.borrowers[i], self.targets[i])
            })
            .collect();
        self.next = (self.next + per_bar) % n;
        let room = state
            .read(move |e| {
                let (state, views) = e.state_and_views();
                slice
                    .iter()
                    .filter_map(|&(id, hf)| {
                        let account = &state.account(id)?.account;
                        let h = Health::of(account, &views.spot).ok()?;
                        let (c, d) = (h.liquidation_collateral.to_f64(), h.weighted_debt.to_f64());
                        let asset = account
                            .positions()
                            .iter()
                            .find(|p| p.asset == WETH && !p.supply.is_zero())
                            .map_or(WBTC, |p| p.asset);
                        let lt = state.asset(asset)?.params().liquidation_threshold.to_f64();
                        (c > 0.0 && c > RELEVER_DRIFT * hf * d)
                            .then(|| (id, asset, (c - hf * d) / (hf - lt)))
                    })
                    .collect::<Vec<_>>()
            })
            .await?;
        for (id, asset, usd) in room {
            if usd < 10.0 {
                continue;
            }
            let (price, places) = if asset == WETH {
                (prices.eth, 6)
            } else {
                (prices.btc, 8)
            };
            let bought = CommandBody::Deposit {
                account: id,
                asset,
                amount: format!("{:.*}", places, usd / price),
            };
            let borrowed = CommandBody::Borrow {
                account: id,
                asset: if id.0 % 2 == 0 { USDC } else { USDT },
                amount: format!("{usd:.2}"),
            };
            for body in [bought, borrowed] {
                match state.submit(ClientId(rand::random()), body).await {
                    Ok(_) => {}
                    Err(e) if e.status.is_server_error() => return Err(e),
                    Err(e) => {
                        tracing::debug!(field = %e.field, message = %e.message, "demo: loop refused");
                        break;
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn markets() -> Markets {
        Markets::parse(std::path::Path::new("markets.toml"), MARKETS_TOML).expect("bundled")
    }

    #[test]
    fn bundled_ids_match_the_markets_file() {
        let m = markets();
        for (id, symbol) in [
            (USDC, "USDC"),
            (USDT, "USDT"),
            (WETH, "WETH"),
            (WBTC, "WBTC"),
            (LINK, "LINK"),
            (DAI, "DAI"),
        ] {
            assert_eq!(m.id(symbol), Some(id), "{symbol}");
        }
    }

    #[test]
    fn borrowers_are_deterministic_and_within_bounds() {
        let c = DemoConfig::default();
        let ids: Vec<u64> = (2..202).collect();
        let bar = Bar {
            eth: 200.0,
            btc: 8000.0,
        };
        let m = markets();
        let a = borrower_commands(&c, &m, &ids, bar).unwrap();
        let b = borrower_commands(&c, &m, &ids, bar).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.0.len(), 200);
        assert!(a.1.len() >= 200);
        let usdt =
            a.0.iter()
                .filter(|(_, b)| matches!(b, CommandBody::Borrow { asset, .. } if *asset == USDT))
                .count();
        assert_eq!(usdt, 100, "half borrow USDT");
    }
}
