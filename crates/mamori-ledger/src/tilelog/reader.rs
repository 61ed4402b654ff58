//! Complete-subtree hashes of a log for proof generation: [`LogReader`] for an open
//! [`TileLog`], [`DirReader`] for a log directory alone (what [`super::TileReader`] proves
//! from).
//!
//! A subtree at tree level `h` is the root of `2^r` hashes of level `h - r`, where `h - r` is
//! the multiple of 4 at or below `h`: levels 0, 4, 8, 12, ... are stored in the packed files.
//! So it takes at most 8 stored hashes and 7 SHA-256 calls, and those
//! hashes lie in one aligned run of 16 that the path's siblings at levels `h - r .. h - r + 3`
//! share. The readers fetch 16 hashes (512 bytes, one `pread`) at a time and keep them for
//! the duration of one proof ([`StoredHashes`]).
//!
//! Every append writes all the stored-level hashes it completes, those of partial tiles
//! included, so the files hold every complete subtree of every committed tree size: hash `i`
//! of stored level `l` is complete in a tree of `n` leaves iff `i < n >> l`, and it never
//! changes as the tree grows. A [`DirReader`] for an older size reads the same records a reader
//! at that size would have read. A [`LogReader`] takes the hashes of partial tiles, and the
//! subtrees of the current right edge, from memory instead.

use std::path::Path;

use super::packed::{LEVEL_STEP, Packed, PackedDir, PackedRecords, level_len};
use super::{TileLog, hashes_from_bytes};
use crate::edge::{GROUP_HEIGHT, GROUP_WIDTH};
use crate::merkle::{SubtreeSource, perfect_root};
use crate::tile::{HASH_SIZE, TILE_HEIGHT, TILE_WIDTH, full_tiles};
use crate::{Hash, LedgerError};

/// Hashes per run read at once.
const RUN: usize = 16;

/// The stored hashes whose root is complete subtree (`level`, `index`): their stored level,
/// the index of the first one, and how many (a power of two, at most 8).
fn stored_span(level: u8, index: u64) -> (u8, u64, usize) {
    let height = level % LEVEL_STEP;
    (level - height, index << height, 1 << height)
}

/// Runs of stored hashes read from the packed files, kept for one proof.
#[derive(Default)]
struct StoredHashes {
    /// Runs read so far: (stored level, run index) -> up to 16 hashes.
    runs: Vec<(u8, u64, Vec<Hash>)>,
}

impl StoredHashes {
    /// Root of `count` (a power of two, at most 8) consecutive hashes of stored tree level
    /// `level`, starting at `first` (aligned to `count`). Only the first `readable` hashes of
    /// the level are read: a run is cut short there, and hashes beyond it are an error.
    fn root(
        &mut self,
        files: &impl PackedRecords,
        level: u8,
        first: u64,
        count: usize,
        readable: u64,
    ) -> Result<Hash, LedgerError> {
        debug_assert!(level.is_multiple_of(LEVEL_STEP));
        debug_assert!(count <= RUN / 2 && first.is_multiple_of(count as u64));
        let run_index = first / RUN as u64;
        let position = self
            .runs
            .iter()
            .position(|(l, r, _)| *l == level && *r == run_index);
        let run = match position {
            Some(position) => &self.runs[position].2,
            None => {
                let hashes = read_run(files, level, run_index, readable)?;
                self.runs.push((level, run_index, hashes));
                &self.runs[self.runs.len() - 1].2
            }
        };
        let offset = (first % RUN as u64) as usize;
        run.get(offset..offset + count)
            .map(perfect_root)
            .ok_or_else(|| {
                LedgerError::corrupt(
                    files.dir(),
                    format!("level {level} hash {first} beyond the tree"),
                )
            })
    }
}

/// Run `run_index` of stored level `level`: its 16 hashes, fewer if the level's first
/// `readable` hashes end inside it.
fn read_run(
    files: &impl PackedRecords,
    level: u8,
    run_index: u64,
    readable: u64,
) -> Result<Vec<Hash>, LedgerError> {
    let first = run_index * RUN as u64;
    let len = readable.saturating_sub(first).min(RUN as u64) as usize;
    let mut bytes = [0u8; RUN * HASH_SIZE];
    let bytes = &mut bytes[..len * HASH_SIZE];
    files.read(Packed::Hashes(level), first, bytes)?;
    Ok(hashes_from_bytes(bytes))
}

pub(crate) struct LogReader<'a> {
    log: &'a TileLog,
    stored: StoredHashes,
}

impl<'a> LogReader<'a> {
    pub fn new(log: &'a TileLog) -> Self {
        LogReader {
            log,
            stored: StoredHashes::default(),
        }
    }
}

impl TileLog {
    /// Index of the first hash of stored tree level `level` in the partial tile of its
    /// tile level, and those hashes (in memory).
    fn partial_hashes(&self, level: u8) -> (u64, &[Hash]) {
        let tile_level = (u32::from(level) / TILE_HEIGHT) as u8;
        let full = full_tiles(self.size(), tile_level);
        let edge = self.edge.level(tile_level);
        if u32::from(level) % TILE_HEIGHT == GROUP_HEIGHT {
            let groups = edge.map_or(&[][..], |l| &l.groups[..]);
            (full * (TILE_WIDTH / GROUP_WIDTH) as u64, groups)
        } else {
            let nodes = edge.map_or(&[][..], |l| &l.nodes[..]);
            (full * TILE_WIDTH as u64, nodes)
        }
    }
}

impl SubtreeSource for LogReader<'_> {
    type Error = LedgerError;

    fn subtree(&mut self, level: u8, index: u64) -> Result<Hash, LedgerError> {
        if let Some(hash) = self.log.right_edge.subtree(level, index) {
            return Ok(hash);
        }
        let (stored_level, first, count) = stored_span(level, index);
        let (partial_start, partial) = self.log.partial_hashes(stored_level);
        if first < partial_start {
            // Below the partial tile, so the whole run is in a full tile: stored in full.
            let files = &self.log.files;
            return self
                .stored
                .root(files, stored_level, first, count, partial_start);
        }
        let start = (first - partial_start) as usize;
        partial
            .get(start..start + count)
            .map(perfect_root)
            .ok_or_else(|| {
                LedgerError::corrupt(
                    &self.log.dir,
                    format!("level {stored_level} hash {first} beyond the tree"),
                )
            })
    }

    fn known_range_root(&mut self, start: u64, end: u64) -> Option<Hash> {
        if end == self.log.size() {
            self.log.right_edge.suffix_root(start)
        } else {
            None
        }
    }
}

/// Complete-subtree hashes of the tree of the first `tree_size` entries of a log directory,
/// from its packed files alone. `tree_size` must be committed (see [`super::TileReader`]):
/// only records of that tree are read, so the log may keep growing meanwhile.
pub(crate) struct DirReader<'a> {
    files: PackedDir<'a>,
    tree_size: u64,
    stored: StoredHashes,
}

impl<'a> DirReader<'a> {
    pub fn new(dir: &'a Path, tree_size: u64) -> Self {
        DirReader {
            files: PackedDir::new(dir),
            tree_size,
            stored: StoredHashes::default(),
        }
    }
}

impl SubtreeSource for DirReader<'_> {
    type Error = LedgerError;

    fn subtree(&mut self, level: u8, index: u64) -> Result<Hash, LedgerError> {
        let (stored_level, first, count) = stored_span(level, index);
        let readable = level_len(self.tree_size, stored_level);
        self.stored
            .root(&self.files, stored_level, first, count, readable)
    }
}
