//! Complete-subtree hashes of a [`TileLog`] for proof generation.
//!
//! A subtree at tree level `h` is the root of `2^r` hashes of level `h - r`, where `h - r` is
//! the multiple of 4 at or below `h`: levels 0, 4, 8, 12, ... are stored in the packed files.
//! So it takes at most 8 stored hashes and 7 SHA-256 calls, and those
//! hashes lie in one aligned run of 16 that the path's siblings at levels `h - r .. h - r + 3`
//! share. The reader fetches 16 hashes (512 bytes, one `pread`) at a time and keeps them for
//! the duration of one proof. Hashes in a partial tile, and the subtrees of the current right
//! edge, come from memory.

use super::packed::{LEVEL_STEP, Packed};
use super::{TileLog, hashes_from_bytes};
use crate::edge::{GROUP_HEIGHT, GROUP_WIDTH};
use crate::merkle::{SubtreeSource, perfect_root};
use crate::tile::{HASH_SIZE, TILE_HEIGHT, TILE_WIDTH, full_tiles};
use crate::{Hash, LedgerError};

/// Hashes per run read at once.
const RUN: usize = 16;
const RUN_BYTES: usize = RUN * HASH_SIZE;

pub(crate) struct LogReader<'a> {
    log: &'a TileLog,
    /// Runs read so far: (stored level, run index) -> 16 hashes.
    runs: Vec<(u8, u64, Vec<Hash>)>,
}

impl<'a> LogReader<'a> {
    pub fn new(log: &'a TileLog) -> Self {
        LogReader {
            log,
            runs: Vec::with_capacity(8),
        }
    }

    /// Root of `count` (a power of two, at most 8) consecutive hashes of stored tree level
    /// `level`, starting at `first` (aligned to `count`).
    fn stored_root(&mut self, level: u8, first: u64, count: usize) -> Result<Hash, LedgerError> {
        debug_assert!(level.is_multiple_of(LEVEL_STEP));
        debug_assert!(count <= RUN / 2 && first.is_multiple_of(count as u64));
        let log = self.log;
        let (partial_start, partial) = log.partial_hashes(level);
        if first >= partial_start {
            let start = (first - partial_start) as usize;
            return partial
                .get(start..start + count)
                .map(perfect_root)
                .ok_or_else(|| {
                    LedgerError::corrupt(
                        &log.dir,
                        format!("level {level} hash {first} beyond the tree"),
                    )
                });
        }
        // Below the partial tile, so the whole run is in a full tile: stored in full.
        let run_index = first / RUN as u64;
        let position = self
            .runs
            .iter()
            .position(|(l, r, _)| *l == level && *r == run_index);
        let run = match position {
            Some(position) => &self.runs[position].2,
            None => {
                let hashes = read_run(log, level, run_index)?;
                self.runs.push((level, run_index, hashes));
                &self.runs[self.runs.len() - 1].2
            }
        };
        let offset = (first % RUN as u64) as usize;
        run.get(offset..offset + count)
            .map(perfect_root)
            .ok_or_else(|| LedgerError::corrupt(&log.dir, "short run of hashes"))
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
        let height = level % LEVEL_STEP;
        self.stored_root(level - height, index << height, 1 << height)
    }

    fn known_range_root(&mut self, start: u64, end: u64) -> Option<Hash> {
        if end == self.log.size() {
            self.log.right_edge.suffix_root(start)
        } else {
            None
        }
    }
}

/// Read run `run_index` (16 hashes) of stored tree level `level`.
fn read_run(log: &TileLog, level: u8, run_index: u64) -> Result<Vec<Hash>, LedgerError> {
    let mut bytes = [0u8; RUN_BYTES];
    log.files
        .read(Packed::Hashes(level), run_index * RUN as u64, &mut bytes)?;
    Ok(hashes_from_bytes(&bytes))
}
