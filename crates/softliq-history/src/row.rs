//! One liquidation call as a row: the figures of the CSV export and of the `liquidations`
//! table, in one place. Amounts are whole tokens (exact, as the ledger holds them), values USD,
//! ratios decimals.

use softliq_core::asset::AssetId;
use softliq_core::money::{Amount, Decimals, Ratio};
use softliq_engine::event::Liquidation;

/// The columns, in order.
pub const LIQUIDATION_COLUMNS: [&str; 21] = [
    "seq",
    "timestamp_s",
    "time_utc",
    "borrower",
    "liquidator",
    "policy",
    "debt_asset",
    "collateral_asset",
    "repaid",
    "repaid_usd",
    "seized",
    "seized_usd",
    "to_liquidator",
    "to_treasury",
    "liquidator_usd",
    "borrower_loss_usd",
    "penalty",
    "discount",
    "health_before",
    "health_after",
    "liquidatable_after",
];

/// The listed assets' symbols and decimals, by id (an id not listed shows as its number and
/// its amounts in base units).
pub type AssetNames = [(String, Decimals)];

/// The row of liquidation `l` at `seq`, engine time `t_s`.
#[must_use]
pub fn liquidation_row(seq: u64, t_s: u64, l: &Liquidation, assets: &AssetNames) -> Vec<String> {
    let q = &l.quote;
    let asset = |id: AssetId| {
        assets
            .get(id.index())
            .map_or_else(|| (id.0.to_string(), None), |(s, d)| (s.clone(), Some(*d)))
    };
    let (debt, dd) = asset(q.request.debt_asset);
    let (coll, cd) = asset(q.request.collateral_asset);
    let tokens = |a: Amount, d: Option<Decimals>| {
        d.map_or_else(|| a.raw().to_string(), |d| a.display_tokens(d).to_string())
    };
    let ratio = |r: Option<Ratio>| r.map(|r| r.to_string()).unwrap_or_default();
    vec![
        seq.to_string(),
        t_s.to_string(),
        utc(t_s),
        l.borrower.0.to_string(),
        l.liquidator.0.to_string(),
        l.policy.clone(),
        debt,
        coll,
        tokens(q.repaid, dd),
        q.repaid_value.to_string(),
        tokens(q.seized, cd),
        q.seized_value.to_string(),
        tokens(q.to_liquidator, cd),
        tokens(q.to_treasury, cd),
        q.liquidator_value.to_string(),
        q.seized_value.saturating_sub(q.repaid_value).to_string(),
        q.penalty.to_string(),
        q.discount.to_string(),
        ratio(q.health_before),
        ratio(q.health_after),
        q.liquidatable_after.to_string(),
    ]
}

/// RFC 3339 UTC time of Unix seconds (`2020-03-12T10:00:00Z`).
#[must_use]
pub fn utc(t_s: u64) -> String {
    let format = time::format_description::well_known::Rfc3339;
    i64::try_from(t_s)
        .ok()
        .and_then(|t| time::OffsetDateTime::from_unix_timestamp(t).ok())
        .and_then(|d| d.format(&format).ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #[test]
    fn times_are_rfc3339_utc() {
        assert_eq!(super::utc(1_583_971_200), "2020-03-12T00:00:00Z");
        assert_eq!(super::utc(0), "1970-01-01T00:00:00Z");
    }
}
