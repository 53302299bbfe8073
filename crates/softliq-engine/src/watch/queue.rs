//! One queue of detection thresholds: those of one kind for one asset, smallest first.
//!
//! Most entries live in a sorted *run* consumed from the front, so firing is a walk along
//! consecutive memory however large the market. New thresholds go to a *fresh* min-heap (4-ary,
//! 16-byte entries: a node's children share a cache line) of at most 4,096 entries (64 KB, so it
//! stays in cache); a full heap is sorted into a *batch*, also consumed from the front. Before
//! the runs, one heap held everything, and each of the thousands of pops a crash update makes
//! walked its ten levels, one cache miss each; later a fresh heap of up to a quarter of the run
//! cost a tenth of a cold update in pops alone.
//!
//! # Merging in slices
//! Once the batches hold more than a quarter of the run, they are merged into it: a k-way merge
//! (a small heap of the inputs' fronts) from the front into a second buffer, dropping stale
//! entries of the batches on the way, and of the run too in a compaction. A merge used to be one
//! sort of everything fresh plus a pass over the run, 4–7 ms at a million accounts inside the
//! one command that triggered it (the sort of 175,000 entries alone took 8 ms). Now the sorting
//! is done 4,096 entries at a time as batches fill, and the merge advances by a bounded slice
//! per command ([`Queue::merge_step`]). While it runs, the queue's entries are the remaining run,
//! the remaining inputs, what the output holds beyond its cursor, newer batches and the fresh
//! heap. Each is sorted (or a heap), so firing takes each one's front while it is at or below the
//! level; the merge always takes the smallest front, so its output stays sorted whatever firing
//! takes. When the inputs are used up, the output becomes the run and the old run's buffer is
//! kept for the next merge, so merges touch no new memory once the buffers have grown.

use std::cmp::Reverse;

use dary_heap::QuaternaryHeap;

/// A queue entry: (ordered key, account, generation).
pub(super) type Entry = (u64, u32, u32);

/// Entries the fresh heap takes before it is sorted into a batch (a few in unit tests, so that
/// they reach batches and merges).
const BATCH: usize = if cfg!(test) { 4 } else { 1 << 12 };
/// Batched entries start a merge once there are more than this many and more than
/// `1/RUN_SHARE` of the run: each entry is then merged O(RUN_SHARE) times.
const MERGE_MIN: usize = if cfg!(test) { 8 } else { 1 << 12 };
const RUN_SHARE: usize = 4;

/// `x`'s bits, ordered as `x` is (the usual total order of floats).
pub(super) const fn ordered(x: f64) -> u64 {
    let bits = x.to_bits();
    if bits >> 63 == 1 {
        !bits
    } else {
        bits | 1 << 63
    }
}

/// Sorted entries consumed from the front.
#[derive(Debug, Default)]
struct Sorted {
    entries: Vec<Entry>,
    next: usize,
}

impl Sorted {
    fn front(&self) -> Option<&Entry> {
        self.entries.get(self.next)
    }

    fn remaining(&self) -> usize {
        self.entries.len() - self.next
    }

    #[cfg(test)]
    fn rest(&self) -> &[Entry] {
        &self.entries[self.next..]
    }

    /// Takes every entry at or below `level`; returns how many it took.
    fn take_fired(&mut self, level: u64, each: &mut impl FnMut(usize, u32)) -> usize {
        let start = self.next;
        while let Some(&(key, account, generation)) = self.front() {
            if key > level {
                break;
            }
            self.next += 1;
            each(account as usize, generation);
        }
        self.next - start
    }
}

/// Thresholds of one kind for one asset (see the module's documentation).
#[derive(Debug, Default)]
pub(super) struct Queue {
    run: Sorted,
    batches: Vec<Sorted>,
    /// Entries left in `batches`, counted as they change: whether to merge is asked of every
    /// queue after every command.
    batched: usize,
    fresh: QuaternaryHeap<Reverse<Entry>>,
    merging: Option<Merging>,
    /// The buffer the next merge writes into: the run before the last merge, emptied.
    spare: Vec<Entry>,
}

/// A merge in progress: the batches there were when it started (`inputs`) and the run, merged
/// smallest first into `out`.
#[derive(Debug)]
struct Merging {
    inputs: Vec<Sorted>,
    /// The inputs' fronts, smallest first: (entry, input).
    fronts: QuaternaryHeap<Reverse<(Entry, usize)>>,
    out: Sorted,
    /// Drop the run's stale entries too (a compaction), not only the inputs'.
    everywhere: bool,
}

impl Merging {
    /// The heap of fronts anew, after firing took from the inputs.
    fn refront(&mut self) {
        self.fronts = self
            .inputs
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.front().map(|&e| Reverse((e, i))))
            .collect();
    }
}

impl Queue {
    pub(super) fn push(&mut self, key: f64, account: u32, generation: u32) {
        self.fresh
            .push(Reverse((ordered(key), account, generation)));
        if self.fresh.len() >= BATCH {
            let full = std::mem::replace(&mut self.fresh, QuaternaryHeap::with_capacity(BATCH));
            let mut entries: Vec<Entry> = full.into_iter().map(|Reverse(e)| e).collect();
            // The tuple order as one 128-bit integer: the same order, compared without
            // branching on each field (the sort was a tenth of a cold crash update).
            entries.sort_unstable_by_key(|&(key, account, generation)| {
                u128::from(key) << 64 | u128::from(account) << 32 | u128::from(generation)
            });
            self.batched += entries.len();
            self.batches.push(Sorted { entries, next: 0 });
        }
    }

    /// Takes every entry whose key is at or below `level` (in no particular order).
    pub(super) fn pop_fired(&mut self, level: f64, mut each: impl FnMut(usize, u32)) {
        let level = ordered(level);
        self.run.take_fired(level, &mut each);
        for batch in &mut self.batches {
            self.batched -= batch.take_fired(level, &mut each);
        }
        self.batches.retain(|b| b.remaining() > 0);
        if let Some(m) = &mut self.merging {
            let mut took = 0;
            for input in &mut m.inputs {
                took += input.take_fired(level, &mut each);
            }
            if took > 0 {
                m.refront();
            }
            m.out.take_fired(level, &mut each);
        }
        while let Some(&Reverse((key, account, generation))) = self.fresh.peek() {
            if key > level {
                break;
            }
            self.fresh.pop();
            each(account as usize, generation);
        }
    }

    pub(super) fn len(&self) -> usize {
        let merging = self.merging.as_ref().map_or(0, |m| {
            m.inputs.iter().map(Sorted::remaining).sum::<usize>() + m.out.remaining()
        });
        self.run.remaining() + self.batched + self.fresh.len() + merging
    }

    /// Every entry, in no particular order.
    #[cfg(test)]
    pub(super) fn iter(&self) -> impl Iterator<Item = &Entry> {
        let merging = self
            .merging
            .iter()
            .flat_map(|m| m.inputs.iter().flat_map(Sorted::rest).chain(m.out.rest()));
        self.run
            .rest()
            .iter()
            .chain(self.batches.iter().flat_map(Sorted::rest))
            .chain(self.fresh.iter().map(|Reverse(e)| e))
            .chain(merging)
    }

    pub(super) const fn is_merging(&self) -> bool {
        self.merging.is_some()
    }

    /// Whether the batches have outgrown their share of the run.
    pub(super) fn wants_merge(&self) -> bool {
        self.batched > MERGE_MIN.max(self.run.remaining() / RUN_SHARE)
    }

    /// Starts merging the batches into the run, dropping stale entries of the batches, and of
    /// the run too when `everywhere`. Does nothing while a merge runs.
    pub(super) fn merge_start(&mut self, everywhere: bool) {
        if self.merging.is_some() {
            return;
        }
        let mut out = std::mem::take(&mut self.spare);
        out.clear();
        out.reserve(self.run.remaining() + std::mem::take(&mut self.batched));
        let mut m = Merging {
            inputs: std::mem::take(&mut self.batches),
            fronts: QuaternaryHeap::new(),
            out: Sorted {
                entries: out,
                next: 0,
            },
            everywhere,
        };
        m.refront();
        self.merging = Some(m);
    }

    /// Moves up to `budget` entries of a running merge, smallest first; finishes it when the
    /// inputs are used up. Returns how many entries it moved.
    pub(super) fn merge_step(&mut self, live: impl Fn(&Entry) -> bool, budget: usize) -> usize {
        let Some(m) = &mut self.merging else {
            return 0;
        };
        let mut moved = 0;
        while moved < budget {
            let from_run = match (self.run.front(), m.fronts.peek()) {
                (Some(a), Some(Reverse((b, _)))) => a <= b,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (None, None) => break,
            };
            let entry = if from_run {
                self.run.next += 1;
                self.run.entries[self.run.next - 1]
            } else {
                let Some(Reverse((entry, i))) = m.fronts.pop() else {
                    break;
                };
                let input = &mut m.inputs[i];
                input.next += 1;
                if let Some(&e) = input.front() {
                    m.fronts.push(Reverse((e, i)));
                }
                entry
            };
            if (from_run && !m.everywhere) || live(&entry) {
                m.out.entries.push(entry);
            }
            moved += 1;
        }
        if self.run.remaining() == 0
            && m.fronts.is_empty()
            && let Some(m) = self.merging.take()
        {
            self.spare = std::mem::replace(&mut self.run, m.out).entries;
            self.spare.clear();
        }
        moved
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use proptest::prelude::*;

    use super::{Entry, Queue};

    /// One step on a queue: push a threshold, fire a level, kill a generation (its entries go
    /// stale for good), start a merge, or advance one by a few entries.
    #[derive(Clone, Debug)]
    enum Step {
        Push(f64, u32, u32),
        Fire(f64),
        Kill(u32),
        Start(bool),
        Advance(usize),
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            6 => (-100.0f64..100.0, 0u32..50, 0u32..4).prop_map(|(k, a, g)| Step::Push(k, a, g)),
            2 => (-100.0f64..100.0).prop_map(Step::Fire),
            1 => (0u32..4).prop_map(Step::Kill),
            1 => any::<bool>().prop_map(Step::Start),
            2 => (0usize..8).prop_map(Step::Advance),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2_000))]

        /// Against a plain list: a firing returns every live entry at or below the level,
        /// wherever it sits (run, fresh heap, either side of a merge in progress), and nothing
        /// that was never pushed or that fired before; merges lose no live entry and, once done,
        /// hold no stale entry of the fresh heap (nor of the run, after a merge everywhere).
        #[test]
        fn queue_fires_what_a_list_would(steps in prop::collection::vec(step(), 1..300)) {
            let mut queue = Queue::default();
            let mut list: Vec<(f64, u32, u32)> = Vec::new();
            let mut dead: BTreeSet<u32> = BTreeSet::new();
            let mut started: Option<(bool, BTreeSet<u32>, Vec<Entry>)> = None;
            for s in steps {
                match s {
                    Step::Push(key, account, generation) => {
                        if !dead.contains(&generation) {
                            queue.push(key, account, generation);
                            list.push((key, account, generation));
                        }
                    }
                    Step::Fire(level) => {
                        let mut fired = Vec::new();
                        queue.pop_fired(level, |a, g| fired.push((a as u32, g)));
                        let mut due: Vec<(u32, u32)> =
                            list.iter().filter(|e| e.0 <= level).map(|e| (e.1, e.2)).collect();
                        list.retain(|e| e.0 > level);
                        // Stale entries may have been dropped already; nothing else may differ.
                        for f in &fired {
                            prop_assert!(due.contains(f), "fired {:?}, never due", f);
                        }
                        fired.retain(|f| !dead.contains(&f.1));
                        due.retain(|e| !dead.contains(&e.1));
                        fired.sort_unstable();
                        due.sort_unstable();
                        prop_assert_eq!(fired, due);
                    }
                    Step::Kill(generation) => {
                        dead.insert(generation);
                    }
                    Step::Start(everywhere) => {
                        if !queue.is_merging() {
                            started = Some((everywhere, dead.clone(), queue.run.rest().to_vec()));
                        }
                        queue.merge_start(everywhere);
                    }
                    Step::Advance(budget) => {
                        if queue.is_merging() {
                            queue.merge_step(|e| !dead.contains(&e.2), budget);
                        }
                        if started.is_some() && !queue.is_merging() {
                            // Just finished: an entry dead before the merge started remains
                            // only if it was in the run and the merge was not everywhere.
                            let (everywhere, dead_before, run_before) =
                                started.take().expect("a merge was started");
                            for e in queue.run.rest() {
                                if dead_before.contains(&e.2) {
                                    prop_assert!(!everywhere && run_before.contains(e), "{:?} kept", e);
                                }
                            }
                        }
                    }
                }
                // Every live entry the list holds is in the queue, and nothing else but stale
                // entries.
                let live = |e: &Entry| !dead.contains(&e.2);
                let mut held: Vec<Entry> = queue.iter().copied().collect();
                held.sort_unstable();
                let mut wanted: Vec<Entry> = list
                    .iter()
                    .map(|e| (super::ordered(e.0), e.1, e.2))
                    .collect();
                wanted.sort_unstable();
                let held_live: Vec<Entry> = held.iter().copied().filter(|e| live(e)).collect();
                let wanted_live: Vec<Entry> = wanted.iter().copied().filter(|e| live(e)).collect();
                prop_assert_eq!(held_live, wanted_live);
                prop_assert!(held.iter().all(|e| wanted.binary_search(e).is_ok()));
                prop_assert!(held.len() <= wanted.len());
                prop_assert_eq!(queue.len(), held.len());
            }
        }
    }
}
