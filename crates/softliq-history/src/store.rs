//! [`History`]: the event store in PostgreSQL.
//!
//! Tables, in a schema of their own (`softliq` by default):
//!
//! | table | one row per | key | indexes |
//! |---|---|---|---|
//! | `entries` | logged command | `seq` | `(timestamp_s)` |
//! | `events` | event of a command (kind, account, asset, the event as JSON) | `(seq, idx)` | `(kind, timestamp_s)`, `(account, seq)`, `(asset, kind, timestamp_s)` |
//! | `liquidations` | liquidation call, the CSV export's columns typed | `(seq, idx)` | `(timestamp_s)`, `(borrower, seq)` |
//! | `prices` | accepted oracle price | `(seq, idx)` | `(asset, timestamp_s)` |
//! | `activity` | entry that liquidated or wrote off debt: its calls, repaid, loss, bad debt (USD, floats, for charts) | `seq` | `(timestamp_s)` |
//! | `assets` | listed asset (symbol, decimals) | `id` | |
//! | `position` | projector: the last entry written | `name` | |
//!
//! and the views `bad_debt` and `account_changes` over `events`. Amounts are `numeric` in
//! whole tokens, exactly as the ledger holds them.
//!
//! Every batch is written in one transaction together with the projector's position, and every
//! insert is `ON CONFLICT DO NOTHING` on the row's `(seq, idx)`: a batch written again (a
//! projector restarted before its position was read, two projectors on one database) changes
//! nothing, so the tables hold each logged event exactly once.

use softliq_api::queries::Tally;
use softliq_core::money::{Decimals, Price};
use softliq_node::Entry;
use tokio_postgres::{Client, NoTls};

use crate::activity::Prices;
use crate::columns::{Rows, i64_of};
use crate::row::AssetNames;

/// What can go wrong with the event store.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error("postgres: {0}")]
    Postgres(#[from] tokio_postgres::Error),
    #[error("{0}")]
    Config(String),
    #[error("the log: {0}")]
    Log(#[from] softliq_node::StoreError),
}

/// Where the event store lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistoryConfig {
    /// A libpq connection string or URL (`postgres://user@127.0.0.1:5432/db`).
    pub url: String,
    /// The schema holding the tables (created if missing).
    pub schema: String,
}

impl HistoryConfig {
    #[must_use]
    pub fn new(url: &str) -> Self {
        Self {
            url: url.to_string(),
            schema: "softliq".into(),
        }
    }

    /// Checks the schema name (it is written into SQL).
    ///
    /// # Errors
    /// The name is not a plain lower-case identifier.
    pub fn validate(&self) -> Result<(), HistoryError> {
        let s = &self.schema;
        let ok = s.len() <= 63
            && s.chars()
                .next()
                .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if ok {
            Ok(())
        } else {
            Err(HistoryError::Config(format!(
                "schema: {s:?} must be 1-63 of a-z, 0-9 and '_', not starting with a digit"
            )))
        }
    }
}

/// The projector's name in `position`.
const PROJECTOR: &str = "events";

/// A connection to the event store.
pub struct History {
    client: Client,
    schema: String,
    assets: Vec<(String, Decimals)>,
    /// Decimals and last price of each asset, to value bad debt along the log.
    prices: Prices,
}

impl std::fmt::Debug for History {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("History")
            .field("schema", &self.schema)
            .finish_non_exhaustive()
    }
}

impl History {
    /// Connects (on the current Tokio runtime) to read: the queries, on tables the projector
    /// has created.
    ///
    /// # Errors
    /// The configuration is invalid or the database refused the connection.
    pub async fn open(config: &HistoryConfig) -> Result<Self, HistoryError> {
        config.validate()?;
        let (client, connection) = tokio_postgres::connect(&config.url, NoTls).await?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::warn!("postgres connection: {e}");
            }
        });
        Ok(Self {
            client,
            schema: config.schema.clone(),
            assets: Vec::new(),
            prices: Prices::default(),
        })
    }

    /// Connects to project: creates the schema and tables if missing, and loads the assets
    /// and prices projected so far.
    ///
    /// # Errors
    /// The database refused the connection or the schema.
    pub async fn connect(config: &HistoryConfig) -> Result<Self, HistoryError> {
        let mut history = Self::open(config).await?;
        history
            .client
            .batch_execute(&schema_sql(&history.schema))
            .await?;
        history.load_assets().await?;
        Ok(history)
    }

    async fn load_assets(&mut self) -> Result<(), HistoryError> {
        let rows = self
            .client
            .query(
                &format!(
                    "SELECT id, symbol, decimals FROM {}.assets ORDER BY id",
                    self.schema
                ),
                &[],
            )
            .await?;
        self.assets.clear();
        for r in rows {
            let (id, symbol, decimals): (i32, String, i16) = (r.get(0), r.get(1), r.get(2));
            let d = u8::try_from(decimals)
                .ok()
                .and_then(Decimals::new)
                .ok_or_else(|| HistoryError::Config(format!("asset {id}: decimals {decimals}")))?;
            if usize::try_from(id).ok() != Some(self.assets.len()) {
                return Err(HistoryError::Config(format!(
                    "the assets table skips to id {id}: it was not written by this projector"
                )));
            }
            self.assets.push((symbol, d));
        }
        let last = self
            .client
            .query(
                &format!(
                    "SELECT DISTINCT ON (asset) asset, price_raw FROM {}.prices
                     ORDER BY asset, seq DESC, idx DESC",
                    self.schema
                ),
                &[],
            )
            .await?;
        let price_of = |symbol: &str| {
            last.iter()
                .find(|r| r.get::<_, String>(0) == symbol)
                .and_then(|r| r.get::<_, String>(1).parse().ok())
                .map(Price::from_raw)
        };
        self.prices = Prices::from_assets(
            self.assets
                .iter()
                .map(|(symbol, d)| (*d, price_of(symbol)))
                .collect(),
        );
        Ok(())
    }

    /// The activity (calls, repaid, borrower loss, perp steps, bad debt) summed in buckets of
    /// `bucket_s` engine seconds, and its totals, through the projector's position.
    ///
    /// # Errors
    /// The database failed.
    pub async fn activity(
        &self,
        bucket_s: u64,
    ) -> Result<(Tally, std::collections::BTreeMap<u64, Tally>), HistoryError> {
        let rows = self
            .client
            .query(
                &format!(
                    "SELECT timestamp_s - timestamp_s % $1 AS b, sum(liquidations)::bigint,
                            sum(perp_steps)::bigint, sum(repaid_usd), sum(borrower_loss_usd),
                            sum(bad_debt_usd)
                     FROM {}.activity GROUP BY b ORDER BY b",
                    self.schema
                ),
                &[&i64_of(bucket_s.max(1))],
            )
            .await?;
        let mut totals = Tally::default();
        let mut buckets = std::collections::BTreeMap::new();
        for r in rows {
            let count = |i: usize| u64::try_from(r.get::<_, i64>(i)).unwrap_or(0);
            let t = Tally {
                liquidations: count(1),
                perp_steps: count(2),
                repaid_usd: r.get(3),
                borrower_loss_usd: r.get(4),
                bad_debt_usd: r.get(5),
            };
            totals.add(&t);
            buckets.insert(u64::try_from(r.get::<_, i64>(0)).unwrap_or(0), t);
        }
        Ok((totals, buckets))
    }

    /// The last entry projected (0 when none).
    ///
    /// # Errors
    /// The database failed.
    pub async fn position(&self) -> Result<u64, HistoryError> {
        let row = self
            .client
            .query_opt(
                &format!("SELECT seq FROM {}.position WHERE name = $1", self.schema),
                &[&PROJECTOR],
            )
            .await?;
        Ok(row.map_or(0, |r| u64::try_from(r.get::<_, i64>(0)).unwrap_or(0)))
    }

    /// The listed assets as projected so far.
    #[must_use]
    pub fn assets(&self) -> &AssetNames {
        &self.assets
    }

    /// Writes `entries` (consecutive, after the position) and moves the position to the last,
    /// in one transaction.
    ///
    /// # Errors
    /// The database failed (nothing of the batch is then written).
    pub async fn project(&mut self, entries: &[Entry]) -> Result<(), HistoryError> {
        let Some(last) = entries.last() else {
            return Ok(());
        };
        let mut rows = Rows::default();
        let mut assets = self.assets.clone();
        let mut prices = self.prices.clone();
        for e in entries {
            rows.entry(e, &mut assets);
            rows.tally(e, &mut prices);
        }
        let s = self.schema.clone();
        let tx = self.client.transaction().await?;
        tx.execute(
            &format!(
                "INSERT INTO {s}.entries (seq, timestamp_s, kind, command)
                 SELECT * FROM UNNEST($1::bigint[], $2::bigint[], $3::text[], $4::jsonb[])
                 ON CONFLICT DO NOTHING"
            ),
            &[&rows.seq, &rows.time, &rows.kind, &rows.command],
        )
        .await?;
        let ev = &rows.events;
        tx.execute(
            &format!(
                "INSERT INTO {s}.events (seq, idx, timestamp_s, kind, account, asset, body)
                 SELECT * FROM UNNEST($1::bigint[], $2::int[], $3::bigint[], $4::text[],
                                      $5::bigint[], $6::text[], $7::jsonb[])
                 ON CONFLICT DO NOTHING"
            ),
            &[
                &ev.seq,
                &ev.idx,
                &ev.time,
                &ev.kind,
                &ev.account,
                &ev.asset,
                &ev.body,
            ],
        )
        .await?;
        let p = &rows.prices;
        tx.execute(
            &format!(
                "INSERT INTO {s}.prices (seq, idx, timestamp_s, asset, price, published_s, price_raw)
                 SELECT seq, idx, t, asset, price::numeric, published, raw
                 FROM UNNEST($1::bigint[], $2::int[], $3::bigint[], $4::text[], $5::text[],
                             $6::bigint[], $7::text[]) AS u(seq, idx, t, asset, price, published, raw)
                 ON CONFLICT DO NOTHING"
            ),
            &[&p.seq, &p.idx, &p.time, &p.asset, &p.price, &p.published, &p.raw],
        )
        .await?;
        insert_liquidations(&tx, &s, &rows.liquidations).await?;
        for (id, (symbol, d)) in assets.iter().enumerate().skip(self.assets.len()) {
            tx.execute(
                &format!(
                    "INSERT INTO {s}.assets (id, symbol, decimals) VALUES ($1, $2, $3)
                     ON CONFLICT DO NOTHING"
                ),
                &[
                    &i32::try_from(id).unwrap_or(i32::MAX),
                    symbol,
                    &i16::from(d.get()),
                ],
            )
            .await?;
        }
        tx.execute(
            &format!(
                "INSERT INTO {s}.position (name, seq) VALUES ($1, $2)
                 ON CONFLICT (name) DO UPDATE SET seq = GREATEST({s}.position.seq, EXCLUDED.seq)"
            ),
            &[&PROJECTOR, &i64_of(last.seq)],
        )
        .await?;
        let a = &rows.activity;
        tx.execute(
            &format!(
                "INSERT INTO {s}.activity SELECT * FROM UNNEST($1::bigint[], $2::bigint[],
                     $3::int[], $4::int[], $5::float8[], $6::float8[], $7::float8[])
                 ON CONFLICT DO NOTHING"
            ),
            &[
                &a.seq,
                &a.time,
                &a.liquidations,
                &a.perp_steps,
                &a.repaid,
                &a.loss,
                &a.bad_debt,
            ],
        )
        .await?;
        tx.commit().await?;
        self.assets = assets;
        self.prices = prices;
        Ok(())
    }

    /// Liquidation rows between `from_s` and `to_s` (engine time, included), oldest first, as
    /// the CSV export writes them; at most `limit`, after entry `after`.
    ///
    /// # Errors
    /// The database failed.
    pub async fn liquidations(
        &self,
        from_s: u64,
        to_s: u64,
        after: (u64, u32),
        limit: usize,
    ) -> Result<Vec<(u64, u32, Vec<String>)>, HistoryError> {
        let s = &self.schema;
        let rows = self
            .client
            .query(
                &format!(
                    "SELECT seq, idx, timestamp_s, borrower, liquidator, policy, debt_asset,
                            collateral_asset, repaid::text, repaid_usd::text, seized::text,
                            seized_usd::text, to_liquidator::text, to_treasury::text,
                            liquidator_usd::text, borrower_loss_usd::text, penalty::text,
                            discount::text, health_before::text, health_after::text,
                            liquidatable_after
                     FROM {s}.liquidations
                     WHERE timestamp_s BETWEEN $1 AND $2 AND (seq, idx) > ($3, $4)
                     ORDER BY seq, idx LIMIT $5"
                ),
                &[
                    &i64_of(from_s),
                    &i64_of(to_s),
                    &i64_of(after.0),
                    &i32::try_from(after.1).unwrap_or(i32::MAX),
                    &i64::try_from(limit).unwrap_or(i64::MAX),
                ],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| {
                let seq = u64::try_from(r.get::<_, i64>(0)).unwrap_or(0);
                let idx = u32::try_from(r.get::<_, i32>(1)).unwrap_or(0);
                let t = u64::try_from(r.get::<_, i64>(2)).unwrap_or(0);
                let text = |i: usize| r.get::<_, Option<String>>(i).unwrap_or_default();
                let mut row = vec![
                    seq.to_string(),
                    t.to_string(),
                    crate::row::utc(t),
                    r.get::<_, i64>(3).to_string(),
                    r.get::<_, i64>(4).to_string(),
                ];
                row.extend((5..=19).map(text));
                row.push(r.get::<_, bool>(20).to_string());
                (seq, idx, row)
            })
            .collect())
    }

    /// The client, for ad-hoc queries.
    #[must_use]
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The schema holding the tables.
    #[must_use]
    pub fn schema(&self) -> &str {
        &self.schema
    }
}

/// Inserts liquidation rows (each the CSV's columns, then the event's index).
async fn insert_liquidations(
    tx: &tokio_postgres::Transaction<'_>,
    s: &str,
    rows: &[Vec<String>],
) -> Result<(), HistoryError> {
    if rows.is_empty() {
        return Ok(());
    }
    // One text array per column (the CSV's 21, then the event's index), cast in SQL:
    // the numeric columns are exact decimals.
    let columns: Vec<Vec<Option<String>>> = (0..=crate::row::LIQUIDATION_COLUMNS.len())
        .map(|c| {
            rows.iter()
                .map(|r| r.get(c).filter(|v| !v.is_empty()).cloned())
                .collect()
        })
        .collect();
    let all: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> =
        columns.iter().map(|c| c as _).collect();
    let sql = format!(
        "INSERT INTO {s}.liquidations
             SELECT c1::bigint, c22::int, c2::bigint, c3::timestamptz, c4::bigint, c5::bigint,
                    c6, c7, c8, c9::numeric, c10::numeric, c11::numeric, c12::numeric,
                    c13::numeric, c14::numeric, c15::numeric, c16::numeric, c17::numeric,
                    c18::numeric, c19::numeric, c20::numeric, c21::boolean
             FROM UNNEST({}) AS u({})
             ON CONFLICT DO NOTHING",
        (1..=22)
            .map(|i| format!("${i}::text[]"))
            .collect::<Vec<_>>()
            .join(", "),
        (1..=22)
            .map(|i| format!("c{i}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    tx.execute(&sql, &all).await?;
    Ok(())
}

/// The DDL of schema `s`.
fn schema_sql(s: &str) -> String {
    format!(
        "CREATE SCHEMA IF NOT EXISTS {s};
         CREATE TABLE IF NOT EXISTS {s}.entries (
             seq bigint PRIMARY KEY, timestamp_s bigint NOT NULL, kind text NOT NULL,
             command jsonb NOT NULL);
         CREATE INDEX IF NOT EXISTS entries_time ON {s}.entries (timestamp_s);
         CREATE TABLE IF NOT EXISTS {s}.events (
             seq bigint NOT NULL, idx int NOT NULL, timestamp_s bigint NOT NULL,
             kind text NOT NULL, account bigint, asset text, body jsonb NOT NULL,
             PRIMARY KEY (seq, idx));
         CREATE INDEX IF NOT EXISTS events_kind_time ON {s}.events (kind, timestamp_s);
         CREATE INDEX IF NOT EXISTS events_account ON {s}.events (account, seq)
             WHERE account IS NOT NULL;
         CREATE INDEX IF NOT EXISTS events_asset ON {s}.events (asset, kind, timestamp_s)
             WHERE asset IS NOT NULL;
         CREATE TABLE IF NOT EXISTS {s}.liquidations (
             seq bigint NOT NULL, idx int NOT NULL, timestamp_s bigint NOT NULL,
             time_utc timestamptz NOT NULL, borrower bigint NOT NULL, liquidator bigint NOT NULL,
             policy text NOT NULL, debt_asset text NOT NULL, collateral_asset text NOT NULL,
             repaid numeric NOT NULL, repaid_usd numeric NOT NULL, seized numeric NOT NULL,
             seized_usd numeric NOT NULL, to_liquidator numeric NOT NULL,
             to_treasury numeric NOT NULL, liquidator_usd numeric NOT NULL,
             borrower_loss_usd numeric NOT NULL, penalty numeric NOT NULL,
             discount numeric NOT NULL, health_before numeric, health_after numeric,
             liquidatable_after boolean NOT NULL,
             PRIMARY KEY (seq, idx));
         CREATE INDEX IF NOT EXISTS liquidations_time ON {s}.liquidations (timestamp_s);
         CREATE INDEX IF NOT EXISTS liquidations_borrower ON {s}.liquidations (borrower, seq);
         CREATE TABLE IF NOT EXISTS {s}.prices (
             seq bigint NOT NULL, idx int NOT NULL, timestamp_s bigint NOT NULL,
             asset text NOT NULL, price numeric NOT NULL, published_s bigint NOT NULL,
             price_raw text NOT NULL,
             PRIMARY KEY (seq, idx));
         CREATE INDEX IF NOT EXISTS prices_asset_time ON {s}.prices (asset, timestamp_s);
         CREATE TABLE IF NOT EXISTS {s}.assets (
             id int PRIMARY KEY, symbol text NOT NULL, decimals smallint NOT NULL);
         CREATE TABLE IF NOT EXISTS {s}.position (name text PRIMARY KEY, seq bigint NOT NULL);
         CREATE TABLE IF NOT EXISTS {s}.activity (
             seq bigint PRIMARY KEY, timestamp_s bigint NOT NULL, liquidations int NOT NULL,
             perp_steps int NOT NULL, repaid_usd float8 NOT NULL,
             borrower_loss_usd float8 NOT NULL, bad_debt_usd float8 NOT NULL);
         CREATE INDEX IF NOT EXISTS activity_time ON {s}.activity (timestamp_s);
         CREATE OR REPLACE VIEW {s}.bad_debt AS
             SELECT seq, idx, timestamp_s, account, body FROM {s}.events
             WHERE kind = 'bad_debt';
         CREATE OR REPLACE VIEW {s}.account_changes AS
             SELECT seq, idx, timestamp_s, kind, account, asset, body FROM {s}.events
             WHERE kind IN ('account_opened', 'deposited', 'withdrawn', 'borrowed', 'repaid',
                            'liquidated', 'absorbed', 'bad_debt');"
    )
}
