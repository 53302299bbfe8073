//! Recovery: the latest snapshot, then the tail of the log re-applied. Every re-applied
//! command must be accepted again with exactly the events that were logged; anything else
//! means the log and the engine disagree, and recovery stops rather than guess.

use super::{Entry, Store, StoreError};
use crate::engine::{Engine, EngineConfig};
use crate::state::State;

/// What recovery did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recovery {
    /// The snapshot's sequence number (0 when starting from empty).
    pub snapshot_seq: u64,
    /// Commands re-applied after the snapshot.
    pub replayed: u64,
    /// The last sequence number now applied.
    pub seq: u64,
}

fn apply_logged(engine: &mut Engine, entry: &Entry) -> Result<(), StoreError> {
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
/// # Errors
/// The store failed, a snapshot does not decode, or the log diverges from the engine.
pub fn recover(
    store: &mut dyn Store,
    config: EngineConfig,
) -> Result<(Engine, Recovery), StoreError> {
    let (snapshot_seq, state) = match store.latest_snapshot()? {
        Some((seq, bytes)) => {
            let state = State::decode(&bytes).map_err(|e| StoreError::Corrupt {
                seq,
                problem: e.to_string(),
            })?;
            (seq, state)
        }
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
    Ok((
        engine,
        Recovery {
            snapshot_seq,
            replayed,
            seq,
        },
    ))
}

/// Replays the whole log from an empty state, ignoring snapshots: the reference that a
/// recovered state's hash must equal.
///
/// # Errors
/// As [`recover`].
pub fn replay_all(store: &mut dyn Store, config: EngineConfig) -> Result<Engine, StoreError> {
    let mut engine = Engine::new(config);
    store.read_after(0, &mut |entry| apply_logged(&mut engine, &entry))?;
    Ok(engine)
}
