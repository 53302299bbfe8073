//! Scenarios: what to simulate, read from TOML (see `docs/simulator.md` for every field).
//!
//! A scenario names a market (assets and their risk parameters), a price path, the depth of
//! the market liquidators sell into, a borrower population, the liquidators, the mechanisms to
//! compare, and optionally a sweep grid. `load.rs` reads a file (following `extends`), applies
//! overrides, and validates everything before a run starts; `mechanism.rs` turns mechanism
//! names and their parameters into core policies.

mod load;
mod mechanism;
mod validate;

pub use validate::{BORROWERS_MAX, SEEDS_MAX, STEPS_MAX};

pub use load::{Loaded, apply_override, load, parse, parse_set};
pub use mechanism::{BandsSpec, Mechanism, mechanism};

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A whole scenario, as written (after `extends` and overrides are applied).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Another scenario file this one starts from (merged table by table, this file winning).
    #[serde(default, skip_serializing)]
    pub extends: Option<String>,
    /// The first seed; seed `k` of a batch is `seed + k`.
    #[serde(default = "defaults::seed")]
    pub seed: u64,
    /// How many seeds a batch runs (the command line's `--seeds` overrides it).
    #[serde(default = "defaults::seeds")]
    pub seeds: u32,
    /// The preset in force: its table in `presets` is merged over the rest of the scenario
    /// (`--set preset=ideal` or a sweep over `preset` switches it).
    #[serde(default)]
    pub preset: Option<String>,
    /// Named sets of settings (`[presets.ideal.depth] oracle_weight = 1`).
    #[serde(default, skip_serializing)]
    pub presets: BTreeMap<String, toml::Table>,
    pub markets: MarketsSpec,
    pub prices: PriceSpec,
    #[serde(default)]
    pub depth: DepthSpec,
    pub population: PopulationSpec,
    #[serde(default)]
    pub liquidators: LiquidatorSpec,
    /// Mechanism names in report order (`full`, `close_factor`, `soft`, `restore`,
    /// `two_stage`).
    pub mechanisms: Vec<String>,
    /// Per-mechanism parameter overrides: `[mechanism.soft] max_fraction = "20%"`.
    #[serde(default)]
    pub mechanism: BTreeMap<String, toml::Table>,
    /// A grid: dotted path → values (`"mechanism.soft.max_fraction" = ["10%", "20%"]`).
    #[serde(default)]
    pub sweep: BTreeMap<String, Vec<toml::Value>>,
    /// What lending protocols reported for the event the scenario replays, which its
    /// population is calibrated to (docs/simulator.md, *Calibration*).
    #[serde(default)]
    pub calibration: Option<CalibrationSpec>,
}

/// A reported outcome a scenario should reproduce.
#[derive(Clone, Copy, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CalibrationSpec {
    /// The range of debt liquidated as a share of debt (`full`'s `liquidated_share_of_debt`).
    pub liquidated_share: Range,
}

/// A closed range of a fraction.
#[derive(Clone, Copy, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Range {
    pub min: f64,
    pub max: f64,
}

impl Range {
    #[must_use]
    pub fn contains(&self, value: f64) -> bool {
        (self.min..=self.max).contains(&value)
    }
}

/// The market: a markets file (relative to the scenario) or inline `[[markets.assets]]`
/// tables in the format of `markets.toml`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MarketsSpec {
    #[serde(default)]
    pub file: Option<String>,
    #[serde(default)]
    pub assets: Vec<toml::Table>,
    /// Seconds between steps (one hourly bar: 3,600).
    #[serde(default = "defaults::step_s")]
    pub step_s: u64,
    /// USD: no call may leave less debt than this (the policies' `dust_value`).
    #[serde(default = "defaults::dust_usd")]
    pub dust_usd: f64,
    /// Share of the protocol's part of each penalty paid into the insurance fund.
    #[serde(default)]
    pub insurance_share: f64,
}

/// Where prices come from. Assets not on the path (stablecoins) stay at 1 USD.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(tag = "model", rename_all = "snake_case", deny_unknown_fields)]
pub enum PriceSpec {
    /// One crash window of the bundled hourly OHLC file.
    Window {
        file: String,
        event: String,
        #[serde(default = "defaults::market")]
        market: String,
        /// Asset symbol → series name in the file (`WETH = "eth_usdt"`).
        series: BTreeMap<String, String>,
        #[serde(default)]
        trigger: Trigger,
    },
    /// Closes (`timestamp,close` files, hourly or by the minute), one file per asset, between
    /// two times; every timestamp all files share is a step.
    Closes {
        files: BTreeMap<String, String>,
        /// Unix seconds, inclusive.
        from_s: u64,
        /// Unix seconds, exclusive.
        to_s: u64,
    },
    /// Synthetic paths (GBM, Merton jump-diffusion, GARCH(1,1)), correlated across assets.
    Synthetic(SyntheticSpec),
}

/// Which price of each historical bar the oracle sees.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// One step per bar at its close.
    #[default]
    Close,
    /// Two steps per bar: its low, then its close (so intra-bar wicks trigger liquidations).
    Low,
}

/// A synthetic path's model and parameters; vectors follow the order of `assets`. Yearly
/// figures are converted to the step with `step_s`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SyntheticSpec {
    pub process: Process,
    pub steps: u32,
    pub assets: Vec<String>,
    pub start: Vec<f64>,
    /// Yearly drift of the log price.
    #[serde(default)]
    pub drift: Vec<f64>,
    /// Yearly volatility (GARCH: its long-run level).
    pub volatility: Vec<f64>,
    /// Correlation matrix of the assets' shocks (identity when absent).
    #[serde(default)]
    pub correlation: Vec<Vec<f64>>,
    /// Merton: jumps per year, and the mean and deviation of a jump's log size.
    #[serde(default)]
    pub jump_intensity: f64,
    #[serde(default)]
    pub jump_mean: f64,
    #[serde(default)]
    pub jump_sd: f64,
    /// GARCH(1,1): `σ²ₜ = ω + α·ε²ₜ₋₁ + β·σ²ₜ₋₁`, with ω set by the long-run volatility.
    #[serde(default)]
    pub garch_alpha: f64,
    #[serde(default)]
    pub garch_beta: f64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Process {
    Gbm,
    Merton,
    Garch,
}

/// The market liquidators sell seized collateral into.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DepthSpec {
    #[serde(default)]
    pub model: DepthModel,
    /// Book: USD of sales that push the price down 1%, per asset. Pool: USD reserve per asset.
    #[serde(default)]
    pub usd: BTreeMap<String, f64>,
    /// Steps for half of the price impact to recover toward the external price.
    #[serde(default = "defaults::half_life")]
    pub recovery_half_life_steps: f64,
    /// Whether the oracle sees the pushed price (cascades) or the external one.
    #[serde(default = "defaults::yes")]
    pub feedback: bool,
    /// The simulated venue's weight in the oracle's index: the oracle reports
    /// `P · (1 − oracle_weight · impact)`. 1 (the default) is an oracle that reads only the
    /// venue liquidators sell into; an index over many venues gives it its share.
    #[serde(default = "defaults::one")]
    pub oracle_weight: f64,
    /// USD of lending debt whose liquidations a market of depth `usd` served. When positive,
    /// each depth is scaled by the population's starting debt over this figure: a population
    /// that stands for a share of the lending book meets that share of the market's depth, so
    /// the impact of its sales does not depend on how many borrowers are simulated. 0 (the
    /// default) takes `usd` as written.
    #[serde(default)]
    pub reference_debt_usd: f64,
    /// The depth left in a stressed step (`liquidators.stress_move`), as a share of `usd`:
    /// market makers widen or pull their quotes in a crash. 1 (the default) keeps it.
    #[serde(default = "defaults::one")]
    pub stress_factor: f64,
    /// Steps for half of the depth a stressed step removed to return.
    #[serde(default = "defaults::depth_recovery")]
    pub stress_recovery_half_life_steps: f64,
}

impl Default for DepthSpec {
    fn default() -> Self {
        Self {
            model: DepthModel::Infinite,
            usd: BTreeMap::new(),
            recovery_half_life_steps: defaults::half_life(),
            feedback: true,
            oracle_weight: 1.0,
            reference_debt_usd: 0.0,
            stress_factor: 1.0,
            stress_recovery_half_life_steps: defaults::depth_recovery(),
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DepthModel {
    /// Sales execute at the external price and move nothing.
    #[default]
    Infinite,
    /// An order book with linear depth: selling `q` USD moves the price by `q / usd` percent.
    Book,
    /// A constant-product pool with `usd` of reserve at the external price.
    Pool,
}

/// The borrowers.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PopulationSpec {
    pub borrowers: u32,
    /// The asset everyone borrows.
    pub debt: String,
    /// Collateral asset → weight in the mix.
    pub collateral: BTreeMap<String, f64>,
    /// Share of borrowers holding two collateral assets (split evenly by value).
    #[serde(default)]
    pub two_collateral_share: f64,
    pub start_hf: StartHf,
    pub size: SizeSpec,
    /// Share of borrowers who act when their HF falls below `buffer_hf`.
    #[serde(default)]
    pub responsive_share: f64,
    #[serde(default = "defaults::buffer_hf")]
    pub buffer_hf: f64,
    /// Steps between falling below the buffer and acting.
    #[serde(default = "defaults::delay")]
    pub response_delay_steps: u32,
    #[serde(default)]
    pub response: Response,
    /// HF a response brings the account back to.
    #[serde(default = "defaults::target_hf")]
    pub response_target_hf: f64,
    /// Utilisation of the debt asset's pool at the start (the lender supplies the rest).
    #[serde(default = "defaults::utilisation")]
    pub utilisation: f64,
}

/// Starting health factors: a shifted log-normal, `min + (median − min) · e^{σZ}`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StartHf {
    pub min: f64,
    pub median: f64,
    pub sigma: f64,
}

/// Position sizes: collateral value in USD, Pareto with tail index `alpha` from `min_usd`,
/// cut at `max_usd`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SizeSpec {
    pub alpha: f64,
    pub min_usd: f64,
    pub max_usd: f64,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Response {
    /// Deposit more of the largest collateral.
    #[default]
    TopUp,
    /// Repay debt from outside funds.
    Repay,
}

/// The liquidators: identical bots sharing the work.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LiquidatorSpec {
    #[serde(default = "defaults::liquidators")]
    pub count: u32,
    /// Steps between an account becoming liquidatable and the first call on it.
    #[serde(default)]
    pub latency_steps: u32,
    /// With a value above `latency_steps`, each account's latency is drawn once, uniformly
    /// between `latency_steps` and this (keepers notice accounts at different speeds); 0 (the
    /// default) keeps every account at `latency_steps`.
    #[serde(default)]
    pub latency_max_steps: u32,
    /// USD per call (gas, fees).
    #[serde(default)]
    pub cost_usd: f64,
    /// Calls expected to earn less than this after costs and slippage are not made.
    #[serde(default)]
    pub min_profit_usd: f64,
    /// USD each can repay in one step (proceeds of sales come back within the step).
    #[serde(default = "defaults::capital")]
    pub capital_usd: f64,
    /// Calls each can make in one step.
    #[serde(default = "defaults::calls")]
    pub calls_per_step: u32,
    /// Whether a liquidator shrinks a call that does not pay at full size (by halving) rather
    /// than skipping it.
    #[serde(default)]
    pub partial_fill: bool,
    /// Share of the liquidators absent in a stressed step (the external price of some asset
    /// moved at least `stress_move` since the previous step): bots down, RPCs congested.
    #[serde(default)]
    pub absent_share: f64,
    /// The per-call cost rises with the step's largest price move: `cost_usd · (1 +
    /// cost_per_move · move)`, `move` a fraction (gas follows volatility).
    #[serde(default)]
    pub cost_per_move: f64,
    /// The move (a fraction) from which a step counts as stressed.
    #[serde(default = "defaults::stress_move")]
    pub stress_move: f64,
    /// Bots differ in cost: bot `k` of `n` pays `1 + cost_spread · k / (n − 1)` times the
    /// step's cost per call. With a spread above 0 every bot with calls and capital left
    /// competes for each call and the one that can take it first wins (the earliest second
    /// it pays under a ramp, else the cheapest it pays); at 0 (the default) they take turns.
    #[serde(default)]
    pub cost_spread: f64,
}

impl Default for LiquidatorSpec {
    fn default() -> Self {
        Self {
            count: defaults::liquidators(),
            latency_steps: 0,
            latency_max_steps: 0,
            cost_usd: 0.0,
            min_profit_usd: 0.0,
            capital_usd: defaults::capital(),
            calls_per_step: defaults::calls(),
            partial_fill: false,
            absent_share: 0.0,
            cost_per_move: 0.0,
            stress_move: defaults::stress_move(),
            cost_spread: 0.0,
        }
    }
}

mod defaults {
    pub const fn seed() -> u64 {
        1
    }
    pub const fn seeds() -> u32 {
        4
    }
    pub const fn step_s() -> u64 {
        3_600
    }
    pub const fn dust_usd() -> f64 {
        10.0
    }
    pub fn market() -> String {
        "spot".to_owned()
    }
    pub const fn half_life() -> f64 {
        3.0
    }
    pub const fn yes() -> bool {
        true
    }
    pub const fn one() -> f64 {
        1.0
    }
    pub const fn stress_move() -> f64 {
        0.05
    }
    pub const fn depth_recovery() -> f64 {
        24.0
    }
    pub const fn buffer_hf() -> f64 {
        1.15
    }
    pub const fn delay() -> u32 {
        2
    }
    pub const fn target_hf() -> f64 {
        1.5
    }
    pub const fn utilisation() -> f64 {
        0.8
    }
    pub const fn liquidators() -> u32 {
        3
    }
    pub const fn capital() -> f64 {
        1e12
    }
    pub const fn calls() -> u32 {
        1_000_000
    }
}
