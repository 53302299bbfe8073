//! A store that cannot write (a full disk): the node stops acknowledging and says why, refuses
//! new commands with the store's error, loses nothing it acknowledged, writes nothing out of
//! order, and takes commands again once the store can write — without a restart.

use std::time::Duration;

use softliq_engine::{Command, Engine, EngineConfig};
use softliq_node as store;
use softliq_node::workload::Workload;
use softliq_node::{Fault, FaultyStore, NodeConfig, NodeError, SqliteStore};

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
    let config = NodeConfig {
        retry_every: Duration::from_millis(50),
        ..NodeConfig::default()
    };
    let (db, fail) = FaultyStore::new(SqliteStore::open(dir.path()).unwrap());
    let node = store::spawn(Engine::new(EngineConfig::default()), db, config);
    let commands = accepted_commands(40);
    for c in &commands[..20] {
        node.apply(c.clone()).expect("acknowledged");
    }

    // The disk fills: the next write fails four times (about 200 ms of retries).
    fail.fail_next(Fault::Full, 4);
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
    assert_eq!(fail.pending(), 0);
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
    let config = NodeConfig {
        retry_every: Duration::from_millis(20),
        ..NodeConfig::default()
    };
    let (db, fail) = FaultyStore::new(SqliteStore::open(dir.path()).unwrap());
    fail.fail_all(Fault::Full);
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
