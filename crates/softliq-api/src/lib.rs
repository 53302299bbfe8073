//! softliq-api: the HTTP API's types, shared by the server (`softliq-server`) and its clients
//! (`softliq-keeper`, the CLI) without either linking the other. The server serialises these
//! types and its OpenAPI document is derived from them; a client decodes the same types, so a
//! renamed or retyped field breaks the build of both sides rather than a string path at run
//! time.
//!
//! - [`commands`], [`auctions`], [`perps`]: request bodies, command outcomes, log entries;
//! - [`queries`], [`auctions`], [`perps`]: what the `GET` endpoints answer;
//! - [`names`]: assets and perp markets named by id or symbol; [`error`]: the refusal body;
//! - [`report`]: one account's health as people read it (`GET /v1/accounts/{id}` and
//!   `softliq account` print the same report);
//! - [`KeeperStats`]: what a keeper has done, as the server's `/metrics` (in-process keeper)
//!   and a separate keeper's own `/metrics` both expose it;
//! - [`exposition`]: the metric names of those counters, and the two text formats scrapers
//!   ask for, so that one dashboard and one set of alert rules serve both.
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

pub mod auctions;
pub mod commands;
pub mod error;
pub mod exposition;
mod keeper_stats;
pub mod names;
pub mod perps;
pub mod queries;
pub mod report;

pub use keeper_stats::{KeeperStats, SharedStats};
