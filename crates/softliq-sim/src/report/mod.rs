//! What a batch writes: `summary.json` (statistics per point and mechanism, the best setting
//! per metric), `runs.csv` (one row per run) and `report.html` (self-contained, SVG charts).
//!
//! `summary.json` holds nothing that depends on the machine or the clock, so two batches with
//! the same scenario and seeds write identical files whatever the thread count.

mod charts;
mod html;
mod saving;

use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

use crate::batch::{BatchResult, Point};
use crate::error::{Result, SimError};
use crate::metrics::{HEADLINE, RunMetrics};
use crate::scenario::Loaded;

use crate::stats::Stats;
pub use saving::{Saving, Side, saving};

/// Statistics of every metric of one mechanism at one point.
#[derive(Clone, Debug, Serialize)]
pub struct MechanismStats {
    pub mechanism: String,
    pub metrics: Vec<(String, Stats)>,
}

#[derive(Clone, Debug, Serialize)]
pub struct PointSummary {
    #[serde(flatten)]
    pub point: Point,
    pub mechanisms: Vec<MechanismStats>,
}

/// The best (point, mechanism) for one metric, by its mean over seeds.
#[derive(Clone, Debug, Serialize)]
pub struct Best {
    pub metric: String,
    pub lower_is_better: bool,
    pub point: String,
    pub mechanism: String,
    pub mean: f64,
}

/// The soft-liquidation targets a mechanism is held to against `full`: borrower loss at most
/// this share of `full`'s, and at most this loss per liquidated dollar (bad debt: at most
/// `full`'s).
pub const TARGET_LOSS_SHARE: f64 = 0.25;
pub const TARGET_LOSS_PER_DOLLAR: f64 = 0.015;

/// One mechanism against `full` at one point, by the means over seeds.
#[derive(Clone, Debug, Serialize)]
pub struct Versus {
    pub point: String,
    pub mechanism: String,
    /// Borrower loss as a share of `full`'s.
    pub loss_share_of_full: f64,
    pub bad_debt_usd: f64,
    pub full_bad_debt_usd: f64,
    /// Borrower loss per liquidated dollar.
    pub loss_per_liquidated_dollar: f64,
    /// Peak impact as a multiple of `full`'s.
    pub peak_impact_vs_full: f64,
    pub meets_loss: bool,
    pub meets_bad_debt: bool,
    pub meets_loss_per_dollar: bool,
    /// Where the saving of borrower loss against `full` comes from (`saving.rs`).
    pub saving: Saving,
}

#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    pub scenario: String,
    pub description: String,
    /// The preset the scenario ran under (`calibrated`, `ideal`), if it names one.
    pub preset: Option<String>,
    pub seeds: Vec<u64>,
    pub steps: usize,
    pub borrowers: u32,
    pub mechanisms: Vec<String>,
    pub sweep: Vec<String>,
    /// Whether the batch ran with `--audit` (every ledger reconciled after every step that
    /// moved money, not only at the end).
    pub audit: bool,
    pub accounting: String,
    pub points: Vec<PointSummary>,
    pub best: Vec<Best>,
    /// Every other mechanism against `full` (when `full` ran), with the targets' verdicts.
    pub against_full: Vec<Versus>,
    /// Borrowers per starting-HF bin (first point, first seed).
    pub start_hf_histogram: Vec<(String, u64)>,
    /// The reported range the scenario is calibrated to, and whether `full` landed in it.
    pub calibration: Option<CalibrationCheck>,
}

/// `full`'s liquidated share of debt (mean over seeds, first point) against the range
/// reported for the event.
#[derive(Clone, Debug, Serialize)]
pub struct CalibrationCheck {
    pub liquidated_share_min: f64,
    pub liquidated_share_max: f64,
    pub full_liquidated_share: f64,
    pub within: bool,
}

impl Summary {
    /// Statistics of a batch.
    #[must_use]
    pub fn of(loaded: &Loaded, batch: &BatchResult) -> Self {
        let names = RunMetrics::names();
        let points: Vec<PointSummary> = batch
            .points
            .iter()
            .enumerate()
            .map(|(p, point)| PointSummary {
                point: point.clone(),
                mechanisms: if point.skipped.is_some() {
                    Vec::new()
                } else {
                    batch
                        .mechanisms
                        .iter()
                        .map(|m| stats_of(batch, p, m, &names))
                        .collect()
                },
            })
            .collect();
        let best = HEADLINE
            .iter()
            .filter_map(|&(metric, lower)| best_of(&points, metric, lower))
            .collect();
        Self {
            scenario: loaded.scenario.name.clone(),
            description: loaded.scenario.description.clone(),
            preset: loaded.scenario.preset.clone(),
            seeds: batch.seeds.clone(),
            steps: batch.steps,
            borrowers: batch.borrowers,
            mechanisms: batch.mechanisms.clone(),
            sweep: loaded.scenario.sweep.keys().cloned().collect(),
            audit: batch.audit,
            accounting: format!(
                "every run reconciled exactly: per asset, pool cash against recorded flows, \
                 shares of all accounts against the pool, the pool identity, and each call's \
                 collateral split ({} runs, {})",
                batch.runs.len(),
                if batch.audit {
                    "after every step that moved money (--audit)"
                } else {
                    "at the end of each run"
                }
            ),
            against_full: Vec::new(),
            start_hf_histogram: batch.start_hf_histogram.clone(),
            calibration: None,
            points,
            best,
        }
        .with_versus()
        .with_calibration(loaded)
    }

    fn with_calibration(mut self, loaded: &Loaded) -> Self {
        let Some(spec) = loaded.scenario.calibration else {
            return self;
        };
        let range = spec.liquidated_share;
        self.calibration =
            self.stat(0, "full", "liquidated_share_of_debt")
                .map(|s| CalibrationCheck {
                    liquidated_share_min: range.min,
                    liquidated_share_max: range.max,
                    full_liquidated_share: s.mean,
                    within: range.contains(s.mean),
                });
        self
    }

    fn with_versus(mut self) -> Self {
        let mut out = Vec::new();
        for (p, point) in self.points.iter().enumerate() {
            let mean = |m: &str, metric: &str| self.stat(p, m, metric).map(|s| s.mean);
            let (Some(full_loss), Some(full_bad), Some(full_peak)) = (
                mean("full", "borrower_loss_usd"),
                mean("full", "bad_debt_usd"),
                mean("full", "peak_impact"),
            ) else {
                continue;
            };
            let side = |m: &str| Side {
                loss_usd: mean(m, "borrower_loss_usd").unwrap_or(0.0),
                volume_usd: mean(m, "liquidated_volume_usd").unwrap_or(0.0),
                bad_debt_usd: mean(m, "bad_debt_usd").unwrap_or(0.0),
                responses_usd: mean(m, "responses_usd").unwrap_or(0.0),
            };
            for m in self.mechanisms.iter().filter(|m| *m != "full") {
                let get = |metric| mean(m, metric).unwrap_or(f64::NAN);
                let loss = get("borrower_loss_usd");
                let volume = get("liquidated_volume_usd");
                let bad = get("bad_debt_usd");
                let share = ratio(loss, full_loss);
                let per_dollar = ratio(loss, volume);
                out.push(Versus {
                    point: point.point.label.clone(),
                    mechanism: m.clone(),
                    loss_share_of_full: share,
                    bad_debt_usd: bad,
                    full_bad_debt_usd: full_bad,
                    loss_per_liquidated_dollar: per_dollar,
                    peak_impact_vs_full: ratio(get("peak_impact"), full_peak),
                    meets_loss: share <= TARGET_LOSS_SHARE,
                    meets_bad_debt: bad <= full_bad,
                    meets_loss_per_dollar: per_dollar <= TARGET_LOSS_PER_DOLLAR,
                    saving: saving(side("full"), side(m)),
                });
            }
        }
        self.against_full = out;
        self
    }

    /// The statistics of `metric` for `mechanism` at point `p`.
    #[must_use]
    pub fn stat(&self, p: usize, mechanism: &str, metric: &str) -> Option<&Stats> {
        self.points
            .get(p)?
            .mechanisms
            .iter()
            .find(|m| m.mechanism == mechanism)?
            .metrics
            .iter()
            .find(|(n, _)| n == metric)
            .map(|(_, s)| s)
    }
}

fn stats_of(batch: &BatchResult, p: usize, mechanism: &str, names: &[String]) -> MechanismStats {
    let runs: Vec<Vec<(String, f64)>> = batch
        .runs
        .iter()
        .filter(|r| r.point == p && r.mechanism == mechanism)
        .map(|r| r.metrics.values())
        .collect();
    MechanismStats {
        mechanism: mechanism.to_owned(),
        metrics: names
            .iter()
            .enumerate()
            .map(|(k, n)| {
                let values: Vec<f64> = runs.iter().map(|v| v[k].1).collect();
                (n.clone(), Stats::of(&values))
            })
            .collect(),
    }
}

fn best_of(points: &[PointSummary], metric: &str, lower: bool) -> Option<Best> {
    let mut best: Option<Best> = None;
    for p in points {
        for m in &p.mechanisms {
            let Some((_, s)) = m.metrics.iter().find(|(n, _)| n == metric) else {
                continue;
            };
            let better = best.as_ref().is_none_or(|b| {
                if lower {
                    s.mean < b.mean
                } else {
                    s.mean > b.mean
                }
            });
            if better {
                best = Some(Best {
                    metric: metric.to_owned(),
                    lower_is_better: lower,
                    point: p.point.label.clone(),
                    mechanism: m.mechanism.clone(),
                    mean: s.mean,
                });
            }
        }
    }
    best
}

/// `runs.csv`: one row per run, every metric.
#[must_use]
pub fn runs_csv(batch: &BatchResult) -> String {
    let names = RunMetrics::names();
    let mut out = format!("point,label,mechanism,seed,{}\n", names.join(","));
    for r in &batch.runs {
        let label = batch.points[r.point].label.replace('"', "'");
        let _ = write!(out, "{},\"{label}\",{},{}", r.point, r.mechanism, r.seed);
        for (_, v) in r.metrics.values() {
            let _ = write!(out, ",{v}");
        }
        out.push('\n');
    }
    out
}

/// Writes `summary.json`, `runs.csv` and `report.html` into `dir`; returns the summary.
///
/// # Errors
/// A file that cannot be written.
pub fn write(dir: &Path, loaded: &Loaded, batch: &BatchResult) -> Result<Summary> {
    std::fs::create_dir_all(dir)
        .map_err(|e| SimError::in_file(dir, "", format!("cannot create: {e}")))?;
    let summary = Summary::of(loaded, batch);
    let json = serde_json::to_string_pretty(&summary)
        .map_err(|e| SimError::field("summary", e.to_string()))?;
    let put = |name: &str, text: &str| {
        let file = dir.join(name);
        std::fs::write(&file, text)
            .map_err(|e| SimError::in_file(&file, "", format!("cannot write: {e}")))
    };
    put("summary.json", &json)?;
    put("runs.csv", &runs_csv(batch))?;
    put("report.html", &html::render(loaded, batch, &summary))?;
    Ok(summary)
}

/// The headline table as plain text (for the terminal).
#[must_use]
pub fn headline_text(summary: &Summary) -> String {
    let width = summary
        .mechanisms
        .iter()
        .map(String::len)
        .max()
        .unwrap_or(0)
        .max("mechanism".len());
    let mut out = String::new();
    for (p, point) in summary.points.iter().enumerate() {
        if summary.points.len() > 1 {
            let _ = writeln!(out, "{}:", point.point.label);
        }
        if let Some(why) = &point.point.skipped {
            let _ = writeln!(out, "  skipped: {why}");
            continue;
        }
        let _ = writeln!(
            out,
            "{:<width$} {:>16} {:>12} {:>12} {:>8} {:>9} {:>7}",
            "mechanism", "borrower loss $", "bad debt $", "revenue $", "loss/$", "calls", "peak %"
        );
        for m in &summary.mechanisms {
            let get = |metric: &str| summary.stat(p, m, metric).map_or(f64::NAN, |s| s.mean);
            let volume = get("liquidated_volume_usd");
            let per_dollar = if volume > 0.0 {
                format!("{:.2}%", 100.0 * get("borrower_loss_usd") / volume)
            } else {
                "-".to_owned()
            };
            let _ = writeln!(
                out,
                "{:<width$} {:>16} {:>12} {:>12} {:>8} {:>9} {:>7.2}",
                m,
                grouped(get("borrower_loss_usd")),
                grouped(get("bad_debt_usd")),
                grouped(get("protocol_revenue_usd")),
                per_dollar,
                grouped(get("calls")),
                get("peak_impact") * 100.0
            );
        }
    }
    out
}

/// `a / b`, 0 for 0 / 0, infinite for x / 0.
fn ratio(a: f64, b: f64) -> f64 {
    if b == 0.0 {
        if a == 0.0 { 0.0 } else { f64::INFINITY }
    } else {
        a / b
    }
}

/// `x` rounded to a whole number with thousands separated by commas (`1,234,567`).
#[must_use]
pub fn grouped(x: f64) -> String {
    if !x.is_finite() {
        return "-".to_owned();
    }
    #[allow(clippy::cast_possible_truncation)]
    let whole = x.round() as i128;
    let digits = whole.unsigned_abs().to_string();
    let mut out = String::new();
    for (k, c) in digits.chars().enumerate() {
        if k > 0 && (digits.len() - k).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if whole < 0 {
        out.insert(0, '-');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::grouped;

    #[test]
    fn numbers_are_grouped_for_people() {
        assert_eq!(grouped(0.4), "0");
        assert_eq!(grouped(999.5), "1,000");
        assert_eq!(grouped(1_234_567.0), "1,234,567");
        assert_eq!(grouped(-61_480.2), "-61,480");
        assert_eq!(grouped(f64::NAN), "-");
    }
}
