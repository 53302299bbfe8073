//! Idempotency receipts: the first outcome of every accepted command, kept for
//! [`IDEMPOTENCY_WINDOW_S`] of command time and at most the last [`IDEMPOTENCY_RECEIPTS_MAX`]
//! accepted commands, so that a retry gets the same answer.
//!
//! The window holds hundreds of thousands of receipts at a sustained load, and it grows until
//! the window fills. A single ring buffer and a standard hash map would each, when doubling,
//! copy or rehash all of them inside one command: milliseconds of stall at 2¹⁷ receipts, the
//! whole of the durable path's tail latency. So the receipts live in fixed-size chunks (a new
//! chunk never moves the old ones) and the id index is a hash map that resizes incrementally.

use std::collections::VecDeque;

use serde::ser::SerializeSeq;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::command::ClientId;
use crate::event::Events;
use crate::state::{IDEMPOTENCY_RECEIPTS_MAX, IDEMPOTENCY_WINDOW_S};

/// Receipts per chunk.
const CHUNK: usize = 4096;

/// The first outcome of an accepted command, kept for [`IDEMPOTENCY_WINDOW_S`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    pub client_id: ClientId,
    pub fingerprint: [u8; 16],
    pub seq: u64,
    pub timestamp_s: u64,
    pub events: Events,
}

/// Receipts in acceptance order (so sequence numbers are contiguous), with a map for lookup.
/// Only the ordered list is encoded (as one sequence); chunks and map are rebuilt.
#[derive(Clone, Debug, Default)]
pub struct Receipts {
    /// Every chunk but the first is full, except the last: receipts are appended at the back
    /// and pruned from the front.
    chunks: VecDeque<VecDeque<Receipt>>,
    by_id: griddle::HashMap<ClientId, u64>,
    /// Receipts held (the chunks' lengths summed).
    count: usize,
}

impl Receipts {
    #[must_use]
    pub fn get(&self, id: ClientId) -> Option<&Receipt> {
        let seq = *self.by_id.get(&id)?;
        let first = self.chunks.front()?;
        let at = usize::try_from(seq - first.front()?.seq).ok()?;
        match at.checked_sub(first.len()) {
            None => first.get(at),
            Some(rest) => self.chunks.get(1 + rest / CHUNK)?.get(rest % CHUNK),
        }
    }

    pub(crate) fn insert(&mut self, receipt: Receipt) {
        self.by_id.insert(receipt.client_id, receipt.seq);
        if self.chunks.back().is_none_or(|c| c.len() == CHUNK) {
            self.chunks.push_back(VecDeque::with_capacity(CHUNK));
        }
        if let Some(last) = self.chunks.back_mut() {
            last.push_back(receipt);
            self.count += 1;
        }
    }

    /// Makes room for one more receipt at `now_s`: forgets receipts older than the window,
    /// and the oldest ones beyond `kept_max - 1` (the engine passes
    /// [`IDEMPOTENCY_RECEIPTS_MAX`]).
    pub(crate) fn prune(&mut self, now_s: u64, kept_max: usize) {
        while let Some(first) = self.chunks.front_mut() {
            while let Some(front) = first.front() {
                let recent = front.timestamp_s.saturating_add(IDEMPOTENCY_WINDOW_S) >= now_s;
                if recent && self.count < kept_max {
                    return;
                }
                self.by_id.remove(&front.client_id);
                first.pop_front();
                self.count -= 1;
            }
            self.chunks.pop_front();
        }
    }

    /// [`Receipts::prune`] with the engine's bound.
    pub(crate) fn prune_for_next(&mut self, now_s: u64) {
        self.prune(now_s, IDEMPOTENCY_RECEIPTS_MAX);
    }

    /// The most recent receipt: the last accepted command.
    #[must_use]
    pub fn last(&self) -> Option<&Receipt> {
        self.chunks.back()?.back()
    }

    #[must_use]
    pub const fn len(&self) -> usize {
        self.count
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.chunks.is_empty()
    }

    /// Every receipt, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = &Receipt> {
        self.chunks.iter().flatten()
    }
}

/// Equal when they hold the same receipts in the same order, however chunked.
impl PartialEq for Receipts {
    fn eq(&self, other: &Self) -> bool {
        self.iter().eq(other.iter())
    }
}

impl Eq for Receipts {}

impl Serialize for Receipts {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // The length up front, as a plain sequence has it (the chunks' iterator cannot say).
        let mut seq = s.serialize_seq(Some(self.len()))?;
        for r in self.iter() {
            seq.serialize_element(r)?;
        }
        seq.end()
    }
}

impl<'de> Deserialize<'de> for Receipts {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut receipts = Self::default();
        for r in Vec::<Receipt>::deserialize(d)? {
            receipts.insert(r);
        }
        Ok(receipts)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::{CHUNK, Receipt, Receipts};
    use crate::command::ClientId;

    fn receipt(seq: u64) -> Receipt {
        Receipt {
            client_id: ClientId(u128::from(seq) * 7),
            fingerprint: [0; 16],
            seq,
            timestamp_s: seq,
            events: Arc::from(Vec::new()),
        }
    }

    /// Lookups, pruning across chunk boundaries, and the encoding, which must not depend on how
    /// the receipts are chunked.
    #[test]
    fn chunks_are_invisible() {
        let mut r = Receipts::default();
        let n = 3 * CHUNK as u64 + 17;
        for seq in 1..=n {
            r.insert(receipt(seq));
        }
        // Prune everything with timestamp + window < now: the first CHUNK + 5 receipts.
        r.prune(
            CHUNK as u64 + 5 + 1 + super::IDEMPOTENCY_WINDOW_S,
            usize::MAX,
        );
        assert_eq!(r.len(), (n - CHUNK as u64 - 5) as usize);
        assert!(r.get(ClientId(7)).is_none());
        for seq in [CHUNK as u64 + 6, 2 * CHUNK as u64, 2 * CHUNK as u64 + 1, n] {
            let got = r.get(ClientId(u128::from(seq) * 7)).expect("kept");
            assert_eq!(got.seq, seq);
        }
        assert_eq!(r.last().map(|x| x.seq), Some(n));
        let bytes = postcard::to_stdvec(&r).expect("encode");
        let back: Receipts = postcard::from_bytes(&bytes).expect("decode");
        assert_eq!(back, r);
        assert_eq!(postcard::to_stdvec(&back).expect("encode"), bytes);
        let plain: Vec<Receipt> = r.iter().cloned().collect();
        assert_eq!(postcard::to_stdvec(&plain).expect("encode"), bytes);
    }

    /// The count bound: at most `kept_max` receipts after the next insert, the oldest
    /// forgotten first (across chunk boundaries), whatever their age; the time bound still
    /// applies below it.
    #[test]
    fn the_window_is_bounded_by_count_as_well_as_time() {
        let mut r = Receipts::default();
        let kept_max = 2 * CHUNK + 3;
        let n = 5 * CHUNK as u64 + 11;
        for seq in 1..=n {
            r.prune(seq, kept_max);
            r.insert(receipt(seq));
            assert!(r.len() <= kept_max, "{} receipts after {seq}", r.len());
        }
        assert_eq!(r.len(), kept_max);
        assert_eq!(r.iter().count(), kept_max);
        let oldest_kept = n - kept_max as u64 + 1;
        assert!(r.get(ClientId(u128::from(oldest_kept - 1) * 7)).is_none());
        for seq in [oldest_kept, oldest_kept + CHUNK as u64, n] {
            let got = r.get(ClientId(u128::from(seq) * 7)).expect("kept");
            assert_eq!(got.seq, seq);
        }
        // Time still prunes below the count bound.
        r.prune(n + super::IDEMPOTENCY_WINDOW_S + 1 - 10, kept_max);
        assert_eq!(r.len(), 10);
        assert_eq!(r.iter().next().map(|x| x.seq), Some(n - 9));
    }
}
