//! A store in memory: the log and snapshots in a vector behind a shared handle. Clones share
//! one "disk", so a test can stop a node, open a new one on the same store and recover, as a
//! restart would. It holds the same line as a real store: appends are consecutive, and a batch
//! written again after a lost confirmation must equal what is there (else `Damaged`).

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::{Entry, Store, StoreError};

/// What the memory store holds.
#[derive(Clone, Debug, Default)]
pub struct MemoryDisk {
    pub log: Vec<Entry>,
    pub snapshots: Vec<(u64, Vec<u8>)>,
}

/// An in-memory [`Store`]; clones share one disk.
#[derive(Clone, Debug, Default)]
pub struct MemoryStore {
    disk: Arc<Mutex<MemoryDisk>>,
}

impl MemoryStore {
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The disk, for a test to read what was written.
    pub fn disk(&self) -> MutexGuard<'_, MemoryDisk> {
        self.disk.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Store for MemoryStore {
    fn append(
        &mut self,
        entries: &[Entry],
        snapshot: Option<(u64, &[u8])>,
    ) -> Result<(), StoreError> {
        let mut disk = self.disk();
        let next = disk.log.last().map_or(1, |e| e.seq + 1);
        let (again, fresh): (Vec<&Entry>, Vec<&Entry>) = entries.iter().partition(|e| e.seq < next);
        for e in again {
            let index = usize::try_from(e.seq - 1).unwrap_or(usize::MAX);
            if disk.log.get(index) != Some(e) {
                return Err(StoreError::Damaged(format!(
                    "entry {} written again differs from the one logged",
                    e.seq
                )));
            }
        }
        for (k, e) in fresh.iter().enumerate() {
            if e.seq != next + k as u64 {
                return Err(StoreError::Damaged(format!(
                    "entry {} would leave a gap after {}",
                    e.seq,
                    next + k as u64 - 1
                )));
            }
        }
        disk.log.extend(fresh.into_iter().cloned());
        if let Some((seq, bytes)) = snapshot {
            disk.snapshots.push((seq, bytes.to_vec()));
        }
        Ok(())
    }

    fn latest_snapshot(&mut self) -> Result<Option<(u64, Vec<u8>)>, StoreError> {
        Ok(self.disk().snapshots.last().cloned())
    }

    fn read_after(
        &mut self,
        after: u64,
        f: &mut dyn FnMut(Entry) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        // Copied out first: `f` may take a while, and the node may be writing.
        let tail: Vec<Entry> = self
            .disk()
            .log
            .iter()
            .filter(|e| e.seq > after)
            .cloned()
            .collect();
        tail.into_iter().try_for_each(f)
    }

    fn last_seq(&mut self) -> Result<u64, StoreError> {
        Ok(self.disk().log.last().map_or(0, |e| e.seq))
    }
}
