//! `softliq keeper --metrics-listen ADDR`: a keeper running on its own machine exposes its
//! counters at `/metrics`, in the same names the server uses for its in-process keeper, so one
//! dashboard and one set of alert rules serve both.

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

use softliq_api::SharedStats;
use softliq_api::exposition::{Format, render_keeper};

/// Binds `addr` and serves the keeper's metrics until the process ends.
///
/// # Errors
/// The address cannot be bound (the message names it).
pub async fn serve(addr: std::net::SocketAddr, stats: SharedStats) -> Result<(), String> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("--metrics-listen {addr}: {e}"))?;
    let app = Router::new().route(
        "/metrics",
        get(move |headers: axum::http::HeaderMap| {
            let stats = stats.clone();
            async move {
                let format =
                    Format::from_accept(headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()));
                let k = stats
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .clone();
                let body = format.body(render_keeper(&k));
                ([(header::CONTENT_TYPE, format.content_type())], body).into_response()
            }
        }),
    );
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!("keeper metrics: {e}");
        }
    });
    Ok(())
}
