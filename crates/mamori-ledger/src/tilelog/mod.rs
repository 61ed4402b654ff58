//! [`TileLog`]: the log as packed C2SP tiles and entries, and its signed checkpoints.

mod files;
mod packed;
mod reader;
mod served;
mod state;
#[cfg(test)]
mod tests;

/// Points where crash-safety tests stop an append as if the process died there. Outside
/// tests, [`TileLog::crash_at`] compiles to nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FailPoint {
    /// The entries are written; no hash is.
    AfterEntries,
    /// Entries and hashes are written (and durable unless deferred); `state` still names the
    /// old size.
    BeforeCommit,
}

use std::fs::{self, File};
use std::path::{Path, PathBuf};

use crate::checkpoint::Checkpoint;
use crate::edge::{Edge, EdgeLevel, EdgeSink, GROUP_HEIGHT, Subtree};
use crate::merkle::{self, empty_root};
use crate::note::{self, Signer};
use crate::tile::{
    ENTRY_RECORD_SIZE, HASH_SIZE, TILE_HEIGHT, TILE_WIDTH, TilePath, full_tiles, partial_width,
    tile_levels,
};
use crate::{Hash, LedgerError};

pub(crate) use files::read_bounded;
use files::{clear_dir, read_optional, write_atomic};
pub(crate) use packed::{Packed, STORED_LEVELS, level_len, slot, stored_levels};
use packed::{PackedFiles, PackedRecords};
use reader::LogReader;
pub use served::TileReader;
pub(crate) use state::State;

pub(crate) const STATE_FILE: &str = "state";
pub(crate) const CHECKPOINT_FILE: &str = "checkpoint";
pub(crate) const CHECKPOINTS_DIR: &str = "checkpoints";
const TMP_DIR: &str = "tmp";
const LOCK_FILE: &str = "lock";

/// A C2SP tiled transparency log in a directory.
///
/// ```text
/// <dir>/entries                      entry i at byte 32 i; entry bundles are runs of 256
/// <dir>/hashes/LL                    complete subtrees of tree level LL = 00, 04, ..., 60;
///                                    levels 8t are the tiles of tile level t, end to end
/// <dir>/checkpoint                   latest signed checkpoint
/// <dir>/checkpoints/<size:020>       every signed checkpoint
/// <dir>/state                        private: origin and committed size
/// <dir>/tmp/                         private: files being written
/// <dir>/lock                         private: held (flock) by the one open `TileLog`
/// ```
///
/// The tiles and entry bundles a client fetches (`tile/<L>/<N>[.p/<W>]`,
/// `tile/entries/<N>[.p/<W>]`) are byte ranges of these files: see [`TileReader`] and the
/// `packed` module for why they are not one file each.
///
/// # Crash safety
///
/// The packed files are append-only and `state` names the committed size. An append writes
/// the new entries and hashes after the committed ones, fsyncs them, and commits by replacing
/// `state` (atomically, durably). Opening the log cuts every file back to the committed size,
/// so an append that never committed leaves no trace; bytes of the committed tree are never
/// rewritten.
///
/// With [`TileLog::defer_durability`] appends skip the fsyncs and the commit; [`TileLog::sync`]
/// (one `syncfs`, called by [`TileLog::sign_checkpoint`]) commits everything appended so far.
/// A crash then rolls back to the last synced size, never past a signed checkpoint, and the
/// caller appends the lost entries again.
///
/// One process at a time may open a log: [`TileLog::open`] takes an exclusive lock on `lock`.
/// Readers of the files (a tile server through [`TileReader`], the [`crate::audit::Auditor`])
/// need no lock.
#[derive(Debug)]
pub struct TileLog {
    dir: PathBuf,
    /// Exclusive lock on `<dir>/lock`, held while the log is open.
    _lock: File,
    origin: String,
    /// Size and partial tiles of the tree.
    edge: Edge,
    /// The tree's complete subtrees and suffix roots, derived from `edge`.
    right_edge: RightEdge,
    files: PackedFiles,
    /// Whether appends skip fsync and commit, leaving both to [`TileLog::sync`].
    deferred: bool,
    /// The committed size (`== size` unless `deferred`).
    durable_size: u64,
    /// A failed append may have left bytes beyond `size` in the files.
    dirty: bool,
    /// Where the next append stops as if the process died (crash-safety tests).
    #[cfg(test)]
    failpoint: Option<FailPoint>,
}

impl TileLog {
    /// Open the log in `dir`, creating it (empty) if needed, and drop whatever an append that
    /// never committed left behind. `origin` must match the log's and be a valid note key name.
    pub fn open(dir: &Path, origin: &str) -> Result<TileLog, LedgerError> {
        if !note::is_valid_name(origin) {
            return Err(LedgerError::InvalidOrigin(origin.to_owned()));
        }
        fs::create_dir_all(dir.join(TMP_DIR)).map_err(LedgerError::io(dir))?;
        let lock = lock_dir(dir)?;
        let state = read_or_create_state(dir, origin)?;
        if state.origin != origin {
            return Err(LedgerError::OriginMismatch {
                dir: dir.to_path_buf(),
                expected: origin.to_owned(),
                found: state.origin,
            });
        }
        clear_dir(&dir.join(TMP_DIR))?;
        let files = PackedFiles::open(dir, state.size)?;
        let edge = load_edge(&files, state.size)?;
        Ok(TileLog {
            dir: dir.to_path_buf(),
            _lock: lock,
            origin: origin.to_owned(),
            right_edge: RightEdge::new(&edge),
            edge,
            files,
            deferred: false,
            durable_size: state.size,
            dirty: false,
            #[cfg(test)]
            failpoint: None,
        })
    }

    pub fn size(&self) -> u64 {
        self.edge.size()
    }

    pub fn origin(&self) -> &str {
        &self.origin
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Append entries (32-byte digests). Durable and atomic: when this returns `Ok` the new size
    /// is on stable storage (unless durability is deferred); if it fails or the process dies,
    /// the log stays at the old size.
    pub fn append(&mut self, entries: &[Hash]) -> Result<(), LedgerError> {
        if entries.is_empty() {
            return Ok(());
        }
        let old_size = self.size();
        let new_size = u64::try_from(entries.len())
            .ok()
            .and_then(|count| old_size.checked_add(count))
            .ok_or(LedgerError::TooManyEntries {
                size: old_size,
                count: entries.len(),
            })?;
        if self.dirty {
            self.files.truncate(old_size)?;
            self.dirty = false;
        }
        // Hash onto a copy of the edge, so a failure leaves `self` as it was.
        let mut edge = self.edge.clone();
        let mut new_hashes = NewHashes::default();
        for entry in entries {
            let Ok(()) = edge.push_entry(entry, &mut new_hashes);
        }
        debug_assert_eq!(edge.size(), new_size);

        self.dirty = true;
        self.files.write(Packed::Entries, old_size, entries)?;
        self.crash_at(FailPoint::AfterEntries)?;
        for level in stored_levels() {
            let first = level_len(old_size, level);
            self.files.write(
                Packed::Hashes(level),
                first,
                &new_hashes.levels[slot(level)],
            )?;
        }
        if !self.deferred {
            self.files.sync_written()?;
            self.crash_at(FailPoint::BeforeCommit)?;
            // Commit point: from here on the new size is the log.
            self.write_state(new_size)?;
            self.durable_size = new_size;
        } else {
            self.crash_at(FailPoint::BeforeCommit)?;
        }
        self.dirty = false;
        self.right_edge = RightEdge::new(&edge);
        self.edge = edge;
        Ok(())
    }

    /// The root of the current tree.
    pub fn root(&self) -> Result<Hash, LedgerError> {
        Ok(self.right_edge.root())
    }

    /// The root of the tree of the first `tree_size` entries (`tree_size <= size`).
    pub fn root_at(&self, tree_size: u64) -> Result<Hash, LedgerError> {
        self.check_tree_size(tree_size)?;
        if tree_size == self.size() {
            return Ok(self.right_edge.root());
        }
        if tree_size == 0 {
            return Ok(empty_root());
        }
        merkle::range_root(&mut LogReader::new(self), 0, tree_size)
    }

    /// The entry (32-byte digest) at `index`.
    pub fn entry(&self, index: u64) -> Result<Hash, LedgerError> {
        let size = self.size();
        if index >= size {
            return Err(LedgerError::IndexOutOfRange {
                index,
                tree_size: size,
            });
        }
        let mut entry = [0u8; HASH_SIZE];
        self.files.read(Packed::Entries, index, &mut entry)?;
        Ok(entry)
    }

    /// RFC 6962 audit path of the entry at `index` in the tree of the first `tree_size`
    /// entries, leaf sibling first.
    pub fn inclusion_proof(&self, index: u64, tree_size: u64) -> Result<Vec<Hash>, LedgerError> {
        self.check_tree_size(tree_size)?;
        if index >= tree_size {
            return Err(LedgerError::IndexOutOfRange { index, tree_size });
        }
        merkle::inclusion_path(&mut LogReader::new(self), index, tree_size)
    }

    /// RFC 6962 consistency proof from the tree of `size1` entries to that of `size2`.
    pub fn consistency_proof(&self, size1: u64, size2: u64) -> Result<Vec<Hash>, LedgerError> {
        self.check_tree_size(size2)?;
        if size1 > size2 {
            return Err(LedgerError::SizesOutOfOrder { size1, size2 });
        }
        if size1 == 0 || size1 == size2 {
            return Ok(Vec::new());
        }
        merkle::consistency_path(&mut LogReader::new(self), size1, size2)
    }

    /// Sign a checkpoint of the current tree with `signer` (whose name must be the origin),
    /// store it as `checkpoints/<size>` and `checkpoint`, and return the signed note.
    pub fn sign_checkpoint(&mut self, signer: &Signer) -> Result<String, LedgerError> {
        if signer.name() != self.origin {
            return Err(LedgerError::SignerMismatch {
                signer: signer.name().to_owned(),
                origin: self.origin.clone(),
            });
        }
        // A checkpoint must never cover tiles that a crash could still take back.
        self.sync()?;
        let checkpoint = Checkpoint {
            origin: self.origin.clone(),
            size: self.size(),
            root: self.right_edge.root(),
            extensions: Vec::new(),
        };
        let signed = signer.sign(&checkpoint.to_text())?;
        let history = history_path(checkpoint.size);
        let history_file = self.dir.join(&history);
        match read_optional(&history_file)? {
            // Ed25519 signatures are deterministic: the same key re-signs identically.
            Some(existing) if existing == signed.as_bytes() => {}
            Some(_) => {
                return Err(LedgerError::CheckpointConflict {
                    size: checkpoint.size,
                    path: history_file,
                });
            }
            None => self.write_file(&history, signed.as_bytes())?,
        }
        // History first: `checkpoint` never names a size missing from the history.
        self.write_file(CHECKPOINT_FILE, signed.as_bytes())?;
        Ok(signed)
    }

    /// The latest signed checkpoint, if any was signed.
    pub fn latest_checkpoint(&self) -> Result<Option<String>, LedgerError> {
        let path = self.dir.join(CHECKPOINT_FILE);
        read_optional(&path)?
            .map(|bytes| {
                String::from_utf8(bytes).map_err(|_| LedgerError::corrupt(&path, "not UTF-8"))
            })
            .transpose()
    }

    /// Every signed checkpoint in `checkpoints/`, by ascending size.
    pub fn checkpoint_history(&self) -> Result<Vec<String>, LedgerError> {
        let mut notes = Vec::new();
        for size in list_checkpoints(&self.dir)? {
            let path = self.dir.join(history_path(size));
            let bytes = fs::read(&path).map_err(LedgerError::io(&path))?;
            notes.push(
                String::from_utf8(bytes).map_err(|_| LedgerError::corrupt(&path, "not UTF-8"))?,
            );
        }
        Ok(notes)
    }

    /// The bytes of a tile or entry bundle of the current tree, `None` if the tree has no
    /// such resource.
    pub fn read_file(&self, tile: &TilePath) -> Result<Option<Vec<u8>>, LedgerError> {
        TileReader::new(&self.dir).read(tile, self.size())
    }

    /// Stop fsyncing and committing every append: only [`TileLog::sync`] (which
    /// [`TileLog::sign_checkpoint`] calls) makes appends durable. A crash before then rolls the
    /// log back to the last synced size when it is reopened, so the caller must be able to
    /// append those entries again (Mamori's store can: the log is derived from it).
    pub fn defer_durability(&mut self) {
        self.deferred = true;
    }

    /// Make everything appended so far durable: one `syncfs` of the log's file system (which
    /// also flushes whatever the caller wrote there before, such as its own store), then
    /// `state` commits the size.
    pub fn sync(&mut self) -> Result<(), LedgerError> {
        if self.durable_size == self.size() {
            return Ok(());
        }
        flush_file_system(&self.dir)?;
        self.files.mark_synced();
        self.write_state(self.size())?;
        self.durable_size = self.size();
        Ok(())
    }

    /// In tests, stop here as if the process died (leaving everything as it is on disk).
    #[cfg(test)]
    fn crash_at(&self, point: FailPoint) -> Result<(), LedgerError> {
        if self.failpoint == Some(point) {
            return Err(tests::simulated_crash());
        }
        Ok(())
    }

    #[cfg(not(test))]
    #[inline(always)]
    fn crash_at(&self, _: FailPoint) -> Result<(), LedgerError> {
        Ok(())
    }

    fn check_tree_size(&self, tree_size: u64) -> Result<(), LedgerError> {
        if tree_size > self.size() {
            return Err(LedgerError::TreeSizeOutOfRange {
                tree_size,
                size: self.size(),
            });
        }
        Ok(())
    }

    fn write_file(&self, relative: &str, bytes: &[u8]) -> Result<(), LedgerError> {
        write_atomic(&self.dir, &self.dir.join(TMP_DIR), relative, bytes)
    }

    fn write_state(&self, size: u64) -> Result<(), LedgerError> {
        let state = State {
            origin: self.origin.clone(),
            size,
        };
        self.write_file(STATE_FILE, state.encode().as_bytes())
    }
}

/// The complete subtrees of the durable tree (one per set bit of its size) and the root of
/// every suffix of them: the right-edge hashes every proof against the current size needs,
/// computed once per append instead of once per proof.
#[derive(Debug, Default)]
pub(crate) struct RightEdge {
    subtrees: Vec<Subtree>,
    /// `suffix_roots[i]` = root of `subtrees[i..]` = `MTH(D[first leaf of subtree i : size])`.
    suffix_roots: Vec<Hash>,
}

impl RightEdge {
    fn new(edge: &Edge) -> Self {
        let subtrees = edge.subtrees();
        let mut suffix_roots: Vec<Hash> = Vec::with_capacity(subtrees.len());
        for subtree in subtrees.iter().rev() {
            let root = match suffix_roots.last() {
                Some(right) => merkle::node_hash(&subtree.hash, right),
                None => subtree.hash,
            };
            suffix_roots.push(root);
        }
        suffix_roots.reverse();
        RightEdge {
            subtrees,
            suffix_roots,
        }
    }

    fn root(&self) -> Hash {
        self.suffix_roots
            .first()
            .copied()
            .unwrap_or_else(empty_root)
    }

    /// The hash of complete subtree (level, index) if it is one of the edge's.
    pub(crate) fn subtree(&self, level: u8, index: u64) -> Option<Hash> {
        self.subtrees
            .iter()
            .find(|s| s.level == level && s.index == index)
            .map(|s| s.hash)
    }

    /// `MTH(D[start:size])` if `start` is where one of the edge's subtrees begins.
    pub(crate) fn suffix_root(&self, start: u64) -> Option<Hash> {
        self.subtrees
            .iter()
            .position(|s| s.index << s.level == start)
            .and_then(|i| self.suffix_roots.get(i).copied())
    }
}

/// The hashes an append adds to each stored level, in order.
struct NewHashes {
    levels: [Vec<Hash>; STORED_LEVELS],
}

impl Default for NewHashes {
    fn default() -> Self {
        NewHashes {
            levels: std::array::from_fn(|_| Vec::new()),
        }
    }
}

impl EdgeSink for NewHashes {
    type Error = std::convert::Infallible;

    fn node(&mut self, tile_level: u8, _: u64, hash: &Hash) -> Result<(), Self::Error> {
        let level = tile_level * TILE_HEIGHT as u8;
        self.levels[slot(level)].push(*hash);
        Ok(())
    }

    fn group(&mut self, tile_level: u8, _: u64, hash: &Hash) -> Result<(), Self::Error> {
        let level = tile_level * TILE_HEIGHT as u8 + GROUP_HEIGHT as u8;
        self.levels[slot(level)].push(*hash);
        Ok(())
    }

    fn full_tile(&mut self, _: u8, _: u64, _: &[Hash]) -> Result<(), Self::Error> {
        Ok(())
    }
}

/// Take the exclusive lock that makes this process the log's only writer.
fn lock_dir(dir: &Path) -> Result<File, LedgerError> {
    let path = dir.join(LOCK_FILE);
    let file = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(LedgerError::io(&path))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(fs::TryLockError::WouldBlock) => Err(LedgerError::Locked {
            dir: dir.to_path_buf(),
        }),
        Err(fs::TryLockError::Error(e)) => Err(LedgerError::io(&path)(e)),
    }
}

fn read_or_create_state(dir: &Path, origin: &str) -> Result<State, LedgerError> {
    let path = dir.join(STATE_FILE);
    if let Some(bytes) = read_optional(&path)? {
        return State::decode(&bytes, &path);
    }
    // A missing state next to existing data means damage, not a new log.
    if [
        packed::ENTRIES_FILE,
        packed::HASHES_DIR,
        CHECKPOINT_FILE,
        CHECKPOINTS_DIR,
    ]
    .iter()
    .any(|name| dir.join(name).exists())
    {
        return Err(LedgerError::MissingState {
            dir: dir.to_path_buf(),
        });
    }
    let state = State {
        origin: origin.to_owned(),
        size: 0,
    };
    write_atomic(
        dir,
        &dir.join(TMP_DIR),
        STATE_FILE,
        state.encode().as_bytes(),
    )?;
    Ok(state)
}

/// The partial tiles of a tree of `size` leaves, read from the packed files.
fn load_edge(files: &PackedFiles, size: u64) -> Result<Edge, LedgerError> {
    let mut levels = Vec::new();
    for tile_level in 0..tile_levels(size) {
        let width = usize::from(partial_width(size, tile_level));
        let first = full_tiles(size, tile_level) * TILE_WIDTH as u64;
        let mut bytes = vec![0u8; width * HASH_SIZE];
        let level = tile_level * TILE_HEIGHT as u8;
        files.read(Packed::Hashes(level), first, &mut bytes)?;
        levels.push(EdgeLevel::from_nodes(hashes_from_bytes(&bytes)));
    }
    Ok(Edge::from_levels(size, levels))
}

/// Sizes of the signed checkpoints in `checkpoints/`, ascending. Names other than 20 decimal
/// digits are ignored.
pub(crate) fn list_checkpoints(dir: &Path) -> Result<Vec<u64>, LedgerError> {
    let history = dir.join(CHECKPOINTS_DIR);
    let entries = match fs::read_dir(&history) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(LedgerError::io(&history)(e)),
    };
    let mut checkpoints = Vec::new();
    for entry in entries {
        let entry = entry.map_err(LedgerError::io(&history))?;
        if let Some(size) = entry.file_name().to_str().and_then(parse_history_name) {
            checkpoints.push(size);
        }
    }
    checkpoints.sort_unstable();
    Ok(checkpoints)
}

/// `checkpoints/<size as 20 digits>`.
pub(crate) fn history_path(size: u64) -> String {
    format!("{CHECKPOINTS_DIR}/{size:020}")
}

pub(crate) fn parse_history_name(name: &str) -> Option<u64> {
    if name.len() != 20 || !name.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    name.parse().ok()
}

pub(crate) fn hashes_from_bytes(bytes: &[u8]) -> Vec<Hash> {
    debug_assert_eq!(bytes.len() % HASH_SIZE, 0);
    bytes
        .chunks_exact(HASH_SIZE)
        .map(|chunk| {
            let mut hash = [0u8; HASH_SIZE];
            hash.copy_from_slice(chunk);
            hash
        })
        .collect()
}

/// Entry bundle bytes: per entry a big-endian u16 length (32) and the entry.
pub(crate) fn bundle_bytes(entries: &[Hash]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(entries.len() * ENTRY_RECORD_SIZE);
    for entry in entries {
        bytes.extend_from_slice(&(HASH_SIZE as u16).to_be_bytes());
        bytes.extend_from_slice(entry);
    }
    bytes
}

/// Flush every written file of the file system holding `dir` to stable storage.
#[cfg(target_os = "linux")]
fn flush_file_system(dir: &Path) -> Result<(), LedgerError> {
    let handle = File::open(dir).map_err(LedgerError::io(dir))?;
    rustix::fs::syncfs(&handle).map_err(|e| LedgerError::Io {
        path: dir.to_path_buf(),
        source: e.into(),
    })
}

/// Without `syncfs`, flush the whole system's buffers (slower, same guarantee).
#[cfg(not(target_os = "linux"))]
fn flush_file_system(_dir: &Path) -> Result<(), LedgerError> {
    rustix::fs::sync();
    Ok(())
}
