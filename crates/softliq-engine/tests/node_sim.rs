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
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use softliq_engine::store::{self, Entry, NodeConfig, NodeError, Store, StoreError};
use softliq_engine::workload::Workload;
use softliq_engine::{Command, Engine, EngineConfig, Events};

/// What the disk holds (survives crashes), and the fault generator.
struct Disk {
    log: Vec<Entry>,
    snapshots: Vec<(u64, Vec<u8>)>,
    rng: ChaCha8Rng,
    /// Probability that a write is faulty, per mille.
    fault_per_mille: u32,
    faults: BTreeMap<&'static str, u32>,
}

/// The simulated store: a handle on the shared disk, and the machine's "crashed" flag (set by a
/// write that crashes; every write fails while it is set).
#[derive(Clone)]
struct SimStore {
    disk: Arc<Mutex<Disk>>,
    crashed: Arc<AtomicBool>,
}

fn io_error(what: &str) -> StoreError {
    StoreError::Io(std::io::Error::other(what.to_owned()))
}

impl Store for SimStore {
    fn append(
        &mut self,
        entries: &[Entry],
        snapshot: Option<(u64, &[u8])>,
    ) -> Result<(), StoreError> {
        let mut disk = self.disk.lock().unwrap();
        if self.crashed.load(Ordering::Acquire) {
            return Err(io_error("the machine is down"));
        }
        let next = disk.log.last().map_or(1, |e| e.seq + 1);
        // A batch retried after a write that reached the disk: the same entries again.
        let fresh: Vec<&Entry> = entries.iter().filter(|e| e.seq >= next).collect();
        for (e, logged) in entries
            .iter()
            .filter(|e| e.seq < next)
            .map(|e| (e, &disk.log[(e.seq - 1) as usize]))
        {
            assert_eq!(
                e, logged,
                "a retried entry differs from the one on the disk"
            );
        }
        if let Some(first) = fresh.first() {
            assert_eq!(first.seq, next, "a write would leave a gap in the log");
        }
        let fault = if disk.rng.random_range(0..1000) < disk.fault_per_mille {
            ["full", "fsync", "torn_ack", "crash_before", "crash_after"]
                [disk.rng.random_range(0..5)]
        } else {
            "none"
        };
        *disk.faults.entry(fault).or_default() += 1;
        let write = |disk: &mut Disk| {
            disk.log.extend(fresh.iter().map(|e| (*e).clone()));
            if let Some((seq, bytes)) = snapshot {
                disk.snapshots.push((seq, bytes.to_vec()));
            }
        };
        match fault {
            "none" => {
                write(&mut disk);
                Ok(())
            }
            "full" => Err(io_error("No space left on device")),
            "fsync" => Err(io_error("fsync failed")),
            "torn_ack" => {
                write(&mut disk);
                Err(io_error("the write's confirmation was lost"))
            }
            "crash_before" => {
                self.crashed.store(true, Ordering::Release);
                Err(io_error("crashed before the write"))
            }
            _ => {
                write(&mut disk);
                self.crashed.store(true, Ordering::Release);
                Err(io_error("crashed after the write"))
            }
        }
    }

    fn latest_snapshot(&mut self) -> Result<Option<(u64, Vec<u8>)>, StoreError> {
        Ok(self.disk.lock().unwrap().snapshots.last().cloned())
    }

    fn read_after(
        &mut self,
        after: u64,
        f: &mut dyn FnMut(Entry) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let tail: Vec<Entry> = self
            .disk
            .lock()
            .unwrap()
            .log
            .iter()
            .filter(|e| e.seq > after)
            .cloned()
            .collect();
        tail.into_iter().try_for_each(f)
    }

    fn last_seq(&mut self) -> Result<u64, StoreError> {
        Ok(self.disk.lock().unwrap().log.last().map_or(0, |e| e.seq))
    }
}

/// Checks the disk against what was acknowledged; returns the recovered engine.
fn check(store: &mut SimStore, acked: &BTreeMap<u128, (u64, Events)>, seed: u64) -> Engine {
    let (recovered, _) = store::recover(store, EngineConfig::default())
        .unwrap_or_else(|e| panic!("seed {seed}: recovery failed: {e}"));
    let replayed = store::replay_all(store, EngineConfig::default())
        .unwrap_or_else(|e| panic!("seed {seed}: replay failed: {e}"));
    let disk = store.disk.lock().unwrap();
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
fn run(seed: u64, n: usize, fault_per_mille: u32) -> (u32, BTreeMap<&'static str, u32>) {
    let mut store = SimStore {
        disk: Arc::new(Mutex::new(Disk {
            log: Vec::new(),
            snapshots: Vec::new(),
            rng: ChaCha8Rng::seed_from_u64(seed),
            fault_per_mille,
            faults: BTreeMap::new(),
        })),
        crashed: Arc::new(AtomicBool::new(false)),
    };
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
        let node = store::spawn(engine, store.clone(), config);
        let mut crashed = false;
        while next < commands.len() && !crashed {
            let cmd = commands[next].clone();
            let rx = node.submit(cmd.clone());
            loop {
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
                    Ok(Err(NodeError::Stopped)) => panic!("seed {seed}: the node stopped"),
                    Err(_) if store.crashed.load(Ordering::Acquire) => {
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
            store.crashed.store(false, Ordering::Release);
        }
        engine = check(&mut store, &acked, seed);
    }
    let faults = store.disk.lock().unwrap().faults.clone();
    (crashes, faults)
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
    let mut faults: BTreeMap<&'static str, u32> = BTreeMap::new();
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
    for kind in ["full", "fsync", "torn_ack", "crash_before", "crash_after"] {
        assert!(
            faults.get(kind).copied().unwrap_or(0) >= runs as u32 / 20,
            "{kind}: {faults:?}"
        );
    }
}
