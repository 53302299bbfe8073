//! The market liquidators sell seized collateral into, per asset: how much a sale pushes the
//! price, what it executes at, and how the push fades.
//!
//! State per asset: the impact `i`, the fraction by which the market price `m = P·(1 − i)` sits
//! below the external price `P`. Each step the impact recovers by `2^(−1/half_life)`; each sale
//! raises it:
//! - book (linear depth `U` USD per 1%): selling `q` tokens adds `Δ = q·P / (100·U)` and
//!   executes at the average `P·(1 − i − Δ/2)`;
//! - constant-product pool with `U` USD of reserve at the external price: liquidity
//!   `L = U/√P`, reserves `x = L/√m`, `y = L·√m`; selling `q` gives `y − L²/(x + q)` and leaves
//!   `m' = L²/(x + q)²`;
//! - infinite depth: executes at `m = P` and moves nothing.
//!
//! Impact is capped at 99% so that a price never reaches zero. With feedback on, the oracle
//! sees the pushed price `m` at the next step, so sales can trigger further liquidations.
//!
//! Depth itself thins in a crash: in a stressed step (an external move of at least the stress
//! move) market makers pull quotes and `U` falls to `stress_factor · U`; the missing part
//! returns with its own half-life (`stress_recovery_half_life_steps`), and a later stressed
//! step thins it again.

use crate::scenario::{DepthModel, DepthSpec};

/// The most a price can be pushed below the external price.
pub const IMPACT_MAX: f64 = 0.99;

#[derive(Clone, Debug)]
pub struct Venue {
    model: DepthModel,
    /// Per asset: the depth figure in USD (0 for an asset nobody sells).
    usd: Vec<f64>,
    decay: f64,
    feedback: bool,
    /// The venue's weight in the oracle's index.
    weight: f64,
    impact: Vec<f64>,
    /// The share of `usd` quoted now (1 in calm markets), what a stressed step leaves, the
    /// per-step recovery of the missing part, and the move that makes a step stressed.
    depth_share: f64,
    stress_factor: f64,
    depth_decay: f64,
    stress_move: f64,
}

/// The calm depth of each listed asset (in `symbols` order) that a population whose debt is
/// `debt_usd` at the start meets: `usd` as written, or, with a `reference_debt_usd`, scaled
/// by the population's share of that lending book. Unlisted assets get 0 (nobody sells them).
#[must_use]
pub fn depth_usd<'a>(
    spec: &DepthSpec,
    symbols: impl Iterator<Item = &'a str>,
    debt_usd: f64,
) -> Vec<f64> {
    let scale = if spec.reference_debt_usd > 0.0 {
        debt_usd / spec.reference_debt_usd
    } else {
        1.0
    };
    symbols
        .map(|s| spec.usd.get(s).copied().unwrap_or(0.0) * scale)
        .collect()
}

/// The per-step factor that halves a gap in `half_life` steps (0: gone at once).
fn decay(half_life: f64) -> f64 {
    if half_life > 0.0 {
        (-std::f64::consts::LN_2 / half_life).exp()
    } else {
        0.0
    }
}

impl Venue {
    /// A venue with the calm depth `usd` of each listed asset (0 for one nobody sells); a step
    /// whose external move reaches `stress_move` thins it.
    #[must_use]
    pub fn new(spec: &DepthSpec, usd: Vec<f64>, stress_move: f64) -> Self {
        Self {
            model: spec.model,
            impact: vec![0.0; usd.len()],
            usd,
            decay: decay(spec.recovery_half_life_steps),
            feedback: spec.feedback,
            weight: spec.oracle_weight,
            depth_share: 1.0,
            stress_factor: spec.stress_factor,
            depth_decay: decay(spec.stress_recovery_half_life_steps),
            stress_move,
        }
    }

    /// One step: the impact recovers toward the external price, and the depth thins when the
    /// step's largest external move (`moved`, a fraction) is a stress, or recovers otherwise.
    pub fn recover(&mut self, moved: f64) {
        for i in &mut self.impact {
            *i *= self.decay;
        }
        self.depth_share = if moved >= self.stress_move {
            self.depth_share.min(self.stress_factor)
        } else {
            1.0 - (1.0 - self.depth_share) * self.depth_decay
        };
    }

    /// The share of the calm depth quoted now.
    #[must_use]
    pub fn depth_share(&self) -> f64 {
        self.depth_share
    }

    /// The current impact of `asset` (fraction below the external price).
    #[must_use]
    pub fn impact(&self, asset: usize) -> f64 {
        self.impact[asset]
    }

    /// The price the oracle reports for `asset` when the external price is `fair`: the index
    /// of many venues, of which this one (pushed by `impact`) weighs `oracle_weight`.
    #[must_use]
    pub fn oracle_price(&self, asset: usize, fair: f64) -> f64 {
        if self.feedback {
            fair * (1.0 - self.weight * self.impact[asset])
        } else {
            fair
        }
    }

    /// USD a sale of `tokens` would bring now, without making it.
    #[must_use]
    pub fn quote_sell(&self, asset: usize, tokens: f64, fair: f64) -> f64 {
        self.execute(asset, tokens, fair).0
    }

    /// Sells `tokens` of `asset`: returns the USD received and pushes the price.
    pub fn sell(&mut self, asset: usize, tokens: f64, fair: f64) -> f64 {
        let (usd, impact) = self.execute(asset, tokens, fair);
        self.impact[asset] = impact;
        usd
    }

    /// (proceeds, impact after) of a sale.
    fn execute(&self, asset: usize, tokens: f64, fair: f64) -> (f64, f64) {
        let i = self.impact[asset];
        let depth = self.usd[asset] * self.depth_share;
        if tokens <= 0.0 || self.model == DepthModel::Infinite || depth <= 0.0 {
            return (tokens * fair * (1.0 - i), i);
        }
        match self.model {
            DepthModel::Infinite => (tokens * fair * (1.0 - i), i),
            DepthModel::Book => {
                let delta = tokens * fair / (100.0 * depth);
                let room = (IMPACT_MAX - i).max(0.0);
                if delta <= room {
                    (tokens * fair * (1.0 - i - delta / 2.0), i + delta)
                } else {
                    // The part beyond the cap executes at the floor price.
                    let within = tokens * room / delta;
                    let usd = within * fair * (1.0 - i - room / 2.0)
                        + (tokens - within) * fair * (1.0 - IMPACT_MAX);
                    (usd, IMPACT_MAX)
                }
            }
            DepthModel::Pool => {
                let liquidity = depth / fair.sqrt();
                let m = fair * (1.0 - i);
                let (x, y) = (liquidity / m.sqrt(), liquidity * m.sqrt());
                let x_after = x + tokens;
                let y_after = liquidity * liquidity / x_after;
                let m_after = y_after / x_after;
                let impact = (1.0 - m_after / fair).min(IMPACT_MAX);
                (y - y_after, impact)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn venue(model: DepthModel, usd: f64, half_life: f64, feedback: bool) -> Venue {
        let spec = DepthSpec {
            model,
            usd: BTreeMap::new(),
            recovery_half_life_steps: half_life,
            feedback,
            oracle_weight: 1.0,
            ..DepthSpec::default()
        };
        Venue::new(&spec, vec![0.0, usd], 0.05)
    }

    #[test]
    fn book_sale_matches_the_closed_form_and_recovers() {
        // 1 M USD per 1%: selling 500 tokens at 2,000 (1 M USD) moves the price 1%.
        let mut v = venue(DepthModel::Book, 1e6, 2.0, true);
        let quoted = v.quote_sell(1, 500.0, 2_000.0);
        let usd = v.sell(1, 500.0, 2_000.0);
        assert_eq!(quoted, usd);
        assert!((usd - 1e6 * (1.0 - 0.005)).abs() < 1e-6, "{usd}");
        assert!((v.impact(1) - 0.01).abs() < 1e-15);
        assert!((v.oracle_price(1, 2_000.0) - 1_980.0).abs() < 1e-9);
        // A second sale starts from the pushed price.
        let second = v.sell(1, 500.0, 2_000.0);
        assert!((second - 1e6 * (1.0 - 0.01 - 0.005)).abs() < 1e-6);
        v.recover(0.0);
        v.recover(0.0);
        assert!(
            (v.impact(1) - 0.01).abs() < 1e-12,
            "half of 2% after two steps"
        );
    }

    /// The venue's fresh book and the keeper's cost model (core's `CostModel`) are one model
    /// in one unit (USD per 1%): the venue's slippage on a first sale equals the exact one.
    #[test]
    fn a_fresh_book_charges_the_cost_models_slippage() {
        use softliq_core::liquidation::CostModel;
        use softliq_core::money::Value;
        let usd = |x: f64| Value::parse("v", &format!("{x}")).unwrap();
        for (depth, tokens, price) in [
            (1e6, 500.0, 2_000.0),
            (2.5e5, 3.0, 61_234.5),
            (1e9, 1e4, 1.0),
        ] {
            let v = venue(DepthModel::Book, depth, 0.0, true);
            let sold = tokens * price;
            let float = sold - v.quote_sell(1, tokens, price);
            let model = CostModel {
                min_profit: Value::ZERO,
                fee_per_call: Value::ZERO,
                depth_per_pct: usd(depth),
            };
            let exact = model.slippage(usd(sold)).unwrap().to_f64();
            assert!(
                (float - exact).abs() <= 1e-9 * exact.max(1.0),
                "depth {depth}: venue {float} vs cost model {exact}"
            );
        }
    }

    #[test]
    fn book_impact_is_capped() {
        let mut v = venue(DepthModel::Book, 1e3, 1.0, true);
        let usd = v.sell(1, 1e6, 1.0);
        assert_eq!(v.impact(1), IMPACT_MAX);
        // 10% of the tokens walk the book down to the cap (average 50.5% below par), the
        // rest sells at the floor of 1% of the price.
        let expected = 99_000.0 * (1.0 - 0.495) + 901_000.0 * 0.01;
        assert!((usd - expected).abs() < 1e-6, "{usd} vs {expected}");
    }

    #[test]
    fn pool_sale_matches_constant_product() {
        // 10 M USD reserve at 2,000: L = 1e7/√2000, x = 5,000 tokens, y = 1e7.
        let mut v = venue(DepthModel::Pool, 1e7, 0.0, true);
        let usd = v.sell(1, 500.0, 2_000.0);
        let expected = 1e7 - 1e7 * 5_000.0 / 5_500.0;
        assert!((usd - expected).abs() < 1e-6, "{usd} vs {expected}");
        let m_after = 1e7 * 5_000.0 / 5_500.0 / 5_500.0;
        assert!((v.impact(1) - (1.0 - m_after / 2_000.0)).abs() < 1e-12);
        v.recover(0.0);
        assert_eq!(v.impact(1), 0.0, "a zero half-life recovers at once");
    }

    #[test]
    fn a_stressed_step_thins_the_book_and_the_gap_recovers() {
        let spec = DepthSpec {
            model: DepthModel::Book,
            recovery_half_life_steps: 0.0,
            stress_factor: 0.4,
            stress_recovery_half_life_steps: 2.0,
            ..DepthSpec::default()
        };
        let mut v = Venue::new(&spec, vec![1e6], 0.05);
        let calm = v.quote_sell(0, 500.0, 2_000.0);
        v.recover(0.049);
        assert_eq!(
            v.depth_share(),
            1.0,
            "a move below the stress leaves the book"
        );
        v.recover(0.05);
        assert_eq!(v.depth_share(), 0.4);
        // 1 M USD into 0.4 M per 1%: 2.5% impact, executed 1.25% below the price.
        let thin = v.quote_sell(0, 500.0, 2_000.0);
        assert!(
            (thin - 1e6 * (1.0 - 0.0125)).abs() < 1e-6,
            "{thin} vs {calm}"
        );
        v.recover(0.2);
        assert_eq!(v.depth_share(), 0.4, "a second stress does not compound");
        v.recover(0.0);
        v.recover(0.0);
        assert!(
            (v.depth_share() - 0.7).abs() < 1e-12,
            "half the gap back in two steps"
        );
    }

    #[test]
    fn infinite_depth_and_no_feedback() {
        let mut v = venue(DepthModel::Infinite, 0.0, 1.0, true);
        assert_eq!(v.sell(1, 3.0, 100.0), 300.0);
        assert_eq!(v.impact(1), 0.0);
        let mut blind = venue(DepthModel::Book, 1e3, 10.0, false);
        blind.sell(1, 10.0, 100.0);
        assert!(blind.impact(1) > 0.0);
        assert_eq!(
            blind.oracle_price(1, 100.0),
            100.0,
            "without feedback the oracle is blind"
        );
    }
}
