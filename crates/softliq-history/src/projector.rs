//! The projector: reads the log after the event store's position and writes it there, a page
//! at a time, each page one transaction. It follows the log (polling its end) until stopped;
//! when the database or the log fails it waits and tries again from the position the database
//! holds, so a restart or an outage loses nothing and writes nothing twice.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use softliq_node::Store;

use crate::store::{History, HistoryConfig, HistoryError};

/// How the projector runs.
#[derive(Clone, Debug)]
pub struct ProjectorConfig {
    pub history: HistoryConfig,
    /// How long to wait at the log's end before looking again.
    pub poll: Duration,
    /// Most entries in one transaction.
    pub page_max: usize,
    /// How long to wait after a failure before trying again.
    pub retry_every: Duration,
}

impl ProjectorConfig {
    #[must_use]
    pub fn new(history: HistoryConfig) -> Self {
        Self {
            history,
            poll: Duration::from_millis(200),
            page_max: 1_000,
            retry_every: Duration::from_secs(1),
        }
    }
}

/// Projects the log in `store` until its end (`follow = false`) or until `stop` is set;
/// `at` is told each position reached. Returns the last position.
///
/// # Errors
/// The database or the log failed.
pub fn project(
    store: &mut dyn Store,
    config: &ProjectorConfig,
    follow: bool,
    stop: &AtomicBool,
    at: &mut dyn FnMut(u64),
) -> Result<u64, HistoryError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| HistoryError::Config(format!("runtime: {e}")))?;
    let mut history = rt.block_on(History::connect(&config.history))?;
    let mut position = rt.block_on(history.position())?;
    at(position);
    while !stop.load(Ordering::Acquire) {
        let page = store.read_page(position, config.page_max)?;
        let Some(last) = page.last().map(|e| e.seq) else {
            if !follow {
                break;
            }
            std::thread::sleep(config.poll);
            continue;
        };
        if page[0].seq != position + 1 {
            return Err(HistoryError::Config(format!(
                "the log skips from entry {position} to {}",
                page[0].seq
            )));
        }
        rt.block_on(history.project(&page))?;
        position = last;
        at(position);
    }
    Ok(position)
}

/// A projector running on a thread of its own.
pub struct Projector {
    stop: Arc<AtomicBool>,
    position: Arc<AtomicU64>,
    failure: Arc<Mutex<Option<String>>>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Projector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Projector")
            .field("position", &self.position())
            .finish_non_exhaustive()
    }
}

impl Projector {
    /// Starts following the log that `open` opens (again after each failure).
    ///
    /// # Panics
    /// When the operating system refuses a thread.
    pub fn spawn(
        open: impl Fn() -> Result<Box<dyn Store>, String> + Send + 'static,
        config: ProjectorConfig,
    ) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let position = Arc::new(AtomicU64::new(0));
        let failure = Arc::new(Mutex::new(None));
        let thread = {
            let (stop, position, failure) = (stop.clone(), position.clone(), failure.clone());
            std::thread::Builder::new()
                .name("softliq-projector".into())
                .spawn(move || {
                    while !stop.load(Ordering::Acquire) {
                        let ran = open().map_err(HistoryError::Config).and_then(|mut store| {
                            project(store.as_mut(), &config, true, &stop, &mut |p| {
                                position.store(p, Ordering::Release);
                                *failure.lock().unwrap_or_else(|e| e.into_inner()) = None;
                            })
                        });
                        if let Err(e) = ran {
                            tracing::warn!("history projector: {e}; retrying");
                            *failure.lock().unwrap_or_else(|e| e.into_inner()) =
                                Some(e.to_string());
                            std::thread::sleep(config.retry_every);
                        }
                    }
                })
                .expect("spawn the projector thread")
        };
        Self {
            stop,
            position,
            failure,
            thread: Some(thread),
        }
    }

    /// The last entry in the event store.
    #[must_use]
    pub fn position(&self) -> u64 {
        self.position.load(Ordering::Acquire)
    }

    /// The last failure, until the next page is written.
    #[must_use]
    pub fn failure(&self) -> Option<String> {
        self.failure
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Stops after the page in hand.
    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Projector {
    fn drop(&mut self) {
        self.stop();
    }
}
