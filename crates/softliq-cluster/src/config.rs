//! Where the cluster's log lives: the NATS servers, the stream's name (which names its
//! subject, snapshot bucket and lease bucket too) and how many copies JetStream keeps.

use std::time::Duration;

/// How a node reaches the replicated log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogConfig {
    /// NATS server URLs, comma-separated (`nats://127.0.0.1:4222,nats://127.0.0.1:4223`).
    pub nats_url: String,
    /// The JetStream stream holding the command log (`SOFTLIQ`).
    pub stream: String,
    /// Copies JetStream keeps of the log, the snapshots and the lease: 3 in a three-node
    /// cluster (an append is acknowledged once two of them have it), 1 on a single server.
    pub replicas: usize,
    /// How long one request to JetStream may take before the store reports it failed.
    pub request_timeout: Duration,
    /// This node's name: recorded with every message it appends and in the lease.
    pub node: String,
}

impl LogConfig {
    /// A log named `stream` on the servers at `nats_url`, one copy, as node `node`.
    #[must_use]
    pub fn new(nats_url: &str, stream: &str, node: &str) -> Self {
        Self {
            nats_url: nats_url.to_string(),
            stream: stream.to_string(),
            replicas: 1,
            request_timeout: Duration::from_secs(5),
            node: node.to_string(),
        }
    }

    /// The subject the log's messages are published on.
    #[must_use]
    pub fn subject(&self) -> String {
        format!("{}.log", self.stream.to_lowercase())
    }

    /// The object-store bucket holding the latest snapshot.
    #[must_use]
    pub fn snapshot_bucket(&self) -> String {
        format!("{}_SNAPSHOTS", self.stream)
    }

    /// The key-value bucket holding the writer's lease.
    #[must_use]
    pub fn lease_bucket(&self) -> String {
        format!("{}_LEASE", self.stream)
    }

    /// Checks the names JetStream will be given.
    ///
    /// # Errors
    /// A name is empty or has characters JetStream refuses in stream and bucket names.
    pub fn validate(&self) -> Result<(), String> {
        let ok = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
        if self.stream.is_empty() || !self.stream.chars().all(ok) {
            return Err(format!(
                "stream: {:?} must be 1 or more of A-Z, a-z, 0-9, '_' and '-'",
                self.stream
            ));
        }
        if !(1..=5).contains(&self.replicas) {
            return Err(format!(
                "replicas: {} must be between 1 and 5 (JetStream's limit)",
                self.replicas
            ));
        }
        if self.nats_url.trim().is_empty() {
            return Err("nats_url: empty (give nats://HOST:PORT)".into());
        }
        Ok(())
    }
}
