//! What one run measured. Money sums are kept exactly in WAD (signed where a figure can be
//! negative) and turned into USD floats only for the report.

use serde::Serialize;

/// WAD per USD.
pub const WAD_F: f64 = 1e18;

/// Exact running sums of one run, in WAD USD.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sums {
    /// Seized (or auctioned and sold) collateral at the external price minus the debt it
    /// repaid.
    pub borrower_loss: i128,
    /// Seized collateral at the oracle price minus the debt repaid: the penalty part (in an
    /// auction, the part of keepers' payments that paid the penalty).
    pub penalty: i128,
    /// Liquidators' sale proceeds minus what they repaid and their costs.
    pub liquidator_profit: i128,
    /// Liquidators' tokens at the external price minus their sale proceeds.
    pub slippage: i128,
    pub liquidator_costs: i128,
    /// The protocol's part of seized collateral (or of auction payments), at the external
    /// price, less keeper rewards paid out of the treasury.
    pub protocol_revenue: i128,
    /// Debt repaid by liquidators, at the oracle price.
    pub repaid: i128,
    /// Bad debt realised (insurance-covered plus socialised), at the debt asset's price.
    pub bad_debt_realised: i128,
    /// Of which socialised over suppliers.
    pub bad_debt_socialised: i128,
    /// Outside money borrowers put in when they responded (top-ups and repayments).
    pub responses: i128,
}

/// A run's figures, in USD where money.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct RunMetrics {
    pub borrower_loss_usd: f64,
    pub penalty_usd: f64,
    pub below_fair_usd: f64,
    pub bad_debt_usd: f64,
    pub bad_debt_realised_usd: f64,
    pub bad_debt_socialised_usd: f64,
    pub open_shortfall_usd: f64,
    pub protocol_revenue_usd: f64,
    pub liquidator_profit_usd: f64,
    pub liquidator_costs_usd: f64,
    pub slippage_usd: f64,
    pub liquidated_volume_usd: f64,
    /// Transactions that moved money: liquidation calls, or auction starts, takes and resets.
    pub calls: u64,
    pub skipped_unprofitable: u64,
    /// `dutch` only: auctions started, purchases from them, resets, and starts the caps
    /// (`hole_total`, `auction_hole`) refused.
    pub auctions_started: u64,
    pub auction_takes: u64,
    pub auction_resets: u64,
    pub auction_cap_refusals: u64,
    pub peak_impact: f64,
    pub mean_impact: f64,
    pub accounts_liquidated: u64,
    /// The population's debt at the start, at the first external prices, and the liquidated
    /// volume as a share of it (the figure lending protocols report after a crash).
    pub start_debt_usd: f64,
    pub liquidated_share_of_debt: f64,
    pub accounts_closed_out: u64,
    pub underwater_account_hours: f64,
    pub responses: u64,
    pub responses_usd: f64,
    /// Accounts the protocol absorbed, and storefront sales of what it took.
    pub absorbs: u64,
    pub storefront_sales: u64,
    /// Largest share-rounding residue of one call's collateral split, in base units.
    pub split_residue_max: u64,
    /// Borrowers who lost anything to liquidation, and how their losses spread: USD at the
    /// median, 90th and 99th percentile (nearest rank) and the largest, and the same loss as
    /// a share of the borrower's collateral at the start (90th percentile and largest).
    pub borrowers_with_loss: u64,
    pub borrower_loss_p50_usd: f64,
    pub borrower_loss_p90_usd: f64,
    pub borrower_loss_p99_usd: f64,
    pub borrower_loss_max_usd: f64,
    pub borrower_loss_share_p90: f64,
    pub borrower_loss_share_max: f64,
}

/// The per-borrower loss figures of [`RunMetrics`] from each borrower's loss (WAD USD) and
/// collateral at the start (USD). Borrowers with no loss (or a gain) are left out.
#[must_use]
pub fn loss_distribution(loss_wad: &[i128], start_collateral_usd: &[f64]) -> LossDistribution {
    let mut usd_losses: Vec<f64> = Vec::new();
    let mut shares: Vec<f64> = Vec::new();
    for (&l, &c) in loss_wad.iter().zip(start_collateral_usd) {
        if l > 0 {
            let u = usd(l);
            usd_losses.push(u);
            shares.push(if c > 0.0 { u / c } else { 0.0 });
        }
    }
    usd_losses.sort_by(f64::total_cmp);
    shares.sort_by(f64::total_cmp);
    LossDistribution {
        count: usd_losses.len() as u64,
        p50_usd: nearest_rank(&usd_losses, 0.5),
        p90_usd: nearest_rank(&usd_losses, 0.9),
        p99_usd: nearest_rank(&usd_losses, 0.99),
        max_usd: usd_losses.last().copied().unwrap_or(0.0),
        share_p90: nearest_rank(&shares, 0.9),
        share_max: shares.last().copied().unwrap_or(0.0),
    }
}

/// See [`loss_distribution`].
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LossDistribution {
    pub count: u64,
    pub p50_usd: f64,
    pub p90_usd: f64,
    pub p99_usd: f64,
    pub max_usd: f64,
    pub share_p90: f64,
    pub share_max: f64,
}

/// The nearest-rank percentile `q` of sorted `xs` (0 when empty).
fn nearest_rank(xs: &[f64], q: f64) -> f64 {
    if xs.is_empty() {
        return 0.0;
    }
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let rank = ((q * xs.len() as f64).ceil() as usize).clamp(1, xs.len());
    xs[rank - 1]
}

/// The metrics reports compare, with whether lower is better.
pub const HEADLINE: [(&str, bool); 10] = [
    ("borrower_loss_usd", true),
    ("bad_debt_usd", true),
    ("protocol_revenue_usd", false),
    ("liquidator_profit_usd", false),
    ("liquidated_volume_usd", true),
    ("calls", true),
    ("peak_impact", true),
    ("mean_impact", true),
    ("accounts_closed_out", true),
    ("underwater_account_hours", true),
];

pub fn usd(wad: i128) -> f64 {
    wad as f64 / WAD_F
}

impl RunMetrics {
    /// Every metric as (name, value), in name order: one serialisation for all of them.
    #[must_use]
    pub fn values(&self) -> Vec<(String, f64)> {
        match serde_json::to_value(self) {
            Ok(serde_json::Value::Object(map)) => map
                .into_iter()
                .map(|(k, v)| (k, v.as_f64().unwrap_or(f64::NAN)))
                .collect(),
            _ => Vec::new(),
        }
    }

    /// Every metric name, in the order of [`RunMetrics::values`].
    #[must_use]
    pub fn names() -> Vec<String> {
        Self::default()
            .values()
            .into_iter()
            .map(|(k, _)| k)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_borrower_losses_by_nearest_rank() {
        let wad = |usd: i128| usd * 1_000_000_000_000_000_000;
        // Ten borrowers lose 1..=10 USD on 100 USD of collateral each; two lose nothing or gain.
        let mut losses: Vec<i128> = (1..=10).map(wad).collect();
        losses.extend([0, wad(-5)]);
        let collateral = vec![100.0; 12];
        let d = loss_distribution(&losses, &collateral);
        assert_eq!(d.count, 10);
        assert_eq!(
            (d.p50_usd, d.p90_usd, d.p99_usd, d.max_usd),
            (5.0, 9.0, 10.0, 10.0)
        );
        assert_eq!((d.share_p90, d.share_max), (0.09, 0.1));
        assert_eq!(
            loss_distribution(&[0, wad(-1)], &[1.0, 1.0]),
            LossDistribution::default()
        );
    }
}
