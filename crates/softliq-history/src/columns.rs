//! One batch of entries as column arrays, ready for `INSERT … SELECT * FROM UNNEST(…)`: one
//! array per column and table, so a page of a thousand entries is a handful of statements.

use softliq_core::money::Decimals;
use softliq_engine::command::CommandBody;
use softliq_engine::event::Event;
use softliq_node::Entry;

use crate::activity::Prices;
use crate::row::liquidation_row;

/// A sequence number or time as PostgreSQL's `bigint` (saturating: never reached).
pub(crate) fn i64_of(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Column arrays of one batch.
#[derive(Default)]
pub(crate) struct Rows {
    pub(crate) seq: Vec<i64>,
    pub(crate) time: Vec<i64>,
    pub(crate) kind: Vec<String>,
    pub(crate) command: Vec<serde_json::Value>,
    pub(crate) events: EventRows,
    pub(crate) prices: PriceRows,
    pub(crate) liquidations: Vec<Vec<String>>,
    pub(crate) activity: ActivityRows,
}

#[derive(Default)]
pub(crate) struct EventRows {
    pub(crate) seq: Vec<i64>,
    pub(crate) idx: Vec<i32>,
    pub(crate) time: Vec<i64>,
    pub(crate) kind: Vec<String>,
    pub(crate) account: Vec<Option<i64>>,
    pub(crate) asset: Vec<Option<String>>,
    pub(crate) body: Vec<serde_json::Value>,
}

#[derive(Default)]
pub(crate) struct PriceRows {
    pub(crate) seq: Vec<i64>,
    pub(crate) idx: Vec<i32>,
    pub(crate) time: Vec<i64>,
    pub(crate) asset: Vec<String>,
    pub(crate) price: Vec<String>,
    pub(crate) published: Vec<i64>,
    pub(crate) raw: Vec<String>,
}

/// Each entry's share of the activity (entries that add nothing have no row).
#[derive(Default)]
pub(crate) struct ActivityRows {
    pub(crate) seq: Vec<i64>,
    pub(crate) time: Vec<i64>,
    pub(crate) liquidations: Vec<i32>,
    pub(crate) perp_steps: Vec<i32>,
    pub(crate) repaid: Vec<f64>,
    pub(crate) loss: Vec<f64>,
    pub(crate) bad_debt: Vec<f64>,
}

impl Rows {
    pub(crate) fn tally(&mut self, e: &Entry, prices: &mut Prices) {
        let t = prices.tally(e);
        if t.is_empty() {
            return;
        }
        let a = &mut self.activity;
        let count = |n: u64| i32::try_from(n).unwrap_or(i32::MAX);
        a.seq.push(i64_of(e.seq));
        a.time.push(i64_of(e.command.timestamp_s));
        a.liquidations.push(count(t.liquidations));
        a.perp_steps.push(count(t.perp_steps));
        a.repaid.push(t.repaid_usd);
        a.loss.push(t.borrower_loss_usd);
        a.bad_debt.push(t.bad_debt_usd);
    }

    pub(crate) fn entry(&mut self, e: &Entry, assets: &mut Vec<(String, Decimals)>) {
        let (seq, t) = (i64_of(e.seq), i64_of(e.command.timestamp_s));
        self.seq.push(seq);
        self.time.push(t);
        self.kind.push(e.command.body.kind().to_string());
        self.command
            .push(serde_json::to_value(&e.command.body).unwrap_or_default());
        let symbol = |assets: &[(String, Decimals)], id: softliq_core::asset::AssetId| {
            assets
                .get(id.index())
                .map_or_else(|| id.0.to_string(), |(s, _)| s.clone())
        };
        for (i, ev) in e.events.iter().enumerate() {
            let idx = i32::try_from(i).unwrap_or(i32::MAX);
            if let (
                Event::AssetListed {
                    asset,
                    symbol: name,
                },
                CommandBody::ListAsset { params, .. },
            ) = (ev, &e.command.body)
                && asset.index() == assets.len()
            {
                assets.push((name.clone(), params.decimals));
            }
            let (kind, body) = match serde_json::to_value(ev) {
                Ok(serde_json::Value::Object(m)) if m.len() == 1 => {
                    m.into_iter().next().unwrap_or_default()
                }
                Ok(serde_json::Value::String(k)) => (k, serde_json::Value::Null),
                other => ("unknown".into(), other.unwrap_or_default()),
            };
            let account = ["account", "borrower"]
                .iter()
                .find_map(|k| body.get(k).and_then(serde_json::Value::as_i64));
            let asset = body
                .get("asset")
                .and_then(serde_json::Value::as_u64)
                .and_then(|a| u16::try_from(a).ok())
                .map(|a| symbol(assets, softliq_core::asset::AssetId(a)));
            match ev {
                Event::PriceAccepted {
                    asset: a,
                    price,
                    published_s,
                } => {
                    self.prices.seq.push(seq);
                    self.prices.idx.push(idx);
                    self.prices.time.push(t);
                    self.prices.asset.push(symbol(assets, *a));
                    self.prices.price.push(price.to_string());
                    self.prices.published.push(i64_of(*published_s));
                    self.prices.raw.push(price.raw().to_string());
                }
                Event::Liquidated(l) => {
                    let mut row = liquidation_row(e.seq, e.command.timestamp_s, l, assets);
                    row.push(idx.to_string());
                    self.liquidations.push(row);
                }
                _ => {}
            }
            let ev_rows = &mut self.events;
            ev_rows.seq.push(seq);
            ev_rows.idx.push(idx);
            ev_rows.time.push(t);
            ev_rows.kind.push(kind);
            ev_rows.account.push(account);
            ev_rows.asset.push(asset);
            ev_rows.body.push(body);
        }
    }
}
