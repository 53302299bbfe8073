//! The demo's perpetual markets: BTC-PERP on WBTC's oracle and ETH-PERP on WETH's, beside the
//! lending markets, replaying the same crash bars.
//!
//! - Each market lists with 500,000 USD in its insurance fund.
//! - One **market maker** (`demo-maker`, 50M USD of margin) quotes a ladder of post-only
//!   orders on each side of each book, 5 to 160 bp from the coming index, refreshed every bar
//!   before the price is posted (so its quotes are never left stale across a move).
//! - **Leveraged traders** (`demo-trader-N`, seed-driven): margin 1,000–50,000 USD (log-uniform),
//!   leverage 3–20x (denser low), 60% long, each on one market. All enter on the first bar;
//!   every bar a few flat traders re-enter, so the population refills after liquidations.
//! - Every bar advances the engine clock (one engine hour: a funding tick on each market).
//!
//! Liquidation steps are the keeper's (`serve --demo` always runs it): it reads the perp queue
//! and sends one step per flagged wallet; soft unwinding sends chunks into the maker's bids,
//! and a wallet past its backstop line goes to the vault, with insurance and (rarely) ADL.

use std::sync::Arc;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use softliq_core::account::AccountId;
use softliq_core::asset::AssetId;
use softliq_core::money::{Amount, Decimals, Price, Ratio, Value};
use softliq_core::perp::{
    FundingParams, MarginTier, MarkParams, OrderRequest, PerpMarketId, PerpParams, Side,
    TimeInForce,
};
use softliq_engine::{ClientId, CommandBody};

use super::{Bar, WBTC, WETH};
use softliq_server::app::AppState;
use softliq_server::error::ApiError;

/// ETH-PERP and BTC-PERP, in listing order.
const MARKETS: [(&str, AssetId); 2] = [("ETH-PERP", WETH), ("BTC-PERP", WBTC)];
/// The maker's ladder: distance of each level from the index (bp) and its size in USD.
const LADDER_BP: [i64; 6] = [5, 10, 20, 40, 80, 160];
const LEVEL_USD: f64 = 250_000.0;
/// Each market's insurance fund at listing (about 1% of the demo's open interest), so that the
/// first crash's bankruptcies are paid by the fund, as on a venue, and ADL stays rare.
const INSURANCE_USD: &str = "500000";
/// Flat traders that re-enter per bar.
const REENTRIES_PER_BAR: usize = 8;

fn ratio(text: &str) -> Ratio {
    Ratio::parse("demo", text).unwrap_or(Ratio::ZERO)
}

/// A venue-like market: 20x at most (IM 5% / MM 2.5% up to 1M USD of notional, then 10% / 5%),
/// 0.001-contract lots, 0.01 USD ticks, taker 4.5 bp, maker 1 bp, 0.5% liquidation fee half
/// to the liquidator, hourly funding capped at 4%, chunks of at most 250k USD within 2% of the
/// index, backstop below 2/3 of MM.
#[must_use]
pub fn params(index_asset: AssetId) -> PerpParams {
    PerpParams {
        index_asset,
        decimals: Decimals::new(6).unwrap_or(Decimals::new(0).expect("0 decimals")),
        tiers: vec![
            MarginTier {
                notional_max: Some(Value::from_int(1_000_000).unwrap_or(Value::MAX)),
                initial: ratio("0.05"),
                maintenance: ratio("0.025"),
            },
            MarginTier {
                notional_max: None,
                initial: ratio("0.1"),
                maintenance: ratio("0.05"),
            },
        ],
        max_leverage: ratio("20"),
        lot_size: Amount::from_raw(1_000),
        tick_size: Price::parse("demo", "0.01").unwrap_or(Price::ONE),
        taker_fee: ratio("0.00045"),
        maker_fee: ratio("0.0001"),
        liquidation_fee: ratio("0.005"),
        liquidator_share: ratio("0.5"),
        funding: FundingParams {
            interval_s: 3_600,
            interest_rate: ratio("0.0000125"),
            premium_clamp: ratio("0.0005"),
            rate_cap: ratio("0.04"),
        },
        mark: MarkParams {
            premium_max: ratio("0.005"),
            smoothing: ratio("0.1"),
        },
        slippage_tolerance: ratio("0.02"),
        chunk_notional_max: Value::from_int(250_000).unwrap_or(Value::MAX),
        open_interest_cap: None,
        unwind_target: ratio("1"),
        backstop_line: ratio("0.66"),
        empty_rounds_max: 3,
    }
}

/// A price in whole cents (the markets' tick).
fn cents(p: f64) -> Option<Price> {
    Price::parse("price", &format!("{:.2}", (p * 100.0).floor() / 100.0)).ok()
}

/// A size in whole lots (0.001 contracts), rounded down.
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
fn lots(contracts: f64) -> Amount {
    Amount::from_raw((contracts * 1_000.0).floor().max(0.0) as u128 * 1_000)
}

fn order(
    market: usize,
    side: Side,
    price: Option<Price>,
    size: Amount,
    tif: TimeInForce,
) -> OrderRequest {
    OrderRequest {
        market: PerpMarketId(u16::try_from(market).unwrap_or(0)),
        side,
        price,
        size,
        tif,
        reduce_only: false,
    }
}

/// One trader: its account, margin, leverage, side and market.
#[derive(Clone, Copy, Debug)]
struct Trader {
    account: AccountId,
    leverage: f64,
    long: bool,
    market: usize,
}

/// The perp half of the demo, between bars.
pub struct PerpDemo {
    maker: AccountId,
    traders: Vec<Trader>,
    rng: ChaCha8Rng,
}

async fn submit(state: &AppState, body: CommandBody) -> Result<softliq_engine::Events, ApiError> {
    Ok(state.submit(ClientId(rand::random()), body).await?.events)
}

/// The accounts whose owner starts with `prefix`, in id order.
pub(super) async fn owned(
    state: &AppState,
    prefix: &'static str,
) -> Result<Vec<AccountId>, ApiError> {
    state
        .read(move |e| {
            e.state()
                .accounts
                .iter()
                .enumerate()
                .filter(|(_, a)| a.owner.starts_with(prefix))
                .map(|(i, _)| AccountId(i as u64))
                .collect()
        })
        .await
}

impl PerpDemo {
    /// Lists the markets and opens and funds the maker and `traders` traders on an empty
    /// market; on a restart finds them by owner. The traders' figures come from `seed`.
    ///
    /// # Errors
    /// A refused command (a bug in the demo's numbers) or a stopped engine.
    pub async fn start(state: &Arc<AppState>, traders: usize, seed: u64) -> Result<Self, String> {
        let e = |e: ApiError| format!("perp demo: {}: {}", e.field, e.message);
        let listed = state
            .read(|e| e.state().perps.markets().len())
            .await
            .map_err(e)?;
        let fresh = listed == 0;
        if fresh {
            for (i, (symbol, asset)) in MARKETS.into_iter().enumerate() {
                submit(
                    state,
                    CommandBody::ListPerpMarket {
                        symbol: symbol.into(),
                        params: params(asset),
                    },
                )
                .await
                .map_err(e)?;
                submit(
                    state,
                    CommandBody::FundPerpInsurance {
                        market: PerpMarketId(u16::try_from(i).unwrap_or(0)),
                        amount: INSURANCE_USD.into(),
                    },
                )
                .await
                .map_err(e)?;
            }
            submit(
                state,
                CommandBody::OpenAccount {
                    owner: "demo-maker".into(),
                },
            )
            .await
            .map_err(e)?;
            for i in 0..traders {
                submit(
                    state,
                    CommandBody::OpenAccount {
                        owner: format!("demo-trader-{i}"),
                    },
                )
                .await
                .map_err(e)?;
            }
        }
        let maker = owned(state, "demo-maker").await.map_err(e)?;
        let maker = *maker.first().ok_or("perp demo: no maker")?;
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5045_5250);
        let mut list = Vec::new();
        for account in owned(state, "demo-trader-").await.map_err(e)? {
            let margin = 1_000f64 * 50f64.powf(rng.random::<f64>());
            let t = Trader {
                account,
                leverage: 3.0 + 17.0 * rng.random::<f64>().powi(2),
                long: rng.random_bool(0.6),
                market: rng.random_range(0..MARKETS.len()),
            };
            if fresh {
                submit(
                    state,
                    CommandBody::PerpDeposit {
                        account,
                        amount: format!("{margin:.2}"),
                    },
                )
                .await
                .map_err(e)?;
            }
            list.push(t);
        }
        if fresh {
            submit(
                state,
                CommandBody::PerpDeposit {
                    account: maker,
                    amount: "50000000".into(),
                },
            )
            .await
            .map_err(e)?;
        }
        Ok(Self {
            maker,
            traders: list,
            rng,
        })
    }

    /// Before a bar's prices: the maker cancels its quotes and posts a fresh ladder around
    /// the coming index of each market.
    ///
    /// # Errors
    /// A stopped engine (refusals are logged and skipped).
    pub async fn requote(&mut self, state: &Arc<AppState>, bar: Bar) -> Result<(), ApiError> {
        let maker = self.maker;
        let resting = state
            .read(move |e| {
                e.state()
                    .perps
                    .markets()
                    .iter()
                    .enumerate()
                    .flat_map(|(i, m)| {
                        m.book
                            .orders_of(maker.0)
                            .into_iter()
                            .map(move |o| (PerpMarketId(u16::try_from(i).unwrap_or(0)), o))
                    })
                    .collect::<Vec<_>>()
            })
            .await?;
        for (market, order) in resting {
            self.quiet(
                state,
                CommandBody::CancelOrder {
                    account: maker,
                    market,
                    order,
                },
            )
            .await?;
        }
        for (i, index) in [bar.eth, bar.btc].into_iter().enumerate() {
            for bp in LADDER_BP {
                let size = lots(LEVEL_USD / index);
                for (side, sign) in [(Side::Bid, -1.0), (Side::Ask, 1.0)] {
                    let price = cents(index * (1.0 + sign * bp as f64 / 10_000.0));
                    let o = order(i, side, price, size, TimeInForce::PostOnly);
                    self.quiet(
                        state,
                        CommandBody::PlaceOrder {
                            account: maker,
                            order: o,
                        },
                    )
                    .await?;
                }
            }
        }
        Ok(())
    }

    /// After a bar's prices: the clock moves (funding), and traders that are flat enter at
    /// their leverage with a market order (all of them on the first bar).
    ///
    /// # Errors
    /// A stopped engine.
    pub async fn after_prices(
        &mut self,
        state: &Arc<AppState>,
        bar: Bar,
        first: bool,
    ) -> Result<(), ApiError> {
        self.quiet(state, CommandBody::AdvanceTime).await?;
        let ids: Vec<AccountId> = self.traders.iter().map(|t| t.account).collect();
        let flat = state
            .read(move |e| {
                let perps = &e.state().perps;
                ids.iter()
                    .map(|id| perps.account(*id).is_none_or(|w| w.is_flat()))
                    .collect::<Vec<bool>>()
            })
            .await?;
        let mut waiting: Vec<usize> = (0..self.traders.len()).filter(|&i| flat[i]).collect();
        if !first {
            for k in 0..waiting.len().min(REENTRIES_PER_BAR) {
                let j = self.rng.random_range(k..waiting.len());
                waiting.swap(k, j);
            }
            waiting.truncate(REENTRIES_PER_BAR);
        }
        for i in waiting {
            let t = self.traders[i];
            let margin = state
                .read(move |e| e.state().perps.account(t.account).map(|w| w.cash.to_f64()))
                .await?
                .unwrap_or(0.0);
            let index = if t.market == 0 { bar.eth } else { bar.btc };
            let size = lots(margin * t.leverage / index);
            if margin <= 0.0 || size.is_zero() {
                continue;
            }
            let side = if t.long { Side::Bid } else { Side::Ask };
            let o = order(t.market, side, None, size, TimeInForce::Ioc);
            self.quiet(
                state,
                CommandBody::PlaceOrder {
                    account: t.account,
                    order: o,
                },
            )
            .await?;
        }
        Ok(())
    }

    /// Submits `body`; a refusal (a quote that would cross, a trader short of margin) is
    /// logged and skipped, a stopped engine is an error.
    async fn quiet(&self, state: &Arc<AppState>, body: CommandBody) -> Result<(), ApiError> {
        match submit(state, body).await {
            Ok(_) => Ok(()),
            Err(e) if e.status.is_server_error() => Err(e),
            Err(e) => {
                tracing::debug!(field = %e.field, message = %e.message, "perp demo: refused");
                Ok(())
            }
        }
    }
}
