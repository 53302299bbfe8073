//! The writer's lease: one key in a JetStream key-value bucket whose entries expire after the
//! lease's time to live (the bucket's `max_age`, kept by the servers, so no node's clock
//! matters). A node takes the lease by creating the key (refused while it exists), keeps it by
//! updating it at the revision it last wrote (refused if anyone else wrote since), and gives it
//! up by deleting it at that revision.
//!
//! The lease decides who *should* write; it is not what keeps two writers apart. A paused
//! writer can outlive its lease without knowing; the log's fence (`log.rs`) is what refuses its
//! appends once the next writer has fenced the tail. The lease only makes sure that, after a
//! writer dies, some node notices within one time to live and takes over.

use std::time::Duration;

use async_nats::jetstream::{kv, stream};
use bytes::Bytes;
use softliq_node::StoreError;

use crate::config::LogConfig;
use crate::link::{Link, remote};

/// The key holding the writer's name.
const WRITER_KEY: &str = "writer";

/// A node's handle on the lease.
pub struct Lease {
    link: Link,
    kv: kv::Store,
    node: String,
    /// The revision this node last wrote, while it believes it holds the lease.
    held: Option<u64>,
    ttl: Duration,
}

impl std::fmt::Debug for Lease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lease")
            .field("node", &self.node)
            .field("held", &self.held)
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl Lease {
    /// Opens (creating if needed) the lease bucket, with entries living `ttl`.
    ///
    /// # Errors
    /// JetStream failed, or the bucket exists with another time to live.
    pub fn open(config: &LogConfig, ttl: Duration) -> Result<Self, StoreError> {
        let link = Link::connect(config)?;
        let bucket = config.lease_bucket();
        let kv = match link.wait("open the lease bucket", link.js.get_key_value(&bucket)) {
            Ok(kv) => kv,
            Err(_) => {
                // The bucket's stream as the key-value API lays it out, created directly: the
                // client's own `create_key_value` first asks for the account's details in a
                // shape the nats-server 2.9 of Debian does not answer with.
                link.wait(
                    "create the lease bucket",
                    link.js.get_or_create_stream(stream::Config {
                        name: format!("KV_{bucket}"),
                        subjects: vec![format!("$KV.{bucket}.>")],
                        max_messages_per_subject: 1,
                        max_age: ttl,
                        storage: stream::StorageType::File,
                        allow_rollup: true,
                        deny_delete: true,
                        allow_direct: true,
                        num_replicas: config.replicas,
                        discard: stream::DiscardPolicy::New,
                        ..Default::default()
                    }),
                )?;
                link.wait("open the lease bucket", link.js.get_key_value(&bucket))?
            }
        };
        let status = link.wait("read the lease bucket", {
            let kv = kv.clone();
            async move { kv.status().await.map(|s| s.max_age()) }
        })?;
        if status != ttl {
            return Err(StoreError::Remote(format!(
                "lease_ttl: the bucket {bucket} keeps entries {status:?}, this node was given \
                 {ttl:?}; give every node the same lease time"
            )));
        }
        Ok(Self {
            link,
            kv,
            node: config.node.clone(),
            held: None,
            ttl,
        })
    }

    /// The lease's time to live.
    #[must_use]
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Takes the lease if no one holds it; whether this node holds it now.
    ///
    /// # Errors
    /// JetStream failed.
    pub fn acquire(&mut self) -> Result<bool, StoreError> {
        if self.held.is_some() {
            return self.renew();
        }
        let (kv, value) = (self.kv.clone(), Bytes::from(self.node.clone()));
        let timeout = self.link.timeout();
        let created = self.link.block_on(async move {
            tokio::time::timeout(timeout, kv.create(WRITER_KEY, value)).await
        });
        match created {
            Ok(Ok(revision)) => {
                self.held = Some(revision);
                Ok(true)
            }
            Ok(Err(e)) if e.kind() == kv::CreateErrorKind::AlreadyExists => Ok(false),
            Ok(Err(e)) => Err(remote("take the lease", e)),
            Err(_) => Err(remote("take the lease", "no answer in time")),
        }
    }

    /// Keeps the lease for another time to live; `false` when it was lost (expired and taken,
    /// or written by another node).
    ///
    /// # Errors
    /// JetStream failed (the lease may still be held: call again).
    pub fn renew(&mut self) -> Result<bool, StoreError> {
        let Some(revision) = self.held else {
            return Ok(false);
        };
        let (kv, value) = (self.kv.clone(), Bytes::from(self.node.clone()));
        let timeout = self.link.timeout();
        let updated = self.link.block_on(async move {
            tokio::time::timeout(timeout, kv.update(WRITER_KEY, value, revision)).await
        });
        match updated {
            Ok(Ok(revision)) => {
                self.held = Some(revision);
                Ok(true)
            }
            Ok(Err(e)) if e.kind() == kv::UpdateErrorKind::WrongLastRevision => {
                self.held = None;
                Ok(false)
            }
            Ok(Err(e)) => Err(remote("renew the lease", e)),
            Err(_) => Err(remote("renew the lease", "no answer in time")),
        }
    }

    /// Gives the lease up (a clean stop), so a standby takes over at once.
    pub fn release(&mut self) {
        if let Some(revision) = self.held.take() {
            let kv = self.kv.clone();
            let _ = self.link.wait("release the lease", async move {
                kv.delete_expect_revision(WRITER_KEY, Some(revision)).await
            });
        }
    }

    /// Who holds the lease now, if anyone.
    ///
    /// # Errors
    /// JetStream failed.
    pub fn holder(&self) -> Result<Option<String>, StoreError> {
        let kv = self.kv.clone();
        let value = self
            .link
            .wait("read the lease", async move { kv.get(WRITER_KEY).await })?;
        Ok(value.map(|v| String::from_utf8_lossy(&v).into_owned()))
    }

    /// Whether this node believes it holds the lease.
    #[must_use]
    pub fn held(&self) -> bool {
        self.held.is_some()
    }
}
