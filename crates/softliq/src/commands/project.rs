//! `softliq project`: the log (a data directory, or a JetStream stream) written into the
//! PostgreSQL event store, from where the store's position says, to the log's end or on as it
//! grows. `serve --postgres` runs the same projector in process.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

use anyhow::{Result, anyhow};
use softliq_node::{SqliteStore, Store};

use super::serve::{HistoryArgs, LogArgs, StoreKind};

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    history: HistoryArgs,
    #[command(flatten)]
    log: LogArgs,
    /// Data directory (with --store sqlite).
    #[arg(long, env = "SOFTLIQ_DATA", default_value = "softliq-data")]
    data: PathBuf,
    /// Keep following the log as it grows (until Ctrl-C); without it, stop at its end.
    #[arg(long)]
    follow: bool,
}

pub fn run(args: &Args) -> Result<()> {
    let config = args
        .history
        .config()?
        .ok_or_else(|| anyhow!("--postgres: required (the event store's URL)"))?;
    let mut store: Box<dyn Store> = match args.log.store {
        StoreKind::Sqlite => {
            if !args.data.join("softliq.db").exists() {
                return Err(anyhow!(
                    "--data {}: no softliq.db there (give the data directory of a server)",
                    args.data.display()
                ));
            }
            Box::new(SqliteStore::open(&args.data).map_err(|e| anyhow!("--data: {e}"))?)
        }
        StoreKind::Jetstream => {
            let log = args.log.log_config("projector");
            Box::new(softliq_cluster::JetStreamStore::open(&log).map_err(|e| anyhow!("{e}"))?)
        }
    };
    let stop = std::sync::Arc::new(AtomicBool::new(false));
    if args.follow {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            if let Ok(rt) = rt {
                rt.block_on(softliq_server::shutdown_signal());
            }
            stop.store(true, std::sync::atomic::Ordering::Release);
        });
    }
    let projector = softliq_history::ProjectorConfig::new(config.clone());
    let mut first = None;
    let last = softliq_history::project(store.as_mut(), &projector, args.follow, &stop, &mut |p| {
        first.get_or_insert(p);
    })
    .map_err(|e| anyhow!("{e}"))?;
    println!(
        "project: entries {}..={last} written to schema {} (position {last})",
        first.unwrap_or(0) + 1,
        config.schema
    );
    Ok(())
}
