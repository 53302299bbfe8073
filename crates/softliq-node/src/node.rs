//! The durable engine: two threads and group commit.
//!
//! The **engine thread** owns the [`Engine`]. It takes commands in arrival order, applies each
//! at once (a rejection is answered at once: it changed nothing), and hands every accepted
//! command with its events to the **writer thread**. The writer owns the [`Store`]; it takes
//! everything waiting (up to `batch_max`, optionally waiting up to `wait_max` for more), writes
//! it in one transaction, and only after that transaction is durable sends the
//! acknowledgements. While one batch is being fsynced the next one accumulates, so the batch
//! size follows the load and one fsync serves many commands.
//!
//! Reads run on the engine thread and see every applied command, including ones whose batch is
//! not yet durable; acknowledgements never get ahead of the disk.
//!
//! A node can also start as a **follower** ([`spawn_follower`]): it has no store yet, refuses
//! commands ([`NodeError::Following`]), and applies entries another node wrote
//! ([`Handle::follow`]), each checked against its logged events as recovery checks them; reads
//! and the observer work as on a writer. [`Handle::promote`] makes it the writer over a store
//! from the next command on (the caller first makes sure it has applied the whole log and that
//! no other node can append to it).
//!
//! If a write fails (a full disk, an I/O error) the node stops taking commands — each is
//! refused with the store's error — and the writer keeps the failed batch, with whatever was
//! already queued behind it, and tries it again every `retry_every` until it is written. Then
//! the held acknowledgements go out and commands are taken again: nothing acknowledged is lost,
//! nothing is written out of order, and no restart is needed once space returns. A stop while
//! the store is failing answers the held commands with the error (none was acknowledged).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, SyncSender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::recover::apply_logged;
use crate::{Entry, Store};
use softliq_engine::Engine;
use softliq_engine::command::Command;
use softliq_engine::event::Events;
use softliq_engine::rejection::Rejection;

/// Group commit and snapshot settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NodeConfig {
    /// Most commands in one transaction.
    pub batch_max: usize,
    /// How long the writer may wait for a batch to fill once it has one command; zero means
    /// "write whatever is waiting" (batches then grow with the load by themselves).
    pub wait_max: Duration,
    /// How long the writer may wait for more of a batch while many commands (at least 256)
    /// are queued for the engine behind it: their latency is already the queue's, and one
    /// transaction then serves more of them (without it a writer quicker than the engine
    /// writes many small batches, and their transactions take processor time from the engine
    /// on a small machine). Never used when the node keeps up, so its latency is unchanged.
    pub backlog_wait_max: Duration,
    /// A snapshot is written after every this many commands,
    pub snapshot_every: u64,
    /// or once this much time has passed since the last one with at least one command since
    /// (so a quiet server's restart time stays bounded too).
    pub snapshot_interval: Duration,
    /// Most commands queued before submitters block (back-pressure).
    pub queue_max: usize,
    /// How long the writer waits before trying a failed write again.
    pub retry_every: Duration,
}

impl Default for NodeConfig {
    fn default() -> Self {
        Self {
            batch_max: 4096,
            wait_max: Duration::ZERO,
            backlog_wait_max: Duration::from_millis(2),
            snapshot_every: 100_000,
            snapshot_interval: Duration::from_secs(300),
            queue_max: 65_536,
            retry_every: Duration::from_secs(1),
        }
    }
}

/// An acknowledged command: durable, with its sequence number and events.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ack {
    /// The command's sequence number (the first outcome's, for a retry).
    pub seq: u64,
    pub events: Events,
    /// How long the engine thread spent applying it (detection included), in nanoseconds;
    /// zero for a retry.
    pub applied_ns: u64,
}

/// Why a command got no acknowledgement.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NodeError {
    #[error(transparent)]
    Rejected(#[from] Rejection),
    #[error(
        "the store cannot write, commands are refused until it can (nothing acknowledged is lost): {0}"
    )]
    Store(String),
    #[error("node stopped")]
    Stopped,
    /// The node follows a log another node writes.
    #[error("this node follows the log another node writes: send commands to the writer")]
    Following,
}

/// Where an outcome goes: a channel for blocking callers, a callback for async ones.
type Reply = Box<dyn FnOnce(Result<Ack, NodeError>) + Send>;
type Job = Box<dyn FnOnce(&Engine) + Send>;

enum EngineMsg {
    Command(Box<Command>, Reply),
    Read(Job),
    /// An entry another node wrote, for a follower to apply.
    Logged(Box<Entry>),
    /// Become the writer over this store; answered with the last applied sequence number.
    Promote(Box<dyn Store>, Sender<u64>),
    Stop(Sender<()>),
}

enum WriterMsg {
    /// An accepted command to write; `reply` is answered once it is durable.
    Entry(Box<Entry>, u64, Reply),
    /// A retry of command `seq`: answered once `seq` is durable.
    Wait(u64, Events, Reply),
    Snapshot(u64, Vec<u8>),
    Stop(Sender<()>),
}

/// The submitting side of a running node. Cloneable; every clone talks to the same engine.
#[derive(Clone)]
pub struct Handle {
    tx: SyncSender<EngineMsg>,
    threads: Threads,
    failure: Arc<Failure>,
    leading: Arc<AtomicBool>,
    /// The last applied sequence number (written or followed).
    applied: Arc<AtomicU64>,
    /// Commands submitted and not yet taken by the engine thread.
    queued: Arc<AtomicU64>,
    /// The last durable sequence number (written, or followed).
    durable: Arc<AtomicU64>,
}

type Threads = Arc<std::sync::Mutex<Vec<JoinHandle<()>>>>;

impl std::fmt::Debug for Handle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handle").finish_non_exhaustive()
    }
}

impl Handle {
    /// Queues `cmd`; the receiver yields the outcome once it is durable (or refused).
    #[must_use]
    pub fn submit(&self, cmd: Command) -> Receiver<Result<Ack, NodeError>> {
        let (tx, rx) = mpsc::channel();
        self.submit_with(cmd, move |outcome| {
            let _ = tx.send(outcome);
        });
        rx
    }

    /// Queues `cmd`; `reply` is called with the outcome once it is durable (or refused), on
    /// the engine or writer thread, so it must be quick (send on a channel, say).
    pub fn submit_with(
        &self,
        cmd: Command,
        reply: impl FnOnce(Result<Ack, NodeError>) + Send + 'static,
    ) {
        self.queued.fetch_add(1, Ordering::Relaxed);
        if let Err(mpsc::SendError(EngineMsg::Command(_, reply))) = self
            .tx
            .send(EngineMsg::Command(Box::new(cmd), Box::new(reply)))
        {
            self.queued.fetch_sub(1, Ordering::Relaxed);
            reply(Err(NodeError::Stopped));
        }
    }

    /// Applies `cmd` and waits for its acknowledgement.
    ///
    /// # Errors
    /// The rejection, a store failure, or a stopped node.
    pub fn apply(&self, cmd: Command) -> Result<Ack, NodeError> {
        self.submit(cmd).recv().unwrap_or(Err(NodeError::Stopped))
    }

    /// Runs `f` on the engine thread, between commands.
    ///
    /// # Errors
    /// `Stopped` when the node has stopped.
    pub fn read<R: Send + 'static>(
        &self,
        f: impl FnOnce(&Engine) -> R + Send + 'static,
    ) -> Result<R, NodeError> {
        let (tx, rx) = mpsc::channel();
        self.run(move |engine| {
            let _ = tx.send(f(engine));
        })?;
        rx.recv().map_err(|_| NodeError::Stopped)
    }

    /// Queues `job` to run on the engine thread between commands, without waiting for it
    /// (async callers send its result back on a channel of their own).
    ///
    /// # Errors
    /// `Stopped` when the node has stopped.
    pub fn run(&self, job: impl FnOnce(&Engine) + Send + 'static) -> Result<(), NodeError> {
        self.tx
            .send(EngineMsg::Read(Box::new(job)))
            .map_err(|_| NodeError::Stopped)
    }

    /// Why the store cannot write, while it cannot (and after a stop that found it failing:
    /// the commands held then were answered with this error, none acknowledged).
    #[must_use]
    pub fn store_failure(&self) -> Option<String> {
        self.failure.current()
    }

    /// Whether this node writes the log (a follower does not, until promoted).
    #[must_use]
    pub fn leading(&self) -> bool {
        self.leading.load(Ordering::Acquire)
    }

    /// The last sequence number the engine applied (written, or followed).
    #[must_use]
    pub fn applied_seq(&self) -> u64 {
        self.applied.load(Ordering::Acquire)
    }

    /// The last durable sequence number: every command acknowledged so far is at or below
    /// it (a read that must show them waits for a [`crate::ReadView`] to reach it).
    #[must_use]
    pub fn durable_seq(&self) -> u64 {
        self.durable.load(Ordering::Acquire)
    }

    /// Queues an entry another node wrote, for this follower to apply in order. An entry that
    /// does not follow on, or gives other events than logged, stops the following: the reason
    /// is then [`Handle::store_failure`], and the node must be restarted from the log.
    ///
    /// # Errors
    /// `Stopped` when the node has stopped.
    pub fn follow(&self, entry: Entry) -> Result<(), NodeError> {
        self.tx
            .send(EngineMsg::Logged(Box::new(entry)))
            .map_err(|_| NodeError::Stopped)
    }

    /// Makes this follower the writer over `store`; returns the last applied sequence number
    /// (the store's tail must be there). Commands are taken from then on.
    ///
    /// # Errors
    /// `Stopped` when the node has stopped.
    pub fn promote(&self, store: Box<dyn Store>) -> Result<u64, NodeError> {
        let (tx, rx) = mpsc::channel();
        self.tx
            .send(EngineMsg::Promote(store, tx))
            .map_err(|_| NodeError::Stopped)?;
        rx.recv().map_err(|_| NodeError::Stopped)
    }

    /// Stops taking commands, writes everything accepted, and joins both threads.
    pub fn shutdown(&self) {
        let (tx, rx) = mpsc::channel();
        if self.tx.send(EngineMsg::Stop(tx)).is_ok() {
            let _ = rx.recv();
        }
        let threads = std::mem::take(&mut *self.threads.lock().unwrap_or_else(|e| e.into_inner()));
        for t in threads {
            let _ = t.join();
        }
    }
}

/// Called by the writer with every batch once it is durable, before its acknowledgements go
/// out: a server's live stream and metrics follow the log through it, and never see a
/// command that could still be lost.
pub type Observer = Box<dyn FnMut(&[Entry]) + Send>;

/// Starts a node over `engine` (already recovered from `store`).
///
/// # Panics
/// When the operating system refuses to start a thread.
pub fn spawn<S: Store + 'static>(engine: Engine, store: S, config: NodeConfig) -> Handle {
    spawn_observed(engine, store, config, None)
}

/// [`spawn`], with an [`Observer`] of durable batches.
///
/// # Panics
/// When the operating system refuses to start a thread.
pub fn spawn_observed<S: Store + 'static>(
    engine: Engine,
    store: S,
    config: NodeConfig,
    observer: Option<Observer>,
) -> Handle {
    start(engine, Some(Box::new(store)), config, observer)
}

/// Starts a follower over `engine` (recovered from the log it will follow): no store, and
/// the observer sees each followed entry once applied.
///
/// # Panics
/// When the operating system refuses to start a thread.
pub fn spawn_follower(engine: Engine, config: NodeConfig, observer: Option<Observer>) -> Handle {
    start(engine, None, config, observer)
}

/// The shared state of a node's threads.
struct Shared {
    config: NodeConfig,
    durable: Arc<AtomicU64>,
    failed: Arc<Failure>,
    leading: Arc<AtomicBool>,
    applied: Arc<AtomicU64>,
    queued: Arc<AtomicU64>,
    threads: Threads,
}

fn start(
    engine: Engine,
    store: Option<Box<dyn Store>>,
    config: NodeConfig,
    observer: Option<Observer>,
) -> Handle {
    let (tx, rx) = mpsc::sync_channel(config.queue_max);
    let (wtx, wrx) = mpsc::sync_channel(config.queue_max);
    let shared = Shared {
        config,
        durable: Arc::new(AtomicU64::new(engine.state().seq)),
        failed: Arc::new(Failure::default()),
        leading: Arc::new(AtomicBool::new(false)),
        applied: Arc::new(AtomicU64::new(engine.state().seq)),
        queued: Arc::new(AtomicU64::new(0)),
        threads: Arc::new(std::sync::Mutex::new(Vec::new())),
    };
    let handle = Handle {
        tx,
        threads: shared.threads.clone(),
        failure: shared.failed.clone(),
        leading: shared.leading.clone(),
        applied: shared.applied.clone(),
        queued: shared.queued.clone(),
        durable: shared.durable.clone(),
    };
    let mut writer = Some((wrx, observer));
    if let Some(store) = store {
        start_writer(&shared, store, &mut writer);
    }
    let engine_thread = std::thread::Builder::new()
        .name("softliq-engine".into())
        .spawn(move || engine_loop(engine, &rx, &wtx, &shared, writer))
        .expect("spawn engine thread");
    handle
        .threads
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(engine_thread);
    handle
}

/// The writer's half, before it starts: its queue and the observer.
type Pending = Option<(Receiver<WriterMsg>, Option<Observer>)>;

/// Starts the writer thread over `store` (once: `pending` is taken).
fn start_writer(shared: &Shared, store: Box<dyn Store>, pending: &mut Pending) {
    let Some((wrx, observer)) = pending.take() else {
        return;
    };
    let (durable, failed, config) = (shared.durable.clone(), shared.failed.clone(), shared.config);
    let queued = shared.queued.clone();
    let writer = std::thread::Builder::new()
        .name("softliq-writer".into())
        .spawn(move || {
            let inbox = Inbox {
                rx: &wrx,
                queued: &queued,
            };
            write_loop(store, &inbox, config, &durable, &failed, observer);
        })
        .expect("spawn writer thread");
    shared
        .threads
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(writer);
    shared.leading.store(true, Ordering::Release);
}

/// The store's current failure, shared by the writer (which sets and clears it) and the
/// engine thread (which refuses commands while it is set).
#[derive(Default)]
struct Failure {
    failing: AtomicBool,
    reason: std::sync::Mutex<String>,
}

impl Failure {
    fn set(&self, reason: String) {
        *self.reason.lock().unwrap_or_else(|e| e.into_inner()) = reason;
        self.failing.store(true, Ordering::Release);
    }

    fn clear(&self) {
        self.failing.store(false, Ordering::Release);
    }

    /// The reason, while the store is failing.
    fn current(&self) -> Option<String> {
        self.failing.load(Ordering::Acquire).then(|| {
            self.reason
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone()
        })
    }
}

fn engine_loop(
    mut engine: Engine,
    rx: &Receiver<EngineMsg>,
    wtx: &SyncSender<WriterMsg>,
    shared: &Shared,
    mut pending: Pending,
) {
    let mut snapshots = Snapshots {
        last: engine.state().seq,
        at: Instant::now(),
    };
    while let Ok(msg) = rx.recv() {
        match msg {
            EngineMsg::Read(job) => job(&engine),
            EngineMsg::Stop(done) => {
                if pending.is_some() {
                    // A follower has no writer: nothing is waiting to be written.
                    let _ = done.send(());
                } else {
                    let _ = wtx.send(WriterMsg::Stop(done));
                }
                return;
            }
            EngineMsg::Logged(entry) => follow(&mut engine, &entry, shared, &mut pending),
            EngineMsg::Promote(store, done) => {
                snapshots.last = engine.state().seq;
                start_writer(shared, store, &mut pending);
                let _ = done.send(engine.state().seq);
            }
            EngineMsg::Command(cmd, reply) => {
                shared.queued.fetch_sub(1, Ordering::Relaxed);
                if pending.is_some() {
                    reply(Err(NodeError::Following));
                    continue;
                }
                apply_command(&mut engine, *cmd, reply, wtx, shared, &mut snapshots);
            }
        }
    }
}

/// When the engine thread last asked for a snapshot.
struct Snapshots {
    last: u64,
    at: Instant,
}

/// A follower applies an entry another node wrote.
fn follow(engine: &mut Engine, entry: &Entry, shared: &Shared, pending: &mut Pending) {
    let Some((_, observer)) = pending.as_mut() else {
        // A writer never follows: an entry sent to it is a caller's mistake, and ignored.
        return;
    };
    if shared.failed.current().is_some() {
        return;
    }
    match apply_logged(engine, entry) {
        Ok(()) => {
            shared.durable.store(entry.seq, Ordering::Release);
            shared.applied.store(entry.seq, Ordering::Release);
            if let Some(observe) = observer.as_mut() {
                observe(std::slice::from_ref(entry));
            }
        }
        Err(e) => shared
            .failed
            .set(format!("following stopped at entry {}: {e}", entry.seq)),
    }
}

/// A writer applies a submitted command and hands it to the writer thread.
fn apply_command(
    engine: &mut Engine,
    cmd: Command,
    reply: Reply,
    wtx: &SyncSender<WriterMsg>,
    shared: &Shared,
    snapshots: &mut Snapshots,
) {
    if let Some(reason) = shared.failed.current() {
        reply(Err(NodeError::Store(reason)));
        return;
    }
    let before = engine.state().seq;
    let started = Instant::now();
    let outcome = engine.apply(&cmd);
    let applied_ns = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
    match outcome {
        Err(r) => reply(Err(NodeError::Rejected(r))),
        Ok(events) if engine.state().seq == before => {
            // A retry: answer with the first outcome once it is durable.
            let seq = engine
                .state()
                .receipts
                .get(cmd.client_id)
                .map_or(before, |r| r.seq);
            if seq <= shared.durable.load(Ordering::Acquire) {
                reply(Ok(Ack {
                    seq,
                    events,
                    applied_ns: 0,
                }));
            } else {
                let _ = wtx.send(WriterMsg::Wait(seq, events, reply));
            }
        }
        Ok(events) => {
            let seq = engine.state().seq;
            shared.applied.store(seq, Ordering::Release);
            let entry = Box::new(Entry {
                seq,
                command: cmd,
                events,
            });
            let _ = wtx.send(WriterMsg::Entry(entry, applied_ns, reply));
            let config = &shared.config;
            if seq - snapshots.last >= config.snapshot_every
                || snapshots.at.elapsed() >= config.snapshot_interval
            {
                snapshots.last = seq;
                snapshots.at = Instant::now();
                let _ = wtx.send(WriterMsg::Snapshot(seq, engine.state().encode_snapshot()));
            }
        }
    }
}

/// What an acknowledgement will carry: the events of an entry in this batch (moved out of it
/// once written), or a retry's events.
enum Outcome {
    /// The entry's index in the batch, and its apply time.
    Written(usize, u64),
    Retry(u64, Events),
}

/// One batch being assembled by the writer.
#[derive(Default)]
struct Batch {
    entries: Vec<Entry>,
    replies: Vec<(Outcome, Reply)>,
    snapshot: Option<(u64, Vec<u8>)>,
    stop: Option<Sender<()>>,
}

impl Batch {
    fn take(&mut self, msg: WriterMsg) {
        match msg {
            WriterMsg::Entry(entry, applied_ns, reply) => {
                self.replies
                    .push((Outcome::Written(self.entries.len(), applied_ns), reply));
                self.entries.push(*entry);
            }
            WriterMsg::Wait(seq, events, reply) => {
                self.replies.push((Outcome::Retry(seq, events), reply));
            }
            WriterMsg::Snapshot(seq, bytes) => self.snapshot = Some((seq, bytes)),
            WriterMsg::Stop(done) => self.stop = Some(done),
        }
    }

    fn closed(&self, config: &NodeConfig) -> bool {
        self.stop.is_some() || self.snapshot.is_some() || self.entries.len() >= config.batch_max
    }
}

/// What the writer reads: its queue, and how many commands wait for the engine behind it.
struct Inbox<'a> {
    rx: &'a Receiver<WriterMsg>,
    queued: &'a AtomicU64,
}

fn write_loop<S: Store>(
    mut store: S,
    inbox: &Inbox<'_>,
    config: NodeConfig,
    durable: &AtomicU64,
    failed: &Failure,
    mut observer: Option<Observer>,
) {
    let mut held: Option<Batch> = None;
    loop {
        let mut batch = match held.take() {
            // Retrying a failed write: with it goes what was queued behind it since.
            Some(mut batch) => {
                while let Ok(msg) = inbox.rx.try_recv() {
                    batch.take(msg);
                }
                batch
            }
            None => {
                let Ok(first) = inbox.rx.recv() else { return };
                let mut batch = Batch::default();
                batch.take(first);
                fill(&mut batch, inbox, &config);
                batch
            }
        };
        let snapshot = batch.snapshot.as_ref().map(|(s, b)| (*s, b.as_slice()));
        let written = if batch.entries.is_empty() && snapshot.is_none() {
            Ok(())
        } else {
            store.append(&batch.entries, snapshot)
        };
        if let Err(e) = written {
            failed.set(e.to_string());
            if let Some(done) = batch.stop {
                for (_, reply) in batch.replies {
                    reply(Err(NodeError::Store(e.to_string())));
                }
                let _ = done.send(());
                return;
            }
            std::thread::sleep(config.retry_every);
            held = Some(batch);
            continue;
        }
        failed.clear();
        if let Some(last) = batch.entries.last() {
            durable.store(last.seq, Ordering::Release);
        }
        if let Some(observe) = observer.as_mut().filter(|_| !batch.entries.is_empty()) {
            observe(&batch.entries);
        }
        acknowledge(&mut batch);
        if let Some(done) = batch.stop {
            let _ = done.send(());
            return;
        }
    }
}

/// How often a writer waiting out a backlog looks for more of its batch: polling, not a wake
/// per entry, which would cost the engine a context switch per command.
const BACKLOG_POLL: Duration = Duration::from_micros(250);
/// Commands queued for the engine that make a backlog worth waiting for. A node keeping up
/// with its load has a few in flight at any moment (at 100,000 commands/s, arrivals 10 µs
/// apart against ~3 µs to apply); a flood has thousands.
const BACKLOG_MIN: u64 = 256;

/// Takes what is waiting into `batch`, up to its limits: waiting up to `wait_max`, and up to
/// `backlog_wait_max` while commands are queued for the engine.
fn fill(batch: &mut Batch, inbox: &Inbox<'_>, config: &NodeConfig) {
    let started = Instant::now();
    let deadline = started + config.wait_max;
    let backlog_deadline = started + config.backlog_wait_max;
    while !batch.closed(config) {
        if let Ok(msg) = inbox.rx.try_recv() {
            batch.take(msg);
            continue;
        }
        let now = Instant::now();
        if inbox.queued.load(Ordering::Relaxed) >= BACKLOG_MIN && now < backlog_deadline {
            std::thread::sleep(BACKLOG_POLL.min(backlog_deadline - now));
            continue;
        }
        if now >= deadline {
            break;
        }
        match inbox.rx.recv_timeout(deadline - now) {
            Ok(msg) => batch.take(msg),
            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => break,
        }
    }
}

/// Sends the acknowledgements of a durable batch.
fn acknowledge(batch: &mut Batch) {
    for (outcome, reply) in std::mem::take(&mut batch.replies) {
        let ack = match outcome {
            Outcome::Written(i, applied_ns) => {
                let entry = &mut batch.entries[i];
                Ack {
                    seq: entry.seq,
                    events: std::mem::take(&mut entry.events),
                    applied_ns,
                }
            }
            Outcome::Retry(seq, events) => Ack {
                seq,
                events,
                applied_ns: 0,
            },
        };
        reply(Ok(ack));
    }
}
