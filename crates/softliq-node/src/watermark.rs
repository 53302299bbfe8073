//! The acknowledgement watermark: the last sequence number the store has promised is durable,
//! with the chain hash of that entry, kept in a file beside the database (`softliq.ack`).
//!
//! The log alone cannot show that its tail is gone: a damaged or deleted SQLite WAL, or rows
//! removed by hand, leave a shorter log that is consistent with itself. The watermark is
//! written after every commit and before any command of it is acknowledged, so at start a log
//! that ends before it has lost acknowledged commands, and a log whose entry at the watermark
//! has another hash has been rewritten.
//!
//! Format: two 48-byte slots, `seq (u64 LE) · chain (32 bytes) · check (8 bytes)`, where
//! `check` is the first 8 bytes of BLAKE3 over the first 40. A write goes to slot `seq % 2`
//! and is synced before returning, so a torn write spoils at most the slot being written and
//! the other still holds the previous watermark; reading takes the valid slot with the larger
//! sequence number.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::StoreError;

/// The file's name in the data directory.
pub const FILE_NAME: &str = "softliq.ack";

const SLOT_BYTES: usize = 48;

/// A chain hash (BLAKE3).
pub type Chain = [u8; 32];

/// The last acknowledged entry: its sequence number and chain hash.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Watermark {
    pub seq: u64,
    pub chain: Chain,
}

fn encode(w: Watermark) -> [u8; SLOT_BYTES] {
    let mut slot = [0u8; SLOT_BYTES];
    slot[..8].copy_from_slice(&w.seq.to_le_bytes());
    slot[8..40].copy_from_slice(&w.chain);
    let check = blake3::hash(&slot[..40]);
    slot[40..].copy_from_slice(&check.as_bytes()[..8]);
    slot
}

fn decode(slot: &[u8]) -> Option<Watermark> {
    let check = blake3::hash(&slot[..40]);
    if slot[40..SLOT_BYTES] != check.as_bytes()[..8] {
        return None;
    }
    let mut seq = [0u8; 8];
    seq.copy_from_slice(&slot[..8]);
    let mut chain = [0u8; 32];
    chain.copy_from_slice(&slot[8..40]);
    Some(Watermark {
        seq: u64::from_le_bytes(seq),
        chain,
    })
}

/// The watermark file of one data directory, open for writing.
pub struct WatermarkFile {
    file: File,
}

impl WatermarkFile {
    /// Opens (creating if needed) the file in `dir`.
    ///
    /// # Errors
    /// The file cannot be opened.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path(dir))?;
        Ok(Self { file })
    }

    /// Records `w` durably (synced before returning).
    ///
    /// # Errors
    /// The write or the sync failed.
    pub fn write(&mut self, w: Watermark) -> Result<(), StoreError> {
        let offset = (w.seq % 2) * SLOT_BYTES as u64;
        self.file.seek(SeekFrom::Start(offset))?;
        self.file.write_all(&encode(w))?;
        self.file.sync_data()?;
        Ok(())
    }
}

/// Where the watermark of `dir` lives.
#[must_use]
pub fn path(dir: &Path) -> PathBuf {
    dir.join(FILE_NAME)
}

/// The watermark recorded in `dir`: `None` when there is no file (a new directory, or one
/// written before watermarks existed), the newest valid slot otherwise.
///
/// # Errors
/// The file exists but cannot be read, or no slot in it is valid.
pub fn read(dir: &Path) -> Result<Option<Watermark>, StoreError> {
    let mut bytes = Vec::new();
    match File::open(path(dir)) {
        Ok(mut f) => {
            f.read_to_end(&mut bytes)?;
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.into()),
    }
    if bytes.is_empty() {
        return Ok(None);
    }
    let slots = bytes.chunks(SLOT_BYTES).filter(|s| s.len() == SLOT_BYTES);
    slots
        .filter_map(decode)
        .max_by_key(|w| w.seq)
        .map(Some)
        .ok_or_else(|| {
            StoreError::Damaged(format!(
                "{}: no valid watermark slot (the file is damaged)",
                path(dir).display()
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_newest_valid_slot_wins_and_a_torn_slot_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read(dir.path()).unwrap(), None);
        let mut f = WatermarkFile::open(dir.path()).unwrap();
        let w = |seq: u64| Watermark {
            seq,
            chain: [u8::try_from(seq % 256).unwrap(); 32],
        };
        f.write(w(7)).unwrap();
        f.write(w(8)).unwrap();
        assert_eq!(read(dir.path()).unwrap(), Some(w(8)));
        // Tear the slot of seq 8: the previous watermark (7) is what remains.
        let mut bytes = std::fs::read(path(dir.path())).unwrap();
        bytes[3] ^= 0xff;
        std::fs::write(path(dir.path()), &bytes).unwrap();
        assert_eq!(read(dir.path()).unwrap(), Some(w(7)));
        // Both torn: refused, not taken as "no watermark".
        bytes[SLOT_BYTES + 3] ^= 0xff;
        std::fs::write(path(dir.path()), &bytes).unwrap();
        assert!(matches!(read(dir.path()), Err(StoreError::Damaged(_))));
    }
}
