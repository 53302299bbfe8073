//! softliq-sim: the stress simulator.
//!
//! Every liquidation mechanism on the same price paths and borrower populations, liquidating
//! through the same `softliq-core` code the engine runs, with liquidators selling into a market
//! of finite depth whose pushed price the oracle sees next (cascades). Layers:
//!
//! - [`scenario`]: TOML scenarios, `extends`, overrides, validation, mechanisms → policies;
//! - [`paths`]: historical and synthetic price paths, and fitting their parameters;
//! - [`population`]: the seeded borrower population and the lender;
//! - [`ledger`]: the exact state of a run and its reconciliation;
//! - [`screen`]: the float mirror that makes a per-step scan of 100,000 accounts cheap;
//! - [`venue`]: market depth, execution prices and recovery;
//! - [`run`]: one mechanism over one seed, step by step;
//! - [`perp`]: perpetual-market crash runs (hard close, soft unwinding, backstop vault);
//! - [`batch`]: seeds × mechanisms × sweep points in parallel, deterministically;
//! - [`stats`]: means, percentiles and confidence intervals over seeds;
//! - [`report`]: `summary.json`, `runs.csv` and the self-contained `report.html`.
#![forbid(unsafe_code)]
// A cast that can truncate, wrap or lose a sign is a conversion with a reason: checked
// (`try_from`) or allowed where it stands with the reason. Tests are exempt.
#![cfg_attr(
    not(test),
    warn(
        clippy::cast_possible_truncation,
        clippy::cast_possible_wrap,
        clippy::cast_sign_loss
    )
)]

pub mod batch;
pub mod error;
pub mod ledger;
pub mod metrics;
pub mod paths;
pub mod perp;
pub mod population;
pub mod report;
pub mod run;
pub mod scenario;
pub mod screen;
pub mod stats;
pub mod venue;

pub use error::{Result, SimError};
