//! A store that fails on purpose, for tests of what the node does when the disk does: wraps
//! any [`Store`] and, per append, injects one of the ways a write fails in production, either
//! scripted (`fail_next`) or drawn from a seeded generator (`random`), so a run is a function
//! of its seed. Control goes through a [`FaultControl`] the test keeps while the node owns the
//! store.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::watermark::{Chain, Watermark};
use crate::{Entry, Store, StoreError};

/// One way a write fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Fault {
    /// Refused, nothing written (`ENOSPC`).
    Full,
    /// The flush failed, nothing written (`EIO` from `fsync`).
    Fsync,
    /// Written, but the confirmation was lost: the node sees an error for a write that is on
    /// the disk (a torn acknowledgement).
    TornAck,
    /// The machine stops before the write reaches the disk.
    CrashBefore,
    /// The machine stops just after the write reached the disk.
    CrashAfter,
}

impl Fault {
    pub const ALL: [Self; 5] = [
        Self::Full,
        Self::Fsync,
        Self::TornAck,
        Self::CrashBefore,
        Self::CrashAfter,
    ];

    fn error(self) -> StoreError {
        let what = match self {
            Self::Full => {
                return StoreError::Io(std::io::Error::new(
                    std::io::ErrorKind::StorageFull,
                    "No space left on device (injected)",
                ));
            }
            Self::Fsync => "fsync failed (injected)",
            Self::TornAck => "the write's confirmation was lost (injected)",
            Self::CrashBefore => "crashed before the write (injected)",
            Self::CrashAfter => "crashed after the write (injected)",
        };
        StoreError::Io(std::io::Error::other(what))
    }

    /// Whether the write reaches the disk before the failure.
    const fn writes(self) -> bool {
        matches!(self, Self::TornAck | Self::CrashAfter)
    }

    const fn crashes(self) -> bool {
        matches!(self, Self::CrashBefore | Self::CrashAfter)
    }
}

#[derive(Debug, Default)]
struct Plan {
    scripted: VecDeque<Fault>,
    /// Every append fails so, until cleared.
    always: Option<Fault>,
    random: Option<(ChaCha8Rng, u32)>,
    /// Appends by outcome (`None`: written cleanly).
    counts: BTreeMap<Option<Fault>, u32>,
}

/// The test's side of a [`FaultyStore`]: what the next writes do, and what they did.
#[derive(Clone, Debug, Default)]
pub struct FaultControl {
    plan: Arc<Mutex<Plan>>,
    crashed: Arc<AtomicBool>,
}

impl FaultControl {
    fn plan(&self) -> MutexGuard<'_, Plan> {
        self.plan.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The next `n` appends fail with `fault` (before any random ones).
    pub fn fail_next(&self, fault: Fault, n: usize) {
        self.plan().scripted.extend(std::iter::repeat_n(fault, n));
    }

    /// Every append fails with `fault` until [`Self::clear`] (a disk that stays full).
    pub fn fail_all(&self, fault: Fault) {
        self.plan().always = Some(fault);
    }

    /// Forgets scripted and standing faults that have not happened yet.
    pub fn clear(&self) {
        let mut plan = self.plan();
        plan.scripted.clear();
        plan.always = None;
    }

    /// From now on, `per_mille` of appends fail, the kind drawn uniformly, from `seed`.
    pub fn random(&self, seed: u64, per_mille: u32) {
        self.plan().random = Some((ChaCha8Rng::seed_from_u64(seed), per_mille));
    }

    /// Scripted faults not yet injected.
    #[must_use]
    pub fn pending(&self) -> usize {
        self.plan().scripted.len()
    }

    /// Whether a crash fault stopped the machine (every append fails until [`Self::restart`]).
    #[must_use]
    pub fn crashed(&self) -> bool {
        self.crashed.load(Ordering::Acquire)
    }

    /// The machine is up again.
    pub fn restart(&self) {
        self.crashed.store(false, Ordering::Release);
    }

    /// Appends so far by outcome (`None`: written cleanly).
    #[must_use]
    pub fn counts(&self) -> BTreeMap<Option<Fault>, u32> {
        self.plan().counts.clone()
    }

    fn next(&self) -> Option<Fault> {
        let mut plan = self.plan();
        let fault = plan.scripted.pop_front().or(plan.always).or_else(|| {
            let (rng, per_mille) = plan.random.as_mut()?;
            (rng.random_range(0..1000) < *per_mille)
                .then(|| Fault::ALL[rng.random_range(0..Fault::ALL.len())])
        });
        *plan.counts.entry(fault).or_default() += 1;
        fault
    }
}

/// A [`Store`] that injects faults into its appends; reads pass through.
#[derive(Debug)]
pub struct FaultyStore<S> {
    inner: S,
    control: FaultControl,
}

impl<S: Store> FaultyStore<S> {
    /// `inner` with no faults planned yet, and the control to plan them.
    pub fn new(inner: S) -> (Self, FaultControl) {
        let control = FaultControl::default();
        (
            Self {
                inner,
                control: control.clone(),
            },
            control,
        )
    }

    /// `inner` under an existing control (a store reopened after a crash).
    pub fn with_control(inner: S, control: &FaultControl) -> Self {
        Self {
            inner,
            control: control.clone(),
        }
    }
}

impl<S: Store> Store for FaultyStore<S> {
    fn append(
        &mut self,
        entries: &[Entry],
        snapshot: Option<(u64, &[u8])>,
    ) -> Result<(), StoreError> {
        if self.control.crashed() {
            return Err(StoreError::Io(std::io::Error::other("the machine is down")));
        }
        let Some(fault) = self.control.next() else {
            return self.inner.append(entries, snapshot);
        };
        if fault.writes() {
            self.inner.append(entries, snapshot)?;
        }
        if fault.crashes() {
            self.control.crashed.store(true, Ordering::Release);
        }
        Err(fault.error())
    }

    fn latest_snapshot(&mut self) -> Result<Option<(u64, Vec<u8>)>, StoreError> {
        self.inner.latest_snapshot()
    }

    fn read_after(
        &mut self,
        after: u64,
        f: &mut dyn FnMut(Entry) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        self.inner.read_after(after, f)
    }

    fn last_seq(&mut self) -> Result<u64, StoreError> {
        self.inner.last_seq()
    }

    fn acknowledged(&mut self) -> Result<Option<Watermark>, StoreError> {
        self.inner.acknowledged()
    }

    fn chain_at(&mut self, seq: u64) -> Result<Option<Chain>, StoreError> {
        self.inner.chain_at(seq)
    }
}
