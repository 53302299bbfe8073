//! Exports for analysts: `GET /v1/liquidations.csv?from_s&to_s`, every settled liquidation
//! call in a time range, one row each, streamed from the log (so a year of liquidations does
//! not sit in memory), with the figures exact as the ledger holds them.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use softliq_engine::event::{Event, Liquidation};
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

/// The CSV's columns: amounts in whole tokens, values in USD, ratios as decimals.
pub const LIQUIDATION_COLUMNS: [&str; 21] = [
    "seq",
    "timestamp_s",
    "time_utc",
    "borrower",
    "liquidator",
    "policy",
    "debt_asset",
    "collateral_asset",
    "repaid",
    "repaid_usd",
    "seized",
    "seized_usd",
    "to_liquidator",
    "to_treasury",
    "liquidator_usd",
    "borrower_loss_usd",
    "penalty",
    "discount",
    "health_before",
    "health_after",
    "liquidatable_after",
];

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
    let hub = state.hub.clone();
    let head = hub.head();
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
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
    let name = format!(
        "attachment; filename=\"softliq-liquidations-{}-{}.csv\"",
        from_s,
        q.to_s.map_or_else(|| "now".to_owned(), |t| t.to_string())
    );
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (header::CONTENT_DISPOSITION, name),
        ],
        Body::from_stream(ReceiverStream::new(rx)),
    )
        .into_response())
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
                let row = self.row(entry, l);
                self.csv.write_record(&row).map_err(|e| e.to_string())?;
            }
        }
        Ok(())
    }

    fn row(&self, entry: &Entry, l: &Liquidation) -> Vec<String> {
        let q = &l.quote;
        let asset = |id: softliq_core::asset::AssetId| {
            self.assets
                .get(id.index())
                .map_or_else(|| (id.0.to_string(), None), |(s, d)| (s.clone(), Some(*d)))
        };
        let (debt, dd) = asset(q.request.debt_asset);
        let (coll, cd) = asset(q.request.collateral_asset);
        let tokens = |a: softliq_core::money::Amount, d: Option<softliq_core::money::Decimals>| {
            d.map_or_else(|| a.raw().to_string(), |d| a.display_tokens(d).to_string())
        };
        let ratio =
            |r: Option<softliq_core::money::Ratio>| r.map(|r| r.to_string()).unwrap_or_default();
        let t = entry.command.timestamp_s;
        vec![
            entry.seq.to_string(),
            t.to_string(),
            utc(t),
            l.borrower.0.to_string(),
            l.liquidator.0.to_string(),
            l.policy.clone(),
            debt,
            coll,
            tokens(q.repaid, dd),
            q.repaid_value.to_string(),
            tokens(q.seized, cd),
            q.seized_value.to_string(),
            tokens(q.to_liquidator, cd),
            tokens(q.to_treasury, cd),
            q.liquidator_value.to_string(),
            q.seized_value.saturating_sub(q.repaid_value).to_string(),
            q.penalty.to_string(),
            q.discount.to_string(),
            ratio(q.health_before),
            ratio(q.health_after),
            q.liquidatable_after.to_string(),
        ]
    }

    /// The rows written since the last call.
    fn take(&mut self) -> Vec<u8> {
        let full = std::mem::replace(&mut self.csv, csv::Writer::from_writer(Vec::new()));
        full.into_inner().unwrap_or_default()
    }
}

/// RFC 3339 UTC time of Unix seconds (`2020-03-12T10:00:00Z`).
fn utc(t_s: u64) -> String {
    let format = time::format_description::well_known::Rfc3339;
    i64::try_from(t_s)
        .ok()
        .and_then(|t| time::OffsetDateTime::from_unix_timestamp(t).ok())
        .and_then(|d| d.format(&format).ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #[test]
    fn times_are_rfc3339_utc() {
        assert_eq!(super::utc(1_583_971_200), "2020-03-12T00:00:00Z");
        assert_eq!(super::utc(0), "1970-01-01T00:00:00Z");
    }
}
