//! softliq-api: what the server (`softliq-server`) and its clients (`softliq-keeper`, the CLI)
//! share without either linking the other:
//!
//! - [`report`]: one account's health as people read it (`GET /v1/accounts/{id}` and
//!   `softliq account` print the same report);
//! - [`KeeperStats`]: what a keeper has done, as the server's `/metrics` (in-process keeper)
//!   and a separate keeper's own `/metrics` both expose it;
//! - [`exposition`]: the metric names of those counters, and the two text formats scrapers
//!   ask for, so that one dashboard and one set of alert rules serve both.
#![forbid(unsafe_code)]

pub mod exposition;
mod keeper_stats;
pub mod report;

pub use keeper_stats::{KeeperStats, SharedStats};
