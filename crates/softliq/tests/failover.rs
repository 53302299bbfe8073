//! Failover with real processes: two `softliq serve --store jetstream --follow` nodes over a
//! three-server JetStream cluster (R=3), a client sending commands without pause (each with an
//! idempotency key, retried against whichever node writes until it is acknowledged), and the
//! writer killed with SIGKILL mid-stream, 100 times; the killed node is restarted at once as
//! a standby with no local state (it recovers from the replicated log alone). Midway one NATS
//! server is killed and later restarted. At the end:
//! - every acknowledged command is in the log exactly once, at the sequence number it was
//!   acknowledged with (none lost, none applied twice);
//! - the two nodes' state hashes agree at the same sequence number, and equal a replay of the
//!   whole log from empty.

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Guard, free_port, softliq};
use rand::{RngExt, SeedableRng};
use softliq_cluster::testing::NatsCluster;
use softliq_cluster::{JetStreamStore, LogConfig};
use softliq_engine::{ClientId, EngineConfig};
use softliq_node::Store;

const STREAM: &str = "FAILOVER";
const TOKEN: &str = "0123456789abcdef0123456789abcdef";
const SUBJECT: &str = "tester";
const LEASE_MS: &str = "600";

fn cycles() -> usize {
    std::env::var("SOFTLIQ_FAILOVER_CYCLES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(100)
}

/// One node slot: a fixed port, and the process running there now.
struct Node {
    name: String,
    port: u16,
    process: Option<Guard>,
    starts: usize,
}

impl Node {
    fn start(&mut self, nats: &str) {
        self.starts += 1;
        let child = softliq()
            .args([
                "serve",
                "--store",
                "jetstream",
                "--follow",
                "--replicas",
                "3",
            ])
            .args([
                "--nats-url",
                nats,
                "--stream",
                STREAM,
                "--lease-ms",
                LEASE_MS,
            ])
            .args(["--node-name", &format!("{}-{}", self.name, self.starts)])
            .args(["--listen", &format!("127.0.0.1:{}", self.port)])
            .env("SOFTLIQ_TOKENS", format!("account:{SUBJECT}:{TOKEN}"))
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start softliq serve");
        self.process = Some(Guard(child));
    }

    /// Alive (not exited on its own: a node that leaves the cluster stops).
    fn alive(&mut self) -> bool {
        self.process
            .as_mut()
            .is_some_and(|g| g.0.try_wait().ok().flatten().is_none())
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

/// `/v1/status` of a node, if it answers.
async fn status(http: &reqwest::Client, url: &str) -> Option<serde_json::Value> {
    let r = http.get(format!("{url}/v1/status")).send().await.ok()?;
    r.json().await.ok()
}

/// The writer's URL among `urls`, if one answers as writer.
async fn writer(http: &reqwest::Client, urls: &[String]) -> Option<String> {
    for u in urls {
        if let Some(s) = status(http, u).await
            && s["role"] == "writer"
            && s["cluster"]["failure"].is_null()
        {
            return Some(u.clone());
        }
    }
    None
}

/// Sends commands until `stop`, each retried until acknowledged; returns key → seq.
fn client(urls: Vec<String>, stop: Arc<AtomicBool>, acked: Arc<Mutex<BTreeMap<String, u64>>>) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(3))
            .build()
            .unwrap();
        let mut n = 0u64;
        let mut target: Option<String> = None;
        while !stop.load(Ordering::Acquire) {
            let key = format!("k{n}");
            loop {
                if target.is_none() {
                    target = writer(&http, &urls).await;
                }
                let Some(url) = target.clone() else {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                };
                let sent = http
                    .post(format!("{url}/v1/accounts"))
                    .bearer_auth(TOKEN)
                    .header("Idempotency-Key", &key)
                    .json(&serde_json::json!({}))
                    .send()
                    .await;
                match sent {
                    Ok(r) if r.status().is_success() => {
                        let v: serde_json::Value = r.json().await.unwrap();
                        let seq = v["seq"].as_u64().expect("seq");
                        acked.lock().unwrap().insert(key.clone(), seq);
                        break;
                    }
                    _ => {
                        target = None;
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                }
            }
            n += 1;
        }
    });
}

#[test]
fn sigkill_of_the_writer_loses_nothing_acknowledged_and_applies_nothing_twice() {
    let mut cluster = NatsCluster::start(3);
    let nats = cluster.url();
    let mut nodes: Vec<Node> = ["a", "b"]
        .iter()
        .map(|n| Node {
            name: (*n).to_string(),
            port: free_port(),
            process: None,
            starts: 0,
        })
        .collect();
    for n in &mut nodes {
        n.start(&nats);
    }
    let urls: Vec<String> = nodes.iter().map(Node::url).collect();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(3))
        .build()
        .unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(Mutex::new(BTreeMap::new()));
    let sender = {
        let (urls, stop, acked) = (urls.clone(), stop.clone(), acked.clone());
        std::thread::spawn(move || client(urls, stop, acked))
    };

    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    let cycles = cycles();
    let (mut failovers_ms, mut acked_before) = (Vec::new(), 0);
    for cycle in 0..cycles {
        if cycle == cycles / 3 {
            cluster.kill(1);
        }
        if cycle == cycles / 2 {
            cluster.restart(1);
        }
        // Wait for a writer, and for the client to get some commands through it.
        let waiting = Instant::now();
        let w = loop {
            for n in &mut nodes {
                if !n.alive() {
                    n.start(&nats);
                }
            }
            if let Some(w) = rt.block_on(writer(&http, &urls)) {
                break w;
            }
            assert!(
                waiting.elapsed() < Duration::from_secs(60),
                "cycle {cycle}: no writer for 60 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        if cycle > 0 {
            failovers_ms.push((waiting.elapsed().as_millis(), cycle));
        }
        let progress = Instant::now();
        while acked.lock().unwrap().len() <= acked_before {
            assert!(
                progress.elapsed() < Duration::from_secs(30),
                "cycle {cycle}: the writer acknowledged nothing in 30 s"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        std::thread::sleep(Duration::from_millis(rng.random_range(20..200)));
        acked_before = acked.lock().unwrap().len();
        let victim = nodes
            .iter_mut()
            .find(|n| n.url() == w)
            .expect("writer slot");
        drop(victim.process.take()); // SIGKILL, then reaped
        victim.start(&nats);
    }
    // Let the last writer take over and the client get through, then stop it.
    let last = loop {
        if let Some(w) = rt.block_on(writer(&http, &urls)) {
            break w;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::Release);
    sender.join().expect("client");
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() > cycles * 2,
        "the client got {} commands through in {cycles} cycles",
        acked.len()
    );

    // Both nodes at the same seq have the same state.
    let writer_status = rt.block_on(status(&http, &last)).expect("writer status");
    let seq = writer_status["seq"].as_u64().unwrap();
    let follower = urls.iter().find(|u| **u != last).unwrap();
    let waiting = Instant::now();
    let follower_status = loop {
        if let Some(s) = rt.block_on(status(&http, follower))
            && s["seq"].as_u64() == Some(seq)
        {
            break s;
        }
        assert!(
            waiting.elapsed() < Duration::from_secs(30),
            "the follower never caught up"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(follower_status["state_hash"], writer_status["state_hash"]);
    assert_eq!(follower_status["role"], "follower");

    // Every acknowledged command is in the log once, at its acknowledged seq.
    let mut log = LogConfig::new(&nats, STREAM, "auditor");
    log.replicas = 3;
    let mut reader = JetStreamStore::open(&log).expect("open the log");
    let mut logged: BTreeMap<u128, u64> = BTreeMap::new();
    reader
        .read_after(0, &mut |e| {
            let again = logged.insert(e.command.client_id.0, e.seq);
            assert!(
                again.is_none(),
                "command {:?} logged twice",
                e.command.client_id
            );
            Ok(())
        })
        .unwrap();
    for (key, seq) in &acked {
        let id = ClientId::from_key(&format!("{SUBJECT}\u{1f}{key}")).0;
        assert_eq!(logged.get(&id), Some(seq), "acknowledged {key} at {seq}");
    }
    let replayed = softliq_node::replay_all(&mut reader, EngineConfig { audit: false }).unwrap();
    assert_eq!(replayed.state().seq, seq);
    assert_eq!(
        replayed.state().hash().to_hex().to_string(),
        writer_status["state_hash"].as_str().unwrap()
    );
    failovers_ms.sort_unstable();
    let slowest: Vec<String> = failovers_ms
        .iter()
        .rev()
        .take(5)
        .map(|(ms, c)| format!("{ms} ms (cycle {c})"))
        .collect();
    eprintln!(
        "{cycles} kills (NATS server 1 down from cycle {} to {}), {} commands acknowledged, {} \
         logged; time to a new writer: median {} ms, slowest {}",
        cycles / 3,
        cycles / 2,
        acked.len(),
        logged.len(),
        failovers_ms.get(failovers_ms.len() / 2).map_or(0, |f| f.0),
        slowest.join(", ")
    );
}
