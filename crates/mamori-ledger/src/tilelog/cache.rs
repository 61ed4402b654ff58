//! The private hash cache: every tree level that is a multiple of 4 except 0 (4, 8, 12, ...,
//! 60), each as a flat append-only file `cache/level-LL` of 32-byte hashes, hash `i` being the
//! complete subtree `(LL, i)`. With level 0 in the tiles, any complete subtree is then the root
//! of at most 8 stored hashes that are adjacent in one file.
//!
//! Levels `8t` repeat the hashes of the tiles of level `t >= 1` (one `pread` on an open file
//! instead of opening a tile); levels `8t + 4` are the roots of each 16 hashes of a tile, found
//! nowhere else. It is all derived data: [`HashCache::sync`] rebuilds a level from the tiles
//! when its length disagrees with the log size.

use std::fs::{self, File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::files::{remove_file_if_exists, sync_dir};
use crate::tile::{HASH_SIZE, shr};
use crate::{Hash, LedgerError};

pub(crate) const CACHE_DIR: &str = "cache";
/// Tree levels between cached levels.
pub(crate) const CACHE_STEP: u8 = 4;
/// Cached levels: 4, 8, ..., 60 (a `u64` tree has levels up to 63).
const CACHE_SLOTS: usize = 15;

/// Every cached tree level, lowest first.
pub(crate) fn cache_levels() -> impl Iterator<Item = u8> {
    (1..=CACHE_SLOTS as u8).map(|k| k * CACHE_STEP)
}

/// Index of a cached level in per-level vectors.
pub(crate) fn cache_slot(level: u8) -> usize {
    debug_assert!(
        level > 0
            && level.is_multiple_of(CACHE_STEP)
            && usize::from(level / CACHE_STEP) <= CACHE_SLOTS
    );
    usize::from(level / CACHE_STEP) - 1
}

/// Hashes of cache level `level` in a tree of `size` leaves (its complete subtrees).
pub(crate) fn cache_len(size: u64, level: u8) -> u64 {
    shr(size, u32::from(level))
}

/// `<log dir>/cache/level-LL`.
pub(crate) fn cache_path(log_dir: &Path, level: u8) -> PathBuf {
    log_dir.join(cache_relative_path(level))
}

pub(crate) fn cache_relative_path(level: u8) -> String {
    format!("{CACHE_DIR}/level-{level:02}")
}

/// Open cache files, one per cached level.
#[derive(Debug)]
pub(crate) struct HashCache {
    log_dir: PathBuf,
    files: Vec<Option<File>>,
}

impl HashCache {
    pub fn new(log_dir: &Path) -> Self {
        HashCache {
            log_dir: log_dir.to_path_buf(),
            files: (0..CACHE_SLOTS).map(|_| None).collect(),
        }
    }

    /// The open file of `level`, if it exists.
    pub fn get(&self, level: u8) -> Option<&File> {
        self.files.get(cache_slot(level)).and_then(Option::as_ref)
    }

    /// The open file of `level`, created (empty) if missing.
    fn open(&mut self, level: u8) -> Result<&File, LedgerError> {
        let slot = cache_slot(level);
        if self.files[slot].is_none() {
            let dir = self.log_dir.join(CACHE_DIR);
            if !dir.is_dir() {
                fs::create_dir_all(&dir).map_err(LedgerError::io(&dir))?;
                sync_dir(&self.log_dir)?;
            }
            let path = cache_path(&self.log_dir, level);
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
                .map_err(LedgerError::io(&path))?;
            self.files[slot] = Some(file);
        }
        self.files[slot]
            .as_ref()
            .ok_or_else(|| LedgerError::corrupt(&self.log_dir, "hash cache not open"))
    }

    /// Write `hashes` as hashes `first..` of `level`, fsynced when `durable`.
    pub fn append(
        &mut self,
        level: u8,
        first: u64,
        hashes: &[Hash],
        durable: bool,
    ) -> Result<(), LedgerError> {
        let path = cache_path(&self.log_dir, level);
        let mut file = self.open(level)?;
        file.seek(SeekFrom::Start(first * HASH_SIZE as u64))
            .and_then(|_| file.write_all(&hashes.concat()))
            .and_then(|()| if durable { file.sync_data() } else { Ok(()) })
            .map_err(LedgerError::io(&path))
    }

    /// Make every level hold exactly the hashes of a tree of `size` leaves: truncate what an
    /// interrupted append left beyond it, remove levels that should be empty, and replace
    /// short levels with `rebuild(level)` (their full contents).
    pub fn sync(
        &mut self,
        size: u64,
        mut rebuild: impl FnMut(u8) -> Result<Vec<u8>, LedgerError>,
        mut replace: impl FnMut(&str, &[u8]) -> Result<(), LedgerError>,
    ) -> Result<(), LedgerError> {
        for level in cache_levels() {
            let slot = cache_slot(level);
            let path = cache_path(&self.log_dir, level);
            let expected = cache_len(size, level) * HASH_SIZE as u64;
            if expected == 0 {
                // Same files as a log that never grew this far: no empty cache files.
                self.files[slot] = None;
                remove_file_if_exists(&path)?;
                continue;
            }
            let file = self.open(level)?;
            let actual = file.metadata().map_err(LedgerError::io(&path))?.len();
            if actual > expected {
                file.set_len(expected)
                    .and_then(|()| file.sync_all())
                    .map_err(LedgerError::io(&path))?;
            } else if actual < expected {
                let bytes = rebuild(level)?;
                debug_assert_eq!(bytes.len() as u64, expected);
                self.files[slot] = None;
                replace(&cache_relative_path(level), &bytes)?;
                self.open(level)?;
            }
        }
        Ok(())
    }

    /// Forget every open file (before a full rebuild).
    pub fn close_all(&mut self) {
        self.files.iter_mut().for_each(|file| *file = None);
    }
}
