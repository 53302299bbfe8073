//! Idempotency receipts: the first outcome of every accepted command, kept for
//! [`IDEMPOTENCY_WINDOW_S`] of command time so that a retry gets the same answer.
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
use crate::state::IDEMPOTENCY_WINDOW_S;

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
        }
    }

    /// Forgets receipts older than the window at `now_s`.
    pub(crate) fn prune(&mut self, now_s: u64) {
        while let Some(first) = self.chunks.front_mut() {
            while let Some(front) = first.front() {
                if front.timestamp_s.saturating_add(IDEMPOTENCY_WINDOW_S) >= now_s {
                    return;
                }
                self.by_id.remove(&front.client_id);
                first.pop_front();
            }
            self.chunks.pop_front();
        }
    }

    /// The most recent receipt: the last accepted command.
    #[must_use]
    pub fn last(&self) -> Option<&Receipt> {
        self.chunks.back()?.back()
    }

    #[must_use]
    pub fn len(&self) -> usize {
        self.chunks.iter().map(VecDeque::len).sum()
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
        r.prune(CHUNK as u64 + 5 + 1 + super::IDEMPOTENCY_WINDOW_S);
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
}
