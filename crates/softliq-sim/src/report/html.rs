//! `report.html`: one self-contained page (inline CSS and SVG, no scripts, no network).

use std::fmt::Write as _;

use super::Summary;
use super::charts::{Band, banded, bars, compact, heatmap, lines};
use crate::batch::BatchResult;
use crate::metrics::HEADLINE;
use crate::scenario::Loaded;

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222}\
table{border-collapse:collapse;margin:1em 0;font-size:13px}th,td{border:1px solid #ccc;padding:4px 8px;text-align:right}\
th:first-child,td:first-child{text-align:left}small{color:#777}h2{margin-top:1.6em;border-bottom:1px solid #ddd}\
pre{background:#f6f6f6;padding:1em;overflow:auto;font-size:12px}.error{color:#b00}";

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn title(metric: &str) -> String {
    metric.replace('_', " ").replace(" usd", " (USD)")
}

fn show(metric: &str, v: f64) -> String {
    if metric.contains("impact") {
        format!("{:.2}%", v * 100.0)
    } else {
        compact(v)
    }
}

/// The whole page.
#[must_use]
pub fn render(loaded: &Loaded, batch: &BatchResult, summary: &Summary) -> String {
    let mut out = String::new();
    let s = &loaded.scenario;
    let _ = write!(
        out,
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>softliq sim: {name}</title><style>{STYLE}</style></head><body>\
         <h1>softliq sim: {name}</h1><p>{desc}</p>\
         <p>{borrowers} borrowers, {steps} steps, seeds {seeds}, mechanisms {mechs}{preset}.</p>",
        name = escape(&s.name),
        desc = escape(&s.description),
        preset = summary
            .preset
            .as_ref()
            .map(|p| format!("; preset <b>{}</b>", escape(p)))
            .unwrap_or_default(),
        borrowers = summary.borrowers,
        steps = summary.steps,
        seeds = escape(&format!("{:?}", summary.seeds)),
        mechs = escape(&summary.mechanisms.join(", ")),
    );
    population(&mut out, summary);
    headline(&mut out, summary);
    against_full(&mut out, summary);
    per_borrower(&mut out, summary);
    charts(&mut out, batch, summary);
    sweep(&mut out, batch, summary);
    all_metrics(&mut out, summary);
    let _ = write!(
        out,
        "<h2>Accounting</h2><p>{}.</p><h2>Scenario</h2><pre>{}</pre></body></html>",
        escape(&summary.accounting),
        escape(&toml::to_string_pretty(&loaded.tree).unwrap_or_default())
    );
    out
}

fn headline(out: &mut String, summary: &Summary) {
    let _ = write!(
        out,
        "<h2>Headline{}</h2><p><small>Mean over seeds, with the 95% confidence interval of the mean.</small></p><table><tr><th>mechanism</th>",
        summary
            .points
            .first()
            .map_or(String::new(), |p| format!(" ({})", escape(&p.point.label)))
    );
    for (metric, lower) in HEADLINE {
        let _ = write!(
            out,
            "<th>{}<br><small>{}</small></th>",
            title(metric),
            if lower { "lower is better" } else { "higher" }
        );
    }
    out.push_str("</tr>");
    for m in &summary.mechanisms {
        let _ = write!(out, "<tr><td>{}</td>", escape(m));
        for (metric, _) in HEADLINE {
            match summary.stat(0, m, metric) {
                Some(st) => {
                    let _ = write!(
                        out,
                        "<td>{}<br><small>[{}, {}]</small></td>",
                        show(metric, st.mean),
                        show(metric, st.ci95_lo),
                        show(metric, st.ci95_hi)
                    );
                }
                None => out.push_str("<td>–</td>"),
            }
        }
        out.push_str("</tr>");
    }
    out.push_str("</table>");
    if !summary.best.is_empty() && summary.points.len() > 1 {
        out.push_str("<h2>Best setting per metric</h2><table><tr><th>metric</th><th>point</th><th>mechanism</th><th>mean</th></tr>");
        for b in &summary.best {
            let _ = write!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                title(&b.metric),
                escape(&b.point),
                escape(&b.mechanism),
                show(&b.metric, b.mean)
            );
        }
        out.push_str("</table>");
    }
}

/// The population's debt at the start and the share of it each mechanism liquidated (first
/// point, means over seeds).
fn population(out: &mut String, summary: &Summary) {
    let Some(m) = summary.mechanisms.first() else {
        return;
    };
    let Some(debt) = summary.stat(0, m, "start_debt_usd") else {
        return;
    };
    let _ = write!(
        out,
        "<p>Debt at the start: {} USD. Liquidated share of it:",
        super::grouped(debt.mean)
    );
    for m in &summary.mechanisms {
        if let Some(s) = summary.stat(0, m, "liquidated_share_of_debt") {
            let _ = write!(out, " {} {:.1}%;", escape(m), s.mean * 100.0);
        }
    }
    out.push_str("</p>");
    if let Some(c) = &summary.calibration {
        let _ = write!(
            out,
            "<p>Calibration: lending protocols reported {:.1}–{:.1}% of debt liquidated in this event; <code>full</code> liquidates {:.2}% here ({}).</p>",
            c.liquidated_share_min * 100.0,
            c.liquidated_share_max * 100.0,
            c.full_liquidated_share * 100.0,
            if c.within { "within" } else { "<b>outside</b>" }
        );
    }
    if !summary.start_hf_histogram.is_empty() {
        out.push_str("<p>Borrowers by health factor at the start (first seed):</p><table><tr>");
        for (label, _) in &summary.start_hf_histogram {
            let _ = write!(out, "<th>{}</th>", escape(label));
        }
        out.push_str("</tr><tr>");
        for (_, count) in &summary.start_hf_histogram {
            let _ = write!(out, "<td>{}</td>", super::grouped(*count as f64));
        }
        out.push_str("</tr></table>");
    }
}

/// Each mechanism against `full`, with the targets' verdicts.
fn against_full(out: &mut String, summary: &Summary) {
    if summary.against_full.is_empty() {
        return;
    }
    let _ = write!(
        out,
        "<h2>Against full liquidation</h2><p><small>Means over seeds. Targets: borrower loss at most {:.0}% of full's, bad debt at most full's, loss at most {:.1}% of each liquidated dollar.</small></p>\
         <table><tr><th>point</th><th>mechanism</th><th>loss / full's</th><th>bad debt (USD) / full's</th><th>loss per liquidated $</th><th>peak impact / full's</th><th>targets</th></tr>",
        super::TARGET_LOSS_SHARE * 100.0,
        super::TARGET_LOSS_PER_DOLLAR * 100.0
    );
    let mark = |ok: bool| if ok { "✓" } else { "✗" };
    for v in &summary.against_full {
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{:.0}% {}</td><td>{} / {} {}</td><td>{:.2}% {}</td><td>{:.2}×</td><td>{}</td></tr>",
            escape(&v.point),
            escape(&v.mechanism),
            v.loss_share_of_full * 100.0,
            mark(v.meets_loss),
            super::grouped(v.bad_debt_usd),
            super::grouped(v.full_bad_debt_usd),
            mark(v.meets_bad_debt),
            v.loss_per_liquidated_dollar * 100.0,
            mark(v.meets_loss_per_dollar),
            v.peak_impact_vs_full,
            if v.meets_loss && v.meets_bad_debt && v.meets_loss_per_dollar {
                "all met"
            } else {
                "not all"
            }
        );
    }
    out.push_str("</table>");
    let _ = write!(
        out,
        "<h3>Where the saving comes from</h3><p><small>Borrower loss saved against full (USD, means over seeds), split exactly: charging less per liquidated dollar, and the volume not liquidated (at full's loss per dollar) attributed first to bad debt left beyond full's, then to borrowers' outside money beyond full's, the rest to volume not needed. Negative: a cost.</small></p>\
         <table><tr><th>point</th><th>mechanism</th><th>saved</th><th>cheaper per $</th><th>left as bad debt</th><th>borrower top-ups</th><th>less liquidated</th></tr>"
    );
    for v in &summary.against_full {
        let s = &v.saving;
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&v.point),
            escape(&v.mechanism),
            super::grouped(s.total_usd),
            super::grouped(s.cheaper_per_dollar_usd),
            super::grouped(s.bad_debt_left_usd),
            super::grouped(s.top_ups_usd),
            super::grouped(s.less_liquidated_usd),
        );
    }
    out.push_str("</table>");
}

/// How losses spread over the borrowers who had any (first point, means over seeds).
fn per_borrower(out: &mut String, summary: &Summary) {
    out.push_str(
        "<h2>Per-borrower losses</h2><p><small>Borrowers who lost anything to liquidation, and what they lost (USD at the external price; nearest-rank percentiles over borrowers, then means over seeds); share: of the borrower's collateral at the start.</small></p>\
         <table><tr><th>mechanism</th><th>borrowers</th><th>median</th><th>p90</th><th>p99</th><th>largest</th><th>p90 share</th><th>largest share</th></tr>",
    );
    for m in &summary.mechanisms {
        let get = |metric: &str| summary.stat(0, m, metric).map_or(f64::NAN, |s| s.mean);
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.2}%</td><td>{:.2}%</td></tr>",
            escape(m),
            super::grouped(get("borrowers_with_loss")),
            super::grouped(get("borrower_loss_p50_usd")),
            super::grouped(get("borrower_loss_p90_usd")),
            super::grouped(get("borrower_loss_p99_usd")),
            super::grouped(get("borrower_loss_max_usd")),
            get("borrower_loss_share_p90") * 100.0,
            get("borrower_loss_share_max") * 100.0,
        );
    }
    out.push_str("</table>");
}

fn charts(out: &mut String, batch: &BatchResult, summary: &Summary) {
    out.push_str("<h2>Charts</h2>");
    if let Some((_, first)) = batch.series.first() {
        let t0 = first.times_s.first().copied().unwrap_or(0);
        let hours: Vec<f64> = first
            .times_s
            .iter()
            .map(|t| (t - t0) as f64 / 3_600.0)
            .collect();
        // The time axis names its start date and where the external price bottomed.
        let low = first
            .fair
            .iter()
            .enumerate()
            .min_by(|a, b| a.1.total_cmp(b.1))
            .map_or(0.0, |(k, _)| hours[k]);
        let axis = format!(
            "hours since {} (the external price's low at hour {low:.0})",
            utc(t0)
        );
        let mut prices = vec![(format!("{} external", first.symbol), first.fair.clone())];
        prices.extend(
            batch
                .series
                .iter()
                .map(|(m, s)| (format!("oracle, {m}"), s.oracle.clone())),
        );
        let _ = write!(
            out,
            "<p><small>Prices: the first seed{}; the oracle sees the external price pushed down by liquidators' sales. The other time series: the mean over seeds as a line, shaded from the lowest to the highest seed.</small></p>{}{}{}",
            summary.points.first().map_or(String::new(), |p| format!(
                ", point {}",
                escape(&p.point.label)
            )),
            lines(
                &format!("{} price (USD)", first.symbol),
                &axis,
                "USD",
                &hours,
                &prices
            ),
            over_seeds(
                batch,
                (&hours, &axis, "USD"),
                "Debt repaid by liquidators, cumulative",
                |s| s.repaid_cum_usd.clone()
            ),
            over_seeds(
                batch,
                (&hours, &axis, "USD"),
                "Bad debt realised, cumulative",
                |s| s.bad_debt_cum_usd.clone()
            ),
        );
        // One price chart per other collateral asset.
        for (k, (symbol, fair, _)) in first.others.iter().enumerate() {
            let mut prices = vec![(format!("{symbol} external"), fair.clone())];
            prices.extend(batch.series.iter().filter_map(|(m, s)| {
                s.others
                    .get(k)
                    .map(|(_, _, oracle)| (format!("oracle, {m}"), oracle.clone()))
            }));
            out.push_str(&lines(
                &format!("{symbol} price (USD)"),
                &axis,
                "USD",
                &hours,
                &prices,
            ));
        }
        out.push_str(&over_seeds(
            batch,
            (&hours, &axis, "%"),
            &format!("{} price impact at the venue (%)", first.symbol),
            |s| s.impact.iter().map(|i| i * 100.0).collect(),
        ));
        out.push_str(&over_seeds(
            batch,
            (&hours, &axis, "account-steps"),
            "Underwater account-steps, cumulative",
            |s| s.underwater.iter().map(|&u| u as f64).collect(),
        ));
    }
    out.push_str("<p><small>Bars: mean over seeds; whiskers: 5th to 95th percentile.</small></p>");
    for metric in [
        "borrower_loss_usd",
        "bad_debt_usd",
        "protocol_revenue_usd",
        "peak_impact",
    ] {
        let items: Vec<_> = summary
            .mechanisms
            .iter()
            .filter_map(|m| summary.stat(0, m, metric).map(|s| (m.clone(), *s)))
            .collect();
        out.push_str(&bars(
            &title(metric),
            if metric.contains("impact") {
                "fraction"
            } else {
                "USD"
            },
            &items,
        ));
    }
}

/// One band per mechanism of a time series over the first point's seeds.
fn over_seeds(
    batch: &BatchResult,
    (hours, axis, unit): (&[f64], &str, &str),
    name: &str,
    pick: impl Fn(&crate::run::Series) -> Vec<f64>,
) -> String {
    let bands: Vec<Band> = batch
        .seed_series
        .iter()
        .map(|(m, seeds)| {
            let values: Vec<Vec<f64>> = seeds.iter().map(&pick).collect();
            Band::over(m, &values)
        })
        .collect();
    banded(name, axis, unit, hours, &bands)
}

/// The distinct values of sweep key `k`, in grid order.
fn values_of(batch: &BatchResult, k: usize) -> Vec<String> {
    let mut v: Vec<String> = Vec::new();
    for p in &batch.points {
        let x = &p.overrides[k].1;
        if !v.contains(x) {
            v.push(x.clone());
        }
    }
    v
}

/// Heatmaps over the first two sweep keys that take more than one value, one per mechanism and
/// metric, and one set per combination of the other varying keys.
fn sweep(out: &mut String, batch: &BatchResult, summary: &Summary) {
    let keys = &summary.sweep;
    if keys.is_empty() {
        return;
    }
    out.push_str("<h2>Sweep</h2>");
    let varying: Vec<usize> = (0..keys.len())
        .filter(|&k| values_of(batch, k).len() > 1)
        .collect();
    let Some(&kx) = varying.first() else {
        return;
    };
    let ky = varying.get(1).copied();
    let rest: Vec<usize> = varying.iter().skip(2).copied().collect();
    let xs = values_of(batch, kx);
    let ys = ky.map_or_else(|| vec![String::new()], |k| values_of(batch, k));
    let group_of = |p: &crate::batch::Point| -> Vec<(String, String)> {
        rest.iter().map(|&k| p.overrides[k].clone()).collect()
    };
    let mut groups: Vec<Vec<(String, String)>> = Vec::new();
    for p in &batch.points {
        if !groups.contains(&group_of(p)) {
            groups.push(group_of(p));
        }
    }
    for group in &groups {
        for mechanism in &summary.mechanisms {
            for metric in ["borrower_loss_usd", "bad_debt_usd", "protocol_revenue_usd"] {
                let lower = HEADLINE.iter().find(|h| h.0 == metric).is_none_or(|h| h.1);
                let cell = |x: &String, y: &String| {
                    let p = batch.points.iter().position(|p| {
                        p.overrides[kx].1 == *x
                            && ky.is_none_or(|k| p.overrides[k].1 == *y)
                            && group_of(p) == *group
                    })?;
                    summary.stat(p, mechanism, metric).map(|s| s.mean)
                };
                let grid: Vec<Vec<Option<f64>>> = ys
                    .iter()
                    .map(|y| xs.iter().map(|x| cell(x, y)).collect())
                    .collect();
                let suffix: Vec<String> = group.iter().map(|(k, v)| format!("{k}={v}")).collect();
                let name = format!(
                    "{mechanism}: {}{}",
                    title(metric),
                    if suffix.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", suffix.join(", "))
                    }
                );
                out.push_str(&heatmap(
                    &name,
                    (&keys[kx], &xs),
                    (ky.map_or("", |k| keys[k].as_str()), &ys),
                    &grid,
                    lower,
                ));
            }
        }
    }
    for p in batch.points.iter().filter(|p| p.skipped.is_some()) {
        let _ = write!(
            out,
            "<p class=\"error\">Skipped {}: {}</p>",
            escape(&p.label),
            escape(p.skipped.as_deref().unwrap_or_default())
        );
    }
}

fn all_metrics(out: &mut String, summary: &Summary) {
    out.push_str("<h2>Every metric</h2>");
    for (p, point) in summary.points.iter().enumerate() {
        if point.mechanisms.is_empty() {
            continue;
        }
        let _ = write!(
            out,
            "<details{}><summary>{}</summary><table><tr><th>metric</th>",
            if p == 0 { " open" } else { "" },
            escape(&point.point.label)
        );
        for m in &point.mechanisms {
            let _ = write!(
                out,
                "<th>{}<br><small>mean · p5 / p50 / p95</small></th>",
                escape(&m.mechanism)
            );
        }
        out.push_str("</tr>");
        let names: Vec<&String> = point.mechanisms[0].metrics.iter().map(|(n, _)| n).collect();
        for (k, name) in names.iter().enumerate() {
            let _ = write!(out, "<tr><td>{}</td>", title(name));
            for m in &point.mechanisms {
                let st = &m.metrics[k].1;
                let _ = write!(
                    out,
                    "<td>{}<br><small>{} / {} / {}</small></td>",
                    show(name, st.mean),
                    show(name, st.p5),
                    show(name, st.p50),
                    show(name, st.p95)
                );
            }
            out.push_str("</tr>");
        }
        out.push_str("</table></details>");
    }
}

/// `YYYY-MM-DD HH:MM UTC` of Unix seconds (the civil-from-days algorithm, integers only).
fn utc(t_s: u64) -> String {
    let days = i64::try_from(t_s / 86_400).unwrap_or(0);
    let rem = t_s % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        rem / 3_600,
        rem % 3_600 / 60
    )
}

#[cfg(test)]
mod tests {
    use super::utc;

    #[test]
    fn dates_for_axes() {
        assert_eq!(utc(0), "1970-01-01 00:00 UTC");
        // 2020-03-12 00:00 UTC, Black Thursday, and a leap day.
        assert_eq!(utc(1_583_971_200), "2020-03-12 00:00 UTC");
        assert_eq!(utc(1_582_934_400 + 5_400), "2020-02-29 01:30 UTC");
        assert_eq!(utc(1_760_054_400), "2025-10-10 00:00 UTC");
    }
}
