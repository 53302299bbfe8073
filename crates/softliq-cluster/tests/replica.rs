//! Two nodes over one replicated log: the standby follows the writer to the same state hash,
//! takes over when the writer dies holding its lease, and the old writer comes back as a
//! standby that follows the new one. Every acknowledged command is in the log exactly once.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use softliq_cluster::testing::NatsCluster;
use softliq_cluster::{JetStreamStore, LogConfig, Replica, ReplicaConfig};
use softliq_engine::{Engine, EngineConfig};
use softliq_node::workload::Workload;
use softliq_node::{Handle, NodeError, Store};

fn replica(cluster: &NatsCluster, name: &str, standby: bool) -> Replica {
    let mut log = LogConfig::new(&cluster.url(), "R", name);
    log.replicas = 3;
    let mut config = ReplicaConfig::new(log, standby);
    config.lease_ttl = Duration::from_millis(1_500);
    config.engine = EngineConfig { audit: false };
    config.node.snapshot_every = 500;
    Replica::start(&config, |_, _| None).expect("replica").0
}

fn hash(h: &Handle) -> (u64, [u8; 32]) {
    h.read(|e| (e.state().seq, *e.state().hash().as_bytes()))
        .expect("read")
}

/// Waits until `h` has applied `seq`.
fn wait_applied(h: &Handle, seq: u64) {
    let started = Instant::now();
    while h.applied_seq() < seq {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "applied {} of {seq}: {:?}",
            h.applied_seq(),
            h.store_failure()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Sends `n` workload commands to `writer`; records each acknowledged command's seq.
fn drive(
    w: &mut Workload,
    mirror: &mut Engine,
    writer: &Handle,
    n: usize,
    acked: &mut BTreeMap<u128, u64>,
) {
    for _ in 0..n {
        let cmd = w.next_command_for(mirror.state());
        match writer.apply(cmd.clone()) {
            Ok(ack) => {
                let _ = mirror.apply(&cmd);
                assert!(acked.insert(cmd.client_id.0, ack.seq).is_none());
            }
            Err(NodeError::Rejected(_)) => {}
            Err(e) => panic!("the writer refused a command: {e}"),
        }
    }
}

#[test]
fn a_standby_follows_takes_over_and_the_old_writer_follows_it() {
    let cluster = NatsCluster::start(3);
    let mut a = replica(&cluster, "a", false);
    let b = replica(&cluster, "b", true);
    let started = Instant::now();
    while !a.status.leading() {
        assert!(started.elapsed() < Duration::from_secs(10), "a never led");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(!b.status.leading());
    assert!(matches!(
        b.handle.apply(Workload::new(1, 10, 10).setup()[0].clone()),
        Err(NodeError::Following)
    ));

    let mut w = Workload::new(9, 300, 50);
    let mut mirror = Engine::new(EngineConfig { audit: false });
    let mut acked = BTreeMap::new();
    for cmd in w.setup() {
        let ack = a.handle.apply(cmd.clone()).expect("setup");
        mirror.apply(&cmd).unwrap();
        acked.insert(cmd.client_id.0, ack.seq);
    }
    drive(&mut w, &mut mirror, &a.handle, 2_000, &mut acked);
    let (seq_a, hash_a) = hash(&a.handle);
    wait_applied(&b.handle, seq_a);
    assert_eq!(
        hash(&b.handle),
        (seq_a, hash_a),
        "the follower's state is the writer's"
    );

    // The writer dies holding the lease: the standby takes over once it lapses.
    a.handle.shutdown();
    a.abandon();
    let died = Instant::now();
    while !b.status.leading() {
        assert!(
            died.elapsed() < Duration::from_secs(15),
            "b never took over"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let took = died.elapsed();
    assert!(
        took >= Duration::from_millis(1_000),
        "not before the lease lapsed: {took:?}"
    );
    drive(&mut w, &mut mirror, &b.handle, 1_000, &mut acked);

    // The old writer comes back as a standby and follows the new one.
    drop(a);
    let a2 = replica(&cluster, "a", true);
    let (seq_b, hash_b) = hash(&b.handle);
    wait_applied(&a2.handle, seq_b);
    assert_eq!(hash(&a2.handle), (seq_b, hash_b));
    assert_eq!(
        *mirror.state().hash().as_bytes(),
        hash_b,
        "the log is the commands acknowledged"
    );

    // Every acknowledged command is in the log exactly once, at its acknowledged seq.
    let mut log = LogConfig::new(&cluster.url(), "R", "reader");
    log.replicas = 3;
    let mut reader = JetStreamStore::open(&log).unwrap();
    let mut seen = BTreeMap::new();
    reader
        .read_after(0, &mut |e| {
            assert!(
                seen.insert(e.command.client_id.0, e.seq).is_none(),
                "entry twice"
            );
            Ok(())
        })
        .unwrap();
    assert_eq!(seen, acked);
    b.handle.shutdown();
}
