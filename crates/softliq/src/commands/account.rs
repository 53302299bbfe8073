//! `softliq account`: one account's health at given prices, as a table or as JSON.

use anyhow::Result;
use serde::Serialize;
use softliq_api::report::{AaveAccountData, AccountReport, aave_account_data, account_report};
use softliq_core::profile::Profile;

use super::inputs::{InputArgs, Inputs};
use crate::format::grouped;

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    inputs: InputArgs,
    /// Print JSON (exact decimal strings) instead of a table.
    #[arg(long)]
    json: bool,
}

/// What the command prints: the shared account report, with the owner and the prices' time.
#[derive(Serialize)]
struct Report {
    owner: String,
    timestamp: u64,
    #[serde(flatten)]
    account: AccountReport,
    /// Aave v3.6's account data, for a market file with `profile = "aave_v3"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    aave_v3: Option<AaveAccountData>,
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
    let snapshot = inputs.snapshot();
    let account = account_report(&inputs.account, &snapshot, &inputs.markets.assets)?;
    let aave_v3 = (inputs.markets.profile == Profile::AaveV3)
        .then(|| aave_account_data(&inputs.account, &snapshot))
        .transpose()?;
    Ok(Report {
        owner: inputs.owner.clone(),
        timestamp: inputs.prices.timestamp_s,
        account,
        aave_v3,
    })
}

fn render(report: &Report) -> String {
    use std::fmt::Write;
    let mut o = String::new();
    let _ = writeln!(
        o,
        "Account {} at prices of t = {}\n",
        report.owner, report.timestamp
    );
    let r = &report.account;
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
    if let Some(a) = &report.aave_v3 {
        let _ = writeln!(o, "\nAave v3.6 (profile aave_v3, 8-decimal base currency):");
        let _ = writeln!(
            o,
            "{:<26} {:>16} USD",
            "total collateral",
            grouped(&a.total_collateral_usd, 2)
        );
        let _ = writeln!(
            o,
            "{:<26} {:>16} USD",
            "total debt",
            grouped(&a.total_debt_usd, 2)
        );
        let hf = a
            .health_factor
            .as_deref()
            .map_or_else(|| "infinite".to_owned(), |h| grouped(h, 4));
        let _ = writeln!(o, "{:<26} {hf:>16}", "health factor");
        let state = if a.liquidatable {
            "LIQUIDATABLE (HF < 1)"
        } else {
            "safe (HF ≥ 1)"
        };
        let _ = writeln!(o, "{:<26} {state:>16}", "status");
    }
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
