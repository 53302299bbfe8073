//! The running service: the node (engine + store with group commit), the event hub, metrics,
//! the risk board and the tokens, shared by every request handler.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use softliq_engine::{ClientId, Command, CommandBody, Engine, EngineConfig};
use softliq_node as store;
use softliq_node::{Ack, Handle, NodeConfig, ReadView, SqliteStore, Store};
use tokio::sync::oneshot;

use crate::auth::{Principal, TokenSource, Tokens};
use crate::error::ApiError;
use crate::hub::Hub;
use crate::metrics::Metrics;
use crate::risk::{self, RiskBoard};

/// How the service runs.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    pub tokens: Tokens,
    /// Largest request body accepted.
    pub body_limit_bytes: usize,
    /// Connections, header and request timeouts.
    pub limits: crate::connections::Limits,
    pub node: NodeConfig,
    /// Check every invariant after every command (slower; always on in debug builds).
    pub audit: bool,
    /// How often the risk board (at-risk list, HF histogram) is recomputed at most.
    pub risk_refresh: Duration,
    /// Engine seconds per wall second: 1 for a real market; the demo runs faster so that a
    /// replayed hour of prices passes in a fraction of a second.
    pub clock_speed: u64,
    /// Origins whose browser pages may call the API (none by default).
    pub cors: crate::cors::Origins,
    /// Where the log lives.
    pub store: StoreChoice,
    /// The PostgreSQL event store the log is projected into, when configured: the CSV export
    /// then reads from it.
    pub history: Option<softliq_history::HistoryConfig>,
}

/// Where the log and snapshots live.
#[derive(Clone, Debug, Default)]
pub enum StoreChoice {
    /// SQLite in `data_dir` (the embedded default).
    #[default]
    Sqlite,
    /// A replicated JetStream stream: this node follows it, and writes it while it holds the
    /// lease (the replica's `node` and `engine` settings are taken from the server's).
    JetStream(Box<softliq_cluster::ReplicaConfig>),
}

impl ServerConfig {
    #[must_use]
    pub fn new(data_dir: PathBuf, listen: SocketAddr, tokens: Tokens) -> Self {
        Self {
            data_dir,
            listen,
            tokens,
            body_limit_bytes: 64 * 1024,
            limits: crate::connections::Limits::default(),
            node: NodeConfig::default(),
            audit: cfg!(debug_assertions),
            risk_refresh: Duration::from_millis(500),
            clock_speed: 1,
            cors: crate::cors::Origins::None,
            store: StoreChoice::Sqlite,
            history: None,
        }
    }
}

/// Everything a handler needs.
pub struct AppState {
    pub handle: Handle,
    /// Where reads are served: an engine following the durable log on a thread of its own.
    pub view: ReadView,
    /// The view's sequence number after each batch it applies (async readers wait on it).
    view_seq: tokio::sync::watch::Receiver<u64>,
    pub hub: Arc<Hub>,
    pub metrics: Metrics,
    pub tokens: Tokens,
    /// The engine clock: stamping and queueing happen under this lock, so commands reach the
    /// engine in timestamp order.
    clock: Mutex<Clock>,
    /// The last risk board and when it was built.
    risk: Mutex<Option<(Instant, Duration, Arc<RiskBoard>)>>,
    risk_refresh: Duration,
    /// Set when the server begins to shut down: live streams end so that graceful shutdown
    /// is not held open by subscribers that never disconnect.
    pub closing: tokio::sync::watch::Sender<bool>,
    /// The in-process keeper's counters, shown in `/metrics` while it runs.
    keeper: Mutex<Option<softliq_api::SharedStats>>,
    /// Liquidations and bad debt over engine time, for the dashboard.
    pub activity: Arc<crate::activity::Activity>,
    /// This node's membership of a cluster, when the log is replicated.
    pub replica: Option<Mutex<softliq_cluster::Replica>>,
    /// The projector into the PostgreSQL event store, when configured.
    pub history: Option<History>,
}

/// The event store in PostgreSQL and the projector filling it.
pub struct History {
    pub config: softliq_history::HistoryConfig,
    pub projector: Mutex<softliq_history::Projector>,
}

impl std::fmt::Debug for History {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("History")
            .field("schema", &self.config.schema)
            .finish_non_exhaustive()
    }
}

impl History {
    /// The last entry the event store holds.
    #[must_use]
    pub fn position(&self) -> u64 {
        self.projector
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .position()
    }
}

/// Longest a read waits for the read view to reach what the node has acknowledged.
pub const VIEW_WAIT_MAX: Duration = Duration::from_secs(5);

/// Opens a reader of the log (a connection of its own).
type OpenReader = Arc<dyn Fn() -> Result<Box<dyn Store>, String> + Send + Sync>;

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").finish_non_exhaustive()
    }
}

impl TokenSource for Arc<AppState> {
    fn tokens(&self) -> &Tokens {
        &self.tokens
    }
}

/// The engine's clock: the wall clock, or a faster one that starts at the wall time (or the
/// recovered state's time, if later) and runs `speed` times as fast.
#[derive(Clone, Copy, Debug)]
struct Clock {
    started: Instant,
    start_s: u64,
    speed: u64,
    /// The last timestamp handed out: time never goes backwards.
    last_s: u64,
}

impl Clock {
    fn now_s(&self) -> u64 {
        if self.speed == 1 {
            return wall_s().max(self.start_s);
        }
        let elapsed_ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.start_s
            .saturating_add(elapsed_ms.saturating_mul(self.speed) / 1000)
    }

    fn tick(&mut self) -> u64 {
        self.last_s = self.now_s().max(self.last_s);
        self.last_s
    }
}

/// Seconds since the Unix epoch, from the wall clock.
#[must_use]
pub fn wall_s() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl AppState {
    /// The engine's time now (what a command submitted now would be stamped with, or later).
    #[must_use]
    pub fn engine_now_s(&self) -> u64 {
        let clock = self
            .clock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        clock.now_s().max(clock.last_s)
    }

    /// Opens the store, recovers the engine and starts the node (a writer over SQLite, or a
    /// member of a cluster over JetStream).
    ///
    /// # Errors
    /// The store cannot be opened or recovery fails (the message says why).
    pub fn start(config: &ServerConfig) -> Result<Arc<Self>, String> {
        let (handle, parts, replica) = match &config.store {
            StoreChoice::Sqlite => {
                let (handle, parts) = Self::start_sqlite(config)?;
                (handle, parts, None)
            }
            StoreChoice::JetStream(rc) => {
                let (handle, parts, replica) = Self::start_replica(config, rc)?;
                (handle, parts, Some(Mutex::new(replica)))
            }
        };
        let Parts {
            hub,
            activity,
            metrics,
            now_s,
            head,
            open_reader,
            view,
            view_seq,
        } = parts;
        let history = config.history.clone().map(|hc| {
            let open = open_reader.clone();
            History {
                projector: Mutex::new(softliq_history::Projector::spawn(
                    move || open(),
                    softliq_history::ProjectorConfig::new(hc.clone()),
                )),
                config: hc,
            }
        });
        // The log written before this start is counted on a reader and thread of its own.
        let counting = activity.clone();
        std::thread::spawn(move || {
            let mut reader = match open_reader() {
                Ok(r) => r,
                Err(e) => return tracing::warn!("activity history: {e}"),
            };
            let read = |after, limit| reader.read_page(after, limit).map_err(|e| e.to_string());
            if let Err(e) = counting.backfill(head, read) {
                tracing::warn!("activity history: {e}");
            }
        });
        Ok(Arc::new(Self {
            handle,
            view,
            view_seq,
            hub,
            metrics,
            tokens: config.tokens.clone(),
            clock: Mutex::new(Clock {
                started: Instant::now(),
                start_s: wall_s().max(now_s),
                speed: config.clock_speed.max(1),
                last_s: now_s,
            }),
            risk: Mutex::new(None),
            risk_refresh: config.risk_refresh,
            closing: tokio::sync::watch::Sender::new(false),
            keeper: Mutex::new(None),
            activity,
            replica,
            history,
        }))
    }

    fn start_sqlite(config: &ServerConfig) -> Result<(Handle, Parts), String> {
        let dir = config.data_dir.display();
        let mut store = SqliteStore::open_writer(&config.data_dir).map_err(|e| match e {
            softliq_node::StoreError::Locked(_) => e.to_string(),
            _ => format!("data directory {dir}: {e} (give a writable --data DIR)"),
        })?;
        let (engine, recovery) = store::recover(
            &mut store,
            EngineConfig {
                audit: config.audit,
            },
        )
        .map_err(|e| e.to_string())?;
        let open_reader: OpenReader = {
            let dir = config.data_dir.clone();
            Arc::new(move || -> Result<Box<dyn Store>, String> {
                SqliteStore::open(&dir)
                    .map(|s| Box::new(s) as Box<dyn Store>)
                    .map_err(|e| format!("data directory {}: {e}", dir.display()))
            })
        };
        let parts = Parts::new(&engine, recovery.seq, open_reader()?, open_reader);
        let observer = parts.observer();
        let handle = store::spawn_observed(engine, store, config.node, Some(observer));
        Ok((handle, parts))
    }

    fn start_replica(
        config: &ServerConfig,
        rc: &softliq_cluster::ReplicaConfig,
    ) -> Result<(Handle, Parts, softliq_cluster::Replica), String> {
        let mut rc = rc.clone();
        rc.node = config.node;
        rc.engine = EngineConfig {
            audit: config.audit,
        };
        let log = rc.log.clone();
        let open_reader: OpenReader = Arc::new(move || -> Result<Box<dyn Store>, String> {
            softliq_cluster::JetStreamStore::open(&log)
                .map(|s| Box::new(s) as Box<dyn Store>)
                .map_err(|e| e.to_string())
        });
        let reader = open_reader()?;
        let mut parts = None;
        let (replica, _) = softliq_cluster::Replica::start(&rc, |engine, recovery| {
            let p = Parts::new(engine, recovery.seq, reader, open_reader);
            let observer = p.observer();
            parts = Some(p);
            Some(observer)
        })
        .map_err(|e| format!("cluster (stream {}): {e}", rc.log.stream))?;
        let parts = parts.ok_or("cluster: the replica started without recovering")?;
        Ok((replica.handle.clone(), parts, replica))
    }

    /// The client id of a request: its `Idempotency-Key` scoped to the caller (so two callers
    /// never share an id), else a fresh random one.
    #[must_use]
    pub fn client_id(principal: &Principal, key: Option<&str>) -> ClientId {
        key.map_or_else(
            || ClientId(rand::random()),
            |k| ClientId::from_key(&format!("{}\u{1f}{k}", principal.subject)),
        )
    }

    /// Stamps `body` with the clock, submits it, and waits for its durable acknowledgement.
    ///
    /// # Errors
    /// The engine's rejection (4xx), or 503 when the node has stopped.
    pub async fn submit(&self, client_id: ClientId, body: CommandBody) -> Result<Ack, ApiError> {
        self.submit_at(client_id, move |_| body).await
    }

    /// [`AppState::submit`] for a body that depends on the command's timestamp (a price
    /// posted without a publication time is published "now").
    ///
    /// # Errors
    /// As [`AppState::submit`].
    pub async fn submit_at(
        &self,
        client_id: ClientId,
        body: impl FnOnce(u64) -> CommandBody,
    ) -> Result<Ack, ApiError> {
        let (tx, rx) = oneshot::channel();
        let started = Instant::now();
        let is_price;
        {
            let mut clock = self.clock.lock().unwrap_or_else(|e| e.into_inner());
            let now = clock.tick();
            let body = body(now);
            is_price = matches!(body, CommandBody::PostPrice { .. });
            let cmd = Command {
                client_id,
                timestamp_s: now,
                body,
            };
            self.handle.submit_with(cmd, move |outcome| {
                let _ = tx.send(outcome);
            });
        }
        let outcome = rx
            .await
            .map_err(|_| ApiError::unavailable("the engine stopped"))?;
        match outcome {
            Ok(ack) => {
                self.metrics.commit(started.elapsed().as_secs_f64());
                if is_price && ack.applied_ns > 0 {
                    self.metrics.detection(ack.applied_ns as f64 / 1e9);
                }
                Ok(ack)
            }
            Err(e) => Err(ApiError::from(e)),
        }
    }

    /// Runs `f` on the read view once it holds every command acknowledged before this call
    /// (a client reads its own writes), on the calling thread: for quick reads.
    ///
    /// # Errors
    /// 503 when the view stopped following the log or lags by more than [`VIEW_WAIT_MAX`].
    pub async fn read<R: Send + 'static>(
        &self,
        f: impl FnOnce(&Engine) -> R + Send + 'static,
    ) -> Result<R, ApiError> {
        self.fresh().await?;
        Ok(self.view.read(f))
    }

    /// [`AppState::read`] on a blocking thread: for reads that scan every account.
    ///
    /// # Errors
    /// As [`AppState::read`].
    pub async fn read_long<R: Send + 'static>(
        &self,
        f: impl FnOnce(&Engine) -> R + Send + 'static,
    ) -> Result<R, ApiError> {
        self.fresh().await?;
        let view = self.view.clone();
        tokio::task::spawn_blocking(move || view.read(f))
            .await
            .map_err(|e| ApiError::unavailable(format!("the read failed: {e}")))
    }

    /// Waits until the view has every command the node has made durable so far.
    async fn fresh(&self) -> Result<(), ApiError> {
        let wanted = self.handle.durable_seq();
        if self.view.seq() >= wanted {
            return Ok(());
        }
        let mut advanced = self.view_seq.clone();
        advanced.mark_unchanged();
        let waiting = async {
            loop {
                match self.view.reached(wanted) {
                    Ok(true) => return Ok(()),
                    Ok(false) => {}
                    Err(e) => return Err(ApiError::unavailable(e.to_string())),
                }
                if advanced.changed().await.is_err() {
                    return Err(ApiError::unavailable("the read view stopped"));
                }
            }
        };
        tokio::time::timeout(VIEW_WAIT_MAX, waiting)
            .await
            .unwrap_or_else(|_| {
                Err(ApiError::unavailable(format!(
                    "the read view has not reached entry {wanted} after {} ms (it is at {})",
                    VIEW_WAIT_MAX.as_millis(),
                    self.view.seq()
                )))
            })
    }

    /// This node's place in its cluster, when the log is replicated.
    #[must_use]
    pub fn cluster_view(&self) -> Option<softliq_api::queries::ClusterView> {
        let replica = self.replica.as_ref()?;
        let r = replica.lock().unwrap_or_else(|e| e.into_inner());
        Some(softliq_api::queries::ClusterView {
            stream: r.config().log.stream.clone(),
            node: r.config().log.node.clone(),
            lag_messages: r.status.lag_messages(),
            promotions: r.status.promotions(),
            promotion_ms: r.status.promotion_ms(),
            failure: r.status.failure(),
        })
    }

    /// Why this node left its cluster, once it has (the server then stops).
    #[must_use]
    pub fn cluster_failure(&self) -> Option<String> {
        let replica = self.replica.as_ref()?;
        let r = replica.lock().unwrap_or_else(|e| e.into_inner());
        r.status.failure()
    }

    /// Shows an in-process keeper's counters in `/metrics`.
    pub fn attach_keeper(&self, stats: softliq_api::SharedStats) {
        *self.keeper.lock().unwrap_or_else(|e| e.into_inner()) = Some(stats);
    }

    /// A copy of the in-process keeper's counters, if one runs.
    pub fn keeper_stats(&self) -> Option<softliq_api::KeeperStats> {
        let shared = self
            .keeper
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()?;
        let stats = shared.lock().unwrap_or_else(|e| e.into_inner()).clone();
        Some(stats)
    }

    /// The risk board, rebuilt when it is older than the refresh interval.
    ///
    /// # Errors
    /// 503 when the node has stopped.
    pub async fn risk_board(&self) -> Result<Arc<RiskBoard>, ApiError> {
        let cached = self.risk.lock().unwrap_or_else(|e| e.into_inner()).clone();
        // Fresh for the refresh interval, or ten times as long as it took to build: the board
        // is built on the read view, which must spend at most a tenth of its time on it (a
        // build holds back the view's next entry, and so the reads waiting for it) however
        // large the book (24,000 accounts with debt take about 40 ms on a 2-core VM).
        let fresh = |(built, took, _): &(Instant, Duration, Arc<RiskBoard>)| {
            built.elapsed() < self.risk_refresh.max(*took * 10)
        };
        if let Some((_, _, board)) = cached.filter(fresh) {
            return Ok(board);
        }
        let (board, took) = self
            .read_long(|e| {
                let started = Instant::now();
                let board = risk::build(e);
                (board, started.elapsed())
            })
            .await?;
        let board = Arc::new(board);
        *self.risk.lock().unwrap_or_else(|e| e.into_inner()) =
            Some((Instant::now(), took, board.clone()));
        Ok(board)
    }

    /// The engine clock's time now, without stamping anything: what reads of time-dependent
    /// figures (an auction's falling price) are computed at.
    #[must_use]
    pub fn now_s(&self) -> u64 {
        let clock = self.clock.lock().unwrap_or_else(|e| e.into_inner());
        clock.now_s().max(clock.last_s)
    }

    /// Changes the clock's speed from now on (the demo seeds its market at wall speed, then
    /// replays prices fast).
    pub fn set_clock_speed(&self, speed: u64) {
        let mut clock = self.clock.lock().unwrap_or_else(|e| e.into_inner());
        let now = clock.tick();
        clock.started = Instant::now();
        clock.start_s = now;
        clock.speed = speed.max(1);
    }

    /// Stops the node: everything accepted is written before this returns (and then a
    /// cluster member gives up the writer's lease, so a standby takes over at once).
    pub fn shutdown(&self) -> Result<(), String> {
        self.handle.shutdown();
        if let Some(replica) = &self.replica {
            replica.lock().unwrap_or_else(|e| e.into_inner()).stop();
        }
        if let Some(history) = &self.history {
            history
                .projector
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .stop();
        }
        match self.handle.store_failure() {
            None => Ok(()),
            Some(why) => Err(format!(
                "stopped while the store could not write ({why}); the commands held then were \
                 refused and none of them was acknowledged"
            )),
        }
    }
}

/// What the service builds around a recovered engine, whichever store holds the log.
struct Parts {
    hub: Arc<Hub>,
    activity: Arc<crate::activity::Activity>,
    metrics: Metrics,
    now_s: u64,
    /// The last entry recovered.
    head: u64,
    /// Opens a reader of the log (the activity history's backfill, the projector).
    open_reader: OpenReader,
    view: ReadView,
    view_seq: tokio::sync::watch::Receiver<u64>,
}

impl Parts {
    fn new(engine: &Engine, head: u64, reader: Box<dyn Store>, open_reader: OpenReader) -> Self {
        let metrics = Metrics::default();
        metrics.know_symbols(
            engine
                .state()
                .assets
                .iter()
                .map(|a| a.symbol.clone())
                .collect(),
        );
        let (advanced, view_seq) = tokio::sync::watch::channel(engine.state().seq);
        let view = ReadView::start(
            engine,
            Some(Box::new(move |seq| {
                advanced.send_replace(seq);
            })),
        );
        Self {
            view,
            view_seq,
            hub: Arc::new(Hub::new(reader, head)),
            activity: Arc::new(crate::activity::Activity::new(engine)),
            metrics,
            now_s: engine.state().now_s,
            head,
            open_reader,
        }
    }

    /// The node's observer: metrics, activity and the live feed follow the log through it.
    fn observer(&self) -> store::Observer {
        let (hub, metrics, activity, view) = (
            self.hub.clone(),
            self.metrics.clone(),
            self.activity.clone(),
            self.view.clone(),
        );
        Box::new(move |entries: &[store::Entry]| {
            view.feed(entries);
            metrics.observe_batch(entries);
            activity.observe(entries);
            hub.publish(entries);
        })
    }
}
