//! `softliq serve` (the service, optionally with the demo market and the in-process keeper)
//! and `softliq keeper` (the same keeper against any server).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use softliq_core::liquidation::CostModel;
use softliq_core::money::Value;
use softliq_demo::{self as demo, DemoConfig};
use softliq_keeper::{self as keeper, KeeperConfig};
use softliq_server::auth::{DEMO_ADMIN_SUBJECT, KEEPER_SUBJECT};
use softliq_server::{Role, Server, ServerConfig, TokenEntry, Tokens};

#[derive(clap::Args)]
pub struct Args {
    /// Data directory (SQLite log and snapshots).
    #[arg(long, env = "SOFTLIQ_DATA", default_value = "softliq-data")]
    data: PathBuf,
    #[command(flatten)]
    cluster: ClusterArgs,
    #[command(flatten)]
    history: HistoryArgs,
    /// Address to listen on, HOST:PORT (`localhost:8080`, `0.0.0.0:8080`; port 0 picks a free
    /// one).
    #[arg(long, env = "SOFTLIQ_LISTEN", default_value = "127.0.0.1:8080", value_parser = listen_address)]
    listen: SocketAddr,
    /// Tokens file (TOML, `[[tokens]] token, role, subject`); `SOFTLIQ_TOKENS` adds more.
    #[arg(long)]
    tokens: Option<PathBuf>,
    /// Markets file (TOML, `[[assets]]`): assets not yet listed are listed, listed ones whose
    /// parameters differ are updated, at every start.
    #[arg(long, conflicts_with = "demo")]
    markets: Option<PathBuf>,
    /// Run the demo: example markets, seeded borrowers, a real crash replayed as prices.
    #[arg(long)]
    demo: bool,
    /// Synthetic borrowers the demo opens on an empty data directory.
    #[arg(long, default_value_t = 3000)]
    demo_borrowers: usize,
    /// Wall milliseconds per replayed hourly bar (posted as four prices: open, extremes, close).
    #[arg(long, default_value_t = 400)]
    demo_bar_ms: u64,
    /// Leveraged traders on the demo's BTC-PERP and ETH-PERP (0: no perp markets).
    #[arg(long, default_value_t = 400)]
    demo_perp_traders: usize,
    /// Run the keeper in process (always on with --demo).
    #[arg(long)]
    keeper: bool,
    #[command(flatten)]
    costs: CostArgs,
    /// Largest request body, bytes.
    #[arg(long, default_value_t = 64 * 1024)]
    body_limit: usize,
    /// Most connections open at once; one more is answered 503 and closed.
    #[arg(long, default_value_t = 512)]
    connections_max: usize,
    /// Seconds a request's headers may take to arrive (also how long an idle keep-alive
    /// connection stays open).
    #[arg(long, default_value_t = 30)]
    header_timeout_s: u64,
    /// Seconds to answer a request, its body included (408 after that).
    #[arg(long, default_value_t = 30)]
    request_timeout_s: u64,
    /// Check every invariant after every command.
    #[arg(long)]
    audit: bool,
    /// An origin whose browser pages may call the API (`https://risk.example.com`, or `*`);
    /// repeat for more. None by default: same-origin pages only.
    #[arg(
        long = "cors-origin",
        env = "SOFTLIQ_CORS_ORIGINS",
        value_delimiter = ','
    )]
    cors_origins: Vec<String>,
}

/// The PostgreSQL event store.
#[derive(clap::Args)]
pub struct HistoryArgs {
    /// Project the log into PostgreSQL at this URL (`postgres://user@host:5432/db`, or a
    /// libpq key=value string): history tables one SQL query away, and the CSV export read
    /// from them (see docs/history.md).
    #[arg(long, env = "SOFTLIQ_POSTGRES")]
    pub postgres: Option<String>,
    /// The PostgreSQL schema holding the tables.
    #[arg(long, default_value = "softliq")]
    pub pg_schema: String,
}

impl HistoryArgs {
    /// The event store, when one is configured.
    pub fn config(&self) -> Result<Option<softliq_history::HistoryConfig>> {
        let Some(url) = &self.postgres else {
            return Ok(None);
        };
        let config = softliq_history::HistoryConfig {
            url: url.clone(),
            schema: self.pg_schema.clone(),
        };
        config.validate().map_err(|e| anyhow!("--pg-{e}"))?;
        Ok(Some(config))
    }
}

/// Where the log lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum StoreKind {
    /// SQLite in `--data` (one machine).
    Sqlite,
    /// A replicated NATS JetStream stream: standbys follow it and take over from a writer that
    /// dies.
    Jetstream,
}

/// Where the log lives (`serve` and `project`).
#[derive(clap::Args)]
pub struct LogArgs {
    /// Where the log lives: `sqlite` (in --data) or `jetstream` (a replicated stream on NATS;
    /// see docs/cluster.md).
    #[arg(long, value_enum, env = "SOFTLIQ_STORE", default_value = "sqlite")]
    pub store: StoreKind,
    /// NATS server URLs, comma-separated (with --store jetstream).
    #[arg(
        long,
        env = "SOFTLIQ_NATS_URL",
        default_value = "nats://127.0.0.1:4222"
    )]
    pub nats_url: String,
    /// The JetStream stream holding the log; it also names the snapshot and lease buckets.
    #[arg(long, env = "SOFTLIQ_STREAM", default_value = "SOFTLIQ")]
    pub stream: String,
}

impl LogArgs {
    /// The replicated log's settings, for node `node`.
    #[must_use]
    pub fn log_config(&self, node: &str) -> softliq_cluster::LogConfig {
        softliq_cluster::LogConfig::new(&self.nats_url, &self.stream, node)
    }
}

#[derive(clap::Args)]
struct ClusterArgs {
    #[command(flatten)]
    log: LogArgs,
    /// Copies JetStream keeps of the log (3 in a three-server cluster; 1 on one server).
    #[arg(long, default_value_t = 1)]
    replicas: usize,
    /// This node's name in the cluster (default: the host name and process id).
    #[arg(long, env = "SOFTLIQ_NODE")]
    node_name: Option<String>,
    /// Stand by: follow the log, serve reads, and take over as the writer when the writer's
    /// lease lapses. Without it, a jetstream node takes the lease at start or refuses to start.
    #[arg(long, conflicts_with_all = ["demo", "markets"])]
    follow: bool,
    /// Milliseconds the writer's lease lives without renewal: a dead writer is replaced after
    /// about this long (every node of a cluster must use the same).
    #[arg(long, default_value_t = 3000)]
    lease_ms: u64,
}

impl ClusterArgs {
    /// The store this server runs on.
    fn store(&self) -> Result<softliq_server::StoreChoice> {
        if self.log.store == StoreKind::Sqlite {
            if self.follow {
                return Err(anyhow!(
                    "--follow: only a replicated store has a log to follow (add --store jetstream)"
                ));
            }
            return Ok(softliq_server::StoreChoice::Sqlite);
        }
        let node = self.node_name.clone().unwrap_or_else(|| {
            let host = std::fs::read_to_string("/etc/hostname")
                .map(|h| h.trim().to_string())
                .unwrap_or_else(|_| "node".into());
            format!("{host}-{}", std::process::id())
        });
        let mut log = self.log.log_config(&node);
        log.replicas = self.replicas;
        log.validate()
            .map_err(|e| anyhow!("--{}", e.replace('_', "-")))?;
        if !(100..=600_000).contains(&self.lease_ms) {
            return Err(anyhow!(
                "--lease-ms: {} must be between 100 and 600000",
                self.lease_ms
            ));
        }
        let mut rc = softliq_cluster::ReplicaConfig::new(log, self.follow);
        rc.lease_ttl = Duration::from_millis(self.lease_ms);
        Ok(softliq_server::StoreChoice::JetStream(Box::new(rc)))
    }
}

/// `HOST:PORT` with a host name or an address, resolved to the first address it names.
fn listen_address(text: &str) -> Result<SocketAddr, String> {
    use std::net::ToSocketAddrs;
    let hint = "expected HOST:PORT, such as 127.0.0.1:8080, localhost:8080 or 0.0.0.0:8080";
    if !text.contains(':') {
        return Err(format!("{text:?} has no port: {hint}"));
    }
    text.to_socket_addrs()
        .map_err(|e| format!("{text:?}: {e}; {hint}"))?
        .next()
        .ok_or_else(|| format!("{text:?} names no address; {hint}"))
}

/// The demo keeper's perp margin: enough to take over the demo's largest backstops.
const DEMO_KEEPER_PERP_MARGIN: &str = "1000000";

/// The keeper's cost model.
#[derive(clap::Args, Clone)]
pub struct CostArgs {
    /// Least profit after costs, USD.
    #[arg(long, default_value = "1")]
    min_profit: String,
    /// Cost of one call, USD.
    #[arg(long, default_value = "0.5")]
    fee: String,
    /// Depth of the market the keeper sells into: USD of sales that move its price by 1% (the
    /// simulator's unit; 0: no slippage modelled).
    #[arg(long, default_value = "500000")]
    depth: String,
    /// Milliseconds between passes over the candidates (default 200; with `serve --demo`, one
    /// price step of the replay, at least 10).
    #[arg(long)]
    interval_ms: Option<u64>,
    /// USD of perp margin the keeper keeps to take over backstops whose margin pays for
    /// closing them on the book (0: never; `serve --demo` uses 1000000 unless set).
    #[arg(long)]
    perp_margin: Option<String>,
}

#[derive(clap::Args)]
pub struct KeeperArgs {
    /// The server's base URL.
    #[arg(long)]
    url: String,
    /// A token with the liquidator role.
    #[arg(long, env = "SOFTLIQ_KEEPER_TOKEN")]
    token: String,
    /// The account receiving collateral (opened when absent).
    #[arg(long)]
    account: Option<u64>,
    /// Serve the keeper's counters at http://ADDR/metrics (Prometheus), HOST:PORT.
    #[arg(long, value_parser = listen_address)]
    metrics_listen: Option<SocketAddr>,
    #[command(flatten)]
    costs: CostArgs,
}

fn keeper_config(
    url: String,
    token: String,
    account: Option<u64>,
    c: &CostArgs,
) -> Result<KeeperConfig> {
    let usd = |field: &str, text: &str| Value::parse(field, text).map_err(|e| anyhow!("--{e}"));
    keeper::check_url(&url).map_err(|e| anyhow!("--url {e}"))?;
    Ok(KeeperConfig {
        url,
        token,
        account,
        cost: CostModel {
            min_profit: usd("min-profit", &c.min_profit)?,
            fee_per_call: usd("fee", &c.fee)?,
            depth_per_pct: usd("depth", &c.depth)?,
        },
        interval: Duration::from_millis(c.interval_ms.unwrap_or(200)),
        perp_margin: usd("perp-margin", c.perp_margin.as_deref().unwrap_or("0"))?,
    })
}

fn init_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour only on a terminal: a redirected log stays plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

fn say(line: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// A fresh bearer token: 128 random bits as 32 hex characters.
pub(crate) fn random_token() -> String {
    format!("{:032x}", rand::random::<u128>())
}

pub fn run(args: &Args) -> Result<()> {
    init_logs();
    let mut tokens = match &args.tokens {
        Some(path) => Tokens::load(path).map_err(|e| anyhow!(e))?,
        None => Tokens::default(),
    };
    if let Ok(env) = std::env::var("SOFTLIQ_TOKENS") {
        tokens = tokens
            .merged(Tokens::parse_env(&env).map_err(|e| anyhow!(e))?)
            .map_err(|e| anyhow!(e))?;
    }
    let keeper_token = random_token();
    let admin_token = random_token();
    let mut extra = vec![TokenEntry {
        token: keeper_token.clone(),
        role: Role::Liquidator,
        subject: KEEPER_SUBJECT.into(),
    }];
    if args.demo {
        extra.push(TokenEntry {
            token: admin_token.clone(),
            role: Role::Admin,
            subject: DEMO_ADMIN_SUBJECT.into(),
        });
    }
    let tokens = tokens.with_internal(extra).map_err(|e| anyhow!(e))?;
    let mut config = ServerConfig::new(args.data.clone(), args.listen, tokens);
    config.store = args.cluster.store()?;
    config.history = args.history.config()?;
    config.body_limit_bytes = args.body_limit;
    config.limits = connection_limits(args);
    config.audit = args.audit || cfg!(debug_assertions);
    config.cors =
        softliq_server::cors::Origins::parse(args.cors_origins.iter().map(String::as_str))
            .map_err(|e| anyhow!("--cors-origin: {e}"))?;
    let demo_config = DemoConfig {
        borrowers: args.demo_borrowers,
        bar: Duration::from_millis(args.demo_bar_ms),
        perp_traders: args.demo_perp_traders,
        ..DemoConfig::default()
    };

    // Read before anything starts: a bad file is refused with its line, and nothing is bound.
    let markets = match &args.markets {
        Some(file) => Some(softliq_config::Markets::load(file).map_err(|e| anyhow!(e))?),
        None => None,
    };

    let runtime = tokio::runtime::Runtime::new().context("start the async runtime")?;
    runtime.block_on(async {
        let server = Server::bind(&config).await.map_err(|e| anyhow!(e))?;
        let mut listing = None;
        if let (Some(markets), Some(file)) = (&markets, &args.markets) {
            let applied = softliq_server::listing::apply(&server.state, markets)
                .await
                .map_err(|e| anyhow!("--markets {}: {e}", file.display()))?;
            listing = Some(format!("softliq: markets from {}: {applied}", file.display()));
        }
        let url = format!("http://{}", server.addr);
        // Printed with errors ignored: a closed stdout must not stop a running server.
        say(&format!(
            "softliq: serving {url}/ (dashboard), API under {url}/v1, OpenAPI at {url}/openapi.json (pid {})",
            std::process::id()
        ));
        if let Some(line) = listing {
            say(&line);
        }
        if args.demo {
            say(&format!("softliq: demo admin token: {admin_token}"));
            say(&format!(
                "softliq: demo liquidator token: {keeper_token} (softliq keeper --url {url} --token {keeper_token})"
            ));
        }
        let state = server.state.clone();
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
            let _ = rx.wait_for(|s| *s).await;
        };
        let serving = tokio::spawn(server.run(stopped(stop_rx.clone())));
        if args.demo {
            let state = state.clone();
            let demo_config = demo_config.clone();
            tokio::spawn(async move {
                if let Err(e) = demo::run(state, demo_config).await {
                    tracing::error!("demo stopped: {e}");
                }
            });
        }
        if args.keeper || args.demo {
            let mut costs = args.costs.clone();
            if args.demo {
                costs.perp_margin.get_or_insert_with(|| DEMO_KEEPER_PERP_MARGIN.into());
                // A keeper acts within a price step, as a real one acts within seconds.
                let steps = u64::try_from(3 * demo_config.steps_per_leg).unwrap_or(1).max(1);
                costs.interval_ms.get_or_insert((args.demo_bar_ms / steps).max(10));
            }
            let kc = keeper_config(url.clone(), keeper_token, None, &costs)?;
            let rx = stop_rx.clone();
            let counted = keeper::SharedStats::default();
            state.attach_keeper(counted.clone());
            tokio::spawn(async move {
                match keeper::run_counted(kc, counted, stopped(rx)).await {
                    Ok(stats) => tracing::info!(?stats, "keeper stopped"),
                    Err(e) => tracing::error!("keeper: {e}"),
                }
            });
        }
        let left = tokio::select! {
            () = softliq_server::shutdown_signal() => None,
            why = left_cluster(state.clone()) => Some(why),
        };
        tracing::info!("shutting down: finishing requests and writing what was accepted");
        let _ = stop_tx.send(true);
        serving
            .await
            .map_err(|e| anyhow!(e))?
            .map_err(|e| anyhow!(e))?;
        say(&format!("softliq: stopped at seq {}", state.hub.head()));
        match left {
            None => Ok(()),
            Some(why) => Err(anyhow!(
                "left the cluster: {why} (restart with --follow to rejoin as a standby)"
            )),
        }
    })
}

/// Resolves when this node leaves its cluster (never, for a single-machine store).
async fn left_cluster(state: std::sync::Arc<softliq_server::AppState>) -> String {
    loop {
        if let Some(why) = state.cluster_failure() {
            return why;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub fn run_keeper(args: &KeeperArgs) -> Result<()> {
    init_logs();
    let config = keeper_config(
        args.url.clone(),
        args.token.clone(),
        args.account,
        &args.costs,
    )?;
    let runtime = tokio::runtime::Runtime::new().context("start the async runtime")?;
    let counted = keeper::SharedStats::default();
    let stats = runtime
        .block_on(async {
            if let Some(addr) = args.metrics_listen {
                keeper::exporter::serve(addr, counted.clone()).await?;
            }
            keeper::run_counted(config, counted, softliq_server::shutdown_signal()).await
        })
        .map_err(|e| anyhow!(e))?;
    println!(
        "keeper: {} liquidations, {} absorbs, {} skipped, {} failed",
        stats.liquidations, stats.absorbs, stats.skipped, stats.failed
    );
    Ok(())
}

/// Descriptors kept for the database, the watermark and the process itself.
const FDS_RESERVED: u64 = 64;

/// The connection limits of `args`, within the process's descriptor limit (raised to the hard
/// limit where the system allows), so that a full house of connections still leaves the store
/// its files.
fn connection_limits(args: &Args) -> softliq_server::connections::Limits {
    let fds = rlimit::increase_nofile_limit(u64::MAX).ok();
    let mut connections_max = args.connections_max.max(1);
    if let Some(fds) = fds {
        let room = usize::try_from(fds.saturating_sub(FDS_RESERVED)).unwrap_or(usize::MAX);
        if room < connections_max {
            tracing::warn!(
                fds,
                connections_max = room.max(1),
                "--connections-max lowered to fit the descriptor limit"
            );
            connections_max = room.max(1);
        }
    }
    softliq_server::connections::Limits {
        connections_max,
        header_read_timeout: Duration::from_secs(args.header_timeout_s.max(1)),
        request_timeout: Duration::from_secs(args.request_timeout_s.max(1)),
        ..softliq_server::connections::Limits::default()
    }
}
