//! `softliq soak`: a long randomized run of the engine, checking invariants as it goes.
//!
//! The seeded synthetic workload drives the engine in lanes of `--lane` commands, each a fresh
//! market with its own seed and regime, rotating through a calm random walk, a crash-prone
//! market (falls of 8% on 3% of price updates, so accounts cross the liquidation line), and a
//! Dutch-auction market (starts, takes and resets). With `--audit` every command is followed by
//! the engine's invariant checks (docs/engine.md, Invariants), which halt the engine on a break;
//! every lane ends with a full audit. It prints what ran, by command and event kind, and exits 1 on
//! any break.

use std::collections::BTreeMap;
use std::time::Instant;

use anyhow::{Result, bail};
use softliq_engine::{Engine, EngineConfig};
use softliq_node::workload::Workload;

#[derive(clap::Args)]
pub struct Args {
    /// Commands to apply (setups included).
    #[arg(long, default_value_t = 1_000_000)]
    commands: u64,
    /// The first lane's seed; lane `k` uses `seed + k`.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Check every invariant after every command.
    #[arg(long)]
    audit: bool,
    /// Commands per lane (a fresh market).
    #[arg(long, default_value_t = 500_000)]
    lane: u64,
    /// Borrowers per lane.
    #[arg(long, default_value_t = 200)]
    borrowers: u64,
}

/// A lane's regime, by lane number.
fn workload(lane: u64, seed: u64, borrowers: u64) -> (Workload, &'static str) {
    let w = Workload::new(seed, borrowers, 20);
    match lane % 3 {
        0 => (w, "calm"),
        1 => (w.volatile(), "crash-prone"),
        _ => (w.volatile().dutch(), "dutch"),
    }
}

/// The serde name of a value's variant (`liquidated`, `not_liquidatable`, ...), for the kinds
/// that have no name method of their own (commands use `CommandBody::kind`).
fn kind<T: serde::Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::Object(map)) => map.keys().next().cloned().unwrap_or_default(),
        Ok(serde_json::Value::String(s)) => s,
        _ => "?".to_owned(),
    }
}

#[derive(Default)]
struct Tally {
    applied: u64,
    accepted: BTreeMap<String, u64>,
    rejected: BTreeMap<String, u64>,
    events: BTreeMap<String, u64>,
    breaks: Vec<String>,
}

pub fn run(args: &Args) -> Result<()> {
    if args.commands == 0 || args.lane == 0 {
        bail!("--commands and --lane: at least 1");
    }
    let started = Instant::now();
    let mut tally = Tally::default();
    let mut lane = 0;
    while tally.applied < args.commands && tally.breaks.is_empty() {
        let (mut w, regime) = workload(lane, args.seed + lane, args.borrowers);
        let mut engine = Engine::new(EngineConfig { audit: args.audit });
        let mut setup = w.setup().into_iter();
        let mut in_lane = 0;
        while in_lane < args.lane && tally.applied < args.commands {
            let cmd = setup
                .next()
                .unwrap_or_else(|| w.next_command_for(engine.state()));
            let name = cmd.body.kind().to_owned();
            match engine.apply(&cmd) {
                Ok(events) => {
                    *tally.accepted.entry(name).or_default() += 1;
                    for e in events.iter() {
                        *tally.events.entry(kind(e)).or_default() += 1;
                    }
                }
                Err(r) => {
                    *tally
                        .rejected
                        .entry(format!("{name}: {}", kind(&r.code)))
                        .or_default() += 1;
                }
            }
            if let Some(halted) = &engine.state().halted {
                tally
                    .breaks
                    .push(format!("lane {lane} ({regime}): {halted}"));
                break;
            }
            tally.applied += 1;
            in_lane += 1;
        }
        if let Err(e) = engine.audit_full() {
            tally
                .breaks
                .push(format!("lane {lane} ({regime}), full audit: {e}"));
        }
        lane += 1;
    }
    print(&tally, lane, args, started.elapsed().as_secs_f64());
    if !tally.breaks.is_empty() {
        std::process::exit(1);
    }
    Ok(())
}

fn print(t: &Tally, lanes: u64, args: &Args, secs: f64) {
    println!(
        "soak: {} commands in {lanes} lanes (seed {}, {} borrowers each, audit {}) in {secs:.1} s ({:.0} commands/s)",
        t.applied,
        args.seed,
        args.borrowers,
        if args.audit {
            "after every command"
        } else {
            "at the end of each lane"
        },
        t.applied as f64 / secs.max(1e-9)
    );
    println!("accepted:");
    for (k, n) in &t.accepted {
        println!("  {k:<28} {n}");
    }
    println!("refused:");
    for (k, n) in &t.rejected {
        println!("  {k:<44} {n}");
    }
    println!("events:");
    for (k, n) in &t.events {
        println!("  {k:<28} {n}");
    }
    println!("invariant breaks: {}", t.breaks.len());
    for b in &t.breaks {
        println!("  {b}");
    }
}
