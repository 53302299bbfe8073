//! The JetStream log against a real three-server cluster: a node's run recovers to the same
//! state from the replicated log, snapshots round-trip, a second writer's fence shuts the first
//! out, and a lost acknowledgement is adopted rather than appended twice.

use softliq_cluster::testing::NatsCluster;
use softliq_cluster::{JetStreamStore, LogConfig, Tip};
use softliq_engine::{Engine, EngineConfig};
use softliq_node::workload::Workload;
use softliq_node::{self as node, Entry, NodeConfig, Store, StoreError};

fn config(cluster: &NatsCluster, stream: &str, name: &str) -> LogConfig {
    let mut c = LogConfig::new(&cluster.url(), stream, name);
    c.replicas = 3;
    c
}

/// `n` accepted commands of a seeded workload, as the log would hold them.
fn entries(n: usize) -> (Vec<Entry>, Engine) {
    Workload::new(5, 200, 50).accepted(n)
}

#[test]
fn the_replicated_log_recovers_a_node_and_fences_an_old_writer() {
    let cluster = NatsCluster::start(3);
    let (log, engine) = entries(3_000);

    // A node writes through the JetStream store with group commit.
    let mut store = JetStreamStore::open(&config(&cluster, "T1", "a")).expect("open");
    assert_eq!(store.last_seq().unwrap(), 0);
    let snapshot_at = 1_500;
    let (first, rest) = log.split_at(snapshot_at);
    let mut replayed = Engine::new(EngineConfig { audit: false });
    for e in first {
        replayed.apply(&e.command).unwrap();
    }
    for chunk in first.chunks(700) {
        store.append(chunk, None).unwrap();
    }
    let snap = replayed.state().encode_snapshot();
    store
        .append(&[], Some((snapshot_at as u64, &snap)))
        .unwrap();
    for chunk in rest.chunks(333) {
        store.append(chunk, None).unwrap();
    }
    assert_eq!(store.last_seq().unwrap(), 3_000);

    // Another process recovers it: snapshot plus tail, and a replay from empty.
    let mut reader = JetStreamStore::open(&config(&cluster, "T1", "b")).expect("open");
    let (recovered, r) = node::recover(&mut reader, EngineConfig { audit: false }).unwrap();
    assert_eq!(r.snapshot_seq, 1_500);
    assert_eq!(r.replayed, 1_500);
    assert_eq!(recovered.state().hash(), engine.state().hash());
    let full = node::replay_all(&mut reader, EngineConfig { audit: false }).unwrap();
    assert_eq!(full.state().hash(), engine.state().hash());
    let page = reader.read_page(2_990, 4).unwrap();
    assert_eq!(
        page.iter().map(|e| e.seq).collect::<Vec<_>>(),
        vec![2_991, 2_992, 2_993, 2_994]
    );
    assert_eq!(reader.read_page(3_000, 10).unwrap(), Vec::new());

    // The same entries again (a retry after a lost confirmation) are not stored twice.
    store.append(&log[2_900..], None).unwrap();
    assert_eq!(reader.read_page(2_999, 10).unwrap().len(), 1);

    // A second writer takes the tail: the first is fenced, and nothing of it lands.
    let tip = reader.read_tip().unwrap();
    assert_eq!(tip.seq, 3_000);
    let fenced_tip = reader.fence(tip).unwrap();
    assert_eq!(fenced_tip.seq, 3_000);
    let (more, _) = entries(3_002);
    match store.append(&more[3_000..], None) {
        Err(StoreError::Fenced(why)) => assert!(why.contains("another node writes"), "{why}"),
        other => panic!("the old writer appended after a fence: {other:?}"),
    }
    assert_eq!(reader.last_seq().unwrap(), 3_000);
    // A fence that expects an older tail is refused too.
    assert!(matches!(
        store.fence(Tip {
            stream_seq: 3,
            seq: 10
        }),
        Err(StoreError::Fenced(_))
    ));
    // The new writer appends after its fence.
    reader.append(&more[3_000..], None).unwrap();
    assert_eq!(reader.last_seq().unwrap(), 3_002);
}

#[test]
fn a_node_over_the_jetstream_store_acknowledges_and_survives_a_server_kill() {
    let mut cluster = NatsCluster::start(3);
    let store = JetStreamStore::open(&config(&cluster, "T2", "a")).expect("open");
    let handle = node::spawn(
        Engine::new(EngineConfig { audit: false }),
        store,
        NodeConfig {
            snapshot_every: 400,
            ..NodeConfig::default()
        },
    );
    let (log, engine) = entries(1_000);
    let mut acked = 0;
    for (i, e) in log.iter().enumerate() {
        if i == 500 {
            // One server of three down: appends still reach a quorum.
            cluster.kill(1);
        }
        let ack = handle.apply(e.command.clone()).expect("acknowledged");
        assert_eq!(ack.seq, e.seq);
        acked += 1;
    }
    handle.shutdown();
    assert_eq!(acked, 1_000);
    cluster.restart(1);
    let mut reader = JetStreamStore::open(&config(&cluster, "T2", "b")).expect("open");
    let (recovered, r) = node::recover(&mut reader, EngineConfig { audit: false }).unwrap();
    assert!(
        r.snapshot_seq >= 800,
        "a snapshot every 400 commands: {r:?}"
    );
    assert_eq!(recovered.state().hash(), engine.state().hash());
}
