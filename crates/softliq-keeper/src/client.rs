//! The keeper's HTTP client: the server's own request and response types (`softliq-api`), so a
//! renamed or retyped field fails the build here as it does in the server, instead of a
//! string path that silently reads nothing.

use serde::Serialize;
use serde::de::DeserializeOwned;
use softliq_api::auctions::{AuctionRow, AuctionsView};
use softliq_api::commands::CommandOutcome;
use softliq_api::error::ErrorBody;
use softliq_api::perps::{PerpQueueRow, PerpQueueView};
use softliq_api::queries::{AtRiskRow, AtRiskView};

use crate::{Keeper, err};

/// What the server answered a command.
#[derive(Debug)]
pub(crate) enum Answer {
    /// Durable: its sequence number and events.
    Done(CommandOutcome),
    /// Refused (4xx) with the reason.
    Refused(u16, ErrorBody),
    /// No decision (5xx, or a body that is not the API's): worth a retry.
    Failed(u16, String),
}

/// One page of a paged list: its rows, and the cursor to pass as `after` for the next.
pub(crate) trait Page: DeserializeOwned {
    type Row: DeserializeOwned;
    /// Takes the page's rows out (the page keeps its other fields).
    fn take_rows(&mut self) -> Vec<Self::Row>;
    /// `None` on the last page.
    fn next(&self) -> Option<String>;
}

impl Page for AtRiskView {
    type Row = AtRiskRow;
    fn take_rows(&mut self) -> Vec<AtRiskRow> {
        std::mem::take(&mut self.accounts)
    }
    fn next(&self) -> Option<String> {
        self.next.clone()
    }
}

impl Page for AuctionsView {
    type Row = AuctionRow;
    fn take_rows(&mut self) -> Vec<AuctionRow> {
        std::mem::take(&mut self.auctions)
    }
    fn next(&self) -> Option<String> {
        self.next.map(|n| n.to_string())
    }
}

impl Page for PerpQueueView {
    type Row = PerpQueueRow;
    fn take_rows(&mut self) -> Vec<PerpQueueRow> {
        std::mem::take(&mut self.accounts)
    }
    fn next(&self) -> Option<String> {
        self.next.clone()
    }
}

impl Keeper {
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.config.url.trim_end_matches('/'))
    }

    /// Sends one command.
    ///
    /// # Errors
    /// The server could not be reached.
    pub(crate) async fn post(
        &self,
        path: &str,
        key: &str,
        body: &impl Serialize,
    ) -> Result<Answer, String> {
        let resp = self
            .http
            .post(self.url(path))
            .bearer_auth(&self.config.token)
            .header("Idempotency-Key", key)
            .json(body)
            .send()
            .await
            .map_err(|e| err(path, e))?;
        let status = resp.status().as_u16();
        let text = resp.text().await.map_err(|e| err(path, e))?;
        Ok(match status {
            200 => serde_json::from_str(&text).map_or_else(
                |e| Answer::Failed(status, format!("undecodable outcome: {e}: {text}")),
                Answer::Done,
            ),
            400..=499 => serde_json::from_str(&text).map_or_else(
                |e| Answer::Failed(status, format!("undecodable refusal: {e}: {text}")),
                |body| Answer::Refused(status, body),
            ),
            _ => Answer::Failed(status, text),
        })
    }

    /// Reads `path`: the status, and the body when it is 200.
    ///
    /// # Errors
    /// The server could not be reached, or a 200 body is not a `T`.
    pub(crate) async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
    ) -> Result<(u16, Option<T>), String> {
        let resp = self
            .http
            .get(self.url(path))
            .send()
            .await
            .map_err(|e| err(path, e))?;
        let status = resp.status().as_u16();
        if status != 200 {
            return Ok((status, None));
        }
        Ok((status, Some(resp.json().await.map_err(|e| err(path, e))?)))
    }

    /// Every page of the list at `path` (which has a query string), following `next` as
    /// `after`, up to `rows_max` rows; with the first page (rows taken out) for the list's
    /// other fields. `None` when the first page is refused.
    ///
    /// # Errors
    /// As [`Keeper::get`].
    pub(crate) async fn get_all<P: Page>(
        &self,
        path: &str,
        rows_max: usize,
    ) -> Result<Option<(P, Vec<P::Row>)>, String> {
        let (_, Some(mut first)) = self.get::<P>(path).await? else {
            return Ok(None);
        };
        let mut rows = first.take_rows();
        let mut next = first.next();
        while let Some(after) = next.take() {
            if rows.len() >= rows_max {
                break;
            }
            let (_, Some(mut page)) = self.get::<P>(&format!("{path}&after={after}")).await? else {
                break;
            };
            rows.extend(page.take_rows());
            next = page.next();
        }
        rows.truncate(rows_max);
        Ok(Some((first, rows)))
    }

    /// Submits a command with up to three attempts under one idempotency key: `Some(outcome)`
    /// when accepted, `None` when refused (logged and counted as failed).
    ///
    /// # Errors
    /// No answer but 5xx or transport errors after three attempts.
    pub(crate) async fn submit(
        &self,
        path: &str,
        key: &str,
        body: &impl Serialize,
    ) -> Result<Option<CommandOutcome>, String> {
        let mut last = String::new();
        for attempt in 0..3u32 {
            match self.post(path, key, body).await {
                Ok(Answer::Done(out)) => return Ok(Some(out)),
                Ok(Answer::Refused(status, out)) => {
                    let e = &out.error;
                    if e.code == "stale_price" {
                        // Its view was fresher than the engine's by the time the call arrived.
                        tracing::debug!(
                            path,
                            field = e.field,
                            message = e.message,
                            "keeper: wait: stale price"
                        );
                        self.saw_stale();
                        return Ok(None);
                    }
                    tracing::info!(
                        path,
                        status,
                        code = e.code,
                        field = e.field,
                        message = e.message,
                        "keeper: refused"
                    );
                    self.stats().failed += 1;
                    return Ok(None);
                }
                Ok(Answer::Failed(status, text)) => last = format!("{status}: {text}"),
                Err(e) => last = e,
            }
            tokio::time::sleep(std::time::Duration::from_millis(100 << attempt)).await;
        }
        self.stats().failed += 1;
        Err(format!("keeper: {path}: gave up after 3 attempts: {last}"))
    }
}
