//! The embedded store: SQLite (bundled, so nothing is needed on the machine) in WAL mode with
//! `synchronous = FULL`, so a committed transaction is on disk when `COMMIT` returns.
//!
//! Records are postcard-encoded; the command and its events share one row, so a batch is one
//! transaction of inserts and nothing is ever half-written.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, params};

use super::{Entry, Store, StoreError};

/// How many snapshots to keep (the newest, plus one in case the newest is ever unreadable).
const SNAPSHOTS_KEPT: u64 = 2;

/// A SQLite database file holding the log and the snapshots.
pub struct SqliteStore {
    conn: Connection,
}

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
        Ok(Self { conn })
    }
}

impl SqliteStore {
    /// At most `limit` entries with `seq > after`, in order: a page of the log for readers
    /// (the server's `events` query), on a connection of their own beside the writer's.
    ///
    /// # Errors
    /// The database failed or a record does not decode.
    pub fn read_page(&mut self, after: u64, limit: usize) -> Result<Vec<Entry>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT seq, record FROM log WHERE seq > ?1 ORDER BY seq LIMIT ?2")?;
        let mut rows = stmt.query(params![after as i64, limit as i64])?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            out.push(decode_row(row)?);
        }
        Ok(out)
    }
}

fn decode_row(row: &rusqlite::Row<'_>) -> Result<Entry, StoreError> {
    let seq = row.get::<_, i64>(0)? as u64;
    let record: Vec<u8> = row.get(1)?;
    let (command, events) = postcard::from_bytes(&record).map_err(|err| StoreError::Corrupt {
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
    fn append(
        &mut self,
        entries: &[Entry],
        snapshot: Option<(u64, &[u8])>,
    ) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        {
            let mut insert =
                tx.prepare_cached("INSERT INTO log (seq, client_id, record) VALUES (?1, ?2, ?3)")?;
            for e in entries {
                let record = postcard::to_stdvec(&(&e.command, &e.events)).map_err(|err| {
                    StoreError::Corrupt {
                        seq: e.seq,
                        problem: err.to_string(),
                    }
                })?;
                insert.execute(params![
                    e.seq as i64,
                    e.command.client_id.0.to_le_bytes().as_slice(),
                    record
                ])?;
            }
        }
        if let Some((seq, state)) = snapshot {
            tx.execute(
                "INSERT OR REPLACE INTO snapshots (seq, state) VALUES (?1, ?2)",
                params![seq as i64, state],
            )?;
            tx.execute(
                "DELETE FROM snapshots WHERE seq NOT IN
                     (SELECT seq FROM snapshots ORDER BY seq DESC LIMIT ?1)",
                params![SNAPSHOTS_KEPT as i64],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    fn latest_snapshot(&mut self) -> Result<Option<(u64, Vec<u8>)>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT seq, state FROM snapshots ORDER BY seq DESC LIMIT 1",
                [],
                |row| Ok((row.get::<_, i64>(0)? as u64, row.get::<_, Vec<u8>>(1)?)),
            )
            .optional()?)
    }

    fn read_after(
        &mut self,
        after: u64,
        f: &mut dyn FnMut(Entry) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT seq, record FROM log WHERE seq > ?1 ORDER BY seq")?;
        let mut rows = stmt.query(params![after as i64])?;
        while let Some(row) = rows.next()? {
            f(decode_row(row)?)?;
        }
        Ok(())
    }

    fn last_seq(&mut self) -> Result<u64, StoreError> {
        let seq: Option<i64> = self
            .conn
            .query_row("SELECT MAX(seq) FROM log", [], |row| row.get(0))?;
        Ok(seq.unwrap_or(0) as u64)
    }
}
