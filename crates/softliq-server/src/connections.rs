//! Accepting connections so that slow or idle clients cannot starve the server.
//!
//! `axum::serve` keeps every connection until the client closes it: idle keep-alive
//! connections and half-sent requests were never closed, and enough of them used up the
//! process's file descriptors so that `/healthz` and writes timed out for as long as they were
//! held. Here each connection is served by hyper with a timer, so:
//! - a request's headers must arrive within `header_read_timeout`, counted from the moment
//!   the connection waits for them — so the same limit closes idle keep-alive connections;
//! - a request must be answered within `request_timeout` (a body that stops arriving ends in
//!   `408`; a streamed response such as `/v1/stream` is answered at once and is not cut);
//! - at most `connections_max` connections are open; one more is answered `503` with a JSON
//!   error naming the limit and closed, instead of waiting in the kernel's queue.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::response::IntoResponse;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

use crate::error::ApiError;

/// Bounds on what clients may hold.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Most connections open at once.
    pub connections_max: usize,
    /// Time for a request's headers to arrive, from when the connection waits for them (also
    /// the idle limit of a keep-alive connection).
    pub header_read_timeout: Duration,
    /// Time to answer a request, its body included.
    pub request_timeout: Duration,
    /// Time to let requests in flight finish at shutdown.
    pub shutdown_grace: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            connections_max: 512,
            header_read_timeout: Duration::from_secs(30),
            request_timeout: Duration::from_secs(30),
            shutdown_grace: Duration::from_secs(30),
        }
    }
}

/// The router with the request deadline applied.
pub fn with_deadline(router: Router, request_timeout: Duration) -> Router {
    router.layer(axum::middleware::from_fn(
        move |req: Request, next: axum::middleware::Next| async move {
            match tokio::time::timeout(request_timeout, next.run(req)).await {
                Ok(response) => response,
                Err(_) => ApiError::new(
                    axum::http::StatusCode::REQUEST_TIMEOUT,
                    "request_timeout",
                    "body",
                    format!(
                        "the request was not complete within {} s",
                        request_timeout.as_secs_f64()
                    ),
                )
                .into_response(),
            }
        },
    ))
}

/// Serves `router` on `listener` within `limits` until `shutdown` resolves, then stops
/// accepting and lets open requests finish (up to `shutdown_grace`).
///
/// # Errors
/// Accepting failed in a way that is not about one connection.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let service = TowerToHyperService::new(with_deadline(router, limits.request_timeout));
    let permits = Arc::new(Semaphore::new(limits.connections_max));
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .keep_alive(true);
    tokio::pin!(shutdown);
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(c) => c,
                // Out of descriptors or a connection reset before it was accepted: keep
                // serving the connections already open, and try again shortly.
                Err(e) => {
                    tracing::warn!("accept: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Ok(permit) = Arc::clone(&permits).try_acquire_owned() else {
            tokio::spawn(refuse(stream, limits.connections_max));
            continue;
        };
        let conn = http.serve_connection(TokioIo::new(stream), service.clone());
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            let _ = conn.await;
            drop(permit);
        });
    }
    drop(listener);
    if tokio::time::timeout(limits.shutdown_grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("connections still open after the shutdown grace; closing them");
    }
    Ok(())
}

/// Answers a connection over the limit with a `503` naming it, and closes it.
async fn refuse(mut stream: TcpStream, connections_max: usize) {
    let body = format!(
        "{{\"error\":{{\"code\":\"overloaded\",\"field\":\"server\",\"message\":\"connection limit reached ({connections_max} open); try again\",\"status\":503}}}}"
    );
    let head = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 1\r\nconnection: close\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    let write = async {
        stream.write_all(head.as_bytes()).await?;
        stream.write_all(body.as_bytes()).await?;
        stream.shutdown().await
    };
    let _ = tokio::time::timeout(Duration::from_secs(1), write).await;
}
