//! One message of the replicated log: a run of consecutive entries (or none: a fence), with
//! the run's first and last sequence numbers and its writer in the headers, and the entries
//! as length-prefixed postcard records in the payload.
//!
//! A group-commit batch becomes one message when it fits the server's largest payload, else
//! several; each is appended with a message id naming its run (`"{first}-{last}"`), so a
//! publish sent again after a lost acknowledgement is stored once.

use async_nats::HeaderMap;
use bytes::Bytes;
use softliq_node::{Entry, StoreError};

/// The first entry's sequence number in the message.
pub const FIRST: &str = "Softliq-First";
/// The last entry's sequence number (`FIRST - 1` in a fence, which carries none).
pub const LAST: &str = "Softliq-Last";
/// The node that appended the message.
pub const WRITER: &str = "Softliq-Writer";

/// Room left in a message for its headers.
const HEADER_ROOM_BYTES: usize = 1024;

/// A run of entries ready to publish.
#[derive(Debug)]
pub struct Frame {
    pub first: u64,
    pub last: u64,
    pub payload: Bytes,
}

impl Frame {
    /// The message id under which the run is appended.
    #[must_use]
    pub fn id(&self) -> String {
        format!("{}-{}", self.first, self.last)
    }

    /// The headers of the run, appended by `writer`.
    #[must_use]
    pub fn headers(&self, writer: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(FIRST, self.first.to_string().as_str());
        h.insert(LAST, self.last.to_string().as_str());
        h.insert(WRITER, writer);
        h
    }
}

/// Splits `entries` (consecutive) into frames of at most `payload_max_bytes` each (a single
/// entry larger than that gets a frame of its own, which the server will refuse by name).
///
/// # Errors
/// An entry does not encode.
pub fn frames(entries: &[Entry], payload_max_bytes: usize) -> Result<Vec<Frame>, StoreError> {
    let budget = payload_max_bytes.saturating_sub(HEADER_ROOM_BYTES).max(1);
    let mut out = Vec::new();
    let mut payload: Vec<u8> = Vec::new();
    let mut first = None;
    let mut last = 0;
    for entry in entries {
        let record = postcard::to_stdvec(entry).map_err(|e| StoreError::Corrupt {
            seq: entry.seq,
            problem: e.to_string(),
        })?;
        if first.is_some() && payload.len() + 4 + record.len() > budget {
            out.push(Frame {
                first: first.take().unwrap_or(last),
                last,
                payload: Bytes::from(std::mem::take(&mut payload)),
            });
        }
        first.get_or_insert(entry.seq);
        last = entry.seq;
        let len = u32::try_from(record.len()).map_err(|_| StoreError::Corrupt {
            seq: entry.seq,
            problem: format!("{} bytes do not fit one record", record.len()),
        })?;
        payload.extend_from_slice(&len.to_le_bytes());
        payload.extend_from_slice(&record);
    }
    if let Some(first) = first {
        out.push(Frame {
            first,
            last,
            payload: Bytes::from(payload),
        });
    }
    Ok(out)
}

/// A fence: no entries, appended after entry `last` to claim the log's tail.
#[must_use]
pub fn fence(last: u64) -> Frame {
    Frame {
        first: last + 1,
        last,
        payload: Bytes::new(),
    }
}

/// A header's number.
///
/// # Errors
/// It is missing or not a number.
pub fn number(headers: Option<&HeaderMap>, name: &str, stream_seq: u64) -> Result<u64, StoreError> {
    headers
        .and_then(|h| h.get(name))
        .and_then(|v| v.as_str().parse().ok())
        .ok_or_else(|| StoreError::Corrupt {
            seq: stream_seq,
            problem: format!("log message {stream_seq} has no numeric {name} header"),
        })
}

/// The entries of a message whose headers say `first ..= last`.
///
/// # Errors
/// The payload does not decode, or its entries are not exactly `first ..= last`.
pub fn decode(payload: &[u8], first: u64, last: u64) -> Result<Vec<Entry>, StoreError> {
    let corrupt = |problem: String| StoreError::Corrupt {
        seq: first,
        problem,
    };
    let mut out = Vec::new();
    let mut rest = payload;
    while !rest.is_empty() {
        let (len, tail) = rest
            .split_first_chunk::<4>()
            .ok_or_else(|| corrupt("a record's length is cut off".into()))?;
        let len = usize::try_from(u32::from_le_bytes(*len)).unwrap_or(usize::MAX);
        if tail.len() < len {
            return Err(corrupt("a record is cut off".into()));
        }
        let (record, tail) = tail.split_at(len);
        let entry: Entry = postcard::from_bytes(record).map_err(|e| corrupt(e.to_string()))?;
        let expected = first + out.len() as u64;
        if entry.seq != expected {
            return Err(corrupt(format!(
                "entry {} where {expected} was expected",
                entry.seq
            )));
        }
        out.push(entry);
        rest = tail;
    }
    if first + out.len() as u64 != last + 1 {
        return Err(corrupt(format!(
            "the message says {first}..={last} and holds {} entries",
            out.len()
        )));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use softliq_engine::ClientId;
    use softliq_engine::command::{Command, CommandBody};

    fn entry(seq: u64) -> Entry {
        Entry {
            seq,
            command: Command {
                client_id: ClientId(u128::from(seq)),
                timestamp_s: seq,
                body: CommandBody::AdvanceTime,
            },
            events: std::sync::Arc::from(Vec::new()),
        }
    }

    #[test]
    fn a_batch_splits_by_size_and_decodes_back_in_order() {
        let entries: Vec<Entry> = (7..207).map(entry).collect();
        let size = |e: &Entry| postcard::to_stdvec(e).unwrap().len() + 4;
        let budget = size(&entries[0]) * 30;
        let frames = frames(&entries, HEADER_ROOM_BYTES + budget).unwrap();
        assert!(frames.len() >= 7, "200 entries, at most 30 to a frame");
        let mut back = Vec::new();
        for (i, f) in frames.iter().enumerate() {
            assert!(f.payload.len() <= budget, "frame {i} over budget");
            let decoded = decode(&f.payload, f.first, f.last).unwrap();
            if let Some(next) = frames.get(i + 1) {
                // Greedy: the next frame's first entry did not fit in this one.
                let first_of_next = &entries[usize::try_from(next.first - 7).unwrap()];
                assert!(
                    f.payload.len() + size(first_of_next) > budget,
                    "frame {i} cut early"
                );
            }
            back.extend(decoded);
        }
        assert_eq!(back, entries);
        assert_eq!(frames[0].id(), format!("7-{}", frames[0].last));
    }

    #[test]
    fn a_frame_that_says_more_than_it_holds_is_refused() {
        let f = &frames(&[entry(1), entry(2)], 1 << 20).unwrap()[0];
        assert!(decode(&f.payload, 1, 3).is_err());
        assert!(decode(&f.payload, 2, 3).is_err());
        assert!(decode(&f.payload[..f.payload.len() - 1], 1, 2).is_err());
        assert_eq!(decode(&fence(9).payload, 10, 9).unwrap(), Vec::new());
    }
}
