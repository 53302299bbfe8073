//! [`Feed`]: the log read in order from any entry on, as it grows: recovery reads it to the
//! tail, a follower reads it forever. It finds the message holding the first wanted entry by
//! binary search over the stream's sequence numbers (each message's headers name its run, and
//! runs grow along the stream), then reads on with an ordered consumer, which JetStream
//! delivers in stream order and the client restarts from the last message seen on any gap.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::consumer::{DeliverPolicy, pull};
use async_nats::jetstream::stream;
use futures_util::StreamExt;
use softliq_node::{Entry, StoreError};

use crate::frame;
use crate::link::{Link, remote};

/// The first and last entries of the message at `stream_seq`, and its writer.
///
/// # Errors
/// JetStream failed, or the message's headers do not name its run.
pub fn run_at(
    link: &Link,
    stream: &stream::Stream,
    stream_seq: u64,
) -> Result<(u64, u64, String), StoreError> {
    let msg = link.wait("read a log message", stream.get_raw_message(stream_seq))?;
    let headers = Some(&msg.headers);
    let first = frame::number(headers, frame::FIRST, stream_seq)?;
    let last = frame::number(headers, frame::LAST, stream_seq)?;
    let writer = msg
        .headers
        .get(frame::WRITER)
        .map(|v| v.as_str().to_string())
        .unwrap_or_default();
    Ok((first, last, writer))
}

/// The stream sequence of the first message whose run ends after entry `after` (the end of
/// the stream plus one when there is none yet), and the stream's last sequence now.
fn locate(link: &Link, stream: &stream::Stream, after: u64) -> Result<(u64, u64), StoreError> {
    let info = link.wait("read the log's state", stream.get_info())?;
    let (first, last) = (info.state.first_sequence.max(1), info.state.last_sequence);
    let (mut lo, mut hi) = (first, last + 1);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        let (_, end, _) = run_at(link, stream, mid)?;
        if end > after {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    Ok((lo, last))
}

/// The entries of one log message that were wanted.
#[derive(Debug)]
pub struct Run {
    pub stream_seq: u64,
    /// Messages after this one in the stream when it was delivered (the reader's lag).
    pub pending: u64,
    pub entries: Vec<Entry>,
}

/// The log from an entry on.
pub struct Feed {
    link: Arc<Link>,
    messages: pull::Ordered,
    /// The next entry wanted.
    next: u64,
    /// The last message read (the one before the first wanted, at the start).
    stream_seq: u64,
    /// The stream's last message when the feed was opened.
    end_at_open: u64,
}

impl std::fmt::Debug for Feed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Feed")
            .field("next", &self.next)
            .field("stream_seq", &self.stream_seq)
            .finish_non_exhaustive()
    }
}

impl Feed {
    /// The log after entry `after`.
    ///
    /// # Errors
    /// JetStream failed.
    pub fn open(link: Arc<Link>, stream: stream::Stream, after: u64) -> Result<Self, StoreError> {
        let (start, end_at_open) = locate(&link, &stream, after)?;
        let messages = link.wait("follow the log", async move {
            stream
                .create_consumer(pull::OrderedConfig {
                    deliver_policy: DeliverPolicy::ByStartSequence {
                        start_sequence: start,
                    },
                    ..Default::default()
                })
                .await?
                .messages()
                .await
                .map_err(async_nats::Error::from)
        })?;
        Ok(Self {
            link,
            messages,
            next: after + 1,
            stream_seq: start - 1,
            end_at_open,
        })
    }

    /// The last message read.
    #[must_use]
    pub fn stream_seq(&self) -> u64 {
        self.stream_seq
    }

    /// The stream's last message when the feed was opened (where a read to the end stops).
    #[must_use]
    pub fn end_at_open(&self) -> u64 {
        self.end_at_open
    }

    /// The next entry wanted (one past the last delivered).
    #[must_use]
    pub fn next_seq(&self) -> u64 {
        self.next
    }

    /// The next message's wanted entries, or `None` when none arrives within `wait`.
    ///
    /// # Errors
    /// JetStream failed, a message does not decode, or the log skips an entry.
    pub fn next_run(&mut self, wait: Duration) -> Result<Option<Run>, StoreError> {
        let messages = &mut self.messages;
        let got = self
            .link
            .block_on(async { tokio::time::timeout(wait, messages.next()).await });
        let msg = match got {
            Err(_) => return Ok(None),
            Ok(None) => return Err(remote("follow the log", "the consumer ended")),
            Ok(Some(msg)) => msg.map_err(|e| remote("follow the log", e))?,
        };
        let info = msg.info().map_err(|e| remote("follow the log", e))?;
        let (stream_seq, pending) = (info.stream_sequence, info.pending);
        let headers = msg.headers.as_ref();
        let first = frame::number(headers, frame::FIRST, stream_seq)?;
        let last = frame::number(headers, frame::LAST, stream_seq)?;
        let mut entries = frame::decode(&msg.payload, first, last)?;
        entries.retain(|e| e.seq >= self.next);
        if let Some(e) = entries.first().filter(|e| e.seq != self.next) {
            return Err(StoreError::Damaged(format!(
                "the log jumps from entry {} to {} at stream message {stream_seq}",
                self.next - 1,
                e.seq
            )));
        }
        self.next += entries.len() as u64;
        self.stream_seq = stream_seq;
        Ok(Some(Run {
            stream_seq,
            pending,
            entries,
        }))
    }
}
