//! What a store keeps (the log's [`Entry`]), how it fails ([`StoreError`]), and the [`Store`]
//! trait every store implements, so that the node never knows which database holds them.

use crate::watermark::{Chain, Watermark};
use softliq_engine::command::Command;
use softliq_engine::event::Events;

/// One accepted command as logged.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Entry {
    pub seq: u64,
    pub command: Command,
    pub events: Events,
}

/// A store failure: the database, or a record that does not decode.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store: {0}")]
    Database(#[from] rusqlite::Error),
    #[error("store: record {seq} does not decode: {problem}")]
    Corrupt { seq: u64, problem: String },
    #[error("store: {0}")]
    Io(#[from] std::io::Error),
    #[error("replay: {0}")]
    Diverged(String),
    /// The store lost or changed what it had acknowledged (or cannot show it did not).
    #[error("store damaged: {0}")]
    Damaged(String),
    /// Another process writes to this data directory.
    #[error("store: {0}")]
    Locked(String),
    /// A remote log service failed or did not answer in time (a retry may succeed).
    #[error("log service: {0}")]
    Remote(String),
    /// Another writer appended to a shared log: this node is no longer the writer, and what
    /// it applied beyond the log is not acknowledged (it must restart from the log).
    #[error("fenced: {0}")]
    Fenced(String),
}

/// Where the log and the snapshots live.
pub trait Store: Send {
    /// Appends `entries` (consecutive sequence numbers) and, if given, a snapshot taken after
    /// the last of them, atomically and durably: when this returns `Ok`, all of it survives a
    /// crash; when it fails or the process dies first, none of it is there.
    ///
    /// # Errors
    /// The database refused the write.
    fn append(
        &mut self,
        entries: &[Entry],
        snapshot: Option<(u64, &[u8])>,
    ) -> Result<(), StoreError>;

    /// The latest snapshot: its sequence number and the encoded state.
    ///
    /// # Errors
    /// The database failed.
    fn latest_snapshot(&mut self) -> Result<Option<(u64, Vec<u8>)>, StoreError>;

    /// Calls `f` on every entry with `seq > after`, in order.
    ///
    /// # Errors
    /// The database failed, a record does not decode, or `f` failed.
    fn read_after(
        &mut self,
        after: u64,
        f: &mut dyn FnMut(Entry) -> Result<(), StoreError>,
    ) -> Result<(), StoreError>;

    /// The last logged sequence number (0 when empty).
    ///
    /// # Errors
    /// The database failed.
    fn last_seq(&mut self) -> Result<u64, StoreError>;

    /// The last entry the store acknowledged as durable, as recorded outside the log; `None`
    /// when it keeps no such record (or has acknowledged nothing).
    ///
    /// # Errors
    /// The record cannot be read, or is missing where the log shows there must be one.
    fn acknowledged(&mut self) -> Result<Option<Watermark>, StoreError> {
        Ok(None)
    }

    /// Entry `seq`'s chain hash, when the store keeps one.
    ///
    /// # Errors
    /// The database failed, or the entry is missing.
    fn chain_at(&mut self, _seq: u64) -> Result<Option<Chain>, StoreError> {
        Ok(None)
    }

    /// Up to `limit` entries with `seq > after`, in order (a page for readers of the history).
    ///
    /// # Errors
    /// As [`Store::read_after`].
    fn read_page(&mut self, after: u64, limit: usize) -> Result<Vec<Entry>, StoreError> {
        let mut page = Vec::new();
        let full = "page full";
        let read = self.read_after(after, &mut |entry| {
            if page.len() >= limit {
                return Err(StoreError::Diverged(full.into()));
            }
            page.push(entry);
            Ok(())
        });
        match read {
            Err(StoreError::Diverged(why)) if why == full => Ok(page),
            other => other.map(|()| page),
        }
    }
}

/// A boxed store is a store: the node can run over a store chosen at run time.
impl Store for Box<dyn Store> {
    fn append(
        &mut self,
        entries: &[Entry],
        snapshot: Option<(u64, &[u8])>,
    ) -> Result<(), StoreError> {
        (**self).append(entries, snapshot)
    }

    fn latest_snapshot(&mut self) -> Result<Option<(u64, Vec<u8>)>, StoreError> {
        (**self).latest_snapshot()
    }

    fn read_after(
        &mut self,
        after: u64,
        f: &mut dyn FnMut(Entry) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        (**self).read_after(after, f)
    }

    fn last_seq(&mut self) -> Result<u64, StoreError> {
        (**self).last_seq()
    }

    fn acknowledged(&mut self) -> Result<Option<Watermark>, StoreError> {
        (**self).acknowledged()
    }

    fn chain_at(&mut self, seq: u64) -> Result<Option<Chain>, StoreError> {
        (**self).chain_at(seq)
    }

    fn read_page(&mut self, after: u64, limit: usize) -> Result<Vec<Entry>, StoreError> {
        (**self).read_page(after, limit)
    }
}
