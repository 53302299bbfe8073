//! The metrics exposition shared by the server and a separate keeper: the keeper's metric
//! names, and the two text formats a scraper may ask for.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

use crate::KeeperStats;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ActionLabel {
    pub action: String,
}

/// Which exposition a scraper asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// `application/openmetrics-text; version=1.0.0` (what Prometheus asks for first).
    OpenMetrics,
    /// `text/plain; version=0.0.4`, the classic Prometheus text format (curl, older agents).
    PrometheusText,
}

impl Format {
    /// OpenMetrics when the `Accept` header names it, the classic text format otherwise.
    #[must_use]
    pub fn from_accept(accept: Option<&str>) -> Self {
        if accept.is_some_and(|a| a.contains("application/openmetrics-text")) {
            Self::OpenMetrics
        } else {
            Self::PrometheusText
        }
    }

    /// An OpenMetrics exposition in this format.
    #[must_use]
    pub fn body(self, openmetrics: String) -> String {
        match self {
            Self::OpenMetrics => openmetrics,
            Self::PrometheusText => to_prometheus_text(&openmetrics),
        }
    }

    #[must_use]
    pub const fn content_type(self) -> &'static str {
        match self {
            Self::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
            Self::PrometheusText => "text/plain; version=0.0.4; charset=utf-8",
        }
    }
}

/// The classic Prometheus text format of an OpenMetrics exposition: no `# EOF` or `# UNIT`
/// lines, and a counter's `# TYPE`/`# HELP` name its `_total` sample (in OpenMetrics they name
/// the family without the suffix).
#[must_use]
pub fn to_prometheus_text(openmetrics: &str) -> String {
    let mut out = String::with_capacity(openmetrics.len());
    let mut counters = std::collections::BTreeSet::new();
    for line in openmetrics.lines() {
        if let Some(name) = line
            .strip_prefix("# TYPE ")
            .and_then(|rest| rest.strip_suffix(" counter"))
        {
            counters.insert(name.to_owned());
        }
    }
    for line in openmetrics.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        let renamed = ["# TYPE ", "# HELP "].iter().find_map(|tag| {
            let rest = line.strip_prefix(tag)?;
            let (name, tail) = rest.split_once(' ')?;
            counters
                .contains(name)
                .then(|| format!("{tag}{name}_total {tail}"))
        });
        out.push_str(renamed.as_deref().unwrap_or(line));
        out.push('\n');
    }
    out
}

/// The keeper's counters: `softliq_keeper_actions_total{action}` for what it did, and its
/// failures and stale-price waits on their own (what an operator alerts on).
pub fn register_keeper(r: &mut Registry, k: &KeeperStats) {
    let counter = |v: u64| {
        let c: Counter = Counter::default();
        c.inc_by(v);
        c
    };
    let actions: Family<ActionLabel, Counter> = Family::default();
    for (action, n) in [
        ("liquidation", k.liquidations),
        ("absorb", k.absorbs),
        ("auction_start", k.auctions_started),
        ("auction_take", k.takes),
        ("auction_reset", k.resets),
        ("perp_step", k.perp_steps),
        ("perp_takeover", k.perp_takeovers),
        ("perp_unwind", k.perp_unwinds),
    ] {
        let action = action.to_owned();
        actions.get_or_create(&ActionLabel { action }).inc_by(n);
    }
    r.register(
        "keeper_actions",
        "What the keeper had accepted, by action",
        actions,
    );
    r.register(
        "keeper_skipped",
        "Candidates the keeper passed over (unprofitable after costs)",
        counter(k.skipped),
    );
    r.register(
        "keeper_failures",
        "Keeper calls that failed (refused for another reason than a stale price, or unreachable)",
        counter(k.failed),
    );
    r.register(
        "keeper_stale_waits",
        "Keeper calls not made or refused because a price was stale",
        counter(k.stale_waits),
    );
}

/// The keeper's metrics alone, for `softliq keeper --metrics-listen` (OpenMetrics text).
#[must_use]
pub fn render_keeper(k: &KeeperStats) -> String {
    let mut r = Registry::with_prefix("softliq");
    register_keeper(&mut r, k);
    let mut out = String::new();
    let _ = encode(&mut out, &r);
    out
}

#[cfg(test)]
mod format_tests {
    use super::*;

    #[test]
    fn the_classic_format_names_counters_by_their_sample_and_has_no_eof() {
        let om = "# HELP softliq_commands Durable commands by kind.\n# TYPE softliq_commands counter\nsoftliq_commands_total{kind=\"deposit\"} 3\n# HELP softliq_x_seconds X.\n# TYPE softliq_x_seconds histogram\n# UNIT softliq_x_seconds seconds\nsoftliq_x_seconds_count 1\n# EOF\n";
        let text = to_prometheus_text(om);
        assert_eq!(
            text,
            "# HELP softliq_commands_total Durable commands by kind.\n# TYPE softliq_commands_total counter\nsoftliq_commands_total{kind=\"deposit\"} 3\n# HELP softliq_x_seconds X.\n# TYPE softliq_x_seconds histogram\nsoftliq_x_seconds_count 1\n"
        );
        assert_eq!(Format::from_accept(None), Format::PrometheusText);
        assert_eq!(
            Format::from_accept(Some(
                "application/openmetrics-text;version=1.0.0,text/plain;q=0.5"
            )),
            Format::OpenMetrics
        );
    }
}
