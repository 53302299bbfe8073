//! `cargo bench --bench sim`: one mechanism over 100,000 borrowers and a year of hourly steps
//! (the bundled 2022 replay), on all cores. Prints wall time, account-steps per second and
//! peak resident memory. Targets: ≤ 30 s and ≤ 2 GiB on a 2-core machine.
//!
//! Arguments (after `--`): `--borrowers N`, `--mechanism NAME`.

use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::Instant;

use softliq_sim::batch::{Options, Progress, run_batch};

fn arg(name: &str, default: &str) -> String {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
        .unwrap_or_else(|| default.to_owned())
}

/// Peak resident set size in MiB (Linux), if known.
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn main() {
    let borrowers = arg("--borrowers", "100000");
    let mechanism = arg("--mechanism", "soft");
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/year-2022.toml");
    let loaded = softliq_sim::scenario::load(&file).expect("the bundled year scenario");
    let overrides = [
        format!("population.borrowers={borrowers}"),
        format!("mechanisms=[\"{mechanism}\"]"),
    ]
    .map(|s| softliq_sim::scenario::parse_set(&s).expect("override"));
    let loaded = loaded.with(&overrides).expect("overrides");
    let progress = Progress::default();
    let started = Instant::now();
    let batch = run_batch(
        &loaded,
        Options {
            seeds: Some(1),
            audit: false,
        },
        &progress,
    )
    .expect("the run");
    let wall = started.elapsed().as_secs_f64();
    let account_steps = progress.account_steps_done.load(Ordering::Relaxed);
    let m = &batch.runs[0].metrics;
    let rate = account_steps as f64 / wall;
    println!(
        "sim/year-2022 {mechanism}: {borrowers} borrowers x {} steps = {account_steps} account-steps",
        batch.steps
    );
    println!(
        "  wall {wall:.1} s ({:.1} M account-steps/s on {} threads), peak RSS {:.0} MiB",
        rate / 1e6,
        rayon::current_num_threads(),
        peak_rss_mib().unwrap_or(f64::NAN)
    );
    println!(
        "  calls {}, liquidated {:.0} USD, borrower loss {:.0} USD, bad debt {:.0} USD, peak impact {:.2}%",
        m.calls,
        m.liquidated_volume_usd,
        m.borrower_loss_usd,
        m.bad_debt_usd,
        m.peak_impact * 100.0
    );
    println!("  targets: wall <= 30 s, peak RSS <= 2048 MiB");
}
