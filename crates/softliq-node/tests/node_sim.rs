//! Deterministic simulation of the durable node under injected storage faults.
//!
//! The real node (engine thread, writer thread, group commit, retries) runs over a simulated
//! disk whose every write is decided by a seeded generator: written; refused as a full disk or
//! an fsync error (nothing written); written but reported as failed (the write reached the disk,
//! its confirmation did not — a torn acknowledgement); or a crash just before or just after the
//! write reaches the disk. One submitter sends commands one at a time, so every run is a
//! function of its seed. After each crash the node is rebuilt from what the disk holds, and at
//! every crash and at the end the run checks:
//! - nothing acknowledged is lost: every acknowledged command is on the disk with the sequence
//!   number and events it was acknowledged with;
//! - the recovered state's hash equals a clean replay of the disk's log from empty, and equals
//!   an engine that applied exactly the logged commands in memory;
//! - the log is gapless and in order.

use std::collections::BTreeMap;
use std::time::Duration;

use softliq_engine::{Command, Engine, EngineConfig, Events};
use softliq_node as store;
use softliq_node::workload::Workload;
use softliq_node::{Entry, Fault, FaultControl, FaultyStore, MemoryStore, NodeConfig, NodeError};

/// Checks the disk against what was acknowledged; returns the recovered engine.
fn check(store: &mut MemoryStore, acked: &BTreeMap<u128, (u64, Events)>, seed: u64) -> Engine {
    let (recovered, _) = store::recover(store, EngineConfig::default())
        .unwrap_or_else(|e| panic!("seed {seed}: recovery failed: {e}"));
    let replayed = store::replay_all(store, EngineConfig::default())
        .unwrap_or_else(|e| panic!("seed {seed}: replay failed: {e}"));
    let disk = store.disk();
    let mut memory = Engine::new(EngineConfig::default());
    for (k, e) in disk.log.iter().enumerate() {
        assert_eq!(e.seq, k as u64 + 1, "seed {seed}: the log is not gapless");
        memory.apply(&e.command).expect("a logged command applies");
    }
    assert_eq!(
        recovered.state().hash(),
        replayed.state().hash(),
        "seed {seed}"
    );
    assert_eq!(
        recovered.state().hash(),
        memory.state().hash(),
        "seed {seed}"
    );
    let by_client: BTreeMap<u128, &Entry> = disk
        .log
        .iter()
        .map(|e| (e.command.client_id.0, e))
        .collect();
    for (client, (seq, events)) in acked {
        let logged = by_client
            .get(client)
            .unwrap_or_else(|| panic!("seed {seed}: acknowledged command {client} is lost"));
        assert_eq!(
            (logged.seq, &logged.events),
            (*seq, events),
            "seed {seed}: command {client}"
        );
    }
    recovered
}

/// One seeded run: `n` commands, faults on `fault_per_mille` of writes, rebuilding the node
/// after every crash. Returns (crashes, faults by kind).
fn run(seed: u64, n: usize, fault_per_mille: u32) -> (u32, BTreeMap<Option<Fault>, u32>) {
    let mut disk = MemoryStore::new();
    let faults = FaultControl::default();
    faults.random(seed, fault_per_mille);
    let config = NodeConfig {
        retry_every: Duration::ZERO,
        snapshot_every: 37,
        // By count only: a snapshot by time would make a run depend on the machine's speed.
        snapshot_interval: Duration::MAX,
        ..NodeConfig::default()
    };
    let mut w = Workload::new(seed, 12, 20).volatile();
    let mut commands: Vec<Command> = w.setup();
    commands.extend((0..n).map(|_| w.next_command()));
    let mut acked: BTreeMap<u128, (u64, Events)> = BTreeMap::new();
    let mut crashes = 0;
    let mut engine = Engine::new(EngineConfig::default());
    let mut next = 0;
    while next < commands.len() {
        let node = store::spawn(
            engine,
            FaultyStore::with_control(disk.clone(), &faults),
            config,
        );
        let mut crashed = false;
        while next < commands.len() && !crashed {
            let cmd = commands[next].clone();
            let rx = node.submit(cmd.clone());
            let waited = std::time::Instant::now();
            loop {
                // A store that refuses the node's writes for good (a gap, or a batch written
                // again that differs) would leave the command waiting forever.
                assert!(
                    waited.elapsed() < Duration::from_secs(30),
                    "seed {seed}: command {next} waited 30 s: {:?}",
                    node.store_failure()
                );
                match rx.recv_timeout(Duration::from_millis(1)) {
                    Ok(Ok(ack)) => {
                        acked.insert(cmd.client_id.0, (ack.seq, ack.events));
                        next += 1;
                        break;
                    }
                    // Refused by the engine (an ordinary rejection) or while the store fails:
                    // the submitter moves on, as a client would after an error.
                    Ok(Err(NodeError::Rejected(_) | NodeError::Store(_))) => {
                        next += 1;
                        break;
                    }
                    Ok(Err(NodeError::Stopped | NodeError::Following)) => {
                        panic!("seed {seed}: the node stopped or follows")
                    }
                    Err(_) if faults.crashed() => {
                        crashed = true;
                        break;
                    }
                    Err(_) => {}
                }
            }
        }
        node.shutdown();
        if crashed {
            crashes += 1;
            // The command in flight may or may not be on the disk (crash after the write);
            // either way it was not acknowledged. The client retries it after the restart.
            faults.restart();
        }
        engine = check(&mut disk, &acked, seed);
    }
    (crashes, faults.counts())
}

/// Thousands of seeded runs: nothing acknowledged is ever lost, and every recovered state equals
/// a clean replay. The fault mix is counted so that a run that injected nothing cannot pass
/// unnoticed.
#[test]
fn nothing_acknowledged_is_lost_under_injected_faults() {
    let runs = std::env::var("SOFTLIQ_SIM_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000u64);
    let mut crashes = 0;
    let mut faults: BTreeMap<Option<Fault>, u32> = BTreeMap::new();
    for seed in 0..runs {
        let (c, f) = run(seed, 60, 80);
        crashes += c;
        for (k, n) in f {
            *faults.entry(k).or_default() += n;
        }
    }
    println!("{runs} runs, {crashes} crashes, writes by fault: {faults:?}");
    assert!(
        crashes >= runs as u32 / 4,
        "too few crashes to mean anything: {crashes}"
    );
    for kind in Fault::ALL {
        assert!(
            faults.get(&Some(kind)).copied().unwrap_or(0) >= runs as u32 / 20,
            "{kind:?}: {faults:?}"
        );
    }
}
