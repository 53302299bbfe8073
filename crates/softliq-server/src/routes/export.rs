//! Exports for analysts: `GET /v1/liquidations.csv?from_s&to_s`, every settled liquidation
//! call in a time range, one row each, streamed from the log (so a year of liquidations does
//! not sit in memory), with the figures exact as the ledger holds them.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use softliq_engine::event::Event;
use softliq_history::row::liquidation_row;
use softliq_node::Entry;
use tokio_stream::wrappers::ReceiverStream;
use utoipa::IntoParams;

use crate::app::AppState;
use crate::error::ApiError;
use crate::hub::PAGE_MAX;
use crate::json::ApiQuery;
use softliq_api::error::ErrorBody;

type Shared = State<Arc<AppState>>;

/// A time range in engine time, both ends included.
#[derive(Deserialize, IntoParams, Clone, Copy)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct RangeQuery {
    /// From this Unix second (default: the log's start).
    pub from_s: Option<u64>,
    /// To this Unix second, included (default: now).
    pub to_s: Option<u64>,
}

impl RangeQuery {
    /// The range, checked: `from_s ≤ to_s`.
    ///
    /// # Errors
    /// 422 naming `to_s`.
    pub fn bounds(self) -> Result<(u64, u64), ApiError> {
        let (from, to) = (self.from_s.unwrap_or(0), self.to_s.unwrap_or(u64::MAX));
        if from > to {
            return Err(ApiError::unprocessable(
                "invalid_query",
                "to_s",
                format!("{to} is before from_s {from}"),
            ));
        }
        Ok((from, to))
    }
}

pub use softliq_history::row::LIQUIDATION_COLUMNS;

/// Every settled liquidation call between `from_s` and `to_s` (engine time, included), oldest
/// first, as CSV with a header row.
#[utoipa::path(get, path = "/v1/liquidations.csv", tag = "queries", params(RangeQuery),
    responses((status = 200, content_type = "text/csv", description = "one row per liquidation call: seq, timestamp_s, time_utc, borrower, liquidator, policy, debt_asset, collateral_asset (symbols), repaid, seized, to_liquidator, to_treasury (whole tokens), repaid_usd, seized_usd, liquidator_usd, borrower_loss_usd (USD at the call's prices), penalty, discount, health_before, health_after, liquidatable_after"),
        (status = 422, body = ErrorBody)))]
pub async fn liquidations_csv(
    State(state): Shared,
    ApiQuery(q): ApiQuery<RangeQuery>,
) -> Result<Response, ApiError> {
    let (from_s, to_s) = q.bounds()?;
    let assets = state
        .read(|e| {
            e.state()
                .assets
                .iter()
                .map(|a| (a.symbol.clone(), a.params().decimals))
                .collect::<Vec<_>>()
        })
        .await?;
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    if let Some(history) = &state.history {
        let (config, upto) = (history.config.clone(), history.position());
        tokio::spawn(async move { from_postgres(&config, from_s, to_s, upto, &tx).await });
        return Ok(csv_response(&q, from_s, rx, Some(upto)));
    }
    let hub = state.hub.clone();
    let head = hub.head();
    tokio::task::spawn_blocking(move || {
        let mut out = Rows::new(&assets);
        let mut run = || -> Result<(), String> {
            let mut after = hub.seq_before(from_s).map_err(|e| e.message)?;
            out.header()?;
            while after < head {
                let page = hub.entries(after, PAGE_MAX).map_err(|e| e.message)?;
                let Some(last) = page.last() else { break };
                after = last.seq;
                for entry in page.iter().filter(|e| e.seq <= head) {
                    if entry.command.timestamp_s > to_s {
                        return Ok(());
                    }
                    out.entry(entry)?;
                }
                if !send(&tx, out.take()) {
                    return Ok(());
                }
            }
            Ok(())
        };
        let done = run();
        let tail = out.take();
        match done {
            Ok(()) => {
                send(&tx, tail);
            }
            Err(e) => {
                // Headers are gone: the broken body tells the client the export is incomplete.
                let _ = tx.blocking_send(Err(std::io::Error::other(e)));
            }
        }
    });
    Ok(csv_response(&q, from_s, rx, None))
}

/// The export's response: CSV streamed from `rx`; `history` names the event store's position
/// when the rows come from PostgreSQL (its rows end there).
fn csv_response(
    q: &RangeQuery,
    from_s: u64,
    rx: tokio::sync::mpsc::Receiver<Result<Bytes, std::io::Error>>,
    history: Option<u64>,
) -> Response {
    let name = format!(
        "attachment; filename=\"softliq-liquidations-{}-{}.csv\"",
        from_s,
        q.to_s.map_or_else(|| "now".to_owned(), |t| t.to_string())
    );
    let source = history.map_or_else(
        || "log".to_owned(),
        |seq| format!("postgres; through_seq={seq}"),
    );
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (header::CONTENT_DISPOSITION, name),
            (header::HeaderName::from_static("x-softliq-source"), source),
        ],
        Body::from_stream(ReceiverStream::new(rx)),
    )
        .into_response()
}

/// The export from the event store: its `liquidations` table, through entry `upto` (the
/// projector's position when the request came, so a page landing meanwhile is not half in).
async fn from_postgres(
    config: &softliq_history::HistoryConfig,
    from_s: u64,
    to_s: u64,
    upto: u64,
    tx: &tokio::sync::mpsc::Sender<Result<Bytes, std::io::Error>>,
) {
    let run = async {
        let history = softliq_history::History::open(config)
            .await
            .map_err(|e| e.to_string())?;
        let mut csv = csv::Writer::from_writer(Vec::new());
        csv.write_record(LIQUIDATION_COLUMNS)
            .map_err(|e| e.to_string())?;
        let mut after = (0, 0);
        loop {
            let page = history
                .liquidations(from_s, to_s, after, PAGE_MAX)
                .await
                .map_err(|e| e.to_string())?;
            let last = page.last().map(|&(seq, idx, _)| (seq, idx));
            for (_, _, row) in page.iter().filter(|(seq, _, _)| *seq <= upto) {
                csv.write_record(row).map_err(|e| e.to_string())?;
            }
            let chunk = std::mem::replace(&mut csv, csv::Writer::from_writer(Vec::new()))
                .into_inner()
                .unwrap_or_default();
            let gone = !chunk.is_empty() && tx.send(Ok(Bytes::from(chunk))).await.is_err();
            match last {
                Some((seq, idx)) if !gone && seq <= upto => after = (seq, idx),
                _ => return Ok::<(), String>(()),
            }
        }
    };
    if let Err(e) = run.await {
        let _ = tx.send(Err(std::io::Error::other(e))).await;
    }
}

/// Sends a chunk; false when the client has gone.
fn send(tx: &tokio::sync::mpsc::Sender<Result<Bytes, std::io::Error>>, chunk: Vec<u8>) -> bool {
    chunk.is_empty() || tx.blocking_send(Ok(Bytes::from(chunk))).is_ok()
}

/// CSV rows of liquidation events, written into a buffer taken a page at a time.
struct Rows<'a> {
    assets: &'a [(String, softliq_core::money::Decimals)],
    csv: csv::Writer<Vec<u8>>,
}

impl<'a> Rows<'a> {
    fn new(assets: &'a [(String, softliq_core::money::Decimals)]) -> Self {
        Self {
            assets,
            csv: csv::Writer::from_writer(Vec::new()),
        }
    }

    fn header(&mut self) -> Result<(), String> {
        self.csv
            .write_record(LIQUIDATION_COLUMNS)
            .map_err(|e| e.to_string())
    }

    fn entry(&mut self, entry: &Entry) -> Result<(), String> {
        for ev in entry.events.iter() {
            if let Event::Liquidated(l) = ev {
                let row = liquidation_row(entry.seq, entry.command.timestamp_s, l, self.assets);
                self.csv.write_record(&row).map_err(|e| e.to_string())?;
            }
        }
        Ok(())
    }

    /// The rows written since the last call.
    fn take(&mut self) -> Vec<u8> {
        let full = std::mem::replace(&mut self.csv, csv::Writer::from_writer(Vec::new()));
        full.into_inner().unwrap_or_default()
    }
}
