//! The keeper: a liquidation bot that uses only the public API, so the same code runs as
//! `softliq keeper --url … --token …` and in process under `softliq serve --keeper`.
//!
//! In a `dutch` market it starts an auction on each liquidatable candidate, resets auctions
//! that need it, and buys a whole lot once its value at the oracle price, less the same cost
//! model, clears `min_profit` against what it costs at the auction's falling price.
//!
//! Perp wallets ([`perp`]): every pass it reads the perp liquidation queue
//! (`GET /v1/perps/liquidations`, the wallets detection flagged) and sends one liquidation step
//! for each (`POST /v1/perps/liquidations`). The engine plans the step — the chunks sent to the
//! book within the tolerance, or the backstop — and the keeper earns the liquidator's share of
//! the liquidation fee. With `perp_margin` it also offers to take backstops whose margin pays
//! for closing them on the book, and closes what it took.
//!
//! It follows the live stream (`became_liquidatable` / `recovered` events) to keep its own
//! set of candidates, seeded from the at-risk list at start. For each candidate it asks for
//! the policy's best quote and submits it when the profit after its cost model clears
//! `min_profit`:
//!
//! ```text
//! profit = liquidator_value − repaid_value − fee_per_call − slippage
//! slippage = liquidator_value² / (200 · depth_per_pct)
//! ```
//!
//! `slippage` is what selling the received collateral into a market with linear depth
//! `depth_per_pct` (USD of sales that move the price 1%, the simulator's unit) costs: the price
//! falls linearly with the amount sold, so the average sale lands half the final impact below
//! the oracle price. The model is core's [`CostModel`]. Every
//! submission carries an `Idempotency-Key` made of the borrower and the sequence number the
//! quote was priced on, so a retry after a timeout can never liquidate twice.

#![forbid(unsafe_code)]
// A cast that can truncate, wrap or lose a sign is a conversion with a reason: checked
// (`try_from`) or allowed where it stands with the reason. Tests are exempt.
#![cfg_attr(
    not(test),
    warn(
        clippy::cast_possible_truncation,
        clippy::cast_possible_wrap,
        clippy::cast_sign_loss
    )
)]

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use futures_util::StreamExt;
use softliq_api::auctions::{AuctionRow, AuctionsView, BarkRequest, RedoRequest, TakeRequest};
use softliq_api::commands::{AbsorbRequest, EmptyRequest, LiquidateRequest, LogEntry};
use softliq_api::names::Named;
use softliq_api::queries::{AtRiskView, QuoteView, StatusView};
use softliq_core::liquidation::CostModel;
use softliq_core::money::Value;
use softliq_engine::event::Event;

use client::Answer;

pub use softliq_api::{KeeperStats, SharedStats};

mod client;
pub mod exporter;
pub mod perp;

/// How the keeper decides and where it sends.
#[derive(Clone, Debug)]
pub struct KeeperConfig {
    /// Base URL of a softliq server (`http://127.0.0.1:8080`).
    pub url: String,
    /// A token with the `liquidator` role.
    pub token: String,
    /// The account that receives seized collateral; opened at start when absent.
    pub account: Option<u64>,
    /// Least profit after costs, cost per call, and the depth it sells into.
    pub cost: CostModel,
    /// How often the candidates are re-examined.
    pub interval: Duration,
    /// USD the keeper keeps in its perp wallet to carry backstops it takes over (topped up at
    /// start); zero: it never offers to take one.
    pub perp_margin: Value,
}

/// Checks a server's base URL before the keeper uses it.
///
/// # Errors
/// Not a URL, or not `http`/`https`: the message shows the expected form.
pub fn check_url(url: &str) -> Result<(), String> {
    let hint = "expected the server's base URL, such as http://127.0.0.1:8080";
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("{url:?}: {e}; {hint}"))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() {
        return Err(format!("{url:?}: {hint}"));
    }
    Ok(())
}

/// A decision, as logged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    Liquidate {
        profit: Value,
    },
    Skip {
        profit: Option<Value>,
        reason: String,
    },
}

/// The cost model ([`CostModel`]): `Liquidate` when profit after costs is at least
/// `min_profit`.
#[must_use]
pub fn decide(cost: &CostModel, liquidator_value: Value, repaid_value: Value) -> Decision {
    let Ok(p) = cost.profit(liquidator_value, repaid_value) else {
        return Decision::Skip {
            profit: None,
            reason: "cost model overflow".into(),
        };
    };
    match p.profit {
        Some(profit) if p.pays(cost) => Decision::Liquidate { profit },
        Some(profit) => Decision::Skip {
            profit: Some(profit),
            reason: format!("profit {profit} below min_profit {}", cost.min_profit),
        },
        None => Decision::Skip {
            profit: None,
            reason: format!(
                "loss: receives {liquidator_value}, pays {repaid_value} + fee {} + slippage {}",
                cost.fee_per_call, p.slippage
            ),
        },
    }
}

struct Keeper {
    config: KeeperConfig,
    http: reqwest::Client,
    account: u64,
    /// A stale price was seen since the last pass ended.
    stale: std::sync::atomic::AtomicBool,
    candidates: Arc<Mutex<BTreeSet<u64>>>,
    stats: Arc<Mutex<KeeperStats>>,
}

/// The longest back-off while prices stay stale.
const STALE_BACKOFF_MAX: Duration = Duration::from_secs(5);
/// How often the keeper logs its counts at INFO (single decisions are DEBUG).
const SUMMARY_EVERY: Duration = Duration::from_secs(60);

fn err(context: &str, e: impl std::fmt::Display) -> String {
    format!("keeper: {context}: {e}")
}

/// A USD figure of a view, which the API writes as decimal text.
fn figure(field: &str, text: &str) -> Result<Value, String> {
    Value::parse(field, text).map_err(|e| err("reading the server's figures", e))
}

impl Keeper {
    fn stats(&self) -> MutexGuard<'_, KeeperStats> {
        self.stats.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn saw_stale(&self) {
        self.stats().stale_waits += 1;
        self.stale.store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// The pause after a pass: the interval, plus a back-off that doubles (up to
    /// [`STALE_BACKOFF_MAX`]) while every pass meets a stale price and resets after one that
    /// does not.
    fn pause(&self, backoff: &mut Duration) -> Duration {
        if self.stale.swap(false, std::sync::atomic::Ordering::Relaxed) {
            *backoff = (*backoff * 2)
                .max(self.config.interval)
                .min(STALE_BACKOFF_MAX);
        } else {
            *backoff = Duration::ZERO;
        }
        self.config.interval + *backoff
    }

    fn candidates(&self) -> MutexGuard<'_, BTreeSet<u64>> {
        self.candidates
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// One candidate: quote, decide, submit (with retries under one key).
    async fn examine(&self, borrower: u64) -> Result<(), String> {
        let (status, quote) = self
            .get::<QuoteView>(&format!("/v1/accounts/{borrower}/quote"))
            .await?;
        let Some(q) = quote else {
            // 409: no call to make (recovered, or too small for any call): the protocol may
            // absorb what no call can take. 404: closed.
            if status == 409 {
                return self.absorb(borrower, rand::random::<u64>()).await;
            }
            if status == 404 {
                self.candidates().remove(&borrower);
            }
            return Ok(());
        };
        if q.breaker_open {
            tracing::debug!(borrower, "keeper: wait: circuit breaker open");
            return Ok(());
        }
        if q.price_stale {
            // The server would refuse the call: wait for a fresh price, and back off.
            tracing::debug!(borrower, "keeper: wait: stale price");
            self.saw_stale();
            return Ok(());
        }
        match decide(
            &self.config.cost,
            q.quote.liquidator_value,
            q.quote.repaid_value,
        ) {
            Decision::Skip { reason, .. } => {
                tracing::debug!(borrower, %reason, "keeper: skip");
                self.stats().skipped += 1;
                self.absorb(borrower, q.seq).await
            }
            Decision::Liquidate { profit } => {
                let call = q.call;
                let body = LiquidateRequest {
                    liquidator: self.account,
                    borrower: call.borrower,
                    debt_asset: Named::Id(call.debt_asset),
                    collateral_asset: Named::Id(call.collateral_asset),
                    max_repay: call.max_repay,
                    min_collateral_out: call.min_collateral_out,
                };
                let key = format!("keeper-{}-{borrower}-{}", self.account, q.seq);
                if let Some(out) = self.submit("/v1/liquidations", &key, &body).await? {
                    tracing::debug!(borrower, %profit, seq = out.seq, "keeper: liquidated");
                    self.stats().liquidations += 1;
                }
                Ok(())
            }
        }
    }

    /// A call that does not pay: asks the protocol to absorb the account instead. Kept as a
    /// candidate while the market's absorb tests do not hold yet (it may sink deeper, or be
    /// neglected long enough); dropped once absorbed, or when the market does not absorb.
    /// `nonce` (the quote's sequence number, or a random one) keeps retries of one attempt
    /// under one idempotency key.
    async fn absorb(&self, borrower: u64, nonce: u64) -> Result<(), String> {
        let body = AbsorbRequest {
            absorber: self.account,
            borrower,
        };
        let key = format!("keeper-absorb-{}-{borrower}-{nonce}", self.account);
        let drop = match self.post("/v1/absorptions", &key, &body).await? {
            Answer::Done(out) => {
                tracing::debug!(borrower, seq = out.seq, "keeper: absorbed");
                self.stats().absorbs += 1;
                true
            }
            Answer::Refused(_, out) => out.error.code != "not_absorbable",
            Answer::Failed(..) => true,
        };
        if drop {
            self.candidates().remove(&borrower);
        }
        Ok(())
    }

    /// In a `dutch` market: starts an auction on a liquidatable candidate (the server picks its
    /// largest debt and collateral). A refusal drops the candidate.
    async fn bark(&self, borrower: u64) -> Result<(), String> {
        let body = BarkRequest {
            keeper: self.account,
            borrower,
            debt_asset: None,
            collateral_asset: None,
        };
        let key = format!(
            "keeper-bark-{}-{borrower}-{}",
            self.account,
            rand::random::<u64>()
        );
        if self.submit("/v1/auctions", &key, &body).await?.is_some() {
            tracing::debug!(borrower, "keeper: auction started");
            self.stats().auctions_started += 1;
        }
        self.candidates().remove(&borrower);
        Ok(())
    }

    /// In a `dutch` market: resets auctions that need it, and buys a whole lot when its value
    /// at the oracle price clears the cost model against what it costs at the auction price.
    async fn keep_auctions(&self, auctions: &[AuctionRow]) -> Result<(), String> {
        for a in auctions {
            if a.needs_reset {
                let key = format!("keeper-redo-{}-{}-{}", self.account, a.id, a.resets);
                let body = RedoRequest {
                    keeper: self.account,
                };
                if self
                    .submit(&format!("/v1/auctions/{}/redo", a.id), &key, &body)
                    .await?
                    .is_some()
                {
                    self.stats().resets += 1;
                }
                continue;
            }
            let Some(value) = a.take_all.value.as_deref() else {
                continue;
            };
            let value = figure("take_all.value", value)?;
            let cost = figure("take_all.cost", &a.take_all.cost)?;
            match decide(&self.config.cost, value, cost) {
                Decision::Skip { reason, .. } => {
                    tracing::debug!(auction = a.id, %reason, "keeper: wait");
                }
                Decision::Liquidate { profit } => {
                    let key = format!(
                        "keeper-take-{}-{}-{}-{}",
                        self.account, a.id, a.lot, a.price
                    );
                    let body = TakeRequest {
                        keeper: self.account,
                        amount: a.lot.clone(),
                        max_price: a.price.clone(),
                    };
                    let path = format!("/v1/auctions/{}/take", a.id);
                    if self.submit(&path, &key, &body).await?.is_some() {
                        tracing::debug!(auction = a.id, %profit, "keeper: took");
                        self.stats().takes += 1;
                    }
                }
            }
        }
        Ok(())
    }

    /// One pass over the candidates and, in a `dutch` market, the running auctions.
    async fn pass(&self) {
        let listed = self
            .get_all::<AuctionsView>("/v1/auctions?limit=1000", usize::MAX)
            .await;
        let auctions = match listed {
            Ok(Some((first, rows))) if first.policy == "dutch" => Some(rows),
            Ok(_) => None,
            Err(e) => {
                tracing::warn!("{e}");
                return;
            }
        };
        let now: Vec<u64> = self.candidates().iter().copied().collect();
        for borrower in now {
            let done = if auctions.is_some() {
                self.bark(borrower).await
            } else {
                self.examine(borrower).await
            };
            if let Err(e) = done {
                tracing::warn!("{e}");
            }
        }
        if let Some(list) = auctions
            && let Err(e) = self.keep_auctions(&list).await
        {
            tracing::warn!("{e}");
        }
    }

    /// Follows the stream, adding accounts that became liquidatable and dropping recovered
    /// ones; reconnects with the last seen id, so nothing is missed.
    async fn follow(self: Arc<Self>, mut since: u64) {
        loop {
            let resp = self
                .http
                .get(self.url(&format!("/v1/stream?since={since}")))
                .send()
                .await;
            if let Ok(resp) = resp {
                let mut bytes = resp.bytes_stream();
                let mut buf = String::new();
                while let Some(Ok(chunk)) = bytes.next().await {
                    buf.push_str(&String::from_utf8_lossy(&chunk));
                    while let Some(end) = buf.find("\n\n") {
                        let frame: String = buf.drain(..end + 2).collect();
                        if let Some(seq) = self.on_frame(&frame) {
                            since = seq;
                        }
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    fn on_frame(&self, frame: &str) -> Option<u64> {
        let data = frame.lines().find_map(|l| l.strip_prefix("data:"))?;
        let entry: LogEntry = match serde_json::from_str(data.trim()) {
            Ok(entry) => entry,
            Err(e) => {
                tracing::warn!("keeper: stream entry not decoded: {e}");
                return None;
            }
        };
        let mut set = self.candidates();
        for ev in entry.events.iter() {
            match ev {
                Event::BecameLiquidatable { account, .. } => {
                    set.insert(account.0);
                }
                Event::Recovered { account, .. } => {
                    set.remove(&account.0);
                }
                _ => {}
            }
        }
        Some(entry.seq)
    }
}

/// Runs a keeper until `shutdown` resolves; returns what it did.
///
/// # Errors
/// The server cannot be reached at start, or the liquidator account cannot be opened.
pub async fn run(
    config: KeeperConfig,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<KeeperStats, String> {
    run_counted(config, Arc::default(), shutdown).await
}

/// [`run`], counting into `stats` as it goes, so that metrics can read them while it runs.
///
/// # Errors
/// As [`run`].
pub async fn run_counted(
    config: KeeperConfig,
    stats: SharedStats,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<KeeperStats, String> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| err("client", e))?;
    let mut keeper = Keeper {
        config,
        http,
        account: 0,
        stale: std::sync::atomic::AtomicBool::new(false),
        candidates: Arc::default(),
        stats,
    };
    keeper.account = match keeper.config.account {
        Some(a) => a,
        None => {
            let key = format!("keeper-open-{}", rand::random::<u64>());
            let answer = keeper.post("/v1/accounts", &key, &EmptyRequest {}).await?;
            let opened = match &answer {
                Answer::Done(out) => out.events.iter().find_map(|e| match e {
                    Event::AccountOpened { account, .. } => Some(account.0),
                    _ => None,
                }),
                _ => None,
            };
            opened.ok_or_else(|| format!("keeper: opening an account: {answer:?}"))?
        }
    };
    tracing::info!(account = keeper.account, "keeper: liquidating into account");
    keeper.fund_perp_margin().await?;
    let (_, head) = keeper.get::<StatusView>("/v1/status").await?;
    let head = head.map_or(0, |h| h.durable_seq);
    if let Some((_, rows)) = keeper
        .get_all::<AtRiskView>("/v1/accounts?liquidatable=true&limit=1000", usize::MAX)
        .await?
    {
        keeper
            .candidates()
            .extend(rows.iter().map(|r| r.row.account));
    }
    let keeper = Arc::new(keeper);
    let follower = tokio::spawn(keeper.clone().follow(head));
    let work = async {
        let mut backoff = Duration::ZERO;
        let mut summary = std::time::Instant::now();
        loop {
            keeper.pass().await;
            if summary.elapsed() >= SUMMARY_EVERY {
                summary = std::time::Instant::now();
                tracing::info!(stats = ?keeper.stats().clone(), "keeper: so far");
            }
            tokio::time::sleep(keeper.pause(&mut backoff)).await;
        }
    };
    // Perp steps run on their own loop: a pass over thousands of lending candidates in a crash
    // must not hold back a wallet whose equity is falling towards bankruptcy.
    let perps = async {
        loop {
            if let Err(e) = keeper.keep_perps().await {
                tracing::warn!("{e}");
            }
            tokio::time::sleep(keeper.config.interval).await;
        }
    };
    tokio::select! {
        ((), ()) = async { tokio::join!(work, perps) } => {},
        () = shutdown => {},
    }
    follower.abort();
    let stats = keeper.stats().clone();
    Ok(stats)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_url_without_a_scheme_is_refused_with_the_form_expected() {
        assert!(check_url("http://127.0.0.1:8080").is_ok());
        assert!(check_url("https://keeper.example/").is_ok());
        for bad in ["127.0.0.1:8080", "localhost:8080", "ftp://h/", "http//x"] {
            let e = check_url(bad).unwrap_err();
            assert!(e.contains("http://127.0.0.1:8080"), "{bad}: {e}");
        }
    }

    #[test]
    fn stale_prices_back_the_keeper_off_up_to_a_bound_and_a_clean_pass_resets_it() {
        let k = Keeper {
            config: config("1", "0", "1000000"),
            http: reqwest::Client::new(),
            account: 1,
            stale: std::sync::atomic::AtomicBool::new(false),
            candidates: Arc::default(),
            stats: Arc::default(),
        };
        let ms = Duration::from_millis;
        let mut backoff = Duration::ZERO;
        assert_eq!(k.pause(&mut backoff), ms(100));
        let mut pauses = Vec::new();
        for _ in 0..8 {
            k.saw_stale();
            pauses.push(k.pause(&mut backoff));
        }
        assert_eq!(
            pauses,
            [
                ms(200),
                ms(300),
                ms(500),
                ms(900),
                ms(1700),
                ms(3300),
                ms(5100),
                ms(5100)
            ]
        );
        assert_eq!(k.stats().stale_waits, 8);
        assert_eq!(
            k.pause(&mut backoff),
            ms(100),
            "a pass without a stale price resets"
        );
    }

    use super::*;

    fn config(min_profit: &str, fee: &str, depth: &str) -> KeeperConfig {
        KeeperConfig {
            url: String::new(),
            token: String::new(),
            account: None,
            cost: CostModel {
                min_profit: Value::parse("min_profit", min_profit).unwrap(),
                fee_per_call: Value::parse("fee", fee).unwrap(),
                depth_per_pct: Value::parse("depth", depth).unwrap(),
            },
            interval: Duration::from_millis(100),
            perp_margin: Value::ZERO,
        }
    }

    fn v(s: &str) -> Value {
        Value::parse("v", s).unwrap()
    }

    #[test]
    fn profit_after_fee_and_slippage() {
        // Receives 1,040 for 1,000: gross 40; fee 5; slippage 1040² / (200 · 10,000) = 0.5408.
        let c = config("30", "5", "10000");
        assert_eq!(
            decide(&c.cost, v("1040"), v("1000")),
            Decision::Liquidate {
                profit: v("34.4592")
            }
        );
        // The same call with a higher bar is skipped, with its profit.
        let c = config("35", "5", "10000");
        assert!(matches!(
            decide(&c.cost, v("1040"), v("1000")),
            Decision::Skip { profit: Some(p), .. } if p == v("34.4592")
        ));
        // A thin market turns it into a loss: slippage 1040² / (200 · 10) = 540.8.
        let c = config("0", "5", "10");
        assert!(matches!(
            decide(&c.cost, v("1040"), v("1000")),
            Decision::Skip { profit: None, .. }
        ));
    }
}
