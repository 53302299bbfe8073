//! softliq-engine: the protocol's state machine, pure and replayable.
//!
//! - [`Engine`]: `apply(command) -> events | rejection` over the whole protocol [`State`]
//!   (no I/O, no clock, no global state: the same commands give the same state, byte for
//!   byte), with oracle guards ([`oracle`]), fast detection of accounts crossing into
//!   liquidatable (`watch`, with a float pre-check in `screen`), and the invariants of
//!   docs/engine.md ("Invariants") checked after every command in audit mode (`audit`);
//! - reads take `&Engine`: the risk snapshots ([`Views`]) and typed queries (a liquidation
//!   quote, the pair an auction sells);
//! - [`State::encode`]: the canonical encoding that snapshots and state hashes use.
//!
//! Durability (the log, snapshots, group commit, recovery) is `softliq-node`'s.
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
mod views;
mod watch;

pub use auctions::AuctionView;
pub use command::{ClientId, Command, CommandBody, PriceSource};
pub use engine::{Engine, EngineConfig};
pub use event::{Accrual, Event, Events, Liquidation};
pub use queries::PairAsked;
pub use rejection::{Code, Rejection};
pub use state::State;
pub use views::Views;
pub use watch::DetectionStats;
