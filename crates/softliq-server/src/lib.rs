//! softliq-server: `softliq serve` — the engine behind an HTTP/JSON API with roles, a live
//! event stream, Prometheus metrics and a dashboard. The keeper that liquidates through it is
//! a client of this API (`softliq-keeper`).
//!
//! - [`app`]: the running service (node, event hub, metrics, risk board, clock);
//! - [`activity`]: liquidations and bad debt over engine time (history charts, counters);
//! - [`routes`]: the endpoints; [`openapi`]: their OpenAPI document; [`paging`]: list cursors;
//! - [`auth`]: bearer tokens and roles; [`names`]: assets and markets by id or symbol; [`error`]: JSON errors naming the field;
//! - [`connections`]: accepting connections within timeouts and a connection limit;
//! - [`cors`]: which other origins' pages may call the API (none unless configured);
//! - [`hub`]: the durable event feed; [`metrics`]: `/metrics`; [`risk`]: the at-risk board;
//! - [`listing`]: `serve --markets`.
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

pub mod activity;
pub mod app;
pub mod auth;
pub mod connections;
pub mod cors;
pub mod error;
pub mod hub;
pub mod json;
pub mod listing;
pub mod metrics;
pub mod names;
pub mod openapi;
pub mod paging;
pub mod risk;
pub mod routes;

use std::future::Future;
use std::sync::Arc;

pub use app::{AppState, ServerConfig, StoreChoice};
pub use auth::{Role, TokenEntry, Tokens};

/// A server bound to its port.
/// Why the server cannot listen, and what to do about it.
fn listen_error(addr: std::net::SocketAddr, e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::AddrInUse => format!(
            "listen on {addr}: the address is in use (another server, perhaps another softliq, \
             holds the port); stop it, or pick another with --listen HOST:PORT (port 0 picks a \
             free one)"
        ),
        std::io::ErrorKind::AddrNotAvailable => format!(
            "listen on {addr}: no interface of this machine has that address; use 127.0.0.1 or \
             0.0.0.0 with --listen"
        ),
        std::io::ErrorKind::PermissionDenied => format!(
            "listen on {addr}: permission denied (ports below 1024 need privileges); pick a \
             port of 1024 or above"
        ),
        _ => format!("listen on {addr}: {e}"),
    }
}

pub struct Server {
    pub state: Arc<AppState>,
    pub addr: std::net::SocketAddr,
    listener: tokio::net::TcpListener,
    body_limit_bytes: usize,
    limits: connections::Limits,
    cors: cors::Origins,
}

impl Server {
    /// Recovers the engine from the data directory and binds the port.
    ///
    /// # Errors
    /// The store or the port cannot be opened.
    pub async fn bind(config: &ServerConfig) -> Result<Self, String> {
        // The port first: a refused address must leave no data directory behind.
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|e| listen_error(config.listen, &e))?;
        // Blocking: a replicated store waits on its own runtime, which an async task must not.
        let owned = config.clone();
        let state = tokio::task::spawn_blocking(move || AppState::start(&owned))
            .await
            .map_err(|e| e.to_string())??;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        Ok(Self {
            state,
            addr,
            listener,
            body_limit_bytes: config.body_limit_bytes,
            limits: config.limits,
            cors: config.cors.clone(),
        })
    }

    /// Serves until `shutdown` resolves, then stops taking requests, lets those in flight
    /// finish, and writes everything accepted before returning.
    ///
    /// # Errors
    /// The listener failed, or the store could not write when the server stopped.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), String> {
        let mut app = routes::router(self.state.clone(), self.body_limit_bytes);
        if let Some(layer) = self.cors.layer() {
            app = app.layer(layer);
        }
        let closing = self.state.closing.clone();
        let shutdown = async move {
            shutdown.await;
            closing.send_replace(true);
        };
        let served = connections::serve(self.listener, app, self.limits, shutdown)
            .await
            .map_err(|e| e.to_string());
        let state = self.state.clone();
        // A stop that found the store failing is an error: the process must not exit 0.
        tokio::task::spawn_blocking(move || state.shutdown())
            .await
            .map_err(|e| e.to_string())??;
        served
    }
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
