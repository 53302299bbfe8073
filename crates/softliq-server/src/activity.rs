//! Liquidation activity over engine time, for the dashboard's history charts and its counters:
//! liquidation calls, debt repaid, borrower loss, perp steps and bad debt, summed into buckets
//! of [`BUCKET_S`] engine seconds.
//!
//! Fed by the node's observer for every entry written after start, and by a background pass
//! over the log written before it (so a restart keeps the history and the totals count every
//! liquidation ever made, without holding up the start). USD figures of bad debt use the last
//! price accepted before it, tracked along the log (display figures: floats).

use std::collections::BTreeMap;
use std::sync::Mutex;

use softliq_api::queries::{ActivityView, Span, Tally};
use softliq_engine::Engine;
use softliq_history::activity::Prices;
use softliq_node::Entry;

/// Width of a stored bucket, engine seconds.
pub const BUCKET_S: u64 = 300;

#[derive(Default)]
struct Inner {
    totals: Tally,
    buckets: BTreeMap<u64, Tally>,
    /// The log written before start has been counted.
    complete: bool,
}

/// The activity of the whole log.
#[derive(Default)]
pub struct Activity {
    inner: Mutex<Inner>,
    live: Mutex<Prices>,
}

impl std::fmt::Debug for Activity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Activity").finish_non_exhaustive()
    }
}

impl Activity {
    /// Starts the live side at the engine's state after recovery.
    #[must_use]
    pub fn new(engine: &Engine) -> Self {
        Self {
            inner: Mutex::default(),
            live: Mutex::new(Prices::of(engine)),
        }
    }

    fn add(&self, timestamp_s: u64, t: &Tally) {
        if t.is_empty() {
            return;
        }
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.totals.add(t);
        let bucket = timestamp_s - timestamp_s % BUCKET_S;
        inner.buckets.entry(bucket).or_default().add(t);
    }

    /// Counts entries written after start (the node's observer).
    pub fn observe(&self, entries: &[Entry]) {
        let mut prices = self.live.lock().unwrap_or_else(|e| e.into_inner());
        for e in entries {
            let t = prices.tally(e);
            self.add(e.command.timestamp_s, &t);
        }
    }

    /// Counts the log up to `head` through `page(after, limit)` (a reader of its own; run on a
    /// thread of its own), then marks the activity complete.
    ///
    /// # Errors
    /// The store failed; what was counted stays.
    pub fn backfill(
        &self,
        head: u64,
        mut page: impl FnMut(u64, usize) -> Result<Vec<Entry>, String>,
    ) -> Result<(), String> {
        let mut prices = Prices::default();
        let mut after = 0;
        while after < head {
            let entries = page(after, 1_000)?;
            let Some(last) = entries.last() else { break };
            after = last.seq;
            for e in entries.iter().filter(|e| e.seq <= head) {
                let t = prices.tally(e);
                self.add(e.command.timestamp_s, &t);
            }
        }
        self.inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .complete = true;
        Ok(())
    }

    /// The totals and the series between `from_s` and `to_s` (default: the whole history) in
    /// at most `spans` spans of equal width (a multiple of [`BUCKET_S`]).
    #[must_use]
    pub fn view(&self, from_s: Option<u64>, to_s: Option<u64>, spans: u64) -> ActivityView {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        view_of(
            inner.totals,
            &inner.buckets,
            inner.complete,
            (from_s, to_s),
            spans,
        )
    }
}

/// The view of `buckets` (of [`BUCKET_S`] each, by start) between `from_s` and `to_s` in at most
/// `spans` spans: the one shape for the activity counted here and the one read from the event
/// store.
#[must_use]
pub fn view_of(
    totals: Tally,
    buckets: &BTreeMap<u64, Tally>,
    complete: bool,
    (from_s, to_s): (Option<u64>, Option<u64>),
    spans: u64,
) -> ActivityView {
    let first = buckets.keys().next().copied().unwrap_or(0);
    let last = buckets.keys().next_back().copied().unwrap_or(0);
    let from = from_s.map_or(first, |f| f - f % BUCKET_S);
    let to = to_s.unwrap_or(last).max(from);
    let width = (to - from + BUCKET_S).div_ceil(spans.max(1));
    let span_s = width.div_ceil(BUCKET_S).max(1) * BUCKET_S;
    let mut series: Vec<Span> = Vec::new();
    for (start, t) in buckets.range(from..=to) {
        let at = from + (start - from) / span_s * span_s;
        match series.last_mut() {
            Some(s) if s.start_s == at => s.tally.add(t),
            _ => series.push(Span {
                start_s: at,
                tally: *t,
            }),
        }
    }
    ActivityView {
        totals,
        complete,
        span_s,
        series,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_sum_the_buckets_they_cover() {
        let a = Activity::default();
        let one = Tally {
            liquidations: 1,
            repaid_usd: 10.0,
            ..Tally::default()
        };
        for t in [0, 299, 300, 900, 3_000] {
            a.add(t, &one);
        }
        let v = a.view(None, None, 100);
        assert_eq!(v.totals.liquidations, 5);
        assert_eq!(v.span_s, BUCKET_S);
        let counts: Vec<(u64, u64)> = v
            .series
            .iter()
            .map(|s| (s.start_s, s.tally.liquidations))
            .collect();
        assert_eq!(counts, vec![(0, 2), (300, 1), (900, 1), (3_000, 1)]);
        // Two spans over the buckets 0..3,300: 1,650 s each, rounded up to whole buckets.
        let v = a.view(None, None, 2);
        assert_eq!(v.span_s, 1_800);
        let counts: Vec<u64> = v.series.iter().map(|s| s.tally.liquidations).collect();
        assert_eq!(counts, vec![4, 1]);
        assert_eq!(
            v.series.iter().map(|s| s.tally.liquidations).sum::<u64>(),
            5
        );
        // A range keeps its buckets only; totals stay whole.
        let v = a.view(Some(300), Some(900), 10);
        assert_eq!(
            v.series.iter().map(|s| s.tally.liquidations).sum::<u64>(),
            2
        );
        assert_eq!(v.totals.liquidations, 5);
    }
}
