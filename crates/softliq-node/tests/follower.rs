//! A follower node: applies what another node logged, refuses commands, stops at an entry
//! that does not re-apply as logged, and once promoted writes its own after the last entry it
//! followed.

use std::time::{Duration, Instant};

use softliq_engine::{Engine, EngineConfig};
use softliq_node::workload::Workload;
use softliq_node::{MemoryStore, NodeConfig, NodeError, Store, spawn, spawn_follower};

fn config() -> EngineConfig {
    EngineConfig { audit: false }
}

fn wait_for(h: &softliq_node::Handle, seq: u64) {
    let t = Instant::now();
    while h.applied_seq() < seq && h.store_failure().is_none() {
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "stuck at {}",
            h.applied_seq()
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn a_follower_applies_the_writers_log_and_takes_over_from_its_end() {
    // The writer runs a workload into a shared store.
    let shared = MemoryStore::new();
    let writer = spawn(Engine::new(config()), shared.clone(), NodeConfig::default());
    let mut w = Workload::new(4, 200, 50);
    let mut mirror = Engine::new(config());
    for cmd in w.setup() {
        writer.apply(cmd.clone()).unwrap();
        mirror.apply(&cmd).unwrap();
    }
    for _ in 0..1_500 {
        let cmd = w.next_command_for(mirror.state());
        if writer.apply(cmd.clone()).is_ok() {
            mirror.apply(&cmd).unwrap();
        }
    }
    writer.shutdown();
    let log = shared.disk().log.clone();
    let last = log.last().unwrap().seq;

    // The follower applies it, and refuses commands meanwhile.
    let observed = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let seen = observed.clone();
    let follower = spawn_follower(
        Engine::new(config()),
        NodeConfig::default(),
        Some(Box::new(move |entries| {
            seen.fetch_add(entries.len() as u64, std::sync::atomic::Ordering::Relaxed);
        })),
    );
    assert!(!follower.leading());
    for e in &log {
        follower.follow(e.clone()).unwrap();
    }
    wait_for(&follower, last);
    assert_eq!(
        observed.load(std::sync::atomic::Ordering::Relaxed),
        last,
        "observer saw each"
    );
    let hash = follower.read(|e| e.state().hash()).unwrap();
    assert_eq!(hash, mirror.state().hash());
    let cmd = w.next_command_for(mirror.state());
    assert_eq!(follower.apply(cmd.clone()), Err(NodeError::Following));

    // Promoted over the store: the next command is written after the followed log.
    let seq = follower.promote(Box::new(shared.clone())).unwrap();
    assert_eq!(seq, last);
    assert!(follower.leading());
    let ack = follower.apply(cmd).unwrap();
    assert_eq!(ack.seq, last + 1);
    follower.shutdown();
    let mut reopened = shared.clone();
    assert_eq!(reopened.last_seq().unwrap(), last + 1);
}

#[test]
fn an_entry_that_does_not_reapply_as_logged_stops_the_follower() {
    let shared = MemoryStore::new();
    let writer = spawn(Engine::new(config()), shared.clone(), NodeConfig::default());
    let mut w = Workload::new(8, 50, 10);
    for cmd in w.setup() {
        writer.apply(cmd).unwrap();
    }
    writer.shutdown();
    let mut log = shared.disk().log.clone();
    // A logged entry whose events differ from what the command gives.
    let k = log.len() / 2;
    log[k].events = std::sync::Arc::from(Vec::new());
    let follower = spawn_follower(Engine::new(config()), NodeConfig::default(), None);
    for e in &log {
        follower.follow(e.clone()).unwrap();
    }
    let t = Instant::now();
    while follower.store_failure().is_none() {
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "the follower did not stop"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    let why = follower.store_failure().unwrap();
    assert!(why.contains("following stopped at entry"), "{why}");
    assert_eq!(
        follower.applied_seq(),
        log[k].seq - 1,
        "nothing applied past the bad entry"
    );
    follower.shutdown();
}
