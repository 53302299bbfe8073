//! The event feed: every durable log entry rendered once to JSON, kept in a bounded ring of
//! recent entries and broadcast to live subscribers; older pages are read from the store on
//! a reader connection of its own. The node's writer feeds it after each commit, so nothing
//! that could still be lost is ever shown.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use softliq_api::commands::LogEntry;
use softliq_node::{Entry, Store};
use tokio::sync::broadcast;

use crate::error::ApiError;

/// Entries kept in memory for readers and reconnecting streams.
pub const RECENT_MAX: usize = 65_536;
/// Live entries buffered per subscriber before it must catch up from the ring or the store.
const BROADCAST_MAX: usize = 8_192;
/// Most entries in one page of `GET /v1/events`.
pub const PAGE_MAX: usize = 1_000;

/// One log entry as readers see it.
#[derive(Debug)]
pub struct Published {
    pub seq: u64,
    /// The command's engine time (Unix seconds); never decreases along the log.
    pub timestamp_s: u64,
    /// `{"seq", "timestamp_s", "kind", "command", "events"}`.
    pub json: Arc<str>,
}

impl Published {
    #[must_use]
    pub fn of(entry: &Entry) -> Arc<Self> {
        let view = LogEntry {
            seq: entry.seq,
            timestamp_s: entry.command.timestamp_s,
            kind: Cow::Borrowed(entry.command.body.kind()),
            command: Cow::Borrowed(&entry.command.body),
            events: Cow::Borrowed(&entry.events),
        };
        let json = serde_json::to_string(&view).unwrap_or_else(|e| {
            format!("{{\"seq\":{},\"error\":\"not rendered: {e}\"}}", entry.seq)
        });
        Arc::new(Self {
            seq: entry.seq,
            timestamp_s: entry.command.timestamp_s,
            json: json.into(),
        })
    }
}

/// The feed.
pub struct Hub {
    recent: Mutex<VecDeque<Arc<Published>>>,
    tx: broadcast::Sender<Arc<Published>>,
    reader: Mutex<Box<dyn Store>>,
    head: AtomicU64,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub")
            .field("head", &self.head())
            .finish_non_exhaustive()
    }
}

impl Hub {
    /// A feed whose log so far ends at `head`, read back through `reader`.
    #[must_use]
    pub fn new(reader: Box<dyn Store>, head: u64) -> Self {
        Self {
            recent: Mutex::new(VecDeque::new()),
            tx: broadcast::channel(BROADCAST_MAX).0,
            reader: Mutex::new(reader),
            head: AtomicU64::new(head),
        }
    }

    /// The last durable sequence number.
    pub fn head(&self) -> u64 {
        self.head.load(Ordering::Acquire)
    }

    /// Takes a durable batch (called on the writer thread).
    pub fn publish(&self, entries: &[Entry]) {
        let rendered: Vec<Arc<Published>> = entries.iter().map(Published::of).collect();
        {
            let mut recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
            for p in &rendered {
                if recent.len() == RECENT_MAX {
                    recent.pop_front();
                }
                recent.push_back(p.clone());
            }
        }
        if let Some(last) = rendered.last() {
            self.head.store(last.seq, Ordering::Release);
        }
        for p in rendered {
            // No subscriber is not an error.
            let _ = self.tx.send(p);
        }
    }

    /// Live entries from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Published>> {
        self.tx.subscribe()
    }

    /// Up to `limit` entries with `seq > after`, from memory when the ring still holds them,
    /// else from the store (blocking: call from a blocking task).
    ///
    /// # Errors
    /// The store failed.
    pub fn page(&self, after: u64, limit: usize) -> Result<Vec<Arc<Published>>, ApiError> {
        let limit = limit.clamp(1, PAGE_MAX);
        {
            let recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
            let in_ring = recent
                .front()
                .is_some_and(|f| f.seq <= after.saturating_add(1));
            if in_ring || after >= self.head() {
                let skip = recent.front().map_or(0, |f| {
                    usize::try_from(after.saturating_sub(f.seq - 1)).unwrap_or(usize::MAX)
                });
                return Ok(recent.iter().skip(skip).take(limit).cloned().collect());
            }
        }
        Ok(self
            .entries(after, limit)?
            .iter()
            .map(Published::of)
            .collect())
    }

    /// Up to `limit` entries with `seq > after`, decoded, from the store (for exports, which
    /// need the typed events; blocking).
    ///
    /// # Errors
    /// The store failed.
    pub fn entries(&self, after: u64, limit: usize) -> Result<Vec<Entry>, ApiError> {
        let mut reader = self.reader.lock().unwrap_or_else(|e| e.into_inner());
        reader
            .read_page(after, limit)
            .map_err(|e| ApiError::unavailable(e.to_string()))
    }

    /// The sequence number before the first entry at or after `time_s` (so that paging from it
    /// starts at that entry): a binary search over the log, whose timestamps never decrease
    /// (the server's clock is monotonic). `head` when every entry is older. Blocking.
    ///
    /// # Errors
    /// The store failed.
    pub fn seq_before(&self, time_s: u64) -> Result<u64, ApiError> {
        // Invariant: entries ≤ lo are older than `time_s`; entries > hi are not.
        let (mut lo, mut hi) = (0, self.head());
        while lo < hi {
            let mid = lo + (hi - lo).div_ceil(2);
            let at = self.entries(mid - 1, 1)?;
            let older = at.first().is_some_and(|e| e.command.timestamp_s < time_s);
            if older {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        Ok(lo)
    }
}
