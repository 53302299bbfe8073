//! The embedded store: SQLite (bundled, so nothing is needed on the machine) in WAL mode with
//! `synchronous = FULL`, so a committed transaction is on disk when `COMMIT` returns.
//!
//! Records are postcard-encoded; the command and its events share one row, so a batch is one
//! transaction of inserts and nothing is ever half-written.
//!
//! Each row carries a chain hash, `chain = BLAKE3(previous chain · seq · record)` (the first
//! row links from 32 zero bytes), so a row changed, removed or reordered anywhere breaks every
//! link after it; reading the log verifies the links it walks. After each commit the last
//! entry's chain is written to the watermark file (`watermark.rs`) before `append` returns, so
//! a tail lost below the watermark is found at start. Rows written before chains existed have
//! none: they are read unverified, and the chain starts at the first row that has one.

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
        let conn = Connection::open(dir.join("softliq.db"))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS log (
                 seq INTEGER PRIMARY KEY,
                 client_id BLOB NOT NULL,
                 record BLOB NOT NULL
             );
             CREATE TABLE IF NOT EXISTS snapshots (
                 seq INTEGER PRIMARY KEY,
                 state BLOB NOT NULL
             );",
        )?;
        let chained = conn
            .prepare("SELECT 1 FROM pragma_table_info('log') WHERE name = 'chain'")?
            .exists([])?;
        if !chained {
            conn.execute_batch("ALTER TABLE log ADD COLUMN chain BLOB")?;
        }
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
                "SELECT seq, chain FROM log ORDER BY seq DESC LIMIT 1",
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

    /// The row `seq`'s chain: `None` for a row written before chains, an error when the row
    /// is missing.
    fn row_chain(&self, seq: u64) -> Result<Option<Chain>, StoreError> {
        let row = self
            .conn
            .query_row(
                "SELECT chain FROM log WHERE seq = ?1",
                params![seq],
                |row| row.get::<_, Option<Vec<u8>>>(0),
            )
            .optional()?;
        match row {
            Some(chain) => chain_of(seq, chain.as_deref()),
            None => Err(StoreError::Damaged(format!(
                "the log has no entry {seq}, which a snapshot or the watermark names"
            ))),
        }
    }
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

fn decode_row(row: &rusqlite::Row<'_>) -> Result<Entry, StoreError> {
    let seq = row.get::<_, u64>(0)?;
    let record: Vec<u8> = row.get(1)?;
    decode(seq, &record)
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

/// Checks one row's link. `prev` is the previous row's chain (`None`: it had none, or this is
/// the first row). A row without a chain may only follow rows without one.
fn verify_link(
    prev: Option<Chain>,
    seq: u64,
    record: &[u8],
    chain: Option<Chain>,
) -> Result<Option<Chain>, StoreError> {
    let broken = |why: &str| {
        StoreError::Damaged(format!(
            "the log's hash chain breaks at entry {seq} ({why}); the last good entry is {}",
            seq.saturating_sub(1)
        ))
    };
    match (prev, chain) {
        (_, Some(c)) if c == link(&prev.unwrap_or(CHAIN_START), seq, record) => Ok(Some(c)),
        (_, Some(_)) => Err(broken(
            "its hash does not follow from the entry before it and its own record",
        )),
        (None, None) => Ok(None),
        (Some(_), None) => Err(broken("it has no hash after entries that have one")),
    }
}

impl Store for SqliteStore {
    /// At most `limit` entries with `seq > after`, in order: a page of the log for readers
    /// (the server's `events` query), on a connection of their own beside the writer's.
    ///
    /// # Errors
    /// The database failed or a record does not decode.
    fn read_page(&mut self, after: u64, limit: usize) -> Result<Vec<Entry>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT seq, record FROM log WHERE seq > ?1 ORDER BY seq LIMIT ?2")?;
        let mut rows = stmt.query(params![after, limit])?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            out.push(decode_row(row)?);
        }
        Ok(out)
    }

    fn append(
        &mut self,
        entries: &[Entry],
        snapshot: Option<(u64, &[u8])>,
    ) -> Result<(), StoreError> {
        let (_, mut chain) = self.tip()?;
        let tx = self.conn.transaction()?;
        {
            let mut insert = tx.prepare_cached(
                "INSERT INTO log (seq, client_id, record, chain) VALUES (?1, ?2, ?3, ?4)",
            )?;
            for e in entries {
                let record = postcard::to_stdvec(&(&e.command, &e.events)).map_err(|err| {
                    StoreError::Corrupt {
                        seq: e.seq,
                        problem: err.to_string(),
                    }
                })?;
                chain = link(&chain, e.seq, &record);
                insert.execute(params![
                    e.seq,
                    e.command.client_id.0.to_le_bytes().as_slice(),
                    record,
                    chain.as_slice()
                ])?;
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
        let mut prev = if after == 0 {
            None
        } else {
            self.row_chain(after)?
        };
        let mut stmt = self
            .conn
            .prepare("SELECT seq, record, chain FROM log WHERE seq > ?1 ORDER BY seq")?;
        let mut rows = stmt.query(params![after])?;
        while let Some(row) = rows.next()? {
            let seq = row.get::<_, u64>(0)?;
            let record: Vec<u8> = row.get(1)?;
            let chain = chain_of(seq, row.get::<_, Option<Vec<u8>>>(2)?.as_deref())?;
            prev = verify_link(prev, seq, &record, chain)?;
            f(decode(seq, &record)?)?;
        }
        Ok(())
    }

    fn acknowledged(&mut self) -> Result<Option<Watermark>, StoreError> {
        let recorded = watermark::read(&self.dir)?;
        if recorded.is_none() {
            let chained: Option<i64> = self.conn.query_row(
                "SELECT MAX(seq) FROM log WHERE chain IS NOT NULL",
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
        self.row_chain(seq)
    }

    fn last_seq(&mut self) -> Result<u64, StoreError> {
        let seq: Option<u64> = self
            .conn
            .query_row("SELECT MAX(seq) FROM log", [], |row| row.get(0))?;
        Ok(seq.unwrap_or(0))
    }
}
