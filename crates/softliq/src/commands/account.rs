//! `softliq account`: one account's health at given prices, as a table or as JSON.

use anyhow::Result;
use serde::Serialize;
use softliq_core::asset::AssetId;
use softliq_core::health::{
    Direction, Health, liquidation_prices, pair_liquidation_price, position_health,
};
use softliq_core::money::{Amount, Ratio, Value};

use super::inputs::{InputArgs, Inputs};
use crate::format::{grouped, percent};

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    inputs: InputArgs,
    /// Print JSON (exact decimal strings) instead of a table.
    #[arg(long)]
    json: bool,
}

/// Everything the command shows; amounts and values are exact decimal strings.
#[derive(Serialize)]
struct Report {
    owner: String,
    timestamp: u64,
    positions: Vec<Row>,
    collateral_value: String,
    borrowing_power: String,
    borrowing_power_left: String,
    liquidation_collateral: String,
    weighted_debt: String,
    debt_value: String,
    /// `None` (JSON null) when there is no debt: HF is infinite.
    health_factor: Option<String>,
    risk_level: String,
    liquidatable: bool,
    liquidation_prices: Vec<LiqPrice>,
    pair_liquidation_price: Option<PairPrice>,
}

#[derive(Serialize)]
struct Row {
    asset: String,
    side: &'static str,
    amount: String,
    price: String,
    value: String,
    /// `lt` for supply, `bw` for debt.
    weight: String,
    /// `value · lt` for supply, `value · bw` for debt.
    weighted: String,
}

#[derive(Serialize)]
struct LiqPrice {
    asset: String,
    direction: &'static str,
    price: String,
    current: String,
    distance_pct: f64,
}

#[derive(Serialize)]
struct PairPrice {
    collateral: String,
    debt: String,
    ratio: String,
    current: String,
    distance_pct: f64,
}

pub fn run(args: &Args) -> Result<()> {
    let inputs = Inputs::load(&args.inputs)?;
    let report = build(&inputs)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", render(&report));
    }
    Ok(())
}

fn build(inputs: &Inputs) -> Result<Report> {
    let (account, s, markets) = (&inputs.account, inputs.snapshot(), &inputs.markets);
    let sym = |id: AssetId| inputs.symbol(id).to_owned();
    let h = Health::of(account, &s)?;
    let mut positions = Vec::new();
    for p in position_health(account, &s)? {
        let params = markets.asset(p.asset).params();
        let (price, decimals) = (s.get(p.asset)?.price, params.decimals);
        let mut row = |side, amount: Amount, value: Value, weight: Ratio, weighted: Value| {
            if !amount.is_zero() {
                positions.push(Row {
                    asset: sym(p.asset),
                    side,
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
    let liq = liquidation_prices(account, &s)?
        .into_iter()
        .map(|lp| LiqPrice {
            asset: sym(lp.asset),
            direction: match lp.direction {
                Direction::Falls => "falls",
                Direction::Rises => "rises",
            },
            price: lp.price.to_string(),
            current: lp.current.to_string(),
            distance_pct: lp.distance_pct(),
        })
        .collect();
    let pair = pair_liquidation_price(account, &s)?.map(|p| PairPrice {
        collateral: sym(p.collateral),
        debt: sym(p.debt),
        ratio: p.ratio.to_string(),
        current: p.current.to_string(),
        distance_pct: p.distance_pct(),
    });
    Ok(Report {
        owner: inputs.owner.clone(),
        timestamp: inputs.prices.timestamp_s,
        positions,
        collateral_value: h.collateral_value.to_string(),
        borrowing_power: h.borrowing_power.to_string(),
        borrowing_power_left: h.borrowing_power_left().to_string(),
        liquidation_collateral: h.liquidation_collateral.to_string(),
        weighted_debt: h.weighted_debt.to_string(),
        debt_value: h.debt_value.to_string(),
        health_factor: h.health_factor().map(|r| r.to_string()),
        risk_level: percent(h.risk_level()),
        liquidatable: h.is_liquidatable(),
        liquidation_prices: liq,
        pair_liquidation_price: pair,
    })
}

fn render(r: &Report) -> String {
    use std::fmt::Write;
    let mut o = String::new();
    let _ = writeln!(o, "Account {} at prices of t = {}\n", r.owner, r.timestamp);
    let _ = writeln!(
        o,
        "{:<6} {:<6} {:>18} {:>14} {:>16} {:>7} {:>16}",
        "asset", "side", "amount", "price (USD)", "value (USD)", "lt/bw", "weighted (USD)"
    );
    for p in &r.positions {
        let _ = writeln!(
            o,
            "{:<6} {:<6} {:>18} {:>14} {:>16} {:>7} {:>16}",
            p.asset,
            p.side,
            grouped(&p.amount, 4),
            grouped(&p.price, 4),
            grouped(&p.value, 2),
            grouped(&p.weight, 3),
            grouped(&p.weighted, 2)
        );
    }
    let hf = r
        .health_factor
        .as_deref()
        .map_or_else(|| "infinite".to_owned(), |h| grouped(h, 4));
    let status = if r.liquidatable {
        "LIQUIDATABLE"
    } else {
        "healthy"
    };
    let _ = writeln!(o);
    for (label, v) in [
        ("collateral value", &r.collateral_value),
        ("borrowing power B", &r.borrowing_power),
        ("  left to borrow", &r.borrowing_power_left),
        ("liquidation collateral C", &r.liquidation_collateral),
        ("weighted debt D", &r.weighted_debt),
        ("debt value V", &r.debt_value),
    ] {
        let _ = writeln!(o, "{label:<26} {:>16} USD", grouped(v, 2));
    }
    let _ = writeln!(o, "{:<26} {hf:>16}", "health factor C/D");
    let _ = writeln!(o, "{:<26} {:>16}", "risk level D/C", r.risk_level);
    let _ = writeln!(o, "{:<26} {status:>16}", "status");
    let _ = writeln!(
        o,
        "\nLiquidation prices (each asset alone, all else fixed):"
    );
    if r.liquidation_prices.is_empty() {
        let _ = writeln!(o, "  none: no single price move can bring HF to 1");
    }
    for lp in &r.liquidation_prices {
        let _ = writeln!(
            o,
            "  {:<6} {} to {:>14} USD (now {}, {:+.2}%)",
            lp.asset,
            lp.direction,
            grouped(&lp.price, 4),
            grouped(&lp.current, 4),
            lp.distance_pct
        );
    }
    if let Some(p) = &r.pair_liquidation_price {
        let _ = writeln!(
            o,
            "  {}/{} falls to {} (now {}, {:+.2}%)",
            p.collateral,
            p.debt,
            grouped(&p.ratio, 6),
            grouped(&p.current, 6),
            p.distance_pct
        );
    }
    o
}
