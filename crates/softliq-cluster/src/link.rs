//! A blocking handle on JetStream: the node's store, lease and feed run on plain threads, so
//! each owns a small runtime (one worker, which also keeps the connection's pings going while
//! the thread is between calls) and waits on every request with a deadline.

use std::future::Future;
use std::time::Duration;

use async_nats::jetstream;
use softliq_node::StoreError;

use crate::config::LogConfig;

/// A connection to the NATS servers and its JetStream context.
pub struct Link {
    /// Always `Some` until dropped.
    rt: Option<tokio::runtime::Runtime>,
    pub client: async_nats::Client,
    pub js: jetstream::Context,
    timeout: Duration,
}

impl std::fmt::Debug for Link {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Link").finish_non_exhaustive()
    }
}

/// A JetStream or connection failure, as the store reports it.
pub fn remote(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Remote(format!("{what}: {e}"))
}

impl Link {
    /// Connects to `config.nats_url`.
    ///
    /// # Errors
    /// The configuration is invalid or no server answers within the request timeout.
    pub fn connect(config: &LogConfig) -> Result<Self, StoreError> {
        config.validate().map_err(StoreError::Remote)?;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("softliq-nats")
            .enable_all()
            .build()?;
        let urls: Vec<String> = config
            .nats_url
            .split(',')
            .map(|u| u.trim().to_string())
            .collect();
        let timeout = config.request_timeout;
        let client = rt
            .block_on(async {
                tokio::time::timeout(
                    timeout,
                    async_nats::ConnectOptions::new()
                        .name(&config.node)
                        .request_timeout(Some(timeout))
                        .retry_on_initial_connect()
                        .connect(urls.as_slice()),
                )
                .await
            })
            .map_err(|_| {
                remote(
                    "connect",
                    format!(
                        "no NATS server answered at {} in {timeout:?}",
                        config.nats_url
                    ),
                )
            })?
            .map_err(|e| remote("connect", e))?;
        let _inside = rt.enter();
        let js = jetstream::ContextBuilder::new()
            .timeout(timeout)
            .build(client.clone());
        drop(_inside);
        Ok(Self {
            rt: Some(rt),
            client,
            js,
            timeout,
        })
    }

    /// Runs `f` to completion, giving up after the request timeout.
    ///
    /// # Errors
    /// `f`'s error, or a timeout.
    pub fn wait<T, E: std::fmt::Display>(
        &self,
        what: &str,
        f: impl Future<Output = Result<T, E>>,
    ) -> Result<T, StoreError> {
        self.wait_for(what, self.timeout, f)
    }

    /// [`Link::wait`] with a deadline of its own (a long read).
    ///
    /// # Errors
    /// As [`Link::wait`].
    pub fn wait_for<T, E: std::fmt::Display>(
        &self,
        what: &str,
        deadline: Duration,
        f: impl Future<Output = Result<T, E>>,
    ) -> Result<T, StoreError> {
        self.block_on(async { tokio::time::timeout(deadline, f).await })
            .map_err(|_| remote(what, format!("no answer in {deadline:?}")))?
            .map_err(|e| remote(what, e))
    }

    /// Runs `f` on the link's runtime (for calls that are not requests).
    ///
    /// # Panics
    /// Called from inside an async task (use a blocking task).
    pub fn block_on<T>(&self, f: impl Future<Output = T>) -> T {
        self.rt
            .as_ref()
            .expect("the link's runtime lives until it is dropped")
            .block_on(f)
    }

    /// The request timeout.
    #[must_use]
    pub fn timeout(&self) -> Duration {
        self.timeout
    }
}

impl Drop for Link {
    /// Without waiting for the runtime's tasks: a link may be dropped inside an async task
    /// (the server's state), where a blocking shutdown is not allowed.
    fn drop(&mut self) {
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}
