//! softliq-cluster: the engine on more than one machine, on NATS JetStream.
//!
//! - [`JetStreamStore`] (`log.rs`): the node's `Store` on a replicated JetStream stream; an
//!   append is acknowledged once a quorum of the stream's replicas holds it, and every append
//!   is fenced by the stream sequence it expects to follow, so two writers never interleave;
//! - [`LogConfig`]: the servers, the stream's name and how many copies;
//! - `frame.rs`: a batch of entries as one message, with the run it holds in its headers;
//! - [`testing`]: a cluster of real `nats-server` processes for tests and benchmarks.
#![forbid(unsafe_code)]

mod config;
mod feed;
pub mod frame;
mod lease;
mod link;
mod log;
mod replica;
pub mod testing;

pub use config::LogConfig;
pub use feed::{Feed, Run};
pub use lease::Lease;
pub use link::Link;
pub use log::{JetStreamStore, Tip};
pub use replica::{Replica, ReplicaConfig, Status};
