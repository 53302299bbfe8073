//! Perpetual-market stress runs: leveraged longs and shorts on the bundled crash windows (spot
//! as the index, Binance USDⓈ-M perp prices as the traded price), liquidated by each mechanism
//! side by side — hard close at market, soft chunked unwinding, the backstop vault alone —
//! with insurance, ADL and bad debt counted. Every ledger step is `softliq_core::perp`.

pub mod run;
pub mod scenario;
pub mod venue;

use std::path::Path;

use rayon::prelude::*;

pub use run::{PerpMetrics, run, run_with};
pub use scenario::{PerpMechanism, PerpPath, PerpScenario, load_paths};

use crate::error::SimError;
use crate::stats::Stats;

/// True when the scenario file says `kind = "perp"` (the CLI dispatches on it).
#[must_use]
pub fn is_perp_file(file: &Path) -> bool {
    std::fs::read_to_string(file)
        .ok()
        .and_then(|t| t.parse::<toml::Table>().ok())
        .is_some_and(|t| t.get("kind").and_then(toml::Value::as_str) == Some("perp"))
}

/// Every mechanism's metrics over the seeds.
#[derive(Clone, Debug, serde::Serialize)]
pub struct PerpSummary {
    pub scenario: String,
    pub description: String,
    pub seeds: u32,
    pub traders: u32,
    pub steps: usize,
    pub mechanisms: Vec<MechanismSummary>,
    /// The scenario's calibration range and where the baseline (`hard_close`) landed.
    pub calibration: Option<Calibration>,
}

/// The liquidated share of open interest the scenario's world must reproduce under the
/// baseline, and what it did.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Calibration {
    pub min: f64,
    pub max: f64,
    pub baseline_mean: f64,
    pub within: bool,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct MechanismSummary {
    pub mechanism: &'static str,
    pub metrics: Vec<(&'static str, Stats)>,
}

/// A metric's name and how to read it from a run.
type Metric = (&'static str, fn(&PerpMetrics) -> f64);

/// Metric names in report order, with their accessor.
const METRICS: [Metric; 22] = [
    ("traders_liquidated", |m| m.traders_liquidated),
    ("liquidated_notional_usd", |m| m.liquidated_notional_usd),
    ("book_notional_usd", |m| m.book_notional_usd),
    ("vault_notional_usd", |m| m.vault_notional_usd),
    ("fees_usd", |m| m.fees_usd),
    ("vault_margin_usd", |m| m.vault_margin_usd),
    ("backstops", |m| m.backstops),
    ("trader_loss_usd", |m| m.trader_loss_usd),
    ("trader_loss_bp", |m| m.trader_loss_bp),
    ("slippage_bp", |m| m.slippage_bp),
    ("insurance_drawdown_usd", |m| m.insurance_drawdown_usd),
    ("insurance_net_usd", |m| m.insurance_net_usd),
    ("adl_events", |m| m.adl_events),
    ("adl_fills", |m| m.adl_fills),
    ("adl_volume_usd", |m| m.adl_volume_usd),
    ("adl_haircut_usd", |m| m.adl_haircut_usd),
    ("bad_debt_usd", |m| m.bad_debt_usd),
    ("price_impact_max_pct", |m| m.price_impact_max_pct),
    ("vault_pnl_usd", |m| m.vault_pnl_usd),
    ("open_interest_usd", |m| m.open_interest_usd),
    ("liquidated_share", |m| m.liquidated_share),
    ("exact_share", |m| m.exact_share),
];

/// Runs every mechanism over `seeds` seeds (in parallel; results do not depend on the thread
/// count) and summarises them.
///
/// # Errors
/// The first run that failed.
pub fn run_all(s: &PerpScenario, seeds: u32) -> Result<PerpSummary, SimError> {
    let paths = load_paths(s)?;
    let jobs: Vec<(PerpMechanism, u64)> = s
        .mechanisms
        .iter()
        .flat_map(|&m| (0..u64::from(seeds)).map(move |seed| (m, seed)))
        .collect();
    let results: Vec<PerpMetrics> = jobs
        .par_iter()
        .map(|&(m, seed)| run(s, &paths, m, seed))
        .collect::<Result<_, _>>()?;
    let per = seeds as usize;
    let mechanisms = s
        .mechanisms
        .iter()
        .zip(results.chunks(per))
        .map(|(m, runs)| MechanismSummary {
            mechanism: m.name(),
            metrics: METRICS
                .iter()
                .map(|(name, get)| (*name, Stats::of(&runs.iter().map(get).collect::<Vec<_>>())))
                .collect(),
        })
        .collect();
    let mut summary = PerpSummary {
        scenario: s.name.clone(),
        description: s.description.clone(),
        seeds,
        traders: s.population.traders,
        steps: paths.iter().map(|p| p.index.len()).min().unwrap_or(0),
        mechanisms,
        calibration: None,
    };
    summary.calibration = s.calibration.as_ref().and_then(|c| {
        let mean = summary.mean(PerpMechanism::HardClose.name(), "liquidated_share")?;
        Some(Calibration {
            min: c.liquidated_share.min,
            max: c.liquidated_share.max,
            baseline_mean: mean,
            within: (c.liquidated_share.min..=c.liquidated_share.max).contains(&mean),
        })
    });
    Ok(summary)
}

impl PerpSummary {
    /// The mean of `metric` for `mechanism`.
    #[must_use]
    pub fn mean(&self, mechanism: &str, metric: &str) -> Option<f64> {
        self.mechanisms
            .iter()
            .find(|m| m.mechanism == mechanism)?
            .metrics
            .iter()
            .find(|(n, _)| *n == metric)
            .map(|(_, s)| s.mean)
    }

    /// A plain-text table: one row per metric, one column per mechanism (means over seeds).
    #[must_use]
    pub fn table(&self) -> String {
        let mut out = format!("{:<26}", "metric (mean over seeds)");
        for m in &self.mechanisms {
            out.push_str(&format!("{:>18}", m.mechanism));
        }
        out.push('\n');
        for (name, _) in METRICS {
            out.push_str(&format!("{name:<26}"));
            for m in &self.mechanisms {
                let v = self.mean(m.mechanism, name).unwrap_or(f64::NAN);
                out.push_str(&format!("{v:>18.2}"));
            }
            out.push('\n');
        }
        if let Some(c) = &self.calibration {
            out.push_str(&format!(
                "calibration: hard_close liquidated {:.1}% of open interest; the range is {:.1}%–{:.1}%: {}\n",
                c.baseline_mean * 100.0,
                c.min * 100.0,
                c.max * 100.0,
                if c.within { "within" } else { "OUTSIDE" }
            ));
        }
        out
    }

    /// Writes `summary.json` and `table.txt` into `dir`.
    ///
    /// # Errors
    /// The directory or a file could not be written.
    pub fn write(&self, dir: &Path) -> Result<(), SimError> {
        let io = |e: std::io::Error| SimError::in_file(dir, "", e);
        std::fs::create_dir_all(dir).map_err(io)?;
        let json = serde_json::to_string_pretty(self).map_err(|e| SimError::field("summary", e))?;
        std::fs::write(dir.join("summary.json"), json).map_err(io)?;
        std::fs::write(dir.join("table.txt"), self.table()).map_err(io)
    }
}
