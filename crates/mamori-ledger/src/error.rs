//! Errors of the on-disk log.

use std::io;
use std::path::{Path, PathBuf};

use crate::note::NoteError;

/// Why a [`crate::TileLog`] operation failed.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error("invalid log origin {0:?} (must be a valid note key name: no spaces or '+')")]
    InvalidOrigin(String),
    #[error("log in {} has origin {found:?}, expected {expected:?}", dir.display())]
    OriginMismatch {
        dir: PathBuf,
        expected: String,
        found: String,
    },
    #[error("{}: {reason}", path.display())]
    Corrupt { path: PathBuf, reason: String },
    #[error("{} is open in another process (or another TileLog)", dir.display())]
    Locked { dir: PathBuf },
    #[error("{} holds tiles but no state file", dir.display())]
    MissingState { dir: PathBuf },
    #[error("leaf index {index} is not below tree size {tree_size}")]
    IndexOutOfRange { index: u64, tree_size: u64 },
    #[error("tree size {tree_size} is larger than the log ({size})")]
    TreeSizeOutOfRange { tree_size: u64, size: u64 },
    #[error("tree size {size1} is larger than tree size {size2}")]
    SizesOutOfOrder { size1: u64, size2: u64 },
    #[error("appending {count} entries to a log of {size} would overflow the tree size")]
    TooManyEntries { size: u64, count: usize },
    #[error("signer {signer:?} does not match the log origin {origin:?}")]
    SignerMismatch { signer: String, origin: String },
    #[error("{} already holds a different checkpoint for size {size}", path.display())]
    CheckpointConflict { size: u64, path: PathBuf },
    #[error(transparent)]
    Note(#[from] NoteError),
}

impl LedgerError {
    pub(crate) fn io(path: &Path) -> impl FnOnce(io::Error) -> LedgerError + '_ {
        move |source| LedgerError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    pub(crate) fn corrupt(path: &Path, reason: impl Into<String>) -> LedgerError {
        LedgerError::Corrupt {
            path: path.to_path_buf(),
            reason: reason.into(),
        }
    }
}
