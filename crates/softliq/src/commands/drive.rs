//! `softliq drive` (hidden): applies the seeded synthetic workload to a data directory through
//! the durable node and prints `ack <client_id> <seq>` for each command once it is durable.
//! Restarted on the same directory, it recovers and continues the stream after the last
//! logged command. The crash test kills it with SIGKILL at random points.

use std::io::Write;
use std::path::PathBuf;
use std::sync::mpsc;

use anyhow::{Context, Result};
use softliq_engine::{Engine, EngineConfig};
use softliq_node as store;
use softliq_node::workload::Workload;
use softliq_node::{NodeConfig, SqliteStore};

#[derive(clap::Args)]
pub struct Args {
    #[arg(long)]
    data: PathBuf,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    #[arg(long, default_value_t = 50)]
    borrowers: u64,
    /// Commands of the stream after the setup.
    #[arg(long, default_value_t = 10_000)]
    count: u64,
    #[arg(long, default_value_t = 500)]
    snapshot_every: u64,
    /// Add a WETH-PERP market to the stream (quotes, orders, cancels, liquidation steps).
    #[arg(long)]
    perps: bool,
}

pub fn run(args: &Args) -> Result<()> {
    let mut db = SqliteStore::open_writer(&args.data).context("opening the store")?;
    let (engine, _) = store::recover(&mut db, EngineConfig::default()).context("recovering")?;
    let done = engine.state().receipts.last().map_or(0, |r| r.client_id.0);
    let node = store::spawn(
        Engine::from_state(engine.state().clone(), EngineConfig::default()),
        db,
        NodeConfig {
            batch_max: 64,
            snapshot_every: args.snapshot_every,
            ..NodeConfig::default()
        },
    );
    let mut w = Workload::new(args.seed, args.borrowers, 20).volatile();
    if args.perps {
        w = w.with_perps();
    }
    let commands = w
        .setup()
        .into_iter()
        .chain((0..args.count).map(|_| w.next_command()))
        .filter(|c| c.client_id.0 > done);
    let (tx, rx) = mpsc::sync_channel(256);
    let printer = std::thread::spawn(move || {
        let stdout = std::io::stdout();
        for (id, reply) in rx {
            let reply: mpsc::Receiver<_> = reply;
            if let Ok(Ok(ack)) = reply.recv() {
                let ack: store::Ack = ack;
                let mut out = stdout.lock();
                let _ = writeln!(out, "ack {id} {}", ack.seq);
                let _ = out.flush();
            }
        }
    });
    for cmd in commands {
        let id = cmd.client_id.0;
        if tx.send((id, node.submit(cmd))).is_err() {
            break;
        }
    }
    drop(tx);
    let _ = printer.join();
    node.shutdown();
    Ok(())
}
