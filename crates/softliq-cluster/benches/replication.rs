//! The replicated log against the embedded one (`cargo bench -p softliq-cluster --bench
//! replication`): a JetStream cluster of three `nats-server` processes on loopback (R=3) and a
//! single server (R=1), beside SQLite, with the same workload:
//!
//! - durable throughput with every command submitted at once, and acknowledgement latency
//!   (p50, p99, max) at a steady offered load below it;
//! - a follower's lag while the writer runs at that load (how far behind, in entries, sampled
//!   every 10 ms);
//! - failover: the writer abandons its lease (as a crash would) and the standby's time to take
//!   over, catch up and fence.
//!
//! `SOFTLIQ_BENCH_COMMANDS` sets the flood's size (default 100,000).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use softliq_cluster::testing::NatsCluster;
use softliq_cluster::{JetStreamStore, LogConfig, Replica, ReplicaConfig};
use softliq_engine::command::Command;
use softliq_engine::{Engine, EngineConfig};
use softliq_node::workload::Workload;
use softliq_node::{Handle, NodeConfig, SqliteStore, Store};

fn fast() -> EngineConfig {
    EngineConfig { audit: false }
}

fn node_config() -> NodeConfig {
    NodeConfig {
        snapshot_every: u64::MAX,
        ..NodeConfig::default()
    }
}

/// A set-up market and `total` commands for it.
fn workload(total: usize) -> (Engine, Vec<Command>, Vec<Command>) {
    let mut w = Workload::new(2, 10_000, 1_000);
    let setup = w.setup();
    let mut engine = Engine::new(fast());
    for cmd in &setup {
        engine.apply(cmd).expect("setup");
    }
    let commands = (0..total).map(|_| w.next_command()).collect();
    (engine, setup, commands)
}

/// Submits `commands` (at `rate` per second, or all at once) and waits for every answer;
/// returns commands/s and the sorted acknowledgement latencies.
fn run(node: &Handle, commands: Vec<Command>, rate: Option<f64>) -> (f64, Vec<Duration>) {
    let total = commands.len();
    let acked: Arc<Vec<AtomicU64>> = Arc::new((0..total).map(|_| AtomicU64::new(0)).collect());
    let answered = Arc::new(AtomicU64::new(0));
    let t = Instant::now();
    for (k, cmd) in commands.into_iter().enumerate() {
        if let Some(rate) = rate {
            let due = t + Duration::from_secs_f64(k as f64 / rate);
            let now = Instant::now();
            if due > now + Duration::from_micros(500) {
                std::thread::sleep(due - now);
            }
        }
        let sent = t.elapsed();
        let (acked, answered) = (Arc::clone(&acked), Arc::clone(&answered));
        node.submit_with(cmd, move |_| {
            let took = t.elapsed() - sent;
            acked[k].store(
                u64::try_from(took.as_nanos()).unwrap_or(u64::MAX).max(1),
                Ordering::Relaxed,
            );
            answered.fetch_add(1, Ordering::Release);
        });
    }
    while answered.load(Ordering::Acquire) < total as u64 {
        std::thread::sleep(Duration::from_micros(200));
    }
    let secs = t.elapsed().as_secs_f64();
    let mut lat: Vec<Duration> = acked
        .iter()
        .map(|a| Duration::from_nanos(a.load(Ordering::Relaxed)))
        .collect();
    lat.sort();
    (total as f64 / secs, lat)
}

fn pct(lat: &[Duration], p: f64) -> f64 {
    lat[((lat.len() - 1) as f64 * p) as usize].as_secs_f64() * 1e3
}

fn report(store: &str, load: &str, total: usize, (rate, lat): &(f64, Vec<Duration>)) {
    println!(
        "{store:<28} {load:<24} {total:>7} commands: {rate:>8.0} commands/s; ack p50 {:.2} ms, \
         p99 {:.2} ms, max {:.2} ms",
        pct(lat, 0.5),
        pct(lat, 0.99),
        pct(lat, 1.0)
    );
}

/// A writer node over `store`, fed the setup first.
fn writer<S: Store + 'static>(store: S, setup: &[Command]) -> Handle {
    let node = softliq_node::spawn(Engine::new(fast()), store, node_config());
    for cmd in setup {
        node.apply(cmd.clone()).expect("setup");
    }
    node
}

fn log_config(cluster: &NatsCluster, stream: &str, node: &str, replicas: usize) -> LogConfig {
    let mut c = LogConfig::new(&cluster.url(), stream, node);
    c.replicas = replicas;
    c
}

fn main() {
    let total: usize = std::env::var("SOFTLIQ_BENCH_COMMANDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "replication bench: {total} workload commands (10,000 borrowers), load average {}",
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    let (_, setup, flood) = workload(total);
    let (_, _, steady) = workload(total / 2);
    let three = NatsCluster::start(3);
    let one = NatsCluster::start(1);

    let mut floods = Vec::new();
    // SQLite.
    let dir = tempfile::tempdir().expect("tempdir");
    let node = writer(SqliteStore::open(dir.path()).expect("sqlite"), &setup);
    let r = run(&node, flood.clone(), None);
    report("sqlite (fsync)", "all at once", total, &r);
    floods.push(("sqlite (fsync)", r.0));
    node.shutdown();
    // JetStream, one server and three.
    for (name, cluster, replicas) in [
        ("jetstream R=1 (1 server)", &one, 1),
        ("jetstream R=3 (3 servers)", &three, 3),
    ] {
        let store = JetStreamStore::open(&log_config(cluster, "FLOOD", "w", replicas)).expect("js");
        let node = writer(store, &setup);
        let r = run(&node, flood.clone(), None);
        report(name, "all at once", total, &r);
        floods.push((name, r.0));
        node.shutdown();
    }
    // Steady load: 80% of the slowest flood, at most 20,000/s.
    let rate = floods
        .iter()
        .map(|f| f.1)
        .fold(f64::MAX, f64::min)
        .min(25_000.0)
        * 0.8;
    let offered = format!("offered {rate:.0}/s");
    let dir = tempfile::tempdir().expect("tempdir");
    let node = writer(SqliteStore::open(dir.path()).expect("sqlite"), &setup);
    report(
        "sqlite (fsync)",
        &offered,
        steady.len(),
        &run(&node, steady.clone(), Some(rate)),
    );
    node.shutdown();
    let store = JetStreamStore::open(&log_config(&one, "STEADY", "w", 1)).expect("js");
    let node = writer(store, &setup);
    report(
        "jetstream R=1 (1 server)",
        &offered,
        steady.len(),
        &run(&node, steady.clone(), Some(rate)),
    );
    node.shutdown();

    // R=3 with a follower: its lag sampled while the writer runs, then failover.
    let replica = |name: &str, standby: bool| {
        let mut c = ReplicaConfig::new(log_config(&three, "CLUSTER", name, 3), standby);
        c.lease_ttl = Duration::from_secs(1);
        c.node = node_config();
        c.engine = fast();
        Replica::start(&c, |_, _| None).expect("replica").0
    };
    let mut a = replica("a", false);
    let b = replica("b", true);
    for cmd in &setup {
        a.handle.apply(cmd.clone()).expect("setup");
    }
    let lag_max = Arc::new(AtomicU64::new(0));
    let lags = Arc::new(std::sync::Mutex::new(Vec::new()));
    let sampling = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let sampler = {
        let (wa, wb) = (a.handle.clone(), b.handle.clone());
        let (lag_max, lags, sampling) = (lag_max.clone(), lags.clone(), sampling.clone());
        std::thread::spawn(move || {
            while sampling.load(Ordering::Acquire) {
                let lag = wa.applied_seq().saturating_sub(wb.applied_seq());
                lag_max.fetch_max(lag, Ordering::AcqRel);
                lags.lock().unwrap().push(lag);
                std::thread::sleep(Duration::from_millis(10));
            }
        })
    };
    let r = run(&a.handle, steady.clone(), Some(rate));
    report("jetstream R=3 (3 servers)", &offered, steady.len(), &r);
    let head = a.handle.applied_seq();
    let caught = Instant::now();
    while b.handle.applied_seq() < head {
        std::thread::sleep(Duration::from_millis(1));
    }
    let drain_ms = caught.elapsed().as_secs_f64() * 1e3;
    sampling.store(false, Ordering::Release);
    sampler.join().unwrap();
    let mut lags = lags.lock().unwrap().clone();
    lags.sort_unstable();
    println!(
        "follower lag at {offered} (R=3, sampled every 10 ms): median {} entries, p99 {}, max {}; \
         caught up {drain_ms:.1} ms after the writer's last acknowledgement",
        lags[lags.len() / 2],
        lags[(lags.len() - 1) * 99 / 100],
        lag_max.load(Ordering::Acquire)
    );
    let same = a.handle.read(|e| e.state().hash()).unwrap()
        == b.handle.read(|e| e.state().hash()).unwrap();
    assert!(same, "the follower's state is the writer's");

    // Failover: the writer dies holding its 1 s lease.
    a.handle.shutdown();
    a.abandon();
    let died = Instant::now();
    while !b.status.leading() {
        std::thread::sleep(Duration::from_millis(1));
    }
    println!(
        "failover (lease 1 s, standby polls a third of it): new writer {:.0} ms after the old one \
         died; catch-up and fence {} ms",
        died.elapsed().as_secs_f64() * 1e3,
        b.status.promotion_ms()
    );
    b.handle.shutdown();
}
