//! The test stores keep a real store's line: the memory store refuses gaps and rewrites that
//! differ, and the faulty store writes exactly when the fault it injects would have.

use softliq_engine::{ClientId, Command, CommandBody, Engine, EngineConfig};
use softliq_node::{Entry, Fault, FaultyStore, MemoryStore, Store, StoreError};

/// `n` accepted entries from a fresh engine.
fn entries(n: u64) -> Vec<Entry> {
    let mut engine = Engine::new(EngineConfig::default());
    (1..=n)
        .map(|seq| {
            let command = Command {
                client_id: ClientId(u128::from(seq)),
                timestamp_s: 1_000 + seq,
                body: CommandBody::OpenAccount {
                    owner: format!("owner-{seq}"),
                },
            };
            let events = engine.apply(&command).expect("accepted");
            Entry {
                seq,
                command,
                events,
            }
        })
        .collect()
}

fn logged(store: &MemoryStore) -> Vec<u64> {
    store.disk().log.iter().map(|e| e.seq).collect()
}

#[test]
fn the_memory_store_refuses_gaps_and_differing_rewrites() {
    let e = entries(4);
    let mut store = MemoryStore::new();
    store.append(&e[..2], None).expect("first batch");
    // The same batch again (after a lost confirmation) is accepted and written once.
    store.append(&e[..3], None).expect("a rewrite that matches");
    assert_eq!(logged(&store), [1, 2, 3]);
    assert!(matches!(
        store
            .append(&e[3..4], Some((4, b"snap")))
            .map(|()| store.last_seq()),
        Ok(Ok(4))
    ));
    let mut skipped = entries(6);
    skipped.remove(4);
    assert!(matches!(
        store.append(&skipped[4..], None),
        Err(StoreError::Damaged(_))
    ));
    let mut changed = e[1].clone();
    changed.command.timestamp_s += 1;
    assert!(matches!(
        store.append(&[changed], None),
        Err(StoreError::Damaged(_))
    ));
    assert_eq!(
        logged(&store),
        [1, 2, 3, 4],
        "a refused append writes nothing"
    );
    assert_eq!(
        store.latest_snapshot().unwrap(),
        Some((4, b"snap".to_vec()))
    );
}

#[test]
fn the_faulty_store_writes_exactly_when_the_fault_would() {
    let e = entries(5);
    let disk = MemoryStore::new();
    let (mut store, control) = FaultyStore::new(disk.clone());
    control.fail_next(Fault::Full, 1);
    control.fail_next(Fault::TornAck, 1);
    assert!(store.append(&e[..1], None).is_err());
    assert_eq!(logged(&disk), [] as [u64; 0], "a full disk writes nothing");
    assert!(store.append(&e[..1], None).is_err());
    assert_eq!(
        logged(&disk),
        [1],
        "a lost confirmation: written all the same"
    );
    store.append(&e[..2], None).expect("the retry");
    control.fail_next(Fault::CrashAfter, 1);
    assert!(store.append(&e[2..3], None).is_err());
    assert!(control.crashed());
    assert!(
        store.append(&e[3..4], None).is_err(),
        "down until restarted"
    );
    assert_eq!(logged(&disk), [1, 2, 3]);
    control.restart();
    control.fail_next(Fault::CrashBefore, 1);
    assert!(store.append(&e[3..4], None).is_err());
    assert_eq!(
        logged(&disk),
        [1, 2, 3],
        "a crash before the write writes nothing"
    );
    control.restart();
    control.fail_all(Fault::Fsync);
    assert!(store.append(&e[3..4], None).is_err());
    control.clear();
    store.append(&e[3..5], None).expect("after clear");
    assert_eq!(logged(&disk), [1, 2, 3, 4, 5]);
    let counts = control.counts();
    for fault in Fault::ALL {
        assert_eq!(counts.get(&Some(fault)), Some(&1), "{fault:?}: {counts:?}");
    }
    assert_eq!(counts.get(&None), Some(&2));
}
