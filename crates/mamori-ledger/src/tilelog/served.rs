//! [`TileReader`]: the C2SP resources of a log directory, cut out of its packed files, and
//! inclusion proofs computed from them.

use std::path::{Path, PathBuf};

use super::files::read_bounded;
use super::packed::{Packed, PackedDir, PackedRecords};
use super::reader::DirReader;
use super::{CHECKPOINT_FILE, STATE_FILE, State, bundle_bytes, hashes_from_bytes};
use crate::checkpoint::Checkpoint;
use crate::tile::{FULL_WIDTH, HASH_SIZE, MAX_TILE_LEVELS, TILE_HEIGHT, TILE_WIDTH, TilePath};
use crate::{Hash, LedgerError, merkle, note};

/// Largest checkpoint note read (they are a few hundred bytes).
const MAX_NOTE_BYTES: u64 = 1 << 16;
/// Largest `state` file read (it is under a hundred bytes plus the origin).
const MAX_STATE_BYTES: u64 = 1 << 16;

/// Reads tiles, entry bundles, entries, inclusion proofs and the latest checkpoint of a log
/// directory, for serving.
///
/// Needs no lock and may run beside the process that appends: the packed files only grow, and
/// only records inside the asked tree size are read, so a reader never sees bytes of an
/// append that is not committed — as long as the size comes from a signed checkpoint, which
/// is only written once the tree it names is durable. [`TileReader::inclusion_proof`] and
/// [`TileReader::entry`] also check the size against the committed one (the private `state`
/// file) and refuse a larger size; [`TileReader::read`] trusts the caller.
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
        let mut bytes = vec![0u8; usize::from(width) * HASH_SIZE];
        PackedDir::new(&self.dir).read(packed, index * TILE_WIDTH as u64, &mut bytes)?;
        Ok(Some(match packed {
            Packed::Entries => bundle_bytes(&hashes_from_bytes(&bytes)),
            Packed::Hashes(_) => bytes,
        }))
    }

    /// RFC 6962 audit path of the entry at `index` in the tree of the first `tree_size`
    /// entries, leaf sibling first: the same hashes as [`super::TileLog::inclusion_proof`],
    /// read from the packed files alone. `tree_size` may be that of any committed tree (a
    /// signed checkpoint's, however old); a larger one is an error.
    pub fn inclusion_proof(&self, index: u64, tree_size: u64) -> Result<Vec<Hash>, LedgerError> {
        self.check_tree_size(tree_size)?;
        if index >= tree_size {
            return Err(LedgerError::IndexOutOfRange { index, tree_size });
        }
        merkle::inclusion_path(&mut DirReader::new(&self.dir, tree_size), index, tree_size)
    }

    /// The entry (32-byte digest, as appended) at `index` in the tree of the first
    /// `tree_size` entries, a committed tree size as for [`TileReader::inclusion_proof`].
    pub fn entry(&self, index: u64, tree_size: u64) -> Result<Hash, LedgerError> {
        self.check_tree_size(tree_size)?;
        if index >= tree_size {
            return Err(LedgerError::IndexOutOfRange { index, tree_size });
        }
        let mut entry = [0u8; HASH_SIZE];
        PackedDir::new(&self.dir).read(Packed::Entries, index, &mut entry)?;
        Ok(entry)
    }

    /// The size the log has committed (0 for a directory with no log yet): its files hold
    /// every record of that tree, durably, and of every smaller one. A signed checkpoint never
    /// names more; a larger size may be an append still being written, or one a crash will
    /// take back, so proofs refuse it rather than read its bytes.
    fn committed_size(&self) -> Result<u64, LedgerError> {
        let path = self.dir.join(STATE_FILE);
        match read_bounded(&path, MAX_STATE_BYTES).map_err(LedgerError::io(&path))? {
            Some(bytes) => Ok(State::decode(&bytes, &path)?.size),
            None => Ok(0),
        }
    }

    fn check_tree_size(&self, tree_size: u64) -> Result<(), LedgerError> {
        let size = self.committed_size()?;
        if tree_size > size {
            return Err(LedgerError::TreeSizeOutOfRange { tree_size, size });
        }
        Ok(())
    }
}
