//! softliq-engine: the protocol's durable, replayable state machine.
//!
//! - [`Engine`]: `apply(command) -> events | rejection` over the whole protocol [`State`]
//!   (pure: no I/O, no clock), with oracle guards ([`oracle`]), fast detection of accounts
//!   crossing into liquidatable (`watch`, with a float pre-check in `screen`), and the SPEC §10 invariants checked after every
//!   command in audit mode (`audit`);
//! - [`store`]: the append-only log and snapshots behind a [`store::Store`] trait, with a
//!   SQLite implementation, group commit ([`store::spawn`]) and recovery;
//! - [`workload`]: a seeded synthetic market and command stream for tests, benchmarks and demos.
#![forbid(unsafe_code)]

mod apply;
pub mod auctions;
mod audit;
pub mod command;
mod engine;
pub mod event;
pub mod flags;
pub mod oracle;
mod queries;
mod receipts;
pub mod rejection;
mod screen;
pub mod state;
pub mod store;
mod views;
mod watch;
pub mod workload;

pub use auctions::AuctionView;
pub use command::{ClientId, Command, CommandBody, PriceSource};
pub use engine::{Engine, EngineConfig};
pub use event::{Accrual, Event, Events, Liquidation};
pub use queries::PairAsked;
pub use rejection::{Code, Rejection};
pub use state::State;
pub use views::Views;
pub use watch::DetectionStats;
