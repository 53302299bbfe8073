//! Historical paths from the bundled Binance data.
//!
//! - Crash windows (`event,asset,market,timestamp,open,high,low,close`): one window's bars of
//!   the chosen market. With `trigger = "close"` a bar is one step at its close; with
//!   `trigger = "low"` it is two steps, the low at mid-bar and then the close, so intra-hour
//!   wicks reach the oracle. Lows of different assets are taken as simultaneous — the stress
//!   reading of a bar, since the data does not say when within the hour each low came.
//! - Close files (`timestamp,close`): closes between two times, at the files' resolution.
//!
//! Only timestamps present for every asset of the path are kept (the data leaves missing hours
//! out rather than filling them).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use softliq_config::Markets;

use super::PricePath;
use crate::error::{Result, SimError};
use crate::scenario::Trigger;

/// Which bars of a window file make the path.
pub(super) struct WindowSelect<'a> {
    pub event: &'a str,
    pub market: &'a str,
    /// Asset symbol → series name in the file.
    pub series: &'a BTreeMap<String, String>,
    pub trigger: Trigger,
    pub step_s: u64,
}

/// One bar: (timestamp, low, close).
type Bar = (u64, f64, f64);

fn read(file: &Path) -> Result<String> {
    std::fs::read_to_string(file)
        .map_err(|e| SimError::in_file(file, "", format!("cannot read: {e}")))
}

fn number<T: std::str::FromStr>(file: &Path, line: usize, column: &str, text: &str) -> Result<T> {
    text.trim().parse().map_err(|_| {
        SimError::in_file(
            file,
            format!("line {line}.{column}"),
            format!("not a number: {text:?}"),
        )
    })
}

fn positive(file: &Path, line: usize, column: &str, text: &str) -> Result<f64> {
    let v: f64 = number(file, line, column, text)?;
    if v.is_finite() && v > 0.0 {
        Ok(v)
    } else {
        Err(SimError::in_file(
            file,
            format!("line {line}.{column}"),
            format!("a price must be positive, got {text:?}"),
        ))
    }
}

pub(super) fn window(markets: &Markets, file: &Path, select: &WindowSelect) -> Result<PricePath> {
    let text = read(file)?;
    let mut bars: BTreeMap<&str, Vec<Bar>> = BTreeMap::new();
    for (i, line) in text.lines().enumerate().skip(1) {
        let cols: Vec<&str> = line.split(',').collect();
        if cols.len() != 8 {
            return Err(SimError::in_file(
                file,
                format!("line {}", i + 1),
                "expected 8 columns: event,asset,market,timestamp,open,high,low,close",
            ));
        }
        if cols[0] != select.event || cols[2] != select.market {
            continue;
        }
        let ts = number(file, i + 1, "timestamp", cols[3])?;
        let low = positive(file, i + 1, "low", cols[6])?;
        let close = positive(file, i + 1, "close", cols[7])?;
        bars.entry(cols[1]).or_default().push((ts, low, close));
    }
    let mut per_asset = Vec::new();
    for (symbol, name) in select.series {
        let found = bars.remove(name.as_str()).ok_or_else(|| {
            SimError::in_file(
                file,
                format!("prices.series.{symbol}"),
                format!(
                    "no bars of {name:?} for event {:?} on market {:?}",
                    select.event, select.market
                ),
            )
        })?;
        per_asset.push((asset_index(markets, symbol)?, found));
    }
    let common = common_times(per_asset.iter().map(|(_, b)| b.as_slice()));
    let half = select.step_s / 2;
    let times: Vec<u64> = match select.trigger {
        Trigger::Close => common.iter().map(|t| t + select.step_s).collect(),
        Trigger::Low => common
            .iter()
            .flat_map(|t| [t + half, t + select.step_s])
            .collect(),
    };
    let mut path = PricePath::flat(markets, times);
    for (asset, series) in &per_asset {
        let mut step = 0;
        for &(_, low, close) in series.iter().filter(|b| common.contains(&b.0)) {
            if select.trigger == Trigger::Low {
                path.prices[step * path.assets + asset] = low;
                step += 1;
            }
            path.prices[step * path.assets + asset] = close;
            step += 1;
        }
    }
    Ok(path)
}

pub(super) fn closes(
    markets: &Markets,
    files: &BTreeMap<String, String>,
    (from_s, to_s): (u64, u64),
) -> Result<PricePath> {
    let mut per_asset = Vec::new();
    for (symbol, name) in files {
        let series = super::load_closes(Path::new(name), (from_s, to_s))?;
        let bars: Vec<Bar> = series.into_iter().map(|(t, c)| (t, c, c)).collect();
        per_asset.push((asset_index(markets, symbol)?, bars));
    }
    let common = common_times(per_asset.iter().map(|(_, b)| b.as_slice()));
    let mut path = PricePath::flat(markets, common.iter().copied().collect());
    for (asset, series) in &per_asset {
        for (step, &(_, _, close)) in series.iter().filter(|b| common.contains(&b.0)).enumerate() {
            path.prices[step * path.assets + asset] = close;
        }
    }
    Ok(path)
}

/// Reads a `timestamp,close` file, keeping `from_s <= timestamp < to_s`, sorted.
pub(super) fn read_closes(file: &Path, (from_s, to_s): (u64, u64)) -> Result<Vec<(u64, f64)>> {
    let text = read(file)?;
    let mut rows = Vec::new();
    for (i, line) in text.lines().enumerate().skip(1) {
        let Some((ts, close)) = line.split_once(',') else {
            return Err(SimError::in_file(
                file,
                format!("line {}", i + 1),
                "expected 2 columns: timestamp,close",
            ));
        };
        let ts: u64 = number(file, i + 1, "timestamp", ts)?;
        if (from_s..to_s).contains(&ts) {
            rows.push((ts, positive(file, i + 1, "close", close)?));
        }
    }
    rows.sort_by_key(|r| r.0);
    rows.dedup_by_key(|r| r.0);
    if rows.is_empty() {
        return Err(SimError::in_file(
            file,
            "prices.from_s",
            format!("no rows between {from_s} and {to_s}"),
        ));
    }
    Ok(rows)
}

fn asset_index(markets: &Markets, symbol: &str) -> Result<usize> {
    markets
        .id(symbol)
        .map(|id| id.index())
        .ok_or_else(|| SimError::field("prices", format!("unknown asset {symbol:?}")))
}

/// The timestamps every series has.
fn common_times<'a>(mut series: impl Iterator<Item = &'a [Bar]>) -> BTreeSet<u64> {
    let Some(first) = series.next() else {
        return BTreeSet::new();
    };
    let mut common: BTreeSet<u64> = first.iter().map(|b| b.0).collect();
    for s in series {
        let times: BTreeSet<u64> = s.iter().map(|b| b.0).collect();
        common = common.intersection(&times).copied().collect();
    }
    common
}
