//! A store that lost or changed acknowledged entries is refused at start, naming the last good
//! entry, instead of starting on a shorter log that is consistent with itself. Each case
//! writes a log through the store's own `append` (which returns only once an entry may be
//! acknowledged), stops as `kill -9` would (the connection is never closed, so the WAL keeps
//! its frames), copies the files as a crash leaves them, damages the copy and recovers it.

use std::path::Path;

use softliq_engine::{Engine, EngineConfig};
use softliq_node as store;
use softliq_node::workload::Workload;
use softliq_node::{SqliteStore, Store, StoreError, watermark};

const BATCH: usize = 10;
const BATCHES: usize = 20;

/// An engine fed the workload's commands, handing out the accepted ones as log entries.
struct Feed {
    engine: Engine,
    commands: Box<dyn Iterator<Item = softliq_engine::Command>>,
}

impl Feed {
    fn new(seed: u64) -> Self {
        let mut w = Workload::new(seed, 20, 20);
        let setup = w.setup();
        Self {
            engine: Engine::new(EngineConfig::default()),
            commands: Box::new(
                setup
                    .into_iter()
                    .chain(std::iter::repeat_with(move || w.next_command())),
            ),
        }
    }

    fn next_entry(&mut self) -> store::Entry {
        loop {
            let cmd = self.commands.next().expect("endless");
            if let Ok(events) = self.engine.apply(&cmd) {
                return store::Entry {
                    seq: self.engine.state().seq,
                    command: cmd,
                    events,
                };
            }
        }
    }
}

/// A data directory holding `BATCH · BATCHES` acknowledged entries, left as a crash leaves it.
fn crashed_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut db = SqliteStore::open(dir.path()).expect("open");
    let mut feed = Feed::new(3);
    for _ in 0..BATCHES {
        let batch: Vec<_> = (0..BATCH).map(|_| feed.next_entry()).collect();
        db.append(&batch, None).expect("append");
    }
    // As after kill -9: nothing checkpoints the WAL or closes the database.
    std::mem::forget(db);
    let copy = tempfile::tempdir().expect("tempdir");
    for name in ["softliq.db", "softliq.db-wal", watermark::FILE_NAME] {
        let from = dir.path().join(name);
        if from.exists() {
            std::fs::copy(&from, copy.path().join(name)).expect("copy");
        }
    }
    assert!(
        copy.path().join("softliq.db-wal").exists(),
        "the WAL holds the commits"
    );
    copy
}

fn recover(dir: &Path) -> Result<u64, StoreError> {
    let mut db = SqliteStore::open(dir)?;
    let (engine, _) = store::recover(&mut db, EngineConfig::default())?;
    Ok(engine.state().seq)
}

fn damaged(result: Result<u64, StoreError>, what: &str) -> String {
    match result {
        Err(StoreError::Damaged(m)) => m,
        other => panic!("{what}: expected the store to be refused as damaged, got {other:?}"),
    }
}

#[test]
fn an_undamaged_crash_recovers_every_acknowledged_entry() {
    let dir = crashed_dir();
    assert_eq!(
        recover(dir.path()).expect("recover"),
        (BATCH * BATCHES) as u64
    );
    let mut db = SqliteStore::open(dir.path()).expect("open");
    store::replay_all(&mut db, EngineConfig::default()).expect("the whole chain verifies");
}

#[test]
fn deleted_tail_rows_are_found() {
    let dir = crashed_dir();
    let conn = rusqlite::Connection::open(dir.path().join("softliq.db")).expect("open");
    // The last two batches (entries 181..=200).
    conn.execute("DELETE FROM batches WHERE last_seq > 180", [])
        .expect("delete");
    drop(conn);
    let m = damaged(recover(dir.path()), "2 batches deleted");
    assert!(
        m.contains("ends at entry 180") && m.contains("up to 200"),
        "{m}"
    );
    assert!(m.contains("last good entry is 180"), "{m}");
}

/// The damage report of replaying the whole crashed log after deleting the batches `rows`
/// selects (`what` names them).
fn replayed_without(rows: &str, what: &str) -> String {
    let dir = crashed_dir();
    let conn = rusqlite::Connection::open(dir.path().join("softliq.db")).expect("open");
    conn.execute(&format!("DELETE FROM batches WHERE {rows}"), [])
        .expect("delete");
    drop(conn);
    let mut db = SqliteStore::open(dir.path()).expect("open");
    damaged(
        store::replay_all(&mut db, EngineConfig::default()).map(|e| e.state().seq),
        what,
    )
}

#[test]
fn a_batch_deleted_inside_the_log_is_found() {
    let m = replayed_without("last_seq = 100", "batch 91..=100 deleted");
    assert!(
        m.contains("jumps from entry 90 to 101") && m.contains("last good entry is 90"),
        "{m}"
    );
}

fn damage_wal(dir: &Path, damage: impl FnOnce(&mut Vec<u8>)) {
    let wal = dir.join("softliq.db-wal");
    let mut bytes = std::fs::read(&wal).expect("wal");
    damage(&mut bytes);
    std::fs::write(&wal, bytes).expect("write wal");
}

#[test]
fn a_damaged_or_missing_wal_is_found() {
    // 16 bytes flipped in the WAL's middle: SQLite drops every frame from there on.
    let dir = crashed_dir();
    damage_wal(dir.path(), |b| {
        let mid = b.len() / 2;
        for x in &mut b[mid..mid + 16] {
            *x ^= 0xa5;
        }
    });
    let m = damaged(recover(dir.path()), "flipped WAL bytes");
    assert!(m.contains("acknowledged commands are missing"), "{m}");
    // Truncated to half.
    let dir = crashed_dir();
    damage_wal(dir.path(), |b| b.truncate(b.len() / 2));
    let m = damaged(recover(dir.path()), "half a WAL");
    assert!(m.contains("acknowledged commands are missing"), "{m}");
    // Deleted.
    let dir = crashed_dir();
    std::fs::remove_file(dir.path().join("softliq.db-wal")).expect("rm wal");
    let m = damaged(recover(dir.path()), "no WAL");
    assert!(m.contains("up to 200"), "{m}");
}

#[test]
fn a_changed_entry_breaks_the_chain_at_that_entry() {
    let dir = crashed_dir();
    let conn = rusqlite::Connection::open(dir.path().join("softliq.db")).expect("open");
    // Entry 50's record replaced by entry 49's (a valid record, in the wrong place): the
    // batch 41..=50 re-framed with its last record changed.
    let frame: Vec<u8> = conn
        .query_row("SELECT frame FROM batches WHERE last_seq = 50", [], |r| {
            r.get(0)
        })
        .expect("batch");
    let mut records: Vec<&[u8]> = postcard::from_bytes(&frame).expect("frame");
    assert_eq!(records.len(), 10);
    records[9] = records[8];
    let changed = postcard::to_stdvec(&records).expect("encode");
    conn.execute(
        "UPDATE batches SET frame = ?1 WHERE last_seq = 50",
        [changed],
    )
    .expect("update");
    drop(conn);
    let m = damaged(recover(dir.path()), "entry 50 changed");
    assert!(
        m.contains("breaks in entries 41..=50") && m.contains("last good entry is 40"),
        "{m}"
    );
    let mut db = SqliteStore::open(dir.path()).expect("open");
    let m = damaged(
        store::replay_all(&mut db, EngineConfig::default()).map(|e| e.state().seq),
        "replay",
    );
    assert!(m.contains("breaks in entries 41..=50"), "{m}");
}

#[test]
fn a_missing_watermark_is_refused_when_the_log_is_chained() {
    let dir = crashed_dir();
    std::fs::remove_file(dir.path().join(watermark::FILE_NAME)).expect("rm ack");
    let m = damaged(recover(dir.path()), "no watermark");
    assert!(
        m.contains("is missing while the log holds chained entries up to 200"),
        "{m}"
    );
}

/// A log written from a snapshot on (its first entry is the snapshot's, not entry 1): the
/// first batch chains from the start, so it recovers to the same state. The store's `append`
/// accepted it; before this case was handled, recovery refused it as a gap before the first
/// batch.
#[test]
fn a_log_that_starts_at_a_snapshot_recovers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut db = SqliteStore::open(dir.path()).expect("open");
    let mut feed = Feed::new(5);
    // Entries before the snapshot are applied but never logged.
    for _ in 0..50 {
        feed.next_entry();
    }
    let first = feed.next_entry();
    let snapshot = feed.engine.state().encode_snapshot();
    db.append(std::slice::from_ref(&first), Some((first.seq, &snapshot)))
        .expect("snapshot and first entry");
    for _ in 0..5 {
        let batch: Vec<_> = (0..7).map(|_| feed.next_entry()).collect();
        db.append(&batch, None).expect("append");
    }
    let expected = (feed.engine.state().seq, feed.engine.state().hash());
    drop(db);
    let mut db = SqliteStore::open(dir.path()).expect("reopen");
    let (recovered, report) =
        store::recover(&mut db, EngineConfig::default()).expect("a log from a snapshot recovers");
    assert_eq!(report.snapshot_seq, first.seq);
    assert_eq!((recovered.state().seq, recovered.state().hash()), expected);
}

/// Rows lost from the head of a log are found too: the next batch's stored chain does not
/// follow from the start.
#[test]
fn deleted_head_rows_are_found() {
    let m = replayed_without("last_seq <= 20", "batches 1..=20 deleted");
    assert!(m.contains("entries 21..=30"), "{m}");
}
