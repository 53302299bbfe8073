//! Where a mechanism's saving against `full` comes from.
//!
//! Borrower loss is volume times loss per liquidated dollar, `L = V · r`, so the saving
//! against full liquidation splits exactly into a rate part and a volume part:
//!
//! `L_f − L_m = V_m · (r_f − r_m) + r_f · (V_f − V_m)`.
//!
//! The volume a mechanism did not liquidate (`V_f − V_m`, valued at full's rate) is then
//! attributed, in this order, to the bad debt it left beyond full's (debt nobody repaid is
//! volume nobody liquidated, and a loss the protocol bears instead of the borrower), to the
//! outside money its borrowers brought beyond full's (top-ups and repayments that kept
//! accounts out of liquidation), and the rest to volume it simply did not need to liquidate.
//! The order is an attribution rule, not a causal estimate: the parts always add up to the
//! saving, and the first two are each capped by the volume left to attribute.

use serde::Serialize;

/// One mechanism's means over seeds (USD).
#[derive(Clone, Copy, Debug, Default)]
pub struct Side {
    pub loss_usd: f64,
    pub volume_usd: f64,
    pub bad_debt_usd: f64,
    pub responses_usd: f64,
}

/// The saving of borrower loss against `full` and its parts (USD); the parts sum to
/// `total_usd`. Negative values are costs (a mechanism that liquidates more, or dearer).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Saving {
    pub total_usd: f64,
    /// `V_m · (r_f − r_m)`: charging less per liquidated dollar.
    pub cheaper_per_dollar_usd: f64,
    /// Volume not liquidated because it was left as bad debt beyond full's.
    pub bad_debt_left_usd: f64,
    /// Volume not liquidated that borrowers' outside money (beyond full's) stood for.
    pub top_ups_usd: f64,
    /// The rest of the volume not liquidated.
    pub less_liquidated_usd: f64,
}

/// The split of `m`'s saving against `full`.
#[must_use]
pub fn saving(full: Side, m: Side) -> Saving {
    let rate = |s: Side| {
        if s.volume_usd > 0.0 {
            s.loss_usd / s.volume_usd
        } else {
            0.0
        }
    };
    let (r_f, r_m) = (rate(full), rate(m));
    let total_usd = full.loss_usd - m.loss_usd;
    let cheaper_per_dollar_usd = m.volume_usd * (r_f - r_m);
    let avoided = full.volume_usd - m.volume_usd;
    let (bad, top_ups) = if avoided > 0.0 {
        let bad = (m.bad_debt_usd - full.bad_debt_usd).clamp(0.0, avoided);
        let top_ups = (m.responses_usd - full.responses_usd).clamp(0.0, avoided - bad);
        (bad, top_ups)
    } else {
        (0.0, 0.0)
    };
    let bad_debt_left_usd = r_f * bad;
    let top_ups_usd = r_f * top_ups;
    // The remainder closes the sum exactly, absorbing float rounding and the case of a
    // mechanism with no volume (whose rate is taken as 0).
    let less_liquidated_usd = total_usd - cheaper_per_dollar_usd - bad_debt_left_usd - top_ups_usd;
    Saving {
        total_usd,
        cheaper_per_dollar_usd,
        bad_debt_left_usd,
        top_ups_usd,
        less_liquidated_usd,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FULL: Side = Side {
        loss_usd: 5_000.0,
        volume_usd: 100_000.0,
        bad_debt_usd: 1_000.0,
        responses_usd: 20_000.0,
    };

    #[test]
    fn the_parts_add_up_and_land_where_the_rule_says() {
        // 60k liquidated at 2% (1,200 of loss): 1,800 saved by the rate (60k x 3%), and
        // 40k not liquidated at full's 5%: 3k more bad debt (150), 10k more top-ups (500),
        // 27k simply not needed (1,350).
        let m = Side {
            loss_usd: 1_200.0,
            volume_usd: 60_000.0,
            bad_debt_usd: 4_000.0,
            responses_usd: 30_000.0,
        };
        let s = saving(FULL, m);
        assert!((s.total_usd - 3_800.0).abs() < 1e-9);
        assert!((s.cheaper_per_dollar_usd - 1_800.0).abs() < 1e-9, "{s:?}");
        assert!((s.bad_debt_left_usd - 150.0).abs() < 1e-9);
        assert!((s.top_ups_usd - 500.0).abs() < 1e-9);
        assert!((s.less_liquidated_usd - 1_350.0).abs() < 1e-9);
        let sum =
            s.cheaper_per_dollar_usd + s.bad_debt_left_usd + s.top_ups_usd + s.less_liquidated_usd;
        assert!((sum - s.total_usd).abs() < 1e-9);
    }

    #[test]
    fn attributions_are_capped_by_the_volume_not_liquidated() {
        // 10k not liquidated, 50k more bad debt: all of the 10k is bad debt, none top-ups.
        let m = Side {
            loss_usd: 4_500.0,
            volume_usd: 90_000.0,
            bad_debt_usd: 51_000.0,
            responses_usd: 90_000.0,
        };
        let s = saving(FULL, m);
        assert!((s.bad_debt_left_usd - 500.0).abs() < 1e-9, "{s:?}");
        assert_eq!(s.top_ups_usd, 0.0);
        assert!(s.less_liquidated_usd.abs() < 1e-9);
        // Liquidating more than full: the volume part is a cost, nothing is attributed.
        let more = Side {
            loss_usd: 6_000.0,
            volume_usd: 150_000.0,
            ..m
        };
        let s = saving(FULL, more);
        assert_eq!((s.bad_debt_left_usd, s.top_ups_usd), (0.0, 0.0));
        assert!((s.less_liquidated_usd + 2_500.0).abs() < 1e-9, "{s:?}");
        assert!((s.cheaper_per_dollar_usd - 1_500.0).abs() < 1e-9);
    }
}
