//! Synthetic price paths, seeded and deterministic.
//!
//! Per step of `dt = step_s / year` and asset `i`, with shocks `z = L·ε` (`L` the Cholesky
//! factor of the correlation matrix, `ε` independent standard normals):
//!
//! - GBM: `ln Sₜ₊₁ − ln Sₜ = (μ − σ²/2)·dt + σ·√dt·zᵢ`;
//! - Merton: GBM plus `Σ_{k ≤ N} Jₖ`, `N ~ Poisson(λ·dt)`, `Jₖ ~ N(m, s²)`, with the drift
//!   lowered by `λ·(e^{m + s²/2} − 1)` so that `μ` stays the expected return;
//! - GARCH(1,1): `hₜ = ω + α·εₜ₋₁² + β·hₜ₋₁` (per-step variance), `εₜ = √hₜ·zᵢ`,
//!   `ln Sₜ₊₁ − ln Sₜ = μ·dt − hₜ/2 + εₜ`, with `ω = σ²·dt·(1 − α − β)` so that the long-run
//!   variance is the configured volatility's.
//!
//! The first step is the start price. Jumps are drawn per asset (independently); the
//! diffusion shocks carry the correlation.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal, Poisson, StandardNormal};
use softliq_config::Markets;
use softliq_core::pool::SECONDS_PER_YEAR;

use super::PricePath;
use crate::error::{Result, SimError};
use crate::scenario::{Process, SyntheticSpec};

/// The lower-triangular `L` with `L·Lᵀ = correlation` (the identity when none is given).
///
/// # Errors
/// A matrix that is not `n × n`, not symmetric with a unit diagonal, or not positive definite.
pub fn cholesky(correlation: &[Vec<f64>], n: usize) -> Result<Vec<Vec<f64>>> {
    let field = "prices.correlation";
    if correlation.is_empty() {
        return Ok((0..n)
            .map(|i| (0..n).map(|j| f64::from(u8::from(i == j))).collect())
            .collect());
    }
    if correlation.len() != n || correlation.iter().any(|row| row.len() != n) {
        return Err(SimError::field(field, format!("must be {n} × {n}")));
    }
    for (i, row) in correlation.iter().enumerate() {
        if (row[i] - 1.0).abs() > 1e-12 {
            return Err(SimError::field(field, format!("[{i}][{i}] must be 1")));
        }
        for (j, &c) in row.iter().enumerate() {
            if !(-1.0..=1.0).contains(&c) || (c - correlation[j][i]).abs() > 1e-12 {
                return Err(SimError::field(
                    field,
                    format!("[{i}][{j}] must be in [-1, 1] and equal [{j}][{i}]"),
                ));
            }
        }
    }
    let mut l = vec![vec![0.0; n]; n];
    for i in 0..n {
        for j in 0..=i {
            let s: f64 = (0..j).map(|k| l[i][k] * l[j][k]).sum();
            if i == j {
                let d = correlation[i][i] - s;
                if d <= 1e-12 {
                    return Err(SimError::field(field, "must be positive definite"));
                }
                l[i][j] = d.sqrt();
            } else {
                l[i][j] = (correlation[i][j] - s) / l[j][j];
            }
        }
    }
    Ok(l)
}

pub(super) fn generate(
    markets: &Markets,
    spec: &SyntheticSpec,
    step_s: u64,
    seed: u64,
) -> Result<PricePath> {
    let n = spec.assets.len();
    let l = cholesky(&spec.correlation, n)?;
    let dt = step_s as f64 / SECONDS_PER_YEAR as f64;
    let columns: Vec<usize> = spec
        .assets
        .iter()
        .map(|s| markets.id(s).map(|id| id.index()))
        .collect::<Option<_>>()
        .ok_or_else(|| SimError::field("prices.assets", "unknown asset"))?;
    let times = (0..u64::from(spec.steps)).map(|k| k * step_s).collect();
    let mut path = PricePath::flat(markets, times);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let drift = |i: usize| spec.drift.get(i).copied().unwrap_or(0.0);
    let jumps = Jumps::new(spec, dt)?;
    let mut log_price: Vec<f64> = spec.start.iter().map(|s| s.ln()).collect();
    // GARCH state: per-step variance and last shock, starting at the long-run level.
    let mut h: Vec<f64> = spec.volatility.iter().map(|v| v * v * dt).collect();
    let mut last_eps = vec![0.0; n];
    for step in 0..spec.steps as usize {
        if step > 0 {
            let eps: Vec<f64> = (0..n).map(|_| StandardNormal.sample(&mut rng)).collect();
            for i in 0..n {
                let z: f64 = (0..=i).map(|k| l[i][k] * eps[k]).sum();
                let sigma = spec.volatility[i];
                let r = match spec.process {
                    Process::Gbm => (drift(i) - sigma * sigma / 2.0) * dt + sigma * dt.sqrt() * z,
                    Process::Merton => {
                        (drift(i) - sigma * sigma / 2.0 - jumps.compensator) * dt
                            + sigma * dt.sqrt() * z
                            + jumps.draw(&mut rng)
                    }
                    Process::Garch => {
                        let long_run = sigma * sigma * dt;
                        let omega = long_run * (1.0 - spec.garch_alpha - spec.garch_beta);
                        h[i] = omega
                            + spec.garch_alpha * last_eps[i] * last_eps[i]
                            + spec.garch_beta * h[i];
                        last_eps[i] = h[i].sqrt() * z;
                        drift(i) * dt - h[i] / 2.0 + last_eps[i]
                    }
                };
                log_price[i] += r;
            }
        }
        for (i, &col) in columns.iter().enumerate() {
            path.prices[step * path.assets + col] = if step == 0 {
                spec.start[i]
            } else {
                log_price[i].exp().clamp(1e-12, 1e15)
            };
        }
    }
    Ok(path)
}

/// Merton's compound Poisson jumps.
struct Jumps {
    count: Option<Poisson<f64>>,
    size: Normal<f64>,
    compensator: f64,
}

impl Jumps {
    fn new(spec: &SyntheticSpec, dt: f64) -> Result<Self> {
        let rate = spec.jump_intensity * dt;
        let count = if rate > 0.0 {
            Some(
                Poisson::new(rate)
                    .map_err(|e| SimError::field("prices.jump_intensity", e.to_string()))?,
            )
        } else {
            None
        };
        let size = Normal::new(spec.jump_mean, spec.jump_sd)
            .map_err(|e| SimError::field("prices.jump_sd", e.to_string()))?;
        let k = (spec.jump_mean + spec.jump_sd * spec.jump_sd / 2.0).exp() - 1.0;
        Ok(Self {
            count,
            size,
            compensator: spec.jump_intensity * k,
        })
    }

    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    fn draw(&self, rng: &mut ChaCha8Rng) -> f64 {
        let Some(count) = &self.count else {
            return 0.0;
        };
        let n = count.sample(rng) as u32;
        (0..n).map(|_| self.size.sample(rng)).sum()
    }
}
