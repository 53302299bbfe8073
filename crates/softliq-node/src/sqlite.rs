//! The embedded store: SQLite (bundled, so nothing is needed on the machine) in WAL mode with
//! `synchronous = FULL`, so a committed transaction is on disk when `COMMIT` returns.
//!
//! One row per group-commit batch, up to 256 entries a row (table `batches`): its first and
//! last sequence numbers and a frame of its entries' records, each record a command and its
//! events, postcard-encoded.
//! A batch is one insert in one transaction, so nothing is ever half-written, and the database
//! does per-row work (B-tree insert, page writes) once per batch instead of once per command.
//!
//! Every entry has a chain hash, `chain = BLAKE3(previous chain · seq · record)` (the first
//! entry links from 32 zero bytes), so an entry changed, removed or reordered anywhere breaks
//! every link after it. A row stores its last entry's chain; reading recomputes the links
//! through each batch from the previous row's chain and checks the row's, so damage is found
//! to the batch (and any entry's chain can be recomputed, `chain_at`). After each commit the
//! last entry's chain is written to the watermark file (`watermark.rs`) before `append`
//! returns, so a tail lost below the watermark is found at start. Rows written before chains
//! existed have none: they are read unverified, and the chain starts at the first row that
//! has one.
//!
//! Stores written before batching kept one row per command in a table `log`; opening such a
//! store moves each row into a one-entry batch with its chain, in one transaction.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension, params};

use crate::watermark::{self, Chain, Watermark, WatermarkFile};
use crate::{Entry, Store, StoreError};

/// The link before the first chained row.
const CHAIN_START: Chain = [0; 32];

/// The chain hash of the row `(seq, record)` after a row whose chain is `prev`.
fn link(prev: &Chain, seq: u64, record: &[u8]) -> Chain {
    let mut h = blake3::Hasher::new();
    h.update(prev);
    h.update(&seq.to_le_bytes());
    h.update(record);
    *h.finalize().as_bytes()
}

/// Most entries in one row: a group-commit batch of more is written as several rows in the
/// same transaction, so a row stays near 64 KB and a reader serving a page decodes at most
/// 256 entries it does not need (whole 4,096-command rows were no faster to write).
const ROW_ENTRIES_MAX: usize = 256;

/// How many snapshots to keep (the newest, plus one in case the newest is ever unreadable).
const SNAPSHOTS_KEPT: u64 = 2;

/// A SQLite database file holding the log and the snapshots.
pub struct SqliteStore {
    conn: Connection,
    dir: PathBuf,
    /// The last row's sequence number and chain, once known (the writer keeps it current).
    tip: Option<(u64, Chain)>,
    /// Opened at the first append: readers beside the writer never write it.
    watermark: Option<WatermarkFile>,
    /// The data directory's lock, held by the one writer ([`SqliteStore::open_writer`]).
    _lock: Option<std::fs::File>,
}

/// The lock file in a data directory; it holds the writer's process id.
pub const LOCK_FILE: &str = "softliq.lock";

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens (creating if needed) `dir/softliq.db`.
    ///
    /// # Errors
    /// The directory cannot be created or the database cannot be opened.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir)?;
        let mut conn = Connection::open(dir.join("softliq.db"))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS batches (
                 last_seq INTEGER PRIMARY KEY,
                 first_seq INTEGER NOT NULL,
                 frame BLOB NOT NULL,
                 chain BLOB
             );
             CREATE TABLE IF NOT EXISTS snapshots (
                 seq INTEGER PRIMARY KEY,
                 state BLOB NOT NULL
             );",
        )?;
        migrate_rows_to_batches(&mut conn)?;
        Ok(Self {
            conn,
            dir: dir.to_owned(),
            tip: None,
            watermark: None,
            _lock: None,
        })
    }

    /// Opens `dir` as its one writer: takes an exclusive lock on `dir/softliq.lock` (held until
    /// the store is dropped, released by the system if the process dies) and writes this
    /// process's id into it. Two writers on one directory would interleave their logs; a
    /// second one is refused, naming the holder.
    ///
    /// # Errors
    /// Another process holds the lock, or the directory or database cannot be opened.
    pub fn open_writer(dir: &Path) -> Result<Self, StoreError> {
        use std::io::{Read, Seek, Write};
        std::fs::create_dir_all(dir)?;
        let path = dir.join(LOCK_FILE);
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                return Err(StoreError::Locked(format!(
                    "{} is in use by another softliq process (pid {}); stop it, or give \
                     another data directory",
                    dir.display(),
                    holder
                        .trim()
                        .parse::<u32>()
                        .map_or_else(|_| "unknown".to_owned(), |p| p.to_string())
                )));
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(e.into()),
        }
        file.set_len(0)?;
        file.rewind()?;
        write!(file, "{}", std::process::id())?;
        file.sync_data()?;
        let mut store = Self::open(dir)?;
        store._lock = Some(file);
        Ok(store)
    }

    /// The chain of the last row (the start link for an empty log or one without chains).
    fn tip(&mut self) -> Result<(u64, Chain), StoreError> {
        if let Some(tip) = self.tip {
            return Ok(tip);
        }
        let last = self
            .conn
            .query_row(
                "SELECT last_seq, chain FROM batches ORDER BY last_seq DESC LIMIT 1",
                [],
                |row| Ok((row.get::<_, u64>(0)?, row.get::<_, Option<Vec<u8>>>(1)?)),
            )
            .optional()?;
        let tip = match last {
            None => (0, CHAIN_START),
            Some((seq, chain)) => (seq, chain_of(seq, chain.as_deref())?.unwrap_or(CHAIN_START)),
        };
        self.tip = Some(tip);
        Ok(tip)
    }

    /// The chain before the batch starting at `first_seq`: that of the row ending at
    /// `first_seq − 1` (`None`: it has none, or the batch is the log's first), or an error when
    /// rows come before it but none ends there.
    fn chain_before(&self, first_seq: u64) -> Result<Option<Chain>, StoreError> {
        let last_seq = first_seq - 1;
        if last_seq == 0 {
            return Ok(None);
        }
        let row = self
            .conn
            .query_row(
                "SELECT chain FROM batches WHERE last_seq = ?1",
                params![last_seq],
                |row| row.get::<_, Option<Vec<u8>>>(0),
            )
            .optional()?;
        if let Some(chain) = row {
            return chain_of(last_seq, chain.as_deref());
        }
        // A log may start after entry 1 (written from a snapshot on): its first batch chains
        // from the start, as `append` chained it onto an empty store. A batch with rows before
        // it but none ending right before it is a gap. (Rows lost from the head of a log are
        // still found: the next batch's stored chain does not follow from the start.)
        let earlier: Option<u64> = self
            .conn
            .query_row(
                "SELECT last_seq FROM batches WHERE last_seq < ?1 LIMIT 1",
                params![first_seq],
                |row| row.get(0),
            )
            .optional()?;
        match earlier {
            None => Ok(None),
            Some(_) => Err(StoreError::Damaged(format!(
                "the log has no batch ending at entry {last_seq}, before the one from {first_seq}"
            ))),
        }
    }

    /// Entry `seq`'s chain, recomputed through its batch from the row before (which checks
    /// the batch): `None` for an entry written before chains, an error when it is missing.
    fn entry_chain(&self, seq: u64) -> Result<Option<Chain>, StoreError> {
        let row = self
            .conn
            .query_row(
                "SELECT first_seq, last_seq, frame, chain FROM batches
                     WHERE last_seq >= ?1 ORDER BY last_seq LIMIT 1",
                params![seq],
                Batch::of_row,
            )
            .optional()?;
        let Some(batch) = row.filter(|b| b.first_seq <= seq) else {
            return Err(StoreError::Damaged(format!(
                "the log has no entry {seq}, which a snapshot or the watermark names"
            )));
        };
        let prev = self.chain_before(batch.first_seq)?;
        let mut at = None;
        batch.verify(prev, |entry_seq, _, chain| {
            if entry_seq == seq {
                at = chain;
            }
            Ok(())
        })?;
        Ok(at)
    }
}

/// One stored batch as read: its range, its frame of records, and its stored chain.
struct Batch {
    first_seq: u64,
    last_seq: u64,
    frame: Vec<u8>,
    chain: Option<Vec<u8>>,
}

impl Batch {
    fn of_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            first_seq: row.get(0)?,
            last_seq: row.get(1)?,
            frame: row.get(2)?,
            chain: row.get(3)?,
        })
    }

    /// The frame's records, one per entry from `first_seq` to `last_seq`.
    fn records(&self) -> Result<Vec<&[u8]>, StoreError> {
        let corrupt = |problem: String| StoreError::Corrupt {
            seq: self.first_seq,
            problem,
        };
        let records: Vec<&[u8]> =
            postcard::from_bytes(&self.frame).map_err(|e| corrupt(e.to_string()))?;
        let expected = self.last_seq.checked_sub(self.first_seq).map(|d| d + 1);
        if expected != Some(records.len() as u64) {
            return Err(corrupt(format!(
                "the batch {}..={} holds {} records",
                self.first_seq,
                self.last_seq,
                records.len()
            )));
        }
        Ok(records)
    }

    /// Recomputes the chain through the batch from `prev` (the chain before it), calling
    /// `each(seq, record, chain)` on every entry, then checks the row's stored chain; returns
    /// the batch's last chain (`None` for a batch written before chains).
    fn verify(
        &self,
        prev: Option<Chain>,
        mut each: impl FnMut(u64, &[u8], Option<Chain>) -> Result<(), StoreError>,
    ) -> Result<Option<Chain>, StoreError> {
        let stored = chain_of(self.last_seq, self.chain.as_deref())?;
        let records = self.records()?;
        let broken = |why: &str| {
            StoreError::Damaged(format!(
                "the log's hash chain breaks in entries {}..={} ({why}); the last good entry is {}",
                self.first_seq,
                self.last_seq,
                self.first_seq - 1
            ))
        };
        if stored.is_none() {
            if prev.is_some() {
                return Err(broken("they have no hash after entries that have one"));
            }
            for (seq, record) in (self.first_seq..).zip(&records) {
                each(seq, record, None)?;
            }
            return Ok(None);
        }
        let mut chain = prev.unwrap_or(CHAIN_START);
        let mut computed = Vec::with_capacity(records.len());
        for (seq, record) in (self.first_seq..).zip(&records) {
            chain = link(&chain, seq, record);
            computed.push(chain);
        }
        if Some(chain) != stored {
            return Err(broken(
                "their hash does not follow from the entries before them and their records",
            ));
        }
        for ((seq, record), chain) in (self.first_seq..).zip(&records).zip(computed) {
            each(seq, record, Some(chain))?;
        }
        Ok(stored)
    }
}

/// Moves the rows of a store written before batching (table `log`, one row per command) into
/// one-entry batches with their chains, in one transaction, and drops the old table.
fn migrate_rows_to_batches(conn: &mut Connection) -> Result<(), StoreError> {
    let old = conn
        .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'log'")?
        .exists([])?;
    if !old {
        return Ok(());
    }
    let chained = conn
        .prepare("SELECT 1 FROM pragma_table_info('log') WHERE name = 'chain'")?
        .exists([])?;
    let tx = conn.transaction()?;
    {
        let mut read = tx.prepare(if chained {
            "SELECT seq, record, chain FROM log ORDER BY seq"
        } else {
            "SELECT seq, record, NULL FROM log ORDER BY seq"
        })?;
        let mut insert = tx.prepare(
            "INSERT INTO batches (last_seq, first_seq, frame, chain) VALUES (?1, ?1, ?2, ?3)",
        )?;
        let mut rows = read.query([])?;
        while let Some(row) = rows.next()? {
            let seq = row.get::<_, u64>(0)?;
            let record: Vec<u8> = row.get(1)?;
            let chain: Option<Vec<u8>> = row.get(2)?;
            insert.execute(params![seq, frame_of(&record), chain])?;
        }
    }
    tx.execute_batch("DROP TABLE log")?;
    tx.commit()?;
    Ok(())
}

/// A one-record frame.
fn frame_of(record: &[u8]) -> Vec<u8> {
    let mut frame = frame_for(1);
    push_record(&mut frame, record);
    frame
}

/// The start of a frame of `count` records. A frame is laid out as postcard encodes a
/// sequence of byte strings (a varint count, then each record's varint length and bytes), so
/// it decodes as `Vec<&[u8]>`; it is written by hand because postcard would encode each byte
/// of a `&[u8]` as a separate element.
fn frame_for(count: usize) -> Vec<u8> {
    let mut frame = Vec::new();
    push_varint(&mut frame, count);
    frame
}

/// Appends one record to a frame begun by [`frame_for`].
fn push_record(frame: &mut Vec<u8>, record: &[u8]) {
    push_varint(frame, record.len());
    frame.extend_from_slice(record);
}

/// Appends `n` as postcard's varint (LEB128: seven bits a byte, low first, high bit set on
/// every byte but the last).
fn push_varint(out: &mut Vec<u8>, mut n: usize) {
    while n >= 0x80 {
        out.push(u8::try_from(n & 0x7f).unwrap_or(0) | 0x80);
        n >>= 7;
    }
    out.push(u8::try_from(n).unwrap_or(0));
}

/// A stored chain value as a hash; `None` when the row has none.
fn chain_of(seq: u64, stored: Option<&[u8]>) -> Result<Option<Chain>, StoreError> {
    stored
        .map(|b| {
            Chain::try_from(b).map_err(|_| {
                StoreError::Damaged(format!(
                    "entry {seq}: its chain hash has {} bytes, not 32",
                    b.len()
                ))
            })
        })
        .transpose()
}

fn decode(seq: u64, record: &[u8]) -> Result<Entry, StoreError> {
    let (command, events) = postcard::from_bytes(record).map_err(|err| StoreError::Corrupt {
        seq,
        problem: err.to_string(),
    })?;
    Ok(Entry {
        seq,
        command,
        events,
    })
}

impl Store for SqliteStore {
    /// At most `limit` entries with `seq > after`, in order: a page of the log for readers
    /// (the server's `events` query), on a connection of their own beside the writer's.
    ///
    /// # Errors
    /// The database failed or a record does not decode.
    fn read_page(&mut self, after: u64, limit: usize) -> Result<Vec<Entry>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT first_seq, last_seq, frame, chain FROM batches
                 WHERE last_seq > ?1 ORDER BY last_seq",
        )?;
        let mut rows = stmt.query(params![after])?;
        let mut out = Vec::new();
        while out.len() < limit
            && let Some(row) = rows.next()?
        {
            let batch = Batch::of_row(row)?;
            for (seq, record) in (batch.first_seq..).zip(batch.records()?) {
                if seq > after && out.len() < limit {
                    out.push(decode(seq, record)?);
                }
            }
        }
        Ok(out)
    }

    fn append(
        &mut self,
        entries: &[Entry],
        snapshot: Option<(u64, &[u8])>,
    ) -> Result<(), StoreError> {
        let (_, mut chain) = self.tip()?;
        let mut rows = Vec::with_capacity(entries.len().div_ceil(ROW_ENTRIES_MAX));
        let mut record = Vec::new();
        for part in entries.chunks(ROW_ENTRIES_MAX) {
            let mut frame = frame_for(part.len());
            for e in part {
                record.clear();
                record = postcard::to_extend(&(&e.command, &e.events), record).map_err(|err| {
                    StoreError::Corrupt {
                        seq: e.seq,
                        problem: err.to_string(),
                    }
                })?;
                chain = link(&chain, e.seq, &record);
                push_record(&mut frame, &record);
            }
            rows.push((part[0].seq, part[part.len() - 1].seq, frame, chain));
        }
        let tx = self.conn.transaction()?;
        {
            let mut insert = tx.prepare_cached(
                "INSERT INTO batches (last_seq, first_seq, frame, chain) VALUES (?1, ?2, ?3, ?4)",
            )?;
            for (first, last, frame, chain) in &rows {
                insert.execute(params![last, first, frame, chain.as_slice()])?;
            }
        }
        if let Some((seq, state)) = snapshot {
            tx.execute(
                "INSERT OR REPLACE INTO snapshots (seq, state) VALUES (?1, ?2)",
                params![seq, state],
            )?;
            tx.execute(
                "DELETE FROM snapshots WHERE seq NOT IN
                     (SELECT seq FROM snapshots ORDER BY seq DESC LIMIT ?1)",
                params![SNAPSHOTS_KEPT],
            )?;
        }
        tx.commit()?;
        if let Some(last) = entries.last() {
            self.tip = Some((last.seq, chain));
            // Durable before anything in the batch is acknowledged (the caller acknowledges
            // only after this returns).
            if self.watermark.is_none() {
                self.watermark = Some(WatermarkFile::open(&self.dir)?);
            }
            if let Some(w) = self.watermark.as_mut() {
                w.write(Watermark {
                    seq: last.seq,
                    chain,
                })?;
            }
        }
        Ok(())
    }

    fn latest_snapshot(&mut self) -> Result<Option<(u64, Vec<u8>)>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT seq, state FROM snapshots ORDER BY seq DESC LIMIT 1",
                [],
                |row| Ok((row.get::<_, u64>(0)?, row.get::<_, Vec<u8>>(1)?)),
            )
            .optional()?)
    }

    fn read_after(
        &mut self,
        after: u64,
        f: &mut dyn FnMut(Entry) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        if after > 0 {
            // The entry a snapshot names must be there (and its batch intact).
            self.entry_chain(after)?;
        }
        let mut stmt = self.conn.prepare(
            "SELECT first_seq, last_seq, frame, chain FROM batches
                 WHERE last_seq > ?1 ORDER BY last_seq",
        )?;
        let mut rows = stmt.query(params![after])?;
        let mut prev = None;
        let mut expected_first = None;
        while let Some(row) = rows.next()? {
            let batch = Batch::of_row(row)?;
            // The first batch's predecessor is read from its row; after that, the batches must
            // follow one another (a removed batch breaks the chain at the next).
            let before = match expected_first {
                None => self.chain_before(batch.first_seq)?,
                Some(first) if first == batch.first_seq => prev,
                Some(first) => {
                    return Err(StoreError::Damaged(format!(
                        "the log jumps from entry {} to {}; the last good entry is {}",
                        first - 1,
                        batch.first_seq,
                        first - 1
                    )));
                }
            };
            prev = batch.verify(before, |seq, record, _| {
                if seq > after {
                    f(decode(seq, record)?)?;
                }
                Ok(())
            })?;
            expected_first = Some(batch.last_seq + 1);
        }
        Ok(())
    }

    fn acknowledged(&mut self) -> Result<Option<Watermark>, StoreError> {
        let recorded = watermark::read(&self.dir)?;
        if recorded.is_none() {
            let chained: Option<i64> = self.conn.query_row(
                "SELECT MAX(last_seq) FROM batches WHERE chain IS NOT NULL",
                [],
                |row| row.get(0),
            )?;
            if let Some(seq) = chained {
                return Err(StoreError::Damaged(format!(
                    "{} is missing while the log holds chained entries up to {seq}: which \
                     commands were acknowledged cannot be checked",
                    watermark::path(&self.dir).display()
                )));
            }
        }
        Ok(recorded)
    }

    fn chain_at(&mut self, seq: u64) -> Result<Option<Chain>, StoreError> {
        self.entry_chain(seq)
    }

    fn last_seq(&mut self) -> Result<u64, StoreError> {
        let seq: Option<u64> =
            self.conn
                .query_row("SELECT MAX(last_seq) FROM batches", [], |row| row.get(0))?;
        Ok(seq.unwrap_or(0))
    }
}
