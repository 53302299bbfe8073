//! Price paths: the external ("fair") price of every asset at every step.
//!
//! A path is built once per seed and shared by every mechanism of that seed, so mechanisms are
//! compared on identical prices. Historical paths (`historical.rs`) replay bundled Binance
//! bars; synthetic ones (`synthetic.rs`) draw GBM, Merton jump-diffusion or GARCH(1,1) paths
//! with correlated shocks from a seeded ChaCha stream; `fit.rs` estimates their parameters from
//! the bundled data.

mod fit;
mod historical;
mod synthetic;
#[cfg(test)]
mod tests;

pub use fit::{Fit, fit, load_closes};
pub use synthetic::cholesky;

use std::sync::Arc;

use softliq_config::Markets;

use crate::error::{Result, SimError};
use crate::scenario::{Loaded, PriceSpec};

/// Prices of every listed asset (USD per whole token) at each step, and each step's time.
#[derive(Clone, Debug, PartialEq)]
pub struct PricePath {
    /// Number of listed assets (the row width of `prices`).
    pub assets: usize,
    /// Unix seconds of each step (strictly increasing).
    pub times_s: Vec<u64>,
    /// Row-major: `prices[step · assets + asset]`.
    pub prices: Vec<f64>,
}

impl PricePath {
    #[must_use]
    pub fn steps(&self) -> usize {
        self.times_s.len()
    }

    /// The prices of every asset at `step`.
    #[must_use]
    pub fn at(&self, step: usize) -> &[f64] {
        &self.prices[step * self.assets..(step + 1) * self.assets]
    }

    /// A path with every listed asset at 1 USD, to be filled in by a model.
    fn flat(markets: &Markets, times_s: Vec<u64>) -> Self {
        let assets = markets.assets.len();
        Self {
            assets,
            prices: vec![1.0; assets * times_s.len()],
            times_s,
        }
    }

    /// The largest peak-to-trough fall of `asset` along the path, as a fraction.
    #[must_use]
    pub fn max_drawdown(&self, asset: usize) -> f64 {
        let mut peak = f64::MIN;
        let mut worst: f64 = 0.0;
        for step in 0..self.steps() {
            let p = self.at(step)[asset];
            peak = peak.max(p);
            worst = worst.max(1.0 - p / peak);
        }
        worst
    }
}

/// The path of a scenario for `seed`: the historical path read at load, or a synthetic one
/// drawn from the seed.
///
/// # Errors
/// As [`build`].
pub fn for_seed(loaded: &Loaded, seed: u64) -> Result<Arc<PricePath>> {
    match &loaded.history {
        Some(path) => Ok(Arc::clone(path)),
        None => build(loaded, seed).map(Arc::new),
    }
}

/// Reads or draws the path of a scenario for `seed` (historical paths ignore the seed).
///
/// # Errors
/// A data file that cannot be read, a series or event not in it, or too short a path.
pub(crate) fn build(loaded: &Loaded, seed: u64) -> Result<PricePath> {
    let markets = &loaded.markets;
    let step_s = loaded.scenario.markets.step_s;
    let path = match &loaded.scenario.prices {
        PriceSpec::Window {
            file,
            event,
            market,
            series,
            trigger,
        } => historical::window(
            markets,
            &loaded.path(file),
            &historical::WindowSelect {
                event,
                market,
                series,
                trigger: *trigger,
                step_s,
            },
        )?,
        PriceSpec::Closes {
            files,
            from_s,
            to_s,
        } => historical::closes(markets, files, (*from_s, *to_s))?,
        PriceSpec::Synthetic(spec) => synthetic::generate(markets, spec, step_s, seed)?,
    };
    if path.steps() < 2 {
        return Err(SimError::field("prices", "the path has fewer than 2 steps"));
    }
    Ok(path)
}
