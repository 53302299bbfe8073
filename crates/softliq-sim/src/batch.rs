//! A batch: every sweep point × seed × mechanism of a scenario, in parallel.
//!
//! For each (point, seed) the price path and the population are drawn once and every
//! mechanism runs on them, so mechanisms differ only in their rules. Jobs run on rayon's pool
//! and results are collected in job order; every run is single-threaded internally except the
//! screen's scan, whose result is also independent of the thread count. So the same scenario
//! and seeds give bit-identical results on any number of threads.

use std::sync::atomic::{AtomicU64, Ordering};

use rayon::prelude::*;
use serde::Serialize;

use crate::error::Result;
use crate::metrics::RunMetrics;
use crate::paths;
use crate::population;
use crate::run::{RunSpec, Series, run};
use crate::scenario::{Loaded, Mechanism, mechanism};

/// One point of the sweep grid (the only point when there is no sweep).
#[derive(Clone, Debug, Serialize)]
pub struct Point {
    pub label: String,
    pub overrides: Vec<(String, String)>,
    /// Why the point was not run (its parameters were refused), if it was not.
    pub skipped: Option<String>,
}

/// A run's record and, for the charted point, its series.
type Outcome = (RunRecord, Option<Series>);

/// Labelled counts of a histogram.
pub type Histogram = Vec<(String, u64)>;

/// A job's runs and, for the charted seed, the population's starting-HF histogram.
type JobOutcome = (Vec<Outcome>, Option<Histogram>);

/// One run's outcome.
#[derive(Clone, Debug, Serialize)]
pub struct RunRecord {
    pub point: usize,
    pub mechanism: String,
    pub seed: u64,
    pub metrics: RunMetrics,
}

/// Everything a batch produced.
#[derive(Clone, Debug)]
pub struct BatchResult {
    pub points: Vec<Point>,
    pub mechanisms: Vec<String>,
    pub seeds: Vec<u64>,
    pub runs: Vec<RunRecord>,
    /// Per mechanism, the series of the first point's first seed (for charts).
    pub series: Vec<(String, Series)>,
    /// Per mechanism, the series of every seed of the first point, in seed order (for the
    /// charts' bands over seeds).
    pub seed_series: Vec<(String, Vec<Series>)>,
    /// Steps and borrowers of the first point (for the report's header).
    pub steps: usize,
    pub borrowers: u32,
    /// Whether every run reconciled its ledger after every step that moved money.
    pub audit: bool,
    /// Borrowers per starting-HF bin, for the charted seed of the first point.
    pub start_hf_histogram: Histogram,
}

/// Progress counters a caller may poll from another thread.
#[derive(Debug, Default)]
pub struct Progress {
    pub account_steps_done: AtomicU64,
    pub account_steps_total: AtomicU64,
    /// Runs finished and to run: the honest basis of an ETA (a crash step costs far more than
    /// a calm one, and mechanisms differ, so account-steps are not a measure of work).
    pub runs_done: AtomicU64,
    pub runs_total: AtomicU64,
}

#[derive(Clone, Copy, Debug, Default)]
pub struct Options {
    /// Seeds to run (the scenario's `seeds` when `None`).
    pub seeds: Option<u32>,
    /// Reconcile after every step that moved money.
    pub audit: bool,
}

/// The grid points of the scenario's sweep, in row-major order of its keys.
fn grid(loaded: &Loaded) -> Vec<Vec<(String, toml::Value)>> {
    let mut points: Vec<Vec<(String, toml::Value)>> = vec![Vec::new()];
    for (key, values) in &loaded.scenario.sweep {
        points = points
            .into_iter()
            .flat_map(|p| {
                values.iter().map(move |v| {
                    let mut q = p.clone();
                    q.push((key.clone(), v.clone()));
                    q
                })
            })
            .collect();
    }
    points
}

fn show(v: &toml::Value) -> String {
    v.as_str().map_or_else(|| v.to_string(), str::to_owned)
}

/// Runs the whole batch.
///
/// # Errors
/// A path or population that cannot be built, or a run whose accounting broke.
pub fn run_batch(loaded: &Loaded, options: Options, progress: &Progress) -> Result<BatchResult> {
    let seeds: Vec<u64> = (0..u64::from(options.seeds.unwrap_or(loaded.scenario.seeds)))
        .map(|k| loaded.scenario.seed.wrapping_add(k))
        .collect();
    let mut points = Vec::new();
    let mut variants = Vec::new();
    for overrides in grid(loaded) {
        let shown: Vec<(String, String)> = overrides
            .iter()
            .map(|(k, v)| (k.clone(), show(v)))
            .collect();
        let label = if shown.is_empty() {
            "base".to_owned()
        } else {
            shown
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let variant = loaded.with(&overrides).and_then(|l| {
            let mechanisms = l
                .scenario
                .mechanisms
                .iter()
                .map(|m| mechanism(m, &l.scenario, &l.markets))
                .collect::<Result<Vec<_>>>()?;
            Ok((l, mechanisms))
        });
        points.push(Point {
            label,
            overrides: shown,
            skipped: variant.as_ref().err().map(ToString::to_string),
        });
        variants.push(variant.ok());
    }
    let jobs: Vec<(usize, u64, bool)> = variants
        .iter()
        .enumerate()
        .filter(|(_, v)| v.is_some())
        .flat_map(|(p, _)| seeds.iter().enumerate().map(move |(k, &s)| (p, s, k == 0)))
        .collect();
    let mut total = 0u64;
    for &(p, _, _) in &jobs {
        if let Some((l, m)) = &variants[p] {
            total += u64::from(l.scenario.population.borrowers) * l.steps() as u64 * m.len() as u64;
        }
    }
    progress.account_steps_total.store(total, Ordering::Relaxed);
    let runs_total: usize = jobs
        .iter()
        .filter_map(|&(p, _, _)| variants[p].as_ref().map(|(_, m)| m.len()))
        .sum();
    progress
        .runs_total
        .store(runs_total as u64, Ordering::Relaxed);
    let outcomes: Vec<Result<JobOutcome>> = jobs
        .par_iter()
        .map(|&(p, seed, first_seed)| {
            let (l, mechanisms) = variants[p].as_ref().expect("jobs only for valid points");
            job(l, mechanisms, (p, seed, first_seed), options, progress)
        })
        .collect();
    let mut runs = Vec::new();
    let mut series = Vec::new();
    let mut seed_series: Vec<(String, Vec<Series>)> = Vec::new();
    let mut start_hf_histogram = Vec::new();
    for outcome in outcomes {
        let (outcome, histogram) = outcome?;
        if let Some(h) = histogram {
            start_hf_histogram = h;
        }
        for (record, s) in outcome {
            if let Some(s) = s {
                match seed_series.iter_mut().find(|(m, _)| *m == record.mechanism) {
                    Some((_, all)) => all.push(s),
                    None => {
                        series.push((record.mechanism.clone(), s.clone()));
                        seed_series.push((record.mechanism.clone(), vec![s]));
                    }
                }
            }
            runs.push(record);
        }
    }
    let first = variants.iter().flatten().next();
    Ok(BatchResult {
        points,
        mechanisms: loaded.scenario.mechanisms.clone(),
        seeds,
        runs,
        series,
        seed_series,
        steps: first.map_or(0, |(l, _)| l.steps()),
        borrowers: first.map_or(0, |(l, _)| l.scenario.population.borrowers),
        audit: options.audit,
        start_hf_histogram,
    })
}

/// Upper edges of the starting-HF histogram's bins (the last bin is open).
const HF_EDGES: [f64; 6] = [1.1, 1.2, 1.5, 2.0, 3.0, 5.0];

/// Borrowers per starting-HF bin, labelled (`1.1–1.2`, `≥ 5`).
fn hf_histogram(start_hf: &[f64]) -> Histogram {
    let mut counts = [0u64; HF_EDGES.len() + 1];
    for hf in start_hf {
        let bin = HF_EDGES
            .iter()
            .position(|e| hf < e)
            .unwrap_or(HF_EDGES.len());
        counts[bin] += 1;
    }
    let mut lower = "< ".to_owned();
    let mut out = Vec::new();
    for (k, count) in counts.iter().enumerate() {
        let label = match HF_EDGES.get(k) {
            Some(e) if k == 0 => format!("{lower}{e}"),
            Some(e) => format!("{lower}–{e}"),
            None => format!("≥ {}", HF_EDGES[HF_EDGES.len() - 1]),
        };
        if let Some(e) = HF_EDGES.get(k) {
            lower = format!("{e}");
        }
        out.push((label, *count));
    }
    out
}

/// One (point, seed): the path and population once, then each mechanism.
fn job(
    loaded: &Loaded,
    mechanisms: &[Mechanism],
    (point, seed, first_seed): (usize, u64, bool),
    options: Options,
    progress: &Progress,
) -> Result<JobOutcome> {
    let path = paths::for_seed(loaded, seed)?;
    let population = population::draw(
        &loaded.scenario.population,
        &loaded.markets,
        path.at(0),
        (path.times_s[0], seed),
    )?;
    // Series are kept for every seed of the first point (charts draw bands over seeds); the
    // starting-HF histogram is the first seed's.
    let keep_series = point == 0;
    let histogram = (keep_series && first_seed).then(|| hf_histogram(&population.start_hf));
    let outcomes = mechanisms
        .par_iter()
        .map(|m| {
            let spec = RunSpec {
                loaded,
                mechanism: m,
                path: &path,
                population: &population,
                keep_series,
                audit: options.audit,
                progress: Some(&progress.account_steps_done),
            };
            let result = run(&spec).map_err(|e| e.at_file(&loaded.file))?;
            progress.runs_done.fetch_add(1, Ordering::Relaxed);
            Ok((
                RunRecord {
                    point,
                    mechanism: m.name.clone(),
                    seed,
                    metrics: result.metrics,
                },
                result.series,
            ))
        })
        .collect::<Result<Vec<Outcome>>>()?;
    Ok((outcomes, histogram))
}

#[cfg(test)]
mod tests {
    use super::hf_histogram;

    #[test]
    fn starting_hf_bins() {
        let h = hf_histogram(&[1.05, 1.1, 1.15, 1.6, 2.5, 4.0, 9.0, 1.49]);
        let labels: Vec<&str> = h.iter().map(|(l, _)| l.as_str()).collect();
        assert_eq!(
            labels,
            ["< 1.1", "1.1–1.2", "1.2–1.5", "1.5–2", "2–3", "3–5", "≥ 5"]
        );
        let counts: Vec<u64> = h.iter().map(|(_, c)| *c).collect();
        assert_eq!(counts, [1, 2, 1, 1, 1, 1, 1]);
    }
}
