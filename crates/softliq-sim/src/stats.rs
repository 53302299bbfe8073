//! Statistics over seeds: mean, standard deviation, percentiles and a 95% confidence interval
//! of the mean by the bootstrap percentile method.
//!
//! Why the bootstrap: the quantities are sums of losses, bad debt and counts, often zero in
//! most seeds and large in a few. A Student's t interval is symmetric about the mean, so for a
//! non-negative quantity it reaches below zero (bad debt of [0, 0, 0, 0, 100] gave −35.5 to 75.5);
//! a percentile interval of resampled means stays within the values seen. It is deterministic:
//! the resampling stream is fixed, so the same values give the same interval, bit for bit.

use rand::{RngExt, SeedableRng};
use serde::Serialize;

/// Resamples of the bootstrap.
const RESAMPLES: usize = 2_000;
/// The resampling stream's seed (fixed: statistics must not depend on anything but the values).
const BOOTSTRAP_SEED: u64 = 0x0b00_7575_7261_7053;

#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Stats {
    pub n: usize,
    pub mean: f64,
    pub sd: f64,
    pub p5: f64,
    pub p50: f64,
    pub p95: f64,
    pub ci95_lo: f64,
    pub ci95_hi: f64,
}

/// The `q`-quantile of sorted values by linear interpolation between closest ranks.
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
fn quantile(sorted: &[f64], q: f64) -> f64 {
    let pos = q * (sorted.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

impl Stats {
    /// Statistics of `values` (in the order given: sums are taken in that order, so the same
    /// inputs give the same bits).
    #[must_use]
    pub fn of(values: &[f64]) -> Self {
        let n = values.len();
        if n == 0 {
            return Self::default();
        }
        let mean = values.iter().sum::<f64>() / n as f64;
        let sd = if n > 1 {
            (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt()
        } else {
            0.0
        };
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        let (ci95_lo, ci95_hi) = bootstrap(values);
        Self {
            n,
            mean,
            sd,
            p5: quantile(&sorted, 0.05),
            p50: quantile(&sorted, 0.5),
            p95: quantile(&sorted, 0.95),
            ci95_lo,
            ci95_hi,
        }
    }
}

/// The 2.5% and 97.5% quantiles of the means of [`RESAMPLES`] resamples (with replacement)
/// of `values`; a single value, or identical ones, give a point.
fn bootstrap(values: &[f64]) -> (f64, f64) {
    let n = values.len();
    if n < 2 || values.iter().all(|v| *v == values[0]) {
        return (values[0], values[0]);
    }
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(BOOTSTRAP_SEED);
    let mut means: Vec<f64> = (0..RESAMPLES)
        .map(|_| (0..n).map(|_| values[rng.random_range(0..n)]).sum::<f64>() / n as f64)
        .collect();
    means.sort_by(f64::total_cmp);
    (quantile(&means, 0.025), quantile(&means, 0.975))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        let s = Stats::of(&[1.0, 2.0, 3.0, 4.0, 5.0]);
        assert_eq!(s.mean, 3.0);
        assert!((s.sd - 2.5f64.sqrt()).abs() < 1e-12);
        assert_eq!(s.p50, 3.0);
        assert!((s.p5 - 1.2).abs() < 1e-12);
        assert!((s.p95 - 4.8).abs() < 1e-12);
        // The bootstrap interval of the mean of 1..5 lies around it, inside the values, and
        // narrower than the range (the t interval would be 3 ± 1.96).
        assert!(s.ci95_lo < 3.0 && s.ci95_hi > 3.0, "{s:?}");
        assert!(s.ci95_lo >= 1.0 && s.ci95_hi <= 5.0, "{s:?}");
        assert!(s.ci95_lo > 1.5 && s.ci95_hi < 4.5, "{s:?}");
        assert_eq!(Stats::of(&[1.0, 2.0, 3.0, 4.0, 5.0]), s, "deterministic");
        let one = Stats::of(&[7.0]);
        assert_eq!(
            (one.mean, one.ci95_lo, one.ci95_hi, one.p5, one.p95),
            (7.0, 7.0, 7.0, 7.0, 7.0)
        );
    }

    /// A non-negative quantity that is zero in most seeds keeps a non-negative interval (a t
    /// interval of [0, 0, 0, 0, 100] is −35.5 to 75.5).
    #[test]
    fn intervals_of_non_negative_quantities_stay_non_negative() {
        let s = Stats::of(&[0.0, 0.0, 0.0, 0.0, 100.0]);
        assert_eq!(s.mean, 20.0);
        assert!(s.ci95_lo >= 0.0, "{s:?}");
        assert!(s.ci95_hi <= 100.0 && s.ci95_hi > s.mean, "{s:?}");
        let zeros = Stats::of(&[0.0; 8]);
        assert_eq!((zeros.ci95_lo, zeros.ci95_hi), (0.0, 0.0));
    }
}
