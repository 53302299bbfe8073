//! The read view: a second engine that follows the durable log, so that reads are served on
//! the reading threads instead of queueing on the engine thread between commands.
//!
//! The node's observer hands the view every batch once it is durable and before its
//! acknowledgements go out ([`ReadView::feed`]). The view's own thread applies each entry
//! exactly as recovery and followers do (the same command must give the logged events), under
//! the write half of a lock held for one entry at a time; readers take the read half, so any
//! number of them run at once, each on a state that is the log's at some entry.
//!
//! **Freshness.** The view is a little behind the engine: it holds only durable entries (so a
//! read never shows a command that could still be lost, where a read on the engine thread
//! shows applied commands whose batch is not yet written), and it applies them a moment after
//! they become durable. A read that must see everything acknowledged so far first waits until
//! the view reaches the node's durable sequence number ([`crate::Handle::durable_seq`]), taken
//! when the read starts ([`ReadView::wait_for`], or an [`Advance`] callback for async callers). Since an acknowledgement goes out only after its batch is durable and handed to
//! the view, a client reads its own acknowledged writes.
//!
//! **Cost.** Every command is applied twice, once on each thread (the view without the audit),
//! and the state is held twice in memory. A read that holds the lock long (a scan of every
//! account) delays the view's next entry and so reads waiting for freshness, never commands.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Condvar, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use softliq_engine::{Engine, EngineConfig};

use crate::Entry;
use crate::recover::apply_logged;

/// Called by the view's thread with its new sequence number after each batch it applied.
pub type Advance = Box<dyn Fn(u64) + Send + Sync>;

/// A cloneable handle on the view.
#[derive(Clone)]
pub struct ReadView {
    shared: Arc<Shared>,
    tx: Sender<Vec<Entry>>,
}

impl std::fmt::Debug for ReadView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadView")
            .field("seq", &self.seq())
            .finish_non_exhaustive()
    }
}

struct Shared {
    engine: RwLock<Engine>,
    /// The last entry applied: read without a lock, changed only under `failure`'s lock so
    /// that a waiter cannot miss the change it waits for.
    seq: AtomicU64,
    /// Why the view stopped following, once it has; waiters sleep on it.
    failure: Mutex<Option<String>>,
    advanced: Condvar,
    on_advance: Option<Advance>,
}

/// Why a read could not be served from the view.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ViewError {
    /// The view met an entry it could not apply (it would then disagree with the log).
    #[error("the read view stopped following the log: {0}")]
    Stopped(String),
    #[error("the read view did not reach entry {wanted} within {waited_ms} ms (it is at {seq})")]
    Behind {
        wanted: u64,
        seq: u64,
        waited_ms: u128,
    },
}

impl ReadView {
    /// Starts a view at `state` (the engine the node starts from, copied) and its thread.
    /// `on_advance` is called after each applied batch with the view's sequence number.
    ///
    /// # Panics
    /// When the operating system refuses to start a thread.
    #[must_use]
    pub fn start(engine: &Engine, on_advance: Option<Advance>) -> Self {
        // Without the audit: the engine thread checks every invariant on the same commands.
        let copy = Engine::from_state(engine.state().clone(), EngineConfig { audit: false });
        let shared = Arc::new(Shared {
            seq: AtomicU64::new(copy.state().seq),
            failure: Mutex::new(None),
            engine: RwLock::new(copy),
            advanced: Condvar::new(),
            on_advance,
        });
        let (tx, rx) = mpsc::channel();
        let following = Arc::clone(&shared);
        std::thread::Builder::new()
            .name("softliq-view".into())
            .spawn(move || follow(&following, &rx))
            .expect("spawn view thread");
        Self { shared, tx }
    }

    /// Hands the view a durable batch (from the node's observer). Never blocks: the batch is
    /// queued for the view's thread.
    pub fn feed(&self, entries: &[Entry]) {
        let _ = self.tx.send(entries.to_vec());
    }

    /// The last entry the view has applied.
    #[must_use]
    pub fn seq(&self) -> u64 {
        self.shared.seq.load(Ordering::Acquire)
    }

    /// Why the view stopped following the log, once it has.
    #[must_use]
    pub fn failure(&self) -> Option<String> {
        self.shared.lock_failure().clone()
    }

    /// Whether the view has reached `seq`; an error once it never will.
    ///
    /// # Errors
    /// [`ViewError::Stopped`] when the view stopped following before `seq`.
    pub fn reached(&self, seq: u64) -> Result<bool, ViewError> {
        let failure = self.shared.lock_failure();
        match &*failure {
            _ if self.seq() >= seq => Ok(true),
            Some(why) => Err(ViewError::Stopped(why.clone())),
            None => Ok(false),
        }
    }

    /// Blocks until the view has applied `seq`, for at most `wait_max`.
    ///
    /// # Errors
    /// The view stopped, or did not get there in time.
    pub fn wait_for(&self, seq: u64, wait_max: Duration) -> Result<(), ViewError> {
        let deadline = Instant::now() + wait_max;
        let mut failure = self.shared.lock_failure();
        loop {
            if self.seq() >= seq {
                return Ok(());
            }
            if let Some(why) = &*failure {
                return Err(ViewError::Stopped(why.clone()));
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(ViewError::Behind {
                    wanted: seq,
                    seq: self.seq(),
                    waited_ms: wait_max.as_millis(),
                });
            }
            failure = self
                .shared
                .advanced
                .wait_timeout(failure, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// Runs `f` on the view as it is now (take [`ReadView::wait_for`] first for freshness).
    pub fn read<R>(&self, f: impl FnOnce(&Engine) -> R) -> R {
        let engine = self
            .shared
            .engine
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        f(&engine)
    }
}

impl Shared {
    fn lock_failure(&self) -> std::sync::MutexGuard<'_, Option<String>> {
        self.failure.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Makes `seq` (and the failure, if any) known: to waiters, and to the callback.
    fn publish(&self, seq: u64, failure: Option<String>) {
        let mut stopped = self.lock_failure();
        if failure.is_some() {
            *stopped = failure;
        }
        self.seq.store(seq, Ordering::Release);
        drop(stopped);
        self.advanced.notify_all();
        if let Some(advance) = &self.on_advance {
            advance(seq);
        }
    }
}

/// The view's thread: applies each batch, an entry per write lock, until the node is gone or
/// an entry does not apply.
fn follow(shared: &Shared, rx: &Receiver<Vec<Entry>>) {
    while let Ok(batch) = rx.recv() {
        let mut seq = 0;
        for entry in &batch {
            let mut engine = shared
                .engine
                .write()
                .unwrap_or_else(PoisonError::into_inner);
            if entry.seq <= engine.state().seq {
                // Already in the state the view started from.
                continue;
            }
            if let Err(e) = apply_logged(&mut engine, entry) {
                // The view stays at the last entry it applied as logged.
                let good = if seq > 0 {
                    seq
                } else {
                    shared.seq.load(Ordering::Acquire)
                };
                shared.publish(good, Some(format!("entry {}: {e}", entry.seq)));
                return;
            }
            seq = entry.seq;
        }
        if seq > 0 {
            shared.publish(seq, None);
        }
    }
}
