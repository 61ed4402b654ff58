//! Mamori's ingest pipeline: every importer is a [`Source`] that yields events or precise
//! rejections; [`import`] does the rest once for all of them.
//!
//! # Overview
//!
//! ```text
//!  Source (parse, validate)  ──batches──►  import(): canonicalise + hash  ──►  DataDir::append_pipelined
//!        │ rejections                                                     (SQLite, then tiles)
//!        └──────────────────────────────►  quarantine/<time>-<source>.ndjson (location + reason)
//! ```
//!
//! Four threads overlap: the source reads and parses (`mamori-parse`); canonical JSON and
//! hashing run on `mamori-prepare`; SQLite commits on the caller's thread; ledger appends and
//! WAL checkpoints on `mamori-ledger`, behind the commits. Memory is bounded by a
//! few batches in flight, whatever the input size. Bad input never aborts the import: each bad
//! record goes to the quarantine file with its location and the reason. A signed checkpoint is
//! issued every [`CHECKPOINT_INTERVAL`] while new leaves arrive, and at the end.
//!
//! This crate knows nothing of HTTP or the console.

pub mod accounts;
pub mod cert;
mod evtx;
pub mod hr;
mod ndjson;
mod pipeline;
mod quarantine;

pub use evtx::EvtxSource;
pub use ndjson::NdjsonSource;
pub use pipeline::{
    CHECKPOINT_INTERVAL, Progress, Summary, import, import_resumable, prepare_event,
};
pub use quarantine::Quarantine;

use mamori_event::Event;

/// Where a record came from, for messages and the quarantine file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// A file path, or `-` for standard input.
    pub file: String,
    /// 1-based line (or record) number.
    pub line: u64,
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

/// Where to (re)start reading a file: a byte offset at a record boundary and the line number of
/// the record that starts there (for messages: a reader that seeks cannot count lines).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ResumePoint {
    pub offset: u64,
    pub line: u64,
}

impl ResumePoint {
    /// The start of the file (the header, if any, is skipped).
    pub const START: ResumePoint = ResumePoint { offset: 0, line: 1 };
}

/// A record the source could not turn into an event.
#[derive(Debug, Clone)]
pub struct Rejected {
    pub location: Location,
    pub reason: String,
    /// The record as read, for inspection.
    pub raw: Vec<u8>,
}

/// One importer. It reads its input in order and yields an event or a rejection per record.
pub trait Source: Send {
    /// The importer's name, recorded in each event's `source.name` when the input has none.
    fn name(&self) -> &'static str;
    /// The input being read (a path, or `-`), for messages.
    fn input(&self) -> &str;
    /// The next record, `None` at the end, or an I/O error that makes the input unreadable.
    fn next_record(&mut self) -> Option<std::io::Result<Result<Event, Rejected>>>;
    /// Bytes consumed so far, for progress.
    fn bytes_read(&self) -> u64;
    /// Total input size when known, for progress.
    fn total_bytes(&self) -> Option<u64>;
    /// Where a later import of the same input could start again after the records yielded so
    /// far, for sources that can seek (see [`import_resumable`]).
    fn resume_point(&self) -> Option<ResumePoint> {
        None
    }
}

/// Errors that stop an import (bad records never do).
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("reading {file}: {source}")]
    Read {
        file: String,
        source: std::io::Error,
    },
    #[error("quarantine {path}: {source}")]
    Quarantine {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] mamori_store::StoreError),
    #[error("random number generator: {0}")]
    Random(String),
    #[error("an import thread stopped unexpectedly")]
    WorkerPanicked,
    #[error("starting an import thread: {0}")]
    Thread(std::io::Error),
}
