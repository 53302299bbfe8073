//! [`JetStreamStore`]: the command log on a JetStream stream, behind the node's `Store` trait.
//!
//! **Appending.** Each group-commit batch is published as one message (several when it
//! exceeds the server's payload limit; see `frame.rs`), and `append` returns only once
//! JetStream has acknowledged every message: in a cluster that is once a quorum of the
//! stream's replicas has stored it, so an acknowledged command survives the loss of any one
//! server of three. Every publish carries two guards:
//!
//! - a **message id** naming its run of entries, so a publish repeated after a lost
//!   acknowledgement (within the stream's two-minute duplicate window) is stored once;
//! - the **expected last stream sequence**: the publish is refused unless the stream ends
//!   where this writer last saw it end. That is the fencing token. A new writer first appends
//!   a fence (a message with no entries) after the last message it has applied; from then on
//!   every append of the old writer is refused, however long it was paused, so two writers can
//!   never interleave. When a publish is refused this way, the store reads the stream's tail:
//!   messages appended by this same writer (a publish that landed but whose acknowledgement
//!   was lost) are adopted, anything else is reported as [`StoreError::Fenced`].
//!
//! **Snapshots** go to an object-store bucket (one object, `latest`, replaced each time, with
//! its sequence number in the description): a snapshot is a cache, the log is authoritative,
//! and the snapshot is written after the entries it covers, so a crash between the two leaves
//! the older snapshot and a longer replay, never a snapshot ahead of the log.
//!
//! **Reading** finds the message holding the first wanted entry by binary search over the
//! stream's sequence numbers (each message's headers name its run), then reads on with an
//! ordered consumer up to the stream's last message at the time of the call.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::context::PublishErrorKind;
use async_nats::jetstream::object_store::{self, ObjectMetadata};
use async_nats::jetstream::stream;
use softliq_node::{Entry, Store, StoreError};
use tokio::io::AsyncReadExt;

use crate::config::LogConfig;
use crate::feed::{self, Feed};
use crate::frame::{self, Frame};
use crate::link::{Link, remote};

/// The object holding the latest snapshot.
const SNAPSHOT_OBJECT: &str = "latest";
/// How long a read of one message or the snapshot may take.
const READ_DEADLINE: Duration = Duration::from_secs(600);

/// Where the log ends: its last message's stream sequence and last entry.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tip {
    pub stream_seq: u64,
    pub seq: u64,
}

/// What became of a publish.
enum Sent {
    Stored(Tip),
    /// Refused: the stream does not end where the publish expected.
    MovedOn,
}

/// The command log on JetStream.
pub struct JetStreamStore {
    link: Arc<Link>,
    config: LogConfig,
    stream: stream::Stream,
    snapshots: object_store::ObjectStore,
    /// This process's identity in the log: the node's name and a number drawn at start, so a
    /// restarted node never mistakes its predecessor's messages for its own.
    writer: String,
    /// Where this writer last saw the log end; `None` until it has claimed the tail.
    tip: Option<Tip>,
    /// Where the log ended when this writer claimed it: entries up to there are not its own.
    claimed: Option<Tip>,
    /// Set once another writer has fenced this one: it never appends again.
    fenced: Option<String>,
    payload_max_bytes: usize,
}

impl std::fmt::Debug for JetStreamStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JetStreamStore")
            .field("stream", &self.config.stream)
            .field("writer", &self.writer)
            .field("tip", &self.tip)
            .finish_non_exhaustive()
    }
}

impl JetStreamStore {
    /// Connects and creates the stream and the snapshot bucket if they do not exist.
    ///
    /// # Errors
    /// No server answers, or JetStream refuses the stream (another stream already takes
    /// its subject, say).
    pub fn open(config: &LogConfig) -> Result<Self, StoreError> {
        let link = Arc::new(Link::connect(config)?);
        let stream = link.wait(
            "create the log stream",
            link.js.get_or_create_stream(stream::Config {
                name: config.stream.clone(),
                subjects: vec![config.subject()],
                num_replicas: config.replicas,
                storage: stream::StorageType::File,
                duplicate_window: Duration::from_secs(120),
                ..Default::default()
            }),
        )?;
        let bucket = config.snapshot_bucket();
        let snapshots = match link.wait(
            "open the snapshot bucket",
            link.js.get_object_store(&bucket),
        ) {
            Ok(s) => s,
            Err(_) => link.wait(
                "create the snapshot bucket",
                link.js.create_object_store(object_store::Config {
                    bucket: bucket.clone(),
                    num_replicas: config.replicas,
                    storage: stream::StorageType::File,
                    ..Default::default()
                }),
            )?,
        };
        let payload_max_bytes = link.client.server_info().max_payload;
        let mut store = Self {
            writer: format!("{}/{:016x}", config.node, rand::random::<u64>()),
            link,
            config: config.clone(),
            stream,
            snapshots,
            tip: None,
            claimed: None,
            fenced: None,
            payload_max_bytes,
        };
        store.begin()?;
        Ok(store)
    }

    /// Gives an empty log its first message, an empty run under one message id (two nodes
    /// starting together store it once): JetStream checks an expected last sequence only when
    /// it is above zero, so every later append must have a message before it to expect.
    fn begin(&mut self) -> Result<(), StoreError> {
        if self.stream_state()?.1 > 0 {
            return Ok(());
        }
        let start = frame::fence(0);
        let message = async_nats::jetstream::message::PublishMessage::build()
            .headers(start.headers(&self.writer))
            .message_id(start.id());
        let (js, subject) = (self.link.js.clone(), self.config.subject());
        self.link.wait("begin the log", async move {
            js.send_publish(subject, message)
                .await?
                .await
                .map_err(async_nats::Error::from)
        })?;
        Ok(())
    }

    /// The log after entry `after`, read on this store's connection.
    ///
    /// # Errors
    /// JetStream failed.
    pub fn feed(&self, after: u64) -> Result<Feed, StoreError> {
        Feed::open(self.link.clone(), self.stream.clone(), after)
    }

    /// Where the log ends now, read from the stream.
    ///
    /// # Errors
    /// JetStream failed, or the last message has no readable headers.
    pub fn read_tip(&mut self) -> Result<Tip, StoreError> {
        let last = self.stream_state()?.1;
        if last == 0 {
            return Ok(Tip::default());
        }
        let (_, seq, _) = self.run_at(last)?;
        Ok(Tip {
            stream_seq: last,
            seq,
        })
    }

    /// Takes the log's tail for this writer: appends a fence after `applied` (what this node
    /// has applied), refused if anything was appended after it. From then on, any other
    /// writer's append is refused.
    ///
    /// # Errors
    /// [`StoreError::Fenced`] when the log has moved past `applied` (apply the rest, then
    /// fence again), or JetStream failed.
    pub fn fence(&mut self, applied: Tip) -> Result<Tip, StoreError> {
        if let Some(why) = &self.fenced {
            return Err(StoreError::Fenced(why.clone()));
        }
        let tip = match self.send(&frame::fence(applied.seq), applied)? {
            Sent::Stored(tip) => tip,
            Sent::MovedOn => {
                return Err(StoreError::Fenced(format!(
                    "the log has moved past entry {} (stream message {}): apply the rest first",
                    applied.seq, applied.stream_seq
                )));
            }
        };
        self.tip = Some(tip);
        self.claimed = Some(applied);
        Ok(tip)
    }

    /// The stream's first and last sequence numbers (0, 0 when empty).
    fn stream_state(&mut self) -> Result<(u64, u64), StoreError> {
        let info = self.link.wait("read the log's state", self.stream.info())?;
        Ok((info.state.first_sequence, info.state.last_sequence))
    }

    /// The first and last entries of the message at `stream_seq`, and its writer.
    fn run_at(&mut self, stream_seq: u64) -> Result<(u64, u64, String), StoreError> {
        feed::run_at(&self.link, &self.stream, stream_seq)
    }

    /// Where the log ends for this writer: at its first append, a writer that has not fenced
    /// claims the tail where it finds it.
    fn tip(&mut self) -> Result<Tip, StoreError> {
        if let Some(why) = &self.fenced {
            return Err(StoreError::Fenced(why.clone()));
        }
        if let Some(tip) = self.tip {
            return Ok(tip);
        }
        let found = self.read_tip()?;
        self.fence(found)
    }

    /// Publishes `frame` after `tip`; the new tip once JetStream has stored it.
    fn publish(&mut self, frame: &Frame, tip: Tip) -> Result<Tip, StoreError> {
        match self.send(frame, tip)? {
            Sent::Stored(tip) => Ok(tip),
            Sent::MovedOn => Err(self.moved_on(tip)),
        }
    }

    /// Publishes `frame` after `tip`.
    fn send(&mut self, frame: &Frame, tip: Tip) -> Result<Sent, StoreError> {
        let message = async_nats::jetstream::message::PublishMessage::build()
            .payload(frame.payload.clone())
            .headers(frame.headers(&self.writer))
            .message_id(frame.id())
            .expected_last_sequence(tip.stream_seq);
        let subject = self.config.subject();
        let js = self.link.js.clone();
        let sent = self.link.block_on(async {
            tokio::time::timeout(self.link.timeout(), async {
                js.send_publish(subject, message).await?.await
            })
            .await
        });
        match sent {
            Ok(Ok(ack)) => Ok(Sent::Stored(Tip {
                stream_seq: ack.sequence.max(tip.stream_seq),
                seq: frame.last.max(tip.seq),
            })),
            Ok(Err(e)) if e.kind() == PublishErrorKind::WrongLastSequence => Ok(Sent::MovedOn),
            Ok(Err(e)) => Err(remote("append to the log", e)),
            Err(_) => Err(remote(
                "append to the log",
                format!("no acknowledgement in {:?}", self.link.timeout()),
            )),
        }
    }

    /// The log does not end at `tip`: adopts what this writer appended after it (publishes
    /// whose acknowledgement was lost); anything by another writer fences this one.
    fn moved_on(&mut self, tip: Tip) -> StoreError {
        match self.own_tail(tip) {
            Ok(now) => {
                self.tip = Some(now);
                StoreError::Remote(format!(
                    "append to the log: it had moved on to entry {} by this writer's own \
                     earlier publish; retrying after it",
                    now.seq
                ))
            }
            Err(e) => {
                if let StoreError::Fenced(why) = &e {
                    self.fenced = Some(why.clone());
                }
                e
            }
        }
    }

    /// The log's tail after `tip`, when every message in it is this writer's.
    fn own_tail(&mut self, tip: Tip) -> Result<Tip, StoreError> {
        let last = self.stream_state()?.1;
        let mut now = tip;
        for s in tip.stream_seq + 1..=last {
            let (first, end, writer) = self.run_at(s)?;
            if writer != self.writer {
                return Err(StoreError::Fenced(format!(
                    "{writer} appended entries {first}..={end} to the log after entry {} \
                     (stream message {s}): another node writes now",
                    now.seq
                )));
            }
            now = Tip {
                stream_seq: s,
                seq: end,
            };
        }
        Ok(now)
    }
}

impl Store for JetStreamStore {
    fn append(
        &mut self,
        entries: &[Entry],
        snapshot: Option<(u64, &[u8])>,
    ) -> Result<(), StoreError> {
        let mut tip = self.tip()?;
        let fresh: Vec<Entry> = entries
            .iter()
            .filter(|e| e.seq > tip.seq)
            .cloned()
            .collect();
        if let Some(e) = fresh.first().filter(|e| e.seq != tip.seq + 1) {
            return Err(StoreError::Damaged(format!(
                "entry {} would leave a gap after {} in the log",
                e.seq, tip.seq
            )));
        }
        for f in frame::frames(&fresh, self.payload_max_bytes)? {
            tip = self.publish(&f, tip)?;
            self.tip = Some(tip);
        }
        if let Some((seq, bytes)) = snapshot {
            let meta = ObjectMetadata {
                name: SNAPSHOT_OBJECT.into(),
                description: Some(seq.to_string()),
                ..Default::default()
            };
            let mut reader = bytes;
            let snapshots = self.snapshots.clone();
            self.link
                .wait_for("write the snapshot", READ_DEADLINE, async move {
                    snapshots.put(meta, &mut reader).await
                })?;
        }
        Ok(())
    }

    fn latest_snapshot(&mut self) -> Result<Option<(u64, Vec<u8>)>, StoreError> {
        retried(|| self.read_snapshot())
    }

    fn read_after(
        &mut self,
        after: u64,
        f: &mut dyn FnMut(Entry) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        // A failed read resumes after the last entry handed to `f`.
        let mut done = after;
        retried(|| {
            self.read_from(done, &mut |entry| {
                let seq = entry.seq;
                f(entry)?;
                done = seq;
                Ok(())
            })
        })
    }

    fn last_seq(&mut self) -> Result<u64, StoreError> {
        retried(|| self.read_tip()).map(|t| t.seq)
    }
}

/// Attempts at a read before its failure is reported.
const READ_ATTEMPTS: u32 = 5;

/// Runs a read again after a failure of the log service (a server restarting, a stream
/// electing a leader), up to [`READ_ATTEMPTS`] times with a growing pause; other errors at once.
fn retried<T>(mut read: impl FnMut() -> Result<T, StoreError>) -> Result<T, StoreError> {
    let mut attempt = 1;
    loop {
        match read() {
            Err(StoreError::Remote(why)) if attempt < READ_ATTEMPTS => {
                tracing::warn!("log read failed (attempt {attempt}): {why}; trying again");
                std::thread::sleep(Duration::from_millis(250 * u64::from(attempt)));
                attempt += 1;
            }
            other => return other,
        }
    }
}

impl JetStreamStore {
    fn read_snapshot(&mut self) -> Result<Option<(u64, Vec<u8>)>, StoreError> {
        let snapshots = self.snapshots.clone();
        let got = self.link.block_on(async move {
            let mut object = match snapshots.get(SNAPSHOT_OBJECT).await {
                Ok(o) => o,
                Err(e) if e.kind() == object_store::GetErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(remote("read the snapshot", e)),
            };
            let seq = object.info.description.clone().unwrap_or_default();
            let mut bytes = Vec::new();
            object
                .read_to_end(&mut bytes)
                .await
                .map_err(|e| remote("read the snapshot", e))?;
            Ok(Some((seq, bytes)))
        })?;
        got.map(|(seq, bytes)| {
            let seq = seq.parse().map_err(|_| StoreError::Corrupt {
                seq: 0,
                problem: format!("the snapshot's description {seq:?} is not a sequence number"),
            })?;
            Ok((seq, bytes))
        })
        .transpose()
    }

    fn read_from(
        &mut self,
        after: u64,
        f: &mut dyn FnMut(Entry) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let mut feed = self.feed(after)?;
        while feed.stream_seq() < feed.end_at_open() {
            let Some(run) = feed.next_run(READ_DEADLINE)? else {
                return Err(remote("read the log", "no message in time"));
            };
            for entry in run.entries {
                f(entry)?;
            }
        }
        Ok(())
    }
}
