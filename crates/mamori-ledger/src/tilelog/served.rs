//! [`TileReader`]: the C2SP resources of a log directory, cut out of its packed files.

use std::fs::File;
use std::path::{Path, PathBuf};

use super::files::{read_bounded, read_exact_at};
use super::packed::Packed;
use super::{CHECKPOINT_FILE, bundle_bytes, hashes_from_bytes};
use crate::LedgerError;
use crate::checkpoint::Checkpoint;
use crate::note;
use crate::tile::{FULL_WIDTH, HASH_SIZE, MAX_TILE_LEVELS, TILE_HEIGHT, TILE_WIDTH, TilePath};

/// Largest checkpoint note read (they are a few hundred bytes).
const MAX_NOTE_BYTES: u64 = 1 << 16;

/// Reads tiles, entry bundles and the latest checkpoint of a log directory, for serving.
///
/// Needs no lock and may run beside the process that appends: the packed files only grow, and
/// only records inside the asked tree size are read, so a reader never sees bytes of an
/// append that is not committed — as long as the size comes from a signed checkpoint, which
/// is only written once the tree it names is durable.
#[derive(Debug, Clone)]
pub struct TileReader {
    dir: PathBuf,
}

impl TileReader {
    pub fn new(dir: &Path) -> TileReader {
        TileReader {
            dir: dir.to_path_buf(),
        }
    }

    /// The latest signed checkpoint (note text) and the tree size it names, `None` if none
    /// was signed. The signature is not checked: this is the log's own file.
    pub fn latest_checkpoint(&self) -> Result<Option<(String, u64)>, LedgerError> {
        let path = self.dir.join(CHECKPOINT_FILE);
        let Some(bytes) = read_bounded(&path, MAX_NOTE_BYTES).map_err(LedgerError::io(&path))?
        else {
            return Ok(None);
        };
        let text =
            String::from_utf8(bytes).map_err(|_| LedgerError::corrupt(&path, "not UTF-8"))?;
        let parsed = note::parse(&text)?;
        let checkpoint = Checkpoint::parse(&parsed.text)
            .map_err(|e| LedgerError::corrupt(&path, e.to_string()))?;
        Ok(Some((text, checkpoint.size)))
    }

    /// The bytes of `tile` in the tree of `tree_size` entries, `None` if that tree has no such
    /// resource. Any prefix of a tile the tree holds is served, so partial tiles named by older
    /// checkpoints stay available after their tile fills up.
    pub fn read(&self, tile: &TilePath, tree_size: u64) -> Result<Option<Vec<u8>>, LedgerError> {
        let (packed, index, width) = match *tile {
            TilePath::Hashes {
                level,
                index,
                width,
            } if level < MAX_TILE_LEVELS => {
                (Packed::Hashes(level * TILE_HEIGHT as u8), index, width)
            }
            TilePath::Hashes { .. } => return Ok(None),
            TilePath::Entries { index, width } => (Packed::Entries, index, width),
        };
        if width == 0 || width > FULL_WIDTH {
            return Ok(None);
        }
        let Some(end) = index
            .checked_mul(TILE_WIDTH as u64)
            .and_then(|first| first.checked_add(u64::from(width)))
        else {
            return Ok(None);
        };
        if end > packed.records(tree_size) {
            return Ok(None);
        }
        let path = self.dir.join(packed.relative_path());
        let mut bytes = vec![0u8; usize::from(width) * HASH_SIZE];
        File::open(&path)
            .and_then(|file| {
                read_exact_at(
                    &file,
                    &mut bytes,
                    index * TILE_WIDTH as u64 * HASH_SIZE as u64,
                )
            })
            .map_err(LedgerError::io(&path))?;
        Ok(Some(match packed {
            Packed::Entries => bundle_bytes(&hashes_from_bytes(&bytes)),
            Packed::Hashes(_) => bytes,
        }))
    }
}
