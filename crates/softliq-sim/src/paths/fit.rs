//! `softliq sim fit`: synthetic-path parameters estimated from hourly closes.
//!
//! From the log returns `r` of each asset (over the timestamps all assets share):
//! - GBM: `σ = sd(r)/√dt`, `μ = mean(r)/dt + σ²/2` (yearly);
//! - Merton: returns beyond `4 · 1.4826 · MAD` from the median are jumps; the jump intensity is
//!   their count per year, their mean and deviation the jump size, and the diffusion `σ` the
//!   deviation of the rest;
//! - GARCH(1,1): `α`, `β` maximising the Gaussian likelihood with variance targeting
//!   (`ω = var(r)·(1 − α − β)`), by a coarse grid then a fine grid around its best point;
//! - the correlation matrix of the returns.
//!
//! The result prints as the `[prices]` table of a synthetic scenario.

use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;
use softliq_core::pool::SECONDS_PER_YEAR;

use crate::error::{Result, SimError};

/// Reads hourly closes (`timestamp,close`) between two times, sorted by time.
///
/// # Errors
/// A file that cannot be read, a malformed row, or no row in the range.
pub fn load_closes(file: &Path, range_s: (u64, u64)) -> Result<Vec<(u64, f64)>> {
    super::historical::read_closes(file, range_s)
}

/// Fitted parameters, per asset in the order given, plus the correlation matrix.
#[derive(Clone, Debug, Serialize)]
pub struct Fit {
    pub assets: Vec<String>,
    pub returns: usize,
    pub start: Vec<f64>,
    pub drift: Vec<f64>,
    pub volatility: Vec<f64>,
    pub diffusion_volatility: Vec<f64>,
    pub jump_intensity: Vec<f64>,
    pub jump_mean: Vec<f64>,
    pub jump_sd: Vec<f64>,
    pub garch_alpha: Vec<f64>,
    pub garch_beta: Vec<f64>,
    pub correlation: Vec<Vec<f64>>,
}

/// Fits every model to `series` (symbol, closes) sampled every `step_s`.
///
/// # Errors
/// Fewer than 100 common returns.
pub fn fit(series: &[(String, Vec<(u64, f64)>)], step_s: u64) -> Result<Fit> {
    let returns = aligned_returns(series, step_s);
    let count = returns.first().map_or(0, Vec::len);
    if count < 100 {
        return Err(SimError::field(
            "prices",
            format!("{count} common hourly returns; at least 100 are needed to fit"),
        ));
    }
    let dt = step_s as f64 / SECONDS_PER_YEAR as f64;
    let mut fit = Fit {
        assets: series.iter().map(|(s, _)| s.clone()).collect(),
        returns: count,
        start: series
            .iter()
            .map(|(_, c)| c.last().map_or(1.0, |r| r.1))
            .collect(),
        drift: Vec::new(),
        volatility: Vec::new(),
        diffusion_volatility: Vec::new(),
        jump_intensity: Vec::new(),
        jump_mean: Vec::new(),
        jump_sd: Vec::new(),
        garch_alpha: Vec::new(),
        garch_beta: Vec::new(),
        correlation: correlation(&returns),
    };
    let years = count as f64 * dt;
    for r in &returns {
        let (mean, sd) = mean_sd(r);
        let sigma = sd / dt.sqrt();
        fit.volatility.push(sigma);
        fit.drift.push(mean / dt + sigma * sigma / 2.0);
        let (jumps, rest) = split_jumps(r);
        fit.diffusion_volatility.push(mean_sd(&rest).1 / dt.sqrt());
        fit.jump_intensity.push(jumps.len() as f64 / years);
        let (jm, js) = mean_sd(&jumps);
        fit.jump_mean.push(jm);
        fit.jump_sd.push(js);
        let (a, b) = garch(r);
        fit.garch_alpha.push(a);
        fit.garch_beta.push(b);
    }
    Ok(fit)
}

impl Fit {
    /// The fit as TOML `[prices]` tables to paste into a scenario, one per process.
    #[must_use]
    pub fn to_toml(&self, steps: u32) -> String {
        let list = |v: &[f64]| {
            let items: Vec<String> = v.iter().map(|x| format!("{x:.6}")).collect();
            format!("[{}]", items.join(", "))
        };
        let assets: Vec<String> = self.assets.iter().map(|a| format!("{a:?}")).collect();
        let corr: Vec<String> = self.correlation.iter().map(|r| list(r)).collect();
        let mut out = format!(
            "# Fitted on {} hourly returns of {}.\n",
            self.returns,
            self.assets.join(", ")
        );
        let common = format!(
            "steps = {steps}\nassets = [{}]\nstart = {}\ndrift = {}\ncorrelation = [{}]\n",
            assets.join(", "),
            list(&self.start),
            list(&self.drift),
            corr.join(", ")
        );
        let _ = write!(
            out,
            "\n# Geometric Brownian motion\n[prices]\nmodel = \"synthetic\"\nprocess = \"gbm\"\n{common}volatility = {}\n",
            list(&self.volatility)
        );
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
        let _ = write!(
            out,
            "\n# Merton jump-diffusion (one jump law for all assets: the mean of the per-asset fits)\n# [prices]\n# model = \"synthetic\"\n# process = \"merton\"\n# volatility = {}\n# jump_intensity = {:.4}\n# jump_mean = {:.6}\n# jump_sd = {:.6}\n",
            list(&self.diffusion_volatility),
            mean(&self.jump_intensity),
            mean(&self.jump_mean),
            mean(&self.jump_sd)
        );
        let _ = write!(
            out,
            "\n# GARCH(1,1) (one alpha and beta for all assets: the mean of the per-asset fits)\n# [prices]\n# model = \"synthetic\"\n# process = \"garch\"\n# volatility = {}\n# garch_alpha = {:.4}\n# garch_beta = {:.4}\n",
            list(&self.volatility),
            mean(&self.garch_alpha),
            mean(&self.garch_beta)
        );
        out
    }
}

/// Log returns of each series over consecutive common timestamps `step_s` apart.
fn aligned_returns(series: &[(String, Vec<(u64, f64)>)], step_s: u64) -> Vec<Vec<f64>> {
    use std::collections::BTreeMap;
    let maps: Vec<BTreeMap<u64, f64>> = series
        .iter()
        .map(|(_, rows)| rows.iter().copied().collect())
        .collect();
    let Some(first) = maps.first() else {
        return Vec::new();
    };
    let mut out = vec![Vec::new(); maps.len()];
    for &t in first.keys() {
        let pairs: Option<Vec<(f64, f64)>> = maps
            .iter()
            .map(|m| Some((*m.get(&t)?, *m.get(&(t + step_s))?)))
            .collect();
        if let Some(pairs) = pairs {
            for (i, (a, b)) in pairs.into_iter().enumerate() {
                out[i].push((b / a).ln());
            }
        }
    }
    out
}

fn mean_sd(x: &[f64]) -> (f64, f64) {
    if x.len() < 2 {
        return (x.first().copied().unwrap_or(0.0), 0.0);
    }
    let n = x.len() as f64;
    let mean = x.iter().sum::<f64>() / n;
    let var = x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, var.sqrt())
}

fn median(x: &[f64]) -> f64 {
    let mut v = x.to_vec();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Returns beyond 4 robust deviations from the median (jumps), and the rest.
fn split_jumps(r: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let m = median(r);
    let deviations: Vec<f64> = r.iter().map(|x| (x - m).abs()).collect();
    let robust_sd = 1.4826 * median(&deviations);
    r.iter().partition(|x| (*x - m).abs() > 4.0 * robust_sd)
}

fn correlation(returns: &[Vec<f64>]) -> Vec<Vec<f64>> {
    let stats: Vec<(f64, f64)> = returns.iter().map(|r| mean_sd(r)).collect();
    let n = returns.len();
    let mut c = vec![vec![1.0; n]; n];
    for i in 0..n {
        for j in 0..i {
            let (mi, si) = stats[i];
            let (mj, sj) = stats[j];
            let len = returns[i].len().min(returns[j].len());
            let cov = (0..len)
                .map(|k| (returns[i][k] - mi) * (returns[j][k] - mj))
                .sum::<f64>()
                / (len as f64 - 1.0);
            let rho = if si > 0.0 && sj > 0.0 {
                (cov / (si * sj)).clamp(-1.0, 1.0)
            } else {
                0.0
            };
            c[i][j] = rho;
            c[j][i] = rho;
        }
    }
    c
}

/// GARCH(1,1) Gaussian log-likelihood with variance targeting, up to a constant.
fn garch_likelihood(r: &[f64], mean: f64, var: f64, alpha: f64, beta: f64) -> f64 {
    let omega = var * (1.0 - alpha - beta);
    let mut h = var;
    let mut ll = 0.0;
    for &x in r {
        let e = x - mean;
        ll -= h.ln() + e * e / h;
        h = omega + alpha * e * e + beta * h;
    }
    ll
}

/// `(α, β)` by a 0.02-step grid, then a 0.002-step grid around its best point.
fn garch(r: &[f64]) -> (f64, f64) {
    let (mean, sd) = mean_sd(r);
    let var = sd * sd;
    let search = |best: &mut (f64, f64, f64), alphas: &[f64], betas: &[f64]| {
        for &a in alphas {
            for &b in betas {
                if a + b < 0.999 {
                    let ll = garch_likelihood(r, mean, var, a, b);
                    if ll > best.0 {
                        *best = (ll, a, b);
                    }
                }
            }
        }
    };
    let grid = |lo: f64, hi: f64, step: f64| -> Vec<f64> {
        let mut v = Vec::new();
        let mut x = lo;
        while x <= hi + 1e-12 {
            v.push(x);
            x += step;
        }
        v
    };
    let mut best = (f64::MIN, 0.05, 0.9);
    search(&mut best, &grid(0.01, 0.4, 0.02), &grid(0.4, 0.99, 0.02));
    let (_, a0, b0) = best;
    search(
        &mut best,
        &grid((a0 - 0.02).max(0.001), a0 + 0.02, 0.002),
        &grid((b0 - 0.02).max(0.0), (b0 + 0.02).min(0.998), 0.002),
    );
    (best.1, best.2)
}
