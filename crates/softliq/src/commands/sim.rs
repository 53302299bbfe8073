//! `softliq sim`: run a stress scenario and write its report; `softliq sim fit`: estimate
//! synthetic-path parameters from hourly closes.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use softliq_sim::batch::{Options, Progress, run_batch};
use softliq_sim::paths::{fit, load_closes};
use softliq_sim::report;

#[derive(clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Args {
    #[command(subcommand)]
    action: Option<Action>,
    /// The scenario file (for example `scenarios/crash-2022-06-13.toml`).
    scenario: Option<PathBuf>,
    /// Where to write report.html, summary.json and runs.csv [default: sim-out/<scenario name>].
    #[arg(long)]
    out: Option<PathBuf>,
    /// Seeds to run (overrides the scenario's `seeds`).
    #[arg(long)]
    seeds: Option<u32>,
    /// Worker threads [default: one per core]. Results do not depend on it.
    #[arg(long)]
    threads: Option<usize>,
    /// Reconcile every run's ledger after every step that moved money (slower).
    #[arg(long)]
    audit: bool,
    /// Set a scenario field for this run: `--set population.borrowers=1000` (repeatable; the
    /// value is read as TOML, else as a string).
    #[arg(long = "set", value_name = "PATH=VALUE")]
    sets: Vec<String>,
}

#[derive(clap::Subcommand)]
enum Action {
    /// Fit GBM, Merton, GARCH(1,1) and correlation parameters to hourly closes and print a
    /// `[prices]` table for a synthetic scenario.
    Fit(FitArgs),
}

#[derive(clap::Args)]
struct FitArgs {
    /// `SYMBOL=FILE` of hourly closes (`timestamp,close`), repeatable.
    #[arg(long = "series", value_name = "SYMBOL=FILE", required = true)]
    series: Vec<String>,
    /// First timestamp to use (Unix seconds).
    #[arg(long, default_value_t = 0)]
    from_s: u64,
    /// End of the range (Unix seconds, exclusive).
    #[arg(long, default_value_t = u64::MAX)]
    to_s: u64,
    /// Steps of the synthetic path to print.
    #[arg(long, default_value_t = 8_760)]
    steps: u32,
}

pub fn run(args: &Args) -> Result<()> {
    if let Some(Action::Fit(f)) = &args.action {
        return run_fit(f);
    }
    let Some(file) = &args.scenario else {
        bail!("scenario: give a scenario file, e.g. `softliq sim scenarios/crash-2022-06-13.toml`");
    };
    if softliq_sim::perp::is_perp_file(file) {
        return run_perp(args, file);
    }
    let mut loaded = softliq_sim::scenario::load(file)?;
    let overrides = args
        .sets
        .iter()
        .map(|s| softliq_sim::scenario::parse_set(s))
        .collect::<Result<Vec<_>, _>>()?;
    if !overrides.is_empty() {
        loaded = loaded.with(&overrides)?;
    }
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| Path::new("sim-out").join(&loaded.scenario.name));
    let threads = args.threads.unwrap_or(0);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .context("threads")?;
    let progress = Progress::default();
    let options = Options {
        seeds: args.seeds,
        audit: args.audit,
    };
    let started = Instant::now();
    let done = std::sync::atomic::AtomicBool::new(false);
    let batch = std::thread::scope(|scope| {
        let bar = scope.spawn(|| draw_progress(&progress, &done));
        let batch = pool.install(|| run_batch(&loaded, options, &progress));
        done.store(true, Ordering::Relaxed);
        let _ = bar.join();
        batch
    })?;
    let elapsed = started.elapsed();
    let summary = report::write(&out, &loaded, &batch)?;
    let account_steps = progress.account_steps_done.load(Ordering::Relaxed);
    println!(
        "{}: {} runs ({} points × {} seeds × {} mechanisms), {} account-steps in {:.1} s ({:.2} M account-steps/s on {} threads)",
        loaded.scenario.name,
        batch.runs.len(),
        batch.points.len(),
        batch.seeds.len(),
        batch.mechanisms.len(),
        account_steps,
        elapsed.as_secs_f64(),
        account_steps as f64 / elapsed.as_secs_f64().max(1e-9) / 1e6,
        pool.current_num_threads()
    );
    print!("{}", report::headline_text(&summary));
    println!("wrote {}", out.join("report.html").display());
    Ok(())
}

/// A progress bar on stderr (hidden when stderr is not a terminal): account-steps done, and an
/// ETA from runs finished. Account-steps are no measure of work (a crash step costs many calm
/// ones, an auction or band run several call runs), so the ETA is the average time per finished
/// run (over all threads) times the runs left, and says how many runs it rests on.
fn draw_progress(progress: &Progress, done: &std::sync::atomic::AtomicBool) {
    let bar = indicatif::ProgressBar::new(1);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {percent}% account-steps, {msg}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let started = std::time::Instant::now();
    while !done.load(Ordering::Relaxed) {
        bar.set_length(progress.account_steps_total.load(Ordering::Relaxed).max(1));
        bar.set_position(progress.account_steps_done.load(Ordering::Relaxed));
        let runs = (
            progress.runs_done.load(Ordering::Relaxed),
            progress.runs_total.load(Ordering::Relaxed),
        );
        bar.set_message(eta_message(started.elapsed(), runs));
        std::thread::sleep(Duration::from_millis(200));
    }
    bar.finish_and_clear();
}

/// `ETA …` from `done` of `total` runs finished in `elapsed`.
fn eta_message(elapsed: Duration, (done, total): (u64, u64)) -> String {
    if done == 0 {
        return format!("ETA after the first of {total} runs");
    }
    let left_s = elapsed.as_secs_f64() / done as f64 * total.saturating_sub(done) as f64;
    format!("ETA {left_s:.0} s ({done} of {total} runs done)")
}

fn run_fit(args: &FitArgs) -> Result<()> {
    let mut series = Vec::new();
    for s in &args.series {
        let (symbol, file) = s
            .split_once('=')
            .ok_or_else(|| anyhow!("--series: expected SYMBOL=FILE, got {s:?}"))?;
        let rows = load_closes(Path::new(file), (args.from_s, args.to_s))?;
        series.push((symbol.to_owned(), rows));
    }
    let fitted = fit(&series, 3_600)?;
    print!("{}", fitted.to_toml(args.steps));
    Ok(())
}

/// `softliq sim` on a perp scenario: every mechanism over the seeds, a table on stdout, and
/// `summary.json` and `table.txt` in the output directory.
fn run_perp(args: &Args, file: &Path) -> Result<()> {
    if args.audit {
        bail!(
            "--audit: not available for perp scenarios (every perp run checks conservation at its end)"
        );
    }
    let overrides = args
        .sets
        .iter()
        .map(|s| softliq_sim::scenario::parse_set(s))
        .collect::<Result<Vec<_>, _>>()?;
    let scenario = softliq_sim::perp::PerpScenario::load_with(file, &overrides)?;
    let seeds = args.seeds.unwrap_or(scenario.seeds);
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| Path::new("sim-out").join(&scenario.name));
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.threads.unwrap_or(0))
        .build()
        .context("threads")?;
    let started = Instant::now();
    let summary = pool.install(|| softliq_sim::perp::run_all(&scenario, seeds))?;
    summary.write(&out)?;
    println!(
        "{}: {} mechanisms × {} seeds, {} traders, {} steps in {:.1} s",
        scenario.name,
        summary.mechanisms.len(),
        seeds,
        summary.traders,
        summary.steps,
        started.elapsed().as_secs_f64()
    );
    print!("{}", summary.table());
    println!("wrote {}", out.join("summary.json").display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::eta_message;

    #[test]
    fn the_eta_rests_on_finished_runs() {
        assert_eq!(
            eta_message(Duration::from_secs(3), (0, 18)),
            "ETA after the first of 18 runs"
        );
        // 6 runs in 30 s: 5 s a run, 12 left.
        assert_eq!(
            eta_message(Duration::from_secs(30), (6, 18)),
            "ETA 60 s (6 of 18 runs done)"
        );
    }
}
