//! softliq-history: the log's history in PostgreSQL, one SQL query away.
//!
//! - [`History`] (`store.rs`): the tables (entries, events, liquidations, prices, assets,
//!   the projector's position) and the queries the server's exports use;
//! - [`project`] and [`Projector`] (`projector.rs`): the log written there page by page, each
//!   page one transaction with the position, idempotent by sequence number;
//! - `row.rs`: one liquidation call as the row of the CSV export and of the table.
#![forbid(unsafe_code)]

pub mod activity;
mod columns;
mod projector;
pub mod row;
mod store;

pub use projector::{Projector, ProjectorConfig, project};
pub use store::{History, HistoryConfig, HistoryError};
