//! `softliq replay`: an operator's fsck. Rebuilds the state from a data directory twice — from
//! the latest snapshot plus the log's tail (what a restart does) and from an empty state
//! through the whole log — and reports both hashes, the command count and any broken
//! invariant. Exit status 1 when they disagree or an invariant broke.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use softliq_engine::EngineConfig;
use softliq_node as store;
use softliq_node::SqliteStore;

#[derive(clap::Args)]
pub struct Args {
    /// The data directory (as given to `softliq serve --data`).
    #[arg(long, default_value = "softliq-data")]
    data: PathBuf,
    /// Check every invariant after every replayed command (slower).
    #[arg(long)]
    audit: bool,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(args: &Args) -> Result<()> {
    if !args.data.join("softliq.db").exists() {
        bail!("--data: no softliq.db in {}", args.data.display());
    }
    let config = EngineConfig { audit: args.audit };
    let mut db = SqliteStore::open(&args.data).context("opening the store")?;
    let (recovered, report) = store::recover(&mut db, config).context("recovering")?;
    let full = store::replay_all(&mut db, config).context("replaying from empty")?;
    let (h_recovered, h_full) = (recovered.state().hash(), full.state().hash());
    let audit = full.audit_full().err();
    let halted = full.state().halted.clone();
    let ok = h_recovered == h_full && audit.is_none() && halted.is_none();
    if args.json {
        let out = serde_json::json!({
            "data": args.data,
            "commands": full.state().seq,
            "snapshot_seq": report.snapshot_seq,
            "replayed_after_snapshot": report.replayed,
            "snapshot_skipped": report.snapshot_skipped,
            "state_hash": h_recovered.to_hex().as_str(),
            "replay_hash": h_full.to_hex().as_str(),
            "hashes_match": h_recovered == h_full,
            "accounts": full.state().accounts.len(),
            "assets": full.state().assets.len(),
            "invariant_break": audit,
            "halted": halted,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        println!("data directory   {}", args.data.display());
        println!("commands         {}", full.state().seq);
        println!(
            "snapshot         at {} (+{} replayed)",
            report.snapshot_seq, report.replayed
        );
        if let Some(why) = &report.snapshot_skipped {
            println!("snapshot skipped {why}; the whole log was replayed");
        }
        println!("accounts         {}", full.state().accounts.len());
        println!("state hash       {}", h_recovered.to_hex());
        println!("replay hash      {}", h_full.to_hex());
        println!(
            "hashes           {}",
            if h_recovered == h_full {
                "match"
            } else {
                "DIFFER"
            }
        );
        println!("invariants       {}", audit.as_deref().unwrap_or("hold"));
        if let Some(h) = &halted {
            println!("halted           {h}");
        }
    }
    if !ok {
        std::process::exit(1);
    }
    Ok(())
}
