//! Prometheus metrics at `/metrics`. Counters are fed from the durable log (the hub's
//! observer) and from the request path (rejections, latencies); gauges are read from the
//! state at scrape time; the account-HF histogram is rebuilt from the risk board.

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use softliq_core::money::{Amount, Price, Ratio, Rounding};
use softliq_engine::Engine;
use softliq_engine::event::Event;
use softliq_engine::state::INSURANCE;
use softliq_node::Entry;

use softliq_api::exposition::register_keeper;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabel {
    pub kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CodeLabel {
    pub code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PolicyLabel {
    pub policy: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AssetLabel {
    pub asset: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct MarketLabel {
    pub market: String,
}

type FloatCounter = Counter<f64, AtomicU64>;
type FloatGauge = Gauge<f64, AtomicU64>;

/// Health-factor histogram bucket bounds: dense around 1, where liquidations happen.
pub const HF_BUCKETS: [f64; 12] = [
    0.8, 0.9, 0.95, 1.0, 1.02, 1.05, 1.1, 1.2, 1.5, 2.0, 3.0, 5.0,
];

/// The live counters and histograms.
#[derive(Clone)]
pub struct Metrics {
    commands: Family<KindLabel, Counter>,
    rejections: Family<CodeLabel, Counter>,
    liquidations: Family<PolicyLabel, Counter>,
    repaid_usd: Family<PolicyLabel, FloatCounter>,
    borrower_loss_usd: Family<PolicyLabel, FloatCounter>,
    bad_debt_events: Counter,
    breaker_trips: Family<AssetLabel, Counter>,
    /// Asset symbols by id, to label what the log names by id.
    symbols: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    detection_seconds: Histogram,
    commit_seconds: Histogram,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    /// Counters start at zero for every label known up front (each policy; each asset as it is
    /// listed), so that the series exist before the first event: `increase()` over a series
    /// that appears at 1 misses that first event, and alert rules could not be checked.
    fn default() -> Self {
        let metrics = Self::empty();
        for policy in softliq_core::liquidation::Policy::all() {
            let label = PolicyLabel {
                policy: policy.name().to_owned(),
            };
            let _ = metrics.liquidations.get_or_create(&label);
            let _ = metrics.repaid_usd.get_or_create(&label);
            let _ = metrics.borrower_loss_usd.get_or_create(&label);
        }
        metrics
    }
}

impl Metrics {
    fn empty() -> Self {
        Self {
            commands: Family::default(),
            rejections: Family::default(),
            liquidations: Family::default(),
            repaid_usd: Family::default(),
            borrower_loss_usd: Family::default(),
            bad_debt_events: Counter::default(),
            breaker_trips: Family::default(),
            symbols: std::sync::Arc::default(),
            // 1 µs … ~1 s.
            detection_seconds: Histogram::new(exponential_buckets(1e-6, 4.0, 11)),
            // 100 µs … ~1.6 s.
            commit_seconds: Histogram::new(exponential_buckets(1e-4, 2.0, 15)),
        }
    }
}

/// One asset's figures at scrape time (display floats).
#[derive(Clone, Debug, Default)]
pub struct AssetGauges {
    pub symbol: String,
    pub price_usd: f64,
    pub insurance_fund_tokens: f64,
    /// Socialised bad debt, tokens.
    pub bad_debt_tokens: f64,
    pub utilisation: f64,
    /// The oracle's circuit breaker is open (liquidations on the asset wait).
    pub breaker_open: bool,
}

/// One perp market's funds at scrape time, USD.
#[derive(Clone, Debug, Default)]
pub struct PerpGauges {
    pub symbol: String,
    pub insurance_fund_usd: f64,
    pub bad_debt_usd: f64,
}

/// Figures read from the state at scrape time.
#[derive(Clone, Debug, Default)]
pub struct Gauges {
    pub seq: u64,
    pub accounts: u64,
    pub flagged: u64,
    pub perp_flagged: u64,
    pub assets: Vec<AssetGauges>,
    pub perps: Vec<PerpGauges>,
    /// Health factors of accounts with debt (display figures).
    pub health_factors: Vec<f64>,
    /// The in-process keeper's counters, when it runs.
    pub keeper: Option<softliq_api::KeeperStats>,
}

impl Gauges {
    /// Reads the figures from the engine's state (on the read view). The HF histogram is
    /// filled from the risk board by the caller.
    #[must_use]
    pub fn read(engine: &Engine) -> Self {
        let s = engine.state();
        let insurance = &s.accounts[INSURANCE.index()].account;
        let assets = s
            .assets
            .iter()
            .enumerate()
            .map(|(i, a)| {
                let pool = &s.pools[i];
                let dec = a.params().decimals;
                // Display figures: the exact token string, read as a float.
                let tokens = |x: Amount| {
                    x.display_tokens(dec)
                        .to_string()
                        .parse::<f64>()
                        .unwrap_or(0.0)
                };
                let fund = insurance
                    .position(a.id)
                    .supply
                    .to_amount(pool.supply_index(), Rounding::Down)
                    .unwrap_or_default();
                AssetGauges {
                    symbol: a.symbol.clone(),
                    price_usd: s.oracles[i].price.map_or(0.0, Price::to_f64),
                    insurance_fund_tokens: tokens(fund),
                    bad_debt_tokens: tokens(s.flows[i].socialised),
                    utilisation: pool.utilisation().map_or(0.0, Ratio::to_f64),
                    breaker_open: s.oracles[i].open_breaker(s.now_s).is_some(),
                }
            })
            .collect();
        let perps = s
            .perps
            .markets()
            .iter()
            .map(|m| PerpGauges {
                symbol: m.symbol.clone(),
                insurance_fund_usd: m.state.insurance_fund.to_f64(),
                bad_debt_usd: m.state.bad_debt.to_f64(),
            })
            .collect();
        Self {
            seq: s.seq,
            accounts: s.accounts.len() as u64,
            flagged: s.flagged.len() as u64,
            perp_flagged: s.perp_flagged.len() as u64,
            assets,
            perps,
            health_factors: Vec::new(),
            keeper: None,
        }
    }
}

impl Metrics {
    /// Counts a durable batch: commands by kind, liquidations and their figures by policy,
    /// bad-debt steps and breaker trips (by asset symbol, learnt from listings).
    pub fn observe_batch(&self, entries: &[Entry]) {
        let mut symbols = self
            .symbols
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for e in entries {
            self.commands
                .get_or_create(&KindLabel {
                    kind: e.command.body.kind().to_owned(),
                })
                .inc();
            for ev in e.events.iter() {
                match ev {
                    Event::Liquidated(l) => {
                        let (policy, quote) = (&l.policy, &l.quote);
                        let label = PolicyLabel {
                            policy: policy.clone(),
                        };
                        self.liquidations.get_or_create(&label).inc();
                        self.repaid_usd
                            .get_or_create(&label)
                            .inc_by(quote.repaid_value.to_f64());
                        let loss = quote.seized_value.to_f64() - quote.repaid_value.to_f64();
                        self.borrower_loss_usd
                            .get_or_create(&label)
                            .inc_by(loss.max(0.0));
                    }
                    Event::BadDebt { .. } => {
                        self.bad_debt_events.inc();
                    }
                    Event::AssetListed { symbol, .. } => {
                        let asset = symbol.clone();
                        let _ = self.breaker_trips.get_or_create(&AssetLabel { asset });
                        symbols.push(symbol.clone());
                    }
                    Event::BreakerOpened { asset, .. } => {
                        let symbol = symbols.get(asset.index()).cloned();
                        let asset = symbol.unwrap_or_else(|| asset.0.to_string());
                        self.breaker_trips
                            .get_or_create(&AssetLabel { asset })
                            .inc();
                    }
                    _ => {}
                }
            }
        }
    }

    /// The symbols listed before the log's tail is observed (from the recovered state).
    pub fn know_symbols(&self, symbols: Vec<String>) {
        for asset in &symbols {
            let asset = asset.clone();
            let _ = self.breaker_trips.get_or_create(&AssetLabel { asset });
        }
        *self
            .symbols
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = symbols;
    }

    pub fn rejected(&self, code: &str) {
        self.rejections
            .get_or_create(&CodeLabel {
                code: code.to_owned(),
            })
            .inc();
    }

    pub fn detection(&self, seconds: f64) {
        self.detection_seconds.observe(seconds);
    }

    pub fn commit(&self, seconds: f64) {
        self.commit_seconds.observe(seconds);
    }

    /// The OpenMetrics text exposition of every metric and of `gauges`.
    #[must_use]
    pub fn render(&self, gauges: &Gauges) -> String {
        let mut r = Registry::with_prefix("softliq");
        r.register(
            "commands",
            "Durable commands by kind",
            self.commands.clone(),
        );
        r.register(
            "rejections",
            "Refused commands by reason",
            self.rejections.clone(),
        );
        r.register(
            "liquidations",
            "Liquidation calls by policy",
            self.liquidations.clone(),
        );
        r.register(
            "liquidated_repaid_usd",
            "Debt value repaid by liquidations, by policy",
            self.repaid_usd.clone(),
        );
        r.register(
            "liquidation_borrower_loss_usd",
            "Collateral value seized beyond the debt repaid, by policy",
            self.borrower_loss_usd.clone(),
        );
        r.register(
            "bad_debt_events",
            "Bad-debt realisation steps (sweep, insurance cover, socialisation)",
            self.bad_debt_events.clone(),
        );
        r.register(
            "breaker_trips",
            "Oracle circuit breakers opened, by asset",
            self.breaker_trips.clone(),
        );
        r.register(
            "detection_seconds",
            "Engine time to apply a price update, detection of crossing accounts included",
            self.detection_seconds.clone(),
        );
        r.register(
            "commit_seconds",
            "Time from submission to durable acknowledgement",
            self.commit_seconds.clone(),
        );
        register_gauges(&mut r, gauges);
        let mut out = String::new();
        let _ = encode(&mut out, &r);
        out
    }
}

fn register_gauges(r: &mut Registry, g: &Gauges) {
    let int = |v: u64| {
        let gauge: Gauge = Gauge::default();
        gauge.set(i64::try_from(v).unwrap_or(i64::MAX));
        gauge
    };
    r.register("log_seq", "Last durable sequence number", int(g.seq));
    r.register("accounts", "User accounts", int(g.accounts));
    r.register(
        "flagged_accounts",
        "Accounts currently liquidatable",
        int(g.flagged),
    );
    r.register(
        "perp_flagged_accounts",
        "Perp wallets currently liquidatable",
        int(g.perp_flagged),
    );
    type Read = fn(&AssetGauges) -> f64;
    let families: [(&str, &str, Read); 5] = [
        ("price_usd", "Last accepted oracle price", |a| a.price_usd),
        ("insurance_fund_tokens", "Insurance fund balance", |a| {
            a.insurance_fund_tokens
        }),
        (
            "bad_debt_tokens",
            "Debt written off against suppliers (socialised)",
            |a| a.bad_debt_tokens,
        ),
        ("utilisation_ratio", "Borrowed over supplied", |a| {
            a.utilisation
        }),
        (
            "breaker_open",
            "1 while the asset's oracle circuit breaker is open",
            |a| f64::from(u8::from(a.breaker_open)),
        ),
    ];
    for (name, help, read) in families {
        let family: Family<AssetLabel, FloatGauge> = Family::default();
        for a in &g.assets {
            let asset = a.symbol.clone();
            family.get_or_create(&AssetLabel { asset }).set(read(a));
        }
        r.register(name, help, family);
    }
    type ReadPerp = fn(&PerpGauges) -> f64;
    let perp_families: [(&str, &str, ReadPerp); 2] = [
        (
            "perp_insurance_fund_usd",
            "A perp market's insurance fund",
            |m| m.insurance_fund_usd,
        ),
        (
            "perp_bad_debt_usd",
            "A perp market's losses past insurance and ADL",
            |m| m.bad_debt_usd,
        ),
    ];
    for (name, help, read) in perp_families {
        let family: Family<MarketLabel, FloatGauge> = Family::default();
        for m in &g.perps {
            let market = m.symbol.clone();
            family.get_or_create(&MarketLabel { market }).set(read(m));
        }
        r.register(name, help, family);
    }
    if let Some(k) = &g.keeper {
        register_keeper(r, k);
    }
    let hf = Histogram::new(HF_BUCKETS);
    for &h in &g.health_factors {
        hf.observe(h);
    }
    r.register(
        "account_health_factor",
        "Health factor of accounts with debt",
        hf,
    );
}
