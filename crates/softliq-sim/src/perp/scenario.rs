//! A perp stress scenario (`kind = "perp"`): the crash window, the markets' parameters, the
//! trader population, the books and the insurance fund, and the mechanisms to compare.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use softliq_core::asset::AssetId;
use softliq_core::money::{Amount, Decimals, Price, Ratio, Value};
use softliq_core::perp::{FundingParams, MarginTier, MarkParams, PerpParams};

use crate::error::SimError;

/// The liquidation mechanisms compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PerpMechanism {
    /// The whole position into the book at once, bounded only by the bankruptcy price.
    HardClose,
    /// Chunks within the slippage tolerance, one per round, until equity ≥ target · IM.
    SoftUnwind,
    /// Straight to the backstop vault at the mark (Hyperliquid's backstop, used alone).
    BackstopVault,
    /// Soft chunks within the tolerance, and what the book could not absorb of the reduction
    /// the target needs moved to the vault at the mark in the same round (the rest of the
    /// position stays with the trader).
    SoftVault,
}

impl PerpMechanism {
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::HardClose => "hard_close",
            Self::SoftUnwind => "soft_unwind",
            Self::BackstopVault => "backstop_vault",
            Self::SoftVault => "soft_vault",
        }
    }
}

/// A lognormal draw: `median · e^(sigma · z)`, clipped to `[min, max]`.
#[derive(Clone, Copy, Debug, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct LogNormal {
    pub median: f64,
    pub sigma: f64,
    pub min: f64,
    pub max: f64,
}

#[derive(Clone, Debug, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Prices {
    /// `event,asset,market,timestamp,open,high,low,close` (the bundled crash-window file).
    pub file: PathBuf,
    pub event: String,
    /// Perp market name → series name in the file (`BTC-PERP = "btc_usdt"`).
    pub markets: BTreeMap<String, String>,
    /// For windows without perp bars (before 2024): per market, a `timestamp,close` file of the
    /// perp's hourly mark price; each bar's perp price is then the spot price moved by that
    /// hour's premium of the mark over the spot close. Empty: the window's `usdm_perp` bars.
    #[serde(default)]
    pub mark_files: BTreeMap<String, PathBuf>,
}

#[derive(Clone, Debug, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Population {
    pub traders: u32,
    /// Share of traders that are long.
    pub long_share: f64,
    /// Leverage at entry (capped at the market's maximum).
    pub leverage: LogNormal,
    /// Position notional at entry, USD.
    pub notional_usd: LogNormal,
}

#[derive(Clone, Debug, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Books {
    /// USD resting within 1% of the price on each side, per market, on a normal day.
    pub depth_usd_per_pct: BTreeMap<String, f64>,
    /// The real open interest that depth served: the simulated book is scaled by the
    /// population's open interest over this, so a population of 10⁴ traders meets the depth
    /// its share of the market would.
    pub reference_oi_usd: BTreeMap<String, f64>,
    /// Share of the normal depth present during the crash.
    pub stress_factor: f64,
    /// Steps for what liquidations took from the book to halve.
    pub recovery_half_life_steps: f64,
    /// Spacing of levels, basis points; and how many levels per side.
    pub level_bp: u32,
    pub levels: u32,
}

/// The market parameters every simulated perp market gets (exact decimals as strings).
#[derive(Clone, Debug, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Market {
    pub max_leverage: String,
    /// `[[notional_max or "", initial, maintenance], …]`.
    pub tiers: Vec<[String; 3]>,
    pub taker_fee: String,
    pub liquidation_fee: String,
    pub liquidator_share: String,
    pub funding_interval_steps: u32,
    pub interest_rate: String,
    pub premium_clamp: String,
    pub rate_cap: String,
    pub premium_max: String,
    pub smoothing: String,
    pub slippage_tolerance: String,
    pub chunk_notional_max_usd: String,
    pub unwind_target: String,
    pub backstop_line: String,
    pub empty_rounds_max: u32,
    /// `soft_unwind` closes the rest at once (a hard round) when an unwinding is not done after
    /// this many rounds; 0 never.
    #[serde(default)]
    pub escalate_after_rounds: u32,
}

/// A `{ min, max }` range.
#[derive(Clone, Copy, Debug, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Range {
    pub min: f64,
    pub max: f64,
}

#[derive(Clone, Debug, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct PerpCalibration {
    pub liquidated_share: Range,
}

/// A perp scenario as read from TOML.
#[derive(Clone, Debug, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct PerpScenario {
    pub kind: String,
    pub name: String,
    pub description: String,
    pub seeds: u32,
    pub mechanisms: Vec<PerpMechanism>,
    pub prices: Prices,
    pub population: Population,
    pub books: Books,
    pub market: Market,
    /// The insurance fund at the start, as a share of the population's open interest.
    pub insurance_share_of_oi: f64,
    /// The share of open interest the baseline (`hard_close`) must liquidate over the window,
    /// from the day's reported totals; checked in the summary.
    #[serde(default)]
    pub calibration: Option<PerpCalibration>,
    /// Liquidation passes per price step, the prices interpolated between the step's samples
    /// (the engine runs rounds far more often than the data samples prices).
    pub substeps: usize,
}

fn ratio(field: &str, text: &str) -> Result<Ratio, SimError> {
    Ratio::parse(field, text).map_err(|e| SimError::field("scenario", e.to_string()))
}

impl PerpScenario {
    /// Reads a scenario file; relative paths inside it are relative to the file.
    ///
    /// # Errors
    /// Unreadable or invalid file, with the field named.
    pub fn load(path: &Path) -> Result<Self, SimError> {
        Self::load_with(path, &[])
    }

    /// Reads a scenario file with `--set`-style overrides (dotted path, TOML value) applied
    /// before it is read into its types and validated.
    ///
    /// # Errors
    /// As [`PerpScenario::load`]; an override naming no field of the file.
    pub fn load_with(path: &Path, overrides: &[(String, toml::Value)]) -> Result<Self, SimError> {
        let text = std::fs::read_to_string(path).map_err(|e| SimError::in_file(path, "", e))?;
        let mut tree: toml::Table = text.parse().map_err(|e: toml::de::Error| {
            SimError::in_file(path, "", softliq_config::toml_error(&text, &e))
        })?;
        for (field, value) in overrides {
            crate::scenario::apply_override(&mut tree, field, value.clone())?;
        }
        let mut s: Self = serde_path_to_error::deserialize(toml::Value::Table(tree))
            .map_err(|e| SimError::in_file(path, e.path().to_string(), e.inner()))?;
        if let Some(dir) = path.parent() {
            s.prices.file = dir.join(&s.prices.file);
            for f in s.prices.mark_files.values_mut() {
                *f = dir.join(&*f);
            }
        }
        s.validate().map_err(|e| e.at_file(path))?;
        Ok(s)
    }

    fn validate(&self) -> Result<(), SimError> {
        let bad = |field: &str, bound: &str| Err(SimError::field(field, bound));
        if self.kind != "perp" {
            return bad("kind", "must be \"perp\"");
        }
        if self.substeps == 0 || self.substeps > 1_000 {
            return bad("substeps", "1..=1000");
        }
        if self.seeds == 0 {
            return bad("seeds", "at least 1");
        }
        if self.mechanisms.is_empty() {
            return bad("mechanisms", "at least one");
        }
        if self.population.traders == 0 || self.population.traders > 10_000_000 {
            return bad("population.traders", "1..=10,000,000");
        }
        if !(0.0..=1.0).contains(&self.population.long_share) {
            return bad("population.long_share", "0..=1");
        }
        for name in self.prices.markets.keys() {
            if !self.books.depth_usd_per_pct.contains_key(name)
                || !self.books.reference_oi_usd.contains_key(name)
            {
                return bad(
                    "books",
                    "depth_usd_per_pct and reference_oi_usd for every market",
                );
            }
        }
        if !(0.0..=1.0).contains(&self.books.stress_factor)
            || self.books.levels == 0
            || self.books.level_bp == 0
        {
            return bad("books", "stress_factor in 0..=1, levels > 0, level_bp > 0");
        }
        if self.market.funding_interval_steps == 0 {
            return bad("market.funding_interval_steps", "> 0");
        }
        self.params(AssetId(0))?
            .validate()
            .map_err(|e| SimError::field("scenario", format!("market.{e}")))?;
        Ok(())
    }

    /// The core parameters of one market indexed on `index_asset`.
    ///
    /// # Errors
    /// A ratio that does not parse.
    pub fn params(&self, index_asset: AssetId) -> Result<PerpParams, SimError> {
        let m = &self.market;
        let tiers = m
            .tiers
            .iter()
            .map(|[max, im, mm]| {
                Ok(MarginTier {
                    notional_max: if max.is_empty() {
                        None
                    } else {
                        Some(
                            Value::parse("market.tiers", max)
                                .map_err(|e| SimError::field("scenario", e.to_string()))?,
                        )
                    },
                    initial: ratio("market.tiers", im)?,
                    maintenance: ratio("market.tiers", mm)?,
                })
            })
            .collect::<Result<Vec<_>, SimError>>()?;
        Ok(PerpParams {
            index_asset,
            decimals: Decimals::new(8).unwrap_or(Decimals::new(0).expect("0 decimals")),
            tiers,
            max_leverage: ratio("market.max_leverage", &m.max_leverage)?,
            lot_size: Amount::from_raw(1),
            tick_size: Price::from_raw(1),
            taker_fee: ratio("market.taker_fee", &m.taker_fee)?,
            maker_fee: Ratio::ZERO,
            liquidation_fee: ratio("market.liquidation_fee", &m.liquidation_fee)?,
            liquidator_share: ratio("market.liquidator_share", &m.liquidator_share)?,
            funding: FundingParams {
                interval_s: 3_600,
                interest_rate: ratio("market.interest_rate", &m.interest_rate)?,
                premium_clamp: ratio("market.premium_clamp", &m.premium_clamp)?,
                rate_cap: ratio("market.rate_cap", &m.rate_cap)?,
            },
            mark: MarkParams {
                premium_max: ratio("market.premium_max", &m.premium_max)?,
                smoothing: ratio("market.smoothing", &m.smoothing)?,
            },
            slippage_tolerance: ratio("market.slippage_tolerance", &m.slippage_tolerance)?,
            chunk_notional_max: Value::parse(
                "market.chunk_notional_max_usd",
                &m.chunk_notional_max_usd,
            )
            .map_err(|e| SimError::field("scenario", e.to_string()))?,
            open_interest_cap: None,
            unwind_target: ratio("market.unwind_target", &m.unwind_target)?,
            backstop_line: ratio("market.backstop_line", &m.backstop_line)?,
            empty_rounds_max: m.empty_rounds_max,
        })
    }
}

/// One market's path: per step, the index (spot) and the perp's traded price.
#[derive(Clone, Debug)]
pub struct PerpPath {
    pub name: String,
    pub index: Vec<f64>,
    pub perp: Vec<f64>,
}

/// Reads the window of `event` for each market: each hourly bar becomes three steps, its two
/// extremes then its close, the extreme nearer the open first (a falling bar meets its high,
/// then its low). Index from the spot bars, the perp's price from the `usdm_perp` bars.
///
/// # Errors
/// An unreadable file, or a market without both spot and perp bars for the event.
pub fn load_paths(s: &PerpScenario) -> Result<Vec<PerpPath>, SimError> {
    let text = std::fs::read_to_string(&s.prices.file)
        .map_err(|e| SimError::field("scenario", format!("{}: {e}", s.prices.file.display())))?;
    let mut out = Vec::new();
    for (name, series) in &s.prices.markets {
        let bars = |market: &str| -> Vec<[f64; 4]> {
            text.lines()
                .skip(1)
                .filter_map(|l| {
                    let f: Vec<&str> = l.split(',').collect();
                    (f.len() == 8 && f[0] == s.prices.event && f[1] == series && f[2] == market)
                        .then(|| {
                            let n = |i: usize| f[i].parse::<f64>().unwrap_or(f64::NAN);
                            [n(4), n(5), n(6), n(7)]
                        })
                })
                .collect()
        };
        let spot = bars("spot");
        let perp = match s.prices.mark_files.get(name) {
            Some(file) => premium_bars(&spot, &times(&text, s, series), file)?,
            None => bars("usdm_perp"),
        };
        if spot.is_empty() || spot.len() != perp.len() {
            return Err(SimError::field(
                "prices",
                format!(
                    "{name} ({series}) needs spot and perp bars for {} (found {} and {}); windows before 2024 need mark_files",
                    s.prices.event,
                    spot.len(),
                    perp.len()
                ),
            ));
        }
        let steps = |bars: &[[f64; 4]]| -> Vec<f64> {
            bars.iter()
                .flat_map(|&[open, high, low, close]| {
                    if close < open {
                        [high, low, close]
                    } else {
                        [low, high, close]
                    }
                })
                .collect()
        };
        out.push(PerpPath {
            name: name.clone(),
            index: steps(&spot),
            perp: steps(&perp),
        });
    }
    Ok(out)
}

/// The bar timestamps of `series`' spot bars in the event's window.
fn times(text: &str, s: &PerpScenario, series: &str) -> Vec<u64> {
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f.len() == 8 && f[0] == s.prices.event && f[1] == series && f[2] == "spot")
                .then(|| f[3].parse().unwrap_or(0))
        })
        .collect()
}

/// Perp bars from spot bars and an hourly mark-price file: each bar moved by the premium
/// `mark_close / spot_close − 1` of its hour.
fn premium_bars(spot: &[[f64; 4]], times: &[u64], file: &Path) -> Result<Vec<[f64; 4]>, SimError> {
    let text = std::fs::read_to_string(file).map_err(|e| SimError::in_file(file, "", e))?;
    let marks: BTreeMap<u64, f64> = text
        .lines()
        .skip(1)
        .filter_map(|l| {
            let (t, c) = l.split_once(',')?;
            Some((t.parse().ok()?, c.parse().ok()?))
        })
        .collect();
    spot.iter()
        .zip(times)
        .map(|(bar, t)| {
            let mark = marks.get(t).ok_or_else(|| {
                SimError::in_file(file, "prices.mark_files", format!("no mark price at {t}"))
            })?;
            let k = mark / bar[3];
            Ok(bar.map(|x| x * k))
        })
        .collect()
}
