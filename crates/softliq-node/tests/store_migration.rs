//! A store written before batching (one row per command in a table `log`, each with its chain
//! hash) opens as a batched one: every row becomes a one-entry batch with the same chain, the
//! watermark still verifies, recovery gives the state the commands give, and new batches
//! chain on from the old rows.

use softliq_engine::{Engine, EngineConfig};
use softliq_node as store;
use softliq_node::watermark::{Watermark, WatermarkFile};
use softliq_node::workload::Workload;
use softliq_node::{Entry, SqliteStore, Store};

/// The next `n` accepted entries of `w` through `engine`.
fn entries(engine: &mut Engine, w: &mut Workload, n: usize) -> Vec<Entry> {
    let mut out = Vec::new();
    while out.len() < n {
        let cmd = w.next_command_for(engine.state());
        if let Ok(events) = engine.apply(&cmd) {
            out.push(Entry {
                seq: engine.state().seq,
                command: cmd,
                events,
            });
        }
    }
    out
}

/// Writes `entries` as the store before batching did: the old table, one row each, chained,
/// and the watermark at the last.
fn write_old_store(dir: &std::path::Path, entries: &[Entry]) {
    let conn = rusqlite::Connection::open(dir.join("softliq.db")).expect("open");
    conn.execute_batch(
        "CREATE TABLE log (seq INTEGER PRIMARY KEY, client_id BLOB NOT NULL,
             record BLOB NOT NULL, chain BLOB);
         CREATE TABLE snapshots (seq INTEGER PRIMARY KEY, state BLOB NOT NULL);",
    )
    .expect("schema");
    let mut chain = [0u8; 32];
    for e in entries {
        let record = postcard::to_stdvec(&(&e.command, &e.events)).expect("encode");
        let mut h = blake3::Hasher::new();
        h.update(&chain);
        h.update(&e.seq.to_le_bytes());
        h.update(&record);
        chain = *h.finalize().as_bytes();
        conn.execute(
            "INSERT INTO log (seq, client_id, record, chain) VALUES (?1, ?2, ?3, ?4)",
            rusqlite::params![
                e.seq,
                e.command.client_id.0.to_le_bytes().as_slice(),
                record,
                chain.as_slice()
            ],
        )
        .expect("insert");
    }
    let last = entries.last().expect("entries");
    WatermarkFile::open(dir)
        .expect("watermark")
        .write(Watermark {
            seq: last.seq,
            chain,
        })
        .expect("write watermark");
}

#[test]
fn a_store_of_rows_per_command_opens_as_batches_and_chains_on() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut w = Workload::new(31, 30, 20);
    let mut engine = Engine::new(EngineConfig::default());
    let mut old: Vec<Entry> = Vec::new();
    for cmd in w.setup() {
        let events = engine.apply(&cmd).expect("setup");
        old.push(Entry {
            seq: engine.state().seq,
            command: cmd,
            events,
        });
    }
    old.extend(entries(&mut engine, &mut w, 40));
    write_old_store(dir.path(), &old);

    let mut db = SqliteStore::open(dir.path()).expect("open migrates");
    assert_eq!(db.last_seq().expect("last"), old.len() as u64);
    let mut read = Vec::new();
    db.read_after(0, &mut |e| {
        read.push(e);
        Ok(())
    })
    .expect("the migrated chain verifies");
    assert_eq!(read, old);
    let (recovered, _) = store::recover(&mut db, EngineConfig::default())
        .expect("the watermark's entry and chain are found in the batches");
    assert_eq!(recovered.state().hash(), engine.state().hash());
    let conn = rusqlite::Connection::open(dir.path().join("softliq.db")).expect("open");
    let old_tables: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'log'",
            [],
            |r| r.get(0),
        )
        .expect("count");
    assert_eq!(old_tables, 0, "the old table is gone");
    let rows: i64 = conn
        .query_row("SELECT COUNT(*) FROM batches", [], |r| r.get(0))
        .expect("count");
    assert_eq!(rows, old.len() as i64, "one batch per old row");
    drop(conn);

    // New batches chain on from the old rows, and the whole log still verifies.
    let new = entries(&mut engine, &mut w, 25);
    db.append(&new[..12], None).expect("append");
    db.append(&new[12..], None).expect("append");
    drop(db);
    let mut db = SqliteStore::open(dir.path()).expect("reopen");
    let (recovered, _) = store::recover(&mut db, EngineConfig::default()).expect("recover");
    assert_eq!(recovered.state().hash(), engine.state().hash());
    let page = db.read_page(old.len() as u64 + 5, 10).expect("page");
    assert_eq!(page, new[5..15].to_vec(), "a page starting inside a batch");

    // A batch of 600 is three rows (256, 256, 88) in one transaction, read back whole.
    let rows_before = batch_rows(dir.path());
    let big = entries(&mut engine, &mut w, 600);
    db.append(&big, None).expect("append");
    assert_eq!(batch_rows(dir.path()), rows_before + 3);
    let mut read = Vec::new();
    db.read_after(big[0].seq - 1, &mut |e| {
        read.push(e);
        Ok(())
    })
    .expect("read");
    assert_eq!(read, big);
    let (recovered, _) = store::recover(&mut db, EngineConfig::default()).expect("recover");
    assert_eq!(recovered.state().hash(), engine.state().hash());
}

fn batch_rows(dir: &std::path::Path) -> i64 {
    rusqlite::Connection::open(dir.join("softliq.db"))
        .expect("open")
        .query_row("SELECT COUNT(*) FROM batches", [], |r| r.get(0))
        .expect("count")
}
