//! One writer per data directory: a second writer is refused, naming the holder's process id,
//! and the directory is free again once the first is gone. (Before, a second `serve` on the
//! same directory started, served stale state and failed its first write with
//! `UNIQUE constraint failed: log.seq`.)

use softliq_node::{LOCK_FILE, SqliteStore, StoreError};

#[test]
fn a_second_writer_is_refused_naming_the_holder() {
    let dir = tempfile::tempdir().unwrap();
    let first = SqliteStore::open_writer(dir.path()).expect("the first writer");
    let pid = std::process::id().to_string();
    assert_eq!(
        std::fs::read_to_string(dir.path().join(LOCK_FILE)).unwrap(),
        pid
    );
    match SqliteStore::open_writer(dir.path()) {
        Err(StoreError::Locked(m)) => {
            assert!(
                m.contains(&format!("pid {pid}")) && m.contains("in use"),
                "{m}"
            );
        }
        other => panic!("expected the directory to be locked, got {other:?}"),
    }
    // Readers are not writers: they open beside it.
    SqliteStore::open(dir.path()).expect("a reader");
    drop(first);
    SqliteStore::open_writer(dir.path()).expect("free again once the first writer is gone");
}
