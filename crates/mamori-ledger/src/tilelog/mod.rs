//! [`TileLog`]: the log as a directory of C2SP tiles, entry bundles and signed checkpoints.

mod cache;
mod files;
mod reader;
mod state;
#[cfg(test)]
mod tests;

/// Points where crash-safety tests stop an append as if the process died there. Outside
/// tests, [`TileLog::crash_at`] compiles to nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FailPoint {
    /// The intent (`pending`) is durable; nothing else written.
    AfterIntent,
    /// After staging this many full tiles (some may already be in place, others in `tmp/`).
    #[cfg(test)]
    AfterFullTiles(usize),
    /// All tiles, bundles and partials staged; cache not extended.
    BeforeCache,
    /// Cache extended; staged files still in `tmp/` (at most the last 127 of them).
    BeforeFilesInPlace,
    /// Every file in place and durable; `state` still names the old size.
    BeforeCommit,
    /// `state` names the new size; replaced partial tiles not yet removed.
    AfterCommit,
}

use std::fs::{self, File};
use std::path::{Path, PathBuf};

use crate::checkpoint::Checkpoint;
use crate::edge::{Edge, EdgeLevel, EdgeSink, GROUP_HEIGHT, GROUP_WIDTH, Subtree};
use crate::merkle::{self, empty_root, perfect_root};
use crate::note::{self, Signer};
use crate::tile::{
    ENTRY_RECORD_SIZE, FULL_WIDTH, HASH_SIZE, MAX_TILE_LEVELS, TILE_HEIGHT, TILE_WIDTH, TilePath,
    entries_path, full_tiles, partial_width, tile_levels, tile_path,
};
use crate::{Hash, LedgerError};

use cache::{HashCache, cache_len, cache_path};
pub(crate) use cache::{cache_levels, cache_relative_path, cache_slot};
pub(crate) use files::read_bounded;
use files::{FileBatch, clear_dir, read_optional, remove_file_if_exists, write_atomic};
use reader::LogReader;
pub(crate) use state::State;

pub(crate) const STATE_FILE: &str = "state";
pub(crate) const CHECKPOINT_FILE: &str = "checkpoint";
pub(crate) const CHECKPOINTS_DIR: &str = "checkpoints";
const TMP_DIR: &str = "tmp";
const LOCK_FILE: &str = "lock";

/// Bytes in a full hash tile.
const FULL_TILE_BYTES: usize = TILE_WIDTH * HASH_SIZE;

/// A C2SP tiled transparency log in a directory.
///
/// ```text
/// <dir>/tile/<L>/<N>[.p/<W>]         hash tiles, exactly as served
/// <dir>/tile/entries/<N>[.p/<W>]     entry bundles (u16 length 32 + entry, per entry)
/// <dir>/checkpoint                   latest signed checkpoint
/// <dir>/checkpoints/<size:020>       every signed checkpoint
/// <dir>/state                        private: origin, durable size, append in progress
/// <dir>/cache/level-<LL>             private: hashes of tree levels LL = 4, 8, 12, ... (derived)
/// <dir>/tmp/                         private: files being written
/// <dir>/lock                         private: held (flock) by the one open `TileLog`
/// ```
///
/// Partial tiles of older sizes stay until their full tile exists (checkpoints may name them),
/// then are removed.
///
/// # Crash safety
///
/// Every file is written to `tmp/`, fsynced and renamed into place. An append first records
/// its target size as `pending` in `state`, then writes the new tiles, bundles and partial
/// tiles, extends the cache, fsyncs all of it, and commits by writing `state` with the new size.
/// No file of an append is at a path that is valid for the old size, so until the commit the
/// old log is intact; if the commit never happens, opening the log (or the next append) removes
/// exactly the files the interrupted append could have created. Partial tiles replaced by full
/// ones are removed only after the commit.
///
/// With [`TileLog::defer_durability`] appends skip the fsyncs and record the last synced size
/// as the recovery point instead; [`TileLog::sync`] (one `syncfs`, called by
/// [`TileLog::sign_checkpoint`]) advances it. A crash then rolls back to the last synced size,
/// never past a signed checkpoint, and the caller appends the lost entries again.
///
/// One process at a time may open a log: [`TileLog::open`] takes an exclusive lock on `lock`.
/// Readers of the files (a tile server, the [`crate::audit::Auditor`]) need no lock.
#[derive(Debug)]
pub struct TileLog {
    dir: PathBuf,
    /// Exclusive lock on `<dir>/lock`, held while the log is open.
    _lock: File,
    origin: String,
    /// Size and partial tiles of the durable tree.
    edge: Edge,
    /// The durable tree's complete subtrees and suffix roots, derived from `edge`.
    right_edge: RightEdge,
    /// Entries of the partial entry bundle.
    edge_entries: Vec<Hash>,
    /// Flat files of the tree levels 4, 8, 12, ... for fast proofs.
    cache: HashCache,
    /// Target size of an interrupted append whose files may still be on disk (`== size` if none).
    pending: u64,
    /// Whether appends skip fsync, leaving durability to [`TileLog::sync`].
    deferred: bool,
    /// The size known to be on stable storage (`== size` unless `deferred`).
    durable_size: u64,
    /// Where the next append stops as if the process died (crash-safety tests).
    #[cfg(test)]
    failpoint: Option<FailPoint>,
}

impl TileLog {
    /// Open the log in `dir`, creating it (empty) if needed, and recover from an interrupted
    /// append. `origin` must match the log's and be a valid note key name.
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
        let edge = load_edge(dir, state.size)?;
        let mut log = TileLog {
            dir: dir.to_path_buf(),
            _lock: lock,
            origin: origin.to_owned(),
            right_edge: RightEdge::new(&edge),
            edge,
            edge_entries: load_partial_bundle(dir, state.size)?,
            cache: HashCache::new(dir),
            pending: state.pending,
            deferred: false,
            durable_size: state.size,
            #[cfg(test)]
            failpoint: None,
        };
        log.recover()?;
        log.sync_cache()?;
        Ok(log)
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
    /// is on stable storage; if it fails or the process dies, the log stays at the old size.
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
        self.recover()?;
        // Record the target first, so recovery knows which files an interrupted append may
        // have left behind. With deferred durability the recorded start stays at the durable
        // size, so a crash before the next `sync` rolls back to what is known to be on disk.
        let durable = !self.deferred;
        let recovery_start = if durable { old_size } else { self.durable_size };
        self.pending = new_size;
        self.write_state(recovery_start, new_size, durable)?;
        self.crash_at(FailPoint::AfterIntent)?;

        let mut batch = FileBatch::new(&self.dir, &self.dir.join(TMP_DIR), durable);
        let grown = self.grow(entries, &mut batch)?;
        debug_assert_eq!(grown.edge.size(), new_size);
        self.put_partials(&mut batch, old_size, &grown.edge, &grown.entries)?;
        self.crash_at(FailPoint::BeforeCache)?;
        self.append_cache(old_size, &grown.cache, durable)?;
        self.crash_at(FailPoint::BeforeFilesInPlace)?;
        batch.commit()?;
        self.crash_at(FailPoint::BeforeCommit)?;

        // Commit point: from here on the new size is the log.
        if durable {
            self.write_state(new_size, new_size, true)?;
            self.durable_size = new_size;
        }
        self.crash_at(FailPoint::AfterCommit)?;
        self.pending = new_size;
        self.right_edge = RightEdge::new(&grown.edge);
        self.edge = grown.edge;
        self.edge_entries = grown.entries;
        // The durable size's partial tiles stay until it changes: recovery reopens at that size.
        if old_size != self.durable_size {
            self.remove_replaced_partials(old_size);
        }
        Ok(())
    }

    /// Hash `entries` onto a copy of the edge, staging every full tile and entry bundle they
    /// complete in `batch`. `self` is untouched, so a failure leaves the log as it was.
    fn grow(&self, entries: &[Hash], batch: &mut FileBatch) -> Result<Grown, LedgerError> {
        let mut edge = self.edge.clone();
        let mut edge_entries = self.edge_entries.clone();
        let mut sink = AppendSink::new(batch);
        #[cfg(test)]
        if let Some(FailPoint::AfterFullTiles(count)) = self.failpoint {
            sink.crash_after_tiles = Some(count);
        }
        for entry in entries {
            edge_entries.push(*entry);
            if edge_entries.len() == TILE_WIDTH {
                let bundle_index = edge.size() / TILE_WIDTH as u64;
                let bundle = bundle_bytes(&edge_entries);
                sink.batch
                    .put(&entries_path(bundle_index, FULL_WIDTH), &bundle)?;
                edge_entries.clear();
            }
            edge.push_entry(entry, &mut sink)?;
        }
        Ok(Grown {
            edge,
            entries: edge_entries,
            cache: sink.cache,
        })
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
        let bundle_index = index / TILE_WIDTH as u64;
        let offset = (index % TILE_WIDTH as u64) as usize;
        if bundle_index >= full_tiles(size, 0) {
            return self
                .edge_entries
                .get(offset)
                .copied()
                .ok_or_else(|| LedgerError::corrupt(&self.dir, "partial entry bundle too short"));
        }
        let path = self.dir.join(entries_path(bundle_index, FULL_WIDTH));
        let file = File::open(&path).map_err(LedgerError::io(&path))?;
        let mut record = [0u8; ENTRY_RECORD_SIZE];
        files::read_exact_at(&file, &mut record, (offset * ENTRY_RECORD_SIZE) as u64)
            .map_err(LedgerError::io(&path))?;
        parse_bundle(&record, 1)
            .ok()
            .and_then(|entries| entries.first().copied())
            .ok_or_else(|| LedgerError::corrupt(&path, format!("bad record for entry {index}")))
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

    /// The bytes of a tile or entry bundle for serving, `None` unless the resource belongs to
    /// the durable tree (so leftovers of an interrupted append are never served).
    pub fn read_file(&self, tile: &TilePath) -> Result<Option<Vec<u8>>, LedgerError> {
        let (tile_level, index, width) = match *tile {
            TilePath::Hashes {
                level,
                index,
                width,
            } => (level, index, width),
            TilePath::Entries { index, width } => (0, index, width),
        };
        if !self.serves(tile_level, index, width) {
            return Ok(None);
        }
        read_optional(&self.dir.join(tile.to_path()))
    }

    /// Rebuild the private hash cache from the tiles (e.g. after the auditor reported it bad).
    pub fn rebuild_cache(&mut self) -> Result<(), LedgerError> {
        self.cache.close_all();
        for level in cache_levels() {
            remove_file_if_exists(&cache_path(&self.dir, level))?;
        }
        self.sync_cache()
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

    fn serves(&self, tile_level: u8, index: u64, width: u16) -> bool {
        if tile_level >= MAX_TILE_LEVELS || width == 0 || width > FULL_WIDTH {
            return false;
        }
        let size = self.size();
        let full = full_tiles(size, tile_level);
        if width == FULL_WIDTH {
            return index < full;
        }
        // Older partial tiles stay valid (checkpoints may name them) until the full tile exists.
        index < full || (index == full && width <= partial_width(size, tile_level))
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

    fn write_state(&self, size: u64, pending: u64, durable: bool) -> Result<(), LedgerError> {
        let state = State {
            origin: self.origin.clone(),
            size,
            pending,
        };
        let mut batch = FileBatch::new(&self.dir, &self.dir.join(TMP_DIR), durable);
        batch.put(STATE_FILE, state.encode().as_bytes())?;
        batch.commit()
    }

    /// Stop fsyncing every append: files are still put in place atomically, but only
    /// [`TileLog::sync`] (which [`TileLog::sign_checkpoint`] calls) makes them durable. A crash
    /// before then rolls the log back to the last synced size when it is reopened, so the
    /// caller must be able to append those entries again (Mamori's store can: the tiles are
    /// derived from it). Per-file fsync costs more than everything else an append does.
    pub fn defer_durability(&mut self) {
        self.deferred = true;
    }

    /// Make everything appended so far durable: one `syncfs` of the log's file system, then
    /// the state file records the size as durable.
    pub fn sync(&mut self) -> Result<(), LedgerError> {
        if self.durable_size == self.size() && self.pending == self.size() {
            return Ok(());
        }
        flush_file_system(&self.dir)?;
        self.write_state(self.size(), self.size(), true)?;
        let size = self.size();
        let previous = std::mem::replace(&mut self.durable_size, size);
        self.remove_replaced_partials(previous);
        Ok(())
    }

    /// Read a full hash tile (exactly 256 hashes).
    fn read_full_tile(&self, tile_level: u8, tile_index: u64) -> Result<Vec<Hash>, LedgerError> {
        let path = self.dir.join(tile_path(tile_level, tile_index, FULL_WIDTH));
        let bytes = fs::read(&path).map_err(LedgerError::io(&path))?;
        if bytes.len() != FULL_TILE_BYTES {
            return Err(LedgerError::corrupt(
                &path,
                format!("{} bytes, expected {FULL_TILE_BYTES}", bytes.len()),
            ));
        }
        Ok(hashes_from_bytes(&bytes))
    }

    /// Stage the partial tiles and bundle of the new size that differ from the old size's.
    fn put_partials(
        &self,
        batch: &mut FileBatch,
        old_size: u64,
        edge: &Edge,
        edge_entries: &[Hash],
    ) -> Result<(), LedgerError> {
        let new_size = edge.size();
        for tile_level in 0..tile_levels(new_size) {
            let width = partial_width(new_size, tile_level);
            let index = full_tiles(new_size, tile_level);
            let unchanged = (index, width)
                == (
                    full_tiles(old_size, tile_level),
                    partial_width(old_size, tile_level),
                );
            if width == 0 || unchanged {
                continue;
            }
            let nodes = edge.level(tile_level).map_or(&[][..], |l| &l.nodes[..]);
            debug_assert_eq!(nodes.len(), usize::from(width));
            batch.put(
                &tile_path(tile_level, index, width),
                &hashes_to_bytes(nodes),
            )?;
        }
        let width = partial_width(new_size, 0);
        if width > 0 {
            debug_assert_eq!(edge_entries.len(), usize::from(width));
            batch.put(
                &entries_path(full_tiles(new_size, 0), width),
                &bundle_bytes(edge_entries),
            )?;
        }
        Ok(())
    }

    /// Append each cache level's new hashes after the `old_size` ones and fsync them.
    fn append_cache(
        &mut self,
        old_size: u64,
        new: &[Vec<Hash>],
        durable: bool,
    ) -> Result<(), LedgerError> {
        for level in cache_levels() {
            let hashes = &new[cache_slot(level)];
            if !hashes.is_empty() {
                self.cache
                    .append(level, cache_len(old_size, level), hashes, durable)?;
            }
        }
        Ok(())
    }

    /// Make the cache hold exactly the durable size's hashes (see [`HashCache::sync`]).
    fn sync_cache(&mut self) -> Result<(), LedgerError> {
        let (dir, size) = (self.dir.clone(), self.size());
        let mut cache = std::mem::replace(&mut self.cache, HashCache::new(&dir));
        let result = cache.sync(
            size,
            |level| self.cache_contents(level),
            |relative, bytes| self.write_file(relative, bytes),
        );
        self.cache = cache;
        result
    }

    /// Every hash of cache level `level`, recomputed from the tiles of level `level / 8` (its
    /// hashes for levels `8t`, the roots of each 16 of them for levels `8t + 4`) and the
    /// partial tile in memory.
    fn cache_contents(&self, level: u8) -> Result<Vec<u8>, LedgerError> {
        let tile_level = (u32::from(level) / TILE_HEIGHT) as u8;
        let grouped = u32::from(level) % TILE_HEIGHT == GROUP_HEIGHT;
        let size = self.size();
        let mut bytes = Vec::with_capacity(cache_len(size, level) as usize * HASH_SIZE);
        let mut push = |nodes: &[Hash]| {
            if grouped {
                for group in nodes.chunks_exact(GROUP_WIDTH) {
                    bytes.extend_from_slice(&perfect_root(group));
                }
            } else {
                bytes.extend_from_slice(&nodes.concat());
            }
        };
        for tile_index in 0..full_tiles(size, tile_level) {
            push(&self.read_full_tile(tile_level, tile_index)?);
        }
        if let Some(edge) = self.edge.level(tile_level) {
            push(&edge.nodes);
        }
        debug_assert_eq!(
            bytes.len() as u64,
            cache_len(size, level) * HASH_SIZE as u64
        );
        Ok(bytes)
    }

    /// If an append was interrupted, remove every file it may have written beyond the durable
    /// size, then clear the intent.
    fn recover(&mut self) -> Result<(), LedgerError> {
        let (size, pending) = (self.size(), self.pending);
        if pending == size {
            return Ok(());
        }
        debug_assert!(pending > size);
        clear_dir(&self.dir.join(TMP_DIR))?;
        for tile_level in 0..tile_levels(pending) {
            self.remove_beyond(
                size,
                pending,
                |index, width| tile_path(tile_level, index, width),
                tile_level,
            )?;
        }
        self.remove_beyond(size, pending, entries_path, 0)?;
        self.sync_cache()?;
        self.write_state(size, size, true)?;
        self.pending = size;
        Ok(())
    }

    /// Remove the full tiles and the partial tile that growing from `size` to `pending` creates
    /// at one tile level (hash tiles or entry bundles, per `path`).
    fn remove_beyond(
        &self,
        size: u64,
        pending: u64,
        path: impl Fn(u64, u16) -> String,
        tile_level: u8,
    ) -> Result<(), LedgerError> {
        for index in full_tiles(size, tile_level)..full_tiles(pending, tile_level) {
            remove_file_if_exists(&self.dir.join(path(index, FULL_WIDTH)))?;
        }
        let (index, width) = (
            full_tiles(pending, tile_level),
            partial_width(pending, tile_level),
        );
        let old_edge = (
            full_tiles(size, tile_level),
            partial_width(size, tile_level),
        );
        if width > 0 && (index, width) != old_edge {
            remove_file_if_exists(&self.dir.join(path(index, width)))?;
            if index != old_edge.0 {
                // Only an empty directory: never touch partial tiles of the durable size.
                let _ = fs::remove_dir(self.dir.join(format!("{}.p", path(index, FULL_WIDTH))));
            }
        }
        Ok(())
    }

    /// After a commit, drop the partial tiles whose full tile now exists (best effort: they
    /// are valid prefixes of the full tile, so a leftover is harmless).
    fn remove_replaced_partials(&self, old_size: u64) {
        let new_size = self.size();
        let mut dirs = Vec::new();
        for tile_level in 0..tile_levels(old_size) {
            let old_edge = full_tiles(old_size, tile_level);
            if partial_width(old_size, tile_level) > 0
                && full_tiles(new_size, tile_level) > old_edge
            {
                dirs.push(tile_path(tile_level, old_edge, FULL_WIDTH));
                if tile_level == 0 {
                    dirs.push(entries_path(old_edge, FULL_WIDTH));
                }
            }
        }
        for full in dirs {
            let _ = fs::remove_dir_all(self.dir.join(format!("{full}.p")));
        }
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

/// The tree after an append's entries, before it is committed.
struct Grown {
    edge: Edge,
    /// Entries of the new partial entry bundle.
    entries: Vec<Hash>,
    /// New hashes per cache level (indexed by `cache_slot`), to append after the old size's.
    cache: Vec<Vec<Hash>>,
}

/// Collects what the edge produces during an append: full tiles go to the batch, hashes of
/// cached levels are kept to be appended to the cache files.
struct AppendSink<'a> {
    batch: &'a mut FileBatch,
    cache: Vec<Vec<Hash>>,
    /// Crash-safety tests: fail after staging this many more full tiles.
    #[cfg(test)]
    crash_after_tiles: Option<usize>,
}

impl<'a> AppendSink<'a> {
    fn new(batch: &'a mut FileBatch) -> Self {
        AppendSink {
            batch,
            cache: cache_levels().map(|_| Vec::new()).collect(),
            #[cfg(test)]
            crash_after_tiles: None,
        }
    }
}

impl EdgeSink for AppendSink<'_> {
    type Error = LedgerError;

    fn node(&mut self, tile_level: u8, _: u64, hash: &Hash) -> Result<(), LedgerError> {
        // Level 0 lives only in the tiles; higher tile levels are also cached.
        if tile_level > 0 {
            let level = tile_level * TILE_HEIGHT as u8;
            self.cache[cache_slot(level)].push(*hash);
        }
        Ok(())
    }

    fn group(&mut self, tile_level: u8, _: u64, hash: &Hash) -> Result<(), LedgerError> {
        let level = tile_level * TILE_HEIGHT as u8 + GROUP_HEIGHT as u8;
        self.cache[cache_slot(level)].push(*hash);
        Ok(())
    }

    fn full_tile(
        &mut self,
        tile_level: u8,
        tile_index: u64,
        nodes: &[Hash],
    ) -> Result<(), LedgerError> {
        self.batch.put(
            &tile_path(tile_level, tile_index, FULL_WIDTH),
            &hashes_to_bytes(nodes),
        )?;
        #[cfg(test)]
        if let Some(count) = self.crash_after_tiles.as_mut() {
            if *count == 0 {
                return Err(tests::simulated_crash());
            }
            *count -= 1;
        }
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
    if ["tile", CHECKPOINT_FILE, CHECKPOINTS_DIR]
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
        pending: 0,
    };
    write_atomic(
        dir,
        &dir.join(TMP_DIR),
        STATE_FILE,
        state.encode().as_bytes(),
    )?;
    Ok(state)
}

/// The partial tiles of a tree of `size` leaves, read from disk.
fn load_edge(dir: &Path, size: u64) -> Result<Edge, LedgerError> {
    let mut levels = Vec::new();
    for tile_level in 0..tile_levels(size) {
        let width = partial_width(size, tile_level);
        let mut nodes = Vec::new();
        if width > 0 {
            let path = dir.join(tile_path(tile_level, full_tiles(size, tile_level), width));
            let bytes = fs::read(&path).map_err(LedgerError::io(&path))?;
            if bytes.len() != usize::from(width) * HASH_SIZE {
                return Err(LedgerError::corrupt(
                    &path,
                    format!(
                        "{} bytes, expected {}",
                        bytes.len(),
                        usize::from(width) * HASH_SIZE
                    ),
                ));
            }
            nodes = hashes_from_bytes(&bytes);
        }
        levels.push(EdgeLevel::from_nodes(nodes));
    }
    Ok(Edge::from_levels(size, levels))
}

fn load_partial_bundle(dir: &Path, size: u64) -> Result<Vec<Hash>, LedgerError> {
    let width = partial_width(size, 0);
    if width == 0 {
        return Ok(Vec::new());
    }
    let path = dir.join(entries_path(full_tiles(size, 0), width));
    let bytes = fs::read(&path).map_err(LedgerError::io(&path))?;
    parse_bundle(&bytes, usize::from(width)).map_err(|reason| LedgerError::corrupt(&path, reason))
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

pub(crate) fn hashes_to_bytes(hashes: &[Hash]) -> Vec<u8> {
    hashes.concat()
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

/// Parse exactly `count` 32-byte entries from bundle bytes.
pub(crate) fn parse_bundle(bytes: &[u8], count: usize) -> Result<Vec<Hash>, String> {
    if bytes.len() != count * ENTRY_RECORD_SIZE {
        return Err(format!(
            "{} bytes, expected {}",
            bytes.len(),
            count * ENTRY_RECORD_SIZE
        ));
    }
    bytes
        .chunks_exact(ENTRY_RECORD_SIZE)
        .enumerate()
        .map(|(position, record)| match record.split_first_chunk::<2>() {
            Some((length, entry)) if u16::from_be_bytes(*length) as usize == HASH_SIZE => {
                let mut hash = [0u8; HASH_SIZE];
                hash.copy_from_slice(entry);
                Ok(hash)
            }
            _ => Err(format!("entry {position} does not have length 32")),
        })
        .collect()
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
