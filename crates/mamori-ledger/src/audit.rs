//! Streaming audit of a [`crate::TileLog`] directory against the authoritative entries.
//!
//! The caller pushes every entry in order; the auditor recomputes the tree with the same
//! right-edge code the log uses (module `edge`) and compares, as soon as each value exists:
//!
//! - every entry with its record in `entries` (so every entry bundle served),
//! - every hash of every stored tree level with its 32 bytes in `hashes/LL` (so every full and
//!   partial tile served, and the levels kept for fast proofs),
//! - every packed file's length: exactly the records of the log's size,
//! - every stored checkpoint (`checkpoints/*` and `checkpoint`): its signature by the trusted
//!   key, its origin, and its root against the root recomputed at its size. All checkpoints
//!   matching recomputed roots of one sequence of leaves implies they are mutually consistent.
//!
//! Errors name the first leaf under the bad data: for an entry or a leaf hash, that leaf; for a
//! higher level, the first leaf under the differing hash; and the tile the bytes are served in.
//! Checks run in leaf order, so the error is the first problem met while streaming. Memory is
//! constant: the right edge (O(log n)) plus one read buffer per packed file.

use std::fs::{self, File};
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};

use crate::checkpoint::Checkpoint;
use crate::edge::{Edge, EdgeSink, GROUP_HEIGHT};
use crate::note::{self, NoteError, Verifier};
use crate::tile::{
    FULL_WIDTH, HASH_SIZE, TILE_HEIGHT, TILE_WIDTH, entries_path, full_tiles, partial_width,
    tile_levels, tile_path,
};
use crate::tilelog::{
    CHECKPOINT_FILE, Packed, STATE_FILE, State, history_path, list_checkpoints, read_bounded,
};
use crate::{Hash, LedgerError};

/// What an audit found wrong. `path` is relative to the log directory.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("leaf {leaf_index}: {path} (served as {tile}) does not match the recomputed hashes")]
    HashMismatch {
        leaf_index: u64,
        path: String,
        /// The C2SP resource the bytes belong to (for levels kept only for proofs, the tile of
        /// the level below).
        tile: String,
    },
    #[error("leaf {leaf_index}: {path} (served as {tile}) does not match the entry")]
    EntryMismatch {
        leaf_index: u64,
        path: String,
        tile: String,
    },
    #[error("leaf {leaf_index}: {path} has {actual} bytes, expected {expected}")]
    FileLength {
        path: String,
        leaf_index: u64,
        expected: u64,
        actual: u64,
    },
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
            AuditError::HashMismatch { leaf_index, .. }
            | AuditError::EntryMismatch { leaf_index, .. }
            | AuditError::FileLength { leaf_index, .. }
            | AuditError::LeafNotInLog { leaf_index, .. } => Some(*leaf_index),
            AuditError::MissingLeaves { have, .. } => Some(*have),
            AuditError::CheckpointSignature { .. }
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
    /// Hash tiles (full and partial) of the log's size, every byte compared.
    pub tiles_checked: u64,
    /// Entry bundles (full and partial) of the log's size, every byte compared.
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
        self.files.compare(Packed::Entries, leaf_index, entry)?;
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
        self.files.check_lengths()?;
        self.report.leaves = have;
        let tiles = |tile_level| {
            full_tiles(log_size, tile_level) + u64::from(partial_width(log_size, tile_level) > 0)
        };
        self.report.tiles_checked = (0..tile_levels(log_size)).map(tiles).sum();
        self.report.bundles_checked = tiles(0);
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

/// The packed files, each read once from the start, in step with the recomputed tree.
struct StoredFiles {
    dir: PathBuf,
    log_size: u64,
    /// Sequential readers, opened at first use, indexed by `Packed::index`.
    readers: Vec<Option<BufReader<File>>>,
}

impl StoredFiles {
    fn new(dir: &Path, log_size: u64) -> Self {
        StoredFiles {
            dir: dir.to_path_buf(),
            log_size,
            readers: Packed::all().map(|_| None).collect(),
        }
    }

    /// Compare record `record` of `packed` (records of a file arrive in order from the first)
    /// with `expected`.
    fn compare(&mut self, packed: Packed, record: u64, expected: &Hash) -> Result<(), AuditError> {
        let slot = &mut self.readers[packed.index()];
        if slot.is_none() {
            let path = packed.relative_path();
            let file = File::open(self.dir.join(&path))
                .map_err(|source| AuditError::Io { path, source })?;
            *slot = Some(BufReader::with_capacity(256 * 1024, file));
        }
        let mut stored = [0u8; HASH_SIZE];
        let read = match slot.as_mut() {
            Some(reader) => reader.read_exact(&mut stored),
            None => Err(io::ErrorKind::NotFound.into()),
        };
        match read {
            Ok(()) if stored == *expected => Ok(()),
            Ok(()) => Err(mismatch(packed, record << packed.level(), record)),
            Err(error) if error.kind() == io::ErrorKind::UnexpectedEof => {
                Err(self.length_error(packed))
            }
            Err(source) => Err(AuditError::Io {
                path: packed.relative_path(),
                source,
            }),
        }
    }

    /// Every packed file must hold exactly the records of the log's size.
    fn check_lengths(&self) -> Result<(), AuditError> {
        for packed in Packed::all() {
            let expected = packed.records(self.log_size) * HASH_SIZE as u64;
            if file_len(&self.dir, packed)? != expected {
                return Err(self.length_error(packed));
            }
        }
        Ok(())
    }

    fn length_error(&self, packed: Packed) -> AuditError {
        let path = packed.relative_path();
        let expected = packed.records(self.log_size) * HASH_SIZE as u64;
        let actual = match file_len(&self.dir, packed) {
            Ok(actual) => actual,
            Err(error) => return error,
        };
        let records = actual.min(expected) / HASH_SIZE as u64;
        AuditError::FileLength {
            path,
            leaf_index: records << packed.level(),
            expected,
            actual,
        }
    }
}

fn file_len(dir: &Path, packed: Packed) -> Result<u64, AuditError> {
    let path = packed.relative_path();
    fs::metadata(dir.join(&path))
        .map(|metadata| metadata.len())
        .map_err(|source| AuditError::Io { path, source })
}

/// The error for a differing record, naming the C2SP tile its bytes are served in (by its
/// full path, which names the tile even while it is still partial).
fn mismatch(packed: Packed, leaf_index: u64, record: u64) -> AuditError {
    let path = packed.relative_path();
    match packed {
        Packed::Entries => AuditError::EntryMismatch {
            leaf_index,
            path,
            tile: entries_path(record / TILE_WIDTH as u64, FULL_WIDTH),
        },
        Packed::Hashes(level) => {
            let tile_level = (u32::from(level) / TILE_HEIGHT) as u8;
            // Levels 8t + 4 are not served; name the tile of level 8t they summarise.
            let record = record << (u32::from(level) % TILE_HEIGHT);
            AuditError::HashMismatch {
                leaf_index,
                path,
                tile: tile_path(tile_level, record / TILE_WIDTH as u64, FULL_WIDTH),
            }
        }
    }
}

impl EdgeSink for StoredFiles {
    type Error = AuditError;

    fn node(&mut self, tile_level: u8, node_index: u64, hash: &Hash) -> Result<(), AuditError> {
        let level = (TILE_HEIGHT * u32::from(tile_level)) as u8;
        self.compare(Packed::Hashes(level), node_index, hash)
    }

    fn group(&mut self, tile_level: u8, group_index: u64, hash: &Hash) -> Result<(), AuditError> {
        let level = (TILE_HEIGHT * u32::from(tile_level)) as u8 + GROUP_HEIGHT as u8;
        self.compare(Packed::Hashes(level), group_index, hash)
    }

    fn full_tile(&mut self, _: u8, _: u64, _: &[Hash]) -> Result<(), AuditError> {
        Ok(())
    }
}
