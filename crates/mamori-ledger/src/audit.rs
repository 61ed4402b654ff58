//! Streaming audit of a [`crate::TileLog`] directory against the authoritative entries.
//!
//! The caller pushes every entry in order; the auditor recomputes the tree with the same
//! right-edge code the log uses (module `edge`) and compares, as soon as each value exists:
//!
//! - every entry with its record in the entry bundle,
//! - every hash of every tile level with its 32 bytes in the stored tile (full, or the partial
//!   tile of the log's size), and every private cache hash with the cache file,
//! - every full tile's and bundle's length, and every older partial tile still on disk (it must
//!   be a prefix of the verified full or current tile),
//! - every stored checkpoint (`checkpoints/*` and `checkpoint`): its signature by the trusted
//!   key, its origin, and its root against the root recomputed at its size. All checkpoints
//!   matching recomputed roots of one sequence of leaves implies they are mutually consistent.
//!
//! Errors name the first leaf under the bad data: for a level-0 tile or a bundle, the leaf of
//! the differing record; for a higher tile, the first leaf under the differing hash. Checks run
//! in leaf order, so the error is the first problem met while streaming. Memory is constant:
//! the right edge (O(log n)) plus one stored tile per level.

use std::fs::{self, File};
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};

use crate::checkpoint::Checkpoint;
use crate::edge::{Edge, EdgeSink};
use crate::note::{self, NoteError, Verifier};
use crate::tile::{
    ENTRY_RECORD_SIZE, FULL_WIDTH, HASH_SIZE, MAX_TILE_LEVELS, TILE_HEIGHT, TILE_WIDTH,
    entries_path, full_tiles, parse_canonical_decimal, partial_width, tile_levels, tile_path,
};
use crate::tilelog::{
    CHECKPOINT_FILE, STATE_FILE, State, bundle_bytes, cache_levels, cache_relative_path,
    cache_slot, history_path, list_checkpoints, read_bounded,
};
use crate::{Hash, LedgerError};

/// What an audit found wrong. `path` is relative to the log directory.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("leaf {leaf_index}: {path} does not match the recomputed hashes")]
    TileMismatch { leaf_index: u64, path: String },
    #[error("leaf {leaf_index}: {path} does not match the entry")]
    EntryBundleMismatch { leaf_index: u64, path: String },
    #[error("leaf {leaf_index}: hash cache {path} does not match (derived data, rebuild it)")]
    CacheMismatch { leaf_index: u64, path: String },
    #[error("leaf {leaf_index}: {path} is missing")]
    MissingTile { path: String, leaf_index: u64 },
    #[error("leaf {leaf_index}: {path} has {actual} bytes, expected {expected}")]
    FileLength {
        path: String,
        leaf_index: u64,
        expected: u64,
        actual: u64,
    },
    #[error("{path}: unexpected file")]
    UnexpectedFile { path: String },
    #[error("leaf {leaf_index}: not in the log (log size {log_size})")]
    LeafNotInLog { leaf_index: u64, log_size: u64 },
    #[error("leaf {have}: missing ({expected_size} leaves expected, {have} pushed)")]
    MissingLeaves { expected_size: u64, have: u64 },
    #[error("checkpoint at size {size} ({path}): signature does not verify")]
    CheckpointSignature { size: u64, path: String },
    #[error("checkpoint at size {size} ({path}): root does not match the leaves")]
    CheckpointRootMismatch { size: u64, path: String },
    #[error("{path}: malformed checkpoint: {reason}")]
    CheckpointMalformed { path: String, reason: String },
    #[error("{path}: {source}")]
    Io { path: String, source: io::Error },
}

impl AuditError {
    /// The first bad (or missing) leaf, when the problem is tied to one.
    pub fn leaf_index(&self) -> Option<u64> {
        match self {
            AuditError::TileMismatch { leaf_index, .. }
            | AuditError::EntryBundleMismatch { leaf_index, .. }
            | AuditError::CacheMismatch { leaf_index, .. }
            | AuditError::MissingTile { leaf_index, .. }
            | AuditError::FileLength { leaf_index, .. }
            | AuditError::LeafNotInLog { leaf_index, .. } => Some(*leaf_index),
            AuditError::MissingLeaves { have, .. } => Some(*have),
            AuditError::UnexpectedFile { .. }
            | AuditError::CheckpointSignature { .. }
            | AuditError::CheckpointRootMismatch { .. }
            | AuditError::CheckpointMalformed { .. }
            | AuditError::Io { .. } => None,
        }
    }
}

/// What a successful audit covered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditReport {
    pub leaves: u64,
    /// Hash tiles compared (full and partial, including older partials still on disk).
    pub tiles_checked: u64,
    /// Entry bundles compared (same).
    pub bundles_checked: u64,
    pub checkpoints_checked: u64,
    /// Size of the `checkpoint` file's checkpoint (0 if there is none).
    pub latest_checkpoint_size: u64,
}

/// Streaming auditor; see the module docs. After an error the auditor must be dropped.
pub struct Auditor {
    verifier: Verifier,
    origin: String,
    edge: Edge,
    files: StoredFiles,
    /// Checkpoints to check, by ascending size (8 bytes each: paths derive from sizes).
    checkpoints: Vec<(u64, Stored)>,
    next_checkpoint: usize,
    /// A problem found while opening, reported by the first `push` or `finish`.
    deferred: Option<AuditError>,
    report: AuditReport,
}

impl Auditor {
    /// Prepare an audit of the log in `log_dir` whose checkpoints must be signed by `verifier`
    /// and name `origin`. Fails only if the log cannot be read at all.
    pub fn new(log_dir: &Path, verifier: &Verifier, origin: &str) -> Result<Auditor, LedgerError> {
        let state_path = log_dir.join(STATE_FILE);
        let bytes = fs::read(&state_path).map_err(LedgerError::io(&state_path))?;
        let state = State::decode(&bytes, &state_path)?;
        if state.origin != origin {
            return Err(LedgerError::OriginMismatch {
                dir: log_dir.to_path_buf(),
                expected: origin.to_owned(),
                found: state.origin,
            });
        }
        let mut checkpoints: Vec<(u64, Stored)> = list_checkpoints(log_dir)?
            .into_iter()
            .map(|size| (size, Stored::History))
            .collect();
        let mut deferred = None;
        let mut latest_checkpoint_size = 0;
        match latest_size(log_dir) {
            Ok(Some(size)) => {
                latest_checkpoint_size = size;
                checkpoints.push((size, Stored::Latest));
            }
            Ok(None) => {}
            Err(error) => deferred = Some(error),
        }
        checkpoints.sort();
        Ok(Auditor {
            verifier: verifier.clone(),
            origin: origin.to_owned(),
            edge: Edge::new(),
            files: StoredFiles::new(log_dir, state.size),
            checkpoints,
            next_checkpoint: 0,
            deferred,
            report: AuditReport {
                latest_checkpoint_size,
                ..AuditReport::default()
            },
        })
    }

    /// Check the next entry (the authoritative 32-byte digest of leaf `leaves pushed so far`).
    pub fn push(&mut self, entry: &Hash) -> Result<(), AuditError> {
        self.check_due_checkpoints()?;
        let leaf_index = self.edge.size();
        let log_size = self.files.log_size;
        if leaf_index >= log_size {
            return Err(AuditError::LeafNotInLog {
                leaf_index,
                log_size,
            });
        }
        self.files.check_entry(leaf_index, entry)?;
        self.edge.push_entry(entry, &mut self.files)?;
        Ok(())
    }

    /// Finish: the log and every checkpoint must be covered by the pushed leaves, and the
    /// partial tiles and bundle of the log's size must have exactly the right length.
    pub fn finish(mut self) -> Result<AuditReport, AuditError> {
        self.check_due_checkpoints()?;
        let have = self.edge.size();
        let log_size = self.files.log_size;
        let largest_checkpoint = self.checkpoints.last().map_or(0, |(size, _)| *size);
        let expected_size = log_size.max(largest_checkpoint);
        if have < expected_size {
            return Err(AuditError::MissingLeaves {
                expected_size,
                have,
            });
        }
        debug_assert_eq!(self.next_checkpoint, self.checkpoints.len());
        self.files.finish_partials(&self.edge)?;
        self.report.leaves = have;
        self.report.tiles_checked = self.files.tiles_checked;
        self.report.bundles_checked = self.files.bundles_checked;
        Ok(self.report)
    }

    /// Check the checkpoints whose size equals the number of leaves pushed so far.
    fn check_due_checkpoints(&mut self) -> Result<(), AuditError> {
        if let Some(error) = self.deferred.take() {
            return Err(error);
        }
        let size = self.edge.size();
        while let Some(&(checkpoint_size, stored)) = self.checkpoints.get(self.next_checkpoint) {
            if checkpoint_size != size {
                break;
            }
            let path = match stored {
                Stored::History => history_path(size),
                Stored::Latest => CHECKPOINT_FILE.to_owned(),
            };
            self.check_checkpoint(size, &path)?;
            self.report.checkpoints_checked += 1;
            self.next_checkpoint += 1;
        }
        Ok(())
    }

    fn check_checkpoint(&self, size: u64, path: &str) -> Result<(), AuditError> {
        let text = read_note(&self.files.dir, path)?;
        let malformed = |reason: String| AuditError::CheckpointMalformed {
            path: path.to_owned(),
            reason,
        };
        let body = note::open(&text, &self.verifier).map_err(|error| match error {
            NoteError::InvalidSignature { .. } | NoteError::NotSigned { .. } => {
                AuditError::CheckpointSignature {
                    size,
                    path: path.to_owned(),
                }
            }
            other => malformed(other.to_string()),
        })?;
        let checkpoint = Checkpoint::parse(&body).map_err(|e| malformed(e.to_string()))?;
        if checkpoint.origin != self.origin {
            return Err(malformed(format!("origin {:?}", checkpoint.origin)));
        }
        if checkpoint.size != size {
            return Err(malformed(format!("names size {}", checkpoint.size)));
        }
        if checkpoint.root != self.edge.root() {
            return Err(AuditError::CheckpointRootMismatch {
                size,
                path: path.to_owned(),
            });
        }
        Ok(())
    }
}

/// Where a stored checkpoint is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Stored {
    /// `checkpoints/<size>`.
    History,
    /// `checkpoint`.
    Latest,
}

/// Size named by the `checkpoint` file (read without trusting it: its signature is checked
/// when the audit reaches that size).
fn latest_size(dir: &Path) -> Result<Option<u64>, AuditError> {
    if !dir.join(CHECKPOINT_FILE).exists() {
        return Ok(None);
    }
    let text = read_note(dir, CHECKPOINT_FILE)?;
    let malformed = |reason: String| AuditError::CheckpointMalformed {
        path: CHECKPOINT_FILE.to_owned(),
        reason,
    };
    let parsed = note::parse(&text).map_err(|e| malformed(e.to_string()))?;
    let checkpoint = Checkpoint::parse(&parsed.text).map_err(|e| malformed(e.to_string()))?;
    Ok(Some(checkpoint.size))
}

/// Largest note the auditor reads (checkpoints are a few hundred bytes).
const MAX_NOTE_BYTES: u64 = 1 << 20;

fn read_note(dir: &Path, path: &str) -> Result<String, AuditError> {
    let bytes = read_bounded(&dir.join(path), MAX_NOTE_BYTES)
        .map_err(|source| AuditError::Io {
            path: path.to_owned(),
            source,
        })?
        .ok_or_else(|| AuditError::CheckpointMalformed {
            path: path.to_owned(),
            reason: "missing".to_owned(),
        })?;
    String::from_utf8(bytes).map_err(|_| AuditError::CheckpointMalformed {
        path: path.to_owned(),
        reason: "not UTF-8".to_owned(),
    })
}

/// A stored tile or bundle being compared.
struct StoredFile {
    index: u64,
    path: String,
    bytes: Vec<u8>,
    /// Length the file must have: full, or the partial width of the log's size.
    expected_len: usize,
}

/// Which kind of stored file: hash tiles of a level, or entry bundles.
#[derive(Clone, Copy)]
enum Kind {
    Tiles(u8),
    Bundles,
}

impl Kind {
    fn tile_level(self) -> u8 {
        match self {
            Kind::Tiles(level) => level,
            Kind::Bundles => 0,
        }
    }

    fn record_size(self) -> usize {
        match self {
            Kind::Tiles(_) => HASH_SIZE,
            Kind::Bundles => ENTRY_RECORD_SIZE,
        }
    }

    fn path(self, index: u64, width: u16) -> String {
        match self {
            Kind::Tiles(level) => tile_path(level, index, width),
            Kind::Bundles => entries_path(index, width),
        }
    }

    /// First leaf under record `record` of this kind's level.
    fn first_leaf(self, record: u64) -> u64 {
        record << (TILE_HEIGHT * u32::from(self.tile_level()))
    }

    fn mismatch(self, leaf_index: u64, path: String) -> AuditError {
        match self {
            Kind::Tiles(_) => AuditError::TileMismatch { leaf_index, path },
            Kind::Bundles => AuditError::EntryBundleMismatch { leaf_index, path },
        }
    }
}

/// The stored files compared while streaming: the current tile of every level, the current
/// bundle, and a sequential reader per cache level.
struct StoredFiles {
    dir: PathBuf,
    log_size: u64,
    tiles: Vec<Option<StoredFile>>,
    bundle: Option<StoredFile>,
    caches: Vec<Option<BufReader<File>>>,
    tiles_checked: u64,
    bundles_checked: u64,
}

impl StoredFiles {
    fn new(dir: &Path, log_size: u64) -> Self {
        StoredFiles {
            dir: dir.to_path_buf(),
            log_size,
            tiles: (0..MAX_TILE_LEVELS).map(|_| None).collect(),
            bundle: None,
            caches: cache_levels().map(|_| None).collect(),
            tiles_checked: 0,
            bundles_checked: 0,
        }
    }

    /// Compare the bundle record of `leaf_index` with `entry`.
    fn check_entry(&mut self, leaf_index: u64, entry: &Hash) -> Result<(), AuditError> {
        let record = bundle_bytes(std::slice::from_ref(entry));
        let (dir, log_size) = (&self.dir, self.log_size);
        compare_record(
            dir,
            log_size,
            Kind::Bundles,
            &mut self.bundle,
            leaf_index,
            &record,
        )?;
        if (leaf_index + 1).is_multiple_of(TILE_WIDTH as u64) {
            self.bundles_checked += finish_full(dir, Kind::Bundles, &self.bundle)?;
        }
        Ok(())
    }

    /// Final length and older-partial checks of the partial tiles and bundle of the log size.
    fn finish_partials(&mut self, edge: &Edge) -> Result<(), AuditError> {
        debug_assert_eq!(edge.size(), self.log_size);
        for tile_level in 0..tile_levels(self.log_size) {
            if partial_width(self.log_size, tile_level) > 0 {
                let stored = &self.tiles[usize::from(tile_level)];
                self.tiles_checked += finish_partial(&self.dir, Kind::Tiles(tile_level), stored)?;
            }
        }
        if partial_width(self.log_size, 0) > 0 {
            self.bundles_checked += finish_partial(&self.dir, Kind::Bundles, &self.bundle)?;
        }
        Ok(())
    }
}

impl StoredFiles {
    /// Compare hash `index` of cache level `level` with the next hash of its cache file. Hashes
    /// of a level arrive in order from the first, so one sequential reader per level suffices.
    fn compare_cache(&mut self, level: u8, index: u64, hash: &Hash) -> Result<(), AuditError> {
        let path = cache_relative_path(level);
        let mismatch = || AuditError::CacheMismatch {
            leaf_index: index << level,
            path: path.clone(),
        };
        let slot = &mut self.caches[cache_slot(level)];
        if slot.is_none() {
            let file = File::open(self.dir.join(&path)).map_err(|_| mismatch())?;
            *slot = Some(BufReader::with_capacity(64 * 1024, file));
        }
        let mut stored = [0u8; HASH_SIZE];
        match slot {
            Some(reader) => reader.read_exact(&mut stored).map_err(|_| mismatch())?,
            None => return Err(mismatch()),
        }
        if stored != *hash {
            return Err(mismatch());
        }
        Ok(())
    }
}

impl EdgeSink for StoredFiles {
    type Error = AuditError;

    fn node(&mut self, tile_level: u8, node_index: u64, hash: &Hash) -> Result<(), AuditError> {
        let slot = &mut self.tiles[usize::from(tile_level)];
        let kind = Kind::Tiles(tile_level);
        compare_record(&self.dir, self.log_size, kind, slot, node_index, hash)?;
        if tile_level > 0 {
            let level = (TILE_HEIGHT * u32::from(tile_level)) as u8;
            self.compare_cache(level, node_index, hash)?;
        }
        Ok(())
    }

    fn group(&mut self, tile_level: u8, group_index: u64, hash: &Hash) -> Result<(), AuditError> {
        let level = (TILE_HEIGHT * u32::from(tile_level) + 4) as u8;
        self.compare_cache(level, group_index, hash)
    }

    fn full_tile(&mut self, tile_level: u8, _: u64, _: &[Hash]) -> Result<(), AuditError> {
        let stored = &self.tiles[usize::from(tile_level)];
        self.tiles_checked += finish_full(&self.dir, Kind::Tiles(tile_level), stored)?;
        Ok(())
    }
}

/// Compare record `record_index` (a tile hash or bundle record) with `expected`, loading the
/// stored file it lives in when the audit enters a new tile.
fn compare_record(
    dir: &Path,
    log_size: u64,
    kind: Kind,
    slot: &mut Option<StoredFile>,
    record_index: u64,
    expected: &[u8],
) -> Result<(), AuditError> {
    let tile_index = record_index / TILE_WIDTH as u64;
    if slot
        .as_ref()
        .is_none_or(|stored| stored.index != tile_index)
    {
        *slot = Some(load_stored(dir, log_size, kind, tile_index)?);
    }
    let Some(stored) = slot.as_ref() else {
        return Err(kind.mismatch(
            kind.first_leaf(record_index),
            kind.path(tile_index, FULL_WIDTH),
        ));
    };
    let offset = (record_index % TILE_WIDTH as u64) as usize * kind.record_size();
    let leaf_index = kind.first_leaf(record_index);
    match stored.bytes.get(offset..offset + expected.len()) {
        Some(bytes) if bytes == expected => Ok(()),
        Some(_) => Err(kind.mismatch(leaf_index, stored.path.clone())),
        None => Err(AuditError::FileLength {
            path: stored.path.clone(),
            leaf_index,
            expected: stored.expected_len as u64,
            actual: stored.bytes.len() as u64,
        }),
    }
}

/// Read the stored tile `tile_index` of `kind`: the full file if the log has it full,
/// otherwise the partial file of the log's size.
fn load_stored(
    dir: &Path,
    log_size: u64,
    kind: Kind,
    tile_index: u64,
) -> Result<StoredFile, AuditError> {
    let tile_level = kind.tile_level();
    let width = if tile_index < full_tiles(log_size, tile_level) {
        FULL_WIDTH
    } else {
        partial_width(log_size, tile_level)
    };
    debug_assert!(
        width > 0,
        "records beyond the log size are refused before this"
    );
    let path = kind.path(tile_index, width.max(1));
    let expected_len = usize::from(width) * kind.record_size();
    let first_leaf = kind.first_leaf(tile_index * TILE_WIDTH as u64);
    // One byte more than expected is enough to notice trailing garbage.
    let bytes = read_bounded(&dir.join(&path), expected_len as u64 + 1)
        .map_err(|source| AuditError::Io {
            path: path.clone(),
            source,
        })?
        .ok_or_else(|| AuditError::MissingTile {
            path: path.clone(),
            leaf_index: first_leaf,
        })?;
    Ok(StoredFile {
        index: tile_index,
        path,
        bytes,
        expected_len,
    })
}

/// A tile or bundle just became full and every record matched: check it has no trailing bytes,
/// then that older partial versions still on disk are prefixes of it. Returns files checked.
fn finish_full(dir: &Path, kind: Kind, stored: &Option<StoredFile>) -> Result<u64, AuditError> {
    let Some(stored) = stored else {
        return Ok(0);
    };
    check_exact_length(kind, stored)?;
    Ok(1 + check_older_partials(dir, kind, stored, FULL_WIDTH)?)
}

/// The same at the end of the audit for the partial tile of the log's size.
fn finish_partial(dir: &Path, kind: Kind, stored: &Option<StoredFile>) -> Result<u64, AuditError> {
    let Some(stored) = stored else {
        return Ok(0);
    };
    check_exact_length(kind, stored)?;
    let width = (stored.expected_len / kind.record_size()) as u16;
    Ok(1 + check_older_partials(dir, kind, stored, width)?)
}

fn check_exact_length(kind: Kind, stored: &StoredFile) -> Result<(), AuditError> {
    if stored.bytes.len() == stored.expected_len {
        return Ok(());
    }
    let records = (stored.bytes.len().min(stored.expected_len) / kind.record_size()) as u64;
    Err(AuditError::FileLength {
        path: stored.path.clone(),
        leaf_index: kind.first_leaf(stored.index * TILE_WIDTH as u64 + records),
        expected: stored.expected_len as u64,
        actual: stored.bytes.len() as u64,
    })
}

/// Every `<tile>.p/<w>` file with `w` below `width` must be the first `w` records of the
/// verified `stored` tile. Wider partials belong to an interrupted append beyond the log size
/// (never served, removed when the log is next opened) and are skipped.
fn check_older_partials(
    dir: &Path,
    kind: Kind,
    stored: &StoredFile,
    width: u16,
) -> Result<u64, AuditError> {
    let partial_dir = format!("{}.p", kind.path(stored.index, FULL_WIDTH));
    let entries = match fs::read_dir(dir.join(&partial_dir)) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(source) => {
            return Err(AuditError::Io {
                path: partial_dir,
                source,
            });
        }
    };
    let mut checked = 0;
    for entry in entries {
        let entry = entry.map_err(|source| AuditError::Io {
            path: partial_dir.clone(),
            source,
        })?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = format!("{partial_dir}/{name}");
        let older_width = parse_canonical_decimal(&name)
            .and_then(|w| u16::try_from(w).ok())
            .filter(|w| (1..FULL_WIDTH).contains(w))
            .ok_or_else(|| AuditError::UnexpectedFile { path: path.clone() })?;
        if older_width >= width {
            continue;
        }
        let Some(expected) = stored
            .bytes
            .get(..usize::from(older_width) * kind.record_size())
        else {
            return Err(kind.mismatch(kind.first_leaf(stored.index * TILE_WIDTH as u64), path));
        };
        let bytes = read_bounded(&dir.join(&path), expected.len() as u64 + 1)
            .map_err(|source| AuditError::Io {
                path: path.clone(),
                source,
            })?
            .unwrap_or_default();
        if bytes != expected {
            let first_difference = bytes
                .iter()
                .zip(expected)
                .position(|(a, b)| a != b)
                .unwrap_or(bytes.len().min(expected.len()));
            let record =
                stored.index * TILE_WIDTH as u64 + (first_difference / kind.record_size()) as u64;
            return Err(kind.mismatch(kind.first_leaf(record), path));
        }
        checked += 1;
    }
    Ok(checked)
}
