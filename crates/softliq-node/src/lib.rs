//! softliq-node: the engine made durable. The engine (`softliq-engine`) is a pure state
//! machine; this crate runs it with a log:
//!
//! - [`Store`]: where the log of accepted commands (with their events) and the snapshots live,
//!   as a trait, so the node never knows which database holds them; [`SqliteStore`] is the
//!   embedded default, [`MemoryStore`] keeps them in memory (tests, benchmarks), and
//!   [`FaultyStore`] wraps either to inject the ways a disk fails (full, fsync error, lost
//!   confirmation, crash before or after the write);
//! - [`spawn`] (a [`Handle`]): the engine and a store on two threads with group commit:
//!   commands are applied as they come, batched, written and flushed together, and
//!   acknowledged only after that; reads run between commands and get `&Engine`;
//! - [`ReadView`]: a second engine following the durable log on a thread of its own, for
//!   reads served off the engine thread (a server's requests);
//! - [`recover`]: latest snapshot, then the tail of the log re-applied and checked event for
//!   event against what was logged; [`replay_all`] from empty;
//! - [`workload`]: a seeded synthetic market and command stream for tests, benchmarks and the
//!   `drive` and `soak` commands.
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

mod faults;
pub mod huge_pages;
mod memory;
mod node;
mod recover;
mod sqlite;
mod store;
mod view;
pub mod watermark;
pub mod workload;

pub use faults::{Fault, FaultControl, FaultyStore};
pub use memory::{MemoryDisk, MemoryStore};
pub use node::{
    Ack, Handle, NodeConfig, NodeError, Observer, spawn, spawn_follower, spawn_observed,
};
pub use recover::{Recovery, recover, replay_all};
pub use sqlite::{LOCK_FILE, SqliteStore};
pub use store::{Entry, Store, StoreError};
pub use view::{Advance, ReadView, ViewError};
pub use watermark::{Chain, Watermark};
