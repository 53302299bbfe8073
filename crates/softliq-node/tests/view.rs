//! The read view: an engine following the durable log off the engine thread. At every point
//! a reader can see, it is the state the log gives at some durable entry; it reaches every
//! acknowledged entry; it stops, saying why, at an entry it cannot apply.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use softliq_engine::{Engine, EngineConfig};
use softliq_node::workload::Workload;
use softliq_node::{Entry, MemoryStore, NodeConfig, ReadView, ViewError, spawn_observed};

fn config() -> EngineConfig {
    EngineConfig { audit: false }
}

#[test]
fn the_view_shows_the_logs_state_at_a_durable_entry_and_reaches_every_acknowledged_one() {
    // Node, view and mirror start empty; the view follows the node's log from its start.
    let mut mirror = Engine::new(config());
    let view = ReadView::start(&mirror, None);
    let fed = view.clone();
    let node = spawn_observed(
        Engine::new(config()),
        MemoryStore::new(),
        NodeConfig::default(),
        Some(Box::new(move |entries: &[Entry]| fed.feed(entries))),
    );
    // The state's hash after every accepted command, from a mirror applying the same stream.
    let mut hash_at = HashMap::from([(0, mirror.state().hash())]);
    let mut w = Workload::new(3, 300, 60);
    for cmd in w.setup() {
        node.apply(cmd.clone()).unwrap();
        mirror.apply(&cmd).unwrap();
        hash_at.insert(mirror.state().seq, mirror.state().hash());
    }
    let mut pending = Vec::new();
    for _ in 0..3_000 {
        let cmd = w.next_command_for(mirror.state());
        let before = mirror.state().seq;
        if mirror.apply(&cmd).is_ok() && mirror.state().seq > before {
            hash_at.insert(mirror.state().seq, mirror.state().hash());
        }
        // Submitted without waiting, so that the node forms batches of many entries.
        pending.push(node.submit(cmd));
    }
    let mut checked = 0;
    for outcome in pending {
        let Ok(Ok(ack)) = outcome.recv() else {
            continue;
        };
        view.wait_for(ack.seq, Duration::from_secs(10)).unwrap();
        let (seq, hash) = view.read(|e| (e.state().seq, e.state().hash()));
        assert!(
            seq >= ack.seq,
            "view at {seq} after waiting for {}",
            ack.seq
        );
        assert!(
            seq <= node.durable_seq(),
            "view at {seq}, past the durable {}",
            node.durable_seq()
        );
        assert_eq!(
            Some(&hash),
            hash_at.get(&seq),
            "view's state at entry {seq}"
        );
        checked += 1;
    }
    assert!(checked > 1_500, "only {checked} commands acknowledged");
    node.shutdown();
    let last = mirror.state().seq;
    view.wait_for(last, Duration::from_secs(10)).unwrap();
    assert_eq!(view.read(|e| e.state().hash()), mirror.state().hash());
    assert_eq!(view.failure(), None);
}

#[test]
fn a_view_stops_at_an_entry_it_cannot_apply_and_says_which() {
    let mut w = Workload::new(3, 20, 5);
    let mut writer = Engine::new(config());
    let view = ReadView::start(&writer, {
        let advanced = Arc::new(AtomicU64::new(0));
        let calls = advanced.clone();
        Some(Box::new(move |_| {
            calls.fetch_add(1, Ordering::Relaxed);
        }))
    });
    let mut entries = Vec::new();
    for cmd in w.setup() {
        let events = writer.apply(&cmd).unwrap();
        entries.push(Entry {
            seq: writer.state().seq,
            command: cmd,
            events,
        });
    }
    let good = entries.len() as u64 - 1;
    // The last entry as another log would have it: other events than the command gives.
    entries.last_mut().unwrap().events = Vec::new().into();
    view.feed(&entries[..entries.len() - 1]);
    view.wait_for(good, Duration::from_secs(10)).unwrap();
    view.feed(&entries[entries.len() - 1..]);
    let err = view
        .wait_for(good + 1, Duration::from_secs(10))
        .unwrap_err();
    let ViewError::Stopped(why) = &err else {
        panic!("{err}")
    };
    assert!(
        why.contains(&format!("entry {}", good + 1)) && why.contains("different events"),
        "{why}"
    );
    assert_eq!(
        view.seq(),
        good,
        "the view stays at the last entry it applied"
    );
    assert!(matches!(view.reached(good + 1), Err(ViewError::Stopped(_))));
    assert_eq!(view.reached(good), Ok(true));
}

#[test]
fn waiting_for_an_entry_the_view_never_gets_ends_at_the_limit_naming_it() {
    let view = ReadView::start(&Engine::new(config()), None);
    let err = view.wait_for(7, Duration::from_millis(30)).unwrap_err();
    assert_eq!(
        err,
        ViewError::Behind {
            wanted: 7,
            seq: 0,
            waited_ms: 30
        }
    );
    assert_eq!(view.reached(7), Ok(false));
}
