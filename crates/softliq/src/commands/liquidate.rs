//! `softliq liquidate`: what a liquidation would do to an account, under one policy or all.

use anyhow::{Context, Result, anyhow};
use serde::Serialize;
use softliq_config::Number;
use softliq_core::health::Health;
use softliq_core::liquidation::plan::Outcome;
use softliq_core::liquidation::{
    Bound, Incentive, Plan, Policy, Quote, Request, Stage, plan, plan_until_healthy, quote,
    two_step_extraction,
};
use softliq_core::money::{Rounding, Value};

use super::inputs::{InputArgs, Inputs};
use crate::format::grouped;
use softliq_api::report::percent;

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    inputs: InputArgs,
    /// Liquidation policy: soft, close_factor, restore, two_stage, full or aave_v3 (default
    /// parameters, changed by `--set`). Default: aave_v3 in a market whose file declares
    /// `profile = "aave_v3"`, else soft.
    #[arg(long)]
    policy: Option<String>,
    /// A policy parameter, with the keys and syntax of a simulator scenario's
    /// `[mechanism.<name>]` table and of `POST /v1/policy`'s `overrides`:
    /// `--set max_fraction=30% --set min_call_usd=0` (repeatable; the value is read as TOML,
    /// else as a string).
    #[arg(long = "set", value_name = "KEY=VALUE", conflicts_with = "compare")]
    sets: Vec<String>,
    /// Debt asset to repay (default: the keeper's most profitable pair).
    #[arg(long, requires = "collateral")]
    debt: Option<String>,
    /// Collateral asset to receive.
    #[arg(long, requires = "debt")]
    collateral: Option<String>,
    /// Most the liquidator repays, in whole tokens of the debt asset (default: all of it).
    #[arg(long, requires = "debt")]
    max_repay: Option<String>,
    /// Show the whole sequence of calls until the account is healthy, closed or bad debt.
    #[arg(long, conflicts_with = "compare")]
    until_healthy: bool,
    /// Show the five policies side by side, and aave_v3 where the market's assets are ones
    /// Aave could list.
    #[arg(long)]
    compare: bool,
    /// Incentive: fixed (the assets' penalty and discount), ramp (a discount rising from 0.5%
    /// to 8% over the hour after the account became liquidatable) or euler (the discount is
    /// the shortfall 1 − HF, at most 8%); see docs/liquidation.md.
    #[arg(long, default_value = "fixed")]
    incentive: String,
    /// How long the account has been liquidatable, in seconds (read by `--incentive ramp`).
    #[arg(long, default_value_t = 0)]
    liquidatable_for_s: u64,
    /// Print JSON (exact decimal strings) instead of tables.
    #[arg(long)]
    json: bool,
}

/// `--policy` with its `--set` overrides, read as the simulator and the API read a policy
/// (`softliq_config::policy`), then checked against the assets. One call at a time: `dutch`
/// runs auctions over time, which this command does not model.
fn chosen_policy(
    args: &Args,
    inputs: &Inputs,
    assets: &[(&str, &softliq_core::asset::AssetParams)],
    incentive: Incentive,
) -> Result<Policy> {
    let by_market = inputs.markets.profile_policy().map(|p| p.name());
    let name = args.policy.as_deref().or(by_market).unwrap_or("soft");
    let mut overrides = toml::Table::new();
    for text in &args.sets {
        let (key, value) =
            softliq_sim::scenario::parse_set(text).map_err(|e| anyhow!("--set: {}", e.problem))?;
        overrides.insert(key, value);
    }
    let rule = overrides.get("rule").and_then(toml::Value::as_str);
    let base = rule.unwrap_or(name);
    let why = if base == "dutch" {
        "dutch runs auctions over time (softliq serve, softliq sim), not single calls"
    } else if Policy::by_name(base).is_none() {
        "unknown policy"
    } else {
        ""
    };
    if !why.is_empty() {
        return Err(anyhow!(
            "--policy {name:?}: {why} (one of: soft, close_factor, restore, two_stage, full, aave_v3)"
        ));
    }
    let at = softliq_config::policy::At {
        name: "--policy",
        overrides: "--set",
    };
    let policy = softliq_config::policy::policy(name, Some(&overrides), at, |p| {
        p.incentive = incentive;
    })
    .map_err(|e| anyhow!("{}: {}", e.field, e.problem))?;
    // A policy the user changed, or the profile's policy, is checked as the engine would check
    // it at `POST /v1/policy`. The named defaults are shown as they are even where a market
    // would refuse one (the example market's USDC, cf 0.8 and lt 0.85, refuses `two_stage`'s
    // soft_hf 1.1).
    if !args.sets.is_empty() || policy.profile() != softliq_core::profile::Profile::Softliq {
        let at = if args.sets.is_empty() {
            format!("--policy {name}: ")
        } else {
            "--set ".to_owned()
        };
        policy
            .validate(assets)
            .map_err(|e| anyhow!("{at}{}: {} is out of bounds: {}", e.field, e.value, e.bound))?;
    }
    Ok(policy)
}

#[derive(Serialize)]
struct QuoteView {
    debt: String,
    collateral: String,
    stage: &'static str,
    bound: &'static str,
    repaid: String,
    repaid_value: String,
    seized: String,
    seized_value: String,
    to_liquidator: String,
    to_treasury: String,
    penalty: String,
    discount: String,
    health_before: Option<String>,
    health_after: Option<String>,
    borrower_loss: String,
    liquidator_profit: String,
    protocol_revenue: String,
}

#[derive(Serialize)]
struct PlanView {
    policy: &'static str,
    outcome: &'static str,
    calls: Vec<QuoteView>,
    repaid_value: String,
    borrower_loss: String,
    liquidator_profit: String,
    protocol_revenue: String,
    bad_debt: String,
    final_health: Option<String>,
    /// For `soft` and `close_factor`: how much more the two-step strategy extracts than the
    /// greedy sequence (liquidator profit, USD).
    two_step_extra: Option<String>,
}

pub fn run(args: &Args) -> Result<()> {
    let inputs = Inputs::load(&args.inputs)?;
    let incentive = Incentive::by_name(&args.incentive).ok_or_else(|| {
        anyhow!(
            "--incentive: unknown incentive {:?} (one of: {})",
            args.incentive,
            Incentive::NAMES
        )
    })?;
    let assets: Vec<_> = inputs
        .markets
        .assets
        .iter()
        .map(|a| (a.symbol.as_str(), a.params()))
        .collect();
    incentive
        .validate(&assets)
        .map_err(|e| anyhow!("--incentive {}: {e}", args.incentive))?;
    let with_incentive = |p: Policy| Policy { incentive, ..p };
    let policy = with_incentive(chosen_policy(args, &inputs, &assets, incentive)?);
    let age_s = args.liquidatable_for_s;
    let snapshot = inputs.snapshot();
    if args.compare {
        // The five policies, and Aave v3.6's where the market's assets are ones Aave could list.
        let aave = Some(Policy::aave_v3()).filter(|p| p.validate(&assets).is_ok());
        let views = Policy::all()
            .into_iter()
            .chain(aave)
            .map(|p| plan_view(&inputs, &with_incentive(p), true, age_s))
            .collect::<Result<Vec<_>>>()?;
        return emit(args.json, &views, || render_compare(&inputs, &views));
    }
    if args.until_healthy {
        let view = plan_view(&inputs, &policy, false, age_s)?;
        return emit(args.json, &view, || render_plan(&view));
    }
    let q = match (&args.debt, &args.collateral) {
        (Some(d), Some(c)) => Some(
            quote(
                &inputs.account,
                &snapshot,
                &policy,
                &request(&inputs, (d, c), args.max_repay.as_deref(), age_s)?,
            )
            .map_err(|r| named(&inputs, r))?,
        ),
        _ => plan(&inputs.account, &snapshot, &policy, age_s).map_err(|r| named(&inputs, r))?,
    };
    let Some(q) = q else {
        let hf = Health::of(&inputs.account, &snapshot)?.health_factor();
        let none = NoCall {
            policy: policy.name(),
            call: None,
            health_factor: hf.map(|h| h.to_string()),
        };
        return emit(args.json, &none, || {
            format!(
                "no call is open under {}: health factor {}\n",
                none.policy,
                hf.map_or("infinite".into(), |h| grouped(&h.to_string(), 4))
            )
        });
    };
    let view = quote_view(&inputs, &q)?;
    emit(args.json, &view, || render_quote(policy.name(), &view))
}

/// What `--json` prints when no call is open (a healthy account, or nothing to take).
#[derive(Serialize)]
struct NoCall {
    policy: &'static str,
    /// Always `null`: no call.
    call: Option<()>,
    /// `null` without debt.
    health_factor: Option<String>,
}

/// A refusal as the user reads it: assets by symbol, not by id.
fn named(inputs: &Inputs, r: softliq_core::liquidation::Refusal) -> anyhow::Error {
    use softliq_core::liquidation::Refusal;
    match r {
        Refusal::StalePrice(a) => anyhow!("price: the price of {} is stale", inputs.symbol(a)),
        Refusal::NoDebt(a) => anyhow!("--debt: the account owes nothing in {}", inputs.symbol(a)),
        Refusal::NoCollateral(a) => anyhow!(
            "--collateral: the account holds no {} as collateral",
            inputs.symbol(a)
        ),
        other => anyhow!("{other}"),
    }
}

fn emit<T: Serialize>(json: bool, value: &T, table: impl FnOnce() -> String) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(value)?);
    } else {
        print!("{}", table());
    }
    Ok(())
}

fn request(
    inputs: &Inputs,
    (debt, collateral): (&str, &str),
    max: Option<&str>,
    liquidatable_for_s: u64,
) -> Result<Request> {
    let lookup = |flag: &str, symbol: &str| {
        inputs.markets.id(symbol).ok_or_else(|| {
            anyhow!(
                "{flag}: unknown asset {symbol:?} (listed: {})",
                inputs.markets.symbols()
            )
        })
    };
    let (d, c) = (lookup("--debt", debt)?, lookup("--collateral", collateral)?);
    let max_repay = match max {
        Some(text) => Number::Text(text.to_owned())
            .tokens("--max-repay", inputs.markets.asset(d).params().decimals)
            .map_err(|e| anyhow!("{e}"))?,
        None => {
            let risk = inputs.snapshot().get(d)?.borrow_index;
            let owed = inputs
                .account
                .position(d)
                .debt
                .to_amount(risk, Rounding::Up)?;
            if owed.is_zero() {
                return Err(anyhow!("--debt: the account owes nothing in {debt}"));
            }
            owed
        }
    };
    Ok(Request {
        debt_asset: d,
        collateral_asset: c,
        max_repay,
        liquidatable_for_s,
    })
}

fn money(v: Value) -> String {
    v.to_string()
}

fn quote_view(inputs: &Inputs, q: &Quote) -> Result<QuoteView> {
    let (d, c) = (q.request.debt_asset, q.request.collateral_asset);
    let dec = |a| inputs.markets.asset(a).params().decimals;
    Ok(QuoteView {
        debt: inputs.symbol(d).to_owned(),
        collateral: inputs.symbol(c).to_owned(),
        stage: match q.stage {
            Stage::Buffer => "buffer",
            Stage::Hard => "hard",
        },
        bound: match q.bound {
            Bound::Requested => "requested",
            Bound::PolicyCap => "policy cap",
            Bound::Debt => "all debt",
            Bound::Collateral => "all collateral",
            Bound::Dust => "dust rule",
            Bound::DeathSpiral => "death spiral",
            Bound::MinCall => "minimum call",
        },
        repaid: q.repaid.display_tokens(dec(d)).to_string(),
        repaid_value: money(q.repaid_value),
        seized: q.seized.display_tokens(dec(c)).to_string(),
        seized_value: money(q.seized_value),
        to_liquidator: q.to_liquidator.display_tokens(dec(c)).to_string(),
        to_treasury: q.to_treasury.display_tokens(dec(c)).to_string(),
        penalty: percent(q.penalty),
        discount: percent(q.discount),
        health_before: q.health_before.map(|h| h.to_string()),
        health_after: q.health_after.map(|h| h.to_string()),
        borrower_loss: money(q.borrower_loss()),
        liquidator_profit: money(q.liquidator_profit()),
        protocol_revenue: money(q.protocol_revenue()),
    })
}

fn plan_view(
    inputs: &Inputs,
    policy: &Policy,
    with_two_step: bool,
    age_s: u64,
) -> Result<PlanView> {
    let snapshot = inputs.snapshot();
    let p: Plan = plan_until_healthy(&inputs.account, &snapshot, policy, &inputs.pools, age_s)
        .with_context(|| format!("planning under {}", policy.name()))?;
    let two_step = if with_two_step && matches!(policy.name(), "soft" | "close_factor") {
        let t = two_step_extraction(&inputs.account, &snapshot, policy, &inputs.pools, age_s)?;
        Some(money(
            t.liquidator_profit.saturating_sub(p.liquidator_profit),
        ))
    } else {
        None
    };
    Ok(PlanView {
        policy: policy.name(),
        outcome: match p.outcome {
            Outcome::Healthy => "healthy",
            Outcome::Closed => "closed",
            Outcome::BadDebt => "bad debt",
            Outcome::CallLimit => "call limit",
        },
        calls: p
            .calls
            .iter()
            .map(|q| quote_view(inputs, q))
            .collect::<Result<_>>()?,
        repaid_value: money(p.repaid_value),
        borrower_loss: money(p.borrower_loss),
        liquidator_profit: money(p.liquidator_profit),
        protocol_revenue: money(p.protocol_revenue),
        bad_debt: money(p.bad_debt),
        final_health: p.final_health.map(|h| h.to_string()),
        two_step_extra: two_step,
    })
}

fn hf(h: Option<&String>) -> String {
    h.map_or_else(|| "inf".to_owned(), |h| grouped(h, 4))
}

fn render_quote(policy: &str, q: &QuoteView) -> String {
    let mut o = format!(
        "{policy}: repay {} against {} ({} stage, bound: {})\n",
        q.debt, q.collateral, q.stage, q.bound
    );
    for (label, amount, unit, value) in [
        ("repaid", &q.repaid, &q.debt, Some(&q.repaid_value)),
        ("seized", &q.seized, &q.collateral, Some(&q.seized_value)),
        ("to liquidator", &q.to_liquidator, &q.collateral, None),
        ("to treasury", &q.to_treasury, &q.collateral, None),
    ] {
        let value = value.map_or_else(String::new, |v| format!("  ({} USD)", grouped(v, 2)));
        o += format!("  {label:<14} {:>20} {unit:<5}{value}", grouped(amount, 6)).trim_end();
        o += "\n";
    }
    o += &format!("  penalty {} (liquidator {})\n", q.penalty, q.discount);
    o += &format!(
        "  borrower loss {} USD, liquidator profit {} USD, protocol {} USD\n",
        grouped(&q.borrower_loss, 2),
        grouped(&q.liquidator_profit, 2),
        grouped(&q.protocol_revenue, 2)
    );
    o += &format!(
        "  health factor {} -> {}\n",
        hf(q.health_before.as_ref()),
        hf(q.health_after.as_ref())
    );
    o
}

fn render_plan(p: &PlanView) -> String {
    let mut o = format!(
        "{}: {} calls, ends {}\n",
        p.policy,
        p.calls.len(),
        p.outcome
    );
    o += &format!(
        "  {:>4} {:<6} {:<6} {:>14} {:<15} {:>9}\n",
        "#", "debt", "coll", "repaid (USD)", "bound", "HF after"
    );
    for (i, q) in p.calls.iter().enumerate() {
        o += &format!(
            "  {:>4} {:<6} {:<6} {:>14} {:<15} {:>9}\n",
            i + 1,
            q.debt,
            q.collateral,
            grouped(&q.repaid_value, 2),
            q.bound,
            hf(q.health_after.as_ref())
        );
    }
    o += &format!(
        "  repaid {} USD; borrower loss {}; liquidator profit {}; protocol {}; bad debt {}; final HF {}\n",
        grouped(&p.repaid_value, 2),
        grouped(&p.borrower_loss, 2),
        grouped(&p.liquidator_profit, 2),
        grouped(&p.protocol_revenue, 2),
        grouped(&p.bad_debt, 2),
        hf(p.final_health.as_ref())
    );
    o
}

fn render_compare(inputs: &Inputs, views: &[PlanView]) -> String {
    let mut o = format!(
        "Account {}: every policy until no call is open, same prices\n",
        inputs.owner
    );
    o += &format!(
        "{:<13} {:>5} {:>14} {:>14} {:>14} {:>12} {:>10} {:>9} {:<9} {:>14}\n",
        "policy",
        "calls",
        "repaid",
        "borrower loss",
        "liq. profit",
        "protocol",
        "bad debt",
        "final HF",
        "ends",
        "two-step extra"
    );
    for v in views {
        o += &format!(
            "{:<13} {:>5} {:>14} {:>14} {:>14} {:>12} {:>10} {:>9} {:<9} {:>14}\n",
            v.policy,
            v.calls.len(),
            grouped(&v.repaid_value, 2),
            grouped(&v.borrower_loss, 2),
            grouped(&v.liquidator_profit, 2),
            grouped(&v.protocol_revenue, 2),
            grouped(&v.bad_debt, 2),
            hf(v.final_health.as_ref()),
            v.outcome,
            v.two_step_extra
                .as_deref()
                .map_or_else(|| "-".to_owned(), |x| grouped(x, 2))
        );
    }
    o += "(USD; two-step extra: what repaying just short of health first, then a fresh cap, adds to the liquidator's profit)\n";
    o
}
