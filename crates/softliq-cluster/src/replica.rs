//! A node of the cluster: it recovers from the replicated log, follows it, and writes it while
//! it holds the lease.
//!
//! The driver thread runs one loop. While following, it feeds every message of the log to the
//! engine (each entry checked against its logged events) and, every third of the lease's time
//! to live, tries to take the lease. Once it holds the lease it catches up to the log's last
//! message, waits until the engine has applied it, and fences the tail
//! ([`JetStreamStore::fence`]); if another writer appended in between, the fence is refused and
//! it catches up again. When the fence lands, the node is promoted: its store becomes the
//! writer's, commands are taken, and the driver renews the lease. A writer that loses its
//! lease, or whose append is refused by a newer writer's fence, reports it in [`Status`]; the
//! server then stops, and its supervisor restarts it as a standby. Until then its appends are
//! either in the log (no newer writer has fenced yet: the next writer applies them before its
//! fence) or refused (after the fence: never acknowledged), so nothing acknowledged is lost and
//! nothing is applied twice.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use softliq_engine::{Engine, EngineConfig};
use softliq_node::{Handle, NodeConfig, Observer, Recovery, StoreError};

use crate::config::LogConfig;
use crate::feed::Feed;
use crate::lease::Lease;
use crate::log::{JetStreamStore, Tip};

/// How a node joins the cluster.
#[derive(Clone, Debug)]
pub struct ReplicaConfig {
    pub log: LogConfig,
    /// How long the writer's lease lives without renewal: a dead writer is replaced within
    /// about this long (3 s by default).
    pub lease_ttl: Duration,
    /// `true`: follow the log and take the lease when it lapses (a hot standby). `false`: take
    /// the lease at start, and refuse to start while another node holds it.
    pub standby: bool,
    pub node: NodeConfig,
    pub engine: EngineConfig,
}

impl ReplicaConfig {
    #[must_use]
    pub fn new(log: LogConfig, standby: bool) -> Self {
        Self {
            log,
            lease_ttl: Duration::from_secs(3),
            standby,
            node: NodeConfig::default(),
            engine: EngineConfig::default(),
        }
    }
}

/// What a node of the cluster is doing, for its status endpoint and its supervisor.
#[derive(Debug, Default)]
pub struct Status {
    leading: AtomicBool,
    /// Messages in the log after the last one this node applied, when it last read one.
    lag_messages: AtomicU64,
    /// Times this node became the writer.
    promotions: AtomicU64,
    /// How long the last promotion took from taking the lease to the fence, in ms.
    promotion_ms: AtomicU64,
    /// Why this node stopped following or writing, once it has.
    failure: Mutex<Option<String>>,
}

impl Status {
    #[must_use]
    pub fn leading(&self) -> bool {
        self.leading.load(Ordering::Acquire)
    }

    #[must_use]
    pub fn lag_messages(&self) -> u64 {
        self.lag_messages.load(Ordering::Acquire)
    }

    #[must_use]
    pub fn promotions(&self) -> u64 {
        self.promotions.load(Ordering::Acquire)
    }

    #[must_use]
    pub fn promotion_ms(&self) -> u64 {
        self.promotion_ms.load(Ordering::Acquire)
    }

    /// Why the node can no longer serve as a member of the cluster.
    #[must_use]
    pub fn failure(&self) -> Option<String> {
        self.failure
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn fail(&self, why: String) {
        tracing::error!("cluster: {why}");
        *self
            .failure
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(why);
    }
}

/// A running member of the cluster.
pub struct Replica {
    pub handle: Handle,
    pub status: Arc<Status>,
    config: ReplicaConfig,
    stop: Arc<AtomicBool>,
    driver: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Replica {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Replica")
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

impl Replica {
    /// Recovers from the log and starts following it (and writing it, once the lease is
    /// taken); the observer `observe` makes from the recovered engine sees every entry once it
    /// is in the log, followed or written.
    ///
    /// # Errors
    /// JetStream is unreachable, recovery fails, or (not a standby) another node holds the
    /// lease.
    pub fn start(
        config: &ReplicaConfig,
        observe: impl FnOnce(&Engine, &Recovery) -> Option<Observer>,
    ) -> Result<(Self, Recovery), StoreError> {
        let mut store = JetStreamStore::open(&config.log)?;
        let mut lease = Lease::open(&config.log, config.lease_ttl)?;
        let held_elsewhere = |lease: &Lease| -> Result<StoreError, StoreError> {
            let holder = lease.holder()?.unwrap_or_else(|| "another node".into());
            Ok(StoreError::Locked(format!(
                "the writer's lease on stream {} is held by {holder}: start this node with \
                 --follow to stand by, or stop the writer first",
                config.log.stream
            )))
        };
        if !config.standby && lease.holder()?.is_some() {
            return Err(held_elsewhere(&lease)?);
        }
        // Recovery before the lease: a long replay must not run out a lease just taken.
        let (engine, recovery) = softliq_node::recover(&mut store, config.engine)?;
        if !config.standby && !lease.acquire()? {
            return Err(held_elsewhere(&lease)?);
        }
        let observer = observe(&engine, &recovery);
        let handle = softliq_node::spawn_follower(engine, config.node, observer);
        let feed = store.feed(recovery.seq)?;
        let status = Arc::new(Status::default());
        let stop = Arc::new(AtomicBool::new(false));
        let mut driver = Driver {
            store: Some(store),
            lease,
            feed,
            handle: handle.clone(),
            status: status.clone(),
            stop: stop.clone(),
        };
        if !config.standby {
            // The lease is held: become the writer before returning, so the caller's first
            // command is taken.
            driver.promote()?;
        }
        let driver = std::thread::Builder::new()
            .name("softliq-replica".into())
            .spawn(move || driver.run())?;
        Ok((
            Self {
                handle,
                status,
                config: config.clone(),
                stop,
                driver: Some(driver),
            },
            recovery,
        ))
    }

    /// Stops the driver and gives up the lease if held (call after the node's shutdown, so
    /// that everything accepted is in the log before a standby takes over).
    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(d) = self.driver.take() {
            let _ = d.join();
        }
    }
}

impl Replica {
    /// How this node joined.
    #[must_use]
    pub fn config(&self) -> &ReplicaConfig {
        &self.config
    }

    /// Stops the driver without giving up the lease, as a crash would (for tests: a standby
    /// then waits for the lease to lapse).
    pub fn abandon(&mut self) {
        self.stop.store(true, Ordering::Release);
        self.status.fail("abandoned".into());
        if let Some(d) = self.driver.take() {
            let _ = d.join();
        }
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        self.stop();
    }
}

/// How long one wait for the next log message lasts while following.
const POLL: Duration = Duration::from_millis(50);

struct Driver {
    /// The store, until the node is promoted and its writer takes it.
    store: Option<JetStreamStore>,
    lease: Lease,
    feed: Feed,
    handle: Handle,
    status: Arc<Status>,
    stop: Arc<AtomicBool>,
}

impl Driver {
    fn run(&mut self) {
        let every = self.lease.ttl() / 3;
        let mut last_try: Option<Instant> = None;
        let mut renew_failing_since: Option<Instant> = None;
        while !self.stop.load(Ordering::Acquire) && self.status.failure().is_none() {
            if let Some(why) = self
                .handle
                .store_failure()
                .filter(|why| why.contains("fenced") || why.contains("following stopped"))
            {
                self.status.fail(why);
                break;
            }
            if self.status.leading() {
                std::thread::sleep(every.min(Duration::from_millis(200)));
                if last_try.is_some_and(|t| t.elapsed() < every) {
                    continue;
                }
                last_try = Some(Instant::now());
                self.keep_lease(&mut renew_failing_since);
                continue;
            }
            if let Err(e) = self.follow_or_reopen() {
                self.status.fail(format!("following the log: {e}"));
                break;
            }
            if last_try.is_none_or(|t| t.elapsed() >= every) {
                last_try = Some(Instant::now());
                match self.lease.acquire() {
                    Ok(true) => {
                        if let Err(e) = self.promote() {
                            tracing::warn!("cluster: not promoted yet: {e}");
                        }
                    }
                    Ok(false) => {}
                    Err(e) => tracing::warn!("cluster: lease: {e}"),
                }
            }
        }
        // A node that failed keeps quiet: its lease lapses by itself.
        if self.lease.held() && self.status.failure().is_none() {
            self.lease.release();
        }
    }

    /// Renews the lease; a lost lease, or one that cannot be renewed for a whole time to live,
    /// ends this node's writing.
    fn keep_lease(&mut self, failing_since: &mut Option<Instant>) {
        match self.lease.renew() {
            Ok(true) => *failing_since = None,
            Ok(false) => self.status.fail(
                "the writer's lease was lost to another node: this node takes no more commands"
                    .into(),
            ),
            Err(e) => {
                let since = *failing_since.get_or_insert_with(Instant::now);
                if since.elapsed() >= self.lease.ttl() {
                    self.status.fail(format!(
                        "the writer's lease could not be renewed for {:?} ({e}): it has lapsed",
                        self.lease.ttl()
                    ));
                }
            }
        }
    }

    /// [`Driver::follow_once`], riding out the log service's failures (a NATS server going
    /// away, a stream electing a new leader): the feed is opened again after the last entry it
    /// delivered. Only a log that does not decode or skips an entry ends the following.
    fn follow_or_reopen(&mut self) -> Result<bool, StoreError> {
        match self.follow_once() {
            Err(StoreError::Remote(why)) => {
                tracing::warn!("cluster: following the log: {why}; reopening");
                std::thread::sleep(POLL * 4);
                let after = self.feed.next_seq() - 1;
                if let Some(store) = &self.store {
                    match store.feed(after) {
                        Ok(feed) => self.feed = feed,
                        Err(e) => tracing::warn!("cluster: reopening the log: {e}"),
                    }
                }
                Ok(false)
            }
            other => other,
        }
    }

    /// Applies the next message of the log, if one comes within the poll interval.
    fn follow_once(&mut self) -> Result<bool, StoreError> {
        let Some(run) = self.feed.next_run(POLL)? else {
            return Ok(false);
        };
        self.status
            .lag_messages
            .store(run.pending, Ordering::Release);
        for entry in run.entries {
            self.handle
                .follow(entry)
                .map_err(|e| StoreError::Diverged(format!("the node: {e}")))?;
        }
        Ok(true)
    }

    /// Holding the lease: catches up to the log's end, fences it, and becomes the writer.
    fn promote(&mut self) -> Result<(), StoreError> {
        let started = Instant::now();
        let Some(store) = self.store.as_mut() else {
            return Ok(());
        };
        let end = store.read_tip()?;
        while self.feed.stream_seq() < end.stream_seq {
            if !self.follow_or_reopen()? && started.elapsed() > self.lease.ttl() {
                return Err(StoreError::Remote(
                    "catching up took longer than the lease".into(),
                ));
            }
        }
        let tip = Tip {
            stream_seq: self.feed.stream_seq(),
            seq: self.feed.next_seq() - 1,
        };
        // Every followed entry applied before the fence: the engine's state is the log's.
        while self.handle.applied_seq() < tip.seq {
            if let Some(why) = self.handle.store_failure() {
                return Err(StoreError::Diverged(why));
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        let Some(store) = self.store.as_mut() else {
            return Ok(());
        };
        store.fence(tip)?;
        let Some(store) = self.store.take() else {
            return Ok(());
        };
        let seq = self
            .handle
            .promote(Box::new(store))
            .map_err(|e| StoreError::Remote(e.to_string()))?;
        debug_assert_eq!(seq, tip.seq);
        let ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.status.promotion_ms.store(ms, Ordering::Release);
        self.status.promotions.fetch_add(1, Ordering::AcqRel);
        self.status.leading.store(true, Ordering::Release);
        tracing::info!(
            "cluster: this node writes the log from entry {} on",
            seq + 1
        );
        Ok(())
    }
}
