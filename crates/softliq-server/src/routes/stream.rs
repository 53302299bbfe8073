//! `GET /v1/stream`: Server-Sent Events of log entries. Each event's `id` is its sequence
//! number, so a client that reconnects with `Last-Event-ID` (or `?since=`) gets everything
//! after it: the stream subscribes to live entries first, then pages through the backlog, then
//! forwards live entries it has not sent yet. A subscriber that falls too far behind the live
//! feed catches up from the ring or the store the same way; nothing is skipped.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use serde::Deserialize;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use utoipa::IntoParams;

use crate::app::AppState;
use crate::error::ApiError;
use crate::hub::{Hub, PAGE_MAX, Published};
use crate::json::ApiQuery;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct StreamQuery {
    /// Start after this sequence number (default: `Last-Event-ID`, else only new entries).
    pub since: Option<u64>,
}

fn sse_event(p: &Published) -> Event {
    Event::default()
        .id(p.seq.to_string())
        .event("entry")
        .data(&*p.json)
}

/// Sends entries after `*sent` from the backlog; false when the client has gone.
async fn catch_up(
    hub: &Arc<Hub>,
    sent: &mut u64,
    tx: &mpsc::Sender<Event>,
) -> Result<bool, ApiError> {
    loop {
        let (h, after) = (hub.clone(), *sent);
        let page = tokio::task::spawn_blocking(move || h.page(after, PAGE_MAX))
            .await
            .map_err(|e| ApiError::unavailable(e.to_string()))??;
        if page.is_empty() {
            return Ok(true);
        }
        for p in page {
            if tx.send(sse_event(&p)).await.is_err() {
                return Ok(false);
            }
            *sent = p.seq;
        }
    }
}

async fn pump(
    hub: Arc<Hub>,
    mut sent: u64,
    tx: mpsc::Sender<Event>,
    mut closing: tokio::sync::watch::Receiver<bool>,
) {
    let mut live = hub.subscribe();
    if !matches!(catch_up(&hub, &mut sent, &tx).await, Ok(true)) {
        return;
    }
    loop {
        let next = tokio::select! {
            next = live.recv() => next,
            _ = closing.wait_for(|c| *c) => return,
        };
        match next {
            Ok(p) if p.seq <= sent => {}
            Ok(p) if p.seq == sent + 1 => {
                if tx.send(sse_event(&p)).await.is_err() {
                    return;
                }
                sent = p.seq;
            }
            // A gap (missed while catching up) or lag: read what is missing from the backlog.
            Ok(_) | Err(RecvError::Lagged(_)) => {
                if !matches!(catch_up(&hub, &mut sent, &tx).await, Ok(true)) {
                    return;
                }
            }
            Err(RecvError::Closed) => return,
        }
    }
}

/// Live log entries as Server-Sent Events (`event: entry`, `id: seq`, `data: entry JSON`).
#[utoipa::path(get, path = "/v1/stream", tag = "queries", params(StreamQuery),
    responses((status = 200, description = "text/event-stream of log entries")))]
pub async fn stream(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<StreamQuery>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let last_event_id = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.trim().parse::<u64>().map_err(|_| {
                ApiError::bad_request("Last-Event-ID", format!("not a sequence number: {v:?}"))
            })
        })
        .transpose()?;
    let since = match q.since.or(last_event_id) {
        Some(seq) => super::queries::seq_param(
            if q.since.is_some() {
                "since"
            } else {
                "Last-Event-ID"
            },
            seq,
        )?,
        None => state.hub.head(),
    };
    let (tx, rx) = mpsc::channel(256);
    tokio::spawn(pump(
        state.hub.clone(),
        since,
        tx,
        state.closing.subscribe(),
    ));
    let stream = futures_util::StreamExt::map(ReceiverStream::new(rx), Ok);
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}
