//! Crash test with a real process. `softliq drive` applies the seeded workload (lending and a
//! perp market: quotes, orders, cancels, funding, liquidation steps) to a data directory and
//! prints each acknowledgement; this test kills it with SIGKILL at random
//! points, 30 times, and after every kill checks that
//! - every acknowledged command is in the log with the sequence number it was acknowledged
//!   with (nothing acknowledged is lost);
//! - recovery succeeds: every logged command re-applies with exactly its logged events, so no
//!   command is half-applied (a batch is one SQLite transaction);
//! - the recovered state's hash equals the hash of a replay of the whole log from empty.
//!
//! The next round restarts the child on the same directory, so recovery is also exercised
//! under load.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::{RngExt, SeedableRng};
use softliq_engine::EngineConfig;
use softliq_node as store;
use softliq_node::{SqliteStore, Store};

const ROUNDS: usize = 30;

#[test]
fn sigkill_at_random_points_loses_nothing_acknowledged() {
    let dir = tempfile_dir();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(42);
    let mut acked: BTreeMap<u128, u64> = BTreeMap::new();
    let mut killed_mid_stream = 0;
    for round in 0..ROUNDS {
        let mut child = Command::new(env!("CARGO_BIN_EXE_softliq"))
            .args([
                "drive",
                "--perps",
                "--seed",
                "3",
                "--borrowers",
                "40",
                "--count",
            ])
            .arg("1000000")
            .args(["--snapshot-every", "300", "--data"])
            .arg(&dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start softliq drive");
        let stdout = child.stdout.take().expect("stdout");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let reader = {
            let seen = seen.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                    let mut parts = line.split_whitespace().skip(1);
                    let id: u128 = parts.next().and_then(|p| p.parse().ok()).expect("id");
                    let seq: u64 = parts.next().and_then(|p| p.parse().ok()).expect("seq");
                    seen.lock().expect("lock").push((id, seq));
                }
            })
        };
        std::thread::sleep(Duration::from_millis(rng.random_range(30..400)));
        child.kill().expect("SIGKILL");
        let status = child.wait().expect("wait");
        reader.join().expect("reader");
        if status.code().is_none() {
            killed_mid_stream += 1;
        }
        let new_acks = seen.lock().expect("lock").clone();
        for (id, seq) in &new_acks {
            acked.insert(*id, *seq);
        }

        let mut db = SqliteStore::open(&dir).expect("open store");
        let mut logged = BTreeMap::new();
        db.read_after(0, &mut |e| {
            logged.insert(e.command.client_id.0, e.seq);
            Ok(())
        })
        .expect("read log");
        for (id, seq) in &acked {
            assert_eq!(
                logged.get(id),
                Some(seq),
                "round {round}: acknowledged command {id} (seq {seq}) missing from the log"
            );
        }
        let (recovered, _) =
            store::recover(&mut db, EngineConfig { audit: true }).expect("recover");
        let replayed = store::replay_all(&mut db, EngineConfig { audit: true }).expect("replay");
        assert_eq!(
            recovered.state().hash(),
            replayed.state().hash(),
            "round {round}"
        );
        assert_eq!(
            recovered.state().seq as usize,
            logged.len(),
            "round {round}"
        );
        replayed.audit_full().expect("invariants after replay");
    }
    assert!(
        killed_mid_stream >= ROUNDS - 2,
        "killed {killed_mid_stream}"
    );
    assert!(acked.len() > 1_000, "only {} acknowledgements", acked.len());
    // The perp side was exercised: fills and positions survive the kills.
    let mut db = SqliteStore::open(&dir).expect("open store");
    let (recovered, _) = store::recover(&mut db, EngineConfig { audit: true }).expect("recover");
    let perps = &recovered.state().perps;
    let open = perps
        .accounts()
        .filter(|(_, w)| w.positions().iter().any(|p| p.size != 0))
        .count();
    assert!(open >= 10, "only {open} perp wallets hold a position");
    let (mut fills, mut steps, mut flags) = (0, 0, 0);
    db.read_after(0, &mut |e| {
        for ev in e.events.iter() {
            match ev {
                softliq_engine::Event::OrderPlaced(p) => fills += p.fills.len(),
                softliq_engine::Event::PerpLiquidated(_) => steps += 1,
                softliq_engine::Event::PerpBecameLiquidatable { .. } => flags += 1,
                _ => {}
            }
        }
        Ok(())
    })
    .expect("read log");
    eprintln!("perp: {fills} fills, {flags} flags, {steps} liquidation steps");
    assert!(fills >= 100 && flags >= 1, "{fills} fills, {flags} flags");
    let _ = std::fs::remove_dir_all(&dir);
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("softliq-crash-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}
