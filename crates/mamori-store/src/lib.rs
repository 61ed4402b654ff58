//! Mamori's embedded store: a data directory holding the SQLite event store next to two
//! tamper-evident ledgers — `events` (what was collected) and `access` (who looked at it) —
//! kept in agreement with the store.
//!
//! # Overview
//!
//! - [`EventStore`] is the SQLite database (`store.sqlite`, WAL) and the bodies file beside it
//!   (`store.ndjson`: each event's canonical JSON, one per line in leaf order, module `bodies`).
//!   Each event row is keyed by its **leaf index** in the ledger and holds where its body is,
//!   its ledger entry (SHA-256 of the body), its identity (for idempotent imports, indexed with
//!   `time_us`), and interned `account` and `kind` ids, indexed by posting lists (one row per
//!   key and 262,144 events, module `postings`).
//! - [`DataDir`] composes the store with the `events` tile log (`ledger/events/`) and the log's
//!   signing key (`keys/events.key`). It is the only writer of both and keeps one invariant:
//!   **SQLite is committed first, tiles second.** A crash between the two leaves tiles that lag
//!   the store; [`DataDir::open`] appends the missing entries from the store, so the ledger and
//!   the store never disagree after a restart. The tiles never run ahead of the store because
//!   nothing else writes them.
//! - **Durability comes at checkpoints.** Batches are committed atomically but not fsynced one by
//!   one; [`DataDir::checkpoint`] flushes the file system (store and tiles) before it signs, so
//!   a signed checkpoint — and an import's summary, printed after its final checkpoint — only
//!   ever covers data on stable storage. A power loss rolls the tiles back to the last
//!   checkpoint and the store to at least that point; opening catches the tiles up again.
//! - **The access log is a ledger too.** Japan's APPI asks a business to supervise whoever
//!   handles personal data, and a supervisor can only rely on a record of searches, views,
//!   reveals, exports and configuration changes that its subjects cannot rewrite. Each record
//!   is a row of `access_log` *and* a leaf of the `access` tile log (`ledger/access/`, same
//!   C2SP tlog-tiles format, own origin — the events origin ending in `/access` instead of
//!   `/events` — and own key `keys/access.key`). [`DataDir::record_access`] (or
//!   [`Appender::record_access`] while appending) is the only way to add one: it commits the
//!   row, appends its leaf and signs a checkpoint, each durably, before it returns, so a
//!   caller records a read first and returns the data second. The same invariant and catch-up
//!   as for events apply; opening a data directory of an older build creates the access
//!   ledger from the rows stored so far. Nothing can edit or delete a record unnoticed.
//! - [`DataDir::verify`] recomputes every entry from the stored events and audits every tile and
//!   every signed checkpoint against them, naming the first bad leaf index; then does the same
//!   for the access records and the access ledger, naming the first edited or missing record.
//!
//! This crate knows nothing of input formats (that is `mamori-ingest`) nor of HTTP.

mod access;
mod alerts;
mod approvals;
pub mod auth;
mod bodies;
mod cases;
mod datadir;
mod events;
mod findings;
mod hygiene;
mod inventory;
mod mail_links;
mod overview;
mod people;
mod postings;
mod retention;
mod review;
mod rule_settings;
mod scim;
mod upgrade;
mod watchlist;

pub use access::AccessRecord;
pub use access::SIGN_EVERY as ACCESS_SIGN_EVERY;
pub use alerts::{Alert, AlertFilter, AlertStatus, Level, NewAlert};
pub use approvals::{
    Approval, ApprovalKind, ApprovalRequest, ApprovalStatus, MIN_JUSTIFICATION_CHARS,
};
pub use cases::{Case, CaseDetail, CaseNote, CaseOutcome, CaseStatus};
pub use datadir::{Appender, DataDir, Paths, VerifyError, VerifyReport};
pub use events::{BatchOutcome, EventStore, NewEvent, StoredEvent};
pub use findings::{RiskDay, RuleFinding, day_of};
pub use hygiene::GroupAddition;
pub use inventory::{
    GroupChange, GroupChangeKind, InventoryAccount, InventoryOutcome, InventorySnapshot,
    LinkConflict,
};
pub use mail_links::{
    MAIL_LINK_KEEP_US, MailAction, MailDecided, MailDecision, MailHold, MailLink, MailReader,
    MailReason, mail_link_token_hash,
};
pub use overview::KindSummary;
pub use people::PeopleOutcome;
pub use retention::Purged;
pub use review::{MIN_REVOKE_COMMENT_CHARS, NewReviewDecision, ReviewDecision, ReviewVerdict};
pub use rule_settings::RuleSetting;
pub use scim::{ScimConflict, ScimResource, ScimWrite};

/// Errors of the store and the data directory.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("ledger: {0}")]
    Ledger(#[from] mamori_ledger::LedgerError),
    #[error("{path}: {source}")]
    Io {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    NotInitialised(String),
    #[error("{0}")]
    Corrupt(String),
    /// One stored event is damaged or missing.
    #[error("leaf {leaf_index}: {reason}")]
    Leaf { leaf_index: u64, reason: String },
    #[error("signing key: {0}")]
    Key(#[from] mamori_ledger::note::NoteError),
    /// An alert, case or other record asked for by id does not exist.
    #[error("{0}")]
    NotFound(String),
    /// A request the stored state does not allow (dismissing an escalated alert, closing a
    /// case without an outcome, …); the message says what to do instead.
    #[error("{0}")]
    Invalid(String),
    /// Another process has the data directory open (a running `mamori serve`, an import).
    #[error("{0}")]
    InUse(String),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;
