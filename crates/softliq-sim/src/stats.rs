//! Statistics over seeds: mean, standard deviation, percentiles and a 95% confidence interval
//! of the mean (Student's t with n − 1 degrees of freedom).

use serde::Serialize;
use statrs::distribution::{ContinuousCDF, StudentsT};

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
#[allow(
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss
)]
fn quantile(sorted: &[f64], q: f64) -> f64 {
    let pos = q * (sorted.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

impl Stats {
    /// Statistics of `values` (in the order given: sums are taken in that order, so the same
    /// inputs give the same bits).
    #[must_use]
    #[allow(clippy::cast_precision_loss)]
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
        let half = if n > 1 {
            let t = StudentsT::new(0.0, 1.0, (n - 1) as f64).map_or(1.96, |d| d.inverse_cdf(0.975));
            t * sd / (n as f64).sqrt()
        } else {
            0.0
        };
        Self {
            n,
            mean,
            sd,
            p5: quantile(&sorted, 0.05),
            p50: quantile(&sorted, 0.5),
            p95: quantile(&sorted, 0.95),
            ci95_lo: mean - half,
            ci95_hi: mean + half,
        }
    }
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
        // t(0.975, 4) = 2.7764451...
        let half = 2.776_445_105_2 * s.sd / 5f64.sqrt();
        assert!((s.ci95_hi - (3.0 + half)).abs() < 1e-6, "{s:?}");
        assert!((s.ci95_lo - (3.0 - half)).abs() < 1e-6);
        let one = Stats::of(&[7.0]);
        assert_eq!(
            (one.mean, one.ci95_lo, one.ci95_hi, one.p5, one.p95),
            (7.0, 7.0, 7.0, 7.0, 7.0)
        );
    }
}
