//! Recovery: the latest snapshot, then the tail of the log re-applied. Every re-applied
//! command must be accepted again with exactly the events that were logged; anything else
//! means the log and the engine disagree, and recovery stops rather than guess.

use crate::{Entry, Store, StoreError};
use softliq_engine::state::State;
use softliq_engine::{Engine, EngineConfig};

/// What recovery did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recovery {
    /// The snapshot's sequence number (0 when starting from empty).
    pub snapshot_seq: u64,
    /// Commands re-applied after the snapshot.
    pub replayed: u64,
    /// The last sequence number now applied.
    pub seq: u64,
    /// Why the latest snapshot was not used, when it was not (an older format, or damage):
    /// recovery then replayed the whole log, which is authoritative.
    pub snapshot_skipped: Option<String>,
}

/// Applies one logged entry, which must be the next and give exactly the logged events.
pub(crate) fn apply_logged(engine: &mut Engine, entry: &Entry) -> Result<(), StoreError> {
    let expected = engine.state().seq + 1;
    if entry.seq != expected {
        return Err(StoreError::Diverged(format!(
            "log jumps from {} to {}",
            expected - 1,
            entry.seq
        )));
    }
    match engine.apply(&entry.command) {
        Ok(events) if events == entry.events && engine.state().seq == entry.seq => Ok(()),
        Ok(_) => Err(StoreError::Diverged(format!(
            "command {} gives different events than logged",
            entry.seq
        ))),
        Err(r) => Err(StoreError::Diverged(format!(
            "command {} was accepted when logged and is now refused: {r}",
            entry.seq
        ))),
    }
}

/// Rebuilds the engine from `store`: latest snapshot, then the log after it.
///
/// A snapshot of another format, or one that does not decode, is skipped (and the reason
/// reported): the whole log is replayed instead.
///
/// # Errors
/// The store failed, or the log diverges from the engine.
pub fn recover(
    store: &mut dyn Store,
    config: EngineConfig,
) -> Result<(Engine, Recovery), StoreError> {
    let mut snapshot_skipped = None;
    let (snapshot_seq, state) = match store.latest_snapshot()? {
        Some((seq, bytes)) => match State::decode_snapshot(&bytes) {
            Ok(state) => (seq, state),
            Err(why) => {
                snapshot_skipped = Some(format!("snapshot at {seq}: {why}"));
                (0, State::default())
            }
        },
        None => (0, State::default()),
    };
    let mut engine = Engine::from_state(state, config);
    let mut replayed = 0;
    store.read_after(snapshot_seq, &mut |entry| {
        apply_logged(&mut engine, &entry)?;
        replayed += 1;
        Ok(())
    })?;
    let seq = engine.state().seq;
    check_acknowledged(store, seq)?;
    Ok((
        engine,
        Recovery {
            snapshot_seq,
            replayed,
            seq,
            snapshot_skipped,
        },
    ))
}

/// Refuses a log that ends before what the store acknowledged, or whose entry at the
/// acknowledgement watermark has another hash (the tail was rewritten).
fn check_acknowledged(store: &mut dyn Store, last: u64) -> Result<(), StoreError> {
    let Some(w) = store.acknowledged()? else {
        return Ok(());
    };
    if last < w.seq {
        return Err(StoreError::Damaged(format!(
            "the log ends at entry {last}, but entries up to {} were acknowledged: {} \
             acknowledged commands are missing (a damaged or deleted WAL, or rows removed). \
             The last good entry is {last}. Restore the data directory from a backup taken \
             after entry {}; `softliq replay --data DIR` inspects what is there",
            w.seq,
            w.seq - last,
            w.seq
        )));
    }
    if w.seq > 0 && store.chain_at(w.seq)? != Some(w.chain) {
        return Err(StoreError::Damaged(format!(
            "entry {} is not the entry that was acknowledged (its hash differs from the \
             watermark's): the log was rewritten from there on",
            w.seq
        )));
    }
    Ok(())
}

/// Replays the whole log from an empty state, ignoring snapshots: the reference that a
/// recovered state's hash must equal.
///
/// # Errors
/// As [`recover`].
pub fn replay_all(store: &mut dyn Store, config: EngineConfig) -> Result<Engine, StoreError> {
    let mut engine = Engine::new(config);
    // Reading from the start verifies every link of the hash chain.
    store.read_after(0, &mut |entry| apply_logged(&mut engine, &entry))?;
    check_acknowledged(store, engine.state().seq)?;
    Ok(engine)
}
