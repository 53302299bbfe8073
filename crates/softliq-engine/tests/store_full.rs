//! A store that cannot write (a full disk): the node stops acknowledging and says why, refuses
//! new commands with the store's error, loses nothing it acknowledged, writes nothing out of
//! order, and takes commands again once the store can write — without a restart.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use softliq_engine::store::{
    self, Chain, Entry, NodeConfig, NodeError, SqliteStore, Store, StoreError, Watermark,
};
use softliq_engine::workload::Workload;
use softliq_engine::{Command, Engine, EngineConfig};

/// A SQLite store whose next `fail` appends fail as a full disk does.
struct FullDisk {
    inner: SqliteStore,
    fail: Arc<AtomicU32>,
}

impl Store for FullDisk {
    fn append(
        &mut self,
        entries: &[Entry],
        snapshot: Option<(u64, &[u8])>,
    ) -> Result<(), StoreError> {
        let left = self.fail.load(Ordering::Acquire);
        if left > 0 {
            self.fail.store(left - 1, Ordering::Release);
            return Err(StoreError::Io(std::io::Error::new(
                std::io::ErrorKind::StorageFull,
                "No space left on device (injected)",
            )));
        }
        self.inner.append(entries, snapshot)
    }
    fn latest_snapshot(&mut self) -> Result<Option<(u64, Vec<u8>)>, StoreError> {
        self.inner.latest_snapshot()
    }
    fn read_after(
        &mut self,
        after: u64,
        f: &mut dyn FnMut(Entry) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        self.inner.read_after(after, f)
    }
    fn last_seq(&mut self) -> Result<u64, StoreError> {
        self.inner.last_seq()
    }
    fn acknowledged(&mut self) -> Result<Option<Watermark>, StoreError> {
        self.inner.acknowledged()
    }
    fn chain_at(&mut self, seq: u64) -> Result<Option<Chain>, StoreError> {
        self.inner.chain_at(seq)
    }
}

/// Commands that the engine accepts, from a fresh engine.
fn accepted_commands(n: usize) -> Vec<Command> {
    let mut engine = Engine::new(EngineConfig::default());
    let mut w = Workload::new(5, 20, 20);
    let mut out = Vec::new();
    for cmd in w
        .setup()
        .into_iter()
        .chain(std::iter::repeat_with(|| w.next_command()))
    {
        if engine.apply(&cmd).is_ok() {
            out.push(cmd);
            if out.len() == n {
                return out;
            }
        }
    }
    unreachable!()
}

#[test]
fn a_full_disk_stops_acknowledgements_and_the_node_resumes_when_space_returns() {
    let dir = tempfile::tempdir().unwrap();
    let fail = Arc::new(AtomicU32::new(0));
    let config = NodeConfig {
        retry_every: Duration::from_millis(50),
        ..NodeConfig::default()
    };
    let db = FullDisk {
        inner: SqliteStore::open(dir.path()).unwrap(),
        fail: fail.clone(),
    };
    let node = store::spawn(Engine::new(EngineConfig::default()), db, config);
    let commands = accepted_commands(40);
    for c in &commands[..20] {
        node.apply(c.clone()).expect("acknowledged");
    }

    // The disk fills: the next write fails four times (about 200 ms of retries).
    fail.store(4, Ordering::Release);
    let held = node.submit(commands[20].clone());
    assert!(
        held.recv_timeout(Duration::from_millis(120)).is_err(),
        "nothing is acknowledged while the store cannot write"
    );
    // Meanwhile new commands are refused, naming the store's error.
    match node.apply(commands[21].clone()) {
        Err(NodeError::Store(why)) => assert!(why.contains("No space left on device"), "{why}"),
        other => panic!("expected a store refusal, got {other:?}"),
    }
    // Space returns: the held command is written and acknowledged, and commands are taken.
    let ack = held
        .recv_timeout(Duration::from_secs(5))
        .expect("acknowledged once the store writes")
        .expect("accepted");
    assert_eq!(ack.seq, 21);
    assert_eq!(fail.load(Ordering::Acquire), 0);
    for c in &commands[21..] {
        node.apply(c.clone()).expect("acknowledged after recovery");
    }
    node.shutdown();
    assert_eq!(node.store_failure(), None, "a clean stop");

    // Everything acknowledged is in the log, in order, and the log replays to it.
    let mut db = SqliteStore::open(dir.path()).unwrap();
    let (engine, _) = store::recover(&mut db, EngineConfig::default()).expect("recover");
    assert_eq!(engine.state().seq, 40);
    let mut memory = Engine::new(EngineConfig::default());
    for c in &commands {
        memory.apply(c).expect("accepted");
    }
    assert_eq!(engine.state().hash(), memory.state().hash());
}

#[test]
fn a_stop_while_the_store_fails_answers_the_held_commands_with_the_error() {
    let dir = tempfile::tempdir().unwrap();
    let fail = Arc::new(AtomicU32::new(u32::MAX));
    let config = NodeConfig {
        retry_every: Duration::from_millis(20),
        ..NodeConfig::default()
    };
    let db = FullDisk {
        inner: SqliteStore::open(dir.path()).unwrap(),
        fail,
    };
    let node = store::spawn(Engine::new(EngineConfig::default()), db, config);
    let commands = accepted_commands(3);
    let held = node.submit(commands[0].clone());
    std::thread::sleep(Duration::from_millis(60));
    node.shutdown();
    // The stop found the store failing: the server turns this into a non-zero exit.
    assert!(
        node.store_failure()
            .is_some_and(|why| why.contains("No space left"))
    );
    match held.recv_timeout(Duration::from_secs(5)) {
        Ok(Err(NodeError::Store(why))) => assert!(why.contains("No space left"), "{why}"),
        other => panic!("expected the store's error, got {other:?}"),
    }
    let mut db = SqliteStore::open(dir.path()).unwrap();
    let (engine, _) = store::recover(&mut db, EngineConfig::default()).expect("recover");
    assert_eq!(
        engine.state().seq,
        0,
        "nothing was acknowledged, nothing is logged"
    );
}
