//! The lending reads: markets, accounts, the at-risk board and its totals, quotes, the
//! protocol's funds, status and activity.

use serde::{Deserialize, Serialize};
use softliq_core::liquidation::{Policy, Quote};
use softliq_engine::PriceSource;
use utoipa::ToSchema;

use crate::report::{AccountReport, LiquidationPriceRow};

/// One listed asset: its price, pool and parameters.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct MarketView {
    pub asset: u16,
    pub symbol: String,
    pub decimals: u8,
    /// `null` until a price is accepted.
    pub price: Option<String>,
    pub price_published_s: u64,
    pub price_stale: bool,
    /// Until when liquidations on the asset wait for a confirming price, if the breaker is open.
    pub breaker_open_until_s: Option<u64>,
    /// Whole tokens, projected to the engine's time.
    pub supplied: String,
    pub borrowed: String,
    pub utilisation: String,
    /// Yearly rates.
    pub borrow_rate: String,
    pub supply_rate: String,
    pub collateral_factor: String,
    pub liquidation_threshold: String,
    pub liquidation_penalty: String,
    pub liquidation_discount: String,
    /// Most tokens that may be supplied / borrowed; `null`: no cap.
    pub supply_cap: Option<String>,
    pub borrow_cap: Option<String>,
    /// USD values of `supplied` and `borrowed` at `price` (display figures); `null` unpriced.
    pub supplied_value: Option<String>,
    pub borrowed_value: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct MarketsView {
    pub seq: u64,
    pub now_s: u64,
    pub policy: String,
    #[schema(value_type = Object)]
    pub policy_params: Policy,
    #[schema(value_type = Object)]
    pub liquidation_price: PriceSource,
    pub markets: Vec<MarketView>,
}

/// One account.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct AccountView {
    pub account: u64,
    pub owner: String,
    /// Whether detection has reported it liquidatable (at the market's liquidation prices).
    pub flagged: bool,
    /// At spot prices.
    pub report: AccountReport,
    /// Aave v3.6's account data at spot prices, in a market under the `aave_v3` profile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aave_v3: Option<crate::report::AaveAccountData>,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct AtRiskRow {
    #[serde(flatten)]
    pub row: RiskRow,
    pub nearest_liquidation_price: Option<LiquidationPriceRow>,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct AtRiskView {
    /// The sequence number the accounts listed were read at: the board's (rebuilt at most
    /// every refresh interval), or with `liquidatable=true` the request's own (that list comes
    /// from the engine's flagged set). `total`, `histogram` and `totals` are the board's.
    pub seq: u64,
    /// Accounts with debt in all.
    pub total: usize,
    /// How those accounts' health factors are distributed.
    pub histogram: Vec<HfBucket>,
    /// The whole book's debt, collateral, liquidatable and insolvent figures.
    pub totals: Totals,
    pub accounts: Vec<AtRiskRow>,
    /// Pass as `after` for the next page; `null` on the last.
    pub next: Option<String>,
}

/// The book's risk at a glance: totals, the HF histogram, and how much debt each asset's fall
/// would make liquidatable.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct RiskView {
    pub seq: u64,
    pub totals: Totals,
    pub histogram: Vec<HfBucket>,
    /// The falls of `price_drops`, percent.
    pub drops_pct: Vec<u32>,
    pub price_drops: Vec<PriceDrops>,
}

/// The body to `POST /v1/liquidations` for a quoted call.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct SuggestedCall {
    pub borrower: u64,
    pub debt_asset: u16,
    pub collateral_asset: u16,
    pub max_repay: String,
    pub min_collateral_out: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct QuoteView {
    /// The state the quote was priced on (a keeper keys its retries on it).
    pub seq: u64,
    pub borrower: u64,
    pub policy: String,
    pub debt_symbol: String,
    pub collateral_symbol: String,
    /// Whole tokens.
    pub repaid: String,
    pub seized: String,
    pub to_liquidator: String,
    pub to_treasury: String,
    /// USD: what the liquidator receives minus what it repays, before its own costs.
    pub liquidator_gross_profit: String,
    /// Whether a breaker on either asset makes the call wait.
    pub breaker_open: bool,
    /// Whether either asset's price is older than its `max_staleness_s` at the engine's time
    /// now: a call submitted now would be refused until a fresh price arrives.
    pub price_stale: bool,
    pub call: SuggestedCall,
    /// Every figure, exact (amounts in base units).
    #[schema(value_type = Object)]
    pub quote: Quote,
}

/// Per asset: socialised bad debt and the token flows.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct AssetFunds {
    pub symbol: String,
    /// Whole tokens written off against suppliers.
    pub bad_debt: String,
    pub tokens_in: String,
    pub tokens_out: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct ProtocolView {
    pub treasury: AccountReport,
    pub insurance: AccountReport,
    pub assets: Vec<AssetFunds>,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct StatusView {
    pub seq: u64,
    pub durable_seq: u64,
    pub now_s: u64,
    pub accounts: usize,
    pub flagged: usize,
    pub halted: Option<String>,
    /// BLAKE3 of the canonical state encoding (equal to `softliq replay`'s).
    pub state_hash: String,
    /// Where the log lives: `sqlite` or `jetstream`.
    pub store: String,
    /// `writer` (takes commands) or `follower` (applies the log another node writes; commands
    /// are answered 503).
    pub role: String,
    /// This node's place in a cluster (JetStream store only).
    pub cluster: Option<ClusterView>,
}

/// A cluster member's view of the replicated log.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct ClusterView {
    /// The JetStream stream holding the log.
    pub stream: String,
    /// This node's name.
    pub node: String,
    /// Log messages after the last one this node applied, when it last read one (a
    /// follower's lag; each message is one group-commit batch).
    pub lag_messages: u64,
    /// Times this node became the writer.
    pub promotions: u64,
    /// How long the last promotion took, from taking the lease to fencing the log, in ms.
    pub promotion_ms: u64,
    /// Why this node left the cluster (a lost lease, a fenced write, a log it cannot
    /// follow), once it has: the server then stops.
    pub failure: Option<String>,
}

/// One account on the board.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct RiskRow {
    pub account: u64,
    pub owner: String,
    /// `null` when the account cannot be valued (a held asset without a price).
    pub health_factor: Option<String>,
    pub liquidatable: bool,
    pub debt_value: String,
    pub collateral_value: String,
    /// Collateral worth less than the debt: no liquidation can make the account whole, and a
    /// keeper gains nothing from it; the shortfall is what the protocol stands to lose.
    pub insolvent: bool,
    /// `debt_value − collateral_value` when insolvent (USD), else `null`.
    pub shortfall_value: Option<String>,
}

/// The whole book's figures, USD at the liquidation prices.
#[derive(Clone, Debug, Default, Serialize, Deserialize, ToSchema)]
pub struct Totals {
    pub accounts: usize,
    pub debt_value: String,
    pub collateral_value: String,
    pub liquidatable_accounts: usize,
    /// Debt of the accounts liquidatable now.
    pub liquidatable_debt_value: String,
    /// Debt of the accounts with HF below 1.05 (liquidatable ones included).
    pub near_debt_value: String,
    pub insolvent_accounts: usize,
    /// Σ (debt − collateral) over insolvent accounts: the bad debt standing if they closed now.
    pub shortfall_value: String,
}

/// How much debt becomes liquidatable if one asset's price falls by each of [`DROPS_PCT`],
/// every other price held (from each healthy account's exact liquidation price).
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct PriceDrops {
    pub asset: String,
    pub price: Option<String>,
    /// Per drop in [`DROPS_PCT`]: accounts newly liquidatable and their debt (USD, now).
    pub accounts: Vec<usize>,
    pub debt_value: Vec<String>,
}

/// Accounts whose HF is below `upper` (and at or above the previous bucket's).
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct HfBucket {
    pub label: String,
    /// `null` for the last, open bucket.
    pub upper: Option<String>,
    pub count: usize,
}

/// The falls the price-drop table shows, percent.
pub const DROPS_PCT: [u32; 4] = [5, 10, 20, 30];

/// What happened in a span of engine time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Tally {
    pub liquidations: u64,
    pub perp_steps: u64,
    pub repaid_usd: f64,
    pub borrower_loss_usd: f64,
    /// Lending debt written off against suppliers plus perp losses past insurance and ADL.
    pub bad_debt_usd: f64,
}

impl Tally {
    /// Adds another tally to this one.
    pub fn add(&mut self, o: &Self) {
        self.liquidations += o.liquidations;
        self.perp_steps += o.perp_steps;
        self.repaid_usd += o.repaid_usd;
        self.borrower_loss_usd += o.borrower_loss_usd;
        self.bad_debt_usd += o.bad_debt_usd;
    }

    /// Nothing happened.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// A span of the series.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct Span {
    pub start_s: u64,
    #[serde(flatten)]
    pub tally: Tally,
}

/// The answer of `GET /v1/activity`.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct ActivityView {
    /// Everything since the log began (while `complete` is false, the log written before this
    /// start is still being counted).
    pub totals: Tally,
    pub complete: bool,
    /// Engine seconds per span.
    pub span_s: u64,
    pub series: Vec<Span>,
}
