//! The packed files that hold the whole tree: `entries` and one file per stored tree level.
//!
//! - `entries`: entry `i` (32 bytes) at byte `32 i`. Entry bundle `N` is records
//!   `256 N ..` of it, each prefixed with its length when served.
//! - `hashes/LL` for tree levels `LL` = 00, 04, 08, ..., 60: hash `i` (32 bytes at `32 i`) is
//!   the complete subtree of `2^LL` leaves starting at leaf `i << LL`. Levels `8t` are the
//!   tiles of tile level `t` laid end to end: tile `N` is bytes `8192 N .. 8192 (N + 1)`, and
//!   the partial tile after it is the rest of the file. Levels `8t + 4` hold the root of every
//!   16 hashes of a tile: with them any complete subtree is the root of at most 8 stored,
//!   adjacent hashes, which keeps proofs fast.
//!
//! Every file is append-only: the bytes of a tree of `size` leaves never change as it grows,
//! so a file longer than `size` needs was left by an append that was never committed, and is
//! cut back. Why not one file per tile: creating files costs far more than writing them (on
//! ext4 about 1 ms each, two per 256 entries), and a log of 100 M entries would need 800,000.

use std::cell::OnceCell;
use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};

use super::files::{read_exact_at, sync_dir};
use crate::tile::{HASH_SIZE, shr};
use crate::{Hash, LedgerError};

pub(crate) const ENTRIES_FILE: &str = "entries";
pub(crate) const HASHES_DIR: &str = "hashes";
/// Tree levels between stored levels.
pub(crate) const LEVEL_STEP: u8 = 4;
/// Stored levels: 0, 4, ..., 60 (a `u64` tree has levels up to 63).
pub(crate) const STORED_LEVELS: usize = 16;

/// Every stored tree level, lowest first.
pub(crate) fn stored_levels() -> impl Iterator<Item = u8> {
    (0..STORED_LEVELS as u8).map(|k| k * LEVEL_STEP)
}

/// Index of a stored level in per-level arrays.
pub(crate) fn slot(level: u8) -> usize {
    debug_assert!(
        level.is_multiple_of(LEVEL_STEP) && usize::from(level / LEVEL_STEP) < STORED_LEVELS
    );
    usize::from(level / LEVEL_STEP)
}

/// Hashes of stored level `level` in a tree of `size` leaves (its complete subtrees).
pub(crate) fn level_len(size: u64, level: u8) -> u64 {
    shr(size, u32::from(level))
}

/// `hashes/LL`, relative to the log directory.
pub(crate) fn hashes_path(level: u8) -> String {
    format!("{HASHES_DIR}/{level:02}")
}

/// One of the packed files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Packed {
    Entries,
    Hashes(u8),
}

impl Packed {
    pub fn all() -> impl Iterator<Item = Packed> {
        std::iter::once(Packed::Entries).chain(stored_levels().map(Packed::Hashes))
    }

    pub fn relative_path(self) -> String {
        match self {
            Packed::Entries => ENTRIES_FILE.to_owned(),
            Packed::Hashes(level) => hashes_path(level),
        }
    }

    /// Records (32 bytes each) this file holds for a tree of `size` leaves.
    pub fn records(self, size: u64) -> u64 {
        match self {
            Packed::Entries => size,
            Packed::Hashes(level) => level_len(size, level),
        }
    }

    /// The log's level the records belong to (entries are leaves: level 0).
    pub fn level(self) -> u8 {
        match self {
            Packed::Entries => 0,
            Packed::Hashes(level) => level,
        }
    }

    /// Position in [`Packed::all`].
    pub fn index(self) -> usize {
        match self {
            Packed::Entries => 0,
            Packed::Hashes(level) => 1 + slot(level),
        }
    }
}

/// Positioned reads of records of the packed files, from whichever handles the reader holds.
pub(crate) trait PackedRecords {
    /// Read `out.len() / 32` records of `packed` from record `first`.
    fn read(&self, packed: Packed, first: u64, out: &mut [u8]) -> Result<(), LedgerError>;

    /// The log directory, for error messages.
    fn dir(&self) -> &Path;
}

/// The open packed files of a log, for writing and positioned reads.
#[derive(Debug)]
pub(crate) struct PackedFiles {
    dir: PathBuf,
    files: Vec<File>,
    /// Files written since the last [`PackedFiles::sync_written`].
    written: Vec<bool>,
}

impl PackedFiles {
    /// Open (creating if needed) every packed file of the log in `dir` and make each hold
    /// exactly the records of a tree of `size` leaves: longer files are cut back (an append
    /// that was never committed), shorter ones are damage.
    pub fn open(dir: &Path, size: u64) -> Result<Self, LedgerError> {
        let hashes_dir = dir.join(HASHES_DIR);
        if !hashes_dir.is_dir() {
            fs::create_dir_all(&hashes_dir).map_err(LedgerError::io(&hashes_dir))?;
            sync_dir(dir)?;
        }
        let mut files = Vec::with_capacity(1 + STORED_LEVELS);
        for packed in Packed::all() {
            let path = dir.join(packed.relative_path());
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
                .map_err(LedgerError::io(&path))?;
            let actual = file.metadata().map_err(LedgerError::io(&path))?.len();
            let expected = packed.records(size) * HASH_SIZE as u64;
            if actual < expected {
                return Err(LedgerError::corrupt(
                    &path,
                    format!("{actual} bytes, expected {expected} for {size} leaves"),
                ));
            }
            if actual > expected {
                file.set_len(expected)
                    .and_then(|()| file.sync_all())
                    .map_err(LedgerError::io(&path))?;
            }
            files.push(file);
        }
        Ok(PackedFiles {
            dir: dir.to_path_buf(),
            written: vec![false; files.len()],
            files,
        })
    }

    /// Write `records` as records `first..` of `packed`.
    pub fn write(
        &mut self,
        packed: Packed,
        first: u64,
        records: &[Hash],
    ) -> Result<(), LedgerError> {
        if records.is_empty() {
            return Ok(());
        }
        let index = packed.index();
        write_all_at(
            &self.files[index],
            &records.concat(),
            first * HASH_SIZE as u64,
        )
        .map_err(LedgerError::io(&self.path(packed)))?;
        self.written[index] = true;
        Ok(())
    }

    /// fsync (data only) every file written since the last call.
    pub fn sync_written(&mut self) -> Result<(), LedgerError> {
        for packed in Packed::all() {
            let index = packed.index();
            if self.written[index] {
                self.files[index]
                    .sync_data()
                    .map_err(LedgerError::io(&self.path(packed)))?;
                self.written[index] = false;
            }
        }
        Ok(())
    }

    /// Forget that files were written (after a `syncfs` made them durable).
    pub fn mark_synced(&mut self) {
        self.written.iter_mut().for_each(|w| *w = false);
    }

    /// Cut every file back to the records of a tree of `size` leaves (after a failed append).
    pub fn truncate(&mut self, size: u64) -> Result<(), LedgerError> {
        for packed in Packed::all() {
            self.files[packed.index()]
                .set_len(packed.records(size) * HASH_SIZE as u64)
                .map_err(LedgerError::io(&self.path(packed)))?;
        }
        Ok(())
    }

    fn path(&self, packed: Packed) -> PathBuf {
        self.dir.join(packed.relative_path())
    }
}

impl PackedRecords for PackedFiles {
    fn read(&self, packed: Packed, first: u64, out: &mut [u8]) -> Result<(), LedgerError> {
        read_exact_at(&self.files[packed.index()], out, first * HASH_SIZE as u64)
            .map_err(LedgerError::io(&self.path(packed)))
    }

    fn dir(&self) -> &Path {
        &self.dir
    }
}

/// The packed files of a log directory opened read-only, each on first use: for readers that
/// take no lock and run beside the process that appends ([`super::TileReader`]). Callers read
/// only records of a tree size that is committed, so every read lies within the files.
#[derive(Debug)]
pub(crate) struct PackedDir<'a> {
    dir: &'a Path,
    /// Indexed by [`Packed::index`].
    files: [OnceCell<File>; 1 + STORED_LEVELS],
}

impl<'a> PackedDir<'a> {
    pub fn new(dir: &'a Path) -> Self {
        PackedDir {
            dir,
            files: std::array::from_fn(|_| OnceCell::new()),
        }
    }

    fn file(&self, packed: Packed) -> Result<&File, LedgerError> {
        let cell = &self.files[packed.index()];
        if let Some(file) = cell.get() {
            return Ok(file);
        }
        let path = self.dir.join(packed.relative_path());
        let file = File::open(&path).map_err(LedgerError::io(&path))?;
        Ok(cell.get_or_init(|| file))
    }
}

impl PackedRecords for PackedDir<'_> {
    fn read(&self, packed: Packed, first: u64, out: &mut [u8]) -> Result<(), LedgerError> {
        read_exact_at(self.file(packed)?, out, first * HASH_SIZE as u64)
            .map_err(|e| LedgerError::io(&self.dir.join(packed.relative_path()))(e))
    }

    fn dir(&self) -> &Path {
        self.dir
    }
}

#[cfg(unix)]
fn write_all_at(file: &File, bytes: &[u8], offset: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::write_all_at(file, bytes, offset)
}

#[cfg(windows)]
fn write_all_at(file: &File, mut bytes: &[u8], mut offset: u64) -> std::io::Result<()> {
    use std::os::windows::fs::FileExt;
    while !bytes.is_empty() {
        let written = file.seek_write(bytes, offset)?;
        bytes = &bytes[written..];
        offset += written as u64;
    }
    Ok(())
}
