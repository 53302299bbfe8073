//! One account's health as people read it: positions, health factor, risk level and
//! liquidation prices with their distances, every figure an exact decimal string. The CLI's
//! `softliq account` and the API's `GET /v1/accounts/{id}` print the same report.

use serde::{Deserialize, Serialize};
use softliq_core::account::Account;
use softliq_core::asset::{Asset, AssetId};
use softliq_core::health::{
    Direction, Health, HealthError, LiquidationPrice, RiskSnapshot, liquidation_prices,
    pair_liquidation_price, position_health,
};
use softliq_core::money::{Amount, Ratio, Value};

/// Aave v3.6's `getUserAccountData` for the account, shown for markets under the `aave_v3`
/// profile (docs/liquidation.md, Protocol profiles): the totals Aave values in its 8-decimal
/// base currency (each collateral rounded down, each debt up) and its health factor.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AaveAccountData {
    /// USD, to Aave's 8 decimals.
    pub total_collateral_usd: String,
    pub total_debt_usd: String,
    /// `null` when there is no debt.
    pub health_factor: Option<String>,
    /// Aave's line: `HF < 1`, strictly.
    pub liquidatable: bool,
}

/// [`AaveAccountData`] for `account` at `snapshot`.
///
/// # Errors
/// A stale price or an asset missing from the snapshot, or an Aave overflow, as a refusal.
pub fn aave_account_data(
    account: &Account,
    snapshot: &RiskSnapshot,
) -> Result<AaveAccountData, softliq_core::liquidation::Refusal> {
    use softliq_core::liquidation::aave::{account_data, base_value, health};
    use softliq_core::profile::aave_v3::math::WAD;
    let data = account_data(account, snapshot)?;
    Ok(AaveAccountData {
        total_collateral_usd: base_value(data.total_collateral_base).to_string(),
        total_debt_usd: base_value(data.total_debt_base).to_string(),
        health_factor: health(data.health_factor).map(|h| h.to_string()),
        liquidatable: data.health_factor < WAD,
    })
}

/// Everything the report shows; amounts are whole tokens, values USD.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AccountReport {
    pub positions: Vec<PositionRow>,
    pub collateral_value: String,
    pub borrowing_power: String,
    pub borrowing_power_left: String,
    pub liquidation_collateral: String,
    pub weighted_debt: String,
    pub debt_value: String,
    /// `null` when there is no debt: HF is infinite.
    pub health_factor: Option<String>,
    pub risk_level: String,
    pub liquidatable: bool,
    pub liquidation_prices: Vec<LiquidationPriceRow>,
    pub pair_liquidation_price: Option<PairPriceRow>,
}

/// One side (supply or debt) of one asset.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PositionRow {
    pub asset: String,
    pub side: String,
    pub amount: String,
    pub price: String,
    pub value: String,
    /// `lt` for supply, `bw` for debt.
    pub weight: String,
    /// `value · lt` for supply, `value · bw` for debt.
    pub weighted: String,
}

/// The price of one asset at which the account becomes liquidatable, others fixed.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LiquidationPriceRow {
    pub asset: String,
    /// `falls` for collateral, `rises` for debt.
    pub direction: String,
    pub price: String,
    pub current: String,
    /// How far the price must move from `current`, in percent (display only).
    pub distance_pct: f64,
}

impl LiquidationPriceRow {
    /// The row of `lp`, an asset whose symbol is `symbol`.
    #[must_use]
    pub fn of(lp: &LiquidationPrice, symbol: String) -> Self {
        Self {
            asset: symbol,
            direction: match lp.direction {
                Direction::Falls => "falls",
                Direction::Rises => "rises",
            }
            .to_owned(),
            price: lp.price.to_string(),
            current: lp.current.to_string(),
            distance_pct: lp.distance_pct(),
        }
    }
}

/// For a one-collateral, one-debt account: the collateral/debt price ratio at liquidation.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PairPriceRow {
    pub collateral: String,
    pub debt: String,
    pub ratio: String,
    pub current: String,
    pub distance_pct: f64,
}

/// A WAD ratio as a percentage with two decimals, truncated: "82.50%".
#[must_use]
pub fn percent(ratio: Ratio) -> String {
    let hundredths = ratio.raw() / 10u128.pow(14);
    format!("{}.{:02}%", hundredths / 100, hundredths % 100)
}

/// The report of `account` at `snapshot`; `assets` gives symbols and parameters.
///
/// # Errors
/// A held asset without a price in the snapshot, or arithmetic that does not fit.
pub fn account_report(
    account: &Account,
    snapshot: &RiskSnapshot,
    assets: &[Asset],
) -> Result<AccountReport, HealthError> {
    let asset = |id: AssetId| &assets[id.index()];
    let sym = |id: AssetId| asset(id).symbol.clone();
    let h = Health::of(account, snapshot)?;
    let mut positions = Vec::new();
    for p in position_health(account, snapshot)? {
        let params = asset(p.asset).params();
        let (price, decimals) = (snapshot.get(p.asset)?.price, params.decimals);
        let mut row = |side: &str, amount: Amount, value: Value, weight: Ratio, weighted: Value| {
            if !amount.is_zero() {
                positions.push(PositionRow {
                    asset: sym(p.asset),
                    side: side.to_owned(),
                    amount: amount.display_tokens(decimals).to_string(),
                    price: price.to_string(),
                    value: value.to_string(),
                    weight: weight.to_string(),
                    weighted: weighted.to_string(),
                });
            }
        };
        let lt = params.liquidation_threshold;
        row(
            "supply",
            p.supply_amount,
            p.collateral_value,
            lt,
            p.liquidation_collateral,
        );
        row(
            "debt",
            p.debt_amount,
            p.debt_value,
            params.borrow_weight,
            p.weighted_debt,
        );
    }
    // Prices at which the account becomes liquidatable, at or ahead of the current ones: below
    // HF 1 the crossings solved for lie behind them (where it would recover), and are left out.
    let liquidatable = h.is_liquidatable();
    let liquidation_prices = liquidation_prices(account, snapshot)?
        .iter()
        .filter(|lp| lp.is_ahead())
        .map(|lp| LiquidationPriceRow::of(lp, sym(lp.asset)))
        .collect();
    // The collateral/debt ratio at liquidation: ahead when at or below the current one.
    let pair = pair_liquidation_price(account, snapshot)?.filter(|p| p.ratio <= p.current);
    let pair_liquidation_price = pair.map(|p| PairPriceRow {
        collateral: sym(p.collateral),
        debt: sym(p.debt),
        ratio: p.ratio.to_string(),
        current: p.current.to_string(),
        distance_pct: p.distance_pct(),
    });
    Ok(AccountReport {
        positions,
        collateral_value: h.collateral_value.to_string(),
        borrowing_power: h.borrowing_power.to_string(),
        borrowing_power_left: h.borrowing_power_left().to_string(),
        liquidation_collateral: h.liquidation_collateral.to_string(),
        weighted_debt: h.weighted_debt.to_string(),
        debt_value: h.debt_value.to_string(),
        health_factor: h.health_factor().map(|r| r.to_string()),
        risk_level: percent(h.risk_level()),
        liquidatable,
        liquidation_prices,
        pair_liquidation_price,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_truncates_to_hundredths() {
        assert_eq!(percent(Ratio::parse("r", "0.825").unwrap()), "82.50%");
        assert_eq!(percent(Ratio::parse("r", "1.2375").unwrap()), "123.75%");
        assert_eq!(percent(Ratio::parse("r", "0.99999").unwrap()), "99.99%");
    }
}
