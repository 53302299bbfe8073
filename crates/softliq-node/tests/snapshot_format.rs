//! Snapshots carry a format version. A snapshot this build cannot read — written before
//! snapshots were versioned, of another format, or damaged — is skipped with the reason, and
//! recovery replays the whole log, which is authoritative: the state is the same either way.

use softliq_engine::{Engine, EngineConfig, State};
use softliq_node as store;
use softliq_node::workload::Workload;
use softliq_node::{SqliteStore, Store};

/// Writes 200 entries in batches of 20, with a snapshot of the state after the 100th built by
/// `snapshot` from the engine's state.
fn store_with(snapshot: impl Fn(&State) -> Vec<u8>) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut db = SqliteStore::open(dir.path()).expect("open");
    let mut engine = Engine::new(EngineConfig::default());
    let mut w = Workload::new(5, 20, 20);
    let mut commands = w
        .setup()
        .into_iter()
        .chain(std::iter::repeat_with(|| w.next_command()));
    while engine.state().seq < 200 {
        let mut batch = Vec::new();
        while batch.len() < 20 {
            let cmd = commands.next().expect("endless");
            if let Ok(events) = engine.apply(&cmd) {
                batch.push(store::Entry {
                    seq: engine.state().seq,
                    command: cmd,
                    events,
                });
            }
        }
        let seq = engine.state().seq;
        let snap = (seq == 100).then(|| snapshot(engine.state()));
        db.append(&batch, snap.as_deref().map(|s| (seq, s)))
            .expect("append");
    }
    dir
}

fn recover(dir: &tempfile::TempDir) -> (blake3::Hash, store::Recovery) {
    let mut db = SqliteStore::open(dir.path()).expect("open");
    let (engine, report) = store::recover(&mut db, EngineConfig::default()).expect("recover");
    let full = store::replay_all(&mut db, EngineConfig::default()).expect("replay");
    assert_eq!(
        engine.state().hash(),
        full.state().hash(),
        "same state either way"
    );
    (engine.state().hash(), report)
}

#[test]
fn a_current_snapshot_is_used() {
    let (_, report) = recover(&store_with(State::encode_snapshot));
    assert_eq!(report.snapshot_seq, 100);
    assert_eq!(report.replayed, 100);
    assert_eq!(report.snapshot_skipped, None);
}

/// How a case writes its snapshot.
type Encoder = fn(&State) -> Vec<u8>;

#[test]
fn an_unreadable_snapshot_is_skipped_and_the_log_replayed() {
    let cases: [(&str, Encoder, &str); 3] = [
        ("unversioned", State::encode, "predates versioned snapshots"),
        (
            "another format",
            |s| {
                let mut b = s.encode_snapshot();
                b[4] = b[4].wrapping_add(1);
                b
            },
            "this build reads",
        ),
        (
            "damaged",
            |s| {
                let mut b = s.encode_snapshot();
                b.truncate(b.len() / 2);
                b
            },
            "does not decode",
        ),
    ];
    for (what, snapshot, why) in cases {
        let (_, report) = recover(&store_with(snapshot));
        assert_eq!(report.snapshot_seq, 0, "{what}");
        assert_eq!(report.replayed, 200, "{what}");
        let skipped = report.snapshot_skipped.expect(what);
        assert!(skipped.contains(why), "{what}: {skipped}");
    }
}
